/* SPDX-License-Identifier: MIT */
/*
 * test_clients.c - datagrams from the real net-snmp clients (snmptrap,
 * snmpinform; Debian package "snmp") sent to a UDP socket on 127.0.0.1,
 * decoded field by field: v1, v2c with every value type, v2c informs
 * acknowledged with our Response-PDU (and a retransmission recognized),
 * v3 traps with each supported auth/priv pair, and v3 informs acknowledged
 * with our signed and encrypted v3 Response.
 */
#include <arpa/inet.h>
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

TestSuite(clients, .init = setup, .fini = teardown, .timeout = 60);

static void assert_oid(const struct trap_snmp_oid *oid, const char *want)
{
	char text[TRAP_SNMP_MAX_OID_TEXT_BYTES];
	cr_assert_gt(trap_snmp_oid_format(oid, text, sizeof text), 0);
	cr_assert_str_eq(text, want);
}

static void assert_bytes(const struct trap_snmp_bytes *b, const void *want, size_t len)
{
	cr_assert_eq(b->len, len, "length %zu, want %zu", b->len, len);
	cr_assert(len == 0 || memcmp(b->p, want, len) == 0);
}

static const struct trap_snmp_varbind *vb_at(const struct trap_snmp_msg *m, uint32_t i,
					     const char *oid, uint8_t type)
{
	cr_assert_lt(i, m->n_varbinds);
	assert_oid(&m->varbinds[i].name, oid);
	cr_assert_eq(m->varbinds[i].type, type, "varbind %u: type %#x, want %#x", i,
		     m->varbinds[i].type, type);
	return &m->varbinds[i];
}

#define TRAP_OID "1.3.6.1.4.1.8072.2.3.0.1"
#define VB(n)    "1.3.6.1.4.1.8072.2.3.2." #n

/* One varbind of each type snmptrap can send. */
#define ALL_TYPES                                                                                  \
	VB(1), "i", "-42", VB(2), "u", "4294967295", VB(3), "c", "7", VB(4), "s",                  \
	    "h\xc3\xa9llo \"w\"", VB(5), "x", "00ff10", VB(6), "n", "", VB(7), "o",                \
	    "1.3.6.1.4.1.8072.9", VB(8), "t", "100", VB(9), "a", "10.1.2.3", VB(10), "C",          \
	    "123456789012", VB(11), "U", "5"

static void assert_all_types(const struct trap_snmp_msg *m)
{
	cr_assert_eq(m->n_varbinds, 11);
	cr_assert_eq(vb_at(m, 0, VB(1), TRAP_SNMP_TAG_INTEGER)->value.i, -42);
	cr_assert_eq(vb_at(m, 1, VB(2), TRAP_SNMP_TAG_GAUGE32)->value.u, 4294967295u);
	cr_assert_eq(vb_at(m, 2, VB(3), TRAP_SNMP_TAG_COUNTER32)->value.u, 7);
	const char *s = "h\xc3\xa9llo \"w\"";
	assert_bytes(&vb_at(m, 3, VB(4), TRAP_SNMP_TAG_OCTET_STRING)->value.bytes, s, strlen(s));
	assert_bytes(&vb_at(m, 4, VB(5), TRAP_SNMP_TAG_OCTET_STRING)->value.bytes, "\x00\xff\x10",
		     3);
	vb_at(m, 5, VB(6), TRAP_SNMP_TAG_NULL);
	assert_oid(&vb_at(m, 6, VB(7), TRAP_SNMP_TAG_OID)->value.oid, "1.3.6.1.4.1.8072.9");
	cr_assert_eq(vb_at(m, 7, VB(8), TRAP_SNMP_TAG_TIME_TICKS)->value.u, 100);
	assert_bytes(&vb_at(m, 8, VB(9), TRAP_SNMP_TAG_IP_ADDRESS)->value.bytes, "\x0a\x01\x02\x03",
		     4);
	cr_assert_eq(vb_at(m, 9, VB(10), TRAP_SNMP_TAG_COUNTER64)->value.u, 123456789012ull);
	/* net-snmp sends 'U' as an Opaque-wrapped uint64: 9f 7b 01 05 */
	assert_bytes(&vb_at(m, 10, VB(11), TRAP_SNMP_TAG_OPAQUE)->value.bytes, "\x9f\x7b\x01\x05",
		     4);
}

