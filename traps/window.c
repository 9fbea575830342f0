/* SPDX-License-Identifier: MIT */
/*
 * window.c - the trap identity and the per-node ordinal window (traps.h).
 *
 * The window is an open-addressing table (linear probing) keyed by the
 * 32-byte identity, whose first 8 bytes are already uniformly random (it is
 * a SHA-256), so they are the hash. An entry holds the time of the last
 * copy and the copies counted in the current episode. Nothing is deleted in
 * place: when the table is three quarters full it is rebuilt with only the
 * live entries (those seen within the window), doubling while that is not
 * enough; it is also swept when max_identities are tracked, and a new
 * identity is refused only when that many are live (then no sweep runs for
 * an eighth of the window: refusals cost nothing while the table is full).
 *
 * A restarted node seeds the table with what the log says it counted
 * before (duet_trap_window_seed). The log may tell it only after it has
 * counted new copies itself, so an entry also keeps how many of its count
 * were seeded and when its first own copy came: later seeds are added in
 * front of the own copies instead of being lost under them.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "duet/traps.h"

int duet_trap_identity(uint8_t kind, const char *sender, const void *content, size_t len,
		       uint8_t out[DUET_TRAP_IDENTITY_BYTES])
{
	if (!sender || (!content && len) || !out || len > UINT32_MAX)
		return DUET_EINVAL;
	size_t slen = strlen(sender);
	if (slen > DUET_TRAP_SENDER_MAX)
		return DUET_EINVAL;
	uint8_t head[1 + 2], clen[4];
	head[0] = kind;
	head[1] = (uint8_t)slen;
	head[2] = (uint8_t)(slen >> 8);
	for (int i = 0; i < 4; i++)
		clen[i] = (uint8_t)((uint64_t)len >> (8 * i));
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx)
		return DUET_ENOMEM;
	unsigned int n = 0;
	int ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
		 EVP_DigestUpdate(ctx, head, sizeof head) && EVP_DigestUpdate(ctx, sender, slen) &&
		 EVP_DigestUpdate(ctx, clen, sizeof clen) &&
		 (len == 0 || EVP_DigestUpdate(ctx, content, len)) &&
		 EVP_DigestFinal_ex(ctx, out, &n) && n == DUET_TRAP_IDENTITY_BYTES;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : DUET_ENOMEM;
}

struct slot {
	uint8_t id[DUET_TRAP_IDENTITY_BYTES];
	uint64_t last_ms;
	uint64_t first_own_ms; /* the episode's first copy counted here (count > seeded) */
	uint32_t count;        /* 0: empty slot */
	uint32_t seeded;       /* of count, the copies a seed recorded; the rest counted here */
};

struct duet_trap_window {
	uint32_t window_ms, max;
	size_t cap, used; /* cap is a power of two */
	struct slot *slots;
	uint64_t next_sweep_ms; /* full: no sweep before this (see count) */
};

static size_t hash_of(const uint8_t *id)
{
	uint64_t h;
	memcpy(&h, id, sizeof h);
	return (size_t)h;
}

static struct slot *find(struct slot *slots, size_t cap, const uint8_t *id)
{
	for (size_t i = hash_of(id) & (cap - 1);; i = (i + 1) & (cap - 1))
		if (!slots[i].count || memcmp(slots[i].id, id, DUET_TRAP_IDENTITY_BYTES) == 0)
			return &slots[i];
}

static bool live(const struct duet_trap_window *w, const struct slot *s, uint64_t now_ms)
{
	return s->count && now_ms - s->last_ms <= w->window_ms;
}

/* Rebuilds into a table of new_cap slots with the live entries only. */
static int rebuild(struct duet_trap_window *w, size_t new_cap, uint64_t now_ms)
{
	struct slot *ns = calloc(new_cap, sizeof *ns);
	if (!ns)
		return DUET_ENOMEM;
	size_t used = 0;
	for (size_t i = 0; i < w->cap; i++) {
		if (!live(w, &w->slots[i], now_ms))
			continue;
		*find(ns, new_cap, w->slots[i].id) = w->slots[i];
		used++;
	}
	free(w->slots);
	w->slots = ns;
	w->cap = new_cap;
	w->used = used;
	return 0;
}

int duet_trap_window_new(uint32_t window_ms, uint32_t max_identities, struct duet_trap_window **out)
{
	if (!out || window_ms == 0 || max_identities < 16)
		return DUET_EINVAL;
	struct duet_trap_window *w = calloc(1, sizeof *w);
	if (!w)
		return DUET_ENOMEM;
	w->window_ms = window_ms;
	w->max = max_identities;
	w->cap = 64;
	w->slots = calloc(w->cap, sizeof *w->slots);
	if (!w->slots) {
		free(w);
		return DUET_ENOMEM;
	}
	*out = w;
	return 0;
}

