/* SPDX-License-Identifier: MIT */
/*
 * test_metrics.c - the pure half of duetd's HTTP endpoints (http_api.h):
 * the /master rule, label escaping, and /metrics from struct duet_status
 * as a leader and a standby of a loopback cluster fill it, edited per test:
 * the output is valid exposition format (exposition_check.c), carries the
 * struct's values under their names, leaves out what a node does not have
 * (the witness's controller and traps), and escapes what it quotes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "duet/err.h"
#include "exposition_check.h"
#include "http_api.h"

/* A leader of a loopback cluster like the integration tests' (node-a, with
 * node-b and a witness), as duet_status_new() fills it: no PostgreSQL, one
 * fs check, the trap receivers with one syslog copy taken, an invalid
 * custom trap and a 404 on the trap receiver, a TCP sink that refused
 * every connection. */
static struct duet_status *leader(void)
{
	static struct duet_status st;
	memset(&st, 0, sizeof st);
	st.version = DUET_STATUS_VERSION;
	st.id = 1;
	st.name = "node-a";
	st.cluster = "it";
	st.wall_ms = 1700000000000ull;
	st.uptime_ms = 5123;
	st.raft.role = RAFT_LEADER;
	st.raft.term = 2;
	st.raft.leader = 1;
	st.leader = "node-a";
	st.raft.commit_index = 4;
	st.lease = true;
	st.master.id = 1;
	st.master.node = "node-a";
	st.master.reason = "first_start";
	st.n_peers = 2;
	st.peers[0] = (struct duet_status_peer){.id = 2,
						.name = "node-b",
						.links_up = 2,
						.leader_view = true,
						.match_index = 4,
						.acked = true,
						.last_ack_ms_ago = 250};
	st.peers[1] = (struct duet_status_peer){
	    .id = 3, .name = "witness", .links_up = 2, .leader_view = true, .match_index = 4};
	st.have_ctl = true;
	struct duet_status_ctl *c = &st.ctl;
	c->acting = "master";
	c->pg.error = "";
	c->last_takeover.committed_after_ms = c->last_takeover.promoted_after_ms = -1;
	c->last_takeover.fip_after_ms = c->last_takeover.ready_after_ms = -1;
	c->last_takeover.detect_ms = -1;
	st.n_members = 3;
	st.members[0] = (struct duet_status_member){.name = "node-a", .role = "master"};
	st.members[1] = (struct duet_status_member){.name = "node-b", .role = "async standby"};
	st.members[2] = (struct duet_status_member){.name = "witness", .role = "witness"};
	c->have_checks = true;
	c->n_checks = 1;
	snprintf(c->checks[0].name, sizeof c->checks[0].name, "fs");
	c->checks[0].state = DUET_HEALTH_OK;
	c->checks[0].critical = true;
	c->checks[0].last_duration_ms = 3;
	c->rebuild.state = "idle";
	c->switchover.state = "none";
	st.have_traps = true;
	struct duet_status_traps *t = &st.traps;
	t->proposing = true;
	t->pipe.committed = 1;
	t->backlog_max_bytes = 268435456;
	t->have_sink = true;
	t->sink.errors = 5;
	t->have_rx = true;
	static const char *const names[] = {"syslog_udp", "syslog_tcp", "snmp", "http"};
	t->rx.n_src = 4;
	for (unsigned i = 0; i < 4; i++)
		t->rx.src[i].name = names[i];
	t->rx.src[0].copies = 1;
	t->rx.src[0].results[DUET_TRAP_TAKEN] = 1;
	t->rx.n_syslog_udp = 1;
	t->rx.syslog_udp[0].port = 5514;
	t->rx.have_http = true;
	t->rx.http.drops[TRAP_HTTP_DROP_INVALID_TRAP] = 1;
	t->rx.http.drops[TRAP_HTTP_DROP_NOT_FOUND] = 1;
	return &st;
}

