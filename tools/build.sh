#!/usr/bin/env bash
# Configures build/ and builds everything on all cores. SANITIZE=1 builds
# with AddressSanitizer and UndefinedBehaviorSanitizer into build/ as well.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
sanitize=OFF
[ "${SANITIZE:-0}" = "1" ] && sanitize=ON
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMHR_SANITIZE=$sanitize >/dev/null
cmake --build build -j "$(nproc)"
