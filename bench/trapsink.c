/* SPDX-License-Identifier: MIT */
/*
 * trapsink.c - duet-trapsink: the far end of duetd's TCP sink (JSON lines,
 * DESIGN.md section 5) for bench-traps and the trap integration tests. It
 * counts what arrives and judges it against what duet-trapgen sent: every
 * seq exactly once, whatever the failovers in between.
 *
 * What it relies on in a line, and nothing more (the "trap" object's shape
 * depends on the kind and may change):
 *
 *  - the top-level "id" string (a delivered record's stable id: the same
 *    id twice is a redelivery, which the design allows after a crash) and
 *    the top-level "recv_ms" number (the receiving node's wall clock), found
 *    by a small scanner that follows strings and nesting, so a key of the
 *    same name inside "trap" is not mistaken for them;
 *  - "seq=<digits>", "sent_ns=<digits>" and "tag=<text>" anywhere in the line
 *    text (the MSG part duet-trapgen writes), each starting a word.
 *
 * Per seq it keeps how many DISTINCT ids carried it: two ids for one seq is
 * a duplicate (the dedup of section 5 failed), no id at all is a loss. A
 * repeated id adds nothing to its seq (id_seq_conflicts counts an id seen
 * again with another seq: a sink bug). Ids are kept as two 64-bit hashes
 * (not the text): with a few million ids, the chance that two distinct ids
 * are taken for one is below 1e-24.
 *
 * Latency of a seq, at its first sighting: this process's CLOCK_REALTIME
 * when the read() that brought the line returned, minus sent_ns (both
 * processes on one machine); recv_latency_* is recv_ms minus sent_ns, the
 * part up to the receiving node.
 *
 * One thread, epoll, non-blocking sockets, one read of up to READ_BYTES per
 * readable connection per turn (connections are served in turn, so one fast
 * sender does not starve a reconnecting one). About 1 us of work a line
 * (find the LF, scan the head of the object, three memmem, two hash
 * lookups), so 100k lines/s take a tenth of a core.
 *
 * It acknowledges what it counted, as duetd's TCP sink requires by default
 * (traps_sink.h, "Acknowledgements"): after each read that brought
 * complete lines with an id, one cumulative {"ack":"<id>"} line naming the
 * last of them (made with jansson), written without blocking; an ack that
 * does not go out whole at once waits for EPOLLOUT, and a newer one simply
 * replaces one not yet started. --no-ack is for [sink] ack = none.
 *
 * Memory is bounded by MAX_CONNECTIONS x MAX_LINE_BYTES for lines, plus the
 * tables: about 32 bytes an id and 16 a seq (at most 50% full), 8 bytes a
 * latency sample.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "duet/addr.h"
#include "duet/err.h"

#define PROG                "duet-trapsink"
#define MAX_CONNECTIONS     256
#define READ_BYTES          (256u << 10)
#define MAX_LINE_BYTES      (1u << 20) /* a longer line is dropped and counted */
#define MAX_TAG_BYTES       64
#define MAX_FIRST_LISTED    20
#define MAX_EXPECT_RANGE    100000000ull /* seqs: the report walks the range */
#define MAX_EVENTS          64
#define DRAIN_LIMIT_NS      200000000ull /* reading what is already queued at the end */
#define TABLE_INITIAL_SLOTS (1u << 16)
#define LISTEN_BACKLOG      128
#define MAX_ACK_BYTES       512 /* an id whose ack is longer is not acknowledged itself */

enum stop_reason { STOP_NONE, STOP_SIGNAL, STOP_COUNT, STOP_TIMEOUT };

struct conn {
	int fd;
	char *buf;
	size_t len, cap;
	bool discarding; /* inside a line longer than MAX_LINE_BYTES */
	/* the cumulative ack: the raw JSON string of the last id counted */
	char last_id[MAX_ACK_BYTES];
	size_t last_id_len;
	bool ack_due;
	char out[MAX_ACK_BYTES + 16]; /* the ack line being written */
	size_t out_len, out_off;
	bool want_out; /* EPOLLOUT registered */
};

/* Ids seen: open addressing, linear probing; h1 == 0 marks an empty slot. */
struct id_slot {
	uint64_t h1, h2;
	uint64_t seq;
	bool has_seq;
};

struct seq_slot {
	uint64_t seq;
	uint32_t ids; /* distinct ids that carried it; 0: empty slot */
};

struct samples {
	int64_t *v;
	size_t n, cap;
};

struct sink {
	/* options */
	const char *tag;
	size_t tag_len;
	bool have_range;
	uint64_t expect_first, expect_last;
	uint64_t until_count;

	/* counters */
	uint64_t lines, distinct_ids, repeated_ids, id_seq_conflicts;
	uint64_t lines_without_id, lines_without_seq, lines_other_tag, oversized_lines;
	uint64_t connections, connections_refused;
	uint64_t seqs_distinct;   /* distinct seqs with the tag (in range when given) */
	uint64_t seqs_unexpected; /* distinct seqs outside --expect-first..last */
	uint64_t min_seq, max_seq;

	struct id_slot *ids;
	size_t ids_cap, ids_used;
	struct seq_slot *seqs;
	size_t seqs_cap, seqs_used;
	struct samples latency_ns, recv_latency_ms;

