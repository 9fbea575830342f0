/* SPDX-License-Identifier: MIT */
/*
 * traps.h - what the trap pipeline shares across kinds (DESIGN.md 5): the
 * identity of a trap and the ordinal of its copies.
 *
 * Identity = SHA-256 over (u8 kind, u16 LE sender length, sender, u32 LE
 * content length, content), where content is the decoder's identity content
 * (traps_syslog.h, traps_snmp.h, traps_custom.h), never the raw bytes: two
 * copies of one trap differ in timestamps, request-ids and encryption.
 *
 * Ordinal: both data nodes receive every trap; the log must take each once,
 * yet a trap sent twice on purpose must be taken twice. So each node counts
 * the copies of an identity it receives within an EPISODE: the first copy
 * is ordinal 1, the next 2, and so on, and an episode ends when window_ms
 * passes without a copy. The n-th copy on one node then matches the n-th on
 * the other: (identity, ordinal) is the key the dedup compares. (A sliding
 * window would not do: a trap repeated every 20 s in a 30 s window would get
 * ordinals 1, 2, 2, and the third copy would collide with the second.)
 *
 * The window table is bounded: past max_identities live identities a new
 * one is refused with DUET_EBUSY (the receiver counts it as a drop reason;
 * the trap is not taken). Expired identities are swept when the table fills
 * up; a full table is swept at most every window_ms / 8, so a refusal costs
 * no scan. Size max_identities for the highest rate times window_ms.
 *
 * Pure: no I/O, no clock (the caller passes its monotonic now_ms).
 */
#ifndef DUET_TRAPS_H
#define DUET_TRAPS_H

#include <stddef.h>
#include <stdint.h>

#include "duet/err.h"

#define DUET_TRAP_IDENTITY_BYTES 32
#define DUET_TRAP_SENDER_MAX     255 /* bytes of sender text hashed */

/* out = SHA-256(kind, sender, content) as above. Returns 0, DUET_EINVAL
 * (NULL argument, sender longer than DUET_TRAP_SENDER_MAX) or DUET_ENOMEM. */
int duet_trap_identity(uint8_t kind, const char *sender, const void *content, size_t len,
		       uint8_t out[DUET_TRAP_IDENTITY_BYTES]);

struct duet_trap_window;

/* window_ms > 0; max_identities >= 16. Returns 0, DUET_EINVAL or DUET_ENOMEM. */
int duet_trap_window_new(uint32_t window_ms, uint32_t max_identities,
			 struct duet_trap_window **out);
void duet_trap_window_free(struct duet_trap_window *w);

/* Counts one copy of `identity` received at now_ms (monotonic, never going
 * back) and sets *ordinal. Returns 0, or DUET_EBUSY when the identity is new
 * and max_identities live ones are tracked (nothing counted). */
int duet_trap_window_count(struct duet_trap_window *w, const uint8_t *identity, uint64_t now_ms,
			   uint32_t *ordinal);

/* Rebuilding after a restart (traps_pipe.h): records that copies up to
 * `ordinal` of `identity` were counted, the last at at_ms (monotonic, at or
 * before the next count's now_ms). Seeds are of copies received before
 * every copy counted here: when duet_trap_window_count() has counted copies
 * of the identity already (they came before the log told of the earlier
 * ones) and at_ms is within window_ms of the first of them, the seeded
 * copies go in front, so the next copy's ordinal is the seeded ones plus
 * the ones counted here; a seed of an episode that ended before them is
 * ignored. *moved (if not NULL) tells which of the copies counted here got
 * a higher ordinal (by = 0: none). Returns 0, DUET_EINVAL or DUET_EBUSY
 * (full: nothing recorded). */
struct duet_trap_window_moved {
	uint32_t by;          /* seeded copies put in front of them */
	uint32_t first, last; /* the ordinals they had: first..last */
};
int duet_trap_window_seed(struct duet_trap_window *w, const uint8_t *identity, uint32_t ordinal,
			  uint64_t at_ms, struct duet_trap_window_moved *moved);

/* Identities tracked (live or not yet swept). */
size_t duet_trap_window_size(const struct duet_trap_window *w);

#endif
