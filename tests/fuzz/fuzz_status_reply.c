/* SPDX-License-Identifier: MIT */
/*
 * fuzz_status_reply.c - libFuzzer target for duetctl's reading of a
 * daemon's status reply (cli/doc.c duetctl_doc_parse, cli/status_text.c
 * duetctl_status_print): any line is either refused with a sentence or
 * printed as a table, never a crash, a hang or a leak.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc.h"
#include "fuzz_check.h"
#include "status_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *sink;
	if (!sink)
		sink = fopen("/dev/null", "w");
	char *line = malloc(size + 1);
	if (!line || !sink) {
		free(line);
		return 0;
	}
	memcpy(line, data, size);
	line[size] = 0;
	char err[512] = "";
	json_t *doc = duetctl_doc_parse(line, "status reply", err, sizeof err);
	if (!doc) {
		FUZZ_CHECK(strncmp(err, "status reply: ", 14) == 0);
	} else {
		err[0] = 0;
		int rc = duetctl_status_print(sink, doc, err, sizeof err);
		FUZZ_CHECK(rc == 0 || (rc == -1 && strncmp(err, "status reply: ", 14) == 0));
		json_decref(doc);
	}
	free(line);
	return 0;
}
