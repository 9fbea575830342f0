/* SPDX-License-Identifier: MIT */
/*
 * test_fip.c - the floating IP against the real kernel: each test (its own
 * process under Criterion) enters a private network namespace with a veth
 * pair v0 <-> v1, acquires and releases addresses on v0 over netlink and
 * captures the gratuitous ARPs on v1 with a packet socket. Needs root: a
 * test run without it FAILS (CI runs as root), it is never skipped.
 *
 * The command mode (cloud FIP) is tested with small shell scripts keeping
 * the "address" in a file; it needs no privileges.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netpacket/packet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "duet/actions.h"
#include "helpers.h"

#define FIP     "10.77.0.100/24"
#define FIP_IP  "10.77.0.100"
#define FIP6    "fd00:77::100/64"
#define MAX_OPS 16

struct outcome {
	bool called;
	int rc;
	bool present;
	char detail[512];
};

static void on_fip(void *data, int rc, const char *detail)
{
	struct outcome *o = data;
	cr_assert(!o->called, "callback called twice");
	o->called = true;
	o->rc = rc;
	snprintf(o->detail, sizeof o->detail, "%s", detail);
}

static void on_check(void *data, int rc, bool present, const char *detail)
{
	struct outcome *o = data;
	cr_assert(!o->called, "callback called twice");
	o->called = true;
	o->rc = rc;
	o->present = present;
	snprintf(o->detail, sizeof o->detail, "%s", detail);
}

static struct duet_fip *make(const char *address, const char *ifname, unsigned garps)
{
	struct duet_fip_config cfg = {0};
	snprintf(cfg.address, sizeof cfg.address, "%s", address);
	snprintf(cfg.interface, sizeof cfg.interface, "%s", ifname);
	cfg.garp_count = garps;
	cfg.garp_interval_ms = 10;
	struct duet_fip *f = NULL;
	char err[256] = "";
	cr_assert_eq(duet_fip_new(t_loop, &cfg, &f, err, sizeof err), 0, "%s", err);
	return f;
}

static struct outcome acquire(struct duet_fip *f)
{
	struct outcome o = {0};
	cr_assert_eq(duet_fip_acquire(f, on_fip, &o), 0);
	cr_assert(!o.called, "callback must not run inside the call");
	loop_until(&o.called, SAFETY_LIMIT_MS);
	return o;
}

static struct outcome release(struct duet_fip *f)
{
	struct outcome o = {0};
	cr_assert_eq(duet_fip_release(f, on_fip, &o), 0);
	loop_until(&o.called, SAFETY_LIMIT_MS);
	return o;
}

static struct outcome check(struct duet_fip *f)
{
	struct outcome o = {0};
	cr_assert_eq(duet_fip_check(f, on_check, &o), 0);
	loop_until(&o.called, SAFETY_LIMIT_MS);
	return o;
}

static void destroy(struct duet_fip *f)
{
	duet_fip_free(f);
	loop_drain(SAFETY_LIMIT_MS);
}

static bool shown_on(const char *dev, const char *needle)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "ip -o addr show dev %s", dev);
	return strstr(t_shell(cmd), needle) != NULL;
}

/* ---- capture of ARP on v1 ---------------------------------------------- */

struct arp_ipv4 {
	struct arphdr h;
	uint8_t sender_mac[6];
	uint8_t sender_ip[4];
	uint8_t target_mac[6];
	uint8_t target_ip[4];
} __attribute__((packed));

static int open_capture(const char *ifname)
{
	int fd = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_ARP));
	cr_assert_geq(fd, 0, "packet socket: %s", strerror(errno));
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ARP)};
	sll.sll_ifindex = (int)if_nametoindex(ifname);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sll, sizeof sll), 0);
	/* recv waits for the packet itself; the limit only stops a broken test. */
	struct timeval tv = {.tv_sec = 10};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	return fd;
}

static void mac_of(const char *ifname, uint8_t mac[6])
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
	cr_assert_eq(ioctl(fd, SIOCGIFHWADDR, &ifr), 0);
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);
}

