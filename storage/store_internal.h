/* SPDX-License-Identifier: MIT */
/*
 * store_internal.h - what the files of storage/ share, and the on-disk format.
 *
 * Not a public header: only storage/ and its white-box tests (which corrupt
 * records on purpose) include it. Everything here describes bytes on disk, so
 * changing a layout means raising the record's version byte.
 *
 * Databases and keys:
 *   "meta"      keys "identity", "hardstate", "incarnation" (ASCII, no NUL);
 *   "log"       key = the entry index as 8 bytes BIG-endian, so LMDB's default
 *               memcmp order is index order on every host and a cursor walks
 *               the log in order (MDB_INTEGERKEY would tie the file to the
 *               host's byte order); value = raft_entry_encode() output, which
 *               carries its own crc32c;
 *   "snapshot"  key "current"; value = snapshot record below.
 *   "audit"     key = sequence, 8 bytes big-endian; value = the audit record
 *               of storage.h, with its own crc32c.
 *
 * Stale entries and incremental compaction: log entries at or below the
 * stored snapshot's index are stale. Nothing reads them (bounds, reads and
 * load start at snapshot index + 1, open does not even walk them), so the
 * compaction target needs no record of its own: it is the snapshot index,
 * durable in the same transaction as the snapshot. Every write transaction
 * (store_write) ends with a compaction step that deletes at most
 * STORE_COMPACT_STEP stale entries from the front of the log, so compacting
 * a long prefix costs many small transactions instead of one huge one. An
 * idle store keeps its stale entries until the next write.
 *
 * Layout of the "log" keys, then: [stale entries, <= snapshot index, maybe
 * with holes][live entries, contiguous, the first one = snapshot index + 1].
 *
 * Meta and snapshot values: u8 record version, fields little-endian (wire.h),
 * u32 crc32c of every byte before it.
 *   identity:    u8 1, u32 format_version, u64 cluster_id, u32 node_id, crc
 *   hardstate:   u8 1, u64 term, u32 vote, crc
 *   incarnation: u8 1, u64 incarnation, crc
 *   snapshot:    u8 1, u64 index, u64 term, u32 conf_len, conf[conf_len]
 *                (duet_membership_encode), u32 data_len, data[data_len], crc
 *   audit_tail:  u8 1, u64 last seq, u64 last audited entry index,
 *                u8 last hash[32], crc
 *   audit_anchor: u8 1, u64 dropped, u64 seq, u64 entry index, u8 hash[32]
 *                (of the last dropped record), u64 bytes stored, u64 bound,
 *                crc (retention, storage.h "audit chain"; absent until the
 *                first append after an upgrade, which counts the bytes)
 */
#ifndef DUET_STORE_INTERNAL_H
#define DUET_STORE_INTERNAL_H

#include <lmdb.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "duet/storage.h"

