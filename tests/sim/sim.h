/* SPDX-License-Identifier: MIT */
/*
 * sim.h - the shared types of duet-sim, the deterministic simulator of the
 * consensus core (DESIGN.md section 9).
 *
 * One `struct sim` is one run of one seed: three members driving raftlog
 * cores exactly as raftlog.h prescribes (ready -> send msgs -> persist ->
 * persisted -> send msgs_after -> restore/apply -> free, one update
 * outstanding), over a simulated network, disk and clocks, with a fault
 * schedule and a workload, and invariant checks after every event.
 *
 * Determinism is the point: everything random comes from ONE generator seeded
 * by the run seed (xoshiro256** seeded through splitmix64), events are ordered
 * by (real time in microseconds, insertion number), nothing iterates a hash
 * table or compares pointers, and floating point is not used for decisions.
 * So a seed replays bit for bit, and the trace digest proves it.
 *
 * Files: sched.c (event queue), clock.c (drifting monotonic clocks, jumping
 * wall clocks, pauses), net.c (network), disk.c (durable state), fsm.c (the
 * checkers' fingerprint beside fsm/'s state), role.c (role/'s leader
 * decision, run by the leading data node), node.c (the daemon's driver,
 * daemon/member.c, on the simulated disk and network; crash and restart),
 * faults.c (fault schedule and workload), wipe.c (the WIPE fault and the
 * rejoin that brings a wiped member back), check.c (invariants), trace.c
 * (trace ring and digest), sim.c (one run), main.c (command line).
 */
#ifndef DUET_SIM_H
#define DUET_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "duet/fsm.h"
#include "duet/member.h"
#include "duet/raftlog.h"
#include "duet/role.h"

#define SIM_NODES                   3 /* member ids 1..SIM_NODES; index 0 of node arrays unused */
#define SIM_WITNESS                 3 /* the witness's id; 1 and 2 are data nodes */
#define SIM_TRACE_RING              64
#define SIM_LIVENESS_BOUND_MS       10000 /* after healing: a leased data leader and a commit */
#define SIM_MAX_POST_HEAL_PROPOSALS 64

/* ---- deterministic randomness -------------------------------------------- */

static inline uint64_t sim_splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

struct sim_rng {
	uint64_t s[4]; /* xoshiro256** */
};

static inline void rng_seed(struct sim_rng *g, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		g->s[i] = sim_splitmix64(&seed);
}

static inline uint64_t rng_rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t rng_next(struct sim_rng *g)
{
	uint64_t *s = g->s;
	uint64_t result = rng_rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rng_rotl(s[3], 45);
	return result;
}

/* Uniform in [0, n) (modulo bias is irrelevant here; determinism is not). */
static inline uint64_t rng_below(struct sim_rng *g, uint64_t n)
{
	return n ? rng_next(g) % n : 0;
}

/* Uniform in [lo, hi]. */
static inline uint64_t rng_range(struct sim_rng *g, uint64_t lo, uint64_t hi)
{
	return hi <= lo ? lo : lo + rng_below(g, hi - lo + 1);
}

/* True with probability ppm / 1e6. */
static inline bool rng_ppm(struct sim_rng *g, uint32_t ppm)
{
	return rng_below(g, 1000000) < ppm;
}

/* 64-bit mixing step for the chain hashes (splitmix64 finaliser over h ^ v). */
static inline uint64_t sim_mix(uint64_t h, uint64_t v)
{
	uint64_t x = (h ^ v) * 0x9e3779b97f4a7c15ull;
	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 29;
	return x;
}

/* Folds len bytes into h, eight at a time (little-endian words, zero-padded
 * tail, then the length), with sim_mix. */
static inline uint64_t sim_hash_bytes(uint64_t h, const void *p, size_t len)
{
	const uint8_t *b = p;
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t w = (uint64_t)b[i] | (uint64_t)b[i + 1] << 8 | (uint64_t)b[i + 2] << 16 |
			     (uint64_t)b[i + 3] << 24 | (uint64_t)b[i + 4] << 32 |
			     (uint64_t)b[i + 5] << 40 | (uint64_t)b[i + 6] << 48 |
			     (uint64_t)b[i + 7] << 56;
		h = sim_mix(h, w);
	}
	if (i < len) {
		uint64_t w = 0;
		for (size_t k = len; k > i; k--)
			w = w << 8 | b[k - 1];
		h = sim_mix(h, w);
	}
	return sim_mix(h, len);
}

