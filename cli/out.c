/* SPDX-License-Identifier: MIT */
/*
 * out.c - duetctl's errors and JSON output (out.h).
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "doc.h"
#include "json.h"
#include "out.h"

static struct {
	const char *cmd, *args;
	bool json;
	bool have_error;  /* an error was reported */
	bool embedded;    /* ... and written into a JSON object on stdout */
	bool wrote_json;  /* something was written on stdout as JSON */
	const char *code; /* NULL: from the exit status */
	char message[1024];
} out = {.cmd = "", .args = ""};

void duetctl_out_init(const char *cmd, const char *args, bool json)
{
	out.cmd = cmd;
	out.args = args ? args : "";
	out.json = json;
}

bool duetctl_json_mode(void)
{
	return out.json;
}

void duetctl_set_code(const char *code)
{
	if (!out.code)
		out.code = code;
}

static void verr(const char *code, const char *fmt, va_list ap)
{
	char msg[sizeof out.message];
	vsnprintf(msg, sizeof msg, fmt, ap);
	fprintf(stderr, "duetctl%s%s: %s\n", out.cmd[0] ? " " : "", out.cmd, msg);
	if (!out.have_error) {
		out.have_error = true;
		out.embedded = false;
		memcpy(out.message, msg, sizeof msg);
	}
	if (code)
		duetctl_set_code(code);
}

void duetctl_err(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verr(NULL, fmt, ap);
	va_end(ap);
}

void duetctl_err_code(const char *code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verr(code, fmt, ap);
	va_end(ap);
}

int duetctl_usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verr(DUETCTL_E_USAGE, fmt, ap);
	va_end(ap);
	fprintf(stderr, "usage: duetctl %s %s\n       duetctl %s --help\n", out.cmd, out.args,
		out.cmd);
	return DUETCTL_USAGE;
}

int duetctl_bad_option(int opt, char **argv)
{
	/* optind is past the option when it was a whole word; a short option
	 * inside a group (-xy) is named by optopt */
	const char *word = argv[optind - 1];
	if (opt == ':')
		return duetctl_usage_error("option '%s' needs a value", word);
	if (optopt && word[0] == '-' && word[1] != '-')
		return duetctl_usage_error("unknown option '-%c'", optopt);
	return duetctl_usage_error("unknown option '%s'", word);
}

int duetctl_extra_args(int argc, char **argv)
{
	(void)argc;
	return duetctl_usage_error("unexpected argument '%s'", argv[optind]);
}

void duetctl_ask_failed(int arc, const char *err)
{
	duetctl_err_code(arc == DUETCTL_DOC_UNREACHABLE ? DUETCTL_E_UNREACHABLE
							: DUETCTL_E_BAD_REPLY,
			 "%s", err);
}

void duetctl_config_errors(const struct duet_config_errors *errs)
{
	duet_config_errors_print(stderr, errs);
	if (!out.have_error) {
		out.have_error = true;
		out.embedded = false;
		if (errs->n == 0)
			snprintf(out.message, sizeof out.message, "%s: not a valid config",
				 errs->file);
		else if (errs->v[0].line > 0)
			snprintf(out.message, sizeof out.message, "%s:%d: %s", errs->file,
				 errs->v[0].line, errs->v[0].message);
		else
			snprintf(out.message, sizeof out.message, "%s: %s", errs->file,
				 errs->v[0].message);
	}
	duetctl_set_code(DUETCTL_E_CONFIG);
}

static json_t *error_object(int rc)
{
	const char *code = out.code              ? out.code
			   : rc == DUETCTL_USAGE ? DUETCTL_E_USAGE
						 : DUETCTL_E_FAILED;
	const char *msg = out.have_error ? out.message : "failed (exit status 1)";
	/* the message may quote a path or a config line: any bytes */
	return json_pack("{s:s, s:o}", "code", code, "message", duetctl_json_string(msg));
}

int duetctl_print_json(json_t *obj)
{
	if (out.have_error && !json_object_get(obj, "error")) {
		json_object_set_new(obj, "error", error_object(DUETCTL_FAILED));
		out.embedded = true;
	} else if (json_object_get(obj, "error")) {
		out.embedded = true;
	}
	char *text = json_dumps(obj, JSON_COMPACT);
	if (!text)
		return -1;
	printf("%s\n", text);
	free(text);
	out.wrote_json = true;
	return 0;
}

void duetctl_print_json_line(const char *line)
{
	printf("%s\n", line);
	out.wrote_json = true;
}

void duetctl_flush_error(int rc)
{
	if (!out.json || !out.have_error || out.embedded)
		return;
	json_t *o = json_pack("{s:o}", "error", error_object(rc));
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	if (text)
		printf("%s\n", text);
	free(text);
	json_decref(o);
	fflush(stdout);
	/* the next error (the next round of --watch) is reported anew */
	out.have_error = false;
	out.code = NULL;
	out.embedded = true;
}

int duetctl_out_finish(int rc)
{
	if (!out.json || rc == DUETCTL_OK || (out.embedded && !out.have_error))
		return rc;
	if (out.embedded) { /* an error since the last one written */
		duetctl_flush_error(rc);
		return rc;
	}
	json_t *o = json_pack("{s:o}", "error", error_object(rc));
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	if (text)
		printf("%s\n", text);
	free(text);
	json_decref(o);
	fflush(stdout);
	return rc;
}

int duetctl_parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *value)
{
	char *end;
	errno = 0;
	if (!s[0] || s[0] == '-' || s[0] == '+')
		return -1;
	unsigned long v = strtoul(s, &end, 10);
	if (*end || errno || v < lo || v > hi)
		return -1;
	*value = (unsigned)v;
	return 0;
}
