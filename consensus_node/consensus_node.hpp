// ConsensusNode: orders an edge network's records and registrations into
// signed blocks and distributes each entry only to the nodes that hold its
// user (headers go to every node). It keeps the intra-network sharing table,
// runs the presence rounds of the published protocol (or answers from its
// table), confirms entries to their origin once every holder has them, and
// relays records that other networks forward through the index node. With a
// group of replicas (docs/CONSENSUS.md) the leader does all that and the
// blocks it proposes commit by PBFT (bft/agreement); every replica checks
// and stores them, the others forward members' requests to the leader and
// replace it when it stalls. It acts only through Env.
#pragma once

#include <absl/container/btree_set.h>
#include <absl/container/flat_hash_map.h>
#include <absl/container/inlined_vector.h>

#include <deque>
#include <map>
#include <memory_resource>
#include <set>
#include <vector>

#include "common/bft/agreement.hpp"
#include "common/bft/group_sync.hpp"
#include "common/chain_store.hpp"
#include "common/env.hpp"
#include "common/record_pool.hpp"
#include "common/tick_timer.hpp"
#include "common/topology.hpp"
#include "consensus_node/block_body.hpp"
#include "consensus_node/key_erasure.hpp"
#include "consensus_node/sharing_table.hpp"

namespace mhr {

inline constexpr std::size_t kMaxPresenceRounds = 200'000;
inline constexpr std::size_t kMaxQueuedEntries = 200'000;
inline constexpr std::size_t kMaxOutgoingBlocks = 4'096;
inline constexpr std::uint32_t kMaxPresenceAttempts = 3;
inline constexpr std::size_t kMaxHeldAhead = 10'000;        // records waiting for a predecessor
inline constexpr std::size_t kMaxWatchedRequests = 10'000;  // a replica's request timers
// CommittedTip hints a replica sends for one height, a view time-out apart.
inline constexpr std::uint32_t kMaxTipHints = 3;

class ConsensusNode final : public NodeLogic {
 public:
  ConsensusNode(Env& env, TopologyPtr topology);

  void start() override;
  void on_message(NodeId from, const Message& message) override;
  void on_timer(TimerId id, std::uint64_t tag) override;
  void on_client(ClientRequestId id, const ClientRequest& request) override;

  std::uint64_t height() const { return tip_ ? tip_->header.height + 1 : 0; }
  const SharingTable& table() const { return table_; }
  std::size_t queued() const { return queue_.size(); }
  std::size_t outgoing() const { return outgoing_.size(); }
  std::string work_in_flight() const override;
  void note_signature_checks(NodeId from, const Message& message,
                             const Verifier& recorder) const override;
  const Agreement& agreement() const { return agreement_; }
  bool leading() const { return agreement_.leading(); }

 private:
  // A broadcast presence round for one record.
  struct PresenceRound {
    std::optional<Record> record;
    NodeId origin;
    std::map<NodeId, bool> flags;
    std::uint32_t attempts = 0;
    TimeUs deadline_us = 0;
    bool done = false;        // holders decided; waits for its predecessors
    bool index_only = false;  // table mode: only the index node is asked
    Holders holders;
  };
  // Members a block waits for: a thousand per block, added and removed one
  // at a time, so in B-tree nodes rather than a node allocation each.
  using MemberSet = absl::btree_set<NodeId>;
  // A block (own or foreign) whose deliveries are not all acknowledged.
  struct Outgoing {
    SignedHeader header;
    Hash header_hash;
    Hash delivery_hash;  // foreign: of the delivery as forwarded here
    std::vector<PlacedEntry> entries;
    std::vector<MerkleProof> proofs;
    MemberSet waiting;
    // Member -> entry indexes, looked up at each of a thousand
    // acknowledgements per block; never iterated in an order that matters.
    absl::flat_hash_map<NodeId, absl::InlinedVector<std::uint32_t, 4>, std::hash<NodeId>>
        entries_of;
    std::vector<std::uint32_t> unacked_holders;  // per entry
    std::optional<NodeId> forwarded_by;          // foreign: the index node
    // Foreign: the Ack each member owes, naming the content it was sent.
    std::map<NodeId, Hash> ack_hash;
    std::uint32_t attempts = 0;
    TimeUs next_at_us = 0;
  };
  // (network, height, hash of the delivery): own blocks carry a zero hash;
  // a foreign block may come twice with different records (forwarded, then
  // replayed), each distributed on its own.
  using OutgoingKey = std::tuple<NetworkId, std::uint64_t, Hash>;
  OutgoingKey own_key(std::uint64_t height) const { return {network_, height, Hash{}}; }

