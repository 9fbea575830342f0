# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# rig.sh - test rig for duet's failover integration tests (source it, as root).
#
# Network namespaces on one bridge, two real PostgreSQL 15 servers in
# streaming replication, a tiny HTTP "manager", helpers to break things.
#
#   source tests/netns/rig.sh
#   rig_up                       # namespaces + bridge; installs `trap rig_down EXIT`
#   rig_pg_init                  # primary on node-a, streaming standby on node-b
#   rig_exec client some-tool ...
#
# Layout: one namespace per member, each with eth0 on the bridge br0 of the
# "hub" namespace (its ports va, vb, vw, vc):
#
#   node-a   $RIG_NET.1     node-b   $RIG_NET.2     witness  $RIG_NET.3
#   client   $RIG_NET.10    FIP      $RIG_NET.100/24 (not added: duet does it)
#
# Every run has its own namespaces (names "$RIG_PREFIX<node>", default
# prefix "duet<pid>-") and its own bridge, so runs never share a link: two
# runs may both use 10.77.0.0/24. Nothing touches the root namespace's
# addresses, routes or firewall. All state lives in $RIG_DIR (mktemp -d):
# pids, mounts, the namespaces created, and one directory per node:
#
#   $RIG_DIR/node-a/conf/      postgresql.conf, pg_hba.conf (per node, never copied)
#   $RIG_DIR/node-a/pg/        the data directory (postgresql.auto.conf lives here)
#   $RIG_DIR/node-a/pg.log     the server log;  .s.PGSQL.5432: the unix socket
#   $RIG_DIR/node-a/manager.pid, manager.pid.log
#
# Settings (environment, read at source time or by rig_up):
#   RIG_NET=10.77.0   first three octets of the /24     RIG_PREFIX  namespace prefix
#   RIG_PGBIN         PostgreSQL's bin dir              RIG_KEEP=1  keep $RIG_DIR
#   RIG_PG_PORT=5432  RIG_MANAGER_PORT=8080             RIG_NO_TRAP=1  no EXIT trap
#   RIG_TMP=/tmp      where $RIG_DIR is made (short: duet's commands are < 200 chars)
#   DUET_SLOW=N       multiply every deadline by N (sanitizer builds)
# A function `rig_on_down` defined by the caller runs first in rig_down, with
# the exit status in force as $1 (to print logs of a failed test, say).
#
# Waits are polls of a condition with a deadline (rig_wait), never a fixed
# sleep. Functions print errors on stderr and return nonzero; they work with
# or without `set -e`. NODE is node-a, node-b, witness, client (or hub).
#
#   rig_up / rig_down / rig_gc       build / tear down / remove leftovers of killed runs
#   rig_env, rig_ns NODE, rig_ip NODE   names and addresses ($RIG_FIP is the FIP)
#   rig_exec NODE CMD..., rig_bg NODE LOG CMD... (pid in RIG_BG_PID), rig_stop PID
#   rig_wait SECS WHAT CMD...        poll CMD until it succeeds or fail after SECS
#   rig_nic_down NODE [cable|admin], rig_nic_up NODE
#   rig_cut NODE [PEER...], rig_heal NODE       iptables partitions (client never cut)
#   rig_cut_in NODE PEER...          one-way: NODE drops what PEERs send it (INPUT only)
#   rig_fip_holder, rig_fip_add NODE, rig_fip_del NODE, rig_garp NODE [ADDR] [N]
#   rig_pg_init [TMPFS_SIZE], rig_pg_start/stop/kill/promote NODE, rig_pg_pid NODE
#   rig_pg_cmd NODE start|stop|promote, rig_pg_conninfo NODE, rig_pg_datadir NODE
#   rig_psql NODE SQL, rig_pg_make_sync [PRIMARY] [STANDBY]
#   rig_manager_cmds NODE, rig_manager_cmd NODE start|stop|check

RIG_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RIG_PGBIN=${RIG_PGBIN:-/usr/lib/postgresql/15/bin}
RIG_NET=${RIG_NET:-10.77.0}
RIG_PG_PORT=${RIG_PG_PORT:-5432}
RIG_MANAGER_PORT=${RIG_MANAGER_PORT:-8080}
RIG_SLOW=${DUET_SLOW:-1}
RIG_TMP=${RIG_TMP:-/tmp}
if [ -z "${RIG_PYTHON:-}" ]; then
	if [ -x /usr/bin/python3 ]; then
		RIG_PYTHON=/usr/bin/python3
	else
		RIG_PYTHON=$(command -v python3)
	fi
