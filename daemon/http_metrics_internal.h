/* SPDX-License-Identifier: MIT */
/*
 * http_metrics_internal.h - what the two halves of the /metrics formatter
 * share (http_api.h has the interface): http_metrics.c writes the
 * exposition (mw_*) and the member's, raft's and transport's families;
 * http_metrics_families.c the controller's, the traps' and the server's,
 * all from struct duet_status (status.h). Not public.
 */
#ifndef DUET_HTTP_METRICS_INTERNAL_H
#define DUET_HTTP_METRICS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "http_api.h"

enum metric_type { GAUGE, COUNTER };

struct label {
	const char *key, *value; /* value escaped when written */
};

struct writer {
	FILE *f;
	const char *family; /* the family whose samples come now */
};

/* ---- the writer (http_metrics.c) ---- */

/* HELP and TYPE of a family, once: the samples of one family follow each
 * other, and the samples below belong to it. */
void mw_family(struct writer *w, const char *name, enum metric_type type, const char *help);
/* One sample of the current family: an integer, a uint64, milliseconds
 * written as seconds ("1.234"), a double. */
void mw_sample_i(struct writer *w, const struct label *l, size_t n, long long v);
void mw_sample_u(struct writer *w, const struct label *l, size_t n, uint64_t v);
void mw_sample_ms(struct writer *w, const struct label *l, size_t n, long long ms);
void mw_sample_double(struct writer *w, const struct label *l, size_t n, double v);

/* One sample without labels / with one label, of a family of its own. */
void mw_one(struct writer *w, const char *name, enum metric_type type, const char *help,
	    uint64_t v);
void mw_one_label(struct writer *w, const char *name, enum metric_type type, const char *help,
		  const char *key, const char *value, uint64_t v);

/* ---- families written by code (http_metrics_families.c) ---- */

void metrics_write_identity(struct writer *w, const struct http_metrics_input *in);
/* data nodes: the controller, its members, PostgreSQL, the last takeover,
 * the checks */
void metrics_write_ctl(struct writer *w, const struct duet_status *st);
/* every member: the members as the applied state has them */
void metrics_write_members(struct writer *w, const struct duet_status *st);
void metrics_write_pg(struct writer *w, const struct duet_status *st);
void metrics_write_takeover(struct writer *w, const struct duet_status *st);
void metrics_write_checks(struct writer *w, const struct duet_status *st);
void metrics_write_fsm(struct writer *w, const struct fsm *f);
void metrics_write_traps(struct writer *w, const struct duet_status_traps *t);
void metrics_write_http(struct writer *w, const struct trap_http_stats *s);

#endif
