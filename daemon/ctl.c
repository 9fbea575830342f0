/* SPDX-License-Identifier: MIT */
/*
 * ctl.c - the data node's role controller (ctl.h): acting or not, the
 * activation chain, demotion, and the leader's failover proposals.
 *
 * The decisions are role/'s, pure (include/duet/role.h): the turn
 * (role/turn.c), the activation chain and its outcomes (role/activation.c),
 * the leader's proposals (role/leader.c), the standby's housekeeping
 * (role/standby.c). This file fills their inputs from the node, performs
 * the command they return with actions/ (libpq, commands, netlink, fence)
 * and feeds each action's result back.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "duet/actions.h"
#include "node_internal.h"
#include "status.h"

#define CTL_TRANSFER_GAP 2000 /* at most one leadership transfer per this (ms) */

/* Copies src into dst[cap], cut if need be, always terminated. */
static void scopy(char *dst, size_t cap, const char *src)
{
	size_t len = strnlen(src, cap - 1);
	memcpy(dst, src, len);
	dst[len] = '\0';
}

void ctl_fip_config(const struct duet_config_actions *a, struct duet_fip_config *fc)
{
	memset(fc, 0, sizeof *fc);
	scopy(fc->address, sizeof fc->address, a->fip_address);
	scopy(fc->interface, sizeof fc->interface, a->fip_interface);
	scopy(fc->add_command, sizeof fc->add_command, a->fip_add_command);
	scopy(fc->del_command, sizeof fc->del_command, a->fip_del_command);
	scopy(fc->check_command, sizeof fc->check_command, a->fip_check_command);
	fc->garp_count = a->fip_garp_count;
	fc->garp_interval_ms = 50;
	fc->timeout_ms = a->fip_timeout_ms;
}

uint32_t ctl_other_data(const struct node *n)
{
	return role_other_data(&n->cfg.membership, n->cfg.self_id);
}

static const char *member_name(const struct node *n, uint32_t id)
{
	const struct duet_member *m = duet_membership_find(&n->cfg.membership, id);
	return m ? m->name : "none";
}

uint64_t ctl_parse_lsn(const char *text)
{
	unsigned long long hi = 0, lo = 0;
	if (!text || sscanf(text, "%llX/%llX", &hi, &lo) != 2)
		return 0;
	return ((uint64_t)hi << 32) | (uint64_t)lo;
}

/* ---- the local PostgreSQL probe ------------------------------------------ */

struct pg_probe_ctx {
	struct node *n;
};

static void pg_probe_maybe(struct node *n);

static void pg_probe_done(void *data, int rc, const struct duet_pg_state *st, const char *err)
{
	struct node *n = data;
	struct ctl *c = &n->ctl;
	c->pg_probe_busy = false;
	c->pg_last_ms = node_now_ms();
	c->pg_last_started_ms = c->pg_probe_started_ms;
	c->pg_last_epoch = c->pg_probe_epoch;
	if (rc == -ECANCELED || n->stopping)
		return;
	if (rc == 0 && st) {
		/* PostgreSQL runs again after our own stop: its check counts again */
		if (c->pg_last_epoch == c->demote_epoch && !c->demotions_in_flight)
			c->pg_stopped_by_us = false;
		c->pg_known = true;
		c->pg_last = *st;
		c->pg_err[0] = '\0';
	} else {
		c->pg_known = false;
		scopy(c->pg_err, sizeof c->pg_err, err && err[0] ? err : duet_strerror(rc));
	}
	ctl_step(n);
	node_drive_later(n);
}

void ctl_probe_now(struct node *n)
{
	n->ctl.pg_next_probe = 0;
	pg_probe_maybe(n);
}

static void pg_probe_maybe(struct node *n)
{
	struct ctl *c = &n->ctl;
	uint64_t now = node_now_ms();
	if (!c->pg || c->pg_probe_busy || now < c->pg_next_probe)
		return;
	c->pg_next_probe = now + n->cfg.act.pg_probe_interval_ms;
	if (duet_pg_probe(c->pg, pg_probe_done, n) == 0) {
		c->pg_probe_busy = true;
		c->pg_probe_started_ms = now;
		c->pg_probe_epoch = c->demote_epoch;
	}
}

/* ---- demotion ------------------------------------------------------------ */

/* One demotion action ended. DESIGN.md 4.9: an activation waits until the
 * last one has (ctl_step), and then trusts only a probe of PostgreSQL that
 * started afterwards (demote_epoch); a switchover hands over only when
 * none failed (ctl_switchover.c). */
static void demotion_ended(struct node *n, bool ok, const char *what)
{
	struct ctl *c = &n->ctl;
	c->demotions_in_flight--;
	if (!ok) {
		c->demote_failed = true;
		scopy(c->demote_error, sizeof c->demote_error, what);
	}
	if (!c->demotions_in_flight)
		c->demote_epoch++;
	if (!n->stopping)
		node_drive_later(n); /* an activation or a switchover waits for this */
}

static void demote_cmd_done(void *data, const struct duet_cmd_result *r)
{
	struct node *n = data;
	char what[300];
	duet_cmd_describe(r, what, sizeof what);
	duet_log(r->exit_status == 0 ? DUET_LOG_INFO : DUET_LOG_ERROR, "demotion command: %s",
		 what);
	demotion_ended(n, r->exit_status == 0, what);
}

static void demote_fip_done(void *data, int rc, const char *detail)
{
	struct node *n = data;
	char what[300];
	snprintf(what, sizeof what, "FIP release: %.280s",
		 detail && detail[0] ? detail : duet_strerror(rc));
	duet_log(rc ? DUET_LOG_ERROR : DUET_LOG_INFO, "demotion: FIP %s: %s",
		 rc ? "release FAILED" : "released", detail ? detail : "");
	if (rc) /* the standby's sweep tries again, with backoff */
		n->ctl.sweep.at_ms = 0;
	demotion_ended(n, rc == 0, what);
}

/* `pg_stop`: cmd stops the local PostgreSQL. Unless a critical check of
 * this node already fails in the log (then the stop is not the cause), the
 * pg check is held while PostgreSQL is down by our own doing: a failure
 * caused by the node's own demotion is not a health failure (DESIGN.md
 * 4.9; ctl_health_step). */
