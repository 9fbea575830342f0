/* SPDX-License-Identifier: MIT */
/*
 * xport_internal.h - the transport's private structures, shared by
 * xport.c (lifecycle, listeners, dialers, membership, send), conn.c (one
 * TLS connection over a uv_tcp_t) and tls.c (SSL_CTX and peer identity).
 *
 * Memory: every handle lives inside a struct that is freed only in the
 * last uv_close() callback of that struct's handles; x->n_handles counts
 * every open handle so xport_close() can free the transport after the last
 * one.
 */
#ifndef DUET_XPORT_INTERNAL_H
#define DUET_XPORT_INTERNAL_H

#include <stdbool.h>

#include <openssl/ssl.h>

#include "duet/transport.h"

#define XPORT_NET_READ_BYTES 65536 /* one uv read */

enum conn_state { CONN_CONNECTING, CONN_HANDSHAKE, CONN_OPEN, CONN_CLOSING };

enum refuse_reason {
	REFUSE_NONE,
	REFUSE_BAD_CERT,
	REFUSE_UNKNOWN_MEMBER,
	REFUSE_WRONG_PEER,
	REFUSE_HANDSHAKE_TIMEOUT,
	REFUSE_TLS_ERROR,
	REFUSE_BAD_FRAME,
	REFUSE_OVERSIZED_FRAME,
	REFUSE_TOO_MANY_CONNS,
	REFUSE_READ_TIMEOUT,
	REFUSE_CONNECT_FAILED,
	REFUSE_PEER_CLOSED, /* not a refusal: EOF or reset */
	REFUSE_LOCAL,       /* membership change or xport_close */
};

struct xport;
struct xdialer;

struct xconn {
	struct xport *x;
	struct xconn *prev, *next; /* x->conns */
	uv_tcp_t tcp;
	uv_timer_t timer; /* handshake deadline, then keepalive / idle check */
	uv_connect_t connect_req;
	int n_handles;
	enum conn_state state;
	bool outbound;
	struct xdialer *dialer;        /* outbound only; NULL once detached */
	uint32_t peer_id;              /* outbound: from the dialer; inbound: after handshake */
	int addr_index;                /* outbound: the peer's address index; inbound: -1 */
	char peer_name[DUET_NAME_MAX]; /* the certificate name that matched */
	char peer_desc[DUET_ADDR_MAX + DUET_NAME_MAX + 8];

	SSL *ssl;
	BIO *rbio; /* network -> SSL */
	BIO *wbio; /* SSL -> network */

	uint8_t *netbuf; /* XPORT_NET_READ_BYTES, for uv reads */
	uint8_t *rbuf;   /* plaintext of the frame being read */
	size_t rlen, rcap;

	size_t queued; /* ciphertext bytes handed to uv_write, not yet written */
	uint64_t last_read_ms, last_write_ms;
};

struct xdialer {
	struct xport *x;
	uv_timer_t timer; /* backoff */
	uint32_t peer_id;
	unsigned addr_index;
	char name[DUET_NAME_MAX];
	char addr[DUET_ADDR_MAX];
	struct sockaddr_storage sa;
	uint32_t backoff_ms;
	struct xconn *conn;
	bool stopped;
};

struct xlistener {
	struct xport *x;
	uv_tcp_t tcp;
	int port;
	bool open;
};

struct xport {
	uv_loop_t *loop;
	struct xport_config cfg; /* string pointers below point into our copies */
	char ca_file[4096], cert_file[4096], key_file[4096];
	SSL_CTX *ctx;
	struct duet_membership members;
	struct xlistener listeners[DUET_MAX_ADDRS];
	unsigned n_listeners;
	struct xdialer *dialers[DUET_MAX_MEMBERS * DUET_MAX_ADDRS];
	struct xconn *conns; /* every connection, in and out */
	unsigned n_inbound;
	uv_timer_t anchor; /* always open until xport_close: its close callback comes last */
	int n_handles;
	bool closing;
	xport_close_cb close_cb;
	uint64_t rng;
	struct xport_stats stats;
};

void xport_log(struct xport *x, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void xport_count_refusal(struct xport *x, enum refuse_reason r);
const char *xport_reason_name(enum refuse_reason r);
void xport_handle_closed(struct xport *x);

/* tls.c */
int xport_tls_ctx(struct xport *x, char *errbuf, size_t errlen);
/* Names (CN and SAN DNS) of the peer's certificate; returns the count. */
int xport_tls_peer_names(SSL *ssl, char names[][DUET_NAME_MAX], int max);
void xport_tls_error_text(char *buf, size_t len);

/* conn.c */
struct xconn *conn_new(struct xport *x, bool outbound);
void conn_start_inbound(struct xconn *c);
void conn_start_outbound(struct xconn *c, const struct sockaddr *sa);
void conn_close(struct xconn *c, enum refuse_reason why);
int conn_send(struct xconn *c, uint8_t type, const void *payload, uint32_t len);

/* xport.c: callbacks from conn.c */
void xport_conn_detached(struct xconn *c); /* conn starts closing */
void xport_conn_open(struct xconn *c);     /* handshake passed every check */
/* Parses "a.b.c.d:port" or "[v6]:port"; 0 or DUET_EINVAL. */
int xport_parse_addr(const char *s, struct sockaddr_storage *sa);
/* Maps a certificate name to a member id other than self; 0 if none. */
uint32_t xport_member_by_name(const struct xport *x, const char *name);

#endif