/* Receives the next ARP packet on fd and checks it is our announcement. */
static void expect_garp(int fd, const uint8_t mac[6])
{
	struct arp_ipv4 p;
	struct sockaddr_ll from;
	socklen_t fl = sizeof from;
	ssize_t n = recvfrom(fd, &p, sizeof p, 0, (struct sockaddr *)&from, &fl);
	cr_assert_eq(n, (ssize_t)sizeof p, "no gratuitous ARP captured on v1 (%s)",
		     n < 0 ? strerror(errno) : "short packet");
	cr_assert_eq(from.sll_pkttype, PACKET_BROADCAST, "not sent to ff:ff:ff:ff:ff:ff");
	cr_assert_eq(memcmp(from.sll_addr, mac, 6), 0, "Ethernet source is not v0's MAC");
	cr_assert_eq(ntohs(p.h.ar_hrd), ARPHRD_ETHER);
	cr_assert_eq(ntohs(p.h.ar_pro), ETHERTYPE_IP);
	cr_assert_eq(p.h.ar_hln, 6);
	cr_assert_eq(p.h.ar_pln, 4);
	cr_assert_eq(ntohs(p.h.ar_op), ARPOP_REQUEST);
	uint8_t ip[4];
	inet_pton(AF_INET, FIP_IP, ip);
	cr_assert_eq(memcmp(p.sender_ip, ip, 4), 0, "sender IP is not the FIP");
	cr_assert_eq(memcmp(p.target_ip, ip, 4), 0, "target IP is not the FIP");
	cr_assert_eq(memcmp(p.sender_mac, mac, 6), 0, "sender MAC is not v0's");
}

/* ---- netlink mode --------------------------------------------------------- */

TestSuite(fip, .init = t_setup, .fini = t_teardown);

Test(fip, acquire_check_announce_release)
{
	netns_setup();
	int cap = open_capture("v1");
	uint8_t mac[6];
	mac_of("v0", mac);
	struct duet_fip *f = make(FIP, "v0", 3);

	struct outcome o = check(f);
	cr_assert_eq(o.rc, 0, "%s", o.detail);
	cr_assert(!o.present);
	cr_assert_str_eq(o.detail, FIP " absent from v0");

	o = acquire(f);
	cr_assert_eq(o.rc, 0, "%s", o.detail);
	cr_assert_str_eq(o.detail, FIP " added on v0, 3 gratuitous ARPs");
	cr_assert(shown_on("v0", "inet " FIP " "), "ip addr does not show the FIP");
	for (int i = 0; i < 3; i++)
		expect_garp(cap, mac);

	o = check(f);
	cr_assert_eq(o.rc, 0, "%s", o.detail);
	cr_assert(o.present);
	cr_assert_str_eq(o.detail, FIP " present on v0");

	o = release(f);
	cr_assert_eq(o.rc, 0, "%s", o.detail);
	cr_assert_str_eq(o.detail, FIP " removed from v0");
	cr_assert(!shown_on("v0", FIP_IP));
	o = check(f);
	cr_assert(!o.present);
	close(cap);
	destroy(f);
}

Test(fip, acquire_twice_and_release_twice_are_fine)
{
	netns_setup();
	struct duet_fip *f = make(FIP, "v0", 1);
	struct outcome o = acquire(f);
	cr_assert_eq(o.rc, 0, "%s", o.detail);
	o = acquire(f);
	cr_assert_eq(o.rc, 0, "%s", o.detail);
	cr_assert_str_eq(o.detail, FIP " already present on v0, 1 gratuitous ARP");
	o = release(f);
	cr_assert_eq(o.rc, 0, "%s", o.detail);
	o = release(f);
	cr_assert_eq(o.rc, 0, "%s", o.detail);
	cr_assert_str_eq(o.detail, FIP " was not on v0");
	destroy(f);
}

Test(fip, release_when_absent_is_fine)
{
	netns_setup();
	struct duet_fip *f = make(FIP, "v0", 0);
	struct outcome o = release(f);
	cr_assert_eq(o.rc, 0, "%s", o.detail);
	cr_assert_str_eq(o.detail, FIP " was not on v0");
	destroy(f);
}

Test(fip, missing_interface_is_a_clear_error)
{
	netns_setup();
	struct duet_fip *f = make(FIP, "nope0", 0);
	struct outcome o = acquire(f);
	cr_assert_eq(o.rc, -ENODEV);
	cr_assert_str_eq(o.detail, "no network interface \"nope0\"");
	o = check(f);
	cr_assert_eq(o.rc, -ENODEV);
	destroy(f);
}

