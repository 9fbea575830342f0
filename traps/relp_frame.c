/* SPDX-License-Identifier: MIT */
/*
 * relp_frame.c - the RELP wire format (traps_relp_frame.h): frames, rsp
 * data, offers, transaction numbers. Pure and separate from the transport
 * (sink_relp.c) so that every byte a receiver may send reaches this code in
 * unit tests and under the fuzzer (tests/fuzz/fuzz_relp_frame.c) without a
 * socket.
 *
 * The decoder walks the header once, byte by byte, and decides at each
 * byte: a byte that no valid frame could have there is RELP_FRAME_BAD at
 * once, a DATALEN that already exceeds max_data is RELP_FRAME_TOO_BIG at
 * once (more digits only make it bigger), and only a valid prefix is
 * RELP_FRAME_NEED_MORE. The caller therefore never buffers more than
 * RELP_FRAME_HEADER_MAX + max_data + 1 bytes for one frame.
 */
#include <string.h>

#include "duet/traps_relp_frame.h"

static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static bool is_letter(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Reads 1..RELP_DIGITS_MAX digits at buf[*i..len) ending in a non-digit;
 * stops early (TOO_BIG) once the value passes limit. */
static enum relp_frame_status number(const uint8_t *buf, size_t len, size_t *i, uint64_t limit,
				     uint64_t *out)
{
	uint64_t v = 0;
	size_t digits = 0;
	while (*i < len && is_digit(buf[*i])) {
		if (++digits > RELP_DIGITS_MAX)
			return RELP_FRAME_BAD;
		v = v * 10 + (uint64_t)(buf[*i] - '0');
		if (v > limit)
			return RELP_FRAME_TOO_BIG;
		(*i)++;
	}
	if (*i == len)
		return RELP_FRAME_NEED_MORE;
	if (digits == 0)
		return RELP_FRAME_BAD;
	*out = v;
	return RELP_FRAME_OK;
}

enum relp_frame_status relp_frame_decode(const uint8_t *buf, size_t len, size_t max_data,
					 struct relp_frame *f, size_t *used)
{
	if (max_data > RELP_DATA_MAX)
		max_data = RELP_DATA_MAX;
	size_t i = 0;
	uint64_t txnr = 0, datalen = 0;
	enum relp_frame_status st = number(buf, len, &i, RELP_TXNR_MAX, &txnr);
	if (st != RELP_FRAME_OK)
		return st == RELP_FRAME_TOO_BIG ? RELP_FRAME_BAD : st; /* cannot happen: 9 digits */
	if (buf[i++] != ' ')
		return RELP_FRAME_BAD;
	char command[RELP_COMMAND_MAX + 1];
	size_t n_letters = 0;
	while (i < len && is_letter(buf[i])) {
		if (n_letters == RELP_COMMAND_MAX)
			return RELP_FRAME_BAD;
		command[n_letters++] = (char)buf[i++];
	}
	if (i == len)
		return RELP_FRAME_NEED_MORE;
	if (n_letters == 0 || buf[i++] != ' ')
		return RELP_FRAME_BAD;
	command[n_letters] = 0;
	st = number(buf, len, &i, max_data, &datalen);
	if (st != RELP_FRAME_OK)
		return st;
	size_t data_at = i;
	if (datalen > 0) {
		if (buf[i++] != ' ')
			return RELP_FRAME_BAD;
		data_at = i;
		if (len - i < datalen)
			return RELP_FRAME_NEED_MORE;
		i += (size_t)datalen;
	}
	if (i == len)
		return RELP_FRAME_NEED_MORE;
	if (buf[i++] != '\n')
		return RELP_FRAME_BAD;
	f->txnr = (uint32_t)txnr;
	memcpy(f->command, command, n_letters + 1);
	f->data = datalen ? buf + data_at : NULL;
	f->len = (size_t)datalen;
	*used = i;
	return RELP_FRAME_OK;
}

const char *relp_frame_status_text(enum relp_frame_status st)
{
	switch (st) {
	case RELP_FRAME_OK:
		return "a valid frame";
	case RELP_FRAME_NEED_MORE:
		return "an incomplete frame";
	case RELP_FRAME_BAD:
		return "not a RELP frame";
	case RELP_FRAME_TOO_BIG:
		return "a frame bigger than allowed";
	}
	return "an unknown status";
}

static size_t digits_of(uint64_t v, char *out)
{
	char tmp[24];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t k = 0; k < n; k++)
		out[k] = tmp[n - 1 - k];
	return n;
}

