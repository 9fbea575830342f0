/* SPDX-License-Identifier: MIT */
/*
 * config.h - the INI config file of duetd and duet-witness (DESIGN.md 1).
 *
 * One file per process names the cluster, this process's member, the three
 * members with their addresses (several per member = redundant links), the
 * TLS files and optional [raft] overrides:
 *
 *     [cluster]
 *     name = prod
 *     id = 00c0ffee00c0ffee
 *
 *     [node]
 *     name = node-a
 *
 *     [member node-a]
 *     id = 1
 *     kind = data
 *     address = 10.0.0.1:7101, 10.1.0.1:7101
 *     ...
 *
 * One table in daemon/config.c lists every section and key with its type,
 * default and meaning. It drives the parser, the validation, the --help text
 * and the README table (duet_config_print_keys()), so they cannot disagree.
 *
 * Loading never stops at the first problem: every error (up to
 * DUET_CONFIG_MAX_ERRORS) is collected with its line, so a person fixes the
 * file in one pass. Nothing is allocated that the caller must free besides
 * what duet_config_free() releases; nothing here runs on the event loop (it
 * reads a file: call it at start).
 *
 * The INI dialect (inih's rules, read by config.c itself): a line is at most
 * DUET_CONFIG_MAX_LINE characters; comments start a line with ';' or '#', or
 * follow a value after " ;"; `key: value` is accepted like `key = value`;
 * there are no multi-line values (leading blanks are ignored).
 */
#ifndef DUET_CONFIG_H
#define DUET_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "duet/entry.h"
#include "duet/log.h"
#include "duet/raftlog.h"

#define DUET_CONFIG_MAX_ERRORS 20
#define DUET_CONFIG_MAX_LINE   8192       /* characters in one line, without the newline */
#define DUET_CONFIG_MAX_BYTES  (1u << 20) /* larger files are refused */
#define DUET_CONFIG_PATH_MAX   192        /* including NUL; a line must hold it anyway */
#define DUET_CONFIG_MSG_MAX    320        /* one error message, including NUL */
#define DUET_CONFIG_STR_MAX    4096       /* a command or conninfo, including NUL */

/* The config file every program reads when it is given none: --config
 * FILE (-c FILE) first, else the environment variable DUET_CONFIG when set
 * and not empty, else this path. */
#define DUET_CONFIG_DEFAULT_PATH "/etc/duet/duet.ini"
#define DUET_CONFIG_ENV          "DUET_CONFIG"

/* given if not NULL, else $DUET_CONFIG if set and not empty, else
 * DUET_CONFIG_DEFAULT_PATH. */
const char *duet_config_path(const char *given);

/* Flags of duet_config_load*(). */
enum duet_config_flags {
	/* Do not open the files the config names (for checking a config on
	 * another machine than the one it is for): the TLS files ([tls],
	 * [traps] and [http] tls_cert and tls_key) are not checked, and [traps]
	 * http_token_file and snmp_users_file are not read, so
	 * traps.http_token stays empty and traps.n_snmp_users 0. */
	DUET_CONFIG_SKIP_FILES = 1u << 0,
};

struct duet_config_error {
	int line; /* 1-based; 0 when the error is about the file as a whole */
	char message[DUET_CONFIG_MSG_MAX];
};

struct duet_config_errors {
	char file[DUET_CONFIG_PATH_MAX]; /* the name errors are reported against */
	unsigned n;                      /* entries used in v */
	unsigned dropped;                /* errors past DUET_CONFIG_MAX_ERRORS, not kept */
	struct duet_config_error v[DUET_CONFIG_MAX_ERRORS];
};

/* A comma-separated list of "host:port" as written (host an IPv4 literal,
 * "[IPv6]" or a hostname; port 1..65535). */
struct duet_config_addrs {
	uint8_t n;
	char v[DUET_MAX_ADDRS][DUET_ADDR_MAX];
};

/* Fence methods ([fence] method). */
enum duet_config_fence {
	DUET_CONFIG_FENCE_NONE = 0,
	DUET_CONFIG_FENCE_IPMI = 1,
	DUET_CONFIG_FENCE_COMMAND = 2,
	DUET_CONFIG_FENCE_AGENT = 3 /* a fence-agents fence_* agent (stdin protocol) */
};

