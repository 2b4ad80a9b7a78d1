#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite with ctest.
#   SANITIZE=1  builds build-san/ with AddressSanitizer and UndefinedBehavior-
#               Sanitizer and runs the unit, simulator, runtime and FHIR-core
#               tests and the mhr sim runs there (docs/RELIABILITY.md).

#   FUZZ=1      also runs each libFuzzer target briefly (tests/fuzz/run.sh,
#               FUZZ_SECONDS each, 15 by default); CI=true implies it.
# Extra arguments go to ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${SANITIZE:-0}" = "1" ]; then
  # The unit, simulator, runtime and FHIR-core tests and the mhr sim runs,
  # built alone (-O1, line tables only) to keep CI short; real processes
  # run under sanitizers too slowly for their wall-clock deadlines.
  tools/setup.sh
  cmake -S . -B build-san -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" \
    -DMHR_SANITIZE=ON >/dev/null
  binaries=(unit_tests sim_engine_tests scenario_tests flow_tests role_tests net_tests fhir_tests)
  cmake --build build-san -j "$(nproc)" --target "${binaries[@]}" mhr
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
  for b in "${binaries[@]}"; do
    echo "== $b (sanitizers)"
    build-san/bin/"$b" --minimal
  done
  # The mhr sim runs; not mhr bench, which starts node processes this build
  # does not make.
  (cd build-san && ctest --output-on-failure -j "$(nproc)" -R '^cli\.' -E '^cli\.bench' "$@")
  exit 0
fi

tools/build.sh
(cd build && ctest --output-on-failure -j "$(nproc)" "$@")
if [ "${FUZZ:-0}" = "1" ] || [ "${CI:-}" = "true" ]; then
  FUZZ_SECONDS=${FUZZ_SECONDS:-15} tests/fuzz/run.sh
fi