static void run_demote_cmd(struct node *n, const char *cmd, bool pg_stop)
{
	if (!cmd[0])
		return;
	if (duet_cmd_run(n->loop, cmd, NULL, n->cfg.act.manager_timeout_ms, demote_cmd_done, n,
			 NULL) == 0) {
		n->ctl.demotions_in_flight++;
		if (pg_stop && !ctl_check_failing(n, n->cfg.self_id))
			n->ctl.pg_stopped_by_us = true;
	} else {
		n->ctl.demote_failed = true;
		snprintf(n->ctl.demote_error, sizeof n->ctl.demote_error, "cannot run '%.200s'",
			 cmd);
		duet_log(DUET_LOG_ERROR, "demotion: cannot run '%s'", cmd);
	}
}

/*
 * Stops acting, at once: PostgreSQL first (no write may be acknowledged by a
 * node that is not the master), FIP, manager; in parallel. `pg_primary`:
 * stop PostgreSQL (the node acted, or the probe says it is a primary); a
 * standby's PostgreSQL keeps streaming.
 */
void ctl_demote(struct node *n, const char *why, bool pg_primary)
{
	struct ctl *c = &n->ctl;
	c->gen++;
	c->step_busy = false;
	c->demotions++;
	if (!c->demotions_in_flight) {
		c->demote_failed = false;
		c->demote_error[0] = '\0';
	}
	duet_log(DUET_LOG_WARN, "demoting (%s): %s%s%s", why,
		 pg_primary && n->cfg.act.pg_stop_command[0] ? "PostgreSQL stopped, " : "",
		 c->fip ? "FIP released, " : "",
		 n->cfg.act.manager_stop_command[0] ? "manager stopped" : "");
	if (pg_primary)
		run_demote_cmd(n, n->cfg.act.pg_stop_command, true);
	if (c->fip) {
		if (duet_fip_release(c->fip, demote_fip_done, n) == 0) {
			c->demotions_in_flight++;
		} else {
			c->demote_failed = true;
			scopy(c->demote_error, sizeof c->demote_error,
			      "the FIP release could not be queued");
			c->sweep.at_ms = 0;
		}
	}
	run_demote_cmd(n, n->cfg.act.manager_stop_command, false);
	c->act = CTL_STANDBY;
	/* a STEP for the audit, if this node can still write one (it can when
	 * a critical check made it hand over; not when the lease was lost) */
	ctl_propose_step(n, DUET_STEP_DEMOTE, n->cfg.self_id, true, 0, "%s", why);
}

/* ---- the activation chain ----------------------------------------------- */

/* role/activation.c decides each step (role_chain_decide) and what an
 * action's result does to the chain (role_chain_outcome); this performs the
 * command with actions/ and records what it observed. */

static void chain_next(struct node *n);

/* Each async step carries the generation it started in. */
struct step_ctx {
	struct node *n;
	uint64_t gen;
	uint64_t start;
	int step;
};

static struct step_ctx *step_ctx_new(struct node *n)
{
	struct step_ctx *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->n = n;
	s->gen = n->ctl.gen;
	s->start = node_now_ms();
	s->step = n->ctl.step;
	n->ctl.step_busy = true;
	return s;
}

/* True when the step's result still matters; frees s otherwise. */
static bool step_current(struct step_ctx *s)
{
	struct node *n = s->n;
	if (n->stopping || s->gen != n->ctl.gen || n->ctl.act != CTL_ACTIVATING) {
		free(s);
		return false;
	}
	n->ctl.step_busy = false;
	return true;
}

static void propose_entry(struct node *n, const struct role_step_entry *e)
{
	ctl_propose_step(n, e->action, e->node, e->ok, e->duration_ms, "%s", e->text);
}

static void stamp(struct node *n, enum role_stamp what, uint64_t now)
{
	struct ctl *c = &n->ctl;
	switch (what) {
	case ROLE_STAMP_NONE:
		break;
	case ROLE_STAMP_PROMOTED:
		c->last.promoted_ms = now;
		break;
	case ROLE_STAMP_PROMOTED_IF_UNSET:
		if (!c->last.promoted_ms || c->last.term != c->act_term)
			c->last.promoted_ms = now;
		break;
	case ROLE_STAMP_FIP:
		c->last.fip_ms = now;
		break;
	}
}

static void promote_done(void *data, int rc, const char *err);

/* Feeds an action's result to role/ and performs what it says. s is the
 * step's context: kept for the promotion that follows cleared names, freed
 * otherwise. */
static void chain_result(struct node *n, struct step_ctx *s, enum role_chain_result result, bool ok,
			 const char *detail, uint64_t took_ms)
{
	struct ctl *c = &n->ctl;
	struct role_outcome_in in;
	struct role_outcome_out out;
	memset(&in, 0, sizeof in);
	in.result = result;
	in.ok = ok;
	in.detail = detail;
	in.self_id = n->cfg.self_id;
	in.previous = n->fsm.master.previous;
	in.previous_name = member_name(n, in.previous);
	in.took_ms = took_ms;
	in.pg_stopped_by_us = c->pg_stopped_by_us;
	in.may_act = ctl_may_act(n);
	role_chain_outcome(&in, &out);
	uint64_t now = node_now_ms();
	if (out.entry.propose)
		propose_entry(n, &out.entry);
	stamp(n, out.stamp, now);
	if (out.pg_unknown)
		c->pg_known = false; /* re-read: it is a primary now */
	if (out.probe_now)
		c->pg_next_probe = 0;
	if (out.release_stop_hold && c->pg_stopped_by_us) {
		c->pg_stopped_by_us = false;
		duet_log(DUET_LOG_WARN,
			 "PostgreSQL does not start: its check counts again (it was held while "
			 "our own demotion had stopped it)");
	}
	if (out.retry)
		c->retry_at = now + out.retry_ms;
	if (out.set_step)
		c->step = out.next;
	if (out.then != ROLE_THEN_PROMOTE)
		free(s);
	switch (out.then) {
	case ROLE_THEN_CHAIN:
		chain_next(n);
		break;
	case ROLE_THEN_PROMOTE: {
		/* promote with the same context */
		c->step_busy = true;
		uint32_t wait_s = (n->cfg.act.pg_promote_timeout_ms + 999) / 1000;
		if (duet_pg_promote(c->pg, wait_s, promote_done, s) != 0) {
			c->step_busy = false;
			chain_result(n, s, ROLE_RESULT_NOT_STARTED, false, NULL, 0);
		}
		break;
	}
	case ROLE_THEN_DRIVE:
		node_drive_later(n);
		break;
	case ROLE_THEN_WAIT:
		break;
	}
}

/* An action of the chain did not start (rc != 0): forget its context and
 * let role/ say when to try again. */
static void step_started(struct node *n, struct step_ctx *s, int rc)
{
	if (rc) {
		n->ctl.step_busy = false;
		chain_result(n, s, ROLE_RESULT_NOT_STARTED, false, NULL, 0);
	}
}

