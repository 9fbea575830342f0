/* SPDX-License-Identifier: MIT */
/*
 * snmp_ber.c - the bounded BER reader under the SNMP decoder (traps_snmp.h,
 * "BER").
 *
 * Every read checks the length it is about to use against what is left of
 * the enclosing value, so a reader can never step outside its buffer; a
 * failed read leaves the reader where it was. Only what SNMP uses is taken:
 * definite lengths, single-octet tags. OIDs are checked once here (arc
 * count, sub-identifier range, minimal encoding) so that everything later
 * can compare them byte for byte.
 *
 * Nothing here recurses. trap_snmp_ber_walk(), the generic traversal the
 * fuzz target uses, keeps its own stack with a fixed depth.
 */
#include <string.h>

#include "duet/traps_snmp.h"

void trap_snmp_ber_init(struct trap_snmp_ber *r, const void *buf, size_t len)
{
	r->p = buf;
	r->left = buf ? len : 0;
}

bool trap_snmp_ber_done(const struct trap_snmp_ber *r)
{
	return r->left == 0;
}

void trap_snmp_ber_enter(const struct trap_snmp_tlv *t, struct trap_snmp_ber *inner)
{
	trap_snmp_ber_init(inner, t->value, t->len);
}

enum trap_snmp_drop trap_snmp_ber_next(struct trap_snmp_ber *r, struct trap_snmp_tlv *t)
{
	const uint8_t *p = r->p;
	size_t left = r->left;
	if (left < 2)
		return TRAP_SNMP_DROP_TRUNCATED;
	uint8_t tag = p[0];
	if ((tag & 0x1f) == 0x1f) /* high-tag-number form: never in SNMP */
		return TRAP_SNMP_DROP_BAD_TAG;
	size_t len;
	size_t head;
	if (p[1] < 0x80) {
		len = p[1];
		head = 2;
	} else {
		size_t n = p[1] & 0x7f;
		if (n == 0 || n > 4) /* 0x80: indefinite; > 4: beyond any datagram */
			return TRAP_SNMP_DROP_BAD_LENGTH;
		if (left < 2 + n)
			return TRAP_SNMP_DROP_TRUNCATED;
		len = 0;
		for (size_t i = 0; i < n; i++)
			len = len << 8 | p[2 + i];
		head = 2 + n;
	}
	if (len > left - head)
		return TRAP_SNMP_DROP_TRUNCATED;
	t->tag = tag;
	t->start = p;
	t->value = p + head;
	t->len = len;
	r->p = p + head + len;
	r->left = left - head - len;
	return TRAP_SNMP_OK;
}

enum trap_snmp_drop trap_snmp_ber_expect(struct trap_snmp_ber *r, uint8_t tag,
					 struct trap_snmp_tlv *t)
{
	struct trap_snmp_ber save = *r;
	enum trap_snmp_drop rc = trap_snmp_ber_next(r, t);
	if (rc == TRAP_SNMP_OK && t->tag != tag) {
		*r = save;
		return TRAP_SNMP_DROP_BAD_TAG;
	}
	return rc;
}

enum trap_snmp_drop trap_snmp_ber_int(const struct trap_snmp_tlv *t, int64_t *out)
{
	const uint8_t *p = t->value;
	size_t n = t->len;
	if (n == 0)
		return TRAP_SNMP_DROP_BAD_INTEGER;
	/* Redundant sign octets (00 followed by a clear top bit, ff by a set
	 * one) do not change the value; BER forbids them but some agents pad. */
	while (n > 1 && ((p[0] == 0x00 && !(p[1] & 0x80)) || (p[0] == 0xff && (p[1] & 0x80)))) {
		p++;
		n--;
	}
	if (n > 8)
		return TRAP_SNMP_DROP_BAD_INTEGER;
	uint64_t v = (p[0] & 0x80) ? UINT64_MAX : 0; /* sign extension */
	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	*out = (int64_t)v;
	return TRAP_SNMP_OK;
}

enum trap_snmp_drop trap_snmp_ber_uint(const struct trap_snmp_tlv *t, unsigned bits, uint64_t *out)
{
	const uint8_t *p = t->value;
	size_t n = t->len;
	if (n == 0)
		return TRAP_SNMP_DROP_BAD_INTEGER;
	while (n > 1 && p[0] == 0x00) {
		p++;
		n--;
	}
	if (n > bits / 8)
		return TRAP_SNMP_DROP_BAD_INTEGER;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	*out = v;
	return TRAP_SNMP_OK;
}

