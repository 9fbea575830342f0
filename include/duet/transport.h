/* SPDX-License-Identifier: MIT */
/*
 * transport.h - duet's peer transport: framed messages over mutual TLS 1.3
 * on libuv, with reconnects, bounded send queues, deadlines and redundant
 * links (DESIGN.md sections 1 and 2).
 *
 * What it carries: opaque payloads with a one-byte type. It does not know
 * raft messages; the daemon puts raft_msg_encode() output in the payload.
 * Delivery is best effort: a frame queued on a link that then fails is lost
 * (raft retransmits). Within one link frames arrive in order.
 *
 * ---- Frame (all integers little-endian) ----------------------------------
 *
 *     u32 magic   XPORT_FRAME_MAGIC ("DUET" as bytes 44 55 45 54)
 *     u8  version XPORT_FRAME_VERSION
 *     u8  type    0 = transport keepalive (never delivered), 1..255 caller's
 *     u16 flags   0 (anything else is refused)
 *     u32 len     payload bytes, at most the receiver's max_frame_bytes
 *     u8  payload[len]
 *     u32 crc32c  of every byte above (header and payload)
 *
 * A receiver checks the 12-byte header before it allocates anything for the
 * payload, so an oversized length costs nothing but the connection.
 *
 * ---- Identity ------------------------------------------------------------
 *
 * Every member has a certificate signed by the cluster CA, with the member's
 * name as subject CN (and as a SAN DNS name). Both sides of a connection
 * verify the other's chain against the CA file (TLS 1.3 only, client
 * certificate required). The accepting side then maps the peer's name (CN
 * or any SAN DNS name) to a member of the current membership and refuses
 * the connection if none matches (counted: refused_unknown_member); the
 * dialing side also refuses a server whose name is not the member it meant
 * to reach (refused_wrong_peer). Note that in TLS 1.3 the client finishes
 * its handshake before the server has judged the client's certificate: a
 * refused client sees its link come up and go down at once.
 *
 * ---- Links ---------------------------------------------------------------
 *
 * Each transport dials every other member on each of its addresses: one
 * outbound connection per (peer, address), reconnected after a failure with
 * exponential backoff and jitter (backoff_min_ms doubling up to
 * backoff_max_ms; the jitter comes from a generator seeded by jitter_seed,
 * never rand()). Since both sides dial, two members usually share two
 * connections per address (one dialed by each); both are kept and either
 * may carry traffic. xport_send() prefers the lowest-numbered address whose
 * outbound link is up, then any inbound link from that peer. So traffic
 * goes on while one network (say the management LAN) is down and another
 * (say a dedicated heartbeat link) is up.
 *
 * Deadlines: a connection that has not completed TCP connect plus TLS
 * handshake within handshake_timeout_ms is dropped; an established one that
 * has received nothing (keepalives included) for idle_timeout_ms is dropped.
 * Each side sends a keepalive frame when it has sent nothing for a third of
 * idle_timeout_ms.
 *
 * Send queue: each connection counts the bytes handed to the kernel and not
 * yet written. xport_send() refuses a frame with DUET_EBUSY (counted) when
 * the queue is not empty and the frame would take it over send_queue_bytes;
 * so a connection holds at most send_queue_bytes plus one frame, however
 * slow the peer.
 *
 * ---- Threads, blocking, ownership ----------------------------------------
 *
 * Everything runs on the caller's uv_loop_t, in the loop's thread. No call
 * blocks, except that xport_new() reads the certificate, key and CA files,
 * and xport_gen_* write files (call those before the loop runs or from a
 * worker). The transport owns every handle it creates; xport_close() closes
 * them all through uv_close() and frees the transport in the last close
 * callback, then calls the caller's close callback. The config's strings are
 * copied; the membership passed to xport_set_membership() is copied.
 * Payload pointers handed to on_recv are valid during the callback only.
 * Callbacks may call xport_send(), xport_set_membership() and xport_close().
 *
 * Addresses are numeric "a.b.c.d:port" or "[v6]:port"; no name resolution.
 */
#ifndef DUET_TRANSPORT_H
#define DUET_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "duet/entry.h"
#include "duet/err.h"

