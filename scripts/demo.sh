#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The README's first command: installs what duet needs, builds it, starts a
# real cluster in network namespaces on this machine and shows it failing
# over and coming back:
#
#   two data nodes (duetd, each with its own PostgreSQL 15 in synchronous
#   streaming replication), the witness (duet-witness), the small HTTP
#   manager and a floating IP, built by the netns rig (tests/netns/rig.sh,
#   duet_rig.sh); a writer inserts through the FIP; kill -9 of everything on
#   the master; the failover as it happens, its timings and audit entries;
#   the old master powered back and brought home with `duetctl rejoin`; both
#   nodes synchronous again.
#
# The cluster stays up when the script ends, for you to poke at.
#
# Usage (as root):
#   scripts/demo.sh [--yes]      the demo; --yes (or no terminal): no pauses
#   scripts/demo.sh --status     status of the cluster left up
#   scripts/demo.sh --down       remove everything the demo created
#   scripts/demo.sh --simulated [--seed N]
#                                the consensus layer alone: three raft cores
#                                over a simulated network (build/bin/duet-demo)
#
# Environment:
#   DUET_BUILD_DIR=build    build directory (RelWithDebInfo when made here)
#   DUET_DEMO_SKIP_DEPS=1   do not run scripts/install-deps.sh
#   DUET_DEMO_SKIP_BUILD=1  use the binaries already in DUET_BUILD_DIR
#   DUET_DEMO_DIR=/tmp/duet-demo  where the state file and the cluster live
#   DUET_DEMO_PREFIX=duetdemo-    namespace names (duetdemo-node-a, ...)
#   DUET_SLOW=N             multiply the rig's deadlines (sanitizer builds)
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${DUET_BUILD_DIR:-$ROOT/build}
case "$BUILD" in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
DEMO_DIR=${DUET_DEMO_DIR:-/tmp/duet-demo}
DEMO_PREFIX=${DUET_DEMO_PREFIX:-duetdemo-}
STATE=$DEMO_DIR/env
HTTP_PORT=8008

usage() {
	sed -n '/^# Usage/,/^# Environment/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
}

# ---------------------------------------------------------------- output

TTY=0
[ -t 1 ] && TTY=1
PAUSE=0

head1() {
	if [ "$TTY" = 1 ]; then
		printf '\n\033[1m== %s\033[0m\n' "$*"
	else
		printf '\n== %s\n' "$*"
	fi
}
say() { printf '   %s\n' "$*"; }
# a command as the user would type it, then its output indented
cmdline() {
	if [ "$TTY" = 1 ]; then
		printf '   \033[2m# %s\033[0m\n' "$*"
	else
		printf '   # %s\n' "$*"
	fi
}
indent() { sed 's/^/   | /'; }
die() {
	echo "demo: $*" >&2
	exit 1
}
pause() {
	[ "$PAUSE" = 1 ] || return 0
	printf '\n   [Enter] %s ' "$*"
	read -r _ </dev/tty || true
}
secs() { # milliseconds as seconds with one decimal, rounded
	local d=$((($1 + 50) / 100))
	printf '%d.%d' $((d / 10)) $((d % 10))
}

# ---------------------------------------------------------------- state

# The state file holds plain KEY=value lines; it is parsed, never sourced.
S_RIG_DIR='' S_RIG_PREFIX='' S_CREATED='' S_BIN='' S_TESTS=''
state_load() {
	local k v
	[ -f "$STATE" ] || return 1
	while IFS='=' read -r k v; do
		case "$k" in
		RIG_DIR | RIG_PREFIX | CREATED | BIN | TESTS) printf -v "S_$k" '%s' "$v" ;;
		esac
	done <"$STATE"
	[ -n "$S_RIG_DIR" ] && [ -n "$S_RIG_PREFIX" ]
}

state_alive() {
	[ -e "/run/netns/${S_RIG_PREFIX}hub" ] && [ -d "$S_RIG_DIR" ]
}

state_write() {
	local n
	{
		echo "# the duet demo cluster (scripts/demo.sh); scripts/demo.sh --down removes it"
		echo "CREATED=$(date -Is)"
		echo "RIG_DIR=$RIG_DIR"
		echo "RIG_PREFIX=$RIG_PREFIX"
		echo "RIG_NET=$RIG_NET"
		echo "RIG_FIP=$RIG_FIP"
		echo "BIN=$BIN"
		echo "TESTS=$TESTS"
		for n in node-a node-b witness; do
			echo "PID_${n//-/_}=${DUET_PID[$n]:-}"
		done
		echo "PIDS_FILE=$RIG_DIR/pids"
	} >"$STATE.tmp" && mv "$STATE.tmp" "$STATE"
}

