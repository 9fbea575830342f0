#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# traps_test.sh - the trap pipeline end to end (DESIGN.md 5) with real
# processes and real clients: two duetd and one duet-witness on loopback
# (lib.sh), node-a's receivers on 127.0.0.1 and node-b's on 127.0.0.2 (same
# ports), both delivering to one duet-trapsink (a TCP JSON-lines sink that
# counts, per message seq, the distinct record ids that carried it).
#
# usage: traps_test.sh BIN_DIR HELPER_DIR TEST
#   clients    logger (UDP, TCP, TCP octet counting, RFC 3164 and 5424),
#              snmptrap (v1, v2c, v3 authPriv SHA/AES and MD5/DES), snmpinform
#              v2c, curl (HTTP and HTTPS with a token): every trap sent to
#              both nodes reaches the sink exactly once; a trap sent twice
#              on purpose reaches it twice
#   failover   a steady syslog stream to both nodes; the leader is killed
#              with -9 in the middle: every message reaches the sink, none
#              under two ids
#   pg_sink    the same stream and kill -9 with [sink] type = postgresql, a
#              real PostgreSQL 15 on loopback: every message is one row
#   relp_sink  the same stream and kill -9 with [sink] type = relp, a real
#              rsyslogd with imrelp on loopback (its own config, work dir,
#              PID file and port) writing to a file: every message there,
#              none under two ids (a repeat under the same id is allowed:
#              at least once, and counted)
#   backlog_outage
#              a long sink outage to the bound: [traps] backlog_max_bytes =
#              1 MiB, a 128 MiB map on every member, the sink down, curl posts custom traps of ~4 KiB to
#              the leader until it answers 503: the refusals are counted
#              (status, /metrics), the backlog is full and within its bound
#              on both data nodes, no member dies or fills its map; the
#              sink comes back: every trap answered 202 reaches it once,
#              none answered 503 does, and the bound is released
#   restart_window
#              one syslog trap sent to both nodes three times (committed
#              as ordinals 1..3); the standby restarts and receives it a
#              fourth time alone: the fourth reaches the sink (the
#              restarted node rebuilt its ordinal window from the log,
#              issue 13 defect 4), nothing is committed twice
#   malformed  truncated BER, a wrong community, wrong USM keys, a 1 MiB
#              syslog line, invalid JSON, a slow HTTP client, a wrong token:
#              each refused and counted by reason, nothing reaches the sink,
#              both nodes stay up and a valid trap afterwards still does
set -u
BIN=$1
HELPERS=$2
TEST=$3
SRC=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$SRC/lib.sh"

declare -A RXIP=([node-a]=127.0.0.1 [node-b]=127.0.0.2)
read -r P_SYSLOG_UDP P_SYSLOG_TCP P_SNMP P_HTTP P_HTTPS P_METRICS <<<"$(free_ports 6)"
ENGINE=0x80001f8804647565746531
TOKEN=duet-test-token-0123456789
SINK_PID=
REPORT=$TMP/sink-report.json

extra_config() {
	local name=$1
	[ "$name" = witness ] && return 0
	local ip=${RXIP[$name]}
	cat <<EOC

[traps]
syslog_udp = $ip:$P_SYSLOG_UDP
syslog_tcp = $ip:$P_SYSLOG_TCP
snmp_udp = $ip:$P_SNMP
http = $ip:$P_HTTP
https = $ip:$P_HTTPS
tls_cert = $TMP/certs/$name.pem
tls_key = $TMP/certs/$name.key
http_token_file = $TMP/token
snmp_communities = public
snmp_users_file = $TMP/snmp-users
request_timeout_ms = 1500
${TRAPS_EXTRA:-}

EOC
	if [ -n "${METRICS:-}" ]; then
		printf '[http]\nlisten = %s:%s\n\n' "$ip" "$P_METRICS"
	fi
	if [ -n "${RELP_PORT:-}" ]; then
		cat <<EOC
[sink]
type = relp
address = 127.0.0.1:$RELP_PORT
EOC
	elif [ -n "${PG_PORT:-}" ]; then
		cat <<EOC
[sink]
type = postgresql
conninfo = host=127.0.0.1 port=$PG_PORT user=postgres dbname=postgres connect_timeout=5
table = traps
EOC
	else
		cat <<EOC
[sink]
type = tcp
address = 127.0.0.1:$SINK_PORT
EOC
	fi
}

