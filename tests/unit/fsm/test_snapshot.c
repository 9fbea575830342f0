/* SPDX-License-Identifier: MIT */
/*
 * test_snapshot.c - fsm snapshots: a rich state round-trips exactly and
 * re-encodes to the same bytes; a restored state goes on like the original;
 * every truncation and every single-bit flip is refused with the target
 * state untouched; a different version is DUET_EVERSION; a short buffer is
 * DUET_ETOOBIG.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "duet/wire.h"
#include "fixture.h"

TestSuite(snapshot, .init = fx_setup, .fini = fx_teardown);

static void rich_state(void)
{
	fx_cluster_up();
	fx_health(1, "pg", DUET_HEALTH_OK, true);
	fx_health(2, "fs", DUET_HEALTH_FAILING, false);
	fx_master(2, 1, DUET_MASTER_FAILOVER);
	fx_master(3, 2, DUET_MASTER_FAILOVER); /* refused: witness */
	fx_step(DUET_STEP_PROMOTE, 2, true);
	fx_operator(DUET_OP_MAINTENANCE_ON, 1, 0);
	fx_sync(1, true);
	fx_traps(2); /* the trap floor's fields, not all zero */
	fx_traps(1);
}

static uint8_t *encode(const struct fsm *f, long *len)
{
	size_t size = fsm_snapshot_size(f);
	cr_assert_gt(size, 0);
	uint8_t *buf = malloc(size);
	*len = fsm_snapshot_encode(f, buf, size);
	cr_assert_eq(*len, (long)size, "encode: %ld, size said %zu", *len, size);
	return buf;
}

Test(snapshot, round_trip)
{
	rich_state();
	long len;
	uint8_t *buf = encode(&fx->fsm, &len);
	struct fsm *g = calloc(1, sizeof(*g));
	cr_assert_eq(fsm_snapshot_decode(buf, (size_t)len, g), 0);
	cr_assert_eq(g->applied_index, fx->fsm.applied_index);
	cr_assert_eq(g->master.node, 2);
	cr_assert_eq(fsm_role_of(g, 1), FSM_ROLE_SYNC_STANDBY);
	cr_assert_eq(g->maintenance, 1);
	cr_assert_eq(g->last_refusal.reason, FSM_REFUSE_WITNESS);
	cr_assert_str_eq(g->last_refusal.why, fx->fsm.last_refusal.why);
	cr_assert_eq(fsm_check_find(g, 2, "fs")->state, DUET_HEALTH_FAILING);
	cr_assert_eq(memcmp(&g->counters, &fx->fsm.counters, sizeof(g->counters)), 0);
	cr_assert_str_eq(g->last_operator.op.why, "planned work");
	long len2;
	uint8_t *buf2 = encode(g, &len2);
	cr_assert_eq(len2, len);
	cr_assert_eq(memcmp(buf, buf2, (size_t)len), 0, "canonical");
	free(buf);
	free(buf2);
	free(g);
}

Test(snapshot, empty_state_round_trip)
{
	long len;
	uint8_t *buf = encode(&fx->fsm, &len);
	struct fsm g;
	memset(&g, 0x5a, sizeof(g));
	cr_assert_eq(fsm_snapshot_decode(buf, (size_t)len, &g), 0);
	cr_assert_eq(g.applied_index, 0);
	cr_assert_eq(g.membership.n, 0);
	free(buf);
}

