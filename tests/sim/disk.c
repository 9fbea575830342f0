/* SPDX-License-Identifier: MIT */
/*
 * disk.c - the durable state of each member: what survives a crash.
 *
 * The simulator owns it (deep copies; the core never sees these buffers
 * except through raft_load): term, vote, the current snapshot (meta and blob)
 * and the log entries. A write is one raft_update applied as ONE atomic
 * transaction in the order raftlog.h prescribes (meta, snapshot, truncate,
 * append, compact) when its persist event completes; a crash before that
 * loses the whole update, as a lost LMDB transaction would (node.c).
 *
 * Storage is keyed by index like LMDB, but we hold the core to a contract a
 * real store relies on, and report a breach as `storage_contract`: the term
 * never goes back, appends continue the log (an overwrite must be preceded by
 * truncate_from), compaction never passes the durable snapshot, and the log
 * after a snapshot continues that snapshot. A changed vote within one term is
 * `double_vote`.
 *
 * Each stored entry carries the chain hash of the log prefix it ends (fsm.c's
 * function), so log matching is one comparison per entry (check.c), and
 * truncating an entry that is committed everywhere else is seen here as
 * `commit_lost`.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

static void entry_free(struct raft_entry *e)
{
	free(e->data);
	e->data = NULL;
}

void disk_init(struct sim_disk *d, const struct raft_entry *boot)
{
	memset(d, 0, sizeof(*d));
	d->term = 1;
	d->cap = 64;
	d->entries = sim_xmalloc(d->cap * sizeof(*d->entries));
	d->chain = sim_xmalloc(d->cap * sizeof(*d->chain));
	d->entries[0] = *boot;
	d->entries[0].data = sim_xmemdup(boot->data, boot->len);
	d->chain[0] = sim_chain_next(SIM_CHAIN0, boot);
	d->n = 1;
	d->first = 1;
}

void disk_free(struct sim_disk *d)
{
	for (size_t i = 0; i < d->n; i++)
		entry_free(&d->entries[i]);
	free(d->entries);
	free(d->chain);
	free(d->snap_data);
	memset(d, 0, sizeof(*d));
}

static uint64_t entries_last(const struct sim_disk *d)
{
	return d->n ? d->first + d->n - 1 : 0;
}

uint64_t disk_last_index(const struct sim_disk *d)
{
	uint64_t last = entries_last(d);
	if (d->has_snap && d->snap.index > last)
		last = d->snap.index;
	return last;
}

bool disk_chain_at(const struct sim_disk *d, uint64_t index, uint64_t *chain)
{
	if (index == 0) {
		*chain = SIM_CHAIN0;
		return true;
	}
	/* the snapshot wins over a stale entry at its index that the same
	 * transaction has not compacted yet: what follows continues the snapshot */
	if (d->has_snap && index == d->snap.index) {
		*chain = d->snap_chain;
		return true;
	}
	if (d->n && index >= d->first && index <= entries_last(d)) {
		*chain = d->chain[index - d->first];
		return true;
	}
	return false;
}

bool disk_holds(const struct sim_disk *d, uint64_t index, uint64_t chain)
{
	uint64_t c;
	if (d->has_snap && d->snap.index >= index)
		return true;
	return disk_chain_at(d, index, &c) && c == chain;
}

static void truncate_from(struct sim_disk *d, uint64_t from)
{
	while (d->n && entries_last(d) >= from)
		entry_free(&d->entries[--d->n]);
}

static void compact_to(struct sim_disk *d, uint64_t to)
{
	if (!d->n || to < d->first)
		return;
	size_t k = to >= entries_last(d) ? d->n : (size_t)(to - d->first + 1);
	for (size_t i = 0; i < k; i++)
		entry_free(&d->entries[i]);
	memmove(d->entries, d->entries + k, (d->n - k) * sizeof(*d->entries));
	memmove(d->chain, d->chain + k, (d->n - k) * sizeof(*d->chain));
	d->n -= k;
	d->first = d->n ? to + 1 : 0;
}

static void push_entry(struct sim_disk *d, const struct raft_entry *e, uint64_t chain)
{
	if (d->n == d->cap) {
		d->cap *= 2;
		d->entries = sim_xrealloc(d->entries, d->cap * sizeof(*d->entries));
		d->chain = sim_xrealloc(d->chain, d->cap * sizeof(*d->chain));
	}
	if (!d->n)
		d->first = e->index;
	d->entries[d->n] = *e;
	d->entries[d->n].data = sim_xmemdup(e->data, e->len);
	d->chain[d->n] = chain;
	d->n++;
}

