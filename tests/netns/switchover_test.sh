#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# switchover_test.sh BIN TESTS - `duetctl switchover` end to end on the netns
# rig (duet_rig.sh; issue 6 item 3): two duetd with their own PostgreSQL 15
# in synchronous replication, duet-witness, the manager, the FIP; a writer
# inserts through the FIP the whole time, a sampler asks both servers every
# 50 ms whether they are primary.
#
#   1. refusals that change nothing: the witness is asked (it has no
#      PostgreSQL), the target is the master itself, an unknown member, and
#      the standby is not SYNC (its PostgreSQL stopped until SYNC off), asked
#      of the master and of the standby (refused before forwarding);
#   2. node-a -> node-b, asked of the master: node-b acts, holds the FIP and
#      acknowledges writes (duetctl list on it shows node-a's PostgreSQL
#      streaming, SYNC, with its lag); node-a's PostgreSQL is rebuilt as node-b's
#      standby with pg_rewind and node-a is SYNC on again; the audit log has
#      OPERATOR(switchover) with who and why, MASTER(node-b, switchover) and
#      no fence STEP (a planned switchover fences nobody);
#   3. node-b -> node-a, asked of the standby (node-a): forwarded to the
#      master, same outcome the other way.
#
# Each switchover may fail writes only between the old master's stop and the
# new one's FIP (printed: the longest gap between two acknowledged writes);
# at the end every acknowledged id is on both servers and no sample saw two
# primaries.
set -uo pipefail

BIN=$(cd "$1" && pwd)
TESTS=$(cd "$2" && pwd)
export BIN TESTS
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/netns/duet_rig.sh
source "$HERE/duet_rig.sh"

fail() {
	echo "FAIL [switchover]: $*" >&2
	exit 1
}
ok() { echo "ok [switchover]: $*"; }

rig_on_down() {
	[ "$1" = 0 ] && return 0
	local n
	for n in node-a node-b witness; do
		echo "---- $n duetd log (last 60 lines)" >&2
		tail -n 60 "$RIG_DIR/$n/duetd.log" >&2 2>/dev/null
	done
	for n in node-a node-b; do
		echo "---- $n pg.log (last 15 lines)" >&2
		tail -n 15 "$RIG_DIR/$n/pg.log" >&2 2>/dev/null
	done
}

[ "$(id -u)" = 0 ] || fail "needs root (network namespaces, PostgreSQL as user postgres)"

now() { "$TESTS/pgprobe" now; }

# refused NEEDLE CMD...: CMD exits 1 with NEEDLE in its output
refused() {
	local needle=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	[ "$rc" = 1 ] || fail "'$*' exited $rc (want 1): $out"
	grep -q -- "$needle" <<<"$out" || fail "'$*' does not say '$needle': $out"
	ok "refused: $out"
}

# the longest gap (ms) between two consecutive acknowledged writes that
# overlaps [T0, T1] (the writer appends in order)
longest_gap() {
	awk -v a="$1" -v b="$2" '{ if (p && $2 >= a && p <= b) { g = $2 - p; if (g > m) m = g } p = $2 }
		END { printf "%d\n", m / 1000000 }' "$DUET_ACKS"
}

# list_shows MASTER STANDBY: `duetctl list --json` asked of MASTER shows it
# acting master on a primary and STANDBY's PostgreSQL streaming from it
# with a lag in bytes, STANDBY SYNC (issue 16 item 2, with real servers)
list_shows() {
	"$BIN/duetctl" list --json --config "$RIG_DIR/$1.ini" >"$RIG_DIR/list.json" 2>&1 &&
		jq -en --arg m "$1" --arg s "$2" 'input | .members as $r |
		($r[] | select(.member == $m) | .asked and .acting == "master" and .pg == "primary" and
			.lease == "held") and
		($r[] | select(.member == $s) | .pg == "standby" and .sync == true and
			(.lag_bytes | type) == "number" and .reachable)' "$RIG_DIR/list.json" >/dev/null
}

