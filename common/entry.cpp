#include "common/entry.hpp"

namespace mhr {

namespace {
constexpr std::string_view kRegistrationSigningDomain = "mhr-registration-v1";
enum EntryTag : std::uint8_t { kRecordTag = 0, kRegistrationTag = 1, kAuditAnchorTag = 2 };

void write_registration_unsigned(Writer& w, const Registration& v) {
  w.fixed(v.user);
  w.varint(v.network.value);
  w.varint(v.node.value);
  w.fixed(v.node_key);
  MHR_ASSERT(v.time_us >= 0);
  w.varint(static_cast<std::uint64_t>(v.time_us));
}
}  // namespace

void Codec<Registration>::write(Writer& w, const Registration& v) {
  write_registration_unsigned(w, v);
  w.fixed(v.signature);
}

Registration Codec<Registration>::read(Reader& r) {
  Registration v;
  v.user = r.fixed_as<UserId>();
  v.network = NetworkId{r.u32()};
  v.node = NodeId{r.u32()};
  v.node_key = r.fixed_as<PublicKey>();
  v.time_us = r.time_us();
  v.signature = r.fixed_as<Signature>();
  return v;
}

Bytes registration_signing_bytes(const Registration& reg) {
  Writer w(128);
  w.str(kRegistrationSigningDomain);
  write_registration_unsigned(w, reg);
  return w.take();
}

void sign_registration(Registration& reg, const Signer& node_key) {
  MHR_ASSERT(reg.node_key == node_key.public_key());
  reg.signature = node_key.sign(registration_signing_bytes(reg));
}

bool verify_registration_signature(const Registration& reg, const Verifier& verifier) {
  return verifier.verify(reg.node_key, registration_signing_bytes(reg), reg.signature);
}

void Codec<Entry>::write(Writer& w, const Entry& v) {
  if (const auto* rec = std::get_if<Record>(&v)) {
    w.u8(kRecordTag);
    Codec<Record>::write(w, *rec);
  } else if (const auto* reg = std::get_if<Registration>(&v)) {
    w.u8(kRegistrationTag);
    Codec<Registration>::write(w, *reg);
  } else {
    w.u8(kAuditAnchorTag);
    Codec<AuditAnchor>::write(w, std::get<AuditAnchor>(v));
  }
}

Entry Codec<Entry>::read(Reader& r) {
  std::uint8_t tag = r.u8();
  if (tag == kRecordTag) return Codec<Record>::read(r);
  if (tag == kAuditAnchorTag) return Codec<AuditAnchor>::read(r);
  if (tag != kRegistrationTag) r.fail(DecodeError::kUnknownType);
  return Codec<Registration>::read(r);
}

Hash entry_hash(const Entry& e) {
  if (const auto* rec = std::get_if<Record>(&e)) return record_hash(*rec);
  return sha256(encode(e));
}

Entry as_entry(const Transaction& tx) {
  return std::visit([](const auto& v) -> Entry { return v; }, tx);
}

void Codec<ProvenEntry>::write(Writer& w, const ProvenEntry& v) {
  Codec<Entry>::write(w, v.entry);
  Codec<MerkleProof>::write(w, v.proof);
}

ProvenEntry Codec<ProvenEntry>::read(Reader& r) {
  ProvenEntry v;
  v.entry = Codec<Entry>::read(r);
  v.proof = Codec<MerkleProof>::read(r);
  return v;
}

std::optional<std::string> inclusion_error(const Hash& leaf, const MerkleProof& proof,
                                           const BlockHeader& header) {
  if (proof.leaf_count != header.entry_count) return "proof is for a block of another size";
  if (!verify_inclusion(leaf, proof, header.merkle_root))
    return "Merkle proof does not match the header's root";
  return std::nullopt;
}

}  // namespace mhr
