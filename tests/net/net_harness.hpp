// A tiny deployment built in code (one network: a record node, a consensus
// node and an index node, with real keys and free ports on 127.0.0.1), a toy
// role that echoes presence queries and answers clients, and TestNode, which
// runs one ZmqRuntime in its own thread and lets the test act on the node's
// Env from the node's own loop thread.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/net/zmq_runtime.hpp"

namespace mhr::nettest {

using namespace std::chrono_literals;

// A TCP port nobody listens on right now (the kernel picks it).
inline int free_tcp_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot find a free port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

inline CurveKeyPair curve_pair() {
  char pub[41] = {}, sec[41] = {};
  if (zmq_curve_keypair(pub, sec) != 0) throw std::runtime_error("zmq_curve_keypair failed");
  return CurveKeyPair{pub, sec};
}

// A directory removed with everything in it at the end of the test.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("mhr_net_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline constexpr NodeId kRecordNode{0};
inline constexpr NodeId kConsensusNode{1};
inline constexpr NodeId kIndexNode{2};

// Network 0: record node 0, consensus node 1, index node 2. Node 0 admits
// `client` as a client.
struct Cluster {
  TempDir dir;
  Deployment deployment;
  std::vector<NodeConfig> configs;
  std::vector<NodeKeys> keys;
  CurveKeyPair client;

  Cluster() {
    const NodeRole roles[] = {NodeRole::kRecord, NodeRole::kConsensus, NodeRole::kIndex};
    std::vector<NodeInfo> nodes;
    client = curve_pair();
    for (std::uint32_t i = 0; i < 3; ++i) {
      NodeKeys k;
      k.sign_seed.bytes.fill(static_cast<std::uint8_t>(0x40 + i));
      k.curve = curve_pair();
      NodeInfo info;
      info.id = NodeId{i};
      info.role = roles[i];
      info.network = NetworkId{0};
      info.key = make_signer(CryptoMode::kReal, k.sign_seed)->public_key();
      info.name = std::string(node_role_name(roles[i])) + "-" + std::to_string(i);
      nodes.push_back(info);

      NodeConfig c;
      c.id = NodeId{i};
      c.listen = "tcp://127.0.0.1:" + std::to_string(free_tcp_port());
      c.data_dir = (dir.path() / ("n" + std::to_string(i))).string();
      if (i == kRecordNode.value) c.client_keys = {client.public_z85};
      c.fsync = false;
      c.heartbeat_us = 200 * kUsPerMs;
      c.heartbeat_timeout_us = 1 * kUsPerSecond;
      c.reconnect_us = 20 * kUsPerMs;
      c.reconnect_max_us = 200 * kUsPerMs;
      deployment.address.push_back(NodeAddress{c.listen, k.curve.public_z85});
      configs.push_back(c);
      keys.push_back(k);
    }
    NetworkInfo net;
    net.id = NetworkId{0};
    net.record_nodes = {kRecordNode};
    net.consensus_nodes = {kConsensusNode};
    net.index_node = kIndexNode;
    net.validators.members = {{kConsensusNode, nodes[1].key}};
    net.validators.quorum = 1;
    deployment.topology = std::make_shared<const Topology>(
        std::move(nodes), std::vector<NetworkInfo>{net}, ProtocolParams{});
  }
};

// What the toy role saw, shared with the test thread.
struct Observed {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<NodeId, Message>> messages;
  std::vector<std::uint64_t> fired;  // timer tags, in firing order
  std::deque<std::function<void(Env&)>> commands;
  int starts = 0;
  int client_requests = 0;

  // Waits until pred() (called under the lock) holds; false on time-out.
  template <class Pred>
  bool wait(Pred pred, std::chrono::milliseconds timeout = 5000ms) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, timeout, pred);
  }
  template <class T>
  std::size_t count_from(NodeId from) {
    std::size_t n = 0;
    for (const auto& [f, m] : messages) n += (f == from && std::holds_alternative<T>(m)) ? 1 : 0;
    return n;
  }
};

inline constexpr std::uint64_t kCommandTag = 0xC0FFEE;
inline constexpr TimeUs kCommandPollUs = 2 * kUsPerMs;

// Echoes presence queries with a flag, answers clients from its store, and
// runs the test's commands on its loop thread.
class EchoLogic final : public NodeLogic {
 public:
  EchoLogic(Env& env, Observed& seen) : env_(env), seen_(seen) {}
  std::string work_in_flight() const override { return {}; }

  void start() override {
    {
      std::lock_guard lock(seen_.mu);
      ++seen_.starts;
    }
    seen_.cv.notify_all();
    env_.set_timer(kCommandPollUs, kCommandTag);
  }

  void on_message(NodeId from, const Message& m) override {
    if (const auto* q = std::get_if<PresenceQuery>(&m))
      env_.send(from, make_message(PresenceFlag{q->user, q->record_hash, true}));
    {
      std::lock_guard lock(seen_.mu);
      seen_.messages.emplace_back(from, m);
    }
    seen_.cv.notify_all();
  }

