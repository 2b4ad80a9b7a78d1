// The memory the roles' per-record state (records in flight, presence
// rounds, ordering queues) takes its nodes from: a pool that keeps what is
// freed for the next record, so a node in the steady state allocates
// nothing for them. One per process and thread-safe: the simulator runs a
// hundred thousand nodes in one process (a pool each would cost more than
// it saves), and a sweep runs worlds on several threads.
#pragma once

#include <memory_resource>

namespace mhr {

std::pmr::memory_resource* record_state_pool();

}  // namespace mhr
