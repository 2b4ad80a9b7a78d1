// mhr: the one command line of MHR chain: sim, launch, bench, verify, keygen
// and the client commands.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <string_view>

#include <csignal>
#include <filesystem>

#include <thread>
#include "common/config.hpp"
#include "common/net/deployment.hpp"
#include "tools/launch/launch.hpp"
#include "tools/mhr/bench_command.hpp"
#include "tools/mhr/client_commands.hpp"
#include "tools/mhr/keygen.hpp"
#include "tools/sim/heap_tuning.hpp"
#include "tools/sim/run.hpp"
#include "tools/verify/lmdb_file_check.hpp"
#include "tools/verify/verify.hpp"

namespace {

struct SimArgs {
  std::string scenario;
  std::optional<std::uint64_t> seed;
  std::string out;
  std::vector<std::string> overrides;
  bool quiet = false;
  bool verbose = false;
  bool progress = false;
  std::uint32_t sweep = 0;
  std::uint32_t threads = 0;
};

int run_sweep(const SimArgs& args, const mhr::Scenario& scenario) {
  const std::uint64_t first = args.seed.value_or(scenario.seed);
  const bool tty = isatty(STDERR_FILENO);
  if (!args.quiet)
    std::printf("mhr sim: sweep of %u seeds from %llu over %s\n", args.sweep,
                static_cast<unsigned long long>(first), scenario.name.c_str());
  mhr::SweepResult result =
      mhr::sweep_scenario(scenario, first, args.sweep, [&](const mhr::SweepRun& run) {
        if (run.violations > 0)
          std::fprintf(stderr, "%sseed %llu: %llu violation(s)\n", tty ? "\r" : "",
                       static_cast<unsigned long long>(run.seed),
                       static_cast<unsigned long long>(run.violations));
        else if (tty && !args.quiet)
          std::fprintf(stderr, "\r  seed %llu ok   ", static_cast<unsigned long long>(run.seed));
      });
  if (tty && !args.quiet) std::fprintf(stderr, "\n");
  for (const auto& run : result.failed) {
    std::printf("seed %llu: %llu violation(s); replay: mhr sim %s --seed %llu\n",
                static_cast<unsigned long long>(run.seed),
                static_cast<unsigned long long>(run.violations), args.scenario.c_str(),
                static_cast<unsigned long long>(run.seed));
    for (std::size_t i = 0; i < run.messages.size() && i < 5; ++i)
      std::printf("    %s\n", run.messages[i].c_str());
    for (const std::string& f : run.faults) std::printf("    fault: %s\n", f.c_str());
  }
  std::printf("%llu runs, %zu with violations\n", static_cast<unsigned long long>(result.runs),
              result.failed.size());
  return result.failed.empty() ? 0 : 1;
}

int run_sim(const SimArgs& args) {
  mhr::Scenario scenario = mhr::load_scenario(args.scenario, args.overrides);
  if (args.sweep > 0) return run_sweep(args, scenario);
  mhr::SimOptions options;
  options.seed = args.seed.value_or(scenario.seed);
  options.progress = args.progress || (!args.quiet && isatty(STDERR_FILENO));
  options.verbose = args.verbose;
  options.threads = args.threads;
  options.exit_after_last_run = true;
  std::string out = args.out.empty() ? "out/" + scenario.name : args.out;
  if (!args.quiet)
    std::printf("mhr sim: scenario %s, seed %llu\n", scenario.name.c_str(),
                static_cast<unsigned long long>(options.seed));
  std::vector<mhr::RunSummary> runs = mhr::run_scenario(scenario, options);
  if (options.progress) std::fprintf(stderr, "\n");
  auto files = mhr::write_outputs(out, runs, {scenario.report_timeseries, scenario.report_html});
  std::uint64_t violations = 0;
  for (const auto& r : runs) violations += r.violations;
  if (!args.quiet) {
    std::printf("%s", mhr::format_text_summary(runs).c_str());
    for (const auto& f : files) std::printf("  wrote %s\n", f.c_str());
  }
  if (violations > 0) {
    std::fprintf(stderr, "mhr sim: %llu violation(s); replay with --seed %llu\n",
                 static_cast<unsigned long long>(violations),
                 static_cast<unsigned long long>(options.seed));
    return 1;
  }
  return 0;
}

struct LaunchArgs {
  std::string scenario;
  std::optional<std::uint64_t> seed;
  std::string out;
  std::vector<std::string> overrides;
  std::optional<double> duration_s;
  bool netns = false;
  bool quiet = false;
  bool no_fsync = false;
};

std::atomic<bool> g_interrupted{false};
void on_interrupt(int) {
  g_interrupted = true;
}

// Overrides that shorten (or lengthen) a run: duration and the workload's
// stop with it, keeping a second at the end for the last commits.
std::vector<std::string> duration_overrides(const LaunchArgs& args) {
  std::vector<std::string> out = args.overrides;
  if (!args.duration_s) return out;
  double d = *args.duration_s;
  if (d < 2) throw std::runtime_error("--duration must be at least 2 seconds");
  out.push_back("duration=" + std::to_string(d) + "s");
  mhr::Scenario plain = mhr::load_scenario(args.scenario, args.overrides);
  double stop = static_cast<double>(plain.workload.stop_us) / mhr::kUsPerSecond;
  if (stop > d - 1) out.push_back("workload.stop=" + std::to_string(d - 1) + "s");
  return out;
}

std::string bin_dir_of(const char* argv0) {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) return self.parent_path().string();
  return std::filesystem::absolute(argv0).parent_path().string();
}

