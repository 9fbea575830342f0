# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# scenarios.sh - the fault matrix's scenarios (issue 7 item 4), sourced by
# run.sh after lib.sh. scenario_NAME: fault_begin, fault_mark, the fault, the
# expected outcome asserted (fault_fail otherwise), OUTCOME set; run.sh then
# calls fault_end (no acknowledged write lost, no trap lost or duplicated,
# never two primaries, the audit chain verifies, no sanitizer report).
#
# Node-a is master and node-b its synchronous standby at the start of each.
# Variables set here for lib.sh: OUTCOME, T_FO, FAULT_STREAM_S, FAULT_TOTAL.
# shellcheck disable=SC2034

# ---------------------------------------------------------------- shared

# takeover_by_b: node-b acts as master, holds the FIP (node-a only on a
# fenced, down link), and acknowledges writes (duet_expect_takeover)
takeover_by_b() {
	local out
	out=$(duet_expect_takeover node-b node-a) || fault_fail "no takeover by node-b"
	while read -r l; do fault_log "$l"; done <<<"$out"
}

# no_failover_for SECS: for SECS seconds (the observation window: the
# fault must cause nothing), node-a stays acting master and the log names no
# other master; then node-a acknowledges 100 more writes
no_failover_for() {
	local until=$(($(rig__now_ms) + $1 * 1000))
	while [ "$(rig__now_ms)" -lt "$until" ]; do
		duet_acting_master node-a ||
			fault_fail "node-a stopped acting as master: $(duet_field node-a '.acting')"
		sleep 0.2
	done
	[ "$(fault_masters_since node-a)" = 0 ] ||
		fault_fail "a MASTER entry was committed after the fault"
	duet_wait_acks 100 node-a 20 || fault_fail "writes do not go on on node-a"
}

# boot_pg NODE: NODE's PostgreSQL started as at boot after a crash. A server
# killed with -9 leaves postmaster.pid behind; after a real reboot its pid
# is nobody's, but here the killed postmaster may linger as a zombie (it was
# reparented to PID 1, which need not reap it at once: a sandbox's init), and
# PostgreSQL refuses to start while that pid exists. So the lock files (data
# directory, socket) go when their process is dead or a zombie (rig__alive),
# as a reboot would have it.
boot_pg() {
	if ! rig_pg_pid "$1" >/dev/null; then
		rm -f "$(rig_pg_datadir "$1")/postmaster.pid" "$RIG_DIR/$1/.s.PGSQL.$RIG_PG_PORT.lock"
	fi
	duet_unfence "$1"
	rig_pg_start "$1"
}

fip_free() { [ -z "$(rig_fip_holder)" ]; }
pg_down() { ! rig_pg_pid "$1" >/dev/null; }

# ---------------------------------------------------------------- the classes

# network: the master's link loses its carrier (cable pulled)
scenario_network() {
	fault_begin
	fault_mark
	rig_nic_down node-a cable || fault_fail "NIC down"
	takeover_by_b
	OUTCOME="failover to node-b"
}

# disk: the master's PostgreSQL volume (a tmpfs) filled up: the fs check
# fails, HEALTH is committed, the master hands over
scenario_disk() {
	fault_begin 160M
	fault_mark
	dd if=/dev/zero of="$(rig_pg_datadir node-a)/fill" bs=1M >/dev/null 2>&1
	fault_log "node-a's PostgreSQL volume is full"
	takeover_by_b
	duet_audit_has node-b HEALTH "fs.*failing" || fault_fail "no HEALTH entry for fs failing"
	OUTCOME="failover to node-b (fs check, HEALTH committed)"
}

# server: kill -9 of duetd, every postgres process and the manager on the
# master; fence, lease wait, promote, FIP and manager are STEP entries
scenario_server() {
	fault_begin
	fault_mark
	duet_kill9_all node-a
	takeover_by_b
	local s
	for s in "fence.*ok" "lease" "promote.*ok" "fip.*ok" "manager.*ok"; do
		duet_audit_has node-b STEP "$s" || fault_fail "no STEP matching '$s' in the audit log"
	done
	OUTCOME="failover to node-b (fence, lease wait, promote, FIP, manager)"
}

