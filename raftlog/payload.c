/* SPDX-License-Identifier: MIT */
/*
 * payload.c - the typed entry payloads of DESIGN.md section 3 (membership,
 * master, sync, step, health, operator, delivered, traps).
 *
 * Each payload is: u8 version (PAYLOAD_VERSION), then fixed-width
 * little-endian fields in the order of the struct in entry.h; strings are a
 * u16 length and that many bytes (no NUL on the wire).
 *
 * The encodings are canonical: a decoder accepts exactly what the matching
 * encoder can produce, nothing more. So it refuses trailing bytes, enum and
 * flag values outside their range, strings that would not fit the
 * destination array or that hold a NUL, and memberships that break the
 * membership rules (id 0, duplicate ids). An encoder refuses the same
 * things (DUET_EINVAL; DUET_ETOOBIG for an overlong string or a full
 * buffer), so whatever is written can be read back. This makes
 * decode(encode(decode(x))) == decode(x) hold, which the fuzz targets check.
 *
 * Decoders zero their output first, so decoded structs compare with memcmp.
 * Nothing here allocates: the TRAPS iterator hands out pointers into the
 * caller's buffer.
 */
#include <string.h>

#include "duet/entry.h"
#include "duet/err.h"
#include "duet/wire.h"

#define PAYLOAD_VERSION 1
/* MEMBERSHIP with store ids: written only when a member has one bound, so
 * a membership without any is still the version-1 bytes it always was */
#define MEMBERSHIP_VERSION_STORE_IDS 2

/* Smallest encoded trap: identity, ordinal, recv_ms, receiver, kind,
 * empty sender, len. */
#define TRAP_MIN_BYTES (32 + 4 + 8 + 4 + 1 + 2 + 4)

/* ---- helpers ------------------------------------------------------------- */

/* Writes a NUL-terminated string held in a char[cap]; a string that fills the
 * whole array (no NUL inside it) cannot be decoded again, so it is refused. */
static void put_string(struct wire_writer *w, const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);
	if (n == cap) {
		w->err = DUET_ETOOBIG;
		return;
	}
	wire_put_u16(w, (uint16_t)n);
	wire_put_bytes(w, s, n);
}

/* Reads a string into dst[cap] and NUL-terminates it. An embedded NUL is
 * refused: it would be lost on the next encode. */
static int get_string(struct wire_reader *r, char *dst, size_t cap)
{
	uint16_t n = wire_get_u16(r);
	if (r->err)
		return r->err;
	if (n >= cap)
		return DUET_ETOOBIG;
	const uint8_t *p = wire_get_bytes(r, n);
	if (r->err)
		return r->err;
	if (memchr(p, 0, n))
		return DUET_ECORRUPT;
	memcpy(dst, p, n);
	dst[n] = '\0';
	return 0;
}

static long writer_result(const struct wire_writer *w)
{
	return w->err ? w->err : (long)w->used;
}

/* Version byte first; DUET_ETRUNCATED on empty input, DUET_EVERSION on any
 * other version. */
static int get_version(struct wire_reader *r)
{
	uint8_t v = wire_get_u8(r);
	if (r->err)
		return r->err;
	return v == PAYLOAD_VERSION ? 0 : DUET_EVERSION;
}

/* Common tail of every decoder: truncation, then trailing garbage. */
static int reader_done(const struct wire_reader *r)
{
	if (r->err)
		return r->err;
	return r->left ? DUET_ECORRUPT : 0;
}

static int is_flag(uint8_t v)
{
	return v <= 1;
}

/* ---- MEMBERSHIP ---------------------------------------------------------- */

static int member_kind_valid(uint8_t kind)
{
	return kind == DUET_MEMBER_DATA || kind == DUET_MEMBER_WITNESS;
}

const struct duet_member *duet_membership_find(const struct duet_membership *c, uint32_t id)
{
	uint32_t n = c->n < DUET_MAX_MEMBERS ? c->n : DUET_MAX_MEMBERS;
	for (uint32_t i = 0; i < n; i++)
		if (c->members[i].id == id)
			return &c->members[i];
	return NULL;
}

