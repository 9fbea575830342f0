/* SPDX-License-Identifier: MIT */
/*
 * set.c - lifetime and configuration of a health set: creation, adding
 * checks, start, pause, probe_now and close (behaviour in health.h).
 *
 * Lifetime: every check owns two timers (tick and deadline); the set counts
 * open timers and probes in flight in `pending`. Close stops and closes the
 * timers and abandons (cancels) the probes; each close callback and each
 * done() lowers `pending`; at zero the set closes its never-started `reaper`
 * timer, and that close callback frees everything. So the memory a probe may
 * touch (its context, its probe_data) outlives the probe's last callback,
 * however late a hung probe answers, and the free never happens inside a
 * caller's call.
 */
#include <stdlib.h>
#include <string.h>

#include "health_internal.h"

const char *duet_health_state_name(int state)
{
	switch (state) {
	case DUET_HEALTH_UNKNOWN:
		return "UNKNOWN";
	case DUET_HEALTH_OK:
		return "OK";
	case DUET_HEALTH_FAILING:
		return "FAILING";
	}
	return "?";
}

int duet_health_set_new(uv_loop_t *loop, duet_health_transition_fn on_transition, void *data,
			struct duet_health_set **out)
{
	if (!loop || !out)
		return DUET_EINVAL;
	struct duet_health_set *set = calloc(1, sizeof(*set));
	if (!set)
		return DUET_ENOMEM;
	set->loop = loop;
	set->on_transition = on_transition;
	set->data = data;
	int rc = uv_timer_init(loop, &set->reaper);
	if (rc) {
		free(set);
		return rc;
	}
	set->reaper.data = set;
	*out = set;
	return 0;
}

struct health_check *health_find(const struct duet_health_set *set, const char *name)
{
	if (!set || !name)
		return NULL;
	for (unsigned i = 0; i < set->n_checks; i++)
		if (strcmp(set->checks[i]->name, name) == 0)
			return set->checks[i];
	return NULL;
}

static void free_unadded_check(uv_handle_t *h)
{
	free(h->data);
}

int duet_health_add(struct duet_health_set *set, const struct duet_health_check_config *config,
		    const struct duet_health_probe *probe)
{
	if (!set || !config || !probe || !probe->start || set->closing)
		return DUET_EINVAL;
	if (!config->name || !config->name[0] || strlen(config->name) >= DUET_HEALTH_NAME_MAX ||
	    health_find(set, config->name))
		return DUET_EINVAL;
	if (config->interval_ms == 0 || config->timeout_ms == 0)
		return DUET_EINVAL;
	if (set->n_checks == DUET_HEALTH_MAX_CHECKS)
		return DUET_ETOOBIG;
	const char *dir = health_fs_dir(probe);
	if (dir)
		for (unsigned i = 0; i < set->n_checks; i++) {
			const char *other = health_fs_dir(&set->checks[i]->probe);
			if (other && strcmp(other, dir) == 0)
				return DUET_EINVAL;
		}

	struct health_check *c = calloc(1, sizeof(*c));
	if (!c)
		return DUET_ENOMEM;
	c->set = set;
	strcpy(c->name, config->name);
	c->critical = config->critical;
	c->paused = config->start_paused;
	c->interval_ms = config->interval_ms;
	c->timeout_ms = config->timeout_ms;
	c->fail_after = config->fail_after ? config->fail_after : DUET_HEALTH_DEFAULT_FAIL_AFTER;
	c->ok_after = config->ok_after ? config->ok_after : DUET_HEALTH_DEFAULT_OK_AFTER;
	c->probe = *probe;
	c->ctx.check = c;
	c->state = DUET_HEALTH_UNKNOWN;
	strcpy(c->detail, c->paused ? "paused" : "not probed yet");
	int rc = uv_timer_init(set->loop, &c->tick);
	if (rc) {
		free(c);
		return rc;
	}
	rc = uv_timer_init(set->loop, &c->deadline);
	if (rc) {
		/* The tick timer is open: it can only go through uv_close. */
		c->tick.data = c;
		uv_close((uv_handle_t *)&c->tick, free_unadded_check);
		return rc;
	}
	c->tick.data = c;
	c->deadline.data = c;
	set->pending += 2;
	set->checks[set->n_checks++] = c;
	if (set->started && !c->paused)
		uv_timer_start(&c->tick, health_tick_cb, 0, c->interval_ms);
	return 0;
}

