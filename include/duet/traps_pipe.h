/* SPDX-License-Identifier: MIT */
/*
 * traps_pipe.h - the dedup of DESIGN.md section 5: which received traps go
 * into the log, which wait, which are copies of a trap already taken, and
 * which committed ones still have to reach the sink.
 *
 * Both data nodes receive every trap. Each copy gets its identity (traps.h)
 * and an ordinal from this node's window; a copy is then an ITEM keyed by
 * (identity, ordinal, receive time). Two keys MATCH when identity and
 * ordinal are equal and the receive times (each receiver's wall clock) are
 * less than window_ms / 2 apart: the two copies of one trap arrive within
 * milliseconds of each other, while two traps with the same identity and
 * ordinal are at least a window apart (an episode ends only after window_ms
 * without a copy), so clocks may disagree by up to window_ms / 2.
 *
 * The pipe of one node holds:
 *  - COMMITTED keys: every trap of an applied TRAPS entry, kept while the
 *    log's time (the newest committed receive time) is less than window_ms
 *    past them, and at most committed_max of them;
 *  - live ITEMS, each in one state:
 *      OUTBOX    leader: to go into the next TRAPS batch;
 *      INFLIGHT  leader: in a proposed batch, not yet committed;
 *      PENDING   standby (or a leader not ready yet): waiting for a
 *                committed match, forwarded to the leader after
 *                forward_delay_ms and again every reforward_ms;
 *  - UNDELIVERED: the committed TRAPS entries after the last DELIVERED, in
 *    log order, with their payloads (when a sink is configured).
 *
 * The rules:
 *  - a copy received that matches a committed key is a duplicate: dropped;
 *  - the leader (ready: every entry of earlier terms is committed, so what
 *    they hold is among the committed keys) also drops a copy matching a
 *    live item, and puts the rest in the OUTBOX;
 *  - a committed trap removes every live item it matches, on every node;
 *  - losing leadership turns OUTBOX and INFLIGHT items into PENDING ones
 *    (they may or may not commit; the committed match decides);
 *  - becoming a ready leader turns PENDING items into OUTBOX ones: the new
 *    master proposes what it holds that the log does not;
 *  - a forwarded item the leader receives is answered with the keys it
 *    matches among the committed ones (the standby drops those items), and
 *    otherwise held like a local copy (or dropped when a live item matches
 *    it: the standby keeps its copy until the commit shows up).
 *
 * The backlog (the UNDELIVERED entries) has two bounds, backlog_max traps
 * and backlog_max_bytes bytes of TRAPS payload: the bytes the log holds for
 * the sink on every member (and this pipe in memory on a data node) until a
 * DELIVERED covers them. A received copy is refused (DUET_TRAP_BACKLOG_FULL,
 * counted) when the undelivered traps plus the live items this node holds
 * would pass either bound with it; the leader takes a forwarded one under
 * the same rule (else the standby keeps it and forwards it again), and
 * proposes a batch only while the undelivered and in-flight bytes plus the
 * batch stay within backlog_max_bytes, so what commits stays within the
 * bound even when a new leader proposes the pending items it took as a
 * standby. Delivery releases the bound: duet_trap_pipe_delivered().
 *
 * So a trap that reached at least one node that stays up is committed (that
 * node holds it until a committed match appears, and proposes it itself when
 * it leads), and copies of one trap are committed once (every path checks
 * the committed keys and, on the leader, the live items). A committed key
 * that matches an earlier committed one is counted (committed_repeats): it
 * means a duplicate reached the log.
 *
 * Pure: no I/O, no clock (callers pass monotonic now_ms and wall_ms), no
 * randomness. Forward batches and their answers use the TRAPS payload
 * encoding (entry.h), so the same fuzzed decoder reads them.
 */
#ifndef DUET_TRAPS_PIPE_H
#define DUET_TRAPS_PIPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "duet/entry.h"
#include "duet/traps.h"

struct duet_trap_pipe;

/* Committed keys received within this much before this node started
 * listening are not counted in its rebuilt ordinal window (see
 * duet_trap_pipe_clock): the skew of one trap's arrival at the two nodes
 * plus the offset of their anchored wall clocks stays below it. */
#define DUET_TRAP_SEED_MARGIN_MS 2000

struct duet_trap_pipe_config {
	uint32_t self_id;
	uint32_t window_ms;         /* ordinal episodes; the match tolerance is half */
	uint32_t forward_delay_ms;  /* a pending item is first forwarded after this */
	uint32_t reforward_ms;      /* and again this often while unmatched (>= delay) */
	uint32_t batch_max;         /* traps per TRAPS batch */
	uint32_t batch_max_bytes;   /* encoded bytes per TRAPS batch (>= one largest trap) */
	uint32_t live_max;          /* live items of all states */
	uint32_t backlog_max;       /* undelivered committed traps */
	uint64_t backlog_max_bytes; /* their payload bytes, see "The backlog" above */
	uint32_t committed_max;     /* committed keys remembered */
	uint32_t identities_max;    /* identities in the ordinal window */
	bool keep_undelivered;      /* false without a sink: nothing to deliver */
};

