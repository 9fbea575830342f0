/* SPDX-License-Identifier: MIT */
/*
 * pipeline.c - the dedup of DESIGN.md section 5 (traps_pipe.h).
 *
 * Two chained hash tables keyed by (identity, ordinal): the committed keys
 * (with a FIFO in commit order for expiry) and the live items (each also on
 * the list of its state). Receive times are compared only after identity
 * and ordinal are equal, so a bucket chain is walked for every entry with
 * the same pair (a handful at most: one per episode in the retention).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "duet/err.h"
#include "duet/traps_pipe.h"

/* Encoded bytes of one trap in a TRAPS payload (raftlog/payload.c) and of
 * the payload header. */
#define TRAP_FIXED_BYTES 55
#define BATCH_HEADER     5

enum item_state { ST_OUTBOX = 0, ST_INFLIGHT, ST_FRESH, ST_SENT, ST_N };

struct key {
	uint8_t id[DUET_TRAP_IDENTITY_BYTES];
	uint32_t ord;
	uint64_t recv_ms;
};

struct ckey {
	struct key k;
	uint64_t index; /* the TRAPS entry (or restored snapshot) it came from */
	uint32_t receiver;
	uint8_t kind;
	struct ckey *hnext; /* bucket chain */
	struct ckey *fnext; /* commit order */
};

struct item {
	struct key k;
	uint64_t due_ms; /* FRESH/SENT: next forward */
	uint32_t receiver;
	uint8_t kind, state;
	char sender[DUET_ADDR_MAX];
	struct item *hnext;
	struct item *prev, *next; /* in lists[state] */
	uint32_t len;
	uint8_t payload[];
};

struct list {
	struct item *head, *tail;
	size_t n;
};

struct uentry {
	uint64_t index;
	uint32_t n;
	size_t bytes;
	struct duet_trap *traps;
	uint8_t *blob; /* copy of the entry's payload: traps[i].payload point into it */
	struct uentry *next;
};

struct duet_trap_pipe {
	struct duet_trap_pipe_config cfg;
	uint64_t tolerance_ms, retention_ms;
	struct duet_trap_window *window;
	bool leader, ready;
	uint64_t term, term_start; /* the leadership seen last (set_role) */
	uint64_t last_proposed;    /* index of the last batch proposed */

	struct ckey **cbuckets;
	size_t ccap, cn;
	struct ckey *chead, *ctail;
	uint64_t log_ms; /* newest committed receive time */

	struct item **ibuckets;
	size_t icap, in;
	struct list lists[ST_N];
	size_t last_batch_n;

	struct uentry *uhead, *utail;
	const struct uentry *ucursor; /* the last one handed out (undelivered()) */
	uint64_t un, ubytes;
	uint64_t ibytes;         /* encoded bytes of the live items */
	uint64_t inflight_bytes; /* of the INFLIGHT ones */
	bool full;               /* the last copy was refused for the backlog */
	uint64_t delivered_index, last_index;
	bool has_clock;                  /* duet_trap_pipe_clock() was called */
	uint64_t start_wall, start_mono; /* its pair: this node started listening */

	struct duet_trap_pipe_stats st;
};

const char *duet_trap_drop_name(int drop)
{
	static const char *const names[DUET_TRAP_DROP_N] = {
	    "taken",        "duplicate", "window_full", "live_full",
	    "backlog_full", "too_large", "no_memory"};
	return drop >= 0 && drop < DUET_TRAP_DROP_N ? names[drop] : "unknown";
}

void duet_trap_pipe_config_default(struct duet_trap_pipe_config *c, uint32_t self_id)
{
	memset(c, 0, sizeof *c);
	c->self_id = self_id;
	c->window_ms = 30000;
	c->forward_delay_ms = 200;
	c->reforward_ms = 1000;
	c->batch_max = 1000;
	c->batch_max_bytes = 1u << 20;
	c->live_max = 200000;
	c->backlog_max = 1000000;
	c->backlog_max_bytes = 256u << 20;
	c->committed_max = 4000000;
	c->identities_max = 2000000;
	c->keep_undelivered = true;
}

/* ---- keys ---------------------------------------------------------------- */

static size_t key_hash(const uint8_t *id, uint32_t ord)
{
	uint64_t h;
	memcpy(&h, id, sizeof h); /* a SHA-256: already uniform */
	return (size_t)(h ^ ((uint64_t)ord * 0x9e3779b97f4a7c15u));
}

static bool key_match(const struct key *a, const struct key *b, uint64_t tol)
{
	if (a->ord != b->ord || memcmp(a->id, b->id, sizeof a->id) != 0)
		return false;
	uint64_t d = a->recv_ms > b->recv_ms ? a->recv_ms - b->recv_ms : b->recv_ms - a->recv_ms;
	return d < tol;
}

