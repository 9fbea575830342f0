/* SPDX-License-Identifier: MIT */
/*
 * sink_pg_resolve.c - the host names of the PostgreSQL sink's conninfo,
 * resolved off the loop (issue 13, defect 8). libpq resolves a host NAME
 * with a blocking getaddrinfo() inside PQconnectStart/PQconnectPoll, on
 * the loop thread: a slow resolver stalled the whole daemon. Here each
 * name is looked up with uv_getaddrinfo (libuv's thread pool), one after
 * the other, and the result is three aligned lists for libpq:
 *
 *   host     the entry as given, repeated once per address (TLS
 *            verification and .pgpass still go by the name)
 *   hostaddr its addresses, in the resolver's order, at most
 *            SINK_PG_MAX_ADDRS a name; a number is its own address; a
 *            socket path (or "") gets an empty entry: libpq's own
 *   port     the i-th port of a port list, repeated alike (a single
 *            port, or none, applies to every entry as it is)
 *
 * so libpq tries every address as it would have, and parses numbers only.
 * A lookup owns itself: abandoned at a deadline or close, it frees itself
 * when the thread pool is done with it. The caller's deadline covers the
 * lookups (sink_pg.c starts it before them).
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duet/err.h"
#include "sink_internal.h"

struct sink_pg_lookup {
	uv_getaddrinfo_t req;
	struct sink_pg_hosts *h; /* NULL: abandoned */
};

int sink_pg_hosts_init(struct sink_pg_hosts *h, const char *host, const char *hostaddr,
		       const char *service, const char *ports, char *errbuf, size_t errlen)
{
	memset(h, 0, sizeof *h);
	h->ports = ports && ports[0] ? ports : NULL;
	if (!hostaddr || !hostaddr[0])
		hostaddr = getenv("PGHOSTADDR");
	if (hostaddr && hostaddr[0])
		return 0; /* given: libpq resolves nothing */
	if ((!host || !host[0]) && !(service && service[0]))
		host = getenv("PGHOST"); /* as libpq would; a service's own host is libpq's */
	if (!host || !host[0])
		return 0; /* the default socket */
	for (const char *e = host;;) {
		size_t n = strcspn(e, ",");
		if (h->n_hosts == SINK_PG_MAX_HOSTS) {
			if (errbuf && errlen)
				snprintf(errbuf, errlen,
					 "trap sink postgresql: more than %d hosts in the conninfo",
					 SINK_PG_MAX_HOSTS);
			sink_pg_hosts_free(h);
			return DUET_EINVAL;
		}
		h->hosts[h->n_hosts] = strndup(e, n);
		if (!h->hosts[h->n_hosts]) {
			sink_pg_hosts_free(h);
			return DUET_ENOMEM;
		}
		h->n_hosts++;
		if (!e[n])
			break;
		e += n + 1;
	}
	return 0;
}

void sink_pg_hosts_free(struct sink_pg_hosts *h)
{
	sink_pg_hosts_abandon(h);
	for (size_t i = 0; i < h->n_hosts; i++)
		free(h->hosts[i]);
	h->n_hosts = 0;
}

void sink_pg_hosts_abandon(struct sink_pg_hosts *h)
{
	if (!h->lookup)
		return;
	h->lookup->h = NULL;
	uv_cancel((uv_req_t *)&h->lookup->req); /* may be too late: it frees itself then */
	h->lookup = NULL;
}

const char *sink_pg_hosts_current(const struct sink_pg_hosts *h)
{
	return h->next < h->n_hosts ? h->hosts[h->next] : "";
}

/* Appends item to list, after a ',' unless it is the first. */
static bool list_add(char *list, size_t cap, bool first, const char *item)
{
	size_t n = strlen(list);
	int w = snprintf(list + n, cap - n, "%s%s", first ? "" : ",", item);
	return w >= 0 && (size_t)w < cap - n;
}

/* Does entry e need a lookup (a name, not a socket path or a number)? */
static bool is_host_name(const char *e)
{
	unsigned char buf[sizeof(struct in6_addr)];
	return e[0] && e[0] != '/' && e[0] != '@' && inet_pton(AF_INET, e, buf) != 1 &&
	       inet_pton(AF_INET6, e, buf) != 1;
}

/* The port of entry i: the i-th of a list, or the single port. */
static void port_of(const struct sink_pg_hosts *h, size_t i, char *buf, size_t cap)
{
	const char *ports = h->ports ? h->ports : "";
	if (strchr(ports, ','))
		for (size_t k = 0; k < i && ports; k++) {
			ports = strchr(ports, ',');
			if (ports)
				ports++;
		}
	if (!ports)
		ports = "";
	sink_msgf(buf, cap, "%.*s", (int)strcspn(ports, ","), ports);
}

