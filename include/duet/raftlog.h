/* SPDX-License-Identifier: MIT */
/*
 * raftlog.h - the consensus core: pure Raft for two data nodes and a witness.
 *
 * The core does no I/O, reads no clock, keeps no global state. The caller
 * feeds it events and carries out what it returns (the pattern of etcd's
 * Ready and canonical/raft's raft_io split):
 *
 *   events:  raft_tick(now)       time passed (monotonic milliseconds)
 *            raft_step(now, msg)  a message arrived
 *            raft_propose(...)    append an entry (leader only)
 *            raft_transfer(...)   hand leadership to another member
 *            raft_snapshot_taken  the state machine saved a snapshot
 *            raft_persisted(...)  the last update is durable
 *
 *   output:  raft_ready() hands over one struct raft_update at a time:
 *            1. send u.msgs now (they do not depend on this update's writes);
 *            2. persist, in ONE durable transaction and in this order:
 *               meta (term, vote), snapshot, truncate, append, compact;
 *            3. call raft_persisted();
 *            4. send u.msgs_after (replies that promise what step 2 wrote);
 *            5. restore the snapshot if u.restore_snapshot, then apply
 *               u.committed in order;
 *            6. raft_update_free().
 *            Only one update is outstanding at a time: raft_ready() returns
 *            DUET_EBUSY until raft_persisted() was called for the last one.
 *            Everything the core writes in between is batched into the next
 *            update, which gives one storage transaction per loop turn.
 *
 *            raft_ready_msgs() may be called at any time, and must be while
 *            an update is outstanding (after every raft_tick/raft_step): it
 *            hands over only messages to send now, an update with nothing
 *            but u.msgs, which needs no disk and no raft_persisted(); just
 *            send them and raft_update_free(). So a slow write does not
 *            silence the member: the leader keeps sending heartbeats and
 *            renews its lease from its followers' echoes, and a follower
 *            keeps answering heartbeats. What leaves this way never
 *            promises a pending write: an append reply claims at most the
 *            persisted log, under a durable term and vote; votes, term
 *            changes and replies to new entries still wait for their write
 *            (msgs_after). The leader's commit index counts its own log
 *            only as far as it is durable.
 *
 * Rules beyond textbook Raft (DESIGN.md section 3):
 *  - pre-vote, and check-quorum: a leader that has not heard from a majority
 *    within election_timeout_min steps down;
 *  - a member that heard from a leader within election_timeout_min (or that
 *    started less than election_timeout_min ago) ignores (pre)vote requests
 *    unless they carry the transfer flag; this is what makes leases safe;
 *  - lease: a data-node leader holds the master lease until
 *    t + lease_ms, t being the send time (its own clock) of the newest
 *    heartbeat a majority acknowledged. A leader that starts a transfer gives
 *    up its lease for the rest of its term; config requires
 *    election_timeout_min > lease_ms + max_drift_ms;
 *  - the witness may be elected (it may hold the longest log) but never holds
 *    a lease, refuses proposals and hands leadership to an up-to-date data
 *    node with TimeoutNow; it also waits longer before campaigning;
 *  - incarnations: a message whose sender incarnation does not match the
 *    membership is refused and counted.
 *
 * Memory: the core keeps the entries after the last snapshot in memory and
 * copies everything it is given. An update owns copies of what it carries;
 * they stay valid until raft_update_free(), whatever the core does meanwhile.
 */
#ifndef DUET_RAFTLOG_H
#define DUET_RAFTLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "duet/entry.h"
#include "duet/err.h"

/* ---- configuration ------------------------------------------------------- */

struct raft_config {
	uint32_t self_id;
	uint64_t self_incarnation;
	uint64_t self_store_id; /* sent in every message; 0: none (tests) */
	uint64_t seed;          /* seeds the election-timeout generator */

	uint32_t election_timeout_min_ms; /* default 800 */
	uint32_t election_timeout_max_ms; /* default 1400 */
	uint32_t witness_extra_ms;        /* witness waits this much longer; default 400 */
	uint32_t heartbeat_ms;            /* default 100 */
	uint32_t lease_ms;                /* default 500 */
	uint32_t max_drift_ms;            /* clock drift allowed over one lease; default 100 */
	uint32_t transfer_timeout_ms;     /* default = election_timeout_min_ms */

	uint32_t max_batch_entries;       /* entries in one append message; default 4096 */
	uint32_t max_batch_bytes;         /* payload bytes in one append message; default 1 MiB */
	uint32_t max_inflight;            /* append messages in flight per follower; default 32 */
	uint32_t max_entry_bytes;         /* largest payload accepted by propose; default 1 MiB */
	uint32_t max_uncommitted_entries; /* leader refuses proposals past this; default 65536 */
};

/* Fills the defaults above (self_id, incarnation, seed = 0). */
void raft_config_default(struct raft_config *c);

/* Returns 0 or DUET_EINVAL; if errbuf is not NULL, says which rule failed. */
int raft_config_check(const struct raft_config *c, char *errbuf, size_t errlen);

