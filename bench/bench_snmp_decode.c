/* SPDX-License-Identifier: MIT */
/*
 * bench_snmp_decode.c - bench-snmp-decode: how many SNMP traps one core
 * takes per second through what the daemon does for each (DESIGN.md
 * section 5): trap_snmp_decode(), trap_snmp_identity(), duet_trap_identity()
 * (SHA-256 over kind, sender and content) and trap_snmp_json().
 *
 * The datagrams are built in memory at start by a small BER writer here,
 * not captured from snmptrap: the run is deterministic and needs no
 * net-snmp. They are what an agent sends for a link going down:
 *
 *   v2c: community "public", SNMPv2-Trap, sysUpTime.0, snmpTrapOID.0 =
 *        linkDown, then ifIndex.3 (INTEGER), ifDescr.3 (OCTET STRING),
 *        ifAdminStatus.3 (INTEGER up), ifOperStatus.3 (INTEGER down) and
 *        ifAlias.3 (OCTET STRING): 5 varbinds of mixed types;
 *   v3:  the same PDU with USM authPriv (HMAC-SHA-96, CFB128-AES-128), the
 *        user configured with the agent's engine id as snmptrap -e gives it
 *        (keys localized once at start, as the daemon's config does). The
 *        PDU is encrypted here with libcrypto and signed with
 *        trap_snmp_usm_resign(); the decoder then checks it like any other.
 *
 * Prints one "name: value" a line:
 *   snmp_v2c_decode_per_s              the four steps, v2c
 *   snmp_v2c_decode_only_per_s         trap_snmp_decode() alone, v2c
 *   snmp_v3_authpriv_decode_per_s      the four steps, v3 authPriv
 *   snmp_v3_authpriv_decode_only_per_s trap_snmp_decode() alone, v3
 * then the sizes involved (datagram, identity content, JSON). Each figure
 * is a loop on one thread for --seconds (default 2) after a short warm-up.
 * Never asserted by tests (tests do not judge speed).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "duet/entry.h"
#include "duet/traps.h"
#include "duet/traps_snmp.h"

#define PROG              "bench-snmp-decode"
#define DEFAULT_SECONDS   2.0
#define WARMUP_ITERATIONS 2000
#define CHECK_EVERY       256 /* iterations between clock reads */
#define MAX_DGRAM_BYTES   1500
#define JSON_BYTES        8192
#define IDENTITY_BYTES    4096
#define SENDER            "192.0.2.10"
#define COMMUNITY         "public"
#define V3_USER           "benchuser"
#define V3_AUTH_PASS      "benchauthpass"
#define V3_PRIV_PASS      "benchprivpass"
#define V3_MAC_BYTES      12 /* HMAC-SHA-96 */
#define V3_SALT_BYTES     8
#define V3_AES_KEY_BYTES  16
#define V3_MSG_MAX_SIZE   65507
#define V3_FLAGS_AUTHPRIV 0x03
#define V3_USM_MODEL      3

static const uint8_t ENGINE_ID[8] = {0x80, 0, 0, 0, 1, 2, 3, 4};
static const uint8_t SALT[V3_SALT_BYTES] = {0, 0, 0, 7, 0, 0, 0x30, 0x39};
static const uint32_t ENGINE_BOOTS = 7, ENGINE_TIME = 12345;

/* ---- a small BER writer (content built inside out, as nested buffers) ------ */

struct ber {
	uint8_t b[MAX_DGRAM_BYTES];
	size_t n;
	bool overflow;
};

static void ber_tlv(struct ber *o, uint8_t tag, const void *content, size_t len)
{
	uint8_t head[6];
	size_t h = 0;
	head[h++] = tag;
	if (len < 0x80) {
		head[h++] = (uint8_t)len;
	} else if (len < 0x100) {
		head[h++] = 0x81;
		head[h++] = (uint8_t)len;
	} else {
		head[h++] = 0x82;
		head[h++] = (uint8_t)(len >> 8);
		head[h++] = (uint8_t)len;
	}
	if (o->overflow || len > 0xffff || o->n + h + len > sizeof o->b) {
		o->overflow = true;
		return;
	}
	memcpy(o->b + o->n, head, h);
	if (len)
		memcpy(o->b + o->n + h, content, len);
	o->n += h + len;
}

static void ber_wrap(struct ber *o, uint8_t tag, const struct ber *inner)
{
	if (inner->overflow)
		o->overflow = true;
	ber_tlv(o, tag, inner->b, inner->n);
}

