/* SPDX-License-Identifier: MIT */
/*
 * log.c - the "log" database: append, truncate, drop a prefix, the
 * incremental compaction step, bounds, read, and the walk that checks the
 * entries at open.
 *
 * Keys are 8-byte big-endian indexes (see store_internal.h), so a cursor
 * walks entries in index order and appends go to the right edge of the tree:
 * they are written with MDB_APPEND (no search, densely packed pages) and
 * MDB_RESERVE, encoding each entry straight into LMDB's page, so the hot path
 * allocates and copies nothing of its own.
 *
 * Invariant: the live log (entries after the snapshot index) is contiguous
 * and, with a snapshot, starts right after it. Appends must follow the last
 * live index (or, when nothing is live, start anywhere that leaves no hole
 * after the snapshot); truncate and drop only cut at the ends. Stale entries
 * (at or below the snapshot index) are never decoded: they are deleted by
 * key, STORE_COMPACT_STEP per write transaction (store_compact_step_txn), so
 * a long compacted prefix is never one long transaction. Every value read
 * back is checked (crc, key == entry index, no trailing bytes) before it is
 * believed.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

void store_index_key(uint64_t index, uint8_t key[8])
{
	for (int i = 7; i >= 0; i--) {
		key[i] = (uint8_t)index;
		index >>= 8;
	}
}

uint64_t store_key_index(const MDB_val *k)
{
	const uint8_t *p = k->mv_data;
	uint64_t index = 0;
	for (size_t i = 0; i < 8 && i < k->mv_size; i++)
		index = index << 8 | p[i];
	return index;
}

/* Decodes a stored entry (e->data points into the map) and checks it. */
static int store_entry_view(const MDB_val *k, const MDB_val *v, struct raft_entry *e)
{
	size_t used = 0;
	if (k->mv_size != 8)
		return DUET_ECORRUPT;
	int rc = raft_entry_decode(v->mv_data, v->mv_size, e, &used);
	if (rc == DUET_EVERSION && v->mv_size > 4) {
		/* a flipped version byte is damage, not a newer format */
		const uint8_t *p = v->mv_data;
		const uint8_t *c = p + v->mv_size - 4;
		uint32_t crc = (uint32_t)c[0] | (uint32_t)c[1] << 8 | (uint32_t)c[2] << 16 |
			       (uint32_t)c[3] << 24;
		if (crc != duet_crc32c(0, p, v->mv_size - 4))
			rc = DUET_ECORRUPT;
	}
	if (rc)
		return rc == DUET_EVERSION ? rc : DUET_ECORRUPT;
	if (used != v->mv_size || e->index != store_key_index(k))
		return DUET_ECORRUPT;
	return 0;
}

/* Positions c at the first key >= index; on success k is that key. */
static int store_seek(MDB_cursor *c, uint64_t index, MDB_val *k, MDB_val *v)
{
	uint8_t buf[8];
	store_index_key(index, buf);
	*k = (MDB_val){.mv_size = 8, .mv_data = buf};
	int rc = mdb_cursor_get(c, k, v, MDB_SET_RANGE);
	if (rc)
		*k = (MDB_val){0}; /* not left pointing at buf */
	return rc;
}

