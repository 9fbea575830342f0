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

#endif
