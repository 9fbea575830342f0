/* SPDX-License-Identifier: MIT */
/*
 * crash_common.c - shared by the crash test and its child (crash_common.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crash_common.h"
#include "duet/wire.h"

uint64_t crash_mix(uint64_t seed)
{
	uint64_t z = seed + 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return z ? z : 1;
}

int crash_op_format(const struct crash_op *op, char *buf, size_t cap)
{
	return snprintf(buf, cap,
			"U %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
			" %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
			op->meta_changed, op->term, op->vote, op->has_snap, op->snap_index,
			op->snap_term, op->truncate_from, op->first, op->n, op->entry_term,
			op->compact_to);
}

int crash_op_parse(const char *line, struct crash_op *op)
{
	int got = sscanf(line,
			 "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
			 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64,
			 &op->meta_changed, &op->term, &op->vote, &op->has_snap, &op->snap_index,
			 &op->snap_term, &op->truncate_from, &op->first, &op->n, &op->entry_term,
			 &op->compact_to);
	return got == 11 ? 0 : -1;
}

void crash_model_free(struct crash_model *m)
{
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

static void crash_model_reserve(struct crash_model *m, uint64_t index)
{
	if (index < m->cap)
		return;
	size_t cap = m->cap ? m->cap : 1024;
	while (cap <= index)
		cap *= 2;
	m->slots = realloc(m->slots, cap * sizeof(*m->slots));
	if (!m->slots)
		abort();
	memset(m->slots + m->cap, 0, (cap - m->cap) * sizeof(*m->slots));
	m->cap = cap;
}

void crash_model_copy(struct crash_model *dst, const struct crash_model *src)
{
	*dst = *src;
	dst->slots = NULL;
	dst->cap = 0;
	if (src->cap) {
		crash_model_reserve(dst, src->cap - 1);
		memcpy(dst->slots, src->slots, src->cap * sizeof(*src->slots));
	}
}

void crash_model_apply(struct crash_model *m, const struct crash_op *op)
{
	if (op->meta_changed) {
		m->term = op->term;
		m->vote = (uint32_t)op->vote;
	}
	if (op->has_snap) {
		m->snap_index = op->snap_index;
		m->snap_term = op->snap_term;
	}
	if (op->truncate_from && m->last >= op->truncate_from)
		m->last = op->truncate_from - 1;
	if (m->last < m->first || m->last == 0)
		m->first = m->last = 0;
	if (op->n) {
		crash_model_reserve(m, op->first + op->n);
		if (m->last == 0)
			m->first = op->first;
		m->last = op->first + op->n - 1;
		for (uint64_t i = op->first; i <= m->last; i++)
			m->slots[i] = (struct crash_slot){op->entry_term, op->first, m->last};
	}
	if (op->compact_to && m->last != 0) {
		if (op->compact_to >= m->last)
			m->first = m->last = 0;
		else if (op->compact_to >= m->first)
			m->first = op->compact_to + 1;
	}
	/* entries at or below the snapshot are stale: invisible, whether or not
	 * the store's incremental compaction deleted them yet */
	if (m->snap_index && m->last != 0) {
		if (m->last <= m->snap_index)
			m->first = m->last = 0;
		else if (m->first <= m->snap_index)
			m->first = m->snap_index + 1;
	}
}

void crash_model_diff(const struct crash_model *a, const struct crash_model *b, char *why,
		      size_t cap)
{
	why[0] = 0;
	if (a->term != b->term || a->vote != b->vote)
		snprintf(why, cap, "hardstate %" PRIu64 "/%u vs %" PRIu64 "/%u", a->term, a->vote,
			 b->term, b->vote);
	else if (a->snap_index != b->snap_index || a->snap_term != b->snap_term)
		snprintf(why, cap, "snapshot %" PRIu64 " vs %" PRIu64, a->snap_index,
			 b->snap_index);
	else if (a->first != b->first || a->last != b->last)
		snprintf(why, cap, "log [%" PRIu64 ", %" PRIu64 "] vs [%" PRIu64 ", %" PRIu64 "]",
			 a->first, a->last, b->first, b->last);
	else
		for (uint64_t i = a->first; a->last && i <= a->last; i++)
			if (memcmp(&a->slots[i], &b->slots[i], sizeof(a->slots[i])) != 0) {
				snprintf(why, cap, "entry %" PRIu64 " differs", i);
				break;
			}
}

static uint8_t crash_byte(uint64_t index, uint64_t term, uint32_t k)
{
	uint64_t x = (index + 1) * 0x9e3779b97f4a7c15ull ^ (term + 7) * 0xc2b2ae3d27d4eb4full;
	x += k * 0xff51afd7ed558ccdull;
	x ^= x >> 31;
	x *= 0x94d049bb133111ebull;
	return (uint8_t)(x >> 40);
}

void crash_entry(struct raft_entry *e, uint8_t *buf, uint32_t len, uint64_t index, uint64_t term,
		 uint64_t batch_first, uint64_t batch_last)
{
	struct wire_writer w;
	wire_writer_init(&w, buf, len);
	wire_put_u32(&w, (uint32_t)(index - batch_first));
	wire_put_u32(&w, (uint32_t)(batch_last - index));
	for (uint32_t k = 8; k < len; k++)
		buf[k] = crash_byte(index, term, k);
	*e = (struct raft_entry){.term = term,
				 .index = index,
				 .wall_ms = index ^ term,
				 .author = CRASH_NODE,
				 .type = RAFT_ENTRY_NOOP,
				 .len = len,
				 .data = buf};
}

