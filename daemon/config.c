/* SPDX-License-Identifier: MIT */
/*
 * config.c - loading and checking the INI config file (config.h).
 *
 * One table, keys[], says for every key its section, type, where it is
 * stored, its default and its meaning. The parser looks keys up in it, the
 * defaults are applied from it (a literal default is parsed by the same code
 * as a value from the file, so the documented default is the real one), and
 * duet_config_print_keys*() print it for --help and the README. Nothing about
 * a key is said anywhere else, so they cannot drift apart.
 *
 * Reading happens in two passes over one buffer:
 *
 *  1. read_lines() splits lines into key and value with inih's rules (the
 *     dialect duet has always had), but itself: the packaged inih reads
 *     into a 200-byte buffer, too short for a real cloud FIP command. It
 *     numbers the lines, refuses NUL bytes and lines over
 *     DUET_CONFIG_MAX_LINE, reports syntax errors for every line rather
 *     than only the first, and sees an empty or repeated section. The handler stores each value
 *     in a draft, after checking it.
 *  2. resolve() checks what spans keys (required keys, three members with
 *     the right kinds, unique ids and addresses, [node] name is a member,
 *     raft_config_check(), receivers that would share a port, [traps],
 *     [sink] and [http] only on data nodes), reads the two secrets files
 *     [traps] names (the HTTP token, the SNMPv3 users; not with
 *     DUET_CONFIG_SKIP_FILES), applies defaults and fills struct
 *     duet_config only when there is no error at all. The draft is zeroed
 *     before it is freed: it held the secrets. The [traps], [sink] and
 *     [http] part of this pass, the two secrets files included, is in
 *     config_traps.c.
 *
 * Every error is collected (up to DUET_CONFIG_MAX_ERRORS) with its line, so a
 * person can fix a file in one pass.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config_internal.h"
#include "duet/err.h"

/* ---- the key table ------------------------------------------------------- */

static const struct section_def sections[] = {
    {SEC_CLUSTER, "cluster", "[cluster]", "the cluster; the same in all three files"},
    {SEC_NODE, "node", "[node]", "this process: which member it is, where it keeps its state"},
    {SEC_MEMBER, "member", "[member NAME]",
     "one section per member, exactly three: two kind = data and one kind = witness; NAME is "
     "1 to 31 letters, digits, '.', '_' or '-'; the same in all three files"},
    {SEC_TLS, "tls", "[tls]", "mutual TLS between members (PEM files)"},
    {SEC_RAFT, "raft", "[raft]",
     "optional consensus timings and limits; must satisfy the rules of raft_config_check(), "
     "e.g. election_timeout_min_ms > lease_ms + max_drift_ms"},
    {SEC_PG, "pg", "[pg]",
     "data nodes: the local PostgreSQL that duet promotes, stops and keeps in synchronous "
     "replication (duet-witness ignores [pg], [fip], [fence], [manager] and [health])"},
    {SEC_FIP, "fip", "[fip]",
     "data nodes: the floating IP that follows the master (netlink + gratuitous ARP, or "
     "three commands for clouds)"},
    {SEC_FENCE, "fence", "[fence]",
     "data nodes: how this node powers off the OTHER data node before taking over"},
    {SEC_MANAGER, "manager", "[manager]",
     "data nodes: the management server that runs on the master only"},
    {SEC_HEALTH, "health", "[health]",
     "data nodes: periodic checks; a critical check failing fail_after probes on the master "
     "makes it hand over to the synchronous standby"},
    {SEC_TRAPS, "traps", "[traps]",
     "data nodes: the trap receivers (syslog, SNMP, custom traps over HTTP(S)) on this node's "
     "own addresses, and the limits of the deduplication between the two data nodes; each "
     "receiver is off until its addresses are set (a witness config may not have [traps] or "
     "[sink]: only data nodes receive traps)"},
    {SEC_SINK, "sink", "[sink]",
     "data nodes: where the master delivers each committed trap, with a stable id so that a "
     "repeat after a failover is ignored (TCP: JSON lines; PostgreSQL: INSERT ... ON CONFLICT "
     "DO NOTHING)"},
    {SEC_HTTP, "http", "[http]",
     "data nodes: duetd's own HTTP endpoints, for load balancers, agents, probes and "
     "Prometheus: GET /master and /primary (200 on the acting master, 503 elsewhere), "
     "/replica, /sync, /async (200 on a streaming standby: any, the SYNC one, one not SYNC), "
     "/health, /liveness, /readiness, /metrics, /status and the status page at / (HEAD too); "
     "a server apart from the custom-trap receiver of [traps]"},
};
#define N_SECTIONS (sizeof(sections) / sizeof(sections[0]))

enum key_type { T_NAME, T_HEX64, T_U32, T_CHOICE, T_PATH, T_ADDRS, T_STR };
enum key_home { IN_DRAFT, IN_MEMBER, IN_RAFT };

#define K_REQUIRED 1u /* no default: must be in the file */
#define K_COMPUTED 2u /* default_text describes a default resolve() computes */

static const struct choice kind_choices[] = {
    {"data", DUET_MEMBER_DATA}, {"witness", DUET_MEMBER_WITNESS}, {NULL, 0}};
static const struct choice level_choices[] = {{"error", DUET_LOG_ERROR},
					      {"warn", DUET_LOG_WARN},
					      {"info", DUET_LOG_INFO},
					      {"debug", DUET_LOG_DEBUG},
					      {NULL, 0}};
static const struct choice target_choices[] = {
    {"stderr", DUET_LOG_STDERR}, {"syslog", DUET_LOG_SYSLOG}, {NULL, 0}};
static const struct choice fence_choices[] = {{"none", DUET_CONFIG_FENCE_NONE},
					      {"ipmi", DUET_CONFIG_FENCE_IPMI},
					      {"command", DUET_CONFIG_FENCE_COMMAND},
					      {"agent", DUET_CONFIG_FENCE_AGENT},
					      {NULL, 0}};
static const struct choice sink_choices[] = {{"none", DUET_CONFIG_SINK_NONE},
					     {"tcp", DUET_CONFIG_SINK_TCP},
					     {"postgresql", DUET_CONFIG_SINK_POSTGRESQL},
					     {"relp", DUET_CONFIG_SINK_RELP},
					     {NULL, 0}};
static const struct choice sink_ack_choices[] = {
    {"required", DUET_CONFIG_SINK_ACK_REQUIRED}, {"none", DUET_CONFIG_SINK_ACK_NONE}, {NULL, 0}};

struct key_def {
	enum section_kind section;
	const char *key;
	enum key_type type;
	enum key_home home;
	size_t offset; /* of the field in struct draft, member_draft or raft_config */
	size_t size;   /* of that field (strings) */
	uint32_t min, max;
	const struct choice *choices;
	unsigned flags;
	const char *default_text; /* literal default (parsed), or description if K_COMPUTED */
	const char *meaning;
};

#define DRAFT_STR(f)   IN_DRAFT, offsetof(struct draft, f), sizeof(((struct draft *)0)->f)
#define DRAFT_FIELD(f) IN_DRAFT, offsetof(struct draft, f), 0
#define MEMBER_FIELD(f)                                                                            \
	IN_MEMBER, offsetof(struct member_draft, f), sizeof(((struct member_draft *)0)->f)
#define ACT_STR(f)     IN_DRAFT, offsetof(struct draft, act.f), sizeof(((struct draft *)0)->act.f)
#define ACT_FIELD(f)   IN_DRAFT, offsetof(struct draft, act.f), 0
#define TRAPS_STR(f)   IN_DRAFT, offsetof(struct draft, traps.f), sizeof(((struct draft *)0)->traps.f)
#define TRAPS_FIELD(f) IN_DRAFT, offsetof(struct draft, traps.f), 0
#define SINK_STR(f)    IN_DRAFT, offsetof(struct draft, sink.f), sizeof(((struct draft *)0)->sink.f)
#define SINK_FIELD(f)  IN_DRAFT, offsetof(struct draft, sink.f), 0
#define HTTP_STR(f)    IN_DRAFT, offsetof(struct draft, http.f), sizeof(((struct draft *)0)->http.f)
#define HTTP_FIELD(f)  IN_DRAFT, offsetof(struct draft, http.f), 0
#define RAFT_MS(f, lo, meaning)                                                                    \
	{                                                                                          \
		SEC_RAFT, #f, T_U32, IN_RAFT, offsetof(struct raft_config, f), 0, lo, UINT32_MAX,  \
		    NULL, 0, NULL, meaning                                                         \
	}

