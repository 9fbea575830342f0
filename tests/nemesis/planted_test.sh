#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# planted_test.sh BIN TESTS - the nemesis run must fail when an invariant
# fails: a short run (20 s, seed 7) with NEMESIS_PLANT=lose_write, which
# deletes one acknowledged row on the final master before the check. Passes
# only if run.sh exits 1, check.py names exactly one acknowledged write
# missing on the final master, and the seed and the replay command are
# printed.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
NEMESIS_PLANT=lose_write bash "$HERE/run.sh" --seed 7 --seconds 20 --bin "$1" --tests "$2" \
	--out "$(cd "$1/.." && pwd)/nemesis/planted" >"$out" 2>&1
rc=$?
grep -v '^20[0-9][0-9]-' "$out" | tail -n 40
fail() {
	echo "FAIL [nemesis_catches_lost_write]: $*" >&2
	exit 1
}
[ "$rc" = 1 ] || fail "run.sh exited $rc, not 1"
grep -q '^FAIL: 1 acknowledged writes missing on the final master' "$out" ||
	fail "check.py did not name the one lost write"
grep -q '^acked_writes_lost=1$' "$out" || fail "acked_writes_lost is not 1"
grep -q 'FAIL \[nemesis seed 7\]' "$out" || fail "the seed is not printed"
grep -q '^replay: .*run.sh --seed 7 --seconds 20' "$out" || fail "no replay command"
echo "PASS [nemesis_catches_lost_write]: the planted loss is caught, seed and replay printed"
