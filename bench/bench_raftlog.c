/* SPDX-License-Identifier: MIT */
/*
 * bench_raftlog.c - commit latency and throughput of the consensus core on
 * real durable storage: three members (1, 2 data nodes; 3 witness) in one
 * process, each with its own thread and LMDB store in a temporary directory,
 * talking in wire form through in-memory mailboxes (cluster.h says how and
 * cluster.c why that stands for three machines).
 *
 * Prints one "name: value" a line:
 *   fsync_us                  median pwrite + fdatasync of a 4 KiB block in
 *                             the same directory, measured in the same run
 *                             (before the cluster starts and after it
 *                             stopped): the yardstick of the latency;
 *   commit_latency_p50_us     one proposal at a time to the leader, from
 *   commit_latency_p99_us     raft_propose() until the leader's driver applies
 *                             it (u.committed, after raft_persisted());
 *   throughput_entries_per_s  256-byte entries, pipelined (at most
 *                             MAX_OUTSTANDING proposed and not yet applied),
 *                             from the first proposal to the last commit;
 * then extra lines that make the figures reproducible (config_*) and
 * explainable: the disk with three writers at once (fsync_parallel3_us), the
 * store write of one entry (store_write_1entry_p50_us), per-member store
 * writes, and the load average, since on a busy machine a thread woken by its
 * fdatasync waits for a CPU and the run measures the scheduler.
 *
 * Targets, never asserted (tests do not judge speed): throughput_entries_per_s
 * >= 200000 and commit_latency_p50_us <= 3 x fsync_us.
 *
 * The temporary directory and the stores in it are removed at exit, on error
 * paths and after SIGINT or SIGTERM.
 */
#include <errno.h>
#include <fcntl.h>
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
#include "duet/raftlog.h"

#define ENTRY_BYTES            256
#define DEFAULT_ENTRIES        500000
#define DEFAULT_LATENCY_N      2000
#define MAX_OUTSTANDING        8192 /* 2 x max_batch_entries: a batch waits while one flies */
#define SNAPSHOT_EVERY_ENTRIES 100000
#define FSYNC_SAMPLES          200
#define FSYNC_BLOCK_BYTES      4096
#define LEADER_WAIT_MS         10000
#define STALL_LIMIT_MS         10000 /* a phase without a commit for this long fails */
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

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of n sorted values, in microseconds. */
static double percentile_us(const uint64_t *sorted, size_t n, unsigned pct)
{
	size_t rank = (n * pct + 99) / 100;
	return (double)sorted[rank ? rank - 1 : 0] / 1000.0;
}

/* ---- the fsync yardstick ------------------------------------------------- */

struct fsync_probe {
	char path[4200];
	uint64_t samples[FSYNC_SAMPLES];
	int rc; /* 0 or -errno */
};

/* FSYNC_SAMPLES times pwrite + fdatasync of one 4 KiB block at p->path. */
static void *fsync_probe_run(void *arg)
{
	struct fsync_probe *p = arg;
	uint8_t block[FSYNC_BLOCK_BYTES];

	p->rc = 0;
	int fd = open(p->path, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0) {
		p->rc = -errno;
		return NULL;
	}
	memset(block, 0xa5, sizeof(block));
	/* allocate the block first, so the samples rewrite data as LMDB does */
	if (pwrite(fd, block, sizeof(block), 0) != (ssize_t)sizeof(block) || fsync(fd) != 0)
		p->rc = -errno;
	for (int i = 0; p->rc == 0 && i < FSYNC_SAMPLES; i++) {
		block[0] = (uint8_t)i;
		uint64_t t = now_ns();
		if (pwrite(fd, block, sizeof(block), 0) != (ssize_t)sizeof(block) ||
		    fdatasync(fd) != 0)
			p->rc = -errno;
		p->samples[i] = now_ns() - t;
	}
	close(fd);
	unlink(p->path);
	return NULL;
}

