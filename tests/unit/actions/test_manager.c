/* SPDX-License-Identifier: MIT */
/*
 * test_manager.c - the manager's start, stop and check commands, with small
 * shell scripts that keep the "manager" state in a file.
 */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "duet/actions.h"
#include "helpers.h"

struct answer {
	bool called;
	int calls;
	bool ok;
	char detail[512];
};

static void on_answer(void *data, bool ok, const char *detail)
{
	struct answer *a = data;
	a->called = true;
	a->calls++;
	a->ok = ok;
	snprintf(a->detail, sizeof a->detail, "%s", detail);
}

typedef int (*manager_fn)(uv_loop_t *, const struct duet_manager_config *, duet_manager_cb, void *);

static struct answer call(manager_fn fn, const struct duet_manager_config *cfg)
{
	struct answer a = {0};
	cr_assert_eq(fn(t_loop, cfg, on_answer, &a), 0);
	cr_assert(!a.called);
	loop_until(&a.called, SAFETY_LIMIT_MS);
	loop_drain(SAFETY_LIMIT_MS);
	cr_assert_eq(a.calls, 1);
	return a;
}

static struct duet_manager_config scripts(void)
{
	const char *pid = t_path("manager.state");
	struct duet_manager_config cfg = {.timeout_ms = 5000};
	snprintf(cfg.start_command, sizeof cfg.start_command, "echo running > %s", pid);
	snprintf(cfg.stop_command, sizeof cfg.stop_command, "rm -f %s", pid);
	snprintf(cfg.check_command, sizeof cfg.check_command,
		 "test -f %s || { echo 'manager not running'; exit 3; }", pid);
	return cfg;
}

TestSuite(manager, .init = t_setup, .fini = t_teardown);

Test(manager, start_check_stop)
{
	struct duet_manager_config cfg = scripts();
	struct answer a = call(duet_manager_check, &cfg);
	cr_assert(!a.ok);
	cr_assert_str_eq(a.detail, "check: not running (exit 3: manager not running)");

	a = call(duet_manager_start, &cfg);
	cr_assert(a.ok, "%s", a.detail);
	cr_assert_str_eq(a.detail, "start: exit 0");

	a = call(duet_manager_check, &cfg);
	cr_assert(a.ok, "%s", a.detail);
	cr_assert_str_eq(a.detail, "check: running (exit 0)");

	a = call(duet_manager_stop, &cfg);
	cr_assert(a.ok, "%s", a.detail);
	cr_assert_str_eq(a.detail, "stop: exit 0");

	a = call(duet_manager_check, &cfg);
	cr_assert(!a.ok);
}

Test(manager, failures_and_timeouts)
{
	struct duet_manager_config cfg = scripts();
	snprintf(cfg.start_command, sizeof cfg.start_command,
		 "echo 'port 8080 in use' >&2; exit 1");
	snprintf(cfg.check_command, sizeof cfg.check_command, "sleep 100");
	cfg.timeout_ms = 200;
	struct answer a = call(duet_manager_start, &cfg);
	cr_assert(!a.ok);
	cr_assert_str_eq(a.detail, "start: exit 1: port 8080 in use");
	a = call(duet_manager_check, &cfg);
	cr_assert(!a.ok);
	cr_assert_str_eq(a.detail, "check: timed out after 200 ms");
}

Test(manager, empty_command_is_refused)
{
	struct duet_manager_config cfg = {0};
	struct answer a = {0};
	cr_assert_eq(duet_manager_start(t_loop, &cfg, on_answer, &a), DUET_EINVAL);
	cr_assert_eq(duet_manager_stop(t_loop, &cfg, on_answer, &a), DUET_EINVAL);
	cr_assert_eq(duet_manager_check(t_loop, &cfg, on_answer, &a), DUET_EINVAL);
	cfg = scripts();
	cr_assert_eq(duet_manager_check(t_loop, &cfg, NULL, &a), DUET_EINVAL);
	loop_drain(SAFETY_LIMIT_MS);
	cr_assert(!a.called);
}
