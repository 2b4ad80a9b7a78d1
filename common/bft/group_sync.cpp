#include "common/bft/group_sync.hpp"

#include <algorithm>

namespace mhr {

namespace {

// View time-outs double per consecutive failed view, up to this many times.
constexpr std::uint32_t kMaxViewBackoffDoublings = 6;

}  // namespace

void GroupSync::on_group_message(NodeId from, const Message& message) {
  if (distrusted_.contains(from)) return;
  // A proposal or vote for height h shows the heights below the ones that
  // may be in flight committed: h - 1 and below, or h - 2 and below with
  // pipelining (h - 1 may still be agreed on). Taking h - 1 for committed
  // there made every replica "behind" a height nobody had committed, and
  // fetching it for ever (pipelined group sweep, seed 2378).
  const std::uint64_t in_flight = params_.pipeline ? 2 : 1;
  const auto next_below_flight = [&](std::uint64_t h) {
    return h + 1 >= in_flight ? h + 1 - in_flight : 0;
  };
  std::uint64_t shown = 0;
  if (const auto* p = std::get_if<Proposal>(&message)) shown = next_below_flight(p->header.height);
  if (const auto* v = std::get_if<Vote>(&message)) shown = next_below_flight(v->height);
  if (const auto* vc = std::get_if<ViewChange>(&message); vc && vc->committed)
    shown = vc->committed->header.height + 1;
  if (const auto* nv = std::get_if<NewView>(&message))
    for (const ViewChange& vc : nv->view_changes)
      if (vc.committed) shown = std::max(shown, vc.committed->header.height + 1);
  if (shown > group_height_) {
    group_height_ = shown;
    ahead_peer_ = from;
  }
}

std::optional<std::uint64_t> GroupSync::missed_commit(const Message& m) const {
  const auto* v = std::get_if<Vote>(&m);
  if (!v || v->phase == VotePhase::kSuspect || v->height >= agreement_.next_height())
    return std::nullopt;
  return v->height;
}

bool GroupSync::on_committed_block(NodeId from, const CommittedBlock& cb) {
  const std::uint64_t h = cb.header.header.height;
  const std::uint64_t next = agreement_.next_height();
  if (h < next || h >= next + kMaxFetchedAhead) return false;
  fetched_.try_emplace(h, from, cb);
  // More where that came from: one fetch brings at most kFetchBlocks.
  if (h + 1 > group_height_ && !distrusted_.contains(from) &&
      agreement_.certificate_ok(cb.header)) {
    group_height_ = h + 1;
    ahead_peer_ = from;
  }
  return true;
}

std::optional<BlockFetch> GroupSync::fetch(NodeId self, NodeId peer, TimeUs now) {
  if (peer == self || distrusted_.contains(peer) ||
      (last_fetch_us_ >= 0 && now - last_fetch_us_ < params_.retry_timeout_us / 2))
    return std::nullopt;
  last_fetch_us_ = now;
  return BlockFetch{agreement_.next_height(), agreement_.view()};
}

void GroupSync::distrust(NodeId replica) {
  if (!distrusted_.insert(replica).second) return;
  if (ahead_peer_ == replica) group_height_ = agreement_.next_height();  // honest ones raise it
}

std::pair<std::uint64_t, std::uint64_t> GroupSync::fetch_range(const BlockFetch& f) const {
  return {f.from_height, std::min(agreement_.next_height(), f.from_height + kFetchBlocks)};
}

std::optional<std::pair<NodeId, CommittedBlock>> GroupSync::take_fetched() {
  while (!fetched_.empty() && fetched_.begin()->first <= agreement_.next_height()) {
    auto node = fetched_.extract(fetched_.begin());
    if (node.key() == agreement_.next_height()) return std::move(node.mapped());
  }
  return std::nullopt;
}

TimeUs GroupSync::view_timeout_us() const {
  const std::uint32_t doublings = std::min(agreement_.failed_views(), kMaxViewBackoffDoublings);
  return (4 * params_.retry_timeout_us) << doublings;
}

void GroupSync::on_proposal(TimeUs now) {
  if (proposal_deadline_us_ == 0) proposal_deadline_us_ = now + view_timeout_us();
}

void GroupSync::on_commit(TimeUs now) {
  last_progress_us_ = now;
  proposal_deadline_us_ = 0;
}

// The new leader gets a whole time-out for what was pending.
void GroupSync::on_view_entered(TimeUs now) {
  last_progress_us_ = now;
  view_deadline_us_ = 0;
  proposal_deadline_us_ = 0;
}

bool GroupSync::due(TimeUs now) {
  if (!agreement_.active()) {
    if (view_deadline_us_ == 0) view_deadline_us_ = now + view_timeout_us();
    return now >= view_deadline_us_;
  }
  return agreement_.in_flight() && proposal_deadline_us_ > 0 && now >= proposal_deadline_us_;
}

// Another round of the timer before suspecting again, or giving up on the
// next view; longer after each view that failed.
TimeUs GroupSync::timed_out(TimeUs now) {
  view_deadline_us_ = now + view_timeout_us();
  if (proposal_deadline_us_ != 0) proposal_deadline_us_ = view_deadline_us_;
  last_resend_us_ = now;
  return view_deadline_us_;
}

bool GroupSync::resend_due(TimeUs now) {
  if (now - std::max(last_progress_us_, last_resend_us_) < params_.retry_timeout_us ||
      (agreement_.active() && !agreement_.in_flight()))
    return false;
  last_resend_us_ = now;
  return true;
}

}  // namespace mhr
