/* SPDX-License-Identifier: MIT */
/*
 * test_syslog_tcp.c - the syslog-over-TCP trap receiver on real sockets on
 * 127.0.0.1, all on one uv loop: the real util-linux `logger` (RFC 3164
 * and 5424, LF and octet-counted framing) run with uv_spawn, and raw libuv
 * clients for what logger does not send: a 1 MiB line, octet counts split
 * across writes, connections cut or reset inside a frame, bad counts, too
 * many connections, silence past the idle timeout, and an owner that says
 * DUET_EBUSY.
 *
 * Nothing sleeps: every wait is run_until() on a condition, with a deadline
 * that only catches hangs (tests never assert on speed).
 */
#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "duet/err.h"
#include "duet/traps_syslog.h"
#include "duet/traps_syslog_tcp.h"
#include "run_until.h"

#define WAIT_MS  20000 /* only to catch a hang */
#define MAX_KEPT 16

static uv_loop_t loop;
static struct run_until waiter;
static struct trap_syslog_tcp *srv;
static bool srv_closed;

/* What on_message() saw, and how it answers. */
static struct {
	unsigned n;              /* messages taken */
	char msg[MAX_KEPT][512]; /* the first MAX_KEPT, NUL-terminated */
	size_t len[MAX_KEPT];
	char sender[64];          /* of the last one */
	unsigned calls;           /* on_message() calls, refused ones included */
	int busy_left;            /* answer DUET_EBUSY this many more times */
	int reject_left;          /* answer DUET_EINVAL this many more times */
	bool close_in_message;    /* close the server from on_message() */
	unsigned shutdown_logged; /* log lines about frames lost at close */
} got;

static void on_closed(void *data)
{
	srv_closed = true;
}

static int on_message(void *data, const char *sender_ip, const uint8_t *msg, size_t len)
{
	got.calls++;
	if (got.busy_left > 0) {
		got.busy_left--;
		return DUET_EBUSY;
	}
	if (got.reject_left > 0) {
		got.reject_left--;
		return DUET_EINVAL;
	}
	if (got.n < MAX_KEPT) {
		size_t k = len < sizeof got.msg[0] - 1 ? len : sizeof got.msg[0] - 1;
		memcpy(got.msg[got.n], msg, k);
		got.msg[got.n][k] = '\0';
		got.len[got.n] = len;
	}
	snprintf(got.sender, sizeof got.sender, "%s", sender_ip);
	got.n++;
	if (got.close_in_message && srv) {
		trap_syslog_tcp_close(srv, on_closed);
		srv = NULL;
	}
	return 0;
}

static void on_log(void *data, int level, const char *text)
{
	if (strstr(text, "shutdown"))
		got.shutdown_logged++;
	if (getenv("TRAPS_SYSLOG_TCP_TEST_LOG"))
		fprintf(stderr, "[syslog-tcp] %d %s\n", level, text);
}

static void setup(void)
{
	cr_assert_eq(uv_loop_init(&loop), 0);
	run_until_init(&waiter, &loop);
	memset(&got, 0, sizeof got);
	srv = NULL;
	srv_closed = false;
}

static bool is_closed(void *arg)
{
	return srv_closed;
}

