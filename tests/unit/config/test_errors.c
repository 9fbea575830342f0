/* SPDX-License-Identifier: MIT */
/*
 * test_errors.c - every kind of config error is reported, with the right
 * line and a reason, and all of them at once.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "duet/err.h"
#include "helpers.h"

static struct duet_config_errors errs;
static struct duet_config cfg;

/* Loads text, expects it refused, returns the number of errors. */
static unsigned refused(const char *text)
{
	int rc = load_text(text, &cfg, &errs);
	cr_assert_eq(rc, DUET_EINVAL, "config was accepted");
	cr_assert_gt(errs.n, 0);
	return errs.n;
}

Test(config_errors, unknown_key_with_suggestion)
{
	cr_assert_eq(refused(with_extra("[raft]\nleas_ms = 400\n")), 1);
	cr_assert(
	    has_error(&errs, 23, "unknown key 'leas_ms' in [raft] (did you mean 'lease_ms'?)"));
	refused(replace(BASE_CONFIG, "kind = witness", "kind = witness\nweight = 2"));
	cr_assert(has_error(&errs, 17, "unknown key 'weight' in [member w]"));
	cr_assert(!strstr(errs.v[0].message, "did you mean"), "no close match, no suggestion");
}

Test(config_errors, unknown_section)
{
	cr_assert_eq(refused(with_extra("[postgres]\nhost = x\nport = 5\n")), 1,
		     "one error for the section, none for its keys");
	cr_assert(has_error(&errs, 22, "unknown section [postgres]"));
	refused(with_extra("[rafts]\n"));
	cr_assert(has_error(&errs, 22, "unknown section [rafts] (did you mean [raft]?)"));
	refused(with_extra("[member]\n"));
	cr_assert(has_error(&errs, 22, "[member] needs a name"));
	refused(with_extra("[tls extra]\n"));
	cr_assert(has_error(&errs, 22, "section [tls] takes no name"));
}

Test(config_errors, key_outside_section)
{
	refused(replace(BASE_CONFIG, "[cluster]\n", "name = x\n[cluster]\n"));
	cr_assert(has_error(&errs, 1, "key 'name' is outside any section"));
}

Test(config_errors, bad_port)
{
	refused(replace(BASE_CONFIG, "127.0.0.1:7102", "127.0.0.1:70000"));
	cr_assert(has_error(&errs, 13,
			    "key 'address': '127.0.0.1:70000': port must be between 1 "
			    "and 65535"));
	refused(replace(BASE_CONFIG, "127.0.0.1:7102", "127.0.0.1:0"));
	cr_assert(has_error(&errs, 13, "port must be between 1 and 65535"));
	refused(replace(BASE_CONFIG, "127.0.0.1:7102", "127.0.0.1:http"));
	cr_assert(has_error(&errs, 13, "port must be a number"));
	refused(replace(BASE_CONFIG, "127.0.0.1:7102", "127.0.0.1"));
	cr_assert(has_error(&errs, 13, "expected host:port"));
}

/* Issue 13 defect 14: check-config accepted host names in address lists,
 * which the transport (and every other user of them) then refused at
 * start: names are refused where the config is read. */
Test(config_errors, member_address_host_name_refused)
{
	refused(replace(BASE_CONFIG, "127.0.0.1:7103", "witness.example:7103"));
	cr_assert(
	    has_error(&errs, 17, "'witness.example:7103' names a host; use a numeric address"));
	refused(replace(BASE_CONFIG, "127.0.0.1:7103", "localhost:7103"));
	cr_assert(has_error(&errs, 17, "names a host"));
}

