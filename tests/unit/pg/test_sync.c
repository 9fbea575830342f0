/* SPDX-License-Identifier: MIT */
/*
 * test_sync.c - the SYNC(X, on) proof and the synchronous_commit check of
 * actions/pg_sync.c (DESIGN 4.6) as a table of probe observations. The
 * functions are pure, so no server is needed here; test_live.c feeds them
 * real probes of a real primary with a real synchronous standby.
 */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "duet/pg.h"

/* A probe of a primary: standby1 with state/sync_state, its flush
 * position, the master's LSN, synchronous_commit on at server level. */
static struct duet_pg_state probe(uint64_t seq, const char *state, const char *sync_state,
				  uint64_t master_lsn, uint64_t flush_lsn)
{
	struct duet_pg_state st;
	memset(&st, 0, sizeof st);
	st.probe_seq = seq;
	snprintf(st.lsn, sizeof st.lsn, "%X/%X", (unsigned)(master_lsn >> 32),
		 (unsigned)master_lsn);
	snprintf(st.sync_names, sizeof st.sync_names, "\"standby1\"");
	st.n_repl = 1;
	snprintf(st.repl[0].application_name, sizeof st.repl[0].application_name, "standby1");
	snprintf(st.repl[0].state, sizeof st.repl[0].state, "%s", state);
	snprintf(st.repl[0].sync_state, sizeof st.repl[0].sync_state, "%s", sync_state);
	st.repl[0].flush_lsn = flush_lsn;
	st.repl[0].flush_lag_bytes = flush_lsn ? (int64_t)(master_lsn - flush_lsn) : -1;
	snprintf(st.sc_reset_val, sizeof st.sc_reset_val, "on");
	snprintf(st.sc_source, sizeof st.sc_source, "default");
	snprintf(st.sc_boot_val, sizeof st.sc_boot_val, "on");
	return st;
}

struct step {
	uint64_t seq;
	const char *state, *sync_state;
	uint64_t master, flush;
	enum duet_pg_sync_verdict want;
};

static void run(const char *name, const struct step *steps, size_t n)
{
	struct duet_pg_sync_proof proof;
	memset(&proof, 0, sizeof proof);
	for (size_t i = 0; i < n; i++) {
		struct duet_pg_state st = probe(steps[i].seq, steps[i].state, steps[i].sync_state,
						steps[i].master, steps[i].flush);
		char why[320] = "";
		enum duet_pg_sync_verdict v =
		    duet_pg_sync_judge(&proof, &st, "standby1", why, sizeof why);
		cr_assert_eq(v, steps[i].want,
			     "%s, step %zu (probe %llu): verdict %d, want %d (%s)", name, i,
			     (unsigned long long)steps[i].seq, v, steps[i].want, why);
		cr_assert(why[0], "%s, step %zu: no sentence", name, i);
	}
}

#define RUN(name, ...)                                                                             \
	do {                                                                                       \
		const struct step s_[] = {__VA_ARGS__};                                            \
		run(name, s_, sizeof s_ / sizeof s_[0]);                                           \
	} while (0)

#define NOT  DUET_PG_SYNC_NOT_SYNC
#define WAIT DUET_PG_SYNC_WAIT
#define OK   DUET_PG_SYNC_PROVEN

/* Defect 13.5: the probe that first sees X sync is no proof, however far X
 * has flushed in it, and neither is the same probe seen again (ctl_sync
 * runs on every event, with the last probe); the target is the master LSN
 * of a probe that started after it. */
Test(pg_sync, sync_on_needs_later_probe)
{
	RUN("caught up in the first probe, then seen again",
	    {1, "streaming", "sync", 1000, 1000, WAIT}, {1, "streaming", "sync", 1000, 1000, WAIT},
	    {1, "streaming", "sync", 1000, 1000, WAIT}, {2, "streaming", "sync", 1000, 1000, OK});
	RUN("the target is the later probe's LSN, not the first one's",
	    {1, "streaming", "sync", 1000, 1000, WAIT}, {2, "streaming", "sync", 5000, 1000, WAIT},
	    {3, "streaming", "sync", 6000, 4999, WAIT}, {3, "streaming", "sync", 6000, 4999, WAIT},
	    {4, "streaming", "sync", 7000, 5000, OK});
	RUN("async in between starts the proof again", {1, "streaming", "sync", 1000, 1000, WAIT},
	    {2, "streaming", "async", 2000, 2000, NOT}, {3, "streaming", "sync", 3000, 3000, WAIT},
	    {4, "streaming", "sync", 3000, 3000, OK});
	RUN("not streaming (catchup) resets too", {1, "streaming", "sync", 1000, 1000, WAIT},
	    {2, "catchup", "sync", 2000, 2000, NOT}, {3, "streaming", "sync", 2000, 2000, WAIT},
	    {4, "streaming", "sync", 2000, 2000, OK});
	RUN("no flush position yet is not sync", {1, "streaming", "sync", 1000, 0, NOT},
	    {2, "streaming", "sync", 1000, 1000, WAIT}, {3, "streaming", "sync", 1000, 1000, OK});
	RUN("potential and quorum are not sync", {1, "streaming", "potential", 1000, 1000, NOT},
	    {2, "streaming", "quorum", 1000, 1000, NOT},
	    {3, "streaming", "sync", 1000, 1000, WAIT});
}

