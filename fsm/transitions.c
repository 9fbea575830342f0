/* SPDX-License-Identifier: MIT */
/*
 * transitions.c - MASTER and SYNC as a transition table (STYLE.md point 5,
 * pg_auto_failover's KeeperFSM[]), implementing DESIGN.md section 4.
 *
 * A MASTER or SYNC entry is an event about one node; the node's role in the
 * current state (enum fsm_role) and the event pick the first matching row.
 * A row either allows the transition (possibly behind a guard, whose failure
 * is its own refusal) and names the function that carries it out, or names
 * the refusal. A pair that no row matches is refused as "no transition":
 * every allowed move is visible here, nothing is improvised elsewhere.
 *
 * The safety rule behind the table (section 4.1): only a standby whose
 * committed state is SYNC may be made master, except by the recorded,
 * explicit `promote --accept-data-loss` (FORCED). The `previous` guard makes
 * MASTER a compare-and-set: a proposal made against an older master (two
 * failovers racing, a retry after a leader change) is refused instead of
 * moving the role twice.
 */
#include <stdio.h>
#include <string.h>

#include "fsm_internal.h"

enum fsm_event {
	FSM_EV_FIRST_START = 1u << 0,
	FSM_EV_FAILOVER = 1u << 1,
	FSM_EV_SWITCHOVER = 1u << 2,
	FSM_EV_FORCED = 1u << 3,
	FSM_EV_SYNC_ON = 1u << 4,
	FSM_EV_SYNC_OFF = 1u << 5,
};
#define FSM_EVS_MASTER (FSM_EV_FIRST_START | FSM_EV_FAILOVER | FSM_EV_SWITCHOVER | FSM_EV_FORCED)
#define FSM_EVS_SYNC   (FSM_EV_SYNC_ON | FSM_EV_SYNC_OFF)
#define FSM_EVS_ALL    (FSM_EVS_MASTER | FSM_EVS_SYNC)

#define ROLE(r) (1u << (r))

enum fsm_guard {
	FSM_GUARD_NONE = 0,
	FSM_GUARD_NO_MASTER, /* there is no master: else FSM_REFUSE_HAS_MASTER */
	FSM_GUARD_PREVIOUS,  /* entry's previous == current master: else FSM_REFUSE_STALE */
};

struct fsm_event_ctx {
	const struct raft_entry *e;
	uint32_t node;
	const struct duet_master *master; /* MASTER events */
};

typedef void (*fsm_transition_fn)(struct fsm *f, const struct fsm_event_ctx *c);

struct fsm_transition {
	unsigned events; /* enum fsm_event bits */
	unsigned roles;  /* ROLE(enum fsm_role) bits: the node's current role */
	uint8_t guard;   /* enum fsm_guard */
	uint8_t refuse;  /* enum fsm_refusal_reason; 0: allowed, run `apply` */
	fsm_transition_fn apply;
	const char *comment;
};

static void fsm_become_master(struct fsm *f, const struct fsm_event_ctx *c);
static void fsm_become_sync(struct fsm *f, const struct fsm_event_ctx *c);
static void fsm_become_async(struct fsm *f, const struct fsm_event_ctx *c);

/* clang-format off */
static const struct fsm_transition fsm_table[] = {
	/* events                 node's role now                                 guard               refusal                   apply              comment */
	{FSM_EVS_ALL,             ROLE(FSM_ROLE_NONE),                            FSM_GUARD_NONE,     FSM_REFUSE_NOT_MEMBER,    NULL,              "the node is not a member of the cluster"},
	{FSM_EVS_ALL,             ROLE(FSM_ROLE_WITNESS),                         FSM_GUARD_NONE,     FSM_REFUSE_WITNESS,       NULL,              "the witness never takes the master role and is never a standby"},
	{FSM_EV_FIRST_START,      ROLE(FSM_ROLE_SYNC_STANDBY) | ROLE(FSM_ROLE_ASYNC_STANDBY), FSM_GUARD_NO_MASTER, 0,       fsm_become_master, "first start: the cluster's first master"},
	{FSM_EV_FAILOVER | FSM_EV_SWITCHOVER, ROLE(FSM_ROLE_SYNC_STANDBY),        FSM_GUARD_PREVIOUS, 0,                        fsm_become_master, "the synchronous standby becomes master"},
	{FSM_EV_FORCED,           ROLE(FSM_ROLE_SYNC_STANDBY) | ROLE(FSM_ROLE_ASYNC_STANDBY), FSM_GUARD_PREVIOUS, 0,        fsm_become_master, "promote --accept-data-loss: committed transactions may be lost"},
	{FSM_EV_FAILOVER | FSM_EV_SWITCHOVER, ROLE(FSM_ROLE_ASYNC_STANDBY),       FSM_GUARD_NONE,     FSM_REFUSE_NOT_SYNC,      NULL,              "only a SYNC standby may be made master (DESIGN 4.1)"},
	{FSM_EVS_MASTER,          ROLE(FSM_ROLE_MASTER),                          FSM_GUARD_NONE,     FSM_REFUSE_ALREADY_MASTER, NULL,             "the node is master already"},
	{FSM_EV_SYNC_ON,          ROLE(FSM_ROLE_SYNC_STANDBY) | ROLE(FSM_ROLE_ASYNC_STANDBY), FSM_GUARD_NONE, 0,            fsm_become_sync,   "the standby is synchronous and caught up: promotable"},
	{FSM_EV_SYNC_OFF,         ROLE(FSM_ROLE_SYNC_STANDBY) | ROLE(FSM_ROLE_ASYNC_STANDBY), FSM_GUARD_NONE, 0,            fsm_become_async,  "the standby is no longer synchronous: not promotable"},
	{FSM_EVS_SYNC,            ROLE(FSM_ROLE_MASTER),                          FSM_GUARD_NONE,     FSM_REFUSE_IS_MASTER,     NULL,              "the master is not a standby"},
};
/* clang-format on */

