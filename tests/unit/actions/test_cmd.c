/* SPDX-License-Identifier: MIT */
/*
 * test_cmd.c - commands with deadlines: exit codes, captured output, its
 * truncation and draining, the process-group kill on a deadline and on
 * cancel, spawn errors and the environment. Real /bin/sh processes.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "duet/actions.h"
#include "helpers.h"

struct done {
	bool called;
	int calls;
	struct duet_cmd_result r;
};

static void on_done(void *data, const struct duet_cmd_result *r)
{
	struct done *d = data;
	d->called = true;
	d->calls++;
	d->r = *r;
}

/* Runs command to its end and returns the result. */
static struct duet_cmd_result run(const char *command, const char *const *env, uint32_t timeout_ms)
{
	struct done d = {0};
	cr_assert_eq(duet_cmd_run(t_loop, command, env, timeout_ms, on_done, &d, NULL), 0);
	cr_assert(!d.called, "the callback must not run inside duet_cmd_run()");
	loop_until(&d.called, SAFETY_LIMIT_MS);
	loop_drain(SAFETY_LIMIT_MS);
	cr_assert_eq(d.calls, 1);
	return d.r;
}

static const char *describe(const struct duet_cmd_result *r)
{
	static char buf[DUET_CMD_OUTPUT_BYTES + 64];
	duet_cmd_describe(r, buf, sizeof buf);
	return buf;
}

TestSuite(cmd, .init = t_setup, .fini = t_teardown);

Test(cmd, exit_codes)
{
	struct duet_cmd_result r = run("true", NULL, 5000);
	cr_assert_eq(r.exit_status, 0);
	cr_assert_eq(r.term_signal, 0);
	cr_assert(!r.timed_out && !r.cancelled && r.spawn_error == 0);
	cr_assert_str_eq(describe(&r), "exit 0");

	r = run("exit 3", NULL, 5000);
	cr_assert_eq(r.exit_status, 3);
	cr_assert_str_eq(describe(&r), "exit 3");

	r = run("exit 255", NULL, 0);
	cr_assert_eq(r.exit_status, 255);

	/* Command not found is the shell's exit 127, not a spawn error. */
	r = run("/nonexistent/program", NULL, 5000);
	cr_assert_eq(r.exit_status, 127);
	cr_assert_eq(r.spawn_error, 0);
}

Test(cmd, output_is_captured_both_streams_in_order)
{
	struct duet_cmd_result r = run("echo hello; echo oops >&2; echo bye; exit 4", NULL, 5000);
	cr_assert_eq(r.exit_status, 4);
	cr_assert_str_eq(r.output, "hello\noops\nbye");
	cr_assert_str_eq(describe(&r), "exit 4: hello; oops; bye");

	/* Only trailing newlines are stripped. */
	r = run("printf 'a\\n\\nb\\n\\n\\n'", NULL, 5000);
	cr_assert_str_eq(r.output, "a\n\nb");
	cr_assert_str_eq(describe(&r), "exit 0");
}

Test(cmd, output_is_truncated_to_the_buffer)
{
	struct duet_cmd_result r = run("head -c 2000 /dev/zero | tr '\\0' a", NULL, 5000);
	cr_assert_eq(r.exit_status, 0);
	cr_assert_eq(strlen(r.output), DUET_CMD_OUTPUT_BYTES - 1);
	cr_assert_eq(strspn(r.output, "a"), DUET_CMD_OUTPUT_BYTES - 1);
}

Test(cmd, large_output_never_blocks_the_child)
{
	/* 4 MiB is far beyond any pipe buffer: the child finishes only if we
	 * keep reading past the captured prefix. */
	struct duet_cmd_result r =
	    run("head -c 4194304 /dev/zero | tr '\\0' x; echo done >&2", NULL, 20000);
	cr_assert(!r.timed_out, "the child blocked on a full pipe");
	cr_assert_eq(r.exit_status, 0);
	cr_assert_eq(strspn(r.output, "x"), DUET_CMD_OUTPUT_BYTES - 1);
}

Test(cmd, stdin_is_dev_null)
{
	/* cat would wait forever on an inherited terminal or pipe. */
	struct duet_cmd_result r = run("cat; echo eof", NULL, 10000);
	cr_assert(!r.timed_out);
	cr_assert_str_eq(r.output, "eof");
}

static long read_pid(const char *name)
{
	const char *text = t_read(t_path(name));
	cr_assert(text[0], "the command did not write %s before it was killed", name);
	return strtol(text, NULL, 10);
}

