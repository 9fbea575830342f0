/* SPDX-License-Identifier: MIT */
/*
 * fuzz_fsm_snapshot.c - libFuzzer target for the fsm (fsm.h).
 *
 * The first byte picks a mode:
 *  - even: the rest is a snapshot. It is decoded as is, then again with its
 *    last four bytes replaced by the right crc32c (so the fuzzer gets past
 *    the checksum and reaches the structure checks). An accepted snapshot
 *    must re-encode to exactly its bytes (the encoding is canonical, its
 *    committed keys section included), with fsm_snapshot_size() plus the
 *    keys' length equal to its length, and the decoded state must
 *    take further entries (MASTER, SYNC for every member) without harm.
 *  - odd: the rest is a list of entries (u8 type, u16 little-endian length,
 *    payload) applied in order to a state that starts with a fixed
 *    three-member cluster; every entry is also described as text and JSON.
 *    The final state must survive a snapshot round trip unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "duet/fsm.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Encode → decode → encode gives the same bytes and the same state. */
static void round_trip(const struct fsm *f)
{
	size_t need = fsm_snapshot_size(f);
	FUZZ_CHECK(need > 0 && need <= FSM_SNAPSHOT_MAX_BYTES);
	uint8_t *a = malloc(need), *b = malloc(need);
	FUZZ_CHECK(a && b);
	FUZZ_CHECK(fsm_snapshot_encode(f, a, need) == (long)need);
	FUZZ_CHECK(fsm_snapshot_encode(f, a, need - 1) == DUET_ETOOBIG);
	struct fsm *g = malloc(sizeof(*g));
	FUZZ_CHECK(g != NULL);
	FUZZ_CHECK(fsm_snapshot_decode(a, need, g) == 0);
	FUZZ_CHECK(fsm_snapshot_size(g) == need);
	FUZZ_CHECK(fsm_snapshot_encode(g, b, need) == (long)need);
	FUZZ_CHECK(memcmp(a, b, need) == 0);
	free(g);
	free(a);
	free(b);
}

static void apply_one(struct fsm *f, uint8_t type, const uint8_t *payload, uint32_t len)
{
	if (f->applied_index == UINT64_MAX || f->applied_term == UINT64_MAX)
		return; /* a decoded snapshot at the end of the index space */
	struct raft_entry e = {.term = 1 + f->applied_term,
			       .index = f->applied_index + 1,
			       .wall_ms = 1,
			       .author = 1,
			       .type = type,
			       .len = len,
			       .data = (uint8_t *)payload};
	struct fsm_result res;
	FUZZ_CHECK(fsm_apply(f, &e, &res) == 0);
	FUZZ_CHECK(res.outcome == FSM_APPLIED || res.outcome == FSM_REFUSED);
	FUZZ_CHECK(f->applied_index == e.index);
	/* the master is always a DATA member and never SYNC */
	if (f->master.node) {
		const struct duet_member *m = duet_membership_find(&f->membership, f->master.node);
		FUZZ_CHECK(m && m->kind == DUET_MEMBER_DATA);
		FUZZ_CHECK(fsm_role_of(f, f->master.node) == FSM_ROLE_MASTER);
	}
	char text[256];
	int n = fsm_describe_entry(&e, text, sizeof(text));
	FUZZ_CHECK(n >= 0 &&
		   strlen(text) == ((size_t)n < sizeof(text) ? (size_t)n : sizeof(text) - 1));
	int j = fsm_entry_json(&e, NULL, 0);
	FUZZ_CHECK(j > 0);
	char *json = malloc((size_t)j + 1);
	FUZZ_CHECK(json != NULL);
	FUZZ_CHECK(fsm_entry_json(&e, json, (size_t)j + 1) == j);
	for (int i = 0; i < j; i++)
		FUZZ_CHECK((unsigned char)json[i] >= 0x20); /* control characters escaped */
	free(json);
}

