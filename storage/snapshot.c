/* SPDX-License-Identifier: MIT */
/*
 * snapshot.c - the "snapshot" database: one record, the latest snapshot.
 *
 * Meta (index, term, membership) and the state machine's blob live in ONE
 * value under one crc32c (layout in store_internal.h), so they can never be
 * torn apart: replacing the snapshot is a single put in the caller's
 * transaction. The value is written with MDB_RESERVE and encoded in place,
 * so a large blob is copied once, into the page. A damaged snapshot is
 * refused (DUET_ECORRUPT), never handed to the state machine.
 *
 * The snapshot index is also the compaction target: log entries at or below
 * it are stale (store_internal.h) and storing a snapshot starts deleting
 * them, a bounded step per write transaction.
 */
#include <stdlib.h>
#include <string.h>

#include "duet/wire.h"
#include "store_internal.h"

static MDB_val store_snapshot_key(void)
{
	MDB_val k = {.mv_size = sizeof(STORE_KEY_SNAPSHOT) - 1, .mv_data = STORE_KEY_SNAPSHOT};
	return k;
}

int store_snapshot_put_txn(struct store *s, MDB_txn *txn, const struct raft_snapshot_meta *m,
			   const void *data, uint32_t len)
{
	uint8_t conf[STORE_CONF_MAX_BYTES];
	long conf_len = duet_membership_encode(&m->conf, conf, sizeof(conf));
	if (conf_len < 0)
		return (int)conf_len;
	if (len > 0 && !data)
		return DUET_EINVAL;
	MDB_val k = store_snapshot_key();
	MDB_val v = {.mv_size = STORE_SNAPSHOT_FIXED_BYTES + (size_t)conf_len + len};
	int rc = mdb_put(txn, s->snap_dbi, &k, &v, MDB_RESERVE);
	if (rc)
		return store_mdb_err(rc);
	struct wire_writer w;
	wire_writer_init(&w, v.mv_data, v.mv_size);
	wire_put_u8(&w, STORE_RECORD_VERSION);
	wire_put_u64(&w, m->index);
	wire_put_u64(&w, m->term);
	wire_put_u32(&w, (uint32_t)conf_len);
	wire_put_bytes(&w, conf, (size_t)conf_len);
	wire_put_u32(&w, len);
	wire_put_bytes(&w, data, len);
	wire_put_u32(&w, duet_crc32c(0, v.mv_data, w.used));
	s->w.stale = true; /* the entries it covers are stale now */
	return w.err;
}

int store_snapshot_view_txn(struct store *s, MDB_txn *txn, struct raft_snapshot_meta *m,
			    const uint8_t **data, uint32_t *len)
{
	MDB_val k = store_snapshot_key(), v;
	int rc = mdb_get(txn, s->snap_dbi, &k, &v);
	if (rc)
		return store_mdb_err(rc);
	const uint8_t *p = v.mv_data;
	if (v.mv_size < STORE_SNAPSHOT_FIXED_BYTES)
		return DUET_ECORRUPT;
	struct wire_reader r;
	wire_reader_init(&r, p + v.mv_size - 4, 4);
	if (wire_get_u32(&r) != duet_crc32c(0, p, v.mv_size - 4))
		return DUET_ECORRUPT;
	wire_reader_init(&r, p, v.mv_size - 4);
	if (wire_get_u8(&r) != STORE_RECORD_VERSION)
		return DUET_EVERSION;
	memset(m, 0, sizeof(*m));
	m->index = wire_get_u64(&r);
	m->term = wire_get_u64(&r);
	uint32_t conf_len = wire_get_u32(&r);
	const uint8_t *conf = wire_get_bytes(&r, conf_len);
	*len = wire_get_u32(&r);
	*data = wire_get_bytes(&r, *len);
	if (r.err || r.left != 0)
		return DUET_ECORRUPT;
	if (duet_membership_decode(conf, conf_len, &m->conf) != 0)
		return DUET_ECORRUPT;
	return 0;
}

int store_snapshot_index_txn(struct store *s, MDB_txn *txn, uint64_t *index)
{
	MDB_val k = store_snapshot_key(), v;
	*index = 0;
	int rc = mdb_get(txn, s->snap_dbi, &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return store_mdb_err(rc);
	if (v.mv_size < STORE_SNAPSHOT_FIXED_BYTES)
		return DUET_ECORRUPT;
	struct wire_reader r;
	wire_reader_init(&r, (const uint8_t *)v.mv_data + 1, 8);
	*index = wire_get_u64(&r);
	return 0;
}

/* ---- public ------------------------------------------------------------- */

struct store_snapshot_arg {
	const struct raft_snapshot_meta *m;
	const void *data;
	uint32_t len;
};

static int store_snapshot_unit(struct store *s, MDB_txn *txn, void *arg)
{
	const struct store_snapshot_arg *a = arg;
	return store_snapshot_put_txn(s, txn, a->m, a->data, a->len);
}

int store_snapshot_put(struct store *s, const struct raft_snapshot_meta *m, const void *data,
		       uint32_t len)
{
	struct store_snapshot_arg a = {.m = m, .data = data, .len = len};
	return store_write(s, store_snapshot_unit, &a);
}

int store_snapshot_get(struct store *s, struct raft_snapshot_meta *m, uint8_t **data, uint32_t *len)
{
	MDB_txn *txn;
	const uint8_t *view;
	*data = NULL;
	*len = 0;
	int rc = store_read_begin(s, &txn);
	if (rc)
		return rc;
	rc = store_snapshot_view_txn(s, txn, m, &view, len);
	if (rc == 0 && *len > 0) {
		*data = malloc(*len);
		if (*data)
			memcpy(*data, view, *len);
		else
			rc = DUET_ENOMEM;
	}
	mdb_txn_abort(txn);
	if (rc)
		*len = 0;
	return rc;
}
