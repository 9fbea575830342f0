/* SPDX-License-Identifier: MIT */
/*
 * json.c - an entry as one JSON object, for duetctl log --json and anything
 * that parses the audit chain.
 *
 * Written by hand rather than with a JSON library: the output is small and
 * flat, and the one part that needs care, strings, is done here fully:
 * '"', '\\' and control characters are escaped (RFC 8259 section 7), and
 * bytes that are not UTF-8 become U+FFFD, so the output is always valid
 * JSON whatever an entry's free text holds. Integers are written as JSON
 * numbers; u64 values above 2^53 lose precision in JavaScript parsers, which
 * no index, term or wall time reaches.
 *
 *   {"index":7,"term":2,"wall_ms":...,"author":1,"type":"MASTER",
 *    "payload":{"node":2,"previous":1,"reason":"failover","detail":"..."}}
 *
 * An undecodable payload gives "payload_error":"<reason>" and "len" instead
 * of "payload".
 */
#include <string.h>

#include "fsm_internal.h"

static void json_string(struct fsm_out *o, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	fsm_out_raw(o, "\"", 1);
	for (size_t i = 0; i < n;) {
		size_t k = fsm_utf8_seq(p + i, n - i);
		if (k == 0) {
			fsm_out_raw(o, "\\ufffd", 6);
			i++;
			continue;
		}
		if (k > 1) {
			fsm_out_raw(o, s + i, k);
			i += k;
			continue;
		}
		unsigned char c = p[i++];
		if (c == '"')
			fsm_out_raw(o, "\\\"", 2);
		else if (c == '\\')
			fsm_out_raw(o, "\\\\", 2);
		else if (c == '\n')
			fsm_out_raw(o, "\\n", 2);
		else if (c == '\t')
			fsm_out_raw(o, "\\t", 2);
		else if (c == '\r')
			fsm_out_raw(o, "\\r", 2);
		else if (c < 0x20 || c == 0x7f)
			fsm_out_fmt(o, "\\u%04x", c);
		else
			fsm_out_raw(o, (const char *)&c, 1);
	}
	fsm_out_raw(o, "\"", 1);
}

/* ,"key":"value" (first: no comma) */
static void json_kv_str(struct fsm_out *o, const char *key, const char *value, bool first)
{
	fsm_out_fmt(o, "%s\"%s\":", first ? "" : ",", key);
	json_string(o, value);
}

static void json_kv_u64(struct fsm_out *o, const char *key, uint64_t v, bool first)
{
	fsm_out_fmt(o, "%s\"%s\":%llu", first ? "" : ",", key, (unsigned long long)v);
}

static void json_kv_bool(struct fsm_out *o, const char *key, bool v)
{
	fsm_out_fmt(o, ",\"%s\":%s", key, v ? "true" : "false");
}

static void json_membership(struct fsm_out *o, const struct duet_membership *c)
{
	fsm_out_raw(o, "{\"members\":[", 12);
	for (uint32_t i = 0; i < c->n; i++) {
		const struct duet_member *m = &c->members[i];
		fsm_out_raw(o, i ? ",{" : "{", i ? 2 : 1);
		json_kv_u64(o, "id", m->id, true);
		json_kv_str(o, "name", m->name, false);
		json_kv_str(o, "kind", fsm_member_kind_name(m->kind), false);
		json_kv_u64(o, "incarnation", m->incarnation, false);
		fsm_out_raw(o, ",\"addrs\":[", 10);
		for (uint8_t k = 0; k < m->n_addrs; k++) {
			if (k)
				fsm_out_raw(o, ",", 1);
			json_string(o, m->addrs[k]);
		}
		fsm_out_raw(o, "]}", 2);
	}
	fsm_out_raw(o, "]}", 2);
}

