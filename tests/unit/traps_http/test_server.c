/* SPDX-License-Identifier: MIT */
/*
 * test_server.c - the HTTP(S) trap receiver over real sockets on
 * 127.0.0.1: the real curl for HTTP and HTTPS (self-signed certificate,
 * curl -k), raw TCP clients for what curl will not send (slowloris,
 * garbage, too many connections, pipelining), and every refusal counted.
 * Waits are on events (fx_run_until), never sleeps; no assertion is about
 * speed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "duet/err.h"
#include "fixture.h"

static void setup(void)
{
	fx_setup();
}

static void teardown(void)
{
	fx_teardown();
}

TestSuite(server, .init = setup, .fini = teardown, .timeout = 120);

#define TRAP_BODY                                                                                  \
	"{\"FacilityID\": \"fac-7\", \"DATA\": [{\"DATE\": \"2024-05-01T10:00:00Z\", \"TYPE\": "   \
	"\"NUM\", \"KEY\": \"cpu\", \"MSG\": 97.0}]}"
#define TRAP_BODY_REORDERED                                                                        \
	"{\n  \"DATA\":[ {\"MSG\":97,\"KEY\":\"cpu\",\"TYPE\":\"NUM\",\"DATE\":"                   \
	"\"2024-05-01T10:00:00Z\"} ],\n  \"FacilityID\":\"fac-7\"\n}\n"
#define CANONICAL                                                                                  \
	"{\"DATA\":[{\"DATE\":\"2024-05-01T10:00:00Z\",\"KEY\":\"cpu\",\"MSG\":97,\"TYPE\":"       \
	"\"NUM\"}],\"FacilityID\":\"fac-7\"}"

static char url_buf[4][128];

static const char *url(int slot, bool tls, const char *path)
{
	snprintf(url_buf[slot], sizeof url_buf[slot], "%s://127.0.0.1:%d%s", tls ? "https" : "http",
		 tls ? fx_srv.tls_port : fx_srv.port, path);
	return url_buf[slot];
}

static void curl_post(struct fx_curl *c, const char *target, const char *body,
		      const char *content_type, const char *auth)
{
	char ct[128], au[256];
	snprintf(ct, sizeof ct, "Content-Type: %s", content_type);
	const char *args[16];
	int n = 0;
	args[n++] = "-k";
	args[n++] = "-H";
	args[n++] = ct;
	if (auth) {
		snprintf(au, sizeof au, "Authorization: %s", auth);
		args[n++] = "-H";
		args[n++] = au;
	}
	args[n++] = "--data-binary";
	args[n++] = body;
	args[n++] = target;
	args[n] = NULL;
	fx_curl(c, args);
}

Test(server, curl_posts_a_trap_and_the_callback_gets_canonical_bytes)
{
	struct trap_http_config cfg = fx_config(false);
	fx_server_start(&cfg);
	struct fx_curl c;
	curl_post(&c, url(0, false, "/traps"), TRAP_BODY, "application/json", NULL);
	cr_assert_eq(c.http_code, 202, "body: %s", c.body);
	cr_assert_str_eq(c.body, "{\"status\":\"accepted\",\"items\":1}");
	cr_assert_eq(fx_srv.n_traps, 1);
	cr_assert_str_eq(fx_srv.traps[0].sender, "127.0.0.1");
	cr_assert_str_eq(fx_srv.traps[0].canonical, CANONICAL);
	cr_assert_str_eq(fx_srv.traps[0].json, "{\"kind\":\"custom\",\"trap\":" CANONICAL "}");

	/* another key order, whitespace and 97 vs 97.0: the same canonical bytes */
	curl_post(&c, url(0, false, "/traps"), TRAP_BODY_REORDERED,
		  "application/json; charset=utf-8", NULL);
	cr_assert_eq(c.http_code, 202, "body: %s", c.body);
	cr_assert_eq(fx_srv.n_traps, 2);
	cr_assert_str_eq(fx_srv.traps[1].canonical, fx_srv.traps[0].canonical);
	cr_assert_eq(fx_stats().traps_accepted, 2);
}

