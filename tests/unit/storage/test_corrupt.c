/* SPDX-License-Identifier: MIT */
/*
 * test_corrupt.c - damage planted with raw LMDB transactions, the way a bad
 * disk or a stray write would leave it, must be refused: at open (entry,
 * hard state, snapshot, identity, a hole in the log, an entry under the
 * wrong key) with DUET_ECORRUPT and a sentence naming the record; and at
 * read time when the damage appears while the store is open.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "store_internal.h"

TestSuite(corrupt, .init = th_setup, .fini = th_teardown);

/* Reopens through store_open and expects DUET_ECORRUPT naming `what`. */
static void expect_refused(const char *what)
{
	struct store_options o = {.path = th_dir, .cluster_id = TH_CLUSTER, .node_id = TH_NODE};
	struct store *s = NULL;
	char err[512] = "";
	int rc = store_open(&o, &s, err, sizeof(err));
	cr_assert_eq(rc, DUET_ECORRUPT, "got %s: %s", duet_strerror(rc), err);
	cr_assert_null(s);
	cr_assert_not_null(strstr(err, what), "message does not name %s: %s", what, err);
	cr_assert_not_null(strstr(err, "duetctl rejoin"), "%s", err);
	/* read-only opens (duetctl) refuse it as well */
	o.readonly = true;
	cr_assert_eq(store_open(&o, &s, NULL, 0), DUET_ECORRUPT);
}

static void make_store(void)
{
	struct store *s = th_open(true);
	cr_assert_eq(store_set_hardstate(s, 3, 1), 0);
	cr_assert_eq(th_append(s, 1, 10, 3, 200), 0);
	struct raft_snapshot_meta m = {.index = 4, .term = 3};
	th_membership(&m.conf);
	cr_assert_eq(store_snapshot_put(s, &m, "snapshot-bytes", 14), 0);
	store_close(s);
}

Test(corrupt, flipped_byte_in_entry_payload)
{
	make_store();
	uint8_t key[8];
	store_index_key(5, key);
	th_raw_flip("log", key, 8, RAFT_ENTRY_HEADER_BYTES + 17);
	expect_refused("log entry at index 5");
}

Test(corrupt, flipped_byte_in_entry_header_and_crc)
{
	make_store();
	uint8_t key[8];
	store_index_key(7, key);
	th_raw_flip("log", key, 8, 0); /* the version byte: damage, not a new version */
	expect_refused("log entry at index 7");
	th_raw_flip("log", key, 8, 0);
	th_raw_flip("log", key, 8, -1); /* the crc itself */
	expect_refused("log entry at index 7");
}

Test(corrupt, flipped_byte_in_hardstate)
{
	make_store();
	th_raw_flip("meta", STORE_KEY_HARDSTATE, strlen(STORE_KEY_HARDSTATE), 3);
	expect_refused("meta/hardstate");
}

Test(corrupt, flipped_byte_in_snapshot)
{
	make_store();
	th_raw_flip("snapshot", STORE_KEY_SNAPSHOT, strlen(STORE_KEY_SNAPSHOT), -8);
	expect_refused("snapshot");
}

Test(corrupt, flipped_byte_in_identity)
{
	make_store();
	th_raw_flip("meta", STORE_KEY_IDENTITY, strlen(STORE_KEY_IDENTITY), 6);
	expect_refused("meta/identity");
}

Test(corrupt, missing_hardstate)
{
	make_store();
	th_raw_del("meta", STORE_KEY_HARDSTATE, strlen(STORE_KEY_HARDSTATE));
	expect_refused("meta/hardstate");
}

Test(corrupt, hole_in_the_log)
{
	make_store();
	uint8_t key[8];
	store_index_key(6, key);
	th_raw_del("log", key, 8);
	expect_refused("hole between index 5 and 7");
}

Test(corrupt, entry_under_the_wrong_key)
{
	make_store();
	/* a valid entry 11, stored under key 11 but claiming index 12 */
	uint8_t buf[64], enc[128];
	struct raft_entry e;
	th_entry(&e, 12, 3, 16, buf);
	long n = raft_entry_encode(&e, enc, sizeof(enc));
	cr_assert_gt(n, 0);
	uint8_t key[8];
	store_index_key(11, key);
	th_raw_put("log", key, 8, enc, (size_t)n);
	expect_refused("log entry at index 11");
}

Test(corrupt, damage_while_open_is_caught_on_read)
{
	struct store *s = th_open(true);
	cr_assert_eq(th_append(s, 1, 10, 3, 200), 0);
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) { /* another process, so LMDB's one-env-per-process rule holds */
		uint8_t key[8];
		store_index_key(5, key);
		_exit(th_raw_flip_rc("log", key, 8, RAFT_ENTRY_HEADER_BYTES + 3) ? 1 : 0);
	}
	cr_assert_gt(pid, 0);
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	struct raft_entry *e;
	size_t n;
	char err[512] = "";
	cr_assert_eq(store_log_read(s, 1, 10, &e, &n, err, sizeof(err)), DUET_ECORRUPT);
	cr_assert_null(e);
	cr_assert_not_null(strstr(err, "log entry at index 5"), "%s", err);
	cr_assert_eq(store_log_read(s, 1, 4, &e, &n, NULL, 0), 0); /* the rest still reads */
	store_entries_free(e, n);
	struct store_loaded l;
	cr_assert_eq(store_load(s, &l, err, sizeof(err)), DUET_ECORRUPT);
	cr_assert_not_null(strstr(err, "log entry at index 5"), "%s", err);
	store_close(s);
}
