/* SPDX-License-Identifier: MIT */
/*
 * test_crash.c - crash consistency for real: a child process
 * (storage-crash-child) writes to the store and is killed with SIGKILL at a
 * random moment, thirty times (more on a slow machine) over the same store.
 * After each kill the store must open without error, hold every
 * acknowledged operation, show each batch all or nothing (every entry
 * intact), and equal exactly the model of the acknowledged operations or
 * that plus the one in flight (hard state included: what is read back was
 * acknowledged, or is the later one). Entries at or below the snapshot are
 * stale and the model does not hold them: the store deletes them a bounded
 * step per write, and many kills land while some remain; bounds, reads and
 * load must never show one, and the next child must carry on deleting.
 *
 * The kill time (1-50 ms after start) comes from a seeded generator; the
 * parent spends it reading the child's pipe (poll with the time left) and
 * sleeps only its last millisecond, so the kill does not follow the child's
 * writes. DUET_CRASH_SEED=<n> replays a run.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crash_common.h"
#include "helpers.h"

#define CRASH_ROUNDS     30  /* kills at least */
#define CRASH_MIN_ACKS   60  /* more rounds until this many operations were acked, */
#define CRASH_MAX_ROUNDS 300 /* as a slow machine (sanitizers) gets less done in 1-50 ms */

static char where[96]; /* "DUET_CRASH_SEED=<run seed>, round <i>, child seed <c>" */

TestSuite(crash, .init = th_setup, .fini = th_teardown);

static uint64_t rng_next(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void sleep_until_us(uint64_t deadline)
{
	struct timespec ts = {.tv_sec = (time_t)(deadline / 1000000),
			      .tv_nsec = (long)(deadline % 1000000) * 1000};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* What the parent learnt from one child's pipe. */
struct round {
	struct crash_model acked; /* every acknowledged operation applied */
	struct crash_op pending;  /* announced, not acknowledged */
	bool has_pending;
	bool ready;
	uint64_t acks, truncations, snapshots;
	char buf[4 * CRASH_LINE_MAX];
	size_t used;
};

static void handle_line(struct round *r, const char *line)
{
	uint64_t last;
	if (line[0] == 'R' && sscanf(line + 2, "%" SCNu64, &last) == 1) {
		cr_assert_eq(last, r->acked.last, "%s: child loaded last %" PRIu64, where, last);
		r->ready = true;
	} else if (line[0] == 'U') {
		cr_assert_not(r->has_pending, "%s: two operations in flight", where);
		cr_assert_eq(crash_op_parse(line + 2, &r->pending), 0, "bad line %s", line);
		r->has_pending = true;
	} else if (line[0] == 'K' && sscanf(line + 2, "%" SCNu64, &last) == 1) {
		cr_assert(r->has_pending, "%s: ack without an operation", where);
		crash_model_apply(&r->acked, &r->pending);
		cr_assert_eq(r->acked.last, last, "%s: model and child disagree", where);
		r->has_pending = false;
		r->acks++;
		r->truncations += r->pending.truncate_from != 0;
		r->snapshots += r->pending.has_snap != 0;
	} else {
		cr_assert_fail("%s: unexpected line from the child: %s", where, line);
	}
}

/* Reads what is available; returns false at EOF. */
static bool read_child(int fd, struct round *r)
{
	ssize_t n = read(fd, r->buf + r->used, sizeof(r->buf) - r->used - 1);
	if (n < 0 && errno == EINTR)
		return true;
	cr_assert_geq(n, 0, "read: %s", strerror(errno));
	if (n == 0)
		return false;
	r->used += (size_t)n;
	r->buf[r->used] = 0;
	char *start = r->buf, *nl;
	while ((nl = strchr(start, '\n'))) {
		*nl = 0;
		handle_line(r, start);
		start = nl + 1;
	}
	r->used -= (size_t)(start - r->buf);
	memmove(r->buf, start, r->used);
	return true;
}

static pid_t spawn_child(uint64_t seed, int *fd)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	char arg[32];
	snprintf(arg, sizeof(arg), "%" PRIu64, seed);
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) { /* no Criterion asserts here: they would use the parent's socket */
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execl(CRASH_CHILD, "storage-crash-child", th_dir, arg, (char *)NULL);
		_exit(127);
	}
	cr_assert_gt(pid, 0);
	close(p[1]);
	*fd = p[0];
	return pid;
}

/*
 * Runs the child for `ms`, reading its pipe meanwhile, then SIGKILLs it.
 * The pipe is read while at least a millisecond is left (poll counts whole
 * ms) and the last stretch is slept to the microsecond: a kill sent when a
 * line woke the parent up would land right after the child's write, almost
 * never inside an operation when the disk syncs fast.
 */
