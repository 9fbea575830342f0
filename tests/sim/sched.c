/* SPDX-License-Identifier: MIT */
/*
 * sched.c - the discrete-event queue of duet-sim.
 *
 * A binary min-heap of events keyed by (real time in microseconds, insertion
 * number). The insertion number makes ties deterministic: two events at the
 * same microsecond run in the order they were scheduled, never in an order
 * that depends on the heap's layout or on memory addresses. Events are stored
 * by value; a DELIVER event owns its message buffer until it is popped.
 *
 * Cancelling is done by generations, not by removal: a node's tick, persist,
 * restart and resume events carry the generation current when they were
 * scheduled, and the handler ignores an event whose generation is stale.
 */
#include <stdlib.h>

#include "sim.h"

void sched_init(struct sim_sched *q)
{
	q->heap = NULL;
	q->n = q->cap = 0;
	q->next_seq = 0;
}

void sched_free(struct sim_sched *q)
{
	for (size_t i = 0; i < q->n; i++)
		free(q->heap[i].buf);
	free(q->heap);
	sched_init(q);
}

static bool ev_before(const struct sim_event *a, const struct sim_event *b)
{
	return a->t_us < b->t_us || (a->t_us == b->t_us && a->seq < b->seq);
}

void sched_push(struct sim_sched *q, struct sim_event ev)
{
	if (q->n == q->cap) {
		q->cap = q->cap ? q->cap * 2 : 256;
		q->heap = sim_xrealloc(q->heap, q->cap * sizeof(*q->heap));
	}
	ev.seq = q->next_seq++;
	size_t i = q->n++;
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!ev_before(&ev, &q->heap[parent]))
			break;
		q->heap[i] = q->heap[parent];
		i = parent;
	}
	q->heap[i] = ev;
}

bool sched_pop(struct sim_sched *q, struct sim_event *ev)
{
	if (q->n == 0)
		return false;
	*ev = q->heap[0];
	struct sim_event last = q->heap[--q->n];
	size_t i = 0;
	for (;;) {
		size_t child = 2 * i + 1;
		if (child >= q->n)
			break;
		if (child + 1 < q->n && ev_before(&q->heap[child + 1], &q->heap[child]))
			child++;
		if (!ev_before(&q->heap[child], &last))
			break;
		q->heap[i] = q->heap[child];
		i = child;
	}
	if (q->n > 0)
		q->heap[i] = last;
	return true;
}
