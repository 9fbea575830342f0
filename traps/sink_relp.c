/* SPDX-License-Identifier: MIT */
/*
 * sink_relp.c - the RELP transport of the trap sinks: each record one
 * "syslog" command into rsyslog's imrelp (traps_sink.h, "RELP").
 *
 * Why not librelp: its client API (relpCltSendSyslog) blocks the calling
 * thread and never says which message the server acknowledged, and the
 * daemon's libuv loop must never block (it keeps the lease). So this is a
 * small client of its own on libuv over the pure frame codec
 * (relp_frame.c, traps_relp_frame.h), which is unit-tested and fuzzed.
 *
 * A session: connect (numeric address, nothing resolved on the loop), send
 * "open" (relp_version=0, relp_software=duet,..., commands=syslog) and
 * check that the server's "rsp 200" offers commands=syslog; then each
 * record of each batch goes as one "syslog" command with the next TXNR,
 * at most relp_window commands without their "rsp" at a time. An rsp is
 * matched to its command by TXNR (relp_txnr_find over the commands in
 * flight, so a TXNR that wrapped is still found); a batch is delivered
 * once every one of its records got "rsp 200" on this connection. Anything
 * else fails the connection: an rsp with another code, a "serverclose", a
 * frame that is not RELP or names a TXNR not in flight, a reset or EOF, no
 * rsp for timeout_ms while commands are in flight. Each is counted by its
 * kind; the common part backs off, reconnects and sends every unconfirmed
 * batch again, whole: AT LEAST ONCE. rsyslog may have written some of
 * them already (RELP has no idempotency key); every message carries the
 * record's stable id (in its structured data and in the JSON), so a
 * receiver can drop repeats, and resent records are counted.
 *
 * The message (sink_relp_text.c): RFC 5424,
 * "<134>1 - - duet - - [duet@32473 id="<id>"] " then the record's JSON
 * line exactly as the TCP sink sends it (without its LF), so %msg% in an
 * rsyslog template is that line. 32473 is the enterprise number RFC 5612
 * reserves for documentation: duet has none of its own. A message
 * longer than relp_max_message_bytes (default 8192, rsyslog's default
 * maxMessageSize, which imrelp's maxDataSize defaults to) could never be
 * taken: it is a DEAD LETTER, like a record PostgreSQL refuses for good:
 * in its place goes a short notice with the same id
 * ("<131>1 ... [duet@32473 id=... dead_letter="too_big" bytes="N"]"),
 * acknowledged like any message, so the batch completes and the rest
 * flows; counted in dead_letters and logged at ERROR once, when the batch
 * is first taken from the queue.
 *
 * One connection object per attempt (sink_stream.c, shared with the TCP
 * transport): a failing one is detached at once, closed, and reported from
 * its close callback. Frames are copied into write buffers of their own (every syslog frame of one
 * pump into one buffer, one uv_write); the connection holds each batch
 * it has sent from until the batch is delivered or the connection ends.
 * On duet_sink_close an open session sends "close" and waits at most
 * CLOSE_WAIT_MS for its rsp (or the server's hang-up).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duet/addr.h"
#include "duet/err.h"
#include "duet/traps_relp_frame.h"
#include "sink_internal.h"

#define RSP_DATA_MAX  4096 /* data of one server frame; more is not an rsp we take */
#define CLOSE_WAIT_MS 1000

/* Why a connection ended, counted apart in the stats. */
enum relp_error {
	RELP_ERR_CONNECT,     /* refused, unreachable, connect deadline */
	RELP_ERR_BROKEN,      /* reset, EOF, a failed write */
	RELP_ERR_TIMEOUT,     /* no rsp (or write progress) for timeout_ms */
	RELP_ERR_REFUSED,     /* an rsp other than 200 to a syslog command */
	RELP_ERR_OPEN,        /* the open refused, or no commands=syslog offered */
	RELP_ERR_SERVERCLOSE, /* the server said serverclose */
	RELP_ERR_MALFORMED,   /* not RELP, an unknown command, a TXNR not in flight */
	RELP_ERR_LOCAL,       /* out of memory, no socket */
	RELP_ERR_KINDS
};