/* Defaults: window 30 s, forward 200 ms, reforward 1 s, batch 1000 traps or
 * 1 MiB, 200000 live, 1000000 backlog traps or 256 MiB, 4000000 committed
 * keys, 2000000 identities, keep_undelivered true. */
void duet_trap_pipe_config_default(struct duet_trap_pipe_config *c, uint32_t self_id);

/* Returns 0, DUET_EINVAL (a zero limit, reforward < forward delay, batch
 * or backlog bytes below one full trap) or DUET_ENOMEM. */
int duet_trap_pipe_new(const struct duet_trap_pipe_config *c, struct duet_trap_pipe **out);
void duet_trap_pipe_free(struct duet_trap_pipe *p);

/* Why a received copy was not taken (counted in the stats). */
enum duet_trap_drop {
	DUET_TRAP_TAKEN = 0,        /* new: it will be proposed or held */
	DUET_TRAP_DUPLICATE = 1,    /* a copy of a trap already taken: not a loss */
	DUET_TRAP_WINDOW_FULL = 2,  /* identities_max live identities */
	DUET_TRAP_LIVE_FULL = 3,    /* live_max items wait */
	DUET_TRAP_BACKLOG_FULL = 4, /* the backlog's bound: backlog_max traps or bytes */
	DUET_TRAP_TOO_LARGE = 5,    /* payload over DUET_TRAP_MAX_PAYLOAD */
	DUET_TRAP_NO_MEMORY = 6,
	DUET_TRAP_DROP_N
};
/* "taken", "duplicate", "window_full", ... */
const char *duet_trap_drop_name(int drop);

/*
 * A copy received by this node: kind (enum duet_trap_kind), sender (the
 * device's address, at most DUET_ADDR_MAX - 1 bytes), identity from
 * duet_trap_identity(), payload (the decoder's JSON, copied), wall_ms (this
 * node's clock) and now_ms (monotonic). Returns an enum duet_trap_drop;
 * *ordinal (if not NULL) gets the copy's ordinal when it was counted.
 */
int duet_trap_pipe_receive(struct duet_trap_pipe *p, uint8_t kind, const char *sender,
			   const uint8_t identity[DUET_TRAP_IDENTITY_BYTES], const void *payload,
			   uint32_t len, uint64_t wall_ms, uint64_t now_ms, uint32_t *ordinal);

/* What the node knows of its leadership, for duet_trap_pipe_set_role(). */
struct duet_trap_pipe_role {
	bool leader;         /* a data node, raft leader with the lease */
	uint64_t term;       /* its term */
	uint64_t term_start; /* an index at or past the first entry it appended */
	uint64_t applied;    /* the last entry applied here */
};
/*
 * Call whenever the role may have changed (cheap when nothing did). The
 * pipe PROPOSES once the node leads and every entry that may hold traps is
 * applied: the entries of earlier terms (term_start) and every batch this
 * node proposed before (duet_trap_pipe_batch_proposed: a leader that lost
 * the lease for a moment must not propose its in-flight batches again).
 * It keeps proposing while it leads in that term; a new term, or losing
 * the lead, starts over.
 */
void duet_trap_pipe_set_role(struct duet_trap_pipe *p, const struct duet_trap_pipe_role *r,
			     uint64_t now_ms);
/* The batch last taken was proposed at `index` (in the term of the last
 * set_role()). */
void duet_trap_pipe_batch_proposed(struct duet_trap_pipe *p, uint64_t index);
/* Traps waiting in the OUTBOX for the next batch. */
size_t duet_trap_pipe_outbox(const struct duet_trap_pipe *p);
/* True while the pipe proposes (set_role's verdict). */
bool duet_trap_pipe_proposing(const struct duet_trap_pipe *p);

/* Leader: encodes up to batch_max OUTBOX items as one TRAPS payload into
 * buf; they become INFLIGHT. Returns its length, 0 when there is nothing
 * to propose (or not a ready leader), DUET_ETOOBIG when cap cannot hold one
 * trap. */
long duet_trap_pipe_take_batch(struct duet_trap_pipe *p, uint8_t *buf, size_t cap);
/* The batch just taken was not proposed: its items go back to the OUTBOX
 * head, in order. */
void duet_trap_pipe_batch_refused(struct duet_trap_pipe *p);

/* A committed TRAPS entry, on every data node, in log order (an index at or
 * below the last one seen is ignored: after a restart the log is applied
 * again). Returns 0, DUET_ECORRUPT/DUET_ETRUNCATED (bad payload: nothing
 * taken) or DUET_ENOMEM (keys kept, payloads not: the caller must stop). */
int duet_trap_pipe_committed(struct duet_trap_pipe *p, uint64_t index, const void *payload,
			     size_t len);
/*
 * Rebuilding the ordinal window after a restart. Call once on a data node,
 * just before its receivers are bound and before any entry or snapshot is
 * applied, with the clock pair (wall, monotonic: the clocks receive()
 * gets) of that moment, the start of listening; later calls are ignored.
 * From then on each committed key (from the log or a restored snapshot)
 * received more than DUET_TRAP_SEED_MARGIN_MS before that start, and within
 * window_ms of it, is counted in the window as if received at its receive
 * time, so the next repeat of a trap counted before the restart gets the
 * ordinal it would have had (counted: window_seeded). Keys received later
 * are of copies this node may be receiving itself and are not counted. A
 * pipe never given the clock (the witness) counts nothing.
 */
