/* SPDX-License-Identifier: MIT */
/*
 * test_addr.c - the host:port check (white-box: config_internal.h) and the
 * edit distance behind "did you mean".
 */
#include <criterion/criterion.h>

#include "config_internal.h"

Test(config_addr, accepted)
{
	const char *good[] = {"127.0.0.1:1",
			      "10.0.0.1:65535",
			      "[::1]:7101",
			      "[fe80::1:2]:80",
			      "db-1.example.com:5432",
			      "localhost:7",
			      "a:1",
			      "0.0.0.0:7101",
			      "[::]:7101",
			      "x1.y2:9"};
	char why[256];
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		cr_assert_eq(config_check_addr(good[i], why, sizeof(why)), 0, "%s: %s", good[i],
			     why);
}

Test(config_addr, refused)
{
	const char *bad[] = {
	    "",
	    "127.0.0.1",
	    "127.0.0.1:",
	    ":7101",
	    "1.2.3:5",
	    "1.2.3.4.5:5",
	    "256.1.1.1:5",
	    "[::1]7101",
	    "[::1:7101",
	    "[zz::1]:5",
	    "::1:7101",
	    "-a:1",
	    "a-:1",
	    "a..b:1",
	    "a_b:1",
	    ".a:1",
	    "a:+1",
	    "a:0",
	    "a:65536",
	    "a:1234567",
	    "a b:1",
	    "a:1 ",
	    "[127.0.0.1]:5",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:1"};
	char why[256];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		cr_assert_eq(config_check_addr(bad[i], why, sizeof(why)), -1, "'%s' accepted",
			     bad[i]);
		cr_assert_neq(why[0], '\0', "'%s' refused without a reason", bad[i]);
	}
}

Test(config_addr, lists)
{
	struct duet_config_addrs a;
	char why[256];
	cr_assert_eq(config_parse_addrs(" 10.0.0.1:1 ,10.0.0.2:2,  [::1]:3", &a, why, sizeof(why)),
		     0, "%s", why);
	cr_assert_eq(a.n, 3);
	cr_assert_str_eq(a.v[0], "10.0.0.1:1");
	cr_assert_str_eq(a.v[2], "[::1]:3");
	cr_assert_eq(config_parse_addrs("", &a, why, sizeof(why)), -1);
	cr_assert_eq(config_parse_addrs("10.0.0.1:1,,10.0.0.2:1", &a, why, sizeof(why)), -1);
	/* a well-formed host name is still refused in a list: nothing resolves it */
	cr_assert_eq(config_parse_addrs("10.0.0.1:1,node-b.example:1", &a, why, sizeof(why)), -1);
	cr_assert(strstr(why, "names a host") != NULL, "%s", why);
}

Test(config_addr, distance)
{
	cr_assert_eq(config_distance("lease_ms", "lease_ms"), 0);
	cr_assert_eq(config_distance("leas_ms", "lease_ms"), 1);
	cr_assert_eq(config_distance("LEASE_MS", "lease_ms"), 0);
	cr_assert_eq(config_distance("adress", "address"), 1);
	cr_assert_eq(config_distance("", "abc"), 3);
	cr_assert_eq(config_distance("completely", "different_key_x"), 9, "capped");
}
