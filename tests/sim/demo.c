/* SPDX-License-Identifier: MIT */
/*
 * demo.c - duet-demo: a narrated failover of the consensus layer, for people.
 *
 * Three real raftlog cores (node-a and node-b are data nodes, the third is
 * the witness), each under the daemon's own driver (member.h: the fsm
 * applies what is committed), exchange real encoded messages over a
 * simulated network with 1-3 ms of delay; each has a simulated disk that
 * keeps what was persisted (term, vote, log) and loses nothing else. The script: elect a master,
 * commit a few decisions, kill -9 the master, watch the other data node take
 * over the lease, restart the old master from its disk and watch it follow.
 * Time is simulated (milliseconds), so the run is the same every time for a
 * given --seed, and takes well under a second.
 *
 * scripts/demo.sh --simulated shows it; scripts/demo.sh itself runs the real
 * daemons and PostgreSQL servers in network namespaces.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duet/member.h"
#include "duet/raftlog.h"

#define N 3
static const char *const NAMES[N + 1] = {"", "node-a", "node-b", "witness"};

struct disk {
	uint64_t term;
	uint32_t vote;
	struct raft_entry *e;
	size_t n;
};

struct msg {
	uint64_t at;
	uint32_t to;
	uint8_t *buf;
	size_t len;
};

static struct raft *core[N + 1];
static struct disk disk[N + 1];
static bool alive[N + 1];
static struct fsm fsm[N + 1];
static struct member mem[N + 1];
static bool writing[N + 1]; /* the driver handed an update to the disk */
static uint32_t ids[N + 1] = {0, 1, 2, 3};
static struct msg *q;
static size_t qn, qcap;
static uint64_t now_ms;
static uint64_t rng = 7;
static struct duet_membership conf;

static int last_role[N + 1];
static bool last_lease[N + 1];

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("[%6" PRIu64 " ms] ", now_ms);
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
}

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "duet-demo: %s: %s\n", what, duet_strerror(rc));
	exit(1);
}

static void disk_append(struct disk *d, const struct raft_entry *e)
{
	d->e = realloc(d->e, (d->n + 1) * sizeof(*d->e));
	d->e[d->n] = *e;
	d->e[d->n].data = malloc(e->len ? e->len : 1);
	if (e->len)
		memcpy(d->e[d->n].data, e->data, e->len);
	d->n++;
}

static void disk_apply(struct disk *d, const struct raft_update *u)
{
	if (u->meta_changed) {
		d->term = u->term;
		d->vote = u->vote;
	}
	while (u->truncate_from && d->n && d->e[d->n - 1].index >= u->truncate_from)
		free(d->e[--d->n].data);
	for (size_t i = 0; i < u->n_entries; i++)
		disk_append(d, &u->entries[i]);
}

static void boot(uint32_t id)
{
	struct raft_config cfg;
	raft_config_default(&cfg);
	cfg.self_id = id;
	cfg.seed = rnd();
	int rc = raft_new(&cfg, &core[id]);
	if (rc)
		die("raft_new", rc);
	struct raft_load_state st = {.term = disk[id].term,
				     .vote = disk[id].vote,
				     .entries = disk[id].e,
				     .n_entries = disk[id].n};
	rc = raft_load(core[id], &st, now_ms);
	if (rc)
		die("raft_load", rc);
	member_reset(&mem[id]);
	rc = member_start(&mem[id], core[id], NULL, 0, 0);
	if (rc)
		die("member_start", rc);
	alive[id] = true;
	writing[id] = false;
}

static void send(const struct raft_msg *m)
{
	size_t len = raft_msg_encoded_size(m);
	uint8_t *buf = malloc(len);
	if (raft_msg_encode(m, buf, len) != (long)len)
		die("encode", DUET_EINVAL);
	if (qn == qcap) {
		qcap = qcap ? qcap * 2 : 64;
		q = realloc(q, qcap * sizeof(*q));
	}
	q[qn++] = (struct msg){.at = now_ms + 1 + rnd() % 3, .to = m->to, .buf = buf, .len = len};
}

/* ---- the driver's ops (member.h) ---- */

static void op_send(void *ctx, const struct raft_msg *msgs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		send(&msgs[i]);
}

static int op_persist_start(void *ctx, struct raft_update *u)
{
	writing[*(const uint32_t *)ctx] = true;
	return 0;
}

