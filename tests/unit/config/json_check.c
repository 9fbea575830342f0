/* SPDX-License-Identifier: MIT */
/*
 * json_check.c - recursive-descent JSON syntax check (json_check.h).
 */
#include "json_check.h"

#include <ctype.h>
#include <string.h>

static bool value(const char **p, int depth);

static void blanks(const char **p)
{
	while (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r')
		(*p)++;
}

static bool string(const char **p)
{
	if (**p != '"')
		return false;
	(*p)++;
	while (**p != '"') {
		unsigned char c = (unsigned char)**p;
		if (c < 0x20)
			return false; /* includes the end of the text */
		if (c == '\\') {
			(*p)++;
			if (**p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!isxdigit((unsigned char)(*p)[i]))
						return false;
				*p += 4;
			} else if (!strchr("\"\\/bfnrt", **p) || **p == '\0') {
				return false;
			}
		}
		(*p)++;
	}
	(*p)++;
	return true;
}

static bool number(const char **p)
{
	const char *s = *p;
	if (*s == '-')
		s++;
	if (*s == '0')
		s++;
	else if (isdigit((unsigned char)*s))
		while (isdigit((unsigned char)*s))
			s++;
	else
		return false;
	if (*s == '.') {
		s++;
		if (!isdigit((unsigned char)*s))
			return false;
		while (isdigit((unsigned char)*s))
			s++;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!isdigit((unsigned char)*s))
			return false;
		while (isdigit((unsigned char)*s))
			s++;
	}
	*p = s;
	return true;
}

static bool sequence(const char **p, char close, bool object, int depth)
{
	(*p)++;
	blanks(p);
	if (**p == close) {
		(*p)++;
		return true;
	}
	for (;;) {
		blanks(p);
		if (object) {
			if (!string(p))
				return false;
			blanks(p);
			if (**p != ':')
				return false;
			(*p)++;
		}
		if (!value(p, depth + 1))
			return false;
		blanks(p);
		if (**p == close) {
			(*p)++;
			return true;
		}
		if (**p != ',')
			return false;
		(*p)++;
	}
}

static bool value(const char **p, int depth)
{
	if (depth > 64)
		return false;
	blanks(p);
	switch (**p) {
	case '{':
		return sequence(p, '}', true, depth);
	case '[':
		return sequence(p, ']', false, depth);
	case '"':
		return string(p);
	case 't':
		return strncmp(*p, "true", 4) == 0 && (*p += 4);
	case 'f':
		return strncmp(*p, "false", 5) == 0 && (*p += 5);
	case 'n':
		return strncmp(*p, "null", 4) == 0 && (*p += 4);
	default:
		return number(p);
	}
}

bool json_valid(const char *s)
{
	if (!value(&s, 0))
		return false;
	blanks(&s);
	return *s == '\0';
}
