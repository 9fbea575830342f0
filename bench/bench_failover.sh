#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench_failover.sh - build/bin/bench-failover's driver: failover figures on
# the netns rig (tests/netns/duet_rig.sh), one "name: value" a line.
#
# Each run builds a fresh rig (two duetd with their PostgreSQL 15 in
# synchronous replication, duet-witness, the manager, the FIP), starts the
# writer in the client namespace (a new id per INSERT through the FIP, every
# acknowledged id recorded with its monotonic time), waits for 100 acks,
# then kill -9s everything on the master (duetd, postgres, manager) and
# measures, from the kill, on the one monotonic clock of this machine:
#
#   detect_ms   the standby leads (its status: last_takeover_mono_ms.leader)
#   promote_ms  its PostgreSQL answered as primary after pg_promote
#   fip_ms      the FIP was added and announced
#   total_ms    the first write acknowledged through the FIP by the new master
#   lost_acked_writes  acknowledged ids missing on the new master (pgprobe verify)
#
# The writer gives each connection attempt 200 ms (DUET_WRITE_TIMEOUT_MS) and
# inserts every 5 ms; total_ms includes its reconnect.
#
# Options: --runs N (default 10), --stress-minutes M (0: skip; else the
# cluster runs M minutes with the writer while stress-ng saturates both
# cores, and failovers_under_stress counts MASTER changes), --keep.
set -uo pipefail

BIN=
TESTS=
RUNS=10
STRESS_MIN=0
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
	--runs)
		RUNS=$2
		shift
		;;
	--stress-minutes)
		STRESS_MIN=$2
		shift
		;;
	--keep) export RIG_KEEP=1 ;;
	--help | -h)
		sed -n '3,24p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "bench-failover: unknown argument '$1'; see --help" >&2
		exit 2
		;;
	esac
	shift
done
if [ -z "$BIN" ] || [ -z "$TESTS" ]; then
	echo "bench-failover: --bin DIR and --tests DIR are required (build/bin/bench-failover passes them)" >&2
	exit 2
fi
case "$RUNS" in '' | *[!0-9]* | 0)
	echo "bench-failover: --runs takes a positive number" >&2
	exit 2
	;;
esac
[ "$(id -u)" = 0 ] || {
	echo "bench-failover: needs root (network namespaces, PostgreSQL as user postgres)" >&2
	exit 1
}
# the writer is a client that retries: each connect attempt gets 200 ms (an
# attempt that went to the dead master's MAC before the gratuitous ARP would
# otherwise hold the measurement for pgprobe's default 1 s)
export DUET_WRITE_TIMEOUT_MS=${DUET_WRITE_TIMEOUT_MS:-200}
export BIN TESTS
HERE=$(cd "$(dirname "$0")" && pwd)
RIG_LIB=$HERE/../tests/netns/duet_rig.sh
OUT=$(mktemp -d /tmp/duet-bench-failover.XXXXXX)
trap 'rm -rf "$OUT"' EXIT

log() { echo "bench-failover: $*" >&2; }

# one run, in a subshell so that its rig is torn down by its own EXIT trap;
# prints "detect promote fip total lost"
one_run() {
	(
		# shellcheck source=tests/netns/duet_rig.sh
		source "$RIG_LIB"
		duet_up >/dev/null 2>&1 || {
			log "the cluster did not come up"
			exit 1
		}
		duet_writer_start && duet_wait_acks 100 node-a 30 >/dev/null 2>&1 || {
			log "no writes through the FIP"
			exit 1
		}
		t0=$("$TESTS/pgprobe" now)
		duet_kill9_all node-a
		rig_wait 60 "node-b acts as master" duet_acting_master node-b >/dev/null 2>&1 || {
			log "node-b did not take over"
			exit 1
		}
		rig_wait 30 "a write acknowledged by node-b" duet__acks_at_least 1 node-b \
			>/dev/null 2>&1 || {
			log "no write acknowledged by node-b"
			exit 1
		}
		st=$(duet_status node-b)
		duet_probes_stop
		first=$("$TESTS/pgprobe" first-ack-after --acks "$DUET_ACKS" --after-ns "$t0" \
			--server node-b)
		lost=$(duet_verify node-b 2>/dev/null | sed -n 's/.*lost=\([0-9]*\).*/\1/p')
		t0_ms=$((t0 / 1000000))
		echo "$st" | jq -r --argjson t0 "$t0_ms" --argjson first "$((first / 1000000))" \
			--arg lost "${lost:-unknown}" \
			'.last_takeover_mono_ms | "\(.leader - $t0) \(.promoted - $t0) \(.fip - $t0) \($first - $t0) \($lost)"'
	)
}

