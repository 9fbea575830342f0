/* SPDX-License-Identifier: MIT */
/*
 * ctl_rebuild.c - the PostgreSQL half of a rejoin (DESIGN.md 6, steps 3 and
 * 4): this data node's PostgreSQL becomes a synchronous standby of the
 * master again, without the operator choosing how.
 *
 * Started by rejoin.c once a rejoined member votes again (duetctl rejoin),
 * it runs as a small state machine on the loop, driven by ctl_step():
 *
 *   STOPPING      the local server is not a standby streaming from the
 *                 master and answers or has a postmaster.pid: [pg]
 *                 stop_command; one that is already such a standby needs
 *                 nothing (method "none"), and one that is a standby but
 *                 does not stream while the master's PostgreSQL is down
 *                 (a daemon restarted while its fresh copy waited for the
 *                 master) is kept as it is and waits (WAITING_SYNC)
 *   CHECKPOINT    on the master (peer_conninfo, on the threadpool): it must
 *                 be a primary of the same major version as data_dir's
 *                 PG_VERSION; before a rewind, its CHECKPOINT makes
 *                 pg_rewind see the new timeline (pg_standby.h)
 *   REWIND        pg_rewind when data_dir holds a cluster, else
 *   BASEBACKUP    pg_basebackup (also when pg_rewind reports the directory
 *                 not rewindable); the old directory is moved aside
 *   CONFIGURING   standby.signal and primary_conninfo (threadpool)
 *   STARTING      [pg] start_command
 *   WAITING_SYNC  until the log holds SYNC(this node, on): the master's
 *                 sync manager sees the standby stream and commits it. A
 *                 finished copy is never thrown away because the master is
 *                 down: while the standby does not stream, the master is
 *                 looked at every REBUILD_RETRY_MS, and only a standby that
 *                 has not streamed for [pg] rebuild_stream_timeout_ms while
 *                 every look found the master's PostgreSQL up, reachable
 *                 and a primary (the copy cannot follow it: a timeline or
 *                 WAL it lacks) is rebuilt again (DESIGN.md 4.9, liveness)
 *
 * Every step can be run again: a failure (the master unreachable, a tool
 * killed, a start that failed) is shown in status and the step runs again
 * REBUILD_RETRY_MS later, from STOPPING; the tools' own markers make a
 * rerun pick up where the last one stopped (pg_standby.h). Two failures are
 * final (FAILED): this node is the master in the log, and a major version
 * that differs from the master's. The rebuild stops when this node starts
 * acting (it became master some other way).
 *
 * A rebuild in progress leaves <data_dir>/rebuild.pending (data_dir of
 * [node], the reason inside), removed when it is done or failed for good: a
 * daemon restarted in the middle (a crash, a kill, a reboot) resumes it at
 * start (ctl_rebuild_resume), so an interrupted rejoin or switchover does
 * not leave PostgreSQL half rebuilt until someone notices.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "ctl.h"
#include "duet/actions.h"
#include "duet/pg_standby.h"
#include "node_internal.h"
#include "status.h"

#define REBUILD_RETRY_MS      5000
#define REBUILD_RETRY_SOON_MS 500 /* the master is being promoted (a switchover) */
#define REBUILD_CONNECT_S     "5"

static const char *state_name(int s)
{
	static const char *const names[] = {
	    [REBUILD_IDLE] = "idle",
	    [REBUILD_STOPPING] = "stopping",
	    [REBUILD_CHECKPOINT] = "checkpoint",
	    [REBUILD_REWIND] = "rewind",
	    [REBUILD_BASEBACKUP] = "basebackup",
	    [REBUILD_CONFIGURING] = "configuring",
	    [REBUILD_STARTING] = "starting",
	    [REBUILD_WAITING_SYNC] = "waiting_sync",
	    [REBUILD_DONE] = "done",
	    [REBUILD_FAILED] = "failed",
	};
	return s >= 0 && s <= REBUILD_FAILED ? names[s] : "?";
}