	struct conn *conns[MAX_CONNECTIONS];
	int n_conns;
	int64_t read_realtime_ns; /* when the read() that brought the current lines returned */
	bool no_ack;
	int epfd;
	uint64_t acks_sent;
	/* the id of the line handle_line() took last (in its buffer), for the ack */
	const char *line_id;
	size_t line_id_len;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int64_t realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- hash tables -------------------------------------------------------------- */

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

/* Each step is a bijection of the state, so inputs of one length that differ
 * in a single 8-byte block never collide. */
static uint64_t hash_bytes(const char *p, size_t n, uint64_t seed)
{
	uint64_t h = mix64(seed ^ (n * 0x9e3779b97f4a7c15ull));
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		h = mix64(h ^ w);
		p += 8;
		n -= 8;
	}
	uint64_t w = 0;
	memcpy(&w, p, n);
	return mix64(h ^ w ^ 0x5bd1e9955bd1e995ull);
}

static int ids_grow(struct sink *s)
{
	size_t cap = s->ids_cap ? s->ids_cap * 2 : TABLE_INITIAL_SLOTS;
	struct id_slot *t = calloc(cap, sizeof *t);
	if (!t)
		return -1;
	for (size_t i = 0; i < s->ids_cap; i++) {
		if (!s->ids[i].h1)
			continue;
		size_t j = (size_t)s->ids[i].h1 & (cap - 1);
		while (t[j].h1)
			j = (j + 1) & (cap - 1);
		t[j] = s->ids[i];
	}
	free(s->ids);
	s->ids = t;
	s->ids_cap = cap;
	return 0;
}

/* Finds or adds the id; returns its slot and sets *added. NULL: no memory. */
static struct id_slot *ids_upsert(struct sink *s, const char *id, size_t len, bool *added)
{
	if ((s->ids_used + 1) * 2 > s->ids_cap && ids_grow(s) != 0)
		return NULL;
	uint64_t h1 = hash_bytes(id, len, 0x243f6a8885a308d3ull) | 1; /* never 0: empty */
	uint64_t h2 = hash_bytes(id, len, 0x13198a2e03707344ull);
	size_t j = (size_t)h1 & (s->ids_cap - 1);
	while (s->ids[j].h1) {
		if (s->ids[j].h1 == h1 && s->ids[j].h2 == h2) {
			*added = false;
			return &s->ids[j];
		}
		j = (j + 1) & (s->ids_cap - 1);
	}
	s->ids[j].h1 = h1;
	s->ids[j].h2 = h2;
	s->ids_used++;
	*added = true;
	return &s->ids[j];
}

static size_t seq_home(uint64_t seq, size_t cap)
{
	return (size_t)mix64(seq) & (cap - 1);
}

static int seqs_grow(struct sink *s)
{
	size_t cap = s->seqs_cap ? s->seqs_cap * 2 : TABLE_INITIAL_SLOTS;
	struct seq_slot *t = calloc(cap, sizeof *t);
	if (!t)
		return -1;
	for (size_t i = 0; i < s->seqs_cap; i++) {
		if (!s->seqs[i].ids)
			continue;
		size_t j = seq_home(s->seqs[i].seq, cap);
		while (t[j].ids)
			j = (j + 1) & (cap - 1);
		t[j] = s->seqs[i];
	}
	free(s->seqs);
	s->seqs = t;
	s->seqs_cap = cap;
	return 0;
}

static struct seq_slot *seqs_find(const struct sink *s, uint64_t seq)
{
	if (!s->seqs_cap)
		return NULL;
	size_t j = seq_home(seq, s->seqs_cap);
	while (s->seqs[j].ids) {
		if (s->seqs[j].seq == seq)
			return &s->seqs[j];
		j = (j + 1) & (s->seqs_cap - 1);
	}
	return NULL;
}

/* Counts one more distinct id for seq; returns the new count, 0 if out of memory. */
static uint32_t seqs_add_id(struct sink *s, uint64_t seq)
{
	if ((s->seqs_used + 1) * 2 > s->seqs_cap && seqs_grow(s) != 0)
		return 0;
	size_t j = seq_home(seq, s->seqs_cap);
	while (s->seqs[j].ids) {
		if (s->seqs[j].seq == seq) {
			if (s->seqs[j].ids < UINT32_MAX)
				s->seqs[j].ids++;
			return s->seqs[j].ids;
		}
		j = (j + 1) & (s->seqs_cap - 1);
	}
	s->seqs[j].seq = seq;
	s->seqs[j].ids = 1;
	s->seqs_used++;
	return 1;
}

static int samples_add(struct samples *x, int64_t v)
{
	if (x->n == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 65536;
		int64_t *p = realloc(x->v, cap * sizeof *p);
		if (!p)
			return -1;
		x->v = p;
		x->cap = cap;
	}
	x->v[x->n++] = v;
	return 0;
}

static void out_of_memory(void)
{
	fprintf(stderr, PROG ": out of memory for the tables; giving up\n");
	exit(1);
}

/* ---- reading a line ------------------------------------------------------------ */

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

static bool tag_char(char c)
{
	return word_char(c) || c == '.' || c == ':' || c == '-';
}

