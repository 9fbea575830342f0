/* SPDX-License-Identifier: MIT */
/*
 * fuzz_syslog_stream.c - libFuzzer target for the RFC 6587 stream decoder
 * (traps_syslog.h).
 *
 * Input: u16 split point (little-endian), u8 frame limit, then the bytes of
 * one TCP connection. The limit byte L gives max_frame_bytes = 4 * L (0:
 * the default), so that oversized frames are reached often. The bytes are
 * fed in one chunk, in two chunks cut at the split point (modulo the
 * length), and, for short inputs, one byte at a time; each run must hand
 * out the same frames (error, reason, framing, offset, lengths, bytes) and
 * end with the same counters. Each run also checks frame by frame: offsets
 * increase, messages fit the limit, LF-framed messages hold no terminator,
 * and every message parses.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "duet/traps_syslog.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HEADER_BYTES      3
#define BYTEWISE_MAX_SIZE 4096

struct frame_rec {
	int err;
	const char *reason;
	uint8_t framing;
	uint64_t offset;
	uint64_t frame_len;
	size_t len;
	size_t at; /* in the run's arena */
};

struct run {
	uint32_t max_frame;
	struct frame_rec *f;
	size_t n;
	size_t cap;
	uint8_t *arena; /* message bytes, back to back */
	size_t used;
	size_t arena_cap;
	int have_last;
	uint64_t last_offset;
	struct duet_syslog_stream_stats stats;
};

static int on_frame(void *data, const struct duet_syslog_frame *f)
{
	struct run *r = data;
	FUZZ_CHECK(!r->have_last || f->offset > r->last_offset);
	r->have_last = 1;
	r->last_offset = f->offset;
	if (f->err == 0) {
		FUZZ_CHECK(f->reason == NULL && f->msg != NULL && f->len > 0);
		FUZZ_CHECK(f->len == f->frame_len && f->len <= r->max_frame);
		if (f->framing == DUET_SYSLOG_FRAMING_LF)
			FUZZ_CHECK(memchr(f->msg, '\n', f->len) == NULL &&
				   memchr(f->msg, '\0', f->len) == NULL);
		else
			FUZZ_CHECK(f->framing == DUET_SYSLOG_FRAMING_OCTET);
		struct duet_syslog_msg m;
		int rc = duet_syslog_parse(f->msg, f->len, &m);
		FUZZ_CHECK(rc == 0 || rc == DUET_EINVAL);
	} else {
		FUZZ_CHECK(f->err == DUET_ETOOBIG || f->err == DUET_ECORRUPT ||
			   f->err == DUET_ETRUNCATED);
		FUZZ_CHECK(f->reason != NULL && f->len == 0);
		if (f->err == DUET_ETOOBIG)
			FUZZ_CHECK(f->frame_len > r->max_frame);
	}
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 16;
		r->f = realloc(r->f, r->cap * sizeof *r->f);
		FUZZ_CHECK(r->f != NULL);
	}
	FUZZ_CHECK(r->used + f->len <= r->arena_cap);
	if (f->len)
		memcpy(r->arena + r->used, f->msg, f->len);
	r->f[r->n++] = (struct frame_rec){f->err,       f->reason, f->framing, f->offset,
					  f->frame_len, f->len,    r->used};
	r->used += f->len;
	return 0;
}

/* Feeds data[0..size) cut at each of cuts[0..n_cuts) (ascending). */
static void run_stream(struct run *r, uint32_t max_frame, const uint8_t *data, size_t size,
		       const size_t *cuts, size_t n_cuts)
{
	memset(r, 0, sizeof *r);
	r->arena_cap = size;
	r->arena = malloc(size ? size : 1);
	FUZZ_CHECK(r->arena != NULL);
	struct duet_syslog_stream st;
	FUZZ_CHECK(duet_syslog_stream_init(&st, max_frame) == 0);
	r->max_frame = st.max_frame_bytes;
	size_t from = 0;
	for (size_t k = 0; k <= n_cuts; k++) {
		size_t to = k < n_cuts ? cuts[k] : size;
		/* an exact-size copy: ASan sees a read past the chunk */
		uint8_t *chunk = malloc(to - from + 1);
		FUZZ_CHECK(chunk != NULL);
		memcpy(chunk, data + from, to - from);
		FUZZ_CHECK(duet_syslog_stream_feed(&st, chunk, to - from, on_frame, r) == 0);
		free(chunk);
		FUZZ_CHECK(st.buf_cap <= st.max_frame_bytes);
		from = to;
	}
	FUZZ_CHECK(duet_syslog_stream_finish(&st, on_frame, r) == 0);
	r->stats = st.stats;
	FUZZ_CHECK(r->stats.bytes == size);
	FUZZ_CHECK(r->stats.messages == r->stats.octet_counted + r->stats.lf_terminated);
	FUZZ_CHECK(r->stats.messages + r->stats.oversized + r->stats.bad_length +
		       r->stats.truncated ==
		   r->n);
	duet_syslog_stream_close(&st);
}

static void run_free(struct run *r)
{
	free(r->f);
	free(r->arena);
}

static void same_runs(const struct run *a, const struct run *b)
{
	FUZZ_CHECK(a->n == b->n);
	for (size_t i = 0; i < a->n; i++) {
		const struct frame_rec *x = &a->f[i], *y = &b->f[i];
		FUZZ_CHECK(x->err == y->err && x->reason == y->reason && x->framing == y->framing &&
			   x->offset == y->offset && x->frame_len == y->frame_len &&
			   x->len == y->len);
		FUZZ_CHECK(x->len == 0 || memcmp(a->arena + x->at, b->arena + y->at, x->len) == 0);
	}
	FUZZ_CHECK(memcmp(&a->stats, &b->stats, sizeof a->stats) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < HEADER_BYTES)
		return 0;
	size_t split = (size_t)(data[0] | data[1] << 8);
	uint32_t max_frame = 4u * data[2];
	data += HEADER_BYTES;
	size -= HEADER_BYTES;
	split = size ? split % (size + 1) : 0;

	struct run whole, two;
	run_stream(&whole, max_frame, data, size, NULL, 0);
	run_stream(&two, max_frame, data, size, &split, 1);
	same_runs(&whole, &two);
	run_free(&two);

	if (size <= BYTEWISE_MAX_SIZE) {
		size_t *cuts = malloc((size ? size : 1) * sizeof *cuts);
		FUZZ_CHECK(cuts != NULL);
		for (size_t i = 0; i + 1 < size; i++)
			cuts[i] = i + 1;
		struct run bytes;
		run_stream(&bytes, max_frame, data, size, cuts, size ? size - 1 : 0);
		same_runs(&whole, &bytes);
		run_free(&bytes);
		free(cuts);
	}
	run_free(&whole);
	return 0;
}
