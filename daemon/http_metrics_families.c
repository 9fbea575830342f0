/*
 * http_metrics_families.c - the /metrics families that take code rather
 * than one status field each (http_metrics.c has those and the writer):
 * identity and roles, members and peers, PostgreSQL and its standbys, the
 * last takeover, the health checks, rebuild and switchover states, the
 * replicated MASTER counters, the traps by receiver and drop reason, and
 * the HTTP server's own counters.
 *
 * Enumerations whose names are known here (raft roles, check states) are
 * written with every value (0 or 1); those owned by other files (acting,
 * rebuild and switchover states) as one series of the current value, so
 * that no list here can drift from theirs.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duet/entry.h"
#include "duet/raftlog.h"
#include "http_metrics_internal.h"

/* "async standby" -> "async_standby"; "OK" -> "ok": label values that are
 * easy to type in a query. */
static void label_word(char *out, size_t cap, const char *s)
{
	size_t i = 0;
	for (; s && s[i] && i + 1 < cap; i++)
		out[i] = s[i] == ' ' ? '_' : (char)tolower((unsigned char)s[i]);
	out[i] = '\0';
}

void metrics_write_identity(struct writer *w, const struct http_metrics_input *in)
{
	const json_t *st = in->status;
	mw_family(w, "duet_up", GAUGE, "1: the daemon answers.");
	mw_sample_i(w, NULL, 0, 1);
	const char *cluster = mw_need_str(w, st, "cluster", false);
	const char *node = mw_need_str(w, st, "name", false);
	const char *kind = mw_need_str(w, st, "kind", false);
	mw_family(w, "duet_info", GAUGE,
		  "The cluster, this member and the daemon's version; always 1.");
	struct label l[] = {{"cluster", cluster},
			    {"node", node},
			    {"kind", kind},
			    {"version", in->version ? in->version : ""}};
	mw_sample_i(w, l, 4, 1);
	mw_family(
	    w, "duet_is_master", GAUGE,
	    "1 on the acting master (what GET /master answers with 200): it leads with a valid "
	    "lease, the log names it master and it completed its activation.");
	mw_sample_i(w, NULL, 0, in->is_master);

	const char *role = mw_need_str(w, st, "role", false);
	mw_family(w, "duet_raft_role", GAUGE, "This node's raft role: 1 for the current one.");
	for (int r = RAFT_FOLLOWER; r <= RAFT_LEADER; r++) {
		struct label rl = {"role", raft_role_name(r)};
		mw_sample_i(w, &rl, 1, role && strcmp(role, raft_role_name(r)) == 0);
	}
	const char *acting = mw_need_str(w, st, "acting", false);
	if (acting) {
		mw_family(
		    w, "duet_acting", GAUGE,
		    "What this data node does (starting, standby, activating, master); one series, "
		    "the current state, value 1.");
		struct label al = {"state", acting};
		mw_sample_i(w, &al, 1, 1);
	}
	bool master_known = mw_get(st, "master.node") != NULL;
	const char *master = mw_need_str(w, st, "master.node", false);
	const char *reason = mw_need_str(w, st, "master.reason", false);
	if (master_known) {
		mw_family(
		    w, "duet_log_master", GAUGE,
		    "The master the committed log names (master=\"\": none yet) and the reason of "
		    "its MASTER entry; always 1.");
		struct label ml[] = {{"master", master ? master : ""}, {"reason", reason}};
		mw_sample_i(w, ml, 2, 1);
	}
}

void metrics_write_members(struct writer *w, const json_t *st)
{
	const json_t *a = mw_need_array(w, st, "members", false);
	if (!a)
		return;
	size_t i;
	const json_t *m;
	json_array_foreach(a, i, m)
	{
		const char *name = mw_need_str(w, m, "name", false);
		const json_t *v = mw_need(w, m, "sync", false);
		if (!name || !v)
			continue;
		mw_family(
		    w, "duet_member_sync", GAUGE,
		    "1 when the log records the member as a synchronous (promotable) standby.");
		struct label l = {"member", name};
		mw_sample_i(w, &l, 1, mw_int_of(v));
	}
	json_array_foreach(a, i, m)
	{
		const char *name = mw_need_str(w, m, "name", true);
		const char *role = mw_need_str(w, m, "role", false);
		if (!name || !role)
			continue;
		char word[32];
		label_word(word, sizeof word, role);
		mw_family(
		    w, "duet_member_role", GAUGE,
		    "Each member's role in the log (master, sync_standby, async_standby, witness); "
		    "always 1.");
		struct label l[] = {{"member", name}, {"role", word}};
		mw_sample_i(w, l, 2, 1);
	}
	json_array_foreach(a, i, m)
	{
		const char *name = mw_need_str(w, m, "name", true);
		const json_t *v = mw_need(w, m, "critical_failing", true);
		if (!name || !v)
			continue;
		mw_family(w, "duet_member_critical_failing", GAUGE,
			  "1 when the log records a failing critical check for the member.");
		struct label l = {"member", name};
		mw_sample_i(w, &l, 1, mw_int_of(v));
	}
}

