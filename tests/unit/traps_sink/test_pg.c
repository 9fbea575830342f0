/* SPDX-License-Identifier: MIT */
/*
 * test_pg.c - the PostgreSQL sink against real PostgreSQL 15 servers
 * (tests/unit/pg/cluster.c, one per test): rows inserted with the right
 * columns, a batch sent twice stored once (ON CONFLICT), \u0000 stored,
 * a table dropped under the sink made again, a server restart mid-stream
 * (every row present exactly once afterwards), and a statement the server
 * refuses (counted, logged without flooding, retried, holding up only the
 * batches after it; reset is the way out). Without a server: the config
 * checks (table names) and the connect deadline against a silent listener.
 */
#include <dlfcn.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "../pg/cluster.h"
#include "duet/err.h"
#include "fixture.h"

static struct cluster cl; /* static: the atexit safety net reads it */

static void pg_setup(void)
{
	fx_setup();
	cl_start(&cl);
}

static void pg_teardown(void)
{
	cl_stop(&cl); /* first: servers go away even if the loop check fails */
	fx_teardown();
}

TestSuite(sink_pg, .init = pg_setup, .fini = pg_teardown, .timeout = 180);
TestSuite(sink_pg_config, .init = fx_setup, .fini = fx_teardown, .timeout = 60);

static struct duet_sink_config pg_config(const char *conninfo, const char *table)
{
	struct duet_sink_config c = fx_config(DUET_SINK_POSTGRESQL);
	c.conninfo = conninfo;
	c.table = table;
	return c;
}

static void wait_confirmed(size_t n)
{
	cr_assert(fx_run_until(fx_confirmed_at_least, &n, 60000),
		  "only %zu of %zu batches confirmed (last error: %s)", fx.n_confirmed, n,
		  fx.sink ? fx_stats().last_error : "-");
}

/* The first value of sql's answer on the primary. */
static const char *query(const char *sql)
{
	static char out[1024];
	int rc = cl_exec(&cl.primary, sql, out, sizeof out);
	cr_assert_eq(rc, 0, "%s: %s", sql, out);
	return out;
}

static int submit_one(uint64_t tag, const char *id, const char *payload)
{
	struct duet_trap t;
	memset(&t, 0, sizeof t);
	t.kind = DUET_TRAP_CUSTOM;
	t.recv_ms = 7;
	snprintf(t.sender, sizeof t.sender, "198.51.100.9");
	t.payload = (const uint8_t *)payload;
	t.len = (uint32_t)strlen(payload);
	struct duet_sink_record r = {.trap = &t, .receiver = "node-b"};
	snprintf(r.id, sizeof r.id, "%s", id);
	return duet_sink_submit(fx.sink, tag, &r, 1);
}

/* The value of the first member named key anywhere in doc (depth first),
 * or NULL: the stats document nests the transport's part. */
static const json_t *find_key(const json_t *doc, const char *key)
{
	const char *k;
	const json_t *v;
	if (!json_is_object(doc))
		return NULL;
	json_object_foreach((json_t *)doc, k, v)
	{
		if (strcmp(k, key) == 0)
			return v;
		const json_t *in = find_key(v, key);
		if (in)
			return in;
	}
	return NULL;
}

