#include "tools/launch/launch.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <thread>

#include <fstream>

#include <nlohmann/json.hpp>

#include "common/chain_store.hpp"
#include "common/client_codec.hpp"
#include "common/identity.hpp"
#include "common/key_wrap.hpp"
#include "common/net/zmq_runtime.hpp"
#include "tools/launch/cluster.hpp"
#include "tools/sim/checkers.hpp"
#include "tools/sim/faults.hpp"
#include "tools/sim/workload.hpp"

namespace mhr {

namespace {

constexpr TimeUs kStatusTimeoutUs = 2 * kUsPerSecond;
constexpr TimeUs kSettlePollUs = 100 * kUsPerMs;

using Clock = std::chrono::steady_clock;

TimeUs since(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
}

// A crash or restart of the scenario's faults, at its time.
struct CrashEvent {
  TimeUs at_us = 0;
  NodeId node;
  bool restart = false;
};

std::vector<CrashEvent> crash_events(const Scenario& s) {
  std::vector<CrashEvent> events;
  for (const auto& c : s.crashes) {
    events.push_back({c.at_us, c.node, false});
    if (c.restart_us) events.push_back({*c.restart_us, c.node, true});
  }
  std::stable_sort(events.begin(), events.end(),
                   [](const CrashEvent& a, const CrashEvent& b) { return a.at_us < b.at_us; });
  return events;
}

// Replays the workload against the record nodes in wall-clock time, one
// pipelined client connection per record node, and kills (SIGKILL) and
// restarts nodes where the scenario's faults say.
class WallDriver {
 public:
  WallDriver(const Scenario& s, Cluster& cluster, RunSummary& summary, const LaunchOptions& options)
      : s_(s),
        cluster_(cluster),
        summary_(summary),
        options_(options),
        actions_(generate_workload(s, options.seed)),
        crashes_(crash_events(s)) {
    const Deployment& d = cluster.deployment();
    for (const NodeInfo& n : d.topology->nodes())
      if (n.role == NodeRole::kRecord)
        clients_.emplace(n.id.value, std::make_unique<ZmqClient>(d.address[n.id.value].endpoint,
                                                                 d.address[n.id.value].curve_z85,
                                                                 cluster.client_keys()));
  }

  void run() {
    t0_ = Clock::now();
    std::size_t next = 0;
    while ((next < actions_.size() || next_crash_ < crashes_.size()) && !interrupted()) {
      const TimeUs now = since(t0_);
      while (next_crash_ < crashes_.size() && crashes_[next_crash_].at_us <= now)
        inject(crashes_[next_crash_++]);
      while (next < actions_.size() && actions_[next].at_us <= now) perform(actions_[next++]);
      TimeUs due = next < actions_.size() ? actions_[next].at_us : s_.duration_us;
      if (next_crash_ < crashes_.size()) due = std::min(due, crashes_[next_crash_].at_us);
      collect(std::clamp<TimeUs>(due - since(t0_), 0, 2 * kUsPerMs));
      if (options_.progress) progress(next);
    }
    const TimeUs end = std::max(s_.duration_us, since(t0_)) + options_.drain_us;
    while (!outstanding_.empty() && since(t0_) < end && !interrupted()) collect(10 * kUsPerMs);
    summary_.records_failed += outstanding_records();
    if (options_.progress) std::fprintf(stderr, "\n");
  }

  LatencyRecorder latencies;
  TimeUs last_commit_us = 0;

 private:
  struct Outstanding {
    bool record = false;
    TimeUs sent_us = 0;
    std::uint32_t user = 0;
  };

  bool interrupted() const { return options_.interrupted && options_.interrupted->load(); }

  void inject(const CrashEvent& e) {
    if (e.restart) {
      cluster_.start(e.node);
      return;
    }
    cluster_.kill(e.node);
    // Its clients see the connection drop: what it had not answered failed.
    for (auto it = outstanding_.begin(); it != outstanding_.end();) {
      if (it->first.first != e.node.value) {
        ++it;
        continue;
      }
      if (it->second.record) ++summary_.records_failed;
      it = outstanding_.erase(it);
    }
  }

