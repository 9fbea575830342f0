/* SPDX-License-Identifier: MIT */
/*
 * test_render.c - identity content and JSON (traps_syslog.h): the exact
 * canonical layout; equal for copies of one event that differ only in
 * timestamp, format details or meta counters; different for different
 * events, including bytes shifted between fields; JSON escaping, nulls,
 * invalid UTF-8, and the size contract.
 */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "duet/traps_syslog.h"

struct ident {
	uint8_t b[1024];
	size_t len;
};

static struct ident identity_of(const char *text)
{
	struct duet_syslog_msg m;
	cr_assert_eq(duet_syslog_parse(text, strlen(text), &m), 0);
	struct ident id;
	long n = duet_syslog_identity(&m, id.b, sizeof id.b);
	cr_assert_gt(n, 0);
	cr_assert_eq((size_t)n, duet_syslog_identity_size(&m));
	id.len = (size_t)n;
	return id;
}

static int same(struct ident a, struct ident b)
{
	return a.len == b.len && memcmp(a.b, b.b, a.len) == 0;
}

Test(identity, exact_layout)
{
	struct ident id = identity_of("<165>1 2003-10-11T22:14:15.003Z h app 12 ID - m");
	static const uint8_t expect[] = {
	    DUET_SYSLOG_IDENTITY_VERSION,
	    20,
	    5,
	    1,
	    0,
	    0,
	    0,
	    'h', /* host */
	    3,
	    0,
	    0,
	    0,
	    'a',
	    'p',
	    'p', /* app */
	    2,
	    0,
	    0,
	    0,
	    '1',
	    '2', /* procid */
	    2,
	    0,
	    0,
	    0,
	    'I',
	    'D', /* msgid */
	    0,
	    0,
	    0,
	    0, /* sd */
	    1,
	    0,
	    0,
	    0,
	    'm', /* msg */
	};
	cr_assert_eq(id.len, sizeof expect);
	cr_assert_eq(memcmp(id.b, expect, sizeof expect), 0);
}

Test(identity, copies_differing_in_timestamp_are_equal)
{
	cr_assert(same(identity_of("<13>1 2003-10-11T22:14:15.003Z h a 1 M [x@1 k=\"v\"] m"),
		       identity_of("<13>1 2003-10-11T22:14:15.917Z h a 1 M [x@1 k=\"v\"] m")));
	cr_assert(same(identity_of("<13>1 2003-10-11T22:14:15.003Z h a 1 M - m"),
		       identity_of("<13>1 - h a 1 M - m")));
	cr_assert(same(identity_of("<13>Oct 11 22:14:15 h tag[1]: m"),
		       identity_of("<13>Oct 11 22:14:16 h tag[1]: m")));
	cr_assert(same(identity_of("<13>Oct 11 22:14:15 h tag[1]: m"),
		       identity_of("<13>2003-10-11T22:14:16Z h tag[1]: m")));
	/* the format is not content: one sender's 3164 and 5424 copies match */
	cr_assert(same(identity_of("<13>Oct 11 22:14:15 h tag[1]: m"),
		       identity_of("<13>1 2003-10-11T22:14:15Z h tag 1 - - m")));
	/* trailing terminators and the BOM are framing, not content */
	cr_assert(same(identity_of("<13>1 - h a - - - \xEF\xBB\xBFm"),
		       identity_of("<13>1 - h a - - - m\n")));
}

Test(identity, meta_counters_are_left_out)
{
	struct ident a = identity_of("<13>1 - h a - - [meta sequenceId=\"1\" sysUpTime=\"10\" "
				     "language=\"en\"][x@1 k=\"v\"] m");
	struct ident b = identity_of("<13>1 - h a - - [meta sequenceId=\"2\" sysUpTime=\"11\" "
				     "language=\"en\"][x@1 k=\"v\"] m");
	struct ident c = identity_of("<13>1 - h a - - [meta language=\"en\"][x@1 k=\"v\"] m");
	cr_assert(same(a, b));
	cr_assert(same(a, c));
	/* language is content; sequenceId outside meta is content */
	cr_assert(!same(a, identity_of("<13>1 - h a - - [meta language=\"de\"][x@1 k=\"v\"] m")));
	cr_assert(!same(identity_of("<13>1 - h a - - [x@1 sequenceId=\"1\"] m"),
			identity_of("<13>1 - h a - - [x@1 sequenceId=\"2\"] m")));
}

