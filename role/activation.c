/* SPDX-License-Identifier: MIT */
/*
 * activation.c - the activation chain as tables (role.h; DESIGN.md 4.4,
 * 4.7, 4.9, 4.10).
 *
 * A standby that should act runs the chain one step at a time: fence the
 * previous master (when it took the role from one, and a fence is
 * configured), wait out that master's lease (and its watchdog's timeout
 * when no fence confirmed it off; in a later term than the MASTER entry's
 * too, should that deadline not have passed: this daemon may not have got
 * that far in the entry's own term), clear synchronous_standby_names and
 * promote PostgreSQL, acquire the FIP, start the manager. Every step asks
 * first whether the node may still act: a node paused mid-way wakes up
 * here and demotes, it never finishes an activation it started before.
 *
 * role_chain_decide() maps (step, facts) to one command through chain_table;
 * role_chain_outcome() maps an action's result to what happens to the
 * step through outcome_table. The one result that runs another action at
 * once (names cleared: pg_promote) asks may_act again, as it stands when
 * the result comes back: clearing the names takes time, and a node that
 * lost its lease meanwhile must not promote. The daemon (daemon/ctl.c chain_next and the
 * *_done callbacks) performs the command with actions/, records what it
 * observed and feeds the result back; which step comes next, when a step
 * is retried and which STEP entry is proposed is decided here only.
 *
 * Both tables are exhaustive: every step meets a row for every combination
 * of its facts, every result (ok or not) has a row (the unit tests walk
 * them all). A row for ROLE_STEP_ANY comes first for every step.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "duet/role.h"

enum chain_fact {
	C_BUSY = 1u << 0,          /* an action of the chain is in flight */
	C_RETRY_WAIT = 1u << 1,    /* a failed step's retry time has not come */
	C_MAY_ACT = 1u << 2,       /* leader, lease, named master */
	C_TAKEOVER = 1u << 3,      /* MASTER(self) took the role from another node in this term */
	C_FENCE = 1u << 4,         /* a fence is configured */
	C_LEASE_RUNNING = 1u << 5, /* the old master's lease (and watchdog) may still run */
	C_PG = 1u << 6,            /* a PostgreSQL is managed */
	C_PROBE_CURRENT = 1u << 7, /* the last probe started after the last demotion ended */
	C_PROBE_BUSY = 1u << 8,    /* a probe is in flight */
	C_PG_KNOWN = 1u << 9,      /* the last probe answered */
	C_PG_PRIMARY = 1u << 10,   /* ... as a primary */
	C_PG_ERROR = 1u << 11,     /* the last probe failed */
	C_START = 1u << 12,        /* [pg] start_command is set */
	C_STARTED_RECENTLY = 1u << 13, /* this activation started it, within the promote timeout */
	C_PROBE_FRESH = 1u << 14,      /* the last probe ended within two probe intervals */
	C_STOPPED_BY_US = 1u << 15,    /* our own demotion stopped it (its check is held) */
	C_FIP = 1u << 16,              /* a FIP is configured */
	C_MANAGER = 1u << 17,          /* [manager] start_command is set */
	C_FROM_OTHER = 1u << 18, /* MASTER(self) took the role from another node, in any term */
};

#define STEP_ANY (-1)

typedef void (*chain_fill_fn)(const struct role_chain_in *in, struct role_chain_out *out);

struct chain_row {
	int step; /* enum role_step, or STEP_ANY */
	unsigned require, forbid;
	enum role_chain_cmd cmd;
	enum role_step next;   /* ADVANCE */
	enum role_stamp stamp; /* ADVANCE */
	chain_fill_fn fill;
	const char *comment;
};

const char *role_step_name(enum role_step s)
{
	switch (s) {
	case ROLE_STEP_FENCE:
		return "fence";
	case ROLE_STEP_LEASE_WAIT:
		return "lease wait";
	case ROLE_STEP_PROMOTE:
		return "promote";
	case ROLE_STEP_FIP:
		return "fip";
	case ROLE_STEP_MANAGER:
		return "manager";
	case ROLE_STEP_DONE:
		break;
	}
	return "done";
}

