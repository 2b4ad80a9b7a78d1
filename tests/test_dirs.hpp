// Where the real-process tests deploy: a directory under the temporary
// one, removed when the test is done unless MHR_KEEP_TEST_DIRS is set (a
// failed run's node logs and stores, for a post-mortem).
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

namespace mhr::test {

inline void remove_test_dir(const std::string& path) {
  if (std::getenv("MHR_KEEP_TEST_DIRS") != nullptr) return;
  std::error_code ignored;
  std::filesystem::remove_all(path, ignored);
}

}  // namespace mhr::test
