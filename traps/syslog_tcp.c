/* SPDX-License-Identifier: MIT */
/*
 * syslog_tcp.c - the syslog-over-TCP trap receiver (behaviour in
 * include/duet/traps_syslog_tcp.h).
 *
 * Each connection owns a duet_syslog_stream (syslog_stream.c); every read
 * is fed to it, and each frame it hands out goes to on_message() or, for a
 * refusal, to the counters. The framer decides what a frame is; this file
 * decides what a socket owner must: who may connect, how long a silent
 * connection lives, when a connection whose octet counts went wrong is
 * closed, and what happens when the owner cannot take more.
 *
 * Backpressure without loss: the framer cannot pause in the middle of a
 * read and go on later (a callback that returns non-zero stops it for
 * good), so when on_message() answers DUET_EBUSY the connection stops
 * reading and the frames of the current read that the framer still hands
 * out are copied to the connection's `kept` queue. trap_syslog_tcp_resume()
 * hands them over in order and starts reading again once all are taken.
 * The queue holds at most one read plus one frame assembled across reads.
 *
 * One read buffer for the whole server: libuv calls alloc and read for one
 * stream at a time, and each read is used up before the next alloc (the
 * framer copies what a read boundary cuts, kept frames are copied), so
 * many idle connections do not each hold 64 KiB.
 *
 * Lifetimes follow traps/http.c: a connection is freed in the last close
 * callback of its two handles (socket, idle timer), and every callback
 * checks `closing` first, so on_message() may close the whole server from
 * inside a read. The server is freed after its last handle; an anchor
 * timer, closed last, makes the close callback come from the loop even
 * when there was no listener.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duet/addr.h"
#include "duet/err.h"
#include "duet/traps_syslog_tcp.h"

#define KEPT_KEEP_BYTES 4096 /* a kept queue grown past this is freed once empty */
#define FEED_STOP       1    /* on_frame: the server or connection is closing */
#define FEED_KEEP_FAIL  2    /* on_frame: no memory to keep a frame (counted) */

struct trap_syslog_tcp;

struct syslog_tcp_listener {
	struct trap_syslog_tcp *srv;
	uv_tcp_t tcp;
	int port;
	bool open;
	unsigned n_conns; /* not closing */
};

struct syslog_tcp_conn {
	struct trap_syslog_tcp *srv;
	struct syslog_tcp_listener *listener;
	struct syslog_tcp_conn *prev, *next;
	uv_tcp_t tcp;
	uv_timer_t idle;
	int n_handles;
	bool closing;
	bool paused;         /* on_message() said DUET_EBUSY: not reading */
	bool ending;         /* no more input: close once nothing is kept */
	bool stream_stopped; /* the framer was stopped (no finish then) */
	char peer[TRAP_SYSLOG_TCP_PEER_BYTES];
	struct duet_syslog_stream stream;
	/* frames not taken yet, from kept_off: records of u32 length + bytes */
	uint8_t *kept;
	size_t kept_off, kept_len, kept_cap;
	uint64_t kept_frames;
};

struct trap_syslog_tcp {
	uv_loop_t *loop;
	struct syslog_tcp_listener listeners[TRAP_SYSLOG_TCP_MAX_LISTEN];
	unsigned n_listeners;
	struct syslog_tcp_conn *conns;
	unsigned max_connections;
	uint32_t max_frame_bytes;
	uint32_t idle_timeout_ms;
	trap_syslog_tcp_message_cb on_message;
	trap_syslog_tcp_log_cb on_log;
	void *data;
	struct trap_syslog_tcp_stats stats;
	uv_timer_t anchor;
	int n_handles;
	bool closing;
	unsigned delivering; /* on_message() calls in progress */
	bool resuming;       /* inside trap_syslog_tcp_resume() */
	bool resume_pending; /* resume() was called from inside on_message() */
	trap_syslog_tcp_close_cb close_cb;
	uint8_t readbuf[TRAP_SYSLOG_TCP_READ_BYTES];
};