/* INTEGER (or an application integer type when tag says so), minimal
 * two's complement. */
static void ber_int(struct ber *o, uint8_t tag, int64_t v)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)((uint64_t)v >> (56 - 8 * i));
	int s = 0;
	while (s < 7 && ((b[s] == 0 && !(b[s + 1] & 0x80)) || (b[s] == 0xff && (b[s + 1] & 0x80))))
		s++;
	ber_tlv(o, tag, b + s, (size_t)(8 - s));
}

static void ber_octets(struct ber *o, const void *p, size_t len)
{
	ber_tlv(o, TRAP_SNMP_TAG_OCTET_STRING, p, len);
}

static void ber_oid(struct ber *o, const char *dotted)
{
	uint32_t arcs[TRAP_SNMP_MAX_OID_ARCS];
	size_t n = 0;
	for (const char *p = dotted; *p && n < TRAP_SNMP_MAX_OID_ARCS;) {
		char *end;
		arcs[n++] = (uint32_t)strtoul(p, &end, 10);
		p = *end == '.' ? end + 1 : end;
	}
	uint8_t c[TRAP_SNMP_MAX_OID_BYTES];
	size_t len = 0;
	for (size_t i = 1; i < n; i++) {
		uint32_t v = i == 1 ? arcs[0] * 40 + arcs[1] : arcs[i];
		uint8_t sept[5];
		size_t k = 0;
		do {
			sept[k++] = v & 0x7f;
			v >>= 7;
		} while (v);
		while (k > 1)
			c[len++] = (uint8_t)(0x80 | sept[--k]);
		c[len++] = sept[0];
	}
	ber_tlv(o, TRAP_SNMP_TAG_OID, c, len);
}

/* One varbind { name, value } appended to a VarBindList's content. */
static void ber_varbind(struct ber *list, const char *oid, const struct ber *value)
{
	struct ber vb = {.n = 0};
	ber_oid(&vb, oid);
	if (value->overflow)
		vb.overflow = true;
	if (vb.n + value->n <= sizeof vb.b) {
		memcpy(vb.b + vb.n, value->b, value->n);
		vb.n += value->n;
	} else {
		vb.overflow = true;
	}
	ber_wrap(list, TRAP_SNMP_TAG_SEQUENCE, &vb);
}

/* The SNMPv2-Trap PDU of a linkDown on interface 3. */
static void linkdown_pdu(struct ber *pdu, int64_t request_id)
{
	struct ber list = {.n = 0}, v;
	static const char descr[] = "GigabitEthernet0/3";
	static const char alias[] = "uplink to core-sw1 port 24";

	v = (struct ber){.n = 0};
	ber_int(&v, TRAP_SNMP_TAG_TIME_TICKS, 8640123); /* 23:59:59 */
	ber_varbind(&list, "1.3.6.1.2.1.1.3.0", &v);    /* sysUpTime.0 */
	v = (struct ber){.n = 0};
	ber_oid(&v, "1.3.6.1.6.3.1.1.5.3");              /* linkDown */
	ber_varbind(&list, "1.3.6.1.6.3.1.1.4.1.0", &v); /* snmpTrapOID.0 */
	v = (struct ber){.n = 0};
	ber_int(&v, TRAP_SNMP_TAG_INTEGER, 3);
	ber_varbind(&list, "1.3.6.1.2.1.2.2.1.1.3", &v); /* ifIndex.3 */
	v = (struct ber){.n = 0};
	ber_octets(&v, descr, sizeof descr - 1);
	ber_varbind(&list, "1.3.6.1.2.1.2.2.1.2.3", &v); /* ifDescr.3 */
	v = (struct ber){.n = 0};
	ber_int(&v, TRAP_SNMP_TAG_INTEGER, 1);
	ber_varbind(&list, "1.3.6.1.2.1.2.2.1.7.3", &v); /* ifAdminStatus.3 = up */
	v = (struct ber){.n = 0};
	ber_int(&v, TRAP_SNMP_TAG_INTEGER, 2);
	ber_varbind(&list, "1.3.6.1.2.1.2.2.1.8.3", &v); /* ifOperStatus.3 = down */
	v = (struct ber){.n = 0};
	ber_octets(&v, alias, sizeof alias - 1);
	ber_varbind(&list, "1.3.6.1.2.1.31.1.1.1.18.3", &v); /* ifAlias.3 */

	struct ber body = {.n = 0};
	ber_int(&body, TRAP_SNMP_TAG_INTEGER, request_id);
	ber_int(&body, TRAP_SNMP_TAG_INTEGER, 0); /* error-status */
	ber_int(&body, TRAP_SNMP_TAG_INTEGER, 0); /* error-index */
	ber_wrap(&body, TRAP_SNMP_TAG_SEQUENCE, &list);
	pdu->n = 0;
	ber_wrap(pdu, TRAP_SNMP_PDU_TRAP_V2, &body);
}

