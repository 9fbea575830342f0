/* SPDX-License-Identifier: MIT */
/*
 * test_compact.c - incremental compaction: entries at or below the snapshot
 * are stale at once (bounds, reads and load never show them), and every
 * write transaction deletes at most STORE_COMPACT_STEP of them until the
 * prefix is gone; a reopen in the middle carries on; open skips stale
 * entries (a damaged one does no harm); appends and drops around them.
 * White-box: raw log bounds and a lower step come from store_internal.h.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "store_internal.h"

#define STEP     STORE_COMPACT_STEP
#define PAYLOAD  64
#define PREFIX   (10 * STEP) /* entries one snapshot covers */
#define LIVE     16          /* entries after it */
#define LAST_ONE (PREFIX + LIVE)

TestSuite(compact, .init = th_setup, .fini = th_teardown);

static struct store_stats stats(struct store *s)
{
	struct store_stats st;
	store_stats(s, &st);
	return st;
}

/* The log as stored, stale entries included. */
static struct store_log_view raw(struct store *s)
{
	MDB_txn *txn;
	struct store_log_view lv;
	cr_assert_eq(store_read_begin(s, &txn), 0);
	cr_assert_eq(store_log_view_txn(s, txn, &lv), 0);
	mdb_txn_abort(txn);
	return lv;
}

/* Appends [first, last] (term 1) in batches of at most STEP. */
static void append_range(struct store *s, uint64_t first, uint64_t last)
{
	for (uint64_t i = first; i <= last; i += STEP) {
		uint64_t n = last - i + 1 < STEP ? last - i + 1 : STEP;
		cr_assert_eq(th_append(s, i, (size_t)n, 1, PAYLOAD), 0);
	}
}

/*
 * What every caller sees: bounds [first, last] (0, 0: nothing live), every
 * live entry readable and intact, nothing below first readable, and load
 * giving exactly the live entries after a snapshot at `snap`.
 */
