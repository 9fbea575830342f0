/* SPDX-License-Identifier: MIT */
/*
 * snmp_decode.c - one datagram to a decoded SNMP notification, or to the
 * reason it was refused (traps_snmp.h).
 *
 * The message is read top-down with one BER reader per nesting level
 * (message, PDU, varbind list, varbind), so depth is fixed by the code and
 * nothing recurses. Cheap checks come first and in the order the RFCs give:
 * version, community (v1/v2c) or the USM checks (snmp_v3.c), then the PDU.
 * Nothing is allocated: the result points into the datagram (or into the
 * caller's scratch for a decrypted v3 message), except the trap OID, which
 * is copied into the message because for v1 it is built (RFC 3584 3.1).
 */
#include <stddef.h>
#include <string.h>

#include "duet/traps_snmp.h"

/* Content octets of the OIDs the decoder has to recognize. */
static const uint8_t SYS_UPTIME_0[] = {0x2b, 6, 1, 2, 1, 1, 3, 0}; /* 1.3.6.1.2.1.1.3.0 */
static const uint8_t SNMP_TRAP_OID_0[] = {0x2b, 6, 1, 6, 3,
					  1,    1, 4, 1, 0};     /* 1.3.6.1.6.3.1.1.4.1.0 */
static const uint8_t SNMP_TRAPS[] = {0x2b, 6, 1, 6, 3, 1, 1, 5}; /* 1.3.6.1.6.3.1.1.5 */

static const char *const drop_names[TRAP_SNMP_DROP_COUNT] = {
    [TRAP_SNMP_OK] = "ok",
    [TRAP_SNMP_DROP_TRUNCATED] = "truncated",
    [TRAP_SNMP_DROP_BAD_LENGTH] = "bad_length",
    [TRAP_SNMP_DROP_BAD_TAG] = "bad_tag",
    [TRAP_SNMP_DROP_BAD_INTEGER] = "bad_integer",
    [TRAP_SNMP_DROP_BAD_OID] = "bad_oid",
    [TRAP_SNMP_DROP_BAD_VALUE] = "bad_value",
    [TRAP_SNMP_DROP_TRAILING_DATA] = "trailing_data",
    [TRAP_SNMP_DROP_TOO_DEEP] = "too_deep",
    [TRAP_SNMP_DROP_BAD_VERSION] = "bad_version",
    [TRAP_SNMP_DROP_UNKNOWN_COMMUNITY] = "unknown_community",
    [TRAP_SNMP_DROP_NOT_NOTIFICATION] = "not_notification",
    [TRAP_SNMP_DROP_TOO_MANY_VARBINDS] = "too_many_varbinds",
    [TRAP_SNMP_DROP_NO_SYSUPTIME] = "no_sysuptime",
    [TRAP_SNMP_DROP_NO_TRAP_OID] = "no_trap_oid",
    [TRAP_SNMP_DROP_BAD_GENERIC_TRAP] = "bad_generic_trap",
    [TRAP_SNMP_DROP_BAD_SECURITY_MODEL] = "bad_security_model",
    [TRAP_SNMP_DROP_BAD_FLAGS] = "bad_flags",
    [TRAP_SNMP_DROP_UNKNOWN_ENGINE_ID] = "unknown_engine_id",
    [TRAP_SNMP_DROP_UNKNOWN_USER] = "unknown_user",
    [TRAP_SNMP_DROP_UNSUPPORTED_SEC_LEVEL] = "unsupported_sec_level",
    [TRAP_SNMP_DROP_SEC_LEVEL_TOO_LOW] = "sec_level_too_low",
    [TRAP_SNMP_DROP_WRONG_DIGEST] = "wrong_digest",
    [TRAP_SNMP_DROP_DECRYPT_FAILED] = "decrypt_failed",
    [TRAP_SNMP_DROP_NO_SCRATCH] = "no_scratch",
    [TRAP_SNMP_DROP_CRYPTO_ERROR] = "crypto_error",
};

