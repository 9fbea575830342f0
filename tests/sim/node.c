/* SPDX-License-Identifier: MIT */
/*
 * node.c - one member's process: the daemon's own driver (daemon/member.c,
 * member.h) on a simulated disk, network and clock; crashes, restarts and
 * pauses.
 *
 * member_drive() and member_persisted() are duetd's loop: raft_ready ->
 * send u.msgs -> if the update needs the disk, start the write (it lands
 * after a random latency, EV_PERSIST), else finish it at once. When a write
 * lands: apply it durably (disk.c) -> member_persisted(): raft_persisted ->
 * send u.msgs_after -> restore the snapshot if asked -> apply u.committed to
 * fsm/ -> checkpoint -> snapshot at the fsm's trap floor. One update
 * outstanding; while it is, the driver sends what raft_ready_msgs() hands
 * out after every event. raft_tick runs at raft_next_deadline() (one armed
 * tick per node, re-armed when the deadline moves). Times given to the core
 * are the node's local monotonic milliseconds (clock.c). The checkers hear
 * every step through the driver's hooks (sim_member_ops below) and stop it
 * (member_halt) when one fails.
 *
 * Faults at the edges of that loop: a crash at any moment discards the write
 * in progress and the in-memory state machine (member_reset, raft_free);
 * an injected fsync failure crashes the node at that point, since an fsync
 * error is fatal by design and never retried (DESIGN.md section 3); a crash
 * right after the write became durable but before raft_persisted() leaves a
 * durable write the core never heard about. A restart is raft_new +
 * raft_load from the durable disk, with the state machine restored from the
 * durable snapshot (member_start); the core then hands the entries after it
 * out again.
 *
 * A paused process runs nothing: its events (messages, ticks, the write's
 * completion) queue in arrival order and run at the resume time, all with the
 * clock that jumped meanwhile (clock.c explains why that is what a jump is).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

uint64_t node_now_ms(const struct sim *s, const struct sim_node *n)
{
	return clock_local_ms(&n->clock, s->now_us);
}

void node_collect_counters(struct sim *s, struct sim_node *n)
{
	struct raft_status st;
	raft_status(n->r, node_now_ms(s, n), &st);
	s->stats.elections += st.counters.elections;
	s->stats.snapshots_installed += st.counters.snapshots_installed;
}

void node_boot(struct sim *s, struct sim_node *n)
{
	struct raft_config cfg = s->cfg;
	cfg.self_id = n->id;
	cfg.self_incarnation = n->incarnation;
	cfg.seed = rng_next(&s->rng);
	int rc = raft_new(&cfg, &n->r);
	if (rc) {
		sim_fail(s, "core_error", "n%u: raft_new: %s", n->id, duet_strerror(rc));
		n->r = NULL;
		return;
	}
	struct raft_load_state st;
	disk_load_state(&n->disk, &st);
	uint64_t now = node_now_ms(s, n);
	rc = raft_load(n->r, &st, now);
	if (rc) {
		sim_fail(s, "core_error", "n%u: raft_load (term %" PRIu64 ", %zu entries): %s",
			 n->id, st.term, st.n_entries, duet_strerror(rc));
		raft_free(n->r);
		n->r = NULL;
		return;
	}
	sim_fsm_reset(&n->fsm);
	member_reset(&n->m);
	const struct sim_disk *d = &n->disk;
	if (member_start(&n->m, n->r, d->has_snap ? d->snap_data : NULL, d->snap_len,
			 d->snap.index)) {
		sim_fail(s, "snapshot", "n%u: durable snapshot does not restore", n->id);
		return;
	}
	if (d->has_snap) {
		sim_fsm_restored(&n->fsm, d->snap_chain);
		check_fsm_state(s, n, "restored at boot");
	}
	role_reset(n);
	n->up = true;
	n->paused = false;
	n->tick_armed = false;
	n->role = RAFT_FOLLOWER;
	n->term = n->disk.term;
	n->lc_pending = false;
	n->boots++;
	if (n->boots > 1)
		s->stats.restarts++;
	trace_add(s, TR_BOOT, n->id, 0, 0, n->disk.term, disk_last_index(&n->disk),
		  n->disk.has_snap ? n->disk.snap.index : 0, now);
	rejoin_on_boot(s, n);
	node_drive(s, n, false);
}

static void drop_deferred(struct sim_node *n)
{
	for (size_t i = 0; i < n->n_deferred; i++)
		free(n->deferred[i].buf);
	n->n_deferred = 0;
}

void node_crash(struct sim *s, struct sim_node *n, const char *why)
{
	if (!n->up)
		return;
	uint8_t reason = 0;
	if (strcmp(why, "fsync") == 0)
		reason = 2;
	else if (strcmp(why, "after-sync") == 0)
		reason = 3;
	else if (n->m.persisting)
		reason = 1;
	trace_add(s, TR_CRASH, n->id, 0, reason, n->m.persisting, 0, 0, 0);
	node_collect_counters(s, n);
	member_reset(&n->m);
	raft_free(n->r);
	n->r = NULL;
	n->up = n->paused = n->tick_armed = false;
	drop_deferred(n);
	n->tick_gen++;
	n->persist_gen++;
	n->resume_gen++;
	n->restart_gen++;
	sim_fsm_reset(&n->fsm);
	n->lc_pending = false;
	n->role = RAFT_FOLLOWER;
	s->stats.crashes++;
	/* often a supervisor restarts the process at once: that is when a
	 * member forgets which leader it heard from (the restart guard) */
	uint64_t delay_ms = rng_below(&s->rng, 5) < 2 ? rng_range(&s->rng, 1, 500)
						      : rng_range(&s->rng, 1, s->p.restart_max_ms);
	struct sim_event ev = {.t_us = s->now_us + delay_ms * 1000,
			       .kind = EV_RESTART,
			       .node = (uint8_t)n->id,
			       .gen = n->restart_gen};
	sched_push(&s->sched, ev);
}