static const char *const drop_names[TRAP_SYSLOG_TCP_DROP_N] = {
    [TRAP_SYSLOG_TCP_DROP_NONE] = "none",
    [TRAP_SYSLOG_TCP_DROP_TOO_MANY_CONNECTIONS] = "too_many_connections",
    [TRAP_SYSLOG_TCP_DROP_OVERSIZED] = "oversized",
    [TRAP_SYSLOG_TCP_DROP_BAD_LENGTH] = "bad_length",
    [TRAP_SYSLOG_TCP_DROP_TRUNCATED] = "truncated",
    [TRAP_SYSLOG_TCP_DROP_REJECTED] = "rejected",
    [TRAP_SYSLOG_TCP_DROP_SHUTDOWN] = "shutdown",
    [TRAP_SYSLOG_TCP_DROP_OUT_OF_MEMORY] = "out_of_memory",
};

const char *trap_syslog_tcp_drop_name(enum trap_syslog_tcp_drop drop)
{
	if ((unsigned)drop >= TRAP_SYSLOG_TCP_DROP_N)
		return "unknown";
	return drop_names[drop];
}

static void srv_log(struct trap_syslog_tcp *s, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void srv_log(struct trap_syslog_tcp *s, int level, const char *fmt, ...)
{
	if (!s->on_log)
		return;
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	s->on_log(s->data, level, line);
}

static void count_drop(struct syslog_tcp_conn *c, enum trap_syslog_tcp_drop why, uint64_t n,
		       const char *detail)
{
	struct trap_syslog_tcp *s = c->srv;
	s->stats.drops[why] += n;
	srv_log(s, TRAP_SYSLOG_TCP_LOG_INFO, "syslog TCP from %s: %llu dropped, %s%s%s", c->peer,
		(unsigned long long)n, trap_syslog_tcp_drop_name(why), detail ? ": " : "",
		detail ? detail : "");
}

/* ---- lifetime ------------------------------------------------------------- */

static void srv_handle_closed(struct trap_syslog_tcp *s)
{
	if (--s->n_handles > 0 || !s->closing)
		return;
	trap_syslog_tcp_close_cb cb = s->close_cb;
	void *data = s->data;
	free(s);
	if (cb)
		cb(data);
}

static void anchor_closed(uv_handle_t *h)
{
	srv_handle_closed(h->data);
}

static void listener_closed(uv_handle_t *h)
{
	struct syslog_tcp_listener *l = h->data;
	srv_handle_closed(l->srv);
}

static void conn_handle_closed(uv_handle_t *h)
{
	struct syslog_tcp_conn *c = h->data;
	struct trap_syslog_tcp *s = c->srv;
	if (--c->n_handles == 0) {
		if (c->prev)
			c->prev->next = c->next;
		else
			s->conns = c->next;
		if (c->next)
			c->next->prev = c->prev;
		duet_syslog_stream_close(&c->stream);
		free(c->kept);
		free(c);
	}
	srv_handle_closed(s);
}

static void conn_close(struct syslog_tcp_conn *c, enum trap_syslog_tcp_drop why)
{
	if (c->closing)
		return;
	struct trap_syslog_tcp *s = c->srv;
	if (why != TRAP_SYSLOG_TCP_DROP_NONE)
		count_drop(c, why, 1, "connection closed");
	if (c->kept_frames) /* only when the server closes: other closes wait for them */
		count_drop(c, TRAP_SYSLOG_TCP_DROP_SHUTDOWN, c->kept_frames, "the server closed");
	if (c->paused)
		s->stats.connections_paused--;
	c->closing = true;
	c->listener->n_conns--;
	s->stats.connections_open--;
	uv_timer_stop(&c->idle);
	uv_read_stop((uv_stream_t *)&c->tcp);
	uv_close((uv_handle_t *)&c->idle, conn_handle_closed);
	uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
}

/* ---- delivering, keeping, resuming ----------------------------------------- */

static void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void conn_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);
static void conn_idle(uv_timer_t *t);