static const char *method_name(int m)
{
	return m == REBUILD_METHOD_REWIND       ? "rewind"
	       : m == REBUILD_METHOD_BASEBACKUP ? "basebackup"
	       : m == REBUILD_METHOD_NONE       ? "none"
						: "";
}

static void scopy(char *dst, size_t cap, const char *src)
{
	size_t len = strnlen(src, cap - 1);
	memcpy(dst, src, len);
	dst[len] = '\0';
}

static void pending_path(const struct node *n, char *out, size_t cap)
{
	snprintf(out, cap, "%s/rebuild.pending", n->cfg.data_dir);
}

/* The marker of a rebuild in progress: written when it starts, removed when
 * it ends (a tiny file; not fsynced: losing it only loses the resume). */
static void pending_set(const struct node *n, const char *reason)
{
	char path[DUET_CONFIG_PATH_MAX + 32];
	pending_path(n, path, sizeof path);
	if (!reason) {
		if (unlink(path) != 0 && errno != ENOENT)
			duet_log(DUET_LOG_WARN, "rebuild: cannot remove %s: %s", path,
				 strerror(errno));
		return;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, reason, strlen(reason)) < 0)
		duet_log(DUET_LOG_WARN, "rebuild: cannot write %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
}

static void enter(struct node *n, int state)
{
	struct ctl_rebuild *r = &n->ctl.rebuild;
	if (state == REBUILD_DONE || state == REBUILD_FAILED)
		pending_set(n, NULL);
	r->state = state;
	r->state_ms = node_now_ms();
	if (state == REBUILD_STOPPING)
		r->stop_look = REBUILD_LOOK_NONE;
	if (state == REBUILD_WAITING_SYNC) {
		r->stream_since_ms = r->state_ms;
		r->master_check_at = r->state_ms + REBUILD_RETRY_MS;
		r->master_down = false;
	}
	r->step[0] = '\0';
	duet_log(DUET_LOG_INFO, "rebuild: %s", state_name(state));
}

/* A step failed: say so, and run again from STOPPING later (or never). */
static void failed(struct node *n, bool final, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void failed(struct node *n, bool final, const char *fmt, ...)
{
	struct ctl_rebuild *r = &n->ctl.rebuild;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->error, sizeof r->error, fmt, ap);
	va_end(ap);
	r->failures++;
	duet_log(DUET_LOG_ERROR, "rebuild: %s FAILED: %s%s", state_name(r->state), r->error,
		 final ? "" : " (trying again)");
	if (final) {
		enter(n, REBUILD_FAILED);
		ctl_propose_step(n, DUET_STEP_REBUILD, n->cfg.self_id, false, 0, "%s", r->error);
		return;
	}
	r->retry_at = node_now_ms() + (r->again_soon ? REBUILD_RETRY_SOON_MS : REBUILD_RETRY_MS);
	r->again_soon = false;
	enter(n, REBUILD_STOPPING);
}

/* ---- the tools' callbacks ------------------------------------------------ */

struct rb_ctx {
	struct node *n;
	uint64_t gen;
};

static struct rb_ctx *ctx_new(struct node *n)
{
	struct rb_ctx *x = malloc(sizeof *x);
	if (!x)
		return NULL;
	x->n = n;
	x->gen = n->ctl.rebuild.gen;
	n->ctl.rebuild.busy = true;
	return x;
}

/* The callback is still wanted: no stop, no restart of the rebuild. */
static bool ctx_current(struct rb_ctx *x)
{
	struct node *n = x->n;
	if (x->gen != n->ctl.rebuild.gen || n->stopping)
		return false;
	n->ctl.rebuild.busy = false;
	return true;
}

static void tool_progress(void *data, const struct duet_pg_progress *p)
{
	struct rb_ctx *x = data;
	struct ctl_rebuild *r = &x->n->ctl.rebuild;
	if (x->gen != r->gen)
		return;
	if (p->step[0])
		scopy(r->step, sizeof r->step, p->step);
	if (p->has_bytes) {
		r->bytes_done = p->bytes_done;
		r->bytes_total = p->bytes_total;
		r->percent = p->percent;
	}
}

