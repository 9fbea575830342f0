/* SPDX-License-Identifier: MIT */
/*
 * test_render.c - what a decoded notification becomes: the identity
 * content (equal for copies of one trap, different for different traps,
 * the documented layout, v1 laid out like its RFC 3584 translation), the
 * JSON for the sinks, and the Response-PDU for a v2c inform.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "../config/json_check.h"
#include "duet/traps_snmp.h"
#include "helpers.h"

static struct trap_snmp_config cfg;

static void setup(void)
{
	test_config(&cfg);
}

static void teardown(void)
{
	trap_snmp_config_close(&cfg);
}

TestSuite(render, .init = setup, .fini = teardown, .timeout = 60);

struct ident {
	uint8_t b[8192];
	long n;
};

static void identity_of(const uint8_t *buf, size_t n, struct ident *id)
{
	struct trap_snmp_msg m;
	enum trap_snmp_drop rc = decode(&cfg, buf, n, &m);
	cr_assert_eq(rc, TRAP_SNMP_OK, "%s", trap_snmp_drop_name(rc));
	id->n = trap_snmp_identity(&m, id->b, sizeof id->b);
	cr_assert_gt(id->n, 0);
}

static bool same(const struct ident *a, const struct ident *b)
{
	return a->n == b->n && memcmp(a->b, b->b, (size_t)a->n) == 0;
}

Test(render, copies_of_one_trap_have_one_identity)
{
	/* '' : snmptrap stamps its own sysUpTime.0, and each run picks a new
	 * request-id; neither is part of the identity */
	const char *argv[] = {"snmptrap", "-v",       "2c",          "-c",        "public",
			      "%T",       "",         TEST_TRAP_OID, TEST_VB(1),  "i",
			      "42",       TEST_VB(4), "s",           "disk full", NULL};
	uint8_t a[2048], b[2048];
	size_t na = capture(NULL, argv, a, sizeof a);
	size_t nb = capture(NULL, argv, b, sizeof b);
	struct trap_snmp_msg ma, mb;
	cr_assert_eq(decode(&cfg, a, na, &ma), TRAP_SNMP_OK);
	cr_assert_eq(decode(&cfg, b, nb, &mb), TRAP_SNMP_OK);
	cr_assert_neq(ma.request_id, mb.request_id);
	struct ident ia, ib;
	identity_of(a, na, &ia);
	identity_of(b, nb, &ib);
	cr_assert(same(&ia, &ib));

	/* a v3 copy of the same notification (other msgID, salt, boots...) */
	uint8_t c[2048];
	const char *v3[] = {"snmptrap",  "-v3",    "-e",          AGENT_ENGINE_HEX,
			    "-u",        "shaaes", "-l",          "authPriv",
			    "-a",        "SHA",    "-A",          AUTH_PASS,
			    "-x",        "AES",    "-X",          PRIV_PASS,
			    "%T",        "",       TEST_TRAP_OID, TEST_VB(1),
			    "i",         "42",     TEST_VB(4),    "s",
			    "disk full", NULL};
	struct ident ic;
	identity_of(c, capture(NULL, v3, c, sizeof c), &ic);
	cr_assert(same(&ia, &ic));

	/* a different value, a different trap */
	const char *other[] = {"snmptrap", "-v",       "2c",          "-c",        "public",
			       "%T",       "",         TEST_TRAP_OID, TEST_VB(1),  "i",
			       "43",       TEST_VB(4), "s",           "disk full", NULL};
	size_t no = capture(NULL, other, b, sizeof b);
	identity_of(b, no, &ib);
	cr_assert_not(same(&ia, &ib));
	/* same value, other type */
	const char *type[] = {"snmptrap", "-v",       "2c",          "-c",        "public",
			      "%T",       "",         TEST_TRAP_OID, TEST_VB(1),  "u",
			      "42",       TEST_VB(4), "s",           "disk full", NULL};
	identity_of(b, capture(NULL, type, b, sizeof b), &ib);
	cr_assert_not(same(&ia, &ib));
	/* other trap OID */
	const char *oid[] = {"snmptrap", "-v",        "2c", "-c",
			     "public",   "%T",        "",   "1.3.6.1.4.1.8072.2.3.0.2",
			     TEST_VB(1), "i",         "42", TEST_VB(4),
			     "s",        "disk full", NULL};
	identity_of(b, capture(NULL, oid, b, sizeof b), &ib);
	cr_assert_not(same(&ia, &ib));
}

static const uint8_t TICKS[] = {0x30, 0x39};

