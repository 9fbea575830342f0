#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# cluster_test.sh - integration tests with real processes: two duetd and one
# duet-witness on 127.0.0.1, driven through `duetctl status --json`.
#
# usage: cluster_test.sh BIN_DIR HELPER_DIR TEST
#   TEST: leader | failover | restart | witness_quorum | foreign_ca | garbage | audit |
#         probe | follow | maintenance | rejoin | ... (the case at the end)
#
# Each test builds its own world (certs, three configs on free ports, three
# data dirs in a mktemp dir), starts the processes, and on exit - success or
# failure - kills exactly the PIDs it started and removes the dir (kept with
# DUET_KEEP=1; the daemons' logs are printed on failure). Synchronisation is
# polling with deadlines, never a fixed sleep.
set -u
BIN=$1
HELPERS=$2
TEST=$3
SRC=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$SRC/lib.sh"

# ---- tests -------------------------------------------------------------------

t_leader() {
	setup
	local t0
	t0=$(now_ms)
	start_all
	wait_until 2 "a data node leads with the lease" leader_with_lease
	ok "$LEADER leads with the lease $(($(now_ms) - t0)) ms after start"
	wait_until 2 "MASTER($LEADER) committed" \
		is "$LEADER" '.master.node == "'"$LEADER"'"'
	ok "master is $LEADER"
}

t_failover() {
	setup
	start_all
	wait_until 3 "first leader" leader_with_lease
	local old=$LEADER new
	new=$(other_data "$old")
	kill9 "$old"
	local t0
	t0=$(now_ms)
	wait_until 5 "$new leads after kill -9 of $old" \
		is "$new" '.role == "leader" and .lease.valid'
	ok "$new leads with the lease $(($(now_ms) - t0)) ms after kill -9 of $old"
}

t_restart() {
	setup
	start_all
	wait_until 3 "first leader" leader_with_lease
	local old=$LEADER new
	new=$(other_data "$old")
	kill9 "$old"
	wait_until 5 "$new leads" is "$new" '.role == "leader"'
	# the new leader commits its NOOP and a MASTER entry the old node lacks
	local target
	wait_until 5 "new leader commits past the old log" \
		is "$new" '.commit_index >= 4'
	target=$(field "$new" .commit_index)
	start "$old"
	# without PostgreSQL no standby is SYNC, so the log still names $old
	# master (the failover MASTER was refused): once it is back and in touch,
	# the leader hands leadership back to it (daemon/ctl.c)
	wait_until 5 "$old catches up to commit $target" \
		is "$old" ".commit_index >= $target and .applied_index >= $target"
	ok "$old restarted and caught up to commit $(field "$old" .commit_index)"
	wait_until 8 "$new hands leadership back to $old, still master in the log" \
		is "$old" '.role == "leader" and .lease.valid and .master.node == "'"$old"'"'
	[ "$(field "$new" .actions.handbacks)" -ge 1 ] || fail "$new counted no hand-back"
	ok "$new handed leadership back to $old, the master the log names"
	# its store came from duetctl init; neither start found it missing
	grep -q -e "NO STORE" -e "created an empty store" "$TMP/$old.log" &&
		fail "$old did not find its store: $(grep -e 'NO STORE' "$TMP/$old.log" | head -n 1)"
	[ "$(grep -c ' term [0-9]*, [0-9]* log entries' "$TMP/$old.log")" = 2 ] ||
		fail "$old did not start twice on a store: $(grep 'log entries' "$TMP/$old.log")"
	ok "$old restarted on its own store"
}

t_witness_quorum() {
	setup
	start_all
	wait_until 3 "first leader" leader_with_lease
	wait_until 2 "MASTER committed" is "$LEADER" '.master.node == "'"$LEADER"'"'
	local old=$LEADER new before
	new=$(other_data "$old")
	before=$(field "$old" .commit_index)
	kill9 "$old"
	wait_until 5 "$new leads with the witness" \
		is "$new" '.role == "leader" and .lease.valid'
	# the new leader's NOOP and its MASTER proposal need the witness's ack
	wait_until 5 "commit index advances past $before + 1" \
		is "$new" ".commit_index > $before + 1"
	local c
	c=$(field "$new" .commit_index)
	wait_until 3 "witness has commit $c" \
		is witness ".commit_index >= $c"
	ok "$new + witness committed up to $c with $old down (from $before)"
}

t_foreign_ca() {
	setup
	start_all
	wait_until 3 "first leader" leader_with_lease
	"$BIN/duetctl" gencerts --dir "$TMP/foreign" --names node-b >/dev/null ||
		fail "gencerts foreign"
	local before
	before=$(field node-a .transport.refused.bad_cert)
	# a client with a certificate of another CA under a member's name
	python3 "$SRC/raw_client.py" tls "${PORT[node-a]}" "$TMP/foreign/ca.pem" \
		"$TMP/foreign/node-b.pem" "$TMP/foreign/node-b.key" >/dev/null
	wait_until 3 "node-a counts the bad certificate" \
		is node-a ".transport.refused.bad_cert > $before"
	ok "TLS client with a foreign certificate refused (bad_cert $(field node-a .transport.refused.bad_cert))"
	# a fourth real process: duetd as node-b with the foreign certificate
	write_config node-b "$TMP/impostor" "$TMP/foreign" "127.0.0.1:$EXTRA_PORT" \
		| sed "s|^ca = .*|ca = $TMP/foreign/ca.pem|" >"$TMP/impostor.ini"
	local b2 t2
	b2=$(field node-a '.transport.refused.bad_cert + .transport.refused.tls_error')
	"$BIN/duetd" --config "$TMP/impostor.ini" 2>>"$TMP/impostor.log" &
	STARTED+=("$!")
	wait_until 5 "node-a refuses the impostor process" \
		is node-a ".transport.refused.bad_cert + .transport.refused.tls_error > $b2"
	t2=$(field witness '.transport.refused.bad_cert + .transport.refused.tls_error')
	[ "$t2" -gt 0 ] || wait_until 5 "witness refuses the impostor" \
		is witness '.transport.refused.bad_cert + .transport.refused.tls_error > 0'
	[ "$(field node-a '.role == "leader" or .role == "follower"')" = true ] || fail "node-a disturbed"
	ok "impostor duetd refused by node-a and witness; cluster unaffected"
}

