// What a simulation run reports: a RunSummary per protocol mode, written as
// summary.json (deterministic: the same scenario and seed give the same
// bytes), run_info.json (wall-clock facts that vary), timeseries.csv and a
// self-contained report.html with inline SVG plots; and a few lines of text
// for the terminal.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/types.hpp"

namespace mhr {

struct LatencySummary {
  double p50 = 0;  // milliseconds
  double p99 = 0;
  double max = 0;
  bool operator==(const LatencySummary&) const = default;
};

// Log-spaced buckets: counts[i] latencies in (upper_ms[i-1], upper_ms[i]].
struct LatencyHistogram {
  std::vector<double> upper_ms;
  std::vector<std::uint64_t> counts;
  bool operator==(const LatencyHistogram&) const = default;
};

struct MessageStats {
  std::uint64_t total = 0;
  std::uint64_t intra_network = 0;
  std::uint64_t inter_network = 0;
  std::map<std::string, std::uint64_t> by_type;
  bool operator==(const MessageStats&) const = default;
};

struct StorageStats {  // over record nodes
  std::uint64_t min = 0;
  double mean = 0;
  std::uint64_t max = 0;
  std::uint64_t total = 0;
  bool operator==(const StorageStats&) const = default;
};

struct NodeStorage {
  std::string node;  // name, e.g. "net0.r3"
  std::uint64_t bytes = 0;
  std::uint64_t records = 0;
  bool operator==(const NodeStorage&) const = default;
};

// One simulated second (index = second since the start).
struct SecondSample {
  std::uint64_t submitted = 0;
  std::uint64_t committed = 0;
  std::uint64_t messages = 0;
  std::uint64_t bytes = 0;
  bool operator==(const SecondSample&) const = default;
};

struct RunSummary {
  std::string scenario;
  std::uint64_t seed = 0;
  std::string mode;  // "broadcast", "table", "full"
  std::uint64_t records_submitted = 0;
  std::uint64_t records_committed = 0;
  std::uint64_t records_failed = 0;  // refused or unavailable (e.g. node down)
  double throughput_rps = 0;
  LatencySummary latency_ms;
  MessageStats messages;
  std::uint64_t bytes_sent = 0;
  StorageStats storage_bytes;
  std::uint64_t migrations_completed = 0;
  std::uint64_t records_moved = 0;
  std::uint64_t violations = 0;
  std::vector<std::string> violation_list;  // the first kMaxViolationList
  std::uint64_t events = 0;
  double wall_seconds = 0;    // not in summary.json (see run_info.json)
  std::uint32_t lanes = 1;    // run_info.json too: the scenario's lanes,
  std::uint32_t threads = 1;  // and the threads that ran them
  std::vector<std::string> overrides;
  std::vector<std::string> faults;  // the run's faults in words (tools/sim/faults.hpp)
  std::map<std::string, std::int64_t> counters;
  std::vector<SecondSample> per_second;
  LatencyHistogram latency_histogram;
  std::vector<NodeStorage> node_storage;  // record nodes, in id order

  bool operator==(const RunSummary&) const = default;
};

inline constexpr std::size_t kMaxViolationList = 100;

// Collects commit latencies and turns them into percentiles and a histogram.
class LatencyRecorder {
 public:
  void add(TimeUs latency_us);
  void add_all(const LatencyRecorder& other);
  std::size_t size() const { return samples_.size(); }
  LatencySummary summary() const;  // nearest-rank percentiles, in ms
  LatencyHistogram histogram() const;

 private:
  std::vector<TimeUs> samples_;
};

// min / mean / max / total of node_storage bytes.
StorageStats summarize_storage(const std::vector<NodeStorage>& nodes);
// The sample of the second that contains at_us (grows the series).
SecondSample& sample_at(std::vector<SecondSample>& series, TimeUs at_us);
// Records a violation: counts it and keeps the first kMaxViolationList texts.
void add_violation(RunSummary& run, std::string text);

// The deterministic JSON of one run (no wall-clock fields).
nlohmann::json run_json(const RunSummary& run);
// One run: that object. Several (one per mode): {"scenario","seed","runs":[...]}.
nlohmann::json summary_json(const std::vector<RunSummary>& runs);
// The wall-clock facts: {"runs":[{"mode","wall_seconds","events_per_second"}]}.
nlohmann::json run_info_json(const std::vector<RunSummary>& runs);

std::string timeseries_csv(const std::vector<RunSummary>& runs);
std::string report_html(const std::vector<RunSummary>& runs);
std::string format_text_summary(const std::vector<RunSummary>& runs);

struct ReportOptions {
  bool timeseries = true;  // timeseries.csv
  bool html = true;        // report.html
};
// Writes DIR/summary.json, DIR/run_info.json and, as chosen, timeseries.csv
// and report.html; creates DIR. Returns the paths written. Throws
// std::runtime_error when a file cannot be written.
std::vector<std::string> write_outputs(const std::string& dir, const std::vector<RunSummary>& runs,
                                       const ReportOptions& options = {});

}  // namespace mhr
