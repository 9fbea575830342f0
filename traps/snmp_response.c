/* SPDX-License-Identifier: MIT */
/*
 * snmp_response.c - the Response-PDU that acknowledges a v2c InformRequest
 * (RFC 3416 4.2.7: same request-id, error-status and error-index 0, the
 * inform's variable-bindings unchanged). The v3 one is in snmp_v3.c.
 *
 * The varbinds are echoed as the octets received (msg.varbind_list), so
 * the sender sees exactly what it sent. Lengths are computed before
 * anything is written, so each header is written once, in order.
 */
#include <limits.h>
#include <string.h>

#include "duet/traps_snmp.h"

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

long trap_snmp_response_encode(const struct trap_snmp_msg *msg, uint8_t *buf, size_t cap)
{
	if (msg->version != TRAP_SNMP_V2C || !trap_snmp_msg_is_inform(msg))
		return DUET_EINVAL;
	uint8_t reqid[8];
	size_t reqid_len = trap_snmp_ber_int_content(msg->request_id, reqid);
	size_t pdu_len = trap_snmp_ber_tlv_size(reqid_len) + 2 * trap_snmp_ber_tlv_size(1) +
			 msg->varbind_list.len;
	size_t msg_len = trap_snmp_ber_tlv_size(1) + trap_snmp_ber_tlv_size(msg->community.len) +
			 trap_snmp_ber_tlv_size(pdu_len);
	size_t total = trap_snmp_ber_tlv_size(msg_len);
	if (total > cap || total > (size_t)LONG_MAX)
		return DUET_ETOOBIG;

	static const uint8_t zero = 0, v2c = TRAP_SNMP_V2C;
	struct ber_out o = {buf, 0};
	put_head(&o, TRAP_SNMP_TAG_SEQUENCE, msg_len);
	put_head(&o, TRAP_SNMP_TAG_INTEGER, 1);
	put_bytes(&o, &v2c, 1);
	put_head(&o, TRAP_SNMP_TAG_OCTET_STRING, msg->community.len);
	put_bytes(&o, msg->community.p, msg->community.len);
	put_head(&o, TRAP_SNMP_PDU_RESPONSE, pdu_len);
	put_head(&o, TRAP_SNMP_TAG_INTEGER, reqid_len);
	put_bytes(&o, reqid, reqid_len);
	for (int i = 0; i < 2; i++) { /* error-status, error-index */
		put_head(&o, TRAP_SNMP_TAG_INTEGER, 1);
		put_bytes(&o, &zero, 1);
	}
	put_bytes(&o, msg->varbind_list.p, msg->varbind_list.len);
	return (long)o.used;
}
