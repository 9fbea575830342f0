/* SPDX-License-Identifier: MIT */
/*
 * audit.c - the audit chain of DESIGN.md section 3: every applied entry that
 * is not TRAPS/DELIVERED, in order, each record linked to the one before by
 * SHA-256, so `duetctl log --verify` proves nothing was changed or removed.
 *
 * Layout in storage.h ("audit chain") and store_internal.h. Why this shape:
 *  - Sequence numbers as keys (8 bytes big-endian, like the log), not entry
 *    indexes: types that are not audited leave holes in the indexes, and a
 *    chain keyed 1, 2, 3... shows a removed record as a gap by itself.
 *  - hash = SHA-256(prev_hash || record bytes before prev_hash): changing a
 *    byte of record k breaks k's hash; recomputing k's hash breaks k+1's
 *    link; only rewriting everything from k to the end AND the tail record
 *    goes unseen, which needs write access and is what an external anchor
 *    (a copy of the last hash kept elsewhere) is for.
 *  - The crc32c is separate from the hash on purpose: it tells a rotted disk
 *    block ("checksum mismatch") from a deliberate edit that fixed up the crc
 *    ("hash mismatch"), and the iterator can check a record on its own.
 *  - The tail record ("meta"/"audit_tail": last seq, last entry index, last
 *    hash) is written in the same transaction as the records. It makes
 *    appends idempotent across restarts (entries at or below its index are
 *    skipped), gives the previous hash without reading a record, and lets
 *    verify see records removed from the end, which no link can show.
 *  - Appends refuse to extend a chain whose tail and last record disagree:
 *    continuing it would bury the damage under new, valid-looking links.
 *  - Retention, not compaction: snapshots never touch "audit"; the only
 *    deletes are audit_retain's, from the front, in the appending
 *    transaction, each one after the record verified against the anchor,
 *    which moves forward with it ("meta"/"audit_anchor", storage.h). The
 *    anchor also carries the bytes stored, so a bound check costs nothing;
 *    a store from before retention gets it at its first append, by a walk.
 *
 * The database handle: stores created before the chain existed get "audit"
 * at the first writable open (store_audit_prepare). A readonly store (duetctl,
 * another process) opens it lazily in a short read transaction of its own,
 * committed so the handle stays, because LMDB forbids opening handles while
 * another transaction of the process is open (an iterator's is long-lived).
 */
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duet/wire.h"
#include "store_internal.h"

#define AUDIT_DB_NAME "audit"

const char *store_audit_fault_name(int fault)
{
	switch (fault) {
	case STORE_AUDIT_INTACT:
		return "intact";
	case STORE_AUDIT_CHECKSUM:
		return "checksum mismatch";
	case STORE_AUDIT_MALFORMED:
		return "malformed record";
	case STORE_AUDIT_GAP:
		return "sequence gap";
	case STORE_AUDIT_LINK:
		return "broken link";
	case STORE_AUDIT_HASH:
		return "hash mismatch";
	case STORE_AUDIT_ORDER:
		return "entry index out of order";
	case STORE_AUDIT_TRUNCATED:
		return "records missing at the end";
	case STORE_AUDIT_EXTRA:
		return "records past the recorded tail";
	case STORE_AUDIT_TAIL:
		return "tail record damaged or disagreeing";
	case STORE_AUDIT_ANCHOR:
		return "retention anchor damaged or disagreeing";
	}
	return "unknown fault";
}

/* ---- hashing ------------------------------------------------------------- */

static int audit_hash(const uint8_t prev[STORE_AUDIT_HASH_BYTES], const uint8_t *body, size_t len,
		      uint8_t out[STORE_AUDIT_HASH_BYTES])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;
	int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
		 EVP_DigestUpdate(ctx, prev, STORE_AUDIT_HASH_BYTES) == 1 &&
		 EVP_DigestUpdate(ctx, body, len) == 1 && EVP_DigestFinal_ex(ctx, out, &n) == 1 &&
		 n == STORE_AUDIT_HASH_BYTES;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : DUET_ENOMEM; /* OpenSSL fails here only for lack of memory */
}

/* ---- the database handle ------------------------------------------------- */

int store_audit_dbi_open(struct store *s, MDB_txn *txn, unsigned flags)
{
	int rc = store_mdb_err(mdb_dbi_open(txn, AUDIT_DB_NAME, flags, &s->audit_dbi));
	if (rc == DUET_ENOENT && !(flags & MDB_CREATE)) {
		s->audit_dbi_ok = false;
		return 0;
	}
	s->audit_dbi_ok = rc == 0;
	return rc;
}

