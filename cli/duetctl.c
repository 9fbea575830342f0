/* SPDX-License-Identifier: MIT */
/*
 * duetctl.c - the operator's tool: subcommand dispatch and help.
 *
 * Subcommands are rows of commands[] (name, arguments, summary, help, run),
 * so `duetctl --help`, `duetctl CMD --help` and dispatch read the same table.
 * A command DESIGN.md promises but that needs a part not built yet has a
 * row with run == NULL and says which part brings it: it is listed, marked
 * as not available, and exits 2 with that sentence, rather than being
 * missing or pretending.
 *
 * Exit status: 0 success, 1 the command ran and found a problem, 2 usage
 * error or command not available. Errors and --json output go through
 * out.c, so every command reports them alike.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "out.h"

struct command {
	const char *name;
	const char *args;
	const char *summary;
	int (*run)(int argc, char **argv);
	void (*help)(void);  /* full help; NULL: args + summary are all there is */
	const char *not_yet; /* run == NULL: what it needs, which issue brings it */
};

static const struct command commands[] = {
    {"init", "[-c FILE] [--timeout-ms N] [--json]",
     "create this member's store for a new cluster (refused if a peer answers)", cmd_init,
     cmd_init_help, NULL},
    {"check-config", "[FILE | -c FILE] [--json] [--no-files] | --print-keys [--markdown]",
     "check a duetd / duet-witness config file and print what it resolves to", cmd_check_config,
     cmd_check_config_help, NULL},
    {"status", "[--socket PATH | -c FILE] [--json] [--watch]",
     "roles, term, leader, commit index, lease, master, peers, transport", cmd_status,
     cmd_status_help, NULL},
    {"list", "[-c FILE | --socket PATH] [--json]",
     "the whole cluster in one table, from any member's view", cmd_list, cmd_list_help, NULL},
    {"log", "[-c FILE] [--since T] [--type T] [--json] [--follow] [--verify]",
     "the audit chain; --verify checks its SHA-256 links", cmd_log, cmd_log_help, NULL},
    {"rejoin", "[-c FILE] [--yes] [--why TEXT] [--start CMD] [--timeout S] [--json]",
     "bring this member back as a synchronous standby after any failure", cmd_rejoin,
     cmd_rejoin_help, NULL},
    {"switchover", "[--to NODE] [--why TEXT] [-c FILE | --socket PATH] [--no-wait] [--json]",
     "move the master role to the synchronous standby, no data lost", cmd_switchover,
     cmd_switchover_help, NULL},
    {"maintenance", "on|off [--why TEXT] [-c FILE | --socket PATH] [--json]",
     "suspend or resume automatic failover (recorded)", cmd_maintenance, cmd_maintenance_help,
     NULL},
    {"promote", "--accept-data-loss [--why TEXT] [-c FILE | --socket PATH] [--json]",
     "make this node master without a promotable standby (recorded)", cmd_promote, cmd_promote_help,
     NULL},
    {"gencerts", "--dir DIR [-c FILE | --names a,b,c] [--days N]",
     "generate a CA and a certificate per member for mutual TLS", cmd_gencerts, cmd_gencerts_help,
     NULL},
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
	fprintf(out, "usage: duetctl COMMAND [ARGS]\n"
		     "       duetctl COMMAND --help\n"
		     "       duetctl --help | --version\n\n"
		     "Commands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(out, "  %-13s %s%s\n", commands[i].name, commands[i].summary,
			commands[i].run ? "" : " (not available yet)");
	fprintf(
	    out,
	    "\nEvery command takes --help. A command that reads the config takes -c FILE or\n"
	    "--config=FILE; without it, $%s, else %s.\n"
	    "With --json a command writes JSON on stdout, its errors included:\n"
	    "  {\"error\": {\"code\": CODE, \"message\": TEXT}}\n"
	    "(alone, or as a member of the command's own object), CODE one of usage,\n"
	    "unavailable, config, unreachable, bad_reply, refused, damaged, failed.\n"
	    "\nExit status: 0 success, 1 the command found a problem (an invalid config, a\n"
	    "daemon that does not answer or refuses), 2 usage error or command not available.\n",
	    DUET_CONFIG_ENV, DUET_CONFIG_DEFAULT_PATH);
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void command_help(const struct command *c)
{
	if (c->help) {
		c->help();
		return;
	}
	printf("usage: duetctl %s %s\n\n%s.\n", c->name, c->args, c->summary);
	if (!c->run)
		printf("\nNot available yet: %s.\n", c->not_yet);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return DUETCTL_USAGE;
	}
	const char *name = argv[1];
	if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
		if (argc > 2 && strcmp(name, "help") == 0) {
			const struct command *c = find_command(argv[2]);
			if (c) {
				command_help(c);
				return DUETCTL_OK;
			}
		}
		usage(stdout);
		return DUETCTL_OK;
	}
	if (strcmp(name, "--version") == 0) {
		printf("duetctl %s\n", DUET_VERSION);
		return DUETCTL_OK;
	}
	bool json = false;
	for (int i = 2; i < argc; i++)
		json |= strcmp(argv[i], "--json") == 0;
	const struct command *c = find_command(name);
	if (!c) {
		duetctl_out_init("", NULL, json);
		duetctl_err_code(DUETCTL_E_USAGE, "unknown command '%s'; see duetctl --help", name);
		return duetctl_out_finish(DUETCTL_USAGE);
	}
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			command_help(c);
			return DUETCTL_OK;
		}
	}
	duetctl_out_init(c->name, c->args, json);
	if (!c->run) {
		duetctl_err_code(DUETCTL_E_UNAVAILABLE, "not available yet: %s", c->not_yet);
		return duetctl_out_finish(DUETCTL_USAGE);
	}
	return duetctl_out_finish(c->run(argc - 1, argv + 1));
}
