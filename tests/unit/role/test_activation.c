/* SPDX-License-Identifier: MIT */
/*
 * test_activation.c - role_chain_decide() and role_chain_outcome(): one
 * test per row of the chain table and of the outcome table, the takeover
 * rule and the lease-wait deadline, and that both tables are exhaustive
 * (every step meets a row for every combination of its facts; every result
 * has a row, ok or not) with the safety properties checked on the way: no
 * action while one is in flight or the retry time has not come or the node
 * may not act, and no promotion before the old master's lease is over.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "duet/role.h"

#define NOW      100000u
#define LEASE    1000u
#define DRIFT    500u
#define TERM     7u
#define INTERVAL 1000u

static struct fsm_master_state master;
static struct role_chain_in in;
static struct role_chain_out out;

/* Node 2 activates in TERM after a failover from node 1: a takeover, its
 * lease long over (no contact since the start at 1000), fence, FIP and
 * manager configured, PostgreSQL a standby that answered a current probe. */
static void base(enum role_step step)
{
	memset(&in, 0, sizeof in);
	master = (struct fsm_master_state){
	    .node = 2, .previous = 1, .reason = DUET_MASTER_FAILOVER, .since_term = TERM};
	in.step = step;
	in.now_ms = NOW;
	in.may_act = true;
	in.master = &master;
	in.self_id = 2;
	in.act_term = TERM;
	in.previous_name = "node1";
	in.fence_configured = true;
	in.start_ms = 1000;
	in.lease_ms = LEASE;
	in.max_drift_ms = DRIFT;
	in.committed_ms = NOW - 300;
	in.pg_configured = true;
	in.probe_current = true;
	in.pg_known = true;
	in.pg_in_recovery = true;
	in.promote_timeout_ms = 30000;
	in.pg_last_ms = NOW - 10;
	in.probe_interval_ms = INTERVAL;
	in.fip_configured = true;
	in.manager_configured = true;
}

static void decide(void)
{
	role_chain_decide(&in, &out);
}

static void expect(enum role_chain_cmd cmd)
{
	decide();
	cr_assert_eq(out.cmd, cmd, "command %s, expected %s (row: %s)",
		     role_chain_cmd_name(out.cmd), role_chain_cmd_name(cmd), out.row);
}

static void expect_advance(enum role_step next, enum role_stamp stamp)
{
	expect(ROLE_CHAIN_ADVANCE);
	cr_assert_eq(out.next, next, "to %s, expected %s", role_step_name(out.next),
		     role_step_name(next));
	cr_assert_eq(out.stamp, stamp, "stamp %d, expected %d", out.stamp, stamp);
}

/* ---- the rows for every step ----------------------------------------------- */

Test(chain, an_action_in_flight_waits_at_every_step)
{
	for (int st = 0; st < ROLE_STEP_COUNT; st++) {
		base((enum role_step)st);
		in.busy = true;
		in.may_act = false; /* its end comes back; only then does it demote */
		expect(ROLE_CHAIN_NOTHING);
		cr_assert(strstr(out.row, "in flight"));
	}
}

Test(chain, a_failed_step_waits_for_its_retry_time)
{
	base(ROLE_STEP_FIP);
	in.retry_at_ms = NOW + 1;
	expect(ROLE_CHAIN_NOTHING);
	cr_assert(strstr(out.row, "retry time"));
	in.retry_at_ms = NOW;
	expect(ROLE_CHAIN_ACQUIRE_FIP);
}

Test(chain, the_role_lost_demotes_at_every_step)
{
	for (int st = 0; st < ROLE_STEP_COUNT; st++) {
		base((enum role_step)st);
		in.may_act = false;
		expect(ROLE_CHAIN_DEMOTE);
		cr_assert_str_eq(out.why, "the role was lost during the activation");
	}
}

/* ---- fence ------------------------------------------------------------------ */

