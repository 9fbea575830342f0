/* SPDX-License-Identifier: MIT */
/*
 * test_local.c - duet_pg without a PostgreSQL server: argument checks, a
 * server that is down, a server that accepts and never answers (deadlines,
 * and proof that the loop keeps turning while an operation waits), the
 * bounded queue, and close with operations outstanding.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "duet/pg.h"
#include "loop.h"

TestSuite(pg_local, .init = tl_setup, .fini = tl_teardown, .timeout = 30);

static bool never(void *arg)
{
	return false;
}

static void conninfo_for(char *buf, size_t len, int port)
{
	snprintf(buf, len, "host=127.0.0.1 port=%d user=postgres dbname=postgres", port);
}

Test(pg_local, refuses_bad_arguments_without_a_callback)
{
	struct duet_pg_config cfg;
	memset(&cfg, 0, sizeof cfg);
	struct duet_pg *pg = NULL;
	snprintf(cfg.conninfo, sizeof cfg.conninfo, "host=127.0.0.1 port");
	cr_assert_eq(duet_pg_new(tl_loop, &cfg, &pg), DUET_EINVAL, "conninfo that does not parse");
	memset(cfg.conninfo, 'a', sizeof cfg.conninfo);
	cr_assert_eq(duet_pg_new(tl_loop, &cfg, &pg), DUET_EINVAL, "conninfo without its NUL");
	char why[200] = "";
	cr_assert_eq(duet_pg_conninfo_check("host=127.0.0.1 port", why, sizeof why), DUET_EINVAL);
	cr_assert(why[0] != 0 && !strchr(why, '\n'), "reason: '%s'", why);
	cr_assert_eq(duet_pg_conninfo_check("postgresql://u@127.0.0.1:5/db", NULL, 0), 0);

	char ci[200];
	conninfo_for(ci, sizeof ci, tl_free_port());
	pg = tl_pg_new(ci, 500);
	struct tl_result r;
	memset(&r, 0, sizeof r);
	char long_name[DUET_PG_MAX_NAME_BYTES + 2];
	memset(long_name, 'n', sizeof long_name - 1);
	long_name[sizeof long_name - 1] = 0;
	const char *bad[] = {"stand\"by1", "\"",     "standby1\"; DROP TABLE x; --",
			     "a\nb",       "tab\tx", long_name};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert_eq(duet_pg_set_sync_names(pg, bad[i], tl_done_cb, &r), DUET_EINVAL,
			     "name '%s' must be refused", bad[i]);
	cr_assert_eq(duet_pg_set_sync_names(pg, NULL, tl_done_cb, &r), DUET_EINVAL);
	cr_assert_eq(duet_pg_set_sync_names(pg, "standby1", NULL, &r), DUET_EINVAL);
	cr_assert_eq(duet_pg_promote(pg, 0, tl_done_cb, &r), DUET_EINVAL);
	cr_assert_eq(duet_pg_promote(pg, DUET_PG_MAX_PROMOTE_WAIT_S + 1, tl_done_cb, &r),
		     DUET_EINVAL);
	cr_assert_eq(duet_pg_probe(pg, NULL, &r), DUET_EINVAL);
	cr_assert_eq(duet_pg_pending(pg), 0);
	struct duet_pg_stats stats;
	duet_pg_get_stats(pg, &stats);
	cr_assert_eq(stats.queued, 0);
	tl_run_until(never, NULL, 50);
	cr_assert_eq(r.calls, 0, "a refused call must not call back");
	tl_pg_close(pg);
}

Test(pg_local, server_down_fails_fast_with_a_clear_message)
{
	int port = tl_free_port();
	char ci[200], port_text[16];
	conninfo_for(ci, sizeof ci, port);
	snprintf(port_text, sizeof port_text, "%d", port);
	struct duet_pg *pg = tl_pg_new(ci, 2000);

	struct tl_result r;
	uint64_t t0 = uv_hrtime();
	int rc = tl_probe(pg, &r, 5000);
	uint64_t ms = (uv_hrtime() - t0) / 1000000;
	cr_assert_eq(rc, -ENOTCONN, "rc %d: %s", rc, r.err);
	cr_assert(strstr(r.err, "Connection refused") && strstr(r.err, port_text),
		  "message should say refused and name the port: '%s'", r.err);
	cr_assert_null(strchr(r.err, '\n'), "one line: '%s'", r.err);
	cr_assert(ms < 2000, "a refused connection is not a timeout (%llu ms)",
		  (unsigned long long)ms);

	cr_assert_eq(tl_set_sync(pg, "standby1", &r, 5000), -ENOTCONN, "%s", r.err);
	cr_assert_eq(tl_promote(pg, 1, &r, 5000), -ENOTCONN, "%s", r.err);

	struct duet_pg_stats stats;
	duet_pg_get_stats(pg, &stats);
	cr_assert_eq(stats.connects, 3, "each operation tries afresh");
	cr_assert_eq(stats.connect_failures, 3);
	cr_assert_eq(stats.failed, 3);
	tl_pg_close(pg);
}

struct timed {
	struct tl_result r;
	uint64_t at_ms; /* since t0 */
};
static uint64_t t0_ns;

