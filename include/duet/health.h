/* SPDX-License-Identifier: MIT */
/*
 * health.h - periodic health checks with deadlines on a libuv loop
 * (DESIGN.md section 7).
 *
 * A set holds named checks ("pg", "fs", "nic", "fip", "manager",
 * "isolation", "peer", ...). Each check runs one probe every interval_ms;
 * the framework gives every probe a deadline of timeout_ms and turns the
 * stream of results into a state with hysteresis:
 *
 *     fail_after consecutive failed probes   -> FAILING
 *     ok_after consecutive good probes       -> OK
 *     anything else                          -> state unchanged
 *
 * Every check starts UNKNOWN. Only changes of state are reported, through
 * on_transition; the daemon turns each into a HEALTH log entry. A critical
 * check that is FAILING on the master makes it step down (the daemon's
 * decision, not this module's).
 *
 * ---- Probes and deadlines ------------------------------------------------
 *
 * A probe is a function that starts one asynchronous test and reports its
 * outcome by calling done(ctx, ok, detail) exactly once. The framework
 * enforces the deadline: a probe that has not answered within timeout_ms has
 * failed ("no answer within N ms"), and its answer, when it comes, is
 * ignored (counted as a late answer). At most one probe of a check is ever in
 * flight: a tick that finds the previous probe still unanswered a whole
 * timeout_ms after its last counted failure counts one more failure instead
 * of starting a second probe (one per timeout_ms late, not one per tick: a
 * probe that is merely slow, 1.5 timeouts say, costs one failure), so
 * a probe stuck in a hung filesystem or a blocked syscall costs one worker
 * thread, never more. A tick that finds the previous probe still within its
 * deadline (timeout_ms may exceed interval_ms) is skipped and counted, not
 * failed.
 *
 * The probe context stays valid from the start of a probe until its done();
 * a probe may hold on to it past the deadline. done() may be called from any
 * loop callback, also late, also from inside the cancel function; when it is
 * called from inside probe_start itself, the framework stores the answer and
 * handles it from a fresh loop callback, so no user callback ever runs
 * inside another module's call. done() must be called on the loop's thread
 * (from an after_work callback, not from a work function). done() may start
 * the next probe of the same check before it returns (on_transition may call
 * duet_health_probe_now()), so a probe must not touch its per-probe state
 * after calling done().
 *
 * An optional cancel function is called (at most once per probe) when the
 * answer is no longer wanted: the deadline passed, the check was paused, or
 * the set is closing. It should stop what it can (close handles, uv_cancel a
 * queued work request); the probe must still call done() afterwards.
 *
 * ---- Built-in probes (none touches the disk or network on the loop) ------
 *
 *  - fs: on the threadpool, creates .duet-health-probe in a directory,
 *    writes 4 KiB, fdatasync()s, closes and unlinks it. Any error (ENOSPC,
 *    EROFS, EIO, ENOENT...) fails the probe with the step, the path and
 *    strerror in the detail. A hung filesystem keeps its one work request
 *    forever; the deadline turns that into failures, and no second request
 *    is queued for the directory until the first returns. One fs check per
 *    directory per set (DUET_EINVAL for a second one), so the guarantee
 *    holds set-wide. With several volumes, add one check each.
 *  - nic: link state of one interface through a netlink RTM_GETLINK query
 *    on the threadpool. OK when the interface is administratively up, has
 *    carrier (IFF_LOWER_UP) and its operstate is "up" or "unknown" (the
 *    latter for drivers that do not track operstate, like lo). A missing
 *    interface fails with "interface X not found".
 *  - isolation: a TCP connect (uv_tcp_connect, non-blocking, on the loop) to
 *    every "host:port" target at once; OK as soon as one target accepts or
 *    refuses (a refusal is an answer from that host, so it proves the path);
 *    failed when every target fails (unreachable, reset, timed out...).
 *
 * The threadpool is shared with the rest of the process (libuv's default
 * size is 4). A hung filesystem pins one thread per fs check until it
 * returns; a daemon with k fs checks should run with UV_THREADPOOL_SIZE of
 * at least k + 2 so that nic probes and other work still find a thread.
 *
 * ---- Threads, blocking, ownership ----------------------------------------
 *
 * Everything runs on the caller's loop, in its thread; no call blocks.
 * Names and paths given to duet_health_add*() are copied. probe_data handed
 * to duet_health_add() stays the caller's unless probe.release is set, in
 * which case the set calls release(probe_data) once it is freed (after every
 * probe has answered). Callbacks (on_transition, closed) may call any
 * duet_health_* function, duet_health_set_close() included; a transition
 * caused from inside on_transition (say by a pause) is reported by a nested
 * call. The detail strings passed to callbacks are valid during the call
 * only.
 *
 * duet_health_set_close() closes every timer and socket and cancels what it
 * can, then frees the set once every probe in flight has answered, and calls
 * closed(data) after that. A probe stuck in a hung filesystem therefore
 * delays closed() until the filesystem returns (a daemon that is exiting
 * need not wait for it).
 */
