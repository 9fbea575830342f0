/* SPDX-License-Identifier: MIT */
/*
 * sink.c - the common part of the trap sinks (traps_sink.h): the queue of
 * batches, confirmation in submit order, the connection's life (backoff and
 * reconnect), logging, stats and close. The transports (sink_tcp.c,
 * sink_pg.c, sink_relp.c) only move bytes; see sink_internal.h for the split.
 *
 * The invariant: the queue holds exactly the batches submitted and neither
 * confirmed nor reset, in submit order, and only its head is ever
 * confirmed. A transport marks batches delivered in any order it likes; the
 * kick timer pops delivered (and empty) batches from the head and calls
 * on_confirm for each. So confirmation order does not depend on how a
 * transport completes, and on_confirm is never called from inside a call
 * the user made (submit, reset), nor from deep inside a transport callback
 * that still has state to update.
 *
 * On a failure the transport tears its connection down and calls
 * sink_link_failed(); the cursor goes back to the head, so the next
 * connection sends every unconfirmed batch again, from the first.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duet/addr.h"
#include "duet/err.h"
#include "sink_internal.h"

#define LOG_REPEAT_MS  60000 /* the same error is logged at most once a minute */
#define LOG_LINE_BYTES 400

/* ---- Messages ----------------------------------------------------------------- */

void sink_msgf(char *dst, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(dst, cap, fmt, ap);
	va_end(ap);
}

void sink_log(struct duet_trap_sink *s, int level, const char *fmt, ...)
{
	if (!s->cfg.on_log || s->closing)
		return;
	char text[LOG_LINE_BYTES];
	int n = snprintf(text, sizeof text, "trap sink %s %s: ", s->tr->name, s->target);
	if (n < 0 || (size_t)n >= sizeof text)
		n = 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text + n, sizeof text - (size_t)n, fmt, ap);
	va_end(ap);
	s->cfg.on_log(s->cfg.data, level, text);
}

/* Counts a failure and logs it, the same text at most once a minute (the
 * suppressed ones go out at DEBUG). */
static void log_failure(struct duet_trap_sink *s, int level, const char *why, const char *tail)
{
	uint64_t now = uv_now(s->loop);
	bool repeat = strcmp(why, s->last_logged) == 0 && now - s->last_logged_ms < LOG_REPEAT_MS;
	if (repeat) {
		s->suppressed++;
		sink_log(s, DUET_SINK_LOG_DEBUG, "%s%s", why, tail);
		return;
	}
	char more[64] = "";
	if (s->suppressed)
		sink_msgf(more, sizeof more, " (%u similar not logged)", s->suppressed);
	sink_log(s, level, "%s%s%s", why, tail, more);
	sink_msgf(s->last_logged, sizeof s->last_logged, "%s", why);
	s->last_logged_ms = now;
	s->suppressed = 0;
}

/* ---- The queue ------------------------------------------------------------------ */

static size_t batch_cost(const struct sink_batch *b)
{
	return sizeof *b + b->len;
}

static void on_kick(uv_timer_t *t);

static void kick(struct duet_trap_sink *s)
{
	if (!s->closing)
		uv_timer_start(&s->kick, on_kick, 0, 0);
}

static void free_list(struct sink_batch *b)
{
	while (b) {
		struct sink_batch *next = b->next;
		free(b);
		b = next;
	}
}

struct sink_batch *sink_peek_unsent(struct duet_trap_sink *s)
{
	while (s->cursor && (s->cursor->n_records == 0 || s->cursor->delivered))
		s->cursor = s->cursor->next;
	return s->cursor;
}

struct sink_batch *sink_next_unsent(struct duet_trap_sink *s)
{
	struct sink_batch *b = sink_peek_unsent(s);
	if (!b)
		return NULL;
	s->cursor = b->next;
	if (b->sends++ > 0)
		s->stats.batches_resent++;
	return b;
}

void sink_batch_hold(struct sink_batch *b)
{
	b->holds++;
}