# process: the master's postgres alone is killed: the pg check fails, HEALTH
# is committed, the master hands over
scenario_process() {
	fault_begin
	fault_mark
	rig_pg_kill node-a all || fault_fail "kill postgres on node-a"
	takeover_by_b
	duet_audit_has node-b HEALTH "pg.*failing" || fault_fail "no HEALTH entry for pg failing"
	OUTCOME="failover to node-b (pg check, HEALTH committed)"
}

# ---------------------------------------------------------------- the others

# partition: iptables cuts the master from standby and witness (not from the
# client: it still receives traps); it demotes itself within its lease
scenario_partition() {
	fault_begin
	fault_mark
	rig_cut node-a || fault_fail "iptables cut"
	rig_wait 5 "node-a demotes itself" duet_is node-a '.acting != "master"' ||
		fault_fail "node-a still acts as master while cut off"
	fault_log "node-a demoted itself: $(duet_field node-a .acting)"
	takeover_by_b
	OUTCOME="master demoted itself, failover to node-b"
}

# witness_loss: kill -9 of the witness: nothing else changes
scenario_witness_loss() {
	fault_begin
	fault_mark
	duet_kill9 witness
	no_failover_for 5
	OUTCOME="no failover (expected): node-a stays master"
}

# witness_standby_loss: kill -9 of the witness and of everything on the
# standby at once. The master is left alone: it cannot renew its lease (no
# majority) and cannot commit SYNC(node-b, off) (that needs the witness), so
# its PostgreSQL keeps waiting for the dead synchronous standby, and it
# demotes itself once the lease is over (DESIGN.md 4: nothing is acknowledged
# without the standby, no acknowledged write can be lost). Then the witness
# and the standby come back (PostgreSQL started as a standby, as at boot):
# the cluster must recover with a master that acknowledges writes (node-a
# again, or a failover to node-b, its SYNC standby), without a loss.
scenario_witness_standby_loss() {
	fault_begin
	fault_mark
	duet_kill9 witness
	duet_kill9_all node-b
	rig_wait 10 "node-a demotes itself" duet_is node-a '.acting != "master"' ||
		fault_fail "node-a still acts as master without a majority"
	local tdem
	tdem=$(fault_now)
	fault_log "node-a demoted itself: $(duet_field node-a '.acting'), raft role: $(duet_field node-a '.role')"
	rig_wait 10 "the FIP released" fip_free ||
		fault_fail "the FIP is still held by $(rig_fip_holder)"
	rig_wait 10 "node-a's PostgreSQL stopped" pg_down node-a ||
		fault_fail "node-a's PostgreSQL still runs after the demotion"
	fault_log "alone, node-a released the FIP and stopped its PostgreSQL"
	# the restart: node-b as a machine that boots (PostgreSQL, then duetd),
	# and the witness
	boot_pg node-b || fault_fail "start node-b's PostgreSQL"
	local trec
	trec=$(fault_now)
	T_FO=$trec
	{ duet_start witness && duet_start node-b; } || fault_fail "restart witness and node-b"
	local n
	n=$(awk -v a="$tdem" -v b="$trec" '$2 > a && $2 < b' "$DUET_ACKS" | wc -l)
	[ "$n" = 0 ] || fault_fail "$n writes acknowledged while node-a was alone and demoted"
	rig_wait 30 "a master again" fault_master >/dev/null || fault_fail "no master after the restart"
	local m
	m=$(fault_master)
	duet_wait_acks 50 "$m" 30 || fault_fail "$m acknowledges no write"
	if [ "$m" = node-a ]; then
		OUTCOME="master demoted (no majority), recovered: node-a master again"
	else
		OUTCOME="master demoted (no majority), recovered: failover to node-b"
	fi
	fault_log "$OUTCOME"
}

