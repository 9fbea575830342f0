/* SPDX-License-Identifier: MIT */
/*
 * snapshot.c - the replicated state as bytes, for raft_snapshot_taken() and
 * for restoring a snapshot (layout in fsm.h).
 *
 * A snapshot crosses the network and sits on disk, so its decoder is a fuzz
 * target (STYLE.md point 6): it checks the crc first, then every length
 * against what is left, every enum and flag, every name (non-empty, no NUL,
 * no duplicate check on a node) and the invariants the apply rules keep
 * (the master is a DATA member and not SYNC, only DATA members are SYNC),
 * decodes into a scratch state and replaces the caller's only when all of
 * it holds. The encoding is canonical: decode then encode gives the same
 * bytes, which the fuzz target checks.
 */
#include <string.h>

#include "duet/wire.h"
#include "fsm_internal.h"

#define FSM_CONF_MAX_BYTES 4096 /* an encoded membership of DUET_MAX_MEMBERS */
#define FSM_OP_MAX_BYTES   1024 /* an encoded operator command */

static bool fsm_traps_valid(const struct fsm *f);

static void fsm_counters_get(const struct fsm *f, uint64_t out[FSM_N_COUNTERS])
{
	out[0] = f->counters.first_starts;
	out[1] = f->counters.failovers;
	out[2] = f->counters.switchovers;
	out[3] = f->counters.forced;
	out[4] = f->counters.refused;
	out[5] = f->counters.steps_ok;
	out[6] = f->counters.steps_failed;
	for (int i = 0; i < RAFT_ENTRY_TYPE_COUNT; i++)
		out[7 + i] = f->counters.by_type[i];
}

static void fsm_counters_set(struct fsm *f, const uint64_t in[FSM_N_COUNTERS])
{
	f->counters.first_starts = in[0];
	f->counters.failovers = in[1];
	f->counters.switchovers = in[2];
	f->counters.forced = in[3];
	f->counters.refused = in[4];
	f->counters.steps_ok = in[5];
	f->counters.steps_failed = in[6];
	for (int i = 0; i < RAFT_ENTRY_TYPE_COUNT; i++)
		f->counters.by_type[i] = in[7 + i];
}

/* Length of a NUL-terminated string in an array of `cap`; -1 without NUL. */
static long fsm_strlen(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);
	return n < cap ? (long)n : -1;
}

/* Encodes the membership and the operator command into the given buffers. */
static int fsm_encode_parts(const struct fsm *f, uint8_t *conf, long *conf_len, uint8_t *op,
			    long *op_len)
{
	*conf_len = 0;
	*op_len = 0;
	if (f->membership.n > DUET_MAX_MEMBERS)
		return DUET_EINVAL;
	if (f->membership.n) {
		*conf_len = duet_membership_encode(&f->membership, conf, FSM_CONF_MAX_BYTES);
		if (*conf_len < 0)
			return (int)*conf_len;
	}
	if (f->last_operator.index) {
		*op_len = duet_operator_encode(&f->last_operator.op, op, FSM_OP_MAX_BYTES);
		if (*op_len < 0)
			return (int)*op_len;
	}
	return 0;
}

size_t fsm_snapshot_size(const struct fsm *f)
{
	uint8_t conf[FSM_CONF_MAX_BYTES], op[FSM_OP_MAX_BYTES];
	long conf_len, op_len;
	if (fsm_encode_parts(f, conf, &conf_len, op, &op_len))
		return 0;
	size_t n = 4 + 1 + 8 + 8 + 4 + (size_t)conf_len;
	for (uint32_t i = 0; i < f->membership.n; i++) {
		n += 1 + 8 + 1;
		for (uint32_t k = 0; k < f->nodes[i].n_checks && k < FSM_MAX_CHECKS; k++)
			n += 2 + strnlen(f->nodes[i].checks[k].name, DUET_NAME_MAX) + 1 + 1 + 8 + 8;
	}
	n += 4 + 4 + 1 + 8 + 8 + 8;                             /* master */
	n += 1 + 8;                                             /* maintenance */
	n += 8 + 8 + 4 + (size_t)op_len;                        /* operator */
	n += 8 + 8 + 1 + 4 + 1 + 2;                             /* refusal */
	n += strnlen(f->last_refusal.why, FSM_REFUSAL_WHY_MAX); /* its text */
	n += 1 + 8 * FSM_N_COUNTERS;
	n += 8 + 8 + 8 + 4 + 4; /* trap floor, keys length (no keys), crc */
	return n;
}

