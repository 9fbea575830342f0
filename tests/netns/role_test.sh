#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# role_test.sh BIN TESTS SCENARIO - the role controller's activation and
# demotion (issue 13 defects 7 and 11; DESIGN.md 4.7, 4.8, 4.9) on the netns
# rig (duet_rig.sh): two duetd with their own PostgreSQL 15 in synchronous
# replication, duet-witness, the manager, the FIP; a writer inserts through
# the FIP the whole time. Scenarios:
#
#   lease_blip_restarts_pg      node-a's duetd is stopped (SIGSTOP) for
#       650 ms, past its lease, then continued: it demotes on waking
#       (PostgreSQL stop started) and leads again at once. A master must be
#       acting again within a bound with its PostgreSQL a writable primary;
#       while /master answers 200 on a node, its PostgreSQL is a primary (a
#       poller asks both every ~50 ms: never 3 samples in a row of 200 with
#       PostgreSQL down); every acknowledged write is on the master.
#       Before the fix the activation did not wait for its own stop: the
#       node stayed "master" with its database down and /master said 200.
#   switchover_stop_failed_aborts   node-a's manager stop_command fails:
#       duetctl switchover to node-b is aborted with a status line that says
#       so, no MASTER(node-b) is committed, node-a acts as master again
#       (its PostgreSQL started again) and acknowledges writes.
#   pg_start_fails_check_resumes    the lease blip above with node-a's
#       [pg] start_command failing: its pg check, held while its own
#       demotion had stopped PostgreSQL, counts again once the start fails,
#       so node-a hands over to the SYNC standby and node-b acts with a
#       writable PostgreSQL. Before the fix the check stayed held for ever:
#       node-a kept retrying the start as the only "master", no failover.
#   async_leader_hands_back     node-b's PostgreSQL stopped (SYNC off), then
#       node-a's PostgreSQL killed (its pg check fails in the log), then
#       node-a's duetd stopped (SIGSTOP) until node-b leads. node-b is not
#       SYNC, so it cannot be master: it must hand leadership to node-a,
#       named master with its data intact, which starts its PostgreSQL
#       again and acts. Before the fix node-b kept leadership (the master's
#       check fails) and proposed a refused MASTER(node-b): no master.
#   own_demotion_not_a_health_failure   node-b's PostgreSQL stopped (SYNC
#       off), node-a's duetd stopped until node-b leads: on waking node-a
#       demotes (its own stop of PostgreSQL), node-b hands leadership back,
#       node-a's start_command is held for 9 fs probes (3 x fail_after):
#       its pg check stays held and no HEALTH failure of node-a's pg is
#       committed; released, node-a acts again.
#   fip_left_over_removed       the FIP added by hand on the standby's
#       interface is removed by node-b's duetd; node-a keeps it.
#   manager_left_over_stopped   the manager started by hand on the standby
#       is stopped by node-b's duetd; node-a's keeps running.
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

POLLER_PID=

rig_on_down() {
	[ -n "$POLLER_PID" ] && kill "$POLLER_PID" 2>/dev/null && wait "$POLLER_PID" 2>/dev/null
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

# the manager's stop on node-a fails while $RIG_DIR/stop-fails exists
duet_manager_stop_command() {
	[ "$SCENARIO" = switchover_stop_failed_aborts ] && [ "$1" = node-a ] || return 1
	local real script=$RIG_DIR/node-a/manager-stop.sh
	real=$(rig_manager_cmds node-a | sed -n 's/^stop_command = //p')
	printf '#!/bin/sh\n[ -e %s ] && { echo "stop refused (test)"; exit 3; }\nexec %s\n' \
		"$RIG_DIR/stop-fails" "$real" >"$script"
	chmod +x "$script"
	echo "$script"
}

# node-a's PostgreSQL start (pg_start_fails_check_resumes) fails while
# $RIG_DIR/start-fails exists, leaving $RIG_DIR/start-failed;
# (own_demotion_not_a_health_failure) waits while $RIG_DIR/hold-start
# exists (at most 60 s), saying so in $RIG_DIR/start-held
duet_pg_start_command() {
	[ "$1" = node-a ] || return 1
	local script=$RIG_DIR/node-a/pg-start.sh real
	real=$(rig_pg_cmd node-a start)
	case "$SCENARIO" in
	pg_start_fails_check_resumes)
		printf '#!/bin/sh\n[ -e %s ] && { touch %s; echo "start refused (test)"; exit 3; }\nexec %s\n' \
			"$RIG_DIR/start-fails" "$RIG_DIR/start-failed" "$real" >"$script"
		;;
	own_demotion_not_a_health_failure)
		printf '#!/bin/sh\nif [ -e %s ]; then\n\ttouch %s\n\ti=0\n\twhile [ -e %s ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done\nfi\nexec %s\n' \
			"$RIG_DIR/hold-start" "$RIG_DIR/start-held" "$RIG_DIR/hold-start" "$real" >"$script"
		;;
	*) return 1 ;;
	esac
	chmod +x "$script"
	echo "$script"
}

