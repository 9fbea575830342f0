/* SPDX-License-Identifier: MIT */
/*
 * cluster.c - see cluster.h.
 */
#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <libpq-fe.h>

#include "cluster.h"
#include "loop.h"

#define PG_BIN   "/usr/lib/postgresql/15/bin"
#define ROOT_ENV "DUET_PG_TEST_ROOT"

/* ---- Processes by PID -------------------------------------------------------- */

/* Alive and not a zombie (in a container nobody may reap the postmaster). */
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

static bool pid_is_postgres(pid_t pid)
{
	char path[64], comm[64] = "";
	snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	if (!fgets(comm, sizeof comm, f))
		comm[0] = 0;
	fclose(f);
	return strncmp(comm, "postgres", 8) == 0;
}

/* SIGQUIT (immediate shutdown: the postmaster takes its children down),
 * then SIGKILL if it is still there after 3 s. */
static void kill_postmaster(pid_t pid)
{
	if (pid <= 0 || !pid_alive(pid) || !pid_is_postgres(pid))
		return;
	kill(pid, SIGQUIT);
	for (int i = 0; i < 300 && pid_alive(pid); i++) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	if (pid_alive(pid))
		kill(pid, SIGKILL);
}

static pid_t read_postmaster_pid(const char *datadir)
{
	char path[512];
	int len = snprintf(path, sizeof path, "%s/postmaster.pid", datadir);
	if (len < 0 || (size_t)len >= sizeof path)
		return 0;
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	long pid = 0;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = 0;
	fclose(f);
	return (pid_t)pid;
}

static void remove_tree(const char *dir)
{
	if (!dir[0] || strncmp(dir, "/tmp/duet-pg", 12) != 0)
		return; /* never anything else */
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cluster: could not remove %s\n", dir);
}

/* Kills every postmaster whose postmaster.pid lies in dir/<x>/<y>/. */
static void sweep(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char sub[512];
		snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
		pid_t pid = read_postmaster_pid(sub);
		if (pid)
			kill_postmaster(pid);
		struct stat st;
		if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode) && strncmp(e->d_name, "t-", 2) == 0)
			sweep(sub);
	}
	closedir(d);
}

/* ---- Safety nets -------------------------------------------------------------- */

static struct cluster *live; /* the test process's cluster, for atexit */

static void at_exit(void)
{
	if (!live)
		return;
	kill_postmaster(live->standby.pid);
	kill_postmaster(live->primary.pid);
	remove_tree(live->dir);
	live = NULL;
}

/* The runner (which forks the tests) owns the root: made before the first
 * test, swept and removed after the last one, whatever the tests did. */
static char root[64];

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
	snprintf(root, sizeof root, "/tmp/duet-pg-XXXXXX");
	if (!mkdtemp(root)) {
		root[0] = 0;
		return;
	}
	chmod(root, 0755);
	setenv(ROOT_ENV, root, 1);
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
	if (!root[0])
		return;
	sweep(root);
	remove_tree(root);
}

/* ---- Commands ---------------------------------------------------------------- */

static bool as_root(void)
{
	return geteuid() == 0;
}

/* Runs a server command as postgres, output appended to dir/commands.log;
 * on failure the log goes to stderr. Returns the exit status. */
__attribute__((format(printf, 2, 3))) static int pg_cmd(struct cluster *c, const char *fmt, ...)
{
	char args[1500], cmd[2200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof args, fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof cmd, "cd '%s' && %s %s >>'%s/commands.log' 2>&1", c->dir,
		 as_root() ? "runuser -u postgres --" : "", args, c->dir);
	int rc = system(cmd);
	if (rc != 0) {
		fprintf(stderr, "cluster: command failed (%d): %s\n", rc, args);
		char show[700];
		snprintf(show, sizeof show, "tail -n 30 '%s/commands.log' >&2", c->dir);
		if (system(show) != 0)
			fprintf(stderr, "cluster: no log\n");
	}
	return rc;
}

