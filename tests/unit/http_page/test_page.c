/* SPDX-License-Identifier: MIT */
/*
 * test_page.c - the status page's pure half (daemon/http_page.h): the HTML
 * escaper, and the server-rendered snapshot written from a status document.
 *
 * leader.json is the status document a real duetd answered on GET /status
 * (tests/integration/http_test.sh page: node-a, leader and acting master
 * of the loopback cluster, no PostgreSQL, maintenance on with a reason
 * holding <script>), edited per test: a member called <script>, a role
 * that would close its attribute, PostgreSQL with a SYNC standby, the
 * witness's document, bad shapes. The script's rendering runs in headless
 * Chromium (tests/integration, status_page).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "duet/config.h"
#include "duet/err.h"
#include "helpers.h"
#include "http_page.h"

static char *escaped(const char *s)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	cr_assert(f);
	http_page_escape(f, s);
	cr_assert_eq(fclose(f), 0);
	return out;
}

static json_t *leader(void)
{
	json_error_t err;
	json_t *doc = json_load_file(FIXTURE_DIR "/leader.json", 0, &err);
	cr_assert(doc, "leader.json: %s", err.text);
	return doc;
}

/* The page of doc, with its return code in *rc. */
static char *page_rc(const json_t *doc, int *rc)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	cr_assert(f);
	*rc = http_page_write(f, doc);
	cr_assert_eq(fclose(f), 0);
	return out;
}

static char *page(const json_t *doc)
{
	int rc;
	char *out = page_rc(doc, &rc);
	cr_assert_eq(rc, 0, "http_page_write: %d", rc);
	return out;
}

