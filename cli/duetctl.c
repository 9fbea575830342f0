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
 * error or command not available.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"

struct command {
	const char *name;
	const char *args;
	const char *summary;
	int (*run)(int argc, char **argv);
	void (*help)(void);  /* full help; NULL: args + summary are all there is */
	const char *not_yet; /* run == NULL: what it needs, which issue brings it */
};

static const struct command commands[] = {
    {"init", "--config FILE [--timeout-ms N] [--json]",
     "create this member's store for a new cluster (refused if a peer answers)", cmd_init,
     cmd_init_help, NULL},
    {"check-config", "FILE [--json] [--no-files] | --print-keys [--markdown]",
     "check a duetd / duet-witness config file and print what it resolves to", cmd_check_config,
     cmd_check_config_help, NULL},
    {"status", "[--socket PATH | --config FILE] [--json] [--watch]",
     "roles, term, leader, commit index, lease, master, peers, transport", cmd_status,
     cmd_status_help, NULL},
    {"list", "[--config FILE | --socket PATH] [--json]",
     "the whole cluster in one table, from any member's view", cmd_list, cmd_list_help, NULL},
    {"log", "--config FILE [--since T] [--type T] [--json] [--verify]",
     "the audit chain; --verify checks its SHA-256 links", cmd_log, cmd_log_help, NULL},
    {"rejoin", "--config FILE [--yes] [--why TEXT] [--start CMD] [--json]",
     "bring this member back as a synchronous standby after any failure", cmd_rejoin,
     cmd_rejoin_help, NULL},
    {"switchover", "[--to NODE] [--why TEXT] (--config FILE | --socket PATH) [--no-wait]",
     "move the master role to the synchronous standby, no data lost", cmd_switchover,
     cmd_switchover_help, NULL},
    {"maintenance", "on|off [--why TEXT] (--config FILE | --socket PATH) [--json]",
     "suspend or resume automatic failover (recorded)", cmd_maintenance, cmd_maintenance_help,
     NULL},
    {"promote", "--accept-data-loss [--why TEXT] (--config FILE | --socket PATH)",
     "make this node master without a promotable standby (recorded)", cmd_promote, cmd_promote_help,
     NULL},
    {"gencerts", "--dir DIR (--config FILE | --names a,b,c)",
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
	fprintf(out, "\nExit status: 0 success, 1 the command found a problem (e.g. an invalid "
		     "config),\n2 usage error or command not available.\n");
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
	const struct command *c = find_command(name);
	if (!c) {
		fprintf(stderr, "duetctl: unknown command '%s'; see duetctl --help\n", name);
		return DUETCTL_USAGE;
	}
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			command_help(c);
			return DUETCTL_OK;
		}
	}
	if (!c->run) {
		fprintf(stderr, "duetctl %s: not available yet: %s\n", c->name, c->not_yet);
		return DUETCTL_USAGE;
	}
	return c->run(argc - 1, argv + 1);
}
