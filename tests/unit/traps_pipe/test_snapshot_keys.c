/* SPDX-License-Identifier: MIT */
/*
 * test_snapshot_keys.c - committed identities survive a catch-up by
 * snapshot and a restart (DESIGN.md section 5; issue 13, defect 4).
 *
 * The leader keeps committed keys for one window of log time. A standby
 * that installs a snapshot never applies the TRAPS entries under it, so
 * before the fix its pending copies of those traps stayed unmatched; once
 * the leader's window had moved past them (a 40 s gap here, window 30 s),
 * a forward made the leader commit them again as new traps under new ids.
 * The snapshot now carries the committed keys of the entries it covers
 * (duet_trap_pipe_export_keys at the snapshot's index, restored with
 * duet_trap_pipe_restore_keys), and a restarted node rebuilds its ordinal
 * window from the committed keys received clearly before it started
 * listening (duet_trap_pipe_clock).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "duet/traps_pipe.h"

#define SENDER  "10.0.0.9"
#define N_TRAPS 41

static uint8_t buf[1 << 20], ack[1 << 20];

static struct duet_trap_pipe *pipe_new(uint32_t self)
{
	struct duet_trap_pipe_config c;
	duet_trap_pipe_config_default(&c, self);
	struct duet_trap_pipe *p;
	cr_assert_eq(duet_trap_pipe_new(&c, &p), 0);
	return p;
}

static int rx(struct duet_trap_pipe *p, const char *content, uint64_t wall, uint64_t now,
	      uint32_t *ord)
{
	uint8_t id[32];
	cr_assert_eq(duet_trap_identity(DUET_TRAP_SYSLOG, SENDER, content, strlen(content), id), 0);
	return duet_trap_pipe_receive(p, DUET_TRAP_SYSLOG, SENDER, id, content,
				      (uint32_t)strlen(content), wall, now, ord);
}

static void set_lead(struct duet_trap_pipe *p, bool leader)
{
	struct duet_trap_pipe_role r = {.leader = leader, .term = 1, .term_start = 0, .applied = 0};
	duet_trap_pipe_set_role(p, &r, 0);
}

/* The log: the TRAPS entries the leader committed, each one batch. */
struct log {
	size_t n;
	uint64_t index[2 * N_TRAPS];
	long len[2 * N_TRAPS];
	uint8_t *data[2 * N_TRAPS];
};

/* The leader batches what it holds and commits it as the next entry. */
static void commit_next(struct duet_trap_pipe *a, struct log *l)
{
	long len = duet_trap_pipe_take_batch(a, buf, sizeof buf);
	if (len <= 0)
		return;
	uint64_t index = 100 + l->n;
	l->index[l->n] = index;
	l->len[l->n] = len;
	l->data[l->n] = malloc((size_t)len);
	memcpy(l->data[l->n], buf, (size_t)len);
	l->n++;
	cr_assert_eq(duet_trap_pipe_committed(a, index, buf, (size_t)len), 0);
}

static void log_free(struct log *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->data[i]);
}

/* 41 traps, one a second, reach both nodes; the standby is cut off from
 * the leader for the whole 40 s (no commit applied, no forward sent). The
 * leader took a snapshot right after the first entry. The standby comes
 * back: it installs that snapshot, applies the entries after it, then
 * forwards what it still holds. Exactly 41 traps are committed. */