static int grow(void ***buckets, size_t *cap, size_t n, size_t next_off)
{
	if (n < *cap)
		return 0;
	size_t ncap = *cap ? *cap * 2 : 1024;
	void **nb = calloc(ncap, sizeof *nb);
	if (!nb)
		return DUET_ENOMEM;
	for (size_t i = 0; i < *cap; i++) {
		void *e = (*buckets)[i];
		while (e) {
			void **nextp = (void **)((char *)e + next_off);
			void *next = *nextp;
			const struct key *k = e; /* struct key is the first member */
			size_t b = key_hash(k->id, k->ord) & (ncap - 1);
			*nextp = nb[b];
			nb[b] = e;
			e = next;
		}
	}
	free(*buckets);
	*buckets = nb;
	*cap = ncap;
	return 0;
}

static struct ckey *committed_find(const struct duet_trap_pipe *p, const struct key *k)
{
	if (!p->ccap)
		return NULL;
	for (struct ckey *c = p->cbuckets[key_hash(k->id, k->ord) & (p->ccap - 1)]; c; c = c->hnext)
		if (key_match(&c->k, k, p->tolerance_ms))
			return c;
	return NULL;
}

static void committed_unlink(struct duet_trap_pipe *p, struct ckey *c)
{
	struct ckey **pp = &p->cbuckets[key_hash(c->k.id, c->k.ord) & (p->ccap - 1)];
	while (*pp != c)
		pp = &(*pp)->hnext;
	*pp = c->hnext;
	p->cn--;
}

/* Drops the oldest committed keys: past retention, or over committed_max. */
static void committed_expire(struct duet_trap_pipe *p)
{
	while (p->chead) {
		struct ckey *c = p->chead;
		bool old = c->k.recv_ms + p->retention_ms < p->log_ms;
		bool over = p->cn > p->cfg.committed_max;
		if (!old && !over)
			break;
		if (over && !old)
			p->st.keys_evicted++;
		p->chead = c->fnext;
		if (!p->chead)
			p->ctail = NULL;
		committed_unlink(p, c);
		free(c);
	}
}

static int committed_add(struct duet_trap_pipe *p, const struct key *k, uint64_t index,
			 uint32_t receiver, uint8_t kind)
{
	if (grow((void ***)&p->cbuckets, &p->ccap, p->cn, offsetof(struct ckey, hnext)))
		return DUET_ENOMEM;
	struct ckey *c = malloc(sizeof *c);
	if (!c)
		return DUET_ENOMEM;
	c->k = *k;
	c->index = index;
	c->receiver = receiver;
	c->kind = kind;
	size_t b = key_hash(k->id, k->ord) & (p->ccap - 1);
	c->hnext = p->cbuckets[b];
	p->cbuckets[b] = c;
	c->fnext = NULL;
	if (p->ctail)
		p->ctail->fnext = c;
	else
		p->chead = c;
	p->ctail = c;
	p->cn++;
	if (k->recv_ms > p->log_ms)
		p->log_ms = k->recv_ms;
	return 0;
}

/* ---- live items ---------------------------------------------------------- */

static void list_push(struct list *l, struct item *it, bool front)
{
	it->prev = it->next = NULL;
	if (!l->head) {
		l->head = l->tail = it;
	} else if (front) {
		it->next = l->head;
		l->head->prev = it;
		l->head = it;
	} else {
		it->prev = l->tail;
		l->tail->next = it;
		l->tail = it;
	}
	l->n++;
}

static void list_remove(struct list *l, struct item *it)
{
	if (it->prev)
		it->prev->next = it->next;
	else
		l->head = it->next;
	if (it->next)
		it->next->prev = it->prev;
	else
		l->tail = it->prev;
	it->prev = it->next = NULL;
	l->n--;
}

/* The bytes an item adds to the TRAPS payload it goes into: what it will
 * cost in the backlog once committed (the batch header aside). */
static size_t item_encoded(const struct item *it)
{
	return TRAP_FIXED_BYTES + strlen(it->sender) + it->len;
}

static void item_move(struct duet_trap_pipe *p, struct item *it, int state, bool front)
{
	if (it->state == ST_INFLIGHT)
		p->inflight_bytes -= item_encoded(it);
	if (state == ST_INFLIGHT)
		p->inflight_bytes += item_encoded(it);
	list_remove(&p->lists[it->state], it);
	it->state = (uint8_t)state;
	list_push(&p->lists[state], it, front);
}

static struct item *live_find(const struct duet_trap_pipe *p, const struct key *k)
{
	if (!p->icap)
		return NULL;
	for (struct item *i = p->ibuckets[key_hash(k->id, k->ord) & (p->icap - 1)]; i; i = i->hnext)
		if (key_match(&i->k, k, p->tolerance_ms))
			return i;
	return NULL;
}

