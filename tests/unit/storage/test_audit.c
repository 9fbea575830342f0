/* SPDX-License-Identifier: MIT */
/*
 * test_audit.c - the audit chain (storage.h, "audit chain"): append, read
 * back in order, links, verify; idempotent re-append; a record altered in a
 * COPY of the store (crc recomputed so only the hash can tell; crc left
 * stale; hash recomputed too so only the next link can tell), a record
 * removed in the middle or at the end, a damaged tail: verify names exactly
 * the first bad record and appends refuse a chain they cannot extend
 * honestly; a store whose "audit" database is missing; a readonly reader in
 * another process while the writer appends.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "duet/wire.h"
#include "helpers.h"
#include "store_internal.h"

static char copy_dir[256];

static void setup(void)
{
	th_setup();
	copy_dir[0] = 0;
}

static void teardown(void)
{
	if (copy_dir[0])
		th_rmtree(copy_dir);
	th_teardown();
}

TestSuite(audit, .init = setup, .fini = teardown);

#define PAYLOAD 24

/* Entry `index` of a type cycling through all of them (index % 9: 6 is TRAPS
 * and 7 DELIVERED, which are not audited), payload derived from the index. */
static void mk(struct raft_entry *e, uint64_t index, uint8_t *buf)
{
	for (int i = 0; i < PAYLOAD; i++)
		buf[i] = (uint8_t)(index * 31 + (uint64_t)i);
	*e = (struct raft_entry){.term = 1 + index / 10,
				 .index = index,
				 .wall_ms = 1000 * index,
				 .author = (uint32_t)(index % 3 + 1),
				 .type = (uint8_t)(index % RAFT_ENTRY_TYPE_COUNT),
				 .len = PAYLOAD,
				 .data = buf};
}

/* Audits entries [first, last]; returns the records written. No asserts
 * (used in forked children's parent loop too). */
static int append_range(struct store *s, uint64_t first, uint64_t last, size_t *appended)
{
	size_t n = (size_t)(last - first + 1);
	struct raft_entry *e = calloc(n, sizeof(*e));
	uint8_t *bufs = calloc(n, PAYLOAD);
	for (size_t i = 0; i < n; i++)
		mk(&e[i], first + i, bufs + i * PAYLOAD);
	int rc = store_audit_append_batch(s, e, n, appended);
	free(e);
	free(bufs);
	return rc;
}

/* Audited entries among 1..last. */
static uint64_t audited_upto(uint64_t last)
{
	uint64_t n = 0;
	for (uint64_t i = 1; i <= last; i++)
		n += store_audit_wants((uint8_t)(i % RAFT_ENTRY_TYPE_COUNT));
	return n;
}

