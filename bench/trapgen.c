/* SPDX-License-Identifier: MIT */
/*
 * trapgen.c - duet-trapgen: the trap load generator of bench-traps and the
 * trap integration tests. It plays a device configured with one or more
 * trap destinations (both data nodes' SIPs, DESIGN.md section 5): every
 * message goes to EVERY --to address, the same bytes to each, as a syslog
 * RFC 5424 message over UDP or over TCP with octet-counting framing
 * (RFC 6587 3.4.1, one connection per destination).
 *
 * Each message is unique and carries what a collector needs to judge loss,
 * duplicates and latency, in its MSG part:
 *
 *     duetbench seq=<n> sent_ns=<CLOCK_REALTIME ns> tag=<TEXT>
 *
 * seq counts up from --start-seq; sent_ns is the wall clock when the
 * message was built (duet-trapsink subtracts it from its own wall clock:
 * both run on one machine).
 *
 * Pacing: the n-th message (from 0) is due n/rate seconds after the start,
 * on the monotonic clock. The generator wakes at most once a millisecond
 * (TICK_NS), sends everything due in one sendmmsg() per destination (UDP)
 * or one write of the concatenated frames per connection (TCP), and sleeps
 * until the next message is due or the next tick, whichever is later. So
 * 100k msg/s costs about 1000 system calls a second per destination, and a
 * generator that falls behind (a slow TCP peer) sends the backlog in
 * batches of at most MAX_BATCH_MSGS instead of sleeping. --seconds S is
 * --count (rate x S): the seqs a collector should expect are known before
 * the run whatever the machine does, and a generator that cannot keep up
 * takes longer instead of sending fewer; the achieved rate is in the
 * summary.
 *
 * A destination that fails (TCP: refused, reset) is not fatal: the copies it
 * could not take are counted as send_errors, and a TCP destination is
 * reconnected at most once per RECONNECT_INTERVAL_NS (a device does the same;
 * the frame cut by the failure is lost with the connection).
 *
 * At exit, one JSON line on stdout (see usage()).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "duet/addr.h"
#include "duet/err.h"

#define MAX_DESTINATIONS      16
#define TICK_NS               1000000ull           /* wake at most once a millisecond */
#define MAX_BATCH_MSGS        1024                 /* one sendmmsg(); UIO_MAXIOV */
#define MAX_MSG_BYTES         320                  /* header ~100 + MSG ~120 + tag */
#define MAX_FRAME_BYTES       (MAX_MSG_BYTES + 12) /* "LEN SP" in front */
#define MAX_TAG_BYTES         64
#define MAX_RATE              10000000.0
#define MAX_SECONDS           86400.0
#define MAX_COUNT             10000000000ull
#define UDP_SEND_BUFFER_BYTES (4 << 20)
#define RECONNECT_INTERVAL_NS 1000000000ull
#define CONNECT_TIMEOUT_MS    200
#define SYSLOG_PRI            133 /* local0.notice */
#define SYSLOG_HOST           "duet-trapgen"
#define SYSLOG_APP            "duetbench"
#define DEFAULT_TAG           "none"
#define PROG                  "duet-trapgen"

enum gen_kind { GEN_SYSLOG_UDP, GEN_SYSLOG_TCP };

struct destination {
	const char *text; /* as given to --to */
	struct sockaddr_storage addr;
	socklen_t addr_len;
	int fd;                   /* TCP: -1 while not connected */
	uint64_t next_connect_ns; /* TCP: earliest reconnection attempt */
	uint64_t copies_sent, send_errors;
};

/* One second of the run, for --burst-report. */
struct second_figures {
	uint64_t sent, send_errors;
	uint64_t max_batch;  /* most messages sent in one tick */
	uint64_t max_lag_ns; /* latest a batch's first message left after it was due */
};

struct generator {
	enum gen_kind kind;
	struct destination dest[MAX_DESTINATIONS];
	int n_dest;
	int udp_fd;
	double rate;
	uint64_t total; /* messages to send */
	uint64_t start_seq;
	const char *tag;
	char procid[16];

	/* the batch being sent */
	char msgs[MAX_BATCH_MSGS][MAX_FRAME_BYTES];
	size_t msg_len[MAX_BATCH_MSGS];
	size_t msg_off[MAX_BATCH_MSGS]; /* UDP: where the syslog message starts (after "LEN SP") */
	struct mmsghdr hdrs[MAX_BATCH_MSGS];
	struct iovec iovs[MAX_BATCH_MSGS];
	char *stream; /* TCP: the frames of one batch, back to back */
	size_t frame_end[MAX_BATCH_MSGS];

