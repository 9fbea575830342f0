/* SPDX-License-Identifier: MIT */
/*
 * fuzz_frame.c - libFuzzer target for xport_frame_decode() (transport.h).
 *
 * Any input must be refused without an overread, or decoded into a frame
 * whose payload lies inside the input and which re-encodes to exactly the
 * bytes consumed. Each input is also tried with its checksum recomputed so
 * that the fuzzer gets past the crc to the fields behind it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "duet/transport.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_frame(const uint8_t *data, size_t size)
{
	struct xport_frame f;
	size_t used = 0;
	uint32_t plen;
	int hrc = xport_frame_header_decode(data, size, 1u << 20, &plen);
	int rc = xport_frame_decode(data, size, 1u << 20, &f, &used);
	if (hrc) {
		FUZZ_CHECK(rc == hrc);
		return;
	}
	FUZZ_CHECK(plen <= 1u << 20);
	if (rc)
		return;
	FUZZ_CHECK(used == xport_frame_size(f.len) && used <= size);
	FUZZ_CHECK(f.payload == data + XPORT_FRAME_HEADER_BYTES);
	uint8_t *buf = malloc(used);
	FUZZ_CHECK(buf != NULL);
	FUZZ_CHECK(xport_frame_encode(f.type, f.payload, f.len, buf, used) == (long)used);
	FUZZ_CHECK(memcmp(buf, data, used) == 0);
	FUZZ_CHECK(xport_frame_encode(f.type, f.payload, f.len, buf, used - 1) == DUET_ETOOBIG);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_frame(data, size);
	uint32_t plen;
	if (xport_frame_header_decode(data, size, 1u << 20, &plen) != 0 ||
	    size < xport_frame_size(plen))
		return 0;
	size_t body = XPORT_FRAME_HEADER_BYTES + (size_t)plen;
	uint8_t *copy = malloc(size);
	FUZZ_CHECK(copy != NULL);
	memcpy(copy, data, size);
	fuzz_put_le32(copy + body, duet_crc32c(0, copy, body));
	check_frame(copy, size);
	free(copy);
	return 0;
}
