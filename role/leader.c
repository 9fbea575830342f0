/* SPDX-License-Identifier: MIT */
/*
 * leader.c - the leader's master decision as tables (role.h; DESIGN.md
 * sections 2, 4.1, 4.5, 4.9 and 7).
 *
 * role/ is the data node's role controller without its hands: given plain
 * inputs (the raft status, the applied fsm, the last PostgreSQL probe, the
 * config values, what this node already did, and `now`) it returns one
 * command and the text status shows. It links fsm and raftlog's value
 * types only: no libuv, no libpq, no clock, no struct node. The daemon
 * (daemon/ctl.c) fills the input, performs the command with its actions
 * (ctl_propose_master, ctl_transfer) and records the outcome with
 * role_proposal_done().
 *
 * Each decision first reduces its input to facts (bits), then takes the
 * first row of its table whose required facts hold and whose forbidden
 * facts do not, like fsm/transitions.c. A row names the action and a fill
 * function that writes the texts; the comment says why the row is there.
 * The leader table covers every combination of facts (the unit tests walk
 * them all); the fallback row is for a bug, and says so in status.
 *
 * The controller's turn (demote, activate) is role/turn.c, the activation
 * chain role/activation.c, the standby's housekeeping role/standby.c. What
 * moves here next, each as a whole step that leaves the tree green (today
 * in daemon/ctl*.c, impure):
 *  - the SYNC order of DESIGN.md 4.2/4.3/4.6 (ctl_sync.c);
 *  - the switchover's stop-then-propose sequence (ctl_switchover.c);
 *  - the rebuild's states (ctl_rebuild.c) and the rejoin decisions.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "duet/role.h"

enum role_fact {
	/* role_leader_decide */
	F_HAS_MASTER = 1u << 0,      /* the applied log names a master */
	F_MASTER_IN_TOUCH = 1u << 1, /* it acked within 3 heartbeats and holds the commit index */
	F_MASTER_FAILING = 1u << 2,  /* a critical check fails there (committed health) */
	F_SELF_SYNC = 1u << 3,       /* this node is the synchronous standby: promotable */
	F_MAINTENANCE = 1u << 4,     /* duetctl maintenance on */
	F_PROPOSED = 1u << 5,        /* raft took a MASTER proposal in this term */
	F_RETRY_WAIT = 1u << 6,      /* one failed in this term and its retry time has not come */
	F_PG = 1u << 7,              /* a local PostgreSQL is configured */
	F_PG_KNOWN = 1u << 8,        /* its last probe answered */
	F_PG_PRIMARY = 1u << 9,      /* ... as a primary */
	/* role_step_down_decide */
	F_LEADING_MASTER = 1u << 10, /* activating or acting master, and the raft leader */
	F_SELF_FAILING = 1u << 11,   /* a critical check fails on this node (committed) */
	F_STEPPED_DOWN = 1u << 12,   /* the hand-over of this term started already */
	F_OTHER_SYNC = 1u << 13,     /* the other data node is the synchronous standby */
	/* role_leader_decide, no master yet */
	F_OTHER_IN_TOUCH =
	    1u << 14, /* the other data node acked within 3 heartbeats, holds the commit */
};

typedef void (*role_fill_fn)(const struct role_leader_in *in, struct role_leader_out *out);

struct role_row {
	unsigned require; /* enum role_fact bits that must hold */
	unsigned forbid;  /* ... that must not */
	enum role_leader_action action;
	uint8_t reason;    /* PROPOSE_MASTER: enum duet_master_reason */
	role_fill_fn fill; /* writes to, texts, detail; NULL: the status text stays */
	const char *comment;
};

/* ---- helpers -------------------------------------------------------------- */

static const char *member_name(const struct role_leader_in *in, uint32_t id)
{
	const struct duet_member *m = in->members ? duet_membership_find(in->members, id) : NULL;
	return m ? m->name : "none";
}

static uint32_t master_of(const struct role_leader_in *in)
{
	return in->fsm->master.node;
}

/* Sets the status text. */
static void set_why(struct role_leader_out *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_why(struct role_leader_out *out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out->why, sizeof out->why, fmt, ap);
	va_end(ap);
	out->why_set = true;
}

static const char *pg_err_or_none(const struct role_leader_in *in)
{
	return in->pg_err && in->pg_err[0] ? in->pg_err : "no probe yet";
}

bool role_check_failing(const struct fsm *f, uint32_t id)
{
	const struct fsm_node *fn = fsm_node_find(f, id);
	if (!fn)
		return false;
	for (uint32_t i = 0; i < fn->n_checks; i++)
		if (fn->checks[i].critical && fn->checks[i].state == DUET_HEALTH_FAILING)
			return true;
	return false;
}

