/* SPDX-License-Identifier: MIT */
/*
 * ctl.h - the data node's role controller: what turns committed decisions
 * into PostgreSQL, FIP, fencing and manager actions (DESIGN.md section 4).
 *
 * One rule drives everything: this node ACTS as master (PostgreSQL primary
 * and writable, FIP held, manager running) only while it is the raft leader
 * holding the lease AND the applied state names it master. ctl_step() runs
 * after every event (tick, message, applied entries, finished action) and
 * compares that rule with what the node is doing:
 *
 *  - it should act and does not: the activation chain runs, one step at a
 *    time, each outcome proposed as a STEP entry: fence the previous master
 *    (when configured), wait out its lease, clear synchronous_standby_names
 *    and promote PostgreSQL, acquire the FIP, start the manager. Which step
 *    runs, what its result does and when it is retried is role/'s
 *    (role_chain_decide, role_chain_outcome); ctl.c performs each command.
 *  - it acts and should not (lease lost, leadership moved, another master
 *    committed): demotion at once, without asking anyone: PostgreSQL
 *    stopped, FIP released, manager stopped. Any step in flight is
 *    abandoned (its callback sees a newer generation and does nothing).
 *    Whether to demote or to activate is role/'s (role_turn_demotion,
 *    role_turn_activation), and so is what a standby removes when it finds
 *    it left over (role_stale_primary, role_sweep_due) and when the master
 *    repeats its gratuitous ARP (role_garp_due).
 *  - as leader with the lease but not master: propose MASTER(self) when this
 *    node is the synchronous standby (failover) or there is no master yet
 *    and the local PostgreSQL is a primary (first start); hand leadership
 *    back when the master is alive, in touch and healthy; otherwise say in
 *    status why there is no failover (a refused MASTER is audited). The
 *    decision is role/'s (role_leader_decide, pure); ctl.c performs it.
 *  - as acting master: keep synchronous replication as DESIGN.md 4.2/4.3
 *    order it (ctl_sync.c), and hand over to the synchronous standby when a
 *    critical check fails (ctl_health.c; the decision: role_step_down_decide).
 *  - maintenance on (duetctl maintenance, an OPERATOR entry): no MASTER
 *    proposal and no hand-over on a failing check; status says why.
 *    Hand-back to a live master and forced promotion still work.
 *
 * Everything runs on the loop thread; the actions are asynchronous (libpq
 * on the loop, commands through uv_spawn, netlink on the threadpool).
 */
#ifndef DUET_CTL_H
#define DUET_CTL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <uv.h>

#include "duet/actions.h"
#include "duet/config.h"
#include "duet/entry.h"
#include "duet/pg.h"
#include "duet/role.h"
#include "duet/watchdog.h"

struct node;
struct duet_fip;
struct duet_health_set;

/* What the node does, and the activation's steps: role/'s values
 * (role.h), under the names the daemon has always used. */
enum ctl_act {
	CTL_UNKNOWN = ROLE_ACT_UNKNOWN,       /* just started: make sure nothing acts */
	CTL_STANDBY = ROLE_ACT_STANDBY,       /* not acting */
	CTL_ACTIVATING = ROLE_ACT_ACTIVATING, /* the activation chain runs */
	CTL_MASTER = ROLE_ACT_MASTER,         /* acting master */
};

enum ctl_step_id {
	CTL_STEP_FENCE = ROLE_STEP_FENCE,
	CTL_STEP_LEASE_WAIT = ROLE_STEP_LEASE_WAIT,
	CTL_STEP_PROMOTE = ROLE_STEP_PROMOTE,
	CTL_STEP_FIP = ROLE_STEP_FIP,
	CTL_STEP_MANAGER = ROLE_STEP_MANAGER,
	CTL_STEP_DONE = ROLE_STEP_DONE,
};

/* The rebuild of this node's PostgreSQL as a standby (ctl_rebuild.c). */
enum ctl_rebuild_state {
	REBUILD_IDLE = 0,
	REBUILD_STOPPING,
	REBUILD_CHECKPOINT,
	REBUILD_REWIND,
	REBUILD_BASEBACKUP,
	REBUILD_CONFIGURING,
	REBUILD_STARTING,
	REBUILD_WAITING_SYNC,
	REBUILD_DONE,
	REBUILD_FAILED,
};

