#include "tools/bench/bench.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "common/client_codec.hpp"
#include "common/key_wrap.hpp"
#include "common/net/zmq_runtime.hpp"
#include "tools/bench/bench_report.hpp"
#include "tools/launch/cluster.hpp"
#include "tools/sim/workload.hpp"

namespace mhr {

namespace {

using Clock = std::chrono::steady_clock;

TimeUs since(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
}

// Requests signed before the clock starts, so the client's own signing does
// not take the cores the nodes are measured on. Past this, requests are
// signed as they are sent (and counted).
constexpr std::size_t kPresignedRequests = 300'000;
constexpr std::size_t kRegistrationWindow = 2'000;
constexpr TimeUs kReplyTimeoutUs = 60 * kUsPerSecond;
constexpr TimeUs kCollectWaitUs = 2 * kUsPerMs;  // the driver checks its clock at least this often
constexpr std::size_t kMaxOpenLoopInFlight = 50'000;

// One client connection to one record node, with the users registered there.
struct Connection {
  NodeId node;
  std::unique_ptr<ZmqClient> client;
  std::vector<std::uint32_t> users;
  std::size_t next_user = 0;
  std::vector<ClientRequest> presigned;
  std::size_t next_presigned = 0;
  std::map<ClientRequestId, TimeUs> in_flight;  // id -> when it was due
};

// What the load phases saw.
struct PhaseResult {
  double committed_rps = 0;
  std::uint64_t committed = 0;
  std::uint64_t failed = 0;
  std::vector<TimeUs> latencies_us;
  std::uint64_t signed_on_the_fly = 0;
};

class LoadDriver {
 public:
  LoadDriver(const Scenario& s, const Cluster& cluster, const BenchOptions& options)
      : s_(s), cluster_(cluster), options_(options) {
    const Deployment& d = cluster.deployment();
    for (const NodeInfo& n : d.topology->nodes())
      if (n.role == NodeRole::kRecord) record_nodes_.push_back(n.id);
    if (record_nodes_.empty()) throw std::runtime_error("the scenario has no record node");
    for (std::uint32_t c = 0; c < options.clients; ++c) {
      Connection conn;
      conn.node = record_nodes_[c % record_nodes_.size()];
      const NodeAddress& a = d.address[conn.node.value];
      conn.client = std::make_unique<ZmqClient>(a.endpoint, a.curve_z85, cluster.client_keys());
      clients_.push_back(conn.client.get());
      conns_.push_back(std::move(conn));
    }
  }

  // Registers every user of the workload at one record node, through the
  // connections round robin, so every connection has users of its own.
  void register_users() {
    const std::uint32_t users = std::max<std::uint32_t>(1, s_.workload.users);
    std::size_t sent = 0, done = 0;
    std::map<std::pair<std::size_t, ClientRequestId>, std::uint32_t> waiting;
    const Clock::time_point t0 = Clock::now();
    while (done < users) {
      while (sent < users && waiting.size() < kRegistrationWindow) {
        const std::uint32_t u = static_cast<std::uint32_t>(sent++);
        const std::size_t ci = u % conns_.size();  // and so at record node ci % record nodes
        Connection& c = conns_[ci];
        const auto patient = patient_signer(u, s_.protocol.crypto);
        ClientRequest req = RegisterUserRequest{user_id_of(patient->public_key()), {}};
        sign_request(req, *patient, c.node, wall_clock_us(), ++nonce_);
        waiting[{ci, c.client->send(req)}] = u;
      }
      ZmqClient::wait_any(clients_, kCollectWaitUs);
      for (std::size_t ci = 0; ci < conns_.size(); ++ci) {
        ClientRequestId id = 0;
        ClientReply reply;
        while (conns_[ci].client->receive(id, reply, 0)) {
          auto it = waiting.find({ci, id});
          if (it == waiting.end()) continue;
          if (reply.status != ReplyStatus::kOk)
            throw std::runtime_error("registration refused: " + reply.detail);
          conns_[ci].users.push_back(it->second);
          waiting.erase(it);
          ++done;
        }
      }
      if (since(t0) > kReplyTimeoutUs * 5) throw std::runtime_error("registrations time out");
    }
    for (Connection& c : conns_)
      if (c.users.empty()) throw std::runtime_error("more client connections than users");
  }

