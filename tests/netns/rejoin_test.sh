#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# rejoin_test.sh BIN TESTS SCENARIO - `duetctl rejoin` end to end on the
# netns rig (duet_rig.sh; issue 6 item 4): two duetd with their own
# PostgreSQL 15 in synchronous replication, duet-witness, the manager, the
# FIP; a writer in the client namespace inserts through the FIP for the whole
# scenario, a sampler asks both servers every 50 ms whether they are primary.
#
# duetctl rejoin runs in the namespace of the node brought back, with its
# daemon stopped, and starts the daemon itself (--start, duet_start_cmd). It
# must exit 0 once the node is a SYNC standby again. Checked each time: the
# master's status has the node SYNC on, its PostgreSQL is in recovery and
# streams from the master, .pg_rebuild.method is the one the pattern calls
# for, the OPERATOR(rejoin) entry is in the master's audit log with the
# reason given, and no write failed from the start of duetctl rejoin to its
# end (pgprobe write --errors; a write that waits for synchronous
# replication is not a failure). Outside a takeover, no write fails at all.
#
# At the end: every acknowledged id is on both servers, no sample saw two
# primaries, the audit chain verifies, every daemon stops cleanly (no
# sanitizer report). Scenarios:
#
#   old_master        kill -9 of everything on node-a, node-b takes over;
#                     node-a (diverged old primary) rejoins: pg_rewind
#   empty_disk        node-b loses its LMDB store and its PostgreSQL data
#                     directory: pg_basebackup
#   lmdb_lost         node-b loses only its LMDB store, its PostgreSQL keeps
#                     streaming: no rebuild, the postmaster is not restarted
#   witness           the witness's store lost and rejoined, node-a stays
#                     master; then kill -9 of node-a: node-b takes over (the
#                     rejoined witness votes); node-a rejoins (pg_rewind)
#   interrupted       an empty_disk rejoin whose duetd gets kill -9 during
#                     pg_basebackup (the link to node-b slowed down with tc
#                     so that the copy takes seconds); rejoin again: done
#   version_mismatch  node-b's emptied data directory claims PostgreSQL 14
#                     (PG_VERSION): the rebuild stops for good with "version
#                     mismatch", duetctl rejoin exits 1 saying so; with the
#                     file gone, duetctl rejoin again: base backup, SYNC on
#   rebuild_keeps_copy_master_down   (issue 13 defect 11) node-b emptied
#                     and rejoined; its start_command is held once the copy is
#                     made, node-a's duetd and PostgreSQL are stopped, then
#                     node-b's standby starts with no master to stream from.
#                     Past [pg] rebuild_stream_timeout_ms (3 s here) several
#                     times over, the copy is kept: same system identifier,
#                     a marker file still in it, one pg_basebackup in the
#                     log, no rebuild failure. node-a back: node-b streams,
#                     SYNC on, duetctl rejoin exits 0
#   rebuild_resumed_keeps_copy_master_down   the same, and node-b's daemon
#                     is restarted while it waits for the master: the
#                     resumed rebuild keeps the standby running (same
#                     postmaster, same copy) instead of stopping it; node-a
#                     back: SYNC on with that copy (duetctl rejoin, which
#                     followed the first daemon, ends with it)
#   refused_on_master duetctl rejoin on the running master: refused, naming
#                     the running daemon; on a stopped standby without --yes
#                     and without a terminal: refused; nothing touched
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
	kill -TERM "$WATCHDOG" 2>/dev/null
	[ "$1" = 0 ] && return 0
	local n f
	for f in "$RIG_DIR"/rejoin-*.out; do
		[ -f "$f" ] || continue
		echo "---- $(basename "$f")" >&2
		tail -n 30 "$f" >&2
	done
	for n in node-a node-b witness; do
		echo "---- $n duetd log (last 80 lines)" >&2
		tail -n 80 "$RIG_DIR/$n/duetd.log" >&2 2>/dev/null
	done
	for n in node-a node-b; do
		echo "---- $n pg.log (last 20 lines)" >&2
		tail -n 20 "$RIG_DIR/$n/pg.log" >&2 2>/dev/null
	done
	echo "---- writer (last 10 lines)" >&2
	tail -n 10 "$RIG_DIR/writer.log" >&2 2>/dev/null
}