int store_log_view_txn(struct store *s, MDB_txn *txn, struct store_log_view *lv)
{
	MDB_cursor *c;
	MDB_val k, v;
	memset(lv, 0, sizeof(*lv));
	int rc = store_snapshot_index_txn(s, txn, &lv->snap);
	if (rc)
		return rc;
	rc = mdb_cursor_open(txn, s->log_dbi, &c);
	if (rc)
		return store_mdb_err(rc);
	rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	if (rc == 0) {
		lv->raw_first = store_key_index(&k);
		rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	}
	if (rc == 0) {
		lv->raw_last = store_key_index(&k);
		lv->first = lv->raw_first;
		lv->last = lv->raw_last;
		if (lv->raw_last <= lv->snap) {
			lv->first = lv->last = 0; /* all stale */
		} else if (lv->raw_first <= lv->snap) {
			rc = store_seek(c, lv->snap + 1, &k, &v); /* first live one */
			lv->first = rc == 0 ? store_key_index(&k) : 0;
		}
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : store_mdb_err(rc);
}

int store_bounds_txn(struct store *s, MDB_txn *txn, uint64_t *first, uint64_t *last)
{
	struct store_log_view lv;
	int rc = store_log_view_txn(s, txn, &lv);
	*first = lv.first;
	*last = lv.last;
	return rc;
}

/* Refuses a batch that would break the log's contiguity. */
static int store_append_check(struct store *s, MDB_txn *txn, const struct raft_entry *e, size_t n)
{
	if (e[0].index == 0)
		return DUET_EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (e[i].index != e[0].index + i)
			return DUET_EINVAL;
		if (e[i].len > RAFT_ENTRY_MAX_PAYLOAD)
			return DUET_ETOOBIG;
	}
	struct store_log_view lv;
	int rc = store_log_view_txn(s, txn, &lv);
	if (rc)
		return rc;
	if (lv.last != 0)
		return e[0].index == lv.last + 1 ? 0 : DUET_EINVAL;
	/* nothing live: any index that leaves no hole after the snapshot */
	if (lv.snap != 0 && e[0].index > lv.snap + 1)
		return DUET_EINVAL;
	/* entries at or below the snapshot are stale on arrival */
	if (e[0].index <= lv.snap)
		s->w.stale = true;
	/* only stale keys are stored: delete those in the way of MDB_APPEND */
	if (lv.raw_last != 0 && e[0].index <= lv.raw_last)
		return store_truncate_txn(s, txn, e[0].index);
	return 0;
}

int store_append_txn(struct store *s, MDB_txn *txn, const struct raft_entry *e, size_t n)
{
	if (n == 0)
		return 0;
	int rc = store_append_check(s, txn, e, n);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		uint8_t key[8];
		store_index_key(e[i].index, key);
		MDB_val k = {.mv_size = 8, .mv_data = key};
		MDB_val v = {.mv_size = raft_entry_encoded_size(&e[i]), .mv_data = NULL};
		rc = mdb_put(txn, s->log_dbi, &k, &v, MDB_APPEND | MDB_RESERVE);
		if (rc)
			return store_mdb_err(rc);
		long w = raft_entry_encode(&e[i], v.mv_data, v.mv_size);
		if (w < 0)
			return (int)w;
	}
	return 0;
}

/* Deletes from the end while the last key is >= from. Repositioning at the
 * end each time (O(log n)) keeps clear of cursor-after-delete subtleties. */
int store_truncate_txn(struct store *s, MDB_txn *txn, uint64_t from)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, s->log_dbi, &c);
	if (rc)
		return store_mdb_err(rc);
	while ((rc = mdb_cursor_get(c, &k, &v, MDB_LAST)) == 0 && store_key_index(&k) >= from) {
		rc = mdb_cursor_del(c, 0);
		if (rc)
			break;
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND || rc == 0 ? 0 : store_mdb_err(rc);
}

/*
 * Entries at or below the snapshot index are stale already: for them this
 * only makes sure a compaction step runs in this transaction (raft's
 * compact_to is always the index of a snapshot stored in the same or an
 * earlier update, so that is all the raft loop ever asks for). Live entries
 * up to `upto` (no snapshot, or one below `upto`) have nothing durable that
 * would remember to delete them later, so they go in this transaction, as
 * many as there are; with a snapshot that is refused when live entries would
 * remain behind a hole after it (open would call the store damaged).
 */
