/* SPDX-License-Identifier: MIT */
/*
 * test_pipe.c - the dedup of DESIGN.md section 5 (traps/pipeline.c).
 *
 * The direct tests drive two pipes by hand through the cases the design
 * names. The simulation runs two data nodes against a model of the log (a
 * leader proposes, entries commit after a random delay or are truncated at
 * a leadership change, each node applies with its own lag), with random
 * receive delays, clock skew, lost forwards, leadership changes and
 * crashes, and checks the section's promise: every trap that reached a node
 * that stayed up is committed, and no trap is committed twice.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "duet/traps_pipe.h"

#define SENDER "10.0.0.9"

/* Checks on paths the simulation runs millions of times: Criterion's
 * --full-stats records every passing cr_assert, which takes minutes. */
#define SIM_CHECK(cond)                                                                            \
	do {                                                                                       \
		if (!(cond))                                                                       \
			cr_assert_fail("failed: %s", #cond);                                       \
	} while (0)

/* The simulation's backlog byte bound (0: the default), and how often the
 * bound held a batch or a forwarded copy back. */
static uint64_t sim_backlog_bytes, sim_held_back;

static struct duet_trap_pipe *pipe_new(uint32_t self)
{
	struct duet_trap_pipe_config c;
	duet_trap_pipe_config_default(&c, self);
	if (sim_backlog_bytes)
		c.backlog_max_bytes = sim_backlog_bytes;
	struct duet_trap_pipe *p;
	SIM_CHECK(duet_trap_pipe_new(&c, &p) == 0);
	return p;
}

static void identity_of(const char *content, uint8_t id[32])
{
	SIM_CHECK(duet_trap_identity(DUET_TRAP_SYSLOG, SENDER, content, strlen(content), id) == 0);
}

static int rx(struct duet_trap_pipe *p, const char *content, uint64_t wall, uint64_t now)
{
	uint8_t id[32];
	identity_of(content, id);
	return duet_trap_pipe_receive(p, DUET_TRAP_SYSLOG, SENDER, id, content,
				      (uint32_t)strlen(content), wall, now, NULL);
}

static uint8_t buf[4 << 20], ack[4 << 20];

/* This pipe's node leads term 1, everything before applied. */
static void lead(struct duet_trap_pipe *p)
{
	struct duet_trap_pipe_role r = {.leader = true, .term = 1, .term_start = 0, .applied = 0};
	duet_trap_pipe_set_role(p, &r, 0);
}

static void follow(struct duet_trap_pipe *p, uint64_t now)
{
	struct duet_trap_pipe_role r = {.leader = false};
	duet_trap_pipe_set_role(p, &r, now);
}

/* Number of traps in a TRAPS payload. */
static uint32_t count_of(const void *b, long len)
{
	struct duet_traps_iter it;
	uint32_t n = 0;
	cr_assert_eq(duet_traps_iter_init(&it, b, (size_t)len, &n), 0);
	return n;
}

Test(pipe, leader_batches_new_traps_and_drops_copies_of_committed_ones)
{
	struct duet_trap_pipe *a = pipe_new(1), *b = pipe_new(2);
	lead(a);
	follow(b, 0);
	cr_assert_eq(rx(a, "link down eth0", 1000, 10), DUET_TRAP_TAKEN);
	cr_assert_eq(rx(b, "link down eth0", 1003, 11), DUET_TRAP_TAKEN);
	long len = duet_trap_pipe_take_batch(a, buf, sizeof buf);
	cr_assert_gt(len, 0);
	cr_assert_eq(count_of(buf, len), 1);
	cr_assert_eq(duet_trap_pipe_take_batch(a, buf + len, sizeof buf - (size_t)len), 0);
	/* the standby's copy waits; the commit matches it away */
	struct duet_trap_pipe_stats st;
	duet_trap_pipe_get_stats(b, &st);
	cr_assert_eq(st.pending, 1);
	cr_assert_eq(duet_trap_pipe_committed(a, 5, buf, (size_t)len), 0);
	cr_assert_eq(duet_trap_pipe_committed(b, 5, buf, (size_t)len), 0);
	duet_trap_pipe_get_stats(b, &st);
	cr_assert_eq(st.pending, 0);
	cr_assert_eq(st.matched_by_commit, 1);
	cr_assert_eq(duet_trap_pipe_take_forward(b, 10000, buf, sizeof buf), 0,
		     "nothing left to forward");
	/* a node that sees the commit before its own copy drops the copy */
	struct duet_trap_pipe *c = pipe_new(2);
	cr_assert_eq(duet_trap_pipe_committed(c, 5, buf, (size_t)len), 0);
	cr_assert_eq(rx(c, "link down eth0", 1900, 40), DUET_TRAP_DUPLICATE);
	duet_trap_pipe_get_stats(c, &st);
	cr_assert_eq(st.pending, 0);
	cr_assert_eq(st.drops[DUET_TRAP_DUPLICATE], 1);
	duet_trap_pipe_free(c);
	duet_trap_pipe_free(a);
	duet_trap_pipe_free(b);
}

Test(pipe, two_identical_traps_inside_the_window_are_two_traps)
{
	struct duet_trap_pipe *a = pipe_new(1), *b = pipe_new(2);
	lead(a);
	cr_assert_eq(rx(a, "disk full /var", 1000, 10), DUET_TRAP_TAKEN);
	cr_assert_eq(rx(a, "disk full /var", 6000, 5010), DUET_TRAP_TAKEN);
	long len = duet_trap_pipe_take_batch(a, buf, sizeof buf);
	cr_assert_eq(count_of(buf, len), 2);
	/* the standby got both copies too: ordinals 1 and 2 match 1 and 2 */
	cr_assert_eq(rx(b, "disk full /var", 1001, 11), DUET_TRAP_TAKEN);
	cr_assert_eq(rx(b, "disk full /var", 6002, 5012), DUET_TRAP_TAKEN);
	cr_assert_eq(duet_trap_pipe_committed(b, 7, buf, (size_t)len), 0);
	struct duet_trap_pipe_stats st;
	duet_trap_pipe_get_stats(b, &st);
	cr_assert_eq(st.pending, 0);
	cr_assert_eq(st.matched_by_commit, 2);
	/* a third copy on the standby is new: forwarded after the delay */
	cr_assert_eq(rx(b, "disk full /var", 9000, 8000), DUET_TRAP_TAKEN);
	cr_assert_eq(duet_trap_pipe_take_forward(b, 8100, buf, sizeof buf), 0, "not due yet");
	len = duet_trap_pipe_take_forward(b, 8200, buf, sizeof buf);
	cr_assert_eq(count_of(buf, len), 1);
	duet_trap_pipe_free(a);
	duet_trap_pipe_free(b);
}

Test(pipe, a_repeat_after_the_window_is_not_a_copy_of_the_first)
{
	/* a trap every 40 s with a 30 s window: each episode starts at
	 * ordinal 1 again, and the receive times keep them apart */
	struct duet_trap_pipe *a = pipe_new(1);
	lead(a);
	cr_assert_eq(rx(a, "fan failed", 1000, 0), DUET_TRAP_TAKEN);
	long len = duet_trap_pipe_take_batch(a, buf, sizeof buf);
	cr_assert_eq(duet_trap_pipe_committed(a, 3, buf, (size_t)len), 0);
	cr_assert_eq(rx(a, "fan failed", 41000, 40000), DUET_TRAP_TAKEN);
	cr_assert_eq(rx(a, "fan failed", 81000, 80000), DUET_TRAP_TAKEN);
	len = duet_trap_pipe_take_batch(a, buf, sizeof buf);
	cr_assert_eq(count_of(buf, len), 2);
	duet_trap_pipe_free(a);
}

Test(pipe, standby_forwards_what_the_log_lacks_and_the_leader_answers_committed_keys)
{
	struct duet_trap_pipe *a = pipe_new(1), *b = pipe_new(2);
	lead(a);
	/* only the standby got this one */
	cr_assert_eq(rx(b, "only on b", 1000, 100), DUET_TRAP_TAKEN);
	long len = duet_trap_pipe_take_forward(b, 300, buf, sizeof buf);
	cr_assert_eq(count_of(buf, len), 1);
	long alen = duet_trap_pipe_forwarded(a, buf, (size_t)len, 301, ack, sizeof ack);
	cr_assert_eq(alen, 0, "nothing committed yet: no answer");
	/* forwarded again before the commit: held once */
	cr_assert_eq(duet_trap_pipe_forwarded(a, buf, (size_t)len, 302, ack, sizeof ack), 0);
	long blen = duet_trap_pipe_take_batch(a, buf + len, sizeof buf - (size_t)len);
	cr_assert_eq(count_of(buf + len, blen), 1);
	cr_assert_eq(duet_trap_pipe_committed(a, 9, buf + len, (size_t)blen), 0);
	/* the standby missed that commit (say it installed a snapshot); the
	 * leader's answer to the next forward drops its copy */
	alen = duet_trap_pipe_forwarded(a, buf, (size_t)len, 1400, ack, sizeof ack);
	cr_assert_gt(alen, 0);
	cr_assert_eq(duet_trap_pipe_ack(b, ack, (size_t)alen), 0);
	struct duet_trap_pipe_stats st;
	duet_trap_pipe_get_stats(b, &st);
	cr_assert_eq(st.pending, 0);
	cr_assert_eq(st.ack_matched, 1);
	duet_trap_pipe_free(a);
	duet_trap_pipe_free(b);
}

Test(pipe, lost_leadership_turns_proposals_into_pending_and_the_new_leader_proposes_them)
{
	struct duet_trap_pipe *a = pipe_new(1), *b = pipe_new(2);
	lead(a);
	cr_assert_eq(rx(a, "x", 1000, 10), DUET_TRAP_TAKEN);
	cr_assert_eq(rx(a, "y", 1000, 10), DUET_TRAP_TAKEN);
	cr_assert_gt(duet_trap_pipe_take_batch(a, buf, sizeof buf), 0);
	cr_assert_eq(rx(b, "y", 1001, 11), DUET_TRAP_TAKEN);
	/* the batch never commits; b leads now */
	follow(a, 50);
	struct duet_trap_pipe_role rb = {.leader = true, .term = 2, .term_start = 8, .applied = 7};
	duet_trap_pipe_set_role(b, &rb, 50);
	struct duet_trap_pipe_stats st;
	duet_trap_pipe_get_stats(a, &st);
	cr_assert_eq(st.pending, 2);
	cr_assert_eq(duet_trap_pipe_take_batch(b, buf, sizeof buf), 0,
		     "not ready: nothing proposed");
	rb.applied = 8; /* the entries of term 1 are applied */
	duet_trap_pipe_set_role(b, &rb, 60);
	long len = duet_trap_pipe_take_batch(b, buf, sizeof buf);
	cr_assert_eq(count_of(buf, len), 1, "b proposes its own copy of y");
	/* a forwards x and y; y is held by b already */
	long flen = duet_trap_pipe_take_forward(a, 250, ack, sizeof ack);
	cr_assert_eq(count_of(ack, flen), 2);
	static uint8_t ans[1 << 16];
	cr_assert_eq(duet_trap_pipe_forwarded(b, ack, (size_t)flen, 251, ans, sizeof ans), 0);
	long len2 = duet_trap_pipe_take_batch(b, buf + len, sizeof buf - (size_t)len);
	cr_assert_eq(count_of(buf + len, len2), 1, "x, forwarded by a");
	duet_trap_pipe_get_stats(b, &st);
	cr_assert_eq(st.forwarded_duplicate, 1);
	duet_trap_pipe_free(a);
	duet_trap_pipe_free(b);
}

Test(pipe, undelivered_entries_bound_compaction_until_delivered)
{
	struct duet_trap_pipe *a = pipe_new(1);
	lead(a);
	cr_assert_eq(rx(a, "one", 1000, 10), DUET_TRAP_TAKEN);
	long l1 = duet_trap_pipe_take_batch(a, buf, sizeof buf);
	cr_assert_eq(rx(a, "two", 1000, 10), DUET_TRAP_TAKEN);
	long l2 = duet_trap_pipe_take_batch(a, buf + l1, sizeof buf - (size_t)l1);
	cr_assert_eq(duet_trap_pipe_committed(a, 10, buf, (size_t)l1), 0);
	cr_assert_eq(duet_trap_pipe_committed(a, 12, buf + l1, (size_t)l2), 0);
	cr_assert_eq(duet_trap_pipe_compact_floor(a, 15), 9);
	struct duet_trap_pipe_entry e;
	cr_assert(duet_trap_pipe_undelivered(a, 0, &e));
	cr_assert_eq(e.index, 10);
	cr_assert_eq(e.n, 1);
	cr_assert_eq(e.traps[0].len, 3);
	cr_assert_eq(memcmp(e.traps[0].payload, "one", 3), 0);
	cr_assert(duet_trap_pipe_undelivered(a, 10, &e));
	cr_assert_eq(e.index, 12);
	/* asked again from the start (a new deliverer): the first one again */
	cr_assert(duet_trap_pipe_undelivered(a, 0, &e));
	cr_assert_eq(e.index, 10);
	cr_assert(duet_trap_pipe_undelivered(a, 11, &e));
	cr_assert_eq(e.index, 12);
	duet_trap_pipe_delivered(a, 10);
	cr_assert_eq(duet_trap_pipe_compact_floor(a, 15), 11);
	duet_trap_pipe_delivered(a, 12);
	cr_assert_eq(duet_trap_pipe_compact_floor(a, 15), 15);
	cr_assert_not(duet_trap_pipe_undelivered(a, 0, &e));
	/* the same entry applied again after a restart is ignored */
	cr_assert_eq(duet_trap_pipe_committed(a, 12, buf + l1, (size_t)l2), 0);
	struct duet_trap_pipe_stats st;
	duet_trap_pipe_get_stats(a, &st);
	cr_assert_eq(st.committed, 2);
	cr_assert_eq(st.committed_repeats, 0);
	duet_trap_pipe_free(a);
}

Test(pipe, limits_refuse_and_count)
{
	struct duet_trap_pipe_config c;
	duet_trap_pipe_config_default(&c, 2);
	c.live_max = 2;
	struct duet_trap_pipe *b;
	cr_assert_eq(duet_trap_pipe_new(&c, &b), 0);
	cr_assert_eq(rx(b, "a", 1, 1), DUET_TRAP_TAKEN);
	cr_assert_eq(rx(b, "b", 1, 1), DUET_TRAP_TAKEN);
	cr_assert_eq(rx(b, "c", 1, 1), DUET_TRAP_LIVE_FULL);
	static char big[DUET_TRAP_MAX_PAYLOAD + 1];
	memset(big, 'x', sizeof big - 1);
	uint8_t id[32] = {1};
	cr_assert_eq(
	    duet_trap_pipe_receive(b, DUET_TRAP_SYSLOG, SENDER, id, big, sizeof big, 1, 1, NULL),
	    DUET_TRAP_TOO_LARGE);
	struct duet_trap_pipe_stats st;
	duet_trap_pipe_get_stats(b, &st);
	cr_assert_eq(st.drops[DUET_TRAP_LIVE_FULL], 1);
	cr_assert_eq(st.drops[DUET_TRAP_TOO_LARGE], 1);
	cr_assert_str_eq(duet_trap_drop_name(DUET_TRAP_BACKLOG_FULL), "backlog_full");
	duet_trap_pipe_free(b);
	c.reforward_ms = c.forward_delay_ms - 1;
	cr_assert_eq(duet_trap_pipe_new(&c, &b), DUET_EINVAL);
}

/* Traps of TRAP_BYTES encoded bytes each (55 fixed + the sender + the
 * payload) against a byte bound that holds BOUND_TRAPS of them. */
#define TRAP_PAYLOAD 1000
#define TRAP_BYTES   (55 + sizeof SENDER - 1 + TRAP_PAYLOAD)
#define BOUND_BYTES  70000u
#define BOUND_TRAPS  (BOUND_BYTES / TRAP_BYTES)

static int rx_sized(struct duet_trap_pipe *p, const char *tag, int i, uint64_t now)
{
	static char body[TRAP_PAYLOAD + 1];
	memset(body, '.', TRAP_PAYLOAD);
	int len = snprintf(body, sizeof body, "%s %d ", tag, i);
	body[len] = '.'; /* every payload TRAP_PAYLOAD bytes */
	uint8_t id[32];
	SIM_CHECK(duet_trap_identity(DUET_TRAP_SYSLOG, SENDER, body, TRAP_PAYLOAD, id) == 0);
	return duet_trap_pipe_receive(p, DUET_TRAP_SYSLOG, SENDER, id, body, TRAP_PAYLOAD, now, now,
				      NULL);
}

static struct duet_trap_pipe *pipe_bounded(uint32_t self)
{
	struct duet_trap_pipe_config c;
	duet_trap_pipe_config_default(&c, self);
	c.backlog_max_bytes = BOUND_BYTES;
	struct duet_trap_pipe *p;
	cr_assert_eq(duet_trap_pipe_new(&c, &p), 0);
	return p;
}

static struct duet_trap_pipe_stats stats_of(const struct duet_trap_pipe *p)
{
	struct duet_trap_pipe_stats st;
	duet_trap_pipe_get_stats(p, &st);
	return st;
}

Test(pipe, backlog_byte_bound_refuses_until_delivery_and_counts)
{
	struct duet_trap_pipe *a = pipe_bounded(1);
	lead(a);
	int i = 0;
	while (rx_sized(a, "a", i, 10) == DUET_TRAP_TAKEN)
		i++;
	/* the bound counts the bytes each trap will hold in the log */
	cr_assert_eq(i, BOUND_TRAPS, "taken %d, bound holds %zu", i, (size_t)BOUND_TRAPS);
	struct duet_trap_pipe_stats st = stats_of(a);
	cr_assert_eq(st.drops[DUET_TRAP_BACKLOG_FULL], 1);
	cr_assert(st.backlog_full);
	cr_assert_eq(st.live_bytes, BOUND_TRAPS * TRAP_BYTES);
	long len = duet_trap_pipe_take_batch(a, buf, sizeof buf);
	cr_assert_eq(count_of(buf, len), BOUND_TRAPS);
	cr_assert_leq((uint64_t)len, BOUND_BYTES);
	cr_assert_eq(duet_trap_pipe_committed(a, 1, buf, (size_t)len), 0);
	st = stats_of(a);
	cr_assert_eq(st.undelivered_bytes, (uint64_t)len);
	cr_assert_eq(st.live_bytes, 0);
	/* committed and not delivered: still full, every new trap refused */
	cr_assert_eq(rx_sized(a, "a", i, 20), DUET_TRAP_BACKLOG_FULL);
	cr_assert_eq(rx_sized(a, "a", i + 1, 20), DUET_TRAP_BACKLOG_FULL);
	cr_assert_eq(duet_trap_pipe_take_batch(a, buf, sizeof buf), 0,
		     "a refused trap is proposed");
	st = stats_of(a);
	cr_assert_eq(st.drops[DUET_TRAP_BACKLOG_FULL], 3);
	cr_assert_eq(st.taken, BOUND_TRAPS);

	/* a standby's copy the full leader cannot take: the standby keeps it */
	struct duet_trap_pipe *b = pipe_bounded(2);
	cr_assert_eq(rx_sized(b, "b", 0, 20), DUET_TRAP_TAKEN);
	long flen = duet_trap_pipe_take_forward(b, 1000, buf, sizeof buf);
	cr_assert_gt(flen, 0);
	cr_assert_eq(duet_trap_pipe_forwarded(a, buf, (size_t)flen, 1000, ack, sizeof ack), 0);
	cr_assert_eq(stats_of(a).forwarded_full, 1);
	cr_assert_eq(duet_trap_pipe_outbox(a), 0);
	cr_assert_eq(stats_of(b).pending, 1);

	/* the sink confirmed: the bound is released, new traps are taken */
	duet_trap_pipe_delivered(a, 1);
	st = stats_of(a);
	cr_assert_not(st.backlog_full);
	cr_assert_eq(st.undelivered_bytes, 0);
	cr_assert_eq(rx_sized(a, "a", i, 30), DUET_TRAP_TAKEN);
	flen = duet_trap_pipe_take_forward(b, 3000, buf, sizeof buf);
	cr_assert_gt(flen, 0, "the standby forwards its copy again");
	cr_assert_eq(duet_trap_pipe_forwarded(a, buf, (size_t)flen, 3000, ack, sizeof ack), 0);
	cr_assert_eq(duet_trap_pipe_outbox(a), 2);
	st = stats_of(a);
	cr_assert_eq(st.drops[DUET_TRAP_BACKLOG_FULL], 3, "counted once each");
	duet_trap_pipe_free(a);
	duet_trap_pipe_free(b);
}

Test(pipe, a_new_leader_proposes_its_pending_traps_only_within_the_byte_bound)
{
	struct duet_trap_pipe *a = pipe_bounded(1), *b = pipe_bounded(2);
	lead(a);
	for (int i = 0; i < (int)BOUND_TRAPS; i++)
		cr_assert_eq(rx_sized(a, "a", i, 10), DUET_TRAP_TAKEN);
	/* the standby took these while its backlog was empty */
	for (int i = 0; i < 30; i++)
		cr_assert_eq(rx_sized(b, "b", i, 10), DUET_TRAP_TAKEN);
	long len = duet_trap_pipe_take_batch(a, buf, sizeof buf);
	cr_assert_eq(duet_trap_pipe_committed(a, 1, buf, (size_t)len), 0);
	cr_assert_eq(duet_trap_pipe_committed(b, 1, buf, (size_t)len), 0);
	cr_assert_eq(rx_sized(b, "b", 30, 20), DUET_TRAP_BACKLOG_FULL, "the standby's bound too");
	/* b leads: what it holds waits for room instead of passing the bound */
	struct duet_trap_pipe_role r = {.leader = true, .term = 2, .term_start = 1, .applied = 1};
	duet_trap_pipe_set_role(b, &r, 20);
	cr_assert(duet_trap_pipe_proposing(b));
	cr_assert_eq(duet_trap_pipe_outbox(b), 30);
	cr_assert_eq(duet_trap_pipe_take_batch(b, buf, sizeof buf), 0);
	cr_assert_eq(stats_of(b).backlog_waits, 1);
	duet_trap_pipe_delivered(b, 1);
	len = duet_trap_pipe_take_batch(b, buf, sizeof buf);
	cr_assert_eq(count_of(buf, len), 30);
	/* in flight counts against the bound: room for what is left only */
	int more = 0;
	while (rx_sized(b, "c", more, 30) == DUET_TRAP_TAKEN)
		more++;
	cr_assert_eq(more, (int)BOUND_TRAPS - 30);
	duet_trap_pipe_free(a);
	duet_trap_pipe_free(b);
}

Test(pipe, damaged_payloads_are_refused_whole)
{
	struct duet_trap_pipe *a = pipe_new(1);
	lead(a);
	cr_assert_eq(rx(a, "p", 1, 1), DUET_TRAP_TAKEN);
	long len = duet_trap_pipe_take_batch(a, buf, sizeof buf);
	cr_assert_lt(duet_trap_pipe_committed(a, 1, buf, (size_t)len - 1), 0);
	cr_assert_lt(duet_trap_pipe_forwarded(a, buf, (size_t)len - 1, 1, ack, sizeof ack), 0);
	cr_assert_lt(duet_trap_pipe_ack(a, buf, 3), 0);
	struct duet_trap_pipe_stats st;
	duet_trap_pipe_get_stats(a, &st);
	cr_assert_eq(st.committed, 0);
	cr_assert_eq(st.inflight, 1);
	duet_trap_pipe_free(a);
}

/* ---- simulation ---------------------------------------------------------- */

#define SIM_TRAPS 3000
#define MSGQ      4096

struct sim_entry {
	uint8_t *data;
	size_t len;
	uint64_t commit_at;
	bool committed;
};

struct sim_msg {
	uint64_t at;
	int to;
	bool is_ack;
	uint8_t *data;
	size_t len;
};

struct sim {
	uint64_t rng, now;
	struct duet_trap_pipe *p[2];
	bool up[2];
	int64_t skew[2];
	size_t applied[2];
	int leader;                /* -1: none */
	uint64_t term, term_start; /* the leader's term; entries before it are resolved */
	uint64_t blip_until;       /* the leader has no lease until then (same term) */
	unsigned blip_pct;
	struct sim_entry *log;
	size_t n_log, cap_log, n_committed;
	struct sim_msg q[MSGQ];
	size_t nq;
	/* per trap: reached a node (and when), received by node i */
	bool got[SIM_TRAPS][2];
	uint64_t pending_rx[SIM_TRAPS][2]; /* receive time, 0: none scheduled */
	bool crashed_before_commit[SIM_TRAPS];
	unsigned lose_pct, crash_every;
	/* the sink (with a byte bound): DELIVERED covers the committed entries
	 * up to `delivered`, except during the outage [outage_from, outage_to) */
	bool sink;
	uint64_t outage_from, outage_to;
	size_t delivered;
	uint64_t refused;
};

static uint64_t rnd(struct sim *s)
{
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 7;
	s->rng ^= s->rng << 17;
	return s->rng;
}

static unsigned pct(struct sim *s)
{
	return (unsigned)(rnd(s) % 100);
}

static void content_of(int j, char *out, size_t cap)
{
	snprintf(out, cap, "trap number %d from the simulated device", j);
}

static int trap_of(const struct duet_trap *t)
{
	int j = -1;
	char text[128];
	snprintf(text, sizeof text, "%.*s", (int)t->len, (const char *)t->payload);
	SIM_CHECK(sscanf(text, "trap number %d", &j) == 1);
	return j;
}

static void send_msg(struct sim *s, int to, bool is_ack, const uint8_t *data, size_t len)
{
	if (s->nq == MSGQ || pct(s) < 10) /* lost */
		return;
	struct sim_msg *m = &s->q[s->nq++];
	m->at = s->now + 1 + rnd(s) % 3;
	m->to = to;
	m->is_ack = is_ack;
	m->data = malloc(len);
	memcpy(m->data, data, len);
	m->len = len;
}

static void set_roles(struct sim *s)
{
	for (int i = 0; i < 2; i++) {
		if (!s->up[i])
			continue;
		struct duet_trap_pipe_role r = {
		    .leader = s->leader == i && s->now >= s->blip_until,
		    .term = s->term,
		    .term_start = s->term_start,
		    .applied = s->applied[i],
		};
		duet_trap_pipe_set_role(s->p[i], &r, s->now);
	}
}

/* A leadership change: the uncommitted tail commits (the new leader had
 * it) or is truncated, at random. */
static void change_leader(struct sim *s, int to)
{
	bool keep = pct(s) < 50;
	size_t n = s->n_log;
	for (size_t i = s->n_committed; i < n; i++)
		if (keep) {
			s->log[i].committed = true;
			s->n_committed = i + 1;
		} else {
			free(s->log[i].data);
			s->n_log--;
		}
	s->leader = to;
	/* the new leader's first entry commits everything before it */
	s->term++;
	s->term_start = s->n_log;
}

static void crash(struct sim *s, int i)
{
	duet_trap_pipe_free(s->p[i]);
	s->p[i] = pipe_new((uint32_t)i + 1);
	s->applied[i] = 0; /* replays the whole log when it is back */
	/* and forgets its copies: a trap it alone still holds after this is
	 * one only the other node may lose in its own crash (lost_ok) */
	for (int j = 0; j < SIM_TRAPS; j++) {
		s->pending_rx[j][i] = 0;
		s->got[j][i] = false;
	}
	if (s->leader == i)
		change_leader(s, 1 - i);
}

static void sim_step(struct sim *s, int emit_upto)
{
	s->now++;
	/* emit: a new trap every other ms, sent to both nodes */
	int j = (int)(s->now / 2);
	if (s->now % 2 == 0 && j < emit_upto)
		for (int i = 0; i < 2; i++)
			if (s->up[i] && pct(s) >= s->lose_pct)
				s->pending_rx[j][i] = s->now + rnd(s) % 4;
	/* receive */
	for (int t = j - 4 < 0 ? 0 : j - 4; t <= j && t < SIM_TRAPS; t++)
		for (int i = 0; i < 2; i++)
			if (s->pending_rx[t][i] && s->pending_rx[t][i] <= s->now && s->up[i]) {
				char c[96];
				content_of(t, c, sizeof c);
				s->pending_rx[t][i] = 0;
				int r = rx(s->p[i], c,
					   (uint64_t)(1700000000000 + (int64_t)s->now + s->skew[i]),
					   s->now);
				SIM_CHECK(r == DUET_TRAP_TAKEN || r == DUET_TRAP_DUPLICATE ||
					  (s->sink && r == DUET_TRAP_BACKLOG_FULL));
				/* a refused copy is no promise: not "reached" */
				if (r == DUET_TRAP_BACKLOG_FULL)
					s->refused++;
				else
					s->got[t][i] = true;
			}
	/* the leader proposes */
	if (s->leader >= 0) {
		long len;
		while ((len = duet_trap_pipe_take_batch(s->p[s->leader], buf, sizeof buf)) > 0) {
			if (s->n_log == s->cap_log) {
				s->cap_log = s->cap_log ? s->cap_log * 2 : 256;
				s->log = realloc(s->log, s->cap_log * sizeof *s->log);
			}
			struct sim_entry *e = &s->log[s->n_log++];
			e->data = malloc((size_t)len);
			memcpy(e->data, buf, (size_t)len);
			e->len = (size_t)len;
			/* now and then a slow commit: forwards race with proposals */
			e->commit_at = s->now + 1 + (pct(s) < 3 ? 400 : rnd(s) % 5);
			e->committed = false;
			duet_trap_pipe_batch_proposed(s->p[s->leader], s->n_log);
		}
		SIM_CHECK(len >= 0);
	}
	/* the byte bound holds for what the log keeps for the sink */
	if (s->sink) {
		size_t held = 0;
		for (size_t i = s->delivered; i < s->n_log; i++)
			held += s->log[i].len;
		if (held > sim_backlog_bytes)
			cr_assert_fail("at %" PRIu64 " ms the log holds %zu bytes after the last "
				       "DELIVERED, over the bound",
				       s->now, held);
	}
	/* commit in order */
	while (s->n_committed < s->n_log && s->log[s->n_committed].commit_at <= s->now)
		s->log[s->n_committed++].committed = true;
	/* apply, each node with its own lag */
	for (int i = 0; i < 2; i++)
		while (s->up[i] && s->applied[i] < s->n_committed && pct(s) < 70) {
			struct sim_entry *e = &s->log[s->applied[i]];
			s->applied[i]++;
			SIM_CHECK((duet_trap_pipe_committed(s->p[i], s->applied[i], e->data,
							    e->len)) == 0);
		}
	/* the sink confirms what is committed, but for the outage; each node
	 * applies the DELIVERED after the entries it covers */
	if (s->sink && (s->now < s->outage_from || s->now >= s->outage_to) && s->now % 20 == 0)
		s->delivered = s->n_committed;
	for (int i = 0; s->sink && i < 2; i++)
		if (s->up[i])
			duet_trap_pipe_delivered(
			    s->p[i], s->delivered < s->applied[i] ? s->delivered : s->applied[i]);
	/* standbys forward to the leader */
	for (int i = 0; i < 2; i++) {
		if (!s->up[i] || s->leader == i || s->leader < 0)
			continue;
		long len;
		while ((len = duet_trap_pipe_take_forward(s->p[i], s->now, buf, sizeof buf)) > 0)
			send_msg(s, s->leader, false, buf, (size_t)len);
		SIM_CHECK(len >= 0);
	}
	/* deliver messages */
	for (size_t k = 0; k < s->nq;) {
		struct sim_msg *m = &s->q[k];
		if (m->at > s->now) {
			k++;
			continue;
		}
		if (s->up[m->to]) {
			if (m->is_ack) {
				SIM_CHECK((duet_trap_pipe_ack(s->p[m->to], m->data, m->len)) == 0);
			} else if (s->leader == m->to && duet_trap_pipe_proposing(s->p[m->to])) {
				/* (a leader that does not propose drops it, as trapd
				 * does; the standby forwards it again) */
				long alen = duet_trap_pipe_forwarded(s->p[m->to], m->data, m->len,
								     s->now, ack, sizeof ack);
				SIM_CHECK(alen >= 0);
				if (alen > 0)
					send_msg(s, 1 - m->to, true, ack, (size_t)alen);
			}
		}
		free(m->data);
		s->q[k] = s->q[--s->nq];
	}
	set_roles(s);
}

static void sim_run_sink(uint64_t seed, unsigned lose_pct, unsigned change_every, bool crashes,
			 unsigned blip_pct, bool sink, uint64_t *refused)
{
	struct sim *s = calloc(1, sizeof *s);
	s->sink = sink;
	s->outage_from = SIM_TRAPS / 3;
	s->outage_to = SIM_TRAPS * 3 / 2;
	s->rng = seed * 2654435761u + 1;
	s->lose_pct = lose_pct;
	s->blip_pct = blip_pct;
	s->term = 1;
	for (int i = 0; i < 2; i++) {
		s->p[i] = pipe_new((uint32_t)i + 1);
		s->up[i] = true;
		s->skew[i] = (int64_t)(rnd(s) % 2000) - 1000; /* +-1 s */
	}
	s->leader = 0;
	set_roles(s);
	/* which traps only a crashed node had at its crash: may be lost */
	static bool lost_ok[SIM_TRAPS];
	memset(lost_ok, 0, sizeof lost_ok);
	while (s->now < SIM_TRAPS * 2 + 200) {
		if (change_every && rnd(s) % change_every == 0 && s->up[0] && s->up[1])
			change_leader(s, s->leader < 0 ? 0 : 1 - s->leader);
		if (s->blip_pct && s->now >= s->blip_until && rnd(s) % 1000 < s->blip_pct)
			s->blip_until = s->now + 1 + rnd(s) % 30;
		if (crashes && s->now % 1500 == 700 && s->up[0] && s->up[1]) {
			int victim = s->leader;
			/* what only the victim holds, uncommitted, may be lost */
			for (int t = 0; t < SIM_TRAPS; t++)
				if (s->got[t][victim] && !s->got[t][1 - victim])
					lost_ok[t] = true;
			crash(s, victim);
			s->up[victim] = false;
		}
		if (crashes && s->now % 1500 == 1100)
			for (int i = 0; i < 2; i++)
				s->up[i] = true;
		sim_step(s, SIM_TRAPS);
	}
	/* quiesce: everyone up, one leader, until nothing is live anywhere */
	for (int i = 0; i < 2; i++)
		s->up[i] = true;
	if (s->leader < 0)
		s->leader = 0;
	s->blip_pct = 0;
	for (int k = 0; k < 20000; k++) {
		sim_step(s, SIM_TRAPS);
		struct duet_trap_pipe_stats a, b;
		duet_trap_pipe_get_stats(s->p[0], &a);
		duet_trap_pipe_get_stats(s->p[1], &b);
		if (!a.outbox && !a.inflight && !a.pending && !b.outbox && !b.inflight &&
		    !b.pending && s->n_committed == s->n_log && s->applied[0] == s->n_committed &&
		    s->applied[1] == s->n_committed)
			break;
	}
	/* the committed log: every trap at most once, and every trap that
	 * reached a node that stayed up exactly once */
	static int times[SIM_TRAPS];
	memset(times, 0, sizeof times);
	for (size_t i = 0; i < s->n_committed; i++) {
		struct duet_traps_iter it;
		struct duet_trap t;
		SIM_CHECK(duet_traps_iter_init(&it, s->log[i].data, s->log[i].len, NULL) == 0);
		while (duet_traps_next(&it, &t) == 1)
			times[trap_of(&t)]++;
	}
	int lost = 0, dup = 0, unreached = 0;
	for (int t = 0; t < SIM_TRAPS; t++) {
		bool reached = s->got[t][0] || s->got[t][1];
		if (!reached)
			unreached++;
		if (times[t] > 1)
			dup++;
		if (reached && times[t] == 0 && !lost_ok[t])
			lost++;
	}
	cr_assert_eq(dup, 0, "seed %" PRIu64 ": %d traps committed twice", seed, dup);
	cr_assert_eq(lost, 0, "seed %" PRIu64 ": %d traps lost", seed, lost);
	for (int i = 0; i < 2; i++) {
		struct duet_trap_pipe_stats st;
		duet_trap_pipe_get_stats(s->p[i], &st);
		cr_assert_eq(st.committed_repeats, 0);
		sim_held_back += st.backlog_waits + st.forwarded_full;
		duet_trap_pipe_free(s->p[i]);
	}
	for (size_t i = 0; i < s->n_log; i++)
		free(s->log[i].data);
	for (size_t k = 0; k < s->nq; k++)
		free(s->q[k].data);
	free(s->log);
	if (refused)
		*refused += s->refused;
	free(s);
	(void)unreached;
}

static void sim_run(uint64_t seed, unsigned lose_pct, unsigned change_every, bool crashes,
		    unsigned blip_pct)
{
	sim_run_sink(seed, lose_pct, change_every, crashes, blip_pct, false, NULL);
}

Test(pipe_sim, both_nodes_receive_everything_with_leadership_changes)
{
	for (uint64_t seed = 1; seed <= 20; seed++)
		sim_run(seed, 0, 700, false, 0);
}

Test(pipe_sim, each_node_misses_some_traps)
{
	for (uint64_t seed = 100; seed <= 120; seed++)
		sim_run(seed, 20, 900, false, 0);
}

Test(pipe_sim, the_leader_crashes_and_comes_back_empty)
{
	for (uint64_t seed = 200; seed <= 220; seed++)
		sim_run(seed, 10, 0, true, 0);
}

Test(pipe_sim, the_leader_loses_its_lease_for_a_moment_with_batches_in_flight)
{
	/* the batches proposed before the blip commit after it: proposing
	 * them again would commit them twice */
	for (uint64_t seed = 300; seed <= 320; seed++)
		sim_run(seed, 5, 1500, false, 8);
}

Test(pipe_sim, a_sink_outage_fills_the_byte_bound_with_leadership_changes_and_crashes)
{
	/* ~650 traps of the simulated device fill 70000 bytes; the outage
	 * lasts ~1100 traps: copies are refused, the rest commits once, and
	 * what a node took is committed even when a new leader must hold its
	 * pending copies back for the bound */
	sim_backlog_bytes = 70000;
	sim_held_back = 0;
	uint64_t refused = 0;
	for (uint64_t seed = 400; seed <= 410; seed++)
		sim_run_sink(seed, 10, 700, false, 0, true, &refused);
	for (uint64_t seed = 420; seed <= 430; seed++)
		sim_run_sink(seed, 10, 0, true, 0, true, &refused);
	sim_backlog_bytes = 0;
	cr_assert_gt(refused, 0, "the bound was never reached");
	cr_assert_gt(sim_held_back, 0, "no batch nor forwarded copy was held back");
}
