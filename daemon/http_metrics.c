/*
 * http_metrics.c - the pure half of duetd's HTTP endpoints (http_api.h):
 * the /master rule and the Prometheus text exposition (format 0.0.4) of
 * the node's status.
 *
 * /metrics is the status document (node_status_json(), what `duetctl
 * status --json` shows) under fixed metric names, plus the few numbers
 * the document does not carry (the replicated state's MASTER counters, the
 * /master answer, the takeover's detection time, the HTTP server's own
 * counters). Reading the document rather than the modules' structs keeps
 * one source for both views: a number an operator sees in `duetctl status`
 * is the number Prometheus scrapes, and the trap receivers' counters stay
 * private to trapd*.c. The price is that a renamed status key would make a
 * series vanish silently; so every field a fixed family reads is either
 * optional (only some nodes have it) or counted in
 * duet_status_fields_missing when absent, which the integration test
 * requires to be 0.
 *
 * Conventions (https://prometheus.io/docs/practices/naming/): duet_ prefix,
 * base units (seconds, bytes), counters end in _total, one series per
 * label set, every family's samples together after its HELP and TYPE.
 *
 * This file: the writer, the document reader, and the families that are
 * one status field each (a table); http_metrics_families.c: the rest.
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

/* ---- reading the status document ------------------------------------------ */

/* The value at a dotted path ("traps.sink.connected"); NULL when a step is
 * absent or not an object. *through_null is set when a step was null (an
 * optional part the node does not have, such as the sink). */
const json_t *mw_path_get(const json_t *root, const char *path, bool *through_null)
{
	const json_t *v = root;
	*through_null = false;
	while (*path) {
		size_t len = strcspn(path, ".");
		char key[64];
		if (len >= sizeof key || !json_is_object(v)) {
			*through_null = json_is_null(v);
			return NULL;
		}
		memcpy(key, path, len);
		key[len] = '\0';
		v = json_object_get(v, key);
		if (!v)
			return NULL;
		path += len + (path[len] == '.');
	}
	return v;
}

bool mw_is_number(const json_t *v)
{
	return json_is_integer(v) || json_is_real(v) || json_is_boolean(v);
}

long long mw_int_of(const json_t *v)
{
	if (json_is_boolean(v))
		return json_is_true(v) ? 1 : 0;
	if (json_is_real(v))
		return (long long)json_real_value(v);
	return json_integer_value(v);
}

const json_t *mw_get(const json_t *root, const char *path)
{
	bool through_null;
	return mw_path_get(root, path, &through_null);
}

/* A field a fixed family needs: present and a number (or null when
 * `nullable`). Counts it missing otherwise, unless `optional`. */
const json_t *mw_need(struct writer *w, const json_t *obj, const char *path, bool optional)
{
	bool through_null;
	const json_t *v = mw_path_get(obj, path, &through_null);
	if (v && (mw_is_number(v) || json_is_null(v)))
		return json_is_null(v) ? NULL : v;
	if (!optional && !through_null)
		w->missing++;
	return NULL;
}

/* A string field (or NULL, counted missing unless optional). */
const char *mw_need_str(struct writer *w, const json_t *obj, const char *path, bool optional)
{
	bool through_null;
	const json_t *v = mw_path_get(obj, path, &through_null);
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_null(v))
		return NULL;
	if (!optional && !through_null)
		w->missing++;
	return NULL;
}

const json_t *mw_need_array(struct writer *w, const json_t *obj, const char *path, bool optional)
{
	bool through_null;
	const json_t *v = mw_path_get(obj, path, &through_null);
	if (json_is_array(v))
		return v;
	if (!optional && !through_null && !json_is_null(v))
		w->missing++;
	return NULL;
}

/* ---- fixed families: one status field each -------------------------------- */

#define OPT 1u /* only some nodes have it: absence is not counted */
#define MS  2u /* milliseconds in the status, seconds in the metric */

struct scalar {
	const char *name;
	enum metric_type type;
	const char *help;
	const char *label_key, *label_value; /* one fixed label, or NULL */
	const char *path;
	unsigned flags;
};

#define ONE(name, type, help, path, flags)                                                         \
	{                                                                                          \
		name, type, help, NULL, NULL, path, flags                                          \
	}
