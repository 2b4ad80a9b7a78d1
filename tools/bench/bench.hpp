// mhr bench: a scenario's nodes as real processes on loopback with fsync on,
// loaded through pipelined client connections: closed loops with a
// doubling window find the peak, then an open loop at half of it measures
// latency. Reports committed
// records/s, latency, CPU, memory and disk per node, and the crypto
// efficiency against this machine's Ed25519 rate (bench.json, report.html).
#pragma once

#include <atomic>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "tools/sim/scenario.hpp"

namespace mhr {

struct BenchOptions {
  std::string out_dir;
  std::string bin_dir;
  std::uint32_t clients = 8;  // client connections, spread over the record nodes
  // Requests in flight per connection in the closed loop: the first step
  // of a ramp that doubles it while throughput still rises (by >= 10 %),
  // up to max_window; the best step is the peak.
  std::uint32_t window = 32;
  std::uint32_t max_window = 256;
  std::uint32_t record_bytes = 1024;
  TimeUs warmup_us = 3 * kUsPerSecond;
  TimeUs measure_us = 10 * kUsPerSecond;
  std::optional<double> open_rate;  // records/s of the open loop; default half the peak
  bool baseline = false;            // also run tools/pg_baseline.sh and report the ratio
  bool fsync = true;                // off only to find what bounds a run (--no-fsync)
  std::string baseline_script;      // its path
  bool progress = false;
  const std::atomic<bool>* interrupted = nullptr;
};

// Runs every mode of the scenario in turn; returns bench.json's content and
// writes bench.json and report.html into options.out_dir.
nlohmann::json run_bench(const Scenario& scenario, const BenchOptions& options);

// The one-screen summary mhr bench prints.
std::string format_bench(const nlohmann::json& bench);

}  // namespace mhr
