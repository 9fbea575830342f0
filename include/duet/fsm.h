/* SPDX-License-Identifier: MIT */
/*
 * fsm.h - the replicated state: what the committed log says about roles,
 * synchronous standbys, health, maintenance and operators (DESIGN.md
 * sections 3 and 4).
 *
 * Two halves, as STYLE.md point 1 asks:
 *
 *  - The decision half is pure: fsm_apply() takes one committed entry and
 *    changes a caller-allocated struct fsm; no I/O, no clock, no allocation.
 *    Every member applies the same entries in the same order and reaches the
 *    same state, so the simulator runs it unchanged.
 *
 *  - The edge: fsm_apply_committed() (fsm/commit.c) writes the audit chain
 *    through storage, then applies; the daemon calls it with u.committed.
 *    Which entries are audited is storage's rule (store_audit_wants()).
 *
 * Libraries: duet_fsm_core is the pure half (links duet_raftlog only: the
 * simulator links it); duet_fsm adds the edge and links duet_storage.
 *
 * MASTER and SYNC follow a transition table (fsm/transitions.c, STYLE.md
 * point 5, like pg_auto_failover's KeeperFSM[]): the target node's role
 * (master, synchronous standby, asynchronous standby, witness, not a member)
 * and the entry decide; a pair not in the table is refused. A refused entry
 * is never applied silently and never dropped: the state keeps what it had,
 * the refusal is counted and kept as "last refusal", and the entry is still
 * audited (the audit shows what was proposed and committed).
 *
 * Rules in the table, from DESIGN.md section 4:
 *  - MASTER(X) needs X to be a DATA member, and X the synchronous standby
 *    (failover, switchover), or no master yet (first start), or the
 *    operator's forced promotion (promote --accept-data-loss). Its
 *    `previous` must name the current master: a MASTER proposed against an
 *    older view is stale and refused.
 *  - The new master is no longer a synchronous standby; the old master
 *    becomes an asynchronous standby (it must catch up and be made SYNC
 *    again before it can be promoted).
 *  - SYNC(X, on/off) needs X to be a DATA member that is not the master.
 *  - MEMBERSHIP always applies (the log's configuration is not the fsm's to
 *    refuse); a member whose incarnation changed loses SYNC (its storage was
 *    rebuilt); a master that is no longer a DATA member is cleared.
 *  - HEALTH needs a member; OPERATOR is recorded (maintenance on/off sets
 *    the flag); STEP and NOOP change only counters; TRAPS and DELIVERED
 *    move the compaction floor (fsm_trap_floor()); a DELIVERED that does
 *    not decode is refused like any other payload.
 *
 * A payload that does not decode is refused (FSM_REFUSE_BAD_PAYLOAD): a
 * committed entry is the same on every member, so every member refuses it.
 */
#ifndef DUET_FSM_H
#define DUET_FSM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "duet/entry.h"
#include "duet/err.h"

struct store;

#define FSM_MAX_CHECKS       16          /* health checks kept per node */
#define FSM_REFUSAL_WHY_MAX  160         /* including NUL */
#define FSM_SNAPSHOT_VERSION 2           /* 2: the trap floor and the committed keys */
#define FSM_SNAPSHOT_MAGIC   0x4d534644u /* "DFSM" little-endian */

/* A node's role as far as MASTER and SYNC are concerned. */
enum fsm_role {
	FSM_ROLE_NONE = 0,          /* not a member */
	FSM_ROLE_WITNESS = 1,       /* votes, never master, never SYNC */
	FSM_ROLE_MASTER = 2,        /* the current master */
	FSM_ROLE_SYNC_STANDBY = 3,  /* DATA, committed SYNC on: promotable */
	FSM_ROLE_ASYNC_STANDBY = 4, /* DATA, not SYNC: not promotable */
	FSM_ROLE_COUNT
};
const char *fsm_role_name(int role);
/* "first start", "failover", "switchover", "forced" (enum duet_master_reason), "?" */
const char *fsm_master_reason_name(uint8_t reason);

enum fsm_refusal_reason {
	FSM_REFUSE_NONE = 0,
	FSM_REFUSE_NOT_MEMBER = 1,      /* the node is not in the membership */
	FSM_REFUSE_WITNESS = 2,         /* the witness never takes master or SYNC */
	FSM_REFUSE_NOT_SYNC = 3,        /* promotion of a standby that is not SYNC */
	FSM_REFUSE_ALREADY_MASTER = 4,  /* MASTER for the current master */
	FSM_REFUSE_HAS_MASTER = 5,      /* FIRST_START while there is a master */
	FSM_REFUSE_STALE = 6,           /* MASTER whose `previous` is not the master */
	FSM_REFUSE_IS_MASTER = 7,       /* SYNC for the master */
	FSM_REFUSE_BAD_PAYLOAD = 8,     /* the payload does not decode */
	FSM_REFUSE_NO_TRANSITION = 9,   /* no row of the table matches */
	FSM_REFUSE_TOO_MANY_CHECKS = 10 /* HEALTH for a node with FSM_MAX_CHECKS checks */
};
const char *fsm_refusal_name(int reason);

