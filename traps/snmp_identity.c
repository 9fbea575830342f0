/* SPDX-License-Identifier: MIT */
/*
 * snmp_identity.c - the content part of an SNMP trap's identity
 * (DESIGN.md section 5; layout and what is left out: traps_snmp.h,
 * "Identity").
 *
 * Values are written decoded (integers as 8 bytes, OIDs as arcs), never as
 * the BER octets received, so two encodings of one value (an agent's
 * padded INTEGER, say) give one identity, and a v1 trap is laid out like
 * its v2 translation.
 */
#include <limits.h>
#include <string.h>

#include "duet/traps_snmp.h"

/* 1.3.6.1.6.3.1.1.4.3.0: RFC 3584 appends it to a translated v1 trap */
static const uint8_t SNMP_TRAP_ENTERPRISE_0[] = {0x2b, 6, 1, 6, 3, 1, 1, 4, 3, 0};

/* Writes while it fits and counts always, so a too-small buffer still
 * learns the length it needs. */
struct id_out {
	uint8_t *p;
	size_t cap;
	size_t used;
};

static void put(struct id_out *o, const void *src, size_t n)
{
	if (n && o->used <= o->cap && n <= o->cap - o->used)
		memcpy(o->p + o->used, src, n);
	o->used += n;
}

static void put_u16(struct id_out *o, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
	put(o, b, 2);
}

static void put_u32(struct id_out *o, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
	put(o, b, 4);
}

static void put_u64(struct id_out *o, uint64_t v)
{
	put_u32(o, (uint32_t)v);
	put_u32(o, (uint32_t)(v >> 32));
}

static size_t oid_size(const struct trap_snmp_oid *oid)
{
	return 2 + 4 * (size_t)oid->n_arcs;
}

static void put_oid(struct id_out *o, const struct trap_snmp_oid *oid)
{
	uint32_t arcs[TRAP_SNMP_MAX_OID_ARCS];
	size_t n = trap_snmp_oid_arcs(oid, arcs, TRAP_SNMP_MAX_OID_ARCS);
	put_u16(o, (uint16_t)n);
	for (size_t i = 0; i < n; i++)
		put_u32(o, arcs[i]);
}

static void put_varbind(struct id_out *o, const struct trap_snmp_oid *name, uint8_t type,
			const struct trap_snmp_varbind *vb)
{
	put_oid(o, name);
	put(o, &type, 1);
	switch (type) {
	case TRAP_SNMP_TAG_INTEGER:
		put_u32(o, 8);
		put_u64(o, (uint64_t)vb->value.i);
		break;
	case TRAP_SNMP_TAG_COUNTER32:
	case TRAP_SNMP_TAG_GAUGE32:
	case TRAP_SNMP_TAG_TIME_TICKS:
	case TRAP_SNMP_TAG_UINTEGER32:
	case TRAP_SNMP_TAG_COUNTER64:
		put_u32(o, 8);
		put_u64(o, vb->value.u);
		break;
	case TRAP_SNMP_TAG_OCTET_STRING:
	case TRAP_SNMP_TAG_OPAQUE:
	case TRAP_SNMP_TAG_IP_ADDRESS:
		put_u32(o, (uint32_t)vb->value.bytes.len);
		put(o, vb->value.bytes.p, vb->value.bytes.len);
		break;
	case TRAP_SNMP_TAG_OID:
		put_u32(o, (uint32_t)oid_size(&vb->value.oid));
		put_oid(o, &vb->value.oid);
		break;
	default: /* NULL and the exceptions carry no value */
		put_u32(o, 0);
		break;
	}
}

long trap_snmp_identity(const struct trap_snmp_msg *msg, uint8_t *buf, size_t cap)
{
	struct id_out o = {buf, buf ? cap : 0, 0};
	uint8_t version = TRAP_SNMP_IDENTITY_VERSION;
	struct trap_snmp_oid trap_oid = trap_snmp_msg_trap_oid(msg);
	const struct trap_snmp_oid enterprise_0 = {SNMP_TRAP_ENTERPRISE_0,
						   sizeof SNMP_TRAP_ENTERPRISE_0, 11};
	bool add_enterprise = msg->version == TRAP_SNMP_V1;
	for (uint32_t i = 0; add_enterprise && i < msg->n_varbinds; i++)
		if (trap_snmp_oid_equal(&msg->varbinds[i].name, &enterprise_0))
			add_enterprise = false;

	put(&o, &version, 1);
	put_oid(&o, &trap_oid);
	put_u32(&o, msg->n_varbinds + (add_enterprise ? 1 : 0));
	for (uint32_t i = 0; i < msg->n_varbinds; i++)
		put_varbind(&o, &msg->varbinds[i].name, msg->varbinds[i].type, &msg->varbinds[i]);
	if (add_enterprise) {
		struct trap_snmp_varbind vb;
		memset(&vb, 0, sizeof vb);
		vb.value.oid = msg->enterprise;
		put_varbind(&o, &enterprise_0, TRAP_SNMP_TAG_OID, &vb);
	}
	if (o.used > LONG_MAX)
		return DUET_ETOOBIG;
	if (!buf && cap == 0)
		return (long)o.used;
	return o.used <= cap ? (long)o.used : DUET_ETOOBIG;
}