Test(fip, announcement_failure_does_not_fail_the_acquire)
{
	netns_setup();
	/* Loopback is no Ethernet: the address goes on, the detail says why
	 * no announcement went out. */
	struct duet_fip *f = make(FIP, "lo", 2);
	struct outcome o = acquire(f);
	cr_assert_eq(o.rc, 0, "%s", o.detail);
	cr_assert(strstr(o.detail, "gratuitous ARP failed after 0 of 2"), "%s", o.detail);
	cr_assert(shown_on("lo", FIP_IP));
	destroy(f);
}

Test(fip, ipv6_is_added_without_announcement)
{
	netns_setup();
	struct duet_fip *f = make(FIP6, "v0", 3);
	struct outcome o = acquire(f);
	cr_assert_eq(o.rc, 0, "%s", o.detail);
	cr_assert_str_eq(o.detail, FIP6 " added on v0 (IPv6: no unsolicited neighbour "
					"advertisement, not supported)");
	cr_assert(shown_on("v0", "inet6 " FIP6 " "));
	o = check(f);
	cr_assert(o.present, "%s", o.detail);
	o = release(f);
	cr_assert_eq(o.rc, 0, "%s", o.detail);
	cr_assert(!shown_on("v0", "fd00:77::100"));
	destroy(f);
}

static struct outcome queued[MAX_OPS];
static int order[MAX_OPS], n_done;

static void on_queued(void *data, int rc, const char *detail)
{
	struct outcome *o = data;
	on_fip(data, rc, detail);
	order[n_done++] = (int)(o - queued);
}

static void on_queued_check(void *data, int rc, bool present, const char *detail)
{
	struct outcome *o = data;
	on_check(data, rc, present, detail);
	order[n_done++] = (int)(o - queued);
}

Test(fip, operations_queue_in_order)
{
	netns_setup();
	struct duet_fip *f = make(FIP, "v0", 3);
	/* A demotion right after a promotion: release while acquire runs. */
	cr_assert_eq(duet_fip_acquire(f, on_queued, &queued[0]), 0);
	cr_assert_eq(duet_fip_check(f, on_queued_check, &queued[1]), 0);
	cr_assert_eq(duet_fip_release(f, on_queued, &queued[2]), 0);
	cr_assert_eq(duet_fip_check(f, on_queued_check, &queued[3]), 0);
	for (int i = 4; i < DUET_FIP_QUEUE_MAX; i++)
		cr_assert_eq(duet_fip_check(f, on_queued_check, &queued[i]), 0);
	cr_assert_eq(duet_fip_check(f, on_queued_check, &queued[MAX_OPS - 1]), DUET_EBUSY);
	loop_until(&queued[DUET_FIP_QUEUE_MAX - 1].called, SAFETY_LIMIT_MS);
	cr_assert_eq(n_done, DUET_FIP_QUEUE_MAX);
	for (int i = 0; i < DUET_FIP_QUEUE_MAX; i++) {
		cr_assert_eq(order[i], i, "operation %d finished in place %d", order[i], i);
		cr_assert_eq(queued[i].rc, 0, "%s", queued[i].detail);
	}
	cr_assert(queued[1].present);
	cr_assert(!queued[3].present);
	cr_assert(!shown_on("v0", FIP_IP));
	cr_assert(!queued[MAX_OPS - 1].called);
	destroy(f);
}

static struct duet_fip *chained_fip;
static struct outcome chained[2];

static void on_first_then_release(void *data, int rc, const char *detail)
{
	on_fip(data, rc, detail);
	cr_assert_eq(duet_fip_release(chained_fip, on_fip, &chained[1]), 0);
	cr_assert(!chained[1].called);
}

Test(fip, callback_may_queue_the_next_operation)
{
	netns_setup();
	chained_fip = make(FIP, "v0", 1);
	cr_assert_eq(duet_fip_acquire(chained_fip, on_first_then_release, &chained[0]), 0);
	loop_until(&chained[1].called, SAFETY_LIMIT_MS);
	cr_assert_eq(chained[1].rc, 0, "%s", chained[1].detail);
	cr_assert_str_eq(chained[1].detail, FIP " removed from v0");
	destroy(chained_fip);
}

