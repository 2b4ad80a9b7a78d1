#include "tools/sim/run.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <thread>

#include "common/client_codec.hpp"
#include "common/identity.hpp"
#include "common/sim/world.hpp"
#include "consensus_node/consensus_node.hpp"
#include "edge_node/record_node.hpp"
#include "index_node/index_node.hpp"
#include "tools/sim/checkers.hpp"
#include "tools/sim/chunked.hpp"
#include "tools/sim/faults.hpp"
#include "tools/sim/workload.hpp"

namespace mhr {

SecretSeed node_seed(std::uint64_t node) {
  constexpr std::string_view kNodeSeedDomain = "mhr-sim-node-key";
  Bytes b(kNodeSeedDomain.begin(), kNodeSeedDomain.end());
  append_be64(b, node);
  return SecretSeed{sha256(b)};
}

namespace {

LinkClass link_of(const Scenario::LinkClass& c) {
  return {c.latency.model(), static_cast<double>(c.bandwidth_bps) / 8.0, c.loss, c.duplicate};
}

CpuModel cpu_of(const Scenario::Cpu& c) {
  CpuModel m;
  m.enabled = c.enabled;
  m.per_message_us = c.per_message_us;
  m.per_byte_ns = c.per_byte_ns;
  m.sign_us = c.sign_us;
  m.verify_us = c.verify_us;
  m.store_commit_us = c.store_commit_us;
  m.store_per_byte_ns = c.store_per_byte_ns;
  return m;
}

NetworkModel network_model(const Scenario& s) {
  NetworkModel m;
  m.intra = link_of(s.intra);
  m.inter = link_of(s.inter);
  return m;
}

}  // namespace

// Replays the workload: actions are fed in order by one chain of driver
// events per lane, so a million records cost one pending driver event per
// lane at a time. A lane's chain performs the actions on its nodes and keeps
// its own tallies (each lane may run on its own thread); add_to sums them.
class SimRun::Driver {
 public:
  Driver(const Scenario& s, SimWorld& world, std::uint64_t seed)
      : s_(s), world_(world), actions_(generate_workload(s, seed)), lanes_(world.lane_count()) {
    for (std::size_t i = 0; i < actions_.size(); ++i)
      lanes_[world_.lane_of(actions_[i].node)].actions.push_back(static_cast<std::uint32_t>(i));
    for (std::uint32_t l = 0; l < lanes_.size(); ++l) schedule_pump(l);
  }

  // The lanes' tallies, in lane order.
  void add_to(RunSummary& summary, LatencyRecorder& latencies, TimeUs& last_commit_us) const {
    std::uint64_t not_sent = 0;
    for (const Lane& lane : lanes_) {
      summary.records_submitted += lane.submitted;
      summary.records_committed += lane.committed.load(std::memory_order_relaxed);
      summary.records_failed += lane.failed;
      not_sent += lane.not_sent_unregistered;
      for (std::size_t sec = 0; sec < lane.per_second.size(); ++sec) {
        SecondSample& sample =
            sample_at(summary.per_second, static_cast<TimeUs>(sec) * kUsPerSecond);
        sample.submitted += lane.per_second[sec].submitted;
        sample.committed += lane.per_second[sec].committed;
      }
      latencies.add_all(lane.latencies);
      last_commit_us = std::max(last_commit_us, lane.last_commit_us);
    }
    if (not_sent > 0)
      summary.counters["records_not_sent_unregistered"] += static_cast<std::int64_t>(not_sent);
  }

  // Records committed so far (read while the lanes run: the progress line).
  std::uint64_t committed() const {
    std::uint64_t n = 0;
    for (const Lane& lane : lanes_) n += lane.committed.load(std::memory_order_relaxed);
    return n;
  }

 private:
  struct Lane {
    std::vector<std::uint32_t> actions;  // indices into actions_, in time order
    std::size_t next = 0;
    std::vector<std::set<NodeId>> confirmed;            // by user index: where registered
    std::vector<std::unique_ptr<Signer>> patients;      // by user index, made when first needed
    std::vector<std::unique_ptr<Signer>> institutions;  // by node id
    std::uint64_t requests = 0;
    // Tallies.
    std::uint64_t submitted = 0, failed = 0, not_sent_unregistered = 0;
    std::atomic<std::uint64_t> committed{0};  // also read by the progress line
    std::vector<SecondSample> per_second;
    LatencyRecorder latencies;
    TimeUs last_commit_us = 0;
  };

  void schedule_pump(std::uint32_t l) {
    Lane& lane = lanes_[l];
    if (lane.next < lane.actions.size())
      world_.at_lane(l, actions_[lane.actions[lane.next]].at_us, [this, l] { pump(l); });
  }

