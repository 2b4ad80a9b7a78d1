// RecordNode: the state machine of a hospital's record node. It registers
// users, turns client submissions into signed records chained per user,
// stores the records of users registered here (and nobody else's), keeps its
// network's header chain, and pulls a user's history when the user registers
// here. It acts only through Env.
#pragma once

#include <absl/container/inlined_vector.h>

#include <deque>
#include <map>
#include <memory_resource>
#include <set>
#include <vector>

#include "common/access.hpp"
#include "common/audit_log.hpp"
#include "common/chain_follower.hpp"
#include "common/chain_store.hpp"
#include "common/consent_book.hpp"
#include "common/env.hpp"
#include "common/record_pool.hpp"
#include "common/replay_guard.hpp"
#include "common/tick_timer.hpp"
#include "common/topology.hpp"
#include "edge_node/blob_custody.hpp"

namespace mhr {

// Bounds on volatile state: past these a node refuses new work.
inline constexpr std::size_t kMaxPendingRecords = 100'000;
// The audit chain's head is anchored in a block at most this often.
inline constexpr TimeUs kAuditAnchorIntervalUs = 1 * kUsPerSecond;
// Retries after which a group's record in the node's own chain is confirmed
// without the leader's word (RecordNode::confirms_from_chain).
inline constexpr std::uint32_t kConfirmFromChainAttempts = 1;

class RecordNode final : public NodeLogic {
 public:
  RecordNode(Env& env, TopologyPtr topology);

  void start() override;
  void on_message(NodeId from, const Message& message) override;
  void on_timer(TimerId id, std::uint64_t tag) override;
  void on_client(ClientRequestId id, const ClientRequest& request) override;

  bool is_registered(const UserId& user) const { return registered_.contains(user); }
  std::uint64_t header_height() const { return follower_.next_height(); }
  std::size_t pending_records() const { return pending_.size(); }
  std::size_t syncs_in_progress() const { return syncs_.size(); }
  std::size_t registrations_pending() const { return registrations_.size(); }
  std::string work_in_flight() const override;
  const ConsentBook& consent() const { return book_; }
  const AuditLog& audit() const { return audit_; }
  const BlobCustody& blobs() const { return blobs_; }

 private:
  struct PendingRecord {
    Record record;
    std::optional<ClientRequestId> client;
    std::uint32_t attempts = 0;
    TimeUs next_at_us = 0;
  };
  struct PendingRegistration {
    Registration registration;
    Hash hash;
    std::vector<ClientRequestId> clients;
    std::uint32_t attempts = 0;
    TimeUs next_at_us = 0;
  };
  // A user's history being pulled after a registration here.
  struct HistorySync {
    std::uint64_t request_id = 0;
    std::uint32_t round = 0;
    std::uint32_t attempts = 0;
    TimeUs next_at_us = 0;
    std::uint64_t records_received = 0;
    std::uint32_t repairs = 0;  // syncs started again for a gap left open
  };
  // A user's chain may have a gap (records parked behind it) after a sync.
  inline static constexpr std::uint32_t kMaxGapRepairs = 5;

  struct PendingAnchor {
    AuditAnchor anchor;
    Hash hash;
    std::uint32_t attempts = 0;
    TimeUs next_at_us = 0;
  };

  // client requests
  std::optional<std::string> credential_refusal(const ClientRequest& request);
  void deny(ClientRequestId id, const PublicKey& actor, const UserId& user, std::string why);
  void register_user(ClientRequestId id, const RegisterUserRequest& req);
  void submit_record(ClientRequestId id, const SubmitRecordRequest& req);
  void read_user(ClientRequestId id, const ReadUserRequest& req);
  void patient_act(ClientRequestId id, const PatientActRequest& req);
  void read_audit(ClientRequestId id, const AuditRequest& req);
  void put_blob(ClientRequestId id, const PutBlobRequest& req);
  void read_blob(ClientRequestId id, const ReadBlobRequest& req);
  std::vector<WrappedKey> keys_for_reader(const UserId& user, const PublicKey& reader,
                                          const PublicKey& key_holder) const;
  void queue_record(ClientRequestId id, const SubmitRecordRequest& req);
  void append_audit(const PublicKey& actor, const UserId& user, AuditAction action,
                    std::uint32_t records, std::string detail);