const char *role_chain_cmd_name(enum role_chain_cmd c)
{
	switch (c) {
	case ROLE_CHAIN_NOTHING:
		return "nothing";
	case ROLE_CHAIN_DEMOTE:
		return "demote";
	case ROLE_CHAIN_RUN_FENCE:
		return "run fence";
	case ROLE_CHAIN_WAIT_UNTIL:
		return "wait until";
	case ROLE_CHAIN_PROBE_PG:
		return "probe pg";
	case ROLE_CHAIN_START_PG:
		return "start pg";
	case ROLE_CHAIN_CLEAR_NAMES_THEN_PROMOTE:
		return "clear names then promote";
	case ROLE_CHAIN_ACQUIRE_FIP:
		return "acquire fip";
	case ROLE_CHAIN_START_MANAGER:
		return "start manager";
	case ROLE_CHAIN_DONE:
		return "done";
	case ROLE_CHAIN_ADVANCE:
		return "advance";
	}
	return "?";
}

/* A master re-elected in a later term without a new MASTER entry took the
 * role from nobody: only a FAILOVER or FORCED entry of this very term
 * fences and waits. */
bool role_takeover(const struct fsm_master_state *m, uint32_t self_id, uint64_t act_term)
{
	return m->previous && m->previous != self_id && m->since_term == act_term &&
	       (m->reason == DUET_MASTER_FAILOVER || m->reason == DUET_MASTER_FORCED);
}

uint64_t role_takeover_until(uint64_t lease_until, bool fence_confirmed, unsigned peer_timeout_s)
{
	if (fence_confirmed || peer_timeout_s == 0)
		return lease_until;
	return lease_until + ((uint64_t)peer_timeout_s + 1) * 1000u;
}

/* The previous master may act until its lease runs out. Its lease needs a
 * majority's acknowledgements; we only won our election once the witness
 * had not heard from it for a whole election timeout (> lease + drift), so
 * the lease is normally over already. The wait makes sure of it "in any
 * case" from what this node saw itself: our last message from it while it
 * led (or our own start, if we never heard it lead), plus lease + drift. */
uint64_t role_lease_wait_until(const struct role_chain_in *in)
{
	uint64_t base = in->contact_ms ? in->contact_ms : in->start_ms;
	return role_takeover_until(base + in->lease_ms + in->max_drift_ms, in->fenced,
				   in->watchdog_timeout_s);
}

static void set_text(struct role_step_entry *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_text(struct role_step_entry *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->text, sizeof e->text, fmt, ap);
	va_end(ap);
}

static const char *or_empty(const char *s)
{
	return s ? s : "";
}

/* ---- the chain ------------------------------------------------------------ */

static void fill_demote(const struct role_chain_in *in, struct role_chain_out *out)
{
	(void)in;
	out->why = "the role was lost during the activation";
}

static void fill_fence(const struct role_chain_in *in, struct role_chain_out *out)
{
	out->target = in->master->previous;
}

static void fill_wait(const struct role_chain_in *in, struct role_chain_out *out)
{
	out->until_ms = role_lease_wait_until(in);
}

static void fill_lease_over(const struct role_chain_in *in, struct role_chain_out *out)
{
	bool watchdog = in->watchdog_timeout_s != 0;
	struct role_step_entry *e = &out->entry;
	e->propose = true;
	e->action = DUET_STEP_LEASE_WAIT;
	e->node = in->master->previous;
	e->ok = true;
	/* from the commit of MASTER(self) to the end of the wait */
	e->duration_ms = in->now_ms > in->committed_ms ? in->now_ms - in->committed_ms : 0;
	set_text(e,
		 "the lease of %s has run out (%" PRIu32 " ms + %" PRIu32
		 " ms drift after our last contact)%s",
		 or_empty(in->previous_name), in->lease_ms, in->max_drift_ms,
		 !in->fence_configured ? (watchdog ? "; and its watchdog's timeout" : "")
		 : in->fenced          ? "; fenced as well"
		 : watchdog ? "; fencing FAILED, relying on the lease and its watchdog's timeout"
			    : "; fencing FAILED, relying on the lease");
}

static void fill_release_hold(const struct role_chain_in *in, struct role_chain_out *out)
{
	(void)in;
	out->release_stop_hold = true;
}

