/* SPDX-License-Identifier: MIT */
/*
 * cluster.h - real PostgreSQL 15 servers for the pg tests: a primary and a
 * standby made with pg_basebackup -R (application_name=standby1),
 * streaming from it, in a temp dir owned by the postgres user (initdb and
 * postgres refuse to run as root, so every server command goes through
 * runuser when the test runs as root).
 *
 * Cleanup happens even when a test fails or crashes: cl_stop() (call it
 * from the test's fini) stops both servers with pg_ctl stop -m immediate
 * and removes the dir; an atexit handler in the test process kills any
 * postmaster still recorded, by PID; and the runner process (which forks
 * the tests) sweeps the whole root after the last test, killing every
 * postmaster whose postmaster.pid it finds there.
 */
#ifndef DUET_TEST_PG_CLUSTER_H
#define DUET_TEST_PG_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct pg_server {
	const char *name; /* "primary", "standby" */
	char datadir[400];
	char logfile[400];
	int port;
	pid_t pid; /* postmaster, 0 when stopped */
	char conninfo[256];
};

struct cluster {
	char dir[300];
	struct pg_server primary;
	struct pg_server standby;
};

/* initdb + start the primary; pg_basebackup -R + start the standby. */
void cl_start(struct cluster *c);
/* Immediate stop of both and removal of the dir; safe to call twice. */
void cl_stop(struct cluster *c);
/* pg_ctl restart -m fast (waits until it accepts connections again). */
void cl_restart(struct cluster *c, struct pg_server *s);
/* pg_ctl stop -m fast: a server that is down. */
void cl_stop_server(struct cluster *c, struct pg_server *s);

/* Runs sql on s with blocking libpq (test code, not on a loop). Returns 0
 * with the first value of the last result (or "") in out, or -1 with the
 * error in out. */
int cl_exec(const struct pg_server *s, const char *sql, char *out, size_t outlen);

#endif
