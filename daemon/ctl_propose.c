/* SPDX-License-Identifier: MIT */
/*
 * ctl_propose.c - how the role controller writes to the log: proposals on
 * the leader, forwarding from a follower (DESIGN.md 3: only the leader
 * appends; a follower's HEALTH transitions reach the log through it).
 *
 * A forwarded proposal is one transport frame NODE_FRAME_PROPOSE: u8 entry
 * type, then the payload. The leader takes only what a member may say about
 * itself: HEALTH whose node is the sender, and OPERATOR maintenance on/off
 * whose node is the sender, a data member (duetctl maintenance run on a
 * follower). Anything else is refused and counted, like any other bad frame.
 *
 * Maintenance records changes only: a request for the state the leader's
 * applied log already has proposes nothing (the requester finds its answer
 * in its own applied state, see admin.c). Two requests racing may still
 * both be recorded; the second entry then changes nothing.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "node_internal.h"

int ctl_propose(struct node *n, uint8_t type, const void *payload, uint32_t len, uint64_t *index)
{
	uint64_t idx = 0;
	int rc = raft_propose(n->raft, node_now_ms(), type, node_wall_ms(), payload, len, &idx);
	if (rc) {
		duet_log(DUET_LOG_WARN, "propose %s: %s", raft_entry_type_name(type),
			 duet_strerror(rc));
		return rc;
	}
	if (index)
		*index = idx;
	node_drive_later(n);
	return 0;
}

void ctl_propose_step(struct node *n, uint8_t action, uint32_t node, bool ok, uint64_t duration_ms,
		      const char *fmt, ...)
{
	struct duet_step s;
	memset(&s, 0, sizeof s);
	s.action = action;
	s.node = node;
	s.ok = ok;
	s.duration_ms = duration_ms > UINT32_MAX ? UINT32_MAX : (uint32_t)duration_ms;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s.detail, sizeof s.detail, fmt, ap);
	va_end(ap);
	if (ok)
		n->ctl.steps_ok++;
	else
		n->ctl.steps_failed++;
	duet_log(ok ? DUET_LOG_INFO : DUET_LOG_WARN, "step %s %s (%" PRIu64 " ms): %s",
		 action == DUET_STEP_FENCE        ? "fence"
		 : action == DUET_STEP_PROMOTE    ? "promote"
		 : action == DUET_STEP_FIP        ? "fip"
		 : action == DUET_STEP_MANAGER    ? "manager"
		 : action == DUET_STEP_DEMOTE     ? "demote"
		 : action == DUET_STEP_LEASE_WAIT ? "lease-wait"
		 : action == DUET_STEP_REBUILD    ? "rebuild"
						  : "?",
		 ok ? "ok" : "FAILED", duration_ms, s.detail);
	uint8_t buf[1024];
	long len = duet_step_encode(&s, buf, sizeof buf);
	if (len < 0)
		return;
	/* a STEP is the audit of an action that already happened; only the
	 * leader writes it (a demoted node's log line above is all there is),
	 * except a standby's rebuild, which the standby forwards */
	struct raft_status st;
	raft_status(n->raft, node_now_ms(), &st);
	if (st.role == RAFT_LEADER)
		(void)ctl_propose(n, RAFT_ENTRY_STEP, buf, (uint32_t)len, NULL);
	else if (action == DUET_STEP_REBUILD && node == n->cfg.self_id)
		ctl_propose_or_forward(n, RAFT_ENTRY_STEP, buf, (uint32_t)len);
}

void ctl_propose_or_forward(struct node *n, uint8_t type, const void *payload, uint32_t len)
{
	struct raft_status st;
	raft_status(n->raft, node_now_ms(), &st);
	if (st.role == RAFT_LEADER) {
		(void)ctl_propose(n, type, payload, len, NULL);
		return;
	}
	if (!st.leader || !n->xport || len > 60000) {
		n->forward_dropped++;
		return;
	}
	uint8_t *buf = malloc((size_t)len + 1);
	if (!buf)
		return;
	buf[0] = type;
	memcpy(buf + 1, payload, len);
	int rc = xport_send(n->xport, st.leader, NODE_FRAME_PROPOSE, buf, len + 1);
	free(buf);
	if (rc)
		n->forward_dropped++;
}

