/* SPDX-License-Identifier: MIT */
/*
 * wire.h - bounded little-endian readers and writers for every duet encoding.
 *
 * Every message, log entry and stored record is built with a wire_writer and
 * read with a wire_reader. A reader never reads past its end: once a read
 * would overrun, the reader is marked failed, every later read returns zero,
 * and the caller checks `r.err` once at the end (DUET_ETRUNCATED). This keeps
 * decoders short and makes them safe fuzz targets.
 */
#ifndef DUET_WIRE_H
#define DUET_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "duet/err.h"

struct wire_reader {
	const uint8_t *p;
	size_t left;
	int err; /* 0 or DUET_ETRUNCATED */
};

struct wire_writer {
	uint8_t *p;
	size_t left;
	size_t used;
	int err; /* 0 or DUET_ETOOBIG */
};

static inline void wire_reader_init(struct wire_reader *r, const void *buf, size_t len)
{
	r->p = buf;
	r->left = len;
	r->err = 0;
}

static inline const uint8_t *wire_get_bytes(struct wire_reader *r, size_t n)
{
	if (r->err || n > r->left) {
		r->err = DUET_ETRUNCATED;
		r->left = 0;
		return NULL;
	}
	const uint8_t *p = r->p;
	r->p += n;
	r->left -= n;
	return p;
}

static inline uint8_t wire_get_u8(struct wire_reader *r)
{
	const uint8_t *p = wire_get_bytes(r, 1);
	return p ? p[0] : 0;
}

static inline uint16_t wire_get_u16(struct wire_reader *r)
{
	const uint8_t *p = wire_get_bytes(r, 2);
	return p ? (uint16_t)(p[0] | p[1] << 8) : 0;
}

static inline uint32_t wire_get_u32(struct wire_reader *r)
{
	const uint8_t *p = wire_get_bytes(r, 4);
	return p ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
		       (uint32_t)p[3] << 24
		 : 0;
}

static inline uint64_t wire_get_u64(struct wire_reader *r)
{
	uint64_t lo = wire_get_u32(r);
	uint64_t hi = wire_get_u32(r);
	return lo | hi << 32;
}

static inline void wire_writer_init(struct wire_writer *w, void *buf, size_t cap)
{
	w->p = buf;
	w->left = cap;
	w->used = 0;
	w->err = 0;
}

static inline void wire_put_bytes(struct wire_writer *w, const void *src, size_t n)
{
	if (w->err || n > w->left) {
		w->err = DUET_ETOOBIG;
		return;
	}
	if (n)
		memcpy(w->p, src, n);
	w->p += n;
	w->left -= n;
	w->used += n;
}

static inline void wire_put_u8(struct wire_writer *w, uint8_t v)
{
	wire_put_bytes(w, &v, 1);
}

static inline void wire_put_u16(struct wire_writer *w, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
	wire_put_bytes(w, b, 2);
}

static inline void wire_put_u32(struct wire_writer *w, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
	wire_put_bytes(w, b, 4);
}

static inline void wire_put_u64(struct wire_writer *w, uint64_t v)
{
	wire_put_u32(w, (uint32_t)v);
	wire_put_u32(w, (uint32_t)(v >> 32));
}

#endif