static const struct key_def keys[] = {
    {SEC_CLUSTER, "name", T_NAME, DRAFT_STR(cluster_name), 0, 0, NULL, K_REQUIRED, NULL,
     "cluster name, 1 to 31 letters, digits, '.', '_' or '-'"},
    {SEC_CLUSTER, "id", T_HEX64, DRAFT_FIELD(cluster_id), 0, 0, NULL, K_REQUIRED, NULL,
     "cluster id, exactly 16 hex digits, not all zero; a store created for another id is "
     "refused"},
    {SEC_NODE, "name", T_NAME, DRAFT_STR(node_name), 0, 0, NULL, K_REQUIRED, NULL,
     "which [member NAME] this process is"},
    {SEC_NODE, "data_dir", T_PATH, DRAFT_STR(data_dir), 0, 0, NULL, 0, "/var/lib/duet",
     "directory of the local store (absolute path)"},
    {SEC_NODE, "admin_socket", T_PATH, DRAFT_STR(admin_socket), 0, 0, NULL, K_COMPUTED,
     "<data_dir>/admin.sock", "Unix socket (owner-only) that duetctl talks to; at most 107 bytes"},
    {SEC_NODE, "log_level", T_CHOICE, DRAFT_FIELD(log_level), 0, 0, level_choices, 0, "info",
     "error, warn, info or debug"},
    {SEC_NODE, "log_target", T_CHOICE, DRAFT_FIELD(log_target), 0, 0, target_choices, 0, "stderr",
     "stderr (ISO-8601 time and level on each line) or syslog (facility daemon)"},
    {SEC_NODE, "audit_max_bytes", T_U32, DRAFT_FIELD(audit_max_bytes), 1u << 20, UINT32_MAX, NULL,
     0, "268435456",
     "bytes the audit chain (duetctl log) may store, 1 MiB to 4 GiB - 1; past it the oldest "
     "records are dropped as new ones are appended and an anchor (last dropped record's "
     "sequence and hash) remains, from which duetctl log --verify proves the rest; read at "
     "start"},
    {SEC_NODE, "map_max_mib", T_U32, DRAFT_FIELD(map_max_mib), 128, 1u << 20, NULL, 0, "16384",
     "the most this member's store (the LMDB map in data_dir) may grow to, in MiB, 128 to "
     "1048576; a write past it fails and the daemon exits (status 74). Must hold twice "
     "audit_max_bytes and, on data nodes, 2.1 x [traps] backlog_max_bytes + audit_max_bytes + "
     "96 MiB (check-config says so); give the witness the data nodes' value: its log holds "
     "the same backlog; read at start"},
    {SEC_NODE, "listen", T_ADDRS, DRAFT_FIELD(listen), 0, 0, NULL, K_COMPUTED,
     "this member's addresses",
     "comma-separated host:port list to accept peers on, e.g. 0.0.0.0:7101"},
    {SEC_MEMBER, "id", T_U32, MEMBER_FIELD(id), 1, UINT32_MAX, NULL, K_REQUIRED, NULL,
     "member id, 1 to 4294967295, unique"},
    {SEC_MEMBER, "kind", T_CHOICE, MEMBER_FIELD(kind), 0, 0, kind_choices, K_REQUIRED, NULL,
     "data (runs PostgreSQL, may be master) or witness (votes, never master)"},
    {SEC_MEMBER, "address", T_ADDRS, MEMBER_FIELD(addrs), 0, 0, NULL, K_REQUIRED, NULL,
     "comma-separated host:port list, 1 to 4, one per redundant link; host is an IPv4 "
     "address, [IPv6] or a hostname; port 1 to 65535"},
    {SEC_TLS, "ca", T_PATH, DRAFT_STR(tls_ca), 0, 0, NULL, K_REQUIRED, NULL,
     "CA certificate that signed every member's certificate (absolute path)"},
    {SEC_TLS, "cert", T_PATH, DRAFT_STR(tls_cert), 0, 0, NULL, K_REQUIRED, NULL,
     "this member's certificate (absolute path)"},
    {SEC_TLS, "key", T_PATH, DRAFT_STR(tls_key), 0, 0, NULL, K_REQUIRED, NULL,
     "this member's private key (absolute path, readable by the daemon only)"},
    RAFT_MS(election_timeout_min_ms, 1,
	    "a follower that hears no leader for a random time between min and max starts an "
	    "election (ms)"),
    RAFT_MS(election_timeout_max_ms, 1, "upper end of the election timeout (ms)"),
    RAFT_MS(witness_extra_ms, 0, "the witness waits this much longer, so a data node wins (ms)"),
    RAFT_MS(heartbeat_ms, 1, "leader heartbeat interval, at most lease_ms / 2 (ms)"),
    RAFT_MS(lease_ms, 1, "a majority acknowledgement lets the master act for this long (ms)"),
    RAFT_MS(max_drift_ms, 0, "clock drift allowed over one lease (ms)"),
    {SEC_RAFT, "transfer_timeout_ms", T_U32, IN_RAFT,
     offsetof(struct raft_config, transfer_timeout_ms), 0, 1, UINT32_MAX, NULL, K_COMPUTED,
     "election_timeout_min_ms",
     "a leadership transfer not done by then makes the leader step down (ms)"},
    RAFT_MS(max_batch_entries, 1, "entries in one append message"),
    RAFT_MS(max_batch_bytes, 1, "payload bytes in one append message"),
    RAFT_MS(max_inflight, 1, "append messages in flight per follower"),
    RAFT_MS(max_entry_bytes, 1, "largest entry payload, at most 4194304 bytes"),
    RAFT_MS(max_uncommitted_entries, 1,
	    "the leader refuses proposals while this many entries wait to commit"),

    {SEC_PG, "conninfo", T_STR, ACT_STR(pg_conninfo), 0, 0, NULL, 0,
     "host=127.0.0.1 port=5432 user=postgres dbname=postgres",
     "libpq connection string of this node's PostgreSQL (superuser: duet runs ALTER SYSTEM "
     "and pg_promote); empty: duet manages no PostgreSQL (the consensus layer alone)"},
    {SEC_PG, "start_command", T_STR, ACT_STR(pg_start_command), 0, 0, NULL, 0, "",
     "starts this node's PostgreSQL when the node is master and PostgreSQL does not answer "
     "(empty: never started by duet)"},
    {SEC_PG, "stop_command", T_STR, ACT_STR(pg_stop_command), 0, 0, NULL, 0, "",
     "stops this node's PostgreSQL at once when the node loses the master lease, e.g. pg_ctl "
     "stop -m immediate (empty: not stopped; synchronous replication still blocks its "
     "commits)"},
    {SEC_PG, "timeout_ms", T_U32, ACT_FIELD(pg_timeout_ms), 100, 600000, NULL, 0, "2000",
     "deadline of one PostgreSQL query, connecting included (ms)"},
    {SEC_PG, "probe_interval_ms", T_U32, ACT_FIELD(pg_probe_interval_ms), 10, 600000, NULL, 0,
     "200", "how often the master reads pg_stat_replication (ms)"},
    {SEC_PG, "sync_timeout_ms", T_U32, ACT_FIELD(pg_sync_timeout_ms), 100, 3600000, NULL, 0, "2000",
     "a synchronous standby missing from pg_stat_replication this long is committed SYNC off, "
     "then synchronous_standby_names is cleared (ms)"},
    {SEC_PG, "promote_timeout_ms", T_U32, ACT_FIELD(pg_promote_timeout_ms), 1000, 3600000, NULL, 0,
     "60000", "pg_promote(wait => true) may take this long (ms)"},
    {SEC_PG, "data_dir", T_PATH, ACT_STR(pg_data_dir), 0, 0, NULL, 0, "/var/lib/postgresql/15/main",
     "this node's PostgreSQL data directory (PG_VERSION, postmaster.pid), which duetctl rejoin "
     "and a switchover rebuild as a standby with pg_rewind or pg_basebackup"},
    {SEC_PG, "config_file", T_PATH, ACT_STR(pg_config_file), 0, 0, NULL, 0, "",
     "postgresql.conf when it is kept outside data_dir (Debian: "
     "/etc/postgresql/15/main/postgresql.conf): pg_rewind reads it (--config-file) when it "
     "must finish the crash recovery of a server that was not shut down cleanly"},
    {SEC_PG, "bin_dir", T_PATH, ACT_STR(pg_bin_dir), 0, 0, NULL, 0, "/usr/lib/postgresql/15/bin",
     "where pg_rewind and pg_basebackup are"},
    {SEC_PG, "os_user", T_NAME, ACT_STR(pg_os_user), 0, 0, NULL, 0, "postgres",
     "the user that owns data_dir; pg_rewind and pg_basebackup run as this user when duet "
     "runs as root"},
    {SEC_PG, "peer_conninfo", T_STR, ACT_STR(pg_peer_conninfo), 0, 0, NULL, K_COMPUTED,
     "host=<the other data member's address> port=5432 user=postgres dbname=postgres",
     "libpq connection string of the OTHER data node's PostgreSQL as reached from here "
     "(superuser with replication rights): the source of pg_rewind and pg_basebackup and "
     "this node's primary_conninfo as a standby"},
    {SEC_PG, "rebuild_timeout_ms", T_U32, ACT_FIELD(pg_rebuild_timeout_ms), 1000, 86400000, NULL, 0,
     "14400000", "deadline of one pg_rewind or pg_basebackup run (ms)"},
    {SEC_PG, "rebuild_stream_timeout_ms", T_U32, ACT_FIELD(pg_rebuild_stream_timeout_ms), 1000,
     86400000, NULL, 0, "120000",
     "a rebuilt standby that does not stream this long while the master's PostgreSQL answers "
     "as a primary is copied again (its WAL or timeline cannot follow the master); while the "
     "master is down or unreachable the copy is kept and the time does not count (ms)"},

    {SEC_FIP, "address", T_STR, ACT_STR(fip_address), 0, 0, NULL, 0, "",
     "the floating IP with its prefix, e.g. 10.0.0.100/24 (empty: no FIP)"},
    {SEC_FIP, "interface", T_NAME, ACT_STR(fip_interface), 0, 0, NULL, 0, NULL,
     "network interface the FIP is added to (required with address unless add_command is "
     "set)"},
    {SEC_FIP, "add_command", T_STR, ACT_STR(fip_add_command), 0, 0, NULL, 0, "",
     "cloud FIP: command that attaches the FIP to this node (exit 0 = done); with "
     "del_command and check_command, replaces netlink"},
    {SEC_FIP, "del_command", T_STR, ACT_STR(fip_del_command), 0, 0, NULL, 0, "",
     "cloud FIP: command that detaches it (exit 0 = done)"},
    {SEC_FIP, "check_command", T_STR, ACT_STR(fip_check_command), 0, 0, NULL, 0, "",
     "cloud FIP: exit 0 if this node holds the FIP, 1 if not"},
    {SEC_FIP, "garp_count", T_U32, ACT_FIELD(fip_garp_count), 0, 100, NULL, 0, "3",
     "gratuitous ARPs sent after adding the FIP"},
    {SEC_FIP, "garp_repeat_ms", T_U32, ACT_FIELD(fip_garp_repeat_ms), 0, 600000, NULL, 0, "2000",
     "the acting master repeats one gratuitous ARP this often (ms; 0: only on acquire)"},
    {SEC_FIP, "timeout_ms", T_U32, ACT_FIELD(fip_timeout_ms), 100, 600000, NULL, 0, "5000",
     "deadline of one FIP operation (ms)"},

    {SEC_FENCE, "method", T_CHOICE, ACT_FIELD(fence_method), 0, 0, fence_choices, 0, "none",
     "none, ipmi, command or agent; with none the new master only waits out the old lease"},
    {SEC_FENCE, "command", T_STR, ACT_STR(fence_command), 0, 0, NULL, 0, "",
     "method = command: powers the other node off, exit 0 means it is off; "
     "DUET_FENCE_NODE holds its name"},
    {SEC_FENCE, "ipmi_host", T_STR, ACT_STR(fence_ipmi_host), 0, 0, NULL, 0, "",
     "method = ipmi: the other node's BMC address"},
    {SEC_FENCE, "ipmi_user", T_STR, ACT_STR(fence_ipmi_user), 0, 0, NULL, 0, "",
     "method = ipmi: BMC user"},
    {SEC_FENCE, "ipmi_password_file", T_PATH, ACT_STR(fence_ipmi_password_file), 0, 0, NULL, 0,
     NULL, "method = ipmi: file holding the BMC password (never on a command line)"},
    {SEC_FENCE, "ipmi_interface", T_NAME, ACT_STR(fence_ipmi_interface), 0, 0, NULL, 0, "lanplus",
     "method = ipmi: ipmitool -I interface"},
    {SEC_FENCE, "agent", T_STR, ACT_STR(fence_agent), 0, 0, NULL, 0, "",
     "method = agent: a fence agent of the fence-agents package that powers the other node "
     "off (fence_ipmilan, fence_virsh, fence_aws, ...; a name is looked up in PATH), driven "
     "through its stdin: action=off, then action=status until it exits 2 (off)"},
    {SEC_FENCE, "agent_options_file", T_PATH, ACT_STR(fence_agent_options_file), 0, 0, NULL, 0,
     NULL,
     "method = agent: the agent's key=value options for the other node, one a line (ip=, "
     "username=, password=, plug=...; see the agent's man page), read at each fence and "
     "never put on a command line; keep it mode 0600"},
    {SEC_FENCE, "timeout_ms", T_U32, ACT_FIELD(fence_timeout_ms), 100, 600000, NULL, 0, "20000",
     "fencing, power-off confirmation included, must finish within this (ms)"},
    {SEC_FENCE, "watchdog_device", T_PATH, ACT_STR(fence_watchdog_device), 0, 0, NULL, 0, NULL,
     "a Linux watchdog device (e.g. /dev/watchdog; softdog where there is no hardware one) "
     "armed while this node acts as master: a duetd stalled for watchdog_timeout_s resets the "
     "machine; empty: none. Set it on both data nodes alike: without a confirmed fence the new "
     "master also waits out the old master's watchdog timeout"},
    {SEC_FENCE, "watchdog_timeout_s", T_U32, ACT_FIELD(fence_watchdog_timeout_s), 1, 60, NULL, 0,
     "5", "seconds without a keepalive before the watchdog resets the machine"},

    {SEC_MANAGER, "start_command", T_STR, ACT_STR(manager_start_command), 0, 0, NULL, 0, "",
     "starts the manager on the master (empty: no manager)"},
    {SEC_MANAGER, "stop_command", T_STR, ACT_STR(manager_stop_command), 0, 0, NULL, 0, "",
     "stops it when the node is no longer master"},
    {SEC_MANAGER, "check_command", T_STR, ACT_STR(manager_check_command), 0, 0, NULL, 0, "",
     "exit 0 while the manager runs (the manager health check; empty: no check)"},
    {SEC_MANAGER, "timeout_ms", T_U32, ACT_FIELD(manager_timeout_ms), 100, 600000, NULL, 0, "10000",
     "deadline of each manager command (ms)"},

    {SEC_HEALTH, "interval_ms", T_U32, ACT_FIELD(health_interval_ms), 10, 600000, NULL, 0, "500",
     "time between two probes of a check (ms)"},
    {SEC_HEALTH, "timeout_ms", T_U32, ACT_FIELD(health_timeout_ms), 10, 600000, NULL, 0, "1000",
     "a probe not answered by then has failed (ms)"},
    {SEC_HEALTH, "fail_after", T_U32, ACT_FIELD(health_fail_after), 1, 1000, NULL, 0, "3",
     "consecutive failed probes before a check is failing"},
    {SEC_HEALTH, "ok_after", T_U32, ACT_FIELD(health_ok_after), 1, 1000, NULL, 0, "2",
     "consecutive good probes before a failing check is ok again"},
    {SEC_HEALTH, "fs_paths", T_STR, ACT_STR(health_fs_paths), 0, 0, NULL, K_COMPUTED, "<data_dir>",
     "comma-separated directories probed with write + fdatasync (the LMDB and PostgreSQL "
     "volumes)"},
    {SEC_HEALTH, "nic", T_NAME, ACT_STR(health_nic), 0, 0, NULL, K_COMPUTED, "[fip] interface",
     "interface whose link state is checked (empty: no NIC check)"},
    {SEC_HEALTH, "isolation_targets", T_ADDRS, ACT_FIELD(health_isolation), 0, 0, NULL, 0, NULL,
     "host:port list outside the cluster; the node is isolated when it can reach none (a "
     "refused connection counts as reachable)"},
    {SEC_HEALTH, "critical", T_STR, ACT_STR(health_critical), 0, 0, NULL, 0, "pg,fs",
     "checks whose failure on the master hands mastership to the synchronous standby: any of "
     "pg, fs, nic, fip, manager, isolation"},

    {SEC_TRAPS, "window_ms", T_U32, TRAPS_FIELD(window_ms), 1000, 3600000, NULL, 0, "30000",
     "copies of one trap that the two data nodes receive within this time are one trap; the "
     "n-th identical trap in the window on one node matches the n-th on the other (ms)"},
    {SEC_TRAPS, "syslog_udp", T_ADDRS, TRAPS_FIELD(syslog_udp), 0, 0, NULL, 0, NULL,
     "numeric host:port list to receive syslog on over UDP, e.g. this node's own address "
     "10.0.0.1:514 (empty: off)"},
    {SEC_TRAPS, "syslog_tcp", T_ADDRS, TRAPS_FIELD(syslog_tcp), 0, 0, NULL, 0, NULL,
     "numeric host:port list to receive syslog on over TCP, LF or octet-counted framing "
     "(RFC 6587) (empty: off)"},
    {SEC_TRAPS, "snmp_udp", T_ADDRS, TRAPS_FIELD(snmp_udp), 0, 0, NULL, 0, NULL,
     "numeric host:port list to receive SNMP traps and informs on (v1, v2c, v3), e.g. "
     "10.0.0.1:162 (empty: off)"},
    {SEC_TRAPS, "http", T_ADDRS, TRAPS_FIELD(http), 0, 0, NULL, 0, NULL,
     "numeric host:port list to receive custom traps on (POST /traps, JSON) over plain HTTP "
     "(empty: off)"},
    {SEC_TRAPS, "https", T_ADDRS, TRAPS_FIELD(https), 0, 0, NULL, 0, NULL,
     "the same over HTTPS; needs tls_cert and tls_key (empty: off)"},
    {SEC_TRAPS, "tls_cert", T_PATH, TRAPS_STR(tls_cert), 0, 0, NULL, 0, NULL,
     "https: the server's certificate chain (PEM, absolute path)"},
    {SEC_TRAPS, "tls_key", T_PATH, TRAPS_STR(tls_key), 0, 0, NULL, 0, NULL,
     "https: the server's private key (PEM, absolute path)"},
    {SEC_TRAPS, "http_token_file", T_PATH, TRAPS_STR(http_token_file), 0, 0, NULL, 0, NULL,
     "file whose first line is the bearer token that POST /traps must carry (1 to 256 "
     "visible ASCII bytes), read when the config is loaded (empty: no token)"},
    {SEC_TRAPS, "max_message_bytes", T_U32, TRAPS_FIELD(max_message_bytes), 480, 65536, NULL, 0,
     "8192",
     "largest syslog message and custom trap body accepted; larger ones are refused and "
     "counted"},
    {SEC_TRAPS, "max_connections", T_U32, TRAPS_FIELD(max_connections), 1, 65536, NULL, 0, "256",
     "open connections per syslog TCP, HTTP or HTTPS listener; one more is closed at once and "
     "counted"},
    {SEC_TRAPS, "request_timeout_ms", T_U32, TRAPS_FIELD(request_timeout_ms), 100, 3600000, NULL, 0,
     "10000", "an HTTP request must arrive whole within this time of its first byte (ms)"},
    {SEC_TRAPS, "tcp_idle_timeout_ms", T_U32, TRAPS_FIELD(tcp_idle_timeout_ms), 1000, 86400000,
     NULL, 0, "300000", "a syslog TCP connection that sends nothing for this long is closed (ms)"},
    {SEC_TRAPS, "udp_rcvbuf_bytes", T_U32, TRAPS_FIELD(udp_rcvbuf_bytes), 65536, 1u << 30, NULL, 0,
     "16777216",
     "receive buffer of each UDP socket (beyond net.core.rmem_max only as root or with "
     "CAP_NET_ADMIN); datagrams the kernel drops are counted"},
    {SEC_TRAPS, "snmp_communities", T_STR, DRAFT_STR(snmp_communities), 0, 0, NULL, 0, NULL,
     "comma-separated SNMP v1/v2c communities accepted, 1 to 8 of 1 to 64 bytes (empty: v1 "
     "and v2c refused)"},
    {SEC_TRAPS, "snmp_users_file", T_PATH, TRAPS_STR(snmp_users_file), 0, 0, NULL, 0, NULL,
     "SNMPv3 users, at most 16, one net-snmp line each: createUser [-e ENGINEID] NAME "
     "[MD5|SHA|SHA-224|SHA-256|SHA-384|SHA-512 AUTHPASS [DES|AES [PRIVPASS]]]; passphrases of "
     "8 to 128 bytes; blank lines and # comments allowed; read when the config is loaded "
     "(empty: v3 refused)"},
    {SEC_TRAPS, "snmp_engine_id", T_STR, DRAFT_STR(snmp_engine_id), 0, 0, NULL, K_COMPUTED,
     "derived by the daemon",
     "this receiver's SNMP engine ID, 5 to 32 bytes in hex (the authoritative engine of "
     "informs)"},
    {SEC_TRAPS, "forward_delay_ms", T_U32, TRAPS_FIELD(forward_delay_ms), 1, 600000, NULL, 0, "200",
     "a standby forwards a trap to the master when no committed TRAPS entry has matched it "
     "after this long; less than window_ms (ms)"},
    {SEC_TRAPS, "batch_max", T_U32, TRAPS_FIELD(batch_max), 1, 10000, NULL, 0, "1000",
     "traps in one TRAPS log entry"},
    {SEC_TRAPS, "pending_max", T_U32, TRAPS_FIELD(pending_max), 1, 100000000, NULL, 0, "200000",
     "traps a standby may hold that no committed entry has matched yet; more are counted and "
     "refused"},
    {SEC_TRAPS, "backlog_max", T_U32, TRAPS_FIELD(backlog_max), 1, UINT32_MAX, NULL, 0, "1000000",
     "committed traps not yet delivered to the sink; past it new traps are refused and counted"},
    {SEC_TRAPS, "backlog_max_bytes", T_U32, TRAPS_FIELD(backlog_max_bytes), 1u << 20, UINT32_MAX,
     NULL, 0, "268435456",
     "bytes of committed traps not yet delivered to the sink, counted as the log holds them "
     "(the decoded JSON, the sender and 55 bytes per trap), 1 MiB to 4 GiB - 1; past it new "
     "traps are refused (backlog_full, counted; HTTP 503, syslog TCP paused) until the sink "
     "confirms deliveries. One backlog byte costs up to 2.1 bytes of log on all three members "
     "and 1 + 136 / (bytes of one trap) bytes of memory on each data node; set it alike on "
     "both data nodes"},
    {SEC_TRAPS, "identities_max", T_U32, TRAPS_FIELD(identities_max), 1000, 100000000, NULL, 0,
     "2000000",
     "distinct traps this node tracks within window_ms to count repeats (about 120 bytes of "
     "memory each at full use); size it as the highest trap rate times window_ms; past it new "
     "traps are refused and counted"},

    {SEC_SINK, "type", T_CHOICE, SINK_FIELD(type), 0, 0, sink_choices, 0, "none",
     "none, tcp, postgresql or relp; with none traps are received, deduplicated and committed "
     "to the log, and delivered nowhere"},
    {SEC_SINK, "address", T_ADDRS, DRAFT_FIELD(sink_address), 0, 0, NULL, 0, NULL,
     "type = tcp: the one numeric host:port that receives one JSON object per line; type = "
     "relp: the numeric host:port of the RELP server (rsyslog imrelp)"},
    {SEC_SINK, "conninfo", T_STR, SINK_STR(conninfo), 0, 0, NULL, 0, NULL,
     "type = postgresql: libpq connection string of the database that receives the traps"},
    {SEC_SINK, "table", T_STR, SINK_STR(table), 0, 0, NULL, 0, "duet_traps",
     "type = postgresql: the table traps are inserted into, [a-z_][a-z0-9_]*, at most 63 bytes"},
    {SEC_SINK, "timeout_ms", T_U32, SINK_FIELD(timeout_ms), 100, 600000, NULL, 0, "5000",
     "deadline of one delivery (connect, send or insert; relp: an rsp) before it is tried "
     "again (ms)"},
    {SEC_SINK, "ack", T_CHOICE, SINK_FIELD(ack), 0, 0, sink_ack_choices, 0, "required",
     "type = tcp: required (the receiver answers {\"ack\":\"<id>\"} lines and a record counts "
     "as delivered only once acknowledged: at least once) or none (a receiver that cannot "
     "acknowledge: delivered once written to the local kernel, AT MOST ONCE)"},
    {SEC_SINK, "window", T_U32, SINK_FIELD(window), 1, 4096, NULL, 0, "128",
     "type = relp: syslog commands sent and not yet answered by an rsp; after a broken "
     "connection at most these, and the answered records of their batches, reach rsyslog "
     "twice (at least once: each message carries the record's id)"},
    {SEC_SINK, "max_message_bytes", T_U32, SINK_FIELD(max_message_bytes), 512, 64u << 20, NULL, 0,
     "8192",
     "type = relp: the largest syslog message sent, at most imrelp's maxDataSize (its default "
     "is rsyslog's maxMessageSize, 8192); a longer record is a dead letter: a notice with its "
     "id goes in its place, counted (dead_letters) and logged"},

    {SEC_HTTP, "listen", T_ADDRS, HTTP_FIELD(listen), 0, 0, NULL, 0, NULL,
     "numeric host:port list to serve the HTTP endpoints (GET /master, /replica, /health, "
     "/metrics, ...) on, e.g. this node's own address 10.0.0.1:8008 (empty: off)"},
    {SEC_HTTP, "tls_cert", T_PATH, HTTP_STR(tls_cert), 0, 0, NULL, 0, NULL,
     "with tls_key: every listen address speaks HTTPS only, with this certificate chain "
     "(PEM, absolute path)"},
    {SEC_HTTP, "tls_key", T_PATH, HTTP_STR(tls_key), 0, 0, NULL, 0, NULL,
     "the private key of tls_cert (PEM, absolute path)"},
    {SEC_HTTP, "max_connections", T_U32, HTTP_FIELD(max_connections), 1, 65536, NULL, 0, "64",
     "open connections per listen address; one more is closed at once"},
    {SEC_HTTP, "request_timeout_ms", T_U32, HTTP_FIELD(request_timeout_ms), 100, 3600000, NULL, 0,
     "5000", "a request must arrive whole within this time of its first byte (ms)"},
};
#define N_KEYS (sizeof(keys) / sizeof(keys[0]))
_Static_assert(N_KEYS <= MAX_KEYS, "key_line[] arrays hold MAX_KEYS keys");

