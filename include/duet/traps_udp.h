/* SPDX-License-Identifier: MIT */
/*
 * traps_udp.h - a UDP receiver for syslog and SNMP traps (DESIGN.md 5):
 * batched receive (recvmmsg) on a libuv loop, a large receive buffer, and
 * the kernel's own drop count read back, so a trap lost before we could
 * read it is counted, not silent.
 *
 *  - The socket's receive buffer is set to rcvbuf_bytes (default 16 MiB,
 *    DESIGN 5: ">= 16 MiB") with SO_RCVBUFFORCE when the process may (root,
 *    CAP_NET_ADMIN), else SO_RCVBUF (capped by net.core.rmem_max); the size
 *    the kernel granted is in the stats.
 *  - SO_RXQ_OVFL makes the kernel attach its running count of datagrams it
 *    dropped on this socket (buffer full) to every datagram; kernel_drops is
 *    the latest value, or the socket's own drop counter (SO_MEMINFO) read
 *    when the stats are asked for, if higher (drops at the end of a burst,
 *    with no datagram after them to carry the count).
 *  - Each readable event reads up to `batch` datagrams per recvmmsg call and
 *    at most DUET_UDP_RX_MAX_ROUNDS calls, then yields to the loop.
 *  - A datagram longer than max_datagram is cut by the kernel (MSG_TRUNC):
 *    it is handed over with truncated = true and counted; the decoders
 *    refuse it.
 *
 * Everything runs on the loop thread; no allocation per datagram.
 */
#ifndef DUET_TRAPS_UDP_H
#define DUET_TRAPS_UDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

#define DUET_UDP_RX_DEFAULT_RCVBUF (16u << 20)
#define DUET_UDP_RX_DEFAULT_BATCH  32
#define DUET_UDP_RX_MAX_BATCH      256
#define DUET_UDP_RX_MAX_ROUNDS     16

struct duet_udp_rx;

struct duet_udp_rx_config {
	const char *addr;      /* numeric "a.b.c.d:port" or "[v6]:port" (port 0: any) */
	uint32_t rcvbuf_bytes; /* 0: DUET_UDP_RX_DEFAULT_RCVBUF */
	uint32_t max_datagram; /* 0: 65535 */
	unsigned batch;        /* 0: DUET_UDP_RX_DEFAULT_BATCH; at most DUET_UDP_RX_MAX_BATCH */
};

struct duet_udp_rx_stats {
	uint64_t datagrams; /* handed to the callback */
	uint64_t bytes;
	uint64_t truncated;    /* longer than max_datagram */
	uint64_t kernel_drops; /* the kernel's count for this socket (SO_RXQ_OVFL) */
	uint64_t recv_errors;  /* recvmmsg errors other than EAGAIN */
	uint64_t batches;      /* recvmmsg calls that returned datagrams */
	uint32_t rcvbuf;       /* the receive buffer the kernel granted (SO_RCVBUF reads) */
};

/* One datagram; buf is valid during the call only. */
typedef void (*duet_udp_rx_cb)(void *data, const struct sockaddr_storage *from, const uint8_t *buf,
			       size_t len, bool truncated);

/* Binds and starts receiving. Returns 0, or an error with a sentence in err. */
int duet_udp_rx_new(uv_loop_t *loop, const struct duet_udp_rx_config *cfg, duet_udp_rx_cb cb,
		    void *data, struct duet_udp_rx **out, char *err, size_t errlen);
/* The bound port (host order). */
int duet_udp_rx_port(const struct duet_udp_rx *rx);
void duet_udp_rx_get_stats(const struct duet_udp_rx *rx, struct duet_udp_rx_stats *out);
/* Sends one datagram from the receiver's own socket (and port) to `to`: an
 * SNMP inform's Response must come from the address the inform went to.
 * Non-blocking; returns 0 or a negative errno (EAGAIN when the send buffer
 * is full: the sender retransmits its inform). */
int duet_udp_rx_send(struct duet_udp_rx *rx, const struct sockaddr_storage *to, const void *buf,
		     size_t len);
/* Stops, closes the socket; closed(data) (may be NULL) runs from a later
 * loop callback once the handle is closed and the memory freed. */
void duet_udp_rx_close(struct duet_udp_rx *rx, void (*closed)(void *data), void *data);

#endif
