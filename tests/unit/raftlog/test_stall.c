/* SPDX-License-Identifier: MIT */
/*
 * test_stall.c - a slow write does not silence a member (issue 13, defect
 * 11: a rejoin's base backup loaded the master's disk, one store write took
 * over a second, no heartbeat left meanwhile and the master lost its lease).
 *
 * While an update is outstanding the driver takes raft_ready_msgs() only
 * (fixture.c, fx_stall): the leader must keep its lease and its followers,
 * and nothing that leaves may claim what the stalled write has not made
 * durable.
 */
#include <criterion/criterion.h>

#include "fixture.h"

static struct fx f;

static void fini(void)
{
	fx_fini(&f);
}

TestSuite(stall, .fini = fini);

static bool has_leader(struct fx *x)
{
	return fx_leader(x) != 0 && fx_leader(x) != 3;
}

/* An APPEND_RESP success from a stalled node never claims past its
 * persisted log. */
static bool ack_durable_hook(struct fx *x, const struct raft_msg *m)
{
	if (m->type == RAFT_MSG_APPEND_RESP && m->append_resp.success && x->holding[m->from]) {
		struct raft_status st = fx_status(x, m->from);
		cr_assert_leq(m->append_resp.match_index, st.persisted_index,
			      "n%u acks %lu with a write in flight; persisted %lu", m->from,
			      (unsigned long)m->append_resp.match_index,
			      (unsigned long)st.persisted_index);
	}
	return true;
}

static uint32_t elect(void)
{
	fx_init(&f, 11);
	cr_assert(fx_until(&f, has_leader, 20000), "no data-node leader");
	uint32_t leader = fx_leader(&f);
	fx_advance(&f, 300);
	cr_assert(raft_lease_valid(f.r[leader], f.now));
	return leader;
}

/* Holds for 3 s (past the election timeout and six leases): the leader
 * keeps its term, its role and its lease at every step. */
static void hold_through(uint32_t leader, uint64_t ms)
{
	uint64_t term = fx_status(&f, leader).term;
	for (uint64_t t = 0; t < ms; t += 5) {
		fx_advance(&f, 5);
		struct raft_status st = fx_status(&f, leader);
		cr_assert_eq(st.role, RAFT_LEADER, "leader lost its role after %lu ms",
			     (unsigned long)t);
		cr_assert_eq(st.term, term, "term changed after %lu ms", (unsigned long)t);
		cr_assert(raft_lease_valid(f.r[leader], f.now), "lease lapsed after %lu ms",
			  (unsigned long)t);
		for (uint32_t id = 1; id <= FX_N; id++)
			cr_assert_eq(fx_status(&f, id).term, term, "n%u changed term", id);
	}
}

Test(stall, leader_keeps_lease_while_its_write_is_in_flight)
{
	uint32_t leader = elect();
	f.msg_hook = ack_durable_hook;
	fx_stall(&f, leader, true);
	uint64_t idx;
	cr_assert_eq(fx_propose(&f, leader, &idx), 0);
	hold_through(leader, 3000);
	struct raft_status st = fx_status(&f, leader);
	cr_assert(f.holding[leader], "the leader's write should still be in flight");
	cr_assert_lt(st.persisted_index, idx, "the entry is not durable on the leader");
	/* both followers hold it durably: committed, but not applied on the leader */
	cr_assert_geq(st.commit_index, idx);
	cr_assert_lt(f.applied[leader], idx);
	fx_stall(&f, leader, false);
	fx_advance(&f, 50);
	cr_assert_geq(f.applied[leader], idx);
	cr_assert_eq(fx_leader(&f), leader);
}

