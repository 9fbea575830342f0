/* SPDX-License-Identifier: MIT */
/*
 * clock.c - per-node clocks of duet-sim: a drifting monotonic clock that the
 * core sees, and a wall clock that really jumps, used only for wall_ms.
 *
 * Monotonic clock. Each node reads
 *
 *     local_us = offset_us + floor(real_us * rate_ppm / 1e6),   local_ms = local_us / 1000
 *
 * with a random offset (machines boot at different times) and a rate drawn per
 * seed in [1 - rho, 1 + rho]. raftlog.h requires
 * election_timeout_min > lease_ms + max_drift_ms, where max_drift_ms bounds
 * how far two clocks may drift apart. We choose
 *
 *     rho = max_drift_ms / (2 * election_timeout_max_ms)      (3.57 % by default)
 *
 * so that two clocks running at the extremes (one at 1 + rho, one at 1 - rho)
 * drift apart by at most max_drift_ms over the LONGEST timer the core runs
 * (election_timeout_max), hence by less than that over a lease. The lease
 * argument then holds with margin: a lease lasts lease_ms on the leader's
 * clock, at most 500 / 0.964 = 519 ms of real time, while a voter that heard
 * the heartbeat refuses votes for election_timeout_min on its clock, at least
 * 800 / 1.036 = 772 ms of real time. Real hardware drifts by ~100 ppm; 3.57 %
 * is harsh on purpose. A third of the seeds put the nodes at the extremes.
 *
 * Jumps. On Linux a process's CLOCK_MONOTONIC is slewed by NTP within a small
 * rate bound but never stepped, so a jump of the monotonic clock relative to
 * real time beyond the drift bound cannot happen. What a process experiences
 * as a jump is a pause: a VM stall, SIGSTOP, a long page-fault storm. During
 * the pause the clock keeps running and the process runs nothing; when it
 * resumes, everything that queued up (messages, timers, disk completions) is
 * handled at once with a clock that has leapt forward. node.c models exactly
 * that (node_pause: events wait in a per-node queue, then run in arrival
 * order at the resume time). A reboot of the machine is the one case where
 * the monotonic clock restarts (from a small uptime): clock_reboot.
 *
 * Wall clock. CLOCK_REALTIME really jumps (an operator or a bad NTP server
 * steps it by minutes, forwards or backwards). The core never reads it for
 * decisions; it only lands in raft_entry.wall_ms for people, so the workload
 * stamps proposals with it and the jumps must change nothing else.
 *
 * All arithmetic is integer, so a seed replays identically everywhere.
 */
#include "sim.h"

#define PPM           1000000ull
#define WALL_EPOCH_MS 1700000000000ull /* November 2023, an arbitrary start */

uint32_t clock_drift_bound_ppm(const struct raft_config *cfg)
{
	return (uint32_t)((uint64_t)cfg->max_drift_ms * PPM /
			  (2ull * cfg->election_timeout_max_ms));
}

void clock_init(struct sim_clock *c, struct sim_rng *g, uint32_t rate_ppm)
{
	c->offset_us = (int64_t)rng_range(g, 10000000ull, 1000000000000ull);
	c->rate_ppm = rate_ppm;
	c->wall_offset_ms = (int64_t)rng_range(g, 0, 10000) - 5000;
}

static int64_t local_us(const struct sim_clock *c, uint64_t real_us)
{
	return c->offset_us + (int64_t)(real_us * c->rate_ppm / PPM);
}

uint64_t clock_local_ms(const struct sim_clock *c, uint64_t real_us)
{
	int64_t l = local_us(c, real_us);
	return l > 0 ? (uint64_t)l / 1000 : 0;
}

uint64_t clock_real_at_ms(const struct sim_clock *c, uint64_t local_ms)
{
	/* smallest r with floor(r * rate / 1e6) >= x, i.e. r = ceil(x * 1e6 / rate),
	 * computed without overflowing x * 1e6 */
	int64_t x = (int64_t)(local_ms * 1000) - c->offset_us;
	if (x <= 0)
		return 0;
	uint64_t ux = (uint64_t)x;
	uint64_t q = ux / c->rate_ppm, rem = ux % c->rate_ppm;
	return q * PPM + (rem * PPM + c->rate_ppm - 1) / c->rate_ppm;
}

uint64_t clock_wall_ms(const struct sim_clock *c, uint64_t real_us)
{
	return (uint64_t)((int64_t)(WALL_EPOCH_MS + real_us / 1000) + c->wall_offset_ms);
}

void clock_reboot(struct sim_clock *c, struct sim_rng *g, uint64_t real_us)
{
	int64_t uptime_us = (int64_t)rng_range(g, 3000000, 60000000);
	c->offset_us = uptime_us - (int64_t)(real_us * c->rate_ppm / PPM);
}

int64_t clock_wall_jump(struct sim_clock *c, struct sim_rng *g)
{
	int64_t by = (int64_t)rng_range(g, 1000, 600000);
	if (rng_below(g, 2))
		by = -by;
	c->wall_offset_ms += by;
	return by;
}