/* Nonzero, unique ids among the first `n` members. */
static int member_ids_valid(const struct duet_member *m, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		if (m[i].id == 0)
			return 0;
		for (uint32_t j = 0; j < i; j++)
			if (m[j].id == m[i].id)
				return 0;
	}
	return 1;
}

long duet_membership_encode(const struct duet_membership *c, void *buf, size_t cap)
{
	if (c->n > DUET_MAX_MEMBERS || !member_ids_valid(c->members, c->n))
		return DUET_EINVAL;
	for (uint32_t i = 0; i < c->n; i++)
		if (!member_kind_valid(c->members[i].kind) ||
		    c->members[i].n_addrs > DUET_MAX_ADDRS)
			return DUET_EINVAL;

	bool ids = false;
	for (uint32_t i = 0; i < c->n; i++)
		ids = ids || c->members[i].store_id != 0;
	struct wire_writer w;
	wire_writer_init(&w, buf, cap);
	wire_put_u8(&w, ids ? MEMBERSHIP_VERSION_STORE_IDS : PAYLOAD_VERSION);
	wire_put_u32(&w, c->n);
	for (uint32_t i = 0; i < c->n; i++) {
		const struct duet_member *m = &c->members[i];
		wire_put_u32(&w, m->id);
		wire_put_u8(&w, m->kind);
		wire_put_u64(&w, m->incarnation);
		if (ids)
			wire_put_u64(&w, m->store_id);
		put_string(&w, m->name, sizeof m->name);
		wire_put_u8(&w, m->n_addrs);
		for (uint8_t a = 0; a < m->n_addrs; a++)
			put_string(&w, m->addrs[a], sizeof m->addrs[a]);
	}
	return writer_result(&w);
}

int duet_membership_decode(const void *buf, size_t len, struct duet_membership *c)
{
	struct wire_reader r;
	int rc;
	memset(c, 0, sizeof *c);
	wire_reader_init(&r, buf, len);
	uint8_t version = wire_get_u8(&r);
	if (r.err)
		return r.err;
	if (version != PAYLOAD_VERSION && version != MEMBERSHIP_VERSION_STORE_IDS)
		return DUET_EVERSION;
	bool ids = version == MEMBERSHIP_VERSION_STORE_IDS, any_id = false;
	uint32_t n = wire_get_u32(&r);
	if (r.err)
		return r.err;
	if (n > DUET_MAX_MEMBERS)
		return DUET_ETOOBIG;
	for (uint32_t i = 0; i < n; i++) {
		struct duet_member *m = &c->members[i];
		m->id = wire_get_u32(&r);
		m->kind = wire_get_u8(&r);
		m->incarnation = wire_get_u64(&r);
		if (ids)
			m->store_id = wire_get_u64(&r);
		any_id = any_id || m->store_id != 0;
		if (r.err)
			return r.err;
		if (!member_kind_valid(m->kind))
			return DUET_ECORRUPT;
		if ((rc = get_string(&r, m->name, sizeof m->name)))
			return rc;
		m->n_addrs = wire_get_u8(&r);
		if (r.err)
			return r.err;
		if (m->n_addrs > DUET_MAX_ADDRS)
			return DUET_ETOOBIG;
		for (uint8_t a = 0; a < m->n_addrs; a++)
			if ((rc = get_string(&r, m->addrs[a], sizeof m->addrs[a])))
				return rc;
	}
	c->n = n;
	if (!member_ids_valid(c->members, n) || ids != any_id) /* canonical: see the encoder */
		return DUET_ECORRUPT;
	return reader_done(&r);
}

/* ---- MASTER -------------------------------------------------------------- */

static int master_reason_valid(uint8_t v)
{
	return v >= DUET_MASTER_FIRST_START && v <= DUET_MASTER_FORCED;
}

