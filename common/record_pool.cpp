#include "common/record_pool.hpp"

namespace mhr {

std::pmr::memory_resource* record_state_pool() {
  // Never destroyed: a role freed during static destruction still finds it.
  static auto* pool = new std::pmr::synchronized_pool_resource();
  return pool;
}

}  // namespace mhr