	/* the RFC 3339 timestamp of the current second, "2025-11-25T12:34:56" */
	time_t ts_second;
	char ts_text[32];

	uint64_t generated;
	uint64_t send_errors;
	struct second_figures *seconds; /* --burst-report, one per second of the run */
	size_t n_seconds;
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = sig;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: " PROG " --to HOST:PORT [--to HOST:PORT ...] --rate N\n"
	    "                    (--seconds S | --count N) [--start-seq K]\n"
	    "                    [--kind syslog-udp|syslog-tcp] [--tag TEXT]\n"
	    "                    [--from ADDR] [--burst-report FILE]\n"
	    "\n"
	    "Sends syslog RFC 5424 messages at a steady rate, each one to every --to\n"
	    "address (the same bytes to each, like a device with several trap\n"
	    "destinations). The MSG part of message n is\n"
	    "  duetbench seq=<n> sent_ns=<CLOCK_REALTIME ns> tag=<TEXT>\n"
	    "\n"
	    "  --to HOST:PORT      a destination, numeric (\"127.0.0.1:5514\",\n"
	    "                      \"[::1]:5514\"); up to %d\n"
	    "  --rate N            messages per second (a message counts once however\n"
	    "                      many destinations it goes to); paced on the\n"
	    "                      monotonic clock in ~1 ms batches\n"
	    "  --seconds S         send rate x S messages (decimals allowed): the run\n"
	    "                      lasts S seconds if the generator keeps up\n"
	    "  --count N           send N messages\n"
	    "  --start-seq K       seq of the first message (default 1)\n"
	    "  --kind KIND         syslog-udp (default: sendmmsg) or syslog-tcp (one\n"
	    "                      connection per destination, octet counting)\n"
	    "  --tag TEXT          tag= value, 1..%d of [A-Za-z0-9._:-] (default %s)\n"
	    "  --from ADDR         source address to bind (default: the kernel's choice)\n"
	    "  --burst-report FILE one JSON line per second of the run:\n"
	    "                      {\"second\":k,\"sent\":n,\"send_errors\":e,\n"
	    "                       \"max_batch\":b,\"max_lag_us\":l} (b: most messages in\n"
	    "                      one tick; l: latest a batch left after it was due)\n"
	    "  --help              this text\n"
	    "\n"
	    "At exit (the end, or SIGINT/SIGTERM) one JSON line on stdout:\n"
	    "  {\"sent\":N,\"seconds\":S,\"rate_achieved\":R,\"first_seq\":F,\"last_seq\":L,\n"
	    "   \"send_errors\":E,\"kind\":\"syslog-udp\",\"destinations\":D,\"copies_sent\":C}\n"
	    "sent: messages built and handed to every destination (seqs F..L); E: copies\n"
	    "a destination did not take; C: copies that it did (sent x D - E).\n"
	    "\n"
	    "Exit status: 0, 1 if a socket could not be set up, 2 for a usage error.\n",
	    MAX_DESTINATIONS, MAX_TAG_BYTES, DEFAULT_TAG);
}

static int parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (s[0] == '-' || errno || end == s || *end || v < min || v > max) {
		fprintf(stderr,
			PROG ": %s wants a whole number from %" PRIu64 " to %" PRIu64
			     ", not '%s'\n",
			opt, min, max, s);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_positive(const char *opt, const char *s, double max, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v > 0) || v > max) {
		fprintf(stderr, PROG ": %s wants a number above 0 and at most %.0f, not '%s'\n",
			opt, max, s);
		return -1;
	}
	*out = v;
	return 0;
}

static bool tag_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == ':' || c == '-';
}

static bool tag_valid(const char *tag)
{
	size_t n = strlen(tag);
	if (n == 0 || n > MAX_TAG_BYTES)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!tag_char(tag[i]))
			return false;
	return true;
}

/* ---- sockets ---------------------------------------------------------------- */

