/* SPDX-License-Identifier: MIT */
/*
 * log.c - the entries after the last snapshot, kept in memory.
 *
 * The core needs random access by index (prev_term checks, sending batches),
 * appends at the tail, truncation of an uncommitted suffix and compaction of
 * a prefix. A growable array with a start offset does all four in O(1)
 * amortised; compaction moves the live part down only when the dead prefix
 * is larger than the live part. Payloads are owned copies.
 *
 * The membership in force is the latest MEMBERSHIP entry in the log, else
 * the snapshot's (Raft's rule: a configuration takes effect when appended,
 * and is reverted when its entry is truncated).
 */
#include <stdlib.h>
#include <string.h>

#include "core.h"

uint64_t log_first_index(const struct raft *r)
{
	return r->log.snap_index + 1;
}

uint64_t log_last_index(const struct raft *r)
{
	return r->log.snap_index + r->log.n;
}

uint64_t log_term_at(const struct raft *r, uint64_t index)
{
	if (index == r->log.snap_index)
		return r->log.snap_term;
	if (index < r->log.snap_index || index > log_last_index(r))
		return TERM_UNKNOWN;
	return r->log.e[r->log.off + (index - r->log.snap_index - 1)].term;
}

uint64_t log_last_term(const struct raft *r)
{
	return log_term_at(r, log_last_index(r));
}

const struct raft_entry *log_get(const struct raft *r, uint64_t index)
{
	if (index <= r->log.snap_index || index > log_last_index(r))
		return NULL;
	return &r->log.e[r->log.off + (index - r->log.snap_index - 1)];
}

int entry_copy(struct raft_entry *dst, const struct raft_entry *src)
{
	*dst = *src;
	dst->data = NULL;
	if (src->len) {
		dst->data = malloc(src->len);
		if (!dst->data)
			return DUET_ENOMEM;
		memcpy(dst->data, src->data, src->len);
	}
	return 0;
}

int log_append_copy(struct raft *r, const struct raft_entry *e)
{
	struct mlog *l = &r->log;
	if (l->off + l->n == l->cap) {
		if (l->off > l->n) {
			memmove(l->e, l->e + l->off, l->n * sizeof(*l->e));
			l->off = 0;
		} else {
			size_t cap = l->cap ? l->cap * 2 : 64;
			struct raft_entry *ne = realloc(l->e, cap * sizeof(*ne));
			if (!ne)
				return DUET_ENOMEM;
			l->e = ne;
			l->cap = cap;
		}
	}
	int rc = entry_copy(&l->e[l->off + l->n], e);
	if (rc)
		return rc;
	l->e[l->off + l->n].index = log_last_index(r) + 1;
	l->n++;
	if (e->type == RAFT_ENTRY_MEMBERSHIP)
		conf_refresh(r);
	return 0;
}

int log_copy_range(const struct raft *r, uint64_t lo, uint64_t hi, struct raft_entry **out,
		   size_t *n)
{
	*out = NULL;
	*n = 0;
	if (lo > hi)
		return 0;
	size_t count = hi - lo + 1, bytes = count * sizeof(struct raft_entry);
	for (uint64_t i = lo; i <= hi; i++)
		bytes += log_get(r, i)->len;
	uint8_t *block = malloc(bytes);
	if (!block)
		return DUET_ENOMEM;
	struct raft_entry *e = (struct raft_entry *)block;
	uint8_t *p = block + count * sizeof(*e);
	for (uint64_t i = lo; i <= hi; i++) {
		const struct raft_entry *src = log_get(r, i);
		struct raft_entry *d = &e[i - lo];
		*d = *src;
		d->data = p;
		if (src->len)
			memcpy(p, src->data, src->len);
		p += src->len;
	}
	*out = e;
	*n = count;
	return 0;
}

void log_truncate(struct raft *r, uint64_t from)
{
	struct mlog *l = &r->log;
	bool had_conf = false;
	while (l->n && log_last_index(r) >= from) {
		struct raft_entry *e = &l->e[l->off + l->n - 1];
		had_conf |= e->type == RAFT_ENTRY_MEMBERSHIP;
		free(e->data);
		l->n--;
	}
	if (had_conf)
		conf_refresh(r);
#ifndef DUET_PLANT_BUG_ACK_AFTER_TRUNCATION
	out_forget_acks(r, from); /* replies not yet sent must not claim them */
#endif
}

void log_compact(struct raft *r, uint64_t upto, uint64_t upto_term)
{
	struct mlog *l = &r->log;
	while (l->n && l->snap_index < upto) {
		free(l->e[l->off].data);
		l->off++;
		l->n--;
		l->snap_index++;
	}
	if (l->snap_index < upto) /* compacted past the end: log is empty */
		l->snap_index = upto;
	l->snap_term = upto_term;
	if (l->n == 0)
		l->off = 0;
}

void log_free(struct raft *r)
{
	struct mlog *l = &r->log;
	for (size_t i = 0; i < l->n; i++)
		free(l->e[l->off + i].data);
	free(l->e);
	memset(l, 0, sizeof(*l));
}

bool log_up_to_date(const struct raft *r, uint64_t last_index, uint64_t last_term)
{
	uint64_t my_term = log_last_term(r);
	if (last_term != my_term)
		return last_term > my_term;
	return last_index >= log_last_index(r);
}

static void peers_from_conf(struct raft *r)
{
	struct peer old[DUET_MAX_MEMBERS];
	uint32_t n_old = r->n_peers;
	memcpy(old, r->peers, sizeof(old));
	r->n_peers = 0;
	r->kind = 0;
	for (uint32_t i = 0; i < r->conf.n; i++) {
		const struct duet_member *m = &r->conf.members[i];
		if (m->id == r->id) {
			r->kind = m->kind;
			continue;
		}
		struct peer *p = &r->peers[r->n_peers++];
		memset(p, 0, sizeof(*p));
		for (uint32_t j = 0; j < n_old; j++)
			if (old[j].id == m->id)
				*p = old[j];
		if (p->id == m->id && p->incarnation != m->incarnation) {
			/* rebuilt by rejoin: what its old self acknowledged is gone */
			p->match = p->next = 0;
			p->ring_head = p->ring_n = 0;
			p->probe_sent = false;
			p->snapshot_sent_ms = 0;
			p->acked = false;
			p->lease_ack_ts = 0;
		}
		p->id = m->id;
		p->kind = m->kind;
		p->incarnation = m->incarnation;
		if (p->next == 0) {
			p->next = log_last_index(r) + 1;
			p->probe = true;
		}
	}
}

void conf_refresh(struct raft *r)
{
	const struct mlog *l = &r->log;
	for (size_t i = l->n; i-- > 0;) {
		const struct raft_entry *e = &l->e[l->off + i];
		if (e->type != RAFT_ENTRY_MEMBERSHIP)
			continue;
		struct duet_membership c;
		if (duet_membership_decode(e->data, e->len, &c) == 0) {
			r->conf = c;
			peers_from_conf(r);
			return;
		}
	}
	r->conf = r->snap_conf;
	peers_from_conf(r);
}
