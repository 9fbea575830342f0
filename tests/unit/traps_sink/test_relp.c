/* SPDX-License-Identifier: MIT */
/*
 * test_relp.c - the RELP sink against a REAL rsyslogd with imrelp, one per
 * test, with its own config, work dir and PID file, listening on
 * 127.0.0.1 (never the system service). rsyslog writes every message it
 * takes to a file through omfile with a Direct main queue and ruleset
 * queue, so a message is in the file before imrelp answers its rsp. The
 * file is read at the end: every record id there (0 lost), and how often.
 *
 *   - a steady stream: every id exactly once, each line exactly the record
 *     the TCP sink would send;
 *   - rsyslog stalled (SIGSTOP) until the window is full, then SIGCONT:
 *     the window bounds what is in flight, nothing lost, nothing twice;
 *   - rsyslog killed (SIGKILL) and restarted mid-stream: nothing lost, the
 *     duplicates (printed) at most the records that were sent on the
 *     connection and not yet confirmed at the kill;
 *   - a record longer than max_message_bytes: a dead letter, its notice
 *     with the id in the file, the rest delivered.
 *
 * The rsyslogd is killed by PID in the suite's fini and, if the test
 * process exits first, from an atexit handler; if it crashes, the kernel
 * kills rsyslogd (PR_SET_PDEATHSIG). Nothing sleeps: the loop
 * runs until a condition holds; the sink reconnects on its own until the
 * freshly started rsyslogd listens.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "duet/err.h"
#include "fixture.h"

#define RECORDS_PER_BATCH 8
#define PAD_BYTES         100

static struct {
	char dir[64];
	char conf[128], pidfile[128], out[128];
	int port;
	pid_t pid;
	bool at_exit_set;
} rs;

static void rs_kill(void)
{
	if (rs.pid > 0) {
		kill(rs.pid, SIGCONT); /* a stopped process dies of SIGKILL too, but be plain */
		kill(rs.pid, SIGKILL);
		waitpid(rs.pid, NULL, 0);
		rs.pid = 0;
	}
}

static void rs_start(void)
{
	unlink(rs.pidfile); /* a killed one leaves its PID file */
	pid_t pid = fork();
	if (pid == 0) {
		/* no cr_assert here: with --full-stats even a passing one talks to
		 * the runner, and this child must not. It dies with the test
		 * process even if that crashes (no fini, no atexit). */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0 && !getenv("FX_VERBOSE")) {
			dup2(null, 1);
			dup2(null, 2);
		}
		execlp("rsyslogd", "rsyslogd", "-n", "-f", rs.conf, "-i", rs.pidfile, (char *)NULL);
		_exit(127);
	}
	cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
	rs.pid = pid;
}

static void remove_dir(void)
{
	if (!rs.dir[0])
		return;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", rs.dir);
	if (system(cmd) != 0)
		fprintf(stderr, "test_relp: could not remove %s\n", rs.dir);
	rs.dir[0] = 0;
}

static void at_exit(void)
{
	rs_kill();
	remove_dir();
}

static void relp_setup(void)
{
	fx_setup();
	snprintf(rs.dir, sizeof rs.dir, "/tmp/duet-relp-XXXXXX");
	cr_assert(mkdtemp(rs.dir), "mkdtemp: %s", strerror(errno));
	snprintf(rs.conf, sizeof rs.conf, "%s/rsyslog.conf", rs.dir);
	snprintf(rs.pidfile, sizeof rs.pidfile, "%s/rsyslogd.pid", rs.dir);
	snprintf(rs.out, sizeof rs.out, "%s/out.log", rs.dir);
	rs.port = tl_free_port();
	FILE *f = fopen(rs.conf, "w");
	cr_assert(f);
	fprintf(f,
		"global(workDirectory=\"%s\")\n"
		"main_queue(queue.type=\"Direct\")\n"
		"module(load=\"imrelp\")\n"
		"input(type=\"imrelp\" address=\"127.0.0.1\" port=\"%d\" ruleset=\"traps\")\n"
		"template(name=\"traps\" type=\"string\" string=\"%%structured-data%% "
		"%%msg%%\\n\")\n"
		"ruleset(name=\"traps\" queue.type=\"Direct\") {\n"
		"  action(type=\"omfile\" file=\"%s\" template=\"traps\" asyncWriting=\"off\" "
		"flushOnTXEnd=\"on\")\n"
		"}\n",
		rs.dir, rs.port, rs.out);
	fclose(f);
	if (!rs.at_exit_set) {
		atexit(at_exit);
		rs.at_exit_set = true;
	}
	rs_start();
}

