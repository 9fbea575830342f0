/* SPDX-License-Identifier: MIT */
/*
 * xport.c - the transport's lifecycle, listeners, dialers, membership and
 * xport_send() (behaviour documented in transport.h).
 *
 * A dialer owns the outbound side of one (peer, address): it keeps at most
 * one connection and, when that one goes away, starts a backoff timer
 * (exponential, with "equal jitter": half the delay fixed, half drawn from a
 * seeded xorshift generator, so runs are reproducible and reconnect storms
 * still spread out). Inbound connections belong to no dialer; they are
 * matched to a member by their certificate name after the handshake.
 *
 * Both members dial each other, so a pair usually has two connections per
 * address. Both are kept (no tie-break protocol to get wrong); xport_send
 * prefers outbound links in address order, then inbound ones.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duet/addr.h"
#include "xport_internal.h"

#define DEFAULT_SEND_QUEUE_BYTES (16u << 20)

void xport_log(struct xport *x, int level, const char *fmt, ...)
{
	if (!x->cfg.on_log)
		return;
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	x->cfg.on_log(x->cfg.data, level, line);
}

const char *xport_reason_name(enum refuse_reason r)
{
	switch (r) {
	case REFUSE_NONE:
		return "none";
	case REFUSE_BAD_CERT:
		return "certificate not signed by the cluster CA";
	case REFUSE_UNKNOWN_MEMBER:
		return "certificate name is not a member";
	case REFUSE_WRONG_PEER:
		return "certificate name is not the member dialed";
	case REFUSE_HANDSHAKE_TIMEOUT:
		return "handshake deadline passed";
	case REFUSE_TLS_ERROR:
		return "TLS error";
	case REFUSE_BAD_FRAME:
		return "bad frame";
	case REFUSE_OVERSIZED_FRAME:
		return "oversized frame";
	case REFUSE_TOO_MANY_CONNS:
		return "too many inbound connections";
	case REFUSE_READ_TIMEOUT:
		return "nothing received within the idle deadline";
	case REFUSE_CONNECT_FAILED:
		return "connect failed";
	case REFUSE_PEER_CLOSED:
		return "closed by peer or network";
	case REFUSE_LOCAL:
		return "closed locally";
	}
	return "?";
}

void xport_count_refusal(struct xport *x, enum refuse_reason r)
{
	struct xport_stats *s = &x->stats;
	switch (r) {
	case REFUSE_BAD_CERT:
		s->refused_bad_cert++;
		break;
	case REFUSE_UNKNOWN_MEMBER:
		s->refused_unknown_member++;
		break;
	case REFUSE_WRONG_PEER:
		s->refused_wrong_peer++;
		break;
	case REFUSE_HANDSHAKE_TIMEOUT:
		s->refused_handshake_timeout++;
		break;
	case REFUSE_TLS_ERROR:
		s->refused_tls_error++;
		break;
	case REFUSE_BAD_FRAME:
		s->refused_bad_frame++;
		break;
	case REFUSE_OVERSIZED_FRAME:
		s->refused_oversized_frame++;
		break;
	case REFUSE_TOO_MANY_CONNS:
		s->refused_too_many_conns++;
		break;
	case REFUSE_READ_TIMEOUT:
		s->read_timeouts++;
		break;
	case REFUSE_CONNECT_FAILED:
		s->connect_failures++;
		break;
	case REFUSE_NONE:
	case REFUSE_PEER_CLOSED:
	case REFUSE_LOCAL:
		break;
	}
}

int xport_parse_addr(const char *s, struct sockaddr_storage *sa)
{
	return duet_addr_parse(s, sa);
}

uint32_t xport_member_by_name(const struct xport *x, const char *name)
{
	for (uint32_t i = 0; i < x->members.n; i++) {
		const struct duet_member *m = &x->members.members[i];
		if (m->id != x->cfg.self_id && strcmp(m->name, name) == 0)
			return m->id;
	}
	return 0;
}

static void xport_finish_close(struct xport *x)
{
	xport_close_cb cb = x->close_cb;
	void *data = x->cfg.data;
	SSL_CTX_free(x->ctx);
	free(x);
	if (cb)
		cb(data);
}

void xport_handle_closed(struct xport *x)
{
	if (--x->n_handles == 0 && x->closing)
		xport_finish_close(x);
}

static void xport_simple_handle_closed(uv_handle_t *h)
{
	xport_handle_closed(h->data);
}

/* ---- dialers ------------------------------------------------------------- */

