/* SPDX-License-Identifier: MIT */
/*
 * wipe.c - the WIPE fault and the rejoin that brings a wiped member back
 * (DESIGN.md section 3, incarnations, and section 6, rejoin).
 *
 * WIPE: a member (data node or witness) crashes, if it runs, and its storage
 * is lost: log, term, vote and snapshot. It must not come back as it was
 * with an empty store: it has forgotten its vote (it could vote twice in one
 * term) and the entries it acknowledged (a leader counted them towards a
 * commit). So it stays down, as a member whose disk was replaced stays down
 * until an operator runs `duetctl rejoin`, and this file plays that command:
 *
 *  1. EV_REJOIN, every 100-500 ms until done: find a member that says it is a
 *     data-node leader (the witness refuses proposals), take the membership
 *     in force in its log (raft_status), raise the wiped member's incarnation
 *     to one more than it had, and raft_propose() that MEMBERSHIP. A proposal
 *     is not repeated while its leader still leads the term it was made in,
 *     nor when the leader's log already names the new incarnation (that entry
 *     commits with the leader's log);
 *  2. the first time a node reports a MEMBERSHIP committed that gives the
 *     wiped member the new incarnation (rejoin_on_commit), the member restarts
 *     after 1-500 ms with a fresh store (the bootstrap entry only, term 1, no
 *     vote) and cfg.self_incarnation = the new incarnation;
 *  3. the core then refuses to vote or campaign until the MEMBERSHIP naming its
 *     new incarnation is in its own log, and it catches up from the leader by
 *     log or snapshot. It counts as caught up (REJOIN_NONE again) once its
 *     durable log or snapshot holds the committed rejoin entry.
 *
 * One lost disk at a time: a member is wiped only while no other member is
 * being rebuilt (waiting or catching up). Two rebuilt members out of three
 * leave a single intact voter: the rebuilt ones may not vote until they caught
 * up, and they can only catch up from a leader the intact one cannot elect
 * alone; a second lost disk is beyond what three members tolerate.
 *
 * The disk that was wiped is kept aside until the member caught up (`lost`):
 * acknowledgements it sent before the wipe may still be counted by a leader
 * that has not heard of the wipe, so check.c counts that disk as a holder of
 * a commit reported while the member waits, and only then; a commit that
 * needs it once the member is back is a violation (wiped_ack).
 *
 * Planted bug (DUET_SIM_PLANT_BUG_WIPE_WITHOUT_REJOIN, the duet-sim-bug-
 * wipe_without_rejoin build): the wiped member restarts at once with its empty
 * store under its OLD incarnation, no MEMBERSHIP, no rejoin. The checkers must
 * catch it (sim_catches_wipe_without_rejoin).
 */
#include <inttypes.h>
#include <string.h>

#include "sim.h"

#define REJOIN_RETRY_MIN_MS 100
#define REJOIN_RETRY_MAX_MS 500
#define REJOIN_PROPOSAL_MS  3000 /* a proposal not committed by then is made again */

static bool anyone_rebuilding(const struct sim *s)
{
	for (uint32_t id = 1; id <= SIM_NODES; id++)
		if (s->nodes[id].rejoin != REJOIN_NONE)
			return true;
	return false;
}

int wipe_node(struct sim *s, struct sim_node *n)
{
	if (anyone_rebuilding(s))
		return 0;
	node_crash(s, n, "wipe"); /* a no-op if it was down already */
	n->restart_gen++;         /* void the restart node_crash scheduled */
	trace_add(s, TR_WIPE, n->id, 0, 0, n->incarnation, disk_last_index(&n->disk), n->disk.term,
		  n->disk.vote);
	s->stats.wipes++;
	if (n->has_lost)
		disk_free(&n->lost);
	n->lost = n->disk; /* moved, not copied: disk_init starts a new one */
	n->has_lost = true;
	disk_init(&n->disk, &s->boot);
	sim_fsm_reset(&n->fsm); /* node_crash reset the driver */
#ifdef DUET_SIM_PLANT_BUG_WIPE_WITHOUT_REJOIN
	/* planted: back at once, empty store, old incarnation, no rejoin */
	n->rejoin = REJOIN_CATCHING_UP;
	n->rejoin_index = 0; /* no rejoin entry: it never counts as caught up */
	sim_push(s, s->now_us + rng_range(&s->rng, 1, 500) * 1000, EV_RESTART, n->id,
		 ++n->restart_gen);
#else
	n->rejoin = REJOIN_WAITING;
	n->rejoin_index = n->rejoin_chain = 0;
	struct sim_rejoin *rj = &s->rejoin;
	memset(rj, 0, sizeof(*rj));
	rj->node = n->id;
	rj->incarnation = n->incarnation + 1;
	rj->gen = (uint32_t)s->stats.wipes;
	/* the operator notices and runs duetctl rejoin */
	sim_push(s, s->now_us + rng_range(&s->rng, 50, 2000) * 1000, EV_REJOIN, 0, rj->gen);
#endif
	return (int)n->id;
}

