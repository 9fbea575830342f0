/* SPDX-License-Identifier: MIT */
/*
 * fuzz_custom_json.c - libFuzzer target for trap_custom_parse()
 * (traps_custom.h): validation and canonicalisation of custom-trap bodies.
 *
 * Any input is either refused with a named reason and a detail, and no
 * buffers, or accepted; an accepted body's canonical bytes must be
 * accepted again and give exactly the same canonical bytes (idempotence),
 * and the sink text must be the canonical bytes inside the fixed wrapper.
 * Each input is tried with the default limits and with tight ones, so that
 * the limit paths are reached too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "duet/err.h"
#include "duet/traps_custom.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const uint8_t *data, size_t size, const struct trap_custom_limits *lim)
{
	static const char prefix[] = "{\"kind\":\"custom\",\"trap\":";
	struct trap_custom_result a, b;
	int rc = trap_custom_parse(data, size, lim, &a);
	FUZZ_CHECK(rc == 0 || rc == DUET_EINVAL || rc == DUET_ENOMEM);
	if (rc != 0) {
		FUZZ_CHECK(a.reason != TRAP_CUSTOM_OK && a.reason < TRAP_CUSTOM_N_REASONS);
		FUZZ_CHECK(a.detail[0] != 0);
		FUZZ_CHECK(memchr(a.detail, 0, sizeof a.detail) != NULL);
		FUZZ_CHECK(a.canonical == NULL && a.json == NULL);
		trap_custom_result_free(&a);
		return;
	}
	FUZZ_CHECK(a.reason == TRAP_CUSTOM_OK && a.n_items > 0);
	FUZZ_CHECK(a.canonical != NULL && strlen(a.canonical) == a.canonical_len);
	FUZZ_CHECK(a.json != NULL && strlen(a.json) == a.json_len);
	FUZZ_CHECK(a.json_len == sizeof prefix - 1 + a.canonical_len + 1);
	FUZZ_CHECK(memcmp(a.json, prefix, sizeof prefix - 1) == 0);
	FUZZ_CHECK(memcmp(a.json + sizeof prefix - 1, a.canonical, a.canonical_len) == 0);
	FUZZ_CHECK(a.json[a.json_len - 1] == '}');
	/* compact: no raw whitespace or control byte anywhere (escaped in strings) */
	for (size_t i = 0; i < a.canonical_len; i++)
		FUZZ_CHECK((unsigned char)a.canonical[i] > 0x20 || a.canonical[i] == ' ');
	rc = trap_custom_parse(a.canonical, a.canonical_len, lim, &b);
	FUZZ_CHECK(rc == 0);
	FUZZ_CHECK(b.canonical_len == a.canonical_len);
	FUZZ_CHECK(memcmp(b.canonical, a.canonical, a.canonical_len) == 0);
	FUZZ_CHECK(b.n_items == a.n_items);
	trap_custom_result_free(&a);
	trap_custom_result_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check(data, size, NULL);
	struct trap_custom_limits tight = {.max_items = 3, .max_depth = 4, .max_string_bytes = 16};
	check(data, size, &tight);
	return 0;
}
