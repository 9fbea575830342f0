/* SPDX-License-Identifier: MIT */
/*
 * traps_http.h - the HTTP(S) receiver of custom traps (DESIGN.md sections
 * 5 and 8): an HTTP/1.1 server on a libuv loop, optional TLS, that accepts
 * `POST /traps` with a JSON body (validated by traps_custom.h) and hands
 * each accepted trap to the caller. It also answers `GET /health`. More
 * routes come through the route table in the config; with
 * no_builtin_routes the server has only those (duetd's own endpoints,
 * `/master`, `/health`, `/metrics`: daemon/http_api.c).
 *
 * Three layers, each usable alone:
 *
 *   router   the shared, immutable part: route table, token, limits, the
 *            trap callback and the counters (trap_http_router_*);
 *   session  one connection's request state machine, driven from a buffer:
 *            bytes in, response bytes out, no sockets and no clock (so it is
 *            a fuzz target: tests/fuzz/fuzz_http_request.c);
 *   server   listeners, connections, TLS, timers on a uv loop
 *            (trap_http_new / trap_http_close).
 *
 * ---- Requests and answers ------------------------------------------------
 *
 * Parsing is nodejs http-parser 2.9 (libhttp-parser-dev). A request is
 * judged as soon as its headers are complete, in this order, and the first
 * failed check answers (status, then the counted reason, see enum
 * trap_http_drop):
 *
 *   target + header names and values over max_header_bytes 431 header_too_large
 *   request target longer than TRAP_HTTP_MAX_URL_BYTES     414 uri_too_long
 *   target not a path                                      400 bad_request
 *   no route has the path                                  404 not_found
 *   a route has the path, none the method                  405 method_not_allowed (+ Allow)
 *   route needs the token, no "Authorization: Bearer ..."  401 token_missing
 *   route needs the token, another token                   401 token_wrong
 *   body route, neither Content-Length nor chunked          411 length_required
 *   Content-Length over max_body_bytes                     413 body_too_large
 *   body route, Content-Type not application/json          415 unsupported_media_type
 *     (parameters allowed; a charset other than utf-8 is refused)
 *   Expect other than 100-continue                         417 expectation_failed
 *
 * Then the body is read (Expect: 100-continue is answered with 100 first).
 * A chunked body is ACCEPTED, with the same max_body_bytes cap on the
 * decoded bytes (413 body_too_large the moment it is passed). The route's
 * handler answers; for POST /traps:
 *
 *   body refused by trap_custom_parse()     400 invalid_trap ("reason": the
 *                                           validator's name, "detail")
 *   on_trap returned DUET_EBUSY             503 queue_full (+ Retry-After: 1)
 *   on_trap returned another error, or OOM  500 internal_error
 *   accepted                                202 {"status":"accepted","items":N}
 *
 * and GET /health answers 200 {"status":"ok"}. Content-Type, Authorization
 * or Expect given twice is 400 bad_request (417 for Expect). Malformed
 * HTTP (bad request line, bad header syntax, bad chunk size,
 * Content-Length together with Transfer-Encoding, any Transfer-Encoding but
 * chunked) is 400 bad_request; note that Debian builds http-parser without
 * HTTP_PARSER_STRICT, so some sloppiness passes (a space inside a header
 * name makes an unknown header, not an error). Headers over
 * max_header_bytes are judged when the headers end, before anything else,
 * so that the answer never depends on how the stream was cut into reads;
 * http-parser's own HTTP_MAX_HEADER_SIZE (80 KiB) bounds what is read
 * meanwhile (431 too). A request not complete within request_timeout_ms of
 * its first byte is 408 request_timeout (slowloris). The path is matched
 * exactly, as sent (no percent-decoding), the query ignored. HEAD is
 * answered by a path's GET route unless it has a HEAD route of its own:
 * the handler runs (req->method is "HEAD") and the answer carries the GET
 * answer's headers, Content-Length included, without the body; every
 * other answer to a HEAD request (404, 405, ...) has no body either.
 * Error bodies
 * are {"error":"<reason>","detail":"<text>"} (plus "reason" from the
 * validator for invalid_trap); the detail's non-ASCII bytes become '?'.
 *
 * Keep-alive: HTTP/1.1 connections stay open after an answer from a
 * handler (2xx, 400 invalid_trap, 503...), unless the client asked for
 * close. Pipelined requests are answered in order. Any answer given before
 * the body was read (the checks above), 408, 400 bad_request and 431 close
 * the connection ("Connection: close"): the server sends the answer, shuts
 * its side down, discards what the client still sends for at most
 * TRAP_HTTP_LINGER_MS ("lingering close", so the client reads the answer
 * instead of a reset), then closes. Upgrade and CONNECT requests are
 * answered like any other request and the connection is closed.
 *
 * ---- Connections, limits, timers -----------------------------------------
 *
 *  - max_connections: a connection accepted beyond it is closed at once,
 *    counted too_many_connections (TLS or not, no answer is sent).
 *  - idle_timeout_ms: a connection with no request in progress (after
 *    accept, or after an answer) is closed when nothing arrives for this
 *    long; counted in stats.idle_closed (not a drop).
 *  - request_timeout_ms: from a request's first byte to its last (408), and
 *    for a TLS handshake from accept (tls_handshake_timeout).
 *  - A client that does not read its answers: once more than
 *    TRAP_HTTP_WRITE_QUEUE_BYTES of answers wait to be written, the server
 *    stops reading from it; if they are not written within
 *    request_timeout_ms the connection is closed (slow_reader).
 *  - TLS (a listener with tls = true): TLS 1.2 or 1.3, the cert_file chain
 *    and key_file, no client certificate, no session tickets or cache.
 *    A failed handshake (plain HTTP to the TLS port, garbage) is counted
 *    tls_handshake_failed and the connection closed; a connection closed
 *    before sending a byte (a TCP probe) is not counted.
 *
 * ---- Threads, blocking, ownership ----------------------------------------
 *
 * Everything runs on the caller's loop, in its thread; no call blocks,
 * except that trap_http_new() reads the certificate and key files (call it
 * before the loop runs or accept a short block at start). The config's
 * strings (addresses, file names, token) are copied; the route table is
 * copied but the strings and data it points to must outlive the server
 * (string literals in practice). Pointers handed to callbacks (sender,
 * canonical, json, request fields) are valid during the call only.
 * on_trap may call trap_http_close(); the server then answers the request
 * that is being handled no further. The sender text is the client's IP
 * address without the port ("192.0.2.7", "2001:db8::1"; an IPv4-mapped
 * IPv6 address is written as IPv4), so that it is stable across
 * connections, as the trap identity needs.
 */