# clock_jump: a step of the master's wall clock. node-a's duetd runs under
# libfaketime (LD_PRELOAD, FAKETIME_TIMESTAMP_FILE re-read at every call):
# its CLOCK_REALTIME, time() and gettimeofday() jump FAULT_CLOCK_JUMP_S
# (default 3600) seconds forward, stay there 3 s, and jump back; its
# CLOCK_MONOTONIC (FAKETIME_DONT_FAKE_MONOTONIC), which leases, timers and
# health deadlines use, goes on untouched, as a real step (settimeofday, an
# NTP step) leaves it. Nothing may fail over, no write or trap be lost, no
# trap duplicated. The jump is seen to take effect in node-a's log, whose
# lines carry its wall clock (check_clock_jump); the traps' receive times do
# not jump (node_trap_ms: the wall clock at start advanced by the monotonic
# clock), so the copies on the two nodes still match.
# What it cannot show: the whole machine's clock does not move (PostgreSQL,
# the manager, the kernel's timestamps, the other daemons keep the real
# time: a real step on node-a would move its PostgreSQL's now() too), and a
# process that reads the clock without libc (a raw syscall) would not see it.
FAULT_CLOCK_JUMP_S=${FAULT_CLOCK_JUMP_S:-3600}
# Debian's libfaketime package, whatever the architecture
FAKETIME_LIB=${FAKETIME_LIB:-$(compgen -G "/usr/lib/*/faketime/libfaketime.so.1" | head -n 1)}
duet_wrap() {
	[ "$SCENARIO" = clock_jump ] && [ "$1" = node-a ] || return 0
	[ -f "$RIG_DIR/faketime" ] || echo "+0" >"$RIG_DIR/faketime"
	echo "env LD_PRELOAD=$FAKETIME_LIB FAKETIME_TIMESTAMP_FILE=$RIG_DIR/faketime" \
		"FAKETIME_NO_CACHE=1 FAKETIME_DONT_FAKE_MONOTONIC=1" \
		"ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
}

scenario_clock_jump() {
	[ -r "$FAKETIME_LIB" ] || fault_fail "libfaketime is missing (apt-get install libfaketime)"
	FAULT_STREAM_S=9
	fault_begin
	local pid
	pid=${DUET_PID[node-a]}
	grep -q libfaketime "/proc/$pid/maps" || fault_fail "libfaketime is not loaded in node-a's duetd"
	fault_mark
	echo "+$FAULT_CLOCK_JUMP_S" >"$RIG_DIR/faketime"
	fault_log "node-a's wall clock jumped $FAULT_CLOCK_JUMP_S s forward"
	# a log line stamped while the clock is jumped (SIGHUP: a reload, logged)
	local lines
	lines=$(wc -l <"$RIG_DIR/node-a/duetd.log")
	kill -HUP "$pid" || fault_fail "SIGHUP to node-a's duetd"
	rig_wait 5 "node-a logs the reload" eval \
		'[ "$(grep -c "SIGHUP: reloaded" "$RIG_DIR/node-a/duetd.log")" -ge 1 ] &&
		 [ "$(wc -l <"$RIG_DIR/node-a/duetd.log")" -gt "$lines" ]' ||
		fault_fail "node-a did not log the reload"
	no_failover_for 3
	echo "+0" >"$RIG_DIR/faketime"
	fault_log "node-a's wall clock jumped back"
	no_failover_for 2
	OUTCOME="no failover (expected): node-a stays master"
}

check_clock_jump() {
	local span seen
	# the spread of node-a's log timestamps: the run lasts well under a
	# minute, so a spread near the jump is the jump
	span=$(python3 - "$RIG_DIR/node-a/duetd.log" <<'PY'
import re, sys
from datetime import datetime
ts = [datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f")
      for m in (re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z ", l)
                for l in open(sys.argv[1], errors="replace")) if m]
print(int((max(ts) - min(ts)).total_seconds()) if ts else 0)
PY
)
	[ "${span:-0}" -ge $((FAULT_CLOCK_JUMP_S * 9 / 10)) ] ||
		fault_fail "the jump did not take effect: node-a's log spans only ${span:-?} s"
	seen=$(jq -r '.recv_latency_max_ms // 0 | floor' "$RIG_DIR/sink.json" 2>/dev/null)
	[ "${seen:-0}" -lt $((FAULT_CLOCK_JUMP_S * 500)) ] ||
		fault_fail "traps were stamped with the jumped clock: recv_ms - sent_ns reached ${seen} ms"
	fault_log "node-a's log spans ${span} s (the jump); the traps' receive times did not \
jump (at most ${seen} ms after sending)"
}