# ---------------------------------------------------------------- the rig

# sourced at the top level: its arrays (declare -A) would be local to a function
RIG_TMP=$DEMO_DIR
RIG_PREFIX=$DEMO_PREFIX
RIG_NO_TRAP=1
# shellcheck source=tests/netns/duet_rig.sh
source "$ROOT/tests/netns/duet_rig.sh"

need_root() {
	[ "$(id -u)" = 0 ] || die "needs root (network namespaces, PostgreSQL run as user postgres)"
}

# demo_down [quiet]: removes what the state file names (the rig's rig_down:
# recorded processes, every process in its namespaces, its mounts, its
# namespaces, its directory), then any namespace still carrying the demo's
# prefix (a bring-up killed hard), then the state file and DEMO_DIR
demo_down() {
	local quiet=${1:-} ns p procs=0 nss=() left d
	if state_load; then
		RIG_DIR=$S_RIG_DIR
		RIG_PREFIX=$S_RIG_PREFIX
		if [ -f "$RIG_DIR/netns" ]; then
			while read -r ns; do
				[ -e "/run/netns/$ns" ] || continue
				nss+=("$ns")
				for p in $(ip netns pids "$ns" 2>/dev/null); do procs=$((procs + 1)); done
			done <"$RIG_DIR/netns"
		fi
		# a recorded pid is signalled only while it still runs in one of the
		# demo's namespaces: after a long time, or a reboot, the number may
		# belong to someone else (a finished `ip netns exec` child, say)
		if [ -f "$RIG_DIR/pids" ]; then
			while read -r p; do
				[[ "$p" =~ ^[0-9]+$ ]] || continue
				ns=$(ip netns identify "$p" 2>/dev/null) || continue
				[[ "$ns" == "$RIG_PREFIX"* ]] && echo "$p"
			done <"$RIG_DIR/pids" >"$RIG_DIR/pids.live"
			mv "$RIG_DIR/pids.live" "$RIG_DIR/pids"
		fi
		if [ -d "$RIG_DIR" ]; then
			RIG_OWNER=$BASHPID
			rig_down
		fi
		[ -n "$quiet" ] || echo "demo --down: stopped $procs processes (duetd, duet-witness," \
			"PostgreSQL, the manager) in ${#nss[@]} namespaces: ${nss[*]:-none}"
	fi
	# leftovers of a bring-up that was killed before it wrote the state file
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		[[ "$ns" == "$DEMO_PREFIX"* ]] || continue
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
		left=$(ip netns pids "$ns" 2>/dev/null)
		for p in $left; do
			rig_wait 10 "pid $p in $ns to end" duet__dead "$p" || true
		done
		ip netns del "$ns" && [ -z "$quiet" ] && echo "demo --down: deleted leftover namespace $ns"
	done
	if [ -d "$DEMO_DIR" ]; then
		for d in "$DEMO_DIR"/duet-rig-*; do
			[ -d "$d" ] || continue
			if [ -f "$d/mounts" ]; then
				while read -r p; do
					[ -n "$p" ] && mountpoint -q "$p" && umount -l "$p"
				done <"$d/mounts"
			fi
			rm -rf --one-file-system "$d"
		done
		rm -f "$STATE" "$STATE.tmp"
		rm -rf "$DEMO_DIR/starting"
		rmdir "$DEMO_DIR" 2>/dev/null ||
			echo "demo --down: $DEMO_DIR holds files the demo did not make; left there" >&2
		[ -n "$quiet" ] || echo "demo --down: removed $DEMO_DIR"
	fi
	left=$(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^(${S_RIG_PREFIX:-$DEMO_PREFIX}|$DEMO_PREFIX)" || true)
	if [ -n "$left" ]; then
		echo "demo --down: namespaces left: $left" >&2
		return 1
	fi
	return 0
}

# ---------------------------------------------------------------- views

ctl() { # NODE ARGS...: duetctl ARGS --config NODE.ini, in NODE's namespace
	local n=$1
	shift
	rig_exec "$n" "$BIN/duetctl" "$@" --config "$RIG_DIR/$n.ini"
}

# the status table without its traps, election, transport and raft counters
show_status() {
	local n=$1
	cmdline "ip netns exec $(rig_ns "$n") duetctl status --config $RIG_DIR/$n.ini"
	ctl "$n" status 2>&1 | awk '/^[a-z]/ { skip = ($1 == "traps" || $1 == "election" ||
		$1 == "transport" || $1 == "raft") } !skip' | indent
}