static void expect_live(struct store *s, uint64_t snap, uint64_t first, uint64_t last)
{
	uint64_t f, l;
	cr_assert_eq(store_log_bounds(s, &f, &l), 0);
	cr_assert_eq(f, first, "first %llu, want %llu", (unsigned long long)f,
		     (unsigned long long)first);
	cr_assert_eq(l, last, "last %llu, want %llu", (unsigned long long)l,
		     (unsigned long long)last);
	struct raft_entry *e;
	size_t n;
	char err[512] = "";
	if (last) {
		cr_assert_eq(store_log_read(s, first, last, &e, &n, err, sizeof(err)), 0, "%s",
			     err);
		cr_assert_eq(n, last - first + 1);
		for (size_t i = 0; i < n; i++)
			cr_assert(th_entry_ok(&e[i], first + i, 1, PAYLOAD), "entry %llu",
				  (unsigned long long)(first + i));
		store_entries_free(e, n);
		for (uint64_t lo = 1; lo < first; lo += (first - lo + 1) / 2)
			cr_assert_eq(store_log_read(s, lo, last, &e, &n, NULL, 0), DUET_ECOMPACTED,
				     "stale entry %llu readable", (unsigned long long)lo);
	} else {
		cr_assert_eq(store_log_read(s, 1, snap + 10, &e, &n, NULL, 0), 0);
		cr_assert_eq(n, 0, "a stale entry was read");
		cr_assert_null(e);
	}
	struct store_loaded ld;
	cr_assert_eq(store_load(s, &ld, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(ld.has_snap, snap != 0);
	cr_assert_eq(ld.state.n_entries, last ? last - first + 1 : 0);
	if (last)
		cr_assert_eq(ld.state.entries[0].index, snap ? snap + 1 : first);
	store_loaded_free(&ld);
}

static void snapshot_update(struct raft_update *u, uint64_t index, uint64_t compact_to)
{
	*u = (struct raft_update){.has_snapshot = 1,
				  .snap = {.index = index, .term = 1},
				  .snap_data = (uint8_t *)"state",
				  .snap_len = 5,
				  .compact_to = compact_to};
	th_membership(&u->snap.conf);
}

/* One write of each kind in turn; none of them asks for a compaction. */
static void some_write(struct store *s, int i, uint64_t *next)
{
	struct raft_update u = {.meta_changed = 1, .term = 1 + (uint64_t)i, .vote = 1};
	switch (i % 4) {
	case 0:
		cr_assert_eq(store_apply_update(s, &u), 0);
		break;
	case 1:
		cr_assert_eq(store_set_hardstate(s, 1 + (uint64_t)i, 2), 0);
		break;
	case 2:
		cr_assert_eq(th_append(s, (*next)++, 1, 1, PAYLOAD), 0);
		break;
	default:
		cr_assert_eq(store_set_incarnation(s, (uint64_t)i), 0);
	}
}

/* Writes until no stale entry remains, checking the bound and the view
 * after each; returns how many writes it took. */
static int drain(struct store *s, uint64_t snap, uint64_t *next)
{
	int writes = 0;
	while (stats(s).compact_pending) {
		struct store_stats before = stats(s);
		some_write(s, writes, next);
		struct store_stats after = stats(s);
		uint64_t done = after.entries_compacted - before.entries_compacted;
		cr_assert_leq(done, STEP, "one transaction deleted %llu", (unsigned long long)done);
		cr_assert(done == STEP || !after.compact_pending,
			  "a step deleted %llu while more remained", (unsigned long long)done);
		cr_assert_leq(after.compact_step_max, STEP);
		expect_live(s, snap, snap + 1, *next - 1);
		cr_assert_lt(++writes, 1000, "compaction does not finish");
	}
	return writes;
}

Test(compact, bounded_steps_until_the_prefix_is_gone, .timeout = 120)
{
	struct store *s = th_open(true);
	append_range(s, 1, LAST_ONE);
	cr_assert_eq(stats(s).entries_compacted, 0);

	struct raft_update u;
	snapshot_update(&u, PREFIX, PREFIX);
	uint8_t buf[PAYLOAD];
	struct raft_entry e;
	th_entry(&e, LAST_ONE + 1, 1, PAYLOAD, buf);
	u.entries = &e;
	u.n_entries = 1;
	uint64_t t0 = stats(s).txns_committed;
	cr_assert_eq(store_apply_update(s, &u), 0);
	struct store_stats st = stats(s);
	cr_assert_eq(st.txns_committed, t0 + 1);
	cr_assert_eq(st.entries_compacted, STEP, "the update deleted %llu",
		     (unsigned long long)st.entries_compacted);
	cr_assert_eq(st.compact_step_max, STEP);
	cr_assert(st.compact_pending);
	cr_assert_eq(raw(s).raw_first, STEP + 1);
	uint64_t next = LAST_ONE + 2;
	expect_live(s, PREFIX, PREFIX + 1, next - 1);

	int writes = drain(s, PREFIX, &next);
	cr_assert_eq(writes, 9, "took %d more writes", writes);
	st = stats(s);
	cr_assert_eq(st.entries_compacted, PREFIX);
	cr_assert_eq(st.compact_step_max, STEP);
	struct store_log_view lv = raw(s);
	cr_assert_eq(lv.raw_first, PREFIX + 1, "stale entries left from %llu",
		     (unsigned long long)lv.raw_first);

	/* nothing stale: later writes delete nothing */
	some_write(s, 0, &next);
	cr_assert_eq(stats(s).entries_compacted, PREFIX);
	expect_live(s, PREFIX, PREFIX + 1, next - 1);
	store_close(s);
}

Test(compact, reopen_in_the_middle_carries_on, .timeout = 120)
{
	struct store *s = th_open(true);
	append_range(s, 1, LAST_ONE);
	struct raft_update u;
	snapshot_update(&u, PREFIX, PREFIX);
	cr_assert_eq(store_apply_update(s, &u), 0);
	uint64_t next = LAST_ONE + 1;
	for (int i = 0; i < 3; i++)
		some_write(s, i, &next);
	cr_assert_eq(stats(s).entries_compacted, 4 * STEP);
	store_close(s);

	/* read-only (duetctl) sees the same log and leaves the stale entries */
	struct store_options o = {.path = th_dir, .readonly = true};
	char err[512];
	cr_assert_eq(store_open(&o, &s, err, sizeof(err)), 0, "%s", err);
	cr_assert(stats(s).compact_pending);
	expect_live(s, PREFIX, PREFIX + 1, next - 1);
	store_close(s);

	s = th_open(false);
	struct store_stats st = stats(s);
	cr_assert(st.compact_pending, "open did not notice the stale entries");
	cr_assert_eq(st.entries_compacted, 0);
	cr_assert_eq(raw(s).raw_first, 4 * STEP + 1);
	expect_live(s, PREFIX, PREFIX + 1, next - 1);
	int writes = drain(s, PREFIX, &next);
	cr_assert_eq(writes, 6, "took %d writes", writes);
	cr_assert_eq(stats(s).entries_compacted, 6 * STEP);
	cr_assert_eq(raw(s).raw_first, PREFIX + 1);
	store_close(s);

	s = th_open(false);
	cr_assert_not(stats(s).compact_pending);
	expect_live(s, PREFIX, PREFIX + 1, next - 1);
	store_close(s);
}

Test(compact, idle_store_keeps_stale_entries_until_the_next_write)
{
	struct store *s = th_open(true);
	append_range(s, 1, 3 * STEP);
	struct raft_snapshot_meta m = {.index = 2 * STEP + 5, .term = 1};
	th_membership(&m.conf);
	cr_assert_eq(store_snapshot_put(s, &m, "x", 1), 0); /* a snapshot alone compacts too */
	cr_assert_eq(stats(s).entries_compacted, STEP);
	expect_live(s, m.index, m.index + 1, 3 * STEP);

	/* no write, no step: reads and empty updates delete nothing */
	struct raft_update none = {0};
	uint64_t t0 = stats(s).txns_committed;
	cr_assert_eq(store_apply_update(s, &none), 0);
	cr_assert_eq(stats(s).txns_committed, t0);
	cr_assert_eq(stats(s).entries_compacted, STEP);
	cr_assert(stats(s).compact_pending);
	cr_assert_eq(raw(s).raw_first, STEP + 1);

	cr_assert_eq(store_set_incarnation(s, 3), 0);
	cr_assert_eq(stats(s).entries_compacted, 2 * STEP);
	cr_assert_eq(store_set_hardstate(s, 2, 1), 0);
	cr_assert_eq(stats(s).entries_compacted, 2 * STEP + 5);
	cr_assert_not(stats(s).compact_pending);
	cr_assert_eq(raw(s).raw_first, m.index + 1);
	expect_live(s, m.index, m.index + 1, 3 * STEP);
	store_close(s);
}

Test(compact, compact_to_below_the_snapshot_hides_all_it_covers)
{
	struct store *s = th_open(true);
	append_range(s, 1, 40);
	struct raft_update u;
	snapshot_update(&u, 30, 20); /* compact_to lags the snapshot */
	cr_assert_eq(store_apply_update(s, &u), 0);
	expect_live(s, 30, 31, 40);
	cr_assert_eq(stats(s).entries_compacted, 30);
	cr_assert_eq(raw(s).raw_first, 31);
	store_close(s);
}

Test(compact, damaged_stale_entries_are_skipped_and_deleted)
{
	struct store *s = th_open(true);
	append_range(s, 1, 20);
	store_set_compact_step(s, 1);
	struct raft_snapshot_meta m = {.index = 10, .term = 1};
	th_membership(&m.conf);
	cr_assert_eq(store_snapshot_put(s, &m, "ten", 3), 0);
	cr_assert_eq(raw(s).raw_first, 2);
	store_close(s);

	uint8_t key[8];
	store_index_key(5, key);
	th_raw_flip("log", key, 8, RAFT_ENTRY_HEADER_BYTES + 3); /* payload */
	store_index_key(2, key);
	th_raw_flip("log", key, 8, -1); /* crc */
	store_index_key(7, key);
	th_raw_del("log", key, 8); /* a hole among stale entries */

	s = th_open(false); /* not refused: nothing will ever read them */
	cr_assert(stats(s).compact_pending);
	expect_live(s, 10, 11, 20);
	cr_assert_eq(store_set_hardstate(s, 2, 1), 0); /* default step: all at once */
	cr_assert_not(stats(s).compact_pending);
	cr_assert_eq(stats(s).entries_compacted, 8);
	cr_assert_eq(raw(s).raw_first, 11);
	expect_live(s, 10, 11, 20);
	store_close(s);

	/* a damaged live entry is still refused */
	store_index_key(11, key);
	th_raw_flip("log", key, 8, RAFT_ENTRY_HEADER_BYTES + 3);
	struct store_options o = {.path = th_dir};
	cr_assert_eq(store_open(&o, &s, NULL, 0), DUET_ECORRUPT);
}

Test(compact, append_when_only_stale_entries_remain)
{
	struct store *s = th_open(true);
	append_range(s, 1, 10);
	store_set_compact_step(s, 1);
	struct raft_snapshot_meta m = {.index = 30, .term = 1};
	th_membership(&m.conf);
	cr_assert_eq(store_snapshot_put(s, &m, "x", 1), 0); /* past the whole log */
	expect_live(s, 30, 0, 0);
	cr_assert(stats(s).compact_pending);
	cr_assert_eq(th_append(s, 32, 1, 1, PAYLOAD), DUET_EINVAL); /* a gap after it */
	cr_assert_eq(th_append(s, 31, 5, 1, PAYLOAD), 0);
	expect_live(s, 30, 31, 35);
	store_close(s);

	s = th_open(false); /* stale 3..10, then 31..35: no hole in the live log */
	expect_live(s, 30, 31, 35);
	cr_assert_eq(store_set_hardstate(s, 1, 1), 0);
	cr_assert_eq(raw(s).raw_first, 31);
	store_close(s);

	/* appending at or below stale keys replaces them; the result is stale */
	th_teardown();
	th_setup();
	s = th_open(true);
	append_range(s, 1, 10);
	store_set_compact_step(s, 1);
	cr_assert_eq(store_snapshot_put(s, &m, "x", 1), 0);
	cr_assert_eq(th_append(s, 5, 3, 1, PAYLOAD), 0);
	expect_live(s, 30, 0, 0);
	struct store_log_view lv = raw(s);
	cr_assert_eq(lv.raw_first, 3); /* the append's own step deleted 2 */
	cr_assert_eq(lv.raw_last, 7);
	cr_assert_eq(th_append(s, 31, 2, 1, PAYLOAD), 0);
	expect_live(s, 30, 31, 32);
	store_close(s);
	s = th_open(false);
	expect_live(s, 30, 31, 32);
	store_close(s);
}

Test(compact, drop_prefix_around_the_snapshot)
{
	struct store *s = th_open(true);
	append_range(s, 1, 20);
	store_set_compact_step(s, 2);
	struct raft_snapshot_meta m = {.index = 10, .term = 1};
	th_membership(&m.conf);
	cr_assert_eq(store_snapshot_put(s, &m, "x", 1), 0);
	uint64_t done = stats(s).entries_compacted;

	/* at or below the snapshot: a step, nothing more */
	cr_assert_eq(store_log_drop_prefix(s, 6), 0);
	cr_assert_eq(stats(s).entries_compacted, done + 2);
	expect_live(s, 10, 11, 20);

	/* past it, leaving live entries behind a hole: refused, nothing done */
	cr_assert_eq(store_log_drop_prefix(s, 15), DUET_EINVAL);
	cr_assert_eq(stats(s).entries_compacted, done + 2);
	expect_live(s, 10, 11, 20);

	/* past the end: the live entries go now, the stale ones a step at a time */
	cr_assert_eq(store_log_drop_prefix(s, 25), 0);
	expect_live(s, 10, 0, 0);
	cr_assert(stats(s).compact_pending);
	cr_assert_eq(th_append(s, 11, 2, 1, PAYLOAD), 0);
	expect_live(s, 10, 11, 12);
	store_close(s);
	s = th_open(false);
	expect_live(s, 10, 11, 12);
	store_close(s);
}