static void op_fatal(void *ctx, const char *what, int rc)
{
	die(what, rc);
}

static const struct member_ops ops = {
    .send = op_send, .persist_start = op_persist_start, .fatal = op_fatal};

static const struct member_config member_cfg = {
    .snapshot_every_entries = MEMBER_SNAPSHOT_EVERY_ENTRIES,
    .snapshot_every_bytes = MEMBER_SNAPSHOT_EVERY_BYTES,
    .ckpt_every = MEMBER_CKPT_EVERY,
};

static void drive(uint32_t id)
{
	while (alive[id]) {
		member_drive(&mem[id], now_ms);
		if (!writing[id])
			return;
		writing[id] = false;
		disk_apply(&disk[id], &mem[id].update); /* the disk is fast in this demo */
		member_persisted(&mem[id], now_ms, 0);
	}
}

static struct raft_status st_of(uint32_t id)
{
	struct raft_status st;
	raft_status(core[id], now_ms, &st);
	return st;
}

/* One millisecond of simulated time: deliver due messages, tick, report. */
static void step_ms(void)
{
	now_ms++;
	for (size_t i = 0; i < qn;) {
		if (q[i].at > now_ms) {
			i++;
			continue;
		}
		struct msg m = q[i];
		q[i] = q[--qn];
		if (alive[m.to]) {
			struct raft_msg d;
			if (raft_msg_decode(m.buf, m.len, &d) == 0) {
				raft_step(core[m.to], now_ms, &d);
				raft_msg_release(&d);
			}
		}
		free(m.buf);
	}
	for (uint32_t id = 1; id <= N; id++) {
		if (!alive[id])
			continue;
		raft_tick(core[id], now_ms);
		drive(id);
		struct raft_status st = st_of(id);
		bool lease = raft_lease_valid(core[id], now_ms);
		if (st.role == RAFT_LEADER && last_role[id] != RAFT_LEADER)
			say("%s wins the election for term %" PRIu64 " (%s)", NAMES[id], st.term,
			    st.last_election_reason == RAFT_ELECTION_TRANSFER
				? "leadership handed over"
				: "no word from a master");
		if (st.role != RAFT_LEADER && last_role[id] == RAFT_LEADER)
			say("%s is no longer leader", NAMES[id]);
		if (lease && !last_lease[id])
			say("%s holds the master lease: a majority acknowledged it; it may act as "
			    "master",
			    NAMES[id]);
		if (!lease && last_lease[id])
			say("%s's lease has lapsed", NAMES[id]);
		last_role[id] = st.role;
		last_lease[id] = lease;
	}
}

static uint32_t lease_holder(void)
{
	for (uint32_t id = 1; id <= N; id++)
		if (alive[id] && raft_lease_valid(core[id], now_ms))
			return id;
	return 0;
}

static void run_until(bool (*pred)(void), uint64_t limit_ms, const char *what)
{
	uint64_t end = now_ms + limit_ms;
	while (!pred()) {
		if (now_ms >= end) {
			fprintf(stderr, "duet-demo: no %s within %" PRIu64 " ms\n", what, limit_ms);
			exit(1);
		}
		step_ms();
	}
}

static bool have_master(void)
{
	return lease_holder() != 0;
}

static uint32_t killed;
static bool new_master(void)
{
	uint32_t h = lease_holder();
	return h && h != killed;
}

static uint64_t target;
static bool all_applied(void)
{
	for (uint32_t id = 1; id <= N; id++)
		if (!alive[id] || fsm[id].applied_index < target)
			return false;
	return true;
}