# ---- an rsyslogd with imrelp on loopback for the relp sink ---------------

RELP_PORT=

# start_rsyslog: rsyslogd -n with the test's own config, work dir and PID
# file; a Direct queue, so a message is in the file before its rsp. $! is
# rsyslogd itself (exec), in STARTED: killed by PID at exit.
start_rsyslog() {
	read -r RELP_PORT <<<"$(free_ports 1)"
	mkdir -p "$TMP/rsyslog"
	cat >"$TMP/rsyslog/rsyslog.conf" <<EOC
global(workDirectory="$TMP/rsyslog")
main_queue(queue.type="Direct")
module(load="imrelp")
input(type="imrelp" address="127.0.0.1" port="$RELP_PORT" ruleset="traps")
template(name="traps" type="string" string="%msg%\n")
ruleset(name="traps" queue.type="Direct") {
  action(type="omfile" file="$TMP/rsyslog/traps.log" template="traps" asyncWriting="off")
}
EOC
	(exec rsyslogd -n -f "$TMP/rsyslog/rsyslog.conf" -i "$TMP/rsyslog/rsyslogd.pid" \
		>"$TMP/rsyslog.log" 2>&1) &
	STARTED+=("$!")
	wait_until 10 "rsyslogd listens on $RELP_PORT" \
		eval "ss -Hltn 'sport = :$RELP_PORT' | grep -q LISTEN"
}

# ---- a PostgreSQL 15 server on loopback for the postgresql sink ----------

PG_BIN=/usr/lib/postgresql/15/bin
PG_DIR=
PG_PID=

extra_cleanup() {
	if [ -n "$PG_PID" ]; then
		kill -QUIT "$PG_PID" 2>/dev/null # immediate shutdown
		wait "$PG_PID" 2>/dev/null
	fi
	[ -n "$PG_DIR" ] && rm -rf "$PG_DIR"
}

# as_pg CMD...: runs CMD as the postgres user (initdb and postgres refuse root)
as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }

start_pg() {
	PG_DIR=$(mktemp -d /tmp/duet-pg.XXXXXX)
	chown postgres: "$PG_DIR"
	read -r PG_PORT <<<"$(free_ports 1)"
	as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U postgres -N --no-instructions \
		>"$TMP/initdb.log" 2>&1 || fail "initdb: $(tail -5 "$TMP/initdb.log")"
	# exec: $! is the postmaster itself, not a subshell waiting for it
	(exec setpriv --reuid=postgres --regid=postgres --init-groups "$PG_BIN/postgres" \
		-D "$PG_DIR/data" -p "$PG_PORT" -k "$PG_DIR" -c listen_addresses=127.0.0.1 \
		-c fsync=off >"$TMP/postgres.log" 2>&1) &
	PG_PID=$!
	wait_until 30 "PostgreSQL accepts connections" \
		"$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"
}

psql_value() { psql -X -A -t -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -c "$1"; }

# start_sink ARGS...: duet-trapsink in the background, SINK_PORT set
start_sink() {
	rm -f "$TMP/sink.port" "$REPORT"
	"$BIN/duet-trapsink" --listen 127.0.0.1:0 --port-file "$TMP/sink.port" \
		--report "$REPORT" "$@" 2>>"$TMP/sink.log" &
	SINK_PID=$!
	STARTED+=("$SINK_PID")
	wait_until 5 "the sink listens" test -s "$TMP/sink.port"
	SINK_PORT=$(cat "$TMP/sink.port")
}

# sink_report: waits for the sink to stop (it stops by itself at
# --until-count, else it gets SIGTERM) and prints its report
sink_report() {
	local deadline=$(($(now_ms) + ${1:-20} * 1000 * SLOW))
	while kill -0 "$SINK_PID" 2>/dev/null && [ "$(now_ms)" -lt "$deadline" ]; do
		sleep 0.05
	done
	kill -TERM "$SINK_PID" 2>/dev/null
	wait "$SINK_PID" 2>/dev/null
	cat "$REPORT"
}

