// Outbox: messages that must arrive, kept in the store until the receiver
// answers with an Ack naming their hash, and sent again with back-off until
// then. Survives restarts: load() re-sends what was outstanding.
#pragma once

#include <map>

#include "common/env.hpp"
#include "common/group_contact.hpp"
#include "common/topology.hpp"

namespace mhr {

class Outbox {
 public:
  Outbox(Env& env, const ProtocolParams& params, std::uint8_t store_tag)
      : env_(env), params_(params), tag_(store_tag) {}

  // Messages to group->group() go to the replica it names at each attempt,
  // and an Ack from any replica of the group counts.
  void set_group(GroupContact* group) { group_ = group; }
  void load();
  // Stores and sends; returns the hash the receiver's Ack will name.
  Hash send(NodeId to, const Message& message);
  void on_ack(NodeId from, const Ack& ack);
  // Re-sends what is due; returns the next time something is due (or INT64_MAX).
  TimeUs on_tick();
  std::size_t size() const { return pending_.size(); }

 private:
  struct Pending {
    NodeId to;
    MessagePtr message;
    std::uint32_t attempts = 0;
    TimeUs next_at_us = 0;
  };
  void transmit(Pending& p);

  Env& env_;
  const ProtocolParams& params_;
  std::uint8_t tag_;
  GroupContact* group_ = nullptr;
  std::map<std::pair<NodeId, Hash>, Pending> pending_;  // (receiver, message hash)
};

}  // namespace mhr
