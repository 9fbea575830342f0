#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# monitoring_test.sh SRC TEST - the examples for Prometheus and Grafana
# (examples/prometheus/duet.rules.yml, examples/grafana/duet.json):
#   rules      promtool check rules, then promtool test rules: each alert
#              fires on the series that should raise it, after its `for`,
#              and not on those that should not (duet.rules.test.yml)
#   dashboard  the dashboard is what scripts/grafana-dashboard.py makes;
#              every expression in it parses (promtool check rules on a
#              rules file made of them); every duet_ family the rules and
#              the dashboard name is one duetd writes (daemon/http_metrics*.c)
set -uo pipefail
SRC=$1
TEST=$2
fail() {
	echo "FAIL [$TEST]: $*"
	exit 1
}
ok() { echo "ok [$TEST]: $*"; }
command -v promtool >/dev/null || fail "promtool missing: scripts/install-deps.sh installs prometheus"
TMP=$(mktemp -d /tmp/duet-monitoring.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

case "$TEST" in
rules)
	promtool check rules "$SRC/examples/prometheus/duet.rules.yml" >"$TMP/out" 2>&1 ||
		fail "promtool check rules: $(cat "$TMP/out")"
	ok "$(grep -o 'SUCCESS.*' "$TMP/out")"
	(cd "$SRC/tests/monitoring" && promtool test rules duet.rules.test.yml) >"$TMP/out" 2>&1 ||
		fail "promtool test rules: $(cat "$TMP/out")"
	ok "promtool test rules: $(grep -c '^- name:' "$SRC/tests/monitoring/duet.rules.test.yml") cases, every alert fires and stays quiet as it should"
	;;
dashboard)
	python3 "$SRC/scripts/grafana-dashboard.py" --check || fail "the dashboard is stale"
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["panels"]' \
		"$SRC/examples/grafana/duet.json" || fail "duet.json does not load"
	python3 "$SRC/scripts/grafana-dashboard.py" --exprs >"$TMP/exprs" || fail "--exprs"
	python3 - "$TMP/exprs" "$TMP/rules.yml" <<'PY' || fail "cannot write the rules file"
import json, sys
exprs = [l.rstrip("\n") for l in open(sys.argv[1]) if l.strip()]
with open(sys.argv[2], "w") as f:
    f.write("groups:\n  - name: dashboard\n    rules:\n")
    for i, e in enumerate(exprs):
        # JSON strings are valid YAML scalars
        f.write(f"      - record: dashboard:panel_{i}\n        expr: {json.dumps(e)}\n")
PY
	promtool check rules "$TMP/rules.yml" >"$TMP/out" 2>&1 ||
		fail "a dashboard expression does not parse: $(cat "$TMP/out")"
	ok "all $(wc -l <"$TMP/exprs") dashboard expressions parse"
	grep -oh '"duet_[a-z_]*"' "$SRC"/daemon/http_metrics*.c | tr -d '"' | sort -u >"$TMP/written"
	# families, not the rules' own record names (level:duet_name:operation)
	grep -ohP '(?<![:a-z_])duet_[a-z_]+(?![:a-z_])' "$TMP/exprs" \
		"$SRC/examples/prometheus/duet.rules.yml" | sort -u >"$TMP/used"
	missing=$(comm -23 "$TMP/used" "$TMP/written")
	[ -z "$missing" ] || fail "named but not written by duetd: $missing"
	ok "every family named ($(wc -l <"$TMP/used")) is one duetd writes"
	;;
*)
	echo "unknown test $TEST" >&2
	exit 2
	;;
esac
