/* SPDX-License-Identifier: MIT */
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
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "out.h"
#include "doc.h"

void cmd_switchover_help(void)
{
	printf("usage: duetctl switchover [--to NODE] [--why TEXT] [-c FILE | --socket PATH]\n"
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
	       "  -c, --config FILE  this node's config (for its admin_socket; default:\n"
	       "                     $DUET_CONFIG, else /etc/duet/duet.ini)\n"
	       "  --socket PATH      or the admin socket itself\n"
	       "  --no-wait          return once NODE is master, without waiting for the old\n"
	       "                     master to be a synchronous standby again with its\n"
	       "                     checks passing\n"
	       "  --timeout SECONDS  how long to follow it (default 600)\n"
	       "  --json             print one JSON object with the outcome (a failure with\n"
	       "                     \"error\":{\"code\":...,\"message\":...})\n"
	       "\n"
	       "Exit status: 0 done, 1 refused, not done in time or an answer that is not\n"
	       "understood (the missing key named), 2 usage error (also: --why not UTF-8).\n");
}

#define WHAT "status reply"

/* What a switchover follows in a status document: the master's name ("" when
 * none is known), and the state and detail of the switchover this node runs
 * (empty on the witness). -1 with err naming a missing key. */
struct so_view {
	char master[64];
	const char *state, *detail;
};

static int read_view(const json_t *st, struct so_view *v, char *err, size_t errlen)
{
	json_t *master, *node;
	v->state = v->detail = "";
	if (duetctl_doc_unpack(st, WHAT, "", err, errlen, "{s:o}", "master", &master) ||
	    duetctl_doc_unpack(master, WHAT, ".master", err, errlen, "{s:o}", "node", &node))
		return -1;
	snprintf(v->master, sizeof v->master, "%s",
		 json_is_string(node) ? json_string_value(node) : "");
	const json_t *so = duetctl_doc_object(st, "switchover");
	if (so && duetctl_doc_unpack(so, WHAT, ".switchover", err, errlen, "{s:s, s:s}", "state",
				     &v->state, "detail", &v->detail))
		return -1;
	return 0;
}

/* Member `name` of the status's members list is SYNC and no critical
 * check of it is failing in the log: a standby as before, one a next
 * switchover may pick (its pg check fails while it is rebuilt). */
