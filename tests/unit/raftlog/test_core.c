/* SPDX-License-Identifier: MIT */
/*
 * test_core.c - the consensus core's rules, one behaviour per test, on the
 * three-core fixture (fixture.h). The simulator (tests/sim) covers the same
 * rules under random faults; these pin each rule down by name.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "duet/raftlog.h"
#include "fixture.h"

static struct fx f;

static void setup(void)
{
	fx_init(&f, 42);
}

static void teardown(void)
{
	fx_fini(&f);
}

TestSuite(core, .init = setup, .fini = teardown);

static bool data_leader_with_lease(struct fx *x)
{
	uint32_t l = fx_leader(x);
	return l && l != 3 && raft_lease_valid(x->r[l], x->now);
}

static bool all_applied_last(struct fx *x)
{
	uint32_t l = fx_leader(x);
	if (!l)
		return false;
	uint64_t last = fx_status(x, l).last_index;
	for (uint32_t id = 1; id <= FX_N; id++)
		if (!x->down[id] && x->applied[id] != last)
			return false;
	return true;
}

Test(core, elects_a_data_node_with_a_lease)
{
	cr_assert(fx_until(&f, data_leader_with_lease, 5000), "no data-node leader within 5 s");
	uint32_t l = fx_leader(&f);
	cr_assert(l == 1 || l == 2);
	cr_assert_eq(f.max_lease_overlap, 0);
}

Test(core, proposal_commits_and_applies_everywhere)
{
	cr_assert(fx_until(&f, data_leader_with_lease, 5000));
	uint32_t l = fx_leader(&f);
	uint64_t idx;
	cr_assert_eq(fx_propose(&f, l, &idx), 0);
	cr_assert(fx_until(&f, all_applied_last, 1000));
	for (uint32_t id = 1; id <= FX_N; id++)
		cr_assert_eq(f.applied_types[id][RAFT_ENTRY_HEALTH], 1, "node %u", id);
}

Test(core, follower_refuses_proposals)
{
	cr_assert(fx_until(&f, data_leader_with_lease, 5000));
	uint32_t other = fx_leader(&f) == 1 ? 2 : 1;
	cr_assert_eq(fx_propose(&f, other, NULL), DUET_ENOTLEADER);
}

Test(core, only_one_update_outstanding)
{
	cr_assert(fx_until(&f, data_leader_with_lease, 5000));
	uint32_t l = fx_leader(&f);
	cr_assert_eq(fx_propose(&f, l, NULL), 0);
	struct raft_update u, u2;
	cr_assert_eq(raft_ready(f.r[l], &u), 0);
	cr_assert_eq(u.n_entries, 1);
	cr_assert_eq(fx_propose(&f, l, NULL), 0);
	cr_assert_eq(raft_ready(f.r[l], &u2), DUET_EBUSY);
	cr_assert_eq(raft_persisted(f.r[l], f.now, &u), 0);
	raft_update_free(&u);
	cr_assert_eq(raft_ready(f.r[l], &u2), 0);
	cr_assert_eq(u2.n_entries, 1, "the second proposal comes in the next update");
	cr_assert_eq(raft_persisted(f.r[l], f.now, &u2), 0);
	raft_update_free(&u2);
}

Test(core, vote_guard_ignores_requests_while_leader_is_live)
{
	cr_assert(fx_until(&f, data_leader_with_lease, 5000));
	uint32_t l = fx_leader(&f), other = l == 1 ? 2 : 1;
	struct raft_status before = fx_status(&f, other);
	struct raft_msg m = {.type = RAFT_MSG_VOTE,
			     .from = 3,
			     .to = other,
			     .from_incarnation = 1,
			     .term = before.term + 5};
	m.vote.last_index = 1000;
	m.vote.last_term = before.term + 4;
	fx_inject(&f, &m);
	struct raft_status after = fx_status(&f, other);
	cr_assert_eq(after.term, before.term, "a live leader's follower must not learn the term");
	cr_assert_eq(after.counters.ignored_votes_lease, before.counters.ignored_votes_lease + 1);
	cr_assert(!raft_has_update(f.r[other]) || fx_status(&f, other).vote == before.vote);
}

Test(core, prevote_keeps_an_isolated_node_from_raising_its_term)
{
	cr_assert(fx_until(&f, data_leader_with_lease, 5000));
	uint32_t l = fx_leader(&f), other = l == 1 ? 2 : 1;
	uint64_t term = fx_status(&f, l).term;
	fx_isolate(&f, other, true);
	fx_advance(&f, 10000);
	cr_assert_eq(fx_status(&f, other).term, term,
		     "pre-vote must fail without raising the term");
	cr_assert_gt(fx_status(&f, other).counters.prevotes, 0);
	fx_isolate(&f, other, false);
	fx_advance(&f, 2000);
	cr_assert_eq(fx_leader(&f), l, "the returning node must not disrupt the leader");
	cr_assert_eq(fx_status(&f, l).term, term);
}

Test(core, stale_incarnation_is_refused_and_counted)
{
	/* every member is at incarnation 1: 0 is an older self of the sender */
	cr_assert(fx_until(&f, data_leader_with_lease, 5000));
	uint32_t l = fx_leader(&f), other = l == 1 ? 2 : 1;
	struct raft_status before = fx_status(&f, other);
	struct raft_msg m = {.type = RAFT_MSG_APPEND,
			     .from = l,
			     .to = other,
			     .from_incarnation = 0,
			     .term = before.term + 1};
	m.append.prev_index = before.last_index;
	m.append.prev_term = before.last_term;
	fx_inject(&f, &m);
	struct raft_status after = fx_status(&f, other);
	cr_assert_eq(after.counters.refused_incarnation, before.counters.refused_incarnation + 1);
	cr_assert_eq(after.term, before.term);
}

