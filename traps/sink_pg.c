/*
 * sink_pg.c - the PostgreSQL transport of the trap sinks: rows in a table,
 * ON CONFLICT (id) DO NOTHING, so a record sent twice is stored once
 * (traps_sink.h, "Delivery"; DESIGN.md 5).
 *
 * One connection, one statement at a time, a small state machine:
 *
 *   NONE --PQconnectStart--> CONNECTING --PQconnectPoll OK, send setup--> SETUP
 *   SETUP --COMMAND_OK: sink_link_up()--> IDLE
 *   IDLE --batches queued: send INSERT--> INSERTING --COMMAND_OK--> IDLE
 *   any --error, deadline, server gone--> NONE (PQfinish, sink_link_failed)
 *
 * The setup (client_encoding UTF8, the table made if missing; the texts
 * are in sink_pg_text.c) runs on every connection: a table dropped under
 * us comes back.
 *
 * The records of one or more batches go as ONE text parameter, a JSON
 * array of the record objects, which the statement unpacks with
 * jsonb_array_elements(): no record byte is ever part of the SQL text. An
 * autocommit INSERT that answered COMMAND_OK has committed: its batches
 * are delivered. A refused statement (the server's ERROR) ends the
 * connection like any failure and the batches go again after the backoff,
 * one per statement until one succeeds (so good batches before a bad one
 * are not held up by it).
 *
 * As in actions/pg.c: the socket is non-blocking, a uv_poll on PQsocket()
 * says when libpq can make progress, the poll is re-armed after every
 * PQconnectPoll (libpq may switch sockets), PQgetResult() is only called
 * when PQisBusy() says it will not wait, and a deadline closes the
 * connection instead of PQcancel() (which blocks). The poll handle is
 * closed before PQfinish() closes its descriptor.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libpq-fe.h>

#include "duet/err.h"
#include "sink_internal.h"

#define STMT_MAX_BYTES   (4u << 20) /* parameter bytes per INSERT (a bigger batch goes alone) */
#define STMT_MAX_RECORDS 5000
#define MAX_POLL_ERRORS  3 /* error events in a row libpq may ignore before we give up */

enum pg_phase { PG_NONE, PG_CONNECTING, PG_SETUP, PG_IDLE, PG_INSERTING };

struct pg_poll {
	uv_poll_t handle; /* first: the close callback casts back */
	int fd;
	struct sink_pg *p;
};

struct sink_pg {
	struct duet_trap_sink *s;
	PGconn *conn;
	enum pg_phase phase;
	bool flush_pending;
	bool doomed; /* the server said FATAL while we were idle */
	unsigned poll_errors;
	struct pg_poll *poll;
	uv_timer_t deadline;
	bool closing;
	unsigned open; /* deadline + poll handles not yet closed */

	char setup_sql[1024];
	char insert_sql[512];
	char *param; /* the statement's JSON array */
	size_t param_cap;

	/* the INSERT in flight: batches first..last of the queue (NULL after a reset) */
	struct sink_batch *first, *last;
	size_t stmt_records;
	bool single; /* one batch per statement until one succeeds */
	int err_level;
	char err[SINK_ERR_BYTES]; /* the first error of the statement in flight */
	uint64_t statements, statement_errors;
};

static void on_poll(uv_poll_t *h, int status, int events);
static void pg_pump(struct duet_trap_sink *s);

/* ---- Handles and the connection -------------------------------------------------- */

static void maybe_closed(struct sink_pg *p)
{
	if (!p->closing || p->open > 0)
		return;
	struct duet_trap_sink *s = p->s;
	free(p->param);
	free(p);
	sink_transport_closed(s);
}

static void on_poll_closed(uv_handle_t *h)
{
	struct pg_poll *pp = (struct pg_poll *)h;
	struct sink_pg *p = pp->p;
	free(pp);
	p->open--;
	maybe_closed(p);
}

static void poll_drop(struct sink_pg *p)
{
	if (!p->poll)
		return;
	uv_close((uv_handle_t *)&p->poll->handle, on_poll_closed); /* epoll DEL at once */
	p->poll = NULL;
}

/* Watches PQsocket() for events, re-registering in any case. 0 or an error. */
static int poll_watch(struct sink_pg *p, int events)
{
	int fd = PQsocket(p->conn);
	if (fd < 0)
		return UV_EBADF;
	if (p->poll && p->poll->fd != fd)
		poll_drop(p);
	if (!p->poll) {
		struct pg_poll *pp = calloc(1, sizeof *pp);
		if (!pp)
			return UV_ENOMEM;
		int rc = uv_poll_init(p->s->loop, &pp->handle, fd);
		if (rc) {
			free(pp);
			return rc;
		}
		pp->fd = fd;
		pp->p = p;
		pp->handle.data = p;
		p->open++;
		p->poll = pp;
	}
	return uv_poll_start(&p->poll->handle, events, on_poll);
}

