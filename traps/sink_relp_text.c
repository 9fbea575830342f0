/* SPDX-License-Identifier: MIT */
/*
 * sink_relp_text.c - the texts of the RELP sink (sink_internal.h): the
 * offers of its "open" and the syslog message of each record. Pure, apart
 * from the socket code in sink_relp.c, so the exact bytes rsyslog gets are
 * unit-tested (tests/unit/traps_sink/test_relp_frame.c).
 *
 * A record goes as RFC 5424 with every header field but APP-NAME nil, its
 * id in structured data and the record's JSON line as MSG:
 *   <134>1 - - duet - - [duet@32473 id="<id>"] {"id":"<id>",...}
 * (local0.info; 32473 is the enterprise number RFC 5612 reserves for
 * examples: duet has none of its own). In the PARAM-VALUE '"', '\' and ']'
 * are escaped with '\' (RFC 5424 6.3.3). A message longer than the limit
 * becomes a notice (local0.err) with the same id:
 *   <131>1 - - duet - - [duet@32473 id="<id>" dead_letter="too_big"
 *   bytes="N"] duet: this trap record of N bytes is larger than ...
 */
#include <stdio.h>
#include <string.h>

#include "sink_internal.h"

#ifndef DUET_VERSION
#define DUET_VERSION "0"
#endif

#define MSG_HEAD  "<134>1 - - duet - - [" SINK_RELP_SD_ID " id=\""
#define DEAD_HEAD "<131>1 - - duet - - [" SINK_RELP_SD_ID " id=\""

const char sink_relp_open_offers[] =
    "relp_version=0\nrelp_software=duet," DUET_VERSION "\ncommands=syslog";

static size_t sd_value(const char *id, char *out)
{
	size_t n = 0;
	for (const char *p = id; *p; p++) {
		if (*p == '"' || *p == '\\' || *p == ']')
			out[n++] = '\\';
		out[n++] = *p;
	}
	return n;
}

void sink_relp_msg_init(struct sink_relp_msg *m, const char *line, size_t len, size_t max)
{
	if (sink_pg_record_id(line, len, m->id, sizeof m->id))
		snprintf(m->id, sizeof m->id, "?"); /* cannot happen: sink_format.c wrote it */
	m->esc_len = sd_value(m->id, m->esc);
	m->line = line;
	m->line_len = len;
	m->len = sizeof MSG_HEAD - 1 + m->esc_len + 3 + len; /* "] and SP after the id */
	m->dead = m->len > max;
	if (m->dead) {
		int k = snprintf(m->notice, sizeof m->notice,
				 DEAD_HEAD "%.*s\" dead_letter=\"too_big\" bytes=\"%zu\"] duet: "
					   "this trap record of %zu bytes is larger than [sink] "
					   "max_message_bytes %zu and was not delivered",
				 (int)m->esc_len, m->esc, len, len, max);
		m->len = k < 0                          ? 0
			 : (size_t)k < sizeof m->notice ? (size_t)k
							: sizeof m->notice - 1;
	}
}

void sink_relp_msg_write(const struct sink_relp_msg *m, char *out)
{
	if (m->dead) {
		memcpy(out, m->notice, m->len);
		return;
	}
	size_t k = sizeof MSG_HEAD - 1;
	memcpy(out, MSG_HEAD, k);
	memcpy(out + k, m->esc, m->esc_len);
	k += m->esc_len;
	memcpy(out + k, "\"] ", 3);
	memcpy(out + k + 3, m->line, m->line_len);
}
