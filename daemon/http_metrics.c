/* SPDX-License-Identifier: MIT */
/*
 * http_metrics.c - the pure half of duetd's HTTP endpoints (http_api.h):
 * the /master rule and the Prometheus text exposition (format 0.0.4) of
 * the member's status.
 *
 * /metrics is written from struct duet_status (status.h), the same struct
 * the status document (`duetctl status --json`) is written from: a number
 * an operator sees in `duetctl status` is the number Prometheus scrapes,
 * and a renamed field is a compile error, not a series that vanishes. A
 * few numbers come from beside the struct: the replicated state's MASTER
 * counters, the /master answer, the HTTP server's own counters.
 *
 * Conventions (https://prometheus.io/docs/practices/naming/): duet_ prefix,
 * base units (seconds, bytes), counters end in _total, moments are Unix
 * timestamps (_timestamp_seconds), names (the leader, a peer) are labels,
 * one series per label set, every family's samples together after its HELP
 * and TYPE; `promtool check metrics` is clean on every member's output.
 *
 * This file: the writer and the families of the member, raft and
 * transport; http_metrics_families.c: the controller's and the traps'.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "duet/err.h"
#include "http_api.h"
#include "http_metrics_internal.h"

bool http_api_is_master(bool acting, bool leader, bool lease_valid, uint32_t master_id,
			uint32_t self_id)
{
	return acting && leader && lease_valid && self_id != 0 && master_id == self_id;
}

/* ---- writing the exposition ---------------------------------------------- */

