/* SPDX-License-Identifier: MIT */
/*
 * pg.h - the daemon's connection to its LOCAL PostgreSQL, fully asynchronous
 * on a libuv loop (DESIGN.md sections 3, 4 and 7).
 *
 * What it is for: the health check reads the server's role and replication
 * state (duet_pg_probe); the failover steps switch synchronous replication
 * on and off (duet_pg_set_sync_names) and promote a standby
 * (duet_pg_promote). DESIGN 4 orders those steps; this module only performs
 * one at a time and says exactly how each ended.
 *
 * ---- Operations ----------------------------------------------------------
 *
 * Operations queue FIFO on one connection (at most DUET_PG_MAX_QUEUE at
 * once; past that a call returns DUET_EBUSY, counted). The connection is
 * opened by the first operation that needs it and kept between operations;
 * an operation that fails or passes its deadline closes it, and the next
 * operation reconnects. While the connection is idle the module watches
 * its socket, so a server that restarted (its backend said FATAL or closed
 * the socket) is noticed and the next operation connects afresh instead of
 * failing on the dead connection.
 *
 * Deadlines: each operation has its own, started when it is queued: the
 * time spent waiting behind earlier operations, connecting and querying all
 * counts. timeout_ms for probes and set_sync_names; wait_seconds * 1000 +
 * timeout_ms for promote. At the deadline the operation ends with
 * -ETIMEDOUT. If it was running, the connection is simply closed (no
 * PQcancel: it blocks); the server may still finish what it was asked to do
 * (in particular a promotion may complete after its callback said
 * -ETIMEDOUT: probe again to learn the outcome).
 *
 * Result codes passed to callbacks:
 *   0              success
 *   -ETIMEDOUT     deadline passed (also: the setting never read back as
 *                  written; pg_promote() returned false)
 *   -ENOTCONN      could not connect (refused, authentication, no such
 *                  database, too many clients, ...)
 *   -ECONNRESET    the connection broke during the operation
 *   -EIO           the server answered with an error (e.g. promote on a
 *                  primary: "recovery is not in progress")
 *   -EPROTO        the server's answer did not have the expected shape
 *   -ECANCELED     duet_pg_close() was called first
 *   DUET_ENOMEM    allocation failed (libpq)
 * `err` is never NULL: "" on success, otherwise one line for a person
 * (libpq's or the server's message trimmed to its first line, or
 * "timed out after N ms connecting to 127.0.0.1:5432"). It is valid during
 * the callback only.
 *
 * Every callback is called exactly once, and never from inside the call
 * that queued its operation (work starts from a zero-delay timer), so a
 * caller may queue from any state without re-entrancy.
 *
 * ---- SQL -----------------------------------------------------------------
 *
 * probe (one round trip, five statements in one simple query):
 *     WITH w AS MATERIALIZED (SELECT pg_is_in_recovery(),
 *            current_setting('synchronous_standby_names'),
 *            <replay or current LSN>)
 *     SELECT w.*, application_name, state, sync_state, lags, flush_lsn
 *            FROM w LEFT JOIN pg_stat_replication (LIMIT 8) ON true;
 *            -- ONE statement: the LSN, the rows and their lags are read
 *            -- together (the LSN once), never in two statements
 *     SELECT status FROM pg_stat_wal_receiver;
 *     SELECT reset_val, source, boot_val FROM pg_settings
 *            WHERE name = 'synchronous_commit';
 *     SELECT database, role, value FROM pg_db_role_setting ... for
 *            synchronous_commit (those that do not wait first, LIMIT 9);
 *     SELECT setting FROM pg_file_settings WHERE name = 'synchronous_commit'
 *            AND applied;  -- last: a role without the privilege to read
 *            -- it (insufficient_privilege) only sets sc_file_unreadable
 * set_sync_names (DESIGN 3: safety settings persist, so ALTER SYSTEM):
 *     ALTER SYSTEM SET synchronous_standby_names = '"N"'   (or '')
 *     SELECT pg_reload_conf()
 *     SELECT current_setting('synchronous_standby_names')  repeated every
 *            20 ms until it equals the value (the reload reaches our
 *            backend asynchronously) or the deadline passes.
 * promote:
 *     SELECT pg_promote(true, wait_seconds)
 * The connecting role must be allowed to run these (ALTER SYSTEM needs a
 * superuser or a role granted ALTER SYSTEM; pg_promote needs EXECUTE).
 *
 * ---- Threads, blocking, ownership ----------------------------------------
 *
 * Everything runs on the caller's loop thread and nothing blocks it: libpq
 * is driven through PQconnectStart/PQconnectPoll, PQsendQuery,
 * PQconsumeInput/PQisBusy and a uv_poll on PQsocket. libpq would resolve
 * a host NAME with a blocking getaddrinfo() inside PQconnectStart, so when
 * host= holds names (and no hostaddr= is given) the module resolves them
 * itself with uv_getaddrinfo (threadpool) at every connection attempt,
 * inside the operation's deadline, and passes the first address of each
 * as hostaddr= (host= is kept for TLS and messages). Socket directories
 * and numeric addresses need no lookup and go to libpq unchanged. Not
 * covered: a host name reached through PGHOST or a service file (libpq
 * reads those itself): put the host in the conninfo. At most 8 host=
 * entries when any is a name (duet_pg_new refuses more).
 * The config is copied. The module owns its handles; duet_pg_close() closes
 * them and frees the module, then calls closed(data). State pointers
 * handed to callbacks are valid during the call only. Callbacks may queue
 * new operations and may call duet_pg_close().
 */
