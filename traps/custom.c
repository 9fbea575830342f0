/* SPDX-License-Identifier: MIT */
/*
 * custom.c - custom traps: validation and canonical form of the JSON body
 * (behaviour and the exact canonical form are documented in
 * include/duet/traps_custom.h; DESIGN.md section 5).
 *
 * Order of work, so that hostile input costs little:
 *  1. a linear scan of the raw text for nesting depth (nothing allocated;
 *     Jansson's parser recurses, and a 256 KiB body of '[' would otherwise
 *     build a deep tree first);
 *  2. Jansson parses with JSON_REJECT_DUPLICATES (a repeated key is a
 *     refusal, not "last one wins");
 *  3. the schema is checked top-down, first fault wins, in a fixed order
 *     (top-level keys, FacilityID, DATA, then each item's keys, fields,
 *     TYPE, MSG), so a given body always gets the same reason;
 *  4. numbers are normalised in place (integral doubles become integers)
 *     and the smallest round-trip precision is found for the others;
 *  5. json_dumpb() with JSON_COMPACT | JSON_SORT_KEYS writes the canonical
 *     bytes, and the sink text is built around them by concatenation.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "duet/err.h"
#include "duet/traps_custom.h"

#define SINK_PREFIX "{\"kind\":\"custom\",\"trap\":"
#define SINK_SUFFIX "}"

struct checker {
	struct trap_custom_limits lim;
	struct trap_custom_result *out;
	int max_precision; /* over the reals left after normalisation; 0: none */
};

const char *trap_custom_reason_name(enum trap_custom_reason reason)
{
	switch (reason) {
	case TRAP_CUSTOM_OK:
		return "ok";
	case TRAP_CUSTOM_NOT_JSON:
		return "not_json";
	case TRAP_CUSTOM_TOO_DEEP:
		return "too_deep";
	case TRAP_CUSTOM_NUMBER_RANGE:
		return "number_out_of_range";
	case TRAP_CUSTOM_DUPLICATE_KEY:
		return "duplicate_key";
	case TRAP_CUSTOM_NOT_OBJECT:
		return "not_an_object";
	case TRAP_CUSTOM_UNKNOWN_KEY:
		return "unknown_key";
	case TRAP_CUSTOM_FACILITY_MISSING:
		return "facility_missing";
	case TRAP_CUSTOM_FACILITY_TYPE:
		return "facility_type";
	case TRAP_CUSTOM_DATA_MISSING:
		return "data_missing";
	case TRAP_CUSTOM_DATA_NOT_LIST:
		return "data_not_list";
	case TRAP_CUSTOM_DATA_EMPTY:
		return "data_empty";
	case TRAP_CUSTOM_TOO_MANY_ITEMS:
		return "too_many_items";
	case TRAP_CUSTOM_ITEM_NOT_OBJECT:
		return "item_not_object";
	case TRAP_CUSTOM_ITEM_MISSING_FIELD:
		return "item_missing_field";
	case TRAP_CUSTOM_ITEM_FIELD_TYPE:
		return "item_field_type";
	case TRAP_CUSTOM_BAD_TYPE:
		return "type_not_num_or_string";
	case TRAP_CUSTOM_MSG_TYPE:
		return "msg_mismatches_type";
	case TRAP_CUSTOM_EMPTY_STRING:
		return "empty_string";
	case TRAP_CUSTOM_STRING_TOO_LONG:
		return "string_too_long";
	case TRAP_CUSTOM_NOMEM:
		return "out_of_memory";
	case TRAP_CUSTOM_N_REASONS:
		break;
	}
	return "unknown";
}

static int refuse(struct checker *c, enum trap_custom_reason reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int refuse(struct checker *c, enum trap_custom_reason reason, const char *fmt, ...)
{
	c->out->reason = reason;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->out->detail, sizeof c->out->detail, fmt, ap);
	va_end(ap);
	return reason == TRAP_CUSTOM_NOMEM ? DUET_ENOMEM : DUET_EINVAL;
}

/* A sender's key, shortened and made printable for a detail message. */
static const char *printable(const char *s, char *buf, size_t cap)
{
	size_t n = 0;
	for (; *s && n + 4 < cap; s++)
		buf[n++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	if (*s) {
		buf[n++] = '.';
		buf[n++] = '.';
		buf[n++] = '.';
	}
	buf[n] = 0;
	return buf;
}

/* Step 1: nesting depth of the raw text, strings skipped. Malformed text
 * is the parser's business; this only bounds what the parser will see. */
static int check_depth(struct checker *c, const unsigned char *p, size_t len)
{
	unsigned depth = 0;
	int in_string = 0, escaped = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = p[i];
		if (in_string) {
			if (escaped)
				escaped = 0;
			else if (ch == '\\')
				escaped = 1;
			else if (ch == '"')
				in_string = 0;
		} else if (ch == '"') {
			in_string = 1;
		} else if (ch == '[' || ch == '{') {
			if (++depth > c->lim.max_depth)
				return refuse(c, TRAP_CUSTOM_TOO_DEEP,
					      "nesting deeper than %u levels at byte %zu",
					      c->lim.max_depth, i);
		} else if ((ch == ']' || ch == '}') && depth > 0) {
			depth--;
		}
	}
	return 0;
}

