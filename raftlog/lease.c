/* SPDX-License-Identifier: MIT */
/*
 * lease.c - the master lease and check-quorum (DESIGN.md section 3).
 *
 * Every APPEND carries lease_ts, the leader's clock when it was sent; the
 * follower echoes it. When a majority (counting the leader) has echoed a
 * send time t, all of them heard from this leader after t, and their vote
 * guard (election.c) keeps them from helping anyone else win before
 * t + election_timeout_min on their clocks. So the leader may act as master
 * until t + lease_ms on its own clock, provided
 * election_timeout_min > lease_ms + max_drift_ms (raft_config_check).
 *
 * No lease for the witness (it never acts as master) nor for a leader that
 * has started a transfer in its term (the transferee is elected with the
 * transfer flag, which bypasses the guard).
 *
 * Check-quorum uses the same acks: a leader that has heard from no majority
 * within election_timeout_min steps down, so a partitioned leader stops
 * accepting proposals and its followers can elect a new one.
 */
#include "core.h"

/* The send time a majority has acknowledged, or 0 if none yet. */
static uint64_t quorum_ack_ts(const struct raft *r)
{
	uint64_t ts[DUET_MAX_MEMBERS];
	uint32_t n = 0;
	for (uint32_t i = 0; i < r->n_peers; i++)
		if (r->peers[i].acked)
			ts[n++] = r->peers[i].lease_ack_ts;
	uint32_t need = quorum(r) - 1; /* besides ourselves */
	if (need == 0)
		return r->now;
	if (n < need)
		return 0;
	for (uint32_t i = 1; i < n; i++) /* descending */
		for (uint32_t j = i; j > 0 && ts[j] > ts[j - 1]; j--) {
			uint64_t t = ts[j];
			ts[j] = ts[j - 1];
			ts[j - 1] = t;
		}
	return ts[need - 1];
}

uint64_t lease_expiry(const struct raft *r)
{
	if (r->role != RAFT_LEADER || r->kind != DUET_MEMBER_DATA)
		return 0;
#ifndef DUET_PLANT_BUG_LEASE_IGNORES_TRANSFER
	if (r->lease_void)
		return 0;
#endif
	uint64_t t = quorum_ack_ts(r);
	if (t == 0)
		return 0;
	return t + r->cfg.lease_ms;
}

bool raft_lease_valid(const struct raft *r, uint64_t now_ms)
{
	uint64_t e = lease_expiry(r);
	return e && now_ms < e;
}

void check_quorum(struct raft *r)
{
	if (r->role != RAFT_LEADER)
		return;
	uint64_t t[DUET_MAX_MEMBERS];
	uint32_t n = 0;
	for (uint32_t i = 0; i < r->n_peers; i++)
		t[n++] = r->peers[i].last_ack_ms;
	uint32_t need = quorum(r) - 1;
	if (need == 0)
		return;
	for (uint32_t i = 1; i < n; i++)
		for (uint32_t j = i; j > 0 && t[j] > t[j - 1]; j--) {
			uint64_t x = t[j];
			t[j] = t[j - 1];
			t[j - 1] = x;
		}
	if (r->now - t[need - 1] >= r->cfg.election_timeout_min_ms) {
		CNT(r, stepdowns_quorum);
		become_follower(r, r->term, 0);
	}
}