#ifndef DUET_TRAPS_HTTP_H
#define DUET_TRAPS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <http_parser.h>
#include <uv.h>

#include "duet/traps_custom.h"

#define TRAP_HTTP_MAX_LISTEN                 8
#define TRAP_HTTP_MAX_ROUTES                 16
#define TRAP_HTTP_MAX_URL_BYTES              2048
#define TRAP_HTTP_MAX_TOKEN_BYTES            512
#define TRAP_HTTP_PEER_BYTES                 64
#define TRAP_HTTP_DEFAULT_MAX_CONNECTIONS    64
#define TRAP_HTTP_DEFAULT_MAX_HEADER_BYTES   8192
#define TRAP_HTTP_DEFAULT_MAX_BODY_BYTES     (256u * 1024)
#define TRAP_HTTP_DEFAULT_REQUEST_TIMEOUT_MS 10000
#define TRAP_HTTP_DEFAULT_IDLE_TIMEOUT_MS    30000
#define TRAP_HTTP_LINGER_MS                  2000
#define TRAP_HTTP_WRITE_QUEUE_BYTES          (64u * 1024)

/* Why a request or connection was dropped; each is counted in
 * stats.drops[]. Names (trap_http_drop_name) are stable, for metrics and
 * error bodies. */
enum trap_http_drop {
	TRAP_HTTP_DROP_NONE = 0,
	TRAP_HTTP_DROP_BAD_REQUEST,          /* 400: malformed HTTP */
	TRAP_HTTP_DROP_INVALID_TRAP,         /* 400: body refused; see stats.invalid_trap */
	TRAP_HTTP_DROP_TOKEN_MISSING,        /* 401 */
	TRAP_HTTP_DROP_TOKEN_WRONG,          /* 401 */
	TRAP_HTTP_DROP_NOT_FOUND,            /* 404 */
	TRAP_HTTP_DROP_METHOD_NOT_ALLOWED,   /* 405 */
	TRAP_HTTP_DROP_REQUEST_TIMEOUT,      /* 408 */
	TRAP_HTTP_DROP_LENGTH_REQUIRED,      /* 411 */
	TRAP_HTTP_DROP_BODY_TOO_LARGE,       /* 413 */
	TRAP_HTTP_DROP_URI_TOO_LONG,         /* 414 */
	TRAP_HTTP_DROP_UNSUPPORTED_MEDIA,    /* 415 */
	TRAP_HTTP_DROP_EXPECTATION_FAILED,   /* 417 */
	TRAP_HTTP_DROP_HEADER_TOO_LARGE,     /* 431 */
	TRAP_HTTP_DROP_INTERNAL_ERROR,       /* 500 */
	TRAP_HTTP_DROP_QUEUE_FULL,           /* 503: on_trap said DUET_EBUSY */
	TRAP_HTTP_DROP_TOO_MANY_CONNECTIONS, /* closed at accept */
	TRAP_HTTP_DROP_TLS_HANDSHAKE_FAILED,
	TRAP_HTTP_DROP_TLS_HANDSHAKE_TIMEOUT,
	TRAP_HTTP_DROP_TLS_ERROR,      /* after the handshake */
	TRAP_HTTP_DROP_CLIENT_ABORTED, /* closed or reset with a request half sent */
	TRAP_HTTP_DROP_SLOW_READER,    /* answers not read within request_timeout_ms */
	TRAP_HTTP_DROP_N
};

