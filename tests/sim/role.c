/* SPDX-License-Identifier: MIT */
/*
 * role.c - who may be master, decided for real: the leading data node runs
 * role/'s role_leader_decide() on its own applied fsm (fsm.c keeps fsm/'s
 * state on every member) and performs the command, as duetd's ctl_step and
 * leader_not_master do (daemon/ctl.c):
 *
 *  - only when it leads with a valid lease and its fsm is current (it has
 *    applied everything committed, and the commit is of its own term), and
 *    the fsm does not name it master;
 *  - PROPOSE_MASTER: a real MASTER entry (duet_master_encode, `previous` the
 *    master its fsm names), its outcome recorded with role_proposal_done();
 *    check.c registers it with the outcome the fsm's rules give on the state
 *    role/ decided on (master_only_by_rule compares it with the fsm's verdict
 *    on every member);
 *  - HAND_BACK and TRANSFER: raft_transfer, at most one per 2 s as
 *    ctl_transfer (CTL_TRANSFER_GAP).
 *
 * What is modelled, for this first step:
 *  - PostgreSQL is a stand-in (the full PostgreSQL model comes next): every
 *    data node has one (pg_configured), it always answers (pg_known), and it
 *    is a primary exactly when the node's own applied fsm names it master,
 *    or, while it names none, on node 1 (the cluster was
 *    initialised there, so the first start goes to it: node 2 transfers
 *    leadership to node 1, as role/ says).
 *  - SYNC: duetd's master turns SYNC on when PostgreSQL reports the standby
 *    streaming synchronously (daemon/ctl_sync.c). Here the master that leads
 *    with the lease and a current fsm proposes SYNC(other data node, on)
 *    through duet_sync_encode once raft says that node is caught up (its
 *    match index at the commit index, an ack within 3 heartbeats); again
 *    when the last one it proposed was applied and the node is still not
 *    SYNC. SYNC(off) is never proposed: only a MEMBERSHIP that changes the
 *    node's incarnation (a rejoin) clears it, by the fsm's rule.
 *  - No HEALTH entries come from here (the workload's random payloads do
 *    not decode), so no master fails a check and role_step_down_decide()
 *    is not run; maintenance is never switched on.
 *
 * Planted bug (tests/sim/CMakeLists.txt, duet-sim-bug-role_stale_fsm): the
 * fsm-current gate is skipped, so role/ decides on a state the log already
 * moved past; master_only_by_rule must catch it.
 */
#include <inttypes.h>
#include <string.h>

#include "sim.h"

#define ROLE_TRANSFER_GAP_MS 2000 /* as CTL_TRANSFER_GAP */

void role_reset(struct sim_node *n)
{
	memset(&n->proposal, 0, sizeof(n->proposal));
	n->transfer_at_ms = 0;
	n->sync_term = n->sync_index = 0;
}

/* The stand-in PostgreSQL of node `id`, as its last probe finds it. */
static bool pg_in_recovery(const struct fsm *f, uint32_t id)
{
	return f->master.node ? f->master.node != id : id != 1;
}

/* role/'s "in touch": the peer acked within 3 heartbeats and holds the
 * commit index. */
static bool peer_in_touch(const struct sim *s, const struct raft_status *st, uint32_t id,
			  uint64_t now)
{
	for (uint32_t i = 0; i < st->n_peers; i++) {
		const struct raft_peer_status *p = &st->peers[i];
		if (p->id == id && p->last_ack_ms &&
		    now - p->last_ack_ms < 3u * s->cfg.heartbeat_ms &&
		    p->match_index >= st->commit_index)
			return true;
	}
	return false;
}

static void transfer(struct sim *s, struct sim_node *n, const struct raft_status *st,
		     const struct role_leader_out *out, uint64_t now)
{
	if (n->transfer_at_ms && now - n->transfer_at_ms < ROLE_TRANSFER_GAP_MS)
		return;
	n->transfer_at_ms = now;
	int rc = raft_transfer(n->r, now, out->to);
	trace_add(s, TR_DECIDE, n->id, out->to, (uint8_t)out->action, (uint64_t)(int64_t)rc,
		  st->term, 0, 0);
	if (rc == 0)
		s->stats.role_transfers++;
	else if (rc != DUET_EBUSY && rc != DUET_ENOTLEADER)
		sim_fail(s, "core_error", "n%u: raft_transfer(%u) for role/ (%s): %s", n->id,
			 out->to, out->transfer_why, duet_strerror(rc));
}