static void sha256(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, uint8_t out[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned n;
	cr_assert(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
		  EVP_DigestUpdate(ctx, a, alen) == 1 && EVP_DigestUpdate(ctx, b, blen) == 1 &&
		  EVP_DigestFinal_ex(ctx, out, &n) == 1);
	EVP_MD_CTX_free(ctx);
}

static struct store *open_at(const char *dir, bool readonly)
{
	struct store_options o = {.path = dir, .readonly = readonly};
	struct store *s = NULL;
	char err[512];
	int rc = store_open(&o, &s, err, sizeof(err));
	cr_assert_eq(rc, 0, "store_open %s: %s", dir, err);
	return s;
}

/* Copies th_dir/data.mdb into a new directory (the store is closed). */
static void copy_store(void)
{
	snprintf(copy_dir, sizeof(copy_dir), "/tmp/duet-audit-copy-XXXXXX");
	cr_assert_not_null(mkdtemp(copy_dir));
	char src[512], dst[512];
	snprintf(src, sizeof(src), "%s/data.mdb", th_dir);
	snprintf(dst, sizeof(dst), "%s/data.mdb", copy_dir);
	FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
	cr_assert(in && out);
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		cr_assert_eq(fwrite(buf, 1, n, out), n);
	fclose(in);
	cr_assert_eq(fclose(out), 0);
}

struct raw {
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
};

static void raw_begin(struct raw *r, const char *dir, const char *db)
{
	cr_assert_eq(mdb_env_create(&r->env), 0);
	cr_assert_eq(mdb_env_set_maxdbs(r->env, STORE_MAX_DBS), 0);
	cr_assert_eq(mdb_env_open(r->env, dir, 0, 0600), 0);
	cr_assert_eq(mdb_txn_begin(r->env, NULL, 0, &r->txn), 0);
	cr_assert_eq(mdb_dbi_open(r->txn, db, 0, &r->dbi), 0);
}

static void raw_end(struct raw *r)
{
	cr_assert_eq(mdb_txn_commit(r->txn), 0);
	mdb_env_close(r->env);
}

enum patch { PATCH_STALE_CRC, PATCH_FIX_CRC, PATCH_FIX_HASH_AND_CRC };

/* Changes one payload byte of record `seq` in the store at dir. */
static void raw_patch(const char *dir, uint64_t seq, enum patch how)
{
	struct raw r;
	raw_begin(&r, dir, "audit");
	uint8_t key[8];
	store_index_key(seq, key);
	MDB_val k = {.mv_size = 8, .mv_data = key}, v;
	cr_assert_eq(mdb_get(r.txn, r.dbi, &k, &v), 0, "no record %llu", (unsigned long long)seq);
	uint8_t *p = malloc(v.mv_size);
	memcpy(p, v.mv_data, v.mv_size);
	size_t size = v.mv_size, len = size - STORE_AUDIT_FIXED_BYTES;
	p[STORE_AUDIT_HEADER_BYTES + 3] ^= 0x01; /* one bit of the payload */
	if (how == PATCH_FIX_HASH_AND_CRC)
		sha256(p + STORE_AUDIT_HEADER_BYTES + len, 32, p, STORE_AUDIT_HEADER_BYTES + len,
		       p + STORE_AUDIT_HEADER_BYTES + len + 32);
	if (how != PATCH_STALE_CRC) {
		struct wire_writer w;
		wire_writer_init(&w, p + size - 4, 4);
		wire_put_u32(&w, duet_crc32c(0, p, size - 4));
	}
	v.mv_data = p;
	cr_assert_eq(mdb_put(r.txn, r.dbi, &k, &v, 0), 0);
	free(p);
	raw_end(&r);
}

static void raw_delete(const char *dir, const char *db, const void *key, size_t klen)
{
	struct raw r;
	raw_begin(&r, dir, db);
	MDB_val k = {.mv_size = klen, .mv_data = (void *)key};
	cr_assert_eq(mdb_del(r.txn, r.dbi, &k, NULL), 0);
	raw_end(&r);
}

static void raw_delete_seq(const char *dir, uint64_t seq)
{
	uint8_t key[8];
	store_index_key(seq, key);
	raw_delete(dir, "audit", key, 8);
}

/* A closed store in th_dir whose chain audits entries 1..last. */
static uint64_t make_chain(uint64_t last)
{
	struct store *s = th_open(true);
	cr_assert_eq(append_range(s, 1, last / 2, NULL), 0);
	cr_assert_eq(append_range(s, last / 2 + 1, last, NULL), 0);
	store_close(s);
	return audited_upto(last);
}

static void expect_fault(const char *dir, int fault, uint64_t seq)
{
	struct store *s = open_at(dir, true); /* as duetctl log --verify would */
	struct store_audit_report r;
	int rc = store_audit_verify(s, &r);
	cr_assert_eq(rc, DUET_ECORRUPT, "verify: %s (%s)", duet_strerror(rc), r.detail);
	cr_assert_eq(r.fault, fault, "fault %s, expected %s: %s", store_audit_fault_name(r.fault),
		     store_audit_fault_name(fault), r.detail);
	cr_assert_eq(r.seq, seq, "reported seq %llu, expected %llu: %s", (unsigned long long)r.seq,
		     (unsigned long long)seq, r.detail);
	/* every record before the bad one checked out (a tail fault: all of them) */
	cr_assert_eq(r.records_ok, fault == STORE_AUDIT_TAIL ? seq : seq - 1);
	store_close(s);
}

static void expect_intact(const char *dir, uint64_t records)
{
	struct store *s = open_at(dir, true);
	struct store_audit_report r;
	int rc = store_audit_verify(s, &r);
	cr_assert_eq(rc, 0, "verify: %s: %s", duet_strerror(rc), r.detail);
	cr_assert_eq(r.records_ok, records);
	store_close(s);
}

Test(audit, append_read_back_verify)
{
	struct store *s = th_open(true);
	size_t appended;
	cr_assert_eq(append_range(s, 1, 20, &appended), 0);
	cr_assert_eq(appended, audited_upto(20));
	cr_assert_eq(append_range(s, 21, 40, &appended), 0);
	uint64_t n = audited_upto(40);

	struct store_audit_iter *it;
	cr_assert_eq(store_audit_iter_open(s, 0, &it), 0);
	struct store_audit_record rec;
	uint8_t prev[32] = {0};
	uint64_t seq = 0, index = 0;
	int rc;
	while ((rc = store_audit_iter_next(it, &rec)) == 1) {
		cr_assert_eq(rec.seq, ++seq);
		do
			index++;
		while (!store_audit_wants((uint8_t)(index % RAFT_ENTRY_TYPE_COUNT)));
		uint8_t buf[PAYLOAD];
		struct raft_entry want;
		mk(&want, index, buf);
		cr_assert_eq(rec.entry.index, index);
		cr_assert_eq(rec.entry.term, want.term);
		cr_assert_eq(rec.entry.type, want.type);
		cr_assert_eq(rec.entry.author, want.author);
		cr_assert_eq(rec.entry.wall_ms, want.wall_ms);
		cr_assert_eq(rec.entry.len, PAYLOAD);
		cr_assert_eq(memcmp(rec.entry.data, buf, PAYLOAD), 0);
		cr_assert_eq(memcmp(rec.prev_hash, prev, 32), 0, "record %llu not linked",
			     (unsigned long long)seq);
		memcpy(prev, rec.hash, 32);
	}
	cr_assert_eq(rc, 0);
	cr_assert_eq(seq, n);
	store_audit_iter_close(it);

	/* from the middle */
	cr_assert_eq(store_audit_iter_open(s, 7, &it), 0);
	cr_assert_eq(store_audit_iter_next(it, &rec), 1);
	cr_assert_eq(rec.seq, 7);
	store_audit_iter_close(it);

	struct store_audit_tail t;
	cr_assert_eq(store_audit_last(s, &t), 0);
	cr_assert_eq(t.seq, n);
	cr_assert_eq(t.last_index, 40);
	cr_assert_eq(memcmp(t.hash, prev, 32), 0);

	/* one more through the single-entry call */
	uint8_t buf[PAYLOAD], h[32];
	struct raft_entry e;
	mk(&e, 41, buf);
	cr_assert_eq(store_audit_append(s, &e, h), 0);
	cr_assert_eq(store_audit_last(s, &t), 0);
	cr_assert_eq(t.seq, n + 1);
	cr_assert_eq(memcmp(t.hash, h, 32), 0);

	struct store_audit_report r;
	cr_assert_eq(store_audit_verify(s, &r), 0, "%s", r.detail);
	cr_assert_eq(r.records_ok, n + 1);
	store_close(s);
}

Test(audit, traps_and_delivered_not_audited)
{
	struct store *s = th_open(true);
	uint8_t buf[PAYLOAD];
	struct raft_entry e;
	mk(&e, 6, buf);
	cr_assert_eq(e.type, RAFT_ENTRY_TRAPS);
	size_t appended = 9;
	cr_assert_eq(store_audit_append_batch(s, &e, 1, &appended), 0);
	cr_assert_eq(appended, 0);
	struct store_stats before, after;
	store_stats(s, &before);
	mk(&e, 7, buf);
	cr_assert_eq(store_audit_append_batch(s, &e, 1, &appended), 0);
	store_stats(s, &after);
	cr_assert_eq(after.txns_committed, before.txns_committed, "nothing to audit: no commit");
	struct store_audit_tail t;
	cr_assert_eq(store_audit_last(s, &t), 0);
	cr_assert_eq(t.seq, 0);
	store_close(s);
}

Test(audit, reapplied_entries_add_nothing)
{
	struct store *s = th_open(true);
	cr_assert_eq(append_range(s, 1, 30, NULL), 0);
	struct store_audit_tail t1, t2;
	cr_assert_eq(store_audit_last(s, &t1), 0);
	size_t appended = 99;
	cr_assert_eq(append_range(s, 1, 30, &appended), 0);
	cr_assert_eq(appended, 0);
	cr_assert_eq(append_range(s, 12, 30, &appended), 0);
	cr_assert_eq(appended, 0);
	cr_assert_eq(store_audit_last(s, &t2), 0);
	cr_assert_eq(memcmp(&t1, &t2, sizeof(t1)), 0);
	/* after a restart, overlapping: only the new part */
	store_close(s);
	s = th_open(false);
	cr_assert_eq(append_range(s, 25, 35, &appended), 0);
	cr_assert_eq(appended, audited_upto(35) - audited_upto(30));
	struct store_audit_report r;
	cr_assert_eq(store_audit_verify(s, &r), 0, "%s", r.detail);
	cr_assert_eq(r.records_ok, audited_upto(35));
	store_close(s);
}

Test(audit, refuses_bad_arguments)
{
	struct store *s = th_open(true);
	uint8_t buf[PAYLOAD];
	struct raft_entry e;
	mk(&e, 1, buf);
	e.index = 0;
	cr_assert_eq(store_audit_append_batch(s, &e, 1, NULL), DUET_EINVAL);
	cr_assert_eq(store_audit_append_batch(s, NULL, 1, NULL), DUET_EINVAL);
	mk(&e, 1, buf);
	e.len = RAFT_ENTRY_MAX_PAYLOAD + 1;
	cr_assert_eq(store_audit_append_batch(s, &e, 1, NULL), DUET_ETOOBIG);
	struct store_audit_tail t;
	cr_assert_eq(store_audit_last(s, &t), 0);
	cr_assert_eq(t.seq, 0, "a refused batch left something");
	store_close(s);
	s = open_at(th_dir, true);
	mk(&e, 1, buf);
	cr_assert_eq(store_audit_append_batch(s, &e, 1, NULL), -EROFS);
	store_close(s);
}

Test(audit, altered_record_crc_recomputed_hash_detects)
{
	uint64_t n = make_chain(30);
	for (uint64_t k = 1; k <= n; k += 6) {
		copy_store();
		raw_patch(copy_dir, k, PATCH_FIX_CRC);
		expect_fault(copy_dir, STORE_AUDIT_HASH, k);
		th_rmtree(copy_dir);
	}
	copy_dir[0] = 0;
	expect_intact(th_dir, n); /* the original is untouched */
}

Test(audit, altered_record_stale_crc)
{
	uint64_t n = make_chain(30);
	copy_store();
	raw_patch(copy_dir, 9, PATCH_STALE_CRC);
	expect_fault(copy_dir, STORE_AUDIT_CHECKSUM, 9);
	/* the iterator refuses the damaged record and names it */
	struct store *s = open_at(copy_dir, true);
	struct store_audit_iter *it;
	struct store_audit_record rec;
	cr_assert_eq(store_audit_iter_open(s, 9, &it), 0);
	cr_assert_eq(store_audit_iter_next(it, &rec), DUET_ECORRUPT);
	cr_assert_eq(store_audit_iter_bad_seq(it), 9);
	store_audit_iter_close(it);
	store_close(s);
	expect_intact(th_dir, n);
}

Test(audit, altered_record_hash_recomputed_next_link_detects)
{
	uint64_t n = make_chain(30);
	copy_store();
	raw_patch(copy_dir, 11, PATCH_FIX_HASH_AND_CRC);
	expect_fault(copy_dir, STORE_AUDIT_LINK, 12);
	/* the last record rewritten: only the tail can tell */
	th_rmtree(copy_dir);
	copy_store();
	raw_patch(copy_dir, n, PATCH_FIX_HASH_AND_CRC);
	expect_fault(copy_dir, STORE_AUDIT_TAIL, n);
}

Test(audit, deleted_middle_record_is_a_gap)
{
	uint64_t n = make_chain(30);
	copy_store();
	raw_delete_seq(copy_dir, 10);
	expect_fault(copy_dir, STORE_AUDIT_GAP, 10);
	raw_delete_seq(copy_dir, 11);
	expect_fault(copy_dir, STORE_AUDIT_GAP, 10);
	expect_intact(th_dir, n);
}

Test(audit, deleted_last_records_reported_and_append_refused)
{
	uint64_t n = make_chain(30);
	copy_store();
	raw_delete_seq(copy_dir, n);
	raw_delete_seq(copy_dir, n - 1);
	expect_fault(copy_dir, STORE_AUDIT_TRUNCATED, n - 1);
	struct store *s = open_at(copy_dir, false);
	cr_assert_eq(append_range(s, 31, 40, NULL), DUET_ECORRUPT,
		     "extended a chain whose tail is gone");
	store_close(s);
}

Test(audit, damaged_or_missing_tail)
{
	uint64_t n = make_chain(20);
	copy_store();
	raw_delete(copy_dir, "meta", STORE_KEY_AUDIT_TAIL, strlen(STORE_KEY_AUDIT_TAIL));
	expect_fault(copy_dir, STORE_AUDIT_TAIL, n);
	th_rmtree(copy_dir);
	copy_store();
	struct raw r;
	raw_begin(&r, copy_dir, "meta");
	MDB_val k = {.mv_size = strlen(STORE_KEY_AUDIT_TAIL), .mv_data = STORE_KEY_AUDIT_TAIL}, v;
	cr_assert_eq(mdb_get(r.txn, r.dbi, &k, &v), 0);
	uint8_t tail[STORE_AUDIT_TAIL_BYTES];
	memcpy(tail, v.mv_data, sizeof(tail));
	tail[3] ^= 1;
	v = (MDB_val){.mv_size = sizeof(tail), .mv_data = tail};
	cr_assert_eq(mdb_put(r.txn, r.dbi, &k, &v, 0), 0);
	raw_end(&r);
	expect_fault(copy_dir, STORE_AUDIT_TAIL, n);
	struct store *s = open_at(copy_dir, false);
	cr_assert_eq(append_range(s, 21, 25, NULL), DUET_ECORRUPT);
	store_close(s);
}

Test(audit, store_without_audit_database)
{
	struct store *s = th_open(true);
	store_close(s);
	struct raw r; /* a store made before the chain existed */
	raw_begin(&r, th_dir, "audit");
	cr_assert_eq(mdb_drop(r.txn, r.dbi, 1), 0);
	raw_end(&r);
	s = open_at(th_dir, true);
	struct store_audit_iter *it;
	struct store_audit_record rec;
	cr_assert_eq(store_audit_iter_open(s, 1, &it), 0);
	cr_assert_eq(store_audit_iter_next(it, &rec), 0);
	store_audit_iter_close(it);
	struct store_audit_report rep;
	cr_assert_eq(store_audit_verify(s, &rep), 0, "%s", rep.detail);
	store_close(s);
	s = th_open(false); /* a writable open creates it */
	cr_assert_eq(append_range(s, 1, 5, NULL), 0);
	cr_assert_eq(store_audit_verify(s, &rep), 0, "%s", rep.detail);
	cr_assert_eq(rep.records_ok, audited_upto(5));
	store_close(s);
}

/* The child: a readonly store in another process, following the chain as
 * `duetctl log --follow --verify` would. Exit codes say what went wrong. */
static int follower(uint64_t want)
{
	struct store_options o = {.path = th_dir, .readonly = true};
	struct store *s;
	if (store_open(&o, &s, NULL, 0) != 0)
		return 10;
	struct store_audit_iter *it;
	if (store_audit_iter_open(s, 1, &it) != 0)
		return 11;
	uint8_t prev[32] = {0};
	uint64_t seen = 0;
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	int polls = 0;
	for (;;) {
		struct store_audit_record rec;
		int rc;
		while ((rc = store_audit_iter_next(it, &rec)) == 1) {
			if (rec.seq != seen + 1 || memcmp(rec.prev_hash, prev, 32) != 0)
				return 12;
			memcpy(prev, rec.hash, 32);
			seen++;
		}
		if (rc != 0)
			return 13;
		struct store_audit_report r;
		if (store_audit_verify(s, &r) != 0)
			return 14; /* every snapshot a reader sees is a whole, intact chain */
		if (seen >= want)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec > 20)
			return 15;
		usleep(1000);
		polls++;
		if (store_audit_iter_refresh(it) != 0)
			return 16;
	}
	store_audit_iter_close(it);
	store_close(s);
	return seen == want && polls > 0 ? 0 : 17;
}

