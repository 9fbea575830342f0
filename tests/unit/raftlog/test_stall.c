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