Test(config_errors, bad_address)
{
	refused(replace(BASE_CONFIG, "127.0.0.2:7101", "127.0.0.300:7101"));
	cr_assert(has_error(&errs, 9, "'127.0.0.300:7101': not a valid IPv4 address"));
	refused(replace(BASE_CONFIG, "127.0.0.1:7103", "::1:7103"));
	cr_assert(has_error(&errs, 17, "write an IPv6 address in brackets"));
	refused(replace(BASE_CONFIG, "127.0.0.1:7103", "bad_host:7103"));
	cr_assert(has_error(&errs, 17, "neither an IP address nor a valid hostname"));
	refused(replace(BASE_CONFIG, "127.0.0.1:7103", "127.0.0.1:7103,"));
	cr_assert(has_error(&errs, 17, "empty address in the list"));
	refused(replace(BASE_CONFIG, "127.0.0.1:7103", "127.0.0.1:7103, 127.0.0.1:7103"));
	cr_assert(has_error(&errs, 17, "'127.0.0.1:7103' is listed twice"));
	refused(replace(BASE_CONFIG, "127.0.0.1:7103",
			"127.0.0.1:1,127.0.0.2:1,127.0.0.3:1,127.0.0.4:1,127.0.0.5:1"));
	cr_assert(has_error(&errs, 17, "more than 4 addresses"));
	refused(replace(BASE_CONFIG, "[node]\n", "[node]\nlisten = 0.0.0.0\n"));
	cr_assert(has_error(&errs, 5, "key 'listen': '0.0.0.0': expected host:port"));
}

Test(config_errors, address_shared_by_two_members)
{
	refused(replace(BASE_CONFIG, "127.0.0.1:7103", "127.0.0.2:7101"));
	cr_assert(
	    has_error(&errs, 17, "127.0.0.2:7101 is also an address of [member node-a] (line 9)"));
}

Test(config_errors, duplicate_id)
{
	cr_assert_eq(refused(replace(BASE_CONFIG, "id = 3", "id = 1")), 1);
	cr_assert(
	    has_error(&errs, 15, "key 'id': 1 is already the id of [member node-a] (line 7)"));
	refused(replace(BASE_CONFIG, "id = 3", "id = 0"));
	cr_assert(has_error(&errs, 15, "out of range: must be between 1 and 4294967295"));
	refused(replace(BASE_CONFIG, "id = 3", "id = 4294967296"));
	cr_assert(has_error(&errs, 15, "out of range"));
	refused(replace(BASE_CONFIG, "id = 3", "id = -3"));
	cr_assert(has_error(&errs, 15, "is not a whole number"));
}

Test(config_errors, wrong_number_of_members)
{
	/* two members */
	const char *two = replace(
	    BASE_CONFIG, "[member w]\nid = 3\nkind = witness\naddress = 127.0.0.1:7103\n", "");
	cr_assert_eq(refused(two), 1);
	cr_assert(has_error(&errs, 0, "2 [member NAME] sections found; duet needs exactly 3"));
	/* four members */
	refused(with_extra("[member d]\nid = 4\nkind = data\naddress = 127.0.0.1:7104\n"));
	cr_assert(has_error(&errs, 0, "4 [member NAME] sections found"));
	/* three data nodes, no witness */
	cr_assert_eq(refused(replace(BASE_CONFIG, "kind = witness", "kind = data")), 1);
	cr_assert(has_error(&errs, 0,
			    "3 kind = data and 0 kind = witness; duet needs 2 data nodes "
			    "and 1 witness"));
	/* two witnesses */
	refused(replace(BASE_CONFIG, "id = 2\nkind = data", "id = 2\nkind = witness"));
	cr_assert(has_error(&errs, 0, "1 kind = data and 2 kind = witness"));
	/* more than fit: reported where they start */
	char many[4096] = "";
	for (int i = 4; i <= 7; i++) {
		char one[128];
		snprintf(one, sizeof(one), "[member m%d]\nid = %d\nkind = data\naddress = h%d:1\n",
			 i, i, i);
		strcat(many, one);
	}
	refused(with_extra(many));
	cr_assert(has_error(&errs, 30, "too many [member] sections"));
}

