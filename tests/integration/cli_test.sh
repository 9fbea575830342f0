#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# cli_test.sh - the command line habits of duetd, duet-witness and duetctl
# (issue 16, item 3) with real processes on loopback (lib.sh).
#
# usage: cli_test.sh BIN_DIR HELPER_DIR TEST
#   daemon_options  duetd and duet-witness: -c FILE, --config=FILE and
#                   $DUET_CONFIG name the file read (a witness config given
#                   to duetd is refused naming it); --config wins over
#                   $DUET_CONFIG; an unknown option or a missing value exits
#                   2 with the usage; --help: the witness lists only the
#                   sections it reads, duetd the whole peer_conninfo default
#   long_line       a cluster whose node-a config holds a 600-character
#                   [manager] check_command line (more than the 197 the old
#                   reader took): check-config shows it whole (text and
#                   --json), the daemons started with $DUET_CONFIG and -c
#                   elect a leader, and duetctl finds each through
#                   $DUET_CONFIG alone
#   json_errors     duetctl --json with jq: a stopped daemon gives
#                   {"error":{"code":"unreachable"}} and exit 1, an unknown
#                   option "usage" and exit 2, a missing config "config" and
#                   exit 1, a refused request "refused" and exit 1; a running
#                   one a status document and exit 0; status --watch --json an
#                   error line per round; log --verify --json of a
#                   damaged copy of a store "damaged" and exit 1
#
# Synchronisation is polling with deadlines (lib.sh wait_until).
set -u
BIN=$1
HELPERS=$2
TEST=$3
SRC=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$SRC/lib.sh"

# run_rc OUT ERR CMD...: runs CMD with stdout and stderr in files, prints
# its exit status
run_rc() {
	local out=$1 err=$2
	shift 2
	"$@" >"$out" 2>"$err"
	echo $?
}

test_daemon_options() {
	setup
	local o=$TMP/out e=$TMP/err rc
	for form in "-c $TMP/witness.ini" "--config=$TMP/witness.ini" "--config $TMP/witness.ini"; do
		# shellcheck disable=SC2086 # the form is two words or one
		rc=$(run_rc "$o" "$e" "$BIN/duetd" $form)
		[ "$rc" = 1 ] || fail "duetd $form: exit $rc, want 1: $(cat "$e")"
		grep -q "witness member in $TMP/witness.ini; run duet-witness" "$e" ||
			fail "duetd $form did not read the file: $(cat "$e")"
	done
	rc=$(DUET_CONFIG=$TMP/witness.ini run_rc "$o" "$e" "$BIN/duetd")
	[ "$rc" = 1 ] && grep -q "in $TMP/witness.ini" "$e" ||
		fail "duetd with DUET_CONFIG: exit $rc: $(cat "$e")"
	rc=$(DUET_CONFIG=$TMP/witness.ini run_rc "$o" "$e" "$BIN/duetd" -c "$TMP/node-a.ini" --bogus)
	[ "$rc" = 2 ] && grep -q "duetd: unknown option '--bogus'" "$e" && grep -q '^usage: duetd' "$e" ||
		fail "unknown option: exit $rc: $(cat "$e")"
	rc=$(run_rc "$o" "$e" "$BIN/duet-witness" -c)
	[ "$rc" = 2 ] && grep -q "option '-c' needs a FILE" "$e" && grep -q '^usage: duet-witness' "$e" ||
		fail "missing value: exit $rc: $(cat "$e")"
	rc=$(run_rc "$o" "$e" "$BIN/duet-witness" stray)
	[ "$rc" = 2 ] && grep -q "unexpected argument 'stray'" "$e" || fail "stray argument: exit $rc"
	rc=$(DUET_CONFIG=/nonexistent/duet.ini run_rc "$o" "$e" "$BIN/duet-witness" -c "$TMP/node-a.ini")
	[ "$rc" = 1 ] && grep -q "in $TMP/node-a.ini; run duetd" "$e" ||
		fail "--config does not win over DUET_CONFIG: $(cat "$e")"
	ok "-c, --config=, --config, \$DUET_CONFIG and unknown options"

	"$BIN/duet-witness" --help >"$o" || fail "duet-witness --help"
	for s in cluster node 'member NAME' tls raft; do
		grep -qx "\[$s\]" "$o" || fail "witness --help lacks [$s]"
	done
	for s in pg fip fence manager health traps sink http; do
		if grep -qx "\[$s\]" "$o"; then fail "witness --help lists [$s]"; fi
	done
	grep -q 'without it: $DUET_CONFIG when set' "$o" && grep -q 'else /etc/duet/duet.ini)' "$o" || fail "witness --help: default path"
	"$BIN/duetd" --help >"$o" || fail "duetd --help"
	grep -q "default: host=<the other data member's address> port=5432 user=postgres dbname=postgres$" "$o" ||
		fail "duetd --help cuts the peer_conninfo default: $(grep -A1 peer_conninfo "$o")"
	grep -q 'Exit status: 0 stopped cleanly, 1 failure' "$o" || fail "duetd --help: exit status"
	ok "--help: the witness's sections, the whole peer_conninfo default, exit codes"
}

