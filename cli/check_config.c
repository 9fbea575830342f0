/*
 * check_config.c - `duetctl check-config`: load a config file the way the
 * daemons will (config.h) and say what it resolves to, or every error in it.
 *
 * The text summary is for a person checking a file before a deployment; the
 * --json form is for tools (configuration management, CI) and always parses,
 * whatever bytes the file held. --print-keys prints the key table of
 * config.c: the README's table is generated from it (scripts/config-keys.sh).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "duet/config.h"
#include "duet/err.h"
#include "duet/pg.h"
#include "json.h"

#define MAX_RAFT_SETTINGS 32

void cmd_check_config_help(void)
{
	printf(
	    "usage: duetctl check-config FILE [--json] [--no-files]\n"
	    "       duetctl check-config --print-keys [--markdown]\n"
	    "\n"
	    "Checks a duetd / duet-witness config file: syntax, every key and value, the\n"
	    "three members (two kind = data, one kind = witness), unique ids and addresses,\n"
	    "the [raft] timing rules, and that the TLS files exist and are readable (their\n"
	    "content is not parsed).\n"
	    "\n"
	    "  --json        print the result as one JSON object:\n"
	    "                {\"ok\":true,\"file\":...,\"cluster\":{...},\"self\":{...},...} or\n"
	    "                {\"ok\":false,\"file\":...,\"errors\":[{\"file\":...,\"line\":N,"
	    "\"message\":...}],...}\n"
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

static void print_text(const char *path, const struct duet_config *cfg, bool files_checked)
{
	const struct duet_member *self = duet_config_member(cfg, cfg->self_id);
	printf("%s: valid\n", path);
	printf("cluster       %s (id %016" PRIx64 ")\n", cfg->cluster_name, cfg->cluster_id);
	printf("self          %s (id %" PRIu32 ", %s)\n", cfg->node_name, cfg->self_id,
	       kind_name(self ? self->kind : 0));
	printf("data_dir      %s\n", cfg->data_dir);
	printf("admin_socket  %s\n", cfg->admin_socket);
	printf("log           %s to %s\n", duet_log_level_name(cfg->log_level),
	       cfg->log_target == DUET_LOG_SYSLOG ? "syslog" : "stderr");
	printf("listen        ");
	print_addrs(stdout, (const char(*)[DUET_ADDR_MAX])cfg->listen.v, cfg->listen.n);
	printf("\nmembers\n");
	for (uint32_t i = 0; i < cfg->membership.n; i++) {
		const struct duet_member *m = &cfg->membership.members[i];
		printf("  %-11s id %-10" PRIu32 " %-8s ", m->name, m->id, kind_name(m->kind));
		print_addrs(stdout, (const char(*)[DUET_ADDR_MAX])m->addrs, m->n_addrs);
		printf("%s\n", m->id == cfg->self_id ? "  (self)" : "");
	}
	printf("tls           ca %s\n              cert %s\n              key %s\n", cfg->tls_ca,
	       cfg->tls_cert, cfg->tls_key);
	if (!files_checked)
		printf("              (files not checked: --no-files)\n");
	struct duet_config_setting s[MAX_RAFT_SETTINGS];
	size_t n = duet_config_raft_settings(cfg, s, MAX_RAFT_SETTINGS);
	printf("raft\n");
	for (size_t i = 0; i < n && i < MAX_RAFT_SETTINGS; i++)
		printf("  %-24s %" PRIu32 "\n", s[i].key, s[i].value);
}

static void json_addrs(FILE *out, const char (*v)[DUET_ADDR_MAX], unsigned n)
{
	fputc('[', out);
	for (unsigned i = 0; i < n; i++) {
		if (i)
			fputc(',', out);
		json_str(out, v[i]);
	}
	fputc(']', out);
}

static void print_json_ok(const char *path, const struct duet_config *cfg, bool files_checked)
{
	FILE *o = stdout;
	char hex[17];
	snprintf(hex, sizeof(hex), "%016" PRIx64, cfg->cluster_id);
	fputs("{\"ok\":true,", o);
	json_key(o, "file");
	json_str(o, path);
	fputs(",\"cluster\":{", o);
	json_key(o, "name");
	json_str(o, cfg->cluster_name);
	fputs(",\"id\":", o);
	json_str(o, hex);
	fputs("},\"self\":{\"name\":", o);
	json_str(o, cfg->node_name);
	const struct duet_member *self = duet_config_member(cfg, cfg->self_id);
	fprintf(o, ",\"id\":%" PRIu32 ",\"kind\":", cfg->self_id);
	json_str(o, kind_name(self ? self->kind : 0));
	fputs("},\"node\":{\"data_dir\":", o);
	json_str(o, cfg->data_dir);
	fputs(",\"admin_socket\":", o);
	json_str(o, cfg->admin_socket);
	fputs(",\"log_level\":", o);
	json_str(o, duet_log_level_name(cfg->log_level));
	fputs(",\"log_target\":", o);
	json_str(o, cfg->log_target == DUET_LOG_SYSLOG ? "syslog" : "stderr");
	fputs(",\"listen\":", o);
	json_addrs(o, (const char(*)[DUET_ADDR_MAX])cfg->listen.v, cfg->listen.n);
	fputs("},\"members\":[", o);
	for (uint32_t i = 0; i < cfg->membership.n; i++) {
		const struct duet_member *m = &cfg->membership.members[i];
		fputs(i ? ",{\"name\":" : "{\"name\":", o);
		json_str(o, m->name);
		fprintf(o, ",\"id\":%" PRIu32 ",\"kind\":", m->id);
		json_str(o, kind_name(m->kind));
		fprintf(o, ",\"incarnation\":%" PRIu64 ",\"addresses\":", m->incarnation);
		json_addrs(o, (const char(*)[DUET_ADDR_MAX])m->addrs, m->n_addrs);
		fputc('}', o);
	}
	fputs("],\"tls\":{\"ca\":", o);
	json_str(o, cfg->tls_ca);
	fputs(",\"cert\":", o);
	json_str(o, cfg->tls_cert);
	fputs(",\"key\":", o);
	json_str(o, cfg->tls_key);
	fprintf(o, ",\"files_checked\":%s},\"raft\":{", files_checked ? "true" : "false");
	struct duet_config_setting s[MAX_RAFT_SETTINGS];
	size_t n = duet_config_raft_settings(cfg, s, MAX_RAFT_SETTINGS);
	for (size_t i = 0; i < n && i < MAX_RAFT_SETTINGS; i++) {
		if (i)
			fputc(',', o);
		json_key(o, s[i].key);
		fprintf(o, "%" PRIu32, s[i].value);
	}
	fputs("}}\n", o);
}

static void print_json_errors(const struct duet_config_errors *errs)
{
	FILE *o = stdout;
	fputs("{\"ok\":false,\"file\":", o);
	json_str(o, errs->file);
	fputs(",\"errors\":[", o);
	for (unsigned i = 0; i < errs->n; i++) {
		fputs(i ? ",{\"file\":" : "{\"file\":", o);
		json_str(o, errs->file);
		if (errs->v[i].line > 0)
			fprintf(o, ",\"line\":%d,\"message\":", errs->v[i].line);
		else
			fputs(",\"line\":null,\"message\":", o);
		json_str(o, errs->v[i].message);
		fputc('}', o);
	}
	fprintf(o, "],\"errors_not_shown\":%u}\n", errs->dropped);
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
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (strcmp(argv[i], "--no-files") == 0)
			no_files = true;
		else if (strcmp(argv[i], "--print-keys") == 0)
			print_keys = true;
		else if (strcmp(argv[i], "--markdown") == 0)
			markdown = true;
		else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr,
				"duetctl check-config: unknown option '%s'; see duetctl "
				"check-config --help\n",
				argv[i]);
			return DUETCTL_USAGE;
		} else if (path) {
			fprintf(stderr, "duetctl check-config: one FILE only (got '%s' and '%s')\n",
				path, argv[i]);
			return DUETCTL_USAGE;
		} else {
			path = argv[i];
		}
	}
	if (print_keys) {
		if (path || json || no_files) {
			fprintf(stderr, "duetctl check-config: --print-keys takes no FILE and no "
					"other option but --markdown\n");
			return DUETCTL_USAGE;
		}
		if (markdown)
			duet_config_print_keys_markdown(stdout);
		else
			duet_config_print_keys(stdout);
		return DUETCTL_OK;
	}
	if (markdown) {
		fprintf(stderr, "duetctl check-config: --markdown goes with --print-keys\n");
		return DUETCTL_USAGE;
	}
	if (!path) {
		fprintf(stderr, "usage: duetctl check-config FILE [--json] [--no-files]; see "
				"duetctl check-config --help\n");
		return DUETCTL_USAGE;
	}

	struct duet_config cfg;
	struct duet_config_errors errs;
	int rc = duet_config_load(path, no_files ? DUET_CONFIG_SKIP_FILES : 0, &cfg, &errs);
	if (rc == 0 && check_pg_conninfo(&cfg, &errs, json) != 0) {
		duet_config_free(&cfg);
		rc = DUET_EINVAL;
	}
	if (rc == 0) {
		if (json)
			print_json_ok(path, &cfg, !no_files);
		else
			print_text(path, &cfg, !no_files);
		duet_config_free(&cfg);
		return DUETCTL_OK;
	}
	if (errs.n == 0) /* only an allocation failure reports nothing itself */
		snprintf(errs.v[errs.n++].message, sizeof(errs.v[0].message), "cannot check: %s",
			 duet_strerror(rc));
	if (json) {
		print_json_errors(&errs);
	} else {
		duet_config_errors_print(stderr, &errs);
		fprintf(stderr, "%s: invalid (%u error%s)\n", path, errs.n + errs.dropped,
			errs.n + errs.dropped == 1 ? "" : "s");
	}
	return DUETCTL_FAILED;
}
