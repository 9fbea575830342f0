/* SPDX-License-Identifier: MIT */
/*
 * test_commit.c - fsm_apply_committed(): a batch is audited (in one durable
 * transaction) and applied; TRAPS/DELIVERED are applied but not audited;
 * handing the same entries again after a "restart" (a restored snapshot)
 * adds no audit record; the chain verifies.
 */
#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

#include "duet/storage.h"
#include "fixture.h"

static char dir[256];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path), 0;
}

static void setup(void)
{
	fx_setup();
	snprintf(dir, sizeof(dir), "/tmp/duet-fsm-test-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	fx_teardown();
}

TestSuite(commit, .init = setup, .fini = teardown);

static struct store *open_store(void)
{
	struct store_options o = {.path = dir, .cluster_id = 0x1234, .node_id = 1, .create = true};
	struct store *s;
	char err[512];
	int rc = store_open(&o, &s, err, sizeof(err));
	cr_assert_eq(rc, 0, "%s", err);
	return s;
}

Test(commit, audit_then_apply_idempotent)
{
	/* build the log on the fixture's own fsm, then replay it through the edge */
	fx_cluster_up();
	fx_traps(1);
	fx_master(2, 1, DUET_MASTER_FAILOVER);
	fx_master(3, 2, DUET_MASTER_FORCED); /* refused, still audited */
	fx_step(DUET_STEP_PROMOTE, 2, true);
	struct store *s = open_store();
	struct fsm *g = calloc(1, sizeof(*g));
	fsm_init(g);
	size_t refused;
	cr_assert_eq(fsm_apply_committed(g, s, fx->entries, 4, &refused), 0);
	cr_assert_eq(refused, 0);
	cr_assert_eq(fsm_apply_committed(g, s, fx->entries + 4, fx->n - 4, &refused), 0);
	cr_assert_eq(refused, 1);
	cr_assert_eq(memcmp(g, &fx->fsm, sizeof(*g)), 0);
	struct store_audit_tail t;
	cr_assert_eq(store_audit_last(s, &t), 0);
	cr_assert_eq(t.seq, fx->n - 1, "every entry but TRAPS audited");
	cr_assert_eq(t.last_index, fx->n);

	/* restart: state from nothing (no snapshot), the core re-hands everything */
	fsm_init(g);
	cr_assert_eq(fsm_apply_committed(g, s, fx->entries, fx->n, NULL), 0);
	struct store_audit_tail t2;
	cr_assert_eq(store_audit_last(s, &t2), 0);
	cr_assert_eq(memcmp(&t, &t2, sizeof(t)), 0, "re-applied entries added records");
	cr_assert_eq(memcmp(g, &fx->fsm, sizeof(*g)), 0);

	struct store_audit_report r;
	cr_assert_eq(store_audit_verify(s, &r), 0, "%s", r.detail);
	cr_assert_eq(r.records_ok, fx->n - 1);
	store_close(s);
	free(g);
}
