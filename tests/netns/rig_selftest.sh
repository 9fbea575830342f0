#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# rig_selftest.sh PGPROBE - proves the netns rig without duet.
#
# Namespaces and two PostgreSQL servers in synchronous replication; pgprobe
# writes through the FIP (on node-a, added by hand) and samples both servers;
# node-a's postmaster is killed, the FIP moved to node-b and node-b promoted,
# by hand; every acknowledged id must be on node-b and no sample may show two
# primaries. Also: the manager commands, rig_cut/rig_cut_in/rig_heal, rig_nic_down/up,
# and that rig_down leaves no namespace, process or directory behind.
#
# Exit 77 (a failure for ctest: no skip) when not root or PostgreSQL 15 is missing. Every wait is
# a poll with a deadline (rig_wait); RIG_KEEP=1 keeps $RIG_DIR.
# shellcheck disable=SC2119 # rig_pg_init and rig_pg_make_sync take optional args
set -u
PGPROBE=${1:?usage: rig_selftest.sh PGPROBE}
HERE=$(cd "$(dirname "$0")" && pwd)
T0=${EPOCHREALTIME/./}

if [ "$(id -u)" != 0 ]; then
	echo "FAIL: the netns rig needs root"
	exit 77
fi
if [ ! -x "${RIG_PGBIN:-/usr/lib/postgresql/15/bin}/postgres" ]; then
	echo "FAIL: PostgreSQL 15 is not installed (scripts/install-deps.sh)"
	exit 77
fi
for tool in ip iptables runuser curl; do
	if ! command -v "$tool" >/dev/null; then
		echo "FAIL [netns_rig_selftest]: '$tool' is missing (iptables: apt-get install iptables)"
		exit 1
	fi
done
if [ ! -x "$PGPROBE" ]; then
	echo "FAIL [netns_rig_selftest]: no pgprobe at $PGPROBE"
	exit 1
fi

# shellcheck source=rig.sh
source "$HERE/rig.sh"

FAILED=0
fail() {
	echo "FAIL [netns_rig_selftest]: $*"
	FAILED=1
	exit 1
}
ok() { echo "ok: $*"; }
elapsed() { echo "$(((${EPOCHREALTIME/./} - T0) / 1000)) ms"; }

# on a failure, the last lines of every log of the rig
rig_on_down() {
	local f
	[ "${1:-0}" != 0 ] || [ "$FAILED" != 0 ] || return 0
	for f in "$RIG_DIR"/*.log "$RIG_DIR"/*.out "$RIG_DIR"/node-*/*.log; do
		[ -f "$f" ] || continue
		echo "----- ${f#"$RIG_DIR"/}"
		tail -n 25 "$f"
	done
}

ACKS=
SAMPLES=
acks_at_least() { [ -f "$ACKS" ] && [ "$(wc -l <"$ACKS")" -ge "$1" ]; }
acks_from_at_least() { [ -f "$ACKS" ] && [ "$(grep -c " $1\$" "$ACKS")" -ge "$2" ]; }
sampled() { [ -f "$SAMPLES" ] && grep -q " $1 $2\$" "$SAMPLES"; }
# tcp_ok NODE ADDR PORT: a TCP connection from NODE succeeds within 1 s
tcp_ok() { rig_exec "$1" timeout 1 bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null; }
pg_down() { ! rig_pg_pid "$1" >/dev/null; }

# ------------------------------------------------------------------ up
rig_up || fail "rig_up"
ACKS=$RIG_DIR/acks.log
SAMPLES=$RIG_DIR/samples.log
ok "rig_up: prefix $RIG_PREFIX, $RIG_DIR ($(elapsed))"
[ -z "$(rig_fip_holder)" ] || fail "the FIP is held before anyone added it"
for n in node-a node-b witness client; do
	rig_exec "$n" ip -4 -o addr show dev eth0 | grep -q " inet $(rig_ip "$n")/24 " ||
		fail "$n has no $(rig_ip "$n")/24 on eth0"
