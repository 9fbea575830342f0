/* SPDX-License-Identifier: MIT */
/*
 * meta.c - the small records of the "meta" database: identity, hard state
 * (term, vote), incarnation and store id.
 *
 * The store id is random, drawn when the store is created: the cluster binds
 * a member's incarnation to it (the MEMBERSHIP entry), so a store that was
 * wiped and made again - by duetctl init on a member that could not reach
 * its peers, or a copy of another store - is refused by its peers instead
 * of voting and acknowledging with a memory it does not have.
 *
 * Each is a fixed-size value (layouts in store_internal.h) with a version
 * byte and a crc32c, because LMDB has no page checksums: a damaged term or
 * vote must be refused, never believed (a member that trusts a rotted vote
 * could vote twice in one term). The *_get functions return DUET_ECORRUPT
 * for a bad checksum or size, DUET_EVERSION for an unknown record version
 * and DUET_ENOENT when the record is missing.
 */
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "duet/wire.h"
#include "store_internal.h"

static MDB_val store_name_key(const char *name)
{
	MDB_val k = {.mv_size = strlen(name), .mv_data = (void *)name};
	return k;
}

/* Seals the record being written into buf with its crc and stores it. */
static int store_record_put(struct store *s, MDB_txn *txn, const char *name, uint8_t *buf,
			    struct wire_writer *w)
{
	wire_put_u32(w, duet_crc32c(0, buf, w->used));
	if (w->err)
		return w->err;
	MDB_val k = store_name_key(name);
	MDB_val v = {.mv_size = w->used, .mv_data = buf};
	return store_mdb_err(mdb_put(txn, s->meta_dbi, &k, &v, 0));
}

/* Fetches `name`, checks size, crc and version; leaves r after the version. */
static int store_record_get(struct store *s, MDB_txn *txn, const char *name, size_t size,
			    struct wire_reader *r)
{
	MDB_val k = store_name_key(name);
	MDB_val v;
	int rc = mdb_get(txn, s->meta_dbi, &k, &v);
	if (rc)
		return store_mdb_err(rc);
	const uint8_t *p = v.mv_data;
	if (v.mv_size != size)
		return v.mv_size > 0 && p[0] != STORE_RECORD_VERSION ? DUET_EVERSION
								     : DUET_ECORRUPT;
	struct wire_reader crc;
	wire_reader_init(&crc, p + size - 4, 4);
	if (wire_get_u32(&crc) != duet_crc32c(0, p, size - 4))
		return DUET_ECORRUPT;
	if (p[0] != STORE_RECORD_VERSION)
		return DUET_EVERSION;
	wire_reader_init(r, p + 1, size - 5);
	return 0;
}

int store_identity_put(struct store *s, MDB_txn *txn, const struct store_identity *id)
{
	uint8_t buf[STORE_IDENTITY_BYTES];
	struct wire_writer w;
	wire_writer_init(&w, buf, sizeof(buf));
	wire_put_u8(&w, STORE_RECORD_VERSION);
	wire_put_u32(&w, id->format_version);
	wire_put_u64(&w, id->cluster_id);
	wire_put_u32(&w, id->node_id);
	return store_record_put(s, txn, STORE_KEY_IDENTITY, buf, &w);
}

int store_identity_get(struct store *s, MDB_txn *txn, struct store_identity *id)
{
	struct wire_reader r = {0}; /* set by store_record_get; zeroed for the optimiser */
	int rc = store_record_get(s, txn, STORE_KEY_IDENTITY, STORE_IDENTITY_BYTES, &r);
	if (rc)
		return rc;
	id->format_version = wire_get_u32(&r);
	id->cluster_id = wire_get_u64(&r);
	id->node_id = wire_get_u32(&r);
	return r.err;
}

int store_hardstate_put(struct store *s, MDB_txn *txn, uint64_t term, uint32_t vote)
{
	uint8_t buf[STORE_HARDSTATE_BYTES];
	struct wire_writer w;
	wire_writer_init(&w, buf, sizeof(buf));
	wire_put_u8(&w, STORE_RECORD_VERSION);
	wire_put_u64(&w, term);
	wire_put_u32(&w, vote);
	return store_record_put(s, txn, STORE_KEY_HARDSTATE, buf, &w);
}

int store_hardstate_get(struct store *s, MDB_txn *txn, uint64_t *term, uint32_t *vote)
{
	struct wire_reader r = {0}; /* set by store_record_get; zeroed for the optimiser */
	int rc = store_record_get(s, txn, STORE_KEY_HARDSTATE, STORE_HARDSTATE_BYTES, &r);
	if (rc)
		return rc;
	*term = wire_get_u64(&r);
	*vote = wire_get_u32(&r);
	return r.err;
}

