/* SPDX-License-Identifier: MIT */
/*
 * pg_sync.c - the SYNC(X, on) proof and the synchronous_commit check
 * (DESIGN.md 4.6), pure: probe observations in, a verdict and a sentence
 * out. No I/O, no clock, so the table of cases is unit-tested without a
 * daemon (tests/unit/pg/test_sync.c) and the live tests feed it real
 * probes.
 *
 * Why a later probe: the probe that first shows X "sync" may have read the
 * master's LSN before X became synchronous (in one statement the order of
 * the reads is not defined). A master LSN read by a probe that started
 * after that probe ended is past every commit acknowledged before X showed
 * "sync"; X's flush position reaching it proves X has them all.
 *
 * What it does not prove: pg_stat_replication computes "sync" from the
 * walsender's own reload of synchronous_standby_names, while backends
 * start to wait once the checkpointer has reloaded it
 * (WalSndCtl->sync_standbys_defined, not visible from SQL). A checkpointer
 * that reloads later than a whole probe round trip (busy in a checkpoint's
 * fsync phase) leaves commits after the target that did not wait. The
 * window is that reload delay minus a probe; reported, not closed.
 *
 * Why synchronous_commit at every level: pg_stat_replication says "sync"
 * whatever synchronous_commit is; with local or off a commit returns
 * without waiting for X, so X is not provably complete. The probe's own
 * session is one session: the server-level value and every
 * pg_db_role_setting override are checked. A client's own SET (session or
 * transaction) cannot be seen from here (README, known limits).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "duet/pg.h"

uint64_t duet_pg_parse_lsn(const char *text)
{
	unsigned long long hi = 0, lo = 0;
	char tail;
	if (!text || sscanf(text, "%llX/%llX%c", &hi, &lo, &tail) != 2 || hi > 0xffffffffull ||
	    lo > 0xffffffffull)
		return 0;
	return ((uint64_t)hi << 32) | (uint64_t)lo;
}

/* 1: commits wait for the standby; 0: they do not; -1: not a value of
 * synchronous_commit. */
static int value_waits(const char *v)
{
	static const char *const waits[] = {"on", "true",         "yes",
					    "1",  "remote_write", "remote_apply"};
	static const char *const no_wait[] = {"off", "false", "no", "0", "local"};
	for (size_t i = 0; i < sizeof waits / sizeof waits[0]; i++)
		if (strcasecmp(v, waits[i]) == 0)
			return 1;
	for (size_t i = 0; i < sizeof no_wait / sizeof no_wait[0]; i++)
		if (strcasecmp(v, no_wait[i]) == 0)
			return 0;
	return -1;
}

/* The probe session's value came from somewhere other than the server's
 * own configuration: it hides the server-level value. */
static bool source_masks_server(const char *source)
{
	static const char *const server[] = {
	    "default", "environment variable", "configuration file", "command line", "global",
	    "override"};
	for (size_t i = 0; i < sizeof server / sizeof server[0]; i++)
		if (strcmp(source, server[i]) == 0)
			return false;
	return true;
}

static int refuse(char *why, size_t whylen, const char *value, const char *level,
		  const char *standby)
{
	if (value_waits(value) < 0)
		snprintf(why, whylen,
			 "synchronous_commit = '%s' %s is not a value duet knows: commits may not "
			 "wait for %s; set it to on, remote_write or remote_apply",
			 value, level, standby);
	else
		snprintf(why, whylen,
			 "synchronous_commit = %s %s: commits would not wait for %s; set it to on, "
			 "remote_write or remote_apply",
			 value, level, standby);
	return DUET_EINVAL;
}