  void pump(std::uint32_t l) {
    Lane& lane = lanes_[l];
    const TimeUs now = world_.now();
    while (lane.next < lane.actions.size() && actions_[lane.actions[lane.next]].at_us <= now) {
      const std::uint32_t i = lane.actions[lane.next++];
      perform(lane, l, actions_[i], i);
    }
    schedule_pump(l);
  }

  // Requests are signed like real clients sign them: registrations by the
  // patient, records by the institution (the node's key) writing them.
  const Signer& patient(Lane& lane, std::uint32_t user) {
    if (user >= lane.patients.size()) lane.patients.resize(user + 1);
    if (!lane.patients[user]) lane.patients[user] = patient_signer(user, s_.protocol.crypto);
    return *lane.patients[user];
  }
  const Signer& institution(Lane& lane, NodeId node) {
    if (node.value >= lane.institutions.size()) lane.institutions.resize(node.value + 1);
    auto& s = lane.institutions[node.value];
    if (!s) s = make_signer(s_.protocol.crypto, node_seed(node.value));
    return *s;
  }
  // Nonces are unique across lanes: lane l of n uses l+1, l+1+n, ... (with
  // one lane, 1, 2, 3...).
  ClientRequest signed_request(Lane& lane, std::uint32_t l, ClientRequest r, const Signer& by,
                               NodeId node) {
    const std::uint64_t nonce = lane.requests++ * lanes_.size() + l + 1;
    sign_request(r, by, node, world_.now(), nonce);
    return r;
  }

  void perform(Lane& lane, std::uint32_t l, const WorkloadAction& a, std::uint32_t index) {
    const Signer& patient = this->patient(lane, a.user);
    const UserId user = user_id_of(patient.public_key());
    if (a.kind == WorkloadAction::Kind::kRegister) {
      world_.submit(a.node, signed_request(lane, l, RegisterUserRequest{user, {}}, patient, a.node),
                    [&lane, a](const ClientReply& reply) {
                      if (reply.status != ReplyStatus::kOk) return;
                      if (a.user >= lane.confirmed.size()) lane.confirmed.resize(a.user + 1);
                      lane.confirmed[a.user].insert(a.node);
                    });
      return;
    }
    // Like a hospital, write only where the registration was confirmed (in
    // this lane: a lane knows its own nodes' replies).
    if (a.user >= lane.confirmed.size() || lane.confirmed[a.user].empty()) {
      ++lane.not_sent_unregistered;
      return;
    }
    const std::set<NodeId>& confirmed = lane.confirmed[a.user];
    const NodeId node = confirmed.contains(a.node) ? a.node : *confirmed.begin();
    SubmitRecordRequest req{user,
                            s_.workload.content_types.at(a.content_type),
                            a.category,
                            workload_payload(a.payload_bytes, index + 1),
                            std::nullopt,
                            std::nullopt,
                            {}};
    const TimeUs submitted_at = world_.now();
    ++lane.submitted;
    ++sample_at(lane.per_second, submitted_at).submitted;
    world_.submit(node, signed_request(lane, l, std::move(req), institution(lane, node), node),
                  [this, &lane, submitted_at](const ClientReply& reply) {
                    if (reply.status != ReplyStatus::kOk) {
                      ++lane.failed;
                      return;
                    }
                    const TimeUs now = world_.now();
                    lane.committed.fetch_add(1, std::memory_order_relaxed);
                    ++sample_at(lane.per_second, now).committed;
                    lane.latencies.add(now - submitted_at);
                    lane.last_commit_us = now;
                  });
  }

