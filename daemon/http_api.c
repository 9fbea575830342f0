/* SPDX-License-Identifier: MIT */
/*
 * http_api.c - duetd's HTTP endpoints on the node's loop (http_api.h):
 * GET (and HEAD) /master, /health, /metrics, the names HAProxy and
 * probes use (/primary, /replica, /sync, /async, /liveness, /readiness),
 * and for people /status and the page at / (http_page.c), on [http]
 * listen, over the
 * custom-trap receiver's server code (traps_http.h) with no built-in
 * routes.
 *
 * Each answer is decided at once from what the node holds in memory: the
 * raft core's status, the role controller, the applied state, the health
 * checks. /master applies http_api_is_master() to the same facts ctl.c
 * acts on, read at the moment of the request (not ctl's last step): a lease
 * that ran out a moment ago answers 503 even before the lease timer has
 * demoted the node. /metrics fills the status (status.h) and writes it
 * (http_metrics.c).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duet/health.h"

#include "http_api.h"
#include "http_page.h"
#include "node_internal.h"

#define HTTP_API_MAX_BODY_BYTES 4096 /* the endpoints take no body */
#define HTTP_API_NO_STORE       "Cache-Control: no-store\r\n"
#define HTTP_API_N_ROUTES       11
/* The page: inline CSS and script, nothing from elsewhere; the script asks
 * /status only. */
#define HTTP_API_PAGE_CSP                                                                          \
	"Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; "                 \
	"script-src 'unsafe-inline'; connect-src 'self'\r\n"

struct http_api {
	struct node *n;
	struct trap_http_server *srv;
	struct trap_http_route routes[HTTP_API_N_ROUTES];
};

/* ---- answers ------------------------------------------------------------------ */

static const char *member_name(const struct node *n, uint32_t id)
{
	const struct duet_member *m = duet_membership_find(&n->cfg.membership, id);
	return m ? m->name : NULL;
}

/* DESIGN.md 4.9: /master answers 200 only while the local PostgreSQL is a
 * writable primary, by a probe that started after the activation finished
 * and after the last demotion ended (so not one that saw it up just before
 * our own stop). No managed PostgreSQL: nothing to check. */
static bool pg_writable(const struct node *n)
{
	const struct ctl *c = &n->ctl;
	if (!c->pg)
		return true;
	return c->pg_known && !c->pg_last.in_recovery && c->pg_last_epoch == c->demote_epoch &&
	       !c->demotions_in_flight && c->pg_last_started_ms >= c->last.done_ms;
}

static bool node_is_master(struct node *n, struct raft_status *st, bool *lease)
{
	uint64_t now = node_now_ms();
	raft_status(n->raft, now, st);
	*lease = st->role == RAFT_LEADER && raft_lease_valid(n->raft, now);
	return http_api_is_master(n->ctl.act == CTL_MASTER, st->role == RAFT_LEADER, *lease,
				  n->fsm.master.node, n->cfg.self_id) &&
	       pg_writable(n);
}

/* doc (taken) as the JSON answer. */
static void respond_doc(struct trap_http_response *resp, int status, json_t *doc)
{
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!text) {
		trap_http_respond_error(resp, 500, TRAP_HTTP_DROP_INTERNAL_ERROR, "out of memory");
		return;
	}
	trap_http_respond(resp, status, "application/json", text, strlen(text));
	snprintf(resp->headers, sizeof resp->headers, HTTP_API_NO_STORE);
	free(text);
}

static void handle_master(void *data, const struct trap_http_request *req,
			  struct trap_http_response *resp)
{
	(void)req;
	struct http_api *api = data;
	struct node *n = api->n;
	struct raft_status st;
	bool lease;
	bool master = node_is_master(n, &st, &lease) && !n->stopping;
	json_t *doc = json_pack("{s:b, s:o, s:I, s:o, s:o, s:s, s:b}", "master", master, "node",
				duet_status_text(n->cfg.node_name), "term", (json_int_t)st.term,
				"master_node", duet_status_text(member_name(n, n->fsm.master.node)),
				"leader", duet_status_text(member_name(n, st.leader)), "acting",
				ctl_act_name(n->ctl.act), "lease_valid", lease);
	respond_doc(resp, master ? 200 : 503, doc);
}