#define STORE_RECORD_VERSION        1
#define STORE_MAX_DBS               16 /* room for the databases later modules add */
#define STORE_DEFAULT_MAP_BYTES     (64ull << 20)
#define STORE_DEFAULT_MAX_MAP_BYTES (16ull << 30)
#define STORE_KEY_IDENTITY          "identity"
#define STORE_KEY_HARDSTATE         "hardstate"
#define STORE_KEY_INCARNATION       "incarnation"
#define STORE_KEY_STORE_ID          "store_id"
#define STORE_KEY_SNAPSHOT          "current"
#define STORE_KEY_AUDIT_TAIL        "audit_tail" /* in "meta" */
#define STORE_AUDIT_TAIL_BYTES      (1 + 8 + 8 + 32 + 4)
#define STORE_KEY_AUDIT_ANCHOR      "audit_anchor" /* in "meta" */
#define STORE_AUDIT_ANCHOR_BYTES    (1 + 8 + 8 + 8 + 32 + 8 + 8 + 4)
#define STORE_AUDIT_HEADER_BYTES    (1 + 8 + 8 + 8 + 1 + 4 + 8 + 4) /* before the payload */
#define STORE_AUDIT_FIXED_BYTES     (STORE_AUDIT_HEADER_BYTES + 32 + 32 + 4) /* all but it */
#define STORE_IDENTITY_BYTES        (1 + 4 + 8 + 4 + 4)
#define STORE_HARDSTATE_BYTES       (1 + 8 + 4 + 4)
#define STORE_INCARNATION_BYTES     (1 + 8 + 4) /* also the store id record */
#define STORE_SNAPSHOT_FIXED_BYTES  (1 + 8 + 8 + 4 + 4 + 4)
#define STORE_CONF_MAX_BYTES        4096 /* encoded membership; far above 5 members */
#define STORE_ERRBUF_BYTES          512
#define STORE_REMEDY                "run duetctl rejoin to rebuild this member from the cluster"
/* Most stale entries one write transaction deletes. Deleting one costs
 * ~0.13 us of CPU plus the pages it frees and dirties: a step of 1024 adds
 * ~0.1-0.2 ms to a commit (whose fsync costs more), where deleting a 100k
 * prefix at once took 12-27 ms; such a prefix is gone after ~100 writes. */
#define STORE_COMPACT_STEP 1024

struct store {
	MDB_env *env;
	MDB_dbi meta_dbi;
	MDB_dbi log_dbi;
	MDB_dbi snap_dbi;
	MDB_dbi audit_dbi;
	/* false: a readonly store opened before "audit" existed (audit.c) */
	bool audit_dbi_ok;
	uint64_t audit_max_bytes; /* retention bound (storage.h "audit chain") */
	int lock_fd;              /* -1 when readonly */
	bool readonly;
	char *path;
	uint64_t map_size;     /* current map size */
	uint64_t max_map_size; /* growth stops here */
	int failed;            /* 0, or the commit error every later write returns */
	int fault_commit;      /* tests: next commit fails with this -errno */
	bool compact_pending;  /* stale entries remain: exact after open and every write */
	uint32_t compact_step; /* STORE_COMPACT_STEP; tests lower it */
	/* The write transaction being built: reset for every attempt, applied to
	 * the fields above only once it committed (a unit may run twice). */
	struct {
		bool stale;         /* it may have made entries stale: run a step */
		bool stepped;       /* a compaction step ran */
		bool pending;       /* stale entries remain after the step */
		uint64_t compacted; /* entries the step deleted */
	} w;
	struct store_stats stats;
};

/* A unit of work run inside one write transaction. Returns 0 or a negative
 * code; DUET_EMAPFULL makes store_write() grow the map and run it again, so
 * it must not have side effects outside the transaction. */
typedef int (*store_txn_fn)(struct store *s, MDB_txn *txn, void *arg);

/* txn.c */
int store_mdb_err(int rc);
int store_write(struct store *s, store_txn_fn fn, void *arg);
int store_read_begin(struct store *s, MDB_txn **txn);
/* Tests: the next commit fails with errno `err` (ENOSPC, EIO) as a failed
 * write or fsync would, after the transaction's work was done. */
