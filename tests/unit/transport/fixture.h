/* SPDX-License-Identifier: MIT */
/*
 * fixture.h - one uv loop per test, transports on it ("nodes"), a raw TCP
 * client, and run_until(): drive the loop until a predicate holds (checked
 * after every loop iteration) or a deadline passes. No sleeps.
 */
#ifndef DUET_TEST_XPORT_FIXTURE_H
#define DUET_TEST_XPORT_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "duet/transport.h"

struct node {
	struct xport *x;
	uint32_t id;
	char name[DUET_NAME_MAX];
	char listen_addr[DUET_MAX_ADDRS][DUET_ADDR_MAX]; /* with the bound port */
	uint64_t frames;
	uint64_t bytes;
	uint32_t last_len;
	uint32_t last_crc;
	uint32_t next_seq; /* payloads of >= 4 bytes start with a sequence number */
	bool out_of_order;
	bool closed;
	char ca_file[512], cert_file[512], key_file[512];
};

extern uv_loop_t *fx_loop;

void fx_setup(void);    /* loop + certificates */
void fx_teardown(void); /* closes every node, checks no handle is left */

/* Resets n and returns a config for `cert` (a certs.h name) with test
 * defaults (short backoff); the file names live in n. */
struct xport_config fx_config(struct node *n, const char *cert);
/* Starts node n on fx_loop, listening on cfg->listen (port 0 allowed). */
void fx_node_start(struct node *n, uint32_t id, const char *name, struct xport_config *cfg);
void fx_node_close(struct node *n);

void fx_member(struct duet_membership *m, uint32_t id, const char *name, const char *addr0,
	       const char *addr1);

/* true if pred(arg) held before timeout_ms of loop time. */
bool fx_run_until(bool (*pred)(void *), void *arg, unsigned timeout_ms);

struct raw_client {
	uv_tcp_t tcp;
	uv_connect_t creq;
	const uint8_t *send;
	size_t send_len;
	bool connected;
	bool closed; /* saw EOF or error and closed */
};
/* Connects to 127.0.0.1:port, writes send[0..len) (kept by caller) once connected. */
void raw_client_start(struct raw_client *r, const char *ip, int port, const uint8_t *send,
		      size_t len);

#endif