int run_launch(const LaunchArgs& args, const char* argv0) {
  mhr::Scenario scenario = mhr::load_scenario(args.scenario, duration_overrides(args));
  mhr::LaunchOptions options;
  options.seed = args.seed.value_or(scenario.seed);
  options.out_dir =
      std::filesystem::absolute(args.out.empty() ? "out/launch-" + scenario.name : args.out)
          .string();
  options.bin_dir = bin_dir_of(argv0);
  options.netns = args.netns;
  options.fsync = !args.no_fsync;
  options.progress = !args.quiet && isatty(STDERR_FILENO);
  options.interrupted = &g_interrupted;
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  if (!args.quiet)
    std::printf("mhr launch: scenario %s, seed %llu, %zu processes per mode, in %s\n",
                scenario.name.c_str(), static_cast<unsigned long long>(options.seed),
                scenario.node_count(), options.out_dir.c_str());
  std::vector<mhr::RunSummary> runs = mhr::launch_scenario(scenario, options);
  if (g_interrupted) {
    std::fprintf(stderr, "mhr launch: interrupted; every node process was stopped\n");
    return 130;
  }
  auto files =
      mhr::write_outputs(options.out_dir, runs, {scenario.report_timeseries, scenario.report_html});
  std::uint64_t violations = 0;
  for (const auto& r : runs) violations += r.violations;
  if (!args.quiet) {
    std::printf("%s", mhr::format_text_summary(runs).c_str());
    for (const auto& f : files) std::printf("  wrote %s\n", f.c_str());
  }
  if (violations > 0) {
    std::fprintf(stderr, "mhr launch: %llu violation(s)\n",
                 static_cast<unsigned long long>(violations));
    return 1;
  }
  return 0;
}

struct VerifyArgs {
  std::string data;
  std::string topology;
  unsigned threads = 0;
};

// Names the damage and how to recover; exit code 1.
int report_damage(const std::string& problem) {
  std::printf("DAMAGED: %s\n", problem.c_str());
  std::printf(
      "The store must not be served; stop the node and re-sync it from its peers "
      "(move the data directory away and restart the node).\n");
  return 1;
}