void duet_trap_pipe_clock(struct duet_trap_pipe *p, uint64_t wall_ms, uint64_t now_ms);

/*
 * Snapshots (DESIGN.md 5: committed identities of the last window are part
 * of the snapshot). export_keys encodes the committed keys of entries at or
 * below up_to (the snapshot's index) as a TRAPS payload whose traps carry
 * no payload and no sender, newest max_bytes of them, into *out (malloc'd,
 * the caller frees; NULL and 0 when there are none). Returns the length,
 * or DUET_ENOMEM.
 *
 * restore_keys, after a snapshot at `index` replaced the state: adds those
 * keys (not already held) as committed, drops every live item they match
 * (the copies of traps in the entries the snapshot skipped: never forwarded
 * again, never committed twice), and takes `delivered` (the snapshot's
 * highest DELIVERED) as delivered. Returns 0, a decode error (nothing
 * added) or DUET_ENOMEM.
 */
long duet_trap_pipe_export_keys(const struct duet_trap_pipe *p, uint64_t up_to, size_t max_bytes,
				uint8_t **out);
int duet_trap_pipe_restore_keys(struct duet_trap_pipe *p, uint64_t index, const void *keys,
				size_t len, uint64_t delivered);

/* A committed DELIVERED: entries up to `up_to` reached the sink. */
void duet_trap_pipe_delivered(struct duet_trap_pipe *p, uint64_t up_to);

/* Standby: encodes the PENDING items due at now_ms (up to batch_max) as one
 * TRAPS payload to forward to the leader. Returns its length, 0 for
 * nothing due, DUET_ETOOBIG. */
long duet_trap_pipe_take_forward(struct duet_trap_pipe *p, uint64_t now_ms, uint8_t *buf,
				 size_t cap);

/* Leader: a batch forwarded by a standby. Items are held (or dropped as
 * duplicates); the committed keys they match are written as a TRAPS payload
 * without payloads into ack (the answer to send back). Returns the answer's
 * length (0: nothing to answer), DUET_ECORRUPT/DUET_ETRUNCATED (nothing
 * taken), DUET_ETOOBIG (ack too small: cap >= 1 KiB + 128 per trap). */
long duet_trap_pipe_forwarded(struct duet_trap_pipe *p, const void *buf, size_t len,
			      uint64_t now_ms, uint8_t *ack, size_t ack_cap);

/* Standby: the leader's answer: pending items matching its keys are
 * dropped. Returns 0 or a decode error. */
int duet_trap_pipe_ack(struct duet_trap_pipe *p, const void *buf, size_t len);

/* One undelivered committed entry; traps[] and their payloads stay valid
 * until the entry is delivered or the pipe is freed. */
struct duet_trap_pipe_entry {
	uint64_t index;
	uint32_t n;
	const struct duet_trap *traps;
};
/* The first undelivered entry with index > after. Returns true if one. */
bool duet_trap_pipe_undelivered(struct duet_trap_pipe *p, uint64_t after,
				struct duet_trap_pipe_entry *out);
/* Highest index a committed DELIVERED covers. */
uint64_t duet_trap_pipe_delivered_index(const struct duet_trap_pipe *p);
/* The log may be compacted up to this index (entries the sink still needs
 * stay): the last applied one when nothing waits, else the entry before the
 * first undelivered. */
uint64_t duet_trap_pipe_compact_floor(const struct duet_trap_pipe *p, uint64_t applied);

struct duet_trap_pipe_stats {
	uint64_t received, taken;
	uint64_t drops[DUET_TRAP_DROP_N];
	uint64_t outbox, inflight, pending; /* live items now */
	uint64_t proposed;                  /* traps put into batches */
	uint64_t committed;                 /* traps in applied TRAPS entries */
	uint64_t committed_repeats;         /* committed traps matching a committed key */
	uint64_t matched_by_commit;         /* live items a commit removed */
	uint64_t forwarded_sent, forwarded_received, forwarded_duplicate, forwarded_committed;
	uint64_t acks_received, ack_matched;
	uint64_t committed_keys, keys_evicted; /* kept now; dropped by committed_max */
	uint64_t keys_restored, window_seeded; /* from a snapshot; counted at restart */
	uint64_t window_renumbered;            /* own copies moved up by a seed (see _clock) */
	uint64_t undelivered, undelivered_bytes, delivered_index;
	uint64_t live_bytes;     /* encoded bytes of the live items */
	uint64_t forwarded_full; /* forwarded items not taken: a limit (the standby keeps them) */
	uint64_t backlog_waits;  /* batches not proposed for the byte bound (until delivery) */
	bool backlog_full;       /* the last copy received was refused for the backlog, and
				    nothing was delivered since */
	uint64_t last_committed_index;
};
void duet_trap_pipe_get_stats(const struct duet_trap_pipe *p, struct duet_trap_pipe_stats *st);

#endif