#ifndef DUET_HEALTH_H
#define DUET_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "duet/entry.h"
#include "duet/err.h"

#define DUET_HEALTH_MAX_CHECKS         16
#define DUET_HEALTH_NAME_MAX           DUET_NAME_MAX   /* including NUL: at most 31 chars */
#define DUET_HEALTH_DETAIL_MAX         DUET_DETAIL_MAX /* including NUL */
#define DUET_HEALTH_DEFAULT_FAIL_AFTER 3
#define DUET_HEALTH_DEFAULT_OK_AFTER   2
#define DUET_HEALTH_MAX_TARGETS        8 /* isolation targets per check */
#define DUET_HEALTH_FS_PROBE_FILE      ".duet-health-probe"
#define DUET_HEALTH_FS_PROBE_BYTES     4096
#define DUET_HEALTH_FS_DIR_MAX         256 /* including NUL: keeps the path in every detail */

struct duet_health_set;
struct duet_health_probe_ctx;

/* Reports the outcome of one probe. detail (may be NULL) is copied, at most
 * DUET_HEALTH_DETAIL_MAX - 1 bytes. */
typedef void (*duet_health_done_fn)(struct duet_health_probe_ctx *ctx, bool ok, const char *detail);

/*
 * Starts one probe. Returns 0 when done will be called (exactly once), or a
 * negative code when the probe could not start: then done must not be
 * called, and the framework counts a failed probe ("probe could not start:
 * <error>"). Must not block.
 */
typedef int (*duet_health_probe_fn)(void *probe_data, struct duet_health_probe_ctx *ctx,
				    duet_health_done_fn done);

/* The answer of the probe `ctx` is no longer wanted; see "Probes". */
typedef void (*duet_health_cancel_fn)(void *probe_data, struct duet_health_probe_ctx *ctx);

/* A check changed state. old_state and new_state are enum duet_health_state. */
typedef void (*duet_health_transition_fn)(void *data, const char *check, int old_state,
					  int new_state, bool critical, const char *detail);

/* The set has been freed. */
typedef void (*duet_health_closed_fn)(void *data);

struct duet_health_check_config {
	const char *name;     /* 1..31 chars, unique in the set; copied */
	bool critical;        /* reported with every transition */
	bool start_paused;    /* added paused (e.g. "fip" on a standby) */
	uint32_t interval_ms; /* between two probe starts; > 0 */
	uint32_t timeout_ms;  /* deadline of one probe; > 0 (may exceed interval_ms) */
	uint32_t fail_after;  /* consecutive failures -> FAILING; 0 = 3 */
	uint32_t ok_after;    /* consecutive good probes -> OK; 0 = 2 */
};

struct duet_health_probe {
	duet_health_probe_fn start;
	duet_health_cancel_fn cancel;      /* may be NULL */
	void (*release)(void *probe_data); /* may be NULL; see "ownership" */
	void *probe_data;
};

/* What duet_health_status_at() reports about one check. */
struct duet_health_status {
	char name[DUET_HEALTH_NAME_MAX];
	int state; /* enum duet_health_state */
	bool critical;
	bool paused;
	bool in_flight; /* a probe has started and not answered yet */
	uint32_t consecutive_failures;
	uint32_t consecutive_ok;
	char detail[DUET_HEALTH_DETAIL_MAX]; /* of the last counted result */
	uint32_t last_duration_ms;           /* of the last counted result */
	uint32_t interval_ms, timeout_ms, fail_after, ok_after;
	uint64_t probes;        /* probes started */
	uint64_t failures;      /* failed results, timeouts included */
	uint64_t timeouts;      /* deadlines passed + ticks that found the probe still hung */
	uint64_t skipped_ticks; /* ticks that found the probe still within its deadline */
	uint64_t late_answers;  /* answers after the deadline, ignored */
};

/* "UNKNOWN", "OK", "FAILING" or "?". */
const char *duet_health_state_name(int state);