/* ---- messages ------------------------------------------------------------ */

enum raft_msg_type {
	RAFT_MSG_PREVOTE = 1,
	RAFT_MSG_PREVOTE_RESP = 2,
	RAFT_MSG_VOTE = 3,
	RAFT_MSG_VOTE_RESP = 4,
	RAFT_MSG_APPEND = 5, /* also the heartbeat (no entries) */
	RAFT_MSG_APPEND_RESP = 6,
	RAFT_MSG_SNAPSHOT = 7, /* answered with APPEND_RESP */
	RAFT_MSG_TIMEOUT_NOW = 8,
};

const char *raft_msg_type_name(uint8_t type);

struct raft_snapshot_meta {
	uint64_t index; /* last index the snapshot covers */
	uint64_t term;  /* term of that entry */
	struct duet_membership conf;
};

struct raft_msg {
	uint8_t type; /* enum raft_msg_type */
	uint32_t from;
	uint32_t to;
	uint64_t from_incarnation;
	uint64_t from_store_id; /* the sender's store (storage.h); 0: not said */
	uint64_t term;
	union {
		struct { /* PREVOTE, VOTE */
			uint64_t last_index;
			uint64_t last_term;
			uint8_t transfer; /* campaign started by TimeoutNow */
		} vote;
		struct { /* PREVOTE_RESP, VOTE_RESP */
			uint8_t granted;
		} vote_resp;
		struct { /* APPEND */
			uint64_t prev_index;
			uint64_t prev_term;
			uint64_t commit;
			uint64_t lease_ts; /* leader's clock at send; echoed back */
			uint32_t n_entries;
			struct raft_entry *entries;
		} append;
		struct { /* APPEND_RESP */
			uint8_t success;
			uint64_t match_index; /* success: last index known to match;
						 reject: the prev_index that did not */
			uint64_t last_index;  /* receiver's last log index (hint on reject) */
			uint64_t lease_ts;    /* echo of the request's lease_ts */
		} append_resp;
		struct { /* SNAPSHOT */
			struct raft_snapshot_meta meta;
			uint64_t lease_ts;
			uint32_t len;
			uint8_t *data;
		} snapshot;
	};
	void *owned; /* heap block holding entries/data after raft_msg_decode */
};

/*
 * Wire form of a message: u8 version, u8 type, u16 reserved, u32 from,
 * u32 to, u64 from_incarnation, [u64 from_store_id: version 2 only, which
 * is used exactly when the id is not 0], u64 term, then the type's fields
 * (entries as raft_entry_encode()), then u32 crc32c of everything before.
 */
#define RAFT_MSG_VERSION          1
#define RAFT_MSG_VERSION_STORE_ID 2
#define RAFT_MSG_MAX_BYTES        (64u << 20)

size_t raft_msg_encoded_size(const struct raft_msg *m);
/* Returns bytes written, or DUET_ETOOBIG. */
long raft_msg_encode(const struct raft_msg *m, void *buf, size_t cap);
/*
 * Decodes and checks one message. On success *m owns at most one heap block
 * (m->owned; NULL when the message carries no entries or data) with its
 * entries and snapshot data; nothing points into buf: release it with raft_msg_release().
 * On failure nothing is allocated. Returns 0 or a DUET_E* code.
 */
int raft_msg_decode(const void *buf, size_t len, struct raft_msg *m);
void raft_msg_release(struct raft_msg *m);

/* ---- persisted state, loaded at start ------------------------------------ */

struct raft_load_state {
	uint64_t term;
	uint32_t vote;                         /* 0: none */
	const struct raft_snapshot_meta *snap; /* NULL: no snapshot */
	const uint8_t *snap_data;
	uint32_t snap_len;
	const struct raft_entry *entries; /* consecutive, first at snap->index + 1 (or 1) */
	size_t n_entries;
};

/* The entry every member stores first: index 1, term 1, MEMBERSHIP(conf).
 * Writes the payload into buf (cap bytes) and points e->data at it. */
int raft_bootstrap_entry(const struct duet_membership *conf, struct raft_entry *e, void *buf,
			 size_t cap);

/* ---- the update ---------------------------------------------------------- */

struct raft_update {
	/* persist, one durable transaction, in this order */
	uint8_t meta_changed;
	uint64_t term;
	uint32_t vote;
	uint8_t has_snapshot; /* store snap + snap_data as the current snapshot */
	struct raft_snapshot_meta snap;
	uint8_t *snap_data;
	uint32_t snap_len;
	uint64_t truncate_from; /* 0: none; else delete entries with index >= it */
	struct raft_entry *entries;
	size_t n_entries;
	uint64_t compact_to; /* 0: none; else delete entries with index <= it */

	/* send now */
	struct raft_msg *msgs;
	size_t n_msgs;
	/* send after raft_persisted() */
	struct raft_msg *msgs_after;
	size_t n_msgs_after;

	/* after raft_persisted(): restore snap_data if set, then apply committed */
	uint8_t restore_snapshot;
	struct raft_entry *committed;
	size_t n_committed;

	uint64_t seq; /* update number, for the caller's logs */
};

