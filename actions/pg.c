/* SPDX-License-Identifier: MIT */
/*
 * pg.c - the local PostgreSQL over libpq, asynchronous on the loop
 * (behaviour documented in pg.h; DESIGN.md sections 3, 4 and 7).
 *
 * One connection, one FIFO of operations. Only the head of the queue talks
 * to the server; an operation is a short list of steps (one SQL string
 * each) and the connection is a small state machine:
 *
 *     NONE --PQconnectStart--> CONNECTING --PQconnectPoll OK--> IDLE
 *     IDLE --PQsendQuery--> BUSY --last PQgetResult--> IDLE
 *     any --failure or deadline--> NONE (PQfinish; the next op reconnects)
 *
 * The loop never blocks: the socket is non-blocking, a uv_poll on
 * PQsocket() says when libpq can make progress, and we only call
 * PQgetResult() when PQisBusy() says it will not wait. PQcancel() blocks,
 * so a deadline simply closes the connection.
 *
 * Why each operation has its own deadline timer (started when queued, not
 * when it reaches the head): the daemon reasons about "the answer comes
 * within timeout_ms of asking", which must hold even behind a slow
 * promote. A queued operation whose deadline passes leaves the queue
 * without touching the connection.
 *
 * libpq may replace the socket during PQconnectPoll (it tries the next
 * address, or retries without SSL). So after every PQconnectPoll the poll
 * handle is re-armed with uv_poll_start(), which first takes the old
 * registration out of epoll, and a different descriptor gets a new handle.
 * The handle is always closed before PQfinish() closes the descriptor.
 *
 * Callbacks are never made from inside the call that queued an operation:
 * work starts from a zero-delay "kick" timer, and duet_pg_close() delivers
 * its -ECANCELED callbacks from that timer too.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <libpq-fe.h>

#include "duet/pg.h"

#define SYNC_CONFIRM_RETRY_MS 20 /* set_sync_names: wait between reads of the setting */
#define ERR_BYTES             256
#define MAX_POLL_ERRORS       3 /* error events in a row libpq may ignore before we give up */
#define TARGET_BYTES          160

/* The probe: one round trip, five results. The current LSN of a standby
 * is its replay position: pg_current_wal_lsn() fails during recovery.
 * The first statement reads the LSN once (a MATERIALIZED CTE is evaluated
 * once, whatever the join plan) and every pg_stat_replication row with it:
 * the lags and flush positions are against that same LSN (DESIGN 4.6;
 * two statements each read their own). The LEFT JOIN keeps one row when
 * there is no standby. The synchronous_commit reads follow; the one from
 * pg_file_settings comes last because a role without pg_read_all_settings
 * gets an error there, which only marks it unreadable. */
#define PROBE_LSN                                                                                  \
	"(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() "                            \
	"ELSE pg_current_wal_lsn() END)"
#define SC_WAITS "lower(substr(c, 20)) IN ('on','true','yes','1','remote_write','remote_apply')"
static const char PROBE_SQL[] =
    "WITH w AS MATERIALIZED (SELECT pg_is_in_recovery() AS rec,"
    " current_setting('synchronous_standby_names') AS names, " PROBE_LSN " AS lsn)"
    " SELECT w.rec, w.names, COALESCE(w.lsn::text, ''), r.application_name, r.state,"
    " r.sync_state,"
    " COALESCE(pg_wal_lsn_diff(w.lsn, r.flush_lsn)::bigint, -1),"
    " COALESCE(pg_wal_lsn_diff(w.lsn, r.replay_lsn)::bigint, -1),"
    " COALESCE(r.flush_lsn::text, '')"
    " FROM w LEFT JOIN (SELECT * FROM pg_stat_replication ORDER BY application_name"
    " LIMIT 8) r ON true ORDER BY r.application_name;"
    "SELECT status FROM pg_stat_wal_receiver;"
    "SELECT reset_val, source, boot_val FROM pg_settings WHERE name = 'synchronous_commit';"
    "SELECT COALESCE(d.datname::text, ''), COALESCE(o.rolname::text, ''), substr(c, 20)"
    " FROM pg_db_role_setting s LEFT JOIN pg_database d ON d.oid = s.setdatabase"
    " LEFT JOIN pg_roles o ON o.oid = s.setrole, unnest(s.setconfig) c"
    " WHERE c ILIKE 'synchronous\\_commit=%'"
    " ORDER BY " SC_WAITS ", 1, 2 LIMIT 9;"
    "SELECT setting FROM pg_file_settings"
    " WHERE lower(name) = 'synchronous_commit' AND applied;";
#define PROBE_RESULTS 5
_Static_assert(DUET_PG_MAX_REPL == 8, "PROBE_SQL's LIMIT must match DUET_PG_MAX_REPL");
_Static_assert(DUET_PG_MAX_SC_OVERRIDES == 8,
	       "PROBE_SQL's LIMIT 9 is DUET_PG_MAX_SC_OVERRIDES + 1");

enum op_kind { OP_PROBE, OP_SET_SYNC, OP_PROMOTE };
enum sync_step { SYNC_ALTER, SYNC_RELOAD, SYNC_CONFIRM };
enum conn_state { CONN_NONE, CONN_RESOLVING, CONN_CONNECTING, CONN_IDLE, CONN_BUSY };

#define MAX_HOSTS 8 /* entries of a host= list duet resolves itself */

/* One uv_getaddrinfo in flight. Owned by the module until abandoned (a
 * deadline or close while it runs): then pg is NULL and the callback only
 * frees it. */
struct pg_resolve {
	uv_getaddrinfo_t req;
	struct duet_pg *pg;
};

