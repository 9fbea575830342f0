/* SPDX-License-Identifier: MIT */
/*
 * list.c - `duetctl list`: the whole cluster in one table from any member,
 * like `patronictl list`: one row per member of the asked member's raft
 * membership, from that member's own view (one status document: its raft
 * status, its applied state, its local PostgreSQL probe and, on the
 * master, pg_stat_replication for the standby's lag).
 *
 * What the asked member cannot know (the acting state of another data
 * node, a standby's lag asked on the standby, ...) is "?" in the table and
 * null in --json; what does not apply (the witness has no PostgreSQL,
 * no checks, no SYNC) is "-" and null. The reply is parsed with jansson
 * (doc.c); --json writes a document of its own, made with jansson.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <getopt.h>

#include "commands.h"
#include "doc.h"
#include "out.h"

void cmd_list_help(void)
{
	printf("usage: duetctl list [-c FILE | --socket PATH] [--json]\n"
	       "\n"
	       "The whole cluster in one table, as the asked member sees it (its raft\n"
	       "status, its applied log, its own PostgreSQL probe, and on the master the\n"
	       "standby's lag from pg_stat_replication). One row per member:\n"
	       "\n"
	       "  MEMBER       the member's name (the asked one is marked *)\n"
	       "  KIND         data or witness\n"
	       "  ROLE         raft role: leader, follower or candidate\n"
	       "  ACTING       a data node: master, standby, activating, starting; the\n"
	       "               witness row shows the quorum: members reachable from the\n"
	       "               asked member / members\n"
	       "  SYNC         yes when the log records the data node as a synchronous\n"
	       "               (promotable) standby\n"
	       "  PG           the local PostgreSQL: primary, standby, down (no answer),\n"
	       "               unmanaged; for the other data node, standby when it streams\n"
	       "               from the asked master\n"
	       "  LAG          bytes the standby has not replayed (asked on the master)\n"
	       "  LEASE        held by the leader with a valid master lease, else no\n"
	       "  CHECKS       the asked member's own checks (ok, failing: NAME, unknown,\n"
	       "               none); for another member what the log records: ok or\n"
	       "               critical failing\n"
	       "  INCARNATION  the member's incarnation (raised by duetctl rejoin)\n"
	       "  REACHABLE    a link is up from the asked member\n"
	       "\n"
	       "A field the asked member cannot know prints ? (null in --json); a field\n"
	       "that does not apply to the member prints - (also null in --json). Ask\n"
	       "another member for its own view.\n"
	       "\n"
	       "  --socket PATH      the admin socket to ask\n"
	       "  -c, --config FILE  take admin_socket from this config (default:\n"
	       "                     $DUET_CONFIG, else /etc/duet/duet.ini)\n"
	       "  --json             one JSON object: asked, cluster, term, leader, master,\n"
	       "                     quorum {members, reachable, needed, ok} and members[]\n"
	       "                     {member, kind, asked, role, acting, sync, pg,\n"
	       "                     lag_bytes, lease, checks, incarnation, reachable; the\n"
	       "                     witness: quorum {reachable, members, ok}}; on a\n"
	       "                     failure {\"error\":{\"code\",\"message\"}}\n"
	       "\n"
	       "Exit status: 0 answered, 1 the member could not be reached or its reply\n"
	       "is not a status document (the missing key is named), 2 usage error.\n");
}

/* One row. NULL texts: unknown (?) unless na (-). */
struct row {
	const char *name, *kind, *role, *acting, *pg, *lease, *checks;
	bool witness, self;
	int sync;                        /* 1, 0, -1 unknown */
	long long lag;                   /* -1 unknown */
	long long incarn;                /* -1 unknown */
	int reachable;                   /* 1, 0, -1 unknown */
	bool na_pg;                      /* the PostgreSQL columns do not apply */
	bool na_lag;                     /* no lag: a primary, or no PostgreSQL managed */
	unsigned q_reachable, q_members; /* the witness row: the quorum */
	bool q_ok;
	char acting_buf[32], checks_buf[96];
};

static const json_t *find_named(const json_t *array, const char *name)
{
	if (!name)
		return NULL;
	size_t i;
	const json_t *v;
	json_array_foreach(array, i, v)
	{
		const char *n = json_string_value(json_object_get(v, "name"));
		if (n && strcmp(n, name) == 0)
			return v;
	}
	return NULL;
}