int run_verify(const VerifyArgs& args) {
  // Opening would create an empty store where there is none: check first.
  if (!std::filesystem::exists(std::filesystem::path(args.data) / "data.mdb")) {
    std::fprintf(stderr, "mhr verify: no node store in %s (expected %s/data.mdb)\n",
                 args.data.c_str(), args.data.c_str());
    return 2;
  }
  // LMDB trusts its file: check the pages before LMDB reads them.
  const mhr::LmdbFileReport file = mhr::check_lmdb_store_file(args.data);
  if (file.problem) {
    return report_damage(*file.problem);
  }
  auto store = mhr::open_lmdb_store(args.data, mhr::LmdbOptions{.read_only = true});
  if (!store.ok()) {
    std::fprintf(stderr, "mhr verify: %s\n", store.error().c_str());
    return 2;
  }
  std::optional<mhr::Deployment> deployment;
  if (!args.topology.empty()) deployment = mhr::load_deployment(args.topology);
  const unsigned threads =
      args.threads > 0 ? args.threads : std::max(1u, std::thread::hardware_concurrency());
  mhr::VerifyReport r;
  try {
    r = mhr::verify_store(*store.value(), deployment ? deployment->topology.get() : nullptr,
                          threads);
  } catch (const mhr::StoreError& e) {
    r.problem = e.what();  // an entry whose checksum does not match, or an LMDB error
  }
  if (r.problem) {
    return report_damage(*r.problem);
  }
  std::printf(
      "intact: %llu records and %llu headers verified in %.2f s (%.0f records/s, %u threads)%s\n",
      static_cast<unsigned long long>(r.records), static_cast<unsigned long long>(r.headers),
      r.seconds, r.seconds > 0 ? static_cast<double>(r.records) / r.seconds : 0.0, threads,
      deployment ? "" : "; without --topology, author keys and header quorums are not checked");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]) == "sim") mhr::reexec_with_huge_page_heap(argv);
  CLI::App app{"mhr — MHR chain: simulate, launch, benchmark and verify health-record networks"};
  app.require_subcommand(1);

  SimArgs sim;
  CLI::App* sim_cmd = app.add_subcommand("sim", "run a scenario in the deterministic simulator");
  sim_cmd->add_option("scenario", sim.scenario, "scenario YAML file")->required();
  sim_cmd->add_option("--seed", sim.seed, "seed (default: the scenario's)");
  sim_cmd->add_option("--out", sim.out, "output directory (default: out/<scenario name>)");
  sim_cmd->add_option("--set", sim.overrides, "override a scenario key, e.g. workload.users=500")
      ->type_name("KEY=VALUE");
  sim_cmd->add_flag("--quiet,-q", sim.quiet, "print nothing but errors");
  sim_cmd->add_flag("--verbose,-v", sim.verbose, "print every node's log lines");
  sim_cmd->add_flag("--progress", sim.progress, "show progress even when stderr is not a terminal");
  sim_cmd
      ->add_option("--threads", sim.threads,
                   "threads for the scenario's simulator.lanes (default: one per core); the "
                   "results do not depend on it")
      ->check(CLI::Range(1u, 64u))
      ->type_name("N");
  sim_cmd
      ->add_option("--sweep", sim.sweep,
                   "run N seeds from --seed, faults drawn from faults.random; list every "
                   "violation with the seed that replays it")
      ->type_name("N");

  LaunchArgs launch;
  CLI::App* launch_cmd =
      app.add_subcommand("launch", "run a scenario as real node processes on this machine");
  launch_cmd->add_option("scenario", launch.scenario, "scenario YAML file")->required();
  launch_cmd->add_option("--seed", launch.seed, "seed of the workload (default: the scenario's)");
  launch_cmd->add_option("--out", launch.out, "output directory (default: out/launch-<name>)");
  launch_cmd->add_option("--duration", launch.duration_s, "run for this many seconds");
  launch_cmd->add_option("--set", launch.overrides, "override a scenario key")
      ->type_name("KEY=VALUE");
  launch_cmd->add_flag("--netns", launch.netns,
                       "each edge network in its own network namespace (root, iproute2)");
  launch_cmd->add_flag("--no-fsync", launch.no_fsync, "skip fsync (throw-away runs only)");
  launch_cmd->add_flag("--quiet,-q", launch.quiet, "print nothing but errors");

  VerifyArgs verify;
  CLI::App* verify_cmd = app.add_subcommand(
      "verify", "verify a stopped node's store offline: records, chains, proofs, headers");
  verify_cmd->add_option("--data", verify.data, "the node's data directory")->required();
  verify_cmd->add_option("--topology", verify.topology,
                         "the deployment's topology file (checks author keys and header quorums)");
  verify_cmd->add_option("--threads", verify.threads,
                         "signature-checking threads (default: all cores)");

  mhr::add_keygen_command(app);
  mhr::add_fhir_key_command(app);
  mhr::add_client_commands(app);
  mhr::add_bench_command(app);

  CLI11_PARSE(app, argc, argv);
  try {
    if (*sim_cmd) return run_sim(sim);
    if (*launch_cmd) return run_launch(launch, argv[0]);
    if (*verify_cmd) return run_verify(verify);
  } catch (const mhr::ConfigError& e) {
    std::fprintf(stderr, "mhr: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mhr: %s\n", e.what());
    return 2;
  }
  return 0;
}