struct pg_op {
	struct duet_pg *pg;
	uv_timer_t deadline; /* initialised once in duet_pg_new, reused */
	bool in_use;
	bool started; /* reached the head and began (connect or send) */
	enum op_kind kind;
	int step;
	uint64_t timeout_ms;
	duet_pg_probe_cb probe_cb;
	duet_pg_done_cb done_cb;
	void *data;
	char value[DUET_PG_MAX_NAME_BYTES + 3]; /* set_sync: "" or "\"name\"" */
	char seen[256];                         /* set_sync: the setting as last read */
	uint32_t wait_seconds;                  /* promote */
	bool promoted;
	unsigned n_results; /* PGresults seen for the current step */
	int rc;             /* first error seen while draining the current step */
	char err[ERR_BYTES];
	struct duet_pg_state st;
};

struct pg_poll {
	uv_poll_t handle; /* first: the close callback casts back */
	int fd;
};

struct duet_pg {
	uv_loop_t *loop;
	struct duet_pg_config cfg;
	char target[TARGET_BYTES]; /* "host:port", for messages */

	/* host names in host= are resolved here, off the loop (PQconnectStart
	 * would call a blocking getaddrinfo): hostaddr= gets the addresses */
	bool resolve;               /* some host= entry is a name */
	unsigned n_hosts;           /* entries of host= */
	char hosts[MAX_HOSTS][256]; /* "" for an entry that needs no lookup */
	char addrs[MAX_HOSTS][64];  /* resolved, or "" */
	unsigned resolve_index;     /* entry being resolved */
	struct pg_resolve *resolving;

	PGconn *conn;
	enum conn_state cstate;
	bool flush_pending;   /* PQflush() returned 1: wait for writable too */
	bool doomed;          /* the server sent FATAL while we were idle */
	unsigned poll_errors; /* error events in a row on the socket */
	struct pg_poll *poll;

	uv_timer_t kick;  /* zero-delay: start the head, or finish closing */
	uv_timer_t retry; /* set_sync: next read of the setting */
	struct pg_op ops[DUET_PG_MAX_QUEUE];
	struct pg_op *queue[DUET_PG_MAX_QUEUE]; /* FIFO; queue[0] is the head */
	unsigned n_queue;
	uint64_t probe_seq; /* the last probe sent */

	bool closing;
	unsigned open_handles;
	void (*closed)(void *data);
	void *closed_data;
	struct duet_pg_stats stats;
};

static void on_poll(uv_poll_t *h, int status, int events);
static void step_send(struct duet_pg *pg, struct pg_op *op);

/* ---- Small helpers -------------------------------------------------------- */

