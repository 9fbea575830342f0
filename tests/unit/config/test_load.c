/* SPDX-License-Identifier: MIT */
/*
 * test_load.c - valid configs load, and load into what they say: the
 * examples, defaults, overrides, the dialect (comments, CRLF, BOM,
 * "key: value"), the TLS file check, loading from a path.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "duet/err.h"
#include "helpers.h"

static void load_example(const char *name, struct duet_config *cfg)
{
	struct duet_config_errors errs;
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", DUET_EXAMPLES_DIR, name);
	int rc = duet_config_load(path, DUET_CONFIG_SKIP_FILES, cfg, &errs);
	if (rc != 0)
		dump_errors(&errs);
	cr_assert_eq(rc, 0, "%s: %d", name, rc);
	cr_assert_eq(errs.n, 0);
}

Test(config_load, examples_are_valid)
{
	struct duet_config cfg;
	const char *names[] = {"node-a.ini", "node-b.ini", "witness.ini"};
	uint32_t ids[] = {1, 2, 3};
	uint8_t kinds[] = {DUET_MEMBER_DATA, DUET_MEMBER_DATA, DUET_MEMBER_WITNESS};
	for (int i = 0; i < 3; i++) {
		load_example(names[i], &cfg);
		cr_assert_str_eq(cfg.cluster_name, "demo");
		cr_assert_eq(cfg.cluster_id, 0x00c0ffee00c0ffeeull);
		cr_assert_eq(cfg.self_id, ids[i]);
		cr_assert_eq(cfg.self_kind, kinds[i]);
		cr_assert_eq(cfg.raft.self_id, ids[i]);
		cr_assert_eq(cfg.membership.n, 3);
		for (int m = 0; m < 3; m++) {
			cr_assert_eq(cfg.membership.members[m].incarnation, 1);
			cr_assert_eq(cfg.membership.members[m].n_addrs, 2, "redundant links");
		}
		/* listen defaults to the member's own addresses */
		cr_assert_eq(cfg.listen.n, 2);
		cr_assert_str_eq(cfg.listen.v[0], cfg.membership.members[i].addrs[0]);
		cr_assert_str_eq(cfg.listen.v[1], cfg.membership.members[i].addrs[1]);
		char want[64];
		snprintf(want, sizeof(want), "/var/lib/duet/%s/admin.sock", cfg.node_name);
		cr_assert_str_eq(cfg.admin_socket, want);
		char why[200];
		cr_assert_eq(raft_config_check(&cfg.raft, why, sizeof(why)), 0, "%s", why);
		duet_config_free(&cfg);
	}
}

Test(config_load, production_examples_are_valid)
{
	struct duet_config cfg;
	const char *names[] = {"production/node-a.ini", "production/node-b.ini",
			       "production/witness.ini"};
	for (int i = 0; i < 3; i++) {
		load_example(names[i], &cfg);
		cr_assert_eq(cfg.membership.members[i].n_addrs, 2, "redundant links");
		if (cfg.self_kind == DUET_MEMBER_DATA) {
			cr_assert_neq(cfg.act.pg_conninfo[0], 0, "%s manages PostgreSQL", names[i]);
			cr_assert_str_eq(cfg.act.fip_address, "10.0.0.100/24");
			cr_assert_eq(cfg.act.fence_method, DUET_CONFIG_FENCE_IPMI);
			cr_assert_neq(cfg.act.manager_start_command[0], 0);
			/* traps on the node's own first address, delivered to PostgreSQL */
			const char *self = cfg.membership.members[i].addrs[0];
			char want[64];
			snprintf(want, sizeof(want), "%.*s:514", (int)(strrchr(self, ':') - self),
				 self);
			cr_assert_str_eq(want, cfg.traps.syslog_udp.v[0]);
			cr_assert_eq(cfg.traps.https.n, 1);
			cr_assert_eq(cfg.traps.n_snmp_communities, 1);
			cr_assert_eq(cfg.sink.type, DUET_CONFIG_SINK_POSTGRESQL);
		} else {
			cr_assert_eq(cfg.traps.syslog_udp.n, 0, "the witness receives no traps");
		}
		duet_config_free(&cfg);
	}
	/* the loopback examples manage nothing on the machine they run on */
	load_example("node-a.ini", &cfg);
	cr_assert_str_eq(cfg.act.pg_conninfo, "");
	cr_assert_str_eq(cfg.act.fip_address, "");
	duet_config_free(&cfg);
}

