/* SPDX-License-Identifier: MIT */
/*
 * sink_internal.h - what the sink files share and traps_sink.h does not
 * publish: the module's state, the queue of batches and the interface
 * between the common part (sink.c: queue, in-order confirmation, backoff,
 * logging, close) and the transports (sink_tcp.c, sink_pg.c, sink_relp.c).
 *
 * The split of work:
 *
 *   common    owns the batches and the link state machine
 *                 DOWN --connect()--> CONNECTING --sink_link_up()--> UP
 *                 CONNECTING or UP --sink_link_failed()--> WAIT
 *                 WAIT --retry timer--> CONNECTING (reconnects++)
 *             and calls on_confirm, always from its zero-delay kick timer.
 *   transport connects, takes batches with sink_next_unsent(), marks them
 *             delivered with sink_batch_delivered(), and reports a lost
 *             connection with sink_link_failed() once its connection is
 *             gone (handles closed or detached), never before.
 *
 * A transport that keeps pointers into a batch's memory (TCP: the uv_write
 * buffer) holds it (sink_batch_hold / sink_batch_release): a batch that is
 * reset while held waits in a limbo list until released.
 */
#ifndef DUET_TRAPS_SINK_INTERNAL_H
#define DUET_TRAPS_SINK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "duet/traps_sink.h"

#define SINK_ERR_BYTES 160 /* = sizeof stats.last_error */

struct sink_batch {
	struct sink_batch *next;
	uint64_t tag;
	size_t n_records;
	size_t len;     /* bytes in data: n lines, each ending in '\n' */
	unsigned sends; /* times handed to a connection (more than 1: resent) */
	bool delivered; /* the transport says it reached the sink */
	bool forgotten; /* reset while held: freed on the last release */
	unsigned holds;
	char data[]; /* the formatted lines */
};

struct duet_trap_sink;

struct sink_transport {
	const char *name; /* "tcp", "postgresql", "relp" */
	/* Allocates s->impl from s->cfg; DUET_EINVAL with a sentence in err. */
	int (*init)(struct duet_trap_sink *s, char *err, size_t errlen);
	/* Starts a connection attempt (link is CONNECTING). */
	void (*connect)(struct duet_trap_sink *s);
	/* Batches were queued (link may be in any state). */
	void (*pump)(struct duet_trap_sink *s);
	/* duet_sink_reset() dropped the queue: forget pointers into it. */
	void (*forget)(struct duet_trap_sink *s);
	/* Closes everything and calls sink_transport_closed() once done (may
	 * be from inside this call); frees s->impl. */
	void (*close)(struct duet_trap_sink *s);
	/* Adds the transport's own keys to the stats object; 0 or DUET_ENOMEM.
	 * May be NULL. */
	int (*stats)(const struct duet_trap_sink *s, json_t *doc);
};

extern const struct sink_transport sink_tcp_transport;
extern const struct sink_transport sink_pg_transport;
extern const struct sink_transport sink_relp_transport;

enum sink_link { LINK_DOWN, LINK_CONNECTING, LINK_UP, LINK_WAIT };

struct duet_trap_sink {
	uv_loop_t *loop;
	struct duet_sink_config cfg; /* strings point at the copies below */
	char *address;
	char *conninfo;
	char table[DUET_SINK_TABLE_MAX + 1];
	char target[128]; /* for messages: "tcp 127.0.0.1:9000", "postgresql 10.0.0.5:5432" */
	const struct sink_transport *tr;
	void *impl;

	/* the queue: every batch not yet confirmed, in submit order */
	struct sink_batch *head, *tail;
	struct sink_batch *cursor; /* first batch not yet sent on this connection */
	struct sink_batch *limbo;  /* reset while held */
	size_t queued_bytes;

	enum sink_link link;
	unsigned failures; /* in a row: the backoff exponent */
	uint64_t rng;
	uv_timer_t kick;  /* zero delay: confirm, start connecting, pump */
	uv_timer_t retry; /* backoff */

