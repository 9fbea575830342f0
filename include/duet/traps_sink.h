/* SPDX-License-Identifier: MIT */
/*
 * traps_sink.h - where committed traps go (DESIGN.md 5): a TCP sink that
 * takes JSON lines, a PostgreSQL table, or RELP into rsyslog. The master hands over the traps
 * of each committed TRAPS entry as one batch, in log order; the module
 * delivers every batch, in order, through disconnects, restarts and
 * timeouts, and says when each batch has reached the sink (on_confirm),
 * so the master can record DELIVERED.
 *
 * ---- Records ---------------------------------------------------------------
 *
 * Every trap becomes one JSON object (one line for TCP, one row for
 * PostgreSQL):
 *
 *   {"id":"...","kind":"syslog"|"snmp"|"custom","sender":"...","receiver":"...",
 *    "recv_ms":N,"ordinal":N,"identity":"<64 hex>","trap":<payload>}
 *
 * id, sender and receiver are escaped as JSON strings (", \, control bytes;
 * a byte that is not part of valid UTF-8 becomes \ufffd). The payload (the
 * decoder's JSON) goes in verbatim, except that raw CR and LF bytes become
 * spaces: in valid JSON they can only be whitespace between tokens, and a
 * record must stay one line. The module does not parse the payload.
 *
 * ---- Delivery ----------------------------------------------------------------
 *
 * Batches queue in submit order (at most max_queued_bytes: the formatted
 * records plus a small fixed overhead per batch; past that submit returns
 * DUET_EBUSY and takes nothing). The
 * module keeps one connection and reconnects after any failure (refused,
 * reset, closed by the sink, deadline, a PostgreSQL error or restart) with
 * exponential backoff from retry_min_ms to retry_max_ms, each wait drawn at
 * random from [d/2, d]; then it sends every unconfirmed batch again from
 * the first one. Nothing submitted is dropped, except by duet_sink_reset().
 * A record may therefore reach the sink more than once; the id is stable
 * (chosen by the caller from the log position) so the sink ignores the
 * repeat (DESIGN 5: PostgreSQL by ON CONFLICT, a TCP sink by the id; RELP
 * has no idempotency key, so an rsyslog downstream drops repeats by the id
 * or keeps them).
 *
 * A batch is confirmed
 *   - TCP: when the receiver acknowledged every record of it (see
 *     "Acknowledgements"); with without_acks, when uv_write() reported all
 *     its bytes handed to the local kernel (at most once: see below);
 *   - PostgreSQL: when the INSERT statement that carried it has committed;
 *   - RELP: when every record of it got "rsp 200" (see "RELP").
 * Confirmations come strictly in submit order, each batch exactly once
 * (an empty batch, n == 0, is confirmed when every earlier one is), from a
 * loop callback: never from inside duet_sink_submit(). on_confirm may call
 * any function of this module, duet_sink_close() included.
 *
 * TCP: after a disconnect the last line of the old connection may be cut
 * short: a sink must discard an unterminated last line; that record is
 * sent again in full on the next connection. At most 1 MiB of batches is
 * outstanding at a time, written and not yet acknowledged (a bigger batch
 * goes alone). Deadlines: connecting, and progress while writes or
 * acknowledgements are outstanding (no write completing and no ack
 * advancing for timeout_ms: a receiver that stopped reading, or that reads
 * and never acknowledges, is a failed connection: counted, logged,
 * reconnected with backoff, nothing confirmed). TCP keepalive is on.
 *
 * ---- RELP -------------------------------------------------------------------
 *
 * type DUET_SINK_RELP, address numeric like TCP: a RELP session to
 * rsyslog's imrelp (traps/sink_relp.c, a libuv client of its own over
 * traps_relp_frame.h; librelp's client blocks and does not say which
 * message was acknowledged). "open" offers relp_version=0,
 * relp_software=duet,<version>, commands=syslog, and the server must offer
 * commands=syslog back. Each record is one "syslog" command whose message
 * is RFC 5424, "<134>1 - - duet - - [duet@32473 id="<id>"] " and the
 * record's JSON line (without LF). At most relp_window commands await
 * their rsp; each rsp is matched by TXNR. An rsp other than 200, a
 * "serverclose", a frame that is not RELP or names a TXNR not in flight,
 * EOF or a reset, or no rsp for timeout_ms while commands are in flight
 * fails the connection (counted by kind in the stats' "relp_errors");
 * every unconfirmed batch goes again whole on the next one: AT LEAST
 * ONCE, the resent records counted ("records_resent"). A record whose
 * message is longer than relp_max_message_bytes is a dead letter: a short
 * notice "<131>1 - - duet - - [duet@32473 id="<id>" dead_letter="too_big"
 * bytes="N"] ..." goes in its place, dead_letters counts it (once, when
 * its batch is first taken from the queue), it is logged at ERROR, and
 * the batch completes. On
 * close an open session sends "close" and waits up to 1 s for its rsp.
 *
 * ---- Acknowledgements (TCP) --------------------------------------------------
 *
 * At-least-once needs the receiver to say what it has taken: bytes in the
 * local kernel say nothing about a receiver that accepts and dies before
 * reading. So, unless without_acks, the receiver writes back, on the same
 * connection, one line
 *
 *   {"ack":"<id>"}\n
 *
 * once it has taken (stored, forwarded: whatever it promises) the record
 * with that id, and may acknowledge several at once: an ack covers the
 * record it names and every record sent before it on this connection
 * (cumulative; one ack per record is the simplest receiver). The id is the
 * record's "id" value as a JSON string (any JSON spelling of it). A batch
 * is confirmed once every record of it is acknowledged. Acknowledgements
 * count per connection: after a reconnect every unconfirmed batch is sent
 * again, a half-acknowledged one whole, and acknowledged again by the
 * receiver, which ignores a repeat by its id (but acks it). A line from the
 * receiver that is not such an object (blank lines aside; at most 1 KiB),
 * or that names an id not outstanding on the connection, fails the
 * connection (logged at ERROR, ack_errors in the stats).
 *
 * without_acks (config [sink] ack = none) is for a receiver that cannot
 * acknowledge: whatever it sends is read and discarded and a batch is
 * confirmed when it was written to the local kernel. That is AT MOST ONCE:
 * a receiver that dies, or a connection that breaks, before the receiver
 * read what the kernels buffered loses those records for good.
 *
 * PostgreSQL: at every connection, client_encoding UTF8 and, if
 * to_regclass('"<table>"') finds no such table (so a role with INSERT but
 * no CREATE privilege works on a table made beforehand, and a table dropped
 * under us comes back at the next connection),
 *   CREATE TABLE IF NOT EXISTS "<table>" (id text PRIMARY KEY, kind text NOT
 *     NULL, sender text NOT NULL, receiver text NOT NULL, recv_ms bigint NOT
 *     NULL, ordinal integer NOT NULL, identity text NOT NULL, trap jsonb NOT
 *     NULL, inserted_at timestamptz NOT NULL DEFAULT now())
 * then one statement for one or more queued batches (up to 4 MiB or 5000
 * records; a bigger batch goes alone), the records only as a parameter:
 *   INSERT INTO "<table>" (...) SELECT r->>'id', ... FROM
 *     jsonb_array_elements($1::jsonb) AS r ON CONFLICT (id) DO NOTHING
 * Autocommit: the statement is its own transaction. PostgreSQL's jsonb
 * cannot hold U+0000, so a \u0000 escape in a payload is sent as \ufffd
 * (the TCP line keeps it). Deadlines, timeout_ms each: connecting, the
 * setup, each INSERT (no PQcancel, it blocks: the connection is closed; a
 * statement that committed anyway is repeated harmlessly). An idle
 * connection is watched, so a server restart is noticed before the next
 * INSERT.
 *
 * A statement the server refuses is retried or split, by its SQLSTATE:
 *   - refused because of the server (connection, shutdown, serialization,
 *     privileges, a missing table, a full disk, ...): handled like every
 *     other failure: counted in errors, its message in last_error and
 *     logged at ERROR (repeats of one message at most once a minute), the
 *     connection closed, the batches retried with backoff, for ever, one
 *     batch per statement until one succeeds (so batches before the bad
 *     one get through; the ones after wait: order is kept);
 *     duet_sink_reset() is the way out for an operator;
 *   - refused because of a record, for good (class 22 data exception such
 *     as a payload that is not JSON or a character the database encoding
 *     cannot hold, class 23 integrity other than the id's own conflict,
 *     0A000, 54000): the statement's records go again one per statement,
 *     and each record refused alone becomes a DEAD LETTER: a row in
 *     "<table>_dead" (the table name cut to 58 bytes, then "_dead"; made
 *     at connect like the table):
 *       (id text PRIMARY KEY, sqlstate text NOT NULL, message text NOT
 *        NULL, record bytea NOT NULL, dead_at timestamptz NOT NULL DEFAULT
 *        now())
 *     record is the record's line as the sink formatted it, sent in
 *     binary (no encoding conversion can refuse it); id and message keep
 *     ASCII only. ON CONFLICT (id) DO NOTHING, counted in
 *     stats.dead_letters (once per record) and logged at ERROR. A batch
 *     is confirmed once every record of it is a row or a committed dead
 *     letter, never before; the rest flows.
 * At every connection the database's encoding is checked: a server or
 * client encoding other than UTF8 is logged at WARN (once, until a
 * connection finds UTF8) with what to do (create the database with
 * ENCODING 'UTF8'), and shown in the stats (server_encoding, encoding_ok,
 * encoding_advice): on SQL_ASCII every record with non-ASCII text would be
 * a dead letter.
 *
 * ---- Threads, blocking, ownership ---------------------------------------------
 *
 * Everything runs on the loop thread and nothing blocks it: TCP on libuv;
 * libpq through PQconnectStartParams/PQconnectPoll, PQsendQueryParams and
 * a uv_poll on its socket. A host NAME (in the conninfo, or PGHOST when it
 * names none; up to 16 host entries) is resolved with uv_getaddrinfo in
 * libuv's thread pool, within the connect deadline, before each
 * connection, and libpq gets hostaddr= with every address (at most 8 a
 * name, in the resolver's order) and host= the name repeated, so it does
 * no lookup itself and still checks TLS and .pgpass by the name. Not
 * seen by the sink, so resolved by libpq itself: a host in a service file
 * (service=); a hostaddr given (PGHOSTADDR too) makes libpq resolve
 * nothing.
 * The config strings are copied by duet_sink_new(); records and payloads
 * are formatted into the module's memory by duet_sink_submit(), so the
 * caller's buffers may go right after the call. on_log is called from loop
 * callbacks and from duet_sink_reset(); it should only log.
 */
