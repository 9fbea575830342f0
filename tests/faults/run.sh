#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run.sh - duet's fault matrix (issue 7 item 4), as root:
#
#   tests/faults/run.sh BIN TESTS [SCENARIO...]   e.g. build/bin build/tests
#   tests/faults/run.sh --list                    the scenarios, one a line
#
# Each scenario (scenarios.sh) runs on a fresh netns rig of its own (lib.sh:
# duetd x2 with their PostgreSQL 15, duet-witness, a writer through the FIP,
# a sampler of both servers, a syslog trap stream to both data nodes and a
# TCP sink that counts), injects its fault, checks what must happen, and
# writes its row to the Markdown table $FAULTS_TABLE (default BIN/../faults.md;
# a scenario's row replaces its earlier one, so the table holds the latest
# run of each). With no SCENARIO every scenario runs, one after the other,
# on a fresh table. Exit status: 0 when every scenario passed; 1 otherwise
# (a loss, a duplicate, two primaries or a broken expectation: the row says
# which). The table is written either way and printed at the end.
#
# Environment: FAULTS_TABLE, FAULTS_BUDGET_S (a scenario ends itself, through
# the rig's clean-up, after this many seconds; default 170, under ctest's
# TIMEOUT of 180), FAULT_TRAP_RATE (traps/s, default 200), DUET_SLOW (the
# rig's deadlines multiplied, sanitizer builds), RIG_KEEP=1 (keep the rig's
# directory).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)

# scenario and failure class, in the table's order
SCENARIOS=(network disk server process partition witness_loss witness_standby_loss
	clock_jump slow_disk flapping_link both_restarted)
declare -A CLASS=(
	[network]=network [disk]=disk [server]=server [process]=process
	[partition]=network [witness_loss]=server [witness_standby_loss]=server
	[clock_jump]=clock [slow_disk]=disk [flapping_link]=network [both_restarted]=server)

HEADER='| scenario | class | outcome | failover ms | longest write gap ms | acked writes | acked writes lost | traps sent | traps lost | traps duplicated | two primaries | s | result |
|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|'

# put_row TABLE SCENARIO (row in $FAULTS_ROW): rewrite TABLE with the row of
# SCENARIO replaced, rows in the order of SCENARIOS
put_row() {
	local table=$1 name=$2 s line
	declare -A rows=()
	(
		flock 9
		if [ -f "$table" ]; then
			while IFS= read -r line; do
				for s in "${SCENARIOS[@]}"; do
					[[ "$line" == "| \`$s\` |"* ]] && rows[$s]=$line
				done
			done <"$table"
		fi
		rows[$name]=$FAULTS_ROW
		{
			echo "# duet fault matrix"
			echo
			echo "Written by \`tests/faults/run.sh\` (docs/testing.md, \"Fault matrix\"); each row is the"
			echo "latest run of its scenario. Last change: $(date -u '+%Y-%m-%d %H:%M:%S UTC')."
			echo
			echo "$HEADER"
			for s in "${SCENARIOS[@]}"; do
				if [ -n "${rows[$s]:-}" ]; then echo "${rows[$s]}"; fi
			done
		} >"$table.tmp" && mv "$table.tmp" "$table"
	) 9<"$(dirname "$table")"
}

case "${1:-}" in
--list)
	printf '%s\n' "${SCENARIOS[@]}"
	exit 0
	;;
--put-row)
	put_row "$2" "$3"
	exit $?
	;;
--help | -h | '')
	sed -n '3,23p' "$0" | sed 's/^# \{0,1\}//'
	[ -n "${1:-}" ]
	exit $?
	;;
esac

[ $# -ge 2 ] || {
	echo "usage: $0 BIN TESTS [SCENARIO...]" >&2
	exit 2
}
BIN=$(cd "$1" && pwd) || exit 2
TESTS=$(cd "$2" && pwd) || exit 2
shift 2
export BIN TESTS
export FAULTS_TABLE=${FAULTS_TABLE:-$(cd "$BIN/.." && pwd)/faults.md}
for s in "$@"; do
	[ -n "${CLASS[$s]:-}" ] || {
		echo "unknown scenario '$s'; one of: ${SCENARIOS[*]}" >&2
		exit 2
	}
done

if [ $# -ne 1 ]; then
	# several scenarios: each in a process of its own (its own rig and EXIT trap)
	list=("$@")
	if [ $# -eq 0 ]; then
		list=("${SCENARIOS[@]}")
		rm -f "$FAULTS_TABLE"
	fi
	failed=()
	for s in "${list[@]}"; do
		echo "==== $s"
		t=$(date +%s)
		bash "$0" "$BIN" "$TESTS" "$s" || failed+=("$s")
		echo "==== $s: $(($(date +%s) - t)) s"
	done
	echo
	echo "fault matrix: $FAULTS_TABLE"
	cat "$FAULTS_TABLE"
	if [ ${#failed[@]} -gt 0 ]; then
		echo "failed: ${failed[*]}" >&2
		exit 1
	fi
	exit 0
fi

# ---- one scenario, in this process
SCENARIO=$1
FAULTS_SRC=$HERE
# shellcheck source=tests/faults/lib.sh
source "$HERE/lib.sh"
# shellcheck source=tests/faults/scenarios.sh
source "$HERE/scenarios.sh"
FAULT_CLASS=${CLASS[$SCENARIO]}

[ "$(id -u)" = 0 ] || fault_fail "needs root (network namespaces, PostgreSQL as user postgres)"

# ctest ends a test that overruns its TIMEOUT with SIGKILL, which would leave
# the rig behind: end a little earlier, through rig_down (rig.sh's TERM
# trap). The shell runs its trap only once the command in progress is done:
# a subshell of ours (a $(...) that waits) gets SIGTERM too, so that it is
# done at once.
(
	trap 'kill "$s" 2>/dev/null; exit 0' TERM
	sleep "${FAULTS_BUDGET_S:-170}" &
	s=$!
	wait "$s" || exit 0
	echo "FAIL [$SCENARIO]: out of time (${FAULTS_BUDGET_S:-170} s)" >&2
	kill -TERM $$
	for p in $(pgrep -P $$); do
		[ "$p" != "$BASHPID" ] && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = bash ] &&
			kill -TERM "$p" 2>/dev/null
	done
) &
FAULT_WATCHDOG=$!

"scenario_$SCENARIO"
fault_end
exit 0
