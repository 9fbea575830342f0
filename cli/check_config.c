/* SPDX-License-Identifier: MIT */
/*
 * check_config.c - `duetctl check-config`: load a config file the way the
 * daemons will (config.h) and say what it resolves to, or every error in it.
 *
 * The text summary is for a person checking a file before a deployment; the
 * --json form is for tools (configuration management, CI) and always parses,
 * whatever bytes the file held. --print-keys prints the key table of
 * config.c: docs/configuration.md's table is generated from it (scripts/config-keys.sh).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "out.h"
#include "duet/config.h"
#include "duet/err.h"
#include "duet/pg.h"
#include "json.h"

#define MAX_RAFT_SETTINGS 32

void cmd_check_config_help(void)
{
	printf("usage: duetctl check-config [FILE | -c FILE] [--json] [--no-files]\n"
	       "       duetctl check-config --print-keys [--markdown]\n"
	       "\n"
	       "Checks a duetd / duet-witness config file: syntax, every key and value, the\n"
	       "three members (two kind = data, one kind = witness), unique ids and addresses,\n"
	       "the [raft] timing rules, and that the TLS files exist and are readable (their\n"
	       "content is not parsed). A valid file is shown as it resolved: the members and\n"
	       "every section the member reads, defaults applied (a conninfo password as ***).\n"
	       "Without FILE: $DUET_CONFIG, else /etc/duet/duet.ini.\n"
	       "\n"
	       "  -c, --config FILE  the file to check (or FILE alone)\n"
	       "  --json        print the result as one JSON object:\n"
	       "                {\"ok\":true,\"file\":...,\"cluster\":{...},\"self\":{...},...,\n"
	       "                 \"sections\":{\"node\":{KEY:VALUE,...},\"pg\":{...},...}}\n"
	       "                (every value there a string, as written in a file) or\n"
	       "                {\"ok\":false,\"file\":...,\"errors\":[{\"file\":...,\"line\":N,"
	       "\"message\":...}],...,\n"
	       "                 \"error\":{\"code\":\"config\",\"message\":...}}\n"
	       "                (\"line\" is null for an error about the file as a whole)\n"
	       "  --no-files    do not check the TLS files (checking a config on another machine)\n"
	       "  --print-keys  print every section and key with its default and meaning\n"
	       "  --markdown    with --print-keys: as a Markdown table (docs/configuration.md's)\n"
	       "\n"
	       "Exit status: 0 the config is valid (summary on stdout), 1 it is not (every\n"
	       "error on stderr, one per line, as FILE:LINE: reason; with --json the result\n"
	       "is on stdout either way), 2 usage error.\n"
	       "\n"
	       "Keys:\n\n");
	duet_config_print_keys(stdout);
}

static const char *kind_name(uint8_t kind)
{
	return kind == DUET_MEMBER_DATA ? "data" : kind == DUET_MEMBER_WITNESS ? "witness" : "?";
}

static void print_addrs(FILE *out, const char (*v)[DUET_ADDR_MAX], unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		fprintf(out, "%s%s", i ? ", " : "", v[i]);
}

/* A conninfo's password is not shown: check-config output gets pasted. */
static const char *shown_value(const char *key, const char *value, char *buf, size_t cap)
{
	if (!strstr(key, "conninfo"))
		return value;
	const char *p = strstr(value, "password");
	if (!p)
		return value;
	const char *eq = p + strlen("password");
	while (*eq == ' ')
		eq++;
	if (*eq != '=')
		return value;
	eq++;
	while (*eq == ' ')
		eq++;
	const char *end = eq;
	if (*end == '\'') {
		for (end++; *end && *end != '\''; end++)
			if (*end == '\\' && end[1])
				end++;
		if (*end)
			end++;
	} else {
		while (*end && *end != ' ')
			end++;
	}
	snprintf(buf, cap, "%.*s***%s", (int)(eq - value), value, end);
	return buf;
}

struct section_print {
	FILE *out;
	const char *section; /* the one being printed */
	json_t *sections;    /* --json: {section: {key: value}} */
	int failed;
};

static void on_key(void *ud, const char *section, const char *key, const char *value)
{
	struct section_print *sp = ud;
	static char masked[DUET_CONFIG_MAX_LINE + 1];
	value = shown_value(key, value, masked, sizeof masked);
	if (sp->sections) {
		json_t *sec = json_object_get(sp->sections, section);
		if (!sec) {
			sec = json_object();
			if (json_object_set_new(sp->sections, section, sec) != 0)
				sec = NULL;
		}
		if (!sec || json_object_set_new(sec, key, duetctl_json_string(value)) != 0)
			sp->failed = 1;
		return;
	}
	if (!sp->section || strcmp(sp->section, section) != 0) {
		fprintf(sp->out, "[%s]\n", section);
		sp->section = section;
	}
	fprintf(sp->out, "  %-26s %s\n", key, value[0] ? value : "(none)");
}