/* ---- events -------------------------------------------------------------- */

enum sim_event_kind {
	EV_DELIVER = 1, /* a message reaches `node` from `from` */
	EV_TICK,        /* raft_tick at the node's deadline (gen = tick generation) */
	EV_PERSIST,     /* the node's outstanding write completes (gen = persist generation) */
	EV_RESTART,     /* a crashed node starts again (gen = restart generation) */
	EV_RESUME,      /* a paused node resumes (gen = resume generation) */
	EV_LINK_HEAL,   /* a partition ends (gen = link mask, aux = partition epoch) */
	EV_FAULT,       /* the fault schedule acts */
	EV_CLIENT,      /* the workload proposes (or transfers) */
	EV_REJOIN,      /* the rejoin driver tries to commit a wiped member's MEMBERSHIP */
};

struct sim_event {
	uint64_t t_us; /* real (simulated) time */
	uint64_t seq;  /* insertion number: ties are broken by it */
	uint8_t kind;
	uint8_t node;
	uint8_t from;
	uint8_t corrupted; /* DELIVER: a bit was flipped on purpose */
	uint32_t gen;
	uint32_t aux;
	uint32_t len;
	uint8_t *buf; /* DELIVER: the encoded message, owned by the event */
};

struct sim_sched {
	struct sim_event *heap;
	size_t n, cap;
	uint64_t next_seq;
};

void sched_init(struct sim_sched *q);
void sched_free(struct sim_sched *q);                      /* frees the buffers of pending events */
void sched_push(struct sim_sched *q, struct sim_event ev); /* assigns ev.seq */
bool sched_pop(struct sim_sched *q, struct sim_event *ev);

/* ---- clocks (clock.c) ---------------------------------------------------- */

struct sim_clock {
	int64_t offset_us;      /* local monotonic = offset + real * rate */
	uint32_t rate_ppm;      /* 1e6 = exact */
	int64_t wall_offset_ms; /* wall clock = epoch + real + this (jumps by minutes) */
};

uint32_t clock_drift_bound_ppm(const struct raft_config *cfg);
void clock_init(struct sim_clock *c, struct sim_rng *g, uint32_t rate_ppm);
uint64_t clock_local_ms(const struct sim_clock *c, uint64_t real_us);
/* Earliest real time at which the local clock reads at least local_ms. */
uint64_t clock_real_at_ms(const struct sim_clock *c, uint64_t local_ms);
uint64_t clock_wall_ms(const struct sim_clock *c, uint64_t real_us);
void clock_reboot(struct sim_clock *c, struct sim_rng *g, uint64_t real_us);
int64_t clock_wall_jump(struct sim_clock *c, struct sim_rng *g);

/* ---- durable state (disk.c) ---------------------------------------------- */

struct sim_disk {
	uint64_t term;
	uint32_t vote;
	bool has_snap;
	struct raft_snapshot_meta snap;
	uint8_t *snap_data;
	uint32_t snap_len;
	uint64_t snap_chain; /* chain hash at snap.index, read from the blob */
	/* entries[k].index == first + k; chain[k] = chain hash of the prefix up to it */
	struct raft_entry *entries;
	uint64_t *chain;
	size_t n, cap;
	uint64_t first;
};

struct sim;
struct sim_node;
void disk_init(struct sim_disk *d, const struct raft_entry *boot);
void disk_free(struct sim_disk *d);
uint64_t disk_last_index(const struct sim_disk *d);
/* Chain hash of the durable log at `index`: true if known (entry or snapshot). */
bool disk_chain_at(const struct sim_disk *d, uint64_t index, uint64_t *chain);
/* True if d durably holds the entry at `index` whose prefix hash is `chain`
 * (in its log, or under its snapshot). */
bool disk_holds(const struct sim_disk *d, uint64_t index, uint64_t chain);
/* Registers the entries of u in the log-matching map as if u were applied. */
void disk_preview(struct sim *s, struct sim_node *n, const struct raft_update *u);
/* Applies u durably, in raftlog.h's order, checking the storage contract,
 * log matching and that no committed entry is truncated. */
void disk_apply(struct sim *s, struct sim_node *n, const struct raft_update *u);
/* Fills st from d; entries point into d. */
void disk_load_state(const struct sim_disk *d, struct raft_load_state *st);

