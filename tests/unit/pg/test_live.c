/* SPDX-License-Identifier: MIT */
/*
 * test_live.c - duet_pg against real PostgreSQL 15 servers: a primary and
 * a streaming standby (application_name standby1) per test (cluster.h).
 * Probes on both roles; synchronous replication switched on, used, cleared
 * and persisted across a restart (ALTER SYSTEM, DESIGN 3); promotion; a
 * server that goes down.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "cluster.h"
#include "duet/pg.h"
#include "loop.h"

static struct cluster cl; /* static: the atexit safety net reads it */

static void live_setup(void)
{
	tl_setup();
	cl_start(&cl);
}

static void live_teardown(void)
{
	cl_stop(&cl); /* first: servers go away even if the loop check fails */
	tl_teardown();
}

TestSuite(pg_live, .init = live_setup, .fini = live_teardown, .timeout = 120);

static bool never(void *arg)
{
	return false;
}

static void pause_ms(unsigned ms)
{
	tl_run_until(never, NULL, ms);
}

/* Probes until standby1's row has `state` and `sync_state` (NULL: any), or
 * fails the test after wait_ms. Returns the last successful probe. */
static void wait_repl(struct duet_pg *pg, const char *state, const char *sync_state,
		      unsigned wait_ms, struct tl_result *r)
{
	uint64_t until = uv_now(tl_loop) + wait_ms;
	char last[400] = "no probe succeeded";
	for (;;) {
		int rc = tl_probe(pg, r, 5000);
		if (rc == 0) {
			const struct duet_pg_repl *row = tl_repl(&r->st, "standby1");
			if (row && strcmp(row->state, state) == 0 &&
			    (!sync_state || strcmp(row->sync_state, sync_state) == 0))
				return;
			snprintf(last, sizeof last, "%u rows; standby1: %s/%s", r->st.n_repl,
				 row ? row->state : "-", row ? row->sync_state : "-");
		} else {
			snprintf(last, sizeof last, "probe rc %d: %s", rc, r->err);
		}
		cr_assert(uv_now(tl_loop) < until, "standby1 not %s/%s within %u ms (last: %s)",
			  state, sync_state ? sync_state : "*", wait_ms, last);
		pause_ms(50);
	}
}

static bool lsn_like(const char *s)
{
	return s[0] && strchr(s, '/') != NULL;
}

Test(pg_live, probe_reports_role_and_replication)
{
	struct duet_pg *p = tl_pg_new(cl.primary.conninfo, 2000);
	struct duet_pg *s = tl_pg_new(cl.standby.conninfo, 2000);
	struct tl_result r;

	wait_repl(p, "streaming", NULL, 15000, &r);
	cr_assert_not(r.st.in_recovery);
	cr_assert_str_eq(r.st.sync_names, "");
	cr_assert(lsn_like(r.st.lsn), "primary lsn '%s'", r.st.lsn);
	cr_assert_str_eq(r.st.wal_receiver_status, "");
	const struct duet_pg_repl *row = tl_repl(&r.st, "standby1");
	cr_assert_str_eq(row->sync_state, "async");
	/* flush_lsn and replay_lsn stay NULL (lag -1) until the standby's
	 * first status message */
	uint64_t until = uv_now(tl_loop) + 15000;
	while (row->flush_lag_bytes < 0 || row->replay_lag_bytes < 0) {
		cr_assert(uv_now(tl_loop) < until, "lags still %lld %lld",
			  (long long)row->flush_lag_bytes, (long long)row->replay_lag_bytes);
		pause_ms(50);
		wait_repl(p, "streaming", NULL, 15000, &r);
		row = tl_repl(&r.st, "standby1");
	}

	until = uv_now(tl_loop) + 15000;
	for (;;) {
		cr_assert_eq(tl_probe(s, &r, 5000), 0, "standby probe: %s", r.err);
		if (strcmp(r.st.wal_receiver_status, "streaming") == 0)
			break;
		cr_assert(uv_now(tl_loop) < until, "wal receiver '%s', not streaming",
			  r.st.wal_receiver_status);
		pause_ms(50);
	}
	cr_assert(r.st.in_recovery);
	cr_assert_eq(r.st.n_repl, 0);
	cr_assert(lsn_like(r.st.lsn), "standby replay lsn '%s'", r.st.lsn);

	struct duet_pg_stats stats;
	duet_pg_get_stats(p, &stats);
	cr_assert_eq(stats.connects, 1,
		     "probes share one connection (%llu connects, %llu idle drops, %llu failed)",
		     (unsigned long long)stats.connects, (unsigned long long)stats.idle_drops,
		     (unsigned long long)stats.failed);
	cr_assert_eq(stats.failed + stats.timed_out, 0);
	tl_pg_close(p);
	tl_pg_close(s);
}

