/* SPDX-License-Identifier: MIT */
/*
 * http_metrics_families.c - the /metrics families of the role controller
 * (acting, members, PostgreSQL and its standbys, the last takeover, the
 * health checks, rebuild and switchover states), the replicated MASTER
 * counters, the traps by receiver and drop reason, and the HTTP server's
 * own counters (http_metrics.c has the writer and the member's families).
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
	const struct duet_status *st = in->status;
	mw_one(w, "duet_up", GAUGE, "1: the daemon answers.", 1);
	mw_family(w, "duet_info", GAUGE,
		  "The cluster, this member and the daemon's version; always 1.");
	struct label l[] = {{"cluster", st->cluster},
			    {"node", st->name},
			    {"kind", st->witness ? "witness" : "data"},
			    {"version", in->version ? in->version : ""}};
	mw_sample_i(w, l, 4, 1);
	mw_one(w, "duet_is_master", GAUGE,
	       "1 on the acting master (what GET /master answers with 200): it leads with a valid "
	       "lease, the log names it master and it completed its activation.",
	       in->is_master);
	mw_family(w, "duet_raft_role", GAUGE, "This node's raft role: 1 for the current one.");
	for (int r = RAFT_FOLLOWER; r <= RAFT_LEADER; r++) {
		struct label rl = {"role", raft_role_name(r)};
		mw_sample_i(w, &rl, 1, st->raft.role == r);
	}
	if (st->have_ctl)
		mw_one_label(
		    w, "duet_acting", GAUGE,
		    "What this data node does (starting, standby, activating, master); one "
		    "series, the current state, value 1.",
		    "state", st->ctl.acting, 1);
	mw_family(w, "duet_log_master", GAUGE,
		  "The master the committed log names (master=\"\": none yet) and the reason of "
		  "its MASTER entry; always 1.");
	struct label ml[] = {{"master", st->master.node ? st->master.node : ""},
			     {"reason", st->master.reason}};
	mw_sample_i(w, ml, 2, 1);
}

void metrics_write_members(struct writer *w, const struct duet_status *st)
{
	for (uint32_t i = 0; i < st->n_members; i++)
		mw_one_label(
		    w, "duet_member_sync", GAUGE,
		    "1 when the log records the member as a synchronous (promotable) standby.",
		    "member", st->members[i].name, st->members[i].sync);
	for (uint32_t i = 0; i < st->n_members; i++) {
		char word[32];
		label_word(word, sizeof word, st->members[i].role);
		mw_family(w, "duet_member_role", GAUGE,
			  "Each member's role in the log (master, sync_standby, async_standby, "
			  "witness); always 1.");
		struct label l[] = {{"member", st->members[i].name}, {"role", word}};
		mw_sample_i(w, l, 2, 1);
	}
	for (uint32_t i = 0; i < st->n_members; i++)
		mw_one_label(w, "duet_member_critical_failing", GAUGE,
			     "1 when the log records a failing critical check for the member.",
			     "member", st->members[i].name, st->members[i].critical_failing);
}

static const char H_STEPS[] = "Steps of this node's activation chain (fence, lease wait, "
			      "promote, FIP, manager), by result.";

void metrics_write_ctl(struct writer *w, const struct duet_status *st)
{
	const struct duet_status_ctl *c = &st->ctl;
	mw_one_label(w, "duet_activation_steps_total", COUNTER, H_STEPS, "result", "ok",
		     c->actions.steps_ok);
	mw_one_label(w, "duet_activation_steps_total", COUNTER, H_STEPS, "result", "failed",
		     c->actions.steps_failed);
	mw_one(w, "duet_demotions_total", COUNTER, "Times this node stopped acting as master.",
	       c->actions.demotions);
	mw_one(w, "duet_handbacks_total", COUNTER,
	       "Times this leader handed leadership back to a live master.", c->actions.handbacks);
	mw_one(w, "duet_stepdowns_total", COUNTER,
	       "Times this master handed over because a critical check failed.",
	       c->actions.stepdowns);
	mw_one(w, "duet_rebuild_done_bytes", GAUGE,
	       "Bytes the running pg_basebackup or pg_rewind has copied (duetctl rejoin, "
	       "switchover).",
	       c->rebuild.bytes_done);
	mw_one(w, "duet_rebuild_size_bytes", GAUGE,
	       "Bytes the running rebuild expects to copy (0: unknown).", c->rebuild.bytes_total);
	mw_one(w, "duet_rebuild_failures", GAUGE, "Failed attempts of the current rebuild.",
	       c->rebuild.failures);
	mw_one_label(w, "duet_rebuild_state", GAUGE,
		     "The rebuild of the local PostgreSQL as a standby (duetctl rejoin, "
		     "switchover): one series, the current state (idle when none runs), value 1.",
		     "state", c->rebuild.state, 1);
	if (strcmp(c->rebuild.state, "idle") != 0 && c->rebuild.percent >= 0) {
		mw_family(w, "duet_rebuild_progress_ratio", GAUGE,
			  "Progress of the running pg_basebackup or pg_rewind, 0 to 1.");
		mw_sample_double(w, NULL, 0, (double)c->rebuild.percent / 100.0);
	}
	mw_one_label(w, "duet_switchover_state", GAUGE,
		     "A switchover run by this master (duetctl switchover): one series, the "
		     "current state (none when none runs), value 1.",
		     "state", c->switchover.state, 1);
}

static uint64_t parse_lsn(const char *text)
{
	unsigned long long hi = 0, lo = 0;
	if (!text || sscanf(text, "%llX/%llX", &hi, &lo) != 2)
		return 0;
	return ((uint64_t)hi << 32) | (uint64_t)lo;
}

void metrics_write_pg(struct writer *w, const struct duet_status *st)
{
	const struct duet_status_ctl *c = &st->ctl;
	mw_one(w, "duet_pg_managed", GAUGE,
	       "1 when duet manages a local PostgreSQL ([pg] conninfo is set).", c->pg.managed);
	mw_one(w, "duet_pg_up", GAUGE,
	       "1 when the last probe of the local PostgreSQL got an answer.", c->pg.answers);
	if (c->pg.probe_age_ms) {
		mw_family(w, "duet_pg_last_probe_timestamp_seconds", GAUGE,
			  "When the last probe of the local PostgreSQL ended (Unix time).");
		mw_sample_ms(w, NULL, 0, (long long)(st->wall_ms - c->pg.probe_age_ms));
	}
	if (!c->pg.answers) /* the rest only while PostgreSQL answers */
		return;
	mw_one(w, "duet_pg_primary", GAUGE,
	       "1 when the local PostgreSQL answers as a primary, 0 as a standby.",
	       c->pg.role && strcmp(c->pg.role, "primary") == 0);
	uint64_t lsn = parse_lsn(c->pg.lsn);
	if (lsn)
		mw_one(w, "duet_pg_wal_position_bytes", GAUGE,
		       "The local PostgreSQL's WAL position (pg_current_wal_lsn on a primary, the "
		       "replayed position on a standby), in bytes.",
		       lsn);
	for (uint32_t i = 0; i < c->pg.n_repl; i++) {
		const struct duet_pg_repl *r = &c->pg.repl[i];
		if (r->flush_lag_bytes >= 0) /* -1: PostgreSQL reported NULL */
			mw_one_label(w, "duet_pg_replication_flush_lag_bytes", GAUGE,
				     "On the primary: WAL bytes each standby has not flushed yet "
				     "(pg_stat_replication).",
				     "standby", r->application_name, (uint64_t)r->flush_lag_bytes);
	}
	for (uint32_t i = 0; i < c->pg.n_repl; i++) {
		const struct duet_pg_repl *r = &c->pg.repl[i];
		if (r->replay_lag_bytes >= 0)
			mw_one_label(w, "duet_pg_replication_replay_lag_bytes", GAUGE,
				     "On the primary: WAL bytes each standby has not replayed yet "
				     "(pg_stat_replication).",
				     "standby", r->application_name, (uint64_t)r->replay_lag_bytes);
	}
	for (uint32_t i = 0; i < c->pg.n_repl; i++) {
		const struct duet_pg_repl *r = &c->pg.repl[i];
		mw_family(
		    w, "duet_pg_replication_info", GAUGE,
		    "On the primary: each standby that streams, with its state and sync_state "
		    "(pg_stat_replication); always 1.");
		struct label l[] = {{"standby", r->application_name},
				    {"state", r->state},
				    {"sync_state", r->sync_state}};
		mw_sample_i(w, l, 3, 1);
	}
}