enum trap_snmp_drop trap_snmp_ber_oid(const struct trap_snmp_tlv *t, struct trap_snmp_oid *out)
{
	const uint8_t *p = t->value;
	size_t n = t->len;
	if (n == 0 || n > TRAP_SNMP_MAX_OID_BYTES)
		return TRAP_SNMP_DROP_BAD_OID;
	size_t subids = 0;
	size_t i = 0;
	while (i < n) {
		if (p[i] == 0x80) /* leading zero septet: not minimal */
			return TRAP_SNMP_DROP_BAD_OID;
		uint64_t v = 0;
		size_t k = 0;
		for (;;) {
			if (i >= n || k == 5) /* unterminated, or more than 35 bits */
				return TRAP_SNMP_DROP_BAD_OID;
			v = v << 7 | (p[i] & 0x7f);
			k++;
			if (!(p[i++] & 0x80))
				break;
		}
		/* The first sub-identifier holds two arcs (X * 40 + Y); for X = 2
		 * Y may reach 2^32-1, so the sub-identifier itself may exceed it. */
		uint64_t max = subids == 0 ? (uint64_t)UINT32_MAX + 80 : UINT32_MAX;
		if (v > max)
			return TRAP_SNMP_DROP_BAD_OID;
		subids++;
	}
	if (subids + 1 > TRAP_SNMP_MAX_OID_ARCS)
		return TRAP_SNMP_DROP_BAD_OID;
	out->ber = p;
	out->len = (uint16_t)n;
	out->n_arcs = (uint16_t)(subids + 1);
	return TRAP_SNMP_OK;
}

size_t trap_snmp_oid_arcs(const struct trap_snmp_oid *oid, uint32_t *arcs, size_t max)
{
	size_t count = 0;
	size_t i = 0;
	while (i < oid->len) {
		uint64_t v = 0;
		do
			v = v << 7 | (oid->ber[i] & 0x7f);
		while (oid->ber[i++] & 0x80 && i < oid->len);
		if (count == 0) {
			uint32_t x = v < 40 ? 0 : v < 80 ? 1 : 2;
			if (count < max)
				arcs[count] = x;
			count++;
			v -= 40u * x;
		}
		if (count < max)
			arcs[count] = (uint32_t)v;
		count++;
	}
	return count;
}

long trap_snmp_oid_format(const struct trap_snmp_oid *oid, char *buf, size_t cap)
{
	uint32_t arcs[TRAP_SNMP_MAX_OID_ARCS];
	size_t n = trap_snmp_oid_arcs(oid, arcs, TRAP_SNMP_MAX_OID_ARCS);
	if (n > TRAP_SNMP_MAX_OID_ARCS)
		n = TRAP_SNMP_MAX_OID_ARCS; /* cannot happen for a validated OID */
	size_t used = 0;
	for (size_t i = 0; i < n; i++) {
		char digits[10];
		size_t d = 0;
		uint32_t v = arcs[i];
		do {
			digits[d++] = (char)('0' + v % 10);
			v /= 10;
		} while (v);
		size_t need = (i ? 1 : 0) + d;
		if (used + need + 1 > cap)
			return DUET_ETOOBIG;
		if (i)
			buf[used++] = '.';
		while (d)
			buf[used++] = digits[--d];
	}
	if (used + 1 > cap)
		return DUET_ETOOBIG;
	buf[used] = '\0';
	return (long)used;
}

bool trap_snmp_oid_equal(const struct trap_snmp_oid *a, const struct trap_snmp_oid *b)
{
	return a->len == b->len && memcmp(a->ber, b->ber, a->len) == 0;
}

enum trap_snmp_drop trap_snmp_ber_walk(const uint8_t *buf, size_t len,
				       trap_snmp_ber_visit_fn *visit, void *arg)
{
	struct trap_snmp_ber stack[TRAP_SNMP_BER_MAX_DEPTH];
	unsigned depth = 0;
	trap_snmp_ber_init(&stack[0], buf, len);
	for (;;) {
		if (trap_snmp_ber_done(&stack[depth])) {
			if (depth == 0)
				return TRAP_SNMP_OK;
			depth--;
			continue;
		}
		struct trap_snmp_tlv t;
		enum trap_snmp_drop rc = trap_snmp_ber_next(&stack[depth], &t);
		if (rc)
			return rc;
		visit(arg, depth, &t);
		if (t.tag & 0x20) {
			if (depth + 1 >= TRAP_SNMP_BER_MAX_DEPTH)
				return TRAP_SNMP_DROP_TOO_DEEP;
			trap_snmp_ber_enter(&t, &stack[++depth]);
		}
	}
}

/* ---- Writer ------------------------------------------------------------------ */

static size_t len_octets(size_t len)
{
	size_t n = 0;
	for (size_t v = len; v; v >>= 8)
		n++;
	return n;
}

size_t trap_snmp_ber_tlv_size(size_t len)
{
	return 1 + (len < 0x80 ? 1 : 1 + len_octets(len)) + len;
}

size_t trap_snmp_ber_put_head(uint8_t *out, uint8_t tag, size_t len)
{
	size_t used = 0;
	out[used++] = tag;
	if (len < 0x80) {
		out[used++] = (uint8_t)len;
		return used;
	}
	size_t n = len_octets(len);
	out[used++] = (uint8_t)(0x80 | n);
	for (size_t i = n; i > 0; i--)
		out[used++] = (uint8_t)(len >> (8 * (i - 1)));
	return used;
}

size_t trap_snmp_ber_int_content(int64_t v, uint8_t *out)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)((uint64_t)v >> (56 - 8 * i));
	size_t start = 0;
	while (start < 7 && ((b[start] == 0x00 && !(b[start + 1] & 0x80)) ||
			     (b[start] == 0xff && (b[start + 1] & 0x80))))
		start++;
	memcpy(out, b + start, 8 - start);
	return 8 - start;
}
