/* SPDX-License-Identifier: MIT */
/*
 * audit_tamper.c - test helper: changes one byte of one audit record in a
 * COPY of a member's store (never a live one: the daemon must be stopped
 * before the copy is taken), so `duetctl log --verify` can be shown to name
 * that record.
 *
 * usage: audit_tamper STORE_DIR SEQ
 * Flips the low bit of the record's entry-term field (byte 17 of the value,
 * storage.h "audit chain"), leaving size and structure intact; the record's
 * checksum then no longer matches. Exit 0 done, 1 failure.
 */
#include <inttypes.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLIP_OFFSET 17 /* u8 version, u64 seq, u64 index: the term's first byte */

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: audit_tamper STORE_DIR SEQ\n");
		return 1;
	}
	uint64_t seq = strtoull(argv[2], NULL, 10);
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	int rc = mdb_env_create(&env);
	if (!rc)
		rc = mdb_env_set_maxdbs(env, 16);
	if (!rc)
		rc = mdb_env_set_mapsize(env, 64u << 20);
	if (!rc)
		rc = mdb_env_open(env, argv[1], 0, 0600);
	if (!rc)
		rc = mdb_txn_begin(env, NULL, 0, &txn);
	if (!rc)
		rc = mdb_dbi_open(txn, "audit", 0, &dbi);
	if (rc) {
		fprintf(stderr, "audit_tamper: %s: %s\n", argv[1], mdb_strerror(rc));
		return 1;
	}
	uint8_t keyb[8];
	for (int i = 0; i < 8; i++)
		keyb[i] = (uint8_t)(seq >> (56 - 8 * i));
	MDB_val k = {sizeof keyb, keyb}, v;
	rc = mdb_get(txn, dbi, &k, &v);
	if (rc || v.mv_size <= FLIP_OFFSET) {
		fprintf(stderr, "audit_tamper: record %" PRIu64 ": %s\n", seq,
			rc ? mdb_strerror(rc) : "too short");
		mdb_txn_abort(txn);
		return 1;
	}
	uint8_t *copy = malloc(v.mv_size);
	memcpy(copy, v.mv_data, v.mv_size);
	copy[FLIP_OFFSET] ^= 1;
	MDB_val nv = {v.mv_size, copy};
	rc = mdb_put(txn, dbi, &k, &nv, 0);
	if (!rc)
		rc = mdb_txn_commit(txn);
	else
		mdb_txn_abort(txn);
	free(copy);
	mdb_env_close(env);
	if (rc) {
		fprintf(stderr, "audit_tamper: write: %s\n", mdb_strerror(rc));
		return 1;
	}
	printf("flipped a bit in audit record %" PRIu64 "\n", seq);
	return 0;
}