long duet_master_encode(const struct duet_master *m, void *buf, size_t cap)
{
	if (!master_reason_valid(m->reason))
		return DUET_EINVAL;
	struct wire_writer w;
	wire_writer_init(&w, buf, cap);
	wire_put_u8(&w, PAYLOAD_VERSION);
	wire_put_u32(&w, m->node);
	wire_put_u32(&w, m->previous);
	wire_put_u8(&w, m->reason);
	put_string(&w, m->detail, sizeof m->detail);
	return writer_result(&w);
}

int duet_master_decode(const void *buf, size_t len, struct duet_master *m)
{
	struct wire_reader r;
	int rc;
	memset(m, 0, sizeof *m);
	wire_reader_init(&r, buf, len);
	if ((rc = get_version(&r)))
		return rc;
	m->node = wire_get_u32(&r);
	m->previous = wire_get_u32(&r);
	m->reason = wire_get_u8(&r);
	if (r.err)
		return r.err;
	if (!master_reason_valid(m->reason))
		return DUET_ECORRUPT;
	if ((rc = get_string(&r, m->detail, sizeof m->detail)))
		return rc;
	return reader_done(&r);
}

/* ---- SYNC ---------------------------------------------------------------- */

long duet_sync_encode(const struct duet_sync *s, void *buf, size_t cap)
{
	if (!is_flag(s->on))
		return DUET_EINVAL;
	struct wire_writer w;
	wire_writer_init(&w, buf, cap);
	wire_put_u8(&w, PAYLOAD_VERSION);
	wire_put_u32(&w, s->node);
	wire_put_u8(&w, s->on);
	put_string(&w, s->detail, sizeof s->detail);
	return writer_result(&w);
}

int duet_sync_decode(const void *buf, size_t len, struct duet_sync *s)
{
	struct wire_reader r;
	int rc;
	memset(s, 0, sizeof *s);
	wire_reader_init(&r, buf, len);
	if ((rc = get_version(&r)))
		return rc;
	s->node = wire_get_u32(&r);
	s->on = wire_get_u8(&r);
	if (r.err)
		return r.err;
	if (!is_flag(s->on))
		return DUET_ECORRUPT;
	if ((rc = get_string(&r, s->detail, sizeof s->detail)))
		return rc;
	return reader_done(&r);
}

/* ---- STEP ---------------------------------------------------------------- */

static int step_action_valid(uint8_t v)
{
	return v >= DUET_STEP_FENCE && v <= DUET_STEP_REBUILD;
}

long duet_step_encode(const struct duet_step *s, void *buf, size_t cap)
{
	if (!step_action_valid(s->action) || !is_flag(s->ok))
		return DUET_EINVAL;
	struct wire_writer w;
	wire_writer_init(&w, buf, cap);
	wire_put_u8(&w, PAYLOAD_VERSION);
	wire_put_u8(&w, s->action);
	wire_put_u32(&w, s->node);
	wire_put_u8(&w, s->ok);
	wire_put_u32(&w, s->duration_ms);
	put_string(&w, s->detail, sizeof s->detail);
	return writer_result(&w);
}

int duet_step_decode(const void *buf, size_t len, struct duet_step *s)
{
	struct wire_reader r;
	int rc;
	memset(s, 0, sizeof *s);
	wire_reader_init(&r, buf, len);
	if ((rc = get_version(&r)))
		return rc;
	s->action = wire_get_u8(&r);
	s->node = wire_get_u32(&r);
	s->ok = wire_get_u8(&r);
	s->duration_ms = wire_get_u32(&r);
	if (r.err)
		return r.err;
	if (!step_action_valid(s->action) || !is_flag(s->ok))
		return DUET_ECORRUPT;
	if ((rc = get_string(&r, s->detail, sizeof s->detail)))
		return rc;
	return reader_done(&r);
}

/* ---- HEALTH -------------------------------------------------------------- */

static int health_state_valid(uint8_t v)
{
	return v <= DUET_HEALTH_FAILING;
}