# master_line NODE [WHY-IF-SILENT]: GET /master on NODE from the client
MASTER_CODE=
master_line() {
	local n=$1 out body
	out=$(rig_exec client curl -s --connect-timeout 1 -m 2 -w '\n%{http_code}' \
		"http://$(rig_ip "$n"):$HTTP_PORT/master" 2>/dev/null)
	MASTER_CODE=${out##*$'\n'}
	body=${out%$'\n'*}
	if [ -z "$MASTER_CODE" ] || [ "$MASTER_CODE" = 000 ]; then
		MASTER_CODE=000
		say "GET /master on $n: no answer${2:+ ($2)}"
	else
		say "GET /master on $n: $MASTER_CODE $body"
	fi
}


mono_ms() { echo $(($("$TESTS/pgprobe" now) / 1000000)); }

# ---------------------------------------------------------------- modes

demo_status() {
	need_root
	if ! state_load || ! state_alive; then
		echo "no demo cluster is up (scripts/demo.sh starts one)"
		state_load && echo "(a stale state file is left in $STATE: scripts/demo.sh --down removes it)"
		return 1
	fi
	BIN=$S_BIN
	TESTS=$S_TESTS
	RIG_DIR=$S_RIG_DIR
	RIG_PREFIX=$S_RIG_PREFIX
	echo "the duet demo cluster, up since $S_CREATED; everything in $RIG_DIR"
	say "node-a $(rig_ip node-a), node-b $(rig_ip node-b), witness $(rig_ip witness)," \
		"client $(rig_ip client); FIP $RIG_FIP held by: $(rig_fip_holder)"
	master_line node-a
	master_line node-b
	local n
	for n in node-a node-b witness; do
		head1 "$n"
		show_status "$n"
	done
}

demo_simulated() {
	[ "${DUET_DEMO_SKIP_DEPS:-0}" = 1 ] || "$ROOT/scripts/install-deps.sh" || exit 1
	if [ "${DUET_DEMO_SKIP_BUILD:-0}" != 1 ]; then
		echo "== building ($BUILD)"
		configure_build || exit 1
		cmake --build "$BUILD" -j "$(nproc)" --target duet-demo duet-sim >/dev/null || exit 1
	fi
	echo "== the failover of the consensus layer, narrated (simulated time)"
	"$BUILD/bin/duet-demo" "$@" || exit 1
	echo
	echo "== the same core under random faults: 50 seeds of the simulator"
	"$BUILD/bin/duet-sim" --seeds 50 | tail -1
}

configure_build() {
	if [ -f "$BUILD/CMakeCache.txt" ]; then
		cmake -S "$ROOT" -B "$BUILD" >/dev/null
	else
		cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	fi
}

# ---------------------------------------------------------------- the demo

# PHASE: "" (nothing made yet), starting (this run claimed DEMO_DIR/starting
# and may be making a rig: an exit or an interrupt removes what it made), up
# (the state file is written: an error leaves the cluster for inspection, an
# interrupt removes it), finished
PHASE=''

# claim: DEMO_DIR/starting (mkdir is atomic) holds the pid of the run that
# is making a cluster, so that two runs started together make one
claim() {
	local p
	{ mkdir -p "$DEMO_DIR" && chmod 0755 "$DEMO_DIR"; } || die "cannot make $DEMO_DIR"
	if ! mkdir "$DEMO_DIR/starting" 2>/dev/null; then
		p=$(cat "$DEMO_DIR/starting/pid" 2>/dev/null)
		if [[ "$p" =~ ^[0-9]+$ ]] && rig__alive "$p"; then
			echo "another scripts/demo.sh (pid $p) is starting a demo cluster; scripts/demo.sh" \
				"--status shows it once it is up"
			return 1
		fi
		rm -rf "$DEMO_DIR/starting"
		mkdir "$DEMO_DIR/starting" || die "cannot make $DEMO_DIR/starting"
	fi
	echo "$$" >"$DEMO_DIR/starting/pid"
	PHASE=starting
}

unclaim() {
	rm -rf "$DEMO_DIR/starting"
	rmdir "$DEMO_DIR" 2>/dev/null
	return 0
}

# remove what this run made (never another run's cluster)
remove_own() {
	[ -n "${RIG_DIR:-}" ] && rig_down
	if [ "$PHASE" = up ]; then
		rm -f "$STATE"
	fi
	unclaim
}

on_interrupt() { # exit status
	trap '' INT TERM HUP
	echo >&2
	case "$PHASE" in
	starting | up)
		echo "demo: interrupted; removing what it made" >&2
		remove_own
		;;
	esac
	PHASE=finished
	exit "$1"
}

