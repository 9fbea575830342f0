#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# http_roles_test.sh BIN TESTS SCENARIO - duetd's role endpoints and HAProxy
# in front of them (issue 16, item 4) on the netns rig (duet_rig.sh): two
# duetd with their own PostgreSQL 15 in synchronous replication, the
# witness; node-a master, node-b a committed SYNC standby. Scenarios:
#
#   replica_endpoints   asked with curl from the client namespace: node-b
#       (streaming, SYNC) answers /replica and /sync 200, /async 503;
#       node-a (master) /primary 200 and the three 503. ALTER DATABASE
#       postgres SET synchronous_commit = local on node-a: node-a commits
#       SYNC(node-b, off) while node-b still streams: /sync 503, /async and
#       /replica 200. RESET: SYNC on again, /sync 200, /async 503. node-b's
#       PostgreSQL stopped: /replica 503 saying it does not answer.
#   haproxy_switchover  a real haproxy (Debian's) in the client namespace
#       with its own config and pid file, its check settings taken from
#       examples/agent/haproxy.cfg (the default-server and timeout check
#       lines), the primary port checked with /master and the read-only one
#       with /replica, as there. Before: the primary port reaches node-a,
#       the read-only port node-b. duetctl switchover to node-b while two
#       pollers in the client namespace note every ~20 ms node-b's /master
#       and the node a fresh connection through HAProxy's primary port
#       reaches: a client through HAProxy reaches node-b as the primary, and
#       no connection through the primary port ever lands on a server in
#       recovery (the old master, rebuilt as a standby, included); after it
#       the read-only port reaches node-a. Prints the delay from node-b's
#       /master turning 200 to the first client through HAProxy on node-b
#       (a figure, not asserted: it depends on the machine's load; the
#       example's settings aim at 0.2 s).
#   haproxy_failover    the same with kill -9 of everything on node-a
#       (duetd, PostgreSQL, the manager) instead of the switchover: node-b
#       takes over (fencing node-a), clients through HAProxy reach it, never
#       a server in recovery; the same figure.
set -uo pipefail

BIN=$(cd "$1" && pwd)
TESTS=$(cd "$2" && pwd)
SCENARIO=$3
export BIN TESTS
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
# shellcheck source=tests/netns/duet_rig.sh
source "$HERE/duet_rig.sh"

fail() {
	echo "FAIL [$SCENARIO]: $*" >&2
	exit 1
}
ok() { echo "ok [$SCENARIO]: $*"; }

POLLERS=()
HAPROXY_PID=

rig_on_down() {
	local p
	for p in "${POLLERS[@]}"; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	# haproxy -D forks: its pid file names the daemon this test started
	if [ -n "$HAPROXY_PID" ]; then
		kill "$HAPROXY_PID" 2>/dev/null
	fi
	[ "$1" = 0 ] && return 0
	local n
	for n in node-a node-b; do
		echo "---- $n duetd log (last 40 lines)" >&2
		tail -n 40 "$RIG_DIR/$n/duetd.log" >&2 2>/dev/null
	done
	[ -f "$RIG_DIR/haproxy.log" ] && { echo "---- haproxy.log" >&2; tail -n 40 "$RIG_DIR/haproxy.log" >&2; }
}

[ "$(id -u)" = 0 ] || fail "needs root (network namespaces, PostgreSQL as user postgres)"

# code NODE PATH: the HTTP status of NODE's PATH, asked from the client
code() {
	rig_exec client curl -s -o /dev/null -m 1 -w '%{http_code}' \
		"http://$(rig_ip "$1"):8008$2" 2>/dev/null
}
# body NODE PATH: its body
body() {
	rig_exec client curl -s -m 1 "http://$(rig_ip "$1"):8008$2" 2>/dev/null
}
# answers NODE PATH CODE [JQ]: PATH on NODE answers CODE (and its body JQ)
answers() {
	[ "$(code "$1" "$2")" = "$3" ] || return 1
	[ -z "${4:-}" ] || [ "$(body "$1" "$2" | jq -r "$4" 2>/dev/null)" = true ]
}
expect() {
	answers "$@" || fail "$2 on $1: $(code "$1" "$2") $(body "$1" "$2"), want $3 ${4:-}"
}

