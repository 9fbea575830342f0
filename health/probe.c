/* SPDX-License-Identifier: MIT */
/*
 * probe.c - one check's life on the loop: ticks start probes, the deadline
 * timer fails those that do not answer, done() counts the answers, and the
 * hysteresis rule turns counted results into states (health.h).
 *
 * Invariants:
 *  - At most one probe of a check is in flight (ctx.in_flight). A tick that
 *    finds one in flight a whole timeout_ms past its last counted failure
 *    counts one more, never starts a second probe; so a probe stuck in a
 *    hung filesystem costs one worker, and a merely slow one one failure.
 *  - A result is counted once: either its answer within the deadline, or
 *    the deadline's failure (then the answer, when it comes, is only
 *    counted as late). An abandoned probe (check paused, set closing)
 *    counts nothing.
 *  - No user callback runs inside another user's call: an answer given
 *    from inside probe.start waits for the deadline timer restarted at 0.
 *
 * The hysteresis rule (the whole state table; every state obeys it alike):
 *
 *     fail_streak >= fail_after  -> FAILING
 *     ok_streak   >= ok_after    -> OK
 *     otherwise                  -> unchanged
 *
 * A good result zeroes fail_streak and a failed one ok_streak, so the two
 * conditions never hold at once.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "health_internal.h"

static int next_state(const struct health_check *c)
{
	if (c->fail_streak >= c->fail_after)
		return DUET_HEALTH_FAILING;
	if (c->ok_streak >= c->ok_after)
		return DUET_HEALTH_OK;
	return c->state;
}

void health_set_state(struct health_check *c, int state, const char *detail)
{
	snprintf(c->detail, sizeof(c->detail), "%s", detail);
	if (state == c->state)
		return;
	int old = c->state;
	c->state = state;
	if (!c->set->on_transition)
		return;
	/* A copy: the callback may cause a nested transition of this check,
	 * which rewrites c->detail. */
	char detail_copy[DUET_HEALTH_DETAIL_MAX];
	snprintf(detail_copy, sizeof(detail_copy), "%s", detail);
	c->set->on_transition(c->set->data, c->name, old, state, c->critical, detail_copy);
}

void health_record(struct health_check *c, bool ok, const char *detail, uint32_t duration_ms)
{
	c->last_duration_ms = duration_ms;
	if (ok) {
		c->ok_streak++;
		c->fail_streak = 0;
	} else {
		c->fail_streak++;
		c->ok_streak = 0;
		c->failures++;
	}
	if (!detail || !detail[0])
		detail = ok ? "ok" : "failed";
	health_set_state(c, next_state(c), detail);
}

