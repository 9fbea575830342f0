/* SPDX-License-Identifier: MIT */
/*
 * log.h - the process's logger: levelled messages to stderr or syslog.
 *
 * Used by duetd, duet-witness and duetctl (never by raftlog or the decision
 * half of fsm, which return what happened instead of logging it).
 *
 * stderr lines look like
 *
 *     2024-05-01T12:34:56.789Z duetd[1234] warn: peer node-b unreachable
 *
 * (UTC, ISO-8601 with milliseconds), written with one write(2) so lines from
 * two threads never interleave. The syslog target uses openlog(3)/syslog(3)
 * with LOG_DAEMON and maps error/warn/info/debug to LOG_ERR/LOG_WARNING/
 * LOG_INFO/LOG_DEBUG; syslog adds its own time stamp.
 *
 * The logger is global state on purpose: there is one per process, it is set
 * up once from the config at start, and threading a handle through every
 * libuv callback would buy nothing. Set it up before starting threads; after
 * that duet_log() only reads it. Before duet_log_open() messages go to stderr
 * at level info with ident "duet".
 */
#ifndef DUET_LOG_H
#define DUET_LOG_H

#include <stdbool.h>

enum duet_log_level {
	DUET_LOG_ERROR = 0,
	DUET_LOG_WARN = 1,
	DUET_LOG_INFO = 2,
	DUET_LOG_DEBUG = 3,
};

enum duet_log_target {
	DUET_LOG_STDERR = 0,
	DUET_LOG_SYSLOG = 1,
};

/* Sets ident (program name, copied; at most 31 bytes kept), target and the
 * most verbose level written. For DUET_LOG_SYSLOG calls openlog(). */
void duet_log_open(const char *ident, enum duet_log_target target, enum duet_log_level level);

/* Calls closelog() if syslog was opened; later messages go to stderr. */
void duet_log_close(void);

/* True if a message at `level` would be written. */
bool duet_log_enabled(enum duet_log_level level);

/* Writes one message (a trailing newline is not needed). Never fails:
 * a message too long for the line buffer (4 KiB) is cut. */
void duet_log(enum duet_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "error", "warn", "info", "debug"; "?" for a value out of range. */
const char *duet_log_level_name(enum duet_log_level level);

#endif
