#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <stdexcept>

#include "tests/scenario/helpers.hpp"
#include "tools/sim/scenario.hpp"

using namespace mhr;
using namespace scenario_test;

namespace {

// A valid scenario to which tests add or change one thing.
const std::string kBase =
    "name: base\n"         // 1
    "duration: 10s\n"      // 2
    "topology:\n"          // 3
    "  networks: 2\n"      // 4
    "  record_nodes: 3\n"  // 5
    "workload:\n"          // 6
    "  users: 10\n"        // 7
    "  record_rate: 5\n";  // 8

Scenario load_text(const std::string& text, const std::vector<std::string>& overrides = {}) {
  return load_scenario_string(text, "test.yaml", overrides);
}

}  // namespace

TEST_CASE("scenario: every file in scenarios/ loads") {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(source_dir() + "/scenarios"))
    if (e.path().extension() == ".yaml") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  CHECK(files.size() >= 5);
  std::set<std::string> names;
  for (const auto& f : files) {
    CAPTURE(f);
    Scenario s;
    CHECK_NOTHROW(s = load_scenario(f));
    CHECK(s.name == std::filesystem::path(f).stem().string());
    CHECK(names.insert(s.name).second);
    CHECK(s.workload.start_us < s.workload.stop_us);
    CHECK(s.workload.stop_us <= s.duration_us);
  }
}

