/* SPDX-License-Identifier: MIT */
/*
 * core.c - lifecycle, configuration, loading, ticks, proposals and status of
 * a consensus member. See include/duet/raftlog.h for the contract and core.h
 * for how the work is split between files.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

void raft_config_default(struct raft_config *c)
{
	memset(c, 0, sizeof(*c));
	c->election_timeout_min_ms = 800;
	c->election_timeout_max_ms = 1400;
	c->witness_extra_ms = 400;
	c->heartbeat_ms = 100;
	c->lease_ms = 500;
	c->max_drift_ms = 100;
	c->transfer_timeout_ms = 800;
	c->max_batch_entries = 4096;
	c->max_batch_bytes = 1u << 20;
	c->max_inflight = 32;
	c->max_entry_bytes = 1u << 20;
	c->max_uncommitted_entries = 65536;
	c->self_incarnation = 1;
}

int raft_config_check(const struct raft_config *c, char *errbuf, size_t errlen)
{
	const char *why = NULL;
	char tmp[160];
	if (c->self_id == 0)
		why = "self_id must be nonzero";
	else if (c->heartbeat_ms == 0)
		why = "heartbeat_ms must be positive";
	else if (c->election_timeout_min_ms > c->election_timeout_max_ms)
		why = "election_timeout_min_ms must not exceed election_timeout_max_ms";
	else if (c->election_timeout_min_ms <= (uint64_t)c->lease_ms + c->max_drift_ms) {
		snprintf(
		    tmp, sizeof(tmp),
		    "election_timeout_min_ms (%u) must exceed lease_ms + max_drift_ms (%u + %u): "
		    "else two masters could hold a lease at once",
		    c->election_timeout_min_ms, c->lease_ms, c->max_drift_ms);
		why = tmp;
	} else if (c->heartbeat_ms * 2 > c->lease_ms)
		why = "heartbeat_ms must be at most half of lease_ms, or the lease lapses between "
		      "heartbeats";
	else if (c->max_batch_entries == 0 || c->max_batch_bytes == 0 || c->max_inflight == 0)
		why = "max_batch_entries, max_batch_bytes and max_inflight must be positive";
	else if (c->max_entry_bytes == 0 || c->max_entry_bytes > RAFT_ENTRY_MAX_PAYLOAD)
		why = "max_entry_bytes must be between 1 and 4 MiB";
	else if (c->max_uncommitted_entries == 0)
		why = "max_uncommitted_entries must be positive";
	else if (c->transfer_timeout_ms == 0)
		why = "transfer_timeout_ms must be positive";
	if (!why)
		return 0;
	if (errbuf && errlen)
		snprintf(errbuf, errlen, "%s", why);
	return DUET_EINVAL;
}

int raft_new(const struct raft_config *cfg, struct raft **out)
{
	*out = NULL;
	if (raft_config_check(cfg, NULL, 0))
		return DUET_EINVAL;
	struct raft *r = calloc(1, sizeof(*r));
	if (!r)
		return DUET_ENOMEM;
	r->cfg = *cfg;
	r->id = cfg->self_id;
	r->rng = cfg->seed ^ ((uint64_t)cfg->self_id << 32);
	*out = r;
	return 0;
}

void raft_free(struct raft *r)
{
	if (!r)
		return;
	log_free(r);
	free(r->snap_data);
	for (size_t i = 0; i < r->out.msgs.n; i++)
		free(r->out.msgs.v[i].owned);
	for (size_t i = 0; i < r->out.after.n; i++)
		free(r->out.after.v[i].owned);
	free(r->out.msgs.v);
	free(r->out.after.v);
	free(r);
}

int raft_bootstrap_entry(const struct duet_membership *conf, struct raft_entry *e, void *buf,
			 size_t cap)
{
	long n = duet_membership_encode(conf, buf, cap);
	if (n < 0)
		return (int)n;
	memset(e, 0, sizeof(*e));
	e->term = 1;
	e->index = 1;
	e->type = RAFT_ENTRY_MEMBERSHIP;
	e->len = (uint32_t)n;
	e->data = buf;
	return 0;
}

int raft_load(struct raft *r, const struct raft_load_state *st, uint64_t now_ms)
{
	if (r->loaded)
		return DUET_EINVAL;
	uint64_t first = 1;
	if (st->snap) {
		if (st->snap->index == 0 || st->snap->conf.n == 0)
			return DUET_EINVAL;
		first = st->snap->index + 1;
		r->log.snap_index = st->snap->index;
		r->log.snap_term = st->snap->term;
		r->snap_meta = *st->snap;
		r->snap_conf = st->snap->conf;
		r->snap_data = malloc(st->snap_len ? st->snap_len : 1);
		if (!r->snap_data)
			return DUET_ENOMEM;
		if (st->snap_len)
			memcpy(r->snap_data, st->snap_data, st->snap_len);
		r->snap_len = st->snap_len;
		r->has_snapshot = true;
	} else if (st->n_entries == 0) {
		return DUET_EINVAL; /* neither bootstrap entry nor snapshot */
	}
	for (size_t i = 0; i < st->n_entries; i++) {
		const struct raft_entry *e = &st->entries[i];
		if (e->index != first + i || (i && e->term < st->entries[i - 1].term))
			return DUET_ECORRUPT;
		int rc = log_append_copy(r, e);
		if (rc)
			return rc;
	}
	conf_refresh(r);
	if (!duet_membership_find(&r->conf, r->id))
		return DUET_EFOREIGN;
	r->term = st->term;
	r->vote = st->vote;
	if (log_last_term(r) > r->term) {
		/* a fresh store holds the bootstrap entry (term 1) before any hard
		 * state; the current term is never below the log's */
		r->term = log_last_term(r);
		r->vote = 0;
		r->out.meta_dirty = true;
	}
	r->commit = r->applied = r->log.snap_index;
	r->handed = r->disk_last = r->persisted = log_last_index(r);
	r->now = now_ms;
	/* we may have acknowledged a leader just before a restart: keep the guard */
	r->last_leader_contact = now_ms;
	r->role = RAFT_FOLLOWER;
	reset_election_timer(r);
	r->loaded = true;
	return 0;
}

