// Random faults of a run, drawn from its seed: the scenario's
// `faults.random` becomes concrete crashes, loss, duplication and
// partitions, so that `mhr sim FILE --seed S` replays exactly what a sweep
// found with seed S.
#pragma once

#include <cstdint>

#include "tools/sim/scenario.hpp"

namespace mhr {

// The scenario with its random faults made concrete for `seed` (unchanged
// when it has none).
Scenario with_random_faults(const Scenario& s, std::uint64_t seed);

}  // namespace mhr