  const Scenario& s_;
  SimWorld& world_;
  std::vector<WorkloadAction> actions_;
  std::vector<Lane> lanes_;
};

SimRun::SimRun(const Scenario& s, ScenarioMode mode, const SimOptions& o)
    : s_(s),
      mode_(mode),
      options_(o),
      threads_(o.threads > 0 ? o.threads : std::max(1u, std::thread::hardware_concurrency())),
      world_(o.seed, network_model(s), cpu_of(s.cpu)) {
  build();
  world_.set_verbose(options_.verbose);
}

SimRun::~SimRun() = default;

RunSummary SimRun::run() {
  auto wall_start = std::chrono::steady_clock::now();
  driver_ = std::make_unique<Driver>(s_, world_, options_.seed);
  if (options_.progress) install_progress();
  world_.start_all();
  world_.run_until(s_.duration_us);
  drain();
  summary_.scenario = s_.name;
  summary_.seed = options_.seed;
  summary_.mode = std::string(scenario_mode_name(mode_));
  summary_.overrides = s_.overrides;
  summary_.faults = describe_faults(s_);
  collect();
  summary_.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  return summary_;
}

void SimRun::build() {
  world_.set_lanes(s_.lanes, threads_);
  summary_.lanes = world_.lane_count();
  summary_.threads = world_.thread_count();
  ProtocolParams params = protocol_params(s_, mode_);
  const Verifier& verifier = verifier_for(params.crypto);
  std::vector<NodeSpec> specs = node_specs(s_);
  std::vector<std::unique_ptr<Signer>> signers;
  std::vector<PublicKey> keys;
  for (const NodeSpec& spec : specs) {
    signers.push_back(make_signer(params.crypto, node_seed(spec.id.value)));
    keys.push_back(signers.back()->public_key());
  }
  topology_ = std::make_shared<const Topology>(make_topology(s_, params, keys));
  for (std::size_t i = 0; i < specs.size(); ++i) {
    NodeId id =
        world_.add_node(specs[i].network, std::move(signers[i]), verifier, factory(specs[i]));
    MHR_ASSERT(id == specs[i].id);
  }
  for (const auto& p : s_.partitions) world_.add_partition({p.start_us, p.end_us, p.groups});
  for (const auto& c : s_.crashes)
    world_.schedule_crash(c.node, c.at_us, c.restart_us.value_or(INT64_MAX));
}

SimWorld::LogicFactory SimRun::factory(const NodeSpec& spec) {
  TopologyPtr t = topology_;
  for (const Scenario::ByzantineReplica& b : s_.byzantine)
    if (b.node == spec.id) return [t, b](Env& env) { return byzantine_node(env, t, b.behaviour); };
  switch (spec.role) {
    case NodeRole::kRecord:
      return [t](Env& env) { return std::make_unique<RecordNode>(env, t); };
    case NodeRole::kConsensus:
      return [t](Env& env) { return std::make_unique<ConsensusNode>(env, t); };
    case NodeRole::kIndex:
      return [t](Env& env) { return std::make_unique<IndexNode>(env, t); };
  }
  MHR_ASSERT(false);
  return {};
}

bool SimRun::quiescent() {
  return busy_nodes(1).empty();
}

std::vector<std::string> SimRun::busy_nodes(std::size_t max, bool honest_only) {
  std::set<NodeId> byzantine;
  if (honest_only)
    for (const Scenario::ByzantineReplica& b : s_.byzantine) byzantine.insert(b.node);
  std::vector<std::string> busy;
  for (std::size_t i = 0; i < world_.node_count() && busy.size() < max; ++i) {
    const NodeId id{static_cast<std::uint32_t>(i)};
    if (byzantine.contains(id)) continue;
    NodeLogic* logic = honest_logic(world_.logic_of(id));
    if (!logic) continue;  // a node that stays down has nothing in flight
    const std::string what = logic->work_in_flight();
    if (!what.empty()) busy.push_back(s_.layout.name_of(id) + ": " + what);
  }
  return busy;
}

void SimRun::drain() {
  const TimeUs limit = s_.duration_us + options_.max_drain_us;
  while (!quiescent() && world_.now() < limit) world_.run_until(world_.now() + kUsPerSecond / 4);
  drained_at_us_ = world_.now();
}

void SimRun::install_progress() {
  auto wall_start = std::chrono::steady_clock::now();
  world_.set_progress(
      [this, wall_start](TimeUs now, std::uint64_t events) {
        double wall =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
        double sim_s = static_cast<double>(now) / kUsPerSecond;
        double total_s = static_cast<double>(s_.duration_us) / kUsPerSecond;
        double left = sim_s > 0 ? wall * (total_s - sim_s) / sim_s : 0;
        std::fprintf(
            stderr,
            "\r  %s: %.1f / %.0f s simulated, %.2fM events/s, %llu committed, ~%.0f s left   ",
            std::string(scenario_mode_name(mode_)).c_str(), sim_s, total_s,
            wall > 0 ? static_cast<double>(events) / wall / 1e6 : 0.0,
            static_cast<unsigned long long>(driver_->committed()), left > 0 ? left : 0);
      },
      2'000'000);
}

void SimRun::collect() {
  const SimStats& st = world_.stats();
  summary_.events = world_.events_processed();
  LatencyRecorder latencies;
  TimeUs last_commit_us = 0;
  driver_->add_to(summary_, latencies, last_commit_us);
  summary_.latency_ms = latencies.summary();
  summary_.latency_histogram = latencies.histogram();
  const TimeUs span = std::max<TimeUs>(1, last_commit_us - s_.workload.start_us);
  summary_.throughput_rps =
      static_cast<double>(summary_.records_committed) * kUsPerSecond / static_cast<double>(span);
  summary_.messages.total = st.messages_total;
  summary_.messages.intra_network = st.messages_intra;
  summary_.messages.inter_network = st.messages_inter;
  for (std::size_t i = 0; i < kMessageTypeCount; ++i)
    if (st.messages_by_type[i] > 0)
      summary_.messages.by_type[std::string(message_type_name(i))] = st.messages_by_type[i];
  summary_.bytes_sent = st.bytes_sent;
  for (std::size_t i = 0; i < kCounterCount; ++i)
    summary_.counters[std::string(counter_name(static_cast<Counter>(i)))] = st.counters[i];
  auto counter = [&](Counter c) {
    return static_cast<std::uint64_t>(st.counters[static_cast<std::size_t>(c)]);
  };
  summary_.migrations_completed = counter(Counter::kMigrationsCompleted);
  summary_.records_moved = counter(Counter::kRecordsMigrated);
  for (std::size_t sec = 0; sec < world_.per_second().size(); ++sec) {
    SecondSample& sample = sample_at(summary_.per_second, static_cast<TimeUs>(sec) * kUsPerSecond);
    sample.messages = world_.per_second()[sec].messages;
    sample.bytes = world_.per_second()[sec].bytes;
  }
  std::vector<NodeId> record_nodes;
  for (const NodeInfo& n : topology_->nodes())
    if (n.role == NodeRole::kRecord) record_nodes.push_back(n.id);
  summary_.node_storage.resize(record_nodes.size());
  for_each_chunk(
      record_nodes.size(), threads_, [&](std::size_t begin, std::size_t end, std::size_t) {
        for (std::size_t i = begin; i < end; ++i) {
          const Store& store = world_.store_of(record_nodes[i]);
          summary_.node_storage[i] = {s_.layout.name_of(record_nodes[i]), store.size_bytes(),
                                      ChainStore(store).record_count()};
        }
      });
  summary_.storage_bytes = summarize_storage(summary_.node_storage);
  check();
}

void SimRun::check() {
  CheckInput in{*topology_,
                [this](NodeId n) -> const Store& { return world_.store_of(n); },
                [this](NodeId n) { return s_.layout.name_of(n); },
                {},
                threads_};
  // A lying record node's store is checked like any other: what it says
  // must not get it a record it should not hold, nor cost it one.
  for (const Scenario::ByzantineReplica& b : s_.byzantine)
    if (s_.layout.role_of(b.node) != NodeRole::kRecord) in.faulty.insert(b.node);
  CheckResult result = check_stores(in, kMaxViolationList);
  for (std::string& m : result.messages) add_violation(summary_, std::move(m));
  summary_.violations = result.violations;
  // The run drains while any node has work (a Byzantine replica's retries
  // may still help others), but a Byzantine replica's own deliveries, which
  // its tampering spoils, may wait for ever: only honest nodes are named.
  if (auto busy = busy_nodes(3, true); !busy.empty()) {
    std::string names;
    for (const std::string& b : busy) names += (names.empty() ? "" : "; ") + b;
    add_violation(summary_, "work still in flight " +
                                std::to_string((drained_at_us_ - s_.duration_us) / kUsPerSecond) +
                                " s after the end of the scenario (" + names + ")");
  }
}

RunSummary run_mode(const Scenario& scenario, ScenarioMode mode, const SimOptions& options) {
  return SimRun(scenario, mode, options).run();
}

std::vector<RunSummary> run_scenario(const Scenario& scenario, const SimOptions& options) {
  const Scenario effective = with_random_faults(scenario, options.seed);
  std::vector<RunSummary> runs;
  for (std::size_t i = 0; i < effective.modes.size(); ++i) {
    const ScenarioMode mode = effective.modes[i];
    if (options.exit_after_last_run && i + 1 == effective.modes.size()) {
      // Still reachable (no leak report), never destroyed: see SimOptions.
      static std::unique_ptr<SimRun>* kept = nullptr;
      if (kept == nullptr) kept = new std::unique_ptr<SimRun>();
      *kept = std::make_unique<SimRun>(effective, mode, options);
      runs.push_back((*kept)->run());
    } else {
      runs.push_back(run_mode(effective, mode, options));
    }
  }
  return runs;
}

SweepResult sweep_scenario(const Scenario& scenario, std::uint64_t first_seed, std::uint32_t count,
                           const std::function<void(const SweepRun&)>& after_each) {
  SweepResult result;
  for (std::uint32_t i = 0; i < count; ++i) {
    SimOptions options;
    options.seed = first_seed + i;
    SweepRun run{options.seed, 0, {}, {}};
    for (RunSummary& r : run_scenario(scenario, options)) {
      run.violations += r.violations;
      run.faults = r.faults;
      for (std::string& v : r.violation_list) run.messages.push_back(r.mode + ": " + std::move(v));
    }
    ++result.runs;
    if (run.violations > 0) result.failed.push_back(run);
    if (after_each) after_each(run);
  }
  return result;
}

}  // namespace mhr
