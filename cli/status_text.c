/* SPDX-License-Identifier: MIT */
/*
 * status_text.c - the table `duetctl status` prints, from the daemon's
 * status document (daemon/admin.c node_status_json) parsed by jansson.
 *
 * What every member sends (identity, raft, lease, master, maintenance,
 * peers, transport, raft counters) must be there with its type, or the
 * table is not printed and the error names the key: a daemon that renamed
 * a key is caught, not shown as "-". The parts only some members send
 * (acting and PostgreSQL on a data node, checks, traps and their sink, a
 * rebuild or a switchover) are printed when present; within such a part
 * the keys it always carries are required again. Texts are printed as the
 * daemon sent them (UTF-8, quotes and all).
 */
#include "status_text.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define WHAT "status reply"

typedef long long num; /* json_int_t, printed with %lld */

struct ctx {
	FILE *out;
	char *err;
	size_t errlen;
};

#define UNPACK(c, obj, path, ...)                                                                  \
	duetctl_doc_unpack((obj), WHAT, (path), (c)->err, (c)->errlen, __VA_ARGS__)

/* The trap pipeline's lines (status .traps). */
static int print_traps(struct ctx *c, const json_t *tr)
{
	int proposing, delivering;
	json_int_t received, taken, pending, outbox, inflight, committed, undelivered, delivered;
	json_t *drops_v;
	if (UNPACK(c, tr, ".traps", "{s:b, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}",
		   "proposing", &proposing, "delivering", &delivering, "received", &received,
		   "taken", &taken, "pending", &pending, "outbox", &outbox, "inflight", &inflight,
		   "committed", &committed, "undelivered", &undelivered, "delivered_index",
		   &delivered, "drops", &drops_v))
		return -1;
	json_int_t duplicate, live_full, backlog_full, too_large;
	if (UNPACK(c, drops_v, ".traps.drops", "{s:I, s:I, s:I, s:I}", "duplicate", &duplicate,
		   "live_full", &live_full, "backlog_full", &backlog_full, "too_large", &too_large))
		return -1;
	fprintf(c->out,
		"traps       %s%s; received %lld, taken %lld; waiting: pending %lld, outbox %lld, "
		"in flight %lld\n",
		proposing ? "proposing" : "standby", delivering ? ", delivering" : "",
		(num)received, (num)taken, (num)pending, (num)outbox, (num)inflight);
	fprintf(c->out,
		"            refused: duplicate %lld, live_full %lld, backlog_full %lld, too_large "
		"%lld\n",
		(num)duplicate, (num)live_full, (num)backlog_full, (num)too_large);
	fprintf(c->out,
		"            committed %lld, undelivered %lld, delivered up to entry %lld\n",
		(num)committed, (num)undelivered, (num)delivered);
	const json_t *sk = duetctl_doc_object(tr, "sink");
	if (!sk)
		return 0;
	const char *serr = duetctl_doc_error(sk);
	if (serr && !json_object_get(sk, "type")) {
		/* the daemon could not write its sink's statistics */
		fprintf(c->out, "sink        %s\n", serr);
		return 0;
	}
	const char *type, *target, *last_error;
	int connected;
	json_int_t confirmed, errors;
	if (UNPACK(c, sk, ".traps.sink", "{s:s, s:s, s:b, s:I, s:I, s:s}", "type", &type, "target",
		   &target, "connected", &connected, "batches_confirmed", &confirmed, "errors",
		   &errors, "last_error", &last_error))
		return -1;
	fprintf(c->out, "sink        %s %s: %s, %lld batches confirmed, %lld errors%s%s\n", type,
		target, connected ? "connected" : "not connected", (num)confirmed, (num)errors,
		last_error[0] ? "; last: " : "", last_error);
	/* RELP: the window, and what at least once cost */
	bool relp = strcmp(type, "relp") == 0;
	if (relp) {
		json_int_t window, in_flight, resent;
		if (UNPACK(c, sk, ".traps.sink", "{s:I, s:I, s:I}", "window", &window, "in_flight",
			   &in_flight, "records_resent", &resent))
			return -1;
		fprintf(c->out,
			"            relp window %lld, in flight %lld, records resent %lld\n",
			(num)window, (num)in_flight, (num)resent);
	}
	/* PostgreSQL and RELP: records refused for good; a database that is not UTF8 */
	json_int_t dead = 0;
	const char *dead_table = NULL, *encoding = NULL, *advice = NULL;
	int encoding_ok = 1;
	if (UNPACK(c, sk, ".traps.sink", "{s?I, s?s, s?b, s?s, s?s}", "dead_letters", &dead,
		   "dead_table", &dead_table, "encoding_ok", &encoding_ok, "server_encoding",
		   &encoding, "encoding_advice", &advice))
		return -1;
	if (json_object_get(sk, "dead_letters") && relp)
		fprintf(
		    c->out,
		    "            dead letters %lld (too big: a notice with the id went instead)\n",
		    (num)dead);
	else if (json_object_get(sk, "dead_letters"))
		fprintf(c->out, "            dead letters %lld (kept in table %s)\n", (num)dead,
			dead_table ? dead_table : "-");
	if (!encoding_ok)
		fprintf(c->out, "            database encoding %s, not UTF8: %s\n",
			encoding ? encoding : "-", advice ? advice : "-");
	return 0;
}

