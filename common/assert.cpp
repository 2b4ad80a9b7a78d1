#include "common/assert.hpp"

#include <cstdio>
#include <cstdlib>

namespace mhr {

void assert_fail(const char* expr, const char* file, int line, const char* msg) {
  std::fprintf(stderr, "mhr: invariant broken at %s:%d: %s%s%s\n", file, line, expr,
               msg ? " — " : "", msg ? msg : "");
  std::fflush(stderr);
  std::abort();
}

}  // namespace mhr