static size_t v2c_all_types(uint8_t pdu, uint8_t *out)
{
	struct blob vbl = {.n = 0}, trap_oid = {.n = 0}, oid_value = {.n = 0}, msg;
	blob_oid(&trap_oid, TEST_TRAP_OID);
	blob_oid(&oid_value, "1.3.6.1.4.1.8072.9");
	blob_varbind(&vbl, "1.3.6.1.2.1.1.3.0", 0x43, TICKS, sizeof TICKS);
	blob_varbind(&vbl, "1.3.6.1.6.3.1.1.4.1.0", 0x06, trap_oid.b + 2, trap_oid.n - 2);
	blob_varbind(&vbl, "1.3.6.1.4.1.1.1", 0x02, "\xfe", 1);
	blob_varbind(&vbl, "1.3.6.1.4.1.1.2", 0x04, "a\"b\\c\n\xc3\xa9", 8);
	blob_varbind(&vbl, "1.3.6.1.4.1.1.3", 0x04, "\x00\x1a\xff", 3);
	blob_varbind(&vbl, "1.3.6.1.4.1.1.4", 0x05, NULL, 0);
	blob_varbind(&vbl, "1.3.6.1.4.1.1.5", 0x06, oid_value.b + 2, oid_value.n - 2);
	blob_varbind(&vbl, "1.3.6.1.4.1.1.6", 0x40, "\xc0\xa8\x01\x02", 4);
	blob_varbind(&vbl, "1.3.6.1.4.1.1.7", 0x41, "\x00\xff\xff\xff\xff", 5);
	blob_varbind(&vbl, "1.3.6.1.4.1.1.8", 0x42, "\x05", 1);
	blob_varbind(&vbl, "1.3.6.1.4.1.1.9", 0x43, "\x01\x00", 2);
	blob_varbind(&vbl, "1.3.6.1.4.1.1.10", 0x44, "\x9f\x78\x04\x3f\xc0\x00\x00", 7);
	blob_varbind(&vbl, "1.3.6.1.4.1.1.11", 0x46, "\x00\xff\xff\xff\xff\xff\xff\xff\xff", 9);
	blob_varbind(&vbl, "1.3.6.1.4.1.1.12", 0x47, "\x07", 1);
	blob_varbind(&vbl, "1.3.6.1.4.1.1.13", 0x80, NULL, 0);
	blob_varbind(&vbl, "1.3.6.1.4.1.1.14", 0x81, NULL, 0);
	blob_varbind(&vbl, "1.3.6.1.4.1.1.15", 0x82, NULL, 0);
	blob_varbind(&vbl, "1.3.6.1.4.1.1.16", 0x04, "\xed\xa0\x80", 3); /* a surrogate: hex */
	blob_v2c(&msg, "public", pdu, -7, &vbl);
	memcpy(out, msg.b, msg.n);
	return msg.n;
}