Test(sink_pg, inserts_rows_once_and_recreates_a_dropped_table)
{
	/* the helper's initdb names its encoding and locale: the same whatever
	 * LANG the suite runs under (SQL_ASCII without them and without LANG) */
	cr_assert_str_eq(query("SHOW server_encoding"), "UTF8");
	cr_assert_str_eq(query("SHOW lc_ctype"), "C.UTF-8");
	struct duet_sink_config c = pg_config(cl.primary.conninfo, "traps_t");
	fx_sink_new(&c);
	for (unsigned tag = 0; tag < 20; tag++)
		cr_assert_eq(fx_submit(tag, tag * 10, 10, 30), 0);
	wait_confirmed(20);
	fx_assert_confirmed_in_order(20);
	cr_assert_str_eq(query("SELECT count(*) FROM traps_t"), "200");
	/* k = 17: sender 192.0.2.18, ordinal 1 + 17 % 3, identity bytes 0x11 */
	cr_assert_str_eq(query("SELECT kind || ' ' || sender || ' ' || receiver || ' ' || recv_ms "
			       "|| ' ' || ordinal || ' ' || identity || ' ' || (trap->>'n') || ' ' "
			       "|| jsonb_typeof(trap) FROM traps_t WHERE id = 'r17'"),
			 "syslog 192.0.2.18 node-a 1700000000017 3 "
			 "1111111111111111111111111111111111111111111111111111111111111111 17 "
			 "object");

	/* the same records again (a new master resending): stored once */
	cr_assert_eq(fx_submit(20, 0, 10, 30), 0);
	cr_assert_eq(fx_submit(21, 0, 10, 30), 0);
	wait_confirmed(22);
	fx_assert_confirmed_in_order(22);
	cr_assert_str_eq(query("SELECT count(*) FROM traps_t"), "200");

	/* jsonb cannot hold U+0000: it is stored as U+FFFD rather than refused */
	cr_assert_eq(submit_one(22, "nul", "{\"m\":\"a\\u0000b\"}"), 0);
	wait_confirmed(23);
	cr_assert_str_eq(query("SELECT trap->>'m' = E'a\\uFFFDb' FROM traps_t WHERE id = 'nul'"),
			 "t");

	/* a table dropped under the sink: the INSERT fails, the reconnection
	 * makes the table again, the batch goes again */
	query("DROP TABLE traps_t");
	cr_assert_eq(fx_submit(23, 1000, 5, 30), 0);
	wait_confirmed(24);
	fx_assert_confirmed_in_order(24);
	cr_assert_str_eq(query("SELECT count(*) FROM traps_t"), "5");
	struct duet_sink_stats st = fx_stats();
	cr_assert_eq(st.errors, 1, "%s", st.last_error);
	cr_assert_not_null(strstr(st.last_error, "42P01"), "undefined_table: %s", st.last_error);
	cr_assert(st.connected);
	cr_assert_eq(st.connects, 2);
	cr_assert_eq(st.records_sent, 200 + 20 + 1 + 5);
	cr_assert_eq(st.queued_batches, 0);

	char json[1024];
	duet_sink_stats_json(fx.sink, json, sizeof json);
	cr_assert_not_null(strstr(json, "{\"type\":\"postgresql\",\"target\":\"127.0.0.1:"), "%s",
			   json);
	cr_assert_not_null(strstr(json, "\"table\":\"traps_t\""), "%s", json);
	cr_assert_not_null(strstr(json, "\"statement_errors\":1"), "%s", json);
}

Test(sink_pg, every_row_exactly_once_across_a_server_restart)
{
	struct duet_sink_config c = pg_config(cl.primary.conninfo, NULL); /* duet_traps */
	fx_sink_new(&c);
	for (unsigned tag = 0; tag < 30; tag++)
		cr_assert_eq(fx_submit(tag, tag * 20, 20, 100), 0);
	wait_confirmed(5);
	for (unsigned tag = 30; tag < 60; tag++)
		cr_assert_eq(fx_submit(tag, tag * 20, 20, 100), 0);
	uv_run(fx_loop, UV_RUN_NOWAIT); /* an INSERT goes out ... */
	uv_run(fx_loop, UV_RUN_NOWAIT);
	cl_restart(&cl, &cl.primary); /* ... and the server restarts under it */
	for (unsigned tag = 60; tag < 90; tag++)
		cr_assert_eq(fx_submit(tag, tag * 20, 20, 100), 0);
	wait_confirmed(90);
	fx_assert_confirmed_in_order(90);
	cr_assert_str_eq(query("SELECT count(*) FROM duet_traps"), "1800");
	cr_assert_str_eq(query("SELECT count(*) FROM duet_traps WHERE id IN "
			       "(SELECT 'r' || g FROM generate_series(0, 1799) g)"),
			 "1800");
	struct duet_sink_stats st = fx_stats();
	cr_assert_geq(st.errors, 1, "the restart was noticed");
	cr_assert_geq(st.connects, 2);
	cr_assert_geq(st.reconnects, 1);
	cr_assert_eq(st.records_sent, 1800);
}

