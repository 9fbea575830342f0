/*
 * sink_tcp.c - the TCP transport of the trap sinks: JSON lines over one
 * connection (traps_sink.h, "Delivery").
 *
 * Each batch is one uv_write() of its formatted lines, straight from the
 * batch's memory (held until the write callback, so duet_sink_reset() can
 * drop a batch in flight). At most WRITE_WINDOW_BYTES are handed to libuv
 * at once (a bigger batch goes alone): libuv's write queue is unbounded,
 * and what sits there can no longer be taken back by a reset. libuv completes writes on a stream in
 * order, and a completed write is a delivered batch: its bytes are in the kernel. The common part
 * turns deliveries into confirmations in submit order.
 *
 * One connection object per attempt, allocated and freed with its handle:
 * a failing connection is detached at once (the next attempt never shares
 * anything with it), closed, and only from its close callback, after libuv
 * has called back every write on it (done or cancelled), is the failure
 * reported. So a batch is never in flight on two connections at once.
 *
 * Deadlines, one timer: while connecting, timeout_ms to connect; while
 * connected with writes outstanding, timeout_ms without any write
 * completing (a sink that stopped reading); idle, none (TCP keepalive
 * finds a dead peer, and reading finds a closed one).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duet/addr.h"
#include "duet/err.h"
#include "sink_internal.h"

#define READ_BUFFER_BYTES  4096
#define KEEPALIVE_S        30
#define WRITE_WINDOW_BYTES (1u << 20) /* handed to libuv and not yet written */

struct sink_tcp;

struct tcp_conn {
	uv_tcp_t handle; /* handle.data = this */
	uv_connect_t connect_req;
	struct sink_tcp *t;
	bool up;      /* connected */
	bool failing; /* detached and closing */
	unsigned writes;
	size_t window; /* bytes of the writes outstanding */
	int level;
	char why[SINK_ERR_BYTES];
	char rbuf[READ_BUFFER_BYTES]; /* what the sink says is read and dropped */
};

struct tcp_write {
	uv_write_t req;
	struct sink_batch *b;
};

struct sink_tcp {
	struct duet_trap_sink *s;
	struct sockaddr_storage sa;
	struct tcp_conn *conn; /* the current attempt, NULL when none */
	uv_timer_t deadline;
	bool closing;
	unsigned open; /* deadline timer + connections not yet closed */
	uint64_t bytes_read;
};

static void maybe_closed(struct sink_tcp *t)
{
	if (!t->closing || t->open > 0)
		return;
	struct duet_trap_sink *s = t->s;
	free(t);
	sink_transport_closed(s);
}

static void on_conn_closed(uv_handle_t *h)
{
	struct tcp_conn *conn = h->data;
	struct sink_tcp *t = conn->t;
	t->open--;
	if (!t->closing)
		sink_link_failed(t->s, conn->level, conn->why);
	free(conn);
	maybe_closed(t);
}

__attribute__((format(printf, 3, 4))) static void conn_fail(struct tcp_conn *conn, int level,
							    const char *fmt, ...);
static void conn_fail(struct tcp_conn *conn, int level, const char *fmt, ...)
{
	if (conn->failing)
		return;
	struct sink_tcp *t = conn->t;
	conn->failing = true;
	conn->level = level;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(conn->why, sizeof conn->why, fmt, ap);
	va_end(ap);
	if (t->conn == conn) {
		t->conn = NULL;
		uv_timer_stop(&t->deadline);
	}
	uv_close((uv_handle_t *)&conn->handle, on_conn_closed);
}

static void on_deadline(uv_timer_t *timer)
{
	struct sink_tcp *t = timer->data;
	struct tcp_conn *conn = t->conn;
	if (!conn)
		return;
	unsigned ms = t->s->cfg.timeout_ms;
	if (!conn->up)
		conn_fail(conn, DUET_SINK_LOG_WARN, "timed out after %u ms connecting", ms);
	else
		conn_fail(conn, DUET_SINK_LOG_WARN,
			  "timed out: no write completed for %u ms (the sink is not reading)", ms);
}

/* ---- Writing ------------------------------------------------------------------ */

static void tcp_pump(struct duet_trap_sink *s);

static void on_write(uv_write_t *req, int status)
{
	struct tcp_write *w = (struct tcp_write *)req;
	struct tcp_conn *conn = req->handle->data;
	struct sink_tcp *t = conn->t;
	struct sink_batch *b = w->b;
	free(w);
	conn->writes--;
	conn->window -= b->len;
	if (status == 0)
		sink_batch_delivered(t->s, b); /* before release: b may be freed there */
	sink_batch_release(t->s, b);
	if (status == 0) {
		if (t->conn != conn)
			return;       /* failing: its close callback reports */
		if (conn->writes > 0) /* progress: the deadline starts again */
			uv_timer_start(&t->deadline, on_deadline, t->s->cfg.timeout_ms, 0);
		else
			uv_timer_stop(&t->deadline);
		tcp_pump(t->s); /* the window has room again */
	} else if (status != UV_ECANCELED) {
		conn_fail(conn, DUET_SINK_LOG_WARN, "write failed: %s", uv_strerror(status));
	}
}