static int check_string(struct checker *c, const json_t *v, const char *where, int may_be_empty)
{
	size_t n = json_string_length(v);
	if (n > c->lim.max_string_bytes)
		return refuse(c, TRAP_CUSTOM_STRING_TOO_LONG, "%s is %zu bytes, the limit is %zu",
			      where, n, c->lim.max_string_bytes);
	if (n == 0 && !may_be_empty)
		return refuse(c, TRAP_CUSTOM_EMPTY_STRING, "%s is an empty string", where);
	return 0;
}

static int shortest_precision(double v)
{
	char buf[40];
	for (int p = 1; p < 17; p++) {
		snprintf(buf, sizeof buf, "%.*g", p, v);
		if (strtod(buf, NULL) == v)
			return p;
	}
	return 17;
}

/*
 * Step 4 for one number stored under `key` in `obj`: an integral double in
 * the int64 range becomes an integer; any other double stays a real and
 * raises the precision the dump needs.
 */
static int normalise_number(struct checker *c, json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	if (!json_is_real(v))
		return 0;
	double d = json_real_value(v);
	if (d == floor(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
		if (json_object_set_new(obj, key, json_integer((json_int_t)d)) != 0)
			return refuse(c, TRAP_CUSTOM_NOMEM, "out of memory");
		return 0;
	}
	int p = shortest_precision(d);
	if (p > c->max_precision)
		c->max_precision = p;
	return 0;
}

static int check_top_keys(struct checker *c, json_t *root)
{
	char buf[48];
	for (void *it = json_object_iter(root); it; it = json_object_iter_next(root, it)) {
		const char *key = json_object_iter_key(it);
		if (strcmp(key, "FacilityID") != 0 && strcmp(key, "DATA") != 0)
			return refuse(c, TRAP_CUSTOM_UNKNOWN_KEY,
				      "unknown key \"%s\" (the keys are FacilityID and DATA, "
				      "case-sensitive)",
				      printable(key, buf, sizeof buf));
	}
	json_t *fac = json_object_get(root, "FacilityID");
	if (!fac)
		return refuse(c, TRAP_CUSTOM_FACILITY_MISSING, "FacilityID is missing");
	if (json_is_string(fac))
		return check_string(c, fac, "FacilityID", 0);
	if (!json_is_number(fac))
		return refuse(c, TRAP_CUSTOM_FACILITY_TYPE,
			      "FacilityID must be a string or a number");
	return 0;
}

static const char *const item_fields[4] = {"DATE", "TYPE", "KEY", "MSG"};

static int check_item(struct checker *c, json_t *item, size_t i)
{
	char where[64], buf[48];
	if (!json_is_object(item))
		return refuse(c, TRAP_CUSTOM_ITEM_NOT_OBJECT, "DATA[%zu] is not an object", i);
	for (void *it = json_object_iter(item); it; it = json_object_iter_next(item, it)) {
		const char *key = json_object_iter_key(it);
		int known = 0;
		for (int f = 0; f < 4; f++)
			known |= strcmp(key, item_fields[f]) == 0;
		if (!known)
			return refuse(c, TRAP_CUSTOM_UNKNOWN_KEY,
				      "DATA[%zu] has unknown key \"%s\" (the keys are DATE, TYPE, "
				      "KEY and MSG, case-sensitive)",
				      i, printable(key, buf, sizeof buf));
	}
	for (int f = 0; f < 4; f++)
		if (!json_object_get(item, item_fields[f]))
			return refuse(c, TRAP_CUSTOM_ITEM_MISSING_FIELD, "DATA[%zu].%s is missing",
				      i, item_fields[f]);
	for (int f = 0; f < 3; f++) { /* DATE, TYPE, KEY */
		json_t *v = json_object_get(item, item_fields[f]);
		snprintf(where, sizeof where, "DATA[%zu].%s", i, item_fields[f]);
		if (!json_is_string(v))
			return refuse(c, TRAP_CUSTOM_ITEM_FIELD_TYPE, "%s must be a string", where);
		int rc = check_string(c, v, where, 0);
		if (rc)
			return rc;
	}
	const char *type = json_string_value(json_object_get(item, "TYPE"));
	int is_num = strcmp(type, "NUM") == 0;
	if (!is_num && strcmp(type, "STRING") != 0)
		return refuse(c, TRAP_CUSTOM_BAD_TYPE,
			      "DATA[%zu].TYPE is \"%s\"; it must be \"NUM\" or \"STRING\"", i,
			      printable(type, buf, sizeof buf));
	json_t *msg = json_object_get(item, "MSG");
	snprintf(where, sizeof where, "DATA[%zu].MSG", i);
	if (is_num) {
		if (!json_is_number(msg))
			return refuse(c, TRAP_CUSTOM_MSG_TYPE, "%s must be a number: TYPE is NUM",
				      where);
		return normalise_number(c, item, "MSG");
	}
	if (!json_is_string(msg))
		return refuse(c, TRAP_CUSTOM_MSG_TYPE, "%s must be a string: TYPE is STRING",
			      where);
	return check_string(c, msg, where, 1);
}

static int check_root(struct checker *c, json_t *root)
{
	if (!json_is_object(root))
		return refuse(c, TRAP_CUSTOM_NOT_OBJECT,
			      "the body must be a JSON object with FacilityID and DATA");
	int rc = check_top_keys(c, root);
	if (rc)
		return rc;
	json_t *data = json_object_get(root, "DATA");
	if (!data)
		return refuse(c, TRAP_CUSTOM_DATA_MISSING, "DATA is missing");
	if (!json_is_array(data))
		return refuse(c, TRAP_CUSTOM_DATA_NOT_LIST, "DATA must be a list of items");
	size_t n = json_array_size(data);
	if (n == 0)
		return refuse(c, TRAP_CUSTOM_DATA_EMPTY, "DATA is an empty list");
	if (n > c->lim.max_items)
		return refuse(c, TRAP_CUSTOM_TOO_MANY_ITEMS, "DATA has %zu items, the limit is %u",
			      n, c->lim.max_items);
	for (size_t i = 0; i < n; i++) {
		rc = check_item(c, json_array_get(data, i), i);
		if (rc)
			return rc;
	}
	c->out->n_items = (unsigned)n;
	return normalise_number(c, root, "FacilityID");
}

static int parse_error(struct checker *c, const json_error_t *e)
{
	switch (json_error_code(e)) {
	case json_error_duplicate_key:
		return refuse(c, TRAP_CUSTOM_DUPLICATE_KEY, "a key appears twice: %s at byte %d",
			      e->text, e->position);
	case json_error_numeric_overflow:
		return refuse(c, TRAP_CUSTOM_NUMBER_RANGE, "number out of range: %s at byte %d",
			      e->text, e->position);
	case json_error_out_of_memory:
		return refuse(c, TRAP_CUSTOM_NOMEM, "out of memory");
	case json_error_stack_overflow:
		return refuse(c, TRAP_CUSTOM_TOO_DEEP, "nesting too deep at byte %d", e->position);
	default:
		return refuse(c, TRAP_CUSTOM_NOT_JSON, "not JSON: %s at byte %d", e->text,
			      e->position);
	}
}

/* Step 5: canonical bytes, then the sink text around them. */
static int dump(struct checker *c, const json_t *root)
{
	struct trap_custom_result *out = c->out;
	size_t flags = JSON_COMPACT | JSON_SORT_KEYS |
		       JSON_REAL_PRECISION(c->max_precision ? c->max_precision : 17);
	size_t n = json_dumpb(root, NULL, 0, flags);
	if (n == 0)
		return refuse(c, TRAP_CUSTOM_NOMEM, "out of memory");
	size_t prefix = sizeof SINK_PREFIX - 1, suffix = sizeof SINK_SUFFIX - 1;
	out->canonical = malloc(n + 1);
	out->json = malloc(prefix + n + suffix + 1);
	if (!out->canonical || !out->json)
		return refuse(c, TRAP_CUSTOM_NOMEM, "out of memory");
	if (json_dumpb(root, out->canonical, n, flags) != n)
		return refuse(c, TRAP_CUSTOM_NOMEM, "out of memory");
	out->canonical[n] = 0;
	out->canonical_len = n;
	memcpy(out->json, SINK_PREFIX, prefix);
	memcpy(out->json + prefix, out->canonical, n);
	memcpy(out->json + prefix + n, SINK_SUFFIX, suffix + 1);
	out->json_len = prefix + n + suffix;
	return 0;
}

int trap_custom_parse(const void *body, size_t len, const struct trap_custom_limits *limits,
		      struct trap_custom_result *out)
{
	memset(out, 0, sizeof *out);
	struct checker c = {.out = out};
	if (limits)
		c.lim = *limits;
	if (!c.lim.max_items)
		c.lim.max_items = TRAP_CUSTOM_DEFAULT_MAX_ITEMS;
	if (!c.lim.max_depth)
		c.lim.max_depth = TRAP_CUSTOM_DEFAULT_MAX_DEPTH;
	if (!c.lim.max_string_bytes)
		c.lim.max_string_bytes = TRAP_CUSTOM_DEFAULT_MAX_STRING_BYTES;

	int rc = check_depth(&c, body, len);
	if (rc)
		return rc;
	json_error_t err;
	json_t *root = json_loadb(body, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &err);
	if (!root)
		return parse_error(&c, &err);
	rc = check_root(&c, root);
	if (rc == 0)
		rc = dump(&c, root);
	json_decref(root);
	if (rc) {
		enum trap_custom_reason reason = out->reason;
		char detail[sizeof out->detail];
		memcpy(detail, out->detail, sizeof detail);
		trap_custom_result_free(out);
		out->reason = reason;
		memcpy(out->detail, detail, sizeof detail);
	}
	return rc;
}

void trap_custom_result_free(struct trap_custom_result *out)
{
	free(out->canonical);
	free(out->json);
	memset(out, 0, sizeof *out);
}
