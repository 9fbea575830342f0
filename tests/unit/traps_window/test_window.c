/* SPDX-License-Identifier: MIT */
/*
 * test_window.c - the trap identity and the ordinal of copies (traps.h):
 * episodes, two nodes agreeing on (identity, ordinal), the sweep of expired
 * identities, and the bound.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "duet/entry.h"
#include "duet/traps.h"

static void id_of(const char *sender, const char *content, uint8_t *out)
{
	cr_assert_eq(duet_trap_identity(DUET_TRAP_SYSLOG, sender, content, strlen(content), out),
		     0);
}

Test(identity, depends_on_kind_sender_and_content_only)
{
	uint8_t a[32], b[32], c[32], d[32], e[32];
	id_of("10.0.0.5", "link down eth1", a);
	id_of("10.0.0.5", "link down eth1", b);
	id_of("10.0.0.6", "link down eth1", c);
	id_of("10.0.0.5", "link down eth2", d);
	cr_assert_eq(duet_trap_identity(DUET_TRAP_SNMP, "10.0.0.5", "link down eth1", 14, e), 0);
	cr_assert(memcmp(a, b, 32) == 0, "same trap, same identity");
	cr_assert(memcmp(a, c, 32) != 0, "another sender");
	cr_assert(memcmp(a, d, 32) != 0, "other content");
	cr_assert(memcmp(a, e, 32) != 0, "another kind");
	/* the lengths are hashed: moving a byte from sender to content changes it */
	uint8_t f[32], g[32];
	cr_assert_eq(duet_trap_identity(1, "ab", "c", 1, f), 0);
	cr_assert_eq(duet_trap_identity(1, "a", "bc", 2, g), 0);
	cr_assert(memcmp(f, g, 32) != 0);
	char big[DUET_TRAP_SENDER_MAX + 2];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = 0;
	cr_assert_eq(duet_trap_identity(1, big, "c", 1, f), DUET_EINVAL);
}

Test(window, ordinals_count_copies_within_an_episode)
{
	struct duet_trap_window *w;
	cr_assert_eq(duet_trap_window_new(30000, 1000, &w), 0);
	uint8_t id[32];
	id_of("10.0.0.5", "fan failed", id);
	uint32_t ord = 0;
	/* repeated every 20 s: one episode, 1, 2, 3 (a sliding window would
	 * give 1, 2, 2 and lose the third to the second) */
	uint64_t t[] = {1000, 21000, 41000, 61000};
	for (uint32_t i = 0; i < 4; i++) {
		cr_assert_eq(duet_trap_window_count(w, id, t[i], &ord), 0);
		cr_assert_eq(ord, i + 1, "copy %u at %llu: ordinal %u", i, (unsigned long long)t[i],
			     ord);
	}
	/* silence for longer than the window: a new episode */
	cr_assert_eq(duet_trap_window_count(w, id, 61000 + 30001, &ord), 0);
	cr_assert_eq(ord, 1);
	/* exactly window_ms later still belongs to the episode */
	cr_assert_eq(duet_trap_window_count(w, id, 61000 + 30001 + 30000, &ord), 0);
	cr_assert_eq(ord, 2);
	duet_trap_window_free(w);
}

Test(window, two_nodes_agree_on_identity_and_ordinal)
{
	struct duet_trap_window *a, *b;
	cr_assert_eq(duet_trap_window_new(30000, 1000, &a), 0);
	cr_assert_eq(duet_trap_window_new(30000, 1000, &b), 0);
	uint8_t x[32], y[32];
	id_of("10.0.0.5", "disk full /var", x);
	id_of("10.0.0.7", "disk full /var", y);
	/* the same stream reaches both nodes, a few ms apart, interleaved with
	 * another sender's trap */
	uint32_t oa, ob;
	for (uint32_t i = 0; i < 5; i++) {
		uint64_t t = 1000 + 7000u * i;
		cr_assert_eq(duet_trap_window_count(a, x, t, &oa), 0);
		cr_assert_eq(duet_trap_window_count(b, x, t + 3, &ob), 0);
		cr_assert_eq(oa, ob, "copy %u: node a says %u, node b %u", i, oa, ob);
		cr_assert_eq(duet_trap_window_count(a, y, t + 1, &oa), 0);
		cr_assert_eq(duet_trap_window_count(b, y, t + 5, &ob), 0);
		cr_assert_eq(oa, ob);
		cr_assert_eq(oa, i + 1);
	}
	duet_trap_window_free(a);
	duet_trap_window_free(b);
}

