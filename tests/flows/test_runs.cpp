// Whole runs: determinism, the three modes compared, and scenarios that
// were not written with the project (other shapes, many networks, chains
// of migrations).
#include <doctest/doctest.h>

#include "flow_harness.hpp"
#include "tools/sim/checkers.hpp"

using namespace mhr;
using mhr::test::FlowRun;

namespace {

std::string scenario_path(const char* name) {
  return std::string(MHR_SOURCE_DIR) + "/scenarios/" + name;
}

std::string summary_of(const Scenario& s, std::uint64_t seed) {
  SimOptions o;
  o.seed = seed;
  return summary_json(run_scenario(s, o)).dump();
}

}  // namespace

TEST_CASE("runs: one seed gives one exact run; another seed another") {
  Scenario demo = load_scenario(scenario_path("demo.yaml"));
  std::string a = summary_of(demo, 7);
  std::string b = summary_of(demo, 7);
  std::string c = summary_of(demo, 8);
  CHECK(a == b);
  CHECK(a != c);
  CHECK(a.find("\"violations\":0") != std::string::npos);
}

TEST_CASE("runs: full replication stores more, broadcast presence sends more") {
  Scenario modes = load_scenario(scenario_path("modes.yaml"));
  SimOptions o;
  o.seed = modes.seed;
  auto runs = run_scenario(modes, o);
  REQUIRE(runs.size() == 3);
  const RunSummary* by_mode[3] = {};
  for (const auto& r : runs) {
    INFO(r.mode << " violations: " << r.violations);
    CHECK(r.violations == 0);
    CHECK(r.records_committed == r.records_submitted);
    by_mode[r.mode == "broadcast" ? 0 : r.mode == "table" ? 1 : 2] = &r;
  }
  REQUIRE((by_mode[0] && by_mode[1] && by_mode[2]));
  CHECK(by_mode[2]->storage_bytes.mean > 2 * by_mode[0]->storage_bytes.mean);
  CHECK(by_mode[2]->storage_bytes.mean > 2 * by_mode[1]->storage_bytes.mean);
  CHECK(by_mode[0]->messages.total > by_mode[1]->messages.total);
  CHECK(by_mode[0]->records_committed == by_mode[1]->records_committed);
}

TEST_CASE("runs: uneven networks, users in many networks, migration chains A->B->C->A") {
  const char* yaml = R"(
duration: 16s
topology: {networks: 5, record_nodes_per_network: [1, 4, 2, 6, 3]}
network:
  intra: {loss: 0.02}
  inter: {latency: {dist: uniform, min: 5ms, max: 80ms}, loss: 0.02}
workload:
  users: 60
  multi_network_fraction: 0.8
  nodes_per_network: 1
  record_rate: 50
  start: 2.5s
  stop: 14s
  pinned:
    - {user: 0, nodes: [net0.r0, net1.r3, net3.r5, net4.r2], at: 0.1s}
    - {user: 1, nodes: [net1.r0], at: 0.1s}
  migrations:
    count: 10
    window: {from: 3s, to: 11s}
    explicit:
      - {at: 4s, user: 1, to: net2.r1}
      - {at: 7s, user: 1, to: net3.r0}
      - {at: 10s, user: 1, to: net1.r2}
)";
  for (ScenarioMode mode : {ScenarioMode::kBroadcast, ScenarioMode::kTable, ScenarioMode::kFull}) {
    FlowRun run(yaml, 21, mode);
    INFO("mode " << scenario_mode_name(mode) << ", seed 21\n" << run.violations());
    CHECK(run.summary.violations == 0);
    CHECK(run.summary.records_committed == run.summary.records_submitted);
    if (mode == ScenarioMode::kFull) continue;
    auto first = run.records_of("net0.r0", 0);
    CHECK(!first.empty());
    for (const char* n : {"net1.r3", "net3.r5", "net4.r2"}) CHECK(run.records_of(n, 0) == first);
    auto chain_end = run.records_of("net1.r2", 1);
    CHECK(chain_end == run.records_of("net1.r0", 1));
    CHECK(chain_end == run.records_of("net3.r0", 1));
  }
}

// Seeds of the fault sweep that once failed (docs/RELIABILITY.md): 107 and
// 264 lost records at a node registering while a partition or crash held
// back its confirmation; the others left a foreign delivery unacknowledged
// when a forwarded and a replayed copy gave a member the same records.
TEST_CASE("runs: fault sweep seeds that once failed replay clean") {
  const Scenario sweep = load_scenario(scenario_path("sweep.yaml"));
  for (std::uint64_t seed :
       {29u, 107u, 118u, 205u, 232u, 264u, 377u, 474u, 704u, 793u, 850u, 854u}) {
    SimOptions o;
    o.seed = seed;
    for (const RunSummary& r : run_scenario(sweep, o)) {
      std::string violations;
      for (const auto& v : r.violation_list) violations += v + "\n";
      INFO("seed " << seed << " " << r.mode << "\n" << violations);
      CHECK(r.violations == 0);
    }
  }
}

