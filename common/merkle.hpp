// Merkle trees over 32-byte leaf digests with RFC 6962 domain separation
// (leaf = H(0x00 || d), node = H(0x01 || left || right)), inclusion proofs
// made and verified as in RFC 9162 §2.1.3.
#pragma once

#include <absl/container/inlined_vector.h>

#include <cstdint>
#include <span>
#include <vector>

#include "common/codec.hpp"
#include "common/types.hpp"

namespace mhr {

// Proofs deeper than this would need more than 2^40 leaves.
inline constexpr std::size_t kMaxMerkleProofDepth = 40;

// A block of kMaxBlockEntries (10,000) leaves has proofs of at most 14
// siblings: they are kept inline, so a block's proofs cost no allocation.
inline constexpr std::size_t kInlineMerkleProofDepth = 14;

struct MerkleProof {
  std::uint64_t leaf_index = 0;
  std::uint64_t leaf_count = 0;
  absl::InlinedVector<Hash, kInlineMerkleProofDepth> path;  // siblings from the leaf up
  bool operator==(const MerkleProof&) const = default;
};

template <>
struct Codec<MerkleProof> {
  static void write(Writer& w, const MerkleProof& v);
  static MerkleProof read(Reader& r);
};

Hash merkle_leaf_hash(const Hash& leaf);
Hash merkle_node_hash(const Hash& left, const Hash& right);

// A tree kept whole, so that a proof for each of its leaves costs no
// rehashing (a block proves every one of its records).
class MerkleTree {
 public:
  explicit MerkleTree(std::span<const Hash> leaves);
  const Hash& root() const { return root_; }
  std::size_t leaf_count() const { return leaf_count_; }
  MerkleProof prove(std::size_t leaf_index) const;

 private:
  std::size_t leaf_count_;
  std::vector<std::vector<Hash>> levels_;  // levels_[0] = leaf hashes
  Hash root_;
};

// Root of the tree over `leaves`; the hash of the empty string for none.
Hash merkle_root(std::span<const Hash> leaves);

bool verify_inclusion(const Hash& leaf, const MerkleProof& proof, const Hash& root);

}  // namespace mhr
