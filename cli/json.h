/*
 * json.h - a small JSON writer for duetctl's --json output.
 *
 * Just enough to print objects, arrays, strings and numbers correctly:
 * strings are escaped (quotes, backslashes, control characters) and bytes
 * that are not valid UTF-8 become U+FFFD, so the output always parses even
 * when a config file holds garbage that ends up in an error message. The
 * caller writes structure with json_raw(); commas are its business too.
 */
#ifndef DUETCTL_JSON_H
#define DUETCTL_JSON_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* Writes s as a JSON string, quotes included. */
void json_str(FILE *out, const char *s);

/* Writes "key": with the key escaped. */
void json_key(FILE *out, const char *key);

/* A jansson string of s with every byte that is not valid UTF-8 replaced
 * by U+FFFD (json_string() refuses such text). NULL: out of memory. */
json_t *duetctl_json_string(const char *s);

#endif
