/* SPDX-License-Identifier: MIT */
/*
 * http_api.h - duetd's own HTTP endpoints (DESIGN.md 8), for load
 * balancers, agents that try a list of manager addresses, and Prometheus:
 *
 *   GET /master   200 only on the ACTING master: ctl acts as master (the
 *                 activation chain is done), the node leads, its lease is
 *                 valid and the applied log names it master: the condition
 *                 under which its PostgreSQL takes writes. 503 elsewhere,
 *                 with the master the log names, so that an agent can go
 *                 there. Body: {"master":bool,"node":..,"term":..,
 *                 "master_node":name|null,"leader":name|null,"acting":..,
 *                 "lease_valid":bool}.
 *   GET /health   200 while the daemon runs and none of its critical checks
 *                 ([health] critical) is failing; 503 naming the failing
 *                 check (or "stopping"). Body: {"status":"ok"|"failing",
 *                 "node":..,"failing":name|null,"detail":..,"checks":[..]}.
 *   GET /metrics  the Prometheus text exposition format 0.0.4 of the
 *                 member's status (struct duet_status, status.h: what
 *                 duetctl status --json shows), see http_metrics_write()
 *                 and README "HTTP endpoints".
 *
 * for people:
 *
 *   GET /status   the status document (status.h, node_status_json): the
 *                 same JSON as `duetctl status --json`, application/json.
 *   GET /         the status page (http_page.h): one self-contained HTML
 *                 page with a server-rendered snapshot of that document and
 *                 an inline script that renders /status every second.
 *                 Read-only; for an admin network.
 *
 * and the names HAProxy templates and probes already use (Patroni's):
 *
 *   GET /primary   the same as /master.
 *   GET /replica   200 on a streaming standby: the local PostgreSQL answers,
 *                  is in recovery and its WAL receiver streams, and this node
 *                  is not the master; 503 elsewhere, with why.
 *   GET /sync      200 on the streaming standby the applied log names SYNC
 *                  (committed SYNC on); /async: on one it does not.
 *   GET /liveness  200 while the loop runs (it answers), 503 while stopping.
 *   GET /readiness 200 when the member can serve: it has its store (no
 *                  rejoin waiting for an incarnation), a link up to a peer, a
 *                  leader known in its term and all it knows committed
 *                  applied; 503 with why.
 *
 * Their bodies are made with jansson. HEAD works on all (the traps_http.h
 * session answers it from the GET route, without the body); another method
 * is 405 with "Allow: GET, HEAD". Answers carry "Cache-Control: no-store".
 *
 * The server is the custom-trap receiver's (traps_http.h) built with
 * no_builtin_routes and these routes, on [http] listen, HTTPS when
 * [http] tls_cert and tls_key are set. It is a server of its own, not
 * routes added to the [traps] receiver: the port a load balancer checks
 * exists whether custom traps are on or not, its connection limit is its
 * own (a flood of trap senders cannot make health checks fail and move a
 * load balancer off the master), and the trap receiver may face devices on
 * another network with another certificate.
 *
 * Everything runs on the node's loop; a request is answered at once from
 * what the node knows (no I/O, no wait): the status is filled for each
 * /metrics, /status and / request from what the node holds and written
 * from the struct.
 */
#ifndef DUET_HTTP_API_H
#define DUET_HTTP_API_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "duet/fsm.h"
#include "duet/traps_http.h"
#include "status.h"

struct node;

/* ---- the server (http_api.c) ------------------------------------------------ */

/* Opens the server on [http] listen (a data node; nothing when it is
 * empty). Returns 0, or -1 (logged: which address or file, and why). */
int http_api_open(struct node *n);
/* Closes it (connections and requests in flight are dropped); the memory
 * is freed from a later loop callback. Idempotent. */
void http_api_close(struct node *n);
/* The exposition of n's status now (malloc'd, *len its length; NULL when
 * out of memory): what GET /metrics answers, also asked over the admin
 * socket ({"cmd":"metrics"}), which the witness, without [http], has. */
char *http_api_metrics_text(struct node *n, size_t *len);

/* ---- pure parts (http_metrics.c), unit-tested ------------------------------- */

/*
 * The /master rule: acting (ctl act is CTL_MASTER), leader with a valid
 * lease, and the applied log names self master (self != 0).
 */
bool http_api_is_master(bool acting, bool leader, bool lease_valid, uint32_t master_id,
			uint32_t self_id);

/* What /metrics is made of. */
struct http_metrics_input {
	const struct duet_status *status;   /* duet_status_new(); required */
	const char *version;                /* duetd's version, for duet_info; NULL: "" */
	bool is_master;                     /* what GET /master answers */
	const struct fsm *fsm;              /* the replicated state's counters; NULL: none */
	const struct trap_http_stats *http; /* this server's own counters; NULL: none */
};

/*
 * Writes the exposition of `in` into f: every family with "# HELP" and
 * "# TYPE", names prefixed duet_, counters ending in _total, label values
 * escaped (http_metrics_label_value), durations in seconds, sizes in bytes,
 * moments as Unix timestamps in seconds (_timestamp_seconds). What a node
 * does not have (the witness's controller, the leader's view of its peers
 * on a follower, PostgreSQL's figures while it does not answer, the sink)
 * has no series. Returns 0, or DUET_EINVAL when in->status is NULL.
 */
int http_metrics_write(FILE *f, const struct http_metrics_input *in);

/* Writes s as the inside of a label value: backslash, double quote and line
 * feed escaped as \\, \" and \n (the exposition format's rules). */
void http_metrics_label_value(FILE *f, const char *s);

#endif
