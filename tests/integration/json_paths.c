/* SPDX-License-Identifier: MIT */
/*
 * json_paths.c - reads one JSON document with jansson (the library duetd
 * and duetctl use) from a file and prints its key paths with their types,
 * one a line, sorted and unique: ".pg.lsn string", ".members[] object".
 * Array elements share the path "[]", so two documents of the same member
 * compare equal whatever the lengths of their lists.
 *
 * usage: json_paths FILE   (exit 0; 2 when the file is not one JSON value)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static char **paths;
static size_t n_paths, cap_paths;

static void add(const char *path, const char *type)
{
	if (n_paths == cap_paths) {
		cap_paths = cap_paths ? cap_paths * 2 : 256;
		paths = realloc(paths, cap_paths * sizeof *paths);
		if (!paths)
			exit(3);
	}
	if (asprintf(&paths[n_paths++], "%s %s", *path ? path : ".", type) < 0)
		exit(3);
}

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "boolean";
	default:
		return "null";
	}
}

static void walk(const json_t *v, const char *path)
{
	add(path, type_name(v));
	char *sub = NULL;
	if (json_is_object(v)) {
		const char *k;
		json_t *e;
		json_object_foreach((json_t *)v, k, e)
		{
			if (asprintf(&sub, "%s.%s", path, k) < 0)
				exit(3);
			walk(e, sub);
			free(sub);
		}
	} else if (json_is_array(v)) {
		size_t i;
		json_t *e;
		if (asprintf(&sub, "%s[]", path) < 0)
			exit(3);
		json_array_foreach(v, i, e) walk(e, sub);
		free(sub);
	}
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: json_paths FILE\n");
		return 2;
	}
	json_error_t err;
	json_t *doc = json_load_file(argv[1], JSON_REJECT_DUPLICATES, &err);
	if (!doc) {
		fprintf(stderr, "%s:%d:%d: not JSON: %s\n", argv[1], err.line, err.column,
			err.text);
		return 2;
	}
	walk(doc, "");
	qsort(paths, n_paths, sizeof *paths, cmp);
	for (size_t i = 0; i < n_paths; i++)
		if (i == 0 || strcmp(paths[i], paths[i - 1]) != 0)
			printf("%s\n", paths[i]);
	json_decref(doc);
	return 0;
}
