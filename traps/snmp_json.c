/* SPDX-License-Identifier: MIT */
/*
 * snmp_json.c - a decoded SNMP notification as one JSON object for the
 * sinks (shape: traps_snmp.h, trap_snmp_json()).
 *
 * The output is valid UTF-8 whatever the datagram held: octets are written
 * as a JSON string only when they are UTF-8 text (checked here: no
 * overlong forms, no surrogates, nothing past U+10FFFF, no control
 * characters but tab, CR and LF), otherwise as hex under a "hex" key. The
 * community is never written: it is a password.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "duet/traps_snmp.h"

struct json_out {
	char *p;
	size_t cap; /* room for text, the NUL excluded */
	size_t used;
	bool full;
};

static void emit(struct json_out *o, const char *s, size_t n)
{
	if (n == 0)
		return;
	if (o->full || n > o->cap - o->used) {
		o->full = true;
		return;
	}
	memcpy(o->p + o->used, s, n);
	o->used += n;
}

static void emit_lit(struct json_out *o, const char *s)
{
	emit(o, s, strlen(s));
}

static void emit_u64(struct json_out *o, uint64_t v)
{
	char b[24];
	int n = snprintf(b, sizeof b, "%" PRIu64, v);
	emit(o, b, (size_t)n);
}

static void emit_i64(struct json_out *o, int64_t v)
{
	char b[24];
	int n = snprintf(b, sizeof b, "%" PRId64, v);
	emit(o, b, (size_t)n);
}

static void emit_key(struct json_out *o, const char *key)
{
	emit_lit(o, ",\"");
	emit_lit(o, key);
	emit_lit(o, "\":");
}

static bool utf8_text(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = s[i];
		if (c < 0x80) {
			if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
				return false;
			i++;
			continue;
		}
		size_t k;
		uint32_t cp, min;
		if ((c & 0xe0) == 0xc0) {
			k = 1, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			k = 2, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			k = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (n - i <= k)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += k + 1;
	}
	return true;
}

/* A JSON string of UTF-8 text (utf8_text() holds). */
static void emit_text(struct json_out *o, const uint8_t *s, size_t n)
{
	emit_lit(o, "\"");
	size_t run = 0; /* start of the bytes copied as they are */
	for (size_t i = 0; i < n; i++) {
		const char *esc = NULL;
		switch (s[i]) {
		case '"':
			esc = "\\\"";
			break;
		case '\\':
			esc = "\\\\";
			break;
		case '\n':
			esc = "\\n";
			break;
		case '\r':
			esc = "\\r";
			break;
		case '\t':
			esc = "\\t";
			break;
		case 0x7f:
			esc = "\\u007f";
			break;
		default:
			continue;
		}
		emit(o, (const char *)s + run, i - run);
		emit_lit(o, esc);
		run = i + 1;
	}
	emit(o, (const char *)s + run, n - run);
	emit_lit(o, "\"");
}

static void emit_hex(struct json_out *o, const uint8_t *s, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	emit_lit(o, "\"");
	for (size_t i = 0; i < n; i++) {
		char b[2] = {digits[s[i] >> 4], digits[s[i] & 15]};
		emit(o, b, 2);
	}
	emit_lit(o, "\"");
}

/* "key":"text", or "key_hex":"..." when the octets are not text. */
static void emit_text_or_hex(struct json_out *o, const char *key, const char *hex_key,
			     const struct trap_snmp_bytes *b)
{
	if (utf8_text(b->p, b->len)) {
		emit_key(o, key);
		emit_text(o, b->p, b->len);
	} else {
		emit_key(o, hex_key);
		emit_hex(o, b->p, b->len);
	}
}

static void emit_oid(struct json_out *o, const struct trap_snmp_oid *oid)
{
	char text[TRAP_SNMP_MAX_OID_TEXT_BYTES];
	long n = trap_snmp_oid_format(oid, text, sizeof text);
	emit_lit(o, "\"");
	if (n > 0)
		emit(o, text, (size_t)n);
	emit_lit(o, "\"");
}

static void emit_ip(struct json_out *o, const uint8_t *a)
{
	char b[20];
	int n = snprintf(b, sizeof b, "\"%u.%u.%u.%u\"", a[0], a[1], a[2], a[3]);
	emit(o, b, (size_t)n);
}

static const char *type_name(uint8_t type)
{
	switch (type) {
	case TRAP_SNMP_TAG_INTEGER:
		return "integer";
	case TRAP_SNMP_TAG_OCTET_STRING:
		return "octet_string";
	case TRAP_SNMP_TAG_NULL:
		return "null";
	case TRAP_SNMP_TAG_OID:
		return "oid";
	case TRAP_SNMP_TAG_IP_ADDRESS:
		return "ip_address";
	case TRAP_SNMP_TAG_COUNTER32:
		return "counter32";
	case TRAP_SNMP_TAG_GAUGE32:
		return "gauge32";
	case TRAP_SNMP_TAG_TIME_TICKS:
		return "timeticks";
	case TRAP_SNMP_TAG_OPAQUE:
		return "opaque";
	case TRAP_SNMP_TAG_COUNTER64:
		return "counter64";
	case TRAP_SNMP_TAG_UINTEGER32:
		return "uinteger32";
	case TRAP_SNMP_TAG_NO_SUCH_OBJECT:
		return "no_such_object";
	case TRAP_SNMP_TAG_NO_SUCH_INSTANCE:
		return "no_such_instance";
	case TRAP_SNMP_TAG_END_OF_MIB_VIEW:
		return "end_of_mib_view";
	default:
		return "unknown"; /* the decoder refuses any other tag */
	}
}