const char *trap_snmp_drop_name(enum trap_snmp_drop reason)
{
	if ((unsigned)reason >= TRAP_SNMP_DROP_COUNT || !drop_names[reason])
		return "unknown";
	return drop_names[reason];
}

struct trap_snmp_oid trap_snmp_msg_trap_oid(const struct trap_snmp_msg *msg)
{
	struct trap_snmp_oid oid = {msg->trap_oid_ber, msg->trap_oid_len, msg->trap_oid_arcs};
	return oid;
}

bool trap_snmp_msg_is_inform(const struct trap_snmp_msg *msg)
{
	return msg->pdu_type == TRAP_SNMP_PDU_INFORM;
}

static bool oid_is(const struct trap_snmp_oid *oid, const uint8_t *ber, size_t len)
{
	return oid->len == len && memcmp(oid->ber, ber, len) == 0;
}

/* Community strings are secrets: compare without an early exit. */
static bool community_known(const struct trap_snmp_config *cfg, const struct trap_snmp_tlv *t)
{
	bool found = false;
	for (uint32_t i = 0; i < cfg->n_communities; i++) {
		if (cfg->communities[i].len != t->len)
			continue;
		uint8_t diff = 0;
		for (size_t k = 0; k < t->len; k++)
			diff |= cfg->communities[i].bytes[k] ^ t->value[k];
		found |= diff == 0;
	}
	return found;
}

static enum trap_snmp_drop parse_value(const struct trap_snmp_tlv *t, struct trap_snmp_varbind *vb)
{
	uint64_t u;
	vb->type = t->tag;
	switch (t->tag) {
	case TRAP_SNMP_TAG_INTEGER:
		return trap_snmp_ber_int(t, &vb->value.i);
	case TRAP_SNMP_TAG_OCTET_STRING:
	case TRAP_SNMP_TAG_OPAQUE:
		vb->value.bytes.p = t->value;
		vb->value.bytes.len = t->len;
		return TRAP_SNMP_OK;
	case TRAP_SNMP_TAG_IP_ADDRESS:
		if (t->len != 4)
			return TRAP_SNMP_DROP_BAD_VALUE;
		vb->value.bytes.p = t->value;
		vb->value.bytes.len = 4;
		return TRAP_SNMP_OK;
	case TRAP_SNMP_TAG_NULL:
	case TRAP_SNMP_TAG_NO_SUCH_OBJECT:
	case TRAP_SNMP_TAG_NO_SUCH_INSTANCE:
	case TRAP_SNMP_TAG_END_OF_MIB_VIEW:
		return t->len == 0 ? TRAP_SNMP_OK : TRAP_SNMP_DROP_BAD_VALUE;
	case TRAP_SNMP_TAG_OID:
		return trap_snmp_ber_oid(t, &vb->value.oid);
	case TRAP_SNMP_TAG_COUNTER32:
	case TRAP_SNMP_TAG_GAUGE32:
	case TRAP_SNMP_TAG_TIME_TICKS:
	case TRAP_SNMP_TAG_UINTEGER32:
		if (trap_snmp_ber_uint(t, 32, &u))
			return TRAP_SNMP_DROP_BAD_INTEGER;
		vb->value.u = u;
		return TRAP_SNMP_OK;
	case TRAP_SNMP_TAG_COUNTER64:
		return trap_snmp_ber_uint(t, 64, &vb->value.u);
	default:
		return TRAP_SNMP_DROP_BAD_TAG;
	}
}

static void set_trap_oid(struct trap_snmp_msg *msg, const struct trap_snmp_oid *oid)
{
	memcpy(msg->trap_oid_ber, oid->ber, oid->len);
	msg->trap_oid_len = oid->len;
	msg->trap_oid_arcs = oid->n_arcs;
}

/* Reads a VarBindList. With `header` (v2c/v3) the first two varbinds must
 * be sysUpTime.0 and snmpTrapOID.0, which go to their own fields. */