/* Copies src's first line (no trailing blanks) into dst. */
static void first_line(char *dst, size_t cap, const char *src)
{
	if (!src)
		src = "";
	size_t n = strcspn(src, "\r\n");
	while (n > 0 && (src[n - 1] == ' ' || src[n - 1] == '\t'))
		n--;
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = 0;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

/* snprintf for messages, where cutting a long line short is intended. */
__attribute__((format(printf, 3, 4))) static void msgf(char *dst, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(dst, cap, fmt, ap);
	va_end(ap);
}

/* libpq's current message for the connection, one line, never empty. */
static void conn_message(struct duet_pg *pg, char *dst, size_t cap)
{
	first_line(dst, cap, pg->conn ? PQerrorMessage(pg->conn) : "");
	if (!dst[0])
		msgf(dst, cap, "connection to %s failed (libpq gave no reason)", pg->target);
}

static const char *step_name(const struct pg_op *op)
{
	switch (op->kind) {
	case OP_PROBE:
		return "the probe query";
	case OP_PROMOTE:
		return "pg_promote()";
	case OP_SET_SYNC:
		break;
	}
	switch (op->step) {
	case SYNC_ALTER:
		return "ALTER SYSTEM SET synchronous_standby_names";
	case SYNC_RELOAD:
		return "pg_reload_conf()";
	default:
		return "the read of synchronous_standby_names";
	}
}

/* ---- Handles and the connection ------------------------------------------- */

static void finish_if_closed(struct duet_pg *pg)
{
	if (!pg->closing || pg->open_handles > 0)
		return;
	void (*closed)(void *) = pg->closed;
	void *data = pg->closed_data;
	free(pg);
	if (closed)
		closed(data);
}

/* Close callbacks: every handle counts in open_handles until closed. */
static void handle_closed(struct duet_pg *pg)
{
	pg->open_handles--;
	finish_if_closed(pg);
}

static void on_timer_closed(uv_handle_t *h)
{
	handle_closed(h->data);
}

static void on_op_timer_closed(uv_handle_t *h)
{
	handle_closed(((struct pg_op *)h->data)->pg);
}

static void on_poll_closed(uv_handle_t *h)
{
	struct duet_pg *pg = h->data;
	free((struct pg_poll *)h);
	handle_closed(pg);
}

static void poll_drop(struct duet_pg *pg)
{
	if (!pg->poll)
		return;
	/* uv_close stops the watcher at once (epoll DEL) so the descriptor
	 * may be closed right after. */
	uv_close((uv_handle_t *)&pg->poll->handle, on_poll_closed);
	pg->poll = NULL;
}

/* Watches PQsocket() for `events`, re-registering it in any case (see the
 * file comment). Returns 0 or a negative errno. */
static int poll_watch(struct duet_pg *pg, int events)
{
	int fd = PQsocket(pg->conn);
	if (fd < 0)
		return -EBADF;
	if (pg->poll && pg->poll->fd != fd)
		poll_drop(pg);
	if (!pg->poll) {
		struct pg_poll *p = calloc(1, sizeof *p);
		if (!p)
			return DUET_ENOMEM;
		int rc = uv_poll_init(pg->loop, &p->handle, fd);
		if (rc) {
			free(p);
			return rc;
		}
		p->fd = fd;
		p->handle.data = pg;
		pg->open_handles++;
		pg->poll = p;
	}
	return uv_poll_start(&pg->poll->handle, events, on_poll);
}

static void resolve_abandon(struct duet_pg *pg)
{
	if (!pg->resolving)
		return;
	pg->resolving->pg = NULL; /* its callback frees it */
	uv_cancel((uv_req_t *)&pg->resolving->req);
	pg->resolving = NULL;
}

static void conn_close(struct duet_pg *pg)
{
	resolve_abandon(pg);
	poll_drop(pg);
	if (pg->conn)
		PQfinish(pg->conn); /* non-blocking socket: the Terminate message is best effort */
	pg->conn = NULL;
	pg->cstate = CONN_NONE;
	pg->flush_pending = false;
	pg->doomed = false;
	pg->poll_errors = 0;
}

/* Notices arrive here; a FATAL one while idle means the backend is going
 * away (shutdown, terminate), so the connection must not be reused. */
static void on_notice(void *arg, const PGresult *res)
{
	struct duet_pg *pg = arg;
	const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	if (sev && (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0))
		pg->doomed = true;
}

/* Is the idle connection still usable? Reads what is pending, never waits. */
static bool conn_alive(struct duet_pg *pg)
{
	if (PQstatus(pg->conn) != CONNECTION_OK || pg->doomed)
		return false;
	if (!PQconsumeInput(pg->conn) || PQstatus(pg->conn) != CONNECTION_OK || pg->doomed)
		return false;
	char c;
	ssize_t n = recv(PQsocket(pg->conn), &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0)
		return false; /* the server closed its end */
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		return false;
	return true;
}

/* ---- Queue and completion ------------------------------------------------- */

static void kick(struct duet_pg *pg);

static void queue_remove(struct duet_pg *pg, struct pg_op *op)
{
	for (unsigned i = 0; i < pg->n_queue; i++) {
		if (pg->queue[i] != op)
			continue;
		memmove(&pg->queue[i], &pg->queue[i + 1], (pg->n_queue - i - 1) * sizeof op);
		pg->n_queue--;
		return;
	}
}

/* Ends `op` and calls its callback (last: the callback may queue into the
 * freed slot or close the module). */
static void complete(struct pg_op *op, int rc, const char *err)
{
	struct duet_pg *pg = op->pg;
	queue_remove(pg, op);
	uv_timer_stop(&op->deadline);
	op->in_use = false;
	if (rc == 0)
		pg->stats.succeeded++;
	else if (rc == -ETIMEDOUT)
		pg->stats.timed_out++;
	else if (rc == -ECANCELED)
		pg->stats.cancelled++;
	else
		pg->stats.failed++;
	if (pg->n_queue > 0 && !pg->closing)
		kick(pg);

	char msg[ERR_BYTES];
	copy_str(msg, sizeof msg, rc == 0 ? "" : err);
	if (op->kind == OP_PROBE) {
		struct duet_pg_state st = op->st;
		op->probe_cb(op->data, rc, rc == 0 ? &st : NULL, msg);
	} else {
		op->done_cb(op->data, rc, msg);
	}
}

/* The head failed: drop the connection (the next op reconnects), end it. */
static void head_fail(struct duet_pg *pg, int rc, const char *err)
{
	char msg[ERR_BYTES];
	copy_str(msg, sizeof msg, err); /* err may live in the PGconn */
	if (pg->cstate == CONN_CONNECTING || pg->cstate == CONN_RESOLVING)
		pg->stats.connect_failures++;
	conn_close(pg);
	uv_timer_stop(&pg->retry);
	if (pg->n_queue > 0)
		complete(pg->queue[0], rc, msg);
}

/* The connection broke or libpq refused a call: rc from its state. */
static void head_fail_conn(struct duet_pg *pg, struct pg_op *op, const char *what_failed)
{
	char line[ERR_BYTES - 64], msg[ERR_BYTES];
	conn_message(pg, line, sizeof line);
	msgf(msg, sizeof msg, "%s on %s: %s", what_failed, pg->target, line);
	head_fail(pg, PQstatus(pg->conn) == CONNECTION_BAD ? -ECONNRESET : -EIO, msg);
}

static void head_fail_uv(struct duet_pg *pg, int rc, const char *doing)
{
	char msg[ERR_BYTES];
	msgf(msg, sizeof msg, "%s on %s: %s", doing, pg->target,
	     rc == DUET_ENOMEM ? "out of memory" : uv_strerror(rc));
	head_fail(pg,
		  pg->cstate == CONN_CONNECTING || pg->cstate == CONN_RESOLVING ? -ENOTCONN
										: -ECONNRESET,
		  msg);
}

/* ---- Connecting ------------------------------------------------------------ */

/* PQconnectStart for the conninfo, with hostaddr= from the lookups when
 * duet resolved the host names itself. */
static PGconn *connect_start_libpq(struct duet_pg *pg)
{
	if (!pg->resolve)
		return PQconnectStart(pg->cfg.conninfo);
	PQconninfoOption *opts = PQconninfoParse(pg->cfg.conninfo, NULL);
	if (!opts)
		return NULL;
	const char *keys[64], *vals[64];
	unsigned n = 0;
	for (PQconninfoOption *o = opts; o->keyword && n < 62; o++) {
		if (!o->val || strcmp(o->keyword, "hostaddr") == 0)
			continue;
		keys[n] = o->keyword;
		vals[n++] = o->val;
	}
	char hostaddr[MAX_HOSTS * 65] = "";
	size_t len = 0;
	for (unsigned i = 0; i < pg->n_hosts; i++)
		len += (size_t)snprintf(hostaddr + len, sizeof hostaddr - len, "%s%s", i ? "," : "",
					pg->addrs[i]);
	keys[n] = "hostaddr";
	vals[n++] = hostaddr;
	keys[n] = NULL;
	vals[n] = NULL;
	PGconn *conn = PQconnectStartParams(keys, vals, 0);
	PQconninfoFree(opts);
	return conn;
}

static void conn_start_libpq(struct duet_pg *pg)
{
	pg->conn = connect_start_libpq(pg);
	pg->cstate = CONN_CONNECTING;
	if (!pg->conn) {
		head_fail(pg, DUET_ENOMEM, "out of memory starting a libpq connection");
		return;
	}
	PQsetNoticeReceiver(pg->conn, on_notice, pg);
	if (PQstatus(pg->conn) == CONNECTION_BAD) {
		char msg[ERR_BYTES];
		conn_message(pg, msg, sizeof msg);
		head_fail(pg, -ENOTCONN, msg);
		return;
	}
	/* libpq: act as if PQconnectPoll had last returned PGRES_POLLING_WRITING */
	int rc = poll_watch(pg, UV_WRITABLE);
	if (rc)
		head_fail_uv(pg, rc, "watching the socket while connecting");
}

static void resolve_next(struct duet_pg *pg);

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct pg_resolve *r = (struct pg_resolve *)req;
	struct duet_pg *pg = r->pg;
	free(r);
	if (!pg) { /* abandoned */
		uv_freeaddrinfo(res);
		return;
	}
	pg->resolving = NULL;
	unsigned i = pg->resolve_index;
	char *addr = pg->addrs[i];
	addr[0] = 0;
	for (struct addrinfo *a = status == 0 ? res : NULL; a && !addr[0]; a = a->ai_next) {
		if (a->ai_family == AF_INET)
			uv_ip4_name((struct sockaddr_in *)a->ai_addr, addr, sizeof pg->addrs[i]);
		else if (a->ai_family == AF_INET6)
			uv_ip6_name((struct sockaddr_in6 *)a->ai_addr, addr, sizeof pg->addrs[i]);
	}
	uv_freeaddrinfo(res);
	if (!addr[0]) {
		char msg[ERR_BYTES];
		msgf(msg, sizeof msg, "could not resolve host name \"%.100s\": %s", pg->hosts[i],
		     status ? uv_strerror(status) : "no IPv4 or IPv6 address");
		head_fail(pg, -ENOTCONN, msg);
		return;
	}
	pg->resolve_index++;
	resolve_next(pg);
}