  // Signs requests ahead for every connection, on every core.
  void presign(std::size_t total) {
    const std::size_t per_conn = total / conns_.size() + 1;
    std::vector<std::thread> threads;
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    for (unsigned t = 0; t < cores; ++t)
      threads.emplace_back([this, t, cores, per_conn] {
        for (std::size_t ci = t; ci < conns_.size(); ci += cores) {
          Connection& c = conns_[ci];
          c.presigned.reserve(per_conn);
          for (std::size_t i = 0; i < per_conn; ++i)
            c.presigned.push_back(make_request(c, i, (ci << 40) + i + 1));
        }
      });
    for (auto& th : threads) th.join();
  }

  // Keeps `window` requests in flight on every connection; counts what
  // commits in [warmup, warmup + measure).
  PhaseResult closed_loop(std::uint32_t window) {
    PhaseResult r;
    const Clock::time_point t0 = Clock::now();
    const TimeUs end = options_.warmup_us + options_.measure_us;
    for (Connection& c : conns_)
      while (c.in_flight.size() < window) send(c, since(t0), r);
    while (since(t0) < end && !interrupted()) {
      collect(t0, r, options_.warmup_us, end, [&](Connection& c) {
        if (since(t0) < end) send(c, since(t0), r);
      });
    }
    r.committed_rps =
        static_cast<double>(r.committed) * kUsPerSecond / static_cast<double>(options_.measure_us);
    drain(t0, r);
    return r;
  }

  // Sends at `rate` records/s whatever the replies (latency counts from when
  // a request was due, so a slow system cannot hide it).
  PhaseResult open_loop(double rate) {
    PhaseResult r;
    const Clock::time_point t0 = Clock::now();
    const TimeUs end = options_.warmup_us + options_.measure_us;
    const double interval_us = kUsPerSecond / std::max(1.0, rate);
    std::uint64_t sent = 0;
    std::size_t next_conn = 0;
    while (since(t0) < end && !interrupted()) {
      const TimeUs now = since(t0);
      while (static_cast<double>(sent) * interval_us <= static_cast<double>(now) &&
             in_flight() < kMaxOpenLoopInFlight) {
        const auto due = static_cast<TimeUs>(static_cast<double>(sent) * interval_us);
        send(conns_[next_conn], due, r);
        next_conn = (next_conn + 1) % conns_.size();
        ++sent;
      }
      const auto next_due = static_cast<TimeUs>(static_cast<double>(sent) * interval_us);
      collect(
          t0, r, options_.warmup_us, end, [](Connection&) {},
          std::clamp<TimeUs>(next_due - since(t0), 0, kCollectWaitUs));
    }
    r.committed_rps =
        static_cast<double>(r.committed) * kUsPerSecond / static_cast<double>(options_.measure_us);
    drain(t0, r);
    return r;
  }

  std::uint64_t records_committed_total() const { return committed_total_; }

  bool interrupted_now() const { return interrupted(); }

 private:
  bool interrupted() const { return options_.interrupted && options_.interrupted->load(); }

  std::size_t in_flight() const {
    std::size_t n = 0;
    for (const Connection& c : conns_) n += c.in_flight.size();
    return n;
  }

  ClientRequest make_request(Connection& c, std::size_t i, std::uint64_t nonce) {
    const std::uint32_t u = c.users[i % c.users.size()];
    const auto& [user, payload] = patient_data(u);
    ClientRequest req = SubmitRecordRequest{
        user, "Observation", Category::kMedical, payload, std::nullopt, std::nullopt, {}};
    sign_request(req, cluster_.client_signer(), c.node, wall_clock_us(), nonce);
    return req;
  }

