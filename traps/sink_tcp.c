/* SPDX-License-Identifier: MIT */
/*
 * sink_tcp.c - the TCP transport of the trap sinks: JSON lines over one
 * connection (traps_sink.h, "Delivery").
 *
 * Each batch is one uv_write() of its formatted lines, straight from the
 * batch's memory (held until the write callback, so duet_sink_reset() can
 * drop a batch in flight). At most WRITE_WINDOW_BYTES are outstanding at
 * once (a bigger batch goes alone): libuv's write queue is unbounded, and
 * what sits there can no longer be taken back by a reset.
 *
 * When a batch is delivered (DESIGN 5: the sink confirms only what the
 * receiver acknowledged): by default the receiver answers each record, or
 * the last of several, with the line {"ack":"<id>"} (traps_sink.h,
 * "Acknowledgements"). Every batch written on a connection also goes into
 * that connection's FIFO of unacknowledged batches (a second hold), in
 * write order; an ack names a record of it, and that record and every one
 * before it on the connection are acknowledged; a batch whose every record
 * is acknowledged is delivered. The window counts bytes written and not
 * yet acknowledged. A receiver's line that is not such an ack, or an id
 * that is not outstanding, is a failed connection. When the connection
 * goes, the FIFO is dropped: the common part sends every unconfirmed batch
 * again, a half-acknowledged one whole (the receiver ignores repeats by
 * id). With without_acks (a receiver that cannot acknowledge), a completed
 * write is a delivered batch as before: its bytes are in the local kernel,
 * which is at most once. The common part turns deliveries into
 * confirmations in submit order.
 *
 * One connection object per attempt, detached at once when it fails and
 * reported only from its close callback (sink_stream.c, shared with the
 * RELP transport): a batch is never in flight on two connections at once.
 *
 * Deadlines, one timer: while connecting, timeout_ms to connect; while
 * connected with writes or acknowledgements outstanding, timeout_ms without
 * any progress (a write completing or an ack advancing: a receiver that
 * stopped reading, or one that reads and never acknowledges); idle, none
 * (TCP keepalive finds a dead peer, and reading finds a closed one).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "duet/addr.h"
#include "duet/err.h"
#include "sink_internal.h"

#define WRITE_WINDOW_BYTES (1u << 20) /* written and not yet acknowledged (or written) */
#define ACK_LINE_MAX_BYTES 1024       /* a longer line from the receiver is a protocol error */

/* A batch written on this connection and not yet wholly acknowledged. */
struct tcp_unacked {
	struct tcp_unacked *next;
	struct sink_batch *b; /* held */
	size_t offset;        /* of its first record not yet acknowledged */
};

struct tcp_conn {
	struct sink_stream_conn c; /* first: the stream part's */
	size_t window; /* bytes written and not yet acknowledged (or, without acks, written) */
	struct tcp_unacked *unacked, *unacked_tail; /* in write order */
	size_t records_unacked;
	char line[ACK_LINE_MAX_BYTES]; /* the receiver's line being read */
	size_t line_len;
};

struct tcp_write {
	uv_write_t req;
	struct sink_batch *b;
};

struct sink_tcp {
	struct sink_stream st; /* first: the stream part's */
	uint64_t acks;         /* ack lines taken */
	uint64_t ack_errors;   /* connections failed for a bad or missing ack */
};

/* Every failure of a TCP connection is of one kind: the stats count acks
 * apart (ack_errors), the common part counts the rest. */
#define conn_fail(conn, level, ...) sink_stream_fail(&(conn)->c, 0, (level), __VA_ARGS__)

static struct sink_tcp *tcp_of(const struct tcp_conn *conn)
{
	return (struct sink_tcp *)conn->c.st;
}

static struct tcp_conn *current_conn(const struct sink_tcp *t)
{
	return (struct tcp_conn *)t->st.conn;
}