const struct section_def *config_section_def(enum section_kind kind)
{
	for (size_t i = 0; i < N_SECTIONS; i++)
		if (sections[i].kind == kind)
			return &sections[i];
	return NULL;
}

int config_key_index(enum section_kind section, const char *name)
{
	for (size_t i = 0; i < N_KEYS; i++)
		if (keys[i].section == section && strcmp(keys[i].key, name) == 0)
			return (int)i;
	return -1;
}

/* ---- errors -------------------------------------------------------------- */

void config_add_error(struct duet_config_errors *errs, int line, const char *fmt, ...)
{
	if (errs->n == DUET_CONFIG_MAX_ERRORS) {
		errs->dropped++;
		return;
	}
	struct duet_config_error *e = &errs->v[errs->n++];
	e->line = line;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
}

static bool has_errors(const struct duet_config_errors *errs)
{
	return errs->n > 0 || errs->dropped > 0;
}

/* ---- values -------------------------------------------------------------- */

static int parse_name(const char *v, char *out, size_t size, char *why, size_t whylen)
{
	size_t len = strlen(v);
	bool ok = len > 0 && len < size && isalnum((unsigned char)v[0]);
	for (size_t i = 0; ok && i < len; i++)
		ok = isalnum((unsigned char)v[i]) || strchr("._-", v[i]) != NULL;
	if (!ok) {
		snprintf(why, whylen,
			 "'%.40s' is not a valid name: use 1 to %zu letters, digits, '.', '_' or "
			 "'-', starting with a letter or digit",
			 v, size - 1);
		return -1;
	}
	memcpy(out, v, len + 1);
	return 0;
}

