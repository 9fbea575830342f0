/* SPDX-License-Identifier: MIT */
/*
 * init.c - `duetctl init`: the explicit bootstrap of a NEW cluster's store
 * on one member (DESIGN.md 3, "Bootstrap and incarnations").
 *
 * A daemon never creates a store at incarnation 1 by itself: a member
 * without a store may have forgotten votes and acknowledged entries, so it
 * starts silent and asks the cluster for a new incarnation (rejoin mode).
 * A new cluster therefore needs its stores made on purpose, and that is
 * this command: the store holds term 1, no vote, incarnation 1 and the
 * bootstrap MEMBERSHIP entry of the config's members.
 *
 * It refuses, changing nothing:
 *  - when data_dir already holds a store (never created over one);
 *  - when a rejoin marker is there (a rejoin is pending: start the daemon);
 *  - when any peer already answers on one of its [member] addresses: then
 *    the cluster runs, and this member must come back under a new
 *    incarnation. Just starting its daemon does that (a member without a
 *    store rejoins by itself), as does `duetctl rejoin`.
 * The peer check is a TCP connect to every address of every other member
 * (all at once, --timeout-ms each, 1000 by default): anything accepting
 * there is taken for a running daemon. Run `duetctl init` on the members
 * before starting any daemon of the new cluster (two are enough: a third
 * member without a store rejoins once the first two lead).
 */
#include <getopt.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "commands.h"
#include "json.h"
#include "out.h"
#include "duet/addr.h"
#include "duet/config.h"
#include "duet/err.h"
#include "duet/raftlog.h"
#include "duet/storage.h"

#define INIT_TIMEOUT_MS 1000
#define INIT_MAX_PROBES (DUET_MAX_MEMBERS * DUET_MAX_ADDRS)

void cmd_init_help(void)
{
	printf("usage: duetctl init [-c FILE] [--timeout-ms N] [--json]\n"
	       "\n"
	       "Creates this member's store for a NEW cluster: term 1, incarnation 1 and the\n"
	       "first MEMBERSHIP entry of the config's [member] sections, in data_dir. A daemon\n"
	       "never does this itself: one that finds no store has forgotten its votes and\n"
	       "the entries it acknowledged, so it starts silent and asks the cluster for a\n"
	       "new incarnation (rejoin mode). Run init on the members before starting any\n"
	       "daemon of a new cluster (on all three, or at least two of them).\n"
	       "\n"
	       "Refused, with nothing changed, when data_dir already holds a store, when a\n"
	       "rejoin is pending (<data_dir>.rejoin), or when any peer already answers on one\n"
	       "of its addresses: the cluster then runs, and a member without its store comes\n"
	       "back by starting its daemon (it rejoins by itself) or with duetctl rejoin.\n"
	       "\n"
	       "  -c, --config FILE the member's config (cluster, members, data_dir; default:\n"
	       "                    $DUET_CONFIG, else /etc/duet/duet.ini)\n"
	       "  --timeout-ms N    how long to wait for each peer address (default %d)\n"
	       "  --json            print the outcome as one JSON object (an error in it as\n"
	       "                    \"error\":{\"code\":...,\"message\":...})\n"
	       "\n"
	       "Exit status: 0 created, 1 refused or failed, 2 usage error.\n",
	       INIT_TIMEOUT_MS);
}

struct probe {
	const char *name, *addr;
	int fd;
	bool answered;
};

/* Connects to every address of every other member at once; fills p[] and
 * returns how many answered within timeout_ms (a TCP connect that
 * completes: something listens there). */
