#!/bin/sh
# SPDX-License-Identifier: MIT
# sim_catches_<bug>: a duet-sim built against a core with a planted bug must
# find a violation within its seeds, of an invariant the bug breaks.
# Usage: expect_failure.sh path/to/duet-sim-bug-X SEEDS 'inv1|inv2|...'
# Passes when the simulator exits non-zero, prints `failures: F` with F > 0,
# and a FAIL line names one of the expected invariants.
set -u
sim=$1
seeds=$2
expect=$3
out=$("$sim" --seeds "$seeds" --max-failures 3 2>&1)
rc=$?
printf '%s\n' "$out" | grep -E '^(FAIL|reproduce:|seeds:|totals:|elapsed:)'
if [ "$rc" -eq 0 ]; then
  echo "expect_failure: $sim found no violation in $seeds seeds (exit 0)" >&2
  exit 1
fi
f=$(printf '%s\n' "$out" | sed -n 's/^seeds: [0-9]* failures: \([0-9]*\)$/\1/p' | tail -n 1)
if [ -z "$f" ] || [ "$f" -eq 0 ]; then
  echo "expect_failure: no 'failures: F' line with F > 0 (exit $rc)" >&2
  exit 1
fi
if ! printf '%s\n' "$out" | grep -Eq "^FAIL seed=[0-9]+ step=[0-9]+ invariant=($expect):"; then
  echo "expect_failure: violations found, but none of the expected invariants ($expect)" >&2
  exit 1
fi
echo "expect_failure: caught ($f failing seeds, expected invariant present)"
