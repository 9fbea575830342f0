/* SPDX-License-Identifier: MIT */
/*
 * sim.c - one run of one seed: build the world, run events until --steps,
 * heal, wait for liveness, tear down.
 *
 * The world: members 1 and 2 are data nodes ("node-a", "node-b"), 3 the
 * witness, incarnation 1 each (a rejoin after a WIPE raises one, wipe.c);
 * every disk starts with raft_bootstrap_entry() (index 1, term 1,
 * MEMBERSHIP); each core gets raft_config_default() (or, in half the seeds, a
 * random valid configuration) plus its id, incarnation and a seed drawn from
 * the run's generator (a new one at every boot). Clock rates are drawn once
 * per node within the drift bound of that config (clock.c).
 *
 * The loop pops one event, lets its handler run, then runs the checks
 * (check.c) before the next event; the first violation ends the run. A step
 * is one popped event, void ones (a stale tick, an event deferred by a pause)
 * included, so step numbers are a pure function of the seed.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

void *sim_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		fprintf(stderr, "duet-sim: out of memory (%zu bytes)\n", n);
		exit(3);
	}
	return p;
}

void *sim_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q) {
		fprintf(stderr, "duet-sim: out of memory (%zu bytes)\n", n);
		exit(3);
	}
	return q;
}

void *sim_xmemdup(const void *p, size_t n)
{
	if (!n)
		return NULL;
	void *q = sim_xmalloc(n);
	memcpy(q, p, n);
	return q;
}

void sim_fail(struct sim *s, const char *invariant, const char *fmt, ...)
{
	if (s->failed)
		return;
	s->failed = true;
	s->fail_step = s->step;
	snprintf(s->fail_invariant, sizeof(s->fail_invariant), "%s", invariant);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->fail_detail, sizeof(s->fail_detail), fmt, ap);
	va_end(ap);
}

void sim_push(struct sim *s, uint64_t t_us, uint8_t kind, uint32_t node, uint32_t gen)
{
	struct sim_event ev = {.t_us = t_us, .kind = kind, .node = (uint8_t)node, .gen = gen};
	sched_push(&s->sched, ev);
}

static void make_conf(struct duet_membership *c)
{
	static const char *const names[SIM_NODES] = {"node-a", "node-b", "witness"};
	memset(c, 0, sizeof(*c));
	c->n = SIM_NODES;
	for (uint32_t i = 0; i < SIM_NODES; i++) {
		struct duet_member *m = &c->members[i];
		m->id = i + 1;
		m->kind = m->id == SIM_WITNESS ? DUET_MEMBER_WITNESS : DUET_MEMBER_DATA;
		m->incarnation = 1;
		snprintf(m->name, sizeof(m->name), "%s", names[i]);
		m->n_addrs = 1;
		snprintf(m->addrs[0], sizeof(m->addrs[0]), "10.0.0.%u:7400", m->id);
	}
}

/* Clock rates: a third of the seeds put the nodes at the extremes of the
 * drift bound (one fast, one slow, the third either), the rest draw within a
 * per-seed fraction of it. */
static void draw_clocks(struct sim *s)
{
	uint32_t rho = s->drift_ppm;
	bool extreme = rng_below(&s->rng, 3) == 0;
	uint32_t within = (uint32_t)rng_range(&s->rng, 0, rho);
	uint32_t fast = (uint32_t)rng_range(&s->rng, 1, SIM_NODES);
	uint32_t slow = fast % SIM_NODES + 1;
	for (uint32_t id = 1; id <= SIM_NODES; id++) {
		uint32_t rate = (uint32_t)rng_range(&s->rng, 1000000 - within, 1000000 + within);
		if (extreme)
			rate = id == fast              ? 1000000 + rho
			       : id == slow            ? 1000000 - rho
			       : rng_below(&s->rng, 2) ? 1000000 + rho
						       : 1000000 - rho;
		clock_init(&s->nodes[id].clock, &s->rng, rate);
	}
}

/* Half the seeds run the defaults (what ships); the others draw a valid
 * configuration, which moves every timer race around and, with small batches
 * and in-flight windows, exercises pipelining and probing much harder. */
