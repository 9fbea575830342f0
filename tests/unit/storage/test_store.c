/* SPDX-License-Identifier: MIT */
/*
 * test_store.c - opening a store: create, reopen, identity (foreign cluster
 * or node refused), missing store, the exclusive lock, read-only opens,
 * unknown format version, and the meta records (hard state, incarnation).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "duet/wire.h"
#include "helpers.h"
#include "store_internal.h"

TestSuite(open, .init = th_setup, .fini = th_teardown);

Test(open, create_then_reopen_keeps_identity_and_state)
{
	struct store *s = th_open(true);
	struct store_meta m;
	cr_assert_eq(store_meta_get(s, &m), 0);
	cr_assert_eq(m.format_version, STORE_FORMAT_VERSION);
	cr_assert_eq(m.cluster_id, TH_CLUSTER);
	cr_assert_eq(m.node_id, TH_NODE);
	cr_assert_eq(m.term, 0);
	cr_assert_eq(m.vote, 0);
	cr_assert_eq(m.incarnation, 0);
	cr_assert_eq(store_set_hardstate(s, 4, 2), 0);
	store_close(s);

	/* create on an existing store opens it and resets nothing */
	s = th_open(true);
	cr_assert_eq(store_meta_get(s, &m), 0);
	cr_assert_eq(m.term, 4);
	cr_assert_eq(m.vote, 2);
	store_close(s);

	/* zero ids accept what is stored */
	struct store_options o = {.path = th_dir};
	char err[512];
	cr_assert_eq(store_open(&o, &s, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_meta_get(s, &m), 0);
	cr_assert_eq(m.cluster_id, TH_CLUSTER);
	store_close(s);
}

Test(open, store_id_is_random_durable_and_given_to_old_stores)
{
	struct store *s = th_open(true);
	struct store_meta m;
	cr_assert_eq(store_meta_get(s, &m), 0);
	uint64_t first = m.store_id;
	cr_assert_neq(first, 0, "a new store has an id");
	store_close(s);
	s = th_open(false);
	cr_assert_eq(store_meta_get(s, &m), 0);
	cr_assert_eq(m.store_id, first, "the id survives a reopen");
	struct store_loaded ld;
	char err[512];
	cr_assert_eq(store_load(s, &ld, err, sizeof err), 0, "%s", err);
	cr_assert_eq(ld.store_id, first, "store_load hands it to the raft core");
	store_loaded_free(&ld);
	store_close(s);

	/* the same store made again is another store */
	th_rmtree(th_dir);
	s = th_open(true);
	cr_assert_eq(store_meta_get(s, &m), 0);
	cr_assert_neq(m.store_id, 0);
	cr_assert_neq(m.store_id, first, "a wiped and re-made store gets a new id");
	store_close(s);

	/* a store made before ids existed gets one at its first writable open */
	th_raw_del("meta", STORE_KEY_STORE_ID, strlen(STORE_KEY_STORE_ID));
	s = th_open(false);
	cr_assert_eq(store_meta_get(s, &m), 0);
	cr_assert_neq(m.store_id, 0);
	uint64_t given = m.store_id;
	store_close(s);
	s = th_open(false);
	cr_assert_eq(store_meta_get(s, &m), 0);
	cr_assert_eq(m.store_id, given, "given once, durably");
	store_close(s);
}

Test(open, creates_missing_directory)
{
	char sub[300];
	snprintf(sub, sizeof(sub), "%s/member", th_dir);
	struct store_options o = {.path = sub, .cluster_id = 5, .node_id = 3, .create = true};
	struct store *s;
	char err[512];
	cr_assert_eq(store_open(&o, &s, err, sizeof(err)), 0, "%s", err);
	store_close(s);
	cr_assert_eq(access(sub, F_OK), 0);
}

