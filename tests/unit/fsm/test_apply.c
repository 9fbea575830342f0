/* SPDX-License-Identifier: MIT */
/*
 * test_apply.c - fsm_apply(): sequences of entries and the state they leave;
 * the transition table's refusals (MASTER to a standby that is not SYNC, to
 * the witness, to a non-member, stale MASTER, SYNC for the master), each
 * refused, counted and kept as the last refusal with the state unchanged;
 * membership changes; health; operator; stale and out-of-order indexes.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "fixture.h"

TestSuite(apply, .init = fx_setup, .fini = fx_teardown);

/* Refused: outcome, reason, counter, last refusal, nothing else changed. */
static void expect_refused(int outcome, uint8_t reason, const struct fsm *before)
{
	struct fsm *f = &fx->fsm;
	cr_assert_eq(outcome, FSM_REFUSED);
	cr_assert_eq(fx->last.reason, reason, "reason %s, expected %s",
		     fsm_refusal_name(fx->last.reason), fsm_refusal_name(reason));
	cr_assert_eq(f->counters.refused, before->counters.refused + 1);
	cr_assert_eq(f->last_refusal.index, fx->n);
	cr_assert_eq(f->last_refusal.reason, reason);
	cr_assert_neq(f->last_refusal.why[0], 0);
	cr_assert_eq(memcmp(&f->master, &before->master, sizeof(f->master)), 0);
	cr_assert_eq(memcmp(f->nodes, before->nodes, sizeof(f->nodes)), 0);
	cr_assert_eq(f->applied_index, fx->n, "a refused entry is still applied (consumed)");
}

Test(apply, cluster_up)
{
	fx_cluster_up();
	struct fsm *f = &fx->fsm;
	cr_assert_eq(f->applied_index, 3);
	cr_assert_eq(f->membership.n, 3);
	cr_assert_eq(f->master.node, 1);
	cr_assert_eq(f->master.reason, DUET_MASTER_FIRST_START);
	cr_assert_eq(f->master.since_index, 2);
	cr_assert_eq(fsm_role_of(f, 1), FSM_ROLE_MASTER);
	cr_assert_eq(fsm_role_of(f, 2), FSM_ROLE_SYNC_STANDBY);
	cr_assert_eq(fsm_role_of(f, 3), FSM_ROLE_WITNESS);
	cr_assert_eq(fsm_role_of(f, 9), FSM_ROLE_NONE);
	cr_assert_eq(fsm_node_find(f, 2)->sync_since_index, 3);
	cr_assert_eq(f->counters.first_starts, 1);
	cr_assert_eq(f->counters.refused, 0);
}

Test(apply, failover_to_sync_standby_then_back)
{
	fx_cluster_up();
	struct fsm *f = &fx->fsm;
	cr_assert_eq(fx_master(2, 1, DUET_MASTER_FAILOVER), FSM_APPLIED);
	cr_assert_eq(f->master.node, 2);
	cr_assert_eq(f->master.previous, 1);
	cr_assert_eq(fsm_role_of(f, 1), FSM_ROLE_ASYNC_STANDBY, "the old master is not promotable");
	cr_assert_eq(fsm_node_find(f, 2)->sync, 0);
	cr_assert_eq(f->counters.failovers, 1);
	/* back to 1 needs SYNC(1, on) first */
	struct fsm before = *f;
	expect_refused(fx_master(1, 2, DUET_MASTER_SWITCHOVER), FSM_REFUSE_NOT_SYNC, &before);
	cr_assert_eq(fx_sync(1, true), FSM_APPLIED);
	cr_assert_eq(fx_master(1, 2, DUET_MASTER_SWITCHOVER), FSM_APPLIED);
	cr_assert_eq(f->master.node, 1);
	cr_assert_eq(f->counters.switchovers, 1);
}

Test(apply, master_to_async_standby_refused)
{
	cr_assert_eq(fx_membership3(), FSM_APPLIED);
	cr_assert_eq(fx_master(1, 0, DUET_MASTER_FIRST_START), FSM_APPLIED);
	struct fsm before = fx->fsm;
	expect_refused(fx_master(2, 1, DUET_MASTER_FAILOVER), FSM_REFUSE_NOT_SYNC, &before);
	cr_assert_eq(fx->fsm.last_refusal.node, 2);
	cr_assert_eq(fx->fsm.last_refusal.type, RAFT_ENTRY_MASTER);
	cr_assert_not_null(strstr(fx->fsm.last_refusal.why, "SYNC"), "%s",
			   fx->fsm.last_refusal.why);
}