/* The closing quote of the JSON string whose content starts at p, or end. */
static const char *string_end(const char *p, const char *end)
{
	for (;;) {
		const char *q = memchr(p, '"', (size_t)(end - p));
		if (!q)
			return end;
		size_t backslashes = 0;
		while (q - backslashes > p && q[-1 - (ptrdiff_t)backslashes] == '\\')
			backslashes++;
		if (backslashes % 2 == 0)
			return q;
		p = q + 1;
	}
}

struct top_fields {
	const char *id;
	size_t id_len;
	bool has_id, has_recv_ms;
	int64_t recv_ms;
};

/* Finds the top-level "id" (a string) and "recv_ms" (an integer) of the JSON
 * object in s: walks strings and nesting, and looks at keys at depth 1 only. */
static void scan_top_level(const char *s, size_t n, struct top_fields *f)
{
	const char *p = s, *end = s + n;
	int depth = 0;
	char prev = 0; /* the last significant character outside strings */
	memset(f, 0, sizeof *f);
	while (p < end && !(f->has_id && f->has_recv_ms)) {
		char c = *p;
		if (c == '"') {
			const char *start = p + 1;
			const char *q = string_end(start, end);
			if (q == end)
				return;
			p = q + 1;
			if (depth != 1 || (prev != '{' && prev != ','))
				continue; /* a value, or inside "trap" */
			size_t key_len = (size_t)(q - start);
			while (p < end && is_space(*p))
				p++;
			if (p == end || *p != ':')
				return;
			p++;
			prev = ':';
			while (p < end && is_space(*p))
				p++;
			if (key_len == 2 && memcmp(start, "id", 2) == 0 && p < end && *p == '"') {
				const char *v = p + 1;
				const char *w = string_end(v, end);
				if (w == end)
					return;
				f->id = v;
				f->id_len = (size_t)(w - v);
				f->has_id = true;
			} else if (key_len == 7 && memcmp(start, "recv_ms", 7) == 0) {
				int64_t v = 0;
				const char *d = p;
				while (d < end && *d >= '0' && *d <= '9' && v < INT64_MAX / 10 - 9)
					v = v * 10 + (*d++ - '0');
				if (d > p) {
					f->recv_ms = v;
					f->has_recv_ms = true;
				}
			}
			continue; /* the value is walked like any other */
		}
		if (c == '{' || c == '[')
			depth++;
		else if (c == '}' || c == ']')
			depth--;
		if (!is_space(c))
			prev = c;
		p++;
	}
}

/* The first "key<digits>" in [from, end) where key starts a word; the value
 * must fit 64 bits. */
static bool find_number(const char *line, const char *from, const char *end, const char *key,
			uint64_t *out, const char **after)
{
	size_t key_len = strlen(key);
	const char *p = from;
	while (p < end && (p = memmem(p, (size_t)(end - p), key, key_len))) {
		const char *d = p + key_len;
		if ((p == line || !word_char(p[-1])) && d < end && *d >= '0' && *d <= '9') {
			uint64_t v = 0;
			bool fits = true;
			for (; d < end && *d >= '0' && *d <= '9'; d++) {
				unsigned digit = (unsigned)(*d - '0');
				if (v > (UINT64_MAX - digit) / 10)
					fits = false;
				v = v * 10 + digit;
			}
			if (fits) {
				*out = v;
				if (after)
					*after = d;
				return true;
			}
		}
		p++;
	}
	return false;
}

/* The "tag=" value (a run of tag characters) in [from, end). */
static bool find_tag(const char *line, const char *from, const char *end, const char **tag,
		     size_t *len)
{
	const char *p = from;
	while (p < end && (p = memmem(p, (size_t)(end - p), "tag=", 4))) {
		if (p == line || !word_char(p[-1])) {
			const char *v = p + 4, *e = v;
			while (e < end && tag_char(*e))
				e++;
			*tag = v;
			*len = (size_t)(e - v);
			return true;
		}
		p++;
	}
	return false;
}

static bool in_range(const struct sink *s, uint64_t seq)
{
	return !s->have_range || (seq >= s->expect_first && seq <= s->expect_last);
}

