/* SPDX-License-Identifier: MIT */
/*
 * state.c - fsm_apply(): one committed entry into the replicated state.
 *
 * Pure (STYLE.md point 1): no I/O, clock or allocation, so every member and
 * the simulator compute the same state from the same log. MASTER and SYNC go
 * through the transition table (transitions.c); this file decodes payloads
 * and handles the entries whose effect is plain bookkeeping: MEMBERSHIP,
 * HEALTH, OPERATOR, STEP. A payload that does not decode is refused, not
 * skipped: it is committed, so every member refuses it the same way, and
 * the refusal stays visible in the state (and the entry in the audit chain).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fsm_internal.h"

const char *fsm_role_name(int role)
{
	switch (role) {
	case FSM_ROLE_NONE:
		return "not a member";
	case FSM_ROLE_WITNESS:
		return "witness";
	case FSM_ROLE_MASTER:
		return "master";
	case FSM_ROLE_SYNC_STANDBY:
		return "sync standby";
	case FSM_ROLE_ASYNC_STANDBY:
		return "async standby";
	}
	return "unknown";
}

const char *fsm_refusal_name(int reason)
{
	switch (reason) {
	case FSM_REFUSE_NONE:
		return "none";
	case FSM_REFUSE_NOT_MEMBER:
		return "not a member";
	case FSM_REFUSE_WITNESS:
		return "the witness never takes the master role nor SYNC";
	case FSM_REFUSE_NOT_SYNC:
		return "not a SYNC standby";
	case FSM_REFUSE_ALREADY_MASTER:
		return "master already";
	case FSM_REFUSE_HAS_MASTER:
		return "first start while there is a master";
	case FSM_REFUSE_STALE:
		return "stale: previous is not the current master";
	case FSM_REFUSE_IS_MASTER:
		return "the master is not a standby";
	case FSM_REFUSE_BAD_PAYLOAD:
		return "payload does not decode";
	case FSM_REFUSE_NO_TRANSITION:
		return "no transition";
	case FSM_REFUSE_TOO_MANY_CHECKS:
		return "too many health checks";
	}
	return "unknown";
}

void fsm_init(struct fsm *f)
{
	memset(f, 0, sizeof(*f));
}

struct fsm_node *fsm_node_mut(struct fsm *f, uint32_t id)
{
	for (uint32_t i = 0; i < f->membership.n && i < DUET_MAX_MEMBERS; i++)
		if (f->nodes[i].id == id && id != 0)
			return &f->nodes[i];
	return NULL;
}

const struct fsm_node *fsm_node_find(const struct fsm *f, uint32_t id)
{
	return fsm_node_mut((struct fsm *)f, id);
}

const struct fsm_check *fsm_check_find(const struct fsm *f, uint32_t id, const char *name)
{
	const struct fsm_node *n = fsm_node_find(f, id);
	for (uint32_t i = 0; n && i < n->n_checks; i++)
		if (strcmp(n->checks[i].name, name) == 0)
			return &n->checks[i];
	return NULL;
}

int fsm_role_of(const struct fsm *f, uint32_t id)
{
	const struct duet_member *m = duet_membership_find(&f->membership, id);
	const struct fsm_node *n = fsm_node_find(f, id);
	if (!m || !n)
		return FSM_ROLE_NONE;
	if (m->kind != DUET_MEMBER_DATA)
		return FSM_ROLE_WITNESS;
	if (f->master.node == id)
		return FSM_ROLE_MASTER;
	return n->sync ? FSM_ROLE_SYNC_STANDBY : FSM_ROLE_ASYNC_STANDBY;
}

void fsm_refuse(struct fsm *f, const struct raft_entry *e, uint32_t node, int reason,
		const char *fmt, ...)
{
	struct fsm_refusal *r = &f->last_refusal;
	memset(r, 0, sizeof(*r));
	r->index = e->index;
	r->term = e->term;
	r->type = e->type;
	r->node = node;
	r->reason = (uint8_t)reason;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
	f->counters.refused++;
}

/* MEMBERSHIP: the new list; per-node state kept for members that stay with
 * the same incarnation (a new incarnation = rebuilt storage: not SYNC). */