replica_endpoints() {
	expect node-b /replica 200 '.role == "sync standby" and .pg_wal_receiver == "streaming" and .master_node == "node-a"'
	expect node-b /sync 200 '.sync == true'
	expect node-b /async 503 '.why | test("synchronous")'
	expect node-a /primary 200
	for p in /replica /sync /async; do
		expect node-a "$p" 503 '.role == "master"'
	done
	ok "node-b streaming and SYNC: /replica, /sync 200, /async 503; node-a /primary 200"

	rig_psql node-a "ALTER DATABASE postgres SET synchronous_commit = local" >/dev/null ||
		fail "ALTER DATABASE"
	rig_wait 20 "node-a commits SYNC(node-b, off)" \
		duet_is node-a '(.members[] | select(.name == "node-b") | .sync) == false' ||
		fail "SYNC(node-b) still on"
	rig_wait 5 "node-b applies SYNC off: /async 200" answers node-b /async 200 \
		'.role == "async standby" and .sync == false' || fail "/async on node-b: $(body node-b /async)"
	expect node-b /replica 200
	expect node-b /sync 503 '.why | test("not the committed synchronous")'
	ok "SYNC off, node-b still streaming: /async, /replica 200, /sync 503"

	rig_psql node-a "ALTER DATABASE postgres RESET synchronous_commit" >/dev/null || fail "RESET"
	rig_wait 20 "SYNC(node-b, on) again: /sync 200" answers node-b /sync 200 ||
		fail "/sync on node-b: $(body node-b /sync)"
	expect node-b /async 503
	ok "SYNC on again: /sync 200, /async 503"

	rig_pg_stop node-b || fail "stop node-b's PostgreSQL"
	rig_wait 10 "/replica on node-b answers 503" answers node-b /replica 503 \
		'.why | test("does not answer")' || fail "/replica on node-b: $(body node-b /replica)"
	expect node-b /sync 503
	ok "node-b's PostgreSQL stopped: /replica 503 ($(body node-b /replica | jq -r .why))"
}

# ---- HAProxy -------------------------------------------------------------

HA_RW=15432
HA_RO=15433

haproxy_config() {
	local ex=$SRC/examples/agent/haproxy.cfg ds tc
	ds=$(grep -E '^\s*default-server ' "$ex") || return 1
	tc=$(grep -E '^\s*(timeout (check|connect)|retries|option redispatch)\b' "$ex") || return 1
	cat <<EOC
# written by http_roles_test.sh; the checks are examples/agent/haproxy.cfg's
global
    pidfile $RIG_DIR/haproxy.pid
    log stdout format raw local0

defaults
    log global
    mode tcp
    timeout client 1m
    timeout server 1m
$tc
$ds

frontend postgresql
    bind 127.0.0.1:$HA_RW
    default_backend pg-primary

backend pg-primary
    option httpchk
    http-check send meth GET uri /master
    http-check expect status 200
    server node-a $(rig_ip node-a):$RIG_PG_PORT check
    server node-b $(rig_ip node-b):$RIG_PG_PORT check

frontend postgresql-ro
    bind 127.0.0.1:$HA_RO
    use_backend pg-primary if { nbsrv(pg-replicas) lt 1 }
    default_backend pg-replicas

backend pg-replicas
    balance roundrobin
    option httpchk
    http-check send meth GET uri /replica
    http-check expect status 200
    server node-a $(rig_ip node-a):$RIG_PG_PORT check
    server node-b $(rig_ip node-b):$RIG_PG_PORT check
EOC
}

# via PORT: "ADDRESS IN_RECOVERY" of the server a new connection through
# HAProxy's PORT reaches ("-" when none answers)
via() {
	# a client that gives up after 0.5 s and tries again (libpq's own
	# connect_timeout is at least 2 s): samples keep coming while HAProxy
	# holds a connection for a server that refuses
	rig_exec client timeout 0.5 "$RIG_PGBIN/psql" \
		"host=127.0.0.1 port=$1 user=postgres dbname=postgres connect_timeout=2" \
		-X -A -t -q -F ' ' -c "SELECT inet_server_addr(), pg_is_in_recovery()" 2>/dev/null ||
		echo "-"
}

via_is() { [ "$(via "$1")" = "$2" ]; }

# poll_master OUT: "MONO_NS CODE" of node-b's /master, every ~20 ms
poll_master() {
	while :; do
		echo "$("$TESTS/pgprobe" now) $(code node-b /master)"
		sleep 0.02
	done >>"$1"
}

# poll_via OUT: "MONO_NS ADDRESS IN_RECOVERY" through the primary port, every ~20 ms
poll_via() {
	while :; do
		echo "$("$TESTS/pgprobe" now) $(via "$HA_RW")"
		sleep 0.02
	done >>"$1"
}

