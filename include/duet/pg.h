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
 * probe (one round trip, three statements in one simple query):
 *     SELECT pg_is_in_recovery(), current_setting('synchronous_standby_names'),
 *            <replay or current LSN>::text;
 *     SELECT application_name, state, sync_state, lag bytes ... FROM
 *            pg_stat_replication ORDER BY application_name LIMIT 8;
 *     SELECT status FROM pg_stat_wal_receiver;
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
 * PQconsumeInput/PQisBusy and a uv_poll on PQsocket. One caveat from
 * libpq: a host NAME in the conninfo is resolved with a blocking
 * getaddrinfo(); give a numeric address (host=127.0.0.1 or hostaddr=) or a
 * socket directory (host=/run/postgresql) as duetd's config does.
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
 * Creates the module on `loop`; connects nothing yet. Returns 0 with *out
 * set, DUET_EINVAL (conninfo not NUL-terminated within its array or does
 * not parse) or DUET_ENOMEM.
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

/* Operations queued or running now. */
unsigned duet_pg_pending(const struct duet_pg *pg);

void duet_pg_get_stats(const struct duet_pg *pg, struct duet_pg_stats *out);

#endif
