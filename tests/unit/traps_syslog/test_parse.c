/* SPDX-License-Identifier: MIT */
/*
 * test_parse.c - duet_syslog_parse() (traps_syslog.h): the examples of RFC
 * 5424 section 6.5 and RFC 3164 section 5.4, every field, structured data
 * with escapes, and the deviations real senders make (no PRI, bad PRI, no
 * timestamp, no host, other timestamp forms, trailing terminators).
 */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "duet/traps_syslog.h"

#define BOM "\xEF\xBB\xBF"

static const char *input; /* the text being parsed, to check spans lie inside it */
static size_t input_len;

static void parse(const char *text, struct duet_syslog_msg *m)
{
	input = text;
	input_len = strlen(text);
	cr_assert_eq(duet_syslog_parse(text, input_len, m), 0, "parse \"%s\"", text);
}

/* expect == NULL: absent */
static void assert_span(struct duet_syslog_span s, const char *expect, const char *field)
{
	if (!expect) {
		cr_assert(s.p == NULL && s.len == 0, "%s: expected absent, got \"%.*s\"", field,
			  (int)s.len, s.p ? s.p : "");
		return;
	}
	cr_assert_not_null(s.p, "%s: expected \"%s\", got absent", field, expect);
	cr_assert(s.p >= input && s.p + s.len <= input + input_len, "%s: outside the input", field);
	cr_assert(s.len == strlen(expect) && memcmp(s.p, expect, s.len) == 0,
		  "%s: expected \"%s\", got \"%.*s\"", field, expect, (int)s.len, s.p);
}

struct expect {
	int facility, severity, format, version, flags;
	const char *timestamp, *host, *app, *procid, *msgid, *sd, *msg;
};

static void check(const char *text, struct expect e)
{
	struct duet_syslog_msg m;
	parse(text, &m);
	cr_assert_eq(m.facility, e.facility, "facility of \"%s\"", text);
	cr_assert_eq(m.severity, e.severity, "severity of \"%s\"", text);
	cr_assert_eq(m.format, e.format, "format of \"%s\"", text);
	cr_assert_eq(m.version, e.version, "version of \"%s\"", text);
	cr_assert_eq(m.flags, e.flags, "flags of \"%s\": %d", text, m.flags);
	assert_span(m.timestamp, e.timestamp, "timestamp");
	assert_span(m.hostname, e.host, "hostname");
	assert_span(m.app_name, e.app, "app_name");
	assert_span(m.procid, e.procid, "procid");
	assert_span(m.msgid, e.msgid, "msgid");
	assert_span(m.sd, e.sd, "sd");
	assert_span(m.msg, e.msg, "msg");
}

#define R5424 DUET_SYSLOG_RFC5424
#define R3164 DUET_SYSLOG_RFC3164

/* ---- RFC 5424 section 6.5 ------------------------------------------------ */

Test(parse_5424, rfc_example_1_bom)
{
	check("<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - " BOM
	      "'su root' failed for lonvick on /dev/pts/8",
	      (struct expect){4, 2, R5424, 1, DUET_SYSLOG_F_BOM, "2003-10-11T22:14:15.003Z",
			      "mymachine.example.com", "su", NULL, "ID47", NULL,
			      "'su root' failed for lonvick on /dev/pts/8"});
}

Test(parse_5424, rfc_example_2_no_bom)
{
	check("<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to "
	      "make the do-nuts.",
	      (struct expect){20, 5, R5424, 1, 0, "2003-08-24T05:14:15.000003-07:00", "192.0.2.1",
			      "myproc", "8710", NULL, NULL, "%% It's time to make the do-nuts."});
}

Test(parse_5424, rfc_example_3_sd_and_msg)
{
	check("<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
	      "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"] " BOM
	      "An application event log entry...",
	      (struct expect){20, 5, R5424, 1, DUET_SYSLOG_F_BOM, "2003-10-11T22:14:15.003Z",
			      "mymachine.example.com", "evntslog", NULL, "ID47",
			      "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" "
			      "eventID=\"1011\"]",
			      "An application event log entry..."});
}