/* The PostgreSQL rebuild (rejoin, switchover) and a switchover run by this
 * node, when there is something to say. */
static int print_rebuild_switchover(struct ctx *c, const json_t *doc)
{
	const json_t *rb = duetctl_doc_object(doc, "pg_rebuild");
	if (rb) {
		const char *state, *method, *reason, *step, *error;
		json_int_t elapsed;
		if (UNPACK(c, rb, ".pg_rebuild", "{s:s, s:s, s:s, s:s, s:s, s:I}", "state", &state,
			   "method", &method, "reason", &reason, "step", &step, "error", &error,
			   "elapsed_ms", &elapsed))
			return -1;
		if (strcmp(state, "idle") != 0) {
			fprintf(c->out, "rebuild     %s (%s, %s), %lld ms%s%s\n", state, method,
				reason, (num)elapsed, step[0] ? ": " : "", step);
			if (error[0])
				fprintf(c->out, "            last failure: %s\n", error);
		}
	}
	const json_t *so = duetctl_doc_object(doc, "switchover");
	if (so) {
		const char *state, *to, *detail;
		json_int_t elapsed;
		if (UNPACK(c, so, ".switchover", "{s:s, s:s, s:I, s:s}", "state", &state, "to", &to,
			   "elapsed_ms", &elapsed, "detail", &detail))
			return -1;
		if (strcmp(state, "none") != 0)
			fprintf(c->out, "switchover  %s to %s (%lld ms): %s\n", state, to,
				(num)elapsed, detail);
	}
	return 0;
}

/* PostgreSQL as this data node's controller sees it (.pg). */
static int print_pg(struct ctx *c, const json_t *pg)
{
	int managed, answers;
	const char *sync_why;
	if (UNPACK(c, pg, ".pg", "{s:b, s:b, s:s}", "managed", &managed, "answers", &answers,
		   "sync_why", &sync_why))
		return -1;
	if (answers) {
		const char *role, *lsn, *names;
		if (UNPACK(c, pg, ".pg", "{s:s, s:s, s:s}", "role", &role, "lsn", &lsn,
			   "synchronous_standby_names", &names))
			return -1;
		fprintf(c->out, "postgresql  %s, lsn %s, synchronous_standby_names '%s'\n", role,
			lsn, names);
	} else if (!managed) {
		fprintf(c->out, "postgresql  not managed ([pg] conninfo is empty)\n");
	} else {
		const char *error;
		if (UNPACK(c, pg, ".pg", "{s:s}", "error", &error))
			return -1;
		fprintf(c->out, "postgresql  does not answer: %s\n", error);
	}
	size_t i;
	json_t *r;
	json_array_foreach(duetctl_doc_array(pg, "replication"), i, r)
	{
		char path[48];
		snprintf(path, sizeof path, ".pg.replication[%zu]", i);
		const char *name, *state, *sync_state;
		json_int_t lag;
		if (UNPACK(c, r, path, "{s:s, s:s, s:s, s:I}", "name", &name, "state", &state,
			   "sync_state", &sync_state, "flush_lag_bytes", &lag))
			return -1;
		fprintf(c->out, "            streams to %s: %s, %s, flush lag %lld bytes\n", name,
			state, sync_state, (num)lag);
	}
	/* why the standby is not (or no longer) SYNC, DESIGN 4.6 */
	if (sync_why[0])
		fprintf(c->out, "            sync: %s\n", sync_why);
	return 0;
}

/* A data node's controller: acting, PostgreSQL, members, checks, the last
 * takeover, a rebuild or switchover. */
