#include "tools/node/node_main.hpp"

#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <thread>

#include "common/config.hpp"
#include "common/net/deployment.hpp"
#include "common/net/zmq_runtime.hpp"
#include "common/signer.hpp"
#include "consensus_node/consensus_node.hpp"
#include "edge_node/record_node.hpp"
#include "index_node/index_node.hpp"
#include "tools/verify/lmdb_file_check.hpp"
#include "tools/verify/verify.hpp"

namespace mhr {

namespace {
// What the node measured, for mhr launch and operators; best effort.
void write_metrics(const std::string& path, const RuntimeStats& stats) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) return;
  std::string json = runtime_stats_json(stats);
  std::fwrite(json.data(), 1, json.size(), f);
  std::fclose(f);
}
}  // namespace

namespace {

// Set by SIGTERM/SIGINT; the runtime's loop polls it. A lock-free atomic
// store is async-signal-safe.
std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void on_stop_signal(int) {
  g_stop.store(true, std::memory_order_relaxed);
}

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
}

// The entry of node `id` in the topology file, to point errors at its line.
// Falls back to the file itself when it cannot be found.
ConfigNode topology_entry(const std::string& topology_file, NodeId id) {
  const ConfigNode root = ConfigNode::load_file(topology_file);
  const ConfigNode nodes = root.required("nodes");
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const ConfigNode n = nodes.at(i);
    if (n.required("id").as_int(0, std::numeric_limits<std::uint32_t>::max()) == id.value) return n;
  }
  return root;
}

std::string where(const ConfigNode& n) {
  return n.file() + ":" + std::to_string(n.line());
}

// Checks that the node file, the key file and the topology agree about
// this node. Throws ConfigError naming the file and key at fault.
void check_consistency(const NodeConfig& config, const NodeKeys& keys, const Deployment& deployment,
                       NodeRole role, const char* program) {
  const Topology& t = *deployment.topology;
  const ConfigNode id_at = ConfigNode::load_file(config.file).required("node").required("id");
  if (!t.has_node(config.id))
    id_at.fail("node " + std::to_string(config.id.value) + " is not in the topology " +
               config.topology_file + " (it has nodes 0.." + std::to_string(t.node_count() - 1) +
               ")");
  const NodeInfo& info = t.node(config.id);
  if (info.role != role) {
    const char* right = info.role == NodeRole::kRecord      ? "edge_node"
                        : info.role == NodeRole::kConsensus ? "consensus_node"
                                                            : "index_node";
    id_at.fail("node " + std::to_string(config.id.value) + " ('" + info.name + "') is a " +
               std::string(node_role_name(info.role)) + " node in " + config.topology_file +
               ", but " + program + " runs " + std::string(node_role_name(role)) +
               " nodes; start it with " + right);
  }
  const PublicKey sign_public = make_signer(t.params().crypto, keys.sign_seed)->public_key();
  if (sign_public != info.key) {
    const ConfigNode entry = topology_entry(config.topology_file, config.id);
    throw ConfigError(config.key_file, 0, 0, "sign_seed",
                      "this key file's sign key " + sign_public.hex() +
                          " is not the sign_key of node " + std::to_string(config.id.value) +
                          " in the topology (" + where(entry) + ": " + info.key.hex() +
                          "); wrong key file, or the topology was written with another key");
  }
  const std::string& curve = deployment.address[config.id.value].curve_z85;
  if (keys.curve.public_z85 != curve) {
    const ConfigNode entry = topology_entry(config.topology_file, config.id);
    throw ConfigError(config.key_file, 0, 0, "curve_public",
                      "this key file's CURVE key " + keys.curve.public_z85 +
                          " is not the curve_key of node " + std::to_string(config.id.value) +
                          " in the topology (" + where(entry) + ": " + curve + ")");
  }
}

// The data directory holds health records: created owner-only when missing.
void prepare_data_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec))
      throw std::runtime_error("data_dir " + dir + " exists and is not a directory");
    return;
  }
  fs::create_directories(dir, ec);
  if (ec) throw std::runtime_error("cannot create data_dir " + dir + ": " + ec.message());
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  if (ec) throw std::runtime_error("cannot set the mode of data_dir " + dir + ": " + ec.message());
}

// A node must not serve a damaged store: its pages and every table are
// verified before the runtime opens it (all cores). nullopt when intact or
// when there is no store yet.
std::optional<std::string> store_problem(const std::string& dir, const Topology& topology) {
  if (!std::filesystem::exists(std::filesystem::path(dir) / "data.mdb")) return std::nullopt;
  const LmdbFileReport file = check_lmdb_store_file(dir);
  if (file.problem) return file.problem;
  auto store = open_lmdb_store(dir, LmdbOptions{.read_only = true});
  if (!store.ok()) return store.error();
  try {
    const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
    return verify_store(*store.value(), &topology, threads).problem;
  } catch (const StoreError& e) {
    return std::string(e.what());
  }
}