# node_b_sync_off: node-b's PostgreSQL stopped, and node-a commits SYNC off
node_b_sync_off() {
	rig_pg_stop node-b || fail "stop node-b's PostgreSQL"
	rig_wait $((20 * RIG_SLOW)) "node-a commits SYNC(node-b, off)" \
		duet_is node-a '[.members[] | select(.name == "node-b") | .sync] == [false]' ||
		fail "node-b is still SYNC: $(duet_field node-a '.members')"
	ok "node-b's PostgreSQL stopped, SYNC off"
}

# fs_probes NODE: how many fs probes NODE has made (a clock made of events)
fs_probes() {
	duet_field "$1" '.checks[] | select(.name == "fs") | .probes'
}
fs_probes_at_least() {
	[ "$(fs_probes "$1")" -ge "$2" ]
}

# master_code NODE: the HTTP status of NODE's /master
master_code() {
	rig_exec client curl -s -o /dev/null -m 1 -w '%{http_code}' \
		"http://$(rig_ip "$1"):8008/master" 2>/dev/null
}

# pg_primary NODE: NODE's PostgreSQL answers and is not in recovery
pg_primary() {
	[ "$(rig_psql "$1" "SELECT NOT pg_is_in_recovery()" 2>/dev/null)" = t ]
}

# poller OUT: every ~50 ms one line per node "NODE CODE PG" (PG: t or -)
poller() {
	local n code pg
	while :; do
		for n in node-a node-b; do
			code=$(master_code "$n")
			pg=-
			pg_primary "$n" && pg=t
			echo "$n $code $pg"
		done >>"$1"
		sleep 0.05
	done
}

# the longest run of consecutive samples of one node with /master 200 and
# its PostgreSQL not a primary
bad_run() {
	awk '{ if ($2 == 200 && $3 != "t") { r[$1]++; if (r[$1] > m) m = r[$1] } else r[$1] = 0 }
		END { print m + 0 }' "$1"
}

manager_runs() {
	rig_exec "$1" sh -c "$(rig_manager_cmd "$1" check)" >/dev/null 2>&1
}

manager_stopped() {
	! manager_runs "$1"
}

samples_at_least() {
	[ "$(wc -l <"$RIG_DIR/master.samples")" -ge "$1" ]
}

fip_only_on_node_a() {
	[ "$(rig_fip_holder)" = node-a ]
}

acting_node() {
	local n
	for n in node-a node-b; do
		duet_acting_master "$n" && echo "$n" && return 0
	done
	return 1
}

master_ready() {
	local m
	m=$(acting_node) || return 1
	pg_primary "$m" && [ "$(master_code "$m")" = 200 ]
}

duet_up "" || fail "the cluster did not come up"
ok "node-a is acting master, node-b a committed SYNC standby"
duet_writer_start || fail "writer"
duet_wait_acks 50 node-a || fail "no writes through the FIP"