Test(server, https_with_curl_k)
{
	struct trap_http_config cfg = fx_config(true);
	fx_server_start(&cfg);
	cr_assert_gt(fx_srv.tls_port, 0);
	struct fx_curl c;
	curl_post(&c, url(0, true, "/traps"), TRAP_BODY, "application/json", NULL);
	cr_assert_eq(c.http_code, 202, "body: %s", c.body);
	cr_assert_eq(fx_srv.n_traps, 1);
	cr_assert_str_eq(fx_srv.traps[0].canonical, CANONICAL);
	const char *args[] = {"-k", url(1, true, "/health"), NULL};
	fx_curl(&c, args);
	cr_assert_eq(c.http_code, 200);
	cr_assert_str_eq(c.body, "{\"status\":\"ok\"}");
	struct trap_http_stats s = fx_stats();
	cr_assert_eq(s.drops[TRAP_HTTP_DROP_TLS_HANDSHAKE_FAILED], 0);
	cr_assert_eq(s.drops[TRAP_HTTP_DROP_TLS_ERROR], 0);
}

Test(server, curl_keeps_the_connection_alive)
{
	struct trap_http_config cfg = fx_config(true);
	fx_server_start(&cfg);
	struct fx_curl c;
	const char *args[] = {"-k", url(0, true, "/health"), url(1, true, "/health"),
			      url(2, true, "/health"), NULL};
	fx_curl(&c, args);
	cr_assert_eq(c.http_code, 200);
	struct trap_http_stats s = fx_stats();
	cr_assert_eq(s.requests, 3);
	cr_assert_eq(s.connections_accepted, 1, "curl opened %llu connections",
		     (unsigned long long)s.connections_accepted);
}

Test(server, token_missing_or_wrong_is_401)
{
	struct trap_http_config cfg = fx_config(true);
	cfg.bearer_token = "t0ken-of-the-day";
	fx_server_start(&cfg);
	struct fx_curl c;
	curl_post(&c, url(0, false, "/traps"), TRAP_BODY, "application/json", NULL);
	cr_assert_eq(c.http_code, 401);
	cr_assert_not_null(strstr(c.body, "\"error\":\"token_missing\""), "%s", c.body);
	curl_post(&c, url(0, true, "/traps"), TRAP_BODY, "application/json",
		  "Bearer t0ken-of-the-dax");
	cr_assert_eq(c.http_code, 401);
	cr_assert_not_null(strstr(c.body, "\"error\":\"token_wrong\""), "%s", c.body);
	curl_post(&c, url(0, true, "/traps"), TRAP_BODY, "application/json",
		  "Bearer t0ken-of-the-day");
	cr_assert_eq(c.http_code, 202, "%s", c.body);
	struct trap_http_stats s = fx_stats();
	cr_assert_eq(s.drops[TRAP_HTTP_DROP_TOKEN_MISSING], 1);
	cr_assert_eq(s.drops[TRAP_HTTP_DROP_TOKEN_WRONG], 1);
	cr_assert_eq(fx_srv.n_traps, 1);
}