#ifndef DUET_PG_H
#define DUET_PG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "duet/err.h"

#define DUET_PG_MAX_REPL           8
#define DUET_PG_MAX_QUEUE          16   /* operations queued or running at once */
#define DUET_PG_DEFAULT_TIMEOUT_MS 2000 /* used when timeout_ms is 0 */
#define DUET_PG_MAX_NAME_BYTES     63   /* application_name limit (NAMEDATALEN - 1) */
#define DUET_PG_MAX_PROMOTE_WAIT_S 3600

struct duet_pg_config {
	char conninfo[512];  /* libpq conninfo of the local server, e.g.
				"host=127.0.0.1 port=5432 user=postgres dbname=postgres" */
	uint32_t timeout_ms; /* deadline of each operation including connecting;
				0 = DUET_PG_DEFAULT_TIMEOUT_MS */
};

struct duet_pg_repl { /* one row of pg_stat_replication */
	char application_name[64];
	char state[16];          /* "streaming", "catchup", ... */
	char sync_state[16];     /* "sync", "async", "potential", "quorum" */
	int64_t flush_lag_bytes; /* pg_current_wal_lsn() - flush_lsn, -1 if NULL */
	int64_t replay_lag_bytes;
	uint64_t flush_lsn; /* the standby's flush position, 0 if NULL; read in the same
			       statement as duet_pg_state.lsn */
};

#define DUET_PG_MAX_SC_OVERRIDES 8

/* One pg_db_role_setting entry that sets synchronous_commit (ALTER DATABASE
 * / ALTER ROLE ... SET). "" for database: every database; "" for role:
 * every role. */
struct duet_pg_sc_override {
	char database[64];
	char role[64];
	char value[24]; /* as stored, e.g. "local", "off", "remote_apply" */
};

struct duet_pg_state {
	bool in_recovery;     /* pg_is_in_recovery() */
	char sync_names[256]; /* current_setting('synchronous_standby_names') */
	char lsn[32];         /* pg_current_wal_lsn() on a primary, pg_last_wal_replay_lsn() on a
				 standby ("" if NULL) */
	uint32_t n_repl;      /* rows of pg_stat_replication (primary only), at most
				 DUET_PG_MAX_REPL, in application_name order */
	struct duet_pg_repl repl[DUET_PG_MAX_REPL];
	char wal_receiver_status[16]; /* standby: pg_stat_wal_receiver.status, "" if none */
	/* 1, 2, ...: this module's probes in the order they ran. A probe with a
	 * higher number was sent after every lower-numbered one had ended
	 * (one connection, FIFO), so it "started after" them (DESIGN 4.6). */
	uint64_t probe_seq;
	/* synchronous_commit as it applies to other sessions (DESIGN 4.6):
	 * pg_settings' reset_val, source and boot_val in the probe's session,
	 * the applied value from pg_file_settings ("" if none) and whether that
	 * view could be read, and every pg_db_role_setting override (those that
	 * do not wait first; truncated when there are more). */
	char sc_reset_val[24];
	char sc_source[32];
	char sc_boot_val[24];
	char sc_file[24];
	bool sc_file_unreadable;
	uint32_t n_sc_overrides;
	bool sc_overrides_truncated;
	struct duet_pg_sc_override sc_overrides[DUET_PG_MAX_SC_OVERRIDES];
};