Test(render, json_of_every_type)
{
	uint8_t buf[4096];
	size_t n = v2c_all_types(0xa6, buf);
	struct trap_snmp_msg m;
	cr_assert_eq(decode(&cfg, buf, n, &m), TRAP_SNMP_OK);
	const char *want =
	    "{\"kind\":\"snmp\",\"version\":\"2c\",\"pdu\":\"inform\",\"request_id\":-7,"
	    "\"sys_uptime\":12345,\"trap_oid\":\"1.3.6.1.4.1.8072.2.3.0.1\",\"varbinds\":["
	    "{\"oid\":\"1.3.6.1.4.1.1.1\",\"type\":\"integer\",\"value\":-2},"
	    "{\"oid\":\"1.3.6.1.4.1.1.2\",\"type\":\"octet_string\",\"value\":\"a\\\"b\\\\c\\n"
	    "\xc3\xa9\"},"
	    "{\"oid\":\"1.3.6.1.4.1.1.3\",\"type\":\"octet_string\",\"hex\":\"001aff\"},"
	    "{\"oid\":\"1.3.6.1.4.1.1.4\",\"type\":\"null\",\"value\":null},"
	    "{\"oid\":\"1.3.6.1.4.1.1.5\",\"type\":\"oid\",\"value\":\"1.3.6.1.4.1.8072.9\"},"
	    "{\"oid\":\"1.3.6.1.4.1.1.6\",\"type\":\"ip_address\",\"value\":\"192.168.1.2\"},"
	    "{\"oid\":\"1.3.6.1.4.1.1.7\",\"type\":\"counter32\",\"value\":4294967295},"
	    "{\"oid\":\"1.3.6.1.4.1.1.8\",\"type\":\"gauge32\",\"value\":5},"
	    "{\"oid\":\"1.3.6.1.4.1.1.9\",\"type\":\"timeticks\",\"value\":256},"
	    "{\"oid\":\"1.3.6.1.4.1.1.10\",\"type\":\"opaque\",\"hex\":\"9f78043fc00000\"},"
	    "{\"oid\":\"1.3.6.1.4.1.1.11\",\"type\":\"counter64\",\"value\":"
	    "18446744073709551615},"
	    "{\"oid\":\"1.3.6.1.4.1.1.12\",\"type\":\"uinteger32\",\"value\":7},"
	    "{\"oid\":\"1.3.6.1.4.1.1.13\",\"type\":\"no_such_object\",\"value\":null},"
	    "{\"oid\":\"1.3.6.1.4.1.1.14\",\"type\":\"no_such_instance\",\"value\":null},"
	    "{\"oid\":\"1.3.6.1.4.1.1.15\",\"type\":\"end_of_mib_view\",\"value\":null},"
	    "{\"oid\":\"1.3.6.1.4.1.1.16\",\"type\":\"octet_string\",\"hex\":\"eda080\"}]}";
	char json[8192];
	long len = trap_snmp_json(&m, json, sizeof json);
	cr_assert_eq(len, (long)strlen(want), "%s", json);
	cr_assert_str_eq(json, want);
	cr_assert(json_valid(json));
	for (size_t cap = 0; cap <= (size_t)len; cap++)
		cr_assert_eq(trap_snmp_json(&m, json, cap), DUET_ETOOBIG, "cap %zu", cap);
	cr_assert_eq(trap_snmp_json(&m, json, (size_t)len + 1), len);
}

Test(render, json_of_v1_and_v3)
{
	uint8_t buf[2048];
	char json[8192];
	struct trap_snmp_msg m;
	const char *v1[] = {"snmptrap", "-v", "1",  "-c",   "public",   "%T", "1.3.6.1.4.1.8072.3",
			    "10.9.8.7", "6",  "17", "4242", TEST_VB(1), "i",  "42",
			    NULL};
	size_t n = capture(NULL, v1, buf, sizeof buf);
	cr_assert_eq(decode(&cfg, buf, n, &m), TRAP_SNMP_OK);
	cr_assert_gt(trap_snmp_json(&m, json, sizeof json), 0);
	cr_assert(json_valid(json));
	cr_assert_str_eq(json, "{\"kind\":\"snmp\",\"version\":\"1\",\"pdu\":\"trap\","
			       "\"enterprise\":\"1.3.6.1.4.1.8072.3\",\"agent_addr\":\"10.9.8.7\","
			       "\"generic_trap\":6,\"specific_trap\":17,\"sys_uptime\":4242,"
			       "\"trap_oid\":\"1.3.6.1.4.1.8072.3.0.17\",\"varbinds\":["
			       "{\"oid\":\"1.3.6.1.4.1.8072.2.3.2.1\",\"type\":\"integer\","
			       "\"value\":42}]}");

	n = v3_capture(NULL, "shaaes", "authPriv", "SHA", "AES", AGENT_ENGINE_HEX, AUTH_PASS,
		       PRIV_PASS, buf, sizeof buf);
	cr_assert_eq(decode(&cfg, buf, n, &m), TRAP_SNMP_OK);
	cr_assert_gt(trap_snmp_json(&m, json, sizeof json), 0);
	cr_assert(json_valid(json));
	char want[1024];
	snprintf(want, sizeof want,
		 "{\"kind\":\"snmp\",\"version\":\"3\",\"pdu\":\"trap\",\"request_id\":%lld,"
		 "\"msg_id\":%lld,\"security_level\":\"authPriv\",\"user\":\"shaaes\","
		 "\"engine_id\":\"8000000001020304\",\"engine_boots\":7,\"engine_time\":12345,"
		 "\"context_engine_id\":\"8000000001020304\",\"context_name\":\"ctx\","
		 "\"sys_uptime\":999,\"trap_oid\":\"" TEST_TRAP_OID "\",\"varbinds\":["
		 "{\"oid\":\"" TEST_VB(1) "\",\"type\":\"integer\",\"value\":42},"
					  "{\"oid\":\"" TEST_VB(
					      4) "\",\"type\":\"octet_string\",\"value\":\"v3\"}]}",
		 (long long)m.request_id, (long long)m.msg_id);
	cr_assert_str_eq(json, want);
	cr_assert_eq(strstr(json, "public"), NULL);
}

