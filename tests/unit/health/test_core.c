/* SPDX-License-Identifier: MIT */
/*
 * test_core.c - the framework with scripted probes on a real loop:
 * hysteresis, deadlines (one probe in flight, late answers ignored),
 * answers from inside probe_start, start errors, pause, probe_now, close
 * with probes in flight (and from inside a callback), status and JSON, and
 * refused configurations.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "fixture.h"

TestSuite(health_core, .init = hx_setup, .fini = hx_teardown, .timeout = 60);

#define NEVER_MS 600000 /* a deadline no test reaches */

static void add_script(const char *name, bool critical, struct script *s, const char *seq,
		       uint32_t interval_ms, uint32_t timeout_ms)
{
	struct duet_health_check_config c = hx_config(name, interval_ms, timeout_ms);
	c.critical = critical;
	struct duet_health_probe p = script_probe(s, seq);
	cr_assert_eq(duet_health_add(hx_set, &c, &p), 0, "adding %s", name);
}

static void assert_transition(const struct hx_transition *t, int old_state, int new_state,
			      const char *detail)
{
	cr_assert_eq(t->old_state, old_state, "%s: from %s, expected %s", t->check,
		     duet_health_state_name(t->old_state), duet_health_state_name(old_state));
	cr_assert_eq(t->new_state, new_state, "%s: to %s, expected %s", t->check,
		     duet_health_state_name(t->new_state), duet_health_state_name(new_state));
	cr_assert(strstr(t->detail, detail), "%s: detail '%s', expected '%s'", t->check, t->detail,
		  detail);
}

struct two_scripts {
	struct script *a, *b;
	unsigned a_answers, b_answers;
};

/* Both scripts answered their sequences and the framework started the
 * probe after the last answer (so it has counted that answer). */
static bool scripts_played(void *arg)
{
	struct two_scripts *w = arg;
	return w->a->answered >= w->a_answers && w->a->started > w->a_answers &&
	       w->b->answered >= w->b_answers && w->b->started > w->b_answers;
}

Test(health_core, hysteresis)
{
	static struct script pg, fs;
	hx_set_new();
	/* Upper case answers from inside probe_start, lower case from a later
	 * callback: both paths must count the same way. ok_after 2, fail_after
	 * 3 (the defaults). */
	add_script("pg", true, &pg, "oOfoOfFfoFoO", 5, NEVER_MS);
	add_script("fs", false, &fs, "ffF", 5, NEVER_MS);
	pg.answer_on_cancel = fs.answer_on_cancel = true;
	cr_assert_eq(hx_state("pg"), DUET_HEALTH_UNKNOWN);
	cr_assert_eq(duet_health_start(hx_set), 0);

	struct two_scripts w = {&pg, &fs, 12, 3};
	cr_assert(hx_run_until(scripts_played, &w, HX_GUARD_MS), "scripts did not play");

	const struct hx_transition *t[8];
	cr_assert_eq(hx_transitions_of("pg", t, 8), 3);
	assert_transition(t[0], DUET_HEALTH_UNKNOWN, DUET_HEALTH_OK, "probe 2 ok");
	assert_transition(t[1], DUET_HEALTH_OK, DUET_HEALTH_FAILING, "probe 8 failed");
	assert_transition(t[2], DUET_HEALTH_FAILING, DUET_HEALTH_OK, "probe 12 ok");
	cr_assert(t[0]->critical && t[1]->critical && t[2]->critical);

	cr_assert_eq(hx_transitions_of("fs", t, 8), 1);
	assert_transition(t[0], DUET_HEALTH_UNKNOWN, DUET_HEALTH_FAILING, "probe 3 failed");
	cr_assert(!t[0]->critical);

	cr_assert_eq(pg.max_in_flight, 1);
	cr_assert_eq(fs.max_in_flight, 1);
	struct duet_health_status s = hx_status("pg");
	cr_assert_eq(s.state, DUET_HEALTH_OK);
	cr_assert_eq(s.failures, 5);
	cr_assert_eq(s.timeouts, 0);
	cr_assert_eq(s.consecutive_ok, 2);
	cr_assert_str_eq(s.detail, "probe 12 ok");

	uint32_t failures = 99;
	char detail[64];
	int state;
	cr_assert_eq(duet_health_state(hx_set, "fs", &state, &failures, detail, sizeof(detail)), 0);
	cr_assert_eq(state, DUET_HEALTH_FAILING);
	cr_assert_eq(failures, 3);
	cr_assert_str_eq(detail, "probe 3 failed");
	cr_assert_eq(duet_health_state(hx_set, "nope", &state, NULL, NULL, 0), DUET_ENOENT);
}