static void tool_done(void *data, int rc, const char *detail)
{
	struct rb_ctx *x = data;
	struct node *n = x->n;
	struct ctl_rebuild *r = &n->ctl.rebuild;
	if (x->gen == r->gen)
		r->tool = NULL;
	if (!ctx_current(x)) {
		free(x);
		return;
	}
	free(x);
	scopy(r->detail, sizeof r->detail, detail ? detail : "");
	if (rc == 0) {
		duet_log(DUET_LOG_INFO, "rebuild: %s", r->detail);
		ctl_propose_step(n, DUET_STEP_REBUILD, n->cfg.self_id, true,
				 node_now_ms() - r->state_ms, "%s", r->detail);
		enter(n, REBUILD_CONFIGURING);
	} else if (rc == DUET_PG_ENOTREWINDABLE && r->state == REBUILD_REWIND) {
		duet_log(DUET_LOG_WARN, "rebuild: %s: falling back to pg_basebackup", r->detail);
		r->method = REBUILD_METHOD_BASEBACKUP;
		enter(n, REBUILD_BASEBACKUP);
	} else {
		failed(n, false, "%s", r->detail[0] ? r->detail : duet_strerror(rc));
	}
	node_drive_later(n);
}

static void fill_standby_config(const struct node *n, struct duet_pg_standby_config *sc)
{
	const struct duet_config_actions *a = &n->cfg.act;
	memset(sc, 0, sizeof *sc);
	scopy(sc->bin_dir, sizeof sc->bin_dir, a->pg_bin_dir);
	scopy(sc->data_dir, sizeof sc->data_dir, a->pg_data_dir);
	scopy(sc->os_user, sizeof sc->os_user, a->pg_os_user);
	scopy(sc->config_file, sizeof sc->config_file, a->pg_config_file);
	scopy(sc->primary_conninfo, sizeof sc->primary_conninfo, a->pg_peer_conninfo);
	scopy(sc->application_name, sizeof sc->application_name, n->cfg.node_name);
	sc->timeout_ms = a->pg_rebuild_timeout_ms;
}

/* ---- threadpool work: the master's checks, the standby files ------------- */

struct rb_work {
	uv_work_t req;
	struct rb_ctx *x;
	struct duet_pg_standby_config sc;
	int rc;
	bool final;
	bool has_cluster; /* data_dir holds PG_VERSION and global/pg_control */
	char err[512];
};