size_t relp_frame_header_len(uint32_t txnr, const char *command, size_t len)
{
	char tmp[24];
	return digits_of(txnr, tmp) + 1 + strlen(command) + 1 + digits_of(len, tmp) + (len ? 1 : 0);
}

size_t relp_frame_header(uint32_t txnr, const char *command, size_t len, char *out)
{
	size_t n = digits_of(txnr, out);
	out[n++] = ' ';
	size_t c = strlen(command);
	memcpy(out + n, command, c);
	n += c;
	out[n++] = ' ';
	n += digits_of(len, out + n);
	if (len)
		out[n++] = ' ';
	return n;
}

uint32_t relp_txnr_next(uint32_t t)
{
	return t >= RELP_TXNR_MAX ? 1 : t + 1;
}

uint32_t relp_txnr_of(uint64_t n)
{
	return (uint32_t)(n % RELP_TXNR_MAX) + 1;
}

bool relp_txnr_find(uint32_t t, uint64_t oldest, uint64_t next, uint64_t *n)
{
	if (t < 1 || t > RELP_TXNR_MAX || next <= oldest || next - oldest > RELP_TXNR_MAX)
		return false;
	uint64_t base = relp_txnr_of(oldest); /* TXNR of oldest */
	uint64_t ahead = ((uint64_t)t + RELP_TXNR_MAX - base) % RELP_TXNR_MAX;
	if (ahead >= next - oldest)
		return false;
	*n = oldest + ahead;
	return true;
}

bool relp_rsp_parse(const uint8_t *data, size_t len, struct relp_rsp *r)
{
	if (len < 3 || !is_digit(data[0]) || !is_digit(data[1]) || !is_digit(data[2]))
		return false;
	if (len > 3 && data[3] != ' ' && data[3] != '\n')
		return false;
	r->code = (unsigned)((data[0] - '0') * 100 + (data[1] - '0') * 10 + (data[2] - '0'));
	size_t i = 3;
	if (i < len && data[i] == ' ')
		i++;
	const uint8_t *nl = memchr(data + i, '\n', len - i);
	size_t end = nl ? (size_t)(nl - data) : len;
	r->text = data + i;
	r->text_len = end - i;
	r->body = nl ? nl + 1 : data + len;
	r->body_len = nl ? len - end - 1 : 0;
	return true;
}

bool relp_offers_have(const uint8_t *offers, size_t len, const char *name, const char *value)
{
	size_t name_len = strlen(name), value_len = value ? strlen(value) : 0;
	size_t i = 0;
	while (i < len) {
		const uint8_t *nl = memchr(offers + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - offers) : len;
		const uint8_t *line = offers + i;
		size_t line_len = end - i;
		const uint8_t *eq = memchr(line, '=', line_len);
		size_t key_len = eq ? (size_t)(eq - line) : line_len;
		if (key_len == name_len && memcmp(line, name, name_len) == 0) {
			if (!value)
				return true;
			size_t v = eq ? key_len + 1 : line_len;
			while (v < line_len) {
				const uint8_t *comma = memchr(line + v, ',', line_len - v);
				size_t v_end = comma ? (size_t)(comma - line) : line_len;
				if (v_end - v == value_len &&
				    memcmp(line + v, value, value_len) == 0)
					return true;
				v = v_end + 1;
			}
		}
		i = end + 1;
	}
	return false;
}
