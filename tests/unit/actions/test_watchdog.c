/* SPDX-License-Identifier: MIT */
/*
 * test_watchdog.c - the watchdog module (actions/watchdog.c) against a
 * TEST DOUBLE of /dev/watchdog: arming a real device here would reset the
 * machine that runs the suite whenever a test failed or was killed, so the
 * device is modelled (open arms a timer, SETTIMEOUT, KEEPALIVE, the magic
 * close disarms; a gap between keepalives longer than the timeout while
 * armed is a reset). The model runs on a simulated clock.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "duet/watchdog.h"

struct dev {
	bool open, reset;
	int timeout_s;
	int driver_max_s; /* the driver rounds timeouts down to this */
	uint64_t now_ms, last_ms;
	int open_err, settimeout_err, keepalive_err;
	int opens, keepalives, closes;
};

/* the clock moves; a reset happens if the timer ran out meanwhile */
static void advance(struct dev *d, uint64_t ms)
{
	d->now_ms += ms;
	if (d->open && d->now_ms - d->last_ms > (uint64_t)d->timeout_s * 1000)
		d->reset = true;
}

static int d_open(void *ctx, const char *path)
{
	struct dev *d = ctx;
	cr_assert_str_eq(path, "/dev/watchdog-double");
	if (d->open_err)
		return d->open_err;
	d->opens++;
	d->open = true;
	d->timeout_s = 60;
	d->last_ms = d->now_ms;
	return 7;
}

static int d_settimeout(void *ctx, int fd, int *t)
{
	struct dev *d = ctx;
	cr_assert_eq(fd, 7);
	if (d->settimeout_err)
		return d->settimeout_err;
	if (d->driver_max_s && *t > d->driver_max_s)
		*t = d->driver_max_s;
	d->timeout_s = *t;
	d->last_ms = d->now_ms;
	return 0;
}

static int d_keepalive(void *ctx, int fd)
{
	struct dev *d = ctx;
	cr_assert_eq(fd, 7);
	if (d->keepalive_err)
		return d->keepalive_err;
	d->keepalives++;
	d->last_ms = d->now_ms;
	return 0;
}

static int d_magic_close(void *ctx, int fd)
{
	struct dev *d = ctx;
	cr_assert_eq(fd, 7);
	d->closes++;
	d->open = false;
	return 0;
}

static struct dev dev;
static struct duet_watchdog wd;

static void setup(void)
{
	memset(&dev, 0, sizeof dev);
	struct duet_watchdog_ops ops = {d_open, d_settimeout, d_keepalive, d_magic_close, &dev};
	duet_watchdog_init(&wd, "/dev/watchdog-double", 3, &ops);
}

TestSuite(watchdog, .init = setup);

Test(watchdog, decide_table)
{
	/* configured, armed, acting, may_act, demoting */
	cr_assert_eq(duet_watchdog_decide(false, false, true, true, false), DUET_WATCHDOG_NOTHING);
	cr_assert_eq(duet_watchdog_decide(true, false, true, true, false), DUET_WATCHDOG_ARM);
	cr_assert_eq(duet_watchdog_decide(true, true, true, true, false), DUET_WATCHDOG_PET);
	cr_assert_eq(duet_watchdog_decide(true, true, true, false, false), DUET_WATCHDOG_NOTHING);
	cr_assert_eq(duet_watchdog_decide(true, true, true, false, true), DUET_WATCHDOG_NOTHING);
	cr_assert_eq(duet_watchdog_decide(true, true, false, false, true), DUET_WATCHDOG_NOTHING);
	cr_assert_eq(duet_watchdog_decide(true, true, false, true, true), DUET_WATCHDOG_NOTHING);
	cr_assert_eq(duet_watchdog_decide(true, true, false, false, false), DUET_WATCHDOG_DISARM);
	cr_assert_eq(duet_watchdog_decide(true, false, false, true, false), DUET_WATCHDOG_NOTHING);
	cr_assert_eq(duet_watchdog_decide(true, false, true, false, false), DUET_WATCHDOG_NOTHING);
	cr_assert_str_eq(duet_watchdog_action_name(DUET_WATCHDOG_PET), "pet");
}