/* The major version in data_dir/PG_VERSION ("15"), 0 if none. */
static int local_major(const char *data_dir)
{
	char path[300], buf[16] = "";
	snprintf(path, sizeof path, "%s/PG_VERSION", data_dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t got = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (got <= 0)
		return 0;
	buf[got] = '\0';
	return atoi(buf);
}

/* Cuts the newline and spaces libpq's messages end with. */
static void trim_end(char *s)
{
	size_t len = strlen(s);
	while (len && (s[len - 1] == '\n' || s[len - 1] == ' '))
		s[--len] = '\0';
}

static void checkpoint_work(uv_work_t *req)
{
	struct rb_work *w = req->data;
	char path[300];
	struct stat st;
	snprintf(path, sizeof path, "%s/global/pg_control", w->sc.data_dir);
	int major = local_major(w->sc.data_dir);
	w->has_cluster = major > 0 && stat(path, &st) == 0;

	const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
	const char *vals[] = {w->sc.primary_conninfo, REBUILD_CONNECT_S, "duet-rebuild", NULL};
	PGconn *c = PQconnectdbParams(keys, vals, 1);
	if (!c || PQstatus(c) != CONNECTION_OK) {
		snprintf(w->err, sizeof w->err,
			 "cannot reach the master's PostgreSQL (%.200s): %.250s",
			 w->sc.primary_conninfo, c ? PQerrorMessage(c) : "out of memory");
		w->rc = -EHOSTUNREACH;
		goto out;
	}
	PGresult *res =
	    PQexec(c, "SELECT pg_is_in_recovery(), current_setting('server_version_num')");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		snprintf(w->err, sizeof w->err, "the master's PostgreSQL: %.400s",
			 PQerrorMessage(c));
		w->rc = -EIO;
		PQclear(res);
		goto out;
	}
	bool recovery = PQgetvalue(res, 0, 0)[0] == 't';
	int version = atoi(PQgetvalue(res, 0, 1));
	PQclear(res);
	if (recovery) {
		snprintf(
		    w->err, sizeof w->err,
		    "the PostgreSQL at %.200s is not a primary (still in recovery): nothing to "
		    "follow yet",
		    w->sc.primary_conninfo);
		w->rc = -EAGAIN;
		goto out;
	}
	if (major && version / 10000 != major) {
		snprintf(w->err, sizeof w->err,
			 "version mismatch: %.200s holds PostgreSQL %d, the master runs %d.%d; "
			 "install the same major version on both nodes",
			 w->sc.data_dir, major, version / 10000, version % 10000);
		w->rc = -EPROTO;
		w->final = true;
		goto out;
	}
	/* only pg_rewind needs it; pg_basebackup -c fast checkpoints itself */
	if (w->has_cluster) {
		res = PQexec(c, "CHECKPOINT");
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			snprintf(w->err, sizeof w->err, "CHECKPOINT on the master: %.400s",
				 PQerrorMessage(c));
			w->rc = -EIO;
		}
		PQclear(res);
	}
out:
	if (c)
		PQfinish(c);
	trim_end(w->err);
}

static void checkpoint_after(uv_work_t *req, int status)
{
	struct rb_work *w = req->data;
	struct rb_ctx *x = w->x;
	struct node *n = x->n;
	struct ctl_rebuild *r = &n->ctl.rebuild;
	bool current = ctx_current(x);
	free(x);
	if (!current) {
		free(w);
		return;
	}
	if (status || w->rc) {
		r->again_soon = w->rc == -EAGAIN;
		failed(n, w->final, "%s", status ? duet_strerror(status) : w->err);
	} else {
		r->method = w->has_cluster ? REBUILD_METHOD_REWIND : REBUILD_METHOD_BASEBACKUP;
		enter(n, w->has_cluster ? REBUILD_REWIND : REBUILD_BASEBACKUP);
	}
	free(w);
	node_drive_later(n);
}

/* WAITING_SYNC, not streaming: is there a primary to stream from? */
static void master_check_work(uv_work_t *req)
{
	struct rb_work *w = req->data;
	const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
	const char *vals[] = {w->sc.primary_conninfo, REBUILD_CONNECT_S, "duet-rebuild", NULL};
	PGconn *c = PQconnectdbParams(keys, vals, 1);
	if (!c || PQstatus(c) != CONNECTION_OK) {
		snprintf(w->err, sizeof w->err, "does not answer: %.300s",
			 c ? PQerrorMessage(c) : "out of memory");
		w->rc = -EHOSTUNREACH;
	} else {
		PGresult *res = PQexec(c, "SELECT pg_is_in_recovery()");
		if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
			snprintf(w->err, sizeof w->err, "%.400s", PQerrorMessage(c));
			w->rc = -EIO;
		} else if (PQgetvalue(res, 0, 0)[0] == 't') {
			snprintf(w->err, sizeof w->err, "is not a primary (in recovery)");
			w->rc = -EAGAIN;
		}
		PQclear(res);
	}
	if (c)
		PQfinish(c);
	trim_end(w->err);
}

