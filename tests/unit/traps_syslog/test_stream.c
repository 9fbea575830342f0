/* SPDX-License-Identifier: MIT */
/*
 * test_stream.c - RFC 6587 framing (traps_syslog.h): both framings, mixed
 * on one stream; every chunking gives the same frames; empty frames;
 * oversized frames and bad counts refused, counted and recovered from;
 * the end of a connection; a callback that stops the stream.
 */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "collect.h"
#include "duet/traps_syslog.h"

#define S(lit) lit, sizeof(lit) - 1

static void assert_msg(const struct collected *c, size_t i, uint8_t framing, const char *text)
{
	cr_assert_lt(i, c->n, "frame %zu missing", i);
	const struct collected_frame *f = &c->f[i];
	cr_assert_eq(f->err, 0, "frame %zu: refused (%s)", i, f->reason ? f->reason : "");
	cr_assert_eq(f->framing, framing, "frame %zu framing", i);
	cr_assert_eq(f->len, strlen(text), "frame %zu: \"%s\" vs \"%s\"", i, f->msg, text);
	cr_assert_eq(memcmp(f->msg, text, f->len), 0, "frame %zu: \"%s\" vs \"%s\"", i, f->msg,
		     text);
}

static void assert_refused(const struct collected *c, size_t i, int err, const char *reason_part)
{
	cr_assert_lt(i, c->n, "frame %zu missing", i);
	const struct collected_frame *f = &c->f[i];
	cr_assert_eq(f->err, err, "frame %zu: err %d", i, f->err);
	cr_assert_not_null(strstr(f->reason, reason_part), "frame %zu reason \"%s\"", i, f->reason);
}

/* A stream that uses every framing and terminator, with a message holding
 * an LF inside an octet-counted frame and empty frames in between. */
static const char MIXED[] = "<13>lf one\n"
			    "26 <14>1 - h app - - - octet\n"
			    "<15>crlf two\r\n"
			    "\n"
			    "<16>nul three\0"
			    "9 <17>x\ny z"
			    "\r\n"
			    "<18>last";

static void check_mixed(const struct collected *c)
{
	cr_assert_eq(c->n, 6);
	assert_msg(c, 0, DUET_SYSLOG_FRAMING_LF, "<13>lf one");
	assert_msg(c, 1, DUET_SYSLOG_FRAMING_OCTET, "<14>1 - h app - - - octet\n");
	assert_msg(c, 2, DUET_SYSLOG_FRAMING_LF, "<15>crlf two");
	assert_msg(c, 3, DUET_SYSLOG_FRAMING_LF, "<16>nul three");
	assert_msg(c, 4, DUET_SYSLOG_FRAMING_OCTET, "<17>x\ny z");
	assert_msg(c, 5, DUET_SYSLOG_FRAMING_LF, "<18>last"); /* ended by finish */
	cr_assert_eq(c->f[0].offset, 0);
	cr_assert_eq(c->f[1].offset, 11);
	cr_assert_eq(c->f[4].offset, sizeof MIXED - 1 - 8 - 2 - 11);
}

Test(stream, both_framings_mixed_one_chunk)
{
	struct collected c = {0};
	struct duet_syslog_stream_stats s;
	feed_all(S(MIXED), 0, 0, &c, &s);
	check_mixed(&c);
	cr_assert_eq(s.messages, 6);
	cr_assert_eq(s.octet_counted, 2);
	cr_assert_eq(s.lf_terminated, 4);
	cr_assert_eq(s.empty_frames, 2); /* "\n" and the "\r\n" after the second count */
	cr_assert_eq(s.oversized + s.bad_length + s.truncated + s.bytes_discarded, 0);
	cr_assert_eq(s.bytes, sizeof MIXED - 1);
	collected_free(&c);
}

Test(stream, one_byte_at_a_time)
{
	struct collected whole = {0}, bytes = {0};
	feed_all(S(MIXED), 0, 0, &whole, NULL);
	feed_all(S(MIXED), 1, 0, &bytes, NULL);
	check_mixed(&bytes);
	assert_same_frames(&whole, &bytes, "1-byte chunks");
	collected_free(&whole);
	collected_free(&bytes);
}

