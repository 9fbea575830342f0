/* SPDX-License-Identifier: MIT */
/*
 * cluster.c - three raft members in one process on real durable stores (see
 * cluster.h).
 *
 * Why these choices, for figures that stand for three machines:
 *  - One thread per member, owning its core and its store: the members' disk
 *    writes overlap as on three machines (the leader writes while the
 *    followers write the same entries).
 *  - The persist step runs inline in the member's thread, not in a worker as
 *    the daemon's uv_queue_work will: with one update outstanding per core,
 *    all the loop could do during the write is step messages into the next
 *    batch, which it does right after; inline gives the same batching
 *    without a thread hop per update, and with three members sharing this
 *    machine's CPUs, three more threads would add context switches a real
 *    cluster does not pay.
 *  - Messages cross threads in wire form (raft_msg_encode() by the sender,
 *    raft_msg_decode() by the receiver), so the codec and its checksums are
 *    part of every figure.
 *  - An update with nothing to write (heartbeat replies, commit notices)
 *    does not reach storage: there is nothing to make durable.
 *  - The core's clock is CLOCK_MONOTONIC in milliseconds.
 *  - A member restored from a snapshot counts its next snapshot from there,
 *    as the daemon does (daemon/node.c): a rejoining member does not write a
 *    snapshot of its own in the middle of its catch-up.
 *  - A member restarted empty (cluster_member_restart_empty) is a new process
 *    on a new disk: its mail queued meanwhile is dropped and its figures start
 *    from zero; its store is created as `duetctl rejoin` leaves it.
 */
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "mailbox.h"

#include "duet/entry.h"
#include "duet/err.h"
#include "duet/raftlog.h"
#include "duet/storage.h"

#define CLUSTER_ID        0xbe9c4d0e7001ull
#define INCARNATION       1
#define ONE_ENTRY_SAMPLES CLUSTER_ONE_ENTRY_SAMPLES
#define IDLE_WAIT_MAX_MS  1000 /* a loop sleeps at most this long */
#define LEADER_POLL_US    2000

static const uint8_t small_snapshot_blob[] = "bench";

struct member {
	uint32_t id;
	struct cluster *cluster;
	struct raft *core;
	struct store *store;
	struct mailbox box;
	bool box_ready;
	pthread_t thread;
	bool thread_started;
	char path[4200];

	_Atomic(struct workload *) work; /* set by main, cleared by the thread */
	atomic_bool stop;                /* cluster_member_stop() */
	uint64_t last_snapshot_index;
	uint64_t applied_index; /* the thread's: restored or applied */
	uint64_t applied_ns;
	uint64_t restored_ns;

	/* figures, the thread's; main reads them after the join */
	uint64_t writes;
	uint64_t write_entries;
	uint64_t write_ns;
	uint64_t write_ns_max;
	uint64_t one_entry_write_ns[ONE_ENTRY_SAMPLES];
	size_t n_one_entry_writes;

	pthread_mutex_t status_mu;
	bool status_mu_ready;
	struct cluster_member_status status;
};

struct cluster {
	struct member members[CLUSTER_MEMBERS];
	uint32_t snapshot_every;
	const uint8_t *snapshot_blob; /* small_snapshot_blob or owned */
	uint32_t snapshot_len;
	struct duet_membership conf; /* as the leader last committed it (main's) */
	atomic_bool stop;

	pthread_mutex_t mu; /* guards failed/failure; cv signals a finish or failure */
	pthread_cond_t cv;  /* on CLOCK_MONOTONIC */
	bool sync_ready;
	bool failed;
	char failure[600];
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ms(void)
{
	return now_ns() / 1000000u;
}

static uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

const char *workload_phase_name(int phase)
{
	switch (phase) {
	case WORKLOAD_LATENCY:
		return "latency";
	case WORKLOAD_THROUGHPUT:
		return "throughput";
	}
	return "unknown";
}

/* Records the first failure, stops every thread and wakes main. */
static void cluster_fail(struct cluster *c, const char *fmt, ...)
{
	pthread_mutex_lock(&c->mu);
	if (!c->failed) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(c->failure, sizeof(c->failure), fmt, ap);
		va_end(ap);
		c->failed = true;
	}
	atomic_store(&c->stop, true);
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	for (int i = 0; i < CLUSTER_MEMBERS; i++)
		if (c->members[i].box_ready)
			mailbox_wake(&c->members[i].box);
}

