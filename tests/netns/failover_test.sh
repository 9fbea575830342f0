#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# failover_test.sh BIN TESTS SCENARIO - issue 4's failover scenarios on the
# netns rig (duet_rig.sh): two duetd with their own PostgreSQL 15 in
# synchronous replication, duet-witness, the manager, the FIP; a writer in
# the client namespace inserts sequential ids through the FIP and records
# every acknowledged one; a sampler asks both servers every 50 ms whether
# they are primaries.
#
# After each scenario: every acknowledged id is on the new master's
# PostgreSQL (pgprobe verify), and no sample saw two primaries (pgprobe
# check-samples). Scenarios:
#
#   kill9_all    kill -9 of duetd, postgres and the manager on the master
#   pg_kill      the master's postgres alone killed (health check, hand-over)
#   nic_down     the master's NIC loses its carrier
#   fs_full      the master's PostgreSQL volume (a tmpfs) filled up
#   standby_down the standby's PostgreSQL stops: SYNC off committed, writes go
#                on; then the master dies: the stale standby is NOT promoted,
#                status says why; promote --accept-data-loss overrides, and the
#                OPERATOR entry is in the audit log
#   partition    the master cut off from standby and witness (iptables): it
#                demotes itself within its lease, the standby is promoted
#   stale_standby_wiped_witness  issue 13 defect 1: the standby (duetd and
#                PostgreSQL) is down, the master commits SYNC off with the
#                witness and goes on acknowledging writes, the master dies,
#                the witness's store is wiped and the witness started again,
#                the stale standby started: the witness comes back silent
#                (no store: rejoin mode), so the stale standby wins no vote
#                and is never promoted; when the master returns, the
#                witness rejoins under incarnation 2 and every
#                acknowledged write is on the master
#   fence_fails  the master's link goes down and fencing fails (a BMC that
#                cannot be reached): the standby still takes over after
#                waiting out the old lease, and log and status say so
#   fence_agent  the master's NIC loses its carrier and the standby fences
#                it with a real fence-agents agent (fence_dummy, its "power"
#                in a file, options on stdin): the power file says off, the
#                FENCE step names the agent, the takeover completes
set -uo pipefail

BIN=$(cd "$1" && pwd)
TESTS=$(cd "$2" && pwd)
SCENARIO=$3
export BIN TESTS
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/netns/duet_rig.sh
source "$HERE/duet_rig.sh"

fail() {
	echo "FAIL [$SCENARIO]: $*" >&2
	exit 1
}
ok() { echo "ok [$SCENARIO]: $*"; }

rig_on_down() {
	rm -f "${power:-}" "${options:-}" # fence_agent's files (rig_up replaced their trap)
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
	echo "---- writer (last 10 lines)" >&2
	tail -n 10 "$RIG_DIR/writer.log" >&2 2>/dev/null
}

[ "$(id -u)" = 0 ] || fail "needs root (network namespaces, PostgreSQL as user postgres)"

tmpfs=
[ "$SCENARIO" = fs_full ] && tmpfs=160M
[ "$SCENARIO" = fence_fails ] && export DUET_FENCE_COMMAND="echo BMC unreachable; exit 3"
if [ "$SCENARIO" = fence_agent ]; then
	[ -x /usr/sbin/fence_dummy ] || fail "fence_dummy missing: scripts/install-deps.sh installs fence-agents"
	power=$(mktemp /tmp/duet-fence-power.XXXXXX)
	options=$(mktemp /tmp/duet-fence-options.XXXXXX)
	trap 'rm -f "$power" "$options"' EXIT # until rig_up's trap (then rig_on_down)
	printf on >"$power" # fence_dummy's machine is on until fenced
	printf 'status_file=%s\n' "$power" >"$options"
	export DUET_FENCE_AGENT_OPTIONS=$options
fi
duet_up $tmpfs || fail "the cluster did not come up"
ok "node-a is acting master, node-b a committed SYNC standby"
duet_writer_start || fail "writer"
duet_sampler_start || fail "sampler"
duet_wait_acks 100 node-a || fail "no writes through the FIP"
ok "writes are acknowledged through the FIP by node-a"

# the new master has taken over: node-b acts, holds the FIP, and acks writes
expect_takeover() {
	rig_wait 30 "node-b is acting master" duet_acting_master node-b ||
		fail "node-b did not take over"
	local holders
	holders=$(rig_fip_holder | tr '\n' ' ')
	case " $holders " in
	*" node-b "*) ;;
	*) fail "FIP holders: '$holders', node-b is not among them" ;;
	esac
	case " $holders " in
	*" node-a "*)
		# a node killed with kill -9 keeps its addresses; fencing took it
		# off the network (its link is down), which is what makes that safe
		rig_exec node-a ip -o link show eth0 | grep -q "state DOWN\|NO-CARRIER" ||
			fail "node-a still holds the FIP on a live link"
		ok "node-a's stale FIP sits on a fenced (down) link"
		;;
	esac
	duet_wait_acks 50 node-b 30 || fail "no writes acknowledged by node-b"
	ok "node-b took over: $(duet_field node-b '.last_takeover | "promoted \(.promoted_after_ms) ms, FIP \(.fip_after_ms) ms, ready \(.ready_after_ms) ms after leading"')"
}

