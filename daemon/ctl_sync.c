/* SPDX-License-Identifier: MIT */
/*
 * ctl_sync.c - synchronous replication on the acting master, in the order
 * DESIGN.md 4.2 and 4.3 require:
 *
 *  - the standby stops streaming for [pg] sync_timeout_ms while it is SYNC:
 *    commit SYNC(X, off) first (master + witness are a majority), and only
 *    when that entry is applied clear synchronous_standby_names, so commits
 *    resume. Until then PostgreSQL holds every commit: nothing is
 *    acknowledged that the standby does not have while the log still says
 *    the standby may be promoted.
 *  - the standby streams again: set synchronous_standby_names to it (ALTER
 *    SYSTEM, persisted: a master restarting alone comes back synchronous);
 *    commit SYNC(X, on) on the proof of DESIGN 4.6 (duet_pg_sync_judge in
 *    actions/pg_sync.c): X "sync" in one probe, then X's flush position
 *    past the master LSN read by a probe that started after that one, and
 *    synchronous_commit waiting at server, database and role level.
 *  - synchronous_commit stops waiting (local/off at any level) while X is
 *    SYNC: commit SYNC(X, off), logged as an error and shown in status
 *    (pg.sync_why). X is then not provably complete, so not promotable;
 *    SYNC(X, on) comes back through the proof once the setting waits again.
 *
 * It works from the last probe (ctl.c probes every probe_interval_ms) and
 * proposes at most one SYNC entry at a time, waiting until it is applied.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "node_internal.h"

/* synchronous_standby_names as PostgreSQL shows it ("\"node-b\"" or node-b)
 * names exactly `name`. */
static bool names_are(const char *names, const char *name)
{
	size_t len = strlen(names);
	if (len >= 2 && names[0] == '"' && names[len - 1] == '"')
		return len - 2 == strlen(name) && strncmp(names + 1, name, len - 2) == 0;
	return strcmp(names, name) == 0;
}

static void names_done(void *data, int rc, const char *err)
{
	struct node *n = data;
	n->ctl.names_busy = false;
	if (rc == -ECANCELED)
		return;
	ctl_probe_now(n); /* see the effect at once */
	if (rc)
		duet_log(DUET_LOG_WARN, "setting synchronous_standby_names failed: %s",
			 err ? err : duet_strerror(rc));
	node_drive_later(n);
}

static void set_names(struct node *n, const char *name)
{
	duet_log(DUET_LOG_INFO, "synchronous_standby_names := '%s'%s", name,
		 name[0] ? " (commits wait for it)" : " (SYNC off is committed)");
	if (duet_pg_set_sync_names(n->ctl.pg, name, names_done, n) == 0)
		n->ctl.names_busy = true;
}

static void propose_sync(struct node *n, uint32_t node, const char *name, bool on, const char *fmt,
			 const char *a, uint64_t b)
{
	struct duet_sync s;
	memset(&s, 0, sizeof s);
	s.node = node;
	s.on = on;
	snprintf(s.detail, sizeof s.detail, fmt, a, b);
	uint8_t buf[1024];
	long len = duet_sync_encode(&s, buf, sizeof buf);
	if (len < 0)
		return;
	uint64_t index = 0;
	struct raft_status st;
	raft_status(n->raft, node_now_ms(), &st);
	if (ctl_propose(n, RAFT_ENTRY_SYNC, buf, (uint32_t)len, &index) == 0) {
		n->ctl.sync_proposed_index = index;
		n->ctl.sync_proposed_term = st.term;
		duet_log(DUET_LOG_INFO, "proposed SYNC(%s, %s) at %" PRIu64 ": %s", name,
			 on ? "on" : "off", index, s.detail);
	}
}

/* The sentence status shows under pg.sync_why; logged when it changes. */
static void sync_why(struct ctl *c, int level, const char *why)
{
	if (strcmp(c->sync_why, why) == 0)
		return;
	snprintf(c->sync_why, sizeof c->sync_why, "%s", why);
	if (why[0])
		duet_log(level, "sync: %s", why);
}

