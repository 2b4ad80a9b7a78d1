// Runs a scenario in the simulator: builds the world (the very role objects
// the real nodes run), replays the workload, drains in-flight work, checks
// every store, and summarises one run per protocol mode.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/sim/world.hpp"
#include "tools/sim/report.hpp"
#include "tools/sim/scenario.hpp"
#include "tools/sim/workload.hpp"

namespace mhr {

struct SimOptions {
  std::uint64_t seed = 1;
  bool progress = false;  // progress lines on stderr
  bool verbose = false;   // every node log line on stderr
  // Threads for the scenario's lanes and the checks after the run (0: one
  // per core); never changes a run.
  std::uint32_t threads = 0;
  // After the scenario's duration, keep simulating until nothing is in
  // flight, for at most this long, before the checkers run.
  TimeUs max_drain_us = 120 * kUsPerSecond;
  // The process exits after the last run (mhr sim): its world is left for
  // the exit to reclaim, because freeing a large world's stores allocation
  // by allocation takes longer than simulating many seconds of it.
  bool exit_after_last_run = false;
};

// One mode of one scenario: the world, the workload and what was measured.
// Tests drive it step by step and look into the nodes afterwards.
// A simulated node's key seed: simulated institutions sign with it.
SecretSeed node_seed(std::uint64_t node);

class SimRun {
 public:
  SimRun(const Scenario& scenario, ScenarioMode mode, const SimOptions& options);
  ~SimRun();
  // build + workload + run for the scenario's duration + drain + summary.
  RunSummary run();

  SimWorld& world() { return world_; }
  const Topology& topology() const { return *topology_; }
  bool quiescent();
  // "name: what it still has to do" for up to `max` nodes with work in flight.
  std::vector<std::string> busy_nodes(std::size_t max, bool honest_only = false);

 private:
  class Driver;
  void build();
  void drain();
  void collect();
  void check();
  void install_progress();
  SimWorld::LogicFactory factory(const NodeSpec& spec);

  const Scenario& s_;
  ScenarioMode mode_;
  SimOptions options_;
  std::uint32_t threads_;  // for the lanes and the checks after the run
  SimWorld world_;
  TopologyPtr topology_;
  std::unique_ptr<Driver> driver_;
  RunSummary summary_;
  TimeUs drained_at_us_ = 0;
};

RunSummary run_mode(const Scenario& scenario, ScenarioMode mode, const SimOptions& options);
// Every mode of the scenario, with its random faults drawn from the seed.
std::vector<RunSummary> run_scenario(const Scenario& scenario, const SimOptions& options);

// N seeds in a row; each run's violations name the seed that replays it.
struct SweepRun {
  std::uint64_t seed = 0;
  std::uint64_t violations = 0;
  std::vector<std::string> messages;
  std::vector<std::string> faults;  // what the seed drew (tools/sim/faults.hpp)
};
struct SweepResult {
  std::uint64_t runs = 0;
  std::vector<SweepRun> failed;
};
SweepResult sweep_scenario(const Scenario& scenario, std::uint64_t first_seed, std::uint32_t count,
                           const std::function<void(const SweepRun&)>& after_each = {});

}  // namespace mhr
