/* SPDX-License-Identifier: MIT */
/*
 * test_custom.c - custom-trap validation and canonical form
 * (traps_custom.h): what is accepted, the canonical bytes exactly, that
 * equivalent bodies share them, every refusal reason, and idempotence.
 */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "duet/err.h"
#include "duet/traps_custom.h"

static struct trap_custom_result res;

static void fini(void)
{
	trap_custom_result_free(&res);
}

TestSuite(custom, .fini = fini);

static int parse(const char *body)
{
	trap_custom_result_free(&res);
	return trap_custom_parse(body, strlen(body), NULL, &res);
}

/* The canonical bytes of body, which must be accepted (static buffer). */
static const char *canon(const char *body)
{
	static char buf[4][4096];
	static int slot;
	int rc = parse(body);
	cr_assert_eq(rc, 0, "refused %s: %s (%s)", body, trap_custom_reason_name(res.reason),
		     res.detail);
	char *b = buf[slot++ % 4];
	cr_assert_lt(res.canonical_len, sizeof buf[0]);
	memcpy(b, res.canonical, res.canonical_len + 1);
	cr_assert_eq(strlen(b), res.canonical_len);
	return b;
}

Test(custom, accepts_a_trap_and_writes_canonical_bytes)
{
	const char *body = "{ \"FacilityID\" : \"fac-1\",\n \"DATA\" : [\n"
			   "  {\"TYPE\": \"NUM\", \"MSG\": 42, \"KEY\": \"cpu\", \"DATE\": "
			   "\"2024-05-01T10:00:00Z\"},\n"
			   "  {\"DATE\": \"2024-05-01T10:00:01Z\", \"TYPE\": \"STRING\", \"KEY\": "
			   "\"state\", \"MSG\": \"down\"}\n ]\n}\n";
	const char *c = canon(body);
	cr_assert_str_eq(c, "{\"DATA\":[{\"DATE\":\"2024-05-01T10:00:00Z\",\"KEY\":\"cpu\","
			    "\"MSG\":42,\"TYPE\":\"NUM\"},{\"DATE\":\"2024-05-01T10:00:01Z\","
			    "\"KEY\":\"state\",\"MSG\":\"down\",\"TYPE\":\"STRING\"}],"
			    "\"FacilityID\":\"fac-1\"}");
	cr_assert_eq(res.n_items, 2);
	char want[4200];
	snprintf(want, sizeof want, "{\"kind\":\"custom\",\"trap\":%s}", c);
	cr_assert_str_eq(res.json, want);
	cr_assert_eq(res.json_len, strlen(want));
}

Test(custom, key_order_whitespace_and_escapes_do_not_change_canonical_bytes)
{
	const char *a = canon("{\"FacilityID\":7,\"DATA\":[{\"DATE\":\"d\",\"TYPE\":\"STRING\","
			      "\"KEY\":\"k\",\"MSG\":\"caf\\u00e9 \\/ x\"}]}");
	const char *b = canon("\n\t{ \"DATA\" : [ { \"MSG\" : \"caf\xc3\xa9 / x\" , \"KEY\":\"k\","
			      " \"TYPE\":\"STRING\",\"DATE\":\"d\" } ] , \"FacilityID\" : 7.0 }  ");
	cr_assert_str_eq(a, b);
	cr_assert_str_eq(a, "{\"DATA\":[{\"DATE\":\"d\",\"KEY\":\"k\",\"MSG\":\"caf\xc3\xa9 / "
			    "x\",\"TYPE\":\"STRING\"}],\"FacilityID\":7}");
}

static const char *num(const char *literal)
{
	static char body[256], out[256];
	snprintf(body, sizeof body,
		 "{\"FacilityID\":\"f\",\"DATA\":[{\"DATE\":\"d\",\"TYPE\":\"NUM\",\"KEY\":\"k\","
		 "\"MSG\":%s}]}",
		 literal);
	const char *c = canon(body);
	const char *p = strstr(c, "\"MSG\":");
	cr_assert_not_null(p);
	p += 6;
	const char *end = strchr(p, ',');
	snprintf(out, sizeof out, "%.*s", (int)(end - p), p);
	return out;
}