void metrics_write_peers(struct writer *w, const json_t *st)
{
	const json_t *a = mw_need_array(w, st, "peers", false);
	if (!a)
		return;
	size_t i;
	const json_t *p;
	json_array_foreach(a, i, p)
	{
		const char *name = mw_need_str(w, p, "name", false);
		const json_t *v = mw_need(w, p, "links_up", false);
		if (!name || !v)
			continue;
		mw_family(w, "duet_peer_links_up", GAUGE,
			  "Links up to each peer (one per redundant link).");
		struct label l = {"peer", name};
		mw_sample_i(w, &l, 1, mw_int_of(v));
	}
	/* the leader's view of its followers */
	json_array_foreach(a, i, p)
	{
		const char *name = mw_need_str(w, p, "name", true);
		const json_t *v = mw_need(w, p, "match_index", true);
		if (!name || !v)
			continue;
		mw_family(w, "duet_raft_peer_match_index", GAUGE,
			  "On the leader: the highest log index each follower is known to hold.");
		struct label l = {"peer", name};
		mw_sample_i(w, &l, 1, mw_int_of(v));
	}
	json_array_foreach(a, i, p)
	{
		const char *name = mw_need_str(w, p, "name", true);
		const json_t *v = mw_need(w, p, "last_ack_ms_ago", true);
		if (!name || !v)
			continue;
		mw_family(w, "duet_raft_peer_last_ack_seconds", GAUGE,
			  "On the leader: time since each follower last acknowledged.");
		struct label l = {"peer", name};
		mw_sample_ms(w, &l, 1, mw_int_of(v));
	}
}

/* Every key of an object of counters as one labelled series each. */
void metrics_write_object_counters(struct writer *w, const json_t *obj, const char *name,
				   const char *help, const char *label)
{
	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)obj, key, v)
	{
		if (!mw_is_number(v))
			continue;
		mw_family(w, name, COUNTER, help);
		struct label l = {label, key};
		mw_sample_i(w, &l, 1, mw_int_of(v));
	}
}

static uint64_t parse_lsn(const char *text)
{
	unsigned long long hi = 0, lo = 0;
	if (!text || sscanf(text, "%llX/%llX", &hi, &lo) != 2)
		return 0;
	return ((uint64_t)hi << 32) | (uint64_t)lo;
}

void metrics_write_pg(struct writer *w, const json_t *st)
{
	/* present only while PostgreSQL answers */
	const char *role = mw_need_str(w, st, "pg.role", true);
	if (role) {
		mw_family(w, "duet_pg_primary", GAUGE,
			  "1 when the local PostgreSQL answers as a primary, 0 as a standby.");
		mw_sample_i(w, NULL, 0, strcmp(role, "primary") == 0);
	}
	const char *lsn = mw_need_str(w, st, "pg.lsn", true);
	if (lsn && parse_lsn(lsn)) {
		mw_family(
		    w, "duet_pg_wal_position_bytes", GAUGE,
		    "The local PostgreSQL's WAL position (pg_current_wal_lsn on a primary, the "
		    "replayed position on a standby), in bytes.");
		mw_sample_u(w, NULL, 0, parse_lsn(lsn));
	}
	const json_t *a = mw_need_array(w, st, "pg.replication", true);
	if (!a)
		return;
	static const struct {
		const char *name, *key, *help;
	} lags[] = {
	    {"duet_pg_replication_flush_lag_bytes", "flush_lag_bytes",
	     "On the primary: WAL bytes each standby has not flushed yet (pg_stat_replication)."},
	    {"duet_pg_replication_replay_lag_bytes", "replay_lag_bytes",
	     "On the primary: WAL bytes each standby has not replayed yet (pg_stat_replication)."},
	};
	size_t i;
	const json_t *r;
	for (size_t k = 0; k < 2; k++)
		json_array_foreach(a, i, r)
		{
			const char *name = mw_need_str(w, r, "name", false);
			const json_t *v = mw_need(w, r, lags[k].key, false);
			if (!name || !v || mw_int_of(v) < 0) /* -1: PostgreSQL reported NULL */
				continue;
			mw_family(w, lags[k].name, GAUGE, lags[k].help);
			struct label l = {"standby", name};
			mw_sample_i(w, &l, 1, mw_int_of(v));
		}
	json_array_foreach(a, i, r)
	{
		const char *name = mw_need_str(w, r, "name", true);
		const char *state = mw_need_str(w, r, "state", false);
		const char *sync = mw_need_str(w, r, "sync_state", false);
		if (!name || !state || !sync)
			continue;
		mw_family(
		    w, "duet_pg_replication_info", GAUGE,
		    "On the primary: each standby that streams, with its state and sync_state "
		    "(pg_stat_replication); always 1.");
		struct label l[] = {{"standby", name}, {"state", state}, {"sync_state", sync}};
		mw_sample_i(w, l, 3, 1);
	}
}

