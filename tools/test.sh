#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite with ctest.
#   SANITIZE=1  builds build-san/ with AddressSanitizer and UndefinedBehavior-
#               Sanitizer and runs every test but the real-process ones there
#               (docs/RELIABILITY.md says why).
#   FUZZ=1      also runs each libFuzzer target briefly (tests/fuzz/run.sh,
#               FUZZ_SECONDS each, 15 by default); CI=true implies it.
# Extra arguments go to ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${SANITIZE:-0}" = "1" ]; then
  tools/build.sh
  cd build-san
  # Real processes (process.*) run under sanitizers too slowly for their
  # wall-clock deadlines; everything else runs.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    ctest --output-on-failure -j "$(nproc)" -E '^process\.' "$@"
  exit 0
fi
tools/build.sh
(cd build && ctest --output-on-failure -j "$(nproc)" "$@")
if [ "${FUZZ:-0}" = "1" ] || [ "${CI:-}" = "true" ]; then
  FUZZ_SECONDS=${FUZZ_SECONDS:-15} tests/fuzz/run.sh
fi
