// GroupSync: what a replica of a PBFT group keeps beside its Agreement to
// catch up and to time its leader, shared by the edge groups
// (consensus_node/consensus_group.cpp) and the index chain
// (index_node/index_chain.cpp): how far the group got as far as peers show,
// committed blocks fetched ahead of their turn, and the view timer. Pure
// like the agreement: the caller passes the time and sends what it returns.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <utility>

#include "common/bft/agreement.hpp"
#include "common/topology.hpp"

namespace mhr {

// Committed blocks sent for one BlockFetch.
inline constexpr std::uint64_t kFetchBlocks = 32;
// Caught-up blocks waiting for their turn.
inline constexpr std::uint64_t kMaxFetchedAhead = 64;

class GroupSync {
 public:
  GroupSync(const Agreement& agreement, const ProtocolParams& params)
      : agreement_(agreement), params_(params) {}

  // ---- catching up
  // Notes how far a group message shows its sender got.
  void on_group_message(NodeId from, const Message& m);
  // A committed block from `from`: kept if it may be due soon (false: not
  // kept, too old or too far ahead); notes how far the group got when its
  // certificate verifies.
  bool on_committed_block(NodeId from, const CommittedBlock& cb);
  // The height a vote is for when it is committed here already: the
  // sender missed the commit (the caller sends it the block).
  std::optional<std::uint64_t> missed_commit(const Message& m) const;
  bool behind() const { return agreement_.next_height() < group_height_; }
  NodeId ahead_peer() const { return ahead_peer_; }
  // A BlockFetch to send to `peer` now, or nullopt (itself, or one went
  // out less than half a retry time-out ago).
  std::optional<BlockFetch> fetch(NodeId self, NodeId peer, TimeUs now);
  // The heights to send for a fetch: [first, second).
  std::pair<std::uint64_t, std::uint64_t> fetch_range(const BlockFetch& f) const;
  // The kept block for the next height (older ones dropped), in turn.
  std::optional<std::pair<NodeId, CommittedBlock>> take_fetched();
  bool fetched_empty() const { return fetched_.empty(); }
  // A replica sent a committed block that does not verify: only a faulty
  // one can, so its word on how far the group got is no longer taken and
  // nothing is fetched from it (else it keeps this replica "behind" and
  // fetching from it for ever; found by the group sweep).
  void distrust(NodeId replica);

  // ---- the view timer
  // Longer after each view that failed.
  TimeUs view_timeout_us() const;
  void on_proposal(TimeUs now);  // the height's proposal came (or was made)
  void on_commit(TimeUs now);
  void on_view_entered(TimeUs now);
  // Whether the leader is to be suspected now: waiting for a NewView, or
  // the proposal in flight did not commit in time (callers add their own
  // reasons: requests they watch).
  bool due(TimeUs now);
  // After a time-out: the next deadline (for what the caller watches too).
  TimeUs timed_out(TimeUs now);
  // No progress for a retry time-out while a height or view change is
  // open: the caller sends again what it sent (Agreement::resend).
  bool resend_due(TimeUs now);
  // Nothing to time, fetch or send again.
  bool idle() const {
    return agreement_.active() && !agreement_.in_flight() && !behind() &&
           !agreement_.below_view_start();
  }

 private:
  const Agreement& agreement_;
  const ProtocolParams& params_;
  std::map<std::uint64_t, std::pair<NodeId, CommittedBlock>> fetched_;
  std::set<NodeId> distrusted_;
  std::uint64_t group_height_ = 0;   // the highest next height a replica showed
  NodeId ahead_peer_;                // the replica that showed it
  TimeUs proposal_deadline_us_ = 0;  // 0: none
  TimeUs view_deadline_us_ = 0;
  TimeUs last_progress_us_ = 0;
  TimeUs last_resend_us_ = 0;
  TimeUs last_fetch_us_ = -1;
};

}  // namespace mhr
