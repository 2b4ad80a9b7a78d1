#!/usr/bin/env bash
# Builds the libFuzzer targets in build-fuzz/ (clang-14, ASan, UBSan) and runs
# each on its corpus, for a time or a number of runs:
#   tests/fuzz/run.sh                      # every target, 20 s each
#   FUZZ_SECONDS=600 tests/fuzz/run.sh verify
#   FUZZ_RUNS=10000000 tests/fuzz/run.sh messages config
#   FUZZ_SECONDS=300 tests/fuzz/run.sh fhir
# New inputs go to build-fuzz/corpus/<target> (the checked-in corpus is only
# read); crashes to build-fuzz/crashes/<target>/. Exits non-zero on a crash.
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/setup.sh
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(messages config verify fhir fhir_resource)
CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DMHR_FUZZ=ON >/dev/null
mkdir -p build-fuzz
if ! cmake --build build-fuzz -j "${FUZZ_JOBS:-2}" --target "${targets[@]/#/fuzz_}" \
  >build-fuzz/build.log 2>&1; then
  tail -40 build-fuzz/build.log >&2
  exit 1
fi

limit=(-max_total_time="${FUZZ_SECONDS:-20}")
[ -n "${FUZZ_RUNS:-}" ] && limit=(-runs="$FUZZ_RUNS")
for t in "${targets[@]}"; do
  work=build-fuzz/corpus/$t crashes=build-fuzz/crashes/$t
  mkdir -p "$work" "$crashes"
  echo "== fuzz_$t ${limit[*]}"
  # -max_len: the largest valid seed is well below 16 KiB; messages up to
  # kMaxMessageBytes are covered by the decoders' limits, not by length.
  # fhir's seeds are whole patient bundles (up to 105 KB).
  max_len=16384
  [ "$t" = fhir ] && max_len=131072
  log=build-fuzz/fuzz_$t.log
  set +e
  build-fuzz/bin/fuzz_"$t" "${limit[@]}" -max_len=$max_len -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$crashes/" "$work" "tests/fuzz/corpus/$t" >"$log" 2>&1
  rc=$?
  set -e
  grep -E "^(stat::number_of_executed_units|stat::average_exec_per_sec|SUMMARY)|fuzz property failed|Done [0-9]+ runs" "$log" || true
  if [ $rc -ne 0 ]; then
    tail -40 "$log" >&2
    echo "fuzz_$t: exit $rc; full log $log" >&2
    exit 1
  fi
  if [ -n "$(ls -A "$crashes")" ]; then
    echo "fuzz_$t: crash reproducers in $crashes:" >&2
    ls "$crashes" >&2
    exit 1
  fi
done
