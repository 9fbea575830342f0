/* SPDX-License-Identifier: MIT */
/*
 * test_logger.c - real syslog clients: util-linux logger(1) sends to a UDP
 * and a TCP socket that the test opens on 127.0.0.1, in both formats and
 * both TCP framings; the bytes received are framed and parsed here and
 * every field checked. Also: two copies of one event sent at different
 * times have one identity, and a 1 MiB line is refused with a counted
 * reason while the stream goes on.
 *
 * Every wait is poll() with a deadline that fails the test; nothing
 * sleeps.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "collect.h"
#include "duet/traps_syslog.h"

#define DEADLINE_MS 20000
#define MAX_ARGS    32

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for fd to be readable before the deadline; fails the test if not. */
static void wait_readable(int fd, int64_t deadline, const char *what)
{
	for (;;) {
		int64_t left = deadline - now_ms();
		cr_assert_gt(left, 0, "deadline passed waiting for %s", what);
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int rc = poll(&p, 1, (int)left);
		if (rc < 0 && errno == EINTR)
			continue;
		cr_assert_geq(rc, 0, "poll: %s", strerror(errno));
		if (rc > 0)
			return;
	}
}

static int open_socket(int type, uint16_t *port)
{
	int fd = socket(AF_INET, type, 0);
	cr_assert_geq(fd, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0, "bind: %s", strerror(errno));
	if (type == SOCK_STREAM)
		cr_assert_eq(listen(fd, 4), 0);
	socklen_t len = sizeof a;
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/*
 * Starts logger with "--server 127.0.0.1 --port PORT" and then `args`
 * (NULL-terminated); its stdin is `input` (through a temporary file, so
 * that a large input cannot block us while logger waits for us).
 */
static pid_t spawn_logger(uint16_t port, const char *const *args, const void *input, size_t len)
{
	char tmpl[] = "/tmp/duet-test-logger-XXXXXX";
	int in = mkstemp(tmpl);
	cr_assert_geq(in, 0);
	unlink(tmpl);
	cr_assert_eq(write(in, input, len), (ssize_t)len);
	cr_assert_eq(lseek(in, 0, SEEK_SET), 0);

	char port_text[8];
	snprintf(port_text, sizeof port_text, "%u", (unsigned)port);
	const char *argv[MAX_ARGS] = {"logger", "--server", "127.0.0.1", "--port", port_text};
	unsigned n = 5;
	for (unsigned k = 0; args[k]; k++) {
		cr_assert_lt(n, MAX_ARGS - 1);
		argv[n++] = args[k];
	}
	argv[n] = NULL;

	/* no cr_assert in the child: with --full-stats every assertion talks to
	 * the Criterion runner, and a forked copy of that channel hangs */
	pid_t pid = fork();
	if (pid == 0) {
		dup2(in, 0);
		execvp("logger", (char *const *)argv);
		_exit(127);
	}
	cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
	close(in);
	return pid;
}

/* logger must have exited 0; it has sent (and, for TCP, closed) by now. */
static void reap_logger(pid_t pid)
{
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "logger failed (status %d)",
		  status);
}

/* Sends one message over UDP; returns the datagram (NUL-terminated). */
static size_t logger_udp(const char *const *args, const char *message, char *buf, size_t cap)
{
	uint16_t port;
	int fd = open_socket(SOCK_DGRAM, &port);
	pid_t pid = spawn_logger(port, args, message, strlen(message));
	wait_readable(fd, now_ms() + DEADLINE_MS, "a datagram from logger");
	ssize_t n = recv(fd, buf, cap - 1, 0);
	cr_assert_gt(n, 0);
	buf[n] = '\0';
	close(fd);
	reap_logger(pid);
	return (size_t)n;
}

/* Runs logger over TCP with `input` on its stdin (one message a line) and
 * feeds everything it sends, in the chunks recv() returns, to a stream. */
static void logger_tcp(const char *const *args, const void *input, size_t len, struct collected *c,
		       struct duet_syslog_stream_stats *stats)
{
	uint16_t port;
	int lfd = open_socket(SOCK_STREAM, &port);
	pid_t pid = spawn_logger(port, args, input, len);
	int64_t deadline = now_ms() + DEADLINE_MS;
	wait_readable(lfd, deadline, "logger to connect");
	int fd = accept(lfd, NULL, NULL);
	cr_assert_geq(fd, 0);
	struct duet_syslog_stream st;
	cr_assert_eq(duet_syslog_stream_init(&st, 0), 0);
	static char buf[65536];
	for (;;) {
		wait_readable(fd, deadline, "logger's bytes");
		ssize_t n = recv(fd, buf, sizeof buf, 0);
		cr_assert_geq(n, 0, "recv: %s", strerror(errno));
		if (n == 0)
			break;
		cr_assert_eq(duet_syslog_stream_feed(&st, buf, (size_t)n, collect_cb, c), 0);
	}
	cr_assert_eq(duet_syslog_stream_finish(&st, collect_cb, c), 0);
	*stats = st.stats;
	duet_syslog_stream_close(&st);
	close(fd);
	close(lfd);
	reap_logger(pid);
}

