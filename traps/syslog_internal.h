/* SPDX-License-Identifier: MIT */
/*
 * syslog_internal.h - what the syslog files share and traps_syslog.h does
 * not publish: the RFC 5424 STRUCTURED-DATA scanner (syslog_sd.c), used by
 * the parser to find where SD ends and by the identity writer to drop the
 * meta params that differ between copies of one event.
 */
#ifndef DUET_TRAPS_SYSLOG_INTERNAL_H
#define DUET_TRAPS_SYSLOG_INTERNAL_H

#include <stddef.h>

#include "duet/traps_syslog.h"

#define SYSLOG_SD_NAME_MAX 32 /* RFC 5424 SD-NAME: 1*32 */

enum syslog_sd_part_kind {
	SYSLOG_SD_OPEN = 1, /* "[" SD-ID */
	SYSLOG_SD_PARAM,    /* SP PARAM-NAME "=" DQUOTE PARAM-VALUE DQUOTE */
	SYSLOG_SD_CLOSE,    /* "]" */
};

/* One piece of an SD-ELEMENT. raw covers exactly the piece's bytes, so the
 * raw texts of all parts, in order, are the whole SD. */
struct syslog_sd_part {
	enum syslog_sd_part_kind kind;
	struct duet_syslog_span id;    /* the element's SD-ID (every kind) */
	struct duet_syslog_span name;  /* PARAM only */
	struct duet_syslog_span value; /* PARAM only: between the quotes, escapes as sent */
	struct duet_syslog_span raw;
};

typedef void (*syslog_sd_visit)(void *ctx, const struct syslog_sd_part *part);

/*
 * Scans one or more SD-ELEMENTs at the start of p[0..n) against the RFC
 * 5424 ABNF. Returns their total length, or 0 if p does not start with a
 * valid SD-ELEMENT. Elements after the first bad one are not taken (the
 * result is the valid prefix only if it ends at an element boundary).
 * visit, if not NULL, sees every part of the elements returned, but also of
 * a bad element up to where it went wrong: callers that need only valid
 * SD check the length first.
 */
size_t syslog_sd_scan(const char *p, size_t n, syslog_sd_visit visit, void *ctx);

#endif