Test(audit, readonly_reader_in_another_process)
{
	struct store *s = th_open(true);
	cr_assert_eq(append_range(s, 1, 10, NULL), 0);
	store_close(s); /* no LMDB environment crosses the fork */
	uint64_t want = audited_upto(400);
	pid_t pid = fork();
	if (pid == 0) /* no Criterion call in the child: it would talk on our socket */
		_exit(follower(want));
	cr_assert_gt(pid, 0);
	s = th_open(false);
	for (uint64_t i = 11; i <= 400; i += 10) {
		cr_assert_eq(append_range(s, i, i + 9, NULL), 0);
		usleep(2000);
	}
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "follower died");
	cr_assert_eq(WEXITSTATUS(status), 0, "follower failed with %d", WEXITSTATUS(status));
	store_close(s);
}

/* ---- retention (issue 13 defect 9) ---------------------------------------- */

#define RET_BOUND 4096u

static struct store *open_bounded(const char *dir, bool create, bool readonly, uint64_t bound,
				  uint64_t max_map)
{
	struct store_options o = {.path = dir,
				  .cluster_id = TH_CLUSTER,
				  .node_id = TH_NODE,
				  .create = create,
				  .readonly = readonly,
				  .max_map_size = max_map,
				  .audit_max_bytes = bound};
	struct store *s = NULL;
	char err[512];
	int rc = store_open(&o, &s, err, sizeof(err));
	cr_assert_eq(rc, 0, "store_open %s: %s", dir, err);
	return s;
}