static uint64_t xport_rand(struct xport *x)
{
	/* xorshift64*: reproducible from jitter_seed, no global state */
	x->rng ^= x->rng >> 12;
	x->rng ^= x->rng << 25;
	x->rng ^= x->rng >> 27;
	return x->rng * 0x2545F4914F6CDD1DULL;
}

static void dialer_fire(uv_timer_t *t);

static void dialer_schedule(struct xdialer *d)
{
	struct xport *x = d->x;
	if (d->stopped || x->closing)
		return;
	uint32_t b = d->backoff_ms;
	uint64_t delay = b / 2 + xport_rand(x) % (b / 2 + 1);
	d->backoff_ms = b >= x->cfg.backoff_max_ms / 2 ? x->cfg.backoff_max_ms : b * 2;
	uv_timer_start(&d->timer, dialer_fire, delay, 0);
}

static void dialer_fire(uv_timer_t *t)
{
	struct xdialer *d = t->data;
	struct xport *x = d->x;
	if (d->stopped || x->closing || d->conn)
		return;
	struct xconn *c = conn_new(x, true);
	if (!c) {
		xport_log(x, XPORT_LOG_ERROR, "out of memory dialing %s at %s", d->name, d->addr);
		dialer_schedule(d);
		return;
	}
	x->stats.dialed++;
	c->dialer = d;
	c->peer_id = d->peer_id;
	c->addr_index = (int)d->addr_index;
	snprintf(c->peer_desc, sizeof c->peer_desc, "to %s at %s", d->name, d->addr);
	d->conn = c;
	conn_start_outbound(c, (const struct sockaddr *)&d->sa);
}

static void dialer_closed(uv_handle_t *h)
{
	struct xdialer *d = h->data;
	struct xport *x = d->x;
	free(d);
	xport_handle_closed(x);
}

static void dialer_stop(struct xdialer *d)
{
	d->stopped = true;
	if (d->conn) {
		struct xconn *c = d->conn;
		conn_close(c, REFUSE_LOCAL); /* detaches: d->conn = NULL */
	}
	uv_timer_stop(&d->timer);
	uv_close((uv_handle_t *)&d->timer, dialer_closed);
}

static struct xdialer *dialer_new(struct xport *x, const struct duet_member *m, unsigned j,
				  const struct sockaddr_storage *sa)
{
	struct xdialer *d = calloc(1, sizeof *d);
	if (!d)
		return NULL;
	d->x = x;
	d->peer_id = m->id;
	d->addr_index = j;
	memcpy(d->name, m->name, sizeof d->name);
	memcpy(d->addr, m->addrs[j], sizeof d->addr);
	d->sa = *sa;
	d->backoff_ms = x->cfg.backoff_min_ms;
	uv_timer_init(x->loop, &d->timer);
	d->timer.data = d;
	x->n_handles++;
	uv_timer_start(&d->timer, dialer_fire, 0, 0);
	return d;
}

void xport_conn_detached(struct xconn *c)
{
	struct xdialer *d = c->dialer;
	c->dialer = NULL;
	if (d && d->conn == c) {
		d->conn = NULL;
		dialer_schedule(d);
	}
}