static void master_check_after(uv_work_t *req, int status)
{
	struct rb_work *w = req->data;
	struct rb_ctx *x = w->x;
	struct node *n = x->n;
	struct ctl_rebuild *r = &n->ctl.rebuild;
	bool current = x->gen == r->gen && !n->stopping;
	free(x);
	if (!current) {
		free(w);
		return;
	}
	r->master_checking = false;
	uint64_t now = node_now_ms();
	r->master_check_at = now + REBUILD_RETRY_MS;
	if (r->state == REBUILD_STOPPING && r->stop_look == REBUILD_LOOK_ASKED) {
		r->stop_look = status || w->rc ? REBUILD_LOOK_MASTER_DOWN : REBUILD_LOOK_MASTER_UP;
		if (status || w->rc)
			snprintf(r->step, sizeof r->step, "the master's PostgreSQL %.130s",
				 status ? duet_strerror(status) : w->err);
		free(w);
		node_drive_later(n);
		return;
	}
	if (r->state != REBUILD_WAITING_SYNC) {
		free(w);
		return;
	}
	if (status || w->rc) {
		/* nothing to stream from: the copy is kept, and the deadline
		 * counts again from when there is */
		if (!r->master_down)
			duet_log(DUET_LOG_WARN,
				 "rebuild: the master's PostgreSQL (%s) %s: the copy is kept; "
				 "the standby streams once the master is back",
				 n->cfg.act.pg_peer_conninfo,
				 status ? duet_strerror(status) : w->err);
		r->master_down = true;
		r->stream_since_ms = now;
		snprintf(r->step, sizeof r->step,
			 "the master's PostgreSQL %.100s: keeping the copy until it is back",
			 status ? duet_strerror(status) : w->err);
		free(w);
		node_drive_later(n);
		return;
	}
	if (r->master_down) {
		duet_log(DUET_LOG_INFO,
			 "rebuild: the master's PostgreSQL is a primary again: waiting for the "
			 "standby to stream");
		r->master_down = false;
	}
	free(w);
	if (now - r->stream_since_ms > n->cfg.act.pg_rebuild_stream_timeout_ms) {
		failed(n, false,
		       "PostgreSQL does not stream although the master's is a primary and "
		       "answers, %u ms after it started or the master came back: the copy "
		       "cannot follow it; rebuilding again",
		       n->cfg.act.pg_rebuild_stream_timeout_ms);
	}
	node_drive_later(n);
}

static void queue_master_check(struct node *n)
{
	struct ctl_rebuild *r = &n->ctl.rebuild;
	struct rb_work *w = calloc(1, sizeof *w);
	struct rb_ctx *x = malloc(sizeof *x);
	if (!w || !x) {
		free(w);
		free(x);
		return;
	}
	/* not ctx_new: a look at the master does not hold the rebuild back
	 * (SYNC on is still noticed while it runs) */
	x->n = n;
	x->gen = r->gen;
	w->x = x;
	fill_standby_config(n, &w->sc);
	w->req.data = w;
	if (uv_queue_work(n->loop, &w->req, master_check_work, master_check_after) == 0) {
		r->master_checking = true;
	} else {
		free(x);
		free(w);
		r->master_check_at = node_now_ms() + REBUILD_RETRY_MS;
	}
}

static void configure_work(uv_work_t *req)
{
	struct rb_work *w = req->data;
	w->rc = duet_pg_make_standby(&w->sc, w->err, sizeof w->err);
}

static void configure_after(uv_work_t *req, int status)
{
	struct rb_work *w = req->data;
	struct rb_ctx *x = w->x;
	struct node *n = x->n;
	bool current = ctx_current(x);
	free(x);
	if (!current) {
		free(w);
		return;
	}
	if (status || w->rc)
		failed(n, false, "standby settings: %s",
		       status      ? duet_strerror(status)
		       : w->err[0] ? w->err
				   : duet_strerror(w->rc));
	else
		enter(n, REBUILD_STARTING);
	free(w);
	node_drive_later(n);
}

static int queue(struct node *n, uv_work_cb work, uv_after_work_cb after)
{
	struct rb_work *w = calloc(1, sizeof *w);
	if (!w)
		return -ENOMEM;
	if (!(w->x = ctx_new(n))) {
		free(w);
		return -ENOMEM;
	}
	fill_standby_config(n, &w->sc);
	w->req.data = w;
	int rc = uv_queue_work(n->loop, &w->req, work, after);
	if (rc) {
		n->ctl.rebuild.busy = false;
		free(w->x);
		free(w);
	}
	return rc;
}

