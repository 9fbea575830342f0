/* SPDX-License-Identifier: MIT */
/*
 * member.c - the one driver (member.h): raftlog's update loop, the fsm, the
 * checkpoint ring and the snapshot floor. Pure: no I/O, no clock, no libuv.
 * duetd's node.c and duet-sim's node.c both call it.
 */
#include <stdlib.h>
#include <string.h>

#include "duet/err.h"
#include "duet/member.h"
#include "duet/storage.h"

#ifdef DUET_SIM_PLANT_BUG_SNAPSHOT_WITHOUT_FSM
/* Planted (duet-sim-bug-snapshot_without_fsm, never in duetd): a restored
 * snapshot's state is ignored, the member starts afresh at its index. */
static void planted_snapshot_without_fsm(struct fsm *f)
{
	uint64_t index = f->applied_index, term = f->applied_term;
	fsm_init(f);
	f->applied_index = index;
	f->applied_term = term;
}
#else
static void planted_snapshot_without_fsm(struct fsm *f)
{
}
#endif

void member_init(struct member *m, const struct member_config *cfg, const struct member_ops *ops,
		 void *ctx, struct fsm *fsm)
{
	memset(m, 0, sizeof *m);
	m->cfg = *cfg;
	m->ops = ops;
	m->ctx = ctx;
	m->fsm = fsm;
	fsm_init(fsm);
}

static void free_checkpoints(struct member *m)
{
	for (unsigned i = 0; i < MEMBER_CKPT_N; i++)
		free(m->ckpt[i].fsm);
	memset(m->ckpt, 0, sizeof m->ckpt);
	m->ckpt_next = 0;
}

static void drop_update(struct member *m)
{
	raft_update_free(&m->update);
	memset(&m->update, 0, sizeof m->update);
	m->persisting = false;
}

void member_reset(struct member *m)
{
	drop_update(m);
	free_checkpoints(m);
	m->raft = NULL;
	m->halted = false;
	m->last_snapshot_index = m->last_snapshot_bytes = m->applied_bytes = 0;
	fsm_init(m->fsm);
}

void member_abandon(struct member *m)
{
	drop_update(m);
}

void member_free(struct member *m)
{
	drop_update(m);
	free_checkpoints(m);
	m->raft = NULL;
}

int member_start(struct member *m, struct raft *raft, const void *snap, size_t snap_len,
		 uint64_t snap_index)
{
	struct fsm f;
	fsm_init(&f);
	if (snap) {
		int rc = fsm_snapshot_decode(snap, snap_len, &f);
		if (rc)
			return rc;
		planted_snapshot_without_fsm(&f);
	}
	*m->fsm = f;
	m->raft = raft;
	m->halted = false;
	m->last_snapshot_index = snap ? snap_index : 0;
	return 0;
}

void member_halt(struct member *m)
{
	m->halted = true;
}

static void fatal(struct member *m, const char *what, int rc)
{
	m->halted = true;
	m->ops->fatal(m->ctx, what, rc);
}

bool member_update_needs_disk(const struct raft_update *u)
{
	if (u->meta_changed || u->has_snapshot || u->truncate_from || u->n_entries || u->compact_to)
		return true;
	for (size_t i = 0; i < u->n_committed; i++)
		if (store_audit_wants(u->committed[i].type))
			return true;
	return false;
}

/* ---- applying ----------------------------------------------------------- */

/* A copy of the fsm every cfg.ckpt_every applied entries (ring). */
static void checkpoint(struct member *m)
{
	if (!m->cfg.ckpt_every || m->fsm->applied_index % m->cfg.ckpt_every != 0)
		return;
	struct member_ckpt *c = &m->ckpt[m->ckpt_next];
	if (!c->fsm && !(c->fsm = malloc(sizeof *c->fsm)))
		return;
	*c->fsm = *m->fsm;
	c->index = m->fsm->applied_index;
	c->bytes = m->applied_bytes;
	m->ckpt_next = (m->ckpt_next + 1) % MEMBER_CKPT_N;
}

static void restore(struct member *m, const struct raft_update *u)
{
	if (m->ops->before_restore)
		m->ops->before_restore(m->ctx, u);
	if (m->halted)
		return;
	const uint8_t *keys;
	uint32_t keys_len;
	int rc = fsm_snapshot_decode_keys(u->snap_data, u->snap_len, m->fsm, &keys, &keys_len);
	if (rc) {
		fatal(m, "restore of the fsm snapshot from the leader", rc);
		return;
	}
	planted_snapshot_without_fsm(m->fsm);
	m->last_snapshot_index = m->fsm->applied_index;
	m->last_snapshot_bytes = m->applied_bytes;
	free_checkpoints(m); /* copies of a state the snapshot replaced */
	if (m->ops->on_restored)
		m->ops->on_restored(m->ctx, m->fsm, keys, keys_len);
}

static void apply_committed(struct member *m, const struct raft_update *u)
{
	if (u->restore_snapshot) {
		restore(m, u);
		if (m->halted)
			return;
	}
	for (size_t i = 0; i < u->n_committed && !m->halted; i++) {
		const struct raft_entry *e = &u->committed[i];
		if (m->ops->before_apply) {
			m->ops->before_apply(m->ctx, e);
			if (m->halted)
				return;
		}
		struct fsm_result res;
		uint32_t before = m->fsm->master.node;
		int rc = fsm_apply(m->fsm, e, &res);
		if (rc) {
			fatal(m, "fsm_apply", rc);
			return;
		}
		if (res.outcome != FSM_STALE) {
			m->applied_bytes += e->len;
			checkpoint(m);
		}
		if (res.outcome == FSM_REFUSED)
			m->fsm_refused++;
		if (m->ops->on_applied)
			m->ops->on_applied(m->ctx, e, &res, before);
	}
}

