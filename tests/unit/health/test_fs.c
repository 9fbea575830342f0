/* SPDX-License-Identifier: MIT */
/*
 * test_fs.c - the fs probe on real filesystems: a temp dir, a planted
 * symlink and FIFO, a read-only tmpfs, a full tmpfs, a missing directory,
 * and a hung filesystem (ext4 on a loop device, frozen with FIFREEZE: the
 * probe's work really blocks in the kernel).
 *
 * Mounts happen in a private mount namespace (hx_private_mounts), so they
 * vanish with the test's process. The frozen filesystem is the one risk to
 * the machine: a worker blocked on it keeps the process from exiting, so a
 * watchdog child thaws it when the test's main thread dies (PDEATHSIG: exit,
 * SIGKILL, or a crash, the process being made non-dumpable) or when the
 * test lets it go; the suite's fini thaws it too.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "fixture.h"

#ifndef FIFREEZE
#define FIFREEZE _IOWR('X', 119, int)
#define FITHAW   _IOWR('X', 120, int)
#endif

static char dir[256];      /* the test's temp dir (a mount point in some tests) */
static bool mounted;       /* something is mounted on dir */
static int frozen_fd = -1; /* open on a frozen mount */
static int watchdog_pipe = -1;
static pid_t watchdog_pid = -1;

static void thaw(void)
{
	if (frozen_fd >= 0)
		ioctl(frozen_fd, FITHAW, 0);
}

static void fs_fini(void)
{
	thaw(); /* first: a blocked worker would keep teardown waiting */
	hx_teardown();
	if (watchdog_pid > 0) {
		close(watchdog_pipe);
		waitpid(watchdog_pid, NULL, 0);
	}
	if (frozen_fd >= 0)
		close(frozen_fd);
	if (mounted)
		umount2(dir, MNT_DETACH);
	if (dir[0])
		rmdir(dir);
}

static void fs_init(void)
{
	hx_setup();
	dir[0] = '\0';
	mounted = false;
	frozen_fd = watchdog_pipe = -1;
	watchdog_pid = -1;
}

TestSuite(health_fs, .init = fs_init, .fini = fs_fini, .timeout = 120);

/* Deadlines far beyond any disk: these tests are about errors, not speed
 * (except the hung one, which sets its own). */
static void add_fs_check(const char *path, uint32_t interval_ms, uint32_t timeout_ms)
{
	if (!hx_set)
		hx_set_new();
	struct duet_health_check_config c = hx_config("fs", interval_ms, timeout_ms);
	c.critical = true;
	cr_assert_eq(duet_health_add_fs(hx_set, &c, path), 0, "add_fs %s", path);
	cr_assert_eq(duet_health_start(hx_set), 0);
}

static void assert_detail_has(const char *text)
{
	const char *d = hx_status("fs").detail;
	cr_assert(strstr(d, text), "detail '%s' lacks '%s'", d, text);
}

static bool probe_file_exists(void)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, DUET_HEALTH_FS_PROBE_FILE);
	struct stat st;
	return lstat(path, &st) == 0;
}

Test(health_fs, ok_on_temp_dir_and_leaves_nothing)
{
	hx_tempdir(dir, sizeof(dir));
	add_fs_check(dir, 10, 60000);
	hx_run_until_state("fs", DUET_HEALTH_OK);
	assert_detail_has(dir);
	assert_detail_has("wrote and synced 4096 bytes");
	hx_close_set();
	cr_assert(!probe_file_exists(), "the probe file was left behind");
}

