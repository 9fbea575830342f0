/* SPDX-License-Identifier: MIT */
/*
 * test_link.c - transports over real sockets on 127.0.0.0/8: mutual TLS
 * 1.3 between members, refusal (and counting) of foreign certificates,
 * non-members, garbage, oversized frames and silent clients, redundant
 * links through a relay that can be cut, and the bounded send queue
 * against a peer that stops reading.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "certs.h"
#include "fixture.h"
#include "proxy.h"

static struct node a, b, c;

static void setup(void)
{
	fx_setup();
}

static void teardown(void)
{
	fx_teardown();
}

TestSuite(link, .init = setup, .fini = teardown, .timeout = 60);

static struct xport_stats stats(struct node *n)
{
	struct xport_stats s;
	xport_get_stats(n->x, &s);
	return s;
}

/* a and b on 127.0.0.1, each a member of the other's membership. */
static void start_pair(struct xport_config *ca, struct xport_config *cb)
{
	struct xport_config da = fx_config(&a, "node-a"), db = fx_config(&b, "node-b");
	if (!ca)
		ca = &da;
	if (!cb)
		cb = &db;
	ca->listen[0] = cb->listen[0] = "127.0.0.1:0";
	ca->n_listen = cb->n_listen = 1;
	fx_node_start(&a, 1, "node-a", ca);
	fx_node_start(&b, 2, "node-b", cb);
	struct duet_membership m = {0};
	fx_member(&m, 1, "node-a", a.listen_addr[0], NULL);
	fx_member(&m, 2, "node-b", b.listen_addr[0], NULL);
	cr_assert_eq(xport_set_membership(a.x, &m), 0);
	cr_assert_eq(xport_set_membership(b.x, &m), 0);
}

static bool pair_up(void *arg)
{
	return xport_link_up(a.x, 2, 0) && xport_link_up(b.x, 1, 0);
}

static bool b_got(void *arg)
{
	return b.frames >= *(uint64_t *)arg;
}

static bool a_got(void *arg)
{
	return a.frames >= *(uint64_t *)arg;
}

static void send_seq(struct node *from, uint32_t to, uint32_t seq, uint32_t len)
{
	uint8_t buf[256] = {0};
	memcpy(buf, &seq, 4);
	cr_assert_eq(xport_send(from->x, to, 7, buf, len), 0);
}

Test(link, mutual_tls_both_ways_and_large_frame)
{
	start_pair(NULL, NULL);
	cr_assert(fx_run_until(pair_up, NULL, 5000), "links did not come up");
	for (uint32_t i = 0; i < 10; i++) {
		send_seq(&a, 2, i, 100);
		send_seq(&b, 1, i, 200);
	}
	uint64_t want = 10;
	cr_assert(fx_run_until(b_got, &want, 5000));
	cr_assert(fx_run_until(a_got, &want, 5000));
	cr_assert(!a.out_of_order && !b.out_of_order);
	cr_assert_eq(b.last_len, 100);

	uint32_t big = 6u << 20;
	uint8_t *p = malloc(big);
	for (uint32_t i = 0; i < big; i++)
		p[i] = (uint8_t)(i * 2654435761u >> 24);
	memset(p, 0, 4);
	uint32_t seq = 10;
	memcpy(p, &seq, 4);
	cr_assert_eq(xport_send(a.x, 2, 9, p, big), 0);
	uint32_t crc = duet_crc32c(0, p, big);
	free(p); /* the transport does not keep the caller's buffer */
	want = 11;
	cr_assert(fx_run_until(b_got, &want, 10000), "large frame did not arrive");
	cr_assert_eq(b.last_len, big);
	cr_assert_eq(b.last_crc, crc);
	cr_assert(!b.out_of_order);

	struct xport_stats sa = stats(&a), sb = stats(&b);
	cr_assert_eq(sa.frames_sent, 11);
	cr_assert_eq(sb.frames_received, 11);
	cr_assert_eq(sa.refused_bad_cert + sb.refused_bad_cert + sa.refused_tls_error +
			 sb.refused_tls_error,
		     0);
	/* argument checks */
	cr_assert_eq(xport_send(a.x, 1, 7, "x", 1), DUET_EINVAL); /* self */
	cr_assert_eq(xport_send(a.x, 9, 7, "x", 1), DUET_EINVAL); /* no such member */
	cr_assert_eq(xport_send(a.x, 2, XPORT_TYPE_KEEPALIVE, "x", 1), DUET_EINVAL);
}

static bool b_refused_bad_cert(void *arg)
{
	return stats(&b).refused_bad_cert >= 1 && stats(&c).links_down >= 1;
}