setup_traps() {
	printf '%s\n' "$TOKEN" >"$TMP/token"
	cat >"$TMP/snmp-users" <<EOU
# net-snmp createUser lines
createUser -e $ENGINE duetsha SHA shaAuthPass1 AES shaPrivPass1
createUser -e $ENGINE duetmd5 MD5 md5AuthPass1 DES md5PrivPass1
EOU
	setup
	start_all
	wait_until 5 "a data node leads with the lease" leader_with_lease
	wait_until 5 "$LEADER proposes traps" is "$LEADER" '.traps.proposing'
}

msg() { echo "duetbench seq=$1 sent_ns=$(date +%s%N) tag=$TAG"; }

# to_both CMD...: runs CMD with {IP} replaced by each node's receiver address
to_both() {
	local ip
	for ip in 127.0.0.1 127.0.0.2; do
		"${@//\{IP\}/$ip}" || fail "sender failed: ${*//\{IP\}/$ip}"
	done
}

snmp_v2c() {
	to_both snmptrap -v 2c -c public "{IP}:$P_SNMP" '' 1.3.6.1.4.1.99999.0.1 \
		1.3.6.1.4.1.99999.1 s "$(msg "$1")"
}

custom_json() {
	printf '{"FacilityID":"it","DATA":[{"DATE":"2026-11-25T12:00:00Z","TYPE":"STRING","KEY":"k","MSG":"%s"}]}' "$(msg "$1")"
}

t_clients() {
	TAG=clients
	# 13 kinds of sends below, seqs 1..13, then seq 14 twice on purpose
	start_sink --tag "$TAG" --expect-first 1 --expect-last 14 --until-count 14 --linger-ms 1500
	setup_traps
	to_both logger --udp -n "{IP}" -P "$P_SYSLOG_UDP" --rfc3164 -t duetit "$(msg 1)"
	to_both logger --udp -n "{IP}" -P "$P_SYSLOG_UDP" --rfc5424 -t duetit "$(msg 2)"
	to_both logger --tcp -n "{IP}" -P "$P_SYSLOG_TCP" --rfc3164 -t duetit "$(msg 3)"
	to_both logger --tcp -n "{IP}" -P "$P_SYSLOG_TCP" --rfc5424 -t duetit "$(msg 4)"
	to_both logger --tcp -n "{IP}" -P "$P_SYSLOG_TCP" --octet-count --rfc5424 -t duetit "$(msg 5)"
	to_both snmptrap -v 1 -c public "{IP}:$P_SNMP" 1.3.6.1.4.1.99999 127.0.0.1 6 1 '' \
		1.3.6.1.4.1.99999.1 s "$(msg 6)"
	snmp_v2c 7
	to_both snmptrap -v 3 -e "$ENGINE" -u duetsha -l authPriv -a SHA -A shaAuthPass1 -x AES \
		-X shaPrivPass1 "{IP}:$P_SNMP" '' 1.3.6.1.4.1.99999.0.2 1.3.6.1.4.1.99999.1 s "$(msg 8)"
	to_both snmptrap -v 3 -e "$ENGINE" -u duetmd5 -l authPriv -a MD5 -A md5AuthPass1 -x DES \
		-X md5PrivPass1 "{IP}:$P_SNMP" '' 1.3.6.1.4.1.99999.0.3 1.3.6.1.4.1.99999.1 s "$(msg 9)"
	# an inform waits for our Response (snmpinform fails without one)
	to_both snmpinform -v 2c -c public -r 1 -t 3 "{IP}:$P_SNMP" '' 1.3.6.1.4.1.99999.0.4 \
		1.3.6.1.4.1.99999.1 s "$(msg 10)"
	to_both curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" \
		-H 'Content-Type: application/json' --data "$(custom_json 11)" "http://{IP}:$P_HTTP/traps"
	local a body
	body=$(custom_json 12) # one trap: the same body to both nodes
	for a in node-a node-b; do
		curl -sf -o /dev/null --cacert "$TMP/certs/ca.pem" \
			--resolve "$a:$P_HTTPS:${RXIP[$a]}" -H "Authorization: Bearer $TOKEN" \
			-H 'Content-Type: application/json' --data "$body" \
			"https://$a:$P_HTTPS/traps" || fail "curl https to $a"
	done
	to_both logger --udp -n "{IP}" -P "$P_SYSLOG_UDP" --rfc5424 -t duetit "$(msg 13)"
	# the same trap twice, on purpose, inside the window: two traps
	local twice
	twice=$(msg 14)
	to_both logger --udp -n "{IP}" -P "$P_SYSLOG_UDP" --rfc3164 -t duetit "$twice"
	to_both logger --udp -n "{IP}" -P "$P_SYSLOG_UDP" --rfc3164 -t duetit "$twice"
	local r
	r=$(sink_report 30)
	echo "sink: $r"
	echo "$r" | jq -e '.lost == 0' >/dev/null || fail "lost: $(echo "$r" | jq -c .first_lost)"
	echo "$r" | jq -e '.duplicated == 1 and .first_duplicated == [14]' >/dev/null ||
		fail "only seq 14, sent twice on purpose, may arrive under two ids: $r"
	ok "every trap of every client reached the sink once; the repeat sent on purpose twice"
	local n
	for n in node-a node-b; do
		[ "$(field "$n" '.traps.committed_repeats')" = 0 ] || fail "$n: committed repeats"
		[ "$(field "$n" '.traps.receivers.snmp.copies >= 5')" = true ] ||
			fail "$n received no SNMP: $(field "$n" .traps.receivers)"
	done
	[ "$(field node-a '.traps.receivers.informs_answered')" -ge 1 ] || fail "no inform answered"
	ok "no committed repeat; informs answered"
	"$BIN/duetctl" status --config "$TMP/$LEADER.ini" >"$TMP/status.txt" ||
		fail "duetctl status"
	grep -q '^traps .*proposing, delivering; received [1-9]' "$TMP/status.txt" &&
		grep -q '^sink  *tcp 127.0.0.1:[0-9]*: .*, [1-9][0-9]* batches confirmed' "$TMP/status.txt" ||
		fail "duetctl status shows no trap lines: $(cat "$TMP/status.txt")"
	ok "duetctl status: $(grep -A3 '^traps' "$TMP/status.txt" | tr -s ' ' | tr '\n' '|')"
	for n in node-a node-b witness; do
		stop_clean "$n"
	done
	ok "every process stopped cleanly on SIGTERM"
}

