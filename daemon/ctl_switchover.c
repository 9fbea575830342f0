/* SPDX-License-Identifier: MIT */
/*
 * ctl_switchover.c - `duetctl switchover [--to NODE]`: a planned change of
 * master with no data loss (DESIGN.md 6: the old master comes back as a
 * standby the way a rejoined node does).
 *
 * It runs on the data node that leads with the lease and acts as master
 * (a request made elsewhere is forwarded to it as an OPERATOR entry):
 *
 *   1. checks: the target is the other data node, a committed SYNC standby,
 *      in touch, no critical check failing; no switchover or rebuild runs;
 *   2. OPERATOR(switchover, target, who, why) is proposed, for the audit;
 *   3. STOPPING: this node stops acting at once, as a demotion does
 *      (PostgreSQL stopped first, FIP released, manager stopped), and holds
 *      its activation back; once the commands ended and a fresh probe finds
 *      PostgreSQL down, no write can be acknowledged here any more;
 *   4. PROPOSED: MASTER(target, switchover); every transaction acknowledged
 *      so far is on the target (it is the synchronous standby);
 *   5. DONE once applied: leadership goes to the target, which activates
 *      without fencing or a lease wait (the old master stopped before the
 *      entry was proposed: role_takeover() in role/activation.c), promotes
 *      and takes the FIP; this node rebuilds its PostgreSQL as the new master's standby
 *      (ctl_rebuild.c), which ends with SYNC(this node, on).
 *
 * Any failure before MASTER(target) is proposed (leadership lost, a stop
 * command that failed, a FIP release that failed, a stop that did not stop
 * PostgreSQL, SWITCHOVER_STOP_MS passed) aborts: the hold
 * is released and this node, still named master by the log, activates
 * again (starting PostgreSQL with [pg] start_command). Once proposed, the
 * log decides: if the entry commits, the target is master; if it does not
 * (a new leader), the usual rules apply.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "node_internal.h"
#include "status.h"

#define SWITCHOVER_STOP_MS     10000 /* stop commands and the probe after them */
#define SWITCHOVER_COMMIT_MS   5000  /* MASTER(target) applied after its proposal */
#define SWITCHOVER_IN_TOUCH_MS 1000  /* the target acknowledged this recently */

static const char *state_name(int s)
{
	switch (s) {
	case SWITCHOVER_STOPPING:
		return "stopping";
	case SWITCHOVER_PROPOSED:
		return "proposed";
	case SWITCHOVER_DONE:
		return "done";
	case SWITCHOVER_ABORTED:
		return "aborted";
	default:
		return "none";
	}
}

static const char *member_name(const struct node *n, uint32_t id)
{
	const struct duet_member *m = duet_membership_find(&n->cfg.membership, id);
	return m ? m->name : "none";
}

static void scopy(char *dst, size_t cap, const char *src)
{
	size_t len = strnlen(src, cap - 1);
	memcpy(dst, src, len);
	dst[len] = '\0';
}

/* What any member's applied log can tell about the target; 0 or an error
 * with the reason in err. A member asked to forward the request checks it
 * first, so that its operator hears a refusal (the leader's would only be
 * in the leader's log). */
static int check_target(struct node *n, uint32_t to, char *err, size_t errlen)
{
	const struct duet_member *m = duet_membership_find(&n->cfg.membership, to);
	if (!m || m->kind != DUET_MEMBER_DATA) {
		snprintf(err, errlen, "the target must be a data node");
		return DUET_EINVAL;
	}
	if (fsm_role_of(&n->fsm, to) != FSM_ROLE_SYNC_STANDBY) {
		snprintf(err, errlen,
			 "%s is not a synchronous standby (no committed SYNC on): switching over "
			 "to it could lose transactions; wait for SYNC on (duetctl status)",
			 m->name);
		return DUET_EINVAL;
	}
	if (ctl_check_failing(n, to)) {
		snprintf(err, errlen,
			 "a critical check of %s is failing in the log (duetctl status: "
			 "members[].critical_failing); try again once it passes",
			 m->name);
		return DUET_EINVAL;
	}
	return 0;
}

