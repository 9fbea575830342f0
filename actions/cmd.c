/* SPDX-License-Identifier: MIT */
/*
 * cmd.c - external commands with deadlines (actions.h, "Commands").
 *
 * Every action that leaves the process (a cloud FIP call, fencing, the
 * manager's scripts) is a command that may hang, so each one is bounded:
 * the child gets its own session (UV_PROCESS_DETACHED calls setsid), which
 * makes its pid the id of a process group holding everything it forks; a
 * deadline or a cancel signals that whole group (kill(-pid)), SIGTERM
 * first and SIGKILL after DUET_CMD_KILL_GRACE_MS.
 *
 * The child's stdin is /dev/null, or, for duet_cmd_spawn_input(), the read
 * end of a pipe that already holds the whole input (at most
 * DUET_CMD_INPUT_MAX bytes, what a pipe holds at the least, so it is
 * written at once) and whose write end is closed: the child reads it, then EOF.
 *
 * The child's stdout and stderr are the write end of one pipe (made with
 * uv_pipe, so both streams interleave in the order written), which we read
 * to the end even past the captured prefix: a child writing a lot never
 * blocks on a full pipe.
 *
 * Three handles (process, pipe, timer) live in one allocation. The caller's
 * callback runs from the close callback of the last of them, so when it
 * runs nothing of ours is left on the loop, and the memory is freed right
 * after it returns. A spawn failure takes the same path (the handles that
 * were set up are closed), which is why the callback is never called from
 * inside duet_cmd_run().
 *
 * The one timer serves three phases in turn: the deadline, the kill grace
 * (SIGTERM sent, SIGKILL due) and, once the process has exited, the drain
 * limit for output still held open by a straggler.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "duet/actions.h"

extern char **environ;

#define READ_CHUNK_BYTES 4096

struct duet_cmd {
	uv_loop_t *loop;
	uv_process_t proc;
	uv_pipe_t pipe;
	uv_timer_t timer;
	duet_cmd_cb cb;
	void *data;
	uint64_t start_ns;
	bool exited;        /* exit_cb came, or the spawn failed */
	bool killing;       /* SIGTERM sent to the group (deadline or cancel) */
	bool pipe_done;     /* the pipe is closed or closing */
	bool finishing;     /* every handle has been handed to uv_close */
	int pending_closes; /* close callbacks still to come */
	size_t out_len;
	struct duet_cmd_result res;
	char chunk[READ_CHUNK_BYTES];
};

static void on_timer(uv_timer_t *t);

static void on_closed(uv_handle_t *h)
{
	struct duet_cmd *c = h->data;
	if (--c->pending_closes > 0 || !c->finishing)
		return;
	struct duet_cmd_result *r = &c->res;
	r->duration_ms = (uv_hrtime() - c->start_ns) / 1000000u;
	r->output[c->out_len] = '\0';
	while (c->out_len > 0 &&
	       (r->output[c->out_len - 1] == '\n' || r->output[c->out_len - 1] == '\r'))
		r->output[--c->out_len] = '\0';
	c->cb(c->data, r);
	free(c);
}

static void close_handle(struct duet_cmd *c, uv_handle_t *h)
{
	if (uv_is_closing(h))
		return;
	c->pending_closes++;
	uv_close(h, on_closed);
}

/* The command is over as far as we care: close what is left. */
static void finish(struct duet_cmd *c)
{
	if (c->finishing)
		return;
	c->pending_closes++; /* hold: no close callback may end us mid-way */
	c->finishing = true;
	close_handle(c, (uv_handle_t *)&c->timer);
	close_handle(c, (uv_handle_t *)&c->pipe);
	close_handle(c, (uv_handle_t *)&c->proc);
	c->pending_closes--;
	/* At least the timer's close callback is still to come. */
}

static void signal_group(struct duet_cmd *c, int sig)
{
	/* Negative pid: the whole process group the child leads. The group id
	 * stays reserved while any member lives, so this cannot hit a stranger
	 * while there is something of ours to kill; ESRCH means all are gone. */
	if (c->proc.pid > 0)
		kill(-c->proc.pid, sig);
}

static void close_pipe(struct duet_cmd *c)
{
	if (c->pipe_done)
		return;
	c->pipe_done = true;
	close_handle(c, (uv_handle_t *)&c->pipe);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct duet_cmd *c = h->data;
	*buf = uv_buf_init(c->chunk, sizeof c->chunk);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct duet_cmd *c = s->data;
	if (nread > 0) {
		size_t room = sizeof c->res.output - 1 - c->out_len;
		size_t n = (size_t)nread < room ? (size_t)nread : room;
		memcpy(c->res.output + c->out_len, buf->base, n);
		c->out_len += n; /* the rest is read and dropped on purpose */
		return;
	}
	if (nread == 0)
		return; /* EAGAIN */
	/* EOF (every writer is gone) or a read error: nothing more to get. */
	close_pipe(c);
	if (c->exited)
		finish(c);
}