static void expect_setting(struct duet_pg *pg, const char *value)
{
	struct tl_result r;
	cr_assert_eq(tl_probe(pg, &r, 5000), 0, "probe: %s", r.err);
	cr_assert_str_eq(r.st.sync_names, value);
}

static bool file_contains(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "open %s", path);
	char buf[8192];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	return strstr(buf, needle) != NULL;
}

Test(pg_live, sync_names_switch_on_commit_clear_and_persist)
{
	struct duet_pg *pg = tl_pg_new(cl.primary.conninfo, 2000);
	struct tl_result r;
	char out[300];
	wait_repl(pg, "streaming", "async", 15000, &r);

	/* quoting: a single quote in the name, and case and spaces kept */
	cr_assert_eq(tl_set_sync(pg, "it's Standby 2", &r, 5000), 0, "%s", r.err);
	cr_assert_str_eq(r.err, "");
	expect_setting(pg, "\"it's Standby 2\"");

	cr_assert_eq(tl_set_sync(pg, "standby1", &r, 5000), 0, "%s", r.err);
	expect_setting(pg, "\"standby1\"");
	wait_repl(pg, "streaming", "sync", 15000, &r);

	/* a write commits, so the sync standby acknowledges */
	cr_assert_eq(cl_exec(&cl.primary,
			     "CREATE TABLE duet_t(x int); INSERT INTO duet_t VALUES (42)", out,
			     sizeof out),
		     0, "write on the primary: %s", out);
	uint64_t until = uv_now(tl_loop) + 10000;
	while (cl_exec(&cl.standby, "SELECT count(*) FROM duet_t", out, sizeof out) != 0 ||
	       strcmp(out, "1") != 0) {
		cr_assert(uv_now(tl_loop) < until, "row never reached the standby: %s", out);
		pause_ms(50);
	}

	cr_assert_eq(tl_set_sync(pg, "", &r, 5000), 0, "%s", r.err);
	expect_setting(pg, "");
	wait_repl(pg, "streaming", "async", 15000, &r);

	/* DESIGN 3: the setting survives a restart of the primary alone */
	cr_assert_eq(tl_set_sync(pg, "standby1", &r, 5000), 0, "%s", r.err);
	char auto_conf[512];
	snprintf(auto_conf, sizeof auto_conf, "%s/postgresql.auto.conf", cl.primary.datadir);
	cr_assert(file_contains(auto_conf, "synchronous_standby_names = '\"standby1\"'"));
	cl_restart(&cl, &cl.primary);
	/* the idle connection died with the old server: replaced, not reported */
	cr_assert_eq(tl_probe(pg, &r, 5000), 0, "first probe after restart: %s", r.err);
	cr_assert_str_eq(r.st.sync_names, "\"standby1\"");
	struct duet_pg_stats stats;
	duet_pg_get_stats(pg, &stats);
	cr_assert(stats.idle_drops >= 1, "the dead connection was not noticed");
	wait_repl(pg, "streaming", "sync", 15000, &r);
	cr_assert_eq(tl_set_sync(pg, "", &r, 5000), 0, "%s", r.err);
	tl_pg_close(pg);
}