static void handle_health(void *data, const struct trap_http_request *req,
			  struct trap_http_response *resp)
{
	(void)req;
	struct http_api *api = data;
	struct node *n = api->n;
	const char *failing = NULL;
	bool bad = n->stopping || ctl_health_critical_failing(n, &failing);
	char detail[DUET_HEALTH_DETAIL_MAX] = "";
	if (n->stopping)
		snprintf(detail, sizeof detail, "the daemon is shutting down");
	else if (failing)
		(void)duet_health_state(n->ctl.health, failing, NULL, NULL, detail, sizeof detail);
	/* every check, critical or not, with its state (the whole story is in
	 * duetctl status and /metrics) */
	json_t *checks = json_array();
	unsigned count = n->ctl.health ? duet_health_count(n->ctl.health) : 0;
	for (unsigned i = 0; i < count && checks; i++) {
		struct duet_health_status hs;
		if (duet_health_status_at(n->ctl.health, i, &hs) != 0)
			continue;
		json_array_append_new(
		    checks, json_pack("{s:o, s:s, s:b, s:b}", "name", duet_status_text(hs.name),
				      "state", duet_health_state_name(hs.state), "critical",
				      hs.critical, "paused", hs.paused));
	}
	json_t *doc = json_pack("{s:s, s:o, s:o, s:o, s:o}", "status", bad ? "failing" : "ok",
				"node", duet_status_text(n->cfg.node_name), "failing",
				duet_status_text(n->stopping ? "stopping" : failing), "detail",
				duet_status_text(detail), "checks", checks);
	respond_doc(resp, bad ? 503 : 200, doc);
}

/* ---- the names HAProxy templates and probes use -------------------------------- */

/* What /replica, /sync, /async and /readiness decide from, read at the
 * moment of the request like /master's. */
struct role_facts {
	bool master;      /* what /master answers */
	bool pg_managed;  /* [pg] conninfo is set */
	bool pg_answers;  /* the last probe of the local PostgreSQL answered */
	bool in_recovery; /* ... and it is a standby */
	bool streaming;   /* ... whose WAL receiver streams */
	bool sync;        /* the applied log says SYNC on for this node */
	const char *why;  /* when not a streaming standby: why not */
};

static void role_facts(struct node *n, struct role_facts *rf)
{
	struct raft_status st;
	bool lease;
	const struct ctl *c = &n->ctl;
	memset(rf, 0, sizeof *rf);
	rf->master = node_is_master(n, &st, &lease) && !n->stopping;
	rf->pg_managed = c->pg != NULL;
	rf->pg_answers = rf->pg_managed && c->pg_known;
	rf->in_recovery = rf->pg_answers && c->pg_last.in_recovery;
	rf->streaming = rf->in_recovery && strcmp(c->pg_last.wal_receiver_status, "streaming") == 0;
	const struct fsm_node *me = fsm_node_find(&n->fsm, n->cfg.self_id);
	rf->sync = me && me->sync;
	if (n->stopping)
		rf->why = "the daemon is shutting down";
	else if (rf->master)
		rf->why = "this node is the master";
	else if (!rf->pg_managed)
		rf->why = "no PostgreSQL is managed here ([pg] conninfo is empty)";
	else if (!rf->pg_answers)
		rf->why = "the local PostgreSQL does not answer";
	else if (!rf->in_recovery)
		rf->why = "the local PostgreSQL is not in recovery";
	else if (!rf->streaming)
		rf->why = "the local PostgreSQL does not stream from the master";
}

/* A streaming standby: PostgreSQL in recovery with its WAL receiver
 * streaming, on a node that is not the master. */