/* clang-format off */
static const struct chain_row chain_table[] = {
	/* step                 require                                                   forbid                                  cmd                                  next                  stamp                         fill               comment */
	{STEP_ANY,              C_BUSY,                                                   0,                                      ROLE_CHAIN_NOTHING,                  0,                    0,                            NULL,              "an action of the chain is in flight: its end comes back"},
	{STEP_ANY,              C_RETRY_WAIT,                                             0,                                      ROLE_CHAIN_NOTHING,                  0,                    0,                            NULL,              "a failed step waits for its retry time (the tick comes back)"},
	{STEP_ANY,              0,                                                        C_MAY_ACT,                              ROLE_CHAIN_DEMOTE,                   0,                    0,                            fill_demote,       "the role was lost: a paused node wakes up here and demotes, it never finishes an activation it started before (4.7)"},
	{ROLE_STEP_FENCE,       0,                                                        C_TAKEOVER,                             ROLE_CHAIN_ADVANCE,                  ROLE_STEP_LEASE_WAIT, 0,                            NULL,              "no takeover in this term: nobody to fence"},
	{ROLE_STEP_FENCE,       0,                                                        C_FENCE,                                ROLE_CHAIN_ADVANCE,                  ROLE_STEP_LEASE_WAIT, 0,                            NULL,              "no fence configured: the lease wait alone keeps the old master from acting"},
	{ROLE_STEP_FENCE,       C_TAKEOVER | C_FENCE,                                     0,                                      ROLE_CHAIN_RUN_FENCE,                0,                    0,                            fill_fence,        "a takeover with a fence configured: fence the previous master (4.4)"},
	{ROLE_STEP_LEASE_WAIT,  C_FROM_OTHER | C_LEASE_RUNNING,                           0,                                      ROLE_CHAIN_WAIT_UNTIL,               0,                    0,                            fill_wait,         "the old master's lease (and, unfenced, its watchdog's timeout) may still run: wait it out (4.4, 4.10); in a later term too: an activation of the MASTER entry's own term may never have got this far (the daemon restarted, leadership went and came back), and the old master may still stop or stall"},
	{ROLE_STEP_LEASE_WAIT,  C_TAKEOVER,                                               0,                                      ROLE_CHAIN_ADVANCE,                  ROLE_STEP_PROMOTE,    0,                            fill_lease_over,   "the old master's lease is over: say so in a STEP, then promote"},
	{ROLE_STEP_LEASE_WAIT,  0,                                                        0,                                      ROLE_CHAIN_ADVANCE,                  ROLE_STEP_PROMOTE,    0,                            NULL,              "no takeover: no lease to wait out"},
	{ROLE_STEP_PROMOTE,     0,                                                        C_PG,                                   ROLE_CHAIN_ADVANCE,                  ROLE_STEP_FIP,        ROLE_STAMP_PROMOTED,          NULL,              "no PostgreSQL to promote: done now (status and log show 0 ms)"},
	{ROLE_STEP_PROMOTE,     C_PG,                                                     C_PROBE_CURRENT | C_PROBE_BUSY,         ROLE_CHAIN_PROBE_PG,                 0,                    0,                            NULL,              "the last probe started before a demotion ended (it may have seen PostgreSQL up just before our own stop did its work): ask again (4.9)"},
	{ROLE_STEP_PROMOTE,     C_PG | C_PROBE_BUSY,                                      C_PROBE_CURRENT,                        ROLE_CHAIN_NOTHING,                  0,                    0,                            NULL,              "the last probe is stale and a new one is in flight: its end comes back"},
	{ROLE_STEP_PROMOTE,     C_PG | C_PROBE_CURRENT | C_PG_ERROR | C_STOPPED_BY_US,    C_PG_KNOWN | C_START,                   ROLE_CHAIN_NOTHING,                  0,                    0,                            fill_release_hold, "PostgreSQL does not answer and nothing will start it: its check counts again (it was held while our own demotion had stopped it)"},
	{ROLE_STEP_PROMOTE,     C_PG | C_PROBE_CURRENT | C_PG_ERROR | C_START | C_PROBE_FRESH, C_PG_KNOWN | C_STARTED_RECENTLY,   ROLE_CHAIN_START_PG,                 0,                    0,                            NULL,              "PostgreSQL does not answer (a fresh probe says so): start it"},
	{ROLE_STEP_PROMOTE,     C_PG | C_PROBE_CURRENT,                                   C_PG_KNOWN,                             ROLE_CHAIN_NOTHING,                  0,                    0,                            NULL,              "no answer yet, a stale error, or a server this activation started still in recovery (\"starting up\", within the promote timeout): the next probe comes back"},
	{ROLE_STEP_PROMOTE,     C_PG | C_PROBE_CURRENT | C_PG_KNOWN | C_PG_PRIMARY,       0,                                      ROLE_CHAIN_ADVANCE,                  ROLE_STEP_FIP,        ROLE_STAMP_PROMOTED_IF_UNSET, NULL,              "PostgreSQL is a primary already (promoted before, or a first start)"},
	{ROLE_STEP_PROMOTE,     C_PG | C_PROBE_CURRENT | C_PG_KNOWN,                      C_PG_PRIMARY,                           ROLE_CHAIN_CLEAR_NAMES_THEN_PROMOTE, 0,                    0,                            NULL,              "a standby: clear synchronous_standby_names first (a promoted standby would wait for a standby named after itself; the sync manager sets them again, 4.3), then promote"},
	{ROLE_STEP_FIP,         0,                                                        C_FIP,                                  ROLE_CHAIN_ADVANCE,                  ROLE_STEP_MANAGER,    ROLE_STAMP_FIP,               NULL,              "no FIP configured"},
	{ROLE_STEP_FIP,         C_FIP,                                                    0,                                      ROLE_CHAIN_ACQUIRE_FIP,              0,                    0,                            NULL,              "acquire the FIP (it asks may_act again before it adds the address)"},
	{ROLE_STEP_MANAGER,     0,                                                        C_MANAGER,                              ROLE_CHAIN_ADVANCE,                  ROLE_STEP_DONE,       0,                            NULL,              "no manager start_command"},
	{ROLE_STEP_MANAGER,     C_MANAGER,                                                0,                                      ROLE_CHAIN_START_MANAGER,            0,                    0,                            NULL,              "start the manager"},
	{ROLE_STEP_DONE,        0,                                                        0,                                      ROLE_CHAIN_DONE,                     0,                    0,                            NULL,              "every step done: acting master"},
};
/* clang-format on */

