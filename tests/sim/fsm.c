/* SPDX-License-Identifier: MIT */
/*
 * fsm.c - what the checkers keep beside each member's state machine.
 *
 * The state machine itself is fsm/'s `struct fsm`, applied, checkpointed,
 * snapshotted and restored by the daemon's own driver (daemon/member.c, run
 * by node.c); snapshots are fsm/'s encoding, exactly as duetd takes them
 * (the simulator has no trap pipeline: no committed keys section).
 *
 * Beside it, the fingerprint the log checks compare: the applied index and
 * term and a running 64-bit chain hash over every applied entry (term,
 * index, wall time, author, type, payload), chained like the audit log of
 * DESIGN.md section 3. The same chain function hashes log prefixes in
 * disk.c, so "the state machine after index i" and "the log prefix up to i"
 * have the same fingerprint. A snapshot does not carry the chain: a
 * snapshot must be of a committed state, so its chain is the committed one
 * at its (index, term) (check.c's record of commits); one at an index and
 * term nobody committed does not parse, and fsm_agreement compares the
 * state it holds with every other member's at that index.
 */
#include <string.h>

#include "sim.h"

uint64_t sim_entry_hash(const struct raft_entry *e)
{
	uint64_t h = 0x656e747279ull;
	h = sim_mix(h, e->term);
	h = sim_mix(h, e->index);
	h = sim_mix(h, e->wall_ms);
	h = sim_mix(h, (uint64_t)e->author << 8 | e->type);
	return sim_hash_bytes(h, e->data, e->len);
}

uint64_t sim_chain_next(uint64_t prev, const struct raft_entry *e)
{
	return sim_mix(prev, sim_entry_hash(e));
}

void sim_fsm_reset(struct sim_fsm *f)
{
	memset(f, 0, sizeof(*f));
	f->chain = SIM_CHAIN0;
	fsm_init(&f->real);
}

void sim_fsm_applied(struct sim_fsm *f, const struct raft_entry *e)
{
	if (e->type == RAFT_ENTRY_MEMBERSHIP)
		f->last_membership = e->index;
	f->applied = e->index;
	f->applied_term = e->term;
	f->chain = sim_chain_next(f->chain, e);
}

void sim_fsm_restored(struct sim_fsm *f, uint64_t chain)
{
	f->applied = f->real.applied_index;
	f->applied_term = f->real.applied_term;
	f->chain = chain;
	/* which MEMBERSHIP came last is not in the snapshot: count it as at
	 * the snapshot (check.c only uses it to excuse, never to accuse) */
	f->last_membership = f->applied;
}

int sim_fsm_blob_parse(const struct sim *s, const uint8_t *blob, uint32_t len,
		       struct fsm_blob_info *info)
{
	struct fsm f;
	const uint8_t *keys;
	uint32_t keys_len;
	if (!blob || fsm_snapshot_decode_keys(blob, len, &f, &keys, &keys_len))
		return -1;
	const struct commit_rec *c = check_commit(s, f.applied_index);
	if (!c || c->term != f.applied_term)
		return -1;
	info->index = f.applied_index;
	info->term = f.applied_term;
	info->chain = c->chain;
	return 0;
}
