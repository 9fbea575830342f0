/* SPDX-License-Identifier: MIT */
/*
 * proxy.h - a TCP relay on the test loop standing in for a network link:
 * it can be cut (every relayed connection closed and the port closed),
 * restored (listening again on the same port), or stalled (stops reading
 * both ways, so the kernel buffers fill like a peer that stopped reading).
 */
#ifndef DUET_TEST_XPORT_PROXY_H
#define DUET_TEST_XPORT_PROXY_H

#include <stdbool.h>

#include <uv.h>

struct proxy_pair;

struct proxy {
	uv_tcp_t listener;
	bool listening;
	bool listener_live; /* handle not yet closed */
	struct sockaddr_in listen_sa;
	struct sockaddr_in target;
	int port;
	bool stalled;
	struct proxy_pair *pairs;
	int open_handles;
	char addr[64]; /* "127.0.0.1:port" */
};

void proxy_start(struct proxy *p, int target_port);
void proxy_cut(struct proxy *p);
void proxy_restore(struct proxy *p);
void proxy_stall(struct proxy *p, bool stall);
/* Cut; call before the loop is torn down, then run the loop to finish. */
void proxy_stop(struct proxy *p);

#endif