/* node-b following it. */
static struct duet_status *standby(void)
{
	struct duet_status *st = leader();
	st->id = 2;
	st->name = "node-b";
	st->raft.role = RAFT_FOLLOWER;
	st->lease = false;
	st->peers[0] = (struct duet_status_peer){.id = 1, .name = "node-a", .links_up = 2};
	st->peers[1] = (struct duet_status_peer){.id = 3, .name = "witness", .links_up = 2};
	st->ctl.acting = "standby";
	st->traps.proposing = false;
	st->traps.have_sink = false;
	return st;
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

static struct http_metrics_input input(const struct duet_status *st)
{
	struct http_metrics_input in = {.status = st, .version = "1.2.3", .is_master = false};
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
	struct http_metrics_input in = input(leader());
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
	/* the leader as a label, a follower's last acknowledgement as a time */
	assert_line("duet_raft_leader{leader=\"node-a\"} 1");
	assert_line("duet_raft_peer_last_ack_timestamp_seconds{peer=\"node-b\"} 1699999999.750");
	assert_no_line("duet_raft_peer_last_ack_timestamp_seconds{peer=\"witness\"} 0.000");
	assert_line("duet_uptime_seconds 5.123");
	assert_line("duet_check_last_duration_seconds{check=\"fs\"} 0.003");
	/* maintenance off: no reason */
	assert_line("duet_maintenance 0");
	assert_no_family("duet_maintenance_info");
	/* no PostgreSQL managed: no role, no replication */
	assert_line("duet_pg_managed 0");
	assert_no_family("duet_pg_primary");
	assert_no_family("duet_pg_replication_flush_lag_bytes");
	/* not given: no fsm counters, no HTTP server counters */
	assert_no_family("duet_failovers_total");
	assert_no_family("duet_http_requests_total");
}

Test(http_api, standby_document)
{
	struct http_metrics_input in = input(standby());
	cr_assert_eq(render(&in), 0, "%s", out);
	assert_line("duet_is_master 0");
	assert_line("duet_raft_role{role=\"follower\"} 1");
	assert_line("duet_raft_role{role=\"leader\"} 0");
	assert_line("duet_acting{state=\"standby\"} 1");
	assert_line("duet_lease_valid 0");
	assert_line("duet_raft_leader{leader=\"node-a\"} 1");
	/* only the leader sees its followers */
	assert_no_family("duet_raft_peer_match_index");
	assert_no_family("duet_raft_peer_last_ack_timestamp_seconds");
	/* no sink here */
	assert_no_family("duet_trap_sink_connected");
	assert_no_family("duet_traps_delivered_total");
}

Test(http_api, witness)
{
	struct duet_status *st = standby();
	st->id = 3;
	st->name = "witness";
	st->witness = true;
	st->have_ctl = false;
	st->have_traps = false;
	st->leader = NULL;
	struct http_metrics_input in = input(st);
	cr_assert_eq(render(&in), 0, "%s", out);
	assert_line(
	    "duet_info{cluster=\"it\",node=\"witness\",kind=\"witness\",version=\"1.2.3\"} 1");
	assert_line("duet_raft_leader{leader=\"\"} 1"); /* none known */
	assert_line("duet_raft_term 2");
	assert_no_family("duet_acting");
	assert_no_family("duet_pg_managed");
	assert_no_family("duet_check_state");
	assert_no_family("duet_traps_proposing");
	assert_no_family("duet_traps_received_total");
}

Test(http_api, maintenance_reason_as_labels)
{
	struct duet_status *st = leader();
	st->maintenance = (struct duet_status_maintenance){.on = true,
							   .known = true,
							   .since_index = 9,
							   .who = "ops",
							   .why = "caf\xc3\xa9 \"q\"\nl2 \\"};
	struct http_metrics_input in = input(st);
	cr_assert_eq(render(&in), 0, "%s", out);
	assert_line("duet_maintenance 1");
	assert_line("duet_maintenance_info{who=\"ops\",why=\"caf\xc3\xa9 \\\"q\\\"\\nl2 \\\\\"} 1");
	/* on, but set by an entry whose text the node no longer has */
	st->maintenance.known = false;
	cr_assert_eq(render(&in), 0, "%s", out);
	assert_no_family("duet_maintenance_info");
}

Test(http_api, postgresql_primary_with_a_streaming_standby)
{
	struct duet_status *st = leader();
	static struct duet_pg_repl repl[1];
	memset(repl, 0, sizeof repl);
	snprintf(repl[0].application_name, sizeof repl[0].application_name, "node-b");
	snprintf(repl[0].state, sizeof repl[0].state, "streaming");
	snprintf(repl[0].sync_state, sizeof repl[0].sync_state, "sync");
	repl[0].flush_lag_bytes = 0;
	repl[0].replay_lag_bytes = 128;
	st->ctl.pg.managed = st->ctl.pg.answers = true;
	st->ctl.pg.role = "primary";
	st->ctl.pg.lsn = "1/3000148";
	st->ctl.pg.repl = repl;
	st->ctl.pg.n_repl = 1;
	st->ctl.pg.probe_age_ms = 120;
	struct http_metrics_input in = input(st);
	cr_assert_eq(render(&in), 0, "%s", out);
	assert_line("duet_pg_managed 1");
	assert_line("duet_pg_up 1");
	assert_line("duet_pg_primary 1");
	assert_line("duet_pg_wal_position_bytes 4345299272"); /* 0x1_0300_0148 */
	assert_line("duet_pg_last_probe_timestamp_seconds 1699999999.880");
	assert_line("duet_pg_replication_flush_lag_bytes{standby=\"node-b\"} 0");
	assert_line("duet_pg_replication_replay_lag_bytes{standby=\"node-b\"} 128");
	assert_line("duet_pg_replication_info{standby=\"node-b\",state=\"streaming\",sync_state="
		    "\"sync\"} 1");
	/* PostgreSQL said NULL for the lag: no series */
	repl[0].flush_lag_bytes = -1;
	cr_assert_eq(render(&in), 0, "%s", out);
	assert_no_family("duet_pg_replication_flush_lag_bytes");
	/* a standby's PostgreSQL: 0, and no replication rows */
	st->ctl.pg.role = "standby";
	st->ctl.pg.n_repl = 0;
	cr_assert_eq(render(&in), 0, "%s", out);
	assert_line("duet_pg_primary 0");
	assert_no_family("duet_pg_replication_replay_lag_bytes");
	/* no answer: no role, no position */
	st->ctl.pg.answers = false;
	cr_assert_eq(render(&in), 0, "%s", out);
	assert_line("duet_pg_up 0");
	assert_no_family("duet_pg_primary");
	assert_no_family("duet_pg_wal_position_bytes");
}

Test(http_api, quoted_names_are_escaped_in_labels)
{
	struct duet_status *st = leader();
	st->members[0].name = "we\"ird\\name\nx";
	snprintf(st->ctl.checks[0].name, sizeof st->ctl.checks[0].name, "c\"1");
	struct http_metrics_input in = input(st);
	cr_assert_eq(render(&in), 0, "%s", out); /* and valid: checked in render() */
	assert_line("duet_member_sync{member=\"we\\\"ird\\\\name\\nx\"} 0");
	assert_line("duet_check_failing{check=\"c\\\"1\"} 0");
}

Test(http_api, what_a_node_lacks_is_left_out)
{
	struct duet_status *st = leader();
	st->traps.have_sink = false;
	st->traps.have_rx = false;
	st->ctl.have_checks = false;
	st->ctl.n_checks = 0;
	struct http_metrics_input in = input(st);
	cr_assert_eq(render(&in), 0, "%s", out);
	assert_no_family("duet_trap_sink_connected");
	assert_no_family("duet_traps_delivered_total");
	assert_no_family("duet_traps_received_total");
	assert_no_family("duet_check_state");
	assert_line("duet_traps_proposing 1");
}

Test(http_api, takeover_durations)
{
	struct duet_status *st = leader();
	struct duet_status_takeover *t = &st->ctl.last_takeover;
	t->term = 7;
	t->committed_after_ms = 900;
	t->promoted_after_ms = 1100;
	t->fip_after_ms = -1; /* not reached */
	t->ready_after_ms = -1;
	t->lease_wait_ms = 50;
	t->fenced = true;
	t->detect_ms = 950;
	struct http_metrics_input in = input(st);
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
	t->detect_ms = -1;
	cr_assert_eq(render(&in), 0, "%s", out);
	cr_assert_null(strstr(out, "phase=\"detect\""), "%s", out);
}

Test(http_api, one_series_per_receiver_and_reason)
{
	/* the receiver's own counts and its server's refusals, one series
	 * each; the UDP sockets of one receiver summed into one series */
	struct duet_status *st = leader();
	struct duet_status_rx *rx = &st->traps.rx;
	rx->src[3].results[DUET_TRAP_TOO_LARGE] = 3; /* "too_large" */
	rx->http.drops[TRAP_HTTP_DROP_BODY_TOO_LARGE] = 2;
	rx->n_snmp_refused = 1;
	rx->snmp_refused[0].name = "unknown_community";
	rx->snmp_refused[0].n = 4;
	rx->n_syslog_udp = 2;
	rx->syslog_udp[0].s.kernel_drops = 6;
	rx->syslog_udp[1].s.kernel_drops = 1;
	struct http_metrics_input in = input(st);
	cr_assert_eq(render(&in), 0, "%s", out);
	assert_line("duet_traps_dropped_total{receiver=\"http\",reason=\"too_large\"} 3");
	assert_line("duet_traps_dropped_total{receiver=\"http\",reason=\"body_too_large\"} 2");
	assert_line("duet_traps_dropped_total{receiver=\"snmp\",reason=\"unknown_community\"} 4");
	assert_line("duet_traps_dropped_total{receiver=\"syslog_udp\",reason=\"kernel_drops\"} 7");
}

Test(http_api, failing_check)
{
	struct duet_status *st = leader();
	st->ctl.checks[0].state = DUET_HEALTH_FAILING;
	struct http_metrics_input in = input(st);
	cr_assert_eq(render(&in), 0, "%s", out);
	assert_line("duet_check_failing{check=\"fs\"} 1");
	assert_line("duet_check_state{check=\"fs\",state=\"failing\"} 1");
	assert_line("duet_check_state{check=\"fs\",state=\"ok\"} 0");
}

Test(http_api, replicated_counters_and_the_server_own)
{
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
	struct http_metrics_input in = input(leader());
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
}

Test(http_api, no_status)
{
	struct http_metrics_input in = input(NULL);
	cr_assert_eq(render(&in), DUET_EINVAL);
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
