/* SPDX-License-Identifier: MIT */
/*
 * test_codec.c - the raftlog encodings: entry envelope, typed payloads,
 * messages and CRC-32C (entry.h, raftlog.h; STYLE.md point 6).
 *
 * What must hold for every codec:
 *  - round trip: decode(encode(x)) == x, every field compared;
 *  - every strict prefix of a valid encoding is refused, and the decoder
 *    reads nothing past the prefix (each prefix is copied into a heap block
 *    of exactly that size, so ASan builds catch an overread);
 *  - wrong version, out-of-range enums, overlong strings, trailing bytes and
 *    forged counts are refused with the documented code;
 *  - a flipped bit anywhere in a message is DUET_ECORRUPT.
 *
 * Inputs come from a fixed-seed generator, so a failure reproduces.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "duet/entry.h"
#include "duet/err.h"
#include "duet/raftlog.h"
#include "duet/wire.h"

/*
 * crc32c.c keeps its software and SSE4.2 paths static and picks one at run
 * time. To compare them with each other, compile a private copy of the file
 * here with its public function renamed; the library's duet_crc32c is still
 * the one the codecs use.
 */
#define duet_crc32c crc32c_private_copy
uint32_t crc32c_private_copy(uint32_t crc, const void *buf, size_t len);
#include "../../../raftlog/crc32c.c"
#undef duet_crc32c

/* ---- helpers ------------------------------------------------------------- */

/* Like cr_assert, but records nothing unless it fails: the loops below check
 * hundreds of thousands of cases, and --full-stats would log every one. */
#define require(cond, ...)                                                                         \
	do {                                                                                       \
		if (!(cond))                                                                       \
			cr_assert_fail(__VA_ARGS__);                                               \
	} while (0)

/* Evaluates `expr` once (it is often the call under test). */
#define assert_rc(expr, want)                                                                      \
	do {                                                                                       \
		long got_ = (long)(expr), want_ = (long)(want);                                    \
		require(got_ == want_, "%s:%d: got %ld (%s), want %ld (%s)", __FILE__, __LINE__,   \
			got_, duet_strerror((int)got_), want_, duet_strerror((int)want_));         \
	} while (0)

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void fill_random(void *buf, size_t len)
{
	uint8_t *p = buf;
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)rnd();
}

