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
#include "doc.h"

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
	       "Exit status: 0 the state asked for holds, 1 refused, not applied or an answer\n"
	       "that is not understood (reason printed), 2 usage error (also: --why not\n"
	       "UTF-8).\n");
}

#define WHAT "maintenance reply"

/* The answer of a daemon that applied (or already had) the state asked
 * for: {"ok":true,"changed":..,"maintenance":{"since_index":..,"who":..,
 * "why":..}} (who and why null when the entry is not the last OPERATOR
 * one). Returns -1 with err naming a missing key. */
static int print_answer(const json_t *answer, bool on, char *err, size_t errlen)
{
	int changed;
	json_t *mt, *jwho, *jwhy;
	json_int_t index;
	if (duetctl_doc_unpack(answer, WHAT, "", err, errlen, "{s:b, s:o}", "changed", &changed,
			       "maintenance", &mt) ||
	    duetctl_doc_unpack(mt, WHAT, ".maintenance", err, errlen, "{s:I, s:o, s:o}",
			       "since_index", &index, "who", &jwho, "why", &jwhy))
		return -1;
	const char *who = json_is_string(jwho) ? json_string_value(jwho) : "";
	const char *why = json_is_string(jwhy) ? json_string_value(jwhy) : "";
	if (changed)
		printf("maintenance %s (entry %lld, by %s: %s): %s\n", on ? "on" : "off",
		       (long long)index, who[0] ? who : "?", why,
		       on ? "no automatic failover until duetctl maintenance off"
			  : "automatic failover resumed");
	else if (who[0])
		printf("maintenance was already %s since entry %lld (by %s: %s); nothing "
		       "recorded\n",
		       on ? "on" : "off", (long long)index, who, why);
	else
		printf("maintenance was already %s%s; nothing recorded\n", on ? "on" : "off",
		       index ? " (who and why: duetctl log --type OPERATOR)" : "");
	return 0;
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
	char err[512] = "";
	/* "on" before who and why: the daemon's parser takes the first "on" */
	json_t *req =
	    duetctl_operator_request("maintenance", why, err, sizeof err, "{s:b}", "on", on);
	if (!req) {
		fprintf(stderr, "duetctl maintenance: %s\n", err);
		return DUETCTL_USAGE;
	}
	struct duetctl_reply reply;
	int arc = duetctl_doc_ask(sock, req, MAINTENANCE_WAIT_S, WHAT, &reply, err, sizeof err);
	json_decref(req);
	if (arc != DUETCTL_DOC_OK) {
		fprintf(stderr, "duetctl maintenance: %s\n", err);
		return DUETCTL_FAILED;
	}
	int ok = 0;
	if (duetctl_doc_unpack(reply.doc, WHAT, "", err, sizeof err, "{s:b}", "ok", &ok)) {
		fprintf(stderr, "duetctl maintenance: %s\n", err);
		duetctl_reply_free(&reply);
		return DUETCTL_FAILED;
	}
	if (json)
		printf("%s\n", reply.text);
	else if (ok && print_answer(reply.doc, on, err, sizeof err) != 0) {
		fprintf(stderr, "duetctl maintenance: %s\n", err);
		ok = 0;
	}
	if (!ok && !err[0]) {
		const char *derr = duetctl_doc_error(reply.doc);
		fprintf(stderr, "duetctl maintenance: %s\n", derr ? derr : reply.text);
		duetctl_why_hint("maintenance", why);
	}
	duetctl_reply_free(&reply);
	return ok ? DUETCTL_OK : DUETCTL_FAILED;
}
