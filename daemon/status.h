/* SPDX-License-Identifier: MIT */
/*
 * status.h - the member's status as one typed struct (struct duet_status),
 * filled in one pass from the member, the role controller, the checks, the
 * traps, the rejoin state and the transport (duet_status_new), then
 * serialised with jansson for the admin socket (`duetctl status --json`)
 * or written as the Prometheus exposition (/metrics, http_metrics.c).
 *
 * Texts are pointers into the node (its config, controller and state), or
 * into the struct itself: a struct is filled, used and freed within one
 * turn of the loop. NULL texts are written as JSON null.
 */
#ifndef DUET_STATUS_H
#define DUET_STATUS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "duet/health.h"
#include "duet/pg.h"
#include "duet/raftlog.h"
#include "duet/traps_http.h"
#include "duet/traps_pipe.h"
#include "duet/traps_sink.h"
#include "duet/traps_syslog_tcp.h"
#include "duet/traps_udp.h"
#include "duet/transport.h"

/* The document's "version": raised when a key changes meaning or goes;
 * new keys do not raise it. */
#define DUET_STATUS_VERSION 1

struct node;

struct duet_status_peer {
	uint32_t id;
	const char *name;
	bool witness; /* its kind in the config */
	int links_up;
	bool leader_view; /* the leader's raft view of the follower follows */
	uint64_t match_index, next_index;
	uint32_t inflight;
	bool acked; /* last_ack_ms_ago is known */
	uint64_t last_ack_ms_ago;
};

/* ---- the role controller (data nodes; ctl*.c) ---- */

struct duet_status_member {
	const char *name;
	const char *role; /* fsm_role_name() */
	bool sync;
	uint64_t sync_since_index;
	bool critical_failing;
};

struct duet_status_ctl {
	const char *acting, *activation_step, *why_not_master;
	struct {
		bool managed, answers;
		const char *role; /* "primary" / "standby" when answers */
		const char *lsn, *sync_names;
		const struct duet_pg_repl *repl; /* pg_stat_replication rows */
		uint32_t n_repl;
		const char *error; /* when it does not answer */
		const char *sync_why;
		uint64_t probe_age_ms; /* 0: no probe ended yet */
	} pg;
	struct duet_status_takeover {
		uint64_t term;
		int64_t committed_after_ms, promoted_after_ms, fip_after_ms, ready_after_ms;
		uint64_t lease_wait_ms;
		bool fenced;
		char fence[256];
		uint64_t mono_leader, mono_committed, mono_promoted, mono_fip, mono_ready;
		int64_t detect_ms; /* old master's last message -> leading; < 0: unknown */
	} last_takeover;
	struct {
		uint64_t steps_ok, steps_failed, demotions, handbacks, stepdowns, forward_dropped;
	} actions;
	bool have_checks;
	struct duet_health_status checks[DUET_HEALTH_MAX_CHECKS];
	unsigned n_checks;
	struct duet_status_rebuild {
		const char *state, *method, *reason, *step, *detail, *error;
		uint64_t bytes_done, bytes_total, elapsed_ms, state_ms;
		int percent;
		uint32_t failures;
	} rebuild;
	struct {
		const char *state, *to, *detail;
		uint64_t elapsed_ms;
	} switchover;
	struct {
		const char *device, *error;
		bool armed;
		unsigned timeout_s;
		uint64_t pets, errors;
	} watchdog;
};

/* ---- the traps (data nodes; trapd*.c) ---- */

struct trapd_counters {
	uint64_t batches, batch_busy, forward_frames, forward_failed, answers;
	uint64_t forwards_not_leader, frames_bad, bad_entries, delivered_entries;
	uint64_t submit_busy, confirms, undeliverable;
	uint64_t keys_cut; /* snapshots whose committed keys hit the limit */
};

#define DUET_STATUS_RX_SOURCES 4

struct duet_status_udp {
	int port;
	struct duet_udp_rx_stats s;
};