static void fence_done(void *data, bool ok, uint64_t duration_ms, const char *detail)
{
	struct step_ctx *s = data;
	if (!step_current(s))
		return;
	struct node *n = s->n;
	n->ctl.last.fence_tried = true;
	n->ctl.last.fenced = ok;
	scopy(n->ctl.last.fence_detail, sizeof n->ctl.last.fence_detail, detail ? detail : "");
	chain_result(n, s, ROLE_RESULT_FENCE, ok, detail, duration_ms);
}

static void promote_done(void *data, int rc, const char *err)
{
	struct step_ctx *s = data;
	if (!step_current(s))
		return;
	struct node *n = s->n;
	uint64_t took = node_now_ms() - s->start;
	chain_result(n, s, ROLE_RESULT_PROMOTE, rc == 0, err ? err : duet_strerror(rc), took);
}

static void clear_names_done(void *data, int rc, const char *err)
{
	struct step_ctx *s = data;
	if (!step_current(s))
		return;
	struct node *n = s->n;
	if (rc)
		duet_log(DUET_LOG_WARN,
			 "clearing synchronous_standby_names before promotion failed: %s",
			 err ? err : duet_strerror(rc));
	chain_result(n, s, ROLE_RESULT_CLEAR_NAMES, rc == 0, err, 0);
}

static void pg_start_done(void *data, const struct duet_cmd_result *r)
{
	struct step_ctx *s = data;
	if (!step_current(s))
		return;
	struct node *n = s->n;
	char what[300];
	duet_cmd_describe(r, what, sizeof what);
	duet_log(r->exit_status == 0 ? DUET_LOG_INFO : DUET_LOG_WARN,
		 "PostgreSQL start_command: %s", what);
	n->ctl.pg_started_ms = r->exit_status == 0 ? node_now_ms() : 0;
	chain_result(n, s, ROLE_RESULT_START_PG, r->exit_status == 0, what, 0);
}

static void fip_done(void *data, int rc, const char *detail)
{
	struct step_ctx *s = data;
	if (!step_current(s))
		return;
	struct node *n = s->n;
	uint64_t took = node_now_ms() - s->start;
	chain_result(n, s, ROLE_RESULT_FIP, rc == 0,
		     detail && detail[0] ? detail : duet_strerror(rc), took);
}

static void manager_done(void *data, const struct duet_cmd_result *r)
{
	struct step_ctx *s = data;
	if (!step_current(s))
		return;
	struct node *n = s->n;
	uint64_t took = node_now_ms() - s->start;
	char what[300];
	duet_cmd_describe(r, what, sizeof what);
	chain_result(n, s, ROLE_RESULT_MANAGER, r->exit_status == 0, what, took);
}

/* Our last message from `previous` while it led (0: never since we started). */
static uint64_t contact_of(const struct node *n, uint32_t previous)
{
	uint64_t at = 0;
	for (uint32_t i = 0; i < DUET_MAX_MEMBERS; i++)
		if (n->ctl.contact_id[i] == previous && n->ctl.contact_ms[i])
			at = n->ctl.contact_ms[i];
	return at;
}

/* The input of role_chain_decide, from this node's state. */
static void chain_in(struct node *n, struct role_chain_in *in)
{
	struct ctl *c = &n->ctl;
	const struct duet_config_actions *a = &n->cfg.act;
	uint32_t prev = n->fsm.master.previous;
	memset(in, 0, sizeof *in);
	in->step = (enum role_step)c->step;
	in->now_ms = node_now_ms();
	in->busy = c->step_busy;
	in->retry_at_ms = c->retry_at;
	in->may_act = ctl_may_act(n);
	in->master = &n->fsm.master;
	in->self_id = n->cfg.self_id;
	in->act_term = c->act_term;
	in->previous_name = member_name(n, prev);
	in->fence_configured = a->fence_method != DUET_CONFIG_FENCE_NONE;
	in->fenced = c->last.fenced;
	in->start_ms = n->start_ms;
	in->contact_ms = contact_of(n, prev);
	in->lease_ms = n->cfg.raft.lease_ms;
	in->max_drift_ms = n->cfg.raft.max_drift_ms;
	/* DESIGN.md 4.10: the same [fence] watchdog keys on both data nodes */
	in->watchdog_timeout_s = duet_watchdog_configured(&c->wd) ? c->wd.want_timeout_s : 0;
	in->committed_ms = c->last.committed_ms;
	in->pg_configured = c->pg != NULL;
	in->probe_current = c->pg_last_epoch == c->demote_epoch;
	in->probe_busy = c->pg_probe_busy;
	in->pg_known = c->pg_known;
	in->pg_in_recovery = c->pg_last.in_recovery;
	in->pg_error = c->pg_err[0] != '\0';
	in->pg_stopped_by_us = c->pg_stopped_by_us;
	in->start_configured = a->pg_start_command[0] != '\0';
	in->pg_started_ms = c->pg_started_ms;
	in->promote_timeout_ms = a->pg_promote_timeout_ms;
	in->pg_last_ms = c->pg_last_ms;
	in->probe_interval_ms = a->pg_probe_interval_ms;
	in->fip_configured = c->fip != NULL;
	in->manager_configured = a->manager_start_command[0] != '\0';
}

static void run_fence(struct node *n, uint32_t prev)
{
	const struct duet_config_actions *a = &n->cfg.act;
	struct duet_fence_config fc;
	memset(&fc, 0, sizeof fc);
	fc.method = a->fence_method == DUET_CONFIG_FENCE_IPMI    ? DUET_FENCE_IPMI
		    : a->fence_method == DUET_CONFIG_FENCE_AGENT ? DUET_FENCE_AGENT
								 : DUET_FENCE_COMMAND;
	scopy(fc.command, sizeof fc.command, a->fence_command);
	scopy(fc.ipmi_host, sizeof fc.ipmi_host, a->fence_ipmi_host);
	scopy(fc.ipmi_user, sizeof fc.ipmi_user, a->fence_ipmi_user);
	scopy(fc.ipmi_password_file, sizeof fc.ipmi_password_file, a->fence_ipmi_password_file);
	scopy(fc.ipmi_interface, sizeof fc.ipmi_interface, a->fence_ipmi_interface);
	scopy(fc.agent, sizeof fc.agent, a->fence_agent);
	scopy(fc.agent_options_file, sizeof fc.agent_options_file, a->fence_agent_options_file);
	fc.timeout_ms = a->fence_timeout_ms;
	struct step_ctx *s = step_ctx_new(n);
	if (!s)
		return;
	duet_log(DUET_LOG_INFO, "fencing %s", member_name(n, prev));
	if (duet_fence_run(n->loop, &fc, member_name(n, prev), fence_done, s) != 0) {
		n->ctl.step_busy = false;
		chain_result(n, s, ROLE_RESULT_FENCE_NOT_STARTED, false, NULL, 0);
	}
}

