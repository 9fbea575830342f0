/* SPDX-License-Identifier: MIT */
/*
 * test_relp_frame.c - the RELP wire format (traps/relp_frame.c, pure):
 * frames encoded and decoded, input arriving a byte at a time, every
 * malformed form refused at the first byte that shows it (bad TXNR, a
 * missing SP, a DATALEN that disagrees with the data, an oversized frame,
 * a missing LF), rsp data, offers and TXNRs across their wrap; and the
 * texts the RELP sink sends (traps/sink_relp_text.c): the open's offers and
 * each record's syslog message, its id escaped, a dead letter's notice.
 */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "duet/traps_relp_frame.h"
#include "sink_internal.h"

static enum relp_frame_status decode(const char *text, struct relp_frame *f, size_t *used)
{
	return relp_frame_decode((const uint8_t *)text, strlen(text), 1024, f, used);
}

static void refused(const char *text, enum relp_frame_status want)
{
	struct relp_frame f;
	size_t used = 12345;
	enum relp_frame_status st = decode(text, &f, &used);
	cr_assert_eq(st, want, "'%s': status %d (%s), want %d", text, st,
		     relp_frame_status_text(st), want);
	cr_assert_eq(used, 12345, "'%s': used set on a refusal", text);
}

Test(relp_frame, encode_then_decode)
{
	const char *data = "<134>1 - - duet - - - {\"id\":\"r1\"}";
	size_t len = strlen(data);
	char out[256];
	size_t head = relp_frame_header(42, "syslog", len, out);
	cr_assert_eq(head, relp_frame_header_len(42, "syslog", len));
	memcpy(out + head, data, len);
	out[head + len] = '\n';
	cr_assert_eq(memcmp(out, "42 syslog 33 <134>", 18), 0, "%.20s", out);
	struct relp_frame f;
	size_t used;
	cr_assert_eq(relp_frame_decode((uint8_t *)out, head + len + 1, 1024, &f, &used),
		     RELP_FRAME_OK);
	cr_assert_eq(used, head + len + 1);
	cr_assert_eq(f.txnr, 42);
	cr_assert_str_eq(f.command, "syslog");
	cr_assert_eq(f.len, len);
	cr_assert_eq(memcmp(f.data, data, len), 0);

	/* no data: no SP after DATALEN */
	head = relp_frame_header(7, "close", 0, out);
	cr_assert_eq(head, 9);
	cr_assert_eq(memcmp(out, "7 close 0", 9), 0);
	cr_assert_eq(decode("7 close 0\n", &f, &used), RELP_FRAME_OK);
	cr_assert_eq(used, 10);
	cr_assert_null(f.data);
	cr_assert_eq(f.len, 0);
	cr_assert_eq(decode("0 serverclose 0\n", &f, &used), RELP_FRAME_OK);
	cr_assert_eq(f.txnr, 0);
	cr_assert_str_eq(f.command, "serverclose");
	/* the largest TXNR */
	head = relp_frame_header(RELP_TXNR_MAX, "rsp", 6, out);
	memcpy(out + head, "200 OK\n", 7);
	cr_assert_eq(relp_frame_decode((uint8_t *)out, head + 7, 1024, &f, &used), RELP_FRAME_OK);
	cr_assert_eq(f.txnr, RELP_TXNR_MAX);
}

Test(relp_frame, two_frames_in_one_buffer)
{
	const char *two = "1 rsp 6 200 OK\n2 rsp 6 200 OK\n";
	struct relp_frame f;
	size_t used;
	cr_assert_eq(decode(two, &f, &used), RELP_FRAME_OK);
	cr_assert_eq(f.txnr, 1);
	cr_assert_eq(used, 15);
	cr_assert_eq(decode(two + used, &f, &used), RELP_FRAME_OK);
	cr_assert_eq(f.txnr, 2);
}

