/* SPDX-License-Identifier: MIT */
/*
 * pg_standby.h - turning the local PostgreSQL data directory into a
 * streaming standby of a given primary (DESIGN.md 6, rejoin step 3):
 * pg_rewind when the old data directory can be rewound, else
 * pg_basebackup from the master, with progress; then standby.signal and
 * primary_conninfo so that the next start is a standby.
 *
 * The rejoin step is, in the caller:
 *
 *     stop the server (the manager's stop command)
 *     duet_pg_rewind()             rc 0              -> make standby
 *                                  DUET_PG_ENOTREWINDABLE -> basebackup
 *                                  other error       -> report, retry later
 *     duet_pg_basebackup(DUET_PG_BASEBACKUP_MOVE_ASIDE)
 *     duet_pg_make_standby()       (on the threadpool: it fsyncs)
 *     start the server, wait until it streams (duet_pg_probe on the master)
 *
 * ---- Running the tools ----------------------------------------------------
 *
 * The tools are bin_dir/pg_rewind and bin_dir/pg_basebackup, started with
 * uv_spawn (no shell) in their own session and process group, stdin from
 * /dev/null, stdout and stderr into one pipe read as it arrives, LC_ALL=C
 * (their messages are parsed). When duet runs as root they run as os_user
 * (uid, gid, no supplementary groups; HOME, USER and LOGNAME set to that
 * user's), since PostgreSQL refuses to own or read its files as root;
 * otherwise as duet's own user. At the deadline (or on cancel) the whole
 * process group gets SIGTERM, then SIGKILL DUET_PG_TOOL_KILL_GRACE_MS
 * later, so pg_basebackup's WAL-streaming child and pg_rewind's
 * single-user postgres die with their parent. The tool runs under
 * /usr/bin/setpriv --pdeathsig KILL (when it exists), so it also dies with
 * duet: a daemon killed in the middle leaves no tool writing into the data
 * directory that the next run deletes and copies again.
 *
 * Before a tool starts, the directory work it needs (checking that the
 * data directory is empty, moving an old one aside, creating it with mode
 * 0700 owned by os_user, the interruption markers below) runs on the libuv
 * threadpool, so the loop never waits on the disk; getpwnam() runs there
 * too.
 *
 * ---- Interruptions --------------------------------------------------------
 *
 * Each tool, while it runs, leaves a marker file NEXT TO the data directory
 * (DATA.duet-rewind-partial, DATA.duet-basebackup-partial; created and
 * fsynced before the tool starts, removed after it succeeded), so that a run
 * cut short (a kill, a crash of duet, a power cut, a deadline) is
 * recognised by the next one:
 *
 * duet_pg_rewind on a directory that holds an interrupted base backup
 *   (DATA.duet-basebackup-partial) reports DUET_PG_ENOTREWINDABLE: pg_rewind
 *   may find nothing to rewind in the copy and succeed, but the copy is
 *   incomplete and would never start.
 *
 * duet_pg_rewind, half done: the data directory is a mixture of its old
 *   files and the source's and cannot be trusted (PostgreSQL's own advice
 *   after a failed pg_rewind is a fresh base backup), and the marker stays.
 *   Running duet_pg_rewind again reports DUET_PG_ENOTREWINDABLE without
 *   touching anything, which sends the caller to duet_pg_basebackup.
 *   A rewind that completed leaves DATA.duet-rewind-done instead, holding a
 *   copy of DATA/global/pg_control as pg_rewind left it: run again while
 *   pg_control is still byte-identical (the server has not run since),
 *   duet_pg_rewind succeeds at once without running pg_rewind (which would
 *   first "finish recovery" of the rewound directory in single-user mode
 *   and write WAL of its own). Once the server has run, pg_control differs,
 *   the stale marker is removed and pg_rewind runs as usual.
 *   pg_rewind failing on its own (exit status != 0, e.g. it could not
 *   connect) before it started copying (before its "need to copy" line)
 *   changed no file of DATA: the marker is removed and a later run tries
 *   again. A failure after that line is treated as an interruption.
 *
 * duet_pg_basebackup, half done: the data directory holds a partial copy
 *   (pg_basebackup cleans up after its own errors, not after a SIGKILL) and
 *   the marker stays. Running duet_pg_basebackup again deletes that partial
 *   copy (it is known to be ours because of the marker) and starts over; no
 *   flag is needed. A data directory WITHOUT the marker is never deleted:
 *   it is moved aside with DUET_PG_BASEBACKUP_MOVE_ASIDE or refused.
 *
 * duet_pg_make_standby, half done: postgresql.auto.conf is replaced by
 *   rename(), so it holds either the old or the new settings, never a
 *   mixture; standby.signal is created after it, so a half-done run leaves
 *   at worst the new primary_conninfo without standby.signal (the server
 *   would start as a primary on the rewound or copied data: do not start
 *   it until make_standby succeeded). Running it again does the whole work
 *   again with the same result (it is idempotent); a temp file left by the
 *   interruption is overwritten.
 *
 * ---- Threads, blocking, ownership -------------------------------------------
 *
 * duet_pg_rewind and duet_pg_basebackup are called on, and call back on,
 * the caller's loop thread and never block it. Callbacks are never called
 * from inside the call that started the operation. The config is copied.
 * The progress and detail pointers handed to callbacks are valid during the
 * callback only. Every started operation ends with exactly one done
 * callback (after progress callbacks, if any, and after every handle of
 * the operation is closed); its handle is freed when that callback returns.
 * Only one operation per data directory at a time: the caller's business
 * (the rejoin step runs them in order).
 *
 * duet_pg_make_standby BLOCKS (it writes, fsyncs and renames): run it on
 * the threadpool (uv_queue_work) or outside the loop.
 */