Test(config_load, defaults)
{
	struct duet_config cfg;
	struct duet_config_errors errs;
	cr_assert_eq(load_text(BASE_CONFIG, &cfg, &errs), 0);
	struct raft_config def;
	raft_config_default(&def);
	def.self_id = 1;
	cr_assert_str_eq(cfg.node_name, "node-a");
	cr_assert_str_eq(cfg.data_dir, "/var/lib/duet");
	cr_assert_str_eq(cfg.admin_socket, "/var/lib/duet/admin.sock");
	cr_assert_eq(cfg.log_level, DUET_LOG_INFO);
	cr_assert_eq(cfg.log_target, DUET_LOG_STDERR);
	cr_assert_eq(memcmp(&cfg.raft, &def, sizeof(def)), 0, "raft defaults");
	cr_assert_str_eq(cfg.membership.members[2].name, "w");
	cr_assert_eq(cfg.membership.members[2].kind, DUET_MEMBER_WITNESS);
	cr_assert_str_eq(cfg.tls_key, "/etc/duet/a.key");
	/* what the config resolves to is a membership the codec accepts */
	uint8_t buf[2048];
	cr_assert_gt(duet_membership_encode(&cfg.membership, buf, sizeof(buf)), 0);
}

Test(config_load, overrides)
{
	struct duet_config cfg;
	struct duet_config_errors errs;
	const char *text = with_extra("[raft]\n"
				      "election_timeout_min_ms = 2000\n"
				      "election_timeout_max_ms = 3000\n"
				      "max_inflight = 8\n");
	text = replace(text, "[node]\n",
		       "[node]\ndata_dir = /srv/duet/\nlog_level = DEBUG\n"
		       "log_target = syslog\nlisten = 0.0.0.0:7101, [::]:7101\n");
	int rc = load_text(text, &cfg, &errs);
	if (rc)
		dump_errors(&errs);
	cr_assert_eq(rc, 0);
	cr_assert_str_eq(cfg.data_dir, "/srv/duet/");
	cr_assert_str_eq(cfg.admin_socket, "/srv/duet/admin.sock");
	cr_assert_eq(cfg.log_level, DUET_LOG_DEBUG);
	cr_assert_eq(cfg.log_target, DUET_LOG_SYSLOG);
	cr_assert_eq(cfg.listen.n, 2);
	cr_assert_str_eq(cfg.listen.v[1], "[::]:7101");
	cr_assert_eq(cfg.raft.election_timeout_min_ms, 2000);
	cr_assert_eq(cfg.raft.max_inflight, 8);
	/* transfer_timeout_ms follows election_timeout_min_ms unless set */
	cr_assert_eq(cfg.raft.transfer_timeout_ms, 2000);

	struct duet_config_setting s[32];
	size_t n = duet_config_raft_settings(&cfg, s, 32);
	cr_assert_eq(n, 12, "every raft_config timing and limit is a key");
	cr_assert_str_eq(s[0].key, "election_timeout_min_ms");
	cr_assert_eq(s[0].value, 2000);
}

Test(config_load, admin_socket_explicit)
{
	struct duet_config cfg;
	struct duet_config_errors errs;
	const char *text =
	    replace(BASE_CONFIG, "[node]\n", "[node]\nadmin_socket = /run/duet.sock\n");
	cr_assert_eq(load_text(text, &cfg, &errs), 0);
	cr_assert_str_eq(cfg.admin_socket, "/run/duet.sock");
}

Test(config_load, dialect)
{
	/* comments (; and # at line start, " ;" inline), CRLF, a BOM, indented
	 * keys, "key: value", blank lines, case-insensitive choices */
	const char *text = "\xEF\xBB\xBF; a comment\r\n"
			   "# another\r\n"
			   "\r\n"
			   "[cluster]\r\n"
			   "  name: demo ; inline comment\r\n"
			   "\tid = 00C0FFEE00C0FFEE\r\n"
			   "[node]\r\nname = w\r\n"
			   "[member node-a]\r\nid = 1\r\nkind = Data\r\naddress = 192.0.2.1:1\r\n"
			   "[member node-b]\r\nid = 2\r\nkind = data\r\naddress = 192.0.2.2:1\r\n"
			   "[ member   w ]\r\nid = 4294967295\r\nkind = witness\r\naddress = "
			   "[fe80::1]:9\r\n"
			   "[tls]\r\nca = /a\r\ncert = /b\r\nkey = /c";
	struct duet_config cfg;
	struct duet_config_errors errs;
	int rc = load_text(text, &cfg, &errs);
	if (rc)
		dump_errors(&errs);
	cr_assert_eq(rc, 0);
	cr_assert_str_eq(cfg.cluster_name, "demo");
	cr_assert_eq(cfg.cluster_id, 0x00c0ffee00c0ffeeull);
	cr_assert_eq(cfg.self_id, 4294967295u);
	cr_assert_eq(cfg.self_kind, DUET_MEMBER_WITNESS);
	cr_assert_str_eq(cfg.tls_key, "/c");
}

