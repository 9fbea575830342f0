/* SPDX-License-Identifier: MIT */
/*
 * fuzz_relp_frame.c - libFuzzer target for relp_frame_decode() and the rsp
 * and offer parsers (traps_relp_frame.h): every byte a RELP server sends
 * to the RELP sink reaches these.
 *
 * The first byte picks max_data (0 to 255, or the largest), the rest is
 * the stream. A decoded frame must lie inside the input, respect
 * max_data, and re-encode to exactly the bytes consumed; every proper
 * prefix of it must be "need more"; a refusal must stay a refusal when
 * more bytes follow (the decoder decides at the first byte that shows it).
 * The whole stream is then decoded frame after frame as the sink does.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "duet/traps_relp_frame.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_one(const uint8_t *buf, size_t len, size_t max_data)
{
	struct relp_frame f;
	size_t used = 0;
	enum relp_frame_status st = relp_frame_decode(buf, len, max_data, &f, &used);
	FUZZ_CHECK(st == RELP_FRAME_OK || st == RELP_FRAME_NEED_MORE || st == RELP_FRAME_BAD ||
		   st == RELP_FRAME_TOO_BIG);
	if (st == RELP_FRAME_BAD || st == RELP_FRAME_TOO_BIG) {
		/* more input never turns a refusal into anything else */
		uint8_t *more = malloc(len + 16);
		FUZZ_CHECK(more != NULL);
		memcpy(more, buf, len);
		memset(more + len, '\n', 16);
		struct relp_frame g;
		size_t u;
		FUZZ_CHECK(relp_frame_decode(more, len + 16, max_data, &g, &u) == st);
		free(more);
		return;
	}
	if (st != RELP_FRAME_OK)
		return;
	FUZZ_CHECK(used <= len && f.len <= max_data && f.txnr <= RELP_TXNR_MAX);
	FUZZ_CHECK(strlen(f.command) >= 1 && strlen(f.command) <= RELP_COMMAND_MAX);
	FUZZ_CHECK((f.len == 0) == (f.data == NULL));
	if (f.len)
		FUZZ_CHECK(f.data > buf && f.data + f.len < buf + used);
	FUZZ_CHECK(buf[used - 1] == '\n');
	/* re-encoded: the same bytes (leading zeros aside, which the
	 * decoder accepts and the encoder never writes) */
	size_t head = relp_frame_header_len(f.txnr, f.command, f.len);
	if (head + f.len + 1 == used) {
		char *out = malloc(used);
		FUZZ_CHECK(out != NULL);
		FUZZ_CHECK(relp_frame_header(f.txnr, f.command, f.len, out) == head);
		if (f.len)
			memcpy(out + head, f.data, f.len);
		out[head + f.len] = '\n';
		FUZZ_CHECK(memcmp(out, buf, used) == 0);
		free(out);
	}
	/* every proper prefix needs more (checked for short frames only) */
	if (used <= 128) {
		for (size_t k = 0; k < used; k++) {
			struct relp_frame g;
			size_t u;
			FUZZ_CHECK(relp_frame_decode(buf, k, max_data, &g, &u) ==
				   RELP_FRAME_NEED_MORE);
		}
	}
	struct relp_rsp r;
	if (relp_rsp_parse(f.data, f.len, &r)) {
		FUZZ_CHECK(r.code <= 999);
		FUZZ_CHECK(r.text + r.text_len <= f.data + f.len);
		FUZZ_CHECK(r.body + r.body_len <= f.data + f.len);
		(void)relp_offers_have(r.body, r.body_len, "commands", "syslog");
		(void)relp_offers_have(r.body, r.body_len, "relp_version", NULL);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t max_data = data[0] == 0xff ? RELP_DATA_MAX : data[0];
	const uint8_t *stream = data + 1;
	size_t len = size - 1;
	check_one(stream, len, max_data);
	/* the sink's loop: frame after frame until one is refused or incomplete */
	size_t at = 0;
	while (at < len) {
		struct relp_frame f;
		size_t used;
		if (relp_frame_decode(stream + at, len - at, max_data, &f, &used) != RELP_FRAME_OK)
			break;
		FUZZ_CHECK(used > 0 && used <= len - at);
		check_one(stream + at, len - at, max_data);
		at += used;
	}
	uint64_t n;
	if (len >= 4) {
		uint32_t t = fuzz_get_le32(stream);
		uint64_t oldest = len > 8 ? fuzz_get_le32(stream + 4) : 0;
		if (relp_txnr_find(t, oldest, oldest + 128, &n))
			FUZZ_CHECK(n >= oldest && n < oldest + 128 && relp_txnr_of(n) == t);
	}
	return 0;
}
