/* SPDX-License-Identifier: MIT */
/*
 * watchdog.c - the Linux watchdog device (watchdog.h): arm, pet, the magic
 * close, and the controller's decision as a table.
 *
 * The device API (Documentation/watchdog/watchdog-api.rst): opening
 * /dev/watchdog starts the timer; WDIOC_SETTIMEOUT sets it in seconds and
 * returns what the driver chose; WDIOC_KEEPALIVE restarts it; writing 'V'
 * just before close disarms it (unless the kernel has nowayout). We never
 * write anything but 'V', so a stray write cannot be taken for the magic
 * character by a driver that accepts any byte as a keepalive... except 'V',
 * which only matters on close.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/watchdog.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "duet/watchdog.h"

/* ---- the kernel's ops ----------------------------------------------------- */

static int k_open(void *ctx, const char *path)
{
	(void)ctx;
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int k_settimeout(void *ctx, int fd, int *timeout_s)
{
	(void)ctx;
	return ioctl(fd, WDIOC_SETTIMEOUT, timeout_s) < 0 ? -errno : 0;
}

static int k_keepalive(void *ctx, int fd)
{
	(void)ctx;
	int dummy = 0;
	return ioctl(fd, WDIOC_KEEPALIVE, &dummy) < 0 ? -errno : 0;
}

static int k_magic_close(void *ctx, int fd)
{
	(void)ctx;
	int rc = write(fd, "V", 1) == 1 ? 0 : -errno;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	return rc;
}

static const struct duet_watchdog_ops kernel_ops = {k_open, k_settimeout, k_keepalive,
						    k_magic_close, NULL};

/* ---- the device ------------------------------------------------------------ */

void duet_watchdog_init(struct duet_watchdog *w, const char *path, unsigned timeout_s,
			const struct duet_watchdog_ops *ops)
{
	memset(w, 0, sizeof *w);
	snprintf(w->path, sizeof w->path, "%s", path ? path : "");
	w->want_timeout_s = timeout_s ? timeout_s : DUET_WATCHDOG_DEFAULT_TIMEOUT_S;
	w->fd = -1;
	w->ops = ops ? *ops : kernel_ops;
}

bool duet_watchdog_configured(const struct duet_watchdog *w)
{
	return w->path[0] != 0;
}

static int failed(struct duet_watchdog *w, const char *what, int rc)
{
	w->errors++;
	snprintf(w->error, sizeof w->error, "%s %s: %s", what, w->path, strerror(-rc));
	return rc;
}

int duet_watchdog_arm(struct duet_watchdog *w, uint64_t now_ms)
{
	if (!duet_watchdog_configured(w) || w->armed)
		return 0;
	int fd = w->ops.open(w->ops.ctx, w->path);
	if (fd < 0)
		return failed(w, "cannot open the watchdog", fd);
	int t = (int)w->want_timeout_s;
	int rc = w->ops.settimeout(w->ops.ctx, fd, &t);
	if (rc) {
		/* armed by the open with the driver's own timeout, which we do
		 * not know: disarm again rather than run with it */
		(void)w->ops.magic_close(w->ops.ctx, fd);
		return failed(w, "cannot set the timeout of the watchdog", rc);
	}
	w->fd = fd;
	w->timeout_s = t > 0 ? (unsigned)t : w->want_timeout_s;
	w->armed = true;
	w->armed_ms = w->last_pet_ms = now_ms;
	w->arms++;
	w->error[0] = 0;
	return 0;
}

int duet_watchdog_pet(struct duet_watchdog *w, uint64_t now_ms)
{
	if (!w->armed)
		return 0;
	int rc = w->ops.keepalive(w->ops.ctx, w->fd);
	if (rc)
		return failed(w, "keepalive of the watchdog", rc);
	w->pets++;
	w->last_pet_ms = now_ms;
	return 0;
}

int duet_watchdog_disarm(struct duet_watchdog *w)
{
	if (!w->armed)
		return 0;
	int rc = w->ops.magic_close(w->ops.ctx, w->fd);
	w->fd = -1;
	w->armed = false;
	return rc ? failed(w, "magic close of the watchdog", rc) : 0;
}

/* ---- the decision ---------------------------------------------------------- */

enum { ANY = 2 }; /* a row's "either" */

static const struct {
	uint8_t armed, acting, may_act, demoting;
	enum duet_watchdog_action action;
	const char *why;
} decide_rows[] = {
    {0, 1, 1, ANY, DUET_WATCHDOG_ARM, "activating or master, may act: arm before any promotion"},
    {1, 1, 1, ANY, DUET_WATCHDOG_PET, "acting and may act: keep the machine alive"},
    {1, 1, 0, ANY, DUET_WATCHDOG_NOTHING,
     "acting but may not act (lease lost, leadership gone): no pet; demote within the timeout"},
    {1, 0, ANY, 1, DUET_WATCHDOG_NOTHING,
     "demotion in flight: no pet; PostgreSQL must stop within the timeout"},
    {1, 0, ANY, 0, DUET_WATCHDOG_DISARM, "a standby with its demotion done: disarm"},
    {0, ANY, ANY, ANY, DUET_WATCHDOG_NOTHING, "not armed and nothing to protect"},
};

static bool cell(uint8_t row, bool v)
{
	return row == ANY || (row == 1) == v;
}

enum duet_watchdog_action duet_watchdog_decide(bool configured, bool armed, bool acting,
					       bool may_act, bool demotion_in_flight)
{
	if (!configured)
		return DUET_WATCHDOG_NOTHING;
	for (size_t i = 0; i < sizeof decide_rows / sizeof decide_rows[0]; i++)
		if (cell(decide_rows[i].armed, armed) && cell(decide_rows[i].acting, acting) &&
		    cell(decide_rows[i].may_act, may_act) &&
		    cell(decide_rows[i].demoting, demotion_in_flight))
			return decide_rows[i].action;
	return DUET_WATCHDOG_NOTHING;
}

const char *duet_watchdog_action_name(enum duet_watchdog_action a)
{
	return a == DUET_WATCHDOG_ARM      ? "arm"
	       : a == DUET_WATCHDOG_PET    ? "pet"
	       : a == DUET_WATCHDOG_DISARM ? "disarm"
					   : "nothing";
}