void ctl_sync_step(struct node *n)
{
	struct ctl *c = &n->ctl;
	uint32_t other = ctl_other_data(n);
	if (!other || !c->pg || !c->pg_known || c->pg_last.in_recovery || c->names_busy)
		return;
	const struct duet_member *om = duet_membership_find(&n->cfg.membership, other);
	const struct fsm_node *fn = fsm_node_find(&n->fsm, other);
	if (!om || !fn)
		return;
	uint64_t now = node_now_ms();
	struct raft_status st;
	raft_status(n->raft, now, &st);
	if (c->sync_proposed_index && c->sync_proposed_term == st.term &&
	    n->fsm.applied_index < c->sync_proposed_index)
		return; /* the last SYNC is not applied yet */

	const struct duet_pg_repl *r = NULL;
	for (uint32_t i = 0; i < c->pg_last.n_repl; i++)
		if (strcmp(c->pg_last.repl[i].application_name, om->name) == 0)
			r = &c->pg_last.repl[i];
	bool streaming = r && strcmp(r->state, "streaming") == 0;
	if (streaming)
		c->standby_missing_since = 0;
	else if (!c->standby_missing_since)
		c->standby_missing_since = now;
	bool gone = !streaming && now - c->standby_missing_since >= n->cfg.act.pg_sync_timeout_ms;
	bool names_other = names_are(c->pg_last.sync_names, om->name);
	char why[256];

	if (fn->sync) {
		memset(&c->sync_proof, 0, sizeof c->sync_proof);
		if (duet_pg_sync_commit_check(&c->pg_last, om->name, why, sizeof why) != 0) {
			/* DESIGN 4.6: no longer provably synchronous. SYNC(off) keeps
			 * the standby from being promoted; commits that do wait still
			 * wait (synchronous_standby_names stays). */
			char line[320];
			snprintf(line, sizeof line, "%s is SYNC but no longer provably: %s",
				 om->name, why);
			sync_why(c, DUET_LOG_ERROR, line);
			propose_sync(n, other, om->name, false, "not provably synchronous: %s", why,
				     0);
		} else if (gone) {
			propose_sync(n, other, om->name, false,
				     "%s has not streamed for %" PRIu64 " ms", om->name,
				     now - c->standby_missing_since);
		} else if (!names_other) {
			/* the log says SYNC: PostgreSQL must wait for it (e.g. it was
			 * restarted with other settings) */
			set_names(n, om->name);
		} else {
			sync_why(c, DUET_LOG_INFO, "");
		}
		return;
	}
	if (!streaming) {
		memset(&c->sync_proof, 0, sizeof c->sync_proof);
		snprintf(why, sizeof why, "%s does not stream (pg_stat_replication: %s)", om->name,
			 r ? r->state : "no row");
		sync_why(c, DUET_LOG_DEBUG, why);
		if (names_other && gone)
			set_names(n, ""); /* SYNC(X, off) is applied: commits may go on */
		return;
	}
	if (!names_other) {
		memset(&c->sync_proof, 0, sizeof c->sync_proof);
		snprintf(why, sizeof why, "synchronous_standby_names is '%.64s', not %s yet",
			 c->pg_last.sync_names, om->name);
		sync_why(c, DUET_LOG_DEBUG, why);
		set_names(n, om->name);
		return;
	}
	struct duet_pg_sync_proof before = c->sync_proof;
	enum duet_pg_sync_verdict v =
	    duet_pg_sync_judge(&c->sync_proof, &c->pg_last, om->name, why, sizeof why);
	if (v == DUET_PG_SYNC_PROVEN) {
		sync_why(c, DUET_LOG_INFO, "");
		propose_sync(n, other, om->name, true,
			     "%s streams synchronously and has flushed past %" PRIu64
			     " (read by a probe after the one that first saw it sync)",
			     om->name, c->sync_proof.target_lsn);
		return;
	}
	sync_why(c, v == DUET_PG_SYNC_REFUSED ? DUET_LOG_WARN : DUET_LOG_DEBUG, why);
	/* the proof moved on: the next probe may complete it, take it now */
	if (v == DUET_PG_SYNC_WAIT && memcmp(&before, &c->sync_proof, sizeof before) != 0)
		ctl_probe_now(n);
}