static void expect_foreign(uint64_t cluster, uint32_t node, const char *says)
{
	store_close(th_open(true));
	struct store_options o = {.path = th_dir, .cluster_id = cluster, .node_id = node};
	struct store *s = NULL;
	char err[512];
	int rc = store_open(&o, &s, err, sizeof(err));
	cr_assert_eq(rc, DUET_EFOREIGN, "got %s", duet_strerror(rc));
	cr_assert_null(s);
	cr_assert_not_null(strstr(err, th_dir), "%s", err);
	cr_assert_not_null(strstr(err, "belongs to cluster 0xdeadbeefcafe0001 node 1"), "%s", err);
	cr_assert_not_null(strstr(err, says), "%s", err);
	cr_assert_not_null(strstr(err, "duetctl rejoin"), "%s", err);
	/* create never adopts nor overwrites a foreign store */
	o.create = true;
	cr_assert_eq(store_open(&o, &s, err, sizeof(err)), DUET_EFOREIGN);
	o = (struct store_options){.path = th_dir, .cluster_id = TH_CLUSTER, .node_id = TH_NODE};
	cr_assert_eq(store_open(&o, &s, err, sizeof(err)), 0, "%s", err);
	store_close(s);
}

Test(open, foreign_cluster_refused_with_message)
{
	expect_foreign(0x1234, TH_NODE, "config says cluster 0x0000000000001234 node 1");
}

Test(open, foreign_node_refused_with_message)
{
	expect_foreign(TH_CLUSTER, 2, "config says cluster 0xdeadbeefcafe0001 node 2");
}

Test(open, missing_store_is_enoent)
{
	char sub[300];
	snprintf(sub, sizeof(sub), "%s/nowhere", th_dir);
	struct store_options o = {.path = sub, .cluster_id = TH_CLUSTER, .node_id = TH_NODE};
	struct store *s = NULL;
	char err[512];
	cr_assert_eq(store_open(&o, &s, err, sizeof(err)), DUET_ENOENT);
	cr_assert_not_null(strstr(err, sub), "%s", err);
	cr_assert_not_null(strstr(err, "data directory"), "%s", err);

	/* an existing empty directory is no store either, and stays untouched */
	o.path = th_dir;
	cr_assert_eq(store_open(&o, &s, err, sizeof(err)), DUET_ENOENT);
	cr_assert_not_null(strstr(err, "no store"), "%s", err);
	char f[300];
	snprintf(f, sizeof(f), "%s/data.mdb", th_dir);
	cr_assert_neq(access(f, F_OK), 0);
	o.readonly = true;
	cr_assert_eq(store_open(&o, &s, err, sizeof(err)), DUET_ENOENT);
}

Test(open, create_needs_ids)
{
	struct store_options o = {.path = th_dir, .cluster_id = 0, .node_id = 1, .create = true};
	struct store *s;
	char err[512];
	cr_assert_eq(store_open(&o, &s, err, sizeof(err)), DUET_EINVAL);
	o.cluster_id = 1;
	o.node_id = 0;
	cr_assert_eq(store_open(&o, &s, err, sizeof(err)), DUET_EINVAL);
	cr_assert_not_null(strstr(err, "cluster id and node id"), "%s", err);
}

Test(open, second_opener_gets_elocked)
{
	struct store *a = th_open(true);
	struct store_options o = {.path = th_dir, .cluster_id = TH_CLUSTER, .node_id = TH_NODE};
	struct store *b = NULL;
	char err[512];
	cr_assert_eq(store_open(&o, &b, err, sizeof(err)), DUET_ELOCKED);
	cr_assert_null(b);
	cr_assert_not_null(strstr(err, "another duetd holds"), "%s", err);
	cr_assert_not_null(strstr(err, "duet.lock"), "%s", err);
	store_close(a);
	cr_assert_eq(store_open(&o, &b, err, sizeof(err)), 0, "%s", err);
	store_close(b);
}

/* Child of readonly_open_ignores_the_lock: reads through a read-only open
 * while the parent holds the store. */
static int readonly_child(void)
{
	struct store_options o = {.path = th_dir, .readonly = true};
	struct store *s;
	struct store_meta m;
	if (store_open(&o, &s, NULL, 0) != 0)
		return 1;
	int bad = store_meta_get(s, &m) != 0 || m.term != 9 || m.vote != 3;
	uint64_t first, last;
	bad |= store_log_bounds(s, &first, &last) != 0 || first != 1 || last != 4;
	bad |= store_set_hardstate(s, 10, 1) != -EROFS;
	bad |= th_append(s, 5, 1, 1, 8) != -EROFS;
	store_close(s);
	return bad ? 2 : 0;
}