/* The state to snapshot: the applied one when the log may be compacted up
 * to it, else the newest checkpoint at or below the floor (NULL if none).
 * The floor is the fsm's (DESIGN.md 3): every member, the witness with no
 * trap pipeline included, keeps each TRAPS entry that no DELIVERED covers,
 * so a member catching up from any member's snapshot still gets them. */
static const struct fsm *snapshot_state(struct member *m, uint64_t *bytes)
{
	uint64_t floor = fsm_trap_floor(m->fsm);
	*bytes = m->applied_bytes;
	if (floor >= m->fsm->applied_index)
		return m->fsm;
	const struct member_ckpt *best = NULL;
	for (unsigned i = 0; i < MEMBER_CKPT_N; i++) {
		const struct member_ckpt *c = &m->ckpt[i];
		if (c->index && c->index <= floor && (!best || c->index > best->index))
			best = c;
	}
	if (!best)
		return NULL;
	*bytes = best->bytes;
	return best->fsm;
}

static void maybe_snapshot(struct member *m)
{
	if (m->fsm->applied_index < m->last_snapshot_index + m->cfg.snapshot_every_entries &&
	    m->applied_bytes - m->last_snapshot_bytes < m->cfg.snapshot_every_bytes)
		return;
	uint64_t bytes;
	const struct fsm *f = snapshot_state(m, &bytes);
	if (!f || f->applied_index <= m->last_snapshot_index)
		return; /* the sink still needs everything since the last one */
	/* with the committed trap keys of the entries it covers (DESIGN.md 5) */
	uint8_t *keys = NULL;
	long keys_len = 0;
	if (m->ops->snapshot_keys) {
		keys_len = m->ops->snapshot_keys(m->ctx, f->applied_index, &keys);
		if (keys_len < 0) {
			if (m->ops->on_snapshot)
				m->ops->on_snapshot(m->ctx, f->applied_index, (int)keys_len);
			return;
		}
	}
	size_t cap = fsm_snapshot_size(f) + (size_t)keys_len;
	uint8_t *buf = malloc(cap ? cap : 1);
	if (!buf) {
		free(keys);
		if (m->ops->on_snapshot)
			m->ops->on_snapshot(m->ctx, f->applied_index, DUET_ENOMEM);
		return;
	}
	long len = fsm_snapshot_encode_keys(f, keys, (uint32_t)keys_len, buf, cap);
	free(keys);
	int rc =
	    len < 0 ? (int)len : raft_snapshot_taken(m->raft, f->applied_index, buf, (uint32_t)len);
	uint64_t index = f->applied_index;
	free(buf);
	if (rc == 0) {
		m->last_snapshot_index = index;
		m->last_snapshot_bytes = bytes;
		m->snapshots_taken++;
	}
	if (m->ops->on_snapshot)
		m->ops->on_snapshot(m->ctx, index, rc);
}

/* ---- the loop ----------------------------------------------------------- */

static void finish_update(struct member *m, uint64_t now)
{
	struct raft_update *u = &m->update;
	int rc = raft_persisted(m->raft, now, u);
	if (rc) {
		fatal(m, "raft_persisted", rc);
		return;
	}
	m->ops->send(m->ctx, u->msgs_after, u->n_msgs_after);
	if (!m->halted)
		apply_committed(m, u);
	drop_update(m);
	m->updates++;
	if (m->halted)
		return;
	maybe_snapshot(m);
	if (!m->halted && m->ops->after_update)
		m->ops->after_update(m->ctx);
}

/* While a write is in flight the core still hands out what needs no disk:
 * heartbeats, their answers, pre-votes (raftlog.h). A slow store write must
 * not cost the master its lease. */
static void send_msgs_only(struct member *m)
{
	struct raft_update mu;
	int rc = raft_ready_msgs(m->raft, &mu);
	if (rc == DUET_ENOENT)
		return;
	if (rc) {
		fatal(m, "raft_ready_msgs", rc);
		return;
	}
	m->ops->send(m->ctx, mu.msgs, mu.n_msgs);
	raft_update_free(&mu);
}

void member_drive(struct member *m, uint64_t now)
{
	while (m->raft && !m->halted && !m->persisting) {
		int rc = raft_ready(m->raft, &m->update);
		if (rc == DUET_ENOENT || rc == DUET_EBUSY)
			break;
		if (rc) {
			fatal(m, "raft_ready", rc);
			return;
		}
		if (m->ops->on_ready)
			m->ops->on_ready(m->ctx, &m->update);
		if (!m->halted)
			m->ops->send(m->ctx, m->update.msgs, m->update.n_msgs);
		if (m->halted)
			return;
		if (member_update_needs_disk(&m->update)) {
			m->persisting = true;
			rc = m->ops->persist_start(m->ctx, &m->update);
			if (rc) {
				fatal(m, "persist_start", rc);
				return;
			}
			m->updates_written++;
			break;
		}
		finish_update(m, now);
	}
	if (m->raft && !m->halted && m->persisting)
		send_msgs_only(m);
}

void member_persisted(struct member *m, uint64_t now, int rc)
{
	if (!m->persisting || m->halted)
		return;
	if (rc) {
		fatal(m, "storage write", rc);
		return;
	}
	m->persisting = false;
	finish_update(m, now);
}
