#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# package_test.sh - the Debian packages (debian/, docs/install.md): built,
# checked by lintian, installed into a clean root, run from there, purged.
# Everything happens under a mktemp dir, removed on any exit.
#
# usage: package_test.sh SOURCE_DIR
#
# 1. A copy of the source tree (git's tracked and unignored files, so no
#    build dir), `dpkg-buildpackage -us -uc -b` in it: duet and duet-witness
#    (and their -dbgsym); the version is CMakeLists.txt's project version.
# 2. lintian: no error, warning or info tag left (overrides say why).
# 3. Each package holds exactly its files; Depends; the maintainer scripts
#    enable the units and never start them.
# 4. A clean root (tests/package/mkroot.py: the Depends of the packages and
#    what maintainer scripts need, copied from this host, with systemd, as
#    on a machine that runs the units): `dpkg --root` installs both, twice.
#    There: the duet system user and group, /var/lib/duet root-owned 0700,
#    /etc/duet, the units enabled; `duetctl --version` and the daemons'
#    --version, `duetctl check-config` on the examples and `systemd-analyze
#    verify` on the units, each run chrooted, from the installed files.
# 5. Purge: programs, units and enablement gone; the user stays (Debian
#    leaves system users, files may still be theirs), and so does the store.
# Needs root (chroot, mknod), dpkg-dev, debhelper, lintian, git, python3.
set -u
SRC=$(cd "$1" && pwd)

tmp=$(mktemp -d /tmp/duet-package-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}
ok() { echo "ok: $*"; }
not() { ! "$@"; }
gone() { [ ! -e "$1" ] && [ ! -L "$1" ]; }
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else fail "$what"; fi
}
die() {
	echo "FAIL: $*"
	exit 1
}

[ "$(id -u)" -eq 0 ] || die "needs root: dpkg --root runs the maintainer scripts chrooted"
for t in dpkg-buildpackage dh lintian chroot python3; do
	command -v "$t" >/dev/null || die "$t not found: run scripts/install-deps.sh"
done

# ---- 1. build -----------------------------------------------------------------
mkdir "$tmp/src"
if git -C "$SRC" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	(cd "$SRC" && git ls-files -z --cached --others --exclude-standard |
		tar -cf - --null -T -) | tar -C "$tmp/src" -xf - || die "copying the tree failed"
else
	tar -C "$SRC" --exclude='./build*' --exclude=./.git -cf - . | tar -C "$tmp/src" -xf - ||
		die "copying the tree failed"
fi
cd "$tmp/src" || die "no copy"
[ -f debian/control ] || die "no debian/control in $SRC: nothing to package"
dpkg-checkbuilddeps || die "build dependencies missing (above): run scripts/install-deps.sh"
start=$(date +%s)
if ! DEB_BUILD_OPTIONS="parallel=$(nproc)" dpkg-buildpackage -us -uc -b >"$tmp/build.log" 2>&1; then
	tail -40 "$tmp/build.log"
	die "dpkg-buildpackage failed (its log's tail above)"
fi
echo "info: dpkg-buildpackage took $(($(date +%s) - start)) s"
cd "$tmp" || exit 1

version=$(dpkg-parsechangelog -l "$tmp/src/debian/changelog" -S Version)
cmake_version=$(sed -n 's/^project(duet VERSION \([^ )]*\).*/\1/p' "$SRC/CMakeLists.txt")
check "debian/changelog's version ($version) is CMakeLists.txt's ($cmake_version)" \
	test -n "$version" -a "$version" = "$cmake_version"
arch=$(dpkg --print-architecture)
duet=$tmp/duet_${version}_$arch.deb
witness=$tmp/duet-witness_${version}_$arch.deb
for f in "$duet" "$witness"; do
	[ -f "$f" ] || die "$(basename "$f") was not built; built: $(ls "$tmp")"
done

# ---- 2. lintian -----------------------------------------------------------------
lintian -I --pedantic --fail-on error,warning,info "$tmp/duet_${version}_$arch.changes" >"$tmp/lintian.out" 2>&1
rc=$?
out=$(grep -v '^running with root privileges' "$tmp/lintian.out")
if [ $rc -eq 0 ] && [ -z "$out" ]; then
	ok "lintian: no tag (overrides in debian/*.lintian-overrides)"
else
	fail "lintian says:"
	echo "$out"
fi

