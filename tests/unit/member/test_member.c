/* SPDX-License-Identifier: MIT */
/*
 * test_member.c - the driver's contract (member.h), on three real raft
 * cores and the real fsm, each under its own struct member. The disk and the
 * network are fakes of this file (the contract is about when the driver
 * uses them): persist_start() holds the update until the test lets it land
 * (a stalled disk), send() queues encoded messages that pump() delivers.
 *
 * Every node checks, on every message it sends and every entry it applies,
 * what the driver promises: a granted vote or an append ack leaves only for
 * what is durable (msgs_after only after the write), and an entry is applied
 * only once it is durable here.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duet/entry.h"
#include "duet/member.h"

#define N_NODES   3
#define MAX_SNAPS 64

struct qmsg {
	uint32_t to;
	uint8_t *buf;
	size_t len;
};

struct node {
	uint32_t id;
	struct raft *r;
	struct fsm fsm;
	struct member m;
	bool stalled;       /* the disk holds writes until unstalled */
	bool write_started; /* persist_start() was called, not yet landed */
	/* what the fake disk holds durably */
	uint64_t durable_term, durable_last, durable_snap;
	uint32_t durable_vote;
	/* what the node was seen doing */
	uint64_t sent_while_writing;
	uint64_t acks_sent; /* successful APPEND_RESP */
	uint64_t applied;
	uint64_t snaps[MAX_SNAPS], keys_asked[MAX_SNAPS];
	size_t n_snaps, n_keys_asked;
	char violation[256];
};

static struct world {
	struct node n[N_NODES + 1];
	uint64_t now;
	struct qmsg *q;
	size_t qn, qcap;
} * w;

static void violate(struct node *n, const char *fmt, uint64_t a, uint64_t b)
{
	if (!n->violation[0])
		snprintf(n->violation, sizeof n->violation, fmt, a, b);
}

/* ---- the driver's ops ---------------------------------------------------- */

static void op_send(void *ctx, const struct raft_msg *msgs, size_t k)
{
	struct node *n = ctx;
	for (size_t i = 0; i < k; i++) {
		const struct raft_msg *m = &msgs[i];
		if (n->m.persisting)
			n->sent_while_writing++;
		if (m->type == RAFT_MSG_VOTE_RESP && m->vote_resp.granted &&
		    (n->durable_term < m->term || n->durable_vote != m->to))
			violate(n, "vote in term %" PRIu64 " granted, durable term %" PRIu64,
				m->term, n->durable_term);
		if (m->type == RAFT_MSG_APPEND_RESP && m->append_resp.success) {
			n->acks_sent++;
			uint64_t durable =
			    n->durable_last > n->durable_snap ? n->durable_last : n->durable_snap;
			if (m->append_resp.match_index > durable)
				violate(n, "ack of %" PRIu64 " with %" PRIu64 " durable",
					m->append_resp.match_index, durable);
		}
		size_t len = raft_msg_encoded_size(m);
		uint8_t *buf = malloc(len);
		cr_assert_not_null(buf);
		cr_assert_eq(raft_msg_encode(m, buf, len), (long)len);
		if (w->qn == w->qcap) {
			w->qcap = w->qcap ? w->qcap * 2 : 64;
			w->q = realloc(w->q, w->qcap * sizeof *w->q);
			cr_assert_not_null(w->q);
		}
		w->q[w->qn++] = (struct qmsg){.to = m->to, .buf = buf, .len = len};
	}
}

static int op_persist_start(void *ctx, struct raft_update *u)
{
	struct node *n = ctx;
	cr_assert(!n->write_started, "two writes in flight on node %u", n->id);
	n->write_started = true;
	return 0;
}

static long op_snapshot_keys(void *ctx, uint64_t index, uint8_t **keys)
{
	struct node *n = ctx;
	if (n->n_keys_asked < MAX_SNAPS)
		n->keys_asked[n->n_keys_asked++] = index;
	*keys = NULL;
	return 0;
}

static void op_on_applied(void *ctx, const struct raft_entry *e, const struct fsm_result *res,
			  uint32_t master_before)
{
	struct node *n = ctx;
	n->applied++;
	uint64_t durable = n->durable_last > n->durable_snap ? n->durable_last : n->durable_snap;
	if (e->index > durable)
		violate(n, "applied %" PRIu64 " with %" PRIu64 " durable", e->index, durable);
}