static void close_left_over(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void teardown(void)
{
	bool closed = true;
	if (srv) {
		trap_syslog_tcp_close(srv, on_closed);
		srv = NULL;
		closed = run_until(&waiter, is_closed, NULL, WAIT_MS);
	}
	uv_walk(&loop, close_left_over, NULL); /* the waiter's, and a failed test's */
	uv_run(&loop, UV_RUN_DEFAULT);
	int rc = uv_loop_close(&loop);
	cr_assert(closed, "the server did not finish closing");
	cr_assert_eq(rc, 0, "handles left open on the loop");
}

TestSuite(syslog_tcp, .init = setup, .fini = teardown);

static bool wait_for(bool (*pred)(void *), void *arg)
{
	return run_until(&waiter, pred, arg, WAIT_MS);
}

static struct trap_syslog_tcp_config base_config(void)
{
	struct trap_syslog_tcp_config c;
	memset(&c, 0, sizeof c);
	c.listen[0] = "127.0.0.1:0";
	c.n_listen = 1;
	c.on_message = on_message;
	c.on_log = on_log;
	return c;
}

static int start(const struct trap_syslog_tcp_config *cfg)
{
	char err[300] = "";
	int rc = trap_syslog_tcp_new(&loop, cfg, &srv, err, sizeof err);
	cr_assert_eq(rc, 0, "trap_syslog_tcp_new: %s", err);
	int port = trap_syslog_tcp_port(srv, 0);
	cr_assert_gt(port, 0);
	return port;
}

static struct trap_syslog_tcp_stats stats(void)
{
	struct trap_syslog_tcp_stats s;
	trap_syslog_tcp_get_stats(srv, &s);
	return s;
}

/* ---- conditions ------------------------------------------------------------------ */

static bool n_at_least(void *arg)
{
	return got.n >= *(unsigned *)arg;
}

static void wait_messages(unsigned n)
{
	cr_assert(wait_for(n_at_least, &n), "%u of %u messages arrived", got.n, n);
}

struct stat_wait {
	size_t offset; /* of a uint64_t in struct trap_syslog_tcp_stats */
	uint64_t want;
};

static bool stat_reached(void *arg)
{
	struct stat_wait *w = arg;
	struct trap_syslog_tcp_stats s = stats();
	uint64_t v;
	memcpy(&v, (const char *)&s + w->offset, sizeof v);
	return v == w->want;
}

#define WAIT_STAT(field, value)                                                                    \
	do {                                                                                       \
		struct stat_wait w_ = {offsetof(struct trap_syslog_tcp_stats, field), (value)};    \
		cr_assert(wait_for(stat_reached, &w_), "stats." #field " never became %llu",       \
			  (unsigned long long)(value));                                            \
	} while (0)

static void assert_no_drops(void)
{
	struct trap_syslog_tcp_stats s = stats();
	for (int i = 0; i < TRAP_SYSLOG_TCP_DROP_N; i++)
		cr_assert_eq(s.drops[i], 0, "%s: %llu", trap_syslog_tcp_drop_name(i),
			     (unsigned long long)s.drops[i]);
}

/* ---- raw clients --------------------------------------------------------------------- */

struct raw {
	uv_tcp_t tcp;
	uv_connect_t creq;
	bool connected, failed, eof, closed;
	uint64_t sent, written; /* bytes handed to uv_write, bytes whose write completed */
};

struct raw_write {
	uv_write_t req;
	struct raw *r;
	size_t len;
	char data[];
};

static void raw_closed(uv_handle_t *h)
{
	((struct raw *)h->data)->closed = true;
}

static void raw_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static char sink[4096];
	*buf = uv_buf_init(sink, sizeof sink);
}

static void raw_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct raw *r = s->data;
	if (nread < 0) {
		r->eof = true;
		uv_read_stop(s);
	}
}

static void raw_connected(uv_connect_t *req, int status)
{
	struct raw *r = req->data;
	if (status < 0) {
		r->failed = true;
		return;
	}
	r->connected = true;
	uv_read_start((uv_stream_t *)&r->tcp, raw_alloc, raw_read);
}

static bool raw_is_connected(void *arg)
{
	struct raw *r = arg;
	return r->connected || r->failed;
}

static void raw_connect_to(struct raw *r, const char *ip, int port)
{
	memset(r, 0, sizeof *r);
	struct sockaddr_storage sa;
	if (strchr(ip, ':'))
		cr_assert_eq(uv_ip6_addr(ip, port, (struct sockaddr_in6 *)&sa), 0);
	else
		cr_assert_eq(uv_ip4_addr(ip, port, (struct sockaddr_in *)&sa), 0);
	uv_tcp_init(&loop, &r->tcp);
	r->tcp.data = r;
	r->creq.data = r;
	cr_assert_eq(uv_tcp_connect(&r->creq, &r->tcp, (struct sockaddr *)&sa, raw_connected), 0);
	cr_assert(wait_for(raw_is_connected, r));
	cr_assert(r->connected, "could not connect to %s port %d", ip, port);
}

static void raw_connect(struct raw *r, int port)
{
	raw_connect_to(r, "127.0.0.1", port);
}

static void raw_write_done(uv_write_t *req, int status)
{
	struct raw_write *w = (struct raw_write *)req;
	if (status == 0)
		w->r->written += w->len;
	free(w);
}