Test(cmd, deadline_kills_the_whole_process_group)
{
	char command[512];
	snprintf(command, sizeof command, "sleep 100 & echo $! > %s; sleep 100",
		 t_path("grandchild.pid"));
	struct duet_cmd_result r = run(command, NULL, 500);
	cr_assert(r.timed_out);
	cr_assert(!r.cancelled);
	cr_assert_eq(r.exit_status, -1);
	cr_assert_eq(r.term_signal, SIGTERM);
	cr_assert_geq(r.duration_ms, 500);
	cr_assert_str_eq(describe(&r), "timed out after 500 ms");
	long pid = read_pid("grandchild.pid");
	cr_assert(pid_dies_within(pid, 5000),
		  "the background sleep (pid %ld) survived the deadline", pid);
}

Test(cmd, sigkill_follows_when_sigterm_is_ignored)
{
	/* An ignored signal stays ignored across exec, so the background
	 * sleep ignores SIGTERM too: only the SIGKILL a second later ends
	 * them. */
	char command[512];
	snprintf(command, sizeof command, "trap '' TERM; sleep 100 & echo $! > %s; sleep 100",
		 t_path("grandchild.pid"));
	struct duet_cmd_result r = run(command, NULL, 500);
	cr_assert(r.timed_out);
	cr_assert_eq(r.term_signal, SIGKILL);
	cr_assert_geq(r.duration_ms, 500 + DUET_CMD_KILL_GRACE_MS);
	long pid = read_pid("grandchild.pid");
	cr_assert(pid_dies_within(pid, 5000), "the background sleep (pid %ld) survived SIGKILL",
		  pid);
}

struct file_wait {
	const char *path;
	bool complete;
};

static void on_dir_event(uv_fs_event_t *h, const char *name, int events, int status)
{
	struct file_wait *w = h->data;
	const char *text = t_read(w->path);
	if (text[0] && text[strlen(text) - 1] == '\n')
		w->complete = true;
}

/* Runs the loop until t_dir/name holds a complete line (inotify events). */
static void wait_for_file(const char *name)
{
	struct file_wait w = {.path = t_path(name)};
	uv_fs_event_t watch;
	uv_fs_event_init(t_loop, &watch);
	watch.data = &w;
	cr_assert_eq(uv_fs_event_start(&watch, on_dir_event, t_dir, 0), 0);
	on_dir_event(&watch, NULL, 0, 0); /* it may be there already */
	loop_until(&w.complete, SAFETY_LIMIT_MS);
	uv_close((uv_handle_t *)&watch, NULL);
	uv_run(t_loop, UV_RUN_NOWAIT); /* finishes the close: watch is on our stack */
}

Test(cmd, cancel_kills_now_and_calls_back_once)
{
	struct done d = {0};
	struct duet_cmd *c = NULL;
	char command[512];
	snprintf(command, sizeof command, "sleep 100 & echo $! > %s; sleep 100",
		 t_path("grandchild.pid"));
	cr_assert_eq(duet_cmd_run(t_loop, command, NULL, 0, on_done, &d, &c), 0);
	cr_assert_not_null(c);
	/* Cancel once the shell has started its background child: the pid
	 * file is written after `&` forks. Wait for it through the loop. */
	wait_for_file("grandchild.pid");
	duet_cmd_cancel(c);
	duet_cmd_cancel(c); /* a second cancel does nothing */
	loop_until(&d.called, SAFETY_LIMIT_MS);
	loop_drain(SAFETY_LIMIT_MS);
	cr_assert_eq(d.calls, 1);
	cr_assert(d.r.cancelled);
	cr_assert(!d.r.timed_out);
	cr_assert_eq(d.r.term_signal, SIGTERM);
	cr_assert_str_eq(describe(&d.r), "cancelled, killed by signal 15");
	long pid = read_pid("grandchild.pid");
	cr_assert(pid_dies_within(pid, 5000), "the background sleep (pid %ld) survived the cancel",
		  pid);
}

Test(cmd, spawn_error_comes_through_the_callback)
{
	struct done d = {0};
	const char *argv[] = {"/nonexistent/program", "x", NULL};
	cr_assert_eq(duet_cmd_spawn(t_loop, argv, NULL, 1000, on_done, &d, NULL), 0);
	cr_assert(!d.called);
	loop_until(&d.called, SAFETY_LIMIT_MS);
	loop_drain(SAFETY_LIMIT_MS);
	cr_assert_eq(d.calls, 1);
	cr_assert_eq(d.r.spawn_error, -ENOENT);
	cr_assert_eq(d.r.exit_status, -1);
	cr_assert_str_eq(describe(&d.r), "cannot start: No such file or directory");
}

