/* SPDX-License-Identifier: MIT */
/*
 * test_standby.c - duet_pg_rewind, duet_pg_basebackup and
 * duet_pg_make_standby (pg_standby.h) against REAL PostgreSQL 15 servers:
 * the fixture's primary and standby (cluster.h), plus servers the tests make
 * themselves (a third standby, an unrelated cluster), all stopped by PID in
 * the fini and by an atexit handler if the test dies. No mocks: the tools
 * run, copy, rewind and stream for real; deadlines are tried against a
 * listener that never answers.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "cluster.h"
#include "duet/pg_standby.h"
#include "loop.h"

#define PG_BIN     "/usr/lib/postgresql/15/bin"
#define MAX_EXTRAS 4

static struct cluster cl; /* static: cluster.c's atexit net reads it */

/* Servers started here (not by cluster.c): stopped by PID, whatever
 * happened. */
static struct extra {
	char datadir[400];
	pid_t pid;
} extras[MAX_EXTRAS];

static bool pid_alive(pid_t pid)
{
	char path[64], buf[256];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	const char *p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

static pid_t read_pid_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	long pid = 0;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = 0;
	fclose(f);
	return (pid_t)pid;
}

static void kill_extra(struct extra *e)
{
	if (e->pid > 0 && pid_alive(e->pid)) {
		kill(e->pid, SIGQUIT); /* immediate shutdown, children included */
		for (int i = 0; i < 300 && pid_alive(e->pid); i++) {
			struct timespec ts = {0, 10 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
		if (pid_alive(e->pid))
			kill(e->pid, SIGKILL);
	}
	e->pid = 0;
}

static void kill_extras(void)
{
	for (int i = 0; i < MAX_EXTRAS; i++)
		kill_extra(&extras[i]);
}

static void standby_setup(void)
{
	static bool registered;
	if (!registered) {
		atexit(kill_extras);
		registered = true;
	}
	memset(extras, 0, sizeof extras);
	tl_setup();
	cl_start(&cl);
}

static void standby_teardown(void)
{
	kill_extras();
	cl_stop(&cl); /* before the loop check: servers go even if it fails */
	tl_teardown();
}

TestSuite(pg_standby, .init = standby_setup, .fini = standby_teardown, .timeout = 240);

/* ---- helpers ------------------------------------------------------------------ */

static bool never(void *arg)
{
	return false;
}

static void pause_ms(unsigned ms)
{
	tl_run_until(never, NULL, ms);
}

/* A shell command as postgres, output appended to cl.dir/extra.log. */
__attribute__((format(printf, 1, 2))) static int as_postgres(const char *fmt, ...)
{
	char args[1500], cmd[2200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof args, fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof cmd, "cd '%s' && %s %s >>'%s/extra.log' 2>&1", cl.dir,
		 geteuid() == 0 ? "runuser -u postgres --" : "", args, cl.dir);
	int rc = system(cmd);
	if (rc != 0) {
		fprintf(stderr, "test: command failed (%d): %s\n", rc, args);
		snprintf(cmd, sizeof cmd, "tail -n 30 '%s/extra.log' >&2", cl.dir);
		if (system(cmd) != 0)
			fprintf(stderr, "test: no log\n");
	}
	return rc;
}

/* Starts datadir on port (the port on the command line beats whatever
 * port the copied configuration names). `s`: one of the fixture's servers,
 * which cluster.c then stops; NULL: recorded here for the fini. */
static void start_server(const char *datadir, int port, struct pg_server *s)
{
	struct extra tmp, *e = s ? &tmp : NULL;
	for (int i = 0; i < MAX_EXTRAS && !e; i++)
		if (extras[i].pid == 0)
			e = &extras[i];
	cr_assert_not_null(e);
	memset(e, 0, sizeof *e);
	snprintf(e->datadir, sizeof e->datadir, "%s", datadir);
	int rc = as_postgres(PG_BIN "/pg_ctl -D '%s' -l '%s.log' -o '-p %d' -w -t 60 start",
			     datadir, datadir, port);
	cr_assert_eq(rc, 0, "pg_ctl start %s failed (see stderr)", datadir);
	char pidfile[512];
	snprintf(pidfile, sizeof pidfile, "%s/postmaster.pid", datadir);
	e->pid = read_pid_file(pidfile);
	cr_assert(e->pid > 0, "no postmaster.pid in %s", datadir);
	if (s)
		s->pid = e->pid;
}

static void server_at(struct pg_server *s, const char *name, const char *datadir, int port)
{
	memset(s, 0, sizeof *s);
	s->name = name;
	snprintf(s->datadir, sizeof s->datadir, "%s", datadir);
	s->port = port;
	snprintf(s->conninfo, sizeof s->conninfo,
		 "host=127.0.0.1 port=%d user=postgres dbname=postgres", port);
}

/* Polls sql on s until it returns want, or fails the test. */
static void wait_value(const struct pg_server *s, const char *sql, const char *want,
		       unsigned wait_ms)
{
	char out[512] = "";
	uint64_t until = uv_now(tl_loop) + wait_ms;
	for (;;) {
		int rc = cl_exec(s, sql, out, sizeof out);
		if (rc == 0 && strcmp(out, want) == 0)
			return;
		cr_assert(uv_now(tl_loop) < until, "%s on port %d: '%s', not '%s' within %u ms",
			  sql, s->port, out, want, wait_ms);
		pause_ms(100);
	}
}

static void wait_streaming(const struct pg_server *primary, const char *app)
{
	char sql[256];
	snprintf(sql, sizeof sql,
		 "SELECT state FROM pg_stat_replication WHERE application_name = '%s'", app);
	wait_value(primary, sql, "streaming", 60000);
}

static void config_for(struct duet_pg_standby_config *cfg, const char *datadir,
		       const char *conninfo, const char *app)
{
	memset(cfg, 0, sizeof *cfg);
	/* the fixture's paths (char[400]) are short in practice; a cut one
	 * would fail the test, not pass it */
	cr_assert_lt(strlen(datadir), sizeof cfg->data_dir, "data dir path too long: %s", datadir);
	memcpy(cfg->data_dir, datadir, strlen(datadir) + 1);
	snprintf(cfg->primary_conninfo, sizeof cfg->primary_conninfo, "%s", conninfo);
	snprintf(cfg->application_name, sizeof cfg->application_name, "%s", app);
	cfg->timeout_ms = 120000;
}

struct run {
	int calls;
	int rc;
	char detail[DUET_PG_TOOL_DETAIL_BYTES];
	int progress_calls;
	int byte_calls; /* progress lines with a percent and bytes_total > 0 */
	uint64_t last_total;
	char steps[2048]; /* every step seen, for failure messages */
	bool cancel_at_bytes;
	bool cancel_at_step;
	struct duet_pg_tool *tool;
};

static void on_progress(void *data, const struct duet_pg_progress *p)
{
	struct run *r = data;
	r->progress_calls++;
	cr_assert_not_null(p->tool);
	cr_assert_not_null(p->step);
	if (p->has_bytes && p->percent >= 0 && p->bytes_total > 0) {
		r->byte_calls++;
		r->last_total = p->bytes_total;
		cr_assert(p->bytes_done <= p->bytes_total + 1024 * 1024, "done %llu of %llu",
			  (unsigned long long)p->bytes_done, (unsigned long long)p->bytes_total);
		if (r->cancel_at_bytes && r->tool)
			duet_pg_tool_cancel(r->tool);
	} else if (!p->has_bytes) {
		size_t n = strlen(r->steps);
		snprintf(r->steps + n, sizeof r->steps - n, "[%s]", p->step);
		if (r->cancel_at_step && r->tool)
			duet_pg_tool_cancel(r->tool);
	}
}

static void on_done(void *data, int rc, const char *detail)
{
	struct run *r = data;
	r->calls++;
	r->rc = rc;
	cr_assert_not_null(detail);
	cr_assert(detail[0], "detail never empty");
	cr_assert_null(strchr(detail, '\n'), "one line: '%s'", detail);
	snprintf(r->detail, sizeof r->detail, "%s", detail);
}

static bool run_called(void *arg)
{
	return ((struct run *)arg)->calls > 0;
}

static int finish_run(int rc, struct run *r, unsigned wait_ms)
{
	cr_assert_eq(rc, 0, "call refused: %d", rc);
	cr_assert_eq(r->calls, 0, "done called from inside the call");
	cr_assert(tl_run_until(run_called, r, wait_ms), "no done within %u ms (steps %s)", wait_ms,
		  r->steps);
	cr_assert_eq(r->calls, 1);
	return r->rc;
}

static int do_basebackup(const struct duet_pg_standby_config *cfg, unsigned flags, struct run *r)
{
	bool at_bytes = r->cancel_at_bytes, at_step = r->cancel_at_step;
	memset(r, 0, sizeof *r);
	r->cancel_at_bytes = at_bytes;
	r->cancel_at_step = at_step;
	int rc = duet_pg_basebackup(tl_loop, cfg, flags, on_progress, on_done, r, &r->tool);
	return finish_run(rc, r, 150000);
}

static int do_rewind(const struct duet_pg_standby_config *cfg, struct run *r)
{
	memset(r, 0, sizeof *r);
	int rc = duet_pg_rewind(tl_loop, cfg, on_progress, on_done, r, &r->tool);
	return finish_run(rc, r, 150000);
}

static bool path_exists(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static bool path_exists(const char *fmt, ...)
{
	char path[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(path, sizeof path, fmt, ap);
	va_end(ap);
	struct stat st;
	return lstat(path, &st) == 0;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "open %s: %s", path, strerror(errno));
	static char bufs[2][16384];
	static int which;
	char *buf = bufs[which++ % 2];
	size_t n = fread(buf, 1, sizeof bufs[0] - 1, f);
	fclose(f);
	buf[n] = 0;
	return buf;
}

static int count_lines_starting(const char *text, const char *prefix)
{
	int n = 0;
	for (const char *line = text; line && *line;) {
		if (strncmp(line, prefix, strlen(prefix)) == 0)
			n++;
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return n;
}

/* ---- tests -------------------------------------------------------------------------- */

Test(pg_standby, basebackup_a_third_server_that_then_streams)
{
	char third[400];
	snprintf(third, sizeof third, "%s/third", cl.dir);
	struct duet_pg_standby_config cfg;
	config_for(&cfg, third, cl.primary.conninfo, "third");
	struct run r;
	cr_assert_eq(do_basebackup(&cfg, 0, &r), 0, "%s (steps %s)", r.detail, r.steps);
	cr_assert(strstr(r.detail, "done"), "'%s'", r.detail);
	cr_assert(r.byte_calls >= 1, "no progress line with bytes (steps %s)", r.steps);
	cr_assert(r.last_total > 0);
	cr_assert(strstr(r.steps, "checkpoint"), "steps reported as they come: %s", r.steps);
	cr_assert(path_exists("%s/PG_VERSION", third));
	cr_assert_not(path_exists("%s.duet-basebackup-partial", third), "marker left behind");

	char err[300];
	cr_assert_eq(duet_pg_make_standby(&cfg, err, sizeof err), 0, "%s", err);
	cr_assert_str_eq(err, "");
	struct stat st;
	cr_assert_eq(stat(third, &st), 0);
	struct passwd *pw = getpwnam("postgres");
	cr_assert_not_null(pw);
	cr_assert_eq(st.st_uid, pw->pw_uid, "data dir owned by postgres");
	cr_assert_eq(st.st_mode & 0777, 0700);

	int port = tl_free_port();
	start_server(third, port, NULL);
	wait_streaming(&cl.primary, "third");
	struct pg_server s3;
	server_at(&s3, "third", third, port);
	wait_value(&s3, "SELECT pg_is_in_recovery()", "t", 10000);
}

Test(pg_standby, rewind_the_old_primary_after_a_failover)
{
	char out[512];
	/* pg_rewind needs wal_log_hints (or checksums) on the target from
	 * before the divergence */
	cr_assert_eq(cl_exec(&cl.primary, "ALTER SYSTEM SET wal_log_hints = on", out, sizeof out),
		     0, "%s", out);
	cl_restart(&cl, &cl.primary);
	cr_assert_eq(cl_exec(&cl.primary, "CREATE TABLE t(v text); INSERT INTO t VALUES ('base')",
			     out, sizeof out),
		     0, "%s", out);
	wait_value(&cl.standby, "SELECT count(*) FROM t", "1", 30000);

	cr_assert_eq(cl_exec(&cl.standby, "SELECT pg_promote(true, 30)", out, sizeof out), 0, "%s",
		     out);
	cr_assert_str_eq(out, "t");
	/* pg_rewind reads the source's timeline from its pg_control, which a
	 * promotion updates only at its next checkpoint (pg_rewind's docs) */
	cr_assert_eq(
	    cl_exec(&cl.standby, "INSERT INTO t VALUES ('new'); CHECKPOINT", out, sizeof out), 0,
	    "%s", out);
	/* the old primary goes on alone for a moment: its history diverges */
	cr_assert_eq(
	    cl_exec(&cl.primary, "INSERT INTO t VALUES ('old'); CHECKPOINT", out, sizeof out), 0,
	    "%s", out);
	cl_stop_server(&cl, &cl.primary);

	struct duet_pg_standby_config cfg;
	config_for(&cfg, cl.primary.datadir, cl.standby.conninfo, "oldprimary");
	struct run r;
	cr_assert_eq(do_rewind(&cfg, &r), 0, "%s (steps %s)", r.detail, r.steps);
	cr_assert(strstr(r.steps, "servers diverged"), "steps: %s", r.steps);
	cr_assert_not(path_exists("%s.duet-rewind-partial", cl.primary.datadir));
	cr_assert(path_exists("%s.duet-rewind-done", cl.primary.datadir));

	/* run again before the server started (an interrupted rejoin):
	 * nothing to do, nothing run */
	cr_assert_eq(do_rewind(&cfg, &r), 0, "%s", r.detail);
	cr_assert(strstr(r.detail, "already rewound"), "'%s'", r.detail);
	cr_assert_eq(r.progress_calls, 0, "pg_rewind ran again");

	char err[300];
	cr_assert_eq(duet_pg_make_standby(&cfg, err, sizeof err), 0, "%s", err);
	start_server(cl.primary.datadir, cl.primary.port, &cl.primary);

	wait_streaming(&cl.standby, "oldprimary");
	wait_value(&cl.primary, "SELECT pg_is_in_recovery()", "t", 10000);
	wait_value(&cl.primary, "SELECT string_agg(v, ',' ORDER BY v) FROM t", "base,new", 30000);

	/* the server has run since: the done marker is stale and pg_rewind
	 * runs again; it now refuses, since the rewind brought the source's
	 * configuration over (wal_log_hints off): "not rewindable" */
	cl_stop_server(&cl, &cl.primary);
	cr_assert_eq(do_rewind(&cfg, &r), DUET_PG_ENOTREWINDABLE, "%s (steps %s)", r.detail,
		     r.steps);
	cr_assert(r.progress_calls > 0, "pg_rewind did run");
	cr_assert(strstr(r.detail, "wal_log_hints"), "'%s'", r.detail);
	cr_assert_not(path_exists("%s.duet-rewind-done", cl.primary.datadir), "stale marker");
}

/* kill -9 of a postmaster and its children, as a crash: waits (pidfd) until
 * each is gone. */
static void crash_server(struct pg_server *s)
{
	char pidfile[512];
	snprintf(pidfile, sizeof pidfile, "%s/postmaster.pid", s->datadir);
	s->pid = read_pid_file(pidfile);
	cr_assert(s->pid > 0, "no postmaster.pid in %s", s->datadir);
	pid_t kids[64];
	size_t n = 0;
	DIR *proc = opendir("/proc");
	cr_assert_not_null(proc);
	struct dirent *d;
	while ((d = readdir(proc)) && n < sizeof kids / sizeof kids[0]) {
		char path[300], stat[512];
		snprintf(path, sizeof path, "/proc/%s/stat", d->d_name);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		int ppid = 0;
		if (fgets(stat, sizeof stat, f)) {
			const char *close_paren = strrchr(stat, ')');
			if (close_paren)
				sscanf(close_paren + 2, "%*c %d", &ppid);
		}
		fclose(f);
		if (ppid == s->pid)
			kids[n++] = (pid_t)atoi(d->d_name);
	}
	closedir(proc);
	kids[n < sizeof kids / sizeof kids[0] ? n++ : n - 1] = s->pid;
	int fds[64];
	for (size_t i = 0; i < n; i++)
		fds[i] = (int)syscall(SYS_pidfd_open, kids[i], 0);
	for (size_t i = 0; i < n; i++)
		kill(kids[i], SIGKILL);
	for (size_t i = 0; i < n; i++) {
		if (fds[i] < 0)
			continue; /* gone already */
		struct pollfd p = {.fd = fds[i], .events = POLLIN};
		cr_assert_eq(poll(&p, 1, 30000), 1, "pid %d did not die", (int)kids[i]);
		close(fds[i]);
	}
	/* they are this process's (the subreaper's): reaped, as init would,
	 * else a zombie postmaster still "runs" for PostgreSQL's lock file */
	while (waitpid(-1, NULL, 0) > 0)
		;
	s->pid = 0;
}

/* A standby whose PostgreSQL crashed (kill -9) still holds standby.signal,
 * and pg_rewind's single-user crash recovery refuses it ("standby mode is
 * not supported by single-user servers"). That is "not rewindable" (the
 * rebuild then takes a base backup), not an error to retry for ever: the
 * nemesis run found a rejoin stuck on it. The base backup then streams
 * with every write of the master. */
Test(pg_standby, a_crashed_standby_is_not_rewindable_and_is_copied)
{
	char out[512];
	cr_assert_eq(cl_exec(&cl.primary, "CREATE TABLE t(v text); INSERT INTO t VALUES ('a')", out,
			     sizeof out),
		     0, "%s", out);
	wait_value(&cl.standby, "SELECT count(*) FROM t", "1", 30000);
	cr_assert(path_exists("%s/standby.signal", cl.standby.datadir));
	/* started again under this process as subreaper, so that the crash
	 * can be reaped here (PID 1 of a container may not reap) */
	cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	cl_stop_server(&cl, &cl.standby);
	start_server(cl.standby.datadir, cl.standby.port, &cl.standby);
	wait_value(&cl.standby, "SELECT count(*) FROM t", "1", 30000);
	crash_server(&cl.standby);
	cr_assert_eq(
	    cl_exec(&cl.primary, "INSERT INTO t VALUES ('b'); CHECKPOINT", out, sizeof out), 0,
	    "%s", out);

	struct duet_pg_standby_config cfg;
	config_for(&cfg, cl.standby.datadir, cl.primary.conninfo, "standby1");
	struct run r;
	cr_assert_eq(do_rewind(&cfg, &r), DUET_PG_ENOTREWINDABLE, "%s (steps %s)", r.detail,
		     r.steps);
	cr_assert(strstr(r.detail, "standby mode is not supported"), "'%s'", r.detail);
	cr_assert_eq(do_basebackup(&cfg, DUET_PG_BASEBACKUP_MOVE_ASIDE, &r), 0, "%s", r.detail);
	char err[300];
	cr_assert_eq(duet_pg_make_standby(&cfg, err, sizeof err), 0, "%s", err);
	start_server(cl.standby.datadir, cl.standby.port, &cl.standby);
	wait_streaming(&cl.primary, "standby1");
	wait_value(&cl.standby, "SELECT string_agg(v, ',' ORDER BY v) FROM t", "a,b", 30000);
}

Test(pg_standby, basebackup_refuses_a_non_empty_dir_unless_asked_to_move_it)
{
	char third[400], keep[500];
	snprintf(third, sizeof third, "%s/third", cl.dir);
	snprintf(keep, sizeof keep, "%s/keep.txt", third);
	cr_assert_eq(mkdir(third, 0700), 0);
	FILE *f = fopen(keep, "w");
	cr_assert_not_null(f);
	fputs("old cluster\n", f);
	fclose(f);

	struct duet_pg_standby_config cfg;
	config_for(&cfg, third, cl.primary.conninfo, "third");
	struct run r;
	cr_assert_eq(do_basebackup(&cfg, 0, &r), -ENOTEMPTY, "%s", r.detail);
	cr_assert(strstr(r.detail, third) && strstr(r.detail, "not empty"), "'%s'", r.detail);
	cr_assert_eq(r.progress_calls, 0, "the tool must not have run");
	cr_assert(path_exists("%s", keep), "refused means untouched");
	cr_assert_not(path_exists("%s.duet-basebackup-partial", third));

	cr_assert_eq(do_basebackup(&cfg, DUET_PG_BASEBACKUP_MOVE_ASIDE, &r), 0, "%s", r.detail);
	const char *moved = strstr(r.detail, "old data moved to ");
	cr_assert_not_null(moved, "'%s'", r.detail);
	moved += strlen("old data moved to ");
	char prefix[450];
	snprintf(prefix, sizeof prefix, "%s.old-", third);
	cr_assert(strncmp(moved, prefix, strlen(prefix)) == 0, "'%s'", moved);
	cr_assert(path_exists("%s/keep.txt", moved), "old files kept aside in %s", moved);
	cr_assert(path_exists("%s/PG_VERSION", third));
	cr_assert_not(path_exists("%s", keep));
}

Test(pg_standby, interrupted_basebackup_is_started_over_without_a_flag)
{
	char third[400];
	snprintf(third, sizeof third, "%s/third", cl.dir);
	struct duet_pg_standby_config cfg;
	config_for(&cfg, third, cl.primary.conninfo, "third");
	struct run r;
	r.cancel_at_bytes = true; /* the first progress line: copying has begun */
	r.cancel_at_step = false;
	cr_assert_eq(do_basebackup(&cfg, 0, &r), -ECANCELED, "%s (steps %s)", r.detail, r.steps);
	cr_assert(strstr(r.detail, "cancelled"), "'%s'", r.detail);
	cr_assert(path_exists("%s.duet-basebackup-partial", third), "marker kept");

	r.cancel_at_bytes = false;
	cr_assert_eq(do_basebackup(&cfg, 0, &r), 0, "%s (steps %s)", r.detail, r.steps);
	cr_assert_null(strstr(r.detail, "moved"), "'%s'", r.detail);
	cr_assert_not(path_exists("%s.duet-basebackup-partial", third));
	char err[300];
	cr_assert_eq(duet_pg_make_standby(&cfg, err, sizeof err), 0, "%s", err);
	start_server(third, tl_free_port(), NULL);
	wait_streaming(&cl.primary, "third");
}

Test(pg_standby, rewind_from_another_system_is_not_rewindable)
{
	char other[400];
	snprintf(other, sizeof other, "%s/other", cl.dir);
	cr_assert_eq(as_postgres(PG_BIN "/initdb -D '%s' -A trust -U postgres -N "
					"--no-instructions",
				 other),
		     0);
	int port = tl_free_port();
	char conf[500];
	snprintf(conf, sizeof conf, "%s/postgresql.conf", other);
	FILE *f = fopen(conf, "a");
	cr_assert_not_null(f);
	fprintf(f,
		"listen_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\n"
		"fsync = off\nshared_buffers = 16MB\n",
		cl.dir);
	fclose(f);
	start_server(other, port, NULL);
	struct pg_server o;
	server_at(&o, "other", other, port);

	cl_stop_server(&cl, &cl.standby);
	struct duet_pg_standby_config cfg;
	config_for(&cfg, cl.standby.datadir, o.conninfo, "standby1");
	struct run r;
	cr_assert_eq(do_rewind(&cfg, &r), DUET_PG_ENOTREWINDABLE, "%s", r.detail);
	cr_assert(strstr(r.detail, "not rewindable") && strstr(r.detail, "different systems"),
		  "'%s'", r.detail);
	cr_assert_not(path_exists("%s.duet-rewind-partial", cl.standby.datadir),
		      "nothing was copied: no interruption marker");

	/* a source that is down is another failure, not "not rewindable" */
	char down[200];
	snprintf(down, sizeof down, "host=127.0.0.1 port=%d user=postgres", tl_free_port());
	config_for(&cfg, cl.standby.datadir, down, "standby1");
	cr_assert_eq(do_rewind(&cfg, &r), -EIO, "%s", r.detail);
	cr_assert(strstr(r.detail, "Connection refused") || strstr(r.detail, "connect"), "'%s'",
		  r.detail);

	/* an interrupted rewind (its marker left) is not rewindable either */
	char marker[500];
	snprintf(marker, sizeof marker, "%s.duet-rewind-partial", cl.standby.datadir);
	f = fopen(marker, "w");
	cr_assert_not_null(f);
	fclose(f);
	config_for(&cfg, cl.standby.datadir, cl.primary.conninfo, "standby1");
	cr_assert_eq(do_rewind(&cfg, &r), DUET_PG_ENOTREWINDABLE, "%s", r.detail);
	cr_assert(strstr(r.detail, "interrupted"), "'%s'", r.detail);
}

Test(pg_standby, make_standby_is_idempotent_and_replaces_settings)
{
	char auto_conf[500], signal_path[500], err[300];
	snprintf(auto_conf, sizeof auto_conf, "%s/postgresql.auto.conf", cl.standby.datadir);
	snprintf(signal_path, sizeof signal_path, "%s/standby.signal", cl.standby.datadir);
	char conninfo[300];
	snprintf(conninfo, sizeof conninfo,
		 "host=127.0.0.1 port=%d user=postgres application_name=ignored", cl.primary.port);
	struct duet_pg_standby_config cfg;
	config_for(&cfg, cl.standby.datadir, conninfo, "it's standby-b");

	cr_assert_eq(duet_pg_make_standby(&cfg, err, sizeof err), -EBUSY, "%s", err);
	cr_assert(strstr(err, "running"), "'%s'", err);

	cl_stop_server(&cl, &cl.standby);
	char before[16384];
	snprintf(before, sizeof before, "%s", slurp(auto_conf));
	cr_assert(count_lines_starting(before, "primary_conninfo") >= 1);
	struct stat st0;
	cr_assert_eq(stat(auto_conf, &st0), 0);

	cr_assert_eq(duet_pg_make_standby(&cfg, err, sizeof err), 0, "%s", err);
	char first[16384];
	snprintf(first, sizeof first, "%s", slurp(auto_conf));
	cr_assert_eq(count_lines_starting(first, "primary_conninfo"), 1, "%s", first);
	cr_assert_eq(count_lines_starting(first, "recovery_target_timeline = 'latest'"), 1, "%s",
		     first);
	cr_assert_null(strstr(first, "ignored"), "application_name replaced: %s", first);
	cr_assert(strstr(first, "application_name=''it\\\\''s standby-b''"), "quoted: %s", first);
	char port_line[64];
	snprintf(port_line, sizeof port_line, "port = %d", cl.standby.port);
	cr_assert(strstr(first, port_line), "other lines kept: %s", first);
	struct stat st;
	cr_assert_eq(stat(auto_conf, &st), 0);
	cr_assert_eq(st.st_mode & 07777, st0.st_mode & 07777, "mode kept");
	cr_assert_eq(st.st_uid, st0.st_uid, "owner: the postgres user");
	cr_assert_eq(stat(signal_path, &st), 0);
	cr_assert_eq(st.st_uid, st0.st_uid);

	cr_assert_eq(duet_pg_make_standby(&cfg, err, sizeof err), 0, "%s", err);
	cr_assert_str_eq(slurp(auto_conf), first, "second run: same file");

	/* PostgreSQL reads it back as we meant it: the standby streams under
	 * its new name */
	start_server(cl.standby.datadir, cl.standby.port, &cl.standby);
	wait_streaming(&cl.primary, "it''s standby-b");

	cr_assert_eq(duet_pg_make_standby(&cfg, err, sizeof err), -EBUSY);
	config_for(&cfg, cl.standby.datadir, "host=127.0.0.1 port", "x");
	cl_stop_server(&cl, &cl.standby);
	cr_assert_eq(duet_pg_make_standby(&cfg, err, sizeof err), DUET_EINVAL);
	cr_assert(strstr(err, "does not parse"), "'%s'", err);
}

Test(pg_standby, a_deadline_kills_the_whole_process_group)
{
	/* A pg_basebackup that first leaves a child behind, so that only a
	 * signal to the whole group stops everything; it runs as postgres. */
	char bin[400], script[500];
	snprintf(bin, sizeof bin, "%s/fakebin", cl.dir);
	cr_assert_eq(mkdir(bin, 0755), 0);
	snprintf(script, sizeof script, "%s/pg_basebackup", bin);
	FILE *f = fopen(script, "w");
	cr_assert_not_null(f);
	fprintf(f,
		"#!/bin/sh\n"
		"sleep 300 &\n"
		"echo $! > '%s/child.pid'\n"
		"echo $$ > '%s/leader.pid'\n"
		"exec " PG_BIN "/pg_basebackup \"$@\"\n",
		cl.dir, cl.dir);
	fclose(f);
	cr_assert_eq(chmod(script, 0755), 0);

	struct tl_silent silent;
	tl_silent_start(&silent);
	char conninfo[200], third[400];
	snprintf(conninfo, sizeof conninfo, "host=127.0.0.1 port=%d user=postgres", silent.port);
	snprintf(third, sizeof third, "%s/third", cl.dir);
	struct duet_pg_standby_config cfg;
	config_for(&cfg, third, conninfo, "third");
	int n = snprintf(cfg.bin_dir, sizeof cfg.bin_dir, "%s", bin);
	cr_assert(n > 0 && (size_t)n < sizeof cfg.bin_dir);
	cfg.timeout_ms = 1500;

	struct run r;
	uint64_t t0 = uv_hrtime();
	cr_assert_eq(do_basebackup(&cfg, 0, &r), -ETIMEDOUT, "%s", r.detail);
	uint64_t ms = (uv_hrtime() - t0) / 1000000u;
	cr_assert(ms >= 1400 && ms < 1500 + DUET_PG_TOOL_KILL_GRACE_MS + 3000, "%llu ms",
		  (unsigned long long)ms);
	cr_assert(strstr(r.detail, "timed out after 1500 ms"), "'%s'", r.detail);
	cr_assert(silent.n_clients >= 1, "pg_basebackup never connected");

	char path[500];
	snprintf(path, sizeof path, "%s/child.pid", cl.dir);
	pid_t child = read_pid_file(path);
	snprintf(path, sizeof path, "%s/leader.pid", cl.dir);
	pid_t leader = read_pid_file(path);
	cr_assert(child > 0 && leader > 0);
	cr_assert_not(pid_alive(leader), "pg_basebackup %d still alive", (int)leader);
	cr_assert_not(pid_alive(child), "its child %d outlived the group kill", (int)child);
	tl_silent_stop(&silent);

	/* a tool that does not exist is a spawn error, not a hang */
	n = snprintf(cfg.bin_dir, sizeof cfg.bin_dir, "%s/nowhere", cl.dir);
	cr_assert(n > 0 && (size_t)n < sizeof cfg.bin_dir);
	cr_assert_eq(do_basebackup(&cfg, DUET_PG_BASEBACKUP_MOVE_ASIDE, &r), -ENOENT, "%s",
		     r.detail);
	cr_assert(strstr(r.detail, "cannot start"), "'%s'", r.detail);
}

/* ---- no server needed --------------------------------------------------------------- */

TestSuite(pg_standby_parse, .init = tl_setup, .fini = tl_teardown, .timeout = 30);

Test(pg_standby_parse, progress_lines)
{
	struct duet_pg_progress p;
	memset(&p, 0, sizeof p);
	cr_assert(duet_pg_parse_progress("   12345/67890 kB (18%), 0/1 tablespace (...)", &p));
	cr_assert_eq(p.bytes_done, 12345ull * 1024);
	cr_assert_eq(p.bytes_total, 67890ull * 1024);
	cr_assert_eq(p.percent, 18);
	cr_assert(p.has_bytes);
	memset(&p, 0, sizeof p);
	cr_assert(duet_pg_parse_progress("51234/51234 kB (100%) copied", &p));
	cr_assert_eq(p.percent, 100);
	cr_assert_not(duet_pg_parse_progress("pg_rewind: reading source file list", &p));
	cr_assert_not(duet_pg_parse_progress("12/34 MB (5%)", &p));
	cr_assert_not(duet_pg_parse_progress("12/34 kB (500%)", &p));
	cr_assert_not(duet_pg_parse_progress("", &p));

	struct duet_pg_standby_config cfg;
	memset(&cfg, 0, sizeof cfg);
	struct run r;
	memset(&r, 0, sizeof r);
	cr_assert_eq(duet_pg_rewind(tl_loop, &cfg, NULL, on_done, &r, NULL), DUET_EINVAL);
	snprintf(cfg.data_dir, sizeof cfg.data_dir, "relative/dir");
	snprintf(cfg.primary_conninfo, sizeof cfg.primary_conninfo, "host=127.0.0.1");
	cr_assert_eq(duet_pg_basebackup(tl_loop, &cfg, 0, NULL, on_done, &r, NULL), DUET_EINVAL);
	snprintf(cfg.data_dir, sizeof cfg.data_dir, "/tmp/x");
	cr_assert_eq(duet_pg_basebackup(tl_loop, &cfg, 0x80, NULL, on_done, &r, NULL), DUET_EINVAL);
	cr_assert_eq(duet_pg_rewind(tl_loop, &cfg, NULL, NULL, &r, NULL), DUET_EINVAL);
	cr_assert_eq(r.calls, 0);
}