static int parse_u64_hex(const char *v, uint64_t *out, char *why, size_t whylen)
{
	if (strlen(v) != 16 || strspn(v, "0123456789abcdefABCDEF") != 16) {
		snprintf(why, whylen, "'%.40s' is not 16 hex digits (e.g. 00c0ffee00c0ffee)", v);
		return -1;
	}
	uint64_t x = strtoull(v, NULL, 16);
	if (x == 0) {
		snprintf(why, whylen, "the cluster id must not be zero");
		return -1;
	}
	*out = x;
	return 0;
}

static int parse_u32(const char *v, uint32_t lo, uint32_t hi, uint32_t *out, char *why,
		     size_t whylen)
{
	size_t len = strlen(v);
	if (len == 0 || strspn(v, "0123456789") != len) {
		snprintf(why, whylen, "'%.40s' is not a whole number", v);
		return -1;
	}
	errno = 0;
	unsigned long long x = strtoull(v, NULL, 10);
	if (errno == ERANGE || x < lo || x > hi) {
		snprintf(why, whylen,
			 "%.40s is out of range: must be between %" PRIu32 " and %" PRIu32, v, lo,
			 hi);
		return -1;
	}
	*out = (uint32_t)x;
	return 0;
}

int config_parse_choice(const char *v, const struct choice *choices, int *out, char *why,
			size_t whylen)
{
	for (const struct choice *c = choices; c->name; c++) {
		if (strcasecmp(v, c->name) == 0) {
			*out = c->value;
			return 0;
		}
	}
	size_t n = (size_t)snprintf(why, whylen, "'%.40s' is not one of", v);
	for (const struct choice *c = choices; c->name && n < whylen; c++)
		n += (size_t)snprintf(why + n, whylen - n, "%s %s", c == choices ? "" : ",",
				      c->name);
	return -1;
}

static int parse_path(const char *v, char *out, size_t size, char *why, size_t whylen)
{
	size_t len = strlen(v);
	if (len == 0 || v[0] != '/') {
		snprintf(why, whylen, "'%.60s' is not an absolute path (it must start with '/')",
			 v);
		return -1;
	}
	if (len >= size) {
		snprintf(why, whylen, "path longer than %zu bytes", size - 1);
		return -1;
	}
	memcpy(out, v, len + 1);
	return 0;
}

static int parse_str(const char *v, char *out, size_t size, char *why, size_t whylen)
{
	size_t len = strlen(v);
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) {
			snprintf(why, whylen, "control character (byte 0x%02x) at position %zu",
				 (unsigned char)v[i], i + 1);
			return -1;
		}
	}
	if (len >= size) {
		snprintf(why, whylen, "longer than %zu bytes", size - 1);
		return -1;
	}
	memcpy(out, v, len + 1);
	return 0;
}

/* Parses v as key k and stores it in the draft, the member or the raft
 * settings. Returns 0, or -1 with a reason in why. */
