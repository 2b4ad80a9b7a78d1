// The five flows of the multilayer design, end to end in the simulator,
// asserting where every record ends up.
#include <doctest/doctest.h>

#include "common/verification.hpp"
#include "consensus_node/chain_page.hpp"
#include "consensus_node/consensus_node.hpp"
#include "consensus_node/stored_state.hpp"
#include "edge_node/record_node.hpp"
#include "flow_harness.hpp"
#include "index_node/index_node.hpp"

using namespace mhr;
using mhr::test::FlowRun;

namespace {
const std::uint64_t kSeed = 11;
}  // namespace

TEST_CASE(
    "flow 1: a registration is ordered, fills the sharing table and reaches every index node") {
  FlowRun run(R"(
duration: 4s
topology: {networks: 2, record_nodes: 2}
workload:
  users: 3
  record_rate: 1
  start: 3s
  stop: 3.5s
  pinned:
    - {user: 0, nodes: [net0.r1], at: 0.1s}
    - {user: 1, nodes: [net0.r0, net1.r1], at: 0.2s}
    - {user: 2, nodes: [net1.r0], at: 0.3s}
)",
              kSeed);
  INFO("seed " << kSeed << "\n" << run.violations());
  CHECK(run.summary.violations == 0);
  auto* c0 = dynamic_cast<ConsensusNode*>(run.sim->world().logic_of(run.node("net0.c0")));
  auto* c1 = dynamic_cast<ConsensusNode*>(run.sim->world().logic_of(run.node("net1.c0")));
  REQUIRE(c0);
  REQUIRE(c1);
  CHECK(c0->table().holders(run.user(0)) == std::vector<NodeId>{run.node("net0.r1")});
  CHECK(c0->table().holders(run.user(1)) == std::vector<NodeId>{run.node("net0.r0")});
  CHECK(c1->table().holders(run.user(1)) == std::vector<NodeId>{run.node("net1.r1")});
  CHECK(c0->table().holders(run.user(2)).empty());
  for (const char* index : {"net0.i", "net1.i"}) {
    auto* x = dynamic_cast<IndexNode*>(run.sim->world().logic_of(run.node(index)));
    REQUIRE(x);
    const auto networks = [&](const UserId& u) {
      const auto n = x->table().networks(u);
      return std::vector<NetworkId>(n.begin(), n.end());
    };
    CHECK(networks(run.user(0)) == std::vector<NetworkId>{NetworkId{0}});
    auto nets = networks(run.user(1));
    std::sort(nets.begin(), nets.end());
    CHECK(nets == std::vector<NetworkId>{NetworkId{0}, NetworkId{1}});
    CHECK(networks(run.user(2)) == std::vector<NetworkId>{NetworkId{1}});
  }
  auto* r = dynamic_cast<RecordNode*>(run.sim->world().logic_of(run.node("net0.r1")));
  REQUIRE(r);
  CHECK(r->is_registered(run.user(0)));
  CHECK_FALSE(r->is_registered(run.user(1)));
}

TEST_CASE("flow 2: within a network each record reaches exactly the holders of its user") {
  for (ScenarioMode mode : {ScenarioMode::kBroadcast, ScenarioMode::kTable}) {
    FlowRun run(R"(
duration: 6s
topology: {networks: 1, record_nodes: 3}
workload:
  users: 2
  record_rate: 40
  start: 2.5s
  stop: 5s
  pinned:
    - {user: 0, nodes: [net0.r0], at: 0.1s}
    - {user: 1, nodes: [net0.r1, net0.r2], at: 0.1s}
)",
                kSeed, mode);
    INFO("mode " << scenario_mode_name(mode) << ", seed " << kSeed << "\n" << run.violations());
    CHECK(run.summary.violations == 0);
    CHECK(run.summary.records_submitted > 50);
    CHECK(run.summary.records_committed == run.summary.records_submitted);

    auto u0 = run.records_of("net0.r0", 0);
    auto u1_r1 = run.records_of("net0.r1", 1);
    auto u1_r2 = run.records_of("net0.r2", 1);
    CHECK(u0.size() + u1_r1.size() == run.summary.records_committed);
    CHECK(u1_r1 == u1_r2);                        // every holder of user 1
    CHECK(run.records_of("net0.r0", 1).empty());  // never where not registered
    CHECK(run.records_of("net0.r1", 0).empty());
    CHECK(run.records_of("net0.r2", 0).empty());
    CHECK(run.record_count("net0.r0") == u0.size());
    CHECK(run.record_count("net0.r1") == u1_r1.size());
  }
}

TEST_CASE("flow 3: across networks records reach the user's holders in every network, no other") {
  FlowRun run(R"(
duration: 7s
topology: {networks: 3, record_nodes: 2}
workload:
  users: 2
  record_rate: 30
  start: 2.5s
  stop: 6s
  pinned:
    - {user: 0, nodes: [net0.r0, net1.r1], at: 0.1s}
    - {user: 1, nodes: [net2.r0], at: 0.1s}
)",
              kSeed);
  INFO("seed " << kSeed << "\n" << run.violations());
  CHECK(run.summary.violations == 0);
  CHECK(run.summary.records_committed == run.summary.records_submitted);
  auto a = run.records_of("net0.r0", 0);
  auto b = run.records_of("net1.r1", 0);
  CHECK(a == b);
  CHECK(!a.empty());
  // Both networks wrote for the user: both chains are on both holders.
  std::set<NetworkId> chains;
  run.chain("net1.r1").for_each_record(
      run.user(0), [&](const Hash&, const Record& r) { chains.insert(r.network); });
  CHECK(chains == std::set<NetworkId>{NetworkId{0}, NetworkId{1}});
  for (const char* other : {"net0.r1", "net1.r0", "net2.r0", "net2.r1"})
    CHECK(run.records_of(other, 0).empty());
  CHECK(run.summary.counters.at("records_forwarded") > 0);
  CHECK(run.summary.messages.inter_network > 0);
}