# haproxy_through switchover|failover: the master role moves from node-a to
# node-b by duetctl switchover, or by kill -9 of everything on node-a
haproxy_through() {
	local how=$1
	command -v haproxy >/dev/null || fail "haproxy is not installed (scripts/install-deps.sh)"
	haproxy_config >"$RIG_DIR/haproxy.cfg" || fail "examples/agent/haproxy.cfg has no check settings"
	haproxy -c -f "$RIG_DIR/haproxy.cfg" >/dev/null || fail "haproxy -c: $(haproxy -c -f "$RIG_DIR/haproxy.cfg" 2>&1)"
	rig_exec client haproxy -D -f "$RIG_DIR/haproxy.cfg" >>"$RIG_DIR/haproxy.log" 2>&1 ||
		fail "haproxy did not start"
	HAPROXY_PID=$(cat "$RIG_DIR/haproxy.pid") || fail "no haproxy pid file"
	local a b
	a="$(rig_ip node-a) f"
	b="$(rig_ip node-b) t"
	rig_wait 10 "the primary port reaches node-a" via_is "$HA_RW" "$a" || fail "primary port: $(via "$HA_RW")"
	rig_wait 10 "the read-only port reaches node-b" via_is "$HA_RO" "$b" || fail "read-only port: $(via "$HA_RO")"
	ok "through HAProxy: the primary port reaches node-a, the read-only port node-b ($(grep -E '^\s*default-server' "$RIG_DIR/haproxy.cfg" | sed 's/^ *//'))"

	poll_master "$RIG_DIR/master.samples" 2>/dev/null &
	POLLERS+=("$!")
	poll_via "$RIG_DIR/via.samples" 2>/dev/null &
	POLLERS+=("$!")
	rig_wait 10 "the pollers run" test -s "$RIG_DIR/via.samples" || fail "no samples"
	if [ "$how" = switchover ]; then
		"$BIN/duetctl" switchover --config "$RIG_DIR/node-a.ini" --to node-b --why "http_roles_test" \
			>"$RIG_DIR/switchover.out" 2>&1 || fail "duetctl switchover: $(cat "$RIG_DIR/switchover.out")"
	else
		duet_kill9_all node-a
	fi
	rig_wait $((30 * RIG_SLOW)) "a client through HAProxy reaches node-b as the primary" \
		via_is "$HA_RW" "$(rig_ip node-b) f" || fail "primary port after the $how: $(via "$HA_RW")"
	# a few more samples after the first on node-b
	local want
	want=$(($(wc -l <"$RIG_DIR/via.samples") + 10))
	rig_wait 10 "more samples" eval '[ "$(wc -l <"$RIG_DIR/via.samples")" -ge "$want" ]' ||
		fail "the poller stopped"
	local p
	for p in "${POLLERS[@]}"; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	POLLERS=()
	if grep -q ' t$' "$RIG_DIR/via.samples"; then
		fail "the primary port reached a server in recovery: $(grep ' t$' "$RIG_DIR/via.samples" | head -3 | tr '\n' ';')"
	fi
	local t200 tvia
	t200=$(awk '$2 == 200 { print $1; exit }' "$RIG_DIR/master.samples")
	tvia=$(awk -v ip="$(rig_ip node-b)" '$2 == ip && $3 == "f" { print $1; exit }' "$RIG_DIR/via.samples")
	[ -n "$t200" ] && [ -n "$tvia" ] || fail "no sample of node-b's /master 200 or of a client on it"
	local none delay_ms
	none=$(awk '$2 == "-" { n++ } END { print n + 0 }' "$RIG_DIR/via.samples")
	delay_ms=$(((tvia - t200) / 1000000))
	echo "figure [haproxy_$how]: client through HAProxy on the new master ${delay_ms} ms after its /master turned 200"
	ok "a client through HAProxy reached node-b ${delay_ms} ms after its /master turned 200 (each poller's sample takes a process start, some 10 to 40 ms; $none connection attempts through HAProxy found no server); the primary port never reached a server in recovery ($(wc -l <"$RIG_DIR/via.samples") samples)"
	[ "$how" = switchover ] || return 0
	rig_wait 60 "node-a a synchronous standby again" duet_sync_on node-b node-a ||
		fail "node-a not SYNC again"
	rig_wait 10 "the read-only port reaches node-a" via_is "$HA_RO" "$(rig_ip node-a) t" ||
		fail "read-only port: $(via "$HA_RO")"
	ok "node-a rebuilt as node-b's standby: the read-only port reaches it"
}

duet_up || fail "the cluster did not come up"
ok "node-a is acting master, node-b a committed SYNC standby"
case "$SCENARIO" in
replica_endpoints) replica_endpoints ;;
haproxy_switchover) haproxy_through switchover ;;
haproxy_failover) haproxy_through failover ;;
*) fail "unknown scenario $SCENARIO" ;;
esac
