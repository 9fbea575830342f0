/* SPDX-License-Identifier: MIT */
/*
 * main.c - the duet-sim command line: which seeds to run, how to report.
 *
 * Each seed is an independent run (sim.c). A failing seed prints one FAIL
 * line with the invariant and one line that reproduces it; the run ends with
 * totals and `seeds: N failures: F`, and the exit status is 1 when F > 0, 2
 * on bad usage. Running one seed also prints `digest: <hex>`, a 64-bit hash
 * of its whole trace, so two runs can be compared for identical replay.
 * The reproduce line repeats --steps (and --no-wipe) as given: the heal phase
 * starts after that many events, so the same value replays the same run.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"

#define DEFAULT_SEEDS 100
#define DEFAULT_STEPS 30000

static const char *prog = "duet-sim";

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s [--seeds N] [--seed S] [--steps K] [--max-failures M] [--no-wipe]\n"
		"          [--verbose]\n"
		"\n"
		"Deterministic simulation of duet's consensus core, with the daemon's\n"
		"driver (daemon/member.c), the replicated state (fsm/) and the leader's\n"
		"master decision (role/) run for real: two data nodes and a witness over\n"
		"a faulty network, slow and mortal disks, drifting clocks, pauses,\n"
		"crashes and restarts, wiped disks and their rejoin, checked after every\n"
		"event. PostgreSQL is a stand-in so far.\n"
		"\n"
		"  --seeds N         run N seeds (default: $DUET_SIM_SEEDS if set, else %d)\n"
		"  --seed S          run seed S only, or seeds S..S+N-1 with --seeds N;\n"
		"                    without --seed the seeds are 1..N\n"
		"  --steps K         events before the heal phase (default %d)\n"
		"  --max-failures M  stop after M failing seeds (default: run all)\n"
		"  --no-wipe         leave WIPE (a member's storage lost, then its rejoin)\n"
		"                    out of the fault mix\n"
		"  --verbose         trace every event to stderr; print each seed's digest\n"
		"                    and the last 50 trace lines of a failing seed\n"
		"  --help            this text\n"
		"\n"
		"A failing seed prints `FAIL seed=S step=K invariant=NAME: detail` and a\n"
		"`reproduce:` line (running a single seed also prints its trace tail).\n"
		"Output ends with `seeds: N failures: F`; exit status 1 if F > 0, 2 on bad\n"
		"usage. A single seed also prints `digest: HEX`, identical on every replay.\n",
		prog, DEFAULT_SEEDS, DEFAULT_STEPS);
}

static int parse_u64(const char *opt, const char *v, uint64_t *out)
{
	if (!v) {
		fprintf(stderr, "%s: %s needs a value; see %s --help\n", prog, opt, prog);
		return -1;
	}
	char *end;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 10);
	if (errno || end == v || *end || v[0] == '-') {
		fprintf(stderr, "%s: %s takes a non-negative integer, not '%s'\n", prog, opt, v);
		return -1;
	}
	*out = x;
	return 0;
}

static double elapsed_s(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void add_stats(struct sim_stats *a, const struct sim_stats *b)
{
	a->steps += b->steps;
	a->elections += b->elections;
	a->leader_terms += b->leader_terms;
	a->crashes += b->crashes;
	a->restarts += b->restarts;
	a->pauses += b->pauses;
	a->partitions += b->partitions;
	a->snapshots_taken += b->snapshots_taken;
	a->snapshots_installed += b->snapshots_installed;
	a->commits += b->commits;
	a->proposals_ok += b->proposals_ok;
	a->transfers += b->transfers;
	a->msgs_sent += b->msgs_sent;
	a->msgs_dropped += b->msgs_dropped;
	a->msgs_duplicated += b->msgs_duplicated;
	a->msgs_corrupted += b->msgs_corrupted;
	a->persists += b->persists;
	a->fsync_failures += b->fsync_failures;
	a->tick_spins += b->tick_spins;
	a->disk_stalls += b->disk_stalls;
	a->sim_ms += b->sim_ms;
	a->wipes += b->wipes;
	a->rejoins += b->rejoins;
	a->rejoin_proposals += b->rejoin_proposals;
	a->role_masters += b->role_masters;
	a->role_syncs += b->role_syncs;
	a->role_transfers += b->role_transfers;
	a->fsm_masters += b->fsm_masters;
	a->fsm_refused += b->fsm_refused;
}

int main(int argc, char **argv)
{
	if (argc > 0 && argv[0]) {
		const char *slash = strrchr(argv[0], '/');
		prog = slash ? slash + 1 : argv[0];
	}
	uint64_t seeds = DEFAULT_SEEDS, seed = 1, steps = DEFAULT_STEPS, max_failures = 0;
	bool have_seeds = false, have_seed = false, verbose = false, wipes = true;
	const char *env = getenv("DUET_SIM_SEEDS");
	if (env && *env && parse_u64("DUET_SIM_SEEDS", env, &seeds))
		return 2;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0) {
			verbose = true;
			continue;
		} else if (strcmp(a, "--no-wipe") == 0) {
			wipes = false;
			continue;
		}
		uint64_t *dst = strcmp(a, "--seeds") == 0          ? &seeds
				: strcmp(a, "--seed") == 0         ? &seed
				: strcmp(a, "--steps") == 0        ? &steps
				: strcmp(a, "--max-failures") == 0 ? &max_failures
								   : NULL;
		if (!dst) {
			fprintf(stderr, "%s: unknown option '%s'; see %s --help\n", prog, a, prog);
			return 2;
		}
		if (parse_u64(a, v, dst))
			return 2;
		have_seeds |= dst == &seeds;
		have_seed |= dst == &seed;
		i++;
	}
	if (have_seed && !have_seeds)
		seeds = 1;
	if (seeds == 0) {
		fprintf(stderr, "%s: --seeds must be at least 1\n", prog);
		return 2;
	}
	if (steps > 100000000ull) {
		fprintf(stderr, "%s: --steps %" PRIu64 " is over the limit of 100000000\n", prog,
			steps);
		return 2;
	}

	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct sim_stats total;
	memset(&total, 0, sizeof(total));
	uint64_t failures = 0, ran = 0, digest = 0;
	for (uint64_t k = 0; k < seeds; k++) {
		uint64_t sd = seed + k;
		struct sim_result res;
		sim_run(sd, steps, wipes, verbose, verbose || seeds == 1, &res);
		ran++;
		add_stats(&total, &res.stats);
		digest = res.digest;
		if (verbose)
			fprintf(stderr,
				"seed %" PRIu64 ": %s profile=%s steps=%" PRIu64
				" simulated=%" PRIu64 " ms commits=%" PRIu64
				" leader_changes=%" PRIu64 " crashes=%" PRIu64
				" digest: %016" PRIx64 "\n",
				sd, res.failed ? "FAIL" : "ok", res.profile ? res.profile : "?",
				res.stats.steps, res.stats.sim_ms, res.stats.commits,
				res.stats.leader_terms, res.stats.crashes, res.digest);
		if (res.failed) {
			failures++;
			printf("FAIL seed=%" PRIu64 " step=%" PRIu64 " invariant=%s: %s\n", sd,
			       res.fail_step, res.invariant, res.detail);
			printf("reproduce: %s --seed %" PRIu64 " --steps %" PRIu64 "%s\n", prog, sd,
			       steps, wipes ? "" : " --no-wipe");
			if (res.tail)
				fputs(res.tail, stdout);
			fflush(stdout);
		}
		free(res.tail);
		if (max_failures && failures >= max_failures)
			break;
	}
	double secs = elapsed_s(&t0);
	printf("totals: steps=%" PRIu64 " simulated=%" PRIu64 "s elections=%" PRIu64
	       " leader_changes=%" PRIu64 " crashes=%" PRIu64 " restarts=%" PRIu64
	       " pauses=%" PRIu64 " partitions=%" PRIu64 " snapshots_taken=%" PRIu64
	       " snapshots_installed=%" PRIu64 " commits=%" PRIu64 " transfers=%" PRIu64
	       " msgs=%" PRIu64 " dropped=%" PRIu64 " duplicated=%" PRIu64 " corrupted=%" PRIu64
	       " persists=%" PRIu64 " fsync_failures=%" PRIu64 " tick_spins=%" PRIu64
	       " wipes=%" PRIu64 " rejoins=%" PRIu64 " rejoin_proposals=%" PRIu64
	       " disk_stalls=%" PRIu64 " role_masters=%" PRIu64 " role_syncs=%" PRIu64
	       " role_transfers=%" PRIu64 " fsm_masters=%" PRIu64 " fsm_refused=%" PRIu64 "\n",
	       total.steps, total.sim_ms / 1000, total.elections, total.leader_terms, total.crashes,
	       total.restarts, total.pauses, total.partitions, total.snapshots_taken,
	       total.snapshots_installed, total.commits, total.transfers, total.msgs_sent,
	       total.msgs_dropped, total.msgs_duplicated, total.msgs_corrupted, total.persists,
	       total.fsync_failures, total.tick_spins, total.wipes, total.rejoins,
	       total.rejoin_proposals, total.disk_stalls, total.role_masters, total.role_syncs,
	       total.role_transfers, total.fsm_masters, total.fsm_refused);
	printf("elapsed: %.2f s (%.1f seeds/s)\n", secs, secs > 0 ? (double)ran / secs : 0.0);
	if (ran == 1)
		printf("digest: %016" PRIx64 "\n", digest);
	printf("seeds: %" PRIu64 " failures: %" PRIu64 "\n", ran, failures);
	return failures ? 1 : 0;
}
