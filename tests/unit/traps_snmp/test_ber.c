/* SPDX-License-Identifier: MIT */
/*
 * test_ber.c - the BER reader of traps_snmp.h: lengths, tags, integers of
 * every width and sign, OIDs at their limits, and the bounded walk.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "duet/traps_snmp.h"

static enum trap_snmp_drop read_one(const uint8_t *buf, size_t len, struct trap_snmp_tlv *t)
{
	struct trap_snmp_ber r;
	trap_snmp_ber_init(&r, buf, len);
	return trap_snmp_ber_next(&r, t);
}

Test(ber, lengths)
{
	struct trap_snmp_tlv t;
	const uint8_t short_form[] = {0x04, 0x02, 'h', 'i'};
	cr_assert_eq(read_one(short_form, sizeof short_form, &t), TRAP_SNMP_OK);
	cr_assert_eq(t.tag, 0x04);
	cr_assert_eq(t.len, 2);
	cr_assert_eq(t.value, short_form + 2);
	const uint8_t long_form[] = {0x04, 0x81, 0x02, 'h', 'i'}; /* not minimal, but BER */
	cr_assert_eq(read_one(long_form, sizeof long_form, &t), TRAP_SNMP_OK);
	cr_assert_eq(t.len, 2);
	const uint8_t four[] = {0x04, 0x84, 0, 0, 0, 1, 'x'};
	cr_assert_eq(read_one(four, sizeof four, &t), TRAP_SNMP_OK);
	cr_assert_eq(t.len, 1);
	const uint8_t indefinite[] = {0x30, 0x80, 0x05, 0x00, 0x00, 0x00};
	cr_assert_eq(read_one(indefinite, sizeof indefinite, &t), TRAP_SNMP_DROP_BAD_LENGTH);
	const uint8_t five[] = {0x04, 0x85, 0, 0, 0, 0, 1, 'x'};
	cr_assert_eq(read_one(five, sizeof five, &t), TRAP_SNMP_DROP_BAD_LENGTH);
	const uint8_t huge[] = {0x04, 0x84, 0xff, 0xff, 0xff, 0xff, 'x'};
	cr_assert_eq(read_one(huge, sizeof huge, &t), TRAP_SNMP_DROP_TRUNCATED);
	const uint8_t past[] = {0x04, 0x03, 'h', 'i'};
	cr_assert_eq(read_one(past, sizeof past, &t), TRAP_SNMP_DROP_TRUNCATED);
	const uint8_t cut_len[] = {0x04, 0x82, 0x01};
	cr_assert_eq(read_one(cut_len, sizeof cut_len, &t), TRAP_SNMP_DROP_TRUNCATED);
	cr_assert_eq(read_one(past, 1, &t), TRAP_SNMP_DROP_TRUNCATED);
	cr_assert_eq(read_one(past, 0, &t), TRAP_SNMP_DROP_TRUNCATED);
	const uint8_t high_tag[] = {0x1f, 0x22, 0x01, 0x00};
	cr_assert_eq(read_one(high_tag, sizeof high_tag, &t), TRAP_SNMP_DROP_BAD_TAG);
}

Test(ber, expect_leaves_reader_on_bad_tag)
{
	const uint8_t buf[] = {0x02, 0x01, 0x05, 0x04, 0x00};
	struct trap_snmp_ber r;
	struct trap_snmp_tlv t;
	trap_snmp_ber_init(&r, buf, sizeof buf);
	cr_assert_eq(trap_snmp_ber_expect(&r, 0x04, &t), TRAP_SNMP_DROP_BAD_TAG);
	cr_assert_eq(r.left, sizeof buf);
	cr_assert_eq(trap_snmp_ber_expect(&r, 0x02, &t), TRAP_SNMP_OK);
	cr_assert_eq(trap_snmp_ber_expect(&r, 0x04, &t), TRAP_SNMP_OK);
	cr_assert(trap_snmp_ber_done(&r));
	cr_assert_eq(trap_snmp_ber_next(&r, &t), TRAP_SNMP_DROP_TRUNCATED);
}

static enum trap_snmp_drop int_of(const uint8_t *c, size_t n, int64_t *v)
{
	struct trap_snmp_tlv t = {.tag = 0x02, .value = c, .len = n};
	return trap_snmp_ber_int(&t, v);
}

static enum trap_snmp_drop uint_of(const uint8_t *c, size_t n, unsigned bits, uint64_t *v)
{
	struct trap_snmp_tlv t = {.tag = 0x41, .value = c, .len = n};
	return trap_snmp_ber_uint(&t, bits, v);
}

