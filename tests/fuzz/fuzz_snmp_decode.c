/* SPDX-License-Identifier: MIT */
/*
 * fuzz_snmp_decode.c - libFuzzer target for trap_snmp_decode()
 * (traps_snmp.h) with a fixed config: community "public" and the v3
 * users of tests/unit/traps_snmp (shaaes, md5des, sha256aes, sha512aes,
 * shaauth, noauth; engine 0x8000000001020304, same passwords), whose
 * snmptrap datagrams are the seeds (DUET_SNMP_CORPUS_DIR).
 *
 * Any input must be refused or decoded without an overread; once decoded,
 * the identity and the JSON must be produced, the JSON must be valid JSON
 * and valid UTF-8, decoding again must give the same bytes, and an
 * inform's Response must decode (as far as its PDU) with the same config:
 * signed and encrypted with the right keys. Each v3
 * authenticated input is also tried re-signed (trap_snmp_usm_resign) so the
 * fuzzer gets past the HMAC to the decryption and the ScopedPDU.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/config/json_check.h"
#include "duet/traps_snmp.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t ENGINE[] = {0x80, 0, 0, 0, 1, 2, 3, 4};

static struct trap_snmp_config *config(void)
{
	static struct trap_snmp_config *cfg;
	if (cfg)
		return cfg;
	cfg = malloc(sizeof *cfg);
	FUZZ_CHECK(cfg != NULL);
	trap_snmp_config_init(cfg);
	FUZZ_CHECK(trap_snmp_config_add_community(cfg, "public", 6) == 0);
	struct trap_snmp_user_spec u = {
	    .engine_id = ENGINE,
	    .engine_id_len = sizeof ENGINE,
	    .auth_secret = (const uint8_t *)"authpass1",
	    .auth_secret_len = 9,
	    .priv_secret = (const uint8_t *)"privpass1",
	    .priv_secret_len = 9,
	};
	u.name = "shaaes";
	u.auth = TRAP_SNMP_AUTH_SHA1;
	u.priv = TRAP_SNMP_PRIV_AES128;
	FUZZ_CHECK(trap_snmp_config_add_user(cfg, &u) == 0);
	u.name = "md5des";
	u.auth = TRAP_SNMP_AUTH_MD5;
	u.priv = TRAP_SNMP_PRIV_DES;
	FUZZ_CHECK(trap_snmp_config_add_user(cfg, &u) == 0);
	u.name = "sha256aes";
	u.auth = TRAP_SNMP_AUTH_SHA256;
	u.priv = TRAP_SNMP_PRIV_AES128;
	FUZZ_CHECK(trap_snmp_config_add_user(cfg, &u) == 0);
	u.name = "sha512aes";
	u.auth = TRAP_SNMP_AUTH_SHA512;
	FUZZ_CHECK(trap_snmp_config_add_user(cfg, &u) == 0);
	u.name = "shaauth";
	u.auth = TRAP_SNMP_AUTH_SHA1;
	u.priv = TRAP_SNMP_PRIV_NONE;
	FUZZ_CHECK(trap_snmp_config_add_user(cfg, &u) == 0);
	u.name = "noauth";
	u.auth = TRAP_SNMP_AUTH_NONE;
	u.priv = TRAP_SNMP_PRIV_NONE;
	FUZZ_CHECK(trap_snmp_config_add_user(cfg, &u) == 0);
	return cfg;
}

static int utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = s[i];
		size_t k = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : 3;
		if ((c & 0xf8) == 0xf8 || (c & 0xc0) == 0x80 || n - i <= k)
			return 0;
		uint32_t cp = k == 0 ? c : k == 1 ? c & 0x1f : k == 2 ? c & 0x0f : c & 0x07;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		static const uint32_t min[] = {0, 0x80, 0x800, 0x10000};
		if (cp < min[k] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += k + 1;
	}
	return 1;
}

/* An inform's Response must be made, and must pass our own decoder up to
 * its PDU (which, being a Response, is then refused as no notification):
 * so the v3 one is signed and encrypted right. */
