/* SPDX-License-Identifier: MIT */
/*
 * status.c - read-only views of a health set: one check's state, the
 * iterator over all checks, and the JSON the daemon serves for
 * `duetctl status` (health.h).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "health_internal.h"

int duet_health_state(const struct duet_health_set *set, const char *name, int *state,
		      uint32_t *consecutive_failures, char *detail, size_t detail_len)
{
	const struct health_check *c = health_find(set, name);
	if (!c)
		return DUET_ENOENT;
	if (state)
		*state = c->state;
	if (consecutive_failures)
		*consecutive_failures = c->fail_streak;
	if (detail && detail_len)
		snprintf(detail, detail_len, "%s", c->detail);
	return 0;
}

unsigned duet_health_count(const struct duet_health_set *set)
{
	return set ? set->n_checks : 0;
}

int duet_health_status_at(const struct duet_health_set *set, unsigned i,
			  struct duet_health_status *out)
{
	if (!set || i >= set->n_checks)
		return DUET_ENOENT;
	const struct health_check *c = set->checks[i];
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", c->name);
	out->state = c->state;
	out->critical = c->critical;
	out->paused = c->paused;
	out->in_flight = c->ctx.in_flight;
	out->consecutive_failures = c->fail_streak;
	out->consecutive_ok = c->ok_streak;
	snprintf(out->detail, sizeof(out->detail), "%s", c->detail);
	out->last_duration_ms = c->last_duration_ms;
	out->interval_ms = c->interval_ms;
	out->timeout_ms = c->timeout_ms;
	out->fail_after = c->fail_after;
	out->ok_after = c->ok_after;
	out->probes = c->probes;
	out->failures = c->failures;
	out->timeouts = c->timeouts;
	out->skipped_ticks = c->skipped_ticks;
	out->late_answers = c->late_answers;
	return 0;
}

/* A bounded writer: once the buffer is full, everything after is refused. */
struct json_out {
	char *buf;
	size_t cap;
	size_t len;
	bool full;
};

static void out_printf(struct json_out *o, const char *fmt, ...)
{
	if (o->full)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len) {
		o->full = true;
		return;
	}
	o->len += (size_t)n;
}

/* A JSON string: quotes, backslashes and control bytes escaped; other
 * bytes (UTF-8 from strerror or a probe) pass as they are. */
static void out_string(struct json_out *o, const char *s)
{
	out_printf(o, "\"");
	for (const unsigned char *p = (const unsigned char *)s; *p && !o->full; p++) {
		if (*p == '"' || *p == '\\')
			out_printf(o, "\\%c", *p);
		else if (*p < 0x20)
			out_printf(o, "\\u%04x", *p);
		else
			out_printf(o, "%c", *p);
	}
	out_printf(o, "\"");
}

long duet_health_status_json(const struct duet_health_set *set, char *buf, size_t cap)
{
	if (!set || !buf || cap == 0)
		return DUET_EINVAL;
	struct json_out o = {.buf = buf, .cap = cap};
	out_printf(&o, "[");
	for (unsigned i = 0; i < set->n_checks; i++) {
		struct duet_health_status s;
		duet_health_status_at(set, i, &s);
		out_printf(&o, "%s{\"name\":", i ? "," : "");
		out_string(&o, s.name);
		out_printf(&o, ",\"state\":\"%s\",\"critical\":%s,\"paused\":%s,\"in_flight\":%s",
			   duet_health_state_name(s.state), s.critical ? "true" : "false",
			   s.paused ? "true" : "false", s.in_flight ? "true" : "false");
		out_printf(&o, ",\"consecutive_failures\":%" PRIu32 ",\"detail\":",
			   s.consecutive_failures);
		out_string(&o, s.detail);
		out_printf(&o,
			   ",\"last_duration_ms\":%" PRIu32 ",\"probes\":%" PRIu64
			   ",\"failures\":%" PRIu64 ",\"timeouts\":%" PRIu64
			   ",\"skipped_ticks\":%" PRIu64 ",\"late_answers\":%" PRIu64 "}",
			   s.last_duration_ms, s.probes, s.failures, s.timeouts, s.skipped_ticks,
			   s.late_answers);
	}
	out_printf(&o, "]");
	if (o.full) {
		buf[0] = '\0';
		return DUET_ETOOBIG;
	}
	return (long)o.len;
}