/* Resolves the next host name of host= on the threadpool, or connects
 * when none is left. */
static void resolve_next(struct duet_pg *pg)
{
	while (pg->resolve_index < pg->n_hosts && !pg->hosts[pg->resolve_index][0])
		pg->resolve_index++;
	if (pg->resolve_index == pg->n_hosts) {
		conn_start_libpq(pg);
		return;
	}
	struct pg_resolve *r = calloc(1, sizeof *r);
	if (!r) {
		head_fail(pg, DUET_ENOMEM, "out of memory resolving the host name");
		return;
	}
	r->pg = pg;
	struct addrinfo hints;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	int rc = uv_getaddrinfo(pg->loop, &r->req, on_resolved, pg->hosts[pg->resolve_index], NULL,
				&hints);
	if (rc) {
		free(r);
		head_fail_uv(pg, rc, "resolving the host name");
		return;
	}
	pg->resolving = r;
}

static void conn_start(struct duet_pg *pg)
{
	pg->stats.connects++;
	if (!pg->resolve) {
		conn_start_libpq(pg);
		return;
	}
	pg->cstate = CONN_RESOLVING;
	pg->resolve_index = 0;
	for (unsigned i = 0; i < pg->n_hosts; i++)
		pg->addrs[i][0] = 0;
	resolve_next(pg);
}

static void connect_step(struct duet_pg *pg)
{
	int rc;
	switch (PQconnectPoll(pg->conn)) {
	case PGRES_POLLING_READING:
		rc = poll_watch(pg, UV_READABLE);
		break;
	case PGRES_POLLING_WRITING:
		rc = poll_watch(pg, UV_WRITABLE);
		break;
	case PGRES_POLLING_OK:
		if (PQsetnonblocking(pg->conn, 1) != 0) {
			head_fail_conn(pg, pg->queue[0], "making the connection non-blocking");
			return;
		}
		pg->cstate = CONN_IDLE;
		step_send(pg, pg->queue[0]);
		return;
	case PGRES_POLLING_FAILED: {
		char msg[ERR_BYTES];
		conn_message(pg, msg, sizeof msg);
		head_fail(pg, -ENOTCONN, msg);
		return;
	}
	default: /* PGRES_POLLING_ACTIVE is no longer used: call again when possible */
		rc = poll_watch(pg, UV_READABLE | UV_WRITABLE);
		break;
	}
	if (rc)
		head_fail_uv(pg, rc, "watching the socket while connecting");
}

/* ---- Steps: SQL out, results in -------------------------------------------- */

static int send_sql(struct duet_pg *pg, struct pg_op *op)
{
	switch (op->kind) {
	case OP_PROBE:
		return PQsendQuery(pg->conn, PROBE_SQL);
	case OP_PROMOTE: {
		char secs[16];
		snprintf(secs, sizeof secs, "%u", op->wait_seconds);
		const char *values[1] = {secs};
		return PQsendQueryParams(pg->conn, "SELECT pg_promote(true, $1::integer)", 1, NULL,
					 values, NULL, NULL, 0);
	}
	case OP_SET_SYNC:
		break;
	}
	if (op->step == SYNC_RELOAD)
		return PQsendQuery(pg->conn, "SELECT pg_reload_conf()");
	if (op->step == SYNC_CONFIRM)
		return PQsendQuery(pg->conn, "SELECT current_setting('synchronous_standby_names')");
	/* ALTER SYSTEM takes no parameters: the value goes in as an escaped literal */
	char *literal = PQescapeLiteral(pg->conn, op->value, strlen(op->value));
	if (!literal)
		return 0;
	char sql[256];
	snprintf(sql, sizeof sql, "ALTER SYSTEM SET synchronous_standby_names = %s", literal);
	PQfreemem(literal);
	return PQsendQuery(pg->conn, sql);
}

