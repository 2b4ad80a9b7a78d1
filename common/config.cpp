#include "common/config.hpp"

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <set>
#include <utility>

namespace mhr {

namespace {

std::string format_error(const std::string& file, int line, int column, const std::string& key,
                         const std::string& message) {
  std::string out = file.empty() ? std::string("<config>") : file;
  if (line > 0) {
    out += ":" + std::to_string(line);
    if (column > 0) out += ":" + std::to_string(column);
  }
  out += ": ";
  if (!key.empty()) out += "key '" + key + "': ";
  out += message;
  return out;
}

int mark_line(const YAML::Mark& m) {
  return m.is_null() ? 0 : m.line + 1;
}
int mark_column(const YAML::Mark& m) {
  return m.is_null() ? 0 : m.column + 1;
}

std::string child_path(const std::string& parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  std::string out = parent;
  out += '.';
  out += key;
  return out;
}

std::string join(std::initializer_list<std::string_view> words) {
  std::string out;
  for (auto w : words) {
    if (!out.empty()) out += ", ";
    out += w;
  }
  return out;
}

// What a node is, for "expected X, got Y" messages.
std::string describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Scalar:
      return "'" + n.Scalar() + "'";
    case YAML::NodeType::Sequence:
      return "a sequence";
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Null:
      return "nothing (null)";
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

// The scalar text of n, or a ConfigError saying what was expected instead.
std::string scalar_or_fail(const ConfigNode& n, const std::string& expected) {
  if (!n.yaml().IsScalar()) n.fail("expected " + expected + ", got " + describe(n.yaml()));
  return n.yaml().Scalar();
}

std::string_view trim(std::string_view s) {
  const char* ws = " \t\r\n";
  auto b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// Parses a whole decimal integer literal (optional sign); nullopt otherwise.
std::optional<std::int64_t> parse_int(std::string_view s) {
  s = trim(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty() || s.front() == '+') return std::nullopt;
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

// Parses a whole finite floating-point literal; nullopt otherwise.
std::optional<double> parse_double(std::string_view s) {
  s = trim(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return std::nullopt;
  // from_chars also accepts "inf" and "nan": demand a digit or a point first.
  std::size_t first = s.front() == '-' ? 1 : 0;
  if (first >= s.size() || !(std::isdigit(static_cast<unsigned char>(s[first])) || s[first] == '.'))
    return std::nullopt;
  double v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::string format_double(double v) {
  char buf[64];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, v);
  if (ec != std::errc()) return std::to_string(v);
  return std::string(buf, ptr);
}

// Splits "1.5 MiB" into the unsigned number ("1.5") and the unit ("MiB").
// The number is digits with at most one point; nullopt when it is missing.
std::optional<std::pair<std::string_view, std::string_view>> split_number_unit(std::string_view s) {
  s = trim(s);
  std::size_t i = 0;
  bool digits = false, point = false;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c >= '0' && c <= '9') {
      digits = true;
    } else if (c == '.' && !point) {
      point = true;
    } else {
      break;
    }
  }
  if (!digits) return std::nullopt;
  return std::make_pair(s.substr(0, i), trim(s.substr(i)));
}

// A copy of a parsed value without source marks: an override did not come
// from the configuration file, so errors about it must not cite a line.
YAML::Node without_marks(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Scalar: {
      YAML::Node out(n.Scalar());
      out.SetTag(n.Tag());
      return out;
    }
    case YAML::NodeType::Sequence: {
      YAML::Node out(YAML::NodeType::Sequence);
      for (const auto& e : n) out.push_back(without_marks(e));
      return out;
    }
    case YAML::NodeType::Map: {
      YAML::Node out(YAML::NodeType::Map);
      for (auto it = n.begin(); it != n.end(); ++it)
        out.force_insert(without_marks(it->first), without_marks(it->second));
      return out;
    }
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return YAML::Node(YAML::NodeType::Null);
}

[[noreturn]] void override_error(const std::string& key, const std::string& message) {
  throw ConfigError("--set", 0, 0, key, message);
}

std::optional<std::size_t> parse_index(std::string_view s) {
  if (s.empty()) return std::nullopt;
  for (char c : s)
    if (c < '0' || c > '9') return std::nullopt;
  std::size_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

ConfigError::ConfigError(std::string file_, int line_, int column_, std::string key_,
                         std::string message)
    : std::runtime_error(format_error(file_, line_, column_, key_, message)),
      file(std::move(file_)),
      line(line_),
      column(column_),
      key(std::move(key_)) {}

// ---------------------------------------------------------------- loading

ConfigNode ConfigNode::load_file(const std::string& path) {
  errno = 0;
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) {
    int err = errno;
    throw ConfigError(
        path, 0, 0, "",
        std::string("cannot open file: ") + (err ? std::strerror(err) : "unknown error"));
  }
  std::string text;
  char buf[65536];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  bool failed = std::ferror(f) != 0;
  int err = errno;
  std::fclose(f);
  if (failed)
    throw ConfigError(
        path, 0, 0, "",
        std::string("cannot read file: ") + (err ? std::strerror(err) : "unknown error"));
  return load_string(text, path);
}

ConfigNode ConfigNode::load_string(const std::string& text, const std::string& name) {
  try {
    return ConfigNode(YAML::Load(text), name, "");
  } catch (const YAML::ParserException& e) {
    throw ConfigError(name, mark_line(e.mark), mark_column(e.mark), "",
                      "YAML syntax error: " + e.msg);
  } catch (const YAML::Exception& e) {
    throw ConfigError(name, mark_line(e.mark), mark_column(e.mark), "",
                      "cannot parse YAML: " + e.msg);
  }
}

ConfigNode::ConfigNode(YAML::Node node, std::string file, std::string path)
    : node_(std::move(node)), file_(std::move(file)), path_(std::move(path)) {}

// ---------------------------------------------------------------- maps

std::optional<ConfigNode> ConfigNode::optional(std::string_view key) const {
  // An empty section ("workload:" with nothing under it) reads as an empty map.
  if (!node_.IsDefined() || node_.IsNull()) return std::nullopt;
  if (!node_.IsMap()) fail("expected a map, got " + describe(node_));
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    if (it->first.IsScalar() && it->first.Scalar() == key)
      return ConfigNode(it->second, file_, child_path(path_, key));
  }
  return std::nullopt;
}

ConfigNode ConfigNode::required(std::string_view key) const {
  if (auto child = optional(key)) return *child;
  throw ConfigError(file_, line(), column(), child_path(path_, key), "missing required key");
}

bool ConfigNode::has(std::string_view key) const {
  return optional(key).has_value();
}

void ConfigNode::allow_only(std::initializer_list<std::string_view> allowed) const {
  if (!node_.IsDefined() || node_.IsNull()) return;
  if (!node_.IsMap()) fail("expected a map, got " + describe(node_));
  std::set<std::string, std::less<>> seen;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    const YAML::Mark m = it->first.Mark();
    if (!it->first.IsScalar())
      throw ConfigError(file_, mark_line(m), mark_column(m), path_,
                        "expected a plain key, got " + describe(it->first));
    const std::string& k = it->first.Scalar();
    bool ok = false;
    for (auto a : allowed)
      if (a == k) ok = true;
    if (!ok)
      throw ConfigError(file_, mark_line(m), mark_column(m), child_path(path_, k),
                        "unknown key (expected one of: " + join(allowed) + ")");
    if (!seen.insert(k).second)
      throw ConfigError(file_, mark_line(m), mark_column(m), child_path(path_, k), "duplicate key");
  }
}

std::vector<std::string> ConfigNode::keys() const {
  std::vector<std::string> out;
  if (!node_.IsDefined() || node_.IsNull()) return out;
  if (!node_.IsMap()) fail("expected a map, got " + describe(node_));
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    if (!it->first.IsScalar()) {
      const YAML::Mark m = it->first.Mark();
      throw ConfigError(file_, mark_line(m), mark_column(m), path_,
                        "expected a plain key, got " + describe(it->first));
    }
    out.push_back(it->first.Scalar());
  }
  return out;
}