/* ---- state machine (fsm.c) ----------------------------------------------- */

struct sim_fsm {
	struct fsm real;          /* fsm/'s state: the driver's (member.h m.fsm) */
	uint64_t last_membership; /* index of the last MEMBERSHIP applied */
	uint64_t applied;
	uint64_t applied_term;
	uint64_t chain; /* chain hash over every applied entry */
};

struct fsm_blob_info {
	uint64_t index;
	uint64_t term;
	uint64_t chain;
};

#define SIM_CHAIN0 0x6475657473696d30ull /* chain hash of the empty log */

uint64_t sim_entry_hash(const struct raft_entry *e);
uint64_t sim_chain_next(uint64_t prev, const struct raft_entry *e);
void sim_fsm_reset(struct sim_fsm *f);
/* The driver applied e to f->real: the fingerprint follows. */
void sim_fsm_applied(struct sim_fsm *f, const struct raft_entry *e);
/* The driver restored f->real from a snapshot whose chain hash is chain. */
void sim_fsm_restored(struct sim_fsm *f, uint64_t chain);
/* A snapshot blob (fsm/'s encoding) of a committed state: 0 with its index,
 * term and the committed chain there; -1 if it does not decode or is not a
 * committed (index, term). */
int sim_fsm_blob_parse(const struct sim *s, const uint8_t *blob, uint32_t len,
		       struct fsm_blob_info *info);

/* ---- network (net.c) ----------------------------------------------------- */

struct sim_net {
	uint32_t drop_ppm, dup_ppm, tail_ppm, corrupt_ppm, stall_ppm;
	uint32_t delay_min_us, delay_max_us, tail_max_us, stall_max_us;
	uint16_t cut[SIM_NODES + 1][SIM_NODES + 1]; /* cut[a][b] > 0: a's messages to b are lost */
	uint32_t epoch; /* bumped when everything heals: older LINK_HEAL events are void */
};

void net_init(struct sim *s);
void net_calm(struct sim *s);
void net_random_params(struct sim *s);
bool net_link_up(const struct sim *s, uint32_t from, uint32_t to);
void net_cut(struct sim *s, uint32_t mask, uint64_t duration_us);
void net_heal_mask(struct sim *s, uint32_t mask, uint32_t epoch);
void net_heal_all(struct sim *s);
/* Encodes m, checks it against the sender's durable state and queues it. */
void net_send(struct sim *s, struct sim_node *from, const struct raft_msg *m);
/* Decodes a delivered message; 0: *m owns a decoded message, else dropped. */
int net_receive(struct sim *s, const struct sim_event *ev, struct raft_msg *m);
static inline uint32_t net_link_bit(uint32_t from, uint32_t to)
{
	return 1u << ((from - 1) * SIM_NODES + (to - 1));
}

/* What check_fsm_after() needs of the state before an entry. */
struct fsm_pre {
	uint64_t refused; /* counters.refused */
	bool master_entry, decoded;
	struct duet_master m;
	uint32_t master; /* the master before */
	int target_role; /* enum fsm_role of m.node before */
};

/* ---- nodes (node.c) ------------------------------------------------------ */

/* Where a member stands after a WIPE (wipe.c). */
enum rejoin_state {
	REJOIN_NONE = 0,    /* never wiped, or caught up under its new incarnation */
	REJOIN_WAITING,     /* wiped and down until a MEMBERSHIP raising its incarnation commits */
	REJOIN_CATCHING_UP, /* up under the new incarnation; not yet durably holding that entry */
};

struct sim_node {
	uint32_t id;
	bool up;     /* the process runs (not crashed) */
	bool paused; /* the process is stopped: its events wait in `deferred` */
	struct raft *r;
	struct sim_clock clock;
	struct sim_disk disk;
	struct sim_fsm fsm;

	/* the daemon's driver (member.h): m.persisting while a write is in
	 * flight, m.update the update being written */
	struct sim *sim;
	struct member m;
	struct fsm_pre pre; /* check_fsm_before() of the entry being applied */
	uint32_t persist_gen, tick_gen, restart_gen, resume_gen;
	bool tick_armed;
	uint64_t tick_deadline_ms;

	struct sim_event *deferred;
	size_t n_deferred, cap_deferred;

