# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# lib.sh - the fault matrix's harness (issue 7 item 4), sourced by run.sh for
# one scenario (scenarios.sh) after BIN, TESTS and SCENARIO are set, as root.
#
# On the netns rig (tests/netns/duet_rig.sh: duetd x2 with their own
# PostgreSQL 15 in synchronous replication, duet-witness, the manager, the
# FIP, fencing that takes the other node's link down), with [traps] and
# [sink] added to the data nodes' configs (duet_extra_config), it runs:
#
#   writer   pgprobe write through the FIP, every acknowledged id recorded
#   sampler  pgprobe sample: both servers asked every 50 ms if they are primary
#   traps    duet-trapgen in the client namespace: syslog over UDP, every
#            message to BOTH data nodes' addresses (seq=1..N, tag=faults);
#            duet-trapsink in the client namespace is the [sink] (TCP JSON
#            lines) and counts, per seq, the distinct record ids that carried
#            it: none is a lost trap, two or more a duplicated one
#
#   fault_begin [TMPFS]   cluster up, writer, sampler, sink, trap stream
#                         (FAULT_STREAM_S seconds at FAULT_TRAP_RATE);
#                         returns once node-a acks writes and commits traps
#   fault_mark            the fault is injected now (T0, pgprobe now)
#   scenario body         injects the fault, asserts what must happen (fail
#                         on a broken expectation), sets OUTCOME
#   fault_end             waits for the stream, stops the load, counts, and
#                         fails on an acknowledged write lost, a trap lost or
#                         duplicated, two primaries at once, an audit chain
#                         that does not verify, a sanitizer report
#
# Whatever happens (pass, fail, out of time), the scenario's row is written
# to the Markdown table $FAULTS_TABLE (default BIN/../faults.md), replacing
# the scenario's earlier row; run.sh prints the table.
#
# Columns: failover ms = from T0 (or T_FO, where the scenario itself brings
# members back: from then) to the first write acknowledged by the new master
# (only when the master changed); longest write gap ms = the longest
# time between two consecutive acknowledged writes from the last one before
# T0 on (writes that wait count as a gap); acked = writes acknowledged in the
# whole run; lost = acknowledged ids missing on the final master (pgprobe
# verify); traps sent = seqs generated; traps lost / duplicated: the sink's
# count; two primaries: samples that saw both servers primary.

# shellcheck source=tests/netns/duet_rig.sh
source "$FAULTS_SRC/../netns/duet_rig.sh"

FAULT_TRAP_RATE=${FAULT_TRAP_RATE:-200}
FAULT_STREAM_S=${FAULT_STREAM_S:-5}
FAULT_SYSLOG_PORT=5514
FAULT_SINK_PORT=6514
FAULT_TAG=faults
FAULTS_TABLE=${FAULTS_TABLE:-$(cd "$BIN/.." && pwd)/faults.md}
# the writer gives each connection attempt this long (a retrying client)
export DUET_WRITE_TIMEOUT_MS=${DUET_WRITE_TIMEOUT_MS:-300}

T0=
T_FO=                  # failover ms counts from here (default T0)
OUTCOME=
FAULT_CLASS=
FAULT_START_MS=
FAULT_TOTAL=           # seqs the sink expects (1..FAULT_TOTAL)
FAULT_GEN_PIDS=()
FAULT_GEN_OUTS=()
FAULT_SINK_PID=
FAULT_ROW_DONE=0
FAULT_COUNTING=0
# figures for the row ("?" until known)
R_FAILOVER="–"
R_GAP="?"
R_ACKED="?"
R_LOST="?"
R_SENT="?"
R_TLOST="?"
R_TDUP="?"
R_BOTH="?"
R_RESULT=
R_MASTER_END=

fault_now() { "$TESTS/pgprobe" now; }

fault_log() { echo "ok [$SCENARIO]: $*"; }

# fault_fail TEXT: the scenario failed; counts what can still be counted,
# writes the row, exits 1 (rig_down cleans up)
fault_fail() {
	echo "FAIL [$SCENARIO]: $*" >&2
	R_RESULT="FAIL: $*"
	if [ "$FAULT_COUNTING" = 0 ]; then
		fault__count quick
	fi
	fault__row
	exit 1
}

