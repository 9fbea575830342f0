/* SPDX-License-Identifier: MIT */
/*
 * role.h - the data node's role controller, pure: (inputs, now) -> commands
 * (DESIGN.md section 2, the safety rules of section 4).
 *
 * role/ decides; the daemon (daemon/ctl*.c) fills the inputs from what it
 * knows, performs the command with its actions and feeds the outcome back.
 * Nothing here does I/O, reads a clock, allocates or keeps global state: the
 * caller passes `now` and owns every struct; pointers in an input are
 * borrowed for the call only. The simulator can therefore run the same
 * decisions as duetd.
 *
 * The decisions, each a table of rows in its own file:
 *
 * role/leader.c, the leader's master decision:
 *
 *  - role_leader_decide(): this node leads with the lease, its applied
 *    state is current and does not name it master: propose MASTER(self),
 *    hand leadership back to a master that is alive, pass it to the other
 *    data node, or wait; with the why-not-master text for status.
 *  - role_step_down_decide(): the acting master whose committed health has
 *    a critical check failing hands leadership to the synchronous standby,
 *    or says why it stays master.
 *
 * role/turn.c, the controller's turn (what ctl_step does first):
 *
 *  - role_turn_demotion(): acting (or activating) and no longer leader,
 *    lease holder or named master: demote, with the reason and whether
 *    PostgreSQL is stopped; just started: the "starting" demotion.
 *  - role_turn_activation(): a standby that should act, with a current
 *    fsm, no switchover holding it back and no demotion in flight: start
 *    the activation chain.
 *
 * role/activation.c, the activation chain (DESIGN.md 4.4, 4.9, 4.10):
 *
 *  - role_chain_decide(): the current step and the observations -> one
 *    command (run the fence, wait until t, probe, start or promote
 *    PostgreSQL, acquire the FIP, start the manager, done, demote) or
 *    ADVANCE to the next step, with the STEP entry to propose.
 *  - role_chain_outcome(): what an action's result does to the chain.
 *
 * role/standby.c, what a node that does not act finds left over (4.7):
 *
 *  - role_stale_primary(): stop a local primary the log does not name;
 *  - role_sweep_*(): the FIP and manager sweeps, with their backoff;
 *  - role_garp_due(): the acting master's gratuitous ARP repeat.
 *
 * All walk a table of rows (conditions -> action, text), the first
 * matching row wins, like fsm/transitions.c.
 */
#ifndef DUET_ROLE_H
#define DUET_ROLE_H

#include <stdbool.h>
#include <stdint.h>

#include "duet/entry.h"
#include "duet/fsm.h"
#include "duet/raftlog.h"

#define ROLE_WHY_MAX    256 /* the why-not-master text, including NUL */
#define ROLE_DETAIL_MAX 200 /* a proposed MASTER's detail, including NUL */
/* A failed activation step runs again this long after (a fence is never
 * retried: the lease wait follows it in any case). */
#define ROLE_RETRY_MS      500
#define ROLE_SWEEP_MS      2000  /* a standby looks for a FIP / manager left over this often */
#define ROLE_SWEEP_MAX_MS  30000 /* the longest wait between two looks while one is found */
#define ROLE_STALE_STOP_MS 5000  /* at most one stop of a stale local primary per this */
#define ROLE_TEXT_MAX      DUET_DETAIL_MAX /* a STEP entry's text, including NUL */

/* A MASTER proposal that raft refused (DUET_EBUSY: a transfer in flight,
 * too many uncommitted entries) is made again this long after, at the
 * controller's next step (ctl_step runs on every tick, message and
 * persisted update, so at most a heartbeat later). The same pause as a
 * failed activation step's (ROLE_RETRY_MS): no spinning, no log flood. */
#define ROLE_PROPOSE_RETRY_MS 500

/* What the leader remembers of its MASTER proposals (the caller keeps it;
 * role_proposal_done() is the only writer). */
struct role_proposal {
	uint64_t proposed_term; /* raft took a MASTER proposal in this term: once a term */
	uint64_t failed_term;   /* the last refused proposal was in this term, */
	uint64_t retry_at_ms;   /* ... and the next one may go from then (monotonic) */
	int failed_rc;          /* ... what raft said */
};