	/* observations for the checkers */
	int role;
	uint64_t term;
	bool lc_pending; /* leader completeness still to verify for lc_term */
	uint64_t lc_term, lc_required;
	uint64_t boots;

	/* wipe and rejoin (wipe.c) */
	uint64_t incarnation;  /* cfg.self_incarnation of its next boot */
	uint8_t rejoin;        /* enum rejoin_state */
	uint64_t rejoin_index; /* the committed MEMBERSHIP that gave it `incarnation`; 0: none */
	uint64_t rejoin_chain; /* its chain hash */
	bool has_lost;
	struct sim_disk lost; /* the wiped disk, kept until it caught up (check.c) */

	/* role.c: the controller's memory, process state (reset at boot) */
	struct role_proposal proposal;
	uint64_t transfer_at_ms;        /* the last leadership transfer (local ms) */
	uint64_t sync_term, sync_index; /* the last SYNC(on) proposed: term, index */
};

uint64_t node_now_ms(const struct sim *s, const struct sim_node *n);
/* Sets up n's driver (member.h) with the run's parameters (once, before boot). */
void node_init(struct sim *s, struct sim_node *n);
void node_boot(struct sim *s, struct sim_node *n);
void node_crash(struct sim *s, struct sim_node *n, const char *why);
void node_pause(struct sim *s, struct sim_node *n, uint64_t duration_us);
/* Handles one event aimed at a node: the node's id, or -1 if the event was
 * void (stale generation, or deferred because the node is paused). */
int node_event(struct sim *s, struct sim_event *ev);
/* Adds the core's counters to the run's totals (before raft_free). */
void node_collect_counters(struct sim *s, struct sim_node *n);
/* After anything touched n: hand out an update if possible, re-arm the tick. */
void node_drive(struct sim *s, struct sim_node *n, bool after_tick);

/* ---- the role controller (role.c) --------------------------------------- */

/* n's controller turn, as duetd's ctl_step: role/'s leader decision when n
 * leads with the lease on a current fsm, SYNC(on) when it is the master. */
void role_step(struct sim *s, struct sim_node *n);
/* Forgets the controller's memory (a boot). */
void role_reset(struct sim_node *n);

/* ---- faults and workload (faults.c) -------------------------------------- */

struct sim_params {
	const char *profile;
	uint32_t client_gap_min_us, client_gap_max_us;
	uint32_t transfer_ppm; /* per client request */
	bool bursty;           /* the client alternates busy and quiet phases */
	uint32_t busy_max_ms, quiet_max_ms;
	uint32_t quiet_transfer_ppm; /* per quiet-phase client event */
	uint32_t fault_gap_min_us, fault_gap_max_us;
	uint32_t w_crash, w_crash_pending, w_pause, w_isolate, w_oneway, w_net, w_wall, w_heal;
	uint32_t w_wipe;
	uint32_t pause_max_ms;
	uint32_t restart_max_ms;
	uint32_t fsync_fail_ppm;       /* injected storage failure: crash at that point */
	uint32_t crash_after_sync_ppm; /* crash after the write is durable, before persisted() */
	uint32_t step_crash_ppm;       /* crash the node an event just touched, right after it */
	uint32_t disk_slow_ppm;
	uint32_t disk_stall_ppm; /* a write stalled 0.2-2.5 s: other I/O on the disk */
	uint32_t snap_every;     /* the state machine snapshots every K applied entries */
	uint32_t max_payload;
};

void faults_params(struct sim *s);
/* Both return the id of the node they touched, 0 for none, -1 if void. */
int faults_event(struct sim *s, struct sim_event *ev);
int client_event(struct sim *s, struct sim_event *ev);
void faults_heal(struct sim *s);

/* ---- wipe and rejoin (wipe.c) -------------------------------------------- */

struct sim_rejoin {
	uint32_t node;        /* the member waiting for its MEMBERSHIP to commit; 0: none */
	uint64_t incarnation; /* the incarnation that entry gives it */
	uint32_t gen;         /* EV_REJOIN generation */
	uint32_t proposer;    /* last accepted proposal: node, its term, when */
	uint64_t prop_term, prop_index, prop_us;
};

/* Crashes n (if up), wipes its disk and starts its rejoin. Returns n's id, or
 * 0 when a member is still being rebuilt (one lost disk at a time). */