fi
RIG_NODES=(node-a node-b witness client)
declare -A RIG_HOSTNUM=([node-a]=1 [node-b]=2 [witness]=3 [client]=10)
declare -A RIG_PORTNAME=([node-a]=va [node-b]=vb [witness]=vw [client]=vc)
RIG_FIP=${RIG_NET}.100
RIG_BG_PID=

# ---------------------------------------------------------------- helpers

rig__err() {
	echo "rig: $*" >&2
}

rig__now_ms() {
	local t=${EPOCHREALTIME/./}
	echo $((t / 1000))
}

rig__is_node() {
	[ -n "${RIG_HOSTNUM[$1]:-}" ] || [ "$1" = hub ]
}

rig__need_up() {
	if [ -z "${RIG_DIR:-}" ] || [ ! -d "$RIG_DIR" ]; then
		rig__err "the rig is not up (call rig_up first)"
		return 1
	fi
}

rig__need_node() {
	if ! rig__is_node "${1:-}"; then
		rig__err "unknown node '${1:-}' (one of: ${RIG_NODES[*]} hub)"
		return 1
	fi
}

rig__need_pgnode() {
	case "${1:-}" in
	node-a | node-b) return 0 ;;
	esac
	rig__err "no PostgreSQL on '${1:-}' (node-a or node-b)"
	return 1
}