Test(render, identity_layout)
{
	struct blob vbl = {.n = 0}, trap_oid = {.n = 0}, msg;
	blob_oid(&trap_oid, "1.3.6.1.4.1.9");
	blob_varbind(&vbl, "1.3.6.1.2.1.1.3.0", 0x43, TICKS, sizeof TICKS);
	blob_varbind(&vbl, "1.3.6.1.6.3.1.1.4.1.0", 0x06, trap_oid.b + 2, trap_oid.n - 2);
	blob_varbind(&vbl, "1.3.300", 0x02, "\x00\x00\xff", 3); /* padded 255 */
	blob_varbind(&vbl, "1.3", 0x04, "ab", 2);
	blob_varbind(&vbl, "2.999", 0x05, NULL, 0);
	blob_v2c(&msg, "public", 0xa7, 1, &vbl);
	struct ident id;
	identity_of(msg.b, msg.n, &id);
	/* clang-format off */
	const uint8_t want[] = {
		TRAP_SNMP_IDENTITY_VERSION,
		7, 0, /* 1.3.6.1.4.1.9 */
		1, 0, 0, 0, 3, 0, 0, 0, 6, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0,
		3, 0, 0, 0,                                     /* three varbinds */
		3, 0, 1, 0, 0, 0, 3, 0, 0, 0, 0x2c, 0x01, 0, 0, /* 1.3.300 */
		0x02, 8, 0, 0, 0, 0xff, 0, 0, 0, 0, 0, 0, 0,    /* INTEGER 255 */
		2, 0, 1, 0, 0, 0, 3, 0, 0, 0,                   /* 1.3 */
		0x04, 2, 0, 0, 0, 'a', 'b',                     /* "ab" */
		2, 0, 2, 0, 0, 0, 0xe7, 0x03, 0, 0,             /* 2.999 */
		0x05, 0, 0, 0, 0,                               /* NULL */
	};
	/* clang-format on */
	cr_assert_eq(id.n, (long)sizeof want);
	cr_assert_eq(memcmp(id.b, want, sizeof want), 0);

	struct trap_snmp_msg m;
	cr_assert_eq(decode(&cfg, msg.b, msg.n, &m), TRAP_SNMP_OK);
	cr_assert_eq(trap_snmp_identity(&m, NULL, 0), (long)sizeof want);
	uint8_t small[sizeof want];
	cr_assert_eq(trap_snmp_identity(&m, small, sizeof want - 1), DUET_ETOOBIG);
	cr_assert_eq(trap_snmp_identity(&m, small, sizeof want), (long)sizeof want);
}

Test(render, v1_identity_equals_its_rfc3584_translation)
{
	/* v1: enterprise 1.3.6.1.4.1.8072.3, enterpriseSpecific 17, one varbind */
	struct blob pdu = {.n = 0}, v1msg = {.n = 0}, vbl = {.n = 0}, v1 = {.n = 0};
	blob_varbind(&vbl, TEST_VB(1), 0x02, "\x2a", 1);
	blob_oid(&pdu, "1.3.6.1.4.1.8072.3");
	blob_tlv(&pdu, 0x40, "\x0a\x09\x08\x07", 4);
	blob_int(&pdu, 6);
	blob_int(&pdu, 17);
	blob_tlv(&pdu, 0x43, TICKS, sizeof TICKS);
	blob_wrap(&pdu, 0x30, &vbl);
	blob_int(&v1msg, 0);
	blob_tlv(&v1msg, 0x04, "public", 6);
	blob_wrap(&v1msg, 0xa4, &pdu);
	blob_wrap(&v1, 0x30, &v1msg);

	/* its v2 form: snmpTrapOID.0 = enterprise.0.17, the varbind, then
	 * snmpTrapEnterprise.0 = enterprise (RFC 3584 3.1) */
	struct blob v2vbl = {.n = 0}, trap_oid = {.n = 0}, ent = {.n = 0}, v2;
	blob_oid(&trap_oid, "1.3.6.1.4.1.8072.3.0.17");
	blob_oid(&ent, "1.3.6.1.4.1.8072.3");
	blob_varbind(&v2vbl, "1.3.6.1.2.1.1.3.0", 0x43, "\x01", 1);
	blob_varbind(&v2vbl, "1.3.6.1.6.3.1.1.4.1.0", 0x06, trap_oid.b + 2, trap_oid.n - 2);
	blob_varbind(&v2vbl, TEST_VB(1), 0x02, "\x2a", 1);
	blob_varbind(&v2vbl, "1.3.6.1.6.3.1.1.4.3.0", 0x06, ent.b + 2, ent.n - 2);
	blob_v2c(&v2, "public", 0xa7, 5, &v2vbl);

	struct ident a, b;
	identity_of(v1.b, v1.n, &a);
	identity_of(v2.b, v2.n, &b);
	cr_assert(same(&a, &b));
}