Test(config_errors, missing_required)
{
	cr_assert_eq(refused(replace(BASE_CONFIG, "name = demo\n", "")), 1);
	cr_assert(has_error(&errs, 1, "[cluster] key 'name' is required"));
	refused(replace(BASE_CONFIG, "kind = witness\n", ""));
	cr_assert(has_error(&errs, 14, "[member w] key 'kind' is required"));
	/* a whole section missing: each key, no line */
	refused(replace(
	    BASE_CONFIG,
	    "[tls]\nca = /etc/duet/ca.pem\ncert = /etc/duet/a.pem\nkey = /etc/duet/a.key\n", ""));
	cr_assert_eq(errs.n, 3);
	cr_assert(has_error(&errs, 0, "[tls] key 'ca' is required"));
	cr_assert(has_error(&errs, 0, "[tls] key 'cert' is required"));
	cr_assert(has_error(&errs, 0, "[tls] key 'key' is required"));
	/* the error names the file */
	char out[512];
	FILE *f = fmemopen(out, sizeof(out), "w");
	duet_config_errors_print(f, &errs);
	fclose(f);
	cr_assert(strstr(out, "test.ini: [tls] key 'ca' is required"), "%s", out);
}

Test(config_errors, node_name_is_not_a_member)
{
	refused(replace(BASE_CONFIG, "name = node-a", "name = node-c"));
	cr_assert(has_error(&errs, 5,
			    "key 'name': no [member node-c] section (members: node-a, node-b, w)"));
}

Test(config_errors, raft_rule_violated)
{
	cr_assert_eq(refused(with_extra("[raft]\nlease_ms = 700\nmax_drift_ms = 100\n")), 1);
	cr_assert(has_error(&errs, 22,
			    "[raft] election_timeout_min_ms (800) must exceed lease_ms + "
			    "max_drift_ms (700 + 100): else two masters could hold a "
			    "lease at once"));
	refused(with_extra("[raft]\nheartbeat_ms = 300\n"));
	cr_assert(has_error(&errs, 22, "heartbeat_ms must be at most half of lease_ms"));
	refused(with_extra("[raft]\nmax_entry_bytes = 5000000\n"));
	cr_assert(has_error(&errs, 22, "max_entry_bytes must be between 1 and 4 MiB"));
}

Test(config_errors, duplicate_key_and_section)
{
	cr_assert_eq(
	    refused(replace(BASE_CONFIG, "kind = witness\n", "kind = witness\nkind = data\n")), 1);
	cr_assert(has_error(&errs, 17, "key 'kind' set twice in [member w] (first at line 16)"));
	refused(with_extra("[cluster]\n"));
	cr_assert(has_error(&errs, 22, "section [cluster] appears twice (first at line 1)"));
	refused(with_extra("[member w]\n"));
	cr_assert(has_error(&errs, 22, "section [member w] appears twice (first at line 14)"));
}

Test(config_errors, bad_values)
{
	refused(replace(BASE_CONFIG, "id = 00c0ffee00c0ffee", "id = c0ffee"));
	cr_assert(has_error(&errs, 3, "key 'id': 'c0ffee' is not 16 hex digits"));
	refused(replace(BASE_CONFIG, "id = 00c0ffee00c0ffee", "id = 0000000000000000"));
	cr_assert(has_error(&errs, 3, "must not be zero"));
	refused(replace(BASE_CONFIG, "name = demo", "name = my cluster"));
	cr_assert(has_error(&errs, 2, "key 'name': 'my cluster' is not a valid name"));
	refused(replace(BASE_CONFIG, "[node]\n", "[node]\nlog_level = loud\n"));
	cr_assert(
	    has_error(&errs, 5, "key 'log_level': 'loud' is not one of error, warn, info, debug"));
	refused(replace(BASE_CONFIG, "[node]\n", "[node]\ndata_dir = var/lib\n"));
	cr_assert(has_error(&errs, 5, "key 'data_dir': 'var/lib' is not an absolute path"));
	refused(replace(BASE_CONFIG, "[node]\n", "[node]\nlog_target =\n"));
	cr_assert(has_error(&errs, 5, "key 'log_target': '' is not one of stderr, syslog"));
	refused(replace(BASE_CONFIG, "[node]\n",
			"[node]\nadmin_socket = /run/"
			"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock\n"));
	cr_assert(has_error(&errs, 5, "longer than 107 bytes, the limit of a Unix socket path"));
	refused(replace(BASE_CONFIG, "[node]\n",
			"[node]\ndata_dir = /"
			"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"));
	cr_assert(has_error(&errs, 5, "key 'data_dir': the default admin_socket"));
}

