/* SPDX-License-Identifier: MIT */
/*
 * test_update.c - snapshots, store_apply_update() (each part alone, all
 * together, one transaction each, all-or-nothing on error) and store_load()
 * with and without a snapshot.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

TestSuite(update, .init = th_setup, .fini = th_teardown);

static uint64_t txns(struct store *s)
{
	struct store_stats st;
	store_stats(s, &st);
	return st.txns_committed;
}

static void expect_bounds(struct store *s, uint64_t first, uint64_t last)
{
	uint64_t f, l;
	cr_assert_eq(store_log_bounds(s, &f, &l), 0);
	cr_assert_eq(f, first, "first %llu", (unsigned long long)f);
	cr_assert_eq(l, last, "last %llu", (unsigned long long)l);
}

static void expect_terms(struct store *s, uint64_t lo, uint64_t hi, uint64_t term, uint32_t len)
{
	struct raft_entry *e;
	size_t n;
	cr_assert_eq(store_log_read(s, lo, hi, &e, &n, NULL, 0), 0);
	cr_assert_eq(n, hi - lo + 1);
	for (size_t i = 0; i < n; i++)
		cr_assert(th_entry_ok(&e[i], lo + i, term, len), "entry %llu",
			  (unsigned long long)(lo + i));
	store_entries_free(e, n);
}

/* Entries [first, first+n) of `term` for an update; free with free_batch. */
struct batch {
	struct raft_entry e[64];
	uint8_t buf[64][64];
};

static void make_batch(struct batch *b, uint64_t first, size_t n, uint64_t term)
{
	for (size_t i = 0; i < n; i++)
		th_entry(&b->e[i], first + i, term, 64, b->buf[i]);
}

static uint8_t *blob(uint32_t len, uint8_t seed)
{
	uint8_t *p = malloc(len);
	for (uint32_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 7);
	return p;
}

Test(update, snapshot_put_get_replace)
{
	struct store *s = th_open(true);
	struct raft_snapshot_meta m = {.index = 50, .term = 3}, got;
	uint8_t *data;
	uint32_t len;
	cr_assert_eq(store_snapshot_get(s, &got, &data, &len), DUET_ENOENT);
	th_membership(&m.conf);
	uint8_t *b1 = blob(100000, 1);
	cr_assert_eq(store_snapshot_put(s, &m, b1, 100000), 0);
	cr_assert_eq(store_snapshot_get(s, &got, &data, &len), 0);
	cr_assert_eq(got.index, 50);
	cr_assert_eq(got.term, 3);
	cr_assert(th_membership_eq(&got.conf, &m.conf));
	cr_assert_eq(len, 100000);
	cr_assert_eq(memcmp(data, b1, len), 0);
	free(data);

	m.index = 80;
	m.term = 4;
	m.conf.n = 2;
	cr_assert_eq(store_snapshot_put(s, &m, "small", 5), 0);
	store_close(s);
	s = th_open(false);
	cr_assert_eq(store_snapshot_get(s, &got, &data, &len), 0);
	cr_assert_eq(got.index, 80);
	cr_assert_eq(got.conf.n, 2);
	cr_assert_eq(len, 5);
	cr_assert_eq(memcmp(data, "small", 5), 0);
	free(data);
	free(b1);
	store_close(s);
}

Test(update, meta_only_is_one_txn)
{
	struct store *s = th_open(true);
	uint64_t t0 = txns(s);
	struct raft_update u = {.meta_changed = 1, .term = 5, .vote = 1};
	cr_assert_eq(store_apply_update(s, &u), 0);
	cr_assert_eq(txns(s), t0 + 1);
	struct store_meta m;
	cr_assert_eq(store_meta_get(s, &m), 0);
	cr_assert_eq(m.term, 5);
	cr_assert_eq(m.vote, 1);
	store_close(s);
}

Test(update, empty_update_writes_nothing)
{
	struct store *s = th_open(true);
	uint64_t t0 = txns(s);
	struct raft_update u = {0};
	cr_assert_eq(store_apply_update(s, &u), 0);
	cr_assert_eq(txns(s), t0);
	store_close(s);
}