static void op_on_snapshot(void *ctx, uint64_t index, int rc)
{
	struct node *n = ctx;
	cr_assert_eq(rc, 0, "snapshot at %" PRIu64 ": %s", index, duet_strerror(rc));
	if (n->n_snaps < MAX_SNAPS)
		n->snaps[n->n_snaps++] = index;
}

static void op_fatal(void *ctx, const char *what, int rc)
{
	struct node *n = ctx;
	cr_assert_fail("node %u: %s: %s", n->id, what, duet_strerror(rc));
}

static const struct member_ops ops = {
    .send = op_send,
    .persist_start = op_persist_start,
    .snapshot_keys = op_snapshot_keys,
    .on_applied = op_on_applied,
    .on_snapshot = op_on_snapshot,
    .fatal = op_fatal,
};

/* small thresholds: a snapshot every 10 entries, a checkpoint every 4 */
static const struct member_config cfg = {
    .snapshot_every_entries = 10,
    .snapshot_every_bytes = UINT64_MAX,
    .ckpt_every = 4,
};

/* ---- the world ----------------------------------------------------------- */

static void make_conf(struct duet_membership *c)
{
	memset(c, 0, sizeof *c);
	c->n = N_NODES;
	const char *names[] = {"node-a", "node-b", "witness"};
	for (uint32_t i = 0; i < N_NODES; i++) {
		struct duet_member *m = &c->members[i];
		m->id = i + 1;
		m->kind = i == 2 ? DUET_MEMBER_WITNESS : DUET_MEMBER_DATA;
		m->incarnation = 1;
		snprintf(m->name, sizeof m->name, "%s", names[i]);
		m->n_addrs = 1;
		snprintf(m->addrs[0], sizeof m->addrs[0], "127.0.0.1:700%u", i + 1);
	}
}

static void setup(void)
{
	w = calloc(1, sizeof *w);
	cr_assert_not_null(w);
	w->now = 1000;
	struct duet_membership conf;
	make_conf(&conf);
	uint8_t buf[4096];
	struct raft_entry boot;
	cr_assert_eq(raft_bootstrap_entry(&conf, &boot, buf, sizeof buf), 0);
	for (uint32_t id = 1; id <= N_NODES; id++) {
		struct node *n = &w->n[id];
		n->id = id;
		struct raft_config rc;
		raft_config_default(&rc);
		rc.self_id = id;
		rc.seed = 42 + id;
		cr_assert_eq(raft_new(&rc, &n->r), 0);
		struct raft_load_state st = {.term = 1, .entries = &boot, .n_entries = 1};
		cr_assert_eq(raft_load(n->r, &st, w->now), 0);
		n->durable_term = 1;
		n->durable_last = 1;
		member_init(&n->m, &cfg, &ops, n, &n->fsm);
		cr_assert_eq(member_start(&n->m, n->r, NULL, 0, 0), 0);
	}
}

static void teardown(void)
{
	for (uint32_t id = 1; id <= N_NODES; id++) {
		member_free(&w->n[id].m);
		raft_free(w->n[id].r);
	}
	for (size_t i = 0; i < w->qn; i++)
		free(w->q[i].buf);
	free(w->q);
	free(w);
}

TestSuite(member, .init = setup, .fini = teardown);

/* The fake disk: u lands, in raftlog.h's order. */
static void land(struct node *n)
{
	const struct raft_update *u = &n->m.update;
	if (u->meta_changed) {
		n->durable_term = u->term;
		n->durable_vote = u->vote;
	}
	if (u->has_snapshot && u->snap.index > n->durable_snap)
		n->durable_snap = u->snap.index;
	if (u->truncate_from && n->durable_last >= u->truncate_from)
		n->durable_last = u->truncate_from - 1;
	if (u->n_entries)
		n->durable_last = u->entries[u->n_entries - 1].index;
	n->write_started = false;
	member_persisted(&n->m, w->now, 0);
}

