/* SPDX-License-Identifier: MIT */
/*
 * store.c - opening and closing a store: directory, exclusive lock, LMDB
 * environment, databases, identity, and the whole-store check.
 *
 * Why each step:
 *  - flock(LOCK_EX|LOCK_NB) on <path>/duet.lock before LMDB is touched: two
 *    duetd on one directory would each believe they own the log (LMDB would
 *    serialise their writes, not their Raft states). The lock dies with the
 *    process, so kill -9 never leaves it stale. Read-only opens (duetctl)
 *    skip it: LMDB readers never block the writer.
 *  - Flags: MDB_NOTLS (read transactions are not tied to a thread: the daemon
 *    runs storage calls on worker threads), never MDB_NOSYNC (an ack must be
 *    durable) nor MDB_WRITEMAP (a full disk would be SIGBUS, not ENOSPC).
 *  - mdb_reader_check(): a process killed in a read transaction leaves its
 *    reader slot behind, which would pin old pages forever.
 *  - Identity (format version, cluster id, node id) is written in the same
 *    transaction that creates the databases, so a store either has one or
 *    was never initialised. A store of another cluster or node is refused:
 *    using it would merge two members' logs.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_internal.h"

static int store_join(char *buf, size_t cap, const char *dir, const char *name)
{
	int n = snprintf(buf, cap, "%s/%s", dir, name);
	return n < 0 || (size_t)n >= cap ? DUET_ETOOBIG : 0;
}

/* The directory and data.mdb must exist unless we create them. */
static int store_prepare_dir(struct store *s, const struct store_options *o, char *errbuf,
			     size_t errlen)
{
	struct stat st;
	char file[4096];
	if (stat(s->path, &st) != 0) {
		if (errno != ENOENT || !o->create) {
			int err = errno == ENOENT ? DUET_ENOENT : -errno;
			store_errf(errbuf, errlen,
				   "no store at %s (%s); check the data directory in the config, "
				   "or run duetctl rejoin to rebuild this member from the cluster",
				   s->path, strerror(errno));
			return err;
		}
		if (mkdir(s->path, 0700) != 0) {
			int err = -errno;
			store_errf(errbuf, errlen, "cannot create store directory %s: %s", s->path,
				   strerror(errno));
			return err;
		}
		return 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		store_errf(errbuf, errlen, "store path %s is not a directory; fix the config",
			   s->path);
		return -ENOTDIR;
	}
	if (store_join(file, sizeof(file), s->path, "data.mdb") != 0)
		return DUET_ETOOBIG;
	if (!o->create && access(file, F_OK) != 0) {
		store_errf(errbuf, errlen,
			   "no store in %s (no data.mdb); check the data directory in the config, "
			   "or run duetctl rejoin to rebuild this member from the cluster",
			   s->path);
		return DUET_ENOENT;
	}
	return 0;
}

static int store_lock(struct store *s, char *errbuf, size_t errlen)
{
	char file[4096];
	if (store_join(file, sizeof(file), s->path, "duet.lock") != 0)
		return DUET_ETOOBIG;
	s->lock_fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->lock_fd < 0) {
		int err = -errno;
		store_errf(errbuf, errlen, "cannot open lock file %s: %s", file, strerror(errno));
		return err;
	}
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	int err = errno;
	if (err == EWOULDBLOCK) {
		store_errf(errbuf, errlen,
			   "store %s is in use: another duetd holds %s; stop it first or point "
			   "this one at its own data directory",
			   s->path, file);
		return DUET_ELOCKED;
	}
	store_errf(errbuf, errlen, "cannot lock %s: %s", file, strerror(err));
	return -err;
}

static bool store_has_data_file(struct store *s)
{
	char file[4096];
	return store_join(file, sizeof(file), s->path, "data.mdb") == 0 && access(file, F_OK) == 0;
}

static uint64_t store_page_floor(uint64_t bytes)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	return bytes < page ? page : bytes / page * page;
}

static int store_env_open(struct store *s, const struct store_options *o, char *errbuf,
			  size_t errlen)
{
	s->max_map_size =
	    store_page_floor(o->max_map_size ? o->max_map_size : STORE_DEFAULT_MAX_MAP_BYTES);
	uint64_t want = o->map_size ? o->map_size : STORE_DEFAULT_MAP_BYTES;
	want = store_page_floor(want < s->max_map_size ? want : s->max_map_size);
	/* For an existing file no map size is set before open: LMDB then adopts
	 * the size recorded in it, so a map grown in an earlier run stays grown
	 * (a size set before open would win over it). */
	int rc = mdb_env_create(&s->env);
	if (rc == 0)
		rc = mdb_env_set_maxdbs(s->env, STORE_MAX_DBS);
	if (rc == 0 && !store_has_data_file(s))
		rc = mdb_env_set_mapsize(s->env, (size_t)want);
	if (rc == 0)
		rc =
		    mdb_env_open(s->env, s->path, MDB_NOTLS | (s->readonly ? MDB_RDONLY : 0), 0600);
	if (rc == 0) {
		int dead = 0;
		rc = mdb_reader_check(s->env, &dead);
	}
	MDB_envinfo info;
	if (rc == 0)
		rc = mdb_env_info(s->env, &info);
	if (rc == 0 && info.me_mapsize < want && !s->readonly)
		rc = mdb_env_set_mapsize(s->env, (size_t)want);
	if (rc) {
		int err = store_mdb_err(rc);
		store_errf(errbuf, errlen, "cannot open store %s: %s%s", s->path, mdb_strerror(rc),
			   err == DUET_ECORRUPT ? "; " STORE_REMEDY : "");
		return err;
	}
	mdb_env_info(s->env, &info);
	s->map_size = info.me_mapsize;
	return 0;
}

