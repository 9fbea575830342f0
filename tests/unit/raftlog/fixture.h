/* SPDX-License-Identifier: MIT */
/*
 * fixture.h - three raftlog cores in one process for unit tests: node 1 and
 * 2 are data nodes, node 3 the witness. Messages go through the real codec;
 * persistence is instant unless a node's disk is stalled (fx_stall): then
 * its next update stays outstanding, and only raft_ready_msgs() moves, as
 * in duetd while a slow write is in flight (the simulator covers delayed
 * and lost writes at random).
 * Time moves only through fx_advance(); links can be cut per direction.
 */
#ifndef DUET_TEST_FIXTURE_H
#define DUET_TEST_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "duet/raftlog.h"

#define FX_N 3

struct fx_queued {
	uint32_t to;
	uint8_t *buf;
	size_t len;
};

struct fx {
	struct raft *r[FX_N + 1];
	struct duet_membership conf;
	uint64_t now;
	bool cut[FX_N + 1][FX_N + 1]; /* cut[a][b]: a's messages to b are lost */
	bool down[FX_N + 1];
	struct fx_queued *q;
	size_t qn, qcap;
	uint64_t applied[FX_N + 1]; /* last index applied per node */
	uint64_t applied_types[FX_N + 1][RAFT_ENTRY_TYPE_COUNT];
	int restores[FX_N + 1];
	uint64_t max_lease_overlap; /* set by fx_advance when two leases overlap */
	bool witness_led;
	bool witness_lease;
	bool stalled[FX_N + 1]; /* the disk does not finish writes */
	bool holding[FX_N + 1]; /* an update is outstanding on it */
	struct raft_update held[FX_N + 1];
	/* hook: called for each message before delivery; return false to drop */
	bool (*msg_hook)(struct fx *f, const struct raft_msg *m);
};

void fx_init(struct fx *f, uint64_t seed);
void fx_fini(struct fx *f);
/* Delivers messages and hands out updates until nothing moves. */
void fx_pump(struct fx *f);
/* Moves time forward in steps of 5 ms, ticking and pumping. */
void fx_advance(struct fx *f, uint64_t ms);
/* Advances until pred() holds or limit_ms passes; returns pred(). */
bool fx_until(struct fx *f, bool (*pred)(struct fx *f), uint64_t limit_ms);
/* The current leader among running nodes (highest term), 0 if none. */
uint32_t fx_leader(struct fx *f);
void fx_isolate(struct fx *f, uint32_t id, bool on);
/* Proposes a small entry on node id; returns raft_propose's result. */
int fx_propose(struct fx *f, uint32_t id, uint64_t *index);
/* Sends a message straight into node `to` (encoded and decoded). */
void fx_inject(struct fx *f, const struct raft_msg *m);
struct raft_status fx_status(struct fx *f, uint32_t id);
/* Stalls node id's disk (on) or lets the held write land and go on (off). */
void fx_stall(struct fx *f, uint32_t id, bool on);

#endif
