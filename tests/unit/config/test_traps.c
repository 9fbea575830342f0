/* SPDX-License-Identifier: MIT */
/*
 * test_traps.c - the data node's [traps] and [sink] sections: defaults,
 * values, the rules that span keys, the two files [traps] names (the HTTP
 * token, the SNMPv3 users) with their errors reported as FILE:LINE, and the
 * witness refusing both sections.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "duet/err.h"
#include "helpers.h"

static struct duet_config_errors errs;
static struct duet_config cfg;

/* Loads text, expects it refused. */
static void refused(const char *text)
{
	int rc = load_text(text, &cfg, &errs);
	cr_assert_eq(rc, DUET_EINVAL, "config was accepted");
	cr_assert_gt(errs.n, 0);
}

static void accepted(const char *text)
{
	int rc = load_text(text, &cfg, &errs);
	if (rc)
		dump_errors(&errs);
	cr_assert_eq(rc, 0);
}

/* ---- files: loaded without DUET_CONFIG_SKIP_FILES ------------------------ */

static char tls_files[3][64];
static char made[8][64];
static int n_made;

/* A temporary file holding text; removed by cleanup(). */
static const char *temp_file(const char *text, size_t len)
{
	cr_assert_lt(n_made, 8);
	char *path = made[n_made++];
	snprintf(path, 64, "/tmp/duet-traps-test-XXXXXX");
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

static void cleanup(void)
{
	for (int i = 0; i < n_made; i++)
		unlink(made[i]);
	n_made = 0;
}

/* BASE_CONFIG with real TLS files, plus extra (still from line 22). */
static const char *with_files(const char *extra)
{
	for (int i = 0; i < 3; i++)
		snprintf(tls_files[i], sizeof(tls_files[i]), "%s", temp_file("pem", 3));
	char tls[256];
	snprintf(tls, sizeof(tls), "ca = %s\ncert = %s\nkey = %s\n", tls_files[0], tls_files[1],
		 tls_files[2]);
	return replace(with_extra(extra),
		       "ca = /etc/duet/ca.pem\ncert = /etc/duet/a.pem\nkey = /etc/duet/a.key\n",
		       tls);
}

static int load_files(const char *text)
{
	return duet_config_load_buffer("test.ini", text, strlen(text), 0, &cfg, &errs);
}

static const char *key_file; /* the file with_file_key() made */

/* BASE_CONFIG with real TLS files and "[traps]\nKEY = FILE" (line 23),
 * FILE holding content. */
static const char *with_file_key(const char *key, const char *content)
{
	const char *path = key_file = temp_file(content, strlen(content));
	static char extra[256];
	snprintf(extra, sizeof(extra), "[traps]\n%s = %s\n", key, path);
	return with_files(extra);
}

/* ---- defaults and values -------------------------------------------------- */

Test(config_traps, defaults)
{
	accepted(BASE_CONFIG);
	const struct duet_config_traps *t = &cfg.traps;
	cr_assert_eq(t->window_ms, 30000);
	cr_assert_eq(t->syslog_udp.n + t->syslog_tcp.n + t->snmp_udp.n + t->http.n + t->https.n, 0,
		     "every receiver is off unless configured");
	cr_assert_eq(t->max_message_bytes, 8192);
	cr_assert_eq(t->max_connections, 256);
	cr_assert_eq(t->request_timeout_ms, 10000);
	cr_assert_eq(t->tcp_idle_timeout_ms, 300000);
	cr_assert_eq(t->udp_rcvbuf_bytes, 16777216, "DESIGN 5: at least 16 MiB");
	cr_assert_eq(t->n_snmp_communities, 0, "v1/v2c refused by default");
	cr_assert_eq(t->n_snmp_users, 0);
	cr_assert_eq(t->snmp_engine_id_len, 0, "derived by the daemon");
	cr_assert_str_eq(t->http_token, "");
	cr_assert_eq(t->forward_delay_ms, 200);
	cr_assert_eq(t->batch_max, 1000);
	cr_assert_eq(t->pending_max, 200000);
	cr_assert_eq(t->backlog_max, 1000000);
	cr_assert_eq(t->backlog_max_bytes, 256u << 20);
	cr_assert_eq(t->identities_max, 2000000);
	cr_assert_eq(cfg.sink.type, DUET_CONFIG_SINK_NONE);
	cr_assert_str_eq(cfg.sink.address, "");
	cr_assert_str_eq(cfg.sink.table, "duet_traps");
	cr_assert_eq(cfg.sink.timeout_ms, 5000);
}

Test(config_traps, full_data_node)
{
	const char *extra = "[traps]\n"
			    "window_ms = 60000\n"
			    "syslog_udp = 0.0.0.0:514\n"
			    "syslog_tcp = 127.0.0.1:514, [::1]:514\n"
			    "snmp_udp = 127.0.0.1:162\n"
			    "http = 127.0.0.1:8080\n"
			    "https = 127.0.0.1:8443\n"
			    "tls_cert = /etc/duet/traps.pem\n"
			    "tls_key = /etc/duet/traps.key\n"
			    "max_message_bytes = 480\n"
			    "max_connections = 65536\n"
			    "udp_rcvbuf_bytes = 65536\n"
			    "snmp_communities = public , s3cret w1th space,x\n"
			    "snmp_engine_id = 0x80001f8880C0FFEE\n"
			    "forward_delay_ms = 500\n"
			    "batch_max = 10000\n"
			    "[sink]\n"
			    "type = tcp\n"
			    "address = 127.0.0.1:6514\n";
	accepted(with_extra(extra));
	const struct duet_config_traps *t = &cfg.traps;
	cr_assert_eq(t->window_ms, 60000);
	cr_assert_str_eq(t->syslog_udp.v[0], "0.0.0.0:514");
	cr_assert_eq(t->syslog_tcp.n, 2);
	cr_assert_str_eq(t->syslog_tcp.v[1], "[::1]:514");
	cr_assert_str_eq(t->https.v[0], "127.0.0.1:8443");
	cr_assert_str_eq(t->tls_key, "/etc/duet/traps.key");
	cr_assert_eq(t->max_message_bytes, 480);
	cr_assert_eq(t->n_snmp_communities, 3);
	cr_assert_str_eq(t->snmp_communities[0], "public");
	cr_assert_str_eq(t->snmp_communities[1], "s3cret w1th space");
	cr_assert_str_eq(t->snmp_communities[2], "x");
	static const uint8_t engine[] = {0x80, 0x00, 0x1f, 0x88, 0x80, 0xc0, 0xff, 0xee};
	cr_assert_eq(t->snmp_engine_id_len, sizeof(engine));
	cr_assert_eq(memcmp(t->snmp_engine_id, engine, sizeof(engine)), 0);
	cr_assert_eq(cfg.sink.type, DUET_CONFIG_SINK_TCP);
	cr_assert_str_eq(cfg.sink.address, "127.0.0.1:6514");

	accepted(with_extra("[sink]\ntype = postgresql\nconninfo = host=/run/pg dbname=traps\n"
			    "table = _trap_log2\n"));
	cr_assert_eq(cfg.sink.type, DUET_CONFIG_SINK_POSTGRESQL);
	cr_assert_str_eq(cfg.sink.conninfo, "host=/run/pg dbname=traps");
	cr_assert_str_eq(cfg.sink.table, "_trap_log2");
}

Test(config_traps, ranges)
{
	refused(with_extra("[traps]\nwindow_ms = 999\nmax_message_bytes = 479\n"
			   "max_connections = 0\nudp_rcvbuf_bytes = 65535\nbatch_max = 10001\n"));
	cr_assert(has_error(&errs, 23, "key 'window_ms': 999 is out of range"));
	cr_assert(has_error(&errs, 24, "key 'max_message_bytes': 479 is out of range"));
	cr_assert(has_error(&errs, 25, "key 'max_connections': 0 is out of range"));
	cr_assert(has_error(&errs, 26, "key 'udp_rcvbuf_bytes': 65535 is out of range"));
	cr_assert(has_error(&errs, 27, "key 'batch_max': 10001 is out of range"));
	/* the byte bound holds at least one largest trap, at most 4 GiB - 1 */
	refused(with_extra("[traps]\nbacklog_max_bytes = 1048575\n"));
	cr_assert(has_error(&errs, 23, "key 'backlog_max_bytes': 1048575 is out of range"));
	refused(with_extra("[traps]\nbacklog_max_bytes = 4294967296\n"));
	cr_assert(has_error(&errs, 23, "key 'backlog_max_bytes'"));
	refused(with_extra("[sink]\ntype = kafka\n"));
	cr_assert(
	    has_error(&errs, 23, "key 'type': 'kafka' is not one of none, tcp, postgresql, relp"));
}

Test(config_traps, relp_sink_keys)
{
	accepted(with_extra("[sink]\ntype = relp\naddress = 127.0.0.1:2514\n"));
	cr_assert_eq(cfg.sink.type, DUET_CONFIG_SINK_RELP);
	cr_assert_str_eq(cfg.sink.address, "127.0.0.1:2514");
	cr_assert_eq(cfg.sink.window, 128);
	cr_assert_eq(cfg.sink.max_message_bytes, 8192);
	cr_assert_eq(cfg.sink.timeout_ms, 5000);

	accepted(with_extra("[sink]\ntype = relp\naddress = [::1]:2514\nwindow = 16\n"
			    "max_message_bytes = 65536\ntimeout_ms = 2000\n"));
	cr_assert_eq(cfg.sink.window, 16);
	cr_assert_eq(cfg.sink.max_message_bytes, 65536);
	cr_assert_eq(cfg.sink.timeout_ms, 2000);
}

Test(config_traps, relp_sink_refusals)
{
	refused(with_extra("[sink]\ntype = relp\n"));
	cr_assert(has_error(&errs, 23, "key 'type': relp needs [sink] address"));
	refused(with_extra("[sink]\ntype = relp\naddress = syslog.example:2514\n"));
	cr_assert(has_error(&errs, 24, "key 'address'"));
	refused(with_extra("[sink]\ntype = relp\naddress = 127.0.0.1:2514\nwindow = 0\n"
			   "max_message_bytes = 511\n"));
	cr_assert(has_error(&errs, 25, "key 'window': 0 is out of range"));
	cr_assert(has_error(&errs, 26, "key 'max_message_bytes': 511 is out of range"));
	refused(with_extra("[sink]\ntype = relp\naddress = 127.0.0.1:2514\nwindow = 4097\n"));
	cr_assert(has_error(&errs, 25, "key 'window': 4097 is out of range"));
	refused(with_extra("[sink]\ntype = relp\naddress = 127.0.0.1:2514\nack = none\n"));
	cr_assert(has_error(&errs, 25, "key 'ack': none is for type = tcp"));
	refused(with_extra("[sink]\ntype = tcp\naddress = 127.0.0.1:2514\nwindow = 8\n"));
	cr_assert(has_error(&errs, 25, "key 'window': only for type = relp"));
	refused(with_extra("[sink]\ntype = postgresql\nconninfo = dbname=t\n"
			   "max_message_bytes = 1024\n"));
	cr_assert(has_error(&errs, 25, "key 'max_message_bytes': only for type = relp"));
}

Test(config_traps, https_needs_cert_and_key)
{
	refused(with_extra("[traps]\nhttps = 127.0.0.1:8443\n"));
	cr_assert(has_error(&errs, 23, "key 'https': HTTPS needs [traps] tls_cert and tls_key"));
	refused(with_extra("[traps]\nhttps = 127.0.0.1:8443\ntls_cert = /etc/duet/t.pem\n"));
	cr_assert_eq(errs.n, 1);
	cr_assert(has_error(&errs, 23, "key 'https': HTTPS needs [traps] tls_key"));
	/* the files must exist when files are checked */
	int rc = load_files(with_files("[traps]\nhttps = 127.0.0.1:8443\n"
				       "tls_cert = /nonexistent/t.pem\ntls_key = /tmp\n"));
	cr_assert_eq(rc, DUET_EINVAL);
	cr_assert(has_error(&errs, 24, "key 'tls_cert': cannot read /nonexistent/t.pem"));
	cr_assert(has_error(&errs, 25, "key 'tls_key': /tmp is not a regular file"));
	cleanup();
}

Test(config_traps, sink_rules)
{
	refused(with_extra("[sink]\ntype = tcp\n"));
	cr_assert_eq(errs.n, 1);
	cr_assert(has_error(&errs, 23, "key 'type': tcp needs [sink] address"));
	refused(with_extra("[sink]\ntype = postgresql\n"));
	cr_assert(has_error(&errs, 23, "key 'type': postgresql needs [sink] conninfo"));
	refused(with_extra("[sink]\ntype = tcp\naddress = 127.0.0.1:1, 127.0.0.2:1\n"));
	cr_assert(has_error(&errs, 24, "key 'address': 2 addresses; the sink is one server"));
	refused(with_extra("[sink]\ntype = tcp\naddress = sink.example:6514\n"));
	cr_assert(has_error(&errs, 24, "'sink.example:6514' names a host; use a numeric address"));
	refused(with_extra("[sink]\ntable = Traps\n"));
	cr_assert(has_error(&errs, 23, "key 'table': 'Traps' is not a lower-case SQL name"));
	refused(with_extra("[sink]\ntable = 1traps\n"));
	cr_assert(has_error(&errs, 23, "'1traps' is not a lower-case SQL name"));
	refused(with_extra("[sink]\ntable = traps; drop\n"));
	cr_assert(has_error(&errs, 23, "is not a lower-case SQL name"));
	/* too long for the field: an error, never truncated */
	char text[256];
	snprintf(text, sizeof(text), "[sink]\ntable = %064d\n", 0);
	refused(with_extra(text));
	cr_assert(has_error(&errs, 23, "key 'table': longer than 63 bytes"));
}

Test(config_traps, bad_communities)
{
	refused(with_extra("[traps]\nsnmp_communities = public,,private\n"));
	cr_assert(has_error(&errs, 23, "key 'snmp_communities': empty community in the list"));
	refused(with_extra("[traps]\nsnmp_communities = public, private, public\n"));
	cr_assert(has_error(&errs, 23, "'public' is listed twice"));
	refused(with_extra("[traps]\nsnmp_communities = a,b,c,d,e,f,g,h,i\n"));
	cr_assert(has_error(&errs, 23, "more than 8 communities"));
	char text[256];
	snprintf(text, sizeof(text), "[traps]\nsnmp_communities = ok, %065d\n", 0);
	refused(with_extra(text));
	cr_assert(has_error(&errs, 23, "is longer than 64 bytes"));
	refused(with_extra("[traps]\nsnmp_communities = pub\tlic\n"));
	cr_assert(has_error(&errs, 23, "control character (byte 0x09)"));
	accepted(with_extra("[traps]\nsnmp_communities = a,b,c,d,e,f,g,h\n"));
	cr_assert_eq(cfg.traps.n_snmp_communities, 8);
}

Test(config_traps, engine_id)
{
	refused(with_extra("[traps]\nsnmp_engine_id = 80001f88\n"));
	cr_assert(has_error(&errs, 23, "is 4 bytes; an engine ID has 5 to 32"));
	refused(with_extra("[traps]\nsnmp_engine_id = 80001f888\n"));
	cr_assert(has_error(&errs, 23, "is not an even number of hex digits"));
	refused(with_extra("[traps]\nsnmp_engine_id = 0000000000\n"));
	cr_assert(has_error(&errs, 23, "is all zeros, which RFC 3411 reserves"));
	refused(with_extra("[traps]\nsnmp_engine_id = xyz\n"));
	cr_assert(has_error(&errs, 23, "key 'snmp_engine_id'"));
}

Test(config_traps, listeners_numeric_and_apart)
{
	refused(with_extra("[traps]\nsyslog_udp = loghost:514\n"));
	cr_assert(has_error(&errs, 23,
			    "key 'syslog_udp': 'loghost:514' names a host; use a numeric address"));
	/* syslog over TCP and HTTP on one port, a wildcard covering a host */
	refused(with_extra("[traps]\nsyslog_tcp = 127.0.0.1:514\nhttp = 0.0.0.0:514\n"));
	cr_assert(has_error(&errs, 24,
			    "key 'http': 0.0.0.0:514 takes the TCP port of [traps] syslog_tcp = "
			    "127.0.0.1:514"));
	refused(with_extra("[traps]\nsyslog_udp = 127.0.0.1:162\nsnmp_udp = [::]:162\n"));
	cr_assert(has_error(&errs, 24, "takes the UDP port of [traps] syslog_udp"));
	/* the peers' port */
	refused(with_extra("[traps]\nhttps = 127.0.0.2:7101\ntls_cert = /a\ntls_key = /b\n"));
	cr_assert(has_error(&errs, 23, "takes the TCP port of [node] listen = 127.0.0.2:7101"));
	refused(with_extra("[traps]\nsyslog_tcp = 0.0.0.0:514, 127.0.0.1:514\n"));
	cr_assert(has_error(&errs, 23, "127.0.0.1:514 takes the TCP port of [traps] syslog_tcp"));
	/* one port for UDP and TCP is normal (syslog on 514 both ways) */
	accepted(with_extra("[traps]\nsyslog_udp = 0.0.0.0:514\nsyslog_tcp = 0.0.0.0:514\n"));
	accepted(with_extra("[traps]\nsyslog_tcp = 127.0.0.1:514, [::1]:514\n"));
}

Test(config_traps, rules_that_span_keys)
{
	refused(with_extra("[traps]\nwindow_ms = 1000\nforward_delay_ms = 1000\n"));
	cr_assert(has_error(&errs, 24,
			    "[traps] forward_delay_ms (1000) must be less than window_ms (1000)"));
	refused(with_extra("[traps]\nforward_delay_ms = 40000\n"));
	cr_assert(has_error(&errs, 23, "forward_delay_ms (40000) must be less than window_ms"));
	refused(with_extra("[traps]\nbacklog_max = 10\n"));
	cr_assert(has_error(&errs, 23, "[traps] batch_max (1000) is more than backlog_max (10)"));
	/* a refused value is reported once, without rules tripping over it */
	refused(with_extra("[traps]\nwindow_ms = 10\n[sink]\ntype = tcp\naddress = x\n"));
	cr_assert_eq(errs.n, 2);
}

Test(config_traps, the_backlog_fits_the_map)
{
	/* defaults: 2.1 x 256 MiB + 256 MiB of audit + 96 MiB = 890 MiB of 16 GiB */
	accepted(BASE_CONFIG);
	cr_assert_eq(cfg.map_max_mib, 16384);
	cr_assert_eq(cfg.audit_max_bytes, 256u << 20);
	char small[4096], text[4096 + 64];
	snprintf(small, sizeof small, "%s",
		 replace(BASE_CONFIG, "name = node-a\n", "name = node-a\nmap_max_mib = 512\n"));
	refused(small);
	cr_assert_eq(errs.n, 1);
	cr_assert(has_error(&errs, 6,
			    "[traps] backlog_max_bytes (268435456) does not fit [node] map_max_mib "
			    "(512 MiB)"));
	cr_assert(has_error(&errs, 6, "raise map_max_mib to 890 on all three members"));
	/* 2.1 x 64 MiB + 256 MiB + 96 MiB = 487 MiB */
	snprintf(text, sizeof text, "%s[traps]\nbacklog_max_bytes = 67108864\n", small);
	accepted(text);
	snprintf(text, sizeof text, "%s[traps]\nbacklog_max_bytes = 100000000\n", small);
	refused(text);
	cr_assert(has_error(&errs, 24, "does not fit [node] map_max_mib"), "on the later key");
	/* the witness holds no backlog of its own (README: give it the data
	 * nodes' map); the audit chain still needs half the map at most */
	const char *witness = replace(small, "name = node-a\n", "name = w\n");
	accepted(witness);
	cr_assert_eq(cfg.map_max_mib, 512);
	refused(replace(witness, "map_max_mib = 512", "map_max_mib = 511"));
	cr_assert(has_error(
	    &errs, 6, "[node] audit_max_bytes (268435456) is over half of map_max_mib (511 MiB)"));
}

Test(config_traps, witness_refuses_traps_and_sink)
{
	const char *witness = replace(BASE_CONFIG, "name = node-a", "name = w");
	accepted(witness);
	cr_assert_eq(cfg.traps.syslog_udp.n, 0);
	cr_assert_eq(cfg.sink.type, DUET_CONFIG_SINK_NONE);

	char text[4096];
	snprintf(text, sizeof(text), "%s[traps]\nsyslog_udp = 127.0.0.1:514\n[sink]\ntype = tcp\n",
		 witness);
	refused(text);
	cr_assert_eq(errs.n, 2, "one error per section, nothing about their keys");
	cr_assert(has_error(&errs, 22,
			    "[traps]: only data nodes receive traps, and [member w] is kind = "
			    "witness"));
	cr_assert(has_error(&errs, 24, "[sink]: only data nodes receive traps"));
	/* even an empty section */
	snprintf(text, sizeof(text), "%s[traps]\n", witness);
	refused(text);
	cr_assert(has_error(&errs, 22, "only data nodes receive traps"));
}

/* ---- the HTTP token file -------------------------------------------------- */

Test(config_traps, token_file)
{
	cr_assert_eq(load_files(with_file_key("http_token_file", "s3cr3t-t0ken/+=\r\nignored\n")),
		     0);
	cr_assert_str_eq(cfg.traps.http_token, "s3cr3t-t0ken/+=", "first line, CR dropped");
	cleanup();
	cr_assert_eq(load_files(with_file_key("http_token_file", "no-newline")), 0);
	cr_assert_str_eq(cfg.traps.http_token, "no-newline");
	cleanup();

	/* not read when files are skipped (another machine's config) */
	accepted(with_extra("[traps]\nhttp_token_file = /nonexistent/token\n"));
	cr_assert_str_eq(cfg.traps.http_token, "");
	cr_assert_str_eq(cfg.traps.http_token_file, "/nonexistent/token");

	cr_assert_eq(load_files(with_files("[traps]\nhttp_token_file = /nonexistent/token\n")),
		     DUET_EINVAL);
	cr_assert_eq(errs.n, 1);
	cr_assert(has_error(&errs, 23,
			    "key 'http_token_file': cannot read /nonexistent/token: No such file"));
	cleanup();
	cr_assert_eq(load_files(with_file_key("http_token_file", "")), DUET_EINVAL);
	cr_assert(has_error(&errs, 23, "is empty; put the token there"));
	cleanup();
	cr_assert_eq(load_files(with_file_key("http_token_file", "\ntoken-on-line-2\n")),
		     DUET_EINVAL);
	cr_assert(has_error(&errs, 23, "is empty"));
	cleanup();
	cr_assert_eq(load_files(with_file_key("http_token_file", "two words\n")), DUET_EINVAL);
	cr_assert(has_error(&errs, 23, "has byte 0x20 at position 4"));
	cleanup();

	char token[300];
	memset(token, 'a', 256);
	token[256] = '\0';
	cr_assert_eq(load_files(with_file_key("http_token_file", token)), 0, "256 bytes fit");
	cr_assert_eq(strlen(cfg.traps.http_token), 256);
	cleanup();
	strcat(token, "a\n");
	cr_assert_eq(load_files(with_file_key("http_token_file", token)), DUET_EINVAL);
	cr_assert(has_error(&errs, 23, "is 257 bytes, more than 256"));
	cleanup();
}

/* ---- the SNMPv3 users file ------------------------------------------------ */

Test(config_traps, users_file)
{
	const char *users =
	    "# SNMPv3 users of the trap receiver\n"                                 /* 1 */
	    "\n"                                                                    /* 2 */
	    "createUser watcher\n"                                                  /* 3 */
	    "createUser -e 0x80001f8880c0ffee00 alarms SHA-256 authpass1 AES\n"     /* 4 */
	    "  createUser -e 80001F8880AABBCC01 alarms SHA \"pass with space\"\r\n" /* 5 */
	    "createUser legacy MD5 md5pass99 DES despass99\n"                       /* 6 */
	    "createUser big SHA-512 'abc' AES\n"                                    /* 7 bad */
	    "createUser strong SHA-512 Auth-Pass-512 AES Priv-Pass-512\n";          /* 8 */
	int rc = load_files(with_file_key("snmp_users_file", users));
	cr_assert_eq(rc, DUET_EINVAL);
	cr_assert_eq(errs.n, 1);
	cr_assert(has_error(&errs, 23, ":7: the authentication passphrase is 3 bytes"));
	cleanup();

	users = replace(users, "'abc'", "'it\\'s long enough'");
	rc = load_files(with_file_key("snmp_users_file", users));
	if (rc)
		dump_errors(&errs);
	cr_assert_eq(rc, 0);
	const struct duet_config_traps *t = &cfg.traps;
	cr_assert_eq(t->n_snmp_users, 6);
	const struct duet_config_snmp_user *u = t->snmp_users;
	cr_assert_str_eq(u[0].name, "watcher");
	cr_assert_eq(u[0].auth, DUET_CONFIG_SNMP_AUTH_NONE);
	cr_assert_eq(u[0].priv, DUET_CONFIG_SNMP_PRIV_NONE);
	cr_assert_eq(u[0].engine_id_len, 0, "any engine");

	static const uint8_t e1[] = {0x80, 0x00, 0x1f, 0x88, 0x80, 0xc0, 0xff, 0xee, 0x00};
	cr_assert_str_eq(u[1].name, "alarms");
	cr_assert_eq(u[1].engine_id_len, sizeof(e1));
	cr_assert_eq(memcmp(u[1].engine_id, e1, sizeof(e1)), 0);
	cr_assert_eq(u[1].auth, DUET_CONFIG_SNMP_AUTH_SHA256);
	cr_assert_eq(u[1].priv, DUET_CONFIG_SNMP_PRIV_AES128);
	cr_assert_str_eq(u[1].auth_pass, "authpass1");
	cr_assert_str_eq(u[1].priv_pass, "authpass1", "PRIVPASS defaults to AUTHPASS");

	cr_assert_str_eq(u[2].name, "alarms", "same name, another engine");
	cr_assert_eq(u[2].engine_id[8], 0x01);
	cr_assert_eq(u[2].auth, DUET_CONFIG_SNMP_AUTH_SHA1);
	cr_assert_str_eq(u[2].auth_pass, "pass with space");
	cr_assert_eq(u[2].priv, DUET_CONFIG_SNMP_PRIV_NONE);
	cr_assert_str_eq(u[2].priv_pass, "");

	cr_assert_eq(u[3].auth, DUET_CONFIG_SNMP_AUTH_MD5);
	cr_assert_eq(u[3].priv, DUET_CONFIG_SNMP_PRIV_DES);
	cr_assert_str_eq(u[3].priv_pass, "despass99");
	cr_assert_str_eq(u[4].auth_pass, "it's long enough");
	cr_assert_eq(u[5].auth, DUET_CONFIG_SNMP_AUTH_SHA512);
	cr_assert_str_eq(u[5].priv_pass, "Priv-Pass-512");
	cleanup();

	/* not read when files are skipped */
	accepted(with_extra("[traps]\nsnmp_users_file = /nonexistent/users\n"));
	cr_assert_eq(cfg.traps.n_snmp_users, 0);
	cr_assert_eq(load_files(with_files("[traps]\nsnmp_users_file = /nonexistent/users\n")),
		     DUET_EINVAL);
	cr_assert(has_error(&errs, 23, "key 'snmp_users_file': cannot read /nonexistent/users"));
	cleanup();
}

Test(config_traps, users_file_errors_with_line_numbers)
{
	const char *users = "createUser ok SHA goodpass1\n"                        /* 1 */
			    "createUser short SHA 1234567\n"                       /* 2 */
			    "createUser x SHA-999 goodpass1\n"                     /* 3 */
			    "createUser x SHA goodpass1 3DES\n"                    /* 4 */
			    "createUser x SHA\n"                                   /* 5 */
			    "createUser -e 0x1234 x SHA goodpass1\n"               /* 6 */
			    "createUser -l x SHA 0x1234\n"                         /* 7 */
			    "addUser x\n"                                          /* 8 */
			    "createUser x SHA \"unclosed\n"                        /* 9 */
			    "createUser x SHA goodpass1 AES goodpass2 extra\n"     /* 10 */
			    "createUser ok SHA otherpass\n"                        /* 11 */
			    "createUser 123456789012345678901234567890123 MD5 p\n" /* 12 */
			    "createUser\n"                                         /* 13 */
			    "createUser x SHA goodpass1 AES short\n";              /* 14 */
	const char *text = with_file_key("snmp_users_file", users);
	const char *path = key_file;
	cr_assert_eq(load_files(text), DUET_EINVAL);
	struct {
		int line;
		const char *why;
	} want[] = {
	    {2, "the authentication passphrase is 7 bytes; it must have 8 to 128"},
	    {3, "unknown authentication protocol 'SHA-999'"},
	    {4, "unknown privacy protocol '3DES' (DES or AES)"},
	    {5, "SHA needs an authentication passphrase"},
	    {6, "engine ID '0x1234' is 2 bytes"},
	    {7, "option '-l' is not supported"},
	    {8, "expected 'createUser', found 'addUser'"},
	    {9, "a \"-quoted word is not closed"},
	    {10, "unexpected 'extra' after the privacy passphrase"},
	    {11, "user 'ok' is already defined for this engine ID (line 1)"},
	    {12, "user name '123456789012345678901234567890123...' is longer than 32"},
	    {13, "createUser needs a user name"},
	    {14, "the privacy passphrase is 5 bytes"},
	};
	size_t n = sizeof(want) / sizeof(want[0]);
	cr_assert_eq(errs.n, n);
	for (size_t i = 0; i < n; i++) {
		char msg[512];
		snprintf(msg, sizeof(msg), "key 'snmp_users_file': %s:%d: %s", path, want[i].line,
			 want[i].why);
		cr_assert(has_error(&errs, 23, msg), "line %d", want[i].line);
	}
	/* printed, the users file and its line follow the config's */
	char out[8192];
	FILE *f = fmemopen(out, sizeof(out), "w");
	duet_config_errors_print(f, &errs);
	fclose(f);
	char line2[256];
	snprintf(line2, sizeof(line2), "test.ini:23: key 'snmp_users_file': %s:2: ", path);
	cr_assert(strstr(out, line2), "%s", out);
	cleanup();
}

Test(config_traps, too_many_users)
{
	char users[4096] = "";
	for (int i = 1; i <= DUET_CONFIG_MAX_SNMP_USERS; i++) {
		char one[64];
		snprintf(one, sizeof(one), "createUser user%d SHA password%d\n", i, i);
		strcat(users, one);
	}
	cr_assert_eq(load_files(with_file_key("snmp_users_file", users)), 0, "16 fit");
	cr_assert_eq(cfg.traps.n_snmp_users, 16);
	cr_assert_str_eq(cfg.traps.snmp_users[15].name, "user16");
	cleanup();

	strcat(users, "# a comment does not count\ncreateUser user17 SHA password17\n"
		      "createUser user18 SHA password18\n");
	const char *text = with_file_key("snmp_users_file", users);
	const char *path = key_file;
	cr_assert_eq(load_files(text), DUET_EINVAL);
	cr_assert_eq(errs.n, 1, "said once");
	char msg[256];
	snprintf(msg, sizeof(msg), "%s:18: more than 16 users", path);
	cr_assert(has_error(&errs, 23, msg));
	cleanup();
}

Test(config_traps, free_zeroes_the_secrets)
{
	cr_assert_eq(load_files(with_file_key("http_token_file", "tok3n\n")), 0);
	cr_assert_str_eq(cfg.traps.http_token, "tok3n");
	duet_config_free(&cfg);
	cr_assert_str_eq(cfg.traps.http_token, "");
	cleanup();
}