Test(health_core, start_error_counts_as_failure)
{
	static struct script s;
	hx_set_new();
	add_script("manager", true, &s, "eeeOO", 5, NEVER_MS);
	s.answer_on_cancel = true;
	cr_assert_eq(duet_health_start(hx_set), 0);
	hx_run_until_state("manager", DUET_HEALTH_FAILING);
	const struct hx_transition *t[4];
	cr_assert_eq(hx_transitions_of("manager", t, 4), 1);
	assert_transition(t[0], DUET_HEALTH_UNKNOWN, DUET_HEALTH_FAILING, "probe could not start");
	hx_run_until_state("manager", DUET_HEALTH_OK);
	cr_assert_eq(s.max_in_flight, 1);
}

struct hung_wait {
	const char *name;
	uint64_t timeouts;
};

Test(health_core, deadline_one_probe_in_flight_late_answer_ignored)
{
	static struct script s;
	hx_set_new();
	struct duet_health_check_config c = hx_config("peer", 20, 10);
	c.critical = true;
	struct duet_health_probe p = script_probe(&s, "hoo");
	cr_assert_eq(duet_health_add(hx_set, &c, &p), 0);
	cr_assert_eq(duet_health_start(hx_set), 0);

	hx_run_until_state("peer", DUET_HEALTH_FAILING);
	struct duet_health_status st = hx_status("peer");
	cr_assert_eq(s.started, 1, "a second probe started while the first was in flight");
	cr_assert_eq(st.probes, 1);
	cr_assert_eq(st.timeouts, 3, "one deadline and two ticks with the probe still out");
	cr_assert_eq(st.failures, 3);
	cr_assert(st.in_flight);
	cr_assert_eq(s.cancels, 1, "cancel is called once, at the deadline");
	const struct hx_transition *t[4];
	cr_assert_eq(hx_transitions_of("peer", t, 4), 1);
	assert_transition(t[0], DUET_HEALTH_UNKNOWN, DUET_HEALTH_FAILING, "no answer within 10 ms");

	/* The late answer is counted as late and changes nothing. */
	script_answer(&s, true, "late and ok");
	st = hx_status("peer");
	cr_assert_eq(st.late_answers, 1);
	cr_assert_eq(st.state, DUET_HEALTH_FAILING);
	cr_assert_eq(st.consecutive_failures, 3);
	cr_assert(!st.in_flight);
	cr_assert(strstr(st.detail, "no answer"), "detail: %s", st.detail);

	/* Then probes run again and answer in time. */
	hx_run_until_state("peer", DUET_HEALTH_OK);
	cr_assert_eq(hx_status("peer").probes, 3);
	cr_assert_eq(s.max_in_flight, 1);
	cr_assert_eq(hx_transitions_of("peer", t, 4), 2);
	assert_transition(t[1], DUET_HEALTH_FAILING, DUET_HEALTH_OK, "probe 3 ok");
}

static bool skipped_three(void *arg)
{
	return hx_status("pg").skipped_ticks >= 3;
}

Test(health_core, tick_within_deadline_is_skipped_not_failed)
{
	static struct script s;
	hx_set_new();
	/* A deadline longer than the interval (the daemon's defaults are 500
	 * and 1000 ms): ticks meanwhile neither fail nor start a probe. */
	add_script("pg", true, &s, "h", 2, NEVER_MS);
	s.answer_on_cancel = true;
	cr_assert_eq(duet_health_start(hx_set), 0);
	cr_assert(hx_run_until(skipped_three, NULL, HX_GUARD_MS));
	struct duet_health_status st = hx_status("pg");
	cr_assert_eq(st.probes, 1);
	cr_assert_eq(st.failures, 0);
	cr_assert_eq(st.state, DUET_HEALTH_UNKNOWN);
	cr_assert(st.in_flight);
}

static bool probes_at_least(void *arg)
{
	const struct hung_wait *w = arg;
	return hx_status(w->name).probes >= w->timeouts;
}