Test(apply, master_to_witness_refused)
{
	fx_cluster_up();
	struct fsm before = fx->fsm;
	expect_refused(fx_master(3, 1, DUET_MASTER_FAILOVER), FSM_REFUSE_WITNESS, &before);
	before = fx->fsm;
	expect_refused(fx_master(3, 1, DUET_MASTER_FORCED), FSM_REFUSE_WITNESS, &before);
	before = fx->fsm;
	expect_refused(fx_sync(3, true), FSM_REFUSE_WITNESS, &before);
}

Test(apply, witness_refused_even_at_first_start)
{
	cr_assert_eq(fx_membership3(), FSM_APPLIED);
	struct fsm before = fx->fsm;
	expect_refused(fx_master(3, 0, DUET_MASTER_FIRST_START), FSM_REFUSE_WITNESS, &before);
	cr_assert_eq(fx->fsm.master.node, 0);
}

Test(apply, sync_on_for_master_refused)
{
	fx_cluster_up();
	struct fsm before = fx->fsm;
	expect_refused(fx_sync(1, true), FSM_REFUSE_IS_MASTER, &before);
	before = fx->fsm;
	expect_refused(fx_sync(1, false), FSM_REFUSE_IS_MASTER, &before);
}

Test(apply, not_a_member_refused)
{
	fx_cluster_up();
	struct fsm before = fx->fsm;
	expect_refused(fx_master(7, 1, DUET_MASTER_FORCED), FSM_REFUSE_NOT_MEMBER, &before);
	before = fx->fsm;
	expect_refused(fx_sync(7, true), FSM_REFUSE_NOT_MEMBER, &before);
	before = fx->fsm;
	cr_assert_eq(fx_health(7, "pg", DUET_HEALTH_OK, true), FSM_REFUSED);
	cr_assert_eq(fx->fsm.counters.refused, before.counters.refused + 1);
}

Test(apply, first_start_with_a_master_refused)
{
	fx_cluster_up();
	struct fsm before = fx->fsm;
	expect_refused(fx_master(2, 0, DUET_MASTER_FIRST_START), FSM_REFUSE_HAS_MASTER, &before);
	before = fx->fsm;
	expect_refused(fx_master(1, 0, DUET_MASTER_FIRST_START), FSM_REFUSE_ALREADY_MASTER,
		       &before);
}

Test(apply, stale_master_refused)
{
	fx_cluster_up();
	/* proposed against master 3 (wrong): compare-and-set fails */
	struct fsm before = fx->fsm;
	expect_refused(fx_master(2, 3, DUET_MASTER_FAILOVER), FSM_REFUSE_STALE, &before);
	/* two failovers racing: the second one is stale */
	cr_assert_eq(fx_master(2, 1, DUET_MASTER_FAILOVER), FSM_APPLIED);
	cr_assert_eq(fx_sync(1, true), FSM_APPLIED);
	before = fx->fsm;
	expect_refused(fx_master(1, 1, DUET_MASTER_FAILOVER), FSM_REFUSE_STALE, &before);
}

Test(apply, forced_promotes_async_standby)
{
	cr_assert_eq(fx_membership3(), FSM_APPLIED);
	cr_assert_eq(fx_master(1, 0, DUET_MASTER_FIRST_START), FSM_APPLIED);
	cr_assert_eq(fx_master(2, 1, DUET_MASTER_FORCED), FSM_APPLIED);
	cr_assert_eq(fx->fsm.master.node, 2);
	cr_assert_eq(fx->fsm.master.reason, DUET_MASTER_FORCED);
	cr_assert_eq(fx->fsm.counters.forced, 1);
}

Test(apply, sync_off_and_repeats)
{
	fx_cluster_up();
	struct fsm *f = &fx->fsm;
	cr_assert_eq(fx_sync(2, true), FSM_APPLIED, "a repeat is allowed");
	cr_assert_eq(fsm_node_find(f, 2)->sync_since_index, 3, "a repeat keeps 'since'");
	cr_assert_eq(fx_sync(2, false), FSM_APPLIED);
	cr_assert_eq(fsm_role_of(f, 2), FSM_ROLE_ASYNC_STANDBY);
	cr_assert_eq(fsm_node_find(f, 2)->sync_since_index, 5);
	cr_assert_eq(fx_sync(2, false), FSM_APPLIED);
	cr_assert_eq(f->counters.refused, 0);
}