Test(identity, different_events_differ)
{
	static const char *events[] = {
	    "<13>1 - h a p M [x@1 k=\"v\"] m", "<14>1 - h a p M [x@1 k=\"v\"] m",
	    "<21>1 - h a p M [x@1 k=\"v\"] m", "<13>1 - H a p M [x@1 k=\"v\"] m",
	    "<13>1 - h A p M [x@1 k=\"v\"] m", "<13>1 - h a P M [x@1 k=\"v\"] m",
	    "<13>1 - h a p m [x@1 k=\"v\"] m", "<13>1 - h a p M [x@1 k=\"w\"] m",
	    "<13>1 - h a p M [x@1 k=\"v\"] n", "<13>1 - h a p M - m",
	    "<13>1 - h a p M [x@1 k=\"v\"]",   "<13>1 - - a p M [x@1 k=\"v\"] m",
	    "<13>1 - ha - M [x@1 k=\"v\"] m",  "<13>1 - h ap - M [x@1 k=\"v\"] m",
	    "<13>Oct 11 22:14:15 h a[p]: m",   "<13>Oct 11 22:14:15 h a: m",
	    "<13>Oct 11 22:14:15 a[p]: m",
	};
	size_t n = sizeof events / sizeof events[0];
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			cr_assert(!same(identity_of(events[i]), identity_of(events[j])),
				  "\"%s\" and \"%s\" collide", events[i], events[j]);
}

Test(identity, shifted_bytes_differ)
{
	struct duet_syslog_msg a = {.facility = 1, .severity = 5};
	struct duet_syslog_msg b = a;
	a.hostname = (struct duet_syslog_span){"ab", 2};
	a.app_name = (struct duet_syslog_span){"c", 1};
	b.hostname = (struct duet_syslog_span){"a", 1};
	b.app_name = (struct duet_syslog_span){"bc", 2};
	uint8_t x[64], y[64];
	long nx = duet_syslog_identity(&a, x, sizeof x);
	long ny = duet_syslog_identity(&b, y, sizeof y);
	cr_assert_eq(nx, ny);
	cr_assert_neq(memcmp(x, y, (size_t)nx), 0);
}

Test(identity, short_buffer)
{
	struct duet_syslog_msg m;
	cr_assert_eq(duet_syslog_parse("<13>t: hello", 12, &m), 0);
	size_t need = duet_syslog_identity_size(&m);
	uint8_t buf[64];
	cr_assert_eq(duet_syslog_identity(&m, buf, need - 1), DUET_ETOOBIG);
	cr_assert_eq(duet_syslog_identity(&m, buf, need), (long)need);
}

Test(identity, caller_built_bad_sd_taken_raw)
{
	struct duet_syslog_msg m = {.facility = 1, .severity = 5};
	m.sd = (struct duet_syslog_span){"[meta sequenceId=\"1\"", 20};
	uint8_t buf[64];
	long n = duet_syslog_identity(&m, buf, sizeof buf);
	cr_assert_eq(n, (long)(3 + 6 * 4 + 20));
}

/* ---- JSON ----------------------------------------------------------------- */

static char *json_of(const char *text, size_t len)
{
	struct duet_syslog_msg m;
	cr_assert_eq(duet_syslog_parse(text, len, &m), 0);
	long need = duet_syslog_json(&m, NULL, 0);
	cr_assert_gt(need, 0);
	char *buf = malloc((size_t)need + 1);
	cr_assert_eq(duet_syslog_json(&m, buf, (size_t)need + 1), need);
	cr_assert_eq(strlen(buf), (size_t)need);
	/* one byte short: refused, and an empty string left behind */
	char *small = malloc((size_t)need);
	cr_assert_eq(duet_syslog_json(&m, small, (size_t)need), DUET_ETOOBIG);
	cr_assert_eq(small[0], '\0');
	free(small);
	return buf;
}

static void assert_json(const char *text, size_t len, const char *expect)
{
	char *got = json_of(text, len);
	cr_assert_str_eq(got, expect);
	free(got);
}

Test(json, rfc5424_example)
{
	static const char in[] =
	    "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
	    "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\"] \xEF\xBB\xBF"
	    "An application event log entry...";
	assert_json(in, sizeof in - 1,
		    "{\"kind\":\"syslog\",\"facility\":20,\"severity\":5,"
		    "\"timestamp\":\"2003-10-11T22:14:15.003Z\",\"host\":\"mymachine.example.com\","
		    "\"app\":\"evntslog\",\"procid\":null,\"msgid\":\"ID47\","
		    "\"sd\":\"[exampleSDID@32473 iut=\\\"3\\\" eventSource=\\\"Application\\\"]\","
		    "\"msg\":\"An application event log entry...\"}");
}