static const char *str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* The asked member's own checks in a word or two. */
static const char *own_checks(const json_t *doc, char *buf, size_t cap)
{
	const json_t *checks = json_object_get(doc, "checks");
	if (!json_is_array(checks) || json_array_size(checks) == 0)
		return "none";
	bool unknown = false;
	size_t i;
	const json_t *c;
	json_array_foreach(checks, i, c)
	{
		const char *state = str(c, "state");
		if (state && strcmp(state, "FAILING") == 0) {
			snprintf(buf, cap, "failing: %s", str(c, "name") ? str(c, "name") : "?");
			return buf;
		}
		if (!state || strcmp(state, "OK") != 0)
			unknown = true;
	}
	return unknown ? "unknown" : "ok";
}

struct view {
	const json_t *doc;
	const char *self, *leader, *role, *master;
	bool leads, lease, witness_self;
	const json_t *peers, *members, *pg, *repl;
	unsigned n_members, reachable;
};

static void fill_row(const struct view *v, const json_t *m, struct row *r)
{
	memset(r, 0, sizeof *r);
	r->name = str(m, "name");
	r->kind = str(m, "kind");
	r->witness = r->kind && strcmp(r->kind, "witness") == 0;
	r->self = r->name && strcmp(r->name, v->self) == 0;
	r->sync = r->lag = r->incarn = r->reachable = -1;
	const json_t *inc = json_object_get(m, "incarnation");
	if (json_is_integer(inc))
		r->incarn = json_integer_value(inc);
	const json_t *peer = find_named(v->peers, r->name);
	const json_t *fm = find_named(v->members, r->name);

	/* raft role */
	if (r->self)
		r->role = v->role;
	else if (v->leader && strcmp(v->leader, r->name) == 0)
		r->role = "leader";
	else if (v->leads && peer && json_is_integer(json_object_get(peer, "last_ack_ms_ago")))
		r->role = "follower";

	if (r->self)
		r->reachable = 1;
	else if (peer && json_is_integer(json_object_get(peer, "links_up")))
		r->reachable = json_integer_value(json_object_get(peer, "links_up")) > 0;

	if (r->self)
		r->lease = json_is_true(json_object_get(json_object_get(v->doc, "lease"), "valid"))
			       ? "held"
			       : "no";
	else if (v->lease)
		r->lease = "no"; /* a valid lease here: nobody else leads */

	if (r->witness) {
		r->na_pg = true;
		snprintf(r->acting_buf, sizeof r->acting_buf, "quorum %u/%u", v->reachable,
			 v->n_members);
		r->q_reachable = v->reachable;
		r->q_members = v->n_members;
		r->q_ok = v->reachable >= v->n_members / 2 + 1;
		r->acting = r->acting_buf;
		return;
	}
	if (fm && json_is_boolean(json_object_get(fm, "sync")))
		r->sync = json_is_true(json_object_get(fm, "sync"));
	if (r->self) {
		r->acting = str(v->doc, "acting");
		r->checks = own_checks(v->doc, r->checks_buf, sizeof r->checks_buf);
		if (!json_is_true(json_object_get(v->pg, "managed"))) {
			r->pg = "unmanaged";
			r->na_lag = true;
		} else if (!json_is_true(json_object_get(v->pg, "answers")))
			r->pg = "down";
		else
			r->pg = str(v->pg, "role");
		if (r->pg && strcmp(r->pg, "primary") == 0)
			r->na_lag = true;
	} else {
		if (fm && json_is_boolean(json_object_get(fm, "critical_failing")))
			r->checks = json_is_true(json_object_get(fm, "critical_failing"))
					? "critical failing"
					: "ok";
		const json_t *rep = find_named(v->repl, r->name);
		if (rep) {
			r->pg = "standby";
			const json_t *lag = json_object_get(rep, "replay_lag_bytes");
			if (json_is_integer(lag) && json_integer_value(lag) >= 0)
				r->lag = json_integer_value(lag);
		}
	}
}

