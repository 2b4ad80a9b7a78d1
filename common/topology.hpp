// Who is who: the networks, their record, consensus and index nodes, every
// node's public key, and the protocol parameters all nodes share. Built from
// a scenario (simulator, launcher) or a node's configuration; immutable and
// shared by every role object of a process.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/block.hpp"
#include "common/crypto.hpp"
#include "common/signer.hpp"
#include "common/types.hpp"

namespace mhr {

enum class NodeRole : std::uint8_t { kRecord, kConsensus, kIndex };
std::string_view node_role_name(NodeRole r);

// How the consensus node learns who holds a record's user.
enum class PresenceMode : std::uint8_t {
  kBroadcast,  // the published protocol: every node answers a presence flag
  kTable,      // answered from the sharing table; asks only for unknown users
};
// Where records are stored.
enum class Replication : std::uint8_t {
  kSparse,  // only on the record nodes where the user is registered
  kFull,    // on every record node of every network (ordinary blockchain)
};
// How index nodes learn where users register and what other networks certified.
enum class IndexOrder : std::uint8_t {
  kChain,   // ordered on the index chain by PBFT among the index nodes
  kDirect,  // announced to every other index node, acknowledged (no order)
};
std::string_view presence_mode_name(PresenceMode m);
std::string_view index_order_name(IndexOrder o);
std::string_view replication_name(Replication r);

struct ProtocolParams {
  PresenceMode presence = PresenceMode::kBroadcast;
  Replication replication = Replication::kSparse;
  CryptoMode crypto = CryptoMode::kReal;
  IndexOrder index_order = IndexOrder::kChain;
  std::size_t block_max_entries = 500;
  TimeUs block_timeout_us = 20 * kUsPerMs;      // a partial block waits at most this
  TimeUs presence_timeout_us = 200 * kUsPerMs;  // then missing flags are asked again
  TimeUs retry_timeout_us = 500 * kUsPerMs;     // first retry of any request
  TimeUs retry_max_backoff_us = 5 * kUsPerSecond;
  std::uint32_t max_attempts = 60;                // then give up and report it
  TimeUs migration_settle_us = 1 * kUsPerSecond;  // between history sync rounds
  std::uint32_t migration_rounds = 3;             // history syncs after the first answer
  std::uint64_t max_blob_bytes = 64ull << 20;     // largest off-chain object accepted
  // A group's leader proposes the next block while the last one commits
  // (docs/CONSENSUS.md, "Pipelining"); off by default: slower on a 2-core
  // machine, where the replicas' CPU, not the commit round, bounds a group
  // (docs/BENCHMARKS.md).
  bool pipeline = false;
  std::string mode_name() const;  // e.g. "broadcast", "table", "full"
};

inline constexpr std::size_t kMaxStaffKeys = 10'000;

struct NodeInfo {
  NodeId id;
  NodeRole role = NodeRole::kRecord;
  NetworkId network;  // kIndexNetwork is never used here: index nodes serve a network
  PublicKey key;
  std::string name;
  // Record nodes: clinicians' keys acting for the node's institution (the
  // node's own key always does).
  std::vector<PublicKey> staff;
  // Record nodes: the institution's X25519 key, for sealing data keys to
  // it (zero when not configured: then nobody can share keys with it).
  X25519Public box_key;
};

struct NetworkInfo {
  NetworkId id;
  std::vector<NodeId> record_nodes;
  std::vector<NodeId> consensus_nodes;  // one for now; a replica group later
  NodeId index_node;
  ValidatorSet validators;  // the consensus nodes' keys and quorum
};

// Node ids are dense (0..node_count-1) and so are network ids, so lookups
// are plain indexing.
class Topology {
 public:
  Topology(std::vector<NodeInfo> nodes, std::vector<NetworkInfo> networks, ProtocolParams params);

  const ProtocolParams& params() const { return params_; }
  std::size_t node_count() const { return nodes_.size(); }
  std::size_t network_count() const { return networks_.size(); }
  const NodeInfo& node(NodeId id) const;
  const NetworkInfo& network(NetworkId id) const;
  const std::vector<NodeInfo>& nodes() const { return nodes_; }
  const std::vector<NetworkInfo>& networks() const { return networks_; }
  bool has_node(NodeId id) const { return id.value < nodes_.size(); }
  bool has_network(NetworkId id) const { return id.value < networks_.size(); }

  NetworkId network_of(NodeId id) const { return node(id).network; }
  NodeId consensus_of(NetworkId id) const;  // the (leading) consensus node
  NodeId index_of(NetworkId id) const { return network(id).index_node; }
  // Every node of a network that takes part in its presence rounds and
  // receives its headers: record nodes and the index node.
  std::vector<NodeId> members_of(NetworkId id) const;
  const std::vector<NodeId>& index_nodes() const { return index_nodes_; }

 private:
  std::vector<NodeInfo> nodes_;
  std::vector<NetworkInfo> networks_;
  std::vector<NodeId> index_nodes_;
  ProtocolParams params_;
};

using TopologyPtr = std::shared_ptr<const Topology>;

}  // namespace mhr
