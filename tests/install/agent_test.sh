#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# agent_test.sh - examples/agent/find-master.sh against stand-ins for the
# data nodes' GET /master (master_stub.py): a standby (503), the master
# (200), a hung node and a node that is down, all on loopback.
#
# usage: agent_test.sh SOURCE_DIR
#
# The snippet must print the master's address whatever the order of the
# list, skip the down and the hung node within its timeout, exit 1 when no
# node is master and 2 without addresses. Kills the stub it started on any
# exit.
set -u
SRC=$1
find_master=$SRC/examples/agent/find-master.sh
stub=$(dirname "$0")/master_stub.py

tmp=$(mktemp -d /tmp/duet-agent-test.XXXXXX)
stub_pid=
cleanup() {
	[ -n "$stub_pid" ] && kill "$stub_pid" 2>/dev/null && wait "$stub_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
failures=0
fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}
ok() { echo "ok: $*"; }

python3 "$stub" >"$tmp/port" 2>"$tmp/stub.err" &
stub_pid=$!
for _ in $(seq 50); do
	[ -s "$tmp/port" ] && break
	sleep 0.1
done
port=$(head -1 "$tmp/port")
if [ -z "$port" ]; then
	cat "$tmp/stub.err"
	echo "FAIL: master_stub.py did not start"
	exit 1
fi
export DUET_HTTP_PORT=$port DUET_HTTP_TIMEOUT=1

# expect WHAT RC OUTPUT ADDR...: find-master.sh ADDR... exits RC, prints OUTPUT
expect() {
	local what=$1 want_rc=$2 want_out=$3 out rc
	shift 3
	out=$(sh "$find_master" "$@" 2>"$tmp/err")
	rc=$?
	if [ "$rc" = "$want_rc" ] && [ "$out" = "$want_out" ]; then
		ok "$what"
	else
		fail "$what: exit $rc, printed '$out' (want exit $want_rc, '$want_out'); stderr: $(cat "$tmp/err")"
	fi
}

expect "master found after a standby" 0 127.0.0.2 127.0.0.1 127.0.0.2
expect "master found first" 0 127.0.0.2 127.0.0.2 127.0.0.1
expect "a down node is skipped" 0 127.0.0.2 127.0.0.3 127.0.0.2
t0=$(date +%s%N)
expect "a hung node is skipped after the timeout" 0 127.0.0.2 127.0.0.4 127.0.0.2
ms=$((($(date +%s%N) - t0) / 1000000))
if [ "$ms" -lt 3000 ]; then ok "the hung node cost ${ms} ms (timeout 1 s)"; else fail "the hung node cost ${ms} ms"; fi
expect "no master: exit 1" 1 "" 127.0.0.1 127.0.0.3
expect "no address: exit 2" 2 ""
if sh "$find_master" 127.0.0.1 127.0.0.3 2>&1 | grep -q "none of 127.0.0.1 127.0.0.3 answered 200"; then
	ok "no master: says which addresses it asked"
else
	fail "no master: no message on stderr"
fi

# haproxy.cfg parses, where HAProxy is installed (scripts/install-deps.sh
# installs it for the tests; duet itself does not need it: HAProxy runs on
# a machine of its own)
if command -v haproxy >/dev/null; then
	if out=$(haproxy -c -f "$SRC/examples/agent/haproxy.cfg" 2>&1); then
		ok "haproxy -c accepts examples/agent/haproxy.cfg"
	else
		fail "haproxy -c: $out"
	fi
fi

if [ $failures -ne 0 ]; then
	echo "agent_test: $failures failed"
	exit 1
fi
echo "agent_test: all checks passed"