static void raw_send(struct raw *r, const void *data, size_t len)
{
	struct raw_write *w = malloc(sizeof *w + len);
	cr_assert_not_null(w);
	memcpy(w->data, data, len);
	w->r = r;
	w->len = len;
	uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
	if (uv_write(&w->req, (uv_stream_t *)&r->tcp, &b, 1, raw_write_done) < 0) {
		free(w); /* the server closed already: what the test checks next */
		return;
	}
	r->sent += len;
}

static void raw_send_text(struct raw *r, const char *text)
{
	raw_send(r, text, strlen(text));
}

static bool raw_all_written(void *arg)
{
	struct raw *r = arg;
	return r->written == r->sent;
}

static bool raw_is_eof(void *arg)
{
	return ((struct raw *)arg)->eof;
}

static bool raw_is_closed(void *arg)
{
	return ((struct raw *)arg)->closed;
}

static void raw_close(struct raw *r)
{
	if (!uv_is_closing((uv_handle_t *)&r->tcp))
		uv_close((uv_handle_t *)&r->tcp, raw_closed);
	cr_assert(wait_for(raw_is_closed, r));
}

/* ---- logger ------------------------------------------------------------------------------- */

struct logger {
	uv_process_t proc;
	bool exited;
	int64_t status;
	int signal;
};

static void logger_exit(uv_process_t *p, int64_t status, int signal)
{
	struct logger *l = p->data;
	l->exited = true;
	l->status = status;
	l->signal = signal;
	uv_close((uv_handle_t *)p, NULL);
}

/* Starts `logger --tcp -n 127.0.0.1 -P PORT ARGS...` with input on its
 * stdin (one message a line, through a temporary file). */
static void logger_start(struct logger *l, int port, const char *const *args, const char *input)
{
	memset(l, 0, sizeof *l);
	char tmpl[] = "/tmp/duet-test-logger-XXXXXX";
	int in = mkstemp(tmpl);
	cr_assert_geq(in, 0);
	unlink(tmpl);
	size_t len = strlen(input);
	cr_assert_eq(write(in, input, len), (ssize_t)len);
	cr_assert_eq(lseek(in, 0, SEEK_SET), 0);
	char port_text[8];
	snprintf(port_text, sizeof port_text, "%d", port);
	const char *argv[24] = {"logger", "--tcp", "-n", "127.0.0.1", "-P", port_text};
	unsigned n = 6;
	for (unsigned k = 0; args[k]; k++) {
		cr_assert_lt(n, 22);
		argv[n++] = args[k];
	}
	argv[n] = NULL;
	uv_stdio_container_t stdio[3] = {
	    {.flags = UV_INHERIT_FD, .data.fd = in},
	    {.flags = UV_IGNORE},
	    {.flags = UV_INHERIT_FD, .data.fd = 2},
	};
	uv_process_options_t opt = {
	    .exit_cb = logger_exit,
	    .file = "logger",
	    .args = (char **)argv,
	    .stdio_count = 3,
	    .stdio = stdio,
	};
	l->proc.data = l;
	int rc = uv_spawn(&loop, &l->proc, &opt);
	close(in);
	if (rc != 0) /* uv_strerror(0) would allocate and leak */
		cr_assert_fail("cannot run logger (util-linux): %s", uv_strerror(rc));
}

struct logger_wait {
	struct logger *l;
	unsigned messages;
};

/* logger has exited, the messages arrived, its connection is closed */
static bool logger_done(void *arg)
{
	struct logger_wait *w = arg;
	return w->l->exited && got.n >= w->messages && stats().connections_open == 0;
}

static void assert_span(struct duet_syslog_span s, const char *expect, const char *field)
{
	cr_assert(s.len == strlen(expect) && memcmp(s.p, expect, s.len) == 0,
		  "%s: expected \"%s\", got \"%.*s\"", field, expect, (int)s.len, s.p ? s.p : "");
}

/* ---- tests ---------------------------------------------------------------------------------- */

