/*
 * http_metrics_internal.h - what the two halves of the /metrics formatter
 * share (http_api.h has the interface): http_metrics.c writes the
 * exposition and reads the status document (mw_*), and holds the families
 * that are one status field each; http_metrics_families.c writes the
 * families that take code (arrays, enumerations, sums). Not public.
 */
#ifndef DUET_HTTP_METRICS_INTERNAL_H
#define DUET_HTTP_METRICS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "http_api.h"

enum metric_type { GAUGE, COUNTER };

struct label {
	const char *key, *value; /* value escaped when written */
};

struct writer {
	FILE *f;
	int missing;        /* status fields needed and absent */
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

/* ---- the status document (http_metrics.c) ---- */

/* The value at a dotted path ("traps.sink.connected"), NULL when a step is
 * absent; *through_null says a step was null (a part the node lacks). */
const json_t *mw_path_get(const json_t *root, const char *path, bool *through_null);
/* The same, without through_null. */
const json_t *mw_get(const json_t *root, const char *path);
/* Integer, real or boolean (true = 1). */
bool mw_is_number(const json_t *v);
long long mw_int_of(const json_t *v);
/* A number, string or array that a family needs: NULL when absent or null.
 * Absent (or of another type) is counted in w->missing, unless optional or
 * a step of the path was null (a part this node does not have). */
const json_t *mw_need(struct writer *w, const json_t *obj, const char *path, bool optional);
const char *mw_need_str(struct writer *w, const json_t *obj, const char *path, bool optional);
const json_t *mw_need_array(struct writer *w, const json_t *obj, const char *path, bool optional);

/* ---- families written by code (http_metrics_families.c) ---- */

void metrics_write_identity(struct writer *w, const struct http_metrics_input *in);
void metrics_write_members(struct writer *w, const json_t *st);
void metrics_write_peers(struct writer *w, const json_t *st);
void metrics_write_object_counters(struct writer *w, const json_t *obj, const char *name,
				   const char *help, const char *label);
void metrics_write_pg(struct writer *w, const json_t *st);
void metrics_write_takeover(struct writer *w, const struct http_metrics_input *in);
void metrics_write_checks(struct writer *w, const json_t *st);
void metrics_write_states(struct writer *w, const json_t *st);
void metrics_write_fsm(struct writer *w, const struct fsm *f);
void metrics_write_traps(struct writer *w, const json_t *st);
void metrics_write_http(struct writer *w, const struct trap_http_stats *s);

#endif
