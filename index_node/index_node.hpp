// IndexNode: an edge network's member of the index chain network. It keeps
// the inter-network sharing table (user -> networks), orders where users
// register and which edge headers were certified on the index chain with
// the other index nodes (or, with index_order direct, tells them), answers presence for users
// registered in other networks, forwards their records to those networks' index nodes, relays
// records forwarded to its own network to its consensus node, and routes cross-network history
// requests. It acts only through Env.
#pragma once

#include <map>
#include <set>
#include <span>

#include "common/chain_follower.hpp"
#include "common/chain_store.hpp"
#include "common/env.hpp"
#include "common/outbox.hpp"
#include "common/tick_timer.hpp"
#include "common/topology.hpp"
#include "index_node/index_chain.hpp"
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
  const IndexChain& index_chain() const { return index_chain_; }
  // Work still to do: hand-offs, replays, messages not yet acknowledged and
  // index transactions not yet committed.
  bool busy() const {
    return !handoffs_.empty() || !replays_.empty() || outbox_.size() > 0 ||
           (chained() && index_chain_.busy());
  }
  std::string work_in_flight() const override;

 private:
  // A delivery this node must hand on: to another network's index node
  // (forward) or to its own consensus node (relay), until the receiver
  // acknowledges exactly this content (an Ack naming its hash).
  struct Handoff {
    NodeId to;
    MessagePtr delivery;
    std::optional<NodeId> ack_to;  // relay: whom to acknowledge when done
    std::uint32_t attempts = 0;
    TimeUs next_at_us = 0;
  };
  // (receiver, hash of the delivery)
  using HandoffKey = std::pair<NodeId, Hash>;
  // The user's chain in this network, owed to another network where the
  // user registered: records committed here before this node learned of
  // that registration were not forwarded there. Paged from the consensus
  // node and handed off like forwarded records.
  struct Replay {
    std::uint64_t next_sequence = 0;  // records below are handed off
    std::uint64_t request_id = 0;     // 0: no page asked for
    std::uint32_t attempts = 0;
    TimeUs next_at_us = 0;
    // A record whose presence this node answered (absent) just before it
    // learned the registration may still commit without it: the replay
    // reads the chain's end once more after this time (replay_settle_us).
    TimeUs settled_at_us = 0;
  };
  using ReplayKey = std::pair<UserId, NetworkId>;  // (user, network owed)

  void on_own_delivery(NodeId from, const BlockDelivery& d);
  ChainFollower::Applied apply_own_block(const BlockDelivery& d);
  void on_ack(NodeId from, const Ack& ack);
  void on_forwarded_delivery(NodeId from, const BlockDelivery& d);
  void on_handoff_ack(NodeId from, const Ack& ack);
  void on_membership(NodeId from, const MembershipUpdate& m);
  // A committed index block's transactions, and then their hashes.
  void apply_index(WriteBatch& batch, const std::vector<IndexTx>& txs);
  void on_index_committed(const std::vector<Hash>& txs);
  bool chained() const { return params().index_order == IndexOrder::kChain; }
  void on_presence_query(const PresenceQuery& q);
  template <class Request>  // HistoryRequest, BlobRequest
  void route_across(NodeId from, const Request& req);
  template <class Answer>  // HistoryBatch, BlobPart
  void relay_back(const Answer& answer);
  void on_history_batch(NodeId from, const HistoryBatch& batch);
  void owe_replay(WriteBatch& batch, const UserId& user, NetworkId network);
  void ask_replay_page(const ReplayKey& key, Replay& r);
  void on_replay_page(const HistoryBatch& page);
  void tick_replays(TimeUs now, TimeUs& next);
  Replay new_replay(std::uint64_t next_sequence) const;

  bool learn_registration(WriteBatch& batch, const UserId& user, NetworkId network);
  // Tells every other index node; returns the (peer, message) pairs to await.
  std::set<std::pair<NodeId, Hash>> announce(const std::vector<UserId>& users);
  bool present_elsewhere(const UserId& user) const;
  // Whether a user in these networks is in one other than this node's.
  bool any_elsewhere(std::span<const NetworkId> networks) const;
  // Stores a hand-off (nothing when the same content is pending already).
  HandoffKey hand_off(WriteBatch& batch, NodeId to, const BlockDelivery& d,
                      std::optional<NodeId> ack_to);
  void transmit(Handoff& h);
  void on_tick();
  const ProtocolParams& params() const { return topology_->params(); }
  // The replica of the consensus group requests go to; consensus_ names the
  // group in what is stored (hand-offs, outbox).
  NodeId leader() const { return follower_.contact().leader(); }
  void retrying() { follower_.contact().suspect(env_.now_us(), params().retry_timeout_us); }
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
  std::map<ReplayKey, Replay> replays_;
  // Own blocks with registrations: acknowledged to the consensus node only
  // once every index node has the news (their memberships are committed on
  // the index chain, or every index node acknowledged them), so that a
  // registration confirmed to its record node is known to every network
  // that may write for the user. Waits for (peer, message) or (self, tx).
  struct Announcing {
    SignedHeader header;
    std::set<std::pair<NodeId, Hash>> waiting;
  };
  std::map<std::uint64_t, Announcing> announcing_;
  void announced(NodeId from, const Hash& hash);
  // Own blocks waiting for their memberships are durable (kPending 'w').
  void load_awaited();
  void forget_awaited(std::uint64_t height);
  TickTimer tick_;
  IndexChain index_chain_;
};

}  // namespace mhr
