/* SPDX-License-Identifier: MIT */
/*
 * outbox.c - what the core asks its driver to do: raft_ready() packs
 * everything accumulated since the last update into one struct raft_update;
 * raft_persisted() learns that its writes are durable.
 *
 * Why one update at a time: the driver turns an update into exactly one
 * storage transaction, so everything that happens while a write is in flight
 * (more proposals, more appends from the leader) batches into the next one:
 * one fsync per loop turn, not one per entry. Replies that promise durable
 * state (votes, append acknowledgements) go in msgs_after and leave only
 * after raft_persisted(); the leader's own appends go in msgs and leave at
 * once, so the leader's disk write overlaps its followers' (Raft thesis
 * 10.2.1): the leader counts itself in the commit quorum only once its own
 * write is durable.
 *
 * raft_ready_msgs() hands out only the send-now messages, at any time, in
 * particular while an update is outstanding: a slow write must not silence
 * the member, or the leader loses its lease and followers start elections
 * (a base backup loading the disk made one LMDB commit take over a second).
 * Nothing it hands out promises the outstanding write or the next one: the
 * leader's appends and heartbeats carry a commit index that counted its own
 * log only as far as it is durable (maybe_commit), and an append reply goes
 * to the send-now list only when what it claims is already durable
 * (append_reply): its match index within the persisted log, under a term
 * and vote that no pending write changes. Votes, term changes and
 * everything else that waits for a write stay in msgs_after.
 *
 * An update owns copies of everything it carries, so the core may truncate
 * or compact its log while the driver is still writing the update.
 */
#include <stdlib.h>
#include <string.h>

#include "core.h"

void msg_init(struct raft *r, struct raft_msg *m, uint8_t type, uint32_t to)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->from = r->id;
	m->to = to;
	m->from_incarnation = r->cfg.self_incarnation;
	m->from_store_id = r->cfg.self_store_id;
	m->term = r->term;
}

static int vec_push(struct msgvec *v, const struct raft_msg *m)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 8;
		struct raft_msg *nv = realloc(v->v, cap * sizeof(*nv));
		if (!nv)
			return DUET_ENOMEM;
		v->v = nv;
		v->cap = cap;
	}
	v->v[v->n++] = *m;
	return 0;
}

int out_msg(struct raft *r, bool after, const struct raft_msg *m)
{
	int rc = vec_push(after ? &r->out.after : &r->out.msgs, m);
	if (rc)
		free(m->owned);
	return rc;
}

/* A success reply waiting in the outbox claims the log up to its match
 * index. When the log is truncated before it leaves (a new leader's
 * conflicting entries, a snapshot that replaces the suffix), a claim
 * reaching `from` would promise entries the next write removes: it is
 * dropped (a lost reply; the leader asks again). */
static void vec_forget_acks(struct msgvec *v, uint64_t from)
{
	size_t k = 0;
	for (size_t i = 0; i < v->n; i++) {
		struct raft_msg *m = &v->v[i];
		if (m->type == RAFT_MSG_APPEND_RESP && m->append_resp.success &&
		    m->append_resp.match_index >= from) {
			free(m->owned);
			continue;
		}
		v->v[k++] = *m;
	}
	v->n = k;
}

void out_forget_acks(struct raft *r, uint64_t from)
{
	vec_forget_acks(&r->out.msgs, from);
	vec_forget_acks(&r->out.after, from);
}

static void vec_free(struct raft_msg *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].owned);
	free(v);
}

static uint64_t appliable(const struct raft *r)
{
	uint64_t hi = r->commit < r->persisted ? r->commit : r->persisted;
	return hi > r->applied ? hi : r->applied;
}

bool raft_has_update(const struct raft *r)
{
	const struct outbox *o = &r->out;
	if (r->update_outstanding)
		return false;
	return o->msgs.n || o->after.n || o->meta_dirty || o->snapshot_dirty || o->truncate_from ||
	       o->compact_to || log_last_index(r) > r->handed || appliable(r) > r->applied ||
	       replicate_pending(r);
}

