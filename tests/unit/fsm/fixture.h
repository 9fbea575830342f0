/* SPDX-License-Identifier: MIT */
/*
 * fixture.h - the fsm tests' fixture: one struct fsm and a log of the
 * entries built for it (payloads encoded with the real encoders and owned
 * by the fixture), so a test can apply them, replay them elsewhere or hand
 * them to storage.
 */
#ifndef DUET_TEST_FSM_FIXTURE_H
#define DUET_TEST_FSM_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "duet/fsm.h"

#define FX_MAX_ENTRIES 512
#define FX_MAX_PAYLOAD 2048

struct fx {
	struct fsm fsm;
	uint64_t term;
	size_t n;
	struct raft_entry entries[FX_MAX_ENTRIES];
	uint8_t bufs[FX_MAX_ENTRIES][FX_MAX_PAYLOAD];
	struct fsm_result last;
};

extern struct fx *fx;

/* Criterion .init / .fini */
void fx_setup(void);
void fx_teardown(void);

/* Each builds the next entry (index n+1, current term), appends it to the
 * fixture's log and applies it to fx->fsm (asserting fsm_apply returned 0);
 * returns the outcome. */
int fx_raw(uint8_t type, const void *payload, uint32_t len);
/* Members 1 and 2 are DATA, 3 the witness, incarnations 10, 11, 12. */
int fx_membership3(void);
int fx_membership(const struct duet_membership *c);
int fx_master(uint32_t node, uint32_t previous, uint8_t reason);
int fx_sync(uint32_t node, bool on);
int fx_health(uint32_t node, const char *check, uint8_t state, bool critical);
int fx_operator(uint8_t command, uint32_t node, uint32_t target);
int fx_step(uint8_t action, uint32_t node, bool ok);
int fx_noop(void);
int fx_traps(uint32_t n);

/* The usual start: membership, FIRST_START of node 1, SYNC(2, on). */
void fx_cluster_up(void);

void fx_membership3_conf(struct duet_membership *c);

#endif