static enum trap_snmp_drop parse_varbinds(const struct trap_snmp_config *cfg,
					  const struct trap_snmp_tlv *list, bool header,
					  struct trap_snmp_msg *msg)
{
	uint32_t max =
	    cfg->max_varbinds < TRAP_SNMP_MAX_VARBINDS ? cfg->max_varbinds : TRAP_SNMP_MAX_VARBINDS;
	struct trap_snmp_ber r, in;
	struct trap_snmp_tlv vb_tlv, t;
	enum trap_snmp_drop rc;
	msg->varbind_list.p = list->start;
	msg->varbind_list.len = (size_t)(list->value + list->len - list->start);
	msg->n_varbinds = 0;
	trap_snmp_ber_enter(list, &r);
	for (uint32_t index = 0; !trap_snmp_ber_done(&r); index++) {
		struct trap_snmp_varbind vb;
		memset(&vb, 0, sizeof vb);
		if ((rc = trap_snmp_ber_expect(&r, TRAP_SNMP_TAG_SEQUENCE, &vb_tlv)))
			return rc;
		trap_snmp_ber_enter(&vb_tlv, &in);
		if ((rc = trap_snmp_ber_expect(&in, TRAP_SNMP_TAG_OID, &t)) ||
		    (rc = trap_snmp_ber_oid(&t, &vb.name)))
			return rc;
		if ((rc = trap_snmp_ber_next(&in, &t)) || (rc = parse_value(&t, &vb)))
			return rc;
		if (!trap_snmp_ber_done(&in))
			return TRAP_SNMP_DROP_TRAILING_DATA;
		if (header && index == 0) {
			if (!oid_is(&vb.name, SYS_UPTIME_0, sizeof SYS_UPTIME_0) ||
			    vb.type != TRAP_SNMP_TAG_TIME_TICKS)
				return TRAP_SNMP_DROP_NO_SYSUPTIME;
			msg->sys_uptime = (uint32_t)vb.value.u;
		} else if (header && index == 1) {
			if (!oid_is(&vb.name, SNMP_TRAP_OID_0, sizeof SNMP_TRAP_OID_0) ||
			    vb.type != TRAP_SNMP_TAG_OID)
				return TRAP_SNMP_DROP_NO_TRAP_OID;
			set_trap_oid(msg, &vb.value.oid);
		} else {
			if (msg->n_varbinds >= max)
				return TRAP_SNMP_DROP_TOO_MANY_VARBINDS;
			msg->varbinds[msg->n_varbinds++] = vb;
		}
		if (header && index == 0 && trap_snmp_ber_done(&r))
			return TRAP_SNMP_DROP_NO_TRAP_OID;
	}
	if (header && msg->trap_oid_len == 0)
		return TRAP_SNMP_DROP_NO_SYSUPTIME; /* empty list */
	return TRAP_SNMP_OK;
}

/* RFC 3584 3.1 (1): the v2 snmpTrapOID.0 of a v1 trap. */
static enum trap_snmp_drop translate_v1_trap_oid(struct trap_snmp_msg *msg)
{
	uint8_t *out = msg->trap_oid_ber;
	if (msg->generic_trap != 6) {
		memcpy(out, SNMP_TRAPS, sizeof SNMP_TRAPS);
		out[sizeof SNMP_TRAPS] = (uint8_t)(msg->generic_trap + 1);
		msg->trap_oid_len = sizeof SNMP_TRAPS + 1;
		msg->trap_oid_arcs = 10;
		return TRAP_SNMP_OK;
	}
	/* enterprise.0.specific-trap */
	uint8_t tail[1 + 5];
	size_t n = 0;
	tail[n++] = 0;
	uint32_t v = (uint32_t)msg->specific_trap;
	uint8_t septets[5];
	size_t k = 0;
	do {
		septets[k++] = v & 0x7f;
		v >>= 7;
	} while (v);
	while (k > 1)
		tail[n++] = 0x80 | septets[--k];
	tail[n++] = septets[0];
	if (msg->enterprise.n_arcs + 2 > TRAP_SNMP_MAX_OID_ARCS ||
	    msg->enterprise.len + n > TRAP_SNMP_MAX_OID_BYTES)
		return TRAP_SNMP_DROP_BAD_OID;
	memcpy(out, msg->enterprise.ber, msg->enterprise.len);
	memcpy(out + msg->enterprise.len, tail, n);
	msg->trap_oid_len = (uint16_t)(msg->enterprise.len + n);
	msg->trap_oid_arcs = (uint16_t)(msg->enterprise.n_arcs + 2);
	return TRAP_SNMP_OK;
}