Test(update, append_only)
{
	struct store *s = th_open(true);
	static struct batch b;
	make_batch(&b, 1, 64, 1);
	struct raft_update u = {.entries = b.e, .n_entries = 64};
	uint64_t t0 = txns(s);
	cr_assert_eq(store_apply_update(s, &u), 0);
	cr_assert_eq(txns(s), t0 + 1);
	expect_bounds(s, 1, 64);
	expect_terms(s, 1, 64, 1, 64);
	store_close(s);
}

Test(update, truncate_only_and_truncate_then_append)
{
	struct store *s = th_open(true);
	cr_assert_eq(th_append(s, 1, 10, 1, 64), 0);
	struct raft_update u = {.truncate_from = 9};
	cr_assert_eq(store_apply_update(s, &u), 0);
	expect_bounds(s, 1, 8);

	static struct batch b;
	make_batch(&b, 6, 3, 2);
	u = (struct raft_update){.truncate_from = 6, .entries = b.e, .n_entries = 3};
	uint64_t t0 = txns(s);
	cr_assert_eq(store_apply_update(s, &u), 0);
	cr_assert_eq(txns(s), t0 + 1);
	expect_bounds(s, 1, 8);
	expect_terms(s, 1, 5, 1, 64);
	expect_terms(s, 6, 8, 2, 64);
	store_close(s);
}

Test(update, snapshot_only_and_compact_only)
{
	struct store *s = th_open(true);
	cr_assert_eq(th_append(s, 1, 20, 1, 64), 0);
	struct raft_update u = {.has_snapshot = 1, .snap = {.index = 10, .term = 1}};
	th_membership(&u.snap.conf);
	u.snap_data = (uint8_t *)"state";
	u.snap_len = 5;
	cr_assert_eq(store_apply_update(s, &u), 0);
	expect_bounds(s, 11, 20); /* a snapshot alone makes what it covers stale */
	struct raft_snapshot_meta m;
	uint8_t *data;
	uint32_t len;
	cr_assert_eq(store_snapshot_get(s, &m, &data, &len), 0);
	cr_assert_eq(m.index, 10);
	free(data);

	u = (struct raft_update){.compact_to = 10};
	cr_assert_eq(store_apply_update(s, &u), 0);
	expect_bounds(s, 11, 20);
	store_close(s);
}

Test(update, all_parts_in_one_txn)
{
	struct store *s = th_open(true);
	cr_assert_eq(th_append(s, 1, 20, 1, 64), 0);
	static struct batch b;
	make_batch(&b, 18, 10, 3);
	struct raft_update u = {.meta_changed = 1,
				.term = 3,
				.vote = 2,
				.has_snapshot = 1,
				.snap = {.index = 15, .term = 1},
				.snap_data = (uint8_t *)"snap15",
				.snap_len = 6,
				.truncate_from = 18,
				.entries = b.e,
				.n_entries = 10,
				.compact_to = 15};
	th_membership(&u.snap.conf);
	uint64_t t0 = txns(s);
	cr_assert_eq(store_apply_update(s, &u), 0);
	cr_assert_eq(txns(s), t0 + 1);
	expect_bounds(s, 16, 27);
	expect_terms(s, 16, 17, 1, 64);
	expect_terms(s, 18, 27, 3, 64);
	struct store_meta mm;
	cr_assert_eq(store_meta_get(s, &mm), 0);
	cr_assert_eq(mm.term, 3);
	cr_assert_eq(mm.vote, 2);
	struct raft_snapshot_meta m;
	uint8_t *data;
	uint32_t len;
	cr_assert_eq(store_snapshot_get(s, &m, &data, &len), 0);
	cr_assert_eq(m.index, 15);
	cr_assert_eq(len, 6);
	cr_assert_eq(memcmp(data, "snap15", 6), 0);
	free(data);
	store_close(s);
}