static void build_v2c(struct ber *out)
{
	struct ber pdu = {.n = 0}, msg = {.n = 0};
	linkdown_pdu(&pdu, 1804289383);
	ber_int(&msg, TRAP_SNMP_TAG_INTEGER, TRAP_SNMP_V2C);
	ber_octets(&msg, COMMUNITY, strlen(COMMUNITY));
	memcpy(msg.b + msg.n, pdu.b, pdu.n);
	msg.n += pdu.n;
	out->n = 0;
	ber_wrap(out, TRAP_SNMP_TAG_SEQUENCE, &msg);
}

/* CFB128-AES-128 of RFC 3826 3.1.2.1: key = the first 16 octets of the
 * localized privacy key, IV = boots || time || salt. 0 or -1. */
static int aes_encrypt(const uint8_t *key, const uint8_t *in, size_t len, uint8_t *out)
{
	uint8_t iv[16];
	for (int i = 0; i < 4; i++) {
		iv[i] = (uint8_t)(ENGINE_BOOTS >> (24 - 8 * i));
		iv[4 + i] = (uint8_t)(ENGINE_TIME >> (24 - 8 * i));
	}
	memcpy(iv + 8, SALT, V3_SALT_BYTES);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n1 = 0, n2 = 0;
	int ok = ctx && EVP_EncryptInit_ex(ctx, EVP_aes_128_cfb128(), NULL, key, iv) &&
		 EVP_EncryptUpdate(ctx, out, &n1, in, (int)len) &&
		 EVP_EncryptFinal_ex(ctx, out + n1, &n2) && (size_t)(n1 + n2) == len;
	EVP_CIPHER_CTX_free(ctx);
	return ok ? 0 : -1;
}

/* The v3 authPriv message; cfg must hold the user (for the signature). */
static int build_v3(const struct trap_snmp_config *cfg, struct ber *out)
{
	uint8_t ku[TRAP_SNMP_MAX_KEY_BYTES], kul[TRAP_SNMP_MAX_KEY_BYTES];
	long kn = trap_snmp_password_to_key(TRAP_SNMP_AUTH_SHA1, V3_PRIV_PASS, strlen(V3_PRIV_PASS),
					    ku, sizeof ku);
	if (kn <= 0 || trap_snmp_localize_key(TRAP_SNMP_AUTH_SHA1, ku, (size_t)kn, ENGINE_ID,
					      sizeof ENGINE_ID, kul, sizeof kul) <= 0)
		return -1;

	struct ber pdu = {.n = 0}, scoped_body = {.n = 0}, scoped = {.n = 0};
	linkdown_pdu(&pdu, 1957747793);
	ber_octets(&scoped_body, ENGINE_ID, sizeof ENGINE_ID); /* contextEngineID */
	ber_octets(&scoped_body, "", 0);                       /* contextName */
	memcpy(scoped_body.b + scoped_body.n, pdu.b, pdu.n);
	scoped_body.n += pdu.n;
	ber_wrap(&scoped, TRAP_SNMP_TAG_SEQUENCE, &scoped_body);
	uint8_t cipher[MAX_DGRAM_BYTES];
	if (scoped.overflow || aes_encrypt(kul, scoped.b, scoped.n, cipher) != 0)
		return -1;

	struct ber global = {.n = 0}, usm = {.n = 0}, usm_seq = {.n = 0}, msg = {.n = 0};
	uint8_t flags = V3_FLAGS_AUTHPRIV;
	uint8_t zero_mac[V3_MAC_BYTES] = {0};
	ber_int(&global, TRAP_SNMP_TAG_INTEGER, 1178); /* msgID */
	ber_int(&global, TRAP_SNMP_TAG_INTEGER, V3_MSG_MAX_SIZE);
	ber_octets(&global, &flags, 1);
	ber_int(&global, TRAP_SNMP_TAG_INTEGER, V3_USM_MODEL);
	ber_octets(&usm, ENGINE_ID, sizeof ENGINE_ID);
	ber_int(&usm, TRAP_SNMP_TAG_INTEGER, ENGINE_BOOTS);
	ber_int(&usm, TRAP_SNMP_TAG_INTEGER, ENGINE_TIME);
	ber_octets(&usm, V3_USER, strlen(V3_USER));
	ber_octets(&usm, zero_mac, sizeof zero_mac); /* filled by the signature */
	ber_octets(&usm, SALT, sizeof SALT);
	ber_wrap(&usm_seq, TRAP_SNMP_TAG_SEQUENCE, &usm);
	ber_int(&msg, TRAP_SNMP_TAG_INTEGER, TRAP_SNMP_V3);
	ber_wrap(&msg, TRAP_SNMP_TAG_SEQUENCE, &global);
	ber_wrap(&msg, TRAP_SNMP_TAG_OCTET_STRING, &usm_seq);
	ber_octets(&msg, cipher, scoped.n);
	out->n = 0;
	ber_wrap(out, TRAP_SNMP_TAG_SEQUENCE, &msg);
	if (out->overflow)
		return -1;
	return trap_snmp_usm_resign(cfg, out->b, out->n);
}