Test(parse_5424, rfc_example_4_two_elements_no_msg)
{
	check("<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
	      "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"]"
	      "[examplePriority@32473 class=\"high\"]",
	      (struct expect){20, 5, R5424, 1, 0, "2003-10-11T22:14:15.003Z",
			      "mymachine.example.com", "evntslog", NULL, "ID47",
			      "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" "
			      "eventID=\"1011\"][examplePriority@32473 class=\"high\"]",
			      NULL});
}

Test(parse_5424, every_field_and_nilvalues)
{
	check("<0>1 - - - - - -",
	      (struct expect){0, 0, R5424, 1, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL});
	check("<191>1 - - - - - - ",
	      (struct expect){23, 7, R5424, 1, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL});
	check("<14>1 ts host app 42 MID - m",
	      (struct expect){1, 6, R5424, 1, 0, "ts", "host", "app", "42", "MID", NULL, "m"});
	check("<14>22 ts host app 42 MID - two  spaces ",
	      (struct expect){1, 6, R5424, 22, 0, "ts", "host", "app", "42", "MID", NULL,
			      "two  spaces "});
	check("<14>1 - - - - - - -",
	      (struct expect){1, 6, R5424, 1, 0, NULL, NULL, NULL, NULL, NULL, NULL, "-"});
	/* a BOM that does not start MSG stays in it */
	check("<14>1 - - - - - - x" BOM,
	      (struct expect){1, 6, R5424, 1, 0, NULL, NULL, NULL, NULL, NULL, NULL, "x" BOM});
}

Test(parse_5424, sd_escapes)
{
	/* \" \\ \] inside values never end them; an unescaped ']' in quotes is
	 * a byte of the value */
	const char *sd = "[ex@1 a=\"q\\\"]\" b=\"\\\\\" c=\"\\]\" d=\"x]y\" e=\"\"][y z=\"\\n\"]";
	char text[256];
	snprintf(text, sizeof text, "<14>1 - - - - - %s after", sd);
	check(text, (struct expect){1, 6, R5424, 1, 0, NULL, NULL, NULL, NULL, NULL, sd, "after"});
}

Test(parse_5424, bad_sd_goes_to_msg)
{
	static const char *bad[] = {
	    "[bad msg",
	    "[a]x",
	    "[a b=c]",
	    "[a b=\"c]",
	    "[a b=\"c\"",
	    "[]",
	    "[a=b]",
	    "[a  b=\"c\"]",
	    "-x",
	    "x",
	    "[a][b",
	    "[a b=\"c\"]y",
	    "[aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]", /* SD-ID of 33 */
	    "[a b=\"c\" ]",
	    "[a\x01 b=\"c\"]",
	};
	for (unsigned k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		char text[128];
		snprintf(text, sizeof text, "<14>1 - - - - - %s", bad[k]);
		check(text, (struct expect){1, 6, R5424, 1, DUET_SYSLOG_F_BAD_SD, NULL, NULL, NULL,
					    NULL, NULL, NULL, bad[k]});
	}
	/* an SD-ID of exactly 32 is fine */
	check("<14>1 - - - - - [aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa] m",
	      (struct expect){1, 6, R5424, 1, 0, NULL, NULL, NULL, NULL, NULL,
			      "[aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]", "m"});
}