static void handle_line(struct sink *s, const char *line, size_t n)
{
	while (n > 0 && is_space(line[n - 1]))
		n--;
	if (n == 0)
		return; /* blank: a keep-alive, not a record */
	s->lines++;
	const char *end = line + n;

	uint64_t seq = 0, sent_ns = 0;
	const char *after_seq = NULL, *tag = NULL;
	size_t tag_len = 0;
	bool has_seq = find_number(line, line, end, "seq=", &seq, &after_seq);
	bool has_sent = has_seq && (find_number(line, after_seq, end, "sent_ns=", &sent_ns, NULL) ||
				    find_number(line, line, end, "sent_ns=", &sent_ns, NULL));
	bool tag_ok = true;
	if (s->tag) {
		tag_ok = has_seq &&
			 (find_tag(line, after_seq, end, &tag, &tag_len) ||
			  find_tag(line, line, end, &tag, &tag_len)) &&
			 tag_len == s->tag_len && memcmp(tag, s->tag, tag_len) == 0;
	}

	struct top_fields f;
	scan_top_level(line, n, &f);
	s->line_id = f.id;
	s->line_id_len = f.id_len;
	if (!f.has_id) {
		s->lines_without_id++;
		return; /* without an id there is nothing to count a seq by */
	}
	bool added;
	struct id_slot *slot = ids_upsert(s, f.id, f.id_len, &added);
	if (!slot)
		out_of_memory();
	if (!added) {
		s->repeated_ids++;
		if (!has_seq || (slot->has_seq && slot->seq == seq))
			return;
		if (slot->has_seq != has_seq || slot->seq != seq)
			s->id_seq_conflicts++;
	} else {
		s->distinct_ids++;
		slot->has_seq = has_seq;
		slot->seq = seq;
	}
	if (!has_seq) {
		s->lines_without_seq++;
		return;
	}
	if (!tag_ok) {
		s->lines_other_tag++;
		return;
	}
	uint32_t ids = seqs_add_id(s, seq);
	if (ids == 0)
		out_of_memory();
	if (ids != 1)
		return;
	/* first sighting of this seq */
	if (!in_range(s, seq)) {
		s->seqs_unexpected++;
		return;
	}
	if (s->seqs_distinct == 0 || seq < s->min_seq)
		s->min_seq = seq;
	if (s->seqs_distinct == 0 || seq > s->max_seq)
		s->max_seq = seq;
	s->seqs_distinct++;
	if (has_sent) {
		if (samples_add(&s->latency_ns, s->read_realtime_ns - (int64_t)sent_ns) != 0)
			out_of_memory();
		if (f.has_recv_ms &&
		    samples_add(&s->recv_latency_ms, f.recv_ms - (int64_t)(sent_ns / 1000000)) != 0)
			out_of_memory();
	}
}

/* ---- connections --------------------------------------------------------------- */

static void conn_close(struct sink *s, int epfd, int index)
{
	struct conn *c = s->conns[index];
	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->buf);
	free(c);
	s->conns[index] = s->conns[--s->n_conns];
}

/* Writes what is left of c's ack line; waits for EPOLLOUT if it does not go
 * out whole. Returns false if the connection is broken. */
static bool conn_flush(struct sink *s, struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t w = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			break;
		if (w <= 0)
			return false;
		c->out_off += (size_t)w;
	}
	bool want = c->out_off < c->out_len;
	if (want != c->want_out) {
		struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0u), .data.ptr = c};
		epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev);
		c->want_out = want;
	}
	return true;
}

/* {"ack":"<last id>"}\n through jansson (the id decoded from its JSON
 * string, so any escape in it is spelled the way jansson spells it). */
static bool conn_ack(struct sink *s, struct conn *c)
{
	if (!c->ack_due || s->no_ack)
		return true;
	if (c->out_off > 0 && c->out_off < c->out_len)
		return conn_flush(s, c); /* half written: finish it first */
	c->ack_due = false;
	char quoted[MAX_ACK_BYTES + 2];
	quoted[0] = '"';
	memcpy(quoted + 1, c->last_id, c->last_id_len);
	quoted[c->last_id_len + 1] = '"';
	json_t *id = json_loadb(quoted, c->last_id_len + 2, JSON_DECODE_ANY, NULL);
	json_t *ack = json_is_string(id) ? json_pack("{s:O}", "ack", id) : NULL;
	char *text = ack ? json_dumps(ack, JSON_COMPACT) : NULL;
	size_t n = text ? strlen(text) : 0;
	if (text && n + 1 <= sizeof c->out) {
		memcpy(c->out, text, n);
		c->out[n] = '\n';
		c->out_len = n + 1;
		c->out_off = 0;
		s->acks_sent++;
	}
	free(text);
	json_decref(ack);
	json_decref(id);
	return conn_flush(s, c);
}

/* Hands every complete line in c->buf to handle_line() and keeps the rest. */
static void conn_lines(struct sink *s, struct conn *c)
{
	char *p = c->buf, *end = c->buf + c->len;
	if (c->discarding) {
		char *lf = memchr(p, '\n', c->len);
		if (!lf) {
			c->len = 0;
			return;
		}
		c->discarding = false;
		p = lf + 1;
	}
	for (;;) {
		char *lf = memchr(p, '\n', (size_t)(end - p));
		if (!lf)
			break;
		s->line_id = NULL;
		handle_line(s, p, (size_t)(lf - p));
		if (s->line_id && s->line_id_len <= sizeof c->last_id) {
			memcpy(c->last_id, s->line_id, s->line_id_len);
			c->last_id_len = s->line_id_len;
			c->ack_due = true;
		}
		p = lf + 1;
	}
	c->len = (size_t)(end - p);
	if (c->len && p != c->buf)
		memmove(c->buf, p, c->len);
}

/* Reads what c has (one read). Returns false if the connection is done
 * (EOF or error: its last line, without LF, counted). */
static bool conn_read(struct sink *s, struct conn *c)
{
	if (c->cap - c->len < READ_BYTES / 4 && c->cap < MAX_LINE_BYTES) {
		size_t cap = c->cap * 2 > MAX_LINE_BYTES ? MAX_LINE_BYTES : c->cap * 2;
		char *b = realloc(c->buf, cap);
		if (!b)
			out_of_memory();
		c->buf = b;
		c->cap = cap;
	}
	if (c->len == c->cap) {
		/* a line of MAX_LINE_BYTES without LF: drop it up to the next LF */
		s->oversized_lines++;
		c->len = 0;
		c->discarding = true;
	}
	ssize_t r = read(c->fd, c->buf + c->len, c->cap - c->len);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	s->read_realtime_ns = realtime_ns();
	if (r <= 0) {
		if (c->len && !c->discarding)
			handle_line(s, c->buf, c->len);
		c->len = 0;
		return false;
	}
	c->len += (size_t)r;
	conn_lines(s, c);
	return conn_ack(s, c);
}

