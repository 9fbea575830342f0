/*
 * storage.h - durable state of one member, on LMDB.
 *
 * One LMDB environment (a directory) per member with these databases:
 *   "meta"      identity (format version, cluster id, node id), hard state
 *               (term, vote), incarnation;
 *   "log"       entries keyed by index (raft_entry_encode() form, checksummed);
 *   "snapshot"  the latest snapshot: meta + blob, checksummed.
 * Later modules add their own databases through the same environment.
 *
 * Durability (DESIGN.md section 3): every write is one LMDB transaction,
 * committed with the default sync (no MDB_NOSYNC, no MDB_WRITEMAP, so a full
 * disk is an error, never SIGBUS). A commit that fails to sync is fatal to
 * the store: later writes return the same error; the process must exit.
 * LMDB has no page checksums, so every value carries a CRC-32C and a damaged
 * value is reported as DUET_ECORRUPT with the key, never returned.
 *
 * The map starts at map_size and doubles on MDB_MAP_FULL up to max_map_size;
 * beyond that writes fail with DUET_EMAPFULL and nothing is half-written.
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

struct store_meta {
	uint32_t format_version;
	uint64_t cluster_id;
	uint32_t node_id;
	uint64_t term;
	uint32_t vote;
	uint64_t incarnation;
};

int store_meta_get(struct store *s, struct store_meta *m);
/* Durably sets term and vote. */
int store_set_hardstate(struct store *s, uint64_t term, uint32_t vote);
int store_set_incarnation(struct store *s, uint64_t incarnation);

/* Appends n consecutive entries (index must follow the last stored one, or
 * any index when the log is empty) in one durable transaction. */
int store_log_append(struct store *s, const struct raft_entry *e, size_t n);
/* Deletes entries with index >= from. */
int store_log_truncate(struct store *s, uint64_t from);
/* Deletes entries with index <= upto. */
int store_log_drop_prefix(struct store *s, uint64_t upto);
/* first/last index stored; both 0 if the log is empty. */
int store_log_bounds(struct store *s, uint64_t *first, uint64_t *last);

/*
 * Reads entries [lo, hi] into a newly allocated array (*out, *n). Each entry's
 * data is a separate copy; free with store_entries_free(). A damaged entry
 * gives DUET_ECORRUPT and, with errbuf, its index.
 */
int store_log_read(struct store *s, uint64_t lo, uint64_t hi, struct raft_entry **out, size_t *n,
		   char *errbuf, size_t errlen);
void store_entries_free(struct raft_entry *e, size_t n);

/* Stores a snapshot (replacing the previous one). */
int store_snapshot_put(struct store *s, const struct raft_snapshot_meta *m, const void *data,
		       uint32_t len);
/* Reads the snapshot; *data is malloc'd (free()). DUET_ENOENT if none. */
int store_snapshot_get(struct store *s, struct raft_snapshot_meta *m, uint8_t **data,
		       uint32_t *len);

/* Carries out the persistence part of a raft update (meta, snapshot,
 * truncate, append, compact) in ONE durable transaction. */
int store_apply_update(struct store *s, const struct raft_update *u);

/* Everything raft_load() needs, read in one read transaction. */
struct store_loaded {
	struct raft_load_state state; /* points into the fields below */
	struct raft_snapshot_meta snap;
	bool has_snap;
	uint8_t *snap_data;
	struct raft_entry *entries;
	size_t n_entries;
	uint64_t incarnation;
};
int store_load(struct store *s, struct store_loaded *out, char *errbuf, size_t errlen);
void store_loaded_free(struct store_loaded *l);

struct store_stats {
	uint64_t map_size;
	uint64_t map_used; /* bytes in use (last page number * page size) */
	uint64_t map_grows;
	uint64_t txns_committed;
};
void store_stats(struct store *s, struct store_stats *st);

#endif
