/* SPDX-License-Identifier: MIT */
/*
 * fixture.h - what the trap sink tests share: one uv loop per test, a sink
 * on it whose confirmations and log lines are recorded, records made to
 * order (ids "r<k>", k counting from 0 across batches), and a TCP line
 * server on 127.0.0.1 (libuv, on the same loop) that keeps, per accepted
 * connection, the ids of the complete lines it read, in order. The server
 * can stop reading a connection (a sink that stalls) and half-close it (a
 * sink that hangs up mid-stream); with reading off from the start it is a
 * silent listener. It acknowledges what it read the way traps_sink.h says
 * ({"ack":"<id>"} lines, made with jansson): each line, or only the last
 * line of each read (cumulative), or not at all, and it can reset a
 * connection (a receiver that dies). Nothing sleeps: fx_run_until drives the loop until a
 * predicate holds; its deadline only catches hangs.
 */
#ifndef DUET_TEST_TRAPS_SINK_FIXTURE_H
#define DUET_TEST_TRAPS_SINK_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "duet/traps_sink.h"

#define FX_WAIT_MS      30000 /* only to catch a hang */
#define FX_MAX_CONFIRMS 8192
#define FX_MAX_CONNS    16
#define FX_LINE_BYTES   8192

extern uv_loop_t *fx_loop;

void fx_setup(void);    /* a fresh loop */
void fx_teardown(void); /* closes sink and server, checks that no handle is left */

bool fx_run_until(bool (*pred)(void *), void *arg, unsigned timeout_ms);

/* A TCP port on 127.0.0.1 that was free a moment ago (also used by
 * tests/unit/pg/cluster.c). */
int tl_free_port(void);

/* ---- the sink ---------------------------------------------------------------- */

struct fx_sink {
	struct duet_trap_sink *sink;
	uint64_t tags[FX_MAX_CONFIRMS];        /* confirmed, in the order on_confirm came */
	uint64_t connects_at[FX_MAX_CONFIRMS]; /* stats.connects when each came */
	size_t n_confirmed;
	bool in_call;            /* set around submit and reset */
	bool confirmed_inside;   /* on_confirm came from inside one: a bug */
	size_t close_at_confirm; /* close the sink from the n-th on_confirm (0: never) */
	unsigned logs[4];        /* by level */
	char last_log[4][400];   /* by level */
	bool closed;
};

extern struct fx_sink fx;

/* A config with the fixture's callbacks and short retries (10..50 ms). */
struct duet_sink_config fx_config(int type);
/* duet_sink_new on fx_loop (asserts success). */
void fx_sink_new(const struct duet_sink_config *cfg);
/* duet_sink_close and run until closed() (asserts it is called). */
void fx_sink_close(void);
/* duet_sink_close only (closed() sets fx.closed later). */
void fx_sink_close_async(void);

/* Submits batch `tag` of n records with ids r<first>..r<first+n-1>, each
 * payload {"n":k,"pad":"xx.."} padded to about pad bytes. Returns submit's rc. */
int fx_submit(uint64_t tag, unsigned first, unsigned n, size_t pad);
struct duet_sink_stats fx_stats(void);

/* Predicates over fx. */
bool fx_confirmed_at_least(void *n); /* (size_t *) */
bool fx_errors_at_least(void *n);    /* (uint64_t *) stats.errors */
/* Asserts the confirmed tags are exactly 0..n-1 in order. */
void fx_assert_confirmed_in_order(size_t n);

/* ---- the line server ---------------------------------------------------------- */

struct fx_conn {
	uv_tcp_t h;
	uv_shutdown_t shutdown;
	bool open, reading, eof, hung_up;
	uint32_t *ids; /* complete lines: the k of "r<k>" (UINT32_MAX: no such id) */
	size_t n_ids, cap_ids;
	char *partial; /* bytes after the last '\n' */
	size_t partial_len, partial_cap;
	char first_line[FX_LINE_BYTES];
	char last_id[FX_LINE_BYTES]; /* the id of the last complete line, "" if none */
	uint64_t bytes;
	uint64_t acks_sent;
	bool ack_due; /* a line read since the last ack */
};

enum fx_ack_mode {
	FX_ACK_EACH = 0, /* one ack per line read (the default) */
	FX_ACK_LAST,     /* one ack per read, naming its last line (cumulative) */
	FX_ACK_NONE,     /* never */
};

struct fx_server {
	uv_tcp_t listener;
	bool listening;
	int port;
	struct fx_conn conns[FX_MAX_CONNS];
	int n_conns;
	int read_from;          /* connections with index < read_from are never read */
	size_t pause_after_ids; /* stop reading connection 0 after this many lines (0: never) */
	enum fx_ack_mode ack;
	int ack_from; /* connections with index < ack_from never acknowledge */
};

extern struct fx_server fx_srv;

/* Listens on 127.0.0.1:port (0: any); returns the port. */
int fx_server_start(int port);
/* Stops reading (stalls the sender) / starts again. */
void fx_conn_read(struct fx_conn *c, bool on);
/* Half-closes the connection (FIN) and reads it to its end. */
void fx_conn_hang_up(struct fx_conn *c);
/* Closes the connection with a reset (RST): a receiver that died. */
void fx_conn_reset(struct fx_conn *c);
/* Writes text (a line of the receiver's own) on the connection. */
void fx_conn_send(struct fx_conn *c, const char *text);

bool fx_server_conns_at_least(void *n); /* (int *) */

/* "127.0.0.1:port" in a static buffer. */
const char *fx_addr(int port);

#endif
