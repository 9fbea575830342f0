/* SPDX-License-Identifier: MIT */
/*
 * status.c - the member's status (status.h): filled in one pass, written
 * as the status document with jansson.
 *
 * The document keeps the keys, shapes and types it had when each module
 * wrote its own fragment (duetctl, its text view and the shell tests read
 * them); "version" (DUET_STATUS_VERSION) is new. Data-node parts (acting,
 * pg, checks, ...) are absent on the witness; "traps" is null there.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node_internal.h"
#include "status.h"
#include "trapd.h"

/* ---- filling ---------------------------------------------------------------- */

static const char *member_name(const struct node *n, uint32_t id)
{
	const struct duet_member *m = duet_membership_find(&n->cfg.membership, id);
	return m ? m->name : NULL;
}

static const char *election_reason_name(int r)
{
	return r == RAFT_ELECTION_TIMEOUT    ? "timeout"
	       : r == RAFT_ELECTION_TRANSFER ? "transfer"
					     : "none";
}

static const char *master_reason_name(uint8_t r)
{
	switch (r) {
	case DUET_MASTER_FIRST_START:
		return "first_start";
	case DUET_MASTER_FAILOVER:
		return "failover";
	case DUET_MASTER_SWITCHOVER:
		return "switchover";
	case DUET_MASTER_FORCED:
		return "forced";
	default:
		return "none";
	}
}

/* maintenance: since_index is the entry that set the current state (0:
 * never set). who, why and since_ms are the operator's when the fsm's last
 * OPERATOR entry is that one (nothing recorded after it), else unknown:
 * duetctl log --type OPERATOR has them. */
static void fill_maintenance(const struct node *n, struct duet_status_maintenance *m)
{
	const struct fsm_operator_state *lo = &n->fsm.last_operator;
	m->on = n->fsm.maintenance;
	m->since_index = n->fsm.maintenance_since;
	m->known =
	    n->fsm.maintenance_since && lo->index == n->fsm.maintenance_since &&
	    (lo->op.command == DUET_OP_MAINTENANCE_ON || lo->op.command == DUET_OP_MAINTENANCE_OFF);
	if (m->known) {
		m->since_ms = lo->wall_ms;
		m->who = lo->op.who;
		m->why = lo->op.why;
	}
}

static void fill_peers(struct node *n, struct duet_status *st)
{
	const struct raft_status *rs = &st->raft;
	for (uint32_t i = 0; i < n->cfg.membership.n && st->n_peers < DUET_MAX_MEMBERS; i++) {
		const struct duet_member *m = &n->cfg.membership.members[i];
		if (m->id == n->cfg.self_id)
			continue;
		struct duet_status_peer *p = &st->peers[st->n_peers++];
		p->id = m->id;
		p->name = m->name;
		p->witness = m->kind == DUET_MEMBER_WITNESS;
		p->links_up = n->xport && !n->stopping ? xport_links_up(n->xport, m->id) : 0;
		if (rs->role != RAFT_LEADER)
			continue;
		for (uint32_t k = 0; k < rs->n_peers; k++) {
			const struct raft_peer_status *rp = &rs->peers[k];
			if (rp->id != m->id)
				continue;
			p->leader_view = true;
			p->match_index = rp->match_index;
			p->next_index = rp->next_index;
			p->inflight = rp->inflight;
			p->acked = rp->last_ack_ms != 0;
			p->last_ack_ms_ago = rp->last_ack_ms ? st->now_ms - rp->last_ack_ms : 0;
		}
	}
}

/* The members as the applied state has them (every member applies it). */
static void fill_members(struct node *n, struct duet_status *st)
{
	for (uint32_t i = 0; i < n->fsm.membership.n && st->n_members < DUET_MAX_MEMBERS; i++) {
		const struct duet_member *m = &n->fsm.membership.members[i];
		const struct fsm_node *fn = fsm_node_find(&n->fsm, m->id);
		struct duet_status_member *sm = &st->members[st->n_members++];
		sm->name = m->name;
		sm->role = fsm_role_name(fsm_role_of(&n->fsm, m->id));
		sm->sync = fn && fn->sync;
		sm->sync_since_index = fn ? fn->sync_since_index : 0;
		sm->critical_failing = ctl_check_failing(n, m->id);
	}
}

