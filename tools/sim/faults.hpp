// Faults of a simulated run. Random ones, drawn from its seed: the
// scenario's `faults.random` becomes concrete crashes, loss, duplication and
// partitions, so that `mhr sim FILE --seed S` replays exactly what a sweep
// found with seed S. Byzantine nodes: the honest consensus or record node
// code behind an Env that lies on the wire (`faults.byzantine`).
#pragma once

#include <cstdint>

#include <memory>
#include <string>
#include <vector>

#include "common/env.hpp"
#include "tools/sim/scenario.hpp"

namespace mhr {

// The scenario with its random faults made concrete for `seed` (unchanged
// when it has none).
Scenario with_random_faults(const Scenario& s, std::uint64_t seed);

// The faults of a run in words, one per line (crashes, partitions, loss,
// duplication, Byzantine nodes), for summaries and sweep reports.
std::vector<std::string> describe_faults(const Scenario& s);
// One crash in those words: "net0.c1 crashes at 4.000s, restarts at 6.000s".
std::string describe_crash(const Scenario& s, const Scenario::Crash& c);

// A consensus replica or record node that behaves as `b` says
// (Scenario::Byzantine).
std::unique_ptr<NodeLogic> byzantine_node(Env& env, TopologyPtr topology, Scenario::Byzantine b);
// The honest logic inside a Byzantine node; any other logic as it is.
NodeLogic* honest_logic(NodeLogic* logic);

}  // namespace mhr