/*
 * Creates an empty set on `loop`. on_transition (may be NULL) gets `data`.
 * Returns 0 with *out set, or DUET_ENOMEM / DUET_EINVAL.
 */
int duet_health_set_new(uv_loop_t *loop, duet_health_transition_fn on_transition, void *data,
			struct duet_health_set **out);

/*
 * Adds a check with a caller's probe. Checks added after duet_health_start()
 * run at once. Returns 0; DUET_EINVAL (bad name or duplicate, interval or
 * timeout 0, no probe function, set closing); DUET_ETOOBIG (set full);
 * DUET_ENOMEM. On failure nothing changed and probe_data is still the
 * caller's.
 */
int duet_health_add(struct duet_health_set *set, const struct duet_health_check_config *config,
		    const struct duet_health_probe *probe);

/* Adds an fs check on `dir` (see "Built-in probes"). DUET_EINVAL also for a
 * dir that is empty, too long, or already probed by another fs check. */
int duet_health_add_fs(struct duet_health_set *set, const struct duet_health_check_config *config,
		       const char *dir);

/* Adds a nic check on interface `ifname` (1..15 chars). */
int duet_health_add_nic(struct duet_health_set *set, const struct duet_health_check_config *config,
			const char *ifname);

/* Adds an isolation check: targets are numeric "a.b.c.d:port" or
 * "[v6]:port", 1..DUET_HEALTH_MAX_TARGETS of them, no name resolution.
 * DUET_EINVAL when one does not parse. */
int duet_health_add_isolation(struct duet_health_set *set,
			      const struct duet_health_check_config *config,
			      const char *const *targets, unsigned n_targets);

/* Starts the timers: every check that is not paused probes at once, then
 * every interval_ms. Returns 0 or DUET_EINVAL (closing, already started). */
int duet_health_start(struct duet_health_set *set);

/*
 * Pauses or resumes a check. Pausing stops its probes, ignores the answer
 * of one in flight (and cancels it), clears its counters of consecutive
 * results and moves it to UNKNOWN (reported, detail "paused") so that a
 * check that does not apply, like the FIP on a standby, leaves no stale
 * FAILING behind. Resuming probes at once (if the set is started). Returns
 * 0 (also when nothing changes), DUET_ENOENT or DUET_EINVAL (closing).
 */
int duet_health_set_pause(struct duet_health_set *set, const char *name, bool paused);

/*
 * Starts a probe of `name` now and restarts its interval from now (works
 * before duet_health_start() too, without starting the timers). Returns 0,
 * DUET_ENOENT, DUET_EBUSY (a probe is in flight), DUET_EINVAL (paused or
 * closing).
 */
int duet_health_probe_now(struct duet_health_set *set, const char *name);

/*
 * Current state of `name`. Each out pointer may be NULL; detail receives the
 * last counted result's detail, truncated to detail_len - 1 bytes. Returns 0
 * or DUET_ENOENT.
 */
int duet_health_state(const struct duet_health_set *set, const char *name, int *state,
		      uint32_t *consecutive_failures, char *detail, size_t detail_len);

/* Number of checks; they are numbered 0..count-1 in the order added. */
unsigned duet_health_count(const struct duet_health_set *set);

/* Fills *out for check i. Returns 0 or DUET_ENOENT (i >= count). */
int duet_health_status_at(const struct duet_health_set *set, unsigned i,
			  struct duet_health_status *out);

/*
 * Writes the status of every check as a JSON array of objects (name, state,
 * critical, paused, in_flight, consecutive_failures, detail,
 * last_duration_ms, probes, failures, timeouts, skipped_ticks,
 * late_answers), NUL-terminated, into buf[0..cap). Returns the length
 * without the NUL, DUET_ETOOBIG (buf too small; buf holds "") or
 * DUET_EINVAL.
 */
long duet_health_status_json(const struct duet_health_set *set, char *buf, size_t cap);

/*
 * Closes the set (see "Threads, blocking, ownership"); closed(data) (may be
 * NULL) is called once it is freed, always from a later loop callback. No
 * other duet_health_* call on the set is allowed after this one.
 */
void duet_health_set_close(struct duet_health_set *set, duet_health_closed_fn closed, void *data);

/* ---- For probe implementations ------------------------------------------ */

uv_loop_t *duet_health_probe_loop(const struct duet_health_probe_ctx *ctx);
const char *duet_health_probe_check(const struct duet_health_probe_ctx *ctx); /* check name */
uint32_t duet_health_probe_timeout_ms(const struct duet_health_probe_ctx *ctx);

#endif
