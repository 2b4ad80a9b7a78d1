// Invariant assertions that stay on in release builds: a broken invariant
// stops the process loudly instead of letting it write bad data.
#pragma once

namespace mhr {

[[noreturn]] void assert_fail(const char* expr, const char* file, int line, const char* msg);

}  // namespace mhr

#define MHR_ASSERT(cond)                                      \
  do {                                                        \
    if (!(cond)) [[unlikely]]                                 \
      ::mhr::assert_fail(#cond, __FILE__, __LINE__, nullptr); \
  } while (0)

#define MHR_ASSERT_MSG(cond, msg)                           \
  do {                                                      \
    if (!(cond)) [[unlikely]]                               \
      ::mhr::assert_fail(#cond, __FILE__, __LINE__, (msg)); \
  } while (0)
