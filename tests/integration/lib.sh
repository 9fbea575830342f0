# SPDX-License-Identifier: MIT
# lib.sh - what the integration tests share: a world of two duetd and one
# duet-witness on 127.0.0.1 (certs, three configs on free ports, three data
# dirs in a mktemp dir), started and polled through `duetctl status --json`.
# Sourced by cluster_test.sh and traps_test.sh after they set BIN, HELPERS
# and TEST. On exit - success or failure - it kills exactly the PIDs the test
# started (STARTED) and removes the dir (kept with DUET_KEEP=1; the logs
# are printed on failure). Synchronisation is polling with deadlines, never
# a fixed sleep. A test may define extra_config NAME to add config sections,
# set NODE_EXTRA to add lines to every member's [node], and define
# extra_cleanup to undo what it set up besides processes.
set -u
# Deadlines (seconds) may be stretched for slow builds (ASan): DUET_SLOW=3.
SLOW=${DUET_SLOW:-1}
TMP=$(mktemp -d /tmp/duet-it.XXXXXX)
declare -A PID
STARTED=()
FAILED=0

cleanup() {
	if declare -F extra_cleanup >/dev/null; then
		extra_cleanup
	fi
	for p in "${STARTED[@]}"; do
		kill -9 "$p" 2>/dev/null
	done
	for p in "${STARTED[@]}"; do
		wait "$p" 2>/dev/null
	done
	if [ "$FAILED" != 0 ]; then
		for f in "$TMP"/*.log; do
			[ -f "$f" ] || continue
			echo "----- $f"
			tail -n 40 "$f"
		done
	fi
	if [ "${DUET_KEEP:-0}" = 1 ]; then
		echo "kept $TMP"
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT

fail() {
	echo "FAIL [$TEST]: $*"
	FAILED=1
	exit 1
}
ok() { echo "ok [$TEST]: $*"; }

now_ms() { date +%s%3N; }

# free_ports N: N TCP ports the kernel hands out for port 0, released at once
free_ports() {
	python3 -c '
import socket, sys
ss = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); ss.append(s)
print(" ".join(str(s.getsockname()[1]) for s in ss))
for s in ss: s.close()' "$1"
}

NAMES=(node-a node-b witness)
read -r -a PORTS <<<"$(free_ports 4)"
declare -A PORT=([node-a]=${PORTS[0]} [node-b]=${PORTS[1]} [witness]=${PORTS[2]})
EXTRA_PORT=${PORTS[3]}

# write_config NAME DATA_DIR CERT_DIR [LISTEN] > file
write_config() {
	local name=$1 dir=$2 certs=$3 listen=${4:-}
	cat <<EOC
[cluster]
name = it
id = 00000000cafe0001

[node]
name = $name
data_dir = $dir
log_level = debug
EOC
	[ -n "$listen" ] && echo "listen = $listen"
	[ -n "${NODE_EXTRA:-}" ] && echo "$NODE_EXTRA"
	cat <<EOC

[member node-a]
id = 1
kind = data
address = 127.0.0.1:${PORT[node-a]}

[member node-b]
id = 2
kind = data
address = 127.0.0.1:${PORT[node-b]}

[member witness]
id = 3
kind = witness
address = 127.0.0.1:${PORT[witness]}

[tls]
ca = $certs/ca.pem
cert = $certs/$name.pem
key = $certs/$name.key

; the consensus layer alone: no PostgreSQL (tests/netns has the real ones)
[pg]
conninfo =
EOC
	if declare -F extra_config >/dev/null; then
		extra_config "$name"
	fi
}

setup() {
	"$BIN/duetctl" gencerts --dir "$TMP/certs" --names node-a,node-b,witness >/dev/null ||
		fail "duetctl gencerts"
	for n in "${NAMES[@]}"; do
		write_config "$n" "$TMP/$n" "$TMP/certs" >"$TMP/$n.ini"
	done
	# a new cluster's stores are made on purpose (a daemon without one
	# rejoins instead of creating one): duetctl init, before any daemon runs
	[ "${NO_INIT:-0}" = 1 ] && return 0
	for n in "${NAMES[@]}"; do
		"$BIN/duetctl" init --config "$TMP/$n.ini" >/dev/null || fail "duetctl init $n"
	done
}

start() {
	local n=$1 exe=duetd
	[ "$n" = witness ] && exe=duet-witness
	"$BIN/$exe" --config "$TMP/$n.ini" 2>>"$TMP/$n.log" &
	PID[$n]=$!
	STARTED+=("$!")
}

start_all() { for n in "${NAMES[@]}"; do start "$n"; done; }

kill9() {
	kill -9 "${PID[$1]}"
	wait "${PID[$1]}" 2>/dev/null
}

# stop_clean NAME: SIGTERM, then the process must exit 0 and its log must
# hold no sanitizer report (leaks show at exit, under ASan builds)
stop_clean() {
	kill -TERM "${PID[$1]}"
	wait "${PID[$1]}"
	local rc=$?
	[ "$rc" = 0 ] || fail "$1 exited with $rc after SIGTERM"
	if grep -q -E 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' "$TMP/$1.log"; then
		fail "sanitizer report in $1's log"
	fi
}

# admin_metrics NAME: the member's /metrics exposition, asked over its admin
# socket ({"cmd":"metrics"}: the witness has no [http]), to stdout
admin_metrics() {
	python3 - "$TMP/$1/admin.sock" <<'EOP'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(b'{"cmd":"metrics"}\n')
buf = b""
while not buf.endswith(b"\n"):
    d = s.recv(65536)
    if not d:
        break
    buf += d
r = json.loads(buf)
if not r.get("ok"):
    sys.exit(1)
sys.stdout.buffer.write(r["metrics"].encode("utf-8"))
EOP
}

status() { "$BIN/duetctl" status --config "$TMP/$1.ini" --json 2>/dev/null; }
field() { status "$1" | jq -r "$2" 2>/dev/null; }
# is NODE JQ_EXPR: the expression is true in NODE's status (asked anew each call)
is() { [ "$(field "$1" "$2")" = true ]; }

# wait_until SECONDS DESCRIPTION COMMAND...: polls every 50 ms
wait_until() {
	local secs=$1 what=$2
	shift 2
	local deadline=$(($(now_ms) + secs * 1000 * SLOW))
	while [ "$(now_ms)" -lt "$deadline" ]; do
		"$@" && return 0
		sleep 0.05
	done
	fail "not within ${secs}s: $what"
}

leader_with_lease() {
	for n in node-a node-b; do
		if [ "$(field "$n" '.role == "leader" and .lease.valid')" = true ]; then
			LEADER=$n
			return 0
		fi
	done
	return 1
}

other_data() { [ "$1" = node-a ] && echo node-b || echo node-a; }

