/* SPDX-License-Identifier: MIT */
/*
 * storage.h - durable state of one member, on LMDB.
 *
 * One LMDB environment (a directory) per member with these databases:
 *   "meta"      identity (format version, cluster id, node id), hard state
 *               (term, vote), incarnation;
 *   "log"       entries keyed by index (raft_entry_encode() form, checksummed);
 *   "snapshot"  the latest snapshot: meta + blob, checksummed.
 *   "audit"     the audit chain, bounded by bytes: the oldest records are
 *               dropped past audit_max_bytes, leaving an anchor (see "audit
 *               chain" below).
 * Later modules add their own databases through the same environment.
 *
 * Durability (DESIGN.md section 3): every write is one LMDB transaction,
 * committed with the default sync (no MDB_NOSYNC, no MDB_WRITEMAP, so a full
 * disk is an error, never SIGBUS). LMDB has no page checksums, so every
 * value carries a CRC-32C and a damaged value is reported as DUET_ECORRUPT
 * with the key, never returned.
 *
 * Write errors, for every call that writes:
 *  - a store opened readonly refuses every write with -EROFS;
 *  - a failed commit is fatal and sticky: LMDB does not say whether the data
 *    write or the fsync failed (and after a failed fsync the kernel may have
 *    dropped the pages), so that call and every later write on the store
 *    return the same error; the process must exit (a reopen checks it all);
 *  - a full disk gives the errno LMDB reports: -ENOSPC, or often -EIO (LMDB
 *    reports a short write as EIO), -EFBIG past a file size limit; these
 *    come from the commit, so they are sticky as above; after a failed
 *    meta-page write LMDB gives up on the environment and every later
 *    transaction fails with -EIO;
 *  - the map starts at map_size and doubles on MDB_MAP_FULL up to
 *    max_map_size; beyond that the write fails with DUET_EMAPFULL, nothing of
 *    it is visible, and the store stays usable (not sticky);
 *  - a refused argument (DUET_EINVAL, DUET_ETOOBIG) leaves nothing behind.
 *
 * Compaction is incremental. Log entries at or below the stored snapshot's
 * index are stale from the moment the snapshot is stored: no call returns
 * them (bounds, reads and load start at snapshot index + 1). Every write
 * transaction deletes a bounded number of them (STORE_COMPACT_STEP, 1024, in
 * storage/store_internal.h) from the front of the log, so a snapshot after
 * 100k entries costs ~100 slightly larger commits, not one huge one. An idle
 * store keeps its stale entries until its next write; a restart carries on
 * where it stopped (the target is the snapshot index, stored durably).
 *
 * Threads: a store is used by one thread at a time. Calls block on disk;
 * the daemon runs them off the event loop.
 */
#ifndef DUET_STORAGE_H
#define DUET_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "duet/entry.h"
#include "duet/err.h"
#include "duet/raftlog.h"

#define STORE_FORMAT_VERSION 1

struct store;

struct store_options {
	const char *path;      /* directory; created if missing and create is set */
	uint64_t cluster_id;   /* must match a stored one; 0: accept what is stored */
	uint32_t node_id;      /* must match a stored one; 0: accept what is stored */
	bool create;           /* initialise an empty store with cluster_id/node_id */
	bool readonly;         /* for duetctl: MDB_RDONLY, no lock file */
	uint64_t map_size;     /* initial map size in bytes; default 64 MiB */
	uint64_t max_map_size; /* growth limit in bytes; default 16 GiB */
	/* audit chain retention bound in bytes (see "audit chain"); 0: the
	 * default, STORE_DEFAULT_AUDIT_MAX_BYTES; at most half of max_map_size */
	uint64_t audit_max_bytes;
};

/*
 * Opens (and with create, initialises) a store. Takes an exclusive lock
 * (flock on <path>/duet.lock) unless readonly: a second writer gets
 * DUET_ELOCKED. Runs mdb_reader_check(). Returns 0, DUET_EFOREIGN (other
 * cluster or node), DUET_ECORRUPT, DUET_EVERSION, DUET_ENOENT (no store and
 * not create), DUET_ELOCKED or -errno. On error, if errbuf is not NULL, it
 * holds a sentence that says what is wrong and what to do.
 */
int store_open(const struct store_options *o, struct store **out, char *errbuf, size_t errlen);
void store_close(struct store *s);

/*
 * Creates a NEW store (DESIGN.md 3, bootstrap): o->create is implied; the
 * store holds hard state (term 1, no vote), incarnation 1 and `first` (the
 * bootstrap MEMBERSHIP entry, index 1), all durable when it returns 0 with
 * *out open. -EEXIST, with a sentence in errbuf, when o->path already holds a
 * store: a store is never re-created over one. Only `duetctl init` (a new
 * cluster) and a member in rejoin mode (which takes a new incarnation before
 * it votes) create stores.
 */
