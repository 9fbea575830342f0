/* SPDX-License-Identifier: MIT */
/*
 * traps_syslog.h - syslog decoding for the trap receivers (DESIGN.md
 * section 5): TCP stream framing (RFC 6587), message parsing (RFC 5424 and
 * RFC 3164 with the deviations real senders make), the canonical content a
 * trap's identity is hashed from, and the JSON line a sink receives.
 *
 * Pure code: no sockets, no clock, no globals. The receiver owns the
 * sockets; it feeds TCP bytes to a duet_syslog_stream and hands each UDP
 * datagram (one datagram = one message, RFC 5426) straight to
 * duet_syslog_parse(). Nothing here blocks. Only the stream allocates (its
 * reassembly buffer, bounded by max_frame_bytes); parsing, identity and JSON
 * work in caller memory.
 *
 * ---- TCP framing (RFC 6587) ----------------------------------------------
 *
 * Senders use one of two framings and some switch between messages, so the
 * framing is chosen per frame by its first byte (RFC 6587 3.4):
 *
 *  - '1'..'9': octet counting, "MSG-LEN SP SYSLOG-MSG". MSG-LEN is at most
 *    10 decimal digits without leading zeros; the frame is exactly MSG-LEN
 *    bytes after the space, whatever they contain (LF included).
 *  - LF or NUL: an empty frame, skipped and counted (stats.empty_frames).
 *    This also swallows the stray LF that some senders put after an
 *    octet-counted frame.
 *  - anything else ('<' normally): non-transparent framing, the frame runs
 *    to the next LF or NUL (both are terminators, as senders use either);
 *    the terminator, and one CR before it (CRLF senders), is not part of the
 *    message. A frame left empty by that is counted as an empty frame.
 *
 * Refused frames are reported to the callback with err != 0 and a static
 * reason, counted, and the stream recovers as follows:
 *
 *  - DUET_ETOOBIG, octet count over max_frame_bytes: exactly MSG-LEN bytes
 *    are discarded (never buffered), so the stream stays in step with the
 *    sender and the next frame is decoded normally (stats.oversized).
 *  - DUET_ETOOBIG, a line over max_frame_bytes without a terminator: the
 *    first max_frame_bytes are dropped as soon as the limit is crossed and
 *    everything up to and including the next LF or NUL is discarded; the
 *    next line is decoded normally (stats.oversized).
 *  - DUET_ECORRUPT, bad MSG-LEN (leading zero, more than 10 digits, digits
 *    not followed by SP): there is no count to trust, so the stream skips
 *    through the next LF or NUL and goes on (stats.bad_length). For a
 *    sender using LF framing that is exact: the bad frame was a line (for
 *    example one without PRI that starts with a digit, which RFC 6587
 *    makes indistinguishable from a count). For an octet-counting sender it
 *    is not: such a sender sends no LF between frames, and an LF inside a
 *    later message would make the stream resume in the middle of that
 *    message and hand out its tail as a bogus message. So the receiver
 *    decides, and the rule for duet is: on DUET_ECORRUPT, if
 *    stats.octet_counted > 0 the callback returns non-zero and the
 *    receiver closes the connection (the sender has to reconnect);
 *    otherwise it lets the stream skip the line.
 *  - DUET_ETRUNCATED, from duet_syslog_stream_finish() only: the connection
 *    ended inside an octet-counted frame or its count (stats.truncated).
 *    A line that the connection ends without a terminator is a message.
 *
 * Memory stays bounded by max_frame_bytes per stream whatever the sender
 * does: a frame that arrives whole inside one chunk is handed out straight
 * from the chunk; only a frame split across chunks is copied into the
 * stream's buffer, which grows on demand up to max_frame_bytes and is freed
 * again when a large frame has been delivered.
 *
 * ---- Parsing -------------------------------------------------------------
 *
 * duet_syslog_parse() takes one message (a frame or a datagram). Trailing
 * LF, CR and NUL bytes are dropped first (UDP senders often append one).
 * Then:
 *
 *   "<" PRI ">" where PRI is 1 to 3 digits with value 0..191; facility =
 *   PRI / 8, severity = PRI % 8. Without a valid PRI the message gets
 *   PRI 13 (user.notice, RFC 3164 4.3.3), DUET_SYSLOG_F_NO_PRI is set, and
 *   the whole input (an invalid "<...>" included) is parsed as an RFC 3164
 *   body. Leading zeros ("<013>") are accepted.
 *
 *   RFC 5424 when PRI is followed by VERSION SP (1 to 3 digits, no leading
 *   zero): TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD
 *   [SP MSG]. A header field is any run of bytes other than SP; "-" (the
 *   NILVALUE) gives an absent field. The RFC's length limits and character
 *   sets are not enforced (a sender exceeding them is still heard). SD is
 *   "-" or SD-ELEMENTs checked against the ABNF (SD-NAMEs of 1..32 bytes
 *   without '=', SP, ']' or '"'; PARAM-VALUEs quoted, with \" \\ \] escapes
 *   honoured); the sd field is their raw text, escapes as sent. If SD does
 *   not parse (or is not followed by SP or the end), sd is absent,
 *   DUET_SYSLOG_F_BAD_SD is set and msg starts at the SD field, so no byte
 *   is lost. A UTF-8 BOM at the start of MSG is not part of msg;
 *   DUET_SYSLOG_F_BOM records it. A header with an empty field (two SPs)
 *   or that ends before SD makes the whole body parse as RFC 3164 instead.
 *
 *   RFC 3164 otherwise:  [TIMESTAMP SP [HOSTNAME SP]] [TAG["[" PID "]"] ":"]
 *   [SP] MSG. TIMESTAMP is "Mmm dd hh:mm:ss" (English month, day space-
 *   or zero-padded or one digit) with the common extensions: a fraction of
 *   up to 9 digits, a year "Mmm dd yyyy hh:mm:ss", or an RFC 3339 time
 *   "yyyy-mm-ddThh:mm:ss[.f](Z|+hh:mm|-hh:mm)"; it counts only if SP or
 *   the end follows it.
 *   HOSTNAME is looked for only after a timestamp (RFC 3164 4.3.2): the next
 *   word if it is followed by SP, made of letters, digits, '.', '-', '_'
 *   and ':' (IPv6) and does not end in ':'. TAG is a word of 1..48 bytes
 *   without SP, '[' or ':', optionally followed by "[PID]", then ':' and
 *   either SP or the end; anything else leaves tag and procid absent and
 *   the rest as msg. So "<13>su: x" has tag "su" and no host, and
 *   "<13>Oct 11 22:14:15 mymachine x" has host "mymachine" and msg "x".
 *
 * Parsing never fails on non-empty input: every byte ends up in some field
 * (or is a separator), so a receiver never drops a message it cannot read.
 * Fields point into the input; nothing is copied, nothing is allocated.
 * Bytes are kept as sent, invalid UTF-8 included.
 *
 * ---- Identity content -------------------------------------------------------
 *
 * The trap's identity is SHA-256(sender, kind, content); this module writes
 * the content. Two copies of one event differ in their timestamps, and the
 * same sender may send them in either format, so the content leaves out
 * TIMESTAMP, VERSION and the format, and takes everything else. Layout
 * (integers little-endian):
 *
 *     u8  DUET_SYSLOG_IDENTITY_VERSION (1): the layout, not the syslog format
 *     u8  facility   0..23
 *     u8  severity   0..7
 *     then six fields, each u32 length + bytes, absent = length 0:
 *         hostname, app-name (5424) or tag (3164), procid, msgid,
 *         sd, msg
 *
 * sd is the raw SD text except that the params sequenceId and sysUpTime
 * of the "meta" element (RFC 5424 7.3) are removed, since a sender may count
 * or time each copy apart; every other element and param is kept as sent,
 * in order. msg is after trailing-terminator and BOM removal, as parsed.
 *
 * ---- JSON ------------------------------------------------------------------
 *
 * One object on one line, no trailing newline, keys in this order:
 *
 *   {"kind":"syslog","facility":1,"severity":5,"timestamp":"...",
 *    "host":"...","app":"...","procid":"...","msgid":"...","sd":"...",
 *    "msg":"..."}
 *
 * Absent fields (NILVALUE, or not present in a 3164 message) are null; msg
 * is always a string. Strings are escaped per RFC 8259 (", \, and control
 * bytes as \n \r \t \b \f or \u00XX, DEL as \u007f); valid UTF-8 is copied,
 * each maximal invalid subsequence becomes \ufffd. The output is ASCII plus
 * valid UTF-8 and is NUL-terminated.
 */
