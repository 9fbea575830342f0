/* SPDX-License-Identifier: MIT */
/*
 * msg.c - the byte form of struct raft_msg (wire layout in raftlog.h).
 *
 * Per type, after the common header:
 *   PREVOTE, VOTE          last_index u64, last_term u64, transfer u8
 *   PREVOTE_RESP, VOTE_RESP granted u8
 *   APPEND                 prev_index, prev_term, commit, lease_ts (u64),
 *                          n_entries u32, entries (raft_entry_encode, each
 *                          self-delimiting and with its own crc)
 *   APPEND_RESP            success u8, match_index, last_index, lease_ts (u64)
 *   SNAPSHOT               meta.index u64, meta.term u64, u32 length +
 *                          duet_membership_encode(meta.conf), lease_ts u64,
 *                          len u32, data
 *   TIMEOUT_NOW            nothing
 * then u32 crc32c of every byte before it.
 *
 * Decoding order matters for a fuzz target fed by the network: the total
 * size is bounded, then the crc is checked before any field is believed,
 * then version, type and the fields. Every count is checked against the
 * bytes that remain before anything is allocated, so a forged n_entries
 * cannot make us allocate more than a small multiple of the message size.
 *
 * A decoded message owns at most one heap block (m->owned): the entries array
 * followed by copies of their payloads, or the snapshot data. Nothing in a
 * decoded message points into the caller's buffer, so the buffer may be
 * reused at once. The encoding is canonical (flags 0/1, reserved 0, no
 * trailing bytes), except inside entries, whose reserved field entry.c
 * ignores.
 */
#include <stdlib.h>
#include <string.h>

#include "duet/raftlog.h"
#include "duet/wire.h"

#define MSG_HEADER_BYTES   28 /* version .. term, version 1 */
#define MSG_STORE_ID_BYTES 8  /* version 2: from_store_id after from_incarnation */
#define MSG_TRAILER_BYTES  4  /* crc32c */
#define ENTRY_MIN_BYTES    (RAFT_ENTRY_HEADER_BYTES + RAFT_ENTRY_TRAILER_BYTES)

/* Largest duet_membership_encode() output: version, n, and per member id,
 * kind, incarnation, store id, name, n_addrs and addresses at their longest. */
#define MEMBERSHIP_MAX_BYTES                                                                       \
	(1 + 4 +                                                                                   \
	 DUET_MAX_MEMBERS * (4 + 1 + 8 + 8 + 2 + (DUET_NAME_MAX - 1) + 1 +                         \
			     DUET_MAX_ADDRS * (2 + (DUET_ADDR_MAX - 1))))

static const char *const type_names[] = {
    [RAFT_MSG_PREVOTE] = "PREVOTE",   [RAFT_MSG_PREVOTE_RESP] = "PREVOTE_RESP",
    [RAFT_MSG_VOTE] = "VOTE",         [RAFT_MSG_VOTE_RESP] = "VOTE_RESP",
    [RAFT_MSG_APPEND] = "APPEND",     [RAFT_MSG_APPEND_RESP] = "APPEND_RESP",
    [RAFT_MSG_SNAPSHOT] = "SNAPSHOT", [RAFT_MSG_TIMEOUT_NOW] = "TIMEOUT_NOW",
};

const char *raft_msg_type_name(uint8_t type)
{
	if (type < sizeof type_names / sizeof type_names[0] && type_names[type])
		return type_names[type];
	return "UNKNOWN";
}

static int type_valid(uint8_t type)
{
	return type >= RAFT_MSG_PREVOTE && type <= RAFT_MSG_TIMEOUT_NOW;
}

static int is_flag(uint8_t v)
{
	return v <= 1;
}

/* Encodes the snapshot's membership into out[MEMBERSHIP_MAX_BYTES]. */
static long encode_conf(const struct raft_msg *m, uint8_t *out)
{
	return duet_membership_encode(&m->snapshot.meta.conf, out, MEMBERSHIP_MAX_BYTES);
}

/* Size of the type-specific fields; conf_len is the encoded membership
 * length (SNAPSHOT only). */
static size_t body_size(const struct raft_msg *m, size_t conf_len)
{
	size_t n = 0;
	switch (m->type) {
	case RAFT_MSG_PREVOTE:
	case RAFT_MSG_VOTE:
		return 8 + 8 + 1;
	case RAFT_MSG_PREVOTE_RESP:
	case RAFT_MSG_VOTE_RESP:
		return 1;
	case RAFT_MSG_APPEND:
		n = 4 * 8 + 4;
		for (uint32_t i = 0; m->append.entries && i < m->append.n_entries; i++)
			n += raft_entry_encoded_size(&m->append.entries[i]);
		return n;
	case RAFT_MSG_APPEND_RESP:
		return 1 + 3 * 8;
	case RAFT_MSG_SNAPSHOT:
		return 8 + 8 + 4 + conf_len + 8 + 4 + (size_t)m->snapshot.len;
	default:
		return 0;
	}
}