static void drop_unacked(struct sink_stream_conn *c)
{
	struct tcp_conn *conn = (struct tcp_conn *)c;
	while (conn->unacked) {
		struct tcp_unacked *u = conn->unacked;
		conn->unacked = u->next;
		sink_batch_release(c->st->s, u->b);
		free(u);
	}
	conn->unacked_tail = NULL;
}

static void on_timed_out(struct sink_stream_conn *c)
{
	struct tcp_conn *conn = (struct tcp_conn *)c;
	unsigned ms = c->st->s->cfg.timeout_ms;
	if (!c->up) {
		conn_fail(conn, DUET_SINK_LOG_WARN, "timed out after %u ms connecting", ms);
	} else if (c->writes > 0) {
		conn_fail(conn, DUET_SINK_LOG_WARN,
			  "timed out: no write completed for %u ms (the sink is not reading)", ms);
	} else {
		tcp_of(conn)->ack_errors++;
		conn_fail(
		    conn, DUET_SINK_LOG_WARN,
		    "timed out: no acknowledgement for %u ms, %zu record(s) unacknowledged "
		    "(does the receiver answer {\"ack\":\"<id>\"}? else set [sink] ack = none)",
		    ms, conn->records_unacked);
	}
}

/* Writes or acknowledgements outstanding: the deadline runs from the last
 * progress; none: no deadline. */
static void rearm_deadline(struct tcp_conn *conn)
{
	struct sink_stream *st = conn->c.st;
	if (conn->c.writes > 0 || conn->unacked)
		sink_stream_arm(st, st->s->cfg.timeout_ms);
	else
		sink_stream_disarm(st);
}

/* ---- Writing ------------------------------------------------------------------ */

static void tcp_pump(struct duet_trap_sink *s);

static void on_write(uv_write_t *req, int status)
{
	struct tcp_write *w = (struct tcp_write *)req;
	struct tcp_conn *conn = req->handle->data;
	struct sink_tcp *t = tcp_of(conn);
	struct duet_trap_sink *s = t->st.s;
	struct sink_batch *b = w->b;
	free(w);
	conn->c.writes--;
	bool acks = !s->cfg.without_acks;
	if (!acks)
		conn->window -= b->len;
	if (status == 0 && !acks)
		sink_batch_delivered(s, b); /* before release: b may be freed there */
	sink_batch_release(s, b);
	if (status == 0) {
		if (current_conn(t) != conn)
			return;       /* failing: its close callback reports */
		rearm_deadline(conn); /* progress: the deadline starts again */
		tcp_pump(s);          /* the window has room again */
	} else if (status != UV_ECANCELED) {
		conn_fail(conn, DUET_SINK_LOG_WARN, "write failed: %s", uv_strerror(status));
	}
}

static void tcp_pump(struct duet_trap_sink *s)
{
	struct sink_tcp *t = s->impl;
	struct tcp_conn *conn = current_conn(t);
	if (!conn || !conn->c.up)
		return;
	struct sink_batch *b;
	while (conn->window < WRITE_WINDOW_BYTES && (b = sink_next_unsent(s))) {
		struct tcp_write *w = malloc(sizeof *w);
		if (!w) {
			conn_fail(conn, DUET_SINK_LOG_ERROR, "out of memory queueing a write");
			return;
		}
		struct tcp_unacked *u = NULL;
		if (!s->cfg.without_acks && !(u = calloc(1, sizeof *u))) {
			free(w);
			conn_fail(conn, DUET_SINK_LOG_ERROR, "out of memory queueing a write");
			return;
		}
		w->b = b;
		sink_batch_hold(b);
		uv_buf_t buf = uv_buf_init(b->data, (unsigned)b->len);
		int rc = uv_write(&w->req, (uv_stream_t *)&conn->c.handle, &buf, 1, on_write);
		if (rc) {
			sink_batch_release(s, b);
			free(w);
			free(u);
			conn_fail(conn, DUET_SINK_LOG_WARN, "write failed: %s", uv_strerror(rc));
			return;
		}
		if (u) { /* before any ack can name it */
			u->b = b;
			sink_batch_hold(b);
			if (conn->unacked_tail)
				conn->unacked_tail->next = u;
			else
				conn->unacked = u;
			conn->unacked_tail = u;
			conn->records_unacked += b->n_records;
		}
		conn->window += b->len;
		if (conn->c.writes++ == 0 && !uv_is_active((uv_handle_t *)&t->st.deadline))
			sink_stream_arm(&t->st, s->cfg.timeout_ms);
	}
}

