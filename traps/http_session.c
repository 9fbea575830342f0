/* SPDX-License-Identifier: MIT */
/*
 * http_session.c - one connection's HTTP/1.1 requests as a state machine
 * driven from a buffer: bytes in (trap_http_session_feed), answers out
 * (trap_http_session_output). No sockets, no clock: the server owns both,
 * and the fuzz target drives exactly this code (traps_http.h).
 *
 * http-parser callbacks only record (target, the three headers we judge,
 * body bytes, limits). The two moments that need decisions, "headers
 * complete" and "message complete", pause the parser; feed() then judges
 * the headers or runs the route's handler outside any parser callback, and
 * resumes the parser on the rest of the buffer. So handlers (and on_trap)
 * never run inside http-parser, and pipelined requests in one buffer are
 * answered one by one, in order.
 *
 * Invariants:
 *  - memory per session is bounded: the target and the captured headers
 *    live in fixed buffers, the body grows up to max_body_bytes, the output
 *    holds the answers of one fed buffer;
 *  - once the state is DONE nothing more is parsed or answered; the last
 *    answer said "Connection: close";
 *  - the answers do not depend on how the input was cut into feed() calls
 *    (checked by the fuzz target). http-parser calls back at the end of
 *    each read, so a refusal from inside a callback could overtake a syntax
 *    error further on in the same bytes: the header limit is therefore
 *    judged at the headers-complete pause. The chunked body cap stays in
 *    on_body: chunk data cannot hold a syntax error, so nothing can be
 *    overtaken there.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "duet/err.h"
#include "duet/traps_http.h"

#define BODY_KEEP_BYTES   (64u * 1024) /* a larger body buffer is freed after its request */
#define OUTPUT_KEEP_BYTES (64u * 1024)

static struct trap_http_session *session_of(http_parser *p)
{
	return p->data;
}