Test(stall, followers_answer_heartbeats_while_their_writes_are_in_flight)
{
	uint32_t leader = elect();
	f.msg_hook = ack_durable_hook;
	uint64_t idx;
	cr_assert_eq(fx_propose(&f, leader, &idx), 0);
	for (uint32_t id = 1; id <= FX_N; id++)
		if (id != leader)
			fx_stall(&f, id, true);
	cr_assert_eq(fx_propose(&f, leader, &idx), 0);
	hold_through(leader, 3000);
	/* no follower holds the new entry durably: nothing commits it */
	cr_assert_lt(fx_status(&f, leader).commit_index, idx);
	for (uint32_t id = 1; id <= FX_N; id++)
		if (id != leader) {
			cr_assert(f.holding[id]);
			fx_stall(&f, id, false);
		}
	fx_advance(&f, 50);
	cr_assert_geq(fx_status(&f, leader).commit_index, idx);
	cr_assert_eq(fx_leader(&f), leader);
}

/* The highest index a success reply of term stale_term claimed to the old
 * leader after the truncation (below). */
static uint32_t trunc_follower, trunc_leader;
static uint64_t stale_term, stale_max_match;

static bool stale_ack_hook(struct fx *x, const struct raft_msg *m)
{
	(void)x;
	if (m->type == RAFT_MSG_APPEND_RESP && m->append_resp.success &&
	    m->from == trunc_follower && m->to == trunc_leader && m->term == stale_term &&
	    m->append_resp.match_index > stale_max_match)
		stale_max_match = m->append_resp.match_index;
	return true;
}

/* Seed 224 of the simulator with disk stalls: a follower's write is in
 * flight; it appends more entries in memory, whose replies wait for the next
 * write; a new leader's conflicting entries then truncate them. Those
 * replies must not leave: after the next write the log no longer holds what
 * they claim (the old leader could count an entry the follower has
 * dropped). */
Test(stall, truncation_drops_the_replies_that_claim_the_removed_entries)
{
	uint32_t leader = elect();
	uint32_t fol = leader == 1 ? 2 : 1;
	struct raft_status before = fx_status(&f, fol);
	uint64_t term = fx_status(&f, leader).term;
	fx_stall(&f, fol, true);
	f.cut[leader][3] = true; /* e1 and e2 reach the follower only: uncommitted */
	uint64_t e1, e2;
	cr_assert_eq(fx_propose(&f, leader, &e1), 0);
	fx_pump(&f);
	cr_assert(f.holding[fol], "the follower's write of e1 should be in flight");
	cr_assert_eq(fx_propose(&f, leader, &e2), 0);
	fx_pump(&f);
	cr_assert_eq(e1, before.last_index + 1);
	cr_assert_eq(fx_status(&f, fol).last_index, e2, "e2 is in the follower's memory");
	f.cut[leader][fol] = true; /* no more appends from the old leader */

	trunc_follower = fol;
	trunc_leader = leader;
	stale_term = term;
	stale_max_match = 0;
	f.msg_hook = stale_ack_hook;

	static const uint8_t payload[16] = "conflicting-data";
	struct raft_entry e = {.index = e1,
			       .term = term + 1,
			       .wall_ms = 1700000000000ull,
			       .author = 3,
			       .type = RAFT_ENTRY_HEALTH,
			       .len = sizeof payload,
			       .data = (uint8_t *)payload};
	struct raft_msg m = {
	    .type = RAFT_MSG_APPEND, .from = 3, .to = fol, .from_incarnation = 1, .term = term + 1};
	m.append.prev_index = before.last_index;
	m.append.prev_term = before.last_term;
	m.append.commit = before.commit_index;
	m.append.n_entries = 1;
	m.append.entries = &e;
	fx_inject(&f, &m);
	cr_assert_lt(fx_status(&f, fol).commit_index, e1);
	cr_assert_eq(fx_status(&f, fol).last_index, e1, "e1 replaced, e2 truncated");

	fx_stall(&f, fol, false);
	fx_pump(&f);
	struct raft_status st = fx_status(&f, fol);
	cr_assert_eq(st.persisted_index, e1);
	cr_assert_leq(stale_max_match, e1,
		      "a reply of term %lu claimed %lu after e2 (%lu) was truncated",
		      (unsigned long)term, (unsigned long)stale_max_match, (unsigned long)e2);
}