/*
 * fsync_us is the median of FSYNC_SAMPLES probes before the cluster starts
 * and FSYNC_SAMPLES after it stopped: disk latency drifts on a shared machine
 * and a yardstick taken at one moment would not be the disk the run saw. Both
 * medians are printed too, so a drift shows. parallel_us: CLUSTER_MEMBERS
 * probes at once on their own files, as the members write: this machine has
 * one disk for the three members, three machines would have three.
 */
struct fsync_figures {
	uint64_t alone[2 * FSYNC_SAMPLES];
	size_t n_alone;
	double before_us;
	double after_us;
	double parallel_us;
};

static int fsync_alone(const char *dir, struct fsync_figures *f, double *median_us)
{
	static struct fsync_probe probe;

	snprintf(probe.path, sizeof(probe.path), "%s/fsync-probe", dir);
	fsync_probe_run(&probe);
	if (probe.rc != 0) {
		fprintf(stderr, "bench-raftlog: pwrite/fdatasync on %s: %s\n", probe.path,
			strerror(-probe.rc));
		return -1;
	}
	memcpy(&f->alone[f->n_alone], probe.samples, sizeof(probe.samples));
	f->n_alone += FSYNC_SAMPLES;
	qsort(probe.samples, FSYNC_SAMPLES, sizeof(uint64_t), cmp_u64);
	*median_us = percentile_us(probe.samples, FSYNC_SAMPLES, 50);
	return 0;
}

static int fsync_parallel(const char *dir, struct fsync_figures *f)
{
	static struct fsync_probe probes[CLUSTER_MEMBERS];
	static uint64_t all[CLUSTER_MEMBERS * FSYNC_SAMPLES];
	pthread_t threads[CLUSTER_MEMBERS];
	int n_started = 0;

	for (int i = 0; i < CLUSTER_MEMBERS; i++)
		snprintf(probes[i].path, sizeof(probes[i].path), "%s/fsync-probe-%d", dir, i);
	for (; n_started < CLUSTER_MEMBERS; n_started++)
		if (pthread_create(&threads[n_started], NULL, fsync_probe_run,
				   &probes[n_started]) != 0)
			break;
	for (int i = 0; i < n_started; i++)
		pthread_join(threads[i], NULL);
	for (int i = 0; i < CLUSTER_MEMBERS; i++) {
		if (i >= n_started || probes[i].rc != 0) {
			fprintf(stderr, "bench-raftlog: parallel pwrite/fdatasync in %s: %s\n", dir,
				i >= n_started ? "cannot start a thread" : strerror(-probes[i].rc));
			return -1;
		}
		memcpy(&all[i * FSYNC_SAMPLES], probes[i].samples, sizeof(probes[i].samples));
	}
	qsort(all, CLUSTER_MEMBERS * FSYNC_SAMPLES, sizeof(uint64_t), cmp_u64);
	f->parallel_us = percentile_us(all, CLUSTER_MEMBERS * FSYNC_SAMPLES, 50);
	return 0;
}

