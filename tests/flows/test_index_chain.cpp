// The index chain (docs/CONSENSUS.md, "The index chain"): the index nodes
// order memberships and edge header anchors by PBFT; registrations commit
// and records cross networks with an index node down, with the index leader
// crashing under load, and no index node's chain forks.
#include <doctest/doctest.h>

#include "common/index_tx.hpp"
#include "flow_harness.hpp"
#include "index_node/index_node.hpp"

using namespace mhr;
using mhr::test::FlowRun;

namespace {

// Four networks of three hospitals: four index nodes, f = 1.
const char* kFour = R"(
duration: 16s
topology: {networks: 4, record_nodes: 3}
workload:
  users: 40
  multi_network_fraction: 0.4
  record_rate: 40
  start: 2.5s
  stop: 12s
  pinned:
    - {user: 0, nodes: [net0.r0], at: 0.1s}
    - {user: 1, nodes: [net0.r1, net3.r2], at: 0.1s}
    - {user: 2, nodes: [net2.r0], at: 0.1s}
  migrations:
    explicit:
      - {at: 5s, user: 0, to: net1.r1}
      - {at: 6s, user: 2, to: net3.r0}
)";

IndexNode* index_node(FlowRun& run, const std::string& name) {
  auto* node = dynamic_cast<IndexNode*>(run.sim->world().logic_of(run.node(name)));
  REQUIRE(node);
  return node;
}

// Every index node not skipped holds the same index chain, each header
// certified by a quorum of index nodes; returns its height.
std::uint64_t check_index_chains_agree(FlowRun& run, const std::vector<std::string>& skip = {}) {
  std::optional<std::uint64_t> height;
  std::vector<Bytes> headers;
  for (NodeId n : run.sim->topology().index_nodes()) {
    const std::string name = run.scenario.layout.name_of(n);
    if (std::find(skip.begin(), skip.end(), name) != skip.end()) continue;
    INFO(name);
    const Store& store = run.sim->world().store_of(n);
    const std::uint64_t h = index_node(run, name)->index_chain().height();
    if (!height) {
      height = h;
      for (std::uint64_t i = 0; i < h; ++i) {
        auto sh = store.get(Table::kIndexChain, index_header_key(i));
        REQUIRE(sh);
        auto decoded = decode<SignedHeader>(*sh);
        REQUIRE(decoded.ok());
        CHECK(decoded->signatures.size() >= bft_quorum(run.sim->topology().index_nodes().size()));
        headers.push_back(encode(decoded->header));
      }
    }
    CHECK(h == *height);
    for (std::uint64_t i = 0; i < std::min(h, *height); ++i) {
      auto sh = store.get(Table::kIndexChain, index_header_key(i));
      REQUIRE(sh);
      CHECK(encode(decode<SignedHeader>(*sh)->header) == headers[i]);
    }
  }
  return height.value_or(0);
}

void check_flows(FlowRun& run) {
  CHECK(run.summary.records_committed == run.summary.records_submitted);
  // User 1 is in net0 and net3: its records are on both holders.
  auto u1 = run.records_of("net0.r1", 1);
  CHECK_FALSE(u1.empty());
  CHECK(run.records_of("net3.r2", 1) == u1);
  // Migrations across networks carried the whole history.
  CHECK_FALSE(run.records_of("net0.r0", 0).empty());
  CHECK(run.records_of("net1.r1", 0) == run.records_of("net0.r0", 0));
  CHECK_FALSE(run.records_of("net2.r0", 2).empty());
  CHECK(run.records_of("net3.r0", 2) == run.records_of("net2.r0", 2));
}

}  // namespace

TEST_CASE("index chain: four networks order memberships and anchors; every table agrees") {
  const std::uint64_t seed = 31;
  FlowRun run(kFour, seed);
  INFO("seed " << seed << "\n" << run.violations());
  CHECK(run.summary.violations == 0);
  check_flows(run);
  CHECK(check_index_chains_agree(run) > 0);
  for (const char* i : {"net0.i", "net1.i", "net2.i", "net3.i"}) {
    INFO(i);
    IndexNode* node = index_node(run, i);
    CHECK(node->table().contains(run.user(1), NetworkId{0}));
    CHECK(node->table().contains(run.user(1), NetworkId{3}));
    CHECK(node->table().contains(run.user(0), NetworkId{1}));  // migrated in
    CHECK_FALSE(node->busy());
    // Every header net2's index node saw is anchored, on every index node.
    ChainStore chain(run.sim->world().store_of(run.node("net2.i")));
    auto last = chain.last_header(NetworkId{2});
    REQUIRE(last);
    auto anchor = run.sim->world()
                      .store_of(run.node(i))
                      .get(Table::kIndexChain, index_anchor_key(NetworkId{2}, last->header.height));
    REQUIRE(anchor);
    CHECK(Hash::from_view(*anchor) == header_hash(last->header));
  }
  CHECK(run.summary.messages.by_type.count("membership_update") == 0);
  CHECK(run.summary.messages.by_type.at("index_submit") > 0);
}

