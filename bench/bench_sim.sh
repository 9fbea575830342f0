#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench_sim.sh - build/bin/bench-sim: how fast the deterministic simulator
# checks seeds (issue 14: CI runs thousands of whole-node seeds in its time
# budget, a million by hand). Runs `duet-sim --seeds N` on ONE core
# (taskset, so the figure is per core whatever the machine) and prints, one
# "name: value" a line:
#   sim_seeds                 seeds run
#   sim_failures              seeds that failed (0 on a clean build)
#   sim_seeds_per_core_s      seeds per second of that one core
#   sim_simulated_s           simulated time of all seeds together
#   sim_to_real_ratio         simulated seconds per wall-clock second
#   sim_events_per_s          simulator events per second
# Usage: bench-sim [--seeds N] [--first S]   (default 2000 seeds from 1)
set -euo pipefail
BIN=
seeds=2000
first=1
while [ $# -gt 0 ]; do
	case $1 in
	--bin) BIN=$2; shift 2 ;;
	--seeds) seeds=$2; shift 2 ;;
	--first) first=$2; shift 2 ;;
	-h | --help)
		sed -n '3,14p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "bench-sim: unknown argument '$1'; see --help" >&2
		exit 2
		;;
	esac
done
sim=${BIN:-$(dirname "$0")}/duet-sim
[ -x "$sim" ] || { echo "bench-sim: $sim is not built" >&2; exit 1; }
out=$(mktemp /tmp/bench-sim.XXXXXX)
trap 'rm -f "$out"' EXIT
cpu=$(taskset -pc $$ | sed 's/.*: //; s/[-,].*//')
start=$(date +%s.%N)
rc=0
taskset -c "$cpu" "$sim" --seeds "$seeds" --seed "$first" >"$out" 2>&1 || rc=$?
end=$(date +%s.%N)
[ $rc -le 1 ] || { cat "$out" >&2; echo "bench-sim: duet-sim exited $rc" >&2; exit 1; }
python3 - "$out" "$start" "$end" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
wall = float(sys.argv[3]) - float(sys.argv[2])
m = re.search(r"seeds: (\d+) failures: (\d+)", text)
tot = re.search(r"totals: steps=(\d+) simulated=(\d+)s", text)
if not m or not tot:
    sys.exit("bench-sim: duet-sim printed no totals:\n" + text[-2000:])
seeds, failures = int(m.group(1)), int(m.group(2))
steps, simulated = int(tot.group(1)), int(tot.group(2))
print(f"sim_seeds: {seeds}")
print(f"sim_failures: {failures}")
print(f"sim_seeds_per_core_s: {seeds / wall:.1f}")
print(f"sim_simulated_s: {simulated}")
print(f"sim_to_real_ratio: {simulated / wall:.0f}")
print(f"sim_events_per_s: {steps / wall:.0f}")
print(f"sim_wall_s: {wall:.2f}")
PY