long fsm_snapshot_encode(const struct fsm *f, void *buf, size_t cap)
{
	return fsm_snapshot_encode_keys(f, NULL, 0, buf, cap);
}

long fsm_snapshot_encode_keys(const struct fsm *f, const void *keys, uint32_t keys_len, void *buf,
			      size_t cap)
{
	if (keys_len > FSM_SNAPSHOT_KEYS_MAX_BYTES || (keys_len && !keys))
		return DUET_EINVAL;
	uint8_t conf[FSM_CONF_MAX_BYTES], op[FSM_OP_MAX_BYTES];
	long conf_len, op_len;
	int rc = fsm_encode_parts(f, conf, &conf_len, op, &op_len);
	if (rc)
		return rc;
	struct wire_writer w;
	wire_writer_init(&w, buf, cap);
	wire_put_u32(&w, FSM_SNAPSHOT_MAGIC);
	wire_put_u8(&w, FSM_SNAPSHOT_VERSION);
	wire_put_u64(&w, f->applied_index);
	wire_put_u64(&w, f->applied_term);
	wire_put_u32(&w, (uint32_t)conf_len);
	wire_put_bytes(&w, conf, (size_t)conf_len);
	for (uint32_t i = 0; i < f->membership.n; i++) {
		const struct fsm_node *n = &f->nodes[i];
		if (n->sync > 1 || n->n_checks > FSM_MAX_CHECKS)
			return DUET_EINVAL;
		wire_put_u8(&w, n->sync);
		wire_put_u64(&w, n->sync_since_index);
		wire_put_u8(&w, (uint8_t)n->n_checks);
		for (uint32_t k = 0; k < n->n_checks; k++) {
			const struct fsm_check *c = &n->checks[k];
			long len = fsm_strlen(c->name, sizeof(c->name));
			if (len <= 0 || c->state > DUET_HEALTH_FAILING || c->critical > 1)
				return DUET_EINVAL;
			wire_put_u16(&w, (uint16_t)len);
			wire_put_bytes(&w, c->name, (size_t)len);
			wire_put_u8(&w, c->state);
			wire_put_u8(&w, c->critical);
			wire_put_u64(&w, c->since_index);
			wire_put_u64(&w, c->since_ms);
		}
	}
	wire_put_u32(&w, f->master.node);
	wire_put_u32(&w, f->master.previous);
	wire_put_u8(&w, f->master.reason);
	wire_put_u64(&w, f->master.since_index);
	wire_put_u64(&w, f->master.since_term);
	wire_put_u64(&w, f->master.since_ms);
	wire_put_u8(&w, f->maintenance);
	wire_put_u64(&w, f->maintenance_since);
	wire_put_u64(&w, f->last_operator.index);
	wire_put_u64(&w, f->last_operator.wall_ms);
	wire_put_u32(&w, (uint32_t)op_len);
	wire_put_bytes(&w, op, (size_t)op_len);
	const struct fsm_refusal *r = &f->last_refusal;
	long why = fsm_strlen(r->why, sizeof(r->why));
	if (why < 0)
		return DUET_EINVAL;
	wire_put_u64(&w, r->index);
	wire_put_u64(&w, r->term);
	wire_put_u8(&w, r->type);
	wire_put_u32(&w, r->node);
	wire_put_u8(&w, r->reason);
	wire_put_u16(&w, (uint16_t)why);
	wire_put_bytes(&w, r->why, (size_t)why);
	uint64_t counters[FSM_N_COUNTERS];
	fsm_counters_get(f, counters);
	wire_put_u8(&w, FSM_N_COUNTERS);
	for (int i = 0; i < FSM_N_COUNTERS; i++)
		wire_put_u64(&w, counters[i]);
	if (!fsm_traps_valid(f))
		return DUET_EINVAL;
	wire_put_u64(&w, f->traps.last_index);
	wire_put_u64(&w, f->traps.delivered);
	wire_put_u64(&w, f->traps.first_undelivered);
	wire_put_u32(&w, keys_len);
	wire_put_bytes(&w, keys, keys_len);
	if (w.err)
		return w.err;
	wire_put_u32(&w, duet_crc32c(0, buf, w.used));
	return w.err ? w.err : (long)w.used;
}

/* What fsm_apply keeps: the first undelivered TRAPS entry is past the last
 * DELIVERED and at or below the last TRAPS entry, which is applied. */