# stream_and_kill RATE COUNT: duet-trapgen to both nodes; the leader is
# killed with -9 once a third of the stream is committed; sets OLD and NEW
stream_and_kill() {
	local rate=$1 count=$2
	"$BIN/duet-trapgen" --to "127.0.0.1:$P_SYSLOG_UDP" --to "127.0.0.2:$P_SYSLOG_UDP" \
		--rate "$rate" --count "$count" --tag "$TAG" >"$TMP/gen.json" 2>>"$TMP/gen.log" &
	local gen=$!
	STARTED+=("$gen")
	wait_until 10 "a third of the stream is committed" \
		is "$LEADER" ".traps.committed >= $((count / 3))"
	OLD=$LEADER
	NEW=$(other_data "$OLD")
	kill9 "$OLD"
	ok "killed $OLD (leader) with $(field "$NEW" .traps.committed) traps committed"
	wait "$gen" || fail "trapgen failed: $(cat "$TMP/gen.log")"
	echo "generator: $(cat "$TMP/gen.json")"
	wait_until 10 "$NEW proposes traps" is "$NEW" '.traps.proposing'
}

t_failover() {
	TAG=failover
	local rate=2000 secs=8 count
	count=$((rate * secs))
	start_sink --tag "$TAG" --expect-first 1 --expect-last "$count" --until-count "$count" \
		--linger-ms 2000
	setup_traps
	stream_and_kill "$rate" "$count"
	local new=$NEW r
	r=$(sink_report 60)
	echo "sink: $r"
	echo "$r" | jq -e ".lost == 0 and .duplicated == 0 and .seqs_seen == $count" >/dev/null ||
		fail "lost $(echo "$r" | jq .lost) (first $(echo "$r" | jq -c .first_lost)), duplicated $(echo "$r" | jq .duplicated)"
	ok "$count traps across the failover: 0 lost, 0 duplicated ($(echo "$r" | jq .repeated_ids) redelivered under the same id)"
	[ "$(field "$new" '.traps.receivers.syslog_udp_listeners[0].kernel_drops')" = 0 ] ||
		fail "kernel drops on $new"
}