Test(fip, free_with_operations_in_flight_calls_nothing)
{
	netns_setup();
	struct duet_fip *f = make(FIP, "v0", 3);
	struct outcome a = {0}, b = {0};
	cr_assert_eq(duet_fip_acquire(f, on_fip, &a), 0);
	cr_assert_eq(duet_fip_release(f, on_fip, &b), 0);
	duet_fip_free(f);
	loop_drain(SAFETY_LIMIT_MS); /* teardown checks nothing is left */
	cr_assert(!a.called && !b.called);
}

/* ---- config ------------------------------------------------------------- */

Test(fip, parse_address)
{
	char err[256];
	cr_assert_eq(duet_fip_parse_address("10.77.0.100/24", err, sizeof err), 0);
	cr_assert_eq(duet_fip_parse_address("10.77.0.100/32", err, sizeof err), 0);
	cr_assert_eq(duet_fip_parse_address("fd00::1/64", err, sizeof err), 0);
	cr_assert_eq(duet_fip_parse_address("fd00::1/128", err, sizeof err), 0);
	cr_assert_eq(duet_fip_parse_address("10.77.0.100", err, sizeof err), DUET_EINVAL);
	cr_assert(strstr(err, "no prefix length"), "%s", err);
	cr_assert_eq(duet_fip_parse_address("10.77.0.100/33", err, sizeof err), DUET_EINVAL);
	cr_assert(strstr(err, "1..32"), "%s", err);
	cr_assert_eq(duet_fip_parse_address("10.77.0.100/0", err, sizeof err), DUET_EINVAL);
	cr_assert_eq(duet_fip_parse_address("fd00::1/129", err, sizeof err), DUET_EINVAL);
	cr_assert_eq(duet_fip_parse_address("10.77.0.1000/24", err, sizeof err), DUET_EINVAL);
	cr_assert(strstr(err, "not an IPv4 or IPv6 address"), "%s", err);
	cr_assert_eq(duet_fip_parse_address("host.example/24", err, sizeof err), DUET_EINVAL);
	cr_assert_eq(duet_fip_parse_address("10.0.0.1/2x", err, sizeof err), DUET_EINVAL);
	cr_assert_eq(duet_fip_parse_address("/24", err, sizeof err), DUET_EINVAL);
	cr_assert_eq(duet_fip_parse_address("", err, sizeof err), DUET_EINVAL);
	cr_assert_eq(duet_fip_parse_address("10.0.0.1/24", NULL, 0), 0);
}

Test(fip, new_refuses_bad_configs)
{
	struct duet_fip_config cfg = {0};
	struct duet_fip *f = (struct duet_fip *)1;
	char err[256];
	snprintf(cfg.address, sizeof cfg.address, FIP);
	cr_assert_eq(duet_fip_new(t_loop, &cfg, &f, err, sizeof err), DUET_EINVAL);
	cr_assert_null(f);
	cr_assert(strstr(err, "no interface"), "%s", err);
	snprintf(cfg.add_command, sizeof cfg.add_command, "true");
	cr_assert_eq(duet_fip_new(t_loop, &cfg, &f, err, sizeof err), DUET_EINVAL);
	cr_assert(strstr(err, "add, delete and check"), "%s", err);
	snprintf(cfg.address, sizeof cfg.address, "nonsense");
	cr_assert_eq(duet_fip_new(t_loop, &cfg, &f, err, sizeof err), DUET_EINVAL);
}

/* ---- command mode -------------------------------------------------------- */

static struct duet_fip *make_commands(const char *check_override)
{
	/* The "cloud": a state file holding the address when it is attached. */
	const char *state = t_path("state");
	const char *log = t_path("calls.log");
	struct duet_fip_config cfg = {0};
	snprintf(cfg.address, sizeof cfg.address, FIP);
	snprintf(cfg.interface, sizeof cfg.interface, "eth7");
	snprintf(cfg.add_command, sizeof cfg.add_command,
		 "echo \"add $DUET_FIP_ADDRESS $DUET_FIP_INTERFACE\" >> %s; echo attached > %s",
		 log, state);
	snprintf(cfg.del_command, sizeof cfg.del_command, "echo del >> %s; rm -f %s", log, state);
	if (check_override)
		snprintf(cfg.check_command, sizeof cfg.check_command, "%s", check_override);
	else
		snprintf(cfg.check_command, sizeof cfg.check_command, "test -f %s", state);
	cfg.timeout_ms = 5000;
	struct duet_fip *f = NULL;
	char err[256] = "";
	cr_assert_eq(duet_fip_new(t_loop, &cfg, &f, err, sizeof err), 0, "%s", err);
	return f;
}

