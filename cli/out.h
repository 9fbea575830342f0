/* SPDX-License-Identifier: MIT */
/*
 * out.h - how duetctl reports errors and writes JSON, the same in every
 * command.
 *
 * An error is a sentence on stderr, "duetctl CMD: message", as always. With
 * --json, stdout carries JSON whatever happens: the command's own object
 * (or lines, for log --json), and when the command fails an object
 *
 *   {"error": {"code": CODE, "message": "the first error's sentence"}}
 *
 * either as the "error" member of the command's own object or, when the
 * command wrote none (or wrote JSON lines before it failed), as one line of
 * its own. CODE is one of the DUETCTL_E_* strings below; they are stable
 * (tools match on them), the message is for people.
 *
 * Options are parsed with getopt_long in every command; duetctl_bad_option()
 * turns getopt's '?' and ':' into a usage error that names the option and
 * shows the command's usage line (exit 2).
 */
#ifndef DUETCTL_OUT_H
#define DUETCTL_OUT_H

#include <stdbool.h>

#include <jansson.h>

#include "duet/config.h"

/* The error codes of the "error" object (stable). */
#define DUETCTL_E_USAGE       "usage"       /* bad arguments (exit 2) */
#define DUETCTL_E_UNAVAILABLE "unavailable" /* the command is not built yet (exit 2) */
#define DUETCTL_E_CONFIG      "config"      /* the config file is missing or invalid */
#define DUETCTL_E_UNREACHABLE "unreachable" /* the daemon's admin socket did not answer */
#define DUETCTL_E_BAD_REPLY   "bad_reply"   /* the daemon answered something unexpected */
#define DUETCTL_E_REFUSED     "refused"     /* the daemon refused the request */
#define DUETCTL_E_DAMAGED     "damaged"     /* log --verify: the audit chain is damaged */
#define DUETCTL_E_FAILED      "failed"      /* anything else that went wrong */

/* getopt_long's short options of a command: a leading ':' so that a
 * missing value is told from an unknown option. */
#define DUETCTL_SHORTOPTS(s) ":" s

/* Called by main before the command runs: its name, its usage line (args)
 * and whether --json is among its arguments. */
void duetctl_out_init(const char *cmd, const char *args, bool json);
bool duetctl_json_mode(void);

/* An error: printed to stderr as "duetctl CMD: <fmt...>"; the first one is
 * the message of the JSON error object. duetctl_err_code() also gives the
 * code (the first code given wins; without one the exit status decides:
 * usage for 2, failed otherwise). */
__attribute__((format(printf, 1, 2))) void duetctl_err(const char *fmt, ...);
__attribute__((format(printf, 2, 3))) void duetctl_err_code(const char *code, const char *fmt, ...);
/* Sets the code of the error at hand if none is set yet. */
void duetctl_set_code(const char *code);

/* A usage error: the sentence, then "usage: duetctl CMD ARGS" on stderr.
 * Returns DUETCTL_USAGE. */
__attribute__((format(printf, 1, 2))) int duetctl_usage_error(const char *fmt, ...);

/* getopt_long returned '?' or ':' for argv: the usage error naming the
 * option. Returns DUETCTL_USAGE. */
int duetctl_bad_option(int opt, char **argv);

/* A whole decimal number in lo..hi into *value; -1 if s is not one. */
int duetctl_parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *value);

/* Arguments left after the options (optind < argc): a usage error. */
int duetctl_extra_args(int argc, char **argv);

/* duetctl_doc_ask() returned arc (not DUETCTL_DOC_OK) with err: the error,
 * code unreachable or bad_reply. */
void duetctl_ask_failed(int arc, const char *err);

/* A config that did not load: every error to stderr (FILE:LINE: reason),
 * the first as the message, code "config". */
void duetctl_config_errors(const struct duet_config_errors *errs);

/* Writes obj compact on one line to stdout; with an error at hand and no
 * "error" member, one is added (obj is changed). Returns 0 or -1. */
int duetctl_print_json(json_t *obj);
/* Writes a line of JSON received as is (a daemon's reply). */
void duetctl_print_json_line(const char *line);

/* With --json, writes the error at hand now as its own line (for a
 * command that goes on, status --watch) and forgets it, so that the next
 * one is reported too. */
void duetctl_flush_error(int rc);

/* Called by main with the command's exit status: with --json and a failure
 * whose error is in no object yet, writes the error object line. Returns
 * rc. */
int duetctl_out_finish(int rc);

#endif
