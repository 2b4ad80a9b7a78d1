// Block headers: what every node of an edge network keeps. A header commits
// to its entries (records and transactions) with a Merkle root and to the
// previous header by hash; signatures over its hash make it authoritative
// (one consensus signer now, a quorum certificate with a replica group).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/codec.hpp"
#include "common/crypto.hpp"
#include "common/types.hpp"

namespace mhr {

inline constexpr std::size_t kMaxHeaderSignatures = 256;

struct BlockHeader {
  NetworkId network;
  std::uint64_t height = 0;  // 0 is the first block of a network
  Hash prev_hash;            // zero for height 0
  Hash merkle_root;          // over the entries' hashes, in block order
  std::uint32_t entry_count = 0;
  TimeUs time_us = 0;
  NodeId proposer;
  // Commits to who each entry goes to: its origin and holders, the sharing
  // table's decisions (consensus_node/block_body.hpp), so that replicas agree
  // on them with the header. Members, who see only their entries, ignore it.
  Hash placement_hash;
  bool operator==(const BlockHeader&) const = default;
};

struct HeaderSignature {
  NodeId signer;
  Signature signature;
  bool operator==(const HeaderSignature&) const = default;
};

struct SignedHeader {
  BlockHeader header;
  std::vector<HeaderSignature> signatures;  // sorted by signer, no repeats
  // The consensus view whose commit votes these signatures are: a quorum
  // certificate counts signatures of one view only (docs/CONSENSUS.md).
  // Not part of the header hash, so a block re-proposed in a later view
  // keeps its hash. Always 0 for a single consensus node.
  std::uint64_t view = 0;
  bool operator==(const SignedHeader&) const = default;
};

template <>
struct Codec<BlockHeader> {
  static void write(Writer& w, const BlockHeader& v);
  static BlockHeader read(Reader& r);
};
template <>
struct Codec<SignedHeader> {
  static void write(Writer& w, const SignedHeader& v);
  static SignedHeader read(Reader& r);
};

// Hash of the header alone (signatures excluded): what signers sign and
// what the next header points to.
Hash header_hash(const BlockHeader& h);
// The bytes a validator signs to commit a header in a view: a domain tag,
// the header's hash and the view.
Bytes header_signing_bytes(const Hash& header_hash, std::uint64_t view);

// Adds `signer`'s signature (for sh.view), keeping signatures sorted by signer.
void add_signature(SignedHeader& sh, NodeId signer, const Signer& key);
// Adds a signature made elsewhere, keeping the order; false if `signer` signed already.
bool insert_signature(std::vector<HeaderSignature>& sigs, const HeaderSignature& s);

// The validators of a network and how many of them must sign a header.
struct ValidatorSet {
  struct Member {
    NodeId node;
    PublicKey key;
  };
  std::vector<Member> members;
  std::size_t quorum = 1;  // 2f+1 for n = 3f+1; 1 for a single consensus node
  const PublicKey* key_of(NodeId node) const;
};

// True when at least `quorum` distinct validators signed the header hash in
// sh.view with valid signatures; unknown signers and duplicates do not count.
bool verify_quorum(const SignedHeader& sh, const ValidatorSet& validators,
                   const Verifier& verifier = ed25519_verifier());

// Why `next` cannot follow `prev` (height, network, previous hash), or
// nullopt. `prev` is null when `next` must be the first header.
std::optional<std::string> header_link_error(const BlockHeader& next, const BlockHeader* prev);

}  // namespace mhr