struct duet_status *duet_status_new(struct node *n)
{
	struct duet_status *st = calloc(1, sizeof *st);
	if (!st)
		return NULL;
	st->version = DUET_STATUS_VERSION;
	st->now_ms = node_now_ms();
	st->wall_ms = node_wall_ms();
	raft_status(n->raft, st->now_ms, &st->raft);
	st->lease = raft_lease_valid(n->raft, st->now_ms);
	st->id = n->cfg.self_id;
	st->name = n->cfg.node_name;
	st->cluster = n->cfg.cluster_name;
	st->witness = n->cfg.self_kind == DUET_MEMBER_WITNESS;
	st->pid = (long)getpid();
	st->uptime_ms = st->now_ms - n->start_ms;
	st->fsm_applied_index = n->fsm.applied_index;
	st->leader = member_name(n, st->raft.leader);
	st->election_reason = election_reason_name(st->raft.last_election_reason);
	st->election_known = st->raft.last_election_ms != 0;
	if (st->election_known)
		st->election_ago_ms = st->now_ms - st->raft.last_election_ms;
	st->master.id = n->fsm.master.node;
	st->master.node = member_name(n, n->fsm.master.node);
	st->master.reason = master_reason_name(n->fsm.master.reason);
	st->master.since_index = n->fsm.master.since_index;
	fill_maintenance(n, &st->maintenance);
	rejoin_status_fill(n, st);
	st->fsm.refused = n->fsm.counters.refused;
	st->fsm.last_refusal = n->fsm.last_refusal.index ? n->fsm.last_refusal.why : NULL;
	fill_peers(n, st);
	fill_members(n, st);
	if (n->xport && !n->stopping)
		xport_get_stats(n->xport, &st->xport);
	st->frames_not_raft = n->frames_bad;
	st->send_failures = n->sends_failed;
	st->admin_clients = n->n_clients;
	st->admin_refused = n->admin_refused;
	if (n->cfg.self_kind == DUET_MEMBER_DATA) {
		st->have_ctl = true;
		ctl_status_fill(n, &st->ctl);
	}
	st->have_traps = trapd_status_fill(n, &st->traps);
	return st;
}

void duet_status_free(struct duet_status *st)
{
	if (!st)
		return;
	json_decref(st->traps.sink_json);
	free(st);
}

/* ---- the document ----------------------------------------------------------- */

/* A text, or null. Bytes that are not UTF-8 (a name from an old config)
 * are written as U+00XX each, so the document stays valid. */
json_t *duet_status_text(const char *s)
{
	if (!s)
		return json_null();
	json_t *j = json_string(s);
	if (j)
		return j;
	size_t len = strlen(s);
	char *u = malloc(len * 2 + 1);
	if (!u)
		return json_null();
	size_t k = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x80) {
			u[k++] = (char)*p;
		} else {
			u[k++] = (char)(0xc0 | (*p >> 6));
			u[k++] = (char)(0x80 | (*p & 0x3f));
		}
	}
	u[k] = 0;
	j = json_string(u);
	free(u);
	return j ? j : json_null();
}

static json_t *uint_(uint64_t v)
{
	return json_integer((json_int_t)v);
}

static void set(json_t *o, const char *key, json_t *v)
{
	json_object_set_new(o, key, v ? v : json_null());
}

