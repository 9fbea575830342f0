/* SPDX-License-Identifier: MIT */
/*
 * mailbox.h - a queue of byte strings between threads: the in-process
 * network of the benchmarks.
 *
 * Any thread pushes; one thread, the owner, takes everything queued at once
 * (one lock per loop turn, not one per message) and may sleep until a push,
 * mailbox_wake() or a deadline. A mailbox holds at most MAILBOX_MAX_BYTES:
 * the producers (raft cores) bound what they have in flight themselves, so
 * hitting the limit is a bug in a producer or a stalled owner, reported by
 * mailbox_push() returning false rather than memory growing without end.
 */
#ifndef DUET_BENCH_MAILBOX_H
#define DUET_BENCH_MAILBOX_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAILBOX_MAX_BYTES (256u << 20)

/* One message. Allocate with mail_new(); whoever holds it frees it (free()). */
struct mail {
	struct mail *next;
	size_t len;
	uint8_t data[];
};

/* Returns a mail with room for len bytes (len set), or NULL. */
struct mail *mail_new(size_t len);
/* Frees a list of mails (as returned by mailbox_take). */
void mail_free_list(struct mail *m);

struct mailbox {
	pthread_mutex_t mu;
	pthread_cond_t cv; /* on CLOCK_MONOTONIC */
	struct mail *head;
	struct mail **tail;
	size_t bytes;
	size_t max_bytes; /* high-water mark, for the figures */
	bool waiting;     /* the owner sleeps on cv */
	bool woken;       /* mailbox_wake() since the last take */
};

/* Returns 0 or -1 (a pthread object could not be created). */
int mailbox_init(struct mailbox *mb);
/* Frees what is still queued. No thread may use mb any more. */
void mailbox_destroy(struct mailbox *mb);

/* Queues m and takes ownership of it. Returns false, having freed m, if the
 * mailbox would hold more than MAILBOX_MAX_BYTES. */
bool mailbox_push(struct mailbox *mb, struct mail *m);

/* Makes the owner's current or next blocking take return. */
void mailbox_wake(struct mailbox *mb);

/*
 * Owner only. Takes every queued mail, oldest first (NULL if none). If block
 * is set and nothing is queued, first sleeps until a push, mailbox_wake() or
 * deadline_ns on CLOCK_MONOTONIC (0: no deadline).
 */
struct mail *mailbox_take(struct mailbox *mb, bool block, uint64_t deadline_ns);

size_t mailbox_max_bytes(struct mailbox *mb);

#endif