int store_drop_prefix_txn(struct store *s, MDB_txn *txn, uint64_t upto)
{
	struct store_log_view lv;
	MDB_cursor *c;
	MDB_val k, v;
	int rc = store_log_view_txn(s, txn, &lv);
	if (rc)
		return rc;
	s->w.stale = true;
	if (upto <= lv.snap || lv.last == 0 || upto < lv.first)
		return 0;
	if (lv.snap != 0 && upto < lv.last)
		return DUET_EINVAL;
	rc = mdb_cursor_open(txn, s->log_dbi, &c);
	if (rc)
		return store_mdb_err(rc);
	while ((rc = store_seek(c, lv.first, &k, &v)) == 0 && store_key_index(&k) <= upto) {
		rc = mdb_cursor_del(c, 0);
		if (rc)
			break;
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND || rc == 0 ? 0 : store_mdb_err(rc);
}

/* Deletes stale entries from the front, at most s->compact_step of them, and
 * notes (s->w) how many and whether more remain; store_write applies that to
 * the stats once the transaction committed. */
int store_compact_step_txn(struct store *s, MDB_txn *txn)
{
	MDB_cursor *c;
	MDB_val k, v;
	uint64_t snap, n = 0;
	bool more = false;
	int rc = store_snapshot_index_txn(s, txn, &snap);
	if (rc)
		return rc;
	rc = mdb_cursor_open(txn, s->log_dbi, &c);
	if (rc)
		return store_mdb_err(rc);
	while ((rc = mdb_cursor_get(c, &k, &v, MDB_FIRST)) == 0 && store_key_index(&k) <= snap) {
		if (n == s->compact_step) {
			more = true;
			break;
		}
		rc = mdb_cursor_del(c, 0);
		if (rc)
			break;
		n++;
	}
	mdb_cursor_close(c);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return store_mdb_err(rc);
	s->w.stepped = true;
	s->w.pending = more;
	s->w.compacted = n;
	return 0;
}

void store_entries_free(struct raft_entry *e, size_t n)
{
	if (!e)
		return;
	for (size_t i = 0; i < n; i++)
		free(e[i].data);
	free(e);
}

static int store_entry_copy(const struct raft_entry *src, struct raft_entry *dst)
{
	*dst = *src;
	dst->data = NULL;
	if (src->len == 0)
		return 0;
	dst->data = malloc(src->len);
	if (!dst->data)
		return DUET_ENOMEM;
	memcpy(dst->data, src->data, src->len);
	return 0;
}

static void store_entry_errf(struct store *s, int rc, uint64_t index, char *errbuf, size_t errlen)
{
	if (rc == DUET_ECORRUPT || rc == DUET_EVERSION)
		store_errf(errbuf, errlen,
			   "store %s: log entry at index %" PRIu64 " is damaged (%s); %s", s->path,
			   index, duet_strerror(rc), STORE_REMEDY);
	else
		store_errf(errbuf, errlen,
			   "store %s: cannot read log entry at index %" PRIu64 ": %s", s->path,
			   index, duet_strerror(rc));
}

/* Copies entries [lo, hi] (both present) out of the map. */
static int store_read_range(struct store *s, MDB_txn *txn, uint64_t lo, uint64_t hi,
			    struct raft_entry *out, char *errbuf, size_t errlen)
{
	MDB_cursor *c;
	uint8_t key[8];
	store_index_key(lo, key);
	MDB_val k = {.mv_size = 8, .mv_data = key}, v;
	int rc = mdb_cursor_open(txn, s->log_dbi, &c);
	if (rc)
		return store_mdb_err(rc);
	MDB_cursor_op op = MDB_SET_KEY;
	for (uint64_t i = lo; i <= hi && rc == 0; i++, op = MDB_NEXT) {
		struct raft_entry e;
		rc = store_mdb_err(mdb_cursor_get(c, &k, &v, op));
		if (rc == DUET_ENOENT || (rc == 0 && store_key_index(&k) != i))
			rc = DUET_ECORRUPT; /* a hole inside the bounds */
		if (rc == 0)
			rc = store_entry_view(&k, &v, &e);
		if (rc == 0)
			rc = store_entry_copy(&e, &out[i - lo]);
		if (rc)
			store_entry_errf(s, rc, i, errbuf, errlen);
	}
	mdb_cursor_close(c);
	return rc;
}

/* On the live log: hi is clamped to the last index; lo below the first live
 * index is DUET_ECOMPACTED; lo past the end (or nothing live) gives no
 * entries. */
int store_read_txn(struct store *s, MDB_txn *txn, uint64_t lo, uint64_t hi, struct raft_entry **out,
		   size_t *n, char *errbuf, size_t errlen)
{
	uint64_t first, last;
	*out = NULL;
	*n = 0;
	if (lo == 0 || lo > hi)
		return DUET_EINVAL;
	int rc = store_bounds_txn(s, txn, &first, &last);
	if (rc || last == 0 || lo > last)
		return rc;
	if (lo < first)
		return DUET_ECOMPACTED;
	if (hi > last)
		hi = last;
	size_t count = (size_t)(hi - lo + 1);
	struct raft_entry *e = calloc(count, sizeof(*e));
	if (!e)
		return DUET_ENOMEM;
	rc = store_read_range(s, txn, lo, hi, e, errbuf, errlen);
	if (rc) {
		store_entries_free(e, count);
		return rc;
	}
	*out = e;
	*n = count;
	return 0;
}

int store_check_log_txn(struct store *s, MDB_txn *txn, uint64_t from, uint64_t *first,
			uint64_t *last, char *errbuf, size_t errlen)
{
	MDB_cursor *c;
	MDB_val k, v;
	uint64_t prev = 0;
	*first = *last = 0;
	int mrc = mdb_cursor_open(txn, s->log_dbi, &c);
	if (mrc)
		return store_mdb_err(mrc);
	int rc = 0;
	mrc = from ? store_seek(c, from, &k, &v) : mdb_cursor_get(c, &k, &v, MDB_FIRST);
	for (; rc == 0 && mrc == 0; mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		struct raft_entry e;
		uint64_t index = store_key_index(&k);
		rc = store_entry_view(&k, &v, &e);
		if (rc) {
			store_entry_errf(s, rc, index, errbuf, errlen);
		} else if (prev != 0 && index != prev + 1) {
			rc = DUET_ECORRUPT;
			store_errf(errbuf, errlen,
				   "store %s: log has a hole between index %" PRIu64 " and %" PRIu64
				   "; %s",
				   s->path, prev, index, STORE_REMEDY);
		} else {
			*first = prev == 0 ? index : *first;
			prev = *last = index;
		}
	}
	mdb_cursor_close(c);
	if (rc)
		return rc;
	return mrc == MDB_NOTFOUND ? 0 : store_mdb_err(mrc);
}

/* ---- public ------------------------------------------------------------- */

struct store_append_arg {
	const struct raft_entry *e;
	size_t n;
};

static int store_append_unit(struct store *s, MDB_txn *txn, void *arg)
{
	const struct store_append_arg *a = arg;
	return store_append_txn(s, txn, a->e, a->n);
}

int store_log_append(struct store *s, const struct raft_entry *e, size_t n)
{
	struct store_append_arg a = {.e = e, .n = n};
	return store_write(s, store_append_unit, &a);
}

static int store_truncate_unit(struct store *s, MDB_txn *txn, void *arg)
{
	return store_truncate_txn(s, txn, *(const uint64_t *)arg);
}

int store_log_truncate(struct store *s, uint64_t from)
{
	return store_write(s, store_truncate_unit, &from);
}

static int store_drop_prefix_unit(struct store *s, MDB_txn *txn, void *arg)
{
	return store_drop_prefix_txn(s, txn, *(const uint64_t *)arg);
}

int store_log_drop_prefix(struct store *s, uint64_t upto)
{
	return store_write(s, store_drop_prefix_unit, &upto);
}

int store_log_bounds(struct store *s, uint64_t *first, uint64_t *last)
{
	MDB_txn *txn;
	int rc = store_read_begin(s, &txn);
	if (rc)
		return rc;
	rc = store_bounds_txn(s, txn, first, last);
	mdb_txn_abort(txn);
	return rc;
}

int store_log_read(struct store *s, uint64_t lo, uint64_t hi, struct raft_entry **out, size_t *n,
		   char *errbuf, size_t errlen)
{
	MDB_txn *txn;
	*out = NULL;
	*n = 0;
	int rc = store_read_begin(s, &txn);
	if (rc)
		return rc;
	rc = store_read_txn(s, txn, lo, hi, out, n, errbuf, errlen);
	mdb_txn_abort(txn);
	return rc;
}