static bool settle_once(void)
{
	bool moved = false;
	for (uint32_t id = 1; id <= N_NODES; id++) {
		struct node *n = &w->n[id];
		member_drive(&n->m, w->now);
		if (n->write_started && !n->stalled) {
			land(n);
			member_drive(&n->m, w->now);
			moved = true;
		}
	}
	size_t k = w->qn;
	struct qmsg *q = w->q;
	w->q = NULL;
	w->qn = w->qcap = 0;
	for (size_t i = 0; i < k; i++) {
		struct raft_msg m;
		cr_assert_eq(raft_msg_decode(q[i].buf, q[i].len, &m), 0);
		struct node *to = &w->n[q[i].to];
		cr_assert_eq(raft_step(to->r, w->now, &m), 0);
		raft_msg_release(&m);
		free(q[i].buf);
		member_drive(&to->m, w->now);
		moved = true;
	}
	free(q);
	return moved;
}

static void pump(void)
{
	for (int round = 0; round < 10000; round++)
		if (!settle_once())
			return;
	cr_assert_fail("the cluster did not settle");
}

static void advance(uint64_t ms)
{
	for (uint64_t t = 0; t < ms; t += 5) {
		w->now += 5;
		for (uint32_t id = 1; id <= N_NODES; id++)
			cr_assert_eq(raft_tick(w->n[id].r, w->now), 0);
		pump();
	}
}

static struct raft_status status(uint32_t id)
{
	struct raft_status st;
	raft_status(w->n[id].r, w->now, &st);
	return st;
}

/* A data node leading with the lease, every member applying its entries. */
static struct node *leader_up(void)
{
	for (int i = 0; i < 2000; i++) {
		advance(5);
		for (uint32_t id = 1; id <= 2; id++)
			if (status(id).role == RAFT_LEADER && raft_lease_valid(w->n[id].r, w->now))
				return &w->n[id];
		/* a witness that won hands over to a data node */
		if (status(3).role == RAFT_LEADER && status(3).transfer_target == 0)
			raft_transfer(w->n[3].r, w->now, 1);
	}
	cr_assert_fail("no data node leads with the lease");
	return NULL;
}

static uint64_t propose(struct node *l, uint8_t type, const void *data, uint32_t len)
{
	uint64_t index = 0;
	cr_assert_eq(raft_propose(l->r, w->now, type, w->now, data, len, &index), 0);
	member_drive(&l->m, w->now);
	pump();
	return index;
}

/* an entry the fsm applies (refused: a STEP that does not decode is still
 * applied in order, which is all the driver cares about) */
static uint64_t propose_step(struct node *l)
{
	static const uint8_t junk[] = {0xff, 0xfe};
	return propose(l, RAFT_ENTRY_STEP, junk, sizeof junk);
}

static uint64_t propose_delivered(struct node *l, uint64_t up_to)
{
	struct duet_delivered d = {.up_to_index = up_to, .sink = DUET_SINK_TCP};
	uint8_t buf[64];
	long len = duet_delivered_encode(&d, buf, sizeof buf);
	cr_assert_gt(len, 0);
	return propose(l, RAFT_ENTRY_DELIVERED, buf, (uint32_t)len);
}

static struct node *follower_of(struct node *l)
{
	return &w->n[l->id == 1 ? 2 : 1];
}

static void no_violations(void)
{
	for (uint32_t id = 1; id <= N_NODES; id++)
		cr_assert_eq(w->n[id].violation[0], 0, "node %u: %s", id, w->n[id].violation);
}

/* ---- the contract -------------------------------------------------------- */

/* A follower whose disk holds the write: the others commit the entries, it
 * applies none of them and acknowledges none until its write lands. */
Test(member, nothing_applied_or_acked_before_persisted)
{
	struct node *l = leader_up();
	struct node *f = follower_of(l);
	pump();
	uint64_t applied0 = f->fsm.applied_index, acks0 = f->acks_sent;
	f->stalled = true;
	uint64_t idx = 0;
	for (int i = 0; i < 3; i++)
		idx = propose_step(l);
	advance(50);
	cr_assert(f->m.persisting, "the follower's write is in flight");
	cr_assert_geq(l->fsm.applied_index, idx, "the leader and the witness committed it");
	cr_assert_eq(f->fsm.applied_index, applied0, "applied %" PRIu64 " before it was durable",
		     f->fsm.applied_index);
	uint64_t acks_stalled = f->acks_sent - acks0;
	no_violations();
	f->stalled = false;
	advance(300);
	cr_assert_geq(f->fsm.applied_index, idx);
	cr_assert_gt(f->acks_sent - acks0, acks_stalled, "the ack leaves once durable");
	no_violations();
}

