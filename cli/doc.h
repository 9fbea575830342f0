/* SPDX-License-Identifier: MIT */
/*
 * doc.h - duetctl's side of the admin socket (daemon/admin.c): one JSON
 * request line out, one JSON reply line back, both through jansson.
 *
 * Every command that asks a daemon goes through here, so a request is
 * always built by json_pack()/json_dumps() (texts such as --why leave
 * intact: quotes, backslashes, UTF-8) and a reply is always parsed by
 * json_loads(), never by searching the text for a key. What a command
 * needs from a reply it takes with duetctl_doc_unpack(), which names the
 * missing or mistyped key in its error ("status reply: missing key
 * .lease.valid"), so a daemon that changes its document is caught with a
 * clear sentence instead of a silently wrong table.
 *
 * Errors are returned as a sentence in err (errlen bytes, always NUL
 * terminated); nothing here prints.
 */
#ifndef DUETCTL_DOC_H
#define DUETCTL_DOC_H

#include <stddef.h>

#include <jansson.h>

/* How long duetctl_ask() waits for an answer, in seconds. */
#define DUETCTL_ASK_TIMEOUT_S 5

enum duetctl_doc_rc {
	DUETCTL_DOC_OK = 0,
	DUETCTL_DOC_UNREACHABLE = -1, /* no answer: connect, write, read, timeout */
	DUETCTL_DOC_BAD_REPLY = -2,   /* an answer that is not a JSON object */
};

/* A reply: the line as received (for --json, printed unchanged) and the
 * object parsed from it. Both owned by the struct. */
struct duetctl_reply {
	char *text;
	json_t *doc;
};

/* Sends req (borrowed; a JSON object, written compact on one line) to the
 * admin socket at path and waits up to timeout_s seconds for the reply
 * line, parsed into *out. `what` names the reply in errors ("status
 * reply"). Returns a duetctl_doc_rc; on error *out is empty. */
int duetctl_doc_ask(const char *path, const json_t *req, unsigned timeout_s, const char *what,
		    struct duetctl_reply *out, char *err, size_t errlen);

/* Parses text (one reply line) as a JSON object; NULL with a sentence
 * ("WHAT: not JSON: ...", "WHAT: not a JSON object") in err. The caller
 * owns the result (json_decref). */
json_t *duetctl_doc_parse(const char *text, const char *what, char *err, size_t errlen);

void duetctl_reply_free(struct duetctl_reply *r);

/* json_unpack() of obj, which sits at `path` in the reply ("" for the top,
 * ".lease", ".peers[1]"), with a flat object format: "{s:T, s?T, ...}"
 * where T is one of s b i I F o (no nesting: unpack a nested object with
 * its own call). On failure returns -1 with err naming the first key that
 * is absent ("WHAT: missing key PATH.KEY") or of another type ("WHAT: key
 * PATH.KEY is a string, expected an integer"). */
int duetctl_doc_unpack(const json_t *obj, const char *what, const char *path, char *err,
		       size_t errlen, const char *fmt, ...);

/* The object or array member `key` of obj when it is of that type (for
 * the optional parts of a document), else NULL. */
json_t *duetctl_doc_object(const json_t *obj, const char *key);
json_t *duetctl_doc_array(const json_t *obj, const char *key);

/* A scalar as a person reads it: a string as it is, a number, true, false
 * and null as JSON writes them, "-" for NULL (absent). buf holds numbers. */
const char *duetctl_doc_text(const json_t *v, char *buf, size_t cap);

/* A reply's "error" string, or NULL when it has none. */
const char *duetctl_doc_error(const json_t *doc);

#endif