int raft_ready(struct raft *r, struct raft_update *u)
{
	memset(u, 0, sizeof(*u));
	if (r->update_outstanding)
		return DUET_EBUSY;
	if (r->role == RAFT_LEADER) {
		int rc = replicate(r);
		if (rc)
			return rc;
	}
	if (!raft_has_update(r))
		return DUET_ENOENT;

	struct outbox *o = &r->out;
	u->seq = ++r->update_seq;
	if (o->meta_dirty) {
		u->meta_changed = 1;
		u->term = r->term;
		u->vote = r->vote;
	}
	if (o->snapshot_dirty) {
		u->has_snapshot = 1;
		u->snap = r->snap_meta;
		u->snap_len = r->snap_len;
		u->snap_data = malloc(r->snap_len ? r->snap_len : 1);
		if (!u->snap_data)
			return DUET_ENOMEM;
		memcpy(u->snap_data, r->snap_data, r->snap_len);
		u->restore_snapshot = o->restore_snapshot;
	}
	u->truncate_from = o->truncate_from;
	u->compact_to = o->compact_to;

	uint64_t first = r->handed + 1;
	if (first <= r->log.snap_index)
		first = r->log.snap_index + 1;
	int rc = log_copy_range(r, first, log_last_index(r), &u->entries, &u->n_entries);
	if (rc == 0) {
		uint64_t hi = appliable(r);
		rc = log_copy_range(r, r->applied + 1, hi, &u->committed, &u->n_committed);
	}
	if (rc) {
		free(u->snap_data);
		free(u->entries);
		memset(u, 0, sizeof(*u));
		return rc;
	}
	r->handed = log_last_index(r);
	if (u->n_committed)
		r->applied = u->committed[u->n_committed - 1].index;

	u->msgs = o->msgs.v;
	u->n_msgs = o->msgs.n;
	u->msgs_after = o->after.v;
	u->n_msgs_after = o->after.n;
	memset(o, 0, sizeof(*o));
	r->update_outstanding = true;
	r->update_unsettled = u->meta_changed || u->has_snapshot;
	return 0;
}

bool hard_state_durable(const struct raft *r)
{
	const struct outbox *o = &r->out;
	return !r->update_unsettled && !o->meta_dirty && !o->snapshot_dirty && !o->restore_snapshot;
}

bool raft_has_msgs(const struct raft *r)
{
	return r->out.msgs.n || replicate_pending(r);
}

int raft_ready_msgs(struct raft *r, struct raft_update *u)
{
	memset(u, 0, sizeof(*u));
	if (r->role == RAFT_LEADER) {
		int rc = replicate(r);
		if (rc)
			return rc;
	}
	struct msgvec *v = &r->out.msgs;
	if (!v->n)
		return DUET_ENOENT;
	u->msgs = v->v;
	u->n_msgs = v->n;
	memset(v, 0, sizeof(*v));
	return 0;
}

int raft_persisted(struct raft *r, uint64_t now_ms, const struct raft_update *u)
{
	if (!r->update_outstanding)
		return DUET_EINVAL;
	if (now_ms > r->now)
		r->now = now_ms;
	if (u->truncate_from && r->disk_last >= u->truncate_from)
		r->disk_last = u->truncate_from - 1;
	if (u->n_entries)
		r->disk_last = u->entries[u->n_entries - 1].index;
	if (u->has_snapshot && r->disk_last < u->snap.index)
		r->disk_last = u->snap.index;
	r->persisted = r->disk_last < r->handed ? r->disk_last : r->handed;
	r->update_outstanding = false;
	r->update_unsettled = false;
	if (r->role == RAFT_LEADER)
		maybe_commit(r);
	return 0;
}

void raft_update_free(struct raft_update *u)
{
	vec_free(u->msgs, u->n_msgs);
	vec_free(u->msgs_after, u->n_msgs_after);
	free(u->entries);
	free(u->committed);
	free(u->snap_data);
	memset(u, 0, sizeof(*u));
}