static unsigned chain_facts(const struct role_chain_in *in)
{
	unsigned f = 0;
	if (in->busy)
		f |= C_BUSY;
	if (in->now_ms < in->retry_at_ms)
		f |= C_RETRY_WAIT;
	if (in->may_act)
		f |= C_MAY_ACT;
	if (in->master && role_takeover(in->master, in->self_id, in->act_term))
		f |= C_TAKEOVER;
	if (in->master && role_takeover(in->master, in->self_id, in->master->since_term))
		f |= C_FROM_OTHER;
	if (in->fence_configured)
		f |= C_FENCE;
	if (in->now_ms < role_lease_wait_until(in))
		f |= C_LEASE_RUNNING;
	if (in->pg_configured)
		f |= C_PG;
	if (in->probe_current)
		f |= C_PROBE_CURRENT;
	if (in->probe_busy)
		f |= C_PROBE_BUSY;
	if (in->pg_known) {
		f |= C_PG_KNOWN;
		if (!in->pg_in_recovery)
			f |= C_PG_PRIMARY;
	}
	if (in->pg_error)
		f |= C_PG_ERROR;
	if (in->start_configured)
		f |= C_START;
	if (in->pg_started_ms && in->now_ms - in->pg_started_ms < in->promote_timeout_ms)
		f |= C_STARTED_RECENTLY;
	if (in->now_ms - in->pg_last_ms < 2u * in->probe_interval_ms)
		f |= C_PROBE_FRESH;
	if (in->pg_stopped_by_us)
		f |= C_STOPPED_BY_US;
	if (in->fip_configured)
		f |= C_FIP;
	if (in->manager_configured)
		f |= C_MANAGER;
	return f;
}

void role_chain_decide(const struct role_chain_in *in, struct role_chain_out *out)
{
	unsigned facts = chain_facts(in);
	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < sizeof chain_table / sizeof chain_table[0]; i++) {
		const struct chain_row *r = &chain_table[i];
		if (r->step != STEP_ANY && r->step != (int)in->step)
			continue;
		if ((facts & r->require) != r->require || (facts & r->forbid))
			continue;
		out->cmd = r->cmd;
		out->next = r->next;
		out->stamp = r->stamp;
		out->row = r->comment;
		if (r->fill)
			r->fill(in, out);
		return;
	}
	/* every step meets a row (the unit tests walk every combination) */
	out->cmd = ROLE_CHAIN_NOTHING;
	out->row = "no row matches: a bug in role/activation.c";
}

/* ---- what a result does to the chain -------------------------------------- */

typedef void (*outcome_fill_fn)(const struct role_outcome_in *in, struct role_outcome_out *out);