Test(apply, membership_new_incarnation_clears_sync)
{
	fx_cluster_up();
	struct duet_membership c;
	fx_membership3_conf(&c);
	c.members[1].incarnation = 99; /* node 2 rejoined with rebuilt storage */
	cr_assert_eq(fx_membership(&c), FSM_APPLIED);
	cr_assert_eq(fsm_role_of(&fx->fsm, 2), FSM_ROLE_ASYNC_STANDBY);
	cr_assert_eq(fx->fsm.master.node, 1);
	struct fsm before = fx->fsm;
	expect_refused(fx_master(2, 1, DUET_MASTER_FAILOVER), FSM_REFUSE_NOT_SYNC, &before);
}

Test(apply, membership_keeps_state_of_staying_members)
{
	fx_cluster_up();
	cr_assert_eq(fx_health(2, "pg", DUET_HEALTH_OK, true), FSM_APPLIED);
	struct duet_membership c;
	fx_membership3_conf(&c);
	snprintf(c.members[0].addrs[0], sizeof(c.members[0].addrs[0]), "10.9.9.9:7000");
	cr_assert_eq(fx_membership(&c), FSM_APPLIED);
	cr_assert_eq(fsm_role_of(&fx->fsm, 2), FSM_ROLE_SYNC_STANDBY);
	cr_assert_not_null(fsm_check_find(&fx->fsm, 2, "pg"));
}

Test(apply, membership_without_master_clears_master)
{
	fx_cluster_up();
	struct duet_membership c;
	fx_membership3_conf(&c);
	c.members[0] = c.members[2]; /* drop node 1 (the master) */
	c.n = 2;
	cr_assert_eq(fx_membership(&c), FSM_APPLIED);
	cr_assert_eq(fx->fsm.master.node, 0);
	cr_assert_eq(fx->fsm.master.previous, 1);
	cr_assert_eq(fsm_role_of(&fx->fsm, 1), FSM_ROLE_NONE);
}

Test(apply, health_transitions)
{
	fx_cluster_up();
	struct fsm *f = &fx->fsm;
	cr_assert_eq(fx_health(1, "pg", DUET_HEALTH_OK, true), FSM_APPLIED);
	const struct fsm_check *c = fsm_check_find(f, 1, "pg");
	cr_assert_not_null(c);
	cr_assert_eq(c->state, DUET_HEALTH_OK);
	cr_assert_eq(c->since_index, 4);
	cr_assert_eq(fx_health(1, "fs", DUET_HEALTH_OK, false), FSM_APPLIED);
	cr_assert_eq(fx_health(1, "pg", DUET_HEALTH_FAILING, true), FSM_APPLIED);
	c = fsm_check_find(f, 1, "pg");
	cr_assert_eq(c->state, DUET_HEALTH_FAILING);
	cr_assert_eq(c->since_index, 6);
	cr_assert_eq(fsm_node_find(f, 1)->n_checks, 2);
	cr_assert_eq(fx_health(1, "pg", DUET_HEALTH_FAILING, true), FSM_APPLIED);
	cr_assert_eq(fsm_check_find(f, 1, "pg")->since_index, 6, "same state: since kept");
}

Test(apply, health_table_bounded)
{
	fx_cluster_up();
	char name[16];
	for (int i = 0; i < FSM_MAX_CHECKS; i++) {
		snprintf(name, sizeof(name), "c%d", i);
		cr_assert_eq(fx_health(2, name, DUET_HEALTH_OK, false), FSM_APPLIED);
	}
	cr_assert_eq(fx_health(2, "one-too-many", DUET_HEALTH_OK, false), FSM_REFUSED);
	cr_assert_eq(fx->last.reason, FSM_REFUSE_TOO_MANY_CHECKS);
	cr_assert_eq(fx_health(2, "c3", DUET_HEALTH_FAILING, false), FSM_APPLIED);
}

