/*
 * switchover.c - `duetctl switchover [--to NODE]`: a planned change of master
 * (daemon/ctl_switchover.c). The daemon asked starts it when it is the
 * acting master, or forwards it to the leader; this command then follows
 * the status of the node it asked: the master in its log changes to the
 * target (the old master stopped first, so no acknowledged write is lost),
 * then, unless --no-wait, the old master is a synchronous standby again
 * (its PostgreSQL rebuilt by its daemon, ctl_rebuild.c) with its critical
 * checks passing in the log, so that a switchover back is accepted.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"

void cmd_switchover_help(void)
{
	printf("usage: duetctl switchover [--to NODE] [--why TEXT] (--config FILE | --socket "
	       "PATH)\n"
	       "                          [--no-wait] [--timeout SECONDS] [--json]\n"
	       "\n"
	       "Moves the master role to the synchronous standby, losing nothing: the master\n"
	       "records OPERATOR(switchover, who, why), stops its PostgreSQL, FIP and manager,\n"
	       "commits MASTER(NODE, switchover) and hands leadership over; NODE promotes and\n"
	       "takes the FIP without fencing. The old master's PostgreSQL is then rebuilt\n"
	       "as NODE's standby (pg_rewind) and made synchronous again. Writes fail for\n"
	       "the moment between the old master's stop and the new one's FIP.\n"
	       "Refused unless NODE is a committed SYNC standby in touch with the master.\n"
	       "Ask any data node: a request to the standby is forwarded to the master.\n"
	       "\n"
	       "  --to NODE          the new master (default: the other data node)\n"
	       "  --why TEXT         recorded in the audit log\n"
	       "  --config FILE      this node's config (for its admin_socket)\n"
	       "  --socket PATH      or the admin socket itself\n"
	       "  --no-wait          return once NODE is master, without waiting for the old\n"
	       "                     master to be a synchronous standby again with its\n"
	       "                     checks passing\n"
	       "  --timeout SECONDS  how long to follow it (default 600)\n"
	       "  --json             print one JSON object with the outcome\n"
	       "\n"
	       "Exit status: 0 done, 1 refused or not done in time, 2 usage error.\n");
}

/* The master's name in a status document. */
static void master_of(const char *st, char *out, size_t cap)
{
	const char *m = strstr(st, "\"master\":{");
	out[0] = 0;
	if (m)
		duetctl_json_text(m, "node", out, cap);
}

/* Member `name` of the status's members list is SYNC and no critical
 * check of it is failing in the log: a standby as before, one a next
 * switchover may pick (its pg check fails while it is rebuilt). */
