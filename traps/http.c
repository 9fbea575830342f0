/* SPDX-License-Identifier: MIT */
/*
 * http.c - the HTTP(S) trap receiver's server: listeners, connections,
 * optional TLS, timers (behaviour in include/duet/traps_http.h).
 *
 * Each connection feeds the bytes it reads (plaintext, or what SSL_read
 * gives) to its trap_http_session (http_session.c) and writes whatever
 * answers the session produced. TLS follows transport/conn.c: a pair of
 * OpenSSL memory BIOs, so libuv owns the socket and OpenSSL never blocks;
 * every read callback drains rbio completely, and whatever SSL writes into
 * wbio goes out in a uv_write at once.
 *
 * One timer per connection, whose meaning follows the state:
 *
 *   TLS handshake        request_timeout_ms from accept     -> tls_handshake_timeout
 *   idle (no request)    idle_timeout_ms from the last answer -> closed, idle_closed
 *   request in progress  request_timeout_ms from its first byte -> 408, linger
 *   reading paused       request_timeout_ms for answers to drain -> slow_reader
 *   lingering            TRAP_HTTP_LINGER_MS after the last answer -> closed
 *
 * Memory: a connection is freed only in the last close callback of its two
 * handles; every callback checks for CONN_CLOSING first, so on_trap may
 * close the whole server from inside a read callback. The server is freed
 * after its last handle (an always-open anchor timer is closed last).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "duet/addr.h"
#include "duet/err.h"
#include "duet/traps_http.h"

#define NET_READ_BYTES 16384

enum conn_state { CONN_HANDSHAKE, CONN_OPEN, CONN_LINGER, CONN_CLOSING };
enum timer_role {
	TIMER_NONE,
	TIMER_HANDSHAKE,
	TIMER_IDLE,
	TIMER_REQUEST,
	TIMER_STALL,
	TIMER_LINGER
};

struct trap_http_server;

struct http_conn {
	struct trap_http_server *srv;
	struct http_conn *prev, *next;
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_shutdown_t shutdown_req;
	int n_handles;
	enum conn_state state;
	enum timer_role timer_role;
	uint64_t timer_request; /* the request the deadline belongs to */
	bool read_paused;
	bool received_any; /* a byte arrived: a close before it is no TLS failure */
	SSL *ssl;          /* NULL on a plain listener */
	BIO *rbio, *wbio;
	size_t queued; /* bytes handed to uv_write, not yet written */
	struct trap_http_session session;
	uint8_t netbuf[NET_READ_BYTES];
	uint8_t plain[NET_READ_BYTES];
};

struct write_req {
	uv_write_t req;
	struct http_conn *c;
	size_t len;
	uint8_t data[];
};

struct http_listener {
	struct trap_http_server *srv;
	uv_tcp_t tcp;
	bool tls;
	int port;
	bool open;
};

struct trap_http_server {
	uv_loop_t *loop;
	struct trap_http_router router; /* holds the stats */
	SSL_CTX *ctx;
	struct http_listener listeners[TRAP_HTTP_MAX_LISTEN];
	unsigned n_listeners;
	struct http_conn *conns;
	unsigned n_conns; /* not closing */
	unsigned max_connections;
	uint32_t request_timeout_ms, idle_timeout_ms;
	uv_timer_t anchor;
	int n_handles;
	bool closing;
	trap_http_close_cb close_cb;
	trap_http_log_cb on_log;
	void *data;
};