static void draw_config(struct sim *s)
{
	struct raft_config *c = &s->cfg;
	struct sim_rng *g = &s->rng;
	raft_config_default(c);
	if (rng_below(g, 2))
		return;
	c->max_drift_ms = (uint32_t)rng_range(g, 10, 200);
	c->election_timeout_min_ms = (uint32_t)rng_range(g, 300, 2000);
	c->election_timeout_max_ms = c->election_timeout_min_ms + (uint32_t)rng_range(g, 0, 1500);
	c->lease_ms = (uint32_t)rng_range(g, 40, c->election_timeout_min_ms - c->max_drift_ms - 1);
	c->heartbeat_ms = (uint32_t)rng_range(g, 10, c->lease_ms / 2);
	c->witness_extra_ms = (uint32_t)rng_range(g, 0, 1000);
	c->transfer_timeout_ms = (uint32_t)rng_range(g, 100, 2500);
	c->max_inflight = (uint32_t)(rng_below(g, 2) ? rng_range(g, 1, 4) : rng_range(g, 1, 64));
	c->max_batch_entries =
	    (uint32_t)(rng_below(g, 2) ? rng_range(g, 1, 8) : rng_range(g, 1, 4096));
	c->max_batch_bytes = (uint32_t)rng_range(g, 600, 1u << 20);
	/* at least 16 entries per leader write: slower replication than the busiest
	 * workload proposes grows a backlog no liveness bound could be fair to */
	if (c->max_batch_entries * c->max_inflight < 16)
		c->max_inflight = (16 + c->max_batch_entries - 1) / c->max_batch_entries;
}

static bool setup(struct sim *s)
{
	make_conf(&s->conf);
	draw_config(s);
	s->cfg.self_id = 1;
	s->cfg.self_incarnation = 1;
	char err[200] = "";
	if (raft_config_check(&s->cfg, err, sizeof(err))) {
		sim_fail(s, "core_error", "raft_config_check(defaults): %s", err);
		return false;
	}
	int rc = raft_bootstrap_entry(&s->conf, &s->boot, s->boot_buf, sizeof(s->boot_buf));
	if (rc) {
		sim_fail(s, "core_error", "raft_bootstrap_entry: %s", duet_strerror(rc));
		return false;
	}
	if (s->boot.index != 1 || s->boot.term != 1 || s->boot.type != RAFT_ENTRY_MEMBERSHIP) {
		sim_fail(s, "core_error", "bootstrap entry is %" PRIu64 "/%" PRIu64 " %s",
			 s->boot.index, s->boot.term, raft_entry_type_name(s->boot.type));
		return false;
	}
	s->drift_ppm = clock_drift_bound_ppm(&s->cfg);
	const struct raft_config *c = &s->cfg;
	trace_add(s, TR_CONFIG, 0, 0, 0,
		  (uint64_t)c->election_timeout_min_ms << 32 | c->election_timeout_max_ms,
		  (uint64_t)c->lease_ms << 32 | c->heartbeat_ms,
		  (uint64_t)c->max_batch_entries << 32 | c->max_inflight,
		  (uint64_t)c->max_drift_ms << 32 | c->witness_extra_ms);
	faults_params(s);
	net_init(s);
	draw_clocks(s);
	for (uint32_t id = 1; id <= SIM_NODES; id++) {
		struct sim_node *n = &s->nodes[id];
		n->id = id;
		n->incarnation = 1;
		disk_init(&n->disk, &s->boot);
		node_init(s, n);
		sim_push(s, rng_range(&s->rng, 0, 50000), EV_RESTART, id, 0);
	}
	check_init(s);
	sim_push(s, rng_range(&s->rng, s->p.fault_gap_min_us, s->p.fault_gap_max_us), EV_FAULT, 0,
		 0);
	sim_push(s, rng_range(&s->rng, 0, s->p.client_gap_max_us), EV_CLIENT, 0, 0);
	return true;
}

static void teardown(struct sim *s)
{
	for (uint32_t id = 1; id <= SIM_NODES; id++) {
		struct sim_node *n = &s->nodes[id];
		member_free(&n->m);
		raft_free(n->r);
		for (size_t i = 0; i < n->n_deferred; i++)
			free(n->deferred[i].buf);
		free(n->deferred);
		disk_free(&n->disk);
		if (n->has_lost)
			disk_free(&n->lost);
	}
	sched_free(&s->sched);
	check_free(s);
}

static int dispatch(struct sim *s, struct sim_event *ev)
{
	switch (ev->kind) {
	case EV_DELIVER:
	case EV_TICK:
	case EV_PERSIST:
	case EV_RESTART:
	case EV_RESUME:
		return node_event(s, ev);
	case EV_LINK_HEAL:
		if (ev->aux != s->net.epoch)
			return -1;
		net_heal_mask(s, ev->gen, ev->aux);
		return 0;
	case EV_FAULT:
		return faults_event(s, ev);
	case EV_CLIENT:
		return client_event(s, ev);
	case EV_REJOIN:
		return rejoin_event(s, ev);
	}
	return -1;
}

