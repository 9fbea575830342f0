#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# http_test.sh - duetd's HTTP endpoints (daemon/http_api.c) with real
# processes: two duetd and one duet-witness on loopback (lib.sh), each data
# node with [http] listen on its own port, asked with curl.
#
# usage: http_test.sh BIN_DIR HELPER_DIR TEST
#   master   GET and HEAD /master: exactly one data node answers 200 (the
#            acting master), the other 503 naming it; kill -9 of the master:
#            the survivor leads but still answers 503 naming the dead master
#            (no SYNC standby without PostgreSQL: no automatic failover),
#            until `duetctl promote --accept-data-loss` makes it master: then
#            200; the old master restarted answers 503 naming the new one.
#            /metrics on each step: valid exposition format, duet_is_master agreeing with /master, the term that
#            `duetctl status` shows, the forced promotion and its timings
#   https    the same endpoints over HTTPS ([http] tls_cert and tls_key, the
#            member certificates of `duetctl gencerts`): verified against
#            the cluster CA; plain HTTP to that port gets no answer
#   status_keys  one typed status, every member: the key paths of
#            status --json of the leader, the follower and the witness hold
#            every path (and type) of the documents recorded from the duetd
#            before the typed status (status_keys/*.txt, by status_keys.py),
#            and "version" is 1; each has "members" (the witness too) and
#            the kind of its peers and members. DUET_RECORD_KEYS=DIR writes the key paths
#            there instead (how status_keys/ was made, with older binaries)
#   metrics  the same three members: `promtool check metrics` is clean on
#            each one's exposition (HTTP /metrics on the data nodes, the
#            admin socket's "metrics" on all three); the leader is a label
#            (duet_raft_leader), the follower's last acknowledgement a
#            timestamp; the maintenance reason (UTF-8, a newline, quotes, a
#            backslash) reads back byte for byte from duet_maintenance_info
#   health   GET /health: 200 while the critical checks pass; 503 naming the
#            fs check once its directory is gone, 200 again once it is back
#   endpoints the names HAProxy templates and probes use: /primary answers
#            as /master (200 on the master only); /replica, /sync and /async
#            503 on both data nodes with the reason (no PostgreSQL here: the
#            200s are in tests/netns, role_test.sh replica_endpoints);
#            /liveness 200; /readiness 503 before the cluster has a leader,
#            200 on all once it has, 503 on a node whose peers are all gone;
#            HEAD like GET without a body; POST, PUT and DELETE 405 with
#            "Allow: GET, HEAD"
#   page     GET /status and the status page at / (daemon/http_page.c):
#            /status is application/json, parses with jansson (json_paths)
#            and has the key paths and types of `duetctl status --json` of
#            the same member; / is one self-contained HTML page under 16 KiB
#            (no src=, href= or URL: nothing fetched from elsewhere) whose
#            server-rendered snapshot shows the master's row with its name
#            and role on both data nodes, and the operator's maintenance
#            reason, which holds <script>, only escaped; HEAD and 405 as the
#            other routes
#   status_page  the page in headless Chromium (Debian's chromium): with
#            JavaScript, the DOM once the script has rendered from /status
#            (body data-source="script") shows the master's name and role,
#            the reason still inert (the snapshot without JavaScript is
#            the page test's: --dump-dom itself needs scripts); after kill -9 of the
#            master and a forced promotion the page of the survivor shows it
#            as master. Screenshots before and after in
#            HELPER_DIR/artifacts/ (kept)
#
# Synchronisation is polling with deadlines (lib.sh wait_until), never a
# fixed sleep.
set -u
BIN=$1
HELPERS=$2
TEST=$3
SRC=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$SRC/lib.sh"

read -r P_HTTP_A P_HTTP_B <<<"$(free_ports 2)"
declare -A HPORT=([node-a]=$P_HTTP_A [node-b]=$P_HTTP_B)
TLS=0
FS_CHECK=0