on_exit() {
	local rc=$?
	case "$PHASE" in
	starting)
		remove_own
		;;
	up)
		[ "$rc" = 0 ] && return
		echo >&2
		echo "demo: stopped with an error; the cluster is left up to look at:" >&2
		echo "   logs: $RIG_DIR/{node-a,node-b,witness}/duetd.log, $RIG_DIR/node-?/pg.log," \
			"$RIG_DIR/writer.log" >&2
		echo "   scripts/demo.sh --down removes it" >&2
		;;
	esac
}

demo_run() {
	local t_start t_phase n p
	need_root
	t_start=$(date +%s%N)
	if state_load; then
		if state_alive; then
			echo "a demo cluster is already up (since $S_CREATED, in $S_RIG_DIR):"
			echo "   scripts/demo.sh --status   shows it"
			echo "   scripts/demo.sh --down     removes it (then scripts/demo.sh starts a new one)"
			return 1
		fi
	fi
	if [ -d "$DEMO_DIR/starting" ]; then
		p=$(cat "$DEMO_DIR/starting/pid" 2>/dev/null)
		if [[ "$p" =~ ^[0-9]+$ ]] && rig__alive "$p"; then
			echo "another scripts/demo.sh (pid $p) is starting a demo cluster; scripts/demo.sh" \
				"--status shows it once it is up"
			return 1
		fi
	fi
	if [ -d "$DEMO_DIR" ] || ip netns list 2>/dev/null | awk '{print $1}' | grep -q "^$DEMO_PREFIX"; then
		# a reboot, a run killed hard: nothing of it runs any more
		echo "demo: removing what is left of an earlier demo (in $DEMO_DIR; its namespaces are gone)"
		demo_down quiet || return 1
	fi
	trap 'on_interrupt 130' INT
	trap 'on_interrupt 143' TERM
	trap 'on_interrupt 129' HUP
	trap on_exit EXIT
	claim || return 1

	head1 "1. Dependencies (scripts/install-deps.sh: Debian packages through apt-get)"
	t_phase=$(date +%s%N)
	if [ "${DUET_DEMO_SKIP_DEPS:-0}" = 1 ]; then
		say "skipped (DUET_DEMO_SKIP_DEPS=1)"
	else
		"$ROOT/scripts/install-deps.sh" 2>&1 | indent
		[ "${PIPESTATUS[0]}" = 0 ] || die "scripts/install-deps.sh failed"
	fi
	T_DEPS="$(secs $((($(date +%s%N) - t_phase) / 1000000))) s"
	[ "${DUET_DEMO_SKIP_DEPS:-0}" = 1 ] && T_DEPS=skipped

	head1 "2. Build ($BUILD: duetd, duet-witness, duetctl, pgprobe)"
	t_phase=$(date +%s%N)
	if [ "${DUET_DEMO_SKIP_BUILD:-0}" = 1 ]; then
		say "skipped (DUET_DEMO_SKIP_BUILD=1)"
	else
		mkdir -p "$BUILD"
		if ! { configure_build && cmake --build "$BUILD" -j "$(nproc)" \
			--target duetd duet-witness duetctl pgprobe; } >"$BUILD/demo-build.log" 2>&1; then
			tail -n 40 "$BUILD/demo-build.log" >&2
			die "the build failed (whole log: $BUILD/demo-build.log)"
		fi
		say "built in $(secs $((($(date +%s%N) - t_phase) / 1000000))) s (log: $BUILD/demo-build.log)"
	fi
	T_BUILD="$(secs $((($(date +%s%N) - t_phase) / 1000000))) s"
	[ "${DUET_DEMO_SKIP_BUILD:-0}" = 1 ] && T_BUILD=skipped
	BIN=$BUILD/bin
	TESTS=$BUILD/tests
	for n in bin/duetd bin/duet-witness bin/duetctl tests/pgprobe; do
		[ -x "$BUILD/$n" ] || die "$BUILD/$n is missing (build it, or drop DUET_DEMO_SKIP_BUILD)"
	done
	export BIN TESTS

	# ------------------------------------------------------------ up
	head1 "3. A cluster in network namespaces"
	if [ ! -e /etc/passwd ] || ! id postgres >/dev/null 2>&1; then
		die "no user postgres (is postgresql-15 installed? scripts/install-deps.sh installs it)"
	fi
	say "namespaces $(rig_ns node-a) $(rig_ip node-a), $(rig_ns node-b) $(rig_ip node-b)," \
		"$(rig_ns witness) $(rig_ip witness), $(rig_ns client) $(rig_ip client), on one bridge"
	say "FIP $RIG_FIP (duet adds it on the master); HTTP /master on each data node, port $HTTP_PORT"
	say "PostgreSQL 15 primary on node-a, streaming standby on node-b; certificates"
	say "(duetctl gencerts); each member's store for the new cluster (duetctl init: a daemon"
	say "never creates one itself); duet-witness, duetd on node-a, duetd on node-b..."
	t_phase=$(date +%s%N)
	if ! duet_up ""; then
		for n in node-a node-b witness; do
			echo "---- $n: duetd.log (last 20 lines)" >&2
			tail -n 20 "$RIG_DIR/$n/duetd.log" >&2 2>/dev/null
		done
		die "the cluster did not come up (everything it made is removed again)"
	fi
	state_write || die "cannot write $STATE"
	PHASE=up
	rm -rf "$DEMO_DIR/starting"
	T_UP=$((($(date +%s%N) - t_phase) / 1000000))
	say "up in $(secs "$T_UP") s: node-a is master (PostgreSQL primary, FIP, manager)," \
		"node-b a synchronous standby; state in $STATE"

	head1 "4. Status of both data nodes"
	wait_checks node-a
	wait_checks node-b
	show_status node-a
	echo
	show_status node-b

	head1 "5. A writer through the FIP"
	say "pgprobe, in the client namespace, inserts one row every 5 ms into PostgreSQL"
	say "at $RIG_FIP:$RIG_PG_PORT and records each acknowledged commit; a commit is"
	say "acknowledged only once node-b has it on disk (synchronous replication)"
	duet_writer_start || die "the writer did not start"
	t_phase=$(mono_ms)
	for n in 1 2 3; do
		duet_wait_acks 100 node-a 20 || die "no writes acknowledged through the FIP"
		say "acknowledged: $(duet__acks_from "") (all by node-a) after $(secs $(($(mono_ms) - t_phase))) s"
	done

	head1 "6. GET /master (what HAProxy and the agents ask): 200 on the master only"
	master_line node-a
	[ "$MASTER_CODE" = 200 ] || die "GET /master on node-a answered $MASTER_CODE, not 200"
	master_line node-b
	[ "$MASTER_CODE" = 503 ] || die "GET /master on node-b answered $MASTER_CODE, not 503"

	pause "kills node-a (kill -9 of duetd, PostgreSQL and the manager)"
	demo_failover
	pause "powers node-a back and runs duetctl rejoin on it"
	demo_rejoin
	demo_finish "$t_start"
}