long duet_health_encode(const struct duet_health *h, void *buf, size_t cap)
{
	if (!health_state_valid(h->state) || !is_flag(h->critical))
		return DUET_EINVAL;
	struct wire_writer w;
	wire_writer_init(&w, buf, cap);
	wire_put_u8(&w, PAYLOAD_VERSION);
	wire_put_u32(&w, h->node);
	put_string(&w, h->check, sizeof h->check);
	wire_put_u8(&w, h->state);
	wire_put_u8(&w, h->critical);
	put_string(&w, h->detail, sizeof h->detail);
	return writer_result(&w);
}

int duet_health_decode(const void *buf, size_t len, struct duet_health *h)
{
	struct wire_reader r;
	int rc;
	memset(h, 0, sizeof *h);
	wire_reader_init(&r, buf, len);
	if ((rc = get_version(&r)))
		return rc;
	h->node = wire_get_u32(&r);
	if ((rc = get_string(&r, h->check, sizeof h->check)))
		return rc;
	h->state = wire_get_u8(&r);
	h->critical = wire_get_u8(&r);
	if (r.err)
		return r.err;
	if (!health_state_valid(h->state) || !is_flag(h->critical))
		return DUET_ECORRUPT;
	if ((rc = get_string(&r, h->detail, sizeof h->detail)))
		return rc;
	return reader_done(&r);
}

/* ---- OPERATOR ------------------------------------------------------------ */

static int operator_command_valid(uint8_t v)
{
	return v >= DUET_OP_SWITCHOVER && v <= DUET_OP_FORCE_PROMOTE;
}

long duet_operator_encode(const struct duet_operator *o, void *buf, size_t cap)
{
	if (!operator_command_valid(o->command))
		return DUET_EINVAL;
	struct wire_writer w;
	wire_writer_init(&w, buf, cap);
	wire_put_u8(&w, PAYLOAD_VERSION);
	wire_put_u8(&w, o->command);
	wire_put_u32(&w, o->node);
	wire_put_u32(&w, o->target);
	wire_put_u64(&w, o->incarnation);
	put_string(&w, o->who, sizeof o->who);
	put_string(&w, o->why, sizeof o->why);
	return writer_result(&w);
}

int duet_operator_decode(const void *buf, size_t len, struct duet_operator *o)
{
	struct wire_reader r;
	int rc;
	memset(o, 0, sizeof *o);
	wire_reader_init(&r, buf, len);
	if ((rc = get_version(&r)))
		return rc;
	o->command = wire_get_u8(&r);
	o->node = wire_get_u32(&r);
	o->target = wire_get_u32(&r);
	o->incarnation = wire_get_u64(&r);
	if (r.err)
		return r.err;
	if (!operator_command_valid(o->command))
		return DUET_ECORRUPT;
	if ((rc = get_string(&r, o->who, sizeof o->who)))
		return rc;
	if ((rc = get_string(&r, o->why, sizeof o->why)))
		return rc;
	return reader_done(&r);
}

/* ---- DELIVERED ----------------------------------------------------------- */

static int sink_valid(uint8_t v)
{
	/* 0: none (a leader without a sink records that nothing waits for
	 * one, so the compaction floor moves), tcp, postgresql, relp */
	return v <= DUET_SINK_RELP;
}

long duet_delivered_encode(const struct duet_delivered *d, void *buf, size_t cap)
{
	if (!sink_valid(d->sink))
		return DUET_EINVAL;
	struct wire_writer w;
	wire_writer_init(&w, buf, cap);
	wire_put_u8(&w, PAYLOAD_VERSION);
	wire_put_u64(&w, d->up_to_index);
	wire_put_u8(&w, d->sink);
	return writer_result(&w);
}

int duet_delivered_decode(const void *buf, size_t len, struct duet_delivered *d)
{
	struct wire_reader r;
	int rc;
	memset(d, 0, sizeof *d);
	wire_reader_init(&r, buf, len);
	if ((rc = get_version(&r)))
		return rc;
	d->up_to_index = wire_get_u64(&r);
	d->sink = wire_get_u8(&r);
	if (r.err)
		return r.err;
	if (!sink_valid(d->sink))
		return DUET_ECORRUPT;
	return reader_done(&r);
}

/* ---- TRAPS --------------------------------------------------------------- */

