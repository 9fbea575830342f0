/* SPDX-License-Identifier: MIT */
/*
 * test_resolve.c - issue 13 defect 8: a host NAME in the conninfo must be
 * resolved off the loop. PQconnectStart would call a blocking getaddrinfo()
 * on the loop thread; a slow resolver then stalls everything on the loop
 * (the daemon's lease with it).
 *
 * The test makes its own world: a new mount and network namespace (root
 * only; skipped with a message otherwise), loopback up, /etc/resolv.conf
 * replaced by one naming 127.0.0.1, and a DNS server on 127.0.0.1:53 that
 * runs ON THE TEST'S LOOP. If the lookup blocked the loop, that server could
 * never answer and the lookup would time out (the probe fails); resolved on
 * the threadpool, the loop answers and the probe reaches a real PostgreSQL
 * (started inside the namespace). No clocks, no sleeps.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdbool.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "cluster.h"
#include "duet/pg.h"
#include "loop.h"

#define TEST_HOST "pg.duet-test.invalid"

static struct cluster cl; /* static: the atexit safety net reads it */
static char resolv_path[64];

static void resolve_teardown(void)
{
	cl_stop(&cl);
	if (resolv_path[0])
		unlink(resolv_path);
	tl_teardown();
}

TestSuite(pg_resolve, .init = tl_setup, .fini = resolve_teardown, .timeout = 120);

struct dns {
	uv_udp_t udp;
	int queries_a;   /* A queries answered with 127.0.0.1 */
	int queries_all; /* every query answered */
};

static void dns_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static char mem[1500];
	(void)h;
	(void)suggested;
	*buf = uv_buf_init(mem, sizeof mem);
}

struct dns_reply {
	uv_udp_send_t req;
	char buf[600];
};

static void dns_sent(uv_udp_send_t *req, int status)
{
	(void)status;
	free(req);
}

/* Answers a query for TEST_HOST: A -> 127.0.0.1, anything else: no data. */
static void dns_recv(uv_udp_t *udp, ssize_t n, const uv_buf_t *buf, const struct sockaddr *from,
		     unsigned flags)
{
	(void)flags;
	struct dns *d = udp->data;
	const unsigned char *q = (const unsigned char *)buf->base;
	if (n < 17 || !from)
		return;
	size_t off = 12;
	while (off < (size_t)n && q[off])
		off += q[off] + 1u;
	if (off + 5 > (size_t)n)
		return;
	size_t qend = off + 5; /* the name's 0, qtype, qclass */
	unsigned qtype = (unsigned)q[off + 1] << 8 | q[off + 2];
	struct dns_reply *r = calloc(1, sizeof *r);
	cr_assert_not_null(r);
	unsigned char *a = (unsigned char *)r->buf;
	if (qend > 300) {
		free(r);
		return;
	}
	memcpy(a, q, qend);
	a[2] = 0x81; /* QR, RD */
	a[3] = 0x80; /* RA, NOERROR */
	a[4] = 0, a[5] = 1;
	/* only TEST_HOST ("pg" first label) exists; others: NXDOMAIN */
	bool ours = q[12] == 2 && q[13] == 'p' && q[14] == 'g';
	if (!ours)
		a[3] = 0x83;
	a[6] = 0, a[7] = ours && qtype == 1 ? 1 : 0;
	memset(a + 8, 0, 4); /* no authority, no additional (EDNS dropped) */
	size_t len = qend;
	if (ours && qtype == 1) {
		const unsigned char rr[] = {0xc0, 0x0c, 0, 1, 0,   1, 0, 0,
					    0,    60,   0, 4, 127, 0, 0, 1};
		memcpy(a + len, rr, sizeof rr);
		len += sizeof rr;
		d->queries_a++;
	}
	d->queries_all++;
	uv_buf_t out = uv_buf_init(r->buf, (unsigned)len);
	cr_assert_eq(uv_udp_send(&r->req, udp, &out, 1, from, dns_sent), 0);
}

static void loopback_up(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert(fd >= 0);
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
	cr_assert_eq(ioctl(fd, SIOCGIFFLAGS, &ifr), 0, "SIOCGIFFLAGS lo: %s", strerror(errno));
	ifr.ifr_flags |= IFF_UP;
	cr_assert_eq(ioctl(fd, SIOCSIFFLAGS, &ifr), 0, "SIOCSIFFLAGS lo: %s", strerror(errno));
	close(fd);
}