static const char *const error_names[RELP_ERR_KINDS] = {
    "connect", "broken", "timeout", "refused", "open", "serverclose", "malformed", "local"};

struct sink_relp;

/* A batch sent, wholly or in part, on this connection. */
struct relp_sent {
	struct relp_sent *next;
	struct sink_batch *b; /* held */
	size_t offset;        /* of its next record to send */
	size_t sent, settled; /* records sent; answered with rsp 200 */
};

/* A syslog command in flight, at slot n % window. */
struct relp_slot {
	struct relp_sent *batch; /* NULL: answered (or free) */
};

enum conn_state { C_CONNECTING, C_OPENING, C_UP, C_CLOSING };

struct relp_conn {
	struct sink_stream_conn c; /* first: the stream part's */
	enum conn_state state;
	uint64_t next_n;   /* the next command of the session (0: the open) */
	uint64_t oldest_n; /* the oldest syslog command without its rsp (next_n: none) */
	uint64_t close_n;  /* C_CLOSING: the close command */
	struct relp_slot *slots;
	size_t awaiting; /* syslog commands without their rsp */
	struct relp_sent *sent, *sent_tail;
	size_t unconfirmed;     /* records sent on this connection, batch not delivered */
	struct relp_write *out; /* the frames of the pump in progress, not yet written */
	uint8_t in[RELP_FRAME_HEADER_MAX + RSP_DATA_MAX + 1];
	size_t in_len;
};

/* One uv_write: a single frame (open, close), or every syslog frame one
 * pump made (fewer syscalls and segments than a write per record). */
struct relp_write {
	uv_write_t req;
	size_t len, cap;
	char frame[];
};

struct sink_relp {
	struct sink_stream st; /* first: the stream part's */
	uint64_t errors[RELP_ERR_KINDS];
	uint64_t rsp_ok;                         /* syslog commands answered 200 */
	uint64_t records_resent;                 /* records sent again after a failure */
	size_t last_in_flight, last_unconfirmed; /* of the current connection, for the stats */
};

/* kind: enum relp_error, SINK_STREAM_CONNECT or _BROKEN (counted as
 * connect and broken), or SINK_STREAM_OWN_CLOSE for a close of our own. */
#define conn_fail(conn, kind, level, ...) sink_stream_fail(&(conn)->c, (kind), (level), __VA_ARGS__)

static struct sink_relp *relp_of(const struct relp_conn *conn)
{
	return (struct sink_relp *)conn->c.st;
}

static struct relp_conn *current_conn(const struct sink_relp *r)
{
	return (struct relp_conn *)r->st.conn;
}

static void on_failing(struct sink_stream_conn *c, int kind)
{
	struct sink_relp *r = relp_of((struct relp_conn *)c);
	if (kind == SINK_STREAM_CONNECT)
		kind = RELP_ERR_CONNECT;
	else if (kind == SINK_STREAM_BROKEN)
		kind = RELP_ERR_BROKEN;
	if (kind >= 0 && !r->st.closing)
		r->errors[kind]++;
	if (!r->st.conn) /* it was the current one */
		r->last_in_flight = r->last_unconfirmed = 0;
}

/* Closed: what it holds goes back (sent again from the queue). */
static void on_released(struct sink_stream_conn *c)
{
	struct relp_conn *conn = (struct relp_conn *)c;
	while (conn->sent) {
		struct relp_sent *e = conn->sent;
		conn->sent = e->next;
		sink_batch_release(c->st->s, e->b);
		free(e);
	}
	conn->sent_tail = NULL;
	free(conn->slots);
	free(conn->out);
}