static const char *member_name(const struct node *n, uint32_t id)
{
	const struct duet_member *m = duet_membership_find(&n->cfg.membership, id);
	return m ? m->name : "none";
}

static bool is_maintenance(uint8_t command)
{
	return command == DUET_OP_MAINTENANCE_ON || command == DUET_OP_MAINTENANCE_OFF;
}

/* The leader proposes a maintenance change unless the applied state has it. */
static int propose_maintenance(struct node *n, const struct duet_operator *op, uint64_t *index)
{
	uint8_t on = op->command == DUET_OP_MAINTENANCE_ON;
	if (n->fsm.maintenance == on) {
		duet_log(DUET_LOG_INFO,
			 "maintenance %s asked by %s (via %s): already so since entry %" PRIu64
			 "; nothing recorded",
			 on ? "on" : "off", op->who, member_name(n, op->node),
			 n->fsm.maintenance_since);
		return 0;
	}
	uint8_t buf[1024];
	long len = duet_operator_encode(op, buf, sizeof buf);
	int rc =
	    len < 0 ? (int)len : ctl_propose(n, RAFT_ENTRY_OPERATOR, buf, (uint32_t)len, index);
	if (rc == 0)
		duet_log(DUET_LOG_INFO, "proposed OPERATOR(maintenance %s) by %s via %s: %s",
			 on ? "on" : "off", op->who, member_name(n, op->node), op->why);
	return rc;
}

int ctl_maintenance(struct node *n, bool on, const char *who, const char *why, uint64_t *index,
		    char *err, size_t errlen)
{
	*index = 0;
	if (n->cfg.self_kind != DUET_MEMBER_DATA) {
		snprintf(err, errlen,
			 "%s is the witness: maintenance is asked of a data node (duetctl "
			 "maintenance --config with a duetd config)",
			 n->cfg.node_name);
		return DUET_EWITNESS;
	}
	struct duet_operator op;
	memset(&op, 0, sizeof op);
	op.command = on ? DUET_OP_MAINTENANCE_ON : DUET_OP_MAINTENANCE_OFF;
	op.node = n->cfg.self_id;
	snprintf(op.who, sizeof op.who, "%s", who && who[0] ? who : "unknown");
	snprintf(op.why, sizeof op.why, "%s", why && why[0] ? why : "(no reason given)");
	struct raft_status st;
	raft_status(n->raft, node_now_ms(), &st);
	if (st.role == RAFT_LEADER) {
		int rc = propose_maintenance(n, &op, index);
		if (rc)
			snprintf(err, errlen, "%s leads but cannot propose the OPERATOR entry: %s",
				 n->cfg.node_name, duet_strerror(rc));
		return rc;
	}
	const struct duet_member *leader = duet_membership_find(&n->cfg.membership, st.leader);
	if (!leader || !n->xport) {
		snprintf(err, errlen,
			 "no leader known to %s (%s, term %" PRIu64 "): the cluster needs a "
			 "leader and a quorum to record maintenance; try again once duetctl status "
			 "shows a leader",
			 n->cfg.node_name, raft_role_name(st.role), st.term);
		return DUET_ENOTLEADER;
	}
	if (leader->kind != DUET_MEMBER_DATA) {
		snprintf(err, errlen,
			 "the witness %s leads for the moment (it hands leadership to a data "
			 "node); try again in a second",
			 leader->name);
		return DUET_ENOTLEADER;
	}
	uint8_t buf[1024];
	buf[0] = RAFT_ENTRY_OPERATOR;
	long len = duet_operator_encode(&op, buf + 1, sizeof buf - 1);
	int rc = len < 0
		     ? (int)len
		     : xport_send(n->xport, st.leader, NODE_FRAME_PROPOSE, buf, (uint32_t)len + 1);
	if (rc) {
		n->forward_dropped++;
		snprintf(err, errlen, "cannot forward the request to the leader %s: %s",
			 leader->name, duet_strerror(rc));
		return rc;
	}
	duet_log(DUET_LOG_INFO, "maintenance %s by %s forwarded to the leader %s",
		 on ? "on" : "off", op.who, leader->name);
	return 0;
}