Test(health_fs, stale_symlink_and_fifo_are_replaced_not_followed)
{
	hx_tempdir(dir, sizeof(dir));
	char target[512], link[512];
	snprintf(target, sizeof(target), "%s/precious", dir);
	snprintf(link, sizeof(link), "%s/%s", dir, DUET_HEALTH_FS_PROBE_FILE);
	FILE *f = fopen(target, "w");
	cr_assert_not_null(f);
	fputs("precious", f);
	fclose(f);
	cr_assert_eq(symlink(target, link), 0);
	add_fs_check(dir, 10, 60000);
	hx_run_until_state("fs", DUET_HEALTH_OK);
	hx_close_set();
	struct stat st;
	cr_assert_eq(stat(target, &st), 0);
	cr_assert_eq(st.st_size, 8, "the symlink's target was written through");

	/* A FIFO would block open() for writing for ever. */
	cr_assert_eq(mkfifo(link, 0600), 0);
	hx_set = NULL;
	add_fs_check(dir, 10, 60000);
	hx_run_until_state("fs", DUET_HEALTH_OK);
	hx_close_set();
	cr_assert(!probe_file_exists());
	unlink(target);
}

Test(health_fs, missing_directory_fails_naming_it)
{
	char missing[300];
	hx_tempdir(dir, sizeof(dir));
	snprintf(missing, sizeof(missing), "%s/not/there", dir);
	add_fs_check(missing, 10, 60000);
	hx_run_until_state("fs", DUET_HEALTH_FAILING);
	assert_detail_has(missing);
	assert_detail_has("No such file or directory");
	const struct hx_transition *t[4];
	cr_assert_eq(hx_transitions_of("fs", t, 4), 1);
	cr_assert(strstr(t[0]->detail, missing), "transition detail: %s", t[0]->detail);
	cr_assert(t[0]->critical);
}

static void mount_small_tmpfs(void)
{
	hx_private_mounts();
	hx_tempdir(dir, sizeof(dir));
	cr_assert_eq(mount("duet-health", dir, "tmpfs", 0, "size=64k,mode=0700"), 0,
		     "mount tmpfs on %s: %s", dir, strerror(errno));
	mounted = true;
}

Test(health_fs, read_only_filesystem_fails_then_recovers)
{
	mount_small_tmpfs();
	cr_assert_eq(mount(NULL, dir, NULL, MS_REMOUNT | MS_RDONLY, NULL), 0,
		     "remount %s read-only: %s", dir, strerror(errno));
	add_fs_check(dir, 10, 60000);
	hx_run_until_state("fs", DUET_HEALTH_FAILING);
	assert_detail_has(dir);
	assert_detail_has("Read-only file system");

	cr_assert_eq(mount(NULL, dir, NULL, MS_REMOUNT, "size=64k"), 0, "remount rw: %s",
		     strerror(errno));
	hx_run_until_state("fs", DUET_HEALTH_OK);
}

Test(health_fs, full_filesystem_fails_then_recovers)
{
	mount_small_tmpfs();
	char filler[512];
	snprintf(filler, sizeof(filler), "%s/filler", dir);
	int fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	static const char block[4096];
	int err = 0;
	for (int i = 0; i < 1000 && !err; i++)
		if (write(fd, block, sizeof(block)) < 0)
			err = errno;
	close(fd);
	cr_assert_eq(err, ENOSPC, "filling the 64k tmpfs: %s", strerror(err));

	add_fs_check(dir, 10, 60000);
	hx_run_until_state("fs", DUET_HEALTH_FAILING);
	assert_detail_has(dir);
	assert_detail_has("No space left on device");

	cr_assert_eq(unlink(filler), 0);
	hx_run_until_state("fs", DUET_HEALTH_OK);
}

static void watchdog_wake(int sig)
{
}

/* A child that thaws the frozen mount when the pipe closes or when this
 * process's main thread dies (a blocked worker would keep the pipe open).
 * The child makes no Criterion call: an assertion reports to the runner,
 * and a forked copy doing that blocks for ever. */
static void watchdog_start(void)
{
	/* A crash that dumps core would wait for the blocked worker for ever
	 * (the kernel stops every thread first) and the main thread would
	 * never die; a process that is not dumpable just dies. */
	cr_assert_eq(prctl(PR_SET_DUMPABLE, 0), 0);
	int p[2];
	cr_assert_eq(pipe(p), 0);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		close(p[1]);
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = watchdog_wake; /* no SA_RESTART: read() returns */
		sigaction(SIGUSR1, &sa, NULL);
		prctl(PR_SET_PDEATHSIG, SIGUSR1);
		char c;
		if (getppid() == parent)
			(void)!read(p[0], &c, 1);
		ioctl(frozen_fd, FITHAW, 0);
		_exit(0);
	}
	close(p[0]);
	cr_assert_neq(pid, -1, "fork: %s", strerror(errno));
	watchdog_pipe = p[1];
	watchdog_pid = pid;
}

