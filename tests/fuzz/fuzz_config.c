/* SPDX-License-Identifier: MIT */
/*
 * fuzz_config.c - libFuzzer target for duet_config_load_buffer() (config.h).
 *
 * Any text must be loaded or refused without reading past its end or
 * crashing (ASan and UBSan watch); every refusal carries at least one error
 * and at most DUET_CONFIG_MAX_ERRORS, each with a NUL-terminated message and
 * a line within the text. An accepted config must be what the rest of duet
 * relies on: three members, a self among them, raft settings that pass
 * raft_config_check() and a membership the entry codec accepts.
 * TLS files are not checked (DUET_CONFIG_SKIP_FILES): no file system access.
 */
#include <stdint.h>
#include <string.h>

#include "duet/config.h"
#include "duet/err.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct duet_config cfg;
	struct duet_config_errors errs;
	int rc = duet_config_load_buffer("fuzz.ini", (const char *)data, size,
					 DUET_CONFIG_SKIP_FILES, &cfg, &errs);
	size_t lines = 1;
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	if (rc == 0) {
		FUZZ_CHECK(errs.n == 0 && errs.dropped == 0);
		FUZZ_CHECK(cfg.membership.n == 3);
		FUZZ_CHECK(duet_config_member(&cfg, cfg.self_id) != NULL);
		FUZZ_CHECK(raft_config_check(&cfg.raft, NULL, 0) == 0);
		uint8_t buf[4096];
		FUZZ_CHECK(duet_membership_encode(&cfg.membership, buf, sizeof(buf)) > 0);
		FUZZ_CHECK(cfg.listen.n >= 1 && cfg.listen.n <= DUET_MAX_ADDRS);
		duet_config_free(&cfg);
		return 0;
	}
	FUZZ_CHECK(rc == DUET_EINVAL);
	FUZZ_CHECK(errs.n >= 1 && errs.n <= DUET_CONFIG_MAX_ERRORS);
	for (unsigned i = 0; i < errs.n; i++) {
		FUZZ_CHECK(memchr(errs.v[i].message, '\0', sizeof(errs.v[i].message)) != NULL);
		FUZZ_CHECK(errs.v[i].line >= 0 && (size_t)errs.v[i].line <= lines);
	}
	return 0;
}