Test(custom, numbers_have_one_canonical_form)
{
	cr_assert_str_eq(num("1"), "1");
	cr_assert_str_eq(num("1.0"), "1");
	cr_assert_str_eq(num("1e0"), "1");
	cr_assert_str_eq(num("10E-1"), "1");
	cr_assert_str_eq(num("-0"), "0");
	cr_assert_str_eq(num("-0.0"), "0");
	cr_assert_str_eq(num("100.000"), "100");
	cr_assert_str_eq(num("0.5"), "0.5");
	cr_assert_str_eq(num("5e-1"), "0.5");
	cr_assert_str_eq(num("0.50"), "0.5");
	cr_assert_str_eq(num("0.1"), "0.1");
	cr_assert_str_eq(num("-2.25"), "-2.25");
	cr_assert_str_eq(num("1e20"), "1e20");
	cr_assert_str_eq(num("1.5e300"), "1.5e300");
	cr_assert_str_eq(num("9007199254740993"), "9007199254740993");
	cr_assert_str_eq(num("9007199254740993.0"), "9007199254740992");
	cr_assert_str_eq(num("-9223372036854775808"), "-9223372036854775808");
}

Test(custom, precision_is_shared_by_the_reals_of_one_body)
{
	const char *c = canon("{\"FacilityID\":0.1,\"DATA\":[{\"DATE\":\"d\",\"TYPE\":\"NUM\","
			      "\"KEY\":\"k\",\"MSG\":0.123456789}]}");
	cr_assert_str_eq(c, "{\"DATA\":[{\"DATE\":\"d\",\"KEY\":\"k\",\"MSG\":0.123456789,"
			    "\"TYPE\":\"NUM\"}],\"FacilityID\":0.1}");
}

Test(custom, canonical_bytes_validate_to_themselves)
{
	const char *bodies[] = {
	    "{\"FacilityID\":1e-7,\"DATA\":[{\"DATE\":\"d\",\"TYPE\":\"NUM\",\"KEY\":\"k\","
	    "\"MSG\":3.141592653589793}]}",
	    "{\"FacilityID\":\"x\\n\\u0001\\\"\",\"DATA\":[{\"DATE\":\"\\t\",\"TYPE\":\"STRING\","
	    "\"KEY\":\"\\\\\",\"MSG\":\"\"}]}",
	    "{\"FacilityID\":-1e300,\"DATA\":[{\"DATE\":\"d\",\"TYPE\":\"NUM\",\"KEY\":\"k\","
	    "\"MSG\":4.9e-324}]}",
	};
	for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
		char first[4096];
		snprintf(first, sizeof first, "%s", canon(bodies[i]));
		cr_assert_str_eq(canon(first), first, "body %zu", i);
	}
}

struct refusal {
	const char *body;
	enum trap_custom_reason reason;
};

#define ITEM "{\"DATE\":\"d\",\"TYPE\":\"NUM\",\"KEY\":\"k\",\"MSG\":1}"

