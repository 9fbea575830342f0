/* SPDX-License-Identifier: MIT */
/*
 * traps_custom.h - custom traps: strict validation of the JSON body that
 * senders POST to /traps, and its canonical form (DESIGN.md section 5:
 * "for custom traps the canonical JSON body" is what the identity hashes).
 *
 * Pure: no I/O, no clock, no global state; a fuzz target
 * (tests/fuzz/fuzz_custom_json.c). Built on Jansson (libjansson-dev).
 *
 * ---- What is accepted ----------------------------------------------------
 *
 *     {"FacilityID": <string or number>,
 *      "DATA": [{"DATE": "...", "TYPE": "NUM" | "STRING", "KEY": "...",
 *                "MSG": <number if TYPE is NUM, string if STRING>}, ...]}
 *
 *  - The body is one JSON value in UTF-8 (RFC 8259), nothing after it but
 *    whitespace. Invalid UTF-8, "\u0000" in a string and lone surrogates
 *    are refused (not_json).
 *  - Keys are case-sensitive. Unknown keys are REFUSED, at the top level and
 *    in items (unknown_key): the identity is the canonical body, so an
 *    extra or misspelt key ("Data", "msg") would otherwise change the
 *    identity or lose data silently; a sender that means something else
 *    learns it at once from the 400. A key given twice is refused
 *    (duplicate_key), never "last one wins".
 *  - FacilityID: a non-empty string or any JSON number.
 *  - DATA: a list of 1..max_items objects, each with exactly DATE, TYPE,
 *    KEY and MSG. DATE and KEY are non-empty strings (DATE is not
 *    interpreted: it is the sender's text). TYPE is exactly "NUM" or
 *    "STRING". MSG is a number when TYPE is NUM, a string (possibly empty)
 *    when TYPE is STRING.
 *  - Every string (FacilityID, DATE, KEY, MSG) is at most max_string_bytes
 *    bytes of UTF-8. Nesting (objects and arrays) is at most max_depth
 *    levels deep; a valid trap needs 3, the default limit is 8 so that a
 *    mistyped MSG still gets the clearer msg_mismatches_type. The depth is
 *    checked on the raw text before anything is allocated.
 *  - Integers must fit a signed 64-bit integer and other numbers an IEEE
 *    double (number_out_of_range otherwise).
 *  - The caller bounds the body's size (the HTTP server refuses large
 *    bodies with 413 before they reach this module).
 *
 * ---- Canonical form ------------------------------------------------------
 *
 * The canonical bytes are what Jansson's json_dumpb() writes with
 * JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(P) for the parsed
 * value after number normalisation:
 *
 *  - no whitespace at all; object keys in byte order of their UTF-8
 *    ("DATA" before "FacilityID"; "DATE", "KEY", "MSG", "TYPE" in items);
 *    DATA items keep the sender's order (a list is ordered);
 *  - strings as UTF-8, escaping only '"', '\\' and control characters
 *    (\b \f \n \r \t, others as \u00XX); "\u00e9" and "é" are the same;
 *    '/' is not escaped;
 *  - numbers: an integer literal (no fraction, no exponent) is written as
 *    that integer ("-0" as 0). Any other literal is read as the nearest
 *    double; if that double is integral and within the int64 range it is
 *    written as an integer (1.0, 1e0, 10E-1 and 1 are all "1"; -0.0 is
 *    "0"); otherwise as "%.Pg" (Jansson adds nothing, strips '+' and
 *    leading zeros of the exponent: 0.5, 1e20, 1.5e300), where P is the
 *    smallest precision from 1 to 17 at which every such number of the body
 *    reads back as the same double. So 0.5, 5e-1 and 0.50 are "0.5", and
 *    0.1 stays "0.1" (not 0.10000000000000001). Note that 9007199254740993
 *    (an exact integer) and 9007199254740993.0 (the double
 *    9007199254740992) differ.
 *
 * Canonicalisation is idempotent: validating the canonical bytes again
 * accepts them and yields the same bytes (checked by the fuzz target).
 * Assumes the C locale for LC_NUMERIC (duet never calls setlocale).
 *
 * ---- Sink text -----------------------------------------------------------
 *
 *     {"kind":"custom","trap":<canonical bytes>}
 *
 * built by concatenation, so the canonical bytes appear in it verbatim.
 * The traps pipeline adds identity, ordinal, sender and times around it.
 *
 * ---- Ownership -----------------------------------------------------------
 *
 * trap_custom_parse() fills a caller-allocated result; on success its
 * canonical and json buffers are malloc()ed and owned by the caller until
 * trap_custom_result_free(). Both are NUL-terminated (the NUL is not
 * counted in the lengths). On refusal they are NULL.
 */
