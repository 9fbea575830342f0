/* SPDX-License-Identifier: MIT */
/*
 * faults.c - what happens to the cluster: the per-seed profile, the fault
 * schedule, the client workload, and the heal phase.
 *
 * Profiles. Each seed draws a profile (calm 25 %, normal 50 %, harsh 25 %)
 * and, within it, its own rates, so a batch of seeds covers quiet clusters
 * (where subtle timing bugs such as lease overlaps show) as well as storms.
 *
 * Faults are generated lazily, one EV_FAULT at a time, from the run's single
 * generator, so nothing depends on --steps until the heal phase begins: a run
 * cut short with a smaller --steps replays the same prefix. A fault is one of:
 * crash a node (sometimes chosen because a write is in flight, so crashes
 * land mid-persist), pause a node (the clock "jump", clock.c), isolate a node
 * (symmetric partition), cut one direction of one link, change the network's
 * loss/duplication/delay, jump a wall clock by minutes, wipe a member's disk
 * (WIPE: it stays down until its rejoin commits, wipe.c), or heal all links.
 * Storage faults live in node.c (fsync failure, crash after sync). Besides
 * timed crashes, a seed may crash the node an event just touched, right after
 * that event (sim.c): crashes then land at protocol-relevant instants (just
 * after becoming leader, after a vote went out) far more often than timers
 * alone would make them.
 *
 * The workload is a client that does not know who leads: it usually sends to
 * a node that says it is leader and sometimes to any node, in busy phases and
 * (most seeds) quiet phases that leave the logs equal, proposing entries
 * of the DESIGN.md types with 0..512 random payload bytes stamped with the
 * node's wall clock (a DELIVERED carries a real payload: up to the last
 * TRAPS entry its proposer applied, so the trap floor moves). Refusals
 * (ENOTLEADER, EWITNESS, EBUSY) are normal; the witness accepting one is
 * not. Now and then it asks the leader to transfer leadership to the other
 * data node (rarely to the witness, which must be refused), to exercise
 * TimeoutNow and lease hand-over.
 *
 * Healing (after --steps events): partitions end, the network turns calm,
 * crashed nodes restart, paused nodes resume, faults and transfers stop; the
 * client keeps proposing. A wiped member still waits for its rejoin, which
 * goes on. Liveness is then due within SIM_LIVENESS_BOUND_MS, and includes a
 * wiped member back and caught up.
 */
#include <inttypes.h>
#include <string.h>

#include "sim.h"

static uint32_t range32(struct sim_rng *g, uint64_t lo, uint64_t hi)
{
	return (uint32_t)rng_range(g, lo, hi);
}

void faults_params(struct sim *s)
{
	struct sim_params *p = &s->p;
	struct sim_rng *g = &s->rng;
	memset(p, 0, sizeof(*p));
	uint64_t r = rng_below(g, 100);
	p->profile = r < 25 ? "calm" : r < 75 ? "normal" : "harsh";
	bool calm = r < 25, harsh = r >= 75;

	uint32_t mean_gap_ms = range32(g, 3, 80);
	p->client_gap_min_us = 500;
	p->client_gap_max_us = mean_gap_ms * 2000;
	p->transfer_ppm = rng_below(g, 4) == 0 ? 0 : range32(g, 1000, 40000);
	p->bursty = rng_below(g, 10) < 7;
	p->busy_max_ms = range32(g, 200, 5000);
	p->quiet_max_ms = range32(g, 500, 10000);
	p->quiet_transfer_ppm = range32(g, 0, 300000);

	if (calm) {
		p->fault_gap_min_us = 500000;
		p->fault_gap_max_us = range32(g, 2000000, 8000000);
	} else if (harsh) {
		p->fault_gap_min_us = 30000;
		p->fault_gap_max_us = range32(g, 150000, 1000000);
	} else {
		p->fault_gap_min_us = 100000;
		p->fault_gap_max_us = range32(g, 500000, 3000000);
	}
	p->w_crash = range32(g, 0, calm ? 2 : 6);
	p->w_crash_pending = range32(g, 0, calm ? 1 : 4);
	p->w_pause = range32(g, 0, 5);
	p->w_isolate = range32(g, 0, 5);
	p->w_oneway = range32(g, 0, 5);
	p->w_net = range32(g, 1, 4);
	p->w_wall = range32(g, 0, 2);
	p->w_heal = range32(g, 1, 4);
	p->w_wipe = range32(g, 0, calm ? 1 : 2);
	if (!s->wipes)
		p->w_wipe = 0; /* drawn either way: the parameters after it keep their draws */
	p->pause_max_ms = rng_below(g, 3) ? 3000 : 6000;
	p->restart_max_ms = range32(g, 100, 5000);
	p->fsync_fail_ppm = calm ? 0 : range32(g, 0, 3000);
	p->crash_after_sync_ppm = calm ? 0 : range32(g, 0, 3000);
	p->step_crash_ppm = calm ? 0 : range32(g, 0, harsh ? 1000 : 300);
	p->disk_slow_ppm = range32(g, 0, 100000);
	p->snap_every = range32(g, 10, 200);
	p->max_payload = 512;
	/* drawn last: the parameters above keep their draws */
	p->disk_stall_ppm = range32(g, 0, 20000);
}