void disk_preview(struct sim *s, struct sim_node *n, const struct raft_update *u)
{
	const struct sim_disk *d = &n->disk;
	struct fsm_blob_info bi = {0};
	bool snap_ok =
	    u->has_snapshot && sim_fsm_blob_parse(s, u->snap_data, u->snap_len, &bi) == 0;
	uint64_t prev_index = 0, prev_chain = 0;
	bool have_prev = false;
	for (size_t i = 0; i < u->n_entries && !s->failed; i++) {
		const struct raft_entry *e = &u->entries[i];
		uint64_t c;
		if (have_prev && prev_index + 1 == e->index)
			c = prev_chain;
		else if (snap_ok && bi.index + 1 == e->index)
			c = bi.chain;
		else if ((!u->truncate_from || e->index - 1 < u->truncate_from) &&
			 disk_chain_at(d, e->index - 1, &c))
			;
		else
			return; /* a gap: disk_apply reports it when the write lands */
		prev_chain = sim_chain_next(c, e);
		prev_index = e->index;
		have_prev = true;
		check_log_entry(s, n->id, e->index, e->term, prev_chain, "pending write");
	}
}

/* The highest index at or above `from` that this disk holds exactly as it was
 * committed, so that a truncation from `from` would remove a committed entry.
 * Chain hashes are prefix hashes, so matching indices form a prefix: the
 * first match scanning down is the highest. */
static uint64_t committed_at_risk(const struct sim *s, const struct sim_disk *d, uint64_t from)
{
	uint64_t hi = entries_last(d);
	if (hi > s->check.max_commit)
		hi = s->check.max_commit;
	for (uint64_t i = hi; d->n && i >= from && i >= d->first && i > 0; i--) {
		const struct commit_rec *c = check_commit(s, i);
		if (c && c->chain == d->chain[i - d->first])
			return i;
	}
	return 0;
}

static void apply_snapshot(struct sim *s, struct sim_node *n, const struct raft_update *u)
{
	struct sim_disk *d = &n->disk;
	struct fsm_blob_info bi;
	if (sim_fsm_blob_parse(s, u->snap_data, u->snap_len, &bi)) {
		sim_fail(s, "snapshot",
			 "n%u: snapshot %" PRIu64 "/%" PRIu64
			 " to persist: blob of %u bytes is not a state machine snapshot",
			 n->id, u->snap.index, u->snap.term, u->snap_len);
		return;
	}
	if (bi.index != u->snap.index || bi.term != u->snap.term) {
		sim_fail(s, "snapshot",
			 "n%u: snapshot meta says %" PRIu64 "/%" PRIu64 ", its blob holds %" PRIu64
			 "/%" PRIu64,
			 n->id, u->snap.index, u->snap.term, bi.index, bi.term);
		return;
	}
	if (d->has_snap && u->snap.index < d->snap.index) {
		sim_fail(s, "storage_contract",
			 "n%u: new snapshot at %" PRIu64 " replaces a newer one at %" PRIu64, n->id,
			 u->snap.index, d->snap.index);
		return;
	}
	free(d->snap_data);
	d->snap = u->snap;
	d->snap_data = sim_xmemdup(u->snap_data, u->snap_len);
	d->snap_len = u->snap_len;
	d->snap_chain = bi.chain;
	d->has_snap = true;
	check_log_entry(s, n->id, bi.index, bi.term, bi.chain, "durable snapshot");
}

static void append(struct sim *s, struct sim_node *n, const struct raft_entry *e)
{
	struct sim_disk *d = &n->disk;
	uint64_t last = entries_last(d);
	if (d->n && e->index >= d->first && e->index <= last) {
		if (sim_entry_hash(&d->entries[e->index - d->first]) == sim_entry_hash(e))
			return; /* the same entry again: an idempotent put */
		sim_fail(s, "storage_contract",
			 "n%u: append overwrites index %" PRIu64 " (term %" PRIu64 " -> %" PRIu64
			 ") without truncate_from; durable log %" PRIu64 "..%" PRIu64,
			 n->id, e->index, d->entries[e->index - d->first].term, e->term, d->first,
			 last);
		return;
	}
	uint64_t prev;
	if (!disk_chain_at(d, e->index - 1, &prev) ||
	    (d->n && e->index != last + 1 && (!d->has_snap || last > d->snap.index))) {
		sim_fail(s, "storage_contract",
			 "n%u: append at %" PRIu64
			 " does not continue the durable log (entries %" PRIu64 "..%" PRIu64
			 ", snapshot %" PRIu64 ")",
			 n->id, e->index, d->first, last, d->has_snap ? d->snap.index : 0);
		return;
	}
	if (d->n && e->index != last + 1)
		truncate_from(d, 0); /* stale entries below a newer snapshot: unreachable */
	uint64_t chain = sim_chain_next(prev, e);
	push_entry(d, e, chain);
	check_log_entry(s, n->id, e->index, e->term, chain, "durable log");
}