static struct member *member_by_id(struct cluster *c, uint32_t id)
{
	return id >= 1 && id <= CLUSTER_MEMBERS ? &c->members[id - 1] : NULL;
}

/* ---- the driver loop of one member --------------------------------------- */

static int send_msgs(struct member *m, const struct raft_msg *msgs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct member *to = member_by_id(m->cluster, msgs[i].to);
		if (!to)
			continue; /* as on a network: a message to nobody vanishes */
		size_t size = raft_msg_encoded_size(&msgs[i]);
		struct mail *mail = mail_new(size);
		if (!mail) {
			cluster_fail(m->cluster, "member %u: out of memory for a %zu-byte message",
				     m->id, size);
			return DUET_ENOMEM;
		}
		long len = raft_msg_encode(&msgs[i], mail->data, size);
		if (len < 0) {
			free(mail);
			cluster_fail(m->cluster, "member %u: cannot encode %s to %u: %s", m->id,
				     raft_msg_type_name(msgs[i].type), msgs[i].to,
				     duet_strerror((int)len));
			return (int)len;
		}
		mail->len = (size_t)len;
		if (!mailbox_push(&to->box, mail)) {
			cluster_fail(m->cluster,
				     "the mailbox of member %u would exceed %u bytes: a core sends "
				     "more than max_inflight allows, or member %u stalled",
				     to->id, MAILBOX_MAX_BYTES, to->id);
			return DUET_ETOOBIG;
		}
	}
	return 0;
}

/* Decodes and steps every mail of the list, and frees the list. */
static int step_mail(struct member *m, struct mail *list)
{
	int rc = 0;
	for (struct mail *p = list; p && rc == 0; p = p->next) {
		struct raft_msg msg;
		rc = raft_msg_decode(p->data, p->len, &msg);
		if (rc != 0) {
			cluster_fail(m->cluster, "member %u: cannot decode a %zu-byte message: %s",
				     m->id, p->len, duet_strerror(rc));
			break;
		}
		rc = raft_step(m->core, now_ms(), &msg);
		raft_msg_release(&msg);
		if (rc != 0)
			cluster_fail(m->cluster, "member %u: raft_step: %s", m->id,
				     duet_strerror(rc));
	}
	mail_free_list(list);
	return rc;
}

static bool workload_wants_to_propose(const struct workload *w)
{
	if (!w || w->proposed >= w->target)
		return false;
	if (w->phase == WORKLOAD_LATENCY)
		return w->waiting_index == 0;
	if (w->phase == WORKLOAD_ENTRIES)
		return true;
	return w->proposed - w->applied < w->max_outstanding;
}

/* Proposes what the phase allows now. Returns 0 or a DUET_E* code. */
static int workload_propose(struct member *m, struct workload *w)
{
	uint8_t payload[WORKLOAD_MAX_ENTRY_BYTES];

	while (workload_wants_to_propose(w)) {
		uint8_t type = RAFT_ENTRY_TRAPS;
		const void *data = payload;
		uint32_t len = w->entry_bytes;
		if (w->phase == WORKLOAD_ENTRIES) {
			type = w->entries[w->proposed].type;
			data = w->entries[w->proposed].data;
			len = w->entries[w->proposed].len;
		} else {
			/* distinct payloads: nothing downstream may shortcut on repeats */
			memset(payload, (int)(w->proposed & 0xff), w->entry_bytes);
			memcpy(payload, &w->proposed,
			       w->entry_bytes < sizeof(w->proposed) ? w->entry_bytes
								    : sizeof(w->proposed));
		}
		uint64_t t = now_ns();
		uint64_t index;
		int rc = raft_propose(m->core, t / 1000000u, type, wall_ms(), data, len, &index);
		if (rc != 0) {
			cluster_fail(m->cluster,
				     "member %u: raft_propose in the %s phase (%" PRIu64
				     " of %" PRIu64 " proposed): %s",
				     m->id, workload_phase_name(w->phase), w->proposed, w->target,
				     duet_strerror(rc));
			return rc;
		}
		if (w->proposed == 0) {
			w->first_index = index;
			w->first_ns = t;
		}
		if (w->phase == WORKLOAD_LATENCY) {
			w->waiting_index = index;
			w->waiting_since_ns = t;
		}
		w->proposed++;
	}
	return 0;
}

