/* SPDX-License-Identifier: MIT */
/*
 * test_format.c - one trap as one JSON line (duet_sink_format, the same
 * code that fills the queue): the exact layout, escaping of the strings we
 * write (quotes, backslashes, control bytes, invalid UTF-8), raw CR/LF in
 * the payload, refused records, snprintf semantics, and table names.
 */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "duet/err.h"
#include "duet/traps_sink.h"

static struct duet_trap trap_with(const char *payload, uint8_t kind)
{
	struct duet_trap t;
	memset(&t, 0, sizeof t);
	for (int i = 0; i < 32; i++)
		t.identity[i] = (uint8_t)i;
	t.ordinal = 2;
	t.recv_ms = 1234;
	t.receiver = 2;
	t.kind = kind;
	snprintf(t.sender, sizeof t.sender, "10.0.0.7");
	t.payload = (const uint8_t *)payload;
	t.len = (uint32_t)strlen(payload);
	return t;
}

static const char *format(const struct duet_sink_record *r)
{
	static char buf[4096];
	long n = duet_sink_format(r, buf, sizeof buf);
	cr_assert_geq(n, 0, "format refused the record: %ld", n);
	cr_assert_eq((size_t)n, strlen(buf));
	cr_assert_eq(buf[n - 1], '\n', "a record ends its line");
	cr_assert_null(memchr(buf, '\n', (size_t)n - 1), "one record, one line: %s", buf);
	return buf;
}

Test(sink_format, exact_layout)
{
	struct duet_trap t = trap_with("{\"oid\":\"1.3.6\"}", DUET_TRAP_SNMP);
	struct duet_sink_record r = {.id = "a-1", .trap = &t, .receiver = "node-b"};
	cr_assert_str_eq(format(&r),
			 "{\"id\":\"a-1\",\"kind\":\"snmp\",\"sender\":\"10.0.0.7\","
			 "\"receiver\":\"node-b\",\"recv_ms\":1234,\"ordinal\":2,\"identity\":"
			 "\"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\","
			 "\"trap\":{\"oid\":\"1.3.6\"}}\n");
	t.kind = DUET_TRAP_SYSLOG;
	cr_assert_not_null(strstr(format(&r), "\"kind\":\"syslog\""));
	t.kind = DUET_TRAP_CUSTOM;
	cr_assert_not_null(strstr(format(&r), "\"kind\":\"custom\""));
}

Test(sink_format, escapes_strings)
{
	struct duet_trap t = trap_with("{}", DUET_TRAP_SYSLOG);
	snprintf(t.sender, sizeof t.sender,
		 "a\"b\\c\nd\te\x01"
		 "f\x7f\r\b\f");
	struct duet_sink_record r = {.id = "q\"1\\", .trap = &t, .receiver = "n\"x\""};
	const char *line = format(&r);
	cr_assert_not_null(strstr(line, "\"id\":\"q\\\"1\\\\\","), "%s", line);
	cr_assert_not_null(
	    strstr(line, "\"sender\":\"a\\\"b\\\\c\\nd\\te\\u0001f\\u007f\\r\\b\\f\","), "%s",
	    line);
	cr_assert_not_null(strstr(line, "\"receiver\":\"n\\\"x\\\"\","), "%s", line);
}

Test(sink_format, invalid_utf8_becomes_replacement_characters)
{
	struct duet_trap t = trap_with("{}", DUET_TRAP_SYSLOG);
	/* valid 2- and 4-byte sequences stay; a stray byte, an overlong "/", a
	 * surrogate and a cut sequence do not */
	snprintf(t.sender, sizeof t.sender,
		 "n\xc3\xb6|\xf0\x9f\x98\x80|x\xffy|\xc0\xaf|\xed\xa0\x80|\xe2\x82");
	struct duet_sink_record r = {.id = "u", .trap = &t, .receiver = "r"};
	const char *line = format(&r);
	cr_assert_not_null(strstr(line, "\"sender\":\"n\xc3\xb6|\xf0\x9f\x98\x80|x\\ufffdy|"
					"\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd|\\ufffd\\ufffd\","),
			   "%s", line);
}

Test(sink_format, payload_verbatim_but_raw_newlines)
{
	struct duet_trap t = trap_with("{\"a\":\r\n1,\n\"b\":\"x\\ny\\\"\"}", DUET_TRAP_CUSTOM);
	struct duet_sink_record r = {.id = "p", .trap = &t, .receiver = "r"};
	const char *line = format(&r);
	cr_assert_not_null(strstr(line, ",\"trap\":{\"a\":  1, \"b\":\"x\\ny\\\"\"}}\n"), "%s",
			   line);
}

