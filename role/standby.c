/* SPDX-License-Identifier: MIT */
/*
 * standby.c - what a node finds left over, as tables (role.h; DESIGN.md
 * 4.7): the stale primary, the FIP and manager sweeps, and the acting
 * master's gratuitous-ARP repeat.
 *
 * A node that does not act must not leave anything of the master role
 * behind: a PostgreSQL primary the log does not name (it was master before
 * a restart or a partition), a FIP on its interface (a release that
 * failed, an address added by hand, a crash between acquire and demotion),
 * a manager that runs. It looks for them on its turns, and backs off while
 * a removal fails or a manager keeps coming back, so a broken command does
 * not run in a loop. The acting master, for its part, repeats a gratuitous
 * ARP so that a neighbour that learnt another MAC (a paused old master's
 * late ARP) comes back to it.
 *
 * Each "now or not" is a table of rows (facts -> yes/no, why); the first
 * matching row wins and the last row matches anything. The backoff is
 * arithmetic on the caller's struct role_sweep_state.
 */
#include <string.h>

#include "duet/role.h"

struct yes_row {
	unsigned require, forbid;
	bool yes;
	const char *comment;
};

static bool yes_run(const struct yes_row *t, size_t n, unsigned facts, const char **row)
{
	for (size_t i = 0; i < n; i++) {
		if ((facts & t[i].require) != t[i].require || (facts & t[i].forbid))
			continue;
		if (row)
			*row = t[i].comment;
		return t[i].yes;
	}
	if (row)
		*row = "no row matches: a bug in role/standby.c";
	return false;
}

#define YES_RUN(table, facts, row) yes_run(table, sizeof table / sizeof table[0], facts, row)

/* ---- the stale primary ---------------------------------------------------- */

enum stale_fact {
	S_STANDBY = 1u << 0,      /* not acting */
	S_PRIMARY = 1u << 1,      /* the last probe answered: a primary */
	S_OTHER_MASTER = 1u << 2, /* the log names another node master */
	S_VIEW_CURRENT = 1u << 3, /* a leader is known and the fsm applied an entry of its term */
	S_RECENT_STOP = 1u << 4,  /* a stop went less than ROLE_STALE_STOP_MS ago */
};

/* clang-format off */
static const struct yes_row stale_table[] = {
	/* require        forbid          yes    comment */
	{0,               S_STANDBY,      false, "not a standby: the activation or the demotion decides"},
	{0,               S_PRIMARY,      false, "the local PostgreSQL is not known to be a primary"},
	{0,               S_OTHER_MASTER, false, "the log names no master (a first start keeps its primary) or this node"},
	{0,               S_VIEW_CURRENT, false, "this node's view is not current: no leader known, or nothing of its term applied"},
	{S_RECENT_STOP,   0,              false, "a stop went less than ROLE_STALE_STOP_MS ago: let it work"},
	{0,               0,              true,  "a primary the current log does not name: stop it"},
};
/* clang-format on */

bool role_stale_primary(const struct role_stale_in *in, const char **row)
{
	unsigned f = 0;
	if (in->act == ROLE_ACT_STANDBY)
		f |= S_STANDBY;
	if (in->pg_known && !in->pg_in_recovery)
		f |= S_PRIMARY;
	if (in->master && in->master != in->self_id)
		f |= S_OTHER_MASTER;
	if (in->leader_known && in->applied_in_term)
		f |= S_VIEW_CURRENT;
	if (in->last_stop_ms && in->now_ms - in->last_stop_ms < ROLE_STALE_STOP_MS)
		f |= S_RECENT_STOP;
	return YES_RUN(stale_table, f, row);
}

/* ---- the sweeps ----------------------------------------------------------- */

enum sweep_fact {
	W_CONFIGURED = 1u << 0, /* there is something to look for */
	W_STANDBY = 1u << 1,    /* not acting */
	W_BUSY = 1u << 2,       /* a look is in flight */
	W_DEMOTING = 1u << 3,   /* a demotion action is in flight */
	W_DUE = 1u << 4,        /* the next look's time has come */
};