Test(stream, split_at_every_boundary)
{
	struct collected whole = {0};
	feed_all(S(MIXED), 0, 0, &whole, NULL);
	size_t len = sizeof MIXED - 1;
	for (size_t cut = 0; cut <= len; cut++) {
		struct collected c = {0};
		struct duet_syslog_stream st;
		cr_assert_eq(duet_syslog_stream_init(&st, 0), 0);
		cr_assert_eq(duet_syslog_stream_feed(&st, MIXED, cut, collect_cb, &c), 0);
		cr_assert_eq(duet_syslog_stream_feed(&st, MIXED + cut, len - cut, collect_cb, &c),
			     0);
		cr_assert_eq(duet_syslog_stream_finish(&st, collect_cb, &c), 0);
		duet_syslog_stream_close(&st);
		char what[32];
		snprintf(what, sizeof what, "cut at %zu", cut);
		assert_same_frames(&whole, &c, what);
		collected_free(&c);
	}
	for (size_t chunk = 2; chunk < 12; chunk++) {
		struct collected c = {0};
		feed_all(S(MIXED), chunk, 0, &c, NULL);
		assert_same_frames(&whole, &c, "fixed chunks");
		collected_free(&c);
	}
	collected_free(&whole);
}

Test(stream, empty_frames_are_skipped_and_counted)
{
	struct collected c = {0};
	struct duet_syslog_stream_stats s;
	feed_all(S("\n\n\r\n\0\r\0<13>a\n\n"), 1, 0, &c, &s);
	cr_assert_eq(c.n, 1);
	assert_msg(&c, 0, DUET_SYSLOG_FRAMING_LF, "<13>a");
	cr_assert_eq(s.empty_frames, 6);
	cr_assert_eq(s.messages, 1);
	collected_free(&c);
}

Test(stream, octet_count_with_lf_after_frame)
{
	/* some senders put an LF after each octet-counted frame */
	struct collected c = {0};
	feed_all(S("5 <13>a\n5 <13>b\n"), 0, 0, &c, NULL);
	cr_assert_eq(c.n, 2);
	assert_msg(&c, 0, DUET_SYSLOG_FRAMING_OCTET, "<13>a");
	assert_msg(&c, 1, DUET_SYSLOG_FRAMING_OCTET, "<13>b");
	collected_free(&c);
}

Test(stream, octet_frame_may_hold_nul_and_lf)
{
	struct collected c = {0};
	feed_all(S("6 a\0b\nc\r"), 0, 0, &c, NULL);
	cr_assert_eq(c.n, 1);
	cr_assert_eq(c.f[0].len, 6);
	cr_assert_eq(memcmp(c.f[0].msg, "a\0b\nc\r", 6), 0); /* octet frames are not stripped */
	collected_free(&c);
}

Test(stream, oversized_octet_frame_skipped_by_count)
{
	/* 20 bytes over a 16-byte limit, holding an LF: skipped exactly, the
	 * stream stays in step */
	static const char in[] = "20 <13>0123456\n89abcdef3 <1>";
	for (size_t chunk = 0; chunk < 4; chunk++) {
		struct collected c = {0};
		struct duet_syslog_stream_stats s;
		feed_all(S(in), chunk, 16, &c, &s);
		cr_assert_eq(c.n, 2);
		assert_refused(&c, 0, DUET_ETOOBIG, "max_frame_bytes");
		cr_assert_eq(c.f[0].framing, DUET_SYSLOG_FRAMING_OCTET);
		cr_assert_eq(c.f[0].frame_len, 20);
		cr_assert_eq(c.f[0].offset, 0);
		assert_msg(&c, 1, DUET_SYSLOG_FRAMING_OCTET, "<1>");
		cr_assert_eq(s.oversized, 1);
		cr_assert_eq(s.bytes_discarded, 20);
		collected_free(&c);
	}
}

Test(stream, octet_frame_at_the_limit_passes)
{
	struct collected c = {0};
	feed_all(S("16 <13>0123456789ab"), 1, 16, &c, NULL);
	cr_assert_eq(c.n, 1);
	assert_msg(&c, 0, DUET_SYSLOG_FRAMING_OCTET, "<13>0123456789ab");
	collected_free(&c);
}

Test(stream, oversized_line_skipped_to_next_lf)
{
	static const char in[] = "<13>0123456789abcdefghij and more\n<14>next\n";
	for (size_t chunk = 0; chunk < 5; chunk++) {
		struct collected c = {0};
		struct duet_syslog_stream_stats s;
		feed_all(S(in), chunk, 16, &c, &s);
		cr_assert_eq(c.n, 2, "chunk %zu", chunk);
		assert_refused(&c, 0, DUET_ETOOBIG, "line over max_frame_bytes");
		cr_assert_eq(c.f[0].framing, DUET_SYSLOG_FRAMING_LF);
		cr_assert_eq(c.f[0].frame_len, 17);
		assert_msg(&c, 1, DUET_SYSLOG_FRAMING_LF, "<14>next");
		cr_assert_eq(c.f[1].offset, 34);
		cr_assert_eq(s.oversized, 1);
		cr_assert_eq(s.bytes_discarded, 34);
		collected_free(&c);
	}
}