# slow_disk: every process of the master (duetd, postgres, the manager) is
# put in a cgroup whose writes to the block device under the rig's
# directory are throttled to FAULT_SLOW_IOPS per second (cgroup v2 io.max
# wiops, or v1 blkio.throttle.write_iops_device): PostgreSQL's WAL flushes,
# the LMDB store's fdatasync and the fs check's probe wait in the block
# layer's throttle queue, as on a slow or overloaded disk. What it cannot do:
# I/O that the kernel issues on behalf of the processes from its own threads
# (ext4's journal commits, background writeback under cgroup v1) is not
# slowed, and the device's own latency is unchanged. With the default (2
# writes/s) a write + fdatasync takes well over the fs check's deadline
# (1 s), and so do the master's raft store writes: duetd sends no raft
# message while a store write is in flight (daemon/node.c drive()), so its
# lease lapses and it demotes itself, or the fs check fails and it hands
# over; either way node-b must take over without a loss.
FAULT_SLOW_IOPS=${FAULT_SLOW_IOPS:-2}
FAULT_CG=

# fault__disk_of PATH: MAJ:MIN of the whole disk that holds PATH
fault__disk_of() {
	local dev
	dev=$(stat -c '%Hd:%Ld' "$1") || return 1
	[ -e "/sys/dev/block/$dev" ] || {
		echo "$1 is not on a block device ($dev): the slow disk cannot be simulated" >&2
		return 1
	}
	if [ -f "/sys/dev/block/$dev/partition" ]; then
		dev=$(cat "$(readlink -f "/sys/dev/block/$dev")/../dev") || return 1
	fi
	echo "$dev"
}

# A block device where there is none: when $RIG_TMP (where the rig's
# directory is made) is not on one (a tmpfs /tmp, say), the slow disk
# scenario makes its own: a sparse file of FAULT_VOLUME_MB under $RIG_TMP,
# a loop device on it, ext4, mounted at /tmp/dv<pid> (a short path: duet's
# config lines hold paths under it), which becomes RIG_TMP. rig_down is wrapped so that the volume goes after the
# rig has stopped its processes and removed its directory, whichever way
# the scenario ends (RIG_KEEP=1 keeps it, mounted, with the rig's files).
# A run killed with SIGKILL leaves it behind: `losetup -a` shows it.
FAULT_VOLUME_MB=${FAULT_VOLUME_MB:-1024}
FAULT_VOLUME_DIR='' FAULT_VOLUME_IMG='' FAULT_VOLUME_LOOP='' FAULT_VOLUME_OWNER=''

fault__volume_down() {
	[ "${FAULT_VOLUME_OWNER:-}" = "$BASHPID" ] || return 0
	if [ "${RIG_KEEP:-0}" = 1 ] && [ -n "$FAULT_VOLUME_DIR" ]; then
		echo "kept: $FAULT_VOLUME_DIR (loop device $FAULT_VOLUME_LOOP on $FAULT_VOLUME_IMG)" >&2
		return 0
	fi
	if [ -n "$FAULT_VOLUME_DIR" ] && mountpoint -q "$FAULT_VOLUME_DIR"; then
		umount "$FAULT_VOLUME_DIR" || umount -l "$FAULT_VOLUME_DIR" ||
			echo "could not unmount $FAULT_VOLUME_DIR" >&2
	fi
	[ -n "$FAULT_VOLUME_LOOP" ] && losetup -d "$FAULT_VOLUME_LOOP" 2>/dev/null
	[ -n "$FAULT_VOLUME_DIR" ] && rmdir "$FAULT_VOLUME_DIR" 2>/dev/null
	[ -n "$FAULT_VOLUME_IMG" ] && rm -f "$FAULT_VOLUME_IMG"
	FAULT_VOLUME_DIR='' FAULT_VOLUME_IMG='' FAULT_VOLUME_LOOP='' FAULT_VOLUME_OWNER=''
}

# the rig's own teardown, then the volume under it
eval "fault__rig_down_inner() $(declare -f rig_down | tail -n +2)"
rig_down() {
	local rc=$?
	(exit "$rc")
	fault__rig_down_inner
	fault__volume_down
	return 0
}