static void step_send(struct duet_pg *pg, struct pg_op *op)
{
	op->n_results = 0;
	op->rc = 0;
	op->err[0] = 0;
	if (op->kind == OP_PROBE)
		op->st.probe_seq = ++pg->probe_seq; /* sent only after the previous op ended */
	if (!send_sql(pg, op)) {
		head_fail_conn(pg, op, "sending the query");
		return;
	}
	pg->cstate = CONN_BUSY;
	int f = PQflush(pg->conn);
	if (f < 0) {
		head_fail_conn(pg, op, "sending the query");
		return;
	}
	pg->flush_pending = f == 1;
	int rc = poll_watch(pg, UV_READABLE | (pg->flush_pending ? UV_WRITABLE : 0));
	if (rc)
		head_fail_uv(pg, rc, "watching the socket");
}

static void op_error(struct pg_op *op, int rc, const char *fmt, const char *detail)
{
	if (op->rc)
		return; /* keep the first */
	op->rc = rc;
	msgf(op->err, sizeof op->err, fmt, detail);
}

/* Checks a result's shape: TUPLES_OK with `rows` rows (-1: any) and at
 * least `cols` columns. */
static bool shape_ok(struct pg_op *op, const PGresult *res, int rows, int cols)
{
	if (PQresultStatus(res) == PGRES_TUPLES_OK && (rows < 0 || PQntuples(res) == rows) &&
	    PQnfields(res) >= cols)
		return true;
	char what[96];
	msgf(what, sizeof what, "%s (%s, %d rows, %d columns)", step_name(op),
	     PQresStatus(PQresultStatus(res)), PQntuples(res), PQnfields(res));
	op_error(op, -EPROTO, "unexpected answer to %s", what);
	return false;
}

static void take_probe(struct pg_op *op, const PGresult *res, unsigned index)
{
	struct duet_pg_state *st = &op->st;
	if (index == 0) {
		if (!shape_ok(op, res, -1, 9))
			return;
		int n = PQntuples(res);
		if (n < 1) {
			op_error(op, -EPROTO, "unexpected answer to %s",
				 "the probe query (no row)");
			return;
		}
		st->in_recovery = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
		copy_str(st->sync_names, sizeof st->sync_names, PQgetvalue(res, 0, 1));
		copy_str(st->lsn, sizeof st->lsn, PQgetvalue(res, 0, 2));
		for (int i = 0; i < n && st->n_repl < DUET_PG_MAX_REPL; i++) {
			if (PQgetisnull(res, i, 3))
				continue; /* the LEFT JOIN's row when there is no standby */
			struct duet_pg_repl *r = &st->repl[st->n_repl++];
			copy_str(r->application_name, sizeof r->application_name,
				 PQgetvalue(res, i, 3));
			copy_str(r->state, sizeof r->state, PQgetvalue(res, i, 4));
			copy_str(r->sync_state, sizeof r->sync_state, PQgetvalue(res, i, 5));
			r->flush_lag_bytes = strtoll(PQgetvalue(res, i, 6), NULL, 10);
			r->replay_lag_bytes = strtoll(PQgetvalue(res, i, 7), NULL, 10);
			r->flush_lsn = duet_pg_parse_lsn(PQgetvalue(res, i, 8));
		}
	} else if (index == 1) {
		if (!shape_ok(op, res, -1, 1))
			return;
		if (PQntuples(res) > 0)
			copy_str(st->wal_receiver_status, sizeof st->wal_receiver_status,
				 PQgetvalue(res, 0, 0));
	} else if (index == 2) {
		if (!shape_ok(op, res, 1, 3))
			return;
		copy_str(st->sc_reset_val, sizeof st->sc_reset_val, PQgetvalue(res, 0, 0));
		copy_str(st->sc_source, sizeof st->sc_source, PQgetvalue(res, 0, 1));
		copy_str(st->sc_boot_val, sizeof st->sc_boot_val, PQgetvalue(res, 0, 2));
	} else if (index == 3) {
		if (!shape_ok(op, res, -1, 3))
			return;
		int n = PQntuples(res);
		for (int i = 0; i < n; i++) {
			if (st->n_sc_overrides == DUET_PG_MAX_SC_OVERRIDES) {
				st->sc_overrides_truncated = true;
				break;
			}
			struct duet_pg_sc_override *o = &st->sc_overrides[st->n_sc_overrides++];
			copy_str(o->database, sizeof o->database, PQgetvalue(res, i, 0));
			copy_str(o->role, sizeof o->role, PQgetvalue(res, i, 1));
			copy_str(o->value, sizeof o->value, PQgetvalue(res, i, 2));
		}
	} else if (index == 4) {
		if (!shape_ok(op, res, -1, 1))
			return;
		if (PQntuples(res) > 0)
			copy_str(st->sc_file, sizeof st->sc_file, PQgetvalue(res, 0, 0));
	}
}

