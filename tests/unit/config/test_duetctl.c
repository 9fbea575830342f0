/* SPDX-License-Identifier: MIT */
/*
 * test_duetctl.c - duetctl run as a real process: exit codes, output,
 * --json that parses, --help everywhere, commands not available yet.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "helpers.h"
#include "json_check.h"

extern char **environ;

struct run {
	int status; /* exit status, or -1 if it did not exit normally */
	char out[65536];
	char err[65536];
};

/* stdout as one JSON document: json_check's own syntax check (an
 * independent reader), then jansson for what it says. The caller frees. */
static json_t *out_doc(const struct run *r)
{
	cr_assert(json_valid(r->out), "one JSON document on stdout: %s", r->out);
	json_error_t jerr;
	json_t *d = json_loads(r->out, 0, &jerr);
	cr_assert_not_null(d, "%s: %s", jerr.text, r->out);
	return d;
}

/* The string at key of obj ("" when it is not a string). */
static const char *text_at(const json_t *obj, const char *key)
{
	const char *t = json_string_value(json_object_get(obj, key));
	return t ? t : "";
}

/* The "error" object's code of d ("" when there is none). */
static const char *error_code(const json_t *d)
{
	return text_at(json_object_get(d, "error"), "code");
}

/* The first errors[] entry of d whose message contains part, or NULL. */
static const json_t *error_with(const json_t *d, const char *part)
{
	size_t i;
	const json_t *e;
	json_array_foreach(json_object_get(d, "errors"), i, e)
	{
		if (strstr(text_at(e, "message"), part))
			return e;
	}
	return NULL;
}

static void slurp(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	lseek(fd, 0, SEEK_SET);
	ssize_t k;
	while (n + 1 < cap && (k = read(fd, buf + n, cap - 1 - n)) > 0)
		n += (size_t)k;
	buf[n] = '\0';
	close(fd);
}