static void srv_log(struct trap_http_server *s, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void srv_log(struct trap_http_server *s, int level, const char *fmt, ...)
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

static void tls_error_text(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();
	if (e)
		ERR_error_string_n(e, buf, len);
	else
		snprintf(buf, len, "no OpenSSL error queued");
	ERR_clear_error();
}

/* ---- lifetime ------------------------------------------------------------- */

static void srv_finish_close(struct trap_http_server *s)
{
	trap_http_close_cb cb = s->close_cb;
	void *data = s->data;
	SSL_CTX_free(s->ctx);
	free(s);
	if (cb)
		cb(data);
}

static void srv_handle_closed(struct trap_http_server *s)
{
	if (--s->n_handles == 0 && s->closing)
		srv_finish_close(s);
}

static void anchor_closed(uv_handle_t *h)
{
	srv_handle_closed(h->data);
}

static void listener_closed(uv_handle_t *h)
{
	struct http_listener *l = h->data;
	srv_handle_closed(l->srv);
}

static void conn_handle_closed(uv_handle_t *h)
{
	struct http_conn *c = h->data;
	struct trap_http_server *s = c->srv;
	if (--c->n_handles == 0) {
		if (c->prev)
			c->prev->next = c->next;
		else
			s->conns = c->next;
		if (c->next)
			c->next->prev = c->prev;
		SSL_free(c->ssl); /* frees both BIOs */
		trap_http_session_free(&c->session);
		free(c);
	}
	srv_handle_closed(s);
}

static void conn_close(struct http_conn *c, enum trap_http_drop why)
{
	if (c->state == CONN_CLOSING)
		return;
	struct trap_http_server *s = c->srv;
	if (why != TRAP_HTTP_DROP_NONE) {
		s->router.stats.drops[why]++;
		srv_log(s, TRAP_HTTP_LOG_INFO, "HTTP connection from %s dropped: %s",
			c->session.peer, trap_http_drop_name(why));
	}
	c->state = CONN_CLOSING;
	s->n_conns--;
	s->router.stats.connections_open--;
	uv_timer_stop(&c->timer);
	uv_read_stop((uv_stream_t *)&c->tcp);
	uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
	uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
}

/* ---- writing -------------------------------------------------------------- */

static void conn_update_timer(struct http_conn *c);
static void conn_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);
static void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);

static void conn_write_done(uv_write_t *req, int status)
{
	struct write_req *w = (struct write_req *)req;
	struct http_conn *c = w->c;
	c->queued -= w->len;
	free(w);
	if (c->state == CONN_CLOSING)
		return;
	if (status < 0) {
		conn_close(c, TRAP_HTTP_DROP_NONE);
		return;
	}
	if (c->read_paused && c->queued <= TRAP_HTTP_WRITE_QUEUE_BYTES / 2) {
		c->read_paused = false;
		if (uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_read) < 0) {
			conn_close(c, TRAP_HTTP_DROP_NONE);
			return;
		}
		conn_update_timer(c);
	}
}

static int conn_write_raw(struct http_conn *c, const void *data, size_t len)
{
	struct write_req *w = malloc(sizeof *w + len);
	if (!w)
		return DUET_ENOMEM;
	memcpy(w->data, data, len);
	w->c = c;
	w->len = len;
	uv_buf_t buf = uv_buf_init((char *)w->data, (unsigned)len);
	int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, conn_write_done);
	if (rc < 0) {
		free(w);
		return rc;
	}
	c->queued += len;
	return 0;
}

/* Moves whatever SSL wrote into wbio onto the socket. */
static int conn_flush_tls(struct http_conn *c)
{
	uint8_t buf[NET_READ_BYTES];
	int n;
	while ((n = BIO_read(c->wbio, buf, sizeof buf)) > 0) {
		int rc = conn_write_raw(c, buf, (size_t)n);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Best effort, just before a close (which cancels queued writes): the
 * TLS alert goes out now if the socket takes it. */
static void conn_flush_alert(struct http_conn *c)
{
	uint8_t buf[1024];
	int n;
	while ((n = BIO_read(c->wbio, buf, sizeof buf)) > 0) {
		uv_buf_t b = uv_buf_init((char *)buf, (unsigned)n);
		if (uv_try_write((uv_stream_t *)&c->tcp, &b, 1) < 0)
			break;
	}
}

static int conn_send(struct http_conn *c, const uint8_t *data, size_t len)
{
	if (len == 0)
		return 0;
	if (!c->ssl)
		return conn_write_raw(c, data, len);
	if (len > (size_t)1 << 30 || SSL_write(c->ssl, data, (int)len) != (int)len) {
		char text[200];
		tls_error_text(text, sizeof text);
		srv_log(c->srv, TRAP_HTTP_LOG_DEBUG, "TLS write to %s: %s", c->session.peer, text);
		return DUET_EINVAL;
	}
	return conn_flush_tls(c);
}

/* Sends the session's answers; 0, or -1 if the connection closed. */
static int conn_send_output(struct http_conn *c)
{
	size_t len;
	const uint8_t *out = trap_http_session_output(&c->session, &len);
	int rc = conn_send(c, out, len);
	trap_http_session_output_clear(&c->session);
	if (rc < 0) {
		conn_close(c, c->ssl ? TRAP_HTTP_DROP_TLS_ERROR : TRAP_HTTP_DROP_NONE);
		return -1;
	}
	return 0;
}

/* ---- timers and lingering close ------------------------------------------ */

static void conn_timer_fired(uv_timer_t *t);

static void conn_set_timer(struct http_conn *c, enum timer_role role, uint64_t ms)
{
	c->timer_role = role;
	uv_timer_start(&c->timer, conn_timer_fired, ms, 0);
}

static void conn_shutdown_done(uv_shutdown_t *req, int status)
{
	/* nothing to do: the linger timer or the client's EOF closes */
}

/* The last answer is out: say so, then discard input for a while. */
static void conn_linger(struct http_conn *c)
{
	if (c->state == CONN_LINGER || c->state == CONN_CLOSING)
		return;
	c->state = CONN_LINGER;
	if (c->ssl) {
		SSL_shutdown(c->ssl); /* queues close_notify */
		ERR_clear_error();
		if (conn_flush_tls(c) < 0) {
			conn_close(c, TRAP_HTTP_DROP_NONE);
			return;
		}
	}
	if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, conn_shutdown_done) < 0) {
		conn_close(c, TRAP_HTTP_DROP_NONE);
		return;
	}
	if (c->read_paused) {
		c->read_paused = false;
		if (uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_read) < 0) {
			conn_close(c, TRAP_HTTP_DROP_NONE);
			return;
		}
	}
	conn_set_timer(c, TIMER_LINGER, TRAP_HTTP_LINGER_MS);
}

