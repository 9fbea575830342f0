# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# duet_rig.sh - a duet cluster on the netns rig (source it after setting BIN
# and TESTS, as root): duetd on node-a and node-b, duet-witness on witness,
# each in its own namespace, each data node with its own PostgreSQL 15, the
# HTTP manager, the FIP, and fencing that takes the other node's NIC down (a
# power switch cannot run here: "off" is "off the network", the test says so).
#
#   BIN=build/bin TESTS=build/tests; source tests/netns/duet_rig.sh
#   duet_up [TMPFS_SIZE]          rig, PostgreSQL pair, certs, configs, daemons;
#                                 returns once node-a is acting master and
#                                 node-b is a committed SYNC standby
#   duet_status NODE, duet_is NODE JQ, duet_field NODE JQ
#   duet_kill9 NODE               kill -9 of duetd (or duet-witness) on NODE
#   duet_kill9_all NODE           duetd, every postgres process, the manager
#   duet_stop NODE                SIGTERM to NODE's daemon, waiting for it to end
#   duet_writer_start / duet_sampler_start / duet_probes_stop
#   duet_wait_acks N [SERVER]     until N more acks (from SERVER if given)
#   duet_write_failures T0 [T1]   failed write attempts with T0 <= mono_ns <= T1
#   duet_verify NODE              every acked id is on NODE's PostgreSQL
#   duet_wait_verify NODE [SECS]  the same, retried while a standby replays
#   duet_check_samples            no sample saw two primaries
#   duet_expect_takeover NEW OLD  NEW acts as master, holds the FIP, acks writes
#   duet_unfence NODE             a fenced node "powered back": stale FIP gone, link up
#   duet_pg_standby_of NODE MASTER  NODE's PostgreSQL is in recovery, streaming from MASTER
#   duet_start_cmd NODE           shell command starting NODE's daemon (for rejoin --start)
#   duet_rejoin NODE OUT [ARGS]   duetctl rejoin --yes --start ... of NODE (output in OUT)
#   duet_rejoin_bg / duet_rejoin_wait   the same in two halves (DUET_REJOIN_PID)
#   duet_stop_all                 SIGTERM to the daemons; fails on a sanitizer report
#   duet_audit_has NODE TYPE ERE  NODE's audit log has a TYPE entry matching ERE
#
# DUET_FENCE_COMMAND replaces the fence command (e.g. one that fails).
# DUET_FENCE_AGENT_OPTIONS (a file) fences with fence-agents' fence_dummy
# driven by those key=value options instead (method = agent).
# Hooks, optional functions the caller defines (as rig.sh's rig_on_down):
#   duet_extra_config NODE  prints lines appended to NODE's config by duet_up
#                           (sections of its own, e.g. [traps] and [sink])
#   duet_pg_start_command NODE  prints the [pg] start_command for NODE (e.g.
#                           a script around rig_pg_cmd NODE start); fails: the usual
#   duet_pg_extra_config NODE   prints key lines added to NODE's [pg] section
#   duet_wrap NODE          prints a command prefix duet_start runs NODE's
#                           daemon under (words without spaces, e.g.
#                           "env LD_PRELOAD=... FAKETIME=..."); empty: none
# Everything lives in $RIG_DIR and goes with rig_down (the EXIT trap).

DUET_RIG_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/netns/rig.sh
source "$DUET_RIG_SRC/rig.sh"

declare -A DUET_PID=()
DUET_ACKS=
DUET_WRITE_ERRORS=
DUET_SAMPLES=
DUET_REJOIN_PID=
DUET_WRITER_PID=
DUET_SAMPLER_PID=

duet__id() {
	case "$1" in
	node-a) echo 1 ;;
	node-b) echo 2 ;;
	witness) echo 3 ;;
	esac
}

duet__other() {
	if [ "$1" = node-a ]; then echo node-b; else echo node-a; fi
}