Test(chain, no_takeover_skips_the_fence)
{
	base(ROLE_STEP_FENCE);
	master.reason = DUET_MASTER_FIRST_START;
	expect_advance(ROLE_STEP_LEASE_WAIT, ROLE_STAMP_NONE);
}

Test(chain, no_fence_configured_skips_it)
{
	base(ROLE_STEP_FENCE);
	in.fence_configured = false;
	expect_advance(ROLE_STEP_LEASE_WAIT, ROLE_STAMP_NONE);
}

Test(chain, a_takeover_fences_the_previous_master)
{
	base(ROLE_STEP_FENCE);
	expect(ROLE_CHAIN_RUN_FENCE);
	cr_assert_eq(out.target, 1);
}

Test(chain, the_takeover_rule)
{
	base(ROLE_STEP_FENCE);
	cr_assert(role_takeover(&master, 2, TERM), "failover in this term");
	master.reason = DUET_MASTER_FORCED;
	cr_assert(role_takeover(&master, 2, TERM), "forced in this term");
	master.reason = DUET_MASTER_SWITCHOVER;
	cr_assert_not(role_takeover(&master, 2, TERM), "the switchover's master stopped first");
	master.reason = DUET_MASTER_FIRST_START;
	cr_assert_not(role_takeover(&master, 2, TERM), "first start");
	master.reason = DUET_MASTER_FAILOVER;
	cr_assert_not(role_takeover(&master, 2, TERM + 1),
		      "re-elected in a later term without a new MASTER entry");
	master.previous = 2;
	cr_assert_not(role_takeover(&master, 2, TERM), "from itself");
	master.previous = 0;
	cr_assert_not(role_takeover(&master, 2, TERM), "from nobody");
}

/* ---- lease wait ------------------------------------------------------------- */

Test(chain, the_old_lease_running_is_waited_out)
{
	base(ROLE_STEP_LEASE_WAIT);
	in.contact_ms = NOW - 100;
	expect(ROLE_CHAIN_WAIT_UNTIL);
	cr_assert_eq(out.until_ms, NOW - 100 + LEASE + DRIFT);
	cr_assert_not(out.entry.propose, "no STEP while waiting");
}

Test(chain, the_old_lease_over_says_so_and_promotes)
{
	base(ROLE_STEP_LEASE_WAIT);
	in.fenced = true;
	expect_advance(ROLE_STEP_PROMOTE, ROLE_STAMP_NONE);
	cr_assert(out.entry.propose);
	cr_assert_eq(out.entry.action, DUET_STEP_LEASE_WAIT);
	cr_assert_eq(out.entry.node, 1);
	cr_assert(out.entry.ok);
	cr_assert_eq(out.entry.duration_ms, 300, "from the commit of MASTER(self)");
	cr_assert_str_eq(out.entry.text, "the lease of node1 has run out (1000 ms + 500 ms drift "
					 "after our last contact); fenced as well");
}

Test(chain, the_lease_wait_text_says_what_it_relied_on)
{
	base(ROLE_STEP_LEASE_WAIT);
	decide();
	cr_assert(strstr(out.entry.text, "; fencing FAILED, relying on the lease"), "%s",
		  out.entry.text);
	in.watchdog_timeout_s = 5;
	in.start_ms = 0; /* over, watchdog included */
	decide();
	cr_assert(strstr(out.entry.text, "relying on the lease and its watchdog's timeout"));
	in.fence_configured = false;
	decide();
	cr_assert(strstr(out.entry.text, "drift after our last contact); and its watchdog's "
					 "timeout"));
	in.watchdog_timeout_s = 0;
	decide();
	cr_assert(strstr(out.entry.text, "after our last contact)") &&
		  !strstr(out.entry.text, ";"));
}

/* MASTER(2) took the role from node 1 in an earlier term; node 2 activates
 * now, in a later one (its daemon restarted before the wait, or leadership
 * went and came back): no fence, but the old master's lease and watchdog
 * are still waited out from what this daemon saw. */