Test(json, rfc3164_example_and_empty_msg)
{
	static const char in[] = "<34>Oct 11 22:14:15 mymachine su[7]: 'su root' failed";
	assert_json(in, sizeof in - 1,
		    "{\"kind\":\"syslog\",\"facility\":4,\"severity\":2,"
		    "\"timestamp\":\"Oct 11 22:14:15\",\"host\":\"mymachine\",\"app\":\"su\","
		    "\"procid\":\"7\",\"msgid\":null,\"sd\":null,\"msg\":\"'su root' failed\"}");
	assert_json("<0>1 - - - - - -", 16,
		    "{\"kind\":\"syslog\",\"facility\":0,\"severity\":0,\"timestamp\":null,"
		    "\"host\":null,\"app\":null,\"procid\":null,\"msgid\":null,\"sd\":null,"
		    "\"msg\":\"\"}");
}

Test(json, escapes)
{
	static const char in[] = "<13>t: q\" b\\ \n\r\t\b\f \x01\x1f\x7f /\0end";
	char *got = json_of(in, sizeof in - 1);
	cr_assert_not_null(strstr(got,
				  "\"msg\":\"q\\\" b\\\\ \\n\\r\\t\\b\\f \\u0001\\u001f\\u007f "
				  "/\\u0000end\"}"),
			   "%s", got);
	free(got);
}

Test(json, utf8_kept_invalid_replaced)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"w\xc3\xb6rld \xe2\x82\xac \xf0\x9f\x98\x80",
	     "w\xc3\xb6rld \xe2\x82\xac \xf0\x9f\x98\x80"},
	    {"a\xff"
	     "b",
	     "a\\ufffdb"},
	    {"\xc3", "\\ufffd"},                                  /* cut short at the end */
	    {"\xc0\xaf", "\\ufffd\\ufffd"},                       /* overlong: C0 never starts */
	    {"\xe0\x80\xaf", "\\ufffd\\ufffd\\ufffd"},            /* overlong 3-byte */
	    {"\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd"},            /* surrogate */
	    {"\xf4\x90\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd"}, /* over U+10FFFF */
	    {"\xf0\x9f\x98"
	     "x",
	     "\\ufffdx"}, /* maximal subpart: one U+FFFD */
	    {"\xe2\x82"
	     "\xe2\x82\xac",
	     "\\ufffd\xe2\x82\xac"},
	    {"\xf5\x80", "\\ufffd\\ufffd"},
	};
	for (unsigned k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		char in[64], expect[128];
		int n = snprintf(in, sizeof in, "<13>t: %s", cases[k].in);
		snprintf(expect, sizeof expect, "\"msg\":\"%s\"}", cases[k].out);
		char *got = json_of(in, (size_t)n);
		cr_assert_not_null(strstr(got, expect), "case %u: %s", k, got);
		free(got);
	}
}

Test(json, invalid_utf8_in_every_string_field)
{
	static const char in[] = "<13>1 \xff h\xfe a\xfd p\xfc i\xfb [x@1 k=\"\xfa\"] m\xf9";
	char *got = json_of(in, sizeof in - 1);
	cr_assert_str_eq(got,
			 "{\"kind\":\"syslog\",\"facility\":1,\"severity\":5,"
			 "\"timestamp\":\"\\ufffd\",\"host\":\"h\\ufffd\",\"app\":\"a\\ufffd\","
			 "\"procid\":\"p\\ufffd\",\"msgid\":\"i\\ufffd\","
			 "\"sd\":\"[x@1 k=\\\"\\ufffd\\\"]\",\"msg\":\"m\\ufffd\"}");
	free(got);
}

Test(json, tiny_buffers)
{
	struct duet_syslog_msg m;
	cr_assert_eq(duet_syslog_parse("<13>x", 5, &m), 0);
	char buf[4] = "zzz";
	cr_assert_eq(duet_syslog_json(&m, buf, 1), DUET_ETOOBIG);
	cr_assert_eq(buf[0], '\0');
	cr_assert_eq(duet_syslog_json(&m, buf, 0), DUET_ETOOBIG);
}
