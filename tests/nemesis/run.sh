#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run.sh - a Jepsen-style nemesis run of duet on the netns rig (issue 15,
# first slice), as root:
#
#   tests/nemesis/run.sh [--seed S] [--seconds N] [--bin BIN] [--tests TESTS]
#                        [--out DIR]
#
# The rig (tests/netns/duet_rig.sh: duetd on node-a and node-b with their own
# PostgreSQL 15 in synchronous replication, duet-witness, the manager, the
# FIP, fencing that takes the fenced node's link down) runs for N seconds
# (default 180) under a random schedule of faults drawn from seed S (default:
# the time), one fault at a time, each followed by the heal and the settling
# of the cluster (a master and a SYNC standby again):
#
#   kill_duetd NODE    kill -9 of a data node's duetd, started again after
#                      0.5-5 s (a fenced node instead: see "heal" below)
#   kill_pg NODE       kill -9 of every PostgreSQL process of a data node
#   pause_duetd NODE   SIGSTOP of a data node's duetd, SIGCONT after 0.5-5 s
#   partition A B      iptables drops everything between two members, 1-8 s
#   oneway A B         A drops what B sends it (INPUT only), 1-8 s
#   witness_lost       kill -9 of the witness, started again after 1-8 s
#   switchover         duetctl switchover, asked of the master
#
# The heal: every iptables rule removed, every paused daemon continued, the
# witness started; a node that the new master fenced (its link down) is
# powered back as after a power cut (everything on it killed, its stale FIP
# gone, link up) and brought back with `duetctl rejoin`, as is a data node
# that stays out of SYNC for 30 s (its daemon stopped first); a daemon that
# died is started; the PostgreSQL of a standby (standby.signal) killed
# under its running duetd (which does not start it again) is started once
# as at boot after 5 s (NEMESIS_PG_BOOT=0: not, the rejoin path instead). The run ends with the
# same heal and waits for a master and a SYNC standby.
#
# The same seed draws the same faults, targets (master or standby) and
# durations; which node is master when a fault comes depends on timing, so
# a replay may hit the other node.
#
# Clients: pgbench (PostgreSQL 15's own) in loops of short runs (-T 2, 2
# clients, NEMESIS_RATE transactions/s each, default 100), one through the
# FIP and one through HAProxy (in the client namespace, its own config and
# pid file: both servers checked with GET /master on port 8008;
# NEMESIS_HAPROXY=0: none), its custom script inserting one row per
# transaction whose key is (loop run, client id, the client's transaction
# number); pgbench's per-transaction log (--log) has one line for each
# transaction whose commit was acknowledged, naming the client and its
# transaction number: those keys are the acknowledged ones. A sampler
# (pgprobe sample) asks both servers every 50 ms whether they are primary.
#
# Then tests/nemesis/check.py checks the whole history (its --help says
# what) and prints the figures. The history is kept in DIR (default
# BIN/../nemesis/seed-S; an earlier run's history there is replaced, a DIR
# holding anything else is refused). Exit status: 0 every invariant held; 1 one did not
# (the seed and the command to replay it are printed); 2 usage.
#
# Environment: DUET_SLOW (the rig's deadlines multiplied), RIG_KEEP=1 (keep
# the rig's directory), NEMESIS_RATE (pgbench's -R, default 100),
# NEMESIS_PG_BOOT=0 (see the heal), NEMESIS_PLANT=lose_write (delete one
# acknowledged row on the final master before the check: the check must
# fail; for the test of the checker itself).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)

SEED=
SECONDS_RUN=180
BIN=$SRC/build/bin
TESTS=$SRC/build/tests
OUT=
usage() {
	sed -n '3,60p' "$0" | sed 's/^# \{0,1\}//'
}
while [ $# -gt 0 ]; do
	case "$1" in
	--seed) SEED=${2:-} && shift 2 ;;
	--seconds) SECONDS_RUN=${2:-} && shift 2 ;;
	--bin) BIN=${2:-} && shift 2 ;;
	--tests) TESTS=${2:-} && shift 2 ;;
	--out) OUT=${2:-} && shift 2 ;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		echo "run.sh: unknown argument '$1' (--help)" >&2
		exit 2
		;;
	esac
