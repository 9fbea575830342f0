/* SPDX-License-Identifier: MIT */
/*
 * trapd.c - the trap pipeline's log, transport and sink side (trapd.h).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "duet/fsm.h"
#include "duet/storage.h"
#include "duet/traps_pipe.h"
#include "duet/traps_sink.h"

#include "node_internal.h"
#include "trapd.h"
#include "status.h"

/* Batches proposed and not yet applied, at most: traps that arrive
 * meanwhile gather into the next batch (fewer, larger entries: one durable
 * write on each member per entry), unless a full batch is waiting. */
#define TRAPD_BATCHES_IN_FLIGHT 2
/* Keep this much queued in the sink at most before reading more entries. */
#define TRAPD_SINK_QUEUE_BYTES (32u << 20)

struct trapd_state {
	struct duet_trap_pipe *pipe;
	struct duet_trap_pipe_config pc; /* what it was made with */
	struct duet_trap_sink *sink;     /* NULL with [sink] type = none */
	uv_timer_t tick;
	bool tick_open;
	uint8_t *buf, *ans; /* one batch; one answer */
	size_t cap, ans_cap;

	bool keys_only; /* the witness: committed keys for its snapshots, nothing else */
	bool proposing, delivering;
	uint64_t lead_term; /* term in which we last started or stopped proposing */
	uint64_t inflight[TRAPD_BATCHES_IN_FLIGHT]; /* indexes of the last batches proposed */
	uint64_t submitted, confirmed;              /* entry indexes, this leadership */
	uint64_t delivered_prop_index, delivered_prop_term, delivered_prop_ms;

	struct trapd_counters c;
};

static struct trapd_state *st_of(const struct node *n)
{
	return n->traps;
}

/* ---- role ---------------------------------------------------------------- */

static void deliver_reset(struct node *n, bool on)
{
	struct trapd_state *t = st_of(n);
	if (t->sink)
		duet_sink_reset(t->sink);
	t->delivering = on;
	t->submitted = t->confirmed = duet_trap_pipe_delivered_index(t->pipe);
	if (on)
		duet_log(DUET_LOG_INFO,
			 "traps: this node delivers now, from entry %" PRIu64 " on (the last "
			 "DELIVERED)",
			 t->submitted + 1);
}

static void update_role(struct node *n, uint64_t now)
{
	struct trapd_state *t = st_of(n);
	struct raft_status rs;
	raft_status(n->raft, now, &rs);
	struct duet_trap_pipe_role role = {
	    .leader = rs.role == RAFT_LEADER && rs.lease_expiry_ms > now,
	    .term = rs.term,
	    .term_start = rs.last_index, /* read after the election's entry was appended */
	    .applied = n->fsm.applied_index,
	};
	duet_trap_pipe_set_role(t->pipe, &role, now);
	bool ready = duet_trap_pipe_proposing(t->pipe);
	if (ready != t->proposing) {
		t->proposing = ready;
		t->lead_term = rs.term;
		duet_log(DUET_LOG_INFO, "traps: %s",
			 ready ? "this node proposes traps (leader with the lease)"
			       : "this node holds and forwards traps (standby)");
	}
	bool deliver = ready && t->sink;
	if (deliver != t->delivering)
		deliver_reset(n, deliver);
}

/* ---- batches and DELIVERED ----------------------------------------------- */

/* The slot of the oldest batch still in flight, or -1 when one is free. */
static int inflight_full(const struct node *n, const struct trapd_state *t)
{
	int oldest = 0;
	for (int k = 0; k < TRAPD_BATCHES_IN_FLIGHT; k++) {
		if (t->inflight[k] <= n->fsm.applied_index)
			return -1;
		if (t->inflight[k] < t->inflight[oldest])
			oldest = k;
	}
	return oldest;
}

