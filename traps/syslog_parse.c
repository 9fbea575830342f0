/* SPDX-License-Identifier: MIT */
/*
 * syslog_parse.c - one syslog message into its fields (the rules are in
 * traps_syslog.h): RFC 5424 when the header says so, else RFC 3164 with
 * the deviations that real senders make.
 *
 * The parser is lenient by design: a trap receiver that refused what it
 * could not read would lose traps (DESIGN.md section 5). So every input
 * but an empty one parses, every byte lands in a field or is a separator,
 * and ambiguity is settled by fixed rules (written down in the header) so
 * that the two receivers of one message always agree on its fields and
 * hence on its identity. A 5424 header that breaks off falls back to 3164
 * from the start of the body, which keeps every byte in msg.
 *
 * Nothing is copied or allocated: fields are spans of the input.
 */
#include <string.h>

#include "syslog_internal.h"

#define SYSLOG_TAG_MAX        48  /* RFC 5424 APP-NAME; RFC 3164 says 32 */
#define SYSLOG_PID_MAX        128 /* RFC 5424 PROCID */
#define SYSLOG_FRAC_MAX       9   /* fraction digits of a timestamp */
#define SYSLOG_PRI_MAX        191 /* facility 23, severity 7 */
#define SYSLOG_VERSION_DIGITS 3

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static struct duet_syslog_span span(const char *p, size_t len)
{
	struct duet_syslog_span s = {len ? p : NULL, len};
	return s;
}

/* "<" 1*3DIGIT ">" with a value up to 191. Returns the value and sets
 * *used, or returns -1. */
static int parse_pri(const char *p, size_t n, size_t *used)
{
	if (n < 3 || p[0] != '<')
		return -1;
	size_t i = 1;
	int v = 0;
	while (i < n && i <= 3 && is_digit(p[i]))
		v = v * 10 + (p[i++] - '0');
	if (i == 1 || i >= n || p[i] != '>' || v > SYSLOG_PRI_MAX)
		return -1;
	*used = i + 1;
	return v;
}

/* ---- RFC 3164 ------------------------------------------------------------- */

/* Matches `digits` digits at p[*i]; advances *i. */
static int digits_at(const char *p, size_t n, size_t *i, unsigned digits)
{
	if (n - *i < digits)
		return 0;
	for (unsigned k = 0; k < digits; k++)
		if (!is_digit(p[*i + k]))
			return 0;
	*i += digits;
	return 1;
}

static int char_at(const char *p, size_t n, size_t *i, char c)
{
	if (*i >= n || p[*i] != c)
		return 0;
	(*i)++;
	return 1;
}

/* "hh:mm:ss" then an optional ".d..." */
static int clock_at(const char *p, size_t n, size_t *i)
{
	if (!digits_at(p, n, i, 2) || !char_at(p, n, i, ':') || !digits_at(p, n, i, 2) ||
	    !char_at(p, n, i, ':') || !digits_at(p, n, i, 2))
		return 0;
	if (*i + 1 < n && p[*i] == '.' && is_digit(p[*i + 1])) {
		size_t k = *i + 1;
		while (k < n && is_digit(p[k]) && k - *i <= SYSLOG_FRAC_MAX)
			k++;
		*i = k;
	}
	return 1;
}

/* "Mmm dd [yyyy ]hh:mm:ss[.f]", day space-padded, zero-padded or one digit. */
static size_t bsd_timestamp(const char *p, size_t n)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	if (n < 14)
		return 0;
	int month = 0;
	for (int k = 0; k < 12 && !month; k++)
		if (memcmp(p, months + 3 * k, 3) == 0)
			month = k + 1;
	if (!month || p[3] != ' ')
		return 0;
	size_t i = 4;
	if (p[i] == ' ')
		i++;
	if (!is_digit(p[i]))
		return 0;
	i++;
	if (is_digit(p[i]) && p[4] != ' ')
		i++;
	if (!char_at(p, n, &i, ' '))
		return 0;
	size_t year = i;
	if (digits_at(p, n, &year, 4) && char_at(p, n, &year, ' '))
		i = year;
	return clock_at(p, n, &i) ? i : 0;
}

/* "yyyy-mm-ddThh:mm:ss[.f](Z|+hh:mm|-hh:mm)" */
static size_t rfc3339_timestamp(const char *p, size_t n)
{
	size_t i = 0;
	if (!digits_at(p, n, &i, 4) || !char_at(p, n, &i, '-') || !digits_at(p, n, &i, 2) ||
	    !char_at(p, n, &i, '-') || !digits_at(p, n, &i, 2) || !char_at(p, n, &i, 'T') ||
	    !clock_at(p, n, &i))
		return 0;
	if (char_at(p, n, &i, 'Z'))
		return i;
	if (i < n && (p[i] == '+' || p[i] == '-')) {
		i++;
		if (digits_at(p, n, &i, 2) && char_at(p, n, &i, ':') && digits_at(p, n, &i, 2))
			return i;
	}
	return 0;
}

/* A timestamp is taken only when SP or the end follows it. */
static size_t timestamp_3164(const char *p, size_t n)
{
	size_t len = bsd_timestamp(p, n);
	if (!len)
		len = rfc3339_timestamp(p, n);
	return len && (len == n || p[len] == ' ') ? len : 0;
}

static int is_host_byte(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '.' ||
	       c == '-' || c == '_' || c == ':';
}

/* The word at p[0..n) is a HOSTNAME when SP follows it, it has only host
 * bytes and it does not end in ':' (which would make it a TAG). */