Test(chain, a_failover_of_an_earlier_term_still_waits_out_the_old_lease)
{
	base(ROLE_STEP_FENCE);
	master.since_term = TERM - 2;
	expect_advance(ROLE_STEP_LEASE_WAIT, ROLE_STAMP_NONE);
	base(ROLE_STEP_LEASE_WAIT);
	master.since_term = TERM - 2;
	in.start_ms = NOW - 100; /* restarted: never heard node 1 lead */
	in.watchdog_timeout_s = 2;
	expect(ROLE_CHAIN_WAIT_UNTIL);
	cr_assert_eq(out.until_ms, NOW - 100 + LEASE + DRIFT + 3000);
	in.now_ms = out.until_ms;
	expect_advance(ROLE_STEP_PROMOTE, ROLE_STAMP_NONE);
	cr_assert_not(out.entry.propose, "not this term's takeover: no STEP");
}

Test(chain, no_takeover_no_lease_to_wait)
{
	base(ROLE_STEP_LEASE_WAIT);
	master.previous = 0;
	in.contact_ms = NOW - 1; /* would still run, were there a takeover */
	expect_advance(ROLE_STEP_PROMOTE, ROLE_STAMP_NONE);
	cr_assert_not(out.entry.propose);
}

Test(chain, the_lease_wait_deadline)
{
	base(ROLE_STEP_LEASE_WAIT);
	cr_assert_eq(role_lease_wait_until(&in), 1000 + LEASE + DRIFT, "never heard: from start");
	in.contact_ms = 50000;
	cr_assert_eq(role_lease_wait_until(&in), 50000 + LEASE + DRIFT, "from the last contact");
	in.watchdog_timeout_s = 5;
	cr_assert_eq(role_lease_wait_until(&in), 50000 + LEASE + DRIFT + 6000,
		     "unfenced: plus the old master's watchdog and 1 s");
	in.fenced = true;
	cr_assert_eq(role_lease_wait_until(&in), 50000 + LEASE + DRIFT, "fenced: the lease alone");
	cr_assert_eq(role_takeover_until(10000, false, 0), 10000, "no watchdog");
	cr_assert_eq(role_takeover_until(10000, true, 5), 10000, "fenced");
	cr_assert_eq(role_takeover_until(10000, false, 5), 16000,
		     "lease + timeout + 1 s of driver granularity");
}

Test(chain, the_watchdog_timeout_extends_the_wait)
{
	base(ROLE_STEP_LEASE_WAIT);
	in.contact_ms = NOW - LEASE - DRIFT - 1; /* the lease alone is over */
	expect(ROLE_CHAIN_ADVANCE);
	in.watchdog_timeout_s = 5;
	expect(ROLE_CHAIN_WAIT_UNTIL);
	cr_assert_eq(out.until_ms, NOW - 1 + 6000);
}

/* ---- promote ---------------------------------------------------------------- */

Test(chain, no_pg_nothing_to_promote)
{
	base(ROLE_STEP_PROMOTE);
	in.pg_configured = false;
	in.probe_current = false;
	expect_advance(ROLE_STEP_FIP, ROLE_STAMP_PROMOTED);
}

Test(chain, a_probe_older_than_the_demotion_is_asked_again)
{
	base(ROLE_STEP_PROMOTE);
	in.probe_current = false;
	in.pg_in_recovery = false; /* a primary seen before our own stop did its work */
	expect(ROLE_CHAIN_PROBE_PG);
}

Test(chain, a_stale_probe_with_one_in_flight_waits)
{
	base(ROLE_STEP_PROMOTE);
	in.probe_current = false;
	in.probe_busy = true;
	expect(ROLE_CHAIN_NOTHING);
	cr_assert(strstr(out.row, "in flight"));
}