static bool fsm_traps_valid(const struct fsm *f)
{
	const uint64_t first = f->traps.first_undelivered;
	if (f->traps.last_index > f->applied_index)
		return false;
	return first == 0 || (first > f->traps.delivered && first <= f->traps.last_index);
}

/* The committed keys: a TRAPS payload (entry.h) whose traps carry no
 * payload, checked whole (bounded by its length, which the caller bounded). */
static int fsm_keys_valid(const uint8_t *keys, uint32_t len)
{
	if (len == 0)
		return 0;
	struct duet_traps_iter it;
	uint32_t n;
	if (duet_traps_iter_init(&it, keys, len, &n) != 0 || n == 0)
		return DUET_ECORRUPT; /* canonical: no keys is keys_len 0 */
	struct duet_trap t;
	int rc;
	while ((rc = duet_traps_next(&it, &t)) == 1)
		if (t.len != 0)
			return DUET_ECORRUPT;
	return rc == 0 ? 0 : DUET_ECORRUPT;
}

/* A string of 1..cap-1 bytes without NUL (empty allowed if allow_empty). */
static int fsm_get_string(struct wire_reader *r, char *out, size_t cap, size_t len,
			  bool allow_empty)
{
	const uint8_t *p = wire_get_bytes(r, len);
	if (!p)
		return DUET_ETRUNCATED;
	if (len >= cap || (len == 0 && !allow_empty) || memchr(p, 0, len))
		return DUET_ECORRUPT;
	memcpy(out, p, len);
	out[len] = 0;
	return 0;
}

static int fsm_decode_nodes(struct wire_reader *r, struct fsm *f)
{
	for (uint32_t i = 0; i < f->membership.n; i++) {
		struct fsm_node *n = &f->nodes[i];
		const struct duet_member *m = &f->membership.members[i];
		n->id = m->id;
		n->sync = wire_get_u8(r);
		n->sync_since_index = wire_get_u64(r);
		n->n_checks = wire_get_u8(r);
		if (r->err)
			return r->err;
		if (n->sync > 1 || (n->sync && m->kind != DUET_MEMBER_DATA) ||
		    n->n_checks > FSM_MAX_CHECKS)
			return DUET_ECORRUPT;
		for (uint32_t k = 0; k < n->n_checks; k++) {
			struct fsm_check *c = &n->checks[k];
			size_t len = wire_get_u16(r);
			int rc = r->err ? r->err
					: fsm_get_string(r, c->name, sizeof(c->name), len, false);
			if (rc)
				return rc;
			c->state = wire_get_u8(r);
			c->critical = wire_get_u8(r);
			c->since_index = wire_get_u64(r);
			c->since_ms = wire_get_u64(r);
			if (r->err)
				return r->err;
			if (c->state > DUET_HEALTH_FAILING || c->critical > 1)
				return DUET_ECORRUPT;
			for (uint32_t j = 0; j < k; j++)
				if (strcmp(n->checks[j].name, c->name) == 0)
					return DUET_ECORRUPT;
		}
	}
	return 0;
}