static int deliver(struct syslog_tcp_conn *c, const uint8_t *msg, size_t len)
{
	struct trap_syslog_tcp *s = c->srv;
	s->delivering++;
	int rc = s->on_message(s->data, c->peer, msg, len);
	s->delivering--;
	if (rc == 0)
		s->stats.frames++;
	else if (rc == DUET_EBUSY)
		s->stats.busy++;
	else
		count_drop(c, TRAP_SYSLOG_TCP_DROP_REJECTED, 1, duet_strerror(rc));
	return rc;
}

/* Appends a frame to the kept queue; 0, or FEED_KEEP_FAIL (counted). */
static int keep(struct syslog_tcp_conn *c, const uint8_t *msg, size_t len)
{
	uint32_t len32 = (uint32_t)len; /* at most max_frame_bytes */
	size_t need = c->kept_len + sizeof len32 + len;
	if (need > c->kept_cap) {
		size_t cap = c->kept_cap ? c->kept_cap * 2 : 1024;
		while (cap < need)
			cap *= 2;
		uint8_t *p = realloc(c->kept, cap);
		if (!p) {
			count_drop(c, TRAP_SYSLOG_TCP_DROP_OUT_OF_MEMORY, 1, "cannot keep a frame");
			return FEED_KEEP_FAIL;
		}
		c->kept = p;
		c->kept_cap = cap;
	}
	memcpy(c->kept + c->kept_len, &len32, sizeof len32);
	memcpy(c->kept + c->kept_len + sizeof len32, msg, len);
	c->kept_len = need;
	c->kept_frames++;
	return 0;
}

static void conn_pause(struct syslog_tcp_conn *c)
{
	c->paused = true;
	c->srv->stats.connections_paused++;
	uv_read_stop((uv_stream_t *)&c->tcp);
	uv_timer_stop(&c->idle);
}

/* Reads again after a pause, or closes a connection that has ended. */
static void conn_unpause(struct syslog_tcp_conn *c)
{
	struct trap_syslog_tcp *s = c->srv;
	c->paused = false;
	s->stats.connections_paused--;
	c->kept_off = c->kept_len = 0;
	if (c->kept_cap > KEPT_KEEP_BYTES) {
		free(c->kept);
		c->kept = NULL;
		c->kept_cap = 0;
	}
	if (c->ending) {
		conn_close(c, TRAP_SYSLOG_TCP_DROP_NONE);
		return;
	}
	if (uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_read) < 0) {
		conn_close(c, TRAP_SYSLOG_TCP_DROP_NONE);
		return;
	}
	uv_timer_start(&c->idle, conn_idle, s->idle_timeout_ms, 0);
}

/* Hands the kept frames over in order, until one is refused with
 * DUET_EBUSY (the connection stays paused) or all are taken. */
static void conn_drain(struct syslog_tcp_conn *c)
{
	struct trap_syslog_tcp *s = c->srv;
	while (c->kept_off < c->kept_len) {
		uint32_t len;
		memcpy(&len, c->kept + c->kept_off, sizeof len);
		c->kept_frames--; /* in the owner's hands: not lost if it closes us now */
		int rc = deliver(c, c->kept + c->kept_off + sizeof len, len);
		if (c->closing || s->closing)
			return;
		if (rc == DUET_EBUSY) {
			c->kept_frames++;
			return;
		}
		c->kept_off += sizeof len + len;
	}
	conn_unpause(c);
}

void trap_syslog_tcp_resume(struct trap_syslog_tcp *s)
{
	if (!s || s->closing || s->resuming)
		return; /* a resume in progress already visits every connection */
	if (s->delivering) {
		s->resume_pending = true; /* done once on_message() has returned */
		return;
	}
	s->resume_pending = false;
	s->resuming = true;
	for (struct syslog_tcp_conn *c = s->conns; c && !s->closing; c = c->next)
		if (c->paused && !c->closing)
			conn_drain(c);
	s->resuming = false;
}

