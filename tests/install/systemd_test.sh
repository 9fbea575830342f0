#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# systemd_units: the installed duetd.service under a real systemd as PID 1.
#
# PID 1 of this machine is not systemd, so the test boots one: the host's
# own root, read-only, under a writable overlay on a tmpfs, in a
# systemd-nspawn container with a private network (nothing it sends leaves
# the container). duet is installed into the overlay with `cmake --install
# --prefix /usr` (DESTDIR), so the unit under test is the one a user gets.
# The container boots straight into duet-test.target, whose one service runs
# tests/install/systemd_driver.sh, which at its end makes systemd exit with
# its status (`systemctl exit`), and that ends the container; the driver
# writes its log to a directory bound from here.
#
# What it proves (each line of the driver is one assertion):
#  - Type=notify: `systemctl start duetd` returns once duetd sent READY=1,
#    the unit is active and STATUS= shows in StatusText;
#  - ExecStopPost= (duetd --release): after a crash (SIGKILL) the FIP the
#    master held is gone from the interface and [manager] stop_command ran,
#    before Restart= brings duetd back;
#  - WatchdogSec=: a duetd stopped with SIGSTOP is killed by the watchdog
#    and restarted, and the FIP goes again;
#  - `duetd --release` is refused while duetd runs;
#  - a clean `systemctl stop` releases too.
#
# Usage: systemd_test.sh CMAKE BUILD_DIR SOURCE_DIR
# Needs: systemd-nspawn (systemd-container), overlayfs, root.
set -u
CMAKE=$1
BUILD=$2
SRC=$3
TEST=systemd_units
T=$(mktemp -d /tmp/duet-systemd.XXXXXX)
NSPAWN_PID=
FAILED=0

cleanup() {
	if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
		kill -KILL "$NSPAWN_PID" 2>/dev/null
		wait "$NSPAWN_PID" 2>/dev/null
	fi
	mountpoint -q "$T/root" && umount -l "$T/root"
	mountpoint -q "$T/mem" && umount -l "$T/mem"
	if [ "$FAILED" != 0 ]; then
		for f in "$T"/out/*.log "$T/nspawn.log"; do
			[ -f "$f" ] || continue
			echo "----- $f"
			tail -n 60 "$f"
		done
	fi
	if [ "${DUET_KEEP:-0}" = 1 ]; then
		cp "$T/nspawn.log" "$T/out/" 2>/dev/null
		echo "kept $T/out"
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT

fail() {
	echo "FAIL [$TEST]: $*"
	FAILED=1
	exit 1
}

command -v systemd-nspawn >/dev/null || fail "systemd-nspawn is missing (package systemd-container)"

mkdir -p "$T/mem" "$T/root" "$T/out"
mount -t tmpfs -o size=512m tmpfs "$T/mem" || fail "cannot mount a tmpfs"
mkdir -p "$T/mem/upper" "$T/mem/work"
mount -t overlay overlay -o "lowerdir=/,upperdir=$T/mem/upper,workdir=$T/mem/work" "$T/root" ||
	fail "cannot mount an overlay of / (overlayfs)"
R=$T/root

# the package's files, as `cmake --install` lays them out for /usr
DESTDIR=$R "$CMAKE" --install "$BUILD" --prefix /usr >"$T/out/install.log" 2>&1 ||
	fail "cmake --install into the overlay"
[ -f "$R/lib/systemd/system/duetd.service" ] || fail "no duetd.service was installed"
grep -q '^ExecStopPost=/usr/sbin/duetd --config /etc/duet/duet.ini --release$' \
	"$R/lib/systemd/system/duetd.service" || fail "duetd.service has no ExecStopPost= --release"

# one data node of a three-member cluster whose peers never come: it
# stays a follower, which is all the unit needs (READY comes once the store
# is open and it listens)
mkdir -p "$R/etc/duet"
"$R/usr/bin/duetctl" gencerts --dir "$R/etc/duet/certs" --names node-a,node-b,witness \
	>/dev/null || fail "duetctl gencerts"
cat >"$R/etc/duet/duet.ini" <<'EOC'
[cluster]
name = sd
id = 00000000cafe5d01

[node]
name = node-a
data_dir = /var/lib/duet/store

[member node-a]
id = 1
kind = data
address = 127.0.0.1:47101

[member node-b]
id = 2
kind = data
address = 127.0.0.1:47102

[member witness]
id = 3
kind = witness
address = 127.0.0.1:47103

[tls]
ca = /etc/duet/certs/ca.pem
cert = /etc/duet/certs/node-a.pem
key = /etc/duet/certs/node-a.key

[pg]
conninfo =

[fip]
address = 10.99.0.100/24
interface = duetfip0

[manager]
start_command = true
stop_command = echo stopped >>/var/lib/duet/manager.log
EOC

# the watchdog and restart made short for the test, with a drop-in (as an
# operator would change them)
mkdir -p "$R/etc/systemd/system/duetd.service.d"
cat >"$R/etc/systemd/system/duetd.service.d/test.conf" <<'EOC'
[Service]
WatchdogSec=2s
RestartSec=1s
EOC

install -m 0755 "$SRC/tests/install/systemd_driver.sh" "$R/usr/local/sbin/duet-systemd-driver"
cat >"$R/etc/systemd/system/duet-test.target" <<'EOC'
[Unit]
Description=duet systemd_units test
Requires=duet-test.service
After=duet-test.service
AllowIsolate=yes
EOC
cat >"$R/etc/systemd/system/duet-test.service" <<'EOC'
[Unit]
Description=duet systemd_units test driver
After=systemd-journald.service
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/duet-systemd-driver /duet-out
StandardOutput=append:/duet-out/driver.log
StandardError=append:/duet-out/driver.log
TimeoutStartSec=150
EOC

timeout --kill-after=10 60 systemd-nspawn --quiet --keep-unit --register=no \
	--private-network --directory="$R" --bind="$T/out:/duet-out" \
	--boot -- systemd.unit=duet-test.target systemd.firstboot=off \
	>"$T/nspawn.log" 2>&1 </dev/null &
NSPAWN_PID=$!
wait "$NSPAWN_PID"
rc=$?
NSPAWN_PID=
[ -f "$T/out/driver.log" ] || fail "the container never ran the driver (systemd-nspawn exit $rc)"
cat "$T/out/driver.log"
grep -q '^PASS$' "$T/out/driver.log" || fail "the driver did not pass (systemd-nspawn exit $rc)"
[ "$rc" = 0 ] || fail "the driver passed but the container exited $rc"
echo "ok [$TEST]: duetd.service under systemd: notify, ExecStopPost release, watchdog"