static int audit_create_unit(struct store *s, MDB_txn *txn, void *arg)
{
	(void)arg;
	return store_audit_dbi_open(s, txn, MDB_CREATE);
}

int store_audit_prepare(struct store *s, char *errbuf, size_t errlen)
{
	if (s->audit_dbi_ok || s->readonly)
		return 0;
	int rc = store_write(s, audit_create_unit, NULL);
	if (rc)
		store_errf(errbuf, errlen, "store %s: cannot create the audit database: %s",
			   s->path, duet_strerror(rc));
	return rc;
}

/* Readers: 0 with the handle open, DUET_ENOENT if there is no chain yet. */
static int audit_ensure_read(struct store *s)
{
	if (s->audit_dbi_ok)
		return 0;
	MDB_txn *txn;
	int rc = store_read_begin(s, &txn);
	if (rc)
		return rc;
	rc = store_audit_dbi_open(s, txn, 0);
	if (rc || !s->audit_dbi_ok) {
		mdb_txn_abort(txn);
		s->audit_dbi_ok = false;
		return rc ? rc : DUET_ENOENT;
	}
	rc = store_mdb_err(mdb_txn_commit(txn)); /* a read txn's commit keeps the handle */
	s->audit_dbi_ok = rc == 0;
	return rc;
}

/* ---- the tail record ----------------------------------------------------- */

static MDB_val audit_tail_key(void)
{
	return (MDB_val){.mv_size = sizeof(STORE_KEY_AUDIT_TAIL) - 1,
			 .mv_data = (void *)STORE_KEY_AUDIT_TAIL};
}

