/* SPDX-License-Identifier: MIT */
/*
 * pg_standby.c - pg_rewind and pg_basebackup on the loop (pg_standby.h),
 * with their progress as it comes.
 *
 * Why not duet_cmd_spawn(): it keeps only the first bytes of the output and
 * reports them at the end, while the rejoin shows progress as the copy
 * runs; and the tools must run as the postgres user. So this file has its
 * own small spawn, on the same pattern as cmd.c: the child leads its own
 * process group (UV_PROCESS_DETACHED: setsid), a deadline or a cancel
 * signals the whole group (SIGTERM, SIGKILL after a grace), stdout and
 * stderr share one pipe read until end of file (bounded by a drain limit
 * once the child exited), and the done callback runs after every handle is
 * closed.
 *
 * One operation walks through four phases:
 *   PREPARE  directory work on the threadpool (pg_standby_files.c)
 *   RUN      the tool; its output is cut into lines at '\n' and '\r'
 *            (pg_basebackup ends progress lines with '\r' on a terminal)
 *   FINISH   marker work on the threadpool, after the handles closed
 *   then the done callback, and the memory is freed.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pg_standby_internal.h"

extern char **environ;

#define READ_CHUNK_BYTES 4096
#define DRAIN_MS         500
#define MAX_ARGS         24
#define PGS_SETPRIV      "/usr/bin/setpriv" /* util-linux, essential on Debian */

enum kind { REWIND, BASEBACKUP };
enum phase { PREPARE, RUN, FINISH };

struct duet_pg_tool {
	uv_loop_t *loop;
	enum kind kind;
	enum phase phase;
	struct duet_pg_standby_config cfg;
	unsigned flags;
	duet_pg_progress_cb progress;
	duet_pg_tool_done_cb done;
	void *data;
	uint64_t start_ns;
	uv_work_t work;

	/* PREPARE results */
	int rc;
	bool skip; /* nothing to run: already done */
	struct pgs_user user;
	char moved_to[PGS_PATH_BYTES];
	char prep_err[DUET_PG_TOOL_DETAIL_BYTES];

	/* RUN */
	uv_process_t proc;
	uv_pipe_t pipe;
	uv_timer_t timer;
	bool spawned, exited, killing, timed_out, cancelled, pipe_done, finishing;
	int pending_closes;
	int exit_status, term_signal, spawn_error;
	bool copy_started;   /* rewind: files of DATA may have changed */
	bool not_rewindable; /* rewind: a message saying so was seen */
	char line[DUET_PG_TOOL_LINE_BYTES];
	size_t line_len;
	char step[DUET_PG_TOOL_LINE_BYTES];
	struct duet_pg_progress prog;
	char errors[DUET_PG_TOOL_DETAIL_BYTES]; /* the tool's error lines, "; "-joined */
	char chunk[READ_CHUNK_BYTES];
};

static const char *tool_name(const struct duet_pg_tool *t)
{
	return t->kind == REWIND ? "pg_rewind" : "pg_basebackup";
}

/* ---- progress lines -------------------------------------------------------------- */

static bool parse_u64(const char **p, uint64_t *out)
{
	const char *s = *p;
	if (*s < '0' || *s > '9')
		return false;
	uint64_t v = 0;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*p = s;
	*out = v;
	return true;
}

bool duet_pg_parse_progress(const char *line, struct duet_pg_progress *p)
{
	const char *s = line;
	uint64_t done_kb, total_kb, percent;
	while (*s == ' ')
		s++;
	if (!parse_u64(&s, &done_kb) || *s++ != '/' || !parse_u64(&s, &total_kb) ||
	    strncmp(s, " kB (", 5) != 0)
		return false;
	s += 5;
	if (!parse_u64(&s, &percent) || strncmp(s, "%)", 2) != 0 || percent > 100 ||
	    total_kb > UINT64_MAX / 1024 || done_kb > UINT64_MAX / 1024)
		return false;
	p->has_bytes = true;
	p->bytes_done = done_kb * 1024;
	p->bytes_total = total_kb * 1024;
	p->percent = (int)percent;
	return true;
}