/* ---- the core ------------------------------------------------------------ */

struct raft;

enum raft_role { RAFT_FOLLOWER = 0, RAFT_PRECANDIDATE, RAFT_CANDIDATE, RAFT_LEADER };
const char *raft_role_name(int role);

enum raft_election_reason {
	RAFT_ELECTION_NONE = 0,
	RAFT_ELECTION_TIMEOUT = 1,  /* no word from a leader within the election timeout */
	RAFT_ELECTION_TRANSFER = 2, /* TimeoutNow from the leader */
};

/* Allocates a core. cfg is copied. Returns 0, DUET_EINVAL or DUET_ENOMEM. */
int raft_new(const struct raft_config *cfg, struct raft **out);
void raft_free(struct raft *r);

/* Loads durable state; call once, before any event. The log must hold at
 * least the bootstrap entry or a snapshot. now_ms starts the vote guard. */
int raft_load(struct raft *r, const struct raft_load_state *st, uint64_t now_ms);

int raft_tick(struct raft *r, uint64_t now_ms);
/* The core copies what it keeps from m. Invalid or refused messages return
 * 0 and are counted (see raft_status); only ENOMEM is an error. */
int raft_step(struct raft *r, uint64_t now_ms, const struct raft_msg *m);

/* Appends an entry (copied). Returns 0 and the index, or DUET_ENOTLEADER,
 * DUET_EWITNESS, DUET_EBUSY (transfer in progress, or max_uncommitted_entries
 * reached: back-pressure while followers are slow), DUET_ETOOBIG. */
int raft_propose(struct raft *r, uint64_t now_ms, uint8_t type, uint64_t wall_ms, const void *data,
		 uint32_t len, uint64_t *index);

/* Starts moving leadership to `target` (a data node). The lease is given up at
 * once. Returns 0, DUET_ENOTLEADER, DUET_EINVAL (not a data member or self). */
int raft_transfer(struct raft *r, uint64_t now_ms, uint32_t target);

/* The state machine saved a snapshot of everything applied up to `index`.
 * The core keeps a copy of data and compacts its log. */
int raft_snapshot_taken(struct raft *r, uint64_t index, const void *data, uint32_t len);

bool raft_has_update(const struct raft *r);
/* Returns 0 with *u filled, DUET_EBUSY if the last update is not persisted,
 * DUET_ENOENT if there is nothing to do, DUET_ENOMEM. */
int raft_ready(struct raft *r, struct raft_update *u);
/* Messages only (see the top): returns 0 with u->msgs filled and nothing
 * else, DUET_ENOENT if there is nothing to send, DUET_ENOMEM. Callable
 * whether or not an update is outstanding; raft_has_msgs() says whether it
 * has something. */
bool raft_has_msgs(const struct raft *r);
int raft_ready_msgs(struct raft *r, struct raft_update *u);
int raft_persisted(struct raft *r, uint64_t now_ms, const struct raft_update *u);
void raft_update_free(struct raft_update *u);

/* Monotonic time at which raft_tick() should be called next. */
uint64_t raft_next_deadline(const struct raft *r);

/* True while this member is a data-node leader holding the master lease. */
bool raft_lease_valid(const struct raft *r, uint64_t now_ms);

struct raft_peer_status {
	uint32_t id;
	uint64_t match_index;
	uint64_t next_index;
	uint64_t last_ack_ms; /* leader's clock when it last heard from the peer; 0: never */
	uint32_t inflight;
};

struct raft_status {
	uint32_t id;
	int role;
	uint64_t term;
	uint32_t vote;
	uint32_t leader; /* 0: unknown */
	uint64_t commit_index;
	uint64_t applied_index; /* handed out in committed lists */
	uint64_t persisted_index;
	uint64_t first_index;
	uint64_t last_index;
	uint64_t last_term;
	uint64_t snapshot_index;
	uint64_t lease_expiry_ms; /* 0: no lease */
	uint32_t transfer_target;
	int last_election_reason; /* enum raft_election_reason */
	uint64_t last_election_ms;
	uint32_t n_peers;
	struct raft_peer_status peers[DUET_MAX_MEMBERS];
	struct duet_membership conf;
	struct {
		uint64_t elections;           /* campaigns started (after pre-vote) */
		uint64_t prevotes;            /* pre-vote rounds started */
		uint64_t leader_terms;        /* terms this member led */
		uint64_t stepdowns_quorum;    /* check-quorum step-downs */
		uint64_t refused_incarnation; /* messages from a stale incarnation */
		uint64_t refused_store;       /* from a store other than the one bound */
		uint64_t refused_unknown;     /* messages from non-members or to others */
		uint64_t refused_stale_term;
		uint64_t ignored_votes_lease; /* vote requests ignored while a leader is live */
		uint64_t invalid_msgs;        /* malformed fields */
		uint64_t snapshots_sent;
		uint64_t snapshots_installed;
		uint64_t transfers;
	} counters;
};

void raft_status(const struct raft *r, uint64_t now_ms, struct raft_status *st);

#endif
