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

enum {
	DUETCTL_OK = 0,
	DUETCTL_FAILED = 1,
	DUETCTL_USAGE = 2,
};

int cmd_check_config(int argc, char **argv);
void cmd_check_config_help(void);
int cmd_status(int argc, char **argv);
void cmd_status_help(void);
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
/* status.c: one request line to an admin socket, the response line
 * (malloc'd), or NULL with a sentence in err. duetctl_ask waits at most
 * STATUS_TIMEOUT_S seconds for it, duetctl_ask_wait timeout_s. */
char *duetctl_ask(const char *path, const char *req, char *err, size_t errlen);
char *duetctl_ask_wait(const char *path, const char *req, unsigned timeout_s, char *err,
		       size_t errlen);
/* promote.c: who runs an operator command, "user@host" cut to cap - 1 bytes
 * (an OPERATOR entry keeps 31: pass cap 32). */
void duetctl_operator_who(char *who, size_t cap);
/* promote.c: appends s to out[cap] as a JSON string body (quotes and
 * backslashes escaped, control characters dropped, cut to fit). */
void duetctl_json_body(char *out, size_t cap, const char *s);
/* The string value of the first "key":"..." in s (from a daemon's status
 * document) into out, "" if absent; escapes read as the escaped character. */
void duetctl_json_text(const char *s, const char *key, char *out, size_t cap);
void cmd_gencerts_help(void);

#endif