/* Messages after which pg_rewind cannot help, whatever is tried again. */
static bool says_not_rewindable(const char *msg)
{
	static const char *const needles[] = {
	    "source and target clusters are from different systems",
	    "clusters are not compatible with this version of pg_rewind",
	    "target server needs to use either data checksums or",
	    "could not find common ancestor of the source and target cluster's timelines",
	    "could not find previous WAL record at",
	    "could not read WAL record at",
	    /* a standby that crashed: pg_rewind's crash recovery in single-user
	     * mode refuses standby.signal. Removing the signal would not do:
	     * that recovery then ends the standby's WAL with a checkpoint the
	     * master never wrote, pg_rewind finds the same timeline and nothing
	     * to do, and the standby streams on past a gap, silently missing
	     * the master's writes. A base backup is the safe copy. */
	    "standby mode is not supported by single-user servers",
	};
	for (size_t i = 0; i < sizeof needles / sizeof needles[0]; i++)
		if (strstr(msg, needles[i]))
			return true;
	return false;
}

static bool is_error_line(const char *msg)
{
	return strncmp(msg, "error:", 6) == 0 || strncmp(msg, "fatal:", 6) == 0 ||
	       strncmp(msg, "detail:", 7) == 0 || strncmp(msg, "hint:", 5) == 0 ||
	       strstr(msg, "FATAL:") || strstr(msg, "ERROR:");
}

static void keep_error(struct duet_pg_tool *t, const char *msg)
{
	size_t n = strlen(t->errors);
	if (n + 3 >= sizeof t->errors)
		return; /* the first errors are the ones that explain */
	snprintf(t->errors + n, sizeof t->errors - n, "%s%s", n ? "; " : "", msg);
}

static void on_line(struct duet_pg_tool *t, char *line)
{
	if (!line[0])
		return;
	t->prog.has_bytes = false;
	if (duet_pg_parse_progress(line, &t->prog)) {
		t->copy_started = true;
	} else {
		const char *msg = line;
		char prefix[32];
		snprintf(prefix, sizeof prefix, "%s: ", tool_name(t));
		if (strncmp(msg, prefix, strlen(prefix)) == 0)
			msg += strlen(prefix);
		while (*msg == ' ' || *msg == '\t')
			msg++;
		if (strncmp(msg, "need to copy", 12) == 0)
			t->copy_started = true;
		if (t->kind == REWIND && says_not_rewindable(msg))
			t->not_rewindable = true;
		if (is_error_line(msg))
			keep_error(t, msg);
		snprintf(t->step, sizeof t->step, "%s", msg);
	}
	if (t->progress)
		t->progress(t->data, &t->prog);
}

static void on_bytes(struct duet_pg_tool *t, const char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = buf[i];
		if (c == '\n' || c == '\r') {
			t->line[t->line_len] = '\0';
			on_line(t, t->line);
			t->line_len = 0;
		} else if (t->line_len + 1 < sizeof t->line) {
			t->line[t->line_len++] = c; /* past the limit: the rest is dropped */
		}
	}
}

/* ---- the end ------------------------------------------------------------------------ */

static int outcome(const struct duet_pg_tool *t)
{
	if (t->rc)
		return t->rc; /* PREPARE's */
	if (t->skip)
		return 0;
	if (t->spawn_error)
		return t->spawn_error;
	if (t->timed_out)
		return -ETIMEDOUT;
	if (t->cancelled)
		return -ECANCELED;
	if (t->term_signal || t->exit_status != 0)
		return t->not_rewindable ? DUET_PG_ENOTREWINDABLE : -EIO;
	return 0;
}

/* Appends a then b, cut at the end of buf (a detail line, not data). */
static void append(char *buf, size_t len, size_t *pos, const char *a, const char *b)
{
	for (const char *s = a; *s && *pos + 1 < len; s++)
		buf[(*pos)++] = *s;
	for (const char *s = b; *s && *pos + 1 < len; s++)
		buf[(*pos)++] = *s;
	buf[*pos] = '\0';
}