#ifndef DUET_TRAPS_SINK_H
#define DUET_TRAPS_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "duet/entry.h" /* struct duet_trap, enum duet_sink, duet_trap_kind */

#define DUET_SINK_DEFAULT_TABLE        "duet_traps"
#define DUET_SINK_DEFAULT_TIMEOUT_MS   5000
#define DUET_SINK_DEFAULT_RETRY_MIN_MS 100
#define DUET_SINK_DEFAULT_RETRY_MAX_MS 5000
#define DUET_SINK_DEFAULT_MAX_QUEUED   (64u << 20)
#define DUET_SINK_TABLE_MAX            63  /* PostgreSQL NAMEDATALEN - 1 */
#define DUET_SINK_ID_MAX               64  /* including NUL */
#define DUET_SINK_DEFAULT_RELP_WINDOW  128 /* RELP commands awaiting their rsp */
#define DUET_SINK_RELP_WINDOW_MAX      4096
#define DUET_SINK_DEFAULT_RELP_MAX_MSG 8192 /* rsyslog's maxMessageSize, imrelp's maxDataSize */
#define DUET_SINK_RELP_MAX_MSG_MIN     512  /* room for a dead letter's notice */
#define DUET_SINK_RELP_MAX_MSG_MAX     (64u << 20)