static int set_value(const struct key_def *k, struct draft *d, struct member_draft *m,
		     const char *v, char *why, size_t whylen)
{
	char *base = k->home == IN_DRAFT    ? (char *)d
		     : k->home == IN_MEMBER ? (char *)m
					    : (char *)&d->raft;
	void *field = base + k->offset;
	switch (k->type) {
	case T_NAME:
		return parse_name(v, field, k->size, why, whylen);
	case T_HEX64:
		return parse_u64_hex(v, field, why, whylen);
	case T_U32:
		return parse_u32(v, k->min, k->max, field, why, whylen);
	case T_CHOICE:
		return config_parse_choice(v, k->choices, field, why, whylen);
	case T_PATH:
		return parse_path(v, field, k->size, why, whylen);
	case T_ADDRS:
		return config_parse_addrs(v, field, why, whylen);
	case T_STR:
		return parse_str(v, field, k->size, why, whylen);
	}
	return -1;
}

/* ---- pass 1: lines, sections, keys --------------------------------------- */

static const char *closest(const char *word, enum section_kind section, bool sections_only)
{
	const char *best = NULL;
	unsigned best_d = 3; /* suggest only within two edits */
	if (sections_only) {
		for (size_t i = 0; i < N_SECTIONS; i++) {
			unsigned dist = config_distance(word, sections[i].name);
			if (dist < best_d) {
				best_d = dist;
				best = sections[i].name;
			}
		}
	} else {
		for (size_t i = 0; i < N_KEYS; i++) {
			if (keys[i].section != section)
				continue;
			unsigned dist = config_distance(word, keys[i].key);
			if (dist < best_d) {
				best_d = dist;
				best = keys[i].key;
			}
		}
	}
	return best && best_d < strlen(word) ? best : NULL;
}

static void open_member(struct loader *ld, const char *name)
{
	struct draft *d = ld->d;
	for (unsigned i = 0; i < d->n_members; i++) {
		if (strcmp(d->members[i].name, name) == 0) {
			config_add_error(ld->errs, ld->line,
					 "section [member %s] appears twice (first at line %d)",
					 name, d->members[i].header_line);
			ld->cur = SEC_BAD;
			return;
		}
	}
	if (d->n_members == MAX_DRAFT_MEMBERS) {
		config_add_error(
		    ld->errs, ld->line,
		    "too many [member] sections: duet has exactly 3 members (2 kind = data, "
		    "1 kind = witness)");
		ld->cur = SEC_BAD;
		return;
	}
	struct member_draft *m = &d->members[d->n_members++];
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->header_line = ld->line;
	ld->cur_member = m;
}

/* A section header, the text between '[' and ']'. */
static void open_section(struct loader *ld, char *text)
{
	char why[DUET_CONFIG_MSG_MAX];
	while (isspace((unsigned char)*text))
		text++;
	char *word_end = text;
	while (*word_end && !isspace((unsigned char)*word_end))
		word_end++;
	char *rest = word_end;
	while (isspace((unsigned char)*rest))
		rest++;
	size_t rl = strlen(rest);
	while (rl > 0 && isspace((unsigned char)rest[rl - 1]))
		rest[--rl] = '\0';
	*word_end = '\0';

	ld->cur = SEC_BAD; /* until proven otherwise: keys under a bad header are skipped */
	ld->cur_member = NULL;
	const struct section_def *s = NULL;
	for (size_t i = 0; i < N_SECTIONS; i++)
		if (strcmp(text, sections[i].name) == 0)
			s = &sections[i];
	if (!s) {
		const char *hint = closest(text, SEC_NONE, true);
		config_add_error(ld->errs, ld->line, "unknown section [%.40s]%s%s%s", text,
				 hint ? " (did you mean [" : "", hint ? hint : "",
				 hint ? "]?)" : "");
		return;
	}
	if (s->kind == SEC_MEMBER) {
		char name[DUET_NAME_MAX];
		if (rl == 0) {
			config_add_error(ld->errs, ld->line,
					 "section [member] needs a name: [member NAME]");
			return;
		}
		if (parse_name(rest, name, sizeof(name), why, sizeof(why)) != 0) {
			config_add_error(ld->errs, ld->line, "section [member %.40s]: %s", rest,
					 why);
			return;
		}
		ld->cur = SEC_MEMBER;
		snprintf(ld->cur_title, sizeof(ld->cur_title), "member %s", name);
		open_member(ld, name);
		return;
	}
	if (rl != 0) {
		config_add_error(ld->errs, ld->line, "section [%s] takes no name (found '%.40s')",
				 s->name, rest);
		return;
	}
	if (ld->d->section_line[s->kind]) {
		config_add_error(ld->errs, ld->line,
				 "section [%s] appears twice (first at line %d)", s->name,
				 ld->d->section_line[s->kind]);
		return;
	}
	ld->d->section_line[s->kind] = ld->line;
	ld->cur = s->kind;
	snprintf(ld->cur_title, sizeof(ld->cur_title), "%s", s->name);
}

/* Finds where an inline comment starts the way inih does (';' after a blank),
 * or the end of s. */
static char *comment_start(char *s)
{
	for (char *p = s; *p; p++)
		if (*p == ';' && p > s && isspace((unsigned char)p[-1]))
			return p;
	return s + strlen(s);
}

/* Looks at one line before it is split. Returns false if the line is bad
 * (already reported). */
static bool inspect_line(struct loader *ld, char *s)
{
	if (*s == '\0' || *s == ';' || *s == '#')
		return true;
	char *cend = comment_start(s);
	if (*s == '[') {
		char *close = memchr(s, ']', (size_t)(cend - s));
		if (!close) {
			config_add_error(ld->errs, ld->line, "section header without ']'");
			ld->cur = SEC_BAD;
			return false;
		}
		for (char *p = close + 1; p < cend; p++) {
			if (!isspace((unsigned char)*p)) {
				config_add_error(ld->errs, ld->line, "unexpected text after ']'");
				ld->cur = SEC_BAD;
				return false;
			}
		}
		char header[DUET_CONFIG_MAX_LINE + 1];
		size_t hl = (size_t)(close - s - 1);
		memcpy(header, s + 1, hl);
		header[hl] = '\0';
		open_section(ld, header);
		return true;
	}
	if (!memchr(s, '=', (size_t)(cend - s)) && !memchr(s, ':', (size_t)(cend - s))) {
		config_add_error(ld->errs, ld->line, "expected 'key = value' or '[section]'");
		return false;
	}
	return true;
}

/* One line of the buffer, numbered, with leading blanks removed (so there
 * is no multi-line continuation) and the CR of a CRLF and a UTF-8 byte order
 * mark on line 1 dropped. Returns false at the end of the buffer. */