case "$SCENARIO" in
lease_blip_restarts_pg)
	poller "$RIG_DIR/master.samples" 2>"$RIG_DIR/poller.err" &
	POLLER_PID=$!
	pid=${DUET_PID[node-a]}
	kill -STOP "$pid" || fail "SIGSTOP"
	sleep 0.65 # the fault: a stall longer than the 500 ms lease
	kill -CONT "$pid" || fail "SIGCONT"
	rig_wait 10 "node-a demotes on waking" grep -qE \
		"demoting \((the lease was lost|no longer the leader|the role was lost)" \
		"$RIG_DIR/node-a/duetd.log" || fail "the stall did not cost node-a its lease"
	rig_wait $((30 * RIG_SLOW)) "a master acting with PostgreSQL a writable primary" \
		master_ready || fail "no master with a writable PostgreSQL after the stall"
	m=$(acting_node)
	ok "$m acts as master with its PostgreSQL a writable primary"
	duet_wait_acks 50 "" 30 || fail "no writes acknowledged after the stall"
	# 20 more rounds of samples: the broken code's late stop comes after
	# the re-activation
	want=$(($(wc -l <"$RIG_DIR/master.samples") + 40))
	rig_wait $((60 * RIG_SLOW)) "20 more rounds of samples" samples_at_least "$want" ||
		fail "poller: $(wc -l <"$RIG_DIR/master.samples") lines, want $want: \
$(tail -4 "$RIG_DIR/master.samples" | tr '\n' ';') $(tail -3 "$RIG_DIR/poller.err")"
	kill "$POLLER_PID" && wait "$POLLER_PID" 2>/dev/null
	POLLER_PID=
	run=$(bad_run "$RIG_DIR/master.samples")
	[ "$run" -lt 3 ] || fail "/master answered 200 for $run samples in a row while that node's \
PostgreSQL was down or a standby: $(awk '$2 == 200 && $3 != "t"' "$RIG_DIR/master.samples" | head -5 |
		tr '\n' ';')"
	master_ready || fail "the master lost its PostgreSQL after the stall"
	ok "/master said 200 only with a primary PostgreSQL ($(wc -l <"$RIG_DIR/master.samples") samples)"
	duet_probes_stop
	duet_wait_verify "$(acting_node)" 20 || fail "acknowledged writes are missing"
	ok "every acknowledged write is on $(acting_node)"
	;;
pg_start_fails_check_resumes)
	touch "$RIG_DIR/start-fails"
	pid=${DUET_PID[node-a]}
	kill -STOP "$pid" || fail "SIGSTOP"
	sleep 0.65 # the fault: a stall longer than the 500 ms lease
	kill -CONT "$pid" || fail "SIGCONT"
	rig_wait 10 "node-a demotes on waking" grep -qE \
		"demoting \((the lease was lost|no longer the leader|the role was lost)" \
		"$RIG_DIR/node-a/duetd.log" || fail "the stall did not cost node-a its lease"
	rig_wait $((30 * RIG_SLOW)) "node-a tries to start its PostgreSQL" \
		test -e "$RIG_DIR/start-failed" ||
		fail "node-a never ran its start_command (node-b took over at once?)"
	ok "node-a's start_command failed: $(grep -m1 "PostgreSQL start_command:" \
		"$RIG_DIR/node-a/duetd.log")"
	rig_wait $((60 * RIG_SLOW)) "a master acting with PostgreSQL a writable primary" \
		master_ready || fail "no master with a writable PostgreSQL: node-a's checks: \
$(duet_field node-a '.checks') acting: $(duet_field node-a '.acting')"
	m=$(acting_node)
	[ "$m" = node-b ] || fail "$m acts, not node-b"
	grep -q "its check counts again" "$RIG_DIR/node-a/duetd.log" ||
		fail "node-a's log does not say its pg check counts again"
	ok "node-b acts as master with a writable PostgreSQL; node-a: $(grep -m1 \
		"its check counts again" "$RIG_DIR/node-a/duetd.log")"
	duet_wait_acks 50 node-b 30 || fail "no writes acknowledged by node-b"
	rm -f "$RIG_DIR/start-fails"
	duet_probes_stop
	duet_wait_verify node-b 20 || fail "acknowledged writes are missing on node-b"
	;;