  void on_store_request(NodeId from, const StoreRequest& req);
  void on_presence_flag(NodeId from, const PresenceFlag& flag);
  void on_tx_request(NodeId from, const TxRequest& req);
  void on_registration(NodeId from, const Registration& reg);
  void on_audit_anchor(NodeId from, const AuditAnchor& anchor);
  void confirm_if_delivered(NodeId from, const Hash& h);
  bool is_own_record_node(NodeId id) const;
  void on_delivery_ack(NodeId from, const DeliveryAck& ack);
  void on_foreign_ack(NodeId from, const Ack& ack);
  void expect_ack(Outgoing& out, NodeId member, const Hash& ack);
  void forget_ack(NodeId member, const Hash& ack, const OutgoingKey& key);
  void join_foreign(const UserId& user, NodeId node);
  void on_catch_up(NodeId from, const CatchUpRequest& req);
  void on_foreign_delivery(NodeId from, const BlockDelivery& d);
  void on_remote_presence(NodeId from, const RemotePresence& p);
  template <class Request>  // HistoryRequest, BlobRequest
  void route_to_holder(NodeId from, const Request& req);
  bool answers_without_leader(NodeId from, const Message& message) const;
  template <class Answer>  // HistoryBatch, BlobPart
  void relay_back(const Answer& answer);
  void answer_own_chain(NodeId to, const HistoryRequest& req);
  void claim_for_index(const UserId& user);

  // ordering
  std::optional<Rejected> check_record(NodeId from, const Record& r, const Hash& h);
  bool ahead_of_tip(const Record& r) const;
  bool contested(const Record& r) const;
  void hold_ahead(NodeId origin, const Record& r);
  void hold_contested(NodeId origin, const Record& r, const Hash& h);
  // The users of the records in `entries` (none when nothing is contested).
  std::vector<UserId> users_of(const std::vector<PlacedEntry>& entries);
  void reconsider_contested(const std::vector<UserId>& users);
  std::optional<std::pair<NodeId, Record>> take_held(const UserId& user);
  bool place_record(NodeId from, const Record& r);
  std::optional<ChainTip> user_tip(const UserId& user) const;
  void accept_record(NodeId origin, const Record& r, const Hash& h);
  bool answered(const PresenceRound& round) const;
  void finish_presence(const Hash& h, PresenceRound& round);
  void expire_rounds(TimeUs now);
  void release_in_order(const UserId& user);
  void enqueue(PlacedEntry p);
  void build_block();
  void propose_next_block();
  std::vector<PlacedEntry> take_queued(const std::set<UserId>& skipped);
  BlockHeader block_header(std::vector<PlacedEntry>& entries, std::uint64_t height,
                           const Hash& prev_hash) const;
  void drop_stale(std::vector<PlacedEntry>& entries);
  Holders record_holders(const Record& r) const;
  NodeId index_node() const { return topology_->index_of(network_); }

  // distribution
  void deliver(Outgoing& out, const MemberSet& to);
  void track(Outgoing& out);
  void on_entries_acked(Outgoing& out, NodeId member);
  void confirm(const std::map<NodeId, std::vector<Hash>>& by_origin);
  void finish_outgoing(const OutgoingKey& key);

  void on_tick();

  // the group (docs/CONSENSUS.md)
  bool group() const { return agreement_.size() > 1; }
  TimeUs block_wait_us() const;
  void on_member_message(NodeId from, const Message& message);
  void on_group_message(NodeId from, const Message& message);
  void while_not_leading(NodeId from, const Message& message);
  void forward(NodeId origin, const Message& message, bool watched);
  void on_forwarded(NodeId from, const Forwarded& f);
  void watch(const Entry& entry);
  void watch_handoff(const BlockDelivery& d);
  void hint_committed_tip(TimeUs now);
  // Hints still to send (a new committed height starts its own count).
  bool hinting() const {
    return !undelivered_.empty() && tip_ && !agreement_.leading() &&
           (hinted_height_ != tip_->header.height || tip_hints_ < kMaxTipHints);
  }
  enum class Watch { kDone, kWaiting, kDue };
  Watch watch_state(const Hash& h, const Entry& entry) const;
  void on_proposal(NodeId from, const Proposal& p);
  std::optional<std::string> body_error(const BlockHeader& h,
                                        const std::vector<PlacedEntry>& entries) const;
  std::optional<std::string> holders_error(const PlacedEntry& p) const;
  void act(Agreement::Output out);
  void track_in_flight(const std::optional<Proposal>& proposed);
  void carry_over(const Proposal& proposed);
  void release(const std::vector<PlacedEntry>& entries);
  bool pipelined(const Proposal& p) const;
  NodeId next_replica_to_ask();
  std::vector<PlacedEntry> entries_of(const Agreement::Decision& d);
  std::vector<std::pair<UserId, NodeId>> apply_commit(WriteBatch& b, const SignedHeader& qc,
                                                      std::vector<PlacedEntry>& entries);
  void after_commit(const SignedHeader& qc, std::vector<PlacedEntry> entries,
                    const std::vector<std::pair<UserId, NodeId>>& joined);
  void fetch(NodeId peer);
  void on_block_fetch(NodeId from, const BlockFetch& f);
  void send_block(NodeId to, std::uint64_t height);
  void on_committed_block(NodeId from, const CommittedBlock& cb);
  void apply_fetched();
  void forget_delivered(std::uint64_t below);
  std::uint64_t delivered_below() const;
  void check_leadership();
  void lead();
  void order_watched();
  static bool deferred_while_behind(const Message& m);
  void step_down();
  void redeliver(std::uint64_t height);
  void on_group_tick();
  void want_group_tick();
  TimeUs view_timeout_us() const { return sync_.view_timeout_us(); }
  const ProtocolParams& params() const { return topology_->params(); }
  bool sparse() const { return params().replication == Replication::kSparse; }