  // Per user, its id and one sealed payload shared by all its records:
  // deriving keys and sealing are the client's work, done once per user.
  const std::pair<UserId, SharedBytes>& patient_data(std::uint32_t u) {
    std::lock_guard lock(payload_mu_);
    auto it = patients_.find(u);
    if (it != patients_.end()) return it->second;
    const UserId user = user_id(u, s_.protocol.crypto);
    const std::size_t plain = options_.record_bytes > kSealedPayloadOverheadBytes
                                  ? options_.record_bytes - kSealedPayloadOverheadBytes
                                  : 1;
    SharedBytes p(seal_payload(data_key_of(patient_seed(std::to_string(u))), user,
                               Bytes(plain, static_cast<std::uint8_t>('a' + u % 26))));
    return patients_.emplace(u, std::make_pair(user, std::move(p))).first->second;
  }

  void send(Connection& c, TimeUs due_us, PhaseResult& r) {
    ClientRequest req;
    if (c.next_presigned < c.presigned.size()) {
      req = std::move(c.presigned[c.next_presigned++]);
    } else {
      req = make_request(c, c.next_user++, ++nonce_ + (std::uint64_t{1} << 60));
      ++r.signed_on_the_fly;
    }
    c.in_flight[c.client->send(req)] = due_us;
  }

  // Waits up to wait_us for replies (in one poll over every connection: the
  // driver shares the cores with the nodes it measures, so it must not
  // spin), then takes every reply that is there.
  template <class OnReply>
  void collect(Clock::time_point t0, PhaseResult& r, TimeUs from_us, TimeUs to_us, OnReply on_reply,
               TimeUs wait_us = kCollectWaitUs) {
    ZmqClient::wait_any(clients_, wait_us);
    for (Connection& c : conns_) {
      ClientRequestId id = 0;
      ClientReply reply;
      while (c.client->receive(id, reply, 0)) {
        auto it = c.in_flight.find(id);
        if (it == c.in_flight.end()) continue;
        const TimeUs now = since(t0);
        const TimeUs due = it->second;
        c.in_flight.erase(it);
        if (reply.status == ReplyStatus::kOk) {
          ++committed_total_;
          if (now >= from_us && now < to_us) {
            ++r.committed;
            r.latencies_us.push_back(now - due);
          }
        } else if (now >= from_us && now < to_us) {
          ++r.failed;
        }
        on_reply(c);
      }
    }
  }

  // Waits for what is still in flight, so the next phase starts clean.
  void drain(Clock::time_point t0, PhaseResult& r) {
    const TimeUs until = since(t0) + kReplyTimeoutUs;
    while (in_flight() > 0 && since(t0) < until && !interrupted())
      collect(t0, r, 0, 0, [](Connection&) {});
  }

