/* SPDX-License-Identifier: MIT */
/*
 * loop.c - see loop.h.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "loop.h"
#include "run_until.h"

uv_loop_t *tl_loop;
static uv_loop_t loop_storage;
static struct run_until tl_wait;

void tl_setup(void)
{
	tl_loop = &loop_storage;
	cr_assert_eq(uv_loop_init(tl_loop), 0);
	run_until_init(&tl_wait, tl_loop);
}

static void close_left_over(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

void tl_teardown(void)
{
	uv_walk(tl_loop, close_left_over, NULL);
	uv_run(tl_loop, UV_RUN_DEFAULT);
	cr_assert_eq(uv_loop_close(tl_loop), 0, "handles left open on the loop");
}

bool tl_run_until(bool (*pred)(void *), void *arg, unsigned timeout_ms)
{
	return run_until(&tl_wait, pred, arg, timeout_ms);
}

/* ---- duet_pg helpers ------------------------------------------------------ */

void tl_probe_cb(void *data, int rc, const struct duet_pg_state *st, const char *err)
{
	struct tl_result *r = data;
	r->calls++;
	r->rc = rc;
	cr_expect_not_null(err, "err must never be NULL");
	snprintf(r->err, sizeof r->err, "%s", err ? err : "(null)");
	r->has_state = st != NULL;
	if (st)
		r->st = *st;
	cr_expect_eq(rc == 0, st != NULL, "state given exactly on success (rc %d)", rc);
}

void tl_done_cb(void *data, int rc, const char *err)
{
	struct tl_result *r = data;
	r->calls++;
	r->rc = rc;
	cr_expect_not_null(err, "err must never be NULL");
	snprintf(r->err, sizeof r->err, "%s", err ? err : "(null)");
}

bool tl_called(void *result)
{
	return ((struct tl_result *)result)->calls > 0;
}

struct duet_pg *tl_pg_new(const char *conninfo, uint32_t timeout_ms)
{
	struct duet_pg_config cfg;
	memset(&cfg, 0, sizeof cfg);
	snprintf(cfg.conninfo, sizeof cfg.conninfo, "%s", conninfo);
	cfg.timeout_ms = timeout_ms;
	struct duet_pg *pg = NULL;
	cr_assert_eq(duet_pg_new(tl_loop, &cfg, &pg), 0, "duet_pg_new(%s)", conninfo);
	cr_assert_not_null(pg);
	return pg;
}

static void count_closed(void *data)
{
	(*(int *)data)++;
}

static bool closed_once(void *data)
{
	return *(int *)data > 0;
}

void tl_pg_close(struct duet_pg *pg)
{
	static int closed;
	closed = 0;
	duet_pg_close(pg, count_closed, &closed);
	cr_assert(tl_run_until(closed_once, &closed, 5000), "duet_pg_close never finished");
	cr_assert_eq(closed, 1);
}

static int finish(int rc, struct tl_result *r, unsigned wait_ms, const char *what)
{
	cr_assert_eq(rc, 0, "%s refused: %d", what, rc);
	cr_assert_eq(r->calls, 0, "%s: callback made from inside the call", what);
	cr_assert(tl_run_until(tl_called, r, wait_ms), "%s: no callback within %u ms", what,
		  wait_ms);
	cr_assert_eq(r->calls, 1);
	return r->rc;
}

int tl_probe(struct duet_pg *pg, struct tl_result *r, unsigned wait_ms)
{
	memset(r, 0, sizeof *r);
	return finish(duet_pg_probe(pg, tl_probe_cb, r), r, wait_ms, "probe");
}

int tl_set_sync(struct duet_pg *pg, const char *name, struct tl_result *r, unsigned wait_ms)
{
	memset(r, 0, sizeof *r);
	return finish(duet_pg_set_sync_names(pg, name, tl_done_cb, r), r, wait_ms, "set_sync");
}

int tl_promote(struct duet_pg *pg, uint32_t secs, struct tl_result *r, unsigned wait_ms)
{
	memset(r, 0, sizeof *r);
	return finish(duet_pg_promote(pg, secs, tl_done_cb, r), r, wait_ms, "promote");
}

const struct duet_pg_repl *tl_repl(const struct duet_pg_state *st, const char *name)
{
	for (uint32_t i = 0; i < st->n_repl; i++)
		if (strcmp(st->repl[i].application_name, name) == 0)
			return &st->repl[i];
	return NULL;
}

/* ---- ports and the silent listener ----------------------------------------- */

int tl_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert(fd >= 0);
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	socklen_t len = sizeof sa;
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

static void silent_accept(uv_stream_t *server, int status)
{
	struct tl_silent *s = server->data;
	if (status < 0 || s->n_clients == TL_SILENT_MAX)
		return;
	uv_tcp_t *c = &s->clients[s->n_clients++];
	uv_tcp_init(tl_loop, c);
	uv_accept(server, (uv_stream_t *)c); /* held open, never read, never written */
}

void tl_silent_start(struct tl_silent *s)
{
	memset(s, 0, sizeof *s);
	struct sockaddr_in sa;
	uv_ip4_addr("127.0.0.1", 0, &sa);
	cr_assert_eq(uv_tcp_init(tl_loop, &s->server), 0);
	s->server.data = s;
	cr_assert_eq(uv_tcp_bind(&s->server, (struct sockaddr *)&sa, 0), 0);
	cr_assert_eq(uv_listen((uv_stream_t *)&s->server, 64, silent_accept), 0);
	int len = sizeof sa;
	cr_assert_eq(uv_tcp_getsockname(&s->server, (struct sockaddr *)&sa, &len), 0);
	s->port = ntohs(sa.sin_port);
}

void tl_silent_stop(struct tl_silent *s)
{
	for (int i = 0; i < s->n_clients; i++)
		uv_close((uv_handle_t *)&s->clients[i], NULL);
	uv_close((uv_handle_t *)&s->server, NULL);
	uv_run(tl_loop, UV_RUN_NOWAIT);
}