static void on_timed_out(struct sink_stream_conn *c)
{
	struct relp_conn *conn = (struct relp_conn *)c;
	unsigned ms = c->st->s->cfg.timeout_ms;
	switch (conn->state) {
	case C_CONNECTING:
		conn_fail(conn, RELP_ERR_CONNECT, DUET_SINK_LOG_WARN,
			  "timed out after %u ms connecting", ms);
		break;
	case C_OPENING:
		conn_fail(conn, RELP_ERR_TIMEOUT, DUET_SINK_LOG_WARN,
			  "timed out: no rsp to the RELP open for %u ms (is this imrelp?)", ms);
		break;
	case C_UP:
		conn_fail(conn, RELP_ERR_TIMEOUT, DUET_SINK_LOG_WARN,
			  "timed out: no rsp for %u ms, %zu command(s) in flight", ms,
			  conn->awaiting);
		break;
	case C_CLOSING:
		conn_fail(conn, SINK_STREAM_OWN_CLOSE, DUET_SINK_LOG_DEBUG,
			  "closed (no rsp to close)");
		break;
	}
}

/* Commands or writes outstanding: the deadline runs from the last
 * progress; none: no deadline. */
static void rearm_deadline(struct relp_conn *conn)
{
	struct sink_stream *st = conn->c.st;
	if (conn->state != C_UP)
		return;
	if (conn->awaiting > 0 || conn->c.writes > 0)
		sink_stream_arm(st, st->s->cfg.timeout_ms);
	else
		sink_stream_disarm(st);
}

/* ---- Writing ------------------------------------------------------------------ */

static void relp_pump(struct duet_trap_sink *s);

static void on_write(uv_write_t *req, int status)
{
	struct relp_conn *conn = req->handle->data;
	free(req);
	conn->c.writes--;
	if (status == 0) {
		if (current_conn(relp_of(conn)) == conn)
			rearm_deadline(conn); /* progress */
	} else if (status != UV_ECANCELED) {
		conn_fail(conn, RELP_ERR_BROKEN, DUET_SINK_LOG_WARN, "write failed: %s",
			  uv_strerror(status));
	}
}

/* A frame of len data bytes, its header written, data to fill at
 * *data; NULL when out of memory. */
static struct relp_write *frame_new(uint32_t txnr, const char *command, size_t len, char **data)
{
	size_t head = relp_frame_header_len(txnr, command, len);
	struct relp_write *w = malloc(sizeof *w + head + len + 1);
	if (!w)
		return NULL;
	relp_frame_header(txnr, command, len, w->frame);
	*data = w->frame + head;
	w->frame[head + len] = '\n';
	w->len = w->cap = head + len + 1;
	return w;
}

/* n more bytes at the end of the pump's write (made on first use): where
 * to write them, or NULL when out of memory. */
static char *out_reserve(struct relp_conn *conn, size_t n)
{
	struct relp_write *w = conn->out;
	size_t len = w ? w->len : 0, cap = w ? w->cap : 0;
	if (len + n > cap) {
		size_t want = cap ? cap : 4096;
		while (want < len + n)
			want *= 2;
		struct relp_write *grown = realloc(w, sizeof *grown + want);
		if (!grown)
			return NULL;
		grown->len = len;
		grown->cap = want;
		conn->out = w = grown;
	}
	w->len += n;
	return w->frame + len;
}

/* Writes and owns w; false (the connection failing) if it cannot. */
static bool frame_send(struct relp_conn *conn, struct relp_write *w)
{
	uv_buf_t buf = uv_buf_init(w->frame, (unsigned)w->len);
	int rc = uv_write(&w->req, (uv_stream_t *)&conn->c.handle, &buf, 1, on_write);
	if (rc) {
		free(w);
		conn_fail(conn, RELP_ERR_BROKEN, DUET_SINK_LOG_WARN, "write failed: %s",
			  uv_strerror(rc));
		return false;
	}
	conn->c.writes++;
	return true;
}

/* A batch taken for the first time: its records too big to send are
 * counted and logged now, once each, whatever connection sends them. */
