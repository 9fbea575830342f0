/* SPDX-License-Identifier: MIT */
/*
 * traps_syslog_tcp.h - the syslog-over-TCP trap receiver (DESIGN.md
 * section 5): a libuv TCP server on one or more addresses that cuts each
 * connection's bytes into messages with the RFC 6587 framer of
 * traps_syslog.h (LF or octet counting, chosen per frame) and hands every
 * message to the owner with the sender's IP.
 *
 * ---- What happens to each frame ------------------------------------------
 *
 * The framer's rules (traps_syslog.h) apply; this receiver adds what only a
 * socket owner can decide, and counts every refusal by reason (enum
 * trap_syslog_tcp_drop):
 *
 *   a message                          on_message(); counted in stats.frames
 *                                      when taken (returned 0)
 *   frame over max_frame_bytes         dropped, oversized; the connection
 *                                      goes on with the next frame
 *   bad octet count (leading zero,     dropped, bad_length. If the connection
 *   too many digits, no space)         has sent octet-counted frames, it is
 *                                      closed (its count can no longer be
 *                                      trusted: the sender must reconnect);
 *                                      else the line is skipped and it goes on
 *   connection ends (EOF, reset, idle  an unterminated last line is a message;
 *   timeout) inside an octet-counted   inside an octet count or frame: dropped,
 *   frame or count                     truncated
 *   on_message() returns an error      dropped, rejected (the connection goes
 *   other than DUET_EBUSY              on)
 *   frames not yet taken when the      dropped, shutdown
 *   server closes
 *
 * ---- Backpressure --------------------------------------------------------
 *
 * on_message() returning DUET_EBUSY means "not taken, my queue is full":
 * the server keeps that message, stops reading the connection
 * (uv_read_stop: TCP flow control then slows the sender down) and keeps
 * the frames already read behind it too, in order; nothing is lost. When
 * the owner has room it calls trap_syslog_tcp_resume(): every paused
 * connection hands its kept frames over again, in order (the first one
 * again, as it was not taken), and reads again once they are all taken. A
 * DUET_EBUSY during that leaves the connection paused for the next resume.
 * What a paused connection keeps is bounded by one read (64 KiB) plus one
 * partial frame (max_frame_bytes), plus 4 bytes per frame. A paused
 * connection has no idle timeout; it stays open until it is resumed or the
 * server closes. A connection that ends while paused is closed once its
 * kept frames are taken.
 *
 * ---- Connections, limits, timers -----------------------------------------
 *
 *  - max_connections per listener: a connection accepted beyond it is
 *    closed at once (the sender sees a reset or EOF), counted
 *    too_many_connections.
 *  - idle_timeout_ms: a connection from which nothing arrives for this long
 *    (and that is not paused) is closed; counted in stats.idle_closed, not
 *    as a drop (a frame cut by it counts as truncated).
 *  - max_frame_bytes: the framer's limit (message bytes of one frame).
 *
 * ---- Threads, blocking, ownership ----------------------------------------
 *
 * Everything runs on the caller's loop, in its thread; nothing blocks. The
 * config's strings are copied. The sender and message passed to
 * on_message() are valid during the call only. The sender is the client's
 * IP without port ("192.0.2.7", "2001:db8::1"; an IPv4-mapped IPv6 address
 * is written as IPv4), stable across connections as the trap identity
 * needs. on_message() may call trap_syslog_tcp_resume() and
 * trap_syslog_tcp_close() (after close, nothing more is delivered).
 */
#ifndef DUET_TRAPS_SYSLOG_TCP_H
#define DUET_TRAPS_SYSLOG_TCP_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "duet/traps_syslog.h"

#define TRAP_SYSLOG_TCP_MAX_LISTEN              8
#define TRAP_SYSLOG_TCP_PEER_BYTES              64 /* an IPv6 address and its NUL fit */
#define TRAP_SYSLOG_TCP_READ_BYTES              (64u << 10)
#define TRAP_SYSLOG_TCP_DEFAULT_MAX_CONNECTIONS 256
#define TRAP_SYSLOG_TCP_DEFAULT_IDLE_TIMEOUT_MS 300000

/* Why a frame or connection was dropped; each is counted in stats.drops[].
 * Names (trap_syslog_tcp_drop_name) are stable, for metrics and logs. */
enum trap_syslog_tcp_drop {
	TRAP_SYSLOG_TCP_DROP_NONE = 0,
	TRAP_SYSLOG_TCP_DROP_TOO_MANY_CONNECTIONS, /* a connection, closed at accept */
	TRAP_SYSLOG_TCP_DROP_OVERSIZED,            /* a frame over max_frame_bytes */
	TRAP_SYSLOG_TCP_DROP_BAD_LENGTH,           /* a bad octet count */
	TRAP_SYSLOG_TCP_DROP_TRUNCATED,            /* a frame cut by the end of its connection */
	TRAP_SYSLOG_TCP_DROP_REJECTED,             /* on_message() returned an error */
	TRAP_SYSLOG_TCP_DROP_SHUTDOWN,             /* read, not taken when the server closed */
	TRAP_SYSLOG_TCP_DROP_OUT_OF_MEMORY,        /* a frame; its connection is closed */
	TRAP_SYSLOG_TCP_DROP_N
};