Test(snapshot_keys, snapshot_catchup_no_duplicate_ids)
{
	struct duet_trap_pipe *a = pipe_new(1), *b = pipe_new(2);
	set_lead(a, true);
	set_lead(b, false);
	struct log l = {0};
	uint8_t *keys = NULL;
	long keys_len = 0;
	uint64_t snap_index = 0;
	for (int i = 0; i < N_TRAPS; i++) {
		char content[64];
		snprintf(content, sizeof content, "port %d down", i);
		uint64_t t = 1000 + (uint64_t)i * 1000;
		cr_assert_eq(rx(a, content, t, t, NULL), DUET_TRAP_TAKEN);
		cr_assert_eq(rx(b, content, t + 2, t + 2, NULL), DUET_TRAP_TAKEN);
		commit_next(a, &l);
		if (i == 0) { /* the leader snapshots at its first entry */
			snap_index = l.index[0];
			keys_len = duet_trap_pipe_export_keys(a, snap_index, 1u << 20, &keys);
			cr_assert_gt(keys_len, 0, "the snapshot holds the committed key");
		}
	}
	cr_assert_eq(l.n, N_TRAPS);
	/* the standby installs the snapshot, then applies the log after it */
	cr_assert_eq(duet_trap_pipe_restore_keys(b, snap_index, keys, (size_t)keys_len, 0), 0);
	for (size_t i = 0; i < l.n; i++)
		if (l.index[i] > snap_index)
			cr_assert_eq(
			    duet_trap_pipe_committed(b, l.index[i], l.data[i], (size_t)l.len[i]),
			    0);
	/* and forwards whatever it still holds, for as long as it likes */
	uint64_t now = 1000 + N_TRAPS * 1000;
	for (int round = 0; round < 5; round++, now += 1000) {
		long len = duet_trap_pipe_take_forward(b, now, buf, sizeof buf);
		if (len > 0) {
			long alen =
			    duet_trap_pipe_forwarded(a, buf, (size_t)len, now, ack, sizeof ack);
			if (alen > 0)
				cr_assert_eq(duet_trap_pipe_ack(b, ack, (size_t)alen), 0);
		}
		commit_next(a, &l);
	}
	size_t traps = 0;
	for (size_t i = 0; i < l.n; i++) {
		struct duet_traps_iter it;
		uint32_t n;
		cr_assert_eq(duet_traps_iter_init(&it, l.data[i], (size_t)l.len[i], &n), 0);
		traps += n;
	}
	cr_assert_eq(traps, N_TRAPS, "%zu traps committed in %zu entries for %d traps", traps, l.n,
		     N_TRAPS);
	struct duet_trap_pipe_stats st;
	duet_trap_pipe_get_stats(b, &st);
	cr_assert_eq(st.pending, 0);
	cr_assert_eq(st.keys_restored, 1);
	free(keys);
	log_free(&l);
	duet_trap_pipe_free(a);
	duet_trap_pipe_free(b);
}

/* ---- the ordinal window after a restart ---------------------------------
 *
 * Node 1 counts three copies of one trap, three seconds apart, committed
 * as (X,1), (X,2), (X,3). It restarts; the next
 * copy reaches it alone (the other node is down, or the packet to it was
 * lost). Before the fix its window started empty: the copy got ordinal 1,
 * matched the committed (X,1) (10 s apart, within the match tolerance of
 * 15 s) and was dropped as a duplicate: a loss. */

#define X "fan 2 failed"

/* The three copies, committed one entry each, as the log holds them. */
static struct duet_trap_pipe *count_three(struct log *l)
{
	struct duet_trap_pipe *a = pipe_new(1);
	set_lead(a, true);
	for (uint32_t i = 0; i < 3; i++) {
		uint32_t ord = 0;
		uint64_t t = 1000 + 3000 * (uint64_t)i;
		cr_assert_eq(rx(a, X, t, t, &ord), DUET_TRAP_TAKEN);
		cr_assert_eq(ord, i + 1);
		commit_next(a, l);
	}
	cr_assert_eq(l->n, 3);
	return a;
}