static void describe(const struct duet_pg_tool *t, int rc, char *buf, size_t len)
{
	double secs = (double)(uv_hrtime() - t->start_ns) / 1e9;
	const char *what = t->kind == REWIND ? "pg_rewind of" : "pg_basebackup into";
	int n;
	if (t->rc || (t->phase == PREPARE && t->prep_err[0]))
		n = snprintf(buf, len, "%s %s: %s", what, t->cfg.data_dir,
			     t->prep_err[0] ? t->prep_err : strerror(-t->rc));
	else if (t->skip)
		n = snprintf(buf, len, "%s %s: already rewound and not started since", what,
			     t->cfg.data_dir);
	else if (t->spawn_error)
		n = snprintf(buf, len, "%s %s: cannot start %s/%s: %s", what, t->cfg.data_dir,
			     t->cfg.bin_dir, tool_name(t), strerror(-t->spawn_error));
	else if (rc == -ETIMEDOUT)
		n = snprintf(buf, len, "%s %s: timed out after %u ms (process group killed)", what,
			     t->cfg.data_dir, (unsigned)t->cfg.timeout_ms);
	else if (rc == -ECANCELED && !t->spawned)
		n = snprintf(buf, len, "%s %s: cancelled before it started", what, t->cfg.data_dir);
	else if (rc == -ECANCELED)
		n = snprintf(buf, len, "%s %s: cancelled (process group killed)", what,
			     t->cfg.data_dir);
	else if (t->term_signal)
		n = snprintf(buf, len, "%s %s: killed by signal %d", what, t->cfg.data_dir,
			     t->term_signal);
	else if (rc)
		n = snprintf(buf, len, "%s %s: %sexit %d", what, t->cfg.data_dir,
			     rc == DUET_PG_ENOTREWINDABLE ? "not rewindable, " : "",
			     t->exit_status);
	else
		n = snprintf(buf, len, "%s %s from the primary: done in %.1f s", what,
			     t->cfg.data_dir, secs);
	if (n < 0 || (size_t)n >= len)
		return;
	size_t pos = (size_t)n;
	if (rc && t->errors[0] && !t->rc)
		append(buf, len, &pos, ": ", t->errors);
	if (t->moved_to[0])
		append(buf, len, &pos, "; old data moved to ", t->moved_to);
	if (t->phase == FINISH && t->prep_err[0])
		append(buf, len, &pos, "; ", t->prep_err);
}

static void after_finish(uv_work_t *w, int status)
{
	struct duet_pg_tool *t = w->data;
	int rc = outcome(t);
	if (rc == 0 && t->phase == FINISH && t->prep_err[0])
		rc = -EIO; /* the markers could not be updated: not trustworthy */
	char detail[DUET_PG_TOOL_DETAIL_BYTES];
	describe(t, rc, detail, sizeof detail);
	t->done(t->data, rc, detail);
	free(t);
}

static void finish_work(uv_work_t *w)
{
	struct duet_pg_tool *t = w->data;
	bool ok = outcome(t) == 0;
	t->prep_err[0] = '\0';
	if (t->kind == REWIND)
		pgs_finish_rewind(t->cfg.data_dir, ok, t->copy_started, t->prep_err,
				  sizeof t->prep_err);
	else
		pgs_finish_basebackup(t->cfg.data_dir, ok, t->prep_err, sizeof t->prep_err);
}

/* Every handle is closed: the markers, then the callback. */
static void to_finish(struct duet_pg_tool *t)
{
	if (t->line_len) {
		t->line[t->line_len] = '\0';
		on_line(t, t->line);
		t->line_len = 0;
	}
	t->phase = FINISH;
	if (uv_queue_work(t->loop, &t->work, finish_work, after_finish) != 0) {
		snprintf(t->prep_err, sizeof t->prep_err, "cannot queue the marker update");
		after_finish(&t->work, 0); /* from a close callback: not inside the call */
	}
}

static void on_closed(uv_handle_t *h)
{
	struct duet_pg_tool *t = h->data;
	if (--t->pending_closes > 0 || !t->finishing)
		return;
	to_finish(t);
}