static double fsync_us(struct fsync_figures *f)
{
	qsort(f->alone, f->n_alone, sizeof(uint64_t), cmp_u64);
	return percentile_us(f->alone, f->n_alone, 50);
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

/* ---- output -------------------------------------------------------------- */

/* Per member, and the median store write of one entry over all members
 * (mostly the latency phase): the storage part of the commit latency. */
static void print_member_figures(struct cluster *c)
{
	static uint64_t one[CLUSTER_MEMBERS * CLUSTER_ONE_ENTRY_SAMPLES];
	size_t n_one = 0;

	for (uint32_t id = 1; id <= CLUSTER_MEMBERS; id++) {
		struct cluster_member_figures f;
		cluster_figures(c, id, &f);
		size_t n = f.n_one_entry_writes;
		if (n > sizeof(one) / sizeof(one[0]) - n_one)
			n = sizeof(one) / sizeof(one[0]) - n_one;
		memcpy(&one[n_one], f.one_entry_write_ns, n * sizeof(uint64_t));
		n_one += n;
	}
	if (n_one) {
		qsort(one, n_one, sizeof(uint64_t), cmp_u64);
		printf("store_write_1entry_p50_us: %.0f\n", percentile_us(one, n_one, 50));
	}
	for (uint32_t id = 1; id <= CLUSTER_MEMBERS; id++) {
		struct cluster_member_figures f;
		cluster_figures(c, id, &f);
		double w = f.writes ? (double)f.writes : 1.0;
		printf("store_writes_m%u: %" PRIu64 "\n", id, f.writes);
		printf("store_entries_per_write_m%u: %.1f\n", id, (double)f.write_entries / w);
		printf("store_write_us_avg_m%u: %.1f\n", id, (double)f.write_ns / w / 1000.0);
		printf("store_write_us_max_m%u: %.0f\n", id, (double)f.write_ns_max / 1000.0);
		printf("mailbox_max_bytes_m%u: %zu\n", id, f.mailbox_max_bytes);
	}
}

/* ---- main ---------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench-raftlog [--dir DIR] [--entries N] [--latency-n N]\n"
		"\n"
		"Runs three raft cores (two data nodes, one witness) in one process on\n"
		"durable LMDB stores in a temporary directory and prints, one a line:\n"
		"fsync_us, commit_latency_p50_us, commit_latency_p99_us,\n"
		"throughput_entries_per_s, then figures that explain them.\n"
		"\n"
		"  --dir DIR       where to create the temporary directory (default:\n"
		"                  $TMPDIR or /tmp); it is removed at exit\n"
		"  --entries N     entries in the throughput phase (default %d)\n"
		"  --latency-n N   proposals in the latency phase (default %d)\n"
		"  --help          this text\n"
		"\n"
		"Exit status: 0, 1 if the benchmark failed, 2 for a usage error.\n",
		DEFAULT_ENTRIES, DEFAULT_LATENCY_N);
}

static int parse_count(const char *opt, const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (s[0] == '-' || errno || end == s || *end || v == 0 || v > MAX_COUNT) {
		fprintf(stderr, "bench-raftlog: %s wants a count from 1 to %llu, not '%s'\n", opt,
			MAX_COUNT, s);
		return -1;
	}
	*out = v;
	return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	if (remove(path) != 0)
		fprintf(stderr, "bench-raftlog: cannot remove %s: %s\n", path, strerror(errno));
	return 0;
}

/* Runs both phases and prints the figures. Returns 0 or -1 (cluster_failure()
 * or stderr says why). */
static int run(const char *dir, uint64_t entries, uint64_t latency_n, uint64_t *latency_ns,
	       struct cluster **cp)
{
	static struct fsync_figures fsync;
	struct workload lat = {
	    .phase = WORKLOAD_LATENCY,
	    .target = latency_n,
	    .entry_bytes = ENTRY_BYTES,
	    .latency_ns = latency_ns,
	};
	struct workload thr = {
	    .phase = WORKLOAD_THROUGHPUT,
	    .target = entries,
	    .entry_bytes = ENTRY_BYTES,
	    .max_outstanding = MAX_OUTSTANDING,
	};
	struct cluster_options o = {.dir = dir, .snapshot_every = SNAPSHOT_EVERY_ENTRIES};
	double load_start = load_average();

	if (fsync_alone(dir, &fsync, &fsync.before_us) != 0 || fsync_parallel(dir, &fsync) != 0)
		return -1;

	/* the member threads inherit the mask: signals go to main only */
	sigset_t block_set, old_set;
	sigemptyset(&block_set);
	sigaddset(&block_set, SIGINT);
	sigaddset(&block_set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block_set, &old_set);
	int rc = cluster_start(&o, cp);
	pthread_sigmask(SIG_SETMASK, &old_set, NULL);
	if (rc != 0)
		return -1;
	struct cluster *c = *cp;

	uint32_t leader = cluster_wait_leader(c, LEADER_WAIT_MS, &interrupted);
	if (leader == 0) {
		if (!cluster_failure(c))
			fprintf(stderr,
				"bench-raftlog: no data-node leader with a lease within %d ms%s\n",
				LEADER_WAIT_MS, interrupted ? " (interrupted)" : "");
		return -1;
	}
	if (cluster_run(c, leader, &lat, STALL_LIMIT_MS, &interrupted) != 0 ||
	    cluster_run(c, leader, &thr, STALL_LIMIT_MS, &interrupted) != 0)
		return -1;
	cluster_stop(c);
	if (fsync_alone(dir, &fsync, &fsync.after_us) != 0) /* the cluster is quiet now */
		return -1;

	qsort(latency_ns, latency_n, sizeof(*latency_ns), cmp_u64);
	double seconds = (double)(thr.last_ns - thr.first_ns) / 1e9;
	struct raft_config cfg;
	struct cluster_member_figures lf;
	raft_config_default(&cfg);
	cluster_figures(c, leader, &lf);

	printf("fsync_us: %.0f\n", fsync_us(&fsync));
	printf("commit_latency_p50_us: %.0f\n", percentile_us(latency_ns, latency_n, 50));
	printf("commit_latency_p99_us: %.0f\n", percentile_us(latency_ns, latency_n, 99));
	printf("throughput_entries_per_s: %.0f\n",
	       seconds > 0 ? (double)thr.target / seconds : 0.0);
	printf("fsync_before_us: %.0f\n", fsync.before_us);
	printf("fsync_after_us: %.0f\n", fsync.after_us);
	printf("fsync_parallel3_us: %.0f\n", fsync.parallel_us);
	printf("loadavg_1m_at_start: %.2f\n", load_start);
	printf("leader: %u\n", leader);
	printf("entries_committed: %" PRIu64 "\n", lf.commit_index);
	printf("latency_samples: %" PRIu64 "\n", latency_n);
	printf("throughput_entries: %" PRIu64 "\n", thr.target);
	printf("throughput_seconds: %.3f\n", seconds);
	printf("config_entry_bytes: %d\n", ENTRY_BYTES);
	printf("config_max_outstanding: %d\n", MAX_OUTSTANDING);
	printf("config_snapshot_every_entries: %d\n", SNAPSHOT_EVERY_ENTRIES);
	printf("config_max_batch_entries: %u\n", cfg.max_batch_entries);
	printf("config_max_batch_bytes: %u\n", cfg.max_batch_bytes);
	printf("config_max_inflight: %u\n", cfg.max_inflight);
	print_member_figures(c);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option long_opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"dir", required_argument, NULL, 'd'},
	    {"entries", required_argument, NULL, 'e'},
	    {"latency-n", required_argument, NULL, 'l'},
	    {NULL, 0, NULL, 0},
	};
	const char *parent = getenv("TMPDIR");
	uint64_t entries = DEFAULT_ENTRIES;
	uint64_t latency_n = DEFAULT_LATENCY_N;
	int opt;

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
			if (parse_count("--entries", optarg, &entries) != 0)
				return 2;
			break;
		case 'l':
			if (parse_count("--latency-n", optarg, &latency_n) != 0)
				return 2;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "bench-raftlog: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	char dir[4096];
	if ((size_t)snprintf(dir, sizeof(dir), "%s/duet-bench-XXXXXX", parent) >= 4000) {
		fprintf(stderr, "bench-raftlog: --dir path too long: %s\n", parent);
		return 2;
	}
	uint64_t *latency_ns = calloc(latency_n, sizeof(*latency_ns));
	if (!latency_ns) {
		fprintf(stderr, "bench-raftlog: out of memory for %" PRIu64 " samples\n",
			latency_n);
		return 1;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (!mkdtemp(dir)) {
		fprintf(stderr, "bench-raftlog: cannot create a directory in %s: %s\n", parent,
			strerror(errno));
		free(latency_ns);
		return 1;
	}
	duet_crc32c(0, "", 0); /* builds the CRC tables before the threads start */

	struct cluster *c = NULL;
	int rc = run(dir, entries, latency_n, latency_ns, &c);
	fflush(stdout);
	const char *failure = cluster_failure(c);
	if (failure)
		fprintf(stderr, "bench-raftlog: %s\n", failure);
	cluster_free(c);
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(latency_ns);
	if (interrupted)
		return 128 + interrupted;
	return rc == 0 ? 0 : 1;
}