static void become_master(struct node *n, uint64_t now)
{
	struct ctl *c = &n->ctl;
	c->act = CTL_MASTER;
	c->last.done_ms = now;
	c->garp_at = now + n->cfg.act.fip_garp_repeat_ms;
	c->pg_next_probe = 0; /* /master waits for a probe after this */
	duet_log(DUET_LOG_INFO,
		 "acting master since term %" PRIu64 ": promoted %" PRIu64 " ms, FIP %" PRIu64
		 " ms, ready %" PRIu64 " ms after leading",
		 c->act_term, c->last.promoted_ms - c->last.leader_ms,
		 c->last.fip_ms - c->last.leader_ms, c->last.done_ms - c->last.leader_ms);
}

static void chain_next(struct node *n)
{
	struct ctl *c = &n->ctl;
	const struct duet_config_actions *a = &n->cfg.act;
	while (c->act == CTL_ACTIVATING && !n->stopping) {
		struct role_chain_in in;
		struct role_chain_out out;
		struct step_ctx *s;
		chain_in(n, &in);
		role_chain_decide(&in, &out);
		if (out.release_stop_hold && c->pg_stopped_by_us) {
			c->pg_stopped_by_us = false;
			duet_log(
			    DUET_LOG_WARN,
			    "PostgreSQL does not answer and [pg] start_command is not set: its "
			    "check counts again");
		}
		if (out.entry.propose) {
			if (out.entry.action == DUET_STEP_LEASE_WAIT)
				c->last.lease_wait_ms = out.entry.duration_ms;
			propose_entry(n, &out.entry);
		}
		switch (out.cmd) {
		case ROLE_CHAIN_NOTHING:
			return;
		case ROLE_CHAIN_DEMOTE:
			ctl_demote(n, out.why, true);
			return;
		case ROLE_CHAIN_ADVANCE:
			stamp(n, out.stamp, in.now_ms);
			c->step = out.next;
			continue;
		case ROLE_CHAIN_WAIT_UNTIL:
			c->retry_at = out.until_ms; /* the tick comes back here */
			return;
		case ROLE_CHAIN_RUN_FENCE:
			run_fence(n, out.target);
			return;
		case ROLE_CHAIN_PROBE_PG:
			ctl_probe_now(n);
			return;
		case ROLE_CHAIN_START_PG:
			if (!(s = step_ctx_new(n)))
				return;
			duet_log(DUET_LOG_INFO, "PostgreSQL does not answer (%s): starting it",
				 c->pg_err);
			step_started(n, s,
				     duet_cmd_run(n->loop, a->pg_start_command, NULL,
						  a->pg_promote_timeout_ms, pg_start_done, s,
						  NULL));
			return;
		case ROLE_CHAIN_CLEAR_NAMES_THEN_PROMOTE:
			if (!(s = step_ctx_new(n)))
				return;
			duet_log(DUET_LOG_INFO, "promoting PostgreSQL (term %" PRIu64 ")",
				 c->act_term);
			step_started(n, s, duet_pg_set_sync_names(c->pg, "", clear_names_done, s));
			return;
		case ROLE_CHAIN_ACQUIRE_FIP:
			if (!(s = step_ctx_new(n)))
				return;
			step_started(n, s, duet_fip_acquire(c->fip, fip_done, s));
			return;
		case ROLE_CHAIN_START_MANAGER:
			if (!(s = step_ctx_new(n)))
				return;
			step_started(n, s,
				     duet_cmd_run(n->loop, a->manager_start_command, NULL,
						  a->manager_timeout_ms, manager_done, s, NULL));
			return;
		case ROLE_CHAIN_DONE:
			become_master(n, in.now_ms);
			return;
		}
		return;
	}
}

static void activate(struct node *n, uint64_t term)
{
	struct ctl *c = &n->ctl;
	c->act = CTL_ACTIVATING;
	c->act_term = term;
	c->pg_started_ms = 0;
	c->step = CTL_STEP_FENCE;
	c->retry_at = 0;
	c->gen++;
	/* the sync manager starts afresh: what it saw as master before is stale */
	c->standby_missing_since = 0;
	memset(&c->sync_proof, 0, sizeof c->sync_proof);
	c->sync_proposed_index = 0;
	if (c->last.term != term) {
		memset(&c->last, 0, sizeof c->last);
		c->last.term = term;
		c->last.leader_ms =
		    c->became_leader_term == term ? c->became_leader_ms : node_now_ms();
	}
	c->last.committed_ms = node_now_ms();
	duet_log(DUET_LOG_INFO, "taking the master role (term %" PRIu64 ", %s)", term,
		 n->fsm.master.previous ? "after a failover" : "first start");
	chain_next(n);
}

/* ---- the leader's proposals ---------------------------------------------- */

int ctl_propose_master(struct node *n, uint64_t term, uint32_t node, uint8_t reason,
		       const char *detail)
{
	struct duet_master m;
	memset(&m, 0, sizeof m);
	m.node = node;
	m.previous = n->fsm.master.node;
	m.reason = reason;
	scopy(m.detail, sizeof m.detail, detail);
	uint8_t buf[1024];
	long len = duet_master_encode(&m, buf, sizeof buf);
	int rc = len < 0 ? (int)len : ctl_propose(n, RAFT_ENTRY_MASTER, buf, (uint32_t)len, NULL);
	/* the term counts as proposed only when raft took the entry: a refused
	 * proposal (a transfer in flight, too many uncommitted entries) is made
	 * again in this term (issue 13, defect 14) */
	role_proposal_done(&n->ctl.proposal, term, rc, node_now_ms());
	if (rc == 0)
		duet_log(DUET_LOG_INFO, "proposed MASTER(%s, %s): %s", member_name(n, node),
			 reason == DUET_MASTER_FIRST_START  ? "first start"
			 : reason == DUET_MASTER_FORCED     ? "forced"
			 : reason == DUET_MASTER_SWITCHOVER ? "switchover"
							    : "failover",
			 detail);
	return rc;
}

static void propose_master(struct node *n, uint64_t term, uint8_t reason, const char *detail)
{
	(void)ctl_propose_master(n, term, n->cfg.self_id, reason, detail);
}

bool ctl_check_failing(const struct node *n, uint32_t id)
{
	return role_check_failing(&n->fsm, id);
}