static void propose_master(struct sim *s, struct sim_node *n, const struct raft_status *st,
			   const struct role_leader_out *out, uint64_t now)
{
	const struct fsm *f = &n->fsm.real;
	struct duet_master m;
	memset(&m, 0, sizeof(m));
	m.node = n->id;
	m.previous = f->master.node;
	m.reason = out->reason;
	snprintf(m.detail, sizeof(m.detail), "%s", out->detail);
	uint8_t buf[1024];
	long len = duet_master_encode(&m, buf, sizeof(buf));
	uint64_t index = 0;
	int rc =
	    len < 0 ? (int)len
		    : raft_propose(n->r, now, RAFT_ENTRY_MASTER,
				   clock_wall_ms(&n->clock, s->now_us), buf, (uint32_t)len, &index);
	role_proposal_done(&n->proposal, st->term, rc, now);
	trace_add(s, TR_DECIDE, n->id, n->id, ROLE_LEADER_PROPOSE_MASTER, (uint64_t)(int64_t)rc,
		  st->term, index, 0);
	if (rc == 0) {
		s->stats.role_masters++;
		check_role_proposed(s, n, index, st->term, &m);
	} else if (rc != DUET_EBUSY && rc != DUET_ENOTLEADER) {
		sim_fail(s, "core_error", "n%u: MASTER for role/: %s", n->id, duet_strerror(rc));
	}
}

/* The master that leads: SYNC(on) for the other data node once it caught up. */
static void sync_step(struct sim *s, struct sim_node *n, const struct raft_status *st, uint64_t now)
{
	const struct fsm *f = &n->fsm.real;
	uint32_t other = role_other_data(&s->conf, n->id);
	if (!other || fsm_role_of(f, other) != FSM_ROLE_ASYNC_STANDBY)
		return;
	if (n->sync_term == st->term && f->applied_index < n->sync_index)
		return; /* the last one is not applied yet */
	if (!peer_in_touch(s, st, other, now))
		return; /* not caught up */
	struct duet_sync y;
	memset(&y, 0, sizeof(y));
	y.node = other;
	y.on = 1;
	snprintf(y.detail, sizeof(y.detail), "caught up at %" PRIu64 " (simulated)",
		 st->commit_index);
	uint8_t buf[512];
	long len = duet_sync_encode(&y, buf, sizeof(buf));
	uint64_t index = 0;
	int rc = len < 0
		     ? (int)len
		     : raft_propose(n->r, now, RAFT_ENTRY_SYNC, clock_wall_ms(&n->clock, s->now_us),
				    buf, (uint32_t)len, &index);
	trace_add(s, TR_DECIDE, n->id, other, ROLE_TRACE_SYNC, (uint64_t)(int64_t)rc, st->term,
		  index, 0);
	if (rc == 0) {
		n->sync_term = st->term;
		n->sync_index = index;
		s->stats.role_syncs++;
	} else if (rc != DUET_EBUSY && rc != DUET_ENOTLEADER) {
		sim_fail(s, "core_error", "n%u: SYNC for role/: %s", n->id, duet_strerror(rc));
	}
}

void role_step(struct sim *s, struct sim_node *n)
{
	if (n->id == SIM_WITNESS || !n->up || n->paused || !n->r || s->failed)
		return;
	uint64_t now = node_now_ms(s, n);
	if (!raft_lease_valid(n->r, now))
		return;
	struct raft_status st;
	raft_status(n->r, now, &st);
	if (st.role != RAFT_LEADER)
		return;
	const struct fsm *f = &n->fsm.real;
	bool current = f->applied_term == st.term && f->applied_index == st.commit_index;
#ifdef DUET_SIM_PLANT_BUG_ROLE_STALE_FSM
	current = true; /* planted: decide on whatever was applied */
#endif
	if (!current)
		return;
	if (f->master.node == n->id) {
		sync_step(s, n, &st, now);
		return;
	}
	const struct duet_member *me = duet_membership_find(&s->conf, n->id);
	struct role_leader_in in;
	memset(&in, 0, sizeof(in));
	in.raft = &st;
	in.now_ms = now;
	in.heartbeat_ms = s->cfg.heartbeat_ms;
	in.self_id = n->id;
	in.self_name = me ? me->name : "?";
	in.members = &s->conf;
	in.fsm = f;
	in.pg_configured = true;
	in.pg_known = true;
	in.pg_in_recovery = pg_in_recovery(f, n->id);
	in.pg_err = "";
	in.proposal = &n->proposal;
	struct role_leader_out out;
	role_leader_decide(&in, &out);
	switch (out.action) {
	case ROLE_LEADER_PROPOSE_MASTER:
		propose_master(s, n, &st, &out, now);
		break;
	case ROLE_LEADER_HAND_BACK:
	case ROLE_LEADER_TRANSFER:
		transfer(s, n, &st, &out, now);
		break;
	case ROLE_LEADER_WAIT:
	case ROLE_LEADER_STEP_DOWN: /* not one of this decision's */
		break;
	}
}