static void append(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void append(const char *path, const char *fmt, ...)
{
	FILE *f = fopen(path, "a");
	cr_assert_not_null(f, "open %s: %s", path, strerror(errno));
	va_list ap;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	cr_assert_eq(fclose(f), 0);
}

static void server_init(struct cluster *c, struct pg_server *s, const char *name)
{
	s->name = name;
	s->port = tl_free_port();
	snprintf(s->datadir, sizeof s->datadir, "%s/%s", c->dir, name);
	snprintf(s->logfile, sizeof s->logfile, "%s/%s.log", c->dir, name);
	snprintf(s->conninfo, sizeof s->conninfo,
		 "host=127.0.0.1 port=%d user=postgres dbname=postgres", s->port);
}

static void server_start(struct cluster *c, struct pg_server *s)
{
	int rc = pg_cmd(c, PG_BIN "/pg_ctl -D '%s' -l '%s' -w -t 60 start", s->datadir, s->logfile);
	cr_assert_eq(rc, 0, "pg_ctl start %s failed (see stderr)", s->name);
	s->pid = read_postmaster_pid(s->datadir);
	cr_assert(s->pid > 0, "no postmaster.pid for %s", s->name);
}

void cl_start(struct cluster *c)
{
	memset(c, 0, sizeof *c);
	const char *r = getenv(ROOT_ENV);
	if (r && r[0])
		snprintf(c->dir, sizeof c->dir, "%s/t-XXXXXX", r);
	else /* run without the runner's hook (e.g. --debug) */
		snprintf(c->dir, sizeof c->dir, "/tmp/duet-pg-t-XXXXXX");
	cr_assert_not_null(mkdtemp(c->dir), "mkdtemp: %s", strerror(errno));
	live = c;
	static bool registered;
	if (!registered) {
		atexit(at_exit);
		registered = true;
	}
	chmod(c->dir, 0755);
	if (as_root()) {
		struct passwd *pw = getpwnam("postgres");
		cr_assert_not_null(pw, "no postgres user");
		cr_assert_eq(chown(c->dir, pw->pw_uid, pw->pw_gid), 0, "chown %s: %s", c->dir,
			     strerror(errno));
	}

	struct pg_server *p = &c->primary, *s = &c->standby;
	server_init(c, p, "primary");
	server_init(c, s, "standby");
	cr_assert_eq(pg_cmd(c,
			    PG_BIN "/initdb -D '%s' -A trust -U postgres -N --no-instructions "
				   "--encoding=UTF8 --locale=C.UTF-8",
			    p->datadir),
		     0, "initdb failed (see stderr)");
	char conf[512];
	snprintf(conf, sizeof conf, "%s/postgresql.conf", p->datadir);
	append(conf,
	       "\n# duet pg tests\n"
	       "listen_addresses = '127.0.0.1'\n"
	       "port = %d\n"
	       "unix_socket_directories = '%s'\n"
	       "fsync = off\n"
	       "shared_buffers = 16MB\n"
	       "max_connections = 30\n"
	       "max_wal_senders = 5\n"
	       "wal_level = replica\n"
	       "hot_standby = on\n"
	       "wal_receiver_status_interval = 1s\n",
	       p->port, c->dir);
	server_start(c, p);

	cr_assert_eq(pg_cmd(c,
			    PG_BIN "/pg_basebackup -h 127.0.0.1 -p %d -U postgres -D '%s' -R "
				   "-X stream -c fast -N",
			    p->port, s->datadir),
		     0, "pg_basebackup failed (see stderr)");
	snprintf(conf, sizeof conf, "%s/postgresql.auto.conf", s->datadir);
	append(conf,
	       "port = %d\n"
	       "primary_conninfo = 'host=127.0.0.1 port=%d user=postgres "
	       "application_name=standby1'\n",
	       s->port, p->port);
	server_start(c, s);
}

static void server_stop(struct cluster *c, struct pg_server *s, const char *mode)
{
	if (!s->pid)
		return;
	pg_cmd(c, PG_BIN "/pg_ctl -D '%s' -m %s -w -t 60 stop", s->datadir, mode);
	kill_postmaster(s->pid); /* in case pg_ctl could not */
	s->pid = 0;
}

void cl_stop(struct cluster *c)
{
	if (!c->dir[0])
		return;
	server_stop(c, &c->standby, "immediate");
	server_stop(c, &c->primary, "immediate");
	remove_tree(c->dir);
	c->dir[0] = 0;
	live = NULL;
}

void cl_restart(struct cluster *c, struct pg_server *s)
{
	int rc = pg_cmd(c, PG_BIN "/pg_ctl -D '%s' -l '%s' -m fast -w -t 60 restart", s->datadir,
			s->logfile);
	cr_assert_eq(rc, 0, "pg_ctl restart %s failed (see stderr)", s->name);
	s->pid = read_postmaster_pid(s->datadir);
	cr_assert(s->pid > 0);
}

void cl_stop_server(struct cluster *c, struct pg_server *s)
{
	server_stop(c, s, "fast");
}

int cl_exec(const struct pg_server *s, const char *sql, char *out, size_t outlen)
{
	char conninfo[300];
	snprintf(conninfo, sizeof conninfo, "%s connect_timeout=10", s->conninfo);
	PGconn *conn = PQconnectdb(conninfo);
	if (PQstatus(conn) != CONNECTION_OK) {
		snprintf(out, outlen, "%s", PQerrorMessage(conn));
		PQfinish(conn);
		return -1;
	}
	PGresult *res = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(res);
	int rc = 0;
	if (st == PGRES_TUPLES_OK && PQntuples(res) > 0 && PQnfields(res) > 0)
		snprintf(out, outlen, "%s", PQgetvalue(res, 0, 0));
	else if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
		snprintf(out, outlen, "%s", "");
	else {
		snprintf(out, outlen, "%s", PQresultErrorMessage(res));
		rc = -1;
	}
	PQclear(res);
	PQfinish(conn);
	return rc;
}
