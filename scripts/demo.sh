#!/usr/bin/env bash
# The README's first command: installs what duet needs, builds it, and shows
# a cluster failing over. Today that is the consensus layer (duet-demo: three
# real raftlog cores over a simulated network, see tests/sim/demo.c); once
# the daemons exist it starts real processes and PostgreSQL servers.
# Usage: scripts/demo.sh [--seed N]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
echo "== building (build/)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target duet-demo duet-sim >/dev/null
echo "== the failover, narrated (simulated time)"
build/bin/duet-demo "$@"
echo
echo "== the same core under random faults: 50 seeds of the simulator"
build/bin/duet-sim --seeds 50 | tail -1