extra_config() {
	local name=$1
	[ "$name" = witness ] && return 0
	echo
	echo "[http]"
	echo "listen = 127.0.0.1:${HPORT[$name]}"
	if [ "$TLS" = 1 ]; then
		echo "tls_cert = $TMP/certs/$name.pem"
		echo "tls_key = $TMP/certs/$name.key"
	fi
	if [ "$FS_CHECK" = 1 ]; then
		cat <<EOC

[health]
fs_paths = $TMP/fs-$name
interval_ms = 100
timeout_ms = 400
fail_after = 2
ok_after = 2
EOC
	fi
}

# url NODE PATH
url() {
	if [ "$TLS" = 1 ]; then
		echo "https://$1:${HPORT[$1]}$2"
	else
		echo "http://127.0.0.1:${HPORT[$1]}$2"
	fi
}

# get NODE PATH [CURL ARGS...]: the body to stdout; HTTP_CODE set
get() {
	local n=$1 path=$2
	shift 2
	local out
	out=$(curl -s --max-time 5 --cacert "$TMP/certs/ca.pem" \
		--resolve "$n:${HPORT[$n]}:127.0.0.1" -w '\n%{http_code}' "$@" "$(url "$n" "$path")")
	HTTP_CODE=${out##*$'\n'}
	BODY=${out%$'\n'*}
}

# code_is NODE PATH CODE: the path answers CODE (asked anew)
code_is() {
	get "$1" "$2"
	[ "$HTTP_CODE" = "$3" ]
}

# json_is EXPR: the last body matches the jq expression
json_is() { [ "$(jq -r "$1" <<<"$BODY" 2>/dev/null)" = true ]; }

# metrics NODE: fetches /metrics into $TMP/NODE.prom and checks it
metrics() {
	get "$1" /metrics
	[ "$HTTP_CODE" = 200 ] || fail "/metrics on $1 answered $HTTP_CODE"
	printf '%s' "$BODY" >"$TMP/$1.prom"
	python3 "$SRC/prom_check.py" "$TMP/$1.prom" >/dev/null ||
		fail "/metrics of $1 is not valid: $(python3 "$SRC/prom_check.py" "$TMP/$1.prom" 2>&1)"
}

# series NODE SERIES: the value in the last $TMP/NODE.prom
series() { python3 "$SRC/prom_check.py" "$TMP/$1.prom" "$2" 2>/dev/null; }

# check_master MASTER OTHER: /master 200 on MASTER, 503 naming it on OTHER,
# HEAD the same without a body, and /metrics agreeing
check_master() {
	local m=$1 o=$2
	code_is "$m" /master 200 || fail "/master on $m: $HTTP_CODE $BODY"
	json_is '.master == true and .node == "'"$m"'" and .acting == "master"' ||
		fail "/master body on $m: $BODY"
	# the follower names the master once it has applied the MASTER entry
	wait_until 3 "/master on $o answers 503 naming $m" \
		eval "code_is $o /master 503 && json_is '.master == false and .master_node == \"$m\"'"
	get "$m" /master -I
	[ "$HTTP_CODE" = 200 ] || fail "HEAD /master on $m: $HTTP_CODE"
	grep -qi '^content-length: [1-9]' <<<"$BODY" || fail "HEAD /master: no Content-Length: $BODY"
	grep -q '"master"' <<<"$BODY" && fail "HEAD /master sent a body: $BODY"
	get "$o" /master -I
	[ "$HTTP_CODE" = 503 ] || fail "HEAD /master on $o: $HTTP_CODE"
	metrics "$m"
	metrics "$o"
	[ "$(series "$m" duet_is_master)" = 1 ] || fail "duet_is_master on $m is not 1"
	[ "$(series "$o" duet_is_master)" = 0 ] || fail "duet_is_master on $o is not 0"
	[ "$(series "$m" 'duet_raft_role{role="leader"}')" = 1 ] || fail "$m: not leader in /metrics"
	[ "$(series "$m" "duet_log_master{master=\"$m\",reason=\"$(field "$m" .master.reason)\"}")" = 1 ] ||
		fail "$m: duet_log_master disagrees with status"
	# the term moves only with an election: status and metrics agree on it
	local term
	term=$(field "$m" .term)
	[ "$(series "$m" duet_raft_term)" = "$term" ] || fail "$m: duet_raft_term is not $term"
	[ "$(series "$o" duet_raft_term)" = "$term" ] || fail "$o: duet_raft_term is not $term"
}

# ---- tests -------------------------------------------------------------------

t_master() {
	setup
	start_all
	wait_until 3 "a data node leads with the lease" leader_with_lease
	local old=$LEADER new
	new=$(other_data "$old")
	wait_until 5 "$old acts as master" is "$old" '.acting == "master"'
	wait_until 5 "/master answers 200 on $old" code_is "$old" /master 200
	check_master "$old" "$new"
	ok "/master: 200 on $old, 503 naming $old on $new; HEAD; /metrics agree"
	# exactly one 200 whatever the moment: ask both, many times
	local i ones
	for i in $(seq 1 20); do
		ones=0
		code_is node-a /master 200 && ones=$((ones + 1))
		code_is node-b /master 200 && ones=$((ones + 1))
		[ "$ones" = 1 ] || fail "round $i: $ones data nodes answered 200"
	done
	ok "20 rounds: exactly one 200"

	kill9 "$old"
	wait_until 5 "$new leads with the lease after kill -9 of $old" \
		is "$new" '.role == "leader" and .lease.valid'
	# no SYNC standby without PostgreSQL: MASTER(failover) is refused, the
	# log still names the dead master and /master must not say otherwise
	wait_until 5 "$new refused to take over (no promotable standby)" \
		is "$new" '.why_not_master | test("no promotable standby")'
	code_is "$new" /master 503 || fail "/master on $new after the kill: $HTTP_CODE $BODY"
	json_is '.master_node == "'"$old"'" and .leader == "'"$new"'"' ||
		fail "/master on $new should name $old master and $new leader: $BODY"
	metrics "$new"
	[ "$(series "$new" duet_is_master)" = 0 ] || fail "duet_is_master on $new is not 0"
	ok "$new leads, refuses the failover, /master 503 still names $old"

	"$BIN/duetctl" promote --accept-data-loss --why "http_test" --config "$TMP/$new.ini" \
		>/dev/null || fail "duetctl promote on $new"
	wait_until 5 "/master answers 200 on $new after the forced promotion" \
		code_is "$new" /master 200
	json_is '.master == true and .master_node == "'"$new"'"' || fail "/master on $new: $BODY"
	metrics "$new"
	[ "$(series "$new" duet_is_master)" = 1 ] || fail "duet_is_master on $new is not 1"
	[ "$(series "$new" duet_forced_promotions_total)" = 1 ] ||
		fail "duet_forced_promotions_total on $new is not 1"
	[ "$(series "$new" duet_last_takeover_term)" = "$(field "$new" .last_takeover.term)" ] ||
		fail "duet_last_takeover_term disagrees with status"
	local d total
	d=$(series "$new" 'duet_last_takeover_duration_seconds{phase="detect"}') ||
		fail "no detect phase after a takeover from $old"
	total=$(series "$new" 'duet_last_takeover_duration_seconds{phase="total"}') ||
		fail "no total phase after the takeover"
	ok "forced promotion: /master 200 on $new (detect ${d}s, total ${total}s after leading)"

	start "$old"
	wait_until 10 "$old answers /master 503 naming $new" \
		eval "code_is $old /master 503 && json_is '.master_node == \"$new\"'"
	check_master "$new" "$old"
	ok "$old restarted: 503 naming $new"
	stop_clean "$new"
	stop_clean "$old"
	ok "both data nodes stop cleanly with the HTTP endpoints open"
}

t_https() {
	TLS=1
	setup
	start_all
	wait_until 3 "a data node leads with the lease" leader_with_lease
	local m=$LEADER o
	o=$(other_data "$m")
	wait_until 5 "/master answers 200 over HTTPS on $m" code_is "$m" /master 200
	check_master "$m" "$o"
	ok "HTTPS, verified against the cluster CA: 200 on $m, 503 on $o, /metrics valid"
	code_is "$o" /health 200 || fail "/health over HTTPS on $o: $HTTP_CODE"
	# plain HTTP to the HTTPS port: no HTTP answer (curl's code 000)
	local code
	code=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' \
		"http://127.0.0.1:${HPORT[$m]}/master")
	[ "$code" = 000 ] || fail "plain HTTP to the HTTPS port answered $code"
	# a client that does not trust the cluster CA is refused by its own side
	curl -s --max-time 5 -o /dev/null --resolve "$m:${HPORT[$m]}:127.0.0.1" \
		"https://$m:${HPORT[$m]}/master" && fail "curl trusted an unknown CA"
	ok "plain HTTP gets no answer from the HTTPS port; an unverified client refuses"
	stop_clean "$m"
	stop_clean "$o"
}

t_health() {
	FS_CHECK=1
	mkdir -p "$TMP/fs-node-a" "$TMP/fs-node-b"
	setup
	start_all
	wait_until 3 "a data node leads with the lease" leader_with_lease
	# break the check of the node that is not master (a failing critical
	# check on the master would make it try to hand over)
	local n
	n=$(other_data "$LEADER")
	wait_until 5 "/health on $n answers 200" code_is "$n" /health 200
	json_is '.status == "ok" and (.checks | map(select(.name == "fs" and .critical)) | length == 1)' ||
		fail "/health body on $n: $BODY"
	code_is "$LEADER" /health 200 || fail "/health on $LEADER: $HTTP_CODE $BODY"
	rm -rf "$TMP/fs-$n"
	wait_until 10 "/health on $n answers 503 naming fs" \
		eval "code_is $n /health 503 && json_is '.failing == \"fs\" and .status == \"failing\"'"
	json_is '.detail | length > 0' || fail "/health on $n gives no detail: $BODY"
	metrics "$n"
	[ "$(series "$n" 'duet_check_failing{check="fs"}')" = 1 ] || fail "duet_check_failing on $n is not 1"
	code_is "$LEADER" /health 200 || fail "/health on $LEADER: $HTTP_CODE $BODY"
	ok "fs check failing on $n: /health 503 naming it; $LEADER still 200"
	mkdir -p "$TMP/fs-$n"
	wait_until 10 "/health on $n answers 200 again" code_is "$n" /health 200
	get "$n" /health -I
	[ "$HTTP_CODE" = 200 ] || fail "HEAD /health on $n: $HTTP_CODE"
	ok "directory back: /health 200 again"
	stop_clean node-a
	stop_clean node-b
}

t_endpoints() {
	setup
	# one data node alone: alive, but not ready (no peer, no leader)
	start node-a
	wait_until 5 "/liveness on node-a answers 200" code_is node-a /liveness 200
	json_is '.ok == true and .node == "node-a" and .uptime_ms >= 0' || fail "/liveness body: $BODY"
	code_is node-a /readiness 503 || fail "/readiness alone: $HTTP_CODE $BODY"
	json_is '.ok == false and .peers_linked == 0 and .store == true and (.why | test("no link"))' ||
		fail "/readiness body alone: $BODY"
	ok "a data node alone: /liveness 200, /readiness 503 ($(jq -r .why <<<"$BODY"))"
	start node-b
	start witness
	wait_until 5 "a data node leads with the lease" leader_with_lease
	local m=$LEADER o
	o=$(other_data "$m")
	wait_until 5 "/master answers 200 on $m" code_is "$m" /master 200
	for n in node-a node-b; do
		wait_until 5 "/readiness on $n answers 200" code_is "$n" /readiness 200
		json_is ".ok == true and .leader == \"$m\" and .applied_index >= .commit_index" ||
			fail "/readiness body on $n: $BODY"
	done
	code_is "$m" /primary 200 || fail "/primary on $m: $HTTP_CODE"
	json_is ".master == true and .node == \"$m\"" || fail "/primary body on $m: $BODY"
	code_is "$o" /primary 503 || fail "/primary on $o: $HTTP_CODE"
	json_is ".master == false and .master_node == \"$m\"" || fail "/primary body on $o: $BODY"
	ok "/primary as /master: 200 on $m, 503 on $o; /readiness 200 on both"
	for p in /replica /sync /async; do
		code_is "$m" "$p" 503 || fail "$p on the master $m: $HTTP_CODE"
		json_is '.ok == false and .role == "master" and (.why | test("is the master"))' ||
			fail "$p body on $m: $BODY"
		code_is "$o" "$p" 503 || fail "$p on $o without PostgreSQL: $HTTP_CODE"
		json_is ".ok == false and .pg_managed == false and .master_node == \"$m\" and (.why | test(\"no PostgreSQL\"))" ||
			fail "$p body on $o: $BODY"
	done
	ok "/replica, /sync, /async: 503 on the master and on a node without PostgreSQL, with why"
	for p in /primary /replica /sync /async /liveness /readiness; do
		local want
		want=$(curl -s -o /dev/null -w '%{http_code}' "$(url "$o" "$p")")
		get "$o" "$p" -I
		[ "$HTTP_CODE" = "$want" ] || fail "HEAD $p on $o: $HTTP_CODE, GET: $want"
		grep -qi '^content-length: [1-9]' <<<"$BODY" || fail "HEAD $p: no Content-Length: $BODY"
		grep -q '"ok"\|"master"' <<<"$BODY" && fail "HEAD $p sent a body: $BODY"
		for meth in POST PUT DELETE; do
			get "$o" "$p" -X "$meth" -D - -o /dev/null -H 'Content-Length: 0'
			[ "$HTTP_CODE" = 405 ] || fail "$meth $p: $HTTP_CODE"
			grep -qi '^allow: GET, HEAD' <<<"$BODY" || fail "$meth $p: no right Allow header: $BODY"
		done
	done
	ok "HEAD answered like GET without a body; POST, PUT, DELETE 405 with Allow: GET, HEAD"
	# the peers gone: the survivor still lives, and is no longer ready
	kill9 witness
	kill9 "$m"
	wait_until 10 "/readiness on $o answers 503 once its peers are gone" \
		eval "code_is $o /readiness 503 && json_is '.peers_linked == 0'"
	local why
	why=$(jq -r .why <<<"$BODY")
	code_is "$o" /liveness 200 || fail "/liveness on $o alone: $HTTP_CODE"
	ok "$o alone: /readiness 503 ($why), /liveness 200"
	stop_clean "$o"
}

# keys_of_three: $M the leader, $O the follower, with maintenance on and
# the checks known; status --json of each of the three in $TMP/ROLE.json
keys_of_three() {
	FS_CHECK=1
	mkdir -p "$TMP/fs-node-a" "$TMP/fs-node-b"
	setup
	start_all
	wait_until 3 "a data node leads with the lease" leader_with_lease
	M=$LEADER
	O=$(other_data "$M")
	"$BIN/duetctl" maintenance on --why "$WHY" --config "$TMP/$M.ini" >"$TMP/out.txt" ||
		fail "maintenance on: $(cat "$TMP/out.txt")"
	local n
	for n in "${NAMES[@]}"; do
		wait_until 3 "maintenance on in $n's status" eval \
			'status "$n" | jq -en --arg w "$WHY" "input | .maintenance.why == \$w" >/dev/null'
	done
	wait_until 3 "checks known on $O" eval \
		"status $O | jq -en 'input | .checks | length > 0 and all(.state != \"UNKNOWN\")' >/dev/null"
	# an election at the start may have moved the leadership meanwhile
	wait_until 3 "a data node leads with the lease" leader_with_lease
	M=$LEADER
	O=$(other_data "$M")
	status "$M" >"$TMP/leader.json" || fail "status of $M"
	jq -e '.role == "leader"' "$TMP/leader.json" >/dev/null || fail "$M no longer leads"
	status "$O" >"$TMP/follower.json" || fail "status of $O"
	status witness >"$TMP/witness.json" || fail "status of the witness"
}

WHY=$'café – line1\nline2 "q" \\ end'

t_status_keys() {
	keys_of_three
	local role
	for role in leader follower witness; do
		if [ -n "${DUET_RECORD_KEYS:-}" ]; then
			python3 "$SRC/status_keys.py" paths <"$TMP/$role.json" >"$DUET_RECORD_KEYS/$role.txt"
			continue
		fi
		python3 "$SRC/status_keys.py" check "$SRC/status_keys/$role.txt" \
			<"$TMP/$role.json" >"$TMP/keys.out" ||
			fail "status --json of the $role lost key paths: $(cat "$TMP/keys.out")"
		jq -e '.version == 1' "$TMP/$role.json" >/dev/null || fail "the $role: no version 1"
		# added for duetctl list: every member's applied view of the members,
		# and the kind of each peer and member
		jq -e '(.members | map(.name) | sort) == ["node-a", "node-b", "witness"] and
			(.peers + .membership | all(.kind == (if .name == "witness" then "witness" else "data" end)))' \
			"$TMP/$role.json" >/dev/null || fail "the $role: members or kinds: $(jq -c '.members, .peers' "$TMP/$role.json")"
	done
	ok "status --json keeps every recorded key path and type on $M, $O and witness; version 1"
	stop_clean "$M"
	stop_clean "$O"
}

# promtool_clean FILE: `promtool check metrics` finds nothing in FILE
promtool_clean() {
	local out
	out=$(promtool check metrics <"$1" 2>&1) || fail "promtool check metrics on $1: $out"
	[ -z "$out" ] || fail "promtool check metrics on $1: $out"
}

t_metrics() {
	keys_of_three
	local role n
	for role in leader follower witness; do
		case $role in
		leader) n=$M ;;
		follower) n=$O ;;
		*) n=witness ;;
		esac
		admin_metrics "$n" >"$TMP/$role.prom" || fail "metrics over the admin socket of $n"
		promtool_clean "$TMP/$role.prom"
		python3 "$SRC/prom_check.py" "$TMP/$role.prom" >/dev/null ||
			fail "metrics of $n: $(python3 "$SRC/prom_check.py" "$TMP/$role.prom" 2>&1)"
		[ "$(python3 "$SRC/prom_check.py" "$TMP/$role.prom" --label duet_maintenance_info why)" = "$WHY" ] ||
			fail "the why label of $n: $(grep -a maintenance_info "$TMP/$role.prom")"
		[ "$(series "$role" "duet_raft_leader{leader=\"$M\"}")" = 1 ] ||
			fail "$n: duet_raft_leader does not name $M: $(grep raft_leader "$TMP/$role.prom")"
		if [ "$n" != witness ]; then
			metrics "$n" # the same over HTTP, into $TMP/$n.prom
			promtool_clean "$TMP/$n.prom"
		fi
	done
	grep -q '^duet_raft_peer_last_ack_timestamp_seconds{peer="witness"} [0-9]' "$TMP/leader.prom" ||
		fail "no last-ack timestamp of the witness on $M: $(grep last_ack "$TMP/leader.prom")"
	grep -q '^duet_acting' "$TMP/witness.prom" && fail "the witness has duet_acting"
	ok "promtool check metrics clean on $M, $O (HTTP and admin socket) and witness"
	ok "duet_raft_leader names $M everywhere; the maintenance reason reads back from its label"
	stop_clean "$M"
	stop_clean "$O"
}