static void take_result(struct duet_pg *pg, struct pg_op *op, const PGresult *res)
{
	unsigned index = op->n_results++;
	if (op->rc)
		return;
	if (PQresultStatus(res) == PGRES_FATAL_ERROR && op->kind == OP_PROBE &&
	    index == PROBE_RESULTS - 1 && PQstatus(pg->conn) == CONNECTION_OK) {
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		if (state && strcmp(state, "42501") == 0) {
			/* pg_file_settings needs pg_read_all_settings: not an error
			 * of the probe (duet_pg_sync_commit_check says what to do) */
			op->st.sc_file_unreadable = true;
			return;
		}
	}
	if (PQresultStatus(res) == PGRES_FATAL_ERROR) {
		const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY);
		const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		char line[ERR_BYTES];
		if (primary)
			msgf(line, sizeof line, "%s: %s", sev ? sev : "ERROR", primary);
		else
			first_line(line, sizeof line, PQresultErrorMessage(res));
		/* class 08 (connection exception) and 57P (shutdown, terminate):
		 * the connection is gone, not the statement refused */
		bool gone =
		    state && (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0);
		op->rc = gone || PQstatus(pg->conn) == CONNECTION_BAD ? -ECONNRESET : -EIO;
		msgf(op->err, sizeof op->err, "%s on %s: %.*s", step_name(op), pg->target,
		     (int)(sizeof op->err / 2), line);
		return;
	}
	switch (op->kind) {
	case OP_PROBE:
		take_probe(op, res, index);
		return;
	case OP_PROMOTE:
		if (shape_ok(op, res, 1, 1))
			op->promoted = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
		return;
	case OP_SET_SYNC:
		break;
	}
	if (op->step == SYNC_ALTER) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			op_error(op, -EPROTO, "unexpected answer to %s", step_name(op));
	} else if (shape_ok(op, res, 1, 1)) {
		if (op->step == SYNC_RELOAD && strcmp(PQgetvalue(res, 0, 0), "t") != 0)
			op_error(op, -EIO, "%s returned false (the postmaster was not signalled)",
				 step_name(op));
		else if (op->step == SYNC_CONFIRM)
			copy_str(op->seen, sizeof op->seen, PQgetvalue(res, 0, 0));
	}
}

static unsigned expected_results(const struct pg_op *op)
{
	return op->kind == OP_PROBE ? PROBE_RESULTS : 1;
}

static void on_retry(uv_timer_t *t);

/* Every result of the head's current step has arrived: next step or end. */
static void step_done(struct duet_pg *pg, struct pg_op *op)
{
	if (!op->rc && op->n_results != expected_results(op)) {
		char what[64];
		msgf(what, sizeof what, "%u results", op->n_results);
		op_error(op, -EPROTO, "unexpected answer to the query: %s", what);
	}
	if (op->rc) {
		head_fail(pg, op->rc, op->err);
		return;
	}
	pg->cstate = CONN_IDLE;
	pg->flush_pending = false;
	if (op->kind == OP_SET_SYNC && op->step != SYNC_CONFIRM) {
		op->step++;
		step_send(pg, op);
		return;
	}
	if (op->kind == OP_SET_SYNC && strcmp(op->seen, op->value) != 0) {
		/* the reload reaches our backend asynchronously: read again soon */
		pg->stats.confirm_retries++;
		if (poll_watch(pg, UV_READABLE))
			conn_close(pg); /* on_retry reconnects */
		uv_timer_start(&pg->retry, on_retry, SYNC_CONFIRM_RETRY_MS, 0);
		return;
	}
	if (op->kind == OP_PROMOTE && !op->promoted) {
		char msg[ERR_BYTES];
		msgf(msg, sizeof msg, "pg_promote() on %s returned false: not promoted within %u s",
		     pg->target, op->wait_seconds);
		head_fail(pg, -ETIMEDOUT, msg);
		return;
	}
	/* idle: keep watching, so a server that goes away is noticed */
	if (poll_watch(pg, UV_READABLE))
		conn_close(pg);
	complete(op, 0, "");
}

/* Starts (or resumes) the head on the current connection, or connects. */
static void op_run(struct duet_pg *pg, struct pg_op *op)
{
	if (pg->cstate == CONN_IDLE && !conn_alive(pg)) {
		pg->stats.idle_drops++;
		conn_close(pg);
	}
	if (pg->cstate == CONN_NONE)
		conn_start(pg); /* step_send follows PGRES_POLLING_OK */
	else
		step_send(pg, op);
}

static void on_retry(uv_timer_t *t)
{
	struct duet_pg *pg = t->data;
	if (pg->n_queue > 0 && !pg->closing)
		op_run(pg, pg->queue[0]);
}

static void io_step(struct duet_pg *pg, struct pg_op *op)
{
	if (!PQconsumeInput(pg->conn)) {
		head_fail_conn(pg, op, "reading the answer");
		return;
	}
	if (pg->flush_pending) {
		int f = PQflush(pg->conn);
		if (f < 0) {
			head_fail_conn(pg, op, "sending the query");
			return;
		}
		pg->flush_pending = f == 1;
	}
	while (!PQisBusy(pg->conn)) {
		PGresult *res = PQgetResult(pg->conn);
		if (!res) {
			step_done(pg, op);
			return;
		}
		take_result(pg, op, res);
		PQclear(res);
	}
	int rc = poll_watch(pg, UV_READABLE | (pg->flush_pending ? UV_WRITABLE : 0));
	if (rc)
		head_fail_uv(pg, rc, "watching the socket");
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct duet_pg *pg = h->data;
	if (pg->cstate == CONN_IDLE) {
		/* nothing asked: a notice, a FATAL before the backend exits, or EOF */
		if (status < 0 || !conn_alive(pg)) {
			pg->stats.idle_drops++;
			conn_close(pg);
		}
		return;
	}
	if (pg->n_queue == 0 || pg->cstate == CONN_NONE) {
		conn_close(pg); /* cannot happen; never leave a live watcher behind */
		return;
	}
	/* libuv reports POLLERR (a refused connect, a reset) as UV_EBADF: let
	 * libpq find the reason; give up only if it keeps asking to wait */
	if (status < 0 && ++pg->poll_errors > MAX_POLL_ERRORS) {
		head_fail_uv(pg, status, "polling the socket");
		return;
	}
	if (status == 0)
		pg->poll_errors = 0;
	if (pg->cstate == CONN_CONNECTING)
		connect_step(pg);
	else
		io_step(pg, pg->queue[0]);
}

/* ---- Deadlines, kick, close ------------------------------------------------ */

