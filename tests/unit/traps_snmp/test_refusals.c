/* SPDX-License-Identifier: MIT */
/*
 * test_refusals.c - every refusal with its reason: real clients with a
 * wrong community, password, engine id, user or level; every prefix of
 * real datagrams; every single-bit flip of a v3 message; and crafted
 * datagrams for what no client sends (wrong PDUs, missing sysUpTime.0 or
 * snmpTrapOID.0, too many varbinds, trailing bytes, bad values).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "duet/traps_snmp.h"
#include "helpers.h"

static struct trap_snmp_config cfg;
static uint8_t dgram[65536];

static void setup(void)
{
	test_config(&cfg);
}

static void teardown(void)
{
	trap_snmp_config_close(&cfg);
}

TestSuite(refusals, .init = setup, .fini = teardown, .timeout = 120);

static void assert_drop(size_t n, enum trap_snmp_drop want)
{
	struct trap_snmp_msg m;
	enum trap_snmp_drop got = decode(&cfg, dgram, n, &m);
	cr_assert_eq(got, want, "got %s, want %s", trap_snmp_drop_name(got),
		     trap_snmp_drop_name(want));
}

/* ---- real clients --------------------------------------------------------- */

Test(refusals, unknown_community)
{
	const char *argv[] = {"snmptrap", "-v", "2c",          "-c", "private",
			      "%T",       "",   TEST_TRAP_OID, NULL};
	assert_drop(capture(NULL, argv, dgram, sizeof dgram), TRAP_SNMP_DROP_UNKNOWN_COMMUNITY);
	const char *v1[] = {"snmptrap",           "-v",       "1", "-c", "publi", "%T",
			    "1.3.6.1.4.1.8072.3", "10.9.8.7", "6", "1",  "",      NULL};
	assert_drop(capture(NULL, v1, dgram, sizeof dgram), TRAP_SNMP_DROP_UNKNOWN_COMMUNITY);
}

Test(refusals, wrong_auth_password)
{
	size_t n = v3_capture(NULL, "shaaes", "authPriv", "SHA", "AES", AGENT_ENGINE_HEX,
			      "wrongpass", PRIV_PASS, dgram, sizeof dgram);
	assert_drop(n, TRAP_SNMP_DROP_WRONG_DIGEST);
	n = v3_capture(NULL, "md5des", "authPriv", "MD5", "DES", AGENT_ENGINE_HEX, "wrongpass",
		       PRIV_PASS, dgram, sizeof dgram);
	assert_drop(n, TRAP_SNMP_DROP_WRONG_DIGEST);
}

Test(refusals, wrong_auth_protocol)
{
	/* same MAC length, other hash */
	size_t n = v3_capture(NULL, "shaaes", "authPriv", "MD5", "AES", AGENT_ENGINE_HEX, AUTH_PASS,
			      PRIV_PASS, dgram, sizeof dgram);
	assert_drop(n, TRAP_SNMP_DROP_WRONG_DIGEST);
	/* 12-octet MAC where SHA-256 wants 24 */
	n = v3_capture(NULL, "sha256aes", "authPriv", "SHA", "AES", AGENT_ENGINE_HEX, AUTH_PASS,
		       PRIV_PASS, dgram, sizeof dgram);
	assert_drop(n, TRAP_SNMP_DROP_WRONG_DIGEST);
}

Test(refusals, wrong_priv_password)
{
	size_t n = v3_capture(NULL, "shaaes", "authPriv", "SHA", "AES", AGENT_ENGINE_HEX, AUTH_PASS,
			      "wrongpriv", dgram, sizeof dgram);
	assert_drop(n, TRAP_SNMP_DROP_DECRYPT_FAILED);
	n = v3_capture(NULL, "md5des", "authPriv", "MD5", "DES", AGENT_ENGINE_HEX, AUTH_PASS,
		       "wrongpriv", dgram, sizeof dgram);
	assert_drop(n, TRAP_SNMP_DROP_DECRYPT_FAILED);
}

Test(refusals, wrong_engine_id)
{
	size_t n = v3_capture(NULL, "shaaes", "authPriv", "SHA", "AES", "0x80000000010203ff",
			      AUTH_PASS, PRIV_PASS, dgram, sizeof dgram);
	assert_drop(n, TRAP_SNMP_DROP_UNKNOWN_ENGINE_ID);
}

