/* SPDX-License-Identifier: MIT */
/*
 * test_fence.c - fencing by command and by IPMI.
 *
 * No BMC can run here, so the IPMI tests put a mock `ipmitool` (a shell
 * script) first in PATH: it records its exact argv, one "[arg]" per
 * argument, and answers `chassis power status` from a script of replies.
 * That checks what duet sends and how it reads the answers; it does not
 * check a real BMC's wording beyond the documented "Chassis Power is off".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "duet/actions.h"
#include "helpers.h"

#define PASSWORD "s3cr3t-PW-never-on-argv"

struct fenced {
	bool called;
	int calls;
	bool ok;
	uint64_t duration_ms;
	char detail[512];
};

static void on_fenced(void *data, bool ok, uint64_t duration_ms, const char *detail)
{
	struct fenced *f = data;
	f->called = true;
	f->calls++;
	f->ok = ok;
	f->duration_ms = duration_ms;
	snprintf(f->detail, sizeof f->detail, "%s", detail);
}

static struct fenced fence(const struct duet_fence_config *cfg)
{
	struct fenced f = {0};
	cr_assert_eq(duet_fence_run(t_loop, cfg, "node-b", on_fenced, &f), 0);
	cr_assert(!f.called, "the callback must not run inside duet_fence_run()");
	loop_until(&f.called, SAFETY_LIMIT_MS);
	loop_drain(SAFETY_LIMIT_MS);
	cr_assert_eq(f.calls, 1);
	return f;
}

TestSuite(fence, .init = t_setup, .fini = t_teardown);

/* ---- COMMAND -------------------------------------------------------------- */

static struct duet_fence_config command_config(const char *command, uint32_t timeout_ms)
{
	struct duet_fence_config cfg = {.method = DUET_FENCE_COMMAND, .timeout_ms = timeout_ms};
	snprintf(cfg.command, sizeof cfg.command, "%s", command);
	return cfg;
}

Test(fence, command_ok_sees_the_node_name)
{
	char command[256];
	snprintf(command, sizeof command, "echo \"$DUET_FENCE_NODE\" > %s", t_path("node"));
	struct duet_fence_config cfg = command_config(command, 5000);
	struct fenced f = fence(&cfg);
	cr_assert(f.ok, "%s", f.detail);
	cr_assert_str_eq(f.detail, "node-b fenced by fence command (exit 0)");
	cr_assert_str_eq(t_read(t_path("node")), "node-b\n");
}

Test(fence, command_failure)
{
	struct duet_fence_config cfg = command_config("echo 'PDU unreachable'; exit 1", 5000);
	struct fenced f = fence(&cfg);
	cr_assert(!f.ok);
	cr_assert_str_eq(f.detail, "node-b NOT fenced by fence command (exit 1: PDU unreachable)");
}

Test(fence, command_timeout)
{
	struct duet_fence_config cfg = command_config("sleep 100", 200);
	struct fenced f = fence(&cfg);
	cr_assert(!f.ok);
	cr_assert_geq(f.duration_ms, 200);
	cr_assert_str_eq(f.detail, "node-b NOT fenced by fence command (timed out after 200 ms)");
}

Test(fence, refuses_bad_configs)
{
	struct fenced f = {0};
	struct duet_fence_config none = {.method = DUET_FENCE_NONE};
	cr_assert_eq(duet_fence_run(t_loop, &none, "node-b", on_fenced, &f), DUET_EINVAL);
	struct duet_fence_config empty = {.method = DUET_FENCE_COMMAND};
	cr_assert_eq(duet_fence_run(t_loop, &empty, "node-b", on_fenced, &f), DUET_EINVAL);
	struct duet_fence_config no_host = {.method = DUET_FENCE_IPMI};
	cr_assert_eq(duet_fence_run(t_loop, &no_host, "node-b", on_fenced, &f), DUET_EINVAL);
	struct duet_fence_config no_agent = {.method = DUET_FENCE_AGENT};
	cr_assert_eq(duet_fence_run(t_loop, &no_agent, "node-b", on_fenced, &f), DUET_EINVAL);
	struct duet_fence_config odd = {.method = 7};
	cr_assert_eq(duet_fence_run(t_loop, &odd, "node-b", on_fenced, &f), DUET_EINVAL);
	loop_drain(SAFETY_LIMIT_MS);
	cr_assert(!f.called);
}

/* ---- IPMI (mock ipmitool) --------------------------------------------------- */

/*
 * The mock: appends its argv to argv.log; `power off` prints what ipmitool
 * prints; `power status` prints line N of replies (N = how many status
 * calls so far, the last line repeating).
 */
