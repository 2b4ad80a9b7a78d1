// mhr launch: a scenario's nodes as real processes on this machine, driven
// by the scenario's workload through the client API in wall-clock time,
// then stopped and checked with the simulator's checkers on their LMDB
// stores. Writes the same summary.json / report.html as mhr sim.
#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "tools/sim/report.hpp"
#include "tools/sim/scenario.hpp"

namespace mhr {

// Every payload `mhr launch` submits starts with this text before it is
// sealed: tools/demo.sh searches the nodes' stores for it.
inline constexpr std::string_view kPlaintextMarker = "MHR-DEMO-PLAINTEXT";

struct LaunchOptions {
  std::string out_dir;
  std::string bin_dir;
  std::uint64_t seed = 1;
  bool netns = false;
  bool progress = false;
  bool fsync = true;
  TimeUs drain_us = 30 * kUsPerSecond;             // wait for outstanding replies at most this
  const std::atomic<bool>* interrupted = nullptr;  // Ctrl-C
};

std::vector<RunSummary> launch_scenario(const Scenario& scenario, const LaunchOptions& options);

}  // namespace mhr