done
SEED=${SEED:-$(date +%s)}
[[ "$SEED" =~ ^[0-9]+$ ]] || {
	echo "run.sh: --seed takes a number" >&2
	exit 2
}
[[ "$SECONDS_RUN" =~ ^[0-9]+$ ]] && [ "$SECONDS_RUN" -gt 0 ] || {
	echo "run.sh: --seconds takes a positive number" >&2
	exit 2
}
BIN=$(cd "$BIN" && pwd) || exit 2
TESTS=$(cd "$TESTS" && pwd) || exit 2
export BIN TESTS
OUT=${OUT:-$(cd "$BIN/.." && pwd)/nemesis/seed-$SEED}
REPLAY="$0 --seed $SEED --seconds $SECONDS_RUN --bin $BIN --tests $TESTS"
for v in NEMESIS_PG_BOOT NEMESIS_RATE NEMESIS_HAPROXY NEMESIS_PLANT DUET_SLOW; do
	[ -n "${!v:-}" ] && REPLAY="$v=${!v} $REPLAY"
done

# a history left by an earlier run in DIR goes; anything else there stays
if [ -e "$OUT" ]; then
	if [ -f "$OUT/seed" ]; then
		rm -rf --one-file-system "$OUT"
	elif [ -n "$(ls -A "$OUT" 2>/dev/null)" ]; then
		echo "run.sh: $OUT exists and holds no nemesis history: choose another --out" >&2
		exit 2
	fi
fi

[ "$(id -u)" = 0 ] || {
	echo "run.sh: needs root (network namespaces, PostgreSQL as user postgres)" >&2
	exit 2
}

# shellcheck source=tests/netns/duet_rig.sh
source "$SRC/tests/netns/duet_rig.sh"
PGBENCH=$RIG_PGBIN/pgbench
[ -x "$PGBENCH" ] || {
	echo "run.sh: $PGBENCH is missing (postgresql-15)" >&2
	exit 2
}

RANDOM=$SEED
EVENTS=0
HIST=
HAPROXY_PID=
NEMESIS_RATE=${NEMESIS_RATE:-100}
NEMESIS_HAPROXY=${NEMESIS_HAPROXY:-1}
declare -A PAUSED=()

nem_now_ms() { rig__now_ms; }
say() { echo "nemesis [$(date -u +%H:%M:%S)] $*"; }
event() {
	EVENTS=$((EVENTS + 1))
	echo "$(nem_now_ms) $EVENTS $*" >>"$HIST/events.log"
	say "event $EVENTS: $*"
}

fail() {
	echo "FAIL [nemesis seed $SEED]: $*" >&2
	echo "replay: $REPLAY" >&2
	exit 1
}

