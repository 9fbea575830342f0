/* SPDX-License-Identifier: MIT */
/*
 * http_routes.c - the router of the HTTP trap receiver: the route table
 * with its built-in entries (POST /traps, GET /health), answer helpers and
 * the names of drop reasons (behaviour in include/duet/traps_http.h).
 *
 * The table is data (like the FSM tables elsewhere in duet): a request is
 * matched on (method, path) exactly (HEAD falls back to the path's GET
 * row, http_session.c), and anything absent is 404 or 405. The daemon's
 * /master, /health and /metrics are rows of a server without the built-in
 * ones (no_builtin_routes; daemon/http_api.c), not code here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duet/err.h"
#include "duet/traps_http.h"

const char *trap_http_drop_name(enum trap_http_drop drop)
{
	switch (drop) {
	case TRAP_HTTP_DROP_NONE:
		return "none";
	case TRAP_HTTP_DROP_BAD_REQUEST:
		return "bad_request";
	case TRAP_HTTP_DROP_INVALID_TRAP:
		return "invalid_trap";
	case TRAP_HTTP_DROP_TOKEN_MISSING:
		return "token_missing";
	case TRAP_HTTP_DROP_TOKEN_WRONG:
		return "token_wrong";
	case TRAP_HTTP_DROP_NOT_FOUND:
		return "not_found";
	case TRAP_HTTP_DROP_METHOD_NOT_ALLOWED:
		return "method_not_allowed";
	case TRAP_HTTP_DROP_REQUEST_TIMEOUT:
		return "request_timeout";
	case TRAP_HTTP_DROP_LENGTH_REQUIRED:
		return "length_required";
	case TRAP_HTTP_DROP_BODY_TOO_LARGE:
		return "body_too_large";
	case TRAP_HTTP_DROP_URI_TOO_LONG:
		return "uri_too_long";
	case TRAP_HTTP_DROP_UNSUPPORTED_MEDIA:
		return "unsupported_media_type";
	case TRAP_HTTP_DROP_EXPECTATION_FAILED:
		return "expectation_failed";
	case TRAP_HTTP_DROP_HEADER_TOO_LARGE:
		return "header_too_large";
	case TRAP_HTTP_DROP_INTERNAL_ERROR:
		return "internal_error";
	case TRAP_HTTP_DROP_QUEUE_FULL:
		return "queue_full";
	case TRAP_HTTP_DROP_TOO_MANY_CONNECTIONS:
		return "too_many_connections";
	case TRAP_HTTP_DROP_TLS_HANDSHAKE_FAILED:
		return "tls_handshake_failed";
	case TRAP_HTTP_DROP_TLS_HANDSHAKE_TIMEOUT:
		return "tls_handshake_timeout";
	case TRAP_HTTP_DROP_TLS_ERROR:
		return "tls_error";
	case TRAP_HTTP_DROP_CLIENT_ABORTED:
		return "client_aborted";
	case TRAP_HTTP_DROP_SLOW_READER:
		return "slow_reader";
	case TRAP_HTTP_DROP_N:
		break;
	}
	return "unknown";
}

int trap_http_respond(struct trap_http_response *r, int status, const char *content_type,
		      const void *body, size_t len)
{
	free(r->body);
	r->body = NULL;
	r->body_len = 0;
	r->status = status;
	r->content_type = content_type;
	if (len == 0)
		return 0;
	r->body = malloc(len);
	if (!r->body) {
		r->status = 500;
		r->drop = TRAP_HTTP_DROP_INTERNAL_ERROR;
		r->content_type = NULL;
		return DUET_ENOMEM;
	}
	memcpy(r->body, body, len);
	r->body_len = len;
	return 0;
}

/* Appends s as the inside of a JSON string: quotes, backslashes and
 * control characters escaped; bytes >= 0x80 become '?' (details may quote
 * a sender's bytes, which need not be UTF-8). Returns the new length. */
static size_t json_escape(char *dst, size_t n, size_t cap, const char *s)
{
	for (; *s && n + 7 < cap; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\') {
			dst[n++] = '\\';
			dst[n++] = (char)ch;
		} else if (ch < 0x20) {
			n += (size_t)snprintf(dst + n, cap - n, "\\u%04x", ch);
		} else {
			dst[n++] = ch >= 0x80 ? '?' : (char)ch;
		}
	}
	dst[n] = 0;
	return n;
}

static int respond_error_with(struct trap_http_response *r, int status, enum trap_http_drop drop,
			      const char *reason, const char *detail)
{
	char body[768];
	size_t n =
	    (size_t)snprintf(body, sizeof body, "{\"error\":\"%s\"", trap_http_drop_name(drop));
	if (reason)
		n += (size_t)snprintf(body + n, sizeof body - n, ",\"reason\":\"%s\"", reason);
	if (detail) {
		n += (size_t)snprintf(body + n, sizeof body - n, ",\"detail\":\"");
		n = json_escape(body, n, sizeof body - 3, detail);
		body[n++] = '"';
	}
	body[n++] = '}';
	body[n] = 0;
	r->drop = drop;
	return trap_http_respond(r, status, "application/json", body, n);
}