Test(chain, down_and_nothing_to_start_it_releases_the_stop_hold)
{
	base(ROLE_STEP_PROMOTE);
	in.pg_known = false;
	in.pg_error = true;
	in.pg_stopped_by_us = true;
	expect(ROLE_CHAIN_NOTHING);
	cr_assert(out.release_stop_hold);
	in.pg_stopped_by_us = false;
	expect(ROLE_CHAIN_NOTHING);
	cr_assert_not(out.release_stop_hold, "nothing held");
}

Test(chain, down_with_a_start_command_starts_it)
{
	base(ROLE_STEP_PROMOTE);
	in.pg_known = false;
	in.pg_error = true;
	in.start_configured = true;
	in.pg_stopped_by_us = true;
	expect(ROLE_CHAIN_START_PG);
	cr_assert_not(out.release_stop_hold, "it may start: the hold stays");
}

Test(chain, a_server_this_activation_started_is_waited_for)
{
	base(ROLE_STEP_PROMOTE);
	in.pg_known = false;
	in.pg_error = true;
	in.start_configured = true;
	in.pg_started_ms = NOW - 29999;
	expect(ROLE_CHAIN_NOTHING);
	in.pg_started_ms = NOW - 30000; /* the promote timeout is over: start it again */
	expect(ROLE_CHAIN_START_PG);
}

Test(chain, only_a_fresh_error_starts_it)
{
	base(ROLE_STEP_PROMOTE);
	in.pg_known = false;
	in.pg_error = true;
	in.start_configured = true;
	in.pg_last_ms = NOW - 2 * INTERVAL;
	expect(ROLE_CHAIN_NOTHING);
	in.pg_last_ms = NOW - 2 * INTERVAL + 1;
	expect(ROLE_CHAIN_START_PG);
}

Test(chain, no_answer_yet_waits_for_the_probe)
{
	base(ROLE_STEP_PROMOTE);
	in.pg_known = false;
	in.start_configured = true;
	expect(ROLE_CHAIN_NOTHING);
	cr_assert(strstr(out.row, "next probe"));
	cr_assert_not(out.release_stop_hold);
}

Test(chain, a_primary_already_goes_on)
{
	base(ROLE_STEP_PROMOTE);
	in.pg_in_recovery = false;
	expect_advance(ROLE_STEP_FIP, ROLE_STAMP_PROMOTED_IF_UNSET);
}

Test(chain, a_standby_clears_the_names_then_promotes)
{
	base(ROLE_STEP_PROMOTE);
	expect(ROLE_CHAIN_CLEAR_NAMES_THEN_PROMOTE);
}

/* ---- fip, manager, done ----------------------------------------------------- */

Test(chain, no_fip_goes_on)
{
	base(ROLE_STEP_FIP);
	in.fip_configured = false;
	expect_advance(ROLE_STEP_MANAGER, ROLE_STAMP_FIP);
}

Test(chain, the_fip_is_acquired)
{
	base(ROLE_STEP_FIP);
	expect(ROLE_CHAIN_ACQUIRE_FIP);
}

Test(chain, no_manager_goes_on)
{
	base(ROLE_STEP_MANAGER);
	in.manager_configured = false;
	expect_advance(ROLE_STEP_DONE, ROLE_STAMP_NONE);
}

Test(chain, the_manager_is_started)
{
	base(ROLE_STEP_MANAGER);
	expect(ROLE_CHAIN_START_MANAGER);
}

Test(chain, done_is_acting_master)
{
	base(ROLE_STEP_DONE);
	expect(ROLE_CHAIN_DONE);
}

/* ---- every combination ------------------------------------------------------ */

/* The loops below assert only on failure (cr_assert_fail): ctest runs the
 * suite with --full-stats, which records every assertion that passes. */
#define NBITS 18

