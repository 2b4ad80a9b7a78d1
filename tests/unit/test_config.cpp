#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "common/config.hpp"

using mhr::ConfigError;
using mhr::ConfigNode;

namespace {

// Runs f, which must throw ConfigError, and returns the error.
template <typename F>
ConfigError expect_error(F&& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e;
  }
  FAIL("expected a ConfigError");
  return ConfigError("", 0, 0, "", "");
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

ConfigNode load(const std::string& text) {
  return ConfigNode::load_string(text, "test.yaml");
}

ConfigNode scalar(const std::string& value) {
  return load("v: " + value).required("v");
}

}  // namespace

TEST_CASE("config: misspelled key names the key and its line") {
  const std::string text =
      "name: demo\n"    // 1
      "workload:\n"     // 2
      "  users: 10\n"   // 3
      "  rate: 5\n"     // 4
      "  recrods: 3\n"  // 5
      "seed: 1\n";      // 6
  auto root = ConfigNode::load_string(text, "scenarios/demo.yaml");
  root.allow_only({"name", "workload", "seed"});
  auto w = root.required("workload");
  auto e = expect_error([&] { w.allow_only({"users", "rate", "records"}); });
  CHECK(e.file == "scenarios/demo.yaml");
  CHECK(e.line == 5);
  CHECK(e.column == 3);
  CHECK(e.key == "workload.recrods");
  const std::string what = e.what();
  CHECK(what ==
        "scenarios/demo.yaml:5:3: key 'workload.recrods': unknown key (expected one of: users, "
        "rate, records)");

  // A typo at the top level has no leading dot in its path.
  auto e2 = expect_error([&] { root.allow_only({"name", "workload"}); });
  CHECK(e2.key == "seed");
  CHECK(e2.line == 6);
  CHECK(e2.column == 1);

  // allow_only on something that is not a map.
  auto e3 = expect_error([&] { root.required("name").allow_only({"x"}); });
  CHECK(contains(e3.what(), "expected a map"));
  CHECK(e3.key == "name");
  CHECK(e3.line == 1);

  // Duplicate keys are caught too.
  auto e4 = expect_error([&] { load("a: 1\nb: 2\na: 3\n").allow_only({"a", "b"}); });
  CHECK(e4.key == "a");
  CHECK(e4.line == 3);
  CHECK(contains(e4.what(), "duplicate"));
}

TEST_CASE("config: missing required key") {
  auto root = load("workload:\n  rate: 5\n");
  auto w = root.required("workload");
  auto e = expect_error([&] { (void)w.required("users"); });
  CHECK(e.key == "workload.users");
  CHECK(e.line == 2);
  CHECK(contains(e.what(), "missing required key"));
  CHECK(contains(e.what(), "test.yaml:2:3: key 'workload.users'"));

  auto e2 = expect_error([&] { (void)root.required("network"); });
  CHECK(e2.key == "network");
  CHECK(contains(e2.what(), "missing required key"));

  // Stepping into a scalar as if it were a map.
  auto e3 = expect_error([&] { (void)w.required("rate").required("x"); });
  CHECK(e3.key == "workload.rate");
  CHECK(contains(e3.what(), "expected a map"));

  CHECK(root.has("workload"));
  CHECK_FALSE(root.has("nope"));
  CHECK_FALSE(root.optional("nope").has_value());
  CHECK(w.optional("rate")->as_int(0, 10) == 5);

  // An empty section reads as an empty map.
  auto empty = load("workload:\n").required("workload");
  CHECK_FALSE(empty.has("users"));
  CHECK(empty.keys().empty());
  empty.allow_only({"users"});
  CHECK(empty.get_int("users", 7, 0, 10) == 7);
}

TEST_CASE("config: integers with types and ranges") {
  CHECK(scalar("42").as_int(1, 100) == 42);
  CHECK(scalar("-5").as_int(-10, 10) == -5);
  CHECK(scalar("+5").as_int(-10, 10) == 5);
  CHECK(scalar("'7'").as_int(0, 10) == 7);
  CHECK(scalar("9223372036854775807").as_int(0, std::numeric_limits<std::int64_t>::max()) ==
        std::numeric_limits<std::int64_t>::max());

  auto e = expect_error([] { scalar("abc").as_int(1, 1000000); });
  CHECK(contains(e.what(), "expected an integer in [1, 1000000], got 'abc'"));
  CHECK(e.key == "v");
  CHECK(e.line == 1);
  CHECK(e.column == 4);

  for (const char* bad : {"1.5", "1e3", "12abc", "0x10", "", "99999999999999999999", "- 1"}) {
    CAPTURE(bad);
    auto err = expect_error([&] { scalar(std::string("'") + bad + "'").as_int(-1000, 1000); });
    CHECK(contains(err.what(), "expected an integer in [-1000, 1000]"));
  }
  auto range = expect_error([] { scalar("0").as_int(1, 10); });
  CHECK(contains(range.what(), "expected an integer in [1, 10], got '0'"));
  auto range2 = expect_error([] { scalar("11").as_int(1, 10); });
  CHECK(contains(range2.what(), "got '11'"));

  auto seq = expect_error([] { scalar("[1, 2]").as_int(1, 10); });
  CHECK(contains(seq.what(), "expected an integer in [1, 10], got a sequence"));

  // get_int: default when absent, checked when present.
  auto root = load("a: 3\nb: 300\n");
  CHECK(root.get_int("a", 1, 0, 10) == 3);
  CHECK(root.get_int("zz", 9, 0, 10) == 9);
  auto ge = expect_error([&] { root.get_int("b", 1, 0, 10); });
  CHECK(ge.key == "b");
  CHECK(ge.line == 2);
}