Test(clients, v2c_trap_every_type)
{
	const char *argv[] = {"snmptrap", "-v",    "2c",     "-c",      "public",
			      "%T",       "12345", TRAP_OID, ALL_TYPES, NULL};
	size_t n = capture("v2c_trap", argv, dgram, sizeof dgram);
	struct trap_snmp_msg m;
	cr_assert_eq(decode(&cfg, dgram, n, &m), TRAP_SNMP_OK);
	cr_assert_eq(m.version, TRAP_SNMP_V2C);
	cr_assert_eq(m.pdu_type, TRAP_SNMP_PDU_TRAP_V2);
	cr_assert_not(trap_snmp_msg_is_inform(&m));
	assert_bytes(&m.community, "public", 6);
	cr_assert_eq(m.sys_uptime, 12345);
	struct trap_snmp_oid t = trap_snmp_msg_trap_oid(&m);
	assert_oid(&t, TRAP_OID);
	cr_assert_eq(m.error_status, 0);
	cr_assert_eq(m.error_index, 0);
	assert_all_types(&m);
}

Test(clients, v1_enterprise_specific)
{
	const char *argv[] = {"snmptrap", "-v", "1",  "-c",   "public", "%T", "1.3.6.1.4.1.8072.3",
			      "10.9.8.7", "6",  "17", "4242", VB(1),    "i",  "42",
			      VB(4),      "s",  "hi", NULL};
	size_t n = capture("v1_specific", argv, dgram, sizeof dgram);
	struct trap_snmp_msg m;
	cr_assert_eq(decode(&cfg, dgram, n, &m), TRAP_SNMP_OK);
	cr_assert_eq(m.version, TRAP_SNMP_V1);
	cr_assert_eq(m.pdu_type, TRAP_SNMP_PDU_TRAP_V1);
	assert_bytes(&m.community, "public", 6);
	assert_oid(&m.enterprise, "1.3.6.1.4.1.8072.3");
	cr_assert_eq(memcmp(m.agent_addr, "\x0a\x09\x08\x07", 4), 0);
	cr_assert_eq(m.generic_trap, 6);
	cr_assert_eq(m.specific_trap, 17);
	cr_assert_eq(m.sys_uptime, 4242);
	struct trap_snmp_oid t = trap_snmp_msg_trap_oid(&m);
	assert_oid(&t, "1.3.6.1.4.1.8072.3.0.17"); /* RFC 3584 3.1 */
	cr_assert_eq(m.n_varbinds, 2);
	cr_assert_eq(vb_at(&m, 0, VB(1), TRAP_SNMP_TAG_INTEGER)->value.i, 42);
	assert_bytes(&vb_at(&m, 1, VB(4), TRAP_SNMP_TAG_OCTET_STRING)->value.bytes, "hi", 2);
}

Test(clients, v1_generic)
{
	const char *argv[] = {"snmptrap", "-v", "1", "-c", "public", "%T", "1.3.6.1.4.1.8072.3",
			      "10.9.8.7", "2",  "0", "",   VB(1),    "i",  "3",
			      NULL};
	size_t n = capture("v1_generic", argv, dgram, sizeof dgram);
	struct trap_snmp_msg m;
	cr_assert_eq(decode(&cfg, dgram, n, &m), TRAP_SNMP_OK);
	cr_assert_eq(m.generic_trap, 2);
	struct trap_snmp_oid t = trap_snmp_msg_trap_oid(&m);
	assert_oid(&t, "1.3.6.1.6.3.1.1.5.3"); /* linkDown */
}

static size_t v3_trap(const char *name, const char *user, const char *level, const char *auth,
		      const char *priv, const char *engine, const char *auth_pass,
		      const char *priv_pass)
{
	return v3_capture(name, user, level, auth, priv, engine, auth_pass, priv_pass, dgram,
			  sizeof dgram);
}