static void propose_batches(struct node *n)
{
	struct trapd_state *t = st_of(n);
	for (;;) {
		int slot = inflight_full(n, t);
		if (slot >= 0 && duet_trap_pipe_outbox(t->pipe) < n->cfg.traps.batch_max)
			return; /* proposed when a batch is applied (trapd_step) */
		if (slot < 0)
			for (slot = 0; t->inflight[slot] > n->fsm.applied_index; slot++)
				;
		long len = duet_trap_pipe_take_batch(t->pipe, t->buf, t->cap);
		if (len <= 0) {
			if (len < 0)
				duet_log(DUET_LOG_ERROR, "traps: batch: %s",
					 duet_strerror((int)len));
			return;
		}
		uint64_t index;
		int rc = raft_propose(n->raft, node_now_ms(), RAFT_ENTRY_TRAPS, node_wall_ms(),
				      t->buf, (uint32_t)len, &index);
		if (rc) {
			duet_trap_pipe_batch_refused(t->pipe);
			t->c.batch_busy++;
			if (rc != DUET_EBUSY)
				duet_log(DUET_LOG_WARN, "traps: propose: %s", duet_strerror(rc));
			return; /* retried at the next turn */
		}
		t->c.batches++;
		t->inflight[slot] = index;
		duet_trap_pipe_batch_proposed(t->pipe, index);
	}
}

static void build_id(const struct node *n, uint64_t index, uint32_t pos, char *id, size_t cap)
{
	snprintf(id, cap, "%016" PRIx64 "-%" PRIu64 "-%" PRIu32, n->cfg.cluster_id, index, pos);
}

static void deliver_more(struct node *n)
{
	struct trapd_state *t = st_of(n);
	struct duet_trap_pipe_entry e;
	while (t->delivering && duet_sink_queued_bytes(t->sink) < TRAPD_SINK_QUEUE_BYTES &&
	       duet_trap_pipe_undelivered(t->pipe, t->submitted, &e)) {
		struct duet_sink_record *recs = calloc(e.n ? e.n : 1, sizeof *recs);
		if (!recs)
			return;
		for (uint32_t i = 0; i < e.n; i++) {
			const struct duet_member *m =
			    duet_membership_find(&n->cfg.membership, e.traps[i].receiver);
			build_id(n, e.index, i, recs[i].id, sizeof recs[i].id);
			recs[i].trap = &e.traps[i];
			recs[i].receiver = m ? m->name : "unknown";
		}
		int rc = duet_sink_submit(t->sink, e.index, recs, e.n);
		free(recs);
		if (rc == DUET_EINVAL) {
			/* a record no sink can take (not decoder output: an admin
			 * probe, say): counted and skipped, or it would hold back
			 * every trap after it; the empty batch keeps the order */
			t->c.undeliverable += e.n;
			duet_log(DUET_LOG_ERROR,
				 "traps: entry %" PRIu64
				 " has a record the sink refuses; its %" PRIu32
				 " trap(s) are skipped",
				 e.index, e.n);
			rc = duet_sink_submit(t->sink, e.index, NULL, 0);
		}
		if (rc) {
			t->c.submit_busy++;
			return;
		}
		t->submitted = e.index;
	}
}

/* The compaction floor is the fsm's (DESIGN.md 3): every member keeps the
 * TRAPS entries no DELIVERED covers. A leader without a sink has nothing to
 * deliver, so it records DELIVERED (sink none) up to the last TRAPS entry
 * applied, or no member could ever compact past the first trap. */
static void propose_delivered(struct node *n, uint64_t now)
{
	struct trapd_state *t = st_of(n);
	uint64_t up_to;
	if (t->delivering)
		up_to = t->confirmed > duet_trap_pipe_delivered_index(t->pipe) ? t->confirmed : 0;
	else if (t->proposing && !t->sink)
		up_to =
		    n->fsm.traps.last_index > n->fsm.traps.delivered ? n->fsm.traps.last_index : 0;
	else
		up_to = 0;
	if (!up_to)
		return;
	if (t->delivered_prop_term == t->lead_term &&
	    t->delivered_prop_index > n->fsm.applied_index)
		return; /* the last one is not applied yet */
	if (now - t->delivered_prop_ms < TRAPD_DELIVERED_EVERY_MS)
		return;
	struct duet_delivered d = {.up_to_index = up_to,
				   .sink = t->sink ? (uint8_t)n->cfg.sink.type : 0};
	uint8_t buf[64];
	long len = duet_delivered_encode(&d, buf, sizeof buf);
	uint64_t index;
	if (len > 0 && raft_propose(n->raft, now, RAFT_ENTRY_DELIVERED, node_wall_ms(), buf,
				    (uint32_t)len, &index) == 0) {
		t->delivered_prop_index = index;
		t->delivered_prop_term = t->lead_term;
		t->delivered_prop_ms = now;
	}
}