int duet_health_start(struct duet_health_set *set)
{
	if (!set || set->closing || set->started)
		return DUET_EINVAL;
	set->started = true;
	for (unsigned i = 0; i < set->n_checks; i++) {
		struct health_check *c = set->checks[i];
		if (!c->paused)
			uv_timer_start(&c->tick, health_tick_cb, 0, c->interval_ms);
	}
	return 0;
}

int duet_health_set_pause(struct duet_health_set *set, const char *name, bool paused)
{
	if (!set || set->closing)
		return DUET_EINVAL;
	struct health_check *c = health_find(set, name);
	if (!c)
		return DUET_ENOENT;
	if (c->paused == paused)
		return 0;
	c->paused = paused;
	if (paused) {
		uv_timer_stop(&c->tick);
		health_abandon_probe(c);
		c->ok_streak = 0;
		c->fail_streak = 0;
		health_set_state(c, DUET_HEALTH_UNKNOWN, "paused");
	} else if (set->started) {
		uv_timer_start(&c->tick, health_tick_cb, 0, c->interval_ms);
	}
	return 0;
}

int duet_health_probe_now(struct duet_health_set *set, const char *name)
{
	if (!set || set->closing)
		return DUET_EINVAL;
	struct health_check *c = health_find(set, name);
	if (!c)
		return DUET_ENOENT;
	if (c->paused)
		return DUET_EINVAL;
	if (c->ctx.in_flight)
		return DUET_EBUSY;
	if (set->started)
		uv_timer_start(&c->tick, health_tick_cb, c->interval_ms, c->interval_ms);
	health_start_probe(c);
	return 0;
}

static void reaper_closed(uv_handle_t *h)
{
	struct duet_health_set *set = h->data;
	for (unsigned i = 0; i < set->n_checks; i++) {
		struct health_check *c = set->checks[i];
		if (c->probe.release)
			c->probe.release(c->probe.probe_data);
		free(c);
	}
	duet_health_closed_fn closed = set->closed;
	void *data = set->closed_data;
	free(set);
	if (closed)
		closed(data);
}

void health_maybe_reap(struct duet_health_set *set)
{
	if (!set->closing || set->pending > 0 || set->reaping)
		return;
	set->reaping = true;
	uv_close((uv_handle_t *)&set->reaper, reaper_closed);
}

static void timer_closed(uv_handle_t *h)
{
	struct health_check *c = h->data;
	c->set->pending--;
	health_maybe_reap(c->set);
}

void duet_health_set_close(struct duet_health_set *set, duet_health_closed_fn closed, void *data)
{
	if (!set || set->closing)
		return;
	set->closing = true;
	set->closed = closed;
	set->closed_data = data;
	/* Timers first: their close callbacks hold `pending` above zero while
	 * the probes are abandoned below, whatever a cancel function does. */
	for (unsigned i = 0; i < set->n_checks; i++) {
		struct health_check *c = set->checks[i];
		uv_close((uv_handle_t *)&c->tick, timer_closed);
		uv_close((uv_handle_t *)&c->deadline, timer_closed);
	}
	for (unsigned i = 0; i < set->n_checks; i++)
		health_abandon_probe(set->checks[i]);
	health_maybe_reap(set);
}

uv_loop_t *duet_health_probe_loop(const struct duet_health_probe_ctx *ctx)
{
	return ctx->check->set->loop;
}

const char *duet_health_probe_check(const struct duet_health_probe_ctx *ctx)
{
	return ctx->check->name;
}

uint32_t duet_health_probe_timeout_ms(const struct duet_health_probe_ctx *ctx)
{
	return ctx->check->timeout_ms;
}