/*
 * What a data node does as master or standby (DESIGN.md sections 4 and 7):
 * [pg], [fip], [fence], [manager] and [health]. duet-witness reads none of
 * it. Strings are empty when not set; commands run through /bin/sh -c.
 */
struct duet_config_actions {
	/* [pg] the local PostgreSQL */
	char pg_conninfo[DUET_CONFIG_STR_MAX];
	char pg_start_command[DUET_CONFIG_STR_MAX];
	char pg_stop_command[DUET_CONFIG_STR_MAX];
	uint32_t pg_timeout_ms;
	uint32_t pg_probe_interval_ms;
	uint32_t pg_sync_timeout_ms;
	uint32_t pg_promote_timeout_ms;
	/* [pg] rebuilding this node as a standby (duetctl rejoin, switchover) */
	char pg_data_dir[DUET_CONFIG_PATH_MAX];
	char pg_bin_dir[DUET_CONFIG_PATH_MAX];
	char pg_config_file[DUET_CONFIG_PATH_MAX];
	char pg_os_user[DUET_NAME_MAX];
	char pg_peer_conninfo[DUET_CONFIG_STR_MAX]; /* computed from the other data member */
	uint32_t pg_rebuild_timeout_ms;
	uint32_t pg_rebuild_stream_timeout_ms; /* not streaming with the master up: copy again */
	/* [fip] */
	char fip_address[DUET_CONFIG_STR_MAX]; /* "10.0.0.100/24"; empty: no FIP */
	char fip_interface[DUET_NAME_MAX];
	char fip_add_command[DUET_CONFIG_STR_MAX];
	char fip_del_command[DUET_CONFIG_STR_MAX];
	char fip_check_command[DUET_CONFIG_STR_MAX];
	uint32_t fip_garp_count;
	uint32_t fip_garp_repeat_ms; /* the master re-announces this often; 0: never */
	uint32_t fip_timeout_ms;
	/* [fence] how this node fences the other data node */
	int fence_method; /* enum duet_config_fence */
	char fence_command[DUET_CONFIG_STR_MAX];
	char fence_ipmi_host[DUET_CONFIG_STR_MAX];
	char fence_ipmi_user[DUET_NAME_MAX];
	char fence_ipmi_password_file[DUET_CONFIG_PATH_MAX];
	char fence_ipmi_interface[DUET_NAME_MAX];
	char fence_agent[DUET_CONFIG_PATH_MAX];              /* method = agent: fence_* program */
	char fence_agent_options_file[DUET_CONFIG_PATH_MAX]; /* its key=value options */
	uint32_t fence_timeout_ms;
	/* [fence] the watchdog armed while acting master (DESIGN.md 4.10);
	 * "" = none */
	char fence_watchdog_device[DUET_CONFIG_PATH_MAX];
	uint32_t fence_watchdog_timeout_s;
	/* [manager] */
	char manager_start_command[DUET_CONFIG_STR_MAX];
	char manager_stop_command[DUET_CONFIG_STR_MAX];
	char manager_check_command[DUET_CONFIG_STR_MAX];
	uint32_t manager_timeout_ms;
	/* [health] */
	uint32_t health_interval_ms;
	uint32_t health_timeout_ms;
	uint32_t health_fail_after;
	uint32_t health_ok_after;
	char health_fs_paths[DUET_CONFIG_STR_MAX]; /* comma-separated directories */
	char health_nic[DUET_NAME_MAX];
	struct duet_config_addrs health_isolation; /* n == 0: no isolation check */
	char health_critical[DUET_CONFIG_STR_MAX]; /* comma-separated check names */
};

/* ---- [traps] and [sink] (data nodes only, DESIGN.md section 5) ----------- */