void duet_trap_window_free(struct duet_trap_window *w)
{
	if (!w)
		return;
	free(w->slots);
	free(w);
}

int duet_trap_window_count(struct duet_trap_window *w, const uint8_t *identity, uint64_t now_ms,
			   uint32_t *ordinal)
{
	if (!w || !identity || !ordinal)
		return DUET_EINVAL;
	struct slot *s = find(w->slots, w->cap, identity);
	if (s->count) {
		/* the episode ended: this copy starts a new one */
		if (now_ms - s->last_ms > w->window_ms)
			s->count = s->seeded = 0;
		if (s->count == s->seeded)
			s->first_own_ms = now_ms;
		if (s->count < UINT32_MAX)
			s->count++;
		s->last_ms = now_ms;
		*ordinal = s->count;
		return 0;
	}
	if ((w->used + 1) * 4 > w->cap * 3 || w->used >= w->max) {
		/* A full table is swept at most eight times per window: sweeping
		 * on every new identity would make each refusal cost a scan of
		 * the whole table, just when the receiver is busiest. */
		if (w->used >= w->max && now_ms < w->next_sweep_ms)
			return DUET_EBUSY;
		/* sweep the expired; grow while the live ones fill 3/4 */
		size_t cap = w->cap;
		size_t live_n = 0;
		for (size_t i = 0; i < w->cap; i++)
			live_n += live(w, &w->slots[i], now_ms);
		if (live_n >= w->max) {
			w->next_sweep_ms = now_ms + w->window_ms / 8 + 1;
			return DUET_EBUSY;
		}
		while ((live_n + 1) * 4 > cap * 3)
			cap *= 2;
		int rc = rebuild(w, cap, now_ms);
		if (rc)
			return rc;
		s = find(w->slots, w->cap, identity);
	}
	memcpy(s->id, identity, DUET_TRAP_IDENTITY_BYTES);
	s->last_ms = now_ms;
	s->first_own_ms = now_ms;
	s->count = 1;
	s->seeded = 0;
	w->used++;
	*ordinal = 1;
	return 0;
}

int duet_trap_window_seed(struct duet_trap_window *w, const uint8_t *identity, uint32_t ordinal,
			  uint64_t at_ms, struct duet_trap_window_moved *moved)
{
	if (moved)
		memset(moved, 0, sizeof *moved);
	if (!w || !identity || ordinal == 0)
		return DUET_EINVAL;
	struct slot *s = find(w->slots, w->cap, identity);
	if (s->count && s->count > s->seeded) {
		/* Copies counted here already (received after the restart, before
		 * the log told of the earlier ones): they come after every seeded
		 * copy, so the seed's copies are added in front of them, if they
		 * are of the same episode (no gap of more than a window before
		 * the first copy counted here). */
		if (at_ms + w->window_ms < s->first_own_ms || ordinal <= s->seeded)
			return 0;
		uint64_t n = (uint64_t)s->count + (ordinal - s->seeded);
		if (moved) {
			moved->by = ordinal - s->seeded;
			moved->first = s->seeded + 1;
			moved->last = s->count;
		}
		s->count = n < UINT32_MAX ? (uint32_t)n : UINT32_MAX;
		s->seeded = ordinal;
		return 0;
	}
	if (s->count) {
		if (at_ms > s->last_ms && at_ms - s->last_ms > w->window_ms) {
			s->count = ordinal; /* a later episode than the one counted */
			s->last_ms = at_ms;
		} else {
			if (ordinal > s->count)
				s->count = ordinal;
			if (at_ms > s->last_ms)
				s->last_ms = at_ms;
		}
		s->seeded = s->count;
		return 0;
	}
	if ((w->used + 1) * 4 > w->cap * 3) {
		if (w->used >= w->max)
			return DUET_EBUSY; /* a rebuild is a best effort: never evict */
		/* keep every entry: at_ms is no clock of "now" (seeds come in
		 * commit order, not time order), so none is swept here */
		size_t ncap = w->cap * 2;
		struct slot *ns = calloc(ncap, sizeof *ns);
		if (!ns)
			return DUET_ENOMEM;
		for (size_t i = 0; i < w->cap; i++)
			if (w->slots[i].count)
				*find(ns, ncap, w->slots[i].id) = w->slots[i];
		free(w->slots);
		w->slots = ns;
		w->cap = ncap;
		s = find(w->slots, w->cap, identity);
	}
	if (w->used >= w->max)
		return DUET_EBUSY;
	memcpy(s->id, identity, DUET_TRAP_IDENTITY_BYTES);
	s->last_ms = at_ms;
	s->first_own_ms = 0;
	s->count = s->seeded = ordinal;
	w->used++;
	return 0;
}

size_t duet_trap_window_size(const struct duet_trap_window *w)
{
	return w ? w->used : 0;
}