/* After a callback that may have delivered: a resume asked for meanwhile. */
static void after_delivery(struct trap_syslog_tcp *s)
{
	if (s->resume_pending && !s->delivering && !s->closing)
		trap_syslog_tcp_resume(s);
}

/* ---- frames ------------------------------------------------------------------ */

static int on_frame(void *data, const struct duet_syslog_frame *f)
{
	struct syslog_tcp_conn *c = data;
	struct trap_syslog_tcp *s = c->srv;
	if (c->closing || s->closing)
		return FEED_STOP;
	if (f->err) {
		enum trap_syslog_tcp_drop why =
		    f->err == DUET_ETOOBIG    ? TRAP_SYSLOG_TCP_DROP_OVERSIZED
		    : f->err == DUET_ECORRUPT ? TRAP_SYSLOG_TCP_DROP_BAD_LENGTH
					      : TRAP_SYSLOG_TCP_DROP_TRUNCATED;
		count_drop(c, why, 1, f->reason);
		/* traps_syslog.h: after octet-counted frames, a bad count leaves no
		 * way to find the next frame; skipping to an LF could hand out the
		 * tail of a message as a bogus one */
		if (f->err == DUET_ECORRUPT && c->stream.stats.octet_counted > 0) {
			srv_log(s, TRAP_SYSLOG_TCP_LOG_INFO,
				"syslog TCP from %s: closing the connection, its octet counts can "
				"no longer be followed",
				c->peer);
			return DUET_ECORRUPT;
		}
		return 0;
	}
	if (c->paused)
		return keep(c, f->msg, f->len);
	int rc = deliver(c, f->msg, f->len);
	if (c->closing || s->closing)
		return FEED_STOP;
	if (rc == DUET_EBUSY) {
		conn_pause(c);
		return keep(c, f->msg, f->len);
	}
	return 0;
}

/* No more input (EOF, reset, idle, or a stopped framer): the framer's last
 * frame if finish, then close, once every kept frame is taken. */
static void conn_end(struct syslog_tcp_conn *c, bool finish)
{
	struct trap_syslog_tcp *s = c->srv;
	if (c->closing || c->ending)
		return;
	c->ending = true;
	uv_read_stop((uv_stream_t *)&c->tcp);
	uv_timer_stop(&c->idle);
	if (finish && !c->stream_stopped && duet_syslog_stream_finish(&c->stream, on_frame, c) != 0)
		c->stream_stopped = true;
	if (c->closing || s->closing)
		return;
	if (!c->paused)
		conn_close(c, TRAP_SYSLOG_TCP_DROP_NONE);
	/* else conn_unpause() closes it once the kept frames are taken */
}

/* ---- reading ------------------------------------------------------------------ */

static void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct syslog_tcp_conn *c = h->data;
	*buf = uv_buf_init((char *)c->srv->readbuf, sizeof c->srv->readbuf);
}

static void conn_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct syslog_tcp_conn *c = stream->data;
	struct trap_syslog_tcp *s = c->srv;
	if (c->closing || nread == 0)
		return;
	if (nread < 0) {
		if (nread != UV_EOF) {
			s->stats.read_errors++;
			srv_log(s, TRAP_SYSLOG_TCP_LOG_DEBUG, "syslog TCP from %s: %s", c->peer,
				uv_strerror((int)nread));
		}
		conn_end(c, true);
		after_delivery(s);
		return;
	}
	s->stats.bytes += (uint64_t)nread;
	int rc = duet_syslog_stream_feed(&c->stream, buf->base, (size_t)nread, on_frame, c);
	if (rc != 0)
		c->stream_stopped = true;
	if (!c->closing && !s->closing) {
		if (rc == DUET_ENOMEM)
			count_drop(c, TRAP_SYSLOG_TCP_DROP_OUT_OF_MEMORY, 1,
				   "cannot buffer a frame; connection closed");
		if (rc != 0)
			conn_end(c, false);
		else if (!c->paused)
			uv_timer_start(&c->idle, conn_idle, s->idle_timeout_ms, 0);
	}
	after_delivery(s);
}

