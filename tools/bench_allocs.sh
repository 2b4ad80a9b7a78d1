#!/usr/bin/env bash
# Heap allocations per committed record, per node role, on real processes:
# counts libc malloc calls (a perf uprobe) in each of the consensus, a record
# and the index node for 5 s of loopback-1c4r's closed loop, and divides by
# the records committed meanwhile (a record node holds a quarter of them: in
# that scenario each record's one holder is its origin). A diagnostic for
# docs/BENCHMARKS.md (sixth stage), never a test: needs root and perf.
#   tools/bench_allocs.sh [BINDIR] [OUTDIR]
set -euo pipefail
bindir=$(realpath "${1:-build/bin}") out=${2:-/tmp/mhr-bench-allocs}
command -v perf >/dev/null || { echo "bench_allocs: needs perf (apt-get install linux-perf)" >&2; exit 2; }
libc=$(ldd "$bindir/edge_node" | awk '/libc.so.6/ {print $3}')
perf probe -q -x "$libc" --add malloc 2>/dev/null || true  # already there is fine
perf probe -l 2>/dev/null | grep -q 'probe_libc:malloc' || { echo "bench_allocs: no malloc uprobe" >&2; exit 2; }
rm -rf "$out" && mkdir -p "$out"
"$bindir/mhr" bench scenarios/bench/loopback-1c4r.yaml --out "$out/bench" --window 32 \
  --max-window 32 --warmup 3 --measure 10 >"$out/bench.log" 2>&1 &
bench=$!
for _ in $(seq 150); do pgrep -f "$bindir/consensus_node" >/dev/null && break; sleep 0.2; done
sleep 14  # start-up, registrations and warm-up: the closed loop is on
declare -A pid=([consensus]=$(pgrep -f "$bindir/consensus_node" | head -1)
                [record]=$(pgrep -f "$bindir/edge_node" | head -1)
                [index]=$(pgrep -f "$bindir/index_node" | head -1))
for role in consensus record index; do
  perf stat -x, -e probe_libc:malloc -p "${pid[$role]}" -o "$out/$role.txt" -- sleep 5 &
done
wait %2 %3 %4
wait $bench
rps=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['peak']['committed_rps'])" "$out/bench/bench.json")
echo "closed loop: $rps committed records/s"
for role in consensus record index; do
  calls=$(grep probe_libc:malloc "$out/$role.txt" | cut -d, -f1)
  share=1; [ "$role" = record ] && share=4
  python3 -c "import sys; c,r,s=map(float,sys.argv[1:4]); print(f'{sys.argv[4]}: {c/5:,.0f} mallocs/s, {c/5/(r/s):.1f} per record')" \
    "$calls" "$rps" "$share" "$role"
done
