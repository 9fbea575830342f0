/* SPDX-License-Identifier: MIT */
/*
 * udp.c - the UDP trap receiver (traps_udp.h).
 */
#include <errno.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "duet/addr.h"
#include "duet/err.h"
#include "duet/traps_udp.h"

#ifndef SO_RXQ_OVFL
#define SO_RXQ_OVFL 40
#endif

struct duet_udp_rx {
	uv_loop_t *loop;
	uv_poll_t poll;
	int fd;
	bool closing;
	duet_udp_rx_cb cb;
	void *data;
	void (*closed)(void *data);
	void *closed_data;
	unsigned batch;
	uint32_t max_datagram;
	int port;
	struct duet_udp_rx_stats stats;
	/* recvmmsg arrays: batch of each */
	struct mmsghdr *msgs;
	struct iovec *iov;
	struct sockaddr_storage *from;
	uint8_t *bufs; /* batch * max_datagram */
	char *ctrl;    /* batch * CTRL_BYTES */
};

#define CTRL_BYTES CMSG_SPACE(sizeof(uint32_t))

static void on_readable(uv_poll_t *h, int status, int events)
{
	struct duet_udp_rx *rx = h->data;
	(void)events;
	if (status < 0) {
		rx->stats.recv_errors++;
		return;
	}
	for (unsigned round = 0; round < DUET_UDP_RX_MAX_ROUNDS; round++) {
		for (unsigned i = 0; i < rx->batch; i++) {
			rx->msgs[i].msg_hdr.msg_namelen = sizeof rx->from[i];
			rx->msgs[i].msg_hdr.msg_controllen = CTRL_BYTES;
			rx->msgs[i].msg_hdr.msg_flags = 0;
		}
		int n = recvmmsg(rx->fd, rx->msgs, rx->batch, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				rx->stats.recv_errors++;
			return;
		}
		if (n == 0)
			return;
		rx->stats.batches++;
		for (int i = 0; i < n; i++) {
			struct msghdr *m = &rx->msgs[i].msg_hdr;
			for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
				if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL &&
				    c->cmsg_len >= CMSG_LEN(sizeof(uint32_t))) {
					uint32_t drops;
					memcpy(&drops, CMSG_DATA(c), sizeof drops);
					rx->stats.kernel_drops = drops;
				}
			}
			bool trunc = (m->msg_flags & MSG_TRUNC) != 0;
			size_t len = rx->msgs[i].msg_len;
			if (len > rx->max_datagram)
				len = rx->max_datagram;
			rx->stats.datagrams++;
			rx->stats.bytes += len;
			rx->stats.truncated += trunc;
			rx->cb(rx->data, &rx->from[i], rx->bufs + (size_t)i * rx->max_datagram, len,
			       trunc);
			if (rx->closing)
				return; /* the callback closed us */
		}
		if ((unsigned)n < rx->batch)
			return;
	}
}

static void rx_free(struct duet_udp_rx *rx)
{
	free(rx->msgs);
	free(rx->iov);
	free(rx->from);
	free(rx->bufs);
	free(rx->ctrl);
	free(rx);
}

static int fail(struct duet_udp_rx *rx, char *err, size_t errlen, int rc, const char *fmt,
		const char *addr)
{
	snprintf(err, errlen, fmt, addr, strerror(errno));
	if (rx->fd >= 0)
		close(rx->fd);
	rx_free(rx);
	return rc;
}

