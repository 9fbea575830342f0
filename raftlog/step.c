/* SPDX-License-Identifier: MIT */
/*
 * step.c - raft_step(): admission checks, then dispatch by message type.
 *
 * Admission (DESIGN.md section 3, incarnations): a message must be addressed
 * to us and come from a current member under the incarnation the membership
 * records for it; anything else is refused and counted, never acted on. A
 * member wiped and rebuilt by rejoin thus cannot cast a vote or an
 * acknowledgement that its old self already cast. Under the incarnation the
 * membership records, a message must also come from the store that
 * incarnation is bound to, once one is: a store made again under an old
 * incarnation (wiped, then duetctl init while the peers were unreachable)
 * has forgotten its votes and entries just the same.
 */
#include "core.h"

int raft_step(struct raft *r, uint64_t now_ms, const struct raft_msg *m)
{
	if (!r->loaded)
		return DUET_EINVAL;
	if (now_ms > r->now)
		r->now = now_ms;
	if (m->to != r->id || m->from == r->id) {
		CNT(r, refused_unknown);
		return 0;
	}
	const struct duet_member *sender = duet_membership_find(&r->conf, m->from);
	if (!sender) {
		CNT(r, refused_unknown);
		return 0;
	}
	/* lower: the sender's old self, gone. Higher: our log has not yet reached
	 * the MEMBERSHIP that rebuilt it (a fresh store knows only the bootstrap
	 * incarnations); its own core keeps it from voting until it caught up. */
	if (m->from_incarnation < sender->incarnation) {
		CNT(r, refused_incarnation);
		return 0;
	}
	if (m->from_incarnation == sender->incarnation && sender->store_id &&
	    m->from_store_id != sender->store_id) {
		CNT(r, refused_store);
		return 0;
	}
	if (m->term == 0) {
		CNT(r, invalid_msgs);
		return 0;
	}

	switch (m->type) {
	case RAFT_MSG_PREVOTE:
	case RAFT_MSG_VOTE:
		return handle_vote_req(r, m);
	case RAFT_MSG_PREVOTE_RESP:
	case RAFT_MSG_VOTE_RESP:
		return handle_vote_resp(r, m);
	case RAFT_MSG_APPEND:
		return handle_append(r, m);
	case RAFT_MSG_APPEND_RESP:
		return handle_append_resp(r, m);
	case RAFT_MSG_SNAPSHOT:
		return handle_snapshot(r, m);
	case RAFT_MSG_TIMEOUT_NOW:
		return handle_timeout_now(r, m);
	}
	CNT(r, invalid_msgs);
	return 0;
}