static int fsm_decode_body(struct wire_reader *r, struct fsm *f, const uint8_t **keys,
			   uint32_t *keys_len)
{
	if (wire_get_u32(r) != FSM_SNAPSHOT_MAGIC)
		return r->err ? r->err : DUET_ECORRUPT;
	uint8_t version = wire_get_u8(r);
	if (r->err)
		return r->err;
	if (version != FSM_SNAPSHOT_VERSION && version != 1)
		return DUET_EVERSION; /* 1: before the trap floor, read for upgrades */
	f->applied_index = wire_get_u64(r);
	f->applied_term = wire_get_u64(r);
	uint32_t conf_len = wire_get_u32(r);
	const uint8_t *conf = wire_get_bytes(r, conf_len);
	if (r->err)
		return r->err;
	if (conf_len) {
		int rc = duet_membership_decode(conf, conf_len, &f->membership);
		if (rc)
			return rc == DUET_EVERSION ? rc : DUET_ECORRUPT;
		if (f->membership.n == 0)
			return DUET_ECORRUPT; /* canonical: no members is conf_len 0 */
	}
	int rc = fsm_decode_nodes(r, f);
	if (rc)
		return rc;
	f->master.node = wire_get_u32(r);
	f->master.previous = wire_get_u32(r);
	f->master.reason = wire_get_u8(r);
	f->master.since_index = wire_get_u64(r);
	f->master.since_term = wire_get_u64(r);
	f->master.since_ms = wire_get_u64(r);
	f->maintenance = wire_get_u8(r);
	f->maintenance_since = wire_get_u64(r);
	if (r->err)
		return r->err;
	if (f->master.reason > DUET_MASTER_FORCED || f->maintenance > 1)
		return DUET_ECORRUPT;
	if (f->master.node) {
		const struct duet_member *m = duet_membership_find(&f->membership, f->master.node);
		const struct fsm_node *n = fsm_node_find(f, f->master.node);
		if (!m || m->kind != DUET_MEMBER_DATA || !n || n->sync)
			return DUET_ECORRUPT;
	}
	f->last_operator.index = wire_get_u64(r);
	f->last_operator.wall_ms = wire_get_u64(r);
	uint32_t op_len = wire_get_u32(r);
	const uint8_t *op = wire_get_bytes(r, op_len);
	if (r->err)
		return r->err;
	if ((f->last_operator.index == 0) != (op_len == 0))
		return DUET_ECORRUPT;
	if (op_len && duet_operator_decode(op, op_len, &f->last_operator.op) != 0)
		return DUET_ECORRUPT;
	struct fsm_refusal *ref = &f->last_refusal;
	ref->index = wire_get_u64(r);
	ref->term = wire_get_u64(r);
	ref->type = wire_get_u8(r);
	ref->node = wire_get_u32(r);
	ref->reason = wire_get_u8(r);
	size_t why = wire_get_u16(r);
	rc = r->err ? r->err : fsm_get_string(r, ref->why, sizeof(ref->why), why, true);
	if (rc)
		return rc;
	if (ref->reason > FSM_REFUSE_TOO_MANY_CHECKS)
		return DUET_ECORRUPT;
	uint8_t n_counters = wire_get_u8(r);
	if (r->err)
		return r->err;
	if (n_counters != FSM_N_COUNTERS)
		return DUET_ECORRUPT;
	uint64_t counters[FSM_N_COUNTERS];
	for (int i = 0; i < FSM_N_COUNTERS; i++)
		counters[i] = wire_get_u64(r);
	if (r->err)
		return r->err;
	fsm_counters_set(f, counters);
	if (version == 1) {
		/* no trap floor yet: the TRAPS entries after it set one */
		*keys = NULL;
		*keys_len = 0;
		return r->left == 0 ? 0 : DUET_ECORRUPT;
	}
	f->traps.last_index = wire_get_u64(r);
	f->traps.delivered = wire_get_u64(r);
	f->traps.first_undelivered = wire_get_u64(r);
	*keys_len = wire_get_u32(r);
	if (r->err)
		return r->err;
	if (!fsm_traps_valid(f) || *keys_len > FSM_SNAPSHOT_KEYS_MAX_BYTES)
		return DUET_ECORRUPT;
	*keys = wire_get_bytes(r, *keys_len);
	if (r->err)
		return r->err;
	rc = fsm_keys_valid(*keys, *keys_len);
	if (rc)
		return rc;
	if (*keys_len == 0)
		*keys = NULL;
	return r->left == 0 ? 0 : DUET_ECORRUPT;
}

int fsm_snapshot_decode(const void *buf, size_t len, struct fsm *f)
{
	const uint8_t *keys;
	uint32_t keys_len;
	return fsm_snapshot_decode_keys(buf, len, f, &keys, &keys_len);
}

int fsm_snapshot_decode_keys(const void *buf, size_t len, struct fsm *f, const uint8_t **keys,
			     uint32_t *keys_len)
{
	if (!f || (!buf && len) || !keys || !keys_len)
		return DUET_EINVAL;
	if (len < 4 + 1 + 4)
		return DUET_ETRUNCATED;
	struct wire_reader r;
	wire_reader_init(&r, (const uint8_t *)buf + len - 4, 4);
	if (wire_get_u32(&r) != duet_crc32c(0, buf, len - 4))
		return DUET_ECORRUPT;
	struct fsm scratch;
	fsm_init(&scratch);
	wire_reader_init(&r, buf, len - 4);
	const uint8_t *k = NULL;
	uint32_t kl = 0;
	int rc = fsm_decode_body(&r, &scratch, &k, &kl);
	if (rc)
		return rc == DUET_ETRUNCATED ? DUET_ECORRUPT : rc; /* the crc held: not cut short */
	*f = scratch;
	*keys = k;
	*keys_len = kl;
	return 0;
}
