/* SPDX-License-Identifier: MIT */
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

#include <jansson.h>
#include <libpq-fe.h>

#include "duet/err.h"
#include "sink_internal.h"

size_t sink_pg_lines_append(char *out, const char *data, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len;) {
		char c = data[i];
		if (c == '\n') {
			out[n++] = ',';
			i++;
		} else if (c == '\\' && i + 1 < len) {
			if (len - i >= 6 && memcmp(data + i, "\\u0000", 6) == 0) {
				memcpy(out + n, "\\ufffd", 6);
				n += 6;
				i += 6;
			} else {
				out[n++] = c;
				out[n++] = data[i + 1];
				i += 2;
			}
		} else {
			out[n++] = c;
			i++;
		}
	}
	return n;
}

size_t sink_pg_param_append(char *out, const struct sink_batch *b)
{
	return sink_pg_lines_append(out, b->data, b->len);
}

bool sink_pg_refused_for_good(const char *sqlstate)
{
	if (!sqlstate || strlen(sqlstate) != 5)
		return false;
	/* 22: data exception (bad JSON, an escape or character the database
	 * cannot hold, a value out of range); 23: integrity constraint (the
	 * id's own conflict is DO NOTHING, so this is a constraint an operator
	 * added); 0A000: feature not supported (UTF8 <-> SQL_ASCII); 54000:
	 * program limit (a jsonb too big). Anything else (connection, shutdown,
	 * serialization, privileges, a missing table, a full disk) is about the
	 * server, not the record, and is retried. */
	return strncmp(sqlstate, "22", 2) == 0 || strncmp(sqlstate, "23", 2) == 0 ||
	       strcmp(sqlstate, "0A000") == 0 || strcmp(sqlstate, "54000") == 0;
}

void sink_pg_dead_table(const char *table, char *out, size_t cap)
{
	/* NAMEDATALEN: at most 58 bytes of the table name before "_dead" */
	snprintf(out, cap, "%.58s_dead", table);
}

int sink_pg_record_id(const char *line, size_t len, char *id, size_t cap)
{
	/* sink_format.c writes every record as {"id":<JSON string>,... : the
	 * string alone is decoded, so a record whose payload is not JSON
	 * still has its id */
	static const char prefix[] = "{\"id\":";
	size_t plen = sizeof prefix - 1;
	if (len <= plen || memcmp(line, prefix, plen) != 0)
		return DUET_EINVAL;
	json_error_t jerr;
	json_t *v =
	    json_loadb(line + plen, len - plen, JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK, &jerr);
	if (!v)
		return DUET_EINVAL;
	int rc = DUET_EINVAL;
	if (json_is_string(v) && json_string_length(v) < cap) {
		snprintf(id, cap, "%s", json_string_value(v));
		rc = 0;
	}
	json_decref(v);
	return rc;
}

void sink_pg_sql(const char *table, char *setup, size_t setup_cap, char *insert, size_t insert_cap,
		 char *dead_insert, size_t dead_cap)
{
	char dead[DUET_SINK_TABLE_MAX + 1];
	sink_pg_dead_table(table, dead, sizeof dead);
	/* SET: the records are UTF-8 whatever PGCLIENTENCODING says. DO: make
	 * the tables only if they are missing, so no CREATE privilege is needed
	 * for tables made beforehand. The dead letters keep the record as
	 * bytea, sent in binary: no encoding conversion can refuse it. */
	snprintf(setup, setup_cap,
		 "SET client_encoding TO 'UTF8'; "
		 "DO $duet$ BEGIN IF to_regclass('\"%s\"') IS NULL THEN "
		 "CREATE TABLE IF NOT EXISTS \"%s\" (id text PRIMARY KEY, kind text NOT NULL, "
		 "sender text NOT NULL, receiver text NOT NULL, recv_ms bigint NOT NULL, "
		 "ordinal integer NOT NULL, identity text NOT NULL, trap jsonb NOT NULL, "
		 "inserted_at timestamptz NOT NULL DEFAULT now()); END IF; "
		 "IF to_regclass('\"%s\"') IS NULL THEN "
		 "CREATE TABLE IF NOT EXISTS \"%s\" (id text PRIMARY KEY, sqlstate text NOT NULL, "
		 "message text NOT NULL, record bytea NOT NULL, "
		 "dead_at timestamptz NOT NULL DEFAULT now()); END IF; END $duet$",
		 table, table, dead, dead);
	snprintf(insert, insert_cap,
		 "INSERT INTO \"%s\" (id, kind, sender, receiver, recv_ms, ordinal, identity, "
		 "trap) SELECT r->>'id', r->>'kind', r->>'sender', r->>'receiver', "
		 "(r->>'recv_ms')::bigint, (r->>'ordinal')::integer, r->>'identity', r->'trap' "
		 "FROM jsonb_array_elements($1::jsonb) AS r ON CONFLICT (id) DO NOTHING",
		 table);
	snprintf(dead_insert, dead_cap,
		 "INSERT INTO \"%s\" (id, sqlstate, message, record) VALUES ($1, $2, $3, $4) "
		 "ON CONFLICT (id) DO NOTHING",
		 dead);
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