  const Signer& patient(std::uint32_t user) {
    auto& s = patients_[user];
    if (!s) s = patient_signer(user, s_.protocol.crypto);
    return *s;
  }
  ClientRequest signed_request(ClientRequest r, const Signer& by, NodeId node) {
    sign_request(r, by, node, wall_clock_us(), ++nonce_);
    return r;
  }

  // Like a real client: plaintext (starting with kPlaintextMarker, so a
  // scan of the stores can prove none lands on disk) sealed with the
  // patient's data key.
  SharedBytes sealed_payload(std::uint32_t index, const UserId& user, std::uint32_t bytes) {
    const std::size_t plain_bytes =
        bytes > kSealedPayloadOverheadBytes ? bytes - kSealedPayloadOverheadBytes : 0;
    std::string plain(kPlaintextMarker);
    plain.resize(std::max(plain_bytes, plain.size()), 'x');
    const AeadKey key = data_key_of(patient_seed(std::to_string(index)));
    return SharedBytes(seal_payload(key, user, as_bytes(plain)));
  }

  // A crashed node: a hospital's client cannot reach it.
  bool down(NodeId node) {
    if (cluster_.running(node)) return false;
    ++summary_.counters["requests_not_sent_node_down"];
    return true;
  }

  void perform(const WorkloadAction& a) {
    const Signer& patient = this->patient(a.user);
    const UserId user = user_id_of(patient.public_key());
    if (a.kind == WorkloadAction::Kind::kRegister) {
      if (down(a.node)) return;
      ZmqClient& client = *clients_.at(a.node.value);
      ClientRequest reg = signed_request(RegisterUserRequest{user, {}}, patient, a.node);
      outstanding_[{a.node.value, client.send(reg)}] = {false, since(t0_), a.user};
      return;
    }
    // Like a hospital, write only where the registration was confirmed.
    auto confirmed = confirmed_.find(a.user);
    if (confirmed == confirmed_.end() || confirmed->second.empty()) {
      ++summary_.counters["records_not_sent_unregistered"];
      return;
    }
    const std::uint32_t node =
        confirmed->second.contains(a.node.value) ? a.node.value : *confirmed->second.begin();
    if (down(NodeId{node})) return;
    ZmqClient& client = *clients_.at(node);
    SubmitRecordRequest req{user,         s_.workload.content_types.at(a.content_type),
                            a.category,   sealed_payload(a.user, user, a.payload_bytes),
                            std::nullopt,

                            std::nullopt, {}};
    ++summary_.records_submitted;
    ++sample_at(summary_.per_second, since(t0_)).submitted;
    ClientRequest signed_req =
        signed_request(std::move(req), cluster_.client_signer(), NodeId{node});
    outstanding_[{node, client.send(signed_req)}] = {true, since(t0_), a.user};
  }

  void collect(TimeUs wait_us) {
    bool first = true;
    for (auto& [node, client] : clients_) {
      ClientRequestId id = 0;
      ClientReply reply;
      while (client->receive(id, reply, first ? wait_us : 0)) {
        first = false;
        on_reply(node, id, reply);
      }
    }
  }

  void on_reply(std::uint32_t node, ClientRequestId id, const ClientReply& reply) {
    auto it = outstanding_.find({node, id});
    if (it == outstanding_.end()) return;
    const Outstanding o = it->second;
    outstanding_.erase(it);
    if (!o.record) {
      if (reply.status == ReplyStatus::kOk) confirmed_[o.user].insert(node);
      return;
    }
    if (reply.status != ReplyStatus::kOk) {
      ++summary_.records_failed;
      return;
    }
    const TimeUs now = since(t0_);
    ++summary_.records_committed;
    ++sample_at(summary_.per_second, now).committed;
    latencies.add(now - o.sent_us);
    last_commit_us = now;
  }

  std::uint64_t outstanding_records() const {
    std::uint64_t n = 0;
    for (const auto& [key, o] : outstanding_) n += o.record ? 1 : 0;
    return n;
  }