static void accept_all(struct sink *s, int epfd, int listen_fd)
{
	for (;;) {
		int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				fprintf(stderr, PROG ": accept: %s\n", strerror(errno));
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return;
		}
		if (s->n_conns == MAX_CONNECTIONS) {
			s->connections_refused++;
			close(fd);
			continue;
		}
		struct conn *c = calloc(1, sizeof *c);
		char *buf = malloc(READ_BYTES);
		if (!c || !buf)
			out_of_memory();
		c->fd = fd;
		c->buf = buf;
		c->cap = READ_BYTES;
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
			fprintf(stderr, PROG ": epoll_ctl: %s\n", strerror(errno));
			close(fd);
			free(buf);
			free(c);
			continue;
		}
		s->conns[s->n_conns++] = c;
		s->connections++;
	}
}

static int conn_index(const struct sink *s, const struct conn *c)
{
	for (int i = 0; i < s->n_conns; i++)
		if (s->conns[i] == c)
			return i;
	return -1;
}

/* Reads what is already queued on every connection (bounded), so a report
 * after SIGTERM or the timeout includes what was sent before it. */
static void drain(struct sink *s, int epfd)
{
	uint64_t limit = mono_ns() + DRAIN_LIMIT_NS;
	bool more = true;
	while (more && mono_ns() < limit) {
		more = false;
		for (int i = 0; i < s->n_conns; i++) {
			struct conn *c = s->conns[i];
			size_t before = c->len;
			uint64_t lines = s->lines;
			if (!conn_read(s, c)) {
				conn_close(s, epfd, i--);
				continue;
			}
			if (c->len != before || s->lines != lines)
				more = true;
		}
	}
}

/* ---- report ----------------------------------------------------------------------- */

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of n sorted values. */
static int64_t percentile(const int64_t *sorted, size_t n, unsigned pct)
{
	size_t rank = (n * pct + 99) / 100;
	return sorted[rank ? rank - 1 : 0];
}

static void print_latency(FILE *f, const char *name, struct samples *x, double unit_per_ms)
{
	if (x->n == 0) {
		fprintf(f, ",\"%s_p50_ms\":null,\"%s_p99_ms\":null,\"%s_max_ms\":null", name, name,
			name);
		return;
	}
	qsort(x->v, x->n, sizeof *x->v, cmp_i64);
	fprintf(f, ",\"%s_p50_ms\":%.3f,\"%s_p99_ms\":%.3f,\"%s_max_ms\":%.3f", name,
		(double)percentile(x->v, x->n, 50) / unit_per_ms, name,
		(double)percentile(x->v, x->n, 99) / unit_per_ms, name,
		(double)x->v[x->n - 1] / unit_per_ms);
}

static void print_list(FILE *f, const char *name, const uint64_t *v, size_t n)
{
	fprintf(f, ",\"%s\":[", name);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%" PRIu64, i ? "," : "", v[i]);
	fputc(']', f);
}

static const char *stop_name(enum stop_reason r)
{
	switch (r) {
	case STOP_SIGNAL:
		return "signal";
	case STOP_COUNT:
		return "count";
	case STOP_TIMEOUT:
		return "timeout";
	default:
		return "none";
	}
}

