/* SPDX-License-Identifier: MIT */
/*
 * conn.c - one TLS connection over a uv_tcp_t, driven through a pair of
 * OpenSSL memory BIOs (the standard pattern for an event loop that owns
 * the socket): bytes read from TCP go into rbio, SSL reads and handshakes
 * consume them, and whatever SSL writes into wbio is moved into a uv_write
 * request at once (conn_flush).
 *
 * Invariants:
 *  - rbio is drained completely in every read callback, so it never holds
 *    more than one network read (XPORT_NET_READ_BYTES).
 *  - rbuf holds at most one frame: the 12-byte header is read and checked
 *    first, and only then is rbuf grown to the frame's size.
 *  - c->queued counts ciphertext handed to uv_write and not yet written;
 *    conn_send refuses once it would pass send_queue_bytes (see
 *    transport.h), so a slow peer costs bounded memory.
 *  - A connection is freed only in the last close callback of its two
 *    handles; every callback checks for CONN_CLOSING first, so a user
 *    callback may close anything, this connection included.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "duet/wire.h"
#include "xport_internal.h"

struct write_req {
	uv_write_t req;
	struct xconn *c;
	size_t len;
	uint8_t data[];
};

static void conn_unlink(struct xconn *c)
{
	struct xport *x = c->x;
	if (c->prev)
		c->prev->next = c->next;
	else
		x->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
}

static void conn_handle_closed(uv_handle_t *h)
{
	struct xconn *c = h->data;
	struct xport *x = c->x;
	if (--c->n_handles == 0) {
		conn_unlink(c);
		SSL_free(c->ssl); /* frees both BIOs */
		free(c->netbuf);
		free(c->rbuf);
		free(c);
	}
	xport_handle_closed(x);
}

struct xconn *conn_new(struct xport *x, bool outbound)
{
	struct xconn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->x = x;
	c->outbound = outbound;
	c->addr_index = -1;
	c->netbuf = malloc(XPORT_NET_READ_BYTES);
	c->ssl = SSL_new(x->ctx);
	c->rbio = BIO_new(BIO_s_mem());
	c->wbio = BIO_new(BIO_s_mem());
	if (!c->netbuf || !c->ssl || !c->rbio || !c->wbio) {
		BIO_free(c->rbio);
		BIO_free(c->wbio);
		SSL_free(c->ssl);
		free(c->netbuf);
		free(c);
		ERR_clear_error();
		return NULL;
	}
	BIO_set_mem_eof_return(c->rbio, -1); /* empty means "retry", not EOF */
	BIO_set_mem_eof_return(c->wbio, -1);
	SSL_set_bio(c->ssl, c->rbio, c->wbio);
	uv_tcp_init(x->loop, &c->tcp);
	uv_timer_init(x->loop, &c->timer);
	c->tcp.data = c;
	c->timer.data = c;
	c->n_handles = 2;
	x->n_handles += 2;
	c->next = x->conns;
	if (x->conns)
		x->conns->prev = c;
	x->conns = c;
	c->last_read_ms = c->last_write_ms = uv_now(x->loop);
	return c;
}

void conn_close(struct xconn *c, enum refuse_reason why)
{
	if (c->state == CONN_CLOSING)
		return;
	struct xport *x = c->x;
	bool was_open = c->state == CONN_OPEN;
	c->state = CONN_CLOSING;
	xport_count_refusal(x, why);
	if (was_open) {
		x->stats.links_down++;
		xport_log(x, XPORT_LOG_WARN, "link %s down: %s", c->peer_desc,
			  xport_reason_name(why));
	} else if (why != REFUSE_LOCAL) {
		xport_log(x, XPORT_LOG_WARN, "connection %s refused: %s", c->peer_desc,
			  xport_reason_name(why));
	}
	if (!c->outbound)
		x->n_inbound--;
	xport_conn_detached(c);
	if (was_open && x->cfg.on_link)
		x->cfg.on_link(x->cfg.data, c->peer_id, c->addr_index, 0);
	uv_timer_stop(&c->timer);
	uv_read_stop((uv_stream_t *)&c->tcp);
	uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
	uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
}

static void conn_write_done(uv_write_t *req, int status)
{
	struct write_req *w = (struct write_req *)req;
	struct xconn *c = w->c;
	c->queued -= w->len;
	free(w);
	if (status < 0 && status != UV_ECANCELED && c->state != CONN_CLOSING)
		conn_close(c, REFUSE_PEER_CLOSED);
}