t_garbage() {
	setup
	start_all
	wait_until 3 "first leader" leader_with_lease
	local p=${PORT[node-a]} tls0 over0
	tls0=$(field node-a .transport.refused.tls_error)
	python3 "$SRC/raw_client.py" garbage "$p" >/dev/null
	python3 "$SRC/raw_client.py" plain-oversized "$p" >/dev/null
	wait_until 3 "random bytes and a plain oversized frame counted" \
		is node-a ".transport.refused.tls_error >= $tls0 + 2"
	ok "random bytes and plaintext frame refused as TLS errors ($(field node-a .transport.refused.tls_error))"
	over0=$(field node-a .transport.refused.oversized_frame)
	python3 "$SRC/raw_client.py" tls-oversized "$p" "$TMP/certs/ca.pem" \
		"$TMP/certs/witness.pem" "$TMP/certs/witness.key" >/dev/null
	wait_until 3 "oversized frame inside TLS counted" \
		is node-a ".transport.refused.oversized_frame > $over0"
	ok "oversized frame refused ($(field node-a .transport.refused.oversized_frame))"
	python3 "$SRC/raw_client.py" admin "$TMP/node-a/admin.sock" >"$TMP/admin.txt"
	[ "$(grep -c '"ok":false' "$TMP/admin.txt")" = 4 ] ||
		fail "admin socket answers: $(cat "$TMP/admin.txt")"
	is node-a '.admin.refused >= 4' || fail "admin refusals not counted"
	ok "admin socket refused 4 bad requests with an error each"
	kill -0 "${PID[node-a]}" || fail "node-a died"
	wait_until 3 "cluster still has a leader" leader_with_lease
	ok "no crash; $LEADER still leads"
}

t_audit() {
	setup
	start_all
	wait_until 3 "first leader" leader_with_lease
	wait_until 2 "MASTER committed on node-a" is node-a '.master.node == "'"$LEADER"'"'
	"$BIN/duetctl" log --config "$TMP/node-a.ini" >"$TMP/list.txt" || fail "duetctl log"
	grep -q MASTER "$TMP/list.txt" || fail "no MASTER in the audit listing"
	"$BIN/duetctl" log --config "$TMP/node-a.ini" --verify >"$TMP/verify.txt" ||
		fail "verify of the live store: $(cat "$TMP/verify.txt")"
	ok "live store: $(cat "$TMP/verify.txt")"
	"$BIN/duetctl" log --config "$TMP/node-a.ini" --type MASTER --json | jq -e .entry.payload.node >/dev/null ||
		fail "log --type MASTER --json"
	# stop node-a cleanly (never copy a live LMDB file), then damage a copy
	kill -TERM "${PID[node-a]}"
	wait "${PID[node-a]}"
	local rc=$?
	[ "$rc" = 0 ] || fail "node-a exit status $rc after SIGTERM"
	grep -q "stopped" "$TMP/node-a.log" || fail "no clean stop in the log"
	ok "SIGTERM: node-a exited 0"
	for n in node-b witness; do
		kill -TERM "${PID[$n]}"
		wait "${PID[$n]}"
		rc=$?
		[ "$rc" = 0 ] || fail "$n exit status $rc after SIGTERM"
	done
	ok "SIGTERM: node-b and witness exited 0"
	cp -a "$TMP/node-a" "$TMP/copy"
	sed "s|^data_dir = .*|data_dir = $TMP/copy|" "$TMP/node-a.ini" >"$TMP/copy.ini"
	"$HELPERS/audit_tamper" "$TMP/copy" 2 >/dev/null || fail "audit_tamper"
	"$BIN/duetctl" log --config "$TMP/copy.ini" --verify >"$TMP/bad.txt"
	rc=$?
	[ "$rc" = 1 ] || fail "verify of the damaged copy exited $rc: $(cat "$TMP/bad.txt")"
	grep -q "record 2 " "$TMP/bad.txt" || fail "verify did not name record 2: $(cat "$TMP/bad.txt")"
	ok "damaged copy: $(head -n 1 "$TMP/bad.txt")"
	"$BIN/duetctl" log --config "$TMP/node-a.ini" --verify >/dev/null || fail "original damaged"
}

count_master() { [ "$(grep -c MASTER "$TMP/follow.txt")" -ge "$1" ]; }

# duetctl log --follow on the witness's store prints the failover's records as
# they are appended, and stops cleanly on SIGTERM
t_follow() {
	setup
	start_all
	wait_until 3 "first leader" leader_with_lease
	local old=$LEADER
	"$BIN/duetctl" log --config "$TMP/witness.ini" --follow --json >"$TMP/follow.txt" &
	local follower=$!
	STARTED+=("$follower")
	wait_until 3 "MASTER($old) in the followed log" count_master 1
	kill9 "$old"
	wait_until 5 "the new leader's MASTER appears in the followed log" count_master 2
	ok "followed: $(grep -c . "$TMP/follow.txt") records, $(grep -c MASTER "$TMP/follow.txt") MASTER"
	kill -TERM "$follower"
	wait "$follower"
	local rc=$?
	[ "$rc" = 0 ] || fail "duetctl log --follow exited $rc after SIGTERM"
	jq -e . "$TMP/follow.txt" >/dev/null || fail "followed output is not JSON lines"
}

# admin NODE JSON: one request on NODE's admin socket, prints the answer line
admin() {
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(30); s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
b = b""
while not b.endswith(b"\n"):
    c = s.recv(65536)
    if not c: break
    b += c
sys.stdout.write(b.decode())' "$TMP/$1/admin.sock" "$2"
}

t_probe() {
	setup
	start_all
	wait_until 3 "first leader" leader_with_lease
	local follower c0 ans
	follower=$(other_data "$LEADER")
	c0=$(field "$LEADER" .commit_index)
	ans=$(admin "$LEADER" '{"cmd":"probe","n":100,"bytes":256}')
	echo "$ans" | jq -e '.ok == true and .n == 100 and .last_index - .first_index == 99 and
		.elapsed_us >= 0' >/dev/null || fail "probe on the leader: $ans"
	[ "$(field "$LEADER" ".commit_index - $c0 >= 100")" = true ] ||
		fail "commit index did not advance by 100 from $c0: $(field "$LEADER" .commit_index)"
	ok "probe n=100 on $LEADER: $ans"
	ans=$(admin "$follower" '{"cmd":"probe","n":1,"bytes":16}')
	echo "$ans" | jq -e '.ok == false and (.error | contains("'"$LEADER"'"))' >/dev/null ||
		fail "probe on the follower: $ans"
	ok "probe on $follower refused: $ans"
	ans=$(admin "$LEADER" '{"cmd":"probe","n":0,"bytes":16}')
	echo "$ans" | jq -e '.ok == false' >/dev/null || fail "probe n=0: $ans"
	wait_until 3 "$follower applied the probe" \
		is "$follower" ".fsm_applied_index >= $(field "$LEADER" .commit_index)"
	ok "$follower applied the probe entries; no fsm refusal: $(field "$follower" .fsm.refused)"
	[ "$(field "$follower" .fsm.refused)" = 0 ] || fail "fsm refused entries"
}