void metrics_write_takeover(struct writer *w, const struct duet_status *st)
{
	const struct duet_status_takeover *t = &st->ctl.last_takeover;
	mw_one(w, "duet_last_takeover_term", GAUGE,
	       "Term of this node's last activation as master since it started (0: none).",
	       t->term);
	mw_family(w, "duet_last_takeover_lease_wait_seconds", GAUGE,
		  "How long the last takeover waited for the old master's lease to run out.");
	mw_sample_ms(w, NULL, 0, (long long)t->lease_wait_ms);
	mw_one(w, "duet_last_takeover_fenced", GAUGE,
	       "1 when fencing confirmed the old master off in the last takeover.", t->fenced);
	const struct {
		const char *phase;
		int64_t ms;
	} phases[] = {
	    {"detect", t->detect_ms},          {"commit", t->committed_after_ms},
	    {"promote", t->promoted_after_ms}, {"fip", t->fip_after_ms},
	    {"total", t->ready_after_ms},
	};
	static const char help[] =
	    "This node's last takeover: detect from the old master's last message to this node "
	    "leading; commit (MASTER applied), promote (PostgreSQL primary), fip (FIP held) and "
	    "total (acting master) from this node leading. A phase not reached has no series.";
	for (size_t i = 0; i < sizeof phases / sizeof phases[0]; i++) {
		if (phases[i].ms < 0)
			continue;
		mw_family(w, "duet_last_takeover_duration_seconds", GAUGE, help);
		struct label l = {"phase", phases[i].phase};
		mw_sample_ms(w, &l, 1, phases[i].ms);
	}
}