Test(snapshot, restored_state_carries_on)
{
	rich_state();
	size_t cut = fx->n;
	long len;
	uint8_t *buf = encode(&fx->fsm, &len);
	fx_master(1, 2, DUET_MASTER_SWITCHOVER);
	fx_health(1, "pg", DUET_HEALTH_FAILING, true);
	struct fsm *g = calloc(1, sizeof(*g));
	cr_assert_eq(fsm_snapshot_decode(buf, (size_t)len, g), 0);
	for (size_t i = 0; i < fx->n; i++) { /* the core re-hands entries: stale ones skip */
		struct fsm_result res;
		cr_assert_eq(fsm_apply(g, &fx->entries[i], &res), 0);
		cr_assert_eq(res.outcome == FSM_STALE, i < cut);
	}
	long a, b;
	uint8_t *x = encode(g, &a), *y = encode(&fx->fsm, &b);
	cr_assert_eq(a, b);
	cr_assert_eq(memcmp(x, y, (size_t)a), 0);
	free(x);
	free(y);
	free(buf);
	free(g);
}

Test(snapshot, every_truncation_refused)
{
	rich_state();
	long len;
	uint8_t *buf = encode(&fx->fsm, &len);
	struct fsm *g = calloc(1, sizeof(*g));
	fsm_init(g);
	g->applied_index = 777;
	for (long n = 0; n < len; n++) {
		uint8_t *cut = malloc((size_t)n + 1); /* exact size: ASan sees over-reads */
		memcpy(cut, buf, (size_t)n);
		int rc = fsm_snapshot_decode(cut, (size_t)n, g);
		cr_assert_lt(rc, 0, "truncated to %ld of %ld bytes accepted", n, len);
		cr_assert_eq(g->applied_index, 777, "state changed by a refused snapshot");
		free(cut);
	}
	free(buf);
	free(g);
}

Test(snapshot, every_bit_flip_refused)
{
	rich_state();
	long len;
	uint8_t *buf = encode(&fx->fsm, &len);
	struct fsm *g = calloc(1, sizeof(*g));
	fsm_init(g);
	g->applied_index = 777;
	for (long i = 0; i < len; i++)
		for (int bit = 0; bit < 8; bit++) {
			buf[i] ^= (uint8_t)(1u << bit);
			int rc = fsm_snapshot_decode(buf, (size_t)len, g);
			buf[i] ^= (uint8_t)(1u << bit);
			cr_assert_lt(rc, 0, "flip of bit %d in byte %ld accepted", bit, i);
			cr_assert_eq(g->applied_index, 777);
		}
	cr_assert_eq(fsm_snapshot_decode(buf, (size_t)len, g), 0);
	free(buf);
	free(g);
}

/* Refuses content the crc does not catch (a writer's bug, or a forged crc). */
Test(snapshot, structure_checked_behind_the_crc)
{
	rich_state();
	long len;
	uint8_t *buf = encode(&fx->fsm, &len);
	struct fsm *g = calloc(1, sizeof(*g));
	/* an unknown version with a valid crc */
	buf[4] = FSM_SNAPSHOT_VERSION + 1;
	uint32_t crc = duet_crc32c(0, buf, (size_t)len - 4);
	struct wire_writer w;
	wire_writer_init(&w, buf + len - 4, 4);
	wire_put_u32(&w, crc);
	cr_assert_eq(fsm_snapshot_decode(buf, (size_t)len, g), DUET_EVERSION);
	buf[4] = FSM_SNAPSHOT_VERSION;
	/* trailing byte with a valid crc */
	uint8_t *longer = malloc((size_t)len + 1);
	memcpy(longer, buf, (size_t)len - 4);
	longer[len - 4] = 0;
	wire_writer_init(&w, longer + len - 3, 4);
	wire_put_u32(&w, duet_crc32c(0, longer, (size_t)len - 3));
	cr_assert_eq(fsm_snapshot_decode(longer, (size_t)len + 1, g), DUET_ECORRUPT);
	free(longer);
	free(buf);
	free(g);
}

Test(snapshot, short_buffer)
{
	rich_state();
	size_t size = fsm_snapshot_size(&fx->fsm);
	uint8_t *buf = malloc(size);
	cr_assert_eq(fsm_snapshot_encode(&fx->fsm, buf, size - 1), DUET_ETOOBIG);
	free(buf);
}