#define DUET_CONFIG_MAX_COMMUNITIES      8
#define DUET_CONFIG_COMMUNITY_MAX        65 /* 1..64 bytes, including NUL */
#define DUET_CONFIG_MAX_SNMP_USERS       16
#define DUET_CONFIG_SNMP_USER_MAX        33  /* 1..32 bytes (SnmpAdminString), including NUL */
#define DUET_CONFIG_SNMP_PASS_MAX        129 /* 8..128 bytes, including NUL */
#define DUET_CONFIG_SNMP_PASS_MIN_BYTES  8   /* net-snmp refuses shorter passphrases */
#define DUET_CONFIG_ENGINE_ID_MAX        32  /* SnmpEngineID: 5..32 bytes */
#define DUET_CONFIG_ENGINE_ID_MIN        5
#define DUET_CONFIG_TOKEN_MAX            257         /* 1..256 bytes, including NUL */
#define DUET_CONFIG_SQL_NAME_MAX         64          /* a PostgreSQL identifier, including NUL */
#define DUET_CONFIG_SNMP_USERS_MAX_BYTES (64u << 10) /* larger users files are refused */

/* SNMPv3 authentication protocols of a user (net-snmp's names in the users
 * file: MD5, SHA, SHA-224, SHA-256, SHA-384, SHA-512). The order is that of
 * enum trap_snmp_auth, but config does not depend on the traps headers. */
enum duet_config_snmp_auth {
	DUET_CONFIG_SNMP_AUTH_NONE = 0,
	DUET_CONFIG_SNMP_AUTH_MD5,
	DUET_CONFIG_SNMP_AUTH_SHA1,
	DUET_CONFIG_SNMP_AUTH_SHA224,
	DUET_CONFIG_SNMP_AUTH_SHA256,
	DUET_CONFIG_SNMP_AUTH_SHA384,
	DUET_CONFIG_SNMP_AUTH_SHA512
};

/* SNMPv3 privacy protocols (users file: DES, AES); order of enum
 * trap_snmp_priv. */
enum duet_config_snmp_priv {
	DUET_CONFIG_SNMP_PRIV_NONE = 0,
	DUET_CONFIG_SNMP_PRIV_DES,
	DUET_CONFIG_SNMP_PRIV_AES128
};

/*
 * One line of [traps] snmp_users_file, in net-snmp's createUser syntax:
 *
 *     createUser [-e ENGINEID_HEX] NAME [AUTH AUTHPASS [PRIV [PRIVPASS]]]
 *
 * engine_id_len 0 (no -e): the user is accepted from any engine. priv set
 * without PRIVPASS takes AUTHPASS, as net-snmp does. Passwords are master
 * passphrases (the receiver localizes them); they are secrets: the config is
 * zeroed by duet_config_free().
 */
struct duet_config_snmp_user {
	char name[DUET_CONFIG_SNMP_USER_MAX];
	uint8_t engine_id[DUET_CONFIG_ENGINE_ID_MAX];
	uint8_t engine_id_len; /* 0, or 5..32 */
	int auth;              /* enum duet_config_snmp_auth */
	int priv;              /* enum duet_config_snmp_priv; NONE unless auth is set */
	char auth_pass[DUET_CONFIG_SNMP_PASS_MAX]; /* "" when auth is NONE */
	char priv_pass[DUET_CONFIG_SNMP_PASS_MAX]; /* "" when priv is NONE */
};

/*
 * [traps]: the receivers of this data node and the limits of the pipeline
 * behind them. An empty address list turns that receiver off; listener
 * addresses are numeric ("a.b.c.d:port" or "[v6]:port"), since they are
 * bound, not resolved.
 */
