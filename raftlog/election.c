/* SPDX-License-Identifier: MIT */
/*
 * election.c - roles, timers, pre-vote and vote (Raft section 5.2, thesis
 * 9.6 pre-vote), with the vote guard that makes leases safe.
 *
 * Vote guard: a member that heard from a live leader less than
 * election_timeout_min ago (by its own clock), or that started less than
 * that ago, or that leads, ignores pre-vote and vote requests unless they
 * carry the transfer flag. A leader's lease ends lease_ms after the send time
 * of a heartbeat a majority acknowledged; every member of that majority
 * received it after it was sent, so none of them helps elect anybody for
 * election_timeout_min > lease_ms + max_drift_ms: no two leases overlap.
 * A leader that starts a transfer gives up its lease first (transfer.c).
 *
 * Timers come from a seeded xorshift generator: no rand(), no clock reads.
 * The witness waits witness_extra_ms longer, so a live data node normally
 * wins; the witness still campaigns because it may hold the only complete log.
 */
#include <string.h>

#include "core.h"

static uint64_t rng_next(struct raft *r)
{
	/* splitmix64: good enough spread, fully determined by the seed */
	uint64_t z = (r->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void reset_election_timer(struct raft *r)
{
	uint64_t span = r->cfg.election_timeout_max_ms - r->cfg.election_timeout_min_ms;
	uint64_t t = r->cfg.election_timeout_min_ms + (span ? rng_next(r) % span : 0);
	if (r->kind == DUET_MEMBER_WITNESS)
		t += r->cfg.witness_extra_ms;
	r->election_deadline = r->now + t;
}

uint32_t quorum(const struct raft *r)
{
	return r->conf.n / 2 + 1;
}

/* A member votes and campaigns only under the incarnation the membership
 * records for it, on the store that incarnation is bound to: a wiped member
 * that was given a new incarnation by rejoin waits until the MEMBERSHIP
 * entry naming it has reached its own log, and a store made again under an
 * old incarnation (duetctl init on a member that could not reach its
 * peers) never votes. */
bool may_vote(const struct raft *r)
{
	const struct duet_member *me = duet_membership_find(&r->conf, r->id);
	return me && me->incarnation == r->cfg.self_incarnation &&
	       (!me->store_id || !r->cfg.self_store_id || me->store_id == r->cfg.self_store_id);
}

bool vote_guard_active(const struct raft *r)
{
	if (r->role == RAFT_LEADER)
		return true;
	return r->now - r->last_leader_contact < r->cfg.election_timeout_min_ms;
}

static void set_term(struct raft *r, uint64_t term)
{
	if (term != r->term) {
		r->term = term;
		r->vote = 0;
		r->out.meta_dirty = true;
	}
}

void become_follower(struct raft *r, uint64_t term, uint32_t leader)
{
	if (r->role == RAFT_LEADER)
		r->last_leader_contact = r->now; /* our own lease may still run: guard votes */
	set_term(r, term);
	r->role = RAFT_FOLLOWER;
	r->leader = leader;
	r->lease_void = false;
	r->transfer_target = 0;
	r->heartbeat_due = false;
	reset_election_timer(r);
}

static int send_vote_requests(struct raft *r, uint8_t type, uint64_t term, bool transfer)
{
	for (uint32_t i = 0; i < r->n_peers; i++) {
		struct raft_msg m;
		msg_init(r, &m, type, r->peers[i].id);
		m.term = term;
		m.vote.last_index = log_last_index(r);
		m.vote.last_term = log_last_term(r);
		m.vote.transfer = transfer;
		/* a vote request depends on our durable self-vote; a pre-vote on nothing */
		int rc = out_msg(r, type == RAFT_MSG_VOTE, &m);
		if (rc)
			return rc;
	}
	return 0;
}

static void clear_tally(struct raft *r)
{
	for (uint32_t i = 0; i < r->n_peers; i++) {
		r->peers[i].vote_granted = false;
		r->peers[i].vote_responded = false;
	}
}

static uint32_t tally(const struct raft *r)
{
	uint32_t granted = 1; /* self */
	for (uint32_t i = 0; i < r->n_peers; i++)
		granted += r->peers[i].vote_granted;
	return granted;
}

int start_prevote(struct raft *r)
{
	r->role = RAFT_PRECANDIDATE;
	r->leader = 0;
	clear_tally(r);
	reset_election_timer(r);
	CNT(r, prevotes);
	if (tally(r) >= quorum(r))
		return campaign(r, false);
	return send_vote_requests(r, RAFT_MSG_PREVOTE, r->term + 1, false);
}

int campaign(struct raft *r, bool transfer)
{
	set_term(r, r->term + 1);
	r->vote = r->id;
	r->out.meta_dirty = true;
	r->role = RAFT_CANDIDATE;
	r->leader = 0;
	r->last_election_reason = transfer ? RAFT_ELECTION_TRANSFER : RAFT_ELECTION_TIMEOUT;
	r->last_election_ms = r->now;
	clear_tally(r);
	reset_election_timer(r);
	CNT(r, elections);
	if (tally(r) >= quorum(r))
		return become_leader(r);
	return send_vote_requests(r, RAFT_MSG_VOTE, r->term, transfer);
}

static int reply(struct raft *r, const struct raft_msg *req, uint8_t type, uint64_t term,
		 bool granted)
{
	struct raft_msg m;
	msg_init(r, &m, type, req->from);
	m.term = term;
	m.vote_resp.granted = granted;
	return out_msg(r, type == RAFT_MSG_VOTE_RESP, &m);
}

static bool log_ok(const struct raft *r, const struct raft_msg *m)
{
#ifdef DUET_PLANT_BUG_VOTE_WITHOUT_LOG_CHECK
	(void)r;
	(void)m;
	return true; /* planted: grants votes to candidates with shorter logs */
#else
	return log_up_to_date(r, m->vote.last_index, m->vote.last_term);
#endif
}

int handle_vote_req(struct raft *r, const struct raft_msg *m)
{
	bool pre = m->type == RAFT_MSG_PREVOTE;
	uint8_t resp = pre ? RAFT_MSG_PREVOTE_RESP : RAFT_MSG_VOTE_RESP;

	if (m->term < r->term)
		return reply(r, m, resp, r->term, false);
	if (!m->vote.transfer && vote_guard_active(r)) {
		CNT(r, ignored_votes_lease);
		return 0; /* a live leader exists: do not even learn the term */
	}
	if (pre) {
		bool grant = m->term > r->term && may_vote(r) && log_ok(r, m);
		return reply(r, m, resp, grant ? m->term : r->term, grant);
	}
	if (m->term > r->term)
		become_follower(r, m->term, 0);
	bool grant = may_vote(r) && (r->vote == 0 || r->vote == m->from) && log_ok(r, m);
	if (grant) {
		r->vote = m->from;
		r->out.meta_dirty = true;
		reset_election_timer(r);
	}
	return reply(r, m, resp, r->term, grant);
}

int handle_vote_resp(struct raft *r, const struct raft_msg *m)
{
	bool pre = m->type == RAFT_MSG_PREVOTE_RESP;
	if (pre && r->role != RAFT_PRECANDIDATE)
		return 0;
	if (!pre && r->role != RAFT_CANDIDATE)
		return 0;
	/* a refusal carries the voter's term: a pre-vote at or below it cannot
	 * win, so learn it (else members at terms t and t + 1, the one at t with
	 * the longer log, refuse each other's pre-votes forever) */
	if (m->term > r->term && !m->vote_resp.granted) {
		become_follower(r, m->term, 0);
		return 0;
	}
	if (m->term != (pre ? r->term + 1 : r->term))
		return 0;
	struct peer *p = peer_find(r, m->from);
	if (!p || p->vote_responded)
		return 0;
	p->vote_responded = true;
	p->vote_granted = m->vote_resp.granted;
	if (tally(r) < quorum(r))
		return 0;
	return pre ? campaign(r, false) : become_leader(r);
}