static void count_dead_letters(struct duet_trap_sink *s, const struct sink_batch *b)
{
	for (const char *p = b->data, *end = b->data + b->len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		struct sink_relp_msg m;
		sink_relp_msg_init(&m, p, len, s->cfg.relp_max_message_bytes);
		if (m.dead) {
			s->stats.dead_letters++;
			sink_log(s, DUET_SINK_LOG_ERROR,
				 "dead letter: record %.64s is %zu bytes, more than "
				 "max_message_bytes %zu; a notice with its id goes in its place",
				 m.id, len, s->cfg.relp_max_message_bytes);
		}
		p = nl ? nl + 1 : end;
	}
}

/* Adds the record line [p, p + len), as the next syslog command, to the
 * pump's write; false (the connection failing) when out of memory. */
static bool send_record(struct relp_conn *conn, struct relp_sent *e, const char *p, size_t len)
{
	struct sink_relp *r = relp_of(conn);
	struct duet_trap_sink *s = r->st.s;
	struct sink_relp_msg m; /* counted, if dead, by count_dead_letters */
	sink_relp_msg_init(&m, p, len, s->cfg.relp_max_message_bytes);
	uint32_t txnr = relp_txnr_of(conn->next_n);
	size_t data_len = m.len;
	size_t head = relp_frame_header_len(txnr, "syslog", data_len);
	char *frame = out_reserve(conn, head + data_len + 1);
	if (!frame) {
		conn_fail(conn, RELP_ERR_LOCAL, DUET_SINK_LOG_ERROR,
			  "out of memory queueing a write");
		return false;
	}
	relp_frame_header(txnr, "syslog", data_len, frame);
	char *data = frame + head;
	data[data_len] = '\n';
	sink_relp_msg_write(&m, data);
	conn->slots[conn->next_n % s->cfg.relp_window].batch = e;
	conn->next_n++;
	conn->awaiting++;
	conn->unconfirmed++;
	e->sent++;
	if (e->b->sends > 1)
		r->records_resent++;
	return true;
}

/* The batch being sent on this connection: the last one taken, if it has
 * records left, else the next one from the queue; NULL if none. */
static struct relp_sent *current(struct relp_conn *conn)
{
	struct duet_trap_sink *s = conn->c.st->s;
	struct relp_sent *e = conn->sent_tail;
	if (e && e->offset < e->b->len && !e->b->forgotten)
		return e;
	struct sink_batch *b = sink_next_unsent(s);
	if (!b)
		return NULL;
	e = calloc(1, sizeof *e);
	if (!e) {
		conn_fail(conn, RELP_ERR_LOCAL, DUET_SINK_LOG_ERROR,
			  "out of memory queueing a write");
		return NULL;
	}
	e->b = b;
	sink_batch_hold(b);
	if (b->sends == 1)
		count_dead_letters(s, b);
	if (conn->sent_tail)
		conn->sent_tail->next = e;
	else
		conn->sent = e;
	conn->sent_tail = e;
	return e;
}

static void relp_pump(struct duet_trap_sink *s)
{
	struct sink_relp *r = s->impl;
	struct relp_conn *conn = current_conn(r);
	if (!conn || conn->state != C_UP)
		return;
	bool was_idle = conn->awaiting == 0 && conn->c.writes == 0;
	while (!conn->c.failing && conn->next_n - conn->oldest_n < s->cfg.relp_window) {
		struct relp_sent *e = current(conn);
		if (!e)
			break;
		struct sink_batch *b = e->b;
		const char *p = b->data + e->offset, *end = b->data + b->len;
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		e->offset = nl ? (size_t)(nl + 1 - b->data) : b->len;
		if (!send_record(conn, e, p, len))
			return;
	}
	if (conn->c.failing)
		return;
	if (conn->out) { /* every frame of this pump in one write */
		struct relp_write *w = conn->out;
		conn->out = NULL;
		if (!frame_send(conn, w))
			return;
	}
	r->last_in_flight = conn->awaiting;
	r->last_unconfirmed = conn->unconfirmed;
	if (was_idle)
		rearm_deadline(conn);
}

/* ---- Responses ------------------------------------------------------------------- */

static void remove_sent(struct relp_conn *conn, struct relp_sent *e)
{
	struct relp_sent **pp = &conn->sent, *prev = NULL;
	while (*pp != e)
		prev = *pp, pp = &(*pp)->next;
	*pp = e->next;
	if (conn->sent_tail == e)
		conn->sent_tail = prev;
	free(e);
}