Test(core, message_from_another_store_than_the_bound_one_is_refused)
{
	/* the leader binds the follower's incarnation to a store id its core
	 * does not run on (its config says none): from then on the follower's
	 * messages are refused and counted, and a message that does carry the
	 * bound id is taken */
	cr_assert(fx_until(&f, data_leader_with_lease, 5000));
	uint32_t l = fx_leader(&f), other = l == 1 ? 2 : 1;
	struct duet_membership c = fx_status(&f, l).conf;
	for (uint32_t i = 0; i < c.n; i++)
		if (c.members[i].id == other)
			c.members[i].store_id = 0x5e5e5e5e5e5e5e5eull;
	uint8_t buf[4096];
	long len = duet_membership_encode(&c, buf, sizeof buf);
	cr_assert_gt(len, 0);
	uint64_t idx = 0;
	cr_assert_eq(
	    raft_propose(f.r[l], f.now, RAFT_ENTRY_MEMBERSHIP, 0, buf, (uint32_t)len, &idx), 0);
	fx_advance(&f, 500);
	struct raft_status st = fx_status(&f, l);
	cr_assert_geq(st.commit_index, idx, "committed with the witness");
	cr_assert_gt(st.counters.refused_store, 0, "the follower's replies are refused");
	cr_assert_eq(fx_leader(&f), l, "the witness keeps the quorum");

	struct raft_status before = fx_status(&f, l);
	struct raft_msg m = {.type = RAFT_MSG_APPEND_RESP,
			     .from = other,
			     .to = l,
			     .from_incarnation = 1,
			     .from_store_id = 0x5e5e5e5e5e5e5e5eull,
			     .term = before.term};
	m.append_resp.success = 1;
	m.append_resp.match_index = before.last_index;
	m.append_resp.last_index = before.last_index;
	fx_inject(&f, &m);
	struct raft_status after = fx_status(&f, l);
	cr_assert_eq(after.counters.refused_store, before.counters.refused_store,
		     "the bound store's message is taken");
	m.from_store_id = 0x1111;
	fx_inject(&f, &m);
	cr_assert_eq(fx_status(&f, l).counters.refused_store, before.counters.refused_store + 1);
}

Test(core, newer_incarnation_is_admitted)
{
	/* a sender rebuilt by rejoin speaks under an incarnation our log has not
	 * reached yet (a fresh store knows only the bootstrap ones): admitted;
	 * its own core keeps it from voting until it has caught up */
	cr_assert(fx_until(&f, data_leader_with_lease, 5000));
	uint32_t l = fx_leader(&f), other = l == 1 ? 2 : 1;
	struct raft_status before = fx_status(&f, other);
	struct raft_msg m = {.type = RAFT_MSG_APPEND,
			     .from = l,
			     .to = other,
			     .from_incarnation = 7,
			     .term = before.term + 1};
	m.append.prev_index = before.last_index;
	m.append.prev_term = before.last_term;
	fx_inject(&f, &m);
	struct raft_status after = fx_status(&f, other);
	cr_assert_eq(after.counters.refused_incarnation, before.counters.refused_incarnation);
	cr_assert_eq(after.term, before.term + 1, "the message was taken: its term is learnt");
}

