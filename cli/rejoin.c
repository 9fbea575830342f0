/*
 * rejoin.c - `duetctl rejoin`: bring back a member whose LMDB store was lost
 * (DESIGN.md 3, incarnations, and 6), the consensus half: a data node whose
 * PostgreSQL is intact, or the witness.
 *
 * Run on the member while its daemon is stopped (refused if its admin socket
 * answers). It moves data_dir aside to data_dir.old-<UTC time> (after a
 * confirmation, or with --yes; without a terminal --yes is required) and
 * writes the marker <data_dir>.rejoin (who, why), which makes the daemon
 * start in rejoin mode (daemon/rejoin.c): a fresh store, no vote, until the
 * leader has committed OPERATOR(rejoin, incarnation n+1) and MEMBERSHIP with
 * this member at n+1. Then it starts the daemon (--start CMD) or asks the
 * operator to, and follows the daemon's status until its own membership
 * view names the new incarnation (it votes again) or --timeout passes.
 * Running it again after an interruption is safe: the leader raises the
 * incarnation again or answers the one it recorded and that was never used.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "duet/config.h"

#define WHY_MAX_BYTES 511

void cmd_rejoin_help(void)
{
	printf("usage: duetctl rejoin --config FILE [--yes] [--why TEXT] [--start CMD]\n"
	       "                      [--timeout SECONDS] [--json]\n"
	       "\n"
	       "Brings this member back after its LMDB store (data_dir) was lost. Run it\n"
	       "with the member's daemon STOPPED: it moves data_dir aside (to\n"
	       "data_dir.old-<time>), writes the marker <data_dir>.rejoin and waits for the\n"
	       "daemon (started by you, or by --start CMD) to get a new incarnation from the\n"
	       "leader (OPERATOR(rejoin) and MEMBERSHIP, committed) and catch up; it votes\n"
	       "again once its own log records the new incarnation.\n"
	       "\n"
	       "  --config FILE     the member's config (data_dir, admin_socket)\n"
	       "  --yes             do not ask before moving data_dir aside (required\n"
	       "                    without a terminal)\n"
	       "  --why TEXT        recorded in the audit log, at most 511 bytes\n"
	       "  --start CMD       run CMD (sh -c) to start the daemon\n"
	       "  --timeout SECONDS how long to wait for the rejoin (default 300)\n"
	       "  --json            print the daemon's final status line as is\n"
	       "\n"
	       "Exit status: 0 rejoined, 1 refused or not done in time, 2 usage error.\n");
}

static int write_marker(const char *path, const char *who, const char *why)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -errno;
	char buf[2 * WHY_MAX_BYTES + 64];
	int len = snprintf(buf, sizeof buf, "%s\n", who);
	for (const char *p = why; *p && len + 2 < (int)sizeof buf; p++)
		buf[len++] = *p == '\n' ? ' ' : *p;
	buf[len++] = '\n';
	int rc = 0;
	if (write(fd, buf, (size_t)len) != len || fsync(fd) != 0)
		rc = errno ? -errno : -EIO;
	close(fd);
	return rc;
}

/* The integer after "key": in s, or 0. */
static unsigned long long num_of(const char *s, const char *key)
{
	char pat[48];
	snprintf(pat, sizeof pat, "\"%s\":", key);
	const char *p = strstr(s, pat);
	return p ? strtoull(p + strlen(pat), NULL, 10) : 0;
}

static void str_of(const char *s, const char *key, char *out, size_t cap)
{
	char pat[48];
	snprintf(pat, sizeof pat, "\"%s\":\"", key);
	const char *p = strstr(s, pat);
	size_t i = 0;
	if (p)
		for (p += strlen(pat); *p && *p != '"' && i + 1 < cap; p++)
			out[i++] = *p;
	out[i] = 0;
}

static int start_daemon(const char *cmd)
{
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		setsid();
		int fd = open("/dev/null", O_RDONLY);
		if (fd >= 0)
			dup2(fd, 0);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	return 0;
}

static int wait_rejoined(const char *sock, const char *marker, unsigned timeout_s, bool json)
{
	time_t deadline = time(NULL) + timeout_s;
	char last[512] = "";
	while (time(NULL) < deadline) {
		char err[512] = "";
		char *st = duetctl_ask(sock, "{\"cmd\":\"status\"}\n", err, sizeof err);
		char line[512];
		if (!st) {
			snprintf(line, sizeof line, "waiting for the daemon's admin socket %s",
				 sock);
		} else {
			const char *rj = strstr(st, "\"rejoin\":{");
			char state[32] = "", answer[256] = "";
			if (rj) {
				str_of(rj, "state", state, sizeof state);
				str_of(rj, "answer", answer, sizeof answer);
			}
			unsigned long long inc = num_of(st, "incarnation");
			unsigned long long view = rj ? num_of(rj, "view_incarnation") : 0;
			/* "none": a daemon restarted after its rejoin (marker gone) */
			bool done = strcmp(state, "rejoined") == 0 ||
				    (strcmp(state, "none") == 0 && inc > 1 && view == inc &&
				     access(marker, F_OK) != 0);
			if (done) {
				if (json)
					printf("%s\n", st);
				else
					printf(
					    "rejoined: incarnation %llu, recorded in this member's "
					    "own log at commit %llu; it votes again\n",
					    inc, num_of(st, "commit_index"));
				free(st);
				return DUETCTL_OK;
			}
			if (strcmp(state, "waiting_for_leader") == 0)
				snprintf(line, sizeof line,
					 "step 1/2: asking the leader for a new incarnation (%llu "
					 "asks)%s%s",
					 rj ? num_of(rj, "asked") : 0, answer[0] ? ": " : "",
					 answer);
			else
				snprintf(
				    line, sizeof line,
				    "step 2/2: incarnation %llu stored; catching up: log index "
				    "%llu, leader commit %llu, own view has incarnation %llu",
				    inc, num_of(st, "last_index"), num_of(st, "commit_index"),
				    view);
			free(st);
		}
		if (strcmp(line, last) != 0 && !json) {
			printf("%s\n", line);
			fflush(stdout);
			snprintf(last, sizeof last, "%s", line);
		}
		usleep(250 * 1000);
	}
	fprintf(stderr,
		"duetctl rejoin: not rejoined within %u s (last: %s); run it again with the "
		"daemon stopped, or check duetctl status on the leader\n",
		timeout_s, last);
	return DUETCTL_FAILED;
}