  // consent and audit as records are stored
  void apply_patient_act(WriteBatch& batch, const Record& r, const Hash& h);
  std::size_t erase_sealed_keys(WriteBatch& batch, const UserId& user);
  void store_own_anchor(WriteBatch& batch, const AuditAnchor& a, const BlockHeader& header,
                        const MerkleProof& proof);
  void anchor_audit(TimeUs now);

  // messages
  void on_presence_query(const PresenceQuery& q);
  void on_delivery(NodeId from, const BlockDelivery& d);
  void on_committed(const Committed& c);
  void finish_registration(UserId user);
  std::vector<Hash> chained_on(const Hash& first) const;
  void on_rejected(const Rejected& r);
  void on_history_request(const HistoryRequest& req);
  void on_history_batch(const HistoryBatch& batch);

  // blocks: own network's in order, foreign ones as they come
  ChainFollower::Applied apply_own_block(const BlockDelivery& d);
  // Whether a delivery of an own block holds a record of a user not
  // registered here (nor by the block itself): it was meant for another
  // node, and storing its header would make the right one look duplicate
  // (and its acknowledgement would claim records this node lacks).
  bool meant_for_another(const BlockDelivery& d) const;
  void apply_foreign_block(NodeId from, const BlockDelivery& d);

  // storing records in chain order
  class ChainWriter;

  // submissions
  Record next_record_for(const UserId& user, const SubmitRecordRequest& req);
  void send_pending(PendingRecord& p);
  void rebuild_after_stale(const Hash& rejected, const ChainTip& tip);
  void finish_pending(const Hash& hash, ReplyStatus status, std::string detail);

  // registration and history
  void send_registration(PendingRegistration& p);
  void start_sync(const UserId& user, std::uint32_t repairs = 0);
  bool has_parked(const UserId& user) const;
  void send_history_request(const UserId& user, HistorySync& s);
  void finish_sync_round(const UserId& user, HistorySync& s);
  void answer_history(const HistoryRequest& req);

  void on_tick();
  // The replica of the consensus group requests go to.
  NodeId consensus() const { return follower_.contact().leader(); }
  // A request to the consensus group is sent again: maybe to another replica.
  // It may also have committed in a block this node never received (a
  // faulty leader delivers blocks nobody can verify, and the honest replicas
  // take the request for done): the node asks for what it misses.
  void retrying() {
    follower_.contact().suspect(env_.now_us(), params().retry_timeout_us);
    follower_.request_catch_up();
  }
  void want_tick(TimeUs at_us) { tick_.want(env_, at_us); }
  // A record or registration of a group's network in this node's chain
  // under a verified certificate, still unconfirmed after retries: a faulty
  // leader keeps the confirmation (the honest replicas take it for done).
  // Committed by a quorum and durable on the honest replicas, from which
  // every holder catches up, it is confirmed to its client (group sweep,
  // seeds 620, 1963, 5355). A single consensus node is the only one to
  // deliver: its confirmation waits for every holder.
  bool confirms_from_chain(std::uint32_t attempts) const {
    return attempts >= kConfirmFromChainAttempts &&
           topology_->network(network_).consensus_nodes.size() > 1;
  }
  const ProtocolParams& params() const { return topology_->params(); }
  bool sparse() const { return params().replication == Replication::kSparse; }

  Env& env_;
  TopologyPtr topology_;
  ChainStore chain_;
  NetworkId network_;
  ChainFollower follower_;
  std::set<UserId> registered_;
  std::map<UserId, PendingRegistration> registrations_;
  // The records in flight take their nodes from the record-state pool.
  std::pmr::map<Hash, PendingRecord> pending_{record_state_pool()};
  using PendingQueue = absl::InlinedVector<Hash, 2>;  // a user has one or two in flight
  std::pmr::map<UserId, PendingQueue> pending_by_user_{record_state_pool()};  // in chain order
  std::map<UserId, HistorySync> syncs_;
  ConsentBook book_;
  AuditLog audit_;
  BlobCustody blobs_;
  ReplayGuard replay_;
  std::optional<PendingAnchor> anchor_;
  TimeUs next_anchor_at_us_ = 0;
  TickTimer tick_;
};

}  // namespace mhr