Test(health_core, pause_and_resume)
{
	static struct script pg, fip;
	hx_set_new();
	add_script("pg", true, &pg, "oooooooooooooooooooooooooooooo", 5, NEVER_MS);
	struct duet_health_check_config c = hx_config("fip", 5, NEVER_MS);
	c.critical = true;
	c.start_paused = true; /* like the FIP check on a standby */
	struct duet_health_probe p = script_probe(&fip, "oooh");
	cr_assert_eq(duet_health_add(hx_set, &c, &p), 0);
	fip.answer_on_cancel = true;
	pg.answer_on_cancel = true;
	cr_assert_eq(duet_health_start(hx_set), 0);

	struct hung_wait w = {"pg", 3};
	cr_assert(hx_run_until(probes_at_least, &w, HX_GUARD_MS));
	struct duet_health_status st = hx_status("fip");
	cr_assert(st.paused);
	cr_assert_eq(st.probes, 0);
	cr_assert_eq(st.state, DUET_HEALTH_UNKNOWN);
	cr_assert_eq(duet_health_probe_now(hx_set, "fip"), DUET_EINVAL, "paused: no probe");

	cr_assert_eq(duet_health_set_pause(hx_set, "fip", false), 0);
	hx_run_until_state("fip", DUET_HEALTH_OK);

	/* Let the fourth probe hang, then pause with it in flight: it is
	 * cancelled, its answer ignored, and the state goes back to UNKNOWN. */
	struct hung_wait w4 = {"fip", 4};
	cr_assert(hx_run_until(probes_at_least, &w4, HX_GUARD_MS));
	cr_assert_eq(duet_health_set_pause(hx_set, "fip", true), 0);
	cr_assert_eq(duet_health_set_pause(hx_set, "fip", true), 0, "pausing twice is harmless");
	st = hx_status("fip");
	cr_assert_eq(st.state, DUET_HEALTH_UNKNOWN);
	cr_assert_str_eq(st.detail, "paused");
	cr_assert(!st.in_flight, "the cancelled probe answered");
	cr_assert_eq(fip.cancels, 1);
	cr_assert_eq(st.failures, 0, "an abandoned probe counts nothing");
	const struct hx_transition *t[4];
	cr_assert_eq(hx_transitions_of("fip", t, 4), 2);
	assert_transition(t[0], DUET_HEALTH_UNKNOWN, DUET_HEALTH_OK, "probe 2 ok");
	assert_transition(t[1], DUET_HEALTH_OK, DUET_HEALTH_UNKNOWN, "paused");

	uint64_t probes = st.probes;
	w.timeouts = hx_status("pg").probes + 3;
	cr_assert(hx_run_until(probes_at_least, &w, HX_GUARD_MS));
	cr_assert_eq(hx_status("fip").probes, probes, "a paused check does not probe");
	cr_assert_eq(duet_health_set_pause(hx_set, "nope", true), DUET_ENOENT);
}

static bool first_answer_counted(void *arg)
{
	const struct script *s = arg;
	return s->answered >= 1 && !hx_status("manager").in_flight;
}

Test(health_core, probe_now_without_timers)
{
	static struct script s;
	hx_set_new();
	/* Not started: only probe_now() probes. */
	add_script("manager", false, &s, "oOh", 3600000, NEVER_MS);
	s.answer_on_cancel = true;
	cr_assert_eq(duet_health_probe_now(hx_set, "manager"), 0);
	cr_assert_eq(duet_health_probe_now(hx_set, "manager"), DUET_EBUSY);
	cr_assert_eq(duet_health_probe_now(hx_set, "nope"), DUET_ENOENT);
	cr_assert(hx_run_until(first_answer_counted, &s, HX_GUARD_MS));
	cr_assert_eq(hx_state("manager"), DUET_HEALTH_UNKNOWN, "one good probe is not enough");
	cr_assert_eq(duet_health_probe_now(hx_set, "manager"), 0); /* answers inside start */
	hx_run_until_state("manager", DUET_HEALTH_OK);
	cr_assert_eq(s.started, 2, "no timer started a probe");
	cr_assert_eq(duet_health_probe_now(hx_set, "manager"), 0); /* hangs */
	cr_assert_eq(duet_health_probe_now(hx_set, "manager"), DUET_EBUSY);
}

static bool cancelled_once(void *arg)
{
	return ((struct script *)arg)->cancels >= 1;
}

Test(health_core, close_waits_for_probe_in_flight)
{
	static struct script s;
	hx_set_new();
	add_script("peer", true, &s, "h", 5, NEVER_MS);
	cr_assert_eq(duet_health_start(hx_set), 0);
	cr_assert_eq(duet_health_probe_now(hx_set, "peer"), 0);
	hx_close_set_nowait();
	/* Every timer closes, the probe is told; the set stays until it answers. */
	cr_assert(hx_run_until(cancelled_once, &s, HX_GUARD_MS));
	uv_run(hx_loop, UV_RUN_NOWAIT);
	uv_run(hx_loop, UV_RUN_NOWAIT);
	cr_assert(!hx_set_closed, "freed while a probe could still answer");
	script_answer(&s, true, "after close"); /* touches the set: ASan would see a free */
	cr_assert(!hx_set_closed, "closed() comes from a later callback, never inside done()");
	cr_assert(hx_run_until(NULL, &hx_set_closed, HX_GUARD_MS));
}