# ack_fields LINE: "id mono_ms server" of an acks line ("id mono_ns server")
ack_fields() {
	local id ns srv
	read -r id ns srv <<<"$1"
	echo "$id $((ns / 1000000)) $srv"
}

# one line of node-b's status, printed each time it changes
WATCH_JQ='"\(.role), term \(.term), leader \(.leader // "none"); log: master \(.master.node
	// "none") (\(.master.reason // "-")); acting \(.acting)" + (if (.activation_step // "")
	!= "" then " (" + .activation_step + ")" else "" end)'

# wait_checks NODE: its critical health checks have run and pass (for a
# status table without UNKNOWN right after a start); not fatal
wait_checks() {
	# shellcheck disable=SC2016 # $a is jq's
	rig_wait 10 "$1's checks OK" duet_is "$1" '.acting as $a | [.checks[] |
		select(.critical or $a == "master") | .state] | all(. == "OK")' 2>/dev/null || true
}

demo_failover() {
	local t0 t0ns last='' cur now first_b='' line lt detect fails verify term
	local a_id a_ms b_id b_ms srv
	head1 "7. kill -9 of everything on the master, node-a"
	say "duetd (pid ${DUET_PID[node-a]}), every postgres process and the manager, at once:"
	say "the machine is gone. node-b notices the silence, is elected with the witness's"
	say "vote, fences node-a (here: takes node-a's link down, standing for its power"
	say "switch), waits out node-a's lease, promotes its PostgreSQL, takes the FIP and"
	say "starts the manager. Watching node-b's status every 50 ms; times from the kill:"
	t0ns=$("$TESTS/pgprobe" now)
	t0=$((t0ns / 1000000))
	duet_kill9_all node-a
	while :; do
		now=$(mono_ms)
		cur=$(duet_status node-b | jq -r "$WATCH_JQ" 2>/dev/null)
		if [ -n "$cur" ] && [ "$cur" != "$last" ]; then
			printf '   %+7d ms  node-b: %s\n' $((now - t0)) "$cur"
			last=$cur
		fi
		if [ -z "$first_b" ]; then
			line=$(awk -v t="$t0ns" '$2 >= t && $3 == "node-b" { print; exit }' "$DUET_ACKS")
			if [ -n "$line" ]; then
				first_b=$(ack_fields "$line")
				read -r b_id b_ms srv <<<"$first_b"
				printf '   %+7d ms  the writer: first write acknowledged by node-b (id %s)\n' \
					$((b_ms - t0)) "$b_id"
			fi
		fi
		if [ -n "$first_b" ] && duet_acting_master node-b; then
			break
		fi
		if [ $((now - t0)) -gt $((30000 * RIG_SLOW)) ]; then
			die "node-b did not take over within $((30 * RIG_SLOW)) s (last seen: $cur)"
		fi
		sleep 0.05
	done
	duet_expect_takeover node-b node-a >"$RIG_DIR/takeover.txt" 2>&1 || {
		cat "$RIG_DIR/takeover.txt" >&2
		die "the takeover is not complete"
	}
	say "node-b is acting master: it holds the FIP and acknowledges writes"
	grep -q "stale FIP" "$RIG_DIR/takeover.txt" &&
		say "(node-a's stale FIP sits on its fenced, down link: harmless)"

	head1 "8. The takeover's timings (node-b: duetctl status --json, .last_takeover)"
	lt=$(duet_status node-b)
	term=$(jq -r .last_takeover.term <<<"$lt")
	since() { echo "+$(($(jq -r ".last_takeover_mono_ms.$1" <<<"$lt") - t0)) ms"; }
	printf '   %-50s %10s\n' "node-a killed" "0 ms" \
		"node-b leads term $term (silence noticed, elected)" "$(since leader)" \
		"MASTER(node-b, failover) committed" "$(since committed)" \
		"PostgreSQL on node-b promoted" "$(since promoted)" \
		"FIP added on node-b, gratuitous ARPs sent" "$(since fip)" \
		"manager started: node-b acting master" "$(since ready)"
	T_FAILOVER=$(($(jq -r .last_takeover_mono_ms.ready <<<"$lt") - t0))
	say "from leading: promoted $(jq -r .last_takeover.promoted_after_ms <<<"$lt") ms," \
		"FIP $(jq -r .last_takeover.fip_after_ms <<<"$lt") ms, ready" \
		"$(jq -r .last_takeover.ready_after_ms <<<"$lt") ms; lease wait" \
		"$(jq -r .last_takeover.lease_wait_ms <<<"$lt") ms"
	say "fence: $(jq -r .last_takeover_fence <<<"$lt")"
	detect=$(rig_exec client curl -s -m 2 "http://$(rig_ip node-b):$HTTP_PORT/metrics" |
		awk '/^duet_last_takeover_duration_seconds\{phase="detect"\}/ { printf "%d", $2 * 1000 }')
	[ -n "$detect" ] && say "GET /metrics: duet_last_takeover_duration_seconds{phase=\"detect\"}:" \
		"$detect ms from node-a's last message to node-b leading"

	head1 "9. The audit log: what node-b did, step by step"
	cmdline "duetctl log --config $RIG_DIR/node-b.ini --type MASTER   (and --type STEP)"
	"$BIN/duetctl" log --config "$RIG_DIR/node-b.ini" --type MASTER | grep " term $term " |
		sed 's/^ *[0-9]* *//' | indent
	"$BIN/duetctl" log --config "$RIG_DIR/node-b.ini" --type STEP >"$RIG_DIR/steps.txt" ||
		die "duetctl log --type STEP failed"
	grep " term $term " "$RIG_DIR/steps.txt" | sed 's/^ *[0-9]* *//' | indent
	grep " term $term " "$RIG_DIR/steps.txt" | grep -q "promote on node 2 ok" ||
		die "no successful promote STEP in node-b's audit log"

	head1 "10. The writer's view of it"
	line=$(awk -v t="$t0ns" '$2 < t { l = $0 } END { print l }' "$DUET_ACKS")
	read -r a_id a_ms srv <<<"$(ack_fields "$line")"
	read -r b_id b_ms srv <<<"$first_b"
	fails=$(duet_write_failures "$t0ns")
	T_GAP=$((b_ms - a_ms))
	say "last write acknowledged by node-a: id $a_id, $((t0 - a_ms)) ms before the kill"
	say "first acknowledged by node-b:      id $b_id, $((b_ms - t0)) ms after the kill"
	say "no write acknowledged for $(secs "$T_GAP") s (node-b was ready after $(secs "$T_FAILOVER") s; the"
	say "rest is the writer's 1 s connect timeout, begun while nobody held the FIP);"
	say "$fails attempts failed meanwhile: an error, never an acknowledgement, the"
	say "application retries. Is any acknowledged write lost?"
	verify=$(duet_wait_verify node-b 20 2>&1) || {
		echo "$verify" >&2
		die "acknowledged writes are missing on node-b"
	}
	cmdline "pgprobe verify --conninfo 'host=$(rig_ip node-b) ...' --acks $DUET_ACKS"
	echo "$verify" | indent
	T_LOST=$(sed -n 's/.*lost=\([0-9]*\).*/\1/p' <<<"$verify" | head -n 1)
	say "${T_LOST:-?} acknowledged writes lost"

	head1 "11. node-b alone, node-a down"
	show_status node-b
	master_line node-b
	[ "$MASTER_CODE" = 200 ] || die "GET /master on node-b answered $MASTER_CODE, not 200"
	master_line node-a "node-a is down, its link fenced"
	[ "$MASTER_CODE" = 200 ] && die "GET /master on node-a answered 200"
	return 0
}