void store_fault_commit(struct store *s, int err);
/* Tests: at most n (>= 1) stale entries per write transaction from now on. */
void store_set_compact_step(struct store *s, uint32_t n);
void store_errf(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* meta.c */
struct store_identity {
	uint32_t format_version;
	uint64_t cluster_id;
	uint32_t node_id;
};
int store_identity_get(struct store *s, MDB_txn *txn, struct store_identity *id);
int store_identity_put(struct store *s, MDB_txn *txn, const struct store_identity *id);
int store_hardstate_get(struct store *s, MDB_txn *txn, uint64_t *term, uint32_t *vote);
int store_hardstate_put(struct store *s, MDB_txn *txn, uint64_t term, uint32_t vote);
int store_incarnation_get(struct store *s, MDB_txn *txn, uint64_t *incarnation);
int store_incarnation_put(struct store *s, MDB_txn *txn, uint64_t incarnation);
int store_id_get(struct store *s, MDB_txn *txn, uint64_t *store_id);
int store_id_put(struct store *s, MDB_txn *txn, uint64_t store_id);
/* A random nonzero store id (getrandom); 0 only if the kernel gives none. */
uint64_t store_id_random(void);
/* Gives a store opened for writing that has no id yet (made before ids
 * existed) its id, durably. Read-only opens leave it as it is. */
int store_id_prepare(struct store *s, char *errbuf, size_t errlen);

/* log.c */
void store_index_key(uint64_t index, uint8_t key[8]);
uint64_t store_key_index(const MDB_val *k);
/* The log as stored and as seen (see "Stale entries" above). */
struct store_log_view {
	uint64_t snap;                /* snapshot index, 0 if none */
	uint64_t raw_first, raw_last; /* keys stored, stale included; 0, 0 if none */
	uint64_t first, last;         /* live entries; 0, 0 if none */
};
int store_log_view_txn(struct store *s, MDB_txn *txn, struct store_log_view *v);
/* The live bounds (store_log_bounds). */
int store_bounds_txn(struct store *s, MDB_txn *txn, uint64_t *first, uint64_t *last);
int store_append_txn(struct store *s, MDB_txn *txn, const struct raft_entry *e, size_t n);
int store_truncate_txn(struct store *s, MDB_txn *txn, uint64_t from);
int store_drop_prefix_txn(struct store *s, MDB_txn *txn, uint64_t upto);
/* Deletes up to s->compact_step stale entries; store_write runs it at the end
 * of every write transaction that may have any. */
int store_compact_step_txn(struct store *s, MDB_txn *txn);
int store_read_txn(struct store *s, MDB_txn *txn, uint64_t lo, uint64_t hi, struct raft_entry **out,
		   size_t *n, char *errbuf, size_t errlen);
/* Walks the log from index `from` (0: from the start) to the end, checking
 * every checksum, key and the contiguity; first/last: what it walked. */
int store_check_log_txn(struct store *s, MDB_txn *txn, uint64_t from, uint64_t *first,
			uint64_t *last, char *errbuf, size_t errlen);

/* snapshot.c */
int store_snapshot_put_txn(struct store *s, MDB_txn *txn, const struct raft_snapshot_meta *m,
			   const void *data, uint32_t len);
/* Checks and decodes the snapshot; *data points INTO the map (valid until the
 * transaction ends). DUET_ENOENT if there is none. */
int store_snapshot_view_txn(struct store *s, MDB_txn *txn, struct raft_snapshot_meta *m,
			    const uint8_t **data, uint32_t *len);
/* Index the snapshot covers, or 0 if none; reads without checking the crc
 * (open already did) because it is on the append path. */
int store_snapshot_index_txn(struct store *s, MDB_txn *txn, uint64_t *index);

/* audit.c */
/* Opens "audit" in txn (with MDB_CREATE in flags: creates it); without
 * MDB_CREATE a missing database is not an error (audit_dbi_ok stays false). */
int store_audit_dbi_open(struct store *s, MDB_txn *txn, unsigned flags);
/* At open, for a writable store made before "audit" existed: creates it. */
int store_audit_prepare(struct store *s, char *errbuf, size_t errlen);
/* store_audit_append_batch() inside the caller's write transaction, so an
 * fsm state write and its audit records can share one commit. Like every
 * unit it may run twice (map growth): it has no effect outside txn. */
int store_audit_append_txn(struct store *s, MDB_txn *txn, const struct raft_entry *e, size_t n,
			   size_t *appended, struct store_audit_tail *tail);

/* check.c */
int store_check_all(struct store *s, char *errbuf, size_t errlen);
/* "store P: <what> is damaged ...; <remedy>" for a record read error rc. */
void store_record_errf(struct store *s, const char *what, int rc, char *errbuf, size_t errlen);

#endif