static void assert_v3(const char *user, enum trap_snmp_level level, size_t n)
{
	struct trap_snmp_msg m;
	enum trap_snmp_drop rc = decode(&cfg, dgram, n, &m);
	cr_assert_eq(rc, TRAP_SNMP_OK, "%s: %s", user, trap_snmp_drop_name(rc));
	cr_assert_eq(m.version, TRAP_SNMP_V3);
	cr_assert_eq(m.pdu_type, TRAP_SNMP_PDU_TRAP_V2);
	cr_assert_eq(m.security_level, level);
	cr_assert_eq(m.msg_flags, level == TRAP_SNMP_LEVEL_AUTH_PRIV     ? 3
				  : level == TRAP_SNMP_LEVEL_AUTH_NOPRIV ? 1
									 : 0);
	cr_assert_geq(m.msg_max_size, 484);
	assert_bytes(&m.engine_id, AGENT_ENGINE, sizeof AGENT_ENGINE);
	cr_assert_eq(m.engine_boots, 7);
	cr_assert_eq(m.engine_time, 12345);
	assert_bytes(&m.user_name, user, strlen(user));
	assert_bytes(&m.context_engine_id, AGENT_ENGINE, sizeof AGENT_ENGINE);
	assert_bytes(&m.context_name, "ctx", 3);
	cr_assert_eq(m.sys_uptime, 999);
	struct trap_snmp_oid t = trap_snmp_msg_trap_oid(&m);
	assert_oid(&t, TRAP_OID);
	cr_assert_eq(m.n_varbinds, 2);
	cr_assert_eq(vb_at(&m, 0, VB(1), TRAP_SNMP_TAG_INTEGER)->value.i, 42);
	assert_bytes(&vb_at(&m, 1, VB(4), TRAP_SNMP_TAG_OCTET_STRING)->value.bytes, "v3", 2);
}

Test(clients, v3_sha_aes)
{
	size_t n = v3_trap("v3_sha_aes", "shaaes", "authPriv", "SHA", "AES", AGENT_ENGINE_HEX,
			   AUTH_PASS, PRIV_PASS);
	assert_v3("shaaes", TRAP_SNMP_LEVEL_AUTH_PRIV, n);
}

Test(clients, v3_md5_des)
{
	size_t n = v3_trap("v3_md5_des", "md5des", "authPriv", "MD5", "DES", AGENT_ENGINE_HEX,
			   AUTH_PASS, PRIV_PASS);
	assert_v3("md5des", TRAP_SNMP_LEVEL_AUTH_PRIV, n);
}

Test(clients, v3_sha256_aes)
{
	size_t n = v3_trap("v3_sha256_aes", "sha256aes", "authPriv", "SHA-256", "AES",
			   AGENT_ENGINE_HEX, AUTH_PASS, PRIV_PASS);
	assert_v3("sha256aes", TRAP_SNMP_LEVEL_AUTH_PRIV, n);
}

Test(clients, v3_sha512_aes)
{
	size_t n = v3_trap("v3_sha512_aes", "sha512aes", "authPriv", "SHA-512", "AES",
			   AGENT_ENGINE_HEX, AUTH_PASS, PRIV_PASS);
	assert_v3("sha512aes", TRAP_SNMP_LEVEL_AUTH_PRIV, n);
}

Test(clients, v3_auth_no_priv)
{
	size_t n = v3_trap("v3_sha_auth", "shaauth", "authNoPriv", "SHA", NULL, AGENT_ENGINE_HEX,
			   AUTH_PASS, NULL);
	assert_v3("shaauth", TRAP_SNMP_LEVEL_AUTH_NOPRIV, n);
}

Test(clients, v3_no_auth)
{
	size_t n = v3_trap("v3_noauth", "noauth", "noAuthNoPriv", NULL, NULL, AGENT_ENGINE_HEX,
			   NULL, NULL);
	assert_v3("noauth", TRAP_SNMP_LEVEL_NOAUTH_NOPRIV, n);
}

Test(clients, v3_user_for_any_engine)
{
	size_t n = v3_trap(NULL, "anyengine", "authPriv", "SHA", "AES", "0x80000000aabbccdd",
			   AUTH_PASS, PRIV_PASS);
	struct trap_snmp_msg m;
	cr_assert_eq(decode(&cfg, dgram, n, &m), TRAP_SNMP_OK);
	assert_bytes(&m.engine_id, "\x80\x00\x00\x00\xaa\xbb\xcc\xdd", 8);
	assert_bytes(&m.user_name, "anyengine", 9);
}

