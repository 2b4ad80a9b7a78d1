#include "tools/launch/cluster.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>
#include <thread>

#include "common/key_wrap.hpp"
#include "common/net/zmq_runtime.hpp"

namespace mhr {

namespace fs = std::filesystem;

namespace {

constexpr TimeUs kStopGraceUs = 10 * kUsPerSecond;

const char* program_of(NodeRole role) {
  switch (role) {
    case NodeRole::kRecord:
      return "edge_node";
    case NodeRole::kConsensus:
      return "consensus_node";
    case NodeRole::kIndex:
      return "index_node";
  }
  return "?";
}

void run_command(const std::string& cmd) {
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("command failed: " + cmd);
}

bool wait_exit(pid_t pid, TimeUs timeout_us) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(timeout_us);
  for (;;) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid || r < 0) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace

int free_tcp_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("cannot open a socket to find a free port");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot find a free TCP port");
  }
  int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

namespace {

// A free port not handed out before in this launch: the kernel may give a
// port back once its probe socket is closed, and two nodes must never share one.
int fresh_free_port(std::set<int>& taken) {
  constexpr int kMaxTries = 100;
  for (int i = 0; i < kMaxTries; ++i) {
    const int port = free_tcp_port();
    if (taken.insert(port).second) return port;
  }
  throw std::runtime_error("cannot find a TCP port not already given to another node");
}

}  // namespace

Cluster::Cluster(const Scenario& scenario, const ProtocolParams& params,
                 const ClusterOptions& options)
    : options_(options) {
  // A directory from an earlier launch is replaced; anything else is kept.
  if (fs::exists(options_.dir)) {
    if (!fs::exists(options_.dir + "/topology.yaml"))
      throw std::runtime_error(options_.dir +
                               " exists and is not a launch directory; choose --out");
    fs::remove_all(options_.dir);
  }
  fs::create_directories(options_.dir);
  try {
    if (options_.netns) setup_netns(scenario);
    write_files(scenario, params);
  } catch (...) {
    teardown_netns();
    throw;
  }
}

Cluster::~Cluster() {
  for (std::size_t i = 0; i < procs_.size(); ++i)
    if (procs_[i].pid > 0) ::kill(procs_[i].pid, SIGKILL);
  for (auto& p : procs_)
    if (p.pid > 0) wait_exit(p.pid, kStopGraceUs);
  teardown_netns();
}

std::string Cluster::endpoint_for(const Scenario& s, NodeId node, int port) const {
  if (!options_.netns) return "tcp://127.0.0.1:" + std::to_string(port);
  return "tcp://10.77." + std::to_string(s.layout.network_of(node).value) +
         ".1:" + std::to_string(port);
}

void Cluster::write_files(const Scenario& s, const ProtocolParams& params) {
  std::vector<NodeSpec> specs = node_specs(s);
  std::vector<NodeKeys> keys;
  std::vector<PublicKey> sign_keys;
  std::vector<NodeAddress> address;
  std::set<int> taken_ports;
  for (const NodeSpec& spec : specs) {
    keys.push_back(NodeKeys::generate());
    sign_keys.push_back(make_signer(params.crypto, keys.back().sign_seed)->public_key());
    int port = options_.base_port > 0 ? options_.base_port + static_cast<int>(spec.id.value)
                                      : fresh_free_port(taken_ports);
    address.push_back({endpoint_for(s, spec.id, port), keys.back().curve.public_z85});
  }
  // The launcher's own client identity, saved so `mhr register/submit/read
  // --client-key DIR/client.key` can talk to these nodes too.
  // Its signing key is staff of every record node: it writes records as a
  // hospital's system would, and registers patients by their own keys.
  NodeKeys client = NodeKeys::generate();
  client_keys_ = client.curve;
  client_signer_ = make_signer(params.crypto, client.sign_seed);
  write_key_file(options_.dir + "/client.key", client);
  const Topology plain = make_topology(s, params, sign_keys);
  std::vector<NodeInfo> nodes = plain.nodes();
  for (NodeInfo& n : nodes) {
    if (n.role != NodeRole::kRecord) continue;
    n.staff.push_back(client_signer_->public_key());
    n.box_key = box_keys_of(keys[n.id.value].sign_seed).public_key;
  }
  auto topology = std::make_shared<const Topology>(nodes, plain.networks(), params);
  const std::string topology_file = options_.dir + "/topology.yaml";
  write_deployment(topology_file, *topology, address);
  deployment_ = load_deployment(topology_file);
  for (const NodeSpec& spec : specs) {
    Proc p;
    p.name = spec.name;
    p.program = options_.bin_dir + "/" + program_of(spec.role);
    p.dir = options_.dir + "/nodes/" + spec.name;
    p.config = p.dir + "/node.yaml";
    if (options_.netns) p.netns = namespaces_.at(spec.network.value);
    fs::create_directories(p.dir);
    write_key_file(p.dir + "/node.key", keys[spec.id.value]);
    NodeConfig c;
    c.id = spec.id;
    c.key_file = p.dir + "/node.key";
    std::string listen = address[spec.id.value].endpoint;
    c.listen = listen;
    c.data_dir = p.dir + "/data";
    c.topology_file = topology_file;
    // Every node: record nodes take the launcher's requests, and every node
    // answers its status queries.
    c.client_keys = {client_keys_.public_z85};
    c.fsync = options_.fsync;
    write_node_config(p.config, c);
    if (auto extra = options_.node_file_extra.find(spec.name);
        extra != options_.node_file_extra.end()) {
      std::ofstream out(p.config, std::ios::app);
      out << extra->second << "\n";
      if (!out) throw std::runtime_error("cannot write " + p.config);
    }
    procs_.push_back(std::move(p));
  }
}

