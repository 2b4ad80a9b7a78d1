// Helpers for flow tests: a scenario from YAML text, a finished simulated
// run, and looks into what each node durably holds.
#pragma once

#include <doctest/doctest.h>

#include <set>
#include <string>

#include "common/chain_store.hpp"
#include "tools/sim/run.hpp"
#include "tools/sim/workload.hpp"

namespace mhr::test {

// A finished run; failures print its seed so it can be replayed.
struct FlowRun {
  Scenario scenario;
  std::unique_ptr<SimRun> sim;
  RunSummary summary;

  FlowRun(const std::string& yaml, std::uint64_t seed, ScenarioMode mode = ScenarioMode::kBroadcast)
      : scenario(load_scenario_string(yaml, "flow-test.yaml")) {
    SimOptions options;
    options.seed = seed;
    sim = std::make_unique<SimRun>(scenario, mode, options);
    summary = sim->run();
  }

  NodeId node(const std::string& name) const { return *scenario.layout.find_node(name); }
  UserId user(std::uint32_t index) const { return user_id(index, scenario.protocol.crypto); }
  ChainStore chain(const std::string& name) {
    return ChainStore(sim->world().store_of(node(name)));
  }

  // Hashes of every record of `user` held by the named node.
  std::set<Hash> records_of(const std::string& name, std::uint32_t user) {
    std::set<Hash> out;
    chain(name).for_each_record(this->user(user),
                                [&](const Hash& h, const Record&) { out.insert(h); });
    return out;
  }
  std::uint64_t record_count(const std::string& name) { return chain(name).record_count(); }

  std::string violations() const {
    std::string out;
    for (const auto& v : summary.violation_list) out += v + "\n";
    return out;
  }
};

}  // namespace mhr::test