static bool is_replica(const struct role_facts *rf)
{
	return !rf->why;
}

enum role_endpoint { EP_REPLICA, EP_SYNC, EP_ASYNC };

static void respond_role(struct http_api *api, struct trap_http_response *resp,
			 enum role_endpoint ep)
{
	struct node *n = api->n;
	struct role_facts rf;
	role_facts(n, &rf);
	bool ok = is_replica(&rf);
	const char *why = rf.why;
	if (ok && ep == EP_SYNC && !rf.sync) {
		ok = false;
		why = "a streaming standby, but not the committed synchronous one";
	} else if (ok && ep == EP_ASYNC && rf.sync) {
		ok = false;
		why = "the committed synchronous standby";
	}
	const char *master = member_name(n, n->fsm.master.node);
	json_t *doc =
	    json_pack("{s:b, s:s, s:s, s:b, s:o, s:o, s:s*, s:b, s:s*}", "ok", ok, "node",
		      n->cfg.node_name, "role",
		      rf.master         ? "master"
		      : is_replica(&rf) ? (rf.sync ? "sync standby" : "async standby")
					: "other",
		      "pg_managed", rf.pg_managed, "pg_in_recovery",
		      rf.pg_answers ? json_boolean(rf.in_recovery) : json_null(), "pg_wal_receiver",
		      rf.pg_answers ? json_string(n->ctl.pg_last.wal_receiver_status) : json_null(),
		      "master_node", master, "sync", rf.sync, "why", ok ? NULL : why);
	respond_doc(resp, ok ? 200 : 503, doc);
}

static void handle_replica(void *data, const struct trap_http_request *req,
			   struct trap_http_response *resp)
{
	(void)req;
	respond_role(data, resp, EP_REPLICA);
}

static void handle_sync(void *data, const struct trap_http_request *req,
			struct trap_http_response *resp)
{
	(void)req;
	respond_role(data, resp, EP_SYNC);
}

static void handle_async(void *data, const struct trap_http_request *req,
			 struct trap_http_response *resp)
{
	(void)req;
	respond_role(data, resp, EP_ASYNC);
}

/* 200 while the loop runs: this answer comes from the loop itself. */
static void handle_liveness(void *data, const struct trap_http_request *req,
			    struct trap_http_response *resp)
{
	(void)req;
	struct http_api *api = data;
	struct node *n = api->n;
	json_t *doc = json_pack("{s:b, s:s, s:I}", "ok", !n->stopping, "node", n->cfg.node_name,
				"uptime_ms", (json_int_t)(node_now_ms() - n->start_ms));
	respond_doc(resp, n->stopping ? 503 : 200, doc);
}

/* 200 when the member can serve: it has its store (not waiting for a new
 * incarnation), a link up to at least one peer, and a current view: a
 * leader known in its term and everything committed applied. */
static void handle_readiness(void *data, const struct trap_http_request *req,
			     struct trap_http_response *resp)
{
	(void)req;
	struct http_api *api = data;
	struct node *n = api->n;
	struct raft_status st;
	raft_status(n->raft, node_now_ms(), &st);
	int links = 0;
	for (uint32_t i = 0; i < n->cfg.membership.n; i++) {
		uint32_t id = n->cfg.membership.members[i].id;
		if (id != n->cfg.self_id && n->xport && !n->stopping &&
		    xport_links_up(n->xport, id) > 0)
			links++;
	}
	bool store = n->store && !rejoin_waiting(n);
	bool view = st.leader != 0 && n->fsm.applied_index >= st.commit_index;
	const char *why = n->stopping  ? "the daemon is shutting down"
			  : !store     ? "no store yet: waiting for a new incarnation (rejoin)"
			  : !links     ? "no link up to any peer"
			  : !st.leader ? "no leader known in this term"
			  : !view      ? "the committed entries are not all applied yet"
				       : NULL;
	json_t *doc = json_pack("{s:b, s:s, s:b, s:i, s:s*, s:I, s:I, s:I, s:s*}", "ok", !why,
				"node", n->cfg.node_name, "store", store, "peers_linked", links,
				"leader", st.leader ? member_name(n, st.leader) : NULL, "term",
				(json_int_t)st.term, "commit_index", (json_int_t)st.commit_index,
				"applied_index", (json_int_t)n->fsm.applied_index, "why", why);
	respond_doc(resp, why ? 503 : 200, doc);
}