own_demotion_not_a_health_failure)
	node_b_sync_off
	touch "$RIG_DIR/hold-start"
	pid=${DUET_PID[node-a]}
	kill -STOP "$pid" || fail "SIGSTOP"
	rig_wait $((20 * RIG_SLOW)) "node-b leads" duet_is node-b '.role == "leader"'
	led=$?
	kill -CONT "$pid" || fail "SIGCONT"
	[ "$led" = 0 ] || fail "node-b did not lead while node-a's duetd was stopped"
	rig_wait 10 "node-a demotes on waking" grep -qE \
		"demoting \((the lease was lost|no longer the leader|the role was lost)" \
		"$RIG_DIR/node-a/duetd.log" || fail "node-a did not demote"
	rig_wait $((30 * RIG_SLOW)) "node-a leads again and starts PostgreSQL (held)" \
		test -e "$RIG_DIR/start-held" || fail "node-a never ran its start_command: node-b \
$(duet_field node-b '"\(.role) \(.why_not_master)"')"
	# PostgreSQL stays down by our own demotion for 3 x fail_after fs probes
	# (each check probes every interval_ms): the pg check must not fail
	want=$(($(fs_probes node-a) + 9))
	rig_wait $((30 * RIG_SLOW)) "9 more fs probes on node-a" fs_probes_at_least node-a "$want" ||
		fail "node-a's fs check stopped probing"
	rig_pg_pid node-a >/dev/null && fail "node-a's PostgreSQL runs while its start is held"
	duet_is node-a '.checks[] | select(.name == "pg") | .paused' ||
		fail "node-a's pg check is not held: $(duet_field node-a '.checks[0]')"
	duet_audit_has node-b HEALTH "node 1 pg failing" &&
		fail "a pg failure of node-a was committed: $("$BIN/duetctl" log --config \
			"$RIG_DIR/node-b.ini" --type HEALTH | grep "node 1 pg" | tail -3)"
	ok "PostgreSQL down by node-a's own demotion for 9 fs probes: its pg check held, no \
HEALTH failure in the log"
	rm -f "$RIG_DIR/hold-start"
	rig_wait $((30 * RIG_SLOW)) "node-a acts as master with PostgreSQL a writable primary" \
		master_ready || fail "no master after the start"
	[ "$(acting_node)" = node-a ] || fail "$(acting_node) acts, not node-a"
	duet_audit_has node-b HEALTH "node 1 pg failing" && fail "a pg failure of node-a was committed"
	duet_wait_acks 50 node-a 30 || fail "no writes acknowledged by node-a"
	ok "node-a acts again with a writable PostgreSQL; no pg failure in the log"
	duet_probes_stop
	duet_wait_verify node-a 20 || fail "acknowledged writes are missing on node-a"
	;;
async_leader_hands_back)
	node_b_sync_off
	rig_pg_kill node-a all || fail "kill node-a's PostgreSQL"
	rig_wait $((20 * RIG_SLOW)) "node-a's pg check failing in the log" \
		duet_is node-b '[.members[] | select(.name == "node-a") | .critical_failing] == [true]' ||
		fail "node-a's check: $(duet_field node-b '.members')"
	ok "node-a's PostgreSQL killed, its critical check fails in the log"
	pid=${DUET_PID[node-a]}
	kill -STOP "$pid" || fail "SIGSTOP"
	rig_wait $((20 * RIG_SLOW)) "node-b leads" duet_is node-b '.role == "leader"'
	led=$?
	kill -CONT "$pid" || fail "SIGCONT"
	[ "$led" = 0 ] || fail "node-b did not lead while node-a's duetd was stopped"
	ok "node-b led while node-a's duetd was stopped (not SYNC: no MASTER for it)"
	rig_wait $((30 * RIG_SLOW)) "node-a acts as master with PostgreSQL a writable primary" \
		master_ready || fail "no master: node-b: $(duet_field node-b \
		'"\(.role) \(.why_not_master)"'); node-a: $(duet_field node-a '"\(.role) \(.acting)"')"
	[ "$(acting_node)" = node-a ] || fail "$(acting_node) acts, not node-a"
	grep -q "leadership to node-a (the master is alive; this node cannot be master)" \
		"$RIG_DIR/node-b/duetd.log" || fail "node-b's log does not show the hand-back"
	ok "node-b handed leadership to node-a, which started its PostgreSQL and acts"
	duet_wait_acks 50 node-a 30 || fail "no writes acknowledged by node-a"
	duet_probes_stop
	duet_wait_verify node-a 20 || fail "acknowledged writes are missing on node-a"
	;;