static void check_response(const struct trap_snmp_config *cfg, const struct trap_snmp_msg *msg,
			   size_t size)
{
	size_t cap = size + 512;
	uint8_t *resp = malloc(cap);
	uint8_t *scratch = malloc(cap);
	struct trap_snmp_msg *back = malloc(sizeof *back);
	FUZZ_CHECK(resp && scratch && back);
	static const uint8_t salt[8] = {9, 8, 7, 6, 5, 4, 3, 2};
	struct trap_snmp_engine local = {msg->engine_id.p, msg->engine_id.len, 12, 3456};
	long n;
	if (msg->version == TRAP_SNMP_V3)
		n = trap_snmp_response_encode_v3(cfg, msg, &local, salt, resp, cap);
	else
		n = trap_snmp_response_encode(msg, resp, cap);
	if (!trap_snmp_msg_is_inform(msg)) {
		FUZZ_CHECK(n == DUET_EINVAL);
	} else {
		FUZZ_CHECK(n > 0 || (n == DUET_ETOOBIG && size > 65000));
		if (n > 0)
			FUZZ_CHECK(trap_snmp_decode(cfg, resp, (size_t)n, scratch, cap, back) ==
				   TRAP_SNMP_DROP_NOT_NOTIFICATION);
	}
	free(back);
	free(scratch);
	free(resp);
}

struct rendered {
	enum trap_snmp_drop rc;
	long id_len, json_len;
	uint8_t *id;
	char *json;
};

static void render(const uint8_t *data, size_t size, struct rendered *out)
{
	const struct trap_snmp_config *cfg = config();
	uint8_t *scratch = malloc(size + 1);
	struct trap_snmp_msg *msg = malloc(sizeof *msg);
	FUZZ_CHECK(scratch && msg);
	memset(out, 0, sizeof *out);
	out->rc = trap_snmp_decode(cfg, data, size, scratch, size, msg);
	FUZZ_CHECK((unsigned)out->rc < TRAP_SNMP_DROP_COUNT);
	if (out->rc == TRAP_SNMP_OK) {
		FUZZ_CHECK(msg->n_varbinds <= TRAP_SNMP_MAX_VARBINDS);
		out->id_len = trap_snmp_identity(msg, NULL, 0);
		FUZZ_CHECK(out->id_len > 0);
		out->id = malloc((size_t)out->id_len);
		FUZZ_CHECK(out->id != NULL);
		FUZZ_CHECK(trap_snmp_identity(msg, out->id, (size_t)out->id_len) == out->id_len);
		FUZZ_CHECK(trap_snmp_identity(msg, out->id, (size_t)out->id_len - 1) ==
			   DUET_ETOOBIG);
		/* the worst growth is a control octet as \u007f, 6 bytes for 1 */
		size_t cap = 8 * size + 8192;
		out->json = malloc(cap);
		FUZZ_CHECK(out->json != NULL);
		out->json_len = trap_snmp_json(msg, out->json, cap);
		FUZZ_CHECK(out->json_len > 0);
		FUZZ_CHECK(strlen(out->json) == (size_t)out->json_len);
		FUZZ_CHECK(utf8_valid((const uint8_t *)out->json, (size_t)out->json_len));
		FUZZ_CHECK(json_valid(out->json));
		check_response(cfg, msg, size);
	}
	free(msg);
	free(scratch);
}

static void check(const uint8_t *data, size_t size)
{
	struct rendered a, b;
	render(data, size, &a);
	render(data, size, &b);
	FUZZ_CHECK(a.rc == b.rc);
	FUZZ_CHECK(a.id_len == b.id_len && a.json_len == b.json_len);
	if (a.rc == TRAP_SNMP_OK) {
		FUZZ_CHECK(memcmp(a.id, b.id, (size_t)a.id_len) == 0);
		FUZZ_CHECK(memcmp(a.json, b.json, (size_t)a.json_len) == 0);
	}
	free(a.id);
	free(a.json);
	free(b.id);
	free(b.json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size + 1);
	FUZZ_CHECK(copy != NULL);
	memcpy(copy, data, size);
	check(copy, size);
	if (trap_snmp_usm_resign(config(), copy, size) == 0) {
		struct rendered r;
		render(copy, size, &r);
		FUZZ_CHECK(r.rc != TRAP_SNMP_DROP_WRONG_DIGEST);
		free(r.id);
		free(r.json);
		check(copy, size);
	}
	free(copy);
	return 0;
}