demo_rejoin() {
	local out t1 t1ns t2ns rc fails during method
	head1 "12. node-a powered back, then duetctl rejoin on it"
	say "a node that comes back never decides by itself what it is. Its stale FIP is"
	say "gone (addresses do not survive a reboot) and its link comes up; its duetd is"
	say "not running. One command, run on node-a, brings it back whatever broke: a new"
	say "incarnation in the log, PostgreSQL rewound (pg_rewind: node-a's diverged"
	say "primary) or copied (pg_basebackup), started as node-b's standby, SYNC on."
	duet_unfence node-a || die "node-a's link did not come up"
	cmdline "ip netns exec $(rig_ns node-a) duetctl rejoin --config $RIG_DIR/node-a.ini --yes" \
		"--why 'demo: node-a back' --start '<starts duetd in $(rig_ns node-a)>'"
	out=$RIG_DIR/rejoin-node-a.out
	rm -f "$(duet__pidfile node-a)"
	t1=$(mono_ms)
	t1ns=$("$TESTS/pgprobe" now)
	if [ "$TTY" = 1 ]; then
		# on a terminal duetctl shows the step, bytes, percent and ETA in place
		rig_exec node-a "$BIN/duetctl" rejoin --config "$RIG_DIR/node-a.ini" --yes \
			--why "demo: node-a back" --timeout 120 --start "$(duet_start_cmd node-a)" \
			</dev/null
		rc=$?
	else
		rig_exec node-a "$BIN/duetctl" rejoin --config "$RIG_DIR/node-a.ini" --yes \
			--why "demo: node-a back" --timeout 120 --start "$(duet_start_cmd node-a)" \
			</dev/null >"$out" 2>&1
		rc=$?
		indent <"$out"
	fi
	t2ns=$("$TESTS/pgprobe" now)
	T_REJOIN=$(($(mono_ms) - t1))
	duet_adopt node-a || true
	state_write || true
	[ "$rc" = 0 ] || die "duetctl rejoin exited $rc"
	say "duetctl rejoin: exit 0 after $(secs "$T_REJOIN") s"
	rig_wait 20 "node-b to have node-a SYNC on" duet_sync_on node-b node-a ||
		die "node-a is not SYNC on node-b"
	rig_wait 20 "node-a's PostgreSQL streaming from node-b" duet_pg_standby_of node-a node-b ||
		die "node-a's PostgreSQL is not a standby streaming from node-b"
	method=$(duet_field node-a '.pg_rebuild.method')
	T_METHOD=$method
	fails=$(duet_write_failures "$t1ns" "$t2ns")
	during=$(awk -v a="$t1ns" -v b="$t2ns" '$2 >= a && $2 <= b' "$DUET_ACKS" | wc -l)
	say "node-a is a SYNC standby of node-b again (PostgreSQL: ${method:-?}, streaming from node-b);"
	say "the writer went on through it: $during writes acknowledged during the rejoin, $fails failed"
	T_REJOIN_FAILS=$fails

	head1 "13. Back to two synchronous nodes"
	wait_checks node-a
	show_status node-b
	echo
	show_status node-a
	master_line node-b
	[ "$MASTER_CODE" = 200 ] || die "GET /master on node-b answered $MASTER_CODE, not 200"
	master_line node-a
	[ "$MASTER_CODE" = 503 ] || die "GET /master on node-a answered $MASTER_CODE, not 503"
	say "the OPERATOR entry of the rejoin in the audit log:"
	"$BIN/duetctl" log --config "$RIG_DIR/node-b.ini" --type OPERATOR | grep -i "rejoin" |
		tail -n 1 | sed 's/^ *[0-9]* *//' | indent
}

