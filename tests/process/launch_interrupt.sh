#!/usr/bin/env bash
# Ctrl-C during mhr launch: it exits 130 and leaves no node process behind.
set -uo pipefail
mhr=$1 scenario=$2 out=$3
bin_dir=$(dirname "$mhr")
"$mhr" launch "$scenario" --out "$out" -q &
pid=$!
for _ in $(seq 1 100); do  # wait until the nodes run
  pgrep -f "$bin_dir/edge_node" >/dev/null && break
  sleep 0.1
done
sleep 1
kill -INT "$pid"
wait "$pid"
rc=$?
[ "$rc" -eq 130 ] || { echo "expected exit 130 after Ctrl-C, got $rc" >&2; exit 1; }
for _ in $(seq 1 50); do
  pgrep -f "$out/.*/node.yaml" >/dev/null || { echo "interrupt ok"; exit 0; }
  sleep 0.1
done
echo "node processes left behind:" >&2
pgrep -af "$out/.*/node.yaml" >&2
exit 1
