/* SPDX-License-Identifier: MIT */
/*
 * promote.c - `duetctl promote --accept-data-loss`: the operator's override
 * of DESIGN.md 4.5. When no standby is promotable (the standby was not
 * synchronous when the master was lost), the cluster waits; this command,
 * run on the node to promote, has its daemon commit OPERATOR(force promote)
 * with who and why, then MASTER(self, forced). Writes the old master
 * acknowledged after the standby stopped being synchronous are lost: the
 * flag says the person knows.
 */
#include <getopt.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "out.h"
#include "doc.h"

void cmd_promote_help(void)
{
	printf("usage: duetctl promote --accept-data-loss [--why TEXT] [-c FILE | --socket PATH]\n"
	       "                       [--json]\n"
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
	       "  -c, --config FILE   this node's config (for its admin_socket; default:\n"
	       "                      $DUET_CONFIG, else /etc/duet/duet.ini)\n"
	       "  --socket PATH       or the admin socket itself\n"
	       "  --json              print the daemon's answer as is; an error as\n"
	       "                      {\"error\":{\"code\":...,\"message\":...}}\n"
	       "\n"
	       "Exit status: 0 proposed, 1 refused (reason printed), 2 usage error.\n");
}

json_t *duetctl_operator_request(const char *cmd, const char *why, char *err, size_t errlen,
				 const char *fields, ...)
{
	char who[32]; /* DUET_NAME_MAX: the OPERATOR entry keeps 31 bytes */
	duetctl_operator_who(who, sizeof who);
	json_t *jwhy = json_string(why);
	if (!jwhy) {
		snprintf(err, errlen, "--why is not valid UTF-8");
		return NULL;
	}
	json_error_t je;
	va_list ap;
	va_start(ap, fields);
	json_t *extra = json_vpack_ex(&je, 0, fields, ap);
	va_end(ap);
	if (!extra) {
		json_decref(jwhy);
		snprintf(err, errlen, "cannot build the request: %s", je.text);
		return NULL;
	}
	/* json_pack keeps the keys in the order written: cmd, fields, who, why */
	json_t *req = json_pack_ex(&je, 0, "{s:s}", "cmd", cmd);
	const char *key;
	json_t *v;
	if (req)
		json_object_foreach(extra, key, v) json_object_set(req, key, v);
	json_decref(extra);
	if (!req) {
		json_decref(jwhy);
		snprintf(err, errlen, "cannot build the request: %s", je.text);
		return NULL;
	}
	int bad = json_object_set_new(req, "who", json_string(who));
	bad |= json_object_set_new(req, "why", jwhy);
	if (bad) {
		json_decref(req);
		snprintf(err, errlen, "cannot build the request: user@host '%s' is not UTF-8", who);
		return NULL;
	}
	return req;
}

void duetctl_why_hint(const char *cmd, const char *why)
{
	for (const unsigned char *p = (const unsigned char *)why; *p; p++)
		if (*p < 0x20 || *p == 0x7f) {
			fprintf(stderr,
				"duetctl %s: note: --why holds a newline or another control "
				"character; a duetd older than this duetctl refuses them: "
				"upgrade it, or leave them out\n",
				cmd);
			return;
		}
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
	static const struct option opts[] = {
	    {"accept-data-loss", no_argument, NULL, 'A'},
	    {"why", required_argument, NULL, 'y'},
	    {"socket", required_argument, NULL, 's'},
	    {"config", required_argument, NULL, 'c'},
	    {"json", no_argument, NULL, 'j'},
	    {NULL, 0, NULL, 0},
	};
	int opt;
	while ((opt = getopt_long(argc, argv, DUETCTL_SHORTOPTS("c:"), opts, NULL)) != -1) {
		switch (opt) {
		case 'A':
			accept = true;
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
		case 'j':
			json = true;
			break;
		default:
			return duetctl_bad_option(opt, argv);
		}
	}
	if (optind < argc)
		return duetctl_extra_args(argc, argv);
	if (!accept) {
		duetctl_err("refusing without --accept-data-loss: a node "
			    "that is not a synchronous standby may miss acknowledged writes");
		return DUETCTL_USAGE;
	}
	int src = duetctl_admin_socket("promote", config, &sock);
	if (src)
		return src;
	char err[512] = "";
	json_t *req = duetctl_operator_request("promote", why, err, sizeof err, "{s:i}",
					       "accept_data_loss", 1);
	if (!req) {
		duetctl_err("%s", err);
		return DUETCTL_USAGE;
	}
	struct duetctl_reply reply;
	int arc = duetctl_doc_ask(sock, req, DUETCTL_ASK_TIMEOUT_S, "promote reply", &reply, err,
				  sizeof err);
	json_decref(req);
	if (arc != DUETCTL_DOC_OK) {
		duetctl_ask_failed(arc, err);
		return DUETCTL_FAILED;
	}
	int ok = 0;
	if (duetctl_doc_unpack(reply.doc, "promote reply", "", err, sizeof err, "{s:b}", "ok",
			       &ok)) {
		duetctl_err_code(DUETCTL_E_BAD_REPLY, "%s", err);
		duetctl_reply_free(&reply);
		return DUETCTL_FAILED;
	}
	const char *derr = duetctl_doc_error(reply.doc);
	if (json && ok) {
		duetctl_print_json_line(reply.text);
	} else if (ok) {
		printf("forced promotion proposed: OPERATOR and MASTER entries; follow it with "
		       "duetctl status / duetctl log --follow\n");
	} else {
		duetctl_err_code(DUETCTL_E_REFUSED, "%s", derr ? derr : reply.text);
		duetctl_why_hint("promote", why);
	}
	duetctl_reply_free(&reply);
	return ok ? DUETCTL_OK : DUETCTL_FAILED;
}