void sink_batch_release(struct duet_trap_sink *s, struct sink_batch *b)
{
	if (--b->holds > 0 || !b->forgotten)
		return;
	for (struct sink_batch **p = &s->limbo; *p; p = &(*p)->next) {
		if (*p == b) {
			*p = b->next;
			free(b);
			return;
		}
	}
}

void sink_batch_delivered(struct duet_trap_sink *s, struct sink_batch *b)
{
	if (b->forgotten || b->delivered)
		return;
	b->delivered = true;
	kick(s);
}

/* Pops the head while it is delivered or empty, confirming each. */
static void confirm_ready(struct duet_trap_sink *s)
{
	while (s->head && !s->closing) {
		struct sink_batch *b = s->head;
		if (!b->delivered && b->n_records > 0)
			return;
		s->head = b->next;
		if (!s->head)
			s->tail = NULL;
		if (s->cursor == b)
			s->cursor = b->next;
		s->queued_bytes -= batch_cost(b);
		s->stats.queued_batches--;
		s->stats.batches_confirmed++;
		s->stats.records_sent += b->n_records;
		if (b->n_records > 0)
			s->failures = 0; /* progress: the next failure waits retry_min again */
		uint64_t tag = b->tag;
		if (b->holds) { /* cannot happen: a transport releases before delivering */
			b->forgotten = true;
			b->next = s->limbo;
			s->limbo = b;
		} else {
			free(b);
		}
		s->cfg.on_confirm(s->cfg.data, tag);
	}
}

/* ---- The link -------------------------------------------------------------------- */

static uint64_t next_random(struct duet_trap_sink *s)
{
	/* xorshift64: jitter only, no need for more */
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 7;
	s->rng ^= s->rng << 17;
	return s->rng;
}

/* retry_min * 2^failures, at most retry_max, drawn from [d/2, d]. */
static uint64_t backoff_ms(struct duet_trap_sink *s)
{
	uint64_t d = s->cfg.retry_min_ms;
	for (unsigned i = 0; i < s->failures && d < s->cfg.retry_max_ms; i++)
		d *= 2;
	if (d > s->cfg.retry_max_ms)
		d = s->cfg.retry_max_ms;
	return d / 2 + next_random(s) % (d - d / 2 + 1);
}

static void on_retry(uv_timer_t *t)
{
	struct duet_trap_sink *s = t->data;
	if (s->closing || s->link != LINK_WAIT)
		return;
	s->link = LINK_CONNECTING;
	s->stats.reconnects++;
	s->tr->connect(s);
}

void sink_link_up(struct duet_trap_sink *s)
{
	if (s->closing)
		return;
	s->link = LINK_UP;
	s->stats.connected = true;
	s->stats.connects++;
	if (!s->head)
		s->failures = 0;
	/* while an error repeats, so does this: keep it out of the way too */
	int level = s->suppressed ? DUET_SINK_LOG_DEBUG : DUET_SINK_LOG_INFO;
	sink_log(s, level, "connected; %llu batch(es) to send",
		 (unsigned long long)s->stats.queued_batches);
	kick(s);
}

void sink_link_failed(struct duet_trap_sink *s, int level, const char *why)
{
	if (s->closing || s->link == LINK_WAIT) /* closing, or already counted */
		return;
	char reason[SINK_ERR_BYTES];
	sink_msgf(reason, sizeof reason, "%s", why); /* why may live in the transport */
	s->link = LINK_WAIT;
	s->stats.connected = false;
	s->stats.errors++;
	sink_msgf(s->stats.last_error, sizeof s->stats.last_error, "%s", reason);
	s->cursor = s->head; /* everything unconfirmed goes again (batches_resent counts it) */
	uint64_t delay = backoff_ms(s);
	s->failures++;
	char tail[128];
	sink_msgf(tail, sizeof tail, "; %llu batch(es) unconfirmed, reconnecting in %llu ms",
		  (unsigned long long)s->stats.queued_batches, (unsigned long long)delay);
	log_failure(s, level, reason, tail);
	if (!s->closing) /* on_log may have closed us */
		uv_timer_start(&s->retry, on_retry, delay, 0);
}