/* ctl_rebuild.stop_look */
enum ctl_rebuild_look {
	REBUILD_LOOK_NONE = 0,
	REBUILD_LOOK_ASKED,
	REBUILD_LOOK_MASTER_DOWN, /* keep the standby: it streams once the master is back */
	REBUILD_LOOK_MASTER_UP,   /* stop and rebuild it */
};

enum ctl_rebuild_method {
	REBUILD_METHOD_UNKNOWN = 0,
	REBUILD_METHOD_NONE,       /* already a standby streaming from the master */
	REBUILD_METHOD_REWIND,     /* pg_rewind */
	REBUILD_METHOD_BASEBACKUP, /* pg_basebackup */
};

struct duet_pg_tool;
struct raft_status;

/* A planned switchover run by the master (ctl_switchover.c). */
enum ctl_switchover_state {
	SWITCHOVER_NONE = 0,
	SWITCHOVER_STOPPING, /* this master stops PostgreSQL, FIP and manager */
	SWITCHOVER_PROPOSED, /* MASTER(to, switchover) proposed, not applied yet */
	SWITCHOVER_DONE,     /* applied: leadership handed to `to`, rebuild started */
	SWITCHOVER_ABORTED,  /* given up before MASTER(to) committed: the master resumes */
};

struct ctl_switchover {
	int state; /* enum ctl_switchover_state */
	uint32_t to;
	uint64_t term; /* the leader term it runs in */
	uint64_t started_ms, stopped_ms, proposed_ms, done_ms;
	char who[DUET_NAME_MAX];
	char detail[256];
};

struct ctl_rebuild {
	int state;          /* enum ctl_rebuild_state */
	int method;         /* enum ctl_rebuild_method */
	bool busy;          /* a command, tool or threadpool job is in flight */
	bool stopped;       /* the stop command ran in this rebuild */
	bool again_soon;    /* the failure is expected to pass soon */
	bool waited_master; /* step says "no master yet" */
	/* WAITING_SYNC: the stream deadline ([pg] rebuild_stream_timeout_ms)
	 * counts from here: the start, or the last time the master's
	 * PostgreSQL was found down or the standby streaming (monotonic ms) */
	uint64_t stream_since_ms;
	uint64_t master_check_at; /* next look at the master while not streaming */
	bool master_checking;     /* ... one is on the threadpool */
	bool master_down;         /* the last look found no primary to stream from */
	/* STOPPING, the local server a standby that does not stream: the
	 * look at the master that decides whether it is kept (enum below) */
	int stop_look;
	uint64_t gen; /* bumped by start and close: stale callbacks do nothing */
	uint64_t started_ms, state_ms, done_ms, retry_at;
	char reason[64]; /* "rejoin", "switchover" */
	char step[160];  /* what the current state is doing, for a person */
	uint64_t bytes_done, bytes_total;
	int percent; /* -1: no progress line yet */
	uint32_t failures;
	char detail[512]; /* the last tool's outcome */
	char error[512];  /* the last failure */
	struct duet_pg_tool *tool;
};

struct ctl {
	int act;           /* enum ctl_act */
	int step;          /* enum ctl_step_id while CTL_ACTIVATING */
	bool step_busy;    /* an action of the chain is in flight */
	uint64_t gen;      /* bumped on every demotion: stale callbacks do nothing */
	uint64_t act_term; /* term of the activation */
	uint64_t retry_at; /* a failed step runs again at this monotonic time */
	uint32_t demotions_in_flight;
	/* DESIGN.md 4.10: armed while activating or acting master (ctl.c,
	 * watchdog_turn) */
	struct duet_watchdog wd;
	/* DESIGN.md 4.9: bumped when the last demotion command in flight ended;
	 * the promote step trusts only a probe started in the current epoch */
	uint64_t demote_epoch;
	uint64_t pg_probe_epoch; /* epoch when the probe in flight started */
	uint64_t pg_last_epoch;  /* epoch when the probe behind pg_last started */
	bool pg_stopped_by_us;   /* our own demotion stopped PostgreSQL (not a health failure) */
	uint64_t pg_started_ms;  /* the activation's start_command succeeded then (0: not) */
	bool demote_failed;      /* a demotion command or the FIP release failed */
	char demote_error[256];  /* ... what failed */
	/* DESIGN.md 4.7: what a node that is not acting master finds left over */
	/* next look for a FIP left over (monotonic ms), its backoff growing
	 * while a release fails (role_fip_sweep_*) */
	struct role_sweep_state sweep;
	bool sweep_busy;
	/* next look for a manager left over, its backoff growing while one is
	 * found again and again (role_manager_sweep_checked) */
	struct role_sweep_state mgr_sweep;
	bool mgr_sweep_busy;
	uint64_t garp_at; /* the acting master's next gratuitous ARP (monotonic ms) */
	bool garp_busy;