Test(custom, every_refusal_has_its_reason)
{
	static const struct refusal cases[] = {
	    {"", TRAP_CUSTOM_NOT_JSON},
	    {"{\"FacilityID\":1,\"DATA\":[" ITEM "]", TRAP_CUSTOM_NOT_JSON},
	    {"{\"FacilityID\":1,\"DATA\":[" ITEM "]} x", TRAP_CUSTOM_NOT_JSON},
	    {"{\"FacilityID\":\"\xff\",\"DATA\":[" ITEM "]}", TRAP_CUSTOM_NOT_JSON},
	    {"{\"FacilityID\":\"a\\u0000\",\"DATA\":[" ITEM "]}", TRAP_CUSTOM_NOT_JSON},
	    {"{\"FacilityID\":NaN,\"DATA\":[" ITEM "]}", TRAP_CUSTOM_NOT_JSON},
	    {"[[[[[[[[[1]]]]]]]]]", TRAP_CUSTOM_TOO_DEEP},
	    {"{\"FacilityID\":1e400,\"DATA\":[" ITEM "]}", TRAP_CUSTOM_NUMBER_RANGE},
	    {"{\"FacilityID\":99999999999999999999,\"DATA\":[" ITEM "]}", TRAP_CUSTOM_NUMBER_RANGE},
	    {"{\"FacilityID\":1,\"FacilityID\":2,\"DATA\":[" ITEM "]}", TRAP_CUSTOM_DUPLICATE_KEY},
	    {"[1,2]", TRAP_CUSTOM_NOT_OBJECT},
	    {"\"trap\"", TRAP_CUSTOM_NOT_OBJECT},
	    {"{\"FacilityID\":1,\"DATA\":[" ITEM "],\"Extra\":1}", TRAP_CUSTOM_UNKNOWN_KEY},
	    {"{\"facilityid\":1,\"DATA\":[" ITEM "]}", TRAP_CUSTOM_UNKNOWN_KEY},
	    {"{\"DATA\":[" ITEM "]}", TRAP_CUSTOM_FACILITY_MISSING},
	    {"{\"FacilityID\":true,\"DATA\":[" ITEM "]}", TRAP_CUSTOM_FACILITY_TYPE},
	    {"{\"FacilityID\":null,\"DATA\":[" ITEM "]}", TRAP_CUSTOM_FACILITY_TYPE},
	    {"{\"FacilityID\":\"\",\"DATA\":[" ITEM "]}", TRAP_CUSTOM_EMPTY_STRING},
	    {"{\"FacilityID\":1}", TRAP_CUSTOM_DATA_MISSING},
	    {"{\"FacilityID\":1,\"DATA\":" ITEM "}", TRAP_CUSTOM_DATA_NOT_LIST},
	    {"{\"FacilityID\":1,\"DATA\":[]}", TRAP_CUSTOM_DATA_EMPTY},
	    {"{\"FacilityID\":1,\"DATA\":[1]}", TRAP_CUSTOM_ITEM_NOT_OBJECT},
	    {"{\"FacilityID\":1,\"DATA\":[{\"DATE\":\"d\",\"TYPE\":\"NUM\",\"KEY\":\"k\"}]}",
	     TRAP_CUSTOM_ITEM_MISSING_FIELD},
	    {"{\"FacilityID\":1,\"DATA\":[{\"DATE\":\"d\",\"TYPE\":\"NUM\",\"KEY\":\"k\",\"MSG\":1,"
	     "\"msg\":2}]}",
	     TRAP_CUSTOM_UNKNOWN_KEY},
	    {"{\"FacilityID\":1,\"DATA\":[{\"DATE\":1,\"TYPE\":\"NUM\",\"KEY\":\"k\",\"MSG\":1}]}",
	     TRAP_CUSTOM_ITEM_FIELD_TYPE},
	    {"{\"FacilityID\":1,\"DATA\":[{\"DATE\":\"d\",\"TYPE\":\"NUM\",\"KEY\":\"\",\"MSG\":1}]"
	     "}",
	     TRAP_CUSTOM_EMPTY_STRING},
	    {"{\"FacilityID\":1,\"DATA\":[{\"DATE\":\"d\",\"TYPE\":\"num\",\"KEY\":\"k\",\"MSG\":1}"
	     "]}",
	     TRAP_CUSTOM_BAD_TYPE},
	    {"{\"FacilityID\":1,\"DATA\":[{\"DATE\":\"d\",\"TYPE\":\"NUM\",\"KEY\":\"k\",\"MSG\":"
	     "\"1\"}]}",
	     TRAP_CUSTOM_MSG_TYPE},
	    {"{\"FacilityID\":1,\"DATA\":[{\"DATE\":\"d\",\"TYPE\":\"STRING\",\"KEY\":\"k\","
	     "\"MSG\":"
	     "1}]}",
	     TRAP_CUSTOM_MSG_TYPE},
	    {"{\"FacilityID\":1,\"DATA\":[{\"DATE\":\"d\",\"TYPE\":\"STRING\",\"KEY\":\"k\","
	     "\"MSG\":"
	     "[\"x\"]}]}",
	     TRAP_CUSTOM_MSG_TYPE},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int rc = parse(cases[i].body);
		cr_expect_eq(rc, DUET_EINVAL, "case %zu (%s) accepted", i, cases[i].body);
		cr_expect_eq(res.reason, cases[i].reason, "case %zu (%s): %s, wanted %s (%s)", i,
			     cases[i].body, trap_custom_reason_name(res.reason),
			     trap_custom_reason_name(cases[i].reason), res.detail);
		cr_expect_neq(res.detail[0], 0, "case %zu has no detail", i);
		cr_expect_null(res.canonical);
		cr_expect_null(res.json);
	}
}

