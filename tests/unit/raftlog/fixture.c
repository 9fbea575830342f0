/* SPDX-License-Identifier: MIT */
/*
 * fixture.c - see fixture.h.
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "fixture.h"

static void make_conf(struct duet_membership *c)
{
	memset(c, 0, sizeof(*c));
	c->n = 3;
	const char *names[] = {"node-a", "node-b", "witness"};
	for (uint32_t i = 0; i < 3; i++) {
		struct duet_member *m = &c->members[i];
		m->id = i + 1;
		m->kind = i == 2 ? DUET_MEMBER_WITNESS : DUET_MEMBER_DATA;
		m->incarnation = 1;
		strcpy(m->name, names[i]);
		m->n_addrs = 1;
		strcpy(m->addrs[0], "127.0.0.1:7000");
		m->addrs[0][13] = (char)('1' + i);
	}
}

void fx_init(struct fx *f, uint64_t seed)
{
	memset(f, 0, sizeof(*f));
	make_conf(&f->conf);
	f->now = 1000;
	uint8_t buf[4096];
	struct raft_entry boot;
	cr_assert_eq(raft_bootstrap_entry(&f->conf, &boot, buf, sizeof(buf)), 0);
	for (uint32_t id = 1; id <= FX_N; id++) {
		struct raft_config cfg;
		raft_config_default(&cfg);
		cfg.self_id = id;
		cfg.seed = seed * 7 + id;
		cr_assert_eq(raft_new(&cfg, &f->r[id]), 0);
		struct raft_load_state st = {.term = 1, .entries = &boot, .n_entries = 1};
		cr_assert_eq(raft_load(f->r[id], &st, f->now), 0);
	}
}

void fx_fini(struct fx *f)
{
	for (uint32_t id = 1; id <= FX_N; id++) {
		if (f->holding[id])
			raft_update_free(&f->held[id]);
		raft_free(f->r[id]);
	}
	for (size_t i = 0; i < f->qn; i++)
		free(f->q[i].buf);
	free(f->q);
}

static void enqueue(struct fx *f, const struct raft_msg *m)
{
	if (m->to < 1 || m->to > FX_N || f->cut[m->from][m->to] || f->down[m->from])
		return;
	size_t len = raft_msg_encoded_size(m);
	uint8_t *buf = malloc(len);
	cr_assert_not_null(buf);
	cr_assert_eq(raft_msg_encode(m, buf, len), (long)len);
	if (f->qn == f->qcap) {
		f->qcap = f->qcap ? f->qcap * 2 : 64;
		f->q = realloc(f->q, f->qcap * sizeof(*f->q));
	}
	f->q[f->qn++] = (struct fx_queued){.to = m->to, .buf = buf, .len = len};
}

static void finish_update(struct fx *f, uint32_t id, struct raft_update *u)
{
	struct raft *r = f->r[id];
	cr_assert_eq(raft_persisted(r, f->now, u), 0);
	for (size_t i = 0; i < u->n_msgs_after; i++)
		enqueue(f, &u->msgs_after[i]);
	if (u->restore_snapshot) {
		f->restores[id]++;
		f->applied[id] = u->snap.index;
	}
	for (size_t i = 0; i < u->n_committed; i++) {
		cr_assert_eq(u->committed[i].index, f->applied[id] + 1,
			     "node %u applies %lu after %lu", id,
			     (unsigned long)u->committed[i].index, (unsigned long)f->applied[id]);
		f->applied[id] = u->committed[i].index;
		f->applied_types[id][u->committed[i].type]++;
	}
	raft_update_free(u);
}

/* A stalled disk: what needs no write still leaves (raftlog.h). */
static bool drain_msgs_only(struct fx *f, uint32_t id)
{
	struct raft_update u;
	bool moved = false;
	int rc;
	while ((rc = raft_ready_msgs(f->r[id], &u)) == 0) {
		moved = true;
		for (size_t i = 0; i < u.n_msgs; i++)
			enqueue(f, &u.msgs[i]);
		raft_update_free(&u);
	}
	cr_assert_eq(rc, DUET_ENOENT);
	return moved;
}

