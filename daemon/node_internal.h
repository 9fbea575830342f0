/* SPDX-License-Identifier: MIT */
/*
 * node_internal.h - one member process (duetd or duet-witness) on one libuv
 * loop: store, raft core, transport, fsm, tick timer, admin socket, signals.
 *
 * Everything here runs in the loop's thread except the storage writes, which
 * run on libuv's threadpool (uv_queue_work) one at a time: while a write is
 * in flight (n->member.persisting) the loop keeps serving messages, ticks and admin
 * requests, and the core batches what happens meanwhile into the next
 * update (raftlog.h: one update outstanding).
 */
#ifndef DUET_NODE_INTERNAL_H
#define DUET_NODE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <uv.h>

#include "duet/config.h"
#include "duet/fsm.h"
#include "duet/member.h"
#include "duet/raftlog.h"
#include "duet/storage.h"
#include "duet/transport.h"

#include "ctl.h"
#include "notify.h"

/* Frame type of a raft message in the transport (raft_msg_encode payload). */
#define NODE_FRAME_RAFT 1
/* A follower's proposal forwarded to the leader (ctl_propose.c). */
#define NODE_FRAME_PROPOSE 2
/* Rejoin (rejoin.c): a wiped member's request (an encoded OPERATOR REJOIN),
 * and the leader's answer (u64 incarnation, 0: refused; u64 entry; text). */
#define NODE_FRAME_REJOIN        5
#define NODE_FRAME_REJOIN_ANSWER 6
/* Snapshot and checkpoint thresholds: member.h (MEMBER_SNAPSHOT_EVERY_*). */
/* Bounds of the admin socket. */
#define ADMIN_MAX_REQUEST_BYTES 4096
#define ADMIN_MAX_CLIENTS       16

struct admin_client;
struct trapd_state;
struct trapd_rx;
struct http_api;

enum node_rejoin_state {
	NODE_REJOIN_NONE = 0,
	NODE_REJOIN_WAITING,     /* marker present: no raft until an incarnation is recorded */
	NODE_REJOIN_CATCHING_UP, /* new incarnation stored; own view not yet naming it */
	NODE_REJOIN_DONE,        /* own view names it: votes again */
};

/* The leader's side of one rejoin (rejoin.c). */
struct node_rejoin_lead {
	bool active; /* proposed, waiting for the MEMBERSHIP to apply */
	uint32_t node;
	uint64_t incarnation, term, index;
	/* store ids (rejoin.c, "Store ids"): what each peer said in its last raft
	 * message, and the binding MEMBERSHIP in flight */
	struct {
		uint32_t id;
		uint64_t incarnation, store_id;
	} seen[DUET_MAX_MEMBERS];
	uint64_t bind_index;    /* 0: none in flight */
	uint64_t bind_check_ms; /* last look (rejoin_step runs every loop turn) */
	uint64_t refused_store_logged, refused_store_log_ms;
};

struct node {
	uv_loop_t *loop;
	const char *prog; /* "duetd" or "duet-witness" */
	const char *config_path;
	struct duet_config cfg;

	struct store *store;
	/* the core and the applied state, driven by `member` (member.h); kept
	 * here, where ctl, admin, trapd and http read them: member.raft and
	 * member.fsm point at these */
	struct raft *raft;
	struct xport *xport;
	struct fsm fsm;
	struct member member;
	struct node_notify notify; /* systemd (notify.c) */

	uv_timer_t tick_timer;
	uv_timer_t kick_timer; /* node_drive_later(): drive() at the next loop turn */
	bool kick_armed;
	uv_signal_t sig_term, sig_int, sig_hup;
	uv_pipe_t admin;
	bool admin_open;
	struct admin_client *clients; /* linked list */
	unsigned n_clients;
	uint64_t admin_refused; /* oversized, malformed or over ADMIN_MAX_CLIENTS */

	/* the update member.persisting, being written on the threadpool */
	uv_work_t work;
	int work_rc;
	const char *work_what;

	bool stopping;
	uint64_t start_ms;
	uint64_t frames_bad; /* transport frames that were no raft message */
	uint64_t sends_failed;
	uint64_t forward_dropped; /* forwarded proposals that found no leader */