static bool closed_from_callback;
static void mark_closed(void *data)
{
	*(bool *)data = true;
}

static void close_on_transition(void *data, const char *check, int old_state, int new_state,
				bool critical, const char *detail)
{
	struct duet_health_set **set = data;
	duet_health_set_close(*set, mark_closed, &closed_from_callback);
}

Test(health_core, close_from_transition_callback)
{
	static struct script a, b;
	static struct duet_health_set *set;
	cr_assert_eq(duet_health_set_new(hx_loop, close_on_transition, &set, &set), 0);
	struct duet_health_check_config c = hx_config("a", 5, NEVER_MS);
	c.ok_after = 1;
	struct duet_health_probe pa = script_probe(&a, "o");
	struct duet_health_probe pb = script_probe(&b, "h");
	b.answer_on_cancel = true;
	cr_assert_eq(duet_health_add(set, &c, &pa), 0);
	c.name = "b";
	cr_assert_eq(duet_health_add(set, &c, &pb), 0);
	cr_assert_eq(duet_health_start(set), 0);
	cr_assert(hx_run_until(NULL, &closed_from_callback, HX_GUARD_MS), "the set did not close");
	cr_assert_eq(b.cancels, 1);
}

Test(health_core, status_iterator_and_json)
{
	static struct script a, b;
	hx_set_new();
	add_script("pg", true, &a, "oo", 5, NEVER_MS);
	add_script("fs", false, &b, "F", 5, NEVER_MS);
	a.answer_on_cancel = b.answer_on_cancel = true;
	cr_assert_eq(duet_health_count(hx_set), 2);
	cr_assert_eq(duet_health_start(hx_set), 0);
	hx_run_until_state("pg", DUET_HEALTH_OK);

	struct duet_health_status s;
	cr_assert_eq(duet_health_status_at(hx_set, 0, &s), 0);
	cr_assert_str_eq(s.name, "pg");
	cr_assert(s.critical);
	cr_assert_eq(s.interval_ms, 5);
	cr_assert_eq(s.fail_after, DUET_HEALTH_DEFAULT_FAIL_AFTER);
	cr_assert_eq(s.ok_after, DUET_HEALTH_DEFAULT_OK_AFTER);
	cr_assert_eq(duet_health_status_at(hx_set, 1, &s), 0);
	cr_assert_str_eq(s.name, "fs");
	cr_assert_eq(duet_health_status_at(hx_set, 2, &s), DUET_ENOENT);

	char json[2048];
	long n = duet_health_status_json(hx_set, json, sizeof(json));
	cr_assert_gt(n, 0);
	cr_assert_eq((size_t)n, strlen(json));
	cr_assert(json[0] == '[' && json[n - 1] == ']', "%s", json);
	cr_assert(strstr(json, "{\"name\":\"pg\",\"state\":\"OK\",\"critical\":true,"), "%s", json);
	cr_assert(strstr(json, "\"detail\":\"probe 2 ok\""), "%s", json);
	cr_assert(strstr(json, "{\"name\":\"fs\",\"state\":\"UNKNOWN\",\"critical\":false,"), "%s",
		  json);
	cr_assert(strstr(json, "\"detail\":\"probe 1 failed\""), "%s", json);
	cr_assert(strstr(json, "\"probes\":"), "%s", json);
	cr_assert_eq(duet_health_status_json(hx_set, json, 40), DUET_ETOOBIG);
	cr_assert_str_eq(json, "");
}

static int null_probe(void *probe_data, struct duet_health_probe_ctx *ctx, duet_health_done_fn done)
{
	return DUET_EBUSY;
}