static void on_child_exit(uv_process_t *p, int64_t exit_status, int term_signal)
{
	struct duet_cmd *c = p->data;
	c->exited = true;
	c->res.term_signal = term_signal;
	c->res.exit_status = term_signal ? -1 : (int)exit_status;
	if (c->killing)
		signal_group(c, SIGKILL); /* stragglers go now; the group is condemned */
	uv_timer_stop(&c->timer);
	if (c->pipe_done) {
		finish(c);
		return;
	}
	uv_timer_start(&c->timer, on_timer, DUET_CMD_DRAIN_MS, 0);
}

static void on_timer(uv_timer_t *t)
{
	struct duet_cmd *c = t->data;
	if (c->exited) {
		/* Drain limit: someone the command left behind holds the pipe. */
		close_pipe(c);
		finish(c);
		return;
	}
	if (!c->killing) {
		c->res.timed_out = true;
		c->killing = true;
		signal_group(c, SIGTERM);
		uv_timer_start(&c->timer, on_timer, DUET_CMD_KILL_GRACE_MS, 0);
		return;
	}
	signal_group(c, SIGKILL);
	/* Nothing more to do but wait for exit_cb (SIGKILL cannot be caught). */
}

void duet_cmd_cancel(struct duet_cmd *c)
{
	if (!c || c->exited || c->killing)
		return;
	c->res.cancelled = true;
	c->killing = true;
	signal_group(c, SIGTERM);
	uv_timer_stop(&c->timer);
	uv_update_time(c->loop); /* called from anywhere: the loop's clock may be stale */
	uv_timer_start(&c->timer, on_timer, DUET_CMD_KILL_GRACE_MS, 0);
}

/* Returns the length of the "KEY=" part including '=', 0 if malformed. */
static size_t env_key_len(const char *kv)
{
	const char *eq = strchr(kv, '=');
	return eq && eq != kv ? (size_t)(eq - kv) + 1 : 0;
}

/*
 * environ plus extra, extra winning: the daemon's variables of the same
 * name are left out, so the child sees one value whatever getenv() it has.
 * Only the pointer array is allocated; the strings are used during
 * uv_spawn() only, which copies nothing but needs them until it returns.
 */
static int build_env(const char *const *extra, char ***out)
{
	*out = NULL;
	if (!extra)
		return 0;
	size_t n_extra = 0;
	for (; extra[n_extra]; n_extra++) {
		if (n_extra >= DUET_CMD_MAX_EXTRA_ENV || !env_key_len(extra[n_extra]))
			return DUET_EINVAL;
	}
	size_t n_env = 0;
	while (environ && environ[n_env])
		n_env++;
	char **env = calloc(n_env + n_extra + 1, sizeof *env);
	if (!env)
		return DUET_ENOMEM;
	size_t k = 0;
	for (size_t i = 0; i < n_env; i++) {
		bool replaced = false;
		for (size_t j = 0; j < n_extra && !replaced; j++) {
			size_t kl = env_key_len(extra[j]);
			replaced = strncmp(environ[i], extra[j], kl) == 0;
		}
		if (!replaced)
			env[k++] = environ[i];
	}
	for (size_t j = 0; j < n_extra; j++)
		env[k++] = (char *)extra[j];
	env[k] = NULL;
	*out = env;
	return 0;
}

/* Sets up handles and spawns. Errors after the allocation are reported
 * through the callback (spawn_error), with every handle closed. */
/* A pipe holding input, its write end closed: *fd is the read end
 * (close-on-exec; the child gets a copy through stdio). */
static int input_pipe(const char *input, uv_file *fd)
{
	uv_file fds[2];
	/* the write end does not block: input that does not fit fails */
	int rc = uv_pipe(fds, 0, UV_NONBLOCK_PIPE);
	if (rc)
		return rc;
	size_t len = strlen(input), done = 0;
	while (done < len) {
		ssize_t n = write(fds[1], input + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			close(fds[0]);
			close(fds[1]);
			return rc;
		}
		done += (size_t)n;
	}
	close(fds[1]);
	*fd = fds[0];
	return 0;
}

static int start(uv_loop_t *loop, const char *file, char **args, const char *const *extra_env,
		 const char *input, uint32_t timeout_ms, duet_cmd_cb cb, void *data,
		 struct duet_cmd **out)
{
	char **env;
	int rc = build_env(extra_env, &env);
	if (rc)
		return rc;
	struct duet_cmd *c = calloc(1, sizeof *c);
	if (!c) {
		free(env);
		return DUET_ENOMEM;
	}
	c->loop = loop;
	c->cb = cb;
	c->data = data;
	c->start_ns = uv_hrtime();
	c->res.exit_status = -1;
	c->res.timeout_ms = timeout_ms;
	c->proc.data = c->pipe.data = c->timer.data = c;
	uv_timer_init(loop, &c->timer);
	uv_pipe_init(loop, &c->pipe, 0);

