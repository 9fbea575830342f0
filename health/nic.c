/* SPDX-License-Identifier: MIT */
/*
 * nic.c - the NIC probe: is this interface up, with carrier?
 *
 * One netlink RTM_GETLINK query by name, on the threadpool. Why netlink and
 * not /sys/class/net/IF/{operstate,carrier}:
 *  - netlink answers for the network namespace the daemon runs in; sysfs
 *    shows the namespace of whoever mounted /sys, which in containers and
 *    test rigs (a fresh CLONE_NEWNET without a remount) is another one, so a
 *    wrong or missing interface would be reported;
 *  - one message carries the admin flag (IFF_UP), the carrier
 *    (IFF_LOWER_UP) and the operstate together, read at one instant,
 *    instead of three files read one after the other;
 *  - a missing interface is a distinct answer (ENODEV), not a guess from a
 *    failed open.
 * Why the threadpool and not a non-blocking socket on the loop: the kernel
 * handles the request inside sendmsg(), and on many kernels it takes the
 * RTNL lock there, which can be held for a long time by other
 * configuration; a non-blocking socket does not make that wait go away.
 *
 * Verdict: ok when IFF_UP and IFF_LOWER_UP are set and the operstate is
 * "up" or "unknown" ("unknown" is what drivers that do not track operstate
 * report, lo among them; their carrier flag still tells). "dormant",
 * "testing", "lowerlayerdown", "down" and "notpresent" fail.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>

#include "health_internal.h"

#define NIC_RECV_BYTES     32768 /* an RTM_NEWLINK answer with every statistic fits */
#define NIC_RECV_TIMEOUT_S 5     /* bounds the worker even if the deadline has passed */

struct nic_probe {
	char ifname[IFNAMSIZ];
	uv_work_t work;
	bool busy;
	struct duet_health_probe_ctx *ctx;
	duet_health_done_fn done;
	/* Written by the worker, read in after_work. */
	const char *failed_step; /* NULL: the kernel answered */
	int err;                 /* errno of failed_step, or the kernel's error */
	unsigned flags;          /* ifi_flags */
	int operstate;           /* IF_OPER_*, -1 if absent */
	uint32_t seq;
	unsigned char answer[NIC_RECV_BYTES];
};

static const char *operstate_name(int operstate)
{
	static const char *const names[] = {
	    "unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up",
	};
	if (operstate < 0)
		return "absent";
	if ((size_t)operstate < sizeof(names) / sizeof(names[0]))
		return names[operstate];
	return "?";
}

/* Parses the answer to our request; returns 1 when it was found. */
static int nic_parse(struct nic_probe *nic, size_t size)
{
	int len = (int)size; /* libmnl walks with a signed remaining length */
	for (const struct nlmsghdr *nh = (const struct nlmsghdr *)nic->answer;
	     mnl_nlmsg_ok(nh, len); nh = mnl_nlmsg_next(nh, &len)) {
		if (nh->nlmsg_seq != nic->seq)
			continue;
		if (nh->nlmsg_type == NLMSG_ERROR) {
			if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr)))
				break;
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nh);
			nic->failed_step = "query";
			nic->err = e->error ? -e->error : EPROTO;
			return 1;
		}
		if (nh->nlmsg_type != RTM_NEWLINK ||
		    nh->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg)))
			continue;
		const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nh);
		nic->flags = ifi->ifi_flags;
		const struct nlattr *a;
		mnl_attr_for_each(a, nh, sizeof(*ifi))
		{
			if (mnl_attr_get_type(a) == IFLA_OPERSTATE &&
			    mnl_attr_get_payload_len(a) >= 1)
				nic->operstate = *(const unsigned char *)mnl_attr_get_payload(a);
		}
		return 1;
	}
	return 0;
}