/* Writes "payload":{...}; returns the decoder's error without writing. */
static int json_payload(struct fsm_out *o, const struct raft_entry *e)
{
	switch (e->type) {
	case RAFT_ENTRY_NOOP:
		fsm_out_raw(o, ",\"payload\":{}", 13);
		return 0;
	case RAFT_ENTRY_MEMBERSHIP: {
		struct duet_membership c;
		int rc = duet_membership_decode(e->data, e->len, &c);
		if (rc)
			return rc;
		fsm_out_raw(o, ",\"payload\":", 11);
		json_membership(o, &c);
		return 0;
	}
	case RAFT_ENTRY_MASTER: {
		struct duet_master m;
		int rc = duet_master_decode(e->data, e->len, &m);
		if (rc)
			return rc;
		fsm_out_raw(o, ",\"payload\":{", 12);
		json_kv_u64(o, "node", m.node, true);
		json_kv_u64(o, "previous", m.previous, false);
		json_kv_str(o, "reason", fsm_master_reason_name(m.reason), false);
		json_kv_str(o, "detail", m.detail, false);
		break;
	}
	case RAFT_ENTRY_SYNC: {
		struct duet_sync s;
		int rc = duet_sync_decode(e->data, e->len, &s);
		if (rc)
			return rc;
		fsm_out_raw(o, ",\"payload\":{", 12);
		json_kv_u64(o, "node", s.node, true);
		json_kv_bool(o, "on", s.on);
		json_kv_str(o, "detail", s.detail, false);
		break;
	}
	case RAFT_ENTRY_STEP: {
		struct duet_step s;
		int rc = duet_step_decode(e->data, e->len, &s);
		if (rc)
			return rc;
		fsm_out_raw(o, ",\"payload\":{", 12);
		json_kv_str(o, "action", fsm_step_action_name(s.action), true);
		json_kv_u64(o, "node", s.node, false);
		json_kv_bool(o, "ok", s.ok);
		json_kv_u64(o, "duration_ms", s.duration_ms, false);
		json_kv_str(o, "detail", s.detail, false);
		break;
	}
	case RAFT_ENTRY_HEALTH: {
		struct duet_health h;
		int rc = duet_health_decode(e->data, e->len, &h);
		if (rc)
			return rc;
		fsm_out_raw(o, ",\"payload\":{", 12);
		json_kv_u64(o, "node", h.node, true);
		json_kv_str(o, "check", h.check, false);
		json_kv_str(o, "state", fsm_health_state_name(h.state), false);
		json_kv_bool(o, "critical", h.critical);
		json_kv_str(o, "detail", h.detail, false);
		break;
	}
	case RAFT_ENTRY_OPERATOR: {
		struct duet_operator op;
		int rc = duet_operator_decode(e->data, e->len, &op);
		if (rc)
			return rc;
		fsm_out_raw(o, ",\"payload\":{", 12);
		json_kv_str(o, "command", fsm_operator_command_name(op.command), true);
		json_kv_u64(o, "node", op.node, false);
		json_kv_u64(o, "target", op.target, false);
		json_kv_u64(o, "incarnation", op.incarnation, false);
		json_kv_str(o, "who", op.who, false);
		json_kv_str(o, "why", op.why, false);
		break;
	}
	case RAFT_ENTRY_TRAPS: {
		struct duet_traps_iter it;
		uint32_t count;
		int rc = duet_traps_iter_init(&it, e->data, e->len, &count);
		if (rc)
			return rc;
		fsm_out_raw(o, ",\"payload\":{", 12);
		json_kv_u64(o, "count", count, true);
		break;
	}
	case RAFT_ENTRY_DELIVERED: {
		struct duet_delivered d;
		int rc = duet_delivered_decode(e->data, e->len, &d);
		if (rc)
			return rc;
		fsm_out_raw(o, ",\"payload\":{", 12);
		json_kv_u64(o, "up_to_index", d.up_to_index, true);
		json_kv_str(o, "sink", fsm_sink_name(d.sink), false);
		break;
	}
	default:
		return DUET_EVERSION; /* an entry type this build does not know */
	}
	fsm_out_raw(o, "}", 1);
	return 0;
}

int fsm_entry_json(const struct raft_entry *e, char *buf, size_t len)
{
	if (!e || (!buf && len) || (e->len && !e->data))
		return DUET_EINVAL;
	struct fsm_out o;
	fsm_out_init(&o, buf, len);
	fsm_out_raw(&o, "{", 1);
	json_kv_u64(&o, "index", e->index, true);
	json_kv_u64(&o, "term", e->term, false);
	json_kv_u64(&o, "wall_ms", e->wall_ms, false);
	json_kv_u64(&o, "author", e->author, false);
	json_kv_str(&o, "type", raft_entry_type_name(e->type), false);
	size_t mark = o.used;
	int rc = json_payload(&o, e);
	if (rc) {
		o.used = mark; /* a decoder failed before anything was written */
		json_kv_u64(&o, "len", e->len, false);
		json_kv_str(&o, "payload_error", duet_strerror(rc), false);
	}
	fsm_out_raw(&o, "}", 1);
	return fsm_out_done(&o);
}