static void on_deadline(uv_timer_t *t)
{
	struct pg_op *op = t->data;
	struct duet_pg *pg = op->pg;
	char msg[ERR_BYTES];
	bool running = pg->n_queue > 0 && pg->queue[0] == op && op->started;
	if (!running) {
		unsigned ahead = 0;
		while (ahead < pg->n_queue && pg->queue[ahead] != op)
			ahead++;
		msgf(msg, sizeof msg,
		     "timed out after %llu ms waiting for its turn on %s (%u operation(s) ahead)",
		     (unsigned long long)op->timeout_ms, pg->target, ahead);
		complete(op, -ETIMEDOUT, msg);
		return;
	}
	unsigned long long ms = op->timeout_ms;
	if (uv_is_active((uv_handle_t *)&pg->retry)) /* set_sync between reads */
		msgf(msg, sizeof msg,
		     "synchronous_standby_names on %s still reads '%.64s', not '%s', "
		     "%llu ms after the call (ALTER SYSTEM and pg_reload_conf() done)",
		     pg->target, op->seen, op->value, ms);
	else if (pg->cstate == CONN_BUSY)
		msgf(msg, sizeof msg, "timed out after %llu ms waiting for %s to answer %s", ms,
		     pg->target, step_name(op));
	else if (pg->cstate == CONN_RESOLVING)
		msgf(msg, sizeof msg, "timed out after %llu ms resolving the host name \"%.100s\"",
		     ms, pg->hosts[pg->resolve_index]);
	else
		msgf(msg, sizeof msg, "timed out after %llu ms connecting to %s", ms, pg->target);
	head_fail(pg, -ETIMEDOUT, msg);
}

static void finish_close(struct duet_pg *pg)
{
	while (pg->n_queue > 0)
		complete(pg->queue[0], -ECANCELED, "cancelled: duet_pg_close() was called");
	uv_close((uv_handle_t *)&pg->kick, on_timer_closed);
	uv_close((uv_handle_t *)&pg->retry, on_timer_closed);
	for (unsigned i = 0; i < DUET_PG_MAX_QUEUE; i++)
		uv_close((uv_handle_t *)&pg->ops[i].deadline, on_op_timer_closed);
}

static void on_kick(uv_timer_t *t)
{
	struct duet_pg *pg = t->data;
	if (pg->closing) {
		finish_close(pg);
		return;
	}
	if (pg->n_queue == 0 || pg->queue[0]->started)
		return;
	struct pg_op *op = pg->queue[0];
	op->started = true;
	op_run(pg, op);
}

static void kick(struct duet_pg *pg)
{
	uv_timer_start(&pg->kick, on_kick, 0, 0);
}

/* ---- Public ------------------------------------------------------------------ */

int duet_pg_conninfo_check(const char *conninfo, char *errbuf, size_t errlen)
{
	char *why = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo ? conninfo : "", &why);
	if (opts) {
		PQconninfoFree(opts);
		return 0;
	}
	if (errbuf && errlen)
		first_line(errbuf, errlen, why ? why : "out of memory parsing the conninfo");
	PQfreemem(why);
	return DUET_EINVAL;
}

/* "host:port" from the conninfo, for messages (libpq's defaults if absent). */
static void describe_target(const char *conninfo, char *dst, size_t cap)
{
	const char *host = NULL, *hostaddr = NULL, *port = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	for (PQconninfoOption *o = opts; o && o->keyword; o++) {
		if (!o->val || !o->val[0])
			continue;
		if (strcmp(o->keyword, "host") == 0)
			host = o->val;
		else if (strcmp(o->keyword, "hostaddr") == 0)
			hostaddr = o->val;
		else if (strcmp(o->keyword, "port") == 0)
			port = o->val;
	}
	msgf(dst, cap, "%.100s:%.40s",
	     hostaddr ? hostaddr
	     : host   ? host
		      : "the default socket directory",
	     port ? port : "5432");
	PQconninfoFree(opts);
}

/* Is this host= entry something libpq connects to without a lookup: a
 * socket directory, an abstract socket, or a numeric address? */
static bool host_needs_no_lookup(const char *h)
{
	unsigned char buf[sizeof(struct in6_addr)];
	return !h[0] || h[0] == '/' || h[0] == '@' || inet_pton(AF_INET, h, buf) == 1 ||
	       inet_pton(AF_INET6, h, buf) == 1;
}

int duet_pg_conninfo_hosts(const char *conninfo, char *name, size_t namelen)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo ? conninfo : "", NULL);
	if (!opts)
		return DUET_EINVAL;
	const char *host = NULL, *hostaddr = NULL;
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (o->val && strcmp(o->keyword, "host") == 0)
			host = o->val;
		else if (o->val && strcmp(o->keyword, "hostaddr") == 0)
			hostaddr = o->val;
	}
	int rc = 0; /* no name to resolve */
	if (host && (!hostaddr || !hostaddr[0])) {
		unsigned count = 0;
		for (const char *p = host;; count++) {
			size_t n = strcspn(p, ",");
			char h[256];
			snprintf(h, sizeof h, "%.*s", (int)(n < 255 ? n : 255), p);
			if (!host_needs_no_lookup(h)) {
				if (rc == 0 && name && namelen)
					snprintf(name, namelen, "%s", h);
				rc = 1;
			}
			if (!p[n])
				break;
			p += n + 1;
		}
		if (rc && count + 1 > MAX_HOSTS)
			rc = DUET_EINVAL;
	}
	PQconninfoFree(opts);
	return rc;
}

/* Which host= entries this module must resolve itself (see pg.h). */
static int plan_resolve(struct duet_pg *pg)
{
	int rc = duet_pg_conninfo_hosts(pg->cfg.conninfo, NULL, 0);
	if (rc <= 0)
		return rc;
	PQconninfoOption *opts = PQconninfoParse(pg->cfg.conninfo, NULL);
	if (!opts)
		return DUET_EINVAL;
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (!o->val || strcmp(o->keyword, "host") != 0)
			continue;
		for (const char *p = o->val; pg->n_hosts < MAX_HOSTS; p++) {
			size_t n = strcspn(p, ",");
			char *h = pg->hosts[pg->n_hosts++];
			snprintf(h, sizeof pg->hosts[0], "%.*s", (int)(n < 255 ? n : 255), p);
			if (host_needs_no_lookup(h))
				h[0] = 0;
			p += n;
			if (!*p)
				break;
		}
	}
	PQconninfoFree(opts);
	pg->resolve = true;
	return 0;
}