Test(config_load, tls_files_checked_unless_skipped)
{
	char ca[64], cert[64];
	snprintf(ca, sizeof(ca), "%s", write_temp("ca"));
	snprintf(cert, sizeof(cert), "%s", write_temp("cert"));
	char tls[256];
	snprintf(tls, sizeof(tls), "ca = %s\ncert = %s\nkey = /nonexistent/duet.key\n", ca, cert);
	const char *text =
	    replace(BASE_CONFIG,
		    "ca = /etc/duet/ca.pem\ncert = /etc/duet/a.pem\nkey = /etc/duet/a.key\n", tls);
	struct duet_config cfg;
	struct duet_config_errors errs;
	int rc = duet_config_load_buffer("t.ini", text, strlen(text), 0, &cfg, &errs);
	cr_assert_eq(rc, DUET_EINVAL);
	cr_assert_eq(errs.n, 1);
	cr_assert(has_error(&errs, 21, "key 'key': cannot read /nonexistent/duet.key"));
	cr_assert_eq(duet_config_load_buffer("t.ini", text, strlen(text), DUET_CONFIG_SKIP_FILES,
					     &cfg, &errs),
		     0);

	/* a directory is not a certificate */
	text = replace(text, "key = /nonexistent/duet.key", "key = /tmp");
	cr_assert_eq(duet_config_load_buffer("t.ini", text, strlen(text), 0, &cfg, &errs),
		     DUET_EINVAL);
	cr_assert(has_error(&errs, 21, "not a regular file"));
	unlink(ca);
	unlink(cert);
}

Test(config_load, from_path)
{
	char path[64];
	snprintf(path, sizeof(path), "%s", write_temp(BASE_CONFIG));
	struct duet_config cfg;
	struct duet_config_errors errs;
	cr_assert_eq(duet_config_load(path, DUET_CONFIG_SKIP_FILES, &cfg, &errs), 0);
	cr_assert_str_eq(errs.file, path);
	unlink(path);

	cr_assert_eq(duet_config_load("/nonexistent/duet.ini", 0, &cfg, &errs), -ENOENT);
	cr_assert_eq(errs.n, 1);
	cr_assert(has_error(&errs, 0, "cannot open: No such file or directory"));
	cr_assert_str_eq(errs.file, "/nonexistent/duet.ini");
}

Test(config_load, print_keys_lists_every_key)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	duet_config_print_keys_markdown(f);
	fclose(f);
	const char *want[] = {"| `[cluster]` | `id` | *required*",
			      "| `[node]` | `data_dir` | `/var/lib/duet` |",
			      "| `[node]` | `admin_socket` | &lt;data_dir&gt;/admin.sock |",
			      "| `[member NAME]` | `kind` | *required*",
			      "| `[raft]` | `lease_ms` | `500` |",
			      "| `[raft]` | `max_uncommitted_entries` | `65536` |",
			      "| `[tls]` | `key` | *required*"};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		cr_assert(strstr(buf, want[i]), "missing: %s\n%s", want[i], buf);
	free(buf);
}

static char *keys_text(uint8_t kind, bool markdown)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (markdown)
		duet_config_print_keys_markdown(f);
	else
		duet_config_print_keys_for(f, kind);
	fclose(f);
	return buf;
}

/* The default of [pg] peer_conninfo is printed whole (it was cut at 63
 * bytes), and the witness's --help lists only the sections it reads. */
Test(config_load, print_keys_whole_defaults_and_witness_sections)
{
	const char *def =
	    "host=<the other data member's address> port=5432 user=postgres dbname=postgres";
	char *all = keys_text(0, false);
	cr_assert(strstr(all, def), "peer_conninfo default cut:\n%s", all);
	cr_assert(strstr(all, "[pg]\n") && strstr(all, "[http]\n"));
	char *md = keys_text(0, true);
	cr_assert(strstr(md, "host=&lt;the other data member's address&gt; port=5432 user=postgres "
			     "dbname=postgres |"),
		  "%s", md);
	char *w = keys_text(DUET_MEMBER_WITNESS, false);
	const char *reads[] = {"[cluster]\n", "[node]\n", "[member NAME]\n", "[tls]\n", "[raft]\n"};
	const char *not_read[] = {"[pg]\n",     "[fip]\n",   "[fence]\n", "[manager]\n",
				  "[health]\n", "[traps]\n", "[sink]\n",  "[http]\n"};
	for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++)
		cr_assert(strstr(w, reads[i]), "witness help lacks %s", reads[i]);
	for (size_t i = 0; i < sizeof not_read / sizeof not_read[0]; i++)
		cr_assert(!strstr(w, not_read[i]), "witness help lists %s", not_read[i]);
	free(all);
	free(md);
	free(w);
}