static void from_bits(enum role_step step, unsigned b)
{
	base(step);
	unsigned i = 0;
	in.busy = b & (1u << i++);
	in.retry_at_ms = b & (1u << i++) ? NOW + 1 : 0;
	in.may_act = b & (1u << i++);
	master.previous = b & (1u << i++) ? 1 : 0;
	in.fence_configured = b & (1u << i++);
	in.contact_ms = b & (1u << i++) ? NOW - 10 : 0;
	in.pg_configured = b & (1u << i++);
	in.probe_current = b & (1u << i++);
	in.probe_busy = b & (1u << i++);
	in.pg_known = b & (1u << i++);
	in.pg_in_recovery = !(b & (1u << i++));
	in.pg_error = b & (1u << i++);
	in.start_configured = b & (1u << i++);
	in.pg_started_ms = b & (1u << i++) ? NOW - 10 : 0;
	in.pg_last_ms = b & (1u << i++) ? NOW - 10 : NOW - 10 * INTERVAL;
	in.pg_stopped_by_us = b & (1u << i++);
	in.fip_configured = b & (1u << i++);
	in.manager_configured = b & (1u << i++);
	if (i != NBITS)
		cr_assert_fail("from_bits sets %u inputs, NBITS is %u", i, NBITS);
}

static bool acts(enum role_chain_cmd c)
{
	return c != ROLE_CHAIN_NOTHING && c != ROLE_CHAIN_DEMOTE && c != ROLE_CHAIN_ADVANCE &&
	       c != ROLE_CHAIN_WAIT_UNTIL;
}

Test(chain, every_step_meets_a_row_for_every_combination)
{
	for (int st = 0; st < ROLE_STEP_COUNT; st++) {
		for (unsigned b = 0; b < (1u << NBITS); b++) {
			from_bits((enum role_step)st, b);
			decide();
			if (!out.row || strstr(out.row, "no row matches"))
				cr_assert_fail("step %s, inputs 0x%x: no row", role_step_name(st),
					       b);
			if (acts(out.cmd) && (in.busy || in.retry_at_ms > NOW || !in.may_act))
				cr_assert_fail(
				    "step %s, inputs 0x%x: %s while it must not act (row: %s)",
				    role_step_name(st), b, role_chain_cmd_name(out.cmd), out.row);
			if (st == ROLE_STEP_LEASE_WAIT && master.previous && in.contact_ms &&
			    out.cmd == ROLE_CHAIN_ADVANCE)
				cr_assert_fail(
				    "inputs 0x%x: past the lease wait while the lease runs", b);
			if (out.cmd == ROLE_CHAIN_ADVANCE && out.next <= in.step)
				cr_assert_fail("step %s, inputs 0x%x: ADVANCE goes back to %s",
					       role_step_name(st), b, role_step_name(out.next));
		}
	}
}

/* ---- outcomes, row by row --------------------------------------------------- */

static struct role_outcome_in oin;
static struct role_outcome_out oout;

static void result(enum role_chain_result r, bool ok, const char *detail)
{
	memset(&oin, 0, sizeof oin);
	oin.result = r;
	oin.ok = ok;
	oin.detail = detail;
	oin.self_id = 2;
	oin.previous = 1;
	oin.previous_name = "node1";
	oin.took_ms = 42;
	oin.may_act = true;
	role_chain_outcome(&oin, &oout);
	cr_assert(oout.row && !strstr(oout.row, "no row matches"), "a row for %d/%d", r, ok);
}

static void expect_retry(uint32_t ms)
{
	cr_assert(oout.retry, "retries (row: %s)", oout.row);
	cr_assert_eq(oout.retry_ms, ms);
	cr_assert_not(oout.set_step, "the step stays");
}

static void expect_entry(uint8_t action, uint32_t node, bool ok, const char *text)
{
	cr_assert(oout.entry.propose, "a STEP entry (row: %s)", oout.row);
	cr_assert_eq(oout.entry.action, action);
	cr_assert_eq(oout.entry.node, node);
	cr_assert_eq(oout.entry.ok, ok);
	cr_assert_str_eq(oout.entry.text, text);
}

