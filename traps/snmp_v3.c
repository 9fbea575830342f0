/* SPDX-License-Identifier: MIT */
/*
 * snmp_v3.c - the SNMPv3 message (RFC 3412 6) around the User-based
 * Security Model: the header and security parameters, the USM checks of an
 * incoming message in RFC 3414 3.2 order, re-signing (for tests and
 * fuzzing), and the Response-PDU that acknowledges a v3 InformRequest.
 *
 * Keys, HMAC and ciphers are snmp_usm.c's; this file only knows where they
 * apply. The HMAC covers the whole datagram with the authentication
 * parameters read as zeros (RFC 3414 6.3.1), so the datagram is never
 * modified. No time-window check: see traps_snmp.h, "USM".
 */
#include <limits.h>
#include <string.h>

#include "duet/traps_snmp.h"

#define FLAG_AUTH           0x01
#define FLAG_PRIV           0x02
#define PRIV_SALT_BYTES     8
#define DES_BLOCK_BYTES     8
#define USM_SECURITY_MODEL  3
#define RESPONSE_MAX_OCTETS 65507 /* our msgMaxSize: the largest UDP/IPv4 payload */

/* Where the fields of a v3 message are, before any check of its security. */
struct v3_fields {
	int64_t msg_id, msg_max_size;
	uint8_t flags;
	struct trap_snmp_bytes engine_id, user_name, auth_params, priv_params;
	int64_t boots, time;
	struct trap_snmp_tlv data; /* ScopedPDU SEQUENCE, or encryptedPDU OCTET STRING */
};

/* Parses what follows msgVersion (in `rest`, the message SEQUENCE's content). */
static enum trap_snmp_drop v3_parse(struct trap_snmp_ber *rest, struct v3_fields *f)
{
	struct trap_snmp_tlv t, g, s;
	struct trap_snmp_ber in, sp;
	enum trap_snmp_drop rc;
	int64_t model;

	if ((rc = trap_snmp_ber_expect(rest, TRAP_SNMP_TAG_SEQUENCE, &g)))
		return rc;
	trap_snmp_ber_enter(&g, &in);
	if ((rc = trap_snmp_ber_expect(&in, TRAP_SNMP_TAG_INTEGER, &t)) ||
	    (rc = trap_snmp_ber_int(&t, &f->msg_id)))
		return rc;
	if ((rc = trap_snmp_ber_expect(&in, TRAP_SNMP_TAG_INTEGER, &t)) ||
	    (rc = trap_snmp_ber_int(&t, &f->msg_max_size)))
		return rc;
	if ((rc = trap_snmp_ber_expect(&in, TRAP_SNMP_TAG_OCTET_STRING, &t)))
		return rc;
	if (t.len != 1)
		return TRAP_SNMP_DROP_BAD_FLAGS;
	f->flags = t.value[0];
	if ((f->flags & (FLAG_AUTH | FLAG_PRIV)) == FLAG_PRIV)
		return TRAP_SNMP_DROP_BAD_FLAGS;
	if ((rc = trap_snmp_ber_expect(&in, TRAP_SNMP_TAG_INTEGER, &t)) ||
	    (rc = trap_snmp_ber_int(&t, &model)))
		return rc;
	if (!trap_snmp_ber_done(&in))
		return TRAP_SNMP_DROP_TRAILING_DATA;
	if (model != USM_SECURITY_MODEL)
		return TRAP_SNMP_DROP_BAD_SECURITY_MODEL;

	/* msgSecurityParameters: an OCTET STRING holding UsmSecurityParameters */
	if ((rc = trap_snmp_ber_expect(rest, TRAP_SNMP_TAG_OCTET_STRING, &t)))
		return rc;
	trap_snmp_ber_enter(&t, &sp);
	if ((rc = trap_snmp_ber_expect(&sp, TRAP_SNMP_TAG_SEQUENCE, &s)))
		return rc;
	if (!trap_snmp_ber_done(&sp))
		return TRAP_SNMP_DROP_TRAILING_DATA;
	trap_snmp_ber_enter(&s, &in);
	struct trap_snmp_bytes *octets[] = {&f->engine_id,   NULL,           NULL, &f->user_name,
					    &f->auth_params, &f->priv_params};
	int64_t *ints[] = {NULL, &f->boots, &f->time, NULL, NULL, NULL};
	for (int i = 0; i < 6; i++) {
		if (octets[i]) {
			if ((rc = trap_snmp_ber_expect(&in, TRAP_SNMP_TAG_OCTET_STRING, &t)))
				return rc;
			octets[i]->p = t.value;
			octets[i]->len = t.len;
		} else {
			if ((rc = trap_snmp_ber_expect(&in, TRAP_SNMP_TAG_INTEGER, &t)) ||
			    (rc = trap_snmp_ber_int(&t, ints[i])))
				return rc;
			if (*ints[i] < 0 || *ints[i] > INT32_MAX)
				return TRAP_SNMP_DROP_BAD_VALUE;
		}
	}
	if (!trap_snmp_ber_done(&in))
		return TRAP_SNMP_DROP_TRAILING_DATA;

