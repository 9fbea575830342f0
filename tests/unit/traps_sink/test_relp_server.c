/* SPDX-License-Identifier: MIT */
/*
 * test_relp_server.c - the RELP sink against a server that misbehaves on
 * purpose: the fixture's line server on 127.0.0.1, answering by hand with
 * frames written by the test. This stands in for rsyslog only because a
 * real rsyslogd cannot be made to refuse the open, answer an rsp other
 * than 200, send garbage or an rsp for a txnr never sent (test_relp.c runs
 * the real one). Each fault must fail the connection, be counted by its
 * kind, confirm nothing, and the next connection, answered properly, must
 * get the whole batch again and confirm it.
 *
 * The server counts LF-terminated lines: the sink's open is 3 lines (its
 * offers), each syslog command 1 (a record has no LF).
 */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "duet/err.h"
#include "duet/traps_relp_frame.h"
#include "fixture.h"

TestSuite(sink_relp_server, .init = fx_setup, .fini = fx_teardown, .timeout = 60);

#define OPEN_LINES 3

static void start(void)
{
	fx_srv.ack = FX_ACK_NONE; /* it speaks RELP, written below, not {"ack":...} */
	int port = fx_server_start(0);
	struct duet_sink_config c = fx_config(DUET_SINK_RELP);
	static char addr[32];
	snprintf(addr, sizeof addr, "%s", fx_addr(port));
	c.address = addr;
	c.relp_window = 4;
	c.timeout_ms = 20000;
	fx_sink_new(&c);
}

static void send_frame(int conn, uint32_t txnr, const char *command, const char *data)
{
	char buf[512];
	size_t len = strlen(data);
	size_t n = relp_frame_header(txnr, command, len, buf);
	memcpy(buf + n, data, len);
	buf[n + len] = '\n';
	buf[n + len + 1] = 0;
	fx_conn_send(&fx_srv.conns[conn], buf);
}

struct lines_at {
	int conn;
	size_t n;
};

static bool has_lines(void *arg)
{
	const struct lines_at *w = arg;
	return fx_srv.n_conns > w->conn && fx_srv.conns[w->conn].n_ids >= w->n;
}

static void wait_lines(int conn, size_t n)
{
	struct lines_at w = {conn, n};
	cr_assert(fx_run_until(has_lines, &w, 20000), "connection %d: %zu lines, want %zu", conn,
		  fx_srv.n_conns > conn ? fx_srv.conns[conn].n_ids : 0, n);
}

static long long relp_error(const char *kind)
{
	char buf[4096];
	int n = duet_sink_stats_json(fx.sink, buf, sizeof buf);
	cr_assert(n > 0 && (size_t)n < sizeof buf);
	json_t *j = json_loads(buf, 0, NULL);
	cr_assert(j, "stats are not JSON: %s", buf);
	json_t *v = json_object_get(json_object_get(j, "relp_errors"), kind);
	if (!v)
		v = json_object_get(j, kind);
	cr_assert(json_is_integer(v), "no '%s' in %s", kind, buf);
	long long x = json_integer_value(v);
	json_decref(j);
	return x;
}

static void open_ok(int conn)
{
	wait_lines(conn, OPEN_LINES);
	send_frame(conn, 1, "rsp", "200 OK\nrelp_version=0\ncommands=syslog");
}

/* Connection 1 answers everything: the batch of 3 (txnrs 2, 3, 4) arrives
 * whole (again, if connection 0 got it: resent) and is confirmed. */
static void second_connection_delivers(long long resent)
{
	open_ok(1);
	wait_lines(1, OPEN_LINES + 3);
	for (uint32_t t = 2; t <= 4; t++)
		send_frame(1, t, "rsp", "200 OK");
	size_t one = 1;
	cr_assert(fx_run_until(fx_confirmed_at_least, &one, 20000), "not confirmed: %s",
		  fx_stats().last_error);
	fx_assert_confirmed_in_order(1);
	cr_assert_eq(relp_error("records_resent"), resent);
	fx_sink_close();
}

static bool failed_once(void *arg)
{
	return fx.sink && fx_stats().errors >= 1;
}

static void wait_failed(const char *kind)
{
	cr_assert(fx_run_until(failed_once, NULL, 20000), "the connection did not fail (%s)", kind);
	cr_assert_eq(relp_error(kind), 1, "not counted as %s: %s", kind, fx_stats().last_error);
	cr_assert_eq(fx.n_confirmed, 0, "confirmed after a %s", kind);
}

