#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the libFuzzer targets with clang (build-fuzz/) and runs each one.
#
# Usage: scripts/fuzz.sh [--smoke] [TARGET...]
#   --smoke   each target runs DUET_FUZZ_SECONDS (default 10) seconds;
#             without it, DUET_FUZZ_SECONDS defaults to 300.
#   TARGET    run only these (e.g. fuzz_msg); default: every build-fuzz/bin/fuzz_*
#
# Targets are discovered in the build dir, so a module that adds a fuzz_*
# executable is fuzzed without touching this script. Each target starts from
# a temporary copy of tests/fuzz/corpus/<target>/ (the repo is not modified);
# crash inputs go to build-fuzz/artifacts/, logs to build-fuzz/fuzz-logs/.
# Exits non-zero if any target crashed, leaked, ran out of memory or time.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${DUET_FUZZ_SECONDS:-300}
if [ "${1:-}" = "--smoke" ]; then
  seconds=${DUET_FUZZ_SECONDS:-10}
  shift
fi
case "$seconds" in
  '' | *[!0-9]*) echo "fuzz: DUET_FUZZ_SECONDS must be a number of seconds, not '$seconds'" >&2; exit 2 ;;
esac

build="build-fuzz"
artifacts=$build/artifacts
logs=$build/fuzz-logs

# A build dir first configured with another compiler keeps it: start over.
if [ -f $build/CMakeCache.txt ] && ! grep -q '^CMAKE_C_COMPILER:.*clang' $build/CMakeCache.txt; then
  echo "fuzz: $build was configured without clang; reconfiguring"
  rm -rf $build/CMakeCache.txt $build/CMakeFiles
fi
echo "== build $build (clang, DUET_FUZZ=ON)"
CC=clang cmake -S . -B $build -DDUET_FUZZ=ON -DDUET_TESTS=OFF >/dev/null
cmake --build $build -j "$(nproc)"

if [ $# -gt 0 ]; then
  targets=()
  for name in "$@"; do targets+=("$build/bin/$name"); done
else
  shopt -s nullglob
  targets=("$build"/bin/fuzz_*)
  shopt -u nullglob
fi
if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz: no fuzz_* executables in $build/bin" >&2
  exit 1
fi

mkdir -p "$artifacts" "$logs"
work_root=$(mktemp -d "${TMPDIR:-/tmp}/duet-fuzz.XXXXXX")
trap 'rm -rf "$work_root"' EXIT

failed=0
summary=()
for bin in "${targets[@]}"; do
  name=$(basename "$bin")
  if [ ! -x "$bin" ]; then
    summary+=("$name: MISSING (no $bin)")
    failed=1
    continue
  fi
  corpus=$work_root/$name
  mkdir -p "$corpus"
  seeds=tests/fuzz/corpus/$name
  n_seeds=0
  if [ -d "$seeds" ]; then
    cp -R "$seeds"/. "$corpus"/
    n_seeds=$(find "$corpus" -type f | wc -l)
  fi
  log=$logs/$name.log
  echo "== $name: ${seconds}s from $n_seeds seeds (log $log)"
  start=$SECONDS
  rc=0
  "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$artifacts/$name-" "$corpus" >"$log" 2>&1 || rc=$?
  elapsed=$((SECONDS - start))
  execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -1)
  if [ -z "$execs" ]; then # killed before the final stats: last status line
    execs=$(sed -n 's/^#\([0-9]*\).*/\1/p' "$log" | tail -1)
  fi
  units=$(find "$corpus" -type f | wc -l)
  if [ $rc -eq 0 ]; then
    summary+=("$name: ok, ${execs:-0} execs in ${elapsed}s, corpus $n_seeds -> $units")
  else
    failed=1
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    summary+=("$name: FAILED (exit $rc), ${execs:-?} execs in ${elapsed}s, input ${artifact:-none}, log $log")
    why=$(grep -m1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|fuzz check failed|runtime error' "$log" || true)
    [ -n "$why" ] && summary+=("  $why")
  fi
done

echo "== fuzz summary"
printf '%s\n' "${summary[@]}"
exit $failed
