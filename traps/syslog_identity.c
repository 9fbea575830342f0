/* SPDX-License-Identifier: MIT */
/*
 * syslog_identity.c - the canonical content a syslog trap's identity is
 * hashed from (layout in traps_syslog.h; DESIGN.md section 5).
 *
 * Invariant: two copies of one event, sent by one sender to both
 * receivers, give the same bytes, whatever their timestamps and whichever
 * framing or transport carried them; two different events give different
 * bytes. Hence the timestamp, the VERSION and the format are left out, the
 * meta params that count or time each sending (sequenceId, sysUpTime) are
 * dropped from SD, and every field is length-prefixed so that no shift of
 * bytes from one field to the next can make two messages collide.
 */
#include <string.h>

#include "syslog_internal.h"

/* Writes into buf[0..cap) while there is room, counts always: the same code
 * sizes and writes the content. */
struct out {
	uint8_t *p;
	size_t cap;
	size_t used;
};

static void put(struct out *o, const void *src, size_t n)
{
	if (o->p && n && o->used + n <= o->cap)
		memcpy(o->p + o->used, src, n);
	o->used += n;
}

static void put_u8(struct out *o, uint8_t v)
{
	put(o, &v, 1);
}

static void put_u32(struct out *o, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
	put(o, b, 4);
}

static void put_field(struct out *o, struct duet_syslog_span s)
{
	put_u32(o, (uint32_t)s.len);
	put(o, s.p, s.len);
}

static int span_is(struct duet_syslog_span s, const char *text)
{
	size_t n = strlen(text);
	return s.len == n && memcmp(s.p, text, n) == 0;
}

/* meta params that differ between copies of one event (RFC 5424 7.3.1,
 * 7.3.2): a per-transport counter and the sender's uptime. */
static int dropped_param(const struct syslog_sd_part *part)
{
	return part->kind == SYSLOG_SD_PARAM && span_is(part->id, "meta") &&
	       (span_is(part->name, "sequenceId") || span_is(part->name, "sysUpTime"));
}

static void put_sd_part(void *ctx, const struct syslog_sd_part *part)
{
	if (!dropped_param(part))
		put(ctx, part->raw.p, part->raw.len);
}

/* The SD field: u32 length, then the kept parts. SD that does not scan as
 * a whole (a caller-built message) is taken as it is. */
static void put_sd(struct out *o, struct duet_syslog_span sd)
{
	if (sd.len == 0 || syslog_sd_scan(sd.p, sd.len, NULL, NULL) != sd.len) {
		put_field(o, sd);
		return;
	}
	struct out count = {NULL, 0, 0};
	syslog_sd_scan(sd.p, sd.len, put_sd_part, &count);
	put_u32(o, (uint32_t)count.used);
	syslog_sd_scan(sd.p, sd.len, put_sd_part, o);
}

static void put_identity(struct out *o, const struct duet_syslog_msg *m)
{
	put_u8(o, DUET_SYSLOG_IDENTITY_VERSION);
	put_u8(o, m->facility);
	put_u8(o, m->severity);
	put_field(o, m->hostname);
	put_field(o, m->app_name);
	put_field(o, m->procid);
	put_field(o, m->msgid);
	put_sd(o, m->sd);
	put_field(o, m->msg);
}

size_t duet_syslog_identity_size(const struct duet_syslog_msg *m)
{
	struct out o = {NULL, 0, 0};
	put_identity(&o, m);
	return o.used;
}

long duet_syslog_identity(const struct duet_syslog_msg *m, void *buf, size_t cap)
{
	size_t need = duet_syslog_identity_size(m);
	if (need > cap)
		return DUET_ETOOBIG;
	struct out o = {buf, cap, 0};
	put_identity(&o, m);
	return (long)o.used;
}