/* A follower's maintenance request (duetctl maintenance run on it). */
static void forwarded_operator(struct node *n, uint32_t from, const uint8_t *payload, uint32_t len)
{
	struct duet_operator op;
	const struct duet_member *m = duet_membership_find(&n->cfg.membership, from);
	if (m && m->kind == DUET_MEMBER_DATA && duet_operator_decode(payload, len, &op) == 0 &&
	    op.command == DUET_OP_SWITCHOVER) {
		ctl_switchover_forwarded(n, &op);
		return;
	}
	if (duet_operator_decode(payload, len, &op) != 0 || !is_maintenance(op.command) ||
	    op.node != from || !m || m->kind != DUET_MEMBER_DATA) {
		n->frames_bad++;
		duet_log(DUET_LOG_WARN,
			 "forwarded OPERATOR from member %" PRIu32
			 " does not decode, is not maintenance on/off, is about another node or "
			 "comes from no data member; dropped",
			 from);
		return;
	}
	struct raft_status st;
	raft_status(n->raft, node_now_ms(), &st);
	if (st.role != RAFT_LEADER) {
		/* the requester's deadline tells its operator; nothing is re-sent */
		n->forward_dropped++;
		duet_log(DUET_LOG_WARN,
			 "maintenance request from %s arrived after this node stopped leading; "
			 "dropped",
			 m->name);
		return;
	}
	(void)propose_maintenance(n, &op, NULL);
}

/* A standby's audit of its own rebuild (ctl_rebuild.c). */
static void forwarded_step(struct node *n, uint32_t from, const uint8_t *payload, uint32_t len)
{
	struct duet_step s;
	if (duet_step_decode(payload, len, &s) != 0 || s.action != DUET_STEP_REBUILD ||
	    s.node != from) {
		n->frames_bad++;
		duet_log(DUET_LOG_WARN,
			 "forwarded STEP from member %" PRIu32
			 " does not decode, is not a rebuild or is about another node; dropped",
			 from);
		return;
	}
	struct raft_status st;
	raft_status(n->raft, node_now_ms(), &st);
	if (st.role != RAFT_LEADER) {
		n->forward_dropped++;
		return;
	}
	(void)ctl_propose(n, RAFT_ENTRY_STEP, payload, len, NULL);
}

void ctl_forwarded(struct node *n, uint32_t from, const uint8_t *payload, uint32_t len)
{
	if (len >= 1 && payload[0] == RAFT_ENTRY_OPERATOR) {
		forwarded_operator(n, from, payload + 1, len - 1);
		return;
	}
	if (len >= 1 && payload[0] == RAFT_ENTRY_STEP) {
		forwarded_step(n, from, payload + 1, len - 1);
		return;
	}
	if (len < 1 || payload[0] != RAFT_ENTRY_HEALTH) {
		n->frames_bad++;
		duet_log(DUET_LOG_WARN,
			 "forwarded proposal from member %" PRIu32
			 " is neither HEALTH, OPERATOR nor STEP; dropped",
			 from);
		return;
	}
	struct duet_health h;
	if (duet_health_decode(payload + 1, len - 1, &h) != 0 || h.node != from) {
		n->frames_bad++;
		duet_log(DUET_LOG_WARN,
			 "forwarded HEALTH from member %" PRIu32
			 " does not decode or is about another node; dropped",
			 from);
		return;
	}
	struct raft_status st;
	raft_status(n->raft, node_now_ms(), &st);
	if (st.role != RAFT_LEADER) {
		n->forward_dropped++;
		return; /* the sender re-sends its state to whoever leads next */
	}
	(void)ctl_propose(n, RAFT_ENTRY_HEALTH, payload + 1, len - 1, NULL);
}