enum duet_sink_log_level {
	DUET_SINK_LOG_DEBUG = 0,
	DUET_SINK_LOG_INFO = 1,
	DUET_SINK_LOG_WARN = 2,
	DUET_SINK_LOG_ERROR = 3,
};

/* The module's handle. Not "struct duet_sink": entry.h already has
 * "enum duet_sink" (DUET_SINK_TCP, ...), and C gives structs and enums one
 * tag namespace. */
struct duet_trap_sink;

struct duet_sink_record {
	char id[DUET_SINK_ID_MAX];    /* stable id, unique per committed trap, chosen by the
					 caller, e.g. "3f2a...-1234-7"; NUL-terminated, not empty */
	const struct duet_trap *trap; /* trap->payload: one JSON object (the decoder's JSON),
					 trap->len > 0 bytes, not NUL-terminated */
	const char *receiver;         /* member name of trap->receiver */
};

/* Every record of batch `tag` reached the sink; called in submit order,
 * never re-entrantly from inside submit. */
typedef void (*duet_sink_confirm_cb)(void *data, uint64_t tag);
/* One line for a person, without a trailing newline; valid during the call.
 * level: enum duet_sink_log_level. */
typedef void (*duet_sink_log_cb)(void *data, int level, const char *text);

struct duet_sink_config {
	int type;             /* DUET_SINK_TCP, DUET_SINK_POSTGRESQL or DUET_SINK_RELP */
	const char *address;  /* tcp, relp: "a.b.c.d:port" or "[v6]:port" (numeric, port != 0) */
	const char *conninfo; /* postgresql: libpq conninfo */
	const char *table;    /* postgresql: NULL or "" for DUET_SINK_DEFAULT_TABLE; a plain
				 identifier [a-z_][a-z0-9_]*, at most DUET_SINK_TABLE_MAX bytes */
	uint32_t timeout_ms;  /* connect / write / statement deadline; 0: default 5000 */
	uint32_t retry_min_ms, retry_max_ms; /* reconnect backoff; 0: defaults 100 and 5000 */
	size_t max_queued_bytes;             /* formatted bytes queued; 0: default 64 MiB */
	duet_sink_confirm_cb on_confirm;     /* required */
	duet_sink_log_cb on_log;             /* may be NULL */
	void *data;                          /* passed to on_confirm and on_log */