static void on_kick(uv_timer_t *t)
{
	struct duet_trap_sink *s = t->data;
	if (s->closing)
		return;
	confirm_ready(s); /* on_confirm may submit, reset or close */
	if (s->closing)
		return;
	if (s->link == LINK_DOWN) {
		s->link = LINK_CONNECTING;
		s->tr->connect(s);
		return;
	}
	s->tr->pump(s);
}

/* ---- Close ------------------------------------------------------------------------ */

static void finish_if_closed(struct duet_trap_sink *s)
{
	if (!s->closing || s->open > 0)
		return;
	void (*closed)(void *) = s->closed;
	void *data = s->closed_data;
	free_list(s->head);
	free_list(s->limbo);
	free(s->address);
	free(s->conninfo);
	free(s);
	if (closed)
		closed(data);
}

void sink_transport_closed(struct duet_trap_sink *s)
{
	s->impl = NULL;
	s->open--;
	finish_if_closed(s);
}

static void on_timer_closed(uv_handle_t *h)
{
	struct duet_trap_sink *s = h->data;
	s->open--;
	finish_if_closed(s);
}

void duet_sink_close(struct duet_trap_sink *s, void (*closed)(void *data), void *data)
{
	if (!s || s->closing)
		return;
	s->closing = true;
	s->closed = closed;
	s->closed_data = data;
	uv_close((uv_handle_t *)&s->kick, on_timer_closed);
	uv_close((uv_handle_t *)&s->retry, on_timer_closed);
	s->tr->close(s);
}

/* ---- Public ------------------------------------------------------------------------ */

__attribute__((format(printf, 3, 4))) static int refuse(char *errbuf, size_t errlen,
							const char *fmt, ...)
{
	if (errbuf && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(errbuf, errlen, fmt, ap);
		va_end(ap);
	}
	return DUET_EINVAL;
}

static int check_config(const struct duet_sink_config *c, char *errbuf, size_t errlen)
{
	if (!c->on_confirm)
		return refuse(errbuf, errlen, "trap sink: on_confirm is required");
	if (c->type != DUET_SINK_TCP && c->type != DUET_SINK_POSTGRESQL &&
	    c->type != DUET_SINK_RELP)
		return refuse(errbuf, errlen,
			      "trap sink: type %d is neither tcp (%d), postgresql (%d) nor "
			      "relp (%d)",
			      c->type, DUET_SINK_TCP, DUET_SINK_POSTGRESQL, DUET_SINK_RELP);
	const char *name = c->type == DUET_SINK_TCP ? "tcp" : "relp";
	if (c->type == DUET_SINK_TCP || c->type == DUET_SINK_RELP) {
		struct sockaddr_storage sa;
		if (!c->address || duet_addr_parse(c->address, &sa) || duet_addr_port(&sa) == 0)
			return refuse(errbuf, errlen,
				      "trap sink %s: address '%.80s' is not a numeric "
				      "a.b.c.d:port or [v6]:port with a port other than 0",
				      name, c->address ? c->address : "(none)");
		if (c->type == DUET_SINK_RELP && c->relp_window > DUET_SINK_RELP_WINDOW_MAX)
			return refuse(errbuf, errlen, "trap sink relp: window %u is above %u",
				      c->relp_window, DUET_SINK_RELP_WINDOW_MAX);
		if (c->type == DUET_SINK_RELP && c->relp_max_message_bytes &&
		    (c->relp_max_message_bytes < DUET_SINK_RELP_MAX_MSG_MIN ||
		     c->relp_max_message_bytes > DUET_SINK_RELP_MAX_MSG_MAX))
			return refuse(errbuf, errlen,
				      "trap sink relp: max_message_bytes %zu is not within %u..%u",
				      c->relp_max_message_bytes, DUET_SINK_RELP_MAX_MSG_MIN,
				      DUET_SINK_RELP_MAX_MSG_MAX);
	} else {
		if (!c->conninfo)
			return refuse(errbuf, errlen, "trap sink postgresql: conninfo is required");
		if (c->table && c->table[0] && duet_sink_check_table(c->table))
			return refuse(errbuf, errlen,
				      "trap sink postgresql: table '%.80s' is not a plain "
				      "identifier [a-z_][a-z0-9_]* of at most %d bytes",
				      c->table, DUET_SINK_TABLE_MAX);
	}
	if (c->retry_min_ms && c->retry_max_ms && c->retry_min_ms > c->retry_max_ms)
		return refuse(errbuf, errlen, "trap sink: retry_min_ms %u is above retry_max_ms %u",
			      c->retry_min_ms, c->retry_max_ms);
	return 0;
}

