/* SPDX-License-Identifier: MIT */
/*
 * txn.c - transactions: the one path every write takes, map growth, the
 * sticky failure after a failed commit, and LMDB error codes turned into
 * duet's.
 *
 * store_write() runs a unit of work in one write transaction and commits it
 * with LMDB's default sync. When LMDB runs out of map (MDB_MAP_FULL, from a
 * put or from the commit itself) the transaction is aborted, so nothing of it
 * is visible, the map is doubled (no transaction may be open in this process
 * while mdb_env_set_mapsize() runs: a store is used by one thread at a time
 * and no read transaction outlives the call that opened it) and the whole
 * unit is run again. Past max_map_size the caller gets DUET_EMAPFULL.
 *
 * A commit that fails with an errno (EIO, ENOSPC, EFBIG...) marks the store
 * failed and every later write returns that same error. LMDB does not say
 * whether the data write or the fsync failed, and after a failed fsync the
 * kernel may have dropped the dirty pages while reporting the error once
 * only, so a retry could "succeed" without the data being durable
 * (DESIGN.md section 3: an fsync error is fatal, never retried). LMDB itself
 * panics the environment when its meta page write fails. The process is
 * expected to exit; reopening checks the whole store again.
 *
 * Every write transaction ends with a compaction step when stale entries
 * may remain (store_internal.h, "Stale entries"): the step piggybacks on the
 * commit the caller pays for anyway, and its bookkeeping (s->w) reaches the
 * stats only after that commit succeeded.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "store_internal.h"

#define STORE_RESIZED_RETRIES 8 /* another process grew the map meanwhile */

void store_errf(char *errbuf, size_t errlen, const char *fmt, ...)
{
	if (!errbuf || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
}

int store_mdb_err(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return 0;
	case MDB_NOTFOUND:
		return DUET_ENOENT;
	case MDB_MAP_FULL:
		return DUET_EMAPFULL;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:      /* the file is not an LMDB environment */
	case MDB_INCOMPATIBLE: /* a database's flags do not match what we created */
		return DUET_ECORRUPT;
	case MDB_PANIC: /* LMDB gave up on the environment after a failed write */
		return -EIO;
	case MDB_VERSION_MISMATCH:
		return DUET_EVERSION;
	case MDB_TXN_FULL:
	case MDB_BAD_VALSIZE:
		return DUET_ETOOBIG;
	case MDB_READERS_FULL:
		return DUET_EBUSY;
	}
	if (rc > 0)
		return -rc; /* LMDB passes errno values through */
	return DUET_EINVAL; /* remaining MDB_* codes are misuse */
}

static uint64_t store_page_round(uint64_t bytes)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	return bytes / page * page;
}

/* Doubles the map, up to max_map_size. No transaction may be open. */
static int store_grow(struct store *s)
{
	if (s->map_size >= s->max_map_size)
		return DUET_EMAPFULL;
	uint64_t want = s->map_size * 2;
	if (want > s->max_map_size || want < s->map_size)
		want = s->max_map_size;
	want = store_page_round(want);
	if (want <= s->map_size)
		return DUET_EMAPFULL;
	int rc = mdb_env_set_mapsize(s->env, (size_t)want);
	if (rc)
		return store_mdb_err(rc);
	s->map_size = want;
	s->stats.map_grows++;
	return 0;
}

/* Adopts a map another process enlarged (MDB_MAP_RESIZED). */
static int store_adopt_map(struct store *s)
{
	int rc = mdb_env_set_mapsize(s->env, 0);
	if (rc)
		return store_mdb_err(rc);
	MDB_envinfo info;
	mdb_env_info(s->env, &info);
	s->map_size = info.me_mapsize;
	return 0;
}

static int store_begin(struct store *s, unsigned flags, MDB_txn **txn)
{
	for (int i = 0; i < STORE_RESIZED_RETRIES; i++) {
		int rc = mdb_txn_begin(s->env, NULL, flags, txn);
		if (rc != MDB_MAP_RESIZED)
			return store_mdb_err(rc);
		rc = store_adopt_map(s);
		if (rc)
			return rc;
	}
	return DUET_EBUSY;
}

int store_read_begin(struct store *s, MDB_txn **txn)
{
	return store_begin(s, MDB_RDONLY, txn);
}

static int store_commit(struct store *s, MDB_txn *txn)
{
	if (s->fault_commit) {
		int err = s->fault_commit;
		s->fault_commit = 0;
		mdb_txn_abort(txn);
		return err; /* as mdb_txn_commit would: a positive errno */
	}
	return mdb_txn_commit(txn); /* frees txn on success and on failure */
}

/* After a commit: what the transaction did becomes the store's state. */
static void store_committed(struct store *s)
{
	s->stats.txns_committed++;
	if (!s->w.stepped)
		return;
	s->compact_pending = s->w.pending;
	s->stats.entries_compacted += s->w.compacted;
	if (s->w.compacted > s->stats.compact_step_max)
		s->stats.compact_step_max = s->w.compacted;
}

int store_write(struct store *s, store_txn_fn fn, void *arg)
{
	if (s->failed)
		return s->failed;
	if (s->readonly)
		return -EROFS;
	for (;;) {
		MDB_txn *txn;
		memset(&s->w, 0, sizeof(s->w));
		int rc = store_begin(s, 0, &txn);
		if (rc)
			return rc;
		rc = fn(s, txn, arg);
		if (rc == 0 && (s->compact_pending || s->w.stale))
			rc = store_compact_step_txn(s, txn);
		if (rc) {
			mdb_txn_abort(txn);
			if (rc != DUET_EMAPFULL)
				return rc;
		} else {
			int mrc = store_commit(s, txn);
			if (mrc == 0) {
				store_committed(s);
				return 0;
			}
			rc = store_mdb_err(mrc);
			if (mrc > 0) {
				s->failed = rc; /* see the file comment: never retried */
				return rc;
			}
			if (rc != DUET_EMAPFULL)
				return rc;
		}
		rc = store_grow(s); /* MAP_FULL: the aborted txn left nothing behind */
		if (rc)
			return rc;
	}
}

void store_fault_commit(struct store *s, int err)
{
	s->fault_commit = err;
}

void store_set_compact_step(struct store *s, uint32_t n)
{
	s->compact_step = n ? n : 1;
}

void store_stats(struct store *s, struct store_stats *st)
{
	*st = s->stats;
	MDB_envinfo info;
	MDB_stat ms;
	st->map_size = s->map_size;
	st->compact_pending = s->compact_pending;
	st->map_used = 0;
	if (mdb_env_info(s->env, &info) == 0 && mdb_env_stat(s->env, &ms) == 0)
		st->map_used = ((uint64_t)info.me_last_pgno + 1) * ms.ms_psize;
}