static json_t *text_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *row_json(const struct row *r)
{
	json_t *o = json_object();
	json_object_set_new(o, "member", text_or_null(r->name));
	json_object_set_new(o, "kind", text_or_null(r->kind));
	json_object_set_new(o, "asked", json_boolean(r->self));
	json_object_set_new(o, "role", text_or_null(r->role));
	json_object_set_new(o, "acting", r->witness ? json_null() : text_or_null(r->acting));
	if (r->witness)
		json_object_set_new(o, "quorum",
				    json_pack("{s:i, s:i, s:b}", "reachable", (int)r->q_reachable,
					      "members", (int)r->q_members, "ok", r->q_ok));
	json_object_set_new(o, "sync", r->sync < 0 ? json_null() : json_boolean(r->sync));
	json_object_set_new(o, "pg", text_or_null(r->pg));
	json_object_set_new(o, "lag_bytes", r->lag < 0 ? json_null() : json_integer(r->lag));
	json_object_set_new(o, "lease", text_or_null(r->lease));
	json_object_set_new(o, "checks", text_or_null(r->checks));
	json_object_set_new(o, "incarnation",
			    r->incarn < 0 ? json_null() : json_integer(r->incarn));
	json_object_set_new(o, "reachable",
			    r->reachable < 0 ? json_null() : json_boolean(r->reachable));
	return o;
}

/* The cell of a text, "?" unknown, "-" not applicable. */
static const char *cell(const char *s, bool na)
{
	return s ? s : na ? "-" : "?";
}

#define N_COLS  11
#define CELL_SZ 128

/* The row's cells as the table prints them. */
static void row_cells(const struct row *r, char c[N_COLS][CELL_SZ])
{
	snprintf(c[0], CELL_SZ, "%s%s", r->name ? r->name : "?", r->self ? "*" : "");
	snprintf(c[1], CELL_SZ, "%s", cell(r->kind, false));
	snprintf(c[2], CELL_SZ, "%s", cell(r->role, false));
	snprintf(c[3], CELL_SZ, "%s", cell(r->acting, false));
	snprintf(c[4], CELL_SZ, "%s", r->na_pg ? "-" : r->sync < 0 ? "?" : r->sync ? "yes" : "no");
	snprintf(c[5], CELL_SZ, "%s", cell(r->pg, r->na_pg));
	if (r->na_pg || r->na_lag)
		snprintf(c[6], CELL_SZ, "-");
	else if (r->lag < 0)
		snprintf(c[6], CELL_SZ, "?");
	else
		snprintf(c[6], CELL_SZ, "%lld", r->lag);
	snprintf(c[7], CELL_SZ, "%s", cell(r->lease, false));
	snprintf(c[8], CELL_SZ, "%s", cell(r->checks, r->witness));
	if (r->incarn < 0)
		snprintf(c[9], CELL_SZ, "?");
	else
		snprintf(c[9], CELL_SZ, "%lld", r->incarn);
	snprintf(c[10], CELL_SZ, "%s", r->reachable < 0 ? "?" : r->reachable ? "yes" : "no");
}

static const char *const headers[N_COLS] = {"MEMBER", "KIND",        "ROLE",     "ACTING",
					    "SYNC",   "PG",          "LAG",      "LEASE",
					    "CHECKS", "INCARNATION", "REACHABLE"};