#ifndef DUET_TRAPS_SYSLOG_H
#define DUET_TRAPS_SYSLOG_H

#include <stddef.h>
#include <stdint.h>

#include "duet/err.h"

#define DUET_SYSLOG_MAX_FRAME_BYTES_DEFAULT (64u << 10)
#define DUET_SYSLOG_MAX_FRAME_BYTES_LIMIT   (1u << 20) /* max_frame_bytes may not exceed it */
#define DUET_SYSLOG_MAX_LEN_DIGITS          10
#define DUET_SYSLOG_DEFAULT_PRI             13 /* user.notice, RFC 3164 4.3.3 */
#define DUET_SYSLOG_IDENTITY_VERSION        1

/* ---- Parsed message ------------------------------------------------------ */

enum duet_syslog_format { DUET_SYSLOG_RFC3164 = 1, DUET_SYSLOG_RFC5424 = 2 };

enum duet_syslog_flags {
	DUET_SYSLOG_F_NO_PRI = 1 << 0, /* no valid PRI: DUET_SYSLOG_DEFAULT_PRI used */
	DUET_SYSLOG_F_BOM = 1 << 1,    /* 5424 MSG began with a UTF-8 BOM (not in msg) */
	DUET_SYSLOG_F_BAD_SD = 1 << 2, /* 5424 SD did not parse; it is at the start of msg */
};