/* Sets the timer's role from the session's state after input or output. */
static void conn_update_timer(struct http_conn *c)
{
	struct trap_http_server *s = c->srv;
	if (c->state != CONN_OPEN)
		return;
	enum trap_http_session_state st = trap_http_session_state(&c->session);
	if (st == TRAP_HTTP_SESSION_DONE) {
		conn_linger(c);
	} else if (c->read_paused) {
		if (c->timer_role != TIMER_STALL)
			conn_set_timer(c, TIMER_STALL, s->request_timeout_ms);
	} else if (st == TRAP_HTTP_SESSION_IN_REQUEST) {
		uint64_t req = trap_http_session_requests_begun(&c->session);
		if (c->timer_role != TIMER_REQUEST || c->timer_request != req) {
			c->timer_request = req;
			conn_set_timer(c, TIMER_REQUEST, s->request_timeout_ms);
		}
	} else if (c->timer_role != TIMER_IDLE) {
		conn_set_timer(c, TIMER_IDLE, s->idle_timeout_ms);
	}
}

static void conn_timer_fired(uv_timer_t *t)
{
	struct http_conn *c = t->data;
	if (c->state == CONN_CLOSING)
		return;
	enum timer_role role = c->timer_role;
	c->timer_role = TIMER_NONE;
	switch (role) {
	case TIMER_HANDSHAKE:
		conn_close(c, TRAP_HTTP_DROP_TLS_HANDSHAKE_TIMEOUT);
		break;
	case TIMER_IDLE:
		c->srv->router.stats.idle_closed++;
		conn_close(c, TRAP_HTTP_DROP_NONE);
		break;
	case TIMER_REQUEST:
		if (trap_http_session_expire(&c->session) && conn_send_output(c) < 0)
			return;
		conn_linger(c);
		break;
	case TIMER_STALL:
		conn_close(c, TRAP_HTTP_DROP_SLOW_READER);
		break;
	case TIMER_LINGER:
	case TIMER_NONE:
		conn_close(c, TRAP_HTTP_DROP_NONE);
		break;
	}
}

/* ---- reading ---------------------------------------------------------------- */

static void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct http_conn *c = h->data;
	*buf = uv_buf_init((char *)c->netbuf, sizeof c->netbuf);
}

/* Feeds plaintext to the session and sends its answers; 0 or -1 if the
 * connection is no longer open. */
static int conn_process(struct http_conn *c, const uint8_t *data, size_t len)
{
	trap_http_session_feed(&c->session, data, len);
	if (c->state != CONN_OPEN) /* on_trap closed the server */
		return -1;
	if (conn_send_output(c) < 0)
		return -1;
	if (trap_http_session_state(&c->session) == TRAP_HTTP_SESSION_DONE) {
		conn_linger(c);
		return -1;
	}
	return 0;
}

