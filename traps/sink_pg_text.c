/*
 * sink_pg_text.c - the texts of the PostgreSQL sink (sink_pg.c): its two
 * statements, the JSON array that carries the records of an INSERT, and
 * the target named in messages. Pure: no connection, no loop.
 *
 * The table name is the only part of the SQL that varies, and it is
 * checked to be [a-z_][a-z0-9_]* before it gets here (duet_sink_new), so
 * quoting it cannot be broken out of; the records never enter the SQL text.
 *
 * The records go as one parameter: the batch's lines joined with ',' into
 * a JSON array. PostgreSQL's jsonb has no room for U+0000 and refuses the
 * \u0000 escape (22P05), which would hold every later batch up for ever,
 * so it is sent as \ufffd (as the syslog decoder does for bytes that are
 * not UTF-8). Escapes are read in pairs, so "\\u0000" (a backslash, then
 * the text u0000) is left alone.
 */
#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>

#include "duet/err.h"
#include "sink_internal.h"

size_t sink_pg_param_append(char *out, const struct sink_batch *b)
{
	size_t n = 0;
	for (size_t i = 0; i < b->len;) {
		char c = b->data[i];
		if (c == '\n') {
			out[n++] = ',';
			i++;
		} else if (c == '\\' && i + 1 < b->len) {
			if (b->len - i >= 6 && memcmp(b->data + i, "\\u0000", 6) == 0) {
				memcpy(out + n, "\\ufffd", 6);
				n += 6;
				i += 6;
			} else {
				out[n++] = c;
				out[n++] = b->data[i + 1];
				i += 2;
			}
		} else {
			out[n++] = c;
			i++;
		}
	}
	return n;
}

void sink_pg_sql(const char *table, char *setup, size_t setup_cap, char *insert, size_t insert_cap)
{
	/* SET: the records are UTF-8 whatever PGCLIENTENCODING says. DO: make
	 * the table only if it is missing, so no CREATE privilege is needed
	 * for a table made beforehand. */
	snprintf(setup, setup_cap,
		 "SET client_encoding TO 'UTF8'; "
		 "DO $duet$ BEGIN IF to_regclass('\"%s\"') IS NULL THEN "
		 "CREATE TABLE IF NOT EXISTS \"%s\" (id text PRIMARY KEY, kind text NOT NULL, "
		 "sender text NOT NULL, receiver text NOT NULL, recv_ms bigint NOT NULL, "
		 "ordinal integer NOT NULL, identity text NOT NULL, trap jsonb NOT NULL, "
		 "inserted_at timestamptz NOT NULL DEFAULT now()); END IF; END $duet$",
		 table, table);
	snprintf(insert, insert_cap,
		 "INSERT INTO \"%s\" (id, kind, sender, receiver, recv_ms, ordinal, identity, "
		 "trap) SELECT r->>'id', r->>'kind', r->>'sender', r->>'receiver', "
		 "(r->>'recv_ms')::bigint, (r->>'ordinal')::integer, r->>'identity', r->'trap' "
		 "FROM jsonb_array_elements($1::jsonb) AS r ON CONFLICT (id) DO NOTHING",
		 table);
}

int sink_pg_describe(const char *conninfo, char *target, size_t cap, char *errbuf, size_t errlen)
{
	char *why = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &why);
	if (!opts) {
		if (errbuf && errlen) {
			const char *m = why ? why : "out of memory";
			snprintf(errbuf, errlen, "trap sink postgresql: bad conninfo: %.*s",
				 (int)strcspn(m, "\r\n"), m);
		}
		int rc = why ? DUET_EINVAL : DUET_ENOMEM;
		PQfreemem(why);
		return rc;
	}
	const char *host = NULL, *hostaddr = NULL, *port = NULL, *db = NULL;
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (!o->val || !o->val[0])
			continue;
		if (strcmp(o->keyword, "host") == 0)
			host = o->val;
		else if (strcmp(o->keyword, "hostaddr") == 0)
			hostaddr = o->val;
		else if (strcmp(o->keyword, "port") == 0)
			port = o->val;
		else if (strcmp(o->keyword, "dbname") == 0)
			db = o->val;
	}
	sink_msgf(target, cap, "%.60s:%.10s/%.30s",
		  hostaddr ? hostaddr : (host ? host : "(default socket)"), port ? port : "5432",
		  db ? db : "(default db)");
	PQconninfoFree(opts);
	return 0;
}