static unsigned count(const char *hay, const char *needle)
{
	unsigned n = 0;
	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

#define assert_has(html, s) cr_assert(strstr((html), (s)), "no %s in:\n%s", (s), (html))
#define assert_not(html, s) cr_assert(!strstr((html), (s)), "%s in:\n%s", (s), (html))

/* ---- the escaper ----------------------------------------------------------------- */

Test(http_page_escape, the_five_characters)
{
	char *e = escaped("&<>\"'");
	cr_assert_str_eq(e, "&amp;&lt;&gt;&quot;&#39;");
	free(e);
}

Test(http_page_escape, a_script_tag_becomes_text)
{
	char *e = escaped("<script>alert(\"x\")</script>");
	cr_assert_str_eq(e, "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
	free(e);
}

Test(http_page_escape, an_attribute_cannot_be_closed)
{
	char *e = escaped("a\" onmouseover='x' b=\"");
	cr_assert_str_eq(e, "a&quot; onmouseover=&#39;x&#39; b=&quot;");
	free(e);
}

Test(http_page_escape, entities_are_escaped_again)
{
	char *e = escaped("&lt;b&gt; &amp;");
	cr_assert_str_eq(e, "&amp;lt;b&amp;gt; &amp;amp;");
	free(e);
}

Test(http_page_escape, utf8_newlines_and_plain_text_pass)
{
	const char *s = "caf\xc3\xa9 \xe2\x80\x93 line1\nline2\ttab node-a_1.x";
	char *e = escaped(s);
	cr_assert_str_eq(e, s);
	free(e);
}

Test(http_page_escape, null_and_empty_write_nothing)
{
	char *e = escaped(NULL);
	cr_assert_str_eq(e, "");
	free(e);
	e = escaped("");
	cr_assert_str_eq(e, "");
	free(e);
}

/* ---- names from the config ---------------------------------------------------------- */

/* The config refuses <script> as a member, node or cluster name: names
 * reach the page only as letters, digits, '.', '_' and '-'. The page
 * escapes them all the same (the tests below). */
Test(http_page_config, a_script_name_is_refused_by_the_config)
{
	static const struct {
		const char *from, *to;
	} edits[] = {
	    {"[member node-b]", "[member <script>alert(1)</script>]"},
	    {"name = node-a", "name = <script>alert(1)</script>"},
	    {"name = demo", "name = <script>"},
	};
	for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
		struct duet_config cfg;
		struct duet_config_errors errs;
		int rc = load_text(replace(BASE_CONFIG, edits[i].from, edits[i].to), &cfg, &errs);
		cr_assert_eq(rc, DUET_EINVAL, "%s: loaded", edits[i].to);
		bool named = false;
		for (unsigned k = 0; k < errs.n; k++)
			named = named || strstr(errs.v[k].message, "is not a valid name");
		if (!named)
			dump_errors(&errs);
		cr_assert(named, "%s: refused, but not as a name", edits[i].to);
		duet_config_free(&cfg);
	}
}

/* ---- the snapshot ---------------------------------------------------------------- */

Test(http_page, the_leader_snapshot_names_the_master)
{
	json_t *doc = leader();
	char *html = page(doc);
	assert_has(html, "<!DOCTYPE html>");
	assert_has(html, "<title>duet it: node-a</title>");
	assert_has(html, "<body data-source=\"server\">");
	assert_has(html, "<h1>duet <span id=\"cluster\">it</span></h1>");
	assert_has(html, "node-a (data) \xc2\xb7 raft leader, term 2 \xc2\xb7 leader node-a "
			 "\xc2\xb7 lease held");
	assert_has(html, "<tr data-role=\"master\"><td>node-a</td><td>master</td>"
			 "<td>leader, term 2</td><td>this node</td><td>\xe2\x80\x94</td>"
			 "<td>not managed</td><td></td><td>ok</td></tr>");
	assert_has(html, "<tr data-role=\"async standby\"><td>node-b</td><td>async standby</td>"
			 "<td>follower, ack 62 ms ago</td><td>up</td><td>log 0</td>");
	assert_has(html, "<tr data-role=\"witness\"><td>witness</td><td>witness</td>");
	assert_has(html, "<dt>master</dt><dd>node-a (first_start, since entry 3)</dd>");
	assert_has(html, "<dt>FIP holder</dt><dd>node-a (this node, acting master)</dd>");
	assert_has(html, "<dt>this node acts as</dt><dd>master</dd>");
	assert_has(html, "<dt>why not master</dt><dd>\xe2\x80\x94</dd>");
	assert_has(html, "<dt>SYNC</dt><dd>\xe2\x80\x94</dd>");
	assert_has(html, "<dt>last election</dt><dd>timeout, ");
	/* the first start's activation is this node's takeover */
	assert_has(html,
		   "<dt>last takeover here</dt><dd>term 2: leading, committed +7 ms, promoted "
		   "+7 ms, FIP +7 ms, ready +7 ms, lease wait 0 ms</dd>");
	assert_has(html, "<dt>switchover</dt><dd>none</dd>");
	assert_has(html, "<dt>received</dt><dd>0 (taken 0)</dd>");
	assert_has(html, "<dt>dropped</dt><dd>0</dd>");
	/* the operator's reason (it holds <script>) is text, newline kept */
	assert_has(html,
		   "<dt>maintenance</dt><dd>on, by root@vm: &lt;script&gt;alert(&quot;x&quot;)"
		   "&lt;/script&gt; &amp; &#39;q&#39; line1\nline2</dd>");
	cr_assert_eq(count(html, "<script"), 1, "%s", html);
	cr_assert_eq(count(html, "</script>"), 1, "%s", html);
	/* the script renders from /status into the same elements */
	assert_has(html, "fetch('/status'");
	assert_has(html, "setInterval(tick,1000)");
	/* self-contained and small */
	assert_not(html, "src=");
	assert_not(html, "href=");
	assert_not(html, "http://");
	assert_not(html, "https://");
	cr_assert_lt(strlen(html), 16384, "the page is %zu bytes", strlen(html));
	free(html);
	json_decref(doc);
}

Test(http_page, a_script_in_a_member_name_is_text)
{
	json_t *doc = leader();
	const char *evil = "<script>alert(1)</script>";
	json_object_set_new(json_array_get(json_object_get(doc, "members"), 1), "name",
			    json_string(evil));
	json_object_set_new(json_array_get(json_object_get(doc, "peers"), 0), "name",
			    json_string(evil));
	json_object_set_new(doc, "cluster", json_string(evil));
	json_object_set_new(doc, "leader", json_string(evil));
	json_object_set_new(json_object_get(doc, "master"), "node", json_string(evil));
	char *html = page(doc);
	assert_has(html, "<title>duet &lt;script&gt;alert(1)&lt;/script&gt;: node-a</title>");
	assert_has(html, "<span id=\"cluster\">&lt;script&gt;alert(1)&lt;/script&gt;</span>");
	assert_has(html, "<td>&lt;script&gt;alert(1)&lt;/script&gt;</td><td>async standby</td>"
			 "<td>leader, term 2</td><td>up</td>");
	assert_has(html, "<dt>master</dt><dd>&lt;script&gt;alert(1)&lt;/script&gt; (first_start");
	assert_not(html, evil);
	cr_assert_eq(count(html, "<script"), 1, "%s", html);
	free(html);
	json_decref(doc);
}

Test(http_page, a_role_cannot_close_its_attribute)
{
	json_t *doc = leader();
	json_object_set_new(json_array_get(json_object_get(doc, "members"), 0), "role",
			    json_string("x\"><script>alert(1)</script>"));
	char *html = page(doc);
	assert_has(html, "<tr data-role=\"x&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\">");
	cr_assert_eq(count(html, "<script"), 1, "%s", html);
	free(html);
	json_decref(doc);
}

Test(http_page, postgresql_lag_lsn_and_sync)
{
	json_t *doc = leader();
	json_t *pg = json_pack(
	    "{s:b,s:b,s:s,s:s,s:s,s:[{s:s,s:s,s:s,s:i,s:i}],s:s,s:i}", "managed", 1, "answers", 1,
	    "role", "primary", "lsn", "0/3000060", "synchronous_standby_names", "\"node-b\"",
	    "replication", "name", "node-b", "state", "streaming", "sync_state", "sync",
	    "flush_lag_bytes", 0, "replay_lag_bytes", 128, "sync_why", "", "probe_age_ms", 80);
	cr_assert(pg);
	json_object_set_new(doc, "pg", pg);
	json_t *b = json_array_get(json_object_get(doc, "members"), 1);
	json_object_set_new(b, "sync", json_true());
	json_object_set_new(b, "role", json_string("sync standby"));
	json_object_set_new(json_array_get(json_object_get(doc, "peers"), 0), "match_index",
			    json_integer(3));
	char *html = page(doc);
	assert_has(html, "<td>this node</td><td>\xe2\x80\x94</td><td>primary 0/3000060</td>");
	assert_has(html, "<tr data-role=\"sync standby\"><td>node-b</td><td>sync standby</td>"
			 "<td>follower, ack 62 ms ago</td><td>up</td><td>log 2, WAL 128 B</td>"
			 "<td>standby streaming (sync)</td><td>SYNC</td><td>ok</td></tr>");
	assert_has(html, "<dt>SYNC</dt><dd>node-b</dd>");
	assert_has(html, "<dt>synchronous_standby_names</dt><dd>&quot;node-b&quot;</dd>");
	free(html);
	json_decref(doc);
}

Test(http_page, a_postgresql_that_does_not_answer)
{
	json_t *doc = leader();
	json_object_set_new(doc, "pg",
			    json_pack("{s:b,s:b,s:s,s:s}", "managed", 1, "answers", 0, "error",
				      "connection refused <on 5432>", "sync_why",
				      "no standby streams"));
	json_object_set_new(doc, "why_not_master", json_string("PostgreSQL <down>"));
	char *html = page(doc);
	assert_has(html, "<td>does not answer</td>");
	assert_has(html, "<dt>PostgreSQL</dt><dd>connection refused &lt;on 5432&gt;</dd>");
	assert_has(html, "<dt>SYNC</dt><dd>\xe2\x80\x94: no standby streams</dd>");
	assert_has(html, "<dt>why not master</dt><dd>PostgreSQL &lt;down&gt;</dd>");
	free(html);
	json_decref(doc);
}

Test(http_page, a_takeover_and_trap_counters)
{
	json_t *doc = leader();
	json_object_set_new(doc, "last_takeover",
			    json_pack("{s:i,s:i,s:i,s:i,s:i,s:i,s:b}", "term", 4,
				      "committed_after_ms", 12, "promoted_after_ms", 340,
				      "fip_after_ms", -1, "ready_after_ms", 410, "lease_wait_ms", 0,
				      "fenced", 0));
	json_t *t = json_object_get(doc, "traps");
	json_object_set_new(t, "received", json_integer(7));
	json_object_set_new(json_object_get(t, "drops"), "oversized", json_integer(2));
	json_object_set_new(t, "sink",
			    json_pack("{s:s,s:s,s:b,s:i,s:i}", "type", "tcp", "target",
				      "127.0.0.1:6514", "connected", 1, "records_sent", 5, "errors",
				      1));
	char *html = page(doc);
	assert_has(html, "<dt>last takeover here</dt><dd>term 4: leading, committed +12 ms, "
			 "promoted +340 ms, FIP \xe2\x80\x94, ready +410 ms, lease wait 0 ms</dd>");
	assert_has(html, "<dt>received</dt><dd>7 (taken 0)</dd>");
	assert_has(html, "<dt>dropped</dt><dd>2: oversized 2</dd>");
	assert_has(html, "<dt>sink</dt><dd>tcp 127.0.0.1:6514: connected, 5 records sent, "
			 "1 errors</dd>");
	free(html);
	json_decref(doc);
}

/* The witness's document: no controller, no PostgreSQL, traps null. */
Test(http_page, the_witness_document)
{
	json_t *doc = leader();
	const char *data_only[] = {"acting",
				   "activation_step",
				   "why_not_master",
				   "pg",
				   "last_takeover",
				   "last_takeover_fence",
				   "last_takeover_mono_ms",
				   "actions",
				   "checks",
				   "pg_rebuild",
				   "switchover",
				   "watchdog"};
	for (size_t i = 0; i < sizeof data_only / sizeof data_only[0]; i++)
		json_object_del(doc, data_only[i]);
	json_object_set_new(doc, "traps", json_null());
	json_object_set_new(doc, "name", json_string("witness"));
	json_object_set_new(doc, "kind", json_string("witness"));
	json_object_set_new(doc, "role", json_string("follower"));
	/* its peers are the data nodes, seen from a follower (no leader view) */
	json_object_set_new(doc, "peers",
			    json_pack("[{s:s,s:i},{s:s,s:i}]", "name", "node-a", "links_up", 1,
				      "name", "node-b", "links_up", 0));
	char *html = page(doc);
	assert_has(html, "<dt>pipeline</dt><dd>none on this member</dd>");
	assert_has(html, "<dt>FIP holder</dt><dd>node-a</dd>");
	assert_has(html,
		   "<td>witness</td><td>witness</td><td>follower, term 2</td><td>this node</td>"
		   "<td>\xe2\x80\x94</td>");
	assert_has(html, "<td>node-b</td><td>async standby</td><td>\xe2\x80\x94</td><td>down</td>");
	*strstr(html, "<script>") = 0; /* the snapshot alone: the script names every key */
	assert_not(html, "this node acts as");
	assert_not(html, "last takeover here");
	free(html);
	json_decref(doc);
}

Test(http_page, bad_shapes_are_shown_as_absent)
{
	int rc;
	char *html = page_rc(NULL, &rc);
	cr_assert_eq(rc, DUET_EINVAL);
	free(html);
	json_t *arr = json_array();
	html = page_rc(arr, &rc);
	cr_assert_eq(rc, DUET_EINVAL);
	free(html);
	json_decref(arr);

	json_t *doc = json_pack("{s:i,s:s,s:i,s:[i,s,{s:i}],s:i,s:s,s:{s:i}}", "name", 7, "members",
				"not a list", "term", 1, "peers", 1, "x", "name", 3, "traps", 5,
				"cluster", "", "master", "node", 9);
	cr_assert(doc);
	html = page(doc);
	assert_has(html, "<tbody id=\"members\"></tbody>");
	assert_has(html, "<title>duet \xe2\x80\x94: \xe2\x80\x94</title>");
	assert_has(html, "<dt>master</dt><dd>none</dd>");
	assert_has(html, "<dt>pipeline</dt><dd>none on this member</dd>");
	free(html);
	json_decref(doc);

	/* an empty object: every section, nothing in it */
	doc = json_object();
	html = page(doc);
	assert_has(html, "</body></html>");
	free(html);
	json_decref(doc);
}