static void conn_idle(uv_timer_t *t)
{
	struct syslog_tcp_conn *c = t->data;
	struct trap_syslog_tcp *s = c->srv;
	if (c->closing)
		return;
	s->stats.idle_closed++;
	srv_log(s, TRAP_SYSLOG_TCP_LOG_DEBUG, "syslog TCP from %s: idle for %u ms, closed", c->peer,
		(unsigned)s->idle_timeout_ms);
	conn_end(c, true);
	after_delivery(s);
}

/* ---- accepting ------------------------------------------------------------------ */

/* The client's IP, without port; IPv4-mapped IPv6 as IPv4. */
static void peer_text(uv_tcp_t *tcp, char *buf, size_t cap)
{
	struct sockaddr_storage sa;
	int len = sizeof sa;
	snprintf(buf, cap, "?");
	if (uv_tcp_getpeername(tcp, (struct sockaddr *)&sa, &len) == 0)
		duet_addr_ip_text(&sa, buf, cap);
}

static struct syslog_tcp_conn *conn_new(struct syslog_tcp_listener *l)
{
	struct trap_syslog_tcp *s = l->srv;
	struct syslog_tcp_conn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->srv = s;
	c->listener = l;
	snprintf(c->peer, sizeof c->peer, "?");
	(void)duet_syslog_stream_init(&c->stream, s->max_frame_bytes); /* checked in new() */
	uv_tcp_init(s->loop, &c->tcp);
	uv_timer_init(s->loop, &c->idle);
	c->tcp.data = c;
	c->idle.data = c;
	c->n_handles = 2;
	s->n_handles += 2;
	l->n_conns++;
	s->stats.connections_open++;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	return c;
}

static void on_connection(uv_stream_t *server, int status)
{
	struct syslog_tcp_listener *l = server->data;
	struct trap_syslog_tcp *s = l->srv;
	if (s->closing)
		return;
	if (status < 0) {
		srv_log(s, TRAP_SYSLOG_TCP_LOG_WARN, "syslog TCP accept on port %d: %s", l->port,
			uv_strerror(status));
		return;
	}
	struct syslog_tcp_conn *c = conn_new(l);
	if (!c) {
		srv_log(s, TRAP_SYSLOG_TCP_LOG_ERROR,
			"syslog TCP on port %d: out of memory for a connection", l->port);
		return; /* it stays in the backlog */
	}
	s->stats.connections_accepted++;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
		conn_close(c, TRAP_SYSLOG_TCP_DROP_NONE);
		return;
	}
	peer_text(&c->tcp, c->peer, sizeof c->peer);
	if (l->n_conns > s->max_connections) {
		conn_close(c, TRAP_SYSLOG_TCP_DROP_TOO_MANY_CONNECTIONS);
		return;
	}
	if (uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_read) < 0) {
		conn_close(c, TRAP_SYSLOG_TCP_DROP_NONE);
		return;
	}
	uv_timer_start(&c->idle, conn_idle, s->idle_timeout_ms, 0);
}

/* ---- setup and teardown ----------------------------------------------------------- */

static void srv_close_handles(struct trap_syslog_tcp *s)
{
	for (unsigned i = 0; i < s->n_listeners; i++) {
		struct syslog_tcp_listener *l = &s->listeners[i];
		if (l->open) {
			l->open = false;
			uv_close((uv_handle_t *)&l->tcp, listener_closed);
		}
	}
	for (struct syslog_tcp_conn *c = s->conns; c; c = c->next)
		conn_close(c, TRAP_SYSLOG_TCP_DROP_NONE);
	uv_close((uv_handle_t *)&s->anchor, anchor_closed);
}

