/* SPDX-License-Identifier: MIT */
/*
 * test_trap_floor.c - the compaction floor is replicated state (DESIGN.md
 * section 3, issue 13 defect 2).
 *
 * The witness has no trap pipeline: before the fix its floor was "applied",
 * so it snapshotted past TRAPS entries no DELIVERED covered, and a data node
 * that caught up from that snapshot never saw them (committed traps lost).
 * The floor now comes from the fsm, which every member applies alike: these
 * tests drive the fsm exactly as the witness does (TRAPS and DELIVERED
 * entries, no pipeline) and check where a snapshot may be taken, and that
 * the floor survives a snapshot round trip (a member restored from one goes
 * on with the same floor).
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdlib.h>

#include "fixture.h"

TestSuite(trap_floor, .init = fx_setup, .fini = fx_teardown);

static int fx_delivered(uint64_t up_to)
{
	struct duet_delivered d = {.up_to_index = up_to, .sink = DUET_SINK_POSTGRESQL};
	uint8_t buf[64];
	long len = duet_delivered_encode(&d, buf, sizeof buf);
	cr_assert_gt(len, 0);
	return fx_raw(RAFT_ENTRY_DELIVERED, buf, (uint32_t)len);
}

static void round_trip(const struct fsm *f, struct fsm *g)
{
	size_t size = fsm_snapshot_size(f);
	uint8_t *buf = malloc(size);
	long len = fsm_snapshot_encode(f, buf, size);
	cr_assert_eq(len, (long)size);
	fsm_init(g);
	cr_assert_eq(fsm_snapshot_decode(buf, (size_t)len, g), 0);
	free(buf);
}

/* Sink down: 10 TRAPS committed, then unrelated entries. The witness's
 * floor stays below the first TRAPS entry: a snapshot it takes keeps them
 * in its log, so a member catching up from it still gets them. */
Test(trap_floor, witness_snapshot_keeps_undelivered_traps)
{
	fx_cluster_up();
	uint64_t first = fx->n + 1;
	for (int i = 0; i < 10; i++)
		cr_assert_eq(fx_traps(1), FSM_APPLIED);
	for (int i = 0; i < 50; i++)
		fx_noop();
	cr_assert_eq(fsm_trap_floor(&fx->fsm), first - 1,
		     "floor %" PRIu64 " past the first undelivered TRAPS entry %" PRIu64,
		     fsm_trap_floor(&fx->fsm), first);
	struct fsm g;
	round_trip(&fx->fsm, &g);
	cr_assert_eq(fsm_trap_floor(&g), first - 1, "a restored member keeps the floor");
	/* the sink confirms the first 4: the floor moves to them, no further */
	cr_assert_eq(fx_delivered(first + 3), FSM_APPLIED);
	cr_assert_eq(fsm_trap_floor(&fx->fsm), first + 3);
	/* all of them: nothing waits, the log may be compacted to the end */
	cr_assert_eq(fx_delivered(first + 9), FSM_APPLIED);
	cr_assert_eq(fsm_trap_floor(&fx->fsm), fx->fsm.applied_index);
	/* a DELIVERED older than the last one changes nothing */
	cr_assert_eq(fx_delivered(first), FSM_APPLIED);
	cr_assert_eq(fsm_trap_floor(&fx->fsm), fx->fsm.applied_index);
}

/* Without traps the floor is the applied index; a new TRAPS entry after a
 * full delivery holds it again, exactly at that entry. */
Test(trap_floor, floor_follows_new_traps)
{
	fx_cluster_up();
	cr_assert_eq(fsm_trap_floor(&fx->fsm), fx->fsm.applied_index);
	fx_traps(2);
	uint64_t t1 = fx->n;
	fx_delivered(t1);
	for (int i = 0; i < 20; i++)
		fx_noop();
	cr_assert_eq(fsm_trap_floor(&fx->fsm), fx->fsm.applied_index);
	fx_traps(1);
	uint64_t t2 = fx->n;
	fx_noop();
	cr_assert_eq(fsm_trap_floor(&fx->fsm), t2 - 1);
}

/* A DELIVERED that does not decode is refused and moves nothing. */
Test(trap_floor, bad_delivered_refused)
{
	fx_cluster_up();
	fx_traps(1);
	uint64_t t = fx->n;
	cr_assert_eq(fx_raw(RAFT_ENTRY_DELIVERED, "x", 1), FSM_REFUSED);
	cr_assert_eq(fsm_trap_floor(&fx->fsm), t - 1);
}