static socklen_t addr_len(const struct sockaddr_storage *sa)
{
	return sa->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

static int bind_source(int fd, const struct sockaddr_storage *from)
{
	if (from->ss_family == 0)
		return 0;
	return bind(fd, (const struct sockaddr *)from, addr_len(from));
}

/* TCP: connects d (non-blocking connect, CONNECT_TIMEOUT_MS at most, then a
 * blocking socket: backpressure is the peer's business). 0 or -errno. */
static int tcp_connect(struct destination *d, const struct sockaddr_storage *from)
{
	int fd = socket(d->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	int rc = 0;
	if (bind_source(fd, from) != 0) {
		rc = -errno;
		goto fail;
	}
	if (connect(fd, (const struct sockaddr *)&d->addr, d->addr_len) != 0) {
		if (errno != EINPROGRESS) {
			rc = -errno;
			goto fail;
		}
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		int n = poll(&p, 1, CONNECT_TIMEOUT_MS);
		if (n <= 0) {
			rc = n == 0 ? -ETIMEDOUT : -errno;
			goto fail;
		}
		int err = 0;
		socklen_t len = sizeof err;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
			rc = err ? -err : -errno;
			goto fail;
		}
	}
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
		rc = -errno;
		goto fail;
	}
	d->fd = fd;
	return 0;
fail:
	close(fd);
	return rc;
}

static int open_sockets(struct generator *g, const struct sockaddr_storage *from)
{
	if (g->kind == GEN_SYSLOG_UDP) {
		int family = g->dest[0].addr.ss_family;
		for (int i = 1; i < g->n_dest; i++) {
			if (g->dest[i].addr.ss_family != family) {
				fprintf(stderr, PROG ": --to addresses mix IPv4 and IPv6; use one "
						     "family per run\n");
				return -1;
			}
		}
		g->udp_fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (g->udp_fd < 0) {
			fprintf(stderr, PROG ": cannot open a UDP socket: %s\n", strerror(errno));
			return -1;
		}
		int size = UDP_SEND_BUFFER_BYTES;
		/* best effort: a small buffer only makes sendmmsg() block sooner */
		(void)setsockopt(g->udp_fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
		if (bind_source(g->udp_fd, from) != 0) {
			fprintf(stderr, PROG ": cannot bind the UDP socket to --from: %s\n",
				strerror(errno));
			return -1;
		}
		return 0;
	}
	for (int i = 0; i < g->n_dest; i++) {
		struct destination *d = &g->dest[i];
		int rc = tcp_connect(d, from);
		if (rc != 0) {
			fprintf(stderr,
				PROG ": cannot connect to %s: %s; its copies count as send_errors "
				     "until a reconnection succeeds (tried every %llu ms)\n",
				d->text, strerror(-rc), RECONNECT_INTERVAL_NS / 1000000);
			d->next_connect_ns = mono_ns() + RECONNECT_INTERVAL_NS;
		}
	}
	return 0;
}

/* ---- messages ---------------------------------------------------------------- */

/* Builds message seq into slot i: "LEN SP" then the RFC 5424 message, with
 * msg_off[i] where the message starts (UDP sends from there). */
static void build_message(struct generator *g, size_t i, uint64_t seq)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != g->ts_second) {
		struct tm tm;
		gmtime_r(&ts.tv_sec, &tm);
		strftime(g->ts_text, sizeof g->ts_text, "%Y-%m-%dT%H:%M:%S", &tm);
		g->ts_second = ts.tv_sec;
	}
	uint64_t sent_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	char body[MAX_MSG_BYTES];
	int n =
	    snprintf(body, sizeof body,
		     "<%d>1 %s.%06ldZ " SYSLOG_HOST " " SYSLOG_APP " %s - - duetbench seq=%" PRIu64
		     " sent_ns=%" PRIu64 " tag=%s",
		     SYSLOG_PRI, g->ts_text, ts.tv_nsec / 1000, g->procid, seq, sent_ns, g->tag);
	/* cannot be cut: MAX_MSG_BYTES covers two 20-digit numbers and the longest tag */
	size_t len = (size_t)n < sizeof body ? (size_t)n : sizeof body - 1;
	int head = snprintf(g->msgs[i], MAX_FRAME_BYTES, "%zu ", len);
	memcpy(g->msgs[i] + head, body, len);
	g->msg_off[i] = (size_t)head;
	g->msg_len[i] = len;
}