static uint32_t elapsed_ms(const struct health_check *c)
{
	uint64_t ns = uv_hrtime() - c->ctx.started_ns;
	uint64_t ms = ns / 1000000u;
	return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

/* Every path out of "in flight" goes through here. */
static void end_in_flight(struct health_check *c)
{
	c->ctx.in_flight = false;
	c->ctx.answered_early = false;
	uv_timer_stop(&c->deadline);
	c->set->pending--;
}

static void finish(struct health_check *c, bool ok, const char *detail)
{
	struct duet_health_probe_ctx *ctx = &c->ctx;
	bool counted = !ctx->expired && !ctx->abandoned;
	if (ctx->expired)
		c->late_answers++;
	uint32_t duration = elapsed_ms(c);
	end_in_flight(c);
	if (counted)
		health_record(c, ok, detail, duration);
	health_maybe_reap(c->set);
}

static void done(struct duet_health_probe_ctx *ctx, bool ok, const char *detail)
{
	struct health_check *c = ctx->check;
	if (!ctx->in_flight || ctx->answered_early)
		return; /* a second done() for one probe: the contract is broken, count nothing */
	if (ctx->starting) {
		ctx->answered_early = true;
		ctx->early_ok = ok;
		snprintf(ctx->early_detail, sizeof(ctx->early_detail), "%s", detail ? detail : "");
		return;
	}
	finish(c, ok, detail);
}

static void cancel(struct health_check *c)
{
	struct duet_health_probe_ctx *ctx = &c->ctx;
	if (ctx->cancelled || !c->probe.cancel)
		return;
	ctx->cancelled = true;
	c->probe.cancel(c->probe.probe_data, ctx); /* may call done() at once */
}

/* The probe in flight missed its deadline: one failure, then it is told. */
static void expire(struct health_check *c)
{
	struct duet_health_probe_ctx *ctx = &c->ctx;
	ctx->expired = true;
	ctx->hung_failures = 1;
	uv_timer_stop(&c->deadline);
	c->timeouts++;
	char detail[96];
	snprintf(detail, sizeof(detail), "no answer within %" PRIu32 " ms", c->timeout_ms);
	health_record(c, false, detail, c->timeout_ms);
	if (ctx->in_flight)
		cancel(c);
}

void health_deadline_cb(uv_timer_t *timer)
{
	struct health_check *c = timer->data;
	struct duet_health_probe_ctx *ctx = &c->ctx;
	if (!ctx->in_flight)
		return;
	if (ctx->answered_early) {
		ctx->answered_early = false;
		finish(c, ctx->early_ok, ctx->early_detail);
		return;
	}
	if (!ctx->expired && !ctx->abandoned)
		expire(c);
}

void health_abandon_probe(struct health_check *c)
{
	struct duet_health_probe_ctx *ctx = &c->ctx;
	if (!ctx->in_flight)
		return;
	if (ctx->answered_early) {
		/* Answered already; only the deferred handling is left. */
		end_in_flight(c);
		health_maybe_reap(c->set);
		return;
	}
	uv_timer_stop(&c->deadline);
	ctx->abandoned = true;
	cancel(c);
}

void health_start_probe(struct health_check *c)
{
	struct duet_health_probe_ctx *ctx = &c->ctx;
	ctx->in_flight = true;
	ctx->starting = true;
	ctx->answered_early = false;
	ctx->expired = false;
	ctx->hung_failures = 0;
	ctx->abandoned = false;
	ctx->cancelled = false;
	ctx->started_loop_ms = uv_now(c->set->loop);
	ctx->started_ns = uv_hrtime();
	c->set->pending++;
	c->probes++;
	uv_timer_start(&c->deadline, health_deadline_cb, c->timeout_ms, 0);
	int rc = c->probe.start(c->probe.probe_data, ctx, done);
	ctx->starting = false;
	if (ctx->answered_early) {
		uv_timer_start(&c->deadline, health_deadline_cb, 0, 0);
		return;
	}
	if (rc != 0) {
		uint32_t duration = elapsed_ms(c);
		end_in_flight(c);
		char detail[DUET_HEALTH_DETAIL_MAX];
		snprintf(detail, sizeof(detail), "probe could not start: %s", duet_strerror(rc));
		health_record(c, false, detail, duration);
	}
}

void health_tick_cb(uv_timer_t *timer)
{
	struct health_check *c = timer->data;
	struct duet_health_probe_ctx *ctx = &c->ctx;
	if (c->paused || c->set->closing)
		return;
	if (ctx->in_flight && !ctx->expired && !ctx->abandoned && !ctx->answered_early) {
		uint64_t age = uv_now(c->set->loop) - ctx->started_loop_ms;
		if (age < c->timeout_ms) {
			c->skipped_ticks++; /* it still has time */
			return;
		}
		/* Due together with the deadline timer, which has not run yet. */
		expire(c);
		if (c->paused || c->set->closing)
			return;
	}
	if (ctx->in_flight && !ctx->answered_early) {
		/* One slow probe is not a failed check (DESIGN.md 4.9): a probe
		 * still out costs one more failure per whole timeout_ms it is
		 * late, not one per tick, so fail_after failures take
		 * fail_after * timeout_ms of hanging (a hung disk still fails) */
		uint64_t age = uv_now(c->set->loop) - ctx->started_loop_ms;
		if (age < (uint64_t)(ctx->hung_failures + 1) * c->timeout_ms) {
			c->skipped_ticks++;
			return;
		}
		ctx->hung_failures++;
		c->timeouts++;
		char detail[128];
		snprintf(detail, sizeof(detail),
			 "no answer within %" PRIu32 " ms (probe still running after %" PRIu32
			 " ms)",
			 c->timeout_ms, elapsed_ms(c));
		health_record(c, false, detail, elapsed_ms(c));
		return;
	}
	if (ctx->in_flight)
		return; /* answered inside start; its handling is one timer away */
	health_start_probe(c);
}