/* Runs duetctl with args (NULL-terminated), stdout and stderr captured. */
static struct run *run_duetctl(const char *first, ...)
{
	static struct run r;
	const char *argv[16] = {DUETCTL};
	int argc = 1;
	va_list ap;
	va_start(ap, first);
	for (const char *a = first; a && argc < 15; a = va_arg(ap, const char *))
		argv[argc++] = a;
	va_end(ap);
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
	cr_assert_eq(posix_spawn(&pid, DUETCTL, &fa, NULL, (char **)argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	slurp(out, r.out, sizeof(r.out));
	slurp(err, r.err, sizeof(r.err));
	return &r;
}

#define EXAMPLE(name) DUET_EXAMPLES_DIR "/" name

Test(duetctl, check_config_valid)
{
	struct run *r = run_duetctl("check-config", EXAMPLE("node-a.ini"), "--no-files", NULL);
	cr_assert_eq(r->status, 0, "%s%s", r->out, r->err);
	cr_assert(strstr(r->out, "node-a.ini: valid\n"), "%s", r->out);
	cr_assert(strstr(r->out, "cluster       demo (id 00c0ffee00c0ffee)"), "%s", r->out);
	cr_assert(strstr(r->out, "self          node-a (id 1, data)"), "%s", r->out);
	cr_assert(strstr(r->out, "witness     id 3          witness  127.0.0.1:7103, "
				 "127.0.0.2:7103"),
		  "%s", r->out);
	cr_assert(strstr(r->out, "  lease_ms                   500\n"), "%s", r->out);
	cr_assert_str_eq(r->err, "");

	r = run_duetctl("check-config", EXAMPLE("witness.ini"), "--no-files", "--json", NULL);
	cr_assert_eq(r->status, 0);
	json_t *d = out_doc(r);
	json_t *self = json_object_get(d, "self");
	cr_assert(json_is_true(json_object_get(d, "ok")), "%s", r->out);
	cr_assert_str_eq(text_at(self, "name"), "witness", "%s", r->out);
	cr_assert_eq(json_integer_value(json_object_get(self, "id")), 3, "%s", r->out);
	cr_assert_str_eq(text_at(self, "kind"), "witness", "%s", r->out);
	cr_assert(json_is_false(json_object_get(json_object_get(d, "tls"), "files_checked")), "%s",
		  r->out);
	json_decref(d);
}

Test(duetctl, check_config_missing_tls_files)
{
	/* the examples' TLS files do not exist: without --no-files that is an error */
	struct run *r = run_duetctl("check-config", EXAMPLE("node-b.ini"), NULL);
	cr_assert_eq(r->status, 1);
	cr_assert(strstr(r->err, "node-b.ini:35: key 'ca': cannot read /etc/duet/tls/ca.pem"), "%s",
		  r->err);
}

Test(duetctl, check_config_invalid)
{
	char path[64];
	snprintf(path, sizeof(path), "%s",
		 write_temp(with_extra("[raft]\nleas_ms = 1\nlease_ms = 900\n[bogus]\n")));
	struct run *r = run_duetctl("check-config", path, "--no-files", NULL);
	cr_assert_eq(r->status, 1);
	char want[256];
	snprintf(want, sizeof(want),
		 "%s:23: unknown key 'leas_ms' in [raft] (did you mean 'lease_ms'?)\n"
		 "%s:25: unknown section [bogus]\n",
		 path, path);
	cr_assert(strstr(r->err, want), "%s", r->err);
	cr_assert(strstr(r->err, "[raft] election_timeout_min_ms (800) must exceed"), "%s", r->err);
	snprintf(want, sizeof(want), "%s: invalid (3 errors)\n", path);
	cr_assert(strstr(r->err, want), "%s", r->err);
	cr_assert_str_eq(r->out, "");

	r = run_duetctl("check-config", path, "--json", "--no-files", NULL);
	cr_assert_eq(r->status, 1);
	json_t *d = out_doc(r);
	cr_assert(json_is_false(json_object_get(d, "ok")), "%s", r->out);
	const json_t *leas = error_with(d, "unknown key 'leas_ms'");
	cr_assert_not_null(leas, "%s", r->out);
	cr_assert_eq(json_integer_value(json_object_get(leas, "line")), 23, "%s", r->out);
	cr_assert_str_eq(text_at(leas, "message"),
			 "unknown key 'leas_ms' in [raft] (did you mean 'lease_ms'?)", "%s",
			 r->out);
	json_t *not_shown = json_object_get(d, "errors_not_shown");
	cr_assert(json_is_integer(not_shown) && json_integer_value(not_shown) == 0, "%s", r->out);
	cr_assert_str_eq(error_code(d), "config", "%s", r->out);
	cr_assert(json_is_string(json_object_get(json_object_get(d, "error"), "message")), "%s",
		  r->out);
	json_decref(d);
	unlink(path);
}

Test(duetctl, json_escapes_garbage)
{
	/* quotes, backslashes, control characters and invalid UTF-8 in what
	 * ends up in messages still give valid JSON */
	char path[64];
	snprintf(path, sizeof(path), "%s",
		 write_temp("[cluster]\n\"q\\uo\x01te\xff\xc3\" = 1\nn\xc3\xa9 = 2\n"));
	struct run *r = run_duetctl("check-config", path, "--json", NULL);
	cr_assert_eq(r->status, 1);
	json_t *d = out_doc(r);
	cr_assert(error_with(d, "unknown key '\"q\\uo\x01te\xef\xbf\xbd\xef\xbf\xbd\"'"),
		  "bad bytes as U+FFFD: %s", r->out);
	cr_assert(error_with(d, "unknown key 'n\xc3\xa9'"), "valid UTF-8 kept: %s", r->out);
	json_decref(d);
	unlink(path);
}

Test(duetctl, check_config_unreadable)
{
	struct run *r = run_duetctl("check-config", "/nonexistent/duet.ini", NULL);
	cr_assert_eq(r->status, 1);
	cr_assert(strstr(r->err, "/nonexistent/duet.ini: cannot open: No such file or directory"),
		  "%s", r->err);
	r = run_duetctl("check-config", "/nonexistent/duet.ini", "--json", NULL);
	json_t *d = out_doc(r);
	json_t *first = json_array_get(json_object_get(d, "errors"), 0);
	cr_assert(json_is_null(json_object_get(first, "line")), "%s", r->out);
	json_decref(d);
}

Test(duetctl, help_everywhere)
{
	struct run *r = run_duetctl("--help", NULL);
	cr_assert_eq(r->status, 0);
	cr_assert(strstr(r->out, "check-config"));
	cr_assert(strstr(r->out, "status        roles, term"), "%s", r->out);
	cr_assert(!strstr(r->out, "(not available yet)"), "%s", r->out);

	r = run_duetctl("check-config", "--help", NULL);
	cr_assert_eq(r->status, 0);
	cr_assert(strstr(r->out, "usage: duetctl check-config [FILE | -c FILE]"), "%s", r->out);
	cr_assert(strstr(r->out, "election_timeout_min_ms"), "--help lists the keys: %s", r->out);

	const char *now[] = {"status",      "log",    "gencerts",  "promote",
			     "maintenance", "rejoin", "switchover"};
	for (size_t i = 0; i < sizeof(now) / sizeof(now[0]); i++) {
		r = run_duetctl(now[i], "--help", NULL);
		cr_assert_eq(r->status, 0, "%s --help", now[i]);
		cr_assert(strstr(r->out, "usage: duetctl ") && !strstr(r->out, "Not available yet"),
			  "%s: %s", now[i], r->out);
	}
	r = run_duetctl("--version", NULL);
	cr_assert_eq(r->status, 0);
	cr_assert(strncmp(r->out, "duetctl ", 8) == 0);
}

Test(duetctl, usage_and_unknown)
{
	setenv("DUET_CONFIG", "/nonexistent/duet.ini", 1);
	struct run *r = run_duetctl("switchover", NULL);
	cr_assert_eq(r->status, 1, "the default config is read: %s", r->err);
	cr_assert(strstr(r->err, "/nonexistent/duet.ini: cannot open"), "%s", r->err);
	r = run_duetctl("switchover", "--socket", "/nonexistent/admin.sock", NULL);
	cr_assert_eq(r->status, 1);
	cr_assert(strstr(r->err, "cannot connect to /nonexistent/admin.sock"), "%s", r->err);

	r = run_duetctl("frobnicate", NULL);
	cr_assert_eq(r->status, 2);
	cr_assert(strstr(r->err, "unknown command 'frobnicate'"), "%s", r->err);
	r = run_duetctl(NULL);
	cr_assert_eq(r->status, 2);
	cr_assert(strstr(r->err, "usage: duetctl"), "%s", r->err);
	r = run_duetctl("check-config", NULL);
	cr_assert_eq(r->status, 1);
	cr_assert(strstr(r->err, "/nonexistent/duet.ini: cannot open"), "%s", r->err);
	unsetenv("DUET_CONFIG");
	r = run_duetctl("check-config", "a.ini", "--frob", NULL);
	cr_assert_eq(r->status, 2);
	cr_assert(strstr(r->err, "unknown option '--frob'"), "%s", r->err);
	r = run_duetctl("check-config", "a.ini", "b.ini", NULL);
	cr_assert_eq(r->status, 2);
}

/* Usage errors exit 2 before any daemon is asked; a socket nobody listens
 * on is a failure (1) with the reason. The daemon side is in
 * tests/integration (cluster_test.sh maintenance). */
Test(duetctl, maintenance_usage)
{
	struct run *r = run_duetctl("maintenance", "--socket", "/nonexistent.sock", NULL);
	cr_assert_eq(r->status, 2);
	cr_assert(strstr(r->err, "say on or off"), "%s", r->err);
	r = run_duetctl("maintenance", "sideways", "--socket", "/nonexistent.sock", NULL);
	cr_assert_eq(r->status, 2);
	cr_assert(strstr(r->err, "unknown argument 'sideways'"), "%s", r->err);
	cr_assert(strstr(r->err, "usage: duetctl maintenance on|off"), "%s", r->err);
	r = run_duetctl("maintenance", "on", "off", "--socket", "/nonexistent.sock", NULL);
	cr_assert_eq(r->status, 2);
	setenv("DUET_CONFIG", "/nonexistent/duet.ini", 1);
	r = run_duetctl("maintenance", "on", NULL);
	unsetenv("DUET_CONFIG");
	cr_assert_eq(r->status, 1);
	cr_assert(strstr(r->err, "/nonexistent/duet.ini: cannot open"), "%s", r->err);
	r = run_duetctl("maintenance", "on", "--why", NULL);
	cr_assert_eq(r->status, 2);
	static char long_why[600];
	memset(long_why, 'x', sizeof long_why - 1);
	r = run_duetctl("maintenance", "on", "--why", long_why, "--socket", "/nonexistent.sock",
			NULL);
	cr_assert_eq(r->status, 2);
	cr_assert(strstr(r->err, "--why is 599 bytes"), "%s", r->err);
	r = run_duetctl("maintenance", "off", "--socket", "/nonexistent.sock", NULL);
	cr_assert_eq(r->status, 1);
	cr_assert(strstr(r->err, "cannot connect to /nonexistent.sock"), "%s", r->err);
}

Test(duetctl, print_keys)
{
	struct run *r = run_duetctl("check-config", "--print-keys", "--markdown", NULL);
	cr_assert_eq(r->status, 0);
	cr_assert(strncmp(r->out, "| section | key | default | meaning |\n", 38) == 0, "%s",
		  r->out);
	r = run_duetctl("check-config", "--print-keys", NULL);
	cr_assert_eq(r->status, 0);
	cr_assert(strstr(r->out, "[member NAME]\n"), "%s", r->out);
}

/* Issue 13 defect 8: [pg] conninfo is checked as duetd's libpq module
 * takes it. A host name is accepted with a note (duetd resolves it off its
 * loop); what it cannot handle is refused with what to do. */
Test(duetctl, check_config_pg_conninfo_host_names)
{
	char path[64];
	snprintf(path, sizeof(path), "%s",
		 write_temp(with_extra("[pg]\nconninfo = host=db-a.example port=5432\n")));
	struct run *r = run_duetctl("check-config", path, "--no-files", NULL);
	cr_assert_eq(r->status, 0, "%s", r->err);
	cr_assert(strstr(r->out, "note: [pg] conninfo names host 'db-a.example': duetd resolves it "
				 "off its loop"),
		  "%s", r->out);
	unlink(path);

	snprintf(path, sizeof(path), "%s",
		 write_temp(with_extra("[pg]\nconninfo = host=a,b,c,d,e,f,g,h,i port=5432\n")));
	r = run_duetctl("check-config", path, "--no-files", NULL);
	cr_assert_eq(r->status, 1);
	cr_assert(strstr(r->err, "more than 8 host= entries with a host name among them"), "%s",
		  r->err);
	unlink(path);

	snprintf(path, sizeof(path), "%s",
		 write_temp(with_extra("[pg]\nconninfo = host='127.0.0.1\n")));
	r = run_duetctl("check-config", path, "--no-files", "--json", NULL);
	cr_assert_eq(r->status, 1);
	cr_assert(strstr(r->out, "[pg] conninfo does not parse: "), "%s", r->out);
	unlink(path);
}

/* Issue 16 item 3: getopt_long everywhere (--config=FILE, -c FILE), the
 * default config ($DUET_CONFIG, else /etc/duet/duet.ini), unknown options
 * with the usage and exit 2, and --json errors as one stable object. */
Test(duetctl, config_option_forms_and_default)
{
	const char *ex = EXAMPLE("witness.ini");
	char eq[512];
	snprintf(eq, sizeof eq, "--config=%s", ex);
	const char *forms[][3] = {
	    {"-c", ex, NULL}, {"--config", ex, NULL}, {eq, NULL, NULL}, {ex, NULL, NULL}};
	for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
		struct run *r =
		    run_duetctl("check-config", "--no-files", forms[i][0], forms[i][1], NULL);
		cr_assert_eq(r->status, 0, "%s: %s", forms[i][0], r->err);
		cr_assert(strstr(r->out, "self          witness (id 3, witness)"), "%s", r->out);
	}
	setenv("DUET_CONFIG", ex, 1);
	struct run *r = run_duetctl("check-config", "--no-files", NULL);
	cr_assert_eq(r->status, 0, "DUET_CONFIG: %s", r->err);
	cr_assert(strstr(r->out, "witness.ini: valid"), "%s", r->out);
	/* --config wins over DUET_CONFIG */
	r = run_duetctl("check-config", "--no-files", "-c", EXAMPLE("node-a.ini"), NULL);
	cr_assert(strstr(r->out, "self          node-a"), "%s", r->out);
	setenv("DUET_CONFIG", "", 1); /* empty: as if unset */
	r = run_duetctl("check-config", "--no-files", NULL);
	unsetenv("DUET_CONFIG");
	cr_assert(strstr(r->out, "/etc/duet/duet.ini") || strstr(r->err, "/etc/duet/duet.ini"),
		  "the default path: %s%s", r->out, r->err);
	r = run_duetctl("--help", NULL);
	cr_assert(strstr(r->out, "$DUET_CONFIG, else /etc/duet/duet.ini"), "%s", r->out);
	cr_assert(strstr(r->out, "Exit status: 0 success, 1"), "%s", r->out);
}

Test(duetctl, unknown_options_usage_exit_2)
{
	const char *cmds[] = {"init",       "check-config", "status",  "log",     "rejoin",
			      "switchover", "maintenance",  "promote", "gencerts"};
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		struct run *r = run_duetctl(cmds[i], "--frobnicate", NULL);
		cr_assert_eq(r->status, 2, "%s", cmds[i]);
		char want[128];
		snprintf(want, sizeof want, "duetctl %s: unknown option '--frobnicate'", cmds[i]);
		cr_assert(strstr(r->err, want), "%s: %s", cmds[i], r->err);
		snprintf(want, sizeof want, "usage: duetctl %s ", cmds[i]);
		cr_assert(strstr(r->err, want), "%s shows its usage: %s", cmds[i], r->err);
		r = run_duetctl(cmds[i], "-Z", NULL);
		cr_assert_eq(r->status, 2, "%s -Z", cmds[i]);
		cr_assert(strstr(r->err, "unknown option '-Z'"), "%s: %s", cmds[i], r->err);
		r = run_duetctl(cmds[i], "--help", NULL);
		cr_assert_eq(r->status, 0, "%s --help", cmds[i]);
	}
	struct run *r = run_duetctl("status", "--config", NULL);
	cr_assert_eq(r->status, 2);
	cr_assert(strstr(r->err, "option '--config' needs a value"), "%s", r->err);
	r = run_duetctl("switchover", "--timeout", "soon", "--socket", "/x", NULL);
	cr_assert_eq(r->status, 2);
	cr_assert(strstr(r->err, "--timeout needs 1..86400 seconds"), "%s", r->err);
}