static int trap_kind_valid(uint8_t v)
{
	return v >= DUET_TRAP_SYSLOG && v <= DUET_TRAP_CUSTOM;
}

long duet_traps_encode(const struct duet_trap *traps, uint32_t n, void *buf, size_t cap)
{
	for (uint32_t i = 0; i < n; i++) {
		if (!trap_kind_valid(traps[i].kind))
			return DUET_EINVAL;
		if (traps[i].len > DUET_TRAP_MAX_PAYLOAD)
			return DUET_ETOOBIG;
		if (traps[i].len && !traps[i].payload)
			return DUET_EINVAL;
	}
	struct wire_writer w;
	wire_writer_init(&w, buf, cap);
	wire_put_u8(&w, PAYLOAD_VERSION);
	wire_put_u32(&w, n);
	for (uint32_t i = 0; i < n && !w.err; i++) {
		const struct duet_trap *t = &traps[i];
		wire_put_bytes(&w, t->identity, sizeof t->identity);
		wire_put_u32(&w, t->ordinal);
		wire_put_u64(&w, t->recv_ms);
		wire_put_u32(&w, t->receiver);
		wire_put_u8(&w, t->kind);
		put_string(&w, t->sender, sizeof t->sender);
		wire_put_u32(&w, t->len);
		wire_put_bytes(&w, t->payload, t->len);
	}
	return writer_result(&w);
}

/* Reads one trap; t->payload points into the reader's buffer. */
static int get_trap(struct wire_reader *r, struct duet_trap *t)
{
	int rc;
	memset(t, 0, sizeof *t);
	const uint8_t *id = wire_get_bytes(r, sizeof t->identity);
	t->ordinal = wire_get_u32(r);
	t->recv_ms = wire_get_u64(r);
	t->receiver = wire_get_u32(r);
	t->kind = wire_get_u8(r);
	if (r->err)
		return r->err;
	memcpy(t->identity, id, sizeof t->identity);
	if (!trap_kind_valid(t->kind))
		return DUET_ECORRUPT;
	if ((rc = get_string(r, t->sender, sizeof t->sender)))
		return rc;
	t->len = wire_get_u32(r);
	if (r->err)
		return r->err;
	if (t->len > DUET_TRAP_MAX_PAYLOAD)
		return DUET_ETOOBIG;
	const uint8_t *p = wire_get_bytes(r, t->len);
	if (r->err)
		return r->err;
	t->payload = t->len ? p : NULL;
	return 0;
}

/*
 * Reads the header and then walks the whole payload once, so that a damaged
 * batch is refused before the caller acts on any trap in it: applying half a
 * batch and then failing would lose or duplicate traps.
 */
int duet_traps_iter_init(struct duet_traps_iter *it, const void *buf, size_t len, uint32_t *count)
{
	struct wire_reader r;
	int rc;
	memset(it, 0, sizeof *it);
	if (count)
		*count = 0;
	wire_reader_init(&r, buf, len);
	if ((rc = get_version(&r)))
		return rc;
	uint32_t n = wire_get_u32(&r);
	if (r.err)
		return r.err;
	if (n > r.left / TRAP_MIN_BYTES)
		return DUET_ETRUNCATED;

	struct wire_reader walk = r;
	struct duet_trap t;
	for (uint32_t i = 0; i < n; i++)
		if ((rc = get_trap(&walk, &t)))
			return rc;
	if ((rc = reader_done(&walk)))
		return rc;

	it->p = r.p;
	it->left = r.left;
	it->remaining = n;
	if (count)
		*count = n;
	return 0;
}

int duet_traps_next(struct duet_traps_iter *it, struct duet_trap *t)
{
	if (it->remaining == 0)
		return it->left ? DUET_ECORRUPT : 0;
	struct wire_reader r;
	wire_reader_init(&r, it->p, it->left);
	int rc = get_trap(&r, t);
	if (rc) {
		/* poison the iterator: no trap after a bad one */
		it->left = 0;
		it->remaining = 0;
		return rc;
	}
	it->p = r.p;
	it->left = r.left;
	it->remaining--;
	return 1;
}