LONG_CMD=
extra_config() {
	[ "$1" = node-a ] || return 0
	printf '\n[manager]\ncheck_command = %s\n' "$LONG_CMD"
}

test_long_line() {
	# a real command, padded with harmless arguments to 600 characters
	LONG_CMD="test -n 'aws ec2 associate-address --region eu-west-1 --allocation-id eipalloc-0123456789abcdef0 --network-interface-id eni-0123456789abcdef0 --private-ip-address 10.0.1.17 --allow-reassociation'"
	while [ ${#LONG_CMD} -lt 600 ]; do LONG_CMD="$LONG_CMD x"; done
	LONG_CMD=${LONG_CMD:0:599}"'"
	[ ${#LONG_CMD} = 600 ] || fail "the command is ${#LONG_CMD} characters"
	setup
	local line
	line=$(grep '^check_command = ' "$TMP/node-a.ini")
	[ ${#line} -gt 600 ] || fail "the config line is ${#line} characters"
	"$BIN/duetctl" check-config -c "$TMP/node-a.ini" >"$TMP/cc" || fail "check-config: $(cat "$TMP/cc")"
	grep -qF "  check_command              $LONG_CMD" "$TMP/cc" || fail "check-config text: $(grep check_command "$TMP/cc")"
	local got
	got=$("$BIN/duetctl" check-config --config="$TMP/node-a.ini" --json | jq -r '.sections.manager.check_command')
	[ "$got" = "$LONG_CMD" ] || fail "check-config --json: ${#got} characters"
	for s in node pg fip fence manager health traps sink http; do
		"$BIN/duetctl" check-config "$TMP/node-a.ini" --json | jq -e ".sections | has(\"$s\")" >/dev/null ||
			fail "check-config --json lacks [$s]"
	done
	ok "a ${#line}-character line read whole; check-config shows every section"

	# the daemons find their config through DUET_CONFIG and -c
	DUET_CONFIG=$TMP/node-a.ini "$BIN/duetd" 2>>"$TMP/node-a.log" &
	PID[node-a]=$!
	STARTED+=("$!")
	"$BIN/duetd" -c "$TMP/node-b.ini" 2>>"$TMP/node-b.log" &
	PID[node-b]=$!
	STARTED+=("$!")
	DUET_CONFIG=$TMP/witness.ini "$BIN/duet-witness" 2>>"$TMP/witness.log" &
	PID[witness]=$!
	STARTED+=("$!")
	wait_until 15 "a leader with a lease" leader_with_lease
	for n in "${NAMES[@]}"; do
		[ "$(DUET_CONFIG=$TMP/$n.ini "$BIN/duetctl" status --json | jq -r .name)" = "$n" ] ||
			fail "duetctl status through DUET_CONFIG for $n"
	done
	ok "daemons and duetctl found their config through \$DUET_CONFIG and -c; $LEADER leads"
}

# jq_code FILE: the error code in the JSON on stdout
jq_code() { jq -r '.error.code' "$1" 2>/dev/null; }

test_json_errors() {
	setup
	local o=$TMP/out e=$TMP/err rc
	rc=$(run_rc "$o" "$e" "$BIN/duetctl" status --json -c "$TMP/node-a.ini")
	[ "$rc" = 1 ] && [ "$(jq_code "$o")" = unreachable ] ||
		fail "stopped daemon: exit $rc, $(cat "$o")"
	jq -e '.error.message | test("cannot connect")' "$o" >/dev/null || fail "message: $(cat "$o")"
	[ "$(jq -s length "$o")" = 1 ] || fail "more than one JSON document: $(cat "$o")"
	rc=$(run_rc "$o" "$e" "$BIN/duetctl" maintenance on --json --wat -c "$TMP/node-a.ini")
	[ "$rc" = 2 ] && [ "$(jq_code "$o")" = usage ] || fail "unknown option: exit $rc, $(cat "$o")"
	rc=$(DUET_CONFIG=$TMP/nothing.ini run_rc "$o" "$e" "$BIN/duetctl" log --json)
	[ "$rc" = 1 ] && [ "$(jq_code "$o")" = config ] || fail "missing config: exit $rc, $(cat "$o")"
	jq -e ".error.message | startswith(\"$TMP/nothing.ini: cannot open\")" "$o" >/dev/null ||
		fail "config message: $(cat "$o")"
	rc=$(run_rc "$o" "$e" "$BIN/duetctl" check-config --json "$TMP/nothing.ini")
	[ "$rc" = 1 ] && [ "$(jq_code "$o")" = config ] && jq -e '.ok == false and (.errors | length) == 1' "$o" >/dev/null ||
		fail "check-config of a missing file: exit $rc, $(cat "$o")"
	ok "unreachable, usage and config errors as one object, exits 1, 2, 1"

	# --watch goes on after an error: one error line per round
	"$BIN/duetctl" status --watch --json --socket "$TMP/none.sock" >"$TMP/watch" 2>/dev/null &
	local wpid=$!
	STARTED+=("$wpid")
	wait_until 10 "two rounds of --watch" eval '[ "$(wc -l <"$TMP/watch")" -ge 2 ]'
	kill -INT "$wpid"
	wait "$wpid"
	rc=$?
	[ "$rc" = 1 ] || fail "status --watch --json ended with $rc"
	jq -e -s 'length >= 2 and all(.error.code == "unreachable")' "$TMP/watch" >/dev/null ||
		fail "status --watch --json: $(cat "$TMP/watch")"
	ok "status --watch --json: an error line per round ($(wc -l <"$TMP/watch") lines)"

	start_all
	wait_until 15 "a leader with a lease" leader_with_lease
	rc=$(run_rc "$o" "$e" "$BIN/duetctl" status --json --config="$TMP/node-a.ini")
	[ "$rc" = 0 ] && jq -e '.name == "node-a" and (has("error") | not)' "$o" >/dev/null ||
		fail "status --json: exit $rc, $(cat "$o")"
	# the witness refuses an operator command: a refusal is code refused
	rc=$(run_rc "$o" "$e" "$BIN/duetctl" promote --accept-data-loss --json -c "$TMP/witness.ini")
	[ "$rc" = 1 ] && [ "$(jq_code "$o")" = refused ] || fail "refused: exit $rc, $(cat "$o") $(cat "$e")"
	ok "a running daemon's status (exit 0); a refusal is code refused (exit 1)"

	# log --verify --json of a damaged copy of a stopped member's store
	stop_clean node-a
	cp -a "$TMP/node-a" "$TMP/copy"
	sed "s|^data_dir = .*|data_dir = $TMP/copy|" "$TMP/node-a.ini" >"$TMP/copy.ini"
	rc=$(run_rc "$o" "$e" "$BIN/duetctl" log --json --verify -c "$TMP/copy.ini")
	[ "$rc" = 0 ] && jq -e '.ok == true and .records > 0' "$o" >/dev/null ||
		fail "verify --json of the intact copy: exit $rc, $(cat "$o")"
	"$HELPERS/audit_tamper" "$TMP/copy" 2 >/dev/null || fail "audit_tamper"
	rc=$(run_rc "$o" "$e" "$BIN/duetctl" log --json --verify -c "$TMP/copy.ini")
	[ "$rc" = 1 ] && [ "$(jq_code "$o")" = damaged ] && jq -e '.ok == false and .seq == 2' "$o" >/dev/null ||
		fail "verify --json of the damaged copy: exit $rc, $(cat "$o")"
	rc=$(run_rc "$o" "$e" "$BIN/duetctl" log --json -c "$TMP/node-a.ini")
	[ "$rc" = 0 ] && jq -e -s 'length > 0 and all(.seq > 0 and (.hash | length) == 64 and (.entry | type) == "object")' "$o" >/dev/null ||
		fail "log --json records: exit $rc, $(head -c 300 "$o")"
	ok "log --verify --json: ok on a copy, code damaged (exit 1) once record 2 is altered; log --json records"
}

case "$TEST" in
daemon_options) test_daemon_options ;;
long_line) test_long_line ;;
json_errors) test_json_errors ;;
*) fail "unknown test $TEST" ;;
esac
