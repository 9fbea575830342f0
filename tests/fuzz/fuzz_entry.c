/* SPDX-License-Identifier: MIT */
/*
 * fuzz_entry.c - libFuzzer target for raft_entry_decode() (entry.h).
 *
 * Any input must be refused or decoded without reading past its end (ASan
 * watches). An accepted entry must re-encode to exactly the bytes it was
 * read from, apart from the reserved field, which the decoder ignores, and
 * the crc that covers it; and that re-encoding must decode to the same entry.
 *
 * A random input almost never carries a valid crc, so each input is also
 * tried with its crc recomputed: that lets the fuzzer explore the fields
 * behind the checksum.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "duet/entry.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_entry(const uint8_t *data, size_t size)
{
	struct raft_entry e, again;
	size_t used = 0, used_again = 0;
	if (raft_entry_decode(data, size, &e, &used) != 0)
		return;
	FUZZ_CHECK(used <= size);
	FUZZ_CHECK(used == raft_entry_encoded_size(&e));
	FUZZ_CHECK(e.len == 0 || (e.data >= data && e.data + e.len <= data + used));

	uint8_t *buf = malloc(used);
	FUZZ_CHECK(buf != NULL);
	FUZZ_CHECK(raft_entry_encode(&e, buf, used) == (long)used);
	FUZZ_CHECK(raft_entry_encode(&e, buf, used - 1) == DUET_ETOOBIG);
	FUZZ_CHECK(raft_entry_decode(buf, used, &again, &used_again) == 0);
	FUZZ_CHECK(used_again == used);
	FUZZ_CHECK(fuzz_entry_equal(&e, &again));
	/* bytes: everything but reserved (2..3) and crc is identical */
	FUZZ_CHECK(memcmp(buf, data, 2) == 0);
	FUZZ_CHECK(memcmp(buf + 4, data + 4, used - 8) == 0);
	if (data[2] == 0 && data[3] == 0)
		FUZZ_CHECK(memcmp(buf, data, used) == 0);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_entry(data, size);
	uint8_t *copy = malloc(size ? size : 1);
	FUZZ_CHECK(copy != NULL);
	memcpy(copy, data, size);
	if (fuzz_reseal_entry(copy, size))
		check_entry(copy, size);
	free(copy);
	return 0;
}