/* Stable snake_case name ("body_too_large"); never NULL. */
const char *trap_http_drop_name(enum trap_http_drop drop);

struct trap_http_stats {
	uint64_t connections_accepted; /* all, also those refused at once */
	uint64_t connections_open;     /* now */
	uint64_t requests;             /* requests answered, any status */
	uint64_t traps_accepted;       /* 202 */
	uint64_t idle_closed;          /* keep-alive idle timeout: not a drop */
	uint64_t drops[TRAP_HTTP_DROP_N];
	uint64_t invalid_trap[TRAP_CUSTOM_N_REASONS]; /* why, for DROP_INVALID_TRAP */
};

enum trap_http_log_level {
	TRAP_HTTP_LOG_DEBUG = 0,
	TRAP_HTTP_LOG_INFO,
	TRAP_HTTP_LOG_WARN,
	TRAP_HTTP_LOG_ERROR
};

/*
 * One accepted custom trap. sender: the client's IP (see above);
 * canonical/json: as documented in traps_custom.h. All valid during the
 * call only. Returns 0 (taken: the client gets 202), DUET_EBUSY (queue
 * full: 503, the client should retry) or another negative code (500).
 */
typedef int (*trap_http_on_trap_cb)(void *data, const char *sender, const char *canonical,
				    size_t canonical_len, const char *json, size_t json_len);
/* A line for the log; text valid during the call only. */
typedef void (*trap_http_log_cb)(void *data, int level, const char *text);
/* The server has been freed. */
typedef void (*trap_http_close_cb)(void *data);

/* ---- Routes ---------------------------------------------------------- */

struct trap_http_request {
	const char *method;        /* "GET", "POST", ... */
	const char *path;          /* as sent (no percent-decoding), without query */
	const char *query;         /* after '?', "" if none */
	const char *content_type;  /* NULL if absent */
	const char *authorization; /* NULL if absent */
	const uint8_t *body;       /* body_len bytes (decoded if chunked); not NUL-terminated */
	size_t body_len;
	const char *peer; /* the client's IP */
};

struct trap_http_response {
	int status;               /* 0 after the handler: 500 is sent */
	enum trap_http_drop drop; /* counted when not NONE */
	const char *content_type; /* static string, or NULL without body */
	char headers[160];        /* extra header lines, each ending in "\r\n" */
	char *body;               /* malloc()ed by the helpers; freed by the session */
	size_t body_len;
};

/* Sets status and a copy of body[0..len) with its content type. Returns 0
 * or DUET_ENOMEM. */