void metrics_write_takeover(struct writer *w, const struct http_metrics_input *in)
{
	static const struct {
		const char *phase, *path;
	} phases[] = {
	    {"commit", "last_takeover.committed_after_ms"},
	    {"promote", "last_takeover.promoted_after_ms"},
	    {"fip", "last_takeover.fip_after_ms"},
	    {"total", "last_takeover.ready_after_ms"},
	};
	static const char help[] =
	    "This node's last takeover: detect from the old master's last message to this node "
	    "leading; commit (MASTER applied), promote (PostgreSQL primary), fip (FIP held) and "
	    "total (acting master) from this node leading. A phase not reached has no series.";
	if (in->takeover_detect_ms >= 0) {
		mw_family(w, "duet_last_takeover_duration_seconds", GAUGE, help);
		struct label l = {"phase", "detect"};
		mw_sample_ms(w, &l, 1, in->takeover_detect_ms);
	}
	for (size_t i = 0; i < sizeof phases / sizeof phases[0]; i++) {
		const json_t *v = mw_need(w, in->status, phases[i].path, false);
		if (!v || mw_int_of(v) < 0)
			continue;
		mw_family(w, "duet_last_takeover_duration_seconds", GAUGE, help);
		struct label l = {"phase", phases[i].phase};
		mw_sample_ms(w, &l, 1, mw_int_of(v));
	}
}

void metrics_write_checks(struct writer *w, const json_t *st)
{
	const json_t *a = mw_need_array(w, st, "checks", false);
	if (!a)
		return;
	static const char *const states[] = {"unknown", "ok", "failing"};
	size_t i;
	const json_t *c;
	json_array_foreach(a, i, c)
	{
		const char *name = mw_need_str(w, c, "name", false);
		const char *state = mw_need_str(w, c, "state", false);
		if (!name || !state)
			continue;
		char word[32];
		label_word(word, sizeof word, state);
		mw_family(w, "duet_check_state", GAUGE,
			  "Each health check of this node ([health]): 1 for its current state.");
		for (size_t k = 0; k < 3; k++) {
			struct label l[] = {{"check", name}, {"state", states[k]}};
			mw_sample_i(w, l, 2, strcmp(word, states[k]) == 0);
		}
	}
	json_array_foreach(a, i, c)
	{
		const char *name = mw_need_str(w, c, "name", true);
		const char *state = mw_need_str(w, c, "state", true);
		if (!name || !state)
			continue;
		mw_family(w, "duet_check_failing", GAUGE,
			  "1 while a health check is failing (fail_after failed probes in a row).");
		struct label l = {"check", name};
		mw_sample_i(w, &l, 1, strcmp(state, "FAILING") == 0);
	}
	static const struct {
		const char *name, *key, *help;
		enum metric_type type;
		bool ms;
	} per_check[] = {
	    {"duet_check_critical", "critical",
	     "1 when the check is critical ([health] critical): its failure on the master hands "
	     "mastership over.",
	     GAUGE, false},
	    {"duet_check_paused", "paused",
	     "1 while the check is paused (fip and manager run on the acting master only).", GAUGE,
	     false},
	    {"duet_check_probes_total", "probes", "Probes started.", COUNTER, false},
	    {"duet_check_failures_total", "failures", "Failed probes, timeouts included.", COUNTER,
	     false},
	    {"duet_check_timeouts_total", "timeouts", "Probes that passed their deadline.", COUNTER,
	     false},
	    {"duet_check_last_duration_seconds", "last_duration_ms",
	     "How long the last counted probe took.", GAUGE, true},
	};
	for (size_t k = 0; k < sizeof per_check / sizeof per_check[0]; k++)
		json_array_foreach(a, i, c)
		{
			const char *name = mw_need_str(w, c, "name", true);
			const json_t *v = mw_need(w, c, per_check[k].key, false);
			if (!name || !v)
				continue;
			mw_family(w, per_check[k].name, per_check[k].type, per_check[k].help);
			struct label l = {"check", name};
			if (per_check[k].ms)
				mw_sample_ms(w, &l, 1, mw_int_of(v));
			else
				mw_sample_i(w, &l, 1, mw_int_of(v));
		}
}

