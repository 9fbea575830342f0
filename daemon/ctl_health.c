/* SPDX-License-Identifier: MIT */
/*
 * ctl_health.c - the data node's health checks (DESIGN.md 7) on health/'s
 * framework, and their transitions as HEALTH entries.
 *
 *   pg         the local PostgreSQL answers a query (actions/pg)
 *   fs, fs-2.. write + fdatasync probe in each [health] fs_paths directory
 *   nic        link state of [health] nic (default: the FIP's interface)
 *   fip        the FIP is on this node: probed on the acting master only
 *   manager    [manager] check_command exits 0: acting master only
 *   isolation  one of [health] isolation_targets accepts a TCP connection
 *
 * A check is critical when [health] critical names it ("fs" covers every fs
 * check). Transitions become HEALTH entries: proposed by the leader, sent
 * to the leader by a follower (ctl_propose.c). The hand-over of a master
 * whose critical check fails is ctl.c's (maybe_step_down), on the committed
 * entry, so the new leader knows not to hand leadership back.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "duet/actions.h"
#include "duet/health.h"
#include "node_internal.h"
#include "status.h"

/* Is check `name` listed in [health] critical? "fs-2" counts as "fs". */
static bool is_critical(const struct node *n, const char *name)
{
	size_t len = strcspn(name, "-");
	const char *p = n->cfg.act.health_critical;
	while (*p) {
		while (*p == ' ' || *p == ',')
			p++;
		size_t k = strcspn(p, ", ");
		if (k && k == len && strncmp(p, name, len) == 0)
			return true;
		p += k;
	}
	return false;
}

static void on_transition(void *data, const char *check, int old_state, int new_state,
			  bool critical, const char *detail)
{
	struct node *n = data;
	duet_log(new_state == DUET_HEALTH_FAILING ? DUET_LOG_WARN : DUET_LOG_INFO,
		 "check %s%s: %s -> %s: %s", check, critical ? " (critical)" : "",
		 duet_health_state_name(old_state), duet_health_state_name(new_state),
		 detail ? detail : "");
	if (n->stopping)
		return;
	struct duet_health h;
	memset(&h, 0, sizeof h);
	h.node = n->cfg.self_id;
	snprintf(h.check, sizeof h.check, "%s", check);
	h.state = (uint8_t)new_state;
	h.critical = critical;
	size_t dl = detail ? strnlen(detail, sizeof h.detail - 1) : 0;
	if (dl)
		memcpy(h.detail, detail, dl);
	uint8_t buf[1024];
	long len = duet_health_encode(&h, buf, sizeof buf);
	if (len > 0) {
		struct raft_status st;
		raft_status(n->raft, node_now_ms(), &st);
		uint64_t index = 0;
		if (st.role != RAFT_LEADER)
			ctl_propose_or_forward(n, RAFT_ENTRY_HEALTH, buf, (uint32_t)len);
		else if (ctl_propose(n, RAFT_ENTRY_HEALTH, buf, (uint32_t)len, &index) == 0 &&
			 critical && new_state == DUET_HEALTH_FAILING) {
			n->ctl.health_fail_term = st.term;
			n->ctl.health_fail_index = index;
		}
	}
	ctl_step(n);
}

/* One probe in flight: the framework's context and its done function. */
struct call {
	struct duet_health_probe_ctx *ctx;
	duet_health_done_fn done;
};

static struct call *call_new(struct duet_health_probe_ctx *ctx, duet_health_done_fn done)
{
	struct call *c = malloc(sizeof *c);
	if (c) {
		c->ctx = ctx;
		c->done = done;
	}
	return c;
}

static void call_done(struct call *c, bool ok, const char *detail)
{
	c->done(c->ctx, ok, detail);
	free(c);
}

/* Starts an action for a probe; frees the call if it could not start. */
static int call_started(struct call *c, int rc)
{
	if (rc)
		free(c);
	return rc;
}

/* ---- pg ------------------------------------------------------------------ */

