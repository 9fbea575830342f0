/* SPDX-License-Identifier: MIT */
/*
 * cluster.h - three raft members in one process, as on three machines: the
 * fixture of the benchmarks.
 *
 * Members 1 and 2 are data nodes, 3 is the witness. Each has its own thread,
 * its own core and its own durable LMDB store under dir/memberN, and they talk
 * in wire form through mailboxes (mailbox.h). Each thread runs the driver
 * loop of raftlog.h with the persist step inline (see cluster.c for why).
 *
 * The main thread hands a workload (a phase of proposals) to the leader's
 * thread with cluster_run() and waits; the cores are only ever touched by
 * their own threads. Errors are values: every call returns 0 or -1, and
 * cluster_failure() says what failed, for a person.
 *
 * Rejoin (DESIGN.md section 6, daemon/rejoin.c): cluster_member_stop() stops
 * one member as a crash would, cluster_raise_incarnation() has the leader
 * commit OPERATOR(rejoin) and a MEMBERSHIP with the member's incarnation
 * raised, and cluster_member_restart_empty() wipes the member's store and
 * starts it again with only the bootstrap entry under the new incarnation:
 * from there it catches up through the ordinary snapshot and append path.
 */
#ifndef DUET_BENCH_CLUSTER_H
#define DUET_BENCH_CLUSTER_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLUSTER_MEMBERS           3
#define CLUSTER_WITNESS_ID        3
#define WORKLOAD_MAX_ENTRY_BYTES  4096
#define CLUSTER_ONE_ENTRY_SAMPLES 4096 /* per member: durations of one-entry writes kept */

struct cluster;

struct cluster_options {
	const char *dir;         /* must exist; the stores go in dir/member1..3 */
	uint32_t snapshot_every; /* raft_snapshot_taken() each this many applied entries */
	uint32_t snapshot_bytes; /* size of the state-machine blob in each snapshot
				    (the state machine keeps nothing); 0: 6 bytes */
};

enum workload_phase {
	WORKLOAD_LATENCY = 1,    /* one proposal at a time */
	WORKLOAD_THROUGHPUT = 2, /* up to max_outstanding proposals not yet applied */
	WORKLOAD_ENTRIES = 3,    /* the given entries, all at once */
};

/* One entry of a WORKLOAD_ENTRIES phase; the core copies data. */
struct workload_entry {
	uint8_t type; /* enum raft_entry_type */
	const void *data;
	uint32_t len;
};

const char *workload_phase_name(int phase);

/*
 * A phase of proposals, run by the leader's thread. The caller fills the
 * request, passes it to cluster_run() and owns it again when that returns.
 * An entry counts as committed when the leader's driver applies it (after
 * raft_persisted() of the update that carries it in u.committed).
 */
struct workload {
	/* request */
	int phase;                /* enum workload_phase */
	uint64_t target;          /* entries to propose and see committed */
	uint32_t entry_bytes;     /* payload of each entry, <= WORKLOAD_MAX_ENTRY_BYTES */
	uint32_t max_outstanding; /* WORKLOAD_THROUGHPUT */
	uint64_t *latency_ns;     /* WORKLOAD_LATENCY: room for target samples */
	const struct workload_entry *entries; /* WORKLOAD_ENTRIES: target of them */

	/* results: CLOCK_MONOTONIC of the first proposal and the last commit */
	uint64_t first_ns;
	uint64_t last_ns;

	/* the leader's thread's, while running */
	uint64_t proposed;
	uint64_t applied;
	uint64_t first_index;   /* index of the first proposal */
	uint64_t waiting_index; /* WORKLOAD_LATENCY: the proposal in flight; 0: none */
	uint64_t waiting_since_ns;
	atomic_uint_fast64_t progress; /* = applied, for the caller's stall check */
	atomic_bool finished;
};