/* Moves everything SSL wrote into wbio onto the socket. */
static int conn_flush(struct xconn *c)
{
	size_t pending;
	while ((pending = BIO_ctrl_pending(c->wbio)) > 0) {
		struct write_req *w = malloc(sizeof *w + pending);
		if (!w)
			return DUET_ENOMEM;
		int n = BIO_read(c->wbio, w->data, (int)pending);
		if (n <= 0) {
			free(w);
			return DUET_EINVAL;
		}
		w->c = c;
		w->len = (size_t)n;
		uv_buf_t buf = uv_buf_init((char *)w->data, (unsigned)n);
		int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, conn_write_done);
		if (rc < 0) {
			free(w);
			return rc;
		}
		c->queued += w->len;
		if (c->queued > c->x->stats.send_queue_high_water)
			c->x->stats.send_queue_high_water = c->queued;
		c->last_write_ms = uv_now(c->x->loop);
	}
	/* A mem BIO keeps its largest buffer; after a big frame, start a new one. */
	BUF_MEM *bm = NULL;
	BIO_get_mem_ptr(c->wbio, &bm);
	if (bm && bm->max > (1u << 20)) {
		BIO *fresh = BIO_new(BIO_s_mem());
		if (fresh) {
			BIO_set_mem_eof_return(fresh, -1);
			SSL_set0_wbio(c->ssl, fresh); /* frees the old one */
			c->wbio = fresh;
		}
	}
	return 0;
}

/* Best effort: an alert or final bytes go out before the socket closes. */
static void conn_flush_now(struct xconn *c)
{
	uint8_t buf[1024];
	int n;
	while ((n = BIO_read(c->wbio, buf, sizeof buf)) > 0) {
		uv_buf_t b = uv_buf_init((char *)buf, (unsigned)n);
		if (uv_try_write((uv_stream_t *)&c->tcp, &b, 1) < 0)
			break;
	}
}

static void conn_timer_fired(uv_timer_t *t)
{
	struct xconn *c = t->data;
	if (c->state == CONN_CLOSING)
		return;
	struct xport *x = c->x;
	if (c->state != CONN_OPEN) {
		conn_close(c, REFUSE_HANDSHAKE_TIMEOUT);
		return;
	}
	uint64_t now = uv_now(x->loop);
	if (now - c->last_read_ms >= x->cfg.idle_timeout_ms) {
		conn_close(c, REFUSE_READ_TIMEOUT);
		return;
	}
	if (now - c->last_write_ms >= x->cfg.idle_timeout_ms / 3 &&
	    c->queued < x->cfg.send_queue_bytes)
		(void)conn_send(c, XPORT_TYPE_KEEPALIVE, NULL, 0);
}

static int conn_check_identity(struct xconn *c)
{
	struct xport *x = c->x;
	char names[8][DUET_NAME_MAX];
	int n = xport_tls_peer_names(c->ssl, names, 8);
	if (c->outbound) {
		const char *want = c->dialer ? c->dialer->name : "";
		for (int i = 0; i < n; i++)
			if (strcmp(names[i], want) == 0) {
				memcpy(c->peer_name, names[i], sizeof c->peer_name);
				return 0;
			}
		xport_log(x, XPORT_LOG_WARN, "%s presented certificate for '%s', expected '%s'",
			  c->peer_desc, n ? names[0] : "(no name)", want);
		return REFUSE_WRONG_PEER;
	}
	for (int i = 0; i < n; i++) {
		uint32_t id = xport_member_by_name(x, names[i]);
		if (id) {
			c->peer_id = id;
			memcpy(c->peer_name, names[i], sizeof c->peer_name);
			size_t l = strlen(c->peer_desc);
			snprintf(c->peer_desc + l, sizeof c->peer_desc - l, " (%s)", names[i]);
			return 0;
		}
	}
	xport_log(x, XPORT_LOG_WARN, "%s presented certificate for '%s', not a member",
		  c->peer_desc, n ? names[0] : "(no name)");
	return REFUSE_UNKNOWN_MEMBER;
}

/* Returns 0 while handshaking or once open; -1 if the connection closed. */
static int conn_handshake(struct xconn *c)
{
	struct xport *x = c->x;
	int r = SSL_do_handshake(c->ssl);
	if (r != 1) {
		int e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ) {
			ERR_clear_error();
			if (conn_flush(c) < 0) {
				conn_close(c, REFUSE_PEER_CLOSED);
				return -1;
			}
			return 0;
		}
		long v = SSL_get_verify_result(c->ssl);
		char text[200];
		xport_tls_error_text(text, sizeof text);
		xport_log(x, XPORT_LOG_DEBUG, "TLS handshake with %s failed: %s%s%s", c->peer_desc,
			  text, v != X509_V_OK ? "; certificate: " : "",
			  v != X509_V_OK ? X509_verify_cert_error_string(v) : "");
		conn_flush_now(c);
		conn_close(c, v != X509_V_OK ? REFUSE_BAD_CERT : REFUSE_TLS_ERROR);
		return -1;
	}
	int why = conn_check_identity(c);
	if (why) {
		conn_close(c, (enum refuse_reason)why);
		return -1;
	}
	if (conn_flush(c) < 0) {
		conn_close(c, REFUSE_PEER_CLOSED);
		return -1;
	}
	c->state = CONN_OPEN;
	uint64_t tick = x->cfg.idle_timeout_ms / 3;
	uv_timer_start(&c->timer, conn_timer_fired, tick ? tick : 1, tick ? tick : 1);
	xport_conn_open(c);
	return c->state == CONN_OPEN ? 0 : -1;
}

