/* SPDX-License-Identifier: MIT */
/*
 * fuzz_snmp_ber.c - libFuzzer target for the BER reader of traps_snmp.h
 * alone: walks any input (bounded depth, explicit stack) and reads every
 * primitive value as INTEGER, unsigned 32/64 and OID.
 *
 * Checks: every TLV lies inside the input and inside its parent; the
 * signed and unsigned readings agree where both apply; an accepted OID
 * formats to dotted text that parses back to the same arcs, and its
 * encoding is the canonical one (re-encoding the arcs gives the octets).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "duet/traps_snmp.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct walk {
	const uint8_t *begin, *end;
	size_t visited;
};

static void check_oid(const struct trap_snmp_oid *oid)
{
	FUZZ_CHECK(oid->n_arcs >= 2 && oid->n_arcs <= TRAP_SNMP_MAX_OID_ARCS);
	uint32_t arcs[TRAP_SNMP_MAX_OID_ARCS];
	FUZZ_CHECK(trap_snmp_oid_arcs(oid, arcs, TRAP_SNMP_MAX_OID_ARCS) == oid->n_arcs);
	FUZZ_CHECK(arcs[0] <= 2 && (arcs[0] == 2 || arcs[1] < 40));

	char text[TRAP_SNMP_MAX_OID_TEXT_BYTES];
	long n = trap_snmp_oid_format(oid, text, sizeof text);
	FUZZ_CHECK(n > 0 && (size_t)n == strlen(text));
	const char *p = text;
	for (size_t i = 0; i < oid->n_arcs; i++) {
		char *end;
		unsigned long long v = strtoull(p, &end, 10);
		FUZZ_CHECK(end != p && v == arcs[i]);
		FUZZ_CHECK(*end == (i + 1 < oid->n_arcs ? '.' : '\0'));
		p = end + 1;
	}

	/* re-encode: only the canonical form is accepted */
	uint8_t ber[TRAP_SNMP_MAX_OID_BYTES + 8];
	size_t len = 0;
	for (size_t i = 1; i < oid->n_arcs; i++) {
		uint64_t v = i == 1 ? (uint64_t)arcs[0] * 40 + arcs[1] : arcs[i];
		uint8_t sept[10];
		size_t k = 0;
		do {
			sept[k++] = v & 0x7f;
			v >>= 7;
		} while (v);
		while (k > 1)
			ber[len++] = 0x80 | sept[--k];
		ber[len++] = sept[0];
	}
	FUZZ_CHECK(len == oid->len && memcmp(ber, oid->ber, len) == 0);
}

static void visit(void *arg, unsigned depth, const struct trap_snmp_tlv *t)
{
	struct walk *w = arg;
	w->visited++;
	FUZZ_CHECK(depth < TRAP_SNMP_BER_MAX_DEPTH);
	FUZZ_CHECK(t->start >= w->begin && t->value > t->start);
	FUZZ_CHECK(t->value <= w->end && t->len <= (size_t)(w->end - t->value));
	if (t->tag & 0x20)
		return;
	int64_t i;
	uint64_t u32, u64;
	enum trap_snmp_drop ri = trap_snmp_ber_int(t, &i);
	enum trap_snmp_drop r32 = trap_snmp_ber_uint(t, 32, &u32);
	enum trap_snmp_drop r64 = trap_snmp_ber_uint(t, 64, &u64);
	FUZZ_CHECK(ri == TRAP_SNMP_OK || ri == TRAP_SNMP_DROP_BAD_INTEGER);
	FUZZ_CHECK(r32 == TRAP_SNMP_OK || r32 == TRAP_SNMP_DROP_BAD_INTEGER);
	if (r32 == TRAP_SNMP_OK) {
		FUZZ_CHECK(u32 <= UINT32_MAX);
		FUZZ_CHECK(r64 == TRAP_SNMP_OK && u64 == u32);
	}
	if (ri == TRAP_SNMP_OK && i >= 0 && t->value[0] < 0x80) {
		FUZZ_CHECK(r64 == TRAP_SNMP_OK && u64 == (uint64_t)i);
	}
	struct trap_snmp_oid oid;
	enum trap_snmp_drop ro = trap_snmp_ber_oid(t, &oid);
	FUZZ_CHECK(ro == TRAP_SNMP_OK || ro == TRAP_SNMP_DROP_BAD_OID);
	if (ro == TRAP_SNMP_OK) {
		FUZZ_CHECK(oid.ber == t->value && oid.len == t->len);
		check_oid(&oid);
		FUZZ_CHECK(trap_snmp_oid_equal(&oid, &oid));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size + 1);
	FUZZ_CHECK(copy != NULL);
	memcpy(copy, data, size);
	struct walk w = {copy, copy + size, 0};
	enum trap_snmp_drop rc = trap_snmp_ber_walk(copy, size, visit, &w);
	FUZZ_CHECK(rc == TRAP_SNMP_OK || rc == TRAP_SNMP_DROP_TRUNCATED ||
		   rc == TRAP_SNMP_DROP_BAD_LENGTH || rc == TRAP_SNMP_DROP_BAD_TAG ||
		   rc == TRAP_SNMP_DROP_TOO_DEEP);
	FUZZ_CHECK(rc != TRAP_SNMP_OK || size == 0 || w.visited > 0);
	/* the same bytes read twice give the same answer */
	struct walk w2 = {copy, copy + size, 0};
	FUZZ_CHECK(trap_snmp_ber_walk(copy, size, visit, &w2) == rc && w2.visited == w.visited);
	free(copy);
	return 0;
}
