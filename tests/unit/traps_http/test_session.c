/* SPDX-License-Identifier: MIT */
/*
 * test_session.c - one connection's request state machine
 * (trap_http_session_*) driven from buffers, without sockets: routing,
 * every status with its counted reason, keep-alive, pipelining, chunked
 * bodies, 100-continue, the request deadline, and that splitting the input
 * at any byte changes nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "duet/err.h"
#include "duet/traps_http.h"

static struct trap_http_router router;
static struct trap_http_session session;
static int trap_rc; /* what on_trap answers */
static unsigned n_traps;
static char last_sender[64], last_canonical[4096];
static char out[65536];

static int on_trap(void *data, const char *sender, const char *canonical, size_t canonical_len,
		   const char *json, size_t json_len)
{
	if (trap_rc)
		return trap_rc;
	n_traps++;
	snprintf(last_sender, sizeof last_sender, "%s", sender);
	snprintf(last_canonical, sizeof last_canonical, "%.*s", (int)canonical_len, canonical);
	return 0;
}

static void master_handler(void *data, const struct trap_http_request *req,
			   struct trap_http_response *resp)
{
	char body[128];
	int n = snprintf(body, sizeof body, "master query=%s", req->query);
	trap_http_respond(resp, 200, "text/plain", body, (size_t)n);
}

static const struct trap_http_route extra_routes[] = {
    {"GET", "/master", 0, master_handler, NULL},
};

static void start(const char *token)
{
	struct trap_http_config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.on_trap = on_trap;
	cfg.bearer_token = token;
	cfg.max_body_bytes = 1024;
	cfg.max_header_bytes = 512;
	cfg.routes = extra_routes;
	cfg.n_routes = 1;
	char err[200];
	cr_assert_eq(trap_http_router_init(&router, &cfg, err, sizeof err), 0, "%s", err);
	trap_http_session_init(&session, &router, "192.0.2.7");
}

static void init(void)
{
	trap_rc = 0;
	n_traps = 0;
	last_sender[0] = last_canonical[0] = 0;
	start(NULL);
}

static void fini(void)
{
	trap_http_session_free(&session);
}

TestSuite(session, .init = init, .fini = fini);

/* Feeds text (in pieces of `step` bytes; 0 = at once); returns all output. */
static const char *feed_in_steps(const char *text, size_t len, size_t step)
{
	size_t used = 0;
	while (used < len) {
		size_t n = step && len - used > step ? step : len - used;
		size_t took = trap_http_session_feed(&session, text + used, n);
		used += n;
		if (took < n)
			break; /* DONE: the rest is ignored */
	}
	size_t olen;
	const uint8_t *o = trap_http_session_output(&session, &olen);
	cr_assert_lt(olen, sizeof out);
	if (olen)
		memcpy(out, o, olen);
	out[olen] = 0;
	trap_http_session_output_clear(&session);
	return out;
}

static const char *feed(const char *text)
{
	return feed_in_steps(text, strlen(text), 0);
}

static int status_of(const char *answer)
{
	int code = 0;
	cr_assert_eq(sscanf(answer, "HTTP/1.1 %d", &code), 1, "not an answer: %s", answer);
	return code;
}

#define TRAP_BODY                                                                                  \
	"{\"FacilityID\":\"f1\",\"DATA\":[{\"DATE\":\"2024-01-01\",\"TYPE\":\"NUM\",\"KEY\":"      \
	"\"k\","                                                                                   \
	"\"MSG\":1.0}]}"

static const char *post(const char *headers, const char *body)
{
	static char req[8192];
	snprintf(req, sizeof req,
		 "POST /traps HTTP/1.1\r\nHost: x\r\n%sContent-Length: %zu\r\n\r\n%s", headers,
		 strlen(body), body);
	return req;
}

static uint64_t drops(enum trap_http_drop d)
{
	return router.stats.drops[d];
}

