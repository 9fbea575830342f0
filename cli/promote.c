/*
 * promote.c - `duetctl promote --accept-data-loss`: the operator's override
 * of DESIGN.md 4.5. When no standby is promotable (the standby was not
 * synchronous when the master was lost), the cluster waits; this command,
 * run on the node to promote, has its daemon commit OPERATOR(force promote)
 * with who and why, then MASTER(self, forced). Writes the old master
 * acknowledged after the standby stopped being synchronous are lost: the
 * flag says the person knows.
 */
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"

void cmd_promote_help(void)
{
	printf("usage: duetctl promote --accept-data-loss [--why TEXT] (--config FILE | --socket "
	       "PATH) [--json]\n"
	       "\n"
	       "Makes THIS node master although it is not a synchronous standby (duetctl\n"
	       "status says why there was no automatic failover). Writes acknowledged by\n"
	       "the old master after this node stopped being synchronous are lost.\n"
	       "The daemon must lead the cluster (it and the witness are a majority);\n"
	       "it commits OPERATOR(force promote, who, why), then MASTER(self, forced),\n"
	       "and takes over as in a failover: fence, lease wait, promote, FIP, manager.\n"
	       "\n"
	       "  --accept-data-loss  required: says you accept the loss\n"
	       "  --why TEXT          recorded in the audit log (default: none given)\n"
	       "  --config FILE       this node's config (for its admin_socket)\n"
	       "  --socket PATH       or the admin socket itself\n"
	       "  --json              print the daemon's answer as is\n"
	       "\n"
	       "Exit status: 0 proposed, 1 refused (reason printed), 2 usage error.\n");
}

void duetctl_json_body(char *out, size_t cap, const char *s)
{
	size_t n = strlen(out);
	for (; *s && n + 3 < cap; s++) {
		if ((unsigned char)*s < 0x20)
			continue;
		if (*s == '"' || *s == '\\')
			out[n++] = '\\';
		out[n++] = *s;
	}
	out[n] = 0;
}

void duetctl_json_text(const char *s, const char *key, char *out, size_t cap)
{
	char pat[48];
	snprintf(pat, sizeof pat, "\"%s\":\"", key);
	const char *p = strstr(s, pat);
	size_t i = 0;
	if (p)
		for (p += strlen(pat); *p && *p != '"' && i + 1 < cap; p++) {
			if (*p == '\\' && p[1])
				p++; /* \" and \\ as the character; \n and \uXXXX as a letter */
			out[i++] = *p;
		}
	out[i] = 0;
}

void duetctl_operator_who(char *who, size_t cap)
{
	const struct passwd *pw = getpwuid(getuid());
	char host[64] = "";
	gethostname(host, sizeof host - 1);
	snprintf(who, cap, "%s@%s", pw ? pw->pw_name : "uid?", host);
}

int cmd_promote(int argc, char **argv)
{
	const char *sock = NULL, *config = NULL, *why = "";
	bool accept = false, json = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--accept-data-loss") == 0)
			accept = true;
		else if (strcmp(argv[i], "--why") == 0 && i + 1 < argc)
			why = argv[++i];
		else if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
			sock = argv[++i];
		else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			config = argv[++i];
		else if (strcmp(argv[i], "--json") == 0)
			json = true;
		else {
			fprintf(stderr, "duetctl promote: unknown argument '%s'; see --help\n",
				argv[i]);
			return DUETCTL_USAGE;
		}
	}
	if (!accept) {
		fprintf(stderr, "duetctl promote: refusing without --accept-data-loss: a node "
				"that is not a synchronous standby may miss acknowledged writes\n");
		return DUETCTL_USAGE;
	}
	int src = duetctl_admin_socket("promote", config, &sock);
	if (src)
		return src;
	char who[32];
	duetctl_operator_who(who, sizeof who);
	char req[1024] = "{\"cmd\":\"promote\",\"accept_data_loss\":1,\"who\":\"";
	duetctl_json_body(req, sizeof req - 40, who);
	strcat(req, "\",\"why\":\"");
	duetctl_json_body(req, sizeof req - 8, why);
	strcat(req, "\"}\n");
	char err[512] = "";
	char *answer = duetctl_ask(sock, req, err, sizeof err);
	if (!answer) {
		fprintf(stderr, "duetctl promote: %s\n", err);
		return DUETCTL_FAILED;
	}
	bool ok = strstr(answer, "\"ok\":true") != NULL;
	if (json) {
		printf("%s\n", answer);
	} else if (ok) {
		printf("forced promotion proposed: OPERATOR and MASTER entries; follow it with "
		       "duetctl status / duetctl log --follow\n");
	} else {
		const char *e = strstr(answer, "\"error\":\"");
		const char *end = e ? strstr(e + 9, "\"}") : NULL;
		if (e && end)
			fprintf(stderr, "duetctl promote: %.*s\n", (int)(end - e - 9), e + 9);
		else
			fprintf(stderr, "duetctl promote: %s\n", answer);
	}
	free(answer);
	return ok ? DUETCTL_OK : DUETCTL_FAILED;
}