int wipe_node(struct sim *s, struct sim_node *n);
/* EV_REJOIN: propose the MEMBERSHIP on a data-node leader, as duetctl rejoin. */
int rejoin_event(struct sim *s, struct sim_event *ev);
/* A node reports e committed for the first time (after check_commit_report). */
void rejoin_on_commit(struct sim *s, const struct raft_entry *e);
/* n booted: a rejoining member starts catching up. */
void rejoin_on_boot(struct sim *s, struct sim_node *n);
/* n's write became durable: has a rejoining member caught up? */
void rejoin_on_persist(struct sim *s, struct sim_node *n);
/* True while n was wiped and does not yet durably hold its rejoin entry. */
bool rejoin_behind(const struct sim *s, const struct sim_node *n);

/* ---- invariants (check.c) ------------------------------------------------ */

struct commit_rec {
	uint64_t term;
	uint64_t chain;
	uint64_t report_term; /* term of the first node that reported it committed */
	uint64_t fsm_digest;  /* of the fsm snapshot encoding after it (has_fsm) */
	bool has_fsm;
};

/* A MASTER entry role.c proposed, and the outcome the fsm's rules give on
 * the state role/ decided on (check.c master_only_by_rule). */
struct role_prop {
	uint64_t index, term;
	uint64_t applied_at; /* the proposer's applied index then */
	uint32_t node;
	uint8_t reason;
	bool expect_ok;
};

struct lm_pair {
	uint64_t term;
	uint64_t chain;
};

struct lm_slot { /* (term, chain) pairs seen at one index, usually one */
	struct lm_pair first;
	uint32_t n_more;
	struct lm_pair *more;
};

struct post_heal_proposal {
	uint64_t index, term;
};

struct sim_check {
	uint32_t *term_leader; /* term -> leader id, 0: none seen */
	size_t n_terms;
	struct commit_rec *commits; /* commits[i] for index i; 1..max_commit */
	uint64_t max_commit, cap_commits;
	struct lm_slot *lm; /* lm[i] for index i */
	size_t n_lm;
	struct post_heal_proposal props[SIM_MAX_POST_HEAL_PROPOSALS];
	uint32_t n_props;
	bool live_leader, live_commit;
	uint8_t *fsm_buf;      /* scratch for fsm snapshot encodings */
	uint64_t *term_master; /* term -> index of the MASTER accepted in it, 0: none */
	size_t n_term_master;
	struct role_prop *role_props;
	size_t n_role_props, cap_role_props;
};

void check_init(struct sim *s);
void check_free(struct sim *s);
const struct commit_rec *check_commit(const struct sim *s, uint64_t index);
void check_log_entry(struct sim *s, uint32_t node, uint64_t index, uint64_t term, uint64_t chain,
		     const char *where);
void check_commit_report(struct sim *s, struct sim_node *n, const struct raft_entry *e);
void check_apply(struct sim *s, struct sim_node *n, const struct raft_entry *e);
void check_restore(struct sim *s, struct sim_node *n, const struct raft_update *u);
void check_send(struct sim *s, struct sim_node *n, const struct raft_msg *m);
void check_leader_durable(struct sim *s, struct sim_node *n, uint64_t term);
void check_after_event(struct sim *s, struct sim_node *touched);
bool check_liveness(struct sim *s);
/* fsm_agreement: n's fsm after applying (or restoring) is the one every
 * member holds at that index. */
void check_fsm_state(struct sim *s, struct sim_node *n, const char *where);
void check_fsm_before(const struct sim_node *n, const struct raft_entry *e, struct fsm_pre *pre);
/* one_master_per_term, master_only_by_rule: the fsm's verdict on e. */
void check_fsm_after(struct sim *s, struct sim_node *n, const struct raft_entry *e,
		     const struct fsm_pre *pre, const struct fsm_result *res);
/* role.c proposed m at index/term from n's current fsm. */
void check_role_proposed(struct sim *s, struct sim_node *n, uint64_t index, uint64_t term,
			 const struct duet_master *m);

/* ---- trace (trace.c) ----------------------------------------------------- */