static void live_free(struct duet_trap_pipe *p, struct item *it)
{
	struct item **pp = &p->ibuckets[key_hash(it->k.id, it->k.ord) & (p->icap - 1)];
	while (*pp != it)
		pp = &(*pp)->hnext;
	*pp = it->hnext;
	list_remove(&p->lists[it->state], it);
	p->in--;
	p->ibytes -= item_encoded(it);
	if (it->state == ST_INFLIGHT)
		p->inflight_bytes -= item_encoded(it);
	free(it);
}

/* New live item in `state` (a copy of t). */
static int live_add(struct duet_trap_pipe *p, const struct duet_trap *t, int state, uint64_t now)
{
	if (grow((void ***)&p->ibuckets, &p->icap, p->in, offsetof(struct item, hnext)))
		return DUET_ENOMEM;
	struct item *it = malloc(sizeof *it + t->len);
	if (!it)
		return DUET_ENOMEM;
	memcpy(it->k.id, t->identity, sizeof it->k.id);
	it->k.ord = t->ordinal;
	it->k.recv_ms = t->recv_ms;
	it->receiver = t->receiver;
	it->kind = t->kind;
	memcpy(it->sender, t->sender, sizeof it->sender);
	it->len = t->len;
	if (t->len)
		memcpy(it->payload, t->payload, t->len);
	it->due_ms = now + p->cfg.forward_delay_ms;
	it->state = (uint8_t)state;
	size_t b = key_hash(it->k.id, it->k.ord) & (p->icap - 1);
	it->hnext = p->ibuckets[b];
	p->ibuckets[b] = it;
	list_push(&p->lists[state], it, false);
	p->in++;
	p->ibytes += item_encoded(it);
	if (state == ST_INFLIGHT)
		p->inflight_bytes += item_encoded(it);
	return 0;
}

static void item_to_trap(const struct item *it, struct duet_trap *t)
{
	memcpy(t->identity, it->k.id, sizeof t->identity);
	t->ordinal = it->k.ord;
	t->recv_ms = it->k.recv_ms;
	t->receiver = it->receiver;
	t->kind = it->kind;
	memcpy(t->sender, it->sender, sizeof t->sender);
	t->len = it->len;
	t->payload = it->len ? it->payload : NULL;
}

static bool proposing(const struct duet_trap_pipe *p)
{
	return p->leader && p->ready;
}

/* The byte bound of the backlog (traps_pipe.h): what the log holds for the
 * sink (the undelivered entries' payloads) and what this node holds to
 * commit (its live items), with `more` bytes added, within the bound. */
static bool backlog_fits(const struct duet_trap_pipe *p, uint64_t more)
{
	return p->ubytes + p->ibytes + more <= p->cfg.backlog_max_bytes;
}

/* The bytes a trap from (sender, len) adds to a TRAPS payload. */
static uint64_t trap_encoded(const char *sender, uint32_t len)
{
	return TRAP_FIXED_BYTES + strlen(sender) + (uint64_t)len;
}

/* ---- life ---------------------------------------------------------------- */

int duet_trap_pipe_new(const struct duet_trap_pipe_config *c, struct duet_trap_pipe **out)
{
	*out = NULL;
	if (!c->window_ms || !c->forward_delay_ms || c->reforward_ms < c->forward_delay_ms ||
	    !c->batch_max || !c->live_max || !c->backlog_max || !c->committed_max ||
	    c->identities_max < 16 ||
	    c->batch_max_bytes <
		BATCH_HEADER + TRAP_FIXED_BYTES + DUET_ADDR_MAX + DUET_TRAP_MAX_PAYLOAD ||
	    c->backlog_max_bytes <
		BATCH_HEADER + TRAP_FIXED_BYTES + DUET_ADDR_MAX + DUET_TRAP_MAX_PAYLOAD)
		return DUET_EINVAL;
	struct duet_trap_pipe *p = calloc(1, sizeof *p);
	if (!p)
		return DUET_ENOMEM;
	p->cfg = *c;
	p->tolerance_ms = c->window_ms / 2;
	/* a late copy is checked against the committed keys within moments
	 * of its receipt, a forwarded one within seconds: a window is plenty */
	p->retention_ms = c->window_ms;
	int rc = duet_trap_window_new(c->window_ms, c->identities_max, &p->window);
	if (rc) {
		free(p);
		return rc;
	}
	*out = p;
	return 0;
}

static void uentry_free(struct uentry *u)
{
	free(u->traps);
	free(u->blob);
	free(u);
}

void duet_trap_pipe_free(struct duet_trap_pipe *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->icap; i++)
		for (struct item *it = p->ibuckets[i], *n; it; it = n) {
			n = it->hnext;
			free(it);
		}
	free(p->ibuckets);
	for (struct ckey *c = p->chead, *n; c; c = n) {
		n = c->fnext;
		free(c);
	}
	free(p->cbuckets);
	for (struct uentry *u = p->uhead, *n; u; u = n) {
		n = u->next;
		uentry_free(u);
	}
	duet_trap_window_free(p->window);
	free(p);
}