static void fsm_become_master(struct fsm *f, const struct fsm_event_ctx *c)
{
	const struct raft_entry *e = c->e;
	struct fsm_node *n = fsm_node_mut(f, c->node);
	if (n->sync) {
		n->sync = 0; /* the master is nobody's standby */
		n->sync_since_index = e->index;
	}
	/* the old master (if any) is now an asynchronous standby: it holds no
	 * SYNC flag, so nothing to clear; it must be made SYNC again */
	f->master = (struct fsm_master_state){.node = c->node,
					      .previous = f->master.node,
					      .reason = c->master->reason,
					      .since_index = e->index,
					      .since_term = e->term,
					      .since_ms = e->wall_ms};
	switch (c->master->reason) {
	case DUET_MASTER_FIRST_START:
		f->counters.first_starts++;
		break;
	case DUET_MASTER_FAILOVER:
		f->counters.failovers++;
		break;
	case DUET_MASTER_SWITCHOVER:
		f->counters.switchovers++;
		break;
	case DUET_MASTER_FORCED:
		f->counters.forced++;
		break;
	}
}

static void fsm_set_sync(struct fsm *f, const struct fsm_event_ctx *c, uint8_t on)
{
	struct fsm_node *n = fsm_node_mut(f, c->node);
	if (n->sync != on) {
		n->sync = on;
		n->sync_since_index = c->e->index;
	}
}

static void fsm_become_sync(struct fsm *f, const struct fsm_event_ctx *c)
{
	fsm_set_sync(f, c, 1);
}

static void fsm_become_async(struct fsm *f, const struct fsm_event_ctx *c)
{
	fsm_set_sync(f, c, 0);
}

static unsigned fsm_master_event(uint8_t reason)
{
	switch (reason) {
	case DUET_MASTER_FIRST_START:
		return FSM_EV_FIRST_START;
	case DUET_MASTER_FAILOVER:
		return FSM_EV_FAILOVER;
	case DUET_MASTER_SWITCHOVER:
		return FSM_EV_SWITCHOVER;
	case DUET_MASTER_FORCED:
		return FSM_EV_FORCED;
	}
	return 0; /* the decoder refuses other reasons; no row matches 0 */
}

static bool fsm_guard_holds(const struct fsm *f, const struct fsm_transition *t,
			    const struct fsm_event_ctx *c, int *refuse)
{
	bool holds = true;
	switch (t->guard) {
	case FSM_GUARD_NO_MASTER:
		holds = f->master.node == 0;
		*refuse = holds ? 0 : FSM_REFUSE_HAS_MASTER;
		break;
	case FSM_GUARD_PREVIOUS:
		holds = c->master && c->master->previous == f->master.node;
		*refuse = holds ? 0 : FSM_REFUSE_STALE;
		break;
	}
	return holds;
}

/* Runs the event through the table. */
static int fsm_run(struct fsm *f, unsigned event, const struct fsm_event_ctx *c, const char *what)
{
	int role = fsm_role_of(f, c->node);
	for (size_t i = 0; i < sizeof(fsm_table) / sizeof(fsm_table[0]); i++) {
		const struct fsm_transition *t = &fsm_table[i];
		if (!(t->events & event) || !(t->roles & ROLE(role)))
			continue;
		int refuse = t->refuse;
		if (refuse == 0 && !fsm_guard_holds(f, t, c, &refuse)) {
			fsm_refuse(f, c->e, c->node, refuse,
				   "%s node %u (%s): %s; current master %u", what, c->node,
				   fsm_role_name(role), fsm_refusal_name(refuse), f->master.node);
			return FSM_REFUSED;
		}
		if (refuse) {
			fsm_refuse(f, c->e, c->node, refuse, "%s node %u (%s): %s", what, c->node,
				   fsm_role_name(role), t->comment);
			return FSM_REFUSED;
		}
		t->apply(f, c);
		return FSM_APPLIED;
	}
	fsm_refuse(f, c->e, c->node, FSM_REFUSE_NO_TRANSITION, "%s node %u (%s): no transition",
		   what, c->node, fsm_role_name(role));
	return FSM_REFUSED;
}

int fsm_transition_master(struct fsm *f, const struct raft_entry *e, const struct duet_master *m)
{
	struct fsm_event_ctx c = {.e = e, .node = m->node, .master = m};
	char what[48];
	snprintf(what, sizeof(what), "MASTER %s", fsm_master_reason_name(m->reason));
	return fsm_run(f, fsm_master_event(m->reason), &c, what);
}

int fsm_transition_sync(struct fsm *f, const struct raft_entry *e, const struct duet_sync *s)
{
	struct fsm_event_ctx c = {.e = e, .node = s->node};
	return fsm_run(f, s->on ? FSM_EV_SYNC_ON : FSM_EV_SYNC_OFF, &c,
		       s->on ? "SYNC on" : "SYNC off");
}
