/* SPDX-License-Identifier: MIT */
/*
 * commands.h - duetctl's subcommands and their shared conventions.
 *
 * Each subcommand is run(argc, argv) with argv[0] its own name and returns
 * the process exit status: DUETCTL_OK, DUETCTL_FAILED (the command ran and
 * the answer is "no": an invalid config, an unhealthy cluster) or
 * DUETCTL_USAGE (bad arguments, or the command is not available).
 */
#ifndef DUETCTL_COMMANDS_H
#define DUETCTL_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

enum {
	DUETCTL_OK = 0,
	DUETCTL_FAILED = 1,
	DUETCTL_USAGE = 2,
};

int cmd_check_config(int argc, char **argv);
void cmd_check_config_help(void);
int cmd_status(int argc, char **argv);
void cmd_status_help(void);
int cmd_list(int argc, char **argv);
void cmd_list_help(void);
int cmd_log(int argc, char **argv);
void cmd_log_help(void);
int cmd_gencerts(int argc, char **argv);
int cmd_promote(int argc, char **argv);
void cmd_promote_help(void);
int cmd_maintenance(int argc, char **argv);
void cmd_maintenance_help(void);
int cmd_switchover(int argc, char **argv);
void cmd_switchover_help(void);
int cmd_init(int argc, char **argv);
void cmd_init_help(void);
int cmd_rejoin(int argc, char **argv);
void cmd_rejoin_help(void);

/* status.c: the admin socket to ask: *sock if set, else the config's
 * admin_socket (errors printed; returns DUETCTL_OK, _USAGE or _FAILED). */
int duetctl_admin_socket(const char *cmd, const char *config, const char **sock);
/* promote.c: who runs an operator command, "user@host" cut to cap - 1 bytes
 * (an OPERATOR entry keeps 31: pass cap 32). */
void duetctl_operator_who(char *who, size_t cap);
/* promote.c: the request {"cmd":cmd, <fields>, "who":.., "why":..} for an
 * operator command, keys in that order (the daemon's parser wants them so);
 * NULL with a sentence in err when why is not valid UTF-8. fields is a
 * json_pack() object format of the keys that go before who and why, with
 * their values after it. The caller owns the result. */
json_t *duetctl_operator_request(const char *cmd, const char *why, char *err, size_t errlen,
				 const char *fields, ...);
/* promote.c: prints, after the daemon refused an operator request, why a
 * --why holding newlines or control characters may be the cause: duetd's
 * request parser takes no escapes but \" and \\ (issue 16). */
void duetctl_why_hint(const char *cmd, const char *why);
void cmd_gencerts_help(void);

#endif
