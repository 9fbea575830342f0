/* SPDX-License-Identifier: MIT */
/*
 * describe.c - an entry in one line for people (duetctl log, daemon logs).
 *
 * The text comes from the decoded payload, never from guesses: a payload
 * that does not decode is shown as such with the decoder's reason. Free text
 * inside entries (details, operator reasons, names) was typed by people or
 * copied from other programs' errors, so it is made safe for a terminal:
 * control characters become \xNN and bytes that are not UTF-8 become '?',
 * so a record cannot forge a second line or move the cursor.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fsm_internal.h"

void fsm_out_init(struct fsm_out *o, char *buf, size_t cap)
{
	o->buf = buf;
	o->cap = buf ? cap : 0;
	o->used = 0;
	if (o->cap)
		o->buf[0] = 0;
}

void fsm_out_raw(struct fsm_out *o, const char *s, size_t n)
{
	if (o->used < o->cap) {
		size_t room = o->cap - 1 - o->used;
		size_t k = n < room ? n : room;
		memcpy(o->buf + o->used, s, k);
		o->buf[o->used + k] = 0;
	}
	o->used += n;
}

void fsm_out_fmt(struct fsm_out *o, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		fsm_out_raw(o, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

int fsm_out_done(struct fsm_out *o)
{
	return o->used > INT_MAX ? DUET_EINVAL : (int)o->used;
}

size_t fsm_utf8_seq(const unsigned char *p, size_t n)
{
	unsigned c = p[0];
	size_t len;
	uint32_t cp, min;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2, cp = c & 0x1f, min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		len = 3, cp = c & 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4, cp = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Free text, made safe for a terminal (see the file comment). */
static void fsm_out_text(struct fsm_out *o, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	for (size_t i = 0; i < n;) {
		size_t k = fsm_utf8_seq(p + i, n - i);
		if (k == 0) {
			fsm_out_raw(o, "?", 1);
			i++;
		} else if (k == 1 && (p[i] < 0x20 || p[i] == 0x7f)) {
			fsm_out_fmt(o, "\\x%02x", p[i]);
			i++;
		} else {
			fsm_out_raw(o, s + i, k);
			i += k;
		}
	}
}

/* ": text" unless text is empty. */
static void fsm_out_detail(struct fsm_out *o, const char *s)
{
	if (s[0]) {
		fsm_out_raw(o, ": ", 2);
		fsm_out_text(o, s);
	}
}

const char *fsm_master_reason_name(uint8_t reason)
{
	switch (reason) {
	case DUET_MASTER_FIRST_START:
		return "first start";
	case DUET_MASTER_FAILOVER:
		return "failover";
	case DUET_MASTER_SWITCHOVER:
		return "switchover";
	case DUET_MASTER_FORCED:
		return "forced";
	}
	return "unknown";
}

const char *fsm_step_action_name(uint8_t action)
{
	switch (action) {
	case DUET_STEP_FENCE:
		return "fence";
	case DUET_STEP_PROMOTE:
		return "promote";
	case DUET_STEP_FIP:
		return "fip";
	case DUET_STEP_MANAGER:
		return "manager";
	case DUET_STEP_DEMOTE:
		return "demote";
	case DUET_STEP_LEASE_WAIT:
		return "lease wait";
	case DUET_STEP_REBUILD:
		return "rebuild";
	}
	return "unknown";
}

const char *fsm_health_state_name(uint8_t state)
{
	switch (state) {
	case DUET_HEALTH_UNKNOWN:
		return "unknown";
	case DUET_HEALTH_OK:
		return "ok";
	case DUET_HEALTH_FAILING:
		return "failing";
	}
	return "invalid";
}

const char *fsm_operator_command_name(uint8_t command)
{
	switch (command) {
	case DUET_OP_SWITCHOVER:
		return "switchover";
	case DUET_OP_MAINTENANCE_ON:
		return "maintenance on";
	case DUET_OP_MAINTENANCE_OFF:
		return "maintenance off";
	case DUET_OP_REJOIN:
		return "rejoin";
	case DUET_OP_FORCE_PROMOTE:
		return "promote --accept-data-loss";
	}
	return "unknown";
}

const char *fsm_member_kind_name(uint8_t kind)
{
	switch (kind) {
	case DUET_MEMBER_DATA:
		return "data";
	case DUET_MEMBER_WITNESS:
		return "witness";
	}
	return "unknown";
}

const char *fsm_sink_name(uint8_t sink)
{
	switch (sink) {
	case 0:
		return "none";
	case DUET_SINK_TCP:
		return "tcp";
	case DUET_SINK_POSTGRESQL:
		return "postgresql";
	case DUET_SINK_RELP:
		return "relp";
	}
	return "unknown";
}

