// Checkers run after every simulation (and later on real nodes' stores):
// they read what each node durably holds and report every violation of the
// system's promises, naming the record and the node:
//  * privacy: a record is only on record nodes where its user is registered;
//  * durability: a committed record is on every such node;
//  * integrity: every user's chain is continuous on every holder, and every
//    stored record is one the network committed;
//  * agreement: no two replicas of a network committed different headers at
//    one height, and every member of a network holds the same headers;
//  * index chain: no two index nodes committed different index headers at
//    one height, and every committed registration's network is a
//    membership of its user on the index chain.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "common/store.hpp"
#include "common/topology.hpp"

namespace mhr {

struct CheckInput {
  const Topology& topology;
  // The store of each node, by node id.
  std::function<const Store&(NodeId)> store_of;
  std::function<std::string(NodeId)> name_of;
  // Byzantine replicas: what they store promises nothing.
  std::set<NodeId> faulty;
  // Networks' headers and record nodes are checked on this many threads
  // (the stores must allow reads from several threads at once; the result
  // is the same for any number).
  std::size_t threads = 1;
};

struct CheckResult {
  std::uint64_t violations = 0;
  std::vector<std::string> messages;  // the first few, readable
  std::uint64_t records_committed = 0;
  std::uint64_t record_copies = 0;  // records stored over all record nodes
};

CheckResult check_stores(const CheckInput& in, std::size_t max_messages = 100);

}  // namespace mhr