int cmd_rejoin(int argc, char **argv)
{
	const char *config = NULL, *why = "", *start = NULL;
	bool yes = false, json = false;
	unsigned timeout_s = 300;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--why") == 0 && i + 1 < argc)
			why = argv[++i];
		else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			config = argv[++i];
		else if (strcmp(argv[i], "--start") == 0 && i + 1 < argc)
			start = argv[++i];
		else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
			timeout_s = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--yes") == 0)
			yes = true;
		else if (strcmp(argv[i], "--json") == 0)
			json = true;
		else {
			fprintf(stderr, "duetctl rejoin: unknown argument '%s'; see --help\n",
				argv[i]);
			return DUETCTL_USAGE;
		}
	}
	if (!config) {
		fprintf(stderr, "duetctl rejoin: --config FILE is required; see --help\n");
		return DUETCTL_USAGE;
	}
	if (strlen(why) > WHY_MAX_BYTES) {
		fprintf(stderr, "duetctl rejoin: --why is %zu bytes; the entry keeps at most %d\n",
			strlen(why), WHY_MAX_BYTES);
		return DUETCTL_USAGE;
	}
	struct duet_config *cfg = calloc(1, sizeof *cfg);
	struct duet_config_errors *errs = calloc(1, sizeof *errs);
	if (!cfg || !errs || duet_config_load(config, 0, cfg, errs) != 0) {
		if (errs && errs->n)
			duet_config_errors_print(stderr, errs);
		fprintf(stderr, "duetctl rejoin: %s is not a valid config\n", config);
		free(cfg);
		free(errs);
		return DUETCTL_FAILED;
	}
	free(errs);
	int rc = DUETCTL_FAILED;
	char err[512] = "";
	const char *sock = cfg->admin_socket;
	char *ans = duetctl_ask(sock, "{\"cmd\":\"status\"}\n", err, sizeof err);
	if (ans) {
		free(ans);
		fprintf(stderr,
			"duetctl rejoin: the daemon of %s is running (its admin socket %s "
			"answers); stop it first: rejoin replaces its store\n",
			cfg->node_name, sock);
		goto out;
	}
	char marker[PATH_MAX + 16], aside[PATH_MAX + 64];
	snprintf(marker, sizeof marker, "%s.rejoin", cfg->data_dir);
	struct stat sb;
	if (stat(cfg->data_dir, &sb) == 0) {
		char ts[32];
		time_t now = time(NULL);
		strftime(ts, sizeof ts, "%Y%m%dT%H%M%SZ", gmtime(&now));
		snprintf(aside, sizeof aside, "%s.old-%s", cfg->data_dir, ts);
		if (!yes) {
			if (!isatty(0)) {
				fprintf(stderr,
					"duetctl rejoin: no terminal to confirm moving %s aside; "
					"pass --yes\n",
					cfg->data_dir);
				goto out;
			}
			printf("move %s aside to %s and rejoin %s with a new incarnation? [y/N] ",
			       cfg->data_dir, aside, cfg->node_name);
			fflush(stdout);
			char a[16] = "";
			if (!fgets(a, sizeof a, stdin) || (a[0] != 'y' && a[0] != 'Y')) {
				fprintf(stderr, "duetctl rejoin: not confirmed; nothing changed\n");
				goto out;
			}
		}
		if (rename(cfg->data_dir, aside) != 0) {
			fprintf(stderr, "duetctl rejoin: cannot move %s to %s: %s\n", cfg->data_dir,
				aside, strerror(errno));
			goto out;
		}
		printf("moved %s aside to %s\n", cfg->data_dir, aside);
	}
	char who[32];
	duetctl_operator_who(who, sizeof who);
	int mrc = write_marker(marker, who, why[0] ? why : "(no reason given)");
	if (mrc) {
		fprintf(stderr, "duetctl rejoin: cannot write the marker %s: %s\n", marker,
			strerror(-mrc));
		goto out;
	}
	printf("wrote %s: the daemon starts in rejoin mode\n", marker);
	if (start) {
		if (start_daemon(start) != 0) {
			fprintf(stderr, "duetctl rejoin: cannot run '%s'\n", start);
			goto out;
		}
		printf("started: %s\n", start);
	} else {
		printf("start the daemon now (%s --config %s); waiting for it\n",
		       cfg->self_kind == DUET_MEMBER_WITNESS ? "duet-witness" : "duetd", config);
	}
	fflush(stdout);
	rc = wait_rejoined(sock, marker, timeout_s, json);
out:
	duet_config_free(cfg);
	free(cfg);
	return rc;
}
