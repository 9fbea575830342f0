/* SPDX-License-Identifier: MIT */
/*
 * watchdog.h - the Linux watchdog device as the acting master's dead man's
 * switch (DESIGN.md 4.10; part of duet_actions, actions/watchdog.c).
 *
 * Why: a master whose duetd stalls (SIGSTOP, a VM pause with the clock
 * running, a loop stuck in a system call) keeps a writable PostgreSQL for
 * as long as the stall lasts, and the other node's wait for the old lease
 * protects nobody once the lease is over: only a fence would. With the
 * watchdog armed while the node acts as master, the kernel resets the
 * machine when duetd has not petted the device for timeout_s seconds, so a
 * stalled master is gone within a known bound, and the new master, when it
 * cannot confirm a fence, waits out the old lease PLUS that bound before it
 * promotes (role_takeover_until(), role/activation.c's lease-wait step).
 *
 * The rules, for the controller (ctl.c) through duet_watchdog_decide():
 *  - ARM (open the device: opening arms it; WDIOC_SETTIMEOUT) when the
 *    node starts to activate, before PostgreSQL can be promoted, and only
 *    while it may act (leader, lease, named by the log);
 *  - PET (WDIOC_KEEPALIVE) on every controller turn while it may act;
 *  - NOTHING while armed and it may not act: a demotion in flight must end
 *    (PostgreSQL stopped) before the timeout, or the machine resets; a
 *    stalled loop pets nothing either;
 *  - DISARM (the magic close: write 'V', close) once the node is a standby
 *    again with its demotion finished. A kernel built with
 *    CONFIG_WATCHDOG_NOWAYOUT (or softdog nowayout=1) ignores the magic
 *    close: the machine then resets after every demotion; use nowayout=0.
 *
 * Everything goes through struct duet_watchdog_ops, so the logic runs in
 * tests against a double: arming a real device in a test would reset the
 * machine that runs the suite when the test fails. NULL ops = the kernel's
 * open/ioctl/write/close. The calls are a few system calls on a character
 * device: they do not block, and run on the loop.
 */
#ifndef DUET_WATCHDOG_H
#define DUET_WATCHDOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DUET_WATCHDOG_PATH_MAX          256
#define DUET_WATCHDOG_DEFAULT_TIMEOUT_S 5

struct duet_watchdog_ops {
	/* each returns >= 0 (open: the fd) or a negative errno */
	int (*open)(void *ctx, const char *path);
	int (*settimeout)(void *ctx, int fd, int *timeout_s); /* in: wanted; out: in force */
	int (*keepalive)(void *ctx, int fd);
	int (*magic_close)(void *ctx, int fd); /* write "V", then close */
	void *ctx;
};

struct duet_watchdog {
	char path[DUET_WATCHDOG_PATH_MAX]; /* "" = no watchdog */
	unsigned want_timeout_s;
	unsigned timeout_s; /* in force while armed (the device may round it) */
	int fd;
	bool armed;
	uint64_t armed_ms, last_pet_ms;
	uint64_t arms, pets, errors;
	char error[DUET_WATCHDOG_PATH_MAX + 128]; /* the last failure, "" if none */
	struct duet_watchdog_ops ops;
};

/* path "" or NULL: no watchdog (every call below is then a no-op that
 * returns 0). timeout_s 0 = DUET_WATCHDOG_DEFAULT_TIMEOUT_S. ops NULL = the
 * kernel's. */
void duet_watchdog_init(struct duet_watchdog *w, const char *path, unsigned timeout_s,
			const struct duet_watchdog_ops *ops);
bool duet_watchdog_configured(const struct duet_watchdog *w);

/* Opens and arms the device (idempotent while armed). 0 or a negative
 * errno, with w->error saying what failed ("cannot open /dev/watchdog:
 * ..."); a failed arm leaves it disarmed. */
int duet_watchdog_arm(struct duet_watchdog *w, uint64_t now_ms);
/* One keepalive; 0 when disarmed. A failure is counted and kept in error. */
int duet_watchdog_pet(struct duet_watchdog *w, uint64_t now_ms);
/* The magic close; 0 when disarmed. */
int duet_watchdog_disarm(struct duet_watchdog *w);

enum duet_watchdog_action {
	DUET_WATCHDOG_NOTHING = 0,
	DUET_WATCHDOG_ARM,
	DUET_WATCHDOG_PET,
	DUET_WATCHDOG_DISARM,
};

/* The controller's turn, as a table (watchdog.c, decide_rows[]): what to do
 * given whether a watchdog is configured and armed, whether the node is
 * activating or acting as master (ctl act), whether it may act right now
 * (leader, lease, named master), and whether a demotion is still in
 * flight. Pure. */
enum duet_watchdog_action duet_watchdog_decide(bool configured, bool armed, bool acting,
					       bool may_act, bool demotion_in_flight);
const char *duet_watchdog_action_name(enum duet_watchdog_action a);

#endif