Test(refusals, unknown_user)
{
	size_t n = v3_capture(NULL, "nobody", "authPriv", "SHA", "AES", AGENT_ENGINE_HEX, AUTH_PASS,
			      PRIV_PASS, dgram, sizeof dgram);
	assert_drop(n, TRAP_SNMP_DROP_UNKNOWN_USER);
}

Test(refusals, security_levels)
{
	/* shaaes requires authPriv */
	size_t n = v3_capture(NULL, "shaaes", "authNoPriv", "SHA", NULL, AGENT_ENGINE_HEX,
			      AUTH_PASS, NULL, dgram, sizeof dgram);
	assert_drop(n, TRAP_SNMP_DROP_SEC_LEVEL_TOO_LOW);
	n = v3_capture(NULL, "shaaes", "noAuthNoPriv", NULL, NULL, AGENT_ENGINE_HEX, NULL, NULL,
		       dgram, sizeof dgram);
	assert_drop(n, TRAP_SNMP_DROP_SEC_LEVEL_TOO_LOW);
	/* shaauth has no privacy key; noauth no key at all */
	n = v3_capture(NULL, "shaauth", "authPriv", "SHA", "AES", AGENT_ENGINE_HEX, AUTH_PASS,
		       PRIV_PASS, dgram, sizeof dgram);
	assert_drop(n, TRAP_SNMP_DROP_UNSUPPORTED_SEC_LEVEL);
	n = v3_capture(NULL, "noauth", "authNoPriv", "SHA", NULL, AGENT_ENGINE_HEX, AUTH_PASS, NULL,
		       dgram, sizeof dgram);
	assert_drop(n, TRAP_SNMP_DROP_UNSUPPORTED_SEC_LEVEL);
}

Test(refusals, scratch_too_small)
{
	size_t n = v3_capture(NULL, "shaaes", "authPriv", "SHA", "AES", AGENT_ENGINE_HEX, AUTH_PASS,
			      PRIV_PASS, dgram, sizeof dgram);
	struct trap_snmp_msg m;
	uint8_t small[16];
	cr_assert_eq(trap_snmp_decode(&cfg, dgram, n, small, sizeof small, &m),
		     TRAP_SNMP_DROP_NO_SCRATCH);
	cr_assert_eq(trap_snmp_decode(&cfg, dgram, n, NULL, 0, &m), TRAP_SNMP_DROP_NO_SCRATCH);
	uint8_t *exact = malloc(n);
	cr_assert_eq(trap_snmp_decode(&cfg, dgram, n, exact, n, &m), TRAP_SNMP_OK);
	free(exact);
}

/* ---- every prefix, every flip ---------------------------------------------- */

static void every_prefix_truncated(const uint8_t *buf, size_t n)
{
	for (size_t cut = 0; cut < n; cut++) {
		enum trap_snmp_drop rc = decode_exact(&cfg, buf, cut);
		cr_assert_eq(rc, TRAP_SNMP_DROP_TRUNCATED, "prefix %zu of %zu: %s", cut, n,
			     trap_snmp_drop_name(rc));
	}
	cr_assert_eq(decode_exact(&cfg, buf, n), TRAP_SNMP_OK);
}

Test(refusals, every_prefix)
{
	const char *v1[] = {"snmptrap", "-v", "1",  "-c",   "public",   "%T", "1.3.6.1.4.1.8072.3",
			    "10.9.8.7", "6",  "17", "4242", TEST_VB(1), "i",  "42",
			    NULL};
	every_prefix_truncated(dgram, capture(NULL, v1, dgram, sizeof dgram));
	const char *v2c[] = {"snmptrap",
			     "-v",
			     "2c",
			     "-c",
			     "public",
			     "%T",
			     "",
			     TEST_TRAP_OID,
			     TEST_VB(1),
			     "i",
			     "42",
			     TEST_VB(4),
			     "s",
			     "hello",
			     TEST_VB(7),
			     "o",
			     "1.3.6.1.4.1.8072.9",
			     NULL};
	every_prefix_truncated(dgram, capture(NULL, v2c, dgram, sizeof dgram));
	size_t n = v3_capture(NULL, "shaaes", "authPriv", "SHA", "AES", AGENT_ENGINE_HEX, AUTH_PASS,
			      PRIV_PASS, dgram, sizeof dgram);
	every_prefix_truncated(dgram, n);
	n = v3_capture(NULL, "md5des", "authPriv", "MD5", "DES", AGENT_ENGINE_HEX, AUTH_PASS,
		       PRIV_PASS, dgram, sizeof dgram);
	every_prefix_truncated(dgram, n);
}