# page_setup: the cluster up, $M the acting master answering /master 200,
# $O the other data node, maintenance on with PAGE_WHY as the reason
PAGE_WHY=$'<script>alert("x")</script> & \'q\' line1\nline2'
page_setup() {
	setup
	start_all
	wait_until 3 "a data node leads with the lease" leader_with_lease
	M=$LEADER
	O=$(other_data "$M")
	wait_until 5 "/master answers 200 on $M" code_is "$M" /master 200
	"$BIN/duetctl" maintenance on --why "$PAGE_WHY" --config "$TMP/$M.ini" >"$TMP/out.txt" ||
		fail "maintenance on: $(cat "$TMP/out.txt")"
	local n
	for n in "$M" "$O"; do
		wait_until 3 "maintenance on in $n's status" eval \
			'status "$n" | jq -en --arg w "$PAGE_WHY" "input | .maintenance.why == \$w" >/dev/null'
	done
}

# master_row FILE NAME: FILE holds the members table's row of NAME as master
master_row() { grep -q "<tr data-role=\"master\"><td>$2</td><td>master</td>" "$1"; }

# status_paths NODE: the key paths of /status and of duetctl status --json
# of NODE are the same (both read with jansson by json_paths)
status_paths() {
	get "$1" /status
	[ "$HTTP_CODE" = 200 ] || return 1
	printf '%s' "$BODY" >"$TMP/http-status.json"
	status "$1" >"$TMP/ctl-status.json" || return 1
	"$HELPERS/json_paths" "$TMP/http-status.json" >"$TMP/http-status.paths" || return 1
	"$HELPERS/json_paths" "$TMP/ctl-status.json" >"$TMP/ctl-status.paths" || return 1
	diff "$TMP/http-status.paths" "$TMP/ctl-status.paths" >"$TMP/paths.diff"
}