Test(sink_relp_server, open_refused)
{
	start();
	cr_assert_eq(fx_submit(0, 0, 3, 10), 0);
	wait_lines(0, OPEN_LINES);
	cr_assert(strstr(fx_srv.conns[0].first_line, " open "), "%s", fx_srv.conns[0].first_line);
	send_frame(0, 1, "rsp", "500 not today");
	wait_failed("open");
	cr_assert(strstr(fx_stats().last_error, "refused the RELP open: 500 not today"), "%s",
		  fx_stats().last_error);
	cr_assert_eq(fx_srv.conns[0].n_ids, OPEN_LINES, "records sent before the open's rsp");
	second_connection_delivers(0);
}

Test(sink_relp_server, open_without_syslog_offered)
{
	start();
	cr_assert_eq(fx_submit(0, 0, 3, 10), 0);
	wait_lines(0, OPEN_LINES);
	send_frame(0, 1, "rsp", "200 OK\nrelp_version=0\ncommands=eventlog");
	wait_failed("open");
	cr_assert(strstr(fx_stats().last_error, "no commands=syslog"), "%s", fx_stats().last_error);
	second_connection_delivers(0);
}

Test(sink_relp_server, rsp_other_than_200)
{
	start();
	cr_assert_eq(fx_submit(0, 0, 3, 10), 0);
	open_ok(0);
	wait_lines(0, OPEN_LINES + 3);
	send_frame(0, 2, "rsp", "200 OK");
	send_frame(0, 3, "rsp", "500 queue full");
	wait_failed("refused");
	cr_assert(strstr(fx_stats().last_error, "refused txnr 3: 500 queue full"), "%s",
		  fx_stats().last_error);
	second_connection_delivers(3);
}

Test(sink_relp_server, serverclose)
{
	start();
	cr_assert_eq(fx_submit(0, 0, 3, 10), 0);
	open_ok(0);
	wait_lines(0, OPEN_LINES + 3);
	send_frame(0, 0, "serverclose", "");
	wait_failed("serverclose");
	second_connection_delivers(3);
}

Test(sink_relp_server, malformed_frame)
{
	start();
	cr_assert_eq(fx_submit(0, 0, 3, 10), 0);
	open_ok(0);
	wait_lines(0, OPEN_LINES + 3);
	fx_conn_send(&fx_srv.conns[0], "2 rsp six 200 OK\n");
	wait_failed("malformed");
	second_connection_delivers(3);
}

Test(sink_relp_server, rsp_for_a_txnr_not_in_flight)
{
	start();
	cr_assert_eq(fx_submit(0, 0, 3, 10), 0);
	open_ok(0);
	wait_lines(0, OPEN_LINES + 3);
	send_frame(0, 2, "rsp", "200 OK");
	send_frame(0, 2, "rsp", "200 OK"); /* twice */
	wait_failed("malformed");
	cr_assert(strstr(fx_stats().last_error, "txnr 2, which is not in flight"), "%s",
		  fx_stats().last_error);
	second_connection_delivers(3);
}

Test(sink_relp_server, no_rsp_times_out)
{
	fx_srv.ack = FX_ACK_NONE;
	int port = fx_server_start(0);
	struct duet_sink_config c = fx_config(DUET_SINK_RELP);
	static char addr[32];
	snprintf(addr, sizeof addr, "%s", fx_addr(port));
	c.address = addr;
	c.timeout_ms = 200;
	fx_sink_new(&c);
	cr_assert_eq(fx_submit(0, 0, 3, 10), 0);
	open_ok(0);
	wait_lines(0, OPEN_LINES + 3);
	wait_failed("timeout");
	cr_assert(strstr(fx_stats().last_error, "no rsp for 200 ms, 3 command(s) in flight"), "%s",
		  fx_stats().last_error);
	fx_sink_close();
}

Test(sink_relp_server, the_window_bounds_commands_in_flight)
{
	start(); /* window 4 */
	cr_assert_eq(fx_submit(0, 0, 3, 10), 0);
	cr_assert_eq(fx_submit(1, 3, 3, 10), 0);
	open_ok(0);
	wait_lines(0, OPEN_LINES + 4);
	cr_assert_eq(relp_error("in_flight"), 4);
	send_frame(0, 2, "rsp", "200 OK");
	wait_lines(0, OPEN_LINES + 5); /* one answered: one more sent */
	cr_assert_eq(relp_error("in_flight"), 4);
	for (uint32_t t = 3; t <= 7; t++)
		send_frame(0, t, "rsp", "200 OK");
	size_t two = 2;
	cr_assert(fx_run_until(fx_confirmed_at_least, &two, 20000), "not confirmed: %s",
		  fx_stats().last_error);
	fx_assert_confirmed_in_order(2);
	cr_assert_eq(fx_stats().errors, 0);
	fx_sink_close();
}

