// Key files, topology files and node files: written, read back, and refused
// when wrong, with file, line and key.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <filesystem>
#include <stdexcept>
#include <string>

#include "common/crypto.hpp"
#include "common/net/deployment.hpp"
#include "tests/deployment/fixture.hpp"

using namespace mhr;
using namespace mhr::test;

namespace {

// A key file's text with the given seed line, everything else valid.
std::string key_text(const NodeKeys& keys, const std::string& seed_line) {
  return "# test key file\n" + seed_line + "\ncurve_public: \"" + keys.curve.public_z85 +
         "\"\ncurve_secret: \"" + keys.curve.secret_z85 + "\"\n";
}

// A node file with the given extra text after the required keys.
std::string node_text(const std::string& extra = "") {
  return "node:\n"
         "  id: 0\n"
         "  keys: node.key\n"
         "  listen: tcp://0.0.0.0:7001\n"
         "  data_dir: data\n"
         "topology: topology.yaml\n" +
         extra;
}

// A valid topology file with one network; `consensus` and `index` are
// spliced into the network entry.
std::string topology_text(const std::string& consensus = "[1]", const std::string& index = "2") {
  std::string out =
      "networks:\n"
      "  - id: 0\n"
      "    consensus: " +
      consensus + "\n    index: " + index + "\n    quorum: 1\nnodes:\n";
  const char* roles[] = {"record", "consensus", "index"};
  for (int i = 0; i < 3; ++i) {
    const NodeKeys k = NodeKeys::generate();
    out += "  - id: " + std::to_string(i) + "\n    name: n" + std::to_string(i) +
           "\n    role: " + roles[i] +
           "\n    network: 0\n    endpoint: tcp://127.0.0.1:" + std::to_string(7000 + i) +
           "\n    sign_key: " + KeyPair::from_seed(k.sign_seed).public_key().hex() +
           "\n    curve_key: \"" + k.curve.public_z85 + "\"\n";
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------- key files

TEST_CASE("key file: written with mode 0600 and read back") {
  TempDir dir;
  const std::string path = dir.file("node.key");
  // Even with a permissive umask the file is created owner-only.
  const mode_t old_umask = ::umask(0);
  const NodeKeys keys = NodeKeys::generate();
  write_key_file(path, keys);
  ::umask(old_umask);
  CHECK(file_mode(path) == 0600);

  const NodeKeys back = load_key_file(path);
  CHECK(back.sign_seed == keys.sign_seed);
  CHECK(back.curve.public_z85 == keys.curve.public_z85);
  CHECK(back.curve.secret_z85 == keys.curve.secret_z85);
  CHECK(keys.curve.public_z85.size() == 40);
  CHECK(NodeKeys::generate().sign_seed != keys.sign_seed);
}

TEST_CASE("key file: an existing file is never overwritten") {
  TempDir dir;
  const std::string path = dir.file("node.key");
  write_key_file(path, NodeKeys::generate());
  const std::string before = read_text(path);
  try {
    write_key_file(path, NodeKeys::generate());
    FAIL("expected an error");
  } catch (const std::runtime_error& e) {
    CHECK(contains(e.what(), path));
    CHECK(contains(e.what(), "exists"));
  }
  CHECK(read_text(path) == before);
}

TEST_CASE("key file: readable by group or others is refused") {
  TempDir dir;
  const std::string path = dir.file("node.key");
  write_key_file(path, NodeKeys::generate());
  for (mode_t mode : {0644, 0640, 0604, 0660}) {
    CAPTURE(mode);
    ::chmod(path.c_str(), mode);
    ConfigError e = expect_config_error([&] { load_key_file(path); });
    CHECK(e.file == path);
    CHECK(contains(e.what(), "chmod 600 " + path));
  }
  ::chmod(path.c_str(), 0400);
  CHECK_NOTHROW(load_key_file(path));
}

TEST_CASE("key file: a malformed seed is refused with its line") {
  TempDir dir;
  const NodeKeys keys = NodeKeys::generate();
  const std::string path = dir.file("node.key");
  SUBCASE("too short") {
    write_text(path, key_text(keys, "sign_seed: abcd"), 0600);
  }
  SUBCASE("not hex") {
    write_text(path, key_text(keys, "sign_seed: " + std::string(64, 'g')), 0600);
  }
  ConfigError e = expect_config_error([&] { load_key_file(path); });
  CHECK(e.file == path);
  CHECK(e.line == 2);
  CHECK(e.key == "sign_seed");
  CHECK(contains(e.what(), "64 hex digits"));
}

TEST_CASE("key file: damaged CURVE keys and unknown keys are refused") {
  TempDir dir;
  const NodeKeys keys = NodeKeys::generate();
  const NodeKeys other = NodeKeys::generate();
  const std::string path = dir.file("node.key");
  const std::string seed = "sign_seed: " + keys.sign_seed.hex();
  SUBCASE("public key of another pair") {
    write_text(path,
               "sign_seed: " + keys.sign_seed.hex() + "\ncurve_public: \"" +
                   other.curve.public_z85 + "\"\ncurve_secret: \"" + keys.curve.secret_z85 + "\"\n",
               0600);
    ConfigError e = expect_config_error([&] { load_key_file(path); });
    CHECK(e.key == "curve_public");
    CHECK(e.line == 2);
  }
  SUBCASE("short secret") {
    write_text(path,
               seed + "\ncurve_public: \"" + keys.curve.public_z85 + "\"\ncurve_secret: abc\n",
               0600);
    ConfigError e = expect_config_error([&] { load_key_file(path); });
    CHECK(e.key == "curve_secret");
    CHECK(e.line == 3);
  }
  SUBCASE("a typo") {
    write_text(path, key_text(keys, seed) + "curve_secrte: x\n", 0600);
    ConfigError e = expect_config_error([&] { load_key_file(path); });
    CHECK(e.key == "curve_secrte");
    CHECK(e.line == 5);
  }
  SUBCASE("missing file") {
    ConfigError e = expect_config_error([&] { load_key_file(dir.file("nope.key")); });
    CHECK(contains(e.what(), "cannot open"));
  }
}

// ---------------------------------------------------------------- topology

TEST_CASE("topology: write and load round trip") {
  TempDir dir;
  // Two networks: the second has a group of four consensus replicas.
  std::vector<NodeInfo> nodes;
  std::vector<NodeAddress> address;
  auto add = [&](NodeRole role, std::uint32_t network, const std::string& name) {
    const NodeKeys k = NodeKeys::generate();
    NodeInfo n;
    n.id = NodeId{static_cast<std::uint32_t>(nodes.size())};
    n.role = role;
    n.network = NetworkId{network};
    n.key = KeyPair::from_seed(k.sign_seed).public_key();
    n.name = name;
    nodes.push_back(n);
    address.push_back(
        {"tcp://10.0.0." + std::to_string(nodes.size()) + ":7001", k.curve.public_z85});
    return n.id;
  };
  NetworkInfo a, b;
  a.id = NetworkId{0};
  b.id = NetworkId{1};
  a.record_nodes = {add(NodeRole::kRecord, 0, "St. Mary's: ward 1"),
                    add(NodeRole::kRecord, 0, "clinic-b")};
  a.consensus_nodes = {add(NodeRole::kConsensus, 0, "cons-a")};
  a.index_node = add(NodeRole::kIndex, 0, "index-a");
  b.record_nodes = {add(NodeRole::kRecord, 1, "hospital-c")};
  for (int i = 0; i < 4; ++i)
    b.consensus_nodes.push_back(add(NodeRole::kConsensus, 1, "cons-b" + std::to_string(i)));
  b.index_node = add(NodeRole::kIndex, 1, "index-b");
  for (NetworkInfo* n : {&a, &b})
    for (NodeId c : n->consensus_nodes) n->validators.members.push_back({c, nodes[c.value].key});
  a.validators.quorum = 1;
  b.validators.quorum = 3;

  ProtocolParams p;
  p.presence = PresenceMode::kTable;
  p.replication = Replication::kFull;
  p.crypto = CryptoMode::kModeled;
  p.index_order = IndexOrder::kDirect;  // not the default
  p.block_max_entries = 123;
  p.block_timeout_us = 1500;  // 1.5ms: written as microseconds
  p.presence_timeout_us = 250 * kUsPerMs;
  p.retry_timeout_us = 2 * kUsPerSecond;
  p.retry_max_backoff_us = 90 * kUsPerSecond;
  p.max_attempts = 7;
  p.migration_settle_us = 3 * kUsPerSecond;
  p.migration_rounds = 0;
  const Topology t(nodes, {a, b}, p);

  const std::string path = dir.file("topology.yaml");
  write_deployment(path, t, address);
  const Deployment d = load_deployment(path);
  const Topology& u = *d.topology;

  REQUIRE(u.node_count() == t.node_count());
  for (const NodeInfo& n : t.nodes()) {
    const NodeInfo& m = u.node(n.id);
    CHECK(m.id == n.id);
    CHECK(m.role == n.role);
    CHECK(m.network == n.network);
    CHECK(m.key == n.key);
    CHECK(m.name == n.name);
    CHECK(d.address[n.id.value].endpoint == address[n.id.value].endpoint);
    CHECK(d.address[n.id.value].curve_z85 == address[n.id.value].curve_z85);
  }
  REQUIRE(u.network_count() == 2);
  for (const NetworkInfo& n : t.networks()) {
    const NetworkInfo& m = u.network(n.id);
    CHECK(m.record_nodes == n.record_nodes);
    CHECK(m.consensus_nodes == n.consensus_nodes);
    CHECK(m.index_node == n.index_node);
    CHECK(m.validators.quorum == n.validators.quorum);
    REQUIRE(m.validators.members.size() == n.validators.members.size());
    for (std::size_t i = 0; i < n.validators.members.size(); ++i) {
      CHECK(m.validators.members[i].node == n.validators.members[i].node);
      CHECK(m.validators.members[i].key == n.validators.members[i].key);
    }
  }
  const ProtocolParams& q = u.params();
  CHECK(q.presence == p.presence);
  CHECK(q.index_order == IndexOrder::kDirect);
  CHECK(q.replication == p.replication);
  CHECK(q.crypto == p.crypto);
  CHECK(q.block_max_entries == p.block_max_entries);
  CHECK(q.block_timeout_us == p.block_timeout_us);
  CHECK(q.presence_timeout_us == p.presence_timeout_us);
  CHECK(q.retry_timeout_us == p.retry_timeout_us);
  CHECK(q.retry_max_backoff_us == p.retry_max_backoff_us);
  CHECK(q.max_attempts == p.max_attempts);
  CHECK(q.migration_settle_us == p.migration_settle_us);
  CHECK(q.migration_rounds == p.migration_rounds);
  CHECK(u.index_nodes() == t.index_nodes());

  // Written durations are the readable kind.
  const std::string text = read_text(path);
  CHECK(contains(text, "presence_timeout: 250ms"));
  CHECK(contains(text, "retry_max_backoff: 90s"));
}

TEST_CASE("topology: protocol section is optional, with the defaults") {
  TempDir dir;
  const std::string path = dir.file("topology.yaml");
  write_text(path, topology_text());
  const Deployment d = load_deployment(path);
  const ProtocolParams dflt;
  CHECK(d.topology->params().block_timeout_us == dflt.block_timeout_us);
  CHECK(d.topology->params().mode_name() == dflt.mode_name());
  CHECK(d.topology->network(NetworkId{0}).record_nodes == std::vector<NodeId>{NodeId{0}});
}

TEST_CASE("topology: inconsistent topologies are refused with file, line and key") {
  TempDir dir;
  const std::string path = dir.file("topology.yaml");
  SUBCASE("consensus id pointing at a record node") {
    write_text(path, topology_text("[0]"));
    ConfigError e = expect_config_error([&] { load_deployment(path); });
    CHECK(e.file == path);
    CHECK(e.key == "networks.0.consensus.0");
    CHECK(e.line == 3);
    CHECK(contains(e.what(), "is a record node, expected a consensus node"));
  }
  SUBCASE("index id pointing at a consensus node") {
    write_text(path, topology_text("[1]", "1"));
    ConfigError e = expect_config_error([&] { load_deployment(path); });
    CHECK(e.key == "networks.0.index");
    CHECK(e.line == 4);
  }
  SUBCASE("unknown node") {
    write_text(path, topology_text("[9]"));
    ConfigError e = expect_config_error([&] { load_deployment(path); });
    CHECK(e.key == "networks.0.consensus.0");
    CHECK(contains(e.what(), "not in the nodes list"));
  }
  SUBCASE("quorum larger than the group") {
    std::string text = topology_text();
    text.replace(text.find("quorum: 1"), 9, "quorum: 2");
    write_text(path, text);
    ConfigError e = expect_config_error([&] { load_deployment(path); });
    CHECK(e.key == "networks.0.quorum");
  }
  SUBCASE("ids not dense") {
    std::string text = topology_text();
    text.replace(text.find("- id: 2"), 7, "- id: 5");
    write_text(path, text);
    ConfigError e = expect_config_error([&] { load_deployment(path); });
    CHECK(e.key == "nodes");
    CHECK(contains(e.what(), "node 2 is missing"));
  }
  SUBCASE("bad sign key") {
    std::string text = topology_text();
    const auto at = text.find("sign_key: ") + 10;
    text.replace(at, 4, "zzzz");
    write_text(path, text);
    ConfigError e = expect_config_error([&] { load_deployment(path); });
    CHECK(e.key == "nodes.0.sign_key");
    CHECK(e.line == 12);
  }
  SUBCASE("misspelled key") {
    std::string text = topology_text();
    text.replace(text.find("endpoint:"), 9, "endpiont:");
    write_text(path, text);
    ConfigError e = expect_config_error([&] { load_deployment(path); });
    CHECK(e.key == "nodes.0.endpiont");
    CHECK(e.line == 11);
  }
  SUBCASE("a consensus node no network lists") {
    std::string text = topology_text("[1]", "2");
    // A fourth node: consensus in network 0 but not in its consensus list.
    const NodeKeys k = NodeKeys::generate();
    text +=
        "  - id: 3\n    name: stray\n    role: consensus\n    network: 0\n"
        "    endpoint: tcp://127.0.0.1:7010\n    sign_key: " +
        KeyPair::from_seed(k.sign_seed).public_key().hex() + "\n    curve_key: \"" +
        k.curve.public_z85 + "\"\n";
    write_text(path, text);
    ConfigError e = expect_config_error([&] { load_deployment(path); });
    CHECK(e.key == "nodes.3.role");
    CHECK(contains(e.what(), "not listed by network 0"));
  }
}

// ---------------------------------------------------------------- node files

TEST_CASE("node file: defaults, and every key read") {
  TempDir dir;
  const std::string path = dir.file("node.yaml");
  write_text(path, node_text());
  NodeConfig c = load_node_config(path);
  const NodeConfig dflt;
  CHECK(c.file == path);
  CHECK(c.id == NodeId{0});
  CHECK(c.listen == "tcp://0.0.0.0:7001");
  CHECK(c.client_keys.empty());
  CHECK(c.max_message_bytes == dflt.max_message_bytes);
  CHECK(c.send_hwm == dflt.send_hwm);
  CHECK(c.heartbeat_timeout_us == dflt.heartbeat_timeout_us);
  CHECK(c.fsync);

  const std::string client = NodeKeys::generate().curve.public_z85;
  write_text(path, node_text("clients:\n  - \"" + client +
                             "\"\nlimits:\n  max_message_bytes: 1MiB\n  send_hwm: 5\n"
                             "  recv_hwm: 6\n  heartbeat: 2s\n  heartbeat_timeout: 9s\n"
                             "  reconnect: 50ms\n  reconnect_max: 1m\nstorage:\n  fsync: false\n"));
  c = load_node_config(path);
  CHECK(c.client_keys == std::vector<std::string>{client});
  CHECK(c.max_message_bytes == (1u << 20));
  CHECK(c.send_hwm == 5);
  CHECK(c.recv_hwm == 6);
  CHECK(c.heartbeat_us == 2 * kUsPerSecond);
  CHECK(c.heartbeat_timeout_us == 9 * kUsPerSecond);
  CHECK(c.reconnect_us == 50 * kUsPerMs);
  CHECK(c.reconnect_max_us == 60 * kUsPerSecond);
  CHECK_FALSE(c.fsync);
}

TEST_CASE("node file: a misspelled key is refused naming key and line") {
  TempDir dir;
  const std::string path = dir.file("node.yaml");
  SUBCASE("in limits") {
    write_text(path, node_text("limits:\n  send_hwm: 5\n  recv_hmw: 5\n"));
    ConfigError e = expect_config_error([&] { load_node_config(path); });
    CHECK(e.file == path);
    CHECK(e.key == "limits.recv_hmw");
    CHECK(e.line == 9);
    CHECK(contains(e.what(), "unknown key"));
  }
  SUBCASE("in node") {
    std::string text = node_text();
    text.replace(text.find("data_dir"), 8, "datadir");
    write_text(path, text);
    ConfigError e = expect_config_error([&] { load_node_config(path); });
    CHECK(e.key == "node.datadir");
    CHECK(e.line == 5);
  }
  SUBCASE("at the top") {
    write_text(path, node_text("storage:\n  fsync: true\nclient: []\n"));
    ConfigError e = expect_config_error([&] { load_node_config(path); });
    CHECK(e.key == "client");
    CHECK(e.line == 9);
  }
}

TEST_CASE("node file: bad values are refused naming key and line") {
  TempDir dir;
  const std::string path = dir.file("node.yaml");
  SUBCASE("client key") {
    write_text(path, node_text("clients: [\"not-a-key\"]\n"));
    ConfigError e = expect_config_error([&] { load_node_config(path); });
    CHECK(e.key == "clients.0");
    CHECK(e.line == 7);
  }
  SUBCASE("endpoint") {
    std::string text = node_text();
    text.replace(text.find("tcp://0.0.0.0:7001"), 18, "0.0.0.0:7001");
    write_text(path, text);
    ConfigError e = expect_config_error([&] { load_node_config(path); });
    CHECK(e.key == "node.listen");
    CHECK(e.line == 4);
  }
  SUBCASE("heartbeat timeout shorter than the heartbeat") {
    write_text(path, node_text("limits:\n  heartbeat: 10s\n"));
    ConfigError e = expect_config_error([&] { load_node_config(path); });
    CHECK(e.key == "limits.heartbeat");
    CHECK(e.line == 8);
  }
  SUBCASE("missing topology") {
    std::string text = node_text();
    text.erase(text.find("topology:"));
    write_text(path, text);
    ConfigError e = expect_config_error([&] { load_node_config(path); });
    CHECK(e.key == "topology");
  }
}

TEST_CASE("node file: relative paths are resolved against the file's directory") {
  TempDir dir;
  const std::string path = dir.file("etc/node.yaml");
  write_text(path,
             "node:\n  id: 3\n  keys: ../secret/node.key\n  listen: tcp://0.0.0.0:7001\n"
             "  data_dir: /var/lib/mhr\ntopology: topology.yaml\n");
  const NodeConfig c = load_node_config(path);
  CHECK(c.key_file == (dir.path() / "secret/node.key").string());
  CHECK(c.data_dir == "/var/lib/mhr");
  CHECK(c.topology_file == (dir.path() / "etc/topology.yaml").string());
}

TEST_CASE("node file: write and load round trip") {
  TempDir dir;
  NodeConfig c;
  c.id = NodeId{17};
  c.key_file = dir.file("keys/n17.key");
  c.listen = "tcp://0.0.0.0:7017";
  c.data_dir = dir.file("data");
  c.topology_file = dir.file("topology.yaml");
  c.client_keys = {NodeKeys::generate().curve.public_z85, NodeKeys::generate().curve.public_z85};
  c.max_message_bytes = 3u << 20;
  c.send_hwm = 11;
  c.recv_hwm = 12;
  c.heartbeat_us = 1500 * kUsPerMs;
  c.heartbeat_timeout_us = 7 * kUsPerSecond;
  c.reconnect_us = 20 * kUsPerMs;
  c.reconnect_max_us = 2 * 60 * kUsPerSecond;
  c.fsync = false;
  const std::string path = dir.file("node.yaml");
  write_node_config(path, c);
  const NodeConfig d = load_node_config(path);
  CHECK(d.file == path);
  CHECK(d.id == c.id);
  CHECK(d.key_file == c.key_file);
  CHECK(d.listen == c.listen);
  CHECK(d.data_dir == c.data_dir);
  CHECK(d.topology_file == c.topology_file);
  CHECK(d.client_keys == c.client_keys);
  CHECK(d.max_message_bytes == c.max_message_bytes);
  CHECK(d.send_hwm == c.send_hwm);
  CHECK(d.recv_hwm == c.recv_hwm);
  CHECK(d.heartbeat_us == c.heartbeat_us);
  CHECK(d.heartbeat_timeout_us == c.heartbeat_timeout_us);
  CHECK(d.reconnect_us == c.reconnect_us);
  CHECK(d.reconnect_max_us == c.reconnect_max_us);
  CHECK(d.fsync == c.fsync);
}