/* Returns 0 once open or still handshaking; -1 if closed. */
static int conn_handshake(struct http_conn *c)
{
	int r = SSL_do_handshake(c->ssl);
	if (r == 1) {
		c->state = CONN_OPEN;
		c->timer_role = TIMER_NONE;
		if (conn_flush_tls(c) < 0) {
			conn_close(c, TRAP_HTTP_DROP_NONE);
			return -1;
		}
		return 0;
	}
	int e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ) {
		ERR_clear_error();
		if (conn_flush_tls(c) < 0) {
			conn_close(c, TRAP_HTTP_DROP_NONE);
			return -1;
		}
		return 0;
	}
	char text[200];
	tls_error_text(text, sizeof text);
	srv_log(c->srv, TRAP_HTTP_LOG_DEBUG, "TLS handshake with %s failed: %s", c->session.peer,
		text);
	conn_flush_alert(c);
	conn_close(c, TRAP_HTTP_DROP_TLS_HANDSHAKE_FAILED);
	return -1;
}

/* Decrypts and processes everything rbio holds; 0 or -1 if closed. */
static int conn_read_tls(struct http_conn *c)
{
	for (;;) {
		int n = SSL_read(c->ssl, c->plain, sizeof c->plain);
		if (n > 0) {
			if (conn_process(c, c->plain, (size_t)n) < 0)
				return -1;
			continue;
		}
		int e = SSL_get_error(c->ssl, n);
		if (e == SSL_ERROR_WANT_READ) {
			ERR_clear_error();
			if (conn_flush_tls(c) < 0) {
				conn_close(c, TRAP_HTTP_DROP_NONE);
				return -1;
			}
			return 0;
		}
		if (e == SSL_ERROR_ZERO_RETURN) { /* close_notify */
			ERR_clear_error();
			conn_close(c, trap_http_session_state(&c->session) ==
					      TRAP_HTTP_SESSION_IN_REQUEST
					  ? TRAP_HTTP_DROP_CLIENT_ABORTED
					  : TRAP_HTTP_DROP_NONE);
			return -1;
		}
		char text[200];
		tls_error_text(text, sizeof text);
		srv_log(c->srv, TRAP_HTTP_LOG_DEBUG, "TLS read from %s: %s", c->session.peer, text);
		conn_close(c, TRAP_HTTP_DROP_TLS_ERROR);
		return -1;
	}
}

/* TLS: ciphertext in, handshake or plaintext out; 0 or -1 if closed. */
static int conn_read_ciphertext(struct http_conn *c, const char *data, size_t len)
{
	if (BIO_write(c->rbio, data, (int)len) != (int)len) {
		conn_close(c, TRAP_HTTP_DROP_INTERNAL_ERROR);
		return -1;
	}
	if (c->state == CONN_HANDSHAKE && (conn_handshake(c) < 0 || c->state != CONN_OPEN))
		return -1; /* closed, or the handshake goes on */
	return conn_read_tls(c);
}

static void conn_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct http_conn *c = stream->data;
	if (c->state == CONN_CLOSING || nread == 0)
		return;
	if (nread < 0) {
		enum trap_http_drop why = TRAP_HTTP_DROP_NONE;
		if (c->state == CONN_HANDSHAKE && c->received_any)
			why = TRAP_HTTP_DROP_TLS_HANDSHAKE_FAILED; /* not a bare TCP probe */
		else if (c->state == CONN_OPEN &&
			 trap_http_session_state(&c->session) == TRAP_HTTP_SESSION_IN_REQUEST)
			why = TRAP_HTTP_DROP_CLIENT_ABORTED;
		conn_close(c, why);
		return;
	}
	c->received_any = true;
	if (c->state == CONN_LINGER)
		return; /* discarded: the last answer has been given */
	int rc = c->ssl ? conn_read_ciphertext(c, buf->base, (size_t)nread)
			: conn_process(c, (const uint8_t *)buf->base, (size_t)nread);
	if (rc < 0)
		return;
	if (c->queued > TRAP_HTTP_WRITE_QUEUE_BYTES && !c->read_paused) {
		/* the client does not read its answers: stop reading its requests */
		c->read_paused = true;
		uv_read_stop((uv_stream_t *)&c->tcp);
	}
	conn_update_timer(c);
}

/* ---- accepting ------------------------------------------------------------- */

/* The client's IP, without port; IPv4-mapped IPv6 as IPv4. */
static void peer_text(uv_tcp_t *tcp, char *buf, size_t cap)
{
	struct sockaddr_storage sa;
	int len = sizeof sa;
	snprintf(buf, cap, "?");
	if (uv_tcp_getpeername(tcp, (struct sockaddr *)&sa, &len) == 0)
		duet_addr_ip_text(&sa, buf, cap);
}

