// Small factories of valid values shared by the unit tests.
#pragma once

#include "common/block.hpp"
#include "common/crypto.hpp"
#include "common/record.hpp"

namespace mhr::test {

inline KeyPair key_from_byte(std::uint8_t b) {
  SecretSeed seed;
  seed.bytes.fill(b);
  return KeyPair::from_seed(seed);
}

inline UserId user_from_byte(std::uint8_t b) {
  UserId u;
  u.bytes.fill(b);
  return u;
}

// A signed record of `user` at `sequence` after `prev` (zero for the first).
inline Record sample_record(const KeyPair& author, UserId user, std::uint64_t sequence, Hash prev,
                            std::string payload = "{\"resourceType\":\"Observation\"}") {
  Record r;
  r.user = user;
  r.network = NetworkId{3};
  r.author_node = NodeId{7};
  r.author_key = author.public_key();
  r.sequence = sequence;
  r.prev_hash = prev;
  r.created_at_us = 1'700'000'000'000'000 + static_cast<TimeUs>(sequence);
  r.content_type = "Observation";
  r.category = Category::kMedical;
  r.payload = SharedBytes(as_bytes(payload));
  sign_record(r, author);
  return r;
}

inline BlockHeader sample_header(std::uint64_t height, Hash prev) {
  BlockHeader h;
  h.network = NetworkId{3};
  h.height = height;
  h.prev_hash = prev;
  h.merkle_root = sha256(as_bytes("root" + std::to_string(height)));
  h.entry_count = 12;
  h.time_us = 1'700'000'000'000'000;
  h.proposer = NodeId{1};
  return h;
}

}  // namespace mhr::test
