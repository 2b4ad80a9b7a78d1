// What mhr bench writes and prints: bench.json, report.html, the text
// summary, and the PostgreSQL baseline run beside it.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "tools/bench/bench.hpp"

namespace mhr {

// Runs tools/pg_baseline.sh with the benchmark's clients and record size:
// {"records_per_s", "ratio" (ours / baseline), "command", "output"}.
nlohmann::json run_pg_baseline(const BenchOptions& options, double ours_rps);

void write_bench_files(const std::string& dir, const nlohmann::json& bench);

}  // namespace mhr