static void on_confirm(void *data, uint64_t tag)
{
	struct node *n = data;
	struct trapd_state *t = st_of(n);
	if (!t->delivering || tag <= t->confirmed || tag > t->submitted)
		return; /* from before a reset */
	t->confirmed = tag;
	t->c.confirms++;
	node_drive_later(n);
}

static void on_sink_log(void *data, int level, const char *text)
{
	(void)data;
	duet_log(level >= 3   ? DUET_LOG_ERROR
		 : level == 2 ? DUET_LOG_WARN
		 : level == 1 ? DUET_LOG_INFO
			      : DUET_LOG_DEBUG,
		 "sink: %s", text);
}

void trapd_pump(struct node *n)
{
	struct trapd_state *t = st_of(n);
	if (!t || t->keys_only || n->stopping)
		return;
	uint64_t now = node_now_ms();
	update_role(n, now);
	if (t->proposing)
		propose_batches(n);
	deliver_more(n);
	propose_delivered(n, now);
}

void trapd_step(struct node *n)
{
	trapd_pump(n);
}

/* ---- applying ------------------------------------------------------------ */

static void pipe_config(const struct node *n, struct duet_trap_pipe_config *pc)
{
	const struct duet_config_traps *ct = &n->cfg.traps;
	duet_trap_pipe_config_default(pc, n->cfg.self_id);
	if (ct->window_ms)
		pc->window_ms = ct->window_ms;
	if (ct->forward_delay_ms)
		pc->forward_delay_ms = ct->forward_delay_ms;
	if (pc->reforward_ms < pc->forward_delay_ms * 2)
		pc->reforward_ms = pc->forward_delay_ms * 2;
	if (ct->batch_max)
		pc->batch_max = ct->batch_max;
	if (ct->pending_max)
		pc->live_max = ct->pending_max;
	if (ct->backlog_max)
		pc->backlog_max = ct->backlog_max;
	if (ct->backlog_max_bytes)
		pc->backlog_max_bytes = ct->backlog_max_bytes;
	if (ct->identities_max)
		pc->identities_max = ct->identities_max;
	pc->keep_undelivered =
	    n->cfg.self_kind == DUET_MEMBER_DATA && n->cfg.sink.type != DUET_CONFIG_SINK_NONE;
}

/* The keys of the snapshot in the store (a restart): committed, matched
 * and counted in the ordinal window like the log's entries after it. */
static void restore_from_store(struct node *n, struct trapd_state *t)
{
	struct raft_snapshot_meta m;
	uint8_t *data = NULL;
	uint32_t len = 0;
	if (store_snapshot_get(n->store, &m, &data, &len) != 0)
		return; /* none (or unreadable: start_raft said so already) */
	struct fsm *f = malloc(sizeof *f);
	const uint8_t *keys = NULL;
	uint32_t keys_len = 0;
	if (f && fsm_snapshot_decode_keys(data, len, f, &keys, &keys_len) == 0) {
		int rc = duet_trap_pipe_restore_keys(t->pipe, f->applied_index, keys, keys_len,
						     f->traps.delivered);
		if (rc)
			duet_log(DUET_LOG_WARN, "traps: keys of the stored snapshot: %s",
				 duet_strerror(rc));
	}
	free(f);
	free(data);
}

/* The pipe, on a data node (trapd_open) or, made here on first use, on the
 * witness: it has no receivers and no sink, but its snapshots must carry
 * the committed keys like any member's (DESIGN.md 5). */
