/* SPDX-License-Identifier: MIT */
/*
 * fip_netlink.c - the floating IP's kernel side: add, delete and look for
 * an interface address over rtnetlink (libmnl), as `ip addr` does.
 *
 * These calls block (socket round trips), so fip.c runs them on the libuv
 * threadpool. Each opens a fresh NETLINK_ROUTE socket: an operation is rare
 * (a failover, a periodic health probe), and a private socket per call
 * means no shared state between worker threads and no stale replies from
 * an earlier request. SO_RCVTIMEO bounds every wait for the kernel, so a
 * worker thread is never held forever.
 *
 * "Already there" on add (EEXIST) and "not there" on delete
 * (EADDRNOTAVAIL) are answers, not errors: acquire and release are meant
 * to be repeatable.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>

#include "duet/err.h"
#include "fip_internal.h"

/* Large enough for any one message of an address dump: the kernel sizes
 * dump messages after the largest receive buffer it has seen. */
#define NL_BUF_BYTES 32768

struct nl {
	struct mnl_socket *sock;
	unsigned portid;
	unsigned seq;
	int ifindex;
	char buf[NL_BUF_BYTES];
};

static const char *fail_reason(int errnum)
{
	switch (errnum) {
	case EPERM:
	case EACCES:
		return "permission denied (needs root or CAP_NET_ADMIN)";
	case ETIMEDOUT:
		return "the kernel did not answer in time";
	default:
		return strerror(errnum);
	}
}

/* Allocates *out (32 KiB: too much for a small worker stack), opens the
 * socket and resolves the interface. On error *out is NULL. */