void node_pause(struct sim *s, struct sim_node *n, uint64_t duration_us)
{
	if (!n->up || n->paused)
		return;
	n->paused = true;
	n->resume_gen++;
	s->stats.pauses++;
	trace_add(s, TR_PAUSE, n->id, 0, 0, duration_us / 1000, 0, 0, 0);
	struct sim_event ev = {.t_us = s->now_us + duration_us,
			       .kind = EV_RESUME,
			       .node = (uint8_t)n->id,
			       .gen = n->resume_gen};
	sched_push(&s->sched, ev);
}

static void send_all(struct sim *s, struct sim_node *n, const struct raft_msg *msgs, size_t k)
{
	for (size_t i = 0; i < k && !s->failed; i++)
		net_send(s, n, &msgs[i]);
}

/* ---- the driver's hooks (member.h) ---------------------------------------- */

/* Stops the driver once a checker failed the run. */
static void halt_if_failed(struct sim_node *n)
{
	if (n->sim->failed)
		member_halt(&n->m);
}

static void hook_send(void *ctx, const struct raft_msg *msgs, size_t k)
{
	struct sim_node *n = ctx;
	send_all(n->sim, n, msgs, k);
	halt_if_failed(n);
}

static int hook_persist_start(void *ctx, struct raft_update *u)
{
	struct sim_node *n = ctx;
	struct sim *s = n->sim;
	uint64_t latency = rng_range(&s->rng, 50, 5000);
	if (rng_ppm(&s->rng, s->p.disk_slow_ppm))
		latency = rng_range(&s->rng, 5000, 50000);
	if (rng_ppm(&s->rng, s->p.disk_stall_ppm)) {
		latency = rng_range(&s->rng, 200000, 2500000);
		s->stats.disk_stalls++;
	}
	struct sim_event ev = {.t_us = s->now_us + latency,
			       .kind = EV_PERSIST,
			       .node = (uint8_t)n->id,
			       .gen = ++n->persist_gen};
	sched_push(&s->sched, ev);
	return 0;
}

static void hook_on_ready(void *ctx, const struct raft_update *u)
{
	struct sim_node *n = ctx;
	struct sim *s = n->sim;
	trace_add(s, TR_READY, n->id, 0, 0, u->seq, u->n_msgs,
		  (uint64_t)u->n_msgs_after << 32 | (uint32_t)u->n_entries, u->n_committed);
	disk_preview(s, n, u);
	for (size_t i = 0; i < u->n_committed && !s->failed; i++) {
		check_commit_report(s, n, &u->committed[i]);
		rejoin_on_commit(s, &u->committed[i]);
	}
	halt_if_failed(n);
}

static void hook_before_restore(void *ctx, const struct raft_update *u)
{
	struct sim_node *n = ctx;
	check_restore(n->sim, n, u);
	halt_if_failed(n);
}

