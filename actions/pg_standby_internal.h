/* SPDX-License-Identifier: MIT */
/*
 * pg_standby_internal.h - what pg_standby.c (the tools on the loop) and
 * pg_standby_files.c (the file work, blocking, run on the threadpool or by
 * the caller) share. Not a public header.
 */
#ifndef DUET_PG_STANDBY_INTERNAL_H
#define DUET_PG_STANDBY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "duet/pg_standby.h"

#define PGS_PATH_BYTES 320

/* The config with its defaults filled in; every string NUL-terminated. */
int pgs_config_resolve(const struct duet_pg_standby_config *in, struct duet_pg_standby_config *out);

/* Who the tools and the files belong to: duet's own user unless duet is
 * root, then os_user (home for HOME). */
struct pgs_user {
	bool switch_user;
	uid_t uid;
	gid_t gid;
	char name[64];
	char home[256];
};
int pgs_user_lookup(const char *os_user, struct pgs_user *u, char *err, size_t errlen);

/* -EBUSY with a sentence when DATA/postmaster.pid names a live postgres
 * process; 0 otherwise (no file, a stale pid). */
int pgs_check_stopped(const char *data_dir, char *err, size_t errlen);

/* Directory work before and after a tool (see pg_standby.h,
 * "Interruptions"). `skip` set: nothing to run, the operation succeeded. */
int pgs_prepare_rewind(const char *data_dir, bool *skip, char *err, size_t errlen);
int pgs_prepare_basebackup(const char *data_dir, const struct pgs_user *u, bool move_aside,
			   char *moved_to, size_t moved_len, char *err, size_t errlen);
/* copy_started: a failed rewind may have changed files (keep the marker). */
int pgs_finish_rewind(const char *data_dir, bool ok, bool copy_started, char *err, size_t errlen);
int pgs_finish_basebackup(const char *data_dir, bool ok, char *err, size_t errlen);

#endif
