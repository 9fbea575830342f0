/* SPDX-License-Identifier: MIT */
/*
 * test_udp.c - the UDP trap receiver on real sockets: batches, the sender's
 * address, a real `logger`, truncation, and the kernel's drop count read
 * back when the receive buffer overflows.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "duet/traps_udp.h"

struct got {
	unsigned n;
	unsigned truncated;
	char last[256];
	size_t last_len;
	char from[64];
	struct duet_udp_rx *close_after; /* close the receiver from the callback */
};

static void on_dgram(void *data, const struct sockaddr_storage *from, const uint8_t *buf,
		     size_t len, bool truncated)
{
	struct got *g = data;
	g->n++;
	g->truncated += truncated;
	g->last_len = len < sizeof g->last - 1 ? len : sizeof g->last - 1;
	memcpy(g->last, buf, g->last_len);
	g->last[g->last_len] = 0;
	inet_ntop(AF_INET, &((const struct sockaddr_in *)from)->sin_addr, g->from, sizeof g->from);
	if (g->close_after) {
		duet_udp_rx_close(g->close_after, NULL, NULL);
		g->close_after = NULL;
	}
}

static void on_deadline(uv_timer_t *t)
{
	*(bool *)t->data = true;
}

/* Runs the loop until *n >= want; fails the test after 10 s. */
static void run_until(uv_loop_t *loop, const unsigned *n, unsigned want)
{
	bool late = false;
	uv_timer_t t;
	uv_timer_init(loop, &t);
	t.data = &late;
	uv_timer_start(&t, on_deadline, 10000, 0);
	while (*n < want && !late)
		uv_run(loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
	cr_assert_geq(*n, want, "only %u of %u datagrams arrived", *n, want);
}

static int sender(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert_geq(fd, 0);
	return fd;
}

static void send_to(int fd, int port, const void *buf, size_t len)
{
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
	cr_assert_eq(sendto(fd, buf, len, 0, (struct sockaddr *)&to, sizeof to), (ssize_t)len);
}

static struct duet_udp_rx *open_rx(uv_loop_t *loop, struct duet_udp_rx_config *c, struct got *g)
{
	struct duet_udp_rx *rx = NULL;
	char err[256] = "";
	int rc = duet_udp_rx_new(loop, c, on_dgram, g, &rx, err, sizeof err);
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_gt(duet_udp_rx_port(rx), 0);
	return rx;
}

static void close_rx(uv_loop_t *loop, struct duet_udp_rx *rx)
{
	duet_udp_rx_close(rx, NULL, NULL);
	uv_run(loop, UV_RUN_DEFAULT);
	cr_assert_eq(uv_loop_close(loop), 0, "every handle closed");
}

Test(udp_rx, receives_in_batches_with_the_senders_address)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct got g = {0};
	struct duet_udp_rx_config c = {.addr = "127.0.0.1:0"};
	struct duet_udp_rx *rx = open_rx(&loop, &c, &g);
	int fd = sender();
	char msg[64];
	for (int i = 0; i < 200; i++) {
		int len = snprintf(msg, sizeof msg, "<13>trap %d", i);
		send_to(fd, duet_udp_rx_port(rx), msg, (size_t)len);
	}
	run_until(&loop, &g.n, 200);
	cr_assert_str_eq(g.last, "<13>trap 199", "in order, nothing lost on loopback");
	cr_assert_str_eq(g.from, "127.0.0.1");
	struct duet_udp_rx_stats st;
	duet_udp_rx_get_stats(rx, &st);
	cr_assert_eq(st.datagrams, 200);
	cr_assert_lt(st.batches, 200, "datagrams queued together are read in one recvmmsg");
	cr_assert_eq(st.kernel_drops, 0);
	cr_assert_geq(st.rcvbuf, 1u << 20, "a large receive buffer was granted: %u", st.rcvbuf);
	close(fd);
	close_rx(&loop, rx);
}