/* Trap-PDU ::= [4] IMPLICIT SEQUENCE { enterprise, agent-addr, generic-trap,
 * specific-trap, time-stamp, variable-bindings } (RFC 1157 4.1.6) */
static enum trap_snmp_drop parse_v1_trap(const struct trap_snmp_config *cfg,
					 const struct trap_snmp_tlv *pdu, struct trap_snmp_msg *msg)
{
	struct trap_snmp_ber in;
	struct trap_snmp_tlv t;
	enum trap_snmp_drop rc;
	int64_t generic;
	uint64_t stamp;
	trap_snmp_ber_enter(pdu, &in);
	if ((rc = trap_snmp_ber_expect(&in, TRAP_SNMP_TAG_OID, &t)) ||
	    (rc = trap_snmp_ber_oid(&t, &msg->enterprise)))
		return rc;
	if ((rc = trap_snmp_ber_expect(&in, TRAP_SNMP_TAG_IP_ADDRESS, &t)))
		return rc;
	if (t.len != 4)
		return TRAP_SNMP_DROP_BAD_VALUE;
	memcpy(msg->agent_addr, t.value, 4);
	if ((rc = trap_snmp_ber_expect(&in, TRAP_SNMP_TAG_INTEGER, &t)) ||
	    (rc = trap_snmp_ber_int(&t, &generic)))
		return rc;
	if (generic < 0 || generic > 6)
		return TRAP_SNMP_DROP_BAD_GENERIC_TRAP;
	msg->generic_trap = (int32_t)generic;
	if ((rc = trap_snmp_ber_expect(&in, TRAP_SNMP_TAG_INTEGER, &t)) ||
	    (rc = trap_snmp_ber_int(&t, &msg->specific_trap)))
		return rc;
	if (generic == 6 && (msg->specific_trap < 0 || msg->specific_trap > UINT32_MAX))
		return TRAP_SNMP_DROP_BAD_VALUE;
	if ((rc = trap_snmp_ber_expect(&in, TRAP_SNMP_TAG_TIME_TICKS, &t)) ||
	    (rc = trap_snmp_ber_uint(&t, 32, &stamp)))
		return rc;
	msg->sys_uptime = (uint32_t)stamp;
	if ((rc = trap_snmp_ber_expect(&in, TRAP_SNMP_TAG_SEQUENCE, &t)) ||
	    (rc = parse_varbinds(cfg, &t, false, msg)))
		return rc;
	if (!trap_snmp_ber_done(&in))
		return TRAP_SNMP_DROP_TRAILING_DATA;
	return translate_v1_trap_oid(msg);
}

/* PDU ::= SEQUENCE { request-id, error-status, error-index,
 * variable-bindings } (RFC 3416 3) */
static enum trap_snmp_drop parse_v2_pdu(const struct trap_snmp_config *cfg,
					const struct trap_snmp_tlv *pdu, struct trap_snmp_msg *msg)
{
	struct trap_snmp_ber in;
	struct trap_snmp_tlv t;
	enum trap_snmp_drop rc;
	int64_t *ints[] = {&msg->request_id, &msg->error_status, &msg->error_index};
	trap_snmp_ber_enter(pdu, &in);
	for (int i = 0; i < 3; i++)
		if ((rc = trap_snmp_ber_expect(&in, TRAP_SNMP_TAG_INTEGER, &t)) ||
		    (rc = trap_snmp_ber_int(&t, ints[i])))
			return rc;
	if ((rc = trap_snmp_ber_expect(&in, TRAP_SNMP_TAG_SEQUENCE, &t)) ||
	    (rc = parse_varbinds(cfg, &t, true, msg)))
		return rc;
	return trap_snmp_ber_done(&in) ? TRAP_SNMP_OK : TRAP_SNMP_DROP_TRAILING_DATA;
}