/* ---- commands: stop and start -------------------------------------------- */

static void cmd_done(void *data, const struct duet_cmd_result *res)
{
	struct rb_ctx *x = data;
	struct node *n = x->n;
	struct ctl_rebuild *r = &n->ctl.rebuild;
	bool current = ctx_current(x);
	free(x);
	if (!current)
		return;
	char what[300];
	duet_cmd_describe(res, what, sizeof what);
	if (r->state == REBUILD_STOPPING) {
		/* pg_ctl stop exits 1 when the server was not running: the tools
		 * check postmaster.pid themselves (-EBUSY if it still runs) */
		duet_log(DUET_LOG_INFO, "rebuild: stop: %s", what);
		r->stopped = true;
		enter(n, REBUILD_CHECKPOINT);
	} else if (res->exit_status == 0) {
		duet_log(DUET_LOG_INFO, "rebuild: start: %s", what);
		enter(n, REBUILD_WAITING_SYNC);
	} else {
		/* PostgreSQL down is not our own stop's doing any more */
		n->ctl.pg_stopped_by_us = false;
		failed(n, false, "[pg] start_command: %s", what);
	}
	node_drive_later(n);
}

static void run_cmd(struct node *n, const char *cmd)
{
	struct rb_ctx *x = ctx_new(n);
	if (!x)
		return;
	if (duet_cmd_run(n->loop, cmd, NULL, n->cfg.act.pg_promote_timeout_ms, cmd_done, x, NULL)) {
		n->ctl.rebuild.busy = false;
		free(x);
		failed(n, false, "cannot run '%s'", cmd);
	}
}

/* ---- the state machine --------------------------------------------------- */

/* The local server is a standby that streams (from the master: it has no
 * other upstream). */
static bool streaming_standby(const struct ctl *c)
{
	return c->pg_known && c->pg_last.in_recovery &&
	       strcmp(c->pg_last.wal_receiver_status, "streaming") == 0;
}

/* data_dir/postmaster.pid exists (a stat: cheap enough for the loop). */
static bool pid_file(const struct node *n)
{
	char path[DUET_CONFIG_PATH_MAX + 32];
	struct stat st;
	snprintf(path, sizeof path, "%s/postmaster.pid", n->cfg.act.pg_data_dir);
	return stat(path, &st) == 0;
}

void ctl_rebuild_start(struct node *n, const char *reason)
{
	struct ctl *c = &n->ctl;
	struct ctl_rebuild *r = &c->rebuild;
	if (n->cfg.self_kind != DUET_MEMBER_DATA || !c->pg)
		return;
	if (r->state != REBUILD_IDLE && r->state != REBUILD_DONE && r->state != REBUILD_FAILED)
		return;
	if (r->tool)
		duet_pg_tool_cancel(r->tool);
	uint64_t gen = r->gen + 1;
	memset(r, 0, sizeof *r);
	r->gen = gen;
	r->started_ms = node_now_ms();
	scopy(r->reason, sizeof r->reason, reason);
	duet_log(DUET_LOG_INFO, "rebuild of the local PostgreSQL as a standby (%s)", reason);
	pending_set(n, reason);
	/* STOPPING waits for a probe started after now */
	enter(n, REBUILD_STOPPING);
}

void ctl_rebuild_resume(struct node *n)
{
	char path[DUET_CONFIG_PATH_MAX + 32], reason[32] = "";
	pending_path(n, path, sizeof path);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t got = read(fd, reason, sizeof reason - 1);
	close(fd);
	reason[got > 0 ? got : 0] = '\0';
	char why[64];
	snprintf(why, sizeof why, "%s, resumed after a restart", reason[0] ? reason : "rebuild");
	duet_log(DUET_LOG_WARN, "%s: a rebuild was in progress when the daemon stopped", path);
	ctl_rebuild_start(n, why);
}