# ---------------------------------------------------------------- config hooks

# [traps] (syslog over UDP on the node's address) and [sink] (the TCP sink in
# the client namespace) on both data nodes
duet_extra_config() {
	[ "$1" = witness ] && return 0
	cat <<EOC

[traps]
syslog_udp = $(rig_ip "$1"):$FAULT_SYSLOG_PORT

[sink]
type = tcp
address = $(rig_ip client):$FAULT_SINK_PORT
EOC
}

# ---------------------------------------------------------------- the load

# fault_gen_start FIRST COUNT: one duet-trapgen run (seqs FIRST..FIRST+COUNT-1)
# to both data nodes, in the background
fault_gen_start() {
	local out=$RIG_DIR/gen-${#FAULT_GEN_PIDS[@]}.out
	rig_bg client "$out" "$BIN/duet-trapgen" --to "$(rig_ip node-a):$FAULT_SYSLOG_PORT" \
		--to "$(rig_ip node-b):$FAULT_SYSLOG_PORT" --rate "$FAULT_TRAP_RATE" \
		--count "$2" --start-seq "$1" --tag "$FAULT_TAG" || return 1
	FAULT_GEN_PIDS+=("$RIG_BG_PID")
	FAULT_GEN_OUTS+=("$out")
}

fault__gens_done() {
	local p
	for p in "${FAULT_GEN_PIDS[@]}"; do
		rig__alive "$p" && return 1
	done
	return 0
}

# fault_gen_wait [SECS]: every trap generator has ended (they stop by
# themselves after --count)
fault_gen_wait() {
	rig_wait "${1:-60}" "the trap generator to end" fault__gens_done
}

fault__sink_start() {
	rig_bg client "$RIG_DIR/sink.log" "$BIN/duet-trapsink" \
		--listen "$(rig_ip client):$FAULT_SINK_PORT" --tag "$FAULT_TAG" \
		--expect-first 1 --expect-last "$FAULT_TOTAL" --until-count "$FAULT_TOTAL" \
		--linger-ms 1500 --report "$RIG_DIR/sink.json" || return 1
	FAULT_SINK_PID=$RIG_BG_PID
}

# fault_master: the data node acting as master now (nothing if none)
fault_master() {
	local n
	for n in node-a node-b; do
		duet_acting_master "$n" && {
			echo "$n"
			return 0
		}
	done
	return 1
}

fault__committed() {
	local m
	m=$(fault_master) || return 1
	duet_is "$m" ".traps.committed >= $1"
}

# fault_begin [TMPFS] [GEN_COUNT]: the cluster with node-a master, the writer
# and the sampler, the sink expecting FAULT_TOTAL seqs (default: the stream),
# and the first trap stream (GEN_COUNT seqs, default FAULT_STREAM_S seconds'
# worth); returns once node-a has acknowledged 100 writes and committed the
# first 100 traps
fault_begin() {
	local count=${2:-$((FAULT_TRAP_RATE * FAULT_STREAM_S))}
	FAULT_TOTAL=${FAULT_TOTAL:-$count}
	FAULT_START_MS=$(rig__now_ms)
	duet_up "${1:-}" || fault_fail "the cluster did not come up"
	fault_log "node-a is acting master, node-b a committed SYNC standby"
	duet_writer_start || fault_fail "writer"
	duet_sampler_start || fault_fail "sampler"
	fault__sink_start || fault_fail "trap sink"
	duet_wait_acks 100 node-a || fault_fail "no writes through the FIP"
	fault_gen_start 1 "$count" || fault_fail "trap generator"
	rig_wait 20 "node-a commits traps" duet_is node-a '.traps.committed >= 100' ||
		fault_fail "no trap committed: $(duet_field node-a '.traps | tostring')"
	fault_log "writes acknowledged and traps committed by node-a ($FAULT_TRAP_RATE traps/s to both nodes)"
	MASTER_INDEX0=$(duet_field node-a .master.since_index)
}

# fault_mark: the fault is injected now
fault_mark() {
	T0=$(fault_now)
}

# fault_masters_since: MASTER entries committed after the one in force when
# the fault was injected, as seen by NODE's audit log
fault_masters_since() {
	"$BIN/duetctl" log --config "$RIG_DIR/$1.ini" --type MASTER --json 2>/dev/null |
		jq -s --argjson i "$MASTER_INDEX0" '[.[] | select(.index > $i)] | length'
}

# ---------------------------------------------------------------- counting

fault__gap_ms() {
	# acks: "id mono_ns server"; the last ack before T0 and every one after
	awk -v t0="$T0" '
		$2 < t0 { last = $2; next }
		{ if (last != "" && $2 - last > gap) gap = $2 - last; last = $2 }
		END { printf "%d\n", gap / 1000000 }' "$DUET_ACKS" 2>/dev/null
}

# fault__count [quick]: stop the load and fill in the row's figures; quick
# (after a failure): no waiting for the stream or the sink
fault__count() {
	local quick=${1:-} m out first r
	FAULT_COUNTING=1
	if [ -z "$quick" ]; then
		fault_gen_wait 60 || fault_fail "the trap generator did not end"
	fi
	# the sink stops by itself once every seq arrived, plus 1.5 s for late
	# duplicates; a lost trap keeps it waiting until this deadline
	if [ -n "$FAULT_SINK_PID" ]; then
		if [ -z "$quick" ]; then
			rig_wait 30 "every trap at the sink" duet__dead "$FAULT_SINK_PID" 2>/dev/null
		fi
		rig_stop "$FAULT_SINK_PID" >/dev/null 2>&1
		FAULT_SINK_PID=
	fi
	local p
	for p in "${FAULT_GEN_PIDS[@]}"; do
		rig_stop "$p" >/dev/null 2>&1
	done
	duet_probes_stop
	R_SENT=0
	for out in "${FAULT_GEN_OUTS[@]}"; do
		r=$(grep '^{' "$out" 2>/dev/null | tail -n 1 | jq -r '.sent' 2>/dev/null)
		[[ "$r" =~ ^[0-9]+$ ]] && R_SENT=$((R_SENT + r))
	done
	if [ -s "$RIG_DIR/sink.json" ]; then
		r=$(cat "$RIG_DIR/sink.json")
		echo "sink: $r"
		R_TLOST=$(echo "$r" | jq -r '.lost')
		R_TDUP=$(echo "$r" | jq -r '.duplicated')
		# cut short: what had not arrived yet is not known to be lost
		[ -n "$quick" ] && [ "$R_TLOST" != 0 ] && R_TLOST="?"
		# seqs never generated (a failure before the stream's end) are not lost
		if [[ "$R_TLOST" =~ ^[0-9]+$ ]] && [ "$R_SENT" -lt "$FAULT_TOTAL" ]; then
			R_TLOST=$((R_TLOST - (FAULT_TOTAL - R_SENT)))
		fi
	fi
	if [ -f "$DUET_ACKS" ]; then
		R_ACKED=$(wc -l <"$DUET_ACKS")
		R_GAP=$([ -n "$T0" ] && fault__gap_ms || echo "?")
	fi
	m=$(fault_master)
	R_MASTER_END=${m:-}
	if [ -n "$m" ]; then
		out=$(duet_verify "$m" 2>&1)
		echo "verify on $m: $(echo "$out" | tr '\n' ' ')"
		R_LOST=$(echo "$out" | sed -n 's/.*lost=\([0-9]*\).*/\1/p' | head -n 1)
		R_LOST=${R_LOST:-?}
		if [ -n "$T0" ] && [ "$m" != "${FAULT_MASTER0:-node-a}" ]; then
			first=$("$TESTS/pgprobe" first-ack-after --acks "$DUET_ACKS" \
				--after-ns "${T_FO:-$T0}" --server "$m" 2>/dev/null)
			[[ "$first" =~ ^[0-9]+$ ]] && R_FAILOVER=$(((first - ${T_FO:-$T0}) / 1000000))
		fi
	fi
	if [ -f "${DUET_SAMPLES:-}" ]; then
		out=$(duet_check_samples 2>&1)
		echo "samples: $(echo "$out" | tr '\n' ' ')"
		R_BOTH=$(echo "$out" | sed -n 's/.*both_primary=\([0-9]*\).*/\1/p' | head -n 1)
		R_BOTH=${R_BOTH:-?}
	fi
}

# fault__row: the scenario's row in $FAULTS_TABLE (replacing an earlier one)
fault__row() {
	[ "$FAULT_ROW_DONE" = 1 ] && return 0
	FAULT_ROW_DONE=1
	local secs="?" row
	[ -n "$FAULT_START_MS" ] && secs=$((($(rig__now_ms) - FAULT_START_MS) / 1000))
	local outcome=${OUTCOME:-(not reached)}
	local result=${R_RESULT:-pass}
	row="| \`$SCENARIO\` | $FAULT_CLASS | ${outcome//|//} | $R_FAILOVER | $R_GAP | $R_ACKED | $R_LOST | $R_SENT | $R_TLOST | $R_TDUP | $R_BOTH | $secs | ${result//|//} |"
	FAULTS_ROW=$row bash "$FAULTS_SRC/run.sh" --put-row "$FAULTS_TABLE" "$SCENARIO" ||
		echo "could not write the row to $FAULTS_TABLE" >&2
	echo "row: $row"
}

# fault_end: the common checks after the scenario's own
fault_end() {
	fault__count
	# a scenario's own checks of the counts (check_NAME, optional)
	if declare -F "check_$SCENARIO" >/dev/null; then
		"check_$SCENARIO"
	fi
	[ "$R_LOST" = 0 ] || fault_fail "acknowledged writes lost on ${R_MASTER_END:-no master}: $R_LOST"
	[ "$R_BOTH" = 0 ] || fault_fail "two PostgreSQL servers were primaries at once ($R_BOTH samples)"
	[ "$R_TLOST" = 0 ] || fault_fail "traps lost: $R_TLOST (first: $(jq -c .first_lost "$RIG_DIR/sink.json" 2>/dev/null))"
	[ "$R_TDUP" = 0 ] || fault_fail "traps duplicated: $R_TDUP (first: $(jq -c .first_duplicated "$RIG_DIR/sink.json" 2>/dev/null))"
	"$BIN/duetctl" log --config "$RIG_DIR/$R_MASTER_END.ini" --verify >/dev/null ||
		fault_fail "the audit chain of $R_MASTER_END does not verify"
	fault_log "0 acknowledged writes lost of $R_ACKED; $R_SENT traps, 0 lost, 0 duplicated; never two primaries"
	duet_stop_all || fault_fail "a daemon reported a sanitizer error"
	fault__row
	echo "PASS [$SCENARIO]: $OUTCOME"
}

# ---------------------------------------------------------------- on exit

rig_on_down() {
	kill -TERM "${FAULT_WATCHDOG:-}" 2>/dev/null
	declare -F fault_cleanup >/dev/null && fault_cleanup
	if [ "$FAULT_ROW_DONE" = 0 ]; then
		if [ "$1" = 143 ]; then
			R_RESULT=${R_RESULT:-"FAIL: out of time or terminated (SIGTERM)"}
		else
			R_RESULT=${R_RESULT:-"FAIL: ended early (exit $1)"}
		fi
		fault__row
	fi
	[ "$1" = 0 ] && return 0
	local n
	for n in node-a node-b witness; do
		echo "---- $n duetd log (last 40 lines)" >&2
		tail -n 40 "$RIG_DIR/$n/duetd.log" >&2 2>/dev/null
	done
	for n in node-a node-b; do
		echo "---- $n pg.log (last 10 lines)" >&2
		tail -n 10 "$RIG_DIR/$n/pg.log" >&2 2>/dev/null
	done
	echo "---- writer (last 5 lines)" >&2
	tail -n 5 "$RIG_DIR/writer.log" >&2 2>/dev/null
	echo "---- sink" >&2
	tail -n 5 "$RIG_DIR/sink.log" >&2 2>/dev/null
}
