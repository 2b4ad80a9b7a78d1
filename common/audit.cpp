#include "common/audit.hpp"

#include <array>

namespace mhr {

namespace {
constexpr std::string_view kAuditEntryDomain = "mhr-audit-entry-v1";
constexpr std::string_view kAnchorDomain = "mhr-audit-anchor-v1";
constexpr std::array<std::string_view, kAuditActionCount> kActionNames = {
    "read", "refused", "grant", "revoke", "key-share", "erase", "erase-applied"};

void write_anchor_unsigned(Writer& w, const AuditAnchor& v) {
  w.varint(v.node.value);
  w.varint(v.network.value);
  w.varint(v.sequence);
  w.fixed(v.head);
  MHR_ASSERT(v.time_us >= 0);
  w.varint(static_cast<std::uint64_t>(v.time_us));
  w.fixed(v.node_key);
}
}  // namespace

std::string_view audit_action_name(AuditAction a) {
  auto i = static_cast<std::size_t>(a);
  MHR_ASSERT(i < kActionNames.size());
  return kActionNames[i];
}

void Codec<AuditEntry>::write(Writer& w, const AuditEntry& v) {
  w.varint(v.sequence);
  w.fixed(v.prev_hash);
  MHR_ASSERT(v.time_us >= 0);
  w.varint(static_cast<std::uint64_t>(v.time_us));
  w.fixed(v.actor);
  w.fixed(v.user);
  MHR_ASSERT(static_cast<std::uint8_t>(v.action) < kAuditActionCount);
  w.u8(static_cast<std::uint8_t>(v.action));
  w.varint(v.records);
  MHR_ASSERT(v.detail.size() <= kMaxAuditDetailBytes);
  w.str(v.detail);
}

AuditEntry Codec<AuditEntry>::read(Reader& r) {
  AuditEntry v;
  v.sequence = r.varint();
  v.prev_hash = r.fixed_as<Hash>();
  v.time_us = r.time_us();
  v.actor = r.fixed_as<PublicKey>();
  v.user = r.fixed_as<UserId>();
  std::uint8_t action = r.u8();
  if (action >= kAuditActionCount) r.fail(DecodeError::kUnknownType);
  v.action = static_cast<AuditAction>(action);
  v.records = r.u32();
  v.detail = r.str(kMaxAuditDetailBytes);
  return v;
}

Hash audit_entry_hash(const AuditEntry& e) {
  Writer w(256);
  w.str(kAuditEntryDomain);
  Codec<AuditEntry>::write(w, e);
  return sha256(w.take());
}

void Codec<AuditAnchor>::write(Writer& w, const AuditAnchor& v) {
  write_anchor_unsigned(w, v);
  w.fixed(v.signature);
}

AuditAnchor Codec<AuditAnchor>::read(Reader& r) {
  AuditAnchor v;
  v.node = NodeId{r.u32()};
  v.network = NetworkId{r.u32()};
  v.sequence = r.varint();
  v.head = r.fixed_as<Hash>();
  v.time_us = r.time_us();
  v.node_key = r.fixed_as<PublicKey>();
  v.signature = r.fixed_as<Signature>();
  return v;
}

Bytes anchor_signing_bytes(const AuditAnchor& a) {
  Writer w(128);
  w.str(kAnchorDomain);
  write_anchor_unsigned(w, a);
  return w.take();
}

void sign_anchor(AuditAnchor& a, const Signer& node_key) {
  MHR_ASSERT(a.node_key == node_key.public_key());
  a.signature = node_key.sign(anchor_signing_bytes(a));
}

bool verify_anchor_signature(const AuditAnchor& a, const Verifier& verifier) {
  return verifier.verify(a.node_key, anchor_signing_bytes(a), a.signature);
}

}  // namespace mhr
