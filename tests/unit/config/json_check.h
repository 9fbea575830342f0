/* SPDX-License-Identifier: MIT */
/*
 * json_check.h - a strict JSON syntax check for the tests of duetctl --json
 * (RFC 8259 grammar; no semantic checks). Small enough to read, so the test
 * does not depend on a JSON library.
 */
#ifndef DUET_TEST_JSON_CHECK_H
#define DUET_TEST_JSON_CHECK_H

#include <stdbool.h>

/* True if s is exactly one JSON value, optionally surrounded by blanks. */
bool json_valid(const char *s);

#endif