static const char MOCK_IPMITOOL[] =
    "#!/bin/sh\n"
    "dir=$(dirname \"$0\")\n"
    "for a in \"$@\"; do printf '[%s]' \"$a\"; done >> \"$dir/argv.log\"\n"
    "echo >> \"$dir/argv.log\"\n"
    "case \"$*\" in\n"
    "*'power off') echo 'Chassis Power Control: Down/Off'; exit 0 ;;\n"
    "*'power status')\n"
    "  n=$(( $(cat \"$dir/count\" 2>/dev/null || echo 0) + 1 )); echo $n > \"$dir/count\"\n"
    "  total=$(wc -l < \"$dir/replies\")\n"
    "  [ $n -gt $total ] && n=$total\n"
    "  sed -n \"${n}p\" \"$dir/replies\"; exit 0 ;;\n"
    "esac\n"
    "echo \"mock ipmitool: unexpected arguments: $*\" >&2; exit 1\n";

static struct duet_fence_config ipmi_setup(const char *replies, uint32_t timeout_ms)
{
	t_write("ipmitool", MOCK_IPMITOOL, 0755);
	t_write("replies", replies, 0644);
	const char *pwfile = t_write("bmc password", PASSWORD "\n", 0600);
	char path[1024];
	snprintf(path, sizeof path, "%s:%s", t_dir, getenv("PATH") ? getenv("PATH") : "/bin");
	cr_assert_eq(setenv("PATH", path, 1), 0); /* this test's own process */

	struct duet_fence_config cfg = {.method = DUET_FENCE_IPMI};
	snprintf(cfg.ipmi_host, sizeof cfg.ipmi_host, "10.9.0.5");
	snprintf(cfg.ipmi_user, sizeof cfg.ipmi_user, "fence admin"); /* a space: no shell */
	snprintf(cfg.ipmi_password_file, sizeof cfg.ipmi_password_file, "%s", pwfile);
	cfg.timeout_ms = timeout_ms;
	cfg.poll_ms = 10;
	return cfg;
}

Test(fence, ipmi_powers_off_and_waits_for_confirmation)
{
	struct duet_fence_config cfg =
	    ipmi_setup("Chassis Power is on\nChassis Power is on\nChassis Power is off\n", 10000);
	struct fenced f = fence(&cfg);
	cr_assert(f.ok, "%s", f.detail);
	cr_assert_str_eq(f.detail,
			 "node-b powered off through IPMI 10.9.0.5 (off confirmed after 3 status "
			 "polls)");
	char expected[4096];
	const char *common = "[-I][lanplus][-H][10.9.0.5][-U][fence admin][-f][%s/bmc password]"
			     "[chassis][power]";
	char prefix[512];
	snprintf(prefix, sizeof prefix, common, t_dir);
	snprintf(expected, sizeof expected, "%s[off]\n%s[status]\n%s[status]\n%s[status]\n", prefix,
		 prefix, prefix, prefix);
	const char *log = t_read(t_path("argv.log"));
	cr_assert_str_eq(log, expected);
	cr_assert_null(strstr(log, PASSWORD), "the password appeared on a command line");
}

Test(fence, ipmi_that_never_reports_off_fails_at_the_deadline)
{
	struct duet_fence_config cfg = ipmi_setup("Chassis Power is on\n", 1000);
	snprintf(cfg.ipmi_interface, sizeof cfg.ipmi_interface, "lan");
	cfg.ipmi_user[0] = '\0';
	struct fenced f = fence(&cfg);
	cr_assert(!f.ok);
	cr_assert_geq(f.duration_ms, 1000);
	cr_assert_str_eq(f.detail, "node-b NOT fenced: IPMI 10.9.0.5 did not confirm power off "
				   "within 1000 ms (last: power status \"Chassis Power is on\")");
	const char *log = t_read(t_path("argv.log"));
	cr_assert(strstr(log, "[-I][lan][-H][10.9.0.5][-f]"), "%s", log); /* no -U when empty */
	cr_assert_null(strstr(log, PASSWORD));
}

Test(fence, ipmi_power_off_errors_are_retried_until_the_deadline)
{
	struct duet_fence_config cfg = ipmi_setup("Chassis Power is off\n", 1000);
	/* A BMC that refuses the power-off command. */
	t_write(
	    "ipmitool",
	    "#!/bin/sh\necho 'Error: Unable to establish IPMI v2 / RMCP+ session' >&2\nexit 1\n",
	    0755);
	struct fenced f = fence(&cfg);
	cr_assert(!f.ok);
	cr_assert(strstr(f.detail, "(last: power off failed: \"exit 1: Error: Unable to establish "
				   "IPMI v2 / RMCP+ session\")"),
		  "%s", f.detail);
}

