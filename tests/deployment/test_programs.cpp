// The node executables as an operator starts them (configuration checks,
// exit codes, a clean stop on SIGTERM) and `mhr keygen`.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "common/net/deployment.hpp"
#include "tests/deployment/fixture.hpp"
#include "tools/mhr/keygen.hpp"

using namespace mhr;
using namespace mhr::test;

namespace {

struct Outcome {
  int code = -1;
  std::string output;  // stdout and stderr
};

// Runs a shell command line; returns its exit code and output.
Outcome run(const std::string& command) {
  Outcome out;
  std::FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.output.append(buf, n);
  const int status = ::pclose(p);
  out.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

// A deployment of three nodes in `dir`: the topology file, each node's key
// file and node file (node<i>.yaml).
struct Files {
  SmallDeployment d;
  std::string topology;
  std::string node_file[3];
  std::string key_file[3];
};

Files write_files(const TempDir& dir) {
  Files f;
  const int port = 20000 + static_cast<int>(::getpid() % 20000);
  f.d = small_deployment(port);
  f.topology = dir.file("topology.yaml");
  write_deployment(f.topology, *f.d.topology, f.d.address);
  for (int i = 0; i < 3; ++i) {
    f.key_file[i] = dir.file("node" + std::to_string(i) + ".key");
    write_key_file(f.key_file[i], f.d.keys[i]);
    NodeConfig c;
    c.id = NodeId{static_cast<std::uint32_t>(i)};
    c.key_file = "node" + std::to_string(i) + ".key";  // relative to the node file
    c.listen = f.d.address[i].endpoint;
    c.data_dir = "data" + std::to_string(i);
    c.topology_file = "topology.yaml";
    f.node_file[i] = dir.file("node" + std::to_string(i) + ".yaml");
    write_node_config(f.node_file[i], c);
  }
  return f;
}

}  // namespace

TEST_CASE("node executables: --help and a missing --config") {
  for (const char* bin : {MHR_EDGE_NODE_BIN, MHR_CONSENSUS_NODE_BIN, MHR_INDEX_NODE_BIN}) {
    CAPTURE(bin);
    Outcome help = run(std::string(bin) + " --help");
    CHECK(help.code == 0);
    CHECK(contains(help.output, "--config"));
    Outcome none = run(bin);
    CHECK(none.code == 2);
    CHECK(contains(none.output, "--config"));
  }
}

TEST_CASE("node executables: a consistent deployment passes --check") {
  TempDir dir;
  const Files f = write_files(dir);
  const char* bins[] = {MHR_EDGE_NODE_BIN, MHR_CONSENSUS_NODE_BIN, MHR_INDEX_NODE_BIN};
  for (int i = 0; i < 3; ++i) {
    Outcome o = run(std::string(bins[i]) + " --config " + f.node_file[i] + " --check");
    CAPTURE(o.output);
    CHECK(o.code == 0);
    CHECK(contains(o.output, "configuration OK"));
  }
}

TEST_CASE("node executables: configuration errors exit 2 naming file, line and key") {
  TempDir dir;
  const Files f = write_files(dir);
  SUBCASE("the wrong program for the node's role") {
    Outcome o = run(std::string(MHR_CONSENSUS_NODE_BIN) + " --config " + f.node_file[0]);
    CAPTURE(o.output);
    CHECK(o.code == 2);
    CHECK(contains(o.output, "consensus_node: " + f.node_file[0] + ":3:"));
    CHECK(contains(o.output, "key 'node.id'"));
    CHECK(contains(o.output, "is a record node"));
    CHECK(contains(o.output, "start it with edge_node"));
  }
  SUBCASE("a key file that is not this node's") {
    std::string text = read_text(f.node_file[0]);
    text.replace(text.find("node0.key"), 9, "node1.key");
    write_text(f.node_file[0], text);
    Outcome o = run(std::string(MHR_EDGE_NODE_BIN) + " --config " + f.node_file[0]);
    CAPTURE(o.output);
    CHECK(o.code == 2);
    CHECK(contains(o.output, "key 'sign_seed'"));
    CHECK(contains(o.output, "is not the sign_key of node 0"));
  }
  SUBCASE("a world-readable key file") {
    ::chmod(f.key_file[0].c_str(), 0644);
    Outcome o = run(std::string(MHR_EDGE_NODE_BIN) + " --config " + f.node_file[0]);
    CAPTURE(o.output);
    CHECK(o.code == 2);
    CHECK(contains(o.output, "chmod 600 " + f.key_file[0]));
  }
  SUBCASE("a misspelled key") {
    std::string text = read_text(f.node_file[0]);
    text.replace(text.find("fsync"), 5, "fsinc");
    write_text(f.node_file[0], text);
    Outcome o = run(std::string(MHR_EDGE_NODE_BIN) + " --config " + f.node_file[0]);
    CAPTURE(o.output);
    CHECK(o.code == 2);
    CHECK(contains(o.output, "key 'storage.fsinc'"));
  }
  SUBCASE("a node id the topology does not have") {
    std::string text = read_text(f.node_file[0]);
    text.replace(text.find("id: 0"), 5, "id: 9");
    write_text(f.node_file[0], text);
    Outcome o = run(std::string(MHR_EDGE_NODE_BIN) + " --config " + f.node_file[0]);
    CAPTURE(o.output);
    CHECK(o.code == 2);
    CHECK(contains(o.output, "node 9 is not in the topology"));
  }
}

TEST_CASE("node executables: the fhir: section is checked, and only edge_node takes it") {
  TempDir dir;
  const Files f = write_files(dir);
  const std::string fhir =
      "fhir:\n  listen: 127.0.0.1:8443\n  api_keys:\n    - name: dr-smith\n"
      "      kind: clinician\n      sha256: " +
      std::string(64, 'a') + "\n";
  SUBCASE("edge_node --check names the gateway") {
    write_text(f.node_file[0], read_text(f.node_file[0]) + fhir);
    Outcome o = run(std::string(MHR_EDGE_NODE_BIN) + " --config " + f.node_file[0] + " --check");
    CAPTURE(o.output);
    CHECK(o.code == 0);
    CHECK(contains(o.output, "FHIR gateway on http://127.0.0.1:8443/fhir (1 API keys)"));
  }
  SUBCASE("consensus_node refuses it") {
    write_text(f.node_file[1], read_text(f.node_file[1]) + fhir);
    Outcome o = run(std::string(MHR_CONSENSUS_NODE_BIN) + " --config " + f.node_file[1]);
    CAPTURE(o.output);
    CHECK(o.code == 2);
    CHECK(contains(o.output, "key 'fhir'"));
    CHECK(contains(o.output, "only edge_node serves FHIR"));
  }
  SUBCASE("a key hash that is not one") {
    std::string text = fhir;
    text.replace(text.find(std::string(64, 'a')), 64, "secret");
    write_text(f.node_file[0], read_text(f.node_file[0]) + text);
    Outcome o = run(std::string(MHR_EDGE_NODE_BIN) + " --config " + f.node_file[0]);
    CAPTURE(o.output);
    CHECK(o.code == 2);
    CHECK(contains(o.output, "key 'fhir.api_keys.0.sha256'"));
    CHECK(contains(o.output, "sha256sum"));
  }
  SUBCASE("a TLS key that cannot be read") {
    write_text(f.node_file[0],
               read_text(f.node_file[0]) + fhir + "  tls: {cert: none.crt, key: none.key}\n");
    Outcome o = run(std::string(MHR_EDGE_NODE_BIN) + " --config " + f.node_file[0]);
    CAPTURE(o.output);
    CHECK(o.code == 2);
    CHECK(contains(o.output, "fhir.tls.cert"));
  }
}

TEST_CASE("node executables: a record node starts and stops cleanly on SIGTERM") {
  TempDir dir;
  const Files f = write_files(dir);
  const std::string log = dir.file("edge.log");
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::FILE* out = std::freopen(log.c_str(), "w", stdout);
    if (out) ::dup2(STDOUT_FILENO, STDERR_FILENO);
    ::execl(MHR_EDGE_NODE_BIN, MHR_EDGE_NODE_BIN, "--config", f.node_file[0].c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  using Clock = std::chrono::steady_clock;
  auto deadline = Clock::now() + std::chrono::seconds(20);
  int status = 0;
  bool exited = false;
  while (Clock::now() < deadline && !contains(read_text(log), "started")) {
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CAPTURE(read_text(log));
  REQUIRE_FALSE(exited);
  REQUIRE(contains(read_text(log), "started record node 0 'hospital-a'"));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ::kill(pid, SIGTERM);
  deadline = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < deadline) {
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!exited) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  const std::string out = read_text(log);
  CAPTURE(out);
  REQUIRE(exited);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(contains(out, "stopped cleanly"));
  CHECK(std::filesystem::is_directory(dir.file("data0")));
  CHECK(file_mode(dir.file("data0")) == 0700);
}

TEST_CASE("mhr keygen: writes a 0600 key file, prints its public keys, never overwrites") {
  TempDir dir;
  const std::string path = dir.file("hospital.key");
  {
    CLI::App app{"test"};
    add_keygen_command(app);
    CHECK_NOTHROW(app.parse("keygen --out " + path));
  }
  CHECK(file_mode(path) == 0600);
  const NodeKeys keys = load_key_file(path);
  CHECK(keys.curve.public_z85.size() == 40);
  const std::string before = read_text(path);
  {
    CLI::App app{"test"};
    add_keygen_command(app);
    CHECK_THROWS_AS(app.parse("keygen --out " + path), CLI::RuntimeError);
  }
  CHECK(read_text(path) == before);
  {
    CLI::App app{"test"};
    add_keygen_command(app);
    CHECK_THROWS_AS(app.parse("keygen"), CLI::RequiredError);
  }
}
