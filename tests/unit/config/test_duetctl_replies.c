/* SPDX-License-Identifier: MIT */
/*
 * test_duetctl_replies.c - duetctl (a real process) reading daemon replies
 * and writing requests, through jansson (issue 16).
 *
 * The daemon side is a recorded one: a thread of this test listens on a
 * Unix socket and answers each connection with the next recorded reply,
 * keeping the request line it got. A real duetd cannot be made to send
 * what these cases need (keys in another order, \u escapes, a key
 * missing), so the replies are written here; tests/integration runs the
 * same commands against real daemons. DUETCTL_UNDER_TEST in the
 * environment runs another duetctl binary (to show a case failing on an
 * older one).
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define MAX_REPLIES 4

/* ---- the recorded daemon ------------------------------------------------ */

static struct {
	char dir[64], path[96];
	int fd;
	pthread_t thread;
	const char *replies[MAX_REPLIES];
	int n_replies, served;
	char requests[MAX_REPLIES][4096];
} d;

static void *serve(void *arg)
{
	(void)arg;
	for (;;) {
		int c = accept(d.fd, NULL, NULL);
		if (c < 0)
			return NULL; /* the socket was shut down */
		char buf[4096];
		size_t len = 0;
		ssize_t r;
		while (len + 1 < sizeof buf && (r = read(c, buf + len, sizeof buf - 1 - len)) > 0) {
			len += (size_t)r;
			if (memchr(buf, '\n', len))
				break;
		}
		buf[len] = 0;
		int i = d.served < d.n_replies ? d.served : d.n_replies - 1;
		if (d.served < MAX_REPLIES)
			snprintf(d.requests[d.served], sizeof d.requests[0], "%s", buf);
		d.served++;
		const char *reply = d.replies[i];
		if (write(c, reply, strlen(reply)) < 0 || write(c, "\n", 1) < 0)
			fprintf(stderr, "recorded daemon: write failed\n");
		close(c);
	}
}

/* Starts the recorded daemon with replies (NULL-terminated; the last one
 * repeats). */
static void daemon_start(const char *first, ...)
{
	memset(&d, 0, sizeof d);
	va_list ap;
	va_start(ap, first);
	for (const char *r = first; r && d.n_replies < MAX_REPLIES; r = va_arg(ap, const char *))
		d.replies[d.n_replies++] = r;
	va_end(ap);
	snprintf(d.dir, sizeof d.dir, "/tmp/duetctl-replies-XXXXXX");
	cr_assert(mkdtemp(d.dir));
	snprintf(d.path, sizeof d.path, "%s/admin.sock", d.dir);
	d.fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", d.path);
	cr_assert_eq(bind(d.fd, (struct sockaddr *)&sa, sizeof sa), 0);
	cr_assert_eq(listen(d.fd, 8), 0);
	cr_assert_eq(pthread_create(&d.thread, NULL, serve, NULL), 0);
}

static void daemon_stop(void)
{
	shutdown(d.fd, SHUT_RDWR);
	pthread_join(d.thread, NULL);
	close(d.fd);
	unlink(d.path);
	rmdir(d.dir);
}

/* Every test stops its daemon, failed or not. */
static void teardown(void)
{
	if (d.dir[0])
		daemon_stop();
}

TestSuite(duetctl_replies, .fini = teardown);

/* ---- duetctl ------------------------------------------------------------ */

struct run {
	int status;
	char out[65536], err[65536];
};

static void slurp(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	ssize_t k;
	lseek(fd, 0, SEEK_SET);
	while (n + 1 < cap && (k = read(fd, buf + n, cap - 1 - n)) > 0)
		n += (size_t)k;
	buf[n] = 0;
	close(fd);
}

