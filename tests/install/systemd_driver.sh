#!/bin/bash
# SPDX-License-Identifier: MIT
# systemd_driver.sh - runs inside the systemd_units container (see
# systemd_test.sh) as a oneshot service under systemd as PID 1; prints one
# "ok" line per assertion and PASS at the end, or "FAIL: ..." and exits 1.
# Waiting is polling a unit property with a deadline, never a fixed sleep.
set -u
# the container ends with the driver: systemd exits with its status
trap 'rc=$?; systemctl --no-block exit "$rc"' EXIT
FIP=10.99.0.100/24
DEV=duetfip0
MGR=/var/lib/duet/manager.log

fail() {
	echo "FAIL: $*"
	systemctl status duetd --no-pager 2>&1 | tail -n 20
	journalctl -u duetd --no-pager 2>&1 | tail -n 40
	exit 1
}
ok() { echo "ok: $*"; }
prop() { systemctl show -P "$1" duetd; }

# wait_for SECONDS DESCRIPTION COMMAND...: until COMMAND succeeds
wait_for() {
	local deadline=$(($(date +%s) + $1)) what=$2
	shift 2
	until "$@"; do
		[ "$(date +%s)" -lt "$deadline" ] || fail "timed out: $what"
		sleep 0.1
	done
}
fip_present() { ip -o addr show dev "$DEV" | grep -q "inet $FIP"; }
fip_absent() { ! fip_present; }
restarted() { [ "$(prop NRestarts)" -ge "$1" ] && [ "$(prop ActiveState)" = active ]; }
stops_logged() { [ -f "$MGR" ] && [ "$(grep -c stopped "$MGR")" -ge "$1" ]; }

ip link add "$DEV" type veth peer name duetfip1 && ip link set "$DEV" up || fail "cannot make $DEV"
mkdir -p /var/lib/duet && chmod 0700 /var/lib/duet
duetctl init --config /etc/duet/duet.ini >/dev/null || fail "duetctl init"

# Type=notify: start returns after READY=1
systemctl start duetd || fail "systemctl start duetd"
[ "$(prop ActiveState)" = active ] || fail "duetd is $(prop ActiveState) after start"
status=$(prop StatusText)
[ -n "$status" ] || fail "no STATUS= in StatusText"
ok "started as Type=notify, StatusText: $status"

# refused while running
if out=$(duetd --config /etc/duet/duet.ini --release 2>&1); then
	fail "duetd --release ran while duetd was running: $out"
fi
echo "$out" | grep -q "duetd is running" || fail "--release refusal says: $out"
ok "duetd --release is refused while duetd runs"

# a crash of a master that held the FIP and ran the manager
ip addr add "$FIP" dev "$DEV" || fail "ip addr add"
pid=$(prop MainPID)
kill -KILL "$pid"
wait_for 30 "restart after SIGKILL" restarted 1
fip_absent || fail "the FIP is still on $DEV after duetd crashed"
stops_logged 1 || fail "[manager] stop_command did not run after the crash"
ok "after SIGKILL: FIP released, manager stopped, restarted (NRestarts=$(prop NRestarts))"

# a stalled loop: the watchdog kills and restarts it, and the FIP goes again
ip addr add "$FIP" dev "$DEV" || fail "ip addr add (2)"
pid=$(prop MainPID)
kill -STOP "$pid"
wait_for 40 "watchdog restart after SIGSTOP" restarted 2
[ "$(prop MainPID)" != "$pid" ] || fail "the same duetd is still the main process"
journalctl -u duetd --no-pager | grep -q -i "watchdog timeout" ||
	fail "the journal does not say the watchdog fired"
fip_absent || fail "the FIP is still on $DEV after the watchdog kill"
stops_logged 2 || fail "[manager] stop_command did not run after the watchdog kill"
ok "after SIGSTOP: watchdog timeout, FIP released, restarted (NRestarts=$(prop NRestarts))"

# a clean stop releases too
ip addr add "$FIP" dev "$DEV" || fail "ip addr add (3)"
systemctl stop duetd || fail "systemctl stop duetd"
fip_absent || fail "the FIP is still on $DEV after systemctl stop"
stops_logged 3 || fail "[manager] stop_command did not run after systemctl stop"
[ "$(prop Result)" = success ] || fail "duetd stopped with Result=$(prop Result)"
ok "systemctl stop: FIP released, manager stopped, Result=success"
echo PASS
