/* SPDX-License-Identifier: MIT */
/*
 * fixture.c - the fsm tests' fixture (see fixture.h).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"

struct fx *fx;

void fx_setup(void)
{
	fx = calloc(1, sizeof(*fx));
	cr_assert_not_null(fx);
	fsm_init(&fx->fsm);
	fx->term = 1;
}

void fx_teardown(void)
{
	free(fx);
	fx = NULL;
}

int fx_raw(uint8_t type, const void *payload, uint32_t len)
{
	cr_assert_lt(fx->n, FX_MAX_ENTRIES);
	cr_assert_leq(len, FX_MAX_PAYLOAD);
	size_t i = fx->n++;
	if (len)
		memcpy(fx->bufs[i], payload, len);
	fx->entries[i] = (struct raft_entry){.term = fx->term,
					     .index = i + 1,
					     .wall_ms = 1700000000000ull + i * 10,
					     .author = 1,
					     .type = type,
					     .len = len,
					     .data = len ? fx->bufs[i] : NULL};
	int rc = fsm_apply(&fx->fsm, &fx->entries[i], &fx->last);
	cr_assert_eq(rc, 0, "fsm_apply(index %zu): %s", i + 1, duet_strerror(rc));
	return fx->last.outcome;
}

#define FX_ENCODE(type, encode, value)                                                             \
	do {                                                                                       \
		uint8_t buf_[FX_MAX_PAYLOAD];                                                      \
		long len_ = encode((value), buf_, sizeof(buf_));                                   \
		cr_assert_gt(len_, 0, "encode: %s", duet_strerror((int)len_));                     \
		return fx_raw((type), buf_, (uint32_t)len_);                                       \
	} while (0)

void fx_membership3_conf(struct duet_membership *c)
{
	memset(c, 0, sizeof(*c));
	c->n = 3;
	for (uint32_t i = 0; i < 3; i++) {
		struct duet_member *m = &c->members[i];
		m->id = i + 1;
		m->kind = i == 2 ? DUET_MEMBER_WITNESS : DUET_MEMBER_DATA;
		m->incarnation = 10 + i;
		snprintf(m->name, sizeof(m->name), "node%u", i + 1);
		m->n_addrs = 1;
		snprintf(m->addrs[0], sizeof(m->addrs[0]), "10.0.0.%u:7000", i + 1);
	}
}

int fx_membership(const struct duet_membership *c)
{
	FX_ENCODE(RAFT_ENTRY_MEMBERSHIP, duet_membership_encode, c);
}

int fx_membership3(void)
{
	struct duet_membership c;
	fx_membership3_conf(&c);
	return fx_membership(&c);
}

int fx_master(uint32_t node, uint32_t previous, uint8_t reason)
{
	struct duet_master m = {.node = node, .previous = previous, .reason = reason};
	snprintf(m.detail, sizeof(m.detail), "test master %u", node);
	FX_ENCODE(RAFT_ENTRY_MASTER, duet_master_encode, &m);
}

int fx_sync(uint32_t node, bool on)
{
	struct duet_sync s = {.node = node, .on = on};
	FX_ENCODE(RAFT_ENTRY_SYNC, duet_sync_encode, &s);
}

int fx_health(uint32_t node, const char *check, uint8_t state, bool critical)
{
	struct duet_health h = {.node = node, .state = state, .critical = critical};
	snprintf(h.check, sizeof(h.check), "%s", check);
	FX_ENCODE(RAFT_ENTRY_HEALTH, duet_health_encode, &h);
}

int fx_operator(uint8_t command, uint32_t node, uint32_t target)
{
	struct duet_operator o = {.command = command, .node = node, .target = target};
	snprintf(o.who, sizeof(o.who), "alice");
	snprintf(o.why, sizeof(o.why), "planned work");
	FX_ENCODE(RAFT_ENTRY_OPERATOR, duet_operator_encode, &o);
}

int fx_step(uint8_t action, uint32_t node, bool ok)
{
	struct duet_step s = {.action = action, .node = node, .ok = ok, .duration_ms = 42};
	FX_ENCODE(RAFT_ENTRY_STEP, duet_step_encode, &s);
}

int fx_noop(void)
{
	return fx_raw(RAFT_ENTRY_NOOP, NULL, 0);
}

int fx_traps(uint32_t n)
{
	struct duet_trap t[4];
	memset(t, 0, sizeof(t));
	cr_assert_leq(n, 4);
	for (uint32_t i = 0; i < n; i++) {
		t[i].identity[0] = (uint8_t)i;
		t[i].ordinal = 1;
		t[i].receiver = 1;
		t[i].kind = DUET_TRAP_SYSLOG;
		snprintf(t[i].sender, sizeof(t[i].sender), "10.1.0.%u", i);
		t[i].len = 3;
		t[i].payload = (const uint8_t *)"abc";
	}
	uint8_t buf[FX_MAX_PAYLOAD];
	long len = duet_traps_encode(t, n, buf, sizeof(buf));
	cr_assert_gt(len, 0);
	return fx_raw(RAFT_ENTRY_TRAPS, buf, (uint32_t)len);
}

void fx_cluster_up(void)
{
	cr_assert_eq(fx_membership3(), FSM_APPLIED);
	cr_assert_eq(fx_master(1, 0, DUET_MASTER_FIRST_START), FSM_APPLIED);
	cr_assert_eq(fx_sync(2, true), FSM_APPLIED);
}
