#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# install_test.sh - what `cmake --install` puts on a machine
# (docs/install.md), checked in a DESTDIR under a mktemp dir, removed on any exit.
#
# usage: install_test.sh CMAKE BUILD_DIR
#
# 1. `DESTDIR=... cmake --install BUILD --prefix /usr`: exactly the expected
#    files (three programs, two units, three example configs, the agent
#    snippets, the README, LICENSE, CHANGELOG and docs/, four man pages) and the state dir /var/lib/duet 0700; no test,
#    bench or demo binary, no library, no header.
# 2. The programs run (--version); the units name the installed daemons and
#    /etc/duet/duet.ini, and `systemd-analyze verify` prints nothing on them.
#    systemd-analyze missing is a failure, not a skip (scripts/install-deps.sh
#    installs it).
# 3. The example configs pass the installed `duetctl check-config --no-files`
#    and put data_dir below the state dir.
# 4. Installing again with --prefix /usr/local moves binaries, config dir and
#    the units' paths with it (the units are written at install time).
set -u
CMAKE=$1
BUILD=$2

tmp=$(mktemp -d /tmp/duet-install-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}
ok() { echo "ok: $*"; }
not() { ! "$@"; }
# check WHAT COMMAND...: ok WHAT when COMMAND succeeds, else a failure
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else fail "$what"; fi
}

# ---- 1. the layout ----------------------------------------------------------
root=$tmp/usr-prefix
if ! DESTDIR=$root "$CMAKE" --install "$BUILD" --prefix /usr >"$tmp/install.log" 2>&1; then
	cat "$tmp/install.log"
	echo "FAIL: cmake --install failed"
	exit 1
fi

expected="/etc/duet/examples/agent/find-master.sh
/etc/duet/examples/agent/haproxy.cfg
/etc/duet/examples/grafana/duet.json
/etc/duet/examples/node-a.ini
/etc/duet/examples/node-b.ini
/etc/duet/examples/prometheus/duet.rules.yml
/etc/duet/examples/witness.ini
/lib/systemd/system/duet-witness.service
/lib/systemd/system/duetd.service
/usr/bin/duetctl
/usr/sbin/duet-witness
/usr/sbin/duetd
/usr/share/doc/duet/CHANGELOG.md
/usr/share/doc/duet/LICENSE
/usr/share/doc/duet/README.md
/usr/share/doc/duet/docs/architecture.md
/usr/share/doc/duet/docs/benchmarks.md
/usr/share/doc/duet/docs/configuration.md
/usr/share/doc/duet/docs/first-cluster.md
/usr/share/doc/duet/docs/http-api.md
/usr/share/doc/duet/docs/install.md
/usr/share/doc/duet/docs/limits.md
/usr/share/doc/duet/docs/metrics.md
/usr/share/doc/duet/docs/operations.md
/usr/share/doc/duet/docs/testing.md
/usr/share/doc/duet/docs/traps.md
/usr/share/man/man5/duet.ini.5
/usr/share/man/man8/duet-witness.8
/usr/share/man/man8/duetctl.8
/usr/share/man/man8/duetd.8"
unit_dir=$("$CMAKE" -L -N "$BUILD" 2>/dev/null | sed -n 's/^DUET_SYSTEMD_UNIT_DIR:PATH=//p')
if [ "$unit_dir" != /lib/systemd/system ]; then
	expected=$(echo "$expected" | sed "s|^/lib/systemd/system/|$unit_dir/|" | sort)
fi
actual=$(cd "$root" && find . ! -type d | sed 's|^\.||' | sort)
if [ "$actual" = "$expected" ]; then
	ok "installed exactly the $(echo "$expected" | wc -l) expected files"
else
	fail "installed files differ from the expected list (< expected, > installed):"
	diff <(echo "$expected") <(echo "$actual")
fi
# every directory holds an expected file, or is the state dir
stray=$(cd "$root" && find . -mindepth 1 -type d -empty | sed 's|^\.||' | grep -vx /var/lib/duet)
check "no empty directory but the state dir ($stray)" [ -z "$stray" ]

mode=$(stat -c %a "$root/var/lib/duet" 2>/dev/null)
check "/var/lib/duet is 0700 (it is '$mode')" [ "$mode" = 700 ]

