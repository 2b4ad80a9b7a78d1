#!/usr/bin/env bash
# mhr bench on a scenario written here (two networks, not a bench scenario
# of the project): real processes, every figure of bench.json present and
# sane, the ramp reported, report.html written, no node left running.
set -euo pipefail
mhr=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat >"$dir/two-nets.yaml" <<'YAML'
name: two-nets
description: two networks of 2 record nodes, 60 users, some in both
seed: 3
duration: 10s
modes: [table, full]
crypto: real
topology:
  networks: 2
  record_nodes: 2
workload:
  users: 60
  multi_network_fraction: 0.2
  nodes_per_network: 1
  registration_window: 1s
  record_rate: 50
  start: 1s
  stop: 9s
  payload_bytes: {min: 256, max: 256}
YAML
"$mhr" bench "$dir/two-nets.yaml" --out "$dir/out" --clients 2 --window 2 --max-window 4 \
  --record-bytes 256 --warmup 0.5 --measure 1 >"$dir/log" 2>&1 || { cat "$dir/log"; exit 1; }
cat "$dir/log"
test -s "$dir/out/report.html"
python3 - "$dir/out/bench.json" <<'PY'
import json, sys
b = json.load(open(sys.argv[1]))
assert [m["mode"] for m in b["modes"]] == ["table", "full"], b.keys()
for m in b["modes"]:
    assert m["committed_rps"] > 0, m["mode"]
    l = m["latency_ms"]
    assert 0 < l["p50"] <= l["p90"] <= l["p99"] <= l["max"], l
    assert 0 < m["crypto_efficiency"] < 1.5
    assert [s["window"] for s in m["ramp"]][:1] == [2]
    assert m["peak"]["window"] in (2, 4)
    assert len(m["nodes"]) == 2 * (2 + 1 + 1), m["nodes"].keys()
    for name, n in m["nodes"].items():
        assert n["cpu_seconds"] >= 0 and n["peak_rss_mb"] > 0 and n["disk_bytes"] > 0, name
    assert sum(n["cpu_seconds"] for n in m["nodes"].values()) > 0
print("bench.json ok")
PY
if pgrep -f "$dir/out" >/dev/null; then
  echo "node processes still running" >&2
  exit 1
fi
# --no-fsync is a diagnostic: recorded in bench.json, and never next to the
# baseline, which commits synchronously.
python3 -c "import json,sys; assert json.load(open(sys.argv[1]))['settings']['fsync'] is True" \
  "$dir/out/bench.json"
if "$mhr" bench "$dir/two-nets.yaml" --no-fsync --baseline --out "$dir/nf" >"$dir/nf.log" 2>&1; then
  echo "--no-fsync with --baseline was not refused" >&2
  exit 1
fi
grep -q "the baseline commits synchronously" "$dir/nf.log"