static bool member_back(const char *st, const char *name)
{
	char pat[80];
	snprintf(pat, sizeof pat, "\"name\":\"%s\"", name);
	const char *mem = strstr(st, "\"members\":[");
	const char *p = mem ? strstr(mem, pat) : NULL;
	if (!p)
		return false;
	const char *end = strchr(p, '}');
	const char *s = strstr(p, "\"sync\":true");
	const char *c = strstr(p, "\"critical_failing\":false");
	return s && c && end && s < end && c < end;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int cmd_switchover(int argc, char **argv)
{
	const char *sock = NULL, *config = NULL, *why = "", *to = "";
	bool json = false, wait_sync = true;
	unsigned timeout_s = 600;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--to") == 0 && i + 1 < argc)
			to = argv[++i];
		else if (strcmp(argv[i], "--why") == 0 && i + 1 < argc)
			why = argv[++i];
		else if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
			sock = argv[++i];
		else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			config = argv[++i];
		else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
			timeout_s = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--no-wait") == 0)
			wait_sync = false;
		else if (strcmp(argv[i], "--json") == 0)
			json = true;
		else {
			fprintf(stderr, "duetctl switchover: unknown argument '%s'; see --help\n",
				argv[i]);
			return DUETCTL_USAGE;
		}
	}
	if (strlen(to) > 31) {
		fprintf(stderr, "duetctl switchover: --to '%s' is longer than a member name\n", to);
		return DUETCTL_USAGE;
	}
	int src = duetctl_admin_socket("switchover", config, &sock);
	if (src)
		return src;
	char err[512] = "";
	char *st = duetctl_ask(sock, "{\"cmd\":\"status\"}\n", err, sizeof err);
	if (!st) {
		fprintf(stderr, "duetctl switchover: %s\n", err);
		return DUETCTL_FAILED;
	}
	char old_master[64];
	master_of(st, old_master, sizeof old_master);
	free(st);

	char who[32];
	duetctl_operator_who(who, sizeof who);
	char req[1200] = "{\"cmd\":\"switchover\",\"to\":\"";
	duetctl_json_body(req, 100, to);
	strcat(req, "\",\"who\":\"");
	duetctl_json_body(req, 200, who);
	strcat(req, "\",\"why\":\"");
	duetctl_json_body(req, sizeof req - 8, why);
	strcat(req, "\"}\n");
	long long t0 = now_ms();
	char *answer = duetctl_ask(sock, req, err, sizeof err);
	if (!answer) {
		fprintf(stderr, "duetctl switchover: %s\n", err);
		return DUETCTL_FAILED;
	}
	if (!strstr(answer, "\"ok\":true")) {
		const char *e = strstr(answer, "\"error\":\"");
		const char *end = e ? strstr(e + 9, "\"}") : NULL;
		if (e && end)
			fprintf(stderr, "duetctl switchover: refused: %.*s\n", (int)(end - e - 9),
				e + 9);
		else
			fprintf(stderr, "duetctl switchover: %s\n", answer);
		free(answer);
		return DUETCTL_FAILED;
	}
	free(answer);
	if (!json) {
		printf("switchover from %s asked%s%s: following it\n", old_master,
		       to[0] ? " to " : "", to);
		fflush(stdout);
	}

	time_t deadline = time(NULL) + timeout_s;
	char master[64] = "";
	long long master_ms = -1, sync_ms = -1;
	while (time(NULL) < deadline) {
		st = duetctl_ask(sock, "{\"cmd\":\"status\"}\n", err, sizeof err);
		if (st) {
			master_of(st, master, sizeof master);
			if (master_ms < 0 && master[0] && strcmp(master, old_master) != 0) {
				master_ms = now_ms() - t0;
				if (!json)
					printf("%s is master (%lld ms after the request); %s is "
					       "being rebuilt as its standby\n",
					       master, master_ms, old_master);
				fflush(stdout);
				if (!wait_sync) {
					free(st);
					break;
				}
			}
			if (master_ms >= 0 && member_back(st, old_master)) {
				sync_ms = now_ms() - t0;
				free(st);
				if (!json)
					printf("%s is a synchronous standby again, its checks "
					       "passing (%lld ms after the request)\n",
					       old_master, sync_ms);
				break;
			}
			/* an aborted switchover on the node asked (the old master) */
			const char *so = strstr(st, "\"switchover\":{");
			char state[32] = "", detail[256] = "";
			if (so) {
				duetctl_json_text(so, "state", state, sizeof state);
				duetctl_json_text(so, "detail", detail, sizeof detail);
			}
			free(st);
			if (master_ms < 0 && strcmp(state, "aborted") == 0) {
				fprintf(stderr, "duetctl switchover: %s\n", detail);
				return DUETCTL_FAILED;
			}
		}
		usleep(100 * 1000);
	}
	bool ok = master_ms >= 0 && (!wait_sync || sync_ms >= 0);
	if (json)
		printf("{\"ok\":%s,\"from\":\"%s\",\"to\":\"%s\",\"master_after_ms\":%lld,"
		       "\"sync_after_ms\":%lld}\n",
		       ok ? "true" : "false", old_master, master, master_ms, sync_ms);
	if (!ok)
		fprintf(stderr,
			"duetctl switchover: not done within %u s (master: %s); check duetctl "
			"status on both data nodes\n",
			timeout_s, master[0] ? master : "unknown");
	return ok ? DUETCTL_OK : DUETCTL_FAILED;
}