# The seeded generator is bash's RANDOM, drawn in this shell only (a
# subshell's RANDOM is seeded anew): these set R instead of printing.
# rand LO HI: an integer in [LO, HI]
rand() { R=$(($1 + RANDOM % ($2 - $1 + 1))); }
# rand_s LO_MS HI_MS: seconds with a fraction, for sleep
rand_s() {
	rand "$1" "$2"
	R=$(printf '%d.%03d' $((R / 1000)) $((R % 1000)))
}
pick() {
	local a=("$@")
	R=${a[RANDOM % ${#a[@]}]}
}

rig_on_down() {
	nem_loop_stop
	local n
	for n in "${!PAUSED[@]}"; do
		kill -CONT "${PAUSED[$n]}" 2>/dev/null
	done
	if [ -n "$HIST" ] && [ -d "$HIST" ]; then
		mkdir -p "$OUT"
		cp -a "$HIST/." "$OUT/" 2>/dev/null
		for n in node-a node-b witness; do
			cp "$RIG_DIR/$n/duetd.log" "$OUT/$n.duetd.log" 2>/dev/null
		done
		for n in node-a node-b; do
			cp "$RIG_DIR/$n/pg.log" "$OUT/$n.pg.log" 2>/dev/null
		done
		cp "$RIG_DIR"/rejoin-*.out "$RIG_DIR"/switchover-*.out "$OUT/" 2>/dev/null
		[ -n "${DUET_SAMPLES:-}" ] && cp "$DUET_SAMPLES" "$OUT/samples.log" 2>/dev/null
		echo "nemesis: history kept in $OUT" >&2
	fi
	[ "$1" = 0 ] && return 0
	for n in node-a node-b witness; do
		echo "---- $n duetd log (last 30 lines)" >&2
		tail -n 30 "$RIG_DIR/$n/duetd.log" >&2 2>/dev/null
	done
	echo "FAIL [nemesis seed $SEED]; replay: $REPLAY" >&2
}

# ---------------------------------------------------------------- clients

PG_CI="user=postgres dbname=postgres connect_timeout=1 keepalives=1 \
keepalives_idle=1 keepalives_interval=1 keepalives_count=2 tcp_user_timeout=2000"

# nem_loop NAME HOST PORT BASE: a pgbench loop in the client namespace: run
# R (numbered from BASE + 1) inserts (R, client, n) with n the client's
# transaction number; the log names the acknowledged ones. A run that
# cannot connect ends at once: the loop paces its retries.
nem_loop() {
	local name=$1 host=$2 port=$3 r=$4 rc
	while [ ! -e "$HIST/stop" ]; do
		r=$((r + 1))
		timeout -k 2 30 ip netns exec "$(rig_ns client)" "$PGBENCH" -n -f "$HIST/insert.sql" \
			-c 2 -j 1 -T 2 -R "$NEMESIS_RATE" -D r=$r -D n=0 --log --log-prefix="$HIST/pgb/r$r" \
			"host=$host port=$port $PG_CI" >>"$HIST/pgbench-$name.out" 2>&1 </dev/null
		rc=$?
		echo "$name $r $rc $(nem_now_ms)" >>"$HIST/runs.log"
		# a retry's pace, not a wait for an event
		[ "$rc" = 0 ] || sleep 0.2
	done
}

# HAProxy in the client namespace (its own config and pid file): TCP to
# both servers, each checked with GET /master on its node's [http] port
# (200 on the master only); sessions to a server marked down are shut
HAPROXY_PORT=6432
nem_haproxy_start() {
	cat >"$HIST/haproxy.cfg" <<EOC
global
	pidfile $HIST/haproxy.pid
defaults
	mode tcp
	timeout connect 1s
	timeout client 30s
	timeout server 30s
listen pg
	bind $(rig_ip client):$HAPROXY_PORT
	option httpchk GET /master
	http-check expect status 200
	default-server inter 300ms fall 2 rise 2 on-marked-down shutdown-sessions
	server node-a $(rig_ip node-a):$RIG_PG_PORT check port 8008
	server node-b $(rig_ip node-b):$RIG_PG_PORT check port 8008
EOC
	rig_bg client "$HIST/haproxy.log" haproxy -db -f "$HIST/haproxy.cfg" || return 1
	HAPROXY_PID=$RIG_BG_PID
}

# the loops: through the FIP (runs 1, 2...) and, with HAProxy, through it
# (runs 1000001, 1000002...)
LOOP_PIDS=()
nem_loop_start() {
	mkdir -p "$HIST/pgb"
	cat >"$HIST/insert.sql" <<'EOF'
\set n :n + 1
INSERT INTO nemesis (r, c, n, srv) VALUES (:r, :client_id, :n, current_setting('cluster_name'));
EOF
	nem_loop fip "$RIG_FIP" "$RIG_PG_PORT" 0 &
	LOOP_PIDS+=($!)
	echo "$!" >>"$RIG_DIR/pids"
	if [ "$NEMESIS_HAPROXY" = 1 ]; then
		nem_loop haproxy "$(rig_ip client)" "$HAPROXY_PORT" 1000000 &
		LOOP_PIDS+=($!)
		echo "$!" >>"$RIG_DIR/pids"
	fi
}

nem_loop_stop() {
	local p
	[ ${#LOOP_PIDS[@]} -gt 0 ] || return 0
	touch "$HIST/stop"
	# the current runs end by themselves within their -T 2 (or timeout's 30 s)
	for p in "${LOOP_PIDS[@]}"; do
		rig_wait 40 "the pgbench loop to end" duet__dead "$p"
		wait "$p" 2>/dev/null
	done
	LOOP_PIDS=()
}

nem_acked() { cat "$HIST"/pgb/r* 2>/dev/null | wc -l; }
nem_acked_at_least() { [ "$(nem_acked)" -ge "$1" ]; }

# ---------------------------------------------------------------- state

nem_master() {
	local n
	for n in node-a node-b; do
		[ -n "${PAUSED[$n]:-}" ] && continue
		duet_acting_master "$n" && {
			echo "$n"
			return 0
		}
	done
	return 1
}

nem_fenced() { ! ip -n "$(rig_ns "$1")" -o link show eth0 | grep -q '[<,]UP[,>]'; }
nem_alive() { [ -n "${DUET_PID[$1]:-}" ] && rig__alive "${DUET_PID[$1]}"; }

# settled: a master, the other data node's duetd running, SYNC in the
# master's view and its PostgreSQL streaming from the master (a standby
# that just died is still SYNC until sync_timeout_ms), the witness running
nem_settled() {
	local m s
	nem_alive witness || return 1
	m=$(nem_master) || return 1
	s=$(duet__other "$m")
	nem_alive "$s" && duet_sync_on "$m" "$s" && duet_pg_standby_of "$s" "$m"
}

# nem_rejoin NODE: duetctl rejoin of NODE (its daemon stopped first)
REJOINS=0
nem_rejoin() {
	local n=$1 out rc
	REJOINS=$((REJOINS + 1))
	out=$RIG_DIR/rejoin-$REJOINS-$n.out
	if nem_alive "$n"; then
		duet_stop "$n" || duet_kill9 "$n"
	fi
	say "rejoin of $n"
	echo "$(nem_now_ms) rejoin $n" >>"$HIST/heals.log"
	duet_rejoin "$n" "$out" --why "nemesis seed $SEED" --timeout $((90 * RIG_SLOW))
	rc=$?
	say "rejoin of $n: exit $rc ($(tail -n 1 "$out"))"
	return "$rc"
}

# nem_power_back NODE: a fenced node powered back (rig: everything on it
# killed, the stale FIP gone, link up), then rejoined
nem_power_back() {
	say "$1 was fenced: powered back"
	echo "$(nem_now_ms) power_back $1" >>"$HIST/heals.log"
	duet_kill9_all "$1" 2>/dev/null
	PAUSED[$1]=
	duet_unfence "$1"
	nem_rejoin "$1"
}

# nem_boot_pg NODE: NODE's PostgreSQL started as at boot (its init system
# would): the lock files of a killed server go first when their process is
# dead or a zombie (a killed postmaster may linger as a zombie here)
nem_boot_pg() {
	say "$1's PostgreSQL is down under a running duetd: started as at boot"
	echo "$(nem_now_ms) boot_pg $1" >>"$HIST/heals.log"
	rm -f "$(rig_pg_datadir "$1")/postmaster.pid" "$RIG_DIR/$1/.s.PGSQL.$RIG_PG_PORT.lock"
	rig_pg_start "$1"
}

nem_heal_net() {
	local n
	for n in node-a node-b witness; do
		rig_heal "$n"
	done
	for n in "${!PAUSED[@]}"; do
		[ -n "${PAUSED[$n]}" ] && kill -CONT "${PAUSED[$n]}" 2>/dev/null
	done
	PAUSED=()
}

# nem_settle SECS: heal until settled (fail after SECS)
nem_settle() {
	local deadline=$(($(nem_now_ms) + $1 * 1000 * RIG_SLOW)) n m since
	local -A booted=()
	nem_heal_net
	since=$(nem_now_ms)
	while ! nem_settled; do
		[ "$(nem_now_ms)" -lt "$deadline" ] ||
			fail "the cluster did not settle within $1 s: node-a $(duet_field node-a \
'.acting + " " + .role') node-b $(duet_field node-b '.acting + " " + .role')"
		nem_alive witness || duet_start witness
		for n in node-a node-b; do
			if nem_fenced "$n"; then
				nem_power_back "$n"
				since=$(nem_now_ms)
			elif ! nem_alive "$n"; then
				say "$n's duetd is down: started"
				echo "$(nem_now_ms) start $n" >>"$HIST/heals.log"
				duet_start "$n"
				since=$(nem_now_ms)
			elif [ "${NEMESIS_PG_BOOT:-1}" = 1 ] && [ -z "${booted[$n]:-}" ] &&
				! rig_pg_pid "$n" >/dev/null &&
				[ -e "$(rig_pg_datadir "$n")/standby.signal" ] &&
				[ $(($(nem_now_ms) - since)) -ge $((5000 * RIG_SLOW)) ] &&
				[ "$(nem_master)" = "$(duet__other "$n")" ]; then
				nem_boot_pg "$n"
				booted[$n]=1
				since=$(nem_now_ms)
			fi
		done
		if [ $(($(nem_now_ms) - since)) -ge $((30000 * RIG_SLOW)) ] && m=$(nem_master); then
			n=$(duet__other "$m")
			say "$n is not SYNC after 30 s: $(duet_field "$m" '.members | tostring')"
			nem_rejoin "$n"
			since=$(nem_now_ms)
		fi
		sleep 0.2
	done
}

# ---------------------------------------------------------------- faults

f_kill_duetd() {
	local n=$1
	event "kill_duetd $n"
	duet_kill9 "$n"
	rand_s 500 5000
	sleep "$R"
	nem_fenced "$n" || duet_start "$n"
}

f_kill_pg() {
	event "kill_pg $1"
	rig_pg_kill "$1" all
	rand_s 500 5000
	sleep "$R"
}

f_pause_duetd() {
	local n=$1 pid=${DUET_PID[$1]:-}
	event "pause_duetd $n"
	[ -n "$pid" ] || return 0
	kill -STOP "$pid"
	PAUSED[$n]=$pid
	rand_s 500 5000
	sleep "$R"
	kill -CONT "$pid"
	PAUSED[$n]=
}

f_partition() {
	event "partition $1 $2"
	rig_cut "$1" "$2"
	rand_s 1000 8000
	sleep "$R"
	rig_heal "$1"
}

f_oneway() {
	event "oneway $1 $2 ($1 drops what $2 sends)"
	rig_cut_in "$1" "$2"
	rand_s 1000 8000
	sleep "$R"
	rig_heal "$1"
}

f_witness_lost() {
	event "witness_lost"
	duet_kill9 witness
	rand_s 1000 8000
	sleep "$R"
	duet_start witness
}

f_switchover() {
	local m=$1 out=$RIG_DIR/switchover-$EVENTS.out rc
	event "switchover from $m"
	"$BIN/duetctl" switchover --config "$RIG_DIR/$m.ini" --why "nemesis seed $SEED" \
		--timeout $((60 * RIG_SLOW)) >"$out" 2>&1
	rc=$?
	say "switchover: exit $rc ($(tail -n 1 "$out"))"
	echo "$(nem_now_ms) switchover_rc $rc" >>"$HIST/heals.log"
}

# one fault of the schedule, against the roles of now
nem_fault() {
	local m s members=(node-a node-b witness) a b
	m=$(nem_master) || m=node-a
	s=$(duet__other "$m")
	pick "$m" "$s"
	case $((RANDOM % 7)) in
	0) f_kill_duetd "$R" ;;
	1) f_kill_pg "$R" ;;
	2) f_pause_duetd "$R" ;;
	3 | 4)
		pick "${members[@]}"
		a=$R
		b=$a
		while [ "$b" = "$a" ]; do
			pick "${members[@]}"
			b=$R
		done
		if [ $((RANDOM % 2)) = 0 ]; then f_partition "$a" "$b"; else f_oneway "$a" "$b"; fi
		;;
	5) f_witness_lost ;;
	6) f_switchover "$m" ;;
	esac
}