/* Counts the phase's entries among those just applied. */
static void workload_apply(struct member *m, struct workload *w, const struct raft_entry *e,
			   size_t n)
{
	uint64_t t = now_ns();
	uint64_t before = w->applied;

	for (size_t i = 0; i < n; i++) {
		if (w->proposed == 0 || e[i].index < w->first_index)
			continue;
		if (w->phase == WORKLOAD_LATENCY) {
			if (e[i].index != w->waiting_index)
				continue;
			w->latency_ns[w->applied] = t - w->waiting_since_ns;
			w->waiting_index = 0;
		}
		w->applied++;
	}
	if (w->applied == before)
		return;
	atomic_store(&w->progress, w->applied);
	if (w->applied >= w->target) {
		w->last_ns = t;
		atomic_store(&m->work, NULL);
		pthread_mutex_lock(&m->cluster->mu);
		atomic_store(&w->finished, true);
		pthread_cond_broadcast(&m->cluster->cv);
		pthread_mutex_unlock(&m->cluster->mu);
	}
}

static bool update_has_writes(const struct raft_update *u)
{
	return u->meta_changed || u->has_snapshot || u->truncate_from || u->n_entries ||
	       u->compact_to;
}

/* Steps 1-6 of raftlog.h for one update. Returns 0 or a DUET_E* code. */
static int handle_update(struct member *m, struct raft_update *u)
{
	int rc = send_msgs(m, u->msgs, u->n_msgs);
	if (rc != 0)
		return rc;
	if (update_has_writes(u)) {
		uint64_t t = now_ns();
		rc = store_apply_update(m->store, u);
		if (rc != 0) {
			cluster_fail(m->cluster,
				     "member %u: store_apply_update (update %" PRIu64
				     ", %zu entries) in %s: %s",
				     m->id, u->seq, u->n_entries, m->path, duet_strerror(rc));
			return rc;
		}
		t = now_ns() - t;
		m->writes++;
		m->write_entries += u->n_entries;
		m->write_ns += t;
		if (t > m->write_ns_max)
			m->write_ns_max = t;
		if (u->n_entries == 1 && m->n_one_entry_writes < ONE_ENTRY_SAMPLES)
			m->one_entry_write_ns[m->n_one_entry_writes++] = t;
	}
	rc = raft_persisted(m->core, now_ms(), u);
	if (rc != 0) {
		cluster_fail(m->cluster, "member %u: raft_persisted: %s", m->id, duet_strerror(rc));
		return rc;
	}
	rc = send_msgs(m, u->msgs_after, u->n_msgs_after);
	if (rc != 0)
		return rc;
	if (u->restore_snapshot) {
		/* the state machine keeps nothing: restoring is moving the marks */
		m->applied_index = m->last_snapshot_index = u->snap.index;
		m->applied_ns = m->restored_ns = now_ns();
	}
	if (u->n_committed == 0)
		return 0;

	struct workload *w = atomic_load(&m->work);
	if (w)
		workload_apply(m, w, u->committed, u->n_committed);
	uint64_t last = u->committed[u->n_committed - 1].index;
	m->applied_index = last;
	m->applied_ns = now_ns();
	if (last - m->last_snapshot_index >= m->cluster->snapshot_every) {
		rc = raft_snapshot_taken(m->core, last, m->cluster->snapshot_blob,
					 m->cluster->snapshot_len);
		if (rc != 0) {
			cluster_fail(m->cluster, "member %u: raft_snapshot_taken(%" PRIu64 "): %s",
				     m->id, last, duet_strerror(rc));
			return rc;
		}
		m->last_snapshot_index = last;
	}
	return 0;
}