int trap_http_respond(struct trap_http_response *r, int status, const char *content_type,
		      const void *body, size_t len);
/* An error answer {"error":"<drop name>","detail":"<detail>"}; the drop is
 * counted by the session. detail may be NULL. Returns 0 or DUET_ENOMEM. */
int trap_http_respond_error(struct trap_http_response *r, int status, enum trap_http_drop drop,
			    const char *detail);

/* Called once per complete request whose method and path match; the body
 * has been read. Must set the response (through the helpers above). */
typedef void (*trap_http_handler)(void *data, const struct trap_http_request *req,
				  struct trap_http_response *resp);

#define TRAP_HTTP_ROUTE_AUTH      1u /* needs the bearer token, when one is configured */
#define TRAP_HTTP_ROUTE_JSON_BODY 2u /* needs a body (411) of application/json (415) */

struct trap_http_route {
	const char *method; /* exact, upper case: "GET" */
	const char *path;   /* exact: "/master" */
	unsigned flags;     /* TRAP_HTTP_ROUTE_* */
	trap_http_handler handler;
	void *data;
};

/* ---- Config ---------------------------------------------------------- */

struct trap_http_listen {
	const char *addr; /* "a.b.c.d:port" or "[v6]:port"; port 0 = ephemeral */
	bool tls;
};

struct trap_http_config {
	struct trap_http_listen listen[TRAP_HTTP_MAX_LISTEN];
	unsigned n_listen;
	const char *cert_file; /* PEM chain; needed when a listener has tls */
	const char *key_file;
	const char *bearer_token; /* NULL or "": no token needed */

	unsigned max_connections;    /* 0 = TRAP_HTTP_DEFAULT_MAX_CONNECTIONS */
	size_t max_header_bytes;     /* target + header names + values; 0 = default 8 KiB */
	size_t max_body_bytes;       /* 0 = default 256 KiB */
	uint32_t request_timeout_ms; /* 0 = default 10 s */
	uint32_t idle_timeout_ms;    /* 0 = default 30 s */
	struct trap_custom_limits custom;

	/* Routes besides the built-in POST /traps and GET /health (which they
	 * may not replace): at most TRAP_HTTP_MAX_ROUTES - 2. */
	const struct trap_http_route *routes;
	unsigned n_routes;
	/* true: no built-in route at all, only `routes` (up to
	 * TRAP_HTTP_MAX_ROUTES); on_trap is then not used and may be NULL. */
	bool no_builtin_routes;

	trap_http_on_trap_cb on_trap; /* required unless no_builtin_routes */
	trap_http_log_cb on_log;      /* may be NULL */
	void *data;                   /* passed to on_trap, on_log and the close callback */
};

/* ---- Router (shared by the sessions of one server) ---------------------- */

struct trap_http_router {
	/* private: read-only after init except stats */
	struct trap_http_route routes[TRAP_HTTP_MAX_ROUTES];
	unsigned n_routes;
	char token[TRAP_HTTP_MAX_TOKEN_BYTES + 1];
	size_t token_len; /* 0: no token */
	size_t max_header_bytes, max_body_bytes;
	struct trap_custom_limits custom;
	trap_http_on_trap_cb on_trap;
	trap_http_log_cb on_log;
	void *data;
	struct trap_http_stats stats;
	bool stopped; /* set by the server's close: sessions stop at once */
};

/*
 * Fills r from cfg (defaults applied; listeners, files and timeouts are not
 * looked at) with the built-in routes first (none with no_builtin_routes).
 * r must not move afterwards (the built-in routes point at it). Returns 0
 * or DUET_EINVAL (no on_trap while there are built-in routes, token too
 * long, too many routes, a route without method/path/handler, or two
 * routes with the same method and path), with a sentence in errbuf.
 */
int trap_http_router_init(struct trap_http_router *r, const struct trap_http_config *cfg,
			  char *errbuf, size_t errlen);

/* ---- Session: one connection's requests, driven from a buffer ----------- */

enum trap_http_session_state {
	TRAP_HTTP_SESSION_IDLE,       /* between requests: idle timeout applies */
	TRAP_HTTP_SESSION_IN_REQUEST, /* a request has begun: request timeout applies */
	TRAP_HTTP_SESSION_DONE,       /* last answer written: close (lingering) */
};

