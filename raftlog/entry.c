/* SPDX-License-Identifier: MIT */
/*
 * entry.c - the entry envelope: encoding shared by LMDB and the wire.
 * Layout in entry.h. The checksum covers header and payload, so a flipped bit
 * anywhere is caught before an entry reaches the core.
 */
#include "duet/entry.h"
#include "duet/err.h"
#include "duet/wire.h"

static const char *const type_names[RAFT_ENTRY_TYPE_COUNT] = {
    "NOOP", "MEMBERSHIP", "MASTER", "SYNC", "STEP", "HEALTH", "TRAPS", "DELIVERED", "OPERATOR",
};

const char *raft_entry_type_name(uint8_t type)
{
	return type < RAFT_ENTRY_TYPE_COUNT ? type_names[type] : "UNKNOWN";
}

size_t raft_entry_encoded_size(const struct raft_entry *e)
{
	return RAFT_ENTRY_HEADER_BYTES + (size_t)e->len + RAFT_ENTRY_TRAILER_BYTES;
}

long raft_entry_encode(const struct raft_entry *e, void *buf, size_t cap)
{
	if (e->len > RAFT_ENTRY_MAX_PAYLOAD)
		return DUET_ETOOBIG;
	struct wire_writer w;
	wire_writer_init(&w, buf, cap);
	wire_put_u8(&w, RAFT_ENTRY_VERSION);
	wire_put_u8(&w, e->type);
	wire_put_u16(&w, 0);
	wire_put_u32(&w, e->author);
	wire_put_u64(&w, e->term);
	wire_put_u64(&w, e->index);
	wire_put_u64(&w, e->wall_ms);
	wire_put_u32(&w, e->len);
	wire_put_bytes(&w, e->data, e->len);
	if (w.err)
		return w.err;
	wire_put_u32(&w, duet_crc32c(0, buf, w.used));
	return w.err ? w.err : (long)w.used;
}

int raft_entry_decode(const void *buf, size_t len, struct raft_entry *e, size_t *used)
{
	struct wire_reader r;
	wire_reader_init(&r, buf, len);
	uint8_t version = wire_get_u8(&r);
	e->type = wire_get_u8(&r);
	uint16_t reserved = wire_get_u16(&r);
	e->author = wire_get_u32(&r);
	e->term = wire_get_u64(&r);
	e->index = wire_get_u64(&r);
	e->wall_ms = wire_get_u64(&r);
	e->len = wire_get_u32(&r);
	if (r.err)
		return r.err;
	if (e->len > RAFT_ENTRY_MAX_PAYLOAD)
		return DUET_ETOOBIG;
	const uint8_t *payload = wire_get_bytes(&r, e->len);
	size_t body = RAFT_ENTRY_HEADER_BYTES + (size_t)e->len;
	uint32_t crc = wire_get_u32(&r);
	if (r.err)
		return r.err;
	/* checksum first: a flipped bit anywhere is corruption, whatever field it hit */
	if (crc != duet_crc32c(0, buf, body))
		return DUET_ECORRUPT;
	if (version != RAFT_ENTRY_VERSION)
		return DUET_EVERSION;
	if (reserved != 0)
		return DUET_ECORRUPT;
	e->data = (uint8_t *)payload;
	if (used)
		*used = body + RAFT_ENTRY_TRAILER_BYTES;
	return 0;
}