static int probe_peers(const struct duet_config *cfg, struct probe *p, unsigned *np, int timeout_ms)
{
	unsigned n = 0;
	for (uint32_t i = 0; i < cfg->membership.n; i++) {
		const struct duet_member *m = &cfg->membership.members[i];
		if (m->id == cfg->self_id)
			continue;
		for (unsigned a = 0; a < m->n_addrs && n < INIT_MAX_PROBES; a++) {
			struct sockaddr_storage sa;
			p[n] = (struct probe){m->name, m->addrs[a], -1, false};
			if (duet_addr_parse(m->addrs[a], &sa) == 0) {
				p[n].fd = socket(sa.ss_family,
						 SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
				socklen_t len = sa.ss_family == AF_INET6
						    ? sizeof(struct sockaddr_in6)
						    : sizeof(struct sockaddr_in);
				int rc = p[n].fd < 0
					     ? -1
					     : connect(p[n].fd, (struct sockaddr *)&sa, len);
				if (rc == 0) {
					p[n].answered = true; /* connected at once (loopback) */
				} else if (p[n].fd >= 0 && errno != EINPROGRESS) {
					close(p[n].fd);
					p[n].fd = -1;
				}
			}
			n++;
		}
	}
	*np = n;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd pf[INIT_MAX_PROBES];
		unsigned map[INIT_MAX_PROBES], k = 0;
		for (unsigned i = 0; i < n; i++)
			if (p[i].fd >= 0 && !p[i].answered) {
				pf[k] = (struct pollfd){.fd = p[i].fd, .events = POLLOUT};
				map[k++] = i;
			}
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		long spent = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
		if (k == 0 || spent >= timeout_ms)
			break;
		int rc = poll(pf, k, (int)(timeout_ms - spent));
		if (rc < 0 && errno != EINTR)
			break;
		for (unsigned j = 0; rc > 0 && j < k; j++) {
			if (!pf[j].revents)
				continue;
			int err = 0;
			socklen_t el = sizeof err;
			struct probe *q = &p[map[j]];
			if (getsockopt(q->fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0)
				q->answered = true;
			else {
				close(q->fd);
				q->fd = -1;
			}
		}
	}
	int answered = 0;
	for (unsigned i = 0; i < n; i++) {
		answered += p[i].answered;
		if (p[i].fd >= 0)
			close(p[i].fd);
	}
	return answered;
}

static int outcome(bool json, int status, const char *path, const char *text)
{
	if (json) {
		if (status != DUETCTL_OK)
			duetctl_err("%s", text);
		json_t *o =
		    json_pack("{s:b, s:o, s:o}", "created", status == DUETCTL_OK, "store",
			      duetctl_json_string(path), "message", duetctl_json_string(text));
		if (o)
			duetctl_print_json(o);
		json_decref(o);
	} else {
		fprintf(status == DUETCTL_OK ? stdout : stderr, "duetctl init: %s\n", text);
	}
	return status;
}

int cmd_init(int argc, char **argv)
{
	const char *config = NULL;
	int timeout_ms = INIT_TIMEOUT_MS;
	unsigned timeout;
	bool json = false;
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"json", no_argument, NULL, 'j'},
	    {"timeout-ms", required_argument, NULL, 'T'},
	    {NULL, 0, NULL, 0},
	};
	int opt;
	while ((opt = getopt_long(argc, argv, DUETCTL_SHORTOPTS("c:"), opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'T':
			if (duetctl_parse_uint(optarg, 1, 60000, &timeout) != 0)
				return duetctl_usage_error("--timeout-ms needs 1..60000");
			timeout_ms = (int)timeout;
			break;
		default:
			return duetctl_bad_option(opt, argv);
		}
	}
	if (optind < argc)
		return duetctl_extra_args(argc, argv);
	config = duet_config_path(config);
	struct duet_config *cfg = calloc(1, sizeof *cfg);
	struct duet_config_errors *errs = calloc(1, sizeof *errs);
	if (!cfg || !errs || duet_config_load(config, 0, cfg, errs) != 0) {
		if (errs)
			duetctl_config_errors(errs);
		duetctl_err("%s is not a valid config; see duetctl check-config", config);
		if (cfg)
			duet_config_free(cfg);
		free(cfg);
		free(errs);
		return DUETCTL_FAILED;
	}
	free(errs);
	char text[2 * PATH_MAX], marker[PATH_MAX + 16];
	int status = DUETCTL_FAILED;
	snprintf(marker, sizeof marker, "%s.rejoin", cfg->data_dir);
	struct store_options o = {0};
	o.path = cfg->data_dir;
	o.cluster_id = cfg->cluster_id;
	o.node_id = cfg->self_id;
	o.audit_max_bytes = cfg->audit_max_bytes;
	o.max_map_size = (uint64_t)cfg->map_max_mib << 20; /* the map the daemon will use */
	struct probe probes[INIT_MAX_PROBES];
	unsigned np = 0;
	struct store *s = NULL;
	struct store_options ro = o;
	ro.readonly = true;
	int rc = store_open(&ro, &s, NULL, 0);
	if (rc != DUET_ENOENT) {
		if (s)
			store_close(s);
		snprintf(text, sizeof text,
			 "%s already holds a store%s: nothing changed (a store is never created "
			 "again; a member whose store is damaged comes back with duetctl rejoin)",
			 cfg->data_dir, rc == 0 ? "" : " that does not open");
	} else if (access(marker, F_OK) == 0) {
		snprintf(text, sizeof text,
			 "a rejoin is pending (%s): nothing changed; start the daemon, it asks the "
			 "cluster for a new incarnation",
			 marker);
	} else if (probe_peers(cfg, probes, &np, timeout_ms) > 0) {
		int len = snprintf(text, sizeof text, "the cluster already runs:");
		for (unsigned i = 0; i < np && len < (int)sizeof text; i++)
			if (probes[i].answered)
				len +=
				    snprintf(text + len, sizeof text - (size_t)len,
					     " %s answers on %s;", probes[i].name, probes[i].addr);
		if (len < (int)sizeof text)
			snprintf(
			    text + len, sizeof text - (size_t)len,
			    " nothing changed. This member is not initialised again: start its "
			    "daemon without a store and it rejoins by itself under a new "
			    "incarnation (or run duetctl rejoin)");
	} else {
		uint8_t buf[4096];
		struct raft_entry e;
		char err[512] = "";
		rc = raft_bootstrap_entry(&cfg->membership, &e, buf, sizeof buf);
		if (rc == 0)
			rc = store_create_new(&o, &e, &s, err, sizeof err);
		if (rc == 0) {
			store_close(s);
			snprintf(text, sizeof text,
				 "created the store %s for member %s of cluster %s (term 1, "
				 "incarnation 1, MEMBERSHIP of %u members at entry 1); no peer "
				 "answered on its %u addresses. Start the daemon",
				 cfg->data_dir, cfg->node_name, cfg->cluster_name,
				 (unsigned)cfg->membership.n, np);
			status = DUETCTL_OK;
		} else {
			snprintf(text, sizeof text, "cannot create the store %s: %s", cfg->data_dir,
				 err[0] ? err : duet_strerror(rc));
		}
	}
	status = outcome(json, status, cfg->data_dir, text);
	duet_config_free(cfg);
	free(cfg);
	return status;
}
