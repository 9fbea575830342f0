/* SPDX-License-Identifier: MIT */
/*
 * helpers.h - what the traps_snmp tests share: the test config (communities
 * and USM users matching the snmptrap command lines), real net-snmp clients
 * run against a UDP socket on 127.0.0.1 with deadlines, and a small BER
 * builder for datagrams no client would send.
 */
#ifndef DUET_TEST_TRAPS_SNMP_HELPERS_H
#define DUET_TEST_TRAPS_SNMP_HELPERS_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "duet/traps_snmp.h"

/* snmptrap -e value of the test agent, and the same octets */
#define AGENT_ENGINE_HEX "0x8000000001020304"
extern const uint8_t AGENT_ENGINE[8];
#define AUTH_PASS     "authpass1"
#define PRIV_PASS     "privpass1"
#define DEADLINE_MS   10000
#define TEST_TRAP_OID "1.3.6.1.4.1.8072.2.3.0.1"
#define TEST_VB(n)    "1.3.6.1.4.1.8072.2.3.2." #n

/* Community "public"; users (all with AUTH_PASS / PRIV_PASS, engine
 * AGENT_ENGINE unless said): shaaes (SHA1/AES), md5des (MD5/DES),
 * sha256aes, sha512aes, shaauth (SHA1, no priv), noauth, anyengine
 * (SHA1/AES, any engine id), lowok (SHA1/AES, accepts noAuthNoPriv). */
void test_config(struct trap_snmp_config *cfg);

/* A UDP socket bound to 127.0.0.1 on a free port. */
struct udp_sink {
	int fd;
	uint16_t port;
	char target[32]; /* "127.0.0.1:PORT" */
};
void sink_open(struct udp_sink *s);
void sink_close(struct udp_sink *s);
/* Receives one datagram within timeout_ms (the test fails otherwise). */
size_t sink_recv(struct udp_sink *s, uint8_t *buf, size_t cap, int timeout_ms,
		 struct sockaddr_in *from);
/* True if no datagram arrives within timeout_ms. */
int sink_quiet(struct udp_sink *s, int timeout_ms);

/* Runs a net-snmp tool (argv[0] looked up in PATH) with a private config and
 * persistent dir, output to a log file. "%T" in argv becomes s->target. */
pid_t tool_start(const struct udp_sink *s, const char *const argv[]);
/* Waits for the tool's exit within timeout_ms and returns its exit status
 * (the test fails on a timeout, after killing it). */
int tool_wait(pid_t pid, int timeout_ms);

/* Runs a tool that sends one datagram (snmptrap) and returns the datagram;
 * the tool must exit 0. With DUET_SNMP_CORPUS_DIR set in the environment,
 * the datagram is also written there as file `name` (fuzz seeds). */
size_t capture(const char *name, const char *const argv[], uint8_t *buf, size_t cap);
/* With DUET_SNMP_CORPUS_DIR set, writes buf there as file `name` (if not NULL). */
void corpus_write(const char *name, const uint8_t *buf, size_t n);

/* snmptrap -v3 -e engine -E engine -u user -l level [-a auth -A auth_pass] [-x priv -X
 * priv_pass] -Z 7,12345 -n ctx, uptime 999, trap TEST_TRAP_OID, varbinds
 * TEST_VB(1) i 42 and TEST_VB(4) s "v3"; see capture(). */
size_t v3_capture(const char *name, const char *user, const char *level, const char *auth,
		  const char *priv, const char *engine, const char *auth_pass,
		  const char *priv_pass, uint8_t *buf, size_t cap);

/* Decodes with the test config (fresh scratch); returns the reason. */
enum trap_snmp_drop decode(const struct trap_snmp_config *cfg, const uint8_t *buf, size_t len,
			   struct trap_snmp_msg *msg);
/* Same on an exact-size heap copy, so ASan sees any overread. */
enum trap_snmp_drop decode_exact(const struct trap_snmp_config *cfg, const uint8_t *buf,
				 size_t len);

/* ---- BER builder ---- */
struct blob {
	uint8_t b[4096];
	size_t n;
};
void blob_tlv(struct blob *o, uint8_t tag, const void *content, size_t len);
void blob_wrap(struct blob *o, uint8_t tag, const struct blob *inner);
void blob_int(struct blob *o, int64_t v);
void blob_oid(struct blob *o, const char *dotted);
/* A varbind { oid, value TLV } appended to a VarBindList's content. */
void blob_varbind(struct blob *list, const char *oid, uint8_t tag, const void *v, size_t len);
/* v2c message around a PDU: Message { 1, community, [pdu_tag] pdu } */
void blob_v2c(struct blob *out, const char *community, uint8_t pdu_tag, int64_t request_id,
	      const struct blob *varbinds);

/* Hex helper for assertions on octets. */
void hex_decode(const char *hex, uint8_t *out, size_t *len);

#endif