static int print_acting(struct ctx *c, const json_t *doc)
{
	const char *acting, *step, *why_not;
	json_t *pg, *members, *lt;
	const char *fence;
	if (UNPACK(c, doc, "", "{s:s, s:s, s:s, s:o, s:o, s:o, s:s}", "acting", &acting,
		   "activation_step", &step, "why_not_master", &why_not, "pg", &pg, "members",
		   &members, "last_takeover", &lt, "last_takeover_fence", &fence))
		return -1;
	fprintf(c->out, "acting      %s%s%s\n", acting, step[0] ? ", step " : "", step);
	if (why_not[0])
		fprintf(c->out, "            %s\n", why_not);
	if (print_pg(c, pg))
		return -1;
	if (!json_is_array(members)) {
		snprintf(c->err, c->errlen, WHAT ": key .members is not an array");
		return -1;
	}
	fprintf(c->out, "members    ");
	size_t i;
	json_t *m;
	json_array_foreach(members, i, m)
	{
		char path[32];
		snprintf(path, sizeof path, ".members[%zu]", i);
		const char *name, *role;
		int sync;
		if (UNPACK(c, m, path, "{s:s, s:s, s:b}", "name", &name, "role", &role, "sync",
			   &sync))
			return -1;
		fprintf(c->out, " %s %s%s", name, role, sync ? " (SYNC)" : "");
	}
	fprintf(c->out, "\n");
	const json_t *checks = duetctl_doc_array(doc, "checks");
	if (checks) {
		fprintf(c->out, "checks     ");
		json_t *ck;
		json_array_foreach(checks, i, ck)
		{
			char path[32];
			snprintf(path, sizeof path, ".checks[%zu]", i);
			const char *name, *state;
			if (UNPACK(c, ck, path, "{s:s, s:s}", "name", &name, "state", &state))
				return -1;
			fprintf(c->out, " %s=%s", name, state);
		}
		fprintf(c->out, "\n");
	}
	json_int_t term, promoted, fip, ready;
	if (UNPACK(c, lt, ".last_takeover", "{s:I, s:I, s:I, s:I}", "term", &term,
		   "promoted_after_ms", &promoted, "fip_after_ms", &fip, "ready_after_ms", &ready))
		return -1;
	if (term != 0) {
		fprintf(c->out,
			"takeover    term %lld: promoted %lld ms, FIP %lld ms, ready %lld ms after "
			"leading\n",
			(num)term, (num)promoted, (num)fip, (num)ready);
		fprintf(c->out, "            fence: %s\n", fence);
	}
	return print_rebuild_switchover(c, doc);
}

static int print_peers(struct ctx *c, const json_t *peers)
{
	fprintf(c->out, "peers       %-12s %6s %8s %10s\n", "name", "links", "match", "ack_ago_ms");
	size_t i;
	json_t *p;
	json_array_foreach(peers, i, p)
	{
		char path[32], mb[32], ab[32];
		snprintf(path, sizeof path, ".peers[%zu]", i);
		const char *name;
		json_int_t links;
		json_t *match = NULL, *ack = NULL;
		/* match and last ack: the leader's view only */
		if (UNPACK(c, p, path, "{s:s, s:I, s?o, s?o}", "name", &name, "links_up", &links,
			   "match_index", &match, "last_ack_ms_ago", &ack))
			return -1;
		if (match && !json_is_integer(match)) {
			snprintf(c->err, c->errlen, WHAT ": key %s.match_index is not an integer",
				 path);
			return -1;
		}
		const char *m = match ? duetctl_doc_text(match, mb, sizeof mb) : "-";
		const char *a = match ? duetctl_doc_text(ack, ab, sizeof ab) : "-";
		fprintf(c->out, "            %-12s %6lld %8s %10s\n", name, (num)links, m, a);
	}
	return 0;
}

