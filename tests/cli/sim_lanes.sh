#!/usr/bin/env bash
# mhr sim with parallel lanes: every record committed, no violation, and the
# same summary.json whatever the number of threads (and a different run
# from one lane: the lanes have their own random streams).
set -euo pipefail
mhr=$1 scenario=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$mhr" sim "$scenario" --seed 7 --set simulator.lanes=3 --threads 1 --out "$dir/t1" -q
"$mhr" sim "$scenario" --seed 7 --set simulator.lanes=3 --threads 2 --out "$dir/t2" -q
"$mhr" sim "$scenario" --seed 7 --out "$dir/one" -q
cmp "$dir/t1/summary.json" "$dir/t2/summary.json"
grep -q '"violations": 0' "$dir/t1/summary.json"
python3 - "$dir" <<'PY'
import json, sys
d = sys.argv[1]
t1 = json.load(open(f"{d}/t1/summary.json"))
one = json.load(open(f"{d}/one/summary.json"))
info = json.load(open(f"{d}/t2/run_info.json"))["runs"][0]
assert t1["records_committed"] == t1["records_submitted"] > 0, t1["records_committed"]
assert t1["migrations"]["completed"] == one["migrations"]["completed"] > 0
assert t1["messages"]["inter_network"] > 0
assert t1 != one, "three lanes gave the one-lane run"
assert info["lanes"] == 3 and info["threads"] == 2, info
PY
echo "lanes ok"