/* ---- the measurement ------------------------------------------------------------- */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct workbench {
	const struct trap_snmp_config *cfg;
	const uint8_t *dgram;
	size_t len;
	uint8_t scratch[MAX_DGRAM_BYTES];
	struct trap_snmp_msg msg;
	uint8_t identity[IDENTITY_BYTES];
	long identity_len;
	uint8_t digest[DUET_TRAP_IDENTITY_BYTES];
	char json[JSON_BYTES];
	long json_len;
};

/* One trap through the daemon's steps (decode only if !full). 0 or -1. */
static int one_trap(struct workbench *w, bool full)
{
	enum trap_snmp_drop why =
	    trap_snmp_decode(w->cfg, w->dgram, w->len, w->scratch, sizeof w->scratch, &w->msg);
	if (why != TRAP_SNMP_OK) {
		fprintf(stderr, PROG ": the datagram was refused: %s\n", trap_snmp_drop_name(why));
		return -1;
	}
	if (!full)
		return 0;
	w->identity_len = trap_snmp_identity(&w->msg, w->identity, sizeof w->identity);
	if (w->identity_len <= 0 || duet_trap_identity(DUET_TRAP_SNMP, SENDER, w->identity,
						       (size_t)w->identity_len, w->digest) != 0) {
		fprintf(stderr, PROG ": identity failed (%ld)\n", w->identity_len);
		return -1;
	}
	w->json_len = trap_snmp_json(&w->msg, w->json, sizeof w->json);
	if (w->json_len <= 0) {
		fprintf(stderr, PROG ": JSON failed (%ld)\n", w->json_len);
		return -1;
	}
	return 0;
}

/* Traps per second over `seconds`; -1 on failure. */
static double measure(struct workbench *w, bool full, double seconds)
{
	for (int i = 0; i < WARMUP_ITERATIONS; i++)
		if (one_trap(w, full) != 0)
			return -1;
	uint64_t budget = (uint64_t)(seconds * 1e9);
	uint64_t start = now_ns(), elapsed = 0, done = 0;
	do {
		for (int i = 0; i < CHECK_EVERY; i++)
			if (one_trap(w, full) != 0)
				return -1;
		done += CHECK_EVERY;
		elapsed = now_ns() - start;
	} while (elapsed < budget);
	return (double)done * 1e9 / (double)elapsed;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [--seconds S]\n"
		"\n"
		"Decodes an in-memory SNMP linkDown trap (v2c, then v3 authPriv) in a loop\n"
		"on one thread, with identity, SHA-256 and JSON as the daemon does, and\n"
		"prints one \"name: value\" a line: snmp_v2c_decode_per_s,\n"
		"snmp_v2c_decode_only_per_s, snmp_v3_authpriv_decode_per_s,\n"
		"snmp_v3_authpriv_decode_only_per_s, then the sizes involved.\n"
		"\n"
		"  --seconds S   time per figure (default %.0f; decimals allowed)\n"
		"  --help        this text\n"
		"\n"
		"Exit status: 0, 1 if the benchmark failed, 2 for a usage error.\n",
		DEFAULT_SECONDS);
}