Test(clients, v3_lower_level_where_allowed)
{
	/* lowok has keys for authPriv but accepts any level */
	size_t n =
	    v3_trap(NULL, "lowok", "authNoPriv", "SHA", NULL, AGENT_ENGINE_HEX, AUTH_PASS, NULL);
	assert_v3("lowok", TRAP_SNMP_LEVEL_AUTH_NOPRIV, n);
}

/* ---- informs -------------------------------------------------------------- */

static void respond(struct udp_sink *s, const struct trap_snmp_msg *m, const struct sockaddr_in *to)
{
	uint8_t out[65536];
	long n = trap_snmp_response_encode(m, out, sizeof out);
	cr_assert_gt(n, 0);
	cr_assert_eq(sendto(s->fd, out, (size_t)n, 0, (const struct sockaddr *)to, sizeof *to), n);
}

Test(clients, v2c_inform_acknowledged)
{
	struct udp_sink s;
	sink_open(&s);
	const char *argv[] = {"snmpinform", "-v", "2c", "-c",  "public", "-r",      "0",
			      "-t",         "5",  "%T", "555", TRAP_OID, ALL_TYPES, NULL};
	pid_t pid = tool_start(&s, argv);
	struct sockaddr_in from;
	size_t n = sink_recv(&s, dgram, sizeof dgram, DEADLINE_MS, &from);
	struct trap_snmp_msg m;
	cr_assert_eq(decode(&cfg, dgram, n, &m), TRAP_SNMP_OK);
	cr_assert_eq(m.pdu_type, TRAP_SNMP_PDU_INFORM);
	cr_assert(trap_snmp_msg_is_inform(&m));
	cr_assert_eq(m.sys_uptime, 555);
	assert_all_types(&m);
	respond(&s, &m, &from);
	/* snmpinform exits 0 only once it has our Response-PDU */
	cr_assert_eq(tool_wait(pid, DEADLINE_MS), 0);
	sink_close(&s);
	corpus_write("v2c_inform", dgram, n);
}

Test(clients, v2c_inform_retransmission_is_one_trap)
{
	struct udp_sink s;
	sink_open(&s);
	const char *argv[] = {"snmpinform", "-v", "2c", "-c",     "public", "-r", "3", "-t",
			      "1",          "%T", "",   TRAP_OID, VB(1),    "i",  "9", NULL};
	pid_t pid = tool_start(&s, argv);
	struct sockaddr_in from;
	uint8_t first[2048], id1[2048], id2[2048];
	size_t n1 = sink_recv(&s, first, sizeof first, DEADLINE_MS, NULL);
	size_t n2 = sink_recv(&s, dgram, sizeof dgram, DEADLINE_MS, &from); /* unanswered: again */
	struct trap_snmp_msg m1, m2;
	cr_assert_eq(decode(&cfg, first, n1, &m1), TRAP_SNMP_OK);
	long l1 = trap_snmp_identity(&m1, id1, sizeof id1);
	cr_assert_eq(decode(&cfg, dgram, n2, &m2), TRAP_SNMP_OK);
	long l2 = trap_snmp_identity(&m2, id2, sizeof id2);
	/* same request-id and identity: the receiver takes it as the same trap */
	cr_assert_eq(m1.request_id, m2.request_id);
	cr_assert_eq(l1, l2);
	cr_assert_eq(memcmp(id1, id2, (size_t)l1), 0);
	respond(&s, &m2, &from);
	cr_assert_eq(tool_wait(pid, DEADLINE_MS), 0);
	sink_close(&s);
}

/* snmpinform -v3 -e <our engine>: it skips discovery and sends the inform
 * with keys localized to our engine; it exits 0 only once our v3 Response
 * (signed, encrypted, with our boots and time) has passed its checks. */