static void publish_status(struct member *m)
{
	uint64_t t_ms = now_ms();
	struct raft_status st;
	raft_status(m->core, t_ms, &st);
	bool lease = raft_lease_valid(m->core, t_ms);
	pthread_mutex_lock(&m->status_mu);
	m->status.role = st.role;
	m->status.leader = st.leader;
	m->status.lease = lease;
	m->status.term = st.term;
	m->status.commit_index = st.commit_index;
	m->status.applied_index = m->applied_index;
	m->status.applied_ns = m->applied_ns;
	m->status.restored_ns = m->restored_ns;
	m->status.snapshot_index = st.snapshot_index;
	m->status.last_index = st.last_index;
	m->status.snapshots_installed = st.counters.snapshots_installed;
	pthread_mutex_unlock(&m->status_mu);
}

/* One loop turn: messages, timers, proposals, then at most one update. */
static int member_turn(struct member *m)
{
	struct workload *w = atomic_load(&m->work);
	bool busy = raft_has_update(m->core) || workload_wants_to_propose(w);
	uint64_t deadline_ms = raft_next_deadline(m->core);
	uint64_t max_ms = now_ms() + IDLE_WAIT_MAX_MS;
	if (deadline_ms > max_ms)
		deadline_ms = max_ms;
	int rc = step_mail(m, mailbox_take(&m->box, !busy, deadline_ms * 1000000u));
	if (rc != 0)
		return rc;

	uint64_t t_ms = now_ms();
	if (t_ms >= raft_next_deadline(m->core)) {
		rc = raft_tick(m->core, t_ms);
		if (rc != 0) {
			cluster_fail(m->cluster, "member %u: raft_tick: %s", m->id,
				     duet_strerror(rc));
			return rc;
		}
	}
	w = atomic_load(&m->work);
	if (workload_wants_to_propose(w)) {
		rc = workload_propose(m, w);
		if (rc != 0)
			return rc;
	}

	struct raft_update u;
	rc = raft_ready(m->core, &u);
	if (rc == DUET_ENOENT)
		return 0;
	if (rc != 0) {
		/* not EBUSY: every update is persisted within its turn */
		cluster_fail(m->cluster, "member %u: raft_ready: %s", m->id, duet_strerror(rc));
		return rc;
	}
	rc = handle_update(m, &u);
	raft_update_free(&u);
	return rc;
}

static void *member_main(void *arg)
{
	struct member *m = arg;

	while (!atomic_load(&m->cluster->stop) && !atomic_load(&m->stop)) {
		if (member_turn(m) != 0)
			break;
		publish_status(m);
	}
	return NULL;
}

/* ---- setup --------------------------------------------------------------- */

static void membership_fill(struct duet_membership *conf)
{
	memset(conf, 0, sizeof(*conf));
	conf->n = CLUSTER_MEMBERS;
	for (uint32_t i = 0; i < CLUSTER_MEMBERS; i++) {
		struct duet_member *dm = &conf->members[i];
		dm->id = i + 1;
		dm->kind = dm->id == CLUSTER_WITNESS_ID ? DUET_MEMBER_WITNESS : DUET_MEMBER_DATA;
		dm->incarnation = INCARNATION;
		snprintf(dm->name, sizeof(dm->name), "%s%u",
			 dm->kind == DUET_MEMBER_WITNESS ? "witness" : "node", dm->id);
		dm->n_addrs = 1;
		snprintf(dm->addrs[0], sizeof(dm->addrs[0]), "127.0.0.1:%u", 7400 + dm->id);
	}
}

/* Opens (creates) the member's store at m->path, writes the bootstrap entry
 * and the incarnation, and loads the core with raft_config_default()
 * settings under that incarnation. */
