/* SPDX-License-Identifier: MIT */
/*
 * update.c - the two calls the raft loop makes: store_apply_update() writes a
 * struct raft_update, store_load() reads back what raft_load() needs.
 *
 * store_apply_update() is the hot path and the durability point of
 * DESIGN.md section 3: meta (term, vote), snapshot, truncate, append and
 * compact go into ONE write transaction with ONE synced commit, in the order
 * raftlog.h prescribes, so a crash leaves either all of an update or none of
 * it, and the core may send the replies that promise it only after this
 * returns 0. Appends encode in place (log.c), so there is no allocation per
 * entry.
 *
 * Compaction does not make that transaction long: compact_to is always the
 * index of a snapshot stored in the same or an earlier update (raftlog's
 * snapshot.c and outbox.c), and entries at or below the snapshot index are
 * stale the moment the snapshot commits: invisible to reads and load. The
 * transaction deletes at most STORE_COMPACT_STEP of them, and so does every
 * later write transaction, of any kind, until the prefix is gone
 * (store_internal.h, "Stale entries").
 *
 * store_load() reads everything in one read transaction, so it sees one
 * consistent state even if another process (duetctl) were writing.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

static int store_update_unit(struct store *s, MDB_txn *txn, void *arg)
{
	const struct raft_update *u = arg;
	int rc = 0;
	if (u->meta_changed)
		rc = store_hardstate_put(s, txn, u->term, u->vote);
	if (rc == 0 && u->has_snapshot)
		rc = store_snapshot_put_txn(s, txn, &u->snap, u->snap_data, u->snap_len);
	if (rc == 0 && u->truncate_from)
		rc = store_truncate_txn(s, txn, u->truncate_from);
	if (rc == 0 && u->n_entries)
		rc = store_append_txn(s, txn, u->entries, u->n_entries);
	if (rc == 0 && u->compact_to)
		rc = store_drop_prefix_txn(s, txn, u->compact_to);
	return rc;
}

int store_apply_update(struct store *s, const struct raft_update *u)
{
	if (!u->meta_changed && !u->has_snapshot && !u->truncate_from && !u->n_entries &&
	    !u->compact_to)
		return 0; /* nothing to persist: no empty fsync */
	return store_write(s, store_update_unit, (void *)u);
}

void store_loaded_free(struct store_loaded *l)
{
	free(l->snap_data);
	store_entries_free(l->entries, l->n_entries);
	memset(l, 0, sizeof(*l));
}

static int store_load_snapshot(struct store *s, MDB_txn *txn, struct store_loaded *out,
			       char *errbuf, size_t errlen)
{
	const uint8_t *view;
	uint32_t len;
	int rc = store_snapshot_view_txn(s, txn, &out->snap, &view, &len);
	if (rc == DUET_ENOENT)
		return 0;
	if (rc) {
		store_record_errf(s, "the snapshot", rc, errbuf, errlen);
		return rc;
	}
	if (len > 0) {
		out->snap_data = malloc(len);
		if (!out->snap_data)
			return DUET_ENOMEM;
		memcpy(out->snap_data, view, len);
	}
	out->has_snap = true;
	out->state.snap = &out->snap;
	out->state.snap_data = out->snap_data;
	out->state.snap_len = len;
	return 0;
}

/* The live entries: after the snapshot (stale ones at or below it are left
 * out, whether or not compaction deleted them yet). */
static int store_load_entries(struct store *s, MDB_txn *txn, struct store_loaded *out, char *errbuf,
			      size_t errlen)
{
	struct store_log_view lv;
	int rc = store_log_view_txn(s, txn, &lv);
	if (rc || lv.last == 0)
		return rc;
	if (out->has_snap && lv.first != out->snap.index + 1) {
		store_errf(errbuf, errlen,
			   "store %s: the log starts at index %" PRIu64 " but the snapshot ends at "
			   "%" PRIu64 "; " STORE_REMEDY,
			   s->path, lv.first, out->snap.index);
		return DUET_ECORRUPT;
	}
	rc = store_read_txn(s, txn, lv.first, lv.last, &out->entries, &out->n_entries, errbuf,
			    errlen);
	out->state.entries = out->entries;
	out->state.n_entries = out->n_entries;
	return rc;
}

static int store_load_txn(struct store *s, MDB_txn *txn, struct store_loaded *out, char *errbuf,
			  size_t errlen)
{
	int rc = store_hardstate_get(s, txn, &out->state.term, &out->state.vote);
	if (rc) {
		store_record_errf(s, "meta/hardstate (term and vote)", rc, errbuf, errlen);
		return rc;
	}
	rc = store_incarnation_get(s, txn, &out->incarnation);
	if (rc) {
		store_record_errf(s, "meta/incarnation", rc, errbuf, errlen);
		return rc;
	}
	rc = store_id_get(s, txn, &out->store_id);
	if (rc == DUET_ENOENT) /* made before ids, opened read-only */
		rc = 0;
	if (rc) {
		store_record_errf(s, "meta/store_id", rc, errbuf, errlen);
		return rc;
	}
	rc = store_load_snapshot(s, txn, out, errbuf, errlen);
	if (rc == 0)
		rc = store_load_entries(s, txn, out, errbuf, errlen);
	return rc;
}

int store_load(struct store *s, struct store_loaded *out, char *errbuf, size_t errlen)
{
	MDB_txn *txn;
	memset(out, 0, sizeof(*out));
	int rc = store_read_begin(s, &txn);
	if (rc)
		return rc;
	rc = store_load_txn(s, txn, out, errbuf, errlen);
	mdb_txn_abort(txn);
	if (rc)
		store_loaded_free(out);
	return rc;
}