static struct trapd_state *keys_state(struct node *n)
{
	struct trapd_state *t = st_of(n);
	if (t || n->cfg.self_kind == DUET_MEMBER_DATA || n->stopping)
		return t;
	t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	struct duet_trap_pipe_config pc;
	pipe_config(n, &pc);
	if (duet_trap_pipe_new(&pc, &t->pipe) != 0) {
		free(t);
		return NULL;
	}
	t->keys_only = true;
	n->traps = t;
	restore_from_store(n, t);
	return t;
}

long trapd_snapshot_keys(struct node *n, uint64_t up_to, uint8_t **out)
{
	*out = NULL;
	struct trapd_state *t = keys_state(n);
	if (!t)
		return 0;
	long len = duet_trap_pipe_export_keys(t->pipe, up_to, FSM_SNAPSHOT_KEYS_MAX_BYTES, out);
	if (len > 0 && (size_t)len + 2 * 55 > FSM_SNAPSHOT_KEYS_MAX_BYTES) {
		t->c.keys_cut++;
		duet_log(DUET_LOG_WARN,
			 "traps: the snapshot at index %" PRIu64 " holds the newest %ld bytes of "
			 "committed keys only (the limit): a member catching up from it may "
			 "commit copies of older traps again",
			 up_to, len);
	}
	return len;
}

void trapd_restored(struct node *n, const struct fsm *f, const uint8_t *keys, uint32_t len)
{
	struct trapd_state *t = keys_state(n);
	if (!t)
		return;
	int rc =
	    duet_trap_pipe_restore_keys(t->pipe, f->applied_index, keys, len, f->traps.delivered);
	if (rc == DUET_ENOMEM) {
		duet_log(DUET_LOG_ERROR, "traps: out of memory restoring committed keys; exiting");
		exit(1);
	}
	if (rc)
		duet_log(DUET_LOG_WARN, "traps: keys of the snapshot: %s", duet_strerror(rc));
}

void trapd_applied(struct node *n, const struct raft_entry *e)
{
	if (e->type != RAFT_ENTRY_TRAPS && e->type != RAFT_ENTRY_DELIVERED)
		return;
	struct trapd_state *t = keys_state(n);
	if (!t)
		return;
	if (e->type == RAFT_ENTRY_TRAPS) {
		int rc = duet_trap_pipe_committed(t->pipe, e->index, e->data, e->len);
		if (rc == DUET_ENOMEM) {
			duet_log(DUET_LOG_ERROR,
				 "traps: out of memory keeping committed entry %" PRIu64
				 "; exiting",
				 e->index);
			exit(1);
		}
		if (rc) {
			t->c.bad_entries++;
			duet_log(DUET_LOG_WARN,
				 "traps: committed entry %" PRIu64 " does not decode: %s", e->index,
				 duet_strerror(rc));
		}
	} else if (e->type == RAFT_ENTRY_DELIVERED) {
		struct duet_delivered d;
		if (duet_delivered_decode(e->data, e->len, &d) == 0) {
			duet_trap_pipe_delivered(t->pipe, d.up_to_index);
			t->c.delivered_entries++;
		} else {
			t->c.bad_entries++;
		}
	}
}

/* ---- forwarding ---------------------------------------------------------- */

static uint32_t data_leader(struct node *n, uint64_t now)
{
	struct raft_status rs;
	raft_status(n->raft, now, &rs);
	const struct duet_member *m = duet_membership_find(&n->cfg.membership, rs.leader);
	if (!m || m->kind != DUET_MEMBER_DATA || rs.leader == n->cfg.self_id)
		return 0;
	return rs.leader;
}

