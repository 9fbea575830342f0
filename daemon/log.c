/* SPDX-License-Identifier: MIT */
/*
 * log.c - the process's logger (log.h).
 *
 * Global state, deliberately: a process has one logger, configured once at
 * start from [node] log_level / log_target, and passing a handle into every
 * callback would add noise without adding safety. The state is written only
 * by duet_log_open()/duet_log_close() (called before threads start) and read
 * by duet_log().
 *
 * A stderr line is formatted into a stack buffer and written with a single
 * write(2), so concurrent writers never interleave within a line.
 *
 * When stderr is a journald stream ($JOURNAL_STREAM names its device and
 * inode: the unit's default StandardError=journal), a line starts with its
 * syslog priority as "<N>" (sd-daemon(3)), so `journalctl -p warning`
 * works, and carries no timestamp, name or pid of its own: journald
 * records those, and the line would show them twice.
 */
#include "duet/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_BYTES 4096
#define LOG_IDENT_MAX  32

static struct {
	char ident[LOG_IDENT_MAX];
	enum duet_log_target target;
	enum duet_log_level level;
	bool syslog_open;
	bool journal; /* stderr is a journald stream */
} logger = {"duet", DUET_LOG_STDERR, DUET_LOG_INFO, false, false};

static const char *const level_names[] = {"error", "warn", "info", "debug"};

const char *duet_log_level_name(enum duet_log_level level)
{
	if ((unsigned)level >= sizeof(level_names) / sizeof(level_names[0]))
		return "?";
	return level_names[level];
}

/* $JOURNAL_STREAM is "DEVICE:INODE" of the stream journald gave the unit;
 * stderr is that stream unless it was redirected since. */
static bool stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) != 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void duet_log_open(const char *ident, enum duet_log_target target, enum duet_log_level level)
{
	duet_log_close();
	snprintf(logger.ident, sizeof(logger.ident), "%s", ident ? ident : "duet");
	logger.target = target;
	logger.level = level;
	logger.journal = target == DUET_LOG_STDERR && stderr_is_journal();
	if (target == DUET_LOG_SYSLOG) {
		/* openlog keeps the pointer: logger.ident lives as long as the process */
		openlog(logger.ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
		logger.syslog_open = true;
	}
}

void duet_log_close(void)
{
	if (logger.syslog_open)
		closelog();
	logger.syslog_open = false;
	logger.target = DUET_LOG_STDERR;
}

bool duet_log_enabled(enum duet_log_level level)
{
	return level <= logger.level;
}

static int syslog_priority(enum duet_log_level level)
{
	switch (level) {
	case DUET_LOG_ERROR:
		return LOG_ERR;
	case DUET_LOG_WARN:
		return LOG_WARNING;
	case DUET_LOG_INFO:
		return LOG_INFO;
	default:
		return LOG_DEBUG;
	}
}

void duet_log(enum duet_log_level level, const char *fmt, ...)
{
	if (!duet_log_enabled(level))
		return;
	int saved_errno = errno; /* callers may log and then look at errno */
	char line[LOG_LINE_BYTES];
	size_t n = 0;

	if (logger.target == DUET_LOG_STDERR && logger.journal) {
		int w = snprintf(line, sizeof(line), "<%d>%s: ", syslog_priority(level),
				 duet_log_level_name(level));
		n = w > 0 ? (size_t)w : 0;
	} else if (logger.target == DUET_LOG_STDERR) {
		struct timespec ts;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		int w = snprintf(
		    line, sizeof(line),
		    "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%ld] %s: ", tm.tm_year + 1900,
		    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		    ts.tv_nsec / 1000000, logger.ident, (long)getpid(), duet_log_level_name(level));
		n = w > 0 ? (size_t)w : 0;
	}
	va_list ap;
	va_start(ap, fmt);
	int w = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (w > 0)
		n += (size_t)w;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2; /* cut; keep room for the newline */
	while (n > 0 && line[n - 1] == '\n')
		n--;

	if (logger.target == DUET_LOG_SYSLOG) {
		line[n] = '\0';
		syslog(syslog_priority(level), "%s", line);
	} else {
		line[n++] = '\n';
		const char *p = line;
		while (n > 0) {
			ssize_t k = write(STDERR_FILENO, p, n);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				break; /* nowhere left to report it */
			p += k;
			n -= (size_t)k;
		}
	}
	errno = saved_errno;
}
