// Lost, duplicated and delayed messages, crashes and partitions: the system
// still commits everything and every checker passes.
#include <doctest/doctest.h>

#include "flow_harness.hpp"

using namespace mhr;
using mhr::test::FlowRun;

namespace {

const char* kBase = R"(
duration: 14s
topology: {networks: 3, record_nodes: 3}
workload:
  users: 40
  multi_network_fraction: 0.5
  record_rate: 40
  start: 2.5s
  stop: 10s
  migrations: {count: 6, window: {from: 3s, to: 8s}}
)";

}  // namespace

TEST_CASE("faults: 5% loss and 5% duplication everywhere still commit everything") {
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    FlowRun run(std::string(kBase) + R"(
network:
  intra: {loss: 0.05, duplicate: 0.05}
  inter: {loss: 0.05, duplicate: 0.05}
)",
                seed);
    INFO("seed " << seed << "\n" << run.violations());
    CHECK(run.summary.violations == 0);
    CHECK(run.summary.records_committed == run.summary.records_submitted);
    CHECK(run.summary.counters.at("retries") > 0);
  }
}

TEST_CASE("faults: consensus, index and record nodes crash and restart under load") {
  for (std::uint64_t seed : {4u, 5u}) {
    FlowRun run(std::string(kBase) + R"(
faults:
  crashes:
    - {node: net0.c0, at: 3s, restart: 4.5s}
    - {node: net1.i, at: 3.5s, restart: 5s}
    - {node: net2.r1, at: 4s, restart: 6s}
    - {node: net0.r0, at: 7s, restart: 7.2s}
)",
                seed);
    INFO("seed " << seed << "\n" << run.violations());
    CHECK(run.summary.violations == 0);
    // A client of a node that is down hears so at once; nothing else fails.
    CHECK(run.summary.records_committed + run.summary.records_failed ==
          run.summary.records_submitted);
    CHECK(run.summary.records_committed > run.summary.records_submitted * 8 / 10);
  }
}

TEST_CASE("faults: a partition between networks heals and every record reaches its holders") {
  for (std::uint64_t seed : {6u, 7u}) {
    FlowRun run(std::string(kBase) + R"(
network:
  partitions:
    - {start: 3s, end: 7s, groups: [[net0], [net1, net2]]}
)",
                seed);
    INFO("seed " << seed << "\n" << run.violations());
    CHECK(run.summary.violations == 0);
    CHECK(run.summary.records_committed == run.summary.records_submitted);
  }
}

TEST_CASE("faults: a record node partitioned from its consensus node catches up") {
  FlowRun run(std::string(kBase) + R"(
network:
  partitions:
    - {start: 3s, end: 6s, groups: [[net1.r2], [net1.c0, net1.i, net1.r0, net1.r1]]}
)",
              8);
  INFO("seed 8\n" << run.violations());
  CHECK(run.summary.violations == 0);
}

// The user's only holder is down when the user registers in another
// network: the chain comes from the consensus node that ordered it, pushed
// through the index nodes, not pulled from a holder (nothing is "migrated"
// by a history sync: it was there before the old holder came back).
TEST_CASE("faults: a new network gets a user's chain while its only holder is down") {
  FlowRun run(R"(
duration: 14s
topology: {networks: 2, record_nodes: 2}
workload:
  users: 1
  multi_network_fraction: 0
  record_rate: 20
  start: 1s
  stop: 3s
  pinned:
    - {user: 0, nodes: [net0.r0], at: 0.1s}
  migrations:
    explicit:
      - {at: 4s, user: 0, to: net1.r0}
faults:
  crashes:
    - {node: net0.r0, at: 3.5s, restart: 10s}
)",
              9);
  INFO("seed 9\n" << run.violations());
  CHECK(run.summary.violations == 0);
  const std::set<Hash> old_holder = run.records_of("net0.r0", 0);
  CHECK(old_holder.size() > 10);
  CHECK(run.records_of("net1.r0", 0) == old_holder);
  CHECK(run.summary.records_moved == 0);
}
