// Index transactions: what the index chain orders (docs/CONSENSUS.md,
// "The index chain"). A block body is the encoded list of its transactions;
// the header's Merkle root is over their hashes.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/block.hpp"
#include "common/codec.hpp"
#include "common/entry.hpp"
#include "common/topology.hpp"
#include "common/types.hpp"

namespace mhr {

// Transactions in one index block, and in one submission to the leader
// (one height in flight: the block size is the index chain's throughput).
inline constexpr std::size_t kMaxIndexBlockTxs = kMaxBlockEntries;

// Why the other index nodes believe a membership: the block of its edge
// network that committed the registration (header and quorum certificate)
// and the Registration entry proven into it. Without it one index node
// could claim a patient for its network and receive the patient's records.
struct MembershipProof {
  SignedHeader header;
  ProvenEntry registration;
  bool operator==(const MembershipProof&) const = default;
};

// `user` registered with record node `node` of edge network `network`. The
// node makes it unique: a second registration in the same network is news
// too (the other networks replay the user's chain to the new node). The
// proof travels with it but is not part of its identity (index_tx_hash):
// certificates of one block may carry different signers.
struct Membership {
  UserId user;
  NetworkId network;
  NodeId node;
  MembershipProof proof;
  bool operator==(const Membership&) const = default;
};

// The header at `height` of edge network `network` was certified there,
// as that network's index node saw it.
struct Anchor {
  NetworkId network;
  std::uint64_t height = 0;
  Hash header_hash;
  bool operator==(const Anchor&) const = default;
};

using IndexTx = std::variant<Membership, Anchor>;

template <>
struct Codec<IndexTx> {
  static void write(Writer& w, const IndexTx& v);
  static IndexTx read(Reader& r);
};

// The hash of a transaction's encoding without a membership's proof: its
// identity (dedupe, Merkle leaf).
Hash index_tx_hash(const IndexTx& tx);
// The network a transaction speaks for: only its index node submits it.
NetworkId index_tx_network(const IndexTx& tx);

// A block body: the transactions, at most kMaxIndexBlockTxs.
Bytes encode_index_body(const std::vector<IndexTx>& txs);
Decoded<std::vector<IndexTx>> decode_index_body(ByteView body);
// Whether `txs` are what `h` commits to (count and Merkle root).
bool index_body_matches(const BlockHeader& h, const std::vector<IndexTx>& txs);
Hash index_merkle_root(const std::vector<IndexTx>& txs);

// What is wrong with a membership's proof (nullopt: it proves the
// membership): the header's certificate against its network's validators
// (unless `header_checked`: the caller verified that header already), the
// entry's inclusion, and that the entry registers this user at this node.
std::optional<std::string> membership_error(const Membership& m, const Topology& topology,
                                            const Verifier& verifier, bool header_checked = false);

}  // namespace mhr
