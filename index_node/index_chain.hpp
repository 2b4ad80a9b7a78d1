// IndexChain: an index node's replica of the index chain (docs/CONSENSUS.md,
// "The index chain"). All index nodes order index transactions (memberships,
// edge header anchors) into certified blocks with the PBFT core
// (common/bft/agreement), apply committed blocks in height order, keep
// chain and agreement state in the store and catch up from peers. An index
// node submits its transactions to every index node (the leader orders
// them, the others watch them and replace a leader that does not).
#pragma once

#include <functional>
#include <map>

#include "common/bft/agreement.hpp"
#include "common/bft/group_sync.hpp"
#include "common/env.hpp"
#include "common/index_tx.hpp"
#include "common/tick_timer.hpp"
#include "common/topology.hpp"

namespace mhr {

// Transactions a replica holds for ordering: more are refused (their
// submitters send them again).
inline constexpr std::size_t kMaxIndexQueue = 8 * kMaxIndexBlockTxs;
// Transactions of this node not yet committed. Memberships are bounded by
// the edge blocks the index node applies; anchors are skipped past half.
inline constexpr std::size_t kMaxIndexPending = 8 * kMaxIndexBlockTxs;

// Keys of the index chain in Table::kIndexChain.
Bytes index_header_key(std::uint64_t height);
Bytes index_body_key(std::uint64_t height);
Bytes index_tx_key(const Hash& tx);
// Where the index chain's agreement state is in Table::kPending.
Bytes index_agreement_key();
Bytes index_anchor_key(NetworkId network, std::uint64_t height);

class IndexChain {
 public:
  // Applies a committed block's transactions (the same write as the block).
  using Apply = std::function<void(WriteBatch&, const std::vector<IndexTx>&)>;
  // After that write: the hashes of the transactions committed.
  using Committed = std::function<void(const std::vector<Hash>&)>;

  IndexChain(Env& env, TopologyPtr topology, std::uint64_t timer_tag, Apply apply,
             Committed committed);

  void start();
  // Orders `tx`: kept in `batch` until committed, sent after the write
  // (flush). False when it is committed or pending already.
  bool submit(WriteBatch& batch, const IndexTx& tx);
  // Sends what was submitted since the last flush.
  void flush();
  std::size_t pending() const { return pending_.size(); }
  // False for messages that are not index chain traffic.
  bool on_message(NodeId from, const Message& m);
  // False for another timer.
  bool on_timer(TimerId id);

  bool is_committed(const Hash& tx) const;
  std::uint64_t height() const { return agreement_.next_height(); }
  bool leading() const { return agreement_.leading(); }
  std::uint64_t view() const { return agreement_.view(); }
  // Own transactions not yet committed, or a height in flight.
  bool busy() const { return !pending_.empty() || agreement_.in_flight(); }

 private:
  struct Queued {
    IndexTx tx;
    TimeUs deadline_us = 0;  // a working leader commits it by then
  };

  void on_submit(NodeId from, const IndexSubmit& s);
  void on_proposal(NodeId from, const Proposal& p);
  std::optional<std::string> body_error(const std::vector<IndexTx>& txs) const;
  std::optional<std::string> proof_error(const Membership& m, std::set<Hash>& proven_blocks) const;
  bool proven_before(const Hash& h, const IndexTx& tx) const;
  void act(Agreement::Output out);
  void apply_commit(WriteBatch& b, const SignedHeader& qc, const std::vector<IndexTx>& txs,
                    std::vector<Hash>& done);
  void propose_if_due();
  void broadcast(const Message& m);
  void send_pending();
  void send_txs(const std::vector<IndexTx>& txs);
  void fetch(NodeId peer);
  void on_block_fetch(NodeId from, const BlockFetch& f);
  void send_block(NodeId to, std::uint64_t height);
  void on_committed_block(NodeId from, const CommittedBlock& cb);
  void apply_fetched();
  void on_tick();
  void want_tick();
  TimeUs view_timeout_us() const { return sync_.view_timeout_us(); }
  const ProtocolParams& params() const { return topology_->params(); }

  Env& env_;
  TopologyPtr topology_;
  Agreement agreement_;
  GroupSync sync_;
  Apply apply_;
  Committed committed_;
  TickTimer timer_;
  std::optional<SignedHeader> tip_;
  std::map<Hash, IndexTx> pending_;  // own, durable until committed
  std::vector<IndexTx> fresh_;       // submitted, not sent yet
  TimeUs next_submit_us_ = 0;
  std::map<Hash, Queued> queue_;                  // known, not committed: the leader orders these
  TimeUs batch_since_us_ = -1;                    // when the oldest transaction not proposed came
  std::map<Hash, std::vector<IndexTx>> checked_;  // proposals' bodies, by header hash
};

}  // namespace mhr