static int member_open(struct member *m, const struct raft_entry *boot, uint64_t incarnation)
{
	struct cluster *c = m->cluster;
	char errbuf[400] = "";
	struct raft_config cfg;
	struct store_loaded loaded;

	struct store_options o = {
	    .path = m->path,
	    .cluster_id = CLUSTER_ID,
	    .node_id = m->id,
	    .create = true,
	};
	int rc = store_open(&o, &m->store, errbuf, sizeof(errbuf));
	if (rc != 0) {
		m->store = NULL;
		cluster_fail(c, "cannot open store %s: %s%s%s", m->path, duet_strerror(rc),
			     errbuf[0] ? ": " : "", errbuf);
		return rc;
	}
	/* raft_load() refuses entries newer than the stored term */
	rc = store_set_incarnation(m->store, incarnation);
	if (rc == 0)
		rc = store_set_hardstate(m->store, boot->term, 0);
	if (rc == 0)
		rc = store_log_append(m->store, boot, 1);
	if (rc != 0) {
		cluster_fail(c, "cannot write the bootstrap entry to %s: %s", m->path,
			     duet_strerror(rc));
		return rc;
	}

	raft_config_default(&cfg);
	cfg.self_id = m->id;
	cfg.self_incarnation = incarnation;
	cfg.seed = 0x9e3779b97f4a7c15ull * m->id;
	rc = raft_config_check(&cfg, errbuf, sizeof(errbuf));
	if (rc == 0)
		rc = raft_new(&cfg, &m->core);
	if (rc != 0) {
		m->core = NULL;
		cluster_fail(c, "cannot create the core of member %u: %s %s", m->id,
			     duet_strerror(rc), errbuf);
		return rc;
	}
	rc = store_load(m->store, &loaded, errbuf, sizeof(errbuf));
	if (rc != 0) {
		cluster_fail(c, "cannot load store %s: %s %s", m->path, duet_strerror(rc), errbuf);
		return rc;
	}
	rc = raft_load(m->core, &loaded.state, now_ms());
	store_loaded_free(&loaded);
	if (rc != 0)
		cluster_fail(c, "raft_load of member %u from %s: %s", m->id, m->path,
			     duet_strerror(rc));
	return rc;
}

static int member_start_thread(struct member *m)
{
	publish_status(m);
	pthread_mutex_lock(&m->status_mu);
	m->status.running = true;
	pthread_mutex_unlock(&m->status_mu);
	int rc = pthread_create(&m->thread, NULL, member_main, m);
	if (rc != 0) {
		cluster_fail(m->cluster, "cannot start the thread of member %u: %s", m->id,
			     strerror(rc));
		return -1;
	}
	m->thread_started = true;
	return 0;
}

static int cluster_sync_init(struct cluster *c)
{
	pthread_condattr_t attr;
	if (pthread_condattr_init(&attr) != 0)
		return -1;
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	int rc = pthread_cond_init(&c->cv, &attr);
	pthread_condattr_destroy(&attr);
	if (rc != 0)
		return -1;
	if (pthread_mutex_init(&c->mu, NULL) != 0) {
		pthread_cond_destroy(&c->cv);
		return -1;
	}
	c->sync_ready = true;
	return 0;
}

