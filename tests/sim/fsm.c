/*
 * fsm.c - the simulated state machine: what each member applies.
 *
 * Two states side by side. The real one is fsm/'s `struct fsm`, applied with
 * fsm_apply() exactly as duetd's node.c applies u.committed (the pure half:
 * no audit store here), and restored from the snapshot as duetd restores it.
 * Its refusals and its master are what role.c and check.c look at.
 *
 * Next to it, the fingerprint the older checks compare: the applied index and
 * term, counts per entry type, and a running
 * 64-bit chain hash over every applied entry (term, index, wall time, author,
 * type, payload), chained like the audit log of DESIGN.md section 3. The same
 * chain function hashes log prefixes in disk.c, so "the state machine after
 * index i" and "the log prefix up to i" have the same fingerprint: checks can
 * compare a node's applied state, a durable log and a snapshot directly.
 *
 * Snapshots are this state serialized (plus deterministic filler of varying
 * size so snapshot messages are not all tiny), with a CRC. Because a snapshot
 * carries the chain hash at its index, the log chain continues across
 * compaction and a node restored from a snapshot can still be compared.
 *
 *   u32 magic "DSIM"  u8 version  u64 index  u64 term  u64 chain  u64 n_applied
 *   u64 counts[RAFT_ENTRY_TYPE_COUNT]  u32 fsm_len  fsm (fsm_snapshot_encode)
 *   u32 filler_len  filler  u32 crc32c
 *
 * The fsm section is the daemon's own snapshot encoding of the real state, so
 * a member restored from a snapshot holds the same fsm as one that applied
 * every entry (check.c fsm_agreement compares them; the planted bug
 * duet-sim-bug-snapshot_without_fsm restores without it and must be caught).
 */
#include <stdlib.h>
#include <string.h>

#include "duet/wire.h"
#include "sim.h"

#define FSM_MAGIC      0x4d495344u /* "DSIM" little-endian */
#define FSM_VERSION    2           /* 2: the real fsm section */
#define FSM_FILLER_MAX 1024

uint64_t sim_entry_hash(const struct raft_entry *e)
{
	uint64_t h = 0x656e747279ull;
	h = sim_mix(h, e->term);
	h = sim_mix(h, e->index);
	h = sim_mix(h, e->wall_ms);
	h = sim_mix(h, (uint64_t)e->author << 8 | e->type);
	return sim_hash_bytes(h, e->data, e->len);
}

uint64_t sim_chain_next(uint64_t prev, const struct raft_entry *e)
{
	return sim_mix(prev, sim_entry_hash(e));
}

void sim_fsm_reset(struct sim_fsm *f)
{
	memset(f, 0, sizeof(*f));
	f->chain = SIM_CHAIN0;
	fsm_init(&f->real);
}

int sim_fsm_apply(struct sim_fsm *f, const struct raft_entry *e, struct fsm_result *res)
{
	int rc = fsm_apply(&f->real, e, res);
	if (rc)
		return rc;
	if (e->type == RAFT_ENTRY_MEMBERSHIP)
		f->last_membership = e->index;
	f->applied = e->index;
	f->applied_term = e->term;
	f->chain = sim_chain_next(f->chain, e);
	f->n_applied++;
	f->counts[e->type < RAFT_ENTRY_TYPE_COUNT ? e->type : 0]++;
	return 0;
}

uint8_t *sim_fsm_serialize(const struct sim_fsm *f, uint32_t *len)
{
	uint32_t filler = (uint32_t)(f->chain % FSM_FILLER_MAX);
	size_t real_cap = fsm_snapshot_size(&f->real);
	size_t cap = 4 + 1 + 8 * 4 + 8 * RAFT_ENTRY_TYPE_COUNT + 4 + real_cap + 4 + filler + 4;
	uint8_t *buf = sim_xmalloc(cap);
	struct wire_writer w;
	wire_writer_init(&w, buf, cap);
	wire_put_u32(&w, FSM_MAGIC);
	wire_put_u8(&w, FSM_VERSION);
	wire_put_u64(&w, f->applied);
	wire_put_u64(&w, f->applied_term);
	wire_put_u64(&w, f->chain);
	wire_put_u64(&w, f->n_applied);
	for (int t = 0; t < RAFT_ENTRY_TYPE_COUNT; t++)
		wire_put_u64(&w, f->counts[t]);
	/* encoded in place, after its length */
	long real_len = fsm_snapshot_encode(&f->real, w.p + 4, real_cap);
	if (real_len < 0) {
		free(buf);
		return NULL; /* a state that would not decode: the caller fails the run */
	}
	wire_put_u32(&w, (uint32_t)real_len);
	w.p += real_len;
	w.left -= (size_t)real_len;
	w.used += (size_t)real_len;
	wire_put_u32(&w, filler);
	for (uint32_t i = 0; i < filler; i++)
		wire_put_u8(&w, (uint8_t)sim_mix(f->chain, i));
	wire_put_u32(&w, duet_crc32c(0, buf, w.used));
	*len = (uint32_t)w.used;
	return buf;
}

static int parse(const uint8_t *blob, uint32_t len, struct sim_fsm *f)
{
	if (!blob || len < 8)
		return -1;
	struct wire_reader r;
	wire_reader_init(&r, blob, len - 4);
	if (wire_get_u32(&r) != FSM_MAGIC || wire_get_u8(&r) != FSM_VERSION)
		return -1;
	f->applied = wire_get_u64(&r);
	f->applied_term = wire_get_u64(&r);
	f->chain = wire_get_u64(&r);
	f->n_applied = wire_get_u64(&r);
	for (int t = 0; t < RAFT_ENTRY_TYPE_COUNT; t++)
		f->counts[t] = wire_get_u64(&r);
	uint32_t real_len = wire_get_u32(&r);
	const uint8_t *real = wire_get_bytes(&r, real_len);
	uint32_t filler = wire_get_u32(&r);
	(void)wire_get_bytes(&r, filler);
	if (r.err || r.left != 0)
		return -1;
	struct wire_reader tail;
	wire_reader_init(&tail, blob + len - 4, 4);
	if (wire_get_u32(&tail) != duet_crc32c(0, blob, len - 4))
		return -1;
	if (!real || fsm_snapshot_decode(real, real_len, &f->real))
		return -1;
	if (f->real.applied_index != f->applied || f->real.applied_term != f->applied_term)
		return -1;
	return 0;
}

int sim_fsm_blob_parse(const uint8_t *blob, uint32_t len, struct fsm_blob_info *info)
{
	struct sim_fsm f;
	if (parse(blob, len, &f))
		return -1;
	info->index = f.applied;
	info->term = f.applied_term;
	info->chain = f.chain;
	return 0;
}

int sim_fsm_restore(struct sim_fsm *f, const uint8_t *blob, uint32_t len)
{
	struct sim_fsm g;
	memset(&g, 0, sizeof(g));
	if (parse(blob, len, &g))
		return -1;
	g.last_snap_index = g.applied;
#ifdef DUET_SIM_PLANT_BUG_SNAPSHOT_WITHOUT_FSM
	/* planted (duet-sim-bug-snapshot_without_fsm): the snapshot's fsm
	 * section is ignored, the restored member starts afresh at its index */
	fsm_init(&g.real);
	g.real.applied_index = g.applied;
	g.real.applied_term = g.applied_term;
#endif
	/* which MEMBERSHIP came last is not in the snapshot: count it as at
	 * the snapshot (check.c only uses it to excuse, never to accuse) */
	g.last_membership = g.applied;
	*f = g;
	return 0;
}
