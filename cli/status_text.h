/* SPDX-License-Identifier: MIT */
/*
 * status_text.h - `duetctl status` as a table, from the daemon's status
 * document (status_text.c).
 */
#ifndef DUETCTL_STATUS_TEXT_H
#define DUETCTL_STATUS_TEXT_H

#include <stddef.h>
#include <stdio.h>

#include "doc.h"

/* Prints the table for doc (a parsed status reply, borrowed) to out.
 * Returns 0, or -1 with err naming what the document lacks ("status
 * reply: missing key .lease.valid"); the keys every member sends are all
 * checked before the first line is printed, those of the optional parts
 * (acting, traps, ...) as they come, so a bad optional part may leave a
 * partial table on out. */
int duetctl_status_print(FILE *out, const json_t *doc, char *err, size_t errlen);

#endif
