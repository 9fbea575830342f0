/* SPDX-License-Identifier: MIT */
/*
 * json.h - text from files and the system (config values, error messages
 * that quote them) as jansson strings: json_string() refuses bytes that
 * are not valid UTF-8, which a config file may hold; here they become
 * U+FFFD, so duetctl's --json output always parses. Every JSON document
 * duetctl writes is built with jansson (log --json reads each entry's
 * object from fsm_entry_json, the one writer of audit records, with it).
 */
#ifndef DUETCTL_JSON_H
#define DUETCTL_JSON_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* A jansson string of s with every byte that is not valid UTF-8 replaced
 * by U+FFFD (json_string() refuses such text). NULL: out of memory. */
json_t *duetctl_json_string(const char *s);

#endif