/* Bytes inside the parsed input; absent: p == NULL and len == 0. */
struct duet_syslog_span {
	const char *p;
	size_t len;
};

struct duet_syslog_msg {
	uint8_t facility;                  /* 0..23 */
	uint8_t severity;                  /* 0..7 */
	uint8_t format;                    /* enum duet_syslog_format */
	uint8_t flags;                     /* enum duet_syslog_flags */
	uint16_t version;                  /* 5424 VERSION (1..999); 0 for 3164 */
	struct duet_syslog_span timestamp; /* text as sent, not interpreted */
	struct duet_syslog_span hostname;
	struct duet_syslog_span app_name; /* 5424 APP-NAME or 3164 TAG */
	struct duet_syslog_span procid;   /* 5424 PROCID or 3164 [pid] */
	struct duet_syslog_span msgid;    /* 5424 only */
	struct duet_syslog_span sd;       /* 5424 structured data, raw text */
	struct duet_syslog_span msg;
};

/*
 * Parses one message in buf[0..len) into *m (layout above). The spans point
 * into buf, which must outlive them. Returns 0, or DUET_EINVAL if the
 * input is empty once trailing LF, CR and NUL bytes are dropped.
 */
int duet_syslog_parse(const void *buf, size_t len, struct duet_syslog_msg *m);

/* ---- Identity content and JSON -------------------------------------------- */

/* Size of m's identity content (layout above). */
size_t duet_syslog_identity_size(const struct duet_syslog_msg *m);

/* Writes m's identity content into buf[0..cap). Returns bytes written, or
 * DUET_ETOOBIG if cap is less than duet_syslog_identity_size(m). */
long duet_syslog_identity(const struct duet_syslog_msg *m, void *buf, size_t cap);

/*
 * Renders m as one JSON object (above) into buf[0..cap), NUL-terminated.
 * Returns the length without the NUL, or DUET_ETOOBIG if it and its NUL do
 * not fit (buf then holds an empty string when cap > 0). With buf == NULL
 * and cap == 0, returns the length it would need (add 1 for the NUL).
 */
long duet_syslog_json(const struct duet_syslog_msg *m, char *buf, size_t cap);

/* ---- TCP stream ----------------------------------------------------------- */