  void on_timer(TimerId, std::uint64_t tag) override {
    if (tag == kCommandTag) {
      std::deque<std::function<void(Env&)>> commands;
      {
        std::lock_guard lock(seen_.mu);
        commands.swap(seen_.commands);
      }
      env_.set_timer(kCommandPollUs, kCommandTag);
      for (auto& c : commands) c(env_);
      return;
    }
    {
      std::lock_guard lock(seen_.mu);
      seen_.fired.push_back(tag);
    }
    seen_.cv.notify_all();
  }

  void on_client(ClientRequestId id, const ClientRequest& request) override {
    {
      std::lock_guard lock(seen_.mu);
      ++seen_.client_requests;
    }
    ClientReply reply;
    if (const auto* reg = std::get_if<RegisterUserRequest>(&request)) {
      WriteBatch batch;
      batch.put(Table::kUsers, reg->user.view(), as_bytes("registered"));
      env_.store().write(batch);
      reply.detail = "registered";
    } else if (const auto* read = std::get_if<ReadUserRequest>(&request)) {
      reply.detail = env_.store().get(Table::kUsers, read->user.view()) ? "present" : "absent";
    } else {
      const auto& submit = std::get<SubmitRecordRequest>(request);
      reply.detail = submit.content_type;
      reply.entry_hash = sha256(submit.payload.view());
    }
    env_.reply(id, std::move(reply));
  }

 private:
  Env& env_;
  Observed& seen_;
};

// One node: a ZmqRuntime running EchoLogic in its own thread.
class TestNode {
 public:
  TestNode(const Cluster& cluster, NodeId id) : TestNode(cluster, cluster.configs[id.value]) {}
  TestNode(const Cluster& cluster, NodeConfig config)
      : cluster_(cluster), config_(std::move(config)) {}
  ~TestNode() {
    try {
      stop();
    } catch (...) {
    }
  }
  TestNode(const TestNode&) = delete;
  TestNode& operator=(const TestNode&) = delete;

  NodeConfig& config() { return config_; }
  Observed& seen() { return seen_; }

  void start() {
    stop();
    runtime_ =
        std::make_unique<ZmqRuntime>(config_, cluster_.deployment, cluster_.keys[config_.id.value]);
    stop_flag_ = false;
    error_ = nullptr;
    thread_ = std::thread([this] {
      try {
        runtime_->run([this](Env& env) { return std::make_unique<EchoLogic>(env, seen_); },
                      stop_flag_);
      } catch (...) {
        error_ = std::current_exception();
      }
    });
  }

  // Stops the loop, joins it and destroys the runtime (closing the store).
  // Rethrows what run() threw.
  void stop() {
    if (!runtime_) return;
    stop_flag_ = true;
    if (thread_.joinable()) thread_.join();
    last_stats_ = runtime_->stats();
    runtime_.reset();
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  }
  // Joins a loop that ends by itself (a role exception); returns what run() threw.
  std::exception_ptr join_failed() {
    if (thread_.joinable()) thread_.join();
    runtime_.reset();
    return std::exchange(error_, nullptr);
  }

  // Queues f to run on the node's loop thread.
  void post(std::function<void(Env&)> f) {
    std::lock_guard lock(seen_.mu);
    seen_.commands.push_back(std::move(f));
  }
  // Runs f on the node's loop thread and returns its result.
  template <class F>
  auto exec(F f) -> decltype(f(std::declval<Env&>())) {
    using R = decltype(f(std::declval<Env&>()));
    auto task = std::make_shared<std::packaged_task<R(Env&)>>(std::move(f));
    std::future<R> result = task->get_future();
    post([task](Env& env) { (*task)(env); });
    if (result.wait_for(5s) != std::future_status::ready)
      throw std::runtime_error("command not run within 5 s");
    return result.get();
  }
  // The runtime's counters, read on its loop thread (or the last ones).
  RuntimeStats stats() {
    if (!runtime_) return last_stats_;
    return exec([this](Env&) { return runtime_->stats(); });
  }
  // Polls stats until pred holds; false on time-out.
  template <class Pred>
  bool wait_stats(Pred pred, std::chrono::milliseconds timeout = 5000ms) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (pred(stats())) return true;
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(5ms);
    }
  }

 private:
  const Cluster& cluster_;
  NodeConfig config_;
  Observed seen_;
  std::unique_ptr<ZmqRuntime> runtime_;
  std::atomic<bool> stop_flag_{false};
  std::thread thread_;
  std::exception_ptr error_;
  RuntimeStats last_stats_;
};

inline UserId user_of(std::uint8_t b) {
  UserId u;
  u.bytes.fill(b);
  return u;
}

inline MessagePtr presence_query(std::uint8_t b) {
  return make_message(PresenceQuery{user_of(b), sha256(as_bytes(std::to_string(b)))});
}

}  // namespace mhr::nettest