Test(stream, line_at_the_limit_passes)
{
	struct collected c = {0};
	feed_all(S("<13>0123456789ab\n<13>0123456789abc\n"), 3, 16, &c, NULL);
	cr_assert_eq(c.n, 2);
	assert_msg(&c, 0, DUET_SYSLOG_FRAMING_LF, "<13>0123456789ab");
	assert_refused(&c, 1, DUET_ETOOBIG, "line");
	collected_free(&c);
}

Test(stream, oversized_line_never_terminated)
{
	struct collected c = {0};
	struct duet_syslog_stream_stats s;
	feed_all(S("<13>0123456789abcdefghij"), 1, 16, &c, &s);
	cr_assert_eq(c.n, 1); /* finish adds nothing: the line was already refused */
	assert_refused(&c, 0, DUET_ETOOBIG, "line");
	cr_assert_eq(s.bytes_discarded, 24);
	collected_free(&c);
}

Test(stream, leading_zero_is_a_bad_length)
{
	struct collected c = {0};
	struct duet_syslog_stream_stats s;
	feed_all(S("05 <13>a\n<13>next\n"), 0, 0, &c, &s);
	cr_assert_eq(c.n, 2);
	assert_refused(&c, 0, DUET_ECORRUPT, "leading zero");
	cr_assert_eq(c.f[0].frame_len, 1);
	assert_msg(&c, 1, DUET_SYSLOG_FRAMING_LF, "<13>next");
	cr_assert_eq(s.bad_length, 1);
	cr_assert_eq(s.bytes_discarded, 9);
	collected_free(&c);

	/* "0 " would be an empty octet frame: refused the same way */
	feed_all(S("0 \n<13>x\n"), 1, 0, &c, NULL);
	cr_assert_eq(c.n, 2);
	assert_refused(&c, 0, DUET_ECORRUPT, "leading zero");
	assert_msg(&c, 1, DUET_SYSLOG_FRAMING_LF, "<13>x");
	collected_free(&c);
}

Test(stream, count_not_followed_by_space)
{
	/* also a line without PRI that starts with a digit: RFC 6587 cannot
	 * tell it from a broken count */
	static const char *inputs[] = {"12abc\n<13>y\n", "2024-01-01 hello\n<13>y\n",
				       "12\n<13>y\n"};
	for (unsigned k = 0; k < 3; k++) {
		for (size_t chunk = 0; chunk < 3; chunk++) {
			struct collected c = {0};
			feed_all(inputs[k], strlen(inputs[k]), chunk, 0, &c, NULL);
			cr_assert_eq(c.n, 2, "input %u", k);
			assert_refused(&c, 0, DUET_ECORRUPT, "not followed by a space");
			assert_msg(&c, 1, DUET_SYSLOG_FRAMING_LF, "<13>y");
			collected_free(&c);
		}
	}
}

Test(stream, count_with_too_many_digits)
{
	struct collected c = {0};
	feed_all(S("12345678901 x\n9999999999 "), 0, 0, &c, NULL);
	cr_assert_eq(c.n, 2);
	assert_refused(&c, 0, DUET_ECORRUPT, "10 digits");
	cr_assert_eq(c.f[0].frame_len, 10);
	/* 10 digits is a count, over the limit: refused as oversized, never
	 * buffered, and the connection ends inside it without a second report */
	assert_refused(&c, 1, DUET_ETOOBIG, "octet count");
	cr_assert_eq(c.f[1].frame_len, 9999999999ull);
	collected_free(&c);
}

Test(stream, finish_reports_a_cut_octet_frame)
{
	struct collected c = {0};
	struct duet_syslog_stream_stats s;
	feed_all(S("<13>a\n10 <13>ab"), 0, 0, &c, &s);
	cr_assert_eq(c.n, 2);
	assert_refused(&c, 1, DUET_ETRUNCATED, "inside an octet-counted frame");
	cr_assert_eq(c.f[1].frame_len, 10);
	cr_assert_eq(c.f[1].offset, 6);
	cr_assert_eq(s.truncated, 1);
	cr_assert_eq(s.bytes_discarded, 6);
	collected_free(&c);

	feed_all(S("<13>a\n12"), 0, 0, &c, NULL);
	cr_assert_eq(c.n, 2);
	assert_refused(&c, 1, DUET_ETRUNCATED, "inside an octet count");
	collected_free(&c);
}