static bool errors_at_least(void *arg)
{
	return fx_errors_at_least(arg);
}

/* A refusal about the server, not a record (here a trigger raising P0001,
 * as a dropped permission or a full disk would refuse): retried, never a
 * dead letter. */
Test(sink_pg, a_statement_refused_by_the_server_is_counted_logged_and_retried)
{
	query("CREATE TABLE refuses (id text PRIMARY KEY, kind text NOT NULL, sender text NOT "
	      "NULL, receiver text NOT NULL, recv_ms bigint NOT NULL, ordinal integer NOT NULL, "
	      "identity text NOT NULL, trap jsonb NOT NULL, inserted_at timestamptz NOT NULL "
	      "DEFAULT now())");
	query("CREATE FUNCTION refuse_bad() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF "
	      "NEW.id = 'bad' THEN RAISE EXCEPTION 'not now' USING ERRCODE = 'P0001'; END IF; "
	      "RETURN NEW; END $$");
	query("CREATE TRIGGER refuse_bad BEFORE INSERT ON refuses FOR EACH ROW EXECUTE "
	      "FUNCTION refuse_bad()");
	struct duet_sink_config c = pg_config(cl.primary.conninfo, "refuses");
	fx_sink_new(&c);
	cr_assert_eq(fx_submit(0, 0, 5, 10), 0);
	struct duet_trap good;
	memset(&good, 0, sizeof good);
	good.kind = DUET_TRAP_CUSTOM;
	good.payload = (const uint8_t *)"{\"ok\":1}";
	good.len = 8;
	struct duet_sink_record recs[2] = {{.id = "r5", .trap = &good, .receiver = "a"},
					   {.id = "bad", .trap = &good, .receiver = "a"}};
	cr_assert_eq(duet_sink_submit(fx.sink, 1, recs, 2), 0);
	cr_assert_eq(fx_submit(2, 6, 4, 10), 0);

	uint64_t errors = 6;
	cr_assert(fx_run_until(errors_at_least, &errors, 30000), "retries");
	/* batch 0 got through (one batch per statement after a refusal);
	 * batch 1 cannot, and batch 2 waits behind it: order is kept */
	cr_assert_eq(fx.n_confirmed, 1);
	cr_assert_eq(fx.tags[0], 0);
	cr_assert_str_eq(query("SELECT count(*) FROM refuses"), "5");
	struct duet_sink_stats st = fx_stats();
	cr_assert_eq(st.queued_batches, 2);
	cr_assert_eq(st.dead_letters, 0);
	cr_assert_not_null(strstr(st.last_error, "INSERT of batches 1..1 refused: P0001"), "%s",
			   st.last_error);
	cr_assert_geq(fx.logs[DUET_SINK_LOG_ERROR], 1);
	cr_assert_lt(fx.logs[DUET_SINK_LOG_ERROR], st.errors, "repeats are not all logged");
	cr_assert_not_null(strstr(fx.last_log[DUET_SINK_LOG_ERROR], "refused"), "%s",
			   fx.last_log[DUET_SINK_LOG_ERROR]);
	cr_assert_str_eq(query("SELECT count(*) FROM refuses_dead"), "0");

	duet_sink_reset(fx.sink); /* the operator's way out */
	cr_assert_eq(fx_submit(3, 10, 5, 10), 0);
	wait_confirmed(2);
	cr_assert_eq(fx.tags[1], 3);
	cr_assert_str_eq(query("SELECT count(*) FROM refuses"), "10");
	cr_assert(!fx.confirmed_inside);
}