Test(core, leader_steps_down_and_loses_lease_when_cut_off)
{
	cr_assert(fx_until(&f, data_leader_with_lease, 5000));
	uint32_t l = fx_leader(&f);
	fx_isolate(&f, l, true);
	uint64_t cut_at = f.now;
	while (raft_lease_valid(f.r[l], f.now))
		fx_advance(&f, 5);
	cr_assert_leq(f.now - cut_at, 500 + 10, "lease must lapse within lease_ms");
	fx_advance(&f, 800);
	cr_assert_neq(fx_status(&f, l).role, RAFT_LEADER, "check-quorum must make it step down");
	cr_assert_gt(fx_status(&f, l).counters.stepdowns_quorum, 0);
	cr_assert(fx_until(&f, data_leader_with_lease, 5000), "the other data node takes over");
	cr_assert_neq(fx_leader(&f), l);
	cr_assert_eq(f.max_lease_overlap, 0);
}

Test(core, transfer_voids_the_lease_at_once_and_moves_leadership)
{
	cr_assert(fx_until(&f, data_leader_with_lease, 5000));
	uint32_t l = fx_leader(&f), other = l == 1 ? 2 : 1;
	cr_assert_eq(raft_transfer(f.r[l], f.now, other), 0);
	cr_assert(!raft_lease_valid(f.r[l], f.now), "a transferring leader holds no lease");
	cr_assert_eq(fx_propose(&f, l, NULL), DUET_EBUSY);
	fx_pump(&f);
	cr_assert(fx_until(&f, data_leader_with_lease, 2000));
	cr_assert_eq(fx_leader(&f), other);
	cr_assert_eq(fx_status(&f, other).last_election_reason, RAFT_ELECTION_TRANSFER);
	cr_assert_eq(f.max_lease_overlap, 0);
}

Test(core, transfer_to_the_witness_is_refused)
{
	cr_assert(fx_until(&f, data_leader_with_lease, 5000));
	cr_assert_eq(raft_transfer(f.r[fx_leader(&f)], f.now, 3), DUET_EINVAL);
}

Test(core, witness_with_the_longest_log_leads_then_hands_over)
{
	cr_assert(fx_until(&f, data_leader_with_lease, 5000));
	uint32_t l = fx_leader(&f), other = l == 1 ? 2 : 1;
	/* the other data node falls behind; the witness keeps up */
	fx_isolate(&f, other, true);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(fx_propose(&f, l, NULL), 0);
	fx_advance(&f, 250); /* a heartbeat tells the witness the commit index */
	cr_assert_eq(fx_status(&f, 3).commit_index, fx_status(&f, l).last_index);
	/* the leader dies; only the witness holds the committed entries */
	f.down[l] = true;
	fx_isolate(&f, other, false);
	cr_assert(fx_until(&f, data_leader_with_lease, 10000), "a data node must lead again");
	cr_assert_eq(fx_leader(&f), other);
	cr_assert(f.witness_led, "the witness had to lead to bring the data node up to date");
	cr_assert(!f.witness_lease, "the witness never holds the lease");
	cr_assert_eq(fx_propose(&f, 3, NULL), DUET_ENOTLEADER);
	cr_assert(fx_until(&f, all_applied_last, 1000));
	cr_assert_eq(f.applied_types[other][RAFT_ENTRY_HEALTH], 5, "no committed entry lost");
}

static bool drop_timeout_now(struct fx *x, const struct raft_msg *m)
{
	(void)x;
	return m->type != RAFT_MSG_TIMEOUT_NOW;
}

static bool witness_leads(struct fx *x)
{
	return fx_status(x, 3).role == RAFT_LEADER;
}

Test(core, witness_refuses_proposals_and_holds_no_lease_when_leader)
{
	cr_assert(fx_until(&f, data_leader_with_lease, 5000));
	uint32_t l = fx_leader(&f), other = l == 1 ? 2 : 1;
	fx_isolate(&f, other, true);
	cr_assert_eq(fx_propose(&f, l, NULL), 0);
	fx_advance(&f, 250);
	f.down[l] = true;
	fx_isolate(&f, other, false);
	f.msg_hook = drop_timeout_now; /* keep the witness from handing over */
	cr_assert(fx_until(&f, witness_leads, 10000), "the witness holds the longest log");
	cr_assert_eq(fx_propose(&f, 3, NULL), DUET_EWITNESS);
	fx_advance(&f, 500);
	cr_assert(witness_leads(&f));
	cr_assert(!f.witness_lease, "the witness never holds the lease");
}