enum trace_kind {
	TR_SEND = 1,
	TR_DELIVER,
	TR_DROP,
	TR_TICK,
	TR_READY,
	TR_PERSIST,
	TR_CRASH,
	TR_BOOT,
	TR_PAUSE,
	TR_RESUME,
	TR_CUT,
	TR_HEAL_LINKS,
	TR_NET,
	TR_WALL,
	TR_PROPOSE,
	TR_TRANSFER,
	TR_ROLE,
	TR_SNAPSHOT,
	TR_RESTORE,
	TR_HEAL,
	TR_FSYNC_FAIL,
	TR_CONFIG,
	TR_WIPE,
	TR_REJOIN,
	TR_DECIDE, /* role.c: sub = enum role_leader_action, or ROLE_TRACE_SYNC */
};

#define ROLE_TRACE_SYNC 100 /* TR_DECIDE sub: the master-leader proposes SYNC(on) */

/* TR_REJOIN sub-kinds */
enum rejoin_trace {
	RJ_PROPOSE = 1,
	RJ_COMMITTED,
	RJ_CAUGHT_UP,
};

enum drop_reason {
	DROP_PARTITION = 1,
	DROP_RANDOM,
	DROP_DOWN,
	DROP_CORRUPT,
	DROP_BAD_PEER,
};

struct trace_rec {
	uint64_t t_us, step;
	uint8_t kind, node, peer, sub;
	uint64_t a, b, c, d;
};

struct sim_trace {
	struct trace_rec ring[SIM_TRACE_RING];
	uint64_t n;
	uint64_t digest; /* sim_mix chain over every record and message byte */
	bool verbose;
};

void trace_init(struct sim_trace *t, bool verbose);
void trace_add(struct sim *s, uint8_t kind, uint32_t node, uint32_t peer, uint8_t sub, uint64_t a,
	       uint64_t b, uint64_t c, uint64_t d);
void trace_bytes(struct sim *s, const void *p, size_t len);
void trace_msg(struct sim *s, uint8_t kind, const struct raft_msg *m, uint8_t sub);
void trace_dump(const struct sim *s, FILE *f, size_t last);

/* ---- one run (sim.c) ----------------------------------------------------- */

struct sim_stats {
	uint64_t steps, elections, leader_terms, crashes, restarts, pauses, partitions;
	uint64_t snapshots_taken, snapshots_installed, commits, proposals_ok, transfers;
	uint64_t msgs_sent, msgs_dropped, msgs_duplicated, msgs_corrupted, persists;
	uint64_t fsync_failures, tick_spins, sim_ms;
	uint64_t disk_stalls;
	uint64_t wipes, rejoins, rejoin_proposals;
	uint64_t role_masters, role_syncs, role_transfers; /* role.c's proposals and transfers */
	uint64_t fsm_masters, fsm_refused; /* MASTER entries applied, entries refused (per index) */
};

struct sim {
	uint64_t seed;
	struct sim_rng rng;
	struct sim_sched sched;
	uint64_t now_us;
	uint64_t step;
	uint64_t max_steps;
	bool wipes; /* WIPE is in the fault mix (--no-wipe clears it) */

	struct duet_membership conf;
	struct raft_config cfg; /* defaults; self_id, incarnation and seed set per boot */
	struct raft_entry boot;
	uint8_t boot_buf[4096];
	uint32_t drift_ppm;

	struct sim_node nodes[SIM_NODES + 1];
	struct sim_net net;
	struct sim_params p;
	struct sim_check check;
	struct sim_rejoin rejoin;
	struct sim_trace trace;
	struct sim_stats stats;

	bool healing;
	uint64_t heal_start_us;
	bool client_quiet; /* the workload is in a quiet phase until client_phase_end_us */
	uint64_t client_phase_end_us;

	bool failed;
	uint64_t fail_step;
	char fail_invariant[48];
	char fail_detail[640];
};

struct sim_result {
	const char *profile;
	bool failed;
	uint64_t fail_step;
	char invariant[48];
	char detail[640];
	uint64_t digest;
	struct sim_stats stats;
	char *tail; /* the last trace lines of a failed run if asked for (free it) */
};

void sim_run(uint64_t seed, uint64_t steps, bool wipes, bool verbose, bool want_tail,
	     struct sim_result *res);
/* Records the first violation of the run; the run stops after this event. */
void sim_fail(struct sim *s, const char *invariant, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void sim_push(struct sim *s, uint64_t t_us, uint8_t kind, uint32_t node, uint32_t gen);

void *sim_xmalloc(size_t n);
void *sim_xrealloc(void *p, size_t n);
void *sim_xmemdup(const void *p, size_t n);

#endif