/* What a member's thread publishes after every loop turn. */
struct cluster_member_status {
	int role; /* enum raft_role */
	uint32_t leader;
	bool lease;
	uint64_t term;
	uint64_t commit_index;
	uint64_t applied_index; /* restored by a snapshot or applied by the driver */
	uint64_t applied_ns;    /* CLOCK_MONOTONIC when applied_index last moved */
	uint64_t restored_ns;   /* CLOCK_MONOTONIC of the last snapshot restore; 0: none */
	uint64_t snapshot_index;
	uint64_t last_index;
	uint64_t snapshots_installed;
	bool running; /* its thread runs */
};

/* Per member, after cluster_stop(). Counts since the member's last (re)start. */
struct cluster_member_figures {
	uint32_t id;
	uint64_t writes;                    /* store_apply_update() calls that wrote something */
	uint64_t write_entries;             /* entries they appended */
	uint64_t write_ns;                  /* time spent in them */
	uint64_t write_ns_max;              /* the slowest (a compaction lands in one write) */
	const uint64_t *one_entry_write_ns; /* durations of writes of exactly one entry */
	size_t n_one_entry_writes;
	size_t mailbox_max_bytes;
	uint64_t commit_index;
};

/*
 * Creates the three stores (with the bootstrap entry), loads the cores and
 * starts the threads. Returns 0 or -1. Call cluster_free() in both cases
 * (*out is set whenever memory for it could be had).
 */
int cluster_start(const struct cluster_options *o, struct cluster **out);

/* Returns the id of a data-node leader that holds the lease, or 0 after
 * timeout_ms, a failure, or when *interrupted becomes nonzero. */
uint32_t cluster_wait_leader(struct cluster *c, uint32_t timeout_ms,
			     const volatile sig_atomic_t *interrupted);

/* Runs w on member `leader` and waits until it finished. Returns 0, or -1
 * after a failure, an interruption, or stall_ms without any commit. */
int cluster_run(struct cluster *c, uint32_t leader, struct workload *w, uint32_t stall_ms,
		const volatile sig_atomic_t *interrupted);

/* Stops and joins the threads. Idempotent. */
void cluster_stop(struct cluster *c);

/* The last status member id published (zeros for a bad id). Any time. */
void cluster_member_status(struct cluster *c, uint32_t id, struct cluster_member_status *st);

/* Stops member id as a crash would: its thread is joined, its core freed and
 * its store closed (left on disk); what is sent to it meanwhile is lost. */
void cluster_member_stop(struct cluster *c, uint32_t id);

/*
 * The leader's side of a rejoin of member id (daemon/rejoin.c): `leader`
 * proposes OPERATOR(REJOIN, id, n + 1) and a MEMBERSHIP with id's
 * incarnation raised to n + 1, and this returns once the leader applied
 * both (*incarnation = n + 1). The leader's core forgets what id's old self
 * acknowledged when the MEMBERSHIP enters its log; *index is that entry's.
 * Returns 0 or -1 (as cluster_run()).
 */
int cluster_raise_incarnation(struct cluster *c, uint32_t leader, uint32_t id, uint32_t stall_ms,
			      const volatile sig_atomic_t *interrupted, uint64_t *incarnation,
			      uint64_t *index);

/*
 * After cluster_member_stop(): removes id's store, creates it again with the
 * bootstrap entry only and the incarnation cluster_raise_incarnation()
 * recorded (as `duetctl rejoin` does), drops the mail queued for its old
 * self, zeroes its figures and starts its thread with a fresh core under that
 * incarnation. The caller blocks signals for the new thread as for
 * cluster_start(). Returns 0 or -1.
 */
int cluster_member_restart_empty(struct cluster *c, uint32_t id);

/* After cluster_stop(); id in 1..CLUSTER_MEMBERS. The arrays stay valid until
 * cluster_free(). */
void cluster_figures(struct cluster *c, uint32_t id, struct cluster_member_figures *f);

/* What failed, for a person; NULL if nothing did. Valid until cluster_free(). */
const char *cluster_failure(struct cluster *c);

/* Stops the threads if needed, frees cores, stores and mailboxes. NULL is
 * allowed. Leaves the store directories in place. */
void cluster_free(struct cluster *c);

#endif