# rebuild_keeps_copy_master_down: node-b's start_command waits while
# $RIG_DIR/hold-start exists (and says so in $RIG_DIR/start-held), at most
# 120 s; its stream deadline is 3 s
STREAM_TIMEOUT_MS=3000
duet_pg_start_command() {
	case "$SCENARIO" in rebuild_*keeps_copy_master_down) ;; *) return 1 ;; esac
	[ "$1" = node-b ] || return 1
	local script=$RIG_DIR/node-b/pg-start.sh
	printf '#!/bin/sh\nif [ -e %s ]; then\n\ttouch %s\n\ti=0\n\twhile [ -e %s ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done\nfi\nexec %s\n' \
		"$RIG_DIR/hold-start" "$RIG_DIR/start-held" "$RIG_DIR/hold-start" \
		"$(rig_pg_cmd node-b start)" >"$script"
	chmod +x "$script"
	echo "$script"
}
duet_pg_extra_config() {
	case "$SCENARIO" in rebuild_*keeps_copy_master_down) ;; *) return 0 ;; esac
	echo "rebuild_stream_timeout_ms = $STREAM_TIMEOUT_MS"
}

# system_id NODE: the system identifier of NODE's data directory
system_id() {
	"$RIG_PGBIN/pg_controldata" -D "$(rig_pg_datadir "$1")" 2>/dev/null |
		sed -n 's/^Database system identifier: *//p'
}

# copy_waited_long: node-b's rebuild has waited for SYNC on with the copy it
# made for 4 stream deadlines, without a failure; it also ends the wait
# (writing $RIG_DIR/copy-left) when the rebuild left waiting_sync
copy_waited_long() {
	local st
	st=$(duet_field node-b '.pg_rebuild | "\(.state) \(.state_ms) \(.failures)"')
	case "$st" in
	"waiting_sync "*" 0") ;;
	*)
		echo "node-b's rebuild left waiting_sync: $(duet_field node-b '.pg_rebuild')" \
			>"$RIG_DIR/copy-left"
		return 0
		;;
	esac
	[ "$(echo "$st" | cut -d' ' -f2)" -ge $((4 * STREAM_TIMEOUT_MS)) ]
}

[ "$(id -u)" = 0 ] || fail "needs root (network namespaces, PostgreSQL as user postgres)"

# ctest ends a test that overruns its TIMEOUT (240 s) with SIGKILL, which
# would leave the rig behind: end a little earlier, through rig_down
# (rig.sh's TERM trap)
(
	trap 'kill "$s" 2>/dev/null; exit 0' TERM
	sleep "${REJOIN_TEST_BUDGET_S:-225}" &
	s=$!
	wait "$s" || exit 0
	echo "FAIL [$SCENARIO]: out of time (${REJOIN_TEST_BUDGET_S:-225} s)" >&2
	kill -TERM $$
) &
WATCHDOG=$!

now() { "$TESTS/pgprobe" now; }

# No write may fail from CLEAN_FROM on (reset after a takeover, which is
# allowed to cost failed attempts)
CLEAN_FROM=
clean_check() {
	local n
	n=$(duet_write_failures "$CLEAN_FROM")
	if [ "$n" != 0 ]; then
		awk -v t="$CLEAN_FROM" '$1 >= t' "$DUET_WRITE_ERRORS" | head -n 5 >&2
		fail "$n write attempts failed $1"
	fi
}

