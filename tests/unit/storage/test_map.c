/* SPDX-License-Identifier: MIT */
/*
 * test_map.c - the map and write failures: the map doubles on MDB_MAP_FULL;
 * past max_map_size writes fail with DUET_EMAPFULL, nothing of the failed
 * write is visible and the store stays readable and usable; a failed commit
 * (a real I/O error from RLIMIT_FSIZE, and ENOSPC injected at commit) makes
 * every later write return the same error, and a reopen finds the store
 * intact without the failed write.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "helpers.h"
#include "store_internal.h"

TestSuite(map, .init = th_setup, .fini = th_teardown);

static struct store *open_sized(uint64_t map, uint64_t max)
{
	struct store_options o = {.path = th_dir,
				  .cluster_id = TH_CLUSTER,
				  .node_id = TH_NODE,
				  .create = true,
				  .map_size = map,
				  .max_map_size = max};
	struct store *s;
	char err[512];
	cr_assert_eq(store_open(&o, &s, err, sizeof(err)), 0, "%s", err);
	return s;
}

static void expect_log(struct store *s, uint64_t first, uint64_t last, uint64_t term, uint32_t len)
{
	uint64_t f, l;
	cr_assert_eq(store_log_bounds(s, &f, &l), 0);
	cr_assert_eq(f, first);
	cr_assert_eq(l, last, "last %llu, want %llu", (unsigned long long)l,
		     (unsigned long long)last);
	struct raft_entry *e;
	size_t n;
	cr_assert_eq(store_log_read(s, first, last, &e, &n, NULL, 0), 0);
	cr_assert_eq(n, last - first + 1);
	for (size_t i = 0; i < n; i++)
		cr_assert(th_entry_ok(&e[i], first + i, term, len), "entry %zu", i);
	store_entries_free(e, n);
}

Test(map, grows_on_demand)
{
	struct store *s = open_sized(128 << 10, 256 << 20);
	struct store_stats st;
	store_stats(s, &st);
	cr_assert_eq(st.map_size, 128 << 10);
	cr_assert_eq(st.map_grows, 0);
	for (uint64_t i = 0; i < 300; i++)
		cr_assert_eq(th_append(s, 1 + i * 10, 10, 1, 1000), 0, "batch %llu",
			     (unsigned long long)i);
	store_stats(s, &st);
	cr_assert_geq(st.map_grows, 4, "grows %llu", (unsigned long long)st.map_grows);
	cr_assert_eq(st.map_size, (128ull << 10) << st.map_grows);
	cr_assert_geq(st.map_used, 3000 * 1000);
	cr_assert_leq(st.map_used, st.map_size);
	expect_log(s, 1, 3000, 1, 1000);
	uint64_t grown = st.map_size;
	store_close(s);

	s = open_sized(128 << 10, 256 << 20); /* the grown map is kept */
	store_stats(s, &st);
	cr_assert_geq(st.map_size, grown);
	expect_log(s, 1, 3000, 1, 1000);
	store_close(s);
}

Test(map, full_map_fails_cleanly)
{
	struct store *s = open_sized(128 << 10, 512 << 10);
	uint64_t next = 1;
	int rc = 0;
	for (int i = 0; i < 1000 && rc == 0; i++) {
		rc = th_append(s, next, 8, 1, 1000);
		if (rc == 0)
			next += 8;
	}
	cr_assert_eq(rc, DUET_EMAPFULL, "got %s", duet_strerror(rc));
	cr_assert_gt(next, 100, "the map filled too early (%llu)", (unsigned long long)next);
	struct store_stats st;
	store_stats(s, &st);
	cr_assert_eq(st.map_size, 512 << 10);
	cr_assert_geq(st.map_grows, 2);

	/* nothing of the refused batch is visible, everything before is intact */
	expect_log(s, 1, next - 1, 1, 1000);
	cr_assert_eq(th_append(s, next, 64, 1, 1000), DUET_EMAPFULL);
	expect_log(s, 1, next - 1, 1, 1000);

	/* not sticky: freeing space makes writes work again */
	cr_assert_eq(store_log_drop_prefix(s, next / 2), 0);
	cr_assert_eq(store_set_hardstate(s, 2, 1), 0);
	cr_assert_eq(th_append(s, next, 4, 1, 1000), 0);
	store_close(s);

	s = open_sized(128 << 10, 512 << 10);
	expect_log(s, next / 2 + 1, next + 3, 1, 1000);
	store_close(s);
}

Test(map, injected_enospc_at_commit_is_sticky)
{
	struct store *s = th_open(true);
	cr_assert_eq(th_append(s, 1, 5, 1, 100), 0);
	store_fault_commit(s, ENOSPC);
	cr_assert_eq(th_append(s, 6, 5, 1, 100), -ENOSPC);
	cr_assert_eq(store_set_hardstate(s, 9, 9), -ENOSPC, "a failed store accepted a write");
	cr_assert_eq(th_append(s, 6, 1, 1, 100), -ENOSPC);
	expect_log(s, 1, 5, 1, 100); /* reads still work */
	store_close(s);

	s = th_open(false);
	expect_log(s, 1, 5, 1, 100);
	struct store_meta m;
	cr_assert_eq(store_meta_get(s, &m), 0);
	cr_assert_eq(m.term, 0);
	cr_assert_eq(th_append(s, 6, 5, 1, 100), 0);
	store_close(s);
}

Test(map, real_write_error_at_commit_is_sticky)
{
	struct store *s = th_open(true);
	cr_assert_eq(th_append(s, 1, 5, 1, 100), 0);
	char f[300];
	snprintf(f, sizeof(f), "%s/data.mdb", th_dir);
	struct stat st;
	cr_assert_eq(stat(f, &st), 0);

	/* the data file may not grow: LMDB's page writes fail with EFBIG */
	struct rlimit old, lim;
	cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = (rlim_t)st.st_size;
	signal(SIGXFSZ, SIG_IGN);
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	int rc = th_append(s, 6, 50, 1, 4000);
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
	cr_assert(rc == -EFBIG || rc == -EIO, "got %d %s", rc, duet_strerror(rc));
	cr_assert_eq(store_set_hardstate(s, 2, 2), rc, "a failed store accepted a write");
	store_close(s);

	s = th_open(false);
	expect_log(s, 1, 5, 1, 100);
	cr_assert_eq(th_append(s, 6, 50, 1, 4000), 0);
	store_close(s);
}
