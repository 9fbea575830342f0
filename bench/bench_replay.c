/* SPDX-License-Identifier: MIT */
/*
 * bench_replay.c - how long a member whose store was wiped takes to catch up
 * (DESIGN.md section 6, step 2: "replace local LMDB state with the leader's
 * snapshot and log"): the figure replay_1m_entries_s of issue 6.
 *
 * Three members (1, 2 data nodes; 3 witness) in one process on durable LMDB
 * stores in a temporary directory, as bench-raftlog runs them (cluster.h):
 *  1. the leader commits --entries TRAPS entries of --entry-bytes payload,
 *     pipelined; every member snapshots each --snapshot-every applied
 *     entries, so the leader ends with a snapshot and the log after it;
 *  2. the data node that does not lead is stopped as by a crash, the leader
 *     commits OPERATOR(rejoin) and a MEMBERSHIP that raises its incarnation
 *     (what `duetctl rejoin` has the leader do, daemon/rejoin.c), and its
 *     store is wiped and created again holding the bootstrap entry only;
 *  3. it restarts under the new incarnation, and the clock runs from the
 *     restart until it has applied everything the leader committed: the
 *     leader's probe finds it empty, sends the snapshot (InstallSnapshot),
 *     then the log after it in pipelined appends; every write is a durable
 *     LMDB transaction, and an entry counts as applied only once durable.
 *
 * Prints one "name: value" a line: replay_1m_entries_s (seconds, named for
 * the default one million entries), then the lines that say what was
 * replayed (entries, entry_bytes, snapshot_bytes, log_tail_entries, ...) and
 * how (the rejoined member's store writes, the fill).
 *
 * What is not in the figure: the daemon's rejoin handshake (asking the
 * leader, NODE_REJOIN_ASK_MS apart) and the real state machine (the
 * snapshot blob is --snapshot-bytes of filler, by default the largest fsm
 * snapshot; applying TRAPS entries to the fsm is not run).
 *
 * The temporary directory is removed at exit, on error paths and after
 * SIGINT or SIGTERM. Values are never judged here (tests do not judge speed).
 */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"

#include "duet/entry.h"
#include "duet/fsm.h"
#include "duet/raftlog.h"

#define DEFAULT_ENTRIES        1000000
#define DEFAULT_ENTRY_BYTES    200 /* a HEALTH entry, or a TRAPS entry of one trap */
#define DEFAULT_SNAPSHOT_EVERY 100000
#define DEFAULT_SNAPSHOT_BYTES FSM_SNAPSHOT_MAX_BYTES
#define MAX_OUTSTANDING        8192 /* as bench-raftlog: a batch waits while one flies */
#define LEADER_WAIT_MS         10000
#define STALL_LIMIT_MS         10000 /* a phase without progress for this long fails */
#define POLL_US                1000
#define MAX_COUNT              1000000000ull

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = sig;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The 1-minute load average from /proc/loadavg, or -1. */
static double load_average(void)
{
	double load = -1;
	FILE *f = fopen("/proc/loadavg", "r");
	if (f) {
		if (fscanf(f, "%lf", &load) != 1)
			load = -1;
		fclose(f);
	}
	return load;
}

struct settings {
	uint64_t entries;
	uint64_t entry_bytes;
	uint64_t snapshot_every;
	uint64_t snapshot_bytes;
};

/* The member threads inherit the signal mask: signals go to main only. */
static void block_signals(sigset_t *old)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, old);
}

/*
 * Waits until member id's published applied index reaches `index`. Returns
 * 0, or -1 after a failure, an interruption or stall_ms without progress
 * (then says so on stderr unless cluster_failure() does).
 */
static int wait_applied(struct cluster *c, uint32_t id, uint64_t index, uint32_t stall_ms,
			struct cluster_member_status *st)
{
	uint64_t last = 0, last_change = now_ns();
	for (;;) {
		cluster_member_status(c, id, st);
		if (st->applied_index >= index)
			return 0;
		if (cluster_failure(c) || interrupted)
			return -1;
		if (st->applied_index != last) {
			last = st->applied_index;
			last_change = now_ns();
		} else if (now_ns() - last_change > (uint64_t)stall_ms * 1000000u) {
			fprintf(stderr,
				"bench-replay: member %u applied nothing for %u ms: at %" PRIu64
				" of %" PRIu64 " (%s, commit %" PRIu64 ", last %" PRIu64
				", %" PRIu64 " snapshots installed)\n",
				id, stall_ms, st->applied_index, index, raft_role_name(st->role),
				st->commit_index, st->last_index, st->snapshots_installed);
			return -1;
		}
		usleep(POLL_US);
	}
}

/* Runs the fill and the rejoin and prints the figures. Returns 0 or -1
 * (cluster_failure() or stderr says why). */
