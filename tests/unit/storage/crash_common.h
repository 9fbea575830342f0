/* SPDX-License-Identifier: MIT */
/*
 * crash_common.h - what the crash test and its child share: the operations
 * the child performs (and announces on its stdout before doing them), the
 * deterministic content of entries and snapshots, and a model of the store
 * that both sides apply the operations to.
 *
 * Protocol, one line per write(2) (atomic on a pipe, PIPE_BUF):
 *   "R <last>"          the child opened and loaded the store
 *   "U <op fields...>"  the child is about to perform this operation
 *   "K <last>"          the operation returned 0: it is durable
 * After SIGKILL the store must equal the model with every acknowledged
 * operation applied, or that plus the one announced but unacknowledged.
 * The model holds what the store shows: entries at or below the snapshot
 * are stale (the store deletes them a step per write) and not in it.
 *
 * Each entry's payload records its batch ([first, last] of the append that
 * wrote it), so a half-visible batch is detectable without the model too.
 */
#ifndef DUET_TEST_CRASH_COMMON_H
#define DUET_TEST_CRASH_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "duet/storage.h"

#define CRASH_CLUSTER     0x00c0ffee00000042ull
#define CRASH_NODE        1
#define CRASH_MAX_BATCH   64
#define CRASH_MIN_PAYLOAD 16
#define CRASH_MAX_PAYLOAD 2048
#define CRASH_LINE_MAX    256
/* Stale entries the child's store deletes per write transaction (the store
 * deletes STORE_COMPACT_STEP; fewer here so that a compaction spans many of
 * the child's few writes and kills land in the middle of it). */
#define CRASH_COMPACT_STEP 32

/* One store_apply_update() worth of work (or a store_set_hardstate /
 * store_log_append call when only that part is set). */
struct crash_op {
	uint64_t meta_changed, term, vote;
	uint64_t has_snap, snap_index, snap_term;
	uint64_t truncate_from;
	uint64_t first, n, entry_term; /* appended batch [first, first+n) */
	uint64_t compact_to;
};

/* splitmix64: turns any seed (even 0 or 1) into a good xorshift state. */
uint64_t crash_mix(uint64_t seed);

int crash_op_format(const struct crash_op *op, char *buf, size_t cap);
int crash_op_parse(const char *line, struct crash_op *op); /* line after "U " */

struct crash_slot {
	uint64_t term, batch_first, batch_last;
};

struct crash_model {
	uint64_t term;
	uint32_t vote;
	uint64_t snap_index, snap_term; /* 0: no snapshot */
	uint64_t first, last;           /* 0, 0: empty log */
	struct crash_slot *slots;       /* indexed by entry index */
	size_t cap;
};

void crash_model_free(struct crash_model *m);
void crash_model_copy(struct crash_model *dst, const struct crash_model *src);
void crash_model_apply(struct crash_model *m, const struct crash_op *op);
/* Empty string if equal, else what differs first. */
void crash_model_diff(const struct crash_model *a, const struct crash_model *b, char *why,
		      size_t cap);

/* Entry content derived from (index, term, batch); payload len is free. */
void crash_entry(struct raft_entry *e, uint8_t *buf, uint32_t len, uint64_t index, uint64_t term,
		 uint64_t batch_first, uint64_t batch_last);
uint32_t crash_snap_len(uint64_t index);
void crash_snap_fill(uint8_t *buf, uint32_t len, uint64_t index, uint64_t term);

/* Reads the whole store, checks every entry's content and batch, and the
 * snapshot's content, and builds the model. 0, or an error with `why`. */
int crash_model_load(struct store *s, struct crash_model *m, char *why, size_t cap);

#endif
