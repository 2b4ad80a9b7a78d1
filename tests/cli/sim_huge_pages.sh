#!/usr/bin/env bash
# mhr sim puts its heap on transparent huge pages where the kernel has them,
# says so in run_info.json, and leaves it off with MHR_SIM_HUGE_PAGES=0.
set -euo pipefail
mhr=$1 scenario=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
expected=false
if grep -qE '\[(always|madvise)\]' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null; then
  expected=true
fi
env -u GLIBC_TUNABLES "$mhr" sim "$scenario" --out "$dir/on" -q
grep -q "\"heap_huge_pages\": $expected" "$dir/on/run_info.json"
env -u GLIBC_TUNABLES MHR_SIM_HUGE_PAGES=0 "$mhr" sim "$scenario" --out "$dir/off" -q
grep -q '"heap_huge_pages": false' "$dir/off/run_info.json"
# Same run either way.
cmp "$dir/on/summary.json" "$dir/off/summary.json"
echo "huge pages: $expected, ok"