static void send_udp(struct generator *g, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		g->iovs[i].iov_base = g->msgs[i] + g->msg_off[i];
		g->iovs[i].iov_len = g->msg_len[i];
	}
	for (int k = 0; k < g->n_dest; k++) {
		struct destination *d = &g->dest[k];
		for (size_t i = 0; i < n; i++) {
			struct msghdr *m = &g->hdrs[i].msg_hdr;
			memset(m, 0, sizeof *m);
			m->msg_name = &d->addr;
			m->msg_namelen = d->addr_len;
			m->msg_iov = &g->iovs[i];
			m->msg_iovlen = 1;
		}
		size_t done = 0;
		while (done < n) {
			int r = sendmmsg(g->udp_fd, g->hdrs + done, (unsigned)(n - done), 0);
			if (r > 0) {
				done += (size_t)r;
				d->copies_sent += (uint64_t)r;
			} else if (r < 0 && errno == EINTR) {
				continue;
			} else {
				/* the first datagram of the rest failed: count it, go on */
				done++;
				d->send_errors++;
				g->send_errors++;
			}
		}
	}
}

/* TCP: writes all of buf; returns how many bytes went out (== len unless the
 * connection failed, then it is closed). */
static size_t write_all(struct destination *d, const char *buf, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t w = send(d->fd, buf + done, len - done, MSG_NOSIGNAL);
		if (w > 0) {
			done += (size_t)w;
		} else if (w < 0 && errno == EINTR) {
			if (interrupted)
				break; /* a stuck peer must not hold the exit */
			continue;
		} else {
			fprintf(stderr, PROG ": connection to %s failed: %s; reconnecting\n",
				d->text, w < 0 ? strerror(errno) : "closed");
			close(d->fd);
			d->fd = -1;
			d->next_connect_ns = mono_ns() + RECONNECT_INTERVAL_NS;
			break;
		}
	}
	return done;
}

static void send_tcp(struct generator *g, size_t n, const struct sockaddr_storage *from)
{
	size_t len = 0;
	for (size_t i = 0; i < n; i++) {
		size_t frame = g->msg_off[i] + g->msg_len[i];
		memcpy(g->stream + len, g->msgs[i], frame);
		len += frame;
		g->frame_end[i] = len;
	}
	for (int k = 0; k < g->n_dest; k++) {
		struct destination *d = &g->dest[k];
		if (d->fd < 0 && mono_ns() >= d->next_connect_ns) {
			if (tcp_connect(d, from) == 0)
				fprintf(stderr, PROG ": reconnected to %s\n", d->text);
			else
				d->next_connect_ns = mono_ns() + RECONNECT_INTERVAL_NS;
		}
		size_t out = d->fd >= 0 ? write_all(d, g->stream, len) : 0;
		size_t whole = 0; /* frames written completely */
		while (whole < n && g->frame_end[whole] <= out)
			whole++;
		d->copies_sent += whole;
		d->send_errors += n - whole;
		g->send_errors += n - whole;
	}
}

/* ---- the run ------------------------------------------------------------------ */

static void note_second(struct generator *g, uint64_t elapsed_ns, uint64_t batch, uint64_t errors,
			uint64_t lag_ns)
{
	if (!g->seconds)
		return;
	size_t s = (size_t)(elapsed_ns / 1000000000u);
	if (s >= g->n_seconds)
		return;
	struct second_figures *f = &g->seconds[s];
	f->sent += batch;
	f->send_errors += errors;
	if (batch > f->max_batch)
		f->max_batch = batch;
	if (lag_ns > f->max_lag_ns)
		f->max_lag_ns = lag_ns;
}

/* When message number k (from 0) is due, in ns after the start. */
static uint64_t due_ns(const struct generator *g, uint64_t k)
{
	return (uint64_t)ceil((double)k * 1e9 / g->rate);
}

/* Sends until total messages are out or a signal comes. Returns the
 * elapsed ns from the first send to the last. */
