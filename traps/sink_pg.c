/* SPDX-License-Identifier: MIT */
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
 * are delivered.
 *
 * A refused statement is one of two kinds (sink_pg_refused_for_good()):
 *   - about the server (connection, shutdown, privileges, a missing table,
 *     a full disk, ...): the connection ends like any failure and the
 *     batches go again after the backoff, one per statement until one
 *     succeeds (so good batches before a bad one are not held up by it);
 *   - about a record (class 22 data exception, 23 integrity, 0A000, 54000):
 *     sending it again can never succeed, so the connection stays and the
 *     statement's records go again ONE per statement (the bisection); a
 *     record refused alone is a dead letter: a row in "<table>_dead" (id,
 *     SQLSTATE, message, the record's line as bytea sent in binary, which
 *     no encoding conversion can refuse), ON CONFLICT (id) DO NOTHING.
 *     A batch is delivered once each of its records is in the table or
 *     in the dead letters, never before: the dead letter is as durable
 *     as a row. If the dead letter is refused too, that is a failure of
 *     the first kind.
 *
 * At connect the database's encoding is checked (server_encoding and
 * client_encoding as the server reports them): anything but UTF8 is
 * logged once with what to do and shown in the stats, since every record
 * with non-ASCII text would become a dead letter.
 *
 * A host NAME in the conninfo is never resolved by libpq (whose
 * getaddrinfo() blocks): sink_pg_resolve.c resolves each name in the
 * thread pool under the connect deadline, then PQconnectStartParams gets
 * hostaddr=<every address, in order> and host=<the name, repeated>, so
 * libpq only parses numbers and still verifies TLS and reads .pgpass by
 * the name.
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

enum pg_phase {
	PG_NONE,
	PG_RESOLVING, /* uv_getaddrinfo for a host name in flight */
	PG_CONNECTING,
	PG_SETUP,
	PG_IDLE,
	PG_INSERTING,
	PG_DEAD_LETTER, /* keeping a record refused for good */
};

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

	char setup_sql[2048];
	char insert_sql[512];
	char dead_sql[256];
	char dead_table[DUET_SINK_TABLE_MAX + 1];
	char *param; /* the statement's JSON array */
	size_t param_cap;

	/* the conninfo, parsed once: every option set, for PQconnectStartParams */
	const char **keywords, **values;
	PQconninfoOption *options;
	size_t n_options;
	struct sink_pg_hosts names; /* host names resolved off the loop before each connect */
	char last_hostaddr[SINK_PG_LIST_BYTES]; /* what the last connection was given */

	/* after a statement refused for good: its records one at a time, from
	 * cur at cur_off (cur_len bytes) up to bisect_last */
	bool bisect;
	struct sink_batch *cur, *bisect_last;
	size_t cur_off, cur_len;
	char err_state[6];               /* SQLSTATE of the first error */
	char err_reason[SINK_ERR_BYTES]; /* its message, for a dead letter */
	char affected[24];               /* PQcmdTuples of the last COMMAND_OK */

	char server_encoding[32], client_encoding[32];
	bool encoding_ok, encoding_warned;

	/* the INSERT in flight: batches first..last of the queue (NULL after a reset) */
	struct sink_batch *first, *last;
	size_t stmt_records;
	bool single; /* one batch per statement until one succeeds */
	int err_level;
	char err[SINK_ERR_BYTES]; /* the first error of the statement in flight */
	uint64_t statements, statement_errors, records_split;
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
	free(p->keywords);
	free(p->values);
	sink_pg_hosts_free(&p->names);
	PQconninfoFree(p->options);
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
	sink_pg_hosts_abandon(&p->names);
	p->bisect = false;
	p->cur = p->bisect_last = NULL;
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
	if (p->phase == PG_RESOLVING)
		sink_msgf(why, sizeof why, "timed out after %u ms resolving host %s", ms,
			  sink_pg_hosts_current(&p->names));
	else if (p->phase == PG_CONNECTING)
		sink_msgf(why, sizeof why, "timed out after %u ms connecting", ms);
	else if (p->phase == PG_SETUP)
		sink_msgf(why, sizeof why, "timed out after %u ms creating table %s", ms,
			  p->s->table);
	else if (p->phase == PG_INSERTING)
		sink_msgf(why, sizeof why, "timed out after %u ms inserting %zu record(s)", ms,
			  p->stmt_records);
	else if (p->phase == PG_DEAD_LETTER)
		sink_msgf(why, sizeof why, "timed out after %u ms keeping a dead letter in %s", ms,
			  p->dead_table);
	else
		return;
	fail(p, DUET_SINK_LOG_WARN, why);
}