void xport_conn_open(struct xconn *c)
{
	struct xport *x = c->x;
	x->stats.links_up++;
	if (c->dialer)
		c->dialer->backoff_ms = x->cfg.backoff_min_ms;
	xport_log(x, XPORT_LOG_INFO, "link %s up", c->peer_desc);
	if (x->cfg.on_link)
		x->cfg.on_link(x->cfg.data, c->peer_id, c->addr_index, 1);
}

/* ---- membership ---------------------------------------------------------- */

static bool dialer_matches(const struct xdialer *d, const struct duet_member *m, unsigned j)
{
	return d->peer_id == m->id && d->addr_index == j && strcmp(d->name, m->name) == 0 &&
	       strcmp(d->addr, m->addrs[j]) == 0;
}

int xport_set_membership(struct xport *x, const struct duet_membership *m)
{
	if (x->closing || m->n > DUET_MAX_MEMBERS)
		return DUET_EINVAL;
	struct sockaddr_storage sas[DUET_MAX_MEMBERS][DUET_MAX_ADDRS];
	for (uint32_t i = 0; i < m->n; i++) {
		const struct duet_member *mem = &m->members[i];
		if (mem->n_addrs > DUET_MAX_ADDRS)
			return DUET_EINVAL;
		for (unsigned j = 0; mem->id != x->cfg.self_id && j < mem->n_addrs; j++)
			if (xport_parse_addr(mem->addrs[j], &sas[i][j])) {
				xport_log(x, XPORT_LOG_ERROR,
					  "member %s: address '%s' is not host:port (numeric)",
					  mem->name, mem->addrs[j]);
				return DUET_EINVAL;
			}
	}
	x->members = *m;

	/* Keep dialers that still match; stop the rest. */
	struct xdialer *keep[DUET_MAX_MEMBERS * DUET_MAX_ADDRS] = {0};
	unsigned n_keep = 0;
	for (unsigned k = 0; k < DUET_MAX_MEMBERS * DUET_MAX_ADDRS; k++) {
		struct xdialer *d = x->dialers[k];
		if (!d)
			continue;
		x->dialers[k] = NULL;
		bool found = false;
		for (uint32_t i = 0; i < m->n && !found; i++)
			for (unsigned j = 0; j < m->members[i].n_addrs && !found; j++)
				found = m->members[i].id != x->cfg.self_id &&
					dialer_matches(d, &m->members[i], j);
		if (found)
			keep[n_keep++] = d;
		else
			dialer_stop(d);
	}
	unsigned n = 0;
	for (uint32_t i = 0; i < m->n; i++) {
		const struct duet_member *mem = &m->members[i];
		if (mem->id == x->cfg.self_id)
			continue;
		for (unsigned j = 0; j < mem->n_addrs; j++) {
			struct xdialer *d = NULL;
			for (unsigned k = 0; k < n_keep && !d; k++)
				if (keep[k] && dialer_matches(keep[k], mem, j)) {
					d = keep[k];
					keep[k] = NULL;
				}
			if (!d)
				d = dialer_new(x, mem, j, &sas[i][j]);
			if (!d) {
				xport_log(x, XPORT_LOG_ERROR, "out of memory for dialer to %s",
					  mem->name);
				continue;
			}
			x->dialers[n++] = d;
		}
	}
	/* Inbound links must still map to the same member. */
	for (struct xconn *c = x->conns; c; c = c->next)
		if (!c->outbound && c->state == CONN_OPEN &&
		    xport_member_by_name(x, c->peer_name) != c->peer_id)
			conn_close(c, REFUSE_UNKNOWN_MEMBER);
	return 0;
}

/* ---- listeners ----------------------------------------------------------- */

