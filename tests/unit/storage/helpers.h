/* SPDX-License-Identifier: MIT */
/*
 * helpers.h - shared fixture for the storage tests: a fresh temporary
 * directory per test (removed by the suite's fini hook, which Criterion runs
 * even when an assertion failed), deterministic entries whose content can be
 * checked from their index and term, and raw LMDB access for planting
 * damage the way a bad disk would.
 */
#ifndef DUET_TEST_STORAGE_HELPERS_H
#define DUET_TEST_STORAGE_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "duet/storage.h"

#define TH_CLUSTER     0xdeadbeefcafe0001ull
#define TH_NODE        1
#define TH_MAX_PAYLOAD 4096

extern char th_dir[256];

/* Criterion .init / .fini: create and remove th_dir. */
void th_setup(void);
void th_teardown(void);

/* Removes a directory tree (nftw, depth first). */
void th_rmtree(const char *path);

/* Opens th_dir with TH_CLUSTER/TH_NODE; asserts success. */
struct store *th_open(bool create);
/* Same with explicit options; returns the code, errbuf filled. */
int th_open_opts(struct store_options *o, struct store **s, char *errbuf, size_t errlen);

/* An entry with content derived from (index, term); data points into buf,
 * which must hold `len` bytes. */
void th_entry(struct raft_entry *e, uint64_t index, uint64_t term, uint32_t len, uint8_t *buf);
/* True if e is exactly what th_entry(index, term, len) made. */
bool th_entry_ok(const struct raft_entry *e, uint64_t index, uint64_t term, uint32_t len);

/* Appends [first, first+n) with term `term` and payload `len` bytes.
 * No Criterion asserts: usable in forked children. */
int th_append(struct store *s, uint64_t first, size_t n, uint64_t term, uint32_t len);

/* A three-member configuration. */
void th_membership(struct duet_membership *c);
bool th_membership_eq(const struct duet_membership *a, const struct duet_membership *b);

/* Raw LMDB on th_dir (store closed): flips one byte of the value at `key` in
 * database `db`, `offset` bytes from its start (negative: from its end). */
void th_raw_flip(const char *db, const void *key, size_t klen, long offset);
/* The same without Criterion asserts, for forked children (an assert there
 * would talk on the parent's Criterion socket). Returns an LMDB code. */
int th_raw_flip_rc(const char *db, const void *key, size_t klen, long offset);
/* Raw LMDB: deletes a key; replaces a value. */
void th_raw_del(const char *db, const void *key, size_t klen);
void th_raw_put(const char *db, const void *key, size_t klen, const void *val, size_t vlen);

#endif