static int write_report(struct sink *s, const char *path, enum stop_reason why, double seconds)
{
	/* the range judged: as given, else from the lowest seq seen to the highest */
	bool any = s->have_range || s->seqs_distinct > 0;
	uint64_t first = s->have_range ? s->expect_first : s->min_seq;
	uint64_t last = s->have_range ? s->expect_last : s->max_seq;
	uint64_t expected = any ? last - first + 1 : 0;
	uint64_t lost = expected - s->seqs_distinct;

	uint64_t first_lost[MAX_FIRST_LISTED];
	size_t n_lost = 0;
	for (uint64_t q = first; any && n_lost < MAX_FIRST_LISTED && n_lost < lost; q++) {
		if (!seqs_find(s, q))
			first_lost[n_lost++] = q;
		if (q == last)
			break;
	}

	uint64_t duplicated = 0;
	size_t n_dup = 0, cap_dup = 0;
	uint64_t *dups = NULL;
	for (size_t i = 0; i < s->seqs_cap; i++) {
		const struct seq_slot *x = &s->seqs[i];
		if (x->ids < 2 || !in_range(s, x->seq))
			continue;
		duplicated++;
		if (n_dup == cap_dup) {
			cap_dup = cap_dup ? cap_dup * 2 : 256;
			uint64_t *p = realloc(dups, cap_dup * sizeof *p);
			if (!p)
				out_of_memory();
			dups = p;
		}
		dups[n_dup++] = x->seq;
	}
	if (n_dup)
		qsort(dups, n_dup, sizeof *dups, cmp_u64);

	char tmp[4200];
	FILE *f = stdout;
	if (path) {
		if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid()) >=
		    sizeof tmp) {
			fprintf(stderr, PROG ": --report path too long\n");
			free(dups);
			return -1;
		}
		f = fopen(tmp, "w");
		if (!f) {
			fprintf(stderr, PROG ": cannot write %s: %s\n", tmp, strerror(errno));
			free(dups);
			return -1;
		}
	}
	fprintf(f,
		"{\"lines\":%" PRIu64 ",\"distinct_ids\":%" PRIu64 ",\"repeated_ids\":%" PRIu64
		",\"seqs_expected\":%" PRIu64 ",\"seqs_seen\":%" PRIu64 ",\"lost\":%" PRIu64
		",\"duplicated\":%" PRIu64,
		s->lines, s->distinct_ids, s->repeated_ids, expected, s->seqs_distinct, lost,
		duplicated);
	print_latency(f, "latency", &s->latency_ns, 1e6);
	print_list(f, "first_lost", first_lost, n_lost);
	print_list(f, "first_duplicated", dups,
		   n_dup < MAX_FIRST_LISTED ? n_dup : MAX_FIRST_LISTED);
	print_latency(f, "recv_latency", &s->recv_latency_ms, 1.0);
	if (any)
		fprintf(f, ",\"expect_first\":%" PRIu64 ",\"expect_last\":%" PRIu64, first, last);
	else
		fprintf(f, ",\"expect_first\":null,\"expect_last\":null");
	fprintf(f,
		",\"expect_from\":\"%s\",\"seqs_unexpected\":%" PRIu64
		",\"id_seq_conflicts\":%" PRIu64 ",\"lines_without_id\":%" PRIu64
		",\"lines_without_seq\":%" PRIu64 ",\"lines_other_tag\":%" PRIu64
		",\"oversized_lines\":%" PRIu64 ",\"connections\":%" PRIu64
		",\"connections_refused\":%" PRIu64 ",\"seconds\":%.3f,\"stop\":\"%s\"}\n",
		s->have_range ? "args" : "seen", s->seqs_unexpected, s->id_seq_conflicts,
		s->lines_without_id, s->lines_without_seq, s->lines_other_tag, s->oversized_lines,
		s->connections, s->connections_refused, seconds, stop_name(why));
	free(dups);
	if (!path)
		return fflush(f) == 0 ? 0 : -1;
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		fprintf(stderr, PROG ": cannot write %s: %s\n", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* ---- main ------------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: " PROG " --listen HOST:PORT [--port-file F] [--tag TEXT]\n"
	    "                     [--expect-first K --expect-last M] [--until-count N]\n"
	    "                     [--linger-ms MS] [--timeout-s T] [--report FILE]\n"
	    "                     [--stats-interval-ms MS] [--no-ack]\n"
	    "\n"
	    "Accepts any number of TCP connections (a reconnecting sink is normal) and\n"
	    "reads JSON lines: the top-level \"id\" and \"recv_ms\", and seq=, sent_ns=\n"
	    "and tag= anywhere in the line (duet-trapgen's message). Counts lines,\n"
	    "distinct ids, and per seq the distinct ids that carried it. After each\n"
	    "read it acknowledges the last id it counted with {\"ack\":\"<id>\"}\n"
	    "(cumulative, as duetd's [sink] ack = required wants).\n"
	    "\n"
	    "  --listen HOST:PORT    numeric; port 0: the kernel picks one\n"
	    "  --port-file F         once listening, F holds the port and a newline\n"
	    "                        (written to a temporary file, then renamed)\n"
	    "  --tag TEXT            count seqs only from lines whose tag= is TEXT\n"
	    "  --expect-first K      the seqs that should arrive (both or neither; at\n"
	    "  --expect-last M       most %llu); default: the lowest to the highest seen\n"
	    "  --until-count N       stop once N distinct seqs (in range) were seen\n"
	    "  --linger-ms MS        after --until-count is reached, keep counting MS ms\n"
	    "                        (late duplicates) before the report (default 0)\n"
	    "  --timeout-s T         stop after T seconds (decimals allowed)\n"
	    "  --report FILE         where the report goes (atomically); default stdout\n"
	    "  --stats-interval-ms MS  a progress line on stderr every MS ms\n"
	    "  --no-ack              never acknowledge (for [sink] ack = none)\n"
	    "  --help                this text\n"
	    "\n"
	    "On SIGTERM/SIGINT, --until-count or --timeout-s, reads what is already\n"
	    "queued, writes one JSON line and exits 0:\n"
	    "  {\"lines\":..,\"distinct_ids\":..,\"repeated_ids\":(lines whose id was seen\n"
	    "   before),\"seqs_expected\":..,\"seqs_seen\":..,\"lost\":(expected, never seen),\n"
	    "   \"duplicated\":(seqs under 2+ distinct ids),\"latency_p50_ms\":..,\n"
	    "   \"latency_p99_ms\":..,\"latency_max_ms\":.. (receipt minus sent_ns, first\n"
	    "   sighting of each seq; null without samples),\"first_lost\":[<=20],\n"
	    "   "
	    "\"first_duplicated\":[<=20],\"recv_latency_p50_ms\":..,\"recv_latency_p99_ms\":..,\n"
	    "   \"recv_latency_max_ms\":.. (recv_ms minus sent_ns),\"expect_first\":..,\n"
	    "   \"expect_last\":..,\"expect_from\":\"args\"|\"seen\",\"seqs_unexpected\":..,\n"
	    "   \"id_seq_conflicts\":..,\"lines_without_id\":..,\"lines_without_seq\":..,\n"
	    "   \"lines_other_tag\":..,\"oversized_lines\":..,\"connections\":..,\n"
	    "   "
	    "\"connections_refused\":..,\"seconds\":..,\"stop\":\"signal\"|\"count\"|\"timeout\"}\n"
	    "\n"
	    "Exit status: 0, 1 if it could not listen or write, 2 for a usage error.\n",
	    MAX_EXPECT_RANGE);
}