char *http_api_metrics_text(struct node *n, size_t *len)
{
	struct duet_status *status = duet_status_new(n);
	if (!status)
		return NULL;
	struct raft_status st;
	bool lease;
	struct trap_http_stats hs;
	struct http_api *api = n->http_api;
	if (api)
		trap_http_get_stats(api->srv, &hs);
	struct http_metrics_input in = {
	    .status = status,
	    .version = DUET_VERSION,
	    .is_master = node_is_master(n, &st, &lease) && !n->stopping,
	    .fsm = &n->fsm,
	    .http = api ? &hs : NULL,
	};
	char *text = NULL;
	*len = 0;
	FILE *f = open_memstream(&text, len);
	int rc = f ? http_metrics_write(f, &in) : DUET_ENOMEM;
	duet_status_free(status);
	if (!f || fclose(f) != 0 || rc < 0) {
		free(text);
		return NULL;
	}
	return text;
}

static void handle_metrics(void *data, const struct trap_http_request *req,
			   struct trap_http_response *resp)
{
	(void)req;
	struct http_api *api = data;
	size_t len;
	char *text = http_api_metrics_text(api->n, &len);
	if (!text) {
		trap_http_respond_error(resp, 500, TRAP_HTTP_DROP_INTERNAL_ERROR,
					"the metrics could not be written");
		return;
	}
	trap_http_respond(resp, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
	snprintf(resp->headers, sizeof resp->headers, HTTP_API_NO_STORE);
	free(text);
}

/* GET /status: the status document, the same bytes as duetctl status --json
 * (node_status_json, filled from what the node holds: no I/O). */
static void handle_status(void *data, const struct trap_http_request *req,
			  struct trap_http_response *resp)
{
	(void)req;
	struct http_api *api = data;
	char *text = node_status_json(api->n);
	if (!text) {
		trap_http_respond_error(resp, 500, TRAP_HTTP_DROP_INTERNAL_ERROR, "out of memory");
		return;
	}
	trap_http_respond(resp, 200, "application/json", text, strlen(text));
	snprintf(resp->headers, sizeof resp->headers, HTTP_API_NO_STORE);
	free(text);
}

/* GET /: the status page (http_page.c) from the same document. */
static void handle_page(void *data, const struct trap_http_request *req,
			struct trap_http_response *resp)
{
	(void)req;
	struct http_api *api = data;
	struct duet_status *st = duet_status_new(api->n);
	json_t *doc = st ? duet_status_to_json(st) : NULL;
	duet_status_free(st);
	char *html = NULL;
	size_t len = 0;
	FILE *f = doc ? open_memstream(&html, &len) : NULL;
	int rc = f ? http_page_write(f, doc) : DUET_ENOMEM;
	json_decref(doc);
	if ((f && fclose(f) != 0) || rc != 0) {
		free(html);
		trap_http_respond_error(resp, 500, TRAP_HTTP_DROP_INTERNAL_ERROR,
					"the status page could not be written");
		return;
	}
	trap_http_respond(resp, 200, HTTP_PAGE_CONTENT_TYPE, html, len);
	snprintf(resp->headers, sizeof resp->headers, HTTP_API_NO_STORE HTTP_API_PAGE_CSP);
	free(html);
}

/* ---- open and close ------------------------------------------------------------- */

/* The server's refusals come at INFO (for the trap receiver, a device's
 * bad request matters); here a scanner's 404 is noise: DEBUG. */
static void on_http_log(void *data, int level, const char *text)
{
	(void)data;
	duet_log(level >= TRAP_HTTP_LOG_ERROR  ? DUET_LOG_ERROR
		 : level == TRAP_HTTP_LOG_WARN ? DUET_LOG_WARN
					       : DUET_LOG_DEBUG,
		 "http: %s", text);
}

int http_api_open(struct node *n)
{
	const struct duet_config_http *ch = &n->cfg.http;
	if (n->cfg.self_kind != DUET_MEMBER_DATA || !ch->listen.n)
		return 0;
	struct http_api *api = calloc(1, sizeof *api);
	if (!api) {
		duet_log(DUET_LOG_ERROR, "[http]: out of memory");
		return -1;
	}
	api->n = n;
	api->routes[0] = (struct trap_http_route){"GET", "/master", 0, handle_master, api};
	api->routes[1] = (struct trap_http_route){"GET", "/health", 0, handle_health, api};
	api->routes[2] = (struct trap_http_route){"GET", "/metrics", 0, handle_metrics, api};
	/* the names HAProxy templates and probes already use (Patroni's) */
	api->routes[3] = (struct trap_http_route){"GET", "/primary", 0, handle_master, api};
	api->routes[4] = (struct trap_http_route){"GET", "/replica", 0, handle_replica, api};
	api->routes[5] = (struct trap_http_route){"GET", "/sync", 0, handle_sync, api};
	api->routes[6] = (struct trap_http_route){"GET", "/async", 0, handle_async, api};
	api->routes[7] = (struct trap_http_route){"GET", "/liveness", 0, handle_liveness, api};
	api->routes[8] = (struct trap_http_route){"GET", "/readiness", 0, handle_readiness, api};
	/* for people: the status document and the page made from it */
	api->routes[9] = (struct trap_http_route){"GET", "/status", 0, handle_status, api};
	api->routes[10] = (struct trap_http_route){"GET", "/", 0, handle_page, api};
	bool tls = ch->tls_cert[0] && ch->tls_key[0];
	struct trap_http_config hc;
	memset(&hc, 0, sizeof hc);
	for (unsigned i = 0; i < ch->listen.n && hc.n_listen < TRAP_HTTP_MAX_LISTEN; i++)
		hc.listen[hc.n_listen++] = (struct trap_http_listen){ch->listen.v[i], tls};
	hc.cert_file = tls ? ch->tls_cert : NULL;
	hc.key_file = tls ? ch->tls_key : NULL;
	hc.max_connections = ch->max_connections;
	hc.max_body_bytes = HTTP_API_MAX_BODY_BYTES;
	hc.request_timeout_ms = ch->request_timeout_ms;
	hc.routes = api->routes;
	hc.n_routes = HTTP_API_N_ROUTES;
	hc.no_builtin_routes = true;
	hc.on_log = on_http_log;
	hc.data = api;
	char err[256] = "";
	int rc = trap_http_new(n->loop, &hc, &api->srv, err, sizeof err);
	if (rc) {
		duet_log(DUET_LOG_ERROR, "[http] listen: %s", err[0] ? err : duet_strerror(rc));
		free(api);
		return -1;
	}
	n->http_api = api;
	for (unsigned i = 0; i < hc.n_listen; i++)
		duet_log(DUET_LOG_INFO,
			 "http: /master, /primary, /replica, /sync, /async, /health, /liveness, "
			 "/readiness, /metrics, /status and the status page / on %s://%s (port %d)",
			 tls ? "https" : "http", hc.listen[i].addr,
			 trap_http_listen_port(api->srv, i));
	return 0;
}

static void api_closed(void *data)
{
	free(data);
}

void http_api_close(struct node *n)
{
	struct http_api *api = n->http_api;
	if (!api)
		return;
	n->http_api = NULL;
	trap_http_close(api->srv, api_closed); /* calls back with hc.data == api */
}