t_pg_sink() {
	TAG=pgsink
	local rate=2000 count=8000
	start_pg
	setup_traps
	stream_and_kill "$rate" "$count"
	local q="SELECT count(*), count(DISTINCT seq), coalesce(min(seq), 0), coalesce(max(seq), 0)
		FROM (SELECT substring(trap->>'msg' from 'seq=([0-9]+)')::int AS seq FROM traps
		      WHERE trap->>'msg' LIKE '%tag=$TAG%') s"
	wait_until 60 "every message is a row" eval '[ "$(psql_value "$q" 2>/dev/null)" = "$count|$count|1|$count" ]'
	ok "$count traps across the failover: $(psql_value "$q") (rows, distinct seqs, min, max)"
	# the id is the primary key: a redelivery after the failover was
	# ignored, and no seq sits under two ids
	[ "$(psql_value "SELECT count(*) FROM traps")" = "$count" ] || fail "extra rows"
	[ "$(field "$NEW" '.traps.sink.type')" = postgresql ] ||
		fail "sink: $(status "$NEW" | jq -c .traps.sink)"
	ok "one row per trap: $count rows"
}

t_relp_sink() {
	TAG=relpsink
	local rate=2000 count=8000 log
	start_rsyslog
	setup_traps
	stream_and_kill "$rate" "$count"
	log=$TMP/rsyslog/traps.log
	# seq and id of each line of this tag, read with jq
	local q='select(.trap.msg | test("tag='$TAG'")) |
		"\(.trap.msg | capture("seq=(?<s>[0-9]+)").s) \(.id)"'
	wait_until 60 "every message is in rsyslog's file" eval \
		'[ "$(jq -r "$q" "$log" 2>/dev/null | cut -d" " -f1 | sort -u | wc -l)" = "$count" ]'
	local lines ids pairs seqs
	lines=$(jq -r "$q" "$log" | wc -l)
	pairs=$(jq -r "$q" "$log" | sort -u | wc -l)
	ids=$(jq -r "$q" "$log" | cut -d" " -f2 | sort -u | wc -l)
	seqs=$(jq -r "$q" "$log" | cut -d" " -f1 | sort -u | wc -l)
	[ "$pairs" = "$count" ] && [ "$ids" = "$count" ] ||
		fail "$seqs seqs under $ids ids ($pairs distinct seq/id pairs) for $count traps"
	[ "$(field "$NEW" '.traps.sink.type')" = relp ] ||
		fail "sink: $(status "$NEW" | jq -c .traps.sink)"
	"$BIN/duetctl" status --config "$TMP/$NEW.ini" >"$TMP/status.txt" ||
		fail "duetctl status: $(cat "$TMP/status.txt")"
	grep -q '^sink  *relp 127.0.0.1:[0-9]*: connected, [1-9][0-9]* batches confirmed' \
		"$TMP/status.txt" && grep -q '^  *relp window 128, in flight [0-9]*, records resent' \
		"$TMP/status.txt" || fail "status text: $(grep -A2 '^sink' "$TMP/status.txt")"
	ok "$count traps across the failover into rsyslog over RELP: 0 lost, none under two ids, $((lines - count)) repeated under the same id (at least once; resent $(field "$NEW" '.traps.sink.records_resent'))"
}

# post_many FIRST LAST CODES: one curl process posts custom traps FIRST..LAST
# (~4 KiB each, all of one size) to the leader, one request after the
# other; CODES gets one HTTP status per line, in order
post_many() {
	local first=$1 last=$2 codes=$3 i pad
	pad=$(printf 'x%.0s' $(seq 4000))
	mkdir -p "$TMP/bodies"
	: >"$TMP/curl.conf"
	for i in $(seq "$first" "$last"); do
		printf '{"FacilityID":"it","DATA":[{"DATE":"2026-11-25T12:00:00Z","TYPE":"STRING","KEY":"k","MSG":"duetbench seq=%05d sent_ns=%s tag=%s %s"}]}' \
			"$i" "$(date +%s%N)" "$TAG" "$pad" >"$TMP/bodies/$i.json"
		[ "$i" = "$first" ] || echo next >>"$TMP/curl.conf"
		cat >>"$TMP/curl.conf" <<EOC
url = "http://${RXIP[$LEADER]}:$P_HTTP/traps"
header = "Authorization: Bearer $TOKEN"
header = "Content-Type: application/json"
data-binary = "@$TMP/bodies/$i.json"
output = "/dev/null"
write-out = "%{http_code}\\n"
EOC
	done
	curl -s -K "$TMP/curl.conf" >"$codes" 2>>"$TMP/curl.log" || fail "curl: $(tail -3 "$TMP/curl.log")"
}