static bool next_line(struct loader *ld, const char **out, size_t *len)
{
	if (ld->p >= ld->end)
		return false;
	const char *nl = memchr(ld->p, '\n', (size_t)(ld->end - ld->p));
	const char *line_end = nl ? nl : ld->end;
	const char *s = ld->p;
	ld->p = nl ? nl + 1 : ld->end;
	ld->line++;
	if (line_end > s && line_end[-1] == '\r')
		line_end--;
	if (ld->line == 1 && line_end - s >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3; /* UTF-8 byte order mark */
	while (s < line_end && (*s == ' ' || *s == '\t'))
		s++;
	*out = s;
	*len = (size_t)(line_end - s);
	return true;
}

static char *trim_end(char *s, char *end)
{
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	*end = '\0';
	return s;
}

/* Splits a key line in place the way inih does: the key ends at the first
 * '=' or ':', the value at a ';' that follows a blank, both trimmed; then
 * hands the pair to on_pair. inspect_line has checked that a separator is
 * there. */
static int on_pair(struct loader *ld, const char *name, const char *value);

static void split_pair(struct loader *ld, char *s)
{
	char *sep = s + strcspn(s, "=:");
	char *value = sep + 1;
	bool was_space = false;
	char *v = value;
	for (; *v; v++) {
		if (was_space && *v == ';')
			break;
		was_space = isspace((unsigned char)*v);
	}
	trim_end(value, v);
	while (isspace((unsigned char)*value))
		value++;
	on_pair(ld, trim_end(s, sep), value);
}

/* Pass 1: every line of the buffer, each error reported with its line. */
static void read_lines(struct loader *ld)
{
	char buf[DUET_CONFIG_MAX_LINE + 1];
	const char *s;
	size_t len;
	while (next_line(ld, &s, &len)) {
		if (memchr(s, '\0', len)) {
			config_add_error(ld->errs, ld->line, "line contains a NUL byte");
			continue;
		}
		if (len > DUET_CONFIG_MAX_LINE) {
			config_add_error(ld->errs, ld->line, "line longer than %u characters",
					 DUET_CONFIG_MAX_LINE);
			continue;
		}
		memcpy(buf, s, len);
		buf[len] = '\0';
		if (!inspect_line(ld, buf) || buf[0] == '\0' || buf[0] == ';' || buf[0] == '#' ||
		    buf[0] == '[')
			continue; /* bad (reported), empty, a comment or a section header */
		split_pair(ld, buf);
	}
	explicit_bzero(buf, sizeof buf); /* it held the line of a secret, maybe */
}

static int on_pair(struct loader *ld, const char *name, const char *value)
{
	char why[DUET_CONFIG_MSG_MAX];
	if (name[0] == '\0') {
		config_add_error(ld->errs, ld->line, "missing key name before '='");
		return 1;
	}
	if (ld->cur == SEC_NONE) {
		config_add_error(
		    ld->errs, ld->line,
		    "key '%.40s' is outside any section (put it under [cluster], [node], "
		    "[member NAME], [tls] or [raft])",
		    name);
		return 1;
	}
	if (ld->cur == SEC_BAD)
		return 1; /* the section header was reported */
	int ki = config_key_index(ld->cur, name);
	if (ki < 0) {
		const char *hint = closest(name, ld->cur, false);
		config_add_error(ld->errs, ld->line, "unknown key '%.40s' in [%s]%s%s%s", name,
				 ld->cur_title, hint ? " (did you mean '" : "", hint ? hint : "",
				 hint ? "'?)" : "");
		return 1;
	}
	int *seen = ld->cur == SEC_MEMBER ? &ld->cur_member->key_line[ki] : &ld->d->key_line[ki];
	if (*seen) {
		config_add_error(ld->errs, ld->line,
				 "key '%s' set twice in [%s] (first at line %d)", name,
				 ld->cur_title, *seen);
		return 1;
	}
	*seen = ld->line;
	if (set_value(&keys[ki], ld->d, ld->cur_member, value, why, sizeof(why)) != 0) {
		config_add_error(ld->errs, ld->line, "key '%s': %s", name, why);
		if (ld->cur != SEC_MEMBER)
			ld->d->key_bad[ki] = true;
	}
	return 1;
}

/* ---- pass 2: what spans keys --------------------------------------------- */

static void require(struct loader *ld, enum section_kind sec, int header_line, const char *title,
		    const int *key_line)
{
	for (size_t i = 0; i < N_KEYS; i++) {
		if (keys[i].section != sec || !(keys[i].flags & K_REQUIRED) || key_line[i])
			continue;
		config_add_error(ld->errs, header_line, "[%s] key '%s' is required: %s", title,
				 keys[i].key, keys[i].meaning);
	}
}

static void apply_defaults(struct draft *d)
{
	char why[DUET_CONFIG_MSG_MAX];
	for (size_t i = 0; i < N_KEYS; i++) {
		const struct key_def *k = &keys[i];
		if (k->home == IN_MEMBER || d->key_line[i] || !k->default_text ||
		    (k->flags & (K_COMPUTED | K_REQUIRED)))
			continue;
		/* the documented default goes through the same parser (a unit test
		 * makes sure every one parses) */
		(void)set_value(k, d, NULL, k->default_text, why, sizeof(why));
	}
}

static void check_members(struct loader *ld)
{
	struct draft *d = ld->d;
	int ki_id = config_key_index(SEC_MEMBER, "id"),
	    ki_kind = config_key_index(SEC_MEMBER, "kind");
	int ki_addr = config_key_index(SEC_MEMBER, "address");
	unsigned n_data = 0, n_witness = 0;
	bool kinds_known = true;
	for (unsigned i = 0; i < d->n_members; i++) {
		struct member_draft *m = &d->members[i];
		char title[DUET_NAME_MAX + 8];
		snprintf(title, sizeof(title), "member %s", m->name);
		require(ld, SEC_MEMBER, m->header_line, title, m->key_line);
		if (!m->key_line[ki_kind] || m->kind == 0)
			kinds_known = false;
		else if (m->kind == DUET_MEMBER_DATA)
			n_data++;
		else
			n_witness++;
		for (unsigned j = 0; j < i; j++) {
			const struct member_draft *o = &d->members[j];
			if (m->key_line[ki_id] && o->key_line[ki_id] && m->id && m->id == o->id)
				config_add_error(ld->errs, m->key_line[ki_id],
						 "key 'id': %" PRIu32
						 " is already the id of [member %s] "
						 "(line %d); ids must be unique",
						 m->id, o->name, o->key_line[ki_id]);
			for (unsigned a = 0; a < m->addrs.n; a++)
				for (unsigned b = 0; b < o->addrs.n; b++)
					if (strcmp(m->addrs.v[a], o->addrs.v[b]) == 0)
						config_add_error(
						    ld->errs, m->key_line[ki_addr],
						    "key 'address': %s is also an address "
						    "of [member %s] (line %d)",
						    m->addrs.v[a], o->name, o->key_line[ki_addr]);
		}
	}
	if (d->n_members != 3)
		config_add_error(
		    ld->errs, 0,
		    "%u [member NAME] section%s found; duet needs exactly 3 (2 kind = data, 1 "
		    "kind = witness)",
		    d->n_members, d->n_members == 1 ? "" : "s");
	else if (kinds_known && (n_data != 2 || n_witness != 1))
		config_add_error(
		    ld->errs, 0,
		    "members are %u kind = data and %u kind = witness; duet needs 2 data "
		    "nodes and 1 witness",
		    n_data, n_witness);
}

static const struct member_draft *find_self(struct loader *ld)
{
	struct draft *d = ld->d;
	int ki = config_key_index(SEC_NODE, "name");
	if (!d->key_line[ki] || d->node_name[0] == '\0')
		return NULL;
	for (unsigned i = 0; i < d->n_members; i++)
		if (strcmp(d->members[i].name, d->node_name) == 0)
			return &d->members[i];
	char names[3 * DUET_MAX_MEMBERS * DUET_NAME_MAX] = "";
	size_t n = 0;
	for (unsigned i = 0; i < d->n_members; i++)
		n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%s", i ? ", " : "",
				      d->members[i].name);
	config_add_error(ld->errs, d->key_line[ki],
			 "key 'name': no [member %s] section (members: %s)", d->node_name,
			 d->n_members ? names : "none");
	return NULL;
}

static void check_node(struct loader *ld, const struct member_draft *self)
{
	struct draft *d = ld->d;
	int ki_sock = config_key_index(SEC_NODE, "admin_socket");
	int ki_dir = config_key_index(SEC_NODE, "data_dir");
	int ki_listen = config_key_index(SEC_NODE, "listen");
	size_t max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;
	if (!d->key_line[ki_sock] && d->data_dir[0]) {
		size_t dl = strlen(d->data_dir);
		int n = snprintf(d->admin_socket, sizeof(d->admin_socket), "%s%sadmin.sock",
				 d->data_dir, d->data_dir[dl - 1] == '/' ? "" : "/");
		if (n < 0 || (size_t)n > max)
			config_add_error(
			    ld->errs, d->key_line[ki_dir],
			    "key 'data_dir': the default admin_socket <data_dir>/admin.sock "
			    "would be longer than %zu bytes, the limit of a Unix socket path; "
			    "set admin_socket to a shorter path",
			    max);
	} else if (strlen(d->admin_socket) > max) {
		config_add_error(
		    ld->errs, d->key_line[ki_sock],
		    "key 'admin_socket': longer than %zu bytes, the limit of a Unix socket "
		    "path",
		    max);
	}
	if (!d->key_line[ki_listen] && self)
		d->listen = self->addrs;
	/* the store refuses the same at start (storage.h): said here first */
	int ki_audit = config_key_index(SEC_NODE, "audit_max_bytes");
	int ki_map = config_key_index(SEC_NODE, "map_max_mib");
	uint64_t map = (uint64_t)d->map_max_mib << 20;
	if (!d->key_bad[ki_audit] && !d->key_bad[ki_map] && d->audit_max_bytes > map / 2)
		config_add_error(
		    ld->errs,
		    d->key_line[ki_audit] > d->key_line[ki_map] ? d->key_line[ki_audit]
								: d->key_line[ki_map],
		    "[node] audit_max_bytes (%" PRIu32 ") is over half of map_max_mib (%" PRIu32
		    " MiB): the audit chain would leave the log too little of the map; "
		    "lower audit_max_bytes or raise map_max_mib",
		    d->audit_max_bytes, d->map_max_mib);
}

static void check_raft(struct loader *ld, const struct member_draft *self)
{
	struct draft *d = ld->d;
	char why[DUET_CONFIG_MSG_MAX - 64];
	if (!d->key_line[config_key_index(SEC_RAFT, "transfer_timeout_ms")])
		d->raft.transfer_timeout_ms = d->raft.election_timeout_min_ms;
	d->raft.self_id = self && self->id ? self->id : 1; /* so timings are checked anyway */
	d->raft.self_incarnation = 1;
	if (raft_config_check(&d->raft, why, sizeof(why)) != 0)
		config_add_error(ld->errs, d->section_line[SEC_RAFT], "[raft] %s", why);
}

/* Is `text` an IPv4 or IPv6 address with a prefix ("10.0.0.100/24")? */
static int check_cidr(const char *text, char *why, size_t whylen)
{
	char addr[64];
	const char *slash = strchr(text, '/');
	size_t alen = slash ? (size_t)(slash - text) : 0;
	if (!slash || alen == 0 || alen >= sizeof(addr)) {
		snprintf(why, whylen, "'%.60s' is not ADDRESS/PREFIX, e.g. 10.0.0.100/24", text);
		return -1;
	}
	memcpy(addr, text, alen);
	addr[alen] = '\0';
	unsigned char bin[16];
	bool v6 = strchr(addr, ':') != NULL;
	if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, bin) != 1) {
		snprintf(why, whylen, "'%s' is not an IPv%d address", addr, v6 ? 6 : 4);
		return -1;
	}
	char *end = NULL;
	errno = 0;
	unsigned long prefix = strtoul(slash + 1, &end, 10);
	if (errno || end == slash + 1 || *end || prefix > (v6 ? 128u : 32u)) {
		snprintf(why, whylen, "prefix '%.10s' is not 0 to %d", slash + 1, v6 ? 128 : 32);
		return -1;
	}
	return 0;
}

static bool known_check(const char *name, size_t len)
{
	static const char *const names[] = {"pg", "fs", "nic", "fip", "manager", "isolation"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == len && strncmp(names[i], name, len) == 0)
			return true;
	return false;
}

/* What spans the keys of [pg], [fip], [fence], [manager] and [health]. */
/* [pg] peer_conninfo's default: the other data member's first address,
 * without its port (and brackets), on PostgreSQL's port. Empty if there is
 * no other data member. */
static void peer_conninfo(const struct draft *d, char *out, size_t cap)
{
	out[0] = '\0';
	for (unsigned i = 0; i < d->n_members; i++) {
		const struct member_draft *m = &d->members[i];
		if (m->kind != DUET_MEMBER_DATA || strcmp(m->name, d->node_name) == 0 ||
		    !m->addrs.n)
			continue;
		const char *a = m->addrs.v[0];
		const char *colon = strrchr(a, ':');
		size_t len = colon ? (size_t)(colon - a) : strlen(a);
		if (len >= 2 && a[0] == '[' && a[len - 1] == ']') {
			a++;
			len -= 2;
		}
		snprintf(out, cap, "host=%.*s port=5432 user=postgres dbname=postgres", (int)len,
			 a);
		return;
	}
}

