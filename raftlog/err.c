/* SPDX-License-Identifier: MIT */
/*
 * err.c - duet_strerror(): one table for duet's own codes, strerror() for
 * negated errno values.
 */
#include <string.h>

#include "duet/err.h"

const char *duet_strerror(int err)
{
	switch (err) {
	case DUET_OK:
		return "success";
	case DUET_ENOMEM:
		return "out of memory";
	case DUET_EINVAL:
		return "invalid argument";
	case DUET_ECORRUPT:
		return "data failed its checksum or structure check";
	case DUET_EFOREIGN:
		return "store belongs to another cluster or node";
	case DUET_EVERSION:
		return "unknown format version";
	case DUET_EMAPFULL:
		return "store map is full and may not grow further";
	case DUET_ENOTLEADER:
		return "not the leader";
	case DUET_EBUSY:
		return "an operation of this kind is already in progress";
	case DUET_ETOOBIG:
		return "value exceeds its size limit";
	case DUET_ENOENT:
		return "no such record";
	case DUET_ETRUNCATED:
		return "input ended before a complete value";
	case DUET_EWITNESS:
		return "the witness never takes the master role";
	case DUET_ESTALE:
		return "incarnation or term does not match";
	case DUET_ECOMPACTED:
		return "entry was compacted into a snapshot";
	case DUET_ELOCKED:
		return "store is open in another process";
	case DUET_ENOTREWINDABLE:
		return "the PostgreSQL data directory cannot be rewound (a base backup is needed)";
	}
	if (err < 0 && err > -4096)
		return strerror(-err);
	return "unknown error";
}