# operator_entries NODE: the OPERATOR records of NODE's audit chain, one JSON
# object per line
operator_entries() { "$BIN/duetctl" log --config "$TMP/$1.ini" --type OPERATOR --json; }
count_type() { "$BIN/duetctl" log --config "$TMP/$1.ini" --type "$2" | grep -c .; }

# duetctl maintenance on through the follower (forwarded to the leader), shown
# on every member and in the audit chain with who and why; no failover while
# it is on (the log's master stays, no MASTER proposed); off through the
# leader; usage errors and the witness refused
t_maintenance() {
	setup
	start_all
	wait_until 3 "first leader" leader_with_lease
	local old=$LEADER follower out rc
	follower=$(other_data "$old")
	wait_until 3 "MASTER($old) applied on $follower" \
		is "$follower" '.master.node == "'"$old"'"'

	"$BIN/duetctl" maintenance sideways --config "$TMP/$follower.ini" 2>"$TMP/err.txt"
	rc=$?
	[ "$rc" = 2 ] || fail "maintenance sideways exited $rc"
	"$BIN/duetctl" maintenance --config "$TMP/$follower.ini" 2>>"$TMP/err.txt"
	rc=$?
	[ "$rc" = 2 ] || fail "maintenance without on/off exited $rc"
	ok "bad arguments exit 2: $(tr '\n' ' ' <"$TMP/err.txt")"
	"$BIN/duetctl" maintenance on --why "witness" --config "$TMP/witness.ini" 2>"$TMP/err.txt"
	rc=$?
	[ "$rc" = 1 ] || fail "maintenance on the witness exited $rc"
	grep -q "is the witness" "$TMP/err.txt" || fail "witness refusal: $(cat "$TMP/err.txt")"
	ok "witness refuses: $(cat "$TMP/err.txt")"

	out=$("$BIN/duetctl" maintenance on --why "kernel upgrade" --config "$TMP/$follower.ini") ||
		fail "maintenance on via $follower: $out"
	ok "via the follower $follower: $out"
	# answered once applied on the node asked: no waiting here
	is "$follower" '.maintenance.on and .maintenance.why == "kernel upgrade"' ||
		fail "$follower answered before applying: $(field "$follower" .maintenance)"
	local since
	since=$(field "$follower" .maintenance.since_index)
	for n in "${NAMES[@]}"; do
		wait_until 3 "maintenance on in $n's status" is "$n" \
			'.maintenance.on and .maintenance.since_index == '"$since"' and
			 (.maintenance.who | test("@")) and .maintenance.why == "kernel upgrade"'
	done
	ok "status on all three: $(status witness | jq -c .maintenance)"
	"$BIN/duetctl" status --config "$TMP/$old.ini" | grep -q "^maintenance on since entry $since by .*: kernel upgrade" ||
		fail "status table lacks the maintenance line: $("$BIN/duetctl" status --config "$TMP/$old.ini")"
	wait_until 3 "the OPERATOR entry in the witness's audit chain" \
		eval '[ "$(operator_entries witness | grep -c .)" = 1 ]'
	operator_entries witness | jq -e '.entry.index == '"$since"' and
		.entry.payload.command == "maintenance on" and .entry.payload.node == '"$(field "$follower" .id)"' and
		(.entry.payload.who | test("@")) and .entry.payload.why == "kernel upgrade"' >/dev/null ||
		fail "audit entry: $(operator_entries witness)"
	ok "audit: $(operator_entries witness | jq -c .entry.payload)"

	out=$("$BIN/duetctl" maintenance on --json --config "$TMP/$old.ini") || fail "maintenance on again: $out"
	echo "$out" | jq -e '.ok and .changed == false and .maintenance.since_index == '"$since" >/dev/null ||
		fail "maintenance on again: $out"
	ok "asked again on the leader $old: nothing recorded: $out"

	local masters refused
	masters=$(count_type "$follower" MASTER)
	refused=$(field "$follower" .fsm.refused)
	kill9 "$old"
	wait_until 5 "$follower leads after kill -9 of $old" \
		is "$follower" '.role == "leader" and .lease.valid'
	wait_until 5 "$follower says maintenance holds back the failover" \
		is "$follower" '.why_not_master | test("maintenance is on")'
	ok "$follower leads, not master: $(field "$follower" .why_not_master)"
	[ "$(field "$follower" .master.node)" = "$old" ] || fail "master changed: $(field "$follower" .master)"
	[ "$(count_type "$follower" MASTER)" = "$masters" ] || fail "a MASTER entry was committed"
	[ "$(field "$follower" .fsm.refused)" = "$refused" ] || fail "a MASTER was proposed (and refused)"
	ok "no MASTER proposed: the log still names $old master"

	start "$old"
	wait_until 8 "$follower hands leadership back to $old" \
		is "$old" '.role == "leader" and .lease.valid and .master.node == "'"$old"'"'
	out=$("$BIN/duetctl" maintenance off --why "done" --config "$TMP/$old.ini") ||
		fail "maintenance off via $old: $out"
	ok "via the leader $old: $out"
	for n in "${NAMES[@]}"; do
		wait_until 3 "maintenance off in $n's status" is "$n" \
			'(.maintenance.on | not) and .maintenance.since_index > '"$since"' and
			 .maintenance.why == "done"'
	done
	"$BIN/duetctl" status --config "$TMP/$follower.ini" | grep -q "^maintenance" &&
		fail "status table still shows maintenance"
	wait_until 3 "two OPERATOR entries in $follower's audit chain" \
		eval '[ "$(operator_entries "$follower" | grep -c .)" = 2 ]'
	operator_entries "$follower" | tail -n 1 | jq -e '.entry.payload.command == "maintenance off" and
		.entry.payload.node == '"$(field "$old" .id)" >/dev/null ||
		fail "audit entry: $(operator_entries "$follower" | tail -n 1)"
	[ "$(count_type "$follower" MASTER)" = "$masters" ] || fail "a MASTER entry was committed"
	ok "maintenance off on all three; the audit has on and off; $old still master"

	# without a quorum the request fails with the reason, after the deadline
	stop_clean "$follower"
	stop_clean witness
	"$BIN/duetctl" maintenance on --why "alone" --config "$TMP/$old.ini" 2>"$TMP/err.txt"
	rc=$?
	[ "$rc" = 1 ] || fail "maintenance on without a quorum exited $rc"
	grep -E -q "not applied within|no leader known" "$TMP/err.txt" ||
		fail "no-quorum answer: $(cat "$TMP/err.txt")"
	ok "no quorum: $(cat "$TMP/err.txt")"
	is "$old" '.maintenance.on | not' || fail "maintenance on without a quorum"
	stop_clean "$old"
	ok "clean stop of all three"
}

# every_view_has NAME INC: NAME has incarnation INC in every member's membership view
every_view_has() {
	local n
	for n in "${NAMES[@]}"; do
		is "$n" '[.membership[] | select(.name == "'"$1"'") | .incarnation] == ['"$2"']' ||
			return 1
	done
}