/* Records the outcome of a MASTER proposal made in `term` at `now_ms`
 * (rc: 0, or the error of the encoder or raft_propose). The term counts as
 * proposed only when the proposal succeeded: a refused one is retried in
 * the same term, from now_ms + ROLE_PROPOSE_RETRY_MS. */
void role_proposal_done(struct role_proposal *p, uint64_t term, int rc, uint64_t now_ms);

enum role_leader_action {
	ROLE_LEADER_WAIT = 0,       /* nothing to do this turn */
	ROLE_LEADER_PROPOSE_MASTER, /* propose MASTER(self, reason, detail) */
	ROLE_LEADER_HAND_BACK,      /* leadership to the master `to`: it is alive */
	ROLE_LEADER_TRANSFER,       /* leadership to `to`, whose PostgreSQL is the primary */
	ROLE_LEADER_STEP_DOWN,      /* the failing master: leadership to the SYNC standby `to` */
};
const char *role_leader_action_name(enum role_leader_action a);

/* The inputs of both decisions: plain values of this turn. */
struct role_leader_in {
	/* raftlog's view this turn: term, role, commit_index and the peers'
	 * last acknowledgement (leader's clock) and match index */
	const struct raft_status *raft;
	uint64_t now_ms;       /* the monotonic time raft_status() was taken at */
	uint32_t heartbeat_ms; /* [raft] heartbeat_ms: a master acked within 3 is in touch */
	uint32_t self_id;
	const char *self_name;                 /* [node] name, for the texts */
	const struct duet_membership *members; /* the config's: names, the other data node */
	/* the applied log: master, SYNC, maintenance, committed health */
	const struct fsm *fsm;
	/* the local PostgreSQL, as the last probe found it */
	bool pg_configured;  /* a [pg] section: there is a PostgreSQL to look at */
	bool pg_known;       /* the last probe answered */
	bool pg_in_recovery; /* ... and found a standby (else a primary) */
	const char *pg_err;  /* the last probe's error; "" when none yet */
	/* this leader's MASTER proposals so far */
	const struct role_proposal *proposal;
	/* role_step_down_decide() only */
	bool acting;                    /* activating or acting master */
	uint64_t stepdown_term;         /* a hand-over already started in this term */
	uint64_t maintenance_hold_term; /* the maintenance hold was logged in this term */
	/* a critical check of this node fails now and the HEALTH entry that
	 * says so is committed, though maybe not yet applied here (this node's
	 * own store writes lag: its disk is the slow part) */
	bool self_failing_committed;
};

struct role_leader_out {
	enum role_leader_action action;
	uint32_t to;              /* HAND_BACK, TRANSFER, STEP_DOWN: the member */
	const char *transfer_why; /* ... the reason to log (static text) */
	uint8_t reason;           /* PROPOSE_MASTER: enum duet_master_reason */
	char detail[ROLE_DETAIL_MAX];
	/* the status text: replaced by `why` when why_set ("" clears it),
	 * left as it is otherwise */
	bool why_set;
	char why[ROLE_WHY_MAX];
	/* role_step_down_decide(): log `why` and record maintenance_hold_term
	 * = term (the maintenance hold, once a term) */
	bool log_why;
	const char *row; /* the matching row's comment: for logs and tests */
};

/* The leader's decision while not master. Call it only when this node
 * leads with a valid lease, the fsm has applied everything committed in
 * this term, and the fsm does not name this node master. Fills *out. */
void role_leader_decide(const struct role_leader_in *in, struct role_leader_out *out);

/* The acting master's hand-over on a failing critical check (DESIGN.md 7),
 * held back by maintenance. Call it on every turn; fills *out (WAIT unless
 * this node acts, leads and fails). The hand-over voids the lease, so the
 * caller demotes right after. */
void role_step_down_decide(const struct role_leader_in *in, struct role_leader_out *out);

/* True when a critical check of member `id` is failing in the committed
 * health of `f`. */