bool ctl_rebuild_active(const struct node *n)
{
	int s = n->ctl.rebuild.state;
	return s != REBUILD_IDLE && s != REBUILD_DONE && s != REBUILD_FAILED;
}

void ctl_rebuild_step(struct node *n)
{
	struct ctl *c = &n->ctl;
	struct ctl_rebuild *r = &c->rebuild;
	uint64_t now = node_now_ms();
	if (!ctl_rebuild_active(n) || r->busy || n->stopping || now < r->retry_at)
		return;
	if (c->act == CTL_ACTIVATING || c->act == CTL_MASTER) {
		failed(n, true, "this node acts as master now: rebuild stopped");
		return;
	}
	uint32_t master = n->fsm.master.node;
	if (master == n->cfg.self_id) {
		failed(n, true,
		       "the log names this node master (entry %" PRIu64
		       "): it is not rebuilt as a standby",
		       n->fsm.master.since_index);
		return;
	}
	if (!master) {
		scopy(r->step, sizeof r->step, "waiting: the log names no master yet");
		r->waited_master = true;
		return;
	}
	if (r->waited_master) {
		r->waited_master = false;
		r->step[0] = '\0';
	}
	struct duet_pg_standby_config sc;
	int rc;
	switch (r->state) {
	case REBUILD_STOPPING:
		/* judge the server by a probe made in this state */
		if (c->pg_last_started_ms < r->state_ms) {
			if (!c->pg_probe_busy)
				ctl_probe_now(n);
			return;
		}
		if (streaming_standby(c) && !r->stopped) {
			r->method = REBUILD_METHOD_NONE;
			scopy(r->detail, sizeof r->detail,
			      "the local PostgreSQL is a standby streaming from the master: "
			      "nothing to rebuild");
			duet_log(DUET_LOG_INFO, "rebuild: %s", r->detail);
			enter(n, REBUILD_WAITING_SYNC);
			return;
		}
		/* a standby that does not stream: with the master's PostgreSQL
		 * down there is nothing to rebuild from, and the copy may be a
		 * good one waiting for it (the daemon restarted meanwhile):
		 * keep it running; stopping it would leave a crashed standby
		 * that pg_rewind cannot recover in single-user mode */
		if (!r->stopped && c->pg_known && c->pg_last.in_recovery) {
			if (r->stop_look == REBUILD_LOOK_NONE) {
				if (r->master_checking)
					return; /* the look in flight ends first */
				r->stop_look = REBUILD_LOOK_ASKED;
				queue_master_check(n);
				if (!r->master_checking)
					r->stop_look = REBUILD_LOOK_NONE;
				return;
			}
			if (r->stop_look == REBUILD_LOOK_ASKED)
				return;
			if (r->stop_look == REBUILD_LOOK_MASTER_DOWN) {
				if (r->method == REBUILD_METHOD_UNKNOWN)
					r->method = REBUILD_METHOD_NONE;
				scopy(r->detail, sizeof r->detail,
				      "the local PostgreSQL is a standby and the master's is down: "
				      "kept as it is, it streams once the master is back");
				duet_log(DUET_LOG_INFO, "rebuild: %s", r->detail);
				enter(n, REBUILD_WAITING_SYNC);
				r->master_down = true;
				scopy(
				    r->step, sizeof r->step,
				    "the master's PostgreSQL is down: keeping the copy until it is "
				    "back");
				return;
			}
		}
		/* also when it does not answer but postmaster.pid exists: a
		 * server may be starting (a start that timed out leaves one
		 * waiting); stopping a stopped server is harmless */
		if (n->cfg.act.pg_stop_command[0] && (c->pg_known || pid_file(n))) {
			run_cmd(n, n->cfg.act.pg_stop_command);
			return;
		}
		enter(n, REBUILD_CHECKPOINT);
		/* fall through */
	case REBUILD_CHECKPOINT:
		if ((rc = queue(n, checkpoint_work, checkpoint_after)))
			failed(n, false, "cannot queue the master's check: %s", duet_strerror(rc));
		return;
	case REBUILD_REWIND:
	case REBUILD_BASEBACKUP: {
		struct rb_ctx *x = ctx_new(n);
		if (!x)
			return;
		fill_standby_config(n, &sc);
		r->percent = -1;
		r->bytes_done = r->bytes_total = 0;
		rc = r->state == REBUILD_REWIND
			 ? duet_pg_rewind(n->loop, &sc, tool_progress, tool_done, x, &r->tool)
			 : duet_pg_basebackup(n->loop, &sc, DUET_PG_BASEBACKUP_MOVE_ASIDE,
					      tool_progress, tool_done, x, &r->tool);
		if (rc) {
			r->busy = false;
			free(x);
			failed(n, false, "cannot start %s: %s",
			       r->state == REBUILD_REWIND ? "pg_rewind" : "pg_basebackup",
			       duet_strerror(rc));
		}
		return;
	}
	case REBUILD_CONFIGURING:
		if ((rc = queue(n, configure_work, configure_after)))
			failed(n, false, "cannot queue the standby settings: %s",
			       duet_strerror(rc));
		return;
	case REBUILD_STARTING:
		if (!n->cfg.act.pg_start_command[0]) {
			scopy(r->step, sizeof r->step,
			      "start PostgreSQL: [pg] start_command is not set");
			if (c->pg_known && c->pg_last.in_recovery)
				enter(n, REBUILD_WAITING_SYNC);
			return;
		}
		run_cmd(n, n->cfg.act.pg_start_command);
		return;
	case REBUILD_WAITING_SYNC:
		if (fsm_role_of(&n->fsm, n->cfg.self_id) == FSM_ROLE_SYNC_STANDBY) {
			r->done_ms = now;
			scopy(r->step, sizeof r->step, "SYNC on: a synchronous standby again");
			enter(n, REBUILD_DONE);
			duet_log(DUET_LOG_INFO,
				 "rebuild done in %" PRIu64 " ms (%s): a synchronous standby again",
				 now - r->started_ms, method_name(r->method));
			return;
		}
		if (streaming_standby(c)) {
			r->stream_since_ms = now;
			r->master_down = false;
		} else if (!r->master_checking && now >= r->master_check_at) {
			/* the deadline is judged when the look ends */
			queue_master_check(n);
		}
		if (r->master_down)
			return; /* step says so */
		snprintf(r->step, sizeof r->step, "waiting for SYNC on: PostgreSQL %s%s%s",
			 !c->pg_known             ? "does not answer"
			 : c->pg_last.in_recovery ? "is a standby, WAL receiver "
						  : "is a primary",
			 c->pg_known && c->pg_last.in_recovery
			     ? (c->pg_last.wal_receiver_status[0] ? c->pg_last.wal_receiver_status
								  : "not running")
			     : "",
			 "");
		return;
	default:
		return;
	}
}

void ctl_rebuild_close(struct node *n)
{
	struct ctl_rebuild *r = &n->ctl.rebuild;
	r->gen++;
	if (r->tool) {
		duet_pg_tool_cancel(r->tool);
		r->tool = NULL;
	}
}

void ctl_rebuild_status_fill(struct node *n, struct duet_status_ctl *s)
{
	const struct ctl_rebuild *r = &n->ctl.rebuild;
	uint64_t now = node_now_ms();
	s->rebuild.state = state_name(r->state);
	s->rebuild.method = method_name(r->method);
	s->rebuild.reason = r->reason;
	s->rebuild.step = r->step;
	s->rebuild.bytes_done = r->bytes_done;
	s->rebuild.bytes_total = r->bytes_total;
	s->rebuild.percent = r->percent;
	s->rebuild.elapsed_ms = r->started_ms ? (r->done_ms ? r->done_ms : now) - r->started_ms : 0;
	s->rebuild.state_ms = r->state_ms ? now - r->state_ms : 0;
	s->rebuild.failures = r->failures;
	s->rebuild.detail = r->detail;
	s->rebuild.error = r->error;
}