/* Bytes the chain stores, counted by the iterator: key + value per record. */
static uint64_t chain_bytes(struct store *s, uint64_t *first, uint64_t *count)
{
	struct store_audit_iter *it;
	cr_assert_eq(store_audit_iter_open(s, 1, &it), 0);
	struct store_audit_record rec;
	uint64_t bytes = 0;
	*first = 0;
	*count = 0;
	int rc;
	while ((rc = store_audit_iter_next(it, &rec)) == 1) {
		if (!*first)
			*first = rec.seq;
		(*count)++;
		bytes += 8 + STORE_AUDIT_FIXED_BYTES + rec.entry.len;
	}
	cr_assert_eq(rc, 0);
	store_audit_iter_close(it);
	return bytes;
}

static void expect_fault_at(const char *dir, int fault, uint64_t seq)
{
	struct store *s = open_at(dir, true);
	struct store_audit_report r;
	int rc = store_audit_verify(s, &r);
	cr_assert_eq(rc, DUET_ECORRUPT, "verify passed a damaged chain: %s", r.detail);
	cr_assert_eq(r.fault, fault, "fault %s, expected %s: %s", store_audit_fault_name(r.fault),
		     store_audit_fault_name(fault), r.detail);
	cr_assert_eq(r.seq, seq, "reported seq %llu, expected %llu: %s", (unsigned long long)r.seq,
		     (unsigned long long)seq, r.detail);
	store_close(s);
}

