/* SPDX-License-Identifier: MIT */
/*
 * syslog_sd.c - RFC 5424 section 6.3 STRUCTURED-DATA, scanned in place.
 *
 *   SD-ELEMENT  = "[" SD-ID *(SP SD-PARAM) "]"
 *   SD-PARAM    = PARAM-NAME "=" DQUOTE PARAM-VALUE DQUOTE
 *   SD-NAME     = 1*32PRINTUSASCII except '=', SP, ']', '"'
 *   PARAM-VALUE = UTF-8-STRING, with '"', '\' and ']' escaped by '\'
 *
 * Inside a PARAM-VALUE only an unescaped '"' ends the value, so an escaped
 * quote or bracket never ends the element; an unescaped ']' inside the
 * quotes (which the RFC forbids but senders produce) is taken as a byte of
 * the value rather than refusing the whole SD. A backslash before any other
 * byte is an ordinary byte, as the RFC says. Nothing is unescaped: values
 * stay as sent.
 */
#include "syslog_internal.h"

static int is_sd_name_byte(unsigned char c)
{
	return c > 32 && c < 127 && c != '=' && c != ']' && c != '"';
}

/* Length of the SD-NAME at p[0..n), 0 if there is none or it is too long. */
static size_t sd_name(const char *p, size_t n)
{
	size_t i = 0;
	while (i < n && is_sd_name_byte((unsigned char)p[i]))
		i++;
	return i <= SYSLOG_SD_NAME_MAX ? i : 0;
}

static void emit(syslog_sd_visit visit, void *ctx, struct syslog_sd_part *part, const char *p,
		 size_t len)
{
	if (!visit)
		return;
	part->raw.p = p;
	part->raw.len = len;
	visit(ctx, part);
}

/* Length of the SD-ELEMENT at p[0..n), or 0 if there is no valid one. */
static size_t sd_element(const char *p, size_t n, syslog_sd_visit visit, void *ctx)
{
	if (n < 3 || p[0] != '[')
		return 0;
	size_t id_len = sd_name(p + 1, n - 1);
	if (id_len == 0)
		return 0;
	struct syslog_sd_part part = {.kind = SYSLOG_SD_OPEN, .id = {p + 1, id_len}};
	emit(visit, ctx, &part, p, 1 + id_len);
	size_t i = 1 + id_len;
	while (i < n && p[i] == ' ') {
		size_t start = i++;
		size_t name_len = sd_name(p + i, n - i);
		if (name_len == 0)
			return 0;
		i += name_len;
		if (n - i < 2 || p[i] != '=' || p[i + 1] != '"')
			return 0;
		i += 2;
		size_t value_start = i;
		while (i < n && p[i] != '"') {
			if (p[i] == '\\' && i + 1 < n &&
			    (p[i + 1] == '"' || p[i + 1] == '\\' || p[i + 1] == ']'))
				i++;
			i++;
		}
		if (i >= n)
			return 0;
		part.kind = SYSLOG_SD_PARAM;
		part.name.p = p + start + 1;
		part.name.len = name_len;
		part.value.p = p + value_start;
		part.value.len = i - value_start;
		i++; /* closing quote */
		emit(visit, ctx, &part, p + start, i - start);
	}
	if (i >= n || p[i] != ']')
		return 0;
	part.kind = SYSLOG_SD_CLOSE;
	part.name.p = part.value.p = NULL;
	part.name.len = part.value.len = 0;
	emit(visit, ctx, &part, p + i, 1);
	return i + 1;
}

size_t syslog_sd_scan(const char *p, size_t n, syslog_sd_visit visit, void *ctx)
{
	size_t used = 0;
	while (used < n && p[used] == '[') {
		size_t len = sd_element(p + used, n - used, visit, ctx);
		if (len == 0)
			break;
		used += len;
	}
	return used;
}
