/* SPDX-License-Identifier: MIT */
/*
 * fuzz_http_request.c - libFuzzer target for the HTTP trap receiver's
 * per-connection state machine (trap_http_session_*, traps_http.h): the
 * same code the server runs on each connection's bytes, without sockets.
 *
 * Input: one flags byte, then everything one connection sends. Flags pick
 * a bearer token, whether on_trap says "queue full" now and then, and how
 * the bytes are cut into reads. Checks:
 *  - no crash, leak or overread (sanitizers), every answer starts with
 *    "HTTP/1.1 ", input is consumed up to the end of the session;
 *  - the answers, the traps handed over and the counters are the same
 *    whether the bytes arrive at once or in small pieces at arbitrary
 *    boundaries (what a TCP stream may do);
 *  - a trap handed to on_trap has canonical bytes that validate again to
 *    themselves.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "duet/err.h"
#include "duet/traps_http.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct run {
	unsigned calls, accepted;
	bool busy_sometimes;
	uint32_t trap_hash; /* over sender and canonical bytes of every trap taken */
	uint8_t *out;
	size_t out_len, out_cap;
};

static int on_trap(void *data, const char *sender, const char *canonical, size_t canonical_len,
		   const char *json, size_t json_len)
{
	struct run *r = data;
	r->calls++;
	if (r->busy_sometimes && r->calls % 3 == 2)
		return DUET_EBUSY;
	struct trap_custom_result again;
	FUZZ_CHECK(trap_custom_parse(canonical, canonical_len, NULL, &again) == 0);
	FUZZ_CHECK(again.canonical_len == canonical_len &&
		   memcmp(again.canonical, canonical, canonical_len) == 0);
	trap_custom_result_free(&again);
	FUZZ_CHECK(json_len > canonical_len);
	for (size_t i = 0; i < canonical_len; i++)
		r->trap_hash = r->trap_hash * 31 + (uint8_t)canonical[i];
	for (const char *p = sender; *p; p++)
		r->trap_hash = r->trap_hash * 31 + (uint8_t)*p;
	r->accepted++;
	return 0;
}

static void take_output(struct trap_http_session *s, struct run *r)
{
	size_t len;
	const uint8_t *o = trap_http_session_output(s, &len);
	if (len) {
		if (r->out_len + len > r->out_cap) {
			size_t cap = (r->out_len + len) * 2;
			r->out = realloc(r->out, cap);
			FUZZ_CHECK(r->out != NULL);
			r->out_cap = cap;
		}
		memcpy(r->out + r->out_len, o, len);
		r->out_len += len;
	}
	trap_http_session_output_clear(s);
}

/* Feeds data in pieces of step bytes (0: at once), then the deadline. */
static void drive(struct trap_http_router *router, const uint8_t *data, size_t size, size_t step,
		  unsigned seed)
{
	struct trap_http_session s;
	trap_http_session_init(&s, router, "192.0.2.1");
	size_t used = 0;
	while (used < size) {
		size_t n = size - used;
		if (step) { /* vary the piece sizes: 1..step */
			seed = seed * 1103515245u + 12345u;
			size_t want = 1 + (seed >> 16) % step;
			if (n > want)
				n = want;
		}
		size_t took = trap_http_session_feed(&s, data + used, n);
		FUZZ_CHECK(took <= n);
		take_output(&s, router->data);
		if (took < n) {
			FUZZ_CHECK(trap_http_session_state(&s) == TRAP_HTTP_SESSION_DONE);
			break;
		}
		used += n;
	}
	trap_http_session_expire(&s);
	take_output(&s, router->data);
	trap_http_session_free(&s);
}

static void make_router(struct trap_http_router *router, struct run *run, uint8_t flags)
{
	struct trap_http_config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.on_trap = on_trap;
	cfg.data = run;
	cfg.bearer_token = (flags & 1) ? "tok" : NULL;
	cfg.max_header_bytes = 1024;
	cfg.max_body_bytes = 4096;
	run->busy_sometimes = (flags & 2) != 0;
	char err[200];
	FUZZ_CHECK(trap_http_router_init(router, &cfg, err, sizeof err) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t flags = data[0];
	data++;
	size--;
	static struct trap_http_router whole_router, split_router;
	struct run whole = {0}, split = {0};
	make_router(&whole_router, &whole, flags);
	make_router(&split_router, &split, flags);
	drive(&whole_router, data, size, 0, 0);
	drive(&split_router, data, size, 1 + (flags >> 2) % 24, flags);

	if (whole.out_len)
		FUZZ_CHECK(whole.out_len >= 9 && memcmp(whole.out, "HTTP/1.1 ", 9) == 0);
	FUZZ_CHECK(whole.out_len == split.out_len);
	FUZZ_CHECK(whole.out_len == 0 || memcmp(whole.out, split.out, whole.out_len) == 0);
	FUZZ_CHECK(whole.calls == split.calls && whole.accepted == split.accepted);
	FUZZ_CHECK(whole.trap_hash == split.trap_hash);
	FUZZ_CHECK(memcmp(&whole_router.stats, &split_router.stats, sizeof whole_router.stats) ==
		   0);
	FUZZ_CHECK(whole_router.stats.traps_accepted == whole.accepted);
	free(whole.out);
	free(split.out);
	return 0;
}
