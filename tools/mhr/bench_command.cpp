#include "tools/mhr/bench_command.hpp"

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "tools/bench/bench.hpp"

namespace mhr {

namespace {

struct BenchArgs {
  std::string scenario;
  std::string out;
  std::vector<std::string> overrides;
  std::uint32_t clients = 8;
  std::uint32_t window = 32;
  std::uint32_t max_window = 256;
  std::uint32_t record_bytes = 1024;
  double warmup_s = 3;
  double measure_s = 10;
  std::optional<double> open_rate;
  bool baseline = false;
  bool no_fsync = false;
  std::string baseline_script = MHR_SOURCE_DIR "/tools/pg_baseline.sh";
};

std::atomic<bool> g_bench_interrupted{false};

std::string own_bin_dir() {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw std::runtime_error("cannot find the mhr executable's directory");
  return self.parent_path().string();
}

int run_bench_command(const BenchArgs& a) {
  Scenario scenario = load_scenario(a.scenario, a.overrides);
  BenchOptions o;
  o.out_dir =
      std::filesystem::absolute(a.out.empty() ? "out/bench-" + scenario.name : a.out).string();
  o.bin_dir = own_bin_dir();
  o.clients = a.clients;
  o.window = a.window;
  o.max_window = a.max_window;
  o.record_bytes = a.record_bytes;
  o.warmup_us = static_cast<TimeUs>(a.warmup_s * kUsPerSecond);
  o.measure_us = static_cast<TimeUs>(a.measure_s * kUsPerSecond);
  o.open_rate = a.open_rate;
  o.baseline = a.baseline;
  o.fsync = !a.no_fsync;
  if (!o.fsync && o.baseline)
    throw std::runtime_error("--no-fsync and --baseline: the baseline commits synchronously");
  o.baseline_script = a.baseline_script;
  o.progress = isatty(STDERR_FILENO);
  o.interrupted = &g_bench_interrupted;
  std::signal(SIGINT, [](int) { g_bench_interrupted = true; });
  std::signal(SIGTERM, [](int) { g_bench_interrupted = true; });
  std::printf(
      "mhr bench: scenario %s, %zu processes per mode, %u connections x %u-%u in flight, "
      "%u-byte records, fsync %s, in %s\n",
      scenario.name.c_str(), scenario.node_count(), o.clients, o.window,
      std::max(o.window, o.max_window), o.record_bytes, o.fsync ? "on" : "OFF (not a result)",
      o.out_dir.c_str());
  std::fflush(stdout);
  const nlohmann::json bench = run_bench(scenario, o);
  if (g_bench_interrupted) {
    std::fprintf(stderr, "mhr bench: interrupted; every node process was stopped\n");
    return 130;
  }
  std::printf("%s  wrote %s/bench.json and report.html\n", format_bench(bench).c_str(),
              o.out_dir.c_str());
  return 0;
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto a = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "benchmark a scenario's nodes as real processes on loopback (fsync on)");
  cmd->add_option("scenario", a->scenario, "scenario YAML file (its topology and users)")
      ->required();
  cmd->add_option("--out", a->out, "output directory (default: out/bench-<name>)");
  cmd->add_option("--set", a->overrides, "override a scenario key")->type_name("KEY=VALUE");
  cmd->add_option("--clients", a->clients, "client connections")->check(CLI::Range(1, 256));
  cmd->add_option("--window", a->window,
                  "requests in flight per connection in the first closed loop; doubled while "
                  "throughput rises")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--max-window", a->max_window,
                  "largest window of the ramp (equal to --window: one closed loop)")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--record-bytes", a->record_bytes, "sealed payload size")
      ->check(CLI::Range(64, 1 << 20));
  cmd->add_option("--warmup", a->warmup_s, "seconds before measuring")
      ->check(CLI::Range(0.0, 600.0));
  cmd->add_option("--measure", a->measure_s, "seconds measured per phase")
      ->check(CLI::Range(1.0, 3600.0));
  cmd->add_option("--open-rate", a->open_rate,
                  "records/s of the open-loop phase (default: half the closed-loop peak)");
  cmd->add_flag("--baseline", a->baseline,
                "also run tools/pg_baseline.sh (PostgreSQL, hash-chained inserts) and report "
                "the ratio");
  cmd->add_option("--baseline-script", a->baseline_script, "path of pg_baseline.sh");
  cmd->add_flag("--no-fsync", a->no_fsync,
                "nodes write without fsync: to find what bounds a run, never a result (the "
                "targets and the baseline are with fsync)");
  cmd->callback([a] {
    int rc = 0;
    try {
      rc = run_bench_command(*a);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "mhr bench: %s\n", e.what());
      rc = 2;
    }
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace mhr