static void listener_on_connection(uv_stream_t *server, int status)
{
	struct xlistener *l = server->data;
	struct xport *x = l->x;
	if (status < 0) {
		xport_log(x, XPORT_LOG_WARN, "accept on port %d: %s", l->port, uv_strerror(status));
		return;
	}
	if (x->closing)
		return;
	struct xconn *c = conn_new(x, false);
	if (!c) {
		xport_log(x, XPORT_LOG_ERROR, "out of memory accepting on port %d", l->port);
		return;
	}
	x->stats.accepted++;
	x->n_inbound++;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
		conn_close(c, REFUSE_LOCAL);
		return;
	}
	if (x->n_inbound > x->cfg.max_inbound) {
		snprintf(c->peer_desc, sizeof c->peer_desc, "inbound on port %d", l->port);
		conn_close(c, REFUSE_TOO_MANY_CONNS);
		return;
	}
	conn_start_inbound(c);
}

static int listener_open(struct xport *x, unsigned i, const char *addr, char *errbuf, size_t errlen)
{
	struct xlistener *l = &x->listeners[i];
	struct sockaddr_storage sa;
	if (xport_parse_addr(addr, &sa)) {
		snprintf(errbuf, errlen, "listen address '%s' is not host:port (numeric)", addr);
		return DUET_EINVAL;
	}
	l->x = x;
	uv_tcp_init(x->loop, &l->tcp);
	l->tcp.data = x; /* for xport_simple_handle_closed */
	l->open = true;
	x->n_handles++;
	int rc = duet_addr_listen(&l->tcp, &sa, 64, listener_on_connection);
	if (rc < 0) {
		snprintf(errbuf, errlen, "cannot listen on %s: %s", addr, uv_strerror(rc));
		return rc;
	}
	l->port = rc;
	l->tcp.data = l;
	return 0;
}

int xport_listen_port(const struct xport *x, unsigned i)
{
	return i < x->n_listeners && x->listeners[i].open ? x->listeners[i].port : -1;
}

/* ---- lifecycle ----------------------------------------------------------- */

static void xport_close_listener(struct xlistener *l)
{
	if (!l->open)
		return;
	l->open = false;
	l->tcp.data = l->x;
	uv_close((uv_handle_t *)&l->tcp, xport_simple_handle_closed);
}

int xport_new(uv_loop_t *loop, const struct xport_config *config, struct xport **out, char *errbuf,
	      size_t errlen)
{
	*out = NULL;
	if (!config->on_recv || !config->ca_file || !config->cert_file || !config->key_file ||
	    config->n_listen > DUET_MAX_ADDRS || !config->self_id) {
		snprintf(errbuf, errlen,
			 "transport config needs self_id, on_recv, ca_file, cert_file, key_file "
			 "and at most %d listen addresses",
			 DUET_MAX_ADDRS);
		return DUET_EINVAL;
	}
	struct xport *x = calloc(1, sizeof *x);
	if (!x) {
		snprintf(errbuf, errlen, "out of memory");
		return DUET_ENOMEM;
	}
	x->loop = loop;
	x->cfg = *config;
	snprintf(x->ca_file, sizeof x->ca_file, "%s", config->ca_file);
	snprintf(x->cert_file, sizeof x->cert_file, "%s", config->cert_file);
	snprintf(x->key_file, sizeof x->key_file, "%s", config->key_file);
	x->cfg.ca_file = x->ca_file;
	x->cfg.cert_file = x->cert_file;
	x->cfg.key_file = x->key_file;
	for (unsigned i = 0; i < DUET_MAX_ADDRS; i++)
		x->cfg.listen[i] = NULL; /* not kept: only used below */
	struct xport_config *c = &x->cfg;
	if (!c->max_frame_bytes || c->max_frame_bytes > XPORT_MAX_FRAME_BYTES)
		c->max_frame_bytes = XPORT_MAX_FRAME_BYTES;
	if (!c->send_queue_bytes)
		c->send_queue_bytes = DEFAULT_SEND_QUEUE_BYTES;
	if (!c->handshake_timeout_ms)
		c->handshake_timeout_ms = 5000;
	if (!c->idle_timeout_ms)
		c->idle_timeout_ms = 10000;
	if (!c->backoff_min_ms)
		c->backoff_min_ms = 50;
	if (!c->backoff_max_ms)
		c->backoff_max_ms = 2000;
	if (c->backoff_max_ms < c->backoff_min_ms)
		c->backoff_max_ms = c->backoff_min_ms;
	if (!c->max_inbound)
		c->max_inbound = 32;
	x->rng = c->jitter_seed ^ (0x9E3779B97F4A7C15ULL * c->self_id);
	if (!x->rng)
		x->rng = 0x9E3779B97F4A7C15ULL;

	int rc = xport_tls_ctx(x, errbuf, errlen);
	if (rc) {
		free(x);
		return rc;
	}
	uv_timer_init(loop, &x->anchor);
	x->anchor.data = x;
	x->n_handles++;
	for (unsigned i = 0; i < config->n_listen; i++) {
		x->n_listeners = i + 1;
		rc = listener_open(x, i, config->listen[i], errbuf, errlen);
		if (rc) {
			/* handles exist: close them the libuv way, without a callback */
			xport_close(x, NULL);
			return rc;
		}
	}
	*out = x;
	return 0;
}

