/* SPDX-License-Identifier: MIT */
/*
 * run_until.h - what the libuv tests share: run a loop until a condition
 * holds or a deadline passes (the deadline fails the caller's test, never a
 * sleep as synchronisation). The condition is checked before and after every
 * loop iteration (check and prepare handles), so changes made by close
 * callbacks are seen too.
 */
#ifndef DUET_TEST_RUN_UNTIL_H
#define DUET_TEST_RUN_UNTIL_H

#include <stdbool.h>

#include <uv.h>

struct run_until {
	uv_loop_t *loop;
	uv_check_t check;
	uv_prepare_t prepare;
	uv_timer_t deadline;
	bool (*pred)(void *);
	void *arg;
	bool done, timed_out;
};

/* Initialises the three handles on loop (a fixture's teardown closes them
 * with whatever else is left, e.g. through uv_walk). */
void run_until_init(struct run_until *r, uv_loop_t *loop);

/* Runs the loop until pred(arg) or timeout_ms; returns pred's last answer.
 * Also returns when nothing is left to wait for. */
bool run_until(struct run_until *r, bool (*pred)(void *), void *arg, unsigned timeout_ms);

#endif