static void drive(struct fsm *f)
{
	for (uint32_t i = 0; i < f->membership.n; i++) {
		uint32_t id = f->membership.members[i].id;
		uint8_t buf[1024];
		struct duet_sync s = {.node = id, .on = 1};
		long len = duet_sync_encode(&s, buf, sizeof(buf));
		FUZZ_CHECK(len > 0);
		apply_one(f, RAFT_ENTRY_SYNC, buf, (uint32_t)len);
		struct duet_master m = {
		    .node = id, .previous = f->master.node, .reason = DUET_MASTER_FAILOVER};
		len = duet_master_encode(&m, buf, sizeof(buf));
		FUZZ_CHECK(len > 0);
		apply_one(f, RAFT_ENTRY_MASTER, buf, (uint32_t)len);
	}
}

static void fuzz_snapshot(const uint8_t *in, size_t len)
{
	struct fsm *f = malloc(sizeof(*f));
	FUZZ_CHECK(f != NULL);
	uint8_t *copy = malloc(len + 1);
	FUZZ_CHECK(copy != NULL);
	memcpy(copy, in, len);
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			if (len < 4)
				break;
			fuzz_put_le32(copy + len - 4, duet_crc32c(0, copy, len - 4));
		}
		fsm_init(f);
		const uint8_t *keys;
		uint32_t keys_len;
		if (fsm_snapshot_decode_keys(copy, len, f, &keys, &keys_len) != 0)
			continue;
		FUZZ_CHECK(keys_len <= FSM_SNAPSHOT_KEYS_MAX_BYTES);
		FUZZ_CHECK(!keys_len || (keys >= copy && keys + keys_len <= copy + len));
		if (len > 4 && copy[4] == FSM_SNAPSHOT_VERSION) { /* 1 is read, not written */
			FUZZ_CHECK(fsm_snapshot_size(f) + keys_len == len);
			uint8_t *out = malloc(len);
			FUZZ_CHECK(out != NULL);
			FUZZ_CHECK(fsm_snapshot_encode_keys(f, keys, keys_len, out, len) ==
				   (long)len);
			FUZZ_CHECK(memcmp(out, copy, len) == 0);
			free(out);
		}
		/* the trap floor never passes the applied index */
		FUZZ_CHECK(fsm_trap_floor(f) <= f->applied_index);
		drive(f);
		round_trip(f);
	}
	free(copy);
	free(f);
}

static void fuzz_entries(const uint8_t *in, size_t len)
{
	struct fsm *f = malloc(sizeof(*f));
	FUZZ_CHECK(f != NULL);
	fsm_init(f);
	struct duet_membership c;
	memset(&c, 0, sizeof(c));
	c.n = 3;
	for (uint32_t i = 0; i < 3; i++) {
		c.members[i].id = i + 1;
		c.members[i].kind = i == 2 ? DUET_MEMBER_WITNESS : DUET_MEMBER_DATA;
		c.members[i].incarnation = 1;
		c.members[i].name[0] = (char)('a' + i);
		c.members[i].n_addrs = 1;
		memcpy(c.members[i].addrs[0], "h:1", 4);
	}
	uint8_t conf[2048];
	long clen = duet_membership_encode(&c, conf, sizeof(conf));
	FUZZ_CHECK(clen > 0);
	apply_one(f, RAFT_ENTRY_MEMBERSHIP, conf, (uint32_t)clen);
	while (len >= 3) {
		uint8_t type = in[0];
		size_t n = (size_t)in[1] | (size_t)in[2] << 8;
		in += 3;
		len -= 3;
		if (n > len)
			n = len;
		uint8_t *payload = malloc(n + 1); /* exact copy: ASan sees over-reads */
		FUZZ_CHECK(payload != NULL);
		memcpy(payload, in, n);
		apply_one(f, type, n ? payload : NULL, (uint32_t)n);
		free(payload);
		in += n;
		len -= n;
	}
	round_trip(f);
	free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1)
		fuzz_entries(data + 1, size - 1);
	else
		fuzz_snapshot(data + 1, size - 1);
	return 0;
}