  void progress(std::size_t done) {
    TimeUs now = since(t0_);
    if (now - last_progress_us_ < kUsPerSecond / 2) return;
    last_progress_us_ = now;
    std::fprintf(stderr, "\r  %.1f / %.0f s, %zu/%zu actions, %llu committed   ",
                 static_cast<double>(now) / kUsPerSecond,
                 static_cast<double>(s_.duration_us) / kUsPerSecond, done, actions_.size(),
                 static_cast<unsigned long long>(summary_.records_committed));
  }

  const Scenario& s_;
  Cluster& cluster_;
  RunSummary& summary_;
  const LaunchOptions& options_;
  std::vector<WorkloadAction> actions_;
  std::vector<CrashEvent> crashes_;
  std::size_t next_crash_ = 0;
  std::map<std::uint32_t, std::unique_ptr<ZmqClient>> clients_;
  std::map<std::pair<std::uint32_t, ClientRequestId>, Outstanding> outstanding_;
  std::map<std::uint32_t, std::set<std::uint32_t>> confirmed_;  // user -> record nodes
  Clock::time_point t0_;
  TimeUs last_progress_us_ = 0;
  std::uint64_t salt_ = 0;
  std::map<std::uint32_t, std::unique_ptr<Signer>> patients_;  // made when first needed
  std::uint64_t nonce_ = 0;
};

// The stores of stopped nodes, opened for the checkers.
class StoppedStores {
 public:
  explicit StoppedStores(const Cluster& cluster) {
    for (std::size_t i = 0; i < cluster.size(); ++i) {
      auto s = open_lmdb_store(cluster.data_dir(NodeId{static_cast<std::uint32_t>(i)}));
      if (!s.ok()) throw std::runtime_error(s.error());
      stores_.push_back(std::move(s).value());
    }
  }
  const Store& at(NodeId n) const { return *stores_.at(n.value); }

