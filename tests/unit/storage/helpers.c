/* SPDX-License-Identifier: MIT */
/*
 * helpers.c - the storage tests' fixture (see helpers.h).
 */
#include <criterion/criterion.h>
#include <ftw.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

char th_dir[256];

void th_setup(void)
{
	snprintf(th_dir, sizeof(th_dir), "/tmp/duet-storage-test-XXXXXX");
	cr_assert_not_null(mkdtemp(th_dir), "mkdtemp failed");
}

static int th_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void th_rmtree(const char *path)
{
	nftw(path, th_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void th_teardown(void)
{
	if (th_dir[0])
		th_rmtree(th_dir);
	th_dir[0] = 0;
}

int th_open_opts(struct store_options *o, struct store **s, char *errbuf, size_t errlen)
{
	if (!o->path)
		o->path = th_dir;
	return store_open(o, s, errbuf, errlen);
}

struct store *th_open(bool create)
{
	struct store_options o = {
	    .path = th_dir, .cluster_id = TH_CLUSTER, .node_id = TH_NODE, .create = create};
	struct store *s = NULL;
	char err[512];
	int rc = store_open(&o, &s, err, sizeof(err));
	cr_assert_eq(rc, 0, "store_open: %s (%s)", duet_strerror(rc), err);
	return s;
}

static uint8_t th_byte(uint64_t index, uint64_t term, uint32_t k)
{
	uint64_t x = index * 0x9e3779b97f4a7c15ull ^ term * 0xbf58476d1ce4e5b9ull ^ k;
	x ^= x >> 29;
	x *= 0x94d049bb133111ebull;
	return (uint8_t)(x >> 32);
}

void th_entry(struct raft_entry *e, uint64_t index, uint64_t term, uint32_t len, uint8_t *buf)
{
	for (uint32_t k = 0; k < len; k++)
		buf[k] = th_byte(index, term, k);
	*e = (struct raft_entry){.term = term,
				 .index = index,
				 .wall_ms = index * 1000 + term,
				 .author = (uint32_t)(index % 3) + 1,
				 .type = (uint8_t)(index % RAFT_ENTRY_TYPE_COUNT),
				 .len = len,
				 .data = len ? buf : NULL};
}

bool th_entry_ok(const struct raft_entry *e, uint64_t index, uint64_t term, uint32_t len)
{
	if (e->index != index || e->term != term || e->len != len ||
	    e->wall_ms != index * 1000 + term || e->author != (uint32_t)(index % 3) + 1 ||
	    e->type != index % RAFT_ENTRY_TYPE_COUNT)
		return false;
	for (uint32_t k = 0; k < len; k++)
		if (e->data[k] != th_byte(index, term, k))
			return false;
	return true;
}

int th_append(struct store *s, uint64_t first, size_t n, uint64_t term, uint32_t len)
{
	struct raft_entry *e = calloc(n, sizeof(*e));
	uint8_t *buf = malloc(n * (size_t)len + 1);
	if (!e || !buf)
		abort();
	for (size_t i = 0; i < n; i++)
		th_entry(&e[i], first + i, term, len, buf + i * len);
	int rc = store_log_append(s, e, n);
	free(buf);
	free(e);
	return rc;
}

void th_membership(struct duet_membership *c)
{
	memset(c, 0, sizeof(*c));
	c->n = 3;
	for (uint32_t i = 0; i < 3; i++) {
		struct duet_member *m = &c->members[i];
		m->id = i + 1;
		m->kind = i == 2 ? DUET_MEMBER_WITNESS : DUET_MEMBER_DATA;
		m->incarnation = 10 + i;
		snprintf(m->name, sizeof(m->name), "node%u", i + 1);
		m->n_addrs = 1;
		snprintf(m->addrs[0], sizeof(m->addrs[0]), "10.0.0.%u:7000", i + 1);
	}
}

bool th_membership_eq(const struct duet_membership *a, const struct duet_membership *b)
{
	if (a->n != b->n)
		return false;
	for (uint32_t i = 0; i < a->n; i++) {
		const struct duet_member *x = &a->members[i], *y = &b->members[i];
		if (x->id != y->id || x->kind != y->kind || x->incarnation != y->incarnation ||
		    strcmp(x->name, y->name) || x->n_addrs != y->n_addrs)
			return false;
		for (uint8_t k = 0; k < x->n_addrs; k++)
			if (strcmp(x->addrs[k], y->addrs[k]))
				return false;
	}
	return true;
}

/* Opens th_dir raw and runs one write transaction on `db`. */
static void th_raw(const char *db, MDB_env **env, MDB_txn **txn, MDB_dbi *dbi)
{
	cr_assert_eq(mdb_env_create(env), 0);
	cr_assert_eq(mdb_env_set_maxdbs(*env, 16), 0);
	cr_assert_eq(mdb_env_open(*env, th_dir, 0, 0600), 0);
	cr_assert_eq(mdb_txn_begin(*env, NULL, 0, txn), 0);
	cr_assert_eq(mdb_dbi_open(*txn, db, 0, dbi), 0, "raw: no database %s", db);
}

static void th_raw_done(MDB_env *env, MDB_txn *txn)
{
	cr_assert_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

int th_raw_flip_rc(const char *db, const void *key, size_t klen, long offset)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = {.mv_size = klen, .mv_data = (void *)key}, v;
	int rc = mdb_env_create(&env);
	if (rc)
		return rc;
	if ((rc = mdb_env_set_maxdbs(env, 16)) || (rc = mdb_env_open(env, th_dir, 0, 0600)) ||
	    (rc = mdb_txn_begin(env, NULL, 0, &txn))) {
		mdb_env_close(env);
		return rc;
	}
	if ((rc = mdb_dbi_open(txn, db, 0, &dbi)) || (rc = mdb_get(txn, dbi, &k, &v))) {
		mdb_txn_abort(txn);
		mdb_env_close(env);
		return rc;
	}
	uint8_t *copy = malloc(v.mv_size);
	memcpy(copy, v.mv_data, v.mv_size);
	size_t at = offset >= 0 ? (size_t)offset : v.mv_size - (size_t)(-offset);
	copy[at % v.mv_size] ^= 0x40;
	v.mv_data = copy;
	rc = mdb_put(txn, dbi, &k, &v, 0);
	free(copy);
	if (rc)
		mdb_txn_abort(txn);
	else
		rc = mdb_txn_commit(txn);
	mdb_env_close(env);
	return rc;
}

void th_raw_flip(const char *db, const void *key, size_t klen, long offset)
{
	int rc = th_raw_flip_rc(db, key, klen, offset);
	cr_assert_eq(rc, 0, "raw flip in %s: %s", db, mdb_strerror(rc));
}

void th_raw_del(const char *db, const void *key, size_t klen)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	th_raw(db, &env, &txn, &dbi);
	MDB_val k = {.mv_size = klen, .mv_data = (void *)key};
	cr_assert_eq(mdb_del(txn, dbi, &k, NULL), 0);
	th_raw_done(env, txn);
}

void th_raw_put(const char *db, const void *key, size_t klen, const void *val, size_t vlen)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	th_raw(db, &env, &txn, &dbi);
	MDB_val k = {.mv_size = klen, .mv_data = (void *)key};
	MDB_val v = {.mv_size = vlen, .mv_data = (void *)val};
	cr_assert_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
	th_raw_done(env, txn);
}