/* Issue 13, defect 13: on a SQL_ASCII database a record with non-ASCII text
 * is refused for good (0A000), as is one whose payload is not JSON
 * (22P02); each became a retry for ever that held every later batch up.
 * Now: the encoding is warned about at connect, each such record is kept
 * in refused_dead (counted), and every other record is confirmed and
 * stored. */
Test(sink_pg, sink_pg_refused_record_dead_lettered)
{
	query("CREATE DATABASE ascii_db ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' "
	      "TEMPLATE template0");
	char conninfo[128];
	snprintf(conninfo, sizeof conninfo, "host=127.0.0.1 port=%d user=postgres dbname=ascii_db",
		 cl.primary.port);
	struct duet_sink_config c = pg_config(conninfo, "refused");
	fx_sink_new(&c);

	for (unsigned tag = 0; tag < 5; tag++)
		cr_assert_eq(fx_submit(tag, tag * 10, 10, 30), 0);
	struct duet_trap good, accent, broken;
	memset(&good, 0, sizeof good);
	good.kind = DUET_TRAP_CUSTOM;
	good.payload = (const uint8_t *)"{\"ok\":1}";
	good.len = 8;
	accent = broken = good;
	accent.payload = (const uint8_t *)"{\"m\":\"caf\\u00e9 \xc3\xa9\"}";
	accent.len = (uint32_t)strlen((const char *)accent.payload);
	broken.payload = (const uint8_t *)"{not json";
	broken.len = 9;
	struct duet_sink_record recs[4] = {{.id = "g1", .trap = &good, .receiver = "a"},
					   {.id = "u1", .trap = &accent, .receiver = "a"},
					   {.id = "g2", .trap = &good, .receiver = "a"},
					   {.id = "j1", .trap = &broken, .receiver = "a"}};
	cr_assert_eq(duet_sink_submit(fx.sink, 5, recs, 4), 0);
	for (unsigned tag = 6; tag < 12; tag++)
		cr_assert_eq(fx_submit(tag, tag * 10, 10, 30), 0);

	wait_confirmed(12);
	fx_assert_confirmed_in_order(12);
	struct duet_sink_stats st = fx_stats();
	cr_assert_eq(st.dead_letters, 2, "%s", st.last_error);
	cr_assert_eq(st.queued_batches, 0);

	/* the warning says what to do */
	cr_assert_eq(fx.logs[DUET_SINK_LOG_WARN], 1, "once, not at every connection");
	cr_assert_not_null(strstr(fx.last_log[DUET_SINK_LOG_WARN], "encoding is SQL_ASCII"), "%s",
			   fx.last_log[DUET_SINK_LOG_WARN]);
	cr_assert_not_null(strstr(fx.last_log[DUET_SINK_LOG_WARN], "ENCODING 'UTF8'"), "%s",
			   fx.last_log[DUET_SINK_LOG_WARN]);
	cr_assert_geq(fx.logs[DUET_SINK_LOG_ERROR], 2, "each dead letter is logged");
	cr_assert_not_null(strstr(fx.last_log[DUET_SINK_LOG_ERROR], "kept in table refused_dead"),
			   "%s", fx.last_log[DUET_SINK_LOG_ERROR]);

	/* every other record is there: 11 batches of 10 plus g1 and g2 */
	char out[1024];
	struct pg_server ascii = cl.primary;
	snprintf(ascii.conninfo, sizeof ascii.conninfo, "%s", conninfo);
	cr_assert_eq(cl_exec(&ascii, "SELECT count(*) FROM refused", out, sizeof out), 0, "%s",
		     out);
	cr_assert_str_eq(out, "112");
	cr_assert_eq(cl_exec(&ascii, "SELECT count(*) FROM refused WHERE id IN ('g1', 'g2')", out,
			     sizeof out),
		     0, "%s", out);
	cr_assert_str_eq(out, "2");
	cr_assert_eq(cl_exec(&ascii,
			     "SELECT string_agg(id || ' ' || sqlstate, ',' ORDER BY id) FROM "
			     "refused_dead",
			     out, sizeof out),
		     0, "%s", out);
	cr_assert(strncmp(out, "j1 22", 5) == 0 && strstr(out, ",u1 ") != NULL, "%s", out);
	/* the record is kept byte for byte */
	cr_assert_eq(
	    cl_exec(&ascii,
		    "SELECT position('\\xc3a9'::bytea IN record) > 0 AND position("
		    "'\"id\":\"u1\"'::bytea IN record) > 0 FROM refused_dead WHERE id = 'u1'",
		    out, sizeof out),
	    0, "%s", out);
	cr_assert_str_eq(out, "t");

	char json[2048];
	duet_sink_stats_json(fx.sink, json, sizeof json);
	json_error_t jerr;
	json_t *doc = json_loads(json, 0, &jerr);
	cr_assert_not_null(doc, "%s: %s", jerr.text, json);
	const json_t *v = find_key(doc, "dead_letters");
	cr_assert(json_is_integer(v) && json_integer_value(v) == 2, "%s", json);
	v = find_key(doc, "server_encoding");
	cr_assert(json_is_string(v) && strcmp(json_string_value(v), "SQL_ASCII") == 0, "%s", json);
	cr_assert(json_is_false(find_key(doc, "encoding_ok")), "%s", json);
	json_decref(doc);
	cr_assert_not_null(strstr(json, "ENCODING 'UTF8'"), "the advice: %s", json);
}