static void expect_intact_dropped(const char *dir, uint64_t dropped)
{
	struct store *s = open_at(dir, true);
	struct store_audit_report r;
	int rc = store_audit_verify(s, &r);
	cr_assert_eq(rc, 0, "verify: %s: %s", duet_strerror(rc), r.detail);
	cr_assert_eq(r.dropped, dropped, "%s", r.detail);
	store_close(s);
}

Test(audit, audit_retention_bounds_bytes)
{
	const uint64_t rec_bytes = 8 + STORE_AUDIT_FIXED_BYTES + PAYLOAD;
	struct store *s = open_bounded(th_dir, true, false, RET_BOUND, 0);
	for (uint64_t i = 1; i <= 400; i += 10) {
		cr_assert_eq(append_range(s, i, i + 9, NULL), 0);
		uint64_t first, count, bytes = chain_bytes(s, &first, &count);
		cr_assert_leq(bytes, RET_BOUND + rec_bytes,
			      "after entry %llu the chain holds %llu bytes",
			      (unsigned long long)(i + 9), (unsigned long long)bytes);
		struct store_audit_anchor a;
		cr_assert_eq(store_audit_anchor(s, &a), 0);
		cr_assert_eq(a.bytes, bytes, "anchor counts %llu, records hold %llu",
			     (unsigned long long)a.bytes, (unsigned long long)bytes);
		cr_assert_eq(first, a.dropped ? a.dropped + 1 : 1);
	}
	uint64_t total = audited_upto(400);
	struct store_audit_anchor a;
	cr_assert_eq(store_audit_anchor(s, &a), 0);
	cr_assert_gt(a.dropped, total / 2, "only %llu of %llu records dropped",
		     (unsigned long long)a.dropped, (unsigned long long)total);
	cr_assert_eq(a.seq, a.dropped);
	cr_assert_eq(a.max_bytes, RET_BOUND);
	struct store_audit_tail t;
	cr_assert_eq(store_audit_last(s, &t), 0);
	cr_assert_eq(t.seq, total);
	/* the oldest are gone: reading from 1 starts right after the anchor */
	struct store_audit_iter *it;
	struct store_audit_record rec;
	cr_assert_eq(store_audit_iter_open(s, 1, &it), 0);
	cr_assert_eq(store_audit_iter_next(it, &rec), 1);
	cr_assert_eq(rec.seq, a.seq + 1);
	cr_assert_eq(memcmp(rec.prev_hash, a.hash, 32), 0,
		     "first record does not link to the anchor");
	cr_assert_gt(rec.entry.index, a.last_index);
	store_audit_iter_close(it);
	store_close(s);

	/* verify (readonly, as duetctl log --verify) passes and reports the anchor */
	s = open_at(th_dir, true);
	struct store_audit_report r;
	cr_assert_eq(store_audit_verify(s, &r), 0, "verify: %s", r.detail);
	cr_assert_eq(r.dropped, a.dropped);
	cr_assert_eq(r.records_ok, total - a.dropped, "dropped records counted as verified");
	cr_assert_eq(r.max_bytes, RET_BOUND);
	char want[128];
	snprintf(want, sizeof(want),
		 "records 1..%llu were dropped by retention (audit_max_bytes = %u)",
		 (unsigned long long)a.dropped, RET_BOUND);
	cr_assert_not_null(strstr(r.detail, want), "detail: %s", r.detail);
	store_close(s);

	/* reopened, the store keeps the anchor and carries on from it */
	s = open_bounded(th_dir, false, false, RET_BOUND, 0);
	struct store_audit_anchor b;
	cr_assert_eq(store_audit_anchor(s, &b), 0);
	cr_assert_eq(b.seq, a.seq);
	cr_assert_eq(memcmp(b.hash, a.hash, 32), 0);
	cr_assert_eq(append_range(s, 401, 500, NULL), 0);
	cr_assert_eq(store_audit_anchor(s, &b), 0);
	cr_assert_gt(b.seq, a.seq);
	store_close(s);
	s = open_at(th_dir, true);
	cr_assert_eq(store_audit_verify(s, &r), 0, "verify after reopen: %s", r.detail);
	cr_assert_eq(r.dropped, b.dropped);
	cr_assert_eq(r.records_ok, audited_upto(500) - b.dropped);
	store_close(s);
	a = b;

	/* tampering with a record after the anchor still fails */
	copy_store();
	raw_patch(copy_dir, a.seq + 3, PATCH_FIX_CRC);
	expect_fault_at(copy_dir, STORE_AUDIT_HASH, a.seq + 3);
	th_rmtree(copy_dir);
	copy_store(); /* the first record after the anchor, rehashed: its link to the next breaks */
	raw_patch(copy_dir, a.seq + 1, PATCH_FIX_HASH_AND_CRC);
	expect_fault_at(copy_dir, STORE_AUDIT_LINK, a.seq + 2);
	th_rmtree(copy_dir);
	copy_store(); /* one more record removed at the front is not "retention" */
	raw_delete_seq(copy_dir, a.seq + 1);
	expect_fault_at(copy_dir, STORE_AUDIT_GAP, a.seq + 1);
	th_rmtree(copy_dir);
	copy_store(); /* neither is a chain whose anchor was removed */
	raw_delete(copy_dir, "meta", STORE_KEY_AUDIT_ANCHOR, strlen(STORE_KEY_AUDIT_ANCHOR));
	expect_fault_at(copy_dir, STORE_AUDIT_GAP, 1);
	th_rmtree(copy_dir);
	copy_store(); /* nor a damaged anchor */
	{
		struct raw w;
		raw_begin(&w, copy_dir, "meta");
		MDB_val k = {.mv_size = strlen(STORE_KEY_AUDIT_ANCHOR),
			     .mv_data = STORE_KEY_AUDIT_ANCHOR},
			v;
		cr_assert_eq(mdb_get(w.txn, w.dbi, &k, &v), 0);
		uint8_t buf[STORE_AUDIT_ANCHOR_BYTES];
		cr_assert_eq(v.mv_size, sizeof(buf));
		memcpy(buf, v.mv_data, sizeof(buf));
		buf[2] ^= 1;
		v.mv_data = buf;
		cr_assert_eq(mdb_put(w.txn, w.dbi, &k, &v, 0), 0);
		raw_end(&w);
	}
	expect_fault_at(copy_dir, STORE_AUDIT_ANCHOR, 1);
	/* and the original still verifies */
	s = open_at(th_dir, true);
	cr_assert_eq(store_audit_verify(s, &r), 0, "verify: %s", r.detail);
	store_close(s);
}