/* While the leader's own write is stalled it keeps sending (heartbeats and
 * what needs no disk): it keeps its followers and its lease. */
Test(member, sends_while_a_write_is_in_flight)
{
	struct node *l = leader_up();
	l->stalled = true;
	propose_step(l);
	cr_assert(l->m.persisting);
	uint64_t sent0 = l->sent_while_writing;
	advance(3000); /* more than twice election_timeout_max */
	cr_assert(l->m.persisting, "still stalled");
	cr_assert_gt(l->sent_while_writing, sent0, "nothing left while the write was in flight");
	cr_assert_eq(status(l->id).role, RAFT_LEADER, "the stalled leader lost its followers");
	cr_assert(raft_lease_valid(l->r, w->now), "the stalled leader lost its lease");
	l->stalled = false;
	advance(100);
	no_violations();
}

/* No snapshot beyond the first TRAPS entry that no DELIVERED covers: it
 * stays in every member's log. Once delivered, snapshots move past it. */
Test(member, snapshot_at_the_trap_floor)
{
	struct node *l = leader_up();
	for (int i = 0; i < 12; i++)
		propose_step(l);
	static const uint8_t trap[] = {1, 2, 3, 4};
	uint64_t t = propose(l, RAFT_ENTRY_TRAPS, trap, sizeof trap);
	for (int i = 0; i < 40; i++)
		propose_step(l);
	advance(300);
	for (uint32_t id = 1; id <= N_NODES; id++) {
		struct node *n = &w->n[id];
		cr_assert_geq(n->fsm.applied_index, t + 40);
		cr_assert_gt(n->n_snaps, 0, "node %u took no snapshot", id);
		for (size_t i = 0; i < n->n_snaps; i++)
			cr_assert_lt(n->snaps[i], t,
				     "node %u: snapshot at %" PRIu64
				     " covers undelivered TRAPS %" PRIu64,
				     id, n->snaps[i], t);
		cr_assert_lt(status(id).snapshot_index, t);
		cr_assert_leq(status(id).first_index, t, "node %u: TRAPS %" PRIu64 " compacted", id,
			      t);
		/* the keys asked for are the snapshot's */
		cr_assert_eq(n->keys_asked[n->n_keys_asked - 1], n->snaps[n->n_snaps - 1]);
	}
	propose_delivered(l, t);
	for (int i = 0; i < 12; i++)
		propose_step(l);
	advance(300);
	for (uint32_t id = 1; id <= N_NODES; id++) {
		struct node *n = &w->n[id];
		cr_assert_gt(n->snaps[n->n_snaps - 1], t,
			     "node %u: no snapshot past the delivered TRAPS", id);
	}
	no_violations();
}

/* A restart of the core (member_reset + member_start from the durable
 * snapshot): the state is the snapshot's, nothing of the old run remains. */
Test(member, start_from_a_durable_snapshot)
{
	struct node *l = leader_up();
	for (int i = 0; i < 12; i++)
		propose_step(l);
	struct fsm copy = l->fsm;
	size_t cap = fsm_snapshot_size(&copy);
	uint8_t *buf = malloc(cap);
	long len = fsm_snapshot_encode(&copy, buf, cap);
	cr_assert_gt(len, 0);
	struct node *f = follower_of(l);
	f->stalled = true;
	propose_step(l);
	cr_assert(f->m.persisting);
	member_reset(&f->m);
	cr_assert(!f->m.persisting, "the write in flight is forgotten");
	cr_assert_eq(f->fsm.applied_index, 0);
	cr_assert_eq(member_start(&f->m, f->r, buf, (size_t)len, copy.applied_index), 0);
	cr_assert_eq(f->fsm.applied_index, copy.applied_index);
	cr_assert_eq(f->m.last_snapshot_index, copy.applied_index);
	buf[len / 2] ^= 0x40;
	cr_assert_neq(member_start(&f->m, f->r, buf, (size_t)len, copy.applied_index), 0,
		      "a damaged snapshot is refused");
	cr_assert_eq(f->fsm.applied_index, copy.applied_index, "and changes nothing");
	free(buf);
	f->write_started = false; /* the reset forgot it; nothing lands */
}
