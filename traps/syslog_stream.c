/* SPDX-License-Identifier: MIT */
/*
 * syslog_stream.c - RFC 6587 framing of syslog over TCP (rules and error
 * handling in traps_syslog.h).
 *
 * A byte-driven state machine, so that any split of the stream into chunks
 * gives the same frames, refusals and counters (the fuzz target
 * fuzz_syslog_stream checks exactly that). The framing is decided again at
 * the start of every frame, since a sender may mix them.
 *
 * Memory: a frame that lies whole inside one chunk is handed out in place.
 * Only the part of a frame that a chunk boundary cuts is copied, into a
 * buffer that never holds more than max_frame_bytes: an oversized line is
 * dropped the moment it crosses the limit, an oversized octet count is
 * skipped by counting without storing anything. A buffer grown past
 * SYSLOG_KEEP_BUF_BYTES is freed after its frame, so that many idle
 * connections that once saw a large frame cost nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "duet/traps_syslog.h"

#define SYSLOG_KEEP_BUF_BYTES 4096
#define SYSLOG_MIN_BUF_BYTES  256

enum stream_state {
	S_START = 0, /* before a frame's first byte */
	S_COUNT,     /* inside MSG-LEN; count is its value so far */
	S_OCTET,     /* inside an octet-counted frame of count bytes */
	S_LINE,      /* inside an LF-terminated frame */
	S_SKIP_LINE, /* discarding through the next LF or NUL */
	S_SKIP_COUNT /* discarding count more bytes of an oversized octet frame */
};

static const char REASON_OCTET_TOO_BIG[] = "octet count over max_frame_bytes";
static const char REASON_LINE_TOO_BIG[] = "line over max_frame_bytes without LF";
static const char REASON_LEADING_ZERO[] = "octet count with a leading zero";
static const char REASON_TOO_MANY_DIGITS[] = "octet count longer than 10 digits";
static const char REASON_NO_SPACE[] = "octet count not followed by a space";
static const char REASON_CUT_COUNT[] = "connection ended inside an octet count";
static const char REASON_CUT_FRAME[] = "connection ended inside an octet-counted frame";

int duet_syslog_stream_init(struct duet_syslog_stream *st, uint32_t max_frame_bytes)
{
	if (max_frame_bytes > DUET_SYSLOG_MAX_FRAME_BYTES_LIMIT)
		return DUET_EINVAL;
	memset(st, 0, sizeof *st);
	st->max_frame_bytes =
	    max_frame_bytes ? max_frame_bytes : DUET_SYSLOG_MAX_FRAME_BYTES_DEFAULT;
	st->state = S_START;
	return 0;
}

void duet_syslog_stream_close(struct duet_syslog_stream *st)
{
	free(st->buf);
	st->buf = NULL;
	st->buf_len = st->buf_cap = 0;
}

/* Makes room for `need` bytes (need <= max_frame_bytes). */
static int reserve(struct duet_syslog_stream *st, size_t need)
{
	if (need <= st->buf_cap)
		return 0;
	size_t cap = st->buf_cap * 2;
	if (cap < SYSLOG_MIN_BUF_BYTES)
		cap = SYSLOG_MIN_BUF_BYTES;
	if (cap < need)
		cap = need;
	if (cap > st->max_frame_bytes)
		cap = st->max_frame_bytes;
	uint8_t *buf = realloc(st->buf, cap);
	if (!buf) {
		st->stopped = DUET_ENOMEM;
		return DUET_ENOMEM;
	}
	st->buf = buf;
	st->buf_cap = cap;
	return 0;
}

static int append(struct duet_syslog_stream *st, const uint8_t *p, size_t n)
{
	int rc = reserve(st, st->buf_len + n);
	if (rc)
		return rc;
	memcpy(st->buf + st->buf_len, p, n);
	st->buf_len += n;
	return 0;
}

static void release(struct duet_syslog_stream *st)
{
	st->buf_len = 0;
	if (st->buf_cap > SYSLOG_KEEP_BUF_BYTES) {
		free(st->buf);
		st->buf = NULL;
		st->buf_cap = 0;
	}
}