Test(link, foreign_ca_refused_and_counted)
{
	struct xport_config cb = fx_config(&b, "node-b");
	cb.listen[0] = "127.0.0.1:0";
	cb.n_listen = 1;
	fx_node_start(&b, 2, "node-b", &cb);
	/* The rogue trusts the cluster CA (so it accepts b) but its own
	 * certificate, CN node-a, comes from another CA. */
	struct xport_config cc = fx_config(&c, "rogue-a");
	fx_node_start(&c, 1, "node-a", &cc);
	struct duet_membership m = {0};
	fx_member(&m, 1, "node-a", NULL, NULL);
	fx_member(&m, 2, "node-b", b.listen_addr[0], NULL);
	cr_assert_eq(xport_set_membership(b.x, &m), 0);
	cr_assert_eq(xport_set_membership(c.x, &m), 0);
	cr_assert(fx_run_until(b_refused_bad_cert, NULL, 5000));
	cr_assert_eq(xport_links_up(b.x, 1), 0);
	cr_assert_eq(stats(&b).links_up, 0);
	cr_assert_eq(b.frames, 0);
}

static bool b_refused_unknown(void *arg)
{
	return stats(&b).refused_unknown_member >= 2;
}

static bool wrong_peer_counted(void *arg)
{
	return stats(&a).refused_wrong_peer >= 1;
}

Test(link, non_member_and_wrong_peer_refused)
{
	struct xport_config cb = fx_config(&b, "node-b");
	cb.listen[0] = "127.0.0.1:0";
	cb.n_listen = 1;
	fx_node_start(&b, 2, "node-b", &cb);
	/* node-x has a cluster certificate but is not in b's membership */
	struct xport_config cc = fx_config(&c, "node-x");
	fx_node_start(&c, 3, "node-x", &cc);
	struct duet_membership mb = {0}, mc = {0};
	fx_member(&mb, 1, "node-a", NULL, NULL);
	fx_member(&mb, 2, "node-b", b.listen_addr[0], NULL);
	fx_member(&mc, 3, "node-x", NULL, NULL);
	fx_member(&mc, 2, "node-b", b.listen_addr[0], NULL);
	cr_assert_eq(xport_set_membership(b.x, &mb), 0);
	cr_assert_eq(xport_set_membership(c.x, &mc), 0);
	cr_assert(fx_run_until(b_refused_unknown, NULL, 5000)); /* refused again after backoff */
	cr_assert_eq(xport_links_up(b.x, 3), 0);

	/* a dials b's address believing it belongs to "node-c": a refuses b */
	struct xport_config ca = fx_config(&a, "node-a");
	fx_node_start(&a, 1, "node-a", &ca);
	struct duet_membership ma = {0};
	fx_member(&ma, 1, "node-a", NULL, NULL);
	fx_member(&ma, 4, "node-c", b.listen_addr[0], NULL);
	cr_assert_eq(xport_set_membership(a.x, &ma), 0);
	cr_assert(fx_run_until(wrong_peer_counted, NULL, 5000));
	cr_assert_eq(xport_link_up(a.x, 4, 0), 0);
}

struct raw_wait {
	struct raw_client *r;
	uint64_t *counter;
	uint64_t want;
};

static uint64_t counter_snapshot;

static bool raw_refused(void *arg)
{
	struct raw_wait *w = arg;
	struct xport_stats s = stats(&b);
	counter_snapshot = s.refused_tls_error;
	return w->r->closed && counter_snapshot >= w->want;
}

static int b_port(void)
{
	return xport_listen_port(b.x, 0);
}

Test(link, garbage_refused_then_good_peer_served)
{
	start_pair(NULL, NULL);
	cr_assert(fx_run_until(pair_up, NULL, 5000));

	uint8_t junk[8192];
	uint64_t s = 12345;
	for (size_t i = 0; i < sizeof junk; i++) {
		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		junk[i] = (uint8_t)s;
	}
	struct raw_client r;
	raw_client_start(&r, "127.0.0.1", b_port(), junk, sizeof junk);
	struct raw_wait w = {&r, NULL, 1};
	cr_assert(fx_run_until(raw_refused, &w, 5000), "random bytes not refused");

	/* a frame header announcing 4 GiB, in clear, where TLS is expected */
	uint8_t head[XPORT_FRAME_HEADER_BYTES] = {
	    'D', 'U', 'E', 'T', XPORT_FRAME_VERSION, 1, 0, 0, 0xff, 0xff, 0xff, 0xff};
	raw_client_start(&r, "127.0.0.1", b_port(), head, sizeof head);
	w.want = 2;
	cr_assert(fx_run_until(raw_refused, &w, 5000), "plaintext frame header not refused");

	/* the good peer still works, on the old link and new ones */
	send_seq(&a, 2, 0, 64);
	uint64_t want = 1;
	cr_assert(fx_run_until(b_got, &want, 5000));
	cr_assert_eq(stats(&b).refused_tls_error, 2);
}

