#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Formats the C sources with the project's .clang-format; --check only reports.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.c' '*.h'; git ls-files --others --exclude-standard '*.c' '*.h')
[ ${#files[@]} -eq 0 ] && exit 0
if [ "${1:-}" = "--check" ]; then
  if ! clang-format --dry-run -Werror "${files[@]}" 2>/tmp/duet-format.$$; then
    grep -E '^[^ ].*error' /tmp/duet-format.$$ | sed 's/: error:.*//' | sort -u | head -20 >&2
    rm -f /tmp/duet-format.$$
    echo "format: files above differ from .clang-format; run scripts/format.sh" >&2
    exit 1
  fi
  rm -f /tmp/duet-format.$$
  echo "format: ${#files[@]} files clean"
else
  clang-format -i "${files[@]}"
fi