Test(parse_5424, broken_header_falls_back_to_3164)
{
	/* every byte stays, in msg */
	check("<13>1 2003-10-11T22:14:15Z host app",
	      (struct expect){1, 5, R3164, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL,
			      "1 2003-10-11T22:14:15Z host app"});
	check("<13>1 - - - - -", (struct expect){1, 5, R3164, 0, 0, NULL, NULL, NULL, NULL, NULL,
						 NULL, "1 - - - - -"});
	check("<13>1  - - - - - -", (struct expect){1, 5, R3164, 0, 0, NULL, NULL, NULL, NULL, NULL,
						    NULL, "1  - - - - - -"});
	check("<13>0 - - - - - -", (struct expect){1, 5, R3164, 0, 0, NULL, NULL, NULL, NULL, NULL,
						   NULL, "0 - - - - - -"});
	check("<13>1000 - - - - - -", (struct expect){1, 5, R3164, 0, 0, NULL, NULL, NULL, NULL,
						      NULL, NULL, "1000 - - - - - -"});
}

/* ---- RFC 3164 section 5.4 ------------------------------------------------ */

Test(parse_3164, rfc_example_1)
{
	check("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
	      (struct expect){4, 2, R3164, 0, 0, "Oct 11 22:14:15", "mymachine", "su", NULL, NULL,
			      NULL, "'su root' failed for lonvick on /dev/pts/8"});
}

Test(parse_3164, rfc_example_2_no_tag)
{
	check("<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!",
	      (struct expect){1, 5, R3164, 0, 0, "Feb  5 17:32:18", "10.0.0.99", NULL, NULL, NULL,
			      NULL, "Use the BFG!"});
	/* the same message as the device sent it, before the relay added PRI,
	 * TIMESTAMP and HOSTNAME (RFC 3164 4.3.3) */
	check("Use the BFG!", (struct expect){1, 5, R3164, 0, DUET_SYSLOG_F_NO_PRI, NULL, NULL,
					      NULL, NULL, NULL, NULL, "Use the BFG!"});
}

Test(parse_3164, rfc_example_3_cst_is_the_host)
{
	/* RFC 3164 5.4: a relay takes "CST" as HOSTNAME; so do we */
	check("<165>Aug 24 05:34:00 CST 1987 mymachine myproc[10]: %% It's time to make the "
	      "do-nuts.  %%  Ingredients: Mix=OK, Jelly=OK # Devices: Mixer=OK, "
	      "Jelly_Injector=OK, Frier=OK # Transport: Conveyer1=OK, Conveyer2=OK # %%",
	      (struct expect){20, 5, R3164, 0, 0, "Aug 24 05:34:00", "CST", NULL, NULL, NULL, NULL,
			      "1987 mymachine myproc[10]: %% It's time to make the do-nuts.  %%  "
			      "Ingredients: Mix=OK, Jelly=OK # Devices: Mixer=OK, "
			      "Jelly_Injector=OK, Frier=OK # Transport: Conveyer1=OK, "
			      "Conveyer2=OK # %%"});
}

Test(parse_3164, rfc_examples_4_and_5_bad_timestamp_and_relayed)
{
	check("<0>1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 sched[0]: That's "
	      "All Folks!",
	      (struct expect){0, 0, R3164, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL,
			      "1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 "
			      "sched[0]: That's All Folks!"});
	check("<0>Oct 22 10:52:12 scapegoat 1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org "
	      "10.1.2.3 sched[0]: That's All Folks!",
	      (struct expect){0, 0, R3164, 0, 0, "Oct 22 10:52:12", "scapegoat", NULL, NULL, NULL,
			      NULL,
			      "1990 Oct 22 10:52:01 TZ-6 scapegoat.dmz.example.org 10.1.2.3 "
			      "sched[0]: That's All Folks!"});
}

/* ---- RFC 3164 deviations -------------------------------------------------- */

Test(parse_3164, tag_with_pid_and_no_host)
{
	check("<30>Oct  9 08:01:02 sshd[4242]: Accepted publickey",
	      (struct expect){3, 6, R3164, 0, 0, "Oct  9 08:01:02", NULL, "sshd", "4242", NULL,
			      NULL, "Accepted publickey"});
	check("<30>Oct  9 08:01:02 host postfix/smtpd[77]: connect",
	      (struct expect){3, 6, R3164, 0, 0, "Oct  9 08:01:02", "host", "postfix/smtpd", "77",
			      NULL, NULL, "connect"});
}