struct duet_status_rx {
	struct {
		const char *name;
		uint64_t copies, oversized, empty, truncated;
		uint64_t results[DUET_TRAP_DROP_N];
	} src[DUET_STATUS_RX_SOURCES];
	unsigned n_src;
	struct duet_status_udp syslog_udp[DUET_MAX_ADDRS], snmp_udp[DUET_MAX_ADDRS];
	unsigned n_syslog_udp, n_snmp_udp;
	struct {
		const char *name;
		uint64_t n;
	} snmp_refused[64];
	unsigned n_snmp_refused;
	uint64_t informs_answered, inform_answer_failed;
	bool have_http, have_syslog_tcp;
	struct trap_http_stats http;
	struct trap_syslog_tcp_stats syslog_tcp;
};

struct duet_status_traps {
	bool proposing, delivering;
	struct duet_trap_pipe_stats pipe;
	uint64_t submitted, confirmed;
	struct trapd_counters c;
	uint32_t backlog_max;
	uint64_t backlog_max_bytes;
	bool have_sink;
	struct duet_sink_stats sink;
	size_t sink_queued_bytes;
	json_t *sink_json; /* the sink's own stats object (type, target, ...); owned */
	bool have_rx;
	struct duet_status_rx rx;
};

/* ---- the whole ---- */

struct duet_status_maintenance {
	bool on, known; /* known: who, why and since_ms are the setting entry's */
	uint64_t since_index, since_ms;
	const char *who, *why;
};

struct duet_status {
	int version;
	uint32_t id;
	const char *name, *cluster;
	bool witness;
	long pid;
	uint64_t now_ms, wall_ms, uptime_ms;
	uint64_t fsm_applied_index; /* the replicated state's own */
	struct raft_status raft;    /* the core's status; conf is the raft membership */
	const char *leader;         /* its name, NULL when none is known */
	bool lease;
	const char *election_reason;
	bool election_known;
	uint64_t election_ago_ms;
	struct {
		uint32_t id;
		const char *node, *reason;
		uint64_t since_index;
	} master;
	struct duet_status_maintenance maintenance;
	struct {
		uint64_t incarnation, store_id;
		const char *state, *answer;
		bool automatic;
		uint64_t asked, view_incarnation, entry_index;
	} rejoin;
	struct {
		uint64_t refused;
		const char *last_refusal; /* NULL: none */
	} fsm;
	struct duet_status_peer peers[DUET_MAX_MEMBERS];
	uint32_t n_peers;
	/* every member as the applied state (fsm) has it, on every member */
	struct duet_status_member members[DUET_MAX_MEMBERS];
	uint32_t n_members;
	struct xport_stats xport;
	uint64_t frames_not_raft, send_failures;
	unsigned admin_clients;
	uint64_t admin_refused;
	bool have_ctl; /* data nodes */
	struct duet_status_ctl ctl;
	bool have_traps; /* data nodes with the trap pipeline */
	struct duet_status_traps traps;
};

/* A status of n, now (malloc'd; NULL when out of memory). */
struct duet_status *duet_status_new(struct node *n);
void duet_status_free(struct duet_status *st);
/* The status document (what `duetctl status --json` shows): a new object. */
json_t *duet_status_to_json(const struct duet_status *st);
/* s as a JSON string, or null for NULL; bytes that are not UTF-8 (a name
 * from an old config) become U+00XX each, so a document stays valid. */
json_t *duet_status_text(const char *s);

/* The "maintenance" object of the document alone (the answer to duetctl
 * maintenance). */
json_t *duet_status_maintenance_json(const struct node *n);

/* Module fill functions (each fills its part of st from its own state). */
void ctl_status_fill(struct node *n, struct duet_status_ctl *c);
void ctl_health_status_fill(struct node *n, struct duet_status_ctl *c);
void ctl_rebuild_status_fill(struct node *n, struct duet_status_ctl *c);
void ctl_switchover_status_fill(struct node *n, struct duet_status_ctl *c);
void rejoin_status_fill(struct node *n, struct duet_status *st);
/* false when this node has no trap pipeline (the witness) */
bool trapd_status_fill(struct node *n, struct duet_status_traps *t);
/* false when no receivers are open */
bool trapd_rx_status_fill(struct node *n, struct duet_status_rx *r);

#endif