  const Scenario& s_;
  const Cluster& cluster_;
  const BenchOptions& options_;
  std::vector<NodeId> record_nodes_;
  std::vector<Connection> conns_;
  std::vector<ZmqClient*> clients_;  // conns_' clients, for one poll over all
  std::mutex payload_mu_;
  std::map<std::uint32_t, std::pair<UserId, SharedBytes>> patients_;  // map nodes never move
  std::uint64_t nonce_ = 0;
  std::uint64_t committed_total_ = 0;
};

// ---- what the processes used --------------------------------------------------------------

double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  const auto close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(text.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double peak_rss_mb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

std::uint64_t disk_bytes(const std::string& dir) {
  struct stat st {};
  if (::stat((dir + "/data.mdb").c_str(), &st) != 0) return 0;
  return static_cast<std::uint64_t>(st.st_blocks) * 512;
}

std::uint64_t signature_checks(const std::string& dir) {
  std::ifstream in(dir + "/metrics.json");
  auto m = nlohmann::json::parse(in, nullptr, false);
  if (m.is_discarded() || !m.contains("signature_checks")) return 0;
  return m["signature_checks"].get<std::uint64_t>();
}

// Ed25519 verifications per second on one core of this machine, measured
// while nothing else of the benchmark runs.
double ed25519_verify_per_s() {
  const auto key = KeyPair::from_seed(SecretSeed{sha256(as_bytes("mhr-bench"))});
  const Bytes message(200, 7);
  const Signature sig = key.sign(message);
  const Verifier& v = ed25519_verifier();
  const Clock::time_point t0 = Clock::now();
  std::uint64_t n = 0;
  while (since(t0) < kUsPerSecond) {
    for (int i = 0; i < 100; ++i) n += v.verify(key.public_key(), message, sig) ? 1 : 0;
  }
  return static_cast<double>(n) * kUsPerSecond / static_cast<double>(since(t0));
}

nlohmann::json latency_json(std::vector<TimeUs> samples) {
  std::sort(samples.begin(), samples.end());
  auto pct = [&](double p) {
    if (samples.empty()) return 0.0;
    const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(samples.size())));
    return static_cast<double>(samples[std::clamp<std::size_t>(rank, 1, samples.size()) - 1]) /
           kUsPerMs;
  };
  return {{"p50", pct(0.50)}, {"p90", pct(0.90)}, {"p99", pct(0.99)}, {"max", pct(1.0)}};
}

nlohmann::json phase_json(const PhaseResult& r) {
  return {{"committed_rps", r.committed_rps},
          {"committed", r.committed},
          {"failed", r.failed},
          {"latency_ms", latency_json(r.latencies_us)},
          {"signed_during_run", r.signed_on_the_fly}};
}

// One closed loop of the ramp, with each node's CPU seconds during it.
struct RampStep {
  std::uint32_t window = 0;
  PhaseResult result;
  std::vector<double> cpu_seconds;  // by node id
};
struct Ramp {
  std::vector<RampStep> steps;
  std::size_t best = 0;
};

std::vector<double> cpu_now(Cluster& cluster) {
  std::vector<double> out;
  for (std::size_t i = 0; i < cluster.size(); ++i)
    out.push_back(cpu_seconds(cluster.pid(NodeId{static_cast<std::uint32_t>(i)})));
  return out;
}

// Closed loops with the window doubled while throughput still rises: a
// latency-bound pipeline shows its peak only with enough in flight.
Ramp find_peak(LoadDriver& driver, Cluster& cluster, const BenchOptions& options,
               const std::string& mode_name) {
  constexpr double kMinGain = 1.10;
  Ramp ramp;
  for (std::uint32_t w = options.window; w <= std::max(options.window, options.max_window);
       w *= 2) {
    if (options.progress)
      std::fprintf(stderr, "  %s: closed loop, %u in flight per connection\n", mode_name.c_str(),
                   w);
    RampStep step{w, {}, cpu_now(cluster)};
    step.result = driver.closed_loop(w);
    const std::vector<double> after = cpu_now(cluster);
    for (std::size_t i = 0; i < after.size(); ++i)
      step.cpu_seconds[i] = after[i] - step.cpu_seconds[i];
    ramp.steps.push_back(std::move(step));
    const double best_rps = ramp.steps[ramp.best].result.committed_rps;
    const double rps = ramp.steps.back().result.committed_rps;
    if (rps > best_rps) ramp.best = ramp.steps.size() - 1;
    if (ramp.steps.size() > 1 && rps < best_rps * kMinGain) break;
    if (driver.interrupted_now()) break;
  }
  return ramp;
}

nlohmann::json bench_mode(const Scenario& s, ScenarioMode mode, const BenchOptions& options,
                          double verify_per_s) {
  const std::string mode_name(scenario_mode_name(mode));
  ClusterOptions co;
  co.dir = options.out_dir + "/" + mode_name;
  co.bin_dir = options.bin_dir;
  co.fsync = options.fsync;
  Cluster cluster(s, protocol_params(s, mode), co);
  cluster.start_all();
  cluster.wait_ready(60 * kUsPerSecond);
  LoadDriver driver(s, cluster, options);
  if (options.progress)
    std::fprintf(stderr, "  %s: registering %u users\n", mode_name.c_str(), s.workload.users);
  driver.register_users();
  // A restart, so each node's signature-check count (metrics.json, written
  // when it stops) covers the load phases only.
  cluster.stop_all();
  cluster.start_all();
  cluster.wait_ready(60 * kUsPerSecond);
  if (options.progress) std::fprintf(stderr, "  %s: signing requests ahead\n", mode_name.c_str());
  driver.presign(kPresignedRequests);

  const Ramp ramp = find_peak(driver, cluster, options, mode_name);
  const PhaseResult& peak = ramp.steps[ramp.best].result;
  const std::vector<double>& cpu_peak = ramp.steps[ramp.best].cpu_seconds;
  const double rate = options.open_rate.value_or(peak.committed_rps / 2);
  if (options.progress)
    std::fprintf(stderr, "  %s: open loop at %.0f records/s\n", mode_name.c_str(), rate);
  const PhaseResult half = driver.open_loop(rate);

  nlohmann::json nodes = nlohmann::json::object();
  const Topology& t = *cluster.deployment().topology;
  std::vector<double> rss;
  for (const NodeInfo& n : t.nodes()) rss.push_back(peak_rss_mb(cluster.pid(n.id)));
  cluster.stop_all();
  std::uint64_t checks = 0;
  for (const NodeInfo& n : t.nodes()) {
    const std::string dir = cluster.data_dir(n.id);
    checks += signature_checks(dir);
    const double window_s =
        static_cast<double>(options.warmup_us + options.measure_us) / kUsPerSecond;
    nodes[cluster.name(n.id)] = {{"role", node_role_name(n.role)},
                                 {"cpu_seconds", cpu_peak[n.id.value]},
                                 {"cpu_share", cpu_peak[n.id.value] / window_s},
                                 {"peak_rss_mb", rss[n.id.value]},
                                 {"disk_bytes", disk_bytes(dir)}};
  }
  const double per_record =
      static_cast<double>(checks) /
      static_cast<double>(std::max<std::uint64_t>(1, driver.records_committed_total()));
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const double bound_rps = cores * verify_per_s / std::max(1.0, per_record);
  nlohmann::json j = phase_json(peak);
  j["mode"] = mode_name;
  j["peak"] = phase_json(peak);
  j["peak"]["window"] = ramp.steps[ramp.best].window;
  j["ramp"] = nlohmann::json::array();
  for (const RampStep& step : ramp.steps)
    j["ramp"].push_back({{"window", step.window},
                         {"committed_rps", step.result.committed_rps},
                         {"latency_ms", latency_json(step.result.latencies_us)}});
  j["half_load"] = phase_json(half);
  j["half_load"]["offered_rps"] = rate;
  j["latency_ms"] = j["half_load"]["latency_ms"];
  j["verifications_per_record"] = per_record;
  j["crypto_bound_rps"] = bound_rps;
  j["crypto_efficiency"] = peak.committed_rps / bound_rps;
  j["nodes"] = nodes;
  return j;
}

}  // namespace