# rejoin NODE MASTER METHOD: duetctl rejoin of NODE (its daemon
# stopped) while the writer runs; METHOD is the expected .pg_rebuild.method
# (rewind, basebackup, none; "-" for the witness)
REJOINS=0
rejoin() {
	local n=$1 m=$2 method=$3 out t0 t1 rc f got
	REJOINS=$((REJOINS + 1))
	out=$RIG_DIR/rejoin-$REJOINS-$n.out
	t0=$(now)
	duet_rejoin "$n" "$out" --why "rig test: $SCENARIO ($n)" --timeout 120
	rc=$?
	t1=$(now)
	echo "---- duetctl rejoin of $n: exit $rc after $(((t1 - t0) / 1000000)) ms"
	sed 's/^/    | /' "$out"
	[ "$rc" = 0 ] || fail "duetctl rejoin of $n exited $rc"
	f=$(duet_write_failures "$t0" "$t1")
	[ "$f" = 0 ] || fail "$f write attempts failed during the rejoin of $n"
	ok "no write failed during the rejoin of $n ($(awk -v a="$t0" -v b="$t1" \
		'$2 >= a && $2 <= b' "$DUET_ACKS" | wc -l) acknowledged meanwhile)"
	rig__alive "${DUET_PID[$n]:-0}" || fail "the daemon started by --start is not running"
	[ "$n" = witness ] || {
		duet_sync_on "$m" "$n" || fail "$m's status does not have $n SYNC on: \
$(duet_field "$m" '.members')"
		rig_wait 10 "$n's PostgreSQL streaming from $m" duet_pg_standby_of "$n" "$m" ||
			fail "$n's PostgreSQL is not a standby streaming from $m"
		got=$(duet_field "$n" '.pg_rebuild.method')
		[ "$got" = "$method" ] ||
			fail "$n: .pg_rebuild.method is '$got', not '$method': \
$(duet_field "$n" '.pg_rebuild')"
		[ "$(duet_field "$n" '.pg_rebuild.state')" = "done" ] || [ "$method" = none ] ||
			fail "$n: .pg_rebuild: $(duet_field "$n" '.pg_rebuild')"
		ok "$n is a SYNC standby of $m again, streaming; .pg_rebuild: \
$(duet_field "$n" '.pg_rebuild | tostring')"
	}
	"$BIN/duetctl" log --config "$RIG_DIR/$m.ini" --type OPERATOR >"$RIG_DIR/operator.txt" ||
		fail "duetctl log on $m"
	grep -i "rejoin" "$RIG_DIR/operator.txt" | grep -q "rig test: $SCENARIO ($n)" || {
		cat "$RIG_DIR/operator.txt" >&2
		fail "no OPERATOR rejoin entry for $n with the reason in $m's audit log"
	}
	ok "OPERATOR rejoin of $n in $m's audit log: $(grep -i "rig test: $SCENARIO ($n)" \
		"$RIG_DIR/operator.txt" | tail -n 1)"
}

# the old master comes back: powered on again without its FIP, then rejoined
rejoin_old_master() {
	duet_unfence node-a || fail "node-a's link up"
	rejoin node-a node-b rewind
}

takeover_node_b() {
	clean_check "before the kill of node-a"
	local out
	duet_kill9_all node-a
	out=$(duet_expect_takeover node-b node-a) || fail "no takeover by node-b"
	while read -r l; do ok "$l"; done <<<"$out"
	CLEAN_FROM=$(now)
}

# wipe NODE lmdb|all: NODE's daemon stopped (SIGTERM), its LMDB store
# deleted; all: its PostgreSQL stopped and its data directory emptied too
wipe() {
	local n=$1 d
	duet_stop "$n" || fail "stop the daemon of $n"
	rm -rf "${RIG_DIR:?}/$n/duet"
	if [ "$2" = all ]; then
		rig_pg_stop "$n" || fail "stop $n's PostgreSQL"
		d=$(rig_pg_datadir "$n")
		rm -rf "${d:?}"
		mkdir -m 0700 "$d" || fail "recreate $d"
		chown postgres:postgres "$d" || fail "chown $d"
		ok "$n lost its LMDB store and its PostgreSQL data directory (empty again)"
	else
		ok "$n lost its LMDB store"
	fi
}

# ---------------------------------------------------------------- up
duet_up "" || fail "the cluster did not come up"
ok "node-a is acting master, node-b a committed SYNC standby"
if [ "$SCENARIO" = interrupted ]; then
	# ~80 MB of tables: pg_basebackup has something to copy
	(cd / && rig_exec node-a "$RIG_PGBIN/pgbench" -i -s 5 -q -h "$RIG_DIR/node-a" \
		-p "$RIG_PG_PORT" -U postgres postgres) >"$RIG_DIR/pgbench.log" 2>&1 ||
		fail "pgbench -i: $(tail -n 5 "$RIG_DIR/pgbench.log")"
	ok "pgbench -i -s 5 on node-a: $(rig_psql node-a \
		"SELECT pg_size_pretty(pg_database_size('postgres'))")"
fi
duet_writer_start || fail "writer"
duet_sampler_start || fail "sampler"
duet_wait_acks 100 node-a || fail "no writes through the FIP"
ok "writes are acknowledged through the FIP by node-a"
CLEAN_FROM=$(now)
MASTER="node-a"

case "$SCENARIO" in
old_master)
	takeover_node_b
	MASTER="node-b"
	rejoin_old_master
	;;
empty_disk)
	wipe node-b all
	rejoin node-b node-a basebackup
	grep -qi "basebackup" "$RIG_DIR/rejoin-1-node-b.out" ||
		fail "duetctl rejoin did not show the pg_basebackup step"
	;;
