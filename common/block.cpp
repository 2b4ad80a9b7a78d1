#include "common/block.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>

#include "common/hash_writer.hpp"

namespace mhr {

namespace {
constexpr std::string_view kHeaderSigningDomain = "mhr-header-v2";
}

void Codec<BlockHeader>::write(Writer& w, const BlockHeader& v) {
  w.varint(v.network.value);
  w.varint(v.height);
  w.fixed(v.prev_hash);
  w.fixed(v.merkle_root);
  w.varint(v.entry_count);
  MHR_ASSERT(v.time_us >= 0);
  w.varint(static_cast<std::uint64_t>(v.time_us));
  w.varint(v.proposer.value);
  w.fixed(v.placement_hash);
}

BlockHeader Codec<BlockHeader>::read(Reader& r) {
  BlockHeader v;
  v.network = NetworkId{r.u32()};
  v.height = r.varint();
  v.prev_hash = r.fixed_as<Hash>();
  v.merkle_root = r.fixed_as<Hash>();
  v.entry_count = r.u32();
  v.time_us = r.time_us();
  v.proposer = NodeId{r.u32()};
  v.placement_hash = r.fixed_as<Hash>();
  return v;
}

void Codec<SignedHeader>::write(Writer& w, const SignedHeader& v) {
  Codec<BlockHeader>::write(w, v.header);
  MHR_ASSERT(v.signatures.size() <= kMaxHeaderSignatures);
  w.varint(v.signatures.size());
  for (const auto& s : v.signatures) {
    w.varint(s.signer.value);
    w.fixed(s.signature);
  }
  w.varint(v.view);
}

SignedHeader Codec<SignedHeader>::read(Reader& r) {
  SignedHeader v;
  v.header = Codec<BlockHeader>::read(r);
  std::size_t n = r.count(kMaxHeaderSignatures, 1 + Signature::kSize);
  v.signatures.reserve(n);
  for (std::size_t i = 0; i < n && r.ok(); ++i) {
    HeaderSignature s;
    s.signer = NodeId{r.u32()};
    s.signature = r.fixed_as<Signature>();
    // Strictly increasing signers keep the encoding canonical.
    if (!v.signatures.empty() && !(v.signatures.back().signer < s.signer))
      r.fail(DecodeError::kNonCanonical);
    v.signatures.push_back(s);
  }
  v.view = r.varint();
  return v;
}

namespace {

Hash compute_header_hash(const BlockHeader& h) {
  return sha256_of_writing([&h](Writer& w) { write_versioned(w, h); });
}

// The hashes of recently hashed headers. Every member of a network hashes
// each header several times (its quorum, its link to the next one, its
// acknowledgement), and a simulation runs thousands of members in one
// thread. Direct-mapped and per thread; a hit compares the whole header.
class HeaderHashMemo {
 public:
  Hash get(const BlockHeader& h) {
    std::uint64_t mix;
    std::memcpy(&mix, h.merkle_root.bytes.data(), sizeof mix);
    mix ^= h.height * 0x9E3779B97F4A7C15ull ^ h.network.value;
    Slot& s = slots_[(mix ^ (mix >> 29)) % kSlots];
    if (!s.used || !(s.header == h)) {
      s.header = h;
      s.hash = compute_header_hash(h);
      s.used = true;
    }
    return s.hash;
  }

 private:
  static constexpr std::size_t kSlots = 1024;
  struct Slot {
    BlockHeader header;
    Hash hash;
    bool used = false;
  };
  std::array<Slot, kSlots> slots_{};
};

}  // namespace

Hash header_hash(const BlockHeader& h) {
  thread_local auto memo = std::make_unique<HeaderHashMemo>();
  return memo->get(h);
}

Bytes header_signing_bytes(const Hash& hash, std::uint64_t view) {
  Writer w(64);
  w.str(kHeaderSigningDomain);
  w.fixed(hash);
  w.varint(view);
  return w.take();
}

void add_signature(SignedHeader& sh, NodeId signer, const Signer& key) {
  HeaderSignature s{signer, key.sign(header_signing_bytes(header_hash(sh.header), sh.view))};
  auto at = std::lower_bound(sh.signatures.begin(), sh.signatures.end(), signer,
                             [](const HeaderSignature& a, NodeId b) { return a.signer < b; });
  if (at != sh.signatures.end() && at->signer == signer) {
    *at = s;
  } else {
    sh.signatures.insert(at, s);
  }
}

bool insert_signature(std::vector<HeaderSignature>& sigs, const HeaderSignature& s) {
  auto at = std::lower_bound(sigs.begin(), sigs.end(), s.signer,
                             [](const HeaderSignature& a, NodeId b) { return a.signer < b; });
  if (at != sigs.end() && at->signer == s.signer) return false;
  sigs.insert(at, s);
  return true;
}

const PublicKey* ValidatorSet::key_of(NodeId node) const {
  for (const auto& m : members)
    if (m.node == node) return &m.key;
  return nullptr;
}

bool verify_quorum(const SignedHeader& sh, const ValidatorSet& validators,
                   const Verifier& verifier) {
  MHR_ASSERT(validators.quorum >= 1);
  Bytes message = header_signing_bytes(header_hash(sh.header), sh.view);
  std::size_t valid = 0;
  NodeId last{};
  bool first = true;
  for (const auto& s : sh.signatures) {
    if (!first && !(last < s.signer)) return false;  // duplicates never count twice
    first = false;
    last = s.signer;
    const PublicKey* key = validators.key_of(s.signer);
    if (key && verifier.verify(*key, message, s.signature)) ++valid;
    if (valid >= validators.quorum) return true;
  }
  return false;
}

std::optional<std::string> header_link_error(const BlockHeader& next, const BlockHeader* prev) {
  if (!prev) {
    if (next.height != 0) return "first header must have height 0";
    if (!next.prev_hash.is_zero()) return "first header must have a zero previous hash";
    return std::nullopt;
  }
  if (next.network != prev->network) return "header belongs to another network";
  if (next.height != prev->height + 1)
    return "height " + std::to_string(next.height) + " does not follow " +
           std::to_string(prev->height);
  if (next.prev_hash != header_hash(*prev)) return "previous hash does not match";
  return std::nullopt;
}

}  // namespace mhr
