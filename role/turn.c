/* SPDX-License-Identifier: MIT */
/*
 * turn.c - the controller's turn as tables (role.h; DESIGN.md 4.1, 4.7,
 * 4.9): the first two decisions of ctl_step.
 *
 * One rule drives the data node: it acts as master only while it leads,
 * holds the lease and the applied log names it. role_turn_demotion()
 * compares that rule with what the node does and says when to stop at
 * once; role_turn_activation() says when a standby starts the activation
 * chain. The daemon calls them in that order, with the stale-primary stop
 * and the switchover's step in between (they change `demoting` and
 * `hold`). Facts first, then the first matching row, like fsm/transitions.c
 * and role/leader.c; both tables end with a row that matches anything.
 */
#include <string.h>

#include "duet/role.h"

enum turn_fact {
	T_ACTING = 1u << 0,   /* activating or acting master */
	T_UNKNOWN = 1u << 1,  /* just started */
	T_STANDBY = 1u << 2,  /* not acting */
	T_LEADER = 1u << 3,   /* the raft leader */
	T_LEASE = 1u << 4,    /* ... with a valid lease */
	T_NAMED = 1u << 5,    /* the applied log names this node master */
	T_CURRENT = 1u << 6,  /* the fsm applied the commit index, in this term */
	T_HOLD = 1u << 7,     /* a switchover holds the activation back */
	T_DEMOTING = 1u << 8, /* a demotion action is in flight */
};

struct turn_row {
	unsigned require, forbid;
	bool act; /* demote (demotion table) / activate (activation table) */
	const char *why;
	bool pg_stop;
	const char *comment;
};

/* clang-format off */
static const struct turn_row demotion_table[] = {
	/* require                       forbid    act    why                        pg_stop comment */
	{T_ACTING,                       T_LEADER, true,  "no longer the leader",    true,   "acting without leading: another node may lead with the lease (4.1)"},
	{T_ACTING | T_LEADER,            T_LEASE,  true,  "the lease was lost",      true,   "acting while leading without the lease: the old lease may be the other node's now"},
	{T_ACTING | T_LEADER | T_LEASE,  T_NAMED,  true,  "another node is master",  true,   "acting while the log names another master"},
	{T_UNKNOWN,                      0,        true,  "starting",                false,  "just started: FIP and manager go at once; PostgreSQL is judged once the log is known (at the first start the primary must keep running)"},
	{0,                              0,        false, NULL,                      false,  "acting as the rule says, or a standby: nothing to stop"},
};

static const struct turn_row activation_table[] = {
	/* require     forbid     act    why   pg_stop comment */
	{0,            T_STANDBY, false, NULL, false,  "not a standby: acting or activating already, or just started"},
	{0,            T_LEASE,   false, NULL, false,  "no lease: not the leader with the lease"},
	{0,            T_NAMED,   false, NULL, false,  "the applied log does not name this node master"},
	{0,            T_CURRENT, false, NULL, false,  "the fsm lags the commit index: the MASTER entry may be superseded"},
	{T_HOLD,       0,         false, NULL, false,  "a planned switchover holds the activation back while it stops"},
	{T_DEMOTING,   0,         false, NULL, false,  "a demotion in flight would undo what the activation does: wait for it (4.9)"},
	{0,            0,         true,  NULL, false,  "should act and does not: start the activation chain"},
};
/* clang-format on */

static unsigned turn_facts(const struct role_turn_in *in)
{
	unsigned f = 0;
	if (in->act == ROLE_ACT_ACTIVATING || in->act == ROLE_ACT_MASTER)
		f |= T_ACTING;
	else if (in->act == ROLE_ACT_STANDBY)
		f |= T_STANDBY;
	else
		f |= T_UNKNOWN;
	if (in->leader)
		f |= T_LEADER;
	if (in->leader && in->lease)
		f |= T_LEASE;
	if (in->named)
		f |= T_NAMED;
	if (in->current)
		f |= T_CURRENT;
	if (in->hold)
		f |= T_HOLD;
	if (in->demoting)
		f |= T_DEMOTING;
	return f;
}

static const struct turn_row *turn_run(const struct turn_row *t, size_t n, unsigned facts)
{
	for (size_t i = 0; i < n; i++)
		if ((facts & t[i].require) == t[i].require && !(facts & t[i].forbid))
			return &t[i];
	return &t[n - 1]; /* not reached: the last row matches anything */
}

void role_turn_demotion(const struct role_turn_in *in, struct role_turn_out *out)
{
	const struct turn_row *r = turn_run(
	    demotion_table, sizeof demotion_table / sizeof demotion_table[0], turn_facts(in));
	memset(out, 0, sizeof *out);
	out->demote = r->act;
	out->why = r->why;
	out->pg_stop = r->pg_stop;
	out->row = r->comment;
}

void role_turn_activation(const struct role_turn_in *in, struct role_turn_out *out)
{
	const struct turn_row *r = turn_run(
	    activation_table, sizeof activation_table / sizeof activation_table[0], turn_facts(in));
	memset(out, 0, sizeof *out);
	out->activate = r->act;
	out->row = r->comment;
}