/* Offsets of msgAuthenticationParameters and of the encrypted PDU. */
static void v3_layout(const uint8_t *buf, size_t n, struct trap_snmp_tlv *auth,
		      struct trap_snmp_tlv *data)
{
	struct trap_snmp_ber r, in, sp, sq;
	struct trap_snmp_tlv t;
	trap_snmp_ber_init(&r, buf, n);
	cr_assert_eq(trap_snmp_ber_next(&r, &t), 0);
	trap_snmp_ber_enter(&t, &in);
	cr_assert_eq(trap_snmp_ber_next(&in, &t), 0); /* version */
	cr_assert_eq(trap_snmp_ber_next(&in, &t), 0); /* global data */
	cr_assert_eq(trap_snmp_ber_next(&in, &t), 0); /* security parameters */
	trap_snmp_ber_enter(&t, &sp);
	cr_assert_eq(trap_snmp_ber_next(&sp, &t), 0);
	trap_snmp_ber_enter(&t, &sq);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(trap_snmp_ber_next(&sq, auth), 0);
	cr_assert_eq(trap_snmp_ber_next(&in, data), 0);
}

Test(refusals, every_bit_flip_of_v3)
{
	size_t n = v3_capture(NULL, "shaaes", "authPriv", "SHA", "AES", AGENT_ENGINE_HEX, AUTH_PASS,
			      PRIV_PASS, dgram, sizeof dgram);
	struct trap_snmp_tlv auth, data;
	v3_layout(dgram, n, &auth, &data);
	cr_assert_eq(auth.len, 12);
	size_t counts[TRAP_SNMP_DROP_COUNT] = {0};
	for (size_t i = 0; i < n; i++) {
		for (int bit = 0; bit < 8; bit++) {
			dgram[i] ^= (uint8_t)(1 << bit);
			enum trap_snmp_drop rc = decode_exact(&cfg, dgram, n);
			dgram[i] ^= (uint8_t)(1 << bit);
			cr_assert_neq(rc, TRAP_SNMP_OK, "flip of bit %d at %zu accepted", bit, i);
			counts[rc]++;
			bool signed_part =
			    (dgram + i >= auth.value && dgram + i < auth.value + 12) ||
			    dgram + i >= data.value;
			if (signed_part)
				cr_assert_eq(rc, TRAP_SNMP_DROP_WRONG_DIGEST, "flip at %zu: %s", i,
					     trap_snmp_drop_name(rc));
		}
	}
	for (int r = 0; r < TRAP_SNMP_DROP_COUNT; r++)
		if (counts[r])
			cr_log_info("v3 flips: %s %zu", trap_snmp_drop_name(r), counts[r]);
	cr_assert_eq(decode_exact(&cfg, dgram, n), TRAP_SNMP_OK);
}

Test(refusals, every_bit_flip_of_v2c_never_crashes)
{
	const char *v2c[] = {"snmptrap",
			     "-v",
			     "2c",
			     "-c",
			     "public",
			     "%T",
			     "",
			     TEST_TRAP_OID,
			     TEST_VB(1),
			     "i",
			     "42",
			     TEST_VB(4),
			     "s",
			     "hello",
			     TEST_VB(7),
			     "o",
			     "1.3.6.1.4.1.8072.9",
			     TEST_VB(9),
			     "a",
			     "1.2.3.4",
			     NULL};
	size_t n = capture(NULL, v2c, dgram, sizeof dgram);
	size_t accepted = 0;
	for (size_t i = 0; i < n; i++)
		for (int bit = 0; bit < 8; bit++) {
			dgram[i] ^= (uint8_t)(1 << bit);
			accepted += decode_exact(&cfg, dgram, n) == TRAP_SNMP_OK;
			dgram[i] ^= (uint8_t)(1 << bit);
		}
	/* some flips only change a value (and decode_exact rendered them) */
	cr_assert_gt(accepted, 0);
	cr_assert_lt(accepted, n * 8);
}

/* ---- v3 messages altered and re-signed ------------------------------------ */

static size_t find(const uint8_t *buf, size_t n, const void *pat, size_t len)
{
	for (size_t i = 0; i + len <= n; i++)
		if (memcmp(buf + i, pat, len) == 0)
			return i;
	cr_assert_fail("pattern not found");
	return 0;
}