Test(syslog_tcp, real_logger_both_formats_both_framings)
{
	struct trap_syslog_tcp_config cfg = base_config();
	int port = start(&cfg);
	static const struct {
		const char *args[8];
		int format;
	} runs[] = {
	    {{"--rfc3164", "-t", "tcptag", NULL}, DUET_SYSLOG_RFC3164},
	    {{"--rfc3164", "--octet-count", "-t", "tcptag", NULL}, DUET_SYSLOG_RFC3164},
	    {{"--rfc5424", "-t", "tcptag", NULL}, DUET_SYSLOG_RFC5424},
	    {{"--rfc5424", "--octet-count", "-t", "tcptag", NULL}, DUET_SYSLOG_RFC5424},
	};
	static const char *lines[] = {"line one", "line two", "line three"};
	for (unsigned r = 0; r < sizeof runs / sizeof runs[0]; r++) {
		memset(&got, 0, sizeof got);
		struct logger l;
		logger_start(&l, port, runs[r].args, "line one\nline two\nline three\n");
		struct logger_wait w = {&l, 3};
		cr_assert(wait_for(logger_done, &w), "run %u: %u messages, logger %s", r, got.n,
			  l.exited ? "exited" : "still running");
		cr_assert(l.status == 0 && l.signal == 0, "logger failed: %lld/%d",
			  (long long)l.status, l.signal);
		cr_assert_eq(got.n, 3, "run %u", r);
		cr_assert_str_eq(got.sender, "127.0.0.1");
		for (unsigned k = 0; k < 3; k++) {
			struct duet_syslog_msg m;
			cr_assert_eq(duet_syslog_parse(got.msg[k], got.len[k], &m), 0);
			cr_assert_eq(m.format, runs[r].format, "run %u: %s", r, got.msg[k]);
			assert_span(m.app_name, "tcptag", "app");
			assert_span(m.msg, lines[k], "msg");
			cr_assert_gt(m.hostname.len, 0);
		}
	}
	struct trap_syslog_tcp_stats s = stats();
	cr_assert_eq(s.connections_accepted, 4);
	cr_assert_eq(s.connections_open, 0);
	cr_assert_eq(s.frames, 12);
	cr_assert_eq(s.idle_closed, 0);
	assert_no_drops();
}

Test(syslog_tcp, one_mib_line_refused_and_the_connection_goes_on)
{
	struct trap_syslog_tcp_config cfg = base_config();
	cfg.max_frame_bytes = 8192;
	int port = start(&cfg);
	struct raw r;
	raw_connect(&r, port);
	size_t big = 1u << 20;
	char *line = malloc(big + 64);
	memset(line, 'A', big);
	int tail = snprintf(line + big, 64, "\n<13>after the big one\n");
	raw_send(&r, line, big + (size_t)tail);
	wait_messages(1);
	cr_assert_str_eq(got.msg[0], "<13>after the big one");
	struct trap_syslog_tcp_stats s = stats();
	cr_assert_eq(s.drops[TRAP_SYSLOG_TCP_DROP_OVERSIZED], 1);
	cr_assert_eq(s.frames, 1);
	cr_assert_eq(s.connections_open, 1, "the connection stays open");

	/* the same with an octet count */
	int head = snprintf(line, 64, "%zu ", big);
	memset(line + head, 'B', big);
	tail = snprintf(line + head + big, 64, "19 <13>after the count");
	raw_send(&r, line, (size_t)head + big + (size_t)tail);
	wait_messages(2);
	cr_assert_str_eq(got.msg[1], "<13>after the count");
	s = stats();
	cr_assert_eq(s.drops[TRAP_SYSLOG_TCP_DROP_OVERSIZED], 2);
	cr_assert_eq(s.connections_accepted, 1, "one connection throughout");
	cr_assert_eq(s.connections_open, 1);
	cr_assert_geq(s.bytes, 2 * big);
	free(line);
	raw_close(&r);
}

Test(syslog_tcp, octet_count_split_across_writes)
{
	struct trap_syslog_tcp_config cfg = base_config();
	int port = start(&cfg);
	struct raw r;
	raw_connect(&r, port);
	/* "23 <13>split across writes" then "5 <13>x", cut everywhere that matters:
	 * inside the count, between count and space, inside the message */
	static const char *pieces[] = {"2",     "3",   " ",  "<13>sp", "lit across wr",
				       "ites5", " <1", "3>x"};
	static const unsigned after[] = {0, 0, 0, 0, 0, 1, 1, 2}; /* messages after each piece */
	for (unsigned i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
		raw_send_text(&r, pieces[i]);
		/* the server has read exactly what was sent: each piece is its own read */
		WAIT_STAT(bytes, r.sent);
		cr_assert_eq(got.n, after[i], "after piece %u ('%s'): %u messages", i, pieces[i],
			     got.n);
	}
	cr_assert_str_eq(got.msg[0], "<13>split across writes");
	cr_assert_eq(got.len[0], 23);
	cr_assert_str_eq(got.msg[1], "<13>x");
	assert_no_drops();
	raw_close(&r);
}