	/* tcp: the receiver does not acknowledge; a batch is confirmed once
	 * written to the local kernel: at most once (see "Acknowledgements") */
	bool without_acks;

	/* relp: commands sent and not yet answered by an rsp; 0: default 128
	 * (at most DUET_SINK_RELP_WINDOW_MAX) */
	uint32_t relp_window;
	/* relp: the largest syslog message sent (a longer record is a dead
	 * letter); 0: default 8192, else DUET_SINK_RELP_MAX_MSG_MIN to
	 * DUET_SINK_RELP_MAX_MSG_MAX */
	size_t relp_max_message_bytes;
};

/* Checks the config, copies it and starts connecting (from a loop
 * callback: nothing is called back from inside this function). Returns 0,
 * DUET_EINVAL (with a sentence in errbuf: which field, why) or DUET_ENOMEM. */
int duet_sink_new(uv_loop_t *loop, const struct duet_sink_config *cfg, struct duet_trap_sink **out,
		  char *errbuf, size_t errlen);

/* Queues one batch (n >= 0 records; the records and trap payloads are
 * formatted into the module's memory at once). Returns 0; DUET_EBUSY if
 * the batch would take the queue past max_queued_bytes (nothing taken:
 * submit it again after confirmations); DUET_ETOOBIG if the batch alone is
 * bigger than max_queued_bytes (it never fits); DUET_EINVAL for a bad
 * record (NULL trap, receiver or payload, len 0, unknown kind, empty or
 * unterminated id) or a closing module; DUET_ENOMEM. Nothing is queued
 * unless it returns 0. */
int duet_sink_submit(struct duet_trap_sink *s, uint64_t tag, const struct duet_sink_record *recs,
		     size_t n);

/* Forgets every queued and unconfirmed batch without confirming it (the
 * node stopped being the one that delivers). What was already handed to
 * the connection (TCP: up to 1 MiB of writes; PostgreSQL: the INSERT in
 * flight) may still reach the sink, unconfirmed. The connection stays. */
void duet_sink_reset(struct duet_trap_sink *s);

/* Formatted bytes of the queued (unconfirmed) batches. */
size_t duet_sink_queued_bytes(const struct duet_trap_sink *s);

struct duet_sink_stats {
	bool connected;             /* TCP connected / PostgreSQL connected with the table */
	uint64_t records_sent;      /* records of confirmed batches */
	uint64_t batches_confirmed; /* on_confirm calls */
	uint64_t errors;            /* failures of any kind (each one ended a connection) */
	uint64_t reconnects;        /* connection attempts after a failure */
	uint64_t queued_batches;    /* batches submitted, not yet confirmed or reset */
	char last_error[160];       /* "" until the first failure */
	/* added */
	uint64_t connects;          /* connections established */
	uint64_t batches_submitted; /* accepted by duet_sink_submit() */
	uint64_t records_submitted;
	uint64_t busy;           /* submits refused with DUET_EBUSY or DUET_ETOOBIG */
	uint64_t resets;         /* duet_sink_reset() calls */
	uint64_t batches_resent; /* batches sent again on a new connection (or statement) */
	uint64_t dead_letters;   /* PostgreSQL: records refused for good, kept in <table>_dead;
				    RELP: records too big to send, replaced by a notice */
};

void duet_sink_get_stats(const struct duet_trap_sink *s, struct duet_sink_stats *st);

/* The stats as one JSON object (jansson), with "type", "target",
 * "queued_bytes" and the transport's own keys too (for the daemon's
 * status): a new reference, NULL when out of memory. */
struct json_t;
struct json_t *duet_sink_stats_doc(const struct duet_trap_sink *s);
/* The same document as text, like snprintf: returns the length it needed
 * (not counting the NUL), or a negative code. */
int duet_sink_stats_json(const struct duet_trap_sink *s, char *buf, size_t len);

/* Stops, closes every handle and connection and frees the module with every
 * batch still queued (none is confirmed); closed(data) (may be NULL) runs
 * from a later loop callback once all is freed. No callback after this. */
void duet_sink_close(struct duet_trap_sink *s, void (*closed)(void *data), void *data);

/* ---- Helpers (pure) ------------------------------------------------------- */

/* Formats one record as its line ("...}\n") into buf[0..cap) with a NUL
 * after it if it fits (if not, buf gets "" rather than a cut record); like
 * snprintf returns the length needed without the NUL, or DUET_EINVAL for a
 * record submit would refuse. */
long duet_sink_format(const struct duet_sink_record *rec, char *buf, size_t cap);

/* 0 if name is a plain table identifier ([a-z_][a-z0-9_]*, 1 to
 * DUET_SINK_TABLE_MAX bytes), else DUET_EINVAL. */
int duet_sink_check_table(const char *name);

#endif