Test(server, each_refusal_from_curl_is_answered_and_counted)
{
	struct trap_http_config cfg = fx_config(false);
	fx_server_start(&cfg);
	struct fx_curl c;

	curl_post(&c, url(0, false, "/traps"), "{\"FacilityID\": 1, \"DATA\": [",
		  "application/json", NULL);
	cr_assert_eq(c.http_code, 400);
	cr_assert_not_null(strstr(c.body, "\"error\":\"invalid_trap\",\"reason\":\"not_json\""),
			   "%s", c.body);

	curl_post(&c, url(0, false, "/traps"), TRAP_BODY, "text/plain", NULL);
	cr_assert_eq(c.http_code, 415);

	const char *get_missing[] = {url(0, false, "/missing"), NULL};
	fx_curl(&c, get_missing);
	cr_assert_eq(c.http_code, 404);

	const char *get_traps[] = {url(0, false, "/traps"), NULL};
	fx_curl(&c, get_traps);
	cr_assert_eq(c.http_code, 405);

	fx_srv.busy = 1;
	curl_post(&c, url(0, false, "/traps"), TRAP_BODY, "application/json", NULL);
	cr_assert_eq(c.http_code, 503);
	fx_srv.busy = 0;

	struct trap_http_stats s = fx_stats();
	cr_assert_eq(s.drops[TRAP_HTTP_DROP_INVALID_TRAP], 1);
	cr_assert_eq(s.invalid_trap[TRAP_CUSTOM_NOT_JSON], 1);
	cr_assert_eq(s.drops[TRAP_HTTP_DROP_UNSUPPORTED_MEDIA], 1);
	cr_assert_eq(s.drops[TRAP_HTTP_DROP_NOT_FOUND], 1);
	cr_assert_eq(s.drops[TRAP_HTTP_DROP_METHOD_NOT_ALLOWED], 1);
	cr_assert_eq(s.drops[TRAP_HTTP_DROP_QUEUE_FULL], 1);
	cr_assert_eq(fx_srv.n_traps, 0);
}

static void write_file(const char *path, size_t size)
{
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	char block[4096];
	memset(block, ' ', sizeof block);
	block[0] = '{';
	for (size_t done = 0; done < size; done += sizeof block)
		fwrite(block, 1, sizeof block, f);
	fclose(f);
}

Test(server, one_mib_body_is_413_with_length_or_chunked)
{
	struct trap_http_config cfg = fx_config(true);
	fx_server_start(&cfg);
	const char *file = fx_path(4, "big.json");
	write_file(file, 1u << 20);
	char at[600];
	snprintf(at, sizeof at, "@%s", file);
	struct fx_curl c;
	curl_post(&c, url(0, false, "/traps"), at, "application/json", NULL);
	cr_assert_eq(c.http_code, 413, "%s", c.body);
	cr_assert_not_null(strstr(c.body, "\"error\":\"body_too_large\""), "%s", c.body);

	const char *chunked[] = {"-k",
				 "-H",
				 "Content-Type: application/json",
				 "-H",
				 "Transfer-Encoding: chunked",
				 "--data-binary",
				 at,
				 url(1, true, "/traps"),
				 NULL};
	fx_curl(&c, chunked);
	cr_assert_eq(c.http_code, 413, "%s", c.body);
	cr_assert_eq(fx_stats().drops[TRAP_HTTP_DROP_BODY_TOO_LARGE], 2);
}

Test(server, chunked_trap_from_curl_is_accepted)
{
	struct trap_http_config cfg = fx_config(false);
	fx_server_start(&cfg);
	struct fx_curl c;
	const char *args[] = {"-H",
			      "Content-Type: application/json",
			      "-H",
			      "Transfer-Encoding: chunked",
			      "--data-binary",
			      TRAP_BODY,
			      url(0, false, "/traps"),
			      NULL};
	fx_curl(&c, args);
	cr_assert_eq(c.http_code, 202, "%s", c.body);
	cr_assert_str_eq(fx_srv.traps[0].canonical, CANONICAL);
}

Test(server, missing_length_is_411_and_garbage_400)
{
	struct trap_http_config cfg = fx_config(false);
	fx_server_start(&cfg);
	struct fx_raw r;
	fx_raw_connect(&r, fx_srv.port);
	const char *req =
	    "POST /traps HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\r\n";
	fx_raw_send(&r, req, strlen(req));
	cr_assert(fx_raw_wait_for(&r, "\r\n\r\n{"), "no answer: %s", r.buf);
	cr_assert(strncmp(r.buf, "HTTP/1.1 411 ", 13) == 0, "%s", r.buf);
	cr_assert(fx_raw_wait_eof(&r), "the server kept the connection");
	fx_raw_close(&r);

	fx_raw_connect(&r, fx_srv.port);
	fx_raw_send(&r, "\x01\x02garbage\r\n\r\n", 13);
	cr_assert(fx_raw_wait_for(&r, "\r\n\r\n{"), "no answer: %s", r.buf);
	cr_assert(strncmp(r.buf, "HTTP/1.1 400 ", 13) == 0, "%s", r.buf);
	cr_assert(fx_raw_wait_eof(&r));
	fx_raw_close(&r);

	struct trap_http_stats s = fx_stats();
	cr_assert_eq(s.drops[TRAP_HTTP_DROP_LENGTH_REQUIRED], 1);
	cr_assert_eq(s.drops[TRAP_HTTP_DROP_BAD_REQUEST], 1);
}