Test(relp_frame, partial_input_needs_more_at_every_length)
{
	const char *frame = "123 rsp 93 200 OK\nrelp_version=0\nrelp_software=librelp,1.11.0,"
			    "http://librelp.adiscon.com\ncommands=syslog\n";
	size_t n = strlen(frame);
	for (size_t k = 0; k < n; k++) {
		struct relp_frame f;
		size_t used = 999;
		enum relp_frame_status st =
		    relp_frame_decode((const uint8_t *)frame, k, 1024, &f, &used);
		cr_assert_eq(st, RELP_FRAME_NEED_MORE, "prefix of %zu bytes: %d", k, st);
		cr_assert_eq(used, 999);
	}
	struct relp_frame f;
	size_t used;
	cr_assert_eq(relp_frame_decode((const uint8_t *)frame, n, 1024, &f, &used), RELP_FRAME_OK);
	cr_assert_eq(used, n);
	cr_assert_eq(f.len, 93);
}

Test(relp_frame, bad_txnr)
{
	refused("x rsp 0\n", RELP_FRAME_BAD);
	refused(" rsp 0\n", RELP_FRAME_BAD);
	refused("-1 rsp 0\n", RELP_FRAME_BAD);
	refused("1000000000 rsp 0\n", RELP_FRAME_BAD); /* 10 digits */
	refused("12a rsp 0\n", RELP_FRAME_BAD);
	/* ten digits are refused before any more input */
	refused("1234567890", RELP_FRAME_BAD);
}

Test(relp_frame, missing_sp)
{
	refused("1rsp 0\n", RELP_FRAME_BAD);
	refused("1 rsp0\n", RELP_FRAME_BAD);
	refused("1  rsp 0\n", RELP_FRAME_BAD);
	refused("1 rsp 6200 OK\n", RELP_FRAME_TOO_BIG); /* DATALEN 6200 > 1024 */
	refused("1 rsp 3X00\n", RELP_FRAME_BAD);
	refused("1 rsp 3\n200\n", RELP_FRAME_BAD); /* LF where the SP before DATA goes */
	refused("1 r1p 0\n", RELP_FRAME_BAD);
	refused("1 rsp\n", RELP_FRAME_BAD);
	refused("1 rsp \n", RELP_FRAME_BAD); /* no DATALEN */
}

Test(relp_frame, command_too_long)
{
	char text[64];
	snprintf(text, sizeof text, "1 %.*s 0\n", RELP_COMMAND_MAX + 1,
		 "abcdefghijklmnopqrstuvwxyzabcdefghijkl");
	refused(text, RELP_FRAME_BAD);
	snprintf(text, sizeof text, "1 %.*s 0\n", RELP_COMMAND_MAX,
		 "abcdefghijklmnopqrstuvwxyzabcdefghijkl");
	struct relp_frame f;
	size_t used;
	cr_assert_eq(decode(text, &f, &used), RELP_FRAME_OK);
	cr_assert_eq(strlen(f.command), RELP_COMMAND_MAX);
}

Test(relp_frame, datalen_mismatch)
{
	/* fewer data bytes than DATALEN: the next frame's bytes are taken as
	 * data and the LF is missing where DATALEN says it is */
	refused("1 rsp 10 200 OK\n2 rsp 6 200 OK\n", RELP_FRAME_BAD);
	/* more data bytes than DATALEN */
	refused("1 rsp 3 200 OK\n", RELP_FRAME_BAD);
	/* too few, and nothing after: only more input can tell */
	refused("1 rsp 10 200 OK\n", RELP_FRAME_NEED_MORE);
	refused("1 rsp 1234567890 x\n", RELP_FRAME_TOO_BIG); /* past 1024 at the 4th digit */
	/* ten digits of DATALEN are not RELP even with no limit below 9 digits */
	struct relp_frame f;
	size_t used;
	const char *ten = "1 rsp 1234567890 x\n";
	cr_assert_eq(relp_frame_decode((const uint8_t *)ten, strlen(ten), RELP_DATA_MAX, &f, &used),
		     RELP_FRAME_BAD);
}