static void v3_inform(const char *user, const char *level, const char *auth, const char *priv)
{
	struct udp_sink s;
	sink_open(&s);
	const char *argv[40];
	size_t a = 0;
	const char *head[] = {"snmpinform", "-v3", "-e", AGENT_ENGINE_HEX,
			      "-u",         user,  "-l", level,
			      "-r",         "0",   "-t", "5"};
	for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
		argv[a++] = head[i];
	if (auth) {
		const char *more[] = {"-a", auth, "-A", AUTH_PASS};
		for (size_t i = 0; i < 4; i++)
			argv[a++] = more[i];
	}
	if (priv) {
		const char *more[] = {"-x", priv, "-X", PRIV_PASS};
		for (size_t i = 0; i < 4; i++)
			argv[a++] = more[i];
	}
	const char *tail[] = {"%T", "", TRAP_OID, VB(1), "i", "5", VB(4), "s", "inform", NULL};
	for (size_t i = 0; i < sizeof tail / sizeof tail[0]; i++)
		argv[a++] = tail[i];
	pid_t pid = tool_start(&s, argv);
	struct sockaddr_in from;
	static uint8_t scratch[65536];
	size_t n = sink_recv(&s, dgram, sizeof dgram, DEADLINE_MS, &from);
	char name[64];
	snprintf(name, sizeof name, "v3_inform_%s", user);
	corpus_write(name, dgram, n);
	struct trap_snmp_msg m;
	enum trap_snmp_drop rc = trap_snmp_decode(&cfg, dgram, n, scratch, sizeof scratch, &m);
	cr_assert_eq(rc, TRAP_SNMP_OK, "%s", trap_snmp_drop_name(rc));
	cr_assert_eq(m.version, TRAP_SNMP_V3);
	cr_assert(trap_snmp_msg_is_inform(&m));
	cr_assert_eq(m.msg_flags & 4, 4); /* reportable */
	assert_bytes(&m.user_name, user, strlen(user));
	uint8_t out[2048];
	cr_assert_eq(trap_snmp_response_encode(&m, out, sizeof out), DUET_EINVAL, "v2c only");

	const uint8_t salt[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	struct trap_snmp_engine other = {(const uint8_t *)"\x80\0\0\0\1\2\3\5", 8, 1, 100};
	cr_assert_eq(trap_snmp_response_encode_v3(&cfg, &m, &other, salt, out, sizeof out),
		     DUET_EINVAL, "not our engine");
	struct trap_snmp_engine local = {AGENT_ENGINE, sizeof AGENT_ENGINE, 3, 1000};
	long len = trap_snmp_response_encode_v3(&cfg, &m, &local, salt, out, sizeof out);
	cr_assert_gt(len, 0);
	for (size_t cap = 0; cap < (size_t)len; cap += 7)
		cr_assert_eq(trap_snmp_response_encode_v3(&cfg, &m, &local, salt, out, cap),
			     DUET_ETOOBIG);
	cr_assert_eq(trap_snmp_response_encode_v3(&cfg, &m, &local, salt, out, sizeof out), len);
	cr_assert_eq(sendto(s.fd, out, (size_t)len, 0, (struct sockaddr *)&from, sizeof from), len);
	cr_assert_eq(tool_wait(pid, DEADLINE_MS), 0, "snmpinform refused our v3 Response");
	sink_close(&s);
}

Test(clients, v3_inform_sha_aes_acknowledged)
{
	v3_inform("shaaes", "authPriv", "SHA", "AES");
}

Test(clients, v3_inform_md5_des_acknowledged)
{
	v3_inform("md5des", "authPriv", "MD5", "DES");
}

Test(clients, v3_inform_sha512_aes_acknowledged)
{
	v3_inform("sha512aes", "authPriv", "SHA-512", "AES");
}

Test(clients, v3_inform_auth_no_priv_acknowledged)
{
	v3_inform("shaauth", "authNoPriv", "SHA", NULL);
}

Test(clients, v3_inform_no_auth_acknowledged)
{
	v3_inform("noauth", "noAuthNoPriv", NULL, NULL);
}

Test(clients, v3_trap_gets_no_response)
{
	size_t n = v3_trap(NULL, "shaaes", "authPriv", "SHA", "AES", AGENT_ENGINE_HEX, AUTH_PASS,
			   PRIV_PASS);
	struct trap_snmp_msg m;
	cr_assert_eq(decode(&cfg, dgram, n, &m), TRAP_SNMP_OK);
	struct trap_snmp_engine local = {AGENT_ENGINE, sizeof AGENT_ENGINE, 3, 1000};
	uint8_t out[2048];
	const uint8_t salt[8] = {0};
	cr_assert_eq(trap_snmp_response_encode_v3(&cfg, &m, &local, salt, out, sizeof out),
		     DUET_EINVAL);
}