static void conn_close(struct sink_pg *p)
{
	poll_drop(p);
	if (p->conn)
		PQfinish(p->conn); /* non-blocking: the Terminate message is best effort */
	p->conn = NULL;
	p->phase = PG_NONE;
	p->flush_pending = false;
	p->doomed = false;
	p->poll_errors = 0;
	p->first = p->last = NULL;
	uv_timer_stop(&p->deadline);
}

/* Ends the connection and reports it (why is copied before anything). */
static void fail(struct sink_pg *p, int level, const char *why)
{
	char reason[SINK_ERR_BYTES];
	sink_msgf(reason, sizeof reason, "%s", why);
	conn_close(p);
	sink_link_failed(p->s, level, reason);
}

/* libpq's message for the connection, first line, never empty. */
static void fail_conn(struct sink_pg *p, const char *doing)
{
	const char *m = p->conn ? PQerrorMessage(p->conn) : "";
	size_t n = strcspn(m, "\r\n");
	char why[SINK_ERR_BYTES];
	if (n == 0)
		sink_msgf(why, sizeof why, "%s failed (libpq gave no reason)", doing);
	else
		sink_msgf(why, sizeof why, "%s: %.*s", doing, (int)n, m);
	fail(p, DUET_SINK_LOG_WARN, why);
}

static void fail_uv(struct sink_pg *p, int rc, const char *doing)
{
	char why[SINK_ERR_BYTES];
	sink_msgf(why, sizeof why, "%s: %s", doing, uv_strerror(rc));
	fail(p, DUET_SINK_LOG_WARN, why);
}

static void on_notice(void *arg, const PGresult *res)
{
	struct sink_pg *p = arg;
	const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	if (sev && (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0))
		p->doomed = true;
}

