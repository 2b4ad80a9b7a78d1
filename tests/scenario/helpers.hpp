// Shared helpers of the scenario tests.
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/config.hpp"

namespace scenario_test {

inline std::string source_dir() {
  return MHR_SOURCE_DIR;
}
inline std::string scenario_path(const std::string& name) {
  return source_dir() + "/scenarios/" + name;
}

// A fresh directory under the system temp directory, removed on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "mhr-scenario-XXXXXX").string();
    char* made = mkdtemp(tmpl.data());
    REQUIRE(made != nullptr);
    path_ = made;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string write(const std::string& name, const std::string& text) const {
    const auto p = path_ / name;
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }

 private:
  std::filesystem::path path_;
};

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Runs f, which must throw ConfigError, and returns the error.
template <typename F>
mhr::ConfigError expect_config_error(F&& f) {
  try {
    f();
  } catch (const mhr::ConfigError& e) {
    return e;
  }
  FAIL("expected a ConfigError");
  return mhr::ConfigError("", 0, 0, "", "");
}

}  // namespace scenario_test