/* ---- receiving ----------------------------------------------------------- */

int duet_trap_pipe_receive(struct duet_trap_pipe *p, uint8_t kind, const char *sender,
			   const uint8_t identity[DUET_TRAP_IDENTITY_BYTES], const void *payload,
			   uint32_t len, uint64_t wall_ms, uint64_t now_ms, uint32_t *ordinal)
{
	int drop = DUET_TRAP_TAKEN;
	p->st.received++;
	if (len > DUET_TRAP_MAX_PAYLOAD || strlen(sender) >= DUET_ADDR_MAX)
		drop = DUET_TRAP_TOO_LARGE;
	else if (p->in >= p->cfg.live_max)
		drop = DUET_TRAP_LIVE_FULL;
	else if (p->un + p->in >= p->cfg.backlog_max || !backlog_fits(p, trap_encoded(sender, len)))
		drop = DUET_TRAP_BACKLOG_FULL;
	uint32_t ord = 0;
	if (drop == DUET_TRAP_TAKEN &&
	    duet_trap_window_count(p->window, identity, now_ms, &ord) == DUET_EBUSY)
		drop = DUET_TRAP_WINDOW_FULL;
	if (ordinal)
		*ordinal = ord;
	if (drop == DUET_TRAP_TAKEN) {
		struct duet_trap t;
		memset(&t, 0, sizeof t);
		memcpy(t.identity, identity, sizeof t.identity);
		t.ordinal = ord;
		t.recv_ms = wall_ms;
		t.receiver = p->cfg.self_id;
		t.kind = kind;
		strcpy(t.sender, sender);
		t.len = len;
		t.payload = payload;
		struct key k;
		memcpy(k.id, identity, sizeof k.id);
		k.ord = ord;
		k.recv_ms = wall_ms;
		/* no two live items match: a copy held already (forwarded
		 * to this leader, or kept from an earlier leadership) wins */
		if (committed_find(p, &k) || live_find(p, &k))
			drop = DUET_TRAP_DUPLICATE;
		else if (live_add(p, &t, proposing(p) ? ST_OUTBOX : ST_FRESH, now_ms))
			drop = DUET_TRAP_NO_MEMORY;
	}
	if (drop == DUET_TRAP_TAKEN)
		p->st.taken++;
	else
		p->st.drops[drop]++;
	if (drop == DUET_TRAP_TAKEN || drop == DUET_TRAP_BACKLOG_FULL)
		p->full = drop == DUET_TRAP_BACKLOG_FULL;
	return drop;
}

static void change_role(struct duet_trap_pipe *p, bool leader, bool ready, uint64_t now_ms)
{
	bool was = proposing(p);
	p->leader = leader;
	p->ready = leader && ready;
	bool is = proposing(p);
	if (was == is)
		return;
	if (is) {
		/* the new master proposes what it holds that the log does not
		 * (what the log holds was matched away as it was applied) */
		for (int s = ST_FRESH; s <= ST_SENT; s++)
			while (p->lists[s].head)
				item_move(p, p->lists[s].head, ST_OUTBOX, false);
	} else {
		/* proposed or not, these may or may not commit: wait for the
		 * committed match, forward to the new leader meanwhile */
		for (int s = ST_OUTBOX; s <= ST_INFLIGHT; s++)
			while (p->lists[s].head) {
				struct item *it = p->lists[s].head;
				it->due_ms = now_ms + p->cfg.forward_delay_ms;
				item_move(p, it, ST_FRESH, false);
			}
	}
	p->last_batch_n = 0;
}

void duet_trap_pipe_set_role(struct duet_trap_pipe *p, const struct duet_trap_pipe_role *r,
			     uint64_t now_ms)
{
	if (!r->leader) {
		change_role(p, false, false, now_ms);
		return;
	}
	if (r->term != p->term) {
		/* a new leadership (also one lost and won again between two
		 * calls): start over */
		change_role(p, false, false, now_ms);
		p->term = r->term;
		p->term_start = r->term_start;
		/* our batches of earlier terms are before term_start, or gone
		 * (an index past it may be reused by another entry) */
		p->last_proposed = 0;
	}
	/* To START proposing, every entry that may hold traps (an earlier
	 * leader's, or ours from before a lease blip) must be applied, so that
	 * the committed keys show what the log has. Once proposing, the leader
	 * stays so while it leads. */
	bool ready =
	    proposing(p) || (r->applied >= p->term_start && r->applied >= p->last_proposed);
	change_role(p, true, ready, now_ms);
}

void duet_trap_pipe_batch_proposed(struct duet_trap_pipe *p, uint64_t index)
{
	if (index > p->last_proposed)
		p->last_proposed = index;
}