Test(pg_live, promote_standby_and_a_server_that_is_down)
{
	struct duet_pg *p = tl_pg_new(cl.primary.conninfo, 2000);
	struct duet_pg *s = tl_pg_new(cl.standby.conninfo, 2000);
	struct tl_result r;
	wait_repl(p, "streaming", NULL, 15000, &r);

	cr_assert_eq(tl_promote(p, 5, &r, 10000), -EIO, "%s", r.err);
	cr_assert(strstr(r.err, "recovery is not in progress"), "'%s'", r.err);
	cr_assert_null(strchr(r.err, '\n'));

	cr_assert_eq(tl_probe(s, &r, 5000), 0, "%s", r.err);
	cr_assert(r.st.in_recovery);
	cr_assert_eq(tl_promote(s, 30, &r, 40000), 0, "promote: %s", r.err);
	cr_assert_eq(tl_probe(s, &r, 5000), 0, "%s", r.err);
	cr_assert_not(r.st.in_recovery, "promoted standby still in recovery");
	cr_assert_str_eq(r.st.wal_receiver_status, "");
	cr_assert(lsn_like(r.st.lsn));

	/* the old primary goes down: an error with a clear message, no hang */
	cl_stop_server(&cl, &cl.primary);
	int rc = tl_probe(p, &r, 5000);
	cr_assert_eq(rc, -ENOTCONN, "rc %d: %s", rc, r.err);
	char port[16];
	snprintf(port, sizeof port, "%d", cl.primary.port);
	cr_assert(strstr(r.err, "Connection refused") && strstr(r.err, port), "'%s'", r.err);
	tl_pg_close(p);
	tl_pg_close(s);
}

/* Probes pg and feeds the SYNC proof until it gives `want` (fails the test
 * after wait_ms); the last probe in r, the sentence in why. */
static void judge_until(struct duet_pg *pg, struct duet_pg_sync_proof *proof,
			enum duet_pg_sync_verdict want, unsigned wait_ms, struct tl_result *r,
			char *why, size_t whylen)
{
	uint64_t until = uv_now(tl_loop) + wait_ms;
	for (;;) {
		cr_assert_eq(tl_probe(pg, r, 5000), 0, "probe: %s", r->err);
		enum duet_pg_sync_verdict v =
		    duet_pg_sync_judge(proof, &r->st, "standby1", why, whylen);
		if (v == want)
			return;
		cr_assert(uv_now(tl_loop) < until, "verdict %d, not %d, within %u ms: %s", v, want,
			  wait_ms, why);
		pause_ms(20);
	}
}

static void exec_ok(const struct pg_server *s, const char *sql)
{
	char out[300];
	cr_assert_eq(cl_exec(s, sql, out, sizeof out), 0, "%s: %s", sql, out);
}

/* Defect 13.5, live: the LSN, the rows and their lags come from one
 * statement (the lag is exactly that LSN minus the flush position), probes
 * are numbered in the order they ran, and on a real synchronous standby the
 * proof needs a second probe even though the first shows it caught up. */
Test(pg_live, sync_on_needs_later_probe)
{
	struct duet_pg *pg = tl_pg_new(cl.primary.conninfo, 2000);
	struct tl_result r;
	char why[320];
	cr_assert_eq(tl_set_sync(pg, "standby1", &r, 5000), 0, "%s", r.err);
	wait_repl(pg, "streaming", "sync", 15000, &r);
	exec_ok(&cl.primary, "CREATE TABLE duet_t(x int); INSERT INTO duet_t VALUES (1)");

	uint64_t last_seq = 0;
	for (int i = 0; i < 20; i++) {
		cr_assert_eq(tl_probe(pg, &r, 5000), 0, "probe: %s", r.err);
		cr_assert_gt(r.st.probe_seq, last_seq, "probes numbered in order");
		last_seq = r.st.probe_seq;
		const struct duet_pg_repl *row = tl_repl(&r.st, "standby1");
		cr_assert_not_null(row);
		if (row->flush_lsn)
			cr_assert_eq((int64_t)(duet_pg_parse_lsn(r.st.lsn) - row->flush_lsn),
				     row->flush_lag_bytes,
				     "lag %lld is not %s - flush position %llX: not one statement",
				     (long long)row->flush_lag_bytes, r.st.lsn,
				     (unsigned long long)row->flush_lsn);
		exec_ok(&cl.primary, "INSERT INTO duet_t VALUES (2)");
	}

	/* idle and caught up: the first probe alone, seen twice, is no proof */
	struct duet_pg_sync_proof proof;
	memset(&proof, 0, sizeof proof);
	judge_until(pg, &proof, DUET_PG_SYNC_WAIT, 10000, &r, why, sizeof why);
	cr_assert_eq(duet_pg_sync_judge(&proof, &r.st, "standby1", why, sizeof why),
		     DUET_PG_SYNC_WAIT, "the same probe again: %s", why);
	uint64_t first = proof.first_seq;
	cr_assert_eq(first, r.st.probe_seq);
	judge_until(pg, &proof, DUET_PG_SYNC_PROVEN, 10000, &r, why, sizeof why);
	cr_assert_gt(proof.target_seq, first, "%s", why);
	cr_assert(strstr(why, "flushed"), "%s", why);
	tl_pg_close(pg);
}