static int list(const json_t *doc, bool as_json, char *err, size_t errlen)
{
	const char *derr = duetctl_doc_error(doc);
	if (derr && !json_is_true(json_object_get(doc, "ok"))) {
		snprintf(err, errlen, "the daemon answered an error: %s", derr);
		return DUETCTL_FAILED;
	}
	struct view v = {.doc = doc};
	json_t *membership = NULL, *master = NULL;
	json_int_t term = 0;
	const char *cluster = NULL, *kind = NULL;
	if (duetctl_doc_unpack(doc, "status reply", "", err, errlen,
			       "{s:s, s:s, s:s, s:s, s:I, s:o, s:o}", "name", &v.self, "kind",
			       &kind, "cluster", &cluster, "role", &v.role, "term", &term,
			       "membership", &membership, "master", &master) != 0)
		return DUETCTL_FAILED;
	if (!json_is_array(membership)) {
		snprintf(err, errlen, "status reply: key .membership is not an array");
		return DUETCTL_FAILED;
	}
	v.leader = str(doc, "leader");
	v.master = str(master, "node");
	v.leads = strcmp(v.role, "leader") == 0;
	v.lease = json_is_true(json_object_get(json_object_get(doc, "lease"), "valid"));
	v.peers = duetctl_doc_array(doc, "peers");
	v.members = duetctl_doc_array(doc, "members");
	v.pg = duetctl_doc_object(doc, "pg");
	v.repl = v.pg ? duetctl_doc_array(v.pg, "replication") : NULL;
	v.n_members = (unsigned)json_array_size(membership);
	v.reachable = 1;
	size_t i;
	const json_t *p;
	json_array_foreach(v.peers, i, p)
	{
		const json_t *l = json_object_get(p, "links_up");
		if (json_is_integer(l) && json_integer_value(l) > 0)
			v.reachable++;
	}
	unsigned needed = v.n_members / 2 + 1;

	size_t n = json_array_size(membership);
	struct row *rows = calloc(n ? n : 1, sizeof *rows);
	if (!rows) {
		snprintf(err, errlen, "out of memory");
		return DUETCTL_FAILED;
	}
	const json_t *m;
	json_array_foreach(membership, i, m) fill_row(&v, m, &rows[i]);

	if (as_json) {
		json_t *out =
		    json_pack("{s:b, s:s, s:s, s:I, s:o, s:o, s:{s:i, s:i, s:i, s:b}}", "ok", 1,
			      "asked", v.self, "cluster", cluster, "term", term, "leader",
			      text_or_null(v.leader), "master", text_or_null(v.master), "quorum",
			      "members", (int)v.n_members, "reachable", (int)v.reachable, "needed",
			      (int)needed, "ok", v.reachable >= needed);
		json_t *a = json_array();
		for (size_t k = 0; k < n; k++)
			json_array_append_new(a, row_json(&rows[k]));
		json_object_set_new(out, "members", a);
		char *text = json_dumps(out, JSON_COMPACT);
		json_decref(out);
		free(rows);
		if (!text) {
			snprintf(err, errlen, "out of memory");
			return DUETCTL_FAILED;
		}
		printf("%s\n", text);
		free(text);
		return DUETCTL_OK;
	}
	char(*cells)[N_COLS][CELL_SZ] = calloc(n ? n : 1, sizeof *cells);
	if (!cells) {
		free(rows);
		snprintf(err, errlen, "out of memory");
		return DUETCTL_FAILED;
	}
	int w[N_COLS];
	for (size_t c = 0; c < N_COLS; c++)
		w[c] = (int)strlen(headers[c]);
	for (size_t k = 0; k < n; k++) {
		row_cells(&rows[k], cells[k]);
		for (size_t c = 0; c < N_COLS; c++)
			if ((int)strlen(cells[k][c]) > w[c])
				w[c] = (int)strlen(cells[k][c]);
	}
	printf("cluster %s, term %lld, leader %s, master (log) %s; asked %s (%s)\n", cluster,
	       (long long)term, v.leader ? v.leader : "?", v.master ? v.master : "none", v.self,
	       kind);
	for (size_t c = 0; c + 1 < N_COLS; c++)
		printf("%-*s  ", w[c], headers[c]);
	printf("%s\n", headers[N_COLS - 1]);
	for (size_t k = 0; k < n; k++) {
		for (size_t c = 0; c + 1 < N_COLS; c++)
			printf("%-*s  ", w[c], cells[k][c]);
		printf("%s\n", cells[k][N_COLS - 1]);
	}
	free(cells);
	printf("quorum: %u of %u members reachable from %s, %u needed: %s\n", v.reachable,
	       v.n_members, v.self, needed, v.reachable >= needed ? "yes" : "NO");
	free(rows);
	return DUETCTL_OK;
}

int cmd_list(int argc, char **argv)
{
	const char *sock = NULL, *config = NULL;
	bool json = false;
	static const struct option opts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"config", required_argument, NULL, 'c'},
	    {"json", no_argument, NULL, 'j'},
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
		default:
			return duetctl_bad_option(opt, argv);
		}
	}
	if (optind < argc)
		return duetctl_extra_args(argc, argv);
	int src = duetctl_admin_socket("list", config, &sock);
	if (src)
		return src;
	json_t *req = json_pack("{s:s}", "cmd", "status");
	if (!req) {
		duetctl_err("out of memory");
		return DUETCTL_FAILED;
	}
	char err[512] = "";
	struct duetctl_reply reply;
	int arc = duetctl_doc_ask(sock, req, DUETCTL_ASK_TIMEOUT_S, "status reply", &reply, err,
				  sizeof err);
	int rc = DUETCTL_FAILED;
	if (arc != DUETCTL_DOC_OK) {
		duetctl_ask_failed(arc, err);
	} else {
		rc = list(reply.doc, json, err, sizeof err);
		if (rc != DUETCTL_OK)
			duetctl_err_code(DUETCTL_E_BAD_REPLY, "%s", err);
	}
	duetctl_reply_free(&reply);
	json_decref(req);
	return rc;
}