nlohmann::json run_bench(const Scenario& scenario, const BenchOptions& options) {
  const double verify_per_s = ed25519_verify_per_s();
  nlohmann::json modes = nlohmann::json::array();
  for (ScenarioMode mode : scenario.modes) {
    if (options.interrupted && options.interrupted->load()) break;
    modes.push_back(bench_mode(scenario, mode, options, verify_per_s));
  }
  if (modes.empty()) throw std::runtime_error("interrupted before any mode ran");
  nlohmann::json bench = modes.front();
  bench["scenario"] = scenario.name;
  bench["machine"] = {{"cores", std::max(1u, std::thread::hardware_concurrency())},
                      {"ed25519_verify_per_s_per_core", verify_per_s}};
  bench["settings"] = {{"clients", options.clients},
                       {"window", options.window},
                       {"max_window", options.max_window},
                       {"record_bytes", options.record_bytes},
                       {"warmup_s", static_cast<double>(options.warmup_us) / kUsPerSecond},
                       {"measure_s", static_cast<double>(options.measure_us) / kUsPerSecond},
                       {"users", scenario.workload.users},
                       {"fsync", options.fsync}};
  if (modes.size() > 1) bench["modes"] = modes;
  if (options.baseline) bench["baseline"] = run_pg_baseline(options, bench["committed_rps"]);
  write_bench_files(options.out_dir, bench);
  return bench;
}

}  // namespace mhr