void Cluster::start_all() {
  for (std::size_t i = 0; i < procs_.size(); ++i) start(NodeId{static_cast<std::uint32_t>(i)});
}

void Cluster::start(NodeId node) {
  Proc& p = procs_.at(node.value);
  MHR_ASSERT_MSG(p.pid <= 0, "node already running");
  const std::string log = p.dir + "/node.log";
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    // The child dies with the launcher, whatever happens to it.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::close(fd);
    }
    if (p.netns.empty()) {
      ::execl(p.program.c_str(), p.program.c_str(), "--config", p.config.c_str(),
              static_cast<char*>(nullptr));
    } else {
      ::execlp("ip", "ip", "netns", "exec", p.netns.c_str(), p.program.c_str(), "--config",
               p.config.c_str(), static_cast<char*>(nullptr));
    }
    ::_exit(127);
  }
  p.pid = pid;
}

void Cluster::stop(NodeId node) {
  Proc& p = procs_.at(node.value);
  if (p.pid <= 0) return;
  ::kill(p.pid, SIGTERM);
  if (!wait_exit(p.pid, kStopGraceUs)) {
    ::kill(p.pid, SIGKILL);
    wait_exit(p.pid, kStopGraceUs);
  }
  p.pid = -1;
}

void Cluster::kill(NodeId node) {
  Proc& p = procs_.at(node.value);
  if (p.pid <= 0) return;
  ::kill(p.pid, SIGKILL);
  wait_exit(p.pid, kStopGraceUs);
  p.pid = -1;
}

void Cluster::stop_all() {
  for (auto& p : procs_)
    if (p.pid > 0) ::kill(p.pid, SIGTERM);
  for (std::size_t i = 0; i < procs_.size(); ++i) stop(NodeId{static_cast<std::uint32_t>(i)});
}

bool Cluster::running(NodeId node) const {
  const Proc& p = procs_.at(node.value);
  if (p.pid <= 0) return false;
  int status = 0;
  return ::waitpid(p.pid, &status, WNOHANG) == 0;
}

void Cluster::wait_ready(TimeUs timeout_us) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(timeout_us);
  const Topology& t = *deployment_.topology;
  for (const NodeInfo& n : t.nodes()) {
    if (n.role != NodeRole::kRecord) continue;
    const NodeAddress& a = deployment_.address.at(n.id.value);
    ZmqClient client(a.endpoint, a.curve_z85, client_keys_);
    for (;;) {
      if (!running(n.id))
        throw std::runtime_error(procs_.at(n.id.value).name + " exited; see " + log_file(n.id));
      client.send(ReadUserRequest{UserId{}, {}});  // refused, but answered
      ClientReply reply;
      ClientRequestId got = 0;
      if (client.receive(got, reply, 200 * kUsPerMs)) break;  // any answer: it is up
      if (std::chrono::steady_clock::now() >= deadline)
        throw std::runtime_error(procs_.at(n.id.value).name + " did not answer; see " +
                                 log_file(n.id));
    }
  }
}

std::vector<std::string> Cluster::work_in_flight(TimeUs timeout_us) {
  std::vector<std::string> busy;
  for (const NodeInfo& n : deployment_.topology->nodes()) {
    if (!running(n.id)) continue;
    auto& client = status_clients_[n.id.value];
    if (!client) {
      const NodeAddress& a = deployment_.address.at(n.id.value);
      client = std::make_unique<ZmqClient>(a.endpoint, a.curve_z85, client_keys_);
    }
    try {
      std::string what = client->work_in_flight(timeout_us);
      if (!what.empty()) busy.push_back(name(n.id) + ": " + what);
    } catch (const std::runtime_error&) {
      busy.push_back(name(n.id) + ": no answer");
      client.reset();  // a late answer must not be taken for the next question's
    }
  }
  return busy;
}

std::string Cluster::data_dir(NodeId node) const {
  return procs_.at(node.value).dir + "/data";
}
std::string Cluster::log_file(NodeId node) const {
  return procs_.at(node.value).dir + "/node.log";
}
std::string Cluster::name(NodeId node) const {
  return procs_.at(node.value).name;
}

// One namespace per edge network, each with a veth link into a bridge in
// the launcher's namespace: nodes of different networks talk across links.
void Cluster::setup_netns(const Scenario& s) {
  const std::string tag = "mhr" + std::to_string(::getpid() % 100000);
  const std::string bridge = tag + "br";
  run_command("ip link add " + bridge + " type bridge");
  bridge_ = bridge;
  run_command("ip addr add 10.77.255.254/16 dev " + bridge);
  run_command("ip link set " + bridge + " up");
  for (std::size_t n = 0; n < s.network_count(); ++n) {
    const std::string ns = tag + "n" + std::to_string(n);
    const std::string veth = tag + "v" + std::to_string(n);
    run_command("ip netns add " + ns);
    namespaces_.push_back(ns);
    run_command("ip link add " + veth + " type veth peer name eth0 netns " + ns);
    veths_.push_back(veth);
    run_command("ip link set " + veth + " master " + bridge + " up");
    run_command("ip -n " + ns + " addr add 10.77." + std::to_string(n) + ".1/16 dev eth0");
    run_command("ip -n " + ns + " link set eth0 up");
    run_command("ip -n " + ns + " link set lo up");
  }
}

void Cluster::teardown_netns() {
  for (const std::string& veth : veths_)
    std::system(("ip link delete " + veth + " 2>/dev/null").c_str());
  for (const std::string& ns : namespaces_)
    if (!ns.empty()) std::system(("ip netns delete " + ns + " 2>/dev/null").c_str());
  if (!bridge_.empty()) std::system(("ip link delete " + bridge_ + " 2>/dev/null").c_str());
}

}  // namespace mhr