  Env& env_;
  TopologyPtr topology_;
  ChainStore chain_;
  NetworkId network_;
  std::vector<NodeId> members_;  // record nodes and the index node
  SharingTable table_;
  KeyErasure erasure_;
  std::optional<SignedHeader> tip_;
  // The per-record state below takes its nodes from the record-state pool.
  std::pmr::map<UserId, ChainTip> projected_{record_state_pool()};  // tips including queued
  std::pmr::map<Hash, PresenceRound> rounds_{record_state_pool()};
  // Accepted records of a user whose presence rounds are open, in chain
  // order: rounds finish in any order, blocks take records in chain order.
  struct OpenOrder {
    absl::InlinedVector<Hash, 2> hashes;  // usually one or two: no allocation
    std::size_t released = 0;             // the first `released` have left for the queue
    std::span<const Hash> open() const { return std::span<const Hash>(hashes).subspan(released); }
  };
  std::pmr::map<UserId, OpenOrder> in_order_{record_state_pool()};
  // Records that arrived before their predecessor, by user and sequence.
  std::map<UserId, std::map<std::uint64_t, std::pair<NodeId, Record>>> ahead_;
  std::size_t ahead_count_ = 0;
  // Group leader: records that lose to a record ordered but not committed,
  // by user and hash; placed again once that one commits (docs/CONSENSUS.md).
  std::map<UserId, std::map<Hash, std::pair<NodeId, Record>>> contested_;
  std::size_t contested_count_ = 0;
  // Round deadlines in the order they were set (all are now + one time-out).
  std::deque<std::pair<TimeUs, Hash>> round_deadlines_;
  std::pmr::deque<PlacedEntry> queue_{record_state_pool()};
  std::pmr::set<Hash> queued_{record_state_pool()};
  std::map<OutgoingKey, Outgoing> outgoing_;
  // (member, Ack hash) -> the foreign blocks waiting for it: a forwarded
  // and a replayed delivery of a block may give a member the same records.
  std::map<std::pair<NodeId, Hash>, std::set<OutgoingKey>> foreign_acks_;
  TickTimer tick_;
  TickTimer block_timer_;

  // the group
  Agreement agreement_;
  bool was_leading_ = false;
  bool building_ = false;   // in build_block: a commit inside it does not start another
  bool block_due_ = false;  // a block waits for the one in flight to commit
  // Leader: the entries of the block in flight (header hash), to commit them
  // without decoding the body again.
  std::optional<std::pair<Hash, std::vector<PlacedEntry>>> inflight_;
  // Leader: the block proposed above it while it commits (Agreement::propose_next).
  std::optional<std::pair<Hash, std::vector<PlacedEntry>>> next_inflight_;
  // Whom a replica behind asks next (next_replica_to_ask): the one that
  // showed it is behind, or the others in a round.
  bool ask_ahead_peer_ = false;
  std::size_t fetch_turn_ = 0;
  // Replica: bodies checked at the next height, by header hash.
  std::map<Hash, std::vector<PlacedEntry>> checked_;
  // Own blocks committed whose delivery to every member is not known done
  // ('o' in the store): a new leader delivers them again.
  std::set<std::uint64_t> undelivered_;
  // Requests forwarded through this replica: each must commit (or become
  // stale) before its deadline, or the leader is replaced.
  struct Watched {
    TimeUs deadline_us = 0;
    Entry entry;
  };
  std::map<Hash, Watched> watched_;
  // Another network's block the index node handed to this replica rather
  // than to the leader (it asked the leader first, in vain): the leader must
  // finish distributing it before the deadline, or it is replaced. Keyed by
  // the delivery's hash; the leader's Ack to the replicas ends the watch.
  std::map<Hash, TimeUs> watched_handoffs_;
  // CommittedTip hints for the last committed height (hint_committed_tip).
  std::optional<std::uint64_t> hinted_height_;
  std::uint32_t tip_hints_ = 0;
  TimeUs next_tip_hint_us_ = 0;
  GroupSync sync_;
  TickTimer group_timer_;
};

}  // namespace mhr
