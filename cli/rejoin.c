/* SPDX-License-Identifier: MIT */
/*
 * rejoin.c - `duetctl rejoin`: bring a member back after any failure (DESIGN.md
 * 3, incarnations, and 6): a data node whose store, PostgreSQL or both were
 * lost or diverged (the old master after a failover), or the witness.
 *
 * Run on the member while its daemon is stopped (refused if its admin socket
 * answers, unless a rejoin is in progress: then it follows that one). It
 * moves data_dir aside to data_dir.old-<UTC time> (after a confirmation, or
 * with --yes; without a terminal --yes is required) and writes the marker
 * <data_dir>.rejoin (who, why), which makes the daemon start in rejoin mode
 * (daemon/rejoin.c): a fresh store, no vote, until the leader has committed
 * OPERATOR(rejoin, incarnation n+1) and MEMBERSHIP with this member at n+1.
 * Then it starts the daemon (--start CMD) or asks the operator to, and
 * follows the daemon's status through the four steps: a new incarnation,
 * the member's own log naming it (it votes again), the PostgreSQL rebuild
 * the daemon then runs by itself (daemon/ctl_rebuild.c: nothing, pg_rewind
 * or pg_basebackup, whichever the data directory needs), and SYNC on.
 * Running it again after an interruption is safe: the leader raises the
 * incarnation again or answers the one it recorded and that was never used,
 * and the rebuild picks up where it stopped.
 */
#include <getopt.h>
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

#include <libpq-fe.h>

#include "commands.h"
#include "out.h"
#include "doc.h"
#include "duet/config.h"

#define WHY_MAX_BYTES 511

