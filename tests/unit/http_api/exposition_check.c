/* SPDX-License-Identifier: MIT */
/*
 * exposition_check.c - see exposition_check.h. Written from the format's
 * description (https://prometheus.io/docs/instrumenting/exposition_formats/),
 * not from http_metrics.c, so that it can disagree with it.
 */
#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exposition_check.h"

#define MAX_SERIES   4096
#define MAX_FAMILIES 512

static char problem[512];

static const char *fail(int line, const char *what, const char *text)
{
	snprintf(problem, sizeof problem, "line %d: %s: %.200s", line, what, text);
	return problem;
}

static size_t name_len(const char *p, bool colon)
{
	size_t n = 0;
	if (!(isalpha((unsigned char)p[0]) || p[0] == '_' || (colon && p[0] == ':')))
		return 0;
	while (isalnum((unsigned char)p[n]) || p[n] == '_' || (colon && p[n] == ':'))
		n++;
	return n;
}

static bool value_ok(const char *v)
{
	if (strcmp(v, "NaN") == 0 || strcmp(v, "+Inf") == 0 || strcmp(v, "-Inf") == 0)
		return true;
	char *end;
	double d = strtod(v, &end);
	return end != v && *end == '\0' && isfinite(d);
}

static bool seen(char **list, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return true;
	return false;
}

const char *exposition_problem(const char *text)
{
	static char *series[MAX_SERIES], *families[MAX_FAMILIES];
	static size_t n_series, n_families;
	for (size_t i = 0; i < n_series; i++)
		free(series[i]);
	for (size_t i = 0; i < n_families; i++)
		free(families[i]);
	n_series = n_families = 0;

	size_t len = strlen(text);
	if (len == 0 || text[len - 1] != '\n')
		return fail(0, "the text does not end with a line feed", "");
	char family[128] = "", type[16] = "";
	bool typed = false;
	int lineno = 0;
	for (const char *p = text; *p;) {
		const char *eol = strchr(p, '\n');
		char line[4096];
		size_t ll = (size_t)(eol - p);
		lineno++;
		if (ll >= sizeof line)
			return fail(lineno, "line too long", p);
		memcpy(line, p, ll);
		line[ll] = '\0';
		p = eol + 1;
		if (strncmp(line, "# HELP ", 7) == 0) {
			size_t n = name_len(line + 7, true);
			if (!n || line[7 + n] != ' ' || n >= sizeof family)
				return fail(lineno, "bad HELP", line);
			char name[128];
			memcpy(name, line + 7, n);
			name[n] = '\0';
			if (seen(families, n_families, name))
				return fail(lineno,
					    "family described twice (samples not together?)", line);
			if (n_families == MAX_FAMILIES)
				return fail(lineno, "too many families", line);
			families[n_families++] = strdup(name);
			for (const char *h = line + 8 + n; *h; h++)
				if (*h == '\\' && h[1] != '\\' && h[1] != 'n')
					return fail(lineno, "bad escape in HELP", line);
				else if (*h == '\\')
					h++;
			snprintf(family, sizeof family, "%s", name);
			typed = false;
			if (strncmp(name, "duet_", 5) != 0)
				return fail(lineno, "name without the duet_ prefix", line);
			continue;
		}
		if (strncmp(line, "# TYPE ", 7) == 0) {
			size_t n = name_len(line + 7, true);
			if (!n || strncmp(line + 7, family, n) != 0 || family[n] != '\0' ||
			    line[7 + n] != ' ' || typed)
				return fail(lineno, "TYPE not right after its family's HELP", line);
			snprintf(type, sizeof type, "%s", line + 8 + n);
			if (strcmp(type, "counter") != 0 && strcmp(type, "gauge") != 0)
				return fail(lineno, "type neither counter nor gauge", line);
			size_t fl = strlen(family);
			if (strcmp(type, "counter") == 0 &&
			    (fl < 6 || strcmp(family + fl - 6, "_total") != 0))
				return fail(lineno, "a counter whose name does not end in _total",
					    line);
			typed = true;
			continue;
		}
		if (line[0] == '#')
			return fail(lineno, "a comment that is neither HELP nor TYPE", line);
		/* a sample */
		size_t n = name_len(line, true);
		if (!n)
			return fail(lineno, "bad metric name", line);
		if (!typed || strncmp(line, family, n) != 0 || family[n] != '\0')
			return fail(lineno, "a sample outside its family (no HELP/TYPE before it)",
				    line);
		const char *q = line + n;
		if (*q == '{') {
			q++;
			bool first = true;
			while (*q != '}') {
				if (!first && *q++ != ',')
					return fail(lineno, "labels not separated by ','", line);
				first = false;
				size_t k = name_len(q, false);
				if (!k || q[k] != '=' || q[k + 1] != '"')
					return fail(lineno, "bad label name", line);
				if (k >= 2 && q[0] == '_' && q[1] == '_')
					return fail(lineno, "reserved label name", line);
				q += k + 2;
				while (*q && *q != '"') {
					if (*q == '\\') {
						if (q[1] != '\\' && q[1] != '"' && q[1] != 'n')
							return fail(lineno,
								    "bad escape in a label value",
								    line);
						q++;
					}
					q++;
				}
				if (*q++ != '"')
					return fail(lineno, "label value not closed", line);
			}
			q++;
		}
		if (*q != ' ')
			return fail(lineno, "no blank before the value", line);
		if (!value_ok(q + 1))
			return fail(lineno, "the value is not a float (or has a timestamp)", line);
		char key[4096];
		snprintf(key, sizeof key, "%.*s", (int)(q - line), line);
		if (seen(series, n_series, key))
			return fail(lineno, "the same series twice", line);
		if (n_series == MAX_SERIES)
			return fail(lineno, "too many series", line);
		series[n_series++] = strdup(key);
	}
	return NULL;
}
