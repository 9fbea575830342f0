/* SPDX-License-Identifier: MIT */
/*
 * test_standby.c - role/standby.c: one test per row of the stale-primary,
 * sweep and gratuitous-ARP tables, the sweeps' backoff, and every
 * combination of each table's inputs against the rule it implements
 * (DESIGN.md 4.7).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "duet/role.h"

#define NOW 100000u

static const char *row;

/* ---- the stale primary ------------------------------------------------------ */

static struct role_stale_in st;

/* A standby whose PostgreSQL is a primary while the current log names node 1. */
static void stale(void)
{
	memset(&st, 0, sizeof st);
	st.act = ROLE_ACT_STANDBY;
	st.pg_known = true;
	st.pg_in_recovery = false;
	st.master = 1;
	st.self_id = 2;
	st.leader_known = true;
	st.applied_in_term = true;
	st.now_ms = NOW;
}

static void expect_stale(bool stop, const char *part)
{
	bool got = role_stale_primary(&st, &row);
	cr_assert_eq(got, stop, "%s (row: %s)", stop ? "stops" : "keeps it", row);
	cr_assert(strstr(row, part), "row \"%s\" has \"%s\"", row, part);
}

Test(stale, a_primary_the_log_does_not_name_is_stopped)
{
	stale();
	expect_stale(true, "stop it");
}

Test(stale, only_a_standby_looks)
{
	stale();
	st.act = ROLE_ACT_MASTER;
	expect_stale(false, "not a standby");
	st.act = ROLE_ACT_UNKNOWN;
	expect_stale(false, "not a standby");
}

Test(stale, a_standby_or_unknown_pg_is_left_alone)
{
	stale();
	st.pg_in_recovery = true;
	expect_stale(false, "not known to be a primary");
	stale();
	st.pg_known = false;
	expect_stale(false, "not known to be a primary");
}

Test(stale, no_master_or_this_node_named_keeps_the_primary)
{
	stale();
	st.master = 0;
	expect_stale(false, "names no master");
	st.master = 2;
	expect_stale(false, "names no master");
}

Test(stale, only_a_current_view_stops_it)
{
	stale();
	st.leader_known = false;
	expect_stale(false, "not current");
	stale();
	st.applied_in_term = false;
	expect_stale(false, "not current");
}

Test(stale, at_most_one_stop_per_five_seconds)
{
	stale();
	st.last_stop_ms = NOW - ROLE_STALE_STOP_MS + 1;
	expect_stale(false, "ROLE_STALE_STOP_MS");
	st.last_stop_ms = NOW - ROLE_STALE_STOP_MS;
	expect_stale(true, "stop it");
}

Test(stale, every_combination)
{
	for (int act = ROLE_ACT_UNKNOWN; act <= ROLE_ACT_MASTER; act++)
		for (unsigned b = 0; b < 256; b++) {
			stale();
			st.act = (enum role_act)act;
			st.pg_known = b & 1;
			st.pg_in_recovery = b & 2;
			st.master = b & 4 ? 1 : (b & 8 ? 2 : 0);
			st.leader_known = b & 16;
			st.applied_in_term = b & 32;
			st.last_stop_ms = b & 64 ? NOW - 1 : (b & 128 ? NOW - 6000 : 0);
			bool want = act == ROLE_ACT_STANDBY && st.pg_known && !st.pg_in_recovery &&
				    st.master && st.master != 2 && st.leader_known &&
				    st.applied_in_term &&
				    !(st.last_stop_ms && NOW - st.last_stop_ms < 5000);
			cr_assert_eq(role_stale_primary(&st, &row), want,
				     "act %d bits 0x%x (row %s)", act, b, row);
		}
}

/* ---- the sweeps -------------------------------------------------------------- */

static struct role_sweep_in sw;

static void sweep(void)
{
	memset(&sw, 0, sizeof sw);
	sw.configured = true;
	sw.act = ROLE_ACT_STANDBY;
	sw.now_ms = NOW;
	sw.at_ms = NOW;
}

static void expect_sweep(bool look, const char *part)
{
	bool got = role_sweep_due(&sw, &row);
	cr_assert_eq(got, look, "%s (row: %s)", look ? "looks" : "does not look", row);
	cr_assert(strstr(row, part), "row \"%s\" has \"%s\"", row, part);
}

Test(sweep, a_standby_looks_when_due)
{
	sweep();
	expect_sweep(true, "look now");
}

Test(sweep, nothing_configured_nothing_to_look_for)
{
	sweep();
	sw.configured = false;
	expect_sweep(false, "nothing to look for");
}

Test(sweep, acting_does_not_sweep)
{
	sweep();
	sw.act = ROLE_ACT_ACTIVATING;
	expect_sweep(false, "acting");
	sw.act = ROLE_ACT_MASTER;
	expect_sweep(false, "acting");
	sw.act = ROLE_ACT_UNKNOWN;
	expect_sweep(false, "acting");
}

Test(sweep, one_look_at_a_time)
{
	sweep();
	sw.busy = true;
	expect_sweep(false, "in flight");
}

Test(sweep, a_demotion_in_flight_removes_it_already)
{
	sweep();
	sw.demoting = true;
	expect_sweep(false, "demotion");
}

Test(sweep, not_before_its_time)
{
	sweep();
	sw.at_ms = NOW + 1;
	expect_sweep(false, "not yet");
}