	/* error log rate limit */
	char last_logged[SINK_ERR_BYTES];
	uint64_t last_logged_ms;
	unsigned suppressed;

	bool closing;
	unsigned open; /* kick, retry, transport */
	void (*closed)(void *data);
	void *closed_data;
	struct duet_sink_stats stats;
};

/* ---- For the transports (sink.c) ------------------------------------------ */

/* The next batch to send on this connection (skips empty and delivered
 * ones), taken: the cursor moves past it; NULL if none. */
struct sink_batch *sink_next_unsent(struct duet_trap_sink *s);
/* Like sink_next_unsent without taking it. */
struct sink_batch *sink_peek_unsent(struct duet_trap_sink *s);
void sink_batch_hold(struct sink_batch *b);
void sink_batch_release(struct duet_trap_sink *s, struct sink_batch *b);
/* b reached the sink; confirmations follow from the kick timer, in order. */
void sink_batch_delivered(struct duet_trap_sink *s, struct sink_batch *b);

void sink_link_up(struct duet_trap_sink *s);
/* The connection is gone: count, log, rewind the queue, wait, reconnect.
 * level: DUET_SINK_LOG_WARN or DUET_SINK_LOG_ERROR. */
void sink_link_failed(struct duet_trap_sink *s, int level, const char *why);
void sink_transport_closed(struct duet_trap_sink *s);

__attribute__((format(printf, 3, 4))) void sink_log(struct duet_trap_sink *s, int level,
						    const char *fmt, ...);
/* snprintf where cutting a long message short is intended. */
__attribute__((format(printf, 3, 4))) void sink_msgf(char *dst, size_t cap, const char *fmt, ...);

/* ---- The stream transports' connection (sink_stream.c) ------------------------
 *
 * What the TCP and RELP transports share: one connection object per attempt
 * over a numeric address, TCP_NODELAY and keepalive, one deadline timer, the
 * read buffer, and the order of the end: a failing connection is detached at
 * once (the next attempt shares nothing with it), closed, and reported with
 * sink_link_failed() only from its close callback, after libuv has called back
 * every write on it. The transport says what is sent and when it is done,
 * and words every failure; the stream part owns the handles.
 *
 * A transport's state struct begins with a struct sink_stream and its
 * connection struct with a struct sink_stream_conn; both are allocated with
 * malloc/calloc and freed here.
 */
#define SINK_STREAM_READ_BYTES 4096

/* The kinds of end the stream part itself finds; a transport's own kinds
 * are >= 0, SINK_STREAM_OWN_CLOSE is a close of our own (not an error). */
enum {
	SINK_STREAM_OWN_CLOSE = -1,
	SINK_STREAM_CONNECT = -2, /* refused, unreachable, no socket op */
	SINK_STREAM_BROKEN = -3,  /* reset, read error */
};

struct sink_stream;

struct sink_stream_conn {
	uv_tcp_t handle; /* handle.data = this */
	uv_connect_t connect_req;
	struct sink_stream *st;
	bool up;         /* connected and reading */
	bool failing;    /* detached and closing */
	unsigned writes; /* uv_writes in flight (the transport counts them) */
	int level;
	char why[SINK_ERR_BYTES];
	char rbuf[SINK_STREAM_READ_BYTES];
};

struct sink_stream_ops {
	/* Connected and reading. */
	void (*connected)(struct sink_stream_conn *c);
	/* Bytes the receiver sent (never on a failing connection). */
	void (*bytes)(struct sink_stream_conn *c, const char *p, size_t n);
	/* The receiver closed its side: fail c with the transport's words. */
	void (*hung_up)(struct sink_stream_conn *c);
	/* The deadline ran out on the current connection: fail it. */
	void (*timed_out)(struct sink_stream_conn *c);
	/* c starts failing with `kind` (a transport's, or SINK_STREAM_*): count
	 * it; c is already detached. May be NULL. */
	void (*failing)(struct sink_stream_conn *c, int kind);
	/* c is closed: release what it holds (not c itself). */
	void (*released)(struct sink_stream_conn *c);
};