/* Copy of buf[0..len) in a block of exactly len bytes (ASan sees overreads). */
static uint8_t *exact_copy(const void *buf, size_t len)
{
	uint8_t *p = malloc(len ? len : 1);
	require(p != NULL, "out of memory");
	if (len)
		memcpy(p, buf, len);
	return p;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* After editing a message, make its trailing crc valid again. */
static void reseal_msg(uint8_t *buf, size_t len)
{
	put_le32(buf + len - 4, duet_crc32c(0, buf, len - 4));
}

/* ---- samples ------------------------------------------------------------- */

static void sample_membership(struct duet_membership *c)
{
	memset(c, 0, sizeof *c);
	c->n = 3;
	struct duet_member *m = c->members;
	m[0].id = 1;
	m[0].kind = DUET_MEMBER_DATA;
	m[0].incarnation = 0x0102030405060708ull;
	strcpy(m[0].name, "alpha");
	m[0].n_addrs = 2;
	strcpy(m[0].addrs[0], "10.0.0.1:7400");
	strcpy(m[0].addrs[1], "[fd00::1]:7400");
	m[1].id = 0xfffffffeu;
	m[1].kind = DUET_MEMBER_DATA;
	m[1].incarnation = 1;
	/* longest name and address that fit */
	memset(m[1].name, 'n', DUET_NAME_MAX - 1);
	m[1].n_addrs = DUET_MAX_ADDRS;
	for (int a = 0; a < DUET_MAX_ADDRS; a++)
		memset(m[1].addrs[a], 'a' + a, DUET_ADDR_MAX - 1);
	m[2].id = 3;
	m[2].kind = DUET_MEMBER_WITNESS;
	m[2].incarnation = UINT64_MAX;
	strcpy(m[2].name, "witness");
	m[2].n_addrs = 0;
}

static void sample_master(struct duet_master *m)
{
	memset(m, 0, sizeof *m);
	m->node = 2;
	m->previous = 0x80000001u;
	m->reason = DUET_MASTER_FAILOVER;
	strcpy(m->detail, "lease of node 1 expired at 12:00:01.250");
}

static void sample_sync(struct duet_sync *s)
{
	memset(s, 0, sizeof *s);
	s->node = 1;
	s->on = 1;
	memset(s->detail, 'd', DUET_DETAIL_MAX - 1);
}

static void sample_step(struct duet_step *s)
{
	memset(s, 0, sizeof *s);
	s->action = DUET_STEP_LEASE_WAIT;
	s->node = 7;
	s->ok = 0;
	s->duration_ms = 0xdeadbeefu;
	strcpy(s->detail, "pg_ctl promote: timeout");
}

static void sample_health(struct duet_health *h)
{
	memset(h, 0, sizeof *h);
	h->node = 2;
	strcpy(h->check, "isolation");
	h->state = DUET_HEALTH_FAILING;
	h->critical = 1;
	strcpy(h->detail, ""); /* empty strings round-trip too */
}

static void sample_operator(struct duet_operator *o)
{
	memset(o, 0, sizeof *o);
	o->command = DUET_OP_FORCE_PROMOTE;
	o->node = 1;
	o->target = 2;
	o->incarnation = 0xa1a2a3a4a5a6a7a8ull;
	strcpy(o->who, "root@ops");
	strcpy(o->why, "site B lost; accept data loss");
}

static void sample_delivered(struct duet_delivered *d)
{
	memset(d, 0, sizeof *d);
	d->up_to_index = 0x1122334455667788ull;
	d->sink = 2;
}

#define N_SAMPLE_TRAPS 3
static uint8_t trap_payload_a[100];
static uint8_t trap_payload_c[DUET_TRAP_MAX_PAYLOAD];

static void sample_traps(struct duet_trap *t)
{
	memset(t, 0, N_SAMPLE_TRAPS * sizeof *t);
	fill_random(trap_payload_a, sizeof trap_payload_a);
	fill_random(trap_payload_c, sizeof trap_payload_c);
	for (int i = 0; i < N_SAMPLE_TRAPS; i++) {
		fill_random(t[i].identity, sizeof t[i].identity);
		t[i].ordinal = (uint32_t)i + 1;
		t[i].recv_ms = 1700000000000ull + (uint64_t)i;
		t[i].receiver = 1 + (uint32_t)i % 2;
		t[i].kind = (uint8_t)(DUET_TRAP_SYSLOG + i);
	}
	strcpy(t[0].sender, "192.0.2.7:514");
	t[0].len = sizeof trap_payload_a;
	t[0].payload = trap_payload_a;
	t[1].sender[0] = '\0'; /* empty sender, empty payload */
	t[1].len = 0;
	t[1].payload = NULL;
	memset(t[2].sender, 's', DUET_ADDR_MAX - 1);
	t[2].len = 1000; /* every prefix is tried: keep it small (see max_payload) */
	t[2].payload = trap_payload_c;
}

/* ---- field comparisons --------------------------------------------------- */

static void assert_membership_eq(const struct duet_membership *a, const struct duet_membership *b)
{
	cr_assert_eq(a->n, b->n);
	for (uint32_t i = 0; i < a->n; i++) {
		const struct duet_member *x = &a->members[i], *y = &b->members[i];
		cr_assert_eq(x->id, y->id);
		cr_assert_eq(x->kind, y->kind);
		cr_assert_eq(x->incarnation, y->incarnation);
		cr_assert_eq(x->store_id, y->store_id);
		cr_assert_str_eq(x->name, y->name);
		cr_assert_eq(x->n_addrs, y->n_addrs);
		for (int k = 0; k < x->n_addrs; k++)
			cr_assert_str_eq(x->addrs[k], y->addrs[k]);
	}
	/* decoders zero their output: the structs are identical byte for byte */
	cr_assert(memcmp(a, b, sizeof *a) == 0);
}

static void assert_master_eq(const struct duet_master *a, const struct duet_master *b)
{
	cr_assert_eq(a->node, b->node);
	cr_assert_eq(a->previous, b->previous);
	cr_assert_eq(a->reason, b->reason);
	cr_assert_str_eq(a->detail, b->detail);
	cr_assert(memcmp(a, b, sizeof *a) == 0);
}

static void assert_sync_eq(const struct duet_sync *a, const struct duet_sync *b)
{
	cr_assert_eq(a->node, b->node);
	cr_assert_eq(a->on, b->on);
	cr_assert_str_eq(a->detail, b->detail);
	cr_assert(memcmp(a, b, sizeof *a) == 0);
}

static void assert_step_eq(const struct duet_step *a, const struct duet_step *b)
{
	cr_assert_eq(a->action, b->action);
	cr_assert_eq(a->node, b->node);
	cr_assert_eq(a->ok, b->ok);
	cr_assert_eq(a->duration_ms, b->duration_ms);
	cr_assert_str_eq(a->detail, b->detail);
	cr_assert(memcmp(a, b, sizeof *a) == 0);
}

static void assert_health_eq(const struct duet_health *a, const struct duet_health *b)
{
	cr_assert_eq(a->node, b->node);
	cr_assert_str_eq(a->check, b->check);
	cr_assert_eq(a->state, b->state);
	cr_assert_eq(a->critical, b->critical);
	cr_assert_str_eq(a->detail, b->detail);
	cr_assert(memcmp(a, b, sizeof *a) == 0);
}

static void assert_operator_eq(const struct duet_operator *a, const struct duet_operator *b)
{
	cr_assert_eq(a->command, b->command);
	cr_assert_eq(a->node, b->node);
	cr_assert_eq(a->target, b->target);
	cr_assert_eq(a->incarnation, b->incarnation);
	cr_assert_str_eq(a->who, b->who);
	cr_assert_str_eq(a->why, b->why);
	cr_assert(memcmp(a, b, sizeof *a) == 0);
}

static void assert_delivered_eq(const struct duet_delivered *a, const struct duet_delivered *b)
{
	cr_assert_eq(a->up_to_index, b->up_to_index);
	cr_assert_eq(a->sink, b->sink);
}

static void assert_trap_eq(const struct duet_trap *a, const struct duet_trap *b)
{
	cr_assert_arr_eq(a->identity, b->identity, sizeof a->identity);
	cr_assert_eq(a->ordinal, b->ordinal);
	cr_assert_eq(a->recv_ms, b->recv_ms);
	cr_assert_eq(a->receiver, b->receiver);
	cr_assert_eq(a->kind, b->kind);
	cr_assert_str_eq(a->sender, b->sender);
	cr_assert_eq(a->len, b->len);
	if (a->len)
		cr_assert_arr_eq(a->payload, b->payload, a->len);
}

static void assert_entry_eq(const struct raft_entry *a, const struct raft_entry *b)
{
	cr_assert_eq(a->term, b->term);
	cr_assert_eq(a->index, b->index);
	cr_assert_eq(a->wall_ms, b->wall_ms);
	cr_assert_eq(a->author, b->author);
	cr_assert_eq(a->type, b->type);
	cr_assert_eq(a->len, b->len);
	if (a->len)
		cr_assert_arr_eq(a->data, b->data, a->len);
}

/* ---- the payload codecs as a table --------------------------------------- */

/* Type-erased wrappers so one loop can drive every payload codec. */
#define PAYLOAD_WRAPPERS(name, type)                                                               \
	static long enc_##name(const void *v, void *buf, size_t cap)                               \
	{                                                                                          \
		return duet_##name##_encode((const type *)v, buf, cap);                            \
	}                                                                                          \
	static int dec_##name(const void *buf, size_t len, void *v)                                \
	{                                                                                          \
		return duet_##name##_decode(buf, len, (type *)v);                                  \
	}                                                                                          \
	static void smp_##name(void *v)                                                            \
	{                                                                                          \
		sample_##name((type *)v);                                                          \
	}                                                                                          \
	static void eq_##name(const void *a, const void *b)                                        \
	{                                                                                          \
		assert_##name##_eq((const type *)a, (const type *)b);                              \
	}

PAYLOAD_WRAPPERS(membership, struct duet_membership)
PAYLOAD_WRAPPERS(master, struct duet_master)
PAYLOAD_WRAPPERS(sync, struct duet_sync)
PAYLOAD_WRAPPERS(step, struct duet_step)
PAYLOAD_WRAPPERS(health, struct duet_health)
PAYLOAD_WRAPPERS(operator, struct duet_operator)
PAYLOAD_WRAPPERS(delivered, struct duet_delivered)

/* TRAPS has no decode-into-struct call: decode means iterate all. */
struct traps_sample {
	uint32_t n;
	struct duet_trap t[N_SAMPLE_TRAPS];
};

static long enc_traps(const void *v, void *buf, size_t cap)
{
	const struct traps_sample *s = v;
	return duet_traps_encode(s->t, s->n, buf, cap);
}

static int dec_traps(const void *buf, size_t len, void *v)
{
	struct traps_sample *s = v;
	struct duet_traps_iter it;
	uint32_t count;
	memset(s, 0, sizeof *s);
	int rc = duet_traps_iter_init(&it, buf, len, &count);
	if (rc)
		return rc;
	if (count > N_SAMPLE_TRAPS)
		return DUET_ETOOBIG; /* more than this test can hold */
	s->n = count;
	for (uint32_t i = 0;; i++) {
		struct duet_trap t;
		rc = duet_traps_next(&it, &t);
		if (rc <= 0)
			return rc;
		require(i < count, "iterator gave more traps than it announced");
		s->t[i] = t;
	}
}

static void smp_traps(void *v)
{
	struct traps_sample *s = v;
	s->n = N_SAMPLE_TRAPS;
	sample_traps(s->t);
}

static void eq_traps(const void *a, const void *b)
{
	const struct traps_sample *x = a, *y = b;
	cr_assert_eq(x->n, y->n);
	for (uint32_t i = 0; i < x->n; i++)
		assert_trap_eq(&x->t[i], &y->t[i]);
}

struct payload_codec {
	const char *name;
	size_t size;
	long (*encode)(const void *v, void *buf, size_t cap);
	int (*decode)(const void *buf, size_t len, void *v);
	void (*sample)(void *v);
	void (*assert_eq)(const void *a, const void *b);
};

#define CODEC(name, type)                                                                          \
	{                                                                                          \
#name, sizeof(type), enc_##name, dec_##name, smp_##name, eq_##name                 \
	}

static const struct payload_codec codecs[] = {
    CODEC(membership, struct duet_membership),
    CODEC(master, struct duet_master),
    CODEC(sync, struct duet_sync),
    CODEC(step, struct duet_step),
    CODEC(health, struct duet_health),
    CODEC(operator, struct duet_operator),
    CODEC(delivered, struct duet_delivered),
    CODEC(traps, struct traps_sample),
};
#define N_CODECS (sizeof codecs / sizeof codecs[0])

#define PAYLOAD_BUF (DUET_TRAP_MAX_PAYLOAD * 4)

/* Encodes the codec's sample into a fresh heap buffer; returns its length. */
static size_t encode_sample(const struct payload_codec *c, void *value, uint8_t **out)
{
	uint8_t *buf = malloc(PAYLOAD_BUF);
	cr_assert(buf != NULL);
	c->sample(value);
	long n = c->encode(value, buf, PAYLOAD_BUF);
	cr_assert(n > 0, "%s: encode failed: %s", c->name, duet_strerror((int)n));
	*out = buf;
	return (size_t)n;
}

/* ---- payloads: round trip, truncation, version, trailing bytes ----------- */

Test(payload, round_trip_every_type)
{
	for (size_t k = 0; k < N_CODECS; k++) {
		const struct payload_codec *c = &codecs[k];
		void *in = calloc(1, c->size), *out = calloc(1, c->size);
		uint8_t *buf;
		size_t n = encode_sample(c, in, &buf);
		uint8_t *exact = exact_copy(buf, n);
		assert_rc(c->decode(exact, n, out), 0);
		c->assert_eq(in, out);

		/* the encoder needs exactly n bytes, and refuses one fewer */
		uint8_t *small = malloc(n);
		assert_rc(c->encode(in, small, n - 1), DUET_ETOOBIG);
		cr_assert_eq(c->encode(in, small, n), (long)n, "%s", c->name);
		cr_assert_arr_eq(small, buf, n);
		free(small);
		free(exact);
		free(buf);
		free(in);
		free(out);
	}
}

Test(payload, every_truncation_refused)
{
	for (size_t k = 0; k < N_CODECS; k++) {
		const struct payload_codec *c = &codecs[k];
		void *in = calloc(1, c->size), *out = calloc(1, c->size);
		uint8_t *buf;
		size_t n = encode_sample(c, in, &buf);
		for (size_t len = 0; len < n; len++) {
			uint8_t *prefix = exact_copy(buf, len);
			int rc = c->decode(prefix, len, out);
			require(rc < 0, "%s: prefix of %zu/%zu bytes accepted", c->name, len, n);
			free(prefix);
		}
		free(buf);
		free(in);
		free(out);
	}
}

Test(payload, trailing_bytes_refused)
{
	for (size_t k = 0; k < N_CODECS; k++) {
		const struct payload_codec *c = &codecs[k];
		void *in = calloc(1, c->size), *out = calloc(1, c->size);
		uint8_t *buf;
		size_t n = encode_sample(c, in, &buf);
		buf[n] = 0;
		assert_rc(c->decode(buf, n + 1, out), DUET_ECORRUPT);
		free(buf);
		free(in);
		free(out);
	}
}

Test(payload, wrong_version_refused)
{
	for (size_t k = 0; k < N_CODECS; k++) {
		const struct payload_codec *c = &codecs[k];
		void *in = calloc(1, c->size), *out = calloc(1, c->size);
		uint8_t *buf;
		size_t n = encode_sample(c, in, &buf);
		cr_assert_eq(buf[0], 1, "%s: version byte", c->name);
		uint8_t versions[] = {0, 3, 255}; /* 2: MEMBERSHIP with store ids, below */
		for (size_t v = 0; v < sizeof versions; v++) {
			buf[0] = versions[v];
			assert_rc(c->decode(buf, n, out), DUET_EVERSION);
		}
		free(buf);
		free(in);
		free(out);
	}
}

/* Decoding never reads past len even when fed random bytes behind a valid
 * version byte. */
Test(payload, random_input_never_crashes)
{
	uint8_t buf[512];
	for (int round = 0; round < 20000; round++) {
		const struct payload_codec *c = &codecs[rnd() % N_CODECS];
		size_t len = rnd() % sizeof buf;
		fill_random(buf, len);
		if (len)
			buf[0] = 1;
		uint8_t *exact = exact_copy(buf, len);
		void *out = calloc(1, c->size);
		int rc = c->decode(exact, len, out);
		cr_assert_leq(rc, 0, "%s: a decoder returns 0 or an error", c->name);
		if (rc == 0) { /* canonical: what decodes encodes back to the same bytes */
			uint8_t again[512];
			cr_assert_eq(c->encode(out, again, sizeof again), (long)len, "%s", c->name);
			cr_assert_arr_eq(again, exact, len, "%s", c->name);
		}
		free(out);
		free(exact);
	}
}

/* ---- payloads: layouts pinned ------------------------------------------- */

Test(payload, delivered_wire_layout)
{
	struct duet_delivered d;
	sample_delivered(&d);
	uint8_t buf[16];
	const uint8_t want[] = {1, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 2};
	cr_assert_eq(duet_delivered_encode(&d, buf, sizeof buf), (long)sizeof want);
	cr_assert_arr_eq(buf, want, sizeof want);
	/* the RELP sink's entries: sink byte 3, decoded back */
	d.sink = DUET_SINK_RELP;
	cr_assert_eq(duet_delivered_encode(&d, buf, sizeof buf), (long)sizeof want);
	cr_assert_eq(buf[9], 3);
	struct duet_delivered back;
	cr_assert_eq(duet_delivered_decode(buf, sizeof want, &back), 0);
	cr_assert_eq(back.sink, DUET_SINK_RELP);
}

Test(payload, master_wire_layout)
{
	struct duet_master m;
	memset(&m, 0, sizeof m);
	m.node = 2;
	m.previous = 1;
	m.reason = DUET_MASTER_SWITCHOVER;
	strcpy(m.detail, "ok");
	uint8_t buf[32];
	const uint8_t want[] = {1, 2, 0, 0, 0, 1, 0, 0, 0, 3, 2, 0, 'o', 'k'};
	cr_assert_eq(duet_master_encode(&m, buf, sizeof buf), (long)sizeof want);
	cr_assert_arr_eq(buf, want, sizeof want);
}

/* ---- payloads: strings --------------------------------------------------- */

Test(payload, overlong_string_refused_on_encode)
{
	uint8_t buf[2048];
	struct duet_master m;
	sample_master(&m);
	memset(m.detail, 'x', sizeof m.detail); /* no NUL inside the array */
	assert_rc(duet_master_encode(&m, buf, sizeof buf), DUET_ETOOBIG);

	struct duet_health h;
	sample_health(&h);
	memset(h.check, 'c', sizeof h.check);
	assert_rc(duet_health_encode(&h, buf, sizeof buf), DUET_ETOOBIG);

	struct duet_operator o;
	sample_operator(&o);
	memset(o.who, 'w', sizeof o.who);
	assert_rc(duet_operator_encode(&o, buf, sizeof buf), DUET_ETOOBIG);

	struct duet_membership c;
	sample_membership(&c);
	memset(c.members[0].name, 'n', sizeof c.members[0].name);
	assert_rc(duet_membership_encode(&c, buf, sizeof buf), DUET_ETOOBIG);
	sample_membership(&c);
	memset(c.members[2].addrs[0], 'a', sizeof c.members[2].addrs[0]);
	c.members[2].n_addrs = 1;
	assert_rc(duet_membership_encode(&c, buf, sizeof buf), DUET_ETOOBIG);

	struct duet_trap t[N_SAMPLE_TRAPS];
	sample_traps(t);
	memset(t[0].sender, 's', sizeof t[0].sender);
	uint8_t *big = malloc(PAYLOAD_BUF);
	assert_rc(duet_traps_encode(t, N_SAMPLE_TRAPS, big, PAYLOAD_BUF), DUET_ETOOBIG);
	free(big);
}

/* A string length that does not fit the destination array is refused before
 * anything is copied, even when the bytes are there. */
Test(payload, overlong_string_refused_on_decode)
{
	uint8_t buf[2048];
	struct wire_writer w;
	struct duet_master m;

	/* MASTER with a detail of DUET_DETAIL_MAX bytes: one too many */
	wire_writer_init(&w, buf, sizeof buf);
	wire_put_u8(&w, 1);
	wire_put_u32(&w, 1);
	wire_put_u32(&w, 0);
	wire_put_u8(&w, DUET_MASTER_FAILOVER);
	wire_put_u16(&w, DUET_DETAIL_MAX);
	for (int i = 0; i < DUET_DETAIL_MAX; i++)
		wire_put_u8(&w, 'x');
	assert_rc(duet_master_decode(buf, w.used, &m), DUET_ETOOBIG);

	/* DUET_DETAIL_MAX - 1 fits */
	wire_writer_init(&w, buf, sizeof buf);
	wire_put_u8(&w, 1);
	wire_put_u32(&w, 1);
	wire_put_u32(&w, 0);
	wire_put_u8(&w, DUET_MASTER_FAILOVER);
	wire_put_u16(&w, DUET_DETAIL_MAX - 1);
	for (int i = 0; i < DUET_DETAIL_MAX - 1; i++)
		wire_put_u8(&w, 'x');
	assert_rc(duet_master_decode(buf, w.used, &m), 0);
	cr_assert_eq(strlen(m.detail), DUET_DETAIL_MAX - 1);

	/* a 65535-byte length in a short buffer */
	wire_writer_init(&w, buf, sizeof buf);
	wire_put_u8(&w, 1);
	wire_put_u32(&w, 1);
	wire_put_u32(&w, 0);
	wire_put_u8(&w, DUET_MASTER_FAILOVER);
	wire_put_u16(&w, 0xffff);
	cr_assert(duet_master_decode(buf, w.used, &m) < 0);

	/* HEALTH check name of DUET_NAME_MAX bytes */
	struct duet_health h;
	wire_writer_init(&w, buf, sizeof buf);
	wire_put_u8(&w, 1);
	wire_put_u32(&w, 1);
	wire_put_u16(&w, DUET_NAME_MAX);
	for (int i = 0; i < DUET_NAME_MAX; i++)
		wire_put_u8(&w, 'c');
	wire_put_u8(&w, DUET_HEALTH_OK);
	wire_put_u8(&w, 0);
	wire_put_u16(&w, 0);
	assert_rc(duet_health_decode(buf, w.used, &h), DUET_ETOOBIG);
}

Test(payload, embedded_nul_refused)
{
	struct duet_master m;
	uint8_t buf[64];
	sample_master(&m);
	strcpy(m.detail, "abc");
	long n = duet_master_encode(&m, buf, sizeof buf);
	cr_assert(n > 0);
	buf[n - 2] = '\0'; /* "a\0c" would come back as "a" */
	assert_rc(duet_master_decode(buf, (size_t)n, &m), DUET_ECORRUPT);
}

/* ---- payloads: enums and flags ------------------------------------------- */

/* Sets byte `at` of the sample's encoding to each value in bad[] and expects
 * DUET_ECORRUPT; the encoder refuses the same values with DUET_EINVAL. */
static void check_bad_byte(const struct payload_codec *c, size_t at, const uint8_t *bad,
			   size_t n_bad)
{
	void *in = calloc(1, c->size), *out = calloc(1, c->size);
	uint8_t *buf;
	size_t n = encode_sample(c, in, &buf);
	cr_assert(at < n);
	for (size_t i = 0; i < n_bad; i++) {
		uint8_t saved = buf[at];
		buf[at] = bad[i];
		int rc = c->decode(buf, n, out);
		cr_assert_eq(rc, DUET_ECORRUPT, "%s: byte %zu = %u: got %s", c->name, at, bad[i],
			     duet_strerror(rc));
		buf[at] = saved;
	}
	free(buf);
	free(in);
	free(out);
}

static const struct payload_codec *codec(const char *name)
{
	for (size_t k = 0; k < N_CODECS; k++)
		if (strcmp(codecs[k].name, name) == 0)
			return &codecs[k];
	cr_assert_fail("no codec %s", name);
	return NULL;
}

Test(payload, out_of_range_enums_refused)
{
	const uint8_t reason[] = {0, 5, 255};
	check_bad_byte(codec("master"), 9, reason, sizeof reason);
	const uint8_t flag[] = {2, 255};
	check_bad_byte(codec("sync"), 5, flag, sizeof flag);
	const uint8_t action[] = {0, 8, 255};
	check_bad_byte(codec("step"), 1, action, sizeof action);
	check_bad_byte(codec("step"), 6, flag, sizeof flag);
	/* health: version, node, check "isolation" (2 + 9 bytes), state, critical */
	const uint8_t state[] = {3, 255};
	check_bad_byte(codec("health"), 1 + 4 + 2 + 9, state, sizeof state);
	check_bad_byte(codec("health"), 1 + 4 + 2 + 9 + 1, flag, sizeof flag);
	const uint8_t command[] = {0, 6, 255};
	check_bad_byte(codec("operator"), 1, command, sizeof command);
	const uint8_t sink[] = {DUET_SINK_RELP + 1, 255};
	check_bad_byte(codec("delivered"), 9, sink, sizeof sink);
	/* traps: version, count, identity, ordinal, recv_ms, receiver, kind */
	const uint8_t kind[] = {0, 4, 255};
	check_bad_byte(codec("traps"), 1 + 4 + 32 + 4 + 8 + 4, kind, sizeof kind);
	/* membership: version, n, id, kind */
	const uint8_t member_kind[] = {0, 3, 255};
	check_bad_byte(codec("membership"), 1 + 4 + 4, member_kind, sizeof member_kind);
}

Test(payload, out_of_range_enums_refused_on_encode)
{
	uint8_t buf[2048];
	struct duet_master m;
	sample_master(&m);
	m.reason = 0;
	assert_rc(duet_master_encode(&m, buf, sizeof buf), DUET_EINVAL);
	struct duet_sync s;
	sample_sync(&s);
	s.on = 2;
	assert_rc(duet_sync_encode(&s, buf, sizeof buf), DUET_EINVAL);
	struct duet_step st;
	sample_step(&st);
	st.action = 8;
	assert_rc(duet_step_encode(&st, buf, sizeof buf), DUET_EINVAL);
	struct duet_health h;
	sample_health(&h);
	h.state = 3;
	assert_rc(duet_health_encode(&h, buf, sizeof buf), DUET_EINVAL);
	struct duet_operator o;
	sample_operator(&o);
	o.command = 0;
	assert_rc(duet_operator_encode(&o, buf, sizeof buf), DUET_EINVAL);
	struct duet_delivered d;
	sample_delivered(&d);
	d.sink = DUET_SINK_RELP + 1;
	assert_rc(duet_delivered_encode(&d, buf, sizeof buf), DUET_EINVAL);
	struct duet_trap t[N_SAMPLE_TRAPS];
	sample_traps(t);
	t[1].kind = 9;
	assert_rc(duet_traps_encode(t, N_SAMPLE_TRAPS, buf, sizeof buf), DUET_EINVAL);
}

/* ---- membership ---------------------------------------------------------- */

Test(membership, too_many_members_refused)
{
	uint8_t buf[4096];
	struct duet_membership c;
	sample_membership(&c);
	c.n = DUET_MAX_MEMBERS + 1;
	assert_rc(duet_membership_encode(&c, buf, sizeof buf), DUET_EINVAL);

	/* a full membership encodes; then claim one more member on the wire */
	memset(&c, 0, sizeof c);
	c.n = DUET_MAX_MEMBERS;
	for (uint32_t i = 0; i < c.n; i++) {
		c.members[i].id = i + 1;
		c.members[i].kind = DUET_MEMBER_DATA;
	}
	long n = duet_membership_encode(&c, buf, sizeof buf);
	cr_assert(n > 0);
	struct duet_membership out;
	assert_rc(duet_membership_decode(buf, (size_t)n, &out), 0);
	assert_membership_eq(&c, &out);
	put_le32(buf + 1, DUET_MAX_MEMBERS + 1);
	assert_rc(duet_membership_decode(buf, (size_t)n, &out), DUET_ETOOBIG);
	put_le32(buf + 1, UINT32_MAX);
	assert_rc(duet_membership_decode(buf, (size_t)n, &out), DUET_ETOOBIG);
}

Test(membership, duplicate_and_zero_ids_refused)
{
	uint8_t buf[4096];
	struct duet_membership c, out;
	sample_membership(&c);
	long n = duet_membership_encode(&c, buf, sizeof buf);
	cr_assert(n > 0);
	/* member 2's id is at 1 + 4 + size of member 0 */
	size_t m0 = 4 + 1 + 8 + 2 + strlen(c.members[0].name) + 1 + 2 +
		    strlen(c.members[0].addrs[0]) + 2 + strlen(c.members[0].addrs[1]);
	cr_assert_eq(get_le32(buf + 5 + m0), c.members[1].id);

	put_le32(buf + 5 + m0, c.members[0].id);
	assert_rc(duet_membership_decode(buf, (size_t)n, &out), DUET_ECORRUPT);
	put_le32(buf + 5 + m0, 0);
	assert_rc(duet_membership_decode(buf, (size_t)n, &out), DUET_ECORRUPT);
	put_le32(buf + 5, 0);
	assert_rc(duet_membership_decode(buf, (size_t)n, &out), DUET_ECORRUPT);

	c.members[1].id = c.members[2].id;
	assert_rc(duet_membership_encode(&c, buf, sizeof buf), DUET_EINVAL);
	sample_membership(&c);
	c.members[0].id = 0;
	assert_rc(duet_membership_encode(&c, buf, sizeof buf), DUET_EINVAL);
}

Test(membership, bad_kind_and_addr_count_refused)
{
	uint8_t buf[4096];
	struct duet_membership c, out;
	sample_membership(&c);
	c.members[2].kind = 0;
	assert_rc(duet_membership_encode(&c, buf, sizeof buf), DUET_EINVAL);
	c.members[2].kind = 3;
	assert_rc(duet_membership_encode(&c, buf, sizeof buf), DUET_EINVAL);
	sample_membership(&c);
	c.members[2].n_addrs = DUET_MAX_ADDRS + 1;
	assert_rc(duet_membership_encode(&c, buf, sizeof buf), DUET_EINVAL);

	/* one member, n_addrs on the wire too big */
	memset(&c, 0, sizeof c);
	c.n = 1;
	c.members[0].id = 9;
	c.members[0].kind = DUET_MEMBER_WITNESS;
	long n = duet_membership_encode(&c, buf, sizeof buf);
	cr_assert_eq(n, 1 + 4 + 4 + 1 + 8 + 2 + 1);
	buf[n - 1] = DUET_MAX_ADDRS + 1;
	assert_rc(duet_membership_decode(buf, (size_t)n, &out), DUET_ETOOBIG);
}

Test(membership, empty_round_trips)
{
	uint8_t buf[16];
	struct duet_membership c, out;
	memset(&c, 0, sizeof c);
	cr_assert_eq(duet_membership_encode(&c, buf, sizeof buf), 5);
	assert_rc(duet_membership_decode(buf, 5, &out), 0);
	assert_membership_eq(&c, &out);
}

Test(membership, store_ids_round_trip_as_version_2)
{
	struct duet_membership c, out;
	sample_membership(&c);
	uint8_t v1[4096], v2[4096];
	long n1 = duet_membership_encode(&c, v1, sizeof v1);
	cr_assert_gt(n1, 0);
	cr_assert_eq(v1[0], 1, "no store id bound: the version-1 bytes");
	c.members[1].store_id = 0x0123456789abcdefull;
	long n2 = duet_membership_encode(&c, v2, sizeof v2);
	cr_assert_eq(n2, n1 + 8 * (long)c.n, "one u64 per member");
	cr_assert_eq(v2[0], 2);
	assert_rc(duet_membership_decode(v2, (size_t)n2, &out), 0);
	assert_membership_eq(&c, &out);
	/* canonical: version 2 with no id at all is what no encoder writes */
	c.members[1].store_id = 0;
	duet_membership_encode(&c, v1, sizeof v1);
	memcpy(v2, v1, (size_t)n1);
	v2[0] = 2;
	cr_assert_neq(duet_membership_decode(v2, (size_t)n1, &out), 0);
}

Test(membership, find)
{
	struct duet_membership c;
	sample_membership(&c);
	cr_assert_eq(duet_membership_find(&c, 1), &c.members[0]);
	cr_assert_eq(duet_membership_find(&c, 0xfffffffeu), &c.members[1]);
	cr_assert_eq(duet_membership_find(&c, 3), &c.members[2]);
	cr_assert_null(duet_membership_find(&c, 2));
	cr_assert_null(duet_membership_find(&c, 0));
	c.n = 1;
	cr_assert_null(duet_membership_find(&c, 3), "members past n are not members");
}

/* ---- traps --------------------------------------------------------------- */

Test(traps, iterator_points_into_buffer)
{
	struct duet_trap t[N_SAMPLE_TRAPS];
	sample_traps(t);
	uint8_t *buf = malloc(PAYLOAD_BUF);
	long n = duet_traps_encode(t, N_SAMPLE_TRAPS, buf, PAYLOAD_BUF);
	cr_assert(n > 0);

	struct duet_traps_iter it;
	uint32_t count = 99;
	assert_rc(duet_traps_iter_init(&it, buf, (size_t)n, &count), 0);
	cr_assert_eq(count, N_SAMPLE_TRAPS);
	for (int i = 0; i < N_SAMPLE_TRAPS; i++) {
		struct duet_trap got;
		assert_rc(duet_traps_next(&it, &got), 1);
		assert_trap_eq(&t[i], &got);
		if (got.len)
			cr_assert(got.payload >= buf && got.payload + got.len <= buf + n,
				  "payload must point into the encoded buffer");
	}
	struct duet_trap end;
	assert_rc(duet_traps_next(&it, &end), 0);
	assert_rc(duet_traps_next(&it, &end), 0);
	free(buf);
}

Test(traps, max_payload_round_trips)
{
	struct duet_trap t[N_SAMPLE_TRAPS];
	sample_traps(t);
	t[0].len = DUET_TRAP_MAX_PAYLOAD;
	t[0].payload = trap_payload_c;
	uint8_t *buf = malloc(PAYLOAD_BUF);
	long n = duet_traps_encode(t, N_SAMPLE_TRAPS, buf, PAYLOAD_BUF);
	cr_assert(n > DUET_TRAP_MAX_PAYLOAD);
	struct duet_traps_iter it;
	uint32_t count;
	assert_rc(duet_traps_iter_init(&it, buf, (size_t)n, &count), 0);
	for (int i = 0; i < N_SAMPLE_TRAPS; i++) {
		struct duet_trap got;
		assert_rc(duet_traps_next(&it, &got), 1);
		assert_trap_eq(&t[i], &got);
	}
	free(buf);
}

Test(traps, empty_batch)
{
	uint8_t buf[8];
	cr_assert_eq(duet_traps_encode(NULL, 0, buf, sizeof buf), 5);
	struct duet_traps_iter it;
	uint32_t count = 1;
	assert_rc(duet_traps_iter_init(&it, buf, 5, &count), 0);
	cr_assert_eq(count, 0);
	struct duet_trap t;
	assert_rc(duet_traps_next(&it, &t), 0);
}

Test(traps, oversized_payload_refused)
{
	struct duet_trap t[N_SAMPLE_TRAPS];
	sample_traps(t);
	uint8_t *buf = malloc(PAYLOAD_BUF);
	t[2].len = DUET_TRAP_MAX_PAYLOAD + 1;
	assert_rc(duet_traps_encode(t, N_SAMPLE_TRAPS, buf, PAYLOAD_BUF), DUET_ETOOBIG);

	/* one trap whose len field claims more than the limit */
	sample_traps(t);
	long n = duet_traps_encode(t, 1, buf, PAYLOAD_BUF);
	cr_assert(n > 0);
	size_t len_at = (size_t)n - t[0].len - 4;
	cr_assert_eq(get_le32(buf + len_at), t[0].len);
	put_le32(buf + len_at, DUET_TRAP_MAX_PAYLOAD + 1);
	struct duet_traps_iter it;
	uint32_t count;
	assert_rc(duet_traps_iter_init(&it, buf, (size_t)n, &count), DUET_ETOOBIG);
	free(buf);
}

Test(traps, huge_count_refused)
{
	struct duet_trap t[N_SAMPLE_TRAPS];
	sample_traps(t);
	uint8_t buf[512];
	long n = duet_traps_encode(t, 1, buf, sizeof buf);
	cr_assert(n > 0);
	struct duet_traps_iter it;
	uint32_t count = 7;
	put_le32(buf + 1, UINT32_MAX);
	assert_rc(duet_traps_iter_init(&it, buf, (size_t)n, &count), DUET_ETRUNCATED);
	cr_assert_eq(count, 0);
	put_le32(buf + 1, 2);
	cr_assert(duet_traps_iter_init(&it, buf, (size_t)n, &count) < 0);
	put_le32(buf + 1, 0); /* the trap becomes trailing garbage */
	assert_rc(duet_traps_iter_init(&it, buf, (size_t)n, &count), DUET_ECORRUPT);
}

/* A damaged trap late in the batch is found by iter_init, before the caller
 * has acted on any trap of the batch. */
Test(traps, damage_found_before_iterating)
{
	struct duet_trap t[N_SAMPLE_TRAPS];
	sample_traps(t);
	uint8_t *buf = malloc(PAYLOAD_BUF);
	long n = duet_traps_encode(t, N_SAMPLE_TRAPS, buf, PAYLOAD_BUF);
	cr_assert(n > 0);
	struct duet_traps_iter it;
	uint32_t count;
	assert_rc(duet_traps_iter_init(&it, buf, (size_t)n - 1, &count), DUET_ETRUNCATED);
	free(buf);
}

/* ---- entry envelope ------------------------------------------------------ */

static uint8_t entry_payload[300];

static void sample_entry(struct raft_entry *e)
{
	fill_random(entry_payload, sizeof entry_payload);
	e->term = 0x0807060504030201ull;
	e->index = 0x1000000000000001ull;
	e->wall_ms = 1700000000123ull;
	e->author = 0xcafef00du;
	e->type = RAFT_ENTRY_TRAPS;
	e->len = sizeof entry_payload;
	e->data = entry_payload;
}

Test(entry, round_trip_and_truncation)
{
	struct raft_entry e, got;
	sample_entry(&e);
	size_t size = raft_entry_encoded_size(&e);
	uint8_t *buf = malloc(size);
	cr_assert_eq(raft_entry_encode(&e, buf, size), (long)size);
	assert_rc(raft_entry_encode(&e, buf, size - 1), DUET_ETOOBIG);
	size_t used = 0;
	assert_rc(raft_entry_decode(buf, size, &got, &used), 0);
	cr_assert_eq(used, size);
	assert_entry_eq(&e, &got);
	for (size_t len = 0; len < size; len++) {
		uint8_t *prefix = exact_copy(buf, len);
		require(raft_entry_decode(prefix, len, &got, NULL) < 0, "prefix %zu accepted", len);
		free(prefix);
	}
	buf[0] = 2; /* a version we do not know, with a valid checksum */
	uint32_t crc = duet_crc32c(0, buf, size - 4);
	for (int i = 0; i < 4; i++)
		buf[size - 4 + i] = (uint8_t)(crc >> (8 * i));
	assert_rc(raft_entry_decode(buf, size, &got, NULL), DUET_EVERSION);
	free(buf);
}

/*
 * A flipped bit anywhere is refused as corruption: the checksum is checked
 * before the version. Only a flip in the length field can make the entry
 * look longer than the buffer (DUET_ETRUNCATED / DUET_ETOOBIG).
 */
Test(entry, every_bit_flip_refused)
{
	struct raft_entry e, got;
	sample_entry(&e);
	e.len = 40;
	size_t size = raft_entry_encoded_size(&e);
	uint8_t *buf = malloc(size);
	cr_assert_eq(raft_entry_encode(&e, buf, size), (long)size);
	for (size_t bit = 0; bit < size * 8; bit++) {
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		int rc = raft_entry_decode(buf, size, &got, NULL);
		size_t byte = bit / 8;
		if (byte >= 32 && byte < 36)
			require(rc == DUET_ECORRUPT || rc == DUET_ETRUNCATED || rc == DUET_ETOOBIG,
				"len flip at bit %zu: %s", bit, duet_strerror(rc));
		else
			assert_rc(rc, DUET_ECORRUPT);
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	free(buf);
}

/* ---- messages ------------------------------------------------------------ */

static uint8_t snap_data[777];
static struct raft_entry msg_entries[4];
static uint8_t msg_payloads[4][256];

enum { MSG_CASES = 11 };

/* Case k: every type, plus the variants that stress the edges. */
static void sample_msg(int k, struct raft_msg *m)
{
	memset(m, 0, sizeof *m);
	m->from = 1 + (uint32_t)k;
	m->to = 0xfffffff0u - (uint32_t)k;
	m->from_incarnation = 0x0102030405060708ull + (uint64_t)k;
	m->term = 0x1112131415161718ull;
	switch (k) {
	case 0:
	case 1:
		m->type = k == 0 ? RAFT_MSG_PREVOTE : RAFT_MSG_VOTE;
		m->vote.last_index = 0x2122232425262728ull;
		m->vote.last_term = 0x3132333435363738ull;
		m->vote.transfer = (uint8_t)k;
		break;
	case 2:
	case 3:
		m->type = k == 2 ? RAFT_MSG_PREVOTE_RESP : RAFT_MSG_VOTE_RESP;
		m->vote_resp.granted = (uint8_t)(k == 2);
		break;
	case 4: /* append with entries of several sizes, one empty */
	case 5: /* heartbeat */
		m->type = RAFT_MSG_APPEND;
		m->append.prev_index = 0x4142434445464748ull;
		m->append.prev_term = 0x5152535455565758ull;
		m->append.commit = 0x6162636465666768ull;
		m->append.lease_ts = 0x7172737475767778ull;
		if (k == 4) {
			m->append.n_entries = 4;
			m->append.entries = msg_entries;
			for (int i = 0; i < 4; i++) {
				struct raft_entry *e = &msg_entries[i];
				fill_random(msg_payloads[i], sizeof msg_payloads[i]);
				e->term = 5 + (uint64_t)i;
				e->index = 0x4142434445464748ull + 1 + (uint64_t)i;
				e->wall_ms = rnd();
				e->author = (uint32_t)rnd();
				e->type = (uint8_t)(i * 2);
				e->len = i == 1 ? 0 : 1u + (uint32_t)(rnd() % 255);
				e->data = e->len ? msg_payloads[i] : NULL;
			}
		}
		break;
	case 6:
		m->type = RAFT_MSG_APPEND_RESP;
		m->append_resp.success = 1;
		m->append_resp.match_index = 0x8182838485868788ull;
		m->append_resp.last_index = 0x9192939495969798ull;
		m->append_resp.lease_ts = 0xa1a2a3a4a5a6a7a8ull;
		break;
	case 7: /* snapshot with data */
	case 8: /* snapshot without */
		m->type = RAFT_MSG_SNAPSHOT;
		m->snapshot.meta.index = 0xb1b2b3b4b5b6b7b8ull;
		m->snapshot.meta.term = 0xc1c2c3c4c5c6c7c8ull;
		sample_membership(&m->snapshot.meta.conf);
		m->snapshot.lease_ts = 0xd1d2d3d4d5d6d7d8ull;
		if (k == 7) {
			fill_random(snap_data, sizeof snap_data);
			m->snapshot.len = sizeof snap_data;
			m->snapshot.data = snap_data;
		}
		break;
	case 9:
		m->type = RAFT_MSG_TIMEOUT_NOW;
		break;
	case 10: /* rejection */
		m->type = RAFT_MSG_APPEND_RESP;
		m->append_resp.success = 0;
		m->append_resp.last_index = 3;
		break;
	}
}

static void assert_msg_eq(const struct raft_msg *a, const struct raft_msg *b)
{
	cr_assert_eq(a->type, b->type);
	cr_assert_eq(a->from, b->from);
	cr_assert_eq(a->to, b->to);
	cr_assert_eq(a->from_incarnation, b->from_incarnation);
	cr_assert_eq(a->from_store_id, b->from_store_id);
	cr_assert_eq(a->term, b->term);
	switch (a->type) {
	case RAFT_MSG_PREVOTE:
	case RAFT_MSG_VOTE:
		cr_assert_eq(a->vote.last_index, b->vote.last_index);
		cr_assert_eq(a->vote.last_term, b->vote.last_term);
		cr_assert_eq(a->vote.transfer, b->vote.transfer);
		break;
	case RAFT_MSG_PREVOTE_RESP:
	case RAFT_MSG_VOTE_RESP:
		cr_assert_eq(a->vote_resp.granted, b->vote_resp.granted);
		break;
	case RAFT_MSG_APPEND:
		cr_assert_eq(a->append.prev_index, b->append.prev_index);
		cr_assert_eq(a->append.prev_term, b->append.prev_term);
		cr_assert_eq(a->append.commit, b->append.commit);
		cr_assert_eq(a->append.lease_ts, b->append.lease_ts);
		cr_assert_eq(a->append.n_entries, b->append.n_entries);
		for (uint32_t i = 0; i < a->append.n_entries; i++)
			assert_entry_eq(&a->append.entries[i], &b->append.entries[i]);
		break;
	case RAFT_MSG_APPEND_RESP:
		cr_assert_eq(a->append_resp.success, b->append_resp.success);
		cr_assert_eq(a->append_resp.match_index, b->append_resp.match_index);
		cr_assert_eq(a->append_resp.last_index, b->append_resp.last_index);
		cr_assert_eq(a->append_resp.lease_ts, b->append_resp.lease_ts);
		break;
	case RAFT_MSG_SNAPSHOT:
		cr_assert_eq(a->snapshot.meta.index, b->snapshot.meta.index);
		cr_assert_eq(a->snapshot.meta.term, b->snapshot.meta.term);
		assert_membership_eq(&a->snapshot.meta.conf, &b->snapshot.meta.conf);
		cr_assert_eq(a->snapshot.lease_ts, b->snapshot.lease_ts);
		cr_assert_eq(a->snapshot.len, b->snapshot.len);
		if (a->snapshot.len)
			cr_assert_arr_eq(a->snapshot.data, b->snapshot.data, a->snapshot.len);
		break;
	}
}

/* Encodes case k into a heap block of exactly the encoded size. */
static size_t encode_msg(int k, struct raft_msg *m, uint8_t **out)
{
	sample_msg(k, m);
	size_t size = raft_msg_encoded_size(m);
	uint8_t *buf = malloc(size);
	long n = raft_msg_encode(m, buf, size);
	cr_assert_eq(n, (long)size, "case %d (%s): %ld (%s)", k, raft_msg_type_name(m->type), n,
		     duet_strerror((int)n));
	*out = buf;
	return size;
}

Test(msg, round_trip_every_type)
{
	int seen[RAFT_MSG_TIMEOUT_NOW + 1] = {0};
	for (int k = 0; k < MSG_CASES; k++) {
		struct raft_msg m, got;
		uint8_t *buf;
		size_t n = encode_msg(k, &m, &buf);
		seen[m.type] = 1;
		assert_rc(raft_msg_decode(buf, n, &got), 0);
		/* nothing decoded may point into the input */
		memset(buf, 0xa5, n);
		free(buf);
		assert_msg_eq(&m, &got);

		if (m.type == RAFT_MSG_APPEND && m.append.n_entries) {
			cr_assert_eq((void *)got.append.entries, got.owned,
				     "entries array heads the one owned block");
		} else if (m.type == RAFT_MSG_SNAPSHOT && m.snapshot.len) {
			cr_assert_eq((void *)got.snapshot.data, got.owned);
		} else {
			cr_assert_null(got.owned, "case %d: nothing to own", k);
		}
		raft_msg_release(&got);
		cr_assert_null(got.owned);
		raft_msg_release(&got); /* twice is harmless */
	}
	for (int t = RAFT_MSG_PREVOTE; t <= RAFT_MSG_TIMEOUT_NOW; t++)
		cr_assert(seen[t], "type %s not covered", raft_msg_type_name((uint8_t)t));
}

Test(msg, encoder_respects_capacity)
{
	for (int k = 0; k < MSG_CASES; k++) {
		struct raft_msg m;
		uint8_t *buf;
		size_t n = encode_msg(k, &m, &buf);
		for (size_t cap = 0; cap < n; cap += 1 + cap / 8) {
			uint8_t *small = malloc(cap ? cap : 1);
			assert_rc(raft_msg_encode(&m, small, cap), DUET_ETOOBIG);
			free(small);
		}
		free(buf);
	}
}

Test(msg, every_truncation_refused)
{
	for (int k = 0; k < MSG_CASES; k++) {
		struct raft_msg m, got;
		uint8_t *buf;
		size_t n = encode_msg(k, &m, &buf);
		for (size_t len = 0; len < n; len++) {
			uint8_t *prefix = exact_copy(buf, len);
			int rc = raft_msg_decode(prefix, len, &got);
			require(rc < 0, "case %d: prefix %zu/%zu accepted", k, len, n);
			require(got.owned == NULL, "case %d: owned after failure", k);
			free(prefix);
		}
		free(buf);
	}
}

Test(msg, every_bit_flip_is_corrupt)
{
	for (int k = 0; k < MSG_CASES; k++) {
		struct raft_msg m, got;
		uint8_t *buf;
		size_t n = encode_msg(k, &m, &buf);
		for (size_t bit = 0; bit < n * 8; bit++) {
			buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			int rc = raft_msg_decode(buf, n, &got);
			require(rc == DUET_ECORRUPT, "case %d bit %zu: %s", k, bit,
				duet_strerror(rc));
			require(got.owned == NULL, "case %d: owned after failure", k);
			buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		free(buf);
	}
}

/* With the message crc made valid again, the entry's own crc still catches a
 * damaged entry. */
Test(msg, damaged_entry_inside_valid_message)
{
	struct raft_msg m, got;
	uint8_t *buf;
	size_t n = encode_msg(4, &m, &buf);
	size_t first_payload = 28 + 4 * 8 + 4 + RAFT_ENTRY_HEADER_BYTES;
	buf[first_payload] ^= 0x10;
	reseal_msg(buf, n);
	assert_rc(raft_msg_decode(buf, n, &got), DUET_ECORRUPT);
	cr_assert_null(got.owned);
	free(buf);
}

Test(msg, store_id_is_version_2_and_round_trips)
{
	for (int k = 0; k < MSG_CASES; k++) {
		struct raft_msg m, got;
		sample_msg(k, &m);
		size_t v1 = raft_msg_encoded_size(&m);
		m.from_store_id = 0xfeedfacecafe0001ull;
		size_t size = raft_msg_encoded_size(&m);
		cr_assert_eq(size, v1 + 8);
		uint8_t *buf = malloc(size);
		cr_assert_eq(raft_msg_encode(&m, buf, size), (long)size);
		cr_assert_eq(buf[0], RAFT_MSG_VERSION_STORE_ID);
		assert_rc(raft_msg_decode(buf, size, &got), 0);
		assert_msg_eq(&m, &got);
		raft_msg_release(&got);
		/* a version-2 header cut short (found by fuzz_msg) */
		uint8_t shortm[32];
		memcpy(shortm, buf, sizeof shortm);
		reseal_msg(shortm, sizeof shortm);
		cr_assert_neq(raft_msg_decode(shortm, sizeof shortm, &got), 0);
		/* version 2 carrying id 0 is not canonical */
		memset(buf + 20, 0, 8); /* after version .. from_incarnation */
		reseal_msg(buf, size);
		assert_rc(raft_msg_decode(buf, size, &got), DUET_ECORRUPT);
		free(buf);
	}
}

Test(msg, header_checks)
{
	struct raft_msg m, got;
	uint8_t *buf;
	size_t n = encode_msg(0, &m, &buf);
	buf[0] = 3;
	reseal_msg(buf, n);
	assert_rc(raft_msg_decode(buf, n, &got), DUET_EVERSION);
	buf[0] = 0;
	reseal_msg(buf, n);
	assert_rc(raft_msg_decode(buf, n, &got), DUET_EVERSION);
	buf[0] = RAFT_MSG_VERSION;
	const uint8_t bad_types[] = {0, RAFT_MSG_TIMEOUT_NOW + 1, 255};
	for (size_t i = 0; i < sizeof bad_types; i++) {
		buf[1] = bad_types[i];
		reseal_msg(buf, n);
		assert_rc(raft_msg_decode(buf, n, &got), DUET_ECORRUPT);
	}
	buf[1] = RAFT_MSG_PREVOTE;
	buf[2] = 1; /* reserved */
	reseal_msg(buf, n);
	assert_rc(raft_msg_decode(buf, n, &got), DUET_ECORRUPT);
	buf[2] = 0;
	reseal_msg(buf, n);
	assert_rc(raft_msg_decode(buf, n, &got), 0);
	buf[n - 5] = 2; /* transfer flag */
	reseal_msg(buf, n);
	assert_rc(raft_msg_decode(buf, n, &got), DUET_ECORRUPT);
	free(buf);
}

Test(msg, wire_layout_pinned)
{
	struct raft_msg m;
	memset(&m, 0, sizeof m);
	m.type = RAFT_MSG_VOTE_RESP;
	m.from = 1;
	m.to = 2;
	m.from_incarnation = 3;
	m.term = 0x0000000100000004ull;
	m.vote_resp.granted = 1;
	uint8_t buf[64];
	const uint8_t want[] = {1, 4, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0,
				0, 0, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 1};
	cr_assert_eq(raft_msg_encode(&m, buf, sizeof buf), (long)sizeof want + 4);
	cr_assert_arr_eq(buf, want, sizeof want);
	cr_assert_eq(get_le32(buf + sizeof want), duet_crc32c(0, want, sizeof want));
}

Test(msg, trailing_bytes_refused)
{
	for (int k = 0; k < MSG_CASES; k++) {
		struct raft_msg m, got;
		uint8_t *buf;
		size_t n = encode_msg(k, &m, &buf);
		uint8_t *longer = malloc(n + 1);
		memcpy(longer, buf, n - 4);
		longer[n - 4] = 0;
		reseal_msg(longer, n + 1);
		assert_rc(raft_msg_decode(longer, n + 1, &got), DUET_ECORRUPT);
		cr_assert_null(got.owned);
		free(longer);
		free(buf);
	}
}

/* A forged entry count must be refused by arithmetic, not by an allocation
 * attempt: 2^32 entries would ask for ~200 GB. */
Test(msg, huge_entry_count_refused)
{
	struct raft_msg m, got;
	uint8_t *buf;
	size_t n = encode_msg(5, &m, &buf); /* heartbeat: no entries */
	size_t count_at = 28 + 4 * 8;
	cr_assert_eq(get_le32(buf + count_at), 0);
	const uint32_t counts[] = {UINT32_MAX, 0x80000000u, 1000000, 1};
	for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
		put_le32(buf + count_at, counts[i]);
		reseal_msg(buf, n);
		assert_rc(raft_msg_decode(buf, n, &got), DUET_ETRUNCATED);
		cr_assert_null(got.owned);
	}
	free(buf);

	/* a real append that claims one entry more than it carries */
	n = encode_msg(4, &m, &buf);
	put_le32(buf + count_at, 5);
	reseal_msg(buf, n);
	cr_assert(raft_msg_decode(buf, n, &got) < 0);
	cr_assert_null(got.owned);
	put_le32(buf + count_at, 3); /* one fewer: the last becomes trailing bytes */
	reseal_msg(buf, n);
	assert_rc(raft_msg_decode(buf, n, &got), DUET_ECORRUPT);
	free(buf);
}

Test(msg, snapshot_checks)
{
	struct raft_msg m, got;
	uint8_t *buf;
	size_t n = encode_msg(7, &m, &buf);
	size_t conf_len_at = 28 + 16;
	uint32_t conf_len = get_le32(buf + conf_len_at);
	cr_assert_eq(buf[conf_len_at + 4], 1, "membership version byte");
	put_le32(buf + conf_len_at, (uint32_t)n);
	reseal_msg(buf, n);
	assert_rc(raft_msg_decode(buf, n, &got), DUET_ETRUNCATED);
	put_le32(buf + conf_len_at, conf_len - 1);
	reseal_msg(buf, n);
	cr_assert(raft_msg_decode(buf, n, &got) < 0);
	put_le32(buf + conf_len_at, conf_len);
	put_le32(buf + conf_len_at + 4 + conf_len + 8, UINT32_MAX); /* data len */
	reseal_msg(buf, n);
	assert_rc(raft_msg_decode(buf, n, &got), DUET_ETRUNCATED);
	cr_assert_null(got.owned);
	free(buf);

	/* an invalid membership is refused by the encoder */
	sample_msg(7, &m);
	m.snapshot.meta.conf.members[1].id = m.snapshot.meta.conf.members[0].id;
	uint8_t small[4096];
	assert_rc(raft_msg_encode(&m, small, sizeof small), DUET_EINVAL);
}

Test(msg, size_limits)
{
	struct raft_msg m, got;
	sample_msg(8, &m);
	/* the encoder refuses before it reads data: the pointer is a placeholder */
	uint8_t placeholder[1];
	m.snapshot.data = placeholder;
	m.snapshot.len = RAFT_MSG_MAX_BYTES;
	uint8_t buf[64];
	assert_rc(raft_msg_encode(&m, buf, SIZE_MAX), DUET_ETOOBIG);

	uint8_t *huge = calloc(1, (size_t)RAFT_MSG_MAX_BYTES + 1);
	cr_assert(huge != NULL);
	assert_rc(raft_msg_decode(huge, (size_t)RAFT_MSG_MAX_BYTES + 1, &got), DUET_ETOOBIG);
	free(huge);

	struct raft_entry e;
	sample_entry(&e);
	e.len = RAFT_ENTRY_MAX_PAYLOAD + 1;
	sample_msg(5, &m);
	m.append.n_entries = 1;
	m.append.entries = &e;
	assert_rc(raft_msg_encode(&m, buf, SIZE_MAX), DUET_ETOOBIG);
}

Test(msg, invalid_fields_refused_on_encode)
{
	struct raft_msg m;
	uint8_t buf[4096];
	sample_msg(9, &m);
	m.type = 0;
	assert_rc(raft_msg_encode(&m, buf, sizeof buf), DUET_EINVAL);
	m.type = RAFT_MSG_TIMEOUT_NOW + 1;
	assert_rc(raft_msg_encode(&m, buf, sizeof buf), DUET_EINVAL);
	sample_msg(2, &m);
	m.vote_resp.granted = 2;
	assert_rc(raft_msg_encode(&m, buf, sizeof buf), DUET_EINVAL);
	sample_msg(5, &m);
	m.append.n_entries = 1; /* entries NULL */
	assert_rc(raft_msg_encode(&m, buf, sizeof buf), DUET_EINVAL);
}

Test(msg, type_names)
{
	cr_assert_str_eq(raft_msg_type_name(RAFT_MSG_PREVOTE), "PREVOTE");
	cr_assert_str_eq(raft_msg_type_name(RAFT_MSG_PREVOTE_RESP), "PREVOTE_RESP");
	cr_assert_str_eq(raft_msg_type_name(RAFT_MSG_VOTE), "VOTE");
	cr_assert_str_eq(raft_msg_type_name(RAFT_MSG_VOTE_RESP), "VOTE_RESP");
	cr_assert_str_eq(raft_msg_type_name(RAFT_MSG_APPEND), "APPEND");
	cr_assert_str_eq(raft_msg_type_name(RAFT_MSG_APPEND_RESP), "APPEND_RESP");
	cr_assert_str_eq(raft_msg_type_name(RAFT_MSG_SNAPSHOT), "SNAPSHOT");
	cr_assert_str_eq(raft_msg_type_name(RAFT_MSG_TIMEOUT_NOW), "TIMEOUT_NOW");
	cr_assert_str_eq(raft_msg_type_name(0), "UNKNOWN");
	cr_assert_str_eq(raft_msg_type_name(9), "UNKNOWN");
	cr_assert_str_eq(raft_msg_type_name(255), "UNKNOWN");
}

Test(msg, random_input_never_crashes)
{
	uint8_t buf[600];
	for (int round = 0; round < 20000; round++) {
		size_t len = rnd() % sizeof buf;
		fill_random(buf, len);
		if (len >= 32 && round % 2) {
			/* get past the crc so the field checks run */
			buf[0] = RAFT_MSG_VERSION;
			buf[1] = (uint8_t)(1 + rnd() % 8);
			buf[2] = buf[3] = 0;
			reseal_msg(buf, len);
		}
		uint8_t *exact = exact_copy(buf, len);
		struct raft_msg got;
		if (raft_msg_decode(exact, len, &got) == 0) {
			/* every field has one length */
			cr_assert_eq(raft_msg_encoded_size(&got), len);
			raft_msg_release(&got);
		} else {
			cr_assert_null(got.owned, "a refused message owns nothing");
		}
		free(exact);
	}
}

/* ---- CRC-32C ------------------------------------------------------------- */

/* Bit at a time, straight from the definition (reflected, poly 0x82f63b78). */
static uint32_t crc32c_bitwise(uint32_t crc, const uint8_t *p, size_t len)
{
	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = crc & 1 ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
	}
	return ~crc;
}

/* The two internal paths, with duet_crc32c's pre- and post-inversion. */
static uint32_t crc_sw(uint32_t crc, const uint8_t *p, size_t len)
{
	return ~crc32c_sw(~crc, p, len);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_HW_PATH 1
static uint32_t crc_hw(uint32_t crc, const uint8_t *p, size_t len)
{
	return ~crc32c_hw(~crc, p, len);
}
#endif

Test(crc32c, known_answers)
{
	const char *check = "123456789";
	uint8_t zeros[32] = {0}, ones[32];
	memset(ones, 0xff, sizeof ones);
	cr_assert_eq(duet_crc32c(0, check, 9), 0xE3069283u);
	cr_assert_eq(duet_crc32c(0, zeros, 32), 0x8A9136AAu);
	cr_assert_eq(duet_crc32c(0, ones, 32), 0x62A8AB43u); /* RFC 3720 B.4 */
	cr_assert_eq(duet_crc32c(0, "", 0), 0);
	cr_assert_eq(crc32c_bitwise(0, (const uint8_t *)check, 9), 0xE3069283u);
	cr_assert_eq(crc_sw(0, (const uint8_t *)check, 9), 0xE3069283u);
	cr_assert_eq(crc_sw(0, zeros, 32), 0x8A9136AAu);
#ifdef HAVE_HW_PATH
	if (have_hw()) {
		cr_assert_eq(crc_hw(0, (const uint8_t *)check, 9), 0xE3069283u);
		cr_assert_eq(crc_hw(0, zeros, 32), 0x8A9136AAu);
	} else {
		cr_log_warn("no SSE4.2: hardware path not tested");
	}
#endif
}

/* Software, hardware, the bitwise definition and the public function agree
 * on every length 0..600 at every alignment 0..7, and chaining two calls
 * equals one call over the concatenation. */
Test(crc32c, paths_agree_on_random_data)
{
	static uint8_t data[608];
	fill_random(data, sizeof data);
	for (size_t off = 0; off < 8; off++) {
		for (size_t len = 0; len + off <= 600; len++) {
			const uint8_t *p = data + off;
			uint32_t want = crc32c_bitwise(0, p, len);
			require(duet_crc32c(0, p, len) == want, "off %zu len %zu", off, len);
			require(crc_sw(0, p, len) == want, "sw off %zu len %zu", off, len);
#ifdef HAVE_HW_PATH
			if (have_hw())
				require(crc_hw(0, p, len) == want, "hw off %zu len %zu", off, len);
#endif
			size_t cut = len ? rnd() % len : 0;
			require(duet_crc32c(duet_crc32c(0, p, cut), p + cut, len - cut) == want,
				"chained off %zu len %zu", off, len);
			require(crc_sw(crc_sw(0, p, cut), p + cut, len - cut) == want,
				"sw chained off %zu len %zu", off, len);
		}
	}
}