int raft_tick(struct raft *r, uint64_t now_ms)
{
	if (!r->loaded)
		return DUET_EINVAL;
	if (now_ms > r->now)
		r->now = now_ms;
	if (r->role == RAFT_LEADER) {
		check_quorum(r);
		if (r->role != RAFT_LEADER)
			return 0;
		if (r->now >= r->heartbeat_deadline) {
			r->heartbeat_due = true;
			r->heartbeat_deadline = r->now + r->cfg.heartbeat_ms;
			r->transfer_sent = false; /* TimeoutNow may be lost: resend */
			for (uint32_t i = 0; i < r->n_peers; i++) {
				struct peer *p = &r->peers[i];
				/* batches lost in flight: fall back to probing */
				if (p->ring_n &&
				    r->now - p->last_progress_ms >= 4 * r->cfg.heartbeat_ms) {
					p->probe = true;
					p->probe_sent = false;
					p->next = p->match + 1;
					p->ring_head = p->ring_n = 0;
				}
			}
		}
		transfer_tick(r);
		return 0;
	}
	if (r->now >= r->election_deadline) {
		if (!may_vote(r)) {
			reset_election_timer(r);
			return 0;
		}
		return start_prevote(r);
	}
	return 0;
}

int raft_propose(struct raft *r, uint64_t now_ms, uint8_t type, uint64_t wall_ms, const void *data,
		 uint32_t len, uint64_t *index)
{
	if (now_ms > r->now)
		r->now = now_ms;
	if (r->role != RAFT_LEADER)
		return DUET_ENOTLEADER;
	if (r->kind == DUET_MEMBER_WITNESS)
		return DUET_EWITNESS;
	if (r->transfer_target)
		return DUET_EBUSY;
	if (log_last_index(r) - r->commit >= r->cfg.max_uncommitted_entries)
		return DUET_EBUSY;
	if (len > r->cfg.max_entry_bytes)
		return DUET_ETOOBIG;
	if (type >= RAFT_ENTRY_TYPE_COUNT || type == RAFT_ENTRY_NOOP)
		return DUET_EINVAL;
	if (type == RAFT_ENTRY_MEMBERSHIP) {
		struct duet_membership c;
		if (duet_membership_decode(data, len, &c) || !duet_membership_find(&c, r->id))
			return DUET_EINVAL;
	}
	struct raft_entry e = {
	    .term = r->term,
	    .wall_ms = wall_ms,
	    .author = r->id,
	    .type = type,
	    .len = len,
	    .data = (uint8_t *)data,
	};
	int rc = log_append_copy(r, &e);
	if (rc)
		return rc;
	if (index)
		*index = log_last_index(r);
	return 0;
}

uint64_t raft_next_deadline(const struct raft *r)
{
	if (r->role != RAFT_LEADER)
		return r->election_deadline;
	uint64_t d = r->heartbeat_deadline;
	if (r->transfer_target && r->transfer_deadline < d)
		d = r->transfer_deadline;
	/* check-quorum fires election_timeout_min after the quorum's last ack */
	return d;
}

const char *raft_role_name(int role)
{
	switch (role) {
	case RAFT_FOLLOWER:
		return "follower";
	case RAFT_PRECANDIDATE:
		return "precandidate";
	case RAFT_CANDIDATE:
		return "candidate";
	case RAFT_LEADER:
		return "leader";
	}
	return "unknown";
}

void raft_status(const struct raft *r, uint64_t now_ms, struct raft_status *st)
{
	memset(st, 0, sizeof(*st));
	st->counters = r->counters_holder.counters;
	st->id = r->id;
	st->role = r->role;
	st->term = r->term;
	st->vote = r->vote;
	st->leader = r->leader;
	st->commit_index = r->commit;
	st->applied_index = r->applied;
	st->persisted_index = r->persisted;
	st->first_index = log_first_index(r);
	st->last_index = log_last_index(r);
	st->last_term = log_last_term(r);
	st->snapshot_index = r->log.snap_index;
	uint64_t e = lease_expiry(r);
	st->lease_expiry_ms = e && now_ms < e ? e : 0;
	st->transfer_target = r->transfer_target;
	st->last_election_reason = r->last_election_reason;
	st->last_election_ms = r->last_election_ms;
	st->conf = r->conf;
	st->n_peers = r->n_peers;
	for (uint32_t i = 0; i < r->n_peers; i++) {
		const struct peer *p = &r->peers[i];
		st->peers[i] = (struct raft_peer_status){
		    .id = p->id,
		    .match_index = p->match,
		    .next_index = p->next,
		    .last_ack_ms = p->last_ack_ms,
		    .inflight = p->ring_n,
		};
	}
}
