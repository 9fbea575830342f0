/* SPDX-License-Identifier: MIT */
/*
 * fixture.c - see fixture.h.
 */
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "fixture.h"

uv_loop_t *hx_loop;
static uv_loop_t loop_storage;
static uv_check_t hx_check;
static uv_prepare_t hx_prepare; /* sees what close callbacks changed */
static uv_timer_t hx_guard;
static bool (*hx_pred)(void *);
static void *hx_pred_arg;
static bool hx_done, hx_timed_out;

struct hx_transition hx_transitions[HX_MAX_TRANSITIONS];
unsigned hx_n_transitions;
struct duet_health_set *hx_set;
bool hx_set_closed;

void hx_setup(void)
{
	hx_loop = &loop_storage;
	cr_assert_eq(uv_loop_init(hx_loop), 0);
	uv_check_init(hx_loop, &hx_check);
	uv_prepare_init(hx_loop, &hx_prepare);
	uv_timer_init(hx_loop, &hx_guard);
	hx_n_transitions = 0;
	hx_set = NULL;
	hx_set_closed = false;
}

static void close_left_over(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

void hx_teardown(void)
{
	bool closed = true;
	if (hx_set && !hx_set_closed) {
		hx_close_set_nowait();
		closed = hx_run_until(NULL, &hx_set_closed, HX_GUARD_MS);
	}
	uv_walk(hx_loop, close_left_over, NULL); /* fixture handles, or a failed test's */
	uv_run(hx_loop, UV_RUN_DEFAULT);         /* finishes every close and work request */
	int rc = uv_loop_close(hx_loop);
	cr_assert(closed, "the health set did not finish closing");
	cr_assert_eq(rc, 0, "handles or requests left on the loop");
}

static void on_transition(void *data, const char *check, int old_state, int new_state,
			  bool critical, const char *detail)
{
	cr_assert_lt(hx_n_transitions, HX_MAX_TRANSITIONS, "too many transitions");
	struct hx_transition *t = &hx_transitions[hx_n_transitions++];
	snprintf(t->check, sizeof(t->check), "%s", check);
	t->old_state = old_state;
	t->new_state = new_state;
	t->critical = critical;
	snprintf(t->detail, sizeof(t->detail), "%s", detail);
	if (getenv("HEALTH_TEST_LOG"))
		fprintf(stderr, "transition %s %s -> %s: %s\n", check,
			duet_health_state_name(old_state), duet_health_state_name(new_state),
			detail);
}

void hx_set_new(void)
{
	cr_assert_eq(duet_health_set_new(hx_loop, on_transition, NULL, &hx_set), 0);
	hx_set_closed = false;
}

static void set_closed(void *data)
{
	*(bool *)data = true;
}

void hx_close_set_nowait(void)
{
	duet_health_set_close(hx_set, set_closed, &hx_set_closed);
}

static bool flag_set(void *arg)
{
	return *(bool *)arg;
}

void hx_close_set(void)
{
	hx_close_set_nowait();
	cr_assert(hx_run_until(flag_set, &hx_set_closed, HX_GUARD_MS),
		  "the health set did not close");
}

struct duet_health_check_config hx_config(const char *name, uint32_t interval_ms,
					  uint32_t timeout_ms)
{
	struct duet_health_check_config c = {
	    .name = name, .interval_ms = interval_ms, .timeout_ms = timeout_ms};
	return c;
}

static void poll_pred(void)
{
	if (hx_pred(hx_pred_arg)) {
		hx_done = true;
		uv_stop(hx_loop);
	}
}

static void check_cb(uv_check_t *c)
{
	poll_pred();
}

static void prepare_cb(uv_prepare_t *p)
{
	poll_pred();
}

static void guard_cb(uv_timer_t *t)
{
	hx_timed_out = true;
	uv_stop(hx_loop);
}

bool hx_run_until(bool (*pred)(void *), void *arg, unsigned guard_ms)
{
	if (!pred)
		pred = flag_set;
	if (pred(arg))
		return true;
	hx_pred = pred;
	hx_pred_arg = arg;
	hx_done = hx_timed_out = false;
	uv_update_time(hx_loop);
	uv_check_start(&hx_check, check_cb);
	uv_prepare_start(&hx_prepare, prepare_cb);
	uv_timer_start(&hx_guard, guard_cb, guard_ms, 0);
	while (!hx_done && !hx_timed_out)
		if (uv_run(hx_loop, UV_RUN_DEFAULT) == 0 && !hx_done && !hx_timed_out)
			break; /* nothing left to wait for */
	uv_check_stop(&hx_check);
	uv_prepare_stop(&hx_prepare);
	uv_timer_stop(&hx_guard);
	return hx_done || pred(arg);
}

struct duet_health_status hx_status(const char *name)
{
	for (unsigned i = 0; i < duet_health_count(hx_set); i++) {
		struct duet_health_status s;
		cr_assert_eq(duet_health_status_at(hx_set, i, &s), 0);
		if (strcmp(s.name, name) == 0)
			return s;
	}
	cr_assert_fail("no check named %s", name);
	struct duet_health_status none = {0};
	return none;
}

int hx_state(const char *name)
{
	int state = -1;
	cr_assert_eq(duet_health_state(hx_set, name, &state, NULL, NULL, 0), 0);
	return state;
}

struct state_wait {
	const char *name;
	int state;
	const char *text;
};

static bool in_state(void *arg)
{
	const struct state_wait *w = arg;
	return hx_state(w->name) == w->state;
}

void hx_run_until_state(const char *name, int state)
{
	struct state_wait w = {.name = name, .state = state};
	bool ok = hx_run_until(in_state, &w, HX_GUARD_MS);
	struct duet_health_status s = hx_status(name);
	cr_assert(ok, "check %s never reached %s; it is %s: %s", name,
		  duet_health_state_name(state), duet_health_state_name(s.state), s.detail);
}

static bool has_detail(void *arg)
{
	const struct state_wait *w = arg;
	return strstr(hx_status(w->name).detail, w->text) != NULL;
}

void hx_run_until_detail(const char *name, const char *text)
{
	struct state_wait w = {.name = name, .text = text};
	bool ok = hx_run_until(has_detail, &w, HX_GUARD_MS);
	cr_assert(ok, "check %s never reported '%s'; last detail: %s", name, text,
		  hx_status(name).detail);
}

unsigned hx_transitions_of(const char *check, const struct hx_transition **out, unsigned max)
{
	unsigned n = 0;
	for (unsigned i = 0; i < hx_n_transitions && n < max; i++)
		if (strcmp(hx_transitions[i].check, check) == 0)
			out[n++] = &hx_transitions[i];
	return n;
}

/* ---- Scripted probe ------------------------------------------------------ */

static void script_finish(struct script *s, bool ok, unsigned n)
{
	struct duet_health_probe_ctx *ctx = s->ctx;
	duet_health_done_fn done = s->done;
	snprintf(s->detail, sizeof(s->detail), "probe %u %s", n, ok ? "ok" : "failed");
	s->ctx = NULL;
	s->done = NULL;
	s->in_flight--;
	s->answered++;
	done(ctx, ok, s->detail);
}

static void script_timer_cb(uv_timer_t *t)
{
	struct script *s = t->data;
	if (!s->pending)
		return;
	s->pending = false;
	script_finish(s, s->pending_ok, s->pending_n);
}

static int script_start(void *probe_data, struct duet_health_probe_ctx *ctx,
			duet_health_done_fn done)
{
	struct script *s = probe_data;
	unsigned n = ++s->started;
	char what = n <= strlen(s->seq) ? s->seq[n - 1] : 'h';
	if (what == 'e')
		return DUET_EBUSY;
	s->ctx = ctx;
	s->done = done;
	if (++s->in_flight > s->max_in_flight)
		s->max_in_flight = s->in_flight;
	switch (what) {
	case 'O':
	case 'F':
		script_finish(s, what == 'O', n);
		break;
	case 'o':
	case 'f':
		s->pending = true;
		s->pending_ok = what == 'o';
		s->pending_n = n;
		uv_timer_start(&s->timer, script_timer_cb, 0, 0);
		break;
	default:
		s->hung_n = n;
		break;
	}
	return 0;
}

static void script_cancel(void *probe_data, struct duet_health_probe_ctx *ctx)
{
	struct script *s = probe_data;
	s->cancels++;
	cr_assert_eq(ctx, s->ctx, "cancel for a probe that is not in flight");
	if (s->answer_on_cancel && !s->pending)
		script_finish(s, false, s->hung_n);
}

struct duet_health_probe script_probe(struct script *s, const char *seq)
{
	memset(s, 0, sizeof(*s));
	s->seq = seq;
	uv_timer_init(hx_loop, &s->timer);
	s->timer.data = s;
	s->timer_open = true;
	struct duet_health_probe p = {
	    .start = script_start, .cancel = script_cancel, .probe_data = s};
	return p;
}

void script_answer(struct script *s, bool ok, const char *detail)
{
	cr_assert_not_null(s->done, "no probe in flight to answer");
	struct duet_health_probe_ctx *ctx = s->ctx;
	duet_health_done_fn done = s->done;
	s->ctx = NULL;
	s->done = NULL;
	s->in_flight--;
	s->answered++;
	done(ctx, ok, detail);
}

/* ---- Root-only steps ----------------------------------------------------- */

void hx_need_root(const char *why)
{
	cr_assert_eq(geteuid(), 0, "this test must run as root: %s", why);
}

void hx_private_mounts(void)
{
	hx_need_root("it mounts tmpfs in a private mount namespace");
	cr_assert_eq(unshare(CLONE_NEWNS), 0, "unshare(CLONE_NEWNS): %s (needs root)",
		     strerror(errno));
	cr_assert_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0,
		     "making / private in the new mount namespace: %s", strerror(errno));
}

void hx_new_netns(void)
{
	hx_need_root("it creates a network namespace");
	cr_assert_eq(unshare(CLONE_NEWNET), 0, "unshare(CLONE_NEWNET): %s (needs root)",
		     strerror(errno));
}

void hx_sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int rc = system(cmd);
	cr_assert(rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0,
		  "command failed (status %d): %s", rc, cmd);
}

void hx_tempdir(char *out, size_t len)
{
	snprintf(out, len, "/tmp/duet-health-XXXXXX");
	cr_assert_not_null(mkdtemp(out), "mkdtemp: %s", strerror(errno));
}