struct fsm_check {
	char name[DUET_NAME_MAX];
	uint8_t state; /* enum duet_health_state */
	uint8_t critical;
	uint64_t since_index; /* entry that set this state */
	uint64_t since_ms;    /* its wall time: for people */
};

/* Per member, in the order of the membership. */
struct fsm_node {
	uint32_t id;
	uint8_t sync;              /* committed SYNC on */
	uint64_t sync_since_index; /* entry that last changed `sync` (0: never) */
	uint32_t n_checks;
	struct fsm_check checks[FSM_MAX_CHECKS];
};

struct fsm_master_state {
	uint32_t node;     /* 0: no master */
	uint32_t previous; /* the master before */
	uint8_t reason;    /* enum duet_master_reason of the entry that made it */
	uint64_t since_index, since_term, since_ms;
};

struct fsm_refusal {
	uint64_t index, term;
	uint8_t type;   /* entry type */
	uint32_t node;  /* the node the entry was about, 0 if unknown */
	uint8_t reason; /* enum fsm_refusal_reason */
	char why[FSM_REFUSAL_WHY_MAX];
};

struct fsm_operator_state {
	uint64_t index, wall_ms; /* 0: no command yet */
	struct duet_operator op;
};

struct fsm {
	uint64_t applied_index, applied_term;
	struct duet_membership membership; /* n == 0 until the first MEMBERSHIP */
	struct fsm_node nodes[DUET_MAX_MEMBERS];
	struct fsm_master_state master;
	uint8_t maintenance;        /* set by OPERATOR maintenance on/off */
	uint64_t maintenance_since; /* index of that entry */
	struct fsm_operator_state last_operator;
	struct fsm_refusal last_refusal; /* index 0: none */
	/* The compaction floor of DESIGN.md section 3, from TRAPS and DELIVERED
	 * alone, so every member (the witness too) computes the same one. */
	struct {
		uint64_t last_index;        /* the last TRAPS entry applied (0: none) */
		uint64_t delivered;         /* the highest DELIVERED up_to_index */
		uint64_t first_undelivered; /* 0: none; else no TRAPS entry below it
					     * waits for the sink (exact when set by a
					     * TRAPS, a lower bound after a DELIVERED
					     * that covers part of the backlog) */
	} traps;
	struct {
		uint64_t first_starts, failovers, switchovers, forced; /* MASTER applied */
		uint64_t refused;                                      /* entries refused */
		uint64_t steps_ok, steps_failed;                       /* STEP outcomes */
		uint64_t by_type[RAFT_ENTRY_TYPE_COUNT]; /* entries applied, refused included */
	} counters;
};

/* An empty state: nothing applied, no members, no master. */
void fsm_init(struct fsm *f);

enum fsm_outcome {
	FSM_APPLIED = 0, /* the state took the entry (possibly no field changed) */
	FSM_REFUSED = 1, /* the state kept what it had; f->last_refusal says why */
	FSM_STALE = 2,   /* index at or below applied_index: already applied */
};

struct fsm_result {
	int outcome;    /* enum fsm_outcome */
	uint8_t reason; /* enum fsm_refusal_reason when refused */
};

/*
 * Applies one committed entry. Entries come in index order: applied_index +
 * 1, or anything at or below applied_index (FSM_STALE, no change: the core
 * hands out again after a restart what a restored snapshot covers).
 * Returns 0 with *res filled, or DUET_EINVAL (NULL argument, or an index
 * past applied_index + 1 when something was applied already: a gap is the
 * driver's bug; nothing changes).
 */
int fsm_apply(struct fsm *f, const struct raft_entry *e, struct fsm_result *res);

/*
 * The log may be compacted up to this index and no further: the entry
 * before the first TRAPS entry the state does not record as delivered, or
 * applied_index when none waits. Every member snapshots at or below it.
 */
uint64_t fsm_trap_floor(const struct fsm *f);

/* Role of node `id` in `f`. */
int fsm_role_of(const struct fsm *f, uint32_t id);
/* The node's state, or NULL when it is not a member. */
const struct fsm_node *fsm_node_find(const struct fsm *f, uint32_t id);
/* A check of node `id`, or NULL. */
const struct fsm_check *fsm_check_find(const struct fsm *f, uint32_t id, const char *name);

