/* SPDX-License-Identifier: MIT */
/*
 * garp.c - one gratuitous ARP for the floating IP (IPv4 only).
 *
 * After the FIP moves, switches and neighbours still map it to the old
 * node's MAC until their caches expire; an ARP announcement (RFC 5227 2.3:
 * an ARP request whose sender and target protocol addresses are both the
 * FIP, sender hardware address ours, target hardware address zero, sent to
 * the Ethernet broadcast address) makes them learn the new one at once.
 *
 * A SOCK_DGRAM packet socket lets the kernel write the Ethernet header
 * from sockaddr_ll (destination ff:ff:ff:ff:ff:ff, type ETH_P_ARP, source
 * the interface's MAC); we write only the 28-byte ARP payload. Blocking
 * (a socket and two ioctls): fip.c runs it on the threadpool.
 *
 * IPv6 would need an unsolicited neighbour advertisement (RFC 4861 7.2.6)
 * over ICMPv6; that is not implemented, and fip.c says so in its detail.
 */
#include <errno.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <netpacket/packet.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fip_internal.h"

#define ETH_ALEN_BYTES 6

struct arp_ipv4 {
	struct arphdr h; /* 8 bytes, all 16/8-bit fields: no padding */
	uint8_t sender_mac[ETH_ALEN_BYTES];
	uint8_t sender_ip[4];
	uint8_t target_mac[ETH_ALEN_BYTES];
	uint8_t target_ip[4];
} __attribute__((packed));

_Static_assert(sizeof(struct arp_ipv4) == 28, "ARP for IPv4 over Ethernet is 28 bytes");

static int fail(int e, char *err, size_t errlen, const char *what, const char *ifname)
{
	const char *why = e == EPERM || e == EACCES
			      ? "permission denied (needs root or CAP_NET_RAW)"
			      : strerror(e);
	snprintf(err, errlen, "gratuitous ARP on %s: %s: %s", ifname, what, why);
	return -e;
}

int garp_send(const char *ifname, const uint8_t ip[4], char *err, size_t errlen)
{
	int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ARP));
	if (fd < 0)
		return fail(errno, err, errlen, "cannot open a packet socket", ifname);

	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	if (strlen(ifname) >= sizeof ifr.ifr_name) {
		close(fd);
		return fail(ENODEV, err, errlen, "interface name too long", ifname);
	}
	memcpy(ifr.ifr_name, ifname, strlen(ifname));
	if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0) {
		int e = errno;
		close(fd);
		return fail(e == ENXIO ? ENODEV : e, err, errlen, "no such interface", ifname);
	}
	int ifindex = ifr.ifr_ifindex;
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
		int e = errno;
		close(fd);
		return fail(e, err, errlen, "cannot read the MAC address", ifname);
	}
	if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER) {
		close(fd);
		snprintf(err, errlen, "gratuitous ARP on %s: not an Ethernet interface (type %d)",
			 ifname, ifr.ifr_hwaddr.sa_family);
		return -EAFNOSUPPORT;
	}

	struct arp_ipv4 p;
	memset(&p, 0, sizeof p);
	p.h.ar_hrd = htons(ARPHRD_ETHER);
	p.h.ar_pro = htons(ETH_P_IP);
	p.h.ar_hln = ETH_ALEN_BYTES;
	p.h.ar_pln = 4;
	p.h.ar_op = htons(ARPOP_REQUEST);
	memcpy(p.sender_mac, ifr.ifr_hwaddr.sa_data, ETH_ALEN_BYTES);
	memcpy(p.sender_ip, ip, 4);
	memcpy(p.target_ip, ip, 4); /* target_mac stays zero (RFC 5227) */

	struct sockaddr_ll to;
	memset(&to, 0, sizeof to);
	to.sll_family = AF_PACKET;
	to.sll_protocol = htons(ETH_P_ARP);
	to.sll_ifindex = ifindex;
	to.sll_halen = ETH_ALEN_BYTES;
	memset(to.sll_addr, 0xff, ETH_ALEN_BYTES);

	ssize_t sent = sendto(fd, &p, sizeof p, 0, (struct sockaddr *)&to, sizeof to);
	int e = errno;
	close(fd);
	if (sent < 0)
		return fail(e, err, errlen, "send failed", ifname);
	if ((size_t)sent != sizeof p)
		return fail(EIO, err, errlen, "short send", ifname);
	return 0;
}
