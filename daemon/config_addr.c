/* SPDX-License-Identifier: MIT */
/*
 * config_addr.c - checking "host:port" addresses and address lists of the
 * config file (config.h), and the edit distance behind "did you mean".
 *
 * An address is checked by its form only, never resolved: check-config must
 * give the same answer on any machine, and a config must not fail to load
 * because DNS is down at boot. Every address list of the config is used as
 * IP literals at run time (duet_addr_parse: the transport, the receivers,
 * the isolation targets, the TCP sink), so a list refuses host names. A host that looks like an
 * IPv4 literal (digits and dots only) must be one, so a typo such as 10.0.0.256 is not accepted as
 * a hostname; an IPv6 literal goes in brackets, because its colons would otherwise run into the
 * port's.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

static int fail(char *why, size_t whylen, const char *fmt, const char *addr)
{
	snprintf(why, whylen, fmt, addr);
	return -1;
}

static int check_hostname(const char *host)
{
	size_t len = strlen(host), label = 0;
	if (len == 0 || len > 253)
		return -1;
	for (size_t i = 0; i < len; i++) {
		char c = host[i];
		if (c == '.') {
			/* labels are non-empty and do not end with '-' */
			if (label == 0 || host[i - 1] == '-')
				return -1;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)c) && c != '-')
			return -1;
		if (c == '-' && label == 0)
			return -1;
		if (++label > 63)
			return -1;
	}
	return label == 0 || host[len - 1] == '-' ? -1 : 0;
}

int config_check_addr(const char *addr, char *why, size_t whylen)
{
	char host[DUET_ADDR_MAX];
	const char *port;
	size_t len = strlen(addr);
	if (len == 0)
		return fail(why, whylen, "empty address%s", "");
	if (len >= DUET_ADDR_MAX) {
		snprintf(why, whylen, "'%.40s...' is longer than %d characters", addr,
			 DUET_ADDR_MAX - 1);
		return -1;
	}
	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');
		if (!close)
			return fail(why, whylen, "'%s': missing ']' after the IPv6 address", addr);
		size_t hl = (size_t)(close - addr - 1);
		memcpy(host, addr + 1, hl);
		host[hl] = '\0';
		struct in6_addr a6;
		if (inet_pton(AF_INET6, host, &a6) != 1)
			return fail(why, whylen, "'%s': not a valid IPv6 address in brackets",
				    addr);
		if (close[1] != ':')
			return fail(why, whylen, "'%s': expected ':port' after ']'", addr);
		port = close + 2;
	} else {
		const char *colon = strrchr(addr, ':');
		if (!colon)
			return fail(why, whylen, "'%s': expected host:port", addr);
		size_t hl = (size_t)(colon - addr);
		memcpy(host, addr, hl);
		host[hl] = '\0';
		port = colon + 1;
		if (strchr(host, ':'))
			return fail(why, whylen,
				    "'%s': write an IPv6 address in brackets, e.g. [::1]:7101",
				    addr);
		if (hl == 0)
			return fail(why, whylen, "'%s': missing host before ':'", addr);
		if (strspn(host, "0123456789.") == hl) {
			struct in_addr a4;
			if (inet_pton(AF_INET, host, &a4) != 1)
				return fail(why, whylen, "'%s': not a valid IPv4 address", addr);
		} else if (check_hostname(host) != 0) {
			return fail(why, whylen,
				    "'%s': host is neither an IP address nor a valid hostname "
				    "(letters, digits, '-' and '.')",
				    addr);
		}
	}
	size_t pl = strlen(port);
	if (pl == 0)
		return fail(why, whylen, "'%s': missing port after ':'", addr);
	if (strspn(port, "0123456789") != pl)
		return fail(why, whylen, "'%s': port must be a number", addr);
	if (pl > 5 || atoi(port) < 1 || atoi(port) > 65535)
		return fail(why, whylen, "'%s': port must be between 1 and 65535", addr);
	return 0;
}

/* An address that config_check_addr() accepted has an IP literal for a
 * host: in brackets, or digits and dots (checked as IPv4 there). */
static bool addr_is_literal(const char *addr)
{
	if (addr[0] == '[')
		return true;
	size_t hl = (size_t)(strrchr(addr, ':') - addr);
	return strspn(addr, "0123456789.") >= hl;
}

int config_parse_addrs(const char *value, struct duet_config_addrs *out, char *why, size_t whylen)
{
	memset(out, 0, sizeof(*out));
	const char *p = value;
	for (;;) {
		const char *comma = strchr(p, ',');
		const char *end = comma ? comma : p + strlen(p);
		while (p < end && isspace((unsigned char)*p))
			p++;
		const char *e = end;
		while (e > p && isspace((unsigned char)e[-1]))
			e--;
		size_t n = (size_t)(e - p);
		if (n == 0) {
			snprintf(why, whylen, "empty address in the list (a comma too many?)");
			return -1;
		}
		if (out->n == DUET_MAX_ADDRS) {
			snprintf(why, whylen, "more than %d addresses", DUET_MAX_ADDRS);
			return -1;
		}
		char one[DUET_ADDR_MAX + 1];
		if (n > DUET_ADDR_MAX)
			n = DUET_ADDR_MAX; /* config_check_addr reports it as too long */
		memcpy(one, p, n);
		one[n] = '\0';
		if (config_check_addr(one, why, whylen) != 0)
			return -1;
		if (!addr_is_literal(one)) {
			snprintf(why, whylen,
				 "'%s' names a host; use a numeric address (a.b.c.d:port or "
				 "[v6]:port): duet resolves no names, so that a slow or absent "
				 "resolver can never stall a member or keep it from starting",
				 one);
			return -1;
		}
		for (unsigned i = 0; i < out->n; i++) {
			if (strcmp(out->v[i], one) == 0) {
				snprintf(why, whylen, "'%s' is listed twice", one);
				return -1;
			}
		}
		memcpy(out->v[out->n++], one, n + 1);
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

unsigned config_distance(const char *a, const char *b)
{
	enum { MAX = 64, CAP = 9 };
	size_t la = strlen(a), lb = strlen(b);
	if (la >= MAX || lb >= MAX)
		return CAP;
	unsigned row[MAX + 1];
	for (size_t j = 0; j <= lb; j++)
		row[j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		unsigned diag = row[0];
		row[0] = (unsigned)i;
		for (size_t j = 1; j <= lb; j++) {
			unsigned up = row[j];
			unsigned cost =
			    tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1])
				? 0
				: 1;
			unsigned best = diag + cost;
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb] < CAP ? row[lb] : CAP;
}