uint32_t role_other_data(const struct duet_membership *c, uint32_t self_id)
{
	for (uint32_t i = 0; i < c->n; i++) {
		const struct duet_member *m = &c->members[i];
		if (m->kind == DUET_MEMBER_DATA && m->id != self_id)
			return m->id;
	}
	return 0;
}

static uint32_t other_data(const struct role_leader_in *in)
{
	return in->members ? role_other_data(in->members, in->self_id) : 0;
}

void role_proposal_done(struct role_proposal *p, uint64_t term, int rc, uint64_t now_ms)
{
	if (rc == 0) {
		p->proposed_term = term;
		return;
	}
	p->failed_term = term;
	p->failed_rc = rc;
	p->retry_at_ms = now_ms + ROLE_PROPOSE_RETRY_MS;
}

const char *role_leader_action_name(enum role_leader_action a)
{
	switch (a) {
	case ROLE_LEADER_WAIT:
		return "wait";
	case ROLE_LEADER_PROPOSE_MASTER:
		return "propose MASTER";
	case ROLE_LEADER_HAND_BACK:
		return "hand back";
	case ROLE_LEADER_TRANSFER:
		return "transfer";
	case ROLE_LEADER_STEP_DOWN:
		return "step down";
	}
	return "?";
}

/* Runs facts through a table; the first matching row fills *out. */
static void role_run(const struct role_row *table, size_t n, unsigned facts,
		     const struct role_leader_in *in, struct role_leader_out *out)
{
	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < n; i++) {
		const struct role_row *r = &table[i];
		if ((facts & r->require) != r->require || (facts & r->forbid))
			continue;
		out->action = r->action;
		out->reason = r->reason;
		out->row = r->comment;
		if (r->fill)
			r->fill(in, out);
		return;
	}
	/* every table ends with a row that matches anything it can be given */
	out->action = ROLE_LEADER_WAIT;
	out->row = "no row matches: a bug in role/leader.c";
	set_why(out, "the role controller has no rule for this state (facts 0x%x): waiting", facts);
}

/* ---- the leader that is not master ---------------------------------------- */

static void fill_hand_back_alive(const struct role_leader_in *in, struct role_leader_out *out)
{
	out->to = master_of(in);
	out->transfer_why = "the master is alive";
	set_why(out, "the master %s is alive and in touch: leadership handed back",
		member_name(in, out->to));
}

static void fill_hand_back_not_sync(const struct role_leader_in *in, struct role_leader_out *out)
{
	out->to = master_of(in);
	out->transfer_why = "the master is alive; this node cannot be master";
	set_why(out,
		"the master %s is alive and in touch (a critical check fails there, but this "
		"node is not SYNC): leadership handed back",
		member_name(in, out->to));
}

static void fill_maintenance(const struct role_leader_in *in, struct role_leader_out *out)
{
	set_why(out, "maintenance is on (entry %" PRIu64 "): no automatic failover",
		in->fsm->maintenance_since);
}

static void fill_retry_wait(const struct role_leader_in *in, struct role_leader_out *out)
{
	const struct role_proposal *p = in->proposal;
	set_why(out,
		"MASTER(%s) could not be proposed in term %" PRIu64 " (%s): proposing again in "
		"%" PRIu64 " ms",
		in->self_name, p->failed_term, duet_strerror(p->failed_rc),
		p->retry_at_ms - in->now_ms);
}

static void fill_first_start_no_pg(const struct role_leader_in *in, struct role_leader_out *out)
{
	snprintf(out->detail, sizeof out->detail, "first start");
}

static void fill_no_master_pg_silent(const struct role_leader_in *in, struct role_leader_out *out)
{
	set_why(out, "no master yet, and the local PostgreSQL does not answer: %.180s",
		pg_err_or_none(in));
}

static void fill_first_start_primary(const struct role_leader_in *in, struct role_leader_out *out)
{
	snprintf(out->detail, sizeof out->detail,
		 "first start: %s leads term %" PRIu64 " and its PostgreSQL is a primary",
		 in->self_name, in->raft->term);
}

static void fill_first_start_to_primary(const struct role_leader_in *in,
					struct role_leader_out *out)
{
	out->to = other_data(in);
	out->transfer_why = "first start, its PostgreSQL is the primary";
	set_why(out, "no master yet and the local PostgreSQL is a standby: leadership goes to %s",
		member_name(in, out->to));
}

static void fill_not_sync(const struct role_leader_in *in, struct role_leader_out *out)
{
	const struct fsm_node *fn = fsm_node_find(in->fsm, in->self_id);
	set_why(out,
		"no promotable standby: %s is not a synchronous standby (SYNC off since entry "
		"%" PRIu64 "); the master %s is gone; only duetctl promote --accept-data-loss "
		"can override",
		in->self_name, fn ? fn->sync_since_index : 0, member_name(in, master_of(in)));
	snprintf(out->detail, sizeof out->detail, "%s leads term %" PRIu64 " but is not SYNC",
		 in->self_name, in->raft->term);
}