static void check_actions(struct loader *ld)
{
	struct draft *d = ld->d;
	struct duet_config_actions *a = &d->act;
	char why[DUET_CONFIG_MSG_MAX - 64];
#define LINE(sec, key) d->key_line[config_key_index(sec, key)]
	if (a->fip_address[0] && check_cidr(a->fip_address, why, sizeof(why)))
		config_add_error(ld->errs, LINE(SEC_FIP, "address"), "key 'address': %s", why);
	bool cloud = a->fip_add_command[0] || a->fip_del_command[0] || a->fip_check_command[0];
	if (cloud && !(a->fip_add_command[0] && a->fip_del_command[0] && a->fip_check_command[0]))
		config_add_error(
		    ld->errs, d->section_line[SEC_FIP],
		    "[fip] add_command, del_command and check_command go together: set all "
		    "three or none");
	if (cloud && !a->fip_address[0])
		config_add_error(
		    ld->errs, d->section_line[SEC_FIP],
		    "[fip] the FIP commands need address (it names the FIP in logs and "
		    "status)");
	if (a->fip_address[0] && !cloud && !a->fip_interface[0])
		config_add_error(
		    ld->errs, LINE(SEC_FIP, "address"),
		    "key 'address': [fip] interface is required to add the FIP through "
		    "netlink (or set the three FIP commands)");
	if (a->fence_method == DUET_CONFIG_FENCE_COMMAND && !a->fence_command[0])
		config_add_error(ld->errs, LINE(SEC_FENCE, "method"),
				 "key 'method': command needs [fence] command");
	if (a->fence_method == DUET_CONFIG_FENCE_AGENT && !a->fence_agent[0])
		config_add_error(ld->errs, LINE(SEC_FENCE, "method"),
				 "key 'method': agent needs [fence] agent (e.g. fence_ipmilan)");
	if (a->fence_method == DUET_CONFIG_FENCE_IPMI &&
	    !(a->fence_ipmi_host[0] && a->fence_ipmi_user[0] && a->fence_ipmi_password_file[0]))
		config_add_error(
		    ld->errs, LINE(SEC_FENCE, "method"),
		    "key 'method': ipmi needs ipmi_host, ipmi_user and ipmi_password_file");
	if ((a->manager_start_command[0] != 0) != (a->manager_stop_command[0] != 0))
		config_add_error(ld->errs, d->section_line[SEC_MANAGER],
				 "[manager] start_command and stop_command go together");
	if (!LINE(SEC_PG, "peer_conninfo"))
		peer_conninfo(d, a->pg_peer_conninfo, sizeof(a->pg_peer_conninfo));
	if (!LINE(SEC_HEALTH, "fs_paths"))
		snprintf(a->health_fs_paths, sizeof(a->health_fs_paths), "%s", d->data_dir);
	if (!LINE(SEC_HEALTH, "nic"))
		snprintf(a->health_nic, sizeof(a->health_nic), "%s", cloud ? "" : a->fip_interface);
	for (const char *p = a->health_fs_paths; *p;) {
		while (*p == ' ' || *p == ',')
			p++;
		size_t n = strcspn(p, ",");
		while (n && p[n - 1] == ' ')
			n--;
		if (n && p[0] != '/')
			config_add_error(ld->errs, LINE(SEC_HEALTH, "fs_paths"),
					 "key 'fs_paths': '%.*s' is not an absolute path",
					 (int)(n > 60 ? 60 : n), p);
		p += strcspn(p, ",");
	}
	for (const char *p = a->health_critical; *p;) {
		while (*p == ' ' || *p == ',')
			p++;
		size_t n = strcspn(p, ", ");
		if (n && !known_check(p, n))
			config_add_error(
			    ld->errs, LINE(SEC_HEALTH, "critical"),
			    "key 'critical': '%.*s' is not one of pg, fs, nic, fip, manager, "
			    "isolation",
			    (int)(n > 40 ? 40 : n), p);
		p += n;
	}
	if (d->act.health_timeout_ms > d->act.health_interval_ms * 4u)
		config_add_error(ld->errs, LINE(SEC_HEALTH, "timeout_ms"),
				 "key 'timeout_ms': %" PRIu32
				 " ms is more than 4 probe intervals (%" PRIu32
				 " ms); a hung probe would hide failures for too long",
				 d->act.health_timeout_ms, d->act.health_interval_ms);
#undef LINE
}

static void check_files(struct loader *ld)
{
	static const char *const tls_keys[] = {"ca",      "cert",     "key",    "tls_cert",
					       "tls_key", "tls_cert", "tls_key"};
	static const enum section_kind secs[] = {SEC_TLS,   SEC_TLS,  SEC_TLS, SEC_TRAPS,
						 SEC_TRAPS, SEC_HTTP, SEC_HTTP};
	const char *paths[] = {ld->d->tls_ca,         ld->d->tls_cert,      ld->d->tls_key,
			       ld->d->traps.tls_cert, ld->d->traps.tls_key, ld->d->http.tls_cert,
			       ld->d->http.tls_key};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		int line = ld->d->key_line[config_key_index(secs[i], tls_keys[i])];
		if (!line || paths[i][0] == '\0')
			continue;
		int fd = open(paths[i], O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		struct stat st;
		if (fd < 0) {
			config_add_error(ld->errs, line, "key '%s': cannot read %s: %s",
					 tls_keys[i], paths[i], strerror(errno));
			continue;
		}
		if (fstat(fd, &st) == 0 && !S_ISREG(st.st_mode))
			config_add_error(ld->errs, line, "key '%s': %s is not a regular file",
					 tls_keys[i], paths[i]);
		close(fd);
	}
}

static void fill(struct duet_config *cfg, const struct draft *d, const struct member_draft *self)
{
	memset(cfg, 0, sizeof(*cfg));
	memcpy(cfg->cluster_name, d->cluster_name, sizeof(cfg->cluster_name));
	cfg->cluster_id = d->cluster_id;
	memcpy(cfg->node_name, d->node_name, sizeof(cfg->node_name));
	cfg->self_id = self->id;
	cfg->self_kind = (uint8_t)self->kind;
	memcpy(cfg->data_dir, d->data_dir, sizeof(cfg->data_dir));
	memcpy(cfg->admin_socket, d->admin_socket, sizeof(cfg->admin_socket));
	cfg->log_level = (enum duet_log_level)d->log_level;
	cfg->log_target = (enum duet_log_target)d->log_target;
	cfg->audit_max_bytes = d->audit_max_bytes;
	cfg->map_max_mib = d->map_max_mib;
	cfg->listen = d->listen;
	cfg->membership.n = d->n_members;
	for (unsigned i = 0; i < d->n_members; i++) {
		const struct member_draft *m = &d->members[i];
		struct duet_member *out = &cfg->membership.members[i];
		out->id = m->id;
		out->kind = (uint8_t)m->kind;
		out->incarnation = 1;
		memcpy(out->name, m->name, sizeof(out->name));
		out->n_addrs = m->addrs.n;
		memcpy(out->addrs, m->addrs.v, sizeof(out->addrs));
	}
	memcpy(cfg->tls_ca, d->tls_ca, sizeof(cfg->tls_ca));
	memcpy(cfg->tls_cert, d->tls_cert, sizeof(cfg->tls_cert));
	memcpy(cfg->tls_key, d->tls_key, sizeof(cfg->tls_key));
	cfg->raft = d->raft;
	cfg->act = d->act;
	cfg->traps = d->traps;
	cfg->sink = d->sink;
	cfg->http = d->http;
}

/* Orders errors by line (stable), those about the whole file last, so a
 * person can fix the file top to bottom. */
static void sort_errors(struct duet_config_errors *errs)
{
	for (unsigned i = 1; i < errs->n; i++) {
		struct duet_config_error e = errs->v[i];
		unsigned key = e.line > 0 ? (unsigned)e.line : UINT32_MAX;
		unsigned j = i;
		while (j > 0 && (errs->v[j - 1].line > 0 ? (unsigned)errs->v[j - 1].line
							 : UINT32_MAX) > key) {
			errs->v[j] = errs->v[j - 1];
			j--;
		}
		errs->v[j] = e;
	}
}

/* ---- public -------------------------------------------------------------- */

static void errors_init(struct duet_config_errors *errs, const char *name)
{
	memset(errs, 0, sizeof(*errs));
	snprintf(errs->file, sizeof(errs->file), "%s", name ? name : "(config)");
}

int duet_config_load_buffer(const char *name, const char *text, size_t len, unsigned flags,
			    struct duet_config *cfg, struct duet_config_errors *errs)
{
	errors_init(errs, name);
	memset(cfg, 0, sizeof(*cfg));
	if (len > DUET_CONFIG_MAX_BYTES) {
		config_add_error(errs, 0, "file is larger than %u bytes", DUET_CONFIG_MAX_BYTES);
		return DUET_EINVAL;
	}
	struct draft *d = calloc(1, sizeof(*d));
	if (!d)
		return DUET_ENOMEM;
	raft_config_default(&d->raft);
	struct loader ld = {.errs = errs, .d = d, .p = text, .end = text + len};

	read_lines(&ld);

	for (enum section_kind s = SEC_CLUSTER; s < SEC_BAD; s++)
		if (s != SEC_MEMBER)
			require(&ld, s, d->section_line[s], config_section_def(s)->name,
				d->key_line);
	apply_defaults(d);
	check_members(&ld);
	const struct member_draft *self = find_self(&ld);
	check_node(&ld, self);
	check_raft(&ld, self);
	check_actions(&ld);
	config_check_traps(&ld, self, flags);
	config_check_sink(&ld, self);
	config_check_http(&ld, self);
	if (!(flags & DUET_CONFIG_SKIP_FILES))
		check_files(&ld);

	sort_errors(errs);
	int rc = 0;
	if (has_errors(errs))
		rc = DUET_EINVAL;
	else
		fill(cfg, d, self);
	explicit_bzero(d, sizeof(*d)); /* the token and the SNMP passphrases */
	free(d);
	return rc;
}