duet__config() {
	local n=$1 d=$RIG_DIR/$1/duet
	cat <<EOC
[cluster]
name = rig
id = 00000000decafbad

[node]
name = $n
data_dir = $d
log_level = ${DUET_LOG_LEVEL:-info}

[member node-a]
id = 1
kind = data
address = $(rig_ip node-a):7101

[member node-b]
id = 2
kind = data
address = $(rig_ip node-b):7101

[member witness]
id = 3
kind = witness
address = $(rig_ip witness):7101

[tls]
ca = $RIG_DIR/certs/ca.pem
cert = $RIG_DIR/certs/$n.pem
key = $RIG_DIR/certs/$n.key
EOC
	[ "$n" = witness ] && return 0
	local other
	other=$(duet__other "$n")
	cat <<EOC

[pg]
conninfo = $(rig_pg_conninfo "$n")
start_command = $(duet__pg_start_cmd "$n")
stop_command = $(rig_pg_cmd "$n" stop)
data_dir = $(rig_pg_datadir "$n")
config_file = $RIG_DIR/$n/conf/postgresql.conf
bin_dir = $RIG_PGBIN
peer_conninfo = host=$(rig_ip "$other") port=$RIG_PG_PORT user=postgres dbname=postgres
$(declare -F duet_pg_extra_config >/dev/null && duet_pg_extra_config "$n")

[fip]
address = $RIG_FIP/24
interface = eth0

[fence]
$(duet__fence_config "$other")

[manager]
$(duet__manager_cmds "$n")

[http]
listen = $(rig_ip "$n"):8008

[health]
fs_paths = $d, $(rig_pg_datadir "$n")
critical = pg, fs
EOC
}

# the [fence] keys of a node that fences OTHER
duet__fence_config() {
	if [ -n "${DUET_FENCE_AGENT_OPTIONS:-}" ]; then
		printf 'method = agent\nagent = /usr/sbin/fence_dummy\n'
		printf 'agent_options_file = %s\n' "$DUET_FENCE_AGENT_OPTIONS"
		return
	fi
	echo "method = command"
	echo "; the rig cannot cut power: fencing takes the other node off the network"
	echo "command = ${DUET_FENCE_COMMAND:-ip -n $(rig_ns "$1") link set eth0 down}"
}

# the manager's commands; the hook duet_manager_stop_command NODE, when the
# caller defines it and it succeeds, prints the stop_command to use instead
duet__manager_cmds() {
	local stop
	if declare -F duet_manager_stop_command >/dev/null &&
		stop=$(duet_manager_stop_command "$1"); then
		rig_manager_cmds "$1" | sed "s|^stop_command = .*|stop_command = $stop|"
	else
		rig_manager_cmds "$1"
	fi
}

# the [pg] start_command; the hook duet_pg_start_command NODE, when the
# caller defines it and it succeeds, prints the one to use instead
duet__pg_start_cmd() {
	local cmd
	if declare -F duet_pg_start_command >/dev/null && cmd=$(duet_pg_start_command "$1"); then
		echo "$cmd"
	else
		rig_pg_cmd "$1" start
	fi
}

# duet_start NODE: starts the member's daemon in its namespace
duet_start() {
	local n=$1 exe=duetd wrap=()
	[ "$n" = witness ] && exe=duet-witness
	mkdir -p "$RIG_DIR/$n/duet"
	chmod 0700 "$RIG_DIR/$n/duet"
	if declare -F duet_wrap >/dev/null; then
		read -r -a wrap <<<"$(duet_wrap "$n")" || true
	fi
	rig_bg "$n" "$RIG_DIR/$n/duetd.log" "${wrap[@]}" "$BIN/$exe" --config "$RIG_DIR/$n.ini" ||
		return 1
	DUET_PID[$n]=$RIG_BG_PID
}