size_t duet_trap_pipe_outbox(const struct duet_trap_pipe *p)
{
	return p->lists[ST_OUTBOX].n;
}

bool duet_trap_pipe_proposing(const struct duet_trap_pipe *p)
{
	return proposing(p);
}

/* Encodes up to batch_max items from the head of list `from`, each moved
 * to `to` (tail); returns the length or 0/DUET_ETOOBIG; *taken = count. */
static long take(struct duet_trap_pipe *p, int from, int to, uint64_t due_before, uint64_t now,
		 uint8_t *buf, size_t cap, size_t *taken)
{
	*taken = 0;
	size_t limit = cap < p->cfg.batch_max_bytes ? cap : p->cfg.batch_max_bytes;
	/* a batch to propose fits in what the byte bound leaves of the
	 * backlog: a new leader's pending items, turned into its OUTBOX,
	 * wait there rather than commit past the bound. The batches in flight
	 * are counted with a header per item (the pipe does not know how
	 * many batches they are): a little more than they will hold */
	uint64_t used =
	    p->ubytes + p->inflight_bytes + (uint64_t)BATCH_HEADER * p->lists[ST_INFLIGHT].n;
	uint64_t room = to != ST_INFLIGHT                 ? UINT64_MAX
			: used < p->cfg.backlog_max_bytes ? p->cfg.backlog_max_bytes - used
							  : 0;
	size_t bytes = BATCH_HEADER, n = 0;
	struct item *it = p->lists[from].head;
	for (; it && n < p->cfg.batch_max; it = it->next) {
		if (to != ST_INFLIGHT && it->due_ms > due_before)
			break;
		if (bytes + item_encoded(it) > limit || bytes + item_encoded(it) > room)
			break;
		bytes += item_encoded(it);
		n++;
	}
	if (!n) {
		it = p->lists[from].head;
		if (!it || (to != ST_INFLIGHT && it->due_ms > due_before))
			return 0;
		if (BATCH_HEADER + item_encoded(it) > room) {
			p->st.backlog_waits++;
			return 0; /* proposed once delivery makes room */
		}
		return DUET_ETOOBIG;
	}
	struct duet_trap *t = malloc(n * sizeof *t);
	if (!t)
		return DUET_ENOMEM;
	it = p->lists[from].head;
	for (size_t i = 0; i < n; i++, it = it->next)
		item_to_trap(it, &t[i]);
	long len = duet_traps_encode(t, (uint32_t)n, buf, cap);
	free(t);
	if (len < 0)
		return len;
	for (size_t i = 0; i < n; i++) {
		it = p->lists[from].head;
		if (to == ST_SENT)
			it->due_ms = now + p->cfg.reforward_ms;
		item_move(p, it, to, false);
	}
	*taken = n;
	return len;
}

long duet_trap_pipe_take_batch(struct duet_trap_pipe *p, uint8_t *buf, size_t cap)
{
	p->last_batch_n = 0;
	if (!proposing(p))
		return 0;
	size_t n;
	long len = take(p, ST_OUTBOX, ST_INFLIGHT, 0, 0, buf, cap, &n);
	if (len > 0) {
		p->last_batch_n = n;
		p->st.proposed += n;
	}
	return len;
}

void duet_trap_pipe_batch_refused(struct duet_trap_pipe *p)
{
	for (size_t i = 0; i < p->last_batch_n && p->lists[ST_INFLIGHT].tail; i++)
		item_move(p, p->lists[ST_INFLIGHT].tail, ST_OUTBOX, true);
	p->st.proposed -= p->last_batch_n;
	p->last_batch_n = 0;
}

long duet_trap_pipe_take_forward(struct duet_trap_pipe *p, uint64_t now_ms, uint8_t *buf,
				 size_t cap)
{
	if (proposing(p))
		return 0;
	size_t n;
	/* fresh items first (their first forward), then those forwarded
	 * before and still unmatched */
	long len = take(p, ST_FRESH, ST_SENT, now_ms, now_ms, buf, cap, &n);
	if (len == 0)
		len = take(p, ST_SENT, ST_SENT, now_ms, now_ms, buf, cap, &n);
	if (len > 0)
		p->st.forwarded_sent += n;
	return len;
}

/* ---- committed ----------------------------------------------------------- */

/* The own copies of `id` that the window just gave higher ordinals (they
 * were counted before the log told of earlier ones, see window_seed) take
 * them too, while they are this node's alone: not yet forwarded (FRESH)
 * or proposed (OUTBOX). A forwarded one keeps its ordinal, as the leader
 * may hold it. From the highest down, so that no copy moves onto the key
 * of one still to move. A renumbered copy that now matches a committed
 * key or a live item is dropped like any such copy. */
