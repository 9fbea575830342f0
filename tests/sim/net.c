/* SPDX-License-Identifier: MIT */
/*
 * net.c - the simulated network between the three members.
 *
 * Every message goes through the real codec: raft_msg_encode when sent,
 * raft_msg_decode when delivered, and the decoded message must encode back to
 * the same bytes (`codec`). A message a bit was flipped in on purpose must be
 * refused by the decoder's CRC.
 *
 * On the way each send meets, in this order: the link state (a symmetric
 * partition isolates a node: all its links both ways are cut; a one-way
 * partition cuts a->b only), random loss, duplication (the copy travels with
 * its own delay), and a delay of 0.1-3 ms with an occasional tail of up to
 * 300 ms and, rarely, a stall of up to 3 s (a TCP stream in retransmission
 * back-off); reordering falls out of independent delays. A partition that starts
 * while a message is in flight also drops it on arrival. Parameters change
 * during a run (faults.c); at healing the network turns calm.
 *
 * Links are counted, not flagged: overlapping partitions each hold the link
 * down until they end. net_heal_all (the heal phase) bumps an epoch so that
 * the end events of older partitions change nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "sim.h"

void net_init(struct sim *s)
{
	memset(&s->net, 0, sizeof(s->net));
	net_random_params(s);
}

void net_random_params(struct sim *s)
{
	struct sim_net *net = &s->net;
	struct sim_rng *g = &s->rng;
	bool calm = strcmp(s->p.profile, "calm") == 0;
	bool harsh = strcmp(s->p.profile, "harsh") == 0;
	switch (rng_below(g, 4)) {
	case 0:
		net->drop_ppm = 0;
		break;
	case 1:
		net->drop_ppm = (uint32_t)rng_range(g, 0, 20000);
		break;
	case 2:
		net->drop_ppm = (uint32_t)rng_range(g, 0, calm ? 20000 : 100000);
		break;
	default:
		net->drop_ppm = (uint32_t)rng_range(g, 0, harsh ? 400000 : calm ? 30000 : 200000);
	}
	net->dup_ppm = (uint32_t)rng_range(g, 0, calm ? 5000 : 50000);
	net->tail_ppm = (uint32_t)rng_range(g, 0, calm ? 2000 : harsh ? 100000 : 30000);
	net->corrupt_ppm = rng_below(g, 3) == 0 ? (uint32_t)rng_range(g, 0, 2000) : 0;
	net->delay_min_us = 100;
	net->delay_max_us = (uint32_t)rng_range(g, 500, 3000);
	net->tail_max_us = 300000;
	/* a TCP stream stalled by retransmission back-off delivers seconds late */
	net->stall_ppm = (uint32_t)rng_range(g, 0, calm ? 100 : harsh ? 3000 : 500);
	net->stall_max_us = 3000000;
	trace_add(s, TR_NET, 0, 0, 0, net->drop_ppm, net->dup_ppm, net->tail_ppm,
		  net->delay_max_us);
}

void net_calm(struct sim *s)
{
	struct sim_net *net = &s->net;
	net->drop_ppm = net->tail_ppm = net->corrupt_ppm = net->stall_ppm = 0;
	trace_add(s, TR_NET, 0, 0, 0, net->drop_ppm, net->dup_ppm, net->tail_ppm,
		  net->delay_max_us);
}

bool net_link_up(const struct sim *s, uint32_t from, uint32_t to)
{
	return s->net.cut[from][to] == 0;
}

void net_cut(struct sim *s, uint32_t mask, uint64_t duration_us)
{
	for (uint32_t a = 1; a <= SIM_NODES; a++)
		for (uint32_t b = 1; b <= SIM_NODES; b++)
			if (a != b && (mask & net_link_bit(a, b)))
				s->net.cut[a][b]++;
	s->stats.partitions++;
	trace_add(s, TR_CUT, 0, 0, 0, mask, duration_us / 1000, 0, 0);
	struct sim_event ev = {.t_us = s->now_us + duration_us,
			       .kind = EV_LINK_HEAL,
			       .gen = mask,
			       .aux = s->net.epoch};
	sched_push(&s->sched, ev);
}

void net_heal_mask(struct sim *s, uint32_t mask, uint32_t epoch)
{
	if (epoch != s->net.epoch)
		return;
	for (uint32_t a = 1; a <= SIM_NODES; a++)
		for (uint32_t b = 1; b <= SIM_NODES; b++)
			if (a != b && (mask & net_link_bit(a, b)) && s->net.cut[a][b])
				s->net.cut[a][b]--;
	trace_add(s, TR_HEAL_LINKS, 0, 0, 0, mask, 0, 0, 0);
}

