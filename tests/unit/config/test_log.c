/* SPDX-License-Identifier: MIT */
/*
 * test_log.c - the process logger: level filter and the stderr line format.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <regex.h>
#include <stdio.h>

#include "duet/log.h"

Test(log, filters_and_formats, .init = cr_redirect_stderr)
{
	duet_log_open("duet-test", DUET_LOG_STDERR, DUET_LOG_WARN);
	cr_assert(duet_log_enabled(DUET_LOG_ERROR));
	cr_assert(duet_log_enabled(DUET_LOG_WARN));
	cr_assert(!duet_log_enabled(DUET_LOG_INFO));
	duet_log(DUET_LOG_INFO, "hidden %d", 1);
	duet_log(DUET_LOG_WARN, "peer %s unreachable\n", "node-b");
	duet_log(DUET_LOG_ERROR, "disk full");
	duet_log_close();
	fflush(stderr);

	FILE *f = cr_get_redirected_stderr();
	char line[512];
	regex_t re;
	cr_assert_eq(regcomp(&re,
			     "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
			     "duet-test\\[[0-9]+\\] (warn|error): ",
			     REG_EXTENDED),
		     0);
	cr_assert(fgets(line, sizeof(line), f));
	cr_assert_eq(regexec(&re, line, 0, NULL, 0), 0, "%s", line);
	cr_assert(strstr(line, "warn: peer node-b unreachable\n"), "one newline: %s", line);
	cr_assert(fgets(line, sizeof(line), f));
	cr_assert(strstr(line, "error: disk full\n"), "%s", line);
	cr_assert_null(fgets(line, sizeof(line), f), "info was filtered out");
	regfree(&re);
}

Test(log, level_names)
{
	cr_assert_str_eq(duet_log_level_name(DUET_LOG_ERROR), "error");
	cr_assert_str_eq(duet_log_level_name(DUET_LOG_DEBUG), "debug");
	cr_assert_str_eq(duet_log_level_name((enum duet_log_level)9), "?");
}
