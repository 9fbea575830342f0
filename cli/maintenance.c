/* SPDX-License-Identifier: MIT */
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
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "out.h"
#include "doc.h"

/* The daemon answers within its deadline (5 s) plus a tick; wait longer. */
#define MAINTENANCE_WAIT_S 10
#define WHY_MAX_BYTES      511 /* DUET_DETAIL_MAX - 1: what the entry keeps */

void cmd_maintenance_help(void)
{
	printf("usage: duetctl maintenance on|off [--why TEXT] [-c FILE | --socket PATH]\n"
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
	       "  -c, --config FILE  a data node's config (for its admin_socket; default:\n"
	       "                 $DUET_CONFIG, else /etc/duet/duet.ini)\n"
	       "  --socket PATH  or a data node's admin socket itself\n"
	       "  --json         print the daemon's answer as is; an error as\n"
	       "                 {\"error\":{\"code\":...,\"message\":...}}\n"
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
	static const struct option opts[] = {
	    {"why", required_argument, NULL, 'y'},
	    {"socket", required_argument, NULL, 's'},
	    {"config", required_argument, NULL, 'c'},
	    {"json", no_argument, NULL, 'j'},
	    {NULL, 0, NULL, 0},
	};
	int opt;
	while ((opt = getopt_long(argc, argv, DUETCTL_SHORTOPTS("c:"), opts, NULL)) != -1) {
		switch (opt) {
		case 'y':
			why = optarg;
			break;
		case 's':
			sock = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'j':
			json = true;
			break;
		default:
			return duetctl_bad_option(opt, argv);
		}
	}
	for (int i = optind; i < argc; i++) {
		if (!state && (strcmp(argv[i], "on") == 0 || strcmp(argv[i], "off") == 0))
			state = argv[i];
		else
			return duetctl_usage_error("unknown argument '%s'", argv[i]);
	}
	if (!state) {
		duetctl_err("say on or off; see --help");
		return DUETCTL_USAGE;
	}
	if (strlen(why) > WHY_MAX_BYTES) {
		duetctl_err("--why is %zu bytes; the entry keeps at most %d", strlen(why),
			    WHY_MAX_BYTES);
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
		duetctl_err("%s", err);
		return DUETCTL_USAGE;
	}
	struct duetctl_reply reply;
	int arc = duetctl_doc_ask(sock, req, MAINTENANCE_WAIT_S, WHAT, &reply, err, sizeof err);
	json_decref(req);
	if (arc != DUETCTL_DOC_OK) {
		duetctl_ask_failed(arc, err);
		return DUETCTL_FAILED;
	}
	int ok = 0;
	if (duetctl_doc_unpack(reply.doc, WHAT, "", err, sizeof err, "{s:b}", "ok", &ok)) {
		duetctl_err_code(DUETCTL_E_BAD_REPLY, "%s", err);
		duetctl_reply_free(&reply);
		return DUETCTL_FAILED;
	}
	if (json && ok)
		duetctl_print_json_line(reply.text);
	else if (ok && print_answer(reply.doc, on, err, sizeof err) != 0) {
		duetctl_err("%s", err);
		ok = 0;
	}
	if (!ok && !err[0]) {
		const char *derr = duetctl_doc_error(reply.doc);
		duetctl_err_code(DUETCTL_E_REFUSED, "%s", derr ? derr : reply.text);
		duetctl_why_hint("maintenance", why);
	}
	duetctl_reply_free(&reply);
	return ok ? DUETCTL_OK : DUETCTL_FAILED;
}
