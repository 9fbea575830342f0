/* SPDX-License-Identifier: MIT */
/*
 * addr.h - numeric "host:port" addresses, as the config writes them for
 * peers, listeners, health targets and trap receivers: "a.b.c.d:port" or
 * "[v6]:port". One parser for every module that opens or dials a socket
 * (transport, health, traps), and one way to listen on one, built as the
 * small library duet_addr.
 */
#ifndef DUET_ADDR_H
#define DUET_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

#include <uv.h>

/* Parses text into *sa (port 0..65535: 0 asks the kernel for a port when
 * listening; callers that dial check for it). No name resolution: a host
 * name is DUET_EINVAL. Returns 0 or DUET_EINVAL; *sa is zeroed first. */
int duet_addr_parse(const char *text, struct sockaddr_storage *sa);

/* The port of a parsed address (host order). */
int duet_addr_port(const struct sockaddr_storage *sa);

/* Binds the initialised handle tcp to sa and listens with `backlog`;
 * returns the bound port (host order: what port 0 became) or the negative
 * libuv error of bind or listen. For every TCP listener (transport, trap
 * receivers). */
int duet_addr_listen(uv_tcp_t *tcp, const struct sockaddr_storage *sa, int backlog,
		     uv_connection_cb on_connection);

/* The IP of a peer's address as text, without the port, an IPv4-mapped
 * IPv6 address as plain IPv4: a socket bound to [::] and one bound to an
 * IPv4 address then name the same device alike (a trap's identity hashes
 * its sender). "?" for another family. cap >= INET6_ADDRSTRLEN. */
void duet_addr_ip_text(const struct sockaddr_storage *sa, char *buf, size_t cap);

#endif