Test(health_core, refused_configurations)
{
	hx_set_new();
	struct duet_health_probe p = {.start = null_probe};
	struct duet_health_check_config c = hx_config("pg", 100, 100);
	cr_assert_eq(duet_health_add(hx_set, &c, &p), 0);
	cr_assert_eq(duet_health_add(hx_set, &c, &p), DUET_EINVAL, "duplicate name");
	c.name = "0123456789012345678901234567890"; /* 31 chars: fits */
	cr_assert_eq(duet_health_add(hx_set, &c, &p), 0);
	c.name = "01234567890123456789012345678901"; /* 32 */
	cr_assert_eq(duet_health_add(hx_set, &c, &p), DUET_EINVAL);
	c.name = "";
	cr_assert_eq(duet_health_add(hx_set, &c, &p), DUET_EINVAL);
	c.name = "x";
	c.interval_ms = 0;
	cr_assert_eq(duet_health_add(hx_set, &c, &p), DUET_EINVAL);
	c.interval_ms = 100;
	c.timeout_ms = 0;
	cr_assert_eq(duet_health_add(hx_set, &c, &p), DUET_EINVAL);
	c.timeout_ms = 100;
	struct duet_health_probe none = {0};
	cr_assert_eq(duet_health_add(hx_set, &c, &none), DUET_EINVAL);

	c.name = "fs";
	cr_assert_eq(duet_health_add_fs(hx_set, &c, "/tmp"), 0);
	c.name = "fs2";
	cr_assert_eq(duet_health_add_fs(hx_set, &c, "/tmp/"), DUET_EINVAL, "same directory");
	cr_assert_eq(duet_health_add_fs(hx_set, &c, ""), DUET_EINVAL);
	c.name = "nic";
	cr_assert_eq(duet_health_add_nic(hx_set, &c, "0123456789abcdef"), DUET_EINVAL);
	cr_assert_eq(duet_health_add_nic(hx_set, &c, ""), DUET_EINVAL);
	c.name = "isolation";
	const char *bad[][1] = {{"10.0.0.1"}, {"gateway:80"}, {"10.0.0.1:0"},  {"10.0.0.1:65536"},
				{"[::1]80"},  {"::1:80"},     {"10.0.0.1:8x"}, {"[::1]:"}};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(duet_health_add_isolation(hx_set, &c, bad[i], 1), DUET_EINVAL, "%s",
			     bad[i][0]);
	const char *good[] = {"127.0.0.1:1", "[::1]:1"};
	cr_assert_eq(duet_health_add_isolation(hx_set, &c, good, 0), DUET_EINVAL);
	cr_assert_eq(duet_health_add_isolation(hx_set, &c, good, 2), 0);

	unsigned n = duet_health_count(hx_set);
	char names[DUET_HEALTH_MAX_CHECKS][8];
	for (unsigned i = n; i < DUET_HEALTH_MAX_CHECKS; i++) {
		snprintf(names[i], sizeof(names[i]), "c%u", i);
		c.name = names[i];
		cr_assert_eq(duet_health_add(hx_set, &c, &p), 0);
	}
	c.name = "one-too-many";
	cr_assert_eq(duet_health_add(hx_set, &c, &p), DUET_ETOOBIG);
	cr_assert_eq(duet_health_start(hx_set), 0);
	cr_assert_eq(duet_health_start(hx_set), DUET_EINVAL);
	cr_assert_str_eq(duet_health_state_name(DUET_HEALTH_FAILING), "FAILING");
	cr_assert_str_eq(duet_health_state_name(7), "?");
}

struct slow_wait {
	uint64_t t0;
	uint64_t until_ms;
};

static bool loop_time_passed(void *arg)
{
	const struct slow_wait *w = arg;
	return uv_now(hx_loop) - w->t0 >= w->until_ms;
}

/* Issue 13 defect 11 (bench-rejoin): one fs probe that ran 1.5 s under a
 * base backup's I/O, past its 1 s deadline, counted a failure at the
 * deadline and one more at every 500 ms tick while it was out: three
 * failures, FAILING, and the master handed over on one slow probe. A probe
 * still out costs one failure per whole timeout it is late, so however the
 * loop is scheduled, failures <= its age / timeout_ms. */
Test(health_core, one_slow_probe_is_not_a_failed_check)
{
	static struct script s;
	hx_set_new();
	add_script("fs", true, &s, "h", 20, 200);
	struct slow_wait w = {uv_now(hx_loop), 500};
	cr_assert_eq(duet_health_start(hx_set), 0);
	cr_assert(hx_run_until(loop_time_passed, &w, HX_GUARD_MS));
	struct duet_health_status st = hx_status("fs");
	uint64_t age = uv_now(hx_loop) - w.t0;
	cr_assert_eq(st.probes, 1);
	cr_assert_geq(st.consecutive_failures, 1, "the deadline passed: one failure");
	cr_assert_leq(st.consecutive_failures, age / 200,
		      "%u failures for one probe %lu ms out (timeout 200 ms)",
		      st.consecutive_failures, (unsigned long)age);
	if (age < 600)
		cr_assert_neq(st.state, DUET_HEALTH_FAILING, "one slow probe failed the check");
	/* it answers late: ignored, and the next probes run again */
	script_answer(&s, true, "late");
	cr_assert_eq(hx_status("fs").late_answers, 1);
}