Test(parse_3164, no_timestamp)
{
	check("<13>su: hi",
	      (struct expect){1, 5, R3164, 0, 0, NULL, NULL, "su", NULL, NULL, NULL, "hi"});
	check("<13>myhost su: hi", (struct expect){1, 5, R3164, 0, 0, NULL, NULL, NULL, NULL, NULL,
						   NULL, "myhost su: hi"});
	check("<13>hello world", (struct expect){1, 5, R3164, 0, 0, NULL, NULL, NULL, NULL, NULL,
						 NULL, "hello world"});
	check("<13>", (struct expect){1, 5, R3164, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL});
}

Test(parse_3164, no_pri_default_13)
{
	check("Oct 11 22:14:15 host tag: x",
	      (struct expect){1, 5, R3164, 0, DUET_SYSLOG_F_NO_PRI, "Oct 11 22:14:15", "host",
			      "tag", NULL, NULL, NULL, "x"});
	/* a 5424 header without PRI is not 5424 */
	check("1 - - - - - - x", (struct expect){1, 5, R3164, 0, DUET_SYSLOG_F_NO_PRI, NULL, NULL,
						 NULL, NULL, NULL, NULL, "1 - - - - - - x"});
	static const char *bad_pri[] = {"<192>x", "<1234>x", "<>x", "<13x",
					"<-1>x",  "<",       "<1",  "<a>b"};
	for (unsigned k = 0; k < sizeof bad_pri / sizeof bad_pri[0]; k++)
		check(bad_pri[k], (struct expect){1, 5, R3164, 0, DUET_SYSLOG_F_NO_PRI, NULL, NULL,
						  NULL, NULL, NULL, NULL, bad_pri[k]});
	check("<007>x",
	      (struct expect){0, 7, R3164, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, "x"});
}

Test(parse_3164, timestamp_forms)
{
	static const struct {
		const char *text, *ts;
	} forms[] = {
	    {"<13>Oct  1 22:14:15 h t: m", "Oct  1 22:14:15"},
	    {"<13>Oct 01 22:14:15 h t: m", "Oct 01 22:14:15"},
	    {"<13>Oct 1 22:14:15 h t: m", "Oct 1 22:14:15"},
	    {"<13>Oct 11 22:14:15.123 h t: m", "Oct 11 22:14:15.123"},
	    {"<13>Nov 14 2022 09:13:13 h t: m", "Nov 14 2022 09:13:13"},
	    {"<13>2003-08-24T05:14:15Z h t: m", "2003-08-24T05:14:15Z"},
	    {"<13>2003-08-24T05:14:15.5+02:00 h t: m", "2003-08-24T05:14:15.5+02:00"},
	    {"<13>2012-08-16T14:34:03-08:00 h t: m", "2012-08-16T14:34:03-08:00"},
	};
	for (unsigned k = 0; k < sizeof forms / sizeof forms[0]; k++)
		check(forms[k].text, (struct expect){1, 5, R3164, 0, 0, forms[k].ts, "h", "t", NULL,
						     NULL, NULL, "m"});
	/* not timestamps: everything is msg */
	static const char *not_ts[] = {
	    "<13>oct 11 22:14:15 h t m",     "<13>Oct 11 22:14 h t m",
	    "<13>Oct 11 22:14:15x h t m",    "<13>Oct  11 22:14:15 h t m",
	    "<13>2003-08-24T05:14:15 h t m", "<13>Oct 11 22:14:15.1234567890 h"};
	for (unsigned k = 0; k < sizeof not_ts / sizeof not_ts[0]; k++)
		check(not_ts[k], (struct expect){1, 5, R3164, 0, 0, NULL, NULL, NULL, NULL, NULL,
						 NULL, not_ts[k] + 4});
	check("<13>Oct 11 22:14:15", (struct expect){1, 5, R3164, 0, 0, "Oct 11 22:14:15", NULL,
						     NULL, NULL, NULL, NULL, NULL});
}

