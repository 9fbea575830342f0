/*
 * test_metrics.c - the pure half of duetd's HTTP endpoints (http_api.h):
 * the /master rule, label escaping, and /metrics from status documents
 * captured from a real duetd (leader and standby of a loopback cluster,
 * status_*.json), edited per test: the output is valid exposition format
 * (exposition_check.c), carries the values of the document under their
 * names, counts absent fields, leaves out what a node does not have, and
 * escapes what it quotes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "duet/err.h"
#include "exposition_check.h"
#include "http_api.h"

static json_t *load(const char *name)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", HTTP_API_FIXTURES, name);
	json_error_t err;
	json_t *doc = json_load_file(path, 0, &err);
	cr_assert_not_null(doc, "%s:%d: %s", path, err.line, err.text);
	return doc;
}

static char out[1 << 17];

/* Renders `in` into out; returns what http_metrics_write() returned, and
 * fails the test when the text is not valid exposition format. */
static int render(const struct http_metrics_input *in)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	cr_assert_not_null(f);
	int rc = http_metrics_write(f, in);
	cr_assert_eq(fclose(f), 0);
	cr_assert_lt(len, sizeof out);
	memcpy(out, text, len);
	out[len] = '\0';
	free(text);
	if (rc >= 0) {
		const char *problem = exposition_problem(out);
		cr_assert_null(problem, "%s\n%s", problem, out);
	}
	return rc;
}

