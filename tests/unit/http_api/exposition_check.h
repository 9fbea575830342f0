/* SPDX-License-Identifier: MIT */
/*
 * exposition_check.h - a checker of the Prometheus text exposition format
 * 0.0.4, strict enough for duet's /metrics: HELP and TYPE before each
 * family's samples, samples of a family together, valid names, label
 * values with the format's three escapes only, a float value, no series
 * twice; and duet's naming: duet_ prefix, counters ending in _total.
 */
#ifndef DUET_TEST_EXPOSITION_CHECK_H
#define DUET_TEST_EXPOSITION_CHECK_H

#include <stddef.h>

/* NULL when text is valid, else a sentence naming the line and the rule. */
const char *exposition_problem(const char *text);

#endif
