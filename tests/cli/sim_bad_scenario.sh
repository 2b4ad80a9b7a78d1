#!/usr/bin/env bash
# mhr sim refuses a scenario with a misspelled key before running, naming
# the file, the line and the key; and a bad --set value too.
set -euo pipefail
mhr=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat >"$dir/typo.yaml" <<'YAML'
duration: 5s
topology: {networks: 1, record_nodes: 2}
workload:
  users: 5
  record_rate: 10
  paylod_bytes: {min: 10, max: 20}
YAML
set +e
"$mhr" sim "$dir/typo.yaml" --out "$dir/out" 2>"$dir/err"
rc=$?
set -e
cat "$dir/err"
[ "$rc" -eq 2 ] || { echo "expected exit 2, got $rc" >&2; exit 1; }
grep -q "typo.yaml:6:3" "$dir/err"
grep -q "workload.paylod_bytes" "$dir/err"
[ ! -e "$dir/out" ] || { echo "a refused scenario must not run" >&2; exit 1; }
set +e
"$mhr" sim "$dir/typo.yaml" --set workload.record_rate=-4 2>"$dir/err2"
rc=$?
set -e
[ "$rc" -eq 2 ] || { echo "expected exit 2 for a bad --set, got $rc" >&2; exit 1; }
echo "refusals ok"
