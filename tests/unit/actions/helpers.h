/* SPDX-License-Identifier: MIT */
/*
 * helpers.h - what the actions tests share: one libuv loop per test (each
 * Criterion test runs in its own process), running it until a callback has
 * set a flag, a scratch directory, small file helpers, and the netns rig
 * for the FIP tests.
 *
 * Waiting is always on the loop's events (the callback under test sets
 * the flag); the limit given to loop_until() is only a safety net so a
 * broken test fails instead of hanging, never a synchronisation.
 */
#ifndef DUET_TEST_ACTIONS_HELPERS_H
#define DUET_TEST_ACTIONS_HELPERS_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#define SAFETY_LIMIT_MS 30000

extern uv_loop_t *t_loop;
extern char t_dir[]; /* scratch directory, removed at teardown */

/* Criterion .init / .fini: the loop and the scratch directory. Teardown
 * fails the test if any handle was left on the loop. */
void t_setup(void);
void t_teardown(void);

/* Runs the loop until *flag is true; fails the test after limit_ms. */
void loop_until(const bool *flag, uint32_t limit_ms);

/* Runs the loop until nothing is left on it (fails after limit_ms). */
void loop_drain(uint32_t limit_ms);

/* t_dir/name in a static buffer (one of four, rotating). */
const char *t_path(const char *name);

/* Writes text to t_dir/name with the given mode; returns the path. */
const char *t_write(const char *name, const char *text, unsigned mode);

/* Reads a whole file into a static buffer (one of two); "" if missing. */
const char *t_read(const char *path);

/* Waits (poll on a pidfd, not a sleep) until pid has exited; true if it
 * did within limit_ms. A process already reaped counts as exited. */
bool pid_dies_within(long pid, int limit_ms);

/* Output of a shell command (first 8 KiB) in a static buffer. */
const char *t_shell(const char *command);

/* FIP rig: a private network namespace with veth pair v0 <-> v1, both up.
 * Fails the test (never skips) when not root or unshare() is refused: CI
 * runs as root and must exercise the real kernel path. */
void netns_setup(void);

#endif