TEST_CASE("checkers: a member's header unlike its network's is found, another certificate is not") {
  const std::uint64_t seed = 41;
  FlowRun run(R"(
duration: 6s
topology: {networks: 2, record_nodes: 3}
workload: {users: 10, record_rate: 20, start: 1s, stop: 4s}
)",
              seed);
  INFO("seed " << seed << "\n" << run.violations());
  REQUIRE(run.summary.violations == 0);
  const NetworkId net{0};
  Store& store = run.sim->world().store_of(run.node("net0.r1"));
  auto original = ChainStore(store).header(net, 1);
  REQUIRE(original);
  const auto check = [&] {
    CheckInput in{run.sim->topology(),
                  [&](NodeId n) -> const Store& { return run.sim->world().store_of(n); },
                  [&](NodeId n) { return run.scenario.layout.name_of(n); },
                  {}};
    return check_stores(in);
  };
  const auto rewrite = [&](const SignedHeader& sh) {
    WriteBatch b;
    ChainStore(store).put_header(b, sh);
    store.write(b);
  };

  // Other bytes, the same header: a certificate with one more signature.
  SignedHeader more = *original;
  more.signatures.push_back({NodeId{999}, Signature{}});
  rewrite(more);
  CHECK(check().violations == 0);

  // Another header at that height.
  SignedHeader other = *original;
  other.header.time_us += 1;
  rewrite(other);
  const CheckResult found = check();
  CHECK(found.violations == 1);
  REQUIRE(found.messages.size() == 1);
  CHECK(found.messages[0].find("net0.r1 disagrees on header 1") != std::string::npos);
}

TEST_CASE(
    "checkers: a record where its user is not registered and one missing from a holder are "
    "found, the same on any number of threads") {
  const std::uint64_t seed = 43;
  FlowRun run(R"(
duration: 6s
topology: {networks: 2, record_nodes: 3}
workload: {users: 10, multi_network_fraction: 0, record_rate: 20, start: 1s, stop: 4s}
)",
              seed);
  INFO("seed " << seed << "\n" << run.violations());
  REQUIRE(run.summary.violations == 0);
  const auto check = [&](std::size_t threads) {
    CheckInput in{run.sim->topology(),
                  [&](NodeId n) -> const Store& { return run.sim->world().store_of(n); },
                  [&](NodeId n) { return run.scenario.layout.name_of(n); },
                  {},
                  threads};
    return check_stores(in);
  };
  const CheckResult clean = check(3);
  CHECK(clean.violations == 0);
  CHECK(clean.record_copies == check(1).record_copies);
  REQUIRE(clean.record_copies > 20);

  // Every record of net0.r0 copied to net1.r0 and net1.r2, where none of its
  // users is registered (each user is in one network; the two are checked
  // by different threads); every record of net0.r1 gone.
  Store& r0 = run.sim->world().store_of(run.node("net0.r0"));
  Store& r1 = run.sim->world().store_of(run.node("net0.r1"));
  WriteBatch copy, erase;
  for (Table t : {Table::kRecords, Table::kRecordIndex}) {
    r0.scan(t, {}, {}, [&](ByteView k, ByteView v) {
      copy.put(t, k, v);
      return true;
    });
    r1.scan(t, {}, {}, [&](ByteView k, ByteView) {
      erase.del(t, k);
      return true;
    });
  }
  REQUIRE(!copy.empty());
  REQUIRE(!erase.empty());
  run.sim->world().store_of(run.node("net1.r0")).write(copy);
  run.sim->world().store_of(run.node("net1.r2")).write(copy);
  r1.write(erase);

  const CheckResult one = check(1);
  const CheckResult many = check(4);
  CHECK(one.violations > 10);
  CHECK(one.violations == many.violations);
  CHECK(one.messages == many.messages);
  CHECK(one.record_copies == many.record_copies);
  const auto found = [&](const std::string& what) {
    for (const std::string& m : one.messages)
      if (m.find(what) != std::string::npos) return true;
    return false;
  };
  CHECK(found("privacy: record "));
  CHECK(found(" on net1.r0 where the user is not registered"));
  CHECK(found(" on net1.r2 where the user is not registered"));
  CHECK(found("durability: record "));
  CHECK(found(" missing from net0.r1"));
}

// Every member receives every block of its network. One that has nothing to
// retry must not be woken by each (it once was: a fifth of scale-100k's
// events were such wake-ups, each scanning the node's pending work).
TEST_CASE("runs: a member with nothing pending is not woken by the blocks it receives") {
  constexpr std::uint64_t kSeed = 11;
  FlowRun run(R"(
duration: 30s
topology: {networks: 1, record_nodes: 10}
protocol: {block_timeout: 200ms}
workload:
  users: 1
  record_rate: 5
  start: 2s
  stop: 28s
  pinned:
    - {user: 0, nodes: [net0.r0], at: 0.1s}
)",
              kSeed);
  INFO("seed " << kSeed << "\n" << run.violations());
  REQUIRE(run.summary.violations == 0);
  REQUIRE(run.summary.records_committed == run.summary.records_submitted);
  const std::int64_t blocks = run.summary.counters.at("blocks_committed");
  REQUIRE(blocks > 50);
  // Nine members hold nothing: a wake-up per block each would be 9 x blocks.
  // What remains is the holder's retry deadlines and the consensus node's
  // rounds and block timer.
  const std::uint64_t timers = run.sim->world().stats().timers_fired;
  INFO("timers fired " << timers << ", blocks " << blocks);
  CHECK(timers < static_cast<std::uint64_t>(blocks) * 5);
}