# rejoin_bg NAME WHY TIMEOUT_S OUT: duetctl rejoin of NAME in the background
# (its PID in RJ, its output in OUT), once it says to start the daemon: the
# store is moved aside and the marker written then (a marker left by an
# interrupted rejoin is there before that)
rejoin_bg() {
	"$BIN/duetctl" rejoin --yes --why "$2" --timeout "$3" --config "$TMP/$1.ini" >"$4" 2>&1 &
	RJ=$!
	STARTED+=("$RJ")
	wait_until 3 "duetctl rejoin of $1 asks for the daemon" grep -q "start the daemon now" "$4"
}

# rejoin_one NAME INC: stop NAME, wipe its data_dir, duetctl rejoin, start it;
# it must catch up and hold incarnation INC in every view
rejoin_one() {
	local n=$1 inc=$2 target out rc
	stop_clean "$n"
	rm -rf "${TMP:?}/$n"
	target=$(field "$LEADER" .commit_index)
	rejoin_bg "$n" "disk replaced ($n)" $((20 * SLOW)) "$TMP/rejoin-$n.out"
	start "$n"
	wait "$RJ"
	rc=$?
	out=$(cat "$TMP/rejoin-$n.out")
	[ "$rc" = 0 ] || fail "duetctl rejoin of $n exited $rc: $out"
	grep -q "rejoined under incarnation $inc" "$TMP/rejoin-$n.out" || fail "rejoin output: $out"
	[ -f "$TMP/$n.rejoin" ] && fail "the marker of $n is still there"
	wait_until 5 "$n caught up to commit $target" \
		is "$n" ".commit_index >= $target and .applied_index >= $target"
	wait_until 5 "incarnation $inc of $n in every view" every_view_has "$n" "$inc"
	is "$n" ".incarnation == $inc and .rejoin.state == \"rejoined\"" ||
		fail "status of $n: $(field "$n" '{incarnation, rejoin}')"
	ok "$n rejoined under incarnation $inc: $(echo "$out" | tr '\n' '|')"
	wait_until 3 "OPERATOR(rejoin $n) in $LEADER's audit chain" eval \
		'operator_entries "$LEADER" | jq -e "select(.entry.payload.command | test(\"rejoin\"))
			| select(.entry.payload.node == $(field "$n" .id))" >/dev/null'
	ok "OPERATOR rejoin of $n recorded: $(operator_entries "$LEADER" | grep -i rejoin | tail -n 1)"
}

t_rejoin() {
	setup
	start_all
	wait_until 3 "first leader" leader_with_lease
	local follower ans
	follower=$(other_data "$LEADER")
	ans=$(admin "$LEADER" '{"cmd":"probe","n":50,"bytes":64}')
	echo "$ans" | jq -e '.ok == true' >/dev/null || fail "probe: $ans"
	wait_until 3 "incarnation 1 everywhere" every_view_has "$follower" 1

	# refused while the daemon runs
	"$BIN/duetctl" rejoin --yes --config "$TMP/$follower.ini" 2>"$TMP/err.txt"
	[ $? = 1 ] || fail "rejoin with the daemon running did not exit 1"
	grep -q "is running" "$TMP/err.txt" || fail "refusal: $(cat "$TMP/err.txt")"
	[ -d "$TMP/$follower" ] || fail "the data_dir was touched"
	ok "refused while running: $(cat "$TMP/err.txt")"
	# refused without a terminal and without --yes (daemon stopped)
	stop_clean "$follower"
	"$BIN/duetctl" rejoin --config "$TMP/$follower.ini" </dev/null 2>"$TMP/err.txt"
	[ $? = 1 ] || fail "rejoin without --yes and without a terminal did not exit 1"
	grep -q -- "--yes" "$TMP/err.txt" || fail "refusal: $(cat "$TMP/err.txt")"
	[ -f "$TMP/$follower.rejoin" ] && fail "a marker was written without confirmation"
	ok "refused without --yes: $(cat "$TMP/err.txt")"
	start "$follower"
	wait_until 5 "$follower back" is "$follower" '.leader != null'

	rejoin_one "$follower" 2
	admin "$LEADER" '{"cmd":"probe","n":20,"bytes":64}' | jq -e '.ok == true' >/dev/null ||
		fail "probe after the rejoin"
	rejoin_one witness 2
	[ "$(field "$follower" .fsm.refused)" = 0 ] || fail "fsm refused entries"

}

# Issue 13 defect 1: a wiped member started WITHOUT duetctl rejoin used to
# come back under the incarnation its re-created store held (1), with its
# votes and acknowledged entries forgotten. Now it enters rejoin mode by
# itself: silent until the leader commits a new incarnation for it.
t_wipe_without_rejoin() {
	setup
	start_all
	wait_until 3 "first leader" leader_with_lease
	local follower
	follower=$(other_data "$LEADER")
	admin "$LEADER" '{"cmd":"probe","n":30,"bytes":64}' | jq -e '.ok == true' >/dev/null ||
		fail "probe"
	wait_until 3 "incarnation 1 everywhere" every_view_has "$follower" 1
	stop_clean "$follower"
	rm -rf "${TMP:?}/$follower"
	start "$follower"
	wait_until 5 "$follower says NO STORE in its log" grep -q "NO STORE at $TMP/$follower" \
		"$TMP/$follower.log"
	wait_until 5 "$follower rejoined by itself" \
		is "$follower" '.rejoin.state == "rejoined" and .rejoin.automatic == true'
	wait_until 5 "incarnation 2 of $follower in every view" every_view_has "$follower" 2
	[ -f "$TMP/$follower.rejoin" ] && fail "the marker of $follower is still there"
	wait_until 3 "OPERATOR(rejoin $follower) in $LEADER's audit chain" eval \
		'operator_entries "$LEADER" | jq -e "select(.entry.payload.command | test(\"rejoin\"))
			| select(.entry.payload.node == $(field "$follower" .id))" >/dev/null'
	local target
	target=$(field "$LEADER" .commit_index)
	wait_until 5 "$follower caught up to commit $target" \
		is "$follower" ".commit_index >= $target and .applied_index >= $target"
	ok "a wiped $follower started without rejoin came back under incarnation 2 by itself"
}

# Issue 13 defect 1, the store id: a member whose store is wiped and made
# again under its old incarnation (duetctl init while its peers could not be
# reached) has forgotten its votes and entries. Every store has a random id,
# the leader binds each incarnation to one, and messages from another store
# are refused: the master M, whose only other live peer is that store F,
# must not lead on its vote, and says why. duetctl rejoin brings F back.
m_prevoted_alone() { # M F
	local st
	st=$(status "$1") || return 1
	echo "$st" | jq -e '.role != "leader"' >/dev/null ||
		fail "$1 leads on the vote of a re-made store: $(echo "$st" | jq -c '{term, role, raft}')"
	[ "$(field "$2" .role)" = leader ] && fail "$2 leads with a re-made store"
	echo "$st" | jq -e '.raft.refused_store > 0 and .raft.prevotes >= 3' >/dev/null
}