static void hook_on_restored(void *ctx, const struct fsm *f, const uint8_t *keys, uint32_t keys_len)
{
	struct sim_node *n = ctx;
	struct sim *s = n->sim;
	const struct commit_rec *c = check_commit(s, f->applied_index);
	sim_fsm_restored(&n->fsm, c ? c->chain : 0); /* check_restore found it */
	trace_add(s, TR_RESTORE, n->id, 0, 0, f->applied_index, f->applied_term, 0, 0);
	check_fsm_state(s, n, "restored from the leader's snapshot");
	halt_if_failed(n);
}

static void hook_before_apply(void *ctx, const struct raft_entry *e)
{
	struct sim_node *n = ctx;
	check_apply(n->sim, n, e);
	check_fsm_before(n, e, &n->pre);
	halt_if_failed(n);
}

static void hook_on_applied(void *ctx, const struct raft_entry *e, const struct fsm_result *res,
			    uint32_t master_before)
{
	struct sim_node *n = ctx;
	struct sim *s = n->sim;
	sim_fsm_applied(&n->fsm, e);
	check_fsm_after(s, n, e, &n->pre, res);
	if (!s->failed)
		check_fsm_state(s, n, "applied");
	halt_if_failed(n);
}

static void hook_on_snapshot(void *ctx, uint64_t index, int rc)
{
	struct sim_node *n = ctx;
	struct sim *s = n->sim;
	trace_add(s, TR_SNAPSHOT, n->id, 0, 0, index, (uint64_t)(int64_t)rc, 0, 0);
	if (rc == 0)
		s->stats.snapshots_taken++;
	else if (rc == DUET_ENOMEM)
		sim_fail(s, "core_error", "n%u: raft_snapshot_taken: %s", n->id, duet_strerror(rc));
	halt_if_failed(n);
}

static void hook_fatal(void *ctx, const char *what, int rc)
{
	struct sim_node *n = ctx;
	/* an fsm_apply error is a gap or a reordering: the driver's bug */
	sim_fail(n->sim, strcmp(what, "fsm_apply") == 0 ? "state_machine_safety" : "core_error",
		 "n%u: %s: %s", n->id, what, duet_strerror(rc));
}

static const struct member_ops sim_member_ops = {
    .send = hook_send,
    .persist_start = hook_persist_start,
    .on_ready = hook_on_ready,
    .before_restore = hook_before_restore,
    .on_restored = hook_on_restored,
    .before_apply = hook_before_apply,
    .on_applied = hook_on_applied,
    .on_snapshot = hook_on_snapshot,
    .fatal = hook_fatal,
};

void node_init(struct sim *s, struct sim_node *n)
{
	/* duetd's thresholds scaled to a run: a snapshot every snap_every
	 * entries, checkpoints four times as often */
	struct member_config cfg = {
	    .snapshot_every_entries = s->p.snap_every,
	    .snapshot_every_bytes = UINT64_MAX,
	    .ckpt_every = s->p.snap_every / 4 ? s->p.snap_every / 4 : 1,
	};
	n->sim = s;
	member_init(&n->m, &cfg, &sim_member_ops, n, &n->fsm.real);
	sim_fsm_reset(&n->fsm);
}

static void persist_done(struct sim *s, struct sim_node *n)
{
	struct raft_update *u = &n->m.update;
	if (!s->healing && rng_ppm(&s->rng, s->p.fsync_fail_ppm)) {
		trace_add(s, TR_FSYNC_FAIL, n->id, 0, 0, u->seq, 0, 0, 0);
		s->stats.fsync_failures++;
		node_crash(s, n, "fsync");
		return;
	}
	disk_apply(s, n, u);
	rejoin_on_persist(s, n);
	s->stats.persists++;
	trace_add(s, TR_PERSIST, n->id, 0, 0, u->seq, u->n_entries, disk_last_index(&n->disk),
		  n->disk.term);
	if (s->failed)
		return;
	if (!s->healing && rng_ppm(&s->rng, s->p.crash_after_sync_ppm)) {
		node_crash(s, n, "after-sync");
		return;
	}
	member_persisted(&n->m, node_now_ms(s, n), 0);
}