Test(sweep, every_combination)
{
	for (int act = ROLE_ACT_UNKNOWN; act <= ROLE_ACT_MASTER; act++)
		for (unsigned b = 0; b < 16; b++) {
			sweep();
			sw.act = (enum role_act)act;
			sw.configured = b & 1;
			sw.busy = b & 2;
			sw.demoting = b & 4;
			sw.at_ms = b & 8 ? NOW + 1 : NOW;
			bool want = sw.configured && act == ROLE_ACT_STANDBY && !sw.busy &&
				    !sw.demoting && NOW >= sw.at_ms;
			cr_assert_eq(role_sweep_due(&sw, &row), want, "act %d bits 0x%x (row %s)",
				     act, b, row);
		}
}

Test(sweep, a_fip_found_is_released_only_by_a_standby)
{
	struct role_sweep_state s = {0};
	cr_assert(role_fip_sweep_checked(&s, true, true, ROLE_ACT_STANDBY, NOW));
	cr_assert_eq(s.at_ms, NOW + ROLE_SWEEP_MS);
	cr_assert_not(role_fip_sweep_checked(&s, true, false, ROLE_ACT_STANDBY, NOW), "absent");
	cr_assert_not(role_fip_sweep_checked(&s, false, true, ROLE_ACT_STANDBY, NOW),
		      "the check failed");
	cr_assert_not(role_fip_sweep_checked(&s, true, true, ROLE_ACT_ACTIVATING, NOW),
		      "the role came meanwhile: the acquire decides");
	s.backoff_ms = 4000;
	role_fip_sweep_checked(&s, false, false, ROLE_ACT_STANDBY, NOW);
	cr_assert_eq(s.at_ms, NOW + 4000, "the next look keeps the backoff");
}

Test(sweep, a_failing_release_backs_off_to_the_max)
{
	struct role_sweep_state s = {0};
	uint32_t want = ROLE_RETRY_MS;
	for (int i = 0; i < 10; i++) {
		role_fip_sweep_released(&s, false, NOW);
		cr_assert_eq(s.backoff_ms, want, "failure %d", i + 1);
		cr_assert_eq(s.at_ms, NOW + want);
		want = want * 2 > ROLE_SWEEP_MAX_MS ? ROLE_SWEEP_MAX_MS : want * 2;
	}
	cr_assert_eq(s.backoff_ms, ROLE_SWEEP_MAX_MS);
	role_fip_sweep_released(&s, true, NOW);
	cr_assert_eq(s.backoff_ms, 0, "a release that works resets the backoff");
	cr_assert_eq(s.at_ms, NOW + ROLE_SWEEP_MS);
}

Test(sweep, a_manager_found_again_and_again_is_looked_at_less_often)
{
	struct role_sweep_state s = {0};
	uint32_t want = ROLE_SWEEP_MS;
	for (int i = 0; i < 6; i++) {
		cr_assert(role_manager_sweep_checked(&s, true, ROLE_ACT_STANDBY, NOW));
		cr_assert_eq(s.backoff_ms, want, "found %d times", i + 1);
		cr_assert_eq(s.at_ms, NOW + want);
		want = want * 2 > ROLE_SWEEP_MAX_MS ? ROLE_SWEEP_MAX_MS : want * 2;
	}
	cr_assert_eq(s.backoff_ms, ROLE_SWEEP_MAX_MS);
	cr_assert_not(role_manager_sweep_checked(&s, true, ROLE_ACT_ACTIVATING, NOW),
		      "the role came meanwhile: the activation starts it");
	cr_assert_not(role_manager_sweep_checked(&s, false, ROLE_ACT_STANDBY, NOW), "not running");
	cr_assert_eq(s.backoff_ms, 0);
	cr_assert_eq(s.at_ms, NOW + ROLE_SWEEP_MS);
}

/* ---- the gratuitous-ARP repeat ------------------------------------------------ */

static struct role_garp_in g;

static void garp(void)
{
	memset(&g, 0, sizeof g);
	g.fip_configured = true;
	g.every_ms = 1000;
	g.act = ROLE_ACT_MASTER;
	g.now_ms = NOW;
	g.at_ms = NOW;
}

static void expect_garp(bool yes, const char *part)
{
	bool got = role_garp_due(&g, &row);
	cr_assert_eq(got, yes, "%s (row: %s)", yes ? "announces" : "does not announce", row);
	cr_assert(strstr(row, part), "row \"%s\" has \"%s\"", row, part);
}

Test(garp, the_master_announces_when_due)
{
	garp();
	expect_garp(true, "announce again");
}

Test(garp, no_fip_no_announce)
{
	garp();
	g.fip_configured = false;
	expect_garp(false, "no FIP");
}

Test(garp, repeat_off)
{
	garp();
	g.every_ms = 0;
	expect_garp(false, "off");
}

Test(garp, only_the_acting_master)
{
	garp();
	g.act = ROLE_ACT_ACTIVATING;
	expect_garp(false, "only the acting master");
	g.act = ROLE_ACT_STANDBY;
	expect_garp(false, "only the acting master");
}

Test(garp, one_at_a_time)
{
	garp();
	g.busy = true;
	expect_garp(false, "in flight");
}

Test(garp, not_before_its_time)
{
	garp();
	g.at_ms = NOW + 1;
	expect_garp(false, "not yet");
}

Test(garp, every_combination)
{
	for (int act = ROLE_ACT_UNKNOWN; act <= ROLE_ACT_MASTER; act++)
		for (unsigned b = 0; b < 16; b++) {
			garp();
			g.act = (enum role_act)act;
			g.fip_configured = b & 1;
			g.every_ms = b & 2 ? 1000 : 0;
			g.busy = b & 4;
			g.at_ms = b & 8 ? NOW + 1 : NOW;
			bool want = g.fip_configured && g.every_ms && act == ROLE_ACT_MASTER &&
				    !g.busy && NOW >= g.at_ms;
			cr_assert_eq(role_garp_due(&g, &row), want, "act %d bits 0x%x (row %s)",
				     act, b, row);
		}
}
