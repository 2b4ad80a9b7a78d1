// The index chain in an index node's store (Table::kIndexChain): headers
// linked from height 0, each certified by a quorum of the index nodes
// (given the topology), bodies that match their headers, and exactly the
// transaction and anchor entries those bodies imply.
#pragma once

#include <optional>
#include <string>

#include "common/store.hpp"
#include "common/topology.hpp"

namespace mhr {

std::optional<std::string> check_index_chain(const Store& store, const Topology* topology);

}  // namespace mhr
