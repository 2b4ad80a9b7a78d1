// The checks of mhr verify beyond records, headers and block bodies: every
// other table of a store, entry by entry, and the derived indexes
// recomputed from what they derive from (the record index from the records
// or the block bodies, a consensus node's chain tips from its blocks).
#pragma once

#include <optional>
#include <string>

#include "common/store.hpp"
#include "common/topology.hpp"

namespace mhr {

// The first problem in the tables other than records, headers and blocks,
// or in how the derived indexes match what they derive from.
std::optional<std::string> check_other_tables(const Store& store, const Topology* topology);

}  // namespace mhr
