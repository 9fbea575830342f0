/* SPDX-License-Identifier: MIT */
/*
 * test_describe.c - entries for people and tools: the one-line text of each
 * type, undecodable payloads described as such, terminal-unsafe text made
 * safe; JSON escaping (quotes, backslashes, control characters, bytes that
 * are not UTF-8) and snprintf-style truncation.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "fixture.h"

TestSuite(describe, .init = fx_setup, .fini = fx_teardown);

static const char *describe(size_t i)
{
	static char buf[1024];
	int n = fsm_describe_entry(&fx->entries[i], buf, sizeof(buf));
	cr_assert_gt(n, 0);
	cr_assert_eq((size_t)n, strlen(buf));
	return buf;
}

static const char *json(size_t i)
{
	static char buf[2048];
	int n = fsm_entry_json(&fx->entries[i], buf, sizeof(buf));
	cr_assert_gt(n, 0);
	cr_assert_eq((size_t)n, strlen(buf));
	return buf;
}

Test(describe, each_type)
{
	fx_cluster_up();
	fx_master(2, 1, DUET_MASTER_FAILOVER);
	fx_health(1, "pg", DUET_HEALTH_FAILING, true);
	fx_operator(DUET_OP_SWITCHOVER, 1, 2);
	fx_step(DUET_STEP_PROMOTE, 2, false);
	fx_noop();
	fx_traps(2);
	cr_assert_str_eq(describe(3), "MASTER node 2 (failover, previous 1): test master 2");
	cr_assert_str_eq(describe(2), "SYNC node 2 on");
	cr_assert_str_eq(describe(4), "HEALTH node 1 pg failing (critical)");
	cr_assert_str_eq(describe(5),
			 "OPERATOR switchover on node 1, target 2, by alice: planned work");
	cr_assert_str_eq(describe(6), "STEP promote on node 2 FAILED (42 ms)");
	cr_assert_str_eq(describe(8), "TRAPS 2 traps");
	cr_assert_not_null(strstr(describe(0), "MEMBERSHIP 3 members: 1 node1 (data, "
					       "incarnation 10, 10.0.0.1:7000)"),
			   "%s", describe(0));
	cr_assert_not_null(strstr(describe(7), "NOOP"));
}

Test(describe, undecodable)
{
	uint8_t junk[2] = {1, 2};
	fx_raw(RAFT_ENTRY_MASTER, junk, sizeof(junk));
	cr_assert_not_null(strstr(describe(0), "MASTER (payload of 2 bytes does not decode"), "%s",
			   describe(0));
	cr_assert_not_null(strstr(json(0), "\"payload_error\":"), "%s", json(0));
	cr_assert_not_null(strstr(json(0), "\"len\":2"), "%s", json(0));
}

Test(describe, hostile_text)
{
	struct duet_master m = {.node = 1, .reason = DUET_MASTER_FIRST_START};
	snprintf(m.detail, sizeof(m.detail), "a\"b\\c\nd\x1b[2J\xff\xc3\xa9");
	uint8_t buf[1024];
	long len = duet_master_encode(&m, buf, sizeof(buf));
	cr_assert_gt(len, 0);
	fx_raw(RAFT_ENTRY_MASTER, buf, (uint32_t)len);
	cr_assert_str_eq(describe(0),
			 "MASTER node 1 (first start, previous 0): a\"b\\c\\x0ad\\x1b[2J?\xc3\xa9");
	cr_assert_not_null(
	    strstr(json(0), "\"detail\":\"a\\\"b\\\\c\\nd\\u001b[2J\\ufffd\xc3\xa9\""), "%s",
	    json(0));
}

Test(describe, json_envelope)
{
	fx_cluster_up();
	char want[256];
	snprintf(want, sizeof(want),
		 "{\"index\":3,\"term\":1,\"wall_ms\":%llu,\"author\":1,\"type\":\"SYNC\","
		 "\"payload\":{\"node\":2,\"on\":true,\"detail\":\"\"}}",
		 (unsigned long long)fx->entries[2].wall_ms);
	cr_assert_str_eq(json(2), want);
	cr_assert_not_null(strstr(json(0),
				  "\"members\":[{\"id\":1,\"name\":\"node1\",\"kind\":"
				  "\"data\",\"incarnation\":10,\"addrs\":[\"10.0.0.1:7000\"]}"),
			   "%s", json(0));
}

Test(describe, truncation_like_snprintf)
{
	fx_cluster_up();
	char full[1024], small[10];
	int n = fsm_entry_json(&fx->entries[1], full, sizeof(full));
	int m = fsm_entry_json(&fx->entries[1], small, sizeof(small));
	cr_assert_eq(n, m);
	cr_assert_eq(strlen(small), sizeof(small) - 1);
	cr_assert_eq(strncmp(full, small, sizeof(small) - 1), 0);
	cr_assert_eq(fsm_entry_json(&fx->entries[1], NULL, 0), n);
	cr_assert_eq(fsm_describe_entry(&fx->entries[1], NULL, 0),
		     fsm_describe_entry(&fx->entries[1], full, sizeof(full)));
}

Test(describe, delivered_names_the_sink)
{
	const uint8_t sinks[] = {0, DUET_SINK_TCP, DUET_SINK_POSTGRESQL, DUET_SINK_RELP};
	const char *names[] = {"none", "tcp", "postgresql", "relp"};
	for (size_t i = 0; i < sizeof sinks; i++) {
		struct duet_delivered d = {.up_to_index = 7, .sink = sinks[i]};
		uint8_t buf[64];
		long len = duet_delivered_encode(&d, buf, sizeof buf);
		cr_assert_gt(len, 0);
		fx_raw(RAFT_ENTRY_DELIVERED, buf, (uint32_t)len);
		char want[64];
		snprintf(want, sizeof want, "DELIVERED up to index 7 (%s)", names[i]);
		cr_assert_str_eq(describe(i), want);
		snprintf(want, sizeof want, "\"sink\":\"%s\"", names[i]);
		cr_assert_not_null(strstr(json(i), want), "%s", json(i));
	}
}