static int fsm_apply_membership(struct fsm *f, const struct raft_entry *e,
				const struct duet_membership *c)
{
	struct fsm_node nodes[DUET_MAX_MEMBERS];
	memset(nodes, 0, sizeof(nodes));
	for (uint32_t i = 0; i < c->n; i++) {
		const struct duet_member *m = &c->members[i];
		const struct duet_member *old = duet_membership_find(&f->membership, m->id);
		const struct fsm_node *prev = fsm_node_find(f, m->id);
		if (prev)
			nodes[i] = *prev;
		nodes[i].id = m->id;
		bool reborn = old && old->incarnation != m->incarnation;
		if (nodes[i].sync && (reborn || m->kind != DUET_MEMBER_DATA)) {
			nodes[i].sync = 0;
			nodes[i].sync_since_index = e->index;
		}
	}
	f->membership = *c;
	memcpy(f->nodes, nodes, sizeof(nodes));
	const struct duet_member *master = duet_membership_find(c, f->master.node);
	if (f->master.node && (!master || master->kind != DUET_MEMBER_DATA)) {
		/* the master left the cluster (or is no DATA member): no master */
		f->master.previous = f->master.node;
		f->master.node = 0;
		f->master.since_index = e->index;
		f->master.since_term = e->term;
		f->master.since_ms = e->wall_ms;
	}
	return FSM_APPLIED;
}

static int fsm_apply_health(struct fsm *f, const struct raft_entry *e, const struct duet_health *h)
{
	if (h->check[0] == 0) { /* the decoder allows it; a check needs a name */
		fsm_refuse(f, e, h->node, FSM_REFUSE_BAD_PAYLOAD,
			   "HEALTH on node %u: no check name", h->node);
		return FSM_REFUSED;
	}
	struct fsm_node *n = fsm_node_mut(f, h->node);
	if (!n) {
		fsm_refuse(f, e, h->node, FSM_REFUSE_NOT_MEMBER, "HEALTH %s on node %u: %s",
			   h->check, h->node, fsm_refusal_name(FSM_REFUSE_NOT_MEMBER));
		return FSM_REFUSED;
	}
	struct fsm_check *c = NULL;
	for (uint32_t i = 0; i < n->n_checks && !c; i++)
		if (strcmp(n->checks[i].name, h->check) == 0)
			c = &n->checks[i];
	if (!c) {
		if (n->n_checks >= FSM_MAX_CHECKS) {
			fsm_refuse(f, e, h->node, FSM_REFUSE_TOO_MANY_CHECKS,
				   "HEALTH %s on node %u: the node has %d checks already", h->check,
				   h->node, FSM_MAX_CHECKS);
			return FSM_REFUSED;
		}
		c = &n->checks[n->n_checks++];
		memset(c, 0, sizeof(*c));
		memcpy(c->name, h->check, sizeof(c->name));
	}
	c->critical = h->critical;
	if (c->state != h->state || c->since_index == 0) {
		c->state = h->state;
		c->since_index = e->index;
		c->since_ms = e->wall_ms;
	}
	return FSM_APPLIED;
}

static int fsm_apply_operator(struct fsm *f, const struct raft_entry *e,
			      const struct duet_operator *o)
{
	f->last_operator.index = e->index;
	f->last_operator.wall_ms = e->wall_ms;
	f->last_operator.op = *o;
	if (o->command == DUET_OP_MAINTENANCE_ON || o->command == DUET_OP_MAINTENANCE_OFF) {
		uint8_t on = o->command == DUET_OP_MAINTENANCE_ON;
		if (f->maintenance != on) {
			f->maintenance = on;
			f->maintenance_since = e->index;
		}
	}
	return FSM_APPLIED;
}

/* DELIVERED: the sink has every TRAPS entry up to d->up_to_index. The fsm
 * keeps no list of TRAPS indexes (the state stays fixed-size), so when a
 * backlog remains the next undelivered entry is bounded below by up_to + 1:
 * compaction may stop a little short, never past an undelivered entry. */
static void fsm_apply_delivered(struct fsm *f, const struct duet_delivered *d)
{
	if (d->up_to_index <= f->traps.delivered)
		return;
	f->traps.delivered = d->up_to_index;
	if (f->traps.first_undelivered && f->traps.first_undelivered <= d->up_to_index)
		f->traps.first_undelivered =
		    f->traps.last_index > d->up_to_index ? d->up_to_index + 1 : 0;
}