/* Stable snake_case name ("oversized"); never NULL. */
const char *trap_syslog_tcp_drop_name(enum trap_syslog_tcp_drop drop);

struct trap_syslog_tcp_stats {
	uint64_t connections_accepted; /* all, also those closed at once */
	uint64_t connections_open;     /* now */
	uint64_t connections_paused;   /* now: waiting for trap_syslog_tcp_resume() */
	uint64_t idle_closed;          /* closed by the idle timeout: not a drop */
	uint64_t read_errors;          /* connections that ended in an error (reset), not EOF */
	uint64_t bytes;                /* read */
	uint64_t frames;               /* messages taken by on_message() */
	uint64_t busy;                 /* times on_message() returned DUET_EBUSY */
	uint64_t drops[TRAP_SYSLOG_TCP_DROP_N];
};

enum trap_syslog_tcp_log_level {
	TRAP_SYSLOG_TCP_LOG_DEBUG = 0,
	TRAP_SYSLOG_TCP_LOG_INFO,
	TRAP_SYSLOG_TCP_LOG_WARN,
	TRAP_SYSLOG_TCP_LOG_ERROR
};

/*
 * One message (a frame without its framing): sender is the client's IP;
 * both valid during the call only. Returns 0 (taken), DUET_EBUSY (not
 * taken: pause this connection, see above) or another negative code
 * (dropped, counted rejected).
 */
typedef int (*trap_syslog_tcp_message_cb)(void *data, const char *sender_ip, const uint8_t *msg,
					  size_t len);
/* A line for the log; text valid during the call only. */
typedef void (*trap_syslog_tcp_log_cb)(void *data, int level, const char *text);
/* The server has been freed. */
typedef void (*trap_syslog_tcp_close_cb)(void *data);

struct trap_syslog_tcp_config {
	/* "a.b.c.d:port" or "[v6]:port", numeric; port 0: one the kernel picks */
	const char *listen[TRAP_SYSLOG_TCP_MAX_LISTEN];
	unsigned n_listen;        /* 1..TRAP_SYSLOG_TCP_MAX_LISTEN */
	unsigned max_connections; /* per listener; 0 = TRAP_SYSLOG_TCP_DEFAULT_MAX_CONNECTIONS */
	uint32_t max_frame_bytes; /* 0 = DUET_SYSLOG_MAX_FRAME_BYTES_DEFAULT; at most
				   * DUET_SYSLOG_MAX_FRAME_BYTES_LIMIT */
	uint32_t idle_timeout_ms; /* 0 = TRAP_SYSLOG_TCP_DEFAULT_IDLE_TIMEOUT_MS */
	trap_syslog_tcp_message_cb on_message; /* required */
	trap_syslog_tcp_log_cb on_log;         /* may be NULL */
	void *data; /* passed to on_message, on_log and the close callback */
};

struct trap_syslog_tcp;

/*
 * Creates the server on `loop`, binds and listens on every address.
 * Returns 0 with *out set, or a negative code with a sentence in errbuf
 * (which address, what to do): DUET_EINVAL for a bad config or address, a
 * libuv error for a failed bind or listen, DUET_ENOMEM. After a failure,
 * handles already opened may still be closing: run the loop
 * (UV_RUN_DEFAULT) before uv_loop_close().
 */
int trap_syslog_tcp_new(uv_loop_t *loop, const struct trap_syslog_tcp_config *cfg,
			struct trap_syslog_tcp **out, char *errbuf, size_t errlen);

/* The port listener i is bound to (host order; useful after port 0), or -1. */
int trap_syslog_tcp_port(const struct trap_syslog_tcp *s, unsigned i);

void trap_syslog_tcp_get_stats(const struct trap_syslog_tcp *s, struct trap_syslog_tcp_stats *out);

/*
 * The owner has room again: every paused connection hands over the frames
 * it kept, in order, and reads again once all are taken. Runs on_message()
 * before returning (or, called from inside on_message(), right after it).
 */
void trap_syslog_tcp_resume(struct trap_syslog_tcp *s);

/*
 * Closes every listener and connection (frames not yet taken are counted
 * shutdown) and frees the server once libuv has called every close
 * callback; then calls cb(cfg->data) (cb may be NULL). No other
 * trap_syslog_tcp_* call on s after this.
 */
void trap_syslog_tcp_close(struct trap_syslog_tcp *s, trap_syslog_tcp_close_cb cb);

#endif