bool role_check_failing(const struct fsm *f, uint32_t id);
/* The data member of `c` that is not `self_id` (0 if none). */
uint32_t role_other_data(const struct duet_membership *c, uint32_t self_id);

/* ---- the controller's turn (role/turn.c) --------------------------------- */

/* What the node does (daemon/ctl.h's enum ctl_act uses the same values). */
enum role_act {
	ROLE_ACT_UNKNOWN = 0,    /* just started: make sure nothing acts */
	ROLE_ACT_STANDBY = 1,    /* not acting */
	ROLE_ACT_ACTIVATING = 2, /* the activation chain runs */
	ROLE_ACT_MASTER = 3,     /* acting master */
};

struct role_turn_in {
	enum role_act act;
	bool leader;   /* the raft leader this turn */
	bool lease;    /* ... with a valid lease (never without leader) */
	bool named;    /* the applied log names this node master */
	bool current;  /* the fsm applied the commit index, in the raft term */
	bool hold;     /* a planned switchover holds the activation back */
	bool demoting; /* a demotion action is still in flight */
};

struct role_turn_out {
	bool demote;     /* role_turn_demotion: demote now ... */
	const char *why; /* ... for this reason (static text) */
	bool pg_stop;    /* ... and stop PostgreSQL (the node acted) */
	bool activate;   /* role_turn_activation: start the activation chain */
	const char *row; /* the matching row's comment */
};

/* The first decision of a turn: demote or not. Fills *out. */
void role_turn_demotion(const struct role_turn_in *in, struct role_turn_out *out);
/* Later in the turn (after the demotion, the stale-primary stop and the
 * switchover's step, which fill `hold` and `demoting` anew): activate or
 * not. Fills *out. */
void role_turn_activation(const struct role_turn_in *in, struct role_turn_out *out);

/* ---- the activation chain (role/activation.c) ---------------------------- */

/* The steps, in order (daemon/ctl.h's enum ctl_step_id uses the same). */
enum role_step {
	ROLE_STEP_FENCE = 0,
	ROLE_STEP_LEASE_WAIT,
	ROLE_STEP_PROMOTE,
	ROLE_STEP_FIP,
	ROLE_STEP_MANAGER,
	ROLE_STEP_DONE,
};
#define ROLE_STEP_COUNT 6
const char *role_step_name(enum role_step s);

enum role_chain_cmd {
	/* wait: an event (an action's end, a probe, the retry time) comes back */
	ROLE_CHAIN_NOTHING = 0,
	ROLE_CHAIN_DEMOTE,     /* the role was lost: demote (why), PostgreSQL stopped */
	ROLE_CHAIN_RUN_FENCE,  /* fence the previous master `target` */
	ROLE_CHAIN_WAIT_UNTIL, /* nothing before until_ms (set the retry time to it) */
	ROLE_CHAIN_PROBE_PG,   /* probe the local PostgreSQL now */
	ROLE_CHAIN_START_PG,   /* run [pg] start_command */
	ROLE_CHAIN_CLEAR_NAMES_THEN_PROMOTE, /* synchronous_standby_names = '', then pg_promote */
	ROLE_CHAIN_ACQUIRE_FIP,              /* add the FIP and announce it */
	ROLE_CHAIN_START_MANAGER,            /* run [manager] start_command */
	ROLE_CHAIN_DONE,                     /* acting master from now */
	ROLE_CHAIN_ADVANCE,                  /* go to step `next` and decide again at once */
};
const char *role_chain_cmd_name(enum role_chain_cmd c);

/* What the performer records when a step ends without an action of its
 * own (the takeover's figures for status). */
enum role_stamp {
	ROLE_STAMP_NONE = 0,
	ROLE_STAMP_PROMOTED,          /* promoted_ms = now */
	ROLE_STAMP_PROMOTED_IF_UNSET, /* ... unless this activation's term has one already */
	ROLE_STAMP_FIP,               /* fip_ms = now */
};

/* A STEP entry to propose (ctl_propose_step). */
struct role_step_entry {
	bool propose;
	uint8_t action; /* enum duet_step_action */
	uint32_t node;
	bool ok;
	uint64_t duration_ms;
	char text[ROLE_TEXT_MAX];
};