static int store_dbi(MDB_txn *txn, const char *name, unsigned flags, MDB_dbi *dbi)
{
	return store_mdb_err(mdb_dbi_open(txn, name, flags, dbi));
}

static int store_dbis_open(struct store *s, MDB_txn *txn, unsigned flags)
{
	int rc = store_dbi(txn, "meta", flags, &s->meta_dbi);
	if (rc)
		return rc;
	rc = store_dbi(txn, "log", flags, &s->log_dbi);
	if (rc == 0)
		rc = store_dbi(txn, "snapshot", flags, &s->snap_dbi);
	/* "audit" came later: a store without it is not damaged (audit.c) */
	if (rc == 0)
		rc = store_audit_dbi_open(s, txn, flags);
	return rc == DUET_ENOENT ? DUET_ECORRUPT : rc; /* meta without log: damage */
}

/* Creates the databases and, if the store has no identity yet, writes it with
 * term 0, no vote and incarnation 0. Never overwrites a damaged identity. */
static int store_init_unit(struct store *s, MDB_txn *txn, void *arg)
{
	const struct store_identity *want = arg;
	struct store_identity have;
	int rc = store_dbis_open(s, txn, MDB_CREATE);
	if (rc)
		return rc;
	rc = store_identity_get(s, txn, &have);
	if (rc != DUET_ENOENT)
		return rc == DUET_EMAPFULL ? rc : 0; /* judged by store_identity_check */
	struct store_log_view lv;
	rc = store_log_view_txn(s, txn, &lv);
	if (rc == 0 && lv.raw_last != 0)
		return DUET_ECORRUPT; /* entries without an identity: lost meta */
	if (rc == 0)
		rc = store_identity_put(s, txn, want);
	if (rc == 0)
		rc = store_hardstate_put(s, txn, 0, 0);
	if (rc == 0)
		rc = store_incarnation_put(s, txn, 0);
	if (rc == 0) {
		uint64_t id = store_id_random();
		rc = id ? store_id_put(s, txn, id) : -EIO;
	}
	return rc;
}

static int store_open_dbs(struct store *s, const struct store_options *o, char *errbuf,
			  size_t errlen)
{
	int rc;
	if (o->create) {
		struct store_identity id = {STORE_FORMAT_VERSION, o->cluster_id, o->node_id};
		rc = store_write(s, store_init_unit, &id);
	} else {
		MDB_txn *txn;
		rc = store_read_begin(s, &txn);
		if (rc == 0) {
			rc = store_dbis_open(s, txn, 0);
			if (rc == 0) /* commit keeps the handles open past the txn */
				rc = store_mdb_err(mdb_txn_commit(txn));
			else
				mdb_txn_abort(txn);
		}
	}
	if (rc == DUET_ENOENT)
		store_errf(
		    errbuf, errlen,
		    "store %s was never initialised; check the data directory in the config, "
		    "or run duetctl rejoin to rebuild this member from the cluster",
		    s->path);
	else if (rc == DUET_ECORRUPT)
		store_errf(errbuf, errlen,
			   "store %s: meta/identity or one of the databases is missing or damaged "
			   "although the store holds data; %s",
			   s->path, STORE_REMEDY);
	else if (rc)
		store_errf(errbuf, errlen, "cannot initialise store %s: %s", s->path,
			   duet_strerror(rc));
	return rc;
}

static int store_identity_check(struct store *s, const struct store_options *o, char *errbuf,
				size_t errlen)
{
	struct store_identity id;
	MDB_txn *txn;
	int rc = store_read_begin(s, &txn);
	if (rc)
		return rc;
	rc = store_identity_get(s, txn, &id);
	mdb_txn_abort(txn);
	if (rc == DUET_ENOENT) {
		store_errf(
		    errbuf, errlen,
		    "store %s was never initialised; check the data directory in the config, "
		    "or run duetctl rejoin to rebuild this member from the cluster",
		    s->path);
		return rc;
	}
	if (rc) {
		store_record_errf(s, "meta/identity", rc, errbuf, errlen);
		return rc;
	}
	if (id.format_version != STORE_FORMAT_VERSION) {
		store_errf(errbuf, errlen,
			   "store %s has format version %" PRIu32
			   " but this duetd reads version %d; run a duetd that matches the store",
			   s->path, id.format_version, STORE_FORMAT_VERSION);
		return DUET_EVERSION;
	}
	if ((o->cluster_id && o->cluster_id != id.cluster_id) ||
	    (o->node_id && o->node_id != id.node_id)) {
		store_errf(errbuf, errlen,
			   "store %s belongs to cluster 0x%016" PRIx64 " node %" PRIu32
			   ", config says cluster 0x%016" PRIx64 " node %" PRIu32
			   "; point the config at the right directory or run duetctl rejoin",
			   s->path, id.cluster_id, id.node_id, o->cluster_id, o->node_id);
		return DUET_EFOREIGN;
	}
	return 0;
}