static bool member_back(const json_t *st, const char *name)
{
	size_t i;
	json_t *m;
	json_array_foreach(duetctl_doc_array(st, "members"), i, m)
	{
		const char *n = json_string_value(json_object_get(m, "name"));
		if (n && strcmp(n, name) == 0)
			return json_is_true(json_object_get(m, "sync")) &&
			       json_is_false(json_object_get(m, "critical_failing"));
	}
	return false;
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
	static const struct option opts[] = {
	    {"to", required_argument, NULL, 't'},      {"why", required_argument, NULL, 'y'},
	    {"socket", required_argument, NULL, 's'},  {"config", required_argument, NULL, 'c'},
	    {"timeout", required_argument, NULL, 'T'}, {"no-wait", no_argument, NULL, 'N'},
	    {"json", no_argument, NULL, 'j'},          {NULL, 0, NULL, 0},
	};
	int opt;
	while ((opt = getopt_long(argc, argv, DUETCTL_SHORTOPTS("c:"), opts, NULL)) != -1) {
		switch (opt) {
		case 't':
			to = optarg;
			break;
		case 'y':
			why = optarg;
			break;
		case 's':
			sock = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'T':
			if (duetctl_parse_uint(optarg, 1, 86400, &timeout_s) != 0)
				return duetctl_usage_error("--timeout needs 1..86400 seconds");
			break;
		case 'N':
			wait_sync = false;
			break;
		case 'j':
			json = true;
			break;
		default:
			return duetctl_bad_option(opt, argv);
		}
	}
	if (optind < argc)
		return duetctl_extra_args(argc, argv);
	if (strlen(to) > 31) {
		duetctl_err("--to '%s' is longer than a member name", to);
		return DUETCTL_USAGE;
	}
	int src = duetctl_admin_socket("switchover", config, &sock);
	if (src)
		return src;
	char err[512] = "";
	json_t *status_req = json_pack("{s:s}", "cmd", "status");
	struct duetctl_reply st;
	struct so_view view;
	int arc = status_req ? duetctl_doc_ask(sock, status_req, DUETCTL_ASK_TIMEOUT_S, WHAT, &st,
					       err, sizeof err)
			     : DUETCTL_DOC_UNREACHABLE;
	if (arc == DUETCTL_DOC_OK && read_view(st.doc, &view, err, sizeof err) != 0)
		arc = DUETCTL_DOC_BAD_REPLY;
	if (arc == DUETCTL_DOC_OK)
		duetctl_reply_free(&st);
	if (arc != DUETCTL_DOC_OK) {
		if (!status_req)
			snprintf(err, sizeof err, "out of memory");
		duetctl_ask_failed(arc, err);
		json_decref(status_req);
		return DUETCTL_FAILED;
	}
	char old_master[64];
	snprintf(old_master, sizeof old_master, "%s", view.master);

	json_t *req =
	    duetctl_operator_request("switchover", why, err, sizeof err, "{s:s}", "to", to);
	if (!req) {
		duetctl_err("%s", err);
		json_decref(status_req);
		return DUETCTL_USAGE;
	}
	long long t0 = now_ms();
	struct duetctl_reply answer;
	arc = duetctl_doc_ask(sock, req, DUETCTL_ASK_TIMEOUT_S, "switchover reply", &answer, err,
			      sizeof err);
	json_decref(req);
	int started = 0;
	if (arc == DUETCTL_DOC_OK && duetctl_doc_unpack(answer.doc, "switchover reply", "", err,
							sizeof err, "{s:b}", "ok", &started))
		arc = DUETCTL_DOC_BAD_REPLY;
	if (arc != DUETCTL_DOC_OK || !started) {
		if (arc != DUETCTL_DOC_OK) {
			duetctl_ask_failed(arc, err);
		} else {
			const char *derr = duetctl_doc_error(answer.doc);
			duetctl_err_code(DUETCTL_E_REFUSED, "refused: %s",
					 derr ? derr : answer.text);
			duetctl_why_hint("switchover", why);
		}
		duetctl_reply_free(&answer); /* empty unless it was received */
		json_decref(status_req);
		return DUETCTL_FAILED;
	}
	duetctl_reply_free(&answer);
	if (!json) {
		printf("switchover from %s asked%s%s: following it\n", old_master,
		       to[0] ? " to " : "", to);
		fflush(stdout);
	}

	time_t deadline = time(NULL) + timeout_s;
	char master[64] = "";
	long long master_ms = -1, sync_ms = -1;
	while (time(NULL) < deadline) {
		arc = duetctl_doc_ask(sock, status_req, DUETCTL_ASK_TIMEOUT_S, WHAT, &st, err,
				      sizeof err);
		if (arc == DUETCTL_DOC_OK && read_view(st.doc, &view, err, sizeof err) != 0) {
			duetctl_reply_free(&st);
			arc = DUETCTL_DOC_BAD_REPLY;
		}
		if (arc == DUETCTL_DOC_BAD_REPLY) {
			duetctl_ask_failed(arc, err);
			json_decref(status_req);
			return DUETCTL_FAILED;
		}
		if (arc == DUETCTL_DOC_OK) {
			snprintf(master, sizeof master, "%s", view.master);
			if (master_ms < 0 && master[0] && strcmp(master, old_master) != 0) {
				master_ms = now_ms() - t0;
				if (!json)
					printf("%s is master (%lld ms after the request); %s is "
					       "being rebuilt as its standby\n",
					       master, master_ms, old_master);
				fflush(stdout);
				if (!wait_sync) {
					duetctl_reply_free(&st);
					break;
				}
			}
			if (master_ms >= 0 && member_back(st.doc, old_master)) {
				sync_ms = now_ms() - t0;
				duetctl_reply_free(&st);
				if (!json)
					printf("%s is a synchronous standby again, its checks "
					       "passing (%lld ms after the request)\n",
					       old_master, sync_ms);
				break;
			}
			/* an aborted switchover on the node asked (the old master) */
			if (master_ms < 0 && strcmp(view.state, "aborted") == 0) {
				duetctl_err("%s", view.detail);
				duetctl_reply_free(&st);
				json_decref(status_req);
				return DUETCTL_FAILED;
			}
			duetctl_reply_free(&st);
		}
		usleep(100 * 1000);
	}
	json_decref(status_req);
	bool ok = master_ms >= 0 && (!wait_sync || sync_ms >= 0);
	if (!ok)
		duetctl_err("not done within %u s (master: %s); check duetctl "
			    "status on both data nodes",
			    timeout_s, master[0] ? master : "unknown");
	if (json) {
		json_t *out = json_pack("{s:b, s:s, s:s, s:I, s:I}", "ok", ok, "from", old_master,
					"to", master, "master_after_ms", (json_int_t)master_ms,
					"sync_after_ms", (json_int_t)sync_ms);
		if (!out || duetctl_print_json(out) != 0)
			duetctl_err("cannot write the JSON outcome");
		json_decref(out);
	}
	return ok ? DUETCTL_OK : DUETCTL_FAILED;
}