bound_to() { # VIEW MEMBER STORE_ID
	is "$1" "[.membership[] | select(.name == \"$2\") | .store_id] == [\"$3\"]"
}

all_bound() {
	local n
	for n in "${NAMES[@]}"; do
		is "$n" '[.membership[].store_id] | all(. != "0000000000000000")' || return 1
	done
}

t_wiped_store_init_refused() {
	setup
	start_all
	wait_until 3 "first leader" leader_with_lease
	local m=$LEADER f old
	f=$(other_data "$m")
	wait_until 5 "MASTER($m) committed" is "$m" '.master.node == "'"$m"'"'
	wait_until 5 "every incarnation bound to its store in every view" all_bound
	old=$(field "$f" .store_id)
	bound_to "$m" "$f" "$old" || fail "$m binds $f to $(field "$m" .membership), $f runs $old"
	ok "incarnations bound: $(field "$m" '[.membership[] | "\(.name)=\(.store_id)"] | join(" ")')"
	for n in "${NAMES[@]}"; do kill9 "$n"; done
	rm -rf "${TMP:?}/$f"
	"$BIN/duetctl" init --config "$TMP/$f.ini" >"$TMP/init.out" 2>&1 ||
		fail "init $f with no peer up: $(cat "$TMP/init.out")"
	start "$m"
	start "$f"
	wait_until 5 "$f runs a new store" eval '[ "$(field "$f" .store_id)" != "$old" ] &&
		[ -n "$(field "$f" .store_id)" ]'
	wait_until 10 "$m refuses $f's re-made store through 3 pre-votes" m_prevoted_alone "$m" "$f"
	wait_until 3 "$m says why in its log" grep -q "raft messages refused so far from $f" \
		"$TMP/$m.log"
	ok "$m refused the re-made store of $f ($(field "$m" .raft.refused_store) messages) and \
did not lead"
	start witness
	wait_until 5 "$m leads with the witness" leader_with_lease
	[ "$LEADER" = "$m" ] || fail "$LEADER leads, not $m"
	rejoin_one "$f" 2
	wait_until 5 "incarnation 2 bound to $f's new store" eval 'bound_to "$m" "$f" "$(field "$f" .store_id)"'
	ok "duetctl rejoin brought $f back under incarnation 2, bound to its new store"
}

# Issue 13 defect 14: the leader answered a repeated rejoin request with
# the same incarnation whenever it had heard no raft message from the member
# since - a heuristic, not a proof. Now the request carries the asking
# store's id and the MEMBERSHIP binds the incarnation to it: the same store
# asking again gets the same answer (it never ran raft under it: its marker
# is still there), any other store a new incarnation. Each attempt below is
# answered while F is stopped, so F never uses the answer: the witness is
# frozen until F is, which holds the rejoin's MEMBERSHIP back.
rejoin_answered_unused() { # M F INC: a rejoin of F answered INC that F never got
	local m=$1 f=$2 inc=$3
	rejoin_bg "$f" "attempt for $inc" 60 "$TMP/rejoin-$inc.out"
	kill -STOP "${PID[witness]}"
	start "$f"
	wait_until 5 "$m proposed incarnation $inc" grep -q \
		"rejoin of $f by .*incarnation $inc at entry" "$TMP/$m.log"
	kill -STOP "${PID[$f]}"
	kill -CONT "${PID[witness]}"
	wait_until 5 "$m answered incarnation $inc" grep -q \
		"rejoin: incarnation $inc of member .* answered" "$TMP/$m.log"
	kill9 "$f"
	kill -9 "$RJ" 2>/dev/null
	wait "$RJ" 2>/dev/null
	[ -f "$TMP/$f.rejoin" ] || fail "$f removed its marker without the answer"
}

t_rejoin_answer_bound_to_store() {
	extra_config() { # slow elections: the frozen witness must not cost the term
		printf '\n[raft]\nelection_timeout_min_ms = 8000\nelection_timeout_max_ms = 9000\n'
	}
	setup
	start_all
	wait_until 12 "first leader" leader_with_lease
	local m=$LEADER f
	f=$(other_data "$m")
	wait_until 5 "every incarnation bound" all_bound
	stop_clean "$f"
	rejoin_answered_unused "$m" "$f" 2
	# the same store asks again: the same incarnation, no new entry
	start "$f"
	wait_until 5 "$f rejoined under 2" is "$f" '.rejoin.state == "rejoined" and .incarnation == 2'
	grep -q "rejoin of $f asked again from store $(field "$f" .store_id): incarnation 2 is \
bound to it; answered again" "$TMP/$m.log" || fail "no re-answer in $m's log"
	wait_until 5 "incarnation 2 bound to $f's store" eval 'bound_to "$m" "$f" "$(field "$f" .store_id)"'
	ok "the same store asking again got incarnation 2 again"
	# answered 3, unused; then the store is set aside and another one asks
	stop_clean "$f"
	rejoin_answered_unused "$m" "$f" 3
	rejoin_bg "$f" "another store" $((20 * SLOW)) "$TMP/rejoin-4.out"
	start "$f"
	wait "$RJ" || fail "duetctl rejoin: $(cat "$TMP/rejoin-4.out")"
	is "$f" '.incarnation == 4' ||
		fail "another store got incarnation $(field "$f" .incarnation), not a new one (4)"
	wait_until 5 "incarnation 4 bound to $f's new store" eval 'bound_to "$m" "$f" "$(field "$f" .store_id)"'
	ok "another store asking got a new incarnation (4)"
}