# ---------------------------------------------------------------- the run

say "seed $SEED, $SECONDS_RUN s; replay: $REPLAY"
duet_up "" || fail "the cluster did not come up"
HIST=$RIG_DIR/nemesis
mkdir -p "$HIST"
echo "$SEED" >"$HIST/seed"
rig_psql node-a "CREATE TABLE nemesis (r int, c int, n int, srv text,
	ts timestamptz DEFAULT clock_timestamp(), PRIMARY KEY (r, c, n))" ||
	fail "create the table"
duet_sampler_start || fail "sampler"
if [ "$NEMESIS_HAPROXY" = 1 ]; then
	command -v haproxy >/dev/null || fail "haproxy is missing (apt-get install haproxy)"
	nem_haproxy_start || fail "haproxy"
fi
nem_loop_start
rig_wait 30 "pgbench writes through the FIP" nem_acked_at_least 100 ||
	fail "no write acknowledged: $(tail -n 5 "$HIST/pgbench-fip.out")"
say "pgbench acknowledges writes through the FIP on node-a"
T_END=$(($(nem_now_ms) + SECONDS_RUN * 1000))
while [ "$(nem_now_ms)" -lt "$T_END" ]; do
	nem_fault
	nem_settle 150
	# some writes between two faults
	rig_wait 30 "writes after the heal" nem_acked_at_least $(($(nem_acked) + 20)) ||
		say "no write acknowledged within 30 s of the heal"