TEST_CASE("config: doubles, bools, strings and enums") {
  CHECK(scalar("0.25").as_double(0, 1) == doctest::Approx(0.25));
  CHECK(scalar("1e-3").as_double(0, 1) == doctest::Approx(0.001));
  CHECK(scalar("3").as_double(0, 10) == doctest::Approx(3.0));
  CHECK(scalar("-.5").as_double(-1, 1) == doctest::Approx(-0.5));
  auto d = expect_error([] { scalar("fast").as_double(0, 1); });
  CHECK(contains(d.what(), "expected a number in [0, 1], got 'fast'"));
  auto d2 = expect_error([] { scalar("1.5").as_double(0, 1); });
  CHECK(contains(d2.what(), "expected a number in [0, 1], got '1.5'"));
  for (const char* bad : {"nan", "inf", "1.0x", ".inf"}) {
    CAPTURE(bad);
    expect_error([&] { scalar(bad).as_double(-1e9, 1e9); });
  }

  CHECK(scalar("true").as_bool());
  CHECK(scalar("yes").as_bool());
  CHECK_FALSE(scalar("false").as_bool());
  CHECK_FALSE(scalar("no").as_bool());
  auto b = expect_error([] { scalar("maybe").as_bool(); });
  CHECK(contains(b.what(), "expected true or false, got 'maybe'"));
  auto b2 = expect_error([] { scalar("1").as_bool(); });
  CHECK(contains(b2.what(), "expected true or false"));

  CHECK(scalar("hello").as_string() == "hello");
  CHECK(scalar("'42'").as_string() == "42");
  auto s = expect_error([] { scalar("{a: 1}").as_string(); });
  CHECK(contains(s.what(), "expected a string, got a map"));

  CHECK(scalar("lmdb").as_enum({"memory", "lmdb"}) == "lmdb");
  auto en = expect_error([] { scalar("disk").as_enum({"memory", "lmdb"}); });
  CHECK(contains(en.what(), "expected one of: memory, lmdb"));
  CHECK(contains(en.what(), "'disk'"));

  auto root = load("name: x\nflag: no\nratio: 0.5\n");
  CHECK(root.get_string("name", "d") == "x");
  CHECK(root.get_string("other", "d") == "d");
  CHECK_FALSE(root.get_bool("flag", true));
  CHECK(root.get_bool("missing", true));
  CHECK(root.get_double("ratio", 0, 0, 1) == doctest::Approx(0.5));
  CHECK(root.get_double("missing", 0.75, 0, 1) == doctest::Approx(0.75));
  auto gd = expect_error([&] { root.get_double("ratio", 0, 0.6, 1); });
  CHECK(gd.key == "ratio");
  CHECK(gd.line == 3);
}