/* ---- Acknowledgements ------------------------------------------------------------- */

/* Does the record line at p (up to end) carry this id? Compared in the
 * form the line was written in: {"id":<id as a JSON string>, */
static bool record_has_id(const char *p, const char *end, const char *quoted, size_t quoted_len)
{
	static const char head[] = "{\"id\":";
	size_t need = sizeof head - 1 + quoted_len + 1;
	return (size_t)(end - p) >= need && memcmp(p, head, sizeof head - 1) == 0 &&
	       memcmp(p + sizeof head - 1, quoted, quoted_len) == 0 &&
	       p[sizeof head - 1 + quoted_len] == ',';
}

/* The receiver acknowledged id: it and every record before it on this
 * connection. Returns false if no outstanding record has that id. */
static bool take_ack(struct tcp_conn *conn, const char *id)
{
	struct duet_trap_sink *s = conn->c.st->s;
	char quoted[2 * 6 * DUET_SINK_ID_MAX + 3];
	size_t quoted_len = sink_json_string(quoted, sizeof quoted, id);
	if (quoted_len >= sizeof quoted)
		return false; /* longer than any id we sent */
	/* find it first, so that an unknown id acknowledges nothing */
	bool found = false;
	for (struct tcp_unacked *u = conn->unacked; u && !found; u = u->next) {
		const char *end = u->b->data + u->b->len;
		for (const char *p = u->b->data + u->offset; p < end && !found;) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			found = record_has_id(p, nl ? nl : end, quoted, quoted_len);
			p = nl ? nl + 1 : end;
		}
	}
	if (!found)
		return false;
	for (;;) {
		struct tcp_unacked *u = conn->unacked;
		struct sink_batch *b = u->b;
		const char *end = b->data + b->len;
		bool hit = false;
		while (b->data + u->offset < end && !hit) {
			const char *p = b->data + u->offset;
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			hit = record_has_id(p, nl ? nl : end, quoted, quoted_len);
			u->offset = nl ? (size_t)(nl + 1 - b->data) : b->len;
			conn->records_unacked--;
		}
		if (u->offset < b->len)
			return true; /* the rest of this batch is still unacknowledged */
		conn->unacked = u->next;
		if (!conn->unacked)
			conn->unacked_tail = NULL;
		free(u);
		conn->window -= b->len;
		sink_batch_delivered(s, b); /* before release: b may be freed there */
		sink_batch_release(s, b);
		if (hit)
			return true;
	}
}

/* One line from the receiver: {"ack":"<id>"}; an empty line is ignored. */
static void take_line(struct tcp_conn *conn, const char *line, size_t len)
{
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len == 0)
		return;
	json_error_t jerr;
	json_t *j = json_loadb(line, len, 0, &jerr);
	json_t *ack = json_is_object(j) ? json_object_get(j, "ack") : NULL;
	const char *id = json_is_string(ack) ? json_string_value(ack) : NULL;
	struct sink_tcp *t = tcp_of(conn);
	if (!id || strlen(id) != json_string_length(ack)) {
		t->ack_errors++;
		conn_fail(conn, DUET_SINK_LOG_ERROR,
			  "the receiver sent '%.*s', not an acknowledgement {\"ack\":\"<id>\"}",
			  (int)(len < 60 ? len : 60), line);
	} else if (!take_ack(conn, id)) {
		t->ack_errors++;
		conn_fail(conn, DUET_SINK_LOG_ERROR,
			  "the receiver acknowledged id '%.60s', which is not outstanding on this "
			  "connection",
			  id);
	} else {
		t->acks++;
		rearm_deadline(conn); /* progress */
		tcp_pump(t->st.s);    /* the window has room again */
	}
	json_decref(j);
}

