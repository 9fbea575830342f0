/* SPDX-License-Identifier: MIT */
/*
 * test_nic.c - the nic probe against real interfaces: lo, a missing name,
 * and a veth pair in a fresh network namespace whose link the test takes
 * down and up (admin state, then carrier through the peer).
 *
 * The namespace is entered before anything starts libuv's threadpool, so
 * the worker threads (which make the netlink query) are created inside it.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "fixture.h"

TestSuite(health_nic, .init = hx_setup, .fini = hx_teardown, .timeout = 120);

static void add_nic(const char *name, const char *ifname)
{
	if (!hx_set)
		hx_set_new();
	struct duet_health_check_config c = hx_config(name, 10, 60000);
	cr_assert_eq(duet_health_add_nic(hx_set, &c, ifname), 0, "add_nic %s", ifname);
}

static void assert_detail_has(const char *check, const char *text)
{
	const char *d = hx_status(check).detail;
	cr_assert(strstr(d, text), "%s: detail '%s' lacks '%s'", check, d, text);
}

Test(health_nic, loopback_is_ok)
{
	add_nic("nic", "lo");
	cr_assert_eq(duet_health_start(hx_set), 0);
	hx_run_until_state("nic", DUET_HEALTH_OK);
	/* lo reports operstate "unknown"; its carrier flag decides. */
	assert_detail_has("nic", "lo up with carrier");
}

Test(health_nic, missing_interface_fails_clearly)
{
	add_nic("nic", "duetnope0");
	cr_assert_eq(duet_health_start(hx_set), 0);
	hx_run_until_state("nic", DUET_HEALTH_FAILING);
	assert_detail_has("nic", "interface duetnope0 not found");
	const struct hx_transition *t[4];
	cr_assert_eq(hx_transitions_of("nic", t, 4), 1);
	cr_assert(strstr(t[0]->detail, "duetnope0 not found"), "%s", t[0]->detail);
}

Test(health_nic, veth_down_fails_up_is_ok)
{
	hx_new_netns();
	hx_sh("ip link add duet-v0 type veth peer name duet-v1");
	add_nic("nic", "duet-v0");
	add_nic("lo", "lo"); /* down in a fresh namespace: netlink sees this namespace */
	cr_assert_eq(duet_health_start(hx_set), 0);

	hx_run_until_state("nic", DUET_HEALTH_FAILING);
	assert_detail_has("nic", "duet-v0 is administratively down");
	hx_run_until_state("lo", DUET_HEALTH_FAILING);
	assert_detail_has("lo", "lo is administratively down");

	hx_sh("ip link set duet-v0 up"); /* the peer is still down: no carrier */
	hx_run_until_detail("nic", "duet-v0 has no carrier");
	cr_assert_eq(hx_state("nic"), DUET_HEALTH_FAILING);

	hx_sh("ip link set duet-v1 up");
	hx_run_until_state("nic", DUET_HEALTH_OK);
	assert_detail_has("nic", "duet-v0 up with carrier (operstate up)");

	hx_sh("ip link set duet-v1 down"); /* pulls the cable */
	hx_run_until_state("nic", DUET_HEALTH_FAILING);
	assert_detail_has("nic", "no carrier");

	const struct hx_transition *t[8];
	cr_assert_eq(hx_transitions_of("nic", t, 8), 3);
	cr_assert_eq(t[1]->new_state, DUET_HEALTH_OK);
	cr_assert_eq(t[2]->new_state, DUET_HEALTH_FAILING);
}