Test(watchdog, arm_pet_disarm)
{
	dev.driver_max_s = 2; /* the driver cannot do 3 s */
	cr_assert_eq(duet_watchdog_arm(&wd, 100), 0);
	cr_assert(wd.armed && dev.open);
	cr_assert_eq(wd.timeout_s, 2, "the timeout in force is the driver's");
	cr_assert_eq(duet_watchdog_arm(&wd, 150), 0);
	cr_assert_eq(dev.opens, 1, "arming twice opens once");
	cr_assert_eq(duet_watchdog_pet(&wd, 200), 0);
	cr_assert_eq(dev.keepalives, 1);
	cr_assert_eq(wd.last_pet_ms, 200);
	cr_assert_eq(duet_watchdog_disarm(&wd), 0);
	cr_assert(!wd.armed && !dev.open && dev.closes == 1);
	cr_assert_eq(duet_watchdog_pet(&wd, 300), 0);
	cr_assert_eq(dev.keepalives, 1, "no keepalive while disarmed");
}

Test(watchdog, arm_failures_leave_it_disarmed)
{
	dev.open_err = -EACCES;
	cr_assert_eq(duet_watchdog_arm(&wd, 0), -EACCES);
	cr_assert(!wd.armed);
	cr_assert(strstr(wd.error, "cannot open the watchdog /dev/watchdog-double") != NULL, "%s",
		  wd.error);
	dev.open_err = 0;
	dev.settimeout_err = -EINVAL;
	cr_assert_eq(duet_watchdog_arm(&wd, 0), -EINVAL);
	cr_assert(!wd.armed && !dev.open,
		  "armed by the open with an unknown timeout: closed again");
	cr_assert_eq(dev.closes, 1);
	cr_assert_eq(wd.errors, 2);
}

Test(watchdog, not_configured_does_nothing)
{
	struct duet_watchdog off;
	duet_watchdog_init(&off, "", 0, NULL);
	cr_assert(!duet_watchdog_configured(&off));
	cr_assert_eq(duet_watchdog_arm(&off, 0), 0);
	cr_assert(!off.armed);
	cr_assert_eq(off.want_timeout_s, DUET_WATCHDOG_DEFAULT_TIMEOUT_S);
}

/* One controller turn as ctl.c makes it: decide, then do. */
static void turn(bool acting, bool may_act, bool demoting)
{
	switch (duet_watchdog_decide(true, wd.armed, acting, may_act, demoting)) {
	case DUET_WATCHDOG_ARM:
		cr_assert_eq(duet_watchdog_arm(&wd, dev.now_ms), 0);
		break;
	case DUET_WATCHDOG_PET:
		cr_assert_eq(duet_watchdog_pet(&wd, dev.now_ms), 0);
		break;
	case DUET_WATCHDOG_DISARM:
		cr_assert_eq(duet_watchdog_disarm(&wd), 0);
		break;
	case DUET_WATCHDOG_NOTHING:
		break;
	}
}

/* Issue 13 defect 12: a master whose controller stalls (SIGSTOP for 2-8 s)
 * kept its PostgreSQL writable for the whole pause. Armed, the machine is
 * reset within the timeout (3 s) of the last turn. */
Test(watchdog, stalled_master_is_reset)
{
	for (int i = 0; i < 50; i++) { /* 5 s acting master, a turn every 100 ms */
		turn(true, true, false);
		advance(&dev, 100);
	}
	cr_assert(!dev.reset, "a master that turns is never reset");
	advance(&dev, 2500); /* a stall shorter than the timeout */
	cr_assert(!dev.reset);
	turn(true, true, false);
	advance(&dev, 4000); /* SIGSTOP for 4 s */
	cr_assert(dev.reset, "a controller stalled past the timeout resets the machine");
}

/* A master that loses its lease pets no more: its demotion must stop
 * PostgreSQL within the timeout, or the machine is reset; one that does
 * disarms, and a standby is never reset. */
Test(watchdog, demotion_must_finish_within_the_timeout)
{
	turn(true, true, false);
	advance(&dev, 100);
	turn(true, false, false); /* lease lost */
	for (int i = 0; i < 15; i++) {
		turn(false, false, true); /* stopping PostgreSQL: 1.5 s */
		advance(&dev, 100);
	}
	turn(false, false, false); /* stopped */
	cr_assert(!wd.armed && !dev.open, "disarmed once the demotion is done");
	advance(&dev, 60000);
	cr_assert(!dev.reset, "a standby is never reset");

	turn(true, true, false); /* master again */
	cr_assert(wd.armed);
	turn(true, false, false);
	for (int i = 0; i < 40 && !dev.reset; i++) { /* a stop that hangs */
		turn(false, false, true);
		advance(&dev, 100);
	}
	cr_assert(dev.reset,
		  "a demotion that does not finish within the timeout resets the machine");
}
