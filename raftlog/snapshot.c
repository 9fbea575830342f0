/* SPDX-License-Identifier: MIT */
/*
 * snapshot.c - compaction and snapshot installation (Raft section 7).
 *
 * The state machine decides when to snapshot and hands the core a blob of
 * everything applied up to an index; the core keeps one copy (to send to a
 * follower that is behind the compacted prefix) and drops the entries it
 * covers, in memory and, through the next update, on disk.
 *
 * A follower that receives a snapshot newer than its commit keeps the
 * entries after it when its log agrees at the snapshot's index, and discards
 * its whole log otherwise. Either way the driver persists the snapshot, then
 * restores the state machine from it before applying anything later.
 */
#include <stdlib.h>
#include <string.h>

#include "core.h"

static int keep_blob(struct raft *r, const struct raft_snapshot_meta *meta, const void *data,
		     uint32_t len)
{
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy)
		return DUET_ENOMEM;
	if (len)
		memcpy(copy, data, len);
	free(r->snap_data);
	r->snap_data = copy;
	r->snap_len = len;
	r->snap_meta = *meta;
	r->snap_conf = meta->conf;
	r->has_snapshot = true;
	r->out.snapshot_dirty = true;
	return 0;
}

/* The membership in force at `index` (a MEMBERSHIP entry at or before it). */
static void conf_at(const struct raft *r, uint64_t index, struct duet_membership *c)
{
	for (uint64_t i = index; i > r->log.snap_index; i--) {
		const struct raft_entry *e = log_get(r, i);
		if (e->type == RAFT_ENTRY_MEMBERSHIP &&
		    duet_membership_decode(e->data, e->len, c) == 0)
			return;
	}
	*c = r->snap_conf;
}

int raft_snapshot_taken(struct raft *r, uint64_t index, const void *data, uint32_t len)
{
	if (index > r->applied)
		return DUET_EINVAL;
	if (index <= r->log.snap_index)
		return 0; /* nothing new to compact */
	struct raft_snapshot_meta meta = {.index = index, .term = log_term_at(r, index)};
	conf_at(r, index, &meta.conf);
	int rc = keep_blob(r, &meta, data, len);
	if (rc)
		return rc;
	log_compact(r, index, meta.term);
	if (r->out.compact_to < index)
		r->out.compact_to = index;
	return 0;
}

int send_snapshot(struct raft *r, struct peer *p)
{
	if (!r->has_snapshot)
		return 0;
	struct raft_msg m;
	msg_init(r, &m, RAFT_MSG_SNAPSHOT, p->id);
	m.snapshot.meta = r->snap_meta;
	m.snapshot.lease_ts = r->now ? r->now : 1;
	m.snapshot.len = r->snap_len;
	m.owned = malloc(r->snap_len ? r->snap_len : 1);
	if (!m.owned)
		return DUET_ENOMEM;
	memcpy(m.owned, r->snap_data, r->snap_len);
	m.snapshot.data = m.owned;
	p->snapshot_sent_ms = r->now ? r->now : 1;
	p->probe = true;
	p->probe_sent = true;
	CNT(r, snapshots_sent);
	return out_msg(r, false, &m);
}

int handle_snapshot(struct raft *r, const struct raft_msg *m)
{
	const struct raft_snapshot_meta *meta = &m->snapshot.meta;
	if (m->term < r->term)
		return append_reply(r, m, false, 0);
	if (meta->index == 0 || meta->term > m->term || meta->conf.n == 0) {
		CNT(r, invalid_msgs);
		return 0;
	}
	accept_leader(r, m);
	uint64_t s = meta->index;
	if (s <= r->commit)
		return append_reply(r, m, true, s);

	if (log_term_at(r, s) == meta->term) {
		log_compact(r, s, meta->term); /* our suffix after s agrees: keep it */
	} else {
		log_truncate(r, r->log.snap_index + 1);
		log_compact(r, s, meta->term);
		r->out.truncate_from = s + 1;
		if (r->handed > s)
			r->handed = s;
	}
	if (r->handed < s)
		r->handed = s;
	if (r->persisted > s)
		r->persisted = s;
	if (r->out.compact_to < s)
		r->out.compact_to = s;
	int rc = keep_blob(r, meta, m->snapshot.data, m->snapshot.len);
	if (rc)
		return rc;
	conf_refresh(r);
	r->out.restore_snapshot = true;
	r->commit = s;
	r->applied = s;
	CNT(r, snapshots_installed);
	return append_reply(r, m, true, s);
}
