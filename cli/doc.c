/* SPDX-License-Identifier: MIT */
/*
 * doc.c - requests to and replies from a daemon's admin socket, through
 * jansson (doc.h).
 *
 * The socket part is plain blocking I/O with a receive and send timeout:
 * duetctl asks one question and waits for one line. A reply is bounded
 * (DOC_MAX_REPLY_BYTES); a longer one is an error, not a cut document.
 * duetctl_doc_unpack() leaves the unpacking to json_unpack() and only when
 * that fails walks the (flat) format again to say which key was absent or
 * of the wrong type, since jansson's own message does not name the key of
 * a type mismatch.
 */
#include "doc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define DOC_MAX_REPLY_BYTES (1u << 20)

/* Sends line (with its newline) and returns the reply line (malloc'd,
 * newline removed) or NULL with a sentence in err. */
static char *ask_line(const char *path, const char *line, unsigned timeout_s, char *err,
		      size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sa.sun_path) {
		snprintf(err, errlen, "socket path %s is too long", path);
		return NULL;
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return NULL;
	}
	struct timeval tv = {(time_t)timeout_s, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		snprintf(err, errlen,
			 "cannot connect to %s: %s; is the daemon running, and is this its "
			 "admin_socket?",
			 path, strerror(errno));
		close(fd);
		return NULL;
	}
	size_t line_len = strlen(line);
	if (write(fd, line, line_len) != (ssize_t)line_len) {
		snprintf(err, errlen, "write to %s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	if (!buf)
		snprintf(err, errlen, "out of memory");
	while (buf) {
		if (len + 1 >= cap) {
			if (cap >= DOC_MAX_REPLY_BYTES) {
				snprintf(err, errlen, "reply from %s over %u bytes", path,
					 DOC_MAX_REPLY_BYTES);
				break;
			}
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				snprintf(err, errlen, "out of memory");
				break;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + len, cap - 1 - len);
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			snprintf(err, errlen, "no answer from %s within %u s", path, timeout_s);
			break;
		}
		if (r <= 0) {
			snprintf(err, errlen, "read from %s: %s", path,
				 r == 0 ? "connection closed" : strerror(errno));
			break;
		}
		len += (size_t)r;
		buf[len] = 0;
		char *nl = memchr(buf, '\n', len);
		if (nl) {
			*nl = 0;
			close(fd);
			return buf;
		}
	}
	free(buf);
	close(fd);
	return NULL;
}

json_t *duetctl_doc_parse(const char *text, const char *what, char *err, size_t errlen)
{
	json_error_t je;
	json_t *doc = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	if (!doc) {
		snprintf(err, errlen, "%s: not JSON: %s (at byte %d)", what, je.text, je.position);
		return NULL;
	}
	if (!json_is_object(doc)) {
		snprintf(err, errlen, "%s: not a JSON object", what);
		json_decref(doc);
		return NULL;
	}
	return doc;
}

int duetctl_doc_ask(const char *path, const json_t *req, unsigned timeout_s, const char *what,
		    struct duetctl_reply *out, char *err, size_t errlen)
{
	out->text = NULL;
	out->doc = NULL;
	char *body = json_dumps(req, JSON_COMPACT);
	size_t n = body ? strlen(body) : 0;
	char *line = body ? malloc(n + 2) : NULL;
	if (!line) {
		free(body);
		snprintf(err, errlen, "out of memory");
		return DUETCTL_DOC_UNREACHABLE;
	}
	memcpy(line, body, n);
	memcpy(line + n, "\n", 2);
	free(body);
	char *text = ask_line(path, line, timeout_s, err, errlen);
	free(line);
	if (!text)
		return DUETCTL_DOC_UNREACHABLE;
	json_t *doc = duetctl_doc_parse(text, what, err, errlen);
	if (!doc) {
		free(text);
		return DUETCTL_DOC_BAD_REPLY;
	}
	out->text = text;
	out->doc = doc;
	return DUETCTL_DOC_OK;
}

void duetctl_reply_free(struct duetctl_reply *r)
{
	free(r->text);
	json_decref(r->doc);
	r->text = NULL;
	r->doc = NULL;
}

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a real number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	default:
		return "null";
	}
}

/* What format letter c wants, or NULL when v is of that type. */
static const char *mismatch(char c, const json_t *v)
{
	switch (c) {
	case 's':
		return json_is_string(v) ? NULL : "a string";
	case 'b':
		return json_is_boolean(v) ? NULL : "true or false";
	case 'i':
	case 'I':
		return json_is_integer(v) ? NULL : "an integer";
	case 'F':
		return json_is_number(v) ? NULL : "a number";
	default:
		return NULL; /* o, O: anything */
	}
}

/* Walks a flat "{s:T ...}" format with its arguments; the first key that
 * is absent (and not optional) or mistyped, into err. false if none is. */
static bool explain(const json_t *obj, const char *what, const char *path, const char *fmt,
		    va_list ap, char *err, size_t errlen)
{
	const char *p = fmt;
	while (*p) {
		if (strchr("{}:, \t", *p)) {
			p++;
			continue;
		}
		if (*p != 's')
			return false; /* not a flat object format */
		const char *key = va_arg(ap, const char *);
		bool optional = p[1] == '?';
		p += optional ? 2 : 1;
		while (*p && strchr(": \t", *p))
			p++;
		char c = *p;
		if (!c || !strchr("sbiIFoO", c))
			return false;
		p++;
		(void)va_arg(ap, void *);
		const json_t *v = json_object_get(obj, key);
		if (!v && !optional) {
			snprintf(err, errlen, "%s: missing key %s.%s", what, path, key);
			return true;
		}
		const char *want = v ? mismatch(c, v) : NULL;
		if (want) {
			snprintf(err, errlen, "%s: key %s.%s is %s, expected %s", what, path, key,
				 type_name(v), want);
			return true;
		}
	}
	return false;
}

int duetctl_doc_unpack(const json_t *obj, const char *what, const char *path, char *err,
		       size_t errlen, const char *fmt, ...)
{
	if (!json_is_object(obj)) {
		snprintf(err, errlen, "%s: %s is %s, expected an object", what,
			 path[0] ? path : "the reply", obj ? type_name(obj) : "missing");
		return -1;
	}
	json_error_t je;
	va_list ap;
	va_start(ap, fmt);
	int rc = json_vunpack_ex((json_t *)obj, &je, 0, fmt, ap);
	va_end(ap);
	if (rc == 0)
		return 0;
	va_start(ap, fmt);
	bool said = explain(obj, what, path, fmt, ap, err, errlen);
	va_end(ap);
	if (!said)
		snprintf(err, errlen, "%s: %s: %s", what, path[0] ? path : "the reply", je.text);
	return -1;
}

json_t *duetctl_doc_object(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return json_is_object(v) ? v : NULL;
}

json_t *duetctl_doc_array(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return json_is_array(v) ? v : NULL;
}

const char *duetctl_doc_text(const json_t *v, char *buf, size_t cap)
{
	if (!v)
		return "-";
	switch (json_typeof(v)) {
	case JSON_STRING:
		return json_string_value(v);
	case JSON_INTEGER:
		snprintf(buf, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return buf;
	case JSON_REAL:
		snprintf(buf, cap, "%.17g", json_real_value(v));
		return buf;
	case JSON_TRUE:
		return "true";
	case JSON_FALSE:
		return "false";
	case JSON_NULL:
		return "null";
	default:
		return "-";
	}
}

const char *duetctl_doc_error(const json_t *doc)
{
	const json_t *e = json_object_get(doc, "error");
	return json_is_string(e) ? json_string_value(e) : NULL;
}