#define XPORT_FRAME_MAGIC         0x54455544u /* "DUET" */
#define XPORT_FRAME_VERSION       1
#define XPORT_FRAME_HEADER_BYTES  12
#define XPORT_FRAME_TRAILER_BYTES 4
#define XPORT_MAX_FRAME_BYTES     (64u << 20) /* payload; config may only lower it */
#define XPORT_TYPE_KEEPALIVE      0

/* ---- Frame codec (pure; decoders are fuzz targets) ----------------------- */

struct xport_frame {
	uint8_t type;
	uint16_t flags;
	uint32_t len;
	const uint8_t *payload; /* points into the decoded buffer */
};

/* Encoded size of a frame with `payload_len` bytes of payload. */
size_t xport_frame_size(uint32_t payload_len);

/* Encodes a frame into buf[0..cap). Returns bytes written, DUET_ETOOBIG
 * (cap too small, or len over XPORT_MAX_FRAME_BYTES). */
long xport_frame_encode(uint8_t type, const void *payload, uint32_t len, void *buf, size_t cap);

/*
 * Checks a frame header in buf[0..len) and sets *payload_len. Returns 0,
 * DUET_ETRUNCATED (fewer than XPORT_FRAME_HEADER_BYTES), DUET_ECORRUPT (bad
 * magic or nonzero flags), DUET_EVERSION, or DUET_ETOOBIG (payload over
 * max_payload, which is capped at XPORT_MAX_FRAME_BYTES).
 */
int xport_frame_header_decode(const void *buf, size_t len, uint32_t max_payload,
			      uint32_t *payload_len);

/*
 * Decodes one frame from the start of buf[0..len): header check as above,
 * then the checksum. On success f->payload points into buf and *used (if
 * not NULL) is the frame's size. Returns 0, DUET_ETRUNCATED (need more
 * bytes), DUET_ECORRUPT, DUET_EVERSION or DUET_ETOOBIG.
 */
int xport_frame_decode(const void *buf, size_t len, uint32_t max_payload, struct xport_frame *f,
		       size_t *used);

/* ---- Certificates (for tests and `duetctl gencerts`) -------------------- */

/*
 * Writes a self-signed cluster CA: EC P-256 key, subject CN = `cn`,
 * basicConstraints CA:TRUE, valid `days` days. The key file is created
 * with mode 0600. Returns 0 or a negative code with a sentence in errbuf.
 */
int xport_gen_ca(const char *cn, unsigned days, const char *cert_path, const char *key_path,
		 char *errbuf, size_t errlen);

/*
 * Writes a member certificate signed by the CA in ca_cert_path/ca_key_path:
 * EC P-256 key, CN = `name` and SAN DNS:`name`, usable as TLS client and
 * server, valid `days` days. Key file mode 0600.
 */
int xport_gen_member_cert(const char *ca_cert_path, const char *ca_key_path, const char *name,
			  unsigned days, const char *cert_path, const char *key_path, char *errbuf,
			  size_t errlen);

/* ---- Transport ----------------------------------------------------------- */

enum xport_log_level { XPORT_LOG_DEBUG = 0, XPORT_LOG_INFO, XPORT_LOG_WARN, XPORT_LOG_ERROR };

/* A frame from peer_id. `payload` is valid during the call only. */
typedef void (*xport_recv_cb)(void *data, uint32_t peer_id, uint8_t type, const uint8_t *payload,
			      uint32_t len);
/* A line for the log; `text` is valid during the call only. */
typedef void (*xport_log_cb)(void *data, int level, const char *text);
/* A link to peer_id came up or went down. addr_index is the peer's address
 * for outbound links, -1 for inbound ones. Optional. */
typedef void (*xport_link_cb)(void *data, uint32_t peer_id, int addr_index, int up);
/* The transport has been freed. */
typedef void (*xport_close_cb)(void *data);

struct xport_config {
	uint32_t self_id; /* this member's id in the membership */
	const char *ca_file;
	const char *cert_file;
	const char *key_file;
	const char *listen[DUET_MAX_ADDRS]; /* "host:port"; port 0 = ephemeral */
	unsigned n_listen;