Test(ber, signed_integers)
{
	int64_t v;
	const struct {
		uint8_t c[10];
		size_t n;
		int64_t want;
	} cases[] = {
	    {{0x00}, 1, 0},
	    {{0x7f}, 1, 127},
	    {{0x80}, 1, -128},
	    {{0x00, 0x80}, 2, 128},
	    {{0xff, 0x7f}, 2, -129},
	    {{0xff}, 1, -1},
	    {{0x00, 0x00, 0x05}, 3, 5},    /* padded: same value */
	    {{0xff, 0xff, 0x80}, 3, -128}, /* padded negative */
	    {{0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 8, INT64_MAX},
	    {{0x80, 0, 0, 0, 0, 0, 0, 0}, 8, INT64_MIN},
	    {{0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 9, INT64_MAX},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cr_assert_eq(int_of(cases[i].c, cases[i].n, &v), TRAP_SNMP_OK, "case %zu", i);
		cr_assert_eq(v, cases[i].want, "case %zu: %lld", i, (long long)v);
	}
	const uint8_t too_big[] = {0x00, 0x80, 0, 0, 0, 0, 0, 0, 0}; /* 2^63 */
	cr_assert_eq(int_of(too_big, sizeof too_big, &v), TRAP_SNMP_DROP_BAD_INTEGER);
	cr_assert_eq(int_of(too_big, 0, &v), TRAP_SNMP_DROP_BAD_INTEGER);
}

Test(ber, unsigned_integers)
{
	uint64_t v;
	const uint8_t max32[] = {0x00, 0xff, 0xff, 0xff, 0xff};
	cr_assert_eq(uint_of(max32, 5, 32, &v), TRAP_SNMP_OK);
	cr_assert_eq(v, UINT32_MAX);
	/* the agent bug: 4294967295 without its leading zero */
	cr_assert_eq(uint_of(max32 + 1, 4, 32, &v), TRAP_SNMP_OK);
	cr_assert_eq(v, UINT32_MAX);
	const uint8_t over32[] = {0x01, 0x00, 0x00, 0x00, 0x00};
	cr_assert_eq(uint_of(over32, 5, 32, &v), TRAP_SNMP_DROP_BAD_INTEGER);
	cr_assert_eq(uint_of(over32, 5, 64, &v), TRAP_SNMP_OK);
	cr_assert_eq(v, 1ull << 32);
	const uint8_t max64[] = {0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	cr_assert_eq(uint_of(max64, 9, 64, &v), TRAP_SNMP_OK);
	cr_assert_eq(v, UINT64_MAX);
	const uint8_t over64[] = {0x01, 0, 0, 0, 0, 0, 0, 0, 0};
	cr_assert_eq(uint_of(over64, 9, 64, &v), TRAP_SNMP_DROP_BAD_INTEGER);
	cr_assert_eq(uint_of(over64, 0, 64, &v), TRAP_SNMP_DROP_BAD_INTEGER);
	const uint8_t zero[] = {0x00, 0x00};
	cr_assert_eq(uint_of(zero, 2, 32, &v), TRAP_SNMP_OK);
	cr_assert_eq(v, 0);
}

static enum trap_snmp_drop oid_of(const uint8_t *c, size_t n, struct trap_snmp_oid *o)
{
	struct trap_snmp_tlv t = {.tag = 0x06, .value = c, .len = n};
	return trap_snmp_ber_oid(&t, o);
}

static void assert_oid_text(const uint8_t *c, size_t n, const char *want)
{
	struct trap_snmp_oid o;
	char text[TRAP_SNMP_MAX_OID_TEXT_BYTES];
	cr_assert_eq(oid_of(c, n, &o), TRAP_SNMP_OK, "%s", want);
	cr_assert_eq(trap_snmp_oid_format(&o, text, sizeof text), (long)strlen(want));
	cr_assert_str_eq(text, want);
}

Test(ber, oids)
{
	const uint8_t internet[] = {0x2b, 6, 1};
	assert_oid_text(internet, 3, "1.3.6.1");
	const uint8_t zero_zero[] = {0x00};
	assert_oid_text(zero_zero, 1, "0.0");
	const uint8_t max_arc[] = {0x2b, 0x8f, 0xff, 0xff, 0xff, 0x7f};
	assert_oid_text(max_arc, sizeof max_arc, "1.3.4294967295");
	const uint8_t two_big[] = {0x90, 0x80, 0x80, 0x80, 0x4f}; /* 2.(2^32-1) = 2^32+79 */
	assert_oid_text(two_big, sizeof two_big, "2.4294967295");
	const uint8_t enterprise[] = {0x2b, 6, 1, 4, 1, 0xbf, 0x08};
	assert_oid_text(enterprise, sizeof enterprise, "1.3.6.1.4.1.8072");

	struct trap_snmp_oid o;
	const uint8_t overflow[] = {0x2b, 0x90, 0x80, 0x80, 0x80, 0x00}; /* 2^32 */
	cr_assert_eq(oid_of(overflow, sizeof overflow, &o), TRAP_SNMP_DROP_BAD_OID);
	const uint8_t two_over[] = {0x90, 0x80, 0x80, 0x80, 0x50}; /* 2.(2^32) */
	cr_assert_eq(oid_of(two_over, sizeof two_over, &o), TRAP_SNMP_DROP_BAD_OID);
	const uint8_t six_octets[] = {0x2b, 0x81, 0x80, 0x80, 0x80, 0x80, 0x00};
	cr_assert_eq(oid_of(six_octets, sizeof six_octets, &o), TRAP_SNMP_DROP_BAD_OID);
	const uint8_t padded[] = {0x2b, 0x80, 0x01};
	cr_assert_eq(oid_of(padded, sizeof padded, &o), TRAP_SNMP_DROP_BAD_OID);
	const uint8_t unterminated[] = {0x2b, 0x86};
	cr_assert_eq(oid_of(unterminated, sizeof unterminated, &o), TRAP_SNMP_DROP_BAD_OID);
	cr_assert_eq(oid_of(internet, 0, &o), TRAP_SNMP_DROP_BAD_OID);

	uint8_t many[200];
	memset(many, 1, sizeof many);
	many[0] = 0x2b;
	cr_assert_eq(oid_of(many, 127, &o), TRAP_SNMP_OK); /* 128 arcs */
	cr_assert_eq(o.n_arcs, 128);
	cr_assert_eq(oid_of(many, 128, &o), TRAP_SNMP_DROP_BAD_OID);

	/* the longest text still fits TRAP_SNMP_MAX_OID_TEXT_BYTES */
	uint8_t widest[TRAP_SNMP_MAX_OID_BYTES];
	widest[0] = 0x2b;
	size_t n = 1;
	for (int i = 0; i < 126; i++) {
		const uint8_t arc[] = {0x8f, 0xff, 0xff, 0xff, 0x7f};
		if (n + 5 > sizeof widest)
			break;
		memcpy(widest + n, arc, 5);
		n += 5;
	}
	cr_assert_eq(oid_of(widest, n, &o), TRAP_SNMP_OK);
	char text[TRAP_SNMP_MAX_OID_TEXT_BYTES];
	long len = trap_snmp_oid_format(&o, text, sizeof text);
	cr_assert_gt(len, 0);
	cr_assert_eq(trap_snmp_oid_format(&o, text, (size_t)len), DUET_ETOOBIG);
	cr_assert_eq(trap_snmp_oid_format(&o, text, (size_t)len + 1), len);

	uint32_t arcs[4];
	struct trap_snmp_oid e;
	cr_assert_eq(oid_of(enterprise, sizeof enterprise, &e), TRAP_SNMP_OK);
	cr_assert_eq(trap_snmp_oid_arcs(&e, arcs, 4), 7); /* count beyond max */
	cr_assert_eq(arcs[0], 1);
	cr_assert_eq(arcs[3], 1);
}

static void count_visit(void *arg, unsigned depth, const struct trap_snmp_tlv *t)
{
	unsigned *max = arg;
	if (depth > *max)
		*max = depth;
}

Test(ber, walk_is_bounded)
{
	uint8_t deep[2 * 40];
	for (int i = 0; i < 40; i++) {
		deep[2 * i] = 0x30;
		deep[2 * i + 1] = (uint8_t)(2 * (39 - i));
	}
	unsigned max = 0;
	cr_assert_eq(trap_snmp_ber_walk(deep, sizeof deep, count_visit, &max),
		     TRAP_SNMP_DROP_TOO_DEEP);
	cr_assert_eq(max, TRAP_SNMP_BER_MAX_DEPTH - 1);
	max = 0;
	size_t ok_len = 2 * (TRAP_SNMP_BER_MAX_DEPTH - 1);
	uint8_t shallow[2 * TRAP_SNMP_BER_MAX_DEPTH];
	for (size_t i = 0; i < ok_len / 2; i++) {
		shallow[2 * i] = 0x30;
		shallow[2 * i + 1] = (uint8_t)(ok_len - 2 * (i + 1));
	}
	cr_assert_eq(trap_snmp_ber_walk(shallow, ok_len, count_visit, &max), TRAP_SNMP_OK);
	cr_assert_eq(max, TRAP_SNMP_BER_MAX_DEPTH - 2);
	const uint8_t bad_inner[] = {0x30, 0x03, 0x04, 0x05, 0x00};
	cr_assert_eq(trap_snmp_ber_walk(bad_inner, sizeof bad_inner, count_visit, &max),
		     TRAP_SNMP_DROP_TRUNCATED);
}

Test(ber, drop_names)
{
	for (int i = 0; i < TRAP_SNMP_DROP_COUNT; i++) {
		const char *name = trap_snmp_drop_name(i);
		cr_assert_str_neq(name, "unknown", "reason %d has no name", i);
		for (int j = 0; j < i; j++)
			cr_assert_str_neq(name, trap_snmp_drop_name(j));
	}
	cr_assert_str_eq(trap_snmp_drop_name(TRAP_SNMP_DROP_COUNT), "unknown");
	cr_assert_str_eq(trap_snmp_drop_name(TRAP_SNMP_DROP_WRONG_DIGEST), "wrong_digest");
}