static void relp_teardown(void)
{
	rs_kill(); /* first: the server goes even if the loop check fails */
	remove_dir();
	fx_teardown();
}

TestSuite(sink_relp, .init = relp_setup, .fini = relp_teardown, .timeout = 120);

static struct duet_sink_config relp_config(uint32_t window)
{
	struct duet_sink_config c = fx_config(DUET_SINK_RELP);
	static char addr[32];
	snprintf(addr, sizeof addr, "%s", fx_addr(rs.port));
	c.address = addr;
	c.relp_window = window;
	c.timeout_ms = 20000; /* no timeout while rsyslog is stopped on purpose */
	return c;
}

/* ---- a steady stream: a batch every millisecond, at most 32 unconfirmed ---- */

static struct {
	uv_timer_t timer;
	unsigned batches, submitted;
} stream;

static void on_stream(uv_timer_t *t)
{
	if (!fx.sink)
		return;
	while (stream.submitted < stream.batches && stream.submitted - fx.n_confirmed < 32) {
		int rc = fx_submit(stream.submitted, stream.submitted * RECORDS_PER_BATCH,
				   RECORDS_PER_BATCH, PAD_BYTES);
		cr_assert_eq(rc, 0, "submit %u: %s", stream.submitted, duet_strerror(rc));
		stream.submitted++;
		if (stream.submitted % 4 == 0)
			break; /* a stream, not one burst */
	}
	if (stream.submitted == stream.batches)
		uv_timer_stop(t);
}

static void stream_start(unsigned batches)
{
	stream.batches = batches;
	stream.submitted = 0;
	uv_timer_init(fx_loop, &stream.timer);
	uv_timer_start(&stream.timer, on_stream, 0, 1);
}

static void wait_confirmed(size_t n)
{
	cr_assert(fx_run_until(fx_confirmed_at_least, &n, 60000),
		  "only %zu of %zu batches confirmed (last error: %s)", fx.n_confirmed, n,
		  fx.sink ? fx_stats().last_error : "-");
}

/* A number from the sink's stats document (jansson). */
static long long stat_of(const char *key)
{
	char buf[4096];
	int n = duet_sink_stats_json(fx.sink, buf, sizeof buf);
	cr_assert(n > 0 && (size_t)n < sizeof buf);
	json_error_t jerr;
	json_t *j = json_loads(buf, 0, &jerr);
	cr_assert(j, "stats are not JSON: %s: %s", jerr.text, buf);
	json_t *v = json_object_get(j, key);
	if (!v && json_object_get(j, "relp_errors"))
		v = json_object_get(json_object_get(j, "relp_errors"), key);
	cr_assert(json_is_integer(v), "no integer '%s' in %s", key, buf);
	long long x = json_integer_value(v);
	json_decref(j);
	return x;
}

/* Failures other than connection attempts refused before rsyslogd listens. */
static long long faults(void)
{
	return (long long)fx_stats().errors - stat_of("connect");
}

/* ---- the output file --------------------------------------------------------- */

/* How often each id r0..r<total-1> is in the file; lines returns them all. */
static void count_ids(unsigned total, unsigned *count, size_t *lines)
{
	memset(count, 0, total * sizeof *count);
	*lines = 0;
	FILE *f = fopen(rs.out, "r");
	cr_assert(f, "rsyslog wrote no %s", rs.out);
	char line[16384];
	while (fgets(line, sizeof line, f)) {
		unsigned k;
		cr_assert(sscanf(line, "[duet@32473 id=\"r%u\"", &k) == 1, "line %zu: %s",
			  *lines + 1, line);
		cr_assert_lt(k, total, "line %zu: id r%u never submitted", *lines + 1, k);
		count[k]++;
		(*lines)++;
	}
	fclose(f);
}