Test(server, pipelined_requests_on_a_raw_socket)
{
	struct trap_http_config cfg = fx_config(false);
	fx_server_start(&cfg);
	struct fx_raw r;
	fx_raw_connect(&r, fx_srv.port);
	char req[4096];
	int n = snprintf(req, sizeof req,
			 "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
			 "POST /traps HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\n\r\n%s"
			 "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			 strlen(TRAP_BODY), TRAP_BODY);
	fx_raw_send(&r, req, (size_t)n);
	cr_assert(fx_raw_wait_eof(&r), "the server did not close after Connection: close");
	const char *a = strstr(r.buf, "HTTP/1.1 200");
	const char *b = strstr(r.buf, "HTTP/1.1 202");
	const char *c = a ? strstr(a + 1, "HTTP/1.1 200") : NULL;
	cr_assert(a && b && c && a < b && b < c, "answers: %s", r.buf);
	cr_assert_eq(fx_raw_count(&r, "HTTP/1.1 "), 3);
	fx_raw_close(&r);
	cr_assert_eq(fx_srv.n_traps, 1);
}

/* ---- slowloris ---------------------------------------------------------------- */

struct slow_client {
	struct fx_raw *r;
	uv_timer_t timer;
	const char *text;
	size_t next;
};

static void slow_tick(uv_timer_t *t)
{
	struct slow_client *s = t->data;
	if (s->r->eof || s->text[s->next] == 0) {
		uv_timer_stop(t);
		return;
	}
	fx_raw_send(s->r, s->text + s->next, 1);
	s->next++;
}

Test(server, slow_client_gets_408_at_the_request_deadline)
{
	struct trap_http_config cfg = fx_config(false);
	cfg.request_timeout_ms = 1000;
	fx_server_start(&cfg);
	struct fx_raw r;
	fx_raw_connect(&r, fx_srv.port);
	struct slow_client slow = {
	    .r = &r,
	    .text = "POST /traps HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
		    "Content-Length: 2\r\n\r\n{}",
	};
	uv_timer_init(fx_loop, &slow.timer);
	slow.timer.data = &slow;
	uv_timer_start(&slow.timer, slow_tick, 0, 100); /* one byte per 100 ms */
	cr_assert(fx_raw_wait_for(&r, "HTTP/1.1 408"), "no 408: %s", r.buf);
	cr_assert(fx_raw_wait_eof(&r), "the server did not close after 408");
	uv_close((uv_handle_t *)&slow.timer, NULL);
	fx_raw_close(&r);
	cr_assert_lt(slow.next, strlen(slow.text), "the whole request got through");
	struct trap_http_stats s = fx_stats();
	cr_assert_eq(s.drops[TRAP_HTTP_DROP_REQUEST_TIMEOUT], 1);
	cr_assert_eq(fx_srv.n_traps, 0);
}

static bool connections_open_is(void *arg)
{
	return fx_stats().connections_open == *(uint64_t *)arg;
}

Test(server, idle_keep_alive_connection_is_closed)
{
	struct trap_http_config cfg = fx_config(false);
	cfg.idle_timeout_ms = 300;
	fx_server_start(&cfg);
	struct fx_raw r;
	fx_raw_connect(&r, fx_srv.port);
	const char *req = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
	fx_raw_send(&r, req, strlen(req));
	cr_assert(fx_raw_wait_for(&r, "{\"status\":\"ok\"}"));
	cr_assert(fx_raw_wait_eof(&r), "the idle connection stayed open");
	fx_raw_close(&r);
	uint64_t zero = 0;
	cr_assert(fx_run_until(connections_open_is, &zero, FX_WAIT_MS));
	struct trap_http_stats s = fx_stats();
	cr_assert_eq(s.idle_closed, 1);
	for (int i = 1; i < TRAP_HTTP_DROP_N; i++)
		cr_assert_eq(s.drops[i], 0, "%s counted", trap_http_drop_name(i));
}

static bool accepted_is(void *arg)
{
	return fx_stats().connections_accepted >= *(uint64_t *)arg;
}

Test(server, connections_over_the_limit_are_refused_and_counted)
{
	struct trap_http_config cfg = fx_config(false);
	cfg.max_connections = 2;
	fx_server_start(&cfg);
	struct fx_raw a, b, c;
	fx_raw_connect(&a, fx_srv.port);
	fx_raw_connect(&b, fx_srv.port);
	uint64_t two = 2, three = 3;
	cr_assert(fx_run_until(accepted_is, &two, FX_WAIT_MS));
	fx_raw_connect(&c, fx_srv.port);
	cr_assert(fx_run_until(accepted_is, &three, FX_WAIT_MS));
	cr_assert(fx_raw_wait_eof(&c), "the third connection was kept");
	cr_assert_eq(c.len, 0);
	cr_assert_eq(fx_stats().drops[TRAP_HTTP_DROP_TOO_MANY_CONNECTIONS], 1);
	/* the first two still work */
	const char *req = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
	fx_raw_send(&a, req, strlen(req));
	fx_raw_send(&b, req, strlen(req));
	cr_assert(fx_raw_wait_for(&a, "{\"status\":\"ok\"}"));
	cr_assert(fx_raw_wait_for(&b, "{\"status\":\"ok\"}"));
	fx_raw_close(&a);
	fx_raw_close(&b);
	fx_raw_close(&c);
}

Test(server, tls_handshake_with_garbage_is_counted_and_closed)
{
	struct trap_http_config cfg = fx_config(true);
	fx_server_start(&cfg);
	struct fx_raw r;
	fx_raw_connect(&r, fx_srv.tls_port);
	const char *req = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
	fx_raw_send(&r, req, strlen(req));
	cr_assert(fx_raw_wait_eof(&r), "the server kept a connection that sent garbage");
	fx_raw_close(&r);
	cr_assert_null(strstr(r.buf, "HTTP/1.1"));
	cr_assert_eq(fx_stats().drops[TRAP_HTTP_DROP_TLS_HANDSHAKE_FAILED], 1);
	/* and a real client still gets through */
	struct fx_curl c;
	const char *args[] = {"-k", url(0, true, "/health"), NULL};
	fx_curl(&c, args);
	cr_assert_eq(c.http_code, 200);
}

Test(server, silent_tls_client_hits_the_handshake_deadline)
{
	struct trap_http_config cfg = fx_config(true);
	cfg.request_timeout_ms = 300;
	fx_server_start(&cfg);
	struct fx_raw r;
	fx_raw_connect(&r, fx_srv.tls_port);
	cr_assert(fx_raw_wait_eof(&r));
	fx_raw_close(&r);
	cr_assert_eq(fx_stats().drops[TRAP_HTTP_DROP_TLS_HANDSHAKE_TIMEOUT], 1);
}

Test(server, client_closing_mid_request_is_counted)
{
	struct trap_http_config cfg = fx_config(false);
	fx_server_start(&cfg);
	struct fx_raw r;
	fx_raw_connect(&r, fx_srv.port);
	const char *part = "POST /traps HTTP/1.1\r\nHost: x\r\nContent-Len";
	fx_raw_send(&r, part, strlen(part));
	uint64_t one = 1;
	cr_assert(fx_run_until(connections_open_is, &one, FX_WAIT_MS));
	fx_raw_close(&r);
	uint64_t zero = 0;
	cr_assert(fx_run_until(connections_open_is, &zero, FX_WAIT_MS));
	cr_assert_eq(fx_stats().drops[TRAP_HTTP_DROP_CLIENT_ABORTED], 1);
}

static bool began_request(void *arg)
{
	return fx_stats().connections_open == 2;
}

Test(server, close_with_connections_open)
{
	struct trap_http_config cfg = fx_config(true);
	fx_server_start(&cfg);
	struct fx_raw plain, tls;
	fx_raw_connect(&plain, fx_srv.port);
	fx_raw_connect(&tls, fx_srv.tls_port);
	const char *part = "POST /traps HTTP/1.1\r\nHost: x\r\n";
	fx_raw_send(&plain, part, strlen(part));
	cr_assert(fx_run_until(began_request, NULL, FX_WAIT_MS));
	/* fx_teardown closes the server with both open and checks every handle closed */
}

static bool slow_reader_dropped(void *arg)
{
	return fx_stats().drops[TRAP_HTTP_DROP_SLOW_READER] == 1;
}

Test(server, client_that_never_reads_its_answers_is_dropped)
{
	struct trap_http_config cfg = fx_config(false);
	cfg.request_timeout_ms = 500;
	fx_server_start(&cfg);
	struct fx_raw r;
	fx_raw_connect(&r, fx_srv.port);
	uv_read_stop((uv_stream_t *)&r.tcp);
	uv_recv_buffer_size((uv_handle_t *)&r.tcp, &(int){4096});
	static const char one[] = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
	size_t n = 200000, len = sizeof one - 1;
	char *many = malloc(n * len);
	cr_assert_not_null(many);
	for (size_t i = 0; i < n; i++)
		memcpy(many + i * len, one, len);
	fx_raw_send(&r, many, n * len); /* ~7 MB of answers that nobody reads */
	free(many);
	cr_assert(fx_run_until(slow_reader_dropped, NULL, FX_WAIT_MS),
		  "the server kept answering a client that does not read");
	fx_raw_close(&r);
}

static bool server_closed(void *arg)
{
	return fx_srv.closed;
}

Test(server, on_trap_may_close_the_server)
{
	struct trap_http_config cfg = fx_config(false);
	fx_server_start(&cfg);
	fx_srv.close_in_trap = true;
	struct fx_raw r;
	fx_raw_connect(&r, fx_srv.port);
	char req[2048];
	int n = snprintf(req, sizeof req,
			 "POST /traps HTTP/1.1\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\n\r\n%s",
			 strlen(TRAP_BODY), TRAP_BODY);
	char two[4096];
	snprintf(two, sizeof two, "%s%s", req, req); /* pipelined */
	fx_raw_send(&r, two, 2 * (size_t)n);
	cr_assert(fx_run_until(server_closed, NULL, FX_WAIT_MS));
	cr_assert(fx_raw_wait_eof(&r));
	fx_raw_close(&r);
	cr_assert_eq(fx_srv.n_traps, 1, "the second pipelined trap was handled after close");
}

Test(server, bad_config_is_refused_with_a_sentence)
{
	struct trap_http_config cfg = fx_config(true);
	cfg.listen[0].addr = "localhost:80";
	char err[300] = "";
	struct trap_http_server *s;
	cr_assert_eq(trap_http_new(fx_loop, &cfg, &s, err, sizeof err), DUET_EINVAL);
	cr_assert_not_null(strstr(err, "localhost:80"), "%s", err);
	cfg = fx_config(true);
	cfg.key_file = fx_path(5, "missing.key");
	cr_assert_eq(trap_http_new(fx_loop, &cfg, &s, err, sizeof err), DUET_EINVAL);
	cr_assert_not_null(strstr(err, "missing.key"), "%s", err);
	/* the port of a running server is taken */
	cfg = fx_config(false);
	fx_server_start(&cfg);
	char addr[64];
	snprintf(addr, sizeof addr, "127.0.0.1:%d", fx_srv.port);
	cfg.listen[0].addr = addr;
	cr_assert_neq(trap_http_new(fx_loop, &cfg, &s, err, sizeof err), 0);
	cr_assert_not_null(strstr(err, addr), "%s", err);
	uv_run(fx_loop, UV_RUN_NOWAIT); /* the failed server's handles finish closing */
}
