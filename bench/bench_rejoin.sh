#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench_rejoin.sh - build/bin/bench-rejoin's driver: rejoin figures on the
# netns rig (tests/netns/duet_rig.sh), one "name: value" a line.
#
# One rig (two duetd with their PostgreSQL 15 in synchronous replication,
# duet-witness, the manager, the FIP); pgbench -i -s SCALE on the master
# (scale 70: about 1 GiB), node-b a SYNC standby again; the writer of the
# tests (pgprobe write through the FIP, every 5 ms) runs from then on. Then:
#
#   raw_basebackup_s   pg_basebackup -X stream -c fast (duet's flags) from
#                      the master into a scratch directory, run in the
#                      standby's namespace as postgres; the directory is
#                      deleted
#   rejoin_s           the standby loses everything (duetd stopped,
#                      PostgreSQL stopped, LMDB store and data directory
#                      emptied), then duetctl rejoin --yes --start ... until
#                      it exits 0: it is a SYNC standby again
#                      (raw, rejoin, raw, ... raw: each the median of its runs)
#   rejoin_over_basebackup   rejoin_s / raw_basebackup_s (target: <= 1.2)
#   rejoin_failed_writes     write attempts that failed during the rejoin
#   replay_1m_entries_s      bench-replay's line (LMDB catch-up of 1M entries)
#   switchover_unavailable_ms_p50 / _max   with duetctl switchover: N
#                      switchovers back and forth with the writer running;
#                      for each, the longest gap between consecutive
#                      acknowledged writes around it
#
# Options: --scale N (default 70), --runs N (rejoins, default 3),
# --switchovers N (default 10; 0: skip), --link-mbit N (shape the links
# between the machines with tc to N Mbit/s, e.g. 1000 for a gigabit LAN;
# default: the veth pairs' own speed, several Gbit/s, which makes the
# copy unusually short next to rejoin's fixed costs),
# --rejoin-timeout S (one rejoin's deadline; default 600 + 10 x scale),
# --keep (keep the rig's directory), --check (exit 1 unless every figure
# line has a number: the ctest smoke). RIG_TMP is where the rig lives; it
# needs about 4 x the database size free.
#
# Before it breaks a node or copies from one, the bench asks both nodes
# which one acts as master (a failover may have moved the role: it wipes
# the standby, whichever that is). Every wait has a deadline: with no
# master, a rejoin or a switchover that does not end, or a tool that hangs,
# it says what it waited for and exits 1.
set -uo pipefail

BIN=
TESTS=
SCALE=70
SWITCHOVERS=10
RUNS=3
LINK_MBIT=
REJOIN_TIMEOUT=
CHECK=0
while [ $# -gt 0 ]; do
	case "$1" in
	--bin)
		BIN=$2
		shift
		;;
	--tests)
		TESTS=$2
		shift
		;;
	--scale)
		SCALE=$2
		shift
		;;
	--switchovers)
		SWITCHOVERS=$2
		shift
		;;
	--runs)
		RUNS=$2
		shift
		;;
	--link-mbit)
		LINK_MBIT=$2
		shift
		;;
	--rejoin-timeout)
		REJOIN_TIMEOUT=$2
		shift
		;;
	--keep) export RIG_KEEP=1 ;;
	--check) CHECK=1 ;;
	--help | -h)
		awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
		exit 0
		;;
	*)
		echo "bench-rejoin: unknown argument '$1'; see --help" >&2
		exit 2
		;;
	esac
	shift
done
if [ -z "$BIN" ] || [ -z "$TESTS" ]; then
	echo "bench-rejoin: --bin DIR and --tests DIR are required (build/bin/bench-rejoin passes them)" >&2
	exit 2
fi
case "$SCALE" in '' | *[!0-9]* | 0)
	echo "bench-rejoin: --scale takes a positive number" >&2
	exit 2
	;;
esac
case "$RUNS" in '' | *[!0-9]* | 0)
	echo "bench-rejoin: --runs takes a positive number" >&2
	exit 2
	;;
esac
case "$LINK_MBIT" in *[!0-9]* | 0)
	echo "bench-rejoin: --link-mbit takes a positive number" >&2
	exit 2
	;;
esac
case "$REJOIN_TIMEOUT" in *[!0-9]* | 0)
	echo "bench-rejoin: --rejoin-timeout takes a positive number of seconds" >&2
	exit 2
	;;