	uint32_t max_frame_bytes;      /* payload limit; 0 = XPORT_MAX_FRAME_BYTES */
	size_t send_queue_bytes;       /* per connection; 0 = 16 MiB */
	uint32_t handshake_timeout_ms; /* connect + TLS; 0 = 5000 */
	uint32_t idle_timeout_ms;      /* 0 = 10000 */
	uint32_t backoff_min_ms;       /* 0 = 50 */
	uint32_t backoff_max_ms;       /* 0 = 2000 */
	unsigned max_inbound;          /* connections accepted at once; 0 = 32 */
	uint64_t jitter_seed;          /* seeds the backoff jitter */

	xport_recv_cb on_recv;
	xport_log_cb on_log;   /* may be NULL */
	xport_link_cb on_link; /* may be NULL */
	void *data;            /* passed to every callback */
};

struct xport_stats {
	uint64_t accepted; /* inbound TCP connections */
	uint64_t dialed;   /* outbound connection attempts */
	uint64_t links_up; /* handshakes that passed every check */
	uint64_t links_down;
	uint64_t refused_bad_cert;          /* chain does not verify against the CA */
	uint64_t refused_unknown_member;    /* accepted side: name is no member */
	uint64_t refused_wrong_peer;        /* dialing side: not the member dialed */
	uint64_t refused_handshake_timeout; /* connect + handshake too slow */
	uint64_t refused_tls_error;         /* not TLS 1.3, garbage, alerts */
	uint64_t refused_bad_frame;         /* magic, version, flags or checksum */
	uint64_t refused_oversized_frame;   /* length over max_frame_bytes */
	uint64_t refused_too_many_conns;    /* over max_inbound */
	uint64_t read_timeouts;             /* established link idle too long */
	uint64_t connect_failures;
	uint64_t send_queue_full; /* xport_send() returned DUET_EBUSY */
	uint64_t send_no_link;    /* xport_send() found no link up */
	uint64_t frames_sent;
	uint64_t frames_received; /* keepalives not included */
	uint64_t bytes_sent;      /* frame bytes, before TLS */
	uint64_t bytes_received;
	uint64_t send_queue_high_water; /* largest queue seen on one connection, bytes */
};

struct xport;

/*
 * Creates a transport on `loop`: loads the TLS files, binds and listens on
 * every config->listen address. Nothing is dialed until
 * xport_set_membership(). Returns 0 with *out set, or a negative code with
 * a sentence in errbuf (which file, which address, what to do). After a
 * failure past the TLS setup, handles already opened are being closed: run
 * the loop once more before uv_loop_close().
 */
int xport_new(uv_loop_t *loop, const struct xport_config *config, struct xport **out, char *errbuf,
	      size_t errlen);

/* The port listen address i is bound to (after port 0), or -1. */
int xport_listen_port(const struct xport *x, unsigned i);

/*
 * Replaces the membership (copied). Dials members that are new or whose
 * addresses changed; closes links to members that left or changed; closes
 * inbound links whose certificate name no longer maps to the same member.
 * Returns 0 or DUET_EINVAL (an address does not parse; nothing changed).
 */
int xport_set_membership(struct xport *x, const struct duet_membership *m);

/*
 * Queues one frame for peer_id on its best link (see "Links"). Never
 * blocks. Returns 0; DUET_EINVAL (type 0, unknown peer or self, closing);
 * DUET_ETOOBIG (len over max_frame_bytes); -ENOTCONN (no link up, counted);
 * DUET_EBUSY (the link's send queue is full, counted: the caller decides
 * whether to drop or retry later).
 */
int xport_send(struct xport *x, uint32_t peer_id, uint8_t type, const void *payload, uint32_t len);

/* 1 if the outbound link to peer_id's address addr_index is up, else 0. */
int xport_link_up(const struct xport *x, uint32_t peer_id, unsigned addr_index);

/* Number of links (outbound and inbound) up to peer_id. */
int xport_links_up(const struct xport *x, uint32_t peer_id);

void xport_get_stats(const struct xport *x, struct xport_stats *out);

/*
 * Closes every connection, dialer and listener and frees the transport
 * once libuv has called every close callback; then calls cb(data) (cb may
 * be NULL). No other xport_* call is allowed after this one.
 */
void xport_close(struct xport *x, xport_close_cb cb);

#endif