/* Checks content; gives the batch the entry says it belongs to. */
static bool crash_entry_ok(const struct raft_entry *e, uint64_t *bf, uint64_t *bl)
{
	if (e->len < CRASH_MIN_PAYLOAD || e->len > CRASH_MAX_PAYLOAD ||
	    e->wall_ms != (e->index ^ e->term) || e->author != CRASH_NODE ||
	    e->type != RAFT_ENTRY_NOOP)
		return false;
	struct wire_reader r;
	wire_reader_init(&r, e->data, e->len);
	*bf = e->index - wire_get_u32(&r);
	*bl = e->index + wire_get_u32(&r);
	for (uint32_t k = 8; k < e->len; k++)
		if (e->data[k] != crash_byte(e->index, e->term, k))
			return false;
	return true;
}

uint32_t crash_snap_len(uint64_t index)
{
	return 64 + (uint32_t)(index * 131 % 4000);
}

void crash_snap_fill(uint8_t *buf, uint32_t len, uint64_t index, uint64_t term)
{
	for (uint32_t k = 0; k < len; k++)
		buf[k] = crash_byte(index, term ^ 0x5a5a, k);
}

static int crash_load_snapshot(struct store *s, struct crash_model *m, char *why, size_t cap)
{
	struct raft_snapshot_meta meta;
	uint8_t *data;
	uint32_t len;
	int rc = store_snapshot_get(s, &meta, &data, &len);
	if (rc == DUET_ENOENT)
		return 0;
	if (rc) {
		snprintf(why, cap, "snapshot: %s", duet_strerror(rc));
		return rc;
	}
	uint8_t *want = malloc(len + 1);
	crash_snap_fill(want, len, meta.index, meta.term);
	bool ok = len == crash_snap_len(meta.index) && memcmp(want, data, len) == 0 &&
		  meta.conf.n == 1 && meta.conf.members[0].id == CRASH_NODE;
	free(want);
	free(data);
	if (!ok) {
		snprintf(why, cap, "snapshot %" PRIu64 " has the wrong content", meta.index);
		return DUET_ECORRUPT;
	}
	m->snap_index = meta.index;
	m->snap_term = meta.term;
	return 0;
}

/*
 * Every entry intact, and batches whole: a batch starts where its first entry
 * is (only compaction, at the log's start, removes a batch's head) and ends
 * where it says, unless a later batch of a higher term replaced its tail (the
 * child truncates only to append in a new term).
 */
static int crash_load_entries(struct crash_model *m, const struct raft_entry *e, size_t n,
			      char *why, size_t cap)
{
	crash_model_reserve(m, m->last + 1);
	for (size_t i = 0; i < n; i++) {
		uint64_t bf, bl, index = e[i].index;
		if (index != m->first + i || !crash_entry_ok(&e[i], &bf, &bl)) {
			snprintf(why, cap, "entry %" PRIu64 " is not what was written", index);
			return DUET_ECORRUPT;
		}
		m->slots[index] = (struct crash_slot){e[i].term, bf, bl};
		if (i == 0)
			continue;
		const struct crash_slot *prev = &m->slots[index - 1];
		if (prev->batch_first == bf) {
			if (prev->batch_last != bl || prev->term != e[i].term) {
				snprintf(why, cap, "entry %" PRIu64 " disagrees with its batch",
					 index);
				return DUET_ECORRUPT;
			}
		} else if (bf != index ||
			   (prev->batch_last != index - 1 && e[i].term <= prev->term)) {
			snprintf(why, cap, "a batch around index %" PRIu64 " is partly visible",
				 index);
			return DUET_ECORRUPT;
		}
	}
	if (n && m->slots[m->last].batch_last != m->last) {
		snprintf(why, cap,
			 "the last batch is partly visible (log ends at %" PRIu64
			 ", batch at %" PRIu64 ")",
			 m->last, m->slots[m->last].batch_last);
		return DUET_ECORRUPT;
	}
	return 0;
}

int crash_model_load(struct store *s, struct crash_model *m, char *why, size_t cap)
{
	struct store_meta meta;
	memset(m, 0, sizeof(*m));
	why[0] = 0;
	int rc = store_meta_get(s, &meta);
	if (rc) {
		snprintf(why, cap, "meta: %s", duet_strerror(rc));
		return rc;
	}
	m->term = meta.term;
	m->vote = meta.vote;
	rc = crash_load_snapshot(s, m, why, cap);
	if (rc == 0)
		rc = store_log_bounds(s, &m->first, &m->last);
	if (rc || m->last == 0)
		return rc;
	struct raft_entry *e;
	size_t n;
	rc = store_log_read(s, m->first, m->last, &e, &n, why, cap);
	if (rc == 0 && n != m->last - m->first + 1) {
		snprintf(why, cap, "read %zu entries of [%" PRIu64 ", %" PRIu64 "]", n, m->first,
			 m->last);
		rc = DUET_ECORRUPT;
	}
	if (rc == 0)
		rc = crash_load_entries(m, e, n, why, cap);
	store_entries_free(e, n);
	return rc;
}