static void renumber(struct duet_trap_pipe *p, const uint8_t *id,
		     const struct duet_trap_window_moved *m)
{
	if (!p->icap)
		return;
	for (uint64_t ord = m->last; ord >= m->first && ord > 0; ord--) {
		struct item **pp = &p->ibuckets[key_hash(id, (uint32_t)ord) & (p->icap - 1)];
		while (*pp) {
			struct item *it = *pp;
			if (it->k.ord != ord || it->receiver != p->cfg.self_id ||
			    (it->state != ST_FRESH && it->state != ST_OUTBOX) ||
			    memcmp(it->k.id, id, sizeof it->k.id) != 0) {
				pp = &it->hnext;
				continue;
			}
			*pp = it->hnext; /* out of this bucket, into its new one */
			uint64_t n = ord + m->by;
			it->k.ord = n < UINT32_MAX ? (uint32_t)n : UINT32_MAX;
			struct item *twin = live_find(p, &it->k);
			size_t b = key_hash(it->k.id, it->k.ord) & (p->icap - 1);
			it->hnext = p->ibuckets[b];
			p->ibuckets[b] = it;
			p->st.window_renumbered++;
			if (committed_find(p, &it->k)) {
				live_free(p, it);
				p->st.matched_by_commit++;
			} else if (twin) {
				live_free(p, it);
				p->st.drops[DUET_TRAP_DUPLICATE]++;
			}
		}
	}
}

/* A restarted node rebuilds its ordinal window from what the log and the
 * snapshot say was committed (DESIGN.md 5): otherwise the next repeat of a
 * trap it had counted before the restart would get ordinal 1 again and
 * match the committed first one (a loss when this node alone receives it).
 *
 * Only keys received clearly BEFORE this node started listening are
 * counted. Every copy it counted before the restart was received before it
 * died, hence before its receivers were bound again. A key received after
 * that (or just before, by the other node) may be of a copy this node is
 * about to receive itself: the other node receives each trap at about the
 * same time, give or take the network's skew and the offset of the two
 * anchored clocks. Counting such a key made a fresh standby whose first
 * copy came after the master's commit count its copy as the second of an
 * episode and forward it: the first trap after a start committed twice
 * (traps_clients). DUET_TRAP_SEED_MARGIN_MS bounds the skew and offset.
 *
 * There is no "until the first receive" gate: the log is applied only once
 * the leader says what is committed, after the receivers are up, and a
 * busy node receives copies before that. For the identities it has counted
 * itself meanwhile, the window adds the seeded copies in front of its own
 * (duet_trap_window_seed) and renumber() moves the copies it still holds
 * alone up to match; every other identity is seeded as it comes,
 * during catch-up too (those are traps this node never counted: the keys
 * say how far the other node got). The key's wall time becomes a monotonic
 * one through the start pair (the receive clock is anchored: wall and
 * monotonic differ by a constant). */
static void window_seed(struct duet_trap_pipe *p, const struct key *k)
{
	if (!p->has_clock)
		return; /* the witness: it never receives */
	if (k->recv_ms >= p->start_wall || p->start_wall - k->recv_ms <= DUET_TRAP_SEED_MARGIN_MS)
		return; /* at or after the start, or too close to it to tell */
	uint64_t age = p->start_wall - k->recv_ms;
	if (age > p->cfg.window_ms)
		return; /* its episode was over before this node started */
	/* before the monotonic clock's zero: counted at zero (the episode then
	 * seems a little younger than it is) */
	uint64_t at = age <= p->start_mono ? p->start_mono - age : 0;
	struct duet_trap_window_moved moved;
	if (duet_trap_window_seed(p->window, k->id, k->ord, at, &moved) == 0)
		p->st.window_seeded++;
	if (moved.by)
		renumber(p, k->id, &moved);
}

void duet_trap_pipe_clock(struct duet_trap_pipe *p, uint64_t wall_ms, uint64_t now_ms)
{
	if (p->has_clock)
		return; /* the receivers stay bound (a rejoin restarts raft only) */
	p->has_clock = true;
	p->start_wall = wall_ms;
	p->start_mono = now_ms;
}

/* Removes every live item matching k (a committed trap). */
static void match_live(struct duet_trap_pipe *p, const struct key *k)
{
	struct item *it;
	while ((it = live_find(p, k))) {
		live_free(p, it);
		p->st.matched_by_commit++;
	}
}