void ctl_transfer(struct node *n, uint32_t to, const char *why)
{
	uint64_t now = node_now_ms();
	if (n->ctl.transfer_at && now - n->ctl.transfer_at < CTL_TRANSFER_GAP)
		return;
	n->ctl.transfer_at = now;
	int rc = raft_transfer(n->raft, now, to);
	duet_log(rc ? DUET_LOG_WARN : DUET_LOG_INFO, "leadership to %s (%s)%s%s",
		 member_name(n, to), why, rc ? ": " : "", rc ? duet_strerror(rc) : "");
	node_drive_later(n);
}

/* The input of role/'s leader decisions, from this node's state. */
static void leader_in(struct node *n, const struct raft_status *st, struct role_leader_in *in)
{
	struct ctl *c = &n->ctl;
	memset(in, 0, sizeof *in);
	in->raft = st;
	in->now_ms = node_now_ms();
	in->heartbeat_ms = n->cfg.raft.heartbeat_ms;
	in->self_id = n->cfg.self_id;
	in->self_name = n->cfg.node_name;
	in->members = &n->cfg.membership;
	in->fsm = &n->fsm;
	in->pg_configured = c->pg != NULL;
	in->pg_known = c->pg_known;
	in->pg_in_recovery = c->pg_last.in_recovery;
	in->pg_err = c->pg_err;
	in->proposal = &c->proposal;
	in->acting = c->act == CTL_MASTER || c->act == CTL_ACTIVATING;
	in->stepdown_term = c->stepdown_term;
	in->maintenance_hold_term = c->maintenance_hold_term;
	/* this leader's HEALTH entry for its own critical failure is committed
	 * but not applied here when its own store writes are the slow part (a
	 * failing disk): the followers have it, so the new leader will know
	 * not to hand leadership back */
	in->self_failing_committed = c->health_fail_term == st->term && c->health_fail_index &&
				     st->commit_index >= c->health_fail_index &&
				     ctl_health_critical_failing(n, NULL);
}

/* This node leads with the lease, its fsm is current, and it is not the
 * master: role/ decides between taking over, handing back, and waiting
 * (role_leader_decide); this performs it. */
static void leader_not_master(struct node *n, const struct raft_status *st)
{
	struct ctl *c = &n->ctl;
	struct role_leader_in in;
	struct role_leader_out out;
	leader_in(n, st, &in);
	role_leader_decide(&in, &out);
	if (out.why_set)
		scopy(c->why_not_master, sizeof c->why_not_master, out.why);
	switch (out.action) {
	case ROLE_LEADER_PROPOSE_MASTER:
		propose_master(n, st->term, out.reason, out.detail);
		break;
	case ROLE_LEADER_HAND_BACK:
		c->handbacks++;
		ctl_transfer(n, out.to, out.transfer_why);
		break;
	case ROLE_LEADER_TRANSFER:
		ctl_transfer(n, out.to, out.transfer_why);
		break;
	case ROLE_LEADER_WAIT:
	case ROLE_LEADER_STEP_DOWN: /* not one of this decision's */
		break;
	}
}

/* The acting master whose committed health has a critical check failing
 * hands leadership to the synchronous standby (DESIGN.md 7), unless
 * maintenance is on (no automatic failover, either way); the transfer
 * voids the lease at once, so ctl_step() demotes this node right after.
 * The HEALTH entry is committed first, so the new leader knows not to hand
 * leadership back. role_step_down_decide decides; this performs it. */
static void maybe_step_down(struct node *n, const struct raft_status *st)
{
	struct ctl *c = &n->ctl;
	struct role_leader_in in;
	struct role_leader_out out;
	leader_in(n, st, &in);
	role_step_down_decide(&in, &out);
	if (out.why_set)
		scopy(c->why_not_master, sizeof c->why_not_master, out.why);
	if (out.log_why) {
		c->maintenance_hold_term = st->term;
		duet_log(DUET_LOG_WARN, "%s", c->why_not_master);
	}
	if (out.action != ROLE_LEADER_STEP_DOWN)
		return;
	c->stepdown_term = st->term;
	c->stepdowns++;
	c->transfer_at = 0;
	ctl_transfer(n, out.to, out.transfer_why);
}

/* ---- the rule ------------------------------------------------------------ */

void ctl_heard(struct node *n, uint32_t from, bool from_leader)
{
	if (!from_leader)
		return;
	uint32_t free_slot = DUET_MAX_MEMBERS;
	for (uint32_t i = 0; i < DUET_MAX_MEMBERS; i++) {
		if (n->ctl.contact_id[i] == from) {
			n->ctl.contact_ms[i] = node_now_ms();
			return;
		}
		if (!n->ctl.contact_id[i] && free_slot == DUET_MAX_MEMBERS)
			free_slot = i;
	}
	if (free_slot < DUET_MAX_MEMBERS) {
		n->ctl.contact_id[free_slot] = from;
		n->ctl.contact_ms[free_slot] = node_now_ms();
	}
}

/* A standby whose PostgreSQL is a primary while the log names another
 * master (it was master before a restart or a partition): stop it. Only
 * once this node's view is current: a leader is known and the fsm has
 * applied an entry of its term. */
static void stale_primary(struct node *n, const struct raft_status *st)
{
	struct ctl *c = &n->ctl;
	struct role_stale_in in;
	memset(&in, 0, sizeof in);
	in.act = (enum role_act)c->act;
	in.pg_known = c->pg_known;
	in.pg_in_recovery = c->pg_last.in_recovery;
	in.master = n->fsm.master.node;
	in.self_id = n->cfg.self_id;
	in.leader_known = st->leader != 0;
	in.applied_in_term = n->fsm.applied_term == st->term;
	in.now_ms = node_now_ms();
	in.last_stop_ms = c->stale_stop_at;
	if (!role_stale_primary(&in, NULL))
		return;
	c->stale_stop_at = in.now_ms;
	duet_log(DUET_LOG_WARN,
		 "the local PostgreSQL is a primary but the log names %s master (entry %" PRIu64
		 "): stopping it",
		 member_name(n, in.master), n->fsm.master.since_index);
	run_demote_cmd(n, n->cfg.act.pg_stop_command, true);
	c->pg_known = false;
	c->pg_next_probe = 0;
}

bool ctl_may_act(struct node *n)
{
	struct ctl *c = &n->ctl;
	if (n->stopping || (c->act != CTL_ACTIVATING && c->act != CTL_MASTER))
		return false;
	uint64_t now = node_now_ms();
	struct raft_status st;
	raft_status(n->raft, now, &st);
	return st.role == RAFT_LEADER && raft_lease_valid(n->raft, now) &&
	       n->fsm.master.node == n->cfg.self_id;
}