# duetctl init: the one way a store is created; refused over a store and
# while a peer answers; daemons without stores never form a cluster
t_init() {
	NO_INIT=1 setup
	local out rc
	# no store anywhere and no init: every member is silent, none leads
	start_all
	wait_until 5 "node-a in rejoin mode" is node-a '.rejoin.state == "waiting_for_leader" and
		.rejoin.automatic == true'
	is node-a '.leader == null and .term <= 1' || fail "a member without a store took part in \
an election: $(field node-a '{term, leader, role}')"
	is witness '.rejoin.automatic == true' || fail "witness: $(field witness .rejoin)"
	# a peer answers: init refused, nothing created
	stop_clean node-b
	rm -rf "${TMP:?}/node-b" "$TMP/node-b.rejoin"
	"$BIN/duetctl" init --config "$TMP/node-b.ini" >"$TMP/init.out" 2>&1
	rc=$?
	[ "$rc" = 1 ] || fail "init while peers answer exited $rc: $(cat "$TMP/init.out")"
	grep -q "already runs" "$TMP/init.out" || fail "init refusal: $(cat "$TMP/init.out")"
	[ -e "$TMP/node-b" ] && fail "init created $TMP/node-b although it refused"
	ok "init refused while peers answer: $(cat "$TMP/init.out")"
	for n in node-a witness; do stop_clean "$n"; done
	for n in "${NAMES[@]}"; do rm -rf "${TMP:?}/$n" "$TMP/$n.rejoin"; done
	# a new cluster: init on all three, then the daemons form it
	for n in "${NAMES[@]}"; do
		"$BIN/duetctl" init --json --config "$TMP/$n.ini" >"$TMP/init.out" 2>&1 ||
			fail "init $n: $(cat "$TMP/init.out")"
		jq -e '.created == true' "$TMP/init.out" >/dev/null || fail "init --json: $(cat "$TMP/init.out")"
	done
	"$BIN/duetctl" init --config "$TMP/node-a.ini" >"$TMP/init.out" 2>&1
	rc=$?
	[ "$rc" = 1 ] || fail "init over a store exited $rc"
	grep -q "already holds a store" "$TMP/init.out" || fail "init over a store: $(cat "$TMP/init.out")"
	ok "init refused over a store: $(cat "$TMP/init.out")"
	start_all
	wait_until 5 "a leader of the initialised cluster" leader_with_lease
	is "$LEADER" '.rejoin.automatic == false' || fail "rejoin mode after init"
	ok "the initialised cluster has leader $LEADER"
}

# Issue 13 defect 10: a failed storage write used to exit 1, which the
# units restart after 5 s into a page cache that may hold pages whose
# write-back failed. It exits 74 now (RestartPreventExitStatus=2 74) and
# says what to check. The witness's store lives on a small tmpfs of its
# own, filled to the last byte, so its next append fails (ENOSPC).
STORE_MNT=""
LOOP_MNTS=()
FROZEN=""
extra_cleanup() {
	# thaw first: a process blocked on a frozen filesystem cannot die
	[ -n "$FROZEN" ] && fsfreeze -u "$FROZEN" 2>/dev/null
	[ -n "$STORE_MNT" ] && umount -l "$STORE_MNT" 2>/dev/null
	for m in "${LOOP_MNTS[@]}"; do
		umount -l "$m" 2>/dev/null # -o loop: the device is freed with it
	done
	return 0
}

t_storage_error_exit_status() {
	NO_INIT=1 setup
	mkdir -p "$TMP/witness"
	mount -t tmpfs -o size=4m tmpfs "$TMP/witness" || fail "mount a tmpfs for the witness"
	STORE_MNT=$TMP/witness
	for n in "${NAMES[@]}"; do
		"$BIN/duetctl" init --config "$TMP/$n.ini" >/dev/null || fail "duetctl init $n"
	done
	start_all
	wait_until 3 "first leader" leader_with_lease
	admin "$LEADER" '{"cmd":"probe","n":10,"bytes":64}' | jq -e '.ok == true' >/dev/null ||
		fail "probe before the disk is full"
	dd if=/dev/zero of="$TMP/witness/fill" bs=64k 2>/dev/null
	admin "$LEADER" '{"cmd":"probe","n":200,"bytes":4096}' >/dev/null
	wait_until 10 "the witness exits" eval '! kill -0 "${PID[witness]}" 2>/dev/null'
	local rc=0
	wait "${PID[witness]}" || rc=$?
	[ "$rc" = 74 ] || fail "the witness exited $rc after a failed storage write, not 74"
	grep -q "NOT to be restarted automatically" "$TMP/witness.log" ||
		fail "the log does not say what to do: $(grep -i failed "$TMP/witness.log" | tail -n 3)"
	ok "a failed storage write exits 74: $(grep 'NOT to be restarted' "$TMP/witness.log" | cut -c1-200)"
}

# Issue 13, defect 11: a store write slowed by other I/O (a rejoin's base
# backup) must not cost the master its lease. Each data node's store is on
# its own loop-mounted ext4; the leader's is frozen (fsfreeze: every write
# and fdatasync blocks until the thaw) while an entry is being written. For
# the 3 s of the freeze - past the election timeout and many leases - the
# leader keeps sending heartbeats: no member changes term, and the leader
# keeps its lease. Before the fix duetd sent nothing while a store write
# was in flight and the followers elected a new leader.
t_slow_store_write_keeps_lease() {
	NO_INIT=1 setup
	local n
	for n in node-a node-b; do
		truncate -s 256M "$TMP/$n.img" && mkfs.ext4 -q -F "$TMP/$n.img" ||
			fail "mkfs.ext4 on a file for $n"
		mkdir -p "$TMP/$n"
		mount -o loop "$TMP/$n.img" "$TMP/$n" ||
			fail "mount -o loop for $n's store (needs root and a free loop device)"
		LOOP_MNTS+=("$TMP/$n")
	done
	for n in "${NAMES[@]}"; do
		"$BIN/duetctl" init --config "$TMP/$n.ini" >/dev/null || fail "duetctl init $n"
	done
	start_all
	wait_until 3 "first leader" leader_with_lease
	local l=$LEADER o term before_el
	o=$(other_data "$l")
	wait_until 3 "MASTER($l) applied on $o" is "$o" '.master.node == "'"$l"'"'
	term=$(field "$l" .term)
	before_el=$(field "$o" .raft.elections)
	fsfreeze -f "$TMP/$l" || fail "fsfreeze -f $TMP/$l"
	FROZEN=$TMP/$l
	# one entry to write: its store write blocks on the frozen filesystem
	admin "$l" '{"cmd":"probe","n":1,"bytes":64}' >"$TMP/probe.out" 2>&1 &
	wait_until 3 "$l's write of the probe entry in flight" \
		is "$l" '.last_index > .persisted_index'
	local end=$(($(now_ms) + 3000 * SLOW)) st
	while [ "$(now_ms)" -lt "$end" ]; do
		for n in "${NAMES[@]}"; do
			st=$(field "$n" .term)
			[ "$st" = "$term" ] ||
				fail "$n moved to term $st during the frozen write (term $term)"
		done
		is "$l" '.role == "leader" and .lease.valid' ||
			fail "$l lost its lease or its role while its store write was in flight"
		is "$l" '.last_index > .persisted_index' ||
			fail "the freeze did not hold $l's write (persisted caught up)"
		sleep 0.1 # the fault's length, not a wait for an event
	done
	fsfreeze -u "$TMP/$l" || fail "fsfreeze -u"
	FROZEN=""
	wait_until 5 "$l's write lands" is "$l" '.persisted_index == .last_index'
	[ "$(field "$o" .raft.elections)" = "$before_el" ] ||
		fail "$o started an election during the frozen write"
	[ "$(field "$l" .term)" = "$term" ] || fail "the term changed after the thaw"
	ok "$l kept term $term and its lease through a 3 s store write"
}