static size_t hostname_3164(const char *p, size_t n)
{
	size_t i = 0;
	while (i < n && is_host_byte(p[i]))
		i++;
	if (i == 0 || i == n || p[i] != ' ' || p[i - 1] == ':')
		return 0;
	return i;
}

/* TAG["[" PID "]"] ":" followed by SP or the end. Returns the bytes used
 * (through the ':') and sets the spans, or returns 0. */
static size_t tag_3164(const char *p, size_t n, struct duet_syslog_span *tag,
		       struct duet_syslog_span *pid)
{
	size_t i = 0;
	while (i < n && p[i] != ' ' && p[i] != '[' && p[i] != ':' && i <= SYSLOG_TAG_MAX)
		i++;
	size_t tag_len = i;
	if (tag_len == 0 || tag_len > SYSLOG_TAG_MAX)
		return 0;
	size_t pid_start = 0, pid_len = 0;
	if (i < n && p[i] == '[') {
		pid_start = ++i;
		while (i < n && p[i] != ']' && p[i] != ' ' && i - pid_start <= SYSLOG_PID_MAX)
			i++;
		pid_len = i - pid_start;
		if (pid_len == 0 || pid_len > SYSLOG_PID_MAX || !char_at(p, n, &i, ']'))
			return 0;
	}
	if (!char_at(p, n, &i, ':') || (i < n && p[i] != ' '))
		return 0;
	*tag = span(p, tag_len);
	*pid = span(p + pid_start, pid_len);
	return i;
}

static void parse_3164(const char *p, size_t n, struct duet_syslog_msg *m)
{
	m->format = DUET_SYSLOG_RFC3164;
	size_t i = 0;
	size_t ts = timestamp_3164(p, n);
	if (ts) {
		m->timestamp = span(p, ts);
		i = ts < n ? ts + 1 : ts;
		size_t host = hostname_3164(p + i, n - i);
		if (host) {
			m->hostname = span(p + i, host);
			i += host + 1;
		}
	}
	size_t tag = tag_3164(p + i, n - i, &m->app_name, &m->procid);
	if (tag) {
		i += tag;
		if (i < n)
			i++; /* the SP after "tag:" */
	}
	m->msg = span(p + i, n - i);
}

/* ---- RFC 5424 ------------------------------------------------------------- */

/* A header field: 1*(any byte but SP), then SP. "-" is absent. */
static int field_5424(const char *p, size_t n, size_t *i, struct duet_syslog_span *out)
{
	size_t start = *i;
	const char *sp = memchr(p + start, ' ', n - start);
	if (!sp || sp == p + start)
		return 0;
	size_t len = (size_t)(sp - (p + start));
	*out = len == 1 && p[start] == '-' ? span(NULL, 0) : span(p + start, len);
	*i = start + len + 1;
	return 1;
}

/* Returns 0 with *m filled, or -1 if p is no 5424 header (m then holds
 * junk: the caller clears it). */
static int parse_5424(const char *p, size_t n, struct duet_syslog_msg *m)
{
	size_t i = 0;
	unsigned version = 0;
	if (n == 0 || p[0] < '1' || p[0] > '9')
		return -1;
	while (i < n && is_digit(p[i]) && i < SYSLOG_VERSION_DIGITS)
		version = version * 10 + (unsigned)(p[i++] - '0');
	if (!char_at(p, n, &i, ' '))
		return -1;
	if (!field_5424(p, n, &i, &m->timestamp) || !field_5424(p, n, &i, &m->hostname) ||
	    !field_5424(p, n, &i, &m->app_name) || !field_5424(p, n, &i, &m->procid) ||
	    !field_5424(p, n, &i, &m->msgid) || i >= n)
		return -1;
	m->format = DUET_SYSLOG_RFC5424;
	m->version = (uint16_t)version;

	size_t sd_len = 0;
	if (p[i] == '-')
		sd_len = 1;
	else if (p[i] == '[')
		sd_len = syslog_sd_scan(p + i, n - i, NULL, NULL);
	if (sd_len == 0 || (i + sd_len < n && p[i + sd_len] != ' ')) {
		m->flags |= DUET_SYSLOG_F_BAD_SD;
		m->msg = span(p + i, n - i);
		return 0;
	}
	if (p[i] == '[')
		m->sd = span(p + i, sd_len);
	i += sd_len;
	if (i < n)
		i++; /* SP before MSG */
	if (n - i >= 3 && memcmp(p + i, "\xEF\xBB\xBF", 3) == 0) {
		m->flags |= DUET_SYSLOG_F_BOM;
		i += 3;
	}
	m->msg = span(p + i, n - i);
	return 0;
}

/* ---- entry point ------------------------------------------------------------ */

int duet_syslog_parse(const void *buf, size_t len, struct duet_syslog_msg *m)
{
	const char *p = buf;
	memset(m, 0, sizeof *m);
	while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r' || p[len - 1] == '\0'))
		len--;
	if (len == 0)
		return DUET_EINVAL;

	size_t body = 0;
	int pri = parse_pri(p, len, &body);
	if (pri < 0) {
		pri = DUET_SYSLOG_DEFAULT_PRI;
		m->flags = DUET_SYSLOG_F_NO_PRI;
		body = 0;
	}
	m->facility = (uint8_t)(pri >> 3);
	m->severity = (uint8_t)(pri & 7);
	if (!(m->flags & DUET_SYSLOG_F_NO_PRI) && parse_5424(p + body, len - body, m) == 0)
		return 0;

	uint8_t flags = m->flags;
	memset(m, 0, sizeof *m);
	m->facility = (uint8_t)(pri >> 3);
	m->severity = (uint8_t)(pri & 7);
	m->flags = flags;
	parse_3164(p + body, len - body, m);
	return 0;
}