static void run_child(struct round *r, uint64_t seed, uint64_t ms)
{
	int fd;
	pid_t pid = spawn_child(seed, &fd);
	uint64_t deadline = now_us() + ms * 1000;
	bool open = true;
	for (uint64_t t = now_us(); open && t + 1000 <= deadline; t = now_us()) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int n = poll(&pfd, 1, (int)((deadline - t) / 1000));
		if (n > 0)
			open = read_child(fd, r);
	}
	sleep_until_us(deadline);
	kill(pid, SIGKILL);
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		  "%s: the child stopped by itself (status 0x%x)", where, status);
	while (read_child(fd, r)) /* lines written before the kill */
		;
	close(fd);
}

/* The store after the kill equals acked, or acked plus the pending op.
 * Returns whether stale entries remained (a compaction was under way). */
static bool check_store(struct round *r, struct crash_model *seen)
{
	struct store_options o = {
	    .path = th_dir, .cluster_id = CRASH_CLUSTER, .node_id = CRASH_NODE};
	struct store *s;
	char err[512] = "";
	int rc = store_open(&o, &s, err, sizeof(err));
	cr_assert_eq(rc, 0, "%s: store refused after SIGKILL: %s", where, err);
	rc = crash_model_load(s, seen, err, sizeof(err));
	cr_assert_eq(rc, 0, "%s: %s", where, err);
	struct store_loaded l;
	cr_assert_eq(store_load(s, &l, err, sizeof(err)), 0, "%s: %s", where, err);
	uint64_t from = seen->snap_index ? seen->snap_index + 1 : seen->first;
	cr_assert(l.state.n_entries == 0 || l.state.entries[0].index == from);
	cr_assert_eq(l.state.n_entries, seen->last ? seen->last - seen->first + 1 : 0);
	store_loaded_free(&l);
	if (seen->snap_index && seen->last) {
		struct raft_entry *e;
		size_t n;
		cr_assert_eq(store_log_read(s, seen->snap_index, seen->last, &e, &n, NULL, 0),
			     DUET_ECOMPACTED, "%s: a stale entry is readable", where);
	}
	struct store_stats st;
	store_stats(s, &st);
	store_close(s);

	char why[256], why2[256] = "";
	crash_model_diff(seen, &r->acked, why, sizeof(why));
	if (why[0] && r->has_pending) {
		struct crash_model next;
		crash_model_copy(&next, &r->acked);
		crash_model_apply(&next, &r->pending);
		crash_model_diff(seen, &next, why2, sizeof(why2));
		crash_model_free(&next);
	}
	cr_assert(!why[0] || (r->has_pending && !why2[0]),
		  "%s: store differs from the acknowledged state (%s) and from it plus "
		  "the operation in flight (%s)",
		  where, why, r->has_pending ? why2 : "none in flight");
	cr_assert_geq(seen->term, r->acked.term, "%s: acknowledged term lost", where);
	return st.compact_pending;
}

Test(crash, sigkill_never_corrupts_nor_loses_acked_writes, .timeout = 600)
{
	const char *env = getenv("DUET_CRASH_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 10) : 20240611;
	uint64_t rng = crash_mix(seed);
	struct store_options o = {
	    .path = th_dir, .cluster_id = CRASH_CLUSTER, .node_id = CRASH_NODE, .create = true};
	struct store *s;
	cr_assert_eq(store_open(&o, &s, NULL, 0), 0);
	store_close(s);

	struct crash_model model = {0};
	uint64_t acks = 0, in_flight = 0, ready = 0, truncations = 0, snapshots = 0;
	uint64_t mid_compaction = 0;
	int i;
	for (i = 0; i < CRASH_MAX_ROUNDS && (i < CRASH_ROUNDS || acks < CRASH_MIN_ACKS); i++) {
		struct round r = {0};
		crash_model_copy(&r.acked, &model);
		uint64_t child_seed = rng_next(&rng);
		snprintf(where, sizeof(where),
			 "DUET_CRASH_SEED=%" PRIu64 ", round %d, child seed %" PRIu64, seed, i,
			 child_seed);
		run_child(&r, child_seed, 1 + rng_next(&rng) % 50);
		crash_model_free(&model);
		mid_compaction += check_store(&r, &model);
		if (getenv("DUET_CRASH_VERBOSE"))
			cr_log_info("round %d: %" PRIu64 " acks, pending %d, last %" PRIu64, i,
				    r.acks, r.has_pending, model.last);
		acks += r.acks;
		truncations += r.truncations;
		snapshots += r.snapshots;
		in_flight += r.has_pending;
		ready += r.ready;
		crash_model_free(&r.acked);
	}
	crash_model_free(&model);
	cr_log_info("crash: seed %" PRIu64 ", %d kills (%" PRIu64 " after open, %" PRIu64
		    " with an operation in flight, %" PRIu64 " during a compaction), %" PRIu64
		    " acknowledged operations (%" PRIu64 " truncations, %" PRIu64 " snapshots)",
		    seed, i, ready, in_flight, mid_compaction, acks, truncations, snapshots);
	cr_assert_geq(acks, CRASH_MIN_ACKS, "too few operations to mean anything");
	cr_assert_geq(in_flight, (uint64_t)i / 4, "too few kills landed mid-operation");
	cr_assert_geq(mid_compaction, 1, "no kill landed during an incremental compaction");
}