// ---------------------------------------------------------------- sequences

bool ConfigNode::is_sequence() const {
  return node_.IsSequence();
}
bool ConfigNode::is_map() const {
  return node_.IsMap();
}

std::size_t ConfigNode::size() const {
  if (!node_.IsDefined() || node_.IsNull()) return 0;
  if (!node_.IsSequence() && !node_.IsMap()) fail("expected a sequence, got " + describe(node_));
  return node_.size();
}

ConfigNode ConfigNode::at(std::size_t index) const {
  if (!node_.IsSequence()) fail("expected a sequence, got " + describe(node_));
  if (index >= node_.size())
    fail("index " + std::to_string(index) + " out of range (the sequence has " +
         std::to_string(node_.size()) + " elements)");
  return ConfigNode(node_[index], file_, child_path(path_, std::to_string(index)));
}

// ---------------------------------------------------------------- scalars

std::string ConfigNode::as_string() const {
  return scalar_or_fail(*this, "a string");
}

bool ConfigNode::as_bool() const {
  const std::string expected = "true or false";
  const std::string s = scalar_or_fail(*this, expected);
  bool v = false;
  if (!YAML::convert<bool>::decode(node_, v)) fail("expected " + expected + ", got '" + s + "'");
  return v;
}

std::int64_t ConfigNode::as_int(std::int64_t min, std::int64_t max) const {
  const std::string expected =
      "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
  const std::string s = scalar_or_fail(*this, expected);
  auto v = parse_int(s);
  if (!v || *v < min || *v > max) fail("expected " + expected + ", got '" + s + "'");
  return *v;
}