Test(fip, command_mode)
{
	struct duet_fip *f = make_commands(NULL);
	struct outcome o = check(f);
	cr_assert_eq(o.rc, 0, "%s", o.detail);
	cr_assert(!o.present, "%s", o.detail);
	cr_assert_str_eq(o.detail, FIP " absent (check command: exit 1)");

	o = acquire(f);
	cr_assert_eq(o.rc, 0, "%s", o.detail);
	cr_assert_str_eq(o.detail, FIP " added by command (exit 0)");
	cr_assert_str_eq(t_read(t_path("state")), "attached\n");

	o = check(f);
	cr_assert(o.present, "%s", o.detail);

	o = release(f);
	cr_assert_eq(o.rc, 0, "%s", o.detail);
	cr_assert_str_eq(o.detail, FIP " removed by command (exit 0)");
	o = check(f);
	cr_assert(!o.present);
	cr_assert_str_eq(t_read(t_path("calls.log")), "add " FIP " eth7\ndel\n");
	destroy(f);
}

Test(fip, command_mode_errors)
{
	struct duet_fip *f = make_commands("echo 'API says no' >&2; exit 2");
	struct outcome o = check(f);
	cr_assert_eq(o.rc, -EIO);
	cr_assert(!o.present);
	cr_assert_str_eq(o.detail, FIP ": check command failed: exit 2: API says no");
	destroy(f);

	struct duet_fip_config cfg = {0};
	snprintf(cfg.address, sizeof cfg.address, FIP);
	snprintf(cfg.add_command, sizeof cfg.add_command, "sleep 100");
	snprintf(cfg.del_command, sizeof cfg.del_command, "true");
	snprintf(cfg.check_command, sizeof cfg.check_command, "true");
	cfg.timeout_ms = 200;
	char err[256] = "";
	cr_assert_eq(duet_fip_new(t_loop, &cfg, &f, err, sizeof err), 0, "%s", err);
	o = acquire(f);
	cr_assert_eq(o.rc, -ETIMEDOUT);
	cr_assert_str_eq(o.detail, FIP ": add command failed: timed out after 200 ms");
	destroy(f);
}

Test(fip, free_cancels_a_running_command)
{
	struct duet_fip_config cfg = {0};
	snprintf(cfg.address, sizeof cfg.address, FIP);
	snprintf(cfg.add_command, sizeof cfg.add_command, "sleep 100");
	snprintf(cfg.del_command, sizeof cfg.del_command, "true");
	snprintf(cfg.check_command, sizeof cfg.check_command, "true");
	struct duet_fip *f = NULL;
	char err[256] = "";
	cr_assert_eq(duet_fip_new(t_loop, &cfg, &f, err, sizeof err), 0, "%s", err);
	struct outcome o = {0};
	cr_assert_eq(duet_fip_acquire(f, on_fip, &o), 0);
	duet_fip_free(f);
	loop_drain(SAFETY_LIMIT_MS); /* well before the 5 s default timeout */
	cr_assert(!o.called);
}

static struct duet_fip *self_freeing;

static void on_fip_then_free(void *data, int rc, const char *detail)
{
	on_fip(data, rc, detail);
	duet_fip_free(self_freeing);
}

Test(fip, callback_may_free_the_fip)
{
	self_freeing = make_commands(NULL);
	struct outcome a = {0}, b = {0};
	cr_assert_eq(duet_fip_acquire(self_freeing, on_fip_then_free, &a), 0);
	cr_assert_eq(duet_fip_release(self_freeing, on_fip, &b), 0);
	loop_drain(SAFETY_LIMIT_MS);
	cr_assert(a.called);
	cr_assert(!b.called, "an operation queued before the free must be dropped");
	cr_assert_str_eq(t_read(t_path("state")), "attached\n");
}