size_t raft_msg_encoded_size(const struct raft_msg *m)
{
	size_t conf_len = 0;
	if (m->type == RAFT_MSG_SNAPSHOT) {
		uint8_t conf[MEMBERSHIP_MAX_BYTES];
		long rc = encode_conf(m, conf);
		conf_len = rc > 0 ? (size_t)rc : 0; /* invalid: encode refuses anyway */
	}
	return MSG_HEADER_BYTES + (m->from_store_id ? MSG_STORE_ID_BYTES : 0) +
	       body_size(m, conf_len) + MSG_TRAILER_BYTES;
}

/* Moves the writer past n bytes written directly into w->p. */
static void writer_skip(struct wire_writer *w, size_t n)
{
	w->p += n;
	w->left -= n;
	w->used += n;
}

static int check_for_encode(const struct raft_msg *m)
{
	switch (m->type) {
	case RAFT_MSG_PREVOTE:
	case RAFT_MSG_VOTE:
		return is_flag(m->vote.transfer) ? 0 : DUET_EINVAL;
	case RAFT_MSG_PREVOTE_RESP:
	case RAFT_MSG_VOTE_RESP:
		return is_flag(m->vote_resp.granted) ? 0 : DUET_EINVAL;
	case RAFT_MSG_APPEND:
		if (m->append.n_entries && !m->append.entries)
			return DUET_EINVAL;
		for (uint32_t i = 0; i < m->append.n_entries; i++) {
			const struct raft_entry *e = &m->append.entries[i];
			if (e->len > RAFT_ENTRY_MAX_PAYLOAD)
				return DUET_ETOOBIG;
			if (e->len && !e->data)
				return DUET_EINVAL;
		}
		return 0;
	case RAFT_MSG_APPEND_RESP:
		return is_flag(m->append_resp.success) ? 0 : DUET_EINVAL;
	case RAFT_MSG_SNAPSHOT:
		return m->snapshot.len && !m->snapshot.data ? DUET_EINVAL : 0;
	case RAFT_MSG_TIMEOUT_NOW:
		return 0;
	default:
		return DUET_EINVAL;
	}
}

long raft_msg_encode(const struct raft_msg *m, void *buf, size_t cap)
{
	int rc = check_for_encode(m);
	if (rc)
		return rc;
	uint8_t conf[MEMBERSHIP_MAX_BYTES];
	size_t conf_len = 0;
	if (m->type == RAFT_MSG_SNAPSHOT) {
		long n = encode_conf(m, conf);
		if (n < 0)
			return n;
		conf_len = (size_t)n;
	}
	size_t total = MSG_HEADER_BYTES + (m->from_store_id ? MSG_STORE_ID_BYTES : 0) +
		       body_size(m, conf_len) + MSG_TRAILER_BYTES;
	if (total > RAFT_MSG_MAX_BYTES || total > cap)
		return DUET_ETOOBIG;

	struct wire_writer w;
	wire_writer_init(&w, buf, cap);
	wire_put_u8(&w, m->from_store_id ? RAFT_MSG_VERSION_STORE_ID : RAFT_MSG_VERSION);
	wire_put_u8(&w, m->type);
	wire_put_u16(&w, 0);
	wire_put_u32(&w, m->from);
	wire_put_u32(&w, m->to);
	wire_put_u64(&w, m->from_incarnation);
	if (m->from_store_id)
		wire_put_u64(&w, m->from_store_id);
	wire_put_u64(&w, m->term);
	switch (m->type) {
	case RAFT_MSG_PREVOTE:
	case RAFT_MSG_VOTE:
		wire_put_u64(&w, m->vote.last_index);
		wire_put_u64(&w, m->vote.last_term);
		wire_put_u8(&w, m->vote.transfer);
		break;
	case RAFT_MSG_PREVOTE_RESP:
	case RAFT_MSG_VOTE_RESP:
		wire_put_u8(&w, m->vote_resp.granted);
		break;
	case RAFT_MSG_APPEND:
		wire_put_u64(&w, m->append.prev_index);
		wire_put_u64(&w, m->append.prev_term);
		wire_put_u64(&w, m->append.commit);
		wire_put_u64(&w, m->append.lease_ts);
		wire_put_u32(&w, m->append.n_entries);
		for (uint32_t i = 0; i < m->append.n_entries && !w.err; i++) {
			long n = raft_entry_encode(&m->append.entries[i], w.p, w.left);
			if (n < 0)
				return n;
			writer_skip(&w, (size_t)n);
		}
		break;
	case RAFT_MSG_APPEND_RESP:
		wire_put_u8(&w, m->append_resp.success);
		wire_put_u64(&w, m->append_resp.match_index);
		wire_put_u64(&w, m->append_resp.last_index);
		wire_put_u64(&w, m->append_resp.lease_ts);
		break;
	case RAFT_MSG_SNAPSHOT:
		wire_put_u64(&w, m->snapshot.meta.index);
		wire_put_u64(&w, m->snapshot.meta.term);
		wire_put_u32(&w, (uint32_t)conf_len);
		wire_put_bytes(&w, conf, conf_len);
		wire_put_u64(&w, m->snapshot.lease_ts);
		wire_put_u32(&w, m->snapshot.len);
		wire_put_bytes(&w, m->snapshot.data, m->snapshot.len);
		break;
	default: /* TIMEOUT_NOW */
		break;
	}
	if (w.err)
		return w.err;
	wire_put_u32(&w, duet_crc32c(0, buf, w.used));
	return w.err ? w.err : (long)w.used;
}