Test(relp_frame, oversized)
{
	refused("1 rsp 1025 ", RELP_FRAME_TOO_BIG);
	refused("1 rsp 1025", RELP_FRAME_TOO_BIG); /* known before its SP arrives */
	refused("1 rsp 99999", RELP_FRAME_TOO_BIG);
	refused("1 rsp 102", RELP_FRAME_NEED_MORE); /* could still be 102 */
	struct relp_frame f;
	size_t used;
	char text[1100];
	int k = snprintf(text, sizeof text, "1 rsp 1024 ");
	memset(text + k, 'a', 1024);
	text[k + 1024] = '\n';
	text[k + 1025] = 0;
	cr_assert_eq(decode(text, &f, &used), RELP_FRAME_OK); /* exactly the limit */
	cr_assert_eq(relp_frame_decode((uint8_t *)text, strlen(text), 1023, &f, &used),
		     RELP_FRAME_TOO_BIG);
}

Test(relp_frame, missing_lf)
{
	refused("1 rsp 6 200 OKX", RELP_FRAME_BAD);
	refused("1 close 0X", RELP_FRAME_BAD);
	refused("1 rsp 6 200 OK\r\n", RELP_FRAME_BAD);
	refused("1 rsp 6 200 OK", RELP_FRAME_NEED_MORE);
}

Test(relp_frame, rsp_data)
{
	struct relp_rsp r;
	const char *ok = "200 OK\nrelp_version=0\ncommands=syslog";
	cr_assert(relp_rsp_parse((const uint8_t *)ok, strlen(ok), &r));
	cr_assert_eq(r.code, 200);
	cr_assert_eq(r.text_len, 2);
	cr_assert_eq(memcmp(r.text, "OK", 2), 0);
	cr_assert_eq(r.body_len, strlen("relp_version=0\ncommands=syslog"));
	cr_assert(relp_offers_have(r.body, r.body_len, "commands", "syslog"));
	cr_assert(relp_offers_have(r.body, r.body_len, "relp_version", NULL));
	cr_assert_not(relp_offers_have(r.body, r.body_len, "commands", "sys"));
	cr_assert_not(relp_offers_have(r.body, r.body_len, "command", NULL));
	const char *many = "commands=eventlog,syslog";
	cr_assert(relp_offers_have((const uint8_t *)many, strlen(many), "commands", "syslog"));
	cr_assert(relp_rsp_parse((const uint8_t *)"500", 3, &r));
	cr_assert_eq(r.code, 500);
	cr_assert_eq(r.text_len, 0);
	cr_assert_not(relp_rsp_parse((const uint8_t *)"20", 2, &r));
	cr_assert_not(relp_rsp_parse((const uint8_t *)"2000", 4, &r));
	cr_assert_not(relp_rsp_parse((const uint8_t *)"OK 200", 6, &r));
	cr_assert_not(relp_rsp_parse(NULL, 0, &r)); /* the rsp to close has no data */
}

Test(relp_frame, txnr_wraps_and_is_found)
{
	cr_assert_eq(relp_txnr_next(1), 2);
	cr_assert_eq(relp_txnr_next(RELP_TXNR_MAX), 1);
	cr_assert_eq(relp_txnr_next(0), 1);
	cr_assert_eq(relp_txnr_of(0), 1);
	cr_assert_eq(relp_txnr_of(RELP_TXNR_MAX - 1), RELP_TXNR_MAX);
	cr_assert_eq(relp_txnr_of(RELP_TXNR_MAX), 1);
	uint64_t n;
	/* commands RELP_TXNR_MAX - 2 .. RELP_TXNR_MAX + 2: TXNRs 999999998, 999999999, 1, 2, 3 */
	uint64_t oldest = RELP_TXNR_MAX - 2, next = RELP_TXNR_MAX + 3;
	cr_assert(relp_txnr_find(RELP_TXNR_MAX, oldest, next, &n));
	cr_assert_eq(n, RELP_TXNR_MAX - 1);
	cr_assert(relp_txnr_find(2, oldest, next, &n));
	cr_assert_eq(n, RELP_TXNR_MAX + 1);
	cr_assert_not(relp_txnr_find(4, oldest, next, &n));
	cr_assert_not(relp_txnr_find(0, oldest, next, &n));
	cr_assert_not(relp_txnr_find(5, 10, 10, &n)); /* nothing in flight */
}