# fault_block_volume: makes RIG_TMP a block device's filesystem if it is not
fault_block_volume() {
	local tmp=${RIG_TMP:-/tmp} dev
	dev=$(stat -c '%Hd:%Ld' "$tmp") || return 1
	[ -e "/sys/dev/block/$dev" ] && return 0
	FAULT_VOLUME_OWNER=$BASHPID
	trap rig_down EXIT # rig_up installs the same; until then the volume goes too
	FAULT_VOLUME_IMG=$tmp/duet-vol-$$.img
	FAULT_VOLUME_DIR=/tmp/dv$$ # short: duet's commands name paths under it (< 200 chars)
	truncate -s "${FAULT_VOLUME_MB}M" "$FAULT_VOLUME_IMG" || return 1
	FAULT_VOLUME_LOOP=$(losetup --find --show "$FAULT_VOLUME_IMG") || return 1
	mkfs.ext4 -q -F "$FAULT_VOLUME_LOOP" || return 1
	mkdir -p "$FAULT_VOLUME_DIR" || return 1
	mount "$FAULT_VOLUME_LOOP" "$FAULT_VOLUME_DIR" || return 1
	chmod 0755 "$FAULT_VOLUME_DIR"
	RIG_TMP=$FAULT_VOLUME_DIR
	fault_log "$tmp is not on a block device ($dev): the rig runs on $FAULT_VOLUME_LOOP \
(ext4 on $FAULT_VOLUME_IMG, ${FAULT_VOLUME_MB} MiB sparse) mounted at $FAULT_VOLUME_DIR"
}

# slow_disk_on NODE IOPS / slow_disk_off
slow_disk_on() {
	local ns dev p
	ns=$(rig_ns "$1")
	dev=$(fault__disk_of "$RIG_DIR/$1/pg") || return 1
	if [ -f /sys/fs/cgroup/cgroup.controllers ] && grep -qw io /sys/fs/cgroup/cgroup.controllers; then
		grep -qw io /sys/fs/cgroup/cgroup.subtree_control ||
			echo "+io" >/sys/fs/cgroup/cgroup.subtree_control || return 1
		FAULT_CG=/sys/fs/cgroup/duet-faults-$$
		mkdir -p "$FAULT_CG" || return 1
		echo "$dev wiops=$2" >"$FAULT_CG/io.max" || return 1
	elif [ -d /sys/fs/cgroup/blkio ]; then
		FAULT_CG=/sys/fs/cgroup/blkio/duet-faults-$$
		mkdir -p "$FAULT_CG" || return 1
		echo "$dev $2" >"$FAULT_CG/blkio.throttle.write_iops_device" || return 1
	else
		echo "neither cgroup v2 io nor v1 blkio is available" >&2
		return 1
	fi
	for p in $(ip netns pids "$ns"); do
		echo "$p" >"$FAULT_CG/cgroup.procs" 2>/dev/null
	done
	fault_log "$1's processes write to $dev at most $2 times a second ($FAULT_CG)"
}

slow_disk_off() {
	local p
	[ -n "$FAULT_CG" ] && [ -d "$FAULT_CG" ] || return 0
	while read -r p; do
		echo "$p" >"$(dirname "$FAULT_CG")/cgroup.procs" 2>/dev/null
	done <"$FAULT_CG/cgroup.procs"
	rmdir "$FAULT_CG" 2>/dev/null || echo "could not remove $FAULT_CG" >&2
	FAULT_CG=
}

# run by rig_on_down (lib.sh), before the rig's processes are killed
fault_cleanup() {
	slow_disk_off
}

scenario_slow_disk() {
	fault_block_volume || fault_fail "no block device for the rig (loop volume)"
	fault_begin
	fault_mark
	slow_disk_on node-a "$FAULT_SLOW_IOPS" || fault_fail "slow disk"
	takeover_by_b
	slow_disk_off
	if grep -q "demoting (the lease was lost)" "$RIG_DIR/node-a/duetd.log"; then
		OUTCOME="failover to node-b (node-a's lease lapsed behind its slow store writes)"
	elif duet_audit_has node-b HEALTH "fs.*failing"; then
		OUTCOME="failover to node-b (fs check timed out, HEALTH committed)"
	else
		fault_fail "node-b took over, but node-a neither lost its lease nor failed its fs check"
	fi
}