static bool a_link_went_down(void *arg)
{
	return stats(&a).links_down >= 1;
}

static bool b_oversized(void *arg)
{
	return stats(&b).refused_oversized_frame >= 1;
}

Test(link, oversized_frame_inside_tls_refused_before_allocation)
{
	struct xport_config cb = fx_config(&b, "node-b");
	cb.max_frame_bytes = 1u << 20;
	start_pair(NULL, &cb);
	cr_assert(fx_run_until(pair_up, NULL, 5000));
	uint32_t len = 2u << 20;
	uint8_t *p = calloc(1, len);
	cr_assert_eq(xport_send(a.x, 2, 7, p, len), 0);            /* a's own limit is 64 MiB */
	cr_assert_eq(xport_send(b.x, 1, 7, p, len), DUET_ETOOBIG); /* b's own limit */
	free(p);
	cr_assert(fx_run_until(b_oversized, NULL, 5000));
	cr_assert_eq(b.frames, 0);
	/* a sees the link fail, redials, and a small frame gets through */
	cr_assert(fx_run_until(a_link_went_down, NULL, 5000));
	cr_assert(fx_run_until(pair_up, NULL, 5000));
	send_seq(&a, 2, 0, 16);
	uint64_t want = 1;
	cr_assert(fx_run_until(b_got, &want, 5000));
	cr_assert_eq(stats(&b).refused_oversized_frame, 1);
}

static bool silent_dropped(void *arg)
{
	struct raw_client *r = arg;
	return r->closed && stats(&b).refused_handshake_timeout >= 1;
}

Test(link, silent_client_dropped_at_handshake_deadline)
{
	struct xport_config cb = fx_config(&b, "node-b");
	cb.listen[0] = "127.0.0.1:0";
	cb.n_listen = 1;
	cb.handshake_timeout_ms = 150;
	fx_node_start(&b, 2, "node-b", &cb);
	struct raw_client r;
	raw_client_start(&r, "127.0.0.1", b_port(), NULL, 0);
	cr_assert(fx_run_until(silent_dropped, &r, 5000));
	cr_assert(r.connected);
	cr_assert_eq(stats(&b).refused_handshake_timeout, 1);
}

static struct proxy px;

static bool all_links_up(void *arg)
{
	return xport_link_up(a.x, 2, 0) && xport_link_up(a.x, 2, 1) && xport_link_up(b.x, 1, 0);
}

static bool link0_down(void *arg)
{
	return !xport_link_up(a.x, 2, 0);
}

static bool link0_up(void *arg)
{
	return xport_link_up(a.x, 2, 0);
}

Test(link, second_address_carries_traffic_while_first_is_cut)
{
	struct xport_config ca = fx_config(&a, "node-a"), cb = fx_config(&b, "node-b");
	ca.listen[0] = "127.0.0.1:0";
	ca.n_listen = 1;
	cb.listen[0] = "127.0.0.1:0";
	cb.listen[1] = "127.0.0.2:0";
	cb.n_listen = 2;
	fx_node_start(&a, 1, "node-a", &ca);
	fx_node_start(&b, 2, "node-b", &cb);
	/* b's first address is a relay that stands for the management LAN */
	proxy_start(&px, xport_listen_port(b.x, 0));
	struct duet_membership m = {0};
	fx_member(&m, 1, "node-a", a.listen_addr[0], NULL);
	fx_member(&m, 2, "node-b", px.addr, b.listen_addr[1]);
	cr_assert_eq(xport_set_membership(a.x, &m), 0);
	cr_assert_eq(xport_set_membership(b.x, &m), 0);
	cr_assert(fx_run_until(all_links_up, NULL, 5000));

	uint32_t seq = 0;
	send_seq(&a, 2, seq++, 32);
	uint64_t want = 1;
	cr_assert(fx_run_until(b_got, &want, 5000));

	proxy_cut(&px);
	cr_assert(fx_run_until(link0_down, NULL, 5000));
	cr_assert(xport_link_up(a.x, 2, 1), "second address should still be up");
	uint64_t dialed = stats(&a).dialed;
	for (int i = 0; i < 5; i++)
		send_seq(&a, 2, seq++, 32);
	want = 6;
	cr_assert(fx_run_until(b_got, &want, 5000), "traffic did not continue on address 2");

	proxy_restore(&px);
	cr_assert(fx_run_until(link0_up, NULL, 5000), "did not reconnect to address 1");
	cr_assert_gt(stats(&a).dialed, dialed);
	send_seq(&a, 2, seq++, 32);
	want = 7;
	cr_assert(fx_run_until(b_got, &want, 5000));
	cr_assert(!b.out_of_order);
	proxy_stop(&px);
}

