/* SPDX-License-Identifier: MIT */
/*
 * addr.c - numeric "host:port" parsing (addr.h).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "duet/addr.h"
#include "duet/entry.h"
#include "duet/err.h"

int duet_addr_parse(const char *text, struct sockaddr_storage *sa)
{
	char host[DUET_ADDR_MAX];
	const char *colon;
	size_t hl;
	bool v6 = text[0] == '[';
	memset(sa, 0, sizeof *sa);
	if (v6) {
		const char *end = strchr(text, ']');
		if (!end || end[1] != ':')
			return DUET_EINVAL;
		hl = (size_t)(end - text - 1);
		colon = end + 1;
		text++;
	} else {
		colon = strrchr(text, ':');
		if (!colon)
			return DUET_EINVAL;
		hl = (size_t)(colon - text);
	}
	if (hl == 0 || hl >= sizeof host)
		return DUET_EINVAL;
	memcpy(host, text, hl);
	host[hl] = 0;
	char *endp;
	errno = 0;
	long port = strtol(colon + 1, &endp, 10);
	if (colon[1] < '0' || colon[1] > '9' || *endp || errno || port < 0 || port > 65535)
		return DUET_EINVAL;
	int rc = v6 ? uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)sa)
		    : uv_ip4_addr(host, (int)port, (struct sockaddr_in *)sa);
	if (rc) {
		memset(sa, 0, sizeof *sa);
		return DUET_EINVAL;
	}
	return 0;
}

int duet_addr_port(const struct sockaddr_storage *sa)
{
	if (sa->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return ntohs(((const struct sockaddr_in *)sa)->sin_port);
}

void duet_addr_ip_text(const struct sockaddr_storage *sa, char *buf, size_t cap)
{
	snprintf(buf, cap, "?");
	if (sa->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr)) {
			struct sockaddr_in a4;
			memset(&a4, 0, sizeof a4);
			a4.sin_family = AF_INET;
			memcpy(&a4.sin_addr, &a6->sin6_addr.s6_addr[12], 4);
			uv_ip4_name(&a4, buf, cap);
		} else {
			uv_ip6_name(a6, buf, cap);
		}
	} else if (sa->ss_family == AF_INET) {
		uv_ip4_name((const struct sockaddr_in *)sa, buf, cap);
	}
}

int duet_addr_listen(uv_tcp_t *tcp, const struct sockaddr_storage *sa, int backlog,
		     uv_connection_cb on_connection)
{
	int rc = uv_tcp_bind(tcp, (const struct sockaddr *)sa, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)tcp, backlog, on_connection);
	if (rc < 0)
		return rc;
	struct sockaddr_storage bound;
	int len = sizeof bound;
	rc = uv_tcp_getsockname(tcp, (struct sockaddr *)&bound, &len);
	return rc < 0 ? rc : duet_addr_port(&bound);
}