std::unique_ptr<NodeLogic> make_role(NodeRole role, Env& env, const TopologyPtr& topology) {
  switch (role) {
    case NodeRole::kRecord:
      return std::make_unique<RecordNode>(env, topology);
    case NodeRole::kConsensus:
      return std::make_unique<ConsensusNode>(env, topology);
    case NodeRole::kIndex:
      return std::make_unique<IndexNode>(env, topology);
  }
  return nullptr;
}

}  // namespace

int run_node_main(int argc, char** argv, NodeRole role, const char* program,
                  NodeExtension* extension) {
  const std::string role_name(node_role_name(role));
  CLI::App app{std::string(program) + " — MHR chain " + role_name +
                   " node. Runs until SIGTERM or SIGINT, then stops cleanly.",
               program};
  std::string config_file;
  bool check_only = false;
  app.add_option("--config,-c", config_file, "the node file (YAML); see docs/DEPLOY.md")
      ->required()
      ->type_name("FILE");
  app.add_flag("--check", check_only,
               "validate the node, key and topology files, print the node and exit");
  bool skip_store_check = false;
  app.add_flag("--skip-store-check", skip_store_check,
               "start without verifying the store first (as mhr verify does); for a store "
               "verified just before, never for one that may be damaged");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }

  NodeConfig config;
  NodeKeys keys;
  Deployment deployment;
  try {
    config = load_node_config(config_file);
    keys = load_key_file(config.key_file);
    deployment = load_deployment(config.topology_file);
    check_consistency(config, keys, deployment, role, program);
    if (extension) {
      extension->configure(config, deployment);
    } else if (auto fhir = ConfigNode::load_file(config.file).optional("fhir")) {
      fhir->fail(std::string("only edge_node serves FHIR; ") + program + " does not");
    }
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "%s: %s\n", program, e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", program, e.what());
    return 2;
  }
  const TopologyPtr topology = deployment.topology;
  const NodeInfo& info = topology->node(config.id);

  const std::string extra = extension ? extension->describe() : "";
  if (check_only) {
    std::printf("%s: configuration OK: %s node %u '%s' of network %u, listen %s, data %s\n",
                program, role_name.c_str(), config.id.value, info.name.c_str(), info.network.value,
                config.listen.c_str(), config.data_dir.c_str());
    if (!extra.empty()) std::printf("%s: %s\n", program, extra.c_str());
    return 0;
  }

  install_signal_handlers();
  try {
    prepare_data_dir(config.data_dir);
    if (!skip_store_check) {
      if (auto problem = store_problem(config.data_dir, *topology)) {
        std::fprintf(stderr,
                     "%s: refusing to start: the store in %s is damaged: %s\n"
                     "%s: to recover, stop this node, move the data directory away (keep it for "
                     "inspection) and start the node again with an empty one: it re-syncs its "
                     "headers and records from its peers. See docs/DEPLOY.md.\n",
                     program, config.data_dir.c_str(), problem->c_str(), program);
        return 3;
      }
    }
    ZmqRuntime runtime(config, deployment, keys);
    // Stopped before the runtime closes, also when run() throws.
    struct StopExtension {
      NodeExtension* e;
      ~StopExtension() {
        if (e) e->stop();
      }
    } stop_extension{extension};
    if (extension) extension->start(g_stop);
    std::printf("%s: started %s node %u '%s' of network %u, listening on %s, data in %s\n", program,
                role_name.c_str(), config.id.value, info.name.c_str(), info.network.value,
                config.listen.c_str(), config.data_dir.c_str());
    if (!extra.empty()) std::printf("%s: %s\n", program, extra.c_str());
    std::fflush(stdout);
    runtime.run([&](Env& env) { return make_role(role, env, topology); }, g_stop);
    if (extension) extension->stop();
    const RuntimeStats& s = runtime.stats();
    write_metrics(config.data_dir + "/metrics.json", s);
    std::printf("%s: %s node %u '%s' stopped cleanly (%llu messages in, %llu out)\n", program,
                role_name.c_str(), config.id.value, info.name.c_str(),
                static_cast<unsigned long long>(s.messages_in),
                static_cast<unsigned long long>(s.messages_out));
    std::fflush(stdout);
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "%s: %s\n", program, e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", program, e.what());
    return 1;
  }
  return 0;
}

}  // namespace mhr
