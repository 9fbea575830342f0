/* SPDX-License-Identifier: MIT */
/*
 * crash_child.c - storage-crash-child DIR SEED: the process the crash test
 * kills. It opens the store, then forever picks an operation (append a
 * batch, write the hard state, replace a suffix in a new term, snapshot and
 * compact), announces it on stdout, performs it, and acknowledges it once
 * the call returned 0 (protocol in crash_common.h). Everything it does
 * follows from SEED, so a failing round can be replayed.
 *
 * Compaction is incremental (a bounded step per write transaction); the
 * child lowers the step to CRASH_COMPACT_STEP so that the few hundred
 * entries a snapshot covers take dozens of its writes to delete, and kills
 * land before, during and after that. Some snapshots come without
 * compact_to: the store compacts below a stored snapshot either way.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crash_common.h"
#include "store_internal.h" /* store_set_compact_step */

#define CRASH_COMPACT_ABOVE 400 /* entries kept before a snapshot compacts them */

static uint64_t rng_next(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void say(const char *line)
{
	size_t len = strlen(line), off = 0;
	while (off < len) { /* one write: < PIPE_BUF, so atomic on the pipe */
		ssize_t w = write(1, line + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			exit(4);
		off += (size_t)w;
	}
}

static uint64_t max3(uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t m = a > b ? a : b;
	return m > c ? m : c;
}

static void choose(const struct crash_model *m, uint64_t *rng, struct crash_op *op)
{
	uint64_t last_term = m->last ? m->slots[m->last].term : m->snap_term;
	uint64_t top = max3(m->term, last_term, 1);
	uint64_t base = m->first ? m->first - 1 : 0;
	base = base > m->snap_index ? base : m->snap_index;
	uint64_t above = m->last > base ? m->last - base : 0; /* may be truncated */
	uint64_t r = rng_next(rng) % 100;
	memset(op, 0, sizeof(*op));
	if (r < 10) {
		op->meta_changed = 1;
		op->term = m->term + rng_next(rng) % 2;
		op->vote = 1 + rng_next(rng) % 3;
		return;
	}
	op->first = m->last ? m->last + 1 : m->snap_index + 1;
	op->n = 1 + rng_next(rng) % CRASH_MAX_BATCH;
	op->entry_term = top;
	if (r < 25 && above) {
		uint64_t k = 1 + rng_next(rng) % (above < 32 ? above : 32);
		op->truncate_from = op->first = m->last - k + 1;
		op->meta_changed = 1;
		op->term = op->entry_term = top + 1;
		op->vote = CRASH_NODE;
	} else if (m->last && m->last - m->first + 1 > CRASH_COMPACT_ABOVE) {
		op->has_snap = 1;
		op->snap_index = m->last;
		op->snap_term = last_term;
		uint64_t c = rng_next(rng) % 64;
		op->compact_to = c < 50 ? m->last - c : 0; /* 0: snapshot alone */
	} else if (r % 4 == 0) {
		op->meta_changed = 1;
		op->term = top;
		op->vote = CRASH_NODE;
	}
}

static struct raft_entry ents[CRASH_MAX_BATCH];
static uint8_t bufs[CRASH_MAX_BATCH][CRASH_MAX_PAYLOAD];

static int perform(struct store *s, const struct crash_op *op, uint64_t *rng)
{
	uint64_t last = op->first + op->n - 1;
	for (uint64_t i = 0; i < op->n; i++) {
		uint32_t span = CRASH_MAX_PAYLOAD - CRASH_MIN_PAYLOAD + 1;
		uint32_t len = CRASH_MIN_PAYLOAD + (uint32_t)(rng_next(rng) % span);
		crash_entry(&ents[i], bufs[i], len, op->first + i, op->entry_term, op->first, last);
	}
	bool only_meta = op->meta_changed && !op->n;
	bool only_append = op->n && !op->meta_changed && !op->has_snap && !op->truncate_from;
	bool direct = rng_next(rng) % 2;
	if (only_meta && direct)
		return store_set_hardstate(s, op->term, (uint32_t)op->vote);
	if (only_append && direct)
		return store_log_append(s, ents, op->n);
	struct raft_update u = {.meta_changed = (uint8_t)op->meta_changed,
				.term = op->term,
				.vote = (uint32_t)op->vote,
				.has_snapshot = (uint8_t)op->has_snap,
				.snap = {.index = op->snap_index, .term = op->snap_term},
				.truncate_from = op->truncate_from,
				.entries = ents,
				.n_entries = op->n,
				.compact_to = op->compact_to};
	if (op->has_snap) {
		u.snap.conf.n = 1;
		u.snap.conf.members[0] =
		    (struct duet_member){.id = CRASH_NODE, .kind = DUET_MEMBER_DATA};
		u.snap_len = crash_snap_len(op->snap_index);
		u.snap_data = malloc(u.snap_len);
		crash_snap_fill(u.snap_data, u.snap_len, op->snap_index, op->snap_term);
	}
	int rc = store_apply_update(s, &u);
	free(u.snap_data);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: storage-crash-child DIR SEED\n");
		return 2;
	}
	uint64_t rng = crash_mix(strtoull(argv[2], NULL, 10));
	struct store_options o = {
	    .path = argv[1], .cluster_id = CRASH_CLUSTER, .node_id = CRASH_NODE};
	struct store *s;
	char err[512];
	int rc = store_open(&o, &s, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "crash child: store_open: %s\n", err);
		return 3;
	}
	store_set_compact_step(s, CRASH_COMPACT_STEP);
	struct crash_model m;
	if (crash_model_load(s, &m, err, sizeof(err)) != 0) {
		fprintf(stderr, "crash child: %s\n", err);
		return 3;
	}
	char line[CRASH_LINE_MAX];
	snprintf(line, sizeof(line), "R %" PRIu64 "\n", m.last);
	say(line);
	for (;;) {
		struct crash_op op;
		choose(&m, &rng, &op);
		crash_op_format(&op, line, sizeof(line));
		say(line);
		rc = perform(s, &op, &rng);
		if (rc) {
			fprintf(stderr, "crash child: operation failed: %s\n", duet_strerror(rc));
			return 3;
		}
		crash_model_apply(&m, &op);
		snprintf(line, sizeof(line), "K %" PRIu64 "\n", m.last);
		say(line);
	}
}
