/* SPDX-License-Identifier: MIT */
/*
 * test_step_down.c - role_step_down_decide(), one test per row (not the
 * acting leader, nothing failing, already handed over, maintenance holds
 * it back and is logged once a term, the other node not SYNC, the
 * hand-over), and the helpers role/ shares with the daemon.
 */
#include <criterion/criterion.h>

#include "role_fixture.h"

TestSuite(step_down, .init = fx_setup, .fini = fx_teardown);

static struct rx r;

static void decide(void)
{
	role_step_down_decide(&r.in, &r.out);
}

static void expect(enum role_leader_action a)
{
	cr_assert_eq(r.out.action, a, "action %s, expected %s (row: %s)",
		     role_leader_action_name(r.out.action), role_leader_action_name(a),
		     r.out.row ? r.out.row : "-");
}

/* node 1 is the acting master, leads, and its pg check fails (committed);
 * node 2 is SYNC. */
static void failing_master(void)
{
	fx_cluster_up();
	fx_health(1, "pg", DUET_HEALTH_FAILING, true);
	rx_init(&r, 1);
	r.in.acting = true;
}

Test(step_down, hands_leadership_to_the_sync_standby)
{
	failing_master();
	decide();
	expect(ROLE_LEADER_STEP_DOWN);
	cr_assert_eq(r.out.to, 2);
	cr_assert_str_eq(r.out.transfer_why, "a critical check fails on the master");
	cr_assert_not(r.out.why_set);
	cr_assert_not(r.out.log_why);
}

Test(step_down, not_acting_does_nothing)
{
	failing_master();
	r.in.acting = false;
	decide();
	expect(ROLE_LEADER_WAIT);
	cr_assert_not(r.out.why_set);
}

Test(step_down, not_leading_does_nothing)
{
	failing_master();
	r.st.role = RAFT_FOLLOWER;
	decide();
	expect(ROLE_LEADER_WAIT);
	cr_assert_not(r.out.why_set);
}

Test(step_down, nothing_failing_does_nothing)
{
	fx_cluster_up();
	fx_health(1, "manager", DUET_HEALTH_FAILING, false);
	rx_init(&r, 1);
	r.in.acting = true;
	decide();
	expect(ROLE_LEADER_WAIT);
	cr_assert_not(r.out.why_set);
}

/* faults_slow_disk: the master's own store writes lag (its disk is the
 * slow part), so the HEALTH entry of its failing fs check is committed by
 * the followers but not yet applied here: it hands over all the same */
Test(step_down, committed_but_unapplied_own_failure_hands_over)
{
	fx_cluster_up();
	rx_init(&r, 1);
	r.in.acting = true;
	decide();
	expect(ROLE_LEADER_WAIT); /* the applied fsm shows nothing failing */
	r.in.self_failing_committed = true;
	decide();
	expect(ROLE_LEADER_STEP_DOWN);
	cr_assert_eq(r.out.to, 2);
}

Test(step_down, once_a_term)
{
	failing_master();
	r.in.stepdown_term = RX_TERM;
	decide();
	expect(ROLE_LEADER_WAIT);
	cr_assert_not(r.out.why_set);
	r.in.stepdown_term = RX_TERM - 1;
	decide();
	expect(ROLE_LEADER_STEP_DOWN);
}

Test(step_down, maintenance_holds_it_back_and_logs_once_a_term)
{
	fx_cluster_up();
	fx_operator(DUET_OP_MAINTENANCE_ON, 1, 0);
	size_t since = fx->n;
	fx_health(1, "pg", DUET_HEALTH_FAILING, true);
	rx_init(&r, 1);
	r.in.acting = true;
	decide();
	expect(ROLE_LEADER_WAIT);
	char want[160];
	snprintf(want, sizeof want,
		 "a critical check fails on this master, but maintenance is on (entry %zu): "
		 "staying master",
		 since);
	cr_assert(r.out.why_set);
	cr_assert_str_eq(r.out.why, want);
	cr_assert(r.out.log_why, "logged the first time in this term");
	r.in.maintenance_hold_term = RX_TERM;
	decide();
	expect(ROLE_LEADER_WAIT);
	cr_assert_str_eq(r.out.why, want);
	cr_assert_not(r.out.log_why, "not again in the same term");
}

Test(step_down, other_not_sync_stays_master)
{
	failing_master();
	fx_sync(2, false);
	decide();
	expect(ROLE_LEADER_WAIT);
	cr_assert(r.out.why_set);
	cr_assert_str_eq(r.out.why, "a critical check fails on this master, but node2 is not a "
				    "synchronous standby: staying master");
}

/* ---- helpers ---------------------------------------------------------------- */

Test(step_down, other_data_is_the_data_member_that_is_not_self)
{
	struct duet_membership c;
	fx_membership3_conf(&c);
	cr_assert_eq(role_other_data(&c, 1), 2);
	cr_assert_eq(role_other_data(&c, 2), 1);
	cr_assert_eq(role_other_data(&c, 3), 1, "the witness's first data member");
	c.members[1].kind = DUET_MEMBER_WITNESS;
	cr_assert_eq(role_other_data(&c, 1), 0);
}

Test(step_down, check_failing_counts_critical_failures_only)
{
	fx_cluster_up();
	cr_assert_not(role_check_failing(&fx->fsm, 1));
	fx_health(1, "manager", DUET_HEALTH_FAILING, false);
	cr_assert_not(role_check_failing(&fx->fsm, 1));
	fx_health(1, "pg", DUET_HEALTH_OK, true);
	cr_assert_not(role_check_failing(&fx->fsm, 1));
	fx_health(1, "pg", DUET_HEALTH_FAILING, true);
	cr_assert(role_check_failing(&fx->fsm, 1));
	cr_assert_not(role_check_failing(&fx->fsm, 9), "not a member");
}

Test(step_down, proposal_done_records_the_term_only_on_success)
{
	struct role_proposal p = {0};
	role_proposal_done(&p, 7, DUET_EBUSY, 1000);
	cr_assert_eq(p.proposed_term, 0);
	cr_assert_eq(p.failed_term, 7);
	cr_assert_eq(p.failed_rc, DUET_EBUSY);
	cr_assert_eq(p.retry_at_ms, 1000 + ROLE_PROPOSE_RETRY_MS);
	role_proposal_done(&p, 7, 0, 1600);
	cr_assert_eq(p.proposed_term, 7);
}
