#!/usr/bin/env bash
# mhr launch --netns: each edge network in its own network namespace, linked
# by veth pairs through a bridge. Needs root and iproute2 (CI runs as root);
# skipped (exit 77) elsewhere. Leaves no namespace or link behind.
set -euo pipefail
mhr=$1 scenario=$2 out=$3
if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null || ! ip netns list >/dev/null 2>&1; then
  echo "skipped: needs root and iproute2"
  exit 77
fi
"$mhr" launch "$scenario" --netns --set "modes=[table]" --duration 8 --out "$out" -q &
launcher=$!
wait "$launcher"
grep -q '"violations": 0' "$out/summary.json"
# Its own names only (mhr<pid>...): another launch may be running on this machine.
tag="mhr$((launcher % 100000))"
if ip netns list | grep -qE "^${tag}n[0-9]"; then echo "namespaces left behind" >&2; exit 1; fi
if ip link | grep -qE " ${tag}(br|v[0-9])"; then echo "links left behind" >&2; exit 1; fi
echo "netns launch ok"