#define LBL(name, type, help, key, value, path, flags)                                             \
	{                                                                                          \
		name, type, help, key, value, path, flags                                          \
	}

static const char H_REFUSED[] = "Raft messages refused, by reason.";
static const char H_FRAMES[] = "Frames sent and received over peer links (keepalives not "
			       "included).";
static const char H_BYTES[] = "Frame bytes sent and received over peer links, before TLS.";
static const char H_SEND_FAIL[] = "Frames not sent to a peer, by reason.";
static const char H_STEPS[] = "Steps of this node's activation chain (fence, lease wait, "
			      "promote, FIP, manager), by result.";
static const char H_FORWARD[] = "Traps forwarded by the standby to the leader: sent here, or "
				"received here.";

static const struct scalar scalars[] = {
    ONE("duet_uptime_seconds", GAUGE, "Time since this daemon started.", "uptime_ms", MS),
    ONE("duet_raft_term", GAUGE, "The raft term this node is in.", "term", 0),
    ONE("duet_raft_leader_id", GAUGE, "Member id of the leader this node follows (0: none known).",
	"leader_id", 0),
    ONE("duet_raft_commit_index", GAUGE, "Highest log index this node knows to be committed.",
	"commit_index", 0),
    ONE("duet_raft_applied_index", GAUGE, "Highest log index applied to the state machine here.",
	"applied_index", 0),
    ONE("duet_raft_last_index", GAUGE, "Index of the last entry of this node's log.", "last_index",
	0),
    ONE("duet_raft_snapshot_index", GAUGE, "Log index of this node's last snapshot.",
	"snapshot_index", 0),
    ONE("duet_lease_valid", GAUGE, "1 while this node leads with a valid master lease.",
	"lease.valid", 0),
    ONE("duet_maintenance", GAUGE,
	"1 while maintenance is on (duetctl maintenance): no automatic failover.", "maintenance.on",
	0),
    ONE("duet_raft_elections_total", COUNTER, "Elections this node started.", "raft.elections", 0),
    ONE("duet_raft_prevotes_total", COUNTER, "Pre-votes this node started.", "raft.prevotes", 0),
    ONE("duet_raft_leader_terms_total", COUNTER, "Terms in which this node became leader.",
	"raft.leader_terms", 0),
    ONE("duet_raft_stepdowns_quorum_total", COUNTER,
	"Times this leader stepped down because it lost touch with a majority (check-quorum).",
	"raft.stepdowns_quorum", 0),
    ONE("duet_raft_transfers_total", COUNTER, "Leadership transfers this node started.",
	"raft.transfers", 0),
    ONE("duet_raft_snapshots_sent_total", COUNTER, "Snapshots this node sent to a follower.",
	"raft.snapshots_sent", 0),
    ONE("duet_raft_snapshots_installed_total", COUNTER,
	"Snapshots this node installed from a leader.", "raft.snapshots_installed", 0),
    LBL("duet_raft_messages_refused_total", COUNTER, H_REFUSED, "reason", "incarnation",
	"raft.refused_incarnation", 0),
    LBL("duet_raft_messages_refused_total", COUNTER, H_REFUSED, "reason", "store",
	"raft.refused_store", 0),
    LBL("duet_raft_messages_refused_total", COUNTER, H_REFUSED, "reason", "unknown_member",
	"raft.refused_unknown", 0),
    LBL("duet_raft_messages_refused_total", COUNTER, H_REFUSED, "reason", "stale_term",
	"raft.refused_stale_term", 0),
    LBL("duet_raft_messages_refused_total", COUNTER, H_REFUSED, "reason", "invalid",
	"raft.invalid_msgs", 0),
    ONE("duet_raft_votes_ignored_lease_total", COUNTER,
	"Vote requests ignored while a leader's lease held.", "raft.ignored_votes_lease", 0),
    ONE("duet_transport_links_up_total", COUNTER,
	"Peer links established (the mutual TLS handshake passed every check).",
	"transport.links_up", 0),
    ONE("duet_transport_links_down_total", COUNTER, "Peer links lost.", "transport.links_down", 0),
    ONE("duet_transport_connect_failures_total", COUNTER, "Failed connection attempts to peers.",
	"transport.connect_failures", 0),
    ONE("duet_transport_read_timeouts_total", COUNTER, "Peer links closed for being idle too long.",
	"transport.read_timeouts", 0),
    LBL("duet_transport_frames_total", COUNTER, H_FRAMES, "direction", "sent",
	"transport.frames_sent", 0),
    LBL("duet_transport_frames_total", COUNTER, H_FRAMES, "direction", "received",
	"transport.frames_received", 0),
    LBL("duet_transport_bytes_total", COUNTER, H_BYTES, "direction", "sent", "transport.bytes_sent",
	0),
    LBL("duet_transport_bytes_total", COUNTER, H_BYTES, "direction", "received",
	"transport.bytes_received", 0),
    LBL("duet_transport_send_failures_total", COUNTER, H_SEND_FAIL, "reason", "queue_full",
	"transport.send_queue_full", 0),
    LBL("duet_transport_send_failures_total", COUNTER, H_SEND_FAIL, "reason", "no_link",
	"transport.send_no_link", 0),
    ONE("duet_fsm_refused_total", COUNTER,
	"Committed entries the replicated state machine refused (each one is audited).",
	"fsm.refused", 0),
    LBL("duet_activation_steps_total", COUNTER, H_STEPS, "result", "ok", "actions.steps_ok", 0),
    LBL("duet_activation_steps_total", COUNTER, H_STEPS, "result", "failed", "actions.steps_failed",
	0),
    ONE("duet_demotions_total", COUNTER, "Times this node stopped acting as master.",
	"actions.demotions", 0),
    ONE("duet_handbacks_total", COUNTER,
	"Times this leader handed leadership back to a live master.", "actions.handbacks", 0),
    ONE("duet_stepdowns_total", COUNTER,
	"Times this master handed over because a critical check failed.", "actions.stepdowns", 0),
    ONE("duet_pg_managed", GAUGE, "1 when duet manages a local PostgreSQL ([pg] conninfo is set).",
	"pg.managed", 0),
    ONE("duet_pg_up", GAUGE, "1 when the last probe of the local PostgreSQL got an answer.",
	"pg.answers", 0),
    ONE("duet_pg_probe_age_seconds", GAUGE, "Time since the last probe of the local PostgreSQL.",
	"pg.probe_age_ms", MS),
    ONE("duet_last_takeover_term", GAUGE,
	"Term of this node's last activation as master since it started (0: none).",
	"last_takeover.term", 0),
    ONE("duet_last_takeover_lease_wait_seconds", GAUGE,
	"How long the last takeover waited for the old master's lease to run out.",
	"last_takeover.lease_wait_ms", MS),
    ONE("duet_last_takeover_fenced", GAUGE,
	"1 when fencing confirmed the old master off in the last takeover.", "last_takeover.fenced",
	0),
    ONE("duet_rebuild_done_bytes", GAUGE,
	"Bytes the running pg_basebackup or pg_rewind has copied (duetctl rejoin, switchover).",
	"pg_rebuild.bytes_done", 0),
    ONE("duet_rebuild_size_bytes", GAUGE, "Bytes the running rebuild expects to copy (0: unknown).",
	"pg_rebuild.bytes_total", 0),
    ONE("duet_rebuild_failures", GAUGE, "Failed attempts of the current rebuild.",
	"pg_rebuild.failures", 0),
    ONE("duet_traps_proposing", GAUGE,
	"1 while this node proposes the traps it receives (leader with the lease).",
	"traps.proposing", 0),
    ONE("duet_traps_delivering", GAUGE, "1 while this node delivers committed traps to the sink.",
	"traps.delivering", 0),
    ONE("duet_traps_pending", GAUGE,
	"Traps this standby holds that no committed TRAPS entry has matched yet.", "traps.pending",
	0),
    ONE("duet_traps_outbox", GAUGE, "Traps waiting to be proposed.", "traps.outbox", 0),
    ONE("duet_traps_inflight", GAUGE, "Traps proposed and not yet committed.", "traps.inflight", 0),
    ONE("duet_traps_committed_total", COUNTER, "Traps committed to the log, as applied here.",
	"traps.committed", 0),
    LBL("duet_traps_forwarded_total", COUNTER, H_FORWARD, "direction", "sent",
	"traps.forwarded_sent", 0),
    LBL("duet_traps_forwarded_total", COUNTER, H_FORWARD, "direction", "received",
	"traps.forwarded_received", 0),
    ONE("duet_traps_undelivered", GAUGE, "Committed traps the sink has not confirmed yet.",
	"traps.undelivered", 0),
    ONE("duet_traps_undelivered_bytes", GAUGE, "Payload bytes of the undelivered traps.",
	"traps.undelivered_bytes", 0),
    ONE("duet_traps_backlog_max_bytes", GAUGE,
	"The backlog's byte bound ([traps] backlog_max_bytes): past it new traps are refused "
	"(duet_traps_dropped_total reason backlog_full).",
	"traps.backlog_max_bytes", 0),
    ONE("duet_traps_backlog_full", GAUGE,
	"1 while the backlog is full: the last trap received was refused for the backlog's "
	"bound and the sink has confirmed nothing since.",
	"traps.backlog_full", 0),
    ONE("duet_traps_delivered_index", GAUGE, "Log index of the last DELIVERED entry.",
	"traps.delivered_index", 0),
    ONE("duet_traps_delivered_total", COUNTER,
	"Traps this node delivered and the sink confirmed (the deliverer only).",
	"traps.sink.records_sent", OPT),
    ONE("duet_trap_sink_connected", GAUGE, "1 while the trap sink is connected.",
	"traps.sink.connected", OPT),
    ONE("duet_trap_sink_errors_total", COUNTER,
	"Failures of the trap sink (each ends a connection).", "traps.sink.errors", OPT),
    ONE("duet_trap_sink_dead_letters_total", COUNTER,
	"Trap records refused for good: kept in <table>_dead by the PostgreSQL sink, replaced "
	"by a notice with their id by the RELP sink (too big).",
	"traps.sink.dead_letters", OPT),
    ONE("duet_trap_sink_queued_bytes", GAUGE, "Bytes submitted to the sink and not confirmed.",
	"traps.sink.queued_bytes", OPT),
};

