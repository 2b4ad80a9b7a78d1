// IndexNode: an edge network's member of the index chain network. It keeps
// the inter-network sharing table (user -> networks), tells the other index
// nodes where users register, answers presence for users registered in
// other networks, forwards their records to those networks' index nodes,
// relays records forwarded to its own network to its consensus node, and
// routes cross-network history requests. It acts only through Env.
#pragma once

#include <map>
#include <set>

#include "common/chain_follower.hpp"
#include "common/chain_store.hpp"
#include "common/env.hpp"
#include "common/outbox.hpp"
#include "common/tick_timer.hpp"
#include "common/topology.hpp"
#include "index_node/network_table.hpp"

namespace mhr {

class IndexNode final : public NodeLogic {
 public:
  IndexNode(Env& env, TopologyPtr topology);

  void start() override;
  void on_message(NodeId from, const Message& message) override;
  void on_timer(TimerId id, std::uint64_t tag) override;
  void on_client(ClientRequestId id, const ClientRequest& request) override;

  const NetworkTable& table() const { return table_; }
  std::size_t handoffs_pending() const { return handoffs_.size(); }

 private:
  // A delivery this node must hand on: to another network's index node
  // (forward) or to its own consensus node (relay), until acknowledged.
  struct Handoff {
    NodeId to;
    MessagePtr delivery;
    std::optional<NodeId> ack_to;  // relay: whom to acknowledge when done
    std::uint32_t attempts = 0;
    TimeUs next_at_us = 0;
  };
  // (receiver, origin network, height)
  using HandoffKey = std::tuple<NodeId, NetworkId, std::uint64_t>;

  void on_own_delivery(NodeId from, const BlockDelivery& d);
  ChainFollower::Applied apply_own_block(const BlockDelivery& d);
  void on_ack(NodeId from, const Ack& ack);
  void on_forwarded_delivery(NodeId from, const BlockDelivery& d);
  void on_delivery_ack(NodeId from, const DeliveryAck& ack);
  void on_membership(NodeId from, const MembershipUpdate& m);
  void on_presence_query(const PresenceQuery& q);
  template <class Request>  // HistoryRequest, BlobRequest
  void route_across(NodeId from, const Request& req);
  template <class Answer>  // HistoryBatch, BlobPart
  void relay_back(const Answer& answer);

  bool learn_registration(WriteBatch& batch, const UserId& user, NetworkId network);
  // Tells every other index node; returns the (peer, message) pairs to await.
  std::set<std::pair<NodeId, Hash>> announce(const std::vector<UserId>& users);
  bool present_elsewhere(const UserId& user) const;
  void hand_off(WriteBatch& batch, NodeId to, const BlockDelivery& d, std::optional<NodeId> ack_to);
  void transmit(Handoff& h);
  void on_tick();
  const ProtocolParams& params() const { return topology_->params(); }
  bool sparse() const { return params().replication == Replication::kSparse; }

  Env& env_;
  TopologyPtr topology_;
  ChainStore chain_;
  NetworkId network_;
  NodeId consensus_;
  NetworkTable table_;
  ChainFollower follower_;
  Outbox outbox_;
  std::map<HandoffKey, Handoff> handoffs_;
  // Own blocks with registrations: acknowledged to the consensus node only
  // once every index node has the news, so that a registration confirmed to
  // its record node is known to every network that may write for the user.
  struct Announcing {
    SignedHeader header;
    std::set<std::pair<NodeId, Hash>> waiting;
  };
  std::map<std::uint64_t, Announcing> announcing_;
  TickTimer tick_;
};

}  // namespace mhr