static void close_handle(struct duet_pg_tool *t, uv_handle_t *h)
{
	if (uv_is_closing(h))
		return;
	t->pending_closes++;
	uv_close(h, on_closed);
}

static void close_all(struct duet_pg_tool *t)
{
	if (t->finishing)
		return;
	t->pending_closes++; /* no close callback may end us mid-way */
	t->finishing = true;
	close_handle(t, (uv_handle_t *)&t->timer);
	close_handle(t, (uv_handle_t *)&t->pipe);
	close_handle(t, (uv_handle_t *)&t->proc);
	t->pending_closes--;
}

/* ---- the child -------------------------------------------------------------------- */

static void signal_group(struct duet_pg_tool *t, int sig)
{
	if (t->proc.pid > 0)
		kill(-t->proc.pid, sig); /* the group the child leads; ESRCH: all gone */
}

static void close_pipe(struct duet_pg_tool *t)
{
	if (t->pipe_done)
		return;
	t->pipe_done = true;
	close_handle(t, (uv_handle_t *)&t->pipe);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct duet_pg_tool *t = h->data;
	*buf = uv_buf_init(t->chunk, sizeof t->chunk);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct duet_pg_tool *t = s->data;
	if (nread > 0) {
		on_bytes(t, buf->base, (size_t)nread);
		return;
	}
	if (nread == 0)
		return;
	close_pipe(t);
	if (t->exited)
		close_all(t);
}

static void on_timer(uv_timer_t *timer);

static void on_exit_cb(uv_process_t *p, int64_t exit_status, int term_signal)
{
	struct duet_pg_tool *t = p->data;
	t->exited = true;
	t->term_signal = term_signal;
	t->exit_status = term_signal ? -1 : (int)exit_status;
	if (t->killing)
		signal_group(t, SIGKILL); /* the group is condemned: stragglers go now */
	uv_timer_stop(&t->timer);
	if (t->pipe_done) {
		close_all(t);
		return;
	}
	uv_timer_start(&t->timer, on_timer, DRAIN_MS, 0);
}

static void start_kill(struct duet_pg_tool *t)
{
	t->killing = true;
	signal_group(t, SIGTERM);
	uv_timer_stop(&t->timer);
	uv_update_time(t->loop);
	uv_timer_start(&t->timer, on_timer, DUET_PG_TOOL_KILL_GRACE_MS, 0);
}

static void on_timer(uv_timer_t *timer)
{
	struct duet_pg_tool *t = timer->data;
	if (t->exited) {
		close_pipe(t); /* drain limit: a straggler holds the pipe */
		close_all(t);
	} else if (!t->killing) {
		t->timed_out = true;
		start_kill(t);
	} else {
		signal_group(t, SIGKILL);
	}
}

void duet_pg_tool_cancel(struct duet_pg_tool *t)
{
	if (!t || t->cancelled || t->phase == FINISH)
		return;
	t->cancelled = true;
	if (t->phase == RUN && t->spawned && !t->exited && !t->killing)
		start_kill(t);
	/* PREPARE: after_prepare sees the flag and does not spawn. */
}

/* environ without the variables we set, then ours (LC_ALL=C: the output
 * is parsed; HOME, USER, LOGNAME of the user the tool runs as, when that
 * is not duet's own). */
static bool dropped_var(const struct duet_pg_tool *t, const char *kv)
{
	static const char *const locale[] = {"LC_ALL=", "LANG=", "LC_MESSAGES=", "LANGUAGE="};
	static const char *const user[] = {"HOME=", "USER=", "LOGNAME="};
	for (size_t j = 0; j < sizeof locale / sizeof locale[0]; j++)
		if (strncmp(kv, locale[j], strlen(locale[j])) == 0)
			return true;
	for (size_t j = 0; t->user.switch_user && j < sizeof user / sizeof user[0]; j++)
		if (strncmp(kv, user[j], strlen(user[j])) == 0)
			return true;
	return false;
}