esac
REJOIN_TIMEOUT=${REJOIN_TIMEOUT:-$((600 + 10 * SCALE))}
# a tool's deadline: pgbench -i and one raw copy (seconds)
TOOL_TIMEOUT=$REJOIN_TIMEOUT
case "$SWITCHOVERS" in '' | *[!0-9]*)
	echo "bench-rejoin: --switchovers takes a number" >&2
	exit 2
	;;
esac
[ "$(id -u)" = 0 ] || {
	echo "bench-rejoin: needs root (network namespaces, PostgreSQL as user postgres)" >&2
	exit 1
}
BIN=$(cd "$BIN" && pwd)
TESTS=$(cd "$TESTS" && pwd)
export BIN TESTS
HERE=$(cd "$(dirname "$0")" && pwd)
RIG_LIB=$HERE/../tests/netns/duet_rig.sh
OUT=$(mktemp -d /tmp/duet-bench-rejoin.XXXXXX)
trap 'rm -rf "$OUT"' EXIT

log() { echo "bench-rejoin: $*" >&2; }

# seconds between two mono_ns readings, 3 decimals
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", (b - a) / 1e9 }'; }

percentile() { # P < file of numbers: nearest-rank percentile
	sort -n | awk -v p="$1" '{v[NR] = $1} END {
		if (NR == 0) { print "n/a"; exit }
		r = int((p / 100) * NR + 0.999999); if (r < 1) r = 1; if (r > NR) r = NR
		print v[r] }'
}