void xport_close(struct xport *x, xport_close_cb cb)
{
	if (x->closing)
		return;
	x->closing = true;
	x->close_cb = cb;
	for (unsigned k = 0; k < DUET_MAX_MEMBERS * DUET_MAX_ADDRS; k++)
		if (x->dialers[k]) {
			dialer_stop(x->dialers[k]);
			x->dialers[k] = NULL;
		}
	for (struct xconn *c = x->conns; c; c = c->next)
		conn_close(c, REFUSE_LOCAL);
	for (unsigned i = 0; i < x->n_listeners; i++)
		xport_close_listener(&x->listeners[i]);
	uv_close((uv_handle_t *)&x->anchor, xport_simple_handle_closed);
}

/* ---- sending ------------------------------------------------------------- */

static struct xconn *xport_pick_link(struct xport *x, uint32_t peer_id)
{
	for (unsigned j = 0; j < DUET_MAX_ADDRS; j++)
		for (unsigned k = 0; k < DUET_MAX_MEMBERS * DUET_MAX_ADDRS; k++) {
			struct xdialer *d = x->dialers[k];
			if (d && d->peer_id == peer_id && d->addr_index == j && d->conn &&
			    d->conn->state == CONN_OPEN)
				return d->conn;
		}
	for (struct xconn *c = x->conns; c; c = c->next)
		if (!c->outbound && c->peer_id == peer_id && c->state == CONN_OPEN)
			return c;
	return NULL;
}

int xport_send(struct xport *x, uint32_t peer_id, uint8_t type, const void *payload, uint32_t len)
{
	if (x->closing || type == XPORT_TYPE_KEEPALIVE || peer_id == x->cfg.self_id ||
	    !duet_membership_find(&x->members, peer_id) || (len && !payload))
		return DUET_EINVAL;
	if (len > x->cfg.max_frame_bytes)
		return DUET_ETOOBIG;
	struct xconn *c = xport_pick_link(x, peer_id);
	if (!c) {
		x->stats.send_no_link++;
		return -ENOTCONN;
	}
	return conn_send(c, type, payload, len);
}

int xport_link_up(const struct xport *x, uint32_t peer_id, unsigned addr_index)
{
	for (unsigned k = 0; k < DUET_MAX_MEMBERS * DUET_MAX_ADDRS; k++) {
		const struct xdialer *d = x->dialers[k];
		if (d && d->peer_id == peer_id && d->addr_index == addr_index)
			return d->conn && d->conn->state == CONN_OPEN;
	}
	return 0;
}

int xport_links_up(const struct xport *x, uint32_t peer_id)
{
	int n = 0;
	for (const struct xconn *c = x->conns; c; c = c->next)
		n += c->peer_id == peer_id && c->state == CONN_OPEN;
	return n;
}

void xport_get_stats(const struct xport *x, struct xport_stats *out)
{
	*out = x->stats;
}