Test(update, failing_part_leaves_nothing_behind)
{
	struct store *s = th_open(true);
	cr_assert_eq(th_append(s, 1, 10, 1, 64), 0);
	static struct batch b;
	make_batch(&b, 20, 2, 4); /* does not follow 10: refused */
	struct raft_update u = {.meta_changed = 1,
				.term = 4,
				.vote = 3,
				.has_snapshot = 1,
				.snap = {.index = 5, .term = 1},
				.truncate_from = 8,
				.entries = b.e,
				.n_entries = 2,
				.compact_to = 3};
	th_membership(&u.snap.conf);
	uint64_t t0 = txns(s);
	cr_assert_eq(store_apply_update(s, &u), DUET_EINVAL);
	cr_assert_eq(txns(s), t0);
	struct store_meta mm;
	cr_assert_eq(store_meta_get(s, &mm), 0);
	cr_assert_eq(mm.term, 0, "the term of a failed update leaked");
	struct raft_snapshot_meta m;
	uint8_t *data;
	uint32_t len;
	cr_assert_eq(store_snapshot_get(s, &m, &data, &len), DUET_ENOENT);
	expect_bounds(s, 1, 10); /* neither truncated nor compacted */
	store_close(s);
}

Test(update, load_without_snapshot)
{
	struct store *s = th_open(true);
	struct store_loaded l;
	cr_assert_eq(store_load(s, &l, NULL, 0), 0);
	cr_assert_eq(l.state.term, 0);
	cr_assert_null(l.state.snap);
	cr_assert_eq(l.state.n_entries, 0);
	store_loaded_free(&l);

	cr_assert_eq(store_set_hardstate(s, 4, 2), 0);
	cr_assert_eq(store_set_incarnation(s, 9), 0);
	cr_assert_eq(th_append(s, 1, 5, 4, 64), 0);
	store_close(s);
	s = th_open(false);
	char err[512];
	cr_assert_eq(store_load(s, &l, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(l.state.term, 4);
	cr_assert_eq(l.state.vote, 2);
	cr_assert_eq(l.incarnation, 9);
	cr_assert_not(l.has_snap);
	cr_assert_null(l.state.snap);
	cr_assert_eq(l.state.n_entries, 5);
	cr_assert_eq(l.state.entries, l.entries);
	for (size_t i = 0; i < 5; i++)
		cr_assert(th_entry_ok(&l.state.entries[i], i + 1, 4, 64));
	store_loaded_free(&l);
	store_close(s);
}

Test(update, load_with_snapshot_skips_stale_entries)
{
	struct store *s = th_open(true);
	cr_assert_eq(th_append(s, 1, 10, 2, 64), 0);
	struct raft_snapshot_meta m = {.index = 6, .term = 2};
	th_membership(&m.conf);
	cr_assert_eq(store_snapshot_put(s, &m, "six", 3), 0);
	struct store_loaded l;
	char err[512];
	cr_assert_eq(store_load(s, &l, err, sizeof(err)), 0, "%s", err);
	cr_assert(l.has_snap);
	cr_assert_eq(l.state.snap, &l.snap);
	cr_assert_eq(l.snap.index, 6);
	cr_assert(th_membership_eq(&l.snap.conf, &m.conf));
	cr_assert_eq(l.state.snap_len, 3);
	cr_assert_eq(memcmp(l.state.snap_data, "six", 3), 0);
	cr_assert_eq(l.state.n_entries, 4);
	for (size_t i = 0; i < 4; i++)
		cr_assert(th_entry_ok(&l.state.entries[i], 7 + i, 2, 64));
	store_loaded_free(&l);

	/* a snapshot past the whole log: no entries */
	m.index = 30;
	cr_assert_eq(store_snapshot_put(s, &m, "thirty", 6), 0);
	cr_assert_eq(store_load(s, &l, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(l.snap.index, 30);
	cr_assert_eq(l.state.n_entries, 0);
	store_loaded_free(&l);
	store_close(s);
}