/* Adds entry i with its n addresses (n 0: one entry with an empty one). */
static bool add_entry(struct sink_pg_hosts *h, size_t i, const char *const *addrs, size_t n)
{
	char port[16];
	port_of(h, i, port, sizeof port);
	bool ok = true;
	for (size_t a = 0; a < (n ? n : 1) && ok; a++) {
		bool first = h->n_entries == 0;
		ok =
		    list_add(h->host_list, sizeof h->host_list, first, h->hosts[i]) &&
		    list_add(h->hostaddr_list, sizeof h->hostaddr_list, first, n ? addrs[a] : "") &&
		    (!h->ports || list_add(h->port_list, sizeof h->port_list, first, port));
		h->n_entries++;
	}
	if (!ok)
		h->done(h->data, DUET_SINK_LOG_ERROR, "too many addresses for libpq's host list");
	return ok;
}

static void resolve_next(struct sink_pg_hosts *h);

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct sink_pg_lookup *l = (struct sink_pg_lookup *)req;
	struct sink_pg_hosts *h = l->h;
	free(l);
	if (!h) {
		uv_freeaddrinfo(res);
		return;
	}
	h->lookup = NULL;
	char why[SINK_ERR_BYTES];
	if (status) {
		uv_freeaddrinfo(res);
		sink_msgf(why, sizeof why, "cannot resolve host %s: %s", h->hosts[h->next],
			  uv_strerror(status));
		h->done(h->data, DUET_SINK_LOG_WARN, why);
		return;
	}
	char names[SINK_PG_MAX_ADDRS][INET6_ADDRSTRLEN];
	const char *addrs[SINK_PG_MAX_ADDRS];
	size_t n = 0;
	for (struct addrinfo *ai = res; ai && n < SINK_PG_MAX_ADDRS; ai = ai->ai_next) {
		int rc = -1;
		if (ai->ai_family == AF_INET)
			rc = uv_ip4_name((struct sockaddr_in *)ai->ai_addr, names[n],
					 sizeof names[n]);
		else if (ai->ai_family == AF_INET6)
			rc = uv_ip6_name((struct sockaddr_in6 *)ai->ai_addr, names[n],
					 sizeof names[n]);
		if (rc == 0) {
			addrs[n] = names[n];
			n++;
		}
	}
	uv_freeaddrinfo(res);
	if (n == 0) {
		sink_msgf(why, sizeof why, "cannot resolve host %s: no IPv4 or IPv6 address",
			  h->hosts[h->next]);
		h->done(h->data, DUET_SINK_LOG_WARN, why);
		return;
	}
	if (!add_entry(h, h->next, addrs, n))
		return;
	h->next++;
	resolve_next(h);
}

static void resolve_next(struct sink_pg_hosts *h)
{
	for (; h->next < h->n_hosts; h->next++) {
		const char *e = h->hosts[h->next];
		if (is_host_name(e))
			break;
		/* a number is its own hostaddr; a path or "" is libpq's business */
		bool number = e[0] && e[0] != '/' && e[0] != '@';
		if (!add_entry(h, h->next, &e, number ? 1 : 0))
			return;
	}
	if (h->next == h->n_hosts) {
		h->done(h->data, 0, NULL);
		return;
	}
	struct sink_pg_lookup *l = calloc(1, sizeof *l);
	if (!l) {
		h->done(h->data, DUET_SINK_LOG_ERROR, "out of memory resolving a host name");
		return;
	}
	l->h = h;
	struct addrinfo hints;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	int rc = uv_getaddrinfo(h->loop, &l->req, on_resolved, h->hosts[h->next], NULL, &hints);
	if (rc) {
		free(l);
		char why[SINK_ERR_BYTES];
		sink_msgf(why, sizeof why, "resolving host %s: %s", h->hosts[h->next],
			  uv_strerror(rc));
		h->done(h->data, DUET_SINK_LOG_WARN, why);
		return;
	}
	h->lookup = l;
}

void sink_pg_hosts_resolve(struct sink_pg_hosts *h, uv_loop_t *loop,
			   void (*done)(void *data, int level, const char *why), void *data)
{
	sink_pg_hosts_abandon(h);
	h->loop = loop;
	h->done = done;
	h->data = data;
	h->next = h->n_entries = 0;
	h->host_list[0] = h->hostaddr_list[0] = h->port_list[0] = 0;
	resolve_next(h);
}
