/* SPDX-License-Identifier: MIT */
/*
 * pgprobe - the client side of duet's failover tests (tests/netns).
 *
 *   pgprobe write --conninfo CI --out ACKS [--interval-ms 5] [--timeout-ms 1000]
 *                 [--start-id N] [--errors FAILS]
 *   pgprobe sample --conninfo A --conninfo B --out SAMPLES [--interval-ms 50]
 *                  [--timeout-ms 500]
 *   pgprobe check-samples SAMPLES
 *   pgprobe verify --conninfo CI --acks ACKS
 *   pgprobe first-ack-after --acks ACKS --after-ns T --server NAME
 *   pgprobe now
 *
 * write inserts ids 1, 2, 3... into duet_probe, one new id per attempt
 * (never retried), and appends "id mono_ns server" to ACKS for each
 * acknowledged commit (and "mono_ns what id" to FAILS for each attempt that
 * failed: a connect, the table set-up or an insert that ended in an error;
 * an insert that waits is not a failure); sample records which servers say they are primary;
 * verify proves that no acknowledged commit was lost. mono_ns is
 * CLOCK_MONOTONIC in nanoseconds, the same clock in every namespace of the
 * machine (`pgprobe now` prints it, for scripts).
 *
 * Connections add, before the user's conninfo (which may override them):
 * user=postgres connect_timeout=1 keepalives=1 keepalives_idle=1
 * keepalives_interval=1 keepalives_count=2 tcp_user_timeout=1000
 * application_name=pgprobe, so that a dead server is noticed in about two
 * seconds. No statement_timeout: a synchronous-replication wait is
 * legitimate. Connects and queries use libpq's asynchronous calls with our own
 * deadlines, so SIGTERM/SIGINT end every subcommand promptly and cleanly.
 *
 * Exit status: 0 ok; 1 the check failed (lost commits, two primaries, no such
 * ack); 2 usage, file or connection error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#define LINE_MAX_LEN 256      /* longest line of an acks or samples file */
#define SERVER_MAX   64       /* cluster_name kept, including NUL */
#define IDS_MAX      50000000 /* most ids verify loads (400 MB) */
#define LOST_SHOWN   20       /* lost ids listed by verify */
#define BOTH_SHOWN   10       /* two-primary lines listed by check-samples */
#define TRANS_SHOWN  100      /* transitions listed by sample's summary */
#define ERR_EVERY_NS 1000000000ull

static volatile sig_atomic_t g_stop;
static const char *g_cmd = "pgprobe";

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