/* Incarnation and store id: one u64 each, the same layout. */
static int store_u64_put(struct store *s, MDB_txn *txn, const char *name, uint64_t v)
{
	uint8_t buf[STORE_INCARNATION_BYTES];
	struct wire_writer w;
	wire_writer_init(&w, buf, sizeof(buf));
	wire_put_u8(&w, STORE_RECORD_VERSION);
	wire_put_u64(&w, v);
	return store_record_put(s, txn, name, buf, &w);
}

static int store_u64_get(struct store *s, MDB_txn *txn, const char *name, uint64_t *v)
{
	struct wire_reader r = {0}; /* set by store_record_get; zeroed for the optimiser */
	int rc = store_record_get(s, txn, name, STORE_INCARNATION_BYTES, &r);
	if (rc)
		return rc;
	*v = wire_get_u64(&r);
	return r.err;
}

int store_incarnation_put(struct store *s, MDB_txn *txn, uint64_t incarnation)
{
	return store_u64_put(s, txn, STORE_KEY_INCARNATION, incarnation);
}

int store_incarnation_get(struct store *s, MDB_txn *txn, uint64_t *incarnation)
{
	return store_u64_get(s, txn, STORE_KEY_INCARNATION, incarnation);
}

int store_id_put(struct store *s, MDB_txn *txn, uint64_t store_id)
{
	return store_u64_put(s, txn, STORE_KEY_STORE_ID, store_id);
}

int store_id_get(struct store *s, MDB_txn *txn, uint64_t *store_id)
{
	return store_u64_get(s, txn, STORE_KEY_STORE_ID, store_id);
}

uint64_t store_id_random(void)
{
	uint64_t id = 0;
	for (int tries = 0; tries < 8 && id == 0; tries++) {
		ssize_t got = getrandom(&id, sizeof id, 0);
		if (got != (ssize_t)sizeof id && !(got < 0 && errno == EINTR))
			id = 0;
	}
	return id;
}

static int store_id_txn(struct store *s, MDB_txn *txn, void *arg)
{
	uint64_t have;
	int rc = store_id_get(s, txn, &have);
	if (rc != DUET_ENOENT)
		return rc;
	return store_id_put(s, txn, *(const uint64_t *)arg);
}

int store_id_prepare(struct store *s, char *errbuf, size_t errlen)
{
	if (s->readonly)
		return 0;
	MDB_txn *txn;
	uint64_t have;
	int rc = store_read_begin(s, &txn);
	if (rc)
		return rc;
	rc = store_id_get(s, txn, &have);
	mdb_txn_abort(txn);
	if (rc != DUET_ENOENT) {
		if (rc)
			store_record_errf(s, "meta/store_id", rc, errbuf, errlen);
		return rc;
	}
	uint64_t id = store_id_random();
	if (!id) {
		store_errf(errbuf, errlen, "store %s: the kernel gives no random bytes for its id",
			   s->path);
		return -EIO;
	}
	rc = store_write(s, store_id_txn, &id);
	if (rc)
		store_errf(errbuf, errlen, "store %s: cannot write its id: %s", s->path,
			   duet_strerror(rc));
	return rc;
}

/* ---- public ------------------------------------------------------------- */

int store_meta_get(struct store *s, struct store_meta *m)
{
	MDB_txn *txn;
	int rc = store_read_begin(s, &txn);
	if (rc)
		return rc;
	struct store_identity id;
	memset(m, 0, sizeof(*m));
	rc = store_identity_get(s, txn, &id);
	if (!rc)
		rc = store_hardstate_get(s, txn, &m->term, &m->vote);
	if (!rc)
		rc = store_incarnation_get(s, txn, &m->incarnation);
	if (!rc) {
		rc = store_id_get(s, txn, &m->store_id);
		if (rc == DUET_ENOENT) /* made before ids, opened read-only */
			rc = 0;
	}
	mdb_txn_abort(txn);
	if (rc)
		return rc;
	m->format_version = id.format_version;
	m->cluster_id = id.cluster_id;
	m->node_id = id.node_id;
	return 0;
}

struct store_hardstate_arg {
	uint64_t term;
	uint32_t vote;
};

static int store_hardstate_txn(struct store *s, MDB_txn *txn, void *arg)
{
	const struct store_hardstate_arg *a = arg;
	return store_hardstate_put(s, txn, a->term, a->vote);
}

int store_set_hardstate(struct store *s, uint64_t term, uint32_t vote)
{
	struct store_hardstate_arg a = {.term = term, .vote = vote};
	return store_write(s, store_hardstate_txn, &a);
}

static int store_incarnation_txn(struct store *s, MDB_txn *txn, void *arg)
{
	return store_incarnation_put(s, txn, *(const uint64_t *)arg);
}

int store_set_incarnation(struct store *s, uint64_t incarnation)
{
	return store_write(s, store_incarnation_txn, &incarnation);
}