double ConfigNode::as_double(double min, double max) const {
  const std::string expected =
      "a number in [" + format_double(min) + ", " + format_double(max) + "]";
  const std::string s = scalar_or_fail(*this, expected);
  auto v = parse_double(s);
  if (!v || *v < min || *v > max) fail("expected " + expected + ", got '" + s + "'");
  return *v;
}

std::string ConfigNode::as_enum(std::initializer_list<std::string_view> allowed) const {
  const std::string expected = "one of: " + join(allowed);
  const std::string s = scalar_or_fail(*this, expected);
  for (auto a : allowed)
    if (a == s) return s;
  fail("expected " + expected + "; got '" + s + "'");
}

std::int64_t ConfigNode::as_duration_us() const {
  const std::string expected = "a non-negative duration like 250ms, 2s, 1.5m, 100us or 1h";
  const std::string s = scalar_or_fail(*this, expected);
  auto bad = [&]() { fail("expected " + expected + ", got '" + s + "'"); };
  auto parts = split_number_unit(s);
  if (!parts) bad();
  auto [number, unit] = *parts;
  double factor = 0;
  if (unit.empty() || unit == "s" || unit == "sec")
    factor = 1e6;
  else if (unit == "us" || unit == "\xC2\xB5s")
    factor = 1;
  else if (unit == "ms")
    factor = 1e3;
  else if (unit == "m" || unit == "min")
    factor = 60e6;
  else if (unit == "h")
    factor = 3600e6;
  else
    bad();
  auto v = parse_double(number);
  if (!v) bad();
  const double us = std::round(*v * factor);
  // 2^63 is exactly representable; anything at or above it overflows.
  if (!(us < 9223372036854775808.0)) fail("duration '" + s + "' is too large");
  return static_cast<std::int64_t>(us);
}

std::uint64_t ConfigNode::as_size_bytes() const {
  const std::string expected = "a size like 512, 64KB, 4 MiB or 1GiB";
  const std::string s = scalar_or_fail(*this, expected);
  auto bad = [&]() { fail("expected " + expected + ", got '" + s + "'"); };
  auto parts = split_number_unit(s);
  if (!parts) bad();
  auto [number, unit_raw] = *parts;
  const std::string unit = lower(unit_raw);
  std::uint64_t mult = 0;
  if (unit.empty() || unit == "b")
    mult = 1;
  else if (unit == "kb")
    mult = 1000ull;
  else if (unit == "kib")
    mult = 1ull << 10;
  else if (unit == "mb")
    mult = 1000ull * 1000;
  else if (unit == "mib")
    mult = 1ull << 20;
  else if (unit == "gb")
    mult = 1000ull * 1000 * 1000;
  else if (unit == "gib")
    mult = 1ull << 30;
  else if (unit == "tb")
    mult = 1000ull * 1000 * 1000 * 1000;
  else if (unit == "tib")
    mult = 1ull << 40;
  else
    bad();
  const auto too_large = [&]() { fail("size '" + s + "' is too large"); };
  if (number.find('.') == std::string_view::npos) {
    std::uint64_t n = 0;
    auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), n);
    if (ec == std::errc::result_out_of_range) too_large();
    if (ec != std::errc() || ptr != number.data() + number.size()) bad();
    if (n > std::numeric_limits<std::uint64_t>::max() / mult) too_large();
    return n * mult;
  }
  if (mult == 1) fail("expected a whole number of bytes, got '" + s + "'");
  auto v = parse_double(number);
  if (!v) bad();
  const double bytes = std::round(*v * static_cast<double>(mult));
  if (!(bytes < 18446744073709551616.0)) too_large();
  return static_cast<std::uint64_t>(bytes);
}