Test(stream, finish_resets_for_reuse)
{
	struct collected c = {0};
	struct duet_syslog_stream st;
	cr_assert_eq(duet_syslog_stream_init(&st, 0), 0);
	cr_assert_eq(duet_syslog_stream_feed(&st, S("<13>half"), collect_cb, &c), 0);
	cr_assert_eq(c.n, 0);
	cr_assert_eq(duet_syslog_stream_finish(&st, collect_cb, &c), 0);
	cr_assert_eq(duet_syslog_stream_finish(&st, collect_cb, &c), 0); /* nothing left */
	cr_assert_eq(duet_syslog_stream_feed(&st, S("<13>new\n"), collect_cb, &c), 0);
	cr_assert_eq(c.n, 2);
	assert_msg(&c, 0, DUET_SYSLOG_FRAMING_LF, "<13>half");
	assert_msg(&c, 1, DUET_SYSLOG_FRAMING_LF, "<13>new");
	duet_syslog_stream_close(&st);
	collected_free(&c);
}

Test(stream, callback_stops_the_stream)
{
	struct collected c = {.stop_after = 2};
	struct duet_syslog_stream st;
	cr_assert_eq(duet_syslog_stream_init(&st, 0), 0);
	cr_assert_eq(duet_syslog_stream_feed(&st, S("<13>a\n<13>b\n<13>c\n"), collect_cb, &c), 99);
	cr_assert_eq(c.n, 2);
	cr_assert_eq(duet_syslog_stream_feed(&st, S("<13>d\n"), collect_cb, &c), DUET_EINVAL);
	cr_assert_eq(duet_syslog_stream_finish(&st, collect_cb, &c), DUET_EINVAL);
	cr_assert_eq(c.n, 2);
	duet_syslog_stream_close(&st);
	collected_free(&c);
}

/* The receiver's rule from traps_syslog.h: a bad count after octet-counted
 * frames closes the connection; on an LF stream the line is skipped. */
static int close_on_bad_count(void *data, const struct duet_syslog_frame *f)
{
	const struct duet_syslog_stream *st = data;
	return f->err == DUET_ECORRUPT && st->stats.octet_counted > 0 ? 1 : 0;
}

Test(stream, receiver_rule_for_bad_counts)
{
	struct duet_syslog_stream st;
	cr_assert_eq(duet_syslog_stream_init(&st, 0), 0);
	cr_assert_eq(duet_syslog_stream_feed(&st, S("5 <13>a3x <13>b\n"), close_on_bad_count, &st),
		     1);
	cr_assert_eq(st.stats.bad_length, 1);
	duet_syslog_stream_close(&st);

	cr_assert_eq(duet_syslog_stream_init(&st, 0), 0);
	cr_assert_eq(
	    duet_syslog_stream_feed(&st, S("<13>a\n3x <13>b\n<13>c\n"), close_on_bad_count, &st),
	    0);
	cr_assert_eq(st.stats.bad_length, 1);
	cr_assert_eq(st.stats.messages, 2);
	duet_syslog_stream_close(&st);
}

Test(stream, init_limits)
{
	struct duet_syslog_stream st;
	cr_assert_eq(duet_syslog_stream_init(&st, 0), 0);
	cr_assert_eq(st.max_frame_bytes, DUET_SYSLOG_MAX_FRAME_BYTES_DEFAULT);
	cr_assert_eq(duet_syslog_stream_init(&st, DUET_SYSLOG_MAX_FRAME_BYTES_LIMIT), 0);
	cr_assert_eq(duet_syslog_stream_init(&st, DUET_SYSLOG_MAX_FRAME_BYTES_LIMIT + 1),
		     DUET_EINVAL);
	duet_syslog_stream_close(&st);
}

Test(stream, one_mib_line_refused_then_stream_goes_on)
{
	size_t big = 1u << 20;
	size_t len = big + 64;
	char *in = malloc(len);
	memcpy(in, "<13>", 4);
	memset(in + 4, 'A', big - 4);
	int tail = snprintf(in + big, 64, "\n12 <13>after-1\n<13>after-2\n");
	len = big + (size_t)tail;
	for (size_t chunk = 0; chunk <= 65536; chunk += 65536 / 4 + 1) {
		struct collected c = {0};
		struct duet_syslog_stream_stats s;
		feed_all(in, len, chunk ? chunk : 0, 0, &c, &s);
		cr_assert_eq(c.n, 3);
		assert_refused(&c, 0, DUET_ETOOBIG, "line");
		assert_msg(&c, 1, DUET_SYSLOG_FRAMING_OCTET, "<13>after-1\n");
		assert_msg(&c, 2, DUET_SYSLOG_FRAMING_LF, "<13>after-2");
		cr_assert_eq(s.oversized, 1);
		cr_assert_eq(s.bytes_discarded, big + 1);
		collected_free(&c);
	}
	free(in);
}