static void pg_probe_answer(void *data, int rc, const struct duet_pg_state *st, const char *err)
{
	struct call *c = data;
	char d[300];
	if (rc == 0 && st) {
		snprintf(d, sizeof d, "answers as %s at %.40s",
			 st->in_recovery ? "standby" : "primary", st->lsn);
		call_done(c, true, d);
	} else {
		snprintf(d, sizeof d, "%.250s", err && err[0] ? err : duet_strerror(rc));
		call_done(c, false, d);
	}
}

static int pg_probe_start(void *probe_data, struct duet_health_probe_ctx *ctx,
			  duet_health_done_fn done)
{
	struct node *n = probe_data;
	struct call *c = call_new(ctx, done);
	if (!n->ctl.pg || !c) {
		free(c);
		return DUET_EINVAL;
	}
	return call_started(c, duet_pg_probe(n->ctl.pg, pg_probe_answer, c));
}

/* ---- manager ------------------------------------------------------------- */

static void manager_answer(void *data, const struct duet_cmd_result *r)
{
	struct call *c = data;
	char d[400];
	duet_cmd_describe(r, d, sizeof d);
	call_done(c, r->exit_status == 0, d);
}

static int manager_probe_start(void *probe_data, struct duet_health_probe_ctx *ctx,
			       duet_health_done_fn done)
{
	struct node *n = probe_data;
	struct call *c = call_new(ctx, done);
	if (!c)
		return DUET_ENOMEM;
	return call_started(c, duet_cmd_run(n->loop, n->cfg.act.manager_check_command, NULL,
					    duet_health_probe_timeout_ms(ctx), manager_answer, c,
					    NULL));
}

/* ---- fip ----------------------------------------------------------------- */

static void fip_answer(void *data, int rc, bool present, const char *detail)
{
	struct call *c = data;
	char d[300];
	if (rc)
		snprintf(d, sizeof d, "check failed: %.250s", detail ? detail : duet_strerror(rc));
	else
		snprintf(d, sizeof d, "%s", present ? "present" : "absent on the master");
	call_done(c, rc == 0 && present, d);
}

static int fip_probe_start(void *probe_data, struct duet_health_probe_ctx *ctx,
			   duet_health_done_fn done)
{
	struct node *n = probe_data;
	struct call *c = call_new(ctx, done);
	if (!n->ctl.fip || !c) {
		free(c);
		return DUET_EINVAL;
	}
	return call_started(c, duet_fip_check(n->ctl.fip, fip_answer, c));
}

/* ---- the set ------------------------------------------------------------- */

static struct duet_health_check_config check_config(const struct node *n, const char *name,
						    bool paused)
{
	struct duet_health_check_config c;
	memset(&c, 0, sizeof c);
	c.name = name;
	c.critical = is_critical(n, name);
	c.start_paused = paused;
	c.interval_ms = n->cfg.act.health_interval_ms;
	c.timeout_ms = n->cfg.act.health_timeout_ms;
	c.fail_after = n->cfg.act.health_fail_after;
	c.ok_after = n->cfg.act.health_ok_after;
	return c;
}

