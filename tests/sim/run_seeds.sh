#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs duet-sim over $DUET_SIM_SEEDS seeds (default 2000): the sim_seeds test.
# Usage: run_seeds.sh path/to/duet-sim
set -eu
sim=$1
seeds=${DUET_SIM_SEEDS:-2000}
exec "$sim" --seeds "$seeds"
