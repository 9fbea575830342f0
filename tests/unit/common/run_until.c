/* SPDX-License-Identifier: MIT */
/*
 * run_until.c - see run_until.h.
 */
#include "run_until.h"

static void poll_pred(struct run_until *r)
{
	if (r->pred(r->arg)) {
		r->done = true;
		uv_stop(r->loop);
	}
}

static void check_cb(uv_check_t *c)
{
	poll_pred(c->data);
}

static void prepare_cb(uv_prepare_t *p)
{
	poll_pred(p->data);
}

static void deadline_cb(uv_timer_t *t)
{
	struct run_until *r = t->data;
	r->timed_out = true;
	uv_stop(r->loop);
}

void run_until_init(struct run_until *r, uv_loop_t *loop)
{
	r->loop = loop;
	uv_check_init(loop, &r->check);
	uv_prepare_init(loop, &r->prepare);
	uv_timer_init(loop, &r->deadline);
	r->check.data = r->prepare.data = r->deadline.data = r;
}

bool run_until(struct run_until *r, bool (*pred)(void *), void *arg, unsigned timeout_ms)
{
	if (pred(arg))
		return true;
	r->pred = pred;
	r->arg = arg;
	r->done = r->timed_out = false;
	uv_update_time(r->loop);
	uv_check_start(&r->check, check_cb);
	uv_prepare_start(&r->prepare, prepare_cb);
	uv_timer_start(&r->deadline, deadline_cb, timeout_ms, 0);
	while (!r->done && !r->timed_out)
		if (uv_run(r->loop, UV_RUN_DEFAULT) == 0 && !r->done && !r->timed_out)
			break; /* nothing left to wait for */
	uv_check_stop(&r->check);
	uv_prepare_stop(&r->prepare);
	uv_timer_stop(&r->deadline);
	return r->done || pred(arg);
}