struct duet_pg_stats {
	uint64_t queued;           /* operations accepted */
	uint64_t succeeded;        /* callbacks with rc 0 */
	uint64_t failed;           /* callbacks with an error other than the two below */
	uint64_t timed_out;        /* callbacks with -ETIMEDOUT */
	uint64_t cancelled;        /* callbacks with -ECANCELED */
	uint64_t queue_full;       /* calls refused with DUET_EBUSY */
	uint64_t connects;         /* connection attempts */
	uint64_t connect_failures; /* attempts that failed (deadline included) */
	uint64_t idle_drops;       /* idle connections found dead and closed */
	uint64_t confirm_retries;  /* set_sync_names re-reads of the setting */
};

struct duet_pg;

typedef void (*duet_pg_probe_cb)(void *data, int rc, const struct duet_pg_state *st,
				 const char *err);
typedef void (*duet_pg_done_cb)(void *data, int rc, const char *err);

/*
 * Checks that `conninfo` parses as a libpq connection string (no
 * connection is made; never blocks). Returns 0, or DUET_EINVAL with libpq's
 * reason in errbuf (if errbuf is not NULL).
 */
int duet_pg_conninfo_check(const char *conninfo, char *errbuf, size_t errlen);

/*
 * Does the conninfo name a host that must be looked up (host= with a name,
 * no hostaddr=)? 0: no; 1: yes, the first such name in `name` (if not
 * NULL); DUET_EINVAL: it does not parse, or names with more than 8 host=
 * entries (the module cannot resolve those: use numeric addresses). Never
 * blocks. For check-config and duet_pg_new.
 */
int duet_pg_conninfo_hosts(const char *conninfo, char *name, size_t namelen);

/*
 * Creates the module on `loop`; connects nothing yet. Returns 0 with *out
 * set, DUET_EINVAL (conninfo not NUL-terminated within its array, does
 * not parse, or more than 8 host= entries with a name among them) or
 * DUET_ENOMEM.
 */
int duet_pg_new(uv_loop_t *loop, const struct duet_pg_config *cfg, struct duet_pg **out);

/*
 * Ends the module: every operation still queued or running gets its
 * callback with -ECANCELED (from the loop, not from inside this call), the
 * connection is closed, then every handle is closed, the module is freed
 * and closed(data) is called (closed may be NULL). Until closed() runs,
 * new operations are refused with DUET_EINVAL and a second close is a
 * no-op; from closed() on, pg is freed and must not be used.
 */
void duet_pg_close(struct duet_pg *pg, void (*closed)(void *data), void *data);

/*
 * Reads health and state in one round trip (see "SQL"). On success the
 * callback gets rc 0 and the state; otherwise st is NULL.
 * Returns 0 (the callback will be called), DUET_EBUSY (queue full),
 * DUET_EINVAL (cb NULL or module closing). No callback when it returns an
 * error.
 */
int duet_pg_probe(struct duet_pg *pg, duet_pg_probe_cb cb, void *data);

/*
 * Makes `standby_name_or_empty` the synchronous standby, persistently:
 * ALTER SYSTEM SET synchronous_standby_names = '"N"' (or '' to clear), then
 * pg_reload_conf(), then reads the setting back with new queries until it
 * equals what was written (rc 0) or the deadline passes (-ETIMEDOUT). The
 * name is double-quoted so PostgreSQL matches it exactly (case, spaces).
 * Returns 0, DUET_EINVAL (a name with a double quote or a control
 * character, longer than DUET_PG_MAX_NAME_BYTES, cb NULL, closing) or
 * DUET_EBUSY. No callback when it returns an error.
 */
