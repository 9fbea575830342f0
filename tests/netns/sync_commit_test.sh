#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# sync_commit_test.sh BIN TESTS - issue 13 defect 6 on the netns rig
# (duet_rig.sh): node-a is master, node-b a committed SYNC standby. Then
# ALTER DATABASE postgres SET synchronous_commit = local on node-a:
# pg_stat_replication still says node-b is "sync", but commits no longer
# wait for it, so node-a must commit SYNC(node-b, off) (node-b not
# promotable), say why in status (pg.sync_why) and in its log, and keep it
# off. After RESET, SYNC(node-b, on) comes back through the proof.
set -uo pipefail

BIN=$(cd "$1" && pwd)
TESTS=$(cd "$2" && pwd)
export BIN TESTS
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/netns/duet_rig.sh
source "$HERE/duet_rig.sh"

fail() {
	echo "FAIL [sync_off_on_synchronous_commit_local]: $*" >&2
	exit 1
}
ok() { echo "ok [sync_off_on_synchronous_commit_local]: $*"; }

rig_on_down() {
	[ "$1" = 0 ] && return 0
	echo "---- node-a duetd log (last 60 lines)" >&2
	tail -n 60 "$RIG_DIR/node-a/duetd.log" >&2 2>/dev/null
}

[ "$(id -u)" = 0 ] || fail "needs root (network namespaces, PostgreSQL as user postgres)"

sync_off() { duet_is node-a '(.members[] | select(.name == "node-b") | .sync) == false'; }
why_local() { duet_is node-a '.pg.sync_why | test("synchronous_commit = local for database postgres")'; }

duet_up || fail "the cluster did not come up"
ok "node-a is acting master, node-b a committed SYNC standby"

rig_psql node-a "ALTER DATABASE postgres SET synchronous_commit = local" >/dev/null ||
	fail "ALTER DATABASE"
rig_wait 20 "node-a commits SYNC(node-b, off)" sync_off || fail "SYNC(node-b) still on"
[ "$(rig_psql node-a "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'node-b'")" = sync ] ||
	fail "pg_stat_replication no longer says sync (the scenario needs it to)"
rig_wait 10 "status says why" why_local || fail "pg.sync_why: $(duet_field node-a .pg.sync_why)"
grep -q "node-b is SYNC but no longer provably: synchronous_commit = local for database postgres" \
	"$RIG_DIR/node-a/duetd.log" || fail "the log does not say why"
duet_audit_has node-a SYNC "not provably synchronous" || fail "no SYNC(off) entry with the reason"
ok "SYNC(node-b, off): $(duet_field node-a .pg.sync_why)"

# it stays off while the setting does not wait (several probes)
for _ in 1 2 3; do
	rig_wait 5 "a later probe" duet_is node-a '.pg.probe_age_ms < 1000' || fail "no probe"
	duet_sync_on node-a node-b && fail "SYNC(node-b, on) committed with synchronous_commit = local"
done

rig_psql node-a "ALTER DATABASE postgres RESET synchronous_commit" >/dev/null || fail "RESET"
rig_wait 20 "SYNC(node-b, on) again" duet_sync_on node-a node-b || fail "SYNC not back on"
ok "RESET: SYNC(node-b, on) again through the proof"
