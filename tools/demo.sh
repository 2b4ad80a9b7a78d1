#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs the multi-network
# demo (3 edge networks x 4 hospitals, index network, migrations in both
# directions) in the deterministic simulator, then says what happened.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/build.sh >/dev/null
out=out/demo
echo "== MHR chain demo: scenarios/demo.yaml in the simulator (seed 7)"
build/bin/mhr sim scenarios/demo.yaml --seed 7 --out "$out"
echo
echo "The same seed replays this run exactly: build/bin/mhr sim scenarios/demo.yaml --seed 7"
echo "Open $out/report.html in a browser for the plots; $out/summary.json has every figure."
