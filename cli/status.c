/* SPDX-License-Identifier: MIT */
/*
 * status.c - `duetctl status`: asks a member's admin socket for its status
 * (daemon/admin.c: one JSON request line, one JSON response line) and prints
 * it as a table, or raw with --json, once or every second with --watch.
 *
 * The reply is parsed with jansson (doc.c) and the table written from the
 * parsed document (status_text.c); --json is the interface for tools and
 * prints the reply line untouched.
 */
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "out.h"
#include "doc.h"
#include "duet/config.h"
#include "status_text.h"

void cmd_status_help(void)
{
	printf("usage: duetctl status [--socket PATH | -c FILE] [--json] [--watch]\n"
	       "\n"
	       "Asks a running duetd / duet-witness for its status over its admin socket\n"
	       "(the config's admin_socket, default <data_dir>/admin.sock): member, role,\n"
	       "term, leader, commit/applied/last index, lease, master, maintenance (when\n"
	       "on: since which entry, who, why), peers (match index and last ack, on the\n"
	       "leader), transport links and refusals, raft counters.\n"
	       "\n"
	       "  --socket PATH       the admin socket to ask\n"
	       "  -c, --config FILE   take admin_socket from this config (default: $DUET_CONFIG,\n"
	       "                      else /etc/duet/duet.ini)\n"
	       "  --json              print the daemon's JSON object as is (one line); an error\n"
	       "                      as {\"error\":{\"code\":...,\"message\":...}}\n"
	       "  --watch             repeat every second until interrupted\n"
	       "\n"
	       "Exit status: 0 answered, 1 the daemon could not be reached or its reply is\n"
	       "not a status document (the missing or mistyped key is named), 2 usage error.\n");
}

int duetctl_admin_socket(const char *cmd, const char *config, const char **sock)
{
	static struct duet_config cfg;
	static struct duet_config_errors errs;
	(void)cmd;
	if (*sock)
		return DUETCTL_OK;
	if (duet_config_load(duet_config_path(config), DUET_CONFIG_SKIP_FILES, &cfg, &errs) != 0) {
		duetctl_config_errors(&errs);
		return DUETCTL_FAILED;
	}
	*sock = cfg.admin_socket;
	return DUETCTL_OK;
}

/* The table of a status reply, printed only when the whole of it could be
 * written (no half table above an error). */
static int print_status(const json_t *doc, char *err, size_t errlen)
{
	const char *derr = duetctl_doc_error(doc);
	if (derr && !json_is_true(json_object_get(doc, "ok"))) {
		snprintf(err, errlen, "the daemon answered an error: %s", derr);
		return DUETCTL_FAILED;
	}
	char *text = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);
	if (!f) {
		snprintf(err, errlen, "out of memory");
		return DUETCTL_FAILED;
	}
	int prc = duetctl_status_print(f, doc, err, errlen);
	if (fclose(f) != 0 && prc == 0) {
		snprintf(err, errlen, "out of memory");
		prc = -1;
	}
	if (prc == 0)
		fwrite(text, 1, size, stdout);
	free(text);
	return prc == 0 ? DUETCTL_OK : DUETCTL_FAILED;
}

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig)
{
	interrupted = 1;
}

int cmd_status(int argc, char **argv)
{
	const char *sock = NULL, *config = NULL;
	bool json = false, watch = false;
	static const struct option opts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"config", required_argument, NULL, 'c'},
	    {"json", no_argument, NULL, 'j'},
	    {"watch", no_argument, NULL, 'w'},
	    {NULL, 0, NULL, 0},
	};
	int opt;
	while ((opt = getopt_long(argc, argv, DUETCTL_SHORTOPTS("c:"), opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			sock = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'w':
			watch = true;
			break;
		default:
			return duetctl_bad_option(opt, argv);
		}
	}
	if (optind < argc)
		return duetctl_extra_args(argc, argv);
	int src = duetctl_admin_socket("status", config, &sock);
	if (src)
		return src;
	if (watch)
		signal(SIGINT, on_sigint);
	json_t *req = json_pack("{s:s}", "cmd", "status");
	if (!req) {
		duetctl_err("out of memory");
		return DUETCTL_FAILED;
	}
	int rc = DUETCTL_OK;
	do {
		char err[512] = "";
		struct duetctl_reply reply;
		int arc = duetctl_doc_ask(sock, req, DUETCTL_ASK_TIMEOUT_S, "status reply", &reply,
					  err, sizeof err);
		if (watch && !json)
			printf("\033[H\033[2J");
		rc = DUETCTL_OK;
		if (arc == DUETCTL_DOC_OK && json) {
			duetctl_print_json_line(reply.text);
		} else if (arc == DUETCTL_DOC_OK) {
			rc = print_status(reply.doc, err, sizeof err);
			if (rc != DUETCTL_OK)
				duetctl_err_code(DUETCTL_E_BAD_REPLY, "%s", err);
		} else {
			rc = DUETCTL_FAILED;
			duetctl_ask_failed(arc, err);
		}
		duetctl_reply_free(&reply);
		if (watch && rc != DUETCTL_OK)
			duetctl_flush_error(rc); /* --json: one error line per round */
		fflush(stdout);
		if (watch && !interrupted)
			sleep(1);
	} while (watch && !interrupted);
	json_decref(req);
	return rc;
}