/*
 * First pass over the APPEND entries: every entry must decode (its own crc
 * included) and the entries must fill the body exactly. Returns the sum of
 * their payload lengths in *payload_bytes.
 */
static int scan_entries(struct wire_reader *r, uint32_t n, size_t *payload_bytes)
{
	size_t total = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct raft_entry e;
		size_t used;
		int rc = raft_entry_decode(r->p, r->left, &e, &used);
		if (rc)
			return rc;
		total += e.len;
		wire_get_bytes(r, used);
	}
	*payload_bytes = total;
	return 0;
}

/* Second pass: the entries are known good; copy them into the block. */
static void copy_entries(const uint8_t *p, size_t left, uint32_t n, struct raft_entry *out,
			 uint8_t *data)
{
	for (uint32_t i = 0; i < n; i++) {
		size_t used = 0;
		(void)raft_entry_decode(p, left, &out[i], &used);
		if (out[i].len) {
			memcpy(data, out[i].data, out[i].len);
			out[i].data = data;
			data += out[i].len;
		} else {
			out[i].data = NULL;
		}
		p += used;
		left -= used;
	}
}

/* Decodes the fields after the header; pointers (entries, snapshot data)
 * are left pointing into the input, to be copied by the caller. */
static int decode_body(struct wire_reader *r, struct raft_msg *m, const uint8_t **entries_at,
		       size_t *entries_len, size_t *payload_bytes)
{
	int rc;
	switch (m->type) {
	case RAFT_MSG_PREVOTE:
	case RAFT_MSG_VOTE:
		m->vote.last_index = wire_get_u64(r);
		m->vote.last_term = wire_get_u64(r);
		m->vote.transfer = wire_get_u8(r);
		if (r->err)
			return r->err;
		return is_flag(m->vote.transfer) ? 0 : DUET_ECORRUPT;
	case RAFT_MSG_PREVOTE_RESP:
	case RAFT_MSG_VOTE_RESP:
		m->vote_resp.granted = wire_get_u8(r);
		if (r->err)
			return r->err;
		return is_flag(m->vote_resp.granted) ? 0 : DUET_ECORRUPT;
	case RAFT_MSG_APPEND:
		m->append.prev_index = wire_get_u64(r);
		m->append.prev_term = wire_get_u64(r);
		m->append.commit = wire_get_u64(r);
		m->append.lease_ts = wire_get_u64(r);
		m->append.n_entries = wire_get_u32(r);
		if (r->err)
			return r->err;
		if (m->append.n_entries > r->left / ENTRY_MIN_BYTES)
			return DUET_ETRUNCATED;
		*entries_at = r->p;
		*entries_len = r->left;
		if ((rc = scan_entries(r, m->append.n_entries, payload_bytes)))
			return rc;
		*entries_len -= r->left;
		return 0;
	case RAFT_MSG_APPEND_RESP:
		m->append_resp.success = wire_get_u8(r);
		m->append_resp.match_index = wire_get_u64(r);
		m->append_resp.last_index = wire_get_u64(r);
		m->append_resp.lease_ts = wire_get_u64(r);
		if (r->err)
			return r->err;
		return is_flag(m->append_resp.success) ? 0 : DUET_ECORRUPT;
	case RAFT_MSG_SNAPSHOT: {
		m->snapshot.meta.index = wire_get_u64(r);
		m->snapshot.meta.term = wire_get_u64(r);
		uint32_t conf_len = wire_get_u32(r);
		const uint8_t *conf = wire_get_bytes(r, conf_len);
		if (r->err)
			return r->err;
		if ((rc = duet_membership_decode(conf, conf_len, &m->snapshot.meta.conf)))
			return rc;
		m->snapshot.lease_ts = wire_get_u64(r);
		m->snapshot.len = wire_get_u32(r);
		m->snapshot.data = (uint8_t *)wire_get_bytes(r, m->snapshot.len);
		if (r->err)
			return r->err;
		*payload_bytes = m->snapshot.len;
		return 0;
	}
	default: /* TIMEOUT_NOW */
		return 0;
	}
}