int cluster_start(const struct cluster_options *o, struct cluster **out)
{
	struct duet_membership conf;
	struct raft_entry boot;
	uint8_t boot_buf[4096];

	struct cluster *c = calloc(1, sizeof(*c));
	*out = c;
	if (!c)
		return -1;
	if (cluster_sync_init(c) != 0) {
		snprintf(c->failure, sizeof(c->failure), "cannot create a mutex");
		c->failed = true;
		return -1;
	}
	c->snapshot_every = o->snapshot_every ? o->snapshot_every : UINT32_MAX;
	c->snapshot_blob = small_snapshot_blob;
	c->snapshot_len = (uint32_t)sizeof(small_snapshot_blob);
	if (o->snapshot_bytes) {
		uint8_t *blob = malloc(o->snapshot_bytes);
		if (!blob) {
			cluster_fail(c, "out of memory for a %u-byte snapshot", o->snapshot_bytes);
			return -1;
		}
		/* not compressible, should anything on the way try */
		uint64_t x = 0x9e3779b97f4a7c15ull;
		for (uint32_t i = 0; i < o->snapshot_bytes; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			blob[i] = (uint8_t)x;
		}
		c->snapshot_blob = blob;
		c->snapshot_len = o->snapshot_bytes;
	}

	membership_fill(&conf);
	c->conf = conf;
	int rc = raft_bootstrap_entry(&conf, &boot, boot_buf, sizeof(boot_buf));
	if (rc != 0) {
		cluster_fail(c, "raft_bootstrap_entry: %s", duet_strerror(rc));
		return -1;
	}
	for (uint32_t i = 0; i < CLUSTER_MEMBERS; i++) {
		struct member *m = &c->members[i];
		m->id = i + 1;
		m->cluster = c;
		if (mailbox_init(&m->box) != 0) {
			cluster_fail(c, "cannot create a mailbox");
			return -1;
		}
		m->box_ready = true;
		if (pthread_mutex_init(&m->status_mu, NULL) != 0) {
			cluster_fail(c, "cannot create a mutex");
			return -1;
		}
		m->status_mu_ready = true;
		snprintf(m->path, sizeof(m->path), "%s/member%u", o->dir, m->id);
		if (member_open(m, &boot, INCARNATION) != 0)
			return -1;
	}
	for (uint32_t i = 0; i < CLUSTER_MEMBERS; i++) {
		struct member *m = &c->members[i];
		if (member_start_thread(m) != 0)
			return -1;
	}
	return 0;
}

/* ---- the main thread's side ---------------------------------------------- */

static struct cluster_member_status member_status(struct member *m)
{
	pthread_mutex_lock(&m->status_mu);
	struct cluster_member_status st = m->status;
	pthread_mutex_unlock(&m->status_mu);
	return st;
}

static bool cluster_failed(struct cluster *c)
{
	pthread_mutex_lock(&c->mu);
	bool failed = c->failed;
	pthread_mutex_unlock(&c->mu);
	return failed;
}

uint32_t cluster_wait_leader(struct cluster *c, uint32_t timeout_ms,
			     const volatile sig_atomic_t *interrupted)
{
	uint64_t deadline = now_ms() + timeout_ms;
	while (now_ms() < deadline && !cluster_failed(c) && !*interrupted) {
		for (uint32_t id = 1; id <= CLUSTER_MEMBERS; id++) {
			struct cluster_member_status st = member_status(member_by_id(c, id));
			if (id != CLUSTER_WITNESS_ID && st.role == RAFT_LEADER && st.lease)
				return id;
		}
		usleep(LEADER_POLL_US);
	}
	return 0;
}

int cluster_run(struct cluster *c, uint32_t leader, struct workload *w, uint32_t stall_ms,
		const volatile sig_atomic_t *interrupted)
{
	struct member *m = member_by_id(c, leader);
	uint64_t last_progress = 0;
	uint64_t last_change_ms = now_ms();

	if (!m || w->target == 0 || w->entry_bytes > WORKLOAD_MAX_ENTRY_BYTES ||
	    (w->phase == WORKLOAD_LATENCY && !w->latency_ns) ||
	    (w->phase == WORKLOAD_THROUGHPUT && w->max_outstanding == 0) ||
	    (w->phase == WORKLOAD_ENTRIES && !w->entries) ||
	    (w->phase != WORKLOAD_LATENCY && w->phase != WORKLOAD_THROUGHPUT &&
	     w->phase != WORKLOAD_ENTRIES)) {
		cluster_fail(c, "cluster_run: invalid workload");
		return -1;
	}
	atomic_store(&m->work, w);
	mailbox_wake(&m->box);

	pthread_mutex_lock(&c->mu);
	while (!atomic_load(&w->finished) && !c->failed && !*interrupted) {
		uint64_t wake = now_ns() + 100000000u;
		struct timespec ts = {.tv_sec = (time_t)(wake / 1000000000u),
				      .tv_nsec = (long)(wake % 1000000000u)};
		pthread_cond_timedwait(&c->cv, &c->mu, &ts);
		uint64_t p = atomic_load(&w->progress);
		if (p != last_progress) {
			last_progress = p;
			last_change_ms = now_ms();
			continue;
		}
		if (now_ms() - last_change_ms <= stall_ms)
			continue;
		pthread_mutex_unlock(&c->mu);
		struct cluster_member_status st = member_status(m);
		cluster_fail(c,
			     "no commit for %u ms in the %s phase: %" PRIu64 " of %" PRIu64
			     " entries committed; member %u is %s in term %" PRIu64
			     " (commit %" PRIu64 ", leader %u)",
			     stall_ms, workload_phase_name(w->phase), p, w->target, m->id,
			     raft_role_name(st.role), st.term, st.commit_index, st.leader);
		return -1;
	}
	bool ok = atomic_load(&w->finished) && !c->failed;
	pthread_mutex_unlock(&c->mu);
	if (!ok && *interrupted)
		cluster_fail(c, "interrupted during the %s phase", workload_phase_name(w->phase));
	return ok ? 0 : -1;
}