int store_create_new(const struct store_options *o, const struct raft_entry *first,
		     struct store **out, char *errbuf, size_t errlen);

struct store_meta {
	uint32_t format_version;
	uint64_t cluster_id;
	uint32_t node_id;
	uint64_t term;
	uint32_t vote;
	uint64_t incarnation;
	uint64_t store_id; /* random, drawn at creation; 0: made before ids (read-only open) */
};

int store_meta_get(struct store *s, struct store_meta *m);
/* Durably sets term and vote. */
int store_set_hardstate(struct store *s, uint64_t term, uint32_t vote);
int store_set_incarnation(struct store *s, uint64_t incarnation);

/*
 * "The log" below is the live log: the entries after the snapshot index
 * (all entries if there is no snapshot); it is always contiguous.
 */

/* Appends n consecutive entries in one durable transaction. The first index
 * must follow the last one in the log; when the log is empty, any index
 * >= 1 except one that would leave a gap after the snapshot (> snapshot
 * index + 1). DUET_EINVAL otherwise (index 0, a batch with a hole, an
 * overlap, a gap), DUET_ETOOBIG for a payload over RAFT_ENTRY_MAX_PAYLOAD. */
int store_log_append(struct store *s, const struct raft_entry *e, size_t n);
/* Deletes entries with index >= from (none if from is past the end). */
int store_log_truncate(struct store *s, uint64_t from);
/* Deletes entries with index <= upto. Up to the snapshot index this costs
 * nothing extra (those entries are stale already, see above); live entries
 * past it are deleted in this transaction, all of them (the raft loop never
 * asks for that), and DUET_EINVAL refuses leaving live entries behind a hole
 * after the snapshot. */
int store_log_drop_prefix(struct store *s, uint64_t upto);
/* first/last index of the log; both 0 if it is empty (stale entries still
 * stored do not count). */
int store_log_bounds(struct store *s, uint64_t *first, uint64_t *last);

/*
 * Reads entries [lo, hi] of the log into a newly allocated array (*out, *n).
 * hi is clamped to the last index; lo below the first index is
 * DUET_ECOMPACTED; lo past the end, or an empty log, gives 0 entries (and
 * returns 0); lo == 0 or lo > hi is DUET_EINVAL. Each entry's data is a
 * separate copy; free with store_entries_free(). A damaged entry gives
 * DUET_ECORRUPT and, with errbuf, its index.
 */
int store_log_read(struct store *s, uint64_t lo, uint64_t hi, struct raft_entry **out, size_t *n,
		   char *errbuf, size_t errlen);
void store_entries_free(struct raft_entry *e, size_t n);

/* Stores a snapshot (replacing the previous one): the entries at or below its
 * index become stale (see above). Snapshot indexes only grow (raft never
 * stores an older one): going back below entries already deleted would
 * leave a hole after the snapshot, which open reports as damage. */
int store_snapshot_put(struct store *s, const struct raft_snapshot_meta *m, const void *data,
		       uint32_t len);
/* Reads the snapshot; *data is malloc'd (free()). DUET_ENOENT if none. */
int store_snapshot_get(struct store *s, struct raft_snapshot_meta *m, uint8_t **data,
		       uint32_t *len);

/* Carries out the persistence part of a raft update (meta, snapshot,
 * truncate, append, compact) in ONE durable transaction, plus at most one
 * bounded compaction step. compact_to at or below the snapshot index (raft
 * always compacts to a stored snapshot) deletes nothing in this call beyond
 * that step; past it, see store_log_drop_prefix(). An update with nothing to
 * persist writes nothing (no fsync, no compaction step). */
int store_apply_update(struct store *s, const struct raft_update *u);

/* Everything raft_load() needs, read in one read transaction: the live
 * entries only (first = snapshot index + 1 when there is a snapshot). */
struct store_loaded {
	struct raft_load_state state; /* points into the fields below */
	struct raft_snapshot_meta snap;
	bool has_snap;
	uint8_t *snap_data;
	struct raft_entry *entries;
	size_t n_entries;
	uint64_t incarnation;
	uint64_t store_id; /* see store_meta */
};
int store_load(struct store *s, struct store_loaded *out, char *errbuf, size_t errlen);
void store_loaded_free(struct store_loaded *l);

