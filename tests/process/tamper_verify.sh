#!/usr/bin/env bash
# Tampering: the stores of a real run (a record, a consensus and an index
# node, stopped) get one random byte changed, 100 times, each time in a fresh
# copy. Every time `mhr verify` must name the damage (exit 1, "DAMAGED: ..."),
# or refuse to open the store with a message (exit 2), or -- when the byte
# carried no data (LMDB free pages, page slack, the older meta page) -- find
# the store intact with a logical dump (mdb_dump -a, every table) unchanged.
# Then a node must refuse to start on a damaged store and say how to recover.
#   tamper_verify.sh MHR SCENARIO [FLIPS]      MHR_TEST_SEED=N replays a run
set -euo pipefail
mhr=$1 scenario=$2 flips=${3:-100}
seed=${MHR_TEST_SEED:-$(( $(date +%s%N) % 1000000 ))}
RANDOM=$seed
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "tamper_verify: $* (replay: MHR_TEST_SEED=$seed)" >&2; exit 1; }

"$mhr" launch "$scenario" --out "$dir/run" -q
run=$(dirname "$(ls -d "$dir"/run/*/topology.yaml | head -1)")
topology=$run/topology.yaml
stores=()
for role in r c i; do
  # The largest store of each role: the most data to hit.
  best=$(ls -S "$run"/nodes/*."$role"*/data/data.mdb | head -1)
  stores+=("$(dirname "$best")")
done
# Every table's keys and values. The map size in each table's header is the
# size LMDB reserved when the file was made, a hint it recomputes on open,
# not stored content, so it is left out.
logical_dump() {
  mdb_dump -a "$1" | grep -v '^mapsize='
}

for s in "${stores[@]}"; do
  "$mhr" verify --data "$s" --topology "$topology" >/dev/null || fail "$s is damaged before any flip"
  logical_dump "$s" >"$s.dump"
done


detected=0 refused=0 nodata=0

for ((i = 0; i < flips; i++)); do
  src=${stores[$((i % ${#stores[@]}))]}
  work=$dir/work
  rm -rf "$work" && cp -a "$src" "$work"
  size=$(stat -c %s "$work/data.mdb")
  offset=$(( ((RANDOM << 15) | RANDOM) % size ))
  mask=$(( RANDOM % 255 + 1 ))
  old=$(od -An -tu1 -j "$offset" -N1 "$work/data.mdb" | tr -d ' ')
  printf "$(printf '\\%03o' $(( old ^ mask )))" |
    dd of="$work/data.mdb" bs=1 seek="$offset" conv=notrunc status=none
  what="flip $i: byte $offset of $(basename "$(dirname "$src")")/data.mdb ($old ^ $mask)"
  set +e
  out=$("$mhr" verify --data "$work" --topology "$topology" 2>&1)
  rc=$?
  set -e
  case $rc in
    1) grep -q "^DAMAGED: ." <<<"$out" || fail "$what: exit 1 without naming the damage: $out"
       detected=$((detected + 1)) ;;
    2) [ -n "$out" ] || fail "$what: refused without a message"
       refused=$((refused + 1)) ;;
    0) logical_dump "$work" >"$dir/after.dump" 2>&1 || fail "$what: intact for verify, but mdb_dump fails"

       cmp -s "$src.dump" "$dir/after.dump" ||
         fail "$what: changed the store's content unnoticed: $(diff "$src.dump" "$dir/after.dump" | head -8)"
       nodata=$((nodata + 1)) ;;
    *) fail "$what: mhr verify exited $rc: $out" ;;
  esac
  # Keep one detected damage for the node start-up check below.
  if [ $rc -eq 1 ] && [ ! -d "$dir/damaged" ]; then mv "$work" "$dir/damaged"; damaged_src=$src; fi
done

# A file cut short (a full disk, a copy interrupted) is named too.
rm -rf "$dir/cut" && cp -a "${stores[0]}" "$dir/cut"
truncate -s $(( $(stat -c %s "$dir/cut/data.mdb") / 2 )) "$dir/cut/data.mdb"
set +e
out=$("$mhr" verify --data "$dir/cut" --topology "$topology" 2>&1)
rc=$?
set -e
{ [ $rc -eq 1 ] || [ $rc -eq 2 ]; } && [ -n "$out" ] || fail "a truncated store: exit $rc: $out"

# A node refuses to start on a damaged store and says how to recover.
[ -d "$dir/damaged" ] || fail "no flip was detected, so the start-up check was not tried"
node_dir=$(dirname "$damaged_src")
node_yaml=$dir/node.yaml
sed "s|data_dir: .*|data_dir: $dir/damaged|" "$node_dir/node.yaml" >"$node_yaml"
role=$(basename "$node_dir")
case $role in *.r*) bin=edge_node ;; *.c*) bin=consensus_node ;; *) bin=index_node ;; esac
set +e
out=$(timeout 60 "$(dirname "$mhr")/$bin" --config "$node_yaml" 2>&1)
rc=$?
set -e
[ $rc -eq 3 ] || fail "$bin started on a damaged store (exit $rc): $out"
grep -q "refusing to start" <<<"$out" && grep -q "re-syncs" <<<"$out" ||
  fail "$bin's refusal does not say what is wrong and how to recover: $out"

echo "seed $seed: $flips flips: $detected named by mhr verify, $refused refused to open," \
  "$nodata in bytes carrying no data (content unchanged); the node refused the damaged store"