/* On a worker thread. */
static void nic_work(uv_work_t *req)
{
	struct nic_probe *nic = req->data;
	nic->failed_step = NULL;
	nic->err = 0;
	nic->flags = 0;
	nic->operstate = -1;
	nic->seq++;

	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0) {
		nic->failed_step = "netlink socket";
		nic->err = errno;
		return;
	}
	struct timeval tv = {.tv_sec = NIC_RECV_TIMEOUT_S};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
		char attrs[RTA_SPACE(IFNAMSIZ)];
	} rq;
	memset(&rq, 0, sizeof(rq));
	rq.nh.nlmsg_type = RTM_GETLINK;
	rq.nh.nlmsg_flags = NLM_F_REQUEST;
	rq.nh.nlmsg_seq = nic->seq;
	rq.ifi.ifi_family = AF_UNSPEC;
	struct rtattr *rta = (struct rtattr *)rq.attrs;
	size_t name_len = strlen(nic->ifname) + 1;
	rta->rta_type = IFLA_IFNAME;
	rta->rta_len = (unsigned short)RTA_LENGTH(name_len);
	memcpy(RTA_DATA(rta), nic->ifname, name_len);
	rq.nh.nlmsg_len = NLMSG_LENGTH(sizeof(rq.ifi)) + RTA_ALIGN(rta->rta_len);

	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	if (sendto(fd, &rq, rq.nh.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
		nic->failed_step = "netlink send";
		nic->err = errno;
		close(fd);
		return;
	}
	for (;;) {
		ssize_t n = recv(fd, nic->answer, sizeof(nic->answer), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			nic->failed_step = "netlink receive";
			nic->err = errno;
			break;
		}
		if (nic_parse(nic, (size_t)n))
			break;
	}
	close(fd);
}

static void nic_after_work(uv_work_t *req, int status)
{
	struct nic_probe *nic = req->data;
	struct duet_health_probe_ctx *ctx = nic->ctx;
	duet_health_done_fn done = nic->done;
	char detail[DUET_HEALTH_DETAIL_MAX];
	const char *name = nic->ifname;
	const char *oper = operstate_name(nic->operstate);
	bool ok = false;
	char buf[128];
	if (status == UV_ECANCELED)
		snprintf(detail, sizeof(detail), "%s: probe cancelled before it ran", name);
	else if (nic->failed_step && nic->err == ENODEV)
		snprintf(detail, sizeof(detail), "interface %s not found", name);
	else if (nic->failed_step)
		snprintf(detail, sizeof(detail), "%s: %s: %s", name, nic->failed_step,
			 strerror_r(nic->err, buf, sizeof(buf)));
	else if (!(nic->flags & IFF_UP))
		snprintf(detail, sizeof(detail), "%s is administratively down (operstate %s)", name,
			 oper);
	else if (!(nic->flags & IFF_LOWER_UP))
		snprintf(detail, sizeof(detail), "%s has no carrier (operstate %s)", name, oper);
	else if (nic->operstate != IF_OPER_UP && nic->operstate != IF_OPER_UNKNOWN)
		snprintf(detail, sizeof(detail), "%s has carrier but operstate %s", name, oper);
	else {
		ok = true;
		snprintf(detail, sizeof(detail), "%s up with carrier (operstate %s)", name, oper);
	}
	nic->busy = false;
	nic->ctx = NULL;
	nic->done = NULL;
	done(ctx, ok, detail); /* last: it may start the next probe */
}

static int nic_start(void *probe_data, struct duet_health_probe_ctx *ctx, duet_health_done_fn done)
{
	struct nic_probe *nic = probe_data;
	if (nic->busy)
		return DUET_EBUSY; /* cannot happen: the framework keeps one probe in flight */
	nic->ctx = ctx;
	nic->done = done;
	nic->work.data = nic;
	int rc = uv_queue_work(duet_health_probe_loop(ctx), &nic->work, nic_work, nic_after_work);
	if (rc)
		return rc;
	nic->busy = true;
	return 0;
}

static void nic_cancel(void *probe_data, struct duet_health_probe_ctx *ctx)
{
	struct nic_probe *nic = probe_data;
	if (nic->busy)
		uv_cancel((uv_req_t *)&nic->work);
}

int duet_health_add_nic(struct duet_health_set *set, const struct duet_health_check_config *config,
			const char *ifname)
{
	if (!ifname || !ifname[0] || strlen(ifname) >= IFNAMSIZ || strchr(ifname, '/'))
		return DUET_EINVAL;
	struct nic_probe *nic = calloc(1, sizeof(*nic));
	if (!nic)
		return DUET_ENOMEM;
	strcpy(nic->ifname, ifname);
	struct duet_health_probe probe = {
	    .start = nic_start, .cancel = nic_cancel, .release = free, .probe_data = nic};
	int rc = duet_health_add(set, config, &probe);
	if (rc)
		free(nic);
	return rc;
}
