/* SPDX-License-Identifier: MIT */
/*
 * collect.h - a duet_syslog_frame_cb that keeps copies of every frame, so
 * that tests can compare what a stream handed out, whatever the chunking.
 */
#ifndef DUET_TEST_SYSLOG_COLLECT_H
#define DUET_TEST_SYSLOG_COLLECT_H

#include <stddef.h>
#include <stdint.h>

#include "duet/traps_syslog.h"

struct collected_frame {
	int err;
	const char *reason;
	uint8_t framing;
	uint64_t offset;
	uint64_t frame_len;
	char *msg; /* NUL-terminated copy (messages may hold NUL only via octet counting) */
	size_t len;
};

struct collected {
	struct collected_frame *f;
	size_t n;
	size_t cap;
	size_t stop_after; /* the callback returns 99 on this frame (1-based); 0 = never */
};

int collect_cb(void *data, const struct duet_syslog_frame *f);
void collected_free(struct collected *c);

/* Feeds bytes[0..len) in chunks of `chunk` bytes (0 = one chunk), then
 * finish; asserts that every call returns 0. Stats go to *stats if not
 * NULL. */
void feed_all(const void *bytes, size_t len, size_t chunk, uint32_t max_frame, struct collected *c,
	      struct duet_syslog_stream_stats *stats);

/* Asserts that a and b hold the same frames. */
void assert_same_frames(const struct collected *a, const struct collected *b, const char *what);

#endif