static char **build_env(const struct duet_pg_tool *t, char extra[4][300])
{
	size_t n_env = 0;
	while (environ && environ[n_env])
		n_env++;
	char **env = calloc(n_env + 5, sizeof *env);
	if (!env)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < n_env; i++)
		if (!dropped_var(t, environ[i]))
			env[k++] = environ[i];
	snprintf(extra[0], 300, "LC_ALL=C");
	env[k++] = extra[0];
	if (t->user.switch_user) {
		snprintf(extra[1], 300, "HOME=%s", t->user.home);
		snprintf(extra[2], 300, "USER=%s", t->user.name);
		snprintf(extra[3], 300, "LOGNAME=%s", t->user.name);
		for (int i = 1; i < 4; i++)
			env[k++] = extra[i];
	}
	env[k] = NULL;
	return env;
}

/* Spawns the tool. Failures after the handles exist go through close_all
 * (spawn_error), like cmd.c. */
static void spawn_tool(struct duet_pg_tool *t)
{
	char file[PGS_PATH_BYTES], target[PGS_PATH_BYTES + 20], source[600],
	    conf[PGS_PATH_BYTES + 20];
	snprintf(file, sizeof file, "%s/%s", t->cfg.bin_dir, tool_name(t));
	const char *args[MAX_ARGS];
	int a = 0;
	/* the tool dies with duet: a daemon killed mid-copy must not leave a
	 * pg_basebackup writing into the directory the next run starts over in
	 * (setpriv sets PR_SET_PDEATHSIG, which the exec keeps) */
	bool pdeath = access(PGS_SETPRIV, X_OK) == 0;
	if (pdeath) {
		args[a++] = PGS_SETPRIV;
		args[a++] = "--pdeathsig";
		args[a++] = "KILL";
		args[a++] = "--";
	}
	args[a++] = file;
	if (t->kind == REWIND) {
		snprintf(target, sizeof target, "--target-pgdata=%s", t->cfg.data_dir);
		snprintf(source, sizeof source, "--source-server=%s", t->cfg.primary_conninfo);
		args[a++] = target;
		args[a++] = source;
		args[a++] = "--progress";
		if (t->cfg.config_file[0]) {
			snprintf(conf, sizeof conf, "--config-file=%s", t->cfg.config_file);
			args[a++] = conf;
		}
	} else {
		const char *const rest[] = {
		    "-D",   t->cfg.data_dir, "-d", t->cfg.primary_conninfo, "-X", "stream", "-c",
		    "fast", "--progress",    "-v", "--no-password"};
		for (size_t i = 0; i < sizeof rest / sizeof rest[0]; i++)
			args[a++] = rest[i];
	}
	args[a] = NULL;

	t->phase = RUN;
	t->proc.data = t->pipe.data = t->timer.data = t;
	uv_timer_init(t->loop, &t->timer);
	uv_pipe_init(t->loop, &t->pipe, 0);
	char extra[4][300];
	char **env = build_env(t, extra);
	uv_file fds[2];
	/* under setpriv a missing tool would be setpriv's exit status 127:
	 * report it as the spawn error it is */
	int rc = !env ? UV_ENOMEM : access(file, X_OK) != 0 ? -errno : 0;
	if (rc == 0)
		rc = uv_pipe(fds, UV_NONBLOCK_PIPE, 0);
	if (rc == 0 && (rc = uv_pipe_open(&t->pipe, fds[0])) != 0) {
		close(fds[0]);
		close(fds[1]);
	}
	if (rc) {
		free(env);
		t->spawn_error = rc;
		t->exited = t->pipe_done = t->finishing = true;
		t->pending_closes++;
		close_handle(t, (uv_handle_t *)&t->timer);
		close_handle(t, (uv_handle_t *)&t->pipe);
		t->pending_closes--;
		return;
	}
	uv_stdio_container_t stdio[3];
	stdio[0].flags = UV_IGNORE;
	stdio[1].flags = UV_INHERIT_FD;
	stdio[1].data.fd = fds[1];
	stdio[2].flags = UV_INHERIT_FD;
	stdio[2].data.fd = fds[1];
	uv_process_options_t opt = {
	    .exit_cb = on_exit_cb,
	    .file = args[0],
	    .args = (char **)args,
	    .env = env,
	    .cwd = "/", /* os_user may not be allowed into duet's directory */
	    .flags = UV_PROCESS_DETACHED,
	    .stdio_count = 3,
	    .stdio = stdio,
	};
	if (t->user.switch_user) {
		opt.flags |= UV_PROCESS_SETUID | UV_PROCESS_SETGID;
		opt.uid = t->user.uid;
		opt.gid = t->user.gid;
	}
	uv_update_time(t->loop);
	rc = uv_spawn(t->loop, &t->proc, &opt);
	close(fds[1]);
	free(env);
	if (rc) {
		t->spawn_error = rc;
		t->exited = true;
		close_pipe(t);
		close_all(t);
		return;
	}
	t->spawned = true;
	uv_read_start((uv_stream_t *)&t->pipe, on_alloc, on_read);
	uv_timer_start(&t->timer, on_timer, t->cfg.timeout_ms, 0);
}