static int listen_on(struct trap_syslog_tcp *s, const char *addr, char *errbuf, size_t errlen)
{
	struct sockaddr_storage sa;
	if (!addr || duet_addr_parse(addr, &sa) != 0) {
		snprintf(errbuf, errlen,
			 "syslog TCP listener address '%s' is not a.b.c.d:port or [v6]:port",
			 addr ? addr : "(none)");
		return DUET_EINVAL;
	}
	struct syslog_tcp_listener *l = &s->listeners[s->n_listeners++];
	l->srv = s;
	uv_tcp_init(s->loop, &l->tcp);
	l->tcp.data = l;
	l->open = true;
	s->n_handles++;
	int rc = duet_addr_listen(&l->tcp, &sa, 128, on_connection);
	if (rc < 0) {
		snprintf(errbuf, errlen,
			 "cannot listen for syslog over TCP on %s: %s; is another process using "
			 "it, or is the address not on this machine?",
			 addr, uv_strerror(rc));
		return rc;
	}
	l->port = rc;
	return 0;
}

int trap_syslog_tcp_new(uv_loop_t *loop, const struct trap_syslog_tcp_config *cfg,
			struct trap_syslog_tcp **out, char *errbuf, size_t errlen)
{
	*out = NULL;
	if (!loop || !cfg || !cfg->on_message) {
		snprintf(errbuf, errlen, "syslog TCP receiver: no loop, config or on_message");
		return DUET_EINVAL;
	}
	if (cfg->n_listen == 0 || cfg->n_listen > TRAP_SYSLOG_TCP_MAX_LISTEN) {
		snprintf(errbuf, errlen, "syslog TCP receiver: %u listeners; give 1 to %d",
			 cfg->n_listen, TRAP_SYSLOG_TCP_MAX_LISTEN);
		return DUET_EINVAL;
	}
	if (cfg->max_frame_bytes > DUET_SYSLOG_MAX_FRAME_BYTES_LIMIT) {
		snprintf(errbuf, errlen,
			 "syslog TCP receiver: max_frame_bytes %u is over the limit of %u",
			 (unsigned)cfg->max_frame_bytes, DUET_SYSLOG_MAX_FRAME_BYTES_LIMIT);
		return DUET_EINVAL;
	}
	struct trap_syslog_tcp *s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(errbuf, errlen, "syslog TCP receiver: out of memory");
		return DUET_ENOMEM;
	}
	s->loop = loop;
	s->on_message = cfg->on_message;
	s->on_log = cfg->on_log;
	s->data = cfg->data;
	s->max_connections =
	    cfg->max_connections ? cfg->max_connections : TRAP_SYSLOG_TCP_DEFAULT_MAX_CONNECTIONS;
	s->max_frame_bytes = cfg->max_frame_bytes;
	s->idle_timeout_ms =
	    cfg->idle_timeout_ms ? cfg->idle_timeout_ms : TRAP_SYSLOG_TCP_DEFAULT_IDLE_TIMEOUT_MS;
	uv_timer_init(loop, &s->anchor);
	s->anchor.data = s;
	s->n_handles = 1;
	for (unsigned i = 0; i < cfg->n_listen; i++) {
		int rc = listen_on(s, cfg->listen[i], errbuf, errlen);
		if (rc) {
			s->closing = true;
			srv_close_handles(s);
			return rc;
		}
	}
	*out = s;
	return 0;
}

int trap_syslog_tcp_port(const struct trap_syslog_tcp *s, unsigned i)
{
	return s && i < s->n_listeners ? s->listeners[i].port : -1;
}

void trap_syslog_tcp_get_stats(const struct trap_syslog_tcp *s, struct trap_syslog_tcp_stats *out)
{
	*out = s->stats;
}

void trap_syslog_tcp_close(struct trap_syslog_tcp *s, trap_syslog_tcp_close_cb cb)
{
	if (!s || s->closing)
		return;
	s->closing = true;
	s->close_cb = cb;
	srv_close_handles(s);
}