static struct sim_node *random_up_node(struct sim *s, bool want_pending)
{
	uint32_t ids[SIM_NODES], k = 0;
	for (uint32_t id = 1; id <= SIM_NODES; id++) {
		struct sim_node *n = &s->nodes[id];
		if (n->up && (!want_pending || n->m.persisting))
			ids[k++] = id;
	}
	if (!k)
		return want_pending ? random_up_node(s, false) : NULL;
	return &s->nodes[ids[rng_below(&s->rng, k)]];
}

static uint64_t partition_us(struct sim *s)
{
	return rng_below(&s->rng, 4) ? rng_range(&s->rng, 100000, 3000000)
				     : rng_range(&s->rng, 1000000, 10000000);
}

int faults_event(struct sim *s, struct sim_event *ev)
{
	(void)ev;
	if (s->healing)
		return -1;
	struct sim_params *p = &s->p;
	uint32_t weights[] = {p->w_crash, p->w_crash_pending, p->w_pause, p->w_isolate, p->w_oneway,
			      p->w_net,   p->w_wall,          p->w_wipe,  p->w_heal};
	uint32_t total = 0;
	for (size_t i = 0; i < sizeof(weights) / sizeof(weights[0]); i++)
		total += weights[i];
	uint32_t pick = (uint32_t)rng_below(&s->rng, total);
	size_t action = 0;
	while (pick >= weights[action])
		pick -= weights[action++];

	int touched = 0;
	struct sim_node *n;
	switch (action) {
	case 0:
	case 1:
		n = random_up_node(s, action == 1);
		if (n) {
			node_crash(s, n, "fault");
			touched = (int)n->id;
		}
		break;
	case 2:
		n = random_up_node(s, false);
		if (n) {
			node_pause(s, n, rng_range(&s->rng, 1, p->pause_max_ms) * 1000);
			touched = (int)n->id;
		}
		break;
	case 3: {
		uint32_t x = (uint32_t)rng_range(&s->rng, 1, SIM_NODES), mask = 0;
		for (uint32_t o = 1; o <= SIM_NODES; o++)
			if (o != x)
				mask |= net_link_bit(x, o) | net_link_bit(o, x);
		net_cut(s, mask, partition_us(s));
		break;
	}
	case 4: {
		uint32_t a = (uint32_t)rng_range(&s->rng, 1, SIM_NODES);
		uint32_t b = (uint32_t)rng_range(&s->rng, 1, SIM_NODES - 1);
		if (b >= a)
			b++;
		net_cut(s, net_link_bit(a, b), partition_us(s));
		break;
	}
	case 5:
		net_random_params(s);
		break;
	case 6: {
		n = &s->nodes[rng_range(&s->rng, 1, SIM_NODES)];
		int64_t by = clock_wall_jump(&n->clock, &s->rng);
		trace_add(s, TR_WALL, n->id, 0, 0, (uint64_t)by, 0, 0, 0);
		break;
	}
	case 7:
		touched = wipe_node(s, &s->nodes[rng_range(&s->rng, 1, SIM_NODES)]);
		break;
	default:
		net_heal_all(s);
	}
	uint64_t gap = rng_range(&s->rng, p->fault_gap_min_us, p->fault_gap_max_us);
	sim_push(s, s->now_us + gap, EV_FAULT, 0, 0);
	return touched;
}

static const uint8_t proposal_types[] = {
    RAFT_ENTRY_MASTER, RAFT_ENTRY_SYNC,     RAFT_ENTRY_STEP,      RAFT_ENTRY_HEALTH,
    RAFT_ENTRY_TRAPS,  RAFT_ENTRY_OPERATOR, RAFT_ENTRY_DELIVERED,
};

static void transfer(struct sim *s, struct sim_node *n)
{
	uint32_t target;
	if (rng_below(&s->rng, 10) == 0)
		target = SIM_WITNESS;
	else if (n->id == SIM_WITNESS)
		target = (uint32_t)rng_range(&s->rng, 1, 2);
	else
		target = 3 - n->id;
	int rc = raft_transfer(n->r, node_now_ms(s, n), target);
	trace_add(s, TR_TRANSFER, n->id, target, 0, (uint64_t)(int64_t)rc, 0, 0, 0);
	if (rc == 0 && target == SIM_WITNESS) {
		sim_fail(s, "witness_master", "n%u accepted a leadership transfer to the witness",
			 n->id);
		return;
	}
	if (rc == 0)
		s->stats.transfers++;
	else if (rc != DUET_ENOTLEADER && rc != DUET_EINVAL && rc != DUET_EBUSY)
		sim_fail(s, "core_error", "n%u: raft_transfer(%u): %s", n->id, target,
			 duet_strerror(rc));
}

