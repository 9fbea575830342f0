/* SPDX-License-Identifier: MIT */
/*
 * helpers.h - what the config tests share: a valid base config whose line
 * numbers the tests rely on, text editing helpers and error lookup.
 */
#ifndef DUET_TEST_CONFIG_HELPERS_H
#define DUET_TEST_CONFIG_HELPERS_H

#include <stdbool.h>

#include "duet/config.h"

/*
 * The base config. Line numbers (tests use them):
 *   1 [cluster]  2 name  3 id
 *   4 [node]     5 name = node-a
 *   6 [member node-a]  7 id = 1  8 kind = data     9 address (two)
 *  10 [member node-b] 11 id = 2 12 kind = data    13 address
 *  14 [member w]      15 id = 3 16 kind = witness 17 address
 *  18 [tls] 19 ca 20 cert 21 key
 * Text appended with with_extra() starts at line 22.
 */
extern const char BASE_CONFIG[];

/* Returns BASE_CONFIG + extra in a static buffer. */
const char *with_extra(const char *extra);

/* Returns text with the first occurrence of `from` replaced by `to`, in a
 * static buffer (one of two, so the result may be passed back in). Fails
 * the test if `from` is absent. */
const char *replace(const char *text, const char *from, const char *to);

/* duet_config_load_buffer() of text as "test.ini" with DUET_CONFIG_SKIP_FILES. */
int load_text(const char *text, struct duet_config *cfg, struct duet_config_errors *errs);

/* True if errs holds an error at `line` whose message contains `needle`. */
bool has_error(const struct duet_config_errors *errs, int line, const char *needle);

/* Prints errs to stderr (for failing tests). */
void dump_errors(const struct duet_config_errors *errs);

/* Writes text to a new temporary file; returns its path (static buffer
 * per call: copy it). */
const char *write_temp(const char *text);

#endif