static struct run *run_duetctl(const char *first, ...)
{
	static struct run r;
	const char *bin = getenv("DUETCTL_UNDER_TEST") ? getenv("DUETCTL_UNDER_TEST") : DUETCTL;
	const char *argv[20] = {bin};
	int argc = 1;
	va_list ap;
	va_start(ap, first);
	for (const char *a = first; a && argc < 17; a = va_arg(ap, const char *))
		argv[argc++] = a;
	va_end(ap);
	argv[argc++] = "--socket";
	argv[argc++] = d.path;
	argv[argc] = NULL;
	char out_path[] = "/tmp/duetctl-out-XXXXXX", err_path[] = "/tmp/duetctl-err-XXXXXX";
	int out = mkstemp(out_path), err = mkstemp(err_path);
	cr_assert(out >= 0 && err >= 0);
	unlink(out_path);
	unlink(err_path);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, out, 1);
	posix_spawn_file_actions_adddup2(&fa, err, 2);
	pid_t pid;
	cr_assert_eq(posix_spawn(&pid, bin, &fa, NULL, (char **)argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	slurp(out, r.out, sizeof r.out);
	slurp(err, r.err, sizeof r.err);
	return &r;
}

/* ---- recorded replies --------------------------------------------------- */

/* A data node's status, keys in another order than duetd writes them, a
 * peer's "name" and "role" before the member's own, the cluster name with
 * a \u escape, the maintenance why in raw UTF-8 with quotes and a newline
 * (all as JSON allows). */
#define WHY_TEXT "caf\xc3\xa9 \xe2\x80\x93 line1\nline2 \"q\""
static const char STATUS_REORDERED[] =
    "{\"raft\":{\"stepdowns_quorum\":4,\"leader_terms\":3,\"prevotes\":2,\"elections\":1},"
    "\"peers\":[{\"name\":\"node-b\",\"role\":\"x\",\"links_up\":2,\"id\":2,"
    "\"last_ack_ms_ago\":null,\"match_index\":41},{\"links_up\":1,\"name\":\"w\",\"id\":3}],"
    "\"transport\":{\"refused\":{\"handshake_timeout\":16,\"oversized_frame\":15,"
    "\"bad_frame\":14,\"tls_error\":13,\"unknown_member\":12,\"bad_cert\":11},"
    "\"links_up\":2,\"accepted\":10},"
    "\"maintenance\":{\"why\":\"caf\xc3\xa9 \\u2013 line1\\nline2 \\\"q\\\"\","
    "\"who\":\"op@h\\u00e9\",\"since_ms\":5,\"since_index\":7,\"on\":true},"
    "\"master\":{\"since_index\":6,\"reason\":\"failover\",\"id\":1,\"node\":\"node-a\"},"
    "\"lease\":{\"expiry_in_ms\":480,\"holder\":\"node-a\",\"valid\":true},"
    "\"last_election\":{\"ago_ms\":null,\"reason\":\"timeout\"},"
    "\"snapshot_index\":0,\"last_index\":42,\"applied_index\":41,\"commit_index\":41,"
    "\"leader\":\"node-a\",\"term\":5,\"role\":\"leader\",\"pid\":99,"
    "\"cluster\":\"d\\u00e9mo\",\"kind\":\"data\",\"id\":1,\"name\":\"node-a\",\"ok\":true,"
    "\"traps\":null}";

Test(duetctl_replies, status_reordered_escaped)
{
	daemon_start(STATUS_REORDERED, NULL);
	struct run *r = run_duetctl("status", NULL);
	cr_assert_eq(r->status, 0, "%s", r->err);
	const char *want[] = {
	    "member      node-a (id 1, data) of cluster d\xc3\xa9mo, pid 99\n",
	    "role        leader, term 5, leader node-a\n",
	    "log         commit 41, applied 41, last 42, snapshot 0\n",
	    "lease       held (holder node-a, expires in 480 ms)\n",
	    "master      node-a (failover, since entry 6)\n",
	    "maintenance on since entry 7 by op@h\xc3\xa9: " WHY_TEXT "; no automatic failover\n",
	    "election    last timeout, null ms ago\n",
	    "            node-b            2       41       null\n",
	    "            w                 1        -          -\n",
	    "transport   accepted 10, links up 2, refused: bad cert 11, unknown member 12, tls "
	    "error 13,\n            bad frame 14, oversized frame 15, handshake timeout 16\n",
	    "raft        elections 1, prevotes 2, leader terms 3, quorum stepdowns 4\n",
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		cr_expect(strstr(r->out, want[i]), "missing line %zu: %s\nin:\n%s", i, want[i],
			  r->out);
	cr_assert_str_eq(r->err, "");
	json_t *req = json_loads(d.requests[0], 0, NULL),
	       *want_req = json_pack("{s:s}", "cmd", "status");
	cr_expect(req && json_equal(req, want_req), "%s", d.requests[0]);
	json_decref(req);
	json_decref(want_req);
}

Test(duetctl_replies, status_json_unchanged)
{
	daemon_start(STATUS_REORDERED, NULL);
	struct run *r = run_duetctl("status", "--json", NULL);
	cr_assert_eq(r->status, 0, "%s", r->err);
	char want[sizeof STATUS_REORDERED + 1];
	snprintf(want, sizeof want, "%s\n", STATUS_REORDERED);
	cr_assert_str_eq(r->out, want);
}

/* What a reply lacks or has of another type is named; nothing of the table
 * is printed. */
Test(duetctl_replies, status_missing_and_mistyped_keys)
{
	/* the recorded reply, edited with jansson (insertion order kept) */
	json_t *doc = json_loads(STATUS_REORDERED, 0, NULL);
	cr_assert(doc);
	cr_assert_eq(json_object_del(json_object_get(doc, "lease"), "valid"), 0);
	char *no_valid = json_dumps(doc, JSON_COMPACT);
	cr_assert_eq(json_object_set_new(doc, "term", json_string("5")), 0);
	json_object_set_new(json_object_get(doc, "lease"), "valid", json_true());
	char *term_text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	cr_assert(no_valid && term_text);
	daemon_start(no_valid, term_text, "{\"ok\":true,\"name\":", NULL);

	struct run *r = run_duetctl("status", NULL);
	cr_assert_eq(r->status, 1);
	cr_assert_str_eq(r->err, "duetctl status: status reply: missing key .lease.valid\n");
	cr_assert_str_eq(r->out, "");

	r = run_duetctl("status", NULL);
	cr_assert_eq(r->status, 1);
	cr_assert_str_eq(
	    r->err, "duetctl status: status reply: key .term is a string, expected an integer\n");
	cr_assert_str_eq(r->out, "");

	r = run_duetctl("status", NULL);
	cr_assert_eq(r->status, 1);
	cr_assert(strstr(r->err, "duetctl status: status reply: not JSON: "), "%s", r->err);
	free(no_valid);
	free(term_text);
}

/* The request carries --why as given (quotes, newline, UTF-8), keys in the
 * order duetd's parser needs; the answer's texts are printed as sent. */
Test(duetctl_replies, maintenance_request_and_answer)
{
	daemon_start("{\"maintenance\":{\"why\":\"caf\\u00e9 \\u2013 line1\\nline2 \\\"q\\\"\","
		     "\"who\":\"a@b\",\"since_ms\":1,\"since_index\":9,\"on\":true},"
		     "\"changed\":true,\"ok\":true}",
		     NULL);
	struct run *r = run_duetctl("maintenance", "on", "--why", WHY_TEXT, NULL);
	cr_assert_eq(r->status, 0, "%s", r->err);
	cr_assert_str_eq(r->out, "maintenance on (entry 9, by a@b: " WHY_TEXT
				 "): no automatic failover until duetctl maintenance off\n");
	json_error_t je;
	json_t *req = json_loads(d.requests[0], 0, &je);
	cr_assert(req, "request not JSON (%s): %s", je.text, d.requests[0]);
	const char *cmd = NULL, *who = NULL, *why = NULL;
	int on = 0;
	cr_assert_eq(json_unpack(req, "{s:s, s:b, s:s, s:s}", "cmd", &cmd, "on", &on, "who", &who,
				 "why", &why),
		     0, "%s", d.requests[0]);
	cr_expect_str_eq(cmd, "maintenance");
	cr_expect(on);
	cr_expect_str_eq(why, WHY_TEXT);
	cr_expect(strchr(who, '@'), "%s", who);
	/* keys in the order a duetd before 2450a9d needed (its parser took the
	 * first "on", "who", "why" it found): cmd, on, who, why */
	static const char *const order[] = {"cmd", "on", "who", "why"};
	size_t k = 0;
	for (void *it = json_object_iter(req); it; it = json_object_iter_next(req, it))
		if (k < 4 && strcmp(json_object_iter_key(it), order[k]) == 0)
			k++;
	cr_expect_eq(k, 4, "%s", d.requests[0]);
	json_decref(req);
}

Test(duetctl_replies, maintenance_bad_answers)
{
	daemon_start("{\"error\":\"not \\\"applied\\\"\\n(no quorum)\",\"ok\":false}",
		     "{\"changed\":true,\"ok\":true}", NULL);
	struct run *r = run_duetctl("maintenance", "off", NULL);
	cr_assert_eq(r->status, 1);
	cr_assert_str_eq(r->err, "duetctl maintenance: not \"applied\"\n(no quorum)\n");
	r = run_duetctl("maintenance", "off", NULL);
	cr_assert_eq(r->status, 1);
	cr_assert_str_eq(r->err,
			 "duetctl maintenance: maintenance reply: missing key .maintenance\n");
	/* not UTF-8: refused before anything is sent */
	r = run_duetctl("maintenance", "off", "--why", "caf\xe9", NULL);
	cr_assert_eq(r->status, 2);
	cr_assert_str_eq(r->err, "duetctl maintenance: --why is not valid UTF-8\n");
	cr_assert_eq(d.served, 2);
}

Test(duetctl_replies, promote_refused_reordered)
{
	daemon_start("{\"error\":\"not the \\\"leader\\\": caf\\u00e9\",\"ok\":false}", NULL);
	struct run *r = run_duetctl("promote", "--accept-data-loss", "--why", "a \"b\"", NULL);
	cr_assert_eq(r->status, 1);
	cr_assert_str_eq(r->err, "duetctl promote: not the \"leader\": caf\xc3\xa9\n");
	json_t *req = json_loads(d.requests[0], 0, NULL);
	cr_assert(req, "%s", d.requests[0]);
	json_int_t accept = 0;
	const char *why = NULL;
	cr_assert_eq(json_unpack(req, "{s:I, s:s}", "accept_data_loss", &accept, "why", &why), 0);
	cr_expect_eq(accept, 1);
	cr_expect_str_eq(why, "a \"b\"");
	json_decref(req);
}

/* The switchover follows .master.node wherever it is in the document; its
 * --json outcome is one object. */
Test(duetctl_replies, switchover_no_wait)
{
	daemon_start(
	    "{\"master\":{\"reason\":\"first_start\",\"node\":\"n\\u00e9-a\"},\"ok\":true}",
	    "{\"ok\":true}",
	    "{\"switchover\":{\"detail\":\"\",\"elapsed_ms\":3,\"to\":\"b\",\"state\":"
	    "\"done\"},\"master\":{\"node\":\"b\"},\"ok\":true}",
	    NULL);
	struct run *r = run_duetctl("switchover", "--to", "b", "--no-wait", "--json", NULL);
	cr_assert_eq(r->status, 0, "%s", r->err);
	json_t *out = json_loads(r->out, 0, NULL);
	cr_assert(out, "%s", r->out);
	const char *from = NULL, *to = NULL;
	int ok = 0;
	cr_assert_eq(json_unpack(out, "{s:b, s:s, s:s}", "ok", &ok, "from", &from, "to", &to), 0);
	cr_expect(ok);
	cr_expect_str_eq(from, "n\xc3\xa9-a");
	cr_expect_str_eq(to, "b");
	json_decref(out);
}

/* duetctl list on a master whose PostgreSQL streams to node-b (replay lag
 * 4096 bytes), the witness unreachable: what the master knows, what it
 * cannot (?) and what does not apply (-), as a table and as --json. */
static char *list_master_doc(void)
{
	json_t *doc = json_pack(
	    "{s:b, s:i, s:s, s:s, s:s, s:s, s:I, s:s, s:{s:b}, s:{s:s, s:s}, s:s,"
	    " s:[{s:I, s:s, s:I, s:s}, {s:I, s:s, s:I, s:s}, {s:I, s:s, s:I, s:s}],"
	    " s:[{s:s, s:s, s:b, s:b}, {s:s, s:s, s:b, s:b}, {s:s, s:s, s:b, s:b}],"
	    " s:[{s:s, s:i, s:s, s:I}, {s:s, s:i, s:s}],"
	    " s:{s:b, s:b, s:s, s:[{s:s, s:s, s:s, s:I, s:I}]},"
	    " s:[{s:s, s:s}]}",
	    "ok", 1, "version", 1, "name", "node-a", "kind", "data", "cluster", "d\xc3\xa9mo",
	    "role", "leader", "term", (json_int_t)7, "leader", "node-a", "lease", "valid", 1,
	    "master", "node", "node-a", "reason", "failover", "acting", "master", "membership",
	    "id", (json_int_t)1, "name", "node-a", "incarnation", (json_int_t)1, "kind", "data",
	    "id", (json_int_t)2, "name", "node-b", "incarnation", (json_int_t)2, "kind", "data",
	    "id", (json_int_t)3, "name", "witness", "incarnation", (json_int_t)1, "kind", "witness",
	    "members", "name", "node-a", "role", "master", "sync", 0, "critical_failing", 0, "name",
	    "node-b", "role", "sync standby", "sync", 1, "critical_failing", 1, "name", "witness",
	    "role", "witness", "sync", 0, "critical_failing", 0, "peers", "name", "node-b",
	    "links_up", 2, "kind", "data", "last_ack_ms_ago", (json_int_t)20, "name", "witness",
	    "links_up", 0, "kind", "witness", "pg", "managed", 1, "answers", 1, "role", "primary",
	    "replication", "name", "node-b", "state", "streaming", "sync_state", "sync",
	    "flush_lag_bytes", (json_int_t)0, "replay_lag_bytes", (json_int_t)4096, "checks",
	    "name", "fs", "state", "OK");
	cr_assert(doc);
	char *text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	cr_assert(text);
	return text;
}

Test(duetctl_replies, list_from_the_master)
{
	char *doc = list_master_doc();
	daemon_start(doc, NULL);
	struct run *r = run_duetctl("list", NULL);
	cr_assert_eq(r->status, 0, "%s", r->err);
	const char *want =
	    "cluster d\xc3\xa9mo, term 7, leader node-a, master (log) node-a; asked node-a (data)\n"
	    "MEMBER   KIND     ROLE      ACTING      SYNC  PG       LAG   LEASE  CHECKS            "
	    "INCARNATION  REACHABLE\n"
	    "node-a*  data     leader    master      no    primary  -     held   ok                "
	    "1            yes\n"
	    "node-b   data     follower  ?           yes   standby  4096  no     critical failing  "
	    "2            yes\n"
	    "witness  witness  ?         quorum 2/3  -     -        -     no     -                 "
	    "1            no\n"
	    "quorum: 2 of 3 members reachable from node-a, 2 needed: yes\n";
	cr_expect_str_eq(r->out, want);
	json_t *req = json_loads(d.requests[0], 0, NULL),
	       *want_req = json_pack("{s:s}", "cmd", "status");
	cr_expect(req && json_equal(req, want_req), "%s", d.requests[0]);
	json_decref(req);
	json_decref(want_req);

	r = run_duetctl("list", "--json", NULL);
	cr_assert_eq(r->status, 0, "%s", r->err);
	json_error_t je;
	json_t *out = json_loads(r->out, 0, &je);
	cr_assert(out, "%s: %s", je.text, r->out);
	json_t *want_json = json_pack(
	    "{s:b, s:s, s:s, s:I, s:s, s:s, s:{s:i, s:i, s:i, s:b}, s:["
	    "{s:s, s:s, s:b, s:s, s:s, s:b, s:s, s:n, s:s, s:s, s:I, s:b},"
	    "{s:s, s:s, s:b, s:s, s:n, s:b, s:s, s:I, s:s, s:s, s:I, s:b},"
	    "{s:s, s:s, s:b, s:n, s:n, s:{s:i, s:i, s:b}, s:n, s:n, s:n, s:s, s:n, s:I, s:b}]}",
	    "ok", 1, "asked", "node-a", "cluster", "d\xc3\xa9mo", "term", (json_int_t)7, "leader",
	    "node-a", "master", "node-a", "quorum", "members", 3, "reachable", 2, "needed", 2, "ok",
	    1, "members", "member", "node-a", "kind", "data", "asked", 1, "role", "leader",
	    "acting", "master", "sync", 0, "pg", "primary", "lag_bytes", "lease", "held", "checks",
	    "ok", "incarnation", (json_int_t)1, "reachable", 1, "member", "node-b", "kind", "data",
	    "asked", 0, "role", "follower", "acting", "sync", 1, "pg", "standby", "lag_bytes",
	    (json_int_t)4096, "lease", "no", "checks", "critical failing", "incarnation",
	    (json_int_t)2, "reachable", 1, "member", "witness", "kind", "witness", "asked", 0,
	    "role", "acting", "quorum", "reachable", 2, "members", 3, "ok", 1, "sync", "pg",
	    "lag_bytes", "lease", "no", "checks", "incarnation", (json_int_t)1, "reachable", 0);
	cr_assert(want_json);
	char *got = json_dumps(out, JSON_SORT_KEYS), *exp = json_dumps(want_json, JSON_SORT_KEYS);
	cr_expect(json_equal(out, want_json), "got  %s\nwant %s", got, exp);
	free(got);
	free(exp);
	json_decref(out);
	json_decref(want_json);
	free(doc);
}

/* A reply without the membership names the key; nothing is printed. */
Test(duetctl_replies, list_missing_key)
{
	json_t *doc = json_loads(STATUS_REORDERED, 0, NULL);
	cr_assert(doc);
	char *text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	daemon_start(text, "{\"ok\":false,\"error\":\"busy \\\"now\\\"\"}", NULL);
	struct run *r = run_duetctl("list", NULL);
	cr_assert_eq(r->status, 1);
	cr_assert_str_eq(r->err, "duetctl list: status reply: missing key .membership\n");
	cr_assert_str_eq(r->out, "");
	r = run_duetctl("list", "--json", NULL);
	cr_assert_eq(r->status, 1);
	cr_assert_str_eq(r->err, "duetctl list: the daemon answered an error: busy \"now\"\n");
	free(text);
}
