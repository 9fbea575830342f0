#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# spdx.sh - puts an SPDX licence line on every source file of the tree:
# C sources and headers, shell and Python scripts, CMake files, and any
# other file that starts with a shebang. Idempotent: a file that already
# names an SPDX-License-Identifier in its first 5 lines is left as it is.
#
#   C, headers        /* SPDX-License-Identifier: MIT */    as line 1
#   everything else   # SPDX-License-Identifier: MIT        as line 1, or
#                                                          line 2 after a #!
#
# usage: scripts/spdx.sh [--check] [DIR]
#   --check  change nothing; list the files without the line, exit 1 if any
#   DIR      the tree (default: the repository this script is in)
# Build directories (build*/ at the top) and .git are skipped.
set -euo pipefail

license=MIT
check=0
if [ "${1:-}" = "--check" ]; then
	check=1
	shift
fi
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"

# every candidate file, NUL-separated, relative to the tree
candidates() {
	find . \( -path ./.git -o -path './build*' \) -prune -o -type f -print0 |
		while IFS= read -r -d '' f; do
			case $f in
			*.c | *.h | *.sh | *.py | *.cmake | */CMakeLists.txt) printf '%s\0' "$f" ;;
			*)
				# a script without an extension: text whose first bytes are #!
				[ "$(head -c 2 "$f" 2>/dev/null | tr -d '\0')" = '#!' ] && printf '%s\0' "$f"
				;;
			esac
		done
}

has_line() { head -n 5 "$1" | grep -q 'SPDX-License-Identifier:'; }

add_line() {
	local f=$1 tmp
	tmp=$(mktemp "$f.spdx.XXXXXX")
	case $f in
	*.c | *.h)
		{
			printf '/* SPDX-License-Identifier: %s */\n' "$license"
			cat "$f"
		} >"$tmp"
		;;
	*)
		if [ "$(head -c 2 "$f" | tr -d '\0')" = '#!' ]; then
			{
				head -n 1 "$f"
				printf '# SPDX-License-Identifier: %s\n' "$license"
				tail -n +2 "$f"
			} >"$tmp"
		else
			{
				printf '# SPDX-License-Identifier: %s\n' "$license"
				cat "$f"
			} >"$tmp"
		fi
		;;
	esac
	chmod --reference="$f" "$tmp"
	mv "$tmp" "$f"
}

missing=0 added=0 total=0
while IFS= read -r -d '' f; do
	total=$((total + 1))
	has_line "$f" && continue
	if [ $check -eq 1 ]; then
		echo "spdx: no SPDX-License-Identifier: ${f#./}"
		missing=$((missing + 1))
	else
		add_line "$f"
		added=$((added + 1))
	fi
done < <(candidates)

if [ $check -eq 1 ]; then
	if [ $missing -gt 0 ]; then
		echo "spdx: $missing of $total files lack the line; run scripts/spdx.sh" >&2
		exit 1
	fi
	echo "spdx: all $total files carry an SPDX-License-Identifier"
	exit 0
fi
echo "spdx: added the line to $added of $total files"