enum trap_http_session_event { TRAP_HTTP_EV_NONE, TRAP_HTTP_EV_HEADERS, TRAP_HTTP_EV_MESSAGE };

struct trap_http_header_value {
	char *buf; /* cap + 1 bytes inside the session */
	size_t len, cap;
	unsigned count; /* times the header appeared */
	bool overflow;  /* longer than cap */
};

struct trap_http_session {
	/* private */
	struct trap_http_router *router;
	http_parser parser;
	enum trap_http_session_state state;
	enum trap_http_session_event event;
	char peer[TRAP_HTTP_PEER_BYTES];
	uint64_t requests_begun;
	size_t header_bytes;
	bool header_overflow; /* over max_header_bytes: 431 once the headers end */
	bool headers_done;
	bool last_was_value;              /* a header field after a value starts a new header */
	bool head;                        /* this request is HEAD: answers carry no body */
	enum trap_http_drop pending_drop; /* refusal decided inside a parser callback */
	int pending_status;
	char url[TRAP_HTTP_MAX_URL_BYTES + 1];
	size_t url_len;
	bool url_overflow;
	const char *path, *query; /* into url, once the headers are judged */
	char field[32];
	size_t field_len;
	bool field_overflow;
	struct trap_http_header_value *capture; /* header being captured, or NULL */
	char content_type_buf[256 + 1], authorization_buf[TRAP_HTTP_MAX_TOKEN_BYTES + 32 + 1],
	    expect_buf[32 + 1];
	struct trap_http_header_value content_type, authorization, expect;
	const struct trap_http_route *route;
	uint8_t *body;
	size_t body_len, body_cap;
	uint8_t *out; /* answers not yet taken by the caller */
	size_t out_len, out_cap;
};

/* Starts a session for a client whose IP is `peer` (copied, may be NULL). */
void trap_http_session_init(struct trap_http_session *s, struct trap_http_router *router,
			    const char *peer);
/* Frees what the session allocated; s may be inited again. */
void trap_http_session_free(struct trap_http_session *s);

/*
 * Parses data[0..len): judges requests, calls handlers (and so on_trap),
 * appends answers to the output. Returns the bytes consumed: all of them
 * unless the session became DONE, after which input is ignored.
 */
size_t trap_http_session_feed(struct trap_http_session *s, const void *data, size_t len);

/* The request deadline passed: if a request is in progress, appends a 408
 * answer, counts it and returns 1 (the session is then DONE); else 0. */
int trap_http_session_expire(struct trap_http_session *s);

enum trap_http_session_state trap_http_session_state(const struct trap_http_session *s);
/* Requests begun so far (a new value means a new request deadline). */
uint64_t trap_http_session_requests_begun(const struct trap_http_session *s);

/* The answer bytes produced so far; the caller sends them, then calls
 * trap_http_session_output_clear(). */
const uint8_t *trap_http_session_output(const struct trap_http_session *s, size_t *len);
void trap_http_session_output_clear(struct trap_http_session *s);

/* ---- Server --------------------------------------------------------------- */

struct trap_http_server;

/*
 * Creates the server on `loop`: checks the config, loads the TLS files
 * when a listener needs them, binds and listens on every address. Returns
 * 0 with *out set, or a negative code with a sentence in errbuf (which
 * address or file, what to do). After a failure past the first listener,
 * handles already opened are being closed: run the loop once more before
 * uv_loop_close().
 */
int trap_http_new(uv_loop_t *loop, const struct trap_http_config *cfg,
		  struct trap_http_server **out, char *errbuf, size_t errlen);

/* The port listener i is bound to (useful after port 0), or -1. */
int trap_http_listen_port(const struct trap_http_server *s, unsigned i);

void trap_http_get_stats(const struct trap_http_server *s, struct trap_http_stats *out);

/*
 * Closes every listener and connection (open requests get no answer) and
 * frees the server once libuv has called every close callback; then calls
 * cb(cfg->data) (cb may be NULL). No other trap_http_* call on s after this.
 */
void trap_http_close(struct trap_http_server *s, trap_http_close_cb cb);

#endif