percentile() { # P < file of numbers: nearest-rank percentile
	sort -n | awk -v p="$1" '{v[NR] = $1} END {
		if (NR == 0) { print "n/a"; exit }
		r = int((p / 100) * NR + 0.999999); if (r < 1) r = 1; if (r > NR) r = NR
		print v[r] }'
}

lost_total=0
for i in $(seq 1 "$RUNS"); do
	line=$(one_run) || {
		log "run $i failed"
		exit 1
	}
	read -r detect promote fip total lost <<<"$line"
	echo "$detect" >>"$OUT/detect"
	echo "$promote" >>"$OUT/promote"
	echo "$fip" >>"$OUT/fip"
	echo "$total" >>"$OUT/total"
	if [ "$lost" = unknown ]; then
		log "run $i: pgprobe verify gave no figure"
		exit 1
	fi
	lost_total=$((lost_total + lost))
	log "run $i: detect ${detect} ms, promote ${promote} ms, FIP ${fip} ms, first write ${total} ms, lost $lost"
done

echo "runs: $RUNS"
echo "detect_ms_p50: $(percentile 50 <"$OUT/detect")"
echo "promote_ms_p50: $(percentile 50 <"$OUT/promote")"
echo "fip_ms_p50: $(percentile 50 <"$OUT/fip")"
echo "total_ms_p50: $(percentile 50 <"$OUT/total")"
echo "total_ms_p99: $(percentile 99 <"$OUT/total")"
echo "lost_acked_writes: $lost_total"

if [ "$STRESS_MIN" != 0 ]; then
	command -v stress-ng >/dev/null || {
		log "stress-ng is missing (scripts/install-deps.sh)"
		exit 1
	}
	(
		# shellcheck source=tests/netns/duet_rig.sh
		source "$RIG_LIB"
		duet_up >/dev/null 2>&1 || exit 1
		duet_writer_start && duet_wait_acks 100 node-a 30 >/dev/null 2>&1 || exit 1
		idx0=$(duet_field node-a .master.since_index)
		terms0=$(duet_field node-a .term)
		log "stress-ng --cpu 2 for $STRESS_MIN minutes next to the cluster and the writer"
		stress-ng --cpu 2 --timeout "${STRESS_MIN}m" >/dev/null 2>&1
		acked=$(wc -l <"$DUET_ACKS")
		holder=node-a
		duet_acting_master node-a || holder=node-b
		idx1=$(duet_field "$holder" .master.since_index)
		terms1=$(duet_field "$holder" .term)
		failovers=0
		if [ "$idx0" != "$idx1" ]; then
			failovers=$("$BIN/duetctl" log --config "$RIG_DIR/$holder.ini" --type MASTER \
				--json | jq -s 'length')
			failovers=$((failovers - 1))
		fi
		duet_probes_stop
		lost=$(duet_verify "$holder" 2>/dev/null | sed -n 's/.*lost=\([0-9]*\).*/\1/p')
		echo "stress_minutes: $STRESS_MIN"
		echo "failovers_under_stress: $failovers"
		echo "term_changes_under_stress: $((terms1 - terms0))"
		echo "writes_acked_under_stress: $acked"
		echo "lost_acked_writes_under_stress: ${lost:-unknown}"
	)
fi