#ifndef DUET_PG_STANDBY_H
#define DUET_PG_STANDBY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "duet/err.h"

#define DUET_PG_STANDBY_DEFAULT_BIN_DIR    "/usr/lib/postgresql/15/bin"
#define DUET_PG_STANDBY_DEFAULT_OS_USER    "postgres"
#define DUET_PG_STANDBY_DEFAULT_TIMEOUT_MS (4u * 3600u * 1000u) /* a big base backup */
#define DUET_PG_TOOL_KILL_GRACE_MS         2000                 /* SIGTERM to SIGKILL */
#define DUET_PG_TOOL_DETAIL_BYTES          512                  /* done detail, including NUL */
#define DUET_PG_TOOL_LINE_BYTES            512                  /* longest tool output line kept */

/*
 * pg_rewind cannot rewind this data directory (the caller falls back to
 * pg_basebackup): the source is another system, the target has neither data
 * checksums nor wal_log_hints, there is no common timeline, the WAL needed
 * from the target is gone, or an earlier rewind was interrupted. An alias
 * of err.h's DUET_ENOTREWINDABLE (duet_strerror() names it).
 */
#define DUET_PG_ENOTREWINDABLE DUET_ENOTREWINDABLE

/* Strings: "" takes the default named next to them. Copied by every call. */
struct duet_pg_standby_config {
	char bin_dir[256];          /* "" = DUET_PG_STANDBY_DEFAULT_BIN_DIR */
	char data_dir[256];         /* absolute path; required */
	char os_user[64];           /* tools run as this user when duet is root;
				       "" = DUET_PG_STANDBY_DEFAULT_OS_USER */
	char primary_conninfo[512]; /* libpq conninfo of the primary, e.g.
				       "host=10.0.0.1 port=5432 user=postgres"; required */
	char application_name[64];  /* this member's name, which the primary's
				       synchronous_standby_names names; required by
				       make_standby */
	char config_file[256];      /* postgresql.conf when it lives outside data_dir
				       (Debian: /etc/postgresql/15/main/postgresql.conf),
				       passed to pg_rewind --config-file so the
				       single-user recovery it may run reads the real
				       settings (wal_keep_size...); "" = none */
	uint32_t timeout_ms;        /* deadline of one tool run;
				       0 = DUET_PG_STANDBY_DEFAULT_TIMEOUT_MS */
};

/* What a tool said last. Lines "N/M kB (P%)..." carry bytes; other lines
 * are steps ("checkpoint completed", "reading source file list"). */
struct duet_pg_progress {
	const char *tool;     /* "pg_rewind" or "pg_basebackup" */
	const char *step;     /* the tool's latest non-progress message, without
				 the "pg_basebackup: " prefix ("" before the first) */
	bool has_bytes;       /* this call is for a progress line */
	uint64_t bytes_done;  /* the last progress line's counts (0 before one) */
	uint64_t bytes_total; /* pg_basebackup: the server's estimate */
	int percent;          /* 0..100; -1 before the first progress line */
};

/* Called for every line the tool writes (steps and progress lines, as they
 * come; pg_basebackup writes a progress line at most once a second).
 * May be NULL. */
typedef void (*duet_pg_progress_cb)(void *data, const struct duet_pg_progress *p);

/*
 * The operation ended. rc:
 *   0                       done (basebackup: DATA is a complete copy)
 *   DUET_PG_ENOTREWINDABLE  (rewind) see above; fall back to basebackup
 *   -ENOTEMPTY              (basebackup) DATA holds files that are not our
 *                           partial copy and MOVE_ASIDE was not given
 *   -ETIMEDOUT              the deadline passed; the process group was killed
 *   -ECANCELED              duet_pg_tool_cancel()
 *   -EIO                    the tool failed (exit status != 0 or a signal)
 *   -ENOENT                 (rewind) DATA has no global/pg_control
 *   -EBUSY                  a server is running on DATA (postmaster.pid
 *                           names a live postgres process)
 *   other negative errno    a directory step or the spawn failed (e.g.
 *                           -ENOENT: no such tool in bin_dir; -EACCES)
 * detail: one line for a person saying what was run on which directory and
 * how it ended, with the tool's error lines ("" never: success says what
 * was done, e.g. "pg_basebackup into /d from host=... done in 3.2 s; old
 * data moved to /d.old-20240501T101500Z").
 */