static void print_text(const char *path, const struct duet_config *cfg, bool files_checked)
{
	const struct duet_member *self = duet_config_member(cfg, cfg->self_id);
	printf("%s: valid\n", path);
	printf("cluster       %s (id %016" PRIx64 ")\n", cfg->cluster_name, cfg->cluster_id);
	printf("self          %s (id %" PRIu32 ", %s)\n", cfg->node_name, cfg->self_id,
	       kind_name(self ? self->kind : 0));
	printf("members\n");
	for (uint32_t i = 0; i < cfg->membership.n; i++) {
		const struct duet_member *m = &cfg->membership.members[i];
		printf("  %-11s id %-10" PRIu32 " %-8s ", m->name, m->id, kind_name(m->kind));
		print_addrs(stdout, (const char(*)[DUET_ADDR_MAX])m->addrs, m->n_addrs);
		printf("%s\n", m->id == cfg->self_id ? "  (self)" : "");
	}
	if (!files_checked)
		printf("tls files     not checked (--no-files)\n");
	printf("\nEvery section this %s reads, defaults applied:\n",
	       cfg->self_kind == DUET_MEMBER_WITNESS ? "witness" : "data node");
	struct section_print sp = {.out = stdout};
	if (duet_config_each(cfg, on_key, &sp) != 0)
		printf("(out of memory listing the sections)\n");
}

static json_t *json_addrs(const char (*v)[DUET_ADDR_MAX], unsigned n)
{
	json_t *a = json_array();
	for (unsigned i = 0; a && i < n; i++)
		json_array_append_new(a, duetctl_json_string(v[i]));
	return a;
}

static int print_json_ok(const char *path, const struct duet_config *cfg, bool files_checked)
{
	char hex[17];
	snprintf(hex, sizeof(hex), "%016" PRIx64, cfg->cluster_id);
	const struct duet_member *self = duet_config_member(cfg, cfg->self_id);
	json_t *members = json_array();
	for (uint32_t i = 0; members && i < cfg->membership.n; i++) {
		const struct duet_member *m = &cfg->membership.members[i];
		json_array_append_new(
		    members,
		    json_pack("{s:o, s:I, s:s, s:I, s:o}", "name", duetctl_json_string(m->name),
			      "id", (json_int_t)m->id, "kind", kind_name(m->kind), "incarnation",
			      (json_int_t)m->incarnation, "addresses",
			      json_addrs((const char(*)[DUET_ADDR_MAX])m->addrs, m->n_addrs)));
	}
	json_t *raft = json_object();
	struct duet_config_setting s[MAX_RAFT_SETTINGS];
	size_t n = duet_config_raft_settings(cfg, s, MAX_RAFT_SETTINGS);
	for (size_t i = 0; raft && i < n && i < MAX_RAFT_SETTINGS; i++)
		json_object_set_new(raft, s[i].key, json_integer(s[i].value));
	struct section_print sp = {.sections = json_object()};
	if (!sp.sections || duet_config_each(cfg, on_key, &sp) != 0)
		sp.failed = 1;
	json_error_t je;
	json_t *o = json_pack_ex(
	    &je, 0,
	    "{s:b, s:o, s:{s:o, s:s}, s:{s:o, s:I, s:s}, s:{s:o, s:o, s:s, s:s, s:o}, s:o,"
	    " s:{s:o, s:o, s:o, s:b}, s:o, s:o}",
	    "ok", 1, "file", duetctl_json_string(path), "cluster", "name",
	    duetctl_json_string(cfg->cluster_name), "id", hex, "self", "name",
	    duetctl_json_string(cfg->node_name), "id", (json_int_t)cfg->self_id, "kind",
	    kind_name(self ? self->kind : 0), "node", "data_dir",
	    duetctl_json_string(cfg->data_dir), "admin_socket",
	    duetctl_json_string(cfg->admin_socket), "log_level",
	    duet_log_level_name(cfg->log_level), "log_target",
	    cfg->log_target == DUET_LOG_SYSLOG ? "syslog" : "stderr", "listen",
	    json_addrs((const char(*)[DUET_ADDR_MAX])cfg->listen.v, cfg->listen.n), "members",
	    members, "tls", "ca", duetctl_json_string(cfg->tls_ca), "cert",
	    duetctl_json_string(cfg->tls_cert), "key", duetctl_json_string(cfg->tls_key),
	    "files_checked", files_checked, "raft", raft, "sections", sp.sections);
	int rc = o && !sp.failed ? duetctl_print_json(o) : -1;
	json_decref(o);
	return rc;
}

static int print_json_errors(const struct duet_config_errors *errs)
{
	json_t *list = json_array();
	for (unsigned i = 0; list && i < errs->n; i++)
		json_array_append_new(
		    list,
		    json_pack("{s:o, s:o, s:o}", "file", duetctl_json_string(errs->file), "line",
			      errs->v[i].line > 0 ? json_integer(errs->v[i].line) : json_null(),
			      "message", duetctl_json_string(errs->v[i].message)));
	json_t *o =
	    json_pack("{s:b, s:o, s:o, s:I}", "ok", 0, "file", duetctl_json_string(errs->file),
		      "errors", list, "errors_not_shown", (json_int_t)errs->dropped);
	int rc = o ? duetctl_print_json(o) : -1;
	json_decref(o);
	return rc;
}

