#!/usr/bin/env bash
# Keeps the README's table of config keys equal to the program's (the key
# table in daemon/config.c, printed by `duetctl check-config --print-keys
# --markdown`). The table sits between two marker lines in README.md:
#   <!-- config-keys:begin -->  ...  <!-- config-keys:end -->
#
# Usage: scripts/config-keys.sh [--check] [DUETCTL]
#   --check  only compare; exit 1 with a diff if the README is out of date
#            (ctest runs this as config_readme_keys)
#   DUETCTL  the duetctl binary (default: build/bin/duetctl)
set -euo pipefail
cd "$(dirname "$0")/.."

check=0
if [ "${1:-}" = "--check" ]; then
  check=1
  shift
fi
duetctl=${1:-build/bin/duetctl}
readme=README.md
begin='<!-- config-keys:begin -->'
end='<!-- config-keys:end -->'

if [ ! -x "$duetctl" ]; then
  echo "config-keys: $duetctl not found or not executable; build first (cmake --build build)" >&2
  exit 2
fi
if ! grep -qxF "$begin" $readme || ! grep -qxF "$end" $readme; then
  echo "config-keys: $readme has no '$begin' / '$end' markers" >&2
  exit 2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$duetctl" check-config --print-keys --markdown >"$tmp/program"
# the lines strictly between the markers
awk -v b="$begin" -v e="$end" '$0 == e {inside = 0} inside {print} $0 == b {inside = 1}' \
  $readme >"$tmp/readme"

if [ $check -eq 1 ]; then
  if ! diff -u --label "README.md (config keys)" --label "duetctl check-config --print-keys --markdown" \
      "$tmp/readme" "$tmp/program"; then
    echo "config-keys: README.md's key table differs from the program's; run scripts/config-keys.sh" >&2
    exit 1
  fi
  echo "config-keys: README.md matches the program's $(grep -c '^| `' "$tmp/program") keys"
  exit 0
fi

awk -v b="$begin" -v e="$end" -v table="$tmp/program" '
  $0 == b {print; while ((getline line < table) > 0) print line; skip = 1; next}
  $0 == e {skip = 0}
  !skip {print}' $readme >"$tmp/README.md"
cp "$tmp/README.md" $readme
echo "config-keys: README.md updated"