Test(cmd, spawn_passes_arguments_unchanged)
{
	struct done d = {0};
	const char *argv[] = {"printf", "[%s]", "a b", "$HOME", "';x", NULL};
	cr_assert_eq(duet_cmd_spawn(t_loop, argv, NULL, 5000, on_done, &d, NULL), 0);
	loop_until(&d.called, SAFETY_LIMIT_MS);
	loop_drain(SAFETY_LIMIT_MS);
	cr_assert_str_eq(d.r.output, "[a b][$HOME][';x]");
}

/* duet_cmd_spawn_input: the text on stdin, then EOF (cat ends); none of
 * it on the command line. Input larger than a pipe surely holds is refused. */
Test(cmd, spawn_input_reaches_stdin_then_eof)
{
	struct done d = {0};
	const char *argv[] = {"sh", "-c", "cat; echo \"[$#]\"", NULL};
	const char *input = "ip=10.9.0.5\npassword=s3cr3t\naction=off\n";
	cr_assert_eq(duet_cmd_spawn_input(t_loop, argv, NULL, input, 5000, on_done, &d, NULL), 0);
	loop_until(&d.called, SAFETY_LIMIT_MS);
	loop_drain(SAFETY_LIMIT_MS);
	cr_assert_eq(d.r.exit_status, 0, "%s", describe(&d.r));
	cr_assert_str_eq(d.r.output, "ip=10.9.0.5\npassword=s3cr3t\naction=off\n[0]");

	static char big[DUET_CMD_INPUT_MAX + 2];
	memset(big, 'x', sizeof big - 1);
	struct done never = {0};
	cr_assert_eq(duet_cmd_spawn_input(t_loop, argv, NULL, big, 5000, on_done, &never, NULL),
		     DUET_EINVAL);
	big[DUET_CMD_INPUT_MAX] = '\0'; /* exactly the limit: taken */
	struct done full = {0};
	const char *count[] = {"wc", "-c", NULL};
	cr_assert_eq(duet_cmd_spawn_input(t_loop, count, NULL, big, 5000, on_done, &full, NULL), 0);
	loop_until(&full.called, SAFETY_LIMIT_MS);
	loop_drain(SAFETY_LIMIT_MS);
	cr_assert_eq(atoi(full.r.output), DUET_CMD_INPUT_MAX);
	cr_assert(!never.called);
}

Test(cmd, bad_arguments_are_refused_without_callback)
{
	struct done d = {0};
	const char *bad_env[] = {"NOEQUALS", NULL};
	const char *empty_key[] = {"=x", NULL};
	cr_assert_eq(duet_cmd_run(t_loop, "", NULL, 0, on_done, &d, NULL), DUET_EINVAL);
	cr_assert_eq(duet_cmd_run(t_loop, "true", NULL, 0, NULL, &d, NULL), DUET_EINVAL);
	cr_assert_eq(duet_cmd_run(t_loop, "true", bad_env, 0, on_done, &d, NULL), DUET_EINVAL);
	cr_assert_eq(duet_cmd_run(t_loop, "true", empty_key, 0, on_done, &d, NULL), DUET_EINVAL);
	const char *no_argv[] = {NULL};
	cr_assert_eq(duet_cmd_spawn(t_loop, no_argv, NULL, 0, on_done, &d, NULL), DUET_EINVAL);
	loop_drain(SAFETY_LIMIT_MS);
	cr_assert(!d.called);
}

Test(cmd, extra_env_is_visible_and_wins)
{
	cr_assert_eq(setenv("DUET_TEST_INHERITED", "from-daemon", 1), 0);
	cr_assert_eq(setenv("DUET_TEST_REPLACED", "old", 1), 0);
	const char *env[] = {"DUET_TEST_EXTRA=hello world", "DUET_TEST_REPLACED=new", NULL};
	struct duet_cmd_result r = run(
	    "echo \"$DUET_TEST_EXTRA|$DUET_TEST_INHERITED\"; env | grep -c '^DUET_TEST_REPLACED='; "
	    "echo \"$DUET_TEST_REPLACED\"",
	    env, 5000);
	cr_assert_str_eq(r.output, "hello world|from-daemon\n1\nnew");
}

Test(cmd, describe_fits_small_buffers)
{
	struct duet_cmd_result r = {.exit_status = 2};
	snprintf(r.output, sizeof r.output, "line one\nline two");
	char buf[12];
	duet_cmd_describe(&r, buf, sizeof buf);
	cr_assert_str_eq(buf, "exit 2: lin");
	char tiny[1] = {'x'};
	duet_cmd_describe(&r, tiny, sizeof tiny);
	cr_assert_eq(tiny[0], '\0');
}