int duet_pg_new(uv_loop_t *loop, const struct duet_pg_config *cfg, struct duet_pg **out)
{
	if (!loop || !cfg || !out || !memchr(cfg->conninfo, 0, sizeof cfg->conninfo))
		return DUET_EINVAL;
	if (duet_pg_conninfo_check(cfg->conninfo, NULL, 0))
		return DUET_EINVAL;
	struct duet_pg *pg = calloc(1, sizeof *pg);
	if (!pg)
		return DUET_ENOMEM;
	pg->loop = loop;
	pg->cfg = *cfg;
	if (!pg->cfg.timeout_ms)
		pg->cfg.timeout_ms = DUET_PG_DEFAULT_TIMEOUT_MS;
	describe_target(pg->cfg.conninfo, pg->target, sizeof pg->target);
	if (plan_resolve(pg) != 0) {
		free(pg);
		return DUET_EINVAL;
	}
	/* uv_timer_init cannot fail on unix */
	uv_timer_init(loop, &pg->kick);
	uv_timer_init(loop, &pg->retry);
	pg->kick.data = pg->retry.data = pg;
	for (unsigned i = 0; i < DUET_PG_MAX_QUEUE; i++) {
		pg->ops[i].pg = pg;
		uv_timer_init(loop, &pg->ops[i].deadline);
		pg->ops[i].deadline.data = &pg->ops[i];
	}
	pg->open_handles = 2 + DUET_PG_MAX_QUEUE;
	*out = pg;
	return 0;
}

void duet_pg_close(struct duet_pg *pg, void (*closed)(void *data), void *data)
{
	if (!pg || pg->closing)
		return;
	pg->closing = true;
	pg->closed = closed;
	pg->closed_data = data;
	conn_close(pg);
	uv_timer_stop(&pg->retry);
	for (unsigned i = 0; i < DUET_PG_MAX_QUEUE; i++)
		uv_timer_stop(&pg->ops[i].deadline);
	kick(pg); /* on_kick delivers the -ECANCELED callbacks, then closes */
}

/* A free slot at the tail of the queue, deadline running, or NULL. */
static struct pg_op *op_queue(struct duet_pg *pg, enum op_kind kind, uint64_t timeout_ms)
{
	if (pg->n_queue == DUET_PG_MAX_QUEUE) {
		pg->stats.queue_full++;
		return NULL;
	}
	struct pg_op *op = NULL;
	for (unsigned i = 0; i < DUET_PG_MAX_QUEUE && !op; i++)
		if (!pg->ops[i].in_use)
			op = &pg->ops[i];
	op->in_use = true;
	op->started = false;
	op->kind = kind;
	op->step = 0;
	op->timeout_ms = timeout_ms;
	op->probe_cb = NULL;
	op->done_cb = NULL;
	op->value[0] = 0;
	op->seen[0] = 0;
	op->wait_seconds = 0;
	op->promoted = false;
	op->n_results = 0;
	op->rc = 0;
	op->err[0] = 0;
	memset(&op->st, 0, sizeof op->st);
	pg->queue[pg->n_queue++] = op;
	pg->stats.queued++;
	/* the loop's cached time may be stale (a caller outside a callback,
	 * or after blocking work): the deadline counts from now */
	uv_update_time(pg->loop);
	uv_timer_start(&op->deadline, on_deadline, timeout_ms, 0);
	kick(pg);
	return op;
}

int duet_pg_probe(struct duet_pg *pg, duet_pg_probe_cb cb, void *data)
{
	if (!pg || !cb || pg->closing)
		return DUET_EINVAL;
	struct pg_op *op = op_queue(pg, OP_PROBE, pg->cfg.timeout_ms);
	if (!op)
		return DUET_EBUSY;
	op->probe_cb = cb;
	op->data = data;
	return 0;
}

int duet_pg_set_sync_names(struct duet_pg *pg, const char *standby_name_or_empty,
			   duet_pg_done_cb cb, void *data)
{
	if (!pg || !cb || pg->closing || !standby_name_or_empty)
		return DUET_EINVAL;
	const char *name = standby_name_or_empty;
	size_t len = strlen(name);
	if (len > DUET_PG_MAX_NAME_BYTES)
		return DUET_EINVAL;
	for (size_t i = 0; i < len; i++)
		if (name[i] == '"' || (unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return DUET_EINVAL;
	struct pg_op *op = op_queue(pg, OP_SET_SYNC, pg->cfg.timeout_ms);
	if (!op)
		return DUET_EBUSY;
	if (len > 0)
		snprintf(op->value, sizeof op->value, "\"%s\"", name);
	op->step = SYNC_ALTER;
	op->done_cb = cb;
	op->data = data;
	return 0;
}

int duet_pg_promote(struct duet_pg *pg, uint32_t wait_seconds, duet_pg_done_cb cb, void *data)
{
	if (!pg || !cb || pg->closing || wait_seconds == 0 ||
	    wait_seconds > DUET_PG_MAX_PROMOTE_WAIT_S)
		return DUET_EINVAL;
	struct pg_op *op = op_queue(pg, OP_PROMOTE, wait_seconds * 1000ull + pg->cfg.timeout_ms);
	if (!op)
		return DUET_EBUSY;
	op->wait_seconds = wait_seconds;
	op->done_cb = cb;
	op->data = data;
	return 0;
}

unsigned duet_pg_pending(const struct duet_pg *pg)
{
	return pg->n_queue;
}

void duet_pg_get_stats(const struct duet_pg *pg, struct duet_pg_stats *out)
{
	*out = pg->stats;
}