# ---- 3. the packages ----------------------------------------------------------
files_of() { dpkg-deb -c "$1" | awk '$1 !~ /^d/ {print $6}' | sed 's|^\.||' | sort; }
docs=$(cd "$SRC/docs" && for f in *.md; do echo "/usr/share/doc/duet/docs/$f"; done)
expected_duet=$(sort <<EOF
/lib/systemd/system/duetd.service
/usr/bin/duetctl
/usr/sbin/duetd
/usr/share/doc/duet/CHANGELOG.md
/usr/share/doc/duet/README.md
/usr/share/doc/duet/changelog.gz
/usr/share/doc/duet/copyright
/usr/share/doc/duet/examples/agent/find-master.sh
/usr/share/doc/duet/examples/agent/haproxy.cfg
/usr/share/doc/duet/examples/grafana/duet.json
/usr/share/doc/duet/examples/node-a.ini
/usr/share/doc/duet/examples/node-b.ini
/usr/share/doc/duet/examples/prometheus/duet.rules.yml
/usr/share/doc/duet/examples/witness.ini
/usr/share/lintian/overrides/duet
/usr/share/man/man5/duet.ini.5.gz
/usr/share/man/man8/duetctl.8.gz
/usr/share/man/man8/duetd.8.gz
$docs
EOF
)
expected_witness="/lib/systemd/system/duet-witness.service
/usr/sbin/duet-witness
/usr/share/doc/duet-witness/changelog.gz
/usr/share/doc/duet-witness/copyright
/usr/share/lintian/overrides/duet-witness
/usr/share/man/man8/duet-witness.8.gz"
for p in duet witness; do
	deb=$duet expected=$expected_duet
	[ $p = witness ] && deb=$witness expected=$expected_witness
	actual=$(files_of "$deb")
	if [ "$actual" = "$expected" ]; then
		ok "$(basename "$deb"): exactly the expected files"
	else
		fail "$(basename "$deb"): files differ (- expected, + actual):"
		diff <(echo "$expected") <(echo "$actual") | grep '^[<>]' | sed 's/^</-/; s/^>/+/'
	fi
	check "$(basename "$deb"): ships /etc/duet" grep -q ' ./etc/duet/$' <<<"$(dpkg-deb -c "$deb")"
done

dep_duet=$(dpkg-deb -f "$duet" Depends)
dep_witness=$(dpkg-deb -f "$witness" Depends)
echo "info: duet Depends: $dep_duet"
echo "info: duet-witness Depends: $dep_witness"
for p in duet duet-witness; do
	d=$dep_duet
	[ $p = duet-witness ] && d=$dep_witness
	for need in adduser procps libc6 libssl3 liblmdb0 libuv1; do
		check "$p depends on $need" grep -qE "(^|, )$need( |,|$)" <<<"$d"
	done
	check "$p does not depend on a PostgreSQL server or client" not grep -q 'postgresql' <<<"$d"
done
check "duet depends on libpq5 (duetd's connection to PostgreSQL)" grep -q 'libpq5' <<<"$dep_duet"
check "duet recommends postgresql-15" [ "$(dpkg-deb -f "$duet" Recommends)" = postgresql-15 ]
# duet-witness is linked with the same daemon library as duetd today
# (daemon/CMakeLists.txt: duet_node), libpq included; reported, not failed
if grep -q 'libpq5' <<<"$dep_witness"; then
	echo "note: duet-witness depends on libpq5: the witness links duet_node, which holds the PostgreSQL actions"
fi

