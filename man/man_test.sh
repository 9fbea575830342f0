#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# man_test.sh MAN_DIR DUET_CONFIG_DOC DUETCTL - the man pages as built:
# 1. `man -l` renders each of duetd.8, duet-witness.8, duetctl.8 and
#    duet.ini.5 with groff's warnings on and says nothing on stderr;
# 2. every config key ([section] key, from duet-config-doc --keys, i.e. the
#    key table itself) appears in duet.ini(5), under its section;
# 3. every duetctl command (from `duetctl --help`'s command list) has its
#    own section in duetctl(8).
set -u
dir=$1 configdoc=$2 duetctl=$3
failures=0
fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}
tmp=$(mktemp -d /tmp/duet-man-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# rendered text of a page, warnings in $tmp/err; MANWIDTH fixed so the test
# does not depend on the terminal
render() {
	MANROFFSEQ= MANWIDTH=80 man --warnings -l "$1" 2>"$tmp/err" | col -b
}

for p in duetd.8 duet-witness.8 duetctl.8 duet.ini.5; do
	f=$dir/$p
	if [ ! -s "$f" ]; then
		fail "$p was not built"
		continue
	fi
	render "$f" >"$tmp/$p.txt"
	if [ -s "$tmp/err" ]; then
		fail "$p: man --warnings says:"
		cat "$tmp/err"
	elif [ ! -s "$tmp/$p.txt" ]; then
		fail "$p renders as nothing"
	else
		echo "ok: $p renders without warnings ($(wc -l <"$tmp/$p.txt") lines)"
	fi
done

# 2. every key, in its section: the section's heading comes before the key's
# entry, and no other section heading comes between them
keys=$("$configdoc" --keys) || fail "duet-config-doc --keys failed"
n=0 missing=0
while read -r line; do
	section=${line% *}
	key=${line##* }
	n=$((n + 1))
	if ! awk -v s="$section" -v k="$key" '
		/^   \[/ {cur = $0; sub(/^ +/, "", cur)}
		cur == s && $1 == k {found = 1}
		END {exit !found}' "$tmp/duet.ini.5.txt"; then
		fail "duet.ini(5) lacks $section $key"
		missing=$((missing + 1))
	fi
done <<<"$keys"
[ $n -gt 0 ] || fail "duet-config-doc --keys listed no key"
[ $missing -eq 0 ] && echo "ok: all $n config keys are in duet.ini(5) under their sections"

# 3. every command has its section (an indented heading line of its own)
cmds=$("$duetctl" --help | awk '/^Commands:/ {on = 1; next} on && /^  [a-z]/ {print $1} on && /^$/ {exit}')
[ -n "$cmds" ] || fail "no command list in duetctl --help"
nc=0
for c in $cmds; do
	nc=$((nc + 1))
	grep -qx "   $c" "$tmp/duetctl.8.txt" || fail "duetctl(8) has no section for '$c'"
	grep -q "usage: duetctl $c " "$tmp/duetctl.8.txt" || fail "duetctl(8) lacks the usage of '$c'"
done
echo "ok: checked $nc duetctl commands in duetctl(8)"

if [ $failures -gt 0 ]; then
	echo "man_pages: $failures failure(s)"
	exit 1
fi
echo "man_pages: all passed"