t_page() {
	page_setup
	local n
	for n in "$M" "$O"; do
		get "$n" /status -D "$TMP/status.headers"
		[ "$HTTP_CODE" = 200 ] || fail "/status on $n: $HTTP_CODE $BODY"
		grep -qi '^content-type: application/json' "$TMP/status.headers" ||
			fail "/status on $n: $(cat "$TMP/status.headers")"
		printf '%s' "$BODY" >"$TMP/$n-status.json"
		"$HELPERS/json_paths" "$TMP/$n-status.json" >/dev/null ||
			fail "/status on $n does not parse with jansson: $BODY"
		jq -e --arg n "$n" --arg m "$M" --arg w "$PAGE_WHY" \
			'.version == 1 and .name == $n and .master.node == $m and .maintenance.why == $w' \
			"$TMP/$n-status.json" >/dev/null || fail "/status on $n: $BODY"
		wait_until 5 "/status and status --json of $n have the same key paths" status_paths "$n"
	done
	ok "/status: application/json, read by jansson, the key paths of duetctl status --json on $M and $O"

	for n in "$M" "$O"; do
		get "$n" / -D "$TMP/page.headers"
		[ "$HTTP_CODE" = 200 ] || fail "/ on $n: $HTTP_CODE"
		printf '%s' "$BODY" >"$TMP/$n.html"
		grep -qi '^content-type: text/html; charset=utf-8' "$TMP/page.headers" ||
			fail "/ on $n: $(cat "$TMP/page.headers")"
		grep -qi "^content-security-policy: default-src 'none'" "$TMP/page.headers" ||
			fail "/ on $n: no Content-Security-Policy: $(cat "$TMP/page.headers")"
		local size
		size=$(stat -c %s "$TMP/$n.html")
		[ "$size" -lt 16384 ] || fail "the page of $n is $size bytes"
		master_row "$TMP/$n.html" "$M" || fail "the page of $n shows no master row of $M"
		grep -q '<tr data-role="[a-z ]*"><td>'"$O"'</td>' "$TMP/$n.html" ||
			fail "the page of $n shows no row of $O"
		grep -q '<td>witness</td><td>witness</td>' "$TMP/$n.html" ||
			fail "the page of $n shows no witness row"
		grep -q '<dt>maintenance</dt><dd>on, by [^<]*: &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39; line1' \
			"$TMP/$n.html" || fail "the page of $n: the reason is not there, escaped"
		[ "$(grep -o '<script' "$TMP/$n.html" | wc -l)" = 1 ] ||
			fail "the page of $n has more than its own script"
		grep -qiE 'src=|href=|https?://|@import|url\(' "$TMP/$n.html" &&
			fail "the page of $n refers to something elsewhere: $(grep -oiE '.{20}(src=|href=|https?://|@import|url\().{20}' "$TMP/$n.html")"
		grep -q "fetch('/status'" "$TMP/$n.html" || fail "the page of $n has no script asking /status"
		ok "/ on $n: $size bytes, self-contained; the snapshot names $M master; the reason escaped"
	done

	for p in / /status; do
		get "$O" "$p" -I
		[ "$HTTP_CODE" = 200 ] || fail "HEAD $p: $HTTP_CODE"
		grep -qi '^content-length: [1-9]' <<<"$BODY" || fail "HEAD $p: no Content-Length: $BODY"
		grep -q '<html\|"version"' <<<"$BODY" && fail "HEAD $p sent a body: $BODY"
		get "$O" "$p" -X POST -D - -o /dev/null -H 'Content-Length: 0'
		[ "$HTTP_CODE" = 405 ] || fail "POST $p: $HTTP_CODE"
		grep -qi '^allow: GET, HEAD' <<<"$BODY" || fail "POST $p: no right Allow header: $BODY"
	done
	ok "HEAD / and /status like GET without a body; POST 405 with Allow: GET, HEAD"
	stop_clean "$M"
	stop_clean "$O"
}