int trap_http_respond_error(struct trap_http_response *r, int status, enum trap_http_drop drop,
			    const char *detail)
{
	return respond_error_with(r, status, drop, NULL, detail);
}

/* ---- built-in routes ------------------------------------------------------ */

static void handle_traps(void *data, const struct trap_http_request *req,
			 struct trap_http_response *resp)
{
	struct trap_http_router *r = data;
	struct trap_custom_result res;
	int rc = trap_custom_parse(req->body, req->body_len, &r->custom, &res);
	if (rc == DUET_ENOMEM) {
		trap_http_respond_error(resp, 500, TRAP_HTTP_DROP_INTERNAL_ERROR,
					"out of memory while validating the trap");
	} else if (rc) {
		r->stats.invalid_trap[res.reason]++;
		respond_error_with(resp, 400, TRAP_HTTP_DROP_INVALID_TRAP,
				   trap_custom_reason_name(res.reason), res.detail);
	} else {
		rc = r->on_trap(r->data, req->peer, res.canonical, res.canonical_len, res.json,
				res.json_len);
		if (rc == 0) {
			char body[64];
			int n = snprintf(body, sizeof body,
					 "{\"status\":\"accepted\",\"items\":%u}", res.n_items);
			r->stats.traps_accepted++;
			trap_http_respond(resp, 202, "application/json", body, (size_t)n);
		} else if (rc == DUET_EBUSY) {
			trap_http_respond_error(resp, 503, TRAP_HTTP_DROP_QUEUE_FULL,
						"the trap queue is full; retry later");
			snprintf(resp->headers, sizeof resp->headers, "Retry-After: 1\r\n");
		} else {
			trap_http_respond_error(resp, 500, TRAP_HTTP_DROP_INTERNAL_ERROR,
						duet_strerror(rc));
		}
	}
	trap_custom_result_free(&res);
}

static void handle_health(void *data, const struct trap_http_request *req,
			  struct trap_http_response *resp)
{
	static const char body[] = "{\"status\":\"ok\"}";
	trap_http_respond(resp, 200, "application/json", body, sizeof body - 1);
}

static int add_route(struct trap_http_router *r, const struct trap_http_route *route, char *errbuf,
		     size_t errlen)
{
	if (!route->method || !route->path || !route->handler || route->path[0] != '/') {
		snprintf(errbuf, errlen,
			 "route %u: method, path (starting with '/') and handler "
			 "are required",
			 r->n_routes);
		return DUET_EINVAL;
	}
	if (r->n_routes >= TRAP_HTTP_MAX_ROUTES) {
		snprintf(errbuf, errlen, "more than %d HTTP routes", TRAP_HTTP_MAX_ROUTES);
		return DUET_EINVAL;
	}
	for (unsigned i = 0; i < r->n_routes; i++)
		if (strcmp(r->routes[i].method, route->method) == 0 &&
		    strcmp(r->routes[i].path, route->path) == 0) {
			snprintf(errbuf, errlen, "HTTP route %s %s is defined twice", route->method,
				 route->path);
			return DUET_EINVAL;
		}
	r->routes[r->n_routes++] = *route;
	return 0;
}

int trap_http_router_init(struct trap_http_router *r, const struct trap_http_config *cfg,
			  char *errbuf, size_t errlen)
{
	memset(r, 0, sizeof *r);
	if (!cfg->on_trap && !cfg->no_builtin_routes) {
		snprintf(errbuf, errlen, "the HTTP trap receiver needs an on_trap callback");
		return DUET_EINVAL;
	}
	if (cfg->bearer_token) {
		size_t n = strlen(cfg->bearer_token);
		if (n > TRAP_HTTP_MAX_TOKEN_BYTES) {
			snprintf(errbuf, errlen,
				 "the bearer token is %zu bytes, at most %d allowed", n,
				 TRAP_HTTP_MAX_TOKEN_BYTES);
			return DUET_EINVAL;
		}
		memcpy(r->token, cfg->bearer_token, n + 1);
		r->token_len = n;
	}
	r->max_header_bytes =
	    cfg->max_header_bytes ? cfg->max_header_bytes : TRAP_HTTP_DEFAULT_MAX_HEADER_BYTES;
	r->max_body_bytes =
	    cfg->max_body_bytes ? cfg->max_body_bytes : TRAP_HTTP_DEFAULT_MAX_BODY_BYTES;
	r->custom = cfg->custom;
	r->on_trap = cfg->on_trap;
	r->on_log = cfg->on_log;
	r->data = cfg->data;
	const struct trap_http_route builtin[2] = {
	    {"POST", "/traps", TRAP_HTTP_ROUTE_AUTH | TRAP_HTTP_ROUTE_JSON_BODY, handle_traps, r},
	    {"GET", "/health", 0, handle_health, r},
	};
	int rc = 0;
	for (unsigned i = 0; i < 2 && rc == 0 && !cfg->no_builtin_routes; i++)
		rc = add_route(r, &builtin[i], errbuf, errlen);
	for (unsigned i = 0; i < cfg->n_routes && rc == 0; i++)
		rc = add_route(r, &cfg->routes[i], errbuf, errlen);
	return rc;
}