	/* data nodes: the role controller (ctl.h) */
	struct ctl ctl;
	/* data nodes: the trap pipeline (trapd.h); NULL on the witness */
	struct trapd_state *traps;
	struct trapd_rx *traps_rx; /* its receivers (trapd_rx.c) */
	/* data nodes: /master, /health, /metrics on [http] listen (http_api.h);
	 * NULL when off */
	struct http_api *http_api;

	/* this member's incarnation as its raft core runs it, and its store's id */
	uint64_t incarnation;
	uint64_t store_id;
	/* rejoin mode (rejoin.c) */
	struct {
		int state; /* enum node_rejoin_state */
		char who[32], why[512];
		uint64_t asked, last_ask_ms;
		uint64_t pending_inc; /* answered, to be stored */
		uint64_t entry_index; /* the leader's MEMBERSHIP entry */
		char answer[256];     /* the last answer (a refusal's reason) */
		bool automatic;       /* entered because no store was found */
		uint64_t last_warn_ms;
	} rejoin;
	struct node_rejoin_lead rejoin_lead;

	/* the admin "probe" in flight (admin.c): at most one at a time */
	struct {
		bool active;
		struct admin_client *client; /* NULL once its client went away */
		uint64_t n, sent, term;
		uint64_t first_index, last_index;
		uint64_t start_us;
		uint32_t bytes;
		uint8_t *payload; /* `bytes` bytes of trap payload */
		uint8_t *buf;     /* one encoded TRAPS batch */
		size_t cap;
	} probe;
};

/* Monotonic milliseconds (what the core's clock is). */
uint64_t node_now_ms(void);
/* Wall clock milliseconds since the epoch (for entries and people). */
uint64_t node_wall_ms(void);
/* Trap receive times (recv_ms): the wall clock as it was at the daemon's
 * start, advanced by the monotonic clock since. A step of the wall clock
 * (settimeofday, an NTP step) does not move them, so the receive times the
 * two nodes give one trap stay comparable: copies are matched on them
 * (traps_pipe.h). The daemon calls it once at start to anchor it. */
uint64_t node_trap_ms(void);

/* Runs a member process to completion; returns the exit status. */
int node_main(int argc, char **argv, const char *prog, uint8_t kind);

/* duetd --release (release.c): the FIP and the manager of this node are
 * released, for the units' ExecStopPost=; refused while duetd runs.
 * Returns the exit status. */
int node_release(const struct duet_config *cfg, const char *prog);

/* Runs the core until it has nothing to do (node.c); admin.c calls it after
 * proposing. */
void node_drive(struct node *n);
/* Runs node_drive() at the next loop turn (from action callbacks, which may
 * come from inside drive()). */
void node_drive_later(struct node *n);

/* node.c: the exit status of a failed storage write (EX_IOERR): the units
 * do not restart on it (RestartPreventExitStatus=). Logs what to do first. */
#define NODE_EXIT_STORAGE 74
_Noreturn void node_fatal_storage(struct node *n, const char *what, int rc);

/* node.c: frees the raft core and starts a new one from the store (rejoin). */
int node_restart_raft(struct node *n);

/* rejoin.c */
int rejoin_open(struct node *n);
/* No store at start, and no rejoin marker (DESIGN.md 3): a store is never
 * created at incarnation 1 outside `duetctl init`. Writes the marker
 * durably (so a crash before the new incarnation is stored comes back here,
 * not to a store at incarnation 1), enters rejoin mode and says so loudly.
 * Returns 0 or a negative errno (the marker could not be written). */
int rejoin_enter_auto(struct node *n);
bool rejoin_waiting(const struct node *n);
void rejoin_frame(struct node *n, uint32_t from, uint8_t type, const uint8_t *p, uint32_t len);
/* A raft message from `from` said this incarnation and store id. */
void rejoin_heard_raft(struct node *n, uint32_t from, uint64_t incarnation, uint64_t store_id);
void rejoin_step(struct node *n);

/* admin.c */
int admin_open(struct node *n);
void admin_close(struct node *n);
/* The status document (one JSON object, no newline), malloc'd (status.c). */
char *node_status_json(struct node *n);
/* Proposes what the probe in flight still has to (stops at DUET_EBUSY; retried
 * at the next turn), answers it once its last entry is applied. */
void admin_probe_pump(struct node *n);
void admin_probe_check(struct node *n);
/* Answers the maintenance requests whose change is applied, or whose
 * deadline passed (admin.c; after every drive). */
void admin_maintenance_check(struct node *n);

#endif
