// GroupContact: which replica of its edge network's consensus group a
// member (record or index node) sends requests to. The leader of the view of
// the latest certificate it verified; after a request times out, the next
// replica, which forwards to the leader it knows (docs/CONSENSUS.md). With a
// single consensus node, always that node.
#pragma once

#include <algorithm>
#include <vector>

#include "common/block.hpp"
#include "common/topology.hpp"

namespace mhr {

class GroupContact {
 public:
  GroupContact(const Topology& topology, NetworkId network)
      : replicas_(topology.network(network).consensus_nodes) {}

  NodeId leader() const { return replicas_[(view_ + skip_) % replicas_.size()]; }
  // Any replica, chosen by a request's random id: requests any replica can
  // answer spread over the group, so a retry reaches another one.
  NodeId replica_for(std::uint64_t request_id) const {
    return replicas_[request_id % replicas_.size()];
  }
  bool is_replica(NodeId node) const {
    return std::find(replicas_.begin(), replicas_.end(), node) != replicas_.end();
  }
  // The canonical name of the group: what stored messages to it are keyed by.
  NodeId group() const { return replicas_.front(); }

  // A verified header of the network: a later view, or a new block in the
  // same view, shows whose turn it is and that it is alive.
  void saw(const SignedHeader& sh) {
    const std::uint64_t h = sh.header.height;
    if (sh.view > view_ || (sh.view == view_ && h > height_)) {
      view_ = sh.view;
      skip_ = 0;
    }
    height_ = std::max(height_, h);
  }
  // A request to the group went unanswered: the next replica is asked from
  // now on, but not more often than once per `gap_us`.
  void suspect(TimeUs now_us, TimeUs gap_us) {
    if (replicas_.size() == 1 || (suspected_ && now_us - last_suspect_us_ < gap_us)) return;
    suspected_ = true;
    last_suspect_us_ = now_us;
    ++skip_;
  }

 private:
  std::vector<NodeId> replicas_;
  std::uint64_t view_ = 0;
  std::uint64_t height_ = 0;
  std::uint64_t skip_ = 0;
  bool suspected_ = false;
  TimeUs last_suspect_us_ = 0;
};

}  // namespace mhr