Test(outcome, an_action_that_did_not_start_is_retried)
{
	result(ROLE_RESULT_NOT_STARTED, false, NULL);
	expect_retry(ROLE_RETRY_MS);
	cr_assert_eq(oout.then, ROLE_THEN_WAIT);
	cr_assert_not(oout.entry.propose);
}

Test(outcome, a_fence_that_did_not_start_still_goes_to_the_lease_wait)
{
	result(ROLE_RESULT_FENCE_NOT_STARTED, false, NULL);
	cr_assert(oout.set_step);
	cr_assert_eq(oout.next, ROLE_STEP_LEASE_WAIT);
	cr_assert_not(oout.retry);
	expect_entry(DUET_STEP_FENCE, 1, false, "cannot start the fence action");
	cr_assert_eq(oout.entry.duration_ms, 0);
	cr_assert_eq(oout.then, ROLE_THEN_CHAIN);
}

Test(outcome, a_confirmed_fence_goes_to_the_lease_wait)
{
	result(ROLE_RESULT_FENCE, true, "power off");
	cr_assert(oout.set_step);
	cr_assert_eq(oout.next, ROLE_STEP_LEASE_WAIT);
	expect_entry(DUET_STEP_FENCE, 1, true, "node1 is off: power off");
	cr_assert_eq(oout.entry.duration_ms, 42);
	cr_assert_eq(oout.then, ROLE_THEN_CHAIN);
}

Test(outcome, a_failed_fence_still_goes_to_the_lease_wait)
{
	result(ROLE_RESULT_FENCE, false, "no route");
	cr_assert(oout.set_step);
	cr_assert_eq(oout.next, ROLE_STEP_LEASE_WAIT);
	cr_assert_not(oout.retry, "a fence is never retried");
	expect_entry(DUET_STEP_FENCE, 1, false, "node1 NOT fenced: no route");
	cr_assert_eq(oout.then, ROLE_THEN_CHAIN);
}

Test(outcome, cleared_names_promote)
{
	result(ROLE_RESULT_CLEAR_NAMES, true, NULL);
	cr_assert_eq(oout.then, ROLE_THEN_PROMOTE);
	cr_assert_not(oout.retry);
	cr_assert_not(oout.set_step);
}

/* The names were cleared, but the lease ran out (or leadership, or the
 * log's master moved) while that took: no pg_promote; the chain decides
 * again, and its first row demotes. */
Test(outcome, cleared_names_do_not_promote_once_the_role_is_lost)
{
	memset(&oin, 0, sizeof oin);
	oin.result = ROLE_RESULT_CLEAR_NAMES;
	oin.ok = true;
	oin.self_id = 2;
	oin.may_act = false;
	role_chain_outcome(&oin, &oout);
	cr_assert_neq(oout.then, ROLE_THEN_PROMOTE, "no promotion without the role (row: %s)",
		      oout.row);
	cr_assert_eq(oout.then, ROLE_THEN_CHAIN, "the chain decides again (and demotes)");
	cr_assert_not(oout.set_step);
	cr_assert_not(oout.entry.propose);
	/* ... and the chain's decision on that state is the demotion */
	struct role_chain_in cin;
	struct role_chain_out cout;
	memset(&cin, 0, sizeof cin);
	cin.step = ROLE_STEP_PROMOTE;
	cin.may_act = false;
	cin.pg_configured = true;
	role_chain_decide(&cin, &cout);
	cr_assert_eq(cout.cmd, ROLE_CHAIN_DEMOTE);
}

Test(outcome, names_not_cleared_retry_without_promoting)
{
	result(ROLE_RESULT_CLEAR_NAMES, false, "timeout");
	expect_retry(ROLE_RETRY_MS);
	cr_assert_eq(oout.then, ROLE_THEN_CHAIN);
}