/* A chain written before retention (no anchor) is counted at its first
 * bounded append and brought under the bound in bounded steps. */
Test(audit, audit_retention_adopts_an_old_chain)
{
	uint64_t n = make_chain(300); /* default bound: nothing dropped */
	struct store *s = th_open(false);
	struct store_audit_anchor a;
	cr_assert_eq(store_audit_anchor(s, &a), 0);
	cr_assert_eq(a.dropped, 0);
	store_close(s);
	th_raw_del("meta", STORE_KEY_AUDIT_ANCHOR, strlen(STORE_KEY_AUDIT_ANCHOR));
	s = open_bounded(th_dir, false, false, RET_BOUND, 0);
	cr_assert_eq(append_range(s, 301, 310, NULL), 0);
	uint64_t first, count, bytes = chain_bytes(s, &first, &count);
	cr_assert_leq(bytes, RET_BOUND + 8 + STORE_AUDIT_FIXED_BYTES + PAYLOAD);
	cr_assert_eq(store_audit_anchor(s, &a), 0);
	cr_assert_eq(a.bytes, bytes);
	cr_assert_eq(first, a.seq + 1);
	cr_assert_eq(count + a.dropped, n + audited_upto(310) - audited_upto(300));
	store_close(s);
	expect_intact_dropped(th_dir, a.dropped);
}