typedef void (*duet_pg_tool_done_cb)(void *data, int rc, const char *detail);

struct duet_pg_tool;

/*
 * pg_rewind --target-pgdata=DATA --source-server=CONNINFO --progress
 * (the local server must be stopped; pg_rewind itself finishes crash
 * recovery of a target that was not shut down cleanly, in single-user
 * mode, within the deadline). The source must have completed a
 * checkpoint since its promotion: pg_rewind takes the source's timeline
 * from its pg_control, and right after a promotion (before that
 * checkpoint) it wrongly finds both on one timeline, says "no rewind
 * required" and succeeds. The caller runs CHECKPOINT on the master first.
 * Returns 0 (done comes exactly once), DUET_EINVAL (empty data_dir or
 * primary_conninfo, a relative data_dir, a string without its NUL, NULL
 * done) or DUET_ENOMEM; then no callback comes. *out (may be NULL) is a
 * handle for duet_pg_tool_cancel(), valid until done returns.
 */
int duet_pg_rewind(uv_loop_t *loop, const struct duet_pg_standby_config *cfg,
		   duet_pg_progress_cb progress, duet_pg_tool_done_cb done, void *data,
		   struct duet_pg_tool **out);

/* DATA holds an old cluster (files without our partial-copy marker): move
 * it to DATA.old-<UTC timestamp> (kept for a person to delete) instead of
 * refusing. */
#define DUET_PG_BASEBACKUP_MOVE_ASIDE 0x1u

/*
 * pg_basebackup -D DATA -d CONNINFO -X stream -c fast --progress -v
 * into an empty directory: an absent DATA is created (0700, os_user); an
 * empty one is used; our own partial copy is deleted first; anything else
 * is moved aside with DUET_PG_BASEBACKUP_MOVE_ASIDE, else refused
 * (-ENOTEMPTY, the detail names the directory). Same returns as
 * duet_pg_rewind (and DUET_EINVAL for unknown flags).
 */
int duet_pg_basebackup(uv_loop_t *loop, const struct duet_pg_standby_config *cfg, unsigned flags,
		       duet_pg_progress_cb progress, duet_pg_tool_done_cb done, void *data,
		       struct duet_pg_tool **out);

/*
 * Stops the operation: a running tool's process group gets SIGTERM (then
 * SIGKILL after the grace); directory work in progress on the threadpool
 * finishes first, and the tool is then not started. done comes later with
 * -ECANCELED (or with the real outcome if the tool had already ended).
 * Must not be called after done returned.
 */
void duet_pg_tool_cancel(struct duet_pg_tool *t);

/*
 * Makes DATA start as a standby of primary_conninfo (the server must be
 * stopped), in this order:
 *   1. postgresql.auto.conf: every line setting primary_conninfo or
 *      recovery_target_timeline (names compared without case, as
 *      PostgreSQL does) is dropped, all other lines are kept as they were,
 *      and these two are appended:
 *          primary_conninfo = '<conninfo with application_name=NAME>'
 *          recovery_target_timeline = 'latest'
 *      (application_name in the conninfo is replaced; the conninfo is
 *      rewritten as key='value' pairs). Written to a temp file, fsynced,
 *      renamed over the old one, the directory fsynced; mode of the old
 *      file (0600 if there was none), owner os_user when duet is root.
 *   2. standby.signal is created (empty, 0600, os_user) and fsynced.
 * Idempotent: a second run leaves byte-identical files.
 * Returns 0; DUET_EINVAL (missing field, conninfo that does not parse,
 * application_name with a control character or over 63 bytes); -EBUSY (a
 * server is running on DATA); -ENOENT (DATA has no PG_VERSION: not a data
 * directory); another negative errno from the file work. errbuf (may be
 * NULL) gets one line for a person on failure, "" on success. BLOCKS.
 */
int duet_pg_make_standby(const struct duet_pg_standby_config *cfg, char *errbuf, size_t errlen);

/*
 * Parses one line of tool output (without its line terminator): returns
 * true for a progress line ("   1234/5678 kB (21%), 0/1 tablespace ...",
 * "1234/5678 kB (21%) copied"), setting bytes_done, bytes_total, percent
 * and has_bytes in *p (other fields untouched). Pure; exposed for tests.
 */
bool duet_pg_parse_progress(const char *line, struct duet_pg_progress *p);

#endif