/* ---- Statements ---------------------------------------------------------------- */

/* Sends sql with n parameters (libpq copies them into its buffer before
 * it returns) and starts its deadline. */
static void send_params(struct sink_pg *p, const char *sql, int n, const char *const *values,
			const int *lengths, const int *formats)
{
	int ok = n > 0 ? PQsendQueryParams(p->conn, sql, n, NULL, values, lengths, formats, 0)
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

/* Sends sql (with the JSON parameter if param) and starts its deadline. */
static void send_statement(struct sink_pg *p, const char *sql, const char *param)
{
	send_params(p, sql, param ? 1 : 0, &param, NULL, NULL);
}

static bool param_reserve(struct sink_pg *p, size_t need)
{
	if (need <= p->param_cap)
		return true;
	char *grown = realloc(p->param, need);
	if (!grown) {
		fail(p, DUET_SINK_LOG_ERROR, "out of memory building an INSERT");
		return false;
	}
	p->param = grown;
	p->param_cap = need;
	return true;
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
	if (!param_reserve(p, need))
		return false;
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
	if (p->phase != PG_IDLE || p->bisect || !sink_peek_unsent(s))
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
	if (st == PGRES_COMMAND_OK) {
		sink_msgf(p->affected, sizeof p->affected, "%s", PQcmdTuples((PGresult *)res));
		return;
	}
	if (p->err[0])
		return;
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
	/* class 08 (connection exception), 57P (shutdown, terminate): the
	 * server went away, the statement itself was fine */
	bool gone = (state && (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0)) ||
		    PQstatus(p->conn) == CONNECTION_BAD;
	p->err_level = gone ? DUET_SINK_LOG_WARN : DUET_SINK_LOG_ERROR;
	sink_msgf(p->err_state, sizeof p->err_state, "%s", state ? state : "");
	if (!primary)
		sink_msgf(p->err_reason, sizeof p->err_reason, "%s", PQresStatus(st));
	else
		sink_msgf(p->err_reason, sizeof p->err_reason, "%s%s%s%s", primary,
			  detail ? " (" : "", detail ? detail : "", detail ? ")" : "");
	char what[96];
	if (p->phase == PG_SETUP)
		sink_msgf(what, sizeof what, "creating table %s", p->s->table);
	else if (p->phase == PG_DEAD_LETTER)
		sink_msgf(what, sizeof what, "keeping a dead letter in %s", p->dead_table);
	else if (p->bisect && p->cur)
		sink_msgf(what, sizeof what, "INSERT of one record of batch %llu",
			  (unsigned long long)p->cur->tag);
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

/* After a statement: idle, watching the socket. false if that failed
 * (the connection is gone). */
static bool go_idle(struct sink_pg *p)
{
	p->phase = PG_IDLE;
	p->flush_pending = false;
	/* idle: keep watching, so a server that goes away is noticed */
	int rc = poll_watch(p, UV_READABLE);
	if (rc) {
		fail_uv(p, rc, "watching the socket");
		return false;
	}
	return true;
}

/* Bytes not ASCII-printable become '?': a dead letter's text columns must
 * not be refused in their turn (the record itself goes as bytea). */
static void ascii_only(char *t)
{
	for (; *t; t++)
		if ((unsigned char)*t < 0x20 || (unsigned char)*t > 0x7e)
			*t = '?';
}

/* The next record of the bisection, or its end (every batch of the refused
 * statement delivered: each record is a row or a dead letter). */
static void bisect_next(struct sink_pg *p)
{
	while (p->cur) {
		struct sink_batch *b = p->cur;
		if (p->cur_off < b->len) {
			const char *line = b->data + p->cur_off;
			const char *nl = memchr(line, '\n', b->len - p->cur_off);
			p->cur_len = nl ? (size_t)(nl - line) : b->len - p->cur_off;
			if (!param_reserve(p, p->cur_len + 3))
				return;
			size_t n = 0;
			p->param[n++] = '[';
			n += sink_pg_lines_append(p->param + n, line, p->cur_len);
			p->param[n++] = ']';
			p->param[n] = 0;
			p->stmt_records = 1;
			p->phase = PG_INSERTING;
			p->statements++;
			send_statement(p, p->insert_sql, p->param);
			return;
		}
		sink_batch_delivered(p->s, b);
		p->cur = b == p->bisect_last ? NULL : b->next;
		p->cur_off = 0;
	}
	p->bisect = false;
	p->single = false;
	p->first = p->last = NULL;
	pg_pump(p->s);
}

/* The record at cur/cur_off was refused alone, for good: keep it. */
static void send_dead_letter(struct sink_pg *p)
{
	const char *line = p->cur->data + p->cur_off;
	char id[DUET_SINK_ID_MAX];
	if (sink_pg_record_id(line, p->cur_len, id, sizeof id) != 0) /* cannot happen */
		sink_msgf(id, sizeof id, "batch-%llu-at-%zu", (unsigned long long)p->cur->tag,
			  p->cur_off);
	ascii_only(id);
	char message[SINK_ERR_BYTES];
	sink_msgf(message, sizeof message, "%s", p->err_reason);
	ascii_only(message);
	const char *values[4] = {id, p->err_state, message, line};
	int lengths[4] = {0, 0, 0, (int)p->cur_len};
	int formats[4] = {0, 0, 0, 1}; /* the record as raw bytes */
	p->phase = PG_DEAD_LETTER;
	p->statements++;
	send_params(p, p->dead_sql, 4, values, lengths, formats);
}

/* A statement was refused because of a record; the connection is fine.
 * Start the bisection, or keep the one record that was refused alone. */
static void refused_for_good(struct sink_pg *p)
{
	if (!go_idle(p))
		return;
	if (!p->bisect) {
		if (!p->first) { /* reset meanwhile: nothing left to split */
			pg_pump(p->s);
			return;
		}
		sink_log(p->s, DUET_SINK_LOG_INFO, "%s; sending its %zu record(s) one at a time",
			 p->err, p->stmt_records);
		p->records_split += p->stmt_records;
		p->bisect = true;
		p->cur = p->first;
		p->bisect_last = p->last;
		p->cur_off = 0;
		bisect_next(p);
		return;
	}
	if (!p->cur) {
		bisect_next(p);
		return;
	}
	send_dead_letter(p);
}

static void dead_letter_kept(struct sink_pg *p)
{
	if (strcmp(p->affected, "1") == 0) { /* 0: kept before (a resend) */
		p->s->stats.dead_letters++;
		char id[DUET_SINK_ID_MAX] = "?";
		if (p->cur)
			sink_pg_record_id(p->cur->data + p->cur_off, p->cur_len, id, sizeof id);
		ascii_only(id);
		sink_log(p->s, DUET_SINK_LOG_ERROR,
			 "record %s refused for good (%s %s): kept in table %s (%llu dead "
			 "letter(s)); the rest flows",
			 id, p->err_state, p->err_reason, p->dead_table,
			 (unsigned long long)p->s->stats.dead_letters);
	}
	if (p->cur)
		p->cur_off += p->cur_len + 1;
	bisect_next(p);
}

/* The session's encodings, once the setup ran (SET client_encoding). */
static void check_encoding(struct sink_pg *p)
{
	const char *server = PQparameterStatus(p->conn, "server_encoding");
	const char *client = PQparameterStatus(p->conn, "client_encoding");
	sink_msgf(p->server_encoding, sizeof p->server_encoding, "%s", server ? server : "?");
	sink_msgf(p->client_encoding, sizeof p->client_encoding, "%s", client ? client : "?");
	ascii_only(p->server_encoding);
	ascii_only(p->client_encoding);
	for (char *c = p->server_encoding; *c; c++) /* it goes into the stats' JSON */
		if (*c == '"' || *c == '\\')
			*c = '?';
	p->encoding_ok =
	    strcmp(p->server_encoding, "UTF8") == 0 && strcmp(p->client_encoding, "UTF8") == 0;
	if (p->encoding_ok) {
		p->encoding_warned = false;
		return;
	}
	if (p->encoding_warned)
		return;
	p->encoding_warned = true;
	sink_log(p->s, DUET_SINK_LOG_WARN,
		 "database encoding is %s (client %s), not UTF8: traps with non-ASCII text "
		 "will be refused and kept in table %s; create the database with ENCODING "
		 "'UTF8' (TEMPLATE template0)",
		 p->server_encoding, p->client_encoding, p->dead_table);
}

/* Every result of the statement has arrived. */
static void statement_done(struct sink_pg *p)
{
	uv_timer_stop(&p->deadline);
	if (p->err[0]) {
		if (p->phase == PG_INSERTING) {
			p->statement_errors++;
			if (p->err_level == DUET_SINK_LOG_ERROR &&
			    sink_pg_refused_for_good(p->err_state) &&
			    PQstatus(p->conn) == CONNECTION_OK && !p->doomed) {
				refused_for_good(p);
				return;
			}
			if (p->err_level == DUET_SINK_LOG_ERROR)
				p->single = true;
		}
		fail(p, p->err_level, p->err);
		return;
	}
	enum pg_phase was = p->phase;
	if (!go_idle(p))
		return;
	if (was == PG_SETUP) {
		check_encoding(p);
		sink_link_up(p->s); /* the kick that follows pumps */
		return;
	}
	if (was == PG_DEAD_LETTER) {
		dead_letter_kept(p);
		return;
	}
	if (p->bisect) {
		if (p->cur)
			p->cur_off += p->cur_len + 1;
		bisect_next(p);
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

/* Every host entry has its addresses: connect with them. */
static void connect_start(struct sink_pg *p)
{
	struct duet_trap_sink *s = p->s;
	size_t k = 0;
	for (size_t i = 0; i < p->n_options; i++) {
		const char *kw = p->options[i].keyword;
		if (!p->options[i].val || !p->options[i].val[0])
			continue;
		if (p->names.n_hosts > 0 &&
		    (strcmp(kw, "host") == 0 || strcmp(kw, "hostaddr") == 0 ||
		     strcmp(kw, "port") == 0))
			continue;
		p->keywords[k] = kw;
		p->values[k++] = p->options[i].val;
	}
	if (p->names.n_hosts > 0) {
		p->keywords[k] = "host";
		p->values[k++] = p->names.host_list;
		p->keywords[k] = "hostaddr";
		p->values[k++] = p->names.hostaddr_list;
		if (p->names.port_list[0]) {
			p->keywords[k] = "port";
			p->values[k++] = p->names.port_list;
		}
		sink_msgf(p->last_hostaddr, sizeof p->last_hostaddr, "%s", p->names.hostaddr_list);
	}
	p->keywords[k] = NULL;
	p->values[k] = NULL;
	p->conn = PQconnectStartParams(p->keywords, p->values, 0);
	if (!p->conn) {
		conn_close(p);
		sink_link_failed(s, DUET_SINK_LOG_ERROR, "out of memory starting a connection");
		return;
	}
	p->phase = PG_CONNECTING;
	PQsetNoticeReceiver(p->conn, on_notice, p);
	if (PQstatus(p->conn) == CONNECTION_BAD) {
		fail_conn(p, "cannot connect");
		return;
	}
	/* libpq: behave as if PQconnectPoll had returned PGRES_POLLING_WRITING */
	int rc = poll_watch(p, UV_WRITABLE);
	if (rc)
		fail_uv(p, rc, "watching the socket while connecting");
}

/* The host lists are ready (why NULL), or a lookup failed. */
static void on_hosts(void *data, int level, const char *why)
{
	struct sink_pg *p = data;
	if (why)
		fail(p, level, why);
	else
		connect_start(p);
}

static void pg_connect(struct duet_trap_sink *s)
{
	struct sink_pg *p = s->impl;
	p->phase = PG_RESOLVING;
	uv_update_time(s->loop);
	uv_timer_start(&p->deadline, on_deadline, s->cfg.timeout_ms, 0); /* lookups + connect */
	sink_pg_hosts_resolve(&p->names, s->loop, on_hosts, p);
}

/* Parses the conninfo once: its options and its host entries. */
static int parse_conninfo(struct sink_pg *p, char *errbuf, size_t errlen)
{
	char *why = NULL;
	p->options = PQconninfoParse(p->s->cfg.conninfo, &why);
	if (!p->options) {
		PQfreemem(why);
		return DUET_ENOMEM; /* sink_pg_describe checked it already */
	}
	const char *host = NULL, *hostaddr = NULL, *service = NULL, *ports = NULL;
	for (PQconninfoOption *o = p->options; o->keyword; o++) {
		p->n_options++;
		if (!o->val || !o->val[0])
			continue;
		if (strcmp(o->keyword, "host") == 0)
			host = o->val;
		else if (strcmp(o->keyword, "hostaddr") == 0)
			hostaddr = o->val;
		else if (strcmp(o->keyword, "port") == 0)
			ports = o->val;
		else if (strcmp(o->keyword, "service") == 0)
			service = o->val;
	}
	p->keywords = calloc(p->n_options + 4, sizeof *p->keywords);
	p->values = calloc(p->n_options + 4, sizeof *p->values);
	if (!p->keywords || !p->values)
		return DUET_ENOMEM;
	return sink_pg_hosts_init(&p->names, host, hostaddr, service, ports, errbuf, errlen);
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
	rc = parse_conninfo(p, errbuf, errlen);
	if (rc) {
		free(p->keywords);
		free(p->values);
		sink_pg_hosts_free(&p->names);
		PQconninfoFree(p->options);
		free(p);
		return rc;
	}
	sink_pg_dead_table(s->table, p->dead_table, sizeof p->dead_table);
	sink_pg_sql(s->table, p->setup_sql, sizeof p->setup_sql, p->insert_sql,
		    sizeof p->insert_sql, p->dead_sql, sizeof p->dead_sql);
	uv_timer_init(s->loop, &p->deadline);
	p->deadline.data = p;
	p->open = 1;
	s->impl = p;
	return 0;
}

static void pg_forget(struct duet_trap_sink *s)
{
	struct sink_pg *p = s->impl;
	p->first = p->last = NULL;      /* the INSERT in flight confirms nothing now */
	p->cur = p->bisect_last = NULL; /* nor does the bisection (it ends at its next step) */
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

static int pg_stats(const struct duet_trap_sink *s, json_t *doc)
{
	const struct sink_pg *p = s->impl;
	bool encoding_ok = p->encoding_ok || !p->server_encoding[0];
	json_t *own = json_pack(
	    "{s:o, s:o, s:I, s:I, s:I, s:I, s:o, s:b}", "table", sink_json_text(s->table),
	    "dead_table", sink_json_text(p->dead_table), "statements", (json_int_t)p->statements,
	    "statement_errors", (json_int_t)p->statement_errors, "dead_letters",
	    (json_int_t)s->stats.dead_letters, "records_split", (json_int_t)p->records_split,
	    "server_encoding", sink_json_text(p->server_encoding), "encoding_ok", encoding_ok);
	int rc = own ? 0 : -1;
	if (!rc && !encoding_ok)
		rc = json_object_set_new(own, "encoding_advice",
					 json_string("create the database with ENCODING 'UTF8'"));
	if (!rc)
		rc = json_object_set_new(own, "hostaddr", sink_json_text(p->last_hostaddr));
	if (rc) {
		json_decref(own);
		return DUET_ENOMEM;
	}
	return json_object_update_new(doc, own) ? DUET_ENOMEM : 0;
}

const struct sink_transport sink_pg_transport = {
    .name = "postgresql",
    .init = pg_init,
    .connect = pg_connect,
    .pump = pg_pump,
    .forget = pg_forget,
    .close = pg_close,
    .stats = pg_stats,
};