int duet_pg_sync_commit_check(const struct duet_pg_state *st, const char *standby, char *why,
			      size_t whylen)
{
	char level[200];
	const char *server = st->sc_reset_val;
	const char *server_level = "at server level";
	if (!st->sc_source[0] || !server[0]) {
		snprintf(why, whylen,
			 "synchronous_commit could not be read (pg_settings gave no row): commits "
			 "may not wait for %s",
			 standby);
		return DUET_EINVAL;
	}
	if (source_masks_server(st->sc_source)) {
		/* the probe's own database/role/conninfo set it: the server value
		 * is the configuration files' (ALTER SYSTEM included), else the
		 * built-in default */
		if (st->sc_file[0]) {
			server = st->sc_file;
			server_level = "at server level (configuration files)";
		} else if (st->sc_file_unreadable) {
			snprintf(
			    why, whylen,
			    "the server-level synchronous_commit is hidden from duet's session "
			    "(its value comes from '%s') and pg_file_settings is not readable: "
			    "grant pg_read_all_settings to duet's role",
			    st->sc_source);
			return DUET_EINVAL;
		} else {
			server = st->sc_boot_val;
		}
	}
	if (value_waits(server) != 1)
		return refuse(why, whylen, server, server_level, standby);
	for (uint32_t i = 0; i < st->n_sc_overrides; i++) {
		const struct duet_pg_sc_override *o = &st->sc_overrides[i];
		if (value_waits(o->value) == 1)
			continue;
		if (o->database[0] && o->role[0])
			snprintf(level, sizeof level, "for role %s in database %s", o->role,
				 o->database);
		else if (o->database[0])
			snprintf(level, sizeof level, "for database %s", o->database);
		else if (o->role[0])
			snprintf(level, sizeof level, "for role %s", o->role);
		else
			snprintf(level, sizeof level, "for every role (ALTER ROLE ALL)");
		return refuse(why, whylen, o->value, level, standby);
	}
	/* the probe puts overrides that do not wait first: a truncated list
	 * only left out ones that wait */
	snprintf(why, whylen, "synchronous_commit = %s: commits wait for %s", server, standby);
	return 0;
}

enum duet_pg_sync_verdict duet_pg_sync_judge(struct duet_pg_sync_proof *proof,
					     const struct duet_pg_state *st, const char *standby,
					     char *why, size_t whylen)
{
	const struct duet_pg_repl *r = NULL;
	for (uint32_t i = 0; i < st->n_repl; i++)
		if (strcmp(st->repl[i].application_name, standby) == 0)
			r = &st->repl[i];
	if (!r || strcmp(r->state, "streaming") != 0 || strcmp(r->sync_state, "sync") != 0 ||
	    !r->flush_lsn) {
		memset(proof, 0, sizeof *proof);
		if (r)
			snprintf(why, whylen,
				 "%s is %s/%s in pg_stat_replication, not streaming/sync", standby,
				 r->state, r->sync_state);
		else
			snprintf(why, whylen, "%s is not in pg_stat_replication", standby);
		return DUET_PG_SYNC_NOT_SYNC;
	}
	if (duet_pg_sync_commit_check(st, standby, why, whylen) != 0) {
		memset(proof, 0, sizeof *proof);
		return DUET_PG_SYNC_REFUSED;
	}
	uint64_t master = duet_pg_parse_lsn(st->lsn);
	if (!proof->first_seq || st->probe_seq < proof->first_seq) {
		memset(proof, 0, sizeof *proof);
		proof->first_seq = st->probe_seq;
		snprintf(
		    why, whylen,
		    "%s first seen sync in probe %llu: waiting for a probe that starts after it",
		    standby, (unsigned long long)st->probe_seq);
		return DUET_PG_SYNC_WAIT;
	}
	if (st->probe_seq == proof->first_seq) {
		snprintf(
		    why, whylen,
		    "%s first seen sync in probe %llu: waiting for a probe that starts after it",
		    standby, (unsigned long long)st->probe_seq);
		return DUET_PG_SYNC_WAIT;
	}
	if (!proof->target_seq) {
		if (!master) {
			snprintf(why, whylen, "the master's LSN is unknown ('%s')", st->lsn);
			return DUET_PG_SYNC_WAIT;
		}
		proof->target_seq = st->probe_seq;
		proof->target_lsn = master;
	}
	if (r->flush_lsn >= proof->target_lsn) {
		snprintf(why, whylen,
			 "%s is sync and has flushed %X/%X, past %X/%X read by probe %llu (after "
			 "probe %llu first saw it sync)",
			 standby, (unsigned)(r->flush_lsn >> 32), (unsigned)r->flush_lsn,
			 (unsigned)(proof->target_lsn >> 32), (unsigned)proof->target_lsn,
			 (unsigned long long)proof->target_seq,
			 (unsigned long long)proof->first_seq);
		return DUET_PG_SYNC_PROVEN;
	}
	snprintf(why, whylen, "%s is sync and has flushed %X/%X of %X/%X: waiting for it", standby,
		 (unsigned)(r->flush_lsn >> 32), (unsigned)r->flush_lsn,
		 (unsigned)(proof->target_lsn >> 32), (unsigned)proof->target_lsn);
	return DUET_PG_SYNC_WAIT;
}