#define OK_ANY 2

struct outcome_row {
	enum role_chain_result result;
	int ok;  /* 0, 1, or OK_ANY */
	int may; /* may_act: 0, 1, or OK_ANY */
	bool set_step;
	enum role_step next;
	bool retry;
	uint32_t retry_ms;
	bool probe_now;
	bool pg_unknown;
	enum role_stamp stamp;
	uint8_t entry_action; /* a STEP entry (0: none), on self unless FENCE */
	outcome_fill_fn fill; /* its text, and more */
	enum role_then then;
	const char *comment;
};

static void entry_of(const struct role_outcome_in *in, struct role_outcome_out *out, uint8_t action)
{
	struct role_step_entry *e = &out->entry;
	e->propose = true;
	e->action = action;
	e->node = action == DUET_STEP_FENCE ? in->previous : in->self_id;
	e->ok = in->ok;
	e->duration_ms = in->took_ms;
}

static void fill_fence_not_started(const struct role_outcome_in *in, struct role_outcome_out *out)
{
	(void)in;
	out->entry.ok = false;
	out->entry.duration_ms = 0;
	set_text(&out->entry, "cannot start the fence action");
}

static void fill_fenced(const struct role_outcome_in *in, struct role_outcome_out *out)
{
	set_text(&out->entry, "%s %s: %s", or_empty(in->previous_name),
		 in->ok ? "is off" : "NOT fenced", or_empty(in->detail));
}

static void fill_promote_failed(const struct role_outcome_in *in, struct role_outcome_out *out)
{
	set_text(&out->entry, "pg_promote failed: %s", or_empty(in->detail));
}

static void fill_promoted(const struct role_outcome_in *in, struct role_outcome_out *out)
{
	(void)in;
	set_text(&out->entry, "PostgreSQL promoted with pg_promote(wait => true)");
}

static void fill_start_failed(const struct role_outcome_in *in, struct role_outcome_out *out)
{
	out->release_stop_hold = in->pg_stopped_by_us;
}

static void fill_detail(const struct role_outcome_in *in, struct role_outcome_out *out)
{
	set_text(&out->entry, "%s", or_empty(in->detail));
}

static void fill_manager(const struct role_outcome_in *in, struct role_outcome_out *out)
{
	set_text(&out->entry, "start_command: %s", or_empty(in->detail));
}