/* clang-format off */
static const struct yes_row sweep_table[] = {
	/* require     forbid        yes    comment */
	{0,            W_CONFIGURED, false, "nothing to look for"},
	{0,            W_STANDBY,    false, "acting (or just started): the activation owns the FIP and the manager"},
	{W_BUSY,       0,            false, "a look is in flight"},
	{W_DEMOTING,   0,            false, "a demotion is removing it already"},
	{0,            W_DUE,        false, "not yet: every ROLE_SWEEP_MS, more seldom while it fails"},
	{0,            0,            true,  "look now"},
};
/* clang-format on */

bool role_sweep_due(const struct role_sweep_in *in, const char **row)
{
	unsigned f = 0;
	if (in->configured)
		f |= W_CONFIGURED;
	if (in->act == ROLE_ACT_STANDBY)
		f |= W_STANDBY;
	if (in->busy)
		f |= W_BUSY;
	if (in->demoting)
		f |= W_DEMOTING;
	if (in->now_ms >= in->at_ms)
		f |= W_DUE;
	return YES_RUN(sweep_table, f, row);
}

static uint32_t doubled(uint32_t backoff_ms, uint32_t first_ms)
{
	uint64_t b = backoff_ms ? (uint64_t)backoff_ms * 2 : first_ms;
	return b > ROLE_SWEEP_MAX_MS ? ROLE_SWEEP_MAX_MS : (uint32_t)b;
}

bool role_fip_sweep_checked(struct role_sweep_state *s, bool ok, bool present, enum role_act act,
			    uint64_t now_ms)
{
	s->at_ms = now_ms + (s->backoff_ms ? s->backoff_ms : ROLE_SWEEP_MS);
	/* the role may have come since the check was queued: an activation's
	 * acquire is queued behind it and decides */
	return ok && present && act == ROLE_ACT_STANDBY;
}

void role_fip_sweep_released(struct role_sweep_state *s, bool ok, uint64_t now_ms)
{
	if (ok) {
		s->backoff_ms = 0;
		s->at_ms = now_ms + ROLE_SWEEP_MS;
		return;
	}
	s->backoff_ms = doubled(s->backoff_ms, ROLE_RETRY_MS);
	s->at_ms = now_ms + s->backoff_ms;
}

bool role_manager_sweep_checked(struct role_sweep_state *s, bool running, enum role_act act,
				uint64_t now_ms)
{
	if (!running) {
		s->backoff_ms = 0;
		s->at_ms = now_ms + ROLE_SWEEP_MS;
		return false;
	}
	/* found running again after a stop: look less and less often */
	s->backoff_ms = doubled(s->backoff_ms, ROLE_SWEEP_MS);
	s->at_ms = now_ms + s->backoff_ms;
	return act == ROLE_ACT_STANDBY; /* the role came meanwhile: the activation starts it */
}

/* ---- the gratuitous-ARP repeat -------------------------------------------- */

enum garp_fact {
	G_FIP = 1u << 0,    /* a FIP is configured */
	G_REPEAT = 1u << 1, /* [fip] garp_repeat_ms is not 0 */
	G_MASTER = 1u << 2, /* acting master */
	G_BUSY = 1u << 3,   /* an announce is in flight */
	G_DUE = 1u << 4,    /* its time has come */
};

/* clang-format off */
static const struct yes_row garp_table[] = {
	/* require  forbid    yes    comment */
	{0,         G_FIP,    false, "no FIP"},
	{0,         G_REPEAT, false, "the repeat is off (garp_repeat_ms = 0)"},
	{0,         G_MASTER, false, "only the acting master announces"},
	{G_BUSY,    0,        false, "an announce is in flight"},
	{0,         G_DUE,    false, "not yet: every garp_repeat_ms"},
	{0,         0,        true,  "announce again, so that a neighbour that learnt another MAC comes back"},
};
/* clang-format on */

bool role_garp_due(const struct role_garp_in *in, const char **row)
{
	unsigned f = 0;
	if (in->fip_configured)
		f |= G_FIP;
	if (in->every_ms)
		f |= G_REPEAT;
	if (in->act == ROLE_ACT_MASTER)
		f |= G_MASTER;
	if (in->busy)
		f |= G_BUSY;
	if (in->now_ms >= in->at_ms)
		f |= G_DUE;
	return YES_RUN(garp_table, f, row);
}