int duet_trap_pipe_committed(struct duet_trap_pipe *p, uint64_t index, const void *payload,
			     size_t len)
{
	if (index <= p->last_index)
		return 0;
	struct duet_traps_iter it;
	uint32_t n;
	int rc = duet_traps_iter_init(&it, payload, len, &n);
	if (rc)
		return rc;
	p->last_index = index;
	struct uentry *u = NULL;
	if (p->cfg.keep_undelivered && index > p->delivered_index && n) {
		u = calloc(1, sizeof *u);
		if (u) {
			u->traps = calloc(n, sizeof *u->traps);
			u->blob = malloc(len);
		}
		if (!u || !u->traps || !u->blob) {
			if (u)
				uentry_free(u);
			u = NULL;
			rc = DUET_ENOMEM;
		} else {
			memcpy(u->blob, payload, len);
			u->index = index;
			u->bytes = len;
			/* iterate the copy: the traps point into it */
			rc = duet_traps_iter_init(&it, u->blob, len, &n);
		}
	}
	struct duet_trap t;
	uint32_t i = 0;
	int r;
	while ((r = duet_traps_next(&it, &t)) == 1) {
		struct key k;
		memcpy(k.id, t.identity, sizeof k.id);
		k.ord = t.ordinal;
		k.recv_ms = t.recv_ms;
		if (committed_find(p, &k))
			p->st.committed_repeats++;
		if (committed_add(p, &k, index, t.receiver, t.kind))
			rc = DUET_ENOMEM;
		window_seed(p, &k);
		match_live(p, &k);
		if (u)
			u->traps[i++] = t;
		p->st.committed++;
	}
	committed_expire(p);
	if (u) {
		u->n = i;
		if (p->utail)
			p->utail->next = u;
		else
			p->uhead = u;
		p->utail = u;
		p->un += i;
		p->ubytes += u->bytes;
	}
	return rc;
}

void duet_trap_pipe_delivered(struct duet_trap_pipe *p, uint64_t up_to)
{
	if (up_to <= p->delivered_index)
		return;
	p->delivered_index = up_to;
	while (p->uhead && p->uhead->index <= up_to) {
		struct uentry *u = p->uhead;
		p->uhead = u->next;
		if (!p->uhead)
			p->utail = NULL;
		if (p->ucursor == u)
			p->ucursor = NULL;
		p->un -= u->n;
		p->ubytes -= u->bytes;
		uentry_free(u);
		p->full = false;
	}
}

/* ---- snapshots ----------------------------------------------------------- */

/* Committed keys from entries at or below up_to, oldest first, skipping the
 * oldest when they do not fit in max_bytes. *n gets their count. */
static size_t keys_to_export(const struct duet_trap_pipe *p, uint64_t up_to, size_t max_bytes,
			     const struct ckey **first)
{
	size_t n = 0;
	*first = NULL;
	for (const struct ckey *c = p->chead; c; c = c->fnext)
		n += c->index <= up_to;
	size_t fit = max_bytes > BATCH_HEADER ? (max_bytes - BATCH_HEADER) / TRAP_FIXED_BYTES : 0;
	size_t skip = n > fit ? n - fit : 0;
	for (const struct ckey *c = p->chead; c; c = c->fnext) {
		if (c->index > up_to)
			continue;
		if (skip) {
			skip--;
			continue;
		}
		*first = c;
		break;
	}
	return n > fit ? fit : n;
}

long duet_trap_pipe_export_keys(const struct duet_trap_pipe *p, uint64_t up_to, size_t max_bytes,
				uint8_t **out)
{
	*out = NULL;
	const struct ckey *c;
	size_t n = keys_to_export(p, up_to, max_bytes, &c);
	if (n == 0)
		return 0;
	struct duet_trap *t = calloc(n, sizeof *t);
	size_t cap = BATCH_HEADER + n * TRAP_FIXED_BYTES;
	uint8_t *buf = malloc(cap);
	if (!t || !buf) {
		free(t);
		free(buf);
		return DUET_ENOMEM;
	}
	for (size_t i = 0; i < n; c = c->fnext) {
		if (c->index > up_to)
			continue;
		memcpy(t[i].identity, c->k.id, sizeof t[i].identity);
		t[i].ordinal = c->k.ord;
		t[i].recv_ms = c->k.recv_ms;
		t[i].receiver = c->receiver;
		t[i].kind = c->kind;
		i++;
	}
	long len = duet_traps_encode(t, (uint32_t)n, buf, cap);
	free(t);
	if (len <= 0) {
		free(buf);
		return len < 0 ? len : DUET_EINVAL;
	}
	*out = buf;
	return len;
}

int duet_trap_pipe_restore_keys(struct duet_trap_pipe *p, uint64_t index, const void *keys,
				size_t len, uint64_t delivered)
{
	int rc = 0;
	if (len) {
		struct duet_traps_iter it;
		uint32_t n;
		rc = duet_traps_iter_init(&it, keys, len, &n);
		if (rc)
			return rc;
		struct duet_trap t;
		int r;
		while ((r = duet_traps_next(&it, &t)) == 1) {
			struct key k;
			memcpy(k.id, t.identity, sizeof k.id);
			k.ord = t.ordinal;
			k.recv_ms = t.recv_ms;
			if (!committed_find(p, &k)) {
				if (committed_add(p, &k, index, t.receiver, t.kind))
					rc = DUET_ENOMEM;
				p->st.keys_restored++;
			}
			window_seed(p, &k);
			/* the copies this node holds of traps the skipped
			 * entries committed: matched here, never forwarded */
			match_live(p, &k);
		}
		committed_expire(p);
	}
	if (index > p->last_index)
		p->last_index = index;
	/* every TRAPS entry under the snapshot is delivered (it is at or below
	 * the floor): what this node kept of them is dropped */
	duet_trap_pipe_delivered(p, delivered);
	return rc;
}