lmdb_lost)
	pm=$(rig_pg_pid node-b) || fail "node-b's PostgreSQL is not running"
	wipe node-b lmdb
	rig__pg_streaming node-a node-b || fail "node-b's PostgreSQL stopped streaming"
	rejoin node-b node-a none
	[ "$(rig_pg_pid node-b)" = "$pm" ] ||
		fail "node-b's postmaster was restarted ($pm -> $(rig_pg_pid node-b))"
	grep -Eqi "pg_rewind|pg_basebackup" "$RIG_DIR/node-b/duetd.log" &&
		fail "node-b's daemon ran pg_rewind or pg_basebackup: $(grep -Ei \
			"pg_rewind|pg_basebackup" "$RIG_DIR/node-b/duetd.log" | head -n 3)"
	ok "node-b's PostgreSQL was left alone (postmaster $pm)"
	;;
witness)
	since=$(duet_field node-a '.master.since_index')
	wipe witness lmdb
	rejoin witness node-a -
	duet_acting_master node-a || fail "node-a is no longer master after the witness's rejoin"
	[ "$(duet_field node-a '.master.since_index')" = "$since" ] ||
		fail "the master changed during the witness's rejoin"
	duet_is node-a '[.membership[] | select(.name == "witness") | .incarnation] == [2]' ||
		fail "node-a's view: $(duet_field node-a '.membership')"
	ok "node-a stayed master; the witness runs under incarnation 2 in node-a's view"
	duet_sync_on node-a node-b || fail "node-b is no longer SYNC"
	takeover_node_b
	ok "node-b took over with the rejoined witness's vote"
	MASTER="node-b"
	rejoin_old_master
	;;
interrupted)
	wipe node-b all
	# slow node-a -> node-b down (the bridge port towards node-b) so that the
	# copy takes seconds; the writer's path (client <-> node-a) is untouched
	tc -n "$(rig_ns hub)" qdisc add dev vb root tbf rate 160mbit burst 256kb latency 200ms ||
		fail "tc"
	t0=$(now)
	duet_rejoin_bg node-b "$RIG_DIR/rejoin-0-node-b.out" --why "rig test: $SCENARIO (first)" \
		--timeout 120
	rig_wait 60 "node-b's daemon in pg_basebackup with bytes copied" \
		duet_is node-b '.pg_rebuild.state == "basebackup" and .pg_rebuild.bytes_done > 0' ||
		fail "no basebackup seen: $(duet_field node-b '.pg_rebuild')"
	duet_adopt node-b || fail "the daemon started by duetctl rejoin"
	ok "in pg_basebackup: $(duet_field node-b '.pg_rebuild | tostring')"
	duet_kill9 node-b
	ok "kill -9 of node-b's duetd during pg_basebackup"
	rig_stop "$DUET_REJOIN_PID" >/dev/null 2>&1
	DUET_REJOIN_PID=
	sed 's/^/    | /' "$RIG_DIR/rejoin-0-node-b.out"
	tc -n "$(rig_ns hub)" qdisc del dev vb root || fail "tc del"
	echo "---- left running in node-b's namespace:"
	for p in $(ip netns pids "$(rig_ns node-b)"); do
		echo "    $p $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-150)"
	done
	rejoin node-b node-a basebackup
	f=$(duet_write_failures "$t0")
	[ "$f" = 0 ] || fail "$f write attempts failed since the first rejoin started"
	;;
version_mismatch)
	wipe node-b all
	d=$(rig_pg_datadir node-b)
	echo 14 >"$d/PG_VERSION"
	chown postgres:postgres "$d/PG_VERSION"
	out=$RIG_DIR/rejoin-mismatch.out
	duet_rejoin node-b "$out" --why "rig test: $SCENARIO (first)" --timeout $((60 * RIG_SLOW))
	rc=$?
	sed 's/^/    | /' "$out"
	[ "$rc" = 1 ] || fail "duetctl rejoin with a PostgreSQL 14 directory exited $rc"
	grep -q "version mismatch: .* holds PostgreSQL 14, the master runs 15" "$out" ||
		fail "the refusal does not name the versions"
	[ "$(duet_field node-b '.pg_rebuild.state')" = failed ] ||
		fail "node-b's rebuild: $(duet_field node-b '.pg_rebuild')"
	[ "$(cat "$d/PG_VERSION")" = 14 ] || fail "the data directory was touched"
	ok "refused: $(grep "version mismatch" "$out")"
	duet_stop node-b || fail "stop node-b's daemon"
	rm -f "$d/PG_VERSION"
	rejoin node-b node-a basebackup
	;;