Test(apply, operator_and_maintenance)
{
	fx_cluster_up();
	struct fsm *f = &fx->fsm;
	cr_assert_eq(fx_operator(DUET_OP_MAINTENANCE_ON, 1, 0), FSM_APPLIED);
	cr_assert_eq(f->maintenance, 1);
	cr_assert_eq(f->maintenance_since, 4);
	cr_assert_eq(f->last_operator.index, 4);
	cr_assert_str_eq(f->last_operator.op.who, "alice");
	cr_assert_eq(fx_operator(DUET_OP_SWITCHOVER, 1, 2), FSM_APPLIED);
	cr_assert_eq(f->maintenance, 1);
	cr_assert_eq(f->last_operator.op.command, DUET_OP_SWITCHOVER);
	cr_assert_eq(f->last_operator.op.target, 2);
	cr_assert_eq(fx_operator(DUET_OP_MAINTENANCE_OFF, 1, 0), FSM_APPLIED);
	cr_assert_eq(f->maintenance, 0);
	cr_assert_eq(f->maintenance_since, 6);
}

Test(apply, steps_noop_traps_change_counters_only)
{
	fx_cluster_up();
	struct fsm before = fx->fsm;
	cr_assert_eq(fx_step(DUET_STEP_PROMOTE, 2, true), FSM_APPLIED);
	cr_assert_eq(fx_step(DUET_STEP_FIP, 2, false), FSM_APPLIED);
	cr_assert_eq(fx_noop(), FSM_APPLIED);
	cr_assert_eq(fx_traps(2), FSM_APPLIED);
	struct fsm *f = &fx->fsm;
	cr_assert_eq(f->counters.steps_ok, 1);
	cr_assert_eq(f->counters.steps_failed, 1);
	cr_assert_eq(f->counters.by_type[RAFT_ENTRY_TRAPS], 1);
	cr_assert_eq(f->counters.by_type[RAFT_ENTRY_STEP], 2);
	cr_assert_eq(memcmp(&f->master, &before.master, sizeof(f->master)), 0);
	cr_assert_eq(memcmp(f->nodes, before.nodes, sizeof(f->nodes)), 0);
	cr_assert_eq(f->applied_index, 7);
}

Test(apply, bad_payload_refused)
{
	fx_cluster_up();
	struct fsm before = fx->fsm;
	uint8_t junk[3] = {9, 9, 9};
	expect_refused(fx_raw(RAFT_ENTRY_MASTER, junk, sizeof(junk)), FSM_REFUSE_BAD_PAYLOAD,
		       &before);
	cr_assert_eq(fx_raw(99, junk, sizeof(junk)), FSM_REFUSED);
}

Test(apply, stale_and_gap)
{
	fx_cluster_up();
	struct fsm before = fx->fsm;
	struct fsm_result res;
	/* a re-handed entry (after restart) changes nothing */
	cr_assert_eq(fsm_apply(&fx->fsm, &fx->entries[1], &res), 0);
	cr_assert_eq(res.outcome, FSM_STALE);
	cr_assert_eq(memcmp(&before, &fx->fsm, sizeof(before)), 0);
	/* a gap is the driver's bug */
	struct raft_entry e = fx->entries[2];
	e.index = 10;
	cr_assert_eq(fsm_apply(&fx->fsm, &e, &res), DUET_EINVAL);
	cr_assert_eq(memcmp(&before, &fx->fsm, sizeof(before)), 0);
	cr_assert_eq(fsm_apply(NULL, &e, &res), DUET_EINVAL);
}

Test(apply, deterministic_replay)
{
	fx_cluster_up();
	fx_master(2, 1, DUET_MASTER_FAILOVER);
	fx_health(1, "pg", DUET_HEALTH_FAILING, true);
	fx_master(3, 2, DUET_MASTER_FAILOVER);
	fx_operator(DUET_OP_MAINTENANCE_ON, 2, 0);
	struct fsm g;
	fsm_init(&g);
	for (size_t i = 0; i < fx->n; i++) {
		struct fsm_result res;
		cr_assert_eq(fsm_apply(&g, &fx->entries[i], &res), 0);
	}
	cr_assert_eq(memcmp(&g, &fx->fsm, sizeof(g)), 0);
}

/* The payload decoder accepts an empty check name; the state does not (a
 * snapshot could not hold it: found by fuzz_fsm_snapshot). */
Test(apply, health_without_check_name_refused)
{
	fx_cluster_up();
	cr_assert_eq(fx_health(1, "", DUET_HEALTH_OK, false), FSM_REFUSED);
	cr_assert_eq(fx->last.reason, FSM_REFUSE_BAD_PAYLOAD);
	cr_assert_eq(fsm_node_find(&fx->fsm, 1)->n_checks, 0);
}