/* e got one more rsp 200: delivered once all its records did; a batch
 * forgotten by a reset is let go once nothing of it is in flight. */
static void settle(struct relp_conn *conn, struct relp_sent *e)
{
	struct duet_trap_sink *s = conn->c.st->s;
	struct sink_batch *b = e->b;
	e->settled++;
	bool all_sent = e->offset >= b->len;
	if (e->settled == b->n_records && all_sent) {
		conn->unconfirmed -= e->sent;
		sink_batch_delivered(s, b); /* before release: b may be freed there */
		sink_batch_release(s, b);
		remove_sent(conn, e);
	} else if (b->forgotten && e->settled == e->sent) {
		conn->unconfirmed -= e->sent;
		sink_batch_release(s, b);
		remove_sent(conn, e);
	}
}

static void take_open_rsp(struct relp_conn *conn, const struct relp_frame *f)
{
	struct relp_rsp rsp;
	if (f->txnr != 1 || !relp_rsp_parse(f->data, f->len, &rsp)) {
		conn_fail(conn, RELP_ERR_MALFORMED, DUET_SINK_LOG_ERROR,
			  "the server answered the RELP open with txnr %u and no rsp code",
			  f->txnr);
		return;
	}
	if (rsp.code != 200) {
		conn_fail(conn, RELP_ERR_OPEN, DUET_SINK_LOG_ERROR,
			  "the server refused the RELP open: %u %.*s", rsp.code,
			  (int)(rsp.text_len < 80 ? rsp.text_len : 80), (const char *)rsp.text);
		return;
	}
	if (!relp_offers_have(rsp.body, rsp.body_len, "commands", "syslog")) {
		conn_fail(conn, RELP_ERR_OPEN, DUET_SINK_LOG_ERROR,
			  "the server's RELP offers have no commands=syslog");
		return;
	}
	conn->state = C_UP;
	conn->oldest_n = conn->next_n; /* 1: the open is answered */
	sink_stream_disarm(conn->c.st);
	sink_link_up(conn->c.st->s);
}

static void take_rsp(struct relp_conn *conn, const struct relp_frame *f)
{
	struct sink_relp *r = relp_of(conn);
	struct duet_trap_sink *s = r->st.s;
	uint64_t n;
	struct relp_slot *slot = NULL;
	if (relp_txnr_find(f->txnr, conn->oldest_n, conn->next_n, &n))
		slot = &conn->slots[n % s->cfg.relp_window];
	if (!slot || !slot->batch) {
		conn_fail(conn, RELP_ERR_MALFORMED, DUET_SINK_LOG_ERROR,
			  "the server sent an rsp for txnr %u, which is not in flight", f->txnr);
		return;
	}
	struct relp_rsp rsp;
	if (!relp_rsp_parse(f->data, f->len, &rsp)) {
		conn_fail(conn, RELP_ERR_MALFORMED, DUET_SINK_LOG_ERROR,
			  "the server's rsp for txnr %u has no code", f->txnr);
		return;
	}
	if (rsp.code != 200) {
		conn_fail(conn, RELP_ERR_REFUSED, DUET_SINK_LOG_ERROR,
			  "the server refused txnr %u: %u %.*s", f->txnr, rsp.code,
			  (int)(rsp.text_len < 80 ? rsp.text_len : 80), (const char *)rsp.text);
		return;
	}
	struct relp_sent *e = slot->batch;
	slot->batch = NULL;
	conn->awaiting--;
	r->rsp_ok++;
	while (conn->oldest_n < conn->next_n &&
	       !conn->slots[conn->oldest_n % s->cfg.relp_window].batch)
		conn->oldest_n++;
	settle(conn, e);
	r->last_in_flight = conn->awaiting;
	r->last_unconfirmed = conn->unconfirmed;
	rearm_deadline(conn); /* progress */
}