rebuild_keeps_copy_master_down | rebuild_resumed_keeps_copy_master_down)
	wipe node-b all
	touch "$RIG_DIR/hold-start"
	duet_rejoin_bg node-b "$RIG_DIR/rejoin-1-node-b.out" --why "rig test: $SCENARIO (node-b)" \
		--timeout $((180 * RIG_SLOW))
	rig_wait 90 "node-b's copy made, its start_command held" test -e "$RIG_DIR/start-held" ||
		fail "node-b's start was not reached: $(duet_field node-b '.pg_rebuild')"
	duet_adopt node-b || fail "the daemon started by duetctl rejoin"
	sysid=$(system_id node-b)
	[ -n "$sysid" ] || fail "no system identifier in node-b's copy"
	touch "$(rig_pg_datadir node-b)/duet-test-copy"
	ok "copy made (system identifier $sysid); node-b's start held: $(duet_field node-b \
		'.pg_rebuild | tostring')"
	duet_stop node-a || fail "stop node-a's daemon"
	rig_pg_stop node-a || fail "stop node-a's PostgreSQL"
	ok "node-a's duetd and PostgreSQL stopped: no master to stream from"
	rm -f "$RIG_DIR/hold-start"
	rig_wait 30 "node-b's rebuild waiting for SYNC on" \
		duet_is node-b '.pg_rebuild.state == "waiting_sync"' ||
		fail "node-b: $(duet_field node-b '.pg_rebuild')"
	rig_wait $((60 + 8 * STREAM_TIMEOUT_MS / 1000)) \
		"node-b keeping its copy for 4 stream deadlines" copy_waited_long ||
		fail "node-b: $(duet_field node-b '.pg_rebuild')"
	[ ! -e "$RIG_DIR/copy-left" ] || fail "$(cat "$RIG_DIR/copy-left")"
	[ "$(system_id node-b)" = "$sysid" ] ||
		fail "node-b's copy was replaced: system identifier $(system_id node-b)"
	[ -e "$(rig_pg_datadir node-b)/duet-test-copy" ] || fail "node-b's copy was replaced"
	n=$(grep -c "rebuild: basebackup$" "$RIG_DIR/node-b/duetd.log")
	[ "$n" = 1 ] || fail "node-b's log shows $n base backups"
	rig_pg_pid node-b >/dev/null || fail "node-b's PostgreSQL is not running"
	ok "after $(duet_field node-b '.pg_rebuild.state_ms') ms without a master the copy is \
kept: $(duet_field node-b '.pg_rebuild.step')"
	if [ "$SCENARIO" = rebuild_resumed_keeps_copy_master_down ]; then
		pm=$(rig_pg_pid node-b) || fail "node-b's PostgreSQL is not running"
		duet_stop node-b || fail "stop node-b's daemon"
		wait "$DUET_REJOIN_PID"
		ok "node-b's daemon stopped; duetctl rejoin, following it, exited $?"
		DUET_REJOIN_PID=
		duet_start node-b || fail "start node-b's daemon again"
		rig_wait 30 "node-b's resumed rebuild waiting for SYNC on" \
			duet_is node-b '.pg_rebuild.state == "waiting_sync"' ||
			fail "node-b: $(duet_field node-b '.pg_rebuild')"
		grep -q "a rebuild was in progress when the daemon stopped" \
			"$RIG_DIR/node-b/duetd.log" || fail "node-b's daemon did not resume the rebuild"
		rig_wait 30 "node-b's resumed rebuild keeps the copy for 2 stream deadlines" \
			duet_is node-b ".pg_rebuild.state_ms >= $((2 * STREAM_TIMEOUT_MS))" ||
			fail "node-b: $(duet_field node-b '.pg_rebuild')"
		[ "$(duet_field node-b '.pg_rebuild | "\(.state) \(.failures)"')" = "waiting_sync 0" ] ||
			fail "node-b: $(duet_field node-b '.pg_rebuild')"
		[ "$(rig_pg_pid node-b)" = "$pm" ] ||
			fail "node-b's postmaster was restarted ($pm -> $(rig_pg_pid node-b))"
		ok "resumed, the standby was kept (postmaster $pm): $(duet_field node-b \
			'.pg_rebuild | tostring')"
	fi
	rig_pg_start node-a || fail "start node-a's PostgreSQL"
	duet_start node-a || fail "start node-a's daemon"
	ok "node-a's PostgreSQL and duetd started again"
	if [ "$SCENARIO" = rebuild_keeps_copy_master_down ]; then
		duet_rejoin_wait node-b || fail "duetctl rejoin of node-b exited $?"
		sed 's/^/    | /' "$RIG_DIR/rejoin-1-node-b.out"
	fi
	rig_wait 60 "node-b's rebuild done" duet_is node-b '.pg_rebuild.state == "done"' ||
		fail "node-b: $(duet_field node-b '.pg_rebuild')"
	rig_wait 30 "node-a acting master" duet_acting_master node-a || fail "node-a does not act"
	duet_sync_on node-a node-b || fail "node-b is not SYNC: $(duet_field node-a '.members')"
	rig_wait 10 "node-b's PostgreSQL streaming from node-a" duet_pg_standby_of node-b node-a ||
		fail "node-b's PostgreSQL is not a standby streaming from node-a"
	[ "$(system_id node-b)" = "$sysid" ] || fail "node-b's copy was replaced"
	[ -e "$(rig_pg_datadir node-b)/duet-test-copy" ] || fail "node-b's copy was replaced"
	n=$(grep -c "rebuild: basebackup$" "$RIG_DIR/node-b/duetd.log")
	[ "$n" = 1 ] || fail "node-b's log shows $n base backups"
	ok "node-b streams from node-a with the same copy, SYNC on; .pg_rebuild: \
$(duet_field node-b '.pg_rebuild | tostring')"
	duet_wait_acks 20 node-a 30 || fail "no writes acknowledged by node-a"
	CLEAN_FROM=$(now)
	;;
