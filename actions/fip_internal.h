/* SPDX-License-Identifier: MIT */
/*
 * fip_internal.h - what fip.c shares with fip_netlink.c and garp.c: the
 * parsed address and the blocking kernel calls, which fip.c runs on the
 * libuv threadpool only (never on the loop thread).
 */
#ifndef DUET_FIP_INTERNAL_H
#define DUET_FIP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FIP_ERR_MAX 256 /* one error sentence, including NUL */

struct fip_addr {
	int family; /* AF_INET or AF_INET6 */
	uint8_t bytes[16];
	unsigned prefix;
	char text[64]; /* as configured, "10.77.0.100/24" */
};

/* Parses "address/prefix". Returns 0 or DUET_EINVAL with a sentence. */
int fip_addr_parse(const char *text, struct fip_addr *a, char *err, size_t errlen);

/*
 * Blocking netlink calls (fip_netlink.c). Each opens its own socket, waits
 * at most timeout_ms for the kernel's answer and returns 0 or a negated
 * errno with a sentence in err: -ENODEV (no such interface), -EPERM,
 * -ETIMEDOUT, or what the kernel said.
 */
/* Adds a; *existed tells it was already there (not an error). */
int fip_nl_add(const struct fip_addr *a, const char *ifname, uint32_t timeout_ms, bool *existed,
	       char *err, size_t errlen);
/* Deletes a; *absent tells it was not there (not an error). */
int fip_nl_del(const struct fip_addr *a, const char *ifname, uint32_t timeout_ms, bool *absent,
	       char *err, size_t errlen);
/* Looks for a's address on ifname, any prefix length. */
int fip_nl_check(const struct fip_addr *a, const char *ifname, uint32_t timeout_ms, bool *present,
		 char *err, size_t errlen);

/*
 * Sends one gratuitous ARP for the IPv4 address ip (network order) out of
 * ifname (garp.c). Blocking (a packet socket), returns 0 or a negated errno
 * with a sentence: -ENODEV, -EPERM, -EAFNOSUPPORT (not an Ethernet
 * interface), -ENETDOWN...
 */
int garp_send(const char *ifname, const uint8_t ip[4], char *err, size_t errlen);

#endif