Test(render, response_to_a_v2c_inform)
{
	uint8_t buf[4096], out[4096];
	size_t n = v2c_all_types(0xa6, buf);
	struct trap_snmp_msg m;
	cr_assert_eq(decode(&cfg, buf, n, &m), TRAP_SNMP_OK);
	long len = trap_snmp_response_encode(&m, out, sizeof out);
	cr_assert_gt(len, 0);
	for (size_t cap = 0; cap < (size_t)len; cap++)
		cr_assert_eq(trap_snmp_response_encode(&m, out, cap), DUET_ETOOBIG);

	/* same datagram with the PDU tag a6 -> a2: the response echoes all */
	struct trap_snmp_ber r, in, pdu;
	struct trap_snmp_tlv t;
	trap_snmp_ber_init(&r, out, (size_t)len);
	cr_assert_eq(trap_snmp_ber_expect(&r, 0x30, &t), 0);
	cr_assert(trap_snmp_ber_done(&r));
	trap_snmp_ber_enter(&t, &in);
	int64_t v;
	cr_assert_eq(trap_snmp_ber_expect(&in, 0x02, &t), 0);
	cr_assert_eq(trap_snmp_ber_int(&t, &v), 0);
	cr_assert_eq(v, 1);
	cr_assert_eq(trap_snmp_ber_expect(&in, 0x04, &t), 0);
	cr_assert_eq(t.len, 6);
	cr_assert_eq(memcmp(t.value, "public", 6), 0);
	cr_assert_eq(trap_snmp_ber_expect(&in, 0xa2, &t), 0);
	cr_assert(trap_snmp_ber_done(&in));
	trap_snmp_ber_enter(&t, &pdu);
	int64_t want[] = {-7, 0, 0};
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(trap_snmp_ber_expect(&pdu, 0x02, &t), 0);
		cr_assert_eq(trap_snmp_ber_int(&t, &v), 0);
		cr_assert_eq(v, want[i]);
	}
	cr_assert_eq(trap_snmp_ber_expect(&pdu, 0x30, &t), 0);
	cr_assert_eq((size_t)(pdu.p - t.start), m.varbind_list.len);
	cr_assert_eq(memcmp(t.start, m.varbind_list.p, m.varbind_list.len), 0);
	cr_assert(trap_snmp_ber_done(&pdu));
	struct trap_snmp_msg back;
	cr_assert_eq(decode(&cfg, out, (size_t)len, &back), TRAP_SNMP_DROP_NOT_NOTIFICATION);

	/* a trap wants no response */
	n = v2c_all_types(0xa7, buf);
	cr_assert_eq(decode(&cfg, buf, n, &m), TRAP_SNMP_OK);
	cr_assert_eq(trap_snmp_response_encode(&m, out, sizeof out), DUET_EINVAL);
}

Test(render, big_request_ids_round_trip)
{
	int64_t ids[] = {0, 127, 128, -128, -129, INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN};
	for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
		struct blob vbl = {.n = 0}, trap_oid = {.n = 0}, msg;
		blob_oid(&trap_oid, TEST_TRAP_OID);
		blob_varbind(&vbl, "1.3.6.1.2.1.1.3.0", 0x43, TICKS, sizeof TICKS);
		blob_varbind(&vbl, "1.3.6.1.6.3.1.1.4.1.0", 0x06, trap_oid.b + 2, trap_oid.n - 2);
		blob_v2c(&msg, "public", 0xa6, ids[i], &vbl);
		struct trap_snmp_msg m;
		cr_assert_eq(decode(&cfg, msg.b, msg.n, &m), TRAP_SNMP_OK);
		cr_assert_eq(m.request_id, ids[i]);
		uint8_t out[512];
		long len = trap_snmp_response_encode(&m, out, sizeof out);
		/* byte for byte what the test's own BER builder makes of it */
		struct blob expect;
		blob_v2c(&expect, "public", 0xa2, ids[i], &vbl);
		cr_assert_eq(len, (long)expect.n);
		cr_assert_eq(memcmp(out, expect.b, expect.n), 0);
	}
}