static const char *message(const char *line, size_t max, struct sink_relp_msg *m)
{
	static char out[1024];
	sink_relp_msg_init(m, line, strlen(line), max);
	cr_assert_lt(m->len, sizeof out);
	sink_relp_msg_write(m, out);
	out[m->len] = 0;
	return out;
}

Test(relp_text, open_offers)
{
	const char *o = sink_relp_open_offers;
	size_t n = strlen(o);
	cr_assert(relp_offers_have((const uint8_t *)o, n, "relp_version", "0"));
	cr_assert(relp_offers_have((const uint8_t *)o, n, "commands", "syslog"));
	cr_assert_eq(strncmp(o, "relp_version=0\nrelp_software=duet,", 34), 0, "%s", o);
	cr_assert_neq(o[n - 1], '\n');
}

Test(relp_text, a_record_is_rfc5424_with_its_id_and_line)
{
	struct sink_relp_msg m;
	const char *line = "{\"id\":\"c0ffee-12-3\",\"kind\":\"syslog\",\"trap\":{}}";
	cr_assert_str_eq(
	    message(line, 8192, &m),
	    "<134>1 - - duet - - [duet@32473 id=\"c0ffee-12-3\"] {\"id\":\"c0ffee-12-3\","
	    "\"kind\":\"syslog\",\"trap\":{}}");
	cr_assert_not(m.dead);
	cr_assert_str_eq(m.id, "c0ffee-12-3");
}

Test(relp_text, the_id_is_escaped_as_a_param_value)
{
	struct sink_relp_msg m;
	/* the id a"b\c]d, as sink_format.c writes it in JSON */
	const char *line = "{\"id\":\"a\\\"b\\\\c]d\",\"trap\":{}}";
	const char *out = message(line, 8192, &m);
	cr_assert_str_eq(m.id, "a\"b\\c]d");
	cr_assert(strstr(out, "[duet@32473 id=\"a\\\"b\\\\c\\]d\"] "), "%s", out);
}

Test(relp_text, too_long_is_a_dead_letter_notice)
{
	struct sink_relp_msg m;
	char line[700];
	int k = snprintf(line, sizeof line, "{\"id\":\"r7\",\"trap\":\"");
	memset(line + k, 'x', 600);
	snprintf(line + k + 600, sizeof line - (size_t)k - 600, "\"}");
	const char *out = message(line, 8192, &m);
	cr_assert_not(m.dead);
	cr_assert_eq(m.len, strlen("<134>1 - - duet - - [duet@32473 id=\"r7\"] ") + strlen(line));
	out = message(line, 512, &m);
	cr_assert(m.dead);
	cr_assert_leq(m.len, 512);
	char want[128];
	snprintf(
	    want, sizeof want,
	    "<131>1 - - duet - - [duet@32473 id=\"r7\" dead_letter=\"too_big\" bytes=\"%zu\"] ",
	    strlen(line));
	cr_assert_eq(strncmp(out, want, strlen(want)), 0, "%s", out);
	cr_assert(strstr(out, "max_message_bytes 512"), "%s", out);
	/* exactly the limit is not a dead letter, one byte more is */
	message(line, 8192, &m);
	size_t exact = m.len;
	message(line, exact, &m);
	cr_assert_not(m.dead);
	message(line, exact - 1, &m);
	cr_assert(m.dead);
}