/* Is the idle connection still usable? Reads what is pending, never waits. */
static bool conn_alive(struct sink_pg *p)
{
	if (PQstatus(p->conn) != CONNECTION_OK || p->doomed)
		return false;
	if (!PQconsumeInput(p->conn) || PQstatus(p->conn) != CONNECTION_OK || p->doomed)
		return false;
	char c;
	ssize_t n = recv(PQsocket(p->conn), &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0)
		return false;
	return n > 0 || errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

static void on_deadline(uv_timer_t *t)
{
	struct sink_pg *p = t->data;
	char why[SINK_ERR_BYTES];
	unsigned ms = p->s->cfg.timeout_ms;
	if (p->phase == PG_CONNECTING)
		sink_msgf(why, sizeof why, "timed out after %u ms connecting", ms);
	else if (p->phase == PG_SETUP)
		sink_msgf(why, sizeof why, "timed out after %u ms creating table %s", ms,
			  p->s->table);
	else if (p->phase == PG_INSERTING)
		sink_msgf(why, sizeof why, "timed out after %u ms inserting %zu record(s)", ms,
			  p->stmt_records);
	else
		return;
	fail(p, DUET_SINK_LOG_WARN, why);
}

/* ---- Statements ---------------------------------------------------------------- */

/* Sends sql (with the JSON parameter if param) and starts its deadline. */
static void send_statement(struct sink_pg *p, const char *sql, const char *param)
{
	int ok = param ? PQsendQueryParams(p->conn, sql, 1, NULL, &param, NULL, NULL, 0)
		       : PQsendQuery(p->conn, sql);
	if (!ok) {
		fail_conn(p, "sending a statement");
		return;
	}
	p->err[0] = 0;
	int f = PQflush(p->conn);
	if (f < 0) {
		fail_conn(p, "sending a statement");
		return;
	}
	p->flush_pending = f == 1;
	uv_timer_start(&p->deadline, on_deadline, p->s->cfg.timeout_ms, 0);
	int rc = poll_watch(p, UV_READABLE | (p->flush_pending ? UV_WRITABLE : 0));
	if (rc)
		fail_uv(p, rc, "watching the socket");
}

/* Takes the batches of the next INSERT and builds its parameter. Returns
 * false (connection failed) only when out of memory. */
static bool build_insert(struct sink_pg *p)
{
	struct duet_trap_sink *s = p->s;
	size_t need = 3, records = 0, batches = 0;
	struct sink_batch *b = sink_peek_unsent(s);
	for (; b; b = b->next) {
		if (b->n_records == 0 || b->delivered)
			continue;
		if (batches > 0 && (p->single || need + b->len > STMT_MAX_BYTES ||
				    records + b->n_records > STMT_MAX_RECORDS))
			break;
		need += b->len;
		records += b->n_records;
		batches++;
	}
	if (need > p->param_cap) {
		char *grown = realloc(p->param, need);
		if (!grown) {
			fail(p, DUET_SINK_LOG_ERROR, "out of memory building an INSERT");
			return false;
		}
		p->param = grown;
		p->param_cap = need;
	}
	size_t len = 0;
	p->param[len++] = '[';
	p->first = p->last = NULL;
	for (size_t i = 0; i < batches; i++) {
		b = sink_next_unsent(s);
		if (!p->first)
			p->first = b;
		p->last = b;
		len += sink_pg_param_append(p->param + len, b);
	}
	p->param[len - 1] = ']'; /* the last ',' */
	p->param[len] = 0;
	p->stmt_records = records;
	return true;
}

static void pg_pump(struct duet_trap_sink *s)
{
	struct sink_pg *p = s->impl;
	if (p->phase != PG_IDLE || !sink_peek_unsent(s))
		return;
	if (!build_insert(p))
		return;
	p->phase = PG_INSERTING;
	p->statements++;
	send_statement(p, p->insert_sql, p->param);
}

/* Keeps the first error of the statement in flight. */
static void take_result(struct sink_pg *p, const PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);
	if (st == PGRES_COMMAND_OK || p->err[0])
		return;
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
	/* class 08 (connection exception), 57P (shutdown, terminate): the
	 * server went away, the statement itself was fine */
	bool gone = (state && (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0)) ||
		    PQstatus(p->conn) == CONNECTION_BAD;
	p->err_level = gone ? DUET_SINK_LOG_WARN : DUET_SINK_LOG_ERROR;
	char what[64];
	if (p->phase == PG_SETUP)
		sink_msgf(what, sizeof what, "creating table %s", p->s->table);
	else if (p->first)
		sink_msgf(what, sizeof what, "INSERT of batches %llu..%llu",
			  (unsigned long long)p->first->tag, (unsigned long long)p->last->tag);
	else
		sink_msgf(what, sizeof what, "INSERT");
	if (!primary)
		sink_msgf(p->err, sizeof p->err, "%s: %s (%s)", what,
			  st == PGRES_FATAL_ERROR ? "refused" : "unexpected answer",
			  PQresStatus(st));
	else
		sink_msgf(p->err, sizeof p->err, "%s refused: %s %s%s%s%s", what,
			  state ? state : "", primary, detail ? " (" : "", detail ? detail : "",
			  detail ? ")" : "");
}

/* Every result of the statement has arrived. */
static void statement_done(struct sink_pg *p)
{
	uv_timer_stop(&p->deadline);
	if (p->err[0]) {
		if (p->phase == PG_INSERTING) {
			p->statement_errors++;
			if (p->err_level == DUET_SINK_LOG_ERROR)
				p->single = true;
		}
		fail(p, p->err_level, p->err);
		return;
	}
	enum pg_phase was = p->phase;
	p->phase = PG_IDLE;
	p->flush_pending = false;
	/* idle: keep watching, so a server that goes away is noticed */
	int rc = poll_watch(p, UV_READABLE);
	if (rc) {
		fail_uv(p, rc, "watching the socket");
		return;
	}
	if (was == PG_SETUP) {
		sink_link_up(p->s); /* the kick that follows pumps */
		return;
	}
	p->single = false;
	for (struct sink_batch *b = p->first; b; b = b->next) {
		sink_batch_delivered(p->s, b);
		if (b == p->last)
			break;
	}
	p->first = p->last = NULL;
	pg_pump(p->s);
}

static void io_step(struct sink_pg *p)
{
	if (!PQconsumeInput(p->conn)) {
		fail_conn(p, "reading the answer");
		return;
	}
	if (p->flush_pending) {
		int f = PQflush(p->conn);
		if (f < 0) {
			fail_conn(p, "sending a statement");
			return;
		}
		p->flush_pending = f == 1;
	}
	while (!PQisBusy(p->conn)) {
		PGresult *res = PQgetResult(p->conn);
		if (!res) {
			statement_done(p);
			return;
		}
		take_result(p, res);
		PQclear(res);
	}
	int rc = poll_watch(p, UV_READABLE | (p->flush_pending ? UV_WRITABLE : 0));
	if (rc)
		fail_uv(p, rc, "watching the socket");
}

/* ---- Connecting -------------------------------------------------------------------- */

