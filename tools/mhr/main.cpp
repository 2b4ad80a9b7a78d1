// mhr: the one command line of MHR chain. Subcommands: sim (now), and with
// the runtime issues launch, bench, verify and the client commands.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "common/config.hpp"
#include "tools/sim/run.hpp"

namespace {

struct SimArgs {
  std::string scenario;
  std::optional<std::uint64_t> seed;
  std::string out;
  std::vector<std::string> overrides;
  bool quiet = false;
  bool verbose = false;
  bool progress = false;
};

int run_sim(const SimArgs& args) {
  mhr::Scenario scenario = mhr::load_scenario(args.scenario, args.overrides);
  mhr::SimOptions options;
  options.seed = args.seed.value_or(scenario.seed);
  options.progress = args.progress || (!args.quiet && isatty(STDERR_FILENO));
  options.verbose = args.verbose;
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

}  // namespace

int main(int argc, char** argv) {
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

  CLI11_PARSE(app, argc, argv);
  try {
    if (*sim_cmd) return run_sim(sim);
  } catch (const mhr::ConfigError& e) {
    std::fprintf(stderr, "mhr: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mhr: %s\n", e.what());
    return 2;
  }
  return 0;
}