static void propose(uint32_t master, uint8_t type, const void *payload, long len, const char *what)
{
	uint64_t index;
	int rc = raft_propose(core[master], now_ms, type, 0, payload, (uint32_t)len, &index);
	if (rc)
		die("propose", rc);
	say("%s proposes %s at index %" PRIu64, NAMES[master], what, index);
	target = index;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			rng = strtoull(argv[++i], NULL, 10) * 2654435761u + 1;
		} else {
			printf(
			    "usage: duet-demo [--seed N]\n\n"
			    "A narrated failover of duet's consensus layer: three raftlog cores\n"
			    "(two data nodes and the witness) over a simulated network; the "
			    "master\n"
			    "is killed and the other data node takes over the lease. Simulated\n"
			    "time; the same seed gives the same run.\n");
			return strcmp(argv[i], "--help") ? 2 : 0;
		}
	}
	conf.n = N;
	for (uint32_t i = 0; i < N; i++) {
		struct duet_member *m = &conf.members[i];
		m->id = i + 1;
		m->kind = i + 1 == N ? DUET_MEMBER_WITNESS : DUET_MEMBER_DATA;
		m->incarnation = 1;
		snprintf(m->name, sizeof(m->name), "%s", NAMES[i + 1]);
	}
	uint8_t buf[4096];
	struct raft_entry bootstrap;
	int rc = raft_bootstrap_entry(&conf, &bootstrap, buf, sizeof(buf));
	if (rc)
		die("bootstrap", rc);
	for (uint32_t id = 1; id <= N; id++) {
		disk_append(&disk[id], &bootstrap);
		disk[id].term = 1;
		member_init(&mem[id], &member_cfg, &ops, &ids[id], &fsm[id]);
		boot(id);
	}
	say("three members start: node-a and node-b (data nodes), witness (votes, never master)");

	run_until(have_master, 10000, "master");
	uint32_t master = lease_holder();
	uint8_t p[512];
	struct duet_master mr = {.node = master, .reason = DUET_MASTER_FIRST_START};
	snprintf(mr.detail, sizeof(mr.detail), "first start");
	propose(master, RAFT_ENTRY_MASTER, p, duet_master_encode(&mr, p, sizeof(p)),
		"MASTER(first start)");
	struct duet_sync sy = {.node = master == 1 ? 2 : 1, .on = 1};
	propose(master, RAFT_ENTRY_SYNC, p, duet_sync_encode(&sy, p, sizeof(p)),
		"SYNC(standby on)");
	run_until(all_applied, 2000, "commit");
	say("index %" PRIu64 " is committed and applied on all three members", target);
	uint64_t committed = target;

	for (int i = 0; i < 300; i++)
		step_ms();
	killed = master;
	alive[killed] = false;
	member_reset(&mem[killed]);
	raft_free(core[killed]);
	last_role[killed] = RAFT_FOLLOWER;
	last_lease[killed] = false;
	uint64_t t_kill = now_ms;
	say("kill -9 %s (the master); its disk keeps what it persisted", NAMES[killed]);

	run_until(new_master, 10000, "new master");
	uint32_t nm = lease_holder();
	uint64_t t_new = now_ms;
	struct raft_config def;
	raft_config_default(&def);
	say("%s is master %" PRIu64 " ms after the kill (election timeout %u-%u ms, lease %u ms)",
	    NAMES[nm], t_new - t_kill, def.election_timeout_min_ms, def.election_timeout_max_ms,
	    def.lease_ms);
	struct raft_status st = st_of(nm);
	say("%s's log holds index %" PRIu64 " (committed before the kill: %" PRIu64 "): %s",
	    NAMES[nm], st.last_index, committed,
	    st.last_index >= committed ? "nothing committed was lost" : "LOST ENTRIES");

	mr = (struct duet_master){.node = nm, .previous = killed, .reason = DUET_MASTER_FAILOVER};
	snprintf(mr.detail, sizeof(mr.detail), "master %s lost", NAMES[killed]);
	/* the old master is down: only two members run, which is still a majority */
	propose(nm, RAFT_ENTRY_MASTER, p, duet_master_encode(&mr, p, sizeof(p)),
		"MASTER(failover)");
	uint64_t t = now_ms;
	while (!(fsm[nm].applied_index >= target && fsm[3].applied_index >= target) &&
	       now_ms < t + 2000)
		step_ms();
	say("the failover decision is committed by %s and the witness", NAMES[nm]);

	for (int i = 0; i < 500; i++)
		step_ms();
	say("%s restarts from its disk", NAMES[killed]);
	boot(killed);
	run_until(all_applied, 5000, "catch-up");
	say("%s follows %s and has applied index %" PRIu64 ": the cluster is whole again",
	    NAMES[killed], NAMES[nm], target);
	printf("\nfailover_ms: %" PRIu64 "\nlost_committed_entries: %d\n", t_new - t_kill,
	       st.last_index >= committed ? 0 : 1);
	return st.last_index >= committed ? 0 : 1;
}
