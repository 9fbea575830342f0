/* SPDX-License-Identifier: MIT */
/*
 * check.c - validation of the whole store at open.
 *
 * LMDB has no page checksums, so a rotted byte would otherwise be believed
 * the day it is read. The store is small (snapshots compact the log), so
 * open reads every record once in one read transaction: hard state,
 * incarnation, snapshot, every live log entry (crc, key == index,
 * contiguity) and the seam between snapshot and log. A damaged store is
 * refused with a sentence naming the record and the way out; it is never
 * half-used (DESIGN.md section 3: a member whose term/vote is damaged must
 * not vote).
 *
 * Stale entries (at or below the snapshot index, left by an incremental
 * compaction that a restart or an idle store interrupted) are skipped, not
 * verified: nothing ever decodes them (reads and load start after the
 * snapshot; compaction and truncation delete them by key), so a rotted one
 * can do no harm and must not make the store unusable, and walking them
 * would make open as slow as the compaction this scheme spreads out. Open
 * only notes that some remain, so the next write goes on deleting them.
 */
#include <inttypes.h>

#include "store_internal.h"

void store_record_errf(struct store *s, const char *what, int rc, char *errbuf, size_t errlen)
{
	if (rc == DUET_EVERSION)
		store_errf(errbuf, errlen,
			   "store %s: %s has a record version this duetd does not know; run the "
			   "duetd version that wrote it, or %s",
			   s->path, what, STORE_REMEDY);
	else if (rc == DUET_ECORRUPT || rc == DUET_ENOENT)
		store_errf(errbuf, errlen, "store %s: %s is %s; %s", s->path, what,
			   rc == DUET_ENOENT ? "missing" : "damaged (checksum or size mismatch)",
			   STORE_REMEDY);
	else
		store_errf(errbuf, errlen, "store %s: cannot read %s: %s", s->path, what,
			   duet_strerror(rc));
}

static int store_check_meta(struct store *s, MDB_txn *txn, char *errbuf, size_t errlen)
{
	uint64_t term, incarnation;
	uint32_t vote;
	int rc = store_hardstate_get(s, txn, &term, &vote);
	if (rc) {
		store_record_errf(s, "meta/hardstate (term and vote)", rc, errbuf, errlen);
		return rc == DUET_ENOENT ? DUET_ECORRUPT : rc;
	}
	rc = store_incarnation_get(s, txn, &incarnation);
	if (rc) {
		store_record_errf(s, "meta/incarnation", rc, errbuf, errlen);
		return rc == DUET_ENOENT ? DUET_ECORRUPT : rc;
	}
	uint64_t store_id;
	rc = store_id_get(s, txn, &store_id);
	if (rc && rc != DUET_ENOENT) { /* missing: made before ids, opened read-only */
		store_record_errf(s, "meta/store_id", rc, errbuf, errlen);
		return rc;
	}
	return 0;
}

static int store_check_txn(struct store *s, MDB_txn *txn, char *errbuf, size_t errlen)
{
	int rc = store_check_meta(s, txn, errbuf, errlen);
	if (rc)
		return rc;
	struct raft_snapshot_meta snap = {0};
	const uint8_t *data;
	uint32_t len;
	rc = store_snapshot_view_txn(s, txn, &snap, &data, &len);
	if (rc && rc != DUET_ENOENT) {
		store_record_errf(s, "the snapshot", rc, errbuf, errlen);
		return rc;
	}
	uint64_t first, last;
	rc = store_check_log_txn(s, txn, snap.index ? snap.index + 1 : 0, &first, &last, errbuf,
				 errlen);
	if (rc)
		return rc;
	if (snap.index != 0 && last != 0 && first > snap.index + 1) {
		store_errf(errbuf, errlen,
			   "store %s: the log starts at index %" PRIu64
			   " but the snapshot ends at %" PRIu64 "; %s",
			   s->path, first, snap.index, STORE_REMEDY);
		return DUET_ECORRUPT;
	}
	struct store_log_view lv;
	rc = store_log_view_txn(s, txn, &lv);
	if (rc == 0)
		s->compact_pending = lv.raw_first != 0 && lv.raw_first <= lv.snap;
	return rc;
}

int store_check_all(struct store *s, char *errbuf, size_t errlen)
{
	MDB_txn *txn;
	int rc = store_read_begin(s, &txn);
	if (rc) {
		store_errf(errbuf, errlen, "store %s: cannot begin a read transaction: %s", s->path,
			   duet_strerror(rc));
		return rc;
	}
	rc = store_check_txn(s, txn, errbuf, errlen);
	mdb_txn_abort(txn);
	return rc;
}