/* Defect 13.6: pg_stat_replication says "sync" whatever synchronous_commit
 * is; with local/off at database, role or server level the proof refuses
 * and says why. A real primary with a real synchronous standby. */
Test(pg_live, sync_on_refused_synchronous_commit_local)
{
	struct duet_pg *pg = tl_pg_new(cl.primary.conninfo, 2000);
	struct tl_result r;
	char why[320];
	struct duet_pg_sync_proof proof;
	memset(&proof, 0, sizeof proof);
	cr_assert_eq(tl_set_sync(pg, "standby1", &r, 5000), 0, "%s", r.err);
	wait_repl(pg, "streaming", "sync", 15000, &r);
	judge_until(pg, &proof, DUET_PG_SYNC_PROVEN, 10000, &r, why, sizeof why);

	exec_ok(&cl.primary, "CREATE DATABASE app");
	exec_ok(&cl.primary, "ALTER DATABASE app SET synchronous_commit = local");
	judge_until(pg, &proof, DUET_PG_SYNC_REFUSED, 5000, &r, why, sizeof why);
	cr_assert(strstr(why, "synchronous_commit = local for database app: commits would not "
			      "wait for standby1; set it to on, remote_write or remote_apply"),
		  "%s", why);
	cr_assert_eq(tl_repl(&r.st, "standby1")->sync_state[0], 's', "still says sync");
	cr_assert_eq(proof.first_seq, 0, "the proof starts again");
	exec_ok(&cl.primary, "ALTER DATABASE app SET synchronous_commit = remote_write");
	judge_until(pg, &proof, DUET_PG_SYNC_PROVEN, 10000, &r, why, sizeof why);

	exec_ok(&cl.primary, "CREATE ROLE writer LOGIN");
	exec_ok(&cl.primary, "ALTER ROLE writer SET synchronous_commit = off");
	judge_until(pg, &proof, DUET_PG_SYNC_REFUSED, 5000, &r, why, sizeof why);
	cr_assert(strstr(why, "synchronous_commit = off for role writer:"), "%s", why);
	exec_ok(&cl.primary, "ALTER ROLE writer IN DATABASE app SET synchronous_commit = off");
	exec_ok(&cl.primary, "ALTER ROLE writer RESET synchronous_commit");
	judge_until(pg, &proof, DUET_PG_SYNC_REFUSED, 5000, &r, why, sizeof why);
	cr_assert(strstr(why, "= off for role writer in database app"), "%s", why);
	exec_ok(&cl.primary, "ALTER ROLE writer IN DATABASE app RESET synchronous_commit");
	judge_until(pg, &proof, DUET_PG_SYNC_PROVEN, 10000, &r, why, sizeof why);

	/* server level: ALTER SYSTEM + reload reaches the probe's backend
	 * asynchronously, so probe until it shows */
	exec_ok(&cl.primary, "ALTER SYSTEM SET synchronous_commit = off");
	exec_ok(&cl.primary, "SELECT pg_reload_conf()");
	judge_until(pg, &proof, DUET_PG_SYNC_REFUSED, 10000, &r, why, sizeof why);
	cr_assert(strstr(why, "synchronous_commit = off at server level"), "%s", why);

	/* the probe's own database overrides it to on: its session no longer
	 * shows the server's value, which comes from the files instead */
	exec_ok(&cl.primary, "ALTER DATABASE postgres SET synchronous_commit = on");
	tl_pg_close(pg);
	pg = tl_pg_new(cl.primary.conninfo, 2000);
	memset(&proof, 0, sizeof proof);
	judge_until(pg, &proof, DUET_PG_SYNC_REFUSED, 5000, &r, why, sizeof why);
	cr_assert_str_eq(r.st.sc_source, "database");
	cr_assert(strstr(why, "= off at server level (configuration files)"), "%s", why);

	exec_ok(&cl.primary, "ALTER SYSTEM RESET synchronous_commit");
	exec_ok(&cl.primary, "SELECT pg_reload_conf()");
	judge_until(pg, &proof, DUET_PG_SYNC_PROVEN, 10000, &r, why, sizeof why);
	tl_pg_close(pg);
}