/* ---- PREPARE ------------------------------------------------------------------------ */

static void prepare_work(uv_work_t *w)
{
	struct duet_pg_tool *t = w->data;
	char *err = t->prep_err;
	size_t len = sizeof t->prep_err;
	t->rc = pgs_user_lookup(t->cfg.os_user, &t->user, err, len);
	if (t->rc == 0)
		t->rc = pgs_check_stopped(t->cfg.data_dir, err, len);
	if (t->rc)
		return;
	if (t->kind == REWIND)
		t->rc = pgs_prepare_rewind(t->cfg.data_dir, &t->skip, err, len);
	else
		t->rc = pgs_prepare_basebackup(t->cfg.data_dir, &t->user,
					       t->flags & DUET_PG_BASEBACKUP_MOVE_ASIDE,
					       t->moved_to, sizeof t->moved_to, err, len);
}

static void after_prepare(uv_work_t *w, int status)
{
	struct duet_pg_tool *t = w->data;
	if (t->rc || t->skip) {
		after_finish(w, 0); /* nothing was started: nothing to undo */
		return;
	}
	if (t->cancelled) {
		/* The markers were set up for a tool that will not run: FINISH
		 * takes them back (a failure before any copy). */
		t->phase = FINISH;
		to_finish(t);
		return;
	}
	spawn_tool(t);
}

static int start(uv_loop_t *loop, enum kind kind, const struct duet_pg_standby_config *cfg,
		 unsigned flags, duet_pg_progress_cb progress, duet_pg_tool_done_cb done,
		 void *data, struct duet_pg_tool **out)
{
	if (!loop || !done || (flags & ~DUET_PG_BASEBACKUP_MOVE_ASIDE))
		return DUET_EINVAL;
	struct duet_pg_tool *t = calloc(1, sizeof *t);
	if (!t)
		return DUET_ENOMEM;
	int rc = pgs_config_resolve(cfg, &t->cfg);
	if (rc) {
		free(t);
		return rc;
	}
	t->loop = loop;
	t->kind = kind;
	t->phase = PREPARE;
	t->flags = flags;
	t->progress = progress;
	t->done = done;
	t->data = data;
	t->start_ns = uv_hrtime();
	t->exit_status = -1;
	t->prog.tool = tool_name(t);
	t->prog.step = t->step;
	t->prog.percent = -1;
	t->work.data = t;
	rc = uv_queue_work(loop, &t->work, prepare_work, after_prepare);
	if (rc) {
		free(t);
		return rc == UV_ENOMEM ? DUET_ENOMEM : rc;
	}
	if (out)
		*out = t;
	return 0;
}

int duet_pg_rewind(uv_loop_t *loop, const struct duet_pg_standby_config *cfg,
		   duet_pg_progress_cb progress, duet_pg_tool_done_cb done, void *data,
		   struct duet_pg_tool **out)
{
	return start(loop, REWIND, cfg, 0, progress, done, data, out);
}

int duet_pg_basebackup(uv_loop_t *loop, const struct duet_pg_standby_config *cfg, unsigned flags,
		       duet_pg_progress_cb progress, duet_pg_tool_done_cb done, void *data,
		       struct duet_pg_tool **out)
{
	return start(loop, BASEBACKUP, cfg, flags, progress, done, data, out);
}