void metrics_write_checks(struct writer *w, const struct duet_status *st)
{
	const struct duet_status_ctl *c = &st->ctl;
	static const char *const states[] = {"unknown", "ok", "failing"};
	for (unsigned i = 0; i < c->n_checks; i++) {
		char word[32];
		label_word(word, sizeof word, duet_health_state_name(c->checks[i].state));
		mw_family(w, "duet_check_state", GAUGE,
			  "Each health check of this node ([health]): 1 for its current state.");
		for (size_t k = 0; k < 3; k++) {
			struct label l[] = {{"check", c->checks[i].name}, {"state", states[k]}};
			mw_sample_i(w, l, 2, strcmp(word, states[k]) == 0);
		}
	}
	for (unsigned i = 0; i < c->n_checks; i++)
		mw_one_label(
		    w, "duet_check_failing", GAUGE,
		    "1 while a health check is failing (fail_after failed probes in a row).",
		    "check", c->checks[i].name, c->checks[i].state == DUET_HEALTH_FAILING);
	for (unsigned i = 0; i < c->n_checks; i++)
		mw_one_label(w, "duet_check_critical", GAUGE,
			     "1 when the check is critical ([health] critical): its failure on the "
			     "master hands mastership over.",
			     "check", c->checks[i].name, c->checks[i].critical);
	for (unsigned i = 0; i < c->n_checks; i++)
		mw_one_label(
		    w, "duet_check_paused", GAUGE,
		    "1 while the check is paused (fip and manager run on the acting master only).",
		    "check", c->checks[i].name, c->checks[i].paused);
	for (unsigned i = 0; i < c->n_checks; i++)
		mw_one_label(w, "duet_check_probes_total", COUNTER, "Probes started.", "check",
			     c->checks[i].name, c->checks[i].probes);
	for (unsigned i = 0; i < c->n_checks; i++)
		mw_one_label(w, "duet_check_failures_total", COUNTER,
			     "Failed probes, timeouts included.", "check", c->checks[i].name,
			     c->checks[i].failures);
	for (unsigned i = 0; i < c->n_checks; i++)
		mw_one_label(w, "duet_check_timeouts_total", COUNTER,
			     "Probes that passed their deadline.", "check", c->checks[i].name,
			     c->checks[i].timeouts);
	for (unsigned i = 0; i < c->n_checks; i++) {
		mw_family(w, "duet_check_last_duration_seconds", GAUGE,
			  "How long the last counted probe took.");
		struct label l = {"check", c->checks[i].name};
		mw_sample_ms(w, &l, 1, c->checks[i].last_duration_ms);
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

static void drop_listeners(struct drops *d, const struct duet_status_udp *u, unsigned n,
			   const char *receiver)
{
	if (!n)
		return;
	uint64_t sum = 0;
	for (unsigned i = 0; i < n; i++)
		sum += u[i].s.kernel_drops;
	drop_add(d, receiver, "kernel_drops", (long long)sum);
}

static const char H_DROPPED[] =
    "Trap copies refused, by receiver and reason: before decoding (oversized, truncated, "
    "kernel_drops, the SNMP and HTTP refusals) or by the deduplication (window_full, "
    "live_full, backlog_full, no_memory).";
static const char H_FORWARD[] = "Traps forwarded by the standby to the leader: sent here, or "
				"received here.";

static void write_rx(struct writer *w, const struct duet_status_rx *r)
{
	for (unsigned i = 0; i < r->n_src; i++)
		mw_one_label(w, "duet_traps_received_total", COUNTER,
			     "Trap copies this node received and decoded, by receiver (each device "
			     "sends to both nodes: a trap is normally received twice in the "
			     "cluster).",
			     "receiver", r->src[i].name, r->src[i].copies);
	for (unsigned i = 0; i < r->n_src; i++)
		mw_one_label(w, "duet_traps_taken_total", COUNTER,
			     "Trap copies the deduplication took as new here, by receiver.",
			     "receiver", r->src[i].name, r->src[i].results[DUET_TRAP_TAKEN]);
	for (unsigned i = 0; i < r->n_src; i++)
		mw_one_label(w, "duet_traps_duplicates_total", COUNTER,
			     "Trap copies the deduplication matched to a trap already taken (not a "
			     "loss), by receiver.",
			     "receiver", r->src[i].name, r->src[i].results[DUET_TRAP_DUPLICATE]);
	struct drops *d = calloc(1, sizeof *d);
	if (!d)
		return;
	for (unsigned i = 0; i < r->n_src; i++) {
		drop_add(d, r->src[i].name, "oversized", (long long)r->src[i].oversized);
		drop_add(d, r->src[i].name, "empty", (long long)r->src[i].empty);
		drop_add(d, r->src[i].name, "truncated", (long long)r->src[i].truncated);
		for (int k = 0; k < DUET_TRAP_DROP_N; k++)
			if (k != DUET_TRAP_TAKEN && k != DUET_TRAP_DUPLICATE)
				drop_add(d, r->src[i].name, duet_trap_drop_name(k),
					 (long long)r->src[i].results[k]);
	}
	for (unsigned i = 0; i < r->n_snmp_refused; i++)
		drop_add(d, "snmp", r->snmp_refused[i].name, (long long)r->snmp_refused[i].n);
	for (int k = 1; r->have_http && k < TRAP_HTTP_DROP_N; k++)
		if (r->http.drops[k])
			drop_add(d, "http", trap_http_drop_name((enum trap_http_drop)k),
				 (long long)r->http.drops[k]);
	for (int k = 1; r->have_syslog_tcp && k < TRAP_SYSLOG_TCP_DROP_N; k++)
		if (r->syslog_tcp.drops[k])
			drop_add(d, "syslog_tcp",
				 trap_syslog_tcp_drop_name((enum trap_syslog_tcp_drop)k),
				 (long long)r->syslog_tcp.drops[k]);
	drop_listeners(d, r->syslog_udp, r->n_syslog_udp, "syslog_udp");
	drop_listeners(d, r->snmp_udp, r->n_snmp_udp, "snmp");
	for (size_t i = 0; i < d->n; i++) {
		mw_family(w, "duet_traps_dropped_total", COUNTER, H_DROPPED);
		struct label l[] = {{"receiver", d->v[i].receiver}, {"reason", d->v[i].reason}};
		mw_sample_i(w, l, 2, d->v[i].v);
	}
	free(d);
	mw_one(w, "duet_traps_snmp_informs_answered_total", COUNTER,
	       "SNMP informs answered once their trap was taken.", r->informs_answered);
}

void metrics_write_traps(struct writer *w, const struct duet_status_traps *t)
{
	const struct duet_trap_pipe_stats *s = &t->pipe;
	mw_one(w, "duet_traps_proposing", GAUGE,
	       "1 while this node proposes the traps it receives (leader with the lease).",
	       t->proposing);
	mw_one(w, "duet_traps_delivering", GAUGE,
	       "1 while this node delivers committed traps to the sink.", t->delivering);
	mw_one(w, "duet_traps_pending", GAUGE,
	       "Traps this standby holds that no committed TRAPS entry has matched yet.",
	       s->pending);
	mw_one(w, "duet_traps_outbox", GAUGE, "Traps waiting to be proposed.", s->outbox);
	mw_one(w, "duet_traps_inflight", GAUGE, "Traps proposed and not yet committed.",
	       s->inflight);
	mw_one(w, "duet_traps_committed_total", COUNTER,
	       "Traps committed to the log, as applied here.", s->committed);
	mw_one_label(w, "duet_traps_forwarded_total", COUNTER, H_FORWARD, "direction", "sent",
		     s->forwarded_sent);
	mw_one_label(w, "duet_traps_forwarded_total", COUNTER, H_FORWARD, "direction", "received",
		     s->forwarded_received);
	mw_one(w, "duet_traps_undelivered", GAUGE,
	       "Committed traps the sink has not confirmed yet.", s->undelivered);
	mw_one(w, "duet_traps_undelivered_bytes", GAUGE, "Payload bytes of the undelivered traps.",
	       s->undelivered_bytes);
	mw_one(w, "duet_traps_backlog_max_bytes", GAUGE,
	       "The backlog's byte bound ([traps] backlog_max_bytes): past it new traps are "
	       "refused (duet_traps_dropped_total reason backlog_full).",
	       t->backlog_max_bytes);
	mw_one(w, "duet_traps_backlog_full", GAUGE,
	       "1 while the backlog is full: the last trap received was refused for the "
	       "backlog's bound and the sink has confirmed nothing since.",
	       s->backlog_full);
	mw_one(w, "duet_traps_delivered_index", GAUGE, "Log index of the last DELIVERED entry.",
	       s->delivered_index);
	if (t->have_sink) {
		mw_one(w, "duet_traps_delivered_total", COUNTER,
		       "Traps this node delivered and the sink confirmed (the deliverer only).",
		       t->sink.records_sent);
		mw_one(w, "duet_trap_sink_connected", GAUGE, "1 while the trap sink is connected.",
		       t->sink.connected);
		mw_one(w, "duet_trap_sink_errors_total", COUNTER,
		       "Failures of the trap sink (each ends a connection).", t->sink.errors);
		mw_one(
		    w, "duet_trap_sink_dead_letters_total", COUNTER,
		    "Trap records refused for good: kept in <table>_dead by the PostgreSQL sink, "
		    "replaced by a notice with their id by the RELP sink (too big).",
		    t->sink.dead_letters);
		mw_one(w, "duet_trap_sink_queued_bytes", GAUGE,
		       "Bytes submitted to the sink and not confirmed.", t->sink_queued_bytes);
	}
	if (t->have_rx)
		write_rx(w, &t->rx);
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