/* Reads and delivers frames until SSL has nothing more; 0, or -1 if closed. */
static int conn_read_frames(struct xconn *c)
{
	struct xport *x = c->x;
	for (;;) {
		size_t want;
		uint32_t plen = 0;
		if (c->rlen < XPORT_FRAME_HEADER_BYTES) {
			want = XPORT_FRAME_HEADER_BYTES;
		} else {
			int rc = xport_frame_header_decode(c->rbuf, c->rlen, x->cfg.max_frame_bytes,
							   &plen);
			if (rc) {
				xport_log(x, XPORT_LOG_WARN, "bad frame header from %s: %s",
					  c->peer_desc, duet_strerror(rc));
				conn_close(c, rc == DUET_ETOOBIG ? REFUSE_OVERSIZED_FRAME
								 : REFUSE_BAD_FRAME);
				return -1;
			}
			want = xport_frame_size(plen);
		}
		if (c->rcap < want) {
			size_t cap = want < 4096 ? 4096 : want;
			uint8_t *p = realloc(c->rbuf, cap);
			if (!p) {
				conn_close(c, REFUSE_LOCAL);
				return -1;
			}
			c->rbuf = p;
			c->rcap = cap;
		}
		if (c->rlen < want) {
			size_t chunk = want - c->rlen;
			if (chunk > (1u << 30))
				chunk = 1u << 30;
			int n = SSL_read(c->ssl, c->rbuf + c->rlen, (int)chunk);
			if (n <= 0) {
				int e = SSL_get_error(c->ssl, n);
				if (e == SSL_ERROR_WANT_READ) {
					ERR_clear_error();
					return 0;
				}
				char text[200];
				xport_tls_error_text(text, sizeof text);
				xport_log(x, XPORT_LOG_DEBUG, "TLS read from %s: %s", c->peer_desc,
					  e == SSL_ERROR_ZERO_RETURN ? "closed" : text);
				conn_close(c, e == SSL_ERROR_ZERO_RETURN ? REFUSE_PEER_CLOSED
									 : REFUSE_TLS_ERROR);
				return -1;
			}
			c->rlen += (size_t)n;
			continue;
		}
		/* A whole frame is in rbuf. */
		struct xport_frame f;
		size_t used;
		int rc = xport_frame_decode(c->rbuf, c->rlen, x->cfg.max_frame_bytes, &f, &used);
		if (rc) {
			xport_log(x, XPORT_LOG_WARN, "bad frame from %s: %s", c->peer_desc,
				  duet_strerror(rc));
			conn_close(c, REFUSE_BAD_FRAME);
			return -1;
		}
		c->rlen = 0;
		if (f.type != XPORT_TYPE_KEEPALIVE) {
			x->stats.frames_received++;
			x->stats.bytes_received += used;
			/* f.payload points into rbuf, untouched until this call returns */
			x->cfg.on_recv(x->cfg.data, c->peer_id, f.type, f.payload, f.len);
			if (c->state != CONN_OPEN)
				return -1;
		}
		if (c->rcap > (1u << 20)) { /* keep small frames cheap after a big one */
			free(c->rbuf);
			c->rbuf = NULL;
			c->rcap = 0;
		}
	}
}

static void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct xconn *c = h->data;
	*buf = uv_buf_init((char *)c->netbuf, XPORT_NET_READ_BYTES);
}

static void conn_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct xconn *c = s->data;
	if (c->state == CONN_CLOSING)
		return;
	if (nread < 0) {
		conn_close(c, c->state == CONN_OPEN ? REFUSE_PEER_CLOSED : REFUSE_TLS_ERROR);
		return;
	}
	if (nread == 0)
		return;
	c->last_read_ms = uv_now(c->x->loop);
	if (BIO_write(c->rbio, buf->base, (int)nread) != (int)nread) {
		conn_close(c, REFUSE_LOCAL);
		return;
	}
	if (c->state == CONN_HANDSHAKE) {
		if (conn_handshake(c) < 0 || c->state != CONN_OPEN)
			return;
	}
	if (conn_read_frames(c) < 0)
		return;
	if (conn_flush(c) < 0) /* SSL may answer, e.g. a key update */
		conn_close(c, REFUSE_PEER_CLOSED);
}

