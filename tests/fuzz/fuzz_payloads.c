/* SPDX-License-Identifier: MIT */
/*
 * fuzz_payloads.c - libFuzzer target for the typed entry payloads (entry.h).
 *
 * The first byte picks the decoder (membership, master, sync, step, health,
 * operator, delivered, traps); the rest is its input. The payload encodings
 * are canonical, so an accepted input must re-encode to exactly itself, and
 * decoding that again must give an identical struct (decoders zero their
 * output, so memcmp compares every field). TRAPS goes through the iterator,
 * which must hand out exactly the announced number of traps, with payload
 * pointers inside the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "duet/entry.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decode, re-encode into a buffer of exactly `size` bytes, compare bytes,
 * decode again, compare structs. */
#define ROUND_TRIP(type, decode, encode)                                                           \
	do {                                                                                       \
		type a, b;                                                                         \
		if (decode(in, len, &a) != 0)                                                      \
			return 0;                                                                  \
		uint8_t *buf = malloc(len + 1);                                                    \
		FUZZ_CHECK(buf != NULL);                                                           \
		FUZZ_CHECK(encode(&a, buf, len + 1) == (long)len);                                 \
		FUZZ_CHECK(len == 0 || encode(&a, buf, len - 1) == DUET_ETOOBIG);                  \
		FUZZ_CHECK(memcmp(buf, in, len) == 0);                                             \
		FUZZ_CHECK(decode(buf, len, &b) == 0);                                             \
		FUZZ_CHECK(memcmp(&a, &b, sizeof a) == 0);                                         \
		free(buf);                                                                         \
	} while (0)

static int fuzz_traps(const uint8_t *in, size_t len)
{
	struct duet_traps_iter it;
	uint32_t count;
	if (duet_traps_iter_init(&it, in, len, &count) != 0)
		return 0;
	/* iter_init bounds count by the bytes present, so this stays small */
	FUZZ_CHECK(count <= len);
	struct duet_trap *t = calloc(count ? count : 1, sizeof *t);
	FUZZ_CHECK(t != NULL);
	for (uint32_t i = 0; i < count; i++) {
		FUZZ_CHECK(duet_traps_next(&it, &t[i]) == 1);
		FUZZ_CHECK(t[i].len <= DUET_TRAP_MAX_PAYLOAD);
		FUZZ_CHECK(t[i].len == 0 ||
			   (t[i].payload >= in && t[i].payload + t[i].len <= in + len));
	}
	struct duet_trap end;
	FUZZ_CHECK(duet_traps_next(&it, &end) == 0);

	uint8_t *buf = malloc(len + 1);
	FUZZ_CHECK(buf != NULL);
	FUZZ_CHECK(duet_traps_encode(t, count, buf, len + 1) == (long)len);
	FUZZ_CHECK(memcmp(buf, in, len) == 0);

	struct duet_traps_iter it2;
	uint32_t count2;
	FUZZ_CHECK(duet_traps_iter_init(&it2, buf, len, &count2) == 0);
	FUZZ_CHECK(count2 == count);
	for (uint32_t i = 0; i < count; i++) {
		struct duet_trap u;
		FUZZ_CHECK(duet_traps_next(&it2, &u) == 1);
		FUZZ_CHECK(memcmp(u.identity, t[i].identity, sizeof u.identity) == 0);
		FUZZ_CHECK(u.ordinal == t[i].ordinal && u.recv_ms == t[i].recv_ms &&
			   u.receiver == t[i].receiver && u.kind == t[i].kind && u.len == t[i].len);
		FUZZ_CHECK(memcmp(u.sender, t[i].sender, sizeof u.sender) == 0);
		FUZZ_CHECK(u.len == 0 || memcmp(u.payload, t[i].payload, u.len) == 0);
	}
	FUZZ_CHECK(duet_traps_next(&it2, &end) == 0);
	free(buf);
	free(t);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const uint8_t *in = data + 1;
	size_t len = size - 1;
	switch (data[0] % 8) {
	case 0: {
		ROUND_TRIP(struct duet_membership, duet_membership_decode, duet_membership_encode);
		/* decoded memberships satisfy the rules find relies on */
		struct duet_membership c;
		FUZZ_CHECK(duet_membership_decode(in, len, &c) == 0);
		FUZZ_CHECK(c.n <= DUET_MAX_MEMBERS);
		for (uint32_t i = 0; i < c.n; i++)
			FUZZ_CHECK(duet_membership_find(&c, c.members[i].id) == &c.members[i]);
		FUZZ_CHECK(duet_membership_find(&c, 0) == NULL);
		break;
	}
	case 1:
		ROUND_TRIP(struct duet_master, duet_master_decode, duet_master_encode);
		break;
	case 2:
		ROUND_TRIP(struct duet_sync, duet_sync_decode, duet_sync_encode);
		break;
	case 3:
		ROUND_TRIP(struct duet_step, duet_step_decode, duet_step_encode);
		break;
	case 4:
		ROUND_TRIP(struct duet_health, duet_health_decode, duet_health_encode);
		break;
	case 5:
		ROUND_TRIP(struct duet_operator, duet_operator_decode, duet_operator_encode);
		break;
	case 6:
		ROUND_TRIP(struct duet_delivered, duet_delivered_decode, duet_delivered_encode);
		break;
	default:
		return fuzz_traps(in, len);
	}
	return 0;
}