/*
 * The edge (fsm/commit.c): audits e[0..n) in one durable transaction
 * (store_audit_append_batch, idempotent), then applies each one. If the
 * audit write fails nothing is applied and the error is returned (a commit
 * error is sticky, see storage.h: the process must exit). Entries the fsm
 * finds stale are still offered to the audit, which skips what it has.
 * *refused (if not NULL) counts the refused entries of this batch.
 */
int fsm_apply_committed(struct fsm *f, struct store *s, const struct raft_entry *e, size_t n,
			size_t *refused);

/*
 * Snapshots (for raft_snapshot_taken and restore):
 *
 *   u32 magic "DFSM"  u8 version  u64 applied_index  u64 applied_term
 *   u32 conf_len  conf (duet_membership_encode)
 *   per member, in membership order: u8 sync  u64 sync_since_index
 *       u8 n_checks, each: u16 name_len name  u8 state  u8 critical
 *       u64 since_index  u64 since_ms
 *   master: u32 node  u32 previous  u8 reason  u64 since_index/term/ms
 *   u8 maintenance  u64 maintenance_since
 *   operator: u64 index  u64 wall_ms  u32 op_len  op (duet_operator_encode,
 *       op_len 0 when index is 0)
 *   refusal: u64 index  u64 term  u8 type  u32 node  u8 reason
 *       u16 why_len why
 *   u8 n_counters (at least 7 + RAFT_ENTRY_TYPE_COUNT), u64 each
 *   traps (version 2): u64 last_index  u64 delivered  u64 first_undelivered
 *   u32 keys_len  keys: the trap pipeline's committed keys of the last
 *       window at the snapshot's index (DESIGN.md 5), as a TRAPS payload
 *       whose traps carry no payload; keys_len 0 when there are none, at
 *       most FSM_SNAPSHOT_KEYS_MAX_BYTES
 *   u32 crc32c of every byte above
 *
 * The encoding is canonical (a decoded snapshot encodes to the same bytes).
 * Version 1 (without the traps fields and keys) is still read, so that a
 * store written before them opens; it is written as version 2.
 */

/* Bytes fsm_snapshot_encode() needs (without keys: add keys_len for
 * fsm_snapshot_encode_keys()); never more than FSM_SNAPSHOT_MAX_BYTES. */
size_t fsm_snapshot_size(const struct fsm *f);
#define FSM_SNAPSHOT_MAX_BYTES 65536
/* The keys section, at most (the pipeline keeps the newest that fit): about
 * 300000 keys (10000 traps/s over the default 30 s window), well inside
 * one transport frame (XPORT_MAX_FRAME_BYTES, 64 MiB) with the rest. */
#define FSM_SNAPSHOT_KEYS_MAX_BYTES (16u << 20)
/* Returns bytes written, DUET_ETOOBIG (cap too small), DUET_EINVAL (a state
 * that would not decode: bad enum, string without NUL...). */
long fsm_snapshot_encode(const struct fsm *f, void *buf, size_t cap);
/* The same with the trap pipeline's committed keys (keys_len bytes, copied
 * as they are; the decoder checks them). */
long fsm_snapshot_encode_keys(const struct fsm *f, const void *keys, uint32_t keys_len, void *buf,
			      size_t cap);
/* Checks everything (crc, magic, version, lengths, enums, node ids against
 * the membership, NUL-free strings, nothing left over) and only then replaces
 * *f; on error *f is unchanged. Returns 0, DUET_ETRUNCATED, DUET_ECORRUPT or
 * DUET_EVERSION. Never reads past len: a fuzz target. */
int fsm_snapshot_decode(const void *buf, size_t len, struct fsm *f);
/* The same; *keys (pointing into buf, NULL when none) and *keys_len get the
 * committed keys section, already checked as a TRAPS payload. */
int fsm_snapshot_decode_keys(const void *buf, size_t len, struct fsm *f, const uint8_t **keys,
			     uint32_t *keys_len);

/*
 * For people and tools (duetctl log): an entry in one line, e.g.
 * "MASTER node 2 (failover, previous 1): pg on node 1 failed", or as one
 * JSON object with its envelope (index, term, wall_ms, author, type) and the
 * decoded payload. An undecodable payload is described as such, never
 * guessed. Both write at most len bytes including the NUL and return the
 * length of the whole text (like snprintf: >= len means it was cut), or
 * DUET_EINVAL. JSON strings are escaped; bytes that are not UTF-8 become
 * U+FFFD.
 */
int fsm_describe_entry(const struct raft_entry *e, char *buf, size_t len);
int fsm_entry_json(const struct raft_entry *e, char *buf, size_t len);

#endif