static void timed_probe_cb(void *data, int rc, const struct duet_pg_state *st, const char *err)
{
	struct timed *t = data;
	t->at_ms = (uv_hrtime() - t0_ns) / 1000000;
	tl_probe_cb(&t->r, rc, st, err);
}

static unsigned ticks;
static void tick_cb(uv_timer_t *t)
{
	ticks++;
}

static bool both_called(void *arg)
{
	struct timed *t = arg;
	return t[0].r.calls > 0 && t[1].r.calls > 0;
}

Test(pg_local, silent_server_times_out_at_the_deadline_and_the_loop_keeps_turning)
{
	struct tl_silent s;
	tl_silent_start(&s);
	char ci[200], expect[120];
	conninfo_for(ci, sizeof ci, s.port);
	struct duet_pg *pg = tl_pg_new(ci, 1000);

	uv_timer_t tick;
	uv_timer_init(tl_loop, &tick);
	ticks = 0;
	uv_timer_start(&tick, tick_cb, 10, 10);

	/* blocking work before the call leaves the loop's cached time stale;
	 * the deadline must still count from the call */
	struct timespec nap = {0, 300 * 1000 * 1000};
	nanosleep(&nap, NULL);

	struct timed t[2];
	memset(t, 0, sizeof t);
	t0_ns = uv_hrtime();
	cr_assert_eq(duet_pg_probe(pg, timed_probe_cb, &t[0]), 0);
	cr_assert_eq(duet_pg_probe(pg, timed_probe_cb, &t[1]), 0); /* waits behind the first */
	cr_assert(tl_run_until(both_called, t, 5000), "no callback within 5 s");
	unsigned ticks_seen = ticks;
	uv_close((uv_handle_t *)&tick, NULL);

	for (int i = 0; i < 2; i++) {
		cr_assert_eq(t[i].r.calls, 1);
		cr_assert_eq(t[i].r.rc, -ETIMEDOUT, "op %d: rc %d (%s)", i, t[i].r.rc, t[i].r.err);
		cr_assert(t[i].at_ms >= 995 && t[i].at_ms < 4000,
			  "op %d ended at %llu ms, deadline 1000 ms", i,
			  (unsigned long long)t[i].at_ms);
	}
	snprintf(expect, sizeof expect, "timed out after 1000 ms connecting to 127.0.0.1:%d",
		 s.port);
	cr_assert_str_eq(t[0].r.err, expect);
	cr_assert(strstr(t[1].r.err, "timed out after 1000 ms"), "%s", t[1].r.err);
	/* not a speed check: a blocked loop would not have ticked at all */
	cr_assert(ticks_seen >= 20, "10 ms timer fired only %u times in 1 s", ticks_seen);
	cr_assert(s.n_clients >= 1, "libpq should have connected to the silent listener");

	struct duet_pg_stats stats;
	duet_pg_get_stats(pg, &stats);
	cr_assert_eq(stats.timed_out, 2);
	tl_pg_close(pg);
	tl_silent_stop(&s);
}

static bool all_called(void *arg)
{
	struct tl_result *r = arg;
	for (int i = 0; i < DUET_PG_MAX_QUEUE; i++)
		if (r[i].calls == 0)
			return false;
	return true;
}

Test(pg_local, queue_is_bounded)
{
	struct tl_silent s;
	tl_silent_start(&s);
	char ci[200];
	conninfo_for(ci, sizeof ci, s.port);
	struct duet_pg *pg = tl_pg_new(ci, 5000);

	static struct tl_result r[DUET_PG_MAX_QUEUE + 3];
	memset(r, 0, sizeof r);
	for (int i = 0; i < DUET_PG_MAX_QUEUE; i++) {
		int rc = i % 3 == 0   ? duet_pg_probe(pg, tl_probe_cb, &r[i])
			 : i % 3 == 1 ? duet_pg_set_sync_names(pg, "standby1", tl_done_cb, &r[i])
				      : duet_pg_promote(pg, 5, tl_done_cb, &r[i]);
		cr_assert_eq(rc, 0, "op %d refused: %d", i, rc);
	}
	int q = DUET_PG_MAX_QUEUE;
	cr_assert_eq(duet_pg_probe(pg, tl_probe_cb, &r[q]), DUET_EBUSY);
	cr_assert_eq(duet_pg_set_sync_names(pg, "", tl_done_cb, &r[q + 1]), DUET_EBUSY);
	cr_assert_eq(duet_pg_promote(pg, 5, tl_done_cb, &r[q + 2]), DUET_EBUSY);
	cr_assert_eq(duet_pg_pending(pg), DUET_PG_MAX_QUEUE);
	struct duet_pg_stats stats;
	duet_pg_get_stats(pg, &stats);
	cr_assert_eq(stats.queue_full, 3);
	cr_assert_eq(stats.queued, DUET_PG_MAX_QUEUE);

	tl_run_until(never, NULL, 100);
	for (int i = 0; i < q + 3; i++)
		cr_assert_eq(r[i].calls, 0, "op %d called back early", i);

	tl_pg_close(pg);
	cr_assert(all_called(r));
	for (int i = 0; i < q; i++) {
		cr_assert_eq(r[i].calls, 1, "op %d: %d callbacks", i, r[i].calls);
		cr_assert_eq(r[i].rc, -ECANCELED, "op %d: rc %d (%s)", i, r[i].rc, r[i].err);
	}
	for (int i = q; i < q + 3; i++)
		cr_assert_eq(r[i].calls, 0, "refused op %d must never call back", i);
	tl_silent_stop(&s);
}