Test(parse_3164, host_and_tag_rules)
{
	check("<13>Oct 11 22:14:15 ::1 t: m", (struct expect){1, 5, R3164, 0, 0, "Oct 11 22:14:15",
							      "::1", "t", NULL, NULL, NULL, "m"});
	/* a tag at the very end, no msg */
	check("<13>Oct 11 22:14:15 host tag:",
	      (struct expect){1, 5, R3164, 0, 0, "Oct 11 22:14:15", "host", "tag", NULL, NULL, NULL,
			      NULL});
	/* "word:" not followed by SP is no tag */
	check("<13>Oct 11 22:14:15 host http://x y",
	      (struct expect){1, 5, R3164, 0, 0, "Oct 11 22:14:15", "host", NULL, NULL, NULL, NULL,
			      "http://x y"});
	/* a host with bytes a host cannot have is no host */
	check("<13>Oct 11 22:14:15 h*st tag: m",
	      (struct expect){1, 5, R3164, 0, 0, "Oct 11 22:14:15", NULL, NULL, NULL, NULL, NULL,
			      "h*st tag: m"});
	/* 48 bytes of tag are a tag, 49 are not */
	check("<13>t23456789012345678901234567890123456789012345678: m",
	      (struct expect){1, 5, R3164, 0, 0, NULL, NULL,
			      "t23456789012345678901234567890123456789012345678", NULL, NULL, NULL,
			      "m"});
	check("<13>t234567890123456789012345678901234567890123456789: m",
	      (struct expect){1, 5, R3164, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL,
			      "t234567890123456789012345678901234567890123456789: m"});
	/* broken pids */
	check("<13>t[]: m",
	      (struct expect){1, 5, R3164, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, "t[]: m"});
	check("<13>t[1 2]: m",
	      (struct expect){1, 5, R3164, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, "t[1 2]: m"});
	check("<13>t[12] m",
	      (struct expect){1, 5, R3164, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, "t[12] m"});
	/* one SP after the tag is a separator, more are msg */
	check("<13>t:   m",
	      (struct expect){1, 5, R3164, 0, 0, NULL, NULL, "t", NULL, NULL, NULL, "  m"});
}

Test(parse, trailing_terminators_dropped)
{
	static const char *in[] = {"<13>t: m\n", "<13>t: m\r\n", "<13>t: m\0", "<13>t: m\n\n\r"};
	static const size_t len[] = {9, 10, 9, 11};
	for (unsigned k = 0; k < 4; k++) {
		struct duet_syslog_msg m;
		input = in[k];
		input_len = len[k];
		cr_assert_eq(duet_syslog_parse(in[k], len[k], &m), 0);
		assert_span(m.msg, "m", "msg");
	}
}

Test(parse, empty_input_refused)
{
	struct duet_syslog_msg m;
	cr_assert_eq(duet_syslog_parse("", 0, &m), DUET_EINVAL);
	cr_assert_eq(duet_syslog_parse("\n\r\0", 3, &m), DUET_EINVAL);
	cr_assert_eq(duet_syslog_parse(NULL, 0, &m), DUET_EINVAL);
}

Test(parse, invalid_utf8_kept_as_bytes)
{
	check("<13>t: \xff\xfe ok \xc3", (struct expect){1, 5, R3164, 0, 0, NULL, NULL, "t", NULL,
							 NULL, NULL, "\xff\xfe ok \xc3"});
}

Test(parse, nul_inside_message_is_a_byte)
{
	static const char in[] = "<13>1 - h a - - - x\0y";
	struct duet_syslog_msg m;
	input = in;
	input_len = sizeof in - 1;
	cr_assert_eq(duet_syslog_parse(in, sizeof in - 1, &m), 0);
	cr_assert_eq(m.msg.len, 3);
	cr_assert_eq(memcmp(m.msg.p, "x\0y", 3), 0);
}
