/* SPDX-License-Identifier: MIT */
/*
 * sink_format.c - one committed trap as one JSON line (traps_sink.h,
 * "Records"). Pure: no allocation, no I/O.
 *
 * One writer serves both passes: with no room it only counts, so the
 * length that duet_sink_submit() allocates and the bytes written come from
 * the same code and cannot disagree.
 *
 * Strings we produce (id, sender, receiver) must be valid JSON and valid
 * UTF-8 whatever the caller gives: PostgreSQL's jsonb refuses invalid
 * UTF-8, and one refused record would hold up every batch after it. So a
 * byte that does not start a well-formed UTF-8 sequence (RFC 3629: no
 * overlongs, no surrogates, nothing above U+10FFFF) is written as \ufffd.
 * The payload is the decoder's JSON and goes in verbatim but for raw CR and
 * LF, which valid JSON only has as whitespace and a line may not contain.
 */
#include <stdio.h>
#include <string.h>

#include "duet/err.h"
#include "sink_internal.h"

struct out {
	char *p;
	size_t cap; /* bytes that may be written at p */
	size_t n;   /* bytes produced so far (may pass cap: then only counted) */
};

static void put(struct out *o, const char *s, size_t len)
{
	if (o->n < o->cap) {
		size_t room = o->cap - o->n;
		memcpy(o->p + o->n, s, len < room ? len : room);
	}
	o->n += len;
}

static void put_str(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* Length of the well-formed UTF-8 sequence at p (at most left bytes), or 0. */
static size_t utf8_len(const unsigned char *p, size_t left)
{
	unsigned char c = p[0];
	size_t need;
	unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */
	if (c >= 0xc2 && c <= 0xdf)
		need = 2;
	else if (c >= 0xe0 && c <= 0xef)
		need = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		need = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f; /* no surrogates */
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f; /* nothing above U+10FFFF */
	if (left < need || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < need; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return need;
}

static void put_json_string(struct out *o, const char *text)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t n = strlen(text);
	put(o, "\"", 1);
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		char esc[8];
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			put(o, esc, 2);
		} else if (c == '\n') {
			put(o, "\\n", 2);
		} else if (c == '\r') {
			put(o, "\\r", 2);
		} else if (c == '\t') {
			put(o, "\\t", 2);
		} else if (c == '\b') {
			put(o, "\\b", 2);
		} else if (c == '\f') {
			put(o, "\\f", 2);
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof esc, "\\u%04x", c);
			put(o, esc, 6);
		} else if (c >= 0x80) {
			size_t len = utf8_len(s + i, n - i);
			if (len == 0) {
				put(o, "\\ufffd", 6);
				i++;
			} else {
				put(o, (const char *)s + i, len);
				i += len;
			}
			continue;
		} else {
			put(o, (const char *)s + i, 1);
		}
		i++;
	}
	put(o, "\"", 1);
}

static const char *kind_name(uint8_t kind)
{
	switch (kind) {
	case DUET_TRAP_SYSLOG:
		return "syslog";
	case DUET_TRAP_SNMP:
		return "snmp";
	case DUET_TRAP_CUSTOM:
		return "custom";
	default:
		return NULL;
	}
}

/* The payload, raw CR/LF as spaces (see the file comment). */
static void put_payload(struct out *o, const uint8_t *p, size_t len)
{
	size_t run = 0;
	for (size_t i = 0; i < len; i++) {
		if (p[i] != '\n' && p[i] != '\r')
			continue;
		put(o, (const char *)p + run, i - run);
		put(o, " ", 1);
		run = i + 1;
	}
	put(o, (const char *)p + run, len - run);
}

static void put_record(struct out *o, const struct duet_sink_record *rec)
{
	const struct duet_trap *t = rec->trap;
	char num[64];
	put_str(o, "{\"id\":");
	put_json_string(o, rec->id);
	put_str(o, ",\"kind\":\"");
	put_str(o, kind_name(t->kind));
	put_str(o, "\",\"sender\":");
	put_json_string(o, t->sender);
	put_str(o, ",\"receiver\":");
	put_json_string(o, rec->receiver);
	snprintf(num, sizeof num, ",\"recv_ms\":%llu,\"ordinal\":%u,\"identity\":\"",
		 (unsigned long long)t->recv_ms, (unsigned)t->ordinal);
	put_str(o, num);
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < sizeof t->identity; i++) {
		char h[2] = {hex[t->identity[i] >> 4], hex[t->identity[i] & 15]};
		put(o, h, 2);
	}
	put_str(o, "\",\"trap\":");
	put_payload(o, t->payload, t->len);
	put_str(o, "}\n");
}

int sink_record_check(const struct duet_sink_record *rec)
{
	if (!rec || !rec->trap || !rec->receiver)
		return DUET_EINVAL;
	if (!rec->id[0] || !memchr(rec->id, 0, sizeof rec->id))
		return DUET_EINVAL;
	const struct duet_trap *t = rec->trap;
	if (!kind_name(t->kind) || !t->payload || t->len == 0)
		return DUET_EINVAL;
	if (!memchr(t->sender, 0, sizeof t->sender))
		return DUET_EINVAL;
	return 0;
}

size_t sink_record_len(const struct duet_sink_record *rec)
{
	struct out o = {0};
	put_record(&o, rec);
	return o.n;
}

size_t sink_record_write(const struct duet_sink_record *rec, char *out)
{
	struct out o = {.p = out, .cap = (size_t)-1};
	put_record(&o, rec);
	return o.n;
}

size_t sink_json_string(char *buf, size_t cap, const char *s)
{
	struct out o = {.p = buf, .cap = cap};
	put_json_string(&o, s);
	return o.n;
}

long duet_sink_format(const struct duet_sink_record *rec, char *buf, size_t cap)
{
	if (sink_record_check(rec))
		return DUET_EINVAL;
	size_t len = sink_record_len(rec);
	if (buf && cap > len) {
		sink_record_write(rec, buf);
		buf[len] = 0;
	} else if (buf && cap > 0) {
		buf[0] = 0; /* a cut record is no use to anyone */
	}
	return (long)len;
}

int duet_sink_check_table(const char *name)
{
	if (!name || !name[0] || strlen(name) > DUET_SINK_TABLE_MAX)
		return DUET_EINVAL;
	if (!(name[0] == '_' || (name[0] >= 'a' && name[0] <= 'z')))
		return DUET_EINVAL;
	for (const char *p = name + 1; *p; p++)
		if (!(*p == '_' || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
			return DUET_EINVAL;
	return 0;
}