Test(refusals, v3_header_fields)
{
	size_t n = v3_capture(NULL, "shaaes", "authPriv", "SHA", "AES", AGENT_ENGINE_HEX, AUTH_PASS,
			      PRIV_PASS, dgram, sizeof dgram);
	/* msgFlags OCTET STRING (1) = 03, msgSecurityModel INTEGER = 3 */
	const uint8_t tail[] = {0x04, 0x01, 0x03, 0x02, 0x01, 0x03};
	size_t at = find(dgram, n, tail, sizeof tail);
	dgram[at + 5] = 2;
	assert_drop(n, TRAP_SNMP_DROP_BAD_SECURITY_MODEL);
	dgram[at + 5] = 3;
	dgram[at + 2] = 0x02; /* privacy without authentication */
	assert_drop(n, TRAP_SNMP_DROP_BAD_FLAGS);
	dgram[at + 2] = 0x01; /* now claims authNoPriv: an OCTET STRING where a ScopedPDU goes */
	assert_drop(n, TRAP_SNMP_DROP_BAD_TAG);
	dgram[at + 2] = 0x03;
	assert_drop(n, TRAP_SNMP_OK);

	/* version 2 is not a version we take */
	cr_assert_eq(memcmp(dgram + 3, "\x02\x01\x03", 3), 0);
	dgram[5] = 2;
	assert_drop(n, TRAP_SNMP_DROP_BAD_VERSION);
}

Test(refusals, v3_resigned_garbage_is_decrypt_failure)
{
	size_t n = v3_capture(NULL, "shaaes", "authPriv", "SHA", "AES", AGENT_ENGINE_HEX, AUTH_PASS,
			      PRIV_PASS, dgram, sizeof dgram);
	struct trap_snmp_tlv auth, data;
	v3_layout(dgram, n, &auth, &data);
	size_t first = (size_t)(data.value - dgram);
	dgram[first] ^= 0x01; /* CFB: flips the plaintext's first bit (the SEQUENCE tag) */
	assert_drop(n, TRAP_SNMP_DROP_WRONG_DIGEST);
	cr_assert_eq(trap_snmp_usm_resign(&cfg, dgram, n), 0);
	assert_drop(n, TRAP_SNMP_DROP_DECRYPT_FAILED);
	dgram[first] ^= 0x01;
	cr_assert_eq(trap_snmp_usm_resign(&cfg, dgram, n), 0);
	assert_drop(n, TRAP_SNMP_OK);

	/* the last ciphertext octet is the last octet of "v3": still a trap */
	dgram[n - 1] ^= 0x01;
	cr_assert_eq(trap_snmp_usm_resign(&cfg, dgram, n), 0);
	struct trap_snmp_msg m;
	cr_assert_eq(decode(&cfg, dgram, n, &m), TRAP_SNMP_OK);
	cr_assert_eq(memcmp(m.varbinds[1].value.bytes.p, "v2", 2), 0);

	/* a DES ciphertext that is not a whole number of blocks */
	n = v3_capture(NULL, "md5des", "authPriv", "MD5", "DES", AGENT_ENGINE_HEX, AUTH_PASS,
		       PRIV_PASS, dgram, sizeof dgram);
	v3_layout(dgram, n, &auth, &data);
	cr_assert_eq(data.len % 8, 0);
	cr_assert_lt(data.len, 0x80 * 2);
	/* shorten the encrypted OCTET STRING and every length around it by one */
	size_t data_at = (size_t)(data.start - dgram);
	cr_assert_eq(dgram[1] & 0x80, 0x80);
	n -= 1;
	dgram[2] -= 1; /* outer length (long form, one octet) */
	dgram[data_at + (dgram[data_at + 1] == 0x81 ? 2 : 1)] -= 1;
	cr_assert_eq(trap_snmp_usm_resign(&cfg, dgram, n), 0);
	assert_drop(n, TRAP_SNMP_DROP_DECRYPT_FAILED);
}

/* ---- crafted datagrams ----------------------------------------------------- */

static const uint8_t TICKS[] = {0x30, 0x39};
#define SYS_UPTIME    "1.3.6.1.2.1.1.3.0"
#define SNMP_TRAP_OID "1.3.6.1.6.3.1.1.4.1.0"

static void trap_header(struct blob *vbl)
{
	struct blob oid = {.n = 0};
	blob_oid(&oid, TEST_TRAP_OID);
	blob_varbind(vbl, SYS_UPTIME, 0x43, TICKS, sizeof TICKS);
	blob_varbind(vbl, SNMP_TRAP_OID, 0x06, oid.b + 2, oid.n - 2);
}