struct role_chain_in {
	enum role_step step;
	uint64_t now_ms;
	bool busy;            /* an action of the chain is in flight */
	uint64_t retry_at_ms; /* a failed step runs again from then */
	bool may_act;         /* leader, lease, named master (ctl_may_act) */
	/* the takeover: the MASTER entry that named this node, committed in
	 * the activation's term, took the role from another node */
	const struct fsm_master_state *master;
	uint32_t self_id;
	uint64_t act_term;
	const char *previous_name; /* the previous master's name, for texts */
	bool fence_configured;     /* [fence] method is not none */
	bool fenced;               /* this takeover's fence confirmed the old master off */
	/* the lease wait (DESIGN.md 4.4, 4.10) */
	uint64_t start_ms;   /* this daemon started (monotonic ms) */
	uint64_t contact_ms; /* last message from the previous master while it led; 0: never */
	uint32_t lease_ms, max_drift_ms;
	unsigned watchdog_timeout_s; /* [fence] watchdog timeout; 0: no watchdog */
	uint64_t committed_ms;       /* MASTER(self) was applied then */
	/* the local PostgreSQL */
	bool pg_configured;
	bool probe_current;  /* the last probe started after the last demotion ended */
	bool probe_busy;     /* a probe is in flight */
	bool pg_known;       /* the last probe answered ... */
	bool pg_in_recovery; /* ... as a standby */
	bool pg_error;       /* the last probe failed (an error text is kept) */
	bool pg_stopped_by_us;
	bool start_configured;       /* [pg] start_command */
	uint64_t pg_started_ms;      /* this activation's start_command succeeded then; 0: not */
	uint32_t promote_timeout_ms; /* [pg] promote_timeout_ms */
	uint64_t pg_last_ms;         /* the last probe ended then */
	uint32_t probe_interval_ms;  /* [pg] probe_interval_ms */
	bool fip_configured;
	bool manager_configured; /* [manager] start_command */
};

struct role_chain_out {
	enum role_chain_cmd cmd;
	enum role_step next;    /* ADVANCE */
	enum role_stamp stamp;  /* ADVANCE */
	uint64_t until_ms;      /* WAIT_UNTIL */
	uint32_t target;        /* RUN_FENCE: the previous master */
	const char *why;        /* DEMOTE (static text) */
	bool release_stop_hold; /* pg_stopped_by_us = false: nothing will start it, its check counts
				 */
	struct role_step_entry entry;
	const char *row;
};

/* The takeover rule (DESIGN.md 4.4): the MASTER entry that names self_id
 * was committed in the term it activates in (act_term) and took the role
 * from another node by a failover or a forced promotion. */
bool role_takeover(const struct fsm_master_state *m, uint32_t self_id, uint64_t act_term);
/* When a new master may promote: lease_until is when the old master's
 * lease is over for sure; without a confirmed fence, and with a watchdog
 * on the old master (the same [fence] watchdog keys on both data nodes:
 * peer_timeout_s, 0 = none), its last keepalive may have come just before
 * that, and its machine is reset at the latest peer_timeout_s after it
 * (plus one second of the driver's granularity): wait for that too
 * (DESIGN.md 4.10). */
uint64_t role_takeover_until(uint64_t lease_until, bool fence_confirmed, unsigned peer_timeout_s);
/* The whole deadline of the lease wait for *in: the last contact (or the
 * daemon's start) + lease + drift, then role_takeover_until(). */
uint64_t role_lease_wait_until(const struct role_chain_in *in);

/* One turn of the chain. Fills *out; the caller performs the command and,
 * on ADVANCE, sets the step and calls again. */
void role_chain_decide(const struct role_chain_in *in, struct role_chain_out *out);

/* The results an action of the chain reports. */
enum role_chain_result {
	ROLE_RESULT_NOT_STARTED = 0, /* an action (probe aside) could not be started */
	ROLE_RESULT_FENCE_NOT_STARTED,
	ROLE_RESULT_FENCE,
	ROLE_RESULT_CLEAR_NAMES,
	ROLE_RESULT_PROMOTE,
	ROLE_RESULT_START_PG,
	ROLE_RESULT_FIP,
	ROLE_RESULT_MANAGER,
};

