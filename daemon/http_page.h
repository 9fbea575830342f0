/* SPDX-License-Identifier: MIT */
/*
 * http_page.h - the status page that duetd's HTTP listener answers at GET /
 * (http_api.c routes to it): one self-contained HTML document for people,
 * made from the status document (status.h, duet_status_to_json: what GET
 * /status and `duetctl status --json` answer).
 *
 * The page carries a server-rendered snapshot (it is complete without
 * JavaScript) and a small inline script that asks /status every second and
 * renders the same sections from it into the same elements, with
 * textContent only (no markup from data). No external asset: the CSS and
 * the script are inline, so the page works offline and behind an admin
 * network without a route to any CDN.
 *
 * Every text of the snapshot goes through http_page_escape(): member names
 * are restricted by the config, but reasons (maintenance --why, the
 * why-not-master text, PostgreSQL's and checks' errors) are free text.
 *
 * Pure: no node, no I/O but the FILE given; unit-tested in
 * tests/unit/http_page.
 */
#ifndef DUET_HTTP_PAGE_H
#define DUET_HTTP_PAGE_H

#include <stdio.h>

#include <jansson.h>

/* The page's media type, for the Content-Type header. */
#define HTTP_PAGE_CONTENT_TYPE "text/html; charset=utf-8"

/* Writes s (NULL: nothing) HTML-escaped: & < > " ' as &amp; &lt; &gt;
 * &quot; &#39;, every other byte as it is. Safe in element text and in
 * double- or single-quoted attribute values. */
void http_page_escape(FILE *f, const char *s);

/*
 * Writes the page for `status` (a status document; not taken) into f: the
 * snapshot of the cluster as that member sees it (members with their role,
 * raft state and term, link, log and WAL lag, PostgreSQL role and LSN,
 * SYNC and checks; the master, FIP holder, SYNC state, why-not-master and
 * maintenance; the last election, takeover, fence and refusal; the trap
 * pipeline's counters), then the script. Keys missing from the document
 * (the witness has no controller, no PostgreSQL and no traps) are shown
 * as absent, never an error. Returns 0, DUET_EINVAL when status is not a
 * JSON object, or -EIO when writing to f failed.
 */
int http_page_write(FILE *f, const json_t *status);

#endif
