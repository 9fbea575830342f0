/* SPDX-License-Identifier: MIT */
/*
 * fixture.c - see fixture.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "certs.h"
#include "fixture.h"
#include "run_until.h"

uv_loop_t *fx_loop;
static uv_loop_t loop_storage;
static struct run_until fx_wait;
static struct node *fx_nodes[8];
static int fx_n_nodes;

void fx_setup(void)
{
	fx_loop = &loop_storage;
	cr_assert_eq(uv_loop_init(fx_loop), 0);
	run_until_init(&fx_wait, fx_loop);
	fx_n_nodes = 0;
	certs_setup();
}

static bool all_closed(void *arg)
{
	for (int i = 0; i < fx_n_nodes; i++)
		if (!fx_nodes[i]->closed)
			return false;
	return true;
}

static void close_left_over(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

void fx_teardown(void)
{
	for (int i = 0; i < fx_n_nodes; i++)
		fx_node_close(fx_nodes[i]);
	bool closed = fx_run_until(all_closed, NULL, 5000);
	uv_walk(fx_loop, close_left_over, NULL); /* a failed test may leave some */
	uv_run(fx_loop, UV_RUN_DEFAULT);         /* finishes every close */
	int rc = uv_loop_close(fx_loop);
	certs_teardown();
	cr_assert(closed, "transports did not finish closing");
	cr_assert_eq(rc, 0, "handles left open on the loop");
}

static void fx_log(void *data, int level, const char *text)
{
	struct node *n = data;
	if (getenv("XPORT_TEST_LOG"))
		fprintf(stderr, "[%s] %d %s\n", n->name, level, text);
}

static void fx_recv(void *data, uint32_t peer_id, uint8_t type, const uint8_t *payload,
		    uint32_t len)
{
	struct node *n = data;
	n->frames++;
	n->bytes += len;
	n->last_len = len;
	n->last_crc = duet_crc32c(0, payload, len);
	if (len >= 4) {
		uint32_t seq;
		memcpy(&seq, payload, 4);
		if (seq != n->next_seq)
			n->out_of_order = true;
		n->next_seq = seq + 1;
	}
}

struct xport_config fx_config(struct node *n, const char *cert)
{
	struct xport_config c;
	memset(&c, 0, sizeof c);
	memset(n, 0, sizeof *n);
	snprintf(n->ca_file, sizeof n->ca_file, "%s", certs_path(0, "ca", "crt"));
	snprintf(n->cert_file, sizeof n->cert_file, "%s", certs_path(1, cert, "crt"));
	snprintf(n->key_file, sizeof n->key_file, "%s", certs_path(2, cert, "key"));
	c.ca_file = n->ca_file;
	c.cert_file = n->cert_file;
	c.key_file = n->key_file;
	c.backoff_min_ms = 20;
	c.backoff_max_ms = 200;
	c.jitter_seed = 42;
	c.on_recv = fx_recv;
	c.on_log = fx_log;
	c.data = n;
	return c;
}

void fx_node_start(struct node *n, uint32_t id, const char *name, struct xport_config *cfg)
{
	n->id = id;
	snprintf(n->name, sizeof n->name, "%s", name);
	cfg->self_id = id;
	cfg->data = n;
	char err[300] = "";
	int rc = xport_new(fx_loop, cfg, &n->x, err, sizeof err);
	cr_assert_eq(rc, 0, "xport_new %s: %s", name, err);
	for (unsigned i = 0; i < cfg->n_listen; i++) {
		char host[DUET_ADDR_MAX - 8];
		snprintf(host, sizeof host, "%s", cfg->listen[i]);
		*strrchr(host, ':') = 0;
		snprintf(n->listen_addr[i], DUET_ADDR_MAX, "%s:%d", host,
			 xport_listen_port(n->x, i));
	}
	fx_nodes[fx_n_nodes++] = n;
}

static void node_closed(void *data)
{
	((struct node *)data)->closed = true;
}

void fx_node_close(struct node *n)
{
	if (n->x) {
		xport_close(n->x, node_closed);
		n->x = NULL;
	}
}

void fx_member(struct duet_membership *m, uint32_t id, const char *name, const char *addr0,
	       const char *addr1)
{
	struct duet_member *mem = &m->members[m->n++];
	memset(mem, 0, sizeof *mem);
	mem->id = id;
	mem->kind = DUET_MEMBER_DATA;
	snprintf(mem->name, sizeof mem->name, "%s", name);
	if (addr0)
		snprintf(mem->addrs[mem->n_addrs++], DUET_ADDR_MAX, "%s", addr0);
	if (addr1)
		snprintf(mem->addrs[mem->n_addrs++], DUET_ADDR_MAX, "%s", addr1);
}

bool fx_run_until(bool (*pred)(void *), void *arg, unsigned timeout_ms)
{
	return run_until(&fx_wait, pred, arg, timeout_ms);
}

/* ---- raw client ---------------------------------------------------------- */

static void raw_closed(uv_handle_t *h)
{
	((struct raw_client *)h->data)->closed = true;
}

static void raw_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static char sink[4096];
	*buf = uv_buf_init(sink, sizeof sink);
}

static void raw_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	if (n < 0)
		uv_close((uv_handle_t *)s, raw_closed);
}

static void raw_written(uv_write_t *req, int status)
{
	free(req);
}

static void raw_connected(uv_connect_t *req, int status)
{
	struct raw_client *r = req->data;
	if (status < 0) {
		uv_close((uv_handle_t *)&r->tcp, raw_closed);
		return;
	}
	r->connected = true;
	uv_read_start((uv_stream_t *)&r->tcp, raw_alloc, raw_read);
	if (r->send_len) {
		uv_write_t *w = malloc(sizeof *w);
		uv_buf_t b = uv_buf_init((char *)r->send, (unsigned)r->send_len);
		uv_write(w, (uv_stream_t *)&r->tcp, &b, 1, raw_written);
	}
}

void raw_client_start(struct raw_client *r, const char *ip, int port, const uint8_t *send,
		      size_t len)
{
	memset(r, 0, sizeof *r);
	r->send = send;
	r->send_len = len;
	struct sockaddr_in sa;
	uv_ip4_addr(ip, port, &sa);
	uv_tcp_init(fx_loop, &r->tcp);
	r->tcp.data = r;
	r->creq.data = r;
	cr_assert_eq(uv_tcp_connect(&r->creq, &r->tcp, (struct sockaddr *)&sa, raw_connected), 0);
}