Test(custom, details_say_where)
{
	parse("{\"FacilityID\":1,\"DATA\":[" ITEM ",{\"DATE\":\"d\",\"TYPE\":\"NUM\",\"KEY\":\"k\","
	      "\"MSG\":\"x\"}]}");
	cr_assert_eq(res.reason, TRAP_CUSTOM_MSG_TYPE);
	cr_assert_str_eq(res.detail, "DATA[1].MSG must be a number: TYPE is NUM");
	cr_assert_str_eq(trap_custom_reason_name(res.reason), "msg_mismatches_type");
}

Test(custom, limits_on_items_strings_and_depth)
{
	struct trap_custom_limits lim = {.max_items = 2, .max_depth = 3, .max_string_bytes = 4};
	const char *three = "{\"FacilityID\":1,\"DATA\":[" ITEM "," ITEM "," ITEM "]}";
	cr_assert_eq(trap_custom_parse(three, strlen(three), &lim, &res), DUET_EINVAL);
	cr_assert_eq(res.reason, TRAP_CUSTOM_TOO_MANY_ITEMS);
	const char *two = "{\"FacilityID\":1,\"DATA\":[" ITEM "," ITEM "]}";
	cr_assert_eq(trap_custom_parse(two, strlen(two), &lim, &res), 0);
	trap_custom_result_free(&res);
	const char *longer = "{\"FacilityID\":\"12345\",\"DATA\":[" ITEM "]}";
	cr_assert_eq(trap_custom_parse(longer, strlen(longer), &lim, &res), DUET_EINVAL);
	cr_assert_eq(res.reason, TRAP_CUSTOM_STRING_TOO_LONG);
	const char *deep = "{\"FacilityID\":1,\"DATA\":[{\"DATE\":\"d\",\"TYPE\":\"STRING\","
			   "\"KEY\":\"k\",\"MSG\":{\"a\":1}}]}";
	cr_assert_eq(trap_custom_parse(deep, strlen(deep), &lim, &res), DUET_EINVAL);
	cr_assert_eq(res.reason, TRAP_CUSTOM_TOO_DEEP);
	/* brackets inside strings are not nesting */
	const char *quoted = "{\"FacilityID\":\"[[[[\",\"DATA\":[" ITEM "]}";
	cr_assert_eq(trap_custom_parse(quoted, strlen(quoted), &lim, &res), 0);
}

Test(custom, reason_names_are_distinct)
{
	for (int i = 0; i < TRAP_CUSTOM_N_REASONS; i++)
		for (int j = i + 1; j < TRAP_CUSTOM_N_REASONS; j++)
			cr_assert_str_neq(trap_custom_reason_name(i), trap_custom_reason_name(j));
	cr_assert_str_eq(trap_custom_reason_name(TRAP_CUSTOM_N_REASONS), "unknown");
}