/* SIM_LIVENESS_BOUND_MS, or more for a drawn configuration with slow timers:
 * four election rounds (the witness's included) and a transfer. */
static uint64_t liveness_bound_ms(const struct sim *s)
{
	const struct raft_config *c = &s->cfg;
	uint64_t slow =
	    4ull * (c->election_timeout_max_ms + c->witness_extra_ms) + c->transfer_timeout_ms;
	return slow > SIM_LIVENESS_BOUND_MS ? slow : SIM_LIVENESS_BOUND_MS;
}

static void loop(struct sim *s)
{
	uint64_t bound_us = liveness_bound_ms(s) * 1000;
	if (s->max_steps == 0)
		faults_heal(s);
	while (!s->failed) {
		struct sim_event ev;
		if (!sched_pop(&s->sched, &ev)) {
			sim_fail(s, "sim", "the event queue ran dry");
			break;
		}
		s->now_us = ev.t_us;
		s->step++;
		int touched = dispatch(s, &ev);
		free(ev.buf); /* handlers that keep a buffer clear ev.buf */
		if (touched >= 0 && !s->failed)
			check_after_event(s, touched > 0 ? &s->nodes[touched] : NULL);
		if (touched > 0 && !s->failed && !s->healing && s->nodes[touched].up &&
		    rng_ppm(&s->rng, s->p.step_crash_ppm))
			node_crash(s, &s->nodes[touched], "fault");
		if (s->failed)
			break;
		if (!s->healing && s->step >= s->max_steps)
			faults_heal(s);
		if (s->healing) {
			if (check_liveness(s))
				break;
			if (s->now_us > s->heal_start_us + bound_us) {
				const struct sim_check *c = &s->check;
				char rejoin[96] = "";
				for (uint32_t id = 1; id <= SIM_NODES; id++) {
					const struct sim_node *n = &s->nodes[id];
					if (n->rejoin == REJOIN_WAITING)
						snprintf(rejoin, sizeof(rejoin),
							 "; n%u waits for its rejoin to commit",
							 id);
					else if (n->rejoin == REJOIN_CATCHING_UP)
						snprintf(rejoin, sizeof(rejoin),
							 "; n%u rejoined but has not caught up",
							 id);
				}
				sim_fail(
				    s, "liveness",
				    "%" PRIu64
				    " ms after healing: %s, %s (%u proposals accepted since)%s",
				    bound_us / 1000,
				    c->live_leader ? "a data node led with a lease"
						   : "no data node led with a valid lease",
				    c->live_commit ? "a proposal committed everywhere"
						   : "no proposal made after healing was "
						     "applied on all three",
				    c->n_props, rejoin);
			}
		}
	}
}

void sim_run(uint64_t seed, uint64_t steps, bool wipes, bool verbose, bool want_tail,
	     struct sim_result *res)
{
	struct sim *s = calloc(1, sizeof(*s));
	if (!s) {
		fprintf(stderr, "duet-sim: out of memory\n");
		exit(3);
	}
	s->seed = seed;
	uint64_t x = seed;
	rng_seed(&s->rng, sim_splitmix64(&x) ^ 0x6475657473696d21ull);
	s->max_steps = steps;
	s->wipes = wipes;
	trace_init(&s->trace, verbose);
	sched_init(&s->sched);
	if (setup(s))
		loop(s);
	for (uint32_t id = 1; id <= SIM_NODES; id++)
		if (s->nodes[id].up)
			node_collect_counters(s, &s->nodes[id]);
	s->stats.steps = s->step;
	s->stats.sim_ms = s->now_us / 1000;
	memset(res, 0, sizeof(*res));
	res->profile = s->p.profile;
	res->failed = s->failed;
	res->fail_step = s->fail_step;
	snprintf(res->invariant, sizeof(res->invariant), "%s", s->fail_invariant);
	snprintf(res->detail, sizeof(res->detail), "%s", s->fail_detail);
	res->digest = s->trace.digest;
	res->stats = s->stats;
	if (s->failed && want_tail) {
		size_t size = 0;
		FILE *m = open_memstream(&res->tail, &size);
		if (m) {
			trace_dump(s, m, 50);
			fclose(m);
		}
	}
	teardown(s);
	free(s);
}