enum role_then {
	ROLE_THEN_CHAIN = 0, /* decide the chain again now */
	ROLE_THEN_PROMOTE,   /* run pg_promote with the same step */
	ROLE_THEN_DRIVE,     /* the next turn decides (a probe first) */
	ROLE_THEN_WAIT,      /* nothing: the retry time or an event comes back */
};

struct role_outcome_in {
	enum role_chain_result result;
	bool ok;
	const char *detail; /* the action's own text ("" or NULL: none) */
	uint32_t self_id;
	uint32_t previous;         /* FENCE: the fenced node */
	const char *previous_name; /* ... its name */
	uint64_t took_ms;
	bool pg_stopped_by_us;
	/* the node may still act now, as the chain's may_act (leader, lease,
	 * named master): read when the result comes back, since the action
	 * took time (CLEAR_NAMES: no pg_promote without it, DESIGN.md 4.7) */
	bool may_act;
};

struct role_outcome_out {
	bool set_step; /* the chain goes to `next` */
	enum role_step next;
	bool retry; /* the step runs again from now + retry_ms */
	uint32_t retry_ms;
	bool probe_now;         /* probe PostgreSQL at once */
	bool pg_unknown;        /* forget the last probe: PostgreSQL changed */
	bool release_stop_hold; /* pg_stopped_by_us = false, and log why */
	enum role_stamp stamp;
	struct role_step_entry entry;
	enum role_then then;
	const char *row;
};

void role_chain_outcome(const struct role_outcome_in *in, struct role_outcome_out *out);

/* ---- the standby's housekeeping (role/standby.c) ------------------------- */

struct role_stale_in {
	enum role_act act;
	bool pg_known, pg_in_recovery;
	uint32_t master; /* the applied log's master (0: none) */
	uint32_t self_id;
	bool leader_known;    /* raft knows a leader */
	bool applied_in_term; /* the fsm applied an entry of the current term */
	uint64_t now_ms;
	uint64_t last_stop_ms; /* the last stale-primary stop (0: never) */
};
/* True: stop the local PostgreSQL now (a primary the log does not name,
 * DESIGN.md 4.7); *row names the matching row. */
bool role_stale_primary(const struct role_stale_in *in, const char **row);

/* The FIP sweep and the manager sweep (DESIGN.md 4.7). */
struct role_sweep_in {
	bool configured; /* FIP: an [fip] address; manager: check and stop commands */
	enum role_act act;
	bool busy;     /* a look of this sweep is in flight */
	bool demoting; /* a demotion action is in flight */
	uint64_t now_ms;
	uint64_t at_ms; /* the next look is due then */
};
/* True: look now. */
bool role_sweep_due(const struct role_sweep_in *in, const char **row);

struct role_sweep_state {
	uint64_t at_ms;      /* the next look */
	uint32_t backoff_ms; /* grows while a release fails / a manager is found */
};
/* The FIP check ended (ok: it answered; present: the address is here).
 * Updates *s; true: release the FIP now. */
bool role_fip_sweep_checked(struct role_sweep_state *s, bool ok, bool present, enum role_act act,
			    uint64_t now_ms);
/* The release of a left-over FIP ended. Updates *s. */
void role_fip_sweep_released(struct role_sweep_state *s, bool ok, uint64_t now_ms);
/* The manager check ended (running: it exited 0). Updates *s; true: stop
 * the manager now. */
bool role_manager_sweep_checked(struct role_sweep_state *s, bool running, enum role_act act,
				uint64_t now_ms);

struct role_garp_in {
	bool fip_configured;
	uint32_t every_ms; /* [fip] garp_repeat_ms; 0: off */
	enum role_act act;
	bool busy;
	uint64_t now_ms;
	uint64_t at_ms;
};
/* True: announce now, and the next at now + every_ms. */
bool role_garp_due(const struct role_garp_in *in, const char **row);

#endif