static uint64_t snap_target;
static bool behind_node_caught_up(struct fx *x)
{
	return x->applied[2] >= snap_target && x->applied[1] >= snap_target;
}

Test(core, lagging_follower_gets_a_snapshot)
{
	cr_assert(fx_until(&f, data_leader_with_lease, 5000));
	uint32_t l = fx_leader(&f), other = l == 1 ? 2 : 1;
	fx_isolate(&f, other, true);
	for (int i = 0; i < 20; i++)
		cr_assert_eq(fx_propose(&f, l, NULL), 0);
	fx_advance(&f, 50);
	struct raft_status st = fx_status(&f, l);
	cr_assert_eq(f.applied[l], st.last_index);
	const char blob[] = "state-machine-image";
	cr_assert_eq(raft_snapshot_taken(f.r[l], f.applied[l], blob, sizeof(blob)), 0);
	cr_assert_eq(fx_status(&f, l).snapshot_index, f.applied[l]);
	cr_assert_eq(raft_snapshot_taken(f.r[l], f.applied[l] + 1, blob, sizeof(blob)), DUET_EINVAL,
		     "cannot snapshot what was not applied");
	snap_target = f.applied[l];
	fx_isolate(&f, other, false);
	cr_assert(fx_until(&f, behind_node_caught_up, 3000));
	cr_assert_eq(f.restores[other], 1, "the lagging node restored from the snapshot");
	cr_assert_eq(fx_status(&f, other).counters.snapshots_installed, 1);
	cr_assert_eq(fx_status(&f, l).counters.snapshots_sent, 1);
	cr_assert_eq(fx_propose(&f, fx_leader(&f), NULL), 0);
	cr_assert(fx_until(&f, all_applied_last, 1000), "replication resumes after the snapshot");
}

Test(core, committed_entry_is_never_truncated)
{
	cr_assert(fx_until(&f, data_leader_with_lease, 5000));
	uint32_t l = fx_leader(&f), other = l == 1 ? 2 : 1;
	cr_assert_eq(fx_propose(&f, l, NULL), 0);
	cr_assert(fx_until(&f, all_applied_last, 1000));
	struct raft_status before = fx_status(&f, other);
	cr_assert_eq(before.commit_index, before.last_index);
	/* a (buggy or malicious) leader of the same term rewrites a committed entry */
	uint8_t data[4] = {1, 2, 3, 4};
	struct raft_entry e = {.term = before.term,
			       .index = before.last_index,
			       .type = RAFT_ENTRY_STEP,
			       .len = 4,
			       .data = data};
	struct raft_msg m = {.type = RAFT_MSG_APPEND,
			     .from = l,
			     .to = other,
			     .from_incarnation = 1,
			     .term = before.term + 1};
	m.append.prev_index = before.last_index - 1;
	m.append.prev_term = before.last_term;
	m.append.commit = before.commit_index;
	m.append.n_entries = 1;
	m.append.entries = &e;
	e.term = before.term + 1;
	fx_inject(&f, &m);
	struct raft_status after = fx_status(&f, other);
	cr_assert_eq(after.last_index, before.last_index);
	cr_assert_eq(after.last_term, before.last_term, "the committed entry was kept");
}

Test(core, config_check_refuses_unsafe_lease)
{
	struct raft_config c;
	raft_config_default(&c);
	c.self_id = 1;
	cr_assert_eq(raft_config_check(&c, NULL, 0), 0);
	c.lease_ms = 750;
	char why[200];
	cr_assert_eq(raft_config_check(&c, why, sizeof(why)), DUET_EINVAL);
	cr_assert(strstr(why, "lease_ms") != NULL, "message names the rule: %s", why);
	struct raft *r;
	cr_assert_eq(raft_new(&c, &r), DUET_EINVAL);
}

Test(core, load_refuses_a_log_that_does_not_name_us)
{
	struct raft_config c;
	raft_config_default(&c);
	c.self_id = 9;
	struct raft *r;
	cr_assert_eq(raft_new(&c, &r), 0);
	uint8_t buf[4096];
	struct raft_entry boot;
	cr_assert_eq(raft_bootstrap_entry(&f.conf, &boot, buf, sizeof(buf)), 0);
	struct raft_load_state st = {.term = 1, .entries = &boot, .n_entries = 1};
	cr_assert_eq(raft_load(r, &st, 0), DUET_EFOREIGN);
	raft_free(r);
}
