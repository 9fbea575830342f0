/* SPDX-License-Identifier: MIT */
/*
 * helpers.c - shared helpers of the config tests (helpers.h).
 */
#include "helpers.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char BASE_CONFIG[] = "[cluster]\n"
			   "name = demo\n"
			   "id = 00c0ffee00c0ffee\n"
			   "[node]\n"
			   "name = node-a\n"
			   "[member node-a]\n"
			   "id = 1\n"
			   "kind = data\n"
			   "address = 127.0.0.1:7101, 127.0.0.2:7101\n"
			   "[member node-b]\n"
			   "id = 2\n"
			   "kind = data\n"
			   "address = 127.0.0.1:7102\n"
			   "[member w]\n"
			   "id = 3\n"
			   "kind = witness\n"
			   "address = 127.0.0.1:7103\n"
			   "[tls]\n"
			   "ca = /etc/duet/ca.pem\n"
			   "cert = /etc/duet/a.pem\n"
			   "key = /etc/duet/a.key\n";

const char *with_extra(const char *extra)
{
	static char buf[16384];
	snprintf(buf, sizeof(buf), "%s%s", BASE_CONFIG, extra);
	return buf;
}

const char *replace(const char *text, const char *from, const char *to)
{
	static char bufs[2][16384];
	static int which;
	char *out = bufs[which ^= 1];
	const char *at = strstr(text, from);
	cr_assert(at != NULL, "'%s' not in the config text", from);
	snprintf(out, sizeof(bufs[0]), "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
	return out;
}

int load_text(const char *text, struct duet_config *cfg, struct duet_config_errors *errs)
{
	return duet_config_load_buffer("test.ini", text, strlen(text), DUET_CONFIG_SKIP_FILES, cfg,
				       errs);
}

bool has_error(const struct duet_config_errors *errs, int line, const char *needle)
{
	for (unsigned i = 0; i < errs->n; i++)
		if (errs->v[i].line == line && strstr(errs->v[i].message, needle))
			return true;
	dump_errors(errs);
	fprintf(stderr, "  (wanted line %d: ...%s...)\n", line, needle);
	return false;
}

void dump_errors(const struct duet_config_errors *errs)
{
	duet_config_errors_print(stderr, errs);
}

const char *write_temp(const char *text)
{
	static char path[64];
	snprintf(path, sizeof(path), "/tmp/duet-config-test-XXXXXX");
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	size_t len = strlen(text);
	cr_assert(write(fd, text, len) == (ssize_t)len);
	close(fd);
	return path;
}