static struct http_conn *conn_new(struct trap_http_server *s)
{
	struct http_conn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->srv = s;
	uv_tcp_init(s->loop, &c->tcp);
	uv_timer_init(s->loop, &c->timer);
	c->tcp.data = c;
	c->timer.data = c;
	c->n_handles = 2;
	s->n_handles += 2;
	s->n_conns++;
	s->router.stats.connections_open++;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	c->state = CONN_OPEN;
	trap_http_session_init(&c->session, &s->router, NULL);
	return c;
}

static int conn_start_tls(struct http_conn *c)
{
	c->ssl = SSL_new(c->srv->ctx);
	c->rbio = BIO_new(BIO_s_mem());
	c->wbio = BIO_new(BIO_s_mem());
	if (!c->ssl || !c->rbio || !c->wbio) {
		BIO_free(c->rbio);
		BIO_free(c->wbio);
		SSL_free(c->ssl);
		c->ssl = NULL;
		ERR_clear_error();
		return DUET_ENOMEM;
	}
	BIO_set_mem_eof_return(c->rbio, -1); /* empty means "retry", not EOF */
	BIO_set_mem_eof_return(c->wbio, -1);
	SSL_set_bio(c->ssl, c->rbio, c->wbio);
	SSL_set_accept_state(c->ssl);
	c->state = CONN_HANDSHAKE;
	return 0;
}

static void on_connection(uv_stream_t *server, int status)
{
	struct http_listener *l = server->data;
	struct trap_http_server *s = l->srv;
	if (s->closing)
		return;
	if (status < 0) {
		srv_log(s, TRAP_HTTP_LOG_WARN, "HTTP accept on port %d: %s", l->port,
			uv_strerror(status));
		return;
	}
	struct http_conn *c = conn_new(s);
	if (!c)
		return; /* the connection stays in the backlog; retried on the next one */
	s->router.stats.connections_accepted++;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
		conn_close(c, TRAP_HTTP_DROP_NONE);
		return;
	}
	char peer[TRAP_HTTP_PEER_BYTES];
	peer_text(&c->tcp, peer, sizeof peer);
	trap_http_session_init(&c->session, &s->router, peer); /* nothing allocated yet */
	if (s->n_conns > s->max_connections) {
		conn_close(c, TRAP_HTTP_DROP_TOO_MANY_CONNECTIONS);
		return;
	}
	if (l->tls && conn_start_tls(c) < 0) {
		conn_close(c, TRAP_HTTP_DROP_INTERNAL_ERROR);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	if (uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_read) < 0) {
		conn_close(c, TRAP_HTTP_DROP_NONE);
		return;
	}
	if (c->state == CONN_HANDSHAKE)
		conn_set_timer(c, TIMER_HANDSHAKE, s->request_timeout_ms);
	else
		conn_update_timer(c);
}

/* ---- setup ----------------------------------------------------------------- */

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned inlen, void *arg)
{
	static const unsigned char h11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
	unsigned char *sel = NULL;
	if (SSL_select_next_proto(&sel, outlen, h11, sizeof h11, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK; /* no ALPN: the client assumes HTTP/1.1 */
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

static int tls_setup(struct trap_http_server *s, const struct trap_http_config *cfg, char *errbuf,
		     size_t errlen)
{
	char ssl_err[200];
	if (!cfg->cert_file || !cfg->key_file) {
		snprintf(errbuf, errlen, "an HTTPS trap listener needs cert_file and key_file");
		return DUET_EINVAL;
	}
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		tls_error_text(ssl_err, sizeof ssl_err);
		snprintf(errbuf, errlen, "cannot create a TLS context: %s", ssl_err);
		return DUET_ENOMEM;
	}
	const char *what = NULL, *file = NULL;
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) {
		what = "cannot require TLS 1.2 or later";
	} else if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert_file) != 1) {
		what = "cannot load certificate";
		file = cfg->cert_file;
	} else if (SSL_CTX_use_PrivateKey_file(ctx, cfg->key_file, SSL_FILETYPE_PEM) != 1) {
		what = "cannot load private key";
		file = cfg->key_file;
	} else if (SSL_CTX_check_private_key(ctx) != 1) {
		what = "private key does not match certificate";
		file = cfg->key_file;
	}
	if (what) {
		tls_error_text(ssl_err, sizeof ssl_err);
		snprintf(errbuf, errlen, "%s%s%s: %s; check the HTTPS trap listener's TLS files",
			 what, file ? " " : "", file ? file : "", ssl_err);
		SSL_CTX_free(ctx);
		return DUET_EINVAL;
	}
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	s->ctx = ctx;
	return 0;
}