static void check_shape(struct sim *s, struct sim_node *n)
{
	struct sim_disk *d = &n->disk;
	uint64_t last = entries_last(d);
	if (!d->has_snap) {
		if (!d->n || d->first != 1)
			sim_fail(s, "storage_contract",
				 "n%u: durable log %" PRIu64 "..%" PRIu64
				 " without a snapshot does not start at 1",
				 n->id, d->first, last);
		return;
	}
	if (!d->n || last <= d->snap.index)
		return;
	size_t k = (size_t)(d->snap.index + 1 - d->first);
	if (d->first > d->snap.index + 1)
		sim_fail(s, "storage_contract",
			 "n%u: durable entries start at %" PRIu64
			 ", after the snapshot at %" PRIu64,
			 n->id, d->first, d->snap.index);
	else if (d->chain[k] != sim_chain_next(d->snap_chain, &d->entries[k]))
		sim_fail(s, "storage_contract",
			 "n%u: durable entry %" PRIu64 "/%" PRIu64
			 " does not continue the snapshot at %" PRIu64
			 " (a raft_load would join two "
			 "different logs)",
			 n->id, d->entries[k].index, d->entries[k].term, d->snap.index);
}

void disk_apply(struct sim *s, struct sim_node *n, const struct raft_update *u)
{
	struct sim_disk *d = &n->disk;
	uint64_t at_risk = u->truncate_from ? committed_at_risk(s, d, u->truncate_from) : 0;

	if (u->meta_changed) {
		if (u->term < d->term) {
			sim_fail(s, "storage_contract",
				 "n%u: durable term goes back from %" PRIu64 " to %" PRIu64, n->id,
				 d->term, u->term);
			return;
		}
		if (u->term == d->term && d->vote && u->vote != d->vote) {
			sim_fail(s, "double_vote",
				 "n%u: durable vote in term %" PRIu64 " changes from %u to %u",
				 n->id, d->term, d->vote, u->vote);
			return;
		}
		d->term = u->term;
		d->vote = u->vote;
	}
	if (u->has_snapshot)
		apply_snapshot(s, n, u);
	if (u->truncate_from)
		truncate_from(d, u->truncate_from);
	bool own_term_entry = false;
	for (size_t i = 0; i < u->n_entries && !s->failed; i++) {
		append(s, n, &u->entries[i]);
		own_term_entry |= n->lc_pending && u->entries[i].term == n->lc_term;
	}
	if (s->failed)
		return;
	if (u->compact_to) {
		if (!d->has_snap || u->compact_to > d->snap.index) {
			sim_fail(s, "storage_contract",
				 "n%u: compact_to %" PRIu64 " passes the durable snapshot (%" PRIu64
				 ")",
				 n->id, u->compact_to, d->has_snap ? d->snap.index : 0);
			return;
		}
		compact_to(d, u->compact_to);
	}
	check_shape(s, n);
	if (at_risk && !s->failed) {
		uint64_t c;
		const struct commit_rec *rec = check_commit(s, at_risk);
		bool kept = (d->has_snap && d->snap.index >= at_risk) ||
			    (disk_chain_at(d, at_risk, &c) && c == rec->chain);
		if (!kept)
			sim_fail(s, "commit_lost",
				 "n%u: truncate_from %" PRIu64 " removes committed entry %" PRIu64
				 " (term %" PRIu64 ") from its durable log",
				 n->id, u->truncate_from, at_risk, rec->term);
	}
	if (own_term_entry && !s->failed)
		check_leader_durable(s, n, n->lc_term);
}

void disk_load_state(const struct sim_disk *d, struct raft_load_state *st)
{
	memset(st, 0, sizeof(*st));
	st->term = d->term;
	st->vote = d->vote;
	uint64_t start = 1;
	if (d->has_snap) {
		st->snap = &d->snap;
		st->snap_data = d->snap_data;
		st->snap_len = d->snap_len;
		start = d->snap.index + 1;
	}
	if (d->n && start >= d->first && start <= entries_last(d)) {
		st->entries = &d->entries[start - d->first];
		st->n_entries = (size_t)(entries_last(d) - start + 1);
	}
}