Test(sink_format, refuses_bad_records)
{
	struct duet_trap t = trap_with("{}", DUET_TRAP_SYSLOG);
	struct duet_sink_record r = {.id = "ok", .trap = &t, .receiver = "r"};
	char buf[1024];
	cr_assert_gt(duet_sink_format(&r, buf, sizeof buf), 0);
	cr_assert_eq(duet_sink_format(NULL, buf, sizeof buf), DUET_EINVAL);

	struct duet_sink_record bad = r;
	bad.trap = NULL;
	cr_assert_eq(duet_sink_format(&bad, buf, sizeof buf), DUET_EINVAL, "no trap");
	bad = r;
	bad.receiver = NULL;
	cr_assert_eq(duet_sink_format(&bad, buf, sizeof buf), DUET_EINVAL, "no receiver");
	bad = r;
	bad.id[0] = 0;
	cr_assert_eq(duet_sink_format(&bad, buf, sizeof buf), DUET_EINVAL, "empty id");
	bad = r;
	memset(bad.id, 'x', sizeof bad.id);
	cr_assert_eq(duet_sink_format(&bad, buf, sizeof buf), DUET_EINVAL, "unterminated id");

	struct duet_trap tb = t;
	bad = r;
	bad.trap = &tb;
	tb.kind = 0;
	cr_assert_eq(duet_sink_format(&bad, buf, sizeof buf), DUET_EINVAL, "kind 0");
	tb.kind = 4;
	cr_assert_eq(duet_sink_format(&bad, buf, sizeof buf), DUET_EINVAL, "kind 4");
	tb = t;
	tb.len = 0;
	cr_assert_eq(duet_sink_format(&bad, buf, sizeof buf), DUET_EINVAL, "empty payload");
	tb = t;
	tb.payload = NULL;
	cr_assert_eq(duet_sink_format(&bad, buf, sizeof buf), DUET_EINVAL, "no payload");
	tb = t;
	memset(tb.sender, 'x', sizeof tb.sender);
	cr_assert_eq(duet_sink_format(&bad, buf, sizeof buf), DUET_EINVAL, "unterminated sender");
}

Test(sink_format, snprintf_semantics)
{
	struct duet_trap t = trap_with("{\"k\":1}", DUET_TRAP_SYSLOG);
	struct duet_sink_record r = {.id = "s", .trap = &t, .receiver = "r"};
	long need = duet_sink_format(&r, NULL, 0);
	cr_assert_gt(need, 100);
	char buf[512];
	memset(buf, '#', sizeof buf);
	cr_assert_eq(duet_sink_format(&r, buf, (size_t)need), need, "one byte short of the NUL");
	cr_assert_str_eq(buf, "", "no cut record");
	cr_assert_eq(duet_sink_format(&r, buf, (size_t)need + 1), need);
	cr_assert_eq(strlen(buf), (size_t)need);
}

Test(sink_format, table_names)
{
	const char *good[] = {"duet_traps", "_x", "a", "traps2024", "a_b_c_0"};
	for (size_t i = 0; i < sizeof good / sizeof *good; i++)
		cr_assert_eq(duet_sink_check_table(good[i]), 0, "%s", good[i]);
	char longest[DUET_SINK_TABLE_MAX + 2];
	memset(longest, 'a', DUET_SINK_TABLE_MAX);
	longest[DUET_SINK_TABLE_MAX] = 0;
	cr_assert_eq(duet_sink_check_table(longest), 0, "63 bytes");
	longest[DUET_SINK_TABLE_MAX] = 'a';
	longest[DUET_SINK_TABLE_MAX + 1] = 0;
	cr_assert_eq(duet_sink_check_table(longest), DUET_EINVAL, "64 bytes");
	const char *bad[] = {"",       "Traps", "1traps",       "tr-aps", "t.x",
			     "t;drop", "t\"x",  "public.traps", "tr aps", "tr\xc3\xa4ps"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		cr_assert_eq(duet_sink_check_table(bad[i]), DUET_EINVAL, "'%s'", bad[i]);
	cr_assert_eq(duet_sink_check_table(NULL), DUET_EINVAL);
}