static int parse_u64(const char *opt, const char *s, uint64_t min, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (s[0] == '-' || errno || end == s || *end || v < min) {
		fprintf(stderr, PROG ": %s wants a whole number >= %" PRIu64 ", not '%s'\n", opt,
			min, s);
		return -1;
	}
	*out = v;
	return 0;
}

static int write_port_file(const char *path, int port)
{
	char tmp[4200];
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid()) >= sizeof tmp) {
		fprintf(stderr, PROG ": --port-file path too long\n");
		return -1;
	}
	FILE *f = fopen(tmp, "w");
	if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
		fprintf(stderr, PROG ": cannot write --port-file %s: %s\n", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

static int open_listener(const char *text)
{
	struct sockaddr_storage sa;
	if (duet_addr_parse(text, &sa) != 0) {
		fprintf(stderr,
			PROG ": --listen wants a numeric HOST:PORT like 127.0.0.1:0, not '%s'\n",
			text);
		return -2;
	}
	int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	socklen_t len =
	    sa.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    bind(fd, (struct sockaddr *)&sa, len) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
		fprintf(stderr, PROG ": cannot listen on %s: %s\n", text, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void print_stats(const struct sink *s, double seconds, uint64_t lines_before,
			double interval_s)
{
	fprintf(stderr,
		PROG ": %.1f s lines=%" PRIu64 " (%.0f/s) connections=%d distinct_ids=%" PRIu64
		     " repeated_ids=%" PRIu64 " seqs_seen=%" PRIu64 "\n",
		seconds, s->lines, (double)(s->lines - lines_before) / interval_s, s->n_conns,
		s->distinct_ids, s->repeated_ids, s->seqs_distinct);
}

int main(int argc, char **argv)
{
	static const struct option long_opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"listen", required_argument, NULL, 'l'},
	    {"port-file", required_argument, NULL, 'p'},
	    {"tag", required_argument, NULL, 'T'},
	    {"expect-first", required_argument, NULL, 'F'},
	    {"expect-last", required_argument, NULL, 'L'},
	    {"until-count", required_argument, NULL, 'u'},
	    {"linger-ms", required_argument, NULL, 'g'},
	    {"timeout-s", required_argument, NULL, 't'},
	    {"report", required_argument, NULL, 'r'},
	    {"stats-interval-ms", required_argument, NULL, 'i'},
	    {"no-ack", no_argument, NULL, 'n'},
	    {NULL, 0, NULL, 0},
	};
	static struct sink s;
	const char *listen_text = NULL, *port_file = NULL, *report = NULL;
	bool have_first = false, have_last = false;
	uint64_t linger_ms = 0, stats_ms = 0;
	double timeout_s = 0;
	int opt;

	while ((opt = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage(stdout);
			return 0;
		case 'l':
			listen_text = optarg;
			break;
		case 'p':
			port_file = optarg;
			break;
		case 'T':
			s.tag = optarg;
			s.tag_len = strlen(optarg);
			for (size_t i = 0; i < s.tag_len; i++) {
				if (!tag_char(optarg[i]))
					s.tag_len = 0;
			}
			if (s.tag_len == 0 || s.tag_len > MAX_TAG_BYTES) {
				fprintf(stderr,
					PROG
					": --tag wants 1..%d characters of [A-Za-z0-9._:-], not "
					"'%s'\n",
					MAX_TAG_BYTES, optarg);
				return 2;
			}
			break;
		case 'F':
			if (parse_u64("--expect-first", optarg, 0, &s.expect_first) != 0)
				return 2;
			have_first = true;
			break;
		case 'L':
			if (parse_u64("--expect-last", optarg, 0, &s.expect_last) != 0)
				return 2;
			have_last = true;
			break;
		case 'u':
			if (parse_u64("--until-count", optarg, 1, &s.until_count) != 0)
				return 2;
			break;
		case 'g':
			if (parse_u64("--linger-ms", optarg, 0, &linger_ms) != 0)
				return 2;
			break;
		case 't': {
			char *end;
			errno = 0;
			timeout_s = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(timeout_s > 0) || timeout_s > 1e6) {
				fprintf(stderr,
					PROG ": --timeout-s wants seconds above 0, not '%s'\n",
					optarg);
				return 2;
			}
			break;
		}
		case 'r':
			report = optarg;
			break;
		case 'n':
			s.no_ack = true;
			break;
		case 'i':
			if (parse_u64("--stats-interval-ms", optarg, 1, &stats_ms) != 0)
				return 2;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (!listen_text) {
		fprintf(stderr, PROG ": --listen is required\n");
		usage(stderr);
		return 2;
	}
	if (have_first != have_last) {
		fprintf(stderr, PROG ": give both --expect-first and --expect-last, or neither\n");
		return 2;
	}
	s.have_range = have_first;
	if (s.have_range && (s.expect_last < s.expect_first ||
			     s.expect_last - s.expect_first >= MAX_EXPECT_RANGE)) {
		fprintf(stderr,
			PROG ": --expect-first..--expect-last must be a range of 1 to %llu seqs\n",
			MAX_EXPECT_RANGE);
		return 2;
	}

	/* signals arrive through a signalfd, so the loop sees them between reads */
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	int sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	int listen_fd = open_listener(listen_text);
	if (listen_fd < 0)
		return listen_fd == -2 ? 2 : 1;
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	if (sig_fd < 0 || epfd < 0) {
		fprintf(stderr, PROG ": cannot set up epoll/signalfd: %s\n", strerror(errno));
		return 1;
	}
	s.epfd = epfd;
	/* the listener and the signalfd are told apart from connections by these */
	static char listen_tag, signal_tag;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &listen_tag};
	epoll_ctl(epfd, EPOLL_CTL_ADD, listen_fd, &ev);
	ev.data.ptr = &signal_tag;
	epoll_ctl(epfd, EPOLL_CTL_ADD, sig_fd, &ev);

	struct sockaddr_storage bound;
	socklen_t bound_len = sizeof bound;
	if (getsockname(listen_fd, (struct sockaddr *)&bound, &bound_len) != 0) {
		fprintf(stderr, PROG ": getsockname: %s\n", strerror(errno));
		return 1;
	}
	int port = duet_addr_port(&bound);
	if (port_file && write_port_file(port_file, port) != 0)
		return 1;
	fprintf(stderr, PROG ": listening on port %d\n", port);

	uint64_t start = mono_ns();
	uint64_t deadline = timeout_s > 0 ? start + (uint64_t)(timeout_s * 1e9) : 0;
	uint64_t next_stats = stats_ms ? start + stats_ms * 1000000u : 0;
	uint64_t lines_at_stats = 0;
	uint64_t linger_until = 0; /* set once --until-count is reached */
	enum stop_reason why = STOP_NONE;
	struct epoll_event events[MAX_EVENTS];

	while (why == STOP_NONE) {
		uint64_t now = mono_ns();
		uint64_t wake = 0;
		if (deadline)
			wake = deadline;
		if (linger_until && (!wake || linger_until < wake))
			wake = linger_until;
		if (next_stats && (!wake || next_stats < wake))
			wake = next_stats;
		int timeout_ms = -1;
		if (wake)
			timeout_ms = wake <= now ? 0 : (int)((wake - now + 999999) / 1000000);
		int n = epoll_wait(epfd, events, MAX_EVENTS, timeout_ms);
		if (n < 0 && errno != EINTR) {
			fprintf(stderr, PROG ": epoll_wait: %s\n", strerror(errno));
			return 1;
		}
		for (int i = 0; i < n; i++) {
			void *who = events[i].data.ptr;
			if (who == &listen_tag) {
				accept_all(&s, epfd, listen_fd);
			} else if (who == &signal_tag) {
				struct signalfd_siginfo si;
				if (read(sig_fd, &si, sizeof si) == (ssize_t)sizeof si) {
					fprintf(stderr, PROG ": signal %u: writing the report\n",
						si.ssi_signo);
					why = STOP_SIGNAL;
				}
			} else {
				struct conn *c = who;
				int k = conn_index(&s, c);
				bool ok = k >= 0;
				if (ok && (events[i].events & EPOLLOUT))
					ok = conn_flush(&s, c) && conn_ack(&s, c);
				if (ok && (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
					ok = conn_read(&s, c);
				if (k >= 0 && !ok)
					conn_close(&s, epfd, k);
			}
		}
		now = mono_ns();
		if (s.until_count && !linger_until && s.seqs_distinct >= s.until_count) {
			linger_until = now + linger_ms * 1000000u;
			if (linger_ms == 0)
				why = STOP_COUNT;
		}
		if (why == STOP_NONE && linger_until && now >= linger_until)
			why = STOP_COUNT;
		if (why == STOP_NONE && deadline && now >= deadline)
			why = STOP_TIMEOUT;
		if (next_stats && now >= next_stats) {
			print_stats(&s, (double)(now - start) / 1e9, lines_at_stats,
				    (double)stats_ms / 1e3);
			lines_at_stats = s.lines;
			next_stats += stats_ms * 1000000u;
			if (next_stats <= now)
				next_stats = now + stats_ms * 1000000u;
		}
	}
	if (why != STOP_COUNT)
		drain(&s, epfd);

	int rc = write_report(&s, report, why, (double)(mono_ns() - start) / 1e9);
	while (s.n_conns > 0)
		conn_close(&s, epfd, 0);
	close(listen_fd);
	close(sig_fd);
	close(epfd);
	free(s.ids);
	free(s.seqs);
	free(s.latency_ns.v);
	free(s.recv_latency_ms.v);
	return rc == 0 ? 0 : 1;
}