uint64_t fsm_trap_floor(const struct fsm *f)
{
	if (f->traps.first_undelivered && f->traps.first_undelivered - 1 < f->applied_index)
		return f->traps.first_undelivered - 1;
	return f->applied_index;
}

/* Decodes e's payload as `type` into `out`; refuses the entry if it fails. */
#define FSM_DECODE(f, e, decode, out)                                                              \
	do {                                                                                       \
		int drc_ = decode((e)->data, (e)->len, (out));                                     \
		if (drc_) {                                                                        \
			fsm_refuse((f), (e), 0, FSM_REFUSE_BAD_PAYLOAD,                            \
				   "%s payload of %u bytes does not decode: %s",                   \
				   raft_entry_type_name((e)->type), (e)->len,                      \
				   duet_strerror(drc_));                                           \
			return FSM_REFUSED;                                                        \
		}                                                                                  \
	} while (0)

static int fsm_dispatch(struct fsm *f, const struct raft_entry *e)
{
	switch (e->type) {
	case RAFT_ENTRY_MEMBERSHIP: {
		struct duet_membership c;
		FSM_DECODE(f, e, duet_membership_decode, &c);
		return fsm_apply_membership(f, e, &c);
	}
	case RAFT_ENTRY_MASTER: {
		struct duet_master m;
		FSM_DECODE(f, e, duet_master_decode, &m);
		return fsm_transition_master(f, e, &m);
	}
	case RAFT_ENTRY_SYNC: {
		struct duet_sync s;
		FSM_DECODE(f, e, duet_sync_decode, &s);
		return fsm_transition_sync(f, e, &s);
	}
	case RAFT_ENTRY_HEALTH: {
		struct duet_health h;
		FSM_DECODE(f, e, duet_health_decode, &h);
		return fsm_apply_health(f, e, &h);
	}
	case RAFT_ENTRY_OPERATOR: {
		struct duet_operator o;
		FSM_DECODE(f, e, duet_operator_decode, &o);
		return fsm_apply_operator(f, e, &o);
	}
	case RAFT_ENTRY_STEP: {
		struct duet_step s;
		FSM_DECODE(f, e, duet_step_decode, &s);
		if (s.ok)
			f->counters.steps_ok++;
		else
			f->counters.steps_failed++;
		return FSM_APPLIED;
	}
	case RAFT_ENTRY_TRAPS: /* the payload is the trap pipeline's; the floor is ours */
		f->traps.last_index = e->index;
		if (!f->traps.first_undelivered && e->index > f->traps.delivered)
			f->traps.first_undelivered = e->index;
		return FSM_APPLIED;
	case RAFT_ENTRY_DELIVERED: {
		struct duet_delivered d;
		FSM_DECODE(f, e, duet_delivered_decode, &d);
		fsm_apply_delivered(f, &d);
		return FSM_APPLIED;
	}
	case RAFT_ENTRY_NOOP:
		return FSM_APPLIED;
	}
	fsm_refuse(f, e, 0, FSM_REFUSE_BAD_PAYLOAD, "entry type %u is unknown", e->type);
	return FSM_REFUSED;
}

int fsm_apply(struct fsm *f, const struct raft_entry *e, struct fsm_result *res)
{
	if (!f || !e || !res || (e->len && !e->data))
		return DUET_EINVAL;
	memset(res, 0, sizeof(*res));
	if (e->index <= f->applied_index) {
		res->outcome = FSM_STALE;
		return 0;
	}
	if (f->applied_index != 0 && e->index != f->applied_index + 1)
		return DUET_EINVAL;        /* a gap: the driver skipped an entry */
	res->outcome = fsm_dispatch(f, e); /* every refusal went through fsm_refuse */
	if (res->outcome == FSM_REFUSED)
		res->reason = f->last_refusal.reason;
	if (e->type < RAFT_ENTRY_TYPE_COUNT)
		f->counters.by_type[e->type]++;
	f->applied_index = e->index;
	f->applied_term = e->term;
	return 0;
}
