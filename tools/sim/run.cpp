#include "tools/sim/run.hpp"

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <set>

#include "common/client_codec.hpp"
#include "common/identity.hpp"
#include "common/sim/world.hpp"
#include "consensus_node/consensus_node.hpp"
#include "edge_node/record_node.hpp"
#include "index_node/index_node.hpp"
#include "tools/sim/checkers.hpp"
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

LatencyDist latency_of(const Scenario::Latency& l) {
  switch (l.dist) {
    case Scenario::LatencyDist::kConstant:
      return LatencyDist::constant(l.value_us);
    case Scenario::LatencyDist::kUniform:
      return LatencyDist::uniform(l.min_us, l.max_us);
    case Scenario::LatencyDist::kLognormal:
      return LatencyDist::lognormal(l.median_us, l.sigma);
  }
  return LatencyDist::constant(l.value_us);
}

LinkClass link_of(const Scenario::LinkClass& c) {
  return {latency_of(c.latency), static_cast<double>(c.bandwidth_bps) / 8.0, c.loss, c.duplicate};
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
// events, so a million records cost one pending driver event at a time.
class SimRun::Driver {
 public:
  Driver(const Scenario& s, SimWorld& world, RunSummary& summary, std::uint64_t seed)
      : s_(s), world_(world), summary_(summary), actions_(generate_workload(s, seed)) {
    if (!actions_.empty()) world_.at(actions_.front().at_us, [this] { pump(); });
  }

  // Requests are signed like real clients sign them: registrations by the
  // patient, records by the institution (the node's key) writing them.
  const Signer& patient(std::uint32_t user) {
    if (user >= patients_.size()) patients_.resize(user + 1);
    if (!patients_[user]) patients_[user] = patient_signer(user, s_.protocol.crypto);
    return *patients_[user];
  }
  const Signer& institution(NodeId node) {
    if (node.value >= institutions_.size()) institutions_.resize(node.value + 1);
    auto& s = institutions_[node.value];
    if (!s) s = make_signer(s_.protocol.crypto, node_seed(node.value));
    return *s;
  }
  ClientRequest signed_request(ClientRequest r, const Signer& by, NodeId node) {
    sign_request(r, by, node, world_.now(), ++nonce_);
    return r;
  }

  LatencyRecorder latencies;
  TimeUs last_commit_us = 0;

 private:
  void pump() {
    const TimeUs now = world_.now();
    while (next_ < actions_.size() && actions_[next_].at_us <= now) perform(actions_[next_++]);
    if (next_ < actions_.size()) world_.at(actions_[next_].at_us, [this] { pump(); });
  }

  void perform(const WorkloadAction& a) {
    const Signer& patient = this->patient(a.user);
    const UserId user = user_id_of(patient.public_key());
    if (a.kind == WorkloadAction::Kind::kRegister) {
      world_.submit(a.node, signed_request(RegisterUserRequest{user, {}}, patient, a.node),
                    [this, a](const ClientReply& reply) {
                      if (reply.status != ReplyStatus::kOk) return;
                      if (a.user >= confirmed_.size()) confirmed_.resize(a.user + 1);
                      confirmed_[a.user].insert(a.node);
                    });
      return;
    }
    // Like a hospital, write only where the registration was confirmed.
    if (a.user >= confirmed_.size() || confirmed_[a.user].empty()) {
      ++summary_.counters["records_not_sent_unregistered"];
      return;
    }
    const std::set<NodeId>& confirmed = confirmed_[a.user];
    const NodeId node = confirmed.contains(a.node) ? a.node : *confirmed.begin();
    SubmitRecordRequest req{user,
                            s_.workload.content_types.at(a.content_type),
                            a.category,
                            workload_payload(a.payload_bytes, next_),
                            std::nullopt,
                            std::nullopt,
                            {}};
    const TimeUs submitted_at = world_.now();
    ++summary_.records_submitted;
    ++sample_at(summary_.per_second, submitted_at).submitted;
    world_.submit(node, signed_request(std::move(req), institution(node), node),
                  [this, submitted_at](const ClientReply& reply) {
                    if (reply.status != ReplyStatus::kOk) {
                      ++summary_.records_failed;
                      return;
                    }
                    ++summary_.records_committed;
                    ++sample_at(summary_.per_second, world_.now()).committed;
                    latencies.add(world_.now() - submitted_at);
                    last_commit_us = world_.now();
                  });
  }

  const Scenario& s_;
  SimWorld& world_;
  RunSummary& summary_;
  std::vector<WorkloadAction> actions_;
  std::size_t next_ = 0;
  std::vector<std::set<NodeId>> confirmed_;            // by user index: where registered
  std::vector<std::unique_ptr<Signer>> patients_;      // by user index, made when first needed
  std::vector<std::unique_ptr<Signer>> institutions_;  // by node id
  std::uint64_t nonce_ = 0;
};

SimRun::SimRun(const Scenario& s, ScenarioMode mode, const SimOptions& o)
    : s_(s), mode_(mode), options_(o), world_(o.seed, network_model(s), cpu_of(s.cpu)) {
  build();
  world_.set_verbose(options_.verbose);
}

SimRun::~SimRun() = default;

RunSummary SimRun::run() {
  auto wall_start = std::chrono::steady_clock::now();
  driver_ = std::make_unique<Driver>(s_, world_, summary_, options_.seed);
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
            static_cast<unsigned long long>(summary_.records_committed), left > 0 ? left : 0);
      },
      2'000'000);
}

void SimRun::collect() {
  const SimStats& st = world_.stats();
  summary_.events = world_.events_processed();
  summary_.latency_ms = driver_->latencies.summary();
  summary_.latency_histogram = driver_->latencies.histogram();
  const TimeUs span = std::max<TimeUs>(1, driver_->last_commit_us - s_.workload.start_us);
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
  for (const NodeInfo& n : topology_->nodes()) {
    if (n.role != NodeRole::kRecord) continue;
    const Store& store = world_.store_of(n.id);
    summary_.node_storage.push_back(
        {s_.layout.name_of(n.id), store.size_bytes(), ChainStore(store).record_count()});
  }
  summary_.storage_bytes = summarize_storage(summary_.node_storage);
  check();
}

void SimRun::check() {
  CheckInput in{*topology_,
                [this](NodeId n) -> const Store& { return world_.store_of(n); },
                [this](NodeId n) { return s_.layout.name_of(n); },
                {}};
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
