/* SPDX-License-Identifier: MIT */
/*
 * replication.c - the leader's log shipping and commit, and the follower's
 * side of AppendEntries (Raft section 5.3, thesis 10.2 for pipelining).
 *
 * Each follower is either probing (its position is unknown: one message at a
 * time, each retried at the next heartbeat) or replicating (position known:
 * up to max_inflight batches in flight, next_index advanced optimistically).
 * A reject sends it back to probing from the follower's hint. Heartbeats
 * carry no entries and check only prev = match, so they never disturb the
 * pipeline; they carry lease_ts, the leader's clock at send, which the
 * follower echoes to feed the lease (lease.c).
 *
 * Sending is deferred to raft_ready(): proposals and acknowledgements that
 * arrive in one loop turn leave as one batch per follower.
 *
 * Protocol-aware safety: a follower never truncates an entry it knows is
 * committed; an append that asks for it is refused and counted.
 */
#include <stdlib.h>
#include <string.h>

#include "core.h"

struct peer *peer_find(struct raft *r, uint32_t id)
{
	for (uint32_t i = 0; i < r->n_peers; i++)
		if (r->peers[i].id == id)
			return &r->peers[i];
	return NULL;
}

static void ring_clear(struct peer *p)
{
	p->ring_head = p->ring_n = 0;
}

static void ring_free_upto(struct peer *p, uint64_t index)
{
	while (p->ring_n && p->ring[p->ring_head] <= index) {
		p->ring_head = (p->ring_head + 1) % MAX_INFLIGHT_RING;
		p->ring_n--;
	}
}

static void ring_push(struct peer *p, uint64_t last)
{
	p->ring[(p->ring_head + p->ring_n) % MAX_INFLIGHT_RING] = last;
	p->ring_n++;
}

static uint32_t max_inflight(const struct raft *r)
{
	uint32_t m = r->cfg.max_inflight;
	return m > MAX_INFLIGHT_RING ? MAX_INFLIGHT_RING : (m ? m : 1);
}

static void probe_from(struct peer *p, uint64_t next)
{
	p->probe = true;
	p->probe_sent = false;
	p->next = next > p->match ? next : p->match + 1;
	ring_clear(p);
}

int become_leader(struct raft *r)
{
	r->role = RAFT_LEADER;
	r->leader = r->id;
	r->lease_void = false;
	r->transfer_target = 0;
	CNT(r, leader_terms);
	for (uint32_t i = 0; i < r->n_peers; i++) {
		struct peer *p = &r->peers[i];
		p->match = 0;
		probe_from(p, log_last_index(r) + 1);
		p->last_ack_ms = r->now; /* grace period for check-quorum */
		p->last_progress_ms = r->now;
		p->acked = false;
		p->lease_ack_ts = 0;
		p->snapshot_sent_ms = 0;
	}
	/* A no-op in the new term commits everything before it (Raft 5.4.2). */
	struct raft_entry e = {.term = r->term, .type = RAFT_ENTRY_NOOP, .author = r->id};
	int rc = log_append_copy(r, &e);
	if (rc)
		return rc;
	r->heartbeat_due = true;
	r->heartbeat_deadline = r->now + r->cfg.heartbeat_ms;
	return 0;
}

/* Builds one APPEND with entries [lo, hi] (lo > hi: none) after prev. */
static int send_append(struct raft *r, struct peer *p, uint64_t prev, uint64_t lo, uint64_t hi)
{
	struct raft_msg m;
	msg_init(r, &m, RAFT_MSG_APPEND, p->id);
	m.append.prev_index = prev;
	m.append.prev_term = log_term_at(r, prev);
	m.append.commit = r->commit;
	m.append.lease_ts = r->now ? r->now : 1; /* 0 means none */
	size_t n = 0;
	int rc = log_copy_range(r, lo, hi, &m.append.entries, &n);
	if (rc)
		return rc;
	m.append.n_entries = (uint32_t)n;
	m.owned = m.append.entries;
	return out_msg(r, false, &m);
}

/* Last index of the next batch starting at lo, within the batch limits. */
static uint64_t batch_end(const struct raft *r, uint64_t lo)
{
	uint64_t last = log_last_index(r), hi = lo;
	uint64_t bytes = log_get(r, lo)->len;
	uint32_t max_n = r->cfg.max_batch_entries ? r->cfg.max_batch_entries : 1;
	while (hi < last && hi - lo + 1 < max_n) {
		uint64_t next_bytes = bytes + log_get(r, hi + 1)->len;
		if (next_bytes > r->cfg.max_batch_bytes)
			break;
		bytes = next_bytes;
		hi++;
	}
	return hi;
}

static bool peer_wants(const struct raft *r, const struct peer *p)
{
	if (p->next <= r->log.snap_index)
		return r->now - p->snapshot_sent_ms >= r->cfg.election_timeout_min_ms ||
		       p->snapshot_sent_ms == 0;
	if (p->next > log_last_index(r))
		return false;
	if (p->probe)
		return !p->probe_sent;
	return p->ring_n < max_inflight(r);
}