static void tcp_pump(struct duet_trap_sink *s)
{
	struct sink_tcp *t = s->impl;
	struct tcp_conn *conn = t->conn;
	if (!conn || !conn->up)
		return;
	struct sink_batch *b;
	while (conn->window < WRITE_WINDOW_BYTES && (b = sink_next_unsent(s))) {
		struct tcp_write *w = malloc(sizeof *w);
		if (!w) {
			conn_fail(conn, DUET_SINK_LOG_ERROR, "out of memory queueing a write");
			return;
		}
		w->b = b;
		sink_batch_hold(b);
		uv_buf_t buf = uv_buf_init(b->data, (unsigned)b->len);
		int rc = uv_write(&w->req, (uv_stream_t *)&conn->handle, &buf, 1, on_write);
		if (rc) {
			sink_batch_release(s, b);
			free(w);
			conn_fail(conn, DUET_SINK_LOG_WARN, "write failed: %s", uv_strerror(rc));
			return;
		}
		conn->window += b->len;
		if (conn->writes++ == 0)
			uv_timer_start(&t->deadline, on_deadline, s->cfg.timeout_ms, 0);
	}
}

/* ---- Reading (only to notice a close) ------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct tcp_conn *conn = h->data;
	*buf = uv_buf_init(conn->rbuf, sizeof conn->rbuf);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct tcp_conn *conn = stream->data;
	if (nread > 0)
		conn->t->bytes_read += (uint64_t)nread;
	else if (nread == UV_EOF)
		conn_fail(conn, DUET_SINK_LOG_WARN, "the sink closed the connection");
	else if (nread < 0)
		conn_fail(conn, DUET_SINK_LOG_WARN, "connection broken: %s",
			  uv_strerror((int)nread));
}

/* ---- Connecting ------------------------------------------------------------------ */

static void on_connect(uv_connect_t *req, int status)
{
	struct tcp_conn *conn = req->data;
	if (conn->failing)
		return; /* closed under us: the close callback reports */
	if (status < 0) {
		conn_fail(conn, DUET_SINK_LOG_WARN, "cannot connect: %s", uv_strerror(status));
		return;
	}
	int rc = uv_read_start((uv_stream_t *)&conn->handle, on_alloc, on_read);
	if (rc) {
		conn_fail(conn, DUET_SINK_LOG_WARN, "cannot read: %s", uv_strerror(rc));
		return;
	}
	conn->up = true;
	uv_timer_stop(&conn->t->deadline);
	sink_link_up(conn->t->s);
}

static void tcp_connect(struct duet_trap_sink *s)
{
	struct sink_tcp *t = s->impl;
	struct tcp_conn *conn = calloc(1, sizeof *conn);
	if (!conn) {
		sink_link_failed(s, DUET_SINK_LOG_ERROR, "out of memory starting a connection");
		return;
	}
	conn->t = t;
	int rc = uv_tcp_init(s->loop, &conn->handle);
	if (rc) {
		free(conn);
		char why[SINK_ERR_BYTES];
		sink_msgf(why, sizeof why, "cannot make a socket: %s", uv_strerror(rc));
		sink_link_failed(s, DUET_SINK_LOG_ERROR, why);
		return;
	}
	conn->handle.data = conn;
	conn->connect_req.data = conn;
	t->open++;
	t->conn = conn;
	/* small batches go out at once; keepalive finds a peer that vanished */
	uv_tcp_nodelay(&conn->handle, 1);
	uv_tcp_keepalive(&conn->handle, 1, KEEPALIVE_S);
	rc = uv_tcp_connect(&conn->connect_req, &conn->handle, (const struct sockaddr *)&t->sa,
			    on_connect);
	if (rc) {
		conn_fail(conn, DUET_SINK_LOG_WARN, "cannot connect: %s", uv_strerror(rc));
		return;
	}
	uv_timer_start(&t->deadline, on_deadline, s->cfg.timeout_ms, 0);
}

/* ---- The rest of the interface ---------------------------------------------------- */

static int tcp_init(struct duet_trap_sink *s, char *err, size_t errlen)
{
	struct sink_tcp *t = calloc(1, sizeof *t);
	if (!t)
		return DUET_ENOMEM;
	if (duet_addr_parse(s->cfg.address, &t->sa)) { /* checked before: cannot happen */
		free(t);
		return DUET_EINVAL;
	}
	t->s = s;
	uv_timer_init(s->loop, &t->deadline);
	t->deadline.data = t;
	t->open = 1;
	sink_msgf(s->target, sizeof s->target, "%s", s->cfg.address);
	s->impl = t;
	return 0;
}

static void tcp_forget(struct duet_trap_sink *s)
{
	/* nothing points into the queue: writes in flight hold their batches */
}

static void on_timer_closed(uv_handle_t *h)
{
	struct sink_tcp *t = h->data;
	t->open--;
	maybe_closed(t);
}

static void tcp_close(struct duet_trap_sink *s)
{
	struct sink_tcp *t = s->impl;
	t->closing = true;
	if (t->conn)
		conn_fail(t->conn, DUET_SINK_LOG_DEBUG, "closing");
	uv_close((uv_handle_t *)&t->deadline, on_timer_closed);
}

static int tcp_stats_json(const struct duet_trap_sink *s, char *buf, size_t len)
{
	const struct sink_tcp *t = s->impl;
	return snprintf(buf, len, ",\"bytes_read_from_sink\":%llu",
			(unsigned long long)t->bytes_read);
}

const struct sink_transport sink_tcp_transport = {
    .name = "tcp",
    .init = tcp_init,
    .connect = tcp_connect,
    .pump = tcp_pump,
    .forget = tcp_forget,
    .close = tcp_close,
    .stats_json = tcp_stats_json,
};
