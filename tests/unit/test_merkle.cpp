#include <doctest/doctest.h>

#include "common/crypto.hpp"
#include "common/merkle.hpp"

using namespace mhr;

namespace {

std::vector<Hash> make_leaves(std::size_t n) {
  std::vector<Hash> v;
  for (std::size_t i = 0; i < n; ++i) v.push_back(sha256(as_bytes("leaf" + std::to_string(i))));
  return v;
}

// RFC 6962 §2.1 written literally: split at the largest power of two < n.
Hash reference_root(std::span<const Hash> d) {
  if (d.empty()) return sha256(ByteView{});
  if (d.size() == 1) return merkle_leaf_hash(d[0]);
  std::size_t k = 1;
  while (k * 2 < d.size()) k *= 2;
  return merkle_node_hash(reference_root(d.first(k)), reference_root(d.subspan(k)));
}

}  // namespace

TEST_CASE("merkle: domain-separated leaf and node hashes") {
  Hash zero{};
  // A leaf hash is not the plain hash of its data (0x00 prefix), and a node
  // over two leaves is not a leaf over their concatenation.
  CHECK(merkle_leaf_hash(zero) != sha256(zero.view()));
  CHECK(merkle_node_hash(zero, zero) != merkle_leaf_hash(zero));
  CHECK(merkle_root({}) == sha256(ByteView{}));
  // RFC 6962: MTH of one entry is H(0x00 || entry).
  auto one = make_leaves(1);
  CHECK(merkle_root(one) == merkle_leaf_hash(one[0]));
}

TEST_CASE("merkle: roots match the RFC 6962 definition and every proof verifies, 1..70 leaves") {
  for (std::size_t n = 1; n <= 70; ++n) {
    CAPTURE(n);
    auto leaves = make_leaves(n);
    MerkleTree tree(leaves);
    REQUIRE(tree.root() == reference_root(leaves));
    for (std::size_t i = 0; i < n; ++i) {
      CAPTURE(i);
      MerkleProof p = tree.prove(i);
      REQUIRE(verify_inclusion(leaves[i], p, tree.root()));
    }
  }
}

TEST_CASE("merkle: wrong proofs are rejected") {
  auto leaves = make_leaves(13);
  MerkleTree tree(leaves);
  MerkleProof p = tree.prove(5);
  REQUIRE(verify_inclusion(leaves[5], p, tree.root()));

  CHECK_FALSE(verify_inclusion(leaves[6], p, tree.root()));  // another leaf
  CHECK_FALSE(verify_inclusion(leaves[5], p, leaves[0]));    // another root
  MerkleProof moved = p;
  moved.leaf_index = 4;
  CHECK_FALSE(verify_inclusion(leaves[5], moved, tree.root()));  // another position
  // A tree size whose shape differs (8 leaves: a path of 3, not 4).
  MerkleProof resized = p;
  resized.leaf_count = 8;
  CHECK_FALSE(verify_inclusion(leaves[5], resized, tree.root()));
  MerkleProof tampered = p;
  tampered.path[1].bytes[0] ^= 1;
  CHECK_FALSE(verify_inclusion(leaves[5], tampered, tree.root()));
  MerkleProof shorter = p;
  shorter.path.pop_back();
  CHECK_FALSE(verify_inclusion(leaves[5], shorter, tree.root()));
  MerkleProof longer = p;
  longer.path.push_back(leaves[0]);
  CHECK_FALSE(verify_inclusion(leaves[5], longer, tree.root()));
  MerkleProof out_of_range = p;
  out_of_range.leaf_index = 13;
  CHECK_FALSE(verify_inclusion(leaves[5], out_of_range, tree.root()));
}

TEST_CASE("merkle: proofs round-trip through the codec") {
  auto leaves = make_leaves(9);
  MerkleProof p = MerkleTree(leaves).prove(8);
  auto back = decode<MerkleProof>(encode(p));
  REQUIRE(back.ok());
  CHECK(back.value() == p);
}