Test(open, readonly_open_ignores_the_lock_and_refuses_writes)
{
	struct store *s = th_open(true);
	cr_assert_eq(store_set_hardstate(s, 9, 3), 0);
	cr_assert_eq(th_append(s, 1, 4, 1, 32), 0);
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0)
		_exit(readonly_child()); /* its own LMDB env; no Criterion asserts in it */
	cr_assert_gt(pid, 0);
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	cr_assert_eq(WEXITSTATUS(status), 0, "read-only child failed with %d", WEXITSTATUS(status));
	store_close(s);
}

Test(open, readonly_refuses_create)
{
	struct store_options o = {.path = th_dir, .readonly = true, .create = true};
	struct store *s;
	cr_assert_eq(store_open(&o, &s, NULL, 0), DUET_EINVAL);
}

Test(open, unknown_format_version_refused)
{
	store_close(th_open(true));
	uint8_t buf[STORE_IDENTITY_BYTES];
	struct wire_writer w;
	wire_writer_init(&w, buf, sizeof(buf));
	wire_put_u8(&w, STORE_RECORD_VERSION);
	wire_put_u32(&w, 99);
	wire_put_u64(&w, TH_CLUSTER);
	wire_put_u32(&w, TH_NODE);
	wire_put_u32(&w, duet_crc32c(0, buf, w.used));
	cr_assert_eq(w.err, 0);
	th_raw_put("meta", STORE_KEY_IDENTITY, strlen(STORE_KEY_IDENTITY), buf, sizeof(buf));

	struct store *s = NULL;
	struct store_options o = {.path = th_dir, .cluster_id = TH_CLUSTER, .node_id = TH_NODE};
	char err[512];
	cr_assert_eq(store_open(&o, &s, err, sizeof(err)), DUET_EVERSION);
	cr_assert_not_null(strstr(err, "format version 99"), "%s", err);

	/* an unknown record version byte (with a valid crc) too */
	buf[0] = 7;
	wire_writer_init(&w, buf + sizeof(buf) - 4, 4);
	wire_put_u32(&w, duet_crc32c(0, buf, sizeof(buf) - 4));
	th_raw_put("meta", STORE_KEY_IDENTITY, strlen(STORE_KEY_IDENTITY), buf, sizeof(buf));
	cr_assert_eq(store_open(&o, &s, err, sizeof(err)), DUET_EVERSION);
	cr_assert_not_null(strstr(err, "meta/identity"), "%s", err);
}

Test(open, hardstate_and_incarnation_round_trip)
{
	struct store *s = th_open(true);
	cr_assert_eq(store_set_hardstate(s, 7, 2), 0);
	cr_assert_eq(store_set_incarnation(s, 3), 0);
	struct store_meta m;
	cr_assert_eq(store_meta_get(s, &m), 0);
	cr_assert_eq(m.term, 7);
	cr_assert_eq(m.vote, 2);
	cr_assert_eq(m.incarnation, 3);
	cr_assert_eq(store_set_hardstate(s, UINT64_MAX, 0), 0);
	store_close(s);
	s = th_open(false);
	cr_assert_eq(store_meta_get(s, &m), 0);
	cr_assert_eq(m.term, UINT64_MAX);
	cr_assert_eq(m.vote, 0);
	cr_assert_eq(m.incarnation, 3);
	store_close(s);
}

Test(open, garbage_data_file_is_corrupt)
{
	char f[300];
	snprintf(f, sizeof(f), "%s/data.mdb", th_dir);
	FILE *fp = fopen(f, "w");
	cr_assert_not_null(fp);
	for (int i = 0; i < 65536; i++)
		fputc(0x5a, fp);
	fclose(fp);
	struct store_options o = {.path = th_dir, .cluster_id = TH_CLUSTER, .node_id = TH_NODE};
	struct store *s;
	char err[512];
	int rc = store_open(&o, &s, err, sizeof(err));
	cr_assert_eq(rc, DUET_ECORRUPT, "got %s: %s", duet_strerror(rc), err);
	cr_assert_not_null(strstr(err, "duetctl rejoin"), "%s", err);
}