static void fsm_describe_membership(struct fsm_out *o, const struct duet_membership *c)
{
	fsm_out_fmt(o, " %u member%s", c->n, c->n == 1 ? "" : "s");
	for (uint32_t i = 0; i < c->n; i++) {
		const struct duet_member *m = &c->members[i];
		fsm_out_fmt(o, "%s %u ", i ? "," : ":", m->id);
		fsm_out_text(o, m->name);
		fsm_out_fmt(o, " (%s, incarnation %llu", fsm_member_kind_name(m->kind),
			    (unsigned long long)m->incarnation);
		for (uint8_t k = 0; k < m->n_addrs; k++) {
			fsm_out_raw(o, k ? " " : ", ", k ? 1 : 2);
			fsm_out_text(o, m->addrs[k]);
		}
		fsm_out_raw(o, ")", 1);
	}
}

static int fsm_describe_payload(struct fsm_out *o, const struct raft_entry *e)
{
	switch (e->type) {
	case RAFT_ENTRY_NOOP:
		fsm_out_fmt(o, " (a new leader's first entry, term %llu)",
			    (unsigned long long)e->term);
		return 0;
	case RAFT_ENTRY_MEMBERSHIP: {
		struct duet_membership c;
		int rc = duet_membership_decode(e->data, e->len, &c);
		if (rc == 0)
			fsm_describe_membership(o, &c);
		return rc;
	}
	case RAFT_ENTRY_MASTER: {
		struct duet_master m;
		int rc = duet_master_decode(e->data, e->len, &m);
		if (rc)
			return rc;
		fsm_out_fmt(o, " node %u (%s, previous %u)", m.node,
			    fsm_master_reason_name(m.reason), m.previous);
		fsm_out_detail(o, m.detail);
		return 0;
	}
	case RAFT_ENTRY_SYNC: {
		struct duet_sync s;
		int rc = duet_sync_decode(e->data, e->len, &s);
		if (rc)
			return rc;
		fsm_out_fmt(o, " node %u %s", s.node, s.on ? "on" : "off");
		fsm_out_detail(o, s.detail);
		return 0;
	}
	case RAFT_ENTRY_STEP: {
		struct duet_step s;
		int rc = duet_step_decode(e->data, e->len, &s);
		if (rc)
			return rc;
		fsm_out_fmt(o, " %s on node %u %s (%u ms)", fsm_step_action_name(s.action), s.node,
			    s.ok ? "ok" : "FAILED", s.duration_ms);
		fsm_out_detail(o, s.detail);
		return 0;
	}
	case RAFT_ENTRY_HEALTH: {
		struct duet_health h;
		int rc = duet_health_decode(e->data, e->len, &h);
		if (rc)
			return rc;
		fsm_out_fmt(o, " node %u ", h.node);
		fsm_out_text(o, h.check);
		fsm_out_fmt(o, " %s%s", fsm_health_state_name(h.state),
			    h.critical ? " (critical)" : "");
		fsm_out_detail(o, h.detail);
		return 0;
	}
	case RAFT_ENTRY_OPERATOR: {
		struct duet_operator op;
		int rc = duet_operator_decode(e->data, e->len, &op);
		if (rc)
			return rc;
		fsm_out_fmt(o, " %s on node %u", fsm_operator_command_name(op.command), op.node);
		if (op.target)
			fsm_out_fmt(o, ", target %u", op.target);
		if (op.command == DUET_OP_REJOIN)
			fsm_out_fmt(o, ", incarnation %llu", (unsigned long long)op.incarnation);
		if (op.who[0]) {
			fsm_out_raw(o, ", by ", 5);
			fsm_out_text(o, op.who);
		}
		fsm_out_detail(o, op.why);
		return 0;
	}
	case RAFT_ENTRY_TRAPS: {
		struct duet_traps_iter it;
		uint32_t count;
		int rc = duet_traps_iter_init(&it, e->data, e->len, &count);
		if (rc == 0)
			fsm_out_fmt(o, " %u trap%s", count, count == 1 ? "" : "s");
		return rc;
	}
	case RAFT_ENTRY_DELIVERED: {
		struct duet_delivered d;
		int rc = duet_delivered_decode(e->data, e->len, &d);
		if (rc == 0)
			fsm_out_fmt(o, " up to index %llu (%s)", (unsigned long long)d.up_to_index,
				    fsm_sink_name(d.sink));
		return rc;
	}
	}
	fsm_out_fmt(o, " type %u (%u bytes)", e->type, e->len);
	return 0;
}

int fsm_describe_entry(const struct raft_entry *e, char *buf, size_t len)
{
	if (!e || (!buf && len) || (e->len && !e->data))
		return DUET_EINVAL;
	struct fsm_out o;
	fsm_out_init(&o, buf, len);
	fsm_out_fmt(&o, "%s", raft_entry_type_name(e->type));
	size_t mark = o.used;
	int rc = fsm_describe_payload(&o, e);
	if (rc) {
		/* drop whatever a partly successful decoder path wrote */
		o.used = mark;
		if (o.cap)
			o.buf[mark < o.cap ? mark : o.cap - 1] = 0;
		fsm_out_fmt(&o, " (payload of %u bytes does not decode: %s)", e->len,
			    duet_strerror(rc));
	}
	return fsm_out_done(&o);
}