/* Every id in the file at least once; returns the lines beyond one per id. */
static size_t assert_none_lost(unsigned total)
{
	unsigned *count = calloc(total, sizeof *count);
	size_t lines;
	count_ids(total, count, &lines);
	for (unsigned k = 0; k < total; k++)
		cr_assert_gt(count[k], 0, "record r%u lost (%zu lines in the file)", k, lines);
	free(count);
	return lines - total;
}

static void close_stream(void)
{
	uv_close((uv_handle_t *)&stream.timer, NULL);
	fx_sink_close();
}

Test(sink_relp, steady_stream_every_record_once)
{
	struct duet_sink_config c = relp_config(0); /* the default window */
	fx_sink_new(&c);
	stream_start(200);
	wait_confirmed(200);
	fx_assert_confirmed_in_order(200);
	cr_assert_eq(faults(), 0, "errors: %s", fx_stats().last_error);
	cr_assert_eq(stat_of("rsp_ok"), 200 * RECORDS_PER_BATCH);
	cr_assert_eq(stat_of("window"), 128);
	cr_assert_eq(assert_none_lost(200 * RECORDS_PER_BATCH), 0, "duplicates without a fault");

	/* the message after the structured data is the TCP sink's line */
	FILE *f = fopen(rs.out, "r");
	char line[16384];
	cr_assert(fgets(line, sizeof line, f));
	fclose(f);
	const char *json = strstr(line, "] ");
	cr_assert(json);
	json_error_t jerr;
	json_t *j = json_loads(json + 2, 0, &jerr);
	cr_assert(j, "not the record's JSON: %s", json + 2);
	cr_assert_str_eq(json_string_value(json_object_get(j, "id")), "r0");
	cr_assert_str_eq(json_string_value(json_object_get(j, "receiver")), "node-a");
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(j, "trap"), "n")), 0);
	json_decref(j);
	close_stream();
}

static bool window_full(void *arg)
{
	return fx.sink && stat_of("in_flight") >= *(long long *)arg;
}

Test(sink_relp, stalled_rsyslog_fills_the_window_and_loses_nothing)
{
	struct duet_sink_config c = relp_config(32);
	fx_sink_new(&c);
	stream_start(150);
	wait_confirmed(20);
	cr_assert_eq(kill(rs.pid, SIGSTOP), 0);
	long long window = 32;
	cr_assert(fx_run_until(window_full, &window, 30000),
		  "the sink never had its window of 32 in flight (in_flight %lld)",
		  stat_of("in_flight"));
	size_t confirmed_at_stop = fx.n_confirmed;
	cr_assert_eq(stat_of("in_flight"), 32, "more in flight than the window");
	cr_assert_eq(kill(rs.pid, SIGCONT), 0);
	wait_confirmed(150);
	fx_assert_confirmed_in_order(150);
	cr_assert_eq(faults(), 0, "errors: %s", fx_stats().last_error);
	cr_assert_eq(stat_of("records_resent"), 0);
	cr_assert_eq(assert_none_lost(150 * RECORDS_PER_BATCH), 0, "a record twice after a stall");
	printf("relp stall: window full at %zu batches confirmed, resumed, 0 lost, 0 twice\n",
	       confirmed_at_stop);
	close_stream();
}

static bool reconnected(void *arg)
{
	return fx.sink && fx_stats().connects >= 2;
}