TEST_CASE("index chain: one index node crashed from the start (f = 1 of 4) stops nothing") {
  for (const char* down : {"net3.i", "net0.i"}) {  // a follower, then the first leader
    const std::uint64_t seed = 32;
    // net3's users cross networks through net3.i: only users elsewhere here.
    FlowRun run(std::string(kFour) + "faults:\n  crashes:\n    - {node: " + down +
                    ", at: 0s, restart: 13s}\n",
                seed);
    INFO("down " << down << ", seed " << seed << "\n" << run.violations());
    CHECK(run.summary.violations == 0);
    CHECK(run.summary.records_committed == run.summary.records_submitted);
    check_index_chains_agree(run);  // the restarted one caught up
  }
}

TEST_CASE("index chain: the index leader crashes under load; a view change loses nothing") {
  const std::uint64_t seed = 33;
  FlowRun run(std::string(kFour) + R"(
faults:
  crashes:
    - {node: net0.i, at: 4s, restart: 10s}
)",
              seed);
  INFO("seed " << seed << "\n" << run.violations());
  CHECK(run.summary.violations == 0);
  check_flows(run);
  check_index_chains_agree(run);
  CHECK(run.summary.messages.by_type.at("view_change") > 0);
  CHECK(index_node(run, "net1.i")->index_chain().view() > 0);
}

TEST_CASE("index chain: index_order direct keeps the announcements") {
  const std::uint64_t seed = 34;
  FlowRun direct(std::string(kFour).replace(std::string(kFour).find("record_nodes: 3}"), 16,
                                            "record_nodes: 3, index_order: direct}"),
                 seed);
  INFO("seed " << seed << "\n" << direct.violations());
  CHECK(direct.summary.violations == 0);
  check_flows(direct);
  CHECK(direct.summary.messages.by_type.at("membership_update") > 0);
  CHECK(direct.summary.messages.by_type.count("index_submit") == 0);
  CHECK(index_node(direct, "net0.i")->index_chain().height() == 0);
}

TEST_CASE("index chain: one Byzantine index node (f = 1 of 4) causes no fork and loses nothing") {
  for (const char* behaviour : {"equivocate", "withhold_votes", "bad_signatures"}) {
    for (const char* node : {"net0.i", "net2.i"}) {  // the first leader, a follower
      const std::uint64_t seed = 35;
      FlowRun run(std::string(kFour) + "faults:\n  byzantine:\n    - {node: " + node +
                      ", behaviour: " + behaviour + "}\n",
                  seed);
      INFO(node << " " << behaviour << ", seed " << seed << "\n" << run.violations());
      CHECK(run.summary.violations == 0);
      check_flows(run);
      check_index_chains_agree(run, {node});
    }
  }
}

TEST_CASE("index chain: an index node claiming patients it cannot prove is refused") {
  // net2.i follows (net0.i leads view 0): each of its submissions carries,
  // besides its true memberships, two forged ones per membership.
  const std::uint64_t seed = 35;
  FlowRun honest(kFour, seed);
  FlowRun run(std::string(kFour) +
                  "faults:\n  byzantine:\n    - {node: net2.i, behaviour: forged_membership}\n",
              seed);
  INFO("seed " << seed << "\n" << run.violations());
  // The checker finds a violation for any membership on the index chain
  // whose registration no edge block committed.
  CHECK(run.summary.violations == 0);
  check_flows(run);
  check_index_chains_agree(run, {"net2.i"});
  // Each replica refused the forgeries (twice per true membership of net2).
  CHECK(run.summary.counters["verify_failures"] >=
        honest.summary.counters["verify_failures"] + 3 * 2);
  // And net2's own memberships, which it proves, are on the chain.
  CHECK(run.records_of("net3.r0", 2) == run.records_of("net2.r0", 2));
}

TEST_CASE("index chain: an index node restarting while its registrations await the chain") {
  // User 0 registers at net1.r1 at 5 s: net1.i crashes around the moment it
  // applies that block and submits the membership, and restarts.
  for (const char* at : {"5.01s", "5.03s", "5.06s"}) {
    const std::uint64_t seed = 36;
    FlowRun run(std::string(kFour) + "faults:\n  crashes:\n    - {node: net1.i, at: " + at +
                    ", restart: 7s}\n",
                seed);
    INFO("crash at " << at << ", seed " << seed << "\n" << run.violations());
    CHECK(run.summary.violations == 0);
    check_flows(run);
    check_index_chains_agree(run);
    CHECK(index_node(run, "net1.i")->table().contains(run.user(0), NetworkId{1}));
  }
}