# Issue 16: an operator's text round-trips exactly - UTF-8, a newline,
# quotes - from `duetctl maintenance --why` through the admin socket, the
# log and every member's state to `status --json`, the status table,
# `duetctl log --json` and every member's /metrics exposition (the
# duet_maintenance_info label, asked over the admin socket). Before, the daemon escaped each UTF-8 byte on its
# own (caf\u00c3\u00a9) and duetctl dropped the newline.
t_why_round_trip() {
	setup
	start_all
	wait_until 3 "first leader" leader_with_lease
	local why=$'café – line1\nline2 "q"' n
	"$BIN/duetctl" maintenance on --why "$why" --config "$TMP/$LEADER.ini" >"$TMP/out.txt" ||
		fail "maintenance on: $(cat "$TMP/out.txt")"
	for n in "${NAMES[@]}"; do
		wait_until 3 "maintenance on in $n's status" eval \
			'status "$n" | jq -e --arg w "$why" ".maintenance.why == \$w" >/dev/null'
	done
	ok "status --json of all three holds the text byte for byte"
	"$BIN/duetctl" status --config "$TMP/$LEADER.ini" >"$TMP/status.txt"
	grep -q "café – line1" "$TMP/status.txt" ||
		fail "status table: $(grep -a maintenance "$TMP/status.txt")"
	grep -q 'line2 "q"' "$TMP/status.txt" || fail "status table lacks line2: $(cat "$TMP/status.txt")"
	ok "the status table shows it: $(grep -a -A1 '^maintenance' "$TMP/status.txt" | tr '\n' '|')"
	"$BIN/duetctl" log --json --config "$TMP/$LEADER.ini" >"$TMP/log.json" 2>"$TMP/log.err" ||
		fail "duetctl log --json: $(cat "$TMP/log.err")"
	jq -e -s --arg w "$why" 'map(tostring) | any(contains($w | tojson | .[1:-1]))' \
		"$TMP/log.json" >/dev/null ||
		fail "the audit log does not hold the text: $(grep -a -i maint "$TMP/log.json" | tail -n 2)"
	ok "duetctl log --json holds it"
	for n in "${NAMES[@]}"; do
		admin_metrics "$n" >"$TMP/$n.prom" || fail "metrics of $n over the admin socket"
		[ "$(python3 "$SRC/prom_check.py" "$TMP/$n.prom" --label duet_maintenance_info why)" = "$why" ] ||
			fail "the why label in $n's metrics: $(grep -a maintenance_info "$TMP/$n.prom")"
	done
	ok "the /metrics exposition of all three carries it in duet_maintenance_info{why}"
}

# Issue 16 item 2: `duetctl list` from the leader, the follower and the
# witness: one row per member in each; what the asked member knows (its own
# role, acting, lease; the leader; links; incarnations; the log's SYNC),
# ? / null for what it cannot know, - / null for what does not apply, and
# the quorum on the witness row. (jq -en 'input | ...': jq -e alone passes
# on an empty input.)
t_list() {
	setup
	start_all
	wait_until 3 "first leader" leader_with_lease
	local l=$LEADER o n
	o=$(other_data "$l")
	wait_until 5 "$l acts as master" is "$l" '.acting == "master"'
	for n in "$l" "$o" witness; do
		wait_until 3 "$n lists the three reachable and $l leading" eval \
			'"$BIN/duetctl" list --json --config "$TMP/$n.ini" |
			jq -en --arg l "$l" "input | .quorum.reachable == 3 and .leader == \$l" >/dev/null'
		"$BIN/duetctl" list --json --config "$TMP/$n.ini" >"$TMP/list-$n.json" ||
			fail "duetctl list --json on $n"
		"$BIN/duetctl" list --config "$TMP/$n.ini" >"$TMP/list-$n.txt" ||
			fail "duetctl list on $n"
	done
	# row NAME [FILE]: the row of NAME in the asked member's --json
	row() { jq -c --arg m "$1" '.members[] | select(.member == $m)' "$2"; }
	local j=$TMP/list-$l.json
	jq -e '.members | length == 3' "$j" >/dev/null || fail "$l lists: $(cat "$j")"
	row "$l" "$j" | jq -e '.asked and .role == "leader" and .acting == "master" and
		.lease == "held" and .kind == "data" and .pg == "unmanaged" and .incarnation == 1 and
		.reachable and .checks == "ok"' >/dev/null || fail "$l's own row: $(row "$l" "$j")"
	row "$o" "$j" | jq -e '(.asked | not) and .role == "follower" and .acting == null and
		.lease == "no" and .sync == false and .reachable' >/dev/null ||
		fail "$o's row on $l: $(row "$o" "$j")"
	row witness "$j" | jq -e '.kind == "witness" and .role == "follower" and .sync == null and
		.pg == null and .checks == null and .quorum == {"reachable": 3, "members": 3, "ok": true}' \
		>/dev/null || fail "the witness row on $l: $(row witness "$j")"
	j=$TMP/list-$o.json
	row "$o" "$j" | jq -e '.asked and .role == "follower" and .acting == "standby" and
		.lease == "no"' >/dev/null || fail "$o's own row: $(row "$o" "$j")"
	row "$l" "$j" | jq -e '.role == "leader" and .acting == null and .lease == null' \
		>/dev/null || fail "$l's row on $o: $(row "$l" "$j")"
	row witness "$j" | jq -e '.role == null' >/dev/null ||
		fail "the witness row on $o: $(row witness "$j")"
	j=$TMP/list-witness.json
	row witness "$j" | jq -e '.asked and .role == "follower" and .quorum.ok' >/dev/null ||
		fail "the witness's own row: $(row witness "$j")"
	row "$o" "$j" | jq -e '.acting == null and .pg == null and .sync == false' >/dev/null ||
		fail "$o's row on the witness: $(row "$o" "$j")"
	ok "list --json: rows of $l, $o and witness as each sees them"
	grep -Eq "^$l\* +data +leader +master +no +unmanaged +- +held +ok +1 +yes\$" "$TMP/list-$l.txt" ||
		fail "$l's own row in its table: $(cat "$TMP/list-$l.txt")"
	grep -Eq "^witness +witness +follower +quorum 3/3 +- +- +- +no +- +1 +yes\$" "$TMP/list-$l.txt" ||
		fail "the witness row in $l's table: $(cat "$TMP/list-$l.txt")"
	grep -Eq "^$l +data +leader +\? +no +\? +\? +\? +ok +1 +yes\$" "$TMP/list-$o.txt" ||
		fail "$l's row in $o's table: $(cat "$TMP/list-$o.txt")"
	grep -q '^quorum: 3 of 3 members reachable from witness, 2 needed: yes$' "$TMP/list-witness.txt" ||
		fail "the witness's quorum line: $(cat "$TMP/list-witness.txt")"
	ok "list tables: $(tr '\n' '|' <"$TMP/list-$l.txt")"
	# a member down: unreachable in the others' view
	kill9 "$o"
	wait_until 5 "$l sees $o unreachable" eval \
		'"$BIN/duetctl" list --json --config "$TMP/$l.ini" |
		jq -en --arg o "$o" "input | (.members[] | select(.member == \$o) | .reachable == false) and .quorum.reachable == 2" >/dev/null'
	ok "$o killed: unreachable in $l's list, quorum 2 of 3"
}