static json_t *peers_json(const struct duet_status *st)
{
	json_t *a = json_array();
	for (uint32_t i = 0; i < st->n_peers; i++) {
		const struct duet_status_peer *p = &st->peers[i];
		json_t *o = json_pack("{s:I,s:o,s:i,s:s}", "id", (json_int_t)p->id, "name",
				      duet_status_text(p->name), "links_up", p->links_up, "kind",
				      p->witness ? "witness" : "data");
		if (o && p->leader_view) {
			set(o, "match_index", uint_(p->match_index));
			set(o, "next_index", uint_(p->next_index));
			set(o, "inflight", uint_(p->inflight));
			set(o, "last_ack_ms_ago", p->acked ? uint_(p->last_ack_ms_ago) : NULL);
		}
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *transport_json(const struct duet_status *st)
{
	const struct xport_stats *x = &st->xport;
	json_t *refused = json_pack(
	    "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "bad_cert", (json_int_t)x->refused_bad_cert,
	    "unknown_member", (json_int_t)x->refused_unknown_member, "wrong_peer",
	    (json_int_t)x->refused_wrong_peer, "handshake_timeout",
	    (json_int_t)x->refused_handshake_timeout, "tls_error", (json_int_t)x->refused_tls_error,
	    "bad_frame", (json_int_t)x->refused_bad_frame, "oversized_frame",
	    (json_int_t)x->refused_oversized_frame, "too_many_conns",
	    (json_int_t)x->refused_too_many_conns);
	json_t *o =
	    json_pack("{s:I,s:I,s:I,s:I,s:o}", "accepted", (json_int_t)x->accepted, "dialed",
		      (json_int_t)x->dialed, "links_up", (json_int_t)x->links_up, "links_down",
		      (json_int_t)x->links_down, "refused", refused ? refused : json_null());
	if (!o)
		return NULL;
	set(o, "read_timeouts", uint_(x->read_timeouts));
	set(o, "connect_failures", uint_(x->connect_failures));
	set(o, "send_queue_full", uint_(x->send_queue_full));
	set(o, "send_no_link", uint_(x->send_no_link));
	set(o, "frames_sent", uint_(x->frames_sent));
	set(o, "frames_received", uint_(x->frames_received));
	set(o, "bytes_sent", uint_(x->bytes_sent));
	set(o, "bytes_received", uint_(x->bytes_received));
	set(o, "frames_not_raft", uint_(st->frames_not_raft));
	set(o, "send_failures", uint_(st->send_failures));
	return o;
}

static json_t *raft_counters_json(const struct raft_status *rs)
{
	const __typeof__(rs->counters) *c = &rs->counters;
	json_t *o = json_object();
	set(o, "elections", uint_(c->elections));
	set(o, "prevotes", uint_(c->prevotes));
	set(o, "leader_terms", uint_(c->leader_terms));
	set(o, "stepdowns_quorum", uint_(c->stepdowns_quorum));
	set(o, "refused_incarnation", uint_(c->refused_incarnation));
	set(o, "refused_store", uint_(c->refused_store));
	set(o, "refused_unknown", uint_(c->refused_unknown));
	set(o, "refused_stale_term", uint_(c->refused_stale_term));
	set(o, "ignored_votes_lease", uint_(c->ignored_votes_lease));
	set(o, "invalid_msgs", uint_(c->invalid_msgs));
	set(o, "snapshots_sent", uint_(c->snapshots_sent));
	set(o, "snapshots_installed", uint_(c->snapshots_installed));
	set(o, "transfers", uint_(c->transfers));
	return o;
}

static json_t *pg_json(const struct duet_status_ctl *c)
{
	json_t *o = json_pack("{s:b,s:b}", "managed", c->pg.managed, "answers", c->pg.answers);
	if (!o)
		return NULL;
	if (c->pg.answers) {
		set(o, "role", duet_status_text(c->pg.role));
		set(o, "lsn", duet_status_text(c->pg.lsn));
		set(o, "synchronous_standby_names", duet_status_text(c->pg.sync_names));
		json_t *a = json_array();
		for (uint32_t i = 0; i < c->pg.n_repl; i++) {
			const struct duet_pg_repl *r = &c->pg.repl[i];
			json_array_append_new(
			    a, json_pack("{s:o,s:o,s:o,s:I,s:I}", "name",
					 duet_status_text(r->application_name), "state",
					 duet_status_text(r->state), "sync_state",
					 duet_status_text(r->sync_state), "flush_lag_bytes",
					 (json_int_t)r->flush_lag_bytes, "replay_lag_bytes",
					 (json_int_t)r->replay_lag_bytes));
		}
		set(o, "replication", a);
	} else {
		set(o, "error", duet_status_text(c->pg.error));
	}
	set(o, "sync_why", duet_status_text(c->pg.sync_why));
	set(o, "probe_age_ms", uint_(c->pg.probe_age_ms));
	return o;
}

static json_t *checks_json(const struct duet_status_ctl *c)
{
	json_t *a = json_array();
	for (unsigned i = 0; i < c->n_checks; i++) {
		const struct duet_health_status *s = &c->checks[i];
		json_t *o =
		    json_pack("{s:o,s:s,s:b,s:b,s:b,s:I}", "name", duet_status_text(s->name),
			      "state", duet_health_state_name(s->state), "critical", s->critical,
			      "paused", s->paused, "in_flight", s->in_flight,
			      "consecutive_failures", (json_int_t)s->consecutive_failures);
		if (!o)
			continue;
		set(o, "detail", duet_status_text(s->detail));
		set(o, "last_duration_ms", uint_(s->last_duration_ms));
		set(o, "probes", uint_(s->probes));
		set(o, "failures", uint_(s->failures));
		set(o, "timeouts", uint_(s->timeouts));
		set(o, "skipped_ticks", uint_(s->skipped_ticks));
		set(o, "late_answers", uint_(s->late_answers));
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *members_json(const struct duet_status *st)
{
	json_t *members = json_array();
	for (uint32_t i = 0; i < st->n_members; i++) {
		const struct duet_status_member *m = &st->members[i];
		json_array_append_new(members, json_pack("{s:o,s:s,s:b,s:I,s:b}", "name",
							 duet_status_text(m->name), "role", m->role,
							 "sync", m->sync, "sync_since_index",
							 (json_int_t)m->sync_since_index,
							 "critical_failing", m->critical_failing));
	}
	return members;
}

static void ctl_json(json_t *doc, const struct duet_status_ctl *c, json_t *members)
{
	set(doc, "acting", duet_status_text(c->acting));
	set(doc, "activation_step", duet_status_text(c->activation_step));
	set(doc, "why_not_master", duet_status_text(c->why_not_master));
	set(doc, "pg", pg_json(c));
	const struct duet_status_takeover *t = &c->last_takeover;
	set(doc, "last_takeover",
	    json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:b}", "term", (json_int_t)t->term,
		      "committed_after_ms", (json_int_t)t->committed_after_ms, "promoted_after_ms",
		      (json_int_t)t->promoted_after_ms, "fip_after_ms", (json_int_t)t->fip_after_ms,
		      "ready_after_ms", (json_int_t)t->ready_after_ms, "lease_wait_ms",
		      (json_int_t)t->lease_wait_ms, "fenced", t->fenced));
	set(doc, "last_takeover_fence", duet_status_text(t->fence));
	set(doc, "last_takeover_mono_ms",
	    json_pack("{s:I,s:I,s:I,s:I,s:I}", "leader", (json_int_t)t->mono_leader, "committed",
		      (json_int_t)t->mono_committed, "promoted", (json_int_t)t->mono_promoted,
		      "fip", (json_int_t)t->mono_fip, "ready", (json_int_t)t->mono_ready));
	set(doc, "members", members);
	set(doc, "actions",
	    json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "steps_ok", (json_int_t)c->actions.steps_ok,
		      "steps_failed", (json_int_t)c->actions.steps_failed, "demotions",
		      (json_int_t)c->actions.demotions, "handbacks",
		      (json_int_t)c->actions.handbacks, "stepdowns",
		      (json_int_t)c->actions.stepdowns, "forward_dropped",
		      (json_int_t)c->actions.forward_dropped));
	if (c->have_checks)
		set(doc, "checks", checks_json(c));
	const struct duet_status_rebuild *r = &c->rebuild;
	json_t *rb =
	    json_pack("{s:o,s:o,s:o,s:o,s:I,s:I,s:i}", "state", duet_status_text(r->state),
		      "method", duet_status_text(r->method), "reason", duet_status_text(r->reason),
		      "step", duet_status_text(r->step), "bytes_done", (json_int_t)r->bytes_done,
		      "bytes_total", (json_int_t)r->bytes_total, "percent", r->percent);
	if (rb) {
		set(rb, "elapsed_ms", uint_(r->elapsed_ms));
		set(rb, "state_ms", uint_(r->state_ms));
		set(rb, "failures", uint_(r->failures));
		set(rb, "detail", duet_status_text(r->detail));
		set(rb, "error", duet_status_text(r->error));
	}
	set(doc, "pg_rebuild", rb);
	set(doc, "switchover",
	    json_pack("{s:o,s:o,s:I,s:o}", "state", duet_status_text(c->switchover.state), "to",
		      duet_status_text(c->switchover.to), "elapsed_ms",
		      (json_int_t)c->switchover.elapsed_ms, "detail",
		      duet_status_text(c->switchover.detail)));
	set(doc, "watchdog",
	    json_pack("{s:o,s:b,s:I,s:I,s:I,s:o}", "device", duet_status_text(c->watchdog.device),
		      "armed", c->watchdog.armed, "timeout_s", (json_int_t)c->watchdog.timeout_s,
		      "pets", (json_int_t)c->watchdog.pets, "errors",
		      (json_int_t)c->watchdog.errors, "error",
		      duet_status_text(c->watchdog.error)));
}

static json_t *udp_json(const struct duet_status_udp *u, unsigned n)
{
	json_t *a = json_array();
	for (unsigned i = 0; i < n; i++)
		json_array_append_new(a, json_pack("{s:i,s:I,s:I,s:I,s:I,s:I}", "port", u[i].port,
						   "datagrams", (json_int_t)u[i].s.datagrams,
						   "truncated", (json_int_t)u[i].s.truncated,
						   "kernel_drops", (json_int_t)u[i].s.kernel_drops,
						   "recv_errors", (json_int_t)u[i].s.recv_errors,
						   "rcvbuf", (json_int_t)u[i].s.rcvbuf));
	return a;
}

/* The refusals of a server: only the reasons that happened. */
static json_t *refusals_json(const uint64_t *drops, int n, const char *(*name)(int))
{
	json_t *o = json_object();
	for (int d = 1; d < n; d++)
		if (drops[d])
			set(o, name(d), uint_(drops[d]));
	return o;
}

static const char *http_drop_name(int d)
{
	return trap_http_drop_name((enum trap_http_drop)d);
}

static const char *tcp_drop_name(int d)
{
	return trap_syslog_tcp_drop_name((enum trap_syslog_tcp_drop)d);
}

static json_t *rx_json(const struct duet_status_rx *r)
{
	json_t *o = json_object();
	for (unsigned s = 0; s < r->n_src; s++) {
		json_t *src = json_pack("{s:I,s:I,s:I,s:I}", "copies", (json_int_t)r->src[s].copies,
					"oversized", (json_int_t)r->src[s].oversized, "empty",
					(json_int_t)r->src[s].empty, "truncated",
					(json_int_t)r->src[s].truncated);
		for (int d = 0; src && d < DUET_TRAP_DROP_N; d++)
			set(src, duet_trap_drop_name(d), uint_(r->src[s].results[d]));
		set(o, r->src[s].name, src);
	}
	set(o, "syslog_udp_listeners", udp_json(r->syslog_udp, r->n_syslog_udp));
	set(o, "snmp_udp_listeners", udp_json(r->snmp_udp, r->n_snmp_udp));
	json_t *snmp = json_object();
	for (unsigned i = 0; i < r->n_snmp_refused; i++)
		set(snmp, r->snmp_refused[i].name, uint_(r->snmp_refused[i].n));
	set(o, "snmp_refused", snmp);
	set(o, "informs_answered", uint_(r->informs_answered));
	set(o, "inform_answer_failed", uint_(r->inform_answer_failed));
	if (r->have_http) {
		const struct trap_http_stats *h = &r->http;
		set(o, "http_server",
		    json_pack("{s:I,s:I,s:I,s:I,s:o}", "connections_accepted",
			      (json_int_t)h->connections_accepted, "connections_open",
			      (json_int_t)h->connections_open, "requests", (json_int_t)h->requests,
			      "traps_accepted", (json_int_t)h->traps_accepted, "refused",
			      refusals_json(h->drops, TRAP_HTTP_DROP_N, http_drop_name)));
	}
	if (r->have_syslog_tcp) {
		const struct trap_syslog_tcp_stats *t = &r->syslog_tcp;
		set(o, "syslog_tcp_server",
		    json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:o}", "connections_accepted",
			      (json_int_t)t->connections_accepted, "connections_open",
			      (json_int_t)t->connections_open, "connections_paused",
			      (json_int_t)t->connections_paused, "idle_closed",
			      (json_int_t)t->idle_closed, "frames", (json_int_t)t->frames, "busy",
			      (json_int_t)t->busy, "refused",
			      refusals_json(t->drops, TRAP_SYSLOG_TCP_DROP_N, tcp_drop_name)));
	}
	return o;
}

