/* SPDX-License-Identifier: MIT */
/*
 * health_internal.h - the set and check structures shared by the files of
 * the health module (set.c: lifetime and configuration; probe.c: ticks,
 * deadlines and hysteresis; status.c: queries and JSON; fs.c, nic.c,
 * isolation.c: built-in probes).
 */
#ifndef DUET_HEALTH_INTERNAL_H
#define DUET_HEALTH_INTERNAL_H

#include "duet/health.h"

/*
 * One probe's context. It is embedded in its check: at most one probe of a
 * check is in flight, and the next one cannot start before done() for the
 * previous one came, so the same memory is never shared by two probes.
 */
struct duet_health_probe_ctx {
	struct health_check *check;
	bool in_flight; /* started, done() not called yet */
	bool starting;  /* inside probe.start */
	bool
	    answered_early; /* done() came inside probe.start: handled by the deadline timer at 0 */
	bool expired;       /* deadline passed: the answer is ignored */
	bool abandoned;     /* paused or closing: the answer is ignored */
	bool cancelled;     /* probe.cancel was called */
	bool early_ok;
	uint32_t hung_failures;   /* failures this probe has cost since its deadline */
	uint64_t started_loop_ms; /* uv_now() at start: for deadline decisions */
	uint64_t started_ns;      /* uv_hrtime() at start: for the reported duration */
	char early_detail[DUET_HEALTH_DETAIL_MAX];
};

struct health_check {
	struct duet_health_set *set;
	char name[DUET_HEALTH_NAME_MAX];
	bool critical;
	bool paused;
	uint32_t interval_ms;
	uint32_t timeout_ms;
	uint32_t fail_after;
	uint32_t ok_after;
	struct duet_health_probe probe;

	uv_timer_t tick;     /* every interval_ms */
	uv_timer_t deadline; /* timeout_ms after a probe started */
	struct duet_health_probe_ctx ctx;

	int state; /* enum duet_health_state */
	uint32_t ok_streak;
	uint32_t fail_streak;
	char detail[DUET_HEALTH_DETAIL_MAX];
	uint32_t last_duration_ms;

	uint64_t probes;
	uint64_t failures;
	uint64_t timeouts;
	uint64_t skipped_ticks;
	uint64_t late_answers;
};

struct duet_health_set {
	uv_loop_t *loop;
	duet_health_transition_fn on_transition;
	void *data;
	struct health_check *checks[DUET_HEALTH_MAX_CHECKS];
	unsigned n_checks;
	bool started;
	bool closing;
	bool reaping;
	/* Open timer handles plus probes in flight; the set is freed when it
	 * reaches 0 after close. */
	unsigned pending;
	/* Never started; closed last so the set is always freed from a close
	 * callback, never from inside done() (a probe's code may still run
	 * after its done() returns). */
	uv_timer_t reaper;
	duet_health_closed_fn closed;
	void *closed_data;
};

/* set.c */
struct health_check *health_find(const struct duet_health_set *set, const char *name);
/* Frees the set once nothing is pending and it is closing. */
void health_maybe_reap(struct duet_health_set *set);

/* probe.c */
void health_tick_cb(uv_timer_t *timer);
void health_deadline_cb(uv_timer_t *timer);
/* Starts a probe now; the caller has checked nothing is in flight. */
void health_start_probe(struct health_check *c);
/* The answer of the probe in flight will be ignored; cancels it. */
void health_abandon_probe(struct health_check *c);
/* Counts one result and reports a change of state. */
void health_record(struct health_check *c, bool ok, const char *detail, uint32_t duration_ms);
/* Moves c to `state` (reporting it) without counting a result. */
void health_set_state(struct health_check *c, int state, const char *detail);

/* fs.c: the directory of an fs check, or NULL if `probe` is not one. */
const char *health_fs_dir(const struct duet_health_probe *probe);

#endif