static void take_bytes(struct sink_stream_conn *c, const char *p, size_t n)
{
	struct tcp_conn *conn = (struct tcp_conn *)c;
	if (c->st->s->cfg.without_acks)
		return; /* read only to notice a close */
	while (n > 0 && !conn->c.failing) {
		const char *nl = memchr(p, '\n', n);
		size_t len = nl ? (size_t)(nl - p) : n;
		if (conn->line_len + len > sizeof conn->line) {
			tcp_of(conn)->ack_errors++;
			conn_fail(conn, DUET_SINK_LOG_ERROR,
				  "the receiver sent a line longer than %u bytes, not an "
				  "acknowledgement {\"ack\":\"<id>\"}",
				  ACK_LINE_MAX_BYTES);
			return;
		}
		memcpy(conn->line + conn->line_len, p, len);
		conn->line_len += len;
		if (!nl)
			return;
		size_t line_len = conn->line_len;
		conn->line_len = 0;
		take_line(conn, conn->line, line_len);
		p += len + 1;
		n -= len + 1;
	}
}

/* ---- Connecting and the rest of the interface -------------------------------------- */

static void on_connected(struct sink_stream_conn *c)
{
	sink_stream_disarm(c->st);
	sink_link_up(c->st->s);
}

static void on_hung_up(struct sink_stream_conn *c)
{
	conn_fail((struct tcp_conn *)c, DUET_SINK_LOG_WARN, "the sink closed the connection");
}

static const struct sink_stream_ops tcp_stream_ops = {
    .connected = on_connected,
    .bytes = take_bytes,
    .hung_up = on_hung_up,
    .timed_out = on_timed_out,
    .released = drop_unacked,
};

static void tcp_connect(struct duet_trap_sink *s)
{
	struct sink_tcp *t = s->impl;
	struct tcp_conn *conn = calloc(1, sizeof *conn);
	if (!conn) {
		sink_link_failed(s, DUET_SINK_LOG_ERROR, "out of memory starting a connection");
		return;
	}
	int rc = sink_stream_connect(&t->st, &conn->c);
	if (rc) {
		free(conn);
		char why[SINK_ERR_BYTES];
		sink_msgf(why, sizeof why, "cannot make a socket: %s", uv_strerror(rc));
		sink_link_failed(s, DUET_SINK_LOG_ERROR, why);
	}
}

static int tcp_init(struct duet_trap_sink *s, char *err, size_t errlen)
{
	struct sink_tcp *t = calloc(1, sizeof *t);
	if (!t)
		return DUET_ENOMEM;
	int rc = sink_stream_init(&t->st, s, &tcp_stream_ops);
	if (rc)
		free(t);
	return rc;
}

static void tcp_forget(struct duet_trap_sink *s)
{
	/* nothing points into the queue: writes in flight hold their batches */
}

static void tcp_close(struct duet_trap_sink *s)
{
	struct sink_tcp *t = s->impl;
	sink_stream_close(&t->st);
	if (t->st.conn)
		conn_fail(current_conn(t), DUET_SINK_LOG_DEBUG, "closing");
}

static int tcp_stats(const struct duet_trap_sink *s, json_t *doc)
{
	const struct sink_tcp *t = s->impl;
	json_t *own =
	    json_pack("{s:I, s:b, s:I, s:I}", "bytes_read_from_sink", (json_int_t)t->st.bytes_read,
		      "acks", !s->cfg.without_acks, "acks_taken", (json_int_t)t->acks, "ack_errors",
		      (json_int_t)t->ack_errors);
	return json_object_update_new(doc, own) ? DUET_ENOMEM : 0;
}

const struct sink_transport sink_tcp_transport = {
    .name = "tcp",
    .init = tcp_init,
    .connect = tcp_connect,
    .pump = tcp_pump,
    .forget = tcp_forget,
    .close = tcp_close,
    .stats = tcp_stats,
};
