// mhr bench SCENARIO [--out DIR] [--baseline]: the throughput benchmark
// against real node processes (tools/bench/bench.hpp).
#pragma once

#include <CLI/CLI.hpp>

namespace mhr {

void add_bench_command(CLI::App& app);

}  // namespace mhr
