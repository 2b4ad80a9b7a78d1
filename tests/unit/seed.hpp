// Seeds for randomized tests: MHR_TEST_SEED replays a failing run; the seed
// in use is attached to every assertion message through doctest's INFO.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string>

namespace mhr::test {

inline std::uint64_t test_seed(std::uint64_t fallback) {
  if (const char* s = std::getenv("MHR_TEST_SEED")) return std::strtoull(s, nullptr, 10);
  return fallback;
}

}  // namespace mhr::test
