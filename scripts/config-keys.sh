#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Keeps the table of config keys in docs/configuration.md equal to the
# program's (the key table in daemon/config.c, printed by `duetctl
# check-config --print-keys --markdown`). The table sits between two marker
# lines in docs/configuration.md:
#   <!-- config-keys:begin -->  ...  <!-- config-keys:end -->
#
# Usage: scripts/config-keys.sh [--check] [DUETCTL]
#   --check  only compare; exit 1 with a diff if the page is out of date
#            (ctest runs this as config_docs_keys)
#   DUETCTL  the duetctl binary (default: build/bin/duetctl)
set -euo pipefail
cd "$(dirname "$0")/.."

check=0
if [ "${1:-}" = "--check" ]; then
  check=1
  shift
fi
duetctl=${1:-build/bin/duetctl}
doc=docs/configuration.md
begin='<!-- config-keys:begin -->'
end='<!-- config-keys:end -->'

if [ ! -x "$duetctl" ]; then
  echo "config-keys: $duetctl not found or not executable; build first (cmake --build build)" >&2
  exit 2
fi
if ! grep -qxF "$begin" $doc || ! grep -qxF "$end" $doc; then
  echo "config-keys: $doc has no '$begin' / '$end' markers" >&2
  exit 2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$duetctl" check-config --print-keys --markdown >"$tmp/program"
# the lines strictly between the markers
awk -v b="$begin" -v e="$end" '$0 == e {inside = 0} inside {print} $0 == b {inside = 1}' \
  $doc >"$tmp/doc"

if [ $check -eq 1 ]; then
  if ! diff -u --label "docs/configuration.md (config keys)" --label "duetctl check-config --print-keys --markdown" \
      "$tmp/doc" "$tmp/program"; then
    echo "config-keys: docs/configuration.md's key table differs from the program's; run scripts/config-keys.sh" >&2
    exit 1
  fi
  echo "config-keys: docs/configuration.md matches the program's $(grep -c '^| `' "$tmp/program") keys"
  exit 0
fi

awk -v b="$begin" -v e="$end" -v table="$tmp/program" '
  $0 == b {print; while ((getline line < table) > 0) print line; skip = 1; next}
  $0 == e {skip = 0}
  !skip {print}' $doc >"$tmp/configuration.md"
cp "$tmp/configuration.md" $doc
echo "config-keys: docs/configuration.md updated"