void cluster_stop(struct cluster *c)
{
	atomic_store(&c->stop, true);
	for (int i = 0; i < CLUSTER_MEMBERS; i++)
		if (c->members[i].box_ready)
			mailbox_wake(&c->members[i].box);
	for (int i = 0; i < CLUSTER_MEMBERS; i++) {
		struct member *m = &c->members[i];
		if (m->thread_started)
			pthread_join(m->thread, NULL);
		m->thread_started = false;
	}
}

/* ---- rejoin -------------------------------------------------------------- */

void cluster_member_status(struct cluster *c, uint32_t id, struct cluster_member_status *st)
{
	struct member *m = member_by_id(c, id);
	memset(st, 0, sizeof(*st));
	if (m && m->status_mu_ready)
		*st = member_status(m);
}

static void member_join(struct member *m)
{
	atomic_store(&m->stop, true);
	mailbox_wake(&m->box);
	if (m->thread_started)
		pthread_join(m->thread, NULL);
	m->thread_started = false;
	pthread_mutex_lock(&m->status_mu);
	m->status.running = false;
	pthread_mutex_unlock(&m->status_mu);
}

void cluster_member_stop(struct cluster *c, uint32_t id)
{
	struct member *m = member_by_id(c, id);
	if (!m || !m->box_ready)
		return;
	member_join(m);
	if (m->core)
		raft_free(m->core);
	if (m->store)
		store_close(m->store);
	m->core = NULL;
	m->store = NULL;
}

int cluster_raise_incarnation(struct cluster *c, uint32_t leader, uint32_t id, uint32_t stall_ms,
			      const volatile sig_atomic_t *interrupted, uint64_t *incarnation,
			      uint64_t *index)
{
	uint8_t op_buf[1024], conf_buf[4096];
	struct duet_membership conf = c->conf;
	struct duet_operator op;

	const struct duet_member *dm = duet_membership_find(&conf, id);
	if (!dm) {
		cluster_fail(c, "cluster_raise_incarnation: no member %u", id);
		return -1;
	}
	memset(&op, 0, sizeof(op));
	op.command = DUET_OP_REJOIN;
	op.node = id;
	op.incarnation = dm->incarnation + 1;
	snprintf(op.who, sizeof(op.who), "bench");
	snprintf(op.why, sizeof(op.why), "store wiped by the benchmark");
	for (uint32_t i = 0; i < conf.n; i++)
		if (conf.members[i].id == id)
			conf.members[i].incarnation = op.incarnation;
	long op_len = duet_operator_encode(&op, op_buf, sizeof(op_buf));
	long conf_len = duet_membership_encode(&conf, conf_buf, sizeof(conf_buf));
	if (op_len < 0 || conf_len < 0) {
		cluster_fail(c, "cannot encode the rejoin entries: %s",
			     duet_strerror((int)(op_len < 0 ? op_len : conf_len)));
		return -1;
	}
	/* the daemon's order (daemon/rejoin.c): the operator's command, then the
	 * membership that carries it out */
	const struct workload_entry entries[] = {
	    {.type = RAFT_ENTRY_OPERATOR, .data = op_buf, .len = (uint32_t)op_len},
	    {.type = RAFT_ENTRY_MEMBERSHIP, .data = conf_buf, .len = (uint32_t)conf_len},
	};
	struct workload w = {
	    .phase = WORKLOAD_ENTRIES,
	    .target = sizeof(entries) / sizeof(entries[0]),
	    .entries = entries,
	};
	if (cluster_run(c, leader, &w, stall_ms, interrupted) != 0)
		return -1;
	c->conf = conf;
	*incarnation = op.incarnation;
	*index = w.first_index + 1;
	return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path) != 0 ? errno : 0;
}

