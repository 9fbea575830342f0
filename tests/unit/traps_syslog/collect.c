/* SPDX-License-Identifier: MIT */
/*
 * collect.c - see collect.h.
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "collect.h"

int collect_cb(void *data, const struct duet_syslog_frame *f)
{
	struct collected *c = data;
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 16;
		c->f = realloc(c->f, c->cap * sizeof *c->f);
		cr_assert_not_null(c->f);
	}
	struct collected_frame *k = &c->f[c->n++];
	k->err = f->err;
	k->reason = f->reason;
	k->framing = f->framing;
	k->offset = f->offset;
	k->frame_len = f->frame_len;
	k->len = f->len;
	k->msg = malloc(f->len + 1);
	cr_assert_not_null(k->msg);
	if (f->len)
		memcpy(k->msg, f->msg, f->len);
	k->msg[f->len] = '\0';
	if (f->err == 0)
		cr_assert_eq(f->len, f->frame_len);
	else
		cr_assert(f->reason != NULL && f->len == 0);
	return c->stop_after && c->n == c->stop_after ? 99 : 0;
}

void collected_free(struct collected *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->f[i].msg);
	free(c->f);
	memset(c, 0, sizeof *c);
}

void feed_all(const void *bytes, size_t len, size_t chunk, uint32_t max_frame, struct collected *c,
	      struct duet_syslog_stream_stats *stats)
{
	struct duet_syslog_stream st;
	cr_assert_eq(duet_syslog_stream_init(&st, max_frame), 0);
	const uint8_t *p = bytes;
	if (chunk == 0)
		chunk = len ? len : 1;
	for (size_t off = 0; off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;
		/* an exact-size copy, so ASan sees any read past the chunk */
		uint8_t *copy = malloc(n);
		memcpy(copy, p + off, n);
		cr_assert_eq(duet_syslog_stream_feed(&st, copy, n, collect_cb, c), 0);
		free(copy);
		cr_assert_leq(st.buf_cap, st.max_frame_bytes);
	}
	cr_assert_eq(duet_syslog_stream_finish(&st, collect_cb, c), 0);
	if (stats)
		*stats = st.stats;
	duet_syslog_stream_close(&st);
}

void assert_same_frames(const struct collected *a, const struct collected *b, const char *what)
{
	cr_assert_eq(a->n, b->n, "%s: %zu frames vs %zu", what, a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		const struct collected_frame *x = &a->f[i], *y = &b->f[i];
		cr_assert_eq(x->err, y->err, "%s: frame %zu", what, i);
		cr_assert_eq(x->reason, y->reason, "%s: frame %zu", what, i);
		cr_assert_eq(x->framing, y->framing, "%s: frame %zu", what, i);
		cr_assert_eq(x->offset, y->offset, "%s: frame %zu", what, i);
		cr_assert_eq(x->frame_len, y->frame_len, "%s: frame %zu", what, i);
		cr_assert_eq(x->len, y->len, "%s: frame %zu", what, i);
		cr_assert_eq(memcmp(x->msg, y->msg, x->len), 0, "%s: frame %zu", what, i);
	}
}