static void apply_defaults(struct duet_trap_sink *s)
{
	struct duet_sink_config *c = &s->cfg;
	if (!c->timeout_ms)
		c->timeout_ms = DUET_SINK_DEFAULT_TIMEOUT_MS;
	if (!c->retry_min_ms)
		c->retry_min_ms = DUET_SINK_DEFAULT_RETRY_MIN_MS;
	if (!c->retry_max_ms)
		c->retry_max_ms = DUET_SINK_DEFAULT_RETRY_MAX_MS;
	if (c->retry_max_ms < c->retry_min_ms)
		c->retry_max_ms = c->retry_min_ms;
	if (!c->max_queued_bytes)
		c->max_queued_bytes = DUET_SINK_DEFAULT_MAX_QUEUED;
	if (!c->relp_window)
		c->relp_window = DUET_SINK_DEFAULT_RELP_WINDOW;
	if (!c->relp_max_message_bytes)
		c->relp_max_message_bytes = DUET_SINK_DEFAULT_RELP_MAX_MSG;
	snprintf(s->table, sizeof s->table, "%s",
		 c->table && c->table[0] ? c->table : DUET_SINK_DEFAULT_TABLE);
	c->table = s->table;
}

int duet_sink_new(uv_loop_t *loop, const struct duet_sink_config *cfg, struct duet_trap_sink **out,
		  char *errbuf, size_t errlen)
{
	if (!loop || !cfg || !out)
		return refuse(errbuf, errlen, "trap sink: loop, config and out are required");
	int rc = check_config(cfg, errbuf, errlen);
	if (rc)
		return rc;
	struct duet_trap_sink *s = calloc(1, sizeof *s);
	if (!s)
		return DUET_ENOMEM;
	s->loop = loop;
	s->cfg = *cfg;
	s->tr = cfg->type == DUET_SINK_TCP    ? &sink_tcp_transport
		: cfg->type == DUET_SINK_RELP ? &sink_relp_transport
					      : &sink_pg_transport;
	s->address = cfg->address ? strdup(cfg->address) : NULL;
	s->conninfo = cfg->conninfo ? strdup(cfg->conninfo) : NULL;
	if ((cfg->address && !s->address) || (cfg->conninfo && !s->conninfo)) {
		free(s->address);
		free(s->conninfo);
		free(s);
		return DUET_ENOMEM;
	}
	s->cfg.address = s->address;
	s->cfg.conninfo = s->conninfo;
	apply_defaults(s);
	rc = s->tr->init(s, errbuf, errlen);
	if (rc) {
		free(s->address);
		free(s->conninfo);
		free(s);
		return rc;
	}
	s->rng = (uv_hrtime() ^ (uint64_t)(uintptr_t)s) | 1;
	uv_timer_init(loop, &s->kick); /* cannot fail on unix */
	uv_timer_init(loop, &s->retry);
	s->kick.data = s->retry.data = s;
	s->open = 3; /* kick, retry, transport */
	s->link = LINK_DOWN;
	kick(s); /* on_kick starts connecting */
	*out = s;
	return 0;
}