static uint64_t run(struct generator *g, const struct sockaddr_storage *from)
{
	uint64_t start = mono_ns();
	uint64_t last_end = start;
	while (g->generated < g->total && !interrupted) {
		uint64_t now = mono_ns();
		uint64_t elapsed = now - start;
		/* everything due by now: message k is due at k / rate */
		uint64_t due = (uint64_t)floor((double)elapsed * g->rate / 1e9) + 1;
		if (due > g->total)
			due = g->total;
		while (g->generated < due && !interrupted) {
			uint64_t batch = due - g->generated;
			if (batch > MAX_BATCH_MSGS)
				batch = MAX_BATCH_MSGS;
			uint64_t due_at = due_ns(g, g->generated);
			uint64_t lag = elapsed > due_at ? elapsed - due_at : 0;
			for (uint64_t i = 0; i < batch; i++)
				build_message(g, (size_t)i, g->start_seq + g->generated + i);
			uint64_t errors_before = g->send_errors;
			if (g->kind == GEN_SYSLOG_UDP)
				send_udp(g, (size_t)batch);
			else
				send_tcp(g, (size_t)batch, from);
			note_second(g, elapsed, batch, g->send_errors - errors_before, lag);
			g->generated += batch;
			last_end = mono_ns();
			elapsed = last_end - start;
		}
		if (g->generated >= g->total)
			break;
		/* sleep until the next message is due, but at least to the next tick */
		uint64_t now_rel = mono_ns() - start;
		uint64_t wake = due_ns(g, g->generated);
		uint64_t next_tick = (now_rel / TICK_NS + 1) * TICK_NS;
		if (wake < next_tick)
			wake = next_tick;
		uint64_t abs_ns = start + wake;
		struct timespec ts = {.tv_sec = (time_t)(abs_ns / 1000000000u),
				      .tv_nsec = (long)(abs_ns % 1000000000u)};
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL); /* EINTR: loop checks */
	}
	return last_end - start;
}

