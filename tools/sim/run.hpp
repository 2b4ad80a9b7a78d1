// Runs a scenario in the simulator: builds the world (the very role objects
// the real nodes run), replays the workload, drains in-flight work, checks
// every store, and summarises one run per protocol mode.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "tools/sim/report.hpp"
#include "tools/sim/scenario.hpp"

namespace mhr {

struct SimOptions {
  std::uint64_t seed = 1;
  bool progress = false;  // progress lines on stderr
  bool verbose = false;   // every node log line on stderr
  // After the scenario's duration, keep simulating until nothing is in
  // flight, for at most this long, before the checkers run.
  TimeUs max_drain_us = 120 * kUsPerSecond;
};

RunSummary run_mode(const Scenario& scenario, ScenarioMode mode, const SimOptions& options);
std::vector<RunSummary> run_scenario(const Scenario& scenario, const SimOptions& options);

}  // namespace mhr