/* The fip module asks this before it adds the address or sends an ARP. */
static bool fip_may_act(void *data)
{
	return ctl_may_act(data);
}

/* ---- what a node that is not acting master finds left over ---------------- */

static void sweep_release_done(void *data, int rc, const char *detail)
{
	struct node *n = data;
	struct ctl *c = &n->ctl;
	c->sweep_busy = false;
	if (n->stopping)
		return;
	role_fip_sweep_released(&c->sweep, rc == 0, node_now_ms());
	if (rc) {
		duet_log(DUET_LOG_ERROR,
			 "a FIP left over on this node (not acting master) could not be removed: "
			 "%s; trying again in %" PRIu32 " ms",
			 detail ? detail : duet_strerror(rc), c->sweep.backoff_ms);
		return;
	}
	duet_log(DUET_LOG_WARN, "a FIP left over on this node (not acting master): %s",
		 detail ? detail : "removed");
}

static void sweep_check_done(void *data, int rc, bool present, const char *detail)
{
	struct node *n = data;
	struct ctl *c = &n->ctl;
	c->sweep_busy = false;
	if (n->stopping)
		return;
	if (rc)
		duet_log(DUET_LOG_DEBUG, "FIP check on a standby: %s",
			 detail ? detail : duet_strerror(rc));
	if (!role_fip_sweep_checked(&c->sweep, rc == 0, present, (enum role_act)c->act,
				    node_now_ms()))
		return;
	if (duet_fip_release(c->fip, sweep_release_done, n) == 0)
		c->sweep_busy = true;
}

/* The input of role_sweep_due for one sweep. */
static struct role_sweep_in sweep_in(struct node *n, bool configured, bool busy, uint64_t at_ms)
{
	struct role_sweep_in in;
	memset(&in, 0, sizeof in);
	in.configured = configured;
	in.act = (enum role_act)n->ctl.act;
	in.busy = busy;
	in.demoting = n->ctl.demotions_in_flight > 0;
	in.now_ms = node_now_ms();
	in.at_ms = at_ms;
	return in;
}

/* DESIGN.md 4.7: a node that is not acting master removes a FIP it finds
 * on its interface (a release that failed, an address added by hand, a
 * crash between acquire and demotion), retrying with backoff; role/
 * (role_sweep_due, role_fip_sweep_*) says when. */
static void sweep_left_over(struct node *n)
{
	struct ctl *c = &n->ctl;
	struct role_sweep_in in = sweep_in(n, c->fip != NULL, c->sweep_busy, c->sweep.at_ms);
	if (!role_sweep_due(&in, NULL))
		return;
	if (duet_fip_check(c->fip, sweep_check_done, n) == 0)
		c->sweep_busy = true;
}

static void sweep_manager_done(void *data, const struct duet_cmd_result *r)
{
	struct node *n = data;
	struct ctl *c = &n->ctl;
	c->mgr_sweep_busy = false;
	if (n->stopping)
		return;
	bool running = r->exit_status == 0 && !r->spawn_error && !r->timed_out;
	if (!role_manager_sweep_checked(&c->mgr_sweep, running, (enum role_act)c->act,
					node_now_ms()))
		return;
	duet_log(DUET_LOG_WARN,
		 "a manager left over on this node (not acting master; [manager] check_command "
		 "exits 0): stopping it");
	/* as a demotion command: an activation waits for it to end */
	run_demote_cmd(n, n->cfg.act.manager_stop_command, false);
}

/* DESIGN.md 4.7: a node that is not acting master stops a manager it finds
 * running ([manager] check_command exits 0), every ROLE_SWEEP_MS (at start
 * the "starting" demotion stops it already). */
static void sweep_manager(struct node *n)
{
	struct ctl *c = &n->ctl;
	const struct duet_config_actions *a = &n->cfg.act;
	struct role_sweep_in in =
	    sweep_in(n, a->manager_check_command[0] && a->manager_stop_command[0],
		     c->mgr_sweep_busy, c->mgr_sweep.at_ms);
	if (!role_sweep_due(&in, NULL))
		return;
	if (duet_cmd_run(n->loop, a->manager_check_command, NULL, a->manager_timeout_ms,
			 sweep_manager_done, n, NULL) == 0)
		c->mgr_sweep_busy = true;
	else
		c->mgr_sweep.at_ms = in.now_ms + ROLE_SWEEP_MS;
}

static void garp_done(void *data, int rc, const char *detail)
{
	struct node *n = data;
	n->ctl.garp_busy = false;
	if (rc && rc != DUET_ENOTLEADER && !n->stopping)
		duet_log(DUET_LOG_WARN, "periodic gratuitous ARP: %s",
			 detail ? detail : duet_strerror(rc));
}

/* DESIGN.md 4.7: the acting master repeats a gratuitous ARP every [fip]
 * garp_repeat_ms, so a neighbour that learnt another MAC (a paused old
 * master's late ARP) comes back to this one (role_garp_due says when). */
static void garp_repeat(struct node *n)
{
	struct ctl *c = &n->ctl;
	struct role_garp_in in;
	memset(&in, 0, sizeof in);
	in.fip_configured = c->fip != NULL;
	in.every_ms = n->cfg.act.fip_garp_repeat_ms;
	in.act = (enum role_act)c->act;
	in.busy = c->garp_busy;
	in.now_ms = node_now_ms();
	in.at_ms = c->garp_at;
	if (!role_garp_due(&in, NULL))
		return;
	c->garp_at = in.now_ms + in.every_ms;
	if (duet_fip_announce(c->fip, garp_done, n) == 0)
		c->garp_busy = true;
}

static void on_lease_timer(uv_timer_t *t)
{
	struct node *n = t->data;
	ctl_step(n);
	node_drive_later(n);
}