# The rig part, in a subshell so that the rig is torn down by its own EXIT
# trap; figures go to $OUT/figures as "name: value" lines.
(
	# shellcheck source=tests/netns/duet_rig.sh
	source "$RIG_LIB"
	fig() { echo "$1: $2" >>"$OUT/figures"; }
	die() {
		log "$*"
		for f in "$RIG_DIR"/bench-rejoin.out "$RIG_DIR/node-b/duetd.log"; do
			[ -f "$f" ] && {
				log "---- $f (last 30 lines)"
				tail -n 30 "$f" >&2
			}
		done
		exit 1
	}
	now() { "$TESTS/pgprobe" now; }
	pgbin=$RIG_PGBIN
	[ -x "$pgbin/pgbench" ] || pgbin=/usr/lib/postgresql/15/bin

	# the node acting as master now, on stdout; exit 1 (with a message)
	# unless exactly one acts within 60 s
	the_master() {
		local n found
		if ! rig_wait 60 "one node acting as master" duet__one_master >/dev/null 2>&1; then
			log "no node acts as master after 60 s: node-a $(duet_field node-a \
				'"\(.acting), log names \(.master.node // "none")"'), node-b $(duet_field \
				node-b '"\(.acting): \(.why_not_master)"')"
			return 1
		fi
		for n in node-a node-b; do
			duet_acting_master "$n" && found=$n
		done
		echo "$found"
	}
	duet__one_master() {
		local a=0 b=0
		duet_acting_master node-a && a=1
		duet_acting_master node-b && b=1
		[ $((a + b)) = 1 ]
	}

	duet_up "" >/dev/null 2>&1 || die "the cluster did not come up"
	log "rig in $RIG_DIR; pgbench -i -s $SCALE on node-a"
	t0=$(now)
	(cd / && rig_exec node-a timeout "$TOOL_TIMEOUT" "$pgbin/pgbench" -i -s "$SCALE" -q \
		-h "$RIG_DIR/node-a" -p "$RIG_PG_PORT" -U postgres postgres) >"$RIG_DIR/pgbench.log" 2>&1 ||
		die "pgbench -i failed or took over $TOOL_TIMEOUT s: $(tail -n 5 "$RIG_DIR/pgbench.log")"
	t1=$(now)
	bytes=$(rig_psql node-a "SELECT pg_database_size('postgres')") || die "database size"
	fig scale "$SCALE"
	fig database_mib $((bytes / 1048576))
	fig pgbench_init_s "$(secs "$t0" "$t1")"
	rig_wait 120 "node-b a SYNC standby" duet_sync_on node-a node-b >/dev/null 2>&1 ||
		die "node-b is not a SYNC standby after pgbench -i"
	if [ -n "$LINK_MBIT" ]; then
		# every bridge port's egress: each direction between two machines
		# crosses one of them at most N Mbit/s (after pgbench -i: the
		# copies are what is measured)
		for port in va vb vw vc; do
			tc -n "$(rig_ns hub)" qdisc add dev "$port" root tbf rate "${LINK_MBIT}mbit" \
				burst 1mb latency 50ms || die "tc on $port"
		done
		fig link_mbit "$LINK_MBIT"
	fi
	duet_writer_start || die "writer"
	duet_wait_acks 100 node-a 30 >/dev/null 2>&1 || die "no writes through the FIP"

	# raw pg_basebackup, as duet runs it (-X stream -c fast), from the master
	# into a scratch directory on the standby, as postgres in the standby's
	# namespace; prints the seconds it took
	raw_basebackup() {
		local m o scratch t0 t1
		m=$(the_master) || die "raw pg_basebackup: no master to copy from"
		o=$(duet__other "$m")
		scratch=$RIG_DIR/$o/scratch
		mkdir -m 0700 "$scratch" || die "mkdir $scratch"
		chown postgres:postgres "$scratch" || die "chown $scratch"
		t0=$(now)
		(cd / && rig_exec "$o" timeout "$TOOL_TIMEOUT" runuser -u postgres -- \
			"$RIG_PGBIN/pg_basebackup" -D "$scratch" \
			-d "host=$(rig_ip "$m") port=$RIG_PG_PORT user=postgres dbname=postgres" \
			-X stream -c fast --no-password) >>"$RIG_DIR/raw-basebackup.log" 2>&1 ||
			die "pg_basebackup from $m failed or took over $TOOL_TIMEOUT s: \
$(tail -n 5 "$RIG_DIR/raw-basebackup.log")"
		t1=$(now)
		log "raw pg_basebackup: $(secs "$t0" "$t1") s ($(du -sm "$scratch" | cut -f1) MiB)"
		rm -rf "${scratch:?}"
		secs "$t0" "$t1"
	}

	# the empty_disk pattern on the standby (whichever node that is now),
	# then duetctl rejoin; appends "rejoin_s pg_rebuild_s failed_writes" to
	# $OUT/rejoins. Not in a subshell: the daemon that duetctl rejoin starts
	# is adopted (DUET_PID)
	wiped_rejoin() {
		local m o d t0 t1 rc rj
		m=$(the_master) || die "no master: not breaking a node"
		o=$(duet__other "$m")
		duet_sync_on "$m" "$o" ||
			rig_wait 120 "$o a SYNC standby of $m" duet_sync_on "$m" "$o" >/dev/null 2>&1 ||
			die "$o is not a SYNC standby of $m: not breaking it"
		duet_stop "$o" || die "stop $o's daemon"
		rig_pg_stop "$o" || die "stop $o's PostgreSQL"
		rm -rf "${RIG_DIR:?}/$o/duet"
		d=$(rig_pg_datadir "$o")
		rm -rf "${d:?}"
		mkdir -m 0700 "$d" || die "mkdir $d"
		chown postgres:postgres "$d" || die "chown $d"
		# what a replaced disk leaves: no old store next to the new one
		rm -rf "$RIG_DIR/$o"/duet.old-* "$RIG_DIR/$o"/pg.old-*
		log "$o wiped (the master is $m); duetctl rejoin"
		t0=$(now)
		duet_rejoin "$o" "$RIG_DIR/bench-rejoin.out" --why "bench-rejoin" \
			--timeout "$REJOIN_TIMEOUT"
		rc=$?
		t1=$(now)
		[ "$rc" = 0 ] || die "duetctl rejoin of $o exited $rc (deadline $REJOIN_TIMEOUT s)"
		m=$(the_master) || die "no master after the rejoin of $o"
		[ "$m" != "$o" ] || die "$o, just rejoined, acts as master"
		duet_sync_on "$m" "$o" || die "$o is not SYNC after the rejoin"
		rj=$(secs "$t0" "$t1")
		log "rejoin: $rj s; $o's .pg_rebuild: $(duet_field "$o" '.pg_rebuild | tostring')"
		echo "$rj $(duet_field "$o" '.pg_rebuild.elapsed_ms / 1000') \
$(duet_write_failures "$t0" "$t1")" >>"$OUT/rejoins"
	}

	# raw, rejoin, raw, rejoin... raw: each figure is the median of its runs
	# (this machine's page cache and writeback make single copies noisy)
	: >"$OUT/raw"
	: >"$OUT/rejoins"
	for i in $(seq 1 "$RUNS"); do
		raw_basebackup >>"$OUT/raw" || exit 1
		wiped_rejoin
	done
	raw_basebackup >>"$OUT/raw" || exit 1
	cut -d' ' -f1 "$OUT/rejoins" >"$OUT/rejoin"
	cut -d' ' -f2 "$OUT/rejoins" >"$OUT/rebuild"
	failed=$(awk '{ n += $3 } END { print n + 0 }' "$OUT/rejoins")
	raw=$(percentile 50 <"$OUT/raw")
	rj=$(percentile 50 <"$OUT/rejoin")
	fig raw_basebackup_s "$raw"
	fig raw_basebackup_runs_s "$(tr '\n' ' ' <"$OUT/raw" | sed 's/ $//')"
	fig rejoin_s "$rj"
	fig rejoin_runs_s "$(tr '\n' ' ' <"$OUT/rejoin" | sed 's/ $//')"
	fig rejoin_pg_rebuild_s "$(percentile 50 <"$OUT/rebuild")"
	fig rejoin_over_basebackup "$(awk -v a="$rj" -v b="$raw" 'BEGIN { printf "%.2f\n", a / b }')"
	fig rejoin_failed_writes "$failed"

	# ---- switchover_unavailable_ms_p50 (duetctl switchover) ----
	if [ "$SWITCHOVERS" -gt 0 ] && "$BIN/duetctl" switchover --help >/dev/null 2>&1; then
		: >"$OUT/gaps"
		for i in $(seq 1 "$SWITCHOVERS"); do
			master=$(the_master) || die "switchover $i: no master"
			to=$(duet__other "$master")
			duet_wait_acks 50 "$master" 30 >/dev/null 2>&1 ||
				die "switchover $i: no writes acknowledged by $master"
			t0=$(now)
			"$BIN/duetctl" switchover --to "$to" --why "bench-rejoin $i" \
				--config "$RIG_DIR/$master.ini" --timeout 600 >"$RIG_DIR/switchover.out" 2>&1 ||
				die "switchover $i ($master -> $to) failed: $(tail -n 5 "$RIG_DIR/switchover.out")"
			duet_wait_acks 50 "$to" 30 >/dev/null 2>&1 ||
				die "switchover $i: no writes acknowledged by $to"
			t1=$(now)
			# the longest gap between consecutive acks from the last one
			# before t0 to the first one after t1
			gap=$(awk -v a="$t0" -v b="$t1" '
				{ t = $2 + 0 }
				t < a { prev = t; next }
				{ if (prev != "" && t - prev > g) g = t - prev; prev = t }
				t > b { exit }
				END { printf "%d\n", g / 1e6 }' "$DUET_ACKS")
			echo "$gap" >>"$OUT/gaps"
			log "switchover $i: $master -> $to, writes stalled $gap ms at most"
		done
		fig switchovers "$SWITCHOVERS"
		fig switchover_unavailable_ms_p50 "$(percentile 50 <"$OUT/gaps")"
		fig switchover_unavailable_ms_max "$(sort -n "$OUT/gaps" | tail -n 1)"
	elif [ "$SWITCHOVERS" -gt 0 ]; then
		fig switchover_unavailable_ms_p50 "n/a (duetctl switchover not built)"
	fi
	duet_probes_stop
	master=$(the_master) || die "no master at the end"
	lost=$(duet_verify "$master" 2>/dev/null | sed -n 's/.*lost=\([0-9]*\).*/\1/p')
	fig lost_acked_writes "${lost:-unknown}"
	duet_stop_all || die "a daemon reported a sanitizer error"
) || exit 1

cat "$OUT/figures"

# replay_1m_entries_s: bench-replay's line, as it prints it
if [ -x "$BIN/bench-replay" ]; then
	line=$(timeout 600 "$BIN/bench-replay" 2>"$OUT/replay.err" | grep -m1 '^replay_1m_entries_s')
	if [ -n "$line" ]; then
		echo "$line"
	else
		log "bench-replay printed no replay_1m_entries_s line: $(tail -n 3 "$OUT/replay.err")"
		echo "replay_1m_entries_s: n/a (bench-replay failed)"
	fi
else
	echo "replay_1m_entries_s: n/a (bench-replay not built)"
fi | tee -a "$OUT/figures"

if [ "$CHECK" = 1 ]; then
	bad=0
	for name in raw_basebackup_s rejoin_s rejoin_over_basebackup rejoin_failed_writes \
		replay_1m_entries_s lost_acked_writes; do
		grep -Eq "^$name: [0-9]+(\.[0-9]+)?$" "$OUT/figures" || {
			log "no '$name: N' line"
			bad=1
		}
	done
	if [ "$SWITCHOVERS" -gt 0 ] && "$BIN/duetctl" switchover --help >/dev/null 2>&1; then
		grep -Eq "^switchover_unavailable_ms_p50: [0-9]+$" "$OUT/figures" || {
			log "no 'switchover_unavailable_ms_p50: N' line"
			bad=1
		}
	fi
	exit $bad
fi
