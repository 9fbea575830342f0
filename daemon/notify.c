/* SPDX-License-Identifier: MIT */
/*
 * notify.c - sd_notify(3) for the units (notify.h).
 *
 * The keepalive runs from a timer of the daemon's own loop, so it stops
 * when the loop stalls (a hung callback, a SIGSTOP): systemd then kills
 * the daemon after WatchdogSec, and on the master the unit's ExecStopPost
 * takes the FIP and the manager down with it. A stalled loop must not be
 * reported alive, so nothing else pets it.
 *
 * READY=1 comes once the store is open, the transport listens and the
 * admin socket answers; not when the peers answer: a member restarted
 * while its peers are down is still a running member (`duetctl status`
 * shows it), and a start that waited for them would time out and be
 * restarted for ever. STATUS= says the rest.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "ctl.h"
#include "node_internal.h"
#include "notify.h"

static void on_keepalive(uv_timer_t *t)
{
	(void)t;
	(void)sd_notify(0, "WATCHDOG=1");
}

void notify_open(struct node *n)
{
	struct node_notify *no = &n->notify;
	const char *sock = getenv("NOTIFY_SOCKET");
	no->on = sock && sock[0];
	if (!no->on)
		return;
	uint64_t usec = 0;
	if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
		no->wd_usec = usec;
		uv_timer_init(n->loop, &no->wd);
		no->wd_open = true;
		/* half the timeout, as sd_watchdog_enabled(3) advises */
		uint64_t every_ms = usec / 2000 ? usec / 2000 : 1;
		uv_timer_start(&no->wd, on_keepalive, every_ms, every_ms);
		duet_log(DUET_LOG_INFO,
			 "systemd watchdog: a keepalive every %" PRIu64 " ms (WatchdogSec %" PRIu64
			 " ms)",
			 every_ms, usec / 1000);
	}
}

static const char *acting_text(int act)
{
	switch (act) {
	case CTL_MASTER:
		return "acting master";
	case CTL_ACTIVATING:
		return "taking the master role";
	case CTL_STANDBY:
		return "standby";
	default:
		return "starting";
	}
}

/* "leader, term 7, acting master" / "follower of node-a, term 7, standby" */
static void status_text(struct node *n, char *out, size_t cap)
{
	struct raft_status st;
	raft_status(n->raft, node_now_ms(), &st);
	const struct duet_member *leader = duet_membership_find(&n->cfg.membership, st.leader);
	const char *role = st.role == RAFT_LEADER     ? "leader"
			   : st.role == RAFT_FOLLOWER ? "follower"
						      : "candidate";
	int w = snprintf(out, cap, "%s", role);
	if (st.role == RAFT_FOLLOWER && leader)
		w += snprintf(out + w, cap - (size_t)w, " of %s", leader->name);
	else if (st.role != RAFT_LEADER && !leader)
		w += snprintf(out + w, cap - (size_t)w, ", no leader");
	w += snprintf(out + w, cap - (size_t)w, ", term %" PRIu64, st.term);
	if (n->cfg.self_kind == DUET_MEMBER_DATA && (size_t)w < cap)
		snprintf(out + w, cap - (size_t)w, ", %s", acting_text(n->ctl.act));
}

void notify_ready(struct node *n)
{
	if (!n->notify.on)
		return;
	status_text(n, n->notify.status, sizeof n->notify.status);
	(void)sd_notifyf(0, "READY=1\nSTATUS=%s", n->notify.status);
}

void notify_status(struct node *n)
{
	if (!n->notify.on || n->stopping)
		return;
	char now[NOTIFY_STATUS_MAX];
	status_text(n, now, sizeof now);
	if (strcmp(now, n->notify.status) == 0)
		return;
	memcpy(n->notify.status, now, sizeof now);
	(void)sd_notifyf(0, "STATUS=%s", now);
}

void notify_stopping(struct node *n)
{
	if (!n->notify.on)
		return;
	(void)sd_notify(0, "STOPPING=1\nSTATUS=shutting down");
	if (n->notify.wd_open) {
		uv_timer_stop(&n->notify.wd);
		uv_close((uv_handle_t *)&n->notify.wd, NULL);
		n->notify.wd_open = false;
	}
}
