// Validated YAML configuration. A ConfigNode is a YAML node that knows where
// it came from, so every error names file, line, column, key and what was
// expected. Maps must declare their keys: an unknown key (a typo) is an error.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace mhr {

struct ConfigError : std::runtime_error {
  ConfigError(std::string file, int line, int column, std::string key, std::string message);
  std::string file;
  int line;         // 1-based; 0 when unknown
  int column;       // 1-based; 0 when unknown
  std::string key;  // dotted path, e.g. "workload.users"
};

class ConfigNode {
 public:
  // Throw ConfigError for unreadable files and YAML syntax errors too.
  static ConfigNode load_file(const std::string& path);
  static ConfigNode load_string(const std::string& text, const std::string& name);
  ConfigNode(YAML::Node node, std::string file, std::string path);

  // Map access. required() throws naming the missing key.
  ConfigNode required(std::string_view key) const;
  std::optional<ConfigNode> optional(std::string_view key) const;
  bool has(std::string_view key) const;
  // Throws on the first key of this map that is not listed, with its line.
  void allow_only(std::initializer_list<std::string_view> keys) const;
  std::vector<std::string> keys() const;  // in file order

  // Sequence access.
  bool is_sequence() const;
  bool is_map() const;
  std::size_t size() const;
  ConfigNode at(std::size_t index) const;

  // Scalars, with ranges checked. Errors say what was expected.
  std::string as_string() const;
  bool as_bool() const;
  std::int64_t as_int(std::int64_t min, std::int64_t max) const;
  double as_double(double min, double max) const;
  // One of the listed words; the error lists them.
  std::string as_enum(std::initializer_list<std::string_view> allowed) const;
  // Durations like "250ms", "2s", "1.5m", "100us"; plain numbers are seconds.
  std::int64_t as_duration_us() const;
  // Sizes like "1KB", "4 MiB", "512"; plain numbers are bytes.
  std::uint64_t as_size_bytes() const;

  // Convenience: optional key with a default.
  std::string get_string(std::string_view key, std::string dflt) const;
  bool get_bool(std::string_view key, bool dflt) const;
  std::int64_t get_int(std::string_view key, std::int64_t dflt, std::int64_t min,
                       std::int64_t max) const;
  double get_double(std::string_view key, double dflt, double min, double max) const;

  [[noreturn]] void fail(const std::string& message) const;
  const std::string& path() const { return path_; }
  const std::string& file() const { return file_; }
  int line() const;    // 1-based
  int column() const;  // 1-based
  const YAML::Node& yaml() const { return node_; }

 private:
  YAML::Node node_;
  std::string file_;
  std::string path_;
};

// Applies a command-line override "a.b.c=value" to a parsed tree before
// validation. Creates missing maps; indices into sequences are numbers
// ("networks.0.records=4"). The value is parsed as YAML (so "[1,2]" works).
// Throws ConfigError on a malformed override.
void apply_override(YAML::Node& root, std::string_view assignment);

}  // namespace mhr