struct duet_config_traps {
	uint32_t window_ms; /* copies of one trap match within this window */
	struct duet_config_addrs syslog_udp;
	struct duet_config_addrs syslog_tcp;
	struct duet_config_addrs snmp_udp;
	struct duet_config_addrs http;
	struct duet_config_addrs https;
	char tls_cert[DUET_CONFIG_PATH_MAX]; /* https: PEM chain; "" when unset */
	char tls_key[DUET_CONFIG_PATH_MAX];
	char http_token_file[DUET_CONFIG_PATH_MAX]; /* "" = no token */
	char http_token[DUET_CONFIG_TOKEN_MAX];     /* its first line; "" = none needed */
	uint32_t max_message_bytes;                 /* a syslog message, a custom trap body */
	uint32_t max_connections;                   /* per TCP or HTTP listener */
	uint32_t request_timeout_ms;                /* an HTTP request, first byte to last */
	uint32_t tcp_idle_timeout_ms;               /* a syslog TCP connection that sends nothing */
	uint32_t udp_rcvbuf_bytes;
	uint8_t n_snmp_communities; /* 0: SNMP v1/v2c refused */
	char snmp_communities[DUET_CONFIG_MAX_COMMUNITIES][DUET_CONFIG_COMMUNITY_MAX];
	char snmp_users_file[DUET_CONFIG_PATH_MAX]; /* "" = no SNMPv3 users */
	uint8_t n_snmp_users;
	struct duet_config_snmp_user snmp_users[DUET_CONFIG_MAX_SNMP_USERS];
	uint8_t snmp_engine_id[DUET_CONFIG_ENGINE_ID_MAX];
	uint8_t snmp_engine_id_len; /* 0: the daemon derives one */
	uint32_t forward_delay_ms;  /* standby: wait before forwarding an unmatched trap */
	uint32_t batch_max;         /* traps per TRAPS entry */
	uint32_t pending_max;       /* traps a standby holds unmatched */
	uint32_t backlog_max;       /* committed, not yet delivered; past it traps are refused */
	uint32_t backlog_max_bytes; /* their log payload bytes; past it traps are refused */
	uint32_t identities_max;    /* distinct traps tracked within window_ms */
};

/* [sink] type */
enum duet_config_sink_type {
	DUET_CONFIG_SINK_NONE = 0,
	DUET_CONFIG_SINK_TCP = 1,        /* JSON lines to address */
	DUET_CONFIG_SINK_POSTGRESQL = 2, /* INSERT ... ON CONFLICT DO NOTHING into table */
	DUET_CONFIG_SINK_RELP = 3        /* RELP syslog commands to address (rsyslog imrelp) */
};

/* [sink]: where the master delivers committed traps. */
struct duet_config_sink {
	int type;                             /* enum duet_config_sink_type */
	char address[DUET_ADDR_MAX];          /* tcp, relp: one numeric host:port; "" if unset */
	char conninfo[DUET_CONFIG_STR_MAX];   /* postgresql: libpq connection string */
	char table[DUET_CONFIG_SQL_NAME_MAX]; /* postgresql: [a-z_][a-z0-9_]* */
	uint32_t timeout_ms;                  /* one delivery attempt */
	int ack;         /* tcp: enum duet_config_sink_ack, does the receiver acknowledge */
	uint32_t window; /* relp: commands awaiting their rsp */
	uint32_t max_message_bytes; /* relp: longer messages are dead letters */
};

/* [sink] ack (type = tcp) */
enum duet_config_sink_ack {
	DUET_CONFIG_SINK_ACK_REQUIRED = 0, /* {"ack":"<id>"} lines: at least once */
	DUET_CONFIG_SINK_ACK_NONE = 1      /* confirmed when written: at most once */
};

/*
 * [http] (data nodes only): duetd's own HTTP endpoints, GET /master,
 * /health and /metrics (daemon/http_api.h), for load balancers, agents and
 * Prometheus. Off until listen is set; HTTPS on every listen address when
 * tls_cert and tls_key are set. A server apart from the custom-trap
 * receiver of [traps], so that a flood of traps never starves the health
 * checks of a load balancer.
 */
struct duet_config_http {
	struct duet_config_addrs listen;     /* numeric; n == 0: off */
	char tls_cert[DUET_CONFIG_PATH_MAX]; /* "" (and tls_key ""): plain HTTP */
	char tls_key[DUET_CONFIG_PATH_MAX];
	uint32_t max_connections;    /* per listener */
	uint32_t request_timeout_ms; /* a request, first byte to last */
};

struct duet_config {
	char cluster_name[DUET_NAME_MAX];
	uint64_t cluster_id; /* nonzero; storage refuses a store of another cluster */

	char node_name[DUET_NAME_MAX]; /* [node] name: which member this process is */
	uint32_t self_id;              /* that member's id */
	uint8_t self_kind;             /* enum duet_member_kind */
	char data_dir[DUET_CONFIG_PATH_MAX];
	char admin_socket[DUET_CONFIG_PATH_MAX];
	enum duet_log_level log_level;
	enum duet_log_target log_target;
	struct duet_config_addrs listen; /* default: this member's addresses */
	uint32_t audit_max_bytes;        /* audit chain retention bound (storage.h) */
	uint32_t map_max_mib;            /* the store's map limit (storage.h max_map_size) */

