#include "common/topology.hpp"

#include "common/assert.hpp"

namespace mhr {

std::string_view node_role_name(NodeRole r) {
  switch (r) {
    case NodeRole::kRecord:
      return "record";
    case NodeRole::kConsensus:
      return "consensus";
    case NodeRole::kIndex:
      return "index";
  }
  return "?";
}

std::string_view presence_mode_name(PresenceMode m) {
  return m == PresenceMode::kBroadcast ? "broadcast" : "table";
}

std::string_view index_order_name(IndexOrder o) {
  return o == IndexOrder::kChain ? "chain" : "direct";
}

std::string_view replication_name(Replication r) {
  return r == Replication::kSparse ? "sparse" : "full";
}

std::string ProtocolParams::mode_name() const {
  if (replication == Replication::kFull) return "full";
  return std::string(presence_mode_name(presence));
}

Topology::Topology(std::vector<NodeInfo> nodes, std::vector<NetworkInfo> networks,
                   ProtocolParams params)
    : nodes_(std::move(nodes)), networks_(std::move(networks)), params_(params) {
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    MHR_ASSERT_MSG(nodes_[i].id.value == i, "node ids must be dense and in order");
    MHR_ASSERT(nodes_[i].network.value < networks_.size());
  }
  for (std::size_t i = 0; i < networks_.size(); ++i) {
    const NetworkInfo& n = networks_[i];
    MHR_ASSERT_MSG(n.id.value == i, "network ids must be dense and in order");
    MHR_ASSERT(!n.consensus_nodes.empty());
    MHR_ASSERT(has_node(n.index_node) && node(n.index_node).role == NodeRole::kIndex);
    for (NodeId r : n.record_nodes) MHR_ASSERT(node(r).role == NodeRole::kRecord);
    for (NodeId c : n.consensus_nodes) MHR_ASSERT(node(c).role == NodeRole::kConsensus);
    index_nodes_.push_back(n.index_node);
  }
}

const NodeInfo& Topology::node(NodeId id) const {
  MHR_ASSERT(has_node(id));
  return nodes_[id.value];
}

const NetworkInfo& Topology::network(NetworkId id) const {
  MHR_ASSERT(has_network(id));
  return networks_[id.value];
}

NodeId Topology::consensus_of(NetworkId id) const {
  return network(id).consensus_nodes.front();
}

std::vector<NodeId> Topology::members_of(NetworkId id) const {
  const NetworkInfo& n = network(id);
  std::vector<NodeId> out = n.record_nodes;
  out.push_back(n.index_node);
  return out;
}

}  // namespace mhr