static size_t crafted(uint8_t pdu_tag, const struct blob *vbl)
{
	struct blob out;
	blob_v2c(&out, "public", pdu_tag, 77, vbl);
	memcpy(dgram, out.b, out.n);
	return out.n;
}

Test(refusals, not_a_notification)
{
	struct blob vbl = {.n = 0};
	trap_header(&vbl);
	cr_assert_eq(decode_exact(&cfg, dgram, crafted(0xa7, &vbl)), TRAP_SNMP_OK);
	const uint8_t others[] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa8};
	for (size_t i = 0; i < sizeof others; i++)
		assert_drop(crafted(others[i], &vbl), TRAP_SNMP_DROP_NOT_NOTIFICATION);
	assert_drop(crafted(0x30, &vbl), TRAP_SNMP_DROP_BAD_TAG);
	/* a v2 PDU in a v1 message */
	size_t n = crafted(0xa7, &vbl);
	cr_assert_eq(dgram[4], 1);
	dgram[4] = 0;
	assert_drop(n, TRAP_SNMP_DROP_NOT_NOTIFICATION);
	dgram[4] = 2;
	assert_drop(n, TRAP_SNMP_DROP_BAD_VERSION);
}

Test(refusals, header_varbinds)
{
	struct blob vbl = {.n = 0};
	assert_drop(crafted(0xa7, &vbl), TRAP_SNMP_DROP_NO_SYSUPTIME);
	blob_varbind(&vbl, SYS_UPTIME, 0x43, TICKS, sizeof TICKS);
	assert_drop(crafted(0xa7, &vbl), TRAP_SNMP_DROP_NO_TRAP_OID);
	blob_varbind(&vbl, SNMP_TRAP_OID, 0x04, "x", 1); /* a string, not an OID */
	assert_drop(crafted(0xa7, &vbl), TRAP_SNMP_DROP_NO_TRAP_OID);

	vbl.n = 0;
	blob_varbind(&vbl, SYS_UPTIME, 0x02, TICKS, sizeof TICKS); /* INTEGER, not TimeTicks */
	assert_drop(crafted(0xa7, &vbl), TRAP_SNMP_DROP_NO_SYSUPTIME);
	vbl.n = 0;
	blob_varbind(&vbl, TEST_VB(1), 0x02, "\x01", 1);
	trap_header(&vbl); /* in the wrong place */
	assert_drop(crafted(0xa7, &vbl), TRAP_SNMP_DROP_NO_SYSUPTIME);
}

Test(refusals, too_many_varbinds)
{
	struct blob vbl = {.n = 0};
	trap_header(&vbl);
	for (int i = 0; i < 3; i++)
		blob_varbind(&vbl, TEST_VB(1), 0x02, "\x01", 1);
	cfg.max_varbinds = 3;
	assert_drop(crafted(0xa7, &vbl), TRAP_SNMP_OK);
	blob_varbind(&vbl, TEST_VB(1), 0x02, "\x01", 1);
	assert_drop(crafted(0xa7, &vbl), TRAP_SNMP_DROP_TOO_MANY_VARBINDS);
	cfg.max_varbinds = TRAP_SNMP_MAX_VARBINDS;
	assert_drop(crafted(0xa7, &vbl), TRAP_SNMP_OK);

	vbl.n = 0;
	trap_header(&vbl);
	for (int i = 0; i <= TRAP_SNMP_MAX_VARBINDS; i++)
		blob_varbind(&vbl, "1.3", 0x05, NULL, 0);
	cfg.max_varbinds = 100000; /* above the ceiling: the ceiling holds */
	assert_drop(crafted(0xa7, &vbl), TRAP_SNMP_DROP_TOO_MANY_VARBINDS);
}

