#!/usr/bin/env bash
# mhr verify on the LMDB stores of a real run: every node's store is intact;
# a directory without a store is refused, not taken for an empty store.
set -euo pipefail
mhr=$1 scenario=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$mhr" launch "$scenario" --out "$dir/run" -q
n=0
for data in "$dir"/run/*/nodes/*/data; do
  "$mhr" verify --data "$data" --topology "$(dirname "$(dirname "$(dirname "$data")")")/topology.yaml" >/dev/null
  n=$((n + 1))
done
[ "$n" -gt 0 ] || { echo "no stores found" >&2; exit 1; }
set +e
"$mhr" verify --data "$dir/none" 2>/dev/null
rc=$?
set -e
[ "$rc" -eq 2 ] || { echo "expected exit 2 without a store, got $rc" >&2; exit 1; }
[ ! -e "$dir/none" ] || { echo "verify created a store" >&2; exit 1; }
echo "verified $n stores"