/* ---- forwarding ---------------------------------------------------------- */

long duet_trap_pipe_forwarded(struct duet_trap_pipe *p, const void *buf, size_t len,
			      uint64_t now_ms, uint8_t *ack, size_t ack_cap)
{
	struct duet_traps_iter it;
	uint32_t n;
	int rc = duet_traps_iter_init(&it, buf, len, &n);
	if (rc)
		return rc;
	if (ack_cap < 1024 + (size_t)n * 128)
		return DUET_ETOOBIG;
	struct duet_trap *acked = n ? malloc(n * sizeof *acked) : NULL;
	if (n && !acked)
		return DUET_ENOMEM;
	uint32_t na = 0;
	struct duet_trap t;
	while ((rc = duet_traps_next(&it, &t)) == 1) {
		p->st.forwarded_received++;
		struct key k;
		memcpy(k.id, t.identity, sizeof k.id);
		k.ord = t.ordinal;
		k.recv_ms = t.recv_ms;
		if (committed_find(p, &k)) {
			p->st.forwarded_committed++;
			acked[na] = t;
			acked[na].len = 0;
			acked[na].payload = NULL;
			na++;
		} else if (live_find(p, &k)) {
			/* held here already; the standby keeps its copy until
			 * the commit shows up */
			p->st.forwarded_duplicate++;
		} else if (p->in >= p->cfg.live_max ||
			   !backlog_fits(p, trap_encoded(t.sender, t.len))) {
			/* full: the standby keeps its copy and forwards it again
			 * later (its own limits bound what it holds) */
			p->st.forwarded_full++;
		} else if (live_add(p, &t, proposing(p) ? ST_OUTBOX : ST_FRESH, now_ms) == 0) {
			p->st.taken++;
		}
	}
	long out = 0;
	if (rc == 0 && na)
		out = duet_traps_encode(acked, na, ack, ack_cap);
	free(acked);
	return rc ? rc : out;
}

int duet_trap_pipe_ack(struct duet_trap_pipe *p, const void *buf, size_t len)
{
	struct duet_traps_iter it;
	uint32_t n;
	int rc = duet_traps_iter_init(&it, buf, len, &n);
	if (rc)
		return rc;
	p->st.acks_received++;
	struct duet_trap t;
	while ((rc = duet_traps_next(&it, &t)) == 1) {
		struct key k;
		memcpy(k.id, t.identity, sizeof k.id);
		k.ord = t.ordinal;
		k.recv_ms = t.recv_ms;
		struct item *i;
		while ((i = live_find(p, &k)) && i->state >= ST_FRESH) {
			live_free(p, i);
			p->st.ack_matched++;
		}
	}
	return rc < 0 ? rc : 0;
}

/* ---- delivery ------------------------------------------------------------ */

bool duet_trap_pipe_undelivered(struct duet_trap_pipe *p, uint64_t after,
				struct duet_trap_pipe_entry *out)
{
	/* the deliverer asks for the entry after the one it got last: start
	 * there, not at the head (a long backlog would make it quadratic) */
	const struct uentry *u = p->ucursor && p->ucursor->index <= after ? p->ucursor : p->uhead;
	for (; u; u = u->next)
		if (u->index > after) {
			out->index = u->index;
			out->n = u->n;
			out->traps = u->traps;
			p->ucursor = u;
			return true;
		}
	return false;
}

uint64_t duet_trap_pipe_delivered_index(const struct duet_trap_pipe *p)
{
	return p->delivered_index;
}

uint64_t duet_trap_pipe_compact_floor(const struct duet_trap_pipe *p, uint64_t applied)
{
	if (p->uhead && p->uhead->index - 1 < applied)
		return p->uhead->index - 1;
	return applied;
}

void duet_trap_pipe_get_stats(const struct duet_trap_pipe *p, struct duet_trap_pipe_stats *st)
{
	*st = p->st;
	st->outbox = p->lists[ST_OUTBOX].n;
	st->inflight = p->lists[ST_INFLIGHT].n;
	st->pending = p->lists[ST_FRESH].n + p->lists[ST_SENT].n;
	st->committed_keys = p->cn;
	st->undelivered = p->un;
	st->undelivered_bytes = p->ubytes;
	st->live_bytes = p->ibytes;
	st->backlog_full = p->full;
	st->delivered_index = p->delivered_index;
	st->last_committed_index = p->last_index;
}
