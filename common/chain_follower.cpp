#include "common/chain_follower.hpp"

namespace mhr {

ChainFollower::ChainFollower(Env& env, const Topology& topology, NetworkId network)
    : env_(env), topology_(topology), network_(network), contact_(topology, network) {}

void ChainFollower::on_delivery(NodeId from, const BlockDelivery& d, const ChainStore& chain,
                                const Apply& apply) {
  MHR_ASSERT(d.header.header.network == network_);
  contact_.saw(d.header);
  const std::uint64_t h = d.header.header.height;
  if (h < next_height()) {
    auto mine = chain.header(network_, h);
    if (mine && header_hash(mine->header) == header_hash(d.header.header)) {
      if (!deferred_.contains(h)) ack(from, d.header);  // a retransmission: our ack was lost
    } else {
      env_.count(Counter::kVerifyFailures);
      env_.log(LogLevel::kError, "two different headers at height " + std::to_string(h));
    }
    return;
  }
  if (h > next_height()) {
    if (buffered_.size() < kMaxBufferedBlocks) buffered_.emplace(h, std::make_pair(from, d));
    request_catch_up();
    return;
  }
  apply_in_order(from, d, apply);
  while (!buffered_.empty() && buffered_.begin()->first <= next_height()) {
    auto it = buffered_.begin();
    auto [sender, next] = std::move(it->second);
    buffered_.erase(it);
    if (next.header.header.height == next_height()) apply_in_order(sender, next, apply);
  }
}

void ChainFollower::apply_in_order(NodeId from, const BlockDelivery& d, const Apply& apply) {
  const BlockHeader* prev = tip_ ? &tip_->header : nullptr;
  if (auto e = header_link_error(d.header.header, prev)) {
    env_.count(Counter::kVerifyFailures);
    env_.log(LogLevel::kError, "header does not extend the chain: " + *e);
    return;
  }
  const Applied applied = apply(from, d);
  // A faulty replica's copy (a bad entry, meant for another node): the
  // honest copy of this height is asked for, from the next replica if need be.
  if (applied == Applied::kRefused) return request_catch_up();
  tip_ = d.header;
  if (applied == Applied::kStored) {
    ack(from, d.header);
  } else {
    deferred_.insert(d.header.header.height);
  }
}

// The header proves nothing, but an honest replica answers a catch-up with
// at most what was committed; asking costs one message per retry time-out.
// Without it a member whose only copy of a block came from a faulty leader
// would wait for ever once its own requests are done (group sweep, seed 620).
void ChainFollower::on_unverifiable_delivery(const BlockDelivery& d) {
  if (d.header.header.network == network_ && d.header.header.height >= next_height())
    request_catch_up();
}

void ChainFollower::on_committed_tip(NodeId from, const CommittedTip& t) {
  if (t.network == network_ && contact_.is_replica(from) && t.height >= next_height())
    request_catch_up();
}

void ChainFollower::request_catch_up() {
  const TimeUs now = env_.now_us();
  if (last_catch_up_us_ >= 0 && now - last_catch_up_us_ < topology_.params().retry_timeout_us)
    return;
  // Asked before at this height and nothing came: that replica may be a
  // faulty one (the leader) withholding blocks; the next one is asked
  // (group sweep, seed 4972).
  if (last_catch_up_us_ >= 0 && catch_up_height_ == next_height())
    contact_.suspect(now, topology_.params().retry_timeout_us);
  last_catch_up_us_ = now;
  catch_up_height_ = next_height();
  env_.send(contact_.leader(), make_message(CatchUpRequest{network_, next_height()}));
}

void ChainFollower::ack(NodeId to, const SignedHeader& sh) {
  if (sh.header.network == network_) deferred_.erase(sh.header.height);
  env_.send(to,
            make_message(DeliveryAck{sh.header.network, sh.header.height, header_hash(sh.header)}));
}

}  // namespace mhr