void metrics_write_states(struct writer *w, const json_t *st)
{
	const char *rebuild = mw_need_str(w, st, "pg_rebuild.state", false);
	if (rebuild) {
		mw_family(w, "duet_rebuild_state", GAUGE,
			  "The rebuild of the local PostgreSQL as a standby (duetctl rejoin, "
			  "switchover): "
			  "one series, the current state (idle when none runs), value 1.");
		struct label l = {"state", rebuild};
		mw_sample_i(w, &l, 1, 1);
	}
	const json_t *pct = mw_need(w, st, "pg_rebuild.percent", false);
	if (rebuild && pct && strcmp(rebuild, "idle") != 0 && mw_int_of(pct) >= 0) {
		mw_family(w, "duet_rebuild_progress_ratio", GAUGE,
			  "Progress of the running pg_basebackup or pg_rewind, 0 to 1.");
		mw_sample_double(w, NULL, 0, (double)mw_int_of(pct) / 100.0);
	}
	const char *so = mw_need_str(w, st, "switchover.state", false);
	if (so) {
		mw_family(
		    w, "duet_switchover_state", GAUGE,
		    "A switchover run by this master (duetctl switchover): one series, the current "
		    "state (none when none runs), value 1.");
		struct label l = {"state", so};
		mw_sample_i(w, &l, 1, 1);
	}
}

void metrics_write_fsm(struct writer *w, const struct fsm *f)
{
	if (!f)
		return;
	mw_family(
	    w, "duet_failovers_total", COUNTER,
	    "Failovers: MASTER entries applied with reason failover (the replicated state: the "
	    "same on every member, since the cluster was created).");
	mw_sample_u(w, NULL, 0, f->counters.failovers);
	mw_family(
	    w, "duet_switchovers_total", COUNTER,
	    "Switchovers: MASTER entries applied with reason switchover (duetctl switchover).");
	mw_sample_u(w, NULL, 0, f->counters.switchovers);
	mw_family(w, "duet_forced_promotions_total", COUNTER,
		  "Forced promotions: MASTER entries applied with reason forced (duetctl promote "
		  "--accept-data-loss).");
	mw_sample_u(w, NULL, 0, f->counters.forced);
	mw_family(w, "duet_log_entries_applied_total", COUNTER,
		  "Log entries applied by the replicated state machine, by type (refused ones "
		  "included).");
	for (unsigned t = 1; t < RAFT_ENTRY_TYPE_COUNT; t++) {
		struct label l = {"type", raft_entry_type_name((uint8_t)t)};
		mw_sample_u(w, &l, 1, f->counters.by_type[t]);
	}
}

/* ---- traps by receiver and reason ------------------------------------------ */

#define MAX_DROPS 160

struct drops {
	struct {
		char receiver[24], reason[48];
		long long v;
	} v[MAX_DROPS];
	size_t n;
};

/* Adds v to (receiver, reason), summing two sources that name the same
 * reason: one series per label set. */
static void drop_add(struct drops *d, const char *receiver, const char *reason, long long v)
{
	for (size_t i = 0; i < d->n; i++)
		if (strcmp(d->v[i].receiver, receiver) == 0 &&
		    strcmp(d->v[i].reason, reason) == 0) {
			d->v[i].v += v;
			return;
		}
	if (d->n == MAX_DROPS)
		return;
	snprintf(d->v[d->n].receiver, sizeof d->v[d->n].receiver, "%s", receiver);
	snprintf(d->v[d->n].reason, sizeof d->v[d->n].reason, "%s", reason);
	d->v[d->n++].v = v;
}

static void drop_object(struct drops *d, const json_t *obj, const char *receiver)
{
	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)obj, key, v) if (mw_is_number(v))
	    drop_add(d, receiver, key, mw_int_of(v));
}

/* Kernel drops of the UDP sockets of one receiver. */
static void drop_listeners(struct drops *d, const json_t *a, const char *receiver)
{
	size_t i;
	const json_t *l;
	long long sum = 0;
	bool any = false;
	json_array_foreach(a, i, l)
	{
		const json_t *v = json_object_get(l, "kernel_drops");
		if (mw_is_number(v)) {
			sum += mw_int_of(v);
			any = true;
		}
	}
	if (any)
		drop_add(d, receiver, "kernel_drops", sum);
}