int duet_pg_set_sync_names(struct duet_pg *pg, const char *standby_name_or_empty,
			   duet_pg_done_cb cb, void *data);

/*
 * SELECT pg_promote(true, wait_seconds): rc 0 only if it returned true;
 * -ETIMEDOUT if it returned false (not promoted within wait_seconds) or
 * the operation's own deadline, wait_seconds * 1000 + timeout_ms, passed;
 * -EIO with the server's message if the server refused (not a standby).
 * Returns 0, DUET_EINVAL (wait_seconds 0 or over
 * DUET_PG_MAX_PROMOTE_WAIT_S, cb NULL, closing) or DUET_EBUSY.
 */
int duet_pg_promote(struct duet_pg *pg, uint32_t wait_seconds, duet_pg_done_cb cb, void *data);

/* ---- The SYNC(X, on) proof (pure: no I/O, no clock; actions/pg_sync.c) ----
 *
 * DESIGN 4.6: X may be committed SYNC only on proof taken after the fact
 * and only while synchronous_commit makes commits wait for X. The caller
 * (daemon/ctl_sync.c) feeds every probe of the master to
 * duet_pg_sync_judge() with the same proof record; it may feed the same
 * probe twice (repeats are recognised by probe_seq).
 *
 *  1. probe P1 first shows X streaming and "sync": remembered (first_seq);
 *  2. the first probe P2 with probe_seq > P1's (so it started after P1
 *     ended) and X still sync: its master LSN becomes the target;
 *  3. P2 or any later probe, X still sync, shows X's flush_lsn >= target:
 *     proven. Every commit acknowledged before X became sync (while
 *     commits did not wait for it) has an LSN below the target.
 * X seen not streaming/sync, or synchronous_commit not waiting, at any
 * point resets the record: the proof starts again from step 1.
 */

/* "16/B374D848" -> 0x16B374D848; 0 for NULL, "" or garbage. */
uint64_t duet_pg_parse_lsn(const char *text);

/*
 * Does synchronous_commit make every commit wait for the synchronous
 * standby? Looks at the server-level value (reset_val in the probe's
 * session unless that session's value came from a database/role/client
 * override, then pg_file_settings' applied value, else boot_val) and at
 * every pg_db_role_setting override. Values that wait: on, remote_write,
 * remote_apply (and on's spellings true, yes, 1). Returns 0, or
 * DUET_EINVAL with a sentence in why naming the setting, its level and
 * what to do, e.g. "synchronous_commit = local for database app: commits
 * would not wait for node-b; set it to on, remote_write or remote_apply".
 * `standby` is only used in the message.
 */
int duet_pg_sync_commit_check(const struct duet_pg_state *st, const char *standby, char *why,
			      size_t whylen);

struct duet_pg_sync_proof {  /* zero it to start afresh */
	uint64_t first_seq;  /* probe that first saw X sync, 0: none */
	uint64_t target_seq; /* probe whose master LSN is the target, 0: none yet */
	uint64_t target_lsn;
};

enum duet_pg_sync_verdict {
	DUET_PG_SYNC_NOT_SYNC, /* X not streaming with sync_state "sync" (or no row) */
	DUET_PG_SYNC_REFUSED,  /* X is sync but synchronous_commit does not wait */
	DUET_PG_SYNC_WAIT,     /* on its way: a later probe is needed */
	DUET_PG_SYNC_PROVEN,   /* SYNC(X, on) may be committed */
};

/*
 * One step of the proof above for the standby named `standby` in `st`
 * (a probe of the primary). Updates *proof; why gets one line for status
 * (never empty). Pure and deterministic.
 */
enum duet_pg_sync_verdict duet_pg_sync_judge(struct duet_pg_sync_proof *proof,
					     const struct duet_pg_state *st, const char *standby,
					     char *why, size_t whylen);

/* Operations queued or running now. */
unsigned duet_pg_pending(const struct duet_pg *pg);

void duet_pg_get_stats(const struct duet_pg *pg, struct duet_pg_stats *out);

#endif