Test(syslog_tcp, max_connections)
{
	struct trap_syslog_tcp_config cfg = base_config();
	cfg.max_connections = 2;
	int port = start(&cfg);
	struct raw a, b, c, d;
	raw_connect(&a, port);
	raw_connect(&b, port);
	WAIT_STAT(connections_open, 2);
	raw_connect(&c, port); /* the kernel accepts; the server closes it at once */
	cr_assert(wait_for(raw_is_eof, &c), "the third connection was not closed");
	struct trap_syslog_tcp_stats s = stats();
	cr_assert_eq(s.connections_accepted, 3);
	cr_assert_eq(s.connections_open, 2);
	cr_assert_eq(s.drops[TRAP_SYSLOG_TCP_DROP_TOO_MANY_CONNECTIONS], 1);
	/* the two within the limit work */
	raw_send_text(&a, "<13>from a\n");
	raw_send_text(&b, "<13>from b\n");
	wait_messages(2);
	/* one leaves: room for one more */
	raw_close(&a);
	WAIT_STAT(connections_open, 1);
	raw_connect(&d, port);
	raw_send_text(&d, "<13>from d\n");
	wait_messages(3);
	cr_assert_str_eq(got.msg[2], "<13>from d");
	s = stats();
	cr_assert_eq(s.connections_accepted, 4);
	cr_assert_eq(s.drops[TRAP_SYSLOG_TCP_DROP_TOO_MANY_CONNECTIONS], 1);
	raw_close(&b);
	raw_close(&c);
	raw_close(&d);
}

Test(syslog_tcp, idle_timeout_closes_and_is_not_a_drop)
{
	struct trap_syslog_tcp_config cfg = base_config();
	cfg.idle_timeout_ms = 100;
	int port = start(&cfg);
	struct raw r;
	raw_connect(&r, port);
	raw_send_text(&r, "<13>then silence\n");
	wait_messages(1);
	cr_assert(wait_for(raw_is_eof, &r), "the idle connection was not closed");
	struct trap_syslog_tcp_stats s = stats();
	cr_assert_eq(s.idle_closed, 1);
	cr_assert_eq(s.connections_open, 0);
	assert_no_drops();
	raw_close(&r);

	/* silent inside an octet-counted frame: closed, the frame is truncated */
	raw_connect(&r, port);
	raw_send_text(&r, "50 <13>the rest never comes");
	cr_assert(wait_for(raw_is_eof, &r));
	s = stats();
	cr_assert_eq(s.idle_closed, 2);
	cr_assert_eq(s.drops[TRAP_SYSLOG_TCP_DROP_TRUNCATED], 1);
	cr_assert_eq(got.n, 1);
	raw_close(&r);
}

struct ticker {
	uv_timer_t timer;
	struct raw *r;
	unsigned left;
};

static void tick(uv_timer_t *t)
{
	struct ticker *k = t->data;
	raw_send_text(k->r, "<13>tick\n");
	if (--k->left == 0)
		uv_timer_stop(t);
}

Test(syslog_tcp, idle_timeout_counts_from_the_last_read)
{
	struct trap_syslog_tcp_config cfg = base_config();
	cfg.idle_timeout_ms = 1000;
	int port = start(&cfg);
	struct raw r;
	raw_connect(&r, port);
	/* a message every 100 ms for 1.5 s: longer than the timeout in all,
	 * never silent for that long */
	static struct ticker k;
	k = (struct ticker){.r = &r, .left = 15};
	uv_timer_init(&loop, &k.timer);
	k.timer.data = &k;
	uv_timer_start(&k.timer, tick, 100, 100);
	wait_messages(15);
	struct trap_syslog_tcp_stats s = stats();
	cr_assert_eq(s.idle_closed, 0, "a connection that sends is not idle");
	cr_assert_eq(s.connections_open, 1);
	cr_assert(!r.eof);
	cr_assert(wait_for(raw_is_eof, &r), "silent at last, it is closed");
	cr_assert_eq(stats().idle_closed, 1);
	uv_close((uv_handle_t *)&k.timer, NULL);
	raw_close(&r);
}

