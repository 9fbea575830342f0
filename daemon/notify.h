/* SPDX-License-Identifier: MIT */
/*
 * notify.h - telling systemd how the member is (sd_notify(3)): READY=1 once
 * the store is open and the member serves, STATUS= with its role and term
 * as they change, WATCHDOG=1 from the event loop while the unit has
 * WatchdogSec=, STOPPING=1 at shutdown. Without $NOTIFY_SOCKET (not started
 * by systemd with Type=notify) every call does nothing.
 */
#ifndef DUET_DAEMON_NOTIFY_H
#define DUET_DAEMON_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

struct node;

#define NOTIFY_STATUS_MAX 160

struct node_notify {
	bool on;          /* $NOTIFY_SOCKET is set */
	uint64_t wd_usec; /* the unit's WatchdogSec (0: none) */
	uv_timer_t wd;    /* pets at half of it */
	bool wd_open;
	char status[NOTIFY_STATUS_MAX]; /* the last STATUS= sent */
};

/* Arms the watchdog keepalive when the unit asks for one. */
void notify_open(struct node *n);
/* READY=1 with the first STATUS=. */
void notify_ready(struct node *n);
/* STATUS= when the role, term or leader changed since the last one. */
void notify_status(struct node *n);
/* STOPPING=1; the keepalive timer is closed. */
void notify_stopping(struct node *n);

#endif
