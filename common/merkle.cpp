#include "common/merkle.hpp"

#include <array>

#include "common/crypto.hpp"

namespace mhr {

Hash merkle_leaf_hash(const Hash& leaf) {
  std::array<std::uint8_t, 33> buf;
  buf[0] = 0x00;
  std::copy(leaf.bytes.begin(), leaf.bytes.end(), buf.begin() + 1);
  return sha256(buf);
}

Hash merkle_node_hash(const Hash& left, const Hash& right) {
  std::array<std::uint8_t, 65> buf;
  buf[0] = 0x01;
  std::copy(left.bytes.begin(), left.bytes.end(), buf.begin() + 1);
  std::copy(right.bytes.begin(), right.bytes.end(), buf.begin() + 33);
  return sha256(buf);
}

// Pairing neighbours level by level and carrying a lone last node up
// unchanged yields exactly RFC 6962's split at the largest power of two.
MerkleTree::MerkleTree(std::span<const Hash> leaves) : leaf_count_(leaves.size()) {
  if (leaves.empty()) {
    root_ = sha256(ByteView{});
    return;
  }
  std::vector<Hash> level;
  level.reserve(leaves.size());
  for (const Hash& leaf : leaves) level.push_back(merkle_leaf_hash(leaf));
  levels_.push_back(std::move(level));
  while (levels_.back().size() > 1) {
    const auto& below = levels_.back();
    std::vector<Hash> above;
    above.reserve((below.size() + 1) / 2);
    for (std::size_t i = 0; i + 1 < below.size(); i += 2)
      above.push_back(merkle_node_hash(below[i], below[i + 1]));
    if (below.size() % 2 == 1) above.push_back(below.back());
    levels_.push_back(std::move(above));
  }
  root_ = levels_.back().front();
}

MerkleProof MerkleTree::prove(std::size_t leaf_index) const {
  MHR_ASSERT(leaf_index < leaf_count_);
  MerkleProof proof{leaf_index, leaf_count_, {}};
  std::size_t index = leaf_index;
  for (std::size_t depth = 0; depth + 1 < levels_.size(); ++depth) {
    std::size_t sibling = index ^ 1;
    if (sibling < levels_[depth].size()) proof.path.push_back(levels_[depth][sibling]);
    index /= 2;
  }
  return proof;
}

Hash merkle_root(std::span<const Hash> leaves) {
  return MerkleTree(leaves).root();
}

bool verify_inclusion(const Hash& leaf, const MerkleProof& proof, const Hash& root) {
  if (proof.leaf_index >= proof.leaf_count) return false;
  if (proof.path.size() > kMaxMerkleProofDepth) return false;
  std::uint64_t fn = proof.leaf_index;
  std::uint64_t sn = proof.leaf_count - 1;
  Hash r = merkle_leaf_hash(leaf);
  for (const Hash& p : proof.path) {
    if (sn == 0) return false;
    if ((fn & 1) == 1 || fn == sn) {
      r = merkle_node_hash(p, r);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = merkle_node_hash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root;
}

void Codec<MerkleProof>::write(Writer& w, const MerkleProof& v) {
  w.varint(v.leaf_index);
  w.varint(v.leaf_count);
  MHR_ASSERT(v.path.size() <= kMaxMerkleProofDepth);
  w.varint(v.path.size());
  for (const Hash& h : v.path) w.fixed(h);
}

MerkleProof Codec<MerkleProof>::read(Reader& r) {
  MerkleProof v;
  v.leaf_index = r.varint();
  v.leaf_count = r.varint();
  std::size_t n = r.count(kMaxMerkleProofDepth, Hash::kSize);
  v.path.reserve(n);
  for (std::size_t i = 0; i < n && r.ok(); ++i) v.path.push_back(r.fixed_as<Hash>());
  return v;
}

}  // namespace mhr