static void freeze(const char *mnt)
{
	if (frozen_fd < 0) {
		frozen_fd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		cr_assert_geq(frozen_fd, 0, "open %s: %s", mnt, strerror(errno));
		watchdog_start();
	}
	cr_assert_eq(ioctl(frozen_fd, FIFREEZE, 0), 0, "FIFREEZE %s: %s", mnt, strerror(errno));
}

struct timeouts_wait {
	uint64_t timeouts;
};

static bool timeouts_reached(void *arg)
{
	const struct timeouts_wait *w = arg;
	return hx_status("fs").timeouts >= w->timeouts;
}

static bool late_answer_came(void *arg)
{
	return hx_status("fs").late_answers >= *(uint64_t *)arg;
}

Test(health_fs, hung_filesystem_holds_one_worker_and_close_waits)
{
	hx_private_mounts();
	hx_tempdir(dir, sizeof(dir));
	cr_assert_eq(mount("duet-health", dir, "tmpfs", 0, "size=16m,mode=0700"), 0,
		     "mount tmpfs: %s", strerror(errno));
	mounted = true;
	char mnt[300];
	snprintf(mnt, sizeof(mnt), "%s/mnt", dir);
	cr_assert_eq(mkdir(mnt, 0700), 0);
	hx_sh("truncate -s 8M %s/img && mkfs.ext4 -q -F %s/img >/dev/null 2>&1 && "
	      "mount -o loop %s/img %s",
	      dir, dir, dir, mnt);

	/* timeout 100 ms: a slow disk may fail some probes, which only delays
	 * the first OK; nothing below depends on speed. */
	add_fs_check(mnt, 20, 100);
	hx_run_until_state("fs", DUET_HEALTH_OK);

	freeze(mnt);
	uint64_t probes_at_freeze = hx_status("fs").probes;
	hx_run_until_state("fs", DUET_HEALTH_FAILING);
	struct timeouts_wait w = {hx_status("fs").timeouts + 5};
	bool ticked = hx_run_until(timeouts_reached, &w, HX_GUARD_MS);
	struct duet_health_status st = hx_status("fs");
	thaw(); /* before any assertion: a failed one must not leave it frozen */
	cr_assert(ticked, "ticks stopped counting failures");
	cr_assert_leq(st.probes, probes_at_freeze + 1,
		      "a second work request was queued for the hung directory");
	cr_assert(st.in_flight);
	cr_assert(strstr(st.detail, "no answer within 100 ms"), "detail: %s", st.detail);

	/* The blocked work returns; its answer is late and ignored. */
	uint64_t late = st.late_answers + 1;
	cr_assert(hx_run_until(late_answer_came, &late, HX_GUARD_MS));
	hx_run_until_state("fs", DUET_HEALTH_OK);

	/* Close while the work is blocked: closed() waits for it. */
	freeze(mnt);
	w.timeouts = hx_status("fs").timeouts + 2;
	ticked = hx_run_until(timeouts_reached, &w, HX_GUARD_MS);
	bool in_flight = hx_status("fs").in_flight;
	hx_close_set_nowait();
	for (int i = 0; i < 5; i++)
		uv_run(hx_loop, UV_RUN_NOWAIT);
	bool closed_while_frozen = hx_set_closed;
	thaw();
	cr_assert(ticked && in_flight, "the probe did not hang on the frozen filesystem");
	cr_assert(!closed_while_frozen, "the set was freed while its work was blocked");
	cr_assert(hx_run_until(NULL, &hx_set_closed, HX_GUARD_MS), "close never completed");
	umount2(mnt, MNT_DETACH);
}