struct store_stats { /* counters count since store_open() */
	uint64_t map_size;
	uint64_t map_used; /* bytes in use (last page number * page size) */
	uint64_t map_grows;
	uint64_t txns_committed;
	uint64_t entries_compacted; /* stale entries deleted by compaction steps */
	uint64_t compact_step_max;  /* most of them deleted by one transaction */
	bool compact_pending;       /* stale entries remain (until a write deletes them) */
};
void store_stats(struct store *s, struct store_stats *st);

/* ---- audit chain (DESIGN.md section 3) -----------------------------------
 *
 * Database "audit": one record per audited entry, keyed by its sequence
 * number (1, 2, 3... with no gap) as 8 bytes big-endian. Every record holds
 * the entry as applied and a SHA-256 link to the record before it, so a
 * changed, inserted or removed record breaks the chain at that record.
 * Snapshots compact the log, not this; the chain has its own retention
 * (below). Record value, integers little-endian:
 *
 *     u8  version (STORE_AUDIT_VERSION)   u64 seq
 *     u64 entry index   u64 entry term   u8 type   u32 author   u64 wall_ms
 *     u32 len   u8 payload[len]        (the entry's payload as is)
 *     u8  prev_hash[32]                (hash of record seq-1; zeros for seq 1)
 *     u8  hash[32] = SHA-256(prev_hash || every byte before prev_hash)
 *     u32 crc32c of every byte above
 *
 * "meta" key "audit_tail" records the last sequence, the last audited entry
 * index and the last hash, written in the same transaction as the records:
 * it makes appends idempotent (an entry at or below the last audited index
 * is skipped: after a restart the core hands out again the committed entries
 * after the last snapshot) and lets verify see records removed at the end.
 *
 * Which entries: every type except TRAPS and DELIVERED (store_audit_wants()).
 * Each member keeps its own chain of what IT applied: a member restored from
 * a snapshot (rejoin, or far behind) has no records for the entries the
 * snapshot covers. The driver must audit a batch before it reports a
 * snapshot that covers it (raft_snapshot_taken), or a crash in between
 * loses those records for good.
 *
 * Retention (issue 13 defect 9: an unbounded chain filled the map on all
 * three members at the same entry). The stored bytes of the chain (8 key
 * bytes + value size per record) are bounded by audit_max_bytes: the
 * transaction that appends records also drops the OLDEST records, from the
 * front, while the chain is over the bound, keeping at least the newest
 * record; so after every append the chain holds at most max(bound, one
 * record) bytes. One transaction drops at most the records it appended plus
 * STORE_AUDIT_DROP_STEP (a lowered bound is reached in bounded steps). A
 * record is dropped only after it verified against the anchor (crc, link,
 * hash): retention never discards the evidence of damage; a chain whose
 * oldest record does not verify stops shrinking until verify is run and the
 * member is rebuilt. "meta" key "audit_anchor" records, in the same
 * transaction, the last dropped record's sequence, entry index and hash, how
 * many records were dropped, the bytes stored and the bound that dropped
 * them: verify starts the chain from the anchor (the first record present
 * must be anchor seq + 1 and link to the anchor hash) and reports the
 * dropped range instead of counting it as verified. Records removed beyond
 * the anchor, or kept below it, are faults.
 *
 * Readers (duetctl log) open the store readonly from another process while
 * duetd writes: every read is an LMDB read transaction, never blocked by the
 * writer and never seeing half of a batch.
 */
#define STORE_AUDIT_VERSION           1
#define STORE_AUDIT_HASH_BYTES        32
#define STORE_DEFAULT_AUDIT_MAX_BYTES (256ull << 20)
#define STORE_AUDIT_DROP_STEP         1024 /* records dropped per txn beyond those appended */

/* True for the entry types the audit chain records. Inline: the driver
 * (member.h), which links no LMDB, decides with it whether an update needs
 * the disk. */
static inline bool store_audit_wants(uint8_t type)
{
	return type != RAFT_ENTRY_TRAPS && type != RAFT_ENTRY_DELIVERED;
}

/* Appends the audited entries among e[0..n) (store_audit_wants(), index above
 * the last audited one, in increasing index order; others are skipped) in ONE
 * durable transaction. *appended (if not NULL) is the number of records
 * written. Returns 0, DUET_EINVAL (index 0, n > 0 with e NULL),
 * DUET_ETOOBIG (payload over RAFT_ENTRY_MAX_PAYLOAD), DUET_ECORRUPT (the
 * tail record and the last stored record disagree: the chain cannot be
 * extended honestly; run store_audit_verify), or a write error (see above). */
int store_audit_append_batch(struct store *s, const struct raft_entry *e, size_t n,
			     size_t *appended);
/* One entry; out_hash (if not NULL) receives the chain's last hash after the
 * call (the new record's, or the current last one's if e was skipped). */