Test(syslog_tcp, client_disconnects_mid_frame)
{
	struct trap_syslog_tcp_config cfg = base_config();
	int port = start(&cfg);
	struct raw r;
	/* EOF inside an octet-counted frame */
	raw_connect(&r, port);
	raw_send_text(&r, "100 <13>only part of it");
	WAIT_STAT(bytes, r.sent);
	raw_close(&r);
	WAIT_STAT(connections_open, 0);
	struct trap_syslog_tcp_stats s = stats();
	cr_assert_eq(s.drops[TRAP_SYSLOG_TCP_DROP_TRUNCATED], 1);
	cr_assert_eq(s.frames, 0);

	/* EOF inside the count itself */
	raw_connect(&r, port);
	raw_send_text(&r, "12");
	WAIT_STAT(bytes, s.bytes + 2);
	raw_close(&r);
	WAIT_STAT(connections_open, 0);
	cr_assert_eq(stats().drops[TRAP_SYSLOG_TCP_DROP_TRUNCATED], 2);

	/* a reset inside a frame: counted as a read error and a truncated frame */
	raw_connect(&r, port);
	raw_send_text(&r, "7 <13>ab");
	WAIT_STAT(bytes, stats().bytes + 8);
	cr_assert_eq(uv_tcp_close_reset(&r.tcp, raw_closed), 0);
	cr_assert(wait_for(raw_is_closed, &r));
	WAIT_STAT(connections_open, 0);
	s = stats();
	cr_assert_eq(s.drops[TRAP_SYSLOG_TCP_DROP_TRUNCATED], 3);
	cr_assert_eq(s.read_errors, 1);

	/* EOF after a line without LF: RFC 6587 lets the close end it */
	raw_connect(&r, port);
	raw_send_text(&r, "<13>no newline at the end");
	raw_close(&r);
	wait_messages(1);
	cr_assert_str_eq(got.msg[0], "<13>no newline at the end");
	WAIT_STAT(connections_open, 0);
	cr_assert_eq(stats().drops[TRAP_SYSLOG_TCP_DROP_TRUNCATED], 3);
}

Test(syslog_tcp, bad_octet_count)
{
	struct trap_syslog_tcp_config cfg = base_config();
	int port = start(&cfg);
	/* a line-framed sender whose line starts with a digit: skipped, goes on */
	struct raw a;
	raw_connect(&a, port);
	raw_send_text(&a, "0 starts with a zero\n<13>next line\n");
	wait_messages(1);
	cr_assert_str_eq(got.msg[0], "<13>next line");
	cr_assert_eq(stats().drops[TRAP_SYSLOG_TCP_DROP_BAD_LENGTH], 1);
	cr_assert_eq(stats().connections_open, 1);

	/* after octet-counted frames a bad count closes the connection */
	struct raw b;
	raw_connect(&b, port);
	raw_send_text(&b, "6 <13>ok012 x\n<13>never\n");
	cr_assert(wait_for(raw_is_eof, &b), "the connection was not closed");
	cr_assert_eq(got.n, 2);
	cr_assert_str_eq(got.msg[1], "<13>ok");
	struct trap_syslog_tcp_stats s = stats();
	cr_assert_eq(s.drops[TRAP_SYSLOG_TCP_DROP_BAD_LENGTH], 2);
	cr_assert_eq(s.frames, 2, "'<13>never' is not handed out");
	cr_assert_eq(s.connections_open, 1);
	raw_close(&a);
	raw_close(&b);
}

static bool is_paused(void *arg)
{
	return stats().connections_paused == 1;
}