int ctl_health_open(struct node *n)
{
	const struct duet_config_actions *a = &n->cfg.act;
	int rc = duet_health_set_new(n->loop, on_transition, n, &n->ctl.health);
	if (rc)
		return rc;
	struct duet_health_set *set = n->ctl.health;
	struct duet_health_check_config c;
	if (n->ctl.pg) {
		c = check_config(n, "pg", false);
		struct duet_health_probe p = {pg_probe_start, NULL, NULL, n};
		if ((rc = duet_health_add(set, &c, &p)))
			goto fail;
	}
	unsigned k = 0;
	for (const char *p = a->health_fs_paths; *p;) {
		while (*p == ' ' || *p == ',')
			p++;
		size_t len = strcspn(p, ",");
		while (len && p[len - 1] == ' ')
			len--;
		if (len) {
			char dir[DUET_CONFIG_STR_MAX], name[16];
			snprintf(dir, sizeof dir, "%.*s", (int)len, p);
			if (k++ == 0)
				snprintf(name, sizeof name, "fs");
			else
				snprintf(name, sizeof name, "fs-%u", k);
			c = check_config(n, name, false);
			if ((rc = duet_health_add_fs(set, &c, dir))) {
				duet_log(DUET_LOG_ERROR, "[health] fs_paths: %s: %s", dir,
					 duet_strerror(rc));
				goto fail;
			}
		}
		p += strcspn(p, ",");
	}
	if (a->health_nic[0]) {
		c = check_config(n, "nic", false);
		if ((rc = duet_health_add_nic(set, &c, a->health_nic)))
			goto fail;
	}
	if (n->ctl.fip) {
		c = check_config(n, "fip", true);
		struct duet_health_probe p = {fip_probe_start, NULL, NULL, n};
		if ((rc = duet_health_add(set, &c, &p)))
			goto fail;
	}
	if (a->manager_check_command[0]) {
		c = check_config(n, "manager", true);
		struct duet_health_probe p = {manager_probe_start, NULL, NULL, n};
		if ((rc = duet_health_add(set, &c, &p)))
			goto fail;
	}
	if (a->health_isolation.n) {
		const char *targets[DUET_MAX_ADDRS];
		for (unsigned i = 0; i < a->health_isolation.n; i++)
			targets[i] = a->health_isolation.v[i];
		c = check_config(n, "isolation", false);
		if ((rc = duet_health_add_isolation(set, &c, targets, a->health_isolation.n))) {
			duet_log(DUET_LOG_ERROR,
				 "[health] isolation_targets must be numeric address:port: %s",
				 duet_strerror(rc));
			goto fail;
		}
	}
	if ((rc = duet_health_start(set)))
		goto fail;
	return 0;
fail:
	duet_log(DUET_LOG_ERROR, "health checks: %s", duet_strerror(rc));
	duet_health_set_close(set, NULL, NULL);
	n->ctl.health = NULL;
	return rc;
}

/* The FIP and manager checks apply to the acting master only. */
void ctl_health_step(struct node *n)
{
	if (!n->ctl.health)
		return;
	bool master = n->ctl.act == CTL_MASTER;
	/* DESIGN.md 4.9: PostgreSQL stopped by this node's own demotion is not
	 * a health failure (it would keep the master named by the log from
	 * being handed leadership back); the check resumes once a probe finds
	 * PostgreSQL running again (ctl.c) */
	if (n->ctl.pg)
		(void)duet_health_set_pause(n->ctl.health, "pg", n->ctl.pg_stopped_by_us);
	if (n->ctl.fip)
		(void)duet_health_set_pause(n->ctl.health, "fip", !master);
	if (n->cfg.act.manager_check_command[0])
		(void)duet_health_set_pause(n->ctl.health, "manager", !master);
}

bool ctl_health_critical_failing(struct node *n, const char **which)
{
	if (!n->ctl.health)
		return false;
	unsigned count = duet_health_count(n->ctl.health);
	static struct duet_health_status st;
	for (unsigned i = 0; i < count; i++) {
		if (duet_health_status_at(n->ctl.health, i, &st) == 0 && st.critical &&
		    st.state == DUET_HEALTH_FAILING) {
			if (which)
				*which = st.name;
			return true;
		}
	}
	return false;
}

void ctl_health_status_fill(struct node *n, struct duet_status_ctl *s)
{
	if (!n->ctl.health)
		return;
	s->have_checks = true;
	unsigned count = duet_health_count(n->ctl.health);
	for (unsigned i = 0; i < count && s->n_checks < DUET_HEALTH_MAX_CHECKS; i++)
		if (duet_health_status_at(n->ctl.health, i, &s->checks[s->n_checks]) == 0)
			s->n_checks++;
}

void ctl_health_close(struct node *n)
{
	if (n->ctl.health) {
		duet_health_set_close(n->ctl.health, NULL, NULL);
		n->ctl.health = NULL;
	}
}