static json_t *traps_json(const struct duet_status_traps *t)
{
	const struct duet_trap_pipe_stats *s = &t->pipe;
	json_t *o =
	    json_pack("{s:b,s:b,s:I,s:I}", "proposing", t->proposing, "delivering", t->delivering,
		      "received", (json_int_t)s->received, "taken", (json_int_t)s->taken);
	if (!o)
		return NULL;
	json_t *drops = json_object();
	for (int i = 1; i < DUET_TRAP_DROP_N; i++)
		set(drops, duet_trap_drop_name(i), uint_(s->drops[i]));
	set(o, "drops", drops);
	static const struct {
		const char *key;
		size_t off;
	} pipe[] = {
#define P(k, f) {k, offsetof(struct duet_trap_pipe_stats, f)}
	    P("outbox", outbox),
	    P("inflight", inflight),
	    P("pending", pending),
	    P("proposed", proposed),
	    P("committed", committed),
	    P("committed_repeats", committed_repeats),
	    P("matched_by_commit", matched_by_commit),
	    P("forwarded_sent", forwarded_sent),
	    P("forwarded_received", forwarded_received),
	    P("forwarded_duplicate", forwarded_duplicate),
	    P("forwarded_committed", forwarded_committed),
	    P("answers_received", acks_received),
	    P("answer_matched", ack_matched),
	    P("committed_keys", committed_keys),
	    P("keys_evicted", keys_evicted),
	    P("undelivered", undelivered),
	    P("undelivered_bytes", undelivered_bytes),
	    P("delivered_index", delivered_index),
	    P("last_committed_index", last_committed_index),
#undef P
	};
	for (size_t i = 0; i < sizeof pipe / sizeof pipe[0]; i++)
		set(o, pipe[i].key, uint_(*(const uint64_t *)((const char *)s + pipe[i].off)));
	set(o, "submitted_index", uint_(t->submitted));
	set(o, "confirmed_index", uint_(t->confirmed));
	const struct trapd_counters *c = &t->c;
	set(o, "batches", uint_(c->batches));
	set(o, "batch_busy", uint_(c->batch_busy));
	set(o, "forward_frames", uint_(c->forward_frames));
	set(o, "forward_failed", uint_(c->forward_failed));
	set(o, "answers_sent", uint_(c->answers));
	set(o, "forwards_not_leader", uint_(c->forwards_not_leader));
	set(o, "frames_bad", uint_(c->frames_bad));
	set(o, "bad_entries", uint_(c->bad_entries));
	set(o, "delivered_entries", uint_(c->delivered_entries));
	set(o, "submit_busy", uint_(c->submit_busy));
	set(o, "confirms", uint_(c->confirms));
	set(o, "undeliverable", uint_(c->undeliverable));
	set(o, "keys_restored", uint_(s->keys_restored));
	set(o, "window_seeded", uint_(s->window_seeded));
	set(o, "window_renumbered", uint_(s->window_renumbered));
	set(o, "snapshot_keys_cut", uint_(c->keys_cut));
	set(o, "backlog_max", uint_(t->backlog_max));
	set(o, "backlog_max_bytes", uint_(t->backlog_max_bytes));
	set(o, "live_bytes", uint_(s->live_bytes));
	set(o, "backlog_full", json_boolean(s->backlog_full));
	set(o, "forwarded_full", uint_(s->forwarded_full));
	set(o, "backlog_waits", uint_(s->backlog_waits));
	set(o, "sink", t->have_sink && t->sink_json ? json_incref(t->sink_json) : NULL);
	set(o, "receivers", t->have_rx ? rx_json(&t->rx) : NULL);
	return o;
}