 private:
  std::vector<std::unique_ptr<Store>> stores_;
};

// Adds up what every node reported in its metrics.json when it stopped.
void add_node_metrics(const Cluster& cluster, RunSummary& summary) {
  for (std::size_t i = 0; i < cluster.size(); ++i) {
    std::ifstream in(cluster.data_dir(NodeId{static_cast<std::uint32_t>(i)}) + "/metrics.json");
    if (!in) continue;  // killed, or never started
    nlohmann::json m = nlohmann::json::parse(in, nullptr, false);
    if (m.is_discarded()) continue;
    for (const auto& [key, value] : m.items()) {
      if (!value.is_number_unsigned()) continue;
      const std::uint64_t v = value.get<std::uint64_t>();
      if (key == "messages_out") summary.messages.total += v;
      if (key == "out_intra") summary.messages.intra_network += v;
      if (key == "out_inter") summary.messages.inter_network += v;
      if (key == "bytes_out") summary.bytes_sent += v;
      if (key.rfind("out.", 0) == 0 && v > 0) summary.messages.by_type[key.substr(4)] += v;
      if (key.rfind("counter.", 0) == 0)
        summary.counters[key.substr(8)] += static_cast<std::int64_t>(v);
    }
  }
  summary.migrations_completed =
      static_cast<std::uint64_t>(summary.counters["migrations_completed"]);
  summary.records_moved = static_cast<std::uint64_t>(summary.counters["records_migrated"]);
}

// Crashes are injected for real; the rest of a scenario's faults needs the
// simulator's network and wire: said, not silently dropped.
void warn_simulated_only(const Scenario& s) {
  std::vector<std::string> skipped;
  if (!s.partitions.empty()) skipped.push_back("partitions");
  if (s.intra.loss > 0 || s.inter.loss > 0 || s.intra.duplicate > 0 || s.inter.duplicate > 0)
    skipped.push_back("message loss and duplication");
  if (!s.byzantine.empty()) skipped.push_back("Byzantine nodes");
  if (skipped.empty()) return;
  std::string list;
  for (const std::string& k : skipped) list += (list.empty() ? "" : ", ") + k;
  std::fprintf(stderr,
               "mhr launch: the scenario's %s are injected only by mhr sim; crashes and "
               "restarts are injected here (SIGKILL)\n",
               list.c_str());
}

// Clients have their answers, but records may still be crossing networks or
// reaching holders: waits until every node says it is idle twice in a row
// (a message between two nodes is someone's unacknowledged work), at most
// drain_us. Stopping earlier would look like lost records to the checkers.
void settle(Cluster& cluster, RunSummary& summary, const LaunchOptions& options) {
  const auto deadline = Clock::now() + std::chrono::microseconds(options.drain_us);
  std::vector<std::string> busy;
  for (int idle_polls = 0; idle_polls < 2;) {
    if (options.interrupted && options.interrupted->load()) return;
    busy = cluster.work_in_flight(kStatusTimeoutUs);
    idle_polls = busy.empty() ? idle_polls + 1 : 0;
    if (idle_polls == 2) return;
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::microseconds(kSettlePollUs));
  }
  std::string names;
  for (std::size_t i = 0; i < busy.size() && i < 3; ++i)
    names += (names.empty() ? "" : "; ") + busy[i];
  add_violation(summary, "work still in flight " + std::to_string(options.drain_us / kUsPerSecond) +
                             " s after the last client reply (" + names + ")");
}

RunSummary launch_mode(const Scenario& s, ScenarioMode mode, const LaunchOptions& options) {
  auto wall_start = Clock::now();
  RunSummary summary;
  summary.scenario = s.name;
  summary.seed = options.seed;
  summary.mode = std::string(scenario_mode_name(mode));
  summary.overrides = s.overrides;
  for (const auto& c : s.crashes) summary.faults.push_back(describe_crash(s, c));
  ClusterOptions co;
  co.dir = options.out_dir + "/" + summary.mode;
  co.bin_dir = options.bin_dir;
  co.netns = options.netns;
  co.fsync = options.fsync;
  Cluster cluster(s, protocol_params(s, mode), co);
  cluster.start_all();
  cluster.wait_ready(30 * kUsPerSecond);
  WallDriver driver(s, cluster, summary, options);
  driver.run();
  settle(cluster, summary, options);
  cluster.stop_all();
  add_node_metrics(cluster, summary);

  summary.latency_ms = driver.latencies.summary();
  summary.latency_histogram = driver.latencies.histogram();
  const TimeUs span = std::max<TimeUs>(1, driver.last_commit_us - s.workload.start_us);
  summary.throughput_rps =
      static_cast<double>(summary.records_committed) * kUsPerSecond / static_cast<double>(span);
  StoppedStores stores(cluster);
  const Topology& topology = *cluster.deployment().topology;
  for (const NodeInfo& n : topology.nodes()) {
    if (n.role != NodeRole::kRecord) continue;
    summary.node_storage.push_back({cluster.name(n.id), stores.at(n.id).size_bytes(),
                                    ChainStore(stores.at(n.id)).record_count()});
  }
  summary.storage_bytes = summarize_storage(summary.node_storage);
  CheckInput in{topology,
                [&](NodeId n) -> const Store& { return stores.at(n); },
                [&](NodeId n) { return cluster.name(n); },
                {}};
  CheckResult result = check_stores(in, kMaxViolationList);
  const std::uint64_t before = summary.violations;
  for (std::string& m : result.messages) add_violation(summary, std::move(m));
  summary.violations = before + result.violations;
  summary.wall_seconds = std::chrono::duration<double>(Clock::now() - wall_start).count();
  return summary;
}

}  // namespace

std::vector<RunSummary> launch_scenario(const Scenario& scenario, const LaunchOptions& options) {
  const Scenario effective = with_random_faults(scenario, options.seed);
  warn_simulated_only(effective);
  std::vector<RunSummary> runs;
  for (ScenarioMode mode : effective.modes) {
    if (options.interrupted && options.interrupted->load()) break;
    runs.push_back(launch_mode(effective, mode, options));
  }
  return runs;
}

}  // namespace mhr