int cluster_member_restart_empty(struct cluster *c, uint32_t id)
{
	struct duet_membership boot_conf;
	struct raft_entry boot;
	uint8_t boot_buf[4096];

	struct member *m = member_by_id(c, id);
	if (!m || m->thread_started || m->core || m->store) {
		cluster_fail(c, "cluster_member_restart_empty: member %u is not stopped", id);
		return -1;
	}
	int rc = nftw(m->path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	if (rc != 0) {
		cluster_fail(c, "cannot remove store %s: %s", m->path,
			     strerror(rc > 0 ? rc : errno));
		return -1;
	}
	/* a fresh store knows the bootstrap membership only, as after duetctl
	 * rejoin; the new incarnation reaches its view through its log */
	membership_fill(&boot_conf);
	rc = raft_bootstrap_entry(&boot_conf, &boot, boot_buf, sizeof(boot_buf));
	if (rc != 0) {
		cluster_fail(c, "raft_bootstrap_entry: %s", duet_strerror(rc));
		return -1;
	}
	mail_free_list(mailbox_take(&m->box, false, 0));
	m->writes = m->write_entries = m->write_ns = m->write_ns_max = 0;
	m->n_one_entry_writes = 0;
	m->last_snapshot_index = m->applied_index = m->applied_ns = m->restored_ns = 0;
	atomic_store(&m->work, NULL);
	atomic_store(&m->stop, false);
	if (member_open(m, &boot, duet_membership_find(&c->conf, id)->incarnation) != 0)
		return -1;
	return member_start_thread(m);
}

void cluster_figures(struct cluster *c, uint32_t id, struct cluster_member_figures *f)
{
	struct member *m = member_by_id(c, id);
	memset(f, 0, sizeof(*f));
	if (!m)
		return;
	f->id = m->id;
	f->writes = m->writes;
	f->write_entries = m->write_entries;
	f->write_ns = m->write_ns;
	f->write_ns_max = m->write_ns_max;
	f->one_entry_write_ns = m->one_entry_write_ns;
	f->n_one_entry_writes = m->n_one_entry_writes;
	f->mailbox_max_bytes = m->box_ready ? mailbox_max_bytes(&m->box) : 0;
	f->commit_index = m->status_mu_ready ? member_status(m).commit_index : 0;
}

const char *cluster_failure(struct cluster *c)
{
	return c && c->failed ? c->failure : NULL;
}

void cluster_free(struct cluster *c)
{
	if (!c)
		return;
	cluster_stop(c);
	for (int i = 0; i < CLUSTER_MEMBERS; i++) {
		struct member *m = &c->members[i];
		if (m->core)
			raft_free(m->core);
		if (m->store)
			store_close(m->store);
		if (m->box_ready)
			mailbox_destroy(&m->box);
		if (m->status_mu_ready)
			pthread_mutex_destroy(&m->status_mu);
	}
	if (c->snapshot_blob != small_snapshot_blob)
		free((void *)c->snapshot_blob);
	if (c->sync_ready) {
		pthread_cond_destroy(&c->cv);
		pthread_mutex_destroy(&c->mu);
	}
	free(c);
}