for p in duet:duetd duet-witness:duet-witness; do
	pkg=${p%%:*} unit=${p#*:}.service
	deb=$duet
	[ "$pkg" = duet-witness ] && deb=$witness
	dpkg-deb -e "$deb" "$tmp/ctl-$pkg"
	check "$pkg postinst enables $unit" grep -q "deb-systemd-helper enable '$unit'" "$tmp/ctl-$pkg/postinst"
	check "$pkg: no maintainer script starts or restarts $unit" \
		not grep -qE 'deb-systemd-invoke (start|restart|try-restart)|invoke-rc.d' "$tmp/ctl-$pkg"/*
done

# ---- 4. install into a clean root ---------------------------------------------
root=$tmp/root
mkdir "$root"
python3 "$SRC/tests/package/mkroot.py" "$root" --also systemd "$duet" "$witness" || die "mkroot.py failed"
chroot "$root" /usr/bin/duetctl --version >/dev/null 2>&1 &&
	fail "duetctl runs in the root before the package is installed (the root is not clean)"
for round in first second; do
	if dpkg --root="$root" -i "$duet" "$witness" >"$tmp/install.log" 2>&1; then
		ok "dpkg --root installs both packages ($round time)"
	else
		fail "dpkg --root -i ($round time) says:"
		cat "$tmp/install.log"
	fi
done

pw=$(grep '^duet:' "$root/etc/passwd")
check "user duet exists ($pw)" [ -n "$pw" ]
uid=$(cut -d: -f3 <<<"$pw")
check "duet is a system user (uid $uid < 1000)" [ "${uid:-1000}" -lt 1000 ]
check "duet cannot log in" [ "$(cut -d: -f7 <<<"$pw")" = /usr/sbin/nologin ]
check "group duet exists" grep -q '^duet:' "$root/etc/group"
check "one duet user after two installs" [ "$(grep -c '^duet:' "$root/etc/passwd")" -eq 1 ]
check "/var/lib/duet: root:root 0700 ($(stat -c '%U:%G %a' "$root/var/lib/duet" 2>&1))" \
	[ "$(stat -c '%U:%G %a' "$root/var/lib/duet")" = "root:root 700" ]
check "/etc/duet exists" [ -d "$root/etc/duet" ]
check "/etc/duet/duet.ini is not installed (the admin's file)" [ ! -e "$root/etc/duet/duet.ini" ]
for u in duetd duet-witness; do
	link=$root/etc/systemd/system/multi-user.target.wants/$u.service
	check "$u.service enabled ($link)" [ "$(readlink "$link")" = "/lib/systemd/system/$u.service" ]
	check "$u.service: ExecStart=/usr/sbin/$u --config /etc/duet/duet.ini" \
		grep -qx "ExecStart=/usr/sbin/$u --config /etc/duet/duet.ini" "$root/lib/systemd/system/$u.service"
done
# shellcheck disable=SC2013 # Documentation= is a list of words
for doc in $(sed -n 's/^Documentation=//p' "$root/lib/systemd/system/duetd.service"); do
	check "duetd.service's Documentation $doc is installed" [ -f "$root${doc#file://}" ]
done

for prog in /usr/bin/duetctl /usr/sbin/duetd /usr/sbin/duet-witness; do
	out=$(chroot "$root" "$prog" --version 2>&1)
	check "$prog --version in the root: '$out'" [ "$out" = "$(basename "$prog") $version" ]
done
for m in node-a node-b witness; do
	f=/usr/share/doc/duet/examples/$m.ini
	if out=$(chroot "$root" /usr/bin/duetctl check-config "$f" --no-files 2>&1); then
		ok "duetctl check-config $f --no-files"
	else
		fail "duetctl check-config $f says:"
		echo "$out"
	fi
done
out=$(chroot "$root" /usr/bin/systemd-analyze verify duetd.service duet-witness.service 2>&1)
rc=$?
if [ $rc -eq 0 ] && [ -z "$out" ]; then
	ok "systemd-analyze verify in the root: clean"
else
	fail "systemd-analyze verify in the root (exit $rc) says:"
	echo "$out"
fi

# ---- 5. purge ------------------------------------------------------------------
if dpkg --root="$root" --purge duet duet-witness >"$tmp/purge.log" 2>&1; then
	ok "dpkg --root --purge duet duet-witness"
else
	fail "dpkg --purge says:"
	cat "$tmp/purge.log"
fi
for f in /usr/bin/duetctl /usr/sbin/duetd /usr/sbin/duet-witness /lib/systemd/system/duetd.service \
	/lib/systemd/system/duet-witness.service /etc/systemd/system/multi-user.target.wants/duetd.service \
	/etc/systemd/system/multi-user.target.wants/duet-witness.service; do
	check "purged: $f" gone "$root$f"
done
check "purged: the duet user stays" grep -q '^duet:' "$root/etc/passwd"
check "purged: /var/lib/duet stays (a store is not removed by a package)" [ -d "$root/var/lib/duet" ]

echo "info: the whole test took $(($(date +%s) - start)) s from the build's start"
if [ $failures -ne 0 ]; then
	echo "$failures check(s) failed"
	exit 1
fi
echo "all package checks passed"
