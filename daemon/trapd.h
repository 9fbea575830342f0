/* SPDX-License-Identifier: MIT */
/*
 * trapd.h - the trap pipeline of a data node (DESIGN.md section 5): the
 * receivers (trapd_rx.c) feed the dedup (traps_pipe.h); this part turns it
 * into log entries, transport frames and sink deliveries (trapd.c).
 *
 *  - Role. This node PROPOSES traps while it is the raft leader holding the
 *    lease and every entry of earlier terms is applied (the entry it
 *    appended on becoming leader is); it DELIVERS them to the sink under
 *    the same condition. That follows raft leadership, not the MASTER
 *    entry: traps keep flowing while no promotable standby exists and the
 *    cluster waits for an operator (DESIGN.md 4.5). Every other data node
 *    is a standby: it holds what it received until a committed TRAPS entry
 *    matches it and forwards the rest to the leader.
 *  - Batches. After each event the leader proposes what waits as TRAPS
 *    entries of up to [traps] batch_max traps (raft back-pressure, EBUSY,
 *    puts the batch back).
 *  - Forwarding. Every TRAPD_TICK_MS a standby sends the pending traps that
 *    are due as one NODE_FRAME_TRAPS_FORWARD frame to the leader, which
 *    answers with NODE_FRAME_TRAPS_ANSWER (the keys it has committed).
 *  - Delivery. The deliverer submits each undelivered committed entry to
 *    the sink in log order (tag = entry index; record id = cluster id,
 *    entry index and position: stable on every member); confirmations move
 *    `confirmed`, and a DELIVERED entry records it at most every
 *    TRAPD_DELIVERED_EVERY_MS (so a new master re-delivers at most what
 *    was confirmed since: the sink ignores repeats by id). With [sink]
 *    type = none committed traps are not kept and nothing is delivered.
 *  - Compaction. The log keeps every entry the sink still needs: node.c
 *    snapshots no further than fsm_trap_floor(), which every member (the
 *    witness too) computes from the applied TRAPS and DELIVERED entries.
 *    A leader without a sink records DELIVERED (sink none) up to the last
 *    TRAPS entry, so the floor moves there too.
 */
#ifndef DUET_TRAPD_H
#define DUET_TRAPD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "duet/entry.h"

struct node;

/* Transport frame types (node_internal.h has 1 and 2). */
#define NODE_FRAME_TRAPS_FORWARD 3 /* a TRAPS payload: pending traps for the leader */
#define NODE_FRAME_TRAPS_ANSWER  4 /* a TRAPS payload without payloads: committed keys */

#define TRAPD_TICK_MS            50
#define TRAPD_DELIVERED_EVERY_MS 100

/* Opens the pipe, the sink and the receivers of a data node. Returns 0 or
 * -1 (logged). */
int trapd_open(struct node *n);
void trapd_close(struct node *n);

/* After every event: role, batches, delivery. */
void trapd_step(struct node *n);
/* Proposes waiting batches (called from drive(), like the admin probe). */
void trapd_pump(struct node *n);
/* A committed TRAPS or DELIVERED entry, in log order (every member). */
void trapd_applied(struct node *n, const struct raft_entry *e);
/* Snapshots (DESIGN.md 5): the committed keys of entries at or below up_to
 * for fsm_snapshot_encode_keys() (*out malloc'd, the caller frees; 0 when
 * none), and the keys of a snapshot just restored into *f. On the witness
 * the first call makes a pipe that keeps committed keys only. */
struct fsm;
long trapd_snapshot_keys(struct node *n, uint64_t up_to, uint8_t **out);
void trapd_restored(struct node *n, const struct fsm *f, const uint8_t *keys, uint32_t len);
/* A FORWARD or ANSWER frame from a member. */
void trapd_frame(struct node *n, uint32_t from, uint8_t type, const uint8_t *payload, uint32_t len);

/* trapd_rx.c: one decoded copy from a receiver; returns an enum
 * duet_trap_drop. */
int trapd_receive(struct node *n, uint8_t kind, const char *sender, const void *content,
		  size_t content_len, const char *json, size_t json_len);
/* trapd_rx.c: opens / closes the configured receivers (their counters:
 * trapd_rx_status_fill, status.h). */
int trapd_rx_open(struct node *n);
void trapd_rx_close(struct node *n);
/* trapd_rx.c: every TRAPD_TICK_MS (resumes paused TCP senders). */
void trapd_rx_tick(struct node *n);

#endif