/* getaddrinfo() as libpq and libuv's thread pool call it: this test binary
 * defines it, so every call in the process comes here first (the dynamic
 * linker prefers the executable's definition) and goes on to libc's.
 * Lookups of the name "localhost" (not a numeric parse) are counted by the
 * thread they ran on. */
static pthread_t loop_thread;
static int lookups_on_loop, lookups_off_loop;

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		struct addrinfo **res)
{
	typedef int (*gai_fn)(const char *, const char *, const struct addrinfo *,
			      struct addrinfo **);
	static gai_fn real;
	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "getaddrinfo");
	if (node && strcmp(node, "localhost") == 0 &&
	    !(hints && (hints->ai_flags & AI_NUMERICHOST)))
		__atomic_add_fetch(pthread_equal(pthread_self(), loop_thread) ? &lookups_on_loop
									      : &lookups_off_loop,
				   1, __ATOMIC_SEQ_CST);
	return real(node, service, hints, res);
}

/* Issue 13, defect 8: PQconnectStart resolved a host name with a blocking
 * getaddrinfo() on the loop thread. Now the sink resolves it in the thread
 * pool and gives libpq hostaddr= (every address of the name, in order:
 * "localhost" may be ::1 first, the server listens on 127.0.0.1 only). */
Test(sink_pg, sink_pg_host_name_resolved_off_the_loop)
{
	loop_thread = pthread_self();
	char conninfo[128];
	/* a socket dir that does not exist first: libpq moves on to the next host */
	snprintf(conninfo, sizeof conninfo,
		 "host=/nonexistent-duet-dir,localhost port=%d user=postgres dbname=postgres",
		 cl.primary.port);
	struct duet_sink_config c = pg_config(conninfo, "by_name");
	fx_sink_new(&c);
	for (unsigned tag = 0; tag < 3; tag++)
		cr_assert_eq(fx_submit(tag, tag * 10, 10, 30), 0);
	wait_confirmed(3);
	cr_assert_str_eq(query("SELECT count(*) FROM by_name"), "30");
	cr_assert_eq(__atomic_load_n(&lookups_on_loop, __ATOMIC_SEQ_CST), 0,
		     "a lookup of localhost ran on the loop thread");
	cr_assert_geq(__atomic_load_n(&lookups_off_loop, __ATOMIC_SEQ_CST), 1,
		      "localhost was resolved in the thread pool");
	char json[2048];
	duet_sink_stats_json(fx.sink, json, sizeof json);
	cr_assert_not_null(strstr(json, "\"hostaddr\":\""), "%s", json);
	cr_assert_not_null(strstr(json, "127.0.0.1"), "%s", json);
}