	/* the local PostgreSQL */
	struct duet_pg *pg;
	bool pg_probe_busy;
	bool pg_known; /* pg_last is from a probe that answered */
	struct duet_pg_state pg_last;
	uint64_t pg_last_ms;          /* when the last probe ended (answer or error) */
	uint64_t pg_probe_started_ms; /* when the probe in flight started */
	uint64_t pg_last_started_ms;  /* when the probe behind pg_last started */
	char pg_err[256];             /* the last probe's error, "" when it answered */
	uint64_t pg_next_probe;

	/* synchronous replication (ctl_sync.c) */
	bool names_busy;
	uint64_t standby_missing_since;       /* 0: the standby streams */
	struct duet_pg_sync_proof sync_proof; /* DESIGN 4.6, duet_pg_sync_judge */
	char sync_why[320];                   /* status pg.sync_why: why not SYNC (yet) */
	uint64_t sync_proposed_term;          /* a SYNC proposal of this term awaits its commit */
	uint64_t sync_proposed_index;

	struct duet_fip *fip;
	struct duet_health_set *health;
	/* fires when the lease of the acting master runs out, so that the
	 * demotion does not wait for the next raft event */
	uv_timer_t lease_timer;
	bool lease_timer_open;

	/* leadership and failover proposals */
	/* per member (membership order): when we last heard from it while it
	 * was our leader (monotonic ms; 0: never since we started) */
	uint32_t contact_id[DUET_MAX_MEMBERS];
	uint64_t contact_ms[DUET_MAX_MEMBERS];
	struct role_proposal proposal; /* MASTER proposed (once a term) or failed, role.h */
	uint64_t transfer_at;          /* last leadership transfer we started */
	uint64_t stepdown_term;        /* critical failure hand-over started in this term */
	/* the HEALTH entry this leader proposed for its own critical failure:
	 * once committed (commit index, not yet applied here when the local
	 * disk is the slow part) the hand-over may start */
	uint64_t health_fail_term, health_fail_index;
	uint64_t maintenance_hold_term; /* hand-over held back by maintenance, logged */
	uint64_t stale_stop_at;         /* last stop of a stale primary (monotonic ms) */
	char why_not_master[256];       /* for status: why this leader does not take over */

	/* the last takeover, for status and bench-failover */
	struct {
		uint64_t term;
		uint64_t leader_ms;    /* this node became leader (monotonic) */
		uint64_t committed_ms; /* MASTER(self) applied */
		uint64_t promoted_ms;  /* PostgreSQL answered as primary */
		uint64_t fip_ms;       /* FIP acquired */
		uint64_t done_ms;      /* manager started: acting master */
		uint64_t lease_wait_ms;
		bool fence_tried; /* a fence action ran for this takeover */
		bool fenced;      /* ... and confirmed the old master off */
		char fence_detail[160];
	} last;
	uint64_t became_leader_ms;
	uint64_t became_leader_term;

	uint64_t steps_ok, steps_failed, demotions, handbacks, stepdowns;

	struct ctl_rebuild rebuild;
	struct ctl_switchover so;
};

/* Opens the actions from the config (data nodes only); 0 or an error. */
int ctl_open(struct node *n);
/* Closes them; `done` runs once everything is closed. */
void ctl_close(struct node *n);
/* Compares what the node does with what the log says; see above. */
void ctl_step(struct node *n);
/* The transport delivered a raft message from `from` (follower bookkeeping). */
void ctl_heard(struct node *n, uint32_t from, bool from_leader);
/* A forwarded proposal (frame NODE_FRAME_PROPOSE) from a member. */
void ctl_forwarded(struct node *n, uint32_t from, const uint8_t *payload, uint32_t len);
/* Forced promotion (duetctl promote --accept-data-loss): proposes
 * OPERATOR(force promote) and MASTER(self, forced). 0, or an error with
 * a sentence in err. */