/* DESIGN.md 4.10: the watchdog's turn (duet_watchdog_decide's table). */
static void watchdog_turn(struct node *n, uint64_t now)
{
	struct ctl *c = &n->ctl;
	if (!duet_watchdog_configured(&c->wd))
		return;
	bool acting = c->act == CTL_ACTIVATING || c->act == CTL_MASTER;
	enum duet_watchdog_action a = duet_watchdog_decide(
	    true, c->wd.armed, acting, ctl_may_act(n), c->demotions_in_flight > 0);
	int rc = 0;
	if (a == DUET_WATCHDOG_ARM) {
		rc = duet_watchdog_arm(&c->wd, now);
		if (rc == 0)
			duet_log(DUET_LOG_INFO,
				 "watchdog %s armed (%u s): a stall of this daemon now resets the "
				 "machine",
				 c->wd.path, c->wd.timeout_s);
	} else if (a == DUET_WATCHDOG_PET) {
		rc = duet_watchdog_pet(&c->wd, now);
	} else if (a == DUET_WATCHDOG_DISARM) {
		rc = duet_watchdog_disarm(&c->wd);
		if (rc == 0)
			duet_log(DUET_LOG_INFO, "watchdog %s disarmed (a standby again)",
				 c->wd.path);
	}
	if (rc && (a != DUET_WATCHDOG_ARM || c->wd.errors == 1 || c->wd.errors % 100 == 0))
		duet_log(DUET_LOG_ERROR,
			 "%s (%" PRIu64 " failures): a stalled daemon may leave PostgreSQL "
			 "writable; check [fence] watchdog_device",
			 c->wd.error, c->wd.errors);
}

void ctl_step(struct node *n)
{
	struct ctl *c = &n->ctl;
	if (n->cfg.self_kind != DUET_MEMBER_DATA || n->stopping)
		return;
	uint64_t now = node_now_ms();
	pg_probe_maybe(n);
	struct raft_status st;
	raft_status(n->raft, now, &st);
	bool leader = st.role == RAFT_LEADER;
	if (leader && c->became_leader_term != st.term) {
		c->became_leader_term = st.term;
		c->became_leader_ms = now;
		duet_log(DUET_LOG_INFO, "leading term %" PRIu64 " (%s); the log names %s master",
			 st.term,
			 st.last_election_reason == RAFT_ELECTION_TRANSFER
			     ? "leadership handed over"
			     : "elected",
			 member_name(n, n->fsm.master.node));
	}
	bool lease = leader && raft_lease_valid(n->raft, now);
	bool current = n->fsm.applied_term == st.term && n->fsm.applied_index == st.commit_index;
	bool named = n->fsm.master.node == n->cfg.self_id;

	/* role/turn.c: demote (acting against the rule, or just started) */
	struct role_turn_in turn;
	struct role_turn_out to;
	memset(&turn, 0, sizeof turn);
	turn.act = (enum role_act)c->act;
	turn.leader = leader;
	turn.lease = lease;
	turn.named = named;
	turn.current = current;
	role_turn_demotion(&turn, &to);
	if (to.demote)
		ctl_demote(n, to.why, to.pg_stop);
	stale_primary(n, &st);
	/* a planned switchover holds the activation back while it stops */
	turn.hold = ctl_switchover_step(n, &st);
	/* ... and role/turn.c: activate (DESIGN.md 4.9: after every demotion
	 * it supersedes has ended) */
	turn.act = (enum role_act)c->act;
	turn.demoting = c->demotions_in_flight > 0;
	role_turn_activation(&turn, &to);
	if (to.activate)
		activate(n, st.term);
	/* before the chain: armed before any promotion can start */
	watchdog_turn(n, now);
	if (c->act == CTL_ACTIVATING)
		chain_next(n);
	if (c->act == CTL_MASTER) {
		ctl_sync_step(n);
		ctl_health_step(n);
		garp_repeat(n);
	} else if (c->act == CTL_ACTIVATING) {
		ctl_health_step(n);
	} else {
		ctl_health_step(n);
		ctl_rebuild_step(n);
		sweep_left_over(n);
		sweep_manager(n);
	}
	if ((c->act == CTL_ACTIVATING || c->act == CTL_MASTER) && lease && c->lease_timer_open &&
	    st.lease_expiry_ms > now)
		uv_timer_start(&c->lease_timer, on_lease_timer, st.lease_expiry_ms - now + 1, 0);
	if (lease && current && !named)
		leader_not_master(n, &st);
	else if (named || !leader)
		c->why_not_master[0] = '\0';
	/* after the reset above, so that its "staying master" reasons show */
	maybe_step_down(n, &st);
}

/* ---- forced promotion ---------------------------------------------------- */

int ctl_force_promote(struct node *n, const char *who, const char *why, char *err, size_t errlen)
{
	uint64_t now = node_now_ms();
	struct raft_status st;
	raft_status(n->raft, now, &st);
	if (n->cfg.self_kind != DUET_MEMBER_DATA) {
		snprintf(err, errlen, "%s is the witness; it is never master", n->cfg.node_name);
		return DUET_EWITNESS;
	}
	if (st.role != RAFT_LEADER || !raft_lease_valid(n->raft, now)) {
		snprintf(err, errlen,
			 "%s does not lead the cluster with the lease (leader: %s); a forced "
			 "promotion is proposed by the leader: wait for it to lead, or run this "
			 "on it",
			 n->cfg.node_name, member_name(n, st.leader));
		return DUET_ENOTLEADER;
	}
	if (n->fsm.master.node == n->cfg.self_id) {
		snprintf(err, errlen, "%s is already the master", n->cfg.node_name);
		return DUET_EINVAL;
	}
	struct duet_operator op;
	memset(&op, 0, sizeof op);
	op.command = DUET_OP_FORCE_PROMOTE;
	op.node = n->cfg.self_id;
	scopy(op.who, sizeof op.who, who && who[0] ? who : "unknown");
	scopy(op.why, sizeof op.why, why && why[0] ? why : "(no reason given)");
	uint8_t buf[1024];
	long len = duet_operator_encode(&op, buf, sizeof buf);
	int rc = len < 0 ? (int)len : ctl_propose(n, RAFT_ENTRY_OPERATOR, buf, (uint32_t)len, NULL);
	if (rc) {
		snprintf(err, errlen, "cannot propose the OPERATOR entry: %s", duet_strerror(rc));
		return rc;
	}
	char d[300];
	snprintf(d, sizeof d, "forced by %.31s, accepting data loss: %.200s", op.who, op.why);
	propose_master(n, st.term, DUET_MASTER_FORCED, d);
	return 0;
}

/* ---- open, close, status ------------------------------------------------- */