void cmd_rejoin_help(void)
{
	printf("usage: duetctl rejoin [-c FILE] [--yes] [--why TEXT] [--start CMD]\n"
	       "                      [--timeout SECONDS] [--json]\n"
	       "\n"
	       "Brings this member back as a synchronous standby (or, the witness, as a\n"
	       "voter) after any failure: store lost, disk replaced, PostgreSQL diverged\n"
	       "after a failover. Run it with the member's daemon STOPPED: it moves data_dir\n"
	       "aside (to data_dir.old-<time>), writes the marker <data_dir>.rejoin and\n"
	       "follows the daemon (started by you, or by --start CMD) through four steps:\n"
	       "  1. a new incarnation from the leader (OPERATOR(rejoin), MEMBERSHIP)\n"
	       "  2. the leader's snapshot and log replayed; the member votes again\n"
	       "  3. PostgreSQL rebuilt as a standby of the master, as the data directory\n"
	       "     needs: nothing (already streaming), pg_rewind (diverged), or\n"
	       "     pg_basebackup (empty, another system); progress with bytes and ETA\n"
	       "  4. streaming and caught up: the master commits SYNC on\n"
	       "The master keeps serving throughout. Run again after an interruption, it\n"
	       "picks up where it stopped (while the daemon runs, it follows the rejoin).\n"
	       "\n"
	       "  -c, --config FILE the member's config (data_dir, admin_socket; default:\n"
	       "                    $DUET_CONFIG, else /etc/duet/duet.ini)\n"
	       "  --yes             do not ask before moving data_dir aside (required\n"
	       "                    without a terminal)\n"
	       "  --why TEXT        recorded in the audit log, at most 511 bytes\n"
	       "  --start CMD       run CMD (sh -c) to start the daemon\n"
	       "  --timeout SECONDS how long to follow the rejoin (default 3600); the daemon\n"
	       "                    goes on after it\n"
	       "  --json            no progress lines; print the daemon's final status, or\n"
	       "                    {\"error\":{\"code\":...,\"message\":...}}\n"
	       "\n"
	       "Exit status: 0 rejoined, 1 refused, not done in time or a daemon answer that\n"
	       "is not understood (the missing key named), 2 usage error.\n");
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

#define WHAT "status reply"

/* What steps 1 and 2 follow in a status document. Strings point into it. */
struct rejoin_view {
	json_int_t incarnation, commit_index, last_index, asked, view_incarnation;
	const char *state, *answer;
};

static int read_rejoin(const json_t *st, struct rejoin_view *v, char *err, size_t errlen)
{
	json_t *rj;
	if (duetctl_doc_unpack(st, WHAT, "", err, errlen, "{s:I, s:I, s:I, s:o}", "incarnation",
			       &v->incarnation, "commit_index", &v->commit_index, "last_index",
			       &v->last_index, "rejoin", &rj))
		return -1;
	return duetctl_doc_unpack(rj, WHAT, ".rejoin", err, errlen, "{s:s, s:s, s:I, s:I}", "state",
				  &v->state, "answer", &v->answer, "asked", &v->asked,
				  "view_incarnation", &v->view_incarnation);
}

/* What steps 3 and 4 follow: the PostgreSQL rebuild (.pg_rebuild). */
struct rebuild_view {
	const char *state, *method, *step, *error, *detail;
	json_int_t elapsed_ms, state_ms, percent, bytes_done, bytes_total;
};

static int read_rebuild(const json_t *rb, struct rebuild_view *v, char *err, size_t errlen)
{
	return duetctl_doc_unpack(rb, WHAT, ".pg_rebuild", err, errlen,
				  "{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "state",
				  &v->state, "method", &v->method, "step", &v->step, "error",
				  &v->error, "detail", &v->detail, "elapsed_ms", &v->elapsed_ms,
				  "state_ms", &v->state_ms, "percent", &v->percent, "bytes_done",
				  &v->bytes_done, "bytes_total", &v->bytes_total);
}

/* Asks for the status: DUETCTL_DOC_OK with *out filled, or another
 * duetctl_doc_rc with err. */
static int ask_status(const char *sock, struct duetctl_reply *out, char *err, size_t errlen)
{
	json_t *req = json_pack("{s:s}", "cmd", "status");
	if (!req) {
		snprintf(err, errlen, "out of memory");
		out->text = NULL;
		out->doc = NULL;
		return DUETCTL_DOC_UNREACHABLE;
	}
	int rc = duetctl_doc_ask(sock, req, DUETCTL_ASK_TIMEOUT_S, WHAT, out, err, errlen);
	json_decref(req);
	return rc;
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

/* 1 when the PostgreSQL at conninfo answers as a primary, 0 when it answers
 * as a standby or does not answer (then err says why). */
static int local_primary(const char *conninfo, char *err, size_t errlen)
{
	const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
	const char *vals[] = {conninfo, "3", "duetctl-rejoin", NULL};
	PGconn *c = PQconnectdbParams(keys, vals, 1);
	int rc = 0;
	if (c && PQstatus(c) == CONNECTION_OK) {
		PGresult *r = PQexec(c, "SELECT pg_is_in_recovery()");
		if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
			rc = PQgetvalue(r, 0, 0)[0] == 'f';
		PQclear(r);
	} else {
		snprintf(err, errlen, "%s", c ? PQerrorMessage(c) : "out of memory");
	}
	PQfinish(c);
	return rc;
}

/* Prints a progress line: on a terminal it replaces the previous one. */
static void progress(bool tty, const char *line, char *last, size_t cap)
{
	if (strcmp(line, last) == 0)
		return;
	if (tty)
		printf("\r\033[K%s", line);
	else
		printf("%s\n", line);
	fflush(stdout);
	snprintf(last, cap, "%s", line);
}

static void progress_end(bool tty, const char *last)
{
	if (tty && last[0])
		putchar('\n');
}

static void human_bytes(unsigned long long b, char *out, size_t cap)
{
	if (b >= 10ull << 30)
		snprintf(out, cap, "%.1f GiB", (double)b / (1ull << 30));
	else if (b >= 10ull << 20)
		snprintf(out, cap, "%.0f MiB", (double)b / (1ull << 20));
	else
		snprintf(out, cap, "%.1f MiB", (double)b / (1ull << 20));
}

/* Steps 1 and 2: the new incarnation, recorded in the member's own log.
 * Returns DUETCTL_OK, or DUETCTL_FAILED after the deadline or on a reply
 * that is not a status document; *st_out gets the last status (caller
 * frees). */
static int wait_incarnation(const char *sock, const char *marker, time_t deadline, bool tty,
			    struct duetctl_reply *st_out)
{
	char last[512] = "";
	time_t asking_since = 0;
	bool hinted = false;
	while (time(NULL) < deadline) {
		char err[512] = "";
		struct duetctl_reply st;
		struct rejoin_view v;
		int arc = ask_status(sock, &st, err, sizeof err);
		if (arc == DUETCTL_DOC_OK && read_rejoin(st.doc, &v, err, sizeof err) != 0)
			arc = DUETCTL_DOC_BAD_REPLY;
		if (arc == DUETCTL_DOC_BAD_REPLY) {
			progress_end(tty, last);
			duetctl_err("%s", err);
			duetctl_reply_free(&st);
			return DUETCTL_FAILED;
		}
		char line[512];
		if (arc != DUETCTL_DOC_OK) {
			snprintf(line, sizeof line,
				 "step 1/4: waiting for the daemon's admin socket %s", sock);
		} else {
			unsigned long long inc = (unsigned long long)v.incarnation;
			unsigned long long view = (unsigned long long)v.view_incarnation;
			/* "none": a daemon restarted after its rejoin (marker gone) */
			bool done = strcmp(v.state, "rejoined") == 0 ||
				    (strcmp(v.state, "none") == 0 && inc > 1 && view == inc &&
				     access(marker, F_OK) != 0);
			if (done) {
				progress_end(tty, last);
				printf(
				    "step 2/4: rejoined under incarnation %llu, recorded in this "
				    "member's own log at commit %lld; it votes again\n",
				    inc, (long long)v.commit_index);
				fflush(stdout);
				*st_out = st;
				return DUETCTL_OK;
			}
			bool asking = strcmp(v.state, "waiting_for_leader") == 0;
			if (asking && !asking_since)
				asking_since = time(NULL);
			if (asking_since && !hinted && time(NULL) - asking_since >= 15 && asking) {
				hinted = true;
				progress_end(tty, last);
				last[0] = 0;
				printf("no leader has answered for 15 s: the other members may be "
				       "down or without a quorum (duetctl status on them); still "
				       "asking\n");
			}
			if (asking)
				snprintf(line, sizeof line,
					 "step 1/4: asking the leader for a new incarnation (%lld "
					 "asks)%s%s",
					 (long long)v.asked, v.answer[0] ? ": " : "", v.answer);
			else
				snprintf(
				    line, sizeof line,
				    "step 2/4: incarnation %llu stored; catching up: log index "
				    "%lld, leader commit %lld, own view has incarnation %llu",
				    inc, (long long)v.last_index, (long long)v.commit_index, view);
			duetctl_reply_free(&st);
		}
		progress(tty, line, last, sizeof last);
		usleep(100 * 1000);
	}
	progress_end(tty, last);
	duetctl_err("no new incarnation in time (last: %s). If no leader answers, "
		    "the cluster may have no quorum: check duetctl status on the other members. To "
		    "undo, stop the daemon, delete %s and move the old store back",
		    last, marker);
	return DUETCTL_FAILED;
}

/* Steps 3 and 4: the daemon rebuilds its PostgreSQL as a standby
 * (ctl_rebuild.c) until the master commits SYNC on for it. */
static int wait_rebuild(const char *sock, time_t deadline, bool tty, bool json)
{
	char last[512] = "";
	while (time(NULL) < deadline) {
		char err[512] = "";
		struct duetctl_reply st;
		int arc = ask_status(sock, &st, err, sizeof err);
		if (arc != DUETCTL_DOC_OK) {
			progress_end(tty, last);
			if (arc == DUETCTL_DOC_UNREACHABLE)
				duetctl_err("the daemon stopped answering (%s)", err);
			else
				duetctl_err("%s", err);
			return DUETCTL_FAILED;
		}
		const json_t *rb = duetctl_doc_object(st.doc, "pg_rebuild");
		if (!rb) {
			duetctl_reply_free(&st);
			break;
		}
		struct rebuild_view v;
		if (read_rebuild(rb, &v, err, sizeof err) != 0) {
			progress_end(tty, last);
			duetctl_err("%s", err);
			duetctl_reply_free(&st);
			return DUETCTL_FAILED;
		}
		if (strcmp(v.state, "done") == 0) {
			progress_end(tty, last);
			if (json)
				duetctl_print_json_line(st.text);
			else
				printf(
				    "step 4/4: a synchronous standby again (PostgreSQL: %s, %.1f "
				    "s)%s%s\n",
				    v.method, (double)v.elapsed_ms / 1000.0,
				    v.detail[0] ? "; " : "", v.detail);
			duetctl_reply_free(&st);
			return DUETCTL_OK;
		}
		if (strcmp(v.state, "failed") == 0) {
			progress_end(tty, last);
			duetctl_err("the PostgreSQL rebuild failed: %s", v.error);
			duetctl_reply_free(&st);
			return DUETCTL_FAILED;
		}
		char line[512];
		if (strcmp(v.state, "rewind") == 0 || strcmp(v.state, "basebackup") == 0) {
			/* percent is -1 while the total is not known */
			long long pct = v.percent;
			unsigned long long in_state = (unsigned long long)v.state_ms;
			char d[32], t[32], eta[48] = "";
			human_bytes((unsigned long long)v.bytes_done, d, sizeof d);
			human_bytes((unsigned long long)v.bytes_total, t, sizeof t);
			if (pct > 0 && pct < 100 && in_state > 0) {
				unsigned long long left =
				    in_state * (100u - (unsigned)pct) / (unsigned)pct / 1000u;
				snprintf(eta, sizeof eta, ", ETA %llum%02llus", left / 60,
					 left % 60);
			}
			if (pct >= 0)
				snprintf(line, sizeof line, "step 3/4: %s: %s of %s (%lld%%)%s",
					 v.state, d, t, pct, eta);
			else
				snprintf(line, sizeof line, "step 3/4: %s: %s", v.state,
					 v.step[0] ? v.step : "starting");
		} else if (strcmp(v.state, "waiting_sync") == 0) {
			snprintf(line, sizeof line, "step 4/4: %s",
				 v.step[0] ? v.step : "waiting for SYNC on");
		} else {
			snprintf(line, sizeof line, "step 3/4: PostgreSQL: %s%s%s", v.state,
				 v.step[0] ? ": " : "", v.step);
		}
		if (v.error[0] && strcmp(v.state, "stopping") == 0) {
			size_t len = strlen(line);
			snprintf(line + len, sizeof line - len, " (last failure, retrying: %s)",
				 v.error);
		}
		duetctl_reply_free(&st);
		progress(tty, line, last, sizeof last);
		usleep(100 * 1000);
	}
	progress_end(tty, last);
	if (time(NULL) >= deadline) {
		duetctl_err("PostgreSQL not a synchronous standby in time (last: %s); "
			    "the daemon goes on: run duetctl rejoin again to follow it",
			    last);
		return DUETCTL_FAILED;
	}
	return DUETCTL_OK; /* no PostgreSQL managed here (the witness) */
}

/* Follows a rejoin whose daemon runs: incarnation, then PostgreSQL. */
static int follow(const char *sock, const char *marker, unsigned timeout_s, bool json)
{
	time_t deadline = time(NULL) + timeout_s;
	bool tty = !json && isatty(1);
	struct duetctl_reply st;
	int rc = wait_incarnation(sock, marker, deadline, tty, &st);
	if (rc != DUETCTL_OK)
		return rc;
	bool pg = json_is_true(json_object_get(duetctl_doc_object(st.doc, "pg"), "managed"));
	if (!pg) {
		if (json)
			duetctl_print_json_line(st.text);
		duetctl_reply_free(&st);
		return DUETCTL_OK;
	}
	duetctl_reply_free(&st);
	return wait_rebuild(sock, deadline, tty, json);
}

int cmd_rejoin(int argc, char **argv)
{
	const char *config = NULL, *why = "", *start = NULL;
	bool yes = false, json = false;
	unsigned timeout_s = 3600;
	static const struct option opts[] = {
	    {"why", required_argument, NULL, 'y'},
	    {"config", required_argument, NULL, 'c'},
	    {"start", required_argument, NULL, 'S'},
	    {"timeout", required_argument, NULL, 'T'},
	    {"yes", no_argument, NULL, 'Y'},
	    {"json", no_argument, NULL, 'j'},
	    {NULL, 0, NULL, 0},
	};
	int opt;
	while ((opt = getopt_long(argc, argv, DUETCTL_SHORTOPTS("c:"), opts, NULL)) != -1) {
		switch (opt) {
		case 'y':
			why = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'S':
			start = optarg;
			break;
		case 'T':
			if (duetctl_parse_uint(optarg, 1, 604800, &timeout_s) != 0)
				return duetctl_usage_error("--timeout needs 1..604800 seconds");
			break;
		case 'Y':
			yes = true;
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
	config = duet_config_path(config);
	if (strlen(why) > WHY_MAX_BYTES) {
		duetctl_err("--why is %zu bytes; the entry keeps at most %d", strlen(why),
			    WHY_MAX_BYTES);
		return DUETCTL_USAGE;
	}
	struct duet_config *cfg = calloc(1, sizeof *cfg);
	struct duet_config_errors *errs = calloc(1, sizeof *errs);
	if (!cfg || !errs || duet_config_load(config, 0, cfg, errs) != 0) {
		if (errs && errs->n)
			duetctl_config_errors(errs);
		duetctl_err("%s is not a valid config", config);
		free(cfg);
		free(errs);
		return DUETCTL_FAILED;
	}
	free(errs);
	int rc = DUETCTL_FAILED;
	char err[512] = "";
	const char *sock = cfg->admin_socket;
	char marker[PATH_MAX + 16], aside[PATH_MAX + 64];
	snprintf(marker, sizeof marker, "%s.rejoin", cfg->data_dir);
	struct duetctl_reply ans;
	int arc = ask_status(sock, &ans, err, sizeof err);
	if (arc == DUETCTL_DOC_BAD_REPLY) {
		duetctl_err("the admin socket %s answers, but not with a status "
			    "document (%s); is the daemon of %s running?",
			    sock, err, cfg->node_name);
		goto out;
	}
	if (arc == DUETCTL_DOC_OK) {
		/* a rejoin in progress (this command was interrupted): follow it */
		char rstate[32] = "", bstate[32] = "";
		const json_t *rj = duetctl_doc_object(ans.doc, "rejoin");
		const json_t *rb = duetctl_doc_object(ans.doc, "pg_rebuild");
		const char *r = json_string_value(json_object_get(rj, "state"));
		const char *b = json_string_value(json_object_get(rb, "state"));
		snprintf(rstate, sizeof rstate, "%s", r ? r : "");
		snprintf(bstate, sizeof bstate, "%s", b ? b : "");
		duetctl_reply_free(&ans);
		bool busy = strcmp(rstate, "waiting_for_leader") == 0 ||
			    strcmp(rstate, "catching_up") == 0 ||
			    (bstate[0] && strcmp(bstate, "idle") != 0 &&
			     strcmp(bstate, "done") != 0 && strcmp(bstate, "failed") != 0);
		if (busy) {
			printf("a rejoin of %s is in progress: following it\n", cfg->node_name);
			rc = follow(sock, marker, timeout_s, json);
			goto out;
		}
		duetctl_err("the daemon of %s is running (its admin socket %s "
			    "answers); stop it first: rejoin replaces its store",
			    cfg->node_name, sock);
		goto out;
	}
	/* the most likely harm: rejoin run on the serving master */
	if (cfg->self_kind == DUET_MEMBER_DATA && cfg->act.pg_conninfo[0] &&
	    local_primary(cfg->act.pg_conninfo, err, sizeof err) == 1) {
		fprintf(
		    stderr,
		    "duetctl rejoin: the local PostgreSQL (%s) answers as a PRIMARY: %s looks like "
		    "the serving master, and rejoin would make it a standby of the other node, "
		    "discarding its writes. If the other node has taken over (duetctl status "
		    "there says it is master), stop this PostgreSQL first ([pg] stop_command) "
		    "and run duetctl rejoin again. Nothing was changed.\n",
		    cfg->act.pg_conninfo, cfg->node_name);
		goto out;
	}
	struct stat sb;
	if (stat(cfg->data_dir, &sb) == 0) {
		char ts[32];
		time_t now = time(NULL);
		strftime(ts, sizeof ts, "%Y%m%dT%H%M%SZ", gmtime(&now));
		snprintf(aside, sizeof aside, "%s.old-%s", cfg->data_dir, ts);
		/* a second rejoin within the same second keeps both copies */
		for (int k = 2; k < 100 && access(aside, F_OK) == 0; k++)
			snprintf(aside, sizeof aside, "%s.old-%s-%d", cfg->data_dir, ts, k);
		if (!yes) {
			if (!isatty(0)) {
				duetctl_err("no terminal to confirm moving %s aside; "
					    "pass --yes",
					    cfg->data_dir);
				goto out;
			}
			printf("move %s aside to %s and rejoin %s with a new incarnation? [y/N] ",
			       cfg->data_dir, aside, cfg->node_name);
			fflush(stdout);
			char a[16] = "";
			if (!fgets(a, sizeof a, stdin) || (a[0] != 'y' && a[0] != 'Y')) {
				duetctl_err("not confirmed; nothing changed");
				goto out;
			}
		}
		if (rename(cfg->data_dir, aside) != 0) {
			duetctl_err("cannot move %s to %s: %s", cfg->data_dir, aside,
				    strerror(errno));
			goto out;
		}
		printf("moved %s aside to %s\n", cfg->data_dir, aside);
	}
	char who[32];
	duetctl_operator_who(who, sizeof who);
	int mrc = write_marker(marker, who, why[0] ? why : "(no reason given)");
	if (mrc) {
		duetctl_err("cannot write the marker %s: %s", marker, strerror(-mrc));
		goto out;
	}
	printf("wrote %s: the daemon starts in rejoin mode\n", marker);
	if (start) {
		if (start_daemon(start) != 0) {
			duetctl_err("cannot run '%s'", start);
			goto out;
		}
		printf("started: %s\n", start);
	} else {
		printf("start the daemon now (%s --config %s); waiting for it\n",
		       cfg->self_kind == DUET_MEMBER_WITNESS ? "duet-witness" : "duetd", config);
	}
	fflush(stdout);
	rc = follow(sock, marker, timeout_s, json);
out:
	duet_config_free(cfg);
	free(cfg);
	return rc;
}