int duet_sink_submit(struct duet_trap_sink *s, uint64_t tag, const struct duet_sink_record *recs,
		     size_t n)
{
	if (!s || s->closing || (n > 0 && !recs))
		return DUET_EINVAL;
	size_t len = 0;
	for (size_t i = 0; i < n; i++) {
		if (sink_record_check(&recs[i]))
			return DUET_EINVAL;
		len += sink_record_len(&recs[i]);
	}
	size_t cost = sizeof(struct sink_batch) + len;
	if (cost > s->cfg.max_queued_bytes || s->queued_bytes + cost > s->cfg.max_queued_bytes) {
		s->stats.busy++;
		return cost > s->cfg.max_queued_bytes ? DUET_ETOOBIG : DUET_EBUSY;
	}
	struct sink_batch *b = malloc(cost);
	if (!b)
		return DUET_ENOMEM;
	memset(b, 0, sizeof *b);
	b->tag = tag;
	b->n_records = n;
	for (size_t i = 0; i < n; i++)
		b->len += sink_record_write(&recs[i], b->data + b->len);
	if (s->tail)
		s->tail->next = b;
	else
		s->head = b;
	s->tail = b;
	if (!s->cursor)
		s->cursor = b;
	s->queued_bytes += cost;
	s->stats.queued_batches++;
	s->stats.batches_submitted++;
	s->stats.records_submitted += n;
	kick(s);
	return 0;
}

void duet_sink_reset(struct duet_trap_sink *s)
{
	if (!s || s->closing)
		return;
	uint64_t n = s->stats.queued_batches;
	struct sink_batch *b = s->head;
	while (b) {
		struct sink_batch *next = b->next;
		if (b->holds) {
			b->forgotten = true;
			b->next = s->limbo;
			s->limbo = b;
		} else {
			free(b);
		}
		b = next;
	}
	s->head = s->tail = s->cursor = NULL;
	s->queued_bytes = 0;
	s->stats.queued_batches = 0;
	s->stats.resets++;
	s->tr->forget(s);
	sink_log(s, DUET_SINK_LOG_INFO, "reset: %llu unconfirmed batch(es) forgotten",
		 (unsigned long long)n);
}

size_t duet_sink_queued_bytes(const struct duet_trap_sink *s)
{
	return s ? s->queued_bytes : 0;
}

void duet_sink_get_stats(const struct duet_trap_sink *s, struct duet_sink_stats *st)
{
	if (s && st)
		*st = s->stats;
}

json_t *sink_json_text(const char *s)
{
	json_t *j = json_string(s);
	if (j)
		return j;
	/* not UTF-8 (a receiver's bytes quoted in an error): keep ASCII */
	size_t n = strlen(s);
	char *copy = malloc(n + 1);
	if (!copy)
		return NULL;
	for (size_t i = 0; i <= n; i++)
		copy[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
	j = json_string(copy);
	free(copy);
	return j;
}

json_t *duet_sink_stats_doc(const struct duet_trap_sink *s)
{
	if (!s)
		return NULL;
	const struct duet_sink_stats *st = &s->stats;
	json_t *d = json_pack(
	    "{s:s, s:o, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "type",
	    s->tr->name, "target", sink_json_text(s->target), "connected", st->connected,
	    "records_sent", (json_int_t)st->records_sent, "batches_confirmed",
	    (json_int_t)st->batches_confirmed, "errors", (json_int_t)st->errors, "reconnects",
	    (json_int_t)st->reconnects, "queued_batches", (json_int_t)st->queued_batches,
	    "queued_bytes", (json_int_t)s->queued_bytes, "connects", (json_int_t)st->connects,
	    "batches_submitted", (json_int_t)st->batches_submitted, "records_submitted",
	    (json_int_t)st->records_submitted, "busy", (json_int_t)st->busy, "resets",
	    (json_int_t)st->resets, "batches_resent", (json_int_t)st->batches_resent);
	if (d && s->tr->stats && s->impl && s->tr->stats(s, d) != 0) {
		json_decref(d);
		return NULL;
	}
	if (d && json_object_set_new(d, "last_error", sink_json_text(st->last_error)) != 0) {
		json_decref(d);
		return NULL;
	}
	return d;
}

int duet_sink_stats_json(const struct duet_trap_sink *s, char *buf, size_t len)
{
	if (!s || (!buf && len))
		return DUET_EINVAL;
	json_t *d = duet_sink_stats_doc(s);
	char *text = d ? json_dumps(d, JSON_COMPACT) : NULL;
	json_decref(d);
	if (!text)
		return DUET_ENOMEM;
	size_t n = strlen(text);
	if (len) {
		size_t k = n < len - 1 ? n : len - 1;
		memcpy(buf, text, k);
		buf[k] = '\0';
	}
	free(text);
	return (int)n;
}