done
say "the schedule ends: heal, wait for a master and a SYNC standby"
nem_settle 180
M=$(nem_master) || fail "no master at the end"
S=$(duet__other "$M")
rig_wait 30 "writes acknowledged by the final master" nem_acked_at_least $(($(nem_acked) + 50)) ||
	fail "the final master $M acknowledges no write"
nem_loop_stop
duet_probes_stop
[ -n "$HAPROXY_PID" ] && rig_stop "$HAPROXY_PID" >/dev/null 2>&1

# the history: rows on both servers (the standby replayed up to the master's
# LSN at the end), audit logs, figures for the checker
lsn=$(rig_psql "$M" "SELECT pg_current_wal_lsn()")
rig_wait 30 "$S replays up to $lsn" eval \
	"[ \"\$(rig_psql $S \"SELECT pg_last_wal_replay_lsn() >= '$lsn'\")\" = t ]" ||
	say "the standby did not replay up to $lsn"
if [ "${NEMESIS_PLANT:-}" = lose_write ]; then
	k=$(cat "$HIST"/pgb/r* | head -n 1)
	r=$(ls "$HIST"/pgb | head -n 1 | sed 's/^r\([0-9]*\)\..*/\1/')
	say "planted failure: one acknowledged row deleted on $M (run $r, client ${k%% *})"
	rig_psql "$M" "DELETE FROM nemesis WHERE (r, c, n) = (SELECT r, c, n FROM nemesis
		WHERE r = $r AND c = ${k%% *} ORDER BY n LIMIT 1)" || fail "plant"
