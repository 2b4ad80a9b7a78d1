// Faults of a simulated run. Random ones, drawn from its seed: the
// scenario's `faults.random` becomes concrete crashes, loss, duplication and
// partitions, so that `mhr sim FILE --seed S` replays exactly what a sweep
// found with seed S. Byzantine replicas: the honest consensus code behind
// an Env that lies on the wire (`faults.byzantine`).
#pragma once

#include <cstdint>

#include <memory>

#include "common/env.hpp"
#include "tools/sim/scenario.hpp"

namespace mhr {

// The scenario with its random faults made concrete for `seed` (unchanged
// when it has none).
Scenario with_random_faults(const Scenario& s, std::uint64_t seed);

// A consensus replica that behaves as `b` says (Scenario::Byzantine).
std::unique_ptr<NodeLogic> byzantine_replica(Env& env, TopologyPtr topology, Scenario::Byzantine b);

}  // namespace mhr
