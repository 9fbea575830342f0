#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# demo_test.sh SRC BUILD - smoke test of the README's first command
# (scripts/demo.sh, issue 7 item 1) against an existing build, without
# installing packages: the demo runs without pauses (--yes, no terminal),
# must say that node-b took over, that no acknowledged write was lost and
# that node-a is a SYNC standby again after duetctl rejoin, and must leave
# the cluster up; a second demo must refuse while it is up; --status shows
# it; --down removes it: no namespace, no process, no directory left.
#
# The demo runs in a directory and under a namespace prefix of its own
# (DUET_DEMO_DIR, DUET_DEMO_PREFIX), so that a demo a person left up on the
# machine is neither seen nor touched.
set -uo pipefail

SRC=$(cd "$1" && pwd)
BUILD=$(cd "$2" && pwd)
DEMO=$SRC/scripts/demo.sh
export DUET_DEMO_SKIP_DEPS=1 DUET_DEMO_SKIP_BUILD=1 DUET_BUILD_DIR=$BUILD
export DUET_DEMO_DIR=/tmp/ddemo$$
export DUET_DEMO_PREFIX=demotest$$-
OUT=$(mktemp /tmp/duet-demotest-out.XXXXXX)

fail() {
	echo "FAIL [demo]: $*" >&2
	exit 1
}
ok() { echo "ok [demo]: $*"; }