TEST_CASE("scenario: the shipped scenarios say what they promise") {
  auto demo = load_scenario(scenario_path("demo.yaml"));
  CHECK(demo.network_count() == 3);
  CHECK(demo.record_nodes == std::vector<std::uint32_t>{4, 4, 4});
  CHECK(demo.node_count() == 18);
  CHECK(demo.protocol.crypto == CryptoMode::kReal);
  CHECK(demo.workload.migration_count == 12);

  auto modes = load_scenario(scenario_path("modes.yaml"));
  CHECK(modes.modes == std::vector<ScenarioMode>{ScenarioMode::kBroadcast, ScenarioMode::kTable,
                                                 ScenarioMode::kFull});

  auto scale = load_scenario(scenario_path("scale-100k.yaml"));
  CHECK(scale.node_count() == 100 * 1002);
  CHECK(scale.layout.record_node_count == 100'000);
  CHECK(scale.protocol.crypto == CryptoMode::kModeled);
  CHECK(scale.protocol.block_max_entries == 1000);
  const double records = scale.workload.record_rate *
                         static_cast<double>(scale.workload.stop_us - scale.workload.start_us) /
                         1e6;
  CHECK(records == doctest::Approx(1'000'000).epsilon(0.01));

  auto tiny = load_scenario(scenario_path("tiny.yaml"));
  CHECK(tiny.network_count() == 1);
  CHECK(tiny.layout.record_node_count == 3);
  CHECK(tiny.workload.users == 20);
  CHECK(tiny.duration_us == 5 * kUsPerSecond);

  auto chain = load_scenario(scenario_path("chain-migrations.yaml"));
  REQUIRE(chain.workload.explicit_migrations.size() == 2);
  CHECK(chain.layout.name_of(chain.workload.explicit_migrations[0].to) == "net1.r0");
  CHECK(chain.layout.name_of(chain.workload.explicit_migrations[1].to) == "net2.r1");
}

TEST_CASE("scenario: defaults") {
  auto s = load_text(kBase);
  CHECK(s.name == "base");
  CHECK(s.seed == 1);
  CHECK(s.modes == std::vector<ScenarioMode>{ScenarioMode::kBroadcast});
  CHECK(s.protocol.crypto == CryptoMode::kReal);
  CHECK(s.consensus_nodes == 1);
  CHECK(s.intra.latency.dist == Scenario::LatencyDist::kConstant);
  CHECK(s.intra.latency.value_us == 1000);
  CHECK(s.intra.bandwidth_bps == 1'000'000'000);
  CHECK(s.inter.latency.dist == Scenario::LatencyDist::kUniform);
  CHECK(s.inter.latency.min_us == 20'000);
  CHECK(s.inter.latency.max_us == 40'000);
  CHECK(s.inter.bandwidth_bps == 100'000'000);
  CHECK(s.intra.loss == 0);
  CHECK(s.cpu.enabled);
  CHECK(s.cpu.sign_us == 13);
  CHECK(s.cpu.verify_us == 30);
  CHECK(s.cpu.store_commit_us == 350);
  CHECK(s.cpu.per_message_us == 2);
  CHECK(s.cpu.per_byte_ns == 0.5);
  CHECK(s.cpu.store_per_byte_ns == 1.0);
  const auto& w = s.workload;
  CHECK(w.multi_network_fraction == 0.1);
  CHECK(w.nodes_per_network == 1);
  CHECK(w.registration_window_us == kUsPerSecond);
  CHECK(w.start_us == 2 * kUsPerSecond);
  CHECK(w.stop_us == 9 * kUsPerSecond);
  CHECK(w.payload_min == 512);
  CHECK(w.payload_max == 2048);
  CHECK(w.content_types.size() == 6);
  CHECK(w.content_types.front() == "Observation");
  CHECK(w.category_weights[0] == 0.8);
  CHECK(w.category_weights[3] == 0.0);
  CHECK(w.migration_count == 0);
  CHECK(w.migration_from_us == w.start_us);
  CHECK(w.migration_to_us == w.stop_us);
  CHECK(s.report_timeseries);
  CHECK(s.report_html);
  CHECK(s.protocol.block_max_entries == ProtocolParams{}.block_max_entries);

  // Without a name, the file stem names the scenario.
  TempDir dir;
  auto path = dir.write("my-run.yaml", kBase.substr(kBase.find('\n') + 1));
  CHECK(load_scenario(path).name == "my-run");
}

TEST_CASE("scenario: a misspelled key is refused with its line") {
  TempDir dir;
  const std::string path = dir.write("typo.yaml",
                                     "duration: 10s\n"
                                     "topology: {networks: 1, record_nodes: 2}\n"
                                     "workload: {user: 5, record_rate: 1}\n");
  auto e = expect_config_error([&] { load_scenario(path); });
  CHECK(e.key == "workload.user");
  CHECK(e.line == 3);
  CHECK(e.file == path);
  CHECK(contains(e.what(), path + ":3:"));
  CHECK(contains(e.what(), "unknown key"));

  // Nested maps too.
  auto e2 =
      expect_config_error([&] { load_text(kBase + "network:\n  inter:\n    latncy: 5ms\n"); });
  CHECK(e2.key == "network.inter.latncy");
  CHECK(e2.line == 11);
  auto e3 = expect_config_error([&] { load_text(kBase + "cpu: {sgn: 1us}\n"); });
  CHECK(e3.key == "cpu.sgn");
  auto e4 = expect_config_error([&] { load_text(kBase + "reprot: {html: false}\n"); });
  CHECK(e4.key == "reprot");
  CHECK(e4.line == 9);
  auto e5 = expect_config_error(
      [&] { load_text(kBase + "  migrations: {count: 1, windw: {from: 2s, to: 3s}}\n"); });
  CHECK(e5.key == "workload.migrations.windw");
}

TEST_CASE("scenario: --set overrides change values and are recorded") {
  const std::vector<std::string> sets = {"workload.users=50", "seed=9", "modes=[table, full]",
                                         "topology.record_nodes=5", "crypto=modeled"};
  auto s = load_scenario(scenario_path("tiny.yaml"), sets);
  CHECK(s.workload.users == 50);
  CHECK(s.seed == 9);
  CHECK(s.modes == std::vector<ScenarioMode>{ScenarioMode::kTable, ScenarioMode::kFull});
  CHECK(s.layout.record_node_count == 5);
  CHECK(s.protocol.crypto == CryptoMode::kModeled);
  CHECK(s.overrides == sets);

  // A misspelled override is refused like a misspelled key.
  auto e =
      expect_config_error([&] { load_scenario(scenario_path("tiny.yaml"), {"workload.userz=5"}); });
  CHECK(e.key == "workload.userz");
  // So is a bad value.
  auto e2 = expect_config_error(
      [&] { load_scenario(scenario_path("tiny.yaml"), {"workload.users=-1"}); });
  CHECK(e2.key == "workload.users");
  auto e3 = expect_config_error([&] { load_scenario(scenario_path("tiny.yaml"), {"nonsense"}); });
  CHECK(contains(e3.what(), "KEY=VALUE"));
}

TEST_CASE("scenario: bad values are refused") {
  auto refuses = [&](const std::string& text, const std::string& key, const std::string& what) {
    CAPTURE(text);
    auto e = expect_config_error([&] { load_text(text); });
    CHECK(e.key == key);
    CHECK(contains(e.what(), what));
    return e;
  };
  refuses(
      "duration: 10s\ntopology: {networks: 1, record_nodes: 2}\n"
      "workload: {users: 5, record_rate: -3}\n",
      "workload.record_rate", "expected a number");
  refuses(
      "duration: 10s\ntopology: {networks: 1, record_nodes: 2}\n"
      "workload: {users: 5, record_rate: 0}\n",
      "workload.record_rate", "greater than zero");
  refuses(kBase + "modes: [broadcast, gossip]\n", "modes.1", "one of: broadcast, table, full");
  refuses(kBase + "modes: [table, table]\n", "modes.1", "twice");
  refuses(kBase + "crypto: fake\n", "crypto", "real, modeled");
  auto both = refuses(
      "duration: 10s\n"
      "topology:\n"
      "  networks: 2\n"
      "  record_nodes: 2\n"
      "  record_nodes_per_network: [2, 3]\n"
      "workload: {users: 5, record_rate: 1}\n",
      "topology.record_nodes_per_network", "not both");
  CHECK(both.line == 5);
  refuses(
      "duration: 10s\ntopology: {networks: 3, record_nodes_per_network: [2, 3]}\n"
      "workload: {users: 5, record_rate: 1}\n",
      "topology.record_nodes_per_network", "2 entries but topology.networks is 3");
  auto crash = refuses(kBase +
                           "faults:\n"
                           "  crashes:\n"
                           "    - {node: net0.r9, at: 2s, restart: 3s}\n",
                       "faults.crashes.0.node", "unknown node 'net0.r9'");
  CHECK(crash.line == 11);
  refuses(kBase + "faults: {crashes: [{node: net0.r1, at: 3s, restart: 2s}]}\n",
          "faults.crashes.0.restart", "after at");
  refuses(
      "duration: 10s\ntopology: {networks: 1, record_nodes: 2, consensus_nodes: 3}\n"
      "workload: {users: 5, record_rate: 1}\n",
      "topology.consensus_nodes", "3f+1 replicas");
  refuses(kBase + "network: {inter: {bandwidth: 100}}\n", "network.inter.bandwidth",
          "needs a unit");
  refuses(kBase + "network: {inter: {bandwidth: 10 furlongs}}\n", "network.inter.bandwidth",
          "unknown bandwidth unit");
  refuses(kBase + "network: {intra: {loss: 1.5}}\n", "network.intra.loss", "[0, 1]");
  refuses(kBase + "network: {intra: {latency: {dist: uniform, min: 5ms, max: 2ms}}}\n",
          "network.intra.latency.max", "at least min");
  refuses(kBase + "network: {intra: {latency: {dist: uniform, value: 5ms}}}\n",
          "network.intra.latency.value", "does not apply");
  refuses(kBase + "network:\n  partitions:\n    - {start: 2s, end: 1s, groups: [[net0], [net1]]}\n",
          "network.partitions.0.end", "after start");
  auto part = refuses(
      kBase + "network:\n  partitions:\n    - {start: 1s, end: 2s, groups: [[net0], [net7]]}\n",
      "network.partitions.0.groups.1.0", "unknown network or node 'net7'");
  CHECK(part.line == 11);
  refuses(
      kBase + "network:\n  partitions:\n    - {start: 1s, end: 2s, groups: [[net0], [net0.r1]]}\n",
      "network.partitions.0.groups.1.0", "more than one group");
  refuses(kBase + "  stop: 11s\n", "workload.stop", "within the duration");
  refuses(kBase + "  start: 5s\n  stop: 4s\n", "workload.stop", "start < stop");
  refuses(kBase + "  nodes_per_network: 4\n", "workload.nodes_per_network", "only 3 record");
  refuses(kBase + "  multi_network_fraction: 1.2\n", "workload.multi_network_fraction", "[0, 1]");
  refuses(kBase + "  categories: {medical: 1, gossip: 2}\n", "workload.categories.gossip",
          "unknown key");
  refuses(kBase + "  categories: {medical: 0}\n", "workload.categories", "all be zero");
  refuses(kBase + "  payload_bytes: {min: 100, max: 10}\n", "workload.payload_bytes", "min <= max");
  refuses(kBase + "  migrations:\n    explicit:\n      - {at: 3s, user: 0, to: net5.r0}\n",
          "workload.migrations.explicit.0.to", "unknown node 'net5.r0'");
  refuses(kBase + "  migrations:\n    explicit:\n      - {at: 3s, user: 0, to: net1.c0}\n",
          "workload.migrations.explicit.0.to", "not a record node");
  refuses(kBase + "  migrations:\n    explicit:\n      - {at: 3s, user: 10, to: net1.r0}\n",
          "workload.migrations.explicit.0.user", "[0, 9]");
  refuses(kBase + "  migrations:\n    explicit:\n      - {at: 0.5s, user: 1, to: net1.r0}\n",
          "workload.migrations.explicit.0.at", "after the registration window");
  refuses(kBase + "protocol: {block_max_entries: 0}\n", "protocol.block_max_entries", "integer in");
  refuses(kBase + "protocol: {retry_timeout: 2s, retry_max_backoff: 1s}\n",
          "protocol.retry_max_backoff", "at least retry_timeout");
  refuses("topology: {networks: 1, record_nodes: 2}\nworkload: {users: 5, record_rate: 1}\n",
          "duration", "missing required key");
  refuses("duration: 10s\nworkload: {users: 5, record_rate: 1}\n", "topology",
          "missing required key");
}

TEST_CASE("scenario: network, protocol, cpu and fault values") {
  auto s = load_text(kBase +
                     "seed: 42\n"
                     "modes: full\n"
                     "network:\n"
                     "  intra: {latency: 250us, bandwidth: 10MB/s, duplicate: 0.01}\n"
                     "  inter:\n"
                     "    latency: {dist: lognormal, median: 30ms, sigma: 0.4}\n"
                     "    bandwidth: 1.5 GiB/s\n"
                     "    loss: 0.02\n"
                     "  partitions:\n"
                     "    - start: 2s\n"
                     "      end: 4s\n"
                     "      groups: [[net0], [net1.r0, net1.i]]\n"
                     "protocol:\n"
                     "  block_max_entries: 1000\n"
                     "  block_timeout: 50ms\n"
                     "  presence_timeout: 300ms\n"
                     "  retry_timeout: 1s\n"
                     "  retry_max_backoff: 8s\n"
                     "  max_attempts: 10\n"
                     "  migration_settle: 2s\n"
                     "  migration_rounds: 5\n"
                     "cpu: {enabled: false, sign: 20us, verify: 50us, store_commit: 1ms, "
                     "per_message: 3us, per_byte_ns: 0.25, store_per_byte_ns: 2}\n"
                     "faults:\n"
                     "  crashes:\n"
                     "    - {node: net1.c0, at: 3s, restart: 5s}\n"
                     "    - {node: net0.i, at: 4s}\n"
                     "report: {timeseries: false, html: false}\n");
  CHECK(s.seed == 42);
  CHECK(s.modes == std::vector<ScenarioMode>{ScenarioMode::kFull});
  CHECK(s.intra.latency.dist == Scenario::LatencyDist::kConstant);
  CHECK(s.intra.latency.value_us == 250);
  CHECK(s.intra.bandwidth_bps == 80'000'000);
  CHECK(s.intra.duplicate == 0.01);
  CHECK(s.inter.latency.dist == Scenario::LatencyDist::kLognormal);
  CHECK(s.inter.latency.median_us == 30'000);
  CHECK(s.inter.latency.sigma == 0.4);
  CHECK(s.inter.bandwidth_bps == 12'884'901'888ull);  // 1.5 * 2^30 * 8
  CHECK(s.inter.loss == 0.02);
  REQUIRE(s.partitions.size() == 1);
  const auto& p = s.partitions[0];
  CHECK(p.start_us == 2 * kUsPerSecond);
  CHECK(p.end_us == 4 * kUsPerSecond);
  REQUIRE(p.groups.size() == 2);
  CHECK(p.groups[0].size() == 5);  // all of net0
  CHECK(p.groups[1] == std::vector<NodeId>{NodeId{5}, NodeId{9}});
  auto groups = p.node_groups(s.node_count());
  CHECK(groups[0] == 0);
  CHECK(groups[4] == 0);
  CHECK(groups[5] == 1);
  CHECK(groups[6] == -1);
  CHECK(groups[9] == 1);

  CHECK(s.protocol.block_max_entries == 1000);
  CHECK(s.protocol.block_timeout_us == 50'000);
  CHECK(s.protocol.presence_timeout_us == 300'000);
  CHECK(s.protocol.retry_timeout_us == kUsPerSecond);
  CHECK(s.protocol.retry_max_backoff_us == 8 * kUsPerSecond);
  CHECK(s.protocol.max_attempts == 10);
  CHECK(s.protocol.migration_settle_us == 2 * kUsPerSecond);
  CHECK(s.protocol.migration_rounds == 5);
  CHECK_FALSE(s.cpu.enabled);
  CHECK(s.cpu.sign_us == 20);
  CHECK(s.cpu.verify_us == 50);
  CHECK(s.cpu.store_commit_us == 1000);
  CHECK(s.cpu.per_message_us == 3);
  CHECK(s.cpu.per_byte_ns == 0.25);
  CHECK(s.cpu.store_per_byte_ns == 2);
  REQUIRE(s.crashes.size() == 2);
  CHECK(s.crashes[0].node == NodeId{8});
  CHECK(s.crashes[0].restart_us == 5 * kUsPerSecond);
  CHECK(s.crashes[1].node == NodeId{4});
  CHECK_FALSE(s.crashes[1].restart_us.has_value());
  CHECK_FALSE(s.report_timeseries);
  CHECK_FALSE(s.report_html);

  for (auto [text, bps] :
       std::vector<std::pair<std::string, std::uint64_t>>{{"1Gbps", 1'000'000'000},
                                                          {"100Mbps", 100'000'000},
                                                          {"500 kbps", 500'000},
                                                          {"10MB/s", 80'000'000},
                                                          {"1MiB/s", 8'388'608},
                                                          {"0", 0},
                                                          {"unlimited", 0}}) {
    CAPTURE(text);
    CHECK(load_text(kBase + "network: {intra: {bandwidth: " + text + "}}\n").intra.bandwidth_bps ==
          bps);
  }
}

TEST_CASE("scenario: modes map onto protocol parameters") {
  auto s = load_text(kBase + "protocol: {block_max_entries: 77}\ncrypto: modeled\n");
  auto b = protocol_params(s, ScenarioMode::kBroadcast);
  CHECK(b.presence == PresenceMode::kBroadcast);
  CHECK(b.replication == Replication::kSparse);
  CHECK(b.mode_name() == "broadcast");
  auto t = protocol_params(s, ScenarioMode::kTable);
  CHECK(t.presence == PresenceMode::kTable);
  CHECK(t.replication == Replication::kSparse);
  CHECK(t.mode_name() == "table");
  auto f = protocol_params(s, ScenarioMode::kFull);
  CHECK(f.presence == PresenceMode::kBroadcast);
  CHECK(f.replication == Replication::kFull);
  CHECK(f.mode_name() == "full");
  for (auto p : {b, t, f}) {
    CHECK(p.block_max_entries == 77);
    CHECK(p.crypto == CryptoMode::kModeled);
  }
  for (auto m : {ScenarioMode::kBroadcast, ScenarioMode::kTable, ScenarioMode::kFull})
    CHECK(parse_scenario_mode(scenario_mode_name(m)) == m);
  CHECK_FALSE(parse_scenario_mode("gossip").has_value());
}

TEST_CASE("scenario: node ids and names") {
  auto s = load_text(
      "duration: 10s\n"
      "topology: {record_nodes_per_network: [3, 2]}\n"
      "workload: {users: 5, record_rate: 1}\n");
  REQUIRE(s.node_count() == 9);
  const std::vector<std::string> names = {"net0.r0", "net0.r1", "net0.r2", "net0.c0", "net0.i",
                                          "net1.r0", "net1.r1", "net1.c0", "net1.i"};
  const std::vector<NodeRole> roles = {
      NodeRole::kRecord,    NodeRole::kRecord,    NodeRole::kRecord,
      NodeRole::kConsensus, NodeRole::kIndex,     NodeRole::kRecord,
      NodeRole::kRecord,    NodeRole::kConsensus, NodeRole::kIndex};
  auto specs = node_specs(s);
  REQUIRE(specs.size() == 9);
  for (std::uint32_t i = 0; i < 9; ++i) {
    CAPTURE(i);
    CHECK(specs[i].id == NodeId{i});
    CHECK(specs[i].name == names[i]);
    CHECK(specs[i].role == roles[i]);
    CHECK(specs[i].network == NetworkId{i < 5 ? 0u : 1u});
    CHECK(s.layout.name_of(NodeId{i}) == names[i]);
    CHECK(find_node(s, names[i]) == NodeId{i});
  }
  CHECK(s.layout.record_node(1, 1) == NodeId{6});
  CHECK(s.layout.consensus_node(0) == NodeId{3});
  CHECK(s.layout.index_node(1) == NodeId{8});
  CHECK(s.layout.find_network("net1") == 1u);
  for (const char* bad : {"net0.r3", "net2.r0", "net01.r0", "net0.r01", "net0.c1", "net0.i0",
                          "net0", "net0.x0", "", "node1", "net0.r", "net0.r-1"})
    CHECK_FALSE(find_node(s, bad).has_value());
  CHECK_FALSE(s.layout.find_network("net2").has_value());
  CHECK_FALSE(s.layout.find_network("net1.r0").has_value());

  std::vector<PublicKey> keys(9);
  for (std::uint8_t i = 0; i < 9; ++i) keys[i].bytes[0] = static_cast<std::uint8_t>(i + 1);
  auto params = protocol_params(s, ScenarioMode::kTable);
  Topology topo = make_topology(s, params, keys);
  CHECK(topo.node_count() == 9);
  CHECK(topo.network_count() == 2);
  CHECK(topo.params().presence == PresenceMode::kTable);
  CHECK(topo.network(NetworkId{0}).record_nodes ==
        std::vector<NodeId>{NodeId{0}, NodeId{1}, NodeId{2}});
  CHECK(topo.consensus_of(NetworkId{1}) == NodeId{7});
  CHECK(topo.index_of(NetworkId{1}) == NodeId{8});
  CHECK(topo.node(NodeId{6}).name == "net1.r1");
  CHECK(topo.node(NodeId{6}).key == keys[6]);
  const auto& v = topo.network(NetworkId{1}).validators;
  REQUIRE(v.members.size() == 1);
  CHECK(v.members[0].node == NodeId{7});
  CHECK(v.members[0].key == keys[7]);
  CHECK(v.quorum == 1);
  CHECK_THROWS_AS(make_topology(s, params, std::vector<PublicKey>(8)), std::invalid_argument);
}

TEST_CASE("scenario: consensus groups of 3f+1 replicas and Byzantine replicas") {
  auto s = load_text(
      "duration: 10s\n"
      "topology: {networks: 2, record_nodes: 2, consensus_nodes: 7}\n"
      "workload: {users: 5, record_rate: 1}\n"
      "faults:\n"
      "  byzantine:\n"
      "    - {node: net1.c6, behaviour: equivocate}\n"
      "    - {node: net0.c2, behaviour: withhold_votes}\n");
  REQUIRE(s.node_count() == 2 * (2 + 7 + 1));
  const NodeId c6 = *find_node(s, "net1.c6");
  CHECK(s.layout.role_of(c6) == NodeRole::kConsensus);
  REQUIRE(s.byzantine.size() == 2);
  CHECK(s.byzantine[0].node == c6);
  CHECK(s.byzantine[0].behaviour == Scenario::Byzantine::kEquivocate);
  CHECK(s.byzantine[1].behaviour == Scenario::Byzantine::kWithholdVotes);
  std::vector<PublicKey> keys(s.node_count());
  for (std::size_t i = 0; i < keys.size(); ++i) keys[i].bytes[0] = static_cast<std::uint8_t>(i + 1);
  Topology topo = make_topology(s, protocol_params(s, ScenarioMode::kBroadcast), keys);
  const NetworkInfo& net = topo.network(NetworkId{1});
  REQUIRE(net.consensus_nodes.size() == 7);
  CHECK(net.validators.quorum == 5);  // 2f+1 with f = 2
  for (std::size_t i = 0; i < 7; ++i)
    CHECK(net.validators.members[i].node == net.consensus_nodes[i]);
  auto refuses = [&](const std::string& text, const std::string& key, const std::string& what) {
    CAPTURE(text);
    auto e = expect_config_error([&] { load_text(text); });
    CHECK(e.key == key);
    CHECK(contains(e.what(), what));
  };
  const std::string base =
      "duration: 10s\ntopology: {networks: 1, record_nodes: 2, consensus_nodes: 4}\n"
      "workload: {users: 5, record_rate: 1}\n";
  refuses(base + "faults: {byzantine: [{node: net0.r0, behaviour: equivocate}]}\n",
          "faults.byzantine.0.node", "not a consensus node (net<n>.c<k>) or an index node");
  refuses(base + "faults: {byzantine: [{node: net0.c1, behaviour: forged_presence}]}\n",
          "faults.byzantine.0.node", "not a record node");
  refuses(base + "faults: {byzantine: [{node: net0.i, behaviour: replay_old}]}\n",
          "faults.byzantine.0.node", "is an index node");
  refuses(base + "faults: {byzantine: [{node: net0.c1, behaviour: lie}]}\n",
          "faults.byzantine.0.behaviour", "unknown behaviour");
  refuses(base + "faults: {byzantine: [{node: net0.c4, behaviour: equivocate}]}\n",
          "faults.byzantine.0.node", "unknown node");
}

TEST_CASE("scenario: the index order, and Byzantine index nodes as index chain replicas") {
  const std::string base =
      "duration: 10s\nworkload: {users: 5, record_rate: 1}\n"
      "topology: {networks: 4, record_nodes: 2";
  CHECK(load_text(base + "}\n").protocol.index_order == IndexOrder::kChain);
  CHECK(load_text(base + ", index_order: direct}\n").protocol.index_order == IndexOrder::kDirect);
  auto s =
      load_text(base + "}\nfaults: {byzantine: [{node: net2.i, behaviour: withhold_votes}]}\n");
  REQUIRE(s.byzantine.size() == 1);
  CHECK(s.layout.role_of(s.byzantine[0].node) == NodeRole::kIndex);
  auto e = expect_config_error([&] { load_text(base + ", index_order: gossip}\n"); });
  CHECK(e.key == "topology.index_order");
  e = expect_config_error([&] {
    load_text(base + "}\nfaults: {byzantine: [{node: net0.i, behaviour: wrong_holders}]}\n");
  });
  CHECK(e.key == "faults.byzantine.0.behaviour");
  CHECK(contains(e.what(), "an index node's behaviours"));
}

TEST_CASE("scenario: simulator lanes need a floor under inter-network latency") {
  CHECK(load_text(kBase).lanes == 1);
  const std::string floored =
      kBase +
      "network: {inter: {latency: {dist: lognormal, median: 30ms, sigma: 0.4, floor: 8ms}}}\n";
  auto s = load_text(floored + "simulator: {lanes: 2}\n");
  CHECK(s.lanes == 2);
  CHECK(s.inter.latency.floor_us == 8'000);
  CHECK(s.inter.latency.model().lower_bound_us() == 8'000);
  // The default inter-network latency (uniform 20-40 ms) has its minimum.
  CHECK(load_text(kBase + "simulator: {lanes: 2}\n").lanes == 2);
  CHECK(load_text(kBase, {"simulator.lanes=2"}).lanes == 2);

  auto refuses = [&](const std::string& text, const std::string& key, const std::string& what) {
    CAPTURE(text);
    auto e = expect_config_error([&] { load_text(text); });
    CHECK(e.key == key);
    CHECK(contains(e.what(), what));
  };
  refuses(kBase + "network: {inter: {latency: {dist: lognormal, median: 30ms, sigma: 0.4}}}\n" +
              "simulator: {lanes: 2}\n",
          "simulator.lanes", "lower bound above 0 on inter-network latency");
  refuses(kBase + "network: {inter: {latency: 0ms}}\nsimulator: {lanes: 2}\n", "simulator.lanes",
          "lower bound");
  refuses(floored + "simulator: {lanes: 3}\n", "simulator.lanes", "at most one lane per network");
  refuses(floored + "simulator: {lanes: 0}\n", "simulator.lanes", "");
  refuses(floored + "simulator: {threads: 2}\n", "simulator.threads", "");
  refuses(kBase + "network: {inter: {latency: {dist: uniform, min: 1ms, max: 2ms, floor: 1ms}}}\n",
          "network.inter.latency.floor", "does not apply");
}
