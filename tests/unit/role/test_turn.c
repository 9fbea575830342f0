/* SPDX-License-Identifier: MIT */
/*
 * test_turn.c - role_turn_demotion() and role_turn_activation(), one test
 * per row of each table, and every combination of their inputs checked
 * against the rule of DESIGN.md 4.1 (act only while leader, lease holder
 * and named master; activate only with a current fsm, nothing holding it
 * back and no demotion in flight).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "duet/role.h"

static struct role_turn_in in;
static struct role_turn_out out;

/* Acting master as the rule says: leader, lease, named, current. */
static void acting(enum role_act act)
{
	memset(&in, 0, sizeof in);
	in.act = act;
	in.leader = true;
	in.lease = true;
	in.named = true;
	in.current = true;
}

static void expect_demote(const char *why, bool pg_stop)
{
	role_turn_demotion(&in, &out);
	cr_assert(out.demote, "demotes (row: %s)", out.row);
	cr_assert_str_eq(out.why, why);
	cr_assert_eq(out.pg_stop, pg_stop, "PostgreSQL %s", pg_stop ? "stopped" : "kept");
}

static void expect_no_demote(void)
{
	role_turn_demotion(&in, &out);
	cr_assert_not(out.demote, "no demotion (row: %s, why %s)", out.row,
		      out.why ? out.why : "-");
}

/* ---- demotion, row by row ------------------------------------------------- */

Test(turn, acting_without_leading_demotes)
{
	acting(ROLE_ACT_MASTER);
	in.leader = false;
	in.lease = false;
	expect_demote("no longer the leader", true);
	acting(ROLE_ACT_ACTIVATING);
	in.leader = false;
	expect_demote("no longer the leader", true); /* a lease without leader counts for nothing */
}

Test(turn, acting_leader_without_lease_demotes)
{
	acting(ROLE_ACT_MASTER);
	in.lease = false;
	expect_demote("the lease was lost", true);
	acting(ROLE_ACT_ACTIVATING);
	in.lease = false;
	expect_demote("the lease was lost", true);
}

Test(turn, acting_when_another_node_is_named_demotes)
{
	acting(ROLE_ACT_MASTER);
	in.named = false;
	expect_demote("another node is master", true);
	acting(ROLE_ACT_ACTIVATING);
	in.named = false;
	expect_demote("another node is master", true);
}

Test(turn, just_started_demotes_without_stopping_pg)
{
	acting(ROLE_ACT_UNKNOWN);
	expect_demote("starting", false);
	memset(&in, 0, sizeof in);
	expect_demote("starting", false);
}

Test(turn, acting_as_the_rule_says_or_a_standby_keeps_going)
{
	acting(ROLE_ACT_MASTER);
	expect_no_demote();
	acting(ROLE_ACT_ACTIVATING);
	in.current = false; /* the fsm lagging is no reason to stop */
	in.hold = true;
	in.demoting = true;
	expect_no_demote();
	memset(&in, 0, sizeof in);
	in.act = ROLE_ACT_STANDBY;
	expect_no_demote();
}

/* ---- activation, row by row ------------------------------------------------ */

static void standby_should_act(void)
{
	acting(ROLE_ACT_STANDBY);
}

static void expect_activate(bool yes, const char *row_part)
{
	role_turn_activation(&in, &out);
	cr_assert_eq(out.activate, yes, "%s (row: %s)", yes ? "activates" : "does not activate",
		     out.row);
	cr_assert(strstr(out.row, row_part), "row \"%s\" has \"%s\"", out.row, row_part);
}

Test(turn, a_standby_that_should_act_activates)
{
	standby_should_act();
	expect_activate(true, "start the activation chain");
}

Test(turn, only_a_standby_activates)
{
	standby_should_act();
	in.act = ROLE_ACT_MASTER;
	expect_activate(false, "not a standby");
	in.act = ROLE_ACT_ACTIVATING;
	expect_activate(false, "not a standby");
	in.act = ROLE_ACT_UNKNOWN;
	expect_activate(false, "not a standby");
}

Test(turn, no_activation_without_the_lease)
{
	standby_should_act();
	in.lease = false;
	expect_activate(false, "no lease");
	standby_should_act();
	in.leader = false; /* a lease flag without leadership */
	expect_activate(false, "no lease");
}

Test(turn, no_activation_unless_named)
{
	standby_should_act();
	in.named = false;
	expect_activate(false, "does not name this node");
}

Test(turn, no_activation_on_a_lagging_fsm)
{
	standby_should_act();
	in.current = false;
	expect_activate(false, "lags the commit index");
}

Test(turn, a_switchover_holds_the_activation)
{
	standby_should_act();
	in.hold = true;
	expect_activate(false, "switchover");
}

Test(turn, a_demotion_in_flight_holds_the_activation)
{
	standby_should_act();
	in.demoting = true;
	expect_activate(false, "demotion in flight");
}

/* ---- every combination ----------------------------------------------------- */

Test(turn, every_combination_follows_the_rule)
{
	for (int act = ROLE_ACT_UNKNOWN; act <= ROLE_ACT_MASTER; act++) {
		for (unsigned bits = 0; bits < 64; bits++) {
			memset(&in, 0, sizeof in);
			in.act = (enum role_act)act;
			in.leader = bits & 1;
			in.lease = bits & 2;
			in.named = bits & 4;
			in.current = bits & 8;
			in.hold = bits & 16;
			in.demoting = bits & 32;
			bool should_act = in.leader && in.lease && in.named;
			bool acting_now = act == ROLE_ACT_ACTIVATING || act == ROLE_ACT_MASTER;
			role_turn_demotion(&in, &out);
			cr_assert(out.row, "a demotion row for act %d bits 0x%x", act, bits);
			cr_assert_eq(out.demote,
				     (acting_now && !should_act) || act == ROLE_ACT_UNKNOWN,
				     "demotion for act %d bits 0x%x (row: %s)", act, bits, out.row);
			cr_assert_eq(out.pg_stop, acting_now && !should_act,
				     "pg stop for act %d bits 0x%x", act, bits);
			role_turn_activation(&in, &out);
			cr_assert(out.row, "an activation row for act %d bits 0x%x", act, bits);
			cr_assert_eq(out.activate,
				     should_act && act == ROLE_ACT_STANDBY && in.current &&
					 !in.hold && !in.demoting,
				     "activation for act %d bits 0x%x (row: %s)", act, bits,
				     out.row);
		}
	}
}
