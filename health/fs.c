/* SPDX-License-Identifier: MIT */
/*
 * fs.c - the filesystem probe: can this directory take a durable write?
 *
 * On the threadpool (uv_queue_work), never on the loop: remove a stale
 * .duet-health-probe, create it, write DUET_HEALTH_FS_PROBE_BYTES,
 * fdatasync, close, unlink. The first step that fails names itself, the
 * directory and strerror in the detail (ENOSPC, EROFS, EIO, ENOENT...).
 *
 * Why remove first and then create with O_EXCL | O_NOFOLLOW: the daemon runs
 * as root in directories that other users may write (PostgreSQL's data
 * directory belongs to postgres). A symlink planted under the probe's name
 * must not make root truncate the file it points to, and a FIFO must not
 * block the worker for ever; removing whatever is there and creating a
 * fresh regular file exclusively rules both out, and also replaces a file
 * left by a crash mid-probe.
 *
 * A hung filesystem (dead NFS server, frozen or failing disk) keeps its
 * work request forever. The framework's deadline counts the failures and
 * never starts a second probe of the check while this one is out, and
 * set.c allows one fs check per directory: so a hang holds at most one
 * worker thread per directory, never the whole pool. uv_cancel() on the
 * deadline only helps when the request has not started (pool busy).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "health_internal.h"

struct fs_probe {
	char dir[DUET_HEALTH_FS_DIR_MAX];
	char path[DUET_HEALTH_FS_DIR_MAX + sizeof(DUET_HEALTH_FS_PROBE_FILE) + 1];
	uv_work_t work;
	bool busy; /* work queued and not returned: no second one for this directory */
	struct duet_health_probe_ctx *ctx;
	duet_health_done_fn done;
	/* Written by the worker, read in after_work. */
	const char *failed_step; /* NULL: every step succeeded */
	int err;                 /* errno of failed_step */
};

/* The pattern written; its content does not matter, its size does. */
static const unsigned char probe_bytes[DUET_HEALTH_FS_PROBE_BYTES] = {'d', 'u', 'e', 't'};

static int write_all(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		if (n == 0)
			return EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* On a worker thread: touches only fs->path and the result fields. */
static void fs_work(uv_work_t *req)
{
	struct fs_probe *fs = req->data;
	fs->failed_step = NULL;
	fs->err = 0;
	if (unlink(fs->path) != 0 && errno != ENOENT) {
		fs->failed_step = "remove stale " DUET_HEALTH_FS_PROBE_FILE;
		fs->err = errno;
		return;
	}
	int fd = open(fs->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		fs->failed_step = "create " DUET_HEALTH_FS_PROBE_FILE;
		fs->err = errno;
		return;
	}
	int err = write_all(fd, probe_bytes, sizeof(probe_bytes));
	if (err) {
		fs->failed_step = "write";
	} else if (fdatasync(fd) != 0) {
		fs->failed_step = "fdatasync";
		err = errno;
	}
	/* close() reports deferred write errors on some filesystems (NFS). */
	if (close(fd) != 0 && !fs->failed_step && errno != EINTR) {
		fs->failed_step = "close";
		err = errno;
	}
	if (unlink(fs->path) != 0 && !fs->failed_step) {
		fs->failed_step = "unlink " DUET_HEALTH_FS_PROBE_FILE;
		err = errno;
	}
	fs->err = err;
}

static void fs_after_work(uv_work_t *req, int status)
{
	struct fs_probe *fs = req->data;
	struct duet_health_probe_ctx *ctx = fs->ctx;
	duet_health_done_fn done = fs->done;
	char detail[DUET_HEALTH_DETAIL_MAX];
	bool ok = false;
	if (status == UV_ECANCELED) {
		snprintf(detail, sizeof(detail), "%s: probe cancelled before it ran", fs->dir);
	} else if (fs->failed_step) {
		char buf[128];
		snprintf(detail, sizeof(detail), "%s: %s: %s", fs->dir, fs->failed_step,
			 strerror_r(fs->err, buf, sizeof(buf)));
	} else {
		ok = true;
		snprintf(detail, sizeof(detail), "%s: wrote and synced %u bytes", fs->dir,
			 (unsigned)sizeof(probe_bytes));
	}
	fs->busy = false;
	fs->ctx = NULL;
	fs->done = NULL;
	done(ctx, ok, detail); /* last: it may start the next probe */
}

static int fs_start(void *probe_data, struct duet_health_probe_ctx *ctx, duet_health_done_fn done)
{
	struct fs_probe *fs = probe_data;
	if (fs->busy)
		return DUET_EBUSY; /* cannot happen: the framework keeps one probe in flight */
	fs->ctx = ctx;
	fs->done = done;
	fs->work.data = fs;
	int rc = uv_queue_work(duet_health_probe_loop(ctx), &fs->work, fs_work, fs_after_work);
	if (rc)
		return rc;
	fs->busy = true;
	return 0;
}

static void fs_cancel(void *probe_data, struct duet_health_probe_ctx *ctx)
{
	struct fs_probe *fs = probe_data;
	if (fs->busy)
		uv_cancel((uv_req_t *)&fs->work); /* fails harmlessly once running */
}

const char *health_fs_dir(const struct duet_health_probe *probe)
{
	if (probe->start != fs_start)
		return NULL;
	return ((const struct fs_probe *)probe->probe_data)->dir;
}

int duet_health_add_fs(struct duet_health_set *set, const struct duet_health_check_config *config,
		       const char *dir)
{
	if (!dir || !dir[0] || strlen(dir) >= DUET_HEALTH_FS_DIR_MAX)
		return DUET_EINVAL;
	struct fs_probe *fs = calloc(1, sizeof(*fs));
	if (!fs)
		return DUET_ENOMEM;
	/* Without trailing slashes, so "/data/" and "/data" are one directory. */
	size_t len = strlen(dir);
	while (len > 1 && dir[len - 1] == '/')
		len--;
	memcpy(fs->dir, dir, len);
	snprintf(fs->path, sizeof(fs->path), "%s%s%s", fs->dir, len == 1 ? "" : "/",
		 DUET_HEALTH_FS_PROBE_FILE);
	struct duet_health_probe probe = {
	    .start = fs_start, .cancel = fs_cancel, .release = free, .probe_data = fs};
	int rc = duet_health_add(set, config, &probe);
	if (rc)
		free(fs);
	return rc;
}