/* The outstanding proposal may still commit: its leader leads the same term. */
static bool proposal_alive(struct sim *s)
{
	const struct sim_rejoin *rj = &s->rejoin;
	if (!rj->proposer || s->now_us > rj->prop_us + REJOIN_PROPOSAL_MS * 1000ull)
		return false;
	struct sim_node *p = &s->nodes[rj->proposer];
	return p->up && p->role == RAFT_LEADER && p->term == rj->prop_term;
}

static struct sim_node *data_leader(struct sim *s)
{
	for (uint32_t id = 1; id <= SIM_NODES; id++) {
		struct sim_node *n = &s->nodes[id];
		if (id != SIM_WITNESS && n->up && !n->paused && n->role == RAFT_LEADER)
			return n;
	}
	return NULL;
}

int rejoin_event(struct sim *s, struct sim_event *ev)
{
	struct sim_rejoin *rj = &s->rejoin;
	if (!rj->node || ev->gen != rj->gen)
		return -1;
	uint64_t gap_ms = rng_range(&s->rng, REJOIN_RETRY_MIN_MS, REJOIN_RETRY_MAX_MS);
	sim_push(s, s->now_us + gap_ms * 1000, EV_REJOIN, 0, rj->gen);
	if (proposal_alive(s))
		return 0;
	struct sim_node *l = data_leader(s);
	if (!l)
		return 0; /* no leader reachable: duetctl rejoin retries */
	uint64_t now = node_now_ms(s, l);
	struct raft_status st;
	raft_status(l->r, now, &st);
	struct duet_membership conf = st.conf;
	struct duet_member *m = NULL;
	for (uint32_t i = 0; i < conf.n; i++)
		if (conf.members[i].id == rj->node)
			m = &conf.members[i];
	if (!m) {
		sim_fail(s, "rejoin", "n%u's membership in force does not list n%u", l->id,
			 rj->node);
		return l->id;
	}
	if (m->incarnation >= rj->incarnation)
		return 0; /* already in the leader's log: it commits with it */
	m->incarnation = rj->incarnation;
	uint8_t buf[4096];
	long len = duet_membership_encode(&conf, buf, sizeof(buf));
	if (len < 0) {
		sim_fail(s, "rejoin", "duet_membership_encode: %s", duet_strerror((int)len));
		return l->id;
	}
	uint64_t index = 0;
	int rc = raft_propose(l->r, now, RAFT_ENTRY_MEMBERSHIP, clock_wall_ms(&l->clock, s->now_us),
			      buf, (uint32_t)len, &index);
	trace_add(s, TR_REJOIN, l->id, rj->node, RJ_PROPOSE, (uint64_t)(int64_t)rc, index,
		  rj->incarnation, 0);
	if (rc == 0) {
		rj->proposer = l->id;
		rj->prop_term = st.term;
		rj->prop_index = index;
		rj->prop_us = s->now_us;
		s->stats.rejoin_proposals++;
	} else if (rc != DUET_EBUSY && rc != DUET_ENOTLEADER) {
		sim_fail(s, "core_error", "n%u: raft_propose(MEMBERSHIP) for rejoin: %s", l->id,
			 duet_strerror(rc));
	}
	node_drive(s, l, false);
	return l->id;
}

void rejoin_on_commit(struct sim *s, const struct raft_entry *e)
{
	struct sim_rejoin *rj = &s->rejoin;
	if (e->type != RAFT_ENTRY_MEMBERSHIP || !rj->node)
		return;
	struct duet_membership conf;
	if (duet_membership_decode(e->data, e->len, &conf))
		return;
	const struct duet_member *m = duet_membership_find(&conf, rj->node);
	if (!m || m->incarnation != rj->incarnation)
		return;
	const struct commit_rec *c = check_commit(s, e->index);
	struct sim_node *n = &s->nodes[rj->node];
	n->incarnation = rj->incarnation;
	n->rejoin_index = e->index;
	n->rejoin_chain = c ? c->chain : 0;
	trace_add(s, TR_REJOIN, n->id, 0, RJ_COMMITTED, e->index, e->term, n->incarnation, 0);
	s->stats.rejoins++;
	memset(rj, 0, sizeof(*rj)); /* voids the pending EV_REJOIN */
	/* the store is replaced by a fresh one and the daemon starts */
	sim_push(s, s->now_us + rng_range(&s->rng, 1, 500) * 1000, EV_RESTART, n->id,
		 ++n->restart_gen);
}

void rejoin_on_boot(struct sim *s, struct sim_node *n)
{
	(void)s;
	if (n->rejoin == REJOIN_WAITING)
		n->rejoin = REJOIN_CATCHING_UP;
}

bool rejoin_behind(const struct sim *s, const struct sim_node *n)
{
	(void)s;
	if (n->rejoin == REJOIN_NONE)
		return false;
	return !n->rejoin_index || !disk_holds(&n->disk, n->rejoin_index, n->rejoin_chain);
}

void rejoin_on_persist(struct sim *s, struct sim_node *n)
{
	if (n->rejoin != REJOIN_CATCHING_UP || rejoin_behind(s, n))
		return;
	n->rejoin = REJOIN_NONE;
	if (n->has_lost) {
		disk_free(&n->lost);
		n->has_lost = false;
	}
	trace_add(s, TR_REJOIN, n->id, 0, RJ_CAUGHT_UP, n->rejoin_index, disk_last_index(&n->disk),
		  n->incarnation, 0);
}