static void assert_span(struct duet_syslog_span s, const char *expect, const char *field)
{
	if (!expect) {
		cr_assert_eq(s.len, 0, "%s: expected absent, got \"%.*s\"", field, (int)s.len, s.p);
		return;
	}
	cr_assert(s.len == strlen(expect) && memcmp(s.p, expect, s.len) == 0,
		  "%s: expected \"%s\", got \"%.*s\"", field, expect, (int)s.len, s.p ? s.p : "");
}

static void assert_host_present(struct duet_syslog_span s)
{
	cr_assert_gt(s.len, 0, "hostname missing");
	cr_assert_null(memchr(s.p, ' ', s.len));
}

Test(logger, udp_rfc5424_every_field)
{
	const char *args[] = {"--udp",    "--rfc5424", "-p",         "local3.warning",
			      "-t",       "mytag",     "--msgid",    "MID7",
			      "--sd-id",  "ex@32473",  "--sd-param", "k=\"v\\\"q\"",
			      "--id=777", NULL};
	char buf[65536];
	size_t n = logger_udp(args, "hello w\xc3\xb6rld", buf, sizeof buf);
	struct duet_syslog_msg m;
	cr_assert_eq(duet_syslog_parse(buf, n, &m), 0, "%s", buf);
	cr_assert_eq(m.format, DUET_SYSLOG_RFC5424, "%s", buf);
	cr_assert_eq(m.facility, 19); /* local3 */
	cr_assert_eq(m.severity, 4);  /* warning */
	cr_assert_eq(m.version, 1);
	cr_assert_gt(m.timestamp.len, 0);
	cr_assert_not_null(memchr(m.timestamp.p, 'T', m.timestamp.len));
	assert_host_present(m.hostname);
	assert_span(m.app_name, "mytag", "app");
	assert_span(m.procid, "777", "procid");
	assert_span(m.msgid, "MID7", "msgid");
	/* logger puts its timeQuality element first, then ours */
	static const char ours[] = "[ex@32473 k=\"v\\\"q\"]";
	size_t k = sizeof ours - 1;
	cr_assert(m.sd.len > k && memcmp(m.sd.p, "[timeQuality ", 13) == 0 &&
		      memcmp(m.sd.p + m.sd.len - k, ours, k) == 0,
		  "sd %.*s", (int)m.sd.len, m.sd.p ? m.sd.p : "");
	assert_span(m.msg, "hello w\xc3\xb6rld", "msg");
	cr_assert_eq(m.flags, 0);
}

Test(logger, udp_rfc3164)
{
	const char *args[] = {"--udp", "--rfc3164", "-p", "auth.crit", "-t", "su", NULL};
	char buf[65536];
	size_t n = logger_udp(args, "'su root' failed", buf, sizeof buf);
	struct duet_syslog_msg m;
	cr_assert_eq(duet_syslog_parse(buf, n, &m), 0);
	cr_assert_eq(m.format, DUET_SYSLOG_RFC3164, "%s", buf);
	cr_assert_eq(m.facility, 4);
	cr_assert_eq(m.severity, 2);
	cr_assert_eq(m.timestamp.len, 15, "%s", buf);
	assert_host_present(m.hostname);
	assert_span(m.app_name, "su", "tag");
	assert_span(m.procid, NULL, "procid");
	assert_span(m.msg, "'su root' failed", "msg");

	/* --id puts the pid in brackets */
	const char *with_pid[] = {"--udp", "--rfc3164", "-t", "daemon", "--id=4242", NULL};
	n = logger_udp(with_pid, "x", buf, sizeof buf);
	cr_assert_eq(duet_syslog_parse(buf, n, &m), 0);
	assert_span(m.app_name, "daemon", "tag");
	assert_span(m.procid, "4242", "procid");
	assert_span(m.msg, "x", "msg");
}

Test(logger, udp_rfc5424_nil_fields)
{
	const char *args[] = {"--udp", "--rfc5424=notq,notime,nohost", "-t", "t", NULL};
	char buf[65536];
	size_t n = logger_udp(args, "m", buf, sizeof buf);
	struct duet_syslog_msg m;
	cr_assert_eq(duet_syslog_parse(buf, n, &m), 0);
	cr_assert_eq(m.format, DUET_SYSLOG_RFC5424, "%s", buf);
	assert_span(m.timestamp, NULL, "timestamp");
	assert_span(m.hostname, NULL, "host");
	assert_span(m.app_name, "t", "app");
	assert_span(m.procid, NULL, "procid");
	assert_span(m.msgid, NULL, "msgid");
	assert_span(m.sd, NULL, "sd");
	assert_span(m.msg, "m", "msg");
}