/* Checks on the leader; 0 or an error with the reason in err. */
static int check(struct node *n, uint32_t to, char *err, size_t errlen)
{
	struct ctl *c = &n->ctl;
	uint64_t now = node_now_ms();
	struct raft_status st;
	raft_status(n->raft, now, &st);
	const struct duet_member *m = duet_membership_find(&n->cfg.membership, to);
	if (!m || m->kind != DUET_MEMBER_DATA || to == n->cfg.self_id) {
		snprintf(err, errlen, "the target must be the other data node (%s)",
			 member_name(n, ctl_other_data(n)));
		return DUET_EINVAL;
	}
	if (st.role != RAFT_LEADER || !raft_lease_valid(n->raft, now) ||
	    n->fsm.master.node != n->cfg.self_id || c->act != CTL_MASTER) {
		snprintf(err, errlen,
			 "%s is not the acting master leading with the lease (%s, acting %s); the "
			 "log names %s master",
			 n->cfg.node_name, raft_role_name(st.role),
			 c->act == CTL_MASTER ? "master" : "not as master",
			 member_name(n, n->fsm.master.node));
		return DUET_ENOTLEADER;
	}
	if (c->so.state == SWITCHOVER_STOPPING || c->so.state == SWITCHOVER_PROPOSED) {
		snprintf(err, errlen, "a switchover to %s is in progress (%s)",
			 member_name(n, c->so.to), state_name(c->so.state));
		return DUET_EBUSY;
	}
	int rc = check_target(n, to, err, errlen);
	if (rc)
		return rc;
	bool in_touch = false;
	for (uint32_t i = 0; i < st.n_peers; i++)
		if (st.peers[i].id == to && st.peers[i].last_ack_ms &&
		    now - st.peers[i].last_ack_ms < SWITCHOVER_IN_TOUCH_MS &&
		    st.peers[i].match_index >= st.commit_index)
			in_touch = true;
	if (!in_touch) {
		snprintf(err, errlen, "%s is not in touch with the leader or behind its log",
			 m->name);
		return DUET_EINVAL;
	}
	return 0;
}

/* On the leader: record the request and start. */
static int begin(struct node *n, const struct duet_operator *op, char *err, size_t errlen)
{
	struct ctl *c = &n->ctl;
	int rc = check(n, op->node, err, errlen);
	if (rc) {
		duet_log(DUET_LOG_WARN, "switchover to %s asked by %s refused: %s",
			 member_name(n, op->node), op->who, err);
		return rc;
	}
	uint8_t buf[1024];
	long len = duet_operator_encode(op, buf, sizeof buf);
	rc = len < 0 ? (int)len : ctl_propose(n, RAFT_ENTRY_OPERATOR, buf, (uint32_t)len, NULL);
	if (rc) {
		snprintf(err, errlen, "cannot propose the OPERATOR entry: %s", duet_strerror(rc));
		return rc;
	}
	struct raft_status st;
	raft_status(n->raft, node_now_ms(), &st);
	memset(&c->so, 0, sizeof c->so);
	c->so.state = SWITCHOVER_STOPPING;
	c->so.to = op->node;
	c->so.term = st.term;
	c->so.started_ms = node_now_ms();
	scopy(c->so.who, sizeof c->so.who, op->who);
	snprintf(c->so.detail, sizeof c->so.detail, "stopping %s (PostgreSQL, FIP, manager)",
		 n->cfg.node_name);
	duet_log(DUET_LOG_INFO, "switchover to %s asked by %s: %s", member_name(n, op->node),
		 op->who, op->why);
	char why[96];
	snprintf(why, sizeof why, "switchover to %s", member_name(n, op->node));
	ctl_demote(n, why, true);
	n->ctl.pg_next_probe = 0;
	node_drive_later(n);
	return 0;
}

int ctl_switchover(struct node *n, const char *to, const char *who, const char *why, char *err,
		   size_t errlen)
{
	if (n->cfg.self_kind != DUET_MEMBER_DATA) {
		snprintf(err, errlen,
			 "%s is the witness: ask a data node (duetctl switchover --config with a "
			 "duetd config)",
			 n->cfg.node_name);
		return DUET_EWITNESS;
	}
	struct duet_operator op;
	memset(&op, 0, sizeof op);
	op.command = DUET_OP_SWITCHOVER;
	if (to && to[0]) {
		const struct duet_member *m = NULL;
		for (uint32_t i = 0; i < n->cfg.membership.n; i++)
			if (strcmp(n->cfg.membership.members[i].name, to) == 0)
				m = &n->cfg.membership.members[i];
		if (!m) {
			snprintf(err, errlen, "no member named '%s'", to);
			return DUET_EINVAL;
		}
		op.node = m->id;
	} else {
		/* the data node that is not master */
		op.node = n->fsm.master.node == n->cfg.self_id ? ctl_other_data(n) : n->cfg.self_id;
	}
	if (op.node == n->fsm.master.node) {
		snprintf(err, errlen, "%s is master already", member_name(n, op.node));
		return DUET_EINVAL;
	}
	snprintf(op.who, sizeof op.who, "%s", who && who[0] ? who : "unknown");
	snprintf(op.why, sizeof op.why, "%s", why && why[0] ? why : "(no reason given)");
	struct raft_status st;
	raft_status(n->raft, node_now_ms(), &st);
	if (st.role == RAFT_LEADER)
		return begin(n, &op, err, errlen);
	int rc = check_target(n, op.node, err, errlen);
	if (rc)
		return rc;
	const struct duet_member *leader = duet_membership_find(&n->cfg.membership, st.leader);
	if (!leader || !n->xport || leader->kind != DUET_MEMBER_DATA) {
		snprintf(err, errlen,
			 "no data-node leader known to %s (%s, term %" PRIu64
			 "): try again once duetctl status shows one",
			 n->cfg.node_name, raft_role_name(st.role), st.term);
		return DUET_ENOTLEADER;
	}
	uint8_t buf[1024];
	buf[0] = RAFT_ENTRY_OPERATOR;
	long len = duet_operator_encode(&op, buf + 1, sizeof buf - 1);
	rc = len < 0 ? (int)len
		     : xport_send(n->xport, st.leader, NODE_FRAME_PROPOSE, buf, (uint32_t)len + 1);
	if (rc) {
		snprintf(err, errlen, "cannot forward the request to the leader %s: %s",
			 leader->name, duet_strerror(rc));
		return rc;
	}
	duet_log(DUET_LOG_INFO, "switchover to %s by %s forwarded to the leader %s",
		 member_name(n, op.node), op.who, leader->name);
	return 0;
}