static void forward_due(struct node *n)
{
	struct trapd_state *t = st_of(n);
	uint64_t now = node_now_ms();
	if (t->proposing || !n->xport)
		return;
	uint32_t leader = data_leader(n, now);
	if (!leader)
		return; /* kept; sent when a data node leads */
	long len;
	while ((len = duet_trap_pipe_take_forward(t->pipe, now, t->buf, t->cap)) > 0) {
		int rc =
		    xport_send(n->xport, leader, NODE_FRAME_TRAPS_FORWARD, t->buf, (uint32_t)len);
		if (rc) {
			/* the items stay pending and go again after reforward */
			t->c.forward_failed++;
			return;
		}
		t->c.forward_frames++;
	}
}

static void on_tick(uv_timer_t *h)
{
	struct node *n = h->data;
	if (n->stopping)
		return;
	trapd_pump(n);
	forward_due(n);
	trapd_rx_tick(n);
}

void trapd_frame(struct node *n, uint32_t from, uint8_t type, const uint8_t *payload, uint32_t len)
{
	struct trapd_state *t = st_of(n);
	const struct duet_member *m = duet_membership_find(&n->cfg.membership, from);
	if (t && t->keys_only)
		t = NULL;
	if (!t || !m || m->kind != DUET_MEMBER_DATA) {
		n->frames_bad++;
		if (t)
			t->c.frames_bad++;
		return;
	}
	if (type == NODE_FRAME_TRAPS_FORWARD) {
		trapd_pump(n); /* the role as of now */
		if (!t->proposing) {
			t->c.forwards_not_leader++; /* the sender forwards again later */
			return;
		}
		long alen = duet_trap_pipe_forwarded(t->pipe, payload, len, node_now_ms(), t->ans,
						     t->ans_cap);
		if (alen < 0) {
			t->c.frames_bad++;
			n->frames_bad++;
			duet_log(DUET_LOG_WARN, "traps: forward from %s refused: %s", m->name,
				 duet_strerror((int)alen));
			return;
		}
		if (alen > 0 && xport_send(n->xport, from, NODE_FRAME_TRAPS_ANSWER, t->ans,
					   (uint32_t)alen) == 0)
			t->c.answers++;
		node_drive_later(n);
	} else if (duet_trap_pipe_ack(t->pipe, payload, len) != 0) {
		t->c.frames_bad++;
		n->frames_bad++;
	}
}

/* ---- receiving ----------------------------------------------------------- */

int trapd_receive(struct node *n, uint8_t kind, const char *sender, const void *content,
		  size_t content_len, const char *json, size_t json_len)
{
	struct trapd_state *t = st_of(n);
	uint8_t id[DUET_TRAP_IDENTITY_BYTES] = {0};
	if (json_len > DUET_TRAP_MAX_PAYLOAD)
		return duet_trap_pipe_receive(t->pipe, kind, sender, id, NULL, UINT32_MAX, 0, 0,
					      NULL); /* counted as too large */
	if (duet_trap_identity(kind, sender, content, content_len, id) != 0)
		return DUET_TRAP_NO_MEMORY;
	int r = duet_trap_pipe_receive(t->pipe, kind, sender, id, json, (uint32_t)json_len,
				       node_trap_ms(), node_now_ms(), NULL);
	if (r == DUET_TRAP_TAKEN && t->proposing)
		node_drive_later(n);
	return r;
}

/* ---- life ---------------------------------------------------------------- */

