/* SPDX-License-Identifier: MIT */
/*
 * fuzz_check.h - what the raftlog fuzz targets share: an assertion that
 * aborts (so libFuzzer records the input as a crash) and field-by-field
 * equality of decoded entries and messages.
 */
#ifndef DUET_FUZZ_CHECK_H
#define DUET_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duet/entry.h"
#include "duet/raftlog.h"

#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__,      \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static inline uint32_t fuzz_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void fuzz_put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* If buf[0..len) starts with an entry whose payload fits, rewrites its crc
 * and returns the entry's encoded size; else returns 0. */
static inline size_t fuzz_reseal_entry(uint8_t *buf, size_t len)
{
	if (len < RAFT_ENTRY_HEADER_BYTES + RAFT_ENTRY_TRAILER_BYTES)
		return 0;
	uint32_t payload = fuzz_get_le32(buf + RAFT_ENTRY_HEADER_BYTES - 4);
	if (payload > len - RAFT_ENTRY_HEADER_BYTES - RAFT_ENTRY_TRAILER_BYTES)
		return 0;
	size_t body = RAFT_ENTRY_HEADER_BYTES + (size_t)payload;
	fuzz_put_le32(buf + body, duet_crc32c(0, buf, body));
	return body + RAFT_ENTRY_TRAILER_BYTES;
}

static inline int fuzz_entry_equal(const struct raft_entry *a, const struct raft_entry *b)
{
	return a->term == b->term && a->index == b->index && a->wall_ms == b->wall_ms &&
	       a->author == b->author && a->type == b->type && a->len == b->len &&
	       (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static inline int fuzz_msg_equal(const struct raft_msg *a, const struct raft_msg *b)
{
	if (a->type != b->type || a->from != b->from || a->to != b->to ||
	    a->from_incarnation != b->from_incarnation || a->term != b->term)
		return 0;
	switch (a->type) {
	case RAFT_MSG_PREVOTE:
	case RAFT_MSG_VOTE:
		return a->vote.last_index == b->vote.last_index &&
		       a->vote.last_term == b->vote.last_term &&
		       a->vote.transfer == b->vote.transfer;
	case RAFT_MSG_PREVOTE_RESP:
	case RAFT_MSG_VOTE_RESP:
		return a->vote_resp.granted == b->vote_resp.granted;
	case RAFT_MSG_APPEND:
		if (a->append.prev_index != b->append.prev_index ||
		    a->append.prev_term != b->append.prev_term ||
		    a->append.commit != b->append.commit ||
		    a->append.lease_ts != b->append.lease_ts ||
		    a->append.n_entries != b->append.n_entries)
			return 0;
		for (uint32_t i = 0; i < a->append.n_entries; i++)
			if (!fuzz_entry_equal(&a->append.entries[i], &b->append.entries[i]))
				return 0;
		return 1;
	case RAFT_MSG_APPEND_RESP:
		return a->append_resp.success == b->append_resp.success &&
		       a->append_resp.match_index == b->append_resp.match_index &&
		       a->append_resp.last_index == b->append_resp.last_index &&
		       a->append_resp.lease_ts == b->append_resp.lease_ts;
	case RAFT_MSG_SNAPSHOT:
		/* decoders zero the membership first, so memcmp is exact */
		return a->snapshot.meta.index == b->snapshot.meta.index &&
		       a->snapshot.meta.term == b->snapshot.meta.term &&
		       memcmp(&a->snapshot.meta.conf, &b->snapshot.meta.conf,
			      sizeof a->snapshot.meta.conf) == 0 &&
		       a->snapshot.lease_ts == b->snapshot.lease_ts &&
		       a->snapshot.len == b->snapshot.len &&
		       (a->snapshot.len == 0 ||
			memcmp(a->snapshot.data, b->snapshot.data, a->snapshot.len) == 0);
	default:
		return 1;
	}
}

#endif