static void install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* no SA_RESTART: poll() and nanosleep() return EINTR */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* "2024-01-02T03:04:05.678Z pgprobe write: ..." on stderr */
static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logmsg(const char *fmt, ...)
{
	struct timespec ts;
	struct tm tm;
	char stamp[32];
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ pgprobe %s: ", stamp, ts.tv_nsec / 1000000L, g_cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* libpq's messages end with a newline (sometimes two lines): one line */
static const char *oneline(const char *msg, char *buf, size_t n)
{
	size_t i = 0;

	if (!msg || !*msg)
		return "(no message)";
	for (; *msg && i + 1 < n; msg++)
		buf[i++] = (*msg == '\n' || *msg == '\r') ? ' ' : *msg;
	while (i > 0 && buf[i - 1] == ' ')
		i--;
	buf[i] = '\0';
	return buf;
}

/* Sleep ms milliseconds or until a signal asks us to stop. */
static void nap_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	if (!g_stop)
		nanosleep(&ts, NULL);
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

static int parse_ms(const char *opt, const char *s, unsigned *out)
{
	uint64_t v;

	if (parse_u64(s, &v) || v > 3600000) {
		fprintf(stderr, "pgprobe: %s wants milliseconds (0..3600000), not '%s'\n", opt, s);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

/* ------------------------------------------------------------------ connections */

/* Start a non-blocking connection: our defaults, then the user's conninfo. */
static PGconn *conn_start(const char *conninfo)
{
	static const char *const keys[] = {"user",
					   "connect_timeout",
					   "keepalives",
					   "keepalives_idle",
					   "keepalives_interval",
					   "keepalives_count",
					   "tcp_user_timeout",
					   "application_name",
					   "dbname",
					   NULL};
	const char *vals[] = {"postgres", "1",    "1",       "1",      "1",
			      "2",        "1000", "pgprobe", conninfo, NULL};

	return PQconnectStartParams(keys, vals, 1);
}

/* Drive PQconnectPoll until connected (0), failed (-1), deadline or stop (-1). */
static int conn_wait(PGconn *c, uint64_t deadline)
{
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;

	if (!c || PQstatus(c) == CONNECTION_BAD)
		return -1;
	for (;;) {
		struct pollfd p;
		uint64_t now;
		int ms, r;

		if (st == PGRES_POLLING_OK)
			return 0;
		if (st == PGRES_POLLING_FAILED || g_stop)
			return -1;
		now = mono_ns();
		if (now >= deadline)
			return -1;
		ms = (int)((deadline - now) / 1000000u) + 1;
		if (ms > 100)
			ms = 100;
		p.fd = PQsocket(c);
		p.events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
		p.revents = 0;
		if (p.fd < 0)
			return -1;
		r = poll(&p, 1, ms);
		if (r < 0 && errno != EINTR)
			return -1;
		if (r > 0)
			st = PQconnectPoll(c);
	}
}

/* Connect within timeout_ms; NULL on failure with the reason in why. */
static PGconn *conn_open(const char *conninfo, unsigned timeout_ms, char *why, size_t n)
{
	PGconn *c = conn_start(conninfo);
	char buf[512];

	if (!c) {
		snprintf(why, n, "out of memory");
		return NULL;
	}
	if (conn_wait(c, mono_ns() + (uint64_t)timeout_ms * 1000000ull) == 0)
		return c;
	if (g_stop)
		snprintf(why, n, "stopped");
	else if (PQstatus(c) == CONNECTION_BAD)
		snprintf(why, n, "%s", oneline(PQerrorMessage(c), buf, sizeof(buf)));
	else
		snprintf(why, n, "no connection within %u ms", timeout_ms);
	PQfinish(c);
	return NULL;
}

/* Wait until the query sent on c has its whole result: 0 ready, -1 connection
 * error, 1 deadline (0: none), 2 stopped. */
static int result_wait(PGconn *c, uint64_t deadline)
{
	while (PQisBusy(c)) {
		struct pollfd p = {.fd = PQsocket(c), .events = POLLIN, .revents = 0};
		int ms = 100, r;

		if (g_stop)
			return 2;
		if (deadline) {
			uint64_t now = mono_ns();
			if (now >= deadline)
				return 1;
			if ((deadline - now) / 1000000u < 100)
				ms = (int)((deadline - now) / 1000000u) + 1;
		}
		if (p.fd < 0)
			return -1;
		r = poll(&p, 1, ms);
		if (r < 0 && errno != EINTR)
			return -1;
		if (r > 0 && !PQconsumeInput(c))
			return -1;
	}
	return 0;
}

/* Run one statement to completion (no deadline); the last result, or NULL. */
static PGresult *exec_wait(PGconn *c, const char *sql, int nparams, const char *const *params)
{
	PGresult *res, *last = NULL;

	if (!PQsendQueryParams(c, sql, nparams, NULL, params, NULL, NULL, 0))
		return NULL;
	if (result_wait(c, 0) != 0)
		return NULL;
	while ((res = PQgetResult(c)) != NULL) {
		PQclear(last);
		last = res;
		if (PQisBusy(c) && result_wait(c, 0) != 0)
			break;
	}
	return last;
}

/* ------------------------------------------------------------------ write */

struct writer {
	const char *conninfo;
	FILE *out;
	FILE *fails; /* --errors: one line per failed attempt, or NULL */
	unsigned interval_ms;
	int64_t next_id; /* 0: take max(id)+1 at the first connection */
	int64_t current; /* id in flight, for notices */
	bool table_ok;
	uint64_t attempts, acked, errors, notices, failures;
	/* error throttling: one line per second per distinct message */
	char last_err[256];
	uint64_t last_err_at, suppressed;
};

static void writer_error(struct writer *w, int64_t id, const char *what, const char *msg)
{
	char buf[256];
	uint64_t now = mono_ns();

	oneline(msg, buf, sizeof(buf));
	if (strcmp(buf, w->last_err) == 0 && now - w->last_err_at < ERR_EVERY_NS) {
		w->suppressed++;
		return;
	}
	if (w->suppressed)
		logmsg("(%" PRIu64 " more like the last)", w->suppressed);
	w->suppressed = 0;
	snprintf(w->last_err, sizeof(w->last_err), "%s", buf);
	w->last_err_at = now;
	if (id > 0)
		logmsg("id %" PRId64 ": %s: %s", id, what, buf);
	else
		logmsg("%s: %s", what, buf);
}

/* A failed attempt (connect, set-up, send, connection, insert): counted and,
 * with --errors, recorded as "mono_ns what id" so that a script can count the
 * failures inside a window of `pgprobe now` times. */
static void writer_failed(struct writer *w, int64_t id, const char *what)
{
	w->failures++;
	if (!w->fails)
		return;
	fprintf(w->fails, "%" PRIu64 " %s %" PRId64 "\n", mono_ns(), what, id);
	if (fflush(w->fails) != 0) {
		logmsg("writing the errors file: %s", strerror(errno));
		g_stop = 1;
	}
}

static void writer_notice(void *arg, const char *message)
{
	struct writer *w = arg;
	char buf[512];

	w->notices++;
	logmsg("notice during id %" PRId64 ": %s", w->current, oneline(message, buf, sizeof(buf)));
}

static const char SQL_CREATE[] = "CREATE TABLE IF NOT EXISTS duet_probe (id bigint PRIMARY KEY, "
				 "at timestamptz NOT NULL DEFAULT now(), server text)";
static const char SQL_MAXID[] = "SELECT coalesce(max(id), 0) + 1 FROM duet_probe";
static const char SQL_INSERT[] = "INSERT INTO duet_probe (id, server) "
				 "VALUES ($1, current_setting('cluster_name')) RETURNING server";

/* After a connection: create the table (once), learn the first id. */
static int writer_prepare(struct writer *w, PGconn *c)
{
	PGresult *r;

	if (!w->table_ok) {
		r = exec_wait(c, SQL_CREATE, 0, NULL);
		if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
			writer_error(w, 0, "create table",
				     r ? PQresultErrorMessage(r) : PQerrorMessage(c));
			writer_failed(w, 0, "create-table");
			PQclear(r);
			return -1;
		}
		PQclear(r);
		w->table_ok = true;
	}
	if (w->next_id == 0) {
		r = exec_wait(c, SQL_MAXID, 0, NULL);
		if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
			writer_error(w, 0, "max(id)",
				     r ? PQresultErrorMessage(r) : PQerrorMessage(c));
			writer_failed(w, 0, "max-id");
			PQclear(r);
			return -1;
		}
		w->next_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		PQclear(r);
		logmsg("first id %" PRId64, w->next_id);
	}
	return 0;
}

/* One attempt with a fresh id: 1 acknowledged, 0 failed (drop connection). */
static int writer_attempt(struct writer *w, PGconn *c)
{
	char idbuf[24], server[SERVER_MAX];
	const char *params[1] = {idbuf};
	int64_t id = w->next_id++;
	PGresult *r, *last = NULL;
	int rc;

	w->attempts++;
	w->current = id;
	snprintf(idbuf, sizeof(idbuf), "%" PRId64, id);
	if (!PQsendQueryParams(c, SQL_INSERT, 1, NULL, params, NULL, NULL, 0)) {
		writer_error(w, id, "send", PQerrorMessage(c));
		writer_failed(w, id, "send");
		return 0;
	}
	rc = result_wait(c, 0);
	if (rc == 2) {
		logmsg("id %" PRId64 ": stopped while in flight (outcome unknown, not acked)", id);
		return 0;
	}
	if (rc != 0) {
		writer_error(w, id, "connection", PQerrorMessage(c));
		writer_failed(w, id, "connection");
		return 0;
	}
	while ((r = PQgetResult(c)) != NULL) {
		PQclear(last);
		last = r;
		if (PQisBusy(c) && result_wait(c, 0) != 0)
			break;
	}
	if (last && PQresultStatus(last) == PGRES_TUPLES_OK && PQntuples(last) == 1) {
		uint64_t now = mono_ns();
		size_t i;

		snprintf(server, sizeof(server), "%s", PQgetvalue(last, 0, 0));
		for (i = 0; server[i]; i++)
			if (server[i] == ' ' || server[i] == '\t' || server[i] == '\n')
				server[i] = '_';
		if (!server[0])
			snprintf(server, sizeof(server), "-");
		PQclear(last);
		fprintf(w->out, "%" PRId64 " %" PRIu64 " %s\n", id, now, server);
		if (fflush(w->out) != 0) {
			logmsg("writing the acks file: %s", strerror(errno));
			g_stop = 1;
		}
		w->acked++;
		return 1;
	}
	w->errors++;
	writer_error(w, id, "insert", last ? PQresultErrorMessage(last) : PQerrorMessage(c));
	writer_failed(w, id, "insert");
	PQclear(last);
	return 0;
}

static int cmd_write(const char *conninfo, const char *out_path, const char *fails_path,
		     unsigned interval_ms, unsigned timeout_ms, int64_t start_id)
{
	struct writer w;
	PGconn *c = NULL;
	char why[512];
	bool was_up = false;

	memset(&w, 0, sizeof(w));
	w.conninfo = conninfo;
	w.interval_ms = interval_ms;
	w.next_id = start_id;
	w.out = fopen(out_path, "a");
	if (!w.out) {
		fprintf(stderr, "pgprobe write: cannot open %s: %s\n", out_path, strerror(errno));
		return 2;
	}
	if (fails_path) {
		w.fails = fopen(fails_path, "a");
		if (!w.fails) {
			fprintf(stderr, "pgprobe write: cannot open %s: %s\n", fails_path,
				strerror(errno));
			fclose(w.out);
			return 2;
		}
	}
	logmsg("writing to %s every %u ms", out_path, interval_ms);
	while (!g_stop) {
		if (!c) {
			c = conn_open(conninfo, timeout_ms, why, sizeof(why));
			if (!c) {
				if (!g_stop) {
					writer_error(&w, 0, "connect", why);
					writer_failed(&w, 0, "connect");
				}
				nap_ms(interval_ms ? interval_ms : 1);
				continue;
			}
			PQsetNoticeProcessor(c, writer_notice, &w);
			if (!was_up)
				logmsg("connected (%s:%s)", PQhost(c), PQport(c));
			was_up = true;
			w.last_err[0] = '\0';
			if (writer_prepare(&w, c) != 0) {
				PQfinish(c);
				c = NULL;
				nap_ms(interval_ms ? interval_ms : 1);
				continue;
			}
		}
		if (!writer_attempt(&w, c)) {
			/* any error: the FIP may have moved, start afresh */
			PQfinish(c);
			c = NULL;
			if (was_up && !g_stop)
				logmsg("connection dropped after id %" PRId64, w.next_id - 1);
			was_up = false;
		}
		nap_ms(interval_ms);
	}
	if (w.suppressed)
		logmsg("(%" PRIu64 " more like the last)", w.suppressed);
	PQfinish(c);
	fclose(w.out);
	if (w.fails)
		fclose(w.fails);
	logmsg("stopped: attempts=%" PRIu64 " acked=%" PRIu64 " errors=%" PRIu64
	       " failures=%" PRIu64 " notices=%" PRIu64 " next_id=%" PRId64,
	       w.attempts, w.acked, w.errors, w.failures, w.notices, w.next_id);
	return 0;
}

/* ------------------------------------------------------------------ sample */

enum { ST_DOWN, ST_PRIMARY, ST_STANDBY };
static const char *const st_name[] = {"down", "primary", "standby"};

enum tstate { T_DOWN, T_CONNECTING, T_IDLE, T_BUSY };

struct target {
	const char *conninfo;
	PGconn *c;
	enum tstate st;
	PostgresPollingStatusType poll; /* while connecting */
	uint64_t deadline;              /* of the connect or the query */
	uint64_t retry_at;              /* earliest next connect */
	uint64_t sent_tick;             /* tick whose query is in flight */
	int answer;                     /* state seen in this tick */
	bool answered;
	uint64_t count[3];
	char last_err[256];
};

static void target_drop(struct target *t, uint64_t now, const char *why, uint64_t retry_ns)
{
	char buf[256];

	oneline(why, buf, sizeof(buf)); /* why may live in t->c: copy it first */
	if (t->c)
		PQfinish(t->c);
	t->c = NULL;
	t->st = T_DOWN;
	t->retry_at = now + retry_ns;
	if (strcmp(buf, t->last_err) != 0) {
		logmsg("%s: down: %s", t->conninfo, buf);
		snprintf(t->last_err, sizeof(t->last_err), "%s", buf);
	}
}

static void target_notice(void *arg, const char *message)
{
	const struct target *t = arg;
	char buf[512];

	logmsg("%s: notice: %s", t->conninfo, oneline(message, buf, sizeof(buf)));
}

static void target_send(struct target *t, uint64_t tick, uint64_t now, unsigned timeout_ms)
{
	if (!PQsendQuery(t->c, "SELECT pg_is_in_recovery()")) {
		target_drop(t, now, PQerrorMessage(t->c), 0);
		return;
	}
	t->st = T_BUSY;
	t->sent_tick = tick;
	t->deadline = now + (uint64_t)timeout_ms * 1000000ull;
}

/* Read what arrived for a busy target. */
static void target_read(struct target *t, uint64_t tick, uint64_t now)
{
	PGresult *r, *last = NULL;
	int state = -1;

	if (!PQconsumeInput(t->c)) {
		target_drop(t, now, PQerrorMessage(t->c), 0);
		return;
	}
	if (PQisBusy(t->c))
		return;
	while ((r = PQgetResult(t->c)) != NULL) {
		PQclear(last);
		last = r;
	}
	if (last && PQresultStatus(last) == PGRES_TUPLES_OK && PQntuples(last) == 1)
		state = PQgetvalue(last, 0, 0)[0] == 't' ? ST_STANDBY : ST_PRIMARY;
	if (state < 0) {
		target_drop(t, now, last ? PQresultErrorMessage(last) : PQerrorMessage(t->c), 0);
		PQclear(last);
		return;
	}
	PQclear(last);
	t->st = T_IDLE;
	if (t->last_err[0]) {
		logmsg("%s: up (%s)", t->conninfo, st_name[state]);
		t->last_err[0] = '\0';
	}
	if (t->sent_tick == tick) {
		t->answer = state;
		t->answered = true;
	}
}

static int cmd_sample(const char *ci[2], const char *out_path, unsigned interval_ms,
		      unsigned timeout_ms)
{
	struct target t[2];
	FILE *out;
	uint64_t tick = 0, start = mono_ns(), next = start, both = 0, lines = 0;
	int prev[2] = {-1, -1};
	unsigned ntrans = 0;
	char trans[TRANS_SHOWN][96];
	uint64_t ntrans_all = 0;

	memset(t, 0, sizeof(t));
	t[0].conninfo = ci[0];
	t[1].conninfo = ci[1];
	out = fopen(out_path, "a");
	if (!out) {
		fprintf(stderr, "pgprobe sample: cannot open %s: %s\n", out_path, strerror(errno));
		return 2;
	}
	logmsg("sampling every %u ms into %s", interval_ms, out_path);
	while (!g_stop) {
		uint64_t t0 = mono_ns(), tick_end;
		int i, st[2];

		tick++;
		if (next < t0)
			next = t0;
		tick_end = t0 + (uint64_t)interval_ms * 1000000ull;
		for (i = 0; i < 2; i++) {
			t[i].answered = false;
			if (t[i].st == T_DOWN && t0 >= t[i].retry_at) {
				t[i].c = conn_start(t[i].conninfo);
				if (!t[i].c || PQstatus(t[i].c) == CONNECTION_BAD) {
					target_drop(&t[i], t0,
						    t[i].c ? PQerrorMessage(t[i].c) : "no memory",
						    (uint64_t)interval_ms * 1000000ull);
					continue;
				}
				PQsetNoticeProcessor(t[i].c, target_notice, &t[i]);
				t[i].st = T_CONNECTING;
				t[i].poll = PGRES_POLLING_WRITING;
				t[i].deadline = t0 + (uint64_t)timeout_ms * 1000000ull;
			}
			if (t[i].st == T_IDLE)
				target_send(&t[i], tick, t0, timeout_ms);
		}
		/* collect until both answered this tick or the tick is over */
		for (;;) {
			struct pollfd p[2];
			int n = 0, idx[2], ms, r;
			uint64_t now = mono_ns();

			for (i = 0; i < 2; i++) {
				if (t[i].st == T_CONNECTING && now >= t[i].deadline)
					target_drop(&t[i], now, "connect timed out", 0);
				else if (t[i].st == T_BUSY && now >= t[i].deadline)
					target_drop(&t[i], now, "query timed out", 0);
			}
			if ((t[0].answered || t[0].st == T_DOWN) &&
			    (t[1].answered || t[1].st == T_DOWN))
				break;
			if (now >= tick_end || g_stop)
				break;
			for (i = 0; i < 2; i++) {
				if (t[i].st != T_CONNECTING && t[i].st != T_BUSY)
					continue;
				p[n].fd = PQsocket(t[i].c);
				p[n].events =
				    (t[i].st == T_CONNECTING && t[i].poll != PGRES_POLLING_READING)
					? POLLOUT
					: POLLIN;
				p[n].revents = 0;
				idx[n++] = i;
			}
			ms = (int)((tick_end - now) / 1000000u) + 1;
			r = poll(p, (nfds_t)n, ms);
			if (r < 0 && errno != EINTR)
				break;
			now = mono_ns();
			for (int k = 0; r > 0 && k < n; k++) {
				struct target *x = &t[idx[k]];

				if (!p[k].revents)
					continue;
				if (x->st == T_CONNECTING) {
					x->poll = PQconnectPoll(x->c);
					if (x->poll == PGRES_POLLING_FAILED) {
						target_drop(x, now, PQerrorMessage(x->c), 0);
					} else if (x->poll == PGRES_POLLING_OK) {
						x->st = T_IDLE;
						target_send(x, tick, now, timeout_ms);
					}
				} else if (x->st == T_BUSY) {
					target_read(x, tick, now);
				}
				/* a late answer to an earlier tick: ask again for this one */
				if (x->st == T_IDLE && !x->answered)
					target_send(x, tick, now, timeout_ms);
			}
		}
		if (g_stop)
			break;
		for (i = 0; i < 2; i++) {
			st[i] = t[i].answered ? t[i].answer : ST_DOWN;
			t[i].count[st[i]]++;
		}
		if (st[0] == ST_PRIMARY && st[1] == ST_PRIMARY) {
			both++;
			logmsg("BOTH PRIMARY at %" PRIu64, t0);
		}
		fprintf(out, "%" PRIu64 " %s %s\n", t0, st_name[st[0]], st_name[st[1]]);
		fflush(out);
		lines++;
		if (st[0] != prev[0] || st[1] != prev[1]) {
			if (ntrans < TRANS_SHOWN)
				snprintf(trans[ntrans++], sizeof(trans[0]), "  +%.3fs A=%s B=%s",
					 (double)(t0 - start) / 1e9, st_name[st[0]],
					 st_name[st[1]]);
			ntrans_all++;
			prev[0] = st[0];
			prev[1] = st[1];
		}
		next += (uint64_t)interval_ms * 1000000ull;
		{
			uint64_t now = mono_ns();
			if (next > now)
				nap_ms((unsigned)((next - now) / 1000000u));
		}
	}
	PQfinish(t[0].c);
	PQfinish(t[1].c);
	fclose(out);
	printf("samples=%" PRIu64 " both_primary=%" PRIu64 "\n", lines, both);
	for (int i = 0; i < 2; i++)
		printf("%c: primary=%" PRIu64 " standby=%" PRIu64 " down=%" PRIu64 "  (%s)\n",
		       'A' + i, t[i].count[ST_PRIMARY], t[i].count[ST_STANDBY], t[i].count[ST_DOWN],
		       t[i].conninfo);
	printf("transitions=%" PRIu64 "%s\n", ntrans_all,
	       ntrans_all > ntrans ? " (first shown)" : "");
	for (unsigned k = 0; k < ntrans; k++)
		printf("%s\n", trans[k]);
	fflush(stdout);
	return 0;
}

/* ------------------------------------------------------------------ files */

/* Read one line into buf: 1 ok, 0 EOF, -1 too long; *partial when the last
 * line has no newline (a writer killed mid-line). */
static int read_line(FILE *f, char *buf, size_t n, bool *partial)
{
	size_t len;

	*partial = false;
	if (!fgets(buf, (int)n, f))
		return 0;
	len = strlen(buf);
	if (len > 0 && buf[len - 1] == '\n') {
		buf[len - 1] = '\0';
		return 1;
	}
	if (feof(f)) {
		*partial = true;
		return 1;
	}
	return -1;
}

struct ack {
	int64_t id;
	uint64_t mono;
	char server[SERVER_MAX];
};

/* "id mono server" */
static int parse_ack(const char *line, struct ack *a)
{
	char srv[LINE_MAX_LEN];
	long long id;
	unsigned long long mono;
	int used = 0;

	if (sscanf(line, "%lld %llu %255s%n", &id, &mono, srv, &used) != 3 || id <= 0)
		return -1;
	if (line[used] != '\0' || strlen(srv) >= SERVER_MAX)
		return -1;
	a->id = id;
	a->mono = mono;
	memcpy(a->server, srv, strlen(srv) + 1);
	return 0;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Load the acked ids of path, sorted. */
static int load_acks(const char *path, int64_t **ids_out, size_t *n_out)
{
	FILE *f = fopen(path, "r");
	char line[LINE_MAX_LEN];
	int64_t *ids = NULL;
	size_t n = 0, cap = 0;
	unsigned long lineno = 0;
	bool partial;
	int r;

	if (!f) {
		fprintf(stderr, "pgprobe: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((r = read_line(f, line, sizeof(line), &partial)) != 0) {
		struct ack a;

		lineno++;
		if (r < 0) {
			fprintf(stderr, "pgprobe: %s:%lu: line too long\n", path, lineno);
			goto fail;
		}
		if (line[0] == '\0')
			continue;
		if (parse_ack(line, &a) != 0) {
			if (partial) {
				fprintf(stderr,
					"pgprobe: %s:%lu: ignoring an unfinished last line\n", path,
					lineno);
				break;
			}
			fprintf(stderr, "pgprobe: %s:%lu: not 'id mono_ns server': %s\n", path,
				lineno, line);
			goto fail;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 4096;
			int64_t *nids;

			if (ncap > IDS_MAX)
				ncap = IDS_MAX;
			if (n >= ncap) {
				fprintf(stderr, "pgprobe: %s: more than %d acks\n", path, IDS_MAX);
				goto fail;
			}
			nids = realloc(ids, ncap * sizeof(*ids));
			if (!nids) {
				fprintf(stderr, "pgprobe: out of memory\n");
				goto fail;
			}
			ids = nids;
			cap = ncap;
		}
		ids[n++] = a.id;
	}
	fclose(f);
	if (n)
		qsort(ids, n, sizeof(*ids), cmp_i64);
	*ids_out = ids;
	*n_out = n;
	return 0;
fail:
	fclose(f);
	free(ids);
	return -1;
}

static int cmd_verify(const char *conninfo, const char *acks_path)
{
	int64_t *acked = NULL, *have = NULL;
	size_t nacked = 0, nhave = 0, present = 0, lost = 0, dup = 0, extra = 0, i, j;
	int64_t lost_ids[LOST_SHOWN];
	char why[512];
	PGconn *c;
	PGresult *r;

	if (load_acks(acks_path, &acked, &nacked) != 0)
		return 2;
	c = conn_open(conninfo, 5000, why, sizeof(why));
	if (!c) {
		fprintf(stderr, "pgprobe verify: cannot connect (%s): %s\n", conninfo, why);
		free(acked);
		return 2;
	}
	r = exec_wait(c, "SELECT id FROM duet_probe ORDER BY id", 0, NULL);
	if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "pgprobe verify: reading duet_probe: %s",
			r ? PQresultErrorMessage(r) : PQerrorMessage(c));
		PQclear(r);
		PQfinish(c);
		free(acked);
		return 2;
	}
	nhave = (size_t)PQntuples(r);
	if (nhave) {
		have = malloc(nhave * sizeof(*have));
		if (!have) {
			fprintf(stderr, "pgprobe verify: out of memory\n");
			PQclear(r);
			PQfinish(c);
			free(acked);
			return 2;
		}
	}
	for (i = 0; i < nhave; i++)
		have[i] = strtoll(PQgetvalue(r, (int)i, 0), NULL, 10);
	PQclear(r);
	PQfinish(c);
	/* both sorted: merge */
	for (i = 0, j = 0; i < nacked; i++) {
		if (i > 0 && acked[i] == acked[i - 1]) {
			dup++;
			continue;
		}
		while (j < nhave && have[j] < acked[i])
			j++;
		if (j < nhave && have[j] == acked[i]) {
			present++;
		} else {
			if (lost < LOST_SHOWN)
				lost_ids[lost] = acked[i];
			lost++;
		}
	}
	extra = nhave >= present ? nhave - present : 0;
	printf("acked=%zu present=%zu lost=%zu\n", nacked - dup, present, lost);
	printf("rows=%zu unacked_rows=%zu%s\n", nhave, extra,
	       extra ? " (committed without an ack reaching the client: allowed)" : "");
	if (dup)
		printf("warning: %zu duplicate ids in %s\n", dup, acks_path);
	if (lost) {
		printf("LOST (first %zu):", lost < LOST_SHOWN ? lost : (size_t)LOST_SHOWN);
		for (i = 0; i < lost && i < LOST_SHOWN; i++)
			printf(" %" PRId64, lost_ids[i]);
		printf("\n");
	}
	free(acked);
	free(have);
	return lost ? 1 : 0;
}

static int cmd_check_samples(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[LINE_MAX_LEN];
	unsigned long lineno = 0, samples = 0, both = 0;
	bool partial;
	int r;

	if (!f) {
		fprintf(stderr, "pgprobe check-samples: cannot open %s: %s\n", path,
			strerror(errno));
		return 2;
	}
	while ((r = read_line(f, line, sizeof(line), &partial)) != 0) {
		char a[16], b[16];
		unsigned long long mono;
		int used = 0;
		bool ok_a, ok_b;

		lineno++;
		if (r < 0) {
			fprintf(stderr, "pgprobe check-samples: %s:%lu: line too long\n", path,
				lineno);
			fclose(f);
			return 2;
		}
		if (line[0] == '\0')
			continue;
		if (sscanf(line, "%llu %15s %15s%n", &mono, a, b, &used) != 3 ||
		    line[used] != '\0') {
			if (partial)
				break;
			fprintf(stderr, "pgprobe check-samples: %s:%lu: not 'mono_ns A B': %s\n",
				path, lineno, line);
			fclose(f);
			return 2;
		}
		ok_a = !strcmp(a, "primary") || !strcmp(a, "standby") || !strcmp(a, "down");
		ok_b = !strcmp(b, "primary") || !strcmp(b, "standby") || !strcmp(b, "down");
		if (!ok_a || !ok_b) {
			fprintf(stderr, "pgprobe check-samples: %s:%lu: unknown state: %s\n", path,
				lineno, line);
			fclose(f);
			return 2;
		}
		samples++;
		if (!strcmp(a, "primary") && !strcmp(b, "primary")) {
			if (both < BOTH_SHOWN)
				printf("BOTH PRIMARY: %s:%lu: %s\n", path, lineno, line);
			both++;
		}
	}
	fclose(f);
	printf("samples=%lu both_primary=%lu\n", samples, both);
	return both ? 1 : 0;
}

static int cmd_first_ack_after(const char *path, uint64_t after, const char *server)
{
	FILE *f = fopen(path, "r");
	char line[LINE_MAX_LEN];
	unsigned long lineno = 0;
	bool partial;
	int r;

	if (!f) {
		fprintf(stderr, "pgprobe first-ack-after: cannot open %s: %s\n", path,
			strerror(errno));
		return 2;
	}
	while ((r = read_line(f, line, sizeof(line), &partial)) != 0) {
		struct ack a;

		lineno++;
		if (r < 0 || (line[0] && parse_ack(line, &a) != 0)) {
			if (partial)
				break;
			fprintf(stderr, "pgprobe first-ack-after: %s:%lu: bad line\n", path,
				lineno);
			fclose(f);
			return 2;
		}
		if (line[0] && a.mono > after && strcmp(a.server, server) == 0) {
			printf("%" PRIu64 "\n", a.mono);
			fclose(f);
			return 0;
		}
	}
	fclose(f);
	fprintf(stderr, "pgprobe first-ack-after: no ack from %s after %" PRIu64 " in %s\n", server,
		after, path);
	return 1;
}

/* ------------------------------------------------------------------ main */

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage:\n"
	    "  pgprobe write --conninfo CI --out ACKS [--interval-ms 5] [--timeout-ms 1000]\n"
	    "                [--start-id N] [--errors FAILS]\n"
	    "      insert ids 1, 2, 3... (default: from max(id)+1) into duet_probe, one new id\n"
	    "      per attempt, never retried; append 'id mono_ns server' to ACKS for each\n"
	    "      acknowledged commit (server = cluster_name). Errors go to stderr and the\n"
	    "      connection is made afresh (each connect within --timeout-ms). Runs until\n"
	    "      SIGTERM/SIGINT. With --errors, append 'mono_ns what id' to FAILS for each\n"
	    "      failed attempt (connect, set-up or insert ending in an error; id 0: none).\n"
	    "  pgprobe sample --conninfo A --conninfo B --out SAMPLES [--interval-ms 50]\n"
	    "                 [--timeout-ms 500]\n"
	    "      each interval ask both servers pg_is_in_recovery() and append\n"
	    "      'mono_ns A_state B_state' (primary|standby|down: no answer within the\n"
	    "      interval) to SAMPLES; on SIGTERM print a summary on stdout.\n"
	    "  pgprobe check-samples SAMPLES\n"
	    "      exit 1 if a sample has both servers primary.\n"
	    "  pgprobe verify --conninfo CI --acks ACKS\n"
	    "      every acked id must be in duet_probe on CI: print 'acked=N present=N\n"
	    "      lost=N'; exit 1 (listing the first lost ids) if lost > 0.\n"
	    "  pgprobe first-ack-after --acks ACKS --after-ns T --server NAME\n"
	    "      print mono_ns of the first ack after T from server NAME (exit 1: none).\n"
	    "  pgprobe now\n"
	    "      print CLOCK_MONOTONIC in nanoseconds (the clock of mono_ns).\n"
	    "Connections get user=postgres connect_timeout=1 keepalives_idle=1\n"
	    "keepalives_interval=1 keepalives_count=2 tcp_user_timeout=1000 unless CI sets them.\n"
	    "Exit status: 0 ok, 1 check failed, 2 usage/file/connection error.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"conninfo", required_argument, NULL, 'c'},
					     {"out", required_argument, NULL, 'o'},
					     {"interval-ms", required_argument, NULL, 'i'},
					     {"timeout-ms", required_argument, NULL, 't'},
					     {"start-id", required_argument, NULL, 's'},
					     {"acks", required_argument, NULL, 'a'},
					     {"after-ns", required_argument, NULL, 'n'},
					     {"server", required_argument, NULL, 'S'},
					     {"errors", required_argument, NULL, 'e'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *conninfo[2] = {NULL, NULL}, *out = NULL, *acks = NULL, *server = NULL;
	const char *fails = NULL;
	unsigned nconn = 0, interval_ms = 0, timeout_ms = 0;
	bool have_interval = false, have_after = false;
	uint64_t after = 0, start_id = 0;
	const char *cmd;
	int o;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	g_cmd = cmd;
	/* parse the options after the subcommand */
	optind = 2;
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			if (nconn == 2) {
				fprintf(stderr, "pgprobe: at most two --conninfo\n");
				return 2;
			}
			conninfo[nconn++] = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'i':
			if (parse_ms("--interval-ms", optarg, &interval_ms))
				return 2;
			have_interval = true;
			break;
		case 't':
			if (parse_ms("--timeout-ms", optarg, &timeout_ms) || timeout_ms == 0)
				return 2;
			break;
		case 's':
			if (parse_u64(optarg, &start_id) || start_id == 0 ||
			    start_id > INT64_MAX / 2) {
				fprintf(stderr, "pgprobe: --start-id wants a positive id\n");
				return 2;
			}
			break;
		case 'a':
			acks = optarg;
			break;
		case 'n':
			if (parse_u64(optarg, &after)) {
				fprintf(stderr, "pgprobe: --after-ns wants nanoseconds\n");
				return 2;
			}
			have_after = true;
			break;
		case 'S':
			server = optarg;
			break;
		case 'e':
			fails = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	install_signals();
	if (!strcmp(cmd, "write")) {
		if (nconn != 1 || !out || optind != argc) {
			fprintf(stderr, "pgprobe write: needs --conninfo CI --out ACKS\n");
			return 2;
		}
		return cmd_write(conninfo[0], out, fails, have_interval ? interval_ms : 5,
				 timeout_ms ? timeout_ms : 1000, (int64_t)start_id);
	}
	if (!strcmp(cmd, "sample")) {
		if (nconn != 2 || !out || optind != argc) {
			fprintf(stderr,
				"pgprobe sample: needs --conninfo A --conninfo B --out FILE\n");
			return 2;
		}
		if (have_interval && interval_ms == 0) {
			fprintf(stderr, "pgprobe sample: --interval-ms must be > 0\n");
			return 2;
		}
		return cmd_sample(conninfo, out, have_interval ? interval_ms : 50,
				  timeout_ms ? timeout_ms : 500);
	}
	if (!strcmp(cmd, "check-samples")) {
		if (optind != argc - 1) {
			fprintf(stderr, "pgprobe check-samples: needs one SAMPLES file\n");
			return 2;
		}
		return cmd_check_samples(argv[optind]);
	}
	if (!strcmp(cmd, "verify")) {
		if (nconn != 1 || !acks || optind != argc) {
			fprintf(stderr, "pgprobe verify: needs --conninfo CI --acks ACKS\n");
			return 2;
		}
		return cmd_verify(conninfo[0], acks);
	}
	if (!strcmp(cmd, "first-ack-after")) {
		if (!acks || !have_after || !server || optind != argc) {
			fprintf(stderr, "pgprobe first-ack-after: needs --acks ACKS --after-ns T "
					"--server NAME\n");
			return 2;
		}
		return cmd_first_ack_after(acks, after, server);
	}
	if (!strcmp(cmd, "now")) {
		printf("%" PRIu64 "\n", mono_ns());
		return 0;
	}
	fprintf(stderr, "pgprobe: unknown subcommand '%s' (try --help)\n", cmd);
	return 2;
}