struct sink_stream {
	struct duet_trap_sink *s;
	const struct sink_stream_ops *ops;
	struct sockaddr_storage sa;
	struct sink_stream_conn *conn; /* the current attempt, NULL when none */
	uv_timer_t deadline;
	bool closing, timer_closed;
	unsigned open; /* deadline timer + connections not yet closed */
	uint64_t bytes_read;
};

/* Sets st up for s (address from s->cfg.address, already checked) and
 * makes st s->impl. 0, or DUET_EINVAL. */
int sink_stream_init(struct sink_stream *st, struct duet_trap_sink *s,
		     const struct sink_stream_ops *ops);
/* Starts the attempt c (allocated by the transport, zeroed but for its own
 * fields): on 0 c is st->conn and the stream part owns it (a connect that
 * fails at once fails c, reported as any other); on an error c is
 * untouched and still the caller's. */
int sink_stream_connect(struct sink_stream *st, struct sink_stream_conn *c);
/* Detaches and closes c, once; kind as in ops->failing. */
__attribute__((format(printf, 4, 5))) void sink_stream_fail(struct sink_stream_conn *c, int kind,
							    int level, const char *fmt, ...);
/* The deadline: runs out ms from now / stopped. */
void sink_stream_arm(struct sink_stream *st, unsigned ms);
void sink_stream_disarm(struct sink_stream *st);
/* The transport's close: from now on nothing is reported; once the current
 * connection is gone (the transport fails it, now or after a goodbye) and
 * the timer closed, st is freed and sink_transport_closed() called. */
void sink_stream_close(struct sink_stream *st);

/* A JSON string of s; bytes that are not UTF-8 become '?' (an error may
 * quote what a receiver sent). A new reference, NULL when out of memory. */
json_t *sink_json_text(const char *s);

/* ---- Formatting (sink_format.c) ---------------------------------------------- */

/* Checks a record as duet_sink_submit does: 0 or DUET_EINVAL. */
int sink_record_check(const struct duet_sink_record *rec);
/* Exact formatted length of a checked record, with its '\n'. */
size_t sink_record_len(const struct duet_sink_record *rec);
/* Writes a checked record (sink_record_len bytes) at out; returns the bytes. */
size_t sink_record_write(const struct duet_sink_record *rec, char *out);
/* Writes s as a JSON string with quotes into buf, snprintf-like (for the
 * stats); returns the length needed. */
size_t sink_json_string(char *buf, size_t cap, const char *s);

/* ---- PostgreSQL texts (sink_pg_text.c) -------------------------------------- */

/* Checks conninfo (DUET_EINVAL with libpq's reason in errbuf) and writes
 * "host:port/dbname" for messages into target. */
int sink_pg_describe(const char *conninfo, char *target, size_t cap, char *errbuf, size_t errlen);
/* The setup, INSERT and dead-letter INSERT ($1 id, $2 SQLSTATE, $3
 * message, $4 the record as bytea) statements for a checked table name. */
void sink_pg_sql(const char *table, char *setup, size_t setup_cap, char *insert, size_t insert_cap,
		 char *dead_insert, size_t dead_cap);
/* Appends b's records to the INSERT's JSON array, each followed by ','
 * (at most b->len bytes); returns the bytes written. */
size_t sink_pg_param_append(char *out, const struct sink_batch *b);
/* The same for len bytes of lines (one record without its '\n' gives the
 * record alone). */
size_t sink_pg_lines_append(char *out, const char *data, size_t len);
/* Is an INSERT refused with this SQLSTATE refused because of a record, so
 * that sending it again can never succeed (a dead letter)? */
bool sink_pg_refused_for_good(const char *sqlstate);
/* "<table>_dead" (the table cut to 58 bytes), the dead letters' table. */
void sink_pg_dead_table(const char *table, char *out, size_t cap);
/* The id of one formatted record (its line, without '\n'): 0, or
 * DUET_EINVAL if the line does not start with a decodable id. */