/* During cancellation, a callback that tries to queue more is refused. */
static struct duet_pg *reentry_pg;
static int reentry_rc;
static void requeue_cb(void *data, int rc, const char *err)
{
	tl_done_cb(data, rc, err);
	reentry_rc = duet_pg_probe(reentry_pg, tl_probe_cb, data);
}

static void count_closed(void *data)
{
	(*(int *)data)++;
}

static bool closed_once(void *data)
{
	return *(int *)data > 0;
}

static bool client_connected(void *arg)
{
	return ((struct tl_silent *)arg)->n_clients > 0;
}

Test(pg_local, close_cancels_each_outstanding_operation_once)
{
	struct tl_silent s;
	tl_silent_start(&s);
	char ci[200];
	conninfo_for(ci, sizeof ci, s.port);
	struct duet_pg *pg = tl_pg_new(ci, 5000);

	struct tl_result r[5];
	memset(r, 0, sizeof r);
	cr_assert_eq(duet_pg_probe(pg, tl_probe_cb, &r[0]), 0);
	cr_assert_eq(duet_pg_set_sync_names(pg, "standby1", tl_done_cb, &r[1]), 0);
	cr_assert_eq(duet_pg_promote(pg, 3, tl_done_cb, &r[2]), 0);
	cr_assert_eq(duet_pg_set_sync_names(pg, "", tl_done_cb, &r[3]), 0);
	reentry_pg = pg;
	reentry_rc = 0;
	cr_assert_eq(duet_pg_promote(pg, 3, requeue_cb, &r[4]), 0);
	/* the head is now stuck connecting to the silent listener */
	cr_assert(tl_run_until(client_connected, &s, 2000));

	int closed = 0;
	duet_pg_close(pg, count_closed, &closed);
	duet_pg_close(pg, count_closed, &closed); /* a second close is a no-op */
	for (int i = 0; i < 5; i++)
		cr_assert_eq(r[i].calls, 0, "op %d called back from inside duet_pg_close", i);
	cr_assert(tl_run_until(closed_once, &closed, 2000), "closed() never called");
	tl_run_until(never, NULL, 50);
	cr_assert_eq(closed, 1);
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(r[i].calls, 1, "op %d: %d callbacks", i, r[i].calls);
		cr_assert_eq(r[i].rc, -ECANCELED, "op %d: rc %d", i, r[i].rc);
		cr_assert(r[i].err[0], "op %d: cancellation says why", i);
	}
	cr_assert_eq(reentry_rc, DUET_EINVAL, "queueing while closing must be refused");
	tl_silent_stop(&s);
}

/* A callback may queue the next operation, and a later one may close. */
struct chain {
	struct duet_pg *pg;
	int step;
	int rcs[3];
	bool closed;
};

static void chain_closed(void *data)
{
	((struct chain *)data)->closed = true;
}

static void chain_cb(void *data, int rc, const char *err)
{
	struct chain *c = data;
	c->rcs[c->step++] = rc;
	if (c->step < 3)
		cr_assert_eq(duet_pg_promote(c->pg, 1, chain_cb, c), 0);
	else
		duet_pg_close(c->pg, chain_closed, c);
}

static bool chain_done(void *arg)
{
	return ((struct chain *)arg)->closed;
}

Test(pg_local, callbacks_may_queue_and_close)
{
	char ci[200];
	conninfo_for(ci, sizeof ci, tl_free_port());
	struct chain c;
	memset(&c, 0, sizeof c);
	c.pg = tl_pg_new(ci, 1000);
	cr_assert_eq(duet_pg_set_sync_names(c.pg, "", chain_cb, &c), 0);
	cr_assert(tl_run_until(chain_done, &c, 10000));
	cr_assert_eq(c.step, 3);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(c.rcs[i], -ENOTCONN);
}