/* Sends 64 KiB frames every millisecond until the queue has stayed full
 * for 50 ticks in a row: the kernel buffers are full too, nothing moves. */
struct flood {
	uint32_t seq;
	uint64_t accepted;
	unsigned busy_ticks;
	uv_timer_t timer;
};

static void flood_tick(uv_timer_t *t)
{
	struct flood *f = t->data;
	static uint8_t buf[64 << 10];
	bool progress = false;
	for (int i = 0; i < 64; i++) {
		memcpy(buf, &f->seq, 4);
		int rc = xport_send(a.x, 2, 7, buf, sizeof buf);
		if (rc == DUET_EBUSY)
			break;
		cr_assert_eq(rc, 0, "send: %s", duet_strerror(rc));
		f->seq++;
		f->accepted++;
		progress = true;
	}
	f->busy_ticks = progress ? 0 : f->busy_ticks + 1;
}

static bool flood_busy(void *arg)
{
	return ((struct flood *)arg)->busy_ticks >= 50;
}

static bool b_got_all(void *arg)
{
	return b.frames >= ((struct flood *)arg)->accepted;
}

Test(link, send_queue_bounded_when_peer_stops_reading)
{
	const size_t bound = 256u << 10;
	struct xport_config ca = fx_config(&a, "node-a"), cb = fx_config(&b, "node-b");
	ca.send_queue_bytes = bound;
	cb.listen[0] = "127.0.0.1:0";
	cb.n_listen = 1;
	fx_node_start(&a, 1, "node-a", &ca);
	fx_node_start(&b, 2, "node-b", &cb);
	proxy_start(&px, xport_listen_port(b.x, 0));
	struct duet_membership m = {0};
	fx_member(&m, 1, "node-a", NULL, NULL); /* b does not dial: one link only */
	fx_member(&m, 2, "node-b", px.addr, NULL);
	cr_assert_eq(xport_set_membership(a.x, &m), 0);
	cr_assert_eq(xport_set_membership(b.x, &m), 0);
	cr_assert(fx_run_until(link0_up, NULL, 5000));

	proxy_stall(&px, true);
	static struct flood f;
	memset(&f, 0, sizeof f);
	uv_timer_init(fx_loop, &f.timer);
	f.timer.data = &f;
	uv_timer_start(&f.timer, flood_tick, 0, 1);
	cr_assert(fx_run_until(flood_busy, &f, 20000), "send queue never filled");
	uv_timer_stop(&f.timer);

	struct xport_stats s = stats(&a);
	cr_assert_geq(s.send_queue_full, 1);
	cr_assert_leq(s.send_queue_high_water, bound + (80u << 10), "queue grew to %llu bytes",
		      (unsigned long long)s.send_queue_high_water);
	/* still full while the peer does not read */
	static uint8_t again[64 << 10];
	cr_assert_eq(xport_send(a.x, 2, 7, again, sizeof again), DUET_EBUSY);
	cr_assert_eq(stats(&a).send_queue_full, s.send_queue_full + 1);

	/* the peer reads again: every accepted frame arrives, in order */
	proxy_stall(&px, false);
	cr_assert(fx_run_until(b_got_all, &f, 20000), "got %llu of %llu",
		  (unsigned long long)b.frames, (unsigned long long)f.accepted);
	cr_assert(!b.out_of_order);
	uv_close((uv_handle_t *)&f.timer, NULL);
	proxy_stop(&px);
}

static bool idle_dropped(void *arg)
{
	return stats(&a).read_timeouts >= 1;
}

Test(link, idle_link_dropped_at_read_deadline)
{
	struct xport_config ca = fx_config(&a, "node-a"), cb = fx_config(&b, "node-b");
	ca.idle_timeout_ms = 300;
	cb.listen[0] = "127.0.0.1:0";
	cb.n_listen = 1;
	fx_node_start(&a, 1, "node-a", &ca);
	fx_node_start(&b, 2, "node-b", &cb);
	proxy_start(&px, xport_listen_port(b.x, 0));
	struct duet_membership m = {0};
	fx_member(&m, 1, "node-a", NULL, NULL);
	fx_member(&m, 2, "node-b", px.addr, NULL);
	cr_assert_eq(xport_set_membership(a.x, &m), 0);
	cr_assert_eq(xport_set_membership(b.x, &m), 0);
	cr_assert(fx_run_until(link0_up, NULL, 5000));
	proxy_stall(&px, true);
	cr_assert(fx_run_until(idle_dropped, NULL, 5000));
	proxy_stop(&px);
}