static void srv_close_handles(struct trap_http_server *s)
{
	for (unsigned i = 0; i < s->n_listeners; i++) {
		struct http_listener *l = &s->listeners[i];
		if (l->open) {
			l->open = false;
			uv_close((uv_handle_t *)&l->tcp, listener_closed);
		}
	}
	for (struct http_conn *c = s->conns; c; c = c->next)
		conn_close(c, TRAP_HTTP_DROP_NONE);
	uv_close((uv_handle_t *)&s->anchor, anchor_closed);
}

static int listen_on(struct trap_http_server *s, const struct trap_http_listen *cfg, char *errbuf,
		     size_t errlen)
{
	struct sockaddr_storage sa;
	if (!cfg->addr || duet_addr_parse(cfg->addr, &sa) != 0) {
		snprintf(errbuf, errlen,
			 "HTTP trap listener address '%s' is not a.b.c.d:port or [v6]:port",
			 cfg->addr ? cfg->addr : "(none)");
		return DUET_EINVAL;
	}
	struct http_listener *l = &s->listeners[s->n_listeners++];
	l->srv = s;
	l->tls = cfg->tls;
	uv_tcp_init(s->loop, &l->tcp);
	l->tcp.data = l;
	l->open = true;
	s->n_handles++;
	int rc = duet_addr_listen(&l->tcp, &sa, 128, on_connection);
	if (rc < 0) {
		snprintf(errbuf, errlen,
			 "cannot listen for HTTP traps on %s: %s; is another process using it?",
			 cfg->addr, uv_strerror(rc));
		return rc;
	}
	l->port = rc;
	return 0;
}

int trap_http_new(uv_loop_t *loop, const struct trap_http_config *cfg,
		  struct trap_http_server **out, char *errbuf, size_t errlen)
{
	*out = NULL;
	if (cfg->n_listen > TRAP_HTTP_MAX_LISTEN) {
		snprintf(errbuf, errlen, "more than %d HTTP trap listeners", TRAP_HTTP_MAX_LISTEN);
		return DUET_EINVAL;
	}
	struct trap_http_server *s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(errbuf, errlen, "out of memory");
		return DUET_ENOMEM;
	}
	int rc = trap_http_router_init(&s->router, cfg, errbuf, errlen);
	if (rc) {
		free(s);
		return rc;
	}
	s->loop = loop;
	s->on_log = cfg->on_log;
	s->data = cfg->data;
	s->max_connections =
	    cfg->max_connections ? cfg->max_connections : TRAP_HTTP_DEFAULT_MAX_CONNECTIONS;
	s->request_timeout_ms = cfg->request_timeout_ms ? cfg->request_timeout_ms
							: TRAP_HTTP_DEFAULT_REQUEST_TIMEOUT_MS;
	s->idle_timeout_ms =
	    cfg->idle_timeout_ms ? cfg->idle_timeout_ms : TRAP_HTTP_DEFAULT_IDLE_TIMEOUT_MS;
	bool need_tls = false;
	for (unsigned i = 0; i < cfg->n_listen; i++)
		need_tls |= cfg->listen[i].tls;
	if (need_tls && (rc = tls_setup(s, cfg, errbuf, errlen)) != 0) {
		free(s);
		return rc;
	}
	uv_timer_init(loop, &s->anchor);
	s->anchor.data = s;
	s->n_handles = 1;
	for (unsigned i = 0; i < cfg->n_listen; i++) {
		rc = listen_on(s, &cfg->listen[i], errbuf, errlen);
		if (rc) {
			s->closing = true;
			srv_close_handles(s);
			return rc;
		}
	}
	*out = s;
	return 0;
}

int trap_http_listen_port(const struct trap_http_server *s, unsigned i)
{
	return i < s->n_listeners ? s->listeners[i].port : -1;
}

void trap_http_get_stats(const struct trap_http_server *s, struct trap_http_stats *out)
{
	*out = s->router.stats;
}

void trap_http_close(struct trap_http_server *s, trap_http_close_cb cb)
{
	if (s->closing)
		return;
	s->closing = true;
	s->close_cb = cb;
	s->router.stopped = true; /* a session inside on_trap answers no further */
	srv_close_handles(s);
}