Test(fence, missing_ipmitool_fails_at_once)
{
	struct duet_fence_config cfg = ipmi_setup("Chassis Power is off\n", 20000);
	snprintf(cfg.ipmitool, sizeof cfg.ipmitool, "%s/no-such-ipmitool", t_dir);
	struct fenced f = fence(&cfg);
	cr_assert(!f.ok);
	cr_assert(strstr(f.detail, "NOT fenced: cannot run "), "%s", f.detail);
	cr_assert(strstr(f.detail, "No such file or directory"), "%s", f.detail);
	cr_assert_lt(f.duration_ms, 20000);
}

/* ---- AGENT (fence_dummy from Debian's fence-agents, the real agent) ---------- */

/*
 * fence_dummy keeps the "power" of its machine in a status file and speaks
 * the fence-agents stdin protocol like every fence_* agent: the options
 * (here status_file=) reach it only on stdin, so the file it turns "off"
 * proves that duet sent them there. `status` exits 0 for on and 2 for off.
 */
#define FENCE_DUMMY "/usr/sbin/fence_dummy"

static struct duet_fence_config agent_setup(const char *options, uint32_t timeout_ms)
{
	cr_assert_eq(access(FENCE_DUMMY, X_OK), 0,
		     FENCE_DUMMY " is missing: scripts/install-deps.sh installs fence-agents");
	struct duet_fence_config cfg = {.method = DUET_FENCE_AGENT};
	snprintf(cfg.agent, sizeof cfg.agent, "fence_dummy"); /* looked up through PATH */
	snprintf(cfg.agent_options_file, sizeof cfg.agent_options_file, "%s",
		 t_write("fence options", options, 0600));
	cfg.timeout_ms = timeout_ms;
	cfg.poll_ms = 10;
	char path[1024];
	snprintf(path, sizeof path, "/usr/sbin:%s", getenv("PATH") ? getenv("PATH") : "/bin");
	cr_assert_eq(setenv("PATH", path, 1), 0); /* this test's own process */
	return cfg;
}

Test(fence, agent_powers_off_through_stdin_and_confirms_with_status)
{
	t_write("power", "on", 0644); /* fence_dummy reads the file's text as is */
	char options[1024];
	snprintf(options, sizeof options,
		 "# the other node's device\nstatus_file=%s\naction=reboot\n", t_path("power"));
	struct duet_fence_config cfg = agent_setup(options, 20000);
	struct fenced f = fence(&cfg);
	cr_assert(f.ok, "%s", f.detail);
	cr_assert_str_eq(f.detail, "node-b powered off through fence agent fence_dummy (off "
				   "confirmed after 1 status poll)");
	/* off, not the file's own action=reboot: the action is duet's */
	cr_assert_str_eq(t_read(t_path("power")), "off");
}

Test(fence, agent_that_cannot_power_off_fails_at_the_deadline)
{
	/* type=fail: fence_dummy's own failing machine, never off */
	struct duet_fence_config cfg = agent_setup("type=fail\nplug=node-b\n", 1500);
	struct fenced f = fence(&cfg);
	cr_assert(!f.ok);
	cr_assert_geq(f.duration_ms, 1500);
	cr_assert(strstr(f.detail, "node-b NOT fenced: fence agent fence_dummy did not confirm "
				   "power off within 1500 ms"),
		  "%s", f.detail);
}

Test(fence, agent_with_unreadable_options_is_not_run)
{
	struct duet_fence_config cfg = agent_setup("status_file=/nonexistent\n", 20000);
	snprintf(cfg.agent_options_file, sizeof cfg.agent_options_file, "%s",
		 t_path("no such options"));
	struct fenced f = fence(&cfg);
	cr_assert(!f.ok);
	cr_assert_lt(f.duration_ms, 20000);
	cr_assert(strstr(f.detail, "NOT fenced: fence agent fence_dummy not run: cannot read "),
		  "%s", f.detail);
}

Test(fence, missing_agent_fails_at_once)
{
	struct duet_fence_config cfg = agent_setup("status_file=/nonexistent\n", 20000);
	snprintf(cfg.agent, sizeof cfg.agent, "fence_no_such_agent");
	struct fenced f = fence(&cfg);
	cr_assert(!f.ok);
	cr_assert(strstr(f.detail, "NOT fenced: cannot run fence_no_such_agent"), "%s", f.detail);
}