void http_metrics_label_value(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '"')
			fputs("\\\"", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

/* HELP text: backslash and line feed escaped. */
static void help_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

/* HELP and TYPE of a family, once: rows of one family follow each other. */
void mw_family(struct writer *w, const char *name, enum metric_type type, const char *help)
{
	if (w->family && strcmp(w->family, name) == 0)
		return;
	w->family = name;
	fprintf(w->f, "# HELP %s ", name);
	help_text(w->f, help);
	fprintf(w->f, "\n# TYPE %s %s\n", name, type == COUNTER ? "counter" : "gauge");
}

static void sample_name(struct writer *w, const struct label *l, size_t n)
{
	fputs(w->family, w->f);
	if (n) {
		fputc('{', w->f);
		for (size_t i = 0; i < n; i++) {
			fprintf(w->f, "%s%s=\"", i ? "," : "", l[i].key);
			http_metrics_label_value(w->f, l[i].value ? l[i].value : "");
			fputc('"', w->f);
		}
		fputc('}', w->f);
	}
	fputc(' ', w->f);
}

void mw_sample_i(struct writer *w, const struct label *l, size_t n, long long v)
{
	sample_name(w, l, n);
	fprintf(w->f, "%lld\n", v);
}

void mw_sample_u(struct writer *w, const struct label *l, size_t n, uint64_t v)
{
	sample_name(w, l, n);
	fprintf(w->f, "%" PRIu64 "\n", v);
}

/* Milliseconds written as seconds, exactly ("1.234"). */
void mw_sample_ms(struct writer *w, const struct label *l, size_t n, long long ms)
{
	sample_name(w, l, n);
	unsigned long long a = ms < 0 ? 0ull - (unsigned long long)ms : (unsigned long long)ms;
	fprintf(w->f, "%s%llu.%03llu\n", ms < 0 ? "-" : "", a / 1000u, a % 1000u);
}

void mw_sample_double(struct writer *w, const struct label *l, size_t n, double v)
{
	sample_name(w, l, n);
	fprintf(w->f, "%.17g\n", v);
}

/* ---- the member, raft, transport ------------------------------------------- */

void mw_one(struct writer *w, const char *name, enum metric_type type, const char *help, uint64_t v)
{
	mw_family(w, name, type, help);
	mw_sample_u(w, NULL, 0, v);
}

void mw_one_label(struct writer *w, const char *name, enum metric_type type, const char *help,
		  const char *key, const char *value, uint64_t v)
{
	mw_family(w, name, type, help);
	struct label l = {key, value};
	mw_sample_u(w, &l, 1, v);
}

static const char H_REFUSED[] = "Raft messages refused, by reason.";
static const char H_FRAMES[] = "Frames sent and received over peer links (keepalives not "
			       "included).";
static const char H_BYTES[] = "Frame bytes sent and received over peer links, before TLS.";
static const char H_SEND_FAIL[] = "Frames not sent to a peer, by reason.";
static const char H_TREFUSED[] = "Peer connections refused, by reason (bad_cert: a certificate "
				 "of another CA, unknown_member, ...).";

static void write_raft(struct writer *w, const struct duet_status *st)
{
	const struct raft_status *rs = &st->raft;
	mw_family(w, "duet_uptime_seconds", GAUGE, "Time since this daemon started.");
	mw_sample_ms(w, NULL, 0, (long long)st->uptime_ms);
	mw_one(w, "duet_raft_term", GAUGE, "The raft term this node is in.", rs->term);
	mw_family(w, "duet_raft_leader", GAUGE,
		  "The leader this node follows (leader=\"\": none known); always 1.");
	struct label ll = {"leader", st->leader ? st->leader : ""};
	mw_sample_i(w, &ll, 1, 1);
	mw_one(w, "duet_raft_commit_index", GAUGE,
	       "Highest log index this node knows to be committed.", rs->commit_index);
	mw_one(w, "duet_raft_applied_index", GAUGE,
	       "Highest log index applied to the state machine here.", rs->applied_index);
	mw_one(w, "duet_raft_last_index", GAUGE, "Index of the last entry of this node's log.",
	       rs->last_index);
	mw_one(w, "duet_raft_snapshot_index", GAUGE, "Log index of this node's last snapshot.",
	       rs->snapshot_index);
	mw_one(w, "duet_lease_valid", GAUGE, "1 while this node leads with a valid master lease.",
	       st->lease);
	mw_one(w, "duet_maintenance", GAUGE,
	       "1 while maintenance is on (duetctl maintenance): no automatic failover.",
	       st->maintenance.on);
	if (st->maintenance.on && st->maintenance.known) {
		mw_family(w, "duet_maintenance_info", GAUGE,
			  "While maintenance is on: who set it and why (duetctl maintenance on "
			  "--why); always 1.");
		struct label l[] = {{"who", st->maintenance.who}, {"why", st->maintenance.why}};
		mw_sample_i(w, l, 2, 1);
	}
	const __typeof__(rs->counters) *c = &rs->counters;
	mw_one(w, "duet_raft_elections_total", COUNTER, "Elections this node started.",
	       c->elections);
	mw_one(w, "duet_raft_prevotes_total", COUNTER, "Pre-votes this node started.", c->prevotes);
	mw_one(w, "duet_raft_leader_terms_total", COUNTER,
	       "Terms in which this node became leader.", c->leader_terms);
	mw_one(w, "duet_raft_stepdowns_quorum_total", COUNTER,
	       "Times this leader stepped down because it lost touch with a majority "
	       "(check-quorum).",
	       c->stepdowns_quorum);
	mw_one(w, "duet_raft_transfers_total", COUNTER, "Leadership transfers this node started.",
	       c->transfers);
	mw_one(w, "duet_raft_snapshots_sent_total", COUNTER,
	       "Snapshots this node sent to a follower.", c->snapshots_sent);
	mw_one(w, "duet_raft_snapshots_installed_total", COUNTER,
	       "Snapshots this node installed from a leader.", c->snapshots_installed);
	static const char F_REFUSED[] = "duet_raft_messages_refused_total";
	mw_one_label(w, F_REFUSED, COUNTER, H_REFUSED, "reason", "incarnation",
		     c->refused_incarnation);
	mw_one_label(w, F_REFUSED, COUNTER, H_REFUSED, "reason", "store", c->refused_store);
	mw_one_label(w, F_REFUSED, COUNTER, H_REFUSED, "reason", "unknown_member",
		     c->refused_unknown);
	mw_one_label(w, F_REFUSED, COUNTER, H_REFUSED, "reason", "stale_term",
		     c->refused_stale_term);
	mw_one_label(w, F_REFUSED, COUNTER, H_REFUSED, "reason", "invalid", c->invalid_msgs);
	mw_one(w, "duet_raft_votes_ignored_lease_total", COUNTER,
	       "Vote requests ignored while a leader's lease held.", c->ignored_votes_lease);
	mw_one(w, "duet_fsm_refused_total", COUNTER,
	       "Committed entries the replicated state machine refused (each one is audited).",
	       st->fsm.refused);
}

static void write_transport(struct writer *w, const struct duet_status *st)
{
	const struct xport_stats *x = &st->xport;
	mw_one(w, "duet_transport_links_up_total", COUNTER,
	       "Peer links established (the mutual TLS handshake passed every check).",
	       x->links_up);
	mw_one(w, "duet_transport_links_down_total", COUNTER, "Peer links lost.", x->links_down);
	mw_one(w, "duet_transport_connect_failures_total", COUNTER,
	       "Failed connection attempts to peers.", x->connect_failures);
	mw_one(w, "duet_transport_read_timeouts_total", COUNTER,
	       "Peer links closed for being idle too long.", x->read_timeouts);
	static const char F_FRAMES[] = "duet_transport_frames_total";
	static const char F_BYTES[] = "duet_transport_bytes_total";
	static const char F_FAIL[] = "duet_transport_send_failures_total";
	static const char F_REF[] = "duet_transport_refused_total";
	mw_one_label(w, F_FRAMES, COUNTER, H_FRAMES, "direction", "sent", x->frames_sent);
	mw_one_label(w, F_FRAMES, COUNTER, H_FRAMES, "direction", "received", x->frames_received);
	mw_one_label(w, F_BYTES, COUNTER, H_BYTES, "direction", "sent", x->bytes_sent);
	mw_one_label(w, F_BYTES, COUNTER, H_BYTES, "direction", "received", x->bytes_received);
	mw_one_label(w, F_FAIL, COUNTER, H_SEND_FAIL, "reason", "queue_full", x->send_queue_full);
	mw_one_label(w, F_FAIL, COUNTER, H_SEND_FAIL, "reason", "no_link", x->send_no_link);
	mw_one_label(w, F_REF, COUNTER, H_TREFUSED, "reason", "bad_cert", x->refused_bad_cert);
	mw_one_label(w, F_REF, COUNTER, H_TREFUSED, "reason", "unknown_member",
		     x->refused_unknown_member);
	mw_one_label(w, F_REF, COUNTER, H_TREFUSED, "reason", "wrong_peer", x->refused_wrong_peer);
	mw_one_label(w, F_REF, COUNTER, H_TREFUSED, "reason", "handshake_timeout",
		     x->refused_handshake_timeout);
	mw_one_label(w, F_REF, COUNTER, H_TREFUSED, "reason", "tls_error", x->refused_tls_error);
	mw_one_label(w, F_REF, COUNTER, H_TREFUSED, "reason", "bad_frame", x->refused_bad_frame);
	mw_one_label(w, F_REF, COUNTER, H_TREFUSED, "reason", "oversized_frame",
		     x->refused_oversized_frame);
	mw_one_label(w, F_REF, COUNTER, H_TREFUSED, "reason", "too_many_conns",
		     x->refused_too_many_conns);
}

static void write_peers(struct writer *w, const struct duet_status *st)
{
	for (uint32_t i = 0; i < st->n_peers; i++)
		mw_one_label(w, "duet_peer_links_up", GAUGE,
			     "Links up to each peer (one per redundant link).", "peer",
			     st->peers[i].name, (uint64_t)st->peers[i].links_up);
	/* the leader's view of its followers */
	for (uint32_t i = 0; i < st->n_peers; i++)
		if (st->peers[i].leader_view)
			mw_one_label(
			    w, "duet_raft_peer_match_index", GAUGE,
			    "On the leader: the highest log index each follower is known to hold.",
			    "peer", st->peers[i].name, st->peers[i].match_index);
	for (uint32_t i = 0; i < st->n_peers; i++) {
		const struct duet_status_peer *p = &st->peers[i];
		if (!p->leader_view || !p->acked)
			continue;
		mw_family(w, "duet_raft_peer_last_ack_timestamp_seconds", GAUGE,
			  "On the leader: when each follower last acknowledged (Unix time).");
		struct label l = {"peer", p->name};
		mw_sample_ms(w, &l, 1, (long long)(st->wall_ms - p->last_ack_ms_ago));
	}
}

int http_metrics_write(FILE *f, const struct http_metrics_input *in)
{
	if (!f || !in || !in->status)
		return DUET_EINVAL;
	struct writer w = {.f = f};
	const struct duet_status *st = in->status;
	metrics_write_identity(&w, in);
	write_raft(&w, st);
	write_transport(&w, st);
	write_peers(&w, st);
	metrics_write_members(&w, st);
	if (st->have_ctl) {
		metrics_write_ctl(&w, st);
		metrics_write_pg(&w, st);
		metrics_write_takeover(&w, st);
		metrics_write_checks(&w, st);
	}
	metrics_write_fsm(&w, in->fsm);
	if (st->have_traps)
		metrics_write_traps(&w, &st->traps);
	metrics_write_http(&w, in->http);
	return 0;
}