static void conn_start_io(struct xconn *c)
{
	c->state = CONN_HANDSHAKE;
	uv_tcp_nodelay(&c->tcp, 1);
	int rc = uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_on_read);
	if (rc < 0) {
		conn_close(c, REFUSE_PEER_CLOSED);
		return;
	}
	if (c->outbound)
		conn_handshake(c); /* sends the ClientHello */
}

static void conn_set_desc(struct xconn *c)
{
	struct sockaddr_storage sa;
	int len = sizeof sa;
	char host[64] = "?";
	int port = 0;
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&sa, &len) == 0) {
		if (sa.ss_family == AF_INET6) {
			uv_ip6_name((struct sockaddr_in6 *)&sa, host, sizeof host);
			port = ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
		} else {
			uv_ip4_name((struct sockaddr_in *)&sa, host, sizeof host);
			port = ntohs(((struct sockaddr_in *)&sa)->sin_port);
		}
	}
	snprintf(c->peer_desc, sizeof c->peer_desc, "from %s:%d", host, port);
}

void conn_start_inbound(struct xconn *c)
{
	struct xport *x = c->x;
	conn_set_desc(c);
	SSL_set_accept_state(c->ssl);
	uv_timer_start(&c->timer, conn_timer_fired, x->cfg.handshake_timeout_ms, 0);
	conn_start_io(c);
}

static void conn_connected(uv_connect_t *req, int status)
{
	struct xconn *c = req->data;
	if (c->state == CONN_CLOSING)
		return;
	if (status < 0) {
		xport_log(c->x, XPORT_LOG_DEBUG, "connect %s: %s", c->peer_desc,
			  uv_strerror(status));
		conn_close(c, REFUSE_CONNECT_FAILED);
		return;
	}
	conn_start_io(c);
}

void conn_start_outbound(struct xconn *c, const struct sockaddr *sa)
{
	struct xport *x = c->x;
	SSL_set_connect_state(c->ssl);
	c->connect_req.data = c;
	uv_timer_start(&c->timer, conn_timer_fired, x->cfg.handshake_timeout_ms, 0);
	int rc = uv_tcp_connect(&c->connect_req, &c->tcp, sa, conn_connected);
	if (rc < 0) {
		xport_log(x, XPORT_LOG_DEBUG, "connect %s: %s", c->peer_desc, uv_strerror(rc));
		conn_close(c, REFUSE_CONNECT_FAILED);
	}
}

int conn_send(struct xconn *c, uint8_t type, const void *payload, uint32_t len)
{
	struct xport *x = c->x;
	size_t size = xport_frame_size(len);
	if (c->queued && c->queued + size > x->cfg.send_queue_bytes) {
		x->stats.send_queue_full++;
		return DUET_EBUSY;
	}
	int ok;
	if (size <= 16384) { /* one TLS record */
		uint8_t buf[16384];
		long n = xport_frame_encode(type, payload, len, buf, sizeof buf);
		if (n < 0)
			return (int)n;
		ok = SSL_write(c->ssl, buf, (int)n) == (int)n;
	} else { /* no plaintext copy of a big payload */
		uint8_t head[XPORT_FRAME_HEADER_BYTES], tail[XPORT_FRAME_TRAILER_BYTES];
		struct wire_writer w;
		wire_writer_init(&w, head, sizeof head);
		wire_put_u32(&w, XPORT_FRAME_MAGIC);
		wire_put_u8(&w, XPORT_FRAME_VERSION);
		wire_put_u8(&w, type);
		wire_put_u16(&w, 0);
		wire_put_u32(&w, len);
		uint32_t crc = duet_crc32c(duet_crc32c(0, head, sizeof head), payload, len);
		wire_writer_init(&w, tail, sizeof tail);
		wire_put_u32(&w, crc);
		ok = SSL_write(c->ssl, head, sizeof head) == (int)sizeof head &&
		     SSL_write(c->ssl, payload, (int)len) == (int)len &&
		     SSL_write(c->ssl, tail, sizeof tail) == (int)sizeof tail;
	}
	if (!ok) {
		char text[200];
		xport_tls_error_text(text, sizeof text);
		xport_log(x, XPORT_LOG_WARN, "TLS write to %s: %s", c->peer_desc, text);
		conn_close(c, REFUSE_TLS_ERROR);
		return -ENOTCONN;
	}
	int rc = conn_flush(c);
	if (rc < 0) {
		conn_close(c, REFUSE_PEER_CLOSED);
		return -ENOTCONN;
	}
	if (type != XPORT_TYPE_KEEPALIVE) {
		x->stats.frames_sent++;
		x->stats.bytes_sent += size;
	}
	return 0;
}
