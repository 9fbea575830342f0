/* SPDX-License-Identifier: MIT */
/*
 * fixture.h - what the health tests share: one uv loop per test, a set whose
 * transitions are recorded, run_until() (drive the real loop until a
 * predicate holds; no sleeps), a scripted probe, and helpers for the
 * root-only steps (namespaces, mounts, shell commands) that FAIL the test
 * with a message when they cannot run, never skip it.
 */
#ifndef DUET_TEST_HEALTH_FIXTURE_H
#define DUET_TEST_HEALTH_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "duet/health.h"

extern uv_loop_t *hx_loop;

struct hx_transition {
	char check[DUET_HEALTH_NAME_MAX];
	int old_state;
	int new_state;
	bool critical;
	char detail[DUET_HEALTH_DETAIL_MAX];
};

#define HX_MAX_TRANSITIONS 64
extern struct hx_transition hx_transitions[HX_MAX_TRANSITIONS];
extern unsigned hx_n_transitions;

void hx_setup(void);    /* loop, empty transition record */
void hx_teardown(void); /* closes the set (if open), checks no handle is left */

/* The test's set (closed by teardown unless the test closed it). */
extern struct duet_health_set *hx_set;
extern bool hx_set_closed; /* closed() came */
void hx_set_new(void);
/* Closes hx_set and runs the loop until closed() came. */
void hx_close_set(void);
/* Closes hx_set without waiting. */
void hx_close_set_nowait(void);

/* A check config with the test's intervals. */
struct duet_health_check_config hx_config(const char *name, uint32_t interval_ms,
					  uint32_t timeout_ms);

/* True if pred(arg) held before guard_ms of loop time. The guard only turns
 * a hang into a failure; no test depends on how fast anything is. */
bool hx_run_until(bool (*pred)(void *), void *arg, unsigned guard_ms);
#define HX_GUARD_MS 30000

/* Runs until check `name` is in `state`; fails the test otherwise. */
void hx_run_until_state(const char *name, int state);
/* Runs until the status detail of `name` contains `text`. */
void hx_run_until_detail(const char *name, const char *text);

struct duet_health_status hx_status(const char *name);
int hx_state(const char *name);

/* Transitions recorded for `check`, in order; returns how many. */
unsigned hx_transitions_of(const char *check, const struct hx_transition **out, unsigned max);

/* ---- Scripted probe ------------------------------------------------------
 * Each probe takes the next letter of `seq`:
 *   'o' / 'f'  answer ok / failed from a 0 ms timer (a later loop callback)
 *   'O' / 'F'  answer ok / failed from inside probe_start (framework defers)
 *   'e'        probe_start returns an error (DUET_EBUSY)
 *   'h'        hang: never answer (the ctx is kept for a late answer)
 * Past the end of seq every probe hangs. Details are "probe N ok|failed". */
struct script {
	const char *seq;
	unsigned started;
	unsigned answered;
	unsigned in_flight;
	unsigned max_in_flight;
	unsigned cancels;
	bool answer_on_cancel; /* cancel answers at once (from inside cancel) */
	uv_timer_t timer;
	bool timer_open;
	bool pending; /* a timer answer is due */
	bool pending_ok;
	unsigned pending_n;
	struct duet_health_probe_ctx *ctx; /* of the probe in flight */
	duet_health_done_fn done;
	unsigned hung_n;
	char detail[64];
};

/* Initialises s (its timer on hx_loop) and returns a probe running it. */
struct duet_health_probe script_probe(struct script *s, const char *seq);
/* Answers the probe in flight (a late answer when it is past its deadline). */
void script_answer(struct script *s, bool ok, const char *detail);

/* ---- Root-only steps: each FAILS the test with a message when refused ---- */
void hx_need_root(const char *why);
/* unshare(CLONE_NEWNS) and make every mount private, so that mounts made by
 * the test vanish with its process and never reach the host. */
void hx_private_mounts(void);
/* unshare(CLONE_NEWNET): a fresh network namespace with only lo (down). Must
 * run before anything starts libuv's threadpool: threads inherit it when
 * they are created. */
void hx_new_netns(void);
/* Runs a shell command (in this process's namespaces); fails the test if it
 * does not exit 0. */
void hx_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* mkdtemp under /tmp; the test removes it. */
void hx_tempdir(char *out, size_t len);

#endif
