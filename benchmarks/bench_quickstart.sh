#!/usr/bin/env bash
# Wall time of the main job at its default size, per stage, on this machine.
#   bash benchmarks/bench_quickstart.sh [EXP_DIR]    (default: a fresh exp/bench_quickstart)
set -euo pipefail
cd "$(dirname "$0")/.."
exp=${1:-exp/bench_quickstart}
rm -rf "$exp"
t0=$(date +%s)
bash recipes/quickstart/run.sh --exp "$exp" > "$exp.log" 2>&1 || { tail -30 "$exp.log"; exit 1; }
t1=$(date +%s)
echo "machine: $(nproc) cores, $(python3 -c 'import os; print(round(os.sysconf("SC_PAGE_SIZE")*os.sysconf("SC_PHYS_PAGES")/2**30))') GiB"
echo "| stage | seconds |"
echo "|---|---|"
awk -F'\t' '{printf "| %s %s | %s |\n", $1, $2, $3}' "$exp/stage_times.tsv"
echo "| total (incl. set-up) | $((t1 - t0)) |"