/* What a receiver's counters are besides refusals. */
static bool not_a_drop(const char *key)
{
	return strcmp(key, "copies") == 0 || strcmp(key, "taken") == 0 ||
	       strcmp(key, "duplicate") == 0;
}

void metrics_write_traps(struct writer *w, const json_t *st)
{
	bool through_null;
	const json_t *rx = mw_path_get(st, "traps.receivers", &through_null);
	if (!json_is_object(rx)) {
		if (!through_null)
			w->missing++;
		return;
	}
	static const struct {
		const char *name, *key, *help;
	} per_rx[] = {
	    {"duet_traps_received_total", "copies",
	     "Trap copies this node received and decoded, by receiver (each device sends to both "
	     "nodes: a trap is normally received twice in the cluster)."},
	    {"duet_traps_taken_total", "taken",
	     "Trap copies the deduplication took as new here, by receiver."},
	    {"duet_traps_duplicates_total", "duplicate",
	     "Trap copies the deduplication matched to a trap already taken (not a loss), by "
	     "receiver."},
	};
	const char *key;
	const json_t *r;
	for (size_t k = 0; k < sizeof per_rx / sizeof per_rx[0]; k++)
		json_object_foreach((json_t *)rx, key, r)
		{
			const json_t *v = json_is_object(r) ? json_object_get(r, "copies") : NULL;
			if (!mw_is_number(v))
				continue; /* not a receiver: listeners, servers, ... */
			v = mw_need(w, r, per_rx[k].key, false);
			if (!v)
				continue;
			mw_family(w, per_rx[k].name, COUNTER, per_rx[k].help);
			struct label l = {"receiver", key};
			mw_sample_i(w, &l, 1, mw_int_of(v));
		}
	struct drops *d = calloc(1, sizeof *d);
	if (!d)
		return;
	json_object_foreach((json_t *)rx, key, r)
	{
		if (!json_is_object(r) || !mw_is_number(json_object_get(r, "copies")))
			continue;
		const char *k2;
		const json_t *v;
		json_object_foreach((json_t *)r, k2, v) if (!not_a_drop(k2) && mw_is_number(v))
		    drop_add(d, key, k2, mw_int_of(v));
	}
	const json_t *o;
	if (json_is_object(o = json_object_get(rx, "snmp_refused")))
		drop_object(d, o, "snmp");
	if (json_is_object(o = mw_get(rx, "http_server.refused")))
		drop_object(d, o, "http");
	if (json_is_object(o = mw_get(rx, "syslog_tcp_server.refused")))
		drop_object(d, o, "syslog_tcp");
	if (json_is_array(o = json_object_get(rx, "syslog_udp_listeners")))
		drop_listeners(d, o, "syslog_udp");
	if (json_is_array(o = json_object_get(rx, "snmp_udp_listeners")))
		drop_listeners(d, o, "snmp");
	for (size_t i = 0; i < d->n; i++) {
		mw_family(
		    w, "duet_traps_dropped_total", COUNTER,
		    "Trap copies refused, by receiver and reason: before decoding (oversized, "
		    "truncated, kernel_drops, the SNMP and HTTP refusals) or by the deduplication "
		    "(window_full, live_full, backlog_full, no_memory).");
		struct label l[] = {{"receiver", d->v[i].receiver}, {"reason", d->v[i].reason}};
		mw_sample_i(w, l, 2, d->v[i].v);
	}
	free(d);
	const json_t *informs = mw_need(w, st, "traps.receivers.informs_answered", true);
	if (informs) {
		mw_family(w, "duet_traps_snmp_informs_answered_total", COUNTER,
			  "SNMP informs answered once their trap was taken.");
		mw_sample_i(w, NULL, 0, mw_int_of(informs));
	}
}

void metrics_write_http(struct writer *w, const struct trap_http_stats *s)
{
	if (!s)
		return;
	mw_family(
	    w, "duet_http_requests_total", COUNTER,
	    "Requests answered by these HTTP endpoints (/master, /health, /metrics), any status.");
	mw_sample_u(w, NULL, 0, s->requests);
	mw_family(w, "duet_http_connections_open", GAUGE,
		  "Connections open to these HTTP endpoints.");
	mw_sample_u(w, NULL, 0, s->connections_open);
	for (int r = 1; r < TRAP_HTTP_DROP_N; r++) {
		if (!s->drops[r])
			continue;
		mw_family(w, "duet_http_refused_total", COUNTER,
			  "Requests and connections these HTTP endpoints refused, by reason.");
		struct label l = {"reason", trap_http_drop_name((enum trap_http_drop)r)};
		mw_sample_u(w, &l, 1, s->drops[r]);
	}
}