switchover_stop_failed_aborts)
	since=$(duet_field node-a '.master.since_index')
	touch "$RIG_DIR/stop-fails"
	out=$RIG_DIR/switchover.out
	"$BIN/duetctl" switchover --config "$RIG_DIR/node-a.ini" --to node-b \
		--why "rig test: a stop fails" --timeout $((60 * RIG_SLOW)) >"$out" 2>&1
	rc=$?
	sed 's/^/    | /' "$out"
	[ "$rc" != 0 ] || fail "duetctl switchover succeeded although the manager stop failed"
	rig_wait 10 "node-a's switchover aborted" \
		duet_is node-a '.switchover.state == "aborted"' ||
		fail "switchover: $(duet_field node-a '.switchover')"
	duet_field node-a '.switchover.detail' | grep -q "a stop on the old master failed" ||
		fail "the status line does not say a stop failed: $(duet_field node-a '.switchover')"
	ok "aborted: $(duet_field node-a '.switchover.detail')"
	rig_wait $((30 * RIG_SLOW)) "node-a acts as master again with PostgreSQL primary" \
		master_ready || fail "node-a did not act again"
	[ "$(acting_node)" = node-a ] || fail "$(acting_node) acts, not node-a"
	[ "$(duet_field node-a '.master.node')" = node-a ] ||
		fail "the log names $(duet_field node-a '.master.node') master"
	[ "$(duet_field node-a '.master.since_index')" = "$since" ] ||
		fail "a new MASTER entry was committed: $(duet_field node-a '.master')"
	if duet_audit_has node-a MASTER "node-b"; then
		fail "MASTER(node-b) is in the audit log"
	fi
	rm -f "$RIG_DIR/stop-fails"
	duet_wait_acks 50 node-a 30 || fail "node-a acknowledges no writes after the abort"
	[ "$(rig_fip_holder)" = node-a ] || fail "FIP holders: $(rig_fip_holder)"
	ok "node-a acts again, holds the FIP and acknowledges writes; no MASTER(node-b)"
	duet_probes_stop
	duet_wait_verify node-a 20 || fail "acknowledged writes are missing on node-a"
	;;
fip_left_over_removed)
	ip -n "$(rig_ns node-b)" addr add "$RIG_FIP/24" dev eth0 || fail "ip addr add"
	ok "FIP added by hand on node-b: holders $(rig_fip_holder)"
	rig_wait $((20 * RIG_SLOW)) "node-b's duetd removes the FIP left over" \
		fip_only_on_node_a || fail "FIP holders: $(rig_fip_holder)"
	grep -q "FIP left over" "$RIG_DIR/node-b/duetd.log" || fail "node-b's log does not say so"
	ok "removed by node-b: $(grep "FIP left over" "$RIG_DIR/node-b/duetd.log" | tail -1)"
	duet_acting_master node-a || fail "node-a stopped acting"
	# the master's periodic gratuitous ARP brings the clients back to it
	duet_wait_acks 50 node-a 30 || fail "no writes acknowledged through the FIP afterwards"
	duet_probes_stop
	duet_wait_verify node-a 20 || fail "acknowledged writes are missing on node-a"
	;;
manager_left_over_stopped)
	rig_exec node-b sh -c "$(rig_manager_cmd node-b start)" || fail "manager start on node-b"
	manager_runs node-b || fail "the manager does not run on node-b"
	ok "manager started by hand on node-b"
	rig_wait $((20 * RIG_SLOW)) "node-b's duetd stops the manager left over" \
		manager_stopped node-b || fail "the manager still runs on node-b"
	grep -q "manager left over" "$RIG_DIR/node-b/duetd.log" || fail "node-b's log does not say so"
	manager_runs node-a || fail "node-a's manager was stopped"
	duet_acting_master node-a || fail "node-a stopped acting"
	ok "stopped by node-b; node-a's manager runs"
	duet_probes_stop
	;;
*)
	fail "unknown scenario"
	;;
esac
duet_stop_all || fail "a daemon reported a sanitizer error"
echo "PASS [$SCENARIO]"
