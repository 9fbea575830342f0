#!/bin/sh
# SPDX-License-Identifier: MIT
# sim_replay: a seed replays identically (same trace digest twice), and a
# different seed gives a different digest.
# Usage: replay.sh path/to/duet-sim
set -eu
sim=$1
digest() { # seed
  out=$("$sim" --seed "$1") || true
  printf '%s\n' "$out" | sed -n 's/^digest: //p'
}
a=$(digest 42)
b=$(digest 42)
c=$(digest 43)
echo "seed 42: $a"
echo "seed 42: $b (replay)"
echo "seed 43: $c"
if [ -z "$a" ] || [ -z "$c" ]; then
  echo "replay: duet-sim printed no digest line" >&2
  exit 1
fi
if [ "$a" != "$b" ]; then
  echo "replay: seed 42 gave two different digests: not deterministic" >&2
  exit 1
fi
if [ "$a" = "$c" ]; then
  echo "replay: seeds 42 and 43 gave the same digest: the seed is not used" >&2
  exit 1
fi
echo "replay: ok"