Test(pg_sync, sync_on_needs_later_probe_other_rows_and_lsn)
{
	struct duet_pg_sync_proof proof;
	memset(&proof, 0, sizeof proof);
	char why[320];
	struct duet_pg_state st = probe(1, "streaming", "sync", 100, 100);
	snprintf(st.repl[0].application_name, sizeof st.repl[0].application_name, "other");
	cr_assert_eq(duet_pg_sync_judge(&proof, &st, "standby1", why, sizeof why), NOT);
	cr_assert(strstr(why, "not in pg_stat_replication"), "%s", why);

	/* an unreadable master LSN never becomes a target */
	memset(&proof, 0, sizeof proof);
	st = probe(1, "streaming", "sync", 100, 100);
	duet_pg_sync_judge(&proof, &st, "standby1", why, sizeof why);
	st = probe(2, "streaming", "sync", 100, 100);
	st.lsn[0] = 0;
	cr_assert_eq(duet_pg_sync_judge(&proof, &st, "standby1", why, sizeof why), WAIT);
	st = probe(3, "streaming", "sync", 100, 100);
	cr_assert_eq(duet_pg_sync_judge(&proof, &st, "standby1", why, sizeof why), OK, "%s", why);

	cr_assert_eq(duet_pg_parse_lsn("16/B374D848"), 0x16B374D848ull);
	cr_assert_eq(duet_pg_parse_lsn("0/0"), 0);
	cr_assert_eq(duet_pg_parse_lsn(""), 0);
	cr_assert_eq(duet_pg_parse_lsn("1/2x"), 0);
	cr_assert_eq(duet_pg_parse_lsn(NULL), 0);
}

static struct duet_pg_state with_override(const char *db, const char *role, const char *value)
{
	struct duet_pg_state st = probe(5, "streaming", "sync", 100, 100);
	struct duet_pg_sc_override *o = &st.sc_overrides[st.n_sc_overrides++];
	snprintf(o->database, sizeof o->database, "%s", db);
	snprintf(o->role, sizeof o->role, "%s", role);
	snprintf(o->value, sizeof o->value, "%s", value);
	return st;
}

static void expect_refused(const struct duet_pg_state *st, const char *needle)
{
	char why[320] = "";
	cr_assert_eq(duet_pg_sync_commit_check(st, "node-b", why, sizeof why), DUET_EINVAL,
		     "accepted: %s", why);
	cr_assert(strstr(why, needle), "'%s' does not say '%s'", why, needle);
	/* and the proof refuses (and restarts) even with X sync and caught up */
	struct duet_pg_sync_proof proof = {.first_seq = 1, .target_seq = 2, .target_lsn = 50};
	cr_assert_eq(duet_pg_sync_judge(&proof, st, "standby1", why, sizeof why),
		     DUET_PG_SYNC_REFUSED);
	cr_assert_eq(proof.first_seq, 0);
}

/* Defect 13.6 as a table; test_live.c has it on a real server. */
Test(pg_sync, sync_on_refused_synchronous_commit_table)
{
	char why[320];
	struct duet_pg_state st = probe(5, "streaming", "sync", 100, 100);
	cr_assert_eq(duet_pg_sync_commit_check(&st, "node-b", why, sizeof why), 0, "%s", why);
	const char *waits[] = {"on", "remote_write", "remote_apply", "ON", "true", "1"};
	for (size_t i = 0; i < sizeof waits / sizeof waits[0]; i++) {
		st = with_override("app", "", waits[i]);
		cr_assert_eq(duet_pg_sync_commit_check(&st, "node-b", why, sizeof why), 0, "%s: %s",
			     waits[i], why);
	}

	st = probe(5, "streaming", "sync", 100, 100);
	snprintf(st.sc_reset_val, sizeof st.sc_reset_val, "off");
	snprintf(st.sc_source, sizeof st.sc_source, "configuration file");
	expect_refused(&st, "synchronous_commit = off at server level: commits would not wait for "
			    "node-b; set it to on, remote_write or remote_apply");

	st = with_override("app", "", "local");
	expect_refused(&st, "synchronous_commit = local for database app: commits would not wait");
	st = with_override("", "writer", "off");
	expect_refused(&st, "for role writer:");
	st = with_override("app", "writer", "0");
	expect_refused(&st, "for role writer in database app");
	st = with_override("", "", "local");
	expect_refused(&st, "for every role");
	st = with_override("app", "", "bogus");
	expect_refused(&st, "not a value duet knows");

	/* the probe's own database sets it: the server level is the files' */
	st = probe(5, "streaming", "sync", 100, 100);
	snprintf(st.sc_source, sizeof st.sc_source, "database");
	snprintf(st.sc_file, sizeof st.sc_file, "local");
	expect_refused(&st, "= local at server level (configuration files)");
	st.sc_file[0] = 0;
	st.sc_file_unreadable = true;
	expect_refused(&st, "grant pg_read_all_settings");
	st.sc_file_unreadable = false;
	cr_assert_eq(duet_pg_sync_commit_check(&st, "node-b", why, sizeof why), 0, "%s", why);
	snprintf(st.sc_boot_val, sizeof st.sc_boot_val, "off");
	expect_refused(&st, "= off at server level");

	st = probe(5, "streaming", "sync", 100, 100);
	st.sc_source[0] = 0;
	expect_refused(&st, "could not be read");
}