# metric NODE NAME: the value of one sample (name and labels as written)
metric() {
	curl -s "http://${RXIP[$1]}:$P_METRICS/metrics" | awk -v m="$2" '$1 == m { print $2 }'
}

# store_bytes NODE: the size of NODE's LMDB file (the pages it ever used)
store_bytes() { stat -c %s "$TMP/$1/data.mdb"; }

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/${PID[$1]}/status"; }

t_backlog_outage() {
	TAG=backlog
	local bound=1048576 sent=400
	TRAPS_EXTRA="backlog_max_bytes = $bound"
	# a small map on all three members (check-config: 2.1 x the bound +
	# the audit bound + 96 MiB must fit it)
	NODE_EXTRA=$'map_max_mib = 128\naudit_max_bytes = 8388608'
	METRICS=1
	# the sink's address is configured, nothing listens there yet: the
	# outage lasts from the first trap on
	read -r SINK_PORT <<<"$(free_ports 1)"
	setup_traps
	local standby n
	standby=$(other_data "$LEADER")
	for n in node-a node-b witness; do
		"$BIN/duetctl" check-config "$TMP/$n.ini" >/dev/null || fail "check-config $n"
	done
	declare -A store0 rss0
	for n in node-a node-b witness; do
		store0[$n]=$(store_bytes "$n")
		rss0[$n]=$(rss_kib "$n")
	done
	post_many 1 "$sent" "$TMP/codes"
	local accepted refused
	accepted=$(grep -c '^202$' "$TMP/codes")
	refused=$(grep -c '^503$' "$TMP/codes")
	[ $((accepted + refused)) = "$sent" ] ||
		fail "answers other than 202 and 503: $(sort "$TMP/codes" | uniq -c | tr '\n' ' ')"
	[ "$accepted" -gt 0 ] && [ "$refused" -gt 0 ] || fail "accepted $accepted, refused $refused"
	# all traps are one size and nothing is delivered: the accepted ones
	# are the first ones, every one after the bound is refused
	[ "$(head -n "$accepted" "$TMP/codes" | sort -u)" = 202 ] ||
		fail "a trap after a refusal was accepted: $(uniq -c "$TMP/codes" | tr '\n' ' ')"
	ok "$accepted traps accepted (202), then $refused refused (503) with the sink down"
	wait_until 10 "the $accepted accepted traps are committed and applied on both data nodes" \
		eval "is $LEADER '.traps.undelivered == $accepted' && is $standby '.traps.undelivered == $accepted'"
	is "$LEADER" ".traps.drops.backlog_full == $refused and .traps.backlog_full and
		.traps.backlog_max_bytes == $bound" ||
		fail "status: $(status "$LEADER" | jq -c '.traps | {drops, backlog_full, backlog_max_bytes}')"
	local ub
	ub=$(field "$LEADER" .traps.undelivered_bytes)
	[ "$ub" -le "$bound" ] && [ "$(field "$standby" .traps.undelivered_bytes)" = "$ub" ] ||
		fail "undelivered bytes: $LEADER $ub, $standby $(field "$standby" .traps.undelivered_bytes), bound $bound"
	ok "status: backlog_full $(field "$LEADER" .traps.drops.backlog_full) refusals; $ub undelivered bytes on both data nodes (bound $bound)"
	[ "$(metric "$LEADER" duet_traps_backlog_full)" = 1 ] &&
		[ "$(metric "$LEADER" duet_traps_backlog_max_bytes)" = "$bound" ] &&
		[ "$(metric "$LEADER" duet_traps_undelivered_bytes)" = "$ub" ] &&
		[ "$(metric "$LEADER" "duet_traps_dropped_total{receiver=\"http\",reason=\"backlog_full\"}")" = "$refused" ] ||
		fail "/metrics: $(curl -s "http://${RXIP[$LEADER]}:$P_METRICS/metrics" | grep -E 'backlog|undelivered|dropped')"
	ok "/metrics: backlog full, $refused dropped for backlog_full"
	# what one backlog byte costs (figures, not limits)
	for n in node-a node-b witness; do
		echo "$n: log file +$(($(store_bytes "$n") - store0[$n])) bytes, memory +$(($(rss_kib "$n") - rss0[$n])) KiB for $ub backlog bytes"
	done
	for n in node-a node-b witness; do
		kill -0 "${PID[$n]}" 2>/dev/null || fail "$n died"
		! grep -q -i 'map is full' "$TMP/$n.log" || fail "$n: map full"
	done
	ok "every member up, none reports a full map"

	start_sink --listen "127.0.0.1:$SINK_PORT" --tag "$TAG" --expect-first 1 \
		--expect-last "$accepted" --until-count "$accepted" --linger-ms 1500
	local r
	r=$(sink_report 60)
	echo "sink: $r"
	echo "$r" | jq -e ".lost == 0 and .duplicated == 0 and .seqs_seen == $accepted and
		.seqs_unexpected == 0 and .lines_other_tag == 0" >/dev/null ||
		fail "the sink did not get exactly the $accepted accepted traps once each: $r"
	ok "every accepted trap reached the sink once, none of the refused ones"
	wait_until 10 "the backlog is delivered and released on both data nodes" \
		eval "is $LEADER '.traps.undelivered == 0 and (.traps.backlog_full | not)' && is $standby '.traps.undelivered == 0'"
	post_many $((sent + 1)) $((sent + 1)) "$TMP/codes2"
	[ "$(cat "$TMP/codes2")" = 202 ] || fail "a trap after the delivery: $(cat "$TMP/codes2")"
	ok "after the delivery a new trap is accepted again"
	for n in node-a node-b witness; do
		stop_clean "$n"
	done
	ok "every process stopped cleanly on SIGTERM"
}

# udp_send IP PORT HEX|@FILE: one datagram
udp_send() {
	python3 - "$@" <<'EOP'
import socket, sys
ip, port, what = sys.argv[1], int(sys.argv[2]), sys.argv[3]
data = open(what[1:], 'rb').read() if what.startswith('@') else bytes.fromhex(what)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(data, (ip, port))
EOP
}

t_malformed() {
	TAG=malformed
	start_sink --tag "$TAG" --expect-first 1 --expect-last 1 --until-count 1 --linger-ms 1000
	setup_traps
	local ip
	for ip in 127.0.0.1 127.0.0.2; do
		# a v2c trap cut in the middle of its varbinds (BER runs past its end)
		udp_send "$ip" "$P_SNMP" 302902010104067075626c6963a71c02
		# a wrong community
		snmptrap -v 2c -c secret "$ip:$P_SNMP" '' 1.3.6.1.4.1.99999.0.1 \
			1.3.6.1.4.1.99999.1 s "$(msg 900)"
		# a known user with the wrong keys
		snmptrap -v 3 -e "$ENGINE" -u duetsha -l authPriv -a SHA -A wrongAuthPass -x AES \
			-X wrongPrivPass "$ip:$P_SNMP" '' 1.3.6.1.4.1.99999.0.2 1.3.6.1.4.1.99999.1 s "$(msg 901)"
		# a 1 MiB syslog line over TCP
		python3 -c "
import socket
s = socket.create_connection(('$ip', $P_SYSLOG_TCP))
s.sendall(b'<13>' + b'x' * (1 << 20) + b'\n')
s.close()"
		# invalid JSON, a wrong token
		[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
			-H 'Content-Type: application/json' --data '{"FacilityID":' \
			"http://$ip:$P_HTTP/traps")" = 400 ] || fail "invalid JSON not 400"
		[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer nope" \
			-H 'Content-Type: application/json' --data "$(custom_json 902)" \
			"http://$ip:$P_HTTP/traps")" = 401 ] || fail "wrong token not 401"
		# a slow client: headers, then nothing until the request deadline
		python3 -c "
import socket
s = socket.create_connection(('$ip', $P_HTTP))
s.sendall(b'POST /traps HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $TOKEN\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{')
s.settimeout(10)
print(s.recv(200).split(b'\r\n')[0].decode())" >"$TMP/slow.txt" 2>&1
		grep -q ' 408 ' "$TMP/slow.txt" || fail "slow client not 408: $(cat "$TMP/slow.txt")"
	done
	local n
	for n in node-a node-b; do
		wait_until 5 "$n counted the refusals" is "$n" '
			(.traps.receivers.snmp_refused | length) >= 2 and
			.traps.receivers.syslog_tcp_server.refused.oversized >= 1 and
			.traps.receivers.http_server.refused.invalid_trap >= 1 and
			.traps.receivers.http_server.refused.token_wrong >= 1 and
			.traps.receivers.http_server.refused.request_timeout >= 1'
		echo "$n refused: $(status "$n" | jq -c '.traps.receivers |
			{snmp: .snmp_refused, tcp: .syslog_tcp_server.refused, http: .http_server.refused}')"
	done
	ok "every malformed input refused and counted by reason on both nodes"
	to_both logger --udp -n "{IP}" -P "$P_SYSLOG_UDP" --rfc5424 -t duetit "$(msg 1)"
	local r
	r=$(sink_report 20)
	echo "sink: $r"
	echo "$r" | jq -e '.lost == 0 and .duplicated == 0 and .lines_other_tag == 0 and
		.seqs_unexpected == 0' >/dev/null || fail "the sink got something it should not: $r"
	for n in node-a node-b; do
		kill -0 "${PID[$n]}" 2>/dev/null || fail "$n died"
	done
	ok "a valid trap afterwards reached the sink once; both nodes up"
}

# The repeat after a restart is a new trap, not a copy of the first one.
t_restart_window() {
	TAG=restart
	# a window of 120 s (copies match within 60 s): the whole test runs
	# inside one episode and one match tolerance even when slow, so the
	# fourth copy numbered 1 (the defect) is taken for a copy of the first
	TRAPS_EXTRA="window_ms = 120000"
	start_sink --tag "$TAG"
	setup_traps
	local standby x n k
	standby=$(other_data "$LEADER")
	x=$(msg 1) # the same text each time: one identity
	for k in 1 2 3; do
		to_both logger --udp -n "{IP}" -P "$P_SYSLOG_UDP" --rfc3164 -t duetit "$x"
		wait_until 10 "copy $k committed" \
			is "$LEADER" ".traps.committed >= $k and .traps.pending == 0"
		wait_until 10 "$standby holds no copy $k" is "$standby" ".traps.pending == 0"
	done
	[ "$(field "$LEADER" .traps.committed)" = 3 ] || fail "three copies, three traps"
	ok "three copies of one trap committed as three"
	stop_clean "$standby"
	# not a synchronisation: the copies this node counted must lie more
	# than the seed margin (DUET_TRAP_SEED_MARGIN_MS, 2 s) before its new
	# start, as they do after any real restart but a very quick one
	sleep 2.5
	start "$standby"
	local last
	last=$(field "$LEADER" .traps.last_committed_index)
	wait_until 20 "$standby applied the log again" \
		is "$standby" ".traps.last_committed_index >= $last"
	logger --udp -n "${RXIP[$standby]}" -P "$P_SYSLOG_UDP" --rfc3164 -t duetit "$x" ||
		fail "logger to $standby"
	wait_until 10 "the fourth copy, received by $standby alone, committed" \
		is "$LEADER" ".traps.committed >= 4"
	[ "$(field "$standby" .traps.drops.duplicate)" = 0 ] ||
		fail "$standby took the fourth copy for a copy of a committed one"
	[ "$(field "$standby" '.traps.window_seeded >= 3')" = true ] ||
		fail "$standby seeded $(field "$standby" .traps.window_seeded) keys"
	ok "$standby rebuilt its window ($(field "$standby" .traps.window_seeded) keys) and took the fourth copy"
	wait_until 10 "the sink confirmed the fourth" \
		is "$LEADER" ".traps.confirmed_index >= .traps.last_committed_index"
	local r
	r=$(sink_report 1)
	echo "sink: $r"
	echo "$r" | jq -e '.distinct_ids == 4' >/dev/null ||
		fail "four copies sent, four records expected: $r"
	for n in node-a node-b; do
		[ "$(field "$n" '.traps.committed_repeats')" = 0 ] || fail "$n: committed repeats"
	done
	ok "four records for four copies; no committed repeat"
	for n in node-a node-b witness; do
		stop_clean "$n"
	done
}

case $TEST in
clients | failover | malformed | pg_sink | relp_sink | backlog_outage | restart_window) "t_$TEST" ;;
*)
	echo "unknown test $TEST"
	exit 2
	;;
esac
exit 0