int duet_config_load(const char *path, unsigned flags, struct duet_config *cfg,
		     struct duet_config_errors *errs)
{
	errors_init(errs, path);
	memset(cfg, 0, sizeof(*cfg));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		config_add_error(errs, 0, "cannot open: %s", strerror(e));
		return -e;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > DUET_CONFIG_MAX_BYTES) {
		int e = errno;
		if (fstat(fd, &st) != 0)
			config_add_error(errs, 0, "cannot read: %s", strerror(e));
		else if (!S_ISREG(st.st_mode))
			config_add_error(errs, 0, "not a regular file");
		else
			config_add_error(errs, 0, "file is larger than %u bytes",
					 DUET_CONFIG_MAX_BYTES);
		close(fd);
		return DUET_EINVAL;
	}
	size_t size = (size_t)st.st_size, got = 0;
	char *buf = malloc(size ? size : 1);
	if (!buf) {
		close(fd);
		return DUET_ENOMEM;
	}
	while (got < size) {
		ssize_t k = read(fd, buf + got, size - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			int e = errno;
			config_add_error(errs, 0, "cannot read: %s", strerror(e));
			free(buf);
			close(fd);
			return -e;
		}
		if (k == 0)
			break; /* shrank while we read: parse what is there */
		got += (size_t)k;
	}
	close(fd);
	int rc = duet_config_load_buffer(path, buf, got, flags, cfg, errs);
	free(buf);
	return rc;
}

const char *duet_config_path(const char *given)
{
	if (given)
		return given;
	const char *env = getenv(DUET_CONFIG_ENV);
	return env && env[0] ? env : DUET_CONFIG_DEFAULT_PATH;
}

void duet_config_free(struct duet_config *cfg)
{
	if (cfg)
		explicit_bzero(cfg, sizeof(*cfg));
}

const struct duet_member *duet_config_member(const struct duet_config *cfg, uint32_t id)
{
	return duet_membership_find(&cfg->membership, id);
}

size_t duet_config_raft_settings(const struct duet_config *cfg, struct duet_config_setting *out,
				 size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < N_KEYS; i++) {
		if (keys[i].home != IN_RAFT)
			continue;
		if (n < cap) {
			out[n].key = keys[i].key;
			memcpy(&out[n].value, (const char *)&cfg->raft + keys[i].offset,
			       sizeof(uint32_t));
		}
		n++;
	}
	return n;
}

void duet_config_errors_print(FILE *out, const struct duet_config_errors *errs)
{
	for (unsigned i = 0; i < errs->n; i++) {
		if (errs->v[i].line > 0)
			fprintf(out, "%s:%d: %s\n", errs->file, errs->v[i].line,
				errs->v[i].message);
		else
			fprintf(out, "%s: %s\n", errs->file, errs->v[i].message);
	}
	if (errs->dropped)
		fprintf(out, "%s: %u more error%s not shown\n", errs->file, errs->dropped,
			errs->dropped == 1 ? "" : "s");
}

/* ---- what a config resolved to -------------------------------------------- */

static bool witness_reads(enum section_kind kind);

/* The draft a loaded config was filled from (fill() backwards), so the key
 * table's offsets find every value. */
static void unfill(struct draft *d, const struct duet_config *cfg)
{
	memcpy(d->cluster_name, cfg->cluster_name, sizeof(d->cluster_name));
	d->cluster_id = cfg->cluster_id;
	memcpy(d->node_name, cfg->node_name, sizeof(d->node_name));
	memcpy(d->data_dir, cfg->data_dir, sizeof(d->data_dir));
	memcpy(d->admin_socket, cfg->admin_socket, sizeof(d->admin_socket));
	d->log_level = (int)cfg->log_level;
	d->log_target = (int)cfg->log_target;
	d->audit_max_bytes = cfg->audit_max_bytes;
	d->map_max_mib = cfg->map_max_mib;
	d->listen = cfg->listen;
	memcpy(d->tls_ca, cfg->tls_ca, sizeof(d->tls_ca));
	memcpy(d->tls_cert, cfg->tls_cert, sizeof(d->tls_cert));
	memcpy(d->tls_key, cfg->tls_key, sizeof(d->tls_key));
	d->raft = cfg->raft;
	d->act = cfg->act;
	d->traps = cfg->traps;
	d->sink = cfg->sink;
	d->http = cfg->http;
	/* the keys kept as written, parsed by resolve() */
	size_t n = 0;
	for (unsigned i = 0; i < cfg->traps.n_snmp_communities; i++)
		n += (size_t)snprintf(d->snmp_communities + n, sizeof(d->snmp_communities) - n,
				      "%s%s", i ? "," : "", cfg->traps.snmp_communities[i]);
	for (unsigned i = 0; i < cfg->traps.snmp_engine_id_len; i++)
		snprintf(d->snmp_engine_id + 2 * i, sizeof(d->snmp_engine_id) - 2 * i, "%02x",
			 cfg->traps.snmp_engine_id[i]);
	d->sink_address.n = cfg->sink.address[0] ? 1 : 0;
	memcpy(d->sink_address.v[0], cfg->sink.address, sizeof(cfg->sink.address));
}

static void value_text(const struct key_def *k, const struct draft *d, char *buf, size_t len)
{
	const char *base = k->home == IN_DRAFT ? (const char *)d : (const char *)&d->raft;
	const void *field = base + k->offset;
	buf[0] = '\0';
	switch (k->type) {
	case T_NAME:
	case T_PATH:
	case T_STR:
		snprintf(buf, len, "%s", (const char *)field);
		break;
	case T_HEX64: {
		uint64_t v;
		memcpy(&v, field, sizeof v);
		snprintf(buf, len, "%016" PRIx64, v);
		break;
	}
	case T_U32: {
		uint32_t v;
		memcpy(&v, field, sizeof v);
		snprintf(buf, len, "%" PRIu32, v);
		break;
	}
	case T_CHOICE: {
		int v;
		memcpy(&v, field, sizeof v);
		for (const struct choice *c = k->choices; c->name; c++)
			if (c->value == v)
				snprintf(buf, len, "%s", c->name);
		break;
	}
	case T_ADDRS: {
		const struct duet_config_addrs *a = field;
		size_t n = 0;
		for (unsigned i = 0; i < a->n && n < len; i++)
			n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? "," : "", a->v[i]);
		break;
	}
	}
}

int duet_config_each(const struct duet_config *cfg, duet_config_each_cb cb, void *ud)
{
	struct draft *d = calloc(1, sizeof *d);
	char *buf = malloc(DUET_CONFIG_MAX_LINE + 1);
	if (!d || !buf) {
		free(d);
		free(buf);
		return DUET_ENOMEM;
	}
	unfill(d, cfg);
	for (size_t s = 0; s < N_SECTIONS; s++) {
		if (sections[s].kind == SEC_MEMBER)
			continue; /* the members are in cfg->membership */
		if (cfg->self_kind == DUET_MEMBER_WITNESS && !witness_reads(sections[s].kind))
			continue;
		for (size_t i = 0; i < N_KEYS; i++) {
			if (keys[i].section != sections[s].kind)
				continue;
			value_text(&keys[i], d, buf, DUET_CONFIG_MAX_LINE + 1);
			cb(ud, sections[s].name, keys[i].key, buf);
		}
	}
	explicit_bzero(d, sizeof *d);
	free(d);
	free(buf);
	return 0;
}

/* ---- documentation ------------------------------------------------------- */

/* The longest default text (peer_conninfo's description is 82 bytes). */
#define DEFAULT_TEXT_MAX 256

/* The default of key k as text for people. */
static void default_text(const struct key_def *k, char *buf, size_t len)
{
	if (k->flags & K_REQUIRED) {
		snprintf(buf, len, "required");
	} else if (k->home == IN_RAFT && !(k->flags & K_COMPUTED)) {
		struct raft_config def;
		raft_config_default(&def);
		uint32_t v;
		memcpy(&v, (const char *)&def + k->offset, sizeof(v));
		snprintf(buf, len, "%" PRIu32, v);
	} else {
		snprintf(buf, len, "%s",
			 k->default_text && k->default_text[0] ? k->default_text : "(none)");
	}
}

/* The sections a witness reads: the data nodes' own ones it ignores, or
 * (traps, sink, http) refuses. */
static bool witness_reads(enum section_kind kind)
{
	return kind == SEC_CLUSTER || kind == SEC_NODE || kind == SEC_MEMBER || kind == SEC_TLS ||
	       kind == SEC_RAFT;
}

void duet_config_print_keys(FILE *out)
{
	duet_config_print_keys_for(out, 0);
}

void duet_config_print_keys_for(FILE *out, uint8_t kind)
{
	char def[DEFAULT_TEXT_MAX];
	for (size_t s = 0; s < N_SECTIONS; s++) {
		if (kind == DUET_MEMBER_WITNESS && !witness_reads(sections[s].kind))
			continue;
		fprintf(out, "%s\n    %s\n", sections[s].title, sections[s].meaning);
		for (size_t i = 0; i < N_KEYS; i++) {
			if (keys[i].section != sections[s].kind)
				continue;
			default_text(&keys[i], def, sizeof(def));
			fprintf(out, "  %-24s %s%s\n      %s\n", keys[i].key,
				keys[i].flags & K_REQUIRED ? "" : "default: ", def,
				keys[i].meaning);
		}
		fputc('\n', out);
	}
}

static void markdown_cell(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '|')
			fputs("\\|", out);
		else if (*s == '<')
			fputs("&lt;", out);
		else if (*s == '>')
			fputs("&gt;", out);
		else
			fputc(*s, out);
	}
}

void duet_config_print_keys_markdown(FILE *out)
{
	char def[DEFAULT_TEXT_MAX];
	fputs("| section | key | default | meaning |\n|---|---|---|---|\n", out);
	for (size_t s = 0; s < N_SECTIONS; s++) {
		for (size_t i = 0; i < N_KEYS; i++) {
			if (keys[i].section != sections[s].kind)
				continue;
			default_text(&keys[i], def, sizeof(def));
			fprintf(out, "| `%s` | `%s` | ", sections[s].title, keys[i].key);
			if (keys[i].flags & K_REQUIRED)
				fputs("*required*", out);
			else if (keys[i].flags & K_COMPUTED)
				markdown_cell(out, def);
			else
				fprintf(out, "`%s`", def);
			fputs(" | ", out);
			markdown_cell(out, keys[i].meaning);
			fputs(" |\n", out);
		}
	}
}
