/* SPDX-License-Identifier: MIT */
/*
 * fixture.h - what the HTTP trap receiver's socket tests share: one uv
 * loop per test, a server on 127.0.0.1 (plain and TLS listeners, a
 * self-signed certificate made per test), the real `curl` run as a child
 * process on the same loop, raw TCP clients for malformed input, and
 * fx_run_until(): drive the loop until a predicate holds or a deadline of
 * loop time passes. Nothing sleeps; deadlines are generous and only catch
 * hangs (tests never assert on speed).
 */
#ifndef DUET_TEST_TRAPS_HTTP_FIXTURE_H
#define DUET_TEST_TRAPS_HTTP_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "duet/traps_http.h"

#define FX_WAIT_MS 20000 /* only to catch a hang */

extern uv_loop_t *fx_loop;

void fx_setup(void);    /* loop, temp dir, certificate */
void fx_teardown(void); /* closes the server, checks no handle is left */

/* true if pred(arg) held before timeout_ms of loop time. */
bool fx_run_until(bool (*pred)(void *), void *arg, unsigned timeout_ms);

/* A file in the test's temp dir (slot: 0..7, each its own buffer). */
const char *fx_path(int slot, const char *name);

/* ---- the server ------------------------------------------------------- */

struct fx_trap {
	char sender[64];
	char canonical[8192];
	size_t canonical_len;
	char json[8300];
	size_t json_len;
};

struct fx_server {
	struct trap_http_server *srv;
	int port;           /* plain listener */
	int tls_port;       /* TLS listener, when started with tls */
	int busy;           /* on_trap answers DUET_EBUSY while set */
	bool close_in_trap; /* on_trap closes the server (and takes the trap) */
	unsigned n_traps;
	struct fx_trap traps[8]; /* the first 8 */
	bool closed;
};

extern struct fx_server fx_srv;

/* A config with a plain listener on 127.0.0.1:0 (and a TLS one if tls),
 * the fixture's callbacks and test-sized limits. */
struct trap_http_config fx_config(bool tls);
void fx_server_start(const struct trap_http_config *cfg);
struct trap_http_stats fx_stats(void);

/* ---- curl ---------------------------------------------------------------- */

struct fx_curl {
	uv_process_t proc;
	uv_pipe_t out;
	int open_handles;
	bool exited, eof;
	int64_t exit_status;
	char buf[16384];
	size_t len;
	int http_code;    /* from -w, after fx_curl_run */
	const char *body; /* inside buf, NUL-terminated, after fx_curl_run */
};

/*
 * Runs `/usr/bin/curl -sS --noproxy * --max-time 30 -w "\n%{http_code}" ARGS...`
 * (args NULL-terminated) and drives the loop until it has exited; asserts
 * that it did. Sets http_code (0 if no answer) and body.
 */
void fx_curl(struct fx_curl *c, const char *const *args);

/* ---- raw TCP client ----------------------------------------------------- */

struct fx_raw {
	uv_tcp_t tcp;
	uv_connect_t creq;
	bool connected, eof, closed, failed;
	char buf[65536];
	size_t len;
};

void fx_raw_connect(struct fx_raw *r, int port); /* waits until connected */
void fx_raw_send(struct fx_raw *r, const void *data, size_t len);
void fx_raw_close(struct fx_raw *r); /* waits until closed: r may be reused */
/* Waits until the client's input contains `text` (true) or the deadline. */
bool fx_raw_wait_for(struct fx_raw *r, const char *text);
/* Waits until the server closed the connection (EOF or reset). */
bool fx_raw_wait_eof(struct fx_raw *r);
/* Times `needle` occurs in what the client received. */
int fx_raw_count(const struct fx_raw *r, const char *needle);

#endif
