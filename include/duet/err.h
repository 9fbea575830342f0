/* SPDX-License-Identifier: MIT */
/*
 * err.h - error codes shared by every duet module.
 *
 * Functions return 0 on success or a negative code. System errors keep their
 * errno, negated (libuv style: -ENOSPC, -EIO); duet's own conditions use the
 * DUET_E* codes below, which lie far outside the errno range.
 * duet_strerror() turns either kind into a short English phrase.
 */
#ifndef DUET_ERR_H
#define DUET_ERR_H

enum duet_err {
	DUET_OK = 0,
	DUET_ENOMEM = -10001,   /* allocation failed */
	DUET_EINVAL = -10002,   /* invalid argument */
	DUET_ECORRUPT = -10003, /* stored or received data failed its checksum or structure check */
	DUET_EFOREIGN = -10004, /* store belongs to another cluster or node */
	DUET_EVERSION = -10005, /* unknown format version */
	DUET_EMAPFULL = -10006, /* LMDB map is full and may not grow further */
	DUET_ENOTLEADER = -10007,     /* only the leader may do this */
	DUET_EBUSY = -10008,          /* an operation of this kind is already in progress */
	DUET_ETOOBIG = -10009,        /* message or entry exceeds its size limit */
	DUET_ENOENT = -10010,         /* no such entry, member or record */
	DUET_ETRUNCATED = -10011,     /* input ended before a complete value */
	DUET_EWITNESS = -10012,       /* the witness never takes the master role */
	DUET_ESTALE = -10013,         /* incarnation or term does not match */
	DUET_ECOMPACTED = -10014,     /* entry was compacted into a snapshot */
	DUET_ELOCKED = -10015,        /* store is open in another process */
	DUET_ENOTREWINDABLE = -10016, /* pg_rewind cannot bring this data directory back */
};

/* Returns a static, human-readable description of `err` (never NULL). */
const char *duet_strerror(int err);

#endif