void ctl_switchover_forwarded(struct node *n, const struct duet_operator *op)
{
	char err[256];
	(void)begin(n, op, err, sizeof err);
}

static void abort_so(struct node *n, const char *fmt, const char *arg)
{
	struct ctl_switchover *so = &n->ctl.so;
	char why[300];
	snprintf(why, sizeof why, fmt, arg);
	snprintf(so->detail, sizeof so->detail, "aborted: %.240s", why);
	so->state = SWITCHOVER_ABORTED;
	so->done_ms = node_now_ms();
	duet_log(DUET_LOG_ERROR, "switchover to %s %s", member_name(n, so->to), so->detail);
	ctl_propose_step(n, DUET_STEP_DEMOTE, n->cfg.self_id, false, so->done_ms - so->started_ms,
			 "switchover to %s %s", member_name(n, so->to), so->detail);
}

bool ctl_switchover_step(struct node *n, const struct raft_status *st)
{
	struct ctl *c = &n->ctl;
	struct ctl_switchover *so = &c->so;
	uint64_t now = node_now_ms();
	if (so->state == SWITCHOVER_STOPPING) {
		if (st->role != RAFT_LEADER || st->term != so->term) {
			abort_so(n, "%s lost leadership before the new master was proposed",
				 n->cfg.node_name);
			return false;
		}
		if (now - so->started_ms > SWITCHOVER_STOP_MS) {
			abort_so(n, "%s", "the stop commands did not end in time");
			return false;
		}
		if (c->demotions_in_flight)
			return true;
		if (c->demote_failed) {
			/* DESIGN.md 4.7: hand over only after every stop succeeded
			 * and the FIP is gone; this node, still named master,
			 * activates again */
			abort_so(n, "a stop on the old master failed (%s)", c->demote_error);
			return false;
		}
		if (!so->stopped_ms) {
			so->stopped_ms = now;
			ctl_probe_now(n); /* a probe after the stop decides */
			return true;
		}
		/* a probe that started after the stop ended: not one from before */
		if (c->pg && c->pg_last_started_ms < so->stopped_ms) {
			if (!c->pg_probe_busy)
				ctl_probe_now(n);
			return true;
		}
		if (c->pg && c->pg_known) {
			abort_so(n, "%s", "PostgreSQL still answers after [pg] stop_command");
			return false;
		}
		char d[200];
		snprintf(d, sizeof d, "planned switchover from %s asked by %s", n->cfg.node_name,
			 so->who);
		if (ctl_propose_master(n, st->term, so->to, DUET_MASTER_SWITCHOVER, d) != 0) {
			abort_so(n, "%s", "MASTER could not be proposed");
			return false;
		}
		so->state = SWITCHOVER_PROPOSED;
		so->proposed_ms = now;
		snprintf(so->detail, sizeof so->detail,
			 "%s stopped in %" PRIu64 " ms; MASTER(%s, switchover) proposed",
			 n->cfg.node_name, so->stopped_ms - so->started_ms, member_name(n, so->to));
		return true;
	}
	if (so->state == SWITCHOVER_PROPOSED) {
		if (n->fsm.master.node == so->to) {
			so->state = SWITCHOVER_DONE;
			so->done_ms = now;
			snprintf(so->detail, sizeof so->detail,
				 "%s is master (entry %" PRIu64 "), %" PRIu64
				 " ms after the request; %s becomes its standby",
				 member_name(n, so->to), n->fsm.master.since_index,
				 now - so->started_ms, n->cfg.node_name);
			duet_log(DUET_LOG_INFO, "switchover: %s", so->detail);
			c->transfer_at = 0;
			if (st->role == RAFT_LEADER)
				ctl_transfer(n, so->to, "switchover");
			ctl_rebuild_start(n, "switchover");
			return false;
		}
		if (now - so->proposed_ms > SWITCHOVER_COMMIT_MS || st->term != so->term) {
			/* the entry may still commit under a new leader: the log
			 * decides from here */
			abort_so(n, "%s", "MASTER(target) was not applied in time");
			return false;
		}
		return true;
	}
	return false;
}

void ctl_switchover_status_fill(struct node *n, struct duet_status_ctl *s)
{
	const struct ctl_switchover *so = &n->ctl.so;
	uint64_t now = node_now_ms();
	s->switchover.state = state_name(so->state);
	s->switchover.to = so->state ? member_name(n, so->to) : "";
	s->switchover.elapsed_ms =
	    so->started_ms ? (so->done_ms ? so->done_ms : now) - so->started_ms : 0;
	s->switchover.detail = so->detail;
}