Test(syslog_tcp, ebusy_pauses_the_connection_until_resume)
{
	struct trap_syslog_tcp_config cfg = base_config();
	int port = start(&cfg);
	struct raw r;
	raw_connect(&r, port);
	got.busy_left = 1;
	raw_send_text(&r, "<13>one\n<13>two\n<13>three\n");
	cr_assert(wait_for(is_paused, NULL));
	cr_assert_eq(got.n, 0);
	cr_assert_eq(got.calls, 1, "nothing offered after the refusal");
	uint64_t read_before = stats().bytes;

	/* more arrives in the kernel; the server does not read it */
	raw_send_text(&r, "<13>four\n");
	cr_assert(wait_for(raw_all_written, &r));
	for (int i = 0; i < 10; i++)
		uv_run(&loop, UV_RUN_NOWAIT);
	cr_assert_eq(stats().bytes, read_before, "a paused connection is not read");
	cr_assert_eq(got.calls, 1);

	/* a resume while the owner is still full: refused again, still paused */
	got.busy_left = 1;
	trap_syslog_tcp_resume(srv);
	cr_assert_eq(got.calls, 2);
	cr_assert_eq(got.n, 0);
	cr_assert_eq(stats().connections_paused, 1);

	/* room again: the kept frames at once, in order, then reading goes on */
	trap_syslog_tcp_resume(srv);
	cr_assert_geq(got.n, 1, "the first kept frame is handed over by resume() itself");
	wait_messages(4);
	static const char *want[] = {"<13>one", "<13>two", "<13>three", "<13>four"};
	for (int i = 0; i < 4; i++)
		cr_assert_str_eq(got.msg[i], want[i]);
	struct trap_syslog_tcp_stats s = stats();
	cr_assert_eq(s.busy, 2);
	cr_assert_eq(s.frames, 4, "every message exactly once");
	cr_assert_eq(s.connections_paused, 0);
	assert_no_drops();
	raw_close(&r);
}

Test(syslog_tcp, connection_that_ends_while_paused_delivers_then_closes)
{
	struct trap_syslog_tcp_config cfg = base_config();
	int port = start(&cfg);
	struct raw r;
	raw_connect(&r, port);
	got.busy_left = 1;
	raw_send_text(&r, "<13>last words\n");
	cr_assert(wait_for(is_paused, NULL));
	raw_close(&r); /* the EOF waits in the kernel behind the pause */
	trap_syslog_tcp_resume(srv);
	cr_assert_eq(got.n, 1);
	cr_assert_str_eq(got.msg[0], "<13>last words");
	WAIT_STAT(connections_open, 0);
	assert_no_drops();
}

Test(syslog_tcp, rejected_message_is_counted_and_the_connection_goes_on)
{
	struct trap_syslog_tcp_config cfg = base_config();
	int port = start(&cfg);
	struct raw r;
	raw_connect(&r, port);
	got.reject_left = 1;
	raw_send_text(&r, "<13>refused\n<13>taken\n");
	wait_messages(1);
	cr_assert_str_eq(got.msg[0], "<13>taken");
	cr_assert_eq(stats().drops[TRAP_SYSLOG_TCP_DROP_REJECTED], 1);
	cr_assert_eq(stats().frames, 1);
	raw_close(&r);
}

static bool all_eof(void *arg)
{
	struct raw *r = arg;
	return r[0].eof && r[1].eof;
}

Test(syslog_tcp, close_with_open_and_paused_connections)
{
	struct trap_syslog_tcp_config cfg = base_config();
	int port = start(&cfg);
	struct raw r[2];
	raw_connect(&r[0], port);
	raw_connect(&r[1], port);
	got.busy_left = 1;
	raw_send_text(&r[0], "<13>a\n<13>b\n");
	cr_assert(wait_for(is_paused, NULL));
	raw_send_text(&r[1], "<13>partial, no LF");
	WAIT_STAT(bytes, r[0].sent + r[1].sent);
	trap_syslog_tcp_close(srv, on_closed);
	srv = NULL;
	cr_assert(wait_for(is_closed, NULL), "the close callback did not run");
	cr_assert(wait_for(all_eof, r), "the clients were not disconnected");
	cr_assert_eq(got.n, 0, "nothing is delivered after close");
	cr_assert_eq(got.shutdown_logged, 1, "the two kept frames are counted lost");
	raw_close(&r[0]);
	raw_close(&r[1]);
}