Test(fip, release_refuses_the_address_under_another_prefix)
{
	netns_setup();
	cr_assert_eq(system("ip addr add 10.77.0.100/16 dev v0"), 0);
	struct duet_fip *f = make(FIP, "v0", 1);
	struct outcome o = check(f);
	cr_assert(o.present, "check counts any prefix length: %s", o.detail);
	o = release(f);
	cr_assert_eq(o.rc, -EADDRINUSE);
	cr_assert_str_eq(o.detail, "cannot remove " FIP " from v0: the address is there with "
				   "prefix length 16; correct the config or remove it by hand");
	cr_assert(shown_on("v0", "10.77.0.100/16"));
	destroy(f);
}

/* ---- DESIGN.md 4.7: the master re-announces; nothing after the role ----- */

/* issue 13 defect 7: ARPs went out only on acquire, so the real master
 * never re-announced (a neighbour that believed a paused old master kept
 * its entry). One gratuitous ARP per duet_fip_announce(). */
Test(fip, master_reannounces_with_periodic_garp)
{
	netns_setup();
	int cap = open_capture("v1");
	uint8_t mac[6];
	mac_of("v0", mac);
	struct duet_fip *f = make(FIP, "v0", 1);
	struct outcome o = acquire(f);
	cr_assert_eq(o.rc, 0, "%s", o.detail);
	expect_garp(cap, mac);
	for (int i = 0; i < 2; i++) {
		o = (struct outcome){0};
		cr_assert_eq(duet_fip_announce(f, on_fip, &o), 0);
		cr_assert(!o.called, "callback must not run inside the call");
		loop_until(&o.called, SAFETY_LIMIT_MS);
		cr_assert_eq(o.rc, 0, "%s", o.detail);
		cr_assert_str_eq(o.detail, FIP ": gratuitous ARP sent on v0");
		expect_garp(cap, mac);
	}
	close(cap);
	destroy(f);
}

static int gate_allows; /* how many more times may_act says yes */

static bool gate(void *data)
{
	(void)data;
	return gate_allows-- > 0;
}

/* issue 13 defect 7: an acquire started before a pause went on adding the
 * address and sending ARPs after the node lost the role. The owner's
 * may_act() is asked before the add and before each ARP. */
Test(fip, acquire_stops_announcing_once_the_role_is_lost)
{
	netns_setup();
	int cap = open_capture("v1");
	uint8_t mac[6];
	mac_of("v0", mac);
	struct duet_fip_config cfg = {0};
	snprintf(cfg.address, sizeof cfg.address, "%s", FIP);
	snprintf(cfg.interface, sizeof cfg.interface, "v0");
	cfg.garp_count = 3;
	cfg.garp_interval_ms = 10;
	cfg.may_act = gate;
	struct duet_fip *f = NULL;
	char err[256] = "";
	cr_assert_eq(duet_fip_new(t_loop, &cfg, &f, err, sizeof err), 0, "%s", err);

	gate_allows = 0; /* not even the address */
	struct outcome o = acquire(f);
	cr_assert_eq(o.rc, DUET_ENOTLEADER, "%d: %s", o.rc, o.detail);
	cr_assert(!shown_on("v0", FIP_IP), "the address was added after the role was lost");

	gate_allows = 2; /* the add and the first ARP, then the role is gone */
	o = acquire(f);
	cr_assert_eq(o.rc, DUET_ENOTLEADER, "%d: %s", o.rc, o.detail);
	cr_assert(strstr(o.detail, "may no longer act"), "%s", o.detail);
	expect_garp(cap, mac);
	/* every ARP sent went out before the acquire ended: none may wait */
	struct arp_ipv4 p;
	cr_assert_lt(recv(cap, &p, sizeof p, MSG_DONTWAIT), 0,
		     "a second ARP went out after the role was lost");

	gate_allows = 0;
	o = (struct outcome){0};
	cr_assert_eq(duet_fip_announce(f, on_fip, &o), 0);
	loop_until(&o.called, SAFETY_LIMIT_MS);
	cr_assert_eq(o.rc, DUET_ENOTLEADER, "%d: %s", o.rc, o.detail);
	close(cap);
	destroy(f);
}