static void connect_step(struct sink_pg *p)
{
	int rc;
	switch (PQconnectPoll(p->conn)) {
	case PGRES_POLLING_READING:
		rc = poll_watch(p, UV_READABLE);
		break;
	case PGRES_POLLING_WRITING:
		rc = poll_watch(p, UV_WRITABLE);
		break;
	case PGRES_POLLING_OK:
		if (PQsetnonblocking(p->conn, 1) != 0) {
			fail_conn(p, "making the connection non-blocking");
			return;
		}
		p->phase = PG_SETUP;
		send_statement(p, p->setup_sql, NULL);
		return;
	case PGRES_POLLING_FAILED:
		fail_conn(p, "cannot connect");
		return;
	default: /* PGRES_POLLING_ACTIVE is no longer used */
		rc = poll_watch(p, UV_READABLE | UV_WRITABLE);
		break;
	}
	if (rc)
		fail_uv(p, rc, "watching the socket while connecting");
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct sink_pg *p = h->data;
	if (p->phase == PG_IDLE) {
		/* nothing asked: a notice, a FATAL before the backend exits, or EOF */
		if (status < 0 || !conn_alive(p))
			fail(p, DUET_SINK_LOG_WARN, "the server closed the connection");
		return;
	}
	if (p->phase == PG_NONE) {
		poll_drop(p); /* cannot happen; never leave a live watcher behind */
		return;
	}
	/* libuv reports POLLERR as an error status: let libpq find the reason */
	if (status < 0 && ++p->poll_errors > MAX_POLL_ERRORS) {
		fail_uv(p, status, "polling the socket");
		return;
	}
	if (status == 0)
		p->poll_errors = 0;
	if (p->phase == PG_CONNECTING)
		connect_step(p);
	else
		io_step(p);
}

static void pg_connect(struct duet_trap_sink *s)
{
	struct sink_pg *p = s->impl;
	p->conn = PQconnectStart(s->cfg.conninfo);
	if (!p->conn) {
		sink_link_failed(s, DUET_SINK_LOG_ERROR, "out of memory starting a connection");
		return;
	}
	p->phase = PG_CONNECTING;
	PQsetNoticeReceiver(p->conn, on_notice, p);
	uv_update_time(s->loop);
	uv_timer_start(&p->deadline, on_deadline, s->cfg.timeout_ms, 0);
	if (PQstatus(p->conn) == CONNECTION_BAD) {
		fail_conn(p, "cannot connect");
		return;
	}
	/* libpq: behave as if PQconnectPoll had returned PGRES_POLLING_WRITING */
	int rc = poll_watch(p, UV_WRITABLE);
	if (rc)
		fail_uv(p, rc, "watching the socket while connecting");
}

/* ---- The rest of the interface -------------------------------------------------------- */

static int pg_init(struct duet_trap_sink *s, char *errbuf, size_t errlen)
{
	int rc = sink_pg_describe(s->cfg.conninfo, s->target, sizeof s->target, errbuf, errlen);
	if (rc)
		return rc;
	struct sink_pg *p = calloc(1, sizeof *p);
	if (!p)
		return DUET_ENOMEM;
	p->s = s;
	sink_pg_sql(s->table, p->setup_sql, sizeof p->setup_sql, p->insert_sql,
		    sizeof p->insert_sql);
	uv_timer_init(s->loop, &p->deadline);
	p->deadline.data = p;
	p->open = 1;
	s->impl = p;
	return 0;
}

static void pg_forget(struct duet_trap_sink *s)
{
	struct sink_pg *p = s->impl;
	p->first = p->last = NULL; /* the INSERT in flight confirms nothing now */
}

static void on_timer_closed(uv_handle_t *h)
{
	struct sink_pg *p = h->data;
	p->open--;
	maybe_closed(p);
}

static void pg_close(struct duet_trap_sink *s)
{
	struct sink_pg *p = s->impl;
	p->closing = true;
	conn_close(p);
	uv_close((uv_handle_t *)&p->deadline, on_timer_closed);
}

static int pg_stats_json(const struct duet_trap_sink *s, char *buf, size_t len)
{
	const struct sink_pg *p = s->impl;
	return snprintf(buf, len, ",\"table\":\"%s\",\"statements\":%llu,\"statement_errors\":%llu",
			s->table, (unsigned long long)p->statements,
			(unsigned long long)p->statement_errors);
}

const struct sink_transport sink_pg_transport = {
    .name = "postgresql",
    .init = pg_init,
    .connect = pg_connect,
    .pump = pg_pump,
    .forget = pg_forget,
    .close = pg_close,
    .stats_json = pg_stats_json,
};
