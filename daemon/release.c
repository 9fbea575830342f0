/* SPDX-License-Identifier: MIT */
/*
 * release.c - `duetd --release`: what a master holds on this machine goes
 * when duetd does (the units' ExecStopPost=).
 *
 * Once duetd is gone, nothing on this node keeps the FIP or the manager in
 * step with the cluster: after a crash, a watchdog kill or a clean stop on
 * the master, the address would stay on the interface (answering ARP next to
 * the new master's until this node is fenced) and the manager would keep
 * running. This mode releases both, as a demotion does (daemon/ctl.c
 * ctl_demote): the FIP through the same actions/ code (netlink, or the
 * [fip] del_command) and the manager with [manager] stop_command. On a
 * standby both are no-ops (an absent address is a success; stop_command must
 * succeed when the manager is not running, which is what a demotion already
 * asks of it).
 *
 * PostgreSQL is left alone: a primary without duetd cannot acknowledge a
 * write without its synchronous standby, and the new master fences this node
 * before it takes over (docs/architecture.md). Stopping it here would stop a
 * healthy standby too, on every restart of duetd.
 *
 * It refuses while a duetd runs on this data dir (it holds the store's
 * lock): releasing a running master's FIP by hand is a demotion, and that is
 * `duetctl switchover`'s job.
 */
#include <stdio.h>
#include <string.h>

#include <uv.h>

#include "duet/actions.h"
#include "duet/err.h"
#include "duet/storage.h"
#include "ctl.h"
#include "node_internal.h"

struct release {
	int pending;
	int failed;
	const char *prog;
};

/* A member runs on this data dir: it holds the store's lock (the rule
 * admin_open and storage/ already go by). No store, or one that does not
 * open, is no running member either. */
static bool member_running(const char *data_dir)
{
	struct store_options o;
	memset(&o, 0, sizeof o);
	o.path = data_dir;
	struct store *st = NULL;
	int rc = store_open(&o, &st, NULL, 0);
	if (rc == 0)
		store_close(st);
	return rc == DUET_ELOCKED;
}

static void fip_done(void *data, int rc, const char *detail)
{
	struct release *r = data;
	r->pending--;
	if (rc) {
		r->failed++;
		fprintf(stderr, "%s: FIP release FAILED: %s\n", r->prog,
			detail && detail[0] ? detail : duet_strerror(rc));
	} else {
		printf("%s: FIP released: %s\n", r->prog, detail ? detail : "");
	}
}

static void manager_done(void *data, bool ok, const char *detail)
{
	struct release *r = data;
	r->pending--;
	if (!ok) {
		r->failed++;
		fprintf(stderr, "%s: manager stop FAILED: %s\n", r->prog, detail ? detail : "");
	} else {
		printf("%s: manager stopped: %s\n", r->prog, detail ? detail : "");
	}
}

static struct duet_fip *start_fip(uv_loop_t *loop, const struct duet_config_actions *a,
				  struct release *r)
{
	struct duet_fip_config fc;
	ctl_fip_config(a, &fc);
	char err[256] = "";
	struct duet_fip *f = NULL;
	int rc = duet_fip_new(loop, &fc, &f, err, sizeof err);
	if (rc == 0)
		rc = duet_fip_release(f, fip_done, r);
	if (rc) {
		r->failed++;
		fprintf(stderr, "%s: FIP release FAILED: %s\n", r->prog,
			err[0] ? err : duet_strerror(rc));
		return f;
	}
	r->pending++;
	return f;
}

int node_release(const struct duet_config *cfg, const char *prog)
{
	if (cfg->self_kind != DUET_MEMBER_DATA) {
		fprintf(stderr, "%s: --release: [node] name = %s is not a data node\n", prog,
			cfg->node_name);
		return 1;
	}
	if (member_running(cfg->data_dir)) {
		fprintf(stderr,
			"%s: --release: duetd is running (it holds the store lock in %s); a "
			"running master is demoted with duetctl switchover, not by hand\n",
			prog, cfg->data_dir);
		return 1;
	}
	const struct duet_config_actions *a = &cfg->act;
	struct release r = {.prog = prog};
	uv_loop_t loop;
	if (uv_loop_init(&loop) != 0) {
		fprintf(stderr, "%s: --release: cannot start an event loop\n", prog);
		return 1;
	}
	struct duet_fip *f = NULL;
	if (a->fip_address[0])
		f = start_fip(&loop, a, &r);
	if (a->manager_stop_command[0]) {
		struct duet_manager_config mc;
		memset(&mc, 0, sizeof mc);
		snprintf(mc.stop_command, sizeof mc.stop_command, "%.*s",
			 (int)sizeof mc.stop_command - 1, a->manager_stop_command);
		mc.timeout_ms = a->manager_timeout_ms;
		if (duet_manager_stop(&loop, &mc, manager_done, &r) == 0) {
			r.pending++;
		} else {
			r.failed++;
			fprintf(stderr, "%s: manager stop FAILED: cannot run '%s'\n", prog,
				a->manager_stop_command);
		}
	}
	if (!a->fip_address[0] && !a->manager_stop_command[0])
		printf("%s: nothing to release (no [fip] address, no [manager] stop_command)\n",
		       prog);
	while (r.pending > 0 && uv_run(&loop, UV_RUN_ONCE))
		;
	duet_fip_free(f);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	return r.failed ? 1 : 0;
}