static void emit_varbind(struct json_out *o, const struct trap_snmp_varbind *vb)
{
	emit_lit(o, "{\"oid\":");
	emit_oid(o, &vb->name);
	emit_lit(o, ",\"type\":\"");
	emit_lit(o, type_name(vb->type));
	emit_lit(o, "\"");
	switch (vb->type) {
	case TRAP_SNMP_TAG_INTEGER:
		emit_key(o, "value");
		emit_i64(o, vb->value.i);
		break;
	case TRAP_SNMP_TAG_COUNTER32:
	case TRAP_SNMP_TAG_GAUGE32:
	case TRAP_SNMP_TAG_TIME_TICKS:
	case TRAP_SNMP_TAG_UINTEGER32:
	case TRAP_SNMP_TAG_COUNTER64:
		emit_key(o, "value");
		emit_u64(o, vb->value.u);
		break;
	case TRAP_SNMP_TAG_OCTET_STRING:
		emit_text_or_hex(o, "value", "hex", &vb->value.bytes);
		break;
	case TRAP_SNMP_TAG_OPAQUE:
		emit_key(o, "hex");
		emit_hex(o, vb->value.bytes.p, vb->value.bytes.len);
		break;
	case TRAP_SNMP_TAG_IP_ADDRESS:
		emit_key(o, "value");
		emit_ip(o, vb->value.bytes.p);
		break;
	case TRAP_SNMP_TAG_OID:
		emit_key(o, "value");
		emit_oid(o, &vb->value.oid);
		break;
	default:
		emit_key(o, "value");
		emit_lit(o, "null");
		break;
	}
	emit_lit(o, "}");
}

static const char *level_name(enum trap_snmp_level level)
{
	switch (level) {
	case TRAP_SNMP_LEVEL_AUTH_PRIV:
		return "\"authPriv\"";
	case TRAP_SNMP_LEVEL_AUTH_NOPRIV:
		return "\"authNoPriv\"";
	default:
		return "\"noAuthNoPriv\"";
	}
}

long trap_snmp_json(const struct trap_snmp_msg *msg, char *buf, size_t cap)
{
	struct json_out o = {buf, cap ? cap - 1 : 0, 0, cap == 0};
	static const char *const versions[] = {"\"1\"", "\"2c\"", "\"?\"", "\"3\""};
	emit_lit(&o, "{\"kind\":\"snmp\"");
	emit_key(&o, "version");
	emit_lit(&o, versions[msg->version & 3]);
	emit_key(&o, "pdu");
	emit_lit(&o, trap_snmp_msg_is_inform(msg) ? "\"inform\"" : "\"trap\"");
	if (msg->version == TRAP_SNMP_V1) {
		emit_key(&o, "enterprise");
		emit_oid(&o, &msg->enterprise);
		emit_key(&o, "agent_addr");
		emit_ip(&o, msg->agent_addr);
		emit_key(&o, "generic_trap");
		emit_i64(&o, msg->generic_trap);
		emit_key(&o, "specific_trap");
		emit_i64(&o, msg->specific_trap);
	} else {
		emit_key(&o, "request_id");
		emit_i64(&o, msg->request_id);
	}
	if (msg->version == TRAP_SNMP_V3) {
		emit_key(&o, "msg_id");
		emit_i64(&o, msg->msg_id);
		emit_key(&o, "security_level");
		emit_lit(&o, level_name(msg->security_level));
		emit_text_or_hex(&o, "user", "user_hex", &msg->user_name);
		emit_key(&o, "engine_id");
		emit_hex(&o, msg->engine_id.p, msg->engine_id.len);
		emit_key(&o, "engine_boots");
		emit_u64(&o, msg->engine_boots);
		emit_key(&o, "engine_time");
		emit_u64(&o, msg->engine_time);
		emit_key(&o, "context_engine_id");
		emit_hex(&o, msg->context_engine_id.p, msg->context_engine_id.len);
		emit_text_or_hex(&o, "context_name", "context_name_hex", &msg->context_name);
	}
	emit_key(&o, "sys_uptime");
	emit_u64(&o, msg->sys_uptime);
	emit_key(&o, "trap_oid");
	struct trap_snmp_oid trap_oid = trap_snmp_msg_trap_oid(msg);
	emit_oid(&o, &trap_oid);
	emit_key(&o, "varbinds");
	emit_lit(&o, "[");
	for (uint32_t i = 0; i < msg->n_varbinds; i++) {
		if (i)
			emit_lit(&o, ",");
		emit_varbind(&o, &msg->varbinds[i]);
	}
	emit_lit(&o, "]}");
	if (o.full)
		return DUET_ETOOBIG;
	buf[o.used] = '\0';
	return (long)o.used;
}