static void take_frame(struct relp_conn *conn, const struct relp_frame *f)
{
	if (strcmp(f->command, "serverclose") == 0) {
		if (conn->state == C_CLOSING)
			conn_fail(conn, SINK_STREAM_OWN_CLOSE, DUET_SINK_LOG_DEBUG, "closed");
		else
			conn_fail(conn, RELP_ERR_SERVERCLOSE, DUET_SINK_LOG_WARN,
				  "the server closed the RELP session (serverclose)");
		return;
	}
	if (strcmp(f->command, "rsp") != 0) {
		conn_fail(conn, RELP_ERR_MALFORMED, DUET_SINK_LOG_ERROR,
			  "the server sent a '%s' command, not an rsp", f->command);
		return;
	}
	switch (conn->state) {
	case C_OPENING:
		take_open_rsp(conn, f);
		break;
	case C_UP:
		take_rsp(conn, f);
		break;
	case C_CLOSING: /* only the close's rsp matters now */
		if (f->txnr == relp_txnr_of(conn->close_n))
			conn_fail(conn, SINK_STREAM_OWN_CLOSE, DUET_SINK_LOG_DEBUG, "closed");
		break;
	case C_CONNECTING:
		break;
	}
}

static void take_bytes(struct sink_stream_conn *c, const char *p, size_t n)
{
	struct relp_conn *conn = (struct relp_conn *)c;
	while (n > 0 && !conn->c.failing) {
		size_t room = sizeof conn->in - conn->in_len;
		if (room == 0) { /* cannot happen: a frame this long is RELP_FRAME_TOO_BIG */
			conn_fail(conn, RELP_ERR_MALFORMED, DUET_SINK_LOG_ERROR,
				  "the server sent a frame longer than %zu bytes", sizeof conn->in);
			return;
		}
		size_t k = n < room ? n : room;
		memcpy(conn->in + conn->in_len, p, k);
		conn->in_len += k;
		p += k;
		n -= k;
		size_t at = 0;
		while (!conn->c.failing) {
			struct relp_frame f;
			size_t used;
			enum relp_frame_status st = relp_frame_decode(
			    conn->in + at, conn->in_len - at, RSP_DATA_MAX, &f, &used);
			if (st == RELP_FRAME_NEED_MORE)
				break;
			if (st != RELP_FRAME_OK) {
				conn_fail(conn, RELP_ERR_MALFORMED, DUET_SINK_LOG_ERROR,
					  "the server sent %s (%u bytes of data at most)",
					  relp_frame_status_text(st), RSP_DATA_MAX);
				return;
			}
			at += used;
			take_frame(conn, &f);
		}
		if (conn->c.failing)
			return;
		memmove(conn->in, conn->in + at, conn->in_len - at);
		conn->in_len -= at;
	}
	if (!c->failing && c->st->conn == c)
		relp_pump(c->st->s); /* the window may have room again */
}

/* ---- Connecting and the rest of the interface -------------------------------------- */

static void on_hung_up(struct sink_stream_conn *c)
{
	struct relp_conn *conn = (struct relp_conn *)c;
	if (conn->state == C_CLOSING)
		conn_fail(conn, SINK_STREAM_OWN_CLOSE, DUET_SINK_LOG_DEBUG, "closed");
	else
		conn_fail(conn, RELP_ERR_BROKEN, DUET_SINK_LOG_WARN,
			  "the server closed the connection");
}

static void on_connected(struct sink_stream_conn *c)
{
	struct relp_conn *conn = (struct relp_conn *)c;
	char *data;
	size_t offers_len = strlen(sink_relp_open_offers);
	struct relp_write *w = frame_new(relp_txnr_of(0), "open", offers_len, &data);
	if (!w) {
		conn_fail(conn, RELP_ERR_LOCAL, DUET_SINK_LOG_ERROR, "out of memory opening");
		return;
	}
	memcpy(data, sink_relp_open_offers, offers_len);
	if (!frame_send(conn, w))
		return;
	conn->state = C_OPENING;
	conn->next_n = 1;
	conn->oldest_n = 1;
	/* the connect deadline goes on for the open's rsp */
	sink_stream_arm(c->st, c->st->s->cfg.timeout_ms);
}