void net_heal_all(struct sim *s)
{
	memset(s->net.cut, 0, sizeof(s->net.cut));
	s->net.epoch++;
	trace_add(s, TR_HEAL_LINKS, 0, 0, 0, 0x1ff, 0, 0, 0);
}

static void drop(struct sim *s, uint32_t from, uint32_t to, uint8_t type, uint8_t why)
{
	s->stats.msgs_dropped++;
	trace_add(s, TR_DROP, to, from, why, type, 0, 0, 0);
}

void net_send(struct sim *s, struct sim_node *from, const struct raft_msg *m)
{
	s->stats.msgs_sent++;
	if (m->from != from->id || m->to < 1 || m->to > SIM_NODES || m->to == from->id) {
		sim_fail(s, "core_contract", "n%u sends a %s from %u to %u", from->id,
			 raft_msg_type_name(m->type), m->from, m->to);
		return;
	}
	size_t need = raft_msg_encoded_size(m);
	uint8_t *buf = sim_xmalloc(need ? need : 1);
	long w = raft_msg_encode(m, buf, need);
	if (w < 0 || (size_t)w != need) {
		sim_fail(s, "codec", "n%u: raft_msg_encode(%s) returned %ld for %zu bytes",
			 from->id, raft_msg_type_name(m->type), w, need);
		free(buf);
		return;
	}
	check_send(s, from, m);
	trace_msg(s, TR_SEND, m, 0);
	trace_bytes(s, buf, need);

	struct sim_net *net = &s->net;
	if (!net_link_up(s, m->from, m->to)) {
		drop(s, m->from, m->to, m->type, DROP_PARTITION);
		free(buf);
		return;
	}
	if (rng_ppm(&s->rng, net->drop_ppm)) {
		drop(s, m->from, m->to, m->type, DROP_RANDOM);
		free(buf);
		return;
	}
	int copies = rng_ppm(&s->rng, net->dup_ppm) ? 2 : 1;
	if (copies == 2)
		s->stats.msgs_duplicated++;
	for (int c = 0; c < copies; c++) {
		uint8_t *b = c + 1 < copies ? sim_xmemdup(buf, need) : buf;
		uint64_t delay = rng_range(&s->rng, net->delay_min_us, net->delay_max_us);
		if (rng_ppm(&s->rng, net->tail_ppm))
			delay += rng_range(&s->rng, 0, net->tail_max_us);
		if (rng_ppm(&s->rng, net->stall_ppm))
			delay += rng_range(&s->rng, net->tail_max_us, net->stall_max_us);
		struct sim_event ev = {.t_us = s->now_us + delay,
				       .kind = EV_DELIVER,
				       .node = (uint8_t)m->to,
				       .from = (uint8_t)m->from,
				       .len = (uint32_t)need,
				       .buf = b};
		if (rng_ppm(&s->rng, net->corrupt_ppm)) {
			uint64_t bit = rng_below(&s->rng, (uint64_t)need * 8);
			b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			ev.corrupted = 1;
			s->stats.msgs_corrupted++;
		}
		sched_push(&s->sched, ev);
	}
}

int net_receive(struct sim *s, const struct sim_event *ev, struct raft_msg *m)
{
	uint8_t type = ev->len > 1 ? ev->buf[1] : 0;
	if (!net_link_up(s, ev->from, ev->node)) {
		drop(s, ev->from, ev->node, type, DROP_PARTITION);
		return 1;
	}
	int rc = raft_msg_decode(ev->buf, ev->len, m);
	if (ev->corrupted) {
		if (rc == 0) {
			sim_fail(s, "codec",
				 "a %s from %u with a flipped bit decoded without error (%u bytes)",
				 raft_msg_type_name(m->type), ev->from, ev->len);
			raft_msg_release(m);
		}
		drop(s, ev->from, ev->node, type, DROP_CORRUPT);
		return 1;
	}
	if (rc) {
		sim_fail(s, "codec", "raft_msg_decode of a %s from %u (%u bytes): %s",
			 raft_msg_type_name(type), ev->from, ev->len, duet_strerror(rc));
		return 1;
	}
	size_t need = raft_msg_encoded_size(m);
	uint8_t *again = sim_xmalloc(need ? need : 1);
	long w = raft_msg_encode(m, again, need);
	bool same = w >= 0 && (size_t)w == ev->len && memcmp(again, ev->buf, ev->len) == 0;
	free(again);
	if (!same || m->to != ev->node || m->from != ev->from) {
		sim_fail(s, "codec",
			 "a %s from %u to %u (%u bytes) does not survive decode+encode (%ld bytes, "
			 "from %u to %u)",
			 raft_msg_type_name(type), ev->from, ev->node, ev->len, w, m->from, m->to);
		raft_msg_release(m);
		return 1;
	}
	trace_msg(s, TR_DELIVER, m, 0);
	return 0;
}