/* All zero and 0 when there is none; DUET_ECORRUPT / DUET_EVERSION if bad. */
static int audit_tail_get(struct store *s, MDB_txn *txn, struct store_audit_tail *t, bool *found)
{
	memset(t, 0, sizeof(*t));
	*found = false;
	MDB_val k = audit_tail_key(), v;
	int rc = mdb_get(txn, s->meta_dbi, &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return store_mdb_err(rc);
	const uint8_t *p = v.mv_data;
	if (v.mv_size != STORE_AUDIT_TAIL_BYTES)
		return DUET_ECORRUPT;
	struct wire_reader r;
	wire_reader_init(&r, p + v.mv_size - 4, 4);
	if (wire_get_u32(&r) != duet_crc32c(0, p, v.mv_size - 4))
		return DUET_ECORRUPT;
	if (p[0] != STORE_RECORD_VERSION)
		return DUET_EVERSION;
	wire_reader_init(&r, p + 1, v.mv_size - 5);
	t->seq = wire_get_u64(&r);
	t->last_index = wire_get_u64(&r);
	const uint8_t *h = wire_get_bytes(&r, STORE_AUDIT_HASH_BYTES);
	if (r.err || !h)
		return DUET_ECORRUPT;
	memcpy(t->hash, h, STORE_AUDIT_HASH_BYTES);
	*found = true;
	return 0;
}

static int audit_tail_put(struct store *s, MDB_txn *txn, const struct store_audit_tail *t)
{
	uint8_t buf[STORE_AUDIT_TAIL_BYTES];
	struct wire_writer w;
	wire_writer_init(&w, buf, sizeof(buf));
	wire_put_u8(&w, STORE_RECORD_VERSION);
	wire_put_u64(&w, t->seq);
	wire_put_u64(&w, t->last_index);
	wire_put_bytes(&w, t->hash, STORE_AUDIT_HASH_BYTES);
	wire_put_u32(&w, duet_crc32c(0, buf, w.used));
	if (w.err)
		return w.err;
	MDB_val k = audit_tail_key(), v = {.mv_size = w.used, .mv_data = buf};
	return store_mdb_err(mdb_put(txn, s->meta_dbi, &k, &v, 0));
}

/* ---- the retention anchor ------------------------------------------------ */

static MDB_val audit_anchor_key(void)
{
	return (MDB_val){.mv_size = sizeof(STORE_KEY_AUDIT_ANCHOR) - 1,
			 .mv_data = (void *)STORE_KEY_AUDIT_ANCHOR};
}

/* All zero and 0 when there is none; DUET_ECORRUPT / DUET_EVERSION if bad. */
static int audit_anchor_get(struct store *s, MDB_txn *txn, struct store_audit_anchor *a,
			    bool *found)
{
	memset(a, 0, sizeof(*a));
	*found = false;
	MDB_val k = audit_anchor_key(), v;
	int rc = mdb_get(txn, s->meta_dbi, &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return store_mdb_err(rc);
	const uint8_t *p = v.mv_data;
	if (v.mv_size != STORE_AUDIT_ANCHOR_BYTES)
		return DUET_ECORRUPT;
	struct wire_reader r;
	wire_reader_init(&r, p + v.mv_size - 4, 4);
	if (wire_get_u32(&r) != duet_crc32c(0, p, v.mv_size - 4))
		return DUET_ECORRUPT;
	if (p[0] != STORE_RECORD_VERSION)
		return DUET_EVERSION;
	wire_reader_init(&r, p + 1, v.mv_size - 5);
	a->dropped = wire_get_u64(&r);
	a->seq = wire_get_u64(&r);
	a->last_index = wire_get_u64(&r);
	const uint8_t *h = wire_get_bytes(&r, STORE_AUDIT_HASH_BYTES);
	a->bytes = wire_get_u64(&r);
	a->max_bytes = wire_get_u64(&r);
	if (r.err || !h)
		return DUET_ECORRUPT;
	memcpy(a->hash, h, STORE_AUDIT_HASH_BYTES);
	/* sequences start at 1 with no gap: the count is the last seq */
	if (a->dropped != a->seq)
		return DUET_ECORRUPT;
	*found = true;
	return 0;
}

static int audit_anchor_put(struct store *s, MDB_txn *txn, const struct store_audit_anchor *a)
{
	uint8_t buf[STORE_AUDIT_ANCHOR_BYTES];
	struct wire_writer w;
	wire_writer_init(&w, buf, sizeof(buf));
	wire_put_u8(&w, STORE_RECORD_VERSION);
	wire_put_u64(&w, a->dropped);
	wire_put_u64(&w, a->seq);
	wire_put_u64(&w, a->last_index);
	wire_put_bytes(&w, a->hash, STORE_AUDIT_HASH_BYTES);
	wire_put_u64(&w, a->bytes);
	wire_put_u64(&w, a->max_bytes);
	wire_put_u32(&w, duet_crc32c(0, buf, w.used));
	if (w.err)
		return w.err;
	MDB_val k = audit_anchor_key(), v = {.mv_size = w.used, .mv_data = buf};
	return store_mdb_err(mdb_put(txn, s->meta_dbi, &k, &v, 0));
}

/* Bytes a record costs in the bound: its key and its value. */
static uint64_t audit_record_bytes(const MDB_val *v)
{
	return 8 + (uint64_t)v->mv_size;
}

/* The chain's stored bytes by a walk: once, for a store without an anchor. */
static int audit_bytes_walk(struct store *s, MDB_txn *txn, uint64_t *bytes)
{
	*bytes = 0;
	MDB_cursor *c;
	int rc = store_mdb_err(mdb_cursor_open(txn, s->audit_dbi, &c));
	if (rc)
		return rc;
	MDB_val k, v;
	int mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	for (; mrc == 0; mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
		*bytes += audit_record_bytes(&v);
	mdb_cursor_close(c);
	return mrc == MDB_NOTFOUND ? 0 : store_mdb_err(mrc);
}

/* ---- records ------------------------------------------------------------- */

/* Parses and checks one record (crc, size, version, seq == key). On failure
 * *fault says which and r->seq / r->entry.index hold what could be read. */
static int audit_parse(const MDB_val *k, const MDB_val *v, struct store_audit_record *r, int *fault)
{
	memset(r, 0, sizeof(*r));
	*fault = STORE_AUDIT_MALFORMED;
	r->seq = store_key_index(k);
	const uint8_t *p = v->mv_data;
	if (k->mv_size != 8 || v->mv_size < STORE_AUDIT_FIXED_BYTES)
		return DUET_ECORRUPT;
	struct wire_reader rd;
	wire_reader_init(&rd, p + 1 + 8, 8);
	r->entry.index = wire_get_u64(&rd); /* for the report, even if damaged */
	wire_reader_init(&rd, p + v->mv_size - 4, 4);
	if (wire_get_u32(&rd) != duet_crc32c(0, p, v->mv_size - 4)) {
		*fault = STORE_AUDIT_CHECKSUM;
		return DUET_ECORRUPT;
	}
	if (p[0] != STORE_AUDIT_VERSION)
		return DUET_ECORRUPT;
	wire_reader_init(&rd, p + 1, v->mv_size - 1);
	uint64_t seq = wire_get_u64(&rd);
	r->entry.index = wire_get_u64(&rd);
	r->entry.term = wire_get_u64(&rd);
	r->entry.type = wire_get_u8(&rd);
	r->entry.author = wire_get_u32(&rd);
	r->entry.wall_ms = wire_get_u64(&rd);
	r->entry.len = wire_get_u32(&rd);
	if (rd.err || seq != r->seq ||
	    (uint64_t)r->entry.len != v->mv_size - STORE_AUDIT_FIXED_BYTES)
		return DUET_ECORRUPT;
	r->entry.data = r->entry.len ? (uint8_t *)p + STORE_AUDIT_HEADER_BYTES : NULL;
	memcpy(r->prev_hash, p + STORE_AUDIT_HEADER_BYTES + r->entry.len, STORE_AUDIT_HASH_BYTES);
	memcpy(r->hash, p + STORE_AUDIT_HEADER_BYTES + r->entry.len + STORE_AUDIT_HASH_BYTES,
	       STORE_AUDIT_HASH_BYTES);
	*fault = STORE_AUDIT_INTACT;
	return 0;
}

/* Writes record `seq` for e after `prev`; out receives its hash. */
static int audit_put(struct store *s, MDB_txn *txn, uint64_t seq, const struct raft_entry *e,
		     const uint8_t prev[STORE_AUDIT_HASH_BYTES],
		     uint8_t out[STORE_AUDIT_HASH_BYTES])
{
	uint8_t key[8];
	store_index_key(seq, key);
	MDB_val k = {.mv_size = 8, .mv_data = key};
	MDB_val v = {.mv_size = STORE_AUDIT_FIXED_BYTES + (size_t)e->len};
	/* MDB_APPEND: the key must be past the last one, a free order check */
	int rc = store_mdb_err(mdb_put(txn, s->audit_dbi, &k, &v, MDB_RESERVE | MDB_APPEND));
	if (rc)
		return rc == DUET_EINVAL ? DUET_ECORRUPT : rc; /* KEYEXIST: out of order */
	uint8_t *p = v.mv_data;
	struct wire_writer w;
	wire_writer_init(&w, p, v.mv_size);
	wire_put_u8(&w, STORE_AUDIT_VERSION);
	wire_put_u64(&w, seq);
	wire_put_u64(&w, e->index);
	wire_put_u64(&w, e->term);
	wire_put_u8(&w, e->type);
	wire_put_u32(&w, e->author);
	wire_put_u64(&w, e->wall_ms);
	wire_put_u32(&w, e->len);
	wire_put_bytes(&w, e->data, e->len);
	rc = audit_hash(prev, p, w.used, out);
	if (rc)
		return rc;
	wire_put_bytes(&w, prev, STORE_AUDIT_HASH_BYTES);
	wire_put_bytes(&w, out, STORE_AUDIT_HASH_BYTES);
	wire_put_u32(&w, duet_crc32c(0, p, w.used));
	return w.err ? w.err : (w.used == v.mv_size ? 0 : DUET_EINVAL);
}

/* The tail record must describe the last stored record, or the chain cannot
 * be extended: returns the tail, or DUET_ECORRUPT. */
static int audit_tail_checked(struct store *s, MDB_txn *txn, struct store_audit_tail *t)
{
	bool found;
	int rc = audit_tail_get(s, txn, t, &found);
	if (rc)
		return rc == DUET_EVERSION ? rc : DUET_ECORRUPT;
	MDB_cursor *c;
	rc = store_mdb_err(mdb_cursor_open(txn, s->audit_dbi, &c));
	if (rc)
		return rc;
	MDB_val k, v;
	rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	mdb_cursor_close(c);
	if (rc == MDB_NOTFOUND)
		return t->seq == 0 ? 0 : DUET_ECORRUPT;
	if (rc)
		return store_mdb_err(rc);
	if (!found || k.mv_size != 8 || store_key_index(&k) != t->seq ||
	    v.mv_size < STORE_AUDIT_FIXED_BYTES ||
	    memcmp((const uint8_t *)v.mv_data + v.mv_size - 4 - STORE_AUDIT_HASH_BYTES, t->hash,
		   STORE_AUDIT_HASH_BYTES) != 0)
		return DUET_ECORRUPT;
	return 0;
}

/* Retention: drops the oldest records while the chain stores more than the
 * bound, at most `limit`, never the last one (seq `last`), and only records
 * that verify against the anchor (the first record present is anchor seq + 1,
 * intact, linked to the anchor hash, its hash right). A record that does not
 * stops it: damage stays for verify to report. */
static int audit_retain(struct store *s, MDB_txn *txn, struct store_audit_anchor *a, uint64_t last,
			size_t limit)
{
	MDB_cursor *c;
	int rc = store_mdb_err(mdb_cursor_open(txn, s->audit_dbi, &c));
	if (rc)
		return rc;
	for (size_t n = 0; n < limit && a->bytes > s->audit_max_bytes; n++) {
		MDB_val k, v;
		rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
		if (rc) {
			rc = rc == MDB_NOTFOUND ? 0 : store_mdb_err(rc);
			break;
		}
		struct store_audit_record rec;
		int fault;
		uint8_t h[STORE_AUDIT_HASH_BYTES];
		if (audit_parse(&k, &v, &rec, &fault) != 0 || rec.seq != a->seq + 1 ||
		    rec.seq >= last || memcmp(rec.prev_hash, a->hash, STORE_AUDIT_HASH_BYTES) != 0)
			break;
		rc = audit_hash(rec.prev_hash, v.mv_data,
				STORE_AUDIT_HEADER_BYTES + (size_t)rec.entry.len, h);
		if (rc)
			break;
		if (memcmp(h, rec.hash, sizeof(h)) != 0 || rec.entry.index <= a->last_index)
			break;
		uint64_t cost = audit_record_bytes(&v);
		rc = store_mdb_err(mdb_cursor_del(c, 0));
		if (rc)
			break;
		a->bytes = a->bytes > cost ? a->bytes - cost : 0;
		a->dropped++;
		a->seq = rec.seq;
		a->last_index = rec.entry.index;
		memcpy(a->hash, h, sizeof(h));
		a->max_bytes = s->audit_max_bytes;
	}
	mdb_cursor_close(c);
	return rc;
}

int store_audit_append_txn(struct store *s, MDB_txn *txn, const struct raft_entry *e, size_t n,
			   size_t *appended, struct store_audit_tail *tail)
{
	*appended = 0;
	if (n > 0 && !e)
		return DUET_EINVAL;
	if (!s->audit_dbi_ok)
		return DUET_EINVAL; /* readonly store without the database: never writes */
	struct store_audit_tail t;
	int rc = audit_tail_checked(s, txn, &t);
	if (rc)
		return rc;
	struct store_audit_anchor a;
	bool anchored;
	rc = audit_anchor_get(s, txn, &a, &anchored);
	if (rc)
		return rc == DUET_EVERSION ? rc
					   : DUET_ECORRUPT; /* cannot keep the bound honestly */
	if (!anchored && (rc = audit_bytes_walk(s, txn, &a.bytes)) != 0)
		return rc; /* a chain from before retention: count it once */
	size_t added = 0;
	for (size_t i = 0; i < n; i++) {
		if (e[i].index == 0 || (e[i].len && !e[i].data))
			return DUET_EINVAL;
		if (e[i].len > RAFT_ENTRY_MAX_PAYLOAD)
			return DUET_ETOOBIG;
		if (!store_audit_wants(e[i].type) || e[i].index <= t.last_index)
			continue; /* not audited, or audited already (re-applied after restart) */
		uint8_t h[STORE_AUDIT_HASH_BYTES];
		rc = audit_put(s, txn, t.seq + 1, &e[i], t.hash, h);
		if (rc)
			return rc;
		a.bytes += 8 + STORE_AUDIT_FIXED_BYTES + (uint64_t)e[i].len;
		t.seq++;
		t.last_index = e[i].index;
		memcpy(t.hash, h, sizeof(h));
		added++;
	}
	if (added)
		rc = audit_tail_put(s, txn, &t);
	if (rc == 0 && added)
		rc = audit_retain(s, txn, &a, t.seq, added + STORE_AUDIT_DROP_STEP);
	if (rc == 0 && added)
		rc = audit_anchor_put(s, txn, &a);
	if (rc == 0) {
		*appended = added;
		if (tail)
			*tail = t;
	}
	return rc;
}

struct audit_append_arg {
	const struct raft_entry *e;
	size_t n;
	size_t appended;
	struct store_audit_tail tail;
};

static int audit_append_unit(struct store *s, MDB_txn *txn, void *arg)
{
	struct audit_append_arg *a = arg;
	return store_audit_append_txn(s, txn, a->e, a->n, &a->appended, &a->tail);
}

int store_audit_append_batch(struct store *s, const struct raft_entry *e, size_t n,
			     size_t *appended)
{
	if (appended)
		*appended = 0;
	if (n > 0 && !e)
		return DUET_EINVAL;
	if (s->readonly)
		return -EROFS;
	struct audit_append_arg a = {.e = e, .n = n};
	bool any = false;
	for (size_t i = 0; i < n && !any; i++)
		any = store_audit_wants(e[i].type);
	if (!any)
		return 0; /* nothing to audit: no transaction, no fsync */
	int rc = store_write(s, audit_append_unit, &a);
	if (rc == 0 && appended)
		*appended = a.appended;
	return rc;
}

int store_audit_append(struct store *s, const struct raft_entry *e,
		       uint8_t out_hash[STORE_AUDIT_HASH_BYTES])
{
	if (!e)
		return DUET_EINVAL;
	int rc = store_audit_append_batch(s, e, 1, NULL);
	if (rc == 0 && out_hash) {
		struct store_audit_tail t;
		rc = store_audit_last(s, &t);
		if (rc == 0)
			memcpy(out_hash, t.hash, STORE_AUDIT_HASH_BYTES);
	}
	return rc;
}

int store_audit_last(struct store *s, struct store_audit_tail *t)
{
	MDB_txn *txn;
	bool found;
	int rc = store_read_begin(s, &txn);
	if (rc)
		return rc;
	rc = audit_tail_get(s, txn, t, &found);
	mdb_txn_abort(txn);
	return rc;
}

int store_audit_anchor(struct store *s, struct store_audit_anchor *a)
{
	MDB_txn *txn;
	bool found;
	int rc = store_read_begin(s, &txn);
	if (rc)
		return rc;
	rc = audit_anchor_get(s, txn, a, &found);
	mdb_txn_abort(txn);
	return rc == DUET_EVERSION ? DUET_ECORRUPT : rc;
}

/* ---- iterator ------------------------------------------------------------ */

struct store_audit_iter {
	struct store *s;
	MDB_txn *txn; /* NULL while there is no "audit" database */
	MDB_cursor *cur;
	uint64_t next_seq;
	uint64_t bad_seq;
};

static void audit_iter_end_txn(struct store_audit_iter *it)
{
	if (it->cur)
		mdb_cursor_close(it->cur);
	if (it->txn)
		mdb_txn_abort(it->txn);
	it->cur = NULL;
	it->txn = NULL;
}

static int audit_iter_begin(struct store_audit_iter *it)
{
	int rc = audit_ensure_read(it->s);
	if (rc == DUET_ENOENT)
		return 0; /* no chain yet: reads as empty until a refresh finds one */
	if (rc)
		return rc;
	rc = store_read_begin(it->s, &it->txn);
	if (rc)
		return rc;
	rc = store_mdb_err(mdb_cursor_open(it->txn, it->s->audit_dbi, &it->cur));
	if (rc)
		audit_iter_end_txn(it);
	return rc;
}

int store_audit_iter_open(struct store *s, uint64_t from_seq, struct store_audit_iter **out)
{
	*out = NULL;
	struct store_audit_iter *it = calloc(1, sizeof(*it));
	if (!it)
		return DUET_ENOMEM;
	it->s = s;
	it->next_seq = from_seq ? from_seq : 1;
	int rc = audit_iter_begin(it);
	if (rc) {
		free(it);
		return rc;
	}
	*out = it;
	return 0;
}

int store_audit_iter_next(struct store_audit_iter *it, struct store_audit_record *r)
{
	if (!it->cur)
		return 0;
	uint8_t key[8];
	store_index_key(it->next_seq, key);
	MDB_val k = {.mv_size = 8, .mv_data = key}, v;
	int rc = mdb_cursor_get(it->cur, &k, &v, MDB_SET_RANGE);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return store_mdb_err(rc);
	int fault;
	rc = audit_parse(&k, &v, r, &fault);
	if (rc) {
		it->bad_seq = r->seq;
		return rc;
	}
	it->next_seq = r->seq + 1;
	return 1;
}

int store_audit_iter_refresh(struct store_audit_iter *it)
{
	audit_iter_end_txn(it);
	return audit_iter_begin(it);
}

uint64_t store_audit_iter_bad_seq(const struct store_audit_iter *it)
{
	return it->bad_seq;
}

void store_audit_iter_close(struct store_audit_iter *it)
{
	if (!it)
		return;
	audit_iter_end_txn(it);
	free(it);
}

/* ---- verify -------------------------------------------------------------- */

static int audit_fault(struct store_audit_report *r, int fault, uint64_t seq, uint64_t index,
		       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int audit_fault(struct store_audit_report *r, int fault, uint64_t seq, uint64_t index,
		       const char *fmt, ...)
{
	r->fault = fault;
	r->seq = seq;
	r->index = index;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
	va_end(ap);
	return DUET_ECORRUPT;
}

/* Checks record by record in key order; stops at the first fault. */
static int audit_walk(struct store *s, MDB_txn *txn, const struct store_audit_anchor *a,
		      struct store_audit_report *r, struct store_audit_tail *seen, uint64_t *bytes)
{
	/* the chain starts after the anchor: what retention dropped is not walked */
	seen->seq = a->seq;
	seen->last_index = a->last_index;
	memcpy(seen->hash, a->hash, STORE_AUDIT_HASH_BYTES);
	*bytes = 0;
	if (!s->audit_dbi_ok)
		return 0;
	MDB_cursor *c;
	int rc = store_mdb_err(mdb_cursor_open(txn, s->audit_dbi, &c));
	if (rc)
		return rc;
	MDB_val k, v;
	int mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	for (; mrc == 0; mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		struct store_audit_record rec;
		int fault;
		uint64_t want = seen->seq + 1;
		rc = audit_parse(&k, &v, &rec, &fault);
		if (rc == 0 && rec.seq > want) {
			rc = audit_fault(r, STORE_AUDIT_GAP, want, 0,
					 "records %" PRIu64 "..%" PRIu64
					 " are missing: the next record present is %" PRIu64,
					 want, rec.seq - 1, rec.seq);
			break;
		}
		if (rc == 0 && rec.seq < want && a->seq > 0 && rec.seq > 0 && seen->seq == a->seq) {
			rc =
			    audit_fault(r, STORE_AUDIT_ANCHOR, rec.seq, rec.entry.index,
					"record %" PRIu64 " is still stored although the retention "
					"anchor says records 1..%" PRIu64 " were dropped",
					rec.seq, a->seq);
			break;
		}
		if (rc == 0 && rec.seq < want)
			fault = STORE_AUDIT_MALFORMED; /* only seq 0 sorts before 1 */
		if (rc || fault) {
			rc = audit_fault(r, fault, rec.seq, rec.entry.index,
					 "record %" PRIu64 ": %s%s", rec.seq,
					 store_audit_fault_name(fault),
					 fault == STORE_AUDIT_CHECKSUM
					     ? " (the bytes changed since they were written)"
					     : " (size, version or sequence field)");
			break;
		}
		if (memcmp(rec.prev_hash, seen->hash, STORE_AUDIT_HASH_BYTES) != 0) {
			rc = audit_fault(
			    r, STORE_AUDIT_LINK, rec.seq, rec.entry.index,
			    "record %" PRIu64 " (entry %" PRIu64
			    "): its previous hash is not the hash of record %" PRIu64 "%s",
			    rec.seq, rec.entry.index, rec.seq - 1,
			    a->seq && rec.seq == a->seq + 1 ? " (the retention anchor's)" : "");
			break;
		}
		uint8_t h[STORE_AUDIT_HASH_BYTES];
		rc = audit_hash(rec.prev_hash, v.mv_data,
				STORE_AUDIT_HEADER_BYTES + (size_t)rec.entry.len, h);
		if (rc)
			break;
		if (memcmp(h, rec.hash, sizeof(h)) != 0) {
			rc = audit_fault(r, STORE_AUDIT_HASH, rec.seq, rec.entry.index,
					 "record %" PRIu64 " (entry %" PRIu64
					 "): content does not match its hash: it was altered",
					 rec.seq, rec.entry.index);
			break;
		}
		if (rec.entry.index <= seen->last_index) {
			rc = audit_fault(r, STORE_AUDIT_ORDER, rec.seq, rec.entry.index,
					 "record %" PRIu64 ": entry index %" PRIu64
					 " is not above the previous record's %" PRIu64,
					 rec.seq, rec.entry.index, seen->last_index);
			break;
		}
		seen->seq = rec.seq;
		seen->last_index = rec.entry.index;
		*bytes += audit_record_bytes(&v);
		memcpy(seen->hash, h, sizeof(h));
		r->records_ok++;
	}
	mdb_cursor_close(c);
	if (rc)
		return rc;
	return mrc == MDB_NOTFOUND ? 0 : store_mdb_err(mrc);
}

/* The walked chain against the tail record. */
static int audit_check_tail(struct store *s, MDB_txn *txn, const struct store_audit_tail *seen,
			    struct store_audit_report *r)
{
	struct store_audit_tail t;
	bool found;
	int rc = audit_tail_get(s, txn, &t, &found);
	if (rc == DUET_ECORRUPT || rc == DUET_EVERSION)
		return audit_fault(r, STORE_AUDIT_TAIL, seen->seq, 0,
				   "the tail record (meta/%s) is damaged", STORE_KEY_AUDIT_TAIL);
	if (rc)
		return rc;
	if (!found && seen->seq != 0)
		return audit_fault(r, STORE_AUDIT_TAIL, seen->seq, 0,
				   "the tail record (meta/%s) is missing", STORE_KEY_AUDIT_TAIL);
	if (t.seq > seen->seq)
		return audit_fault(r, STORE_AUDIT_TRUNCATED, seen->seq + 1, 0,
				   "records %" PRIu64 "..%" PRIu64
				   " are missing at the end (the tail says %" PRIu64 ")",
				   seen->seq + 1, t.seq, t.seq);
	if (t.seq < seen->seq)
		return audit_fault(r, STORE_AUDIT_EXTRA, t.seq + 1, 0,
				   "records from %" PRIu64 " on were added outside the chain's "
				   "writer (the tail ends at %" PRIu64 ")",
				   t.seq + 1, t.seq);
	if (memcmp(t.hash, seen->hash, STORE_AUDIT_HASH_BYTES) != 0 ||
	    t.last_index != seen->last_index)
		return audit_fault(r, STORE_AUDIT_TAIL, t.seq, seen->last_index,
				   "the tail record disagrees with record %" PRIu64
				   " (hash or entry index): the chain was rewritten",
				   t.seq);
	return 0;
}

int store_audit_verify(struct store *s, struct store_audit_report *r)
{
	memset(r, 0, sizeof(*r));
	int rc = audit_ensure_read(s);
	if (rc && rc != DUET_ENOENT)
		return rc;
	MDB_txn *txn;
	rc = store_read_begin(s, &txn);
	if (rc)
		return rc;
	struct store_audit_anchor a;
	bool anchored;
	rc = audit_anchor_get(s, txn, &a, &anchored);
	if (rc == DUET_ECORRUPT || rc == DUET_EVERSION) {
		mdb_txn_abort(txn);
		return audit_fault(r, STORE_AUDIT_ANCHOR, 1, 0,
				   "the retention anchor (meta/%s) is damaged: which records "
				   "retention dropped cannot be told from removed ones",
				   STORE_KEY_AUDIT_ANCHOR);
	}
	if (rc) {
		mdb_txn_abort(txn);
		return rc;
	}
	r->dropped = a.dropped;
	r->max_bytes = a.max_bytes;
	memcpy(r->anchor_hash, a.hash, STORE_AUDIT_HASH_BYTES);
	struct store_audit_tail seen;
	uint64_t bytes;
	rc = audit_walk(s, txn, &a, r, &seen, &bytes);
	if (rc == 0)
		rc = audit_check_tail(s, txn, &seen, r);
	r->bytes = bytes;
	if (rc == 0 && anchored && bytes != a.bytes)
		rc = audit_fault(r, STORE_AUDIT_ANCHOR, a.seq + 1, 0,
				 "the retention anchor counts %" PRIu64 " bytes stored but the "
				 "records hold %" PRIu64 ": records were changed or removed",
				 a.bytes, bytes);
	mdb_txn_abort(txn);
	if (rc == 0 && a.dropped)
		snprintf(
		    r->detail, sizeof(r->detail),
		    "records 1..%" PRIu64 " were dropped by retention (audit_max_bytes = %" PRIu64
		    "); %" PRIu64 " records %" PRIu64 "..%" PRIu64
		    " intact from the anchor, last entry index %" PRIu64,
		    a.dropped, a.max_bytes, r->records_ok, a.seq + 1, seen.seq, seen.last_index);
	else if (rc == 0)
		snprintf(r->detail, sizeof(r->detail),
			 "%" PRIu64 " records intact, last entry index %" PRIu64, r->records_ok,
			 seen.last_index);
	return rc;
}