finish_checks() {
	duet_probes_stop
	duet_verify node-b || fail "acknowledged writes are missing on node-b"
	duet_check_samples || fail "two PostgreSQL servers were primaries at once"
	ok "every acknowledged id is on node-b; no sample saw two primaries"
	"$BIN/duetctl" log --config "$RIG_DIR/node-b.ini" --verify >/dev/null ||
		fail "the audit chain does not verify"
}

case "$SCENARIO" in
kill9_all)
	duet_kill9_all node-a
	expect_takeover
	"$BIN/duetctl" log --config "$RIG_DIR/node-b.ini" --type STEP >"$RIG_DIR/steps.txt" ||
		fail "duetctl log"
	for s in "fence.*ok" "lease" "promote.*ok" "fip.*ok" "manager.*ok"; do
		grep -Eqi "$s" "$RIG_DIR/steps.txt" || {
			cat "$RIG_DIR/steps.txt" >&2
			fail "no STEP matching '$s' in the audit log"
		}
	done
	ok "fence, lease wait, promote, FIP and manager are STEP entries in the audit log"
	finish_checks
	;;
pg_kill)
	rig_pg_kill node-a all || fail "kill postgres on node-a"
	expect_takeover
	"$BIN/duetctl" log --config "$RIG_DIR/node-b.ini" --type HEALTH |
		grep -Eq "node-a.*pg.*failing|pg.*failing" || fail "no HEALTH entry for pg failing"
	ok "the pg check's failure is a HEALTH entry"
	finish_checks
	;;
nic_down)
	rig_nic_down node-a cable || fail "NIC down"
	expect_takeover
	finish_checks
	;;
fence_agent)
	rig_nic_down node-a cable || fail "NIC down"
	expect_takeover
	[ "$(cat "$power")" = off ] || fail "fence_dummy's power file says '$(cat "$power")', not off"
	"$BIN/duetctl" log --config "$RIG_DIR/node-b.ini" --type STEP >"$RIG_DIR/steps.txt" ||
		fail "duetctl log"
	grep -Eqi "fence.*powered off through fence agent /usr/sbin/fence_dummy" "$RIG_DIR/steps.txt" || {
		cat "$RIG_DIR/steps.txt" >&2
		fail "no FENCE step naming the agent in the audit log"
	}
	ok "node-b fenced node-a with fence_dummy (options on stdin); the FENCE step says so"
	finish_checks
	;;
fs_full)
	dd if=/dev/zero of="$(rig_pg_datadir node-a)/fill" bs=1M >/dev/null 2>&1
	ok "node-a's PostgreSQL volume is full"
	expect_takeover
	"$BIN/duetctl" log --config "$RIG_DIR/node-b.ini" --type HEALTH |
		grep -Eq "fs.*failing" || fail "no HEALTH entry for fs failing"
	finish_checks
	;;
standby_down)
	rig_pg_stop node-b || fail "stop node-b's postgres"
	rig_wait 20 "node-a commits SYNC(node-b, off)" \
		duet_is node-a '(.members[] | select(.name == "node-b") | .sync) == false' ||
		fail "SYNC off not committed"
	duet_wait_acks 50 node-a 20 || fail "writes did not go on after SYNC off"
	ok "SYNC(node-b, off) committed and node-a goes on accepting writes"
	cp "$DUET_ACKS" "$RIG_DIR/acks-before-loss.log"
	duet_kill9_all node-a
	rig_wait 20 "node-b says why it does not take over" \
		duet_is node-b '.why_not_master | test("not a synchronous standby")' ||
		fail "status does not say why: $(duet_field node-b .why_not_master)"
	rig_pg_start node-b || fail "start node-b's postgres again (as a standby)"
	rig_wait 10 "node-b's PostgreSQL answers" duet_is node-b '.pg.answers' ||
		fail "node-b's PostgreSQL does not answer"
	duet_acting_master node-b && fail "the stale standby was promoted"
	[ "$(duet_field node-b .pg.role)" = standby ] || fail "node-b's PostgreSQL is not a standby"
	"$BIN/duetctl" log --config "$RIG_DIR/node-b.ini" --type MASTER --json |
		grep -q "not SYNC" || fail "the refused MASTER is not in the audit log"
	ok "node-b is not promoted: $(duet_field node-b .why_not_master)"
	"$BIN/duetctl" promote --accept-data-loss --why "rig test: standby_down" \
		--config "$RIG_DIR/node-b.ini" || fail "duetctl promote --accept-data-loss"
	expect_takeover
	"$BIN/duetctl" log --config "$RIG_DIR/node-b.ini" --type OPERATOR |
		grep -q "rig test: standby_down" || fail "no OPERATOR entry with the reason"
	ok "the forced promotion is an OPERATOR entry with who and why"
	duet_probes_stop
	# writes acknowledged while node-b was SYNC are on it; those after SYNC
	# off were accepted by node-a alone: that is the data loss accepted
	acked_sync=$(awk '$3 == "node-a"' "$DUET_ACKS" | head -n 100 >"$RIG_DIR/acks-sync.log"; wc -l <"$RIG_DIR/acks-sync.log")
	duet_verify node-b "$RIG_DIR/acks-sync.log" || fail "writes acknowledged under SYNC are lost"
	ok "the $acked_sync writes acknowledged while node-b was SYNC are on node-b"
	duet_check_samples || fail "two PostgreSQL servers were primaries at once"
	;;
