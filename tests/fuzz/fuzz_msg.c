/* SPDX-License-Identifier: MIT */
/*
 * fuzz_msg.c - libFuzzer target for raft_msg_decode() (raftlog.h).
 *
 * Any input must be refused without a leak or an overread, or decoded into a
 * message that owns its memory. An accepted message must re-encode to exactly
 * raft_msg_encoded_size() bytes, and decode(encode(decode(x))) must equal
 * decode(x). The message encoding is canonical except for the reserved field
 * inside entries, so the second encoding must also equal the first byte for
 * byte.
 *
 * A random input almost never carries valid checksums, so each input is also
 * tried with the crcs of its APPEND entries and of the message recomputed:
 * that lets the fuzzer explore the fields behind them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "duet/raftlog.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_msg(const uint8_t *data, size_t size)
{
	struct raft_msg m, again, third;
	if (raft_msg_decode(data, size, &m) != 0) {
		FUZZ_CHECK(m.owned == NULL);
		return;
	}
	size_t n = raft_msg_encoded_size(&m);
	FUZZ_CHECK(n == size); /* every field has one length */
	uint8_t *buf = malloc(n);
	FUZZ_CHECK(buf != NULL);
	FUZZ_CHECK(raft_msg_encode(&m, buf, n) == (long)n);
	FUZZ_CHECK(raft_msg_encode(&m, buf, n - 1) == DUET_ETOOBIG);
	FUZZ_CHECK(raft_msg_decode(buf, n, &again) == 0);
	FUZZ_CHECK(fuzz_msg_equal(&m, &again));
	if (m.type != RAFT_MSG_APPEND)
		FUZZ_CHECK(memcmp(buf, data, n) == 0);

	uint8_t *buf2 = malloc(n);
	FUZZ_CHECK(buf2 != NULL);
	FUZZ_CHECK(raft_msg_encode(&again, buf2, n) == (long)n);
	FUZZ_CHECK(memcmp(buf, buf2, n) == 0);
	FUZZ_CHECK(raft_msg_decode(buf2, n, &third) == 0);
	FUZZ_CHECK(fuzz_msg_equal(&m, &third));

	raft_msg_release(&m);
	raft_msg_release(&again);
	raft_msg_release(&third);
	FUZZ_CHECK(m.owned == NULL);
	free(buf);
	free(buf2);
}

#define MSG_HEADER_BYTES   28
#define APPEND_FIXED_BYTES (4 * 8 + 4) /* prev_index .. n_entries */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_msg(data, size);
	if (size < MSG_HEADER_BYTES + 4)
		return 0;
	uint8_t *copy = malloc(size);
	FUZZ_CHECK(copy != NULL);
	memcpy(copy, data, size);
	size_t body = size - 4;
	if (copy[1] == RAFT_MSG_APPEND && body >= MSG_HEADER_BYTES + APPEND_FIXED_BYTES) {
		size_t off = MSG_HEADER_BYTES + APPEND_FIXED_BYTES;
		uint32_t n = fuzz_get_le32(copy + off - 4);
		for (uint32_t i = 0; i < n; i++) {
			size_t used = fuzz_reseal_entry(copy + off, body - off);
			if (used == 0)
				break;
			off += used;
		}
	}
	fuzz_put_le32(copy + body, duet_crc32c(0, copy, body));
	check_msg(copy, size);
	free(copy);
	return 0;
}