static json_t *maintenance_json(const struct duet_status_maintenance *m)
{
	bool k = m->known;
	return json_pack(
	    "{s:b,s:I,s:o,s:o,s:o}", "on", m->on, "since_index", (json_int_t)m->since_index,
	    "since_ms", k ? uint_(m->since_ms) : json_null(), "who",
	    duet_status_text(k ? m->who : NULL), "why", duet_status_text(k ? m->why : NULL));
}

json_t *duet_status_maintenance_json(const struct node *n)
{
	struct duet_status_maintenance m;
	memset(&m, 0, sizeof m);
	fill_maintenance(n, &m);
	return maintenance_json(&m);
}

json_t *duet_status_to_json(const struct duet_status *st)
{
	const struct raft_status *rs = &st->raft;
	json_t *doc =
	    json_pack("{s:b,s:i,s:I,s:o,s:s,s:o,s:I,s:I,s:s}", "ok", 1, "version", st->version,
		      "id", (json_int_t)st->id, "name", duet_status_text(st->name), "kind",
		      st->witness ? "witness" : "data", "cluster", duet_status_text(st->cluster),
		      "pid", (json_int_t)st->pid, "uptime_ms", (json_int_t)st->uptime_ms, "role",
		      raft_role_name(rs->role));
	if (!doc)
		return NULL;
	set(doc, "term", uint_(rs->term));
	set(doc, "vote", uint_(rs->vote));
	set(doc, "leader_id", uint_(rs->leader));
	set(doc, "leader", duet_status_text(st->leader));
	set(doc, "commit_index", uint_(rs->commit_index));
	set(doc, "applied_index", uint_(rs->applied_index));
	set(doc, "fsm_applied_index", uint_(st->fsm_applied_index));
	set(doc, "persisted_index", uint_(rs->persisted_index));
	set(doc, "first_index", uint_(rs->first_index));
	set(doc, "last_index", uint_(rs->last_index));
	set(doc, "last_term", uint_(rs->last_term));
	set(doc, "snapshot_index", uint_(rs->snapshot_index));
	set(doc, "lease",
	    json_pack("{s:b,s:o,s:I}", "valid", st->lease, "holder",
		      duet_status_text(st->lease ? st->name : NULL), "expiry_in_ms",
		      (json_int_t)(rs->lease_expiry_ms
				       ? (int64_t)rs->lease_expiry_ms - (int64_t)st->now_ms
				       : 0)));
	set(doc, "last_election",
	    json_pack("{s:s,s:o}", "reason", st->election_reason, "ago_ms",
		      st->election_known ? uint_(st->election_ago_ms) : json_null()));
	set(doc, "master",
	    json_pack("{s:o,s:I,s:s,s:I}", "node", duet_status_text(st->master.node), "id",
		      (json_int_t)st->master.id, "reason", st->master.reason, "since_index",
		      (json_int_t)st->master.since_index));
	set(doc, "maintenance", maintenance_json(&st->maintenance));
	set(doc, "incarnation", uint_(st->rejoin.incarnation));
	char sid[17];
	snprintf(sid, sizeof sid, "%016" PRIx64, st->rejoin.store_id);
	set(doc, "store_id", json_string(sid));
	json_t *ms = json_array();
	for (uint32_t i = 0; i < rs->conf.n; i++) {
		const struct duet_member *m = &rs->conf.members[i];
		snprintf(sid, sizeof sid, "%016" PRIx64, m->store_id);
		json_array_append_new(
		    ms, json_pack("{s:I,s:o,s:I,s:s,s:s}", "id", (json_int_t)m->id, "name",
				  duet_status_text(m->name), "incarnation",
				  (json_int_t)m->incarnation, "store_id", sid, "kind",
				  m->kind == DUET_MEMBER_WITNESS ? "witness" : "data"));
	}
	set(doc, "membership", ms);
	set(doc, "rejoin",
	    json_pack("{s:s,s:b,s:I,s:I,s:I,s:o}", "state", st->rejoin.state, "automatic",
		      st->rejoin.automatic, "asked", (json_int_t)st->rejoin.asked,
		      "view_incarnation", (json_int_t)st->rejoin.view_incarnation, "entry_index",
		      (json_int_t)st->rejoin.entry_index, "answer",
		      duet_status_text(st->rejoin.answer)));
	set(doc, "fsm",
	    json_pack("{s:I,s:o}", "refused", (json_int_t)st->fsm.refused, "last_refusal",
		      duet_status_text(st->fsm.last_refusal)));
	set(doc, "peers", peers_json(st));
	set(doc, "transport", transport_json(st));
	set(doc, "raft", raft_counters_json(rs));
	set(doc, "admin",
	    json_pack("{s:I,s:I}", "clients", (json_int_t)st->admin_clients, "refused",
		      (json_int_t)st->admin_refused));
	if (st->have_ctl)
		ctl_json(doc, &st->ctl, members_json(st));
	else
		set(doc, "members", members_json(st));
	set(doc, "traps", st->have_traps ? traps_json(&st->traps) : NULL);
	return doc;
}

char *node_status_json(struct node *n)
{
	struct duet_status *st = duet_status_new(n);
	json_t *doc = st ? duet_status_to_json(st) : NULL;
	duet_status_free(st);
	char *s = doc ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(doc);
	return s;
}