Test(config_errors, syntax)
{
	refused(with_extra("[raft\n"));
	cr_assert(has_error(&errs, 22, "section header without ']'"));
	refused(with_extra("[raft] lease_ms = 1\n"));
	cr_assert(has_error(&errs, 22, "unexpected text after ']'"));
	refused(with_extra("[raft]\njust words\n"));
	cr_assert(has_error(&errs, 23, "expected 'key = value' or '[section]'"));
	refused(with_extra("[raft]\n= 5\n"));
	cr_assert(has_error(&errs, 23, "missing key name before '='"));

	static char text[DUET_CONFIG_MAX_LINE + 4096];
	snprintf(text, sizeof(text), "%s[raft]\nlease_ms = %0*d\n", BASE_CONFIG,
		 DUET_CONFIG_MAX_LINE, 1);
	refused(text);
	cr_assert(has_error(&errs, 23, "line longer than 8192 characters"));

	/* a NUL byte in the middle of a line */
	size_t len = strlen(BASE_CONFIG);
	memcpy(text, BASE_CONFIG, len);
	memcpy(text + len, "[raft]\nlease\0_ms = 1\n", 21);
	cr_assert_eq(duet_config_load_buffer("test.ini", text, len + 21, DUET_CONFIG_SKIP_FILES,
					     &cfg, &errs),
		     DUET_EINVAL);
	cr_assert(has_error(&errs, 23, "line contains a NUL byte"));
}

Test(config_errors, many_errors_at_once)
{
	const char *text = "[cluster]\n"                  /* 1 */
			   "name = a b\n"                 /* 2 bad name */
			   "id = xyz\n"                   /* 3 bad id */
			   "colour = blue\n"              /* 4 unknown key */
			   "[node]\n"                     /* 5 */
			   "name = node-a\n"              /* 6 */
			   "log_level = chatty\n"         /* 7 bad choice */
			   "[member node-a]\n"            /* 8 */
			   "id = 1\nkind = data\n"        /* 9, 10 */
			   "address = 1.2.3.4:0\n"        /* 11 bad port */
			   "[member node-b]\n"            /* 12 */
			   "id = 1\nkind = data\n"        /* 13 dup id, 14 */
			   "address = 1.2.3.5:1\n"        /* 15 */
			   "[tls]\nca = /a\ncert = /b\n"; /* 16..18, key missing; no witness */
	refused(text);
	cr_assert(has_error(&errs, 2, "not a valid name"));
	cr_assert(has_error(&errs, 3, "not 16 hex digits"));
	cr_assert(has_error(&errs, 4, "unknown key 'colour' in [cluster]"));
	cr_assert(has_error(&errs, 7, "'chatty' is not one of"));
	cr_assert(has_error(&errs, 11, "port must be between 1 and 65535"));
	cr_assert(has_error(&errs, 13, "already the id of [member node-a]"));
	cr_assert(has_error(&errs, 16, "[tls] key 'key' is required"));
	cr_assert(has_error(&errs, 0, "2 [member NAME] sections found"));
	cr_assert_eq(errs.n, 8);
	/* in line order, those about the whole file last */
	for (unsigned i = 1; i < errs.n; i++)
		cr_assert(errs.v[i].line == 0 ||
			  (errs.v[i - 1].line != 0 && errs.v[i - 1].line <= errs.v[i].line));
	cr_assert_eq(errs.dropped, 0);
}

Test(config_errors, error_count_is_bounded)
{
	char text[16384];
	size_t n = (size_t)snprintf(text, sizeof(text), "%s[raft]\n", BASE_CONFIG);
	for (int i = 0; i < 30; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "bogus%d = 1\n", i);
	refused(text);
	cr_assert_eq(errs.n, DUET_CONFIG_MAX_ERRORS);
	cr_assert_eq(errs.dropped, 30 - DUET_CONFIG_MAX_ERRORS);
	char out[8192];
	FILE *f = fmemopen(out, sizeof(out), "w");
	duet_config_errors_print(f, &errs);
	fclose(f);
	cr_assert(strstr(out, "test.ini:23: unknown key 'bogus0' in [raft]\n"), "%s", out);
	cr_assert(strstr(out, "test.ini: 10 more errors not shown\n"), "%s", out);
}