# ---- 2. programs and units ---------------------------------------------------
for p in /usr/sbin/duetd /usr/sbin/duet-witness /usr/bin/duetctl; do
	if [ -x "$root$p" ] && "$root$p" --version >/dev/null 2>&1; then
		ok "$p runs"
	else
		fail "$p is not executable or --version fails"
	fi
done
check "find-master.sh is executable" [ -x "$root/etc/duet/examples/agent/find-master.sh" ]

if ! command -v systemd-analyze >/dev/null; then
	fail "systemd-analyze not found: run scripts/install-deps.sh (package systemd)"
else
	mkdir -p "$tmp/verify"
	for u in duetd duet-witness; do
		f=$root$unit_dir/$u.service
		exe=$(sed -n 's/^ExecStart=\([^ ]*\) .*/\1/p' "$f")
		check "$u.service runs /usr/sbin/$u (it runs '$exe')" [ "$exe" = "/usr/sbin/$u" ]
		check "$u.service: ExecStart=/usr/sbin/$u --config /etc/duet/duet.ini" \
			grep -qx "ExecStart=/usr/sbin/$u --config /etc/duet/duet.ini" "$f"
		check "$u.service: no @VARIABLE@ left" not grep -q '@[A-Z_]*@' "$f"
		# a failed storage write (exit 74) is never restarted into a page
		# cache that may hold lost write-backs; the store's volume must be
		# mounted before the daemon starts
		check "$u.service: RestartPreventExitStatus=2 74" \
			grep -qx "RestartPreventExitStatus=2 74" "$f"
		check "$u.service: RequiresMountsFor=/var/lib/duet" \
			grep -qx "RequiresMountsFor=/var/lib/duet" "$f"
		# verify checks that ExecStart/ExecStopPost exist here: point them at
		# the DESTDIR copy, everything else unchanged
		sed "s|^\(Exec[A-Za-z]*=\)/usr/sbin/|\1$root/usr/sbin/|" "$f" >"$tmp/verify/$u.service"
	done
	out=$(systemd-analyze verify "$tmp/verify/duetd.service" "$tmp/verify/duet-witness.service" 2>&1)
	rc=$?
	if [ $rc -eq 0 ] && [ -z "$out" ]; then
		ok "systemd-analyze verify: clean"
	else
		fail "systemd-analyze verify (exit $rc) says:"
		echo "$out"
	fi
fi

# ---- 3. example configs ------------------------------------------------------
for m in node-a node-b witness; do
	f=$root/etc/duet/examples/$m.ini
	if out=$("$root/usr/bin/duetctl" check-config "$f" --no-files 2>&1); then
		ok "examples/$m.ini passes check-config --no-files"
	else
		fail "examples/$m.ini: check-config says:"
		echo "$out"
	fi
	check "examples/$m.ini: data_dir = /var/lib/duet/store" grep -qx 'data_dir = /var/lib/duet/store' "$f"
done

# ---- 4. another prefix --------------------------------------------------------
root2=$tmp/local-prefix
if DESTDIR=$root2 "$CMAKE" --install "$BUILD" --prefix /usr/local >"$tmp/install2.log" 2>&1; then
	f=$root2$unit_dir/duetd.service
	check "--prefix /usr/local: ExecStart=/usr/local/sbin/duetd --config /usr/local/etc/duet/duet.ini" \
		grep -qx 'ExecStart=/usr/local/sbin/duetd --config /usr/local/etc/duet/duet.ini' "$f"
	check "--prefix /usr/local: duetd in /usr/local/sbin" [ -x "$root2/usr/local/sbin/duetd" ]
	check "--prefix /usr/local: examples in /usr/local/etc/duet/examples" \
		[ -f "$root2/usr/local/etc/duet/examples/node-a.ini" ]
	check "--prefix /usr/local: man pages in /usr/local/share/man" \
		test -f "$root2/usr/local/share/man/man8/duetd.8" -a -f "$root2/usr/local/share/man/man5/duet.ini.5"
else
	cat "$tmp/install2.log"
	fail "cmake --install --prefix /usr/local failed"
fi

if [ $failures -ne 0 ]; then
	echo "install_test: $failures failed"
	exit 1
fi
echo "install_test: all checks passed"