/* The defect itself: a small map, many audited entries; without retention the
 * chain alone fills the map (DUET_EMAPFULL on every member at the same
 * entry). With it the store stays well below the cap. */
Test(audit, audit_retention_map_never_fills)
{
	const uint64_t max_map = 2u << 20, bound = 256u << 10;
	struct store *s = open_bounded(th_dir, true, false, bound, max_map);
	enum { LEN = 1500, BATCH = 30 };
	static uint8_t bufs[BATCH][LEN];
	struct raft_entry e[BATCH];
	uint64_t index = 0;
	for (int round = 0; round < 200; round++) { /* ~9 MiB audited into a 2 MiB map */
		for (int i = 0; i < BATCH; i++) {
			index++;
			memset(bufs[i], (int)(index & 0xff), LEN);
			e[i] = (struct raft_entry){.term = 1,
						   .index = index,
						   .wall_ms = index,
						   .author = 1,
						   .type = RAFT_ENTRY_STEP,
						   .len = LEN,
						   .data = bufs[i]};
		}
		int rc = store_audit_append_batch(s, e, BATCH, NULL);
		cr_assert_eq(rc, 0, "entry %llu: %s", (unsigned long long)index, duet_strerror(rc));
	}
	struct store_stats st;
	store_stats(s, &st);
	cr_assert_leq(st.map_used, max_map);
	struct store_audit_anchor a;
	cr_assert_eq(store_audit_anchor(s, &a), 0);
	cr_assert_leq(a.bytes, bound + 8 + STORE_AUDIT_FIXED_BYTES + LEN);
	cr_assert_gt(a.dropped, 0);
	store_close(s);
	expect_intact_dropped(th_dir, a.dropped);
}
