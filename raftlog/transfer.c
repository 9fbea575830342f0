/* SPDX-License-Identifier: MIT */
/*
 * transfer.c - leadership transfer (Raft thesis 3.10, TimeoutNow) and the
 * witness hand-off (DESIGN.md section 3: "leader = master candidate").
 *
 * raft_transfer() gives up the lease at once and for the rest of the term:
 * the transferee campaigns with the transfer flag, which voters honour even
 * while they have a live leader, so the old leader's lease must already be
 * void when the first TimeoutNow leaves. The leader stops taking proposals,
 * brings the target up to date, then sends TimeoutNow. If the target has not
 * taken over within transfer_timeout_ms, the leader steps down: staying on
 * without a lease would leave the cluster without a master.
 *
 * A witness that wins an election does the same on its own, towards the
 * reachable data node with the longest matching log, as soon as one has
 * caught up with it.
 */
#include "core.h"

static bool is_data_peer(const struct peer *p)
{
	return p && p->kind == DUET_MEMBER_DATA;
}

int raft_transfer(struct raft *r, uint64_t now_ms, uint32_t target)
{
	if (now_ms > r->now)
		r->now = now_ms;
	if (r->role != RAFT_LEADER)
		return DUET_ENOTLEADER;
	struct peer *p = peer_find(r, target);
	if (!is_data_peer(p))
		return DUET_EINVAL;
	if (r->transfer_target)
		return DUET_EBUSY;
	r->transfer_target = target;
	r->transfer_deadline = r->now + r->cfg.transfer_timeout_ms;
	r->transfer_sent = false;
	r->lease_void = true;
	CNT(r, transfers);
	transfer_progress(r);
	return 0;
}

void transfer_progress(struct raft *r)
{
	if (r->role != RAFT_LEADER)
		return;
	if (!r->transfer_target && r->kind == DUET_MEMBER_WITNESS) {
		/* hand over once our own term's no-op is committed, to the best data node */
		if (r->commit < log_last_index(r) || log_term_at(r, r->commit) != r->term)
			return;
		struct peer *best = NULL;
		for (uint32_t i = 0; i < r->n_peers; i++) {
			struct peer *p = &r->peers[i];
			if (!is_data_peer(p) || p->match != log_last_index(r))
				continue;
			if (r->now - p->last_ack_ms >= r->cfg.election_timeout_min_ms)
				continue;
			if (!best || p->last_ack_ms > best->last_ack_ms)
				best = p;
		}
		if (!best)
			return;
		r->transfer_target = best->id;
		r->transfer_deadline = r->now + r->cfg.transfer_timeout_ms;
		r->transfer_sent = false;
		r->lease_void = true;
		CNT(r, transfers);
	}
	if (!r->transfer_target || r->transfer_sent)
		return;
	struct peer *p = peer_find(r, r->transfer_target);
	if (!p || p->match != log_last_index(r))
		return; /* replication will bring it up to date; we come back here */
	struct raft_msg m;
	msg_init(r, &m, RAFT_MSG_TIMEOUT_NOW, p->id);
	if (out_msg(r, false, &m) == 0)
		r->transfer_sent = true;
}

void transfer_tick(struct raft *r)
{
	if (r->role != RAFT_LEADER)
		return;
	if (r->transfer_target && r->now >= r->transfer_deadline) {
		become_follower(r, r->term, 0); /* the target did not take over */
		return;
	}
	transfer_progress(r);
}

int handle_timeout_now(struct raft *r, const struct raft_msg *m)
{
	if (m->term != r->term || r->role != RAFT_FOLLOWER || r->leader != m->from)
		return 0;
	if (r->kind != DUET_MEMBER_DATA || !may_vote(r))
		return 0;
	return campaign(r, true);
}