/* clang-format off */
static const struct outcome_row outcome_table[] = {
	/* result                        ok      may     set_step next                  retry  retry_ms       probe  unknown stamp                entry                fill                    then               comment */
	{ROLE_RESULT_NOT_STARTED,        OK_ANY, OK_ANY, false,   0,                    true,  ROLE_RETRY_MS, false, false,  0,                   0,                   NULL,                   ROLE_THEN_WAIT,    "an action did not start: the step runs again after ROLE_RETRY_MS"},
	{ROLE_RESULT_FENCE_NOT_STARTED,  OK_ANY, OK_ANY, true,    ROLE_STEP_LEASE_WAIT, false, 0,             false, false,  0,                   DUET_STEP_FENCE,     fill_fence_not_started, ROLE_THEN_CHAIN,   "the fence did not start: recorded as a failed fence; the lease wait follows in any case"},
	{ROLE_RESULT_FENCE,              1,      OK_ANY, true,    ROLE_STEP_LEASE_WAIT, false, 0,             false, false,  0,                   DUET_STEP_FENCE,     fill_fenced,            ROLE_THEN_CHAIN,   "the old master is off: the lease wait follows (a confirmed fence needs no watchdog wait)"},
	{ROLE_RESULT_FENCE,              0,      OK_ANY, true,    ROLE_STEP_LEASE_WAIT, false, 0,             false, false,  0,                   DUET_STEP_FENCE,     fill_fenced,            ROLE_THEN_CHAIN,   "a failed fence is not retried: the lease wait that follows keeps the old master from acting (4.4, \"in any case\")"},
	{ROLE_RESULT_CLEAR_NAMES,        1,      0,      false,   0,                    false, 0,             false, false,  0,                   0,                   NULL,                   ROLE_THEN_CHAIN,   "synchronous_standby_names cleared, but the role was lost meanwhile (lease, leadership or the log's master): no promotion, the chain decides again and demotes (4.7)"},
	{ROLE_RESULT_CLEAR_NAMES,        1,      1,      false,   0,                    false, 0,             false, false,  0,                   0,                   NULL,                   ROLE_THEN_PROMOTE, "synchronous_standby_names cleared and the node may still act: promote in the same step"},
	{ROLE_RESULT_CLEAR_NAMES,        0,      OK_ANY, false,   0,                    true,  ROLE_RETRY_MS, false, false,  0,                   0,                   NULL,                   ROLE_THEN_CHAIN,   "the names could not be cleared: no promotion, the step runs again after ROLE_RETRY_MS"},
	{ROLE_RESULT_PROMOTE,            1,      OK_ANY, true,    ROLE_STEP_FIP,        false, 0,             true,  true,   ROLE_STAMP_PROMOTED, DUET_STEP_PROMOTE,   fill_promoted,          ROLE_THEN_CHAIN,   "promoted: re-read PostgreSQL (a primary now), then the FIP"},
	{ROLE_RESULT_PROMOTE,            0,      OK_ANY, false,   0,                    true,  ROLE_RETRY_MS, true,  false,  0,                   DUET_STEP_PROMOTE,   fill_promote_failed,    ROLE_THEN_CHAIN,   "the promotion failed: probe again, retry after ROLE_RETRY_MS"},
	{ROLE_RESULT_START_PG,           1,      OK_ANY, false,   0,                    true,  0,             true,  false,  0,                   0,                   NULL,                   ROLE_THEN_DRIVE,   "started: the next probe decides (it may still be starting up)"},
	{ROLE_RESULT_START_PG,           0,      OK_ANY, false,   0,                    true,  ROLE_RETRY_MS, true,  false,  0,                   0,                   fill_start_failed,      ROLE_THEN_DRIVE,   "PostgreSQL does not start: not our own stop's doing any more, its check counts again; the activation keeps trying after ROLE_RETRY_MS"},
	{ROLE_RESULT_FIP,                1,      OK_ANY, true,    ROLE_STEP_MANAGER,    false, 0,             false, false,  ROLE_STAMP_FIP,      DUET_STEP_FIP,       fill_detail,            ROLE_THEN_CHAIN,   "the FIP is here: start the manager"},
	{ROLE_RESULT_FIP,                0,      OK_ANY, false,   0,                    true,  ROLE_RETRY_MS, false, false,  0,                   DUET_STEP_FIP,       fill_detail,            ROLE_THEN_CHAIN,   "the FIP could not be acquired: retry after ROLE_RETRY_MS"},
	{ROLE_RESULT_MANAGER,            1,      OK_ANY, true,    ROLE_STEP_DONE,       false, 0,             false, false,  0,                   DUET_STEP_MANAGER,   fill_manager,           ROLE_THEN_CHAIN,   "the manager runs: acting master"},
	{ROLE_RESULT_MANAGER,            0,      OK_ANY, false,   0,                    true,  ROLE_RETRY_MS, false, false,  0,                   DUET_STEP_MANAGER,   fill_manager,           ROLE_THEN_CHAIN,   "the manager did not start: retry after ROLE_RETRY_MS"},
};
/* clang-format on */

void role_chain_outcome(const struct role_outcome_in *in, struct role_outcome_out *out)
{
	bool may_act = in->may_act;
#ifdef DUET_SIM_PLANT_BUG_PROMOTE_WITHOUT_RECHECK
	may_act = true; /* planted (duet-sim-bug-promote_without_recheck): no re-check */
#endif
	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < sizeof outcome_table / sizeof outcome_table[0]; i++) {
		const struct outcome_row *r = &outcome_table[i];
		if (r->result != in->result || (r->ok != OK_ANY && r->ok != (int)in->ok) ||
		    (r->may != OK_ANY && r->may != (int)may_act))
			continue;
		out->set_step = r->set_step;
		out->next = r->next;
		out->retry = r->retry;
		out->retry_ms = r->retry_ms;
		out->probe_now = r->probe_now;
		out->pg_unknown = r->pg_unknown;
		out->stamp = r->stamp;
		out->then = r->then;
		out->row = r->comment;
		if (r->entry_action)
			entry_of(in, out, r->entry_action);
		if (r->fill)
			r->fill(in, out);
		return;
	}
	/* every result has a row (the unit tests walk them) */
	out->retry = true;
	out->retry_ms = ROLE_RETRY_MS;
	out->then = ROLE_THEN_WAIT;
	out->row = "no row matches: a bug in role/activation.c";
}