int trapd_open(struct node *n)
{
	struct trapd_state *t = calloc(1, sizeof *t);
	if (!t)
		return -1;
	n->traps = t;
	struct duet_trap_pipe_config pc;
	pipe_config(n, &pc);
	t->pc = pc;
	int rc = duet_trap_pipe_new(&pc, &t->pipe);
	if (rc) {
		duet_log(DUET_LOG_ERROR, "traps: %s", duet_strerror(rc));
		return -1;
	}
	/* The start of listening, for the ordinal window's rebuild
	 * (traps_pipe.h): taken before the receivers are bound at the end
	 * of this function and before any key is applied, so that every
	 * copy this node receives is received after it. */
	duet_trap_pipe_clock(t->pipe, node_trap_ms(), node_now_ms());
	restore_from_store(n, t);
	t->cap = pc.batch_max_bytes;
	t->ans_cap = 1024 + (size_t)pc.batch_max * 128 + pc.batch_max_bytes / 8;
	t->buf = malloc(t->cap);
	t->ans = malloc(t->ans_cap);
	if (!t->buf || !t->ans)
		return -1;
	if (n->cfg.sink.type != DUET_CONFIG_SINK_NONE) {
		struct duet_sink_config sc = {0};
		sc.type = n->cfg.sink.type == DUET_CONFIG_SINK_TCP    ? DUET_SINK_TCP
			  : n->cfg.sink.type == DUET_CONFIG_SINK_RELP ? DUET_SINK_RELP
								      : DUET_SINK_POSTGRESQL;
		sc.relp_window = n->cfg.sink.window;
		sc.relp_max_message_bytes = n->cfg.sink.max_message_bytes;
		sc.address = n->cfg.sink.address[0] ? n->cfg.sink.address : NULL;
		sc.conninfo = n->cfg.sink.conninfo;
		sc.table = n->cfg.sink.table;
		sc.timeout_ms = n->cfg.sink.timeout_ms;
		sc.without_acks = n->cfg.sink.ack == DUET_CONFIG_SINK_ACK_NONE;
		sc.on_confirm = on_confirm;
		sc.on_log = on_sink_log;
		sc.data = n;
		char err[256] = "";
		rc = duet_sink_new(n->loop, &sc, &t->sink, err, sizeof err);
		if (rc) {
			duet_log(DUET_LOG_ERROR, "[sink]: %s", err[0] ? err : duet_strerror(rc));
			return -1;
		}
	}
	uv_timer_init(n->loop, &t->tick);
	t->tick.data = n;
	t->tick_open = true;
	uv_timer_start(&t->tick, on_tick, TRAPD_TICK_MS, TRAPD_TICK_MS);
	return trapd_rx_open(n);
}

static void sink_closed(void *data)
{
	(void)data;
}

static void tick_closed(uv_handle_t *h)
{
	struct trapd_state *t = h->data;
	duet_trap_pipe_free(t->pipe);
	free(t->buf);
	free(t->ans);
	free(t);
}

void trapd_close(struct node *n)
{
	struct trapd_state *t = st_of(n);
	if (!t)
		return;
	if (t->keys_only) {
		n->traps = NULL;
		duet_trap_pipe_free(t->pipe);
		free(t);
		return;
	}
	trapd_rx_close(n);
	if (t->sink)
		duet_sink_close(t->sink, sink_closed, NULL);
	t->sink = NULL;
	n->traps = NULL;
	if (t->tick_open) {
		t->tick.data = t;
		uv_close((uv_handle_t *)&t->tick, tick_closed);
	} else {
		duet_trap_pipe_free(t->pipe);
		free(t->buf);
		free(t->ans);
		free(t);
	}
}

/* ---- status -------------------------------------------------------------- */

bool trapd_status_fill(struct node *n, struct duet_status_traps *s)
{
	struct trapd_state *t = st_of(n);
	if (!t || t->keys_only)
		return false;
	s->proposing = t->proposing;
	s->delivering = t->delivering;
	duet_trap_pipe_get_stats(t->pipe, &s->pipe);
	s->submitted = t->submitted;
	s->confirmed = t->confirmed;
	s->c = t->c;
	s->backlog_max = t->pc.backlog_max;
	s->backlog_max_bytes = t->pc.backlog_max_bytes;
	if (t->sink) {
		s->have_sink = true;
		duet_sink_get_stats(t->sink, &s->sink);
		s->sink_queued_bytes = duet_sink_queued_bytes(t->sink);
		/* the sink's own object, with what only its transport knows */
		char buf[4096];
		int len = duet_sink_stats_json(t->sink, buf, sizeof buf);
		s->sink_json =
		    len > 0 && (size_t)len < sizeof buf ? json_loads(buf, 0, NULL) : NULL;
		if (!s->sink_json)
			s->sink_json = json_pack("{s:s}", "error", "stats too long");
	}
	s->have_rx = trapd_rx_status_fill(n, &s->rx);
	return true;
}