#ifndef DUET_TRAPS_CUSTOM_H
#define DUET_TRAPS_CUSTOM_H

#include <stddef.h>

#define TRAP_CUSTOM_DEFAULT_MAX_ITEMS        1000
#define TRAP_CUSTOM_DEFAULT_MAX_DEPTH        8
#define TRAP_CUSTOM_DEFAULT_MAX_STRING_BYTES 4096
#define TRAP_CUSTOM_DETAIL_BYTES             200

/* Why a body was refused. The names (trap_custom_reason_name) are stable:
 * they appear in HTTP error bodies and metrics. */
enum trap_custom_reason {
	TRAP_CUSTOM_OK = 0,
	TRAP_CUSTOM_NOT_JSON,           /* syntax, bad UTF-8, NUL, trailing bytes, empty */
	TRAP_CUSTOM_TOO_DEEP,           /* nesting over max_depth */
	TRAP_CUSTOM_NUMBER_RANGE,       /* integer over int64, real over double */
	TRAP_CUSTOM_DUPLICATE_KEY,      /* a key twice in one object */
	TRAP_CUSTOM_NOT_OBJECT,         /* top-level value is not an object */
	TRAP_CUSTOM_UNKNOWN_KEY,        /* a key other than the documented ones */
	TRAP_CUSTOM_FACILITY_MISSING,   /* no FacilityID */
	TRAP_CUSTOM_FACILITY_TYPE,      /* FacilityID neither string nor number */
	TRAP_CUSTOM_DATA_MISSING,       /* no DATA */
	TRAP_CUSTOM_DATA_NOT_LIST,      /* DATA is not an array */
	TRAP_CUSTOM_DATA_EMPTY,         /* DATA is [] */
	TRAP_CUSTOM_TOO_MANY_ITEMS,     /* DATA longer than max_items */
	TRAP_CUSTOM_ITEM_NOT_OBJECT,    /* a DATA item is not an object */
	TRAP_CUSTOM_ITEM_MISSING_FIELD, /* an item lacks DATE, TYPE, KEY or MSG */
	TRAP_CUSTOM_ITEM_FIELD_TYPE,    /* DATE, TYPE or KEY is not a string */
	TRAP_CUSTOM_BAD_TYPE,           /* TYPE is not "NUM" or "STRING" */
	TRAP_CUSTOM_MSG_TYPE,           /* MSG does not match TYPE */
	TRAP_CUSTOM_EMPTY_STRING,       /* FacilityID, DATE or KEY is "" */
	TRAP_CUSTOM_STRING_TOO_LONG,    /* a string over max_string_bytes */
	TRAP_CUSTOM_NOMEM,              /* out of memory: not the sender's fault */
	TRAP_CUSTOM_N_REASONS
};

struct trap_custom_limits {
	unsigned max_items;      /* DATA entries; 0 = TRAP_CUSTOM_DEFAULT_MAX_ITEMS */
	unsigned max_depth;      /* nesting levels; 0 = TRAP_CUSTOM_DEFAULT_MAX_DEPTH */
	size_t max_string_bytes; /* per string; 0 = TRAP_CUSTOM_DEFAULT_MAX_STRING_BYTES */
};

struct trap_custom_result {
	enum trap_custom_reason reason;
	/* For a person: what is wrong and where ("DATA[2].MSG is a string but
	 * TYPE is NUM"); "" when accepted. */
	char detail[TRAP_CUSTOM_DETAIL_BYTES];
	unsigned n_items; /* DATA entries, when accepted */
	char *canonical;  /* malloc()ed, NUL-terminated; NULL when refused */
	size_t canonical_len;
	char *json; /* sink text, malloc()ed, NUL-terminated; NULL when refused */
	size_t json_len;
};

/*
 * Validates body[0..len) (limits may be NULL: defaults) and, if it is a
 * valid custom trap, sets out->canonical and out->json. Returns 0
 * (accepted, out->reason == TRAP_CUSTOM_OK), DUET_EINVAL (refused:
 * out->reason and out->detail say why) or DUET_ENOMEM (out->reason ==
 * TRAP_CUSTOM_NOMEM). out is always initialised, so
 * trap_custom_result_free() is always safe.
 */
int trap_custom_parse(const void *body, size_t len, const struct trap_custom_limits *limits,
		      struct trap_custom_result *out);

/* Frees out's buffers and resets it; safe to call twice. */
void trap_custom_result_free(struct trap_custom_result *out);

/* Stable snake_case name of a reason ("msg_mismatches_type"); never NULL. */
const char *trap_custom_reason_name(enum trap_custom_reason reason);

#endif