int ctl_force_promote(struct node *n, const char *who, const char *why, char *err, size_t errlen);
/* Maintenance (duetctl maintenance on|off, ctl_propose.c): when this node
 * leads, proposes OPERATOR(maintenance on/off, node = self, who, why) with
 * *index its index, unless the applied state has it already (*index 0);
 * otherwise forwards it to the leader (*index 0). 0, or an error with a
 * sentence in err (the witness, no leader known, the witness leads, the
 * proposal or the send failed). The caller waits for the applied state. */
int ctl_maintenance(struct node *n, bool on, const char *who, const char *why, uint64_t *index,
		    char *err, size_t errlen);

/* ctl_sync.c: synchronous replication on the acting master. */
void ctl_sync_step(struct node *n);
/* ctl_propose.c */
int ctl_propose(struct node *n, uint8_t type, const void *payload, uint32_t len, uint64_t *index);
void ctl_propose_step(struct node *n, uint8_t action, uint32_t node, bool ok, uint64_t duration_ms,
		      const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Proposes when leader, forwards to the leader otherwise. */
void ctl_propose_or_forward(struct node *n, uint8_t type, const void *payload, uint32_t len);
/* ctl_health.c */
int ctl_health_open(struct node *n);
void ctl_health_close(struct node *n);
void ctl_health_step(struct node *n);
/* True when a critical check of this node is failing; name in *which. */
bool ctl_health_critical_failing(struct node *n, const char **which);

/* DESIGN.md 4.7: true when this node may perform a side effect of the
 * master role now: it leads, holds a valid lease, the applied log names it
 * master, and it activates or acts for the term it leads. Asked right
 * before every step's action. */
bool ctl_may_act(struct node *n);

/* ctl.c, for ctl_switchover.c */
void ctl_demote(struct node *n, const char *why, bool pg_primary);
/* Probes the local PostgreSQL now (unless a probe is in flight). Call it
 * once per need, not on every step: a probe's end runs ctl_step. */
void ctl_probe_now(struct node *n);
bool ctl_check_failing(const struct node *n, uint32_t id);
void ctl_transfer(struct node *n, uint32_t to, const char *why);
int ctl_propose_master(struct node *n, uint64_t term, uint32_t node, uint8_t reason,
		       const char *detail);

/* ctl_switchover.c: duetctl switchover (a planned change of master). On the
 * leader that acts as master: checks the request, records OPERATOR
 * (switchover) and starts it; elsewhere forwards the OPERATOR entry to the
 * leader. `to`: a member name, "" for the other data node. */
int ctl_switchover(struct node *n, const char *to, const char *who, const char *why, char *err,
		   size_t errlen);
/* The leader got a forwarded OPERATOR(switchover). */
void ctl_switchover_forwarded(struct node *n, const struct duet_operator *op);
/* Drives a switchover in progress; true while it holds the activation back. */
bool ctl_switchover_step(struct node *n, const struct raft_status *st);

/* ctl_rebuild.c: the local PostgreSQL rebuilt as a standby of the master
 * (after duetctl rejoin, and on the old master after a switchover); start
 * does nothing while a rebuild runs. */
void ctl_rebuild_start(struct node *n, const char *reason);
bool ctl_rebuild_active(const struct node *n);
/* At start: resumes a rebuild a previous run left in progress. */
void ctl_rebuild_resume(struct node *n);
void ctl_rebuild_step(struct node *n);
void ctl_rebuild_close(struct node *n);

/* "standby", "activating", "master" or "starting": what ctl.act says. */
const char *ctl_act_name(int act);

/* The other data member's id (0 if none). */
/* The FIP operations' config from [fip] (no may_act: the caller sets it);
 * shared by the controller and duetd --release (release.c). */
void ctl_fip_config(const struct duet_config_actions *a, struct duet_fip_config *fc);

uint32_t ctl_other_data(const struct node *n);
/* Parses "X/Y" (pg_lsn text) into a byte position; 0 on error. */
uint64_t ctl_parse_lsn(const char *text);

#endif