Test(refusals, values)
{
	struct blob vbl = {.n = 0};
	trap_header(&vbl);
	struct blob bad = vbl;
	blob_varbind(&bad, TEST_VB(1), 0x40, "\x01\x02\x03", 3); /* IpAddress of 3 octets */
	assert_drop(crafted(0xa7, &bad), TRAP_SNMP_DROP_BAD_VALUE);
	bad = vbl;
	blob_varbind(&bad, TEST_VB(1), 0x05, "\x00", 1); /* NULL with content */
	assert_drop(crafted(0xa7, &bad), TRAP_SNMP_DROP_BAD_VALUE);
	bad = vbl;
	blob_varbind(&bad, TEST_VB(1), 0x03, "\x00", 1); /* BIT STRING: not SNMP */
	assert_drop(crafted(0xa7, &bad), TRAP_SNMP_DROP_BAD_TAG);
	bad = vbl;
	blob_varbind(&bad, TEST_VB(1), 0x41, "\x01\x00\x00\x00\x00", 5); /* Counter32 2^32 */
	assert_drop(crafted(0xa7, &bad), TRAP_SNMP_DROP_BAD_INTEGER);
	bad = vbl;
	blob_varbind(&bad, TEST_VB(1), 0x06, "\x2b\x80\x01", 3);
	assert_drop(crafted(0xa7, &bad), TRAP_SNMP_DROP_BAD_OID);
	bad = vbl;
	blob_varbind(&bad, TEST_VB(1), 0x80, NULL, 0); /* noSuchObject is a value */
	blob_varbind(&bad, TEST_VB(1), 0x81, NULL, 0);
	blob_varbind(&bad, TEST_VB(1), 0x82, NULL, 0);
	blob_varbind(&bad, TEST_VB(1), 0x47, "\x05", 1);
	assert_drop(crafted(0xa7, &bad), TRAP_SNMP_OK);
}

Test(refusals, trailing_data)
{
	struct blob vbl = {.n = 0};
	trap_header(&vbl);
	size_t n = crafted(0xa6, &vbl);
	dgram[n] = 0;
	assert_drop(n + 1, TRAP_SNMP_DROP_TRAILING_DATA);
	/* a third field inside a varbind */
	struct blob vb = {.n = 0}, bad = vbl;
	blob_oid(&vb, TEST_VB(1));
	blob_int(&vb, 1);
	blob_int(&vb, 2);
	blob_wrap(&bad, 0x30, &vb);
	assert_drop(crafted(0xa7, &bad), TRAP_SNMP_DROP_TRAILING_DATA);
}

static size_t v1_trap(int64_t generic, int64_t specific)
{
	struct blob pdu = {.n = 0}, msg = {.n = 0}, vbl = {.n = 0}, out = {.n = 0};
	blob_oid(&pdu, "1.3.6.1.4.1.8072.3");
	blob_tlv(&pdu, 0x40, "\x0a\x00\x00\x01", 4);
	blob_int(&pdu, generic);
	blob_int(&pdu, specific);
	blob_tlv(&pdu, 0x43, TICKS, sizeof TICKS);
	blob_wrap(&pdu, 0x30, &vbl);
	blob_int(&msg, 0);
	blob_tlv(&msg, 0x04, "public", 6);
	blob_wrap(&msg, 0xa4, &pdu);
	blob_wrap(&out, 0x30, &msg);
	memcpy(dgram, out.b, out.n);
	return out.n;
}

Test(refusals, v1_fields)
{
	struct trap_snmp_msg m;
	char text[64];
	for (int g = 0; g <= 5; g++) {
		size_t n = v1_trap(g, 99);
		cr_assert_eq(decode(&cfg, dgram, n, &m), TRAP_SNMP_OK);
		struct trap_snmp_oid t = trap_snmp_msg_trap_oid(&m);
		trap_snmp_oid_format(&t, text, sizeof text);
		char want[64];
		snprintf(want, sizeof want, "1.3.6.1.6.3.1.1.5.%d", g + 1);
		cr_assert_str_eq(text, want);
	}
	size_t n = v1_trap(6, 4294967295ll);
	cr_assert_eq(decode(&cfg, dgram, n, &m), TRAP_SNMP_OK);
	struct trap_snmp_oid t = trap_snmp_msg_trap_oid(&m);
	trap_snmp_oid_format(&t, text, sizeof text);
	cr_assert_str_eq(text, "1.3.6.1.4.1.8072.3.0.4294967295");
	assert_drop(v1_trap(7, 0), TRAP_SNMP_DROP_BAD_GENERIC_TRAP);
	assert_drop(v1_trap(-1, 0), TRAP_SNMP_DROP_BAD_GENERIC_TRAP);
	assert_drop(v1_trap(6, -1), TRAP_SNMP_DROP_BAD_VALUE);
	assert_drop(v1_trap(6, 4294967296ll), TRAP_SNMP_DROP_BAD_VALUE);
	assert_drop(v1_trap(0, -5), TRAP_SNMP_OK); /* specific-trap unused then */
}