TEST_CASE("flow 4: migration within a network moves the whole verified history") {
  FlowRun run(R"(
duration: 10s
topology: {networks: 1, record_nodes: 3}
workload:
  users: 1
  record_rate: 20
  start: 1.5s
  stop: 9s
  pinned:
    - {user: 0, nodes: [net0.r0], at: 0.1s}
  migrations:
    explicit:
      - {at: 4s, user: 0, to: net0.r2}
)",
              kSeed);
  INFO("seed " << kSeed << "\n" << run.violations());
  CHECK(run.summary.violations == 0);
  auto before = run.records_of("net0.r0", 0);
  auto after = run.records_of("net0.r2", 0);
  CHECK(before == after);
  CHECK(after.size() == run.summary.records_committed);
  std::size_t older = 0;
  run.chain("net0.r2").for_each_record(run.user(0), [&](const Hash&, const Record& r) {
    if (r.created_at_us < 4 * kUsPerSecond) ++older;
  });
  CHECK(older > 10);  // history written before the migration arrived
  CHECK(run.summary.records_moved >= older);
  CHECK(run.records_of("net0.r1", 0).empty());
}

TEST_CASE("flow 4: a history longer than a page moves whole; its consensus node pages it, proven") {
  FlowRun run(R"(
duration: 14s
topology: {networks: 1, record_nodes: 3}
workload:
  users: 1
  record_rate: 400
  start: 1.5s
  stop: 5s
  payload_bytes: {min: 64, max: 128}
  pinned:
    - {user: 0, nodes: [net0.r0], at: 0.1s}
  migrations:
    explicit:
      - {at: 7s, user: 0, to: net0.r2}
)",
              kSeed);
  INFO("seed " << kSeed << "\n" << run.violations());
  CHECK(run.summary.violations == 0);
  REQUIRE(run.summary.records_committed > kMaxHistoryRecords);  // more than one page
  auto before = run.records_of("net0.r0", 0);
  auto after = run.records_of("net0.r2", 0);
  CHECK(after.size() == run.summary.records_committed);
  CHECK(before == after);
  CHECK(run.summary.records_moved >= run.summary.records_committed);

  // The consensus node's own answer, page by page, each record proven.
  const NodeId c = run.node("net0.c0");
  const Store& store = run.sim->world().store_of(c);
  const Verifier& verifier = run.sim->world().env_of(c).verifier();
  const auto tip = stored::committed_tip(store, run.user(0));
  REQUIRE(tip);
  std::uint64_t next = 0;
  std::size_t pages = 0;
  for (bool last = false; !last; ++pages) {
    const HistoryBatch page =
        own_chain_page(ChainStore(store), NetworkId{0}, run.user(0), next, tip);
    REQUIRE_FALSE(page.items.empty());
    CHECK(page.items.size() <= kMaxHistoryRecords);
    for (const HistoryItem& item : page.items) {
      REQUIRE(item.record.sequence == next);  // in chain order, none missing
      REQUIRE(item.header_index < page.headers.size());
      CHECK_FALSE(record_entry_error(item.record, record_hash(item.record), item.proof,
                                     page.headers[item.header_index].header, run.sim->topology(),
                                     verifier));
      ++next;
    }
    last = page.last;
  }
  CHECK(pages == 2);
  CHECK(next == tip->sequence + 1);
}

TEST_CASE("flow 5: migration across networks brings the history and later records") {
  FlowRun run(R"(
duration: 11s
topology: {networks: 2, record_nodes: 2}
workload:
  users: 1
  record_rate: 20
  start: 1.5s
  stop: 10s
  pinned:
    - {user: 0, nodes: [net0.r0], at: 0.1s}
  migrations:
    explicit:
      - {at: 4s, user: 0, to: net1.r1}
)",
              kSeed);
  INFO("seed " << kSeed << "\n" << run.violations());
  CHECK(run.summary.violations == 0);
  auto home = run.records_of("net0.r0", 0);
  auto away = run.records_of("net1.r1", 0);
  CHECK(home == away);
  CHECK(away.size() == run.summary.records_committed);
  std::size_t migrated = 0, forwarded_later = 0;
  run.chain("net1.r1").for_each_record(run.user(0), [&](const Hash&, const Record& r) {
    if (r.network != NetworkId{0}) return;
    if (r.created_at_us < 4 * kUsPerSecond) ++migrated;
    if (r.created_at_us > 7 * kUsPerSecond) ++forwarded_later;
  });
  CHECK(migrated > 10);
  CHECK(forwarded_later > 0);
  CHECK(run.records_of("net1.r0", 0).empty());
  CHECK(run.records_of("net0.r1", 0).empty());
}