/* The restarted node's next copy, 4 s after its start: the fourth. */
static void next_copy_is_the_fourth(struct duet_trap_pipe *p, uint64_t wall, uint64_t mono)
{
	uint32_t ord = 0;
	cr_assert_eq(rx(p, X, wall, mono, &ord), DUET_TRAP_TAKEN,
		     "the repeat after the restart is a new trap, not a copy of (X,1)");
	cr_assert_eq(ord, 4);
	/* a standby (the leader is the other node): it forwards it as (X,4) */
	long len = duet_trap_pipe_take_forward(p, mono + 1000, buf, sizeof buf);
	cr_assert_gt(len, 0);
	struct duet_traps_iter it;
	uint32_t n;
	struct duet_trap t;
	cr_assert_eq(duet_traps_iter_init(&it, buf, (size_t)len, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(duet_traps_next(&it, &t), 1);
	cr_assert_eq(t.ordinal, 4);
	cr_assert_eq(t.recv_ms, wall);
}

/* Through the log: the restarted node applies the three entries again. Its
 * monotonic clock starts anew (50 ms at its start, wall 10 s). */
Test(snapshot_keys, restart_rebuilds_ordinal_window)
{
	struct log l = {0};
	struct duet_trap_pipe *a = count_three(&l);
	duet_trap_pipe_free(a);
	struct duet_trap_pipe *b = pipe_new(1);
	duet_trap_pipe_clock(b, 10000, 50);
	set_lead(b, false);
	for (size_t i = 0; i < l.n; i++)
		cr_assert_eq(duet_trap_pipe_committed(b, l.index[i], l.data[i], (size_t)l.len[i]),
			     0);
	next_copy_is_the_fourth(b, 11000, 1050);
	struct duet_trap_pipe_stats st;
	duet_trap_pipe_get_stats(b, &st);
	cr_assert_eq(st.window_seeded, 3);
	log_free(&l);
	duet_trap_pipe_free(b);
}

/* Through a snapshot: the three entries are compacted away; the restarted
 * node has the stored snapshot's keys only. */
Test(snapshot_keys, restart_rebuilds_ordinal_window_from_a_snapshot)
{
	struct log l = {0};
	struct duet_trap_pipe *a = count_three(&l);
	uint8_t *keys = NULL;
	long keys_len = duet_trap_pipe_export_keys(a, l.index[2], 1u << 20, &keys);
	cr_assert_gt(keys_len, 0);
	duet_trap_pipe_free(a);
	struct duet_trap_pipe *b = pipe_new(1);
	duet_trap_pipe_clock(b, 10000, 50);
	set_lead(b, false);
	cr_assert_eq(duet_trap_pipe_restore_keys(b, l.index[2], keys, (size_t)keys_len, 0), 0);
	next_copy_is_the_fourth(b, 11000, 1050);
	struct duet_trap_pipe_stats st;
	duet_trap_pipe_get_stats(b, &st);
	cr_assert_eq(st.keys_restored, 3);
	cr_assert_eq(st.window_seeded, 3);
	free(keys);
	log_free(&l);
	duet_trap_pipe_free(b);
}

/* A fresh standby (started at T) applies the master's commit of (X,1),
 * received there at T+5 ms, before it receives its own copy at T+10 ms.
 * The commit is of that very copy: it must match (dropped, nothing to
 * forward, nothing committed twice), not be counted as the first of an
 * episode, which made the copy (X,2) and committed the trap twice. So must
 * a key from a master whose clock is 1.5 s behind: within the margin. */
Test(snapshot_keys, fresh_standby_first_copy_matches_the_commit)
{
	static const int64_t master_offset[] = {5, -1500};
	for (size_t c = 0; c < sizeof master_offset / sizeof master_offset[0]; c++) {
		const uint64_t T = 1700000000000;
		struct duet_trap_pipe *a = pipe_new(1), *b = pipe_new(2);
		set_lead(a, true);
		duet_trap_pipe_clock(b, T, 20);
		set_lead(b, false);
		struct log l = {0};
		cr_assert_eq(rx(a, X, (uint64_t)((int64_t)T + master_offset[c]), 900000, NULL),
			     DUET_TRAP_TAKEN);
		commit_next(a, &l);
		/* the clock as of the apply, after the start: ignored, the
		 * start of listening stays the boundary */
		duet_trap_pipe_clock(b, T + 7, 27);
		cr_assert_eq(duet_trap_pipe_committed(b, l.index[0], l.data[0], (size_t)l.len[0]),
			     0);
		uint32_t ord = 0;
		cr_assert_eq(rx(b, X, T + 10, 30, &ord), DUET_TRAP_DUPLICATE,
			     "master offset %lld ms: the copy of the committed trap",
			     (long long)master_offset[c]);
		cr_assert_eq(ord, 1);
		cr_assert_eq(duet_trap_pipe_take_forward(b, 10000, buf, sizeof buf), 0,
			     "nothing to forward");
		struct duet_trap_pipe_stats st;
		duet_trap_pipe_get_stats(b, &st);
		cr_assert_eq(st.window_seeded, 0);
		cr_assert_eq(st.pending, 0);
		log_free(&l);
		duet_trap_pipe_free(a);
		duet_trap_pipe_free(b);
	}
}

/* The restarted node receives a copy before the log is applied (the leader
 * tells it what is committed only after its receivers are up): numbered 1
 * then, it is the fourth once the three entries are applied (not matched
 * away by the committed (X,1), 9.2 s before it: a loss if it alone had it,
 * nor forwarded as (X,1): a second commit if the master had it as (X,4)),
 * and the next copy is the fifth. A gate "until the first receive" counted
 * nothing here. */
Test(snapshot_keys, restart_rebuilds_ordinal_window_after_an_early_copy)
{
	struct log l = {0};
	struct duet_trap_pipe *a = count_three(&l);
	duet_trap_pipe_free(a);
	struct duet_trap_pipe *b = pipe_new(1);
	duet_trap_pipe_clock(b, 10000, 50);
	set_lead(b, false);
	uint32_t ord = 0;
	cr_assert_eq(rx(b, "another trap", 10100, 150, &ord), DUET_TRAP_TAKEN);
	cr_assert_eq(rx(b, X, 10200, 250, &ord), DUET_TRAP_TAKEN);
	cr_assert_eq(ord, 1, "numbered before the log told of the three");
	for (size_t i = 0; i < l.n; i++)
		cr_assert_eq(duet_trap_pipe_committed(b, l.index[i], l.data[i], (size_t)l.len[i]),
			     0);
	cr_assert_eq(rx(b, X, 11000, 1050, &ord), DUET_TRAP_TAKEN);
	cr_assert_eq(ord, 5, "three before the restart, one after: got %u", ord);
	struct duet_trap_pipe_stats st;
	duet_trap_pipe_get_stats(b, &st);
	cr_assert_eq(st.matched_by_commit, 0, "the early copy is not taken for (X,1)");
	cr_assert_eq(st.pending, 3);
	cr_assert_eq(st.window_renumbered, 3, "moved up by each of the three");
	/* forwarded: the other trap, then X as (X,4) and (X,5) */
	long len = duet_trap_pipe_take_forward(b, 5000, buf, sizeof buf);
	struct duet_traps_iter it;
	uint32_t n;
	struct duet_trap t;
	cr_assert_eq(duet_traps_iter_init(&it, buf, (size_t)len, &n), 0);
	cr_assert_eq(n, 3);
	uint32_t want[][2] = {{10100, 1}, {10200, 4}, {11000, 5}};
	for (uint32_t i = 0; i < n; i++) {
		cr_assert_eq(duet_traps_next(&it, &t), 1);
		cr_assert_eq(t.recv_ms, want[i][0]);
		cr_assert_eq(t.ordinal, want[i][1], "copy at %u: ordinal %u", want[i][0],
			     t.ordinal);
	}
	log_free(&l);
	duet_trap_pipe_free(b);
}

/* The early copy reached the master too, which committed it as (X,4): the
 * restarted node's copy, moved up to (X,4) as the log is applied, matches
 * that commit and goes; nothing is forwarded, nothing committed twice. As
 * (X,1), 19.2 s after the committed (X,1) (more than the tolerance), it
 * matched nothing and was forwarded and committed a second time. */
Test(snapshot_keys, early_copy_moved_up_matches_the_masters_commit)
{
	struct log l = {0};
	struct duet_trap_pipe *a = count_three(&l);
	struct duet_trap_pipe *b = pipe_new(2);
	duet_trap_pipe_clock(b, 20000, 50);
	set_lead(b, false);
	uint32_t ord = 0;
	cr_assert_eq(rx(b, X, 20200, 250, &ord), DUET_TRAP_TAKEN);
	cr_assert_eq(ord, 1);
	cr_assert_eq(rx(a, X, 20203, 20203, &ord), DUET_TRAP_TAKEN);
	cr_assert_eq(ord, 4);
	commit_next(a, &l);
	for (size_t i = 0; i < l.n; i++)
		cr_assert_eq(duet_trap_pipe_committed(b, l.index[i], l.data[i], (size_t)l.len[i]),
			     0);
	struct duet_trap_pipe_stats st;
	duet_trap_pipe_get_stats(b, &st);
	cr_assert_eq(st.pending, 0);
	cr_assert_eq(st.matched_by_commit, 1);
	cr_assert_eq(duet_trap_pipe_take_forward(b, 5000, buf, sizeof buf), 0,
		     "nothing to forward");
	log_free(&l);
	duet_trap_pipe_free(a);
	duet_trap_pipe_free(b);
}

/* Keys of entries past the snapshot's index stay out of it (they are in the
 * log after it and come back when it is replayed); a cap keeps the newest. */
Test(snapshot_keys, export_stops_at_the_snapshot_index_and_the_cap)
{
	struct duet_trap_pipe *a = pipe_new(1);
	set_lead(a, true);
	struct log l = {0};
	for (int i = 0; i < 3; i++) {
		char content[32];
		snprintf(content, sizeof content, "t%d", i);
		rx(a, content, 1000 + (uint64_t)i, 10 + (uint64_t)i, NULL);
		commit_next(a, &l);
	}
	uint8_t *keys;
	struct duet_traps_iter it;
	uint32_t n;
	long len = duet_trap_pipe_export_keys(a, l.index[1], 1u << 20, &keys);
	cr_assert_eq(duet_traps_iter_init(&it, keys, (size_t)len, &n), 0);
	cr_assert_eq(n, 2);
	free(keys);
	cr_assert_eq(duet_trap_pipe_export_keys(a, l.index[0] - 1, 1u << 20, &keys), 0);
	cr_assert_null(keys);
	len = duet_trap_pipe_export_keys(a, l.index[2], 5 + 55 * 2, &keys);
	cr_assert_eq(duet_traps_iter_init(&it, keys, (size_t)len, &n), 0);
	cr_assert_eq(n, 2, "the newest that fit");
	struct duet_trap t;
	cr_assert_eq(duet_traps_next(&it, &t), 1);
	cr_assert_eq(t.recv_ms, 1001);
	free(keys);
	log_free(&l);
	duet_trap_pipe_free(a);
}
