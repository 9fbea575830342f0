/* SPDX-License-Identifier: MIT */
/*
 * core.h - private to raftlog: the state of one consensus member and the
 * functions the core's files share. Nothing here is part of the public API.
 *
 * Files: core.c (lifecycle, load, status, config), log.c (entries in memory),
 * outbox.c (what the next update carries: raft_ready/raft_persisted),
 * election.c (timers, pre-vote, vote, roles), replication.c (append, commit),
 * lease.c (lease and check-quorum), snapshot.c, transfer.c (TimeoutNow and
 * the witness hand-off), step.c (message dispatch and admission checks).
 */
#ifndef DUET_RAFTLOG_CORE_H
#define DUET_RAFTLOG_CORE_H

#include <stdbool.h>
#include <stdint.h>

#include "duet/raftlog.h"

#define TERM_UNKNOWN UINT64_MAX

/* Entries after the snapshot, e[off .. off+n) with index snap_index+1 .. */
struct mlog {
	uint64_t snap_index;
	uint64_t snap_term;
	struct raft_entry *e;
	size_t off;
	size_t n;
	size_t cap;
};

#define MAX_INFLIGHT_RING 256

struct peer {
	uint32_t id;
	uint8_t kind;
	uint64_t incarnation;
	/* leader's view */
	uint64_t next;
	uint64_t match;
	bool probe;      /* one message at a time until the follower's position is known */
	bool probe_sent; /* probe mode: a message is out, wait for a reply or heartbeat */
	uint64_t ring[MAX_INFLIGHT_RING]; /* last index of each append in flight */
	uint32_t ring_head, ring_n;
	uint64_t last_ack_ms; /* local time of the last reply in this term */
	uint64_t last_progress_ms;
	bool acked;            /* a lease_ts echo arrived in this term */
	uint64_t lease_ack_ts; /* newest echoed send time */
	uint64_t snapshot_sent_ms;
	/* candidate's view */
	bool vote_granted;
	bool vote_responded;
};

struct msgvec {
	struct raft_msg *v;
	size_t n, cap;
};

struct outbox {
	struct msgvec msgs;
	struct msgvec after;
	bool meta_dirty;
	bool snapshot_dirty;   /* store the current snapshot */
	bool restore_snapshot; /* ...and restore the state machine from it */
	uint64_t truncate_from;
	uint64_t compact_to;
};

struct raft {
	struct raft_config cfg;
	uint32_t id;
	uint8_t kind; /* from the membership */
	bool loaded;

	struct duet_membership conf; /* in force: latest MEMBERSHIP in the log, else snapshot's */
	struct duet_membership snap_conf;

	int role;
	uint64_t term;
	uint32_t vote;
	uint32_t leader;

	struct mlog log;
	uint64_t commit;
	uint64_t applied;   /* handed out in committed lists */
	uint64_t handed;    /* last index given to storage in an update */
	uint64_t disk_last; /* last index durable on disk (may include stale entries) */
	uint64_t persisted; /* last index durable AND equal to the log in memory */

	struct peer peers[DUET_MAX_MEMBERS];
	uint32_t n_peers;

	uint64_t now;
	uint64_t election_deadline;
	uint64_t heartbeat_deadline;
	bool heartbeat_due;
	uint64_t last_leader_contact;

	bool lease_void; /* a transfer started in this term: no lease until the term ends */
	uint32_t transfer_target;
	uint64_t transfer_deadline;
	bool transfer_sent;

	int last_election_reason;
	uint64_t last_election_ms;

	uint64_t rng;

	uint8_t *snap_data;
	uint32_t snap_len;
	struct raft_snapshot_meta snap_meta;
	bool has_snapshot;

	struct outbox out;
	bool update_outstanding;
	/* the outstanding update writes term/vote or a snapshot: until it is
	 * durable, no reply may leave before raft_persisted() (outbox.c) */
	bool update_unsettled;
	uint64_t update_seq;

	struct raft_status counters_holder; /* only .counters is used */
};

#define CNT(r, name) ((r)->counters_holder.counters.name++)

/* log.c */
uint64_t log_last_index(const struct raft *r);
uint64_t log_last_term(const struct raft *r);
uint64_t log_first_index(const struct raft *r);
uint64_t log_term_at(const struct raft *r, uint64_t index); /* TERM_UNKNOWN if not known */
const struct raft_entry *log_get(const struct raft *r, uint64_t index);
int log_append_copy(struct raft *r, const struct raft_entry *e);
/* Copies entries [lo, hi] into ONE heap block (the array, then the payloads);
 * *out is that block (free() it), NULL when lo > hi. */
int log_copy_range(const struct raft *r, uint64_t lo, uint64_t hi, struct raft_entry **out,
		   size_t *n);
void log_truncate(struct raft *r, uint64_t from);                    /* drop index >= from */
void log_compact(struct raft *r, uint64_t upto, uint64_t upto_term); /* drop index <= upto */
void log_free(struct raft *r);
bool log_up_to_date(const struct raft *r, uint64_t last_index, uint64_t last_term);
void conf_refresh(struct raft *r); /* recompute conf and peers from the log */
int entry_copy(struct raft_entry *dst, const struct raft_entry *src);

/* outbox.c */
int out_msg(struct raft *r, bool after, const struct raft_msg *m); /* takes m->owned */
/* True when a reply may leave now: term, vote and snapshot are durable. */
bool hard_state_durable(const struct raft *r);
/* Drops queued success replies claiming index `from` or beyond (truncation). */
void out_forget_acks(struct raft *r, uint64_t from);
void msg_init(struct raft *r, struct raft_msg *m, uint8_t type, uint32_t to);

/* election.c */
void reset_election_timer(struct raft *r);
void become_follower(struct raft *r, uint64_t term, uint32_t leader);
int start_prevote(struct raft *r);
int campaign(struct raft *r, bool transfer);
int handle_vote_req(struct raft *r, const struct raft_msg *m);
int handle_vote_resp(struct raft *r, const struct raft_msg *m);
bool vote_guard_active(const struct raft *r);
bool may_vote(const struct raft *r);
uint32_t quorum(const struct raft *r);

/* replication.c */
int become_leader(struct raft *r);
int replicate(struct raft *r); /* send what each peer needs */
bool replicate_pending(const struct raft *r);
int handle_append(struct raft *r, const struct raft_msg *m);
int handle_append_resp(struct raft *r, const struct raft_msg *m);
void accept_leader(struct raft *r, const struct raft_msg *m);
int append_reply(struct raft *r, const struct raft_msg *req, bool ok, uint64_t match);
void maybe_commit(struct raft *r);
struct peer *peer_find(struct raft *r, uint32_t id);

/* lease.c */
uint64_t lease_expiry(const struct raft *r); /* 0: none */
void check_quorum(struct raft *r);

/* snapshot.c */
int send_snapshot(struct raft *r, struct peer *p);
int handle_snapshot(struct raft *r, const struct raft_msg *m);

/* transfer.c */
void transfer_progress(struct raft *r);
int handle_timeout_now(struct raft *r, const struct raft_msg *m);
void transfer_tick(struct raft *r);

#endif