/* Reads the PDU that ends `r` and checks it is a notification of `version`. */
static enum trap_snmp_drop parse_pdu(const struct trap_snmp_config *cfg, struct trap_snmp_ber *r,
				     struct trap_snmp_msg *msg)
{
	struct trap_snmp_tlv pdu;
	enum trap_snmp_drop rc = trap_snmp_ber_next(r, &pdu);
	if (rc)
		return rc;
	if (pdu.tag < TRAP_SNMP_PDU_GET || pdu.tag > TRAP_SNMP_PDU_REPORT)
		return TRAP_SNMP_DROP_BAD_TAG;
	if (!trap_snmp_ber_done(r))
		return TRAP_SNMP_DROP_TRAILING_DATA;
	msg->pdu_type = pdu.tag;
	if (msg->version == TRAP_SNMP_V1)
		return pdu.tag == TRAP_SNMP_PDU_TRAP_V1 ? parse_v1_trap(cfg, &pdu, msg)
							: TRAP_SNMP_DROP_NOT_NOTIFICATION;
	if (pdu.tag != TRAP_SNMP_PDU_TRAP_V2 && pdu.tag != TRAP_SNMP_PDU_INFORM)
		return TRAP_SNMP_DROP_NOT_NOTIFICATION;
	return parse_v2_pdu(cfg, &pdu, msg);
}

enum trap_snmp_drop trap_snmp_decode(const struct trap_snmp_config *cfg, const uint8_t *dgram,
				     size_t len, uint8_t *scratch, size_t scratch_cap,
				     struct trap_snmp_msg *msg)
{
	struct trap_snmp_ber r, in;
	struct trap_snmp_tlv t;
	enum trap_snmp_drop rc;
	int64_t version;

	/* the varbind array is filled as far as it is used; the rest is cleared */
	memset(msg, 0, offsetof(struct trap_snmp_msg, varbinds));
	trap_snmp_ber_init(&r, dgram, len);
	if ((rc = trap_snmp_ber_expect(&r, TRAP_SNMP_TAG_SEQUENCE, &t)))
		return rc;
	if (!trap_snmp_ber_done(&r))
		return TRAP_SNMP_DROP_TRAILING_DATA;
	trap_snmp_ber_enter(&t, &in);
	if ((rc = trap_snmp_ber_expect(&in, TRAP_SNMP_TAG_INTEGER, &t)) ||
	    (rc = trap_snmp_ber_int(&t, &version)))
		return rc;
	if (version != TRAP_SNMP_V1 && version != TRAP_SNMP_V2C && version != TRAP_SNMP_V3)
		return TRAP_SNMP_DROP_BAD_VERSION;
	msg->version = (enum trap_snmp_version)version;

	if (msg->version == TRAP_SNMP_V3) {
		struct trap_snmp_ber pdu;
		rc = trap_snmp_v3_unwrap(cfg, dgram, len, &in, scratch, scratch_cap, msg, &pdu);
		return rc ? rc : parse_pdu(cfg, &pdu, msg);
	}
	if ((rc = trap_snmp_ber_expect(&in, TRAP_SNMP_TAG_OCTET_STRING, &t)))
		return rc;
	msg->community.p = t.value;
	msg->community.len = t.len;
	if (!community_known(cfg, &t))
		return TRAP_SNMP_DROP_UNKNOWN_COMMUNITY;
	return parse_pdu(cfg, &in, msg);
}