Test(sink_relp, killed_and_restarted_rsyslog_loses_nothing)
{
	struct duet_sink_config c = relp_config(32);
	fx_sink_new(&c);
	stream_start(150);
	wait_confirmed(40);
	/* the loop does not run between this reading and the kill */
	long long unconfirmed = stat_of("unconfirmed_on_connection");
	cr_assert_eq(kill(rs.pid, SIGKILL), 0);
	waitpid(rs.pid, NULL, 0);
	rs.pid = 0;
	uint64_t one = 1;
	cr_assert(fx_run_until(fx_errors_at_least, &one, 30000), "the kill went unnoticed");
	rs_start();
	cr_assert(fx_run_until(reconnected, NULL, 30000), "no reconnect: %s",
		  fx_stats().last_error);
	wait_confirmed(150);
	fx_assert_confirmed_in_order(150);
	cr_assert_gt(stat_of("broken") + stat_of("connect"), 0);
	size_t dups = assert_none_lost(150 * RECORDS_PER_BATCH);
	printf("relp kill/restart: 0 lost, %zu duplicate(s), %lld record(s) unconfirmed on the "
	       "connection at the kill, %lld resent\n",
	       dups, unconfirmed, stat_of("records_resent"));
	cr_assert_leq((long long)dups, unconfirmed,
		      "%zu duplicates, more than the %lld records unconfirmed at the kill", dups,
		      unconfirmed);
	cr_assert_geq(stat_of("records_resent"), (long long)dups);
	close_stream();
}

Test(sink_relp, too_big_record_is_a_dead_letter_and_the_rest_flows)
{
	struct duet_sink_config c = relp_config(8);
	c.relp_max_message_bytes = 1024;
	fx_sink_new(&c);
	cr_assert_eq(fx_submit(0, 0, 3, 50), 0);
	cr_assert_eq(fx_submit(1, 3, 1, 4000), 0); /* r3: too big */
	cr_assert_eq(fx_submit(2, 4, 3, 50), 0);
	wait_confirmed(3);
	fx_assert_confirmed_in_order(3);
	cr_assert_eq(fx_stats().dead_letters, 1);
	cr_assert_eq(faults(), 0, "errors: %s", fx_stats().last_error);
	cr_assert_eq(fx.logs[DUET_SINK_LOG_ERROR], 1);
	cr_assert(strstr(fx.last_log[DUET_SINK_LOG_ERROR], "dead letter: record r3"), "%s",
		  fx.last_log[DUET_SINK_LOG_ERROR]);
	cr_assert_eq(assert_none_lost(7), 0);
	FILE *f = fopen(rs.out, "r");
	char line[16384];
	bool notice = false;
	while (fgets(line, sizeof line, f))
		notice |= strncmp(line, "[duet@32473 id=\"r3\" dead_letter=\"too_big\"", 41) == 0;
	fclose(f);
	cr_assert(notice, "no dead-letter notice for r3 in the file");
	fx_sink_close();
}

/* Prints (never asserts) how fast records get through to rsyslog's file:
 * batches of 50 submitted as the queue takes them, the default window. */
Test(sink_relp, throughput_printed)
{
	unsigned batches =
	    getenv("DUET_RELP_BATCHES") ? (unsigned)atoi(getenv("DUET_RELP_BATCHES")) : 400;
	struct duet_sink_config c = relp_config(0);
	fx_sink_new(&c);
	size_t one = 1;
	cr_assert_eq(fx_submit(0, 0, 1, PAD_BYTES), 0);
	wait_confirmed(one); /* connected */
	uint64_t t0 = uv_hrtime();
	for (unsigned b = 1; b <= batches; b++)
		cr_assert_eq(fx_submit(b, 1 + (b - 1) * 50, 50, PAD_BYTES), 0);
	wait_confirmed(batches + 1);
	double s = (double)(uv_hrtime() - t0) / 1e9;
	cr_assert_eq(faults(), 0, "errors: %s", fx_stats().last_error);
	cr_assert_eq(assert_none_lost(1 + batches * 50), 0);
	printf("relp throughput: %u records of ~%u bytes confirmed in %.2f s: %.0f records/s "
	       "(window 128, rsyslog Direct queue, omfile)\n",
	       batches * 50, PAD_BYTES + 200, s, batches * 50 / s);
	fx_sink_close();
}
