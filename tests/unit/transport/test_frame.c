/* SPDX-License-Identifier: MIT */
/*
 * test_frame.c - the frame codec of transport.h: round trip, every
 * truncation, every single-bit flip, and oversized lengths refused from
 * the header alone.
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "duet/transport.h"

static long encode(uint8_t type, const uint8_t *p, uint32_t len, uint8_t *buf, size_t cap)
{
	long n = xport_frame_encode(type, p, len, buf, cap);
	cr_assert_eq(n, (long)xport_frame_size(len));
	return n;
}

Test(frame, round_trip)
{
	uint8_t payload[300], buf[400];
	for (unsigned i = 0; i < sizeof payload; i++)
		payload[i] = (uint8_t)(i * 7);
	uint32_t lens[] = {0, 1, 299, 300};
	for (unsigned k = 0; k < 4; k++) {
		long n = encode(9, payload, lens[k], buf, sizeof buf);
		struct xport_frame f;
		size_t used = 0;
		cr_assert_eq(xport_frame_decode(buf, (size_t)n, 1000, &f, &used), 0);
		cr_assert_eq(used, (size_t)n);
		cr_assert_eq(f.type, 9);
		cr_assert_eq(f.len, lens[k]);
		cr_assert(f.len == 0 || memcmp(f.payload, payload, f.len) == 0);
		/* trailing bytes (the next frame) are left alone */
		cr_assert_eq(xport_frame_decode(buf, sizeof buf, 1000, &f, &used), 0);
		cr_assert_eq(used, (size_t)n);
	}
	cr_assert_eq(xport_frame_encode(1, payload, 300, buf, 315), DUET_ETOOBIG);
}

Test(frame, layout_is_documented_one)
{
	uint8_t buf[32];
	encode(5, (const uint8_t *)"ab", 2, buf, sizeof buf);
	const uint8_t head[] = {'D', 'U', 'E', 'T', XPORT_FRAME_VERSION, 5, 0, 0, 2, 0, 0, 0};
	cr_assert_eq(memcmp(buf, head, sizeof head), 0);
	uint32_t crc = duet_crc32c(0, buf, 14);
	cr_assert_eq(buf[14] | buf[15] << 8 | buf[16] << 16 | (uint32_t)buf[17] << 24, crc);
}

Test(frame, every_truncation_rejected)
{
	uint8_t payload[64], buf[128];
	memset(payload, 0xab, sizeof payload);
	long n = encode(3, payload, sizeof payload, buf, sizeof buf);
	for (long cut = 0; cut < n; cut++) {
		struct xport_frame f;
		uint8_t *copy = malloc((size_t)cut + 1); /* exact size: ASan sees any overread */
		memcpy(copy, buf, (size_t)cut);
		cr_assert_eq(xport_frame_decode(copy, (size_t)cut, 1000, &f, NULL), DUET_ETRUNCATED,
			     "cut at %ld", cut);
		free(copy);
	}
}

Test(frame, bit_flips_rejected)
{
	uint8_t payload[40], buf[64];
	for (unsigned i = 0; i < sizeof payload; i++)
		payload[i] = (uint8_t)i;
	long n = encode(7, payload, sizeof payload, buf, sizeof buf);
	for (long byte = 0; byte < n; byte++)
		for (int bit = 0; bit < 8; bit++) {
			buf[byte] ^= (uint8_t)(1 << bit);
			struct xport_frame f;
			int rc = xport_frame_decode(buf, (size_t)n, 1000, &f, NULL);
			cr_assert_neq(rc, 0, "flip byte %ld bit %d accepted", byte, bit);
			buf[byte] ^= (uint8_t)(1 << bit);
		}
	struct xport_frame f;
	cr_assert_eq(xport_frame_decode(buf, (size_t)n, 1000, &f, NULL), 0);
}

Test(frame, oversized_rejected_from_header)
{
	/* only the 12-byte header exists: the decision needs no payload */
	uint8_t head[XPORT_FRAME_HEADER_BYTES] = {
	    'D', 'U', 'E', 'T', XPORT_FRAME_VERSION, 1, 0, 0, 0xff, 0xff, 0xff, 0xff};
	uint32_t len = 0;
	struct xport_frame f;
	cr_assert_eq(xport_frame_header_decode(head, sizeof head, XPORT_MAX_FRAME_BYTES, &len),
		     DUET_ETOOBIG);
	cr_assert_eq(xport_frame_decode(head, sizeof head, XPORT_MAX_FRAME_BYTES, &f, NULL),
		     DUET_ETOOBIG);
	/* a configured lower limit */
	head[8] = 0x01;
	head[9] = 0x00;
	head[10] = 0x10;
	head[11] = 0x00; /* 1 MiB + 1 */
	cr_assert_eq(xport_frame_header_decode(head, sizeof head, 1u << 20, &len), DUET_ETOOBIG);
	cr_assert_eq(xport_frame_header_decode(head, sizeof head, 2u << 20, &len), 0);
	cr_assert_eq(len, (1u << 20) + 1);
	/* a limit above the maximum is capped */
	head[8] = 0x01;
	head[9] = 0x00;
	head[10] = 0x00;
	head[11] = 0x04; /* 64 MiB + 1 */
	cr_assert_eq(xport_frame_header_decode(head, sizeof head, 0xffffffffu, &len), DUET_ETOOBIG);
}

Test(frame, bad_magic_version_flags)
{
	uint8_t buf[32];
	long n = encode(1, (const uint8_t *)"x", 1, buf, sizeof buf);
	struct xport_frame f;
	uint8_t b[32];
	memcpy(b, buf, 32);
	b[0] = 'X';
	cr_assert_eq(xport_frame_decode(b, (size_t)n, 100, &f, NULL), DUET_ECORRUPT);
	memcpy(b, buf, 32);
	b[4] = 2;
	cr_assert_eq(xport_frame_decode(b, (size_t)n, 100, &f, NULL), DUET_EVERSION);
	memcpy(b, buf, 32);
	b[6] = 1;
	cr_assert_eq(xport_frame_decode(b, (size_t)n, 100, &f, NULL), DUET_ECORRUPT);
}