Test(outcome, promoted_goes_to_the_fip)
{
	result(ROLE_RESULT_PROMOTE, true, NULL);
	cr_assert(oout.set_step);
	cr_assert_eq(oout.next, ROLE_STEP_FIP);
	cr_assert_eq(oout.stamp, ROLE_STAMP_PROMOTED);
	cr_assert(oout.pg_unknown && oout.probe_now, "re-read PostgreSQL");
	expect_entry(DUET_STEP_PROMOTE, 2, true,
		     "PostgreSQL promoted with pg_promote(wait => true)");
	cr_assert_eq(oout.entry.duration_ms, 42);
}

Test(outcome, a_failed_promote_retries_after_the_pause)
{
	result(ROLE_RESULT_PROMOTE, false, "server closed the connection");
	expect_retry(ROLE_RETRY_MS);
	cr_assert(oout.probe_now);
	cr_assert_not(oout.pg_unknown);
	expect_entry(DUET_STEP_PROMOTE, 2, false,
		     "pg_promote failed: server closed the connection");
	cr_assert_eq(oout.then, ROLE_THEN_CHAIN);
}

Test(outcome, a_started_pg_waits_for_the_probe)
{
	result(ROLE_RESULT_START_PG, true, "exit 0");
	expect_retry(0);
	cr_assert(oout.probe_now);
	cr_assert_not(oout.entry.propose);
	cr_assert_eq(oout.then, ROLE_THEN_DRIVE);
	cr_assert_not(oout.release_stop_hold);
}

Test(outcome, a_pg_that_does_not_start_counts_again)
{
	memset(&oin, 0, sizeof oin);
	oin.result = ROLE_RESULT_START_PG;
	oin.pg_stopped_by_us = true;
	role_chain_outcome(&oin, &oout);
	expect_retry(ROLE_RETRY_MS);
	cr_assert(oout.probe_now);
	cr_assert(oout.release_stop_hold);
	cr_assert_eq(oout.then, ROLE_THEN_DRIVE);
	oin.pg_stopped_by_us = false;
	role_chain_outcome(&oin, &oout);
	cr_assert_not(oout.release_stop_hold, "nothing held");
}

Test(outcome, the_fip_acquired_goes_to_the_manager)
{
	result(ROLE_RESULT_FIP, true, "10.0.0.10/24 on eth0");
	cr_assert(oout.set_step);
	cr_assert_eq(oout.next, ROLE_STEP_MANAGER);
	cr_assert_eq(oout.stamp, ROLE_STAMP_FIP);
	expect_entry(DUET_STEP_FIP, 2, true, "10.0.0.10/24 on eth0");
}

Test(outcome, a_failed_fip_retries)
{
	result(ROLE_RESULT_FIP, false, "RTNETLINK answers: Operation not permitted");
	expect_retry(ROLE_RETRY_MS);
	cr_assert_eq(oout.stamp, ROLE_STAMP_NONE);
	expect_entry(DUET_STEP_FIP, 2, false, "RTNETLINK answers: Operation not permitted");
}

Test(outcome, the_manager_started_is_done)
{
	result(ROLE_RESULT_MANAGER, true, "exit 0");
	cr_assert(oout.set_step);
	cr_assert_eq(oout.next, ROLE_STEP_DONE);
	expect_entry(DUET_STEP_MANAGER, 2, true, "start_command: exit 0");
}

Test(outcome, a_failed_manager_retries)
{
	result(ROLE_RESULT_MANAGER, false, "exit 3");
	expect_retry(ROLE_RETRY_MS);
	expect_entry(DUET_STEP_MANAGER, 2, false, "start_command: exit 3");
}

Test(outcome, every_result_has_a_row)
{
	for (int r = ROLE_RESULT_NOT_STARTED; r <= ROLE_RESULT_MANAGER; r++)
		for (int ok = 0; ok <= 1; ok++) {
			result((enum role_chain_result)r, ok, "x");
			if (oout.set_step)
				cr_assert_not(oout.retry, "a result either moves on or retries");
		}
}