int store_audit_append(struct store *s, const struct raft_entry *e,
		       uint8_t out_hash[STORE_AUDIT_HASH_BYTES]);

struct store_audit_tail {
	uint64_t seq;                         /* last sequence, 0 if the chain is empty */
	uint64_t last_index;                  /* last audited entry index, 0 if none */
	uint8_t hash[STORE_AUDIT_HASH_BYTES]; /* last record's hash; zeros if empty */
};
/* Reads the tail record (all zero for an empty chain). DUET_ECORRUPT if it
 * is damaged. */
int store_audit_last(struct store *s, struct store_audit_tail *t);

struct store_audit_anchor {
	uint64_t dropped;                     /* records dropped by retention (1..dropped) */
	uint64_t seq;                         /* the last dropped record; 0 if none */
	uint64_t last_index;                  /* its entry index */
	uint8_t hash[STORE_AUDIT_HASH_BYTES]; /* its hash: record seq+1 links to it */
	uint64_t bytes;                       /* bytes the chain stores now */
	uint64_t max_bytes;                   /* audit_max_bytes when the last drop ran */
};
/* Reads the retention anchor; all zero (and 0) if the store has none yet.
 * DUET_ECORRUPT if it is damaged. */
int store_audit_anchor(struct store *s, struct store_audit_anchor *a);

struct store_audit_record {
	uint64_t seq;
	struct raft_entry entry; /* entry.data points into the iterator's
				  * transaction: valid until the next call on it */
	uint8_t prev_hash[STORE_AUDIT_HASH_BYTES];
	uint8_t hash[STORE_AUDIT_HASH_BYTES];
};

/* Reads records in sequence order from `from_seq` (0 or 1: the start) inside
 * one read transaction, which sees the chain as it was at open or at the
 * last refresh. Each record's checksum and structure are checked (not the
 * hash links: store_audit_verify does that). One iterator at a time per
 * store handle; no write on the same handle may need the map to grow while
 * it is open (a readonly store never writes). */
struct store_audit_iter;
int store_audit_iter_open(struct store *s, uint64_t from_seq, struct store_audit_iter **out);
/* Returns 1 with *r filled, 0 at the end, DUET_ECORRUPT for a damaged
 * record (store_audit_iter_bad_seq() says which), or -errno. */
int store_audit_iter_next(struct store_audit_iter *it, struct store_audit_record *r);
/* Ends the read transaction and begins a new one that sees records appended
 * meanwhile, carrying on after the last record returned (duetctl log
 * --follow calls it on each poll). */
int store_audit_iter_refresh(struct store_audit_iter *it);
uint64_t store_audit_iter_bad_seq(const struct store_audit_iter *it);
void store_audit_iter_close(struct store_audit_iter *it);

enum store_audit_fault {
	STORE_AUDIT_INTACT = 0,
	STORE_AUDIT_CHECKSUM,  /* the record's crc32c does not match its bytes */
	STORE_AUDIT_MALFORMED, /* size, version, or key and seq field disagree */
	STORE_AUDIT_GAP,       /* records from `seq` on are missing before a later one */
	STORE_AUDIT_LINK,      /* prev_hash is not the hash of record seq-1 */
	STORE_AUDIT_HASH,      /* hash does not match the record's content */
	STORE_AUDIT_ORDER,     /* entry index not above the previous record's */
	STORE_AUDIT_TRUNCATED, /* records missing at the end (tail says more) */
	STORE_AUDIT_EXTRA,     /* records past the tail, or tail hash differs */
	STORE_AUDIT_TAIL,      /* the tail record itself is damaged */
	STORE_AUDIT_ANCHOR,    /* the retention anchor is damaged or disagrees */
};
/* "checksum mismatch", "hash mismatch", ... */
const char *store_audit_fault_name(int fault);

struct store_audit_report {
	uint64_t records_ok; /* records verified before the first fault */
	int fault;           /* enum store_audit_fault */
	uint64_t seq;        /* the first bad record (or first missing one) */
	uint64_t index;      /* its entry index when readable, else 0 */
	char detail[256];    /* one sentence for a person */
	/* retention (store_audit_anchor): records 1..dropped are gone and were
	 * NOT verified; the walk started from the anchor */
	uint64_t dropped;
	uint64_t max_bytes; /* the bound that dropped them */
	uint64_t bytes;     /* bytes the chain stores */
	uint8_t anchor_hash[STORE_AUDIT_HASH_BYTES];
};
/* Walks the whole chain in one read transaction and reports the FIRST fault.
 * Returns 0 (intact), DUET_ECORRUPT (r->fault etc. say where and what), or
 * another negative code when the walk itself failed. */
int store_audit_verify(struct store *s, struct store_audit_report *r);

#endif