static int store_options_check(const struct store_options *o, char *errbuf, size_t errlen)
{
	if (!o || !o->path || !o->path[0]) {
		store_errf(errbuf, errlen,
			   "no store path given; set the data directory in the config");
		return DUET_EINVAL;
	}
	if (o->create && o->readonly) {
		store_errf(errbuf, errlen, "store %s: cannot create a store read-only", o->path);
		return DUET_EINVAL;
	}
	if (o->create && (o->cluster_id == 0 || o->node_id == 0)) {
		store_errf(errbuf, errlen,
			   "store %s: creating a store needs a nonzero cluster id and node id",
			   o->path);
		return DUET_EINVAL;
	}
	uint64_t max_map = o->max_map_size ? o->max_map_size : STORE_DEFAULT_MAX_MAP_BYTES;
	if (o->audit_max_bytes > max_map / 2) {
		store_errf(
		    errbuf, errlen,
		    "store %s: audit_max_bytes %llu is over half the map limit (%llu bytes): "
		    "the chain would fill the map; lower it",
		    o->path, (unsigned long long)o->audit_max_bytes, (unsigned long long)max_map);
		return DUET_EINVAL;
	}
	return 0;
}

int store_open(const struct store_options *o, struct store **out, char *errbuf, size_t errlen)
{
	*out = NULL;
	store_errf(errbuf, errlen, "%s", "");
	int rc = store_options_check(o, errbuf, errlen);
	if (rc)
		return rc;
	struct store *s = calloc(1, sizeof(*s));
	if (!s || !(s->path = strdup(o->path))) {
		free(s);
		store_errf(errbuf, errlen, "store %s: out of memory", o->path);
		return DUET_ENOMEM;
	}
	s->lock_fd = -1;
	s->readonly = o->readonly;
	s->compact_step = STORE_COMPACT_STEP;
	s->audit_max_bytes =
	    o->audit_max_bytes ? o->audit_max_bytes : STORE_DEFAULT_AUDIT_MAX_BYTES;
	if (!o->audit_max_bytes && o->max_map_size && s->audit_max_bytes > o->max_map_size / 2)
		s->audit_max_bytes = o->max_map_size / 2; /* the default, on a small map */
	rc = store_prepare_dir(s, o, errbuf, errlen);
	if (rc == 0 && !s->readonly)
		rc = store_lock(s, errbuf, errlen);
	if (rc == 0)
		rc = store_env_open(s, o, errbuf, errlen);
	if (rc == 0)
		rc = store_open_dbs(s, o, errbuf, errlen);
	if (rc == 0)
		rc = store_identity_check(s, o, errbuf, errlen);
	if (rc == 0)
		rc = store_audit_prepare(s, errbuf, errlen);
	if (rc == 0)
		rc = store_id_prepare(s, errbuf, errlen);
	if (rc == 0)
		rc = store_check_all(s, errbuf, errlen);
	if (rc) {
		store_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->env)
		mdb_env_close(s->env);
	if (s->lock_fd >= 0)
		close(s->lock_fd); /* releases the flock, after LMDB is done */
	free(s->path);
	free(s);
}

int store_create_new(const struct store_options *o, const struct raft_entry *first,
		     struct store **out, char *errbuf, size_t errlen)
{
	*out = NULL;
	struct store_options probe = *o;
	probe.create = false;
	probe.readonly = true;
	struct store *s = NULL;
	int rc = store_open(&probe, &s, NULL, 0);
	if (rc != DUET_ENOENT) {
		if (s)
			store_close(s);
		store_errf(
		    errbuf, errlen,
		    "%s already holds a store%s; it is never created again over one (move it "
		    "aside first if it really is to go)",
		    o->path, rc == 0 ? "" : " (which does not open)");
		return -EEXIST;
	}
	struct store_options c = *o;
	c.create = true;
	c.readonly = false;
	rc = store_open(&c, &s, errbuf, errlen);
	if (rc)
		return rc;
	rc = store_set_hardstate(s, 1, 0);
	if (rc == 0)
		rc = store_log_append(s, first, 1);
	if (rc) {
		store_errf(errbuf, errlen, "cannot initialise the new store %s: %s", o->path,
			   duet_strerror(rc));
		store_close(s);
		return rc;
	}
	*out = s;
	return 0;
}
