#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# gen.sh - writes the scdoc source of one man page from its template and the
# program's own tables, so the page says what --help says.
#
# usage: gen.sh duetd|duet-witness TEMPLATE OUT PROGRAM
#        gen.sh duetctl            TEMPLATE OUT DUETCTL
#        gen.sh duet.ini           TEMPLATE OUT DUET_CONFIG_DOC
#
# The template is scdoc with one placeholder line:
#   @HELP@      (daemons) PROGRAM --help up to its key table, as a literal block
#   @COMMANDS@  (duetctl) one subsection per row of duetctl's command table:
#               the summary from `duetctl --help`, then `duetctl help NAME`
#   @KEYS@      (duet.ini) the key table, from duet-config-doc
# Exit 1 when a program fails or prints nothing usable: a page with a part
# missing must fail the build.
set -euo pipefail
page=$1 template=$2 out=$3 prog=$4
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

literal() { # stdin as a scdoc literal block
	echo '```'
	cat
	echo '```'
}

case $page in
duetd | duet-witness)
	help=$("$prog" --help)
	body=$(printf '%s\n' "$help" | sed '/^Config keys:/,$d')
	[ -n "$body" ] || { echo "gen.sh: $prog --help printed nothing" >&2; exit 1; }
	printf '%s\n' "$body" | literal >"$tmp"
	placeholder=@HELP@
	;;
duetctl)
	list=$("$prog" --help | awk '/^Commands:/ {on = 1; next} on && /^  [a-z]/ {print} on && /^$/ {exit}')
	[ -n "$list" ] || { echo "gen.sh: no command list in $prog --help" >&2; exit 1; }
	while read -r name summary; do
		{
			printf '## %s\n\n' "$name"
			printf '%s\n\n' "$summary" | sed 's/[\\*_]/\\&/g'
			"$prog" help "$name" | literal
			echo
		} >>"$tmp"
	done <<<"$list"
	placeholder=@COMMANDS@
	;;
duet.ini)
	"$prog" >"$tmp"
	placeholder=@KEYS@
	;;
*)
	echo "gen.sh: unknown page $page" >&2
	exit 2
	;;
esac

grep -qx "$placeholder" "$template" || { echo "gen.sh: $template has no $placeholder line" >&2; exit 1; }
awk -v ph="$placeholder" -v part="$tmp" '
	$0 == ph {while ((getline l < part) > 0) print l; next}
	{print}' "$template" >"$out"