int raft_msg_decode(const void *buf, size_t len, struct raft_msg *m)
{
	memset(m, 0, sizeof *m);
	if (len > RAFT_MSG_MAX_BYTES)
		return DUET_ETOOBIG;
	if (len < MSG_HEADER_BYTES + MSG_TRAILER_BYTES)
		return DUET_ETRUNCATED;

	size_t body_len = len - MSG_TRAILER_BYTES;
	struct wire_reader r;
	wire_reader_init(&r, (const uint8_t *)buf + body_len, MSG_TRAILER_BYTES);
	if (wire_get_u32(&r) != duet_crc32c(0, buf, body_len))
		return DUET_ECORRUPT;

	wire_reader_init(&r, buf, body_len);
	uint8_t version = wire_get_u8(&r);
	m->type = wire_get_u8(&r);
	uint16_t reserved = wire_get_u16(&r);
	m->from = wire_get_u32(&r);
	m->to = wire_get_u32(&r);
	m->from_incarnation = wire_get_u64(&r);
	if (version == RAFT_MSG_VERSION_STORE_ID)
		m->from_store_id = wire_get_u64(&r);
	m->term = wire_get_u64(&r);

	int rc = 0;
	const uint8_t *entries_at = NULL;
	size_t entries_len = 0, payload_bytes = 0;
	if (version != RAFT_MSG_VERSION && version != RAFT_MSG_VERSION_STORE_ID)
		rc = DUET_EVERSION;
	else if (r.err) /* version 2's header is longer than the least checked above */
		rc = DUET_ETRUNCATED;
	else if (!type_valid(m->type) || reserved != 0 ||
		 (version == RAFT_MSG_VERSION_STORE_ID && !m->from_store_id))
		rc = DUET_ECORRUPT; /* canonical: version 2 only with an id */
	else if ((rc = decode_body(&r, m, &entries_at, &entries_len, &payload_bytes)) == 0)
		rc = r.left ? DUET_ECORRUPT : 0; /* trailing bytes */
	if (rc) {
		memset(m, 0, sizeof *m);
		return rc;
	}

	size_t array_bytes = 0;
	if (m->type == RAFT_MSG_APPEND)
		array_bytes = (size_t)m->append.n_entries * sizeof(struct raft_entry);
	if (array_bytes + payload_bytes == 0) {
		/* nothing to own; never leave a pointer into buf */
		if (m->type == RAFT_MSG_SNAPSHOT)
			m->snapshot.data = NULL;
		return 0;
	}
	uint8_t *block = malloc(array_bytes + payload_bytes);
	if (!block) {
		memset(m, 0, sizeof *m);
		return DUET_ENOMEM;
	}
	m->owned = block;
	if (m->type == RAFT_MSG_APPEND) {
		m->append.entries = (struct raft_entry *)block;
		copy_entries(entries_at, entries_len, m->append.n_entries, m->append.entries,
			     block + array_bytes);
	} else {
		memcpy(block, m->snapshot.data, m->snapshot.len);
		m->snapshot.data = block;
	}
	return 0;
}

void raft_msg_release(struct raft_msg *m)
{
	if (!m->owned)
		return; /* not from raft_msg_decode, or nothing was allocated */
	free(m->owned);
	m->owned = NULL;
	/* the pointers went with the block */
	if (m->type == RAFT_MSG_APPEND) {
		m->append.entries = NULL;
		m->append.n_entries = 0;
	} else if (m->type == RAFT_MSG_SNAPSHOT) {
		m->snapshot.data = NULL;
		m->snapshot.len = 0;
	}
}