static int nl_open(struct nl **out, const char *ifname, uint32_t timeout_ms, char *err,
		   size_t errlen)
{
	*out = NULL;
	struct nl *n = malloc(sizeof *n);
	if (!n) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	n->sock = NULL;
	n->ifindex = (int)if_nametoindex(ifname);
	if (n->ifindex == 0) {
		int e = errno == ENODEV || errno == ENXIO ? ENODEV : errno;
		if (e == ENODEV)
			snprintf(err, errlen, "no network interface \"%s\"", ifname);
		else
			snprintf(err, errlen, "cannot look up interface \"%s\": %s", ifname,
				 strerror(e));
		free(n);
		return -e;
	}
	n->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!n->sock) {
		int e = errno;
		snprintf(err, errlen, "cannot open a netlink socket: %s", fail_reason(e));
		free(n);
		return -e;
	}
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
	if (setsockopt(mnl_socket_get_fd(n->sock), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
	    mnl_socket_bind(n->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = errno;
		mnl_socket_close(n->sock);
		free(n);
		snprintf(err, errlen, "cannot set up a netlink socket: %s", fail_reason(e));
		return -e;
	}
	n->portid = mnl_socket_get_portid(n->sock);
	n->seq = (unsigned)time(NULL);
	*out = n;
	return 0;
}

static void nl_close(struct nl *n)
{
	mnl_socket_close(n->sock);
	free(n);
}

/* Sends nlh and reads replies until the kernel's ack or done. cb (may be
 * NULL) sees each data message. Returns 0 or a negated errno. */
static int nl_talk(struct nl *n, struct nlmsghdr *nlh, mnl_cb_t cb, void *cb_data)
{
	if (mnl_socket_sendto(n->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t got = mnl_socket_recvfrom(n->sock, n->buf, sizeof n->buf);
		if (got < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
		int rc = mnl_cb_run(n->buf, (size_t)got, nlh->nlmsg_seq, n->portid, cb, cb_data);
		if (rc == MNL_CB_ERROR)
			return -errno; /* mnl_cb_run set it from the kernel's error */
		if (rc == MNL_CB_STOP)
			return 0;
	}
}

/* Builds RTM_NEWADDR / RTM_DELADDR for a on n's interface into n->buf. */
static struct nlmsghdr *addr_msg(struct nl *n, const struct fip_addr *a, uint16_t type,
				 uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(n->buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	nlh->nlmsg_seq = ++n->seq;
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof *ifa);
	ifa->ifa_family = (uint8_t)a->family;
	ifa->ifa_prefixlen = (uint8_t)a->prefix;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (unsigned)n->ifindex;
	size_t len = a->family == AF_INET ? 4 : 16;
	/* Local and peer address equal: a plain (not point-to-point) address,
	 * as `ip addr add` makes it. */
	mnl_attr_put(nlh, IFA_LOCAL, len, a->bytes);
	mnl_attr_put(nlh, IFA_ADDRESS, len, a->bytes);
	if (type == RTM_NEWADDR && a->family == AF_INET6)
		/* No duplicate address detection: the address must work now,
		 * and the other node has released it or been fenced. */
		mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
	return nlh;
}

int fip_nl_add(const struct fip_addr *a, const char *ifname, uint32_t timeout_ms, bool *existed,
	       char *err, size_t errlen)
{
	struct nl *n;
	*existed = false;
	int rc = nl_open(&n, ifname, timeout_ms, err, errlen);
	if (rc)
		return rc;
	rc = nl_talk(n, addr_msg(n, a, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL), NULL, NULL);
	nl_close(n);
	if (rc == -EEXIST) {
		*existed = true;
		return 0;
	}
	if (rc)
		snprintf(err, errlen, "cannot add %s on %s: %s", a->text, ifname, fail_reason(-rc));
	return rc;
}

struct check_ctx {
	const struct fip_addr *a;
	int ifindex;
	bool present;
	unsigned prefix; /* of the address found */
};

static int check_one(const struct nlmsghdr *nlh, void *data)
{
	struct check_ctx *ctx = data;
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	if (ifa->ifa_family != ctx->a->family || (int)ifa->ifa_index != ctx->ifindex)
		return MNL_CB_OK;
	size_t len = ctx->a->family == AF_INET ? 4 : 16;
	const struct nlattr *attr;
	mnl_attr_for_each(attr, nlh, sizeof *ifa)
	{
		int type = mnl_attr_get_type(attr);
		/* IPv4 keeps our address in IFA_LOCAL, IPv6 in IFA_ADDRESS. */
		if ((type == IFA_LOCAL || type == IFA_ADDRESS) &&
		    mnl_attr_get_payload_len(attr) == len &&
		    memcmp(mnl_attr_get_payload(attr), ctx->a->bytes, len) == 0) {
			ctx->present = true;
			ctx->prefix = ifa->ifa_prefixlen;
		}
	}
	return MNL_CB_OK;
}

/* Looks for a's address on n's interface; *prefix is its prefix length. */
static int find_addr(struct nl *n, const struct fip_addr *a, bool *present, unsigned *prefix)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(n->buf);
	nlh->nlmsg_type = RTM_GETADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = ++n->seq;
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof *ifa);
	ifa->ifa_family = (uint8_t)a->family;
	struct check_ctx ctx = {.a = a, .ifindex = n->ifindex};
	int rc = nl_talk(n, nlh, check_one, &ctx);
	*present = rc == 0 && ctx.present;
	*prefix = ctx.prefix;
	return rc;
}

int fip_nl_check(const struct fip_addr *a, const char *ifname, uint32_t timeout_ms, bool *present,
		 char *err, size_t errlen)
{
	struct nl *n;
	unsigned prefix;
	*present = false;
	int rc = nl_open(&n, ifname, timeout_ms, err, errlen);
	if (rc)
		return rc;
	rc = find_addr(n, a, present, &prefix);
	nl_close(n);
	if (rc)
		snprintf(err, errlen, "cannot list the addresses of %s: %s", ifname,
			 fail_reason(-rc));
	return rc;
}

int fip_nl_del(const struct fip_addr *a, const char *ifname, uint32_t timeout_ms, bool *absent,
	       char *err, size_t errlen)
{
	struct nl *n;
	bool worded = false;
	*absent = false;
	int rc = nl_open(&n, ifname, timeout_ms, err, errlen);
	if (rc)
		return rc;
	rc = nl_talk(n, addr_msg(n, a, RTM_DELADDR, 0), NULL, NULL);
	if (rc == -EADDRNOTAVAIL || rc == -ENOENT) {
		/* The kernel matches the prefix length too: make sure "absent"
		 * is not the same address under another prefix. */
		bool present;
		unsigned prefix;
		rc = find_addr(n, a, &present, &prefix);
		if (rc == 0 && present) {
			snprintf(err, errlen,
				 "cannot remove %s from %s: the address is there with prefix "
				 "length %u; correct the config or remove it by hand",
				 a->text, ifname, prefix);
			rc = -EADDRINUSE;
			worded = true;
		} else if (rc == 0) {
			*absent = true;
		}
	}
	nl_close(n);
	if (rc && !worded)
		snprintf(err, errlen, "cannot remove %s from %s: %s", a->text, ifname,
			 fail_reason(-rc));
	return rc;
}
