/* SPDX-License-Identifier: MIT */
/*
 * loop.h - one uv loop per test and the helpers every pg test shares:
 * run the loop until a predicate holds or a deadline passes (no sleeps),
 * drive one duet_pg operation to its callback, and a "silent" TCP listener
 * that accepts connections and never says a word (a hung server).
 */
#ifndef DUET_TEST_PG_LOOP_H
#define DUET_TEST_PG_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "duet/pg.h"

extern uv_loop_t *tl_loop;

void tl_setup(void);    /* a fresh loop */
void tl_teardown(void); /* closes what a failed test left, checks no handle remains */

/* true if pred(arg) held before timeout_ms of loop time. */
bool tl_run_until(bool (*pred)(void *), void *arg, unsigned timeout_ms);

/* What a callback delivered. */
struct tl_result {
	int calls; /* must end at exactly 1 */
	int rc;
	char err[256];
	bool has_state;
	struct duet_pg_state st;
};
void tl_probe_cb(void *data, int rc, const struct duet_pg_state *st, const char *err);
void tl_done_cb(void *data, int rc, const char *err);
bool tl_called(void *result); /* predicate: calls > 0 */

/* A module on tl_loop for conninfo (asserts success). */
struct duet_pg *tl_pg_new(const char *conninfo, uint32_t timeout_ms);
/* duet_pg_close and run until closed() (asserts it is called once). */
void tl_pg_close(struct duet_pg *pg);

/* Queue one operation and run the loop until its callback (asserts the
 * callback was not made from inside the call and comes within wait_ms). */
int tl_probe(struct duet_pg *pg, struct tl_result *r, unsigned wait_ms);
int tl_set_sync(struct duet_pg *pg, const char *name, struct tl_result *r, unsigned wait_ms);
int tl_promote(struct duet_pg *pg, uint32_t secs, struct tl_result *r, unsigned wait_ms);

/* The repl row for application_name, or NULL. */
const struct duet_pg_repl *tl_repl(const struct duet_pg_state *st, const char *name);

/* A TCP port on 127.0.0.1 that was free a moment ago. */
int tl_free_port(void);

#define TL_SILENT_MAX 32
struct tl_silent {
	uv_tcp_t server;
	uv_tcp_t clients[TL_SILENT_MAX];
	int n_clients;
	int port;
};
void tl_silent_start(struct tl_silent *s); /* listens on 127.0.0.1:0 */
void tl_silent_stop(struct tl_silent *s);  /* closes listener and clients */

#endif