static int write_burst_report(const struct generator *g, const char *path, uint64_t elapsed_ns)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, PROG ": cannot write --burst-report %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	size_t used = (size_t)(elapsed_ns / 1000000000u) + 1;
	if (used > g->n_seconds)
		used = g->n_seconds;
	for (size_t s = 0; s < used; s++) {
		const struct second_figures *x = &g->seconds[s];
		fprintf(f,
			"{\"second\":%zu,\"sent\":%" PRIu64 ",\"send_errors\":%" PRIu64
			",\"max_batch\":%" PRIu64 ",\"max_lag_us\":%" PRIu64 "}\n",
			s, x->sent, x->send_errors, x->max_batch, x->max_lag_ns / 1000);
	}
	if (fclose(f) != 0) {
		fprintf(stderr, PROG ": cannot write --burst-report %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option long_opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"to", required_argument, NULL, 't'},
	    {"rate", required_argument, NULL, 'r'},
	    {"seconds", required_argument, NULL, 's'},
	    {"count", required_argument, NULL, 'c'},
	    {"start-seq", required_argument, NULL, 'k'},
	    {"kind", required_argument, NULL, 'K'},
	    {"burst-report", required_argument, NULL, 'b'},
	    {"tag", required_argument, NULL, 'T'},
	    {"from", required_argument, NULL, 'f'},
	    {NULL, 0, NULL, 0},
	};
	static struct generator g; /* large: the batch buffers */
	struct sockaddr_storage from;
	double seconds = 0;
	uint64_t count = 0;
	const char *burst_path = NULL;
	int opt;

	memset(&from, 0, sizeof from);
	g.kind = GEN_SYSLOG_UDP;
	g.udp_fd = -1;
	g.start_seq = 1;
	g.tag = DEFAULT_TAG;
	while ((opt = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage(stdout);
			return 0;
		case 't': {
			if (g.n_dest == MAX_DESTINATIONS) {
				fprintf(stderr, PROG ": at most %d --to addresses\n",
					MAX_DESTINATIONS);
				return 2;
			}
			struct destination *d = &g.dest[g.n_dest];
			if (duet_addr_parse(optarg, &d->addr) != 0 ||
			    duet_addr_port(&d->addr) == 0) {
				fprintf(stderr,
					PROG ": --to wants a numeric HOST:PORT with a port, like "
					     "127.0.0.1:5514 or [::1]:5514, not '%s'\n",
					optarg);
				return 2;
			}
			d->text = optarg;
			d->addr_len = addr_len(&d->addr);
			d->fd = -1;
			g.n_dest++;
			break;
		}
		case 'r':
			if (parse_positive("--rate", optarg, MAX_RATE, &g.rate) != 0)
				return 2;
			break;
		case 's':
			if (parse_positive("--seconds", optarg, MAX_SECONDS, &seconds) != 0)
				return 2;
			break;
		case 'c':
			if (parse_u64("--count", optarg, 1, MAX_COUNT, &count) != 0)
				return 2;
			break;
		case 'k':
			if (parse_u64("--start-seq", optarg, 0, UINT64_MAX - MAX_COUNT,
				      &g.start_seq) != 0)
				return 2;
			break;
		case 'K':
			if (strcmp(optarg, "syslog-udp") == 0) {
				g.kind = GEN_SYSLOG_UDP;
			} else if (strcmp(optarg, "syslog-tcp") == 0) {
				g.kind = GEN_SYSLOG_TCP;
			} else {
				fprintf(stderr,
					PROG ": --kind is syslog-udp or syslog-tcp, not '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'b':
			burst_path = optarg;
			break;
		case 'T':
			if (!tag_valid(optarg)) {
				fprintf(stderr,
					PROG
					": --tag wants 1..%d characters of [A-Za-z0-9._:-] (the "
					"collector reads it up to the first other one), not "
					"'%s'\n",
					MAX_TAG_BYTES, optarg);
				return 2;
			}
			g.tag = optarg;
			break;
		case 'f':
			if (duet_addr_parse(optarg, &from) != 0) {
				/* a bare address: add the port the kernel picks */
				char buf[80];
				bool v6 = strchr(optarg, ':') != NULL;
				snprintf(buf, sizeof buf, v6 ? "[%s]:0" : "%s:0", optarg);
				if (duet_addr_parse(buf, &from) != 0) {
					fprintf(stderr,
						PROG ": --from wants a numeric address, not '%s'\n",
						optarg);
					return 2;
				}
			}
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (g.n_dest == 0 || g.rate == 0 || (seconds == 0) == (count == 0)) {
		fprintf(stderr, PROG ": needs --to, --rate and one of --seconds or --count\n");
		usage(stderr);
		return 2;
	}
	if (seconds > 0) {
		double total = round(g.rate * seconds);
		if (total < 1 || total > (double)MAX_COUNT) {
			fprintf(stderr,
				PROG
				": --rate x --seconds must make 1 to %llu messages, not %.0f\n",
				MAX_COUNT, total);
			return 2;
		}
		g.total = (uint64_t)total;
	} else {
		g.total = count;
	}
	snprintf(g.procid, sizeof g.procid, "%d", (int)getpid());

	if (burst_path) {
		/* seconds of the run, plus slack for a --count run or a slow end */
		double span = seconds > 0 ? seconds : (double)g.total / g.rate;
		g.n_seconds = (size_t)ceil(span) + 60;
		g.seconds = calloc(g.n_seconds, sizeof *g.seconds);
		if (!g.seconds) {
			fprintf(stderr, PROG ": out of memory for --burst-report\n");
			return 1;
		}
	}
	if (g.kind == GEN_SYSLOG_TCP) {
		g.stream = malloc((size_t)MAX_BATCH_MSGS * MAX_FRAME_BYTES);
		if (!g.stream) {
			fprintf(stderr, PROG ": out of memory\n");
			return 1;
		}
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal; /* no SA_RESTART: a signal wakes the sleep */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (open_sockets(&g, &from) != 0)
		return 1;
	uint64_t elapsed_ns = run(&g, &from);
	if (interrupted)
		fprintf(stderr, PROG ": stopped by signal %d after %" PRIu64 " messages\n",
			(int)interrupted, g.generated);

	double secs = (double)elapsed_ns / 1e9;
	uint64_t copies = 0;
	for (int i = 0; i < g.n_dest; i++)
		copies += g.dest[i].copies_sent;
	int status = 0;
	if (burst_path && write_burst_report(&g, burst_path, elapsed_ns) != 0)
		status = 1;
	printf("{\"sent\":%" PRIu64 ",\"seconds\":%.3f,\"rate_achieved\":%.0f,", g.generated, secs,
	       secs > 0 ? (double)g.generated / secs : 0.0);
	if (g.generated > 0)
		printf("\"first_seq\":%" PRIu64 ",\"last_seq\":%" PRIu64 ",", g.start_seq,
		       g.start_seq + g.generated - 1);
	else
		printf("\"first_seq\":null,\"last_seq\":null,");
	printf("\"send_errors\":%" PRIu64
	       ",\"kind\":\"%s\",\"destinations\":%d,\"copies_sent\":%" PRIu64 "}\n",
	       g.send_errors, g.kind == GEN_SYSLOG_UDP ? "syslog-udp" : "syslog-tcp", g.n_dest,
	       copies);
	fflush(stdout);

	for (int i = 0; i < g.n_dest; i++)
		if (g.dest[i].fd >= 0)
			close(g.dest[i].fd);
	if (g.udp_fd >= 0)
		close(g.udp_fd);
	free(g.stream);
	free(g.seconds);
	return status;
}