int ctl_open(struct node *n)
{
	struct ctl *c = &n->ctl;
	memset(c, 0, sizeof *c);
	if (n->cfg.self_kind != DUET_MEMBER_DATA)
		return 0;
	const struct duet_config_actions *a = &n->cfg.act;
	int rc;
	duet_watchdog_init(&c->wd, a->fence_watchdog_device, a->fence_watchdog_timeout_s, NULL);
	uv_timer_init(n->loop, &c->lease_timer);
	c->lease_timer.data = n;
	c->lease_timer_open = true;
	if (a->pg_conninfo[0]) {
		struct duet_pg_config pc;
		memset(&pc, 0, sizeof pc);
		scopy(pc.conninfo, sizeof pc.conninfo, a->pg_conninfo);
		pc.timeout_ms = a->pg_timeout_ms;
		rc = duet_pg_new(n->loop, &pc, &c->pg);
		if (rc) {
			duet_log(DUET_LOG_ERROR, "PostgreSQL connection: %s", duet_strerror(rc));
			return rc;
		}
	} else {
		duet_log(DUET_LOG_WARN, "[pg] conninfo is empty: no PostgreSQL is managed");
	}
	if (a->fip_address[0]) {
		struct duet_fip_config fc;
		ctl_fip_config(a, &fc);
		fc.may_act = fip_may_act;
		fc.may_act_data = n;
		char err[256] = "";
		rc = duet_fip_new(n->loop, &fc, &c->fip, err, sizeof err);
		if (rc) {
			duet_log(DUET_LOG_ERROR, "[fip]: %s", err[0] ? err : duet_strerror(rc));
			return rc;
		}
	}
	if (c->pg && !a->pg_stop_command[0])
		duet_log(DUET_LOG_WARN,
			 "[pg] stop_command is not set: a demoted master's PostgreSQL keeps "
			 "running (synchronous replication still holds its commits)");
	rc = ctl_health_open(n);
	if (rc == 0 && c->pg)
		ctl_rebuild_resume(n);
	return rc;
}

static void pg_closed(void *data)
{
	(void)data;
}

void ctl_close(struct node *n)
{
	struct ctl *c = &n->ctl;
	c->gen++;
	/* a clean stop disarms (the magic close): an exit without it would
	 * reset the machine timeout_s later */
	if (duet_watchdog_disarm(&c->wd) != 0)
		duet_log(DUET_LOG_ERROR, "%s", c->wd.error);
	if (c->lease_timer_open) {
		uv_close((uv_handle_t *)&c->lease_timer, NULL);
		c->lease_timer_open = false;
	}
	ctl_health_close(n);
	ctl_rebuild_close(n);
	if (c->pg) {
		duet_pg_close(c->pg, pg_closed, n);
		c->pg = NULL;
	}
	if (c->fip) {
		duet_fip_free(c->fip);
		c->fip = NULL;
	}
}

const char *ctl_act_name(int act)
{
	switch (act) {
	case CTL_STANDBY:
		return "standby";
	case CTL_ACTIVATING:
		return "activating";
	case CTL_MASTER:
		return "master";
	default:
		return "starting";
	}
}

/* The old master's last message to this node, to this node's leading: the
 * detection part of the last takeover, when that takeover took the role
 * from another node (-1 otherwise). */
static int64_t takeover_detect_ms(const struct node *n)
{
	const struct ctl *c = &n->ctl;
	const struct fsm_master_state *m = &n->fsm.master;
	if (!c->last.term || !c->last.leader_ms || m->node != n->cfg.self_id ||
	    m->since_term != c->last.term || !m->previous || m->previous == n->cfg.self_id)
		return -1;
	for (uint32_t i = 0; i < DUET_MAX_MEMBERS; i++)
		if (c->contact_id[i] == m->previous && c->contact_ms[i] &&
		    c->contact_ms[i] <= c->last.leader_ms)
			return (int64_t)(c->last.leader_ms - c->contact_ms[i]);
	return -1;
}

static int64_t after_ms(uint64_t t, uint64_t base)
{
	return t ? (int64_t)(t - base) : -1;
}

void ctl_status_fill(struct node *n, struct duet_status_ctl *s)
{
	struct ctl *c = &n->ctl;
	uint64_t now = node_now_ms();
	s->acting = ctl_act_name(c->act);
	s->activation_step =
	    c->act == CTL_ACTIVATING ? role_step_name((enum role_step)c->step) : "";
	s->why_not_master = c->why_not_master;
	s->pg.managed = c->pg != NULL;
	s->pg.answers = c->pg_known;
	if (c->pg_known) {
		s->pg.role = c->pg_last.in_recovery ? "standby" : "primary";
		s->pg.lsn = c->pg_last.lsn;
		s->pg.sync_names = c->pg_last.sync_names;
		s->pg.repl = c->pg_last.repl;
		s->pg.n_repl = c->pg_last.n_repl;
	} else {
		s->pg.error = c->pg_err;
	}
	s->pg.sync_why = c->sync_why;
	s->pg.probe_age_ms = c->pg_last_ms ? now - c->pg_last_ms : 0;

	struct duet_status_takeover *t = &s->last_takeover;
	t->term = c->last.term;
	t->committed_after_ms = after_ms(c->last.committed_ms, c->last.leader_ms);
	t->promoted_after_ms = after_ms(c->last.promoted_ms, c->last.leader_ms);
	t->fip_after_ms = after_ms(c->last.fip_ms, c->last.leader_ms);
	t->ready_after_ms = after_ms(c->last.done_ms, c->last.leader_ms);
	t->lease_wait_ms = c->last.lease_wait_ms;
	t->fenced = c->last.fenced;
	if (!c->last.fence_tried)
		snprintf(t->fence, sizeof t->fence, "none (not configured, or no takeover)");
	else if (c->last.fenced)
		snprintf(t->fence, sizeof t->fence, "confirmed: %.200s", c->last.fence_detail);
	else
		snprintf(t->fence, sizeof t->fence,
			 "FAILED: %.150s; the old master's lease was waited out instead",
			 c->last.fence_detail);
	t->mono_leader = c->last.leader_ms;
	t->mono_committed = c->last.committed_ms;
	t->mono_promoted = c->last.promoted_ms;
	t->mono_fip = c->last.fip_ms;
	t->mono_ready = c->last.done_ms;
	t->detect_ms = takeover_detect_ms(n);

	s->actions.steps_ok = c->steps_ok;
	s->actions.steps_failed = c->steps_failed;
	s->actions.demotions = c->demotions;
	s->actions.handbacks = c->handbacks;
	s->actions.stepdowns = c->stepdowns;
	s->actions.forward_dropped = n->forward_dropped;
	ctl_health_status_fill(n, s);
	ctl_rebuild_status_fill(n, s);
	ctl_switchover_status_fill(n, s);
	s->watchdog.device = c->wd.path;
	s->watchdog.armed = c->wd.armed;
	s->watchdog.timeout_s = c->wd.armed ? c->wd.timeout_s : c->wd.want_timeout_s;
	s->watchdog.pets = c->wd.pets;
	s->watchdog.errors = c->wd.errors;
	s->watchdog.error = c->wd.error;
}