/* The whole line "sample" is in out (not a prefix of another line). */
static bool has_line(const char *sample)
{
	size_t n = strlen(sample);
	for (const char *p = out; (p = strstr(p, sample)); p += n)
		if ((p == out || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

#define assert_line(s)    cr_assert(has_line(s), "no line \"%s\" in:\n%s", s, out)
#define assert_no_line(s) cr_assert(!has_line(s), "unexpected line \"%s\" in:\n%s", s, out)
#define assert_no_family(name)                                                                     \
	cr_assert_null(strstr(out, "\n" name " "), "unexpected %s in:\n%s", name, out)

static struct http_metrics_input input(const json_t *doc)
{
	struct http_metrics_input in = {
	    .status = doc, .version = "1.2.3", .is_master = false, .takeover_detect_ms = -1};
	return in;
}

Test(http_api, master_rule)
{
	/* acting, leader, lease, log names self: all four, and self known */
	cr_assert(http_api_is_master(true, true, true, 2, 2));
	cr_assert_not(http_api_is_master(false, true, true, 2, 2)); /* still activating */
	cr_assert_not(http_api_is_master(true, false, true, 2, 2)); /* lost leadership */
	cr_assert_not(http_api_is_master(true, true, false, 2, 2)); /* lease ran out */
	cr_assert_not(http_api_is_master(true, true, true, 1, 2));  /* another master */
	cr_assert_not(http_api_is_master(true, true, true, 0, 0));  /* no master at all */
}

Test(http_api, label_values_are_escaped)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	http_metrics_label_value(f, "a\\b\"c\nd\te");
	fclose(f);
	cr_assert_str_eq(text, "a\\\\b\\\"c\\nd\te");
	free(text);
}

Test(http_api, leader_document)
{
	json_t *doc = load("status_leader.json");
	struct http_metrics_input in = input(doc);
	in.is_master = true;
	cr_assert_eq(render(&in), 0, "%s", out);
	assert_line("duet_up 1");
	assert_line("duet_info{cluster=\"it\",node=\"node-a\",kind=\"data\",version=\"1.2.3\"} 1");
	assert_line("duet_is_master 1");
	assert_line("duet_raft_role{role=\"leader\"} 1");
	assert_line("duet_raft_role{role=\"follower\"} 0");
	assert_line("duet_acting{state=\"master\"} 1");
	assert_line("duet_log_master{master=\"node-a\",reason=\"first_start\"} 1");
	assert_line("duet_raft_term 2");
	assert_line("duet_raft_commit_index 4");
	assert_line("duet_lease_valid 1");
	assert_line("duet_raft_peer_match_index{peer=\"node-b\"} 4");
	assert_line("duet_peer_links_up{peer=\"witness\"} 2");
	assert_line("duet_member_role{member=\"node-b\",role=\"async_standby\"} 1");
	assert_line("duet_member_sync{member=\"node-b\"} 0");
	assert_line("duet_check_state{check=\"fs\",state=\"ok\"} 1");
	assert_line("duet_check_state{check=\"fs\",state=\"failing\"} 0");
	assert_line("duet_check_critical{check=\"fs\"} 1");
	assert_line("duet_rebuild_state{state=\"idle\"} 1");
	assert_line("duet_switchover_state{state=\"none\"} 1");
	/* traps: one syslog copy taken; an invalid custom trap and a 404 on the
	 * trap receiver; the TCP sink refused every connection */
	assert_line("duet_traps_received_total{receiver=\"syslog_udp\"} 1");
	assert_line("duet_traps_taken_total{receiver=\"syslog_udp\"} 1");
	assert_line("duet_traps_dropped_total{receiver=\"http\",reason=\"invalid_trap\"} 1");
	assert_line("duet_traps_dropped_total{receiver=\"http\",reason=\"not_found\"} 1");
	assert_line("duet_traps_dropped_total{receiver=\"syslog_udp\",reason=\"kernel_drops\"} 0");
	assert_line("duet_traps_committed_total 1");
	assert_line("duet_traps_proposing 1");
	assert_line("duet_traps_backlog_max_bytes 268435456");
	assert_line("duet_traps_backlog_full 0");
	assert_line("duet_trap_sink_connected 0");
	assert_line("duet_trap_sink_errors_total 5");
	assert_line("duet_traps_delivered_total 0");
	assert_line("duet_status_fields_missing 0");
	/* no PostgreSQL managed: no role, no replication */
	assert_line("duet_pg_managed 0");
	assert_no_family("duet_pg_primary");
	assert_no_family("duet_pg_replication_flush_lag_bytes");
	/* not given: no fsm counters, no HTTP server counters */
	assert_no_family("duet_failovers_total");
	assert_no_family("duet_http_requests_total");
	json_decref(doc);
}

Test(http_api, standby_document)
{
	json_t *doc = load("status_standby.json");
	struct http_metrics_input in = input(doc);
	cr_assert_eq(render(&in), 0, "%s", out);
	assert_line("duet_is_master 0");
	assert_line("duet_raft_role{role=\"follower\"} 1");
	assert_line("duet_raft_role{role=\"leader\"} 0");
	assert_line("duet_acting{state=\"standby\"} 1");
	assert_line("duet_lease_valid 0");
	assert_line("duet_raft_leader_id 1");
	/* only the leader sees its followers */
	assert_no_family("duet_raft_peer_match_index");
	assert_line("duet_status_fields_missing 0");
	json_decref(doc);
}

Test(http_api, postgresql_primary_with_a_streaming_standby)
{
	json_t *doc = load("status_leader.json");
	json_error_t err;
	json_t *pg =
	    json_loads("{\"managed\":true,\"answers\":true,\"role\":\"primary\","
		       "\"lsn\":\"1/3000148\",\"synchronous_standby_names\":\"\\\"node-b\\\"\","
		       "\"replication\":[{\"name\":\"node-b\",\"state\":\"streaming\","
		       "\"sync_state\":\"sync\",\"flush_lag_bytes\":0,"
		       "\"replay_lag_bytes\":128}],\"probe_age_ms\":120}",
		       0, &err);
	cr_assert_not_null(pg, "%s", err.text);
	json_object_set_new(doc, "pg", pg);
	struct http_metrics_input in = input(doc);
	cr_assert_eq(render(&in), 0, "%s", out);
	assert_line("duet_pg_managed 1");
	assert_line("duet_pg_up 1");
	assert_line("duet_pg_primary 1");
	assert_line("duet_pg_wal_position_bytes 4345299272"); /* 0x1_0300_0148 */
	assert_line("duet_pg_probe_age_seconds 0.120");
	assert_line("duet_pg_replication_flush_lag_bytes{standby=\"node-b\"} 0");
	assert_line("duet_pg_replication_replay_lag_bytes{standby=\"node-b\"} 128");
	assert_line("duet_pg_replication_info{standby=\"node-b\",state=\"streaming\",sync_state="
		    "\"sync\"} 1");
	/* a standby's PostgreSQL: 0, and no replication rows */
	json_object_set_new(pg, "role", json_string("standby"));
	json_object_set_new(pg, "replication", json_array());
	cr_assert_eq(render(&in), 0, "%s", out);
	assert_line("duet_pg_primary 0");
	assert_no_family("duet_pg_replication_flush_lag_bytes");
	json_decref(doc);
}

Test(http_api, quoted_names_are_escaped_in_labels)
{
	json_t *doc = load("status_leader.json");
	json_t *member = json_array_get(json_object_get(doc, "members"), 0);
	json_object_set_new(member, "name", json_string("we\"ird\\name\nx"));
	json_t *check = json_array_get(json_object_get(doc, "checks"), 0);
	json_object_set_new(check, "name", json_string("c\"1"));
	struct http_metrics_input in = input(doc);
	cr_assert_eq(render(&in), 0, "%s", out); /* and valid: checked in render() */
	assert_line("duet_member_sync{member=\"we\\\"ird\\\\name\\nx\"} 0");
	assert_line("duet_check_failing{check=\"c\\\"1\"} 0");
	json_decref(doc);
}

Test(http_api, absent_fields_are_counted_not_hidden)
{
	json_t *doc = load("status_leader.json");
	struct http_metrics_input in = input(doc);
	json_object_del(doc, "term");
	cr_assert_eq(render(&in), 1, "%s", out);
	assert_no_family("duet_raft_term");
	assert_line("duet_status_fields_missing 1");
	/* a field of another type counts too */
	json_object_set_new(doc, "commit_index", json_string("4"));
	cr_assert_eq(render(&in), 2, "%s", out);
	assert_line("duet_status_fields_missing 2");
	/* a whole object gone: each field a family reads from it */
	json_object_del(doc, "transport");
	int missing = render(&in);
	cr_assert_gt(missing, 10, "%d", missing);
	char line[64];
	snprintf(line, sizeof line, "duet_status_fields_missing %d", missing);
	assert_line(line);
	json_decref(doc);
}

Test(http_api, what_a_node_lacks_is_left_out_without_counting)
{
	json_t *doc = load("status_leader.json");
	json_object_set_new(json_object_get(doc, "traps"), "sink", json_null());
	struct http_metrics_input in = input(doc);
	cr_assert_eq(render(&in), 0, "%s", out);
	assert_no_family("duet_trap_sink_connected");
	assert_no_family("duet_traps_delivered_total");
	/* a peer whose last acknowledgement is unknown */
	json_t *peer = json_array_get(json_object_get(doc, "peers"), 0);
	json_object_set_new(peer, "last_ack_ms_ago", json_null());
	cr_assert_eq(render(&in), 0, "%s", out);
	json_decref(doc);
}

Test(http_api, takeover_durations)
{
	json_t *doc = load("status_leader.json");
	json_t *t = json_object_get(doc, "last_takeover");
	json_object_set_new(t, "term", json_integer(7));
	json_object_set_new(t, "committed_after_ms", json_integer(900));
	json_object_set_new(t, "promoted_after_ms", json_integer(1100));
	json_object_set_new(t, "fip_after_ms", json_integer(-1)); /* not reached */
	json_object_set_new(t, "ready_after_ms", json_integer(-1));
	json_object_set_new(t, "lease_wait_ms", json_integer(50));
	json_object_set_new(t, "fenced", json_true());
	struct http_metrics_input in = input(doc);
	in.takeover_detect_ms = 950;
	cr_assert_eq(render(&in), 0, "%s", out);
	assert_line("duet_last_takeover_term 7");
	assert_line("duet_last_takeover_duration_seconds{phase=\"detect\"} 0.950");
	assert_line("duet_last_takeover_duration_seconds{phase=\"commit\"} 0.900");
	assert_line("duet_last_takeover_duration_seconds{phase=\"promote\"} 1.100");
	assert_no_line("duet_last_takeover_duration_seconds{phase=\"fip\"} -0.001");
	cr_assert_null(strstr(out, "phase=\"fip\""), "%s", out);
	cr_assert_null(strstr(out, "phase=\"total\""), "%s", out);
	assert_line("duet_last_takeover_lease_wait_seconds 0.050");
	assert_line("duet_last_takeover_fenced 1");
	in.takeover_detect_ms = -1;
	cr_assert_eq(render(&in), 0, "%s", out);
	cr_assert_null(strstr(out, "phase=\"detect\""), "%s", out);
	json_decref(doc);
}

Test(http_api, one_series_per_receiver_and_reason)
{
	/* the receiver's own count and the HTTP server's refusals may name the
	 * same reason: summed into one series */
	json_t *doc = load("status_leader.json");
	json_t *rx = json_object_get(json_object_get(doc, "traps"), "receivers");
	json_object_set_new(json_object_get(rx, "http"), "too_large", json_integer(3));
	json_object_set_new(json_object_get(json_object_get(rx, "http_server"), "refused"),
			    "too_large", json_integer(2));
	json_object_set_new(json_object_get(rx, "snmp_refused"), "unknown_community",
			    json_integer(4));
	struct http_metrics_input in = input(doc);
	cr_assert_eq(render(&in), 0, "%s", out);
	assert_line("duet_traps_dropped_total{receiver=\"http\",reason=\"too_large\"} 5");
	assert_line("duet_traps_dropped_total{receiver=\"snmp\",reason=\"unknown_community\"} 4");
	json_decref(doc);
}

Test(http_api, failing_check)
{
	json_t *doc = load("status_leader.json");
	json_t *check = json_array_get(json_object_get(doc, "checks"), 0);
	json_object_set_new(check, "state", json_string("FAILING"));
	struct http_metrics_input in = input(doc);
	cr_assert_eq(render(&in), 0, "%s", out);
	assert_line("duet_check_failing{check=\"fs\"} 1");
	assert_line("duet_check_state{check=\"fs\",state=\"failing\"} 1");
	assert_line("duet_check_state{check=\"fs\",state=\"ok\"} 0");
	json_decref(doc);
}

Test(http_api, replicated_counters_and_the_server_own)
{
	json_t *doc = load("status_leader.json");
	struct fsm f;
	memset(&f, 0, sizeof f);
	f.counters.failovers = 3;
	f.counters.switchovers = 1;
	f.counters.forced = 2;
	f.counters.by_type[RAFT_ENTRY_MASTER] = 6;
	struct trap_http_stats hs;
	memset(&hs, 0, sizeof hs);
	hs.requests = 9;
	hs.drops[TRAP_HTTP_DROP_NOT_FOUND] = 2;
	struct http_metrics_input in = input(doc);
	in.fsm = &f;
	in.http = &hs;
	cr_assert_eq(render(&in), 0, "%s", out);
	assert_line("duet_failovers_total 3");
	assert_line("duet_switchovers_total 1");
	assert_line("duet_forced_promotions_total 2");
	assert_line("duet_log_entries_applied_total{type=\"MASTER\"} 6");
	assert_line("duet_http_requests_total 9");
	assert_line("duet_http_refused_total{reason=\"not_found\"} 2");
	assert_no_line("duet_http_refused_total{reason=\"bad_request\"} 0");
	json_decref(doc);
}

Test(http_api, not_a_document)
{
	json_t *arr = json_array();
	struct http_metrics_input in = input(arr);
	cr_assert_eq(render(&in), DUET_EINVAL);
	in.status = NULL;
	cr_assert_eq(render(&in), DUET_EINVAL);
	json_decref(arr);
}

/* The checker itself must be able to fail. */
Test(http_api, exposition_checker_refuses_bad_text)
{
	static const char *const bad[] = {
	    "duet_x 1\n",                                                  /* no HELP/TYPE */
	    "# HELP duet_x x\n# TYPE duet_x gauge\nduet_x 1",              /* no final LF */
	    "# HELP duet_x x\n# TYPE duet_x counter\nduet_x 1\n",          /* counter w/o _total */
	    "# HELP duet_x x\n# TYPE duet_x gauge\nduet_x{a=\"\\t\"} 1\n", /* bad escape */
	    "# HELP duet_x x\n# TYPE duet_x gauge\nduet_x{a=\"1\"} 1\nduet_x{a=\"1\"} 2\n",
	    "# HELP duet_x x\n# TYPE duet_x gauge\nduet_x one\n",
	    "# HELP duet_x x\n# TYPE duet_x gauge\nduet_x 1\n# HELP duet_y y\n# TYPE duet_y "
	    "gauge\nduet_y 1\n# HELP duet_x x\n# TYPE duet_x gauge\nduet_x{b=\"2\"} 1\n",
	    "# HELP x x\n# TYPE x gauge\nx 1\n", /* no duet_ prefix */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert_not_null(exposition_problem(bad[i]), "accepted: %s", bad[i]);
	cr_assert_null(exposition_problem("# HELP duet_x a \\\\ b\n# TYPE duet_x gauge\n"
					  "duet_x{a=\"q\\\"\\n\\\\\"} 1.5\nduet_x 2\n"));
}
