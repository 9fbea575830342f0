/* SPDX-License-Identifier: MIT */
/*
 * sink_stream.c - the connection lifecycle the stream transports share
 * (sink_tcp.c, sink_relp.c; sink_internal.h, "The stream transports'
 * connection").
 *
 * One connection object per attempt, allocated by the transport and freed
 * here with its handle. A failing connection is detached at once, so the
 * next attempt never shares anything with it, and closed; only from its
 * close callback, after libuv has called back every write on it (done or
 * cancelled), is the failure reported to the common part. So a batch is
 * never in flight on two connections at once.
 *
 * The deadline is one timer per sink: the transport arms it for what it
 * waits for (the connect, a write, an acknowledgement) and words the
 * failure when it runs out.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "duet/addr.h"
#include "duet/err.h"
#include "sink_internal.h"

#define KEEPALIVE_S 30

static void maybe_closed(struct sink_stream *st)
{
	if (!st->closing || st->open > 0)
		return;
	struct duet_trap_sink *s = st->s;
	free(st); /* the transport's struct, which begins with st */
	sink_transport_closed(s);
}

static void on_timer_closed(uv_handle_t *h)
{
	struct sink_stream *st = h->data;
	st->open--;
	maybe_closed(st);
}

static void close_timer(struct sink_stream *st)
{
	if (st->timer_closed)
		return;
	st->timer_closed = true;
	uv_close((uv_handle_t *)&st->deadline, on_timer_closed);
}

static void on_conn_closed(uv_handle_t *h)
{
	struct sink_stream_conn *c = h->data;
	struct sink_stream *st = c->st;
	st->open--;
	st->ops->released(c); /* no longer on any connection: sent again from the queue */
	if (!st->closing)
		sink_link_failed(st->s, c->level, c->why);
	free(c);
	/* not while another connection still says goodbye */
	if (st->closing && !st->conn)
		close_timer(st);
	maybe_closed(st);
}

void sink_stream_fail(struct sink_stream_conn *c, int kind, int level, const char *fmt, ...)
{
	if (c->failing)
		return;
	struct sink_stream *st = c->st;
	c->failing = true;
	c->level = level;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof c->why, fmt, ap);
	va_end(ap);
	if (st->conn == c) {
		st->conn = NULL;
		sink_stream_disarm(st);
	}
	if (st->ops->failing)
		st->ops->failing(c, kind);
	uv_close((uv_handle_t *)&c->handle, on_conn_closed);
}

static void on_deadline(uv_timer_t *timer)
{
	struct sink_stream *st = timer->data;
	if (st->conn)
		st->ops->timed_out(st->conn);
}

void sink_stream_arm(struct sink_stream *st, unsigned ms)
{
	if (!st->timer_closed)
		uv_timer_start(&st->deadline, on_deadline, ms, 0);
}

void sink_stream_disarm(struct sink_stream *st)
{
	if (!st->timer_closed)
		uv_timer_stop(&st->deadline);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct sink_stream_conn *c = h->data;
	(void)suggested;
	*buf = uv_buf_init(c->rbuf, sizeof c->rbuf);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct sink_stream_conn *c = stream->data;
	if (c->failing)
		return;
	if (nread > 0) {
		c->st->bytes_read += (uint64_t)nread;
		c->st->ops->bytes(c, buf->base, (size_t)nread);
	} else if (nread == UV_EOF) {
		c->st->ops->hung_up(c);
	} else if (nread < 0) {
		sink_stream_fail(c, SINK_STREAM_BROKEN, DUET_SINK_LOG_WARN, "connection broken: %s",
				 uv_strerror((int)nread));
	}
}

static void on_connect(uv_connect_t *req, int status)
{
	struct sink_stream_conn *c = req->data;
	if (c->failing)
		return; /* closed under us: the close callback reports */
	if (status < 0) {
		sink_stream_fail(c, SINK_STREAM_CONNECT, DUET_SINK_LOG_WARN, "cannot connect: %s",
				 uv_strerror(status));
		return;
	}
	int rc = uv_read_start((uv_stream_t *)&c->handle, on_alloc, on_read);
	if (rc) {
		sink_stream_fail(c, SINK_STREAM_BROKEN, DUET_SINK_LOG_WARN, "cannot read: %s",
				 uv_strerror(rc));
		return;
	}
	c->up = true;
	c->st->ops->connected(c);
}

int sink_stream_connect(struct sink_stream *st, struct sink_stream_conn *c)
{
	int rc = uv_tcp_init(st->s->loop, &c->handle);
	if (rc)
		return rc;
	c->st = st;
	c->handle.data = c;
	c->connect_req.data = c;
	st->open++;
	st->conn = c;
	/* small batches go out at once; keepalive finds a peer that vanished */
	uv_tcp_nodelay(&c->handle, 1);
	uv_tcp_keepalive(&c->handle, 1, KEEPALIVE_S);
	rc = uv_tcp_connect(&c->connect_req, &c->handle, (const struct sockaddr *)&st->sa,
			    on_connect);
	if (rc) {
		sink_stream_fail(c, SINK_STREAM_CONNECT, DUET_SINK_LOG_WARN, "cannot connect: %s",
				 uv_strerror(rc));
		return 0;
	}
	sink_stream_arm(st, st->s->cfg.timeout_ms);
	return 0;
}

int sink_stream_init(struct sink_stream *st, struct duet_trap_sink *s,
		     const struct sink_stream_ops *ops)
{
	if (duet_addr_parse(s->cfg.address, &st->sa)) /* checked before: cannot happen */
		return DUET_EINVAL;
	st->s = s;
	st->ops = ops;
	uv_timer_init(s->loop, &st->deadline);
	st->deadline.data = st;
	st->open = 1;
	sink_msgf(s->target, sizeof s->target, "%s", s->cfg.address);
	s->impl = st;
	return 0;
}

void sink_stream_close(struct sink_stream *st)
{
	st->closing = true;
	if (!st->conn && st->open == 1)
		close_timer(st); /* else the last connection's close callback does */
}