/* The error object: jq reads it in tests/integration (cli_test.sh); here
 * its exact form for each kind of failure. */
Test(duetctl, json_errors_are_one_object)
{
	struct {
		const char *argv[6];
		int status;
		const char *code;
	} cases[] = {
	    {{"status", "--json", "--bogus", NULL}, 2, "usage"},
	    {{"frobnicate", "--json", NULL}, 2, "usage"},
	    {{"status", "--json", "--socket", "/nonexistent/admin.sock", NULL}, 1, "unreachable"},
	    {{"maintenance", "on", "--json", "--socket", "/nonexistent/admin.sock", NULL},
	     1,
	     "unreachable"},
	    {{"log", "--json", "-c", "/nonexistent/duet.ini", NULL}, 1, "config"},
	    {{"status", "--json", "--config=/nonexistent/duet.ini", NULL}, 1, "config"},
	    {{"init", "--json", "-c", "/nonexistent/duet.ini", NULL}, 1, "config"},
	    {{"promote", "--json", "--socket", "/x", NULL}, 2, "usage"},
	    /* bytes that are not UTF-8 in the message: still one valid object */
	    {{"status", "--json", "-c", "/nonexistent/\xff\xfe.ini", NULL}, 1, "config"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *const *a = cases[i].argv;
		struct run *r = run_duetctl(a[0], a[1], a[2], a[3], a[4], NULL);
		cr_assert_eq(r->status, cases[i].status, "%s %s: %d", a[0], a[1], r->status);
		json_t *d = out_doc(r);
		cr_assert_str_eq(error_code(d), cases[i].code, "%s: %s", a[0], r->out);
		cr_assert(json_is_string(json_object_get(json_object_get(d, "error"), "message")),
			  "%s: %s", a[0], r->out);
		json_decref(d);
	}
}