static int run(const char *dir, const struct settings *s, uint64_t start_ns, struct cluster **cp)
{
	struct workload fill = {
	    .phase = WORKLOAD_THROUGHPUT,
	    .target = s->entries,
	    .entry_bytes = (uint32_t)s->entry_bytes,
	    .max_outstanding = MAX_OUTSTANDING,
	};
	struct cluster_options o = {
	    .dir = dir,
	    .snapshot_every = (uint32_t)s->snapshot_every,
	    .snapshot_bytes = (uint32_t)s->snapshot_bytes,
	};
	double load_start = load_average();
	sigset_t old;

	block_signals(&old);
	int rc = cluster_start(&o, cp);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		return -1;
	struct cluster *c = *cp;

	uint32_t leader = cluster_wait_leader(c, LEADER_WAIT_MS, &interrupted);
	if (leader == 0) {
		if (!cluster_failure(c))
			fprintf(stderr,
				"bench-replay: no data-node leader with a lease within %d ms%s\n",
				LEADER_WAIT_MS, interrupted ? " (interrupted)" : "");
		return -1;
	}
	if (cluster_run(c, leader, &fill, STALL_LIMIT_MS, &interrupted) != 0)
		return -1;

	/* the data node that does not lead: member 2 unless it leads */
	uint32_t rejoin = leader == 2 ? 1 : 2;
	uint64_t incarnation, membership_index;
	cluster_member_stop(c, rejoin);
	if (cluster_raise_incarnation(c, leader, rejoin, STALL_LIMIT_MS, &interrupted, &incarnation,
				      &membership_index) != 0)
		return -1;
	struct cluster_member_status ls;
	if (wait_applied(c, leader, membership_index, STALL_LIMIT_MS, &ls) != 0)
		return -1;
	uint64_t target = ls.commit_index; /* nothing is proposed from here on */

	block_signals(&old);
	uint64_t t0 = now_ns();
	rc = cluster_member_restart_empty(c, rejoin);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	struct cluster_member_status rs;
	if (rc != 0 || wait_applied(c, rejoin, target, STALL_LIMIT_MS, &rs) != 0)
		return -1;
	double replay_s = (double)(rs.applied_ns - t0) / 1e9;
	cluster_member_status(c, leader, &ls);
	cluster_stop(c);

	struct cluster_member_figures rf;
	cluster_figures(c, rejoin, &rf);
	uint64_t tail = target - ls.snapshot_index;
	double fill_s = (double)(fill.last_ns - fill.first_ns) / 1e9;
	double writes = rf.writes ? (double)rf.writes : 1.0;
	struct raft_config cfg;
	raft_config_default(&cfg);

	printf("replay_1m_entries_s: %.2f\n", replay_s);
	printf("entries: %" PRIu64 "\n", s->entries);
	printf("entry_bytes: %" PRIu64 "\n", s->entry_bytes);
	printf("snapshot_every_entries: %" PRIu64 "\n", s->snapshot_every);
	printf("snapshot_index: %" PRIu64 "\n", ls.snapshot_index);
	printf("snapshot_bytes: %" PRIu64 "\n", ls.snapshot_index ? s->snapshot_bytes : 0);
	printf("log_tail_entries: %" PRIu64 "\n", tail);
	printf("leader_commit_index: %" PRIu64 "\n", target);
	printf("leader: %u\n", leader);
	printf("rejoined_member: %u\n", rejoin);
	printf("rejoined_incarnation: %" PRIu64 "\n", incarnation);
	printf("rejoined_snapshots_installed: %" PRIu64 "\n", rs.snapshots_installed);
	/* until restored: store creation, the leader's next probe (a heartbeat
	 * apart at most), the reject and the snapshot's durable write */
	if (rs.restored_ns > t0) {
		double restored_s = (double)(rs.restored_ns - t0) / 1e9;
		printf("replay_snapshot_restored_s: %.3f\n", restored_s);
		printf("replay_log_tail_s: %.3f\n", replay_s - restored_s);
	}
	printf("replay_store_writes: %" PRIu64 "\n", rf.writes);
	printf("replay_entries_per_write: %.1f\n", (double)rf.write_entries / writes);
	printf("replay_store_write_us_avg: %.1f\n", (double)rf.write_ns / writes / 1000.0);
	printf("replay_store_write_us_max: %.0f\n", (double)rf.write_ns_max / 1000.0);
	printf("fill_seconds: %.2f\n", fill_s);
	printf("fill_entries_per_s: %.0f\n", fill_s > 0 ? (double)s->entries / fill_s : 0.0);
	printf("loadavg_1m_at_start: %.2f\n", load_start);
	printf("config_max_batch_entries: %u\n", cfg.max_batch_entries);
	printf("config_max_batch_bytes: %u\n", cfg.max_batch_bytes);
	printf("config_max_inflight: %u\n", cfg.max_inflight);
	printf("config_heartbeat_ms: %u\n", cfg.heartbeat_ms);
	printf("run_seconds: %.1f\n", (double)(now_ns() - start_ns) / 1e9);
	return 0;
}