Test(session, health_answers_200_and_keeps_the_connection)
{
	const char *a = feed("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert_eq(status_of(a), 200);
	cr_assert_not_null(strstr(a, "Connection: keep-alive\r\n"));
	cr_assert_not_null(strstr(a, "\r\n\r\n{\"status\":\"ok\"}"));
	cr_assert_eq(trap_http_session_state(&session), TRAP_HTTP_SESSION_IDLE);
	cr_assert_eq(router.stats.requests, 1);
}

Test(session, accepted_trap_reaches_the_callback_with_canonical_bytes)
{
	const char *a = feed(post("Content-Type: application/json\r\n", TRAP_BODY));
	cr_assert_eq(status_of(a), 202, "%s", a);
	cr_assert_not_null(strstr(a, "{\"status\":\"accepted\",\"items\":1}"));
	cr_assert_eq(n_traps, 1);
	cr_assert_str_eq(last_sender, "192.0.2.7");
	cr_assert_str_eq(last_canonical,
			 "{\"DATA\":[{\"DATE\":\"2024-01-01\",\"KEY\":\"k\",\"MSG\":1,"
			 "\"TYPE\":\"NUM\"}],\"FacilityID\":\"f1\"}");
	cr_assert_eq(router.stats.traps_accepted, 1);
	cr_assert_eq(trap_http_session_state(&session), TRAP_HTTP_SESSION_IDLE);
}

Test(session, content_type_parameters_and_charset)
{
	cr_assert_eq(status_of(feed(
			 post("Content-Type: Application/JSON; charset=\"UTF-8\"\r\n", TRAP_BODY))),
		     202);
	cr_assert_eq(status_of(feed(post(
			 "Content-Type: application/json;foo=bar ; charset=utf8 \r\n", TRAP_BODY))),
		     202);
	cr_assert_eq(
	    status_of(feed(post("Content-Type: application/json; charset=latin1\r\n", TRAP_BODY))),
	    415);
	cr_assert_eq(drops(TRAP_HTTP_DROP_UNSUPPORTED_MEDIA), 1);
}

Test(session, wrong_or_missing_content_type_is_415)
{
	const char *a = feed(post("Content-Type: text/plain\r\n", TRAP_BODY));
	cr_assert_eq(status_of(a), 415);
	cr_assert_not_null(strstr(a, "\"error\":\"unsupported_media_type\""));
	cr_assert_not_null(strstr(a, "Connection: close"));
	cr_assert_eq(trap_http_session_state(&session), TRAP_HTTP_SESSION_DONE);
	trap_http_session_free(&session);
	trap_http_session_init(&session, &router, "p");
	cr_assert_eq(status_of(feed(post("", TRAP_BODY))), 415);
	trap_http_session_free(&session);
	trap_http_session_init(&session, &router, "p");
	cr_assert_eq(status_of(feed(post("Content-Type: application/jsonx\r\n", TRAP_BODY))), 415);
	cr_assert_eq(drops(TRAP_HTTP_DROP_UNSUPPORTED_MEDIA), 3);
	cr_assert_eq(n_traps, 0);
}

Test(session, invalid_json_is_400_with_the_reason_and_keeps_the_connection)
{
	const char *a = feed(post("Content-Type: application/json\r\n", "{\"FacilityID\":"));
	cr_assert_eq(status_of(a), 400);
	cr_assert_not_null(strstr(a, "\"error\":\"invalid_trap\",\"reason\":\"not_json\""), "%s",
			   a);
	cr_assert_eq(drops(TRAP_HTTP_DROP_INVALID_TRAP), 1);
	cr_assert_eq(router.stats.invalid_trap[TRAP_CUSTOM_NOT_JSON], 1);
	cr_assert_eq(trap_http_session_state(&session), TRAP_HTTP_SESSION_IDLE);
	a = feed(post("Content-Type: application/json\r\n",
		      "{\"FacilityID\":1,\"DATA\":[{\"DATE\":\"d\",\"TYPE\":\"X\",\"KEY\":\"k\","
		      "\"MSG\":1}]}"));
	cr_assert_eq(status_of(a), 400);
	cr_assert_not_null(strstr(a, "\"reason\":\"type_not_num_or_string\""), "%s", a);
	cr_assert_eq(router.stats.invalid_trap[TRAP_CUSTOM_BAD_TYPE], 1);
}

Test(session, not_found_and_method_not_allowed)
{
	const char *a = feed("GET /nope HTTP/1.1\r\n\r\n");
	cr_assert_eq(status_of(a), 404);
	cr_assert_eq(drops(TRAP_HTTP_DROP_NOT_FOUND), 1);
	trap_http_session_free(&session);
	trap_http_session_init(&session, &router, "p");
	a = feed("GET /traps HTTP/1.1\r\n\r\n");
	cr_assert_eq(status_of(a), 405);
	cr_assert_not_null(strstr(a, "Allow: POST\r\n"));
	cr_assert_eq(drops(TRAP_HTTP_DROP_METHOD_NOT_ALLOWED), 1);
	trap_http_session_free(&session);
	trap_http_session_init(&session, &router, "p");
	a = feed("PUT /health HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
	cr_assert_eq(status_of(a), 405);
	cr_assert_not_null(strstr(a, "Allow: GET, HEAD\r\n"), "a GET route answers HEAD: %s", a);
}

Test(session, extra_routes_from_the_config)
{
	const char *a = feed("GET /master?x=1 HTTP/1.1\r\n\r\n");
	cr_assert_eq(status_of(a), 200);
	cr_assert_not_null(strstr(a, "master query=x=1"));
	a = feed("GET /health?probe HTTP/1.1\r\n\r\n");
	cr_assert_eq(status_of(a), 200);
}

Test(session, duplicate_or_bad_routes_are_refused)
{
	static const struct trap_http_route dup[] = {{"POST", "/traps", 0, master_handler, NULL}};
	struct trap_http_config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.on_trap = on_trap;
	cfg.routes = dup;
	cfg.n_routes = 1;
	char err[200] = "";
	struct trap_http_router r;
	cr_assert_eq(trap_http_router_init(&r, &cfg, err, sizeof err), DUET_EINVAL);
	cr_assert_not_null(strstr(err, "POST /traps"), "%s", err);
	static const struct trap_http_route bad[] = {{"GET", "metrics", 0, master_handler, NULL}};
	cfg.routes = bad;
	cr_assert_eq(trap_http_router_init(&r, &cfg, err, sizeof err), DUET_EINVAL);
	cfg.routes = NULL;
	cfg.n_routes = 0;
	cfg.on_trap = NULL;
	cr_assert_eq(trap_http_router_init(&r, &cfg, err, sizeof err), DUET_EINVAL);
}

/* HEAD: the GET route's answer without its body, Content-Length that of the
 * GET answer; other answers to HEAD have no body either; the connection
 * goes on, so the next request must be read right after the headers. */
Test(session, head_is_answered_by_the_get_route_without_a_body)
{
	const char *get = feed("GET /health HTTP/1.1\r\n\r\n");
	cr_assert_eq(status_of(get), 200);
	const char *body = strstr(get, "\r\n\r\n") + 4;
	char want_len[64];
	snprintf(want_len, sizeof want_len, "Content-Length: %zu\r\n", strlen(body));
	const char *a = feed("HEAD /health HTTP/1.1\r\n\r\nGET /master HTTP/1.1\r\n\r\n");
	cr_assert_eq(status_of(a), 200, "%s", a);
	cr_assert_not_null(strstr(a, want_len), "%s", a);
	cr_assert_not_null(strstr(a, "Content-Type: application/json\r\n"), "%s", a);
	/* right after the HEAD answer's headers comes the GET answer */
	const char *end = strstr(a, "\r\n\r\n");
	cr_assert_not_null(end);
	cr_assert_eq(strncmp(end + 4, "HTTP/1.1 200", 12), 0, "%s", a);
	cr_assert_not_null(strstr(end, "master query="));
	cr_assert_eq(trap_http_session_state(&session), TRAP_HTTP_SESSION_IDLE);
	/* HEAD of a path without a GET route (and a 404): no body */
	a = feed("HEAD /traps HTTP/1.1\r\n\r\n");
	cr_assert_eq(status_of(a), 405, "%s", a);
	end = strstr(a, "\r\n\r\n");
	cr_assert_eq(end[4], '\0', "body after a 405 to HEAD: %s", a);
	trap_http_session_free(&session);
	trap_http_session_init(&session, &router, "p");
	a = feed("HEAD /nope HTTP/1.1\r\n\r\n");
	cr_assert_eq(status_of(a), 404);
	cr_assert_eq(strstr(a, "\r\n\r\n")[4], '\0', "%s", a);
}

static void method_handler(void *data, const struct trap_http_request *req,
			   struct trap_http_response *resp)
{
	trap_http_respond(resp, 200, "text/plain", req->method, strlen(req->method));
}

static void own_health_handler(void *data, const struct trap_http_request *req,
			       struct trap_http_response *resp)
{
	trap_http_respond(resp, 503, "text/plain", "own", 3);
}

Test(session, a_server_without_builtin_routes_has_only_its_own)
{
	static const struct trap_http_route own[] = {
	    {"GET", "/health", 0, own_health_handler, NULL},
	    {"GET", "/m", 0, method_handler, NULL},
	    {"HEAD", "/h", 0, method_handler, NULL},
	};
	struct trap_http_config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.no_builtin_routes = true; /* and no on_trap */
	cfg.routes = own;
	cfg.n_routes = 3;
	char err[200] = "";
	struct trap_http_router r;
	cr_assert_eq(trap_http_router_init(&r, &cfg, err, sizeof err), 0, "%s", err);
	cr_assert_eq(r.n_routes, 3);
	struct trap_http_session s;
	trap_http_session_init(&s, &r, "p");
	static const char req[] = "GET /health HTTP/1.1\r\n\r\nGET /m HTTP/1.1\r\n\r\n"
				  "HEAD /m HTTP/1.1\r\n\r\nHEAD /h HTTP/1.1\r\n\r\n"
				  "POST /traps HTTP/1.1\r\nContent-Length: 0\r\n\r\n";
	trap_http_session_feed(&s, req, sizeof req - 1);
	size_t len;
	const uint8_t *o = trap_http_session_output(&s, &len);
	char text[4096];
	cr_assert_lt(len, sizeof text);
	memcpy(text, o, len);
	text[len] = 0;
	/* the route replaced the built-in /health; GET gets "GET"; HEAD of a
	 * GET route runs it with "HEAD" (Content-Length 4, no body); a HEAD
	 * route of its own says "HEAD" too, but no body; no POST /traps */
	const char *a1 = strstr(text, "HTTP/1.1 503");
	const char *a2 = strstr(text, "Content-Length: 3\r\nConnection: keep-alive\r\n\r\nGET");
	const char *a5 = strstr(text, "HTTP/1.1 404");
	cr_assert(a1 && a2 && a5, "%s", text);
	cr_assert_not_null(strstr(a2, "Content-Length: 4\r\nConnection: keep-alive\r\n\r\nHTTP"),
			   "%s", text);
	cr_assert_null(strstr(text, "HEADHEAD"), "%s", text);
	cr_assert_null(strstr(a2, "\r\n\r\nHEAD"), "a body was sent to HEAD: %s", text);
	cr_assert_eq(r.stats.requests, 5);
	cr_assert_eq(r.stats.drops[TRAP_HTTP_DROP_NOT_FOUND], 1);
	trap_http_session_free(&s);
	/* with built-in routes, a route may not replace /health, and on_trap
	 * stays required */
	cfg.no_builtin_routes = false;
	cr_assert_eq(trap_http_router_init(&r, &cfg, err, sizeof err), DUET_EINVAL);
	cfg.on_trap = on_trap;
	cr_assert_eq(trap_http_router_init(&r, &cfg, err, sizeof err), DUET_EINVAL);
	cr_assert_not_null(strstr(err, "GET /health"), "%s", err);
}

Test(session, length_required_and_too_large)
{
	const char *a = feed("POST /traps HTTP/1.1\r\nContent-Type: application/json\r\n\r\n");
	cr_assert_eq(status_of(a), 411);
	cr_assert_eq(drops(TRAP_HTTP_DROP_LENGTH_REQUIRED), 1);
	trap_http_session_free(&session);
	trap_http_session_init(&session, &router, "p");
	a = feed("POST /traps HTTP/1.1\r\nContent-Type: application/json\r\n"
		 "Content-Length: 1025\r\n\r\n");
	cr_assert_eq(status_of(a), 413);
	cr_assert_eq(drops(TRAP_HTTP_DROP_BODY_TOO_LARGE), 1);
	cr_assert_eq(trap_http_session_state(&session), TRAP_HTTP_SESSION_DONE);
}

Test(session, chunked_bodies_are_accepted_up_to_the_cap)
{
	char req[4096];
	size_t blen = strlen(TRAP_BODY);
	snprintf(req, sizeof req,
		 "POST /traps HTTP/1.1\r\nContent-Type: application/json\r\n"
		 "Transfer-Encoding: chunked\r\n\r\n%zx\r\n%.*s\r\n%zx\r\n%s\r\n0\r\nX-Trailer: "
		 "1\r\n\r\n",
		 (size_t)10, 10, TRAP_BODY, blen - 10, TRAP_BODY + 10);
	const char *a = feed(req);
	cr_assert_eq(status_of(a), 202, "%s", a);
	cr_assert_eq(n_traps, 1);
	/* a chunked body over max_body_bytes (1024) */
	char big[3000];
	memset(big, 'x', sizeof big);
	int n = snprintf(req, sizeof req,
			 "POST /traps HTTP/1.1\r\nContent-Type: application/json\r\n"
			 "Transfer-Encoding: chunked\r\n\r\n400\r\n%.1024s\r\n1\r\nx\r\n",
			 big);
	a = feed_in_steps(req, (size_t)n, 0);
	cr_assert_eq(status_of(a), 413, "%s", a);
	cr_assert_eq(drops(TRAP_HTTP_DROP_BODY_TOO_LARGE), 1);
}

Test(session, content_length_with_chunked_is_400)
{
	const char *a = feed("POST /traps HTTP/1.1\r\nContent-Type: application/json\r\n"
			     "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
	cr_assert_eq(status_of(a), 400);
	cr_assert_eq(drops(TRAP_HTTP_DROP_BAD_REQUEST), 1);
}

Test(session, bearer_token)
{
	trap_http_session_free(&session);
	start("s3cret");
	const char *a = feed(post("Content-Type: application/json\r\n", TRAP_BODY));
	cr_assert_eq(status_of(a), 401);
	cr_assert_not_null(strstr(a, "WWW-Authenticate: Bearer\r\n"));
	cr_assert_eq(drops(TRAP_HTTP_DROP_TOKEN_MISSING), 1);
	trap_http_session_free(&session);
	trap_http_session_init(&session, &router, "p");
	a = feed(
	    post("Authorization: Bearer s3cre\r\nContent-Type: application/json\r\n", TRAP_BODY));
	cr_assert_eq(status_of(a), 401);
	cr_assert_eq(drops(TRAP_HTTP_DROP_TOKEN_WRONG), 1);
	trap_http_session_free(&session);
	trap_http_session_init(&session, &router, "p");
	a = feed(
	    post("Authorization: Basic czNjcmV0\r\nContent-Type: application/json\r\n", TRAP_BODY));
	cr_assert_eq(status_of(a), 401);
	cr_assert_eq(drops(TRAP_HTTP_DROP_TOKEN_MISSING), 2);
	trap_http_session_free(&session);
	trap_http_session_init(&session, &router, "p");
	a = feed(post("authorization: bearer   s3cret  \r\nContent-Type: application/json\r\n",
		      TRAP_BODY));
	cr_assert_eq(status_of(a), 202, "%s", a);
	/* /health needs no token */
	cr_assert_eq(status_of(feed("GET /health HTTP/1.1\r\n\r\n")), 200);
}

Test(session, queue_full_is_503_and_other_errors_500)
{
	trap_rc = DUET_EBUSY;
	const char *a = feed(post("Content-Type: application/json\r\n", TRAP_BODY));
	cr_assert_eq(status_of(a), 503);
	cr_assert_not_null(strstr(a, "Retry-After: 1\r\n"));
	cr_assert_eq(drops(TRAP_HTTP_DROP_QUEUE_FULL), 1);
	cr_assert_eq(trap_http_session_state(&session), TRAP_HTTP_SESSION_IDLE);
	trap_rc = DUET_EINVAL;
	cr_assert_eq(status_of(feed(post("Content-Type: application/json\r\n", TRAP_BODY))), 500);
	cr_assert_eq(drops(TRAP_HTTP_DROP_INTERNAL_ERROR), 1);
}

Test(session, pipelined_requests_are_answered_in_order)
{
	char req[16384];
	snprintf(req, sizeof req, "GET /health HTTP/1.1\r\n\r\n%sGET /nope HTTP/1.1\r\n\r\n",
		 post("Content-Type: application/json\r\n", TRAP_BODY));
	const char *a = feed(req);
	const char *first = strstr(a, "HTTP/1.1 200");
	const char *second = strstr(a, "HTTP/1.1 202");
	const char *third = strstr(a, "HTTP/1.1 404");
	cr_assert(first && second && third, "%s", a);
	cr_assert(first < second && second < third);
	cr_assert_eq(router.stats.requests, 3);
	cr_assert_eq(trap_http_session_state(&session), TRAP_HTTP_SESSION_DONE);
}

Test(session, any_split_of_the_input_gives_the_same_answers)
{
	char req[16384];
	int n = snprintf(req, sizeof req,
			 "GET /health HTTP/1.1\r\n\r\n%sPOST /traps HTTP/1.1\r\nContent-Type: "
			 "application/json\r\nTransfer-Encoding: chunked\r\nExpect: "
			 "100-continue\r\n\r\n5\r\n{\"Fac\r\n0\r\n\r\nGET /health HTTP/1.0\r\n\r\n",
			 post("Content-Type: application/json\r\n", TRAP_BODY));
	char whole[65536];
	snprintf(whole, sizeof whole, "%s", feed_in_steps(req, (size_t)n, 0));
	cr_assert_not_null(strstr(whole, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 400"), "%s", whole);
	for (size_t step = 1; step < 40; step++) {
		trap_http_session_free(&session);
		trap_http_session_init(&session, &router, "192.0.2.7");
		cr_assert_str_eq(feed_in_steps(req, (size_t)n, step), whole, "step %zu", step);
	}
}

Test(session, expect_100_continue)
{
	char req[4096];
	snprintf(req, sizeof req,
		 "POST /traps HTTP/1.1\r\nContent-Type: application/json\r\nExpect: "
		 "100-Continue\r\nContent-Length: %zu\r\n\r\n",
		 strlen(TRAP_BODY));
	const char *a = feed(req);
	cr_assert_str_eq(a, "HTTP/1.1 100 Continue\r\n\r\n");
	a = feed(TRAP_BODY);
	cr_assert_eq(status_of(a), 202);
	/* refused before the body: no 100 */
	a = feed("POST /traps HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n");
	cr_assert_eq(status_of(a), 413);
	trap_http_session_free(&session);
	trap_http_session_init(&session, &router, "p");
	a = feed("GET /health HTTP/1.1\r\nExpect: something-else\r\n\r\n");
	cr_assert_eq(status_of(a), 417);
	cr_assert_eq(drops(TRAP_HTTP_DROP_EXPECTATION_FAILED), 1);
}

Test(session, http_1_0_and_connection_close_end_the_session)
{
	const char *a = feed("GET /health HTTP/1.0\r\n\r\n");
	cr_assert_eq(status_of(a), 200);
	cr_assert_not_null(strstr(a, "Connection: close"));
	cr_assert_eq(trap_http_session_state(&session), TRAP_HTTP_SESSION_DONE);
	cr_assert_eq(trap_http_session_feed(&session, "GET", 3), 0);
	trap_http_session_free(&session);
	trap_http_session_init(&session, &router, "p");
	a = feed("GET /health HTTP/1.1\r\nConnection: close\r\n\r\n");
	cr_assert_not_null(strstr(a, "Connection: close"));
	cr_assert_eq(trap_http_session_state(&session), TRAP_HTTP_SESSION_DONE);
	trap_http_session_free(&session);
	trap_http_session_init(&session, &router, "p");
	a = feed("GET /health HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
	cr_assert_eq(status_of(a), 200);
	cr_assert_not_null(strstr(a, "Connection: close"));
	cr_assert_eq(trap_http_session_state(&session), TRAP_HTTP_SESSION_DONE);
}

Test(session, upgrade_with_a_body_is_answered_however_the_bytes_arrive)
{
	char req[4096];
	int n = snprintf(req, sizeof req,
			 "POST /traps HTTP/1.1\r\nContent-Type: application/json\r\nConnection: "
			 "Upgrade\r\nUpgrade: x\r\nContent-Length: %zu\r\n\r\n%sGET /health "
			 "HTTP/1.1\r\n\r\n",
			 strlen(TRAP_BODY), TRAP_BODY);
	for (size_t step = 0; step < 3; step++) {
		trap_http_session_free(&session);
		trap_http_session_init(&session, &router, "p");
		const char *a = feed_in_steps(req, (size_t)n, step);
		cr_assert_eq(status_of(a), 202, "step %zu: %s", step, a);
		cr_assert_not_null(strstr(a, "Connection: close"));
		cr_assert_null(strstr(a + 1, "HTTP/1.1"), "answered after the upgrade: %s", a);
		cr_assert_eq(trap_http_session_state(&session), TRAP_HTTP_SESSION_DONE);
	}
	cr_assert_eq(n_traps, 3);
}

Test(session, malformed_http_is_400)
{
	const char *a = feed("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03");
	cr_assert_eq(status_of(a), 400);
	cr_assert_not_null(strstr(a, "\"error\":\"bad_request\""));
	cr_assert_eq(drops(TRAP_HTTP_DROP_BAD_REQUEST), 1);
	trap_http_session_free(&session);
	trap_http_session_init(&session, &router, "p");
	a = feed("GET /health HTTP/1.1\r\nBad\x01Header: x\r\n\r\n");
	cr_assert_eq(status_of(a), 400);
	trap_http_session_free(&session);
	trap_http_session_init(&session, &router, "p");
	a = feed("CONNECT example.com:443 HTTP/1.1\r\n\r\n");
	cr_assert_eq(status_of(a), 400);
}

Test(session, headers_over_the_limit_are_431_and_long_targets_414)
{
	char req[4096], pad[600];
	memset(pad, 'a', sizeof pad - 1);
	pad[sizeof pad - 1] = 0;
	snprintf(req, sizeof req, "GET /health HTTP/1.1\r\nX-Pad: %s\r\n\r\n", pad);
	const char *a = feed(req);
	cr_assert_eq(status_of(a), 431);
	cr_assert_eq(drops(TRAP_HTTP_DROP_HEADER_TOO_LARGE), 1);
	trap_http_session_free(&session);
	/* the target counts too, but a long one is 414 first */
	struct trap_http_config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.on_trap = on_trap;
	char err[200];
	cr_assert_eq(trap_http_router_init(&router, &cfg, err, sizeof err), 0);
	trap_http_session_init(&session, &router, "p");
	char url[TRAP_HTTP_MAX_URL_BYTES + 2];
	memset(url, 'u', sizeof url - 1);
	url[0] = '/';
	url[sizeof url - 1] = 0;
	char big[TRAP_HTTP_MAX_URL_BYTES + 64];
	snprintf(big, sizeof big, "GET %s HTTP/1.1\r\n\r\n", url);
	a = feed(big);
	cr_assert_eq(status_of(a), 414);
	cr_assert_eq(drops(TRAP_HTTP_DROP_URI_TOO_LONG), 1);
}

Test(session, deadline_gives_408_only_inside_a_request)
{
	cr_assert_eq(trap_http_session_expire(&session), 0);
	feed("POST /traps HTTP/1.1\r\nContent-Len");
	cr_assert_eq(trap_http_session_state(&session), TRAP_HTTP_SESSION_IN_REQUEST);
	cr_assert_eq(trap_http_session_requests_begun(&session), 1);
	cr_assert_eq(trap_http_session_expire(&session), 1);
	size_t len;
	const uint8_t *o = trap_http_session_output(&session, &len);
	char answer[1024];
	cr_assert_lt(len, sizeof answer);
	memcpy(answer, o, len);
	answer[len] = 0;
	cr_assert_eq(status_of(answer), 408);
	cr_assert_eq(drops(TRAP_HTTP_DROP_REQUEST_TIMEOUT), 1);
	cr_assert_eq(trap_http_session_state(&session), TRAP_HTTP_SESSION_DONE);
}

Test(session, drop_names_are_distinct)
{
	for (int i = 0; i < TRAP_HTTP_DROP_N; i++)
		for (int j = i + 1; j < TRAP_HTTP_DROP_N; j++)
			cr_assert_str_neq(trap_http_drop_name(i), trap_http_drop_name(j));
}