DOWN_DONE=0
cleanup() {
	local rc=$?
	kill -TERM "$WATCHDOG" 2>/dev/null
	if [ "$DOWN_DONE" != 1 ]; then
		if [ "$rc" != 0 ]; then
			echo "---- demo output (last 80 lines)" >&2
			tail -n 80 "$OUT" >&2
			for f in "$DUET_DEMO_DIR"/duet-rig-*/{node-a,node-b,witness}/duetd.log; do
				[ -f "$f" ] || continue
				echo "---- $f (last 30 lines)" >&2
				tail -n 30 "$f" >&2
			done
		fi
		"$DEMO" --down >/dev/null 2>&1
	fi
	rm -f "$OUT"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[ "$(id -u)" = 0 ] || fail "needs root (network namespaces, PostgreSQL as user postgres)"

# ctest ends an overrunning test with SIGKILL, which would leave the cluster
# up: end a little earlier, through --down (the TERM trap)
(
	trap 'kill "$s" 2>/dev/null; exit 0' TERM
	sleep "${DEMO_TEST_BUDGET_S:-280}" &
	s=$!
	wait "$s" || exit 0
	echo "FAIL [demo]: out of time (${DEMO_TEST_BUDGET_S:-280} s)" >&2
	kill -TERM $$
) &
WATCHDOG=$!

# ---------------------------------------------------------------- the demo
"$DEMO" --yes </dev/null >"$OUT" 2>&1
rc=$?
sed 's/^/    | /' "$OUT"
[ "$rc" = 0 ] || fail "scripts/demo.sh exited $rc"
grep -Eq "^ +\+[0-9]+ ms +node-b: leader, term [0-9]+, .*acting master$" "$OUT" ||
	fail "the demo did not show node-b acting master"
grep -q "node-b is acting master: it holds the FIP" "$OUT" || fail "no takeover by node-b shown"
grep -Eq "^ +\| acked=[0-9]+ present=[0-9]+ lost=0$" "$OUT" ||
	fail "pgprobe verify after the failover did not say lost=0"
grep -Eq "^ +MASTER\(node-b, failover\) committed +\+[0-9]+ ms$" "$OUT" ||
	fail "no takeover timings"
grep -Eq "STEP promote on node 2 ok" "$OUT" || fail "no promote STEP from the audit log"
grep -q "duetctl rejoin: exit 0" "$OUT" || fail "duetctl rejoin did not end with exit 0"
grep -q "node-a is a SYNC standby of node-b again" "$OUT" || fail "node-a not shown SYNC again"
grep -Eq "^ +\| members +node-a sync standby \(SYNC\) node-b master" "$OUT" ||
	fail "no status table with node-a SYNC under node-b"
grep -q "GET /master on node-b: 200 " "$OUT" || fail "GET /master on node-b did not answer 200"
grep -q "GET /master on node-a: 503 " "$OUT" || fail "GET /master on node-a did not answer 503"
grep -Eq "^ +node-a: acked=[0-9]+ present=[0-9]+ lost=0$" "$OUT" ||
	fail "not every acknowledged write is on node-a at the end"
grep -Eq "^ +failover: node-a killed -> node-b acting master in [0-9.]+ s; writes paused [0-9.]+ s; 0 acknowledged writes lost$" "$OUT" ||
	fail "no summary of the failover"
ok "the demo showed the failover to node-b (0 lost) and node-a SYNC again after duetctl rejoin"
ok "$(grep -E '^ +(failover|rejoin): ' "$OUT" | sed 's/^ *//' | tr '\n' ' ')"

# ---------------------------------------------------------------- left up
[ -f "$DUET_DEMO_DIR/env" ] || fail "no state file $DUET_DEMO_DIR/env"
RIG_DIR=$(sed -n 's/^RIG_DIR=//p' "$DUET_DEMO_DIR/env")
[ -d "$RIG_DIR" ] || fail "the state file names no directory: '$RIG_DIR'"
BIN=$BUILD/bin
daemons=()
for n in node-a node-b witness; do
	p=$(sed -n "s/^PID_${n//-/_}=//p" "$DUET_DEMO_DIR/env")
	[[ "$p" =~ ^[0-9]+$ ]] || fail "no pid of $n's daemon in the state file"
	[ "$(ip netns identify "$p" 2>/dev/null)" = "${DUET_DEMO_PREFIX}$n" ] ||
		fail "$n's daemon (pid $p) does not run in ${DUET_DEMO_PREFIX}$n after the demo ended"
	daemons+=("$p")
done
"$BIN/duetctl" status --json --socket "$RIG_DIR/node-b/duet/admin.sock" |
	jq -e '.acting == "master" and ([.members[] | select(.name == "node-a") | .sync] == [true])' \
		>/dev/null || fail "after the demo, node-b is not master with node-a SYNC"
ok "the cluster is left up: daemons ${daemons[*]}, node-b master, node-a SYNC"
pg=()
for n in node-a node-b; do
	p=$(head -n 1 "$RIG_DIR/$n/pg/postmaster.pid" 2>/dev/null)
	[[ "$p" =~ ^[0-9]+$ ]] || fail "no postmaster.pid for $n"
	pg+=("$p")
done

"$DEMO" --yes </dev/null >"$OUT.2" 2>&1
rc=$?
second=$(cat "$OUT.2")
rm -f "$OUT.2"
[ "$rc" != 0 ] || fail "a second demo while one is up exited 0: $second"
grep -q "already up" <<<"$second" || fail "a second demo did not say one is up: $second"
dirs=("$DUET_DEMO_DIR"/duet-rig-*)
[ "${#dirs[@]}" = 1 ] || fail "a second cluster directory appeared: ${dirs[*]}"
ok "a second demo refuses: $(head -n 1 <<<"$second")"

status=$("$DEMO" --status 2>&1) || fail "scripts/demo.sh --status failed: $status"
grep -q "GET /master on node-b: 200" <<<"$status" || fail "--status: $status"
grep -Eq "^ +\| acting +master" <<<"$status" || fail "--status shows no status table: $status"
ok "--status shows the cluster"

# ---------------------------------------------------------------- down
down=$("$DEMO" --down 2>&1)
rc=$?
DOWN_DONE=1
while IFS= read -r l; do echo "    | $l"; done <<<"$down"
[ "$rc" = 0 ] || fail "scripts/demo.sh --down exited $rc"
left=$(ip netns list | awk '{print $1}' | grep "^$DUET_DEMO_PREFIX")
[ -z "$left" ] || fail "namespaces left after --down: $left"
[ ! -e "$DUET_DEMO_DIR" ] || fail "$DUET_DEMO_DIR left after --down"
alive() {
	local st
	st=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}
gone() {
	local p
	for p in "$@"; do alive "$p" && return 1; done
	return 0
}
deadline=$(($(date +%s) + 10))
until gone "${daemons[@]}" "${pg[@]}"; do
	[ "$(date +%s)" -lt "$deadline" ] || fail "processes left after --down: $(for p in \
		"${daemons[@]}" "${pg[@]}"; do alive "$p" && echo "$p"; done | tr '\n' ' ')"
	sleep 0.05
done
ok "--down left no namespace, no daemon or postmaster, no $DUET_DEMO_DIR"
again=$("$DEMO" --down 2>&1) || fail "a second --down failed: $again"
grep -q "nothing to remove" <<<"$again" || fail "a second --down: $again"
echo "PASS [demo]"