static void fill_pg_silent(const struct role_leader_in *in, struct role_leader_out *out)
{
	set_why(out, "the local PostgreSQL does not answer (%.180s): not taking over yet",
		pg_err_or_none(in));
}

static void fill_first_start_primary_gone(const struct role_leader_in *in,
					  struct role_leader_out *out)
{
	set_why(out,
		"no master yet and the local PostgreSQL is a standby; %s, whose PostgreSQL "
		"would be the primary, is out of touch: waiting for it",
		member_name(in, other_data(in)));
}

static void fill_failover(const struct role_leader_in *in, struct role_leader_out *out)
{
	snprintf(out->detail, sizeof out->detail,
		 "%s leads term %" PRIu64 " with the lease; %s is gone", in->self_name,
		 in->raft->term, member_name(in, master_of(in)));
	set_why(out, "%s", "");
}

/* clang-format off */
static const struct role_row leader_table[] = {
	/* require                                          forbid                     action                      reason                   fill                          comment */
	{F_HAS_MASTER | F_MASTER_IN_TOUCH,                  F_MASTER_FAILING,          ROLE_LEADER_HAND_BACK,      0,                       fill_hand_back_alive,         "the master is alive and in touch (the witness handed leadership here, or a blip): give leadership back, no failover"},
	{F_HAS_MASTER | F_MASTER_IN_TOUCH | F_MASTER_FAILING, F_SELF_SYNC,             ROLE_LEADER_HAND_BACK,      0,                       fill_hand_back_not_sync,      "the master fails a check but MASTER(self) would be refused: leading, it starts its PostgreSQL again, where this node could only wait (4.9)"},
	{F_MAINTENANCE,                                     0,                         ROLE_LEADER_WAIT,           0,                       fill_maintenance,             "maintenance: no automatic failover (hand-back above still works)"},
	{F_PROPOSED,                                        0,                         ROLE_LEADER_WAIT,           0,                       NULL,                         "MASTER was proposed in this term: once a term, its commit decides"},
	{F_RETRY_WAIT,                                      0,                         ROLE_LEADER_WAIT,           0,                       fill_retry_wait,              "the last MASTER proposal of this term failed: propose again after ROLE_PROPOSE_RETRY_MS"},
	{0,                                                 F_HAS_MASTER | F_PG,       ROLE_LEADER_PROPOSE_MASTER, DUET_MASTER_FIRST_START, fill_first_start_no_pg,       "no master and no PostgreSQL to look at: first start"},
	{F_PG,                                              F_HAS_MASTER | F_PG_KNOWN, ROLE_LEADER_WAIT,           0,                       fill_no_master_pg_silent,     "no master and the local PostgreSQL does not answer: wait for a probe"},
	{F_PG | F_PG_KNOWN | F_PG_PRIMARY,                  F_HAS_MASTER,              ROLE_LEADER_PROPOSE_MASTER, DUET_MASTER_FIRST_START, fill_first_start_primary,     "no master and the local PostgreSQL is a primary: first start here"},
	{F_PG | F_PG_KNOWN,                                 F_HAS_MASTER | F_PG_PRIMARY | F_OTHER_IN_TOUCH, ROLE_LEADER_WAIT, 0,      fill_first_start_primary_gone, "no master, the local PostgreSQL is a standby and the other node is out of touch: a transfer to it would fail and, while in flight, refuse every proposal (a rejoin of that node among them: duet-sim seed 507 livelocked)"},
	{F_PG | F_PG_KNOWN | F_OTHER_IN_TOUCH,              F_HAS_MASTER | F_PG_PRIMARY, ROLE_LEADER_TRANSFER,     0,                       fill_first_start_to_primary,  "no master and the local PostgreSQL is a standby: the other node's is the primary, leadership goes there"},
	{F_HAS_MASTER,                                      F_SELF_SYNC,               ROLE_LEADER_PROPOSE_MASTER, DUET_MASTER_FAILOVER,    fill_not_sync,                "the master is gone and this node is not SYNC: propose anyway, the fsm refuses and audits it once a term (4.5)"},
	{F_HAS_MASTER | F_SELF_SYNC | F_PG,                 F_PG_KNOWN,                ROLE_LEADER_WAIT,           0,                       fill_pg_silent,               "the master is gone but the local PostgreSQL does not answer: not taking over yet"},
	{F_HAS_MASTER | F_SELF_SYNC,                        0,                         ROLE_LEADER_PROPOSE_MASTER, DUET_MASTER_FAILOVER,    fill_failover,                "the master is gone and this node is the synchronous standby: failover"},
};
/* clang-format on */