Test(logger, two_copies_one_identity)
{
	/* one event sent twice (as to two receivers); the timestamps differ
	 * in their microseconds, the identities must not */
	const char *args[] = {"--udp", "--rfc5424", "-t", "app", "--msgid", "M", NULL};
	char a[65536], b[65536];
	size_t na = logger_udp(args, "the same event", a, sizeof a);
	size_t nb = logger_udp(args, "the same event", b, sizeof b);
	struct duet_syslog_msg ma, mb;
	cr_assert_eq(duet_syslog_parse(a, na, &ma), 0);
	cr_assert_eq(duet_syslog_parse(b, nb, &mb), 0);
	uint8_t ia[1024], ib[1024];
	long la = duet_syslog_identity(&ma, ia, sizeof ia);
	long lb = duet_syslog_identity(&mb, ib, sizeof ib);
	cr_assert_gt(la, 0);
	cr_assert(la == lb && memcmp(ia, ib, (size_t)la) == 0, "\n%s\n%s", a, b);

	nb = logger_udp(args, "another event", b, sizeof b);
	cr_assert_eq(duet_syslog_parse(b, nb, &mb), 0);
	lb = duet_syslog_identity(&mb, ib, sizeof ib);
	cr_assert(la != lb || memcmp(ia, ib, (size_t)la) != 0);
}

static void check_tcp_lines(const struct collected *c, uint8_t framing, int format)
{
	static const char *lines[] = {"line one", "line two", "line three"};
	cr_assert_eq(c->n, 3);
	for (unsigned k = 0; k < 3; k++) {
		cr_assert_eq(c->f[k].err, 0);
		cr_assert_eq(c->f[k].framing, framing);
		struct duet_syslog_msg m;
		cr_assert_eq(duet_syslog_parse(c->f[k].msg, c->f[k].len, &m), 0);
		cr_assert_eq(m.format, format, "%s", c->f[k].msg);
		assert_span(m.app_name, "tcptag", "app");
		assert_host_present(m.hostname);
		assert_span(m.msg, lines[k], "msg");
	}
}

Test(logger, tcp_rfc3164_lf_framing)
{
	const char *args[] = {"--tcp", "--rfc3164", "-t", "tcptag", NULL};
	static const char input[] = "line one\nline two\nline three\n";
	struct collected c = {0};
	struct duet_syslog_stream_stats s;
	logger_tcp(args, input, sizeof input - 1, &c, &s);
	check_tcp_lines(&c, DUET_SYSLOG_FRAMING_LF, DUET_SYSLOG_RFC3164);
	cr_assert_eq(s.lf_terminated, 3);
	collected_free(&c);
}

Test(logger, tcp_rfc5424_octet_counting)
{
	const char *args[] = {"--tcp", "--rfc5424", "--octet-count", "-t", "tcptag", NULL};
	static const char input[] = "line one\nline two\nline three\n";
	struct collected c = {0};
	struct duet_syslog_stream_stats s;
	logger_tcp(args, input, sizeof input - 1, &c, &s);
	check_tcp_lines(&c, DUET_SYSLOG_FRAMING_OCTET, DUET_SYSLOG_RFC5424);
	cr_assert_eq(s.octet_counted, 3);
	collected_free(&c);
}

static void one_mib_then_small(const char *const *args, uint8_t framing)
{
	size_t big = 1u << 20;
	char *input = malloc(big + 16);
	memset(input, 'A', big);
	memcpy(input + big, "\nsmall\n", 7);
	struct collected c = {0};
	struct duet_syslog_stream_stats s;
	logger_tcp(args, input, big + 7, &c, &s);
	free(input);
	cr_assert_eq(c.n, 2);
	cr_assert_eq(c.f[0].err, DUET_ETOOBIG);
	cr_assert_eq(c.f[0].framing, framing);
	cr_assert_not_null(strstr(c.f[0].reason, "max_frame_bytes"));
	cr_assert_eq(c.f[1].err, 0);
	struct duet_syslog_msg m;
	cr_assert_eq(duet_syslog_parse(c.f[1].msg, c.f[1].len, &m), 0);
	assert_span(m.app_name, "big", "app");
	assert_span(m.msg, "small", "msg");
	cr_assert_eq(s.oversized, 1);
	cr_assert_eq(s.messages, 1);
	cr_assert_gt(s.bytes_discarded, big);
	collected_free(&c);
}

Test(logger, one_mib_line_refused_stream_goes_on)
{
	const char *args[] = {"--tcp", "--rfc3164", "--size", "1200000", "-t", "big", NULL};
	one_mib_then_small(args, DUET_SYSLOG_FRAMING_LF);
}

Test(logger, one_mib_octet_frame_refused_stream_goes_on)
{
	const char *args[] = {"--tcp",   "--rfc5424", "--octet-count", "--size",
			      "1200000", "-t",        "big",           NULL};
	one_mib_then_small(args, DUET_SYSLOG_FRAMING_OCTET);
}