int main(int argc, char **argv)
{
	static const struct option long_opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"seconds", required_argument, NULL, 's'},
	    {NULL, 0, NULL, 0},
	};
	double seconds = DEFAULT_SECONDS;
	int opt;
	while ((opt = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage(stdout);
			return 0;
		case 's': {
			char *end;
			errno = 0;
			seconds = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(seconds > 0) || seconds > 3600) {
				fprintf(stderr,
					PROG ": --seconds wants a number above 0 and at most 3600, "
					     "not '%s'\n",
					optarg);
				return 2;
			}
			break;
		}
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	static struct trap_snmp_config cfg; /* about 51 KiB */
	static struct workbench w;          /* a decoded message is about 6 KiB */
	static struct ber v2c, v3;
	trap_snmp_config_init(&cfg);
	struct trap_snmp_user_spec user = {
	    .name = V3_USER,
	    .engine_id = ENGINE_ID,
	    .engine_id_len = sizeof ENGINE_ID,
	    .auth = TRAP_SNMP_AUTH_SHA1,
	    .auth_kind = TRAP_SNMP_KEY_PASSWORD,
	    .auth_secret = (const uint8_t *)V3_AUTH_PASS,
	    .auth_secret_len = strlen(V3_AUTH_PASS),
	    .priv = TRAP_SNMP_PRIV_AES128,
	    .priv_kind = TRAP_SNMP_KEY_PASSWORD,
	    .priv_secret = (const uint8_t *)V3_PRIV_PASS,
	    .priv_secret_len = strlen(V3_PRIV_PASS),
	};
	int rc = trap_snmp_config_add_community(&cfg, COMMUNITY, strlen(COMMUNITY));
	if (rc == 0)
		rc = trap_snmp_config_add_user(&cfg, &user);
	if (rc != 0) {
		fprintf(stderr, PROG ": cannot configure the receiver: error %d\n", rc);
		trap_snmp_config_close(&cfg);
		return 1;
	}
	build_v2c(&v2c);
	if (v2c.overflow || build_v3(&cfg, &v3) != 0) {
		fprintf(stderr, PROG ": cannot build the test datagrams\n");
		trap_snmp_config_close(&cfg);
		return 1;
	}

	w.cfg = &cfg;
	w.dgram = v2c.b;
	w.len = v2c.n;
	double v2c_full = measure(&w, true, seconds);
	double v2c_only = v2c_full < 0 ? -1 : measure(&w, false, seconds);
	long v2c_identity = w.identity_len, v2c_json = w.json_len;
	if (v2c_only >= 0 && (w.msg.version != TRAP_SNMP_V2C || w.msg.n_varbinds != 5)) {
		fprintf(stderr,
			PROG ": v2c decoded as version %d with %u varbinds, not 2c with 5\n",
			(int)w.msg.version, w.msg.n_varbinds);
		v2c_only = -1;
	}
	w.dgram = v3.b;
	w.len = v3.n;
	double v3_full = v2c_only < 0 ? -1 : measure(&w, true, seconds);
	double v3_only = v3_full < 0 ? -1 : measure(&w, false, seconds);
	if (v3_only >= 0 &&
	    (w.msg.security_level != TRAP_SNMP_LEVEL_AUTH_PRIV || w.msg.n_varbinds != 5)) {
		fprintf(stderr,
			PROG ": v3 decoded at level %d with %u varbinds, not authPriv with 5\n",
			(int)w.msg.security_level, w.msg.n_varbinds);
		v3_only = -1;
	}
	trap_snmp_config_close(&cfg);
	if (v3_only < 0)
		return 1;

	printf("snmp_v2c_decode_per_s: %.0f\n", v2c_full);
	printf("snmp_v2c_decode_only_per_s: %.0f\n", v2c_only);
	printf("snmp_v3_authpriv_decode_per_s: %.0f\n", v3_full);
	printf("snmp_v3_authpriv_decode_only_per_s: %.0f\n", v3_only);
	printf("snmp_v2c_datagram_bytes: %zu\n", v2c.n);
	printf("snmp_v3_datagram_bytes: %zu\n", v3.n);
	printf("snmp_identity_content_bytes: %ld\n", v2c_identity);
	printf("snmp_json_bytes: %ld\n", v2c_json);
	printf("config_seconds_per_figure: %.3f\n", seconds);
	return 0;
}