static void session_log(struct trap_http_session *s, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void session_log(struct trap_http_session *s, int level, const char *fmt, ...)
{
	struct trap_http_router *r = s->router;
	if (!r->on_log)
		return;
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	r->on_log(r->data, level, line);
}

/* ---- output ---------------------------------------------------------------- */

static int out_append(struct trap_http_session *s, const void *data, size_t len)
{
	if (s->out_len + len > s->out_cap) {
		size_t cap = s->out_cap ? s->out_cap : 1024;
		while (cap < s->out_len + len)
			cap *= 2;
		uint8_t *p = realloc(s->out, cap);
		if (!p)
			return DUET_ENOMEM;
		s->out = p;
		s->out_cap = cap;
	}
	memcpy(s->out + s->out_len, data, len);
	s->out_len += len;
	return 0;
}

/* Writes one answer and counts it; `keep_alive` false ends the session. */
static void write_answer(struct trap_http_session *s, const struct trap_http_response *resp,
			 bool keep_alive)
{
	struct trap_http_stats *st = &s->router->stats;
	st->requests++;
	if (resp->drop != TRAP_HTTP_DROP_NONE && resp->drop < TRAP_HTTP_DROP_N)
		st->drops[resp->drop]++;
	const char *phrase = http_status_str((enum http_status)resp->status);
	char head[512];
	int n = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\n", resp->status, phrase);
	if (resp->content_type && resp->body_len)
		n += snprintf(head + n, sizeof head - (size_t)n, "Content-Type: %s\r\n",
			      resp->content_type);
	n += snprintf(head + n, sizeof head - (size_t)n,
		      "Content-Length: %zu\r\n%sConnection: %s\r\n\r\n", resp->body_len,
		      resp->headers, keep_alive ? "keep-alive" : "close");
	/* an answer to HEAD has the headers of the GET answer, not its body */
	if ((size_t)n >= sizeof head || out_append(s, head, (size_t)n) != 0 ||
	    (!s->head && out_append(s, resp->body, resp->body_len) != 0)) {
		/* cannot say anything sensible: just end the connection */
		s->out_len = 0;
		keep_alive = false;
	}
	s->head = false; /* one answer per request: the next one is judged anew */
	s->state = keep_alive ? TRAP_HTTP_SESSION_IDLE : TRAP_HTTP_SESSION_DONE;
}

/* An answer decided by the session itself (never by a handler): the
 * request is refused and the connection ends. */
static void refuse(struct trap_http_session *s, int status, enum trap_http_drop drop,
		   const char *extra_headers, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void refuse(struct trap_http_session *s, int status, enum trap_http_drop drop,
		   const char *extra_headers, const char *fmt, ...)
{
	char detail[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	struct trap_http_response resp;
	memset(&resp, 0, sizeof resp);
	trap_http_respond_error(&resp, status, drop, detail);
	if (extra_headers)
		snprintf(resp.headers, sizeof resp.headers, "%s", extra_headers);
	session_log(s, TRAP_HTTP_LOG_INFO, "HTTP request from %s refused: %d %s: %s", s->peer,
		    status, trap_http_drop_name(drop), detail);
	write_answer(s, &resp, false);
	free(resp.body);
}

/* ---- parser callbacks: record only --------------------------------------------- */

/*
 * Headers over max_header_bytes are only noted here and refused when the
 * headers are complete: a refusal from inside a callback would come
 * earlier or later than a syntax error in the same bytes depending on how
 * the stream was cut into reads (http-parser calls back at the end of each
 * read), and the answer must not depend on that. Nothing is stored past
 * the fixed buffers meanwhile, and http-parser's own limit
 * (HTTP_MAX_HEADER_SIZE, 80 KiB) ends a header section that never ends.
 */
static void count_header_bytes(struct trap_http_session *s, size_t len)
{
	s->header_bytes += len;
	if (s->header_bytes > s->router->max_header_bytes)
		s->header_overflow = true;
}

static void capture_reset(struct trap_http_header_value *h)
{
	h->len = 0;
	h->count = 0;
	h->overflow = false;
	h->buf[0] = 0;
}

static int on_message_begin(http_parser *p)
{
	struct trap_http_session *s = session_of(p);
	s->state = TRAP_HTTP_SESSION_IN_REQUEST;
	s->requests_begun++;
	s->header_bytes = 0;
	s->header_overflow = false;
	s->headers_done = false;
	s->last_was_value = true; /* the first field starts a header */
	s->head = false;
	s->url_len = 0;
	s->url_overflow = false;
	s->field_len = 0;
	s->capture = NULL;
	capture_reset(&s->content_type);
	capture_reset(&s->authorization);
	capture_reset(&s->expect);
	s->route = NULL;
	s->path = s->query = "";
	s->body_len = 0;
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct trap_http_session *s = session_of(p);
	count_header_bytes(s, len);
	if (s->url_overflow || s->url_len + len > TRAP_HTTP_MAX_URL_BYTES) {
		s->url_overflow = true;
		return 0;
	}
	memcpy(s->url + s->url_len, at, len);
	s->url_len += len;
	s->url[s->url_len] = 0;
	return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	struct trap_http_session *s = session_of(p);
	count_header_bytes(s, len);
	if (s->headers_done) /* a trailer after a chunked body: counted, ignored */
		return 0;
	if (s->last_was_value) {
		s->field_len = 0;
		s->field_overflow = false;
		s->capture = NULL;
		s->last_was_value = false;
	}
	if (s->field_len + len >= sizeof s->field) {
		s->field_overflow = true; /* no header we judge has so long a name */
		return 0;
	}
	memcpy(s->field + s->field_len, at, len);
	s->field_len += len;
	s->field[s->field_len] = 0;
	return 0;
}

static struct trap_http_header_value *capture_for(struct trap_http_session *s)
{
	if (s->field_overflow)
		return NULL;
	if (strcasecmp(s->field, "Content-Type") == 0)
		return &s->content_type;
	if (strcasecmp(s->field, "Authorization") == 0)
		return &s->authorization;
	if (strcasecmp(s->field, "Expect") == 0)
		return &s->expect;
	return NULL;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
	struct trap_http_session *s = session_of(p);
	count_header_bytes(s, len);
	if (s->headers_done)
		return 0;
	if (!s->last_was_value) { /* first piece of this header's value */
		s->last_was_value = true;
		s->capture = capture_for(s);
		if (s->capture) {
			s->capture->count++;
			s->capture->len = 0;
			s->capture->overflow = false;
		}
	}
	struct trap_http_header_value *h = s->capture;
	if (!h || h->overflow)
		return 0;
	if (h->len + len > h->cap) {
		h->overflow = true;
		return 0;
	}
	memcpy(h->buf + h->len, at, len);
	h->len += len;
	h->buf[h->len] = 0;
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	struct trap_http_session *s = session_of(p);
	s->headers_done = true;
	s->event = TRAP_HTTP_EV_HEADERS;
	http_parser_pause(p, 1);
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct trap_http_session *s = session_of(p);
	size_t max = s->router->max_body_bytes;
	if (s->body_len + len > max) { /* only a chunked body gets here */
		s->pending_status = 413;
		s->pending_drop = TRAP_HTTP_DROP_BODY_TOO_LARGE;
		return -1;
	}
	if (s->body_len + len > s->body_cap) {
		size_t cap = s->body_cap ? s->body_cap : 4096;
		while (cap < s->body_len + len)
			cap *= 2;
		if (cap > max)
			cap = max;
		uint8_t *b = realloc(s->body, cap);
		if (!b) {
			s->pending_status = 500;
			s->pending_drop = TRAP_HTTP_DROP_INTERNAL_ERROR;
			return -1;
		}
		s->body = b;
		s->body_cap = cap;
	}
	memcpy(s->body + s->body_len, at, len);
	s->body_len += len;
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct trap_http_session *s = session_of(p);
	s->event = TRAP_HTTP_EV_MESSAGE;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- judging the headers ----------------------------------------------------- */

static void trim_trailing_space(struct trap_http_header_value *h)
{
	while (h->len > 0 && (h->buf[h->len - 1] == ' ' || h->buf[h->len - 1] == '\t'))
		h->buf[--h->len] = 0;
}

/* Compares in time that depends on the token's length only. */
static bool token_equal(const char *given, size_t given_len, const char *token, size_t token_len)
{
	volatile unsigned char diff = given_len != token_len;
	for (size_t i = 0; i < token_len; i++) {
		unsigned char g = i < given_len ? (unsigned char)given[i] : 0;
		diff |= g ^ (unsigned char)token[i];
	}
	return diff == 0;
}

/* 0 when the route may run; else the request has been refused. */
static int check_token(struct trap_http_session *s)
{
	struct trap_http_router *r = s->router;
	struct trap_http_header_value *h = &s->authorization;
	if (h->count == 0) {
		refuse(s, 401, TRAP_HTTP_DROP_TOKEN_MISSING, "WWW-Authenticate: Bearer\r\n",
		       "send the token as \"Authorization: Bearer <token>\"");
		return -1;
	}
	if (h->count > 1) {
		refuse(s, 400, TRAP_HTTP_DROP_BAD_REQUEST, NULL, "Authorization given twice");
		return -1;
	}
	trim_trailing_space(h);
	if (h->overflow || h->len < 7 || strncasecmp(h->buf, "Bearer", 6) != 0 ||
	    (h->buf[6] != ' ' && h->buf[6] != '\t')) {
		refuse(s, 401, TRAP_HTTP_DROP_TOKEN_MISSING, "WWW-Authenticate: Bearer\r\n",
		       "Authorization is not a Bearer token");
		return -1;
	}
	const char *tok = h->buf + 7;
	while (*tok == ' ' || *tok == '\t')
		tok++;
	size_t tok_len = h->len - (size_t)(tok - h->buf);
	if (!token_equal(tok, tok_len, r->token, r->token_len)) {
		refuse(s, 401, TRAP_HTTP_DROP_TOKEN_WRONG,
		       "WWW-Authenticate: Bearer error=\"invalid_token\"\r\n",
		       "wrong bearer token");
		return -1;
	}
	return 0;
}

static const char *skip_space(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* application/json with optional parameters; charset, if any, utf-8.
 * Returns NULL when acceptable, else why not. */
static const char *content_type_problem(const struct trap_http_header_value *h, char *why,
					size_t cap)
{
	static const char json[] = "application/json";
	if (h->count == 0)
		return "Content-Type is missing; send application/json";
	if (h->overflow)
		return "Content-Type is too long";
	const char *p = skip_space(h->buf);
	if (strncasecmp(p, json, sizeof json - 1) != 0)
		goto wrong_type;
	p = skip_space(p + sizeof json - 1);
	if (*p != 0 && *p != ';')
		goto wrong_type;
	while (*p == ';') {
		p = skip_space(p + 1);
		const char *name = p;
		while (*p && *p != '=' && *p != ';')
			p++;
		size_t name_len = (size_t)(p - name);
		while (name_len && (name[name_len - 1] == ' ' || name[name_len - 1] == '\t'))
			name_len--;
		const char *value = "", *end = p;
		if (*p == '=') {
			value = skip_space(p + 1);
			end = value;
			while (*end && *end != ';')
				end++;
			p = end;
		}
		size_t value_len = (size_t)(end - value);
		while (value_len && (value[value_len - 1] == ' ' || value[value_len - 1] == '\t'))
			value_len--;
		if (value_len >= 2 && value[0] == '"' && value[value_len - 1] == '"') {
			value++;
			value_len -= 2;
		}
		if (name_len == 7 && strncasecmp(name, "charset", 7) == 0 &&
		    !(value_len == 5 && strncasecmp(value, "utf-8", 5) == 0) &&
		    !(value_len == 4 && strncasecmp(value, "utf8", 4) == 0)) {
			snprintf(why, cap, "charset %.*s is not supported; JSON is utf-8",
				 (int)(value_len > 40 ? 40 : value_len), value);
			return why;
		}
	}
	return NULL;
wrong_type:
	snprintf(why, cap, "Content-Type %.60s is not application/json", h->buf);
	return why;
}

/* Splits the target into path and query (NUL-terminated inside s->url). */
static int split_target(struct trap_http_session *s, const char **path, const char **query)
{
	struct http_parser_url u;
	http_parser_url_init(&u);
	if (s->url_len == 0 ||
	    http_parser_parse_url(s->url, s->url_len, s->parser.method == HTTP_CONNECT, &u) != 0 ||
	    !(u.field_set & (1 << UF_PATH)))
		return -1;
	size_t path_off = u.field_data[UF_PATH].off,
	       path_end = path_off + u.field_data[UF_PATH].len;
	size_t query_off = s->url_len, query_end = s->url_len;
	if (u.field_set & (1 << UF_QUERY)) {
		query_off = u.field_data[UF_QUERY].off;
		query_end = query_off + u.field_data[UF_QUERY].len;
	}
	s->url[path_end] = 0; /* the '?', '#' or the end */
	s->url[query_end] = 0;
	*path = s->url + path_off;
	*query = s->url + query_off;
	return 0;
}

static void judge_headers(struct trap_http_session *s)
{
	struct trap_http_router *r = s->router;
	http_parser *p = &s->parser;
	const char *method = http_method_str((enum http_method)p->method);
	const char *path, *query;
	char why[160];

	s->head = p->method == HTTP_HEAD;
	if (s->header_overflow) {
		refuse(s, 431, TRAP_HTTP_DROP_HEADER_TOO_LARGE, NULL, "headers over %zu bytes",
		       r->max_header_bytes);
		return;
	}
	if (s->url_overflow) {
		refuse(s, 414, TRAP_HTTP_DROP_URI_TOO_LONG, NULL,
		       "the request target is longer than %d bytes", TRAP_HTTP_MAX_URL_BYTES);
		return;
	}
	if (split_target(s, &path, &query) != 0) {
		refuse(s, 400, TRAP_HTTP_DROP_BAD_REQUEST, NULL,
		       "the request target is not a path");
		return;
	}
	s->path = path;
	s->query = query;
	char allow[128] = "";
	size_t allow_len = 0;
	const struct trap_http_route *get_route = NULL; /* serves HEAD without a HEAD route */
	for (unsigned i = 0; i < r->n_routes; i++) {
		const struct trap_http_route *rt = &r->routes[i];
		if (strcmp(rt->path, path) != 0)
			continue;
		if (strcmp(rt->method, method) == 0) {
			s->route = rt;
			break;
		}
		if (strcmp(rt->method, "GET") == 0)
			get_route = rt;
		int n = snprintf(allow + allow_len, sizeof allow - allow_len, "%s%s",
				 allow_len ? ", " : "", rt->method);
		if (n > 0 && (size_t)n < sizeof allow - allow_len)
			allow_len += (size_t)n;
	}
	if (!s->route && s->head)
		s->route = get_route;
	if (!s->route && allow_len == 0) {
		refuse(s, 404, TRAP_HTTP_DROP_NOT_FOUND, NULL, "no such path: %.80s", path);
		return;
	}
	if (!s->route) {
		/* a GET route answers HEAD too (RFC 9110 9.3.2): say so */
		bool head_route = false;
		for (unsigned i = 0; i < r->n_routes; i++)
			head_route |= strcmp(r->routes[i].path, path) == 0 &&
				      strcmp(r->routes[i].method, "HEAD") == 0;
		if (get_route && !head_route && allow_len + 6 < sizeof allow) {
			memcpy(allow + allow_len, ", HEAD", 7);
			allow_len += 6;
		}
		char header[160];
		snprintf(header, sizeof header, "Allow: %s\r\n", allow);
		refuse(s, 405, TRAP_HTTP_DROP_METHOD_NOT_ALLOWED, header,
		       "%s is not allowed on %.80s; allowed: %s", method, path, allow);
		return;
	}
	unsigned flags = s->route->flags;
	if ((flags & TRAP_HTTP_ROUTE_AUTH) && r->token_len && check_token(s) != 0)
		return;
	bool chunked = (p->flags & F_CHUNKED) != 0;
	bool has_length = (p->flags & F_CONTENTLENGTH) != 0;
	if ((flags & TRAP_HTTP_ROUTE_JSON_BODY) && !chunked && !has_length) {
		refuse(s, 411, TRAP_HTTP_DROP_LENGTH_REQUIRED, NULL,
		       "send the body with Content-Length (or chunked)");
		return;
	}
	if (has_length && p->content_length > r->max_body_bytes) {
		refuse(s, 413, TRAP_HTTP_DROP_BODY_TOO_LARGE, NULL,
		       "the body is %llu bytes, the limit is %zu",
		       (unsigned long long)p->content_length, r->max_body_bytes);
		return;
	}
	if (s->content_type.count > 1) {
		refuse(s, 400, TRAP_HTTP_DROP_BAD_REQUEST, NULL, "Content-Type given twice");
		return;
	}
	if (flags & TRAP_HTTP_ROUTE_JSON_BODY) {
		trim_trailing_space(&s->content_type);
		const char *problem = content_type_problem(&s->content_type, why, sizeof why);
		if (problem) {
			refuse(s, 415, TRAP_HTTP_DROP_UNSUPPORTED_MEDIA, NULL, "%s", problem);
			return;
		}
	}
	if (s->expect.count) {
		trim_trailing_space(&s->expect);
		if (s->expect.count > 1 || s->expect.overflow ||
		    strcasecmp(s->expect.buf, "100-continue") != 0) {
			refuse(s, 417, TRAP_HTTP_DROP_EXPECTATION_FAILED, NULL,
			       "only \"Expect: 100-continue\" is supported");
			return;
		}
		if (chunked || (has_length && p->content_length > 0)) {
			static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
			if (out_append(s, cont, sizeof cont - 1) != 0)
				s->state = TRAP_HTTP_SESSION_DONE;
		}
	}
}

/* ---- running the handler -------------------------------------------------------- */

static void finish_request(struct trap_http_session *s)
{
	http_parser *p = &s->parser;
	struct trap_http_request req = {
	    .method = s->head ? "HEAD" : s->route->method,
	    .path = s->path,
	    .query = s->query,
	    .content_type = s->content_type.count ? s->content_type.buf : NULL,
	    .authorization = s->authorization.count ? s->authorization.buf : NULL,
	    .body = s->body_len ? s->body : (const uint8_t *)"",
	    .body_len = s->body_len,
	    .peer = s->peer,
	};
	struct trap_http_response resp;
	memset(&resp, 0, sizeof resp);
	s->route->handler(s->route->data, &req, &resp);
	if (resp.status < 100 || resp.status > 599)
		trap_http_respond_error(&resp, 500, TRAP_HTTP_DROP_INTERNAL_ERROR,
					"the handler gave no answer");
	if (resp.drop != TRAP_HTTP_DROP_NONE)
		session_log(s, TRAP_HTTP_LOG_INFO, "HTTP %s %s from %s: %d %s", req.method,
			    req.path, s->peer, resp.status, trap_http_drop_name(resp.drop));
	bool keep_alive = http_should_keep_alive(p) && !p->upgrade;
	write_answer(s, &resp, keep_alive);
	free(resp.body);
	if (s->body_cap > BODY_KEEP_BYTES) {
		free(s->body);
		s->body = NULL;
		s->body_cap = 0;
	}
	s->body_len = 0;
}

/* ---- public ----------------------------------------------------------------------- */

static void header_value_init(struct trap_http_header_value *h, char *buf, size_t size)
{
	h->buf = buf;
	h->cap = size - 1;
	capture_reset(h);
}

void trap_http_session_init(struct trap_http_session *s, struct trap_http_router *router,
			    const char *peer)
{
	memset(s, 0, sizeof *s);
	s->router = router;
	http_parser_init(&s->parser, HTTP_REQUEST);
	s->parser.data = s;
	snprintf(s->peer, sizeof s->peer, "%s", peer ? peer : "");
	header_value_init(&s->content_type, s->content_type_buf, sizeof s->content_type_buf);
	header_value_init(&s->authorization, s->authorization_buf, sizeof s->authorization_buf);
	header_value_init(&s->expect, s->expect_buf, sizeof s->expect_buf);
	s->state = TRAP_HTTP_SESSION_IDLE;
}

void trap_http_session_free(struct trap_http_session *s)
{
	free(s->body);
	free(s->out);
	s->body = s->out = NULL;
	s->body_len = s->body_cap = s->out_len = s->out_cap = 0;
}

static void parse_failed(struct trap_http_session *s, enum http_errno err)
{
	if (s->pending_drop != TRAP_HTTP_DROP_NONE) {
		int status = s->pending_status;
		enum trap_http_drop drop = s->pending_drop;
		s->pending_drop = TRAP_HTTP_DROP_NONE;
		if (drop == TRAP_HTTP_DROP_BODY_TOO_LARGE)
			refuse(s, status, drop, NULL, "the chunked body passed %zu bytes",
			       s->router->max_body_bytes);
		else
			refuse(s, status, drop, NULL, "out of memory");
		return;
	}
	if (err == HPE_HEADER_OVERFLOW)
		refuse(s, 431, TRAP_HTTP_DROP_HEADER_TOO_LARGE, NULL, "%s",
		       http_errno_description(err));
	else
		refuse(s, 400, TRAP_HTTP_DROP_BAD_REQUEST, NULL, "malformed HTTP: %s",
		       http_errno_description(err));
}

size_t trap_http_session_feed(struct trap_http_session *s, const void *data, size_t len)
{
	const char *p = data;
	size_t used = 0;
	while (used < len && s->state != TRAP_HTTP_SESSION_DONE) {
		if (s->router->stopped) { /* on_trap closed the server */
			s->state = TRAP_HTTP_SESSION_DONE;
			break;
		}
		size_t n = http_parser_execute(&s->parser, &parser_settings, p + used, len - used);
		used += n;
		enum http_errno err = HTTP_PARSER_ERRNO(&s->parser);
		if (err == HPE_PAUSED) {
			http_parser_pause(&s->parser, 0);
			enum trap_http_session_event ev = s->event;
			s->event = TRAP_HTTP_EV_NONE;
			if (ev == TRAP_HTTP_EV_HEADERS)
				judge_headers(s);
			else if (ev == TRAP_HTTP_EV_MESSAGE && s->header_overflow) /* trailers */
				refuse(s, 431, TRAP_HTTP_DROP_HEADER_TOO_LARGE, NULL,
				       "headers and trailers over %zu bytes",
				       s->router->max_header_bytes);
			else if (ev == TRAP_HTTP_EV_MESSAGE && s->route)
				finish_request(s);
			else if (ev == TRAP_HTTP_EV_MESSAGE) /* cannot happen: judged first */
				refuse(s, 500, TRAP_HTTP_DROP_INTERNAL_ERROR, NULL, "no route");
			continue;
		}
		if (err != HPE_OK) {
			parse_failed(s, err);
			break;
		}
		if (used < len) {
			/* http-parser stops short without an error only after an
			 * upgrade, whose answer (with "Connection: close") is out */
			s->state = TRAP_HTTP_SESSION_DONE;
			break;
		}
	}
	return used;
}

int trap_http_session_expire(struct trap_http_session *s)
{
	if (s->state != TRAP_HTTP_SESSION_IN_REQUEST)
		return 0;
	refuse(s, 408, TRAP_HTTP_DROP_REQUEST_TIMEOUT, NULL,
	       "the request was not complete within the deadline");
	return 1;
}

enum trap_http_session_state trap_http_session_state(const struct trap_http_session *s)
{
	return s->state;
}

uint64_t trap_http_session_requests_begun(const struct trap_http_session *s)
{
	return s->requests_begun;
}

const uint8_t *trap_http_session_output(const struct trap_http_session *s, size_t *len)
{
	*len = s->out_len;
	return s->out;
}

void trap_http_session_output_clear(struct trap_http_session *s)
{
	s->out_len = 0;
	if (s->out_cap > OUTPUT_KEEP_BYTES) {
		free(s->out);
		s->out = NULL;
		s->out_cap = 0;
	}
}