refused_on_master)
	out=$RIG_DIR/refused.txt
	rig_exec node-a "$BIN/duetctl" rejoin --yes --config "$RIG_DIR/node-a.ini" \
		</dev/null >"$out" 2>&1
	rc=$?
	[ "$rc" = 1 ] || fail "rejoin on the running master exited $rc: $(cat "$out")"
	grep "running" "$out" | grep -q "node-a" ||
		fail "the refusal does not name the running daemon: $(cat "$out")"
	[ -d "$RIG_DIR/node-a/duet" ] || fail "node-a's data_dir was moved"
	[ ! -e "$RIG_DIR/node-a/duet.rejoin" ] || fail "a marker was written for node-a"
	duet_acting_master node-a || fail "node-a is no longer acting master"
	ok "refused on the running master: $(cat "$out")"
	duet_stop node-b || fail "stop node-b's daemon"
	rig_exec node-b "$BIN/duetctl" rejoin --config "$RIG_DIR/node-b.ini" </dev/null >"$out" 2>&1
	rc=$?
	[ "$rc" = 1 ] || [ "$rc" = 2 ] || fail "rejoin without --yes exited $rc: $(cat "$out")"
	grep -q -- "--yes" "$out" || fail "the refusal does not ask for --yes: $(cat "$out")"
	[ -d "$RIG_DIR/node-b/duet" ] || fail "node-b's data_dir was moved"
	[ ! -e "$RIG_DIR/node-b/duet.rejoin" ] || fail "a marker was written for node-b"
	ok "refused without --yes and without a terminal (exit $rc): $(cat "$out")"
	duet_start node-b || fail "start node-b again"
	rig_wait 20 "node-b hears the leader" duet_is node-b '.leader != null' ||
		fail "node-b did not come back"
	rig_wait 20 "node-b SYNC on" duet_sync_on node-a node-b || fail "node-b is not SYNC"
	ok "node-b is back as it was"
	;;
*)
	fail "unknown scenario"
	;;
esac

duet_acting_master "$MASTER" || fail "$MASTER is not acting master at the end"
duet_wait_acks 20 "$MASTER" 20 || fail "no more writes acknowledged by $MASTER"
clean_check "outside a takeover"
duet_probes_stop
ok "writer: $(grep -o 'stopped: .*' "$RIG_DIR/writer.log" | tail -n 1)"
for n in node-a node-b; do
	duet_wait_verify "$n" 20 || fail "acknowledged writes are missing on $n"
done
duet_check_samples || fail "two PostgreSQL servers were primaries at once"
ok "every acknowledged id is on node-a and node-b; no sample saw two primaries"
"$BIN/duetctl" log --config "$RIG_DIR/$MASTER.ini" --verify >/dev/null ||
	fail "the audit chain does not verify"
duet_stop_all || fail "a daemon reported a sanitizer error"
echo "PASS [$SCENARIO]"