# switchover OLD NEW ASKED: duetctl switchover asked of ASKED's daemon
switchover() {
	local old=$1 new=$2 asked=$3 out t0 t1 rc
	local since
	since=$(duet_field "$old" '.master.since_index')
	out=$RIG_DIR/switchover-$old-$new.out
	t0=$(now)
	"$BIN/duetctl" switchover --config "$RIG_DIR/$asked.ini" --to "$new" \
		--why "rig test: $old to $new" --timeout $((60 * RIG_SLOW)) >"$out" 2>&1
	rc=$?
	t1=$(now)
	sed 's/^/    | /' "$out"
	[ "$rc" = 0 ] || fail "duetctl switchover $old -> $new exited $rc"
	duet_acting_master "$new" || fail "$new is not acting master"
	duet_acting_master "$old" && fail "$old still acts as master"
	[ "$(duet_field "$new" '.master.reason')" = switchover ] ||
		fail "the master entry's reason: $(duet_field "$new" '.master')"
	[ "$(duet_field "$new" '.master.since_index')" -gt "$since" ] ||
		fail "no new MASTER entry"
	[ "$(rig_fip_holder | tr '\n' ' ')" = "$new " ] ||
		fail "FIP holders: $(rig_fip_holder | tr '\n' ' ')"
	duet_sync_on "$new" "$old" || fail "$old is not SYNC on in $new's view"
	rig_wait 10 "$old's PostgreSQL streaming from $new" duet_pg_standby_of "$old" "$new" ||
		fail "$old's PostgreSQL is not a standby of $new"
	rig_wait 10 "duetctl list on $new showing $old's PostgreSQL streaming" \
		list_shows "$new" "$old" || fail "duetctl list on $new: $(cat "$RIG_DIR/list.json")"
	"$BIN/duetctl" list --config "$RIG_DIR/$new.ini" | sed 's/^/    | /'
	[ "$(duet_field "$old" '.pg_rebuild.state')" = done ] ||
		fail "$old's rebuild: $(duet_field "$old" '.pg_rebuild')"
	[ "$(duet_field "$old" '.pg_rebuild.method')" = rewind ] ||
		fail "$old was not rewound: $(duet_field "$old" '.pg_rebuild')"
	duet_wait_acks 50 "$new" 20 || fail "no writes acknowledged by $new"
	ok "$old -> $new in $(((t1 - t0) / 1000000)) ms (SYNC again included); longest write gap \
$(longest_gap "$t0" "$t1") ms; $old rewound: $(duet_field "$old" '.pg_rebuild.detail')"
	"$BIN/duetctl" log --config "$RIG_DIR/$new.ini" --type OPERATOR |
		grep "switchover" | grep -q "rig test: $old to $new" ||
		fail "no OPERATOR(switchover) entry with who and why"
	if "$BIN/duetctl" log --config "$RIG_DIR/$new.ini" --type STEP | grep -qi "fence"; then
		fail "a fence STEP was recorded: $("$BIN/duetctl" log --config "$RIG_DIR/$new.ini" \
			--type STEP | grep -i fence)"
	fi
	ok "audited: OPERATOR(switchover) with the reason, MASTER(switchover), no fencing"
	# the old master's pg check failed while its PostgreSQL was rebuilt: the
	# next switchover to it is refused until the log has it passing again
	rig_wait 30 "$old's critical checks pass in the log" \
		duet_is "$new" '(.members[] | select(.name == "'"$old"'") | .critical_failing) == false' ||
		fail "$old's checks: $(duet_field "$new" '.members')"
}

duet_up "" || fail "the cluster did not come up"
ok "node-a is acting master, node-b a committed SYNC standby"
duet_writer_start || fail "writer"
duet_sampler_start || fail "sampler"
duet_wait_acks 100 node-a || fail "no writes through the FIP"

# 1. refusals
refused "is the witness" "$BIN/duetctl" switchover --config "$RIG_DIR/witness.ini"
refused "is master already" "$BIN/duetctl" switchover --config "$RIG_DIR/node-a.ini" \
	--to node-a
refused "no member named" "$BIN/duetctl" switchover --config "$RIG_DIR/node-a.ini" --to nobody
rig_pg_stop node-b || fail "stop node-b's PostgreSQL"
rig_wait 20 "node-a commits SYNC(node-b, off)" \
	duet_is node-a '(.members[] | select(.name == "node-b") | .sync) == false' ||
	fail "SYNC off not committed"
refused "not a synchronous standby" "$BIN/duetctl" switchover --config "$RIG_DIR/node-a.ini"
# asked of the standby: refused there, before it would forward the request
# (by the SYNC off or by its pg check, whichever its applied log has first)
refused "not a synchronous standby\|critical check of node-b is failing" \
	"$BIN/duetctl" switchover --config "$RIG_DIR/node-b.ini"
duet_acting_master node-a || fail "node-a stopped acting after a refusal"
rig_pg_start node-b || fail "start node-b's PostgreSQL"
rig_wait 30 "node-b SYNC on again" duet_sync_on node-a node-b || fail "node-b not SYNC again"
# the committed HEALTH of node-b (its pg check failed while it was stopped)
rig_wait 30 "node-b's critical checks pass in the log" \
	duet_is node-a '(.members[] | select(.name == "node-b") | .critical_failing) == false' ||
	fail "node-b's checks: $(duet_field node-a '.members')"
ok "after the refusals node-a is still master and node-b SYNC"

# 2. and 3.
switchover node-a node-b node-a
switchover node-b node-a node-a

duet_probes_stop
for n in node-a node-b; do
	duet_wait_verify "$n" 20 || fail "acknowledged writes are missing on $n"
done
duet_check_samples || fail "two PostgreSQL servers were primaries at once"
ok "every acknowledged id is on node-a and node-b; no sample saw two primaries"
"$BIN/duetctl" log --config "$RIG_DIR/node-a.ini" --verify >/dev/null ||
	fail "the audit chain does not verify"
duet_stop_all || fail "a daemon reported a sanitizer error"
echo "PASS [switchover]"