# chrome NODE OUT [ARGS...]: the DOM of NODE's page in headless Chromium
# after 4 s of virtual time (the script's first renders), into OUT
chrome() {
	local n=$1 out=$2
	shift 2
	timeout 60 chromium --headless --no-sandbox --disable-gpu --no-first-run \
		--user-data-dir="$TMP/chromium" --virtual-time-budget=4000 "$@" \
		--dump-dom "$(url "$n" /)" >"$out" 2>>"$TMP/chromium.log" ||
		fail "chromium on $n's page: $(tail -3 "$TMP/chromium.log")"
}

# shot NODE FILE: a screenshot of NODE's page once the script has rendered
shot() {
	timeout 60 chromium --headless --no-sandbox --disable-gpu --no-first-run \
		--user-data-dir="$TMP/chromium" --virtual-time-budget=4000 --hide-scrollbars \
		--window-size=1100,900 --screenshot="$2" "$(url "$1" /)" >>"$TMP/chromium.log" 2>&1 ||
		fail "chromium screenshot of $1's page: $(tail -3 "$TMP/chromium.log")"
	[ -s "$2" ] || fail "no screenshot in $2"
}

t_status_page() {
	command -v chromium >/dev/null || fail "chromium is not installed (scripts/install-deps.sh)"
	local art="$HELPERS/artifacts"
	mkdir -p "$art"
	page_setup
	chrome "$O" "$TMP/dom.html"
	grep -q '<body data-source="script" data-renders="[1-9]' "$TMP/dom.html" ||
		fail "the script did not render the page: $(head -c 600 "$TMP/dom.html")"
	master_row "$TMP/dom.html" "$M" || fail "the rendered page of $O shows no master row of $M"
	grep -q '<dd>on, by [^<]*: &lt;script&gt;alert("x")&lt;/script&gt; &amp;' "$TMP/dom.html" ||
		fail "the rendered page: the reason is not shown as text"
	[ "$(grep -o '<script' "$TMP/dom.html" | wc -l)" = 1 ] ||
		fail "the rendered page has more than its own script"
	grep -q '<p id="updated">Updated from /status at ' "$TMP/dom.html" ||
		fail "the rendered page does not say it was updated from /status"
	ok "Chromium, script on: $O's page rendered from /status names $M master"
	shot "$O" "$art/status_page_before.png"

	kill9 "$M"
	wait_until 5 "$O leads with the lease after kill -9 of $M" \
		is "$O" '.role == "leader" and .lease.valid'
	"$BIN/duetctl" promote --accept-data-loss --why "status_page" --config "$TMP/$O.ini" \
		>/dev/null || fail "duetctl promote on $O"
	wait_until 5 "/master answers 200 on $O after the forced promotion" code_is "$O" /master 200
	chrome "$O" "$TMP/dom-after.html"
	grep -q '<body data-source="script"' "$TMP/dom-after.html" ||
		fail "after the failover the script did not render"
	master_row "$TMP/dom-after.html" "$O" || fail "after the failover the page shows no master row of $O"
	grep -q '<dt>FIP holder</dt><dd>'"$O"' (this node, acting master)</dd>' "$TMP/dom-after.html" ||
		fail "after the failover the page does not name $O FIP holder"
	shot "$O" "$art/status_page_after.png"
	ok "after kill -9 of $M and a forced promotion, $O's page shows $O master (screenshots in $art)"
	stop_clean "$O"
}

case "$TEST" in
master | https | health | endpoints | status_keys | metrics | page | status_page) "t_$TEST" ;;
*)
	echo "unknown test $TEST" >&2
	exit 2
	;;
esac