/* A store written before the trap floor (version 1: the same layout up to
 * the counters, then the crc) still opens; the floor starts at "nothing
 * waits" and the TRAPS entries after the snapshot set it. */
Test(snapshot, version_1_still_read)
{
	rich_state();
	long len;
	uint8_t *buf = encode(&fx->fsm, &len);
	long v1_len = len - (8 + 8 + 8 + 4); /* no traps fields, no keys */
	buf[4] = 1;
	struct wire_writer w;
	wire_writer_init(&w, buf + v1_len - 4, 4);
	wire_put_u32(&w, duet_crc32c(0, buf, (size_t)v1_len - 4));
	struct fsm *g = calloc(1, sizeof(*g));
	cr_assert_eq(fsm_snapshot_decode(buf, (size_t)v1_len, g), 0);
	cr_assert_eq(g->applied_index, fx->fsm.applied_index);
	cr_assert_eq(g->master.node, fx->fsm.master.node);
	cr_assert_eq(g->traps.first_undelivered, 0);
	cr_assert_eq(fsm_trap_floor(g), g->applied_index);
	free(buf);
	free(g);
}

/* The committed trap keys ride along: they come back as they went, the
 * encoding stays canonical, and keys that are no TRAPS payload, or that
 * carry a payload, are refused even behind a valid crc. */
Test(snapshot, committed_keys_round_trip)
{
	rich_state();
	struct duet_trap t[2];
	memset(t, 0, sizeof(t));
	for (int i = 0; i < 2; i++) {
		t[i].identity[0] = (uint8_t)(i + 1);
		t[i].ordinal = 1;
		t[i].recv_ms = 1000 + (uint64_t)i;
		t[i].receiver = 1;
		t[i].kind = DUET_TRAP_SNMP;
	}
	uint8_t keys[512];
	long klen = duet_traps_encode(t, 2, keys, sizeof(keys));
	cr_assert_gt(klen, 0);
	size_t size = fsm_snapshot_size(&fx->fsm) + (size_t)klen;
	uint8_t *buf = malloc(size), *again = malloc(size);
	cr_assert_eq(fsm_snapshot_encode_keys(&fx->fsm, keys, (uint32_t)klen, buf, size),
		     (long)size);
	struct fsm *g = calloc(1, sizeof(*g));
	const uint8_t *k;
	uint32_t kl;
	cr_assert_eq(fsm_snapshot_decode_keys(buf, size, g, &k, &kl), 0);
	cr_assert_eq(kl, (uint32_t)klen);
	cr_assert_eq(memcmp(k, keys, kl), 0);
	cr_assert_eq(fsm_snapshot_encode_keys(g, k, kl, again, size), (long)size);
	cr_assert_eq(memcmp(buf, again, size), 0, "canonical with keys");
	/* a key with a payload, re-sealed with a valid crc */
	t[1].len = 1;
	t[1].payload = (const uint8_t *)"x";
	uint8_t bad[512];
	long blen = duet_traps_encode(t, 2, bad, sizeof(bad));
	size_t bsize = fsm_snapshot_size(&fx->fsm) + (size_t)blen;
	uint8_t *bbuf = malloc(bsize);
	cr_assert_eq(fsm_snapshot_encode_keys(&fx->fsm, bad, (uint32_t)blen, bbuf, bsize),
		     (long)bsize);
	cr_assert_eq(fsm_snapshot_decode_keys(bbuf, bsize, g, &k, &kl), DUET_ECORRUPT);
	/* a section that is no TRAPS payload */
	memset(bad, 0xee, 16);
	cr_assert_eq(fsm_snapshot_encode_keys(&fx->fsm, bad, 16, bbuf, bsize),
		     (long)(bsize - blen + 16));
	cr_assert_eq(fsm_snapshot_decode_keys(bbuf, bsize - (size_t)blen + 16, g, &k, &kl),
		     DUET_ECORRUPT);
	free(bbuf);
	free(again);
	free(buf);
	free(g);
}