/* This test process only (criterion forks one per test): its own mount and
 * network namespace, with our resolv.conf bound over /etc/resolv.conf. */
static void own_world(void)
{
	if (geteuid() != 0 || unshare(CLONE_NEWNS | CLONE_NEWNET) != 0)
		cr_skip_test("needs root to create a mount and network namespace (%s): the "
			     "resolver cannot be replaced here",
			     geteuid() ? "not root" : strerror(errno));
	cr_assert_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0, "make / private: %s",
		     strerror(errno));
	loopback_up();
	snprintf(resolv_path, sizeof resolv_path, "/tmp/duet-resolv-XXXXXX");
	int fd = mkstemp(resolv_path);
	cr_assert(fd >= 0);
	const char conf[] = "nameserver 127.0.0.1\noptions timeout:2 attempts:1\n";
	cr_assert_eq(write(fd, conf, sizeof conf - 1), (ssize_t)(sizeof conf - 1));
	close(fd);
	cr_assert_eq(mount(resolv_path, "/etc/resolv.conf", NULL, MS_BIND, NULL), 0,
		     "bind resolv.conf: %s", strerror(errno));
}

Test(pg_resolve, blocking_dns_on_the_loop)
{
	own_world();
	static struct dns d; /* static: the teardown closes it if the test fails */
	memset(&d, 0, sizeof d);
	cr_assert_eq(uv_udp_init(tl_loop, &d.udp), 0);
	d.udp.data = &d;
	struct sockaddr_in addr;
	uv_ip4_addr("127.0.0.1", 53, &addr);
	cr_assert_eq(uv_udp_bind(&d.udp, (const struct sockaddr *)&addr, 0), 0);
	cr_assert_eq(uv_udp_recv_start(&d.udp, dns_alloc, dns_recv), 0);

	cl_start(&cl); /* PostgreSQL inside the namespace, on its loopback */
	char conninfo[300];
	snprintf(conninfo, sizeof conninfo, "host=%s port=%d user=postgres dbname=postgres",
		 TEST_HOST, cl.primary.port);
	cr_assert_eq(duet_pg_conninfo_hosts(conninfo, NULL, 0), 1);
	struct duet_pg *pg = tl_pg_new(conninfo, 8000);
	struct tl_result r;
	int rc = tl_probe(pg, &r, 10000);
	cr_assert_eq(rc, 0, "probe through %s: %s (DNS queries answered: %d)", TEST_HOST, r.err,
		     d.queries_all);
	cr_assert_not(r.st.in_recovery);
	cr_assert_gt(d.queries_a, 0, "the name was not looked up through the test's DNS");

	/* a name that does not resolve fails the operation with the name */
	tl_pg_close(pg);
	pg = tl_pg_new("host=nowhere.duet-test.invalid port=1 user=postgres", 8000);
	d.queries_a = 0;
	rc = tl_probe(pg, &r, 10000);
	cr_assert_eq(rc, -ENOTCONN, "rc %d: %s", rc, r.err);
	cr_assert(strstr(r.err, "nowhere.duet-test.invalid"), "%s", r.err);
	tl_pg_close(pg);
	uv_close((uv_handle_t *)&d.udp, NULL);
}

Test(pg_resolve, conninfo_hosts_needing_a_lookup)
{
	char name[64] = "";
	cr_assert_eq(duet_pg_conninfo_hosts("host=127.0.0.1 port=5432", name, sizeof name), 0);
	cr_assert_eq(duet_pg_conninfo_hosts("host=/run/postgresql", name, sizeof name), 0);
	cr_assert_eq(duet_pg_conninfo_hosts("host=::1", name, sizeof name), 0);
	cr_assert_eq(duet_pg_conninfo_hosts("dbname=postgres", name, sizeof name), 0);
	cr_assert_eq(duet_pg_conninfo_hosts("host=db.example hostaddr=10.0.0.1", name, sizeof name),
		     0);
	cr_assert_eq(duet_pg_conninfo_hosts("host=/tmp,db-b.example", name, sizeof name), 1);
	cr_assert_str_eq(name, "db-b.example");
	cr_assert_eq(duet_pg_conninfo_hosts("host=a,b,c,d,e,f,g,h,i", name, sizeof name),
		     DUET_EINVAL);
	cr_assert_eq(duet_pg_conninfo_hosts("host='unterminated", name, sizeof name), DUET_EINVAL);
}
