// ChainFollower: how a member of an edge network (record node, index node)
// takes its network's blocks — strictly in height order, acknowledging
// duplicates, refusing a second header at a known height, buffering blocks
// that arrive early and asking the consensus group for the missing ones. It
// also keeps track of which replica of the group leads (GroupContact).
#pragma once

#include <functional>
#include <map>
#include <set>

#include "common/chain_store.hpp"
#include "common/env.hpp"
#include "common/group_contact.hpp"
#include "common/topology.hpp"

namespace mhr {

inline constexpr std::size_t kMaxBufferedBlocks = 256;

class ChainFollower {
 public:
  // What a member did with a block.
  enum class Applied {
    kStored,          // stored: acknowledge now
    kStoredAckLater,  // stored, but the member acknowledges later itself
    kRefused,         // must not advance the chain: dropped
  };
  // Stores the block's effects and its header in one batch.
  using Apply = std::function<Applied(NodeId from, const BlockDelivery& d)>;

  ChainFollower(Env& env, const Topology& topology, NetworkId network);

  void load(const ChainStore& chain) { tip_ = chain.last_header(network_); }
  // A delivery of this network's block, header already verified.
  void on_delivery(NodeId from, const BlockDelivery& d, const ChainStore& chain,
                   const Apply& apply);
  void request_catch_up();
  // A delivery of this network whose header did not verify: a faulty
  // replica's copy of a block the member may still miss.
  void on_unverifiable_delivery(const BlockDelivery& d);
  // A replica says how far the network's chain goes: the member asks for
  // what it misses.
  void on_committed_tip(NodeId from, const CommittedTip& t);

  std::uint64_t next_height() const { return tip_ ? tip_->header.height + 1 : 0; }
  const std::optional<SignedHeader>& tip() const { return tip_; }
  // Acknowledges (also a block whose acknowledgement was deferred).
  void ack(NodeId to, const SignedHeader& sh);
  // A block stored before a restart whose acknowledgement the member still
  // owes: its retransmissions are not acknowledged here either.
  void defer(std::uint64_t height) { deferred_.insert(height); }
  // Whom to send requests for the consensus group to.
  GroupContact& contact() { return contact_; }
  const GroupContact& contact() const { return contact_; }

 private:
  void apply_in_order(NodeId from, const BlockDelivery& d, const Apply& apply);

  Env& env_;
  const Topology& topology_;
  NetworkId network_;
  GroupContact contact_;
  std::optional<SignedHeader> tip_;
  // With its sender; several per height, since a delivery may be refused
  // (a faulty leader's copy meant for another node) and the next one not.
  std::multimap<std::uint64_t, std::pair<NodeId, BlockDelivery>> buffered_;
  // Heights stored with kStoredAckLater: retransmissions of them are not
  // acknowledged here, the member acknowledges when it is ready.
  std::set<std::uint64_t> deferred_;
  TimeUs last_catch_up_us_ = -1;
  std::uint64_t catch_up_height_ = 0;  // the height the last catch-up asked from
};

}  // namespace mhr