fi
for n in "$M" "$S"; do
	rig_psql "$n" "COPY (SELECT r, c, n, srv, extract(epoch FROM ts) FROM nemesis) TO STDOUT" \
		>"$HIST/rows.$n" || fail "read the rows of $n"
done
echo "$M" >"$HIST/final_master"
cp "$DUET_SAMPLES" "$HIST/samples.log"
for n in node-a node-b; do
	cp "$RIG_DIR/$n/pg.log" "$HIST/$n.pg.log"
done
for n in node-a node-b witness; do
	"$BIN/duetctl" log --config "$RIG_DIR/$n.ini" --json >"$HIST/audit.$n.json" 2>&1
	"$BIN/duetctl" log --config "$RIG_DIR/$n.ini" --verify >"$HIST/verify.$n" 2>&1
	echo $? >"$HIST/verify.$n.rc"
done
echo "$EVENTS" >"$HIST/nemesis_events"
python3 "$HERE/check.py" "$HIST"
rc=$?
duet_stop_all || {
	echo "a daemon reported a sanitizer error" >&2
	rc=1
}
if [ "$rc" != 0 ]; then
	echo "FAIL [nemesis seed $SEED]: an invariant failed (above)" >&2
	echo "replay: $REPLAY" >&2
	exit 1
fi
echo "PASS [nemesis seed $SEED]: $EVENTS events in $SECONDS_RUN s"
exit 0