static int call(struct duet_syslog_stream *st, duet_syslog_frame_cb cb, void *data,
		const struct duet_syslog_frame *f)
{
	int rc = cb(data, f);
	if (rc)
		st->stopped = rc;
	return rc;
}

static int deliver(struct duet_syslog_stream *st, duet_syslog_frame_cb cb, void *data,
		   uint8_t framing, const uint8_t *msg, size_t len)
{
	if (framing == DUET_SYSLOG_FRAMING_LF && len > 0 && msg[len - 1] == '\r')
		len--;
	if (len == 0) {
		st->stats.empty_frames++;
		return 0;
	}
	st->stats.messages++;
	if (framing == DUET_SYSLOG_FRAMING_OCTET)
		st->stats.octet_counted++;
	else
		st->stats.lf_terminated++;
	struct duet_syslog_frame f = {.framing = framing,
				      .offset = st->frame_start,
				      .frame_len = len,
				      .msg = msg,
				      .len = len};
	return call(st, cb, data, &f);
}

static int refuse(struct duet_syslog_stream *st, duet_syslog_frame_cb cb, void *data, int err,
		  const char *reason, uint8_t framing, uint64_t frame_len)
{
	if (err == DUET_ETOOBIG)
		st->stats.oversized++;
	else if (err == DUET_ECORRUPT)
		st->stats.bad_length++;
	else
		st->stats.truncated++;
	struct duet_syslog_frame f = {.err = err,
				      .reason = reason,
				      .framing = framing,
				      .offset = st->frame_start,
				      .frame_len = frame_len};
	return call(st, cb, data, &f);
}

/* A bad MSG-LEN: the bytes of it seen so far are lost, and so is the rest
 * up to the next terminator. */
static int bad_length(struct duet_syslog_stream *st, duet_syslog_frame_cb cb, void *data,
		      const char *reason, uint64_t pos)
{
	st->stats.bytes_discarded += pos - st->frame_start;
	st->state = S_SKIP_LINE;
	return refuse(st, cb, data, DUET_ECORRUPT, reason, DUET_SYSLOG_FRAMING_LF,
		      pos - st->frame_start);
}

/* Index of the first LF or NUL in p[0..n), or n. */
static size_t find_terminator(const uint8_t *p, size_t n)
{
	const uint8_t *lf = memchr(p, '\n', n);
	size_t end = lf ? (size_t)(lf - p) : n;
	const uint8_t *nul = memchr(p, '\0', end);
	return nul ? (size_t)(nul - p) : end;
}

/* Consumes from p[0..n) what the current state takes; returns the number of
 * bytes used (at least 1 unless the state changes without input) through
 * *used, and 0 or a stop value. */
