/* SPDX-License-Identifier: MIT */
/*
 * proxy.c - see proxy.h. Each relayed connection is a pair of sockets; a
 * byte read on one is written to the other. Pairs are freed once both
 * sockets have closed.
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "fixture.h"
#include "proxy.h"

struct proxy_pair {
	struct proxy *p;
	struct proxy_pair *next;
	uv_tcp_t side[2]; /* 0: accepted client, 1: to target */
	uv_connect_t creq;
	int open;
	bool closing, connected;
};

struct fwd {
	uv_write_t req;
	char data[];
};

static void pair_closed(uv_handle_t *h)
{
	struct proxy_pair *pp = h->data;
	struct proxy *p = pp->p;
	p->open_handles--;
	if (--pp->open == 0) {
		for (struct proxy_pair **q = &p->pairs; *q; q = &(*q)->next)
			if (*q == pp) {
				*q = pp->next;
				break;
			}
		free(pp);
	}
}

static void pair_close(struct proxy_pair *pp)
{
	if (pp->closing)
		return;
	pp->closing = true;
	for (int i = 0; i < 2; i++)
		uv_close((uv_handle_t *)&pp->side[i], pair_closed);
}

static void fwd_done(uv_write_t *req, int status)
{
	free(req);
}

static void pair_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static char b[65536];
	*buf = uv_buf_init(b, sizeof b);
}

static void pair_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct proxy_pair *pp = s->data;
	if (pp->closing)
		return;
	if (n < 0) {
		pair_close(pp);
		return;
	}
	if (n == 0)
		return;
	uv_stream_t *other = (uv_stream_t *)&pp->side[s == (uv_stream_t *)&pp->side[0] ? 1 : 0];
	struct fwd *f = malloc(sizeof *f + (size_t)n);
	memcpy(f->data, buf->base, (size_t)n);
	uv_buf_t b = uv_buf_init(f->data, (unsigned)n);
	if (uv_write(&f->req, other, &b, 1, fwd_done) < 0) {
		free(f);
		pair_close(pp);
	}
}

static void pair_reading(struct proxy_pair *pp, bool on)
{
	for (int i = 0; i < 2; i++)
		if (on)
			uv_read_start((uv_stream_t *)&pp->side[i], pair_alloc, pair_read);
		else
			uv_read_stop((uv_stream_t *)&pp->side[i]);
}

static void pair_connected(uv_connect_t *req, int status)
{
	struct proxy_pair *pp = req->data;
	if (pp->closing)
		return;
	if (status < 0) {
		pair_close(pp);
		return;
	}
	pp->connected = true;
	if (!pp->p->stalled)
		pair_reading(pp, true);
}

static void proxy_on_connection(uv_stream_t *server, int status)
{
	struct proxy *p = server->data;
	if (status < 0)
		return;
	struct proxy_pair *pp = calloc(1, sizeof *pp);
	pp->p = p;
	for (int i = 0; i < 2; i++) {
		uv_tcp_init(fx_loop, &pp->side[i]);
		pp->side[i].data = pp;
	}
	pp->open = 2;
	p->open_handles += 2;
	pp->next = p->pairs;
	p->pairs = pp;
	if (uv_accept(server, (uv_stream_t *)&pp->side[0]) < 0) {
		pair_close(pp);
		return;
	}
	pp->creq.data = pp;
	if (uv_tcp_connect(&pp->creq, &pp->side[1], (struct sockaddr *)&p->target, pair_connected) <
	    0)
		pair_close(pp);
}

static void listener_closed(uv_handle_t *h)
{
	((struct proxy *)h->data)->open_handles--;
	((struct proxy *)h->data)->listener_live = false;
}

static void proxy_listen(struct proxy *p)
{
	cr_assert(!p->listener_live, "run the loop after proxy_cut before proxy_restore");
	uv_tcp_init(fx_loop, &p->listener);
	p->listener_live = true;
	p->listener.data = p;
	p->open_handles++;
	cr_assert_eq(uv_tcp_bind(&p->listener, (struct sockaddr *)&p->listen_sa, 0), 0);
	cr_assert_eq(uv_listen((uv_stream_t *)&p->listener, 16, proxy_on_connection), 0);
	p->listening = true;
}

void proxy_start(struct proxy *p, int target_port)
{
	memset(p, 0, sizeof *p);
	uv_ip4_addr("127.0.0.1", target_port, &p->target);
	uv_ip4_addr("127.0.0.1", 0, &p->listen_sa);
	proxy_listen(p);
	int len = sizeof p->listen_sa;
	uv_tcp_getsockname(&p->listener, (struct sockaddr *)&p->listen_sa, &len);
	p->port = ntohs(p->listen_sa.sin_port);
	snprintf(p->addr, sizeof p->addr, "127.0.0.1:%d", p->port);
}

void proxy_cut(struct proxy *p)
{
	for (struct proxy_pair *pp = p->pairs; pp; pp = pp->next)
		pair_close(pp);
	if (p->listening) {
		p->listening = false;
		uv_close((uv_handle_t *)&p->listener, listener_closed);
	}
}

void proxy_restore(struct proxy *p)
{
	if (!p->listening)
		proxy_listen(p);
}

void proxy_stall(struct proxy *p, bool stall)
{
	p->stalled = stall;
	for (struct proxy_pair *pp = p->pairs; pp; pp = pp->next)
		if (pp->connected && !pp->closing)
			pair_reading(pp, !stall);
}

void proxy_stop(struct proxy *p)
{
	proxy_cut(p);
}