TEST_CASE("config: durations") {
  CHECK(scalar("250ms").as_duration_us() == 250'000);
  CHECK(scalar("2s").as_duration_us() == 2'000'000);
  CHECK(scalar("1.5m").as_duration_us() == 90'000'000);
  CHECK(scalar("100us").as_duration_us() == 100);
  CHECK(scalar("1h").as_duration_us() == 3'600'000'000LL);
  CHECK(scalar("3").as_duration_us() == 3'000'000);
  CHECK(scalar("0.5").as_duration_us() == 500'000);
  CHECK(scalar("0").as_duration_us() == 0);
  CHECK(scalar("'10 ms'").as_duration_us() == 10'000);
  for (const char* bad : {"-5s", "abc", "5 parsecs", "ms", "1.2.3s", "5sm", "''", "[1]", "1e99h"}) {
    CAPTURE(bad);
    auto e = expect_error([&] { scalar(bad).as_duration_us(); });
    CHECK(e.key == "v");
  }
  auto e = expect_error([] { scalar("soon").as_duration_us(); });
  CHECK(contains(e.what(), "duration"));
  CHECK(contains(e.what(), "'soon'"));
}

TEST_CASE("config: sizes") {
  CHECK(scalar("512").as_size_bytes() == 512);
  CHECK(scalar("1KB").as_size_bytes() == 1000);
  CHECK(scalar("1kB").as_size_bytes() == 1000);
  CHECK(scalar("1KiB").as_size_bytes() == 1024);
  CHECK(scalar("1kib").as_size_bytes() == 1024);
  CHECK(scalar("4 MiB").as_size_bytes() == 4ull * 1024 * 1024);
  CHECK(scalar("2MB").as_size_bytes() == 2'000'000);
  CHECK(scalar("1GB").as_size_bytes() == 1'000'000'000);
  CHECK(scalar("1GiB").as_size_bytes() == 1ull << 30);
  CHECK(scalar("1.5KiB").as_size_bytes() == 1536);
  CHECK(scalar("100B").as_size_bytes() == 100);
  CHECK(scalar("0").as_size_bytes() == 0);
  for (const char* bad :
       {"-1", "abc", "1 KX", "KB", "1.5", "1.5B", "12 34", "99999999999999999999", "20000000TiB"}) {
    CAPTURE(bad);
    auto e = expect_error([&] { scalar(bad).as_size_bytes(); });
    CHECK(e.key == "v");
  }
  auto e = expect_error([] { scalar("lots").as_size_bytes(); });
  CHECK(contains(e.what(), "expected a size"));
  CHECK(contains(e.what(), "'lots'"));
}

TEST_CASE("config: nested sequence paths in errors") {
  const std::string text =
      "networks:\n"           // 1
      "  - name: a\n"         // 2
      "    records: 10\n"     // 3
      "  - name: b\n"         // 4
      "    records: lots\n";  // 5
  auto root = load(text);
  auto nets = root.required("networks");
  CHECK(nets.is_sequence());
  CHECK_FALSE(nets.is_map());
  REQUIRE(nets.size() == 2);
  CHECK(nets.at(0).path() == "networks.0");
  CHECK(nets.at(0).is_map());
  CHECK(nets.at(0).required("records").as_int(1, 100) == 10);
  auto e = expect_error([&] { nets.at(1).required("records").as_int(1, 100); });
  CHECK(e.key == "networks.1.records");
  CHECK(e.line == 5);
  CHECK(e.column == 14);
  CHECK(contains(e.what(), "test.yaml:5:14: key 'networks.1.records': expected an integer"));

  auto e2 = expect_error([&] { (void)nets.at(2); });
  CHECK(e2.key == "networks");
  CHECK(contains(e2.what(), "out of range"));
  auto e3 = expect_error([&] { (void)root.at(0); });
  CHECK(contains(e3.what(), "expected a sequence"));

  // fail() reports this node's own location and path.
  auto e4 = expect_error([&] { nets.at(1).required("name").fail("name already taken"); });
  CHECK(e4.key == "networks.1.name");
  CHECK(e4.line == 4);
  CHECK(e4.column == 11);
  CHECK(std::string(e4.what()) == "test.yaml:4:11: key 'networks.1.name': name already taken");
}

TEST_CASE("config: syntax error gives its line") {
  const std::string text =
      "a: 1\n"
      "b: [1, 2\n"
      "c: }\n";
  auto e = expect_error([&] { ConfigNode::load_string(text, "bad.yaml"); });
  CHECK(e.file == "bad.yaml");
  CHECK(e.line >= 2);
  CHECK(e.line <= 3);
  CHECK(e.column > 0);
  CHECK(contains(e.what(), "bad.yaml:" + std::to_string(e.line) + ":"));

  auto e2 = expect_error([] { ConfigNode::load_string("a: 1\n  b: 2\n", "indent.yaml"); });
  CHECK(e2.line == 2);
}

TEST_CASE("config: load_file of a nonexistent file") {
  const std::string path = "/nonexistent/dir/mhr_no_such_config.yaml";
  auto e = expect_error([&] { ConfigNode::load_file(path); });
  CHECK(e.file == path);
  CHECK(e.line == 0);
  CHECK(contains(e.what(), path));
  CHECK(contains(e.what(), "No such file or directory"));
}

TEST_CASE("config: apply_override on a nested map") {
  YAML::Node root = YAML::Load("workload:\n  users: 10\n  rate: 5\nseed: 1\n");
  mhr::apply_override(root, "workload.users=100");
  CHECK(root["workload"]["users"].as<int>() == 100);
  CHECK(root["workload"]["rate"].as<int>() == 5);
  CHECK(root["seed"].as<int>() == 1);

  // Key order is preserved and the node is readable through ConfigNode.
  ConfigNode cfg(root, "x.yaml", "");
  CHECK(cfg.required("workload").keys() == std::vector<std::string>{"users", "rate"});
  CHECK(cfg.required("workload").required("users").as_int(1, 1000) == 100);

  // Values are YAML: flow sequences and maps work, plain strings stay strings.
  mhr::apply_override(root, "workload.mix=[1, 2, 3]");
  REQUIRE(root["workload"]["mix"].IsSequence());
  CHECK(root["workload"]["mix"].size() == 3);
  CHECK(root["workload"]["mix"][2].as<int>() == 3);
  mhr::apply_override(root, "workload.shape={kind: zipf, s: 1.1}");
  CHECK(root["workload"]["shape"]["kind"].as<std::string>() == "zipf");
  mhr::apply_override(root, "name=hello world");
  CHECK(root["name"].as<std::string>() == "hello world");

  // An overridden value has no line in the file, so errors cite none.
  ConfigNode cfg2(root, "x.yaml", "");
  auto e = expect_error([&] { cfg2.required("name").as_int(0, 1); });
  CHECK(e.line == 0);
  CHECK(e.column == 0);
  CHECK(std::string(e.what()) ==
        "x.yaml: key 'name': expected an integer in [0, 1], got 'hello world'");
}

TEST_CASE("config: apply_override on a sequence index") {
  YAML::Node root = YAML::Load(
      "networks:\n"
      "  - name: a\n"
      "    records: 10\n"
      "  - name: b\n"
      "    records: 20\n");
  mhr::apply_override(root, "networks.1.records=4");
  CHECK(root["networks"][0]["records"].as<int>() == 10);
  CHECK(root["networks"][1]["records"].as<int>() == 4);
  CHECK(root["networks"][1]["name"].as<std::string>() == "b");

  mhr::apply_override(root, "networks.0=replaced");
  CHECK(root["networks"][0].as<std::string>() == "replaced");
  CHECK(root["networks"].size() == 2);

  auto e = expect_error([&] { mhr::apply_override(root, "networks.2.records=4"); });
  CHECK(e.file == "--set");
  CHECK(e.line == 0);
  CHECK(contains(e.what(), "out of range"));
  CHECK(root["networks"].IsSequence());
  CHECK(root["networks"].size() == 2);

  auto e2 = expect_error([&] { mhr::apply_override(root, "networks.first.records=4"); });
  CHECK(contains(e2.what(), "not an index"));
}

TEST_CASE("config: apply_override creates new keys") {
  YAML::Node root = YAML::Load("a:\n  b: 1\n");
  mhr::apply_override(root, "a.c.d.e=5");
  CHECK(root["a"]["b"].as<int>() == 1);
  CHECK(root["a"]["c"]["d"]["e"].as<int>() == 5);
  mhr::apply_override(root, "top=true");
  CHECK(root["top"].as<bool>());

  ConfigNode cfg(root, "x.yaml", "");
  CHECK(cfg.keys() == std::vector<std::string>{"a", "top"});
  CHECK(cfg.required("a").keys() == std::vector<std::string>{"b", "c"});

  // An empty document becomes a map.
  YAML::Node empty = YAML::Load("");
  mhr::apply_override(empty, "x.y=1");
  CHECK(empty["x"]["y"].as<int>() == 1);

  // An empty section ("s:" with nothing) becomes a map as well.
  YAML::Node sec = YAML::Load("s:\nt: 2\n");
  mhr::apply_override(sec, "s.k=v");
  CHECK(sec["s"]["k"].as<std::string>() == "v");
  CHECK(sec["t"].as<int>() == 2);
}

TEST_CASE("config: apply_override with a bad assignment") {
  YAML::Node root = YAML::Load("a:\n  b: 1\n");
  for (const char* bad : {"a.b", "=5", " =5", "a..b=1", ".a=1", "a.=1"}) {
    CAPTURE(bad);
    auto e = expect_error([&] { mhr::apply_override(root, bad); });
    CHECK(e.file == "--set");
    CHECK(e.line == 0);
    CHECK(contains(e.what(), "--set: "));
  }
  auto e = expect_error([&] { mhr::apply_override(root, "a.b.c=1"); });
  CHECK(contains(e.what(), "not a map"));
  auto e2 = expect_error([&] { mhr::apply_override(root, "a.b=[1, 2"); });
  CHECK(contains(e2.what(), "cannot parse value"));
  CHECK(e2.key == "a.b");
  // Nothing changed.
  CHECK(root["a"]["b"].as<int>() == 1);
}

TEST_CASE("config: keys() keeps file order") {
  auto root = load("zeta: 1\nalpha: 2\nmid: 3\nbeta: 4\n");
  CHECK(root.keys() == std::vector<std::string>{"zeta", "alpha", "mid", "beta"});
  CHECK(root.size() == 4);
  auto e = expect_error([&] { root.required("zeta").keys(); });
  CHECK(contains(e.what(), "expected a map"));
}