static void write_scalars(struct writer *w, const json_t *st)
{
	for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++) {
		const struct scalar *s = &scalars[i];
		const json_t *v = mw_need(w, st, s->path, s->flags & OPT);
		if (!v)
			continue;
		mw_family(w, s->name, s->type, s->help);
		struct label l = {s->label_key, s->label_value};
		size_t nl = s->label_key ? 1 : 0;
		if (s->flags & MS)
			mw_sample_ms(w, &l, nl, mw_int_of(v));
		else if (json_is_real(v))
			mw_sample_double(w, &l, nl, json_real_value(v));
		else
			mw_sample_i(w, &l, nl, mw_int_of(v));
	}
}

int http_metrics_write(FILE *f, const struct http_metrics_input *in)
{
	if (!f || !in || !json_is_object(in->status))
		return DUET_EINVAL;
	struct writer w = {.f = f};
	const json_t *st = in->status;
	metrics_write_identity(&w, in);
	write_scalars(&w, st);
	const json_t *refused = mw_get(st, "transport.refused");
	if (json_is_object(refused))
		metrics_write_object_counters(
		    &w, refused, "duet_transport_refused_total",
		    "Peer connections refused, by reason (bad_cert: a certificate "
		    "of another CA, unknown_member, ...).",
		    "reason");
	else
		w.missing++;
	metrics_write_members(&w, st);
	metrics_write_peers(&w, st);
	metrics_write_pg(&w, st);
	metrics_write_takeover(&w, in);
	metrics_write_checks(&w, st);
	metrics_write_states(&w, st);
	metrics_write_fsm(&w, in->fsm);
	metrics_write_traps(&w, st);
	metrics_write_http(&w, in->http);
	mw_family(&w, "duet_status_fields_missing", GAUGE,
		  "Fields of the status document that a metric reads and that were absent: not 0 "
		  "means this duetd's metrics and status disagree (a bug to report).");
	mw_sample_i(&w, NULL, 0, w.missing);
	return w.missing;
}