demo_finish() {
	local t_start=$1 verify n total
	head1 "14. The writer stops; every acknowledged write is on both servers"
	duet_wait_acks 50 node-b 20 || die "node-b no longer acknowledges writes"
	duet_probes_stop
	say "$(grep -o 'stopped: .*' "$RIG_DIR/writer.log" | tail -n 1)"
	for n in node-b node-a; do
		verify=$(duet_wait_verify "$n" 20 2>&1) || {
			echo "$verify" >&2
			die "acknowledged writes are missing on $n"
		}
		say "$n: $(head -n 1 <<<"$verify")"
	done
	"$BIN/duetctl" log --config "$RIG_DIR/node-b.ini" --verify >/dev/null ||
		die "the audit chain does not verify"
	say "the audit chain verifies (duetctl log --verify)"
	state_write || die "cannot write $STATE"
	total=$((($(date +%s%N) - t_start) / 1000000))

	head1 "Summary"
	say "failover: node-a killed -> node-b acting master in $(secs "$T_FAILOVER") s;" \
		"writes paused $(secs "$T_GAP") s; ${T_LOST:-?} acknowledged writes lost"
	say "rejoin:   node-a a SYNC standby again in $(secs "$T_REJOIN") s (${T_METHOD:-?}), $T_REJOIN_FAILS writes failed meanwhile"
	say "times:    dependencies $T_DEPS, build $T_BUILD," \
		"cluster up $(secs "$T_UP") s; whole demo $(secs "$total") s"

	head1 "The cluster is still up: poke at it"
	say "scripts/demo.sh --status                 both nodes' status, GET /master"
	say "ip netns exec $(rig_ns node-b) $BIN/duetctl status --config $RIG_DIR/node-b.ini"
	say "$BIN/duetctl log --config $RIG_DIR/node-b.ini    (the audit log; --json, --verify)"
	say "ip netns exec $(rig_ns client) curl -s http://$(rig_ip node-b):$HTTP_PORT/metrics"
	say "ip netns exec $(rig_ns node-b) $BIN/duetctl switchover --config $RIG_DIR/node-b.ini"
	say "                                         (node-a master again, nothing lost)"
	say "ip netns exec $(rig_ns client) psql -h $RIG_FIP -U postgres -c 'select count(*) from duet_probe'"
	say "logs:    $RIG_DIR/{node-a,node-b,witness}/duetd.log, $RIG_DIR/node-?/pg.log"
	say "configs: $RIG_DIR/{node-a,node-b,witness}.ini"
	say "scripts/demo.sh --down                   removes everything the demo created"
	PHASE=finished
}

# ---------------------------------------------------------------- main

mode=run
args=()
while [ $# -gt 0 ]; do
	case "$1" in
	--yes | -y) PAUSE=no ;;
	--down) mode=down ;;
	--status) mode=status ;;
	--simulated)
		mode=simulated
		shift
		args=("$@")
		break
		;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		usage >&2
		exit 2
		;;
	esac
	shift
done

case "$mode" in
run)
	if [ "$PAUSE" != no ] && [ -t 0 ] && [ -t 1 ] && [ -r /dev/tty ]; then PAUSE=1; else PAUSE=0; fi
	demo_run
	;;
down)
	need_root
	if ! state_load && [ ! -d "$DEMO_DIR" ] &&
		! ip netns list 2>/dev/null | awk '{print $1}' | grep -q "^$DEMO_PREFIX"; then
		echo "demo --down: no demo cluster is up; nothing to remove"
		exit 0
	fi
	demo_down
	;;
status)
	demo_status
	;;
simulated)
	demo_simulated "${args[@]}"
	;;
esac
