/*
 * maintenance.c - `duetctl maintenance on|off`: suspend or resume automatic
 * failover (DESIGN.md 1 and 4) while people work on the cluster.
 *
 * The daemon asked (any data node: a follower forwards the request to the
 * leader) commits OPERATOR(maintenance on/off) with who (user@host, as for
 * promote) and why, and answers once it has applied the change, or with
 * the reason it could not within its deadline (daemon/admin.c). While
 * maintenance is on, a leader that is not master proposes no MASTER: the
 * master keeps its role as long as it holds its lease, and if it is lost
 * nobody takes over until maintenance is off (or an operator runs promote).
 *
 * Asking for the state the cluster is already in records nothing: the
 * answer says since which entry, by whom and why, and the exit status is 0
 * (the state asked for holds), so scripts may run it twice. --why is
 * optional, as for promote; the daemon records "(no reason given)".
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

/* The daemon answers within its deadline (5 s) plus a tick; wait longer. */
#define MAINTENANCE_WAIT_S 10
#define WHY_MAX_BYTES      511 /* DUET_DETAIL_MAX - 1: what the entry keeps */

void cmd_maintenance_help(void)
{
	printf("usage: duetctl maintenance on|off [--why TEXT] (--config FILE | --socket PATH)\n"
	       "                            [--json]\n"
	       "\n"
	       "Suspends (on) or resumes (off) automatic failover for the whole cluster.\n"
	       "Ask any data node: one that does not lead forwards the request to the\n"
	       "leader, which commits OPERATOR(maintenance on/off, who, why); the command\n"
	       "returns once the asked node has applied it. While maintenance is on the\n"
	       "master keeps its role, but if it is lost no other node takes over (duetctl\n"
	       "status says so), until maintenance is off or duetctl promote\n"
	       "--accept-data-loss is run. Asking for the state already in force records\n"
	       "nothing and says since when, by whom and why.\n"
	       "\n"
	       "  --why TEXT     recorded in the audit log, at most 511 bytes (default: none\n"
	       "                 given)\n"
	       "  --config FILE  a data node's config (for its admin_socket)\n"
	       "  --socket PATH  or a data node's admin socket itself\n"
	       "  --json         print the daemon's answer as is\n"
	       "\n"
	       "Exit status: 0 the state asked for holds, 1 refused or not applied (reason\n"
	       "printed), 2 usage error.\n");
}

/* Prints the "error" string of a daemon answer (escapes \" and \\ undone). */
static void print_error(const char *answer)
{
	const char *e = strstr(answer, "\"error\":\"");
	if (!e) {
		fprintf(stderr, "duetctl maintenance: %s\n", answer);
		return;
	}
	fputs("duetctl maintenance: ", stderr);
	for (const char *p = e + 9; *p && *p != '"'; p++) {
		if (*p == '\\' && p[1])
			p++;
		fputc(*p, stderr);
	}
	fputc('\n', stderr);
}

/* The text of the string value of "key" in s, escapes kept, or "" when
 * absent or not a string. */
static const char *string_of(const char *s, const char *key, char *out, size_t cap)
{
	char pat[32];
	snprintf(pat, sizeof pat, "\"%s\":\"", key);
	const char *p = strstr(s, pat);
	size_t i = 0;
	if (p) {
		for (p += strlen(pat); *p && *p != '"' && i + 2 < cap; p++) {
			if (*p == '\\' && p[1])
				out[i++] = *p++;
			out[i++] = *p;
		}
	}
	out[i] = 0;
	return out;
}

static void print_answer(const char *answer, bool on)
{
	char who[64], why[2 * WHY_MAX_BYTES + 2];
	const char *since = strstr(answer, "\"since_index\":");
	unsigned long long index = since ? strtoull(since + 14, NULL, 10) : 0;
	string_of(answer, "who", who, sizeof who);
	string_of(answer, "why", why, sizeof why);
	bool changed = strstr(answer, "\"changed\":true") != NULL;
	if (changed)
		printf("maintenance %s (entry %llu, by %s: %s): %s\n", on ? "on" : "off", index,
		       who[0] ? who : "?", why,
		       on ? "no automatic failover until duetctl maintenance off"
			  : "automatic failover resumed");
	else if (who[0])
		printf("maintenance was already %s since entry %llu (by %s: %s); nothing "
		       "recorded\n",
		       on ? "on" : "off", index, who, why);
	else
		printf("maintenance was already %s%s; nothing recorded\n", on ? "on" : "off",
		       index ? " (who and why: duetctl log --type OPERATOR)" : "");
}

int cmd_maintenance(int argc, char **argv)
{
	const char *sock = NULL, *config = NULL, *why = "", *state = NULL;
	bool json = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--why") == 0 && i + 1 < argc)
			why = argv[++i];
		else if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
			sock = argv[++i];
		else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			config = argv[++i];
		else if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (!state && (strcmp(argv[i], "on") == 0 || strcmp(argv[i], "off") == 0))
			state = argv[i];
		else {
			fprintf(stderr, "duetctl maintenance: unknown argument '%s'; see --help\n",
				argv[i]);
			return DUETCTL_USAGE;
		}
	}
	if (!state) {
		fprintf(stderr, "duetctl maintenance: say on or off; see --help\n");
		return DUETCTL_USAGE;
	}
	if (strlen(why) > WHY_MAX_BYTES) {
		fprintf(stderr,
			"duetctl maintenance: --why is %zu bytes; the entry keeps at most %d\n",
			strlen(why), WHY_MAX_BYTES);
		return DUETCTL_USAGE;
	}
	int src = duetctl_admin_socket("maintenance", config, &sock);
	if (src)
		return src;
	bool on = strcmp(state, "on") == 0;
	char who[32]; /* DUET_NAME_MAX: the OPERATOR entry keeps 31 bytes */
	duetctl_operator_who(who, sizeof who);
	/* "on" first: the daemon's parser takes the first "on" key it finds */
	char req[2 * WHY_MAX_BYTES + 256];
	snprintf(req, sizeof req, "{\"cmd\":\"maintenance\",\"on\":%s,\"who\":\"",
		 on ? "true" : "false");
	duetctl_json_body(req, sizeof req - 40, who);
	strcat(req, "\",\"why\":\"");
	duetctl_json_body(req, sizeof req - 8, why);
	strcat(req, "\"}\n");
	char err[512] = "";
	char *answer = duetctl_ask_wait(sock, req, MAINTENANCE_WAIT_S, err, sizeof err);
	if (!answer) {
		fprintf(stderr, "duetctl maintenance: %s\n", err);
		return DUETCTL_FAILED;
	}
	bool ok = strncmp(answer, "{\"ok\":true", 10) == 0;
	if (json)
		printf("%s\n", answer);
	else if (ok)
		print_answer(answer, on);
	if (!ok)
		print_error(answer);
	free(answer);
	return ok ? DUETCTL_OK : DUETCTL_FAILED;
}