# Past 10000 applied entries every member snapshots (member.c), each at the
# newest checkpoint at or below the fsm's trap floor; a member killed after
# that starts from its durable snapshot (member_start) and goes on applying
# from the entry after it.
# sd_notify: what a Type=notify unit with WatchdogSec= gets from duetd.
# systemd's side is a datagram socket read by notify_listen.py; journald's
# is JOURNAL_STREAM naming the log file duetd writes to.
count_lines() { grep -c -x "$1" "$2" 2>/dev/null || true; }
t_sd_notify() {
	setup
	local sock=$TMP/notify.sock out=$TMP/notify.txt
	python3 "$SRC/notify_listen.py" "$sock" "$out" &
	STARTED+=("$!")
	wait_until 3 "the notify listener is up" test -S "$sock"
	: >>"$TMP/node-a.log"
	local js
	js=$(stat -c '%d:%i' "$TMP/node-a.log")
	# WATCHDOG_PID: the shell's pid, which exec makes duetd's
	NOTIFY_SOCKET=$sock WATCHDOG_USEC=400000 JOURNAL_STREAM=$js \
		sh -c 'export WATCHDOG_PID=$$; exec "$0" --config "$1"' \
		"$BIN/duetd" "$TMP/node-a.ini" 2>>"$TMP/node-a.log" &
	PID[node-a]=$!
	STARTED+=("$!")
	start node-b
	start witness
	wait_until 5 "READY=1 from node-a" grep -q -x 'READY=1' "$out"
	grep -q '^STATUS=.*term [0-9]' "$out" || fail "no STATUS= with the term: $(cat "$out")"
	wait_until 5 "a STATUS= naming the role once a leader is known" \
		grep -q -E '^STATUS=(leader, term [0-9]+, (acting master|standby|taking)|follower of node-b, term [0-9]+, standby)' "$out"
	ok "node-a: READY=1, then $(grep '^STATUS=' "$out" | tail -1)"
	wait_until 5 "three keepalives (WatchdogSec 400 ms: one every 200 ms)" \
		eval '[ "$(count_lines WATCHDOG=1 "$out")" -ge 3 ]'
	kill -STOP "${PID[node-a]}"
	local before after
	before=$(count_lines WATCHDOG=1 "$out")
	sleep 1 # an observation window: a stopped loop must send nothing in it
	after=$(count_lines WATCHDOG=1 "$out")
	kill -CONT "${PID[node-a]}"
	[ "$before" = "$after" ] || fail "keepalives while the daemon was stopped: $before -> $after"
	wait_until 5 "keepalives again after SIGCONT" \
		eval '[ "$(count_lines WATCHDOG=1 "$out")" -gt '"$after"' ]'
	ok "keepalives from the loop: none while SIGSTOPped, again after SIGCONT"
	grep -q -E '^<[0-7]>(info|warn|error|debug): ' "$TMP/node-a.log" ||
		fail "no syslog priority prefix in the journal stream: $(head -3 "$TMP/node-a.log")"
	grep -v -E '^<[0-7]>(info|warn|error|debug): ' "$TMP/node-a.log" | grep -q . &&
		fail "a line without its priority: $(grep -v -E '^<[0-7]>' "$TMP/node-a.log" | head -2)"
	grep -q -E '^<[0-7]>[a-z]+: [0-9]{4}-[0-9]{2}-[0-9]{2}T' "$TMP/node-a.log" &&
		fail "a timestamp of our own in the journal stream"
	grep -q '^[0-9]\{4\}-' "$TMP/node-b.log" || fail "node-b (no journal) lost its timestamps"
	ok "journal stream: every line <N>level: without a timestamp of its own; node-b's stderr keeps them"
	stop_clean node-a
	grep -q -x 'STOPPING=1' "$out" || fail "no STOPPING=1 at SIGTERM"
	ok "STOPPING=1 at SIGTERM, exit 0"
}

t_snapshot_restart() {
	setup
	start_all
	wait_until 3 "first leader" leader_with_lease
	local follower i ans n
	follower=$(other_data "$LEADER")
	for i in 1 2 3 4 5 6; do
		ans=$(admin "$LEADER" '{"cmd":"probe","n":2000,"bytes":64}')
		echo "$ans" | jq -e '.ok == true' >/dev/null || fail "probe $i on $LEADER: $ans"
	done
	for n in "${NAMES[@]}"; do
		wait_until 10 "$n takes a snapshot" \
			is "$n" '.snapshot_index > 0 and .first_index == .snapshot_index + 1'
		grep -q 'info: snapshot at index' "$TMP/$n.log" || fail "$n logged no snapshot"
	done
	ok "every member snapshotted: $(field "$LEADER" '{snapshot_index, first_index}' | jq -c .)"
	kill9 "$follower"
	start "$follower"
	wait_until 5 "$follower restarts" is "$follower" '.snapshot_index > 0'
	grep -q 'log entries after a snapshot' "$TMP/$follower.log" ||
		fail "$follower did not start from its snapshot: $(grep 'log entries' "$TMP/$follower.log")"
	ans=$(admin "$LEADER" '{"cmd":"probe","n":100,"bytes":64}')
	echo "$ans" | jq -e '.ok == true' >/dev/null || fail "probe after the restart: $ans"
	wait_until 10 "$follower applies past its snapshot" \
		is "$follower" ".fsm_applied_index >= $(field "$LEADER" .commit_index)"
	[ "$(field "$follower" .fsm.refused)" = 0 ] || fail "$follower's fsm refused entries"
	ok "$follower restarted from its snapshot and applied to $(field "$follower" .fsm_applied_index)"
}

case $TEST in
leader | failover | restart | witness_quorum | foreign_ca | garbage | audit | probe | follow | maintenance | rejoin | wipe_without_rejoin | wiped_store_init_refused | \
	rejoin_answer_bound_to_store | init | storage_error_exit_status | slow_store_write_keeps_lease | why_round_trip | \
	snapshot_restart | list | sd_notify) "t_$TEST" ;;
*)
	echo "unknown test $TEST"
	exit 2
	;;
esac
exit 0
