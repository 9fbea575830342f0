/* SPDX-License-Identifier: MIT */
/*
 * test_isolation.c - the isolation probe over real sockets: a listening
 * port, a refused port (reachable), several targets of which one answers,
 * targets without a route in a fresh network namespace, and a silent target
 * (its SYN goes to a MAC address nobody owns) that only the deadline ends,
 * with a close while its connect is pending.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "fixture.h"

static uv_tcp_t listener;

static void free_handle(uv_handle_t *h)
{
	free(h);
}

/* Accepts and closes at once: the probe only needs the handshake. */
static void accepted(uv_stream_t *server, int status)
{
	if (status)
		return;
	uv_tcp_t *c = malloc(sizeof(*c));
	cr_assert_not_null(c);
	uv_tcp_init(hx_loop, c);
	uv_accept(server, (uv_stream_t *)c);
	uv_close((uv_handle_t *)c, free_handle);
}

/* Listens on 127.0.0.1, port chosen by the kernel; returns "127.0.0.1:port". */
static void listen_local(char *target, size_t len)
{
	struct sockaddr_in addr;
	cr_assert_eq(uv_ip4_addr("127.0.0.1", 0, &addr), 0);
	cr_assert_eq(uv_tcp_init(hx_loop, &listener), 0);
	cr_assert_eq(uv_tcp_bind(&listener, (struct sockaddr *)&addr, 0), 0);
	cr_assert_eq(uv_listen((uv_stream_t *)&listener, 16, accepted), 0);
	int n = sizeof(addr);
	cr_assert_eq(uv_tcp_getsockname(&listener, (struct sockaddr *)&addr, &n), 0);
	snprintf(target, len, "127.0.0.1:%d", ntohs(addr.sin_port));
}

/* A port nothing listens on: bound once by the kernel, then released. */
static void refused_local(char *target, size_t len)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	struct sockaddr_in addr = {.sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t n = sizeof(addr);
	cr_assert_eq(bind(fd, (struct sockaddr *)&addr, n), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&addr, &n), 0);
	close(fd);
	snprintf(target, len, "127.0.0.1:%d", ntohs(addr.sin_port));
}

TestSuite(health_isolation, .init = hx_setup, .fini = hx_teardown, .timeout = 120);

static void add_isolation(const char *const *targets, unsigned n, uint32_t interval_ms,
			  uint32_t timeout_ms)
{
	hx_set_new();
	struct duet_health_check_config c = hx_config("isolation", interval_ms, timeout_ms);
	cr_assert_eq(duet_health_add_isolation(hx_set, &c, targets, n), 0);
	cr_assert_eq(duet_health_start(hx_set), 0);
}

static void assert_detail_has(const char *text)
{
	const char *d = hx_status("isolation").detail;
	cr_assert(strstr(d, text), "detail '%s' lacks '%s'", d, text);
}

Test(health_isolation, listening_port_is_reachable)
{
	char target[DUET_ADDR_MAX];
	listen_local(target, sizeof(target));
	const char *targets[] = {target};
	add_isolation(targets, 1, 10, 60000);
	hx_run_until_state("isolation", DUET_HEALTH_OK);
	assert_detail_has(target);
	assert_detail_has("reachable (connected)");
}

Test(health_isolation, refused_port_is_reachable)
{
	char target[DUET_ADDR_MAX];
	refused_local(target, sizeof(target));
	const char *targets[] = {target};
	add_isolation(targets, 1, 10, 60000);
	hx_run_until_state("isolation", DUET_HEALTH_OK);
	assert_detail_has(target);
	assert_detail_has("refused the connection");
}

Test(health_isolation, unroutable_targets_fail)
{
	hx_new_netns(); /* only lo, and it is down: no route anywhere */
	const char *targets[] = {"192.0.2.1:80", "127.0.0.1:9", "[2001:db8::1]:443"};
	add_isolation(targets, 3, 10, 60000);
	hx_run_until_state("isolation", DUET_HEALTH_FAILING);
	assert_detail_has("no target reachable");
	for (unsigned i = 0; i < 3; i++)
		assert_detail_has(targets[i]);
	assert_detail_has("network is unreachable");
	cr_assert_eq(hx_status("isolation").timeouts, 0, "failed at once, not by the deadline");
}

/* A namespace where 10.99.0.2 sits behind a veth pair at a MAC address no
 * interface owns (a permanent neighbour entry, so not even ARP answers):
 * the peer drops every frame, and connects neither succeed nor fail. */
static void silent_network(void)
{
	hx_new_netns();
	hx_sh("ip link set lo up && ip link add duet-s0 type veth peer name duet-s1 && "
	      "ip addr add 10.99.0.1/24 dev duet-s0 && ip link set duet-s0 up && "
	      "ip link set duet-s1 up && "
	      "ip neigh add 10.99.0.2 lladdr 02:00:00:99:00:02 dev duet-s0 nud permanent");
}

Test(health_isolation, one_reachable_target_is_enough)
{
	silent_network();
	char target[DUET_ADDR_MAX];
	listen_local(target, sizeof(target));
	const char *targets[] = {"10.99.0.2:80", target};
	add_isolation(targets, 2, 10, 60000);
	hx_run_until_state("isolation", DUET_HEALTH_OK);
	assert_detail_has(target);
	cr_assert_eq(hx_status("isolation").timeouts, 0);
}

static bool late_answers_at_least_two(void *arg)
{
	return hx_status("isolation").late_answers >= 2;
}

static bool probe_in_flight(void *arg)
{
	struct duet_health_status s = hx_status("isolation");
	return s.in_flight && s.probes > *(uint64_t *)arg;
}

Test(health_isolation, silent_target_fails_by_deadline_and_close_cancels)
{
	silent_network();
	const char *targets[] = {"10.99.0.2:80"};
	add_isolation(targets, 1, 200, 100);
	hx_run_until_state("isolation", DUET_HEALTH_FAILING);
	struct duet_health_status s = hx_status("isolation");
	assert_detail_has("no answer within 100 ms");
	cr_assert_eq(s.failures, s.timeouts, "every failure came from the deadline");

	/* Each cancelled probe closes its socket and answers (late), so the
	 * next tick can start a fresh probe: a second late answer proves it. */
	cr_assert(hx_run_until(late_answers_at_least_two, NULL, HX_GUARD_MS));

	/* Close with a connect pending: cancel closes the socket, then closed(). */
	uint64_t probes = hx_status("isolation").probes;
	cr_assert(hx_run_until(probe_in_flight, &probes, HX_GUARD_MS));
	hx_close_set();
}