# flapping_link: the master's cable goes down and up again, FAULT_FLAP_MS
# (700) each way, FAULT_FLAPS (4) times (the hub's port only: a fence that
# takes node-a's own eth0 down stays in force, as a power cut would). At
# most one failover; at the end one master acknowledges writes.
FAULT_FLAP_MS=${FAULT_FLAP_MS:-700}
FAULT_FLAPS=${FAULT_FLAPS:-4}

scenario_flapping_link() {
	FAULT_STREAM_S=$((2 + FAULT_FLAPS * FAULT_FLAP_MS * 2 / 1000 + 2))
	fault_begin
	local hub port secs
	hub=$(rig_ns hub)
	port=${RIG_PORTNAME[node-a]}
	secs=$(printf '%d.%03d' $((FAULT_FLAP_MS / 1000)) $((FAULT_FLAP_MS % 1000)))
	fault_mark
	# the fault itself is a timed pattern: these sleeps pace it, they do not
	# wait for anything
	for _ in $(seq 1 "$FAULT_FLAPS"); do
		ip -n "$hub" link set "$port" down || fault_fail "cable down"
		sleep "$secs"
		ip -n "$hub" link set "$port" up || fault_fail "cable up"
		sleep "$secs"
	done
	fault_log "node-a's cable went down and up $FAULT_FLAPS times (${FAULT_FLAP_MS} ms each way)"
	rig_wait 30 "one master" fault_master >/dev/null || fault_fail "no master after the flapping"
	local m changes
	m=$(fault_master)
	duet_wait_acks 50 "$m" 30 || fault_fail "$m acknowledges no write"
	changes=$(fault_masters_since "$m")
	[ "$changes" -le 1 ] || fault_fail "$changes MASTER entries after the fault (at most one failover)"
	if [ "$m" = node-a ]; then
		[ "$changes" = 0 ] || fault_fail "node-a is master again after a failover to node-b"
		if grep -q "demoting (the lease was lost)" "$RIG_DIR/node-a/duetd.log"; then
			OUTCOME="no failover: node-a demoted on lease loss and resumed"
		else
			OUTCOME="no failover: node-a rode it out"
		fi
	else
		OUTCOME="one failover, to node-b"
	fi
	fault_log "$OUTCOME"
}

# both_restarted: the trap stream stops (a trap that reaches no running
# node is lost by any design), every trap of it committed; then kill -9 of
# duetd, every postgres and the manager on BOTH data nodes at once (the
# witness stays), and both come back as machines that boot (no FIP; each
# PostgreSQL started as it was, then duetd). The cluster must be back with
# one master (node-a again, or node-b its SYNC standby), every committed
# trap delivered once, and a second stream taken as well.
scenario_both_restarted() {
	local c1=$((FAULT_TRAP_RATE * 2)) c2=$((FAULT_TRAP_RATE * 3)) n
	FAULT_TOTAL=$((c1 + c2))
	fault_begin "" "$c1"
	fault_gen_wait 30 || fault_fail "the first stream did not end"
	rig_wait 20 "every trap of the first stream committed" fault__committed "$c1" ||
		fault_fail "not all $c1 traps committed"
	fault_log "the first stream ($c1 traps) is committed; $(duet_field node-a '.traps.undelivered') undelivered"
	fault_mark
	duet_kill9_all node-a
	duet_kill9_all node-b
	fault_log "everything on both data nodes killed"
	for n in node-a node-b; do
		boot_pg "$n" || fault_fail "start $n's PostgreSQL"
	done
	{ duet_start node-a && duet_start node-b; } || fault_fail "restart both duetd"
	rig_wait 30 "a master again" fault_master >/dev/null || fault_fail "no master after the restart"
	local m
	m=$(fault_master)
	duet_wait_acks 50 "$m" 30 || fault_fail "$m acknowledges no write"
	fault_gen_start $((c1 + 1)) "$c2" || fault_fail "second stream"
	if [ "$m" = node-a ]; then
		OUTCOME="both back, node-a master again"
	else
		OUTCOME="both back, failover to node-b"
	fi
	fault_log "$OUTCOME"
}
