/* SPDX-License-Identifier: MIT */
/*
 * traps_relp_frame.h - the RELP wire format for the RELP trap sink
 * (traps/sink_relp.c): frames, the data of an "rsp", the offers of an
 * "open" and the transaction numbers. Pure: no allocation, no I/O, no
 * libuv, so that it is unit-tested and fuzzed on its own
 * (traps/relp_frame.c).
 *
 * RELP (the Reliable Event Logging Protocol of rsyslog and librelp): every
 * exchange is a frame
 *
 *   TXNR SP COMMAND SP DATALEN [SP DATA] LF
 *
 * TXNR 1 to 9 decimal digits (0 only for a hint such as "serverclose"),
 * COMMAND 1 to 32 letters, DATALEN 1 to 9 decimal digits, DATA exactly
 * DATALEN bytes (absent, with its SP, when DATALEN is 0). A client sends
 * "open" (the offers), then "syslog" frames, each with the next TXNR
 * (1, 2, ... 999999999, then 1 again); the server answers each command
 * with an "rsp" frame of the same TXNR whose data is "CODE[ SP TEXT][ LF
 * MORE]": 200 is success, anything else a refusal.
 *
 * Decoders take (buf, len) and never read past len; every limit (header
 * digits, command letters, data bytes) is checked before the bytes behind
 * it are looked at, so a stream that can never become a valid frame is
 * refused as early as possible and never makes the caller buffer more than
 * RELP_FRAME_HEADER_MAX + max_data + 1 bytes.
 */
#ifndef DUET_TRAPS_RELP_FRAME_H
#define DUET_TRAPS_RELP_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RELP_TXNR_MAX         999999999u /* the last TXNR; the next one is 1 */
#define RELP_DIGITS_MAX       9          /* of TXNR and of DATALEN */
#define RELP_COMMAND_MAX      32         /* letters of COMMAND */
#define RELP_DATA_MAX         999999999u /* what 9 digits can say */
#define RELP_FRAME_HEADER_MAX (RELP_DIGITS_MAX + 1 + RELP_COMMAND_MAX + 1 + RELP_DIGITS_MAX + 1)

/* What relp_frame_decode() says. */
enum relp_frame_status {
	RELP_FRAME_OK = 0,        /* one frame decoded, *used bytes */
	RELP_FRAME_NEED_MORE = 1, /* a valid beginning: read more */
	RELP_FRAME_BAD = -1,      /* not RELP (a bad byte, a missing SP or LF) */
	RELP_FRAME_TOO_BIG = -2,  /* DATALEN above the caller's max_data */
};

struct relp_frame {
	uint32_t txnr;
	char command[RELP_COMMAND_MAX + 1]; /* NUL-terminated letters */
	const uint8_t *data;                /* inside the decoded buffer; NULL when len is 0 */
	size_t len;
};

/* Decodes the frame at the start of buf[0..len). max_data: the largest
 * DATALEN accepted (at most RELP_DATA_MAX). On RELP_FRAME_OK, *f and *used
 * (bytes of the whole frame, LF included) are set; on any other status
 * they are left alone. */
enum relp_frame_status relp_frame_decode(const uint8_t *buf, size_t len, size_t max_data,
					 struct relp_frame *f, size_t *used);

/* A short English name of a status ("a valid frame", "not a RELP frame",
 * ...), for messages. */
const char *relp_frame_status_text(enum relp_frame_status st);

/* Bytes of the header of a frame ("TXNR SP COMMAND SP DATALEN", plus SP
 * when len > 0): what relp_frame_header() writes. */
size_t relp_frame_header_len(uint32_t txnr, const char *command, size_t len);
/* Writes that header at out (relp_frame_header_len bytes, no NUL); the
 * caller writes the data and the LF after it. txnr 0..RELP_TXNR_MAX,
 * command 1..32 letters, len <= RELP_DATA_MAX. Returns the bytes. */
size_t relp_frame_header(uint32_t txnr, const char *command, size_t len, char *out);

/* The TXNR after t (1 after RELP_TXNR_MAX and after 0). */
uint32_t relp_txnr_next(uint32_t t);
/* The TXNR of the n-th command of a session (n = 0: the open, TXNR 1). */
uint32_t relp_txnr_of(uint64_t n);
/* Which command of the session has TXNR t, knowing that it is one of
 * [oldest, next) (fewer than RELP_TXNR_MAX of them): true with *n set, or
 * false if none of them has it. */
bool relp_txnr_find(uint32_t t, uint64_t oldest, uint64_t next, uint64_t *n);

/* The data of an "rsp": "CODE[ SP TEXT][ LF BODY]". CODE is 3 digits.
 * Returns false if the data does not start that way. text (up to the
 * first LF) and body (after it) point into data. */
struct relp_rsp {
	unsigned code;
	const uint8_t *text;
	size_t text_len;
	const uint8_t *body;
	size_t body_len;
};
bool relp_rsp_parse(const uint8_t *data, size_t len, struct relp_rsp *r);

/* Do the offers (LF-separated "name[=value[,value...]]", as in the body of
 * the rsp to "open") have name, and, if value is not NULL, value among its
 * values? */
bool relp_offers_have(const uint8_t *offers, size_t len, const char *name, const char *value);

#endif