int duet_udp_rx_new(uv_loop_t *loop, const struct duet_udp_rx_config *cfg, duet_udp_rx_cb cb,
		    void *data, struct duet_udp_rx **out, char *err, size_t errlen)
{
	struct sockaddr_storage sa;
	if (!loop || !cfg || !cfg->addr || !cb || !out || duet_addr_parse(cfg->addr, &sa)) {
		snprintf(err, errlen, "UDP receiver: '%s' is not a numeric address:port",
			 cfg && cfg->addr ? cfg->addr : "(null)");
		return DUET_EINVAL;
	}
	struct duet_udp_rx *rx = calloc(1, sizeof *rx);
	if (!rx)
		return DUET_ENOMEM;
	rx->fd = -1;
	rx->loop = loop;
	rx->cb = cb;
	rx->data = data;
	rx->batch = cfg->batch ? cfg->batch : DUET_UDP_RX_DEFAULT_BATCH;
	if (rx->batch > DUET_UDP_RX_MAX_BATCH)
		rx->batch = DUET_UDP_RX_MAX_BATCH;
	rx->max_datagram = cfg->max_datagram ? cfg->max_datagram : 65535;
	rx->msgs = calloc(rx->batch, sizeof *rx->msgs);
	rx->iov = calloc(rx->batch, sizeof *rx->iov);
	rx->from = calloc(rx->batch, sizeof *rx->from);
	rx->bufs = malloc((size_t)rx->batch * rx->max_datagram);
	rx->ctrl = calloc(rx->batch, CTRL_BYTES);
	if (!rx->msgs || !rx->iov || !rx->from || !rx->bufs || !rx->ctrl) {
		rx_free(rx);
		return DUET_ENOMEM;
	}
	for (unsigned i = 0; i < rx->batch; i++) {
		rx->iov[i].iov_base = rx->bufs + (size_t)i * rx->max_datagram;
		rx->iov[i].iov_len = rx->max_datagram;
		struct msghdr *m = &rx->msgs[i].msg_hdr;
		m->msg_name = &rx->from[i];
		m->msg_iov = &rx->iov[i];
		m->msg_iovlen = 1;
		m->msg_control = rx->ctrl + (size_t)i * CTRL_BYTES;
	}
	rx->fd = socket(sa.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (rx->fd < 0)
		return fail(rx, err, errlen, -errno, "UDP receiver %s: socket: %s", cfg->addr);
	int one = 1;
	int want = (int)(cfg->rcvbuf_bytes ? cfg->rcvbuf_bytes : DUET_UDP_RX_DEFAULT_RCVBUF);
	/* the kernel doubles what it is given (bookkeeping): ask for half */
	int half = want / 2;
	if (setsockopt(rx->fd, SOL_SOCKET, SO_RCVBUFFORCE, &half, sizeof half) != 0)
		(void)setsockopt(rx->fd, SOL_SOCKET, SO_RCVBUF, &half, sizeof half);
	(void)setsockopt(rx->fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
	int granted = 0;
	socklen_t gl = sizeof granted;
	if (getsockopt(rx->fd, SOL_SOCKET, SO_RCVBUF, &granted, &gl) == 0)
		rx->stats.rcvbuf = (uint32_t)granted;
	socklen_t salen =
	    sa.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	if (bind(rx->fd, (struct sockaddr *)&sa, salen) != 0)
		return fail(rx, err, errlen, -errno, "UDP receiver %s: bind: %s", cfg->addr);
	struct sockaddr_storage bound;
	socklen_t bl = sizeof bound;
	if (getsockname(rx->fd, (struct sockaddr *)&bound, &bl) == 0)
		rx->port = duet_addr_port(&bound);
	int rc = uv_poll_init_socket(loop, &rx->poll, rx->fd);
	if (rc) {
		errno = -rc;
		return fail(rx, err, errlen, rc, "UDP receiver %s: uv_poll: %s", cfg->addr);
	}
	rx->poll.data = rx;
	uv_poll_start(&rx->poll, UV_READABLE, on_readable);
	*out = rx;
	return 0;
}

int duet_udp_rx_port(const struct duet_udp_rx *rx)
{
	return rx ? rx->port : 0;
}

void duet_udp_rx_get_stats(const struct duet_udp_rx *rx, struct duet_udp_rx_stats *out)
{
	if (!rx || !out)
		return;
	*out = rx->stats;
	/* SO_RXQ_OVFL's count arrives with the next datagram: drops at the end
	 * of a burst show only here, in the socket's own counter */
	uint32_t mem[SK_MEMINFO_VARS];
	socklen_t len = sizeof mem;
	if (!rx->closing && getsockopt(rx->fd, SOL_SOCKET, SO_MEMINFO, mem, &len) == 0 &&
	    len > SK_MEMINFO_DROPS * sizeof mem[0] && mem[SK_MEMINFO_DROPS] > out->kernel_drops)
		out->kernel_drops = mem[SK_MEMINFO_DROPS];
}

static void on_closed(uv_handle_t *h)
{
	struct duet_udp_rx *rx = h->data;
	void (*closed)(void *) = rx->closed;
	void *cd = rx->closed_data;
	close(rx->fd); /* only once libuv has let go of it */
	rx_free(rx);
	if (closed)
		closed(cd);
}

void duet_udp_rx_close(struct duet_udp_rx *rx, void (*closed)(void *data), void *data)
{
	if (!rx)
		return;
	if (rx->closing)
		return;
	rx->closing = true;
	rx->closed = closed;
	rx->closed_data = data;
	uv_poll_stop(&rx->poll);
	uv_close((uv_handle_t *)&rx->poll, on_closed);
}

int duet_udp_rx_send(struct duet_udp_rx *rx, const struct sockaddr_storage *to, const void *buf,
		     size_t len)
{
	socklen_t tl =
	    to->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	if (rx->closing)
		return -EBADF;
	ssize_t r = sendto(rx->fd, buf, len, MSG_DONTWAIT, (const struct sockaddr *)to, tl);
	if (r < 0)
		return -errno;
	return (size_t)r == len ? 0 : -EMSGSIZE;
}