/* [pg] conninfo as actions/pg.c will take it: it must parse, and host names
 * are resolved off duetd's loop (uv_getaddrinfo) for at most 8 host=
 * entries. A name is fine but noted: each connect depends on the resolver
 * within [pg] timeout_ms. Returns 0 or DUET_EINVAL (error added). */
static int check_pg_conninfo(const struct duet_config *cfg, struct duet_config_errors *errs,
			     bool json)
{
	const char *ci = cfg->act.pg_conninfo;
	char why[200], name[128] = "";
	if (!ci[0])
		return 0;
	int rc = duet_pg_conninfo_check(ci, why, sizeof why);
	if (rc == 0)
		rc = duet_pg_conninfo_hosts(ci, name, sizeof name);
	else
		snprintf(errs->v[0].message, sizeof errs->v[0].message,
			 "[pg] conninfo does not parse: %s", why);
	if (rc == DUET_EINVAL && duet_pg_conninfo_check(ci, NULL, 0) == 0)
		snprintf(errs->v[0].message, sizeof errs->v[0].message,
			 "[pg] conninfo: more than 8 host= entries with a host name among them; "
			 "duetd resolves names itself (off its loop) for at most 8: give numeric "
			 "addresses (host=10.0.0.1,... or hostaddr=) or fewer hosts");
	if (rc == DUET_EINVAL) {
		errs->v[0].line = 0;
		errs->n = 1;
		errs->dropped = 0;
		return DUET_EINVAL;
	}
	if (rc == 1 && !json)
		printf("note: [pg] conninfo names host '%s': duetd resolves it off its loop before "
		       "each connect (within [pg] timeout_ms); host=127.0.0.1, hostaddr= or a "
		       "socket directory (host=/run/postgresql) needs no resolver\n",
		       name);
	return 0;
}

int cmd_check_config(int argc, char **argv)
{
	bool json = false, no_files = false, print_keys = false, markdown = false;
	const char *path = NULL;
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'}, {"json", no_argument, NULL, 'j'},
	    {"no-files", no_argument, NULL, 'n'},     {"print-keys", no_argument, NULL, 'p'},
	    {"markdown", no_argument, NULL, 'm'},     {NULL, 0, NULL, 0},
	};
	int opt;
	while ((opt = getopt_long(argc, argv, DUETCTL_SHORTOPTS("c:"), opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			if (path)
				return duetctl_usage_error("one FILE only (got '%s' and '%s')",
							   path, optarg);
			path = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'n':
			no_files = true;
			break;
		case 'p':
			print_keys = true;
			break;
		case 'm':
			markdown = true;
			break;
		default:
			return duetctl_bad_option(opt, argv);
		}
	}
	for (int i = optind; i < argc; i++) {
		if (path)
			return duetctl_usage_error("one FILE only (got '%s' and '%s')", path,
						   argv[i]);
		path = argv[i];
	}
	if (print_keys) {
		if (path || json || no_files)
			return duetctl_usage_error(
			    "--print-keys takes no FILE and no other option but --markdown");
		if (markdown)
			duet_config_print_keys_markdown(stdout);
		else
			duet_config_print_keys(stdout);
		return DUETCTL_OK;
	}
	if (markdown)
		return duetctl_usage_error("--markdown goes with --print-keys");
	path = duet_config_path(path);

	static struct duet_config cfg;
	static struct duet_config_errors errs;
	int rc = duet_config_load(path, no_files ? DUET_CONFIG_SKIP_FILES : 0, &cfg, &errs);
	if (rc == 0 && check_pg_conninfo(&cfg, &errs, json) != 0) {
		duet_config_free(&cfg);
		rc = DUET_EINVAL;
	}
	if (rc == 0) {
		int prc = json ? print_json_ok(path, &cfg, !no_files) : 0;
		if (!json)
			print_text(path, &cfg, !no_files);
		duet_config_free(&cfg);
		if (prc != 0) {
			duetctl_err("out of memory");
			return DUETCTL_FAILED;
		}
		return DUETCTL_OK;
	}
	if (errs.n == 0) /* only an allocation failure reports nothing itself */
		snprintf(errs.v[errs.n++].message, sizeof(errs.v[0].message), "cannot check: %s",
			 duet_strerror(rc));
	duetctl_config_errors(&errs);
	fprintf(stderr, "%s: invalid (%u error%s)\n", path, errs.n + errs.dropped,
		errs.n + errs.dropped == 1 ? "" : "s");
	if (json)
		print_json_errors(&errs);
	return DUETCTL_FAILED;
}