bool replicate_pending(const struct raft *r)
{
	if (r->role != RAFT_LEADER)
		return false;
	if (r->heartbeat_due)
		return true;
	for (uint32_t i = 0; i < r->n_peers; i++)
		if (peer_wants(r, &r->peers[i]))
			return true;
	return false;
}

static int replicate_peer(struct raft *r, struct peer *p, bool heartbeat)
{
	if (p->next <= r->log.snap_index) {
		if (peer_wants(r, p))
			return send_snapshot(r, p);
		heartbeat = heartbeat && p->match >= r->log.snap_index;
		return heartbeat ? send_append(r, p, p->match, 1, 0) : 0;
	}
	bool sent = false;
	while (peer_wants(r, p)) {
		uint64_t lo = p->next, hi = batch_end(r, lo);
		int rc = send_append(r, p, lo - 1, lo, hi);
		if (rc)
			return rc;
		sent = true;
		if (p->probe) {
			p->probe_sent = true;
			break;
		}
		ring_push(p, hi);
		p->next = hi + 1;
	}
	if (heartbeat && !sent) {
		/* probing and nothing new: re-send the probe; else a bare heartbeat */
		uint64_t prev = p->probe ? p->next - 1 : p->match;
		if (prev < r->log.snap_index)
			prev = p->next - 1;
		return send_append(r, p, prev, 1, 0);
	}
	return 0;
}

int replicate(struct raft *r)
{
	bool hb = r->heartbeat_due;
	r->heartbeat_due = false;
	for (uint32_t i = 0; i < r->n_peers; i++) {
		struct peer *p = &r->peers[i];
		if (hb && p->probe)
			p->probe_sent = false; /* the last probe may be lost: try again */
		int rc = replicate_peer(r, p, hb);
		if (rc)
			return rc;
	}
	return 0;
}

void maybe_commit(struct raft *r)
{
	if (r->role != RAFT_LEADER)
		return;
	/* the quorum-th highest match index, counting our own durable log */
	uint64_t m[DUET_MAX_MEMBERS + 1];
	uint32_t n = 0;
	m[n++] = r->persisted;
	for (uint32_t i = 0; i < r->n_peers; i++)
		m[n++] = r->peers[i].match;
	for (uint32_t i = 1; i < n; i++)
		for (uint32_t j = i; j > 0 && m[j] > m[j - 1]; j--) {
			uint64_t t = m[j];
			m[j] = m[j - 1];
			m[j - 1] = t;
		}
#ifdef DUET_PLANT_BUG_COMMIT_ON_MINORITY
	uint64_t candidate = m[0]; /* planted: the leader alone commits */
#else
	uint64_t candidate = m[quorum(r) - 1];
#endif
	if (candidate > r->commit && log_term_at(r, candidate) == r->term)
		r->commit = candidate;
}

/* A reply to an APPEND may leave before the next write (raft_ready_msgs)
 * when it promises nothing that write or the one in flight makes durable:
 * term and vote are on disk, no snapshot is pending, and a success claims a
 * match index within the persisted log (r->persisted: durable AND equal to
 * the log in memory). This is what keeps heartbeats answered while a slow
 * write is in flight. A reject claims nothing about our log. */
static bool reply_durable(const struct raft *r, const struct raft_msg *req, bool ok, uint64_t match)
{
	if (req->type != RAFT_MSG_APPEND || !hard_state_durable(r))
		return false;
#ifdef DUET_PLANT_BUG_ACK_BEYOND_PERSISTED
	(void)ok;
	(void)match;
	return true; /* planted: acknowledges entries the write has not made durable */
#else
	return !ok || match <= r->persisted;
#endif
}

/* Only a reply from a member that accepted the sender as its leader echoes
 * lease_ts; a refusal of a stale term echoes 0, which feeds no lease. */
static int reply_to(struct raft *r, const struct raft_msg *req, bool ok, uint64_t match, bool after)
{
	bool accepted = req->term == r->term && r->leader == req->from;
	struct raft_msg m;
	msg_init(r, &m, RAFT_MSG_APPEND_RESP, req->from);
	m.append_resp.success = ok;
	m.append_resp.match_index = match;
	m.append_resp.last_index = log_last_index(r);
	m.append_resp.lease_ts = !accepted                        ? 0
				 : req->type == RAFT_MSG_SNAPSHOT ? req->snapshot.lease_ts
								  : req->append.lease_ts;
	return out_msg(r, after, &m);
}

int append_reply(struct raft *r, const struct raft_msg *req, bool ok, uint64_t match)
{
	return reply_to(r, req, ok, match, !reply_durable(r, req, ok, match));
}

