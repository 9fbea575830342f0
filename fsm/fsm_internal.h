/* SPDX-License-Identifier: MIT */
/*
 * fsm_internal.h - what the files of fsm/ share. Not a public header.
 */
#ifndef DUET_FSM_INTERNAL_H
#define DUET_FSM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "duet/fsm.h"

#define FSM_N_COUNTERS (7 + RAFT_ENTRY_TYPE_COUNT)

/* state.c */
struct fsm_node *fsm_node_mut(struct fsm *f, uint32_t id);
/* Records a refusal of e (about `node`) as the last one and counts it. */
void fsm_refuse(struct fsm *f, const struct raft_entry *e, uint32_t node, int reason,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* transitions.c: MASTER and SYNC through the table. Return FSM_APPLIED or
 * FSM_REFUSED (the refusal recorded). */
int fsm_transition_master(struct fsm *f, const struct raft_entry *e, const struct duet_master *m);
int fsm_transition_sync(struct fsm *f, const struct raft_entry *e, const struct duet_sync *s);

/* describe.c: a bounded text sink that counts what it could not hold (the
 * snprintf convention), shared with json.c. */
struct fsm_out {
	char *buf;
	size_t cap;  /* bytes of buf, NUL included */
	size_t used; /* bytes the whole text needs, NUL excluded */
};
void fsm_out_init(struct fsm_out *o, char *buf, size_t cap);
void fsm_out_raw(struct fsm_out *o, const char *s, size_t n);
void fsm_out_fmt(struct fsm_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Returns the length (as snprintf) or DUET_EINVAL past INT_MAX. */
int fsm_out_done(struct fsm_out *o);
/* Length of the valid UTF-8 sequence at p[0..n), 0 if it is not one. */
size_t fsm_utf8_seq(const unsigned char *p, size_t n);

const char *fsm_step_action_name(uint8_t action);
const char *fsm_health_state_name(uint8_t state);
const char *fsm_operator_command_name(uint8_t command);
const char *fsm_member_kind_name(uint8_t kind);
const char *fsm_sink_name(uint8_t sink);

#endif