Test(udp_rx, real_logger)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct got g = {0};
	struct duet_udp_rx_config c = {.addr = "127.0.0.1:0"};
	struct duet_udp_rx *rx = open_rx(&loop, &c, &g);
	char cmd[256];
	snprintf(cmd, sizeof cmd,
		 "logger --server 127.0.0.1 --port %d --udp --rfc5424 -t duettest 'fan 2 failed'",
		 duet_udp_rx_port(rx));
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	run_until(&loop, &g.n, 1);
	cr_assert(strstr(g.last, "duettest") && strstr(g.last, "fan 2 failed"), "%s", g.last);
	close_rx(&loop, rx);
}

Test(udp_rx, oversized_datagram_is_cut_and_counted)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct got g = {0};
	struct duet_udp_rx_config c = {.addr = "127.0.0.1:0", .max_datagram = 16};
	struct duet_udp_rx *rx = open_rx(&loop, &c, &g);
	int fd = sender();
	char big[100];
	memset(big, 'x', sizeof big);
	send_to(fd, duet_udp_rx_port(rx), big, sizeof big);
	run_until(&loop, &g.n, 1);
	cr_assert_eq(g.truncated, 1);
	cr_assert_eq(g.last_len, 16);
	struct duet_udp_rx_stats st;
	duet_udp_rx_get_stats(rx, &st);
	cr_assert_eq(st.truncated, 1);
	close(fd);
	close_rx(&loop, rx);
}

Test(udp_rx, kernel_drops_are_read_back)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct got g = {0};
	/* a tiny buffer, and the loop not running while the sender floods it */
	struct duet_udp_rx_config c = {.addr = "127.0.0.1:0", .rcvbuf_bytes = 8192};
	struct duet_udp_rx *rx = open_rx(&loop, &c, &g);
	int fd = sender();
	char msg[200];
	memset(msg, 'y', sizeof msg);
	const unsigned sent = 2000;
	for (unsigned i = 0; i < sent; i++)
		send_to(fd, duet_udp_rx_port(rx), msg, sizeof msg);
	/* drain what the kernel kept, then one marker datagram: the kernel's
	 * drop count rides on every datagram after the drops */
	struct duet_udp_rx_stats st;
	duet_udp_rx_get_stats(rx, &st);
	uv_run(&loop, UV_RUN_NOWAIT);
	unsigned kept = g.n;
	send_to(fd, duet_udp_rx_port(rx), "marker", 6);
	run_until(&loop, &g.n, kept + 1);
	cr_assert_str_eq(g.last, "marker");
	duet_udp_rx_get_stats(rx, &st);
	cr_assert_gt(st.kernel_drops, 0, "the flood overflowed an 8 KiB buffer");
	cr_assert_eq(st.datagrams + st.kernel_drops, sent + 1,
		     "every datagram is either received or counted as dropped: %llu + %llu",
		     (unsigned long long)st.datagrams, (unsigned long long)st.kernel_drops);
	close(fd);
	close_rx(&loop, rx);
}

Test(udp_rx, closing_from_the_callback_and_bad_addresses)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct got g = {0};
	struct duet_udp_rx_config c = {.addr = "127.0.0.1:0"};
	struct duet_udp_rx *rx = open_rx(&loop, &c, &g);
	g.close_after = rx;
	int fd = sender();
	for (int i = 0; i < 10; i++)
		send_to(fd, duet_udp_rx_port(rx), "x", 1);
	run_until(&loop, &g.n, 1);
	uv_run(&loop, UV_RUN_DEFAULT);
	cr_assert_eq(g.n, 1, "nothing is delivered after close");
	cr_assert_eq(uv_loop_close(&loop), 0);
	close(fd);

	uv_loop_init(&loop);
	struct duet_udp_rx *bad = NULL;
	char err[256] = "";
	c.addr = "localhost:514";
	cr_assert_neq(duet_udp_rx_new(&loop, &c, on_dgram, &g, &bad, err, sizeof err), 0);
	cr_assert(strstr(err, "not a numeric address"), "%s", err);
	c.addr = "192.0.2.1:514"; /* not an address of this machine */
	cr_assert_neq(duet_udp_rx_new(&loop, &c, on_dgram, &g, &bad, err, sizeof err), 0);
	cr_assert(strstr(err, "bind"), "%s", err);
	cr_assert_eq(uv_loop_close(&loop), 0);
}
