/* SPDX-License-Identifier: MIT */
/*
 * member.h - the one driver of a member: raftlog's update loop, the fsm it
 * applies, the checkpoint ring and the snapshots (DESIGN.md sections 2, 3).
 *
 * duetd, duet-witness and duet-sim all run this loop; what differs is behind
 * struct member_ops: how messages leave, how an update becomes durable, where
 * the trap keys of a snapshot come from, what is told of each applied entry.
 * The driver itself does no I/O, reads no clock (the caller passes `now`, the
 * core's monotonic milliseconds) and never blocks:
 *
 *   member_drive(m, now): while no write is in flight: raft_ready -> on_ready
 *     -> send u.msgs -> if the update needs the disk, persist_start(u) and
 *     stop; else finish it at once. While a write is in flight: send what the
 *     core hands out to send now (raft_ready_msgs: heartbeats and their
 *     answers), so a slow write does not cost the master its lease.
 *   member_persisted(m, now, rc): the write of persist_start() ended. rc != 0
 *     is fatal (an fsync is never retried). Else finish the update:
 *     raft_persisted -> send u.msgs_after -> restore the snapshot if the core
 *     asks (before_restore, on_restored) -> apply u.committed to the fsm in
 *     order (before_apply, on_applied) -> checkpoint -> maybe take a snapshot
 *     at the fsm's trap floor -> after_update. The caller then drives again.
 *
 * Nothing is applied, and nothing of u.msgs_after leaves, before the update
 * is durable (or needed no disk).
 *
 * The fsm is the caller's storage (struct node and struct sim_node keep it
 * where their other readers look), the raft core the caller's too: the
 * caller creates and frees it (raft_new/raft_load need its clock, seed and
 * store) and hands it over with member_start().
 *
 * Errors: every failure of the core or the fsm goes to ops->fatal (the
 * daemon exits; the simulator records a failure). After fatal, or after the
 * caller called member_halt() from inside a hook, the driver does nothing
 * more until member_reset() or member_start().
 *
 * persist_start() only starts the write: member_persisted() is called
 * later, from the caller's own loop (a threadpool completion, a simulated
 * disk event), never from inside persist_start().
 */
#ifndef DUET_MEMBER_H
#define DUET_MEMBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "duet/fsm.h"
#include "duet/raftlog.h"

/* Copies of the fsm kept in the checkpoint ring: a snapshot may have to stop
 * short of the applied index (the sink still needs entries), and its state is
 * then the newest copy at or below the floor. */
#define MEMBER_CKPT_N 32

struct member_ops {
	/* Sends msgs[0..n) now (best effort: a lost message is Raft's problem). */
	void (*send)(void *ctx, const struct raft_msg *msgs, size_t n);
	/* Starts writing u durably; the caller later calls member_persisted().
	 * u stays the driver's and unchanged until then. Returns 0, or an error
	 * (fatal: the write was not started). */
	int (*persist_start)(void *ctx, struct raft_update *u);
	/* Optional: the trap pipeline's committed keys of the entries up to
	 * `index` (a TRAPS payload, fsm.h "Snapshots"), malloc'd into *keys;
	 * returns its length (0: none, *keys NULL) or a negative error (no
	 * snapshot this time). NULL: no keys. */
	long (*snapshot_keys)(void *ctx, uint64_t index, uint8_t **keys);
	/* Optional hooks (NULL: none). */
	/* A new update from raft_ready, before its msgs leave. */
	void (*on_ready)(void *ctx, const struct raft_update *u);
	/* The core asks to restore u's snapshot; the fsm is still the old one. */
	void (*before_restore)(void *ctx, const struct raft_update *u);
	/* The fsm was replaced by the snapshot's; keys as snapshot_keys gave. */
	void (*on_restored)(void *ctx, const struct fsm *f, const uint8_t *keys, uint32_t keys_len);
	/* Entry e is about to be applied to the fsm (still the state before). */
	void (*before_apply)(void *ctx, const struct raft_entry *e);
	/* e was applied: res as fsm_apply gave it; master_before is the fsm's
	 * master before e. */
	void (*on_applied)(void *ctx, const struct raft_entry *e, const struct fsm_result *res,
			   uint32_t master_before);
	/* raft_snapshot_taken(index) returned rc (0: the log is compacted). */
	void (*on_snapshot)(void *ctx, uint64_t index, int rc);
	/* An update was finished (persisted or needing no disk) and freed. */
	void (*after_update)(void *ctx);
	/* Required: a core or fsm call failed. what names it. */
	void (*fatal)(void *ctx, const char *what, int rc);
};

struct member_config {
	/* take a snapshot once this many entries, or this many payload bytes,
	 * were applied since the last one */
	uint64_t snapshot_every_entries;
	uint64_t snapshot_every_bytes;
	/* a copy of the fsm every this many applied entries (0: never) */
	uint64_t ckpt_every;
};

/* What duetd and duet-witness use. */
#define MEMBER_SNAPSHOT_EVERY_ENTRIES 10000
#define MEMBER_SNAPSHOT_EVERY_BYTES   (64u << 20)
#define MEMBER_CKPT_EVERY             256

struct member_ckpt {
	uint64_t index; /* 0: empty */
	uint64_t bytes; /* applied_bytes at that index */
	struct fsm *fsm;
};

struct member {
	struct member_config cfg;
	const struct member_ops *ops;
	void *ctx;
	struct raft *raft;
	struct fsm *fsm;

	bool persisting; /* update is with persist_start() */
	bool halted;     /* fatal, or member_halt(): nothing more until reset */
	struct raft_update update;

	uint64_t last_snapshot_index;
	uint64_t last_snapshot_bytes; /* applied_bytes at the last snapshot */
	uint64_t applied_bytes;       /* payload bytes applied since start */
	struct member_ckpt ckpt[MEMBER_CKPT_N];
	unsigned ckpt_next;

	/* counters */
	uint64_t fsm_refused;     /* entries the fsm refused */
	uint64_t snapshots_taken; /* raft_snapshot_taken() succeeded */
	uint64_t updates;         /* updates finished */
	uint64_t updates_written; /* of those, through persist_start() */
};

/* Sets m up, empty (no core). fsm is the caller's storage for the state. */
void member_init(struct member *m, const struct member_config *cfg, const struct member_ops *ops,
		 void *ctx, struct fsm *fsm);
/* Hands a new core over (created and loaded by the caller), with the fsm
 * from the durable snapshot it was loaded from (snap NULL: none; fsm_init).
 * Returns 0, or fsm_snapshot_decode()'s error (nothing changed). */
int member_start(struct member *m, struct raft *raft, const void *snap, size_t snap_len,
		 uint64_t snap_index);
/* Forgets the core and everything in memory: the update in flight (its
 * write's outcome is ignored: a crash, a restart of the core, a stop), the
 * checkpoints, the counters of snapshots. The fsm is reset with fsm_init().
 * The caller frees the core. Clears halted. */
void member_reset(struct member *m);
/* Forgets the update in flight only (the process stops; its outcome is not
 * waited for): what it was to send and apply is redone from the log at the
 * next start. */
void member_abandon(struct member *m);
/* Frees what member_init/start allocated (not the core). */
void member_free(struct member *m);

/* See the top. */
void member_drive(struct member *m, uint64_t now);
void member_persisted(struct member *m, uint64_t now, int rc);
/* Called from a hook: stop driving (the caller's checks failed). */
void member_halt(struct member *m);

/* True if u needs the disk: meta, a snapshot, a truncation, entries, a
 * compaction, or committed entries the audit chain records. */
bool member_update_needs_disk(const struct raft_update *u);

#endif
