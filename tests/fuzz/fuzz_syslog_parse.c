/* SPDX-License-Identifier: MIT */
/*
 * fuzz_syslog_parse.c - libFuzzer target for duet_syslog_parse(), the
 * identity content and the JSON rendering (traps_syslog.h).
 *
 * For any input: parsing is deterministic and position-independent (a copy
 * at another address gives the same offsets); every field lies inside the
 * input, in field order, without overlap; facility, severity, format and
 * version are in range. The identity has the size it announces, refuses a
 * short buffer, and does not change when only the timestamp does. The
 * JSON has the length it announces, is NUL-terminated, is valid UTF-8,
 * parses as the documented object, and each string decodes back to its
 * field exactly when the field is valid UTF-8 (else it holds U+FFFD).
 * The UTF-8 and JSON checks here are written apart from the library's.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "duet/traps_syslog.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- independent UTF-8 check --------------------------------------------- */

/* Decodes one scalar value at p[0..n); returns its length or 0 if the bytes
 * are not the shortest encoding of a scalar value. */
static size_t utf8_decode(const uint8_t *p, size_t n, uint32_t *cp)
{
	size_t len;
	uint32_t v;
	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	} else if ((p[0] & 0xe0) == 0xc0) {
		len = 2;
		v = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		len = 3;
		v = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		len = 4;
		v = p[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (p[i] & 0x3f);
	}
	static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
	if (v < min[len] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

static int utf8_valid(const uint8_t *p, size_t n)
{
	uint32_t cp;
	for (size_t i = 0; i < n;) {
		size_t len = utf8_decode(p + i, n - i, &cp);
		if (!len)
			return 0;
		i += len;
	}
	return 1;
}

/* ---- independent JSON reader ----------------------------------------------- */

struct reader {
	const char *p;
	const char *end;
};

static int hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void put_utf8(uint8_t *out, size_t *len, uint32_t cp)
{
	if (cp < 0x80) {
		out[(*len)++] = (uint8_t)cp;
	} else if (cp < 0x800) {
		out[(*len)++] = (uint8_t)(0xc0 | cp >> 6);
		out[(*len)++] = (uint8_t)(0x80 | (cp & 0x3f));
	} else {
		out[(*len)++] = (uint8_t)(0xe0 | cp >> 12);
		out[(*len)++] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		out[(*len)++] = (uint8_t)(0x80 | (cp & 0x3f));
	}
}

/* Reads a JSON string into out (caller sizes it: at most 3 bytes a byte of
 * JSON); aborts on anything RFC 8259 forbids. */
static size_t read_string(struct reader *r, uint8_t *out)
{
	size_t len = 0;
	FUZZ_CHECK(r->p < r->end && *r->p == '"');
	r->p++;
	for (;;) {
		FUZZ_CHECK(r->p < r->end);
		uint8_t c = (uint8_t)*r->p;
		if (c == '"') {
			r->p++;
			return len;
		}
		FUZZ_CHECK(c >= 0x20);
		if (c != '\\') {
			out[len++] = c;
			r->p++;
			continue;
		}
		FUZZ_CHECK(r->end - r->p >= 2);
		char e = r->p[1];
		r->p += 2;
		switch (e) {
		case '"':
		case '\\':
		case '/':
			out[len++] = (uint8_t)e;
			break;
		case 'b':
			out[len++] = '\b';
			break;
		case 'f':
			out[len++] = '\f';
			break;
		case 'n':
			out[len++] = '\n';
			break;
		case 'r':
			out[len++] = '\r';
			break;
		case 't':
			out[len++] = '\t';
			break;
		case 'u': {
			FUZZ_CHECK(r->end - r->p >= 4);
			uint32_t cp = 0;
			for (int i = 0; i < 4; i++) {
				int h = hex(r->p[i]);
				FUZZ_CHECK(h >= 0);
				cp = cp << 4 | (uint32_t)h;
			}
			FUZZ_CHECK(cp < 0xd800 || cp > 0xdfff); /* the library never splits pairs */
			r->p += 4;
			put_utf8(out, &len, cp);
			break;
		}
		default:
			FUZZ_CHECK(!"bad escape");
		}
	}
}

static void expect_text(struct reader *r, const char *text)
{
	size_t n = strlen(text);
	FUZZ_CHECK((size_t)(r->end - r->p) >= n && memcmp(r->p, text, n) == 0);
	r->p += n;
}

static unsigned read_number(struct reader *r)
{
	unsigned v = 0;
	FUZZ_CHECK(r->p < r->end && *r->p >= '0' && *r->p <= '9');
	FUZZ_CHECK(*r->p != '0' || r->end - r->p < 2 || r->p[1] < '0' || r->p[1] > '9');
	while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
		v = v * 10 + (unsigned)(*r->p++ - '0');
	return v;
}

static int contains_fffd(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 3 <= n; i++)
		if (p[i] == 0xef && p[i + 1] == 0xbf && p[i + 2] == 0xbd)
			return 1;
	return 0;
}

/* ",\"key\":" then null or a string that must render `field` */
static void check_field(struct reader *r, const char *key, struct duet_syslog_span field,
			int nullable, uint8_t *scratch)
{
	expect_text(r, ",\"");
	expect_text(r, key);
	expect_text(r, "\":");
	if (nullable && field.len == 0) {
		expect_text(r, "null");
		return;
	}
	size_t n = read_string(r, scratch);
	FUZZ_CHECK(utf8_valid(scratch, n));
	if (utf8_valid((const uint8_t *)field.p, field.len))
		FUZZ_CHECK(n == field.len && (n == 0 || memcmp(scratch, field.p, n) == 0));
	else
		FUZZ_CHECK(contains_fffd(scratch, n));
}

static void check_json(const struct duet_syslog_msg *m)
{
	long need = duet_syslog_json(m, NULL, 0);
	FUZZ_CHECK(need > 0);
	char *buf = malloc((size_t)need + 1);
	FUZZ_CHECK(buf != NULL);
	FUZZ_CHECK(duet_syslog_json(m, buf, (size_t)need + 1) == need);
	FUZZ_CHECK(buf[need] == '\0' && strlen(buf) == (size_t)need);
	FUZZ_CHECK(utf8_valid((const uint8_t *)buf, (size_t)need));
	FUZZ_CHECK(memchr(buf, '\n', (size_t)need) == NULL);

	uint8_t *scratch = malloc(3 * (size_t)need + 1);
	FUZZ_CHECK(scratch != NULL);
	struct reader r = {buf, buf + need};
	expect_text(&r, "{\"kind\":");
	size_t n = read_string(&r, scratch);
	FUZZ_CHECK(n == 6 && memcmp(scratch, "syslog", 6) == 0);
	expect_text(&r, ",\"facility\":");
	FUZZ_CHECK(read_number(&r) == m->facility);
	expect_text(&r, ",\"severity\":");
	FUZZ_CHECK(read_number(&r) == m->severity);
	check_field(&r, "timestamp", m->timestamp, 1, scratch);
	check_field(&r, "host", m->hostname, 1, scratch);
	check_field(&r, "app", m->app_name, 1, scratch);
	check_field(&r, "procid", m->procid, 1, scratch);
	check_field(&r, "msgid", m->msgid, 1, scratch);
	check_field(&r, "sd", m->sd, 1, scratch);
	check_field(&r, "msg", m->msg, 0, scratch);
	expect_text(&r, "}");
	FUZZ_CHECK(r.p == r.end);

	char *small = malloc((size_t)need);
	FUZZ_CHECK(small != NULL);
	FUZZ_CHECK(duet_syslog_json(m, small, (size_t)need) == DUET_ETOOBIG && small[0] == '\0');
	free(small);
	free(scratch);
	free(buf);
}

/* ---- parse and identity --------------------------------------------------- */

static uint8_t *identity_of(const struct duet_syslog_msg *m, size_t *len)
{
	size_t need = duet_syslog_identity_size(m);
	FUZZ_CHECK(need >= 3 + 6 * 4);
	uint8_t *buf = malloc(need);
	FUZZ_CHECK(buf != NULL);
	FUZZ_CHECK(duet_syslog_identity(m, buf, need) == (long)need);
	FUZZ_CHECK(duet_syslog_identity(m, buf, need - 1) == DUET_ETOOBIG);
	FUZZ_CHECK(buf[0] == DUET_SYSLOG_IDENTITY_VERSION && buf[1] == m->facility &&
		   buf[2] == m->severity);
	*len = need;
	return buf;
}

static const struct duet_syslog_span *field(const struct duet_syslog_msg *m, int i)
{
	const struct duet_syslog_span *f[] = {&m->timestamp, &m->hostname, &m->app_name, &m->procid,
					      &m->msgid,     &m->sd,       &m->msg};
	return f[i];
}
#define N_FIELDS 7

static void check_fields(const struct duet_syslog_msg *m, const uint8_t *data, size_t size)
{
	FUZZ_CHECK(m->facility <= 23 && m->severity <= 7);
	FUZZ_CHECK(m->format == DUET_SYSLOG_RFC3164 || m->format == DUET_SYSLOG_RFC5424);
	FUZZ_CHECK((m->format == DUET_SYSLOG_RFC5424) == (m->version != 0));
	FUZZ_CHECK(m->version <= 999);
	if (m->flags & DUET_SYSLOG_F_NO_PRI)
		FUZZ_CHECK(m->facility == 1 && m->severity == 5 &&
			   m->format == DUET_SYSLOG_RFC3164);
	if (m->format == DUET_SYSLOG_RFC3164)
		FUZZ_CHECK(m->msgid.len == 0 && m->sd.len == 0 &&
			   !(m->flags & (DUET_SYSLOG_F_BOM | DUET_SYSLOG_F_BAD_SD)));
	const char *lo = (const char *)data;
	for (int i = 0; i < N_FIELDS; i++) {
		const struct duet_syslog_span *s = field(m, i);
		if (s->len == 0) {
			FUZZ_CHECK(s->p == NULL);
			continue;
		}
		FUZZ_CHECK(s->p >= lo && s->p + s->len <= (const char *)data + size);
		lo = s->p + s->len;
	}
	if (m->msg.len)
		FUZZ_CHECK(m->msg.p[m->msg.len - 1] != '\n' && m->msg.p[m->msg.len - 1] != '\0');
}

/* Replaces the timestamp with another one of the same syntax and checks
 * that the identity stays. */
static void check_timestamp_free(const struct duet_syslog_msg *m, const uint8_t *data, size_t size,
				 const uint8_t *ident, size_t ident_len)
{
	if (m->timestamp.len == 0)
		return;
	const char *other = m->format == DUET_SYSLOG_RFC5424 ? "-" : "Jan  1 00:00:00";
	size_t before = (size_t)((const uint8_t *)m->timestamp.p - data);
	size_t after = size - before - m->timestamp.len;
	size_t n = before + strlen(other) + after;
	uint8_t *copy = malloc(n);
	FUZZ_CHECK(copy != NULL);
	memcpy(copy, data, before);
	memcpy(copy + before, other, strlen(other));
	memcpy(copy + before + strlen(other), data + before + m->timestamp.len, after);
	struct duet_syslog_msg m2;
	FUZZ_CHECK(duet_syslog_parse(copy, n, &m2) == 0);
	size_t len2;
	uint8_t *ident2 = identity_of(&m2, &len2);
	FUZZ_CHECK(len2 == ident_len && memcmp(ident2, ident, ident_len) == 0);
	free(ident2);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct duet_syslog_msg m, again;
	int rc = duet_syslog_parse(data, size, &m);
	FUZZ_CHECK(duet_syslog_parse(data, size, &again) == rc);
	FUZZ_CHECK(memcmp(&m, &again, sizeof m) == 0);
	if (rc) {
		FUZZ_CHECK(rc == DUET_EINVAL);
		for (size_t i = 0; i < size; i++)
			FUZZ_CHECK(data[i] == '\n' || data[i] == '\r' || data[i] == '\0');
		return 0;
	}
	check_fields(&m, data, size);

	/* the same bytes elsewhere: same fields at the same offsets */
	uint8_t *copy = malloc(size + 1);
	FUZZ_CHECK(copy != NULL);
	memcpy(copy + 1, data, size);
	struct duet_syslog_msg moved;
	FUZZ_CHECK(duet_syslog_parse(copy + 1, size, &moved) == 0);
	FUZZ_CHECK(moved.facility == m.facility && moved.severity == m.severity &&
		   moved.format == m.format && moved.flags == m.flags &&
		   moved.version == m.version);
	for (int i = 0; i < N_FIELDS; i++) {
		const struct duet_syslog_span *a = field(&m, i), *b = field(&moved, i);
		FUZZ_CHECK(a->len == b->len);
		if (a->len)
			FUZZ_CHECK((const uint8_t *)a->p - data ==
				   (const uint8_t *)b->p - (copy + 1));
	}

	size_t ident_len, moved_len;
	uint8_t *ident = identity_of(&m, &ident_len);
	uint8_t *moved_ident = identity_of(&moved, &moved_len);
	FUZZ_CHECK(ident_len == moved_len && memcmp(ident, moved_ident, ident_len) == 0);
	check_timestamp_free(&m, data, size, ident, ident_len);
	check_json(&m);

	free(moved_ident);
	free(ident);
	free(copy);
	return 0;
}