# duet_stop_all: SIGTERM to every daemon still running, waiting for each (a
# sanitizer build writes its leak report at exit), then fails if any log of
# the run holds a sanitizer report
duet_stop_all() {
	local n pid bad=0
	for n in node-a node-b witness; do
		pid=${DUET_PID[$n]:-}
		[ -n "$pid" ] && rig_stop "$pid" >/dev/null 2>&1
		DUET_PID[$n]=
	done
	for f in "$RIG_DIR"/*/duetd.log "$RIG_DIR"/writer.log "$RIG_DIR"/sampler.log; do
		[ -f "$f" ] || continue
		if grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$f"; then
			echo "sanitizer report in $f:" >&2
			grep -A30 -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$f" | head -60 >&2
			bad=1
		fi
	done
	return $bad
}

duet_status() {
	"$BIN/duetctl" status --json --socket "$RIG_DIR/$1/duet/admin.sock" 2>/dev/null
}

duet_field() {
	duet_status "$1" | jq -r "$2" 2>/dev/null
}

duet_is() {
	[ "$(duet_field "$1" "$2")" = true ]
}

duet_acting_master() {
	duet_is "$1" '.acting == "master"'
}

duet_sync_on() {
	duet_is "$1" '.members[] | select(.name == "'"$2"'") | .sync'
}

duet_kill9() {
	local pid=${DUET_PID[$1]:-}
	[ -n "$pid" ] || return 0
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	# a daemon started by duetctl rejoin --start is not our child: wait
	# until it is gone (or a zombie nobody reaps)
	rig_wait 10 "pid $pid to end" duet__dead "$pid"
	DUET_PID[$1]=
}

duet__dead() {
	! rig__alive "$1"
}

# duet_stop NODE: SIGTERM to NODE's daemon and wait until it has ended
duet_stop() {
	local pid=${DUET_PID[$1]:-}
	[ -n "$pid" ] || return 0
	rig_stop "$pid" 10 >/dev/null 2>&1
	DUET_PID[$1]=
	if rig__alive "$pid"; then
		rig__err "the daemon of $1 (pid $pid) did not end"
		return 1
	fi
}

duet_kill9_all() {
	local n=$1 mpid
	duet_kill9 "$n"
	rig_pg_kill "$n" all
	mpid=$(cat "$RIG_DIR/$n/manager.pid" 2>/dev/null) &&
		[ -n "$mpid" ] && kill -9 "$mpid" 2>/dev/null
	return 0
}

duet_up() {
	rig_up || return 1
	rig_pg_init "${1:-}" || return 1
	"$BIN/duetctl" gencerts --dir "$RIG_DIR/certs" --names node-a,node-b,witness \
		>/dev/null || return 1
	local n
	for n in node-a node-b witness; do
		duet__config "$n" >"$RIG_DIR/$n.ini" || return 1
		if declare -F duet_extra_config >/dev/null; then
			duet_extra_config "$n" >>"$RIG_DIR/$n.ini" || return 1
		fi
		"$BIN/duetctl" check-config "$RIG_DIR/$n.ini" >/dev/null || {
			"$BIN/duetctl" check-config "$RIG_DIR/$n.ini" >&2
			return 1
		}
	done
	# a new cluster: its stores are made on purpose (a daemon without one
	# rejoins instead); in each namespace, where the peers' addresses are
	for n in node-a node-b witness; do
		mkdir -p "$RIG_DIR/$n"
		rig_exec "$n" "$BIN/duetctl" init --config "$RIG_DIR/$n.ini" >/dev/null || return 1
	done
	duet_start witness && duet_start node-a || return 1
	# node-a holds the primary: let it lead the first term (node-b would
	# hand leadership over anyway; this only saves a transfer)
	rig_wait 10 "node-a leads" duet_is node-a '.role == "leader"' || return 1
	duet_start node-b || return 1
	rig_wait 20 "node-a is acting master" duet_acting_master node-a || return 1
	rig_wait 20 "node-b is a committed SYNC standby" duet_sync_on node-a node-b || return 1
}

duet_writer_start() {
	DUET_ACKS=$RIG_DIR/acks.log
	DUET_WRITE_ERRORS=$RIG_DIR/write-errors.log
	rig_bg client "$RIG_DIR/writer.log" "$TESTS/pgprobe" write \
		--conninfo "host=$RIG_FIP port=$RIG_PG_PORT user=postgres dbname=postgres" \
		--out "$DUET_ACKS" --errors "$DUET_WRITE_ERRORS" \
		--interval-ms "${DUET_WRITE_INTERVAL_MS:-5}" \
		--timeout-ms "${DUET_WRITE_TIMEOUT_MS:-1000}" || return 1
	DUET_WRITER_PID=$RIG_BG_PID
}

duet_sampler_start() {
	DUET_SAMPLES=$RIG_DIR/samples.log
	rig_bg client "$RIG_DIR/sampler.log" "$TESTS/pgprobe" sample \
		--conninfo "host=$(rig_ip node-a) port=$RIG_PG_PORT user=postgres dbname=postgres" \
		--conninfo "host=$(rig_ip node-b) port=$RIG_PG_PORT user=postgres dbname=postgres" \
		--out "$DUET_SAMPLES" --interval-ms 50 || return 1
	DUET_SAMPLER_PID=$RIG_BG_PID
}

duet_probes_stop() {
	[ -n "$DUET_WRITER_PID" ] && rig_stop "$DUET_WRITER_PID" >/dev/null 2>&1
	[ -n "$DUET_SAMPLER_PID" ] && rig_stop "$DUET_SAMPLER_PID" >/dev/null 2>&1
	DUET_WRITER_PID=
	DUET_SAMPLER_PID=
}

duet__acks_from() {
	if [ -n "${1:-}" ]; then
		awk -v s="$1" '$3 == s' "$DUET_ACKS" 2>/dev/null | wc -l
	else
		wc -l <"$DUET_ACKS" 2>/dev/null || echo 0
	fi
}

duet__acks_at_least() {
	[ "$(duet__acks_from "${2:-}")" -ge "$1" ]
}

# duet_wait_acks N [SERVER] [SECS]: N more acknowledged writes (from SERVER)
duet_wait_acks() {
	local want=$1 server=${2:-} secs=${3:-30} have
	have=$(duet__acks_from "$server")
	rig_wait "$secs" "$want more acknowledged writes${server:+ from $server}" \
		duet__acks_at_least $((have + want)) "$server"
}

duet_verify() {
	rig_exec client "$TESTS/pgprobe" verify \
		--conninfo "host=$(rig_ip "$1") port=$RIG_PG_PORT user=postgres dbname=postgres" \
		--acks "${2:-$DUET_ACKS}"
}

# duet_wait_verify NODE [SECS]: duet_verify, retried for SECS (default 10):
# a synchronous standby has flushed every acknowledged commit but may not
# have replayed the last ones yet (synchronous_commit = on, not remote_apply)
duet_wait_verify() {
	rig_wait "${2:-10}" "every acknowledged id on $1" duet__verify_quiet "$1" ||
		{
			duet_verify "$1"
			return 1
		}
	duet_verify "$1"
}

duet__verify_quiet() {
	duet_verify "$1" >/dev/null 2>&1
}

# duet_write_failures T0 [T1]: how many write attempts failed (pgprobe write
# --errors) at mono_ns T0..T1 (T1 empty: until now); a write that waits for
# synchronous replication is not a failure
duet_write_failures() {
	local t0=$1 t1=${2:-} n=0 t rest
	if [ -f "$DUET_WRITE_ERRORS" ]; then
		while read -r t rest; do
			[[ "$t" =~ ^[0-9]+$ ]] || continue
			[ "$t" -ge "$t0" ] || continue
			[ -z "$t1" ] || [ "$t" -le "$t1" ] || continue
			n=$((n + 1))
		done <"$DUET_WRITE_ERRORS"
	fi
	echo "$n"
}

# duet_expect_takeover NEW OLD: NEW acts as master within 30 s, holds the FIP
# (OLD may still hold a stale one only on a fenced, down link) and
# acknowledges 50 writes; prints what it saw on stdout, errors on stderr
duet_expect_takeover() {
	local new=$1 old=$2 holders
	rig_wait 30 "$new is acting master" duet_acting_master "$new" || {
		echo "$new did not take over" >&2
		return 1
	}
	holders=$(rig_fip_holder | tr '\n' ' ')
	case " $holders " in
	*" $new "*) ;;
	*)
		echo "FIP holders: '$holders', $new is not among them" >&2
		return 1
		;;
	esac
	case " $holders " in
	*" $old "*)
		# a node killed with kill -9 keeps its addresses; fencing took it
		# off the network (its link is down), which is what makes that safe
		rig_exec "$old" ip -o link show eth0 | grep -q "state DOWN\|NO-CARRIER" || {
			echo "$old still holds the FIP on a live link" >&2
			return 1
		}
		echo "$old's stale FIP sits on a fenced (down) link"
		;;
	esac
	duet_wait_acks 50 "$new" 30 || {
		echo "no writes acknowledged by $new" >&2
		return 1
	}
	echo "$new took over: $(duet_field "$new" '.last_takeover | "promoted \(.promoted_after_ms) ms, FIP \(.fip_after_ms) ms, ready \(.ready_after_ms) ms after leading"')"
}

# duet_unfence NODE: the rig's fencing takes NODE's eth0 down where a real
# one cuts the power; a node powered back has no FIP (addresses do not
# survive a reboot), so the stale FIP is deleted before the link comes up
duet_unfence() {
	ip -n "$(rig_ns "$1")" addr del "$RIG_FIP/24" dev eth0 2>/dev/null
	rig_nic_up "$1"
}

# duet_pg_standby_of NODE MASTER: NODE's PostgreSQL is in recovery and its
# WAL receiver streams from MASTER, which lists it as streaming
duet_pg_standby_of() {
	[ "$(rig_psql "$1" "SELECT pg_is_in_recovery()" 2>/dev/null)" = t ] || return 1
	[ "$(rig_psql "$1" "SELECT status || ' ' || sender_host FROM pg_stat_wal_receiver" \
		2>/dev/null)" = "streaming $(rig_ip "$2")" ] || return 1
	rig__pg_streaming "$2" "$1"
}

duet__pidfile() {
	echo "$RIG_DIR/$1/daemon.pid"
}

# duet_start_cmd NODE: a shell command that starts NODE's daemon in NODE's
# namespace in the background (its output appended to the usual log) and
# writes its pid to $RIG_DIR/NODE/daemon.pid; for duetctl rejoin --start
duet_start_cmd() {
	local n=$1 exe=duetd
	[ "$n" = witness ] && exe=duet-witness
	echo "ip netns exec $(rig_ns "$n") $BIN/$exe --config $RIG_DIR/$n.ini" \
		">>$RIG_DIR/$n/duetd.log 2>&1 </dev/null & echo \$! >$(duet__pidfile "$n")"
}

# duet_adopt NODE: the daemon started by duet_start_cmd's command becomes
# ours (DUET_PID, and rig_down stops it)
duet_adopt() {
	local f p
	f=$(duet__pidfile "$1")
	[ -s "$f" ] || return 1
	p=$(cat "$f")
	[[ "$p" =~ ^[0-9]+$ ]] || return 1
	rig__alive "$p" || return 1
	DUET_PID[$1]=$p
	echo "$p" >>"$RIG_DIR/pids"
}

# duet_rejoin_bg NODE OUT [ARGS...]: duetctl rejoin --yes of NODE, run in
# NODE's namespace in the background (pid in DUET_REJOIN_PID), starting its
# daemon with duet_start_cmd; stdout and stderr in OUT. ARGS: --why, --timeout...
duet_rejoin_bg() {
	local n=$1 out=$2
	shift 2
	rm -f "$(duet__pidfile "$n")"
	rig_exec "$n" "$BIN/duetctl" rejoin --config "$RIG_DIR/$n.ini" --yes \
		--start "$(duet_start_cmd "$n")" "$@" >"$out" 2>&1 </dev/null &
	DUET_REJOIN_PID=$!
	echo "$DUET_REJOIN_PID" >>"$RIG_DIR/pids"
}

# duet_rejoin_wait NODE: waits for duet_rejoin_bg's duetctl, adopts the
# daemon it started; returns duetctl's exit status
duet_rejoin_wait() {
	local rc=0
	wait "$DUET_REJOIN_PID" || rc=$?
	DUET_REJOIN_PID=
	if [ -z "${DUET_PID[$1]:-}" ] || ! rig__alive "${DUET_PID[$1]}"; then
		duet_adopt "$1"
	fi
	return "$rc"
}

# duet_rejoin NODE OUT [ARGS...]: both, in the foreground
duet_rejoin() {
	duet_rejoin_bg "$@" || return 1
	duet_rejoin_wait "$1"
}

# duet_audit_has NODE TYPE ERE: NODE's audit log (duetctl log --type TYPE,
# read from its store) has an entry matching the extended regex ERE
duet_audit_has() {
	"$BIN/duetctl" log --config "$RIG_DIR/$1.ini" --type "$2" 2>/dev/null | grep -Eqi "$3"
}

duet_check_samples() {
	"$TESTS/pgprobe" check-samples "$DUET_SAMPLES"
}