Test(window, expired_identities_are_swept_and_the_bound_holds)
{
	struct duet_trap_window *w;
	cr_assert_eq(duet_trap_window_new(1000, 100, &w), 0);
	uint8_t id[32];
	uint32_t ord;
	char content[32];
	/* 100 live identities: the bound */
	for (int i = 0; i < 100; i++) {
		snprintf(content, sizeof content, "trap %d", i);
		id_of("s", content, id);
		cr_assert_eq(duet_trap_window_count(w, id, 5000, &ord), 0, "identity %d", i);
		cr_assert_eq(ord, 1);
	}
	snprintf(content, sizeof content, "one too many");
	id_of("s", content, id);
	cr_assert_eq(duet_trap_window_count(w, id, 5000, &ord), DUET_EBUSY);
	/* a known identity is still counted while full */
	id_of("s", "trap 7", id);
	cr_assert_eq(duet_trap_window_count(w, id, 5500, &ord), 0);
	cr_assert_eq(ord, 2);
	/* later, every one of them has expired: new identities fit again (one
	 * every 20 ms in a 1 s window: about 50 live at a time) and the sweep
	 * keeps the table small */
	for (int i = 0; i < 1000; i++) {
		snprintf(content, sizeof content, "later %d", i);
		id_of("s", content, id);
		cr_assert_eq(duet_trap_window_count(w, id, 10000 + 20u * (uint64_t)i, &ord), 0,
			     "later identity %d", i);
		cr_assert_eq(ord, 1);
	}
	cr_assert_leq(duet_trap_window_size(w), 200, "expired identities were swept: %zu",
		      duet_trap_window_size(w));
	duet_trap_window_free(w);
}

Test(window, a_full_table_is_swept_at_most_every_eighth_of_the_window)
{
	/* window 1000 ms, 100 identities: 50 seen at 0 ms, 50 at 900 ms */
	struct duet_trap_window *w;
	cr_assert_eq(duet_trap_window_new(1000, 100, &w), 0);
	uint8_t id[32];
	uint32_t ord;
	char content[32];
	for (int i = 0; i < 100; i++) {
		snprintf(content, sizeof content, "trap %d", i);
		id_of("s", content, id);
		cr_assert_eq(duet_trap_window_count(w, id, i < 50 ? 0 : 900, &ord), 0);
	}
	id_of("s", "new", id);
	/* at 950 all 100 are live: refused, and no sweep before 950 + 125 */
	cr_assert_eq(duet_trap_window_count(w, id, 950, &ord), DUET_EBUSY);
	/* at 1010 the first 50 have expired, but the table is not swept yet */
	cr_assert_eq(duet_trap_window_count(w, id, 1010, &ord), DUET_EBUSY);
	/* at 1080 it is, and the new identity fits */
	cr_assert_eq(duet_trap_window_count(w, id, 1080, &ord), 0);
	cr_assert_eq(ord, 1);
	cr_assert_leq(duet_trap_window_size(w), 51);
	duet_trap_window_free(w);
}

/* A restarted node's seeds (the copies the log says it counted before)
 * may come after it counted copies itself: they go in front of its own. */
Test(window, seeds_after_own_copies_count_in_front_of_them)
{
	struct duet_trap_window *w;
	cr_assert_eq(duet_trap_window_new(30000, 1000, &w), 0);
	uint8_t id[32];
	uint32_t ord = 0;
	id_of("10.0.0.5", "fan failed", id);
	/* copies 1 and 2 here at 100 s and 101 s, then seeds of 1..3 (the
	 * last at 95 s, within the window of the first own copy) */
	cr_assert_eq(duet_trap_window_count(w, id, 100000, &ord), 0);
	cr_assert_eq(duet_trap_window_count(w, id, 101000, &ord), 0);
	cr_assert_eq(ord, 2);
	for (uint32_t k = 1; k <= 3; k++) {
		struct duet_trap_window_moved m;
		cr_assert_eq(duet_trap_window_seed(w, id, k, 89000 + 3000 * k, &m), 0);
		/* the own copies, 1..2 at first, move up by one each time */
		cr_assert_eq(m.by, 1);
		cr_assert_eq(m.first, k);
		cr_assert_eq(m.last, k + 1);
	}
	cr_assert_eq(duet_trap_window_seed(w, id, 2, 92000, NULL), 0, "a seed applied again");
	cr_assert_eq(duet_trap_window_count(w, id, 102000, &ord), 0);
	cr_assert_eq(ord, 6, "3 seeded + 2 own before it: got %u", ord);
	/* a seed of an episode that ended before the own copies: ignored */
	uint8_t other[32];
	id_of("10.0.0.5", "psu failed", other);
	cr_assert_eq(duet_trap_window_count(w, other, 100000, &ord), 0);
	cr_assert_eq(duet_trap_window_seed(w, other, 4, 100000 - 30001, NULL), 0);
	cr_assert_eq(duet_trap_window_count(w, other, 100500, &ord), 0);
	cr_assert_eq(ord, 2);
	/* seeds before any own copy: the highest, then own copies on top */
	uint8_t third[32];
	id_of("10.0.0.5", "disk failed", third);
	cr_assert_eq(duet_trap_window_seed(w, third, 2, 1000, NULL), 0);
	cr_assert_eq(duet_trap_window_seed(w, third, 1, 500, NULL), 0);
	cr_assert_eq(duet_trap_window_count(w, third, 20000, &ord), 0);
	cr_assert_eq(ord, 3);
	duet_trap_window_free(w);
}

Test(window, refuses_bad_arguments)
{
	struct duet_trap_window *w = NULL;
	cr_assert_eq(duet_trap_window_new(0, 100, &w), DUET_EINVAL);
	cr_assert_eq(duet_trap_window_new(100, 1, &w), DUET_EINVAL);
	cr_assert_null(w);
}