	uint8_t want = (f->flags & FLAG_PRIV) ? TRAP_SNMP_TAG_OCTET_STRING : TRAP_SNMP_TAG_SEQUENCE;
	if ((rc = trap_snmp_ber_expect(rest, want, &f->data)))
		return rc;
	if (!trap_snmp_ber_done(rest))
		return TRAP_SNMP_DROP_TRAILING_DATA;
	return TRAP_SNMP_OK;
}

static enum trap_snmp_level message_level(uint8_t flags)
{
	if (flags & FLAG_PRIV)
		return TRAP_SNMP_LEVEL_AUTH_PRIV;
	return (flags & FLAG_AUTH) ? TRAP_SNMP_LEVEL_AUTH_NOPRIV : TRAP_SNMP_LEVEL_NOAUTH_NOPRIV;
}

/* Compares without an early exit (a MAC). */
static bool equal_in_constant_time(const uint8_t *a, const uint8_t *b, size_t n)
{
	uint8_t diff = 0;
	for (size_t i = 0; i < n; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

/* Sets *good if the message's MAC is right; nonzero if libcrypto failed. */
static int digest_check(const struct trap_snmp_config *cfg, const struct trap_snmp_user *u,
			const uint8_t *dgram, size_t len, const struct v3_fields *f, bool *good)
{
	uint8_t key[TRAP_SNMP_MAX_KEY_BYTES], mac[TRAP_SNMP_MAX_KEY_BYTES];
	int rc = trap_snmp_usm_key(cfg, u, false, &f->engine_id, key);
	if (!rc)
		rc = trap_snmp_usm_mac(cfg, u, key, dgram, len, (size_t)(f->auth_params.p - dgram),
				       f->auth_params.len, mac);
	*good = !rc && equal_in_constant_time(mac, f->auth_params.p, f->auth_params.len);
	memset(key, 0, sizeof key);
	return rc;
}

static enum trap_snmp_drop decrypt(const struct trap_snmp_config *cfg,
				   const struct trap_snmp_user *u, const struct v3_fields *f,
				   uint8_t *scratch, size_t scratch_cap)
{
	size_t len = f->data.len;
	if (f->priv_params.len != PRIV_SALT_BYTES ||
	    (u->priv == TRAP_SNMP_PRIV_DES && len % DES_BLOCK_BYTES != 0) || len > INT_MAX)
		return TRAP_SNMP_DROP_DECRYPT_FAILED;
	if (scratch_cap < len || (len && !scratch))
		return TRAP_SNMP_DROP_NO_SCRATCH;
	uint8_t key[TRAP_SNMP_MAX_KEY_BYTES];
	int rc = trap_snmp_usm_key(cfg, u, true, &f->engine_id, key);
	if (!rc)
		rc = trap_snmp_usm_crypt(cfg, u, false, key, (uint32_t)f->boots, (uint32_t)f->time,
					 f->priv_params.p, f->data.value, len, scratch);
	memset(key, 0, sizeof key);
	return rc ? TRAP_SNMP_DROP_CRYPTO_ERROR : TRAP_SNMP_OK;
}

enum trap_snmp_drop trap_snmp_v3_unwrap(const struct trap_snmp_config *cfg, const uint8_t *dgram,
					size_t len, struct trap_snmp_ber *rest, uint8_t *scratch,
					size_t scratch_cap, struct trap_snmp_msg *msg,
					struct trap_snmp_ber *pdu)
{
	struct v3_fields f;
	enum trap_snmp_drop rc = v3_parse(rest, &f);
	if (rc)
		return rc;
	msg->msg_id = f.msg_id;
	msg->msg_max_size = f.msg_max_size;
	msg->msg_flags = f.flags;
	msg->security_level = message_level(f.flags);
	msg->engine_id = f.engine_id;
	msg->engine_boots = (uint32_t)f.boots;
	msg->engine_time = (uint32_t)f.time;
	msg->user_name = f.user_name;

	const struct trap_snmp_user *u = trap_snmp_usm_find(cfg, &f.user_name, &f.engine_id, &rc);
	if (!u)
		return rc;
	if ((f.flags & FLAG_AUTH) && u->auth == TRAP_SNMP_AUTH_NONE)
		return TRAP_SNMP_DROP_UNSUPPORTED_SEC_LEVEL;
	if ((f.flags & FLAG_PRIV) && u->priv == TRAP_SNMP_PRIV_NONE)
		return TRAP_SNMP_DROP_UNSUPPORTED_SEC_LEVEL;
	if (msg->security_level < u->min_level)
		return TRAP_SNMP_DROP_SEC_LEVEL_TOO_LOW;

	if (f.flags & FLAG_AUTH) {
		bool good = false;
		if (f.auth_params.len != trap_snmp_auth_mac_len(u->auth))
			return TRAP_SNMP_DROP_WRONG_DIGEST;
		if (digest_check(cfg, u, dgram, len, &f, &good))
			return TRAP_SNMP_DROP_CRYPTO_ERROR;
		if (!good)
			return TRAP_SNMP_DROP_WRONG_DIGEST;
	}

	struct trap_snmp_tlv scoped = f.data, t;
	struct trap_snmp_ber in;
	bool encrypted = f.flags & FLAG_PRIV;
	if (encrypted) {
		if ((rc = decrypt(cfg, u, &f, scratch, scratch_cap)))
			return rc;
		/* A wrong privacy key yields noise: anything that is not a
		 * ScopedPDU envelope, followed by at most DES padding, is a
		 * decryption failure (RFC 3414 usmStatsDecryptionErrors). */
		struct trap_snmp_ber plain;
		trap_snmp_ber_init(&plain, scratch, f.data.len);
		if (trap_snmp_ber_expect(&plain, TRAP_SNMP_TAG_SEQUENCE, &scoped))
			return TRAP_SNMP_DROP_DECRYPT_FAILED;
		size_t pad = u->priv == TRAP_SNMP_PRIV_DES ? DES_BLOCK_BYTES - 1 : 0;
		if (plain.left > pad)
			return TRAP_SNMP_DROP_DECRYPT_FAILED;
	}
	trap_snmp_ber_enter(&scoped, &in);
	struct trap_snmp_bytes *context[] = {&msg->context_engine_id, &msg->context_name};
	for (int i = 0; i < 2; i++) {
		if ((rc = trap_snmp_ber_expect(&in, TRAP_SNMP_TAG_OCTET_STRING, &t)))
			return encrypted ? TRAP_SNMP_DROP_DECRYPT_FAILED : rc;
		context[i]->p = t.value;
		context[i]->len = t.len;
	}
	*pdu = in;
	return TRAP_SNMP_OK;
}

int trap_snmp_usm_resign(const struct trap_snmp_config *cfg, uint8_t *dgram, size_t len)
{
	struct trap_snmp_ber r, in;
	struct trap_snmp_tlv t;
	int64_t version;
	trap_snmp_ber_init(&r, dgram, len);
	if (trap_snmp_ber_expect(&r, TRAP_SNMP_TAG_SEQUENCE, &t))
		return DUET_EINVAL;
	trap_snmp_ber_enter(&t, &in);
	if (trap_snmp_ber_expect(&in, TRAP_SNMP_TAG_INTEGER, &t) ||
	    trap_snmp_ber_int(&t, &version) || version != TRAP_SNMP_V3)
		return DUET_EINVAL;
	struct v3_fields f;
	enum trap_snmp_drop why;
	if (v3_parse(&in, &f) || !(f.flags & FLAG_AUTH))
		return DUET_EINVAL;
	const struct trap_snmp_user *u = trap_snmp_usm_find(cfg, &f.user_name, &f.engine_id, &why);
	if (!u || u->auth == TRAP_SNMP_AUTH_NONE ||
	    f.auth_params.len != trap_snmp_auth_mac_len(u->auth))
		return DUET_EINVAL;
	/* The message parsed, so r stepped over exactly the outer TLV. */
	size_t whole = (size_t)(r.p - dgram);
	size_t at = (size_t)(f.auth_params.p - dgram);
	uint8_t key[TRAP_SNMP_MAX_KEY_BYTES], mac[TRAP_SNMP_MAX_KEY_BYTES];
	int rc = trap_snmp_usm_key(cfg, u, false, &f.engine_id, key);
	if (!rc)
		rc = trap_snmp_usm_mac(cfg, u, key, dgram, whole, at, f.auth_params.len, mac);
	memset(key, 0, sizeof key);
	if (rc)
		return rc;
	memcpy(dgram + at, mac, f.auth_params.len);
	return 0;
}

/* ---- Response to a v3 InformRequest ------------------------------------------ */

struct ber_out {
	uint8_t *p;
	size_t used;
};

static void put_head(struct ber_out *o, uint8_t tag, size_t len)
{
	o->used += trap_snmp_ber_put_head(o->p + o->used, tag, len);
}

static void put_bytes(struct ber_out *o, const void *src, size_t n)
{
	if (n)
		memcpy(o->p + o->used, src, n);
	o->used += n;
}

static void put_octets(struct ber_out *o, const void *src, size_t n)
{
	put_head(o, TRAP_SNMP_TAG_OCTET_STRING, n);
	put_bytes(o, src, n);
}

struct int_field {
	uint8_t b[8];
	size_t len;
};

static struct int_field int_field(int64_t v)
{
	struct int_field f;
	f.len = trap_snmp_ber_int_content(v, f.b);
	return f;
}

static void put_int(struct ber_out *o, const struct int_field *f)
{
	put_head(o, TRAP_SNMP_TAG_INTEGER, f->len);
	put_bytes(o, f->b, f->len);
}

long trap_snmp_response_encode_v3(const struct trap_snmp_config *cfg,
				  const struct trap_snmp_msg *msg,
				  const struct trap_snmp_engine *local, const uint8_t *salt,
				  uint8_t *buf, size_t cap)
{
	if (msg->version != TRAP_SNMP_V3 || !trap_snmp_msg_is_inform(msg))
		return DUET_EINVAL;
	if (local->id_len != msg->engine_id.len ||
	    memcmp(local->id, msg->engine_id.p, local->id_len) != 0 || local->boots > INT32_MAX ||
	    local->time > INT32_MAX)
		return DUET_EINVAL;
	enum trap_snmp_drop why;
	const struct trap_snmp_user *u =
	    trap_snmp_usm_find(cfg, &msg->user_name, &msg->engine_id, &why);
	uint8_t flags = msg->msg_flags & (FLAG_AUTH | FLAG_PRIV); /* reportable: never */
	bool auth = flags & FLAG_AUTH, priv = flags & FLAG_PRIV;
	if (!u || (auth && u->auth == TRAP_SNMP_AUTH_NONE) ||
	    (priv && (u->priv == TRAP_SNMP_PRIV_NONE || !salt)))
		return DUET_EINVAL;
	size_t mac_len = auth ? trap_snmp_auth_mac_len(u->auth) : 0;

	/* sizes, inside out */
	struct int_field reqid = int_field(msg->request_id), zero = int_field(0);
	struct int_field boots = int_field(local->boots), time = int_field(local->time);
	struct int_field msg_id = int_field(msg->msg_id), max_size = int_field(RESPONSE_MAX_OCTETS);
	struct int_field version = int_field(TRAP_SNMP_V3), model = int_field(USM_SECURITY_MODEL);
	size_t pdu_len = trap_snmp_ber_tlv_size(reqid.len) + 2 * trap_snmp_ber_tlv_size(zero.len) +
			 msg->varbind_list.len;
	size_t scoped_len = trap_snmp_ber_tlv_size(msg->context_engine_id.len) +
			    trap_snmp_ber_tlv_size(msg->context_name.len) +
			    trap_snmp_ber_tlv_size(pdu_len);
	size_t scoped = trap_snmp_ber_tlv_size(scoped_len);
	size_t cipher = 0;
	if (priv)
		cipher = u->priv == TRAP_SNMP_PRIV_DES
			     ? (scoped + DES_BLOCK_BYTES - 1) / DES_BLOCK_BYTES * DES_BLOCK_BYTES
			     : scoped;
	size_t data = priv ? trap_snmp_ber_tlv_size(cipher) : scoped;
	size_t sp_len =
	    trap_snmp_ber_tlv_size(msg->engine_id.len) + trap_snmp_ber_tlv_size(boots.len) +
	    trap_snmp_ber_tlv_size(time.len) + trap_snmp_ber_tlv_size(msg->user_name.len) +
	    trap_snmp_ber_tlv_size(mac_len) + trap_snmp_ber_tlv_size(priv ? PRIV_SALT_BYTES : 0);
	size_t gd_len = trap_snmp_ber_tlv_size(msg_id.len) + trap_snmp_ber_tlv_size(max_size.len) +
			trap_snmp_ber_tlv_size(1) + trap_snmp_ber_tlv_size(model.len);
	size_t msg_len = trap_snmp_ber_tlv_size(version.len) + trap_snmp_ber_tlv_size(gd_len) +
			 trap_snmp_ber_tlv_size(trap_snmp_ber_tlv_size(sp_len)) + data;
	size_t total = trap_snmp_ber_tlv_size(msg_len);
	if (total > cap || total > RESPONSE_MAX_OCTETS)
		return DUET_ETOOBIG;

	struct ber_out o = {buf, 0};
	put_head(&o, TRAP_SNMP_TAG_SEQUENCE, msg_len);
	put_int(&o, &version);
	put_head(&o, TRAP_SNMP_TAG_SEQUENCE, gd_len);
	put_int(&o, &msg_id); /* a Response carries its request's msgID */
	put_int(&o, &max_size);
	put_octets(&o, &flags, 1);
	put_int(&o, &model);
	put_head(&o, TRAP_SNMP_TAG_OCTET_STRING, trap_snmp_ber_tlv_size(sp_len));
	put_head(&o, TRAP_SNMP_TAG_SEQUENCE, sp_len);
	put_octets(&o, msg->engine_id.p, msg->engine_id.len);
	put_int(&o, &boots);
	put_int(&o, &time);
	put_octets(&o, msg->user_name.p, msg->user_name.len);
	put_head(&o, TRAP_SNMP_TAG_OCTET_STRING, mac_len);
	size_t mac_at = o.used;
	memset(buf + o.used, 0, mac_len);
	o.used += mac_len;
	put_octets(&o, salt, priv ? PRIV_SALT_BYTES : 0);
	if (priv)
		put_head(&o, TRAP_SNMP_TAG_OCTET_STRING, cipher);
	size_t plain_at = o.used;
	put_head(&o, TRAP_SNMP_TAG_SEQUENCE, scoped_len);
	put_octets(&o, msg->context_engine_id.p, msg->context_engine_id.len);
	put_octets(&o, msg->context_name.p, msg->context_name.len);
	put_head(&o, TRAP_SNMP_PDU_RESPONSE, pdu_len);
	put_int(&o, &reqid);
	put_int(&o, &zero); /* error-status */
	put_int(&o, &zero); /* error-index */
	put_bytes(&o, msg->varbind_list.p, msg->varbind_list.len);

	uint8_t key[TRAP_SNMP_MAX_KEY_BYTES];
	int rc = 0;
	if (priv) {
		memset(buf + o.used, 0, cipher - scoped); /* DES padding */
		o.used = plain_at + cipher;
		rc = trap_snmp_usm_key(cfg, u, true, &msg->engine_id, key);
		if (!rc)
			rc = trap_snmp_usm_crypt(cfg, u, true, key, local->boots, local->time, salt,
						 buf + plain_at, cipher, buf + plain_at);
	}
	if (!rc && auth) {
		uint8_t mac[TRAP_SNMP_MAX_KEY_BYTES];
		rc = trap_snmp_usm_key(cfg, u, false, &msg->engine_id, key);
		if (!rc)
			rc = trap_snmp_usm_mac(cfg, u, key, buf, o.used, mac_at, mac_len, mac);
		if (!rc)
			memcpy(buf + mac_at, mac, mac_len);
	}
	memset(key, 0, sizeof key);
	if (rc)
		return rc;
	return (long)o.used;
}