done

rig_pg_init || fail "rig_pg_init"
[ "$(rig_psql node-a 'SELECT pg_is_in_recovery()')" = f ] || fail "node-a is not primary"
[ "$(rig_psql node-b 'SELECT pg_is_in_recovery()')" = t ] || fail "node-b is not a standby"
[ "$(rig_psql node-b 'SHOW cluster_name')" = node-b ] || fail "node-b's cluster_name"
ok "rig_pg_init: node-a primary, node-b streaming ($(elapsed))"
rig_pg_make_sync || fail "rig_pg_make_sync"
ok "node-b synchronous ($(elapsed))"

for what in start stop; do
	cmd=$(rig_pg_cmd node-a "$what") || fail "rig_pg_cmd node-a $what"
	echo "   pg ${what}_command: $cmd"
	[ ${#cmd} -lt 200 ] || fail "pg $what command longer than duet's 199 chars"
done

# ------------------------------------------------------------------ manager
M_START=$(rig_manager_cmd node-a start) || fail "rig_manager_cmd start"
M_STOP=$(rig_manager_cmd node-a stop) || fail "rig_manager_cmd stop"
M_CHECK=$(rig_manager_cmd node-a check) || fail "rig_manager_cmd check"
rig_manager_cmds node-a | sed 's/^/   /'
for c in "$M_START" "$M_STOP" "$M_CHECK"; do
	[ ${#c} -lt 200 ] || fail "manager command longer than duet's 199 chars: $c"
done
! rig_exec node-a sh -c "$M_CHECK" 2>/dev/null || fail "manager check passes before start"
rig_exec node-a sh -c "$M_START" || fail "manager start"
rig_exec node-a sh -c "$M_CHECK" || fail "manager check after start"
MPID=$(cat "$RIG_DIR/node-a/manager.pid")
rig_exec node-a sh -c "$M_START" || fail "manager start, again"
[ "$(cat "$RIG_DIR/node-a/manager.pid")" = "$MPID" ] || fail "a second start replaced the manager"
rig_exec client curl -fsS -m 2 "http://$(rig_ip node-a):$RIG_MANAGER_PORT/health" >/dev/null ||
	fail "the client cannot reach node-a's manager"
rig_exec node-a sh -c "$M_STOP" || fail "manager stop"
! rig__alive "$MPID" || fail "manager pid $MPID alive after stop"
! rig_exec node-a sh -c "$M_CHECK" 2>/dev/null || fail "manager check passes after stop"
rig_exec node-a sh -c "$M_STOP" || fail "manager stop when stopped"
ok "manager start/check/stop, idempotent ($(elapsed))"

# ------------------------------------------------------------------ writes through the FIP
rig_fip_add node-a || fail "FIP add on node-a"
[ "$(rig_fip_holder)" = node-a ] || fail "rig_fip_holder says '$(rig_fip_holder)', not node-a"

rig_bg client "$RIG_DIR/write.log" "$PGPROBE" write \
	--conninfo "host=$RIG_FIP port=$RIG_PG_PORT" --out "$ACKS"
WPID=$RIG_BG_PID
rig_bg client "$RIG_DIR/sample.out" "$PGPROBE" sample \
	--conninfo "host=$(rig_ip node-a) port=$RIG_PG_PORT" \
	--conninfo "host=$(rig_ip node-b) port=$RIG_PG_PORT" --out "$SAMPLES"
SPID=$RIG_BG_PID
rig_wait 30 "200 acks through the FIP" acks_at_least 200 || fail "no writes"
rig_wait 10 "a sample 'primary standby'" sampled primary standby || fail "sampling"
[ "$(grep -vc ' node-a$' "$ACKS")" = 0 ] || fail "acks from a server other than node-a"
ok "$(wc -l <"$ACKS") acks from node-a ($(elapsed))"

# ------------------------------------------------------------------ failover by hand
T_KILL=$("$PGPROBE" now)
rig_pg_kill node-a || fail "rig_pg_kill node-a"
rig_fip_del node-a || fail "FIP del on node-a"
rig_fip_add node-b || fail "FIP add on node-b"
[ "$(rig_fip_holder)" = node-b ] || fail "rig_fip_holder says '$(rig_fip_holder)', not node-b"
rig_pg_promote node-b || fail "promote node-b"
rig_wait 30 "50 acks from node-b" acks_from_at_least node-b 50 || fail "no writes after the failover"
rig_wait 10 "a sample 'down primary'" sampled down primary || fail "sampling after the failover"
T_FIRST=$("$PGPROBE" first-ack-after --acks "$ACKS" --after-ns "$T_KILL" --server node-b) ||
	fail "first-ack-after"
ok "failover by hand: first ack from node-b $(((T_FIRST - T_KILL) / 1000000)) ms after the kill ($(elapsed))"

rig_stop "$WPID" || fail "pgprobe write did not end cleanly on SIGTERM"
rig_stop "$SPID" || fail "pgprobe sample did not end cleanly on SIGTERM"
sed 's/^/   /' "$RIG_DIR/sample.out" | grep -v 'pgprobe sample:' | head -n 12
# a sanitizer build reports into these logs, which rig_down deletes
if grep -E 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' \
	"$RIG_DIR/write.log" "$RIG_DIR/sample.out"; then
	fail "sanitizer reports from pgprobe (logs below)"
fi

OUT=$(rig_exec client "$PGPROBE" verify --conninfo "host=$(rig_ip node-b)" --acks "$ACKS") ||
	fail "verify on node-b: $OUT"
printf '   %s\n' "${OUT//$'\n'/$'\n'   }"
"$PGPROBE" check-samples "$SAMPLES" || fail "check-samples"
ok "no acked write lost, never two primaries ($(elapsed))"

# the checks are not vacuous
printf '1 primary standby\n2 primary primary\n3 down primary\n' >"$RIG_DIR/bad-samples"
"$PGPROBE" check-samples "$RIG_DIR/bad-samples" >/dev/null
[ $? = 1 ] || fail "check-samples accepts two primaries"
FIRST_ID=$(head -n 1 "$ACKS" | cut -d' ' -f1)
rig_psql node-b "DELETE FROM duet_probe WHERE id = $FIRST_ID" || fail "delete a row"
OUT=$(rig_exec client "$PGPROBE" verify --conninfo "host=$(rig_ip node-b)" --acks "$ACKS")
RC=$?
if [ "$RC" != 1 ] || ! grep -q "lost=1" <<<"$OUT" || ! grep -q "LOST.* $FIRST_ID\$" <<<"$OUT"; then
	fail "verify missed a deleted row (rc $RC): $OUT"
fi
ok "check-samples and verify catch what they must"

# ------------------------------------------------------------------ partitions and links
B=$(rig_ip node-b)
tcp_ok witness "$B" "$RIG_PG_PORT" || fail "witness cannot reach node-b"
rig_cut node-b || fail "rig_cut node-b"
! tcp_ok witness "$B" "$RIG_PG_PORT" || fail "witness reaches node-b through the cut"
! rig_exec node-b timeout 1 bash -c "exec 3<>/dev/tcp/$(rig_ip witness)/9" 2>/dev/null ||
	fail "node-b reaches the witness through the cut"
tcp_ok client "$B" "$RIG_PG_PORT" || fail "the cut also cut the client"
tcp_ok node-b "$RIG_FIP" "$RIG_PG_PORT" || fail "the cut broke node-b's own FIP"
rig_heal node-b || fail "rig_heal node-b"
rig_wait 10 "witness reaches node-b after heal" tcp_ok witness "$B" "$RIG_PG_PORT" || fail "heal"
ok "rig_cut / rig_heal ($(elapsed))"

# one way: node-b drops what the witness sends it; node-b's datagrams still
# reach the witness (a receiver there; node-b sends one at each poll)
W=$(rig_ip witness)
rig_cut_in node-b witness || fail "rig_cut_in node-b witness"
! tcp_ok witness "$B" "$RIG_PG_PORT" || fail "witness reaches node-b through the one-way cut"
tcp_ok client "$B" "$RIG_PG_PORT" || fail "the one-way cut also cut the client"
rig_bg witness "$RIG_DIR/udp-recv.out" "$RIG_PYTHON" -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 9999))
s.settimeout(20)
print(s.recv(100).decode(), flush=True)' "$W" || fail "UDP receiver on the witness"
udp_seen() {
	rig_exec node-b bash -c "echo oneway >/dev/udp/$W/9999" 2>/dev/null
	grep -q oneway "$RIG_DIR/udp-recv.out"
}
rig_wait 10 "node-b's datagram at the witness through the one-way cut" udp_seen ||
	fail "the one-way cut dropped what node-b sends"
rig_heal node-b || fail "rig_heal node-b (one way)"
rig_wait 10 "witness reaches node-b after the one-way heal" tcp_ok witness "$B" "$RIG_PG_PORT" ||
	fail "heal (one way)"
ok "rig_cut_in (INPUT only) / rig_heal ($(elapsed))"

rig_nic_down node-b || fail "rig_nic_down node-b"
rig_exec node-b ip link show eth0 | grep -q NO-CARRIER || fail "node-b's eth0 still has carrier"
! tcp_ok client "$B" "$RIG_PG_PORT" || fail "the client reaches node-b with its cable pulled"
rig_nic_up node-b || fail "rig_nic_up node-b"
rig_wait 10 "client reaches node-b after nic up" tcp_ok client "$B" "$RIG_PG_PORT" || fail "nic up"
rig_nic_down node-b admin || fail "rig_nic_down node-b admin"
rig_exec node-b ip link show eth0 | grep -q 'state DOWN' || fail "node-b's eth0 is not down"
rig_nic_up node-b || fail "rig_nic_up node-b (admin)"
rig_wait 10 "client reaches node-b after admin up" tcp_ok client "$B" "$RIG_PG_PORT" || fail "nic up"
ok "rig_nic_down / rig_nic_up, cable and admin ($(elapsed))"

rig_pg_stop node-b || fail "rig_pg_stop node-b"
rig_wait 10 "node-b's server to stop" pg_down node-b || fail "stop"
rig_pg_stop node-b || fail "rig_pg_stop of a stopped server"
rig_pg_start node-b || fail "rig_pg_start node-b"
[ "$(rig_psql node-b 'SELECT pg_is_in_recovery()')" = f ] || fail "node-b not primary after restart"
ok "rig_pg_stop / rig_pg_start ($(elapsed))"

# ------------------------------------------------------------------ down
DIR=$RIG_DIR
rig_exec node-a sh -c "$M_START" || fail "manager start (to be cleaned up)"
rig_down
if ip netns list | grep -q "^$RIG_PREFIX"; then
	fail "namespaces left: $(ip netns list | grep "^$RIG_PREFIX")"
fi
[ ! -e "$DIR" ] || [ "${RIG_KEEP:-0}" = 1 ] || fail "$DIR left behind"
LEFT=
for f in /proc/[0-9]*/cmdline; do
	c=$({ tr '\0' ' ' <"$f"; } 2>/dev/null)
	[[ "$c" == *"$DIR"* ]] && LEFT="$LEFT ${f%/cmdline}: $c;"
done
[ -z "$LEFT" ] || fail "processes left:$LEFT"
rig_down # idempotent
ok "rig_down: no namespace, process or directory left ($(elapsed))"
echo "PASS netns_rig_selftest in $(elapsed)"