static void propose(struct sim *s, struct sim_node *n)
{
	uint8_t data[512];
	uint8_t type = proposal_types[rng_below(&s->rng, sizeof(proposal_types))];
	uint32_t len = (uint32_t)rng_range(&s->rng, 0, s->p.max_payload);
	for (uint32_t i = 0; i < len; i += 8) {
		uint64_t w = rng_next(&s->rng);
		for (uint32_t k = 0; k < 8 && i + k < len; k++)
			data[i + k] = (uint8_t)(w >> (8 * k));
	}
	if (type == RAFT_ENTRY_DELIVERED) {
		/* the sink's confirmation, as the trap pipeline proposes it: every
		 * TRAPS entry the proposer applied was delivered. Without it no
		 * DELIVERED decodes, and the fsm's trap floor (fsm_trap_floor)
		 * holds every snapshot at the first TRAPS entry. */
		struct duet_delivered d = {.up_to_index = n->fsm.real.traps.last_index,
					   .sink = DUET_SINK_TCP};
		long dl = duet_delivered_encode(&d, data, sizeof data);
		len = dl > 0 ? (uint32_t)dl : 0;
	}
	uint64_t index = 0;
	int rc = raft_propose(n->r, node_now_ms(s, n), type, clock_wall_ms(&n->clock, s->now_us),
			      data, len, &index);
	trace_add(s, TR_PROPOSE, n->id, 0, type, (uint64_t)(int64_t)rc, index, len, 0);
	if (rc == 0 && n->id == SIM_WITNESS) {
		sim_fail(s, "witness_master",
			 "the witness accepted a %s proposal (index %" PRIu64 ")",
			 raft_entry_type_name(type), index);
		return;
	}
	if (rc == 0) {
		s->stats.proposals_ok++;
		struct sim_check *c = &s->check;
		if (s->healing && c->n_props < SIM_MAX_POST_HEAL_PROPOSALS) {
			struct raft_status st;
			raft_status(n->r, node_now_ms(s, n), &st);
			c->props[c->n_props++] = (struct post_heal_proposal){index, st.term};
		}
	} else if (rc != DUET_ENOTLEADER && rc != DUET_EWITNESS && rc != DUET_EBUSY) {
		sim_fail(s, "core_error", "n%u: raft_propose(%s, %u bytes): %s", n->id,
			 raft_entry_type_name(type), len, duet_strerror(rc));
	}
}

/* Busy phases propose at the seed's rate; quiet phases (a duet cluster is
 * mostly idle: entries come with failovers, health changes and traps) leave
 * the logs equal for seconds, which is when elections can succeed quickly and
 * lease and vote-guard mistakes show. */
static bool client_phase(struct sim *s)
{
	if (s->healing || !s->p.bursty)
		return false;
	if (s->now_us >= s->client_phase_end_us) {
		s->client_quiet = !s->client_quiet;
		uint32_t max_ms = s->client_quiet ? s->p.quiet_max_ms : s->p.busy_max_ms;
		s->client_phase_end_us = s->now_us + rng_range(&s->rng, 100, max_ms) * 1000;
	}
	return s->client_quiet;
}

int client_event(struct sim *s, struct sim_event *ev)
{
	(void)ev;
	bool quiet = client_phase(s);
	uint64_t gap = quiet ? rng_range(&s->rng, 100000, 1000000)
			     : rng_range(&s->rng, s->p.client_gap_min_us, s->p.client_gap_max_us);
	if (s->healing && gap > 100000)
		gap = 100000; /* keep proposing after healing: liveness needs one */
	sim_push(s, s->now_us + gap, EV_CLIENT, 0, 0);

	uint32_t leaders[SIM_NODES], k = 0;
	for (uint32_t id = 1; id <= SIM_NODES; id++)
		if (s->nodes[id].up && s->nodes[id].role == RAFT_LEADER)
			leaders[k++] = id;
	uint32_t id = k && rng_below(&s->rng, 4) ? leaders[rng_below(&s->rng, k)]
						 : (uint32_t)rng_range(&s->rng, 1, SIM_NODES);
	struct sim_node *n = &s->nodes[id];
	if (!n->up || n->paused)
		return 0; /* the client's request times out */
	if (quiet) {
		if (rng_ppm(&s->rng, s->p.quiet_transfer_ppm))
			transfer(s, n);
		else if (rng_below(&s->rng, 10) == 0)
			propose(s, n);
		else
			return 0;
	} else if (!s->healing && rng_ppm(&s->rng, s->p.transfer_ppm)) {
		transfer(s, n);
	} else {
		propose(s, n);
	}
	node_drive(s, n, false);
	return (int)n->id;
}

void faults_heal(struct sim *s)
{
	s->healing = true;
	s->heal_start_us = s->now_us;
	trace_add(s, TR_HEAL, 0, 0, 0, 0, 0, 0, 0);
	net_heal_all(s);
	net_calm(s);
	for (uint32_t id = 1; id <= SIM_NODES; id++) {
		struct sim_node *n = &s->nodes[id];
		if (!n->up && n->rejoin != REJOIN_WAITING)
			sim_push(s, s->now_us, EV_RESTART, id, ++n->restart_gen);
		else if (n->paused)
			sim_push(s, s->now_us, EV_RESUME, id, ++n->resume_gen);
	}
}