	/* The three members, in file order; incarnation 1 for each (rejoin
	 * raises it in the log, never in the file). */
	struct duet_membership membership;

	char tls_ca[DUET_CONFIG_PATH_MAX];
	char tls_cert[DUET_CONFIG_PATH_MAX];
	char tls_key[DUET_CONFIG_PATH_MAX];

	/* raft_config_default() with [raft] overrides; self_id set,
	 * self_incarnation 1, seed 0 (the daemon seeds it). Passes
	 * raft_config_check(). */
	struct raft_config raft;

	/* data nodes: PostgreSQL, FIP, fencing, manager, health checks */
	struct duet_config_actions act;

	/* data nodes: trap receivers and pipeline limits; defaults (every
	 * receiver off) on the witness, whose config may not set them */
	struct duet_config_traps traps;
	/* data nodes: where committed traps go; type NONE on the witness */
	struct duet_config_sink sink;
	/* data nodes: /master, /health, /metrics; off on the witness, whose
	 * config may not set it */
	struct duet_config_http http;
};

/*
 * Reads and checks the config file at `path`. On success returns 0 with *cfg
 * filled and errs->n == 0. Otherwise returns DUET_EINVAL (the file has
 * errors) or a negative errno (it could not be read), *cfg is unspecified,
 * and errs holds every error found, each with its line. errs->file is set to
 * `path` in every case. `flags` is a set of enum duet_config_flags.
 */
int duet_config_load(const char *path, unsigned flags, struct duet_config *cfg,
		     struct duet_config_errors *errs);

/*
 * Same as duet_config_load() on config text text[0..len) (need not be NUL
 * terminated; a NUL byte in it is an error). `name` is what errors are
 * reported against. Never reads past len.
 */
int duet_config_load_buffer(const char *name, const char *text, size_t len, unsigned flags,
			    struct duet_config *cfg, struct duet_config_errors *errs);

/* Releases what *cfg holds (today nothing is allocated; call it anyway) and
 * zeroes it, the secrets (HTTP token, SNMP passwords) with explicit_bzero(). */
void duet_config_free(struct duet_config *cfg);

/* Writes errs one per line: "FILE:LINE: message" or "FILE: message", then
 * "FILE: N more errors not shown" if some were dropped. */
void duet_config_errors_print(FILE *out, const struct duet_config_errors *errs);

/* Writes the key table as text (for --help): one block per section with
 * each key, its default and its meaning. */
void duet_config_print_keys(FILE *out);

/* The same for the member of that kind only: DUET_MEMBER_WITNESS leaves
 * out the sections only data nodes read; any other kind prints all. */
void duet_config_print_keys_for(FILE *out, uint8_t kind);

/* Writes the key table as a Markdown table (for the README):
 * | section | key | default | meaning |. */
void duet_config_print_keys_markdown(FILE *out);

/* Every key of every section the member reads ([member] sections aside:
 * they are in cfg->membership), in the key table's order, with the value
 * it resolved to (defaults applied) as text: cb(ud, section name, key,
 * value). Returns 0 or DUET_ENOMEM. */
typedef void (*duet_config_each_cb)(void *ud, const char *section, const char *key,
				    const char *value);
int duet_config_each(const struct duet_config *cfg, duet_config_each_cb cb, void *ud);

/* One [raft] setting with its effective value. */
struct duet_config_setting {
	const char *key; /* static: the key's name in [raft] */
	uint32_t value;
};

/* Fills out[0..cap) with every [raft] key, in table order, and its value in
 * cfg->raft. Returns the number of [raft] keys (may exceed cap). */
size_t duet_config_raft_settings(const struct duet_config *cfg, struct duet_config_setting *out,
				 size_t cap);

/* Returns the member of cfg with `id`, or NULL. */
const struct duet_member *duet_config_member(const struct duet_config *cfg, uint32_t id);

#endif