	uv_file fds[2], in_fd = -1;
	rc = input ? input_pipe(input, &in_fd) : 0;
	if (rc == 0) {
		rc = uv_pipe(fds, UV_NONBLOCK_PIPE, 0); /* both ends close-on-exec */
		if (rc && in_fd >= 0)
			close(in_fd);
	}
	if (rc == 0) {
		rc = uv_pipe_open(&c->pipe, fds[0]);
		if (rc) {
			close(fds[0]);
			close(fds[1]);
			if (in_fd >= 0)
				close(in_fd);
		}
	}
	if (rc) {
		/* No child and no process handle: close what exists. */
		free(env);
		c->res.spawn_error = rc;
		c->exited = c->pipe_done = true;
		c->finishing = true;
		close_handle(c, (uv_handle_t *)&c->timer);
		close_handle(c, (uv_handle_t *)&c->pipe);
		if (out)
			*out = c;
		return 0;
	}

	uv_stdio_container_t stdio[3];
	stdio[0].flags = UV_IGNORE; /* libuv gives the child /dev/null */
	if (in_fd >= 0) {
		stdio[0].flags = UV_INHERIT_FD;
		stdio[0].data.fd = in_fd;
	}
	stdio[1].flags = UV_INHERIT_FD;
	stdio[1].data.fd = fds[1];
	stdio[2].flags = UV_INHERIT_FD;
	stdio[2].data.fd = fds[1];
	uv_process_options_t opt = {
	    .exit_cb = on_child_exit,
	    .file = file,
	    .args = args,
	    .env = env,
	    .flags = UV_PROCESS_DETACHED,
	    .stdio_count = 3,
	    .stdio = stdio,
	};
	rc = uv_spawn(loop, &c->proc, &opt);
	close(fds[1]); /* the child has its copy; EOF comes when it and its kin close theirs */
	if (in_fd >= 0)
		close(in_fd);
	free(env);
	if (out)
		*out = c;
	if (rc) {
		/* uv_spawn initialised the process handle even so: it must be closed. */
		c->res.spawn_error = rc;
		c->exited = true;
		close_pipe(c);
		finish(c);
		return 0;
	}
	uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
	if (timeout_ms) {
		/* The loop's clock was read when this iteration began, maybe long
		 * ago: without a fresh reading the deadline would come early. */
		uv_update_time(loop);
		uv_timer_start(&c->timer, on_timer, timeout_ms, 0);
	}
	return 0;
}

int duet_cmd_run(uv_loop_t *loop, const char *command, const char *const *extra_env,
		 uint32_t timeout_ms, duet_cmd_cb cb, void *data, struct duet_cmd **out)
{
	if (!loop || !command || !command[0] || !cb)
		return DUET_EINVAL;
	char *args[] = {"/bin/sh", "-c", (char *)command, NULL};
	return start(loop, "/bin/sh", args, extra_env, NULL, timeout_ms, cb, data, out);
}

int duet_cmd_spawn(uv_loop_t *loop, const char *const *argv, const char *const *extra_env,
		   uint32_t timeout_ms, duet_cmd_cb cb, void *data, struct duet_cmd **out)
{
	if (!loop || !argv || !argv[0] || !argv[0][0] || !cb)
		return DUET_EINVAL;
	/* libuv's args are char ** but are only read (handed to execvp). */
	return start(loop, argv[0], (char **)argv, extra_env, NULL, timeout_ms, cb, data, out);
}

int duet_cmd_spawn_input(uv_loop_t *loop, const char *const *argv, const char *const *extra_env,
			 const char *input, uint32_t timeout_ms, duet_cmd_cb cb, void *data,
			 struct duet_cmd **out)
{
	if (!loop || !argv || !argv[0] || !argv[0][0] || !cb || !input ||
	    strlen(input) > DUET_CMD_INPUT_MAX)
		return DUET_EINVAL;
	return start(loop, argv[0], (char **)argv, extra_env, input, timeout_ms, cb, data, out);
}

/* Appends src to buf at *pos with newlines as "; " (one line for logs). */
static void append_one_line(char *buf, size_t len, size_t *pos, const char *src)
{
	for (; *src && *pos + 1 < len; src++) {
		if (*src == '\r')
			continue;
		if (*src == '\n') {
			if (*pos + 3 > len)
				break;
			buf[(*pos)++] = ';';
			buf[(*pos)++] = ' ';
			continue;
		}
		buf[(*pos)++] = *src;
	}
	buf[*pos] = '\0';
}

void duet_cmd_describe(const struct duet_cmd_result *r, char *buf, size_t len)
{
	if (len == 0)
		return;
	int n;
	if (r->spawn_error)
		n = snprintf(buf, len, "cannot start: %s", strerror(-r->spawn_error));
	else if (r->timed_out)
		n = snprintf(buf, len, "timed out after %u ms", (unsigned)r->timeout_ms);
	else if (r->term_signal)
		n = snprintf(buf, len, "%skilled by signal %d", r->cancelled ? "cancelled, " : "",
			     r->term_signal);
	else
		n = snprintf(buf, len, "exit %d", r->exit_status);
	if (n < 0 || (size_t)n >= len)
		return;
	bool success = !r->spawn_error && !r->timed_out && !r->term_signal && r->exit_status == 0;
	if (success || !r->output[0] || (size_t)n + 3 > len)
		return;
	size_t pos = (size_t)n;
	buf[pos++] = ':';
	buf[pos++] = ' ';
	append_one_line(buf, len, &pos, r->output);
}