/* ---- main ---------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench-replay [--dir DIR] [--entries N] [--entry-bytes B]\n"
		"                    [--snapshot-every N] [--snapshot-bytes B]\n"
		"\n"
		"Runs three raft cores (two data nodes, one witness) in one process on\n"
		"durable LMDB stores in a temporary directory, commits N entries, wipes\n"
		"the store of the data node that does not lead, restarts it empty under a\n"
		"new incarnation and prints how long it takes to catch up (snapshot, then\n"
		"the log after it): replay_1m_entries_s, then lines that explain it.\n"
		"\n"
		"  --dir DIR            where to create the temporary directory (default:\n"
		"                       $TMPDIR or /tmp); it is removed at exit\n"
		"  --entries N          entries committed before the rejoin (default %d)\n"
		"  --entry-bytes B      payload of each entry, 1 to %d (default %d)\n"
		"  --snapshot-every N   each member snapshots every N applied entries\n"
		"                       (default %d)\n"
		"  --snapshot-bytes B   size of the state-machine part of a snapshot\n"
		"                       (default %d, the largest fsm snapshot)\n"
		"  --help               this text\n"
		"\n"
		"Exit status: 0, 1 if the benchmark failed, 2 for a usage error.\n",
		DEFAULT_ENTRIES, WORKLOAD_MAX_ENTRY_BYTES, DEFAULT_ENTRY_BYTES,
		DEFAULT_SNAPSHOT_EVERY, DEFAULT_SNAPSHOT_BYTES);
}

static int parse_count(const char *opt, const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (s[0] == '-' || errno || end == s || *end || v == 0 || v > max) {
		fprintf(stderr, "bench-replay: %s wants a count from 1 to %" PRIu64 ", not '%s'\n",
			opt, max, s);
		return -1;
	}
	*out = v;
	return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	if (remove(path) != 0)
		fprintf(stderr, "bench-replay: cannot remove %s: %s\n", path, strerror(errno));
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option long_opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"dir", required_argument, NULL, 'd'},
	    {"entries", required_argument, NULL, 'e'},
	    {"entry-bytes", required_argument, NULL, 'b'},
	    {"snapshot-every", required_argument, NULL, 's'},
	    {"snapshot-bytes", required_argument, NULL, 'S'},
	    {NULL, 0, NULL, 0},
	};
	const char *parent = getenv("TMPDIR");
	struct settings s = {
	    .entries = DEFAULT_ENTRIES,
	    .entry_bytes = DEFAULT_ENTRY_BYTES,
	    .snapshot_every = DEFAULT_SNAPSHOT_EVERY,
	    .snapshot_bytes = DEFAULT_SNAPSHOT_BYTES,
	};
	uint64_t start_ns = now_ns();
	int opt, bad = 0;

	if (!parent || !parent[0])
		parent = "/tmp";
	while ((opt = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage(stdout);
			return 0;
		case 'd':
			parent = optarg;
			break;
		case 'e':
			bad |= parse_count("--entries", optarg, MAX_COUNT, &s.entries);
			break;
		case 'b':
			bad |= parse_count("--entry-bytes", optarg, WORKLOAD_MAX_ENTRY_BYTES,
					   &s.entry_bytes);
			break;
		case 's':
			bad |= parse_count("--snapshot-every", optarg, UINT32_MAX - 1,
					   &s.snapshot_every);
			break;
		case 'S':
			bad |= parse_count("--snapshot-bytes", optarg, RAFT_MSG_MAX_BYTES / 2,
					   &s.snapshot_bytes);
			break;
		default:
			usage(stderr);
			return 2;
		}
		if (bad)
			return 2;
	}
	if (optind < argc) {
		fprintf(stderr, "bench-replay: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	char dir[4096];
	if ((size_t)snprintf(dir, sizeof(dir), "%s/duet-bench-replay-XXXXXX", parent) >= 4000) {
		fprintf(stderr, "bench-replay: --dir path too long: %s\n", parent);
		return 2;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (!mkdtemp(dir)) {
		fprintf(stderr, "bench-replay: cannot create a directory in %s: %s\n", parent,
			strerror(errno));
		return 1;
	}
	duet_crc32c(0, "", 0); /* builds the CRC tables before the threads start */

	struct cluster *c = NULL;
	int rc = run(dir, &s, start_ns, &c);
	fflush(stdout);
	const char *failure = cluster_failure(c);
	if (failure)
		fprintf(stderr, "bench-replay: %s\n", failure);
	cluster_free(c);
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	if (interrupted)
		return 128 + interrupted;
	return rc == 0 ? 0 : 1;
}