static const struct sink_stream_ops relp_stream_ops = {
    .connected = on_connected,
    .bytes = take_bytes,
    .hung_up = on_hung_up,
    .timed_out = on_timed_out,
    .failing = on_failing,
    .released = on_released,
};

static void relp_connect(struct duet_trap_sink *s)
{
	struct sink_relp *r = s->impl;
	struct relp_conn *conn = calloc(1, sizeof *conn);
	struct relp_slot *slots = calloc(s->cfg.relp_window, sizeof *slots);
	if (!conn || !slots) {
		free(conn);
		free(slots);
		r->errors[RELP_ERR_LOCAL]++;
		sink_link_failed(s, DUET_SINK_LOG_ERROR, "out of memory starting a connection");
		return;
	}
	conn->slots = slots;
	int rc = sink_stream_connect(&r->st, &conn->c);
	if (rc) {
		free(slots);
		free(conn);
		r->errors[RELP_ERR_LOCAL]++;
		char why[SINK_ERR_BYTES];
		sink_msgf(why, sizeof why, "cannot make a socket: %s", uv_strerror(rc));
		sink_link_failed(s, DUET_SINK_LOG_ERROR, why);
	}
}

static int relp_init(struct duet_trap_sink *s, char *err, size_t errlen)
{
	struct sink_relp *r = calloc(1, sizeof *r);
	if (!r)
		return DUET_ENOMEM;
	int rc = sink_stream_init(&r->st, s, &relp_stream_ops);
	if (rc)
		free(r);
	return rc;
}

static void relp_forget(struct duet_trap_sink *s)
{
	/* the connection holds what it sent; settle() lets forgotten batches go */
}

static void relp_close(struct duet_trap_sink *s)
{
	struct sink_relp *r = s->impl;
	sink_stream_close(&r->st);
	struct relp_conn *conn = current_conn(r);
	if (conn && conn->state == C_UP) {
		/* say goodbye and wait briefly for the rsp; a write that fails
		 * fails the connection (it is no longer the current one) */
		char *data;
		struct relp_write *w = frame_new(relp_txnr_of(conn->next_n), "close", 0, &data);
		if (w && frame_send(conn, w)) {
			conn->state = C_CLOSING;
			conn->close_n = conn->next_n++;
			sink_stream_arm(&r->st, CLOSE_WAIT_MS);
			return; /* its close callback closes the timer */
		}
	}
	if (current_conn(r))
		conn_fail(current_conn(r), SINK_STREAM_OWN_CLOSE, DUET_SINK_LOG_DEBUG, "closing");
}

static int relp_stats(const struct duet_trap_sink *s, json_t *doc)
{
	const struct sink_relp *r = s->impl;
	json_t *errors = json_object();
	for (int k = 0; k < RELP_ERR_KINDS && errors; k++) {
		if (json_object_set_new(errors, error_names[k],
					json_integer((json_int_t)r->errors[k]))) {
			json_decref(errors);
			errors = NULL;
		}
	}
	json_t *own =
	    errors ? json_pack("{s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "window",
			       (int)s->cfg.relp_window, "max_message_bytes",
			       (json_int_t)s->cfg.relp_max_message_bytes, "in_flight",
			       (json_int_t)r->last_in_flight, "unconfirmed_on_connection",
			       (json_int_t)r->last_unconfirmed, "rsp_ok", (json_int_t)r->rsp_ok,
			       "records_resent", (json_int_t)r->records_resent, "dead_letters",
			       (json_int_t)s->stats.dead_letters, "bytes_read_from_sink",
			       (json_int_t)r->st.bytes_read, "relp_errors", errors)
		   : NULL;
	return json_object_update_new(doc, own) ? DUET_ENOMEM : 0;
}

const struct sink_transport sink_relp_transport = {
    .name = "relp",
    .init = relp_init,
    .connect = relp_connect,
    .pump = relp_pump,
    .forget = relp_forget,
    .close = relp_close,
    .stats = relp_stats,
};
