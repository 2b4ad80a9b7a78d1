#!/usr/bin/env bash
# Configures and builds everything on all cores: build/ normally, build-san/
# with AddressSanitizer and UndefinedBehaviorSanitizer when SANITIZE=1 (its
# own directory, so the two builds never overwrite each other).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
dir=build sanitize=OFF
[ "${SANITIZE:-0}" = "1" ] && dir=build-san sanitize=ON
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMHR_SANITIZE=$sanitize >/dev/null
cmake --build "$dir" -j "$(nproc)"
