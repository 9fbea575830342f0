/* SPDX-License-Identifier: MIT */
/*
 * test_log.c - the log: append, read, bounds, truncate, drop_prefix,
 * contiguity (non-contiguous appends refused, nothing written), and
 * persistence across a reopen.
 */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "helpers.h"

TestSuite(log, .init = th_setup, .fini = th_teardown);

static void expect_bounds(struct store *s, uint64_t first, uint64_t last)
{
	uint64_t f, l;
	cr_assert_eq(store_log_bounds(s, &f, &l), 0);
	cr_assert_eq(f, first, "first %llu, want %llu", (unsigned long long)f,
		     (unsigned long long)first);
	cr_assert_eq(l, last, "last %llu, want %llu", (unsigned long long)l,
		     (unsigned long long)last);
}

/* Reads [lo, hi] and checks n entries starting at lo, all with `term`. */
static void expect_read(struct store *s, uint64_t lo, uint64_t hi, size_t n, uint64_t term,
			uint32_t len)
{
	struct raft_entry *e;
	size_t got;
	char err[512];
	cr_assert_eq(store_log_read(s, lo, hi, &e, &got, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(got, n);
	for (size_t i = 0; i < got; i++)
		cr_assert(th_entry_ok(&e[i], lo + i, term, len), "entry %zu differs", i);
	store_entries_free(e, got);
}

Test(log, append_read_bounds)
{
	struct store *s = th_open(true);
	expect_bounds(s, 0, 0);
	cr_assert_eq(th_append(s, 1, 10, 1, 100), 0);
	expect_bounds(s, 1, 10);
	expect_read(s, 1, 10, 10, 1, 100);
	expect_read(s, 3, 5, 3, 1, 100);
	expect_read(s, 8, 1000, 3, 1, 100); /* hi clamped to the last index */
	expect_read(s, 11, 20, 0, 1, 100);  /* past the end: nothing */
	struct raft_entry *e;
	size_t n;
	cr_assert_eq(store_log_read(s, 0, 5, &e, &n, NULL, 0), DUET_EINVAL);
	cr_assert_eq(store_log_read(s, 5, 4, &e, &n, NULL, 0), DUET_EINVAL);
	cr_assert_eq(th_append(s, 11, 5, 2, 0), 0); /* empty payloads */
	expect_read(s, 11, 15, 5, 2, 0);
	store_close(s);

	s = th_open(false);
	expect_bounds(s, 1, 15);
	expect_read(s, 1, 10, 10, 1, 100);
	store_close(s);
}

Test(log, empty_log_accepts_any_first_index)
{
	struct store *s = th_open(true);
	cr_assert_eq(th_append(s, 100, 3, 5, 16), 0);
	expect_bounds(s, 100, 102);
	struct raft_entry *e;
	size_t n;
	cr_assert_eq(store_log_read(s, 50, 101, &e, &n, NULL, 0), DUET_ECOMPACTED);
	store_close(s);
}

Test(log, non_contiguous_append_refused_and_nothing_written)
{
	struct store *s = th_open(true);
	cr_assert_eq(th_append(s, 1, 5, 1, 10), 0);
	cr_assert_eq(th_append(s, 7, 1, 1, 10), DUET_EINVAL); /* gap */
	cr_assert_eq(th_append(s, 5, 1, 1, 10), DUET_EINVAL); /* overlap */
	cr_assert_eq(th_append(s, 1, 1, 1, 10), DUET_EINVAL);

	/* a batch with a hole inside */
	uint8_t buf[2][10];
	struct raft_entry e[2];
	th_entry(&e[0], 6, 1, 10, buf[0]);
	th_entry(&e[1], 8, 1, 10, buf[1]);
	cr_assert_eq(store_log_append(s, e, 2), DUET_EINVAL);
	expect_bounds(s, 1, 5);

	/* index 0 does not exist in Raft */
	store_close(s);
	th_teardown();
	th_setup();
	s = th_open(true);
	cr_assert_eq(th_append(s, 0, 2, 1, 10), DUET_EINVAL);
	expect_bounds(s, 0, 0);
	store_close(s);
}

Test(log, payload_over_the_limit_refused)
{
	struct store *s = th_open(true);
	struct raft_entry e = {.index = 1, .term = 1, .len = RAFT_ENTRY_MAX_PAYLOAD + 1};
	e.data = calloc(1, e.len);
	cr_assert_eq(store_log_append(s, &e, 1), DUET_ETOOBIG);
	free(e.data);
	expect_bounds(s, 0, 0);
	store_close(s);
}

Test(log, truncate_suffix)
{
	struct store *s = th_open(true);
	cr_assert_eq(th_append(s, 1, 10, 1, 50), 0);
	cr_assert_eq(store_log_truncate(s, 6), 0);
	expect_bounds(s, 1, 5);
	cr_assert_eq(th_append(s, 6, 3, 2, 50), 0); /* rewritten in a new term */
	expect_bounds(s, 1, 8);
	expect_read(s, 1, 5, 5, 1, 50);
	expect_read(s, 6, 8, 3, 2, 50);
	cr_assert_eq(store_log_truncate(s, 100), 0); /* past the end: nothing */
	expect_bounds(s, 1, 8);
	cr_assert_eq(store_log_truncate(s, 1), 0);
	expect_bounds(s, 0, 0);
	store_close(s);
}

Test(log, drop_prefix)
{
	struct store *s = th_open(true);
	cr_assert_eq(th_append(s, 1, 10, 1, 50), 0);
	cr_assert_eq(store_log_drop_prefix(s, 4), 0);
	expect_bounds(s, 5, 10);
	struct raft_entry *e;
	size_t n;
	cr_assert_eq(store_log_read(s, 1, 10, &e, &n, NULL, 0), DUET_ECOMPACTED);
	expect_read(s, 5, 10, 6, 1, 50);
	cr_assert_eq(store_log_drop_prefix(s, 0), 0);
	expect_bounds(s, 5, 10);
	cr_assert_eq(store_log_drop_prefix(s, 10), 0);
	expect_bounds(s, 0, 0);
	cr_assert_eq(th_append(s, 11, 2, 1, 50), 0);
	expect_bounds(s, 11, 12);
	store_close(s);
}

Test(log, append_may_not_leave_a_hole_after_the_snapshot)
{
	struct store *s = th_open(true);
	struct raft_snapshot_meta m = {.index = 10, .term = 2};
	th_membership(&m.conf);
	cr_assert_eq(store_snapshot_put(s, &m, "x", 1), 0);
	cr_assert_eq(th_append(s, 12, 1, 2, 8), DUET_EINVAL);
	cr_assert_eq(th_append(s, 11, 1, 2, 8), 0);
	expect_bounds(s, 11, 11);
	store_close(s);
}