void node_drive(struct sim *s, struct sim_node *n, bool after_tick)
{
	if (!n->up || n->paused || s->failed)
		return;
	role_step(s, n);
	if (s->failed)
		return;
	member_drive(&n->m, node_now_ms(s, n));
	if (s->failed)
		return;
	uint64_t d = raft_next_deadline(n->r);
	if (n->tick_armed && d == n->tick_deadline_ms)
		return;
	n->tick_gen++;
	n->tick_armed = true;
	n->tick_deadline_ms = d;
	uint64_t now = node_now_ms(s, n);
	if (d > now + 100000000ull)
		return; /* nothing to time: no tick until the deadline moves */
	uint64_t t = clock_real_at_ms(&n->clock, d);
	if (t < s->now_us)
		t = s->now_us;
	if (after_tick && d <= now) {
		/* the core asked to be ticked again at once after a tick: do it a
		 * millisecond later rather than spin at one instant */
		t = s->now_us + 1000;
		s->stats.tick_spins++;
	}
	struct sim_event ev = {
	    .t_us = t, .kind = EV_TICK, .node = (uint8_t)n->id, .gen = n->tick_gen};
	sched_push(&s->sched, ev);
}

static void defer(struct sim_node *n, struct sim_event *ev)
{
	if (n->n_deferred == n->cap_deferred) {
		n->cap_deferred = n->cap_deferred ? n->cap_deferred * 2 : 32;
		n->deferred = sim_xrealloc(n->deferred, n->cap_deferred * sizeof(*n->deferred));
	}
	n->deferred[n->n_deferred++] = *ev;
	ev->buf = NULL; /* the deferred copy owns it now */
}

static void resume(struct sim *s, struct sim_node *n)
{
	n->paused = false;
	trace_add(s, TR_RESUME, n->id, 0, 0, n->n_deferred, node_now_ms(s, n), 0, 0);
	for (size_t i = 0; i < n->n_deferred; i++) {
		struct sim_event ev = n->deferred[i];
		ev.t_us = s->now_us;
		sched_push(&s->sched, ev);
	}
	n->n_deferred = 0;
}

int node_event(struct sim *s, struct sim_event *ev)
{
	struct sim_node *n = &s->nodes[ev->node];
	switch (ev->kind) {
	case EV_RESTART:
		if (ev->gen != n->restart_gen || n->up)
			return -1;
		if (n->boots && !s->healing && rng_below(&s->rng, 5) == 0) {
			clock_reboot(&n->clock, &s->rng, s->now_us);
			trace_add(s, TR_BOOT, n->id, 0, 1, 0, 0, 0, node_now_ms(s, n));
		}
		node_boot(s, n);
		return (int)n->id;
	case EV_RESUME:
		if (ev->gen != n->resume_gen || !n->paused)
			return -1;
		resume(s, n);
		return (int)n->id;
	case EV_TICK:
		if (!n->up || ev->gen != n->tick_gen)
			return -1;
		break;
	case EV_PERSIST:
		if (!n->up || ev->gen != n->persist_gen || !n->m.persisting)
			return -1;
		break;
	case EV_DELIVER:
		if (!n->up) {
			s->stats.msgs_dropped++;
			trace_add(s, TR_DROP, n->id, ev->from, DROP_DOWN,
				  ev->len > 1 ? ev->buf[1] : 0, 0, 0, 0);
			free(ev->buf);
			ev->buf = NULL;
			return 0;
		}
		break;
	default:
		return -1;
	}
	if (n->paused) {
		defer(n, ev);
		return -1;
	}
	uint64_t now = node_now_ms(s, n);
	if (ev->kind == EV_TICK) {
		n->tick_armed = false;
		trace_add(s, TR_TICK, n->id, 0, 0, now, 0, 0, 0);
		int rc = raft_tick(n->r, now);
		if (rc)
			sim_fail(s, "core_error", "n%u: raft_tick: %s", n->id, duet_strerror(rc));
		node_drive(s, n, true);
	} else if (ev->kind == EV_PERSIST) {
		persist_done(s, n);
		node_drive(s, n, false);
	} else {
		struct raft_msg m;
		if (net_receive(s, ev, &m) == 0) {
			int rc = raft_step(n->r, now, &m);
			raft_msg_release(&m);
			if (rc)
				sim_fail(s, "core_error", "n%u: raft_step: %s", n->id,
					 duet_strerror(rc));
		}
		free(ev->buf);
		ev->buf = NULL;
		node_drive(s, n, false);
	}
	return (int)n->id;
}