static bool entries_valid(const struct raft_msg *m)
{
	uint64_t prev_term = m->append.prev_term;
	for (uint32_t i = 0; i < m->append.n_entries; i++) {
		const struct raft_entry *e = &m->append.entries[i];
		if (e->index != m->append.prev_index + 1 + i || e->term > m->term ||
		    e->term < prev_term || e->type >= RAFT_ENTRY_TYPE_COUNT)
			return false;
		prev_term = e->term;
	}
	return true;
}

/* Recognise the sender as leader of our (possibly new) term. */
void accept_leader(struct raft *r, const struct raft_msg *m)
{
	if (m->term > r->term || r->role != RAFT_FOLLOWER || r->leader != m->from)
		become_follower(r, m->term, m->from);
	r->last_leader_contact = r->now;
	reset_election_timer(r);
}

int handle_append(struct raft *r, const struct raft_msg *m)
{
	if (m->term < r->term)
		return append_reply(r, m, false, 0); /* tells a stale leader our term */
	if (!entries_valid(m)) {
		CNT(r, invalid_msgs);
		return 0;
	}
	accept_leader(r, m);

	uint64_t prev = m->append.prev_index;
	uint32_t skip = 0;
	if (prev < r->commit) {
		/* our prefix up to commit is committed, hence the leader's too */
		uint64_t known = r->commit;
		skip = known - prev > m->append.n_entries ? m->append.n_entries
							  : (uint32_t)(known - prev);
		prev += skip;
	} else if (log_term_at(r, prev) != m->append.prev_term || prev > log_last_index(r)) {
		return append_reply(r, m, false, m->append.prev_index);
	}
	uint64_t have_prev = log_term_at(r, prev); /* unknown below our snapshot */
	if (skip && have_prev != TERM_UNKNOWN && have_prev != m->append.entries[skip - 1].term) {
		CNT(r, invalid_msgs); /* leader's log disagrees with our committed prefix */
		return 0;
	}
	for (uint32_t i = skip; i < m->append.n_entries; i++) {
		const struct raft_entry *e = &m->append.entries[i];
		uint64_t have = log_term_at(r, e->index);
		if (have == e->term)
			continue;
		if (have != TERM_UNKNOWN) {
			if (e->index <= r->commit) {
				CNT(r, invalid_msgs); /* never truncate a committed entry */
				return 0;
			}
			log_truncate(r, e->index);
			if (!r->out.truncate_from || r->out.truncate_from > e->index)
				r->out.truncate_from = e->index;
			if (r->handed >= e->index)
				r->handed = e->index - 1;
			if (r->persisted >= e->index)
				r->persisted = e->index - 1;
		}
		int rc = log_append_copy(r, e);
		if (rc)
			return rc;
	}
	uint64_t match = m->append.prev_index + m->append.n_entries;
	if (match < prev)
		match = prev;
	uint64_t new_commit = m->append.commit < match ? m->append.commit : match;
	if (new_commit > r->commit)
		r->commit = new_commit;
	if (r->update_outstanding && !reply_durable(r, m, true, match) && hard_state_durable(r)) {
		/* a write is in flight and the full answer waits for the next
		 * one: say now what is durable, which keeps the leader's lease
		 * and pipeline going (the log matched up to `match`) */
		int rc = reply_to(r, m, true, r->persisted < match ? r->persisted : match, false);
		if (rc)
			return rc;
	}
	return append_reply(r, m, true, match);
}

int handle_append_resp(struct raft *r, const struct raft_msg *m)
{
	if (m->term > r->term) {
		become_follower(r, m->term, 0);
		return 0;
	}
	if (r->role != RAFT_LEADER || m->term < r->term)
		return 0;
	struct peer *p = peer_find(r, m->from);
	if (!p)
		return 0;
	p->last_ack_ms = r->now;
	uint64_t ts = m->append_resp.lease_ts;
	if (ts && ts <= r->now && (!p->acked || ts > p->lease_ack_ts)) {
		p->lease_ack_ts = ts;
		p->acked = true;
	}

	if (m->append_resp.success) {
		uint64_t match = m->append_resp.match_index;
		if (match > log_last_index(r))
			return 0; /* nonsense: we never sent that far */
		if (match > p->match) {
			p->match = match;
			p->last_progress_ms = r->now;
		}
		if (p->next <= p->match)
			p->next = p->match + 1;
		ring_free_upto(p, p->match);
		if (p->probe) {
			p->probe = false;
			p->probe_sent = false;
			p->next = p->match + 1;
			ring_clear(p);
		}
		maybe_commit(r);
		transfer_progress(r);
		return 0;
	}
	/* reject: the follower's log does not contain prev = match_index */
	uint64_t rejected = m->append_resp.match_index;
	if (rejected < p->match)
		return 0; /* stale */
	if (p->probe && rejected != p->next - 1)
		return 0; /* answer to an older probe */
	uint64_t hint = m->append_resp.last_index + 1;
	probe_from(p, hint < rejected ? hint : rejected);
	return 0;
}