/* ---- without a server ------------------------------------------------------------ */

Test(sink_pg_config, table_names_are_checked)
{
	const char *bad[] = {"Traps", "1t", "t-x", "t;drop table x", "s.t", "t\"", "t x"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct duet_sink_config c = pg_config("host=127.0.0.1 port=1", bad[i]);
		struct duet_trap_sink *s = NULL;
		char err[256] = "";
		cr_assert_eq(duet_sink_new(fx_loop, &c, &s, err, sizeof err), DUET_EINVAL, "'%s'",
			     bad[i]);
		cr_assert_not_null(strstr(err, "table"), "%s", err);
		cr_assert_null(s);
	}
	struct duet_sink_config c = pg_config("host=127.0.0.1 port=1", NULL);
	c.conninfo = NULL;
	struct duet_trap_sink *s = NULL;
	char err[256] = "";
	cr_assert_eq(duet_sink_new(fx_loop, &c, &s, err, sizeof err), DUET_EINVAL);
	c = pg_config("host=127.0.0.1 port=1 bogus_option=1", NULL);
	cr_assert_eq(duet_sink_new(fx_loop, &c, &s, err, sizeof err), DUET_EINVAL);
	cr_assert_not_null(strstr(err, "conninfo"), "%s", err);

	c = pg_config("host=127.0.0.1 port=1", "");
	fx_sink_new(&c);
	char json[1024];
	duet_sink_stats_json(fx.sink, json, sizeof json);
	cr_assert_not_null(strstr(json, "\"table\":\"duet_traps\""), "the default: %s", json);
	fx_sink_close();
}

Test(sink_pg_config, nothing_listening_queues)
{
	char conninfo[128];
	snprintf(conninfo, sizeof conninfo, "host=127.0.0.1 port=%d user=x dbname=x",
		 tl_free_port());
	struct duet_sink_config c = pg_config(conninfo, NULL);
	fx_sink_new(&c);
	cr_assert_eq(fx_submit(0, 0, 3, 10), 0);
	uint64_t errors = 3;
	cr_assert(fx_run_until(errors_at_least, &errors, FX_WAIT_MS));
	struct duet_sink_stats st = fx_stats();
	cr_assert(!st.connected);
	cr_assert_eq(st.queued_batches, 1);
	cr_assert_eq(fx.n_confirmed, 0);
	cr_assert_not_null(strstr(st.last_error, "cannot connect"), "%s", st.last_error);
}

Test(sink_pg_config, connect_deadline_on_a_silent_server)
{
	fx_srv.read_from = FX_MAX_CONNS; /* accepts, never reads, never answers */
	int port = fx_server_start(0);
	char conninfo[128];
	snprintf(conninfo, sizeof conninfo, "host=127.0.0.1 port=%d user=x dbname=x", port);
	struct duet_sink_config c = pg_config(conninfo, NULL);
	c.timeout_ms = 200;
	fx_sink_new(&c);
	cr_assert_eq(fx_submit(0, 0, 3, 10), 0);
	uint64_t errors = 2;
	cr_assert(fx_run_until(errors_at_least, &errors, FX_WAIT_MS));
	struct duet_sink_stats st = fx_stats();
	cr_assert_eq(fx.n_confirmed, 0);
	cr_assert_geq(fx_srv.n_conns, 2, "it connected, waited, gave up, tried again");
	cr_assert_str_eq(st.last_error, "timed out after 200 ms connecting");
}