# rig__alive PID: the process exists and is not a zombie
rig__alive() {
	local st
	[ -r "/proc/$1/stat" ] || return 1
	st=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# rig_wait SECONDS WHAT CMD...: run CMD every 50 ms until it succeeds; after
# SECONDS (times DUET_SLOW) print "timed out waiting for WHAT" and return 1.
rig_wait() {
	local secs=$1 what=$2 deadline
	shift 2
	deadline=$(($(rig__now_ms) + secs * 1000 * RIG_SLOW))
	while :; do
		if "$@"; then
			return 0
		fi
		if [ "$(rig__now_ms)" -ge "$deadline" ]; then
			rig__err "timed out after $((secs * RIG_SLOW))s waiting for $what"
			return 1
		fi
		sleep 0.05
	done
}

# ---------------------------------------------------------------- names and addresses

# rig_ns NODE: the namespace name of NODE
rig_ns() {
	echo "${RIG_PREFIX}$1"
}

# rig_ip NODE: NODE's static address (SIP)
rig_ip() {
	echo "${RIG_NET}.${RIG_HOSTNUM[$1]}"
}

# rig_env: the rig's variables as shell assignments (also in $RIG_DIR/env)
rig_env() {
	local n
	echo "RIG_DIR=$RIG_DIR"
	echo "RIG_PREFIX=$RIG_PREFIX"
	echo "RIG_NET=$RIG_NET"
	echo "RIG_FIP=$RIG_FIP"
	echo "RIG_PG_PORT=$RIG_PG_PORT"
	echo "RIG_MANAGER_PORT=$RIG_MANAGER_PORT"
	for n in "${RIG_NODES[@]}"; do
		echo "RIG_NS_${n//-/_}=$(rig_ns "$n")"
		echo "RIG_IP_${n//-/_}=$(rig_ip "$n")"
	done
}

# ---------------------------------------------------------------- up / down

# rig_up: namespaces hub (bridge br0), node-a, node-b, witness, client; one
# veth pair from each into the bridge; SIPs on eth0; lo up everywhere.
rig_up() {
	local n ns port
	if [ -n "${RIG_DIR:-}" ] && [ -d "$RIG_DIR" ]; then
		rig__err "already up ($RIG_DIR)"
		return 1
	fi
	if [ "$(id -u)" != 0 ]; then
		rig__err "needs root (network namespaces, runuser)"
		return 1
	fi
	RIG_DIR=$(mktemp -d "$RIG_TMP/duet-rig-$$.XXXXXX") || return 1
	chmod 0755 "$RIG_DIR"
	# commands for duet's config must stay under 200 chars wherever the
	# source tree is: they name these links, not the tree
	ln -s "$RIG_SRC/manager.py" "$RIG_DIR/manager.py" || return 1
	RIG_OWNER=$BASHPID
	RIG_FIP=${RIG_NET}.100
	: >"$RIG_DIR/pids"
	: >"$RIG_DIR/mounts"
	: >"$RIG_DIR/netns"
	if [ -z "${RIG_PREFIX:-}" ]; then
		RIG_PREFIX="duet$$-"
		if [ -e "/run/netns/${RIG_PREFIX}hub" ]; then
			# a leftover of an earlier run whose pid was the same: do not collide
			RIG_PREFIX="duet$$-${RANDOM}-"
		fi
	fi
	if [ "${RIG_NO_TRAP:-0}" != 1 ]; then
		trap rig_down EXIT
		trap 'exit 129' HUP
		trap 'exit 130' INT
		trap 'exit 143' TERM
	fi
	for n in hub "${RIG_NODES[@]}"; do
		ns=$(rig_ns "$n")
		if [ -e "/run/netns/$ns" ]; then
			rig__err "namespace $ns exists already; set RIG_PREFIX"
			return 1
		fi
		echo "$ns" >>"$RIG_DIR/netns"
		ip netns add "$ns" || return 1
		ip -n "$ns" link set lo up || return 1
	done
	ns=$(rig_ns hub)
	ip -n "$ns" link add br0 type bridge || return 1
	ip -n "$ns" link set br0 up || return 1
	for n in "${RIG_NODES[@]}"; do
		port=${RIG_PORTNAME[$n]}
		ip -n "$ns" link add "$port" type veth peer name eth0 netns "$(rig_ns "$n")" || return 1
		ip -n "$ns" link set "$port" master br0 up || return 1
		ip -n "$(rig_ns "$n")" addr add "$(rig_ip "$n")/24" dev eth0 || return 1
		ip -n "$(rig_ns "$n")" link set eth0 up || return 1
	done
	rig_env >"$RIG_DIR/env"
}

# rig_down: stop everything the rig started (recorded PIDs, then every process
# in its namespaces), unmount, delete the namespaces, remove $RIG_DIR (kept
# with RIG_KEEP=1). Idempotent; rig_up installs it as the EXIT trap.
rig_down() {
	local rc=$? p ns m deadline left
	local -
	set +e
	[ -n "${RIG_DIR:-}" ] || return 0
	# a subshell of the owner must not tear down the owner's rig
	[ "${RIG_OWNER:-}" = "$BASHPID" ] || return 0
	if declare -F rig_on_down >/dev/null; then
		rig_on_down "$rc"
	fi
	# recorded background commands: SIGTERM first so they can flush
	if [ -f "$RIG_DIR/pids" ]; then
		while read -r p; do
			[ -n "$p" ] && rig__alive "$p" && kill -TERM "$p" 2>/dev/null
		done <"$RIG_DIR/pids"
		deadline=$(($(rig__now_ms) + 2000))
		while read -r p; do
			while [ -n "$p" ] && rig__alive "$p" && [ "$(rig__now_ms)" -lt "$deadline" ]; do
				sleep 0.02
			done
			[ -n "$p" ] && rig__alive "$p" && kill -KILL "$p" 2>/dev/null
		done <"$RIG_DIR/pids"
	fi
	# everything still running in our namespaces is ours (servers, managers)
	if [ -f "$RIG_DIR/netns" ]; then
		deadline=$(($(rig__now_ms) + 10000))
		while :; do
			left=
			while read -r ns; do
				[ -e "/run/netns/$ns" ] || continue
				for p in $(ip netns pids "$ns" 2>/dev/null); do
					kill -KILL "$p" 2>/dev/null && left="$left $p"
				done
			done <"$RIG_DIR/netns"
			[ -z "$left" ] && break
			if [ "$(rig__now_ms)" -ge "$deadline" ]; then
				rig__err "processes that would not die:$left"
				break
			fi
			sleep 0.02
		done
	fi
	# reap our own children (wait returns at once for the others)
	if [ -f "$RIG_DIR/pids" ]; then
		while read -r p; do
			[ -n "$p" ] && wait "$p" 2>/dev/null
		done <"$RIG_DIR/pids"
	fi
	if [ -f "$RIG_DIR/mounts" ]; then
		while read -r m; do
			[ -n "$m" ] || continue
			if mountpoint -q "$m"; then
				umount "$m" 2>/dev/null || umount -l "$m" || rig__err "could not unmount $m"
			fi
		done < <(tac "$RIG_DIR/mounts")
	fi
	if [ -f "$RIG_DIR/netns" ]; then
		while read -r ns; do
			[ -e "/run/netns/$ns" ] && { ip netns del "$ns" || rig__err "could not delete namespace $ns"; }
		done <"$RIG_DIR/netns"
	fi
	if [ "${RIG_KEEP:-0}" = 1 ]; then
		echo "rig: kept $RIG_DIR" >&2
	else
		rm -rf --one-file-system "$RIG_DIR"
	fi
	RIG_DIR=
}

# ---------------------------------------------------------------- processes

# rig_exec NODE CMD...: run CMD in NODE's namespace (NODE may be "hub")
rig_exec() {
	rig__need_node "${1:-}" || return 1
	local ns
	ns=$(rig_ns "$1")
	shift
	ip netns exec "$ns" "$@"
}

# rig_bg NODE LOGFILE CMD...: start CMD in the background in NODE's namespace,
# stdout and stderr appended to LOGFILE; its pid is recorded (rig_down stops
# it) and left in RIG_BG_PID.
rig_bg() {
	rig__need_up || return 1
	rig__need_node "${1:-}" || return 1
	local ns log=$2
	ns=$(rig_ns "$1")
	shift 2
	ip netns exec "$ns" "$@" >>"$log" 2>&1 </dev/null &
	RIG_BG_PID=$!
	echo "$RIG_BG_PID" >>"$RIG_DIR/pids"
}

# rig_stop PID [SECONDS]: SIGTERM, wait for it to end (default 5 s), then
# SIGKILL; reaps it when it is our child. Returns its exit status when known.
rig_stop() {
	local p=$1 secs=${2:-5} deadline rc=0
	if rig__alive "$p"; then
		kill -TERM "$p" 2>/dev/null
		deadline=$(($(rig__now_ms) + secs * 1000 * RIG_SLOW))
		while rig__alive "$p" && [ "$(rig__now_ms)" -lt "$deadline" ]; do
			sleep 0.02
		done
		if rig__alive "$p"; then
			rig__err "pid $p ignored SIGTERM for ${secs}s: SIGKILL"
			kill -KILL "$p" 2>/dev/null
		fi
	fi
	wait "$p" 2>/dev/null || rc=$?
	return "$rc"
}

# ---------------------------------------------------------------- network faults

# rig_nic_down NODE [cable|admin]: cable (default): the bridge port of NODE
# goes down, NODE's eth0 loses carrier (a pulled cable); admin: NODE's own
# eth0 is set down (its connected route goes with it).
rig_nic_down() {
	rig__need_node "${1:-}" || return 1
	case "${2:-cable}" in
	cable) ip -n "$(rig_ns hub)" link set "${RIG_PORTNAME[$1]}" down ;;
	admin) ip -n "$(rig_ns "$1")" link set eth0 down ;;
	*)
		rig__err "rig_nic_down: mode is cable or admin"
		return 1
		;;
	esac
}