static bool drain_node(struct fx *f, uint32_t id)
{
	struct raft *r = f->r[id];
	struct raft_update u;
	bool moved = false;
	if (f->holding[id])
		return drain_msgs_only(f, id);
	while (raft_ready(r, &u) == 0) {
		moved = true;
		for (size_t i = 0; i < u.n_msgs; i++)
			enqueue(f, &u.msgs[i]);
		if (f->stalled[id]) {
			f->held[id] = u;
			f->holding[id] = true;
			return drain_msgs_only(f, id) || moved;
		}
		finish_update(f, id, &u);
	}
	return moved;
}

void fx_stall(struct fx *f, uint32_t id, bool on)
{
	f->stalled[id] = on;
	if (!on && f->holding[id]) {
		f->holding[id] = false;
		finish_update(f, id, &f->held[id]);
		fx_pump(f);
	}
}

static void observe(struct fx *f)
{
	int holders = 0;
	for (uint32_t id = 1; id <= FX_N; id++) {
		if (f->down[id])
			continue;
		struct raft_status st = fx_status(f, id);
		bool lease = raft_lease_valid(f->r[id], f->now);
		holders += lease;
		if (id == 3 && st.role == RAFT_LEADER)
			f->witness_led = true;
		if (id == 3 && lease)
			f->witness_lease = true;
	}
	if (holders > 1)
		f->max_lease_overlap++;
}

void fx_pump(struct fx *f)
{
	for (int round = 0; round < 10000; round++) {
		bool moved = false;
		for (uint32_t id = 1; id <= FX_N; id++)
			if (!f->down[id])
				moved |= drain_node(f, id);
		size_t n = f->qn;
		struct fx_queued *q = f->q;
		f->q = NULL;
		f->qn = f->qcap = 0;
		for (size_t i = 0; i < n; i++) {
			struct raft_msg m;
			cr_assert_eq(raft_msg_decode(q[i].buf, q[i].len, &m), 0);
			bool deliver = !f->down[q[i].to] && (!f->msg_hook || f->msg_hook(f, &m));
			if (deliver)
				cr_assert_eq(raft_step(f->r[q[i].to], f->now, &m), 0);
			raft_msg_release(&m);
			free(q[i].buf);
			moved = true;
		}
		free(q);
		observe(f);
		if (!moved)
			return;
	}
	cr_assert_fail("fixture: cluster did not settle");
}

void fx_advance(struct fx *f, uint64_t ms)
{
	for (uint64_t t = 0; t < ms; t += 5) {
		f->now += 5;
		for (uint32_t id = 1; id <= FX_N; id++)
			if (!f->down[id])
				cr_assert_eq(raft_tick(f->r[id], f->now), 0);
		fx_pump(f);
	}
}

bool fx_until(struct fx *f, bool (*pred)(struct fx *f), uint64_t limit_ms)
{
	for (uint64_t t = 0; t <= limit_ms; t += 5) {
		if (pred(f))
			return true;
		fx_advance(f, 5);
	}
	return pred(f);
}

struct raft_status fx_status(struct fx *f, uint32_t id)
{
	struct raft_status st;
	raft_status(f->r[id], f->now, &st);
	return st;
}

uint32_t fx_leader(struct fx *f)
{
	uint32_t best = 0;
	uint64_t term = 0;
	for (uint32_t id = 1; id <= FX_N; id++) {
		if (f->down[id])
			continue;
		struct raft_status st = fx_status(f, id);
		if (st.role == RAFT_LEADER && st.term >= term) {
			best = id;
			term = st.term;
		}
	}
	return best;
}

void fx_isolate(struct fx *f, uint32_t id, bool on)
{
	for (uint32_t o = 1; o <= FX_N; o++) {
		if (o == id)
			continue;
		f->cut[id][o] = on;
		f->cut[o][id] = on;
	}
}

int fx_propose(struct fx *f, uint32_t id, uint64_t *index)
{
	static const uint8_t payload[16] = "test-entry-data";
	return raft_propose(f->r[id], f->now, RAFT_ENTRY_HEALTH, 1700000000000ull, payload,
			    sizeof(payload), index);
}

void fx_inject(struct fx *f, const struct raft_msg *m)
{
	size_t len = raft_msg_encoded_size(m);
	uint8_t *buf = malloc(len);
	cr_assert_not_null(buf);
	cr_assert_eq(raft_msg_encode(m, buf, len), (long)len);
	struct raft_msg d;
	cr_assert_eq(raft_msg_decode(buf, len, &d), 0);
	cr_assert_eq(raft_step(f->r[m->to], f->now, &d), 0);
	raft_msg_release(&d);
	free(buf);
}
