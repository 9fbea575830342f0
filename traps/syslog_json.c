/* SPDX-License-Identifier: MIT */
/*
 * syslog_json.c - a parsed syslog message as one JSON object for the sinks
 * (layout in traps_syslog.h).
 *
 * Fields hold bytes as the sender sent them, which need not be UTF-8; the
 * sink must still get valid JSON. So valid UTF-8 is copied, each maximal
 * invalid subsequence (Unicode 15, section 3.9, "U+FFFD substitution of
 * maximal subparts") becomes \ufffd, and control bytes are escaped. The
 * output is therefore always valid UTF-8 and one line.
 */
#include <stdio.h>
#include <string.h>

#include "duet/traps_syslog.h"

/* Writes while there is room (keeping one byte for the NUL), counts always. */
struct out {
	char *p;
	size_t cap;
	size_t used;
};

static void put(struct out *o, const void *src, size_t n)
{
	if (o->p && o->used + n < o->cap)
		memcpy(o->p + o->used, src, n);
	o->used += n;
}

static void put_str(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at p[0..n) (n >= 1), or 0 with *bad
 * set to the length of the maximal subpart to replace. */
static size_t utf8_sequence(const unsigned char *p, size_t n, size_t *bad)
{
	unsigned char c = p[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t follow;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		follow = 1;
	} else if (c >= 0xe0 && c <= 0xef) {
		follow = 2;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		if (c == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		follow = 3;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		if (c == 0xf4)
			hi = 0x8f; /* over U+10FFFF */
	} else {
		*bad = 1;
		return 0;
	}
	for (size_t i = 1; i <= follow; i++) {
		if (i >= n || p[i] < lo || p[i] > hi) {
			*bad = i;
			return 0;
		}
		lo = 0x80;
		hi = 0xbf;
	}
	return follow + 1;
}

static void put_string(struct out *o, struct duet_syslog_span s)
{
	const unsigned char *p = (const unsigned char *)s.p;
	size_t i = 0;
	put(o, "\"", 1);
	while (i < s.len) {
		unsigned char c = p[i];
		size_t bad = 0;
		size_t len = utf8_sequence(p + i, s.len - i, &bad);
		if (len == 0) {
			put_str(o, "\\ufffd");
			i += bad;
			continue;
		}
		if (len > 1) {
			put(o, p + i, len);
		} else if (c == '"' || c == '\\') {
			char esc[2] = {'\\', (char)c};
			put(o, esc, 2);
		} else if (c == '\n') {
			put_str(o, "\\n");
		} else if (c == '\r') {
			put_str(o, "\\r");
		} else if (c == '\t') {
			put_str(o, "\\t");
		} else if (c == '\b') {
			put_str(o, "\\b");
		} else if (c == '\f') {
			put_str(o, "\\f");
		} else if (c < 0x20 || c == 0x7f) {
			char esc[8];
			snprintf(esc, sizeof esc, "\\u%04x", c);
			put_str(o, esc);
		} else {
			put(o, p + i, 1);
		}
		i += len;
	}
	put(o, "\"", 1);
}

static void put_field(struct out *o, const char *key, struct duet_syslog_span s, int nullable)
{
	put_str(o, ",\"");
	put_str(o, key);
	put_str(o, "\":");
	if (s.len == 0 && nullable)
		put_str(o, "null");
	else
		put_string(o, s);
}

long duet_syslog_json(const struct duet_syslog_msg *m, char *buf, size_t cap)
{
	struct out o = {buf, cap, 0};
	char head[80];
	snprintf(head, sizeof head, "{\"kind\":\"syslog\",\"facility\":%u,\"severity\":%u",
		 (unsigned)m->facility, (unsigned)m->severity);
	put_str(&o, head);
	put_field(&o, "timestamp", m->timestamp, 1);
	put_field(&o, "host", m->hostname, 1);
	put_field(&o, "app", m->app_name, 1);
	put_field(&o, "procid", m->procid, 1);
	put_field(&o, "msgid", m->msgid, 1);
	put_field(&o, "sd", m->sd, 1);
	put_field(&o, "msg", m->msg, 0);
	put_str(&o, "}");
	if (!buf && cap == 0)
		return (long)o.used;
	if (o.used >= cap) {
		if (cap > 0)
			buf[0] = '\0';
		return DUET_ETOOBIG;
	}
	buf[o.used] = '\0';
	return (long)o.used;
}