# rig_nic_up NODE: undo rig_nic_down (either mode)
rig_nic_up() {
	rig__need_node "${1:-}" || return 1
	ip -n "$(rig_ns hub)" link set "${RIG_PORTNAME[$1]}" up || return 1
	ip -n "$(rig_ns "$1")" link set eth0 up
}

# rig_cut NODE [PEER...]: drop, in NODE's namespace, every IPv4 packet on eth0
# from or to the PEERs' SIPs (default: the other members node-a, node-b,
# witness, and the FIP). The client is never cut. Traffic over lo (NODE's own
# FIP, for example) is untouched. Needs iptables.
rig_cut() {
	rig__need_node "${1:-}" || return 1
	local node=$1 ns addrs=() p a
	shift
	if [ $# -eq 0 ]; then
		for p in node-a node-b witness; do
			[ "$p" != "$node" ] && addrs+=("$(rig_ip "$p")")
		done
		addrs+=("$RIG_FIP")
	else
		for p in "$@"; do
			rig__need_node "$p" || return 1
			addrs+=("$(rig_ip "$p")")
		done
	fi
	if ! command -v iptables >/dev/null; then
		rig__err "rig_cut needs iptables (apt-get install iptables)"
		return 1
	fi
	ns=$(rig_ns "$node")
	rig__cut_chain "$ns" || return 1
	for a in "${addrs[@]}"; do
		ip netns exec "$ns" iptables -w -A RIG_CUT -i eth0 -s "$a" -j DROP || return 1
		ip netns exec "$ns" iptables -w -A RIG_CUT -o eth0 -d "$a" -j DROP || return 1
	done
}

# rig__cut_chain NS: the RIG_CUT chain in NS, jumped to from INPUT, OUTPUT
# and FORWARD (made once)
rig__cut_chain() {
	ip netns exec "$1" iptables -w -n -L RIG_CUT >/dev/null 2>&1 && return 0
	ip netns exec "$1" iptables -w -N RIG_CUT || return 1
	ip netns exec "$1" iptables -w -I INPUT -j RIG_CUT || return 1
	ip netns exec "$1" iptables -w -I OUTPUT -j RIG_CUT || return 1
	ip netns exec "$1" iptables -w -I FORWARD -j RIG_CUT || return 1
}

# rig_cut_in NODE PEER...: a one-way partition: NODE drops every IPv4 packet
# arriving on eth0 from the PEERs' SIPs, while what NODE sends them still
# leaves (so TCP handshakes it starts fail, but its datagrams arrive).
# rig_heal NODE removes it with the rest.
rig_cut_in() {
	rig__need_node "${1:-}" || return 1
	local node=$1 ns p
	shift
	[ $# -gt 0 ] || {
		rig__err "rig_cut_in NODE PEER..."
		return 1
	}
	command -v iptables >/dev/null || {
		rig__err "rig_cut_in needs iptables (apt-get install iptables)"
		return 1
	}
	ns=$(rig_ns "$node")
	rig__cut_chain "$ns" || return 1
	for p in "$@"; do
		rig__need_node "$p" || return 1
		ip netns exec "$ns" iptables -w -A RIG_CUT -i eth0 -s "$(rig_ip "$p")" -j DROP || return 1
	done
}

# rig_heal NODE: remove every rule rig_cut added in NODE's namespace
rig_heal() {
	rig__need_node "${1:-}" || return 1
	local ns
	ns=$(rig_ns "$1")
	if ip netns exec "$ns" iptables -w -n -L RIG_CUT >/dev/null 2>&1; then
		ip netns exec "$ns" iptables -w -F RIG_CUT
	fi
}

# ---------------------------------------------------------------- FIP

# rig_fip_holder: the nodes whose namespace has the FIP, space-separated
# (empty: nobody; two names: both hold it)
rig_fip_holder() {
	local n out=
	for n in "${RIG_NODES[@]}"; do
		if ip -n "$(rig_ns "$n")" -4 -o addr show 2>/dev/null | grep -q " inet ${RIG_FIP}/"; then
			out="${out:+$out }$n"
		fi
	done
	echo "$out"
}

# rig_garp NODE [ADDR] [COUNT]: gratuitous ARP for ADDR (default the FIP) from
# NODE's eth0, COUNT times (default 3) 100 ms apart
rig_garp() {
	rig__need_node "${1:-}" || return 1
	rig_exec "$1" "$RIG_PYTHON" "$RIG_SRC/garp.py" eth0 "${2:-$RIG_FIP}" "${3:-3}"
}

# rig_fip_add NODE / rig_fip_del NODE: what duet does, by hand (self-test)
rig_fip_add() {
	rig__need_node "${1:-}" || return 1
	ip -n "$(rig_ns "$1")" addr add "$RIG_FIP/24" dev eth0 || return 1
	rig_garp "$1"
}

rig_fip_del() {
	rig__need_node "${1:-}" || return 1
	ip -n "$(rig_ns "$1")" addr del "$RIG_FIP/24" dev eth0
}

# ---------------------------------------------------------------- PostgreSQL

rig__pg_conf() {
	local node=$1 peer dir=$RIG_DIR/$1
	peer="node-a"
	[ "$node" = node-a ] && peer="node-b"
	cat <<EOF
# duet netns rig: $node (config outside the data directory, as on Debian:
# a pg_basebackup or pg_rewind of the data directory never copies it)
data_directory = '$dir/pg'
hba_file = '$dir/conf/pg_hba.conf'
ident_file = '$dir/conf/pg_ident.conf'
listen_addresses = '*'
port = $RIG_PG_PORT
unix_socket_directories = '$dir'
cluster_name = '$node'
max_connections = 50
shared_buffers = 16MB
dynamic_shared_memory_type = posix
wal_level = replica
wal_log_hints = on
max_wal_senders = 10
max_replication_slots = 10
wal_keep_size = 64MB
max_wal_size = 128MB
min_wal_size = 32MB
hot_standby = on
wal_sender_timeout = 2s
wal_receiver_timeout = 2s
wal_receiver_status_interval = 1s
# a promotion waits for the retry sleep of the startup process: keep it short
wal_retrieve_retry_interval = 100ms
recovery_target_timeline = 'latest'
# used only while this server runs as a standby (standby.signal present)
primary_conninfo = 'host=$(rig_ip "$peer") port=$RIG_PG_PORT user=postgres application_name=$node connect_timeout=2 keepalives_idle=1 keepalives_interval=1 keepalives_count=2'
log_line_prefix = '%m [%p] %a: '
log_replication_commands = on
EOF
}

rig__pg_hba() {
	cat <<EOF
local all all trust
local replication all trust
host all all 127.0.0.1/32 trust
host replication all 127.0.0.1/32 trust
host all all ${RIG_NET}.0/24 trust
host replication all ${RIG_NET}.0/24 trust
EOF
}

# rig__pg_streaming PRIMARY STANDBY: STANDBY streams from PRIMARY
rig__pg_streaming() {
	[ "$(rig_psql "$1" "SELECT state FROM pg_stat_replication WHERE application_name = '$2'" 2>/dev/null)" = streaming ]
}

# rig_pg_init [TMPFS_SIZE]: primary on node-a (initdb), standby on node-b
# (pg_basebackup from node-a's SIP), both started, node-b streaming. With
# TMPFS_SIZE (e.g. 96M: initdb alone takes ~40M), node-a's data directory is
# a tmpfs of that size (disk-full tests). No synchronous_standby_names: duet
# manages it (rig_pg_make_sync does it by hand).
rig_pg_init() {
	local size=${1:-} n
	rig__need_up || return 1
	for n in node-a node-b; do
		mkdir -p "$RIG_DIR/$n/conf" "$RIG_DIR/$n/pg" || return 1
	done
	if [ -n "$size" ]; then
		mount -t tmpfs -o "size=$size,mode=0700" "${RIG_PREFIX}pg" "$RIG_DIR/node-a/pg" || return 1
		echo "$RIG_DIR/node-a/pg" >>"$RIG_DIR/mounts"
	fi
	for n in node-a node-b; do
		rig__pg_conf "$n" >"$RIG_DIR/$n/conf/postgresql.conf"
		rig__pg_hba >"$RIG_DIR/$n/conf/pg_hba.conf"
		: >"$RIG_DIR/$n/conf/pg_ident.conf"
		chown -R postgres:postgres "$RIG_DIR/$n" || return 1
		chmod 0755 "$RIG_DIR/$n"
		chmod 0700 "$RIG_DIR/$n/pg"
	done
	if ! (cd / && runuser -u postgres -- "$RIG_PGBIN/initdb" -D "$RIG_DIR/node-a/pg" -U postgres \
		-A trust -k -N --no-instructions) >"$RIG_DIR/node-a/initdb.log" 2>&1; then
		rig__err "initdb failed:"
		tail -n 20 "$RIG_DIR/node-a/initdb.log" >&2
		return 1
	fi
	rig_pg_start node-a || return 1
	if ! (cd / && rig_exec node-b runuser -u postgres -- "$RIG_PGBIN/pg_basebackup" \
		-h "$(rig_ip node-a)" -p "$RIG_PG_PORT" -U postgres -D "$RIG_DIR/node-b/pg" \
		-X stream -c fast -N) >"$RIG_DIR/node-b/basebackup.log" 2>&1; then
		rig__err "pg_basebackup failed:"
		tail -n 20 "$RIG_DIR/node-b/basebackup.log" >&2
		return 1
	fi
	runuser -u postgres -- touch "$RIG_DIR/node-b/pg/standby.signal" || return 1
	rig_pg_start node-b || return 1
	rig_wait 30 "node-b streaming from node-a" rig__pg_streaming node-a node-b
}

# rig_pg_cmd NODE start|stop|promote [STOPMODE]: the shell command duet's
# config would use (start_command / stop_command), run as root inside NODE's
# namespace. stop uses -m immediate unless STOPMODE (fast, smart) is given;
# like pg_ctl, it exits 1 when the server is not running.
rig_pg_cmd() {
	rig__need_pgnode "${1:-}" || return 1
	local d=$RIG_DIR/$1 cmd
	case "${2:-}" in
	start) cmd="runuser -u postgres -- $RIG_PGBIN/pg_ctl -D $d/conf -l $d/pg.log -w -t 60 start" ;;
	stop) cmd="runuser -u postgres -- $RIG_PGBIN/pg_ctl -D $d/conf -m ${3:-immediate} -w -t 60 stop" ;;
	promote) cmd="runuser -u postgres -- $RIG_PGBIN/pg_ctl -D $d/conf -w -t 60 promote" ;;
	*)
		rig__err "rig_pg_cmd NODE start|stop|promote"
		return 1
		;;
	esac
	if [ ${#cmd} -ge 200 ]; then
		rig__err "warning: command is ${#cmd} chars, duet's config takes 199 (shorten RIG_TMP)"
	fi
	echo "$cmd"
}

# rig_pg_datadir NODE: NODE's data directory (pg_ctl -D takes the conf dir)
rig_pg_datadir() {
	rig__need_pgnode "${1:-}" || return 1
	echo "$RIG_DIR/$1/pg"
}

# rig_pg_conninfo NODE: libpq conninfo for NODE's server over its unix socket
# (what duetd on NODE would use as [pg] conninfo)
rig_pg_conninfo() {
	rig__need_pgnode "${1:-}" || return 1
	echo "host=$RIG_DIR/$1 port=$RIG_PG_PORT user=postgres dbname=postgres"
}

# rig_pg_start NODE: start NODE's server inside its namespace (pg_ctl -w)
rig_pg_start() {
	rig__need_pgnode "${1:-}" || return 1
	local cmd
	cmd=$(rig_pg_cmd "$1" start) || return 1
	if ! (cd / && rig_exec "$1" sh -c "$cmd") >>"$RIG_DIR/$1/pg_ctl.log" 2>&1; then
		rig__err "PostgreSQL on $1 did not start; its log ends with:"
		tail -n 20 "$RIG_DIR/$1/pg.log" >&2
		return 1
	fi
}

# rig_pg_stop NODE [MODE]: pg_ctl stop -m immediate (or MODE); a server that
# is not running is not an error
rig_pg_stop() {
	rig__need_pgnode "${1:-}" || return 1
	local cmd
	if ! rig__pg_running "$1"; then
		return 0
	fi
	cmd=$(rig_pg_cmd "$1" stop "${2:-immediate}") || return 1
	(cd / && rig_exec "$1" sh -c "$cmd") >>"$RIG_DIR/$1/pg_ctl.log" 2>&1
}

# rig_pg_pid NODE: the postmaster's pid (from postmaster.pid) if it runs in
# NODE's namespace; nothing and status 1 otherwise
rig_pg_pid() {
	rig__need_pgnode "${1:-}" || return 1
	local f=$RIG_DIR/$1/pg/postmaster.pid p
	[ -r "$f" ] || return 1
	p=$(head -n 1 "$f")
	[[ "$p" =~ ^[0-9]+$ ]] || return 1
	rig__alive "$p" || return 1
	# a stale pid file may name someone else's process: check its namespace
	[ "$(ip netns identify "$p" 2>/dev/null)" = "$(rig_ns "$1")" ] || return 1
	echo "$p"
}

rig__pg_running() {
	rig_pg_pid "$1" >/dev/null
}

# rig_pg_kill NODE [all]: kill -9 of the postmaster (its children notice and
# exit by themselves; "all": kill -9 them too, a whole-server crash); waits
# until they are gone
rig_pg_kill() {
	rig__need_pgnode "${1:-}" || return 1
	local pm kids
	pm=$(rig_pg_pid "$1") || {
		rig__err "PostgreSQL on $1 is not running"
		return 1
	}
	kids=$(rig__children "$pm")
	if [ "${2:-}" = all ]; then
		# shellcheck disable=SC2086
		kill -KILL "$pm" $kids 2>/dev/null
	else
		kill -KILL "$pm" 2>/dev/null
	fi
	# shellcheck disable=SC2086
	rig_wait 10 "postgres processes of $1 to end" rig__all_dead "$pm" $kids
}

# rig__children PID: the pids whose parent is PID
rig__children() {
	local f line rest
	for f in /proc/[0-9]*/stat; do
		# a process may end between the glob and the read: quiet (the
		# redirection's error goes to the stderr in force before 2>)
		{ read -r line <"$f"; } 2>/dev/null || continue
		rest=${line##*) }
		# rest: state ppid ...
		rest=${rest#* }
		if [ "${rest%% *}" = "$1" ]; then
			f=${f#/proc/}
			echo "${f%/stat}"
		fi
	done
}

rig__all_dead() {
	local p
	for p in "$@"; do
		rig__alive "$p" && return 1
	done
	return 0
}

# rig_pg_promote NODE: pg_ctl promote -w (returns once NODE accepts writes)
rig_pg_promote() {
	rig__need_pgnode "${1:-}" || return 1
	local cmd
	cmd=$(rig_pg_cmd "$1" promote) || return 1
	(cd / && rig_exec "$1" sh -c "$cmd") >>"$RIG_DIR/$1/pg_ctl.log" 2>&1
}

# rig_psql NODE SQL: run SQL on NODE's server (unix socket, as postgres);
# unaligned, tuples only
rig_psql() {
	rig__need_pgnode "${1:-}" || return 1
	rig_exec "$1" "$RIG_PGBIN/psql" -h "$RIG_DIR/$1" -p "$RIG_PG_PORT" -U postgres -d postgres \
		-X -A -t -q -v ON_ERROR_STOP=1 -c "$2"
}

rig__pg_is_sync() {
	[ "$(rig_psql "$1" "SELECT sync_state FROM pg_stat_replication WHERE application_name = '$2'" 2>/dev/null)" = sync ]
}

# rig_pg_make_sync [PRIMARY] [STANDBY]: ALTER SYSTEM SET
# synchronous_standby_names = STANDBY on PRIMARY (default node-a, node-b),
# reload, wait until pg_stat_replication shows it sync. For the rig's own
# self-test: with duet running, duet does this.
rig_pg_make_sync() {
	local p=${1:-node-a} s=${2:-node-b}
	# a name with '-' must be double-quoted: 'node-b' is a syntax error
	rig_psql "$p" "ALTER SYSTEM SET synchronous_standby_names = '\"$s\"'" || return 1
	rig_psql "$p" "SELECT pg_reload_conf()" >/dev/null || return 1
	rig_wait 30 "$s synchronous on $p" rig__pg_is_sync "$p" "$s"
}

# ---------------------------------------------------------------- manager

# rig_manager_cmds NODE: the [manager] commands for duet's config on NODE, as
# "start_command = ...", "stop_command = ...", "check_command = ..." lines.
# They run inside NODE's namespace (where duetd runs). start returns once the
# manager listens (0.0.0.0:RIG_MANAGER_PORT) and has written its pidfile; it
# is a no-op when one runs already; stop kills by pidfile and waits (a no-op
# when none runs); check is an HTTP GET of /health.
rig_manager_cmds() {
	rig__need_node "${1:-}" || return 1
	local pidf=$RIG_DIR/$1/manager.pid l
	mkdir -p "$RIG_DIR/$1"
	for l in \
		"start_command = $RIG_PYTHON $RIG_DIR/manager.py --listen 0.0.0.0:$RIG_MANAGER_PORT --pidfile $pidf --daemon" \
		"stop_command = $RIG_PYTHON $RIG_DIR/manager.py --stop --pidfile $pidf" \
		"check_command = curl -fsS -m 2 -o /dev/null http://127.0.0.1:$RIG_MANAGER_PORT/health"; do
		if [ $((${#l} - 16)) -ge 200 ]; then
			rig__err "warning: '${l%% =*}' is too long for duet's config (199 chars)"
		fi
		echo "$l"
	done
}

# rig_manager_cmd NODE start|stop|check: one of those commands, bare
rig_manager_cmd() {
	local l
	l=$(rig_manager_cmds "$1" | grep "^${2:-}_command = ") || {
		rig__err "rig_manager_cmd NODE start|stop|check"
		return 1
	}
	echo "${l#*_command = }"
}

# ---------------------------------------------------------------- leftovers

# rig_gc: delete namespaces (and kill their processes) of earlier runs whose
# owning shell is dead (names duet<pid>-*), and their $RIG_TMP/duet-rig-<pid>.*
# directories. Never needed after a normal exit; for runs killed by SIGKILL.
rig_gc() {
	local ns pid p d
	local -
	set +e
	for ns in $(ip netns list | awk '{print $1}' | grep -E '^duet[0-9]+-'); do
		pid=${ns#duet}
		pid=${pid%%-*}
		[ -n "${RIG_PREFIX:-}" ] && [[ "$ns" == "$RIG_PREFIX"* ]] && continue
		rig__alive "$pid" && continue
		for p in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$p" 2>/dev/null
		done
		for d in "$RIG_TMP/duet-rig-$pid".*; do
			[ -d "$d" ] || continue
			while read -r p; do
				[ -n "$p" ] && mountpoint -q "$p" && umount -l "$p"
			done <"$d/mounts"
		done
		ip netns del "$ns" && echo "rig_gc: deleted namespace $ns" >&2
	done
	for d in "$RIG_TMP"/duet-rig-*.*; do
		[ -d "$d" ] || continue
		pid=${d##*/duet-rig-}
		pid=${pid%%.*}
		[ "$d" = "${RIG_DIR:-}" ] && continue
		rig__alive "$pid" && continue
		if [ -f "$d/mounts" ]; then
			while read -r p; do
				[ -n "$p" ] && mountpoint -q "$p" && umount -l "$p"
			done <"$d/mounts"
		fi
		rm -rf --one-file-system "$d" && echo "rig_gc: removed $d" >&2
	done
}