Test(sink_relp_server, dead_letter_counted_once_though_first_sent_on_a_later_connection)
{
	fx_srv.ack = FX_ACK_NONE;
	int port = fx_server_start(0);
	struct duet_sink_config c = fx_config(DUET_SINK_RELP);
	static char addr[32];
	snprintf(addr, sizeof addr, "%s", fx_addr(port));
	c.address = addr;
	c.relp_window = 2;
	c.relp_max_message_bytes = 512;
	fx_sink_new(&c);
	/* one batch: r0, r1 small, r2 of 2000 bytes: the window of 2 keeps r2
	 * off the first connection */
	static char big[2100];
	memset(big, 'x', sizeof big);
	memcpy(big, "{\"pad\":\"", 8);
	memcpy(big + 2000, "\"}", 2);
	const char *payloads[] = {"{\"n\":0}", "{\"n\":1}", big};
	size_t lens[] = {7, 7, 2002};
	struct duet_trap traps[3];
	struct duet_sink_record recs[3];
	memset(traps, 0, sizeof traps);
	memset(recs, 0, sizeof recs);
	for (int i = 0; i < 3; i++) {
		traps[i].kind = DUET_TRAP_CUSTOM;
		traps[i].receiver = 1;
		traps[i].ordinal = 1;
		snprintf(traps[i].sender, sizeof traps[i].sender, "192.0.2.1");
		traps[i].payload = (const uint8_t *)payloads[i];
		traps[i].len = (uint32_t)lens[i];
		snprintf(recs[i].id, sizeof recs[i].id, "r%d", i);
		recs[i].trap = &traps[i];
		recs[i].receiver = "node-a";
	}
	cr_assert_eq(duet_sink_submit(fx.sink, 0, recs, 3), 0);
	open_ok(0);
	wait_lines(0, OPEN_LINES + 2);
	send_frame(0, 2, "rsp", "500 not now");
	wait_failed("refused");
	cr_assert_eq(fx_stats().dead_letters, 1, "counted before any connection sent it");
	open_ok(1);
	wait_lines(1, OPEN_LINES + 2);
	send_frame(1, 2, "rsp", "200 OK");
	send_frame(1, 3, "rsp", "200 OK");
	wait_lines(1, OPEN_LINES + 3);
	cr_assert(strstr(fx_srv.conns[1].first_line, " open "));
	send_frame(1, 4, "rsp", "200 OK");
	size_t one = 1;
	cr_assert(fx_run_until(fx_confirmed_at_least, &one, 20000), "not confirmed: %s",
		  fx_stats().last_error);
	cr_assert_eq(fx_stats().dead_letters, 1, "counted again on the resend");
	fx_sink_close();
}

Test(sink_relp_server, close_right_after_new_and_submit)
{
	start();
	cr_assert_eq(fx_submit(0, 0, 3, 10), 0);
	fx_sink_close(); /* before the connection is up: nothing leaks, nothing confirmed */
	cr_assert_eq(fx.n_confirmed, 0);
}

Test(sink_relp_server, close_while_opening_and_with_nothing_listening)
{
	start();
	cr_assert_eq(fx_submit(0, 0, 3, 10), 0);
	wait_lines(0, OPEN_LINES); /* the open sent, never answered */
	fx_sink_close();
	cr_assert_eq(fx.n_confirmed, 0);

	int port = tl_free_port(); /* nobody listens there */
	struct duet_sink_config c = fx_config(DUET_SINK_RELP);
	static char addr[32];
	snprintf(addr, sizeof addr, "%s", fx_addr(port));
	c.address = addr;
	fx.closed = false;
	fx_sink_new(&c);
	cr_assert_eq(fx_submit(0, 0, 3, 10), 0);
	uint64_t two = 2;
	cr_assert(fx_run_until(fx_errors_at_least, &two, 20000));
	cr_assert_eq(relp_error("connect"), (long long)fx_stats().errors);
	fx_sink_close();
}

static bool is_closed(void *arg)
{
	return fx.closed;
}

/* the close is the line after the record: a frame, not a record */
Test(sink_relp_server, close_sends_close_and_ends_on_its_rsp)
{
	start();
	cr_assert_eq(fx_submit(0, 0, 1, 10), 0);
	open_ok(0);
	wait_lines(0, OPEN_LINES + 1);
	send_frame(0, 2, "rsp", "200 OK");
	size_t one = 1;
	cr_assert(fx_run_until(fx_confirmed_at_least, &one, 20000));
	fx_sink_close_async();
	wait_lines(0, OPEN_LINES + 2);
	cr_assert_eq(fx_srv.conns[0].ids[OPEN_LINES + 1], UINT32_MAX); /* not a record */
	fx_conn_send(&fx_srv.conns[0], "3 rsp 0\n"); /* librelp answers close with no data */
	cr_assert(fx_run_until(is_closed, NULL, 20000), "the sink did not finish closing");
	cr_assert_eq(fx.n_confirmed, 1);
}
