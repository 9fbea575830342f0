/* SPDX-License-Identifier: MIT */
/*
 * helpers.c - see helpers.h.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "helpers.h"

uv_loop_t *t_loop;
char t_dir[64];
static uv_loop_t loop_storage;

void t_setup(void)
{
	t_loop = &loop_storage;
	cr_assert_eq(uv_loop_init(t_loop), 0);
	snprintf(t_dir, sizeof t_dir, "/tmp/duet-actions-XXXXXX");
	cr_assert_not_null(mkdtemp(t_dir), "mkdtemp: %s", strerror(errno));
}

static void close_left_over(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

void t_teardown(void)
{
	int walked = 0;
	/* Count what the code under test left behind, then close it anyway
	 * so the process exits cleanly. */
	uv_run(t_loop, UV_RUN_NOWAIT);
	walked = uv_loop_alive(t_loop);
	uv_walk(t_loop, close_left_over, NULL);
	uv_run(t_loop, UV_RUN_DEFAULT);
	int rc = uv_loop_close(t_loop);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", t_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", t_dir);
	cr_assert_eq(walked, 0, "handles or requests left active on the loop");
	cr_assert_eq(rc, 0, "handles left open on the loop");
}

static void on_limit(uv_timer_t *t)
{
	*(bool *)t->data = true;
}

static void run_with_limit(const bool *flag, uint32_t limit_ms, const char *what)
{
	uv_timer_t limit;
	bool expired = false;
	uv_timer_init(t_loop, &limit);
	limit.data = &expired;
	uv_timer_start(&limit, on_limit, limit_ms, 0);
	uv_unref((uv_handle_t *)&limit); /* loop_drain: the limit alone keeps nothing alive */
	for (;;) {
		if (flag && *flag)
			break;
		if (expired)
			break;
		if (!uv_run(t_loop, UV_RUN_ONCE) && !flag)
			break; /* drained */
	}
	uv_close((uv_handle_t *)&limit, NULL);
	uv_run(t_loop, UV_RUN_NOWAIT);
	cr_assert(!expired, "%s: nothing happened within %u ms", what, limit_ms);
}

void loop_until(const bool *flag, uint32_t limit_ms)
{
	run_with_limit(flag, limit_ms, "waiting for a callback");
}

void loop_drain(uint32_t limit_ms)
{
	run_with_limit(NULL, limit_ms, "waiting for the loop to empty");
}

const char *t_path(const char *name)
{
	static char bufs[4][256];
	static int next;
	char *b = bufs[next++ % 4];
	snprintf(b, sizeof bufs[0], "%s/%s", t_dir, name);
	return b;
}

const char *t_write(const char *name, const char *text, unsigned mode)
{
	const char *path = t_path(name);
	FILE *fp = fopen(path, "w");
	cr_assert_not_null(fp, "cannot write %s: %s", path, strerror(errno));
	fputs(text, fp);
	cr_assert_eq(fclose(fp), 0);
	cr_assert_eq(chmod(path, mode), 0);
	return path;
}

const char *t_read(const char *path)
{
	static char bufs[2][8192];
	static int next;
	char *b = bufs[next++ % 2];
	b[0] = '\0';
	FILE *fp = fopen(path, "r");
	if (!fp)
		return b;
	size_t n = fread(b, 1, sizeof bufs[0] - 1, fp);
	b[n] = '\0';
	fclose(fp);
	return b;
}

bool pid_dies_within(long pid, int limit_ms)
{
	/* A pidfd turns readable when the process exits (zombie or reaped):
	 * an event to wait on, where /proc would race with a process that has
	 * closed its files but not yet finished exiting. */
	int fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
	if (fd < 0)
		return errno == ESRCH; /* already gone and reaped */
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int n = poll(&p, 1, limit_ms);
	close(fd);
	return n == 1;
}

const char *t_shell(const char *command)
{
	static char buf[8192];
	buf[0] = '\0';
	FILE *fp = popen(command, "r");
	cr_assert_not_null(fp, "popen %s", command);
	size_t n = fread(buf, 1, sizeof buf - 1, fp);
	buf[n] = '\0';
	pclose(fp);
	return buf;
}

void netns_setup(void)
{
	cr_assert_eq(geteuid(), 0,
		     "the FIP tests need root (netlink address changes, packet sockets in a "
		     "private network namespace); run them as root as CI does");
	cr_assert_eq(unshare(CLONE_NEWNET), 0, "unshare(CLONE_NEWNET) failed: %s", strerror(errno));
	int rc = system("ip link add v0 type veth peer name v1 && ip link set v0 up && "
			"ip link set v1 up");
	cr_assert_eq(rc, 0, "cannot create the veth pair v0/v1 (is iproute2 installed?)");
}