int duetctl_status_print(FILE *out, const json_t *doc, char *err, size_t errlen)
{
	struct ctx ctx = {out, err, errlen}, *c = &ctx;
	const char *name, *kind, *cluster, *role;
	json_int_t id, pid, term, commit, applied, last, snapshot;
	json_t *leader, *lease, *master, *mnt, *election, *peers, *transport, *raft;
	if (UNPACK(c, doc, "",
		   "{s:s, s:I, s:s, s:s, s:I, s:s, s:I, s:o, s:I, s:I, s:I, s:I, s:o, s:o, s:o, "
		   "s:o, s:o, s:o, s:o}",
		   "name", &name, "id", &id, "kind", &kind, "cluster", &cluster, "pid", &pid,
		   "role", &role, "term", &term, "leader", &leader, "commit_index", &commit,
		   "applied_index", &applied, "last_index", &last, "snapshot_index", &snapshot,
		   "lease", &lease, "master", &master, "maintenance", &mnt, "last_election",
		   &election, "peers", &peers, "transport", &transport, "raft", &raft))
		return -1;
	int lease_valid;
	json_t *holder;
	json_int_t expiry;
	if (UNPACK(c, lease, ".lease", "{s:b, s:o, s:I}", "valid", &lease_valid, "holder", &holder,
		   "expiry_in_ms", &expiry))
		return -1;
	json_t *master_node;
	const char *master_reason;
	json_int_t master_since;
	if (UNPACK(c, master, ".master", "{s:o, s:s, s:I}", "node", &master_node, "reason",
		   &master_reason, "since_index", &master_since))
		return -1;
	int mnt_on;
	json_int_t mnt_since;
	json_t *who, *why;
	if (UNPACK(c, mnt, ".maintenance", "{s:b, s:I, s:o, s:o}", "on", &mnt_on, "since_index",
		   &mnt_since, "who", &who, "why", &why))
		return -1;
	const char *election_reason;
	json_t *election_ago;
	if (UNPACK(c, election, ".last_election", "{s:s, s:o}", "reason", &election_reason,
		   "ago_ms", &election_ago))
		return -1;
	if (!json_is_array(peers)) {
		snprintf(err, errlen, WHAT ": key .peers is not an array");
		return -1;
	}
	json_int_t accepted, links_up;
	json_t *refused;
	if (UNPACK(c, transport, ".transport", "{s:I, s:I, s:o}", "accepted", &accepted, "links_up",
		   &links_up, "refused", &refused))
		return -1;
	json_int_t bad_cert, unknown, tls, bad_frame, oversized, handshake;
	if (UNPACK(c, refused, ".transport.refused", "{s:I, s:I, s:I, s:I, s:I, s:I}", "bad_cert",
		   &bad_cert, "unknown_member", &unknown, "tls_error", &tls, "bad_frame",
		   &bad_frame, "oversized_frame", &oversized, "handshake_timeout", &handshake))
		return -1;
	json_int_t elections, prevotes, leader_terms, stepdowns;
	if (UNPACK(c, raft, ".raft", "{s:I, s:I, s:I, s:I}", "elections", &elections, "prevotes",
		   &prevotes, "leader_terms", &leader_terms, "stepdowns_quorum", &stepdowns))
		return -1;

	char b1[32], b2[32];
	fprintf(out, "member      %s (id %lld, %s) of cluster %s, pid %lld\n", name, (num)id, kind,
		cluster, (num)pid);
	fprintf(out, "role        %s, term %lld, leader %s\n", role, (num)term,
		duetctl_doc_text(leader, b1, sizeof b1));
	fprintf(out, "log         commit %lld, applied %lld, last %lld, snapshot %lld\n",
		(num)commit, (num)applied, (num)last, (num)snapshot);
	fprintf(out, "lease       %s (holder %s, expires in %lld ms)\n",
		lease_valid ? "held" : "not held", duetctl_doc_text(holder, b1, sizeof b1),
		(num)expiry);
	fprintf(out, "master      %s (%s, since entry %lld)\n",
		duetctl_doc_text(master_node, b1, sizeof b1), master_reason, (num)master_since);
	if (mnt_on) {
		if (json_is_null(who))
			fprintf(out,
				"maintenance on since entry %lld (who and why: duetctl log --type "
				"OPERATOR): no automatic failover\n",
				(num)mnt_since);
		else
			fprintf(
			    out,
			    "maintenance on since entry %lld by %s: %s; no automatic failover\n",
			    (num)mnt_since, duetctl_doc_text(who, b1, sizeof b1),
			    duetctl_doc_text(why, b2, sizeof b2));
	}
	if (json_object_get(doc, "acting") && print_acting(c, doc))
		return -1;
	const json_t *traps = duetctl_doc_object(doc, "traps");
	if (traps && print_traps(c, traps))
		return -1;
	fprintf(out, "election    last %s, %s ms ago\n", election_reason,
		duetctl_doc_text(election_ago, b1, sizeof b1));
	if (print_peers(c, peers))
		return -1;
	fprintf(out,
		"transport   accepted %lld, links up %lld, refused: bad cert %lld, unknown member "
		"%lld, tls error %lld,\n",
		(num)accepted, (num)links_up, (num)bad_cert, (num)unknown, (num)tls);
	fprintf(out, "            bad frame %lld, oversized frame %lld, handshake timeout %lld\n",
		(num)bad_frame, (num)oversized, (num)handshake);
	fprintf(out,
		"raft        elections %lld, prevotes %lld, leader terms %lld, quorum stepdowns "
		"%lld\n",
		(num)elections, (num)prevotes, (num)leader_terms, (num)stepdowns);
	return 0;
}