// ---------------------------------------------------------------- helpers

std::string ConfigNode::get_string(std::string_view key, std::string dflt) const {
  auto child = optional(key);
  return child ? child->as_string() : dflt;
}

bool ConfigNode::get_bool(std::string_view key, bool dflt) const {
  auto child = optional(key);
  return child ? child->as_bool() : dflt;
}

std::int64_t ConfigNode::get_int(std::string_view key, std::int64_t dflt, std::int64_t min,
                                 std::int64_t max) const {
  auto child = optional(key);
  return child ? child->as_int(min, max) : dflt;
}

double ConfigNode::get_double(std::string_view key, double dflt, double min, double max) const {
  auto child = optional(key);
  return child ? child->as_double(min, max) : dflt;
}

void ConfigNode::fail(const std::string& message) const {
  throw ConfigError(file_, line(), column(), path_, message);
}

int ConfigNode::line() const {
  return mark_line(node_.Mark());
}
int ConfigNode::column() const {
  return mark_column(node_.Mark());
}

// ---------------------------------------------------------------- overrides

void apply_override(YAML::Node& root, std::string_view assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string_view::npos)
    override_error("", "malformed override '" + std::string(assignment) +
                           "': expected KEY=VALUE, e.g. workload.users=100");
  const std::string key(trim(assignment.substr(0, eq)));
  const std::string text(assignment.substr(eq + 1));
  if (key.empty())
    override_error(
        "", "malformed override '" + std::string(assignment) + "': the key before '=' is empty");

  std::vector<std::string> parts;
  for (std::size_t start = 0;;) {
    auto dot = key.find('.', start);
    parts.push_back(key.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  for (const auto& p : parts)
    if (p.empty()) override_error(key, "malformed override: empty component in the key");

  YAML::Node value;
  try {
    value = text.find_first_not_of(" \t") == std::string::npos ? YAML::Node(std::string())
                                                               : without_marks(YAML::Load(text));
  } catch (const YAML::Exception& e) {
    override_error(key, "cannot parse value '" + text + "' as YAML: " + e.msg);
  }

  // yaml-cpp nodes are references: assigning one Node to another rewrites the
  // target node in the tree, so `cur` is moved along with reset() only.
  if (!root.IsDefined() || root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  YAML::Node cur;
  cur.reset(root);
  std::string walked;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const std::string& comp = parts[i];
    const bool last = i + 1 == parts.size();
    const std::string here = child_path(walked, comp);
    YAML::Node next;
    if (cur.IsSequence()) {
      auto idx = parse_index(comp);
      if (!idx)
        override_error(key, "'" + (walked.empty() ? std::string("(root)") : walked) +
                                "' is a sequence; '" + comp + "' is not an index");
      if (*idx >= cur.size())
        override_error(key, "index " + comp + " out of range ('" + walked + "' has " +
                                std::to_string(cur.size()) + " elements)");
      if (last) {
        cur[*idx] = value;
        return;
      }
      next.reset(cur[*idx]);
    } else if (cur.IsMap()) {
      if (last) {
        cur[comp] = value;
        return;
      }
      next.reset(cur[comp]);
    } else {
      override_error(key, "'" + walked + "' is a value, not a map or sequence");
    }
    // Descending into a missing or empty entry creates a map there.
    if (!next.IsDefined() || next.IsNull()) next = YAML::Node(YAML::NodeType::Map);
    cur.reset(next);
    walked = here;
  }
}

}  // namespace mhr