/* The member acked within 3 heartbeats and holds the commit index. */
static bool in_touch(const struct role_leader_in *in, uint32_t id)
{
	const struct raft_status *st = in->raft;
	for (uint32_t i = 0; i < st->n_peers; i++) {
		const struct raft_peer_status *peer = &st->peers[i];
		if (peer->id == id && peer->last_ack_ms &&
		    in->now_ms - peer->last_ack_ms < in->heartbeat_ms * 3u &&
		    peer->match_index >= st->commit_index)
			return true;
	}
	return false;
}

static unsigned leader_facts(const struct role_leader_in *in)
{
	const struct raft_status *st = in->raft;
	const struct role_proposal *p = in->proposal;
	uint32_t master = master_of(in);
	unsigned f = 0;
	if (master) {
		f |= F_HAS_MASTER;
		if (in_touch(in, master))
			f |= F_MASTER_IN_TOUCH;
		if (role_check_failing(in->fsm, master))
			f |= F_MASTER_FAILING;
	}
	if (in_touch(in, other_data(in)))
		f |= F_OTHER_IN_TOUCH;
	if (fsm_role_of(in->fsm, in->self_id) == FSM_ROLE_SYNC_STANDBY)
		f |= F_SELF_SYNC;
	if (in->fsm->maintenance)
		f |= F_MAINTENANCE;
	if (p && p->proposed_term == st->term)
		f |= F_PROPOSED;
	if (p && p->failed_term == st->term && in->now_ms < p->retry_at_ms)
		f |= F_RETRY_WAIT;
	if (in->pg_configured) {
		f |= F_PG;
		if (in->pg_known) {
			f |= F_PG_KNOWN;
			if (!in->pg_in_recovery)
				f |= F_PG_PRIMARY;
		}
	}
	return f;
}

void role_leader_decide(const struct role_leader_in *in, struct role_leader_out *out)
{
	role_run(leader_table, sizeof leader_table / sizeof leader_table[0], leader_facts(in), in,
		 out);
}

/* ---- the acting master that fails a critical check ------------------------ */

static void fill_hold_maintenance(const struct role_leader_in *in, struct role_leader_out *out)
{
	set_why(out,
		"a critical check fails on this master, but maintenance is on (entry %" PRIu64
		"): staying master",
		in->fsm->maintenance_since);
	out->log_why = in->maintenance_hold_term != in->raft->term;
}

static void fill_hold_not_sync(const struct role_leader_in *in, struct role_leader_out *out)
{
	set_why(out,
		"a critical check fails on this master, but %s is not a synchronous standby: "
		"staying master",
		member_name(in, other_data(in)));
}

static void fill_step_down(const struct role_leader_in *in, struct role_leader_out *out)
{
	out->to = other_data(in);
	out->transfer_why = "a critical check fails on the master";
}

/* clang-format off */
static const struct role_row step_down_table[] = {
	/* require          forbid            action                 reason fill                   comment */
	{0,                 F_LEADING_MASTER, ROLE_LEADER_WAIT,      0,     NULL,                  "not the leader acting (or activating) as master: nothing to hand over"},
	{0,                 F_SELF_FAILING,   ROLE_LEADER_WAIT,      0,     NULL,                  "no critical check fails on this master"},
	{F_STEPPED_DOWN,    0,                ROLE_LEADER_WAIT,      0,     NULL,                  "the hand-over of this term has started already"},
	{F_MAINTENANCE,     0,                ROLE_LEADER_WAIT,      0,     fill_hold_maintenance, "a hand-over is a failover: maintenance holds it back (the operator may be stopping PostgreSQL on purpose)"},
	{0,                 F_OTHER_SYNC,     ROLE_LEADER_WAIT,      0,     fill_hold_not_sync,    "the other data node is not SYNC, MASTER(it) would be refused: staying master"},
	{0,                 0,                ROLE_LEADER_STEP_DOWN, 0,     fill_step_down,        "hand leadership to the synchronous standby; the committed HEALTH tells it not to hand back (DESIGN.md 7)"},
};
/* clang-format on */

static unsigned step_down_facts(const struct role_leader_in *in)
{
	unsigned f = 0;
	if (in->acting && in->raft->role == RAFT_LEADER)
		f |= F_LEADING_MASTER;
	if (role_check_failing(in->fsm, in->self_id) || in->self_failing_committed)
		f |= F_SELF_FAILING;
	if (in->stepdown_term == in->raft->term)
		f |= F_STEPPED_DOWN;
	if (in->fsm->maintenance)
		f |= F_MAINTENANCE;
	if (fsm_role_of(in->fsm, other_data(in)) == FSM_ROLE_SYNC_STANDBY)
		f |= F_OTHER_SYNC;
	return f;
}

void role_step_down_decide(const struct role_leader_in *in, struct role_leader_out *out)
{
	role_run(step_down_table, sizeof step_down_table / sizeof step_down_table[0],
		 step_down_facts(in), in, out);
}