stale_standby_wiped_witness)
	duet_stop node-b || fail "stop node-b's duetd"
	rig_pg_stop node-b || fail "stop node-b's postgres"
	rig_wait 20 "node-a commits SYNC(node-b, off)" \
		duet_is node-a '(.members[] | select(.name == "node-b") | .sync) == false' ||
		fail "SYNC off not committed"
	duet_wait_acks 50 node-a 20 || fail "writes did not go on after SYNC off"
	ok "SYNC(node-b, off) committed and node-a goes on accepting writes alone"
	duet_kill9_all node-a
	duet_kill9 witness
	rm -rf "${RIG_DIR:?}/witness/duet"
	duet_start witness || fail "start the witness again, without its store"
	rig_pg_start node-b || fail "start node-b's postgres again"
	duet_start node-b || fail "start node-b's duetd again"
	# node-b's log still says SYNC for itself; it must not become leader
	# or master with the wiped witness's vote: watch it for 10 elections
	deadline=$(($(rig__now_ms) + 10000 * RIG_SLOW))
	while [ "$(rig__now_ms)" -lt "$deadline" ]; do
		duet_acting_master node-b && fail "the stale standby node-b was promoted"
		duet_is node-b '.role == "leader"' && fail "the stale standby node-b became leader"
		sleep 0.1
	done
	[ "$(duet_field node-b .pg.role)" = standby ] || fail "node-b's PostgreSQL is not a standby"
	ok "the stale standby is neither leader nor master: $(duet_field node-b .why_not_master)"
	rig_wait 10 "the witness is in rejoin mode by itself" \
		duet_is witness '.rejoin.automatic and .rejoin.state == "waiting_for_leader"' ||
		fail "witness: $(duet_field witness .rejoin)"
	grep -q "NO STORE at" "$RIG_DIR/witness/duetd.log" || fail "the witness's log does not say NO STORE"
	rig_pg_start node-a || fail "start node-a's postgres again"
	duet_start node-a || fail "start node-a's duetd again"
	rig_wait 30 "node-a is acting master again" duet_acting_master node-a ||
		fail "node-a did not come back as master"
	rig_wait 20 "the witness rejoined under incarnation 2" \
		duet_is witness '.rejoin.state == "rejoined" and .incarnation == 2' ||
		fail "witness: $(duet_field witness '{incarnation, rejoin}')"
	ok "node-a is master again and the witness rejoined under incarnation 2"
	duet_probes_stop
	duet_verify node-a "$DUET_ACKS" || fail "acknowledged writes are missing on node-a"
	ok "all $(wc -l <"$DUET_ACKS") acknowledged writes are on node-a"
	duet_check_samples || fail "two PostgreSQL servers were primaries at once"
	;;
fence_fails)
	rig_nic_down node-a cable || fail "NIC down"
	expect_takeover
	"$BIN/duetctl" log --config "$RIG_DIR/node-b.ini" --type STEP >"$RIG_DIR/steps.txt"
	grep -q "fence.*FAILED.*BMC unreachable" "$RIG_DIR/steps.txt" ||
		fail "no failed fence STEP: $(cat "$RIG_DIR/steps.txt")"
	grep -q "fencing FAILED, relying on the lease" "$RIG_DIR/steps.txt" ||
		fail "the lease-wait STEP does not say that fencing failed"
	duet_is node-b '.last_takeover_fence | test("FAILED.*lease was waited out")' ||
		fail "status does not say fencing failed: $(duet_field node-b .last_takeover_fence)"
	ok "fencing failed, the lease was waited out; the log and status say so"
	finish_checks
	;;
partition)
	rig_cut node-a || fail "iptables cut"
	rig_wait 5 "node-a demotes itself" duet_is node-a '.acting != "master"' ||
		fail "node-a still acts as master while cut off"
	ok "node-a demoted itself: $(duet_field node-a .acting)"
	expect_takeover
	finish_checks
	;;
*)
	fail "unknown scenario"
	;;
esac
duet_probes_stop
duet_stop_all || fail "a daemon reported a sanitizer error"
echo "PASS [$SCENARIO]"