Test(syslog_tcp, close_from_on_message)
{
	struct trap_syslog_tcp_config cfg = base_config();
	int port = start(&cfg);
	struct raw r;
	raw_connect(&r, port);
	got.close_in_message = true;
	raw_send_text(&r, "<13>1\n<13>2\n<13>3\n");
	cr_assert(wait_for(is_closed, NULL));
	cr_assert_eq(got.n, 1, "nothing after the close");
	cr_assert(wait_for(raw_is_eof, &r));
	raw_close(&r);
}

Test(syslog_tcp, several_listeners_and_ipv6)
{
	struct trap_syslog_tcp_config cfg = base_config();
	cfg.listen[1] = "[::1]:0";
	cfg.n_listen = 2;
	start(&cfg);
	int p6 = trap_syslog_tcp_port(srv, 1);
	cr_assert_gt(p6, 0);
	cr_assert_eq(trap_syslog_tcp_port(srv, 2), -1);
	struct raw r;
	raw_connect_to(&r, "::1", p6);
	raw_send_text(&r, "<13>over IPv6\n");
	wait_messages(1);
	cr_assert_str_eq(got.sender, "::1");
	raw_close(&r);
}

static bool loop_idle(void *arg)
{
	return !uv_loop_alive(&loop);
}

Test(syslog_tcp, bad_configs)
{
	char err[300];
	struct trap_syslog_tcp *s = NULL;
	struct trap_syslog_tcp_config cfg = base_config();
	cfg.listen[0] = "localhost:514";
	cr_assert_eq(trap_syslog_tcp_new(&loop, &cfg, &s, err, sizeof err), DUET_EINVAL);
	cr_assert(strstr(err, "'localhost:514' is not a.b.c.d:port"), "%s", err);
	cr_assert_null(s);

	cfg.listen[0] = "192.0.2.1:514"; /* not an address of this machine */
	cr_assert_lt(trap_syslog_tcp_new(&loop, &cfg, &s, err, sizeof err), 0);
	cr_assert(strstr(err, "cannot listen for syslog over TCP on 192.0.2.1:514"), "%s", err);

	cfg = base_config();
	cfg.n_listen = 0;
	cr_assert_eq(trap_syslog_tcp_new(&loop, &cfg, &s, err, sizeof err), DUET_EINVAL);
	cfg = base_config();
	cfg.max_frame_bytes = DUET_SYSLOG_MAX_FRAME_BYTES_LIMIT + 1;
	cr_assert_eq(trap_syslog_tcp_new(&loop, &cfg, &s, err, sizeof err), DUET_EINVAL);
	cfg = base_config();
	cfg.on_message = NULL;
	cr_assert_eq(trap_syslog_tcp_new(&loop, &cfg, &s, err, sizeof err), DUET_EINVAL);

	/* a port in use, as the second listener: the first is closed again */
	cfg = base_config();
	int port = start(&cfg);
	char taken[32];
	snprintf(taken, sizeof taken, "127.0.0.1:%d", port);
	cfg.listen[1] = taken;
	cfg.n_listen = 2;
	cr_assert_lt(trap_syslog_tcp_new(&loop, &cfg, &s, err, sizeof err), 0);
	cr_assert(strstr(err, "address already in use"), "%s", err);
	trap_syslog_tcp_close(srv, on_closed);
	srv = NULL;
	cr_assert(wait_for(is_closed, NULL));
	uv_close((uv_handle_t *)&waiter.check, NULL);
	uv_close((uv_handle_t *)&waiter.prepare, NULL);
	uv_close((uv_handle_t *)&waiter.deadline, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	cr_assert(loop_idle(NULL), "every handle of the failed servers closed");
}

Test(syslog_tcp, drop_names_are_stable_snake_case)
{
	for (int i = 0; i < TRAP_SYSLOG_TCP_DROP_N; i++) {
		const char *n = trap_syslog_tcp_drop_name(i);
		cr_assert(n && *n);
		for (const char *p = n; *p; p++)
			cr_assert(islower((unsigned char)*p) || *p == '_', "%s", n);
		for (int j = 0; j < i; j++)
			cr_assert_str_neq(n, trap_syslog_tcp_drop_name(j));
	}
	cr_assert_str_eq(trap_syslog_tcp_drop_name(TRAP_SYSLOG_TCP_DROP_OVERSIZED), "oversized");
	cr_assert_str_eq(trap_syslog_tcp_drop_name(TRAP_SYSLOG_TCP_DROP_N), "unknown");
}