enum duet_syslog_framing {
	DUET_SYSLOG_FRAMING_OCTET = 1, /* "MSG-LEN SP SYSLOG-MSG" */
	DUET_SYSLOG_FRAMING_LF = 2,    /* ends at LF or NUL (or at the end of the connection) */
};

/* One frame handed to the callback: a message (err == 0) or a refusal. */
struct duet_syslog_frame {
	int err;            /* 0, DUET_ETOOBIG, DUET_ECORRUPT or DUET_ETRUNCATED */
	const char *reason; /* NULL for a message, else a static phrase saying why */
	uint8_t framing;    /* enum duet_syslog_framing (LF for a bad MSG-LEN) */
	uint64_t offset;    /* stream offset of the frame's first byte */
	uint64_t frame_len; /* message bytes; refusals: MSG-LEN (0 if cut inside it), the
			     * bytes of a bad MSG-LEN, or max_frame_bytes + 1 for a line */
	const uint8_t *msg; /* the message (err == 0 only), valid during the call */
	size_t len;         /* == frame_len for a message */
};

/*
 * Called once per frame, in stream order. Return 0 to go on; any other value
 * stops the feed at once, is returned by it, and leaves the stream stopped
 * (later feeds and finish return DUET_EINVAL; only close is left). The
 * callback must not feed or close the stream it is called from.
 */
typedef int (*duet_syslog_frame_cb)(void *data, const struct duet_syslog_frame *f);

struct duet_syslog_stream_stats {
	uint64_t bytes;           /* fed */
	uint64_t messages;        /* frames handed out with err == 0 */
	uint64_t octet_counted;   /* of which octet-counted */
	uint64_t lf_terminated;   /* of which LF/NUL-terminated (or ended by finish) */
	uint64_t empty_frames;    /* bare terminators, skipped */
	uint64_t oversized;       /* DUET_ETOOBIG refusals */
	uint64_t bad_length;      /* DUET_ECORRUPT refusals */
	uint64_t truncated;       /* DUET_ETRUNCATED refusals */
	uint64_t bytes_discarded; /* bytes of refused frames and of skips to the next LF */
};

/* One TCP connection's decoder. Caller-allocated; fields are private. */
struct duet_syslog_stream {
	uint32_t max_frame_bytes;
	int state;
	int stopped;     /* 0, or why feeding stopped (callback value or DUET_ENOMEM) */
	uint64_t count;  /* MSG-LEN being read, or bytes still to take or skip */
	unsigned digits; /* of MSG-LEN read so far */
	uint64_t offset; /* bytes fed so far */
	uint64_t frame_start;
	uint8_t *buf; /* partial frame split across feeds */
	size_t buf_len;
	size_t buf_cap;
	struct duet_syslog_stream_stats stats;
};

/*
 * Initialises *st. max_frame_bytes bounds a frame's message bytes (0 =
 * DUET_SYSLOG_MAX_FRAME_BYTES_DEFAULT). Allocates nothing. Returns 0 or
 * DUET_EINVAL (over DUET_SYSLOG_MAX_FRAME_BYTES_LIMIT).
 */
int duet_syslog_stream_init(struct duet_syslog_stream *st, uint32_t max_frame_bytes);

/* Frees the stream's buffer. *st may be initialised again afterwards. */
void duet_syslog_stream_close(struct duet_syslog_stream *st);

/*
 * Decodes bytes[0..len), received in order on one connection; chunk
 * boundaries are arbitrary. Calls cb for every frame completed or refused
 * by these bytes, before returning. Returns 0; the callback's non-zero
 * value; DUET_ENOMEM if the buffer could not grow (the stream is then
 * stopped); or DUET_EINVAL if the stream was already stopped.
 */
int duet_syslog_stream_feed(struct duet_syslog_stream *st, const void *bytes, size_t len,
			    duet_syslog_frame_cb cb, void *data);

/*
 * The connection ended: hands out an unterminated last line as a message,
 * or reports a frame cut short (DUET_ETRUNCATED), and resets the stream for
 * reuse. Returns as duet_syslog_stream_feed().
 */
int duet_syslog_stream_finish(struct duet_syslog_stream *st, duet_syslog_frame_cb cb, void *data);

#endif