static int step(struct duet_syslog_stream *st, const uint8_t *p, size_t n, duet_syslog_frame_cb cb,
		void *data, size_t *used)
{
	uint64_t pos = st->offset; /* stream offset of p[0] */
	*used = 0;
	switch (st->state) {
	case S_START:
		st->frame_start = pos;
		if (p[0] == '\n' || p[0] == '\0') {
			st->stats.empty_frames++;
			*used = 1;
		} else if (p[0] >= '1' && p[0] <= '9') {
			st->count = (uint64_t)(p[0] - '0');
			st->digits = 1;
			st->state = S_COUNT;
			*used = 1;
		} else if (p[0] == '0') {
			*used = 1;
			return bad_length(st, cb, data, REASON_LEADING_ZERO, pos + 1);
		} else {
			st->state = S_LINE;
		}
		return 0;

	case S_COUNT:
		if (p[0] >= '0' && p[0] <= '9') {
			if (st->digits == DUET_SYSLOG_MAX_LEN_DIGITS)
				return bad_length(st, cb, data, REASON_TOO_MANY_DIGITS, pos);
			st->count = st->count * 10 + (uint64_t)(p[0] - '0');
			st->digits++;
			*used = 1;
			return 0;
		}
		if (p[0] != ' ')
			return bad_length(st, cb, data, REASON_NO_SPACE, pos);
		*used = 1;
		if (st->count > st->max_frame_bytes) {
			st->state = S_SKIP_COUNT;
			return refuse(st, cb, data, DUET_ETOOBIG, REASON_OCTET_TOO_BIG,
				      DUET_SYSLOG_FRAMING_OCTET, st->count);
		}
		st->state = S_OCTET;
		return 0;

	case S_OCTET: {
		size_t need = (size_t)st->count - st->buf_len;
		if (st->buf_len == 0 && n >= need) {
			*used = need;
			st->state = S_START;
			return deliver(st, cb, data, DUET_SYSLOG_FRAMING_OCTET, p, need);
		}
		size_t take = n < need ? n : need;
		int rc = append(st, p, take);
		if (rc)
			return rc;
		*used = take;
		if (st->buf_len < st->count)
			return 0;
		st->state = S_START;
		rc = deliver(st, cb, data, DUET_SYSLOG_FRAMING_OCTET, st->buf, st->buf_len);
		release(st);
		return rc;
	}

	case S_LINE: {
		size_t t = find_terminator(p, n);
		if (st->buf_len + t > st->max_frame_bytes) {
			/* the limit is crossed by byte max_frame_bytes + 1 of the line,
			 * whichever chunk brings it */
			st->stats.bytes_discarded += st->buf_len;
			release(st);
			st->state = S_SKIP_LINE;
			return refuse(st, cb, data, DUET_ETOOBIG, REASON_LINE_TOO_BIG,
				      DUET_SYSLOG_FRAMING_LF, (uint64_t)st->max_frame_bytes + 1);
		}
		if (t == n) {
			*used = n;
			return append(st, p, n);
		}
		*used = t + 1;
		st->state = S_START;
		if (st->buf_len == 0)
			return deliver(st, cb, data, DUET_SYSLOG_FRAMING_LF, p, t);
		int rc = append(st, p, t);
		if (rc)
			return rc;
		rc = deliver(st, cb, data, DUET_SYSLOG_FRAMING_LF, st->buf, st->buf_len);
		release(st);
		return rc;
	}

	case S_SKIP_LINE: {
		size_t t = find_terminator(p, n);
		*used = t < n ? t + 1 : n;
		st->stats.bytes_discarded += *used;
		if (t < n)
			st->state = S_START;
		return 0;
	}

	case S_SKIP_COUNT: {
		size_t take = (uint64_t)n < st->count ? n : (size_t)st->count;
		st->count -= take;
		st->stats.bytes_discarded += take;
		*used = take;
		if (st->count == 0)
			st->state = S_START;
		return 0;
	}
	}
	return DUET_EINVAL;
}

int duet_syslog_stream_feed(struct duet_syslog_stream *st, const void *bytes, size_t len,
			    duet_syslog_frame_cb cb, void *data)
{
	if (st->stopped)
		return DUET_EINVAL;
	const uint8_t *p = bytes;
	st->stats.bytes += len;
	while (len > 0) {
		size_t used;
		int rc = step(st, p, len, cb, data, &used);
		p += used;
		len -= used;
		st->offset += used;
		if (rc)
			return rc;
	}
	return 0;
}

int duet_syslog_stream_finish(struct duet_syslog_stream *st, duet_syslog_frame_cb cb, void *data)
{
	if (st->stopped)
		return DUET_EINVAL;
	int rc = 0;
	switch (st->state) {
	case S_COUNT:
		st->stats.bytes_discarded += st->offset - st->frame_start;
		rc = refuse(st, cb, data, DUET_ETRUNCATED, REASON_CUT_COUNT,
			    DUET_SYSLOG_FRAMING_OCTET, 0);
		break;
	case S_OCTET:
		st->stats.bytes_discarded += st->buf_len;
		rc = refuse(st, cb, data, DUET_ETRUNCATED, REASON_CUT_FRAME,
			    DUET_SYSLOG_FRAMING_OCTET, st->count);
		break;
	case S_LINE:
		rc = deliver(st, cb, data, DUET_SYSLOG_FRAMING_LF, st->buf, st->buf_len);
		break;
	default:
		break;
	}
	st->state = S_START;
	st->count = 0;
	st->digits = 0;
	release(st);
	return rc;
}