int sink_pg_record_id(const char *line, size_t len, char *id, size_t cap);

/* ---- RELP texts (sink_relp_text.c) ------------------------------------------ */

#define SINK_RELP_SD_ID "duet@32473" /* the SD-ID of the id in every message */

/* The offers of the RELP sink's "open" (relp_version, relp_software,
 * commands=syslog), without a trailing LF. */
extern const char sink_relp_open_offers[];

/* The syslog message of one formatted record line. */
struct sink_relp_msg {
	char id[DUET_SINK_ID_MAX];
	char esc[2 * DUET_SINK_ID_MAX]; /* the id as an RFC 5424 PARAM-VALUE */
	size_t esc_len;
	const char *line; /* the record's line, without '\n' (not owned) */
	size_t line_len;
	bool dead;  /* longer than max: the notice goes instead */
	size_t len; /* bytes sink_relp_msg_write() writes */
	char notice[512];
};

/* Works out the message of line[0..len) for a limit of max bytes (at
 * least DUET_SINK_RELP_MAX_MSG_MIN: the notice always fits). */
void sink_relp_msg_init(struct sink_relp_msg *m, const char *line, size_t len, size_t max);
/* Writes its m->len bytes at out. */
void sink_relp_msg_write(const struct sink_relp_msg *m, char *out);

/* ---- Host names of the PostgreSQL conninfo (sink_pg_resolve.c) -------------- */

#define SINK_PG_MAX_HOSTS  16 /* host entries in a conninfo */
#define SINK_PG_MAX_ADDRS  8  /* addresses of one name handed to libpq */
#define SINK_PG_LIST_BYTES (SINK_PG_MAX_HOSTS * SINK_PG_MAX_ADDRS * 47)

struct sink_pg_lookup;

/* The host entries of a conninfo and, after sink_pg_hosts_resolve(), the
 * host, hostaddr and port lists to hand libpq instead (n_hosts 0: pass
 * the conninfo as it is, libpq resolves nothing). */
struct sink_pg_hosts {
	char *hosts[SINK_PG_MAX_HOSTS];
	size_t n_hosts;
	const char *ports; /* the port option as given, NULL if unset (not owned) */
	char host_list[2 * SINK_PG_LIST_BYTES];
	char hostaddr_list[SINK_PG_LIST_BYTES];
	char port_list[SINK_PG_MAX_HOSTS * SINK_PG_MAX_ADDRS * 8]; /* "" when ports is NULL */
	/* the lookups in progress */
	struct sink_pg_lookup *lookup;
	size_t next, n_entries;
	uv_loop_t *loop;
	void (*done)(void *data, int level, const char *why);
	void *data;
};

/* Takes the conninfo's host, hostaddr, service and port values (NULL or
 * "" when unset; PGHOST and PGHOSTADDR as libpq reads them). 0,
 * DUET_EINVAL (too many hosts, a sentence in errbuf) or DUET_ENOMEM. */
int sink_pg_hosts_init(struct sink_pg_hosts *h, const char *host, const char *hostaddr,
		       const char *service, const char *ports, char *errbuf, size_t errlen);
/* Resolves every name in libuv's thread pool, one after the other, and
 * calls done(data, 0, NULL) once the lists are ready, or done(data, level,
 * why) on a failure; possibly from inside this call. */
void sink_pg_hosts_resolve(struct sink_pg_hosts *h, uv_loop_t *loop,
			   void (*done)(void *data, int level, const char *why), void *data);
/* Forgets a lookup in progress (done is not called for it). */
void sink_pg_hosts_abandon(struct sink_pg_hosts *h);
/* The name being looked up, for messages. */
const char *sink_pg_hosts_current(const struct sink_pg_hosts *h);
void sink_pg_hosts_free(struct sink_pg_hosts *h);

#endif
