/* SPDX-License-Identifier: MIT */
/*
 * admin.c - the admin socket: a Unix stream socket, owner-only (0600), that
 * duetctl talks to (DESIGN.md 8).
 *
 * Protocol: one JSON request per line, one JSON response per line, on the
 * loop. Requests are bounded (ADMIN_MAX_REQUEST_BYTES; a longer line gets an
 * error and the connection is closed) and so are clients (ADMIN_MAX_CLIENTS).
 * Commands:
 *   {"cmd":"status"}  the status document (node_status_json, status.c).
 *   {"cmd":"metrics"} {"ok":true,"metrics":TEXT}: what GET /metrics
 *                     answers (http_api_metrics_text), on every member,
 *                     the witness too (it has no [http]).
 *   {"cmd":"probe","n":N,"bytes":B}  leader only (elsewhere an error naming
 *       the leader): proposes N entries of type TRAPS, each a valid
 *       one-trap batch (duet_traps_encode, synthetic identity, sender
 *       "probe") with B bytes of payload (a JSON string: the trap pipeline
 *       applies and delivers these like any trap), pipelined (DUET_EBUSY from
 *       raft_propose is retried at the next loop turn), and answers
 *       {"ok":true,"n":N,"first_index":..,"last_index":..,"elapsed_us":..}
 *       once the last one is applied on the leader (committed). For
 *       bench-cluster and the tests: 1 <= N <= ADMIN_PROBE_MAX_N,
 *       2 <= B <= DUET_TRAP_MAX_PAYLOAD, one probe at a time (error if busy);
 *       losing the leadership meanwhile answers an error.
 *   {"cmd":"promote","accept_data_loss":1,"who":"..","why":".."}  forced
 *       promotion (ctl_force_promote), answered once proposed.
 *   {"cmd":"maintenance","on":true|false,"who":"..","why":".."}  data nodes
 *       only (the witness answers an error). If the applied state already
 *       is the one asked for, nothing is recorded: the answer says so
 *       ("changed":false, since which entry, who, why), so only changes
 *       are in the audit. Otherwise OPERATOR(maintenance on/off, node =
 *       this node, who, why) is proposed here when this node leads, or
 *       forwarded to the leader (ctl_propose.c), and the answer waits until
 *       this node has applied the change: {"ok":true,"maintenance":..,
 *       "changed":true,"since_index":..,"who":..,"why":..}. After
 *       ADMIN_MAINTENANCE_WAIT_MS without it (no leader, no quorum, a
 *       leader change), an error says so; the entry may still commit
 *       later. Other requests on the same connection are answered
 *       meanwhile; one maintenance request per connection at a time.
 *   {"cmd":"switchover","to":"NODE or empty","who":"..","why":".."}  data
 *       nodes: a planned switchover (ctl_switchover.c), answered once
 *       started on the leader or forwarded to it; its progress is in the
 *       status (.switchover on the old master, .master everywhere).
 * Anything else gets {"ok":false,"error":"..."}. The parser is deliberately
 * tiny: it looks for the "cmd" key and its string value (and, for probe,
 * two unsigned integers), nothing is evaluated.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "http_api.h"
#include "node_internal.h"
#include "status.h"
#include "trapd.h"

#define ADMIN_PROBE_MAX_N 1000000u
/* A maintenance request not applied by then is answered with an error; the
 * tick (at most a second apart) notices, so the answer comes within a second
 * of it. duetctl waits longer than this (cli/maintenance.c). */
#define ADMIN_MAINTENANCE_WAIT_MS 5000u

struct admin_client {
	uv_pipe_t pipe;
	struct node *node;
	struct admin_client *next;
	size_t len;
	bool closing;
	/* a maintenance request waiting for its entry to be applied */
	struct {
		bool active;
		bool on;
		uint64_t baseline;    /* fsm.applied_index when it was asked */
		uint64_t deadline_ms; /* monotonic */
	} mnt;
	char buf[ADMIN_MAX_REQUEST_BYTES];
};

struct admin_write {
	uv_write_t req;
	char *text;
};

static const char *member_name(const struct node *n, uint32_t id)
{
	const struct duet_member *m = duet_membership_find(&n->cfg.membership, id);
	return m ? m->name : NULL;
}

/* ---- connections -------------------------------------------------------- */

static void client_closed(uv_handle_t *h)
{
	struct admin_client *c = h->data;
	struct node *n = c->node;
	for (struct admin_client **pp = &n->clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	n->n_clients--;
	free(c);
}

static void client_close(struct admin_client *c)
{
	if (c->closing)
		return;
	c->closing = true;
	if (c->node->probe.client == c) {
		/* nobody to answer: stop proposing (what is proposed commits) */
		free(c->node->probe.payload);
		free(c->node->probe.buf);
		memset(&c->node->probe, 0, sizeof c->node->probe);
	}
	uv_close((uv_handle_t *)&c->pipe, client_closed);
}

static void write_done(uv_write_t *req, int status)
{
	struct admin_write *w = req->data;
	free(w->text);
	free(w);
}

/* Sends text (malloc'd, ownership taken) plus a newline. */
static void client_send(struct admin_client *c, char *text)
{
	if (!text)
		text = strdup("{\"ok\":false,\"error\":\"out of memory\"}");
	struct admin_write *w = calloc(1, sizeof *w);
	if (!text || !w || c->closing) {
		free(text);
		free(w);
		return;
	}
	size_t len = strlen(text);
	char *t = realloc(text, len + 2);
	if (!t) {
		free(text);
		free(w);
		return;
	}
	t[len] = '\n';
	t[len + 1] = 0;
	w->text = t;
	w->req.data = w;
	uv_buf_t b = uv_buf_init(t, (unsigned)(len + 1));
	if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &b, 1, write_done) != 0) {
		free(t);
		free(w);
		client_close(c);
	}
}

static char *error_json(const char *msg)
{
	json_t *r = json_pack("{s:b,s:s}", "ok", 0, "error", msg);
	char *t = r ? json_dumps(r, JSON_COMPACT) : NULL;
	json_decref(r);
	return t;
}

/* Requests are one JSON object per line, read with jansson. */

/* The string "cmd" of req, copied to out. */
static int parse_cmd(const json_t *req, char *out, size_t cap)
{
	const char *v = json_string_value(json_object_get(req, "cmd"));
	if (!v || strlen(v) >= cap)
		return -1;
	strcpy(out, v);
	return 0;
}

/* The non-negative integer `key` of req. */
static int parse_uint(const json_t *req, const char *key, uint64_t *out)
{
	const json_t *v = json_object_get(req, key);
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

/* The string `key` of req (any UTF-8 text, newlines and quotes included);
 * -1 if absent, not a string, or too long for out. */
static int parse_text(const json_t *req, const char *key, char *out, size_t cap)
{
	const json_t *v = json_object_get(req, key);
	if (!json_is_string(v) || json_string_length(v) >= cap)
		return -1;
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static void probe_finish(struct node *n, char *answer)
{
	if (n->probe.client)
		client_send(n->probe.client, answer);
	else
		free(answer);
	free(n->probe.payload);
	free(n->probe.buf);
	memset(&n->probe, 0, sizeof n->probe);
}

static bool probe_still_leader(struct node *n, uint64_t now)
{
	struct raft_status st;
	raft_status(n->raft, now, &st);
	return st.role == RAFT_LEADER && st.term == n->probe.term;
}

void admin_probe_pump(struct node *n)
{
	if (!n->probe.active || n->stopping)
		return;
	uint64_t now = node_now_ms();
	if (!probe_still_leader(n, now)) {
		probe_finish(n, error_json("probe: leadership lost"));
		return;
	}
	while (n->probe.sent < n->probe.n) {
		struct duet_trap t = {0};
		uint64_t seq = n->probe.sent;
		memcpy(t.identity, "duet-probe", 10);
		for (int i = 0; i < 8; i++)
			t.identity[24 + i] = (uint8_t)(n->probe.start_us >> (8 * i));
		t.ordinal = (uint32_t)(seq + 1);
		t.recv_ms = node_trap_ms();
		t.receiver = n->cfg.self_id;
		t.kind = DUET_TRAP_CUSTOM;
		snprintf(t.sender, sizeof t.sender, "probe");
		t.len = n->probe.bytes;
		t.payload = n->probe.payload;
		long len = duet_traps_encode(&t, 1, n->probe.buf, n->probe.cap);
		if (len < 0) {
			probe_finish(n, error_json("probe: cannot encode the trap batch"));
			return;
		}
		uint64_t index = 0;
		int rc = raft_propose(n->raft, now, RAFT_ENTRY_TRAPS, t.recv_ms, n->probe.buf,
				      (uint32_t)len, &index);
		if (rc == DUET_EBUSY)
			return; /* back-pressure: retried at the next turn */
		if (rc) {
			char msg[96];
			snprintf(msg, sizeof msg, "probe: propose: %s", duet_strerror(rc));
			probe_finish(n, error_json(msg));
			return;
		}
		if (n->probe.sent == 0)
			n->probe.first_index = index;
		n->probe.last_index = index;
		n->probe.sent++;
	}
}

void admin_probe_check(struct node *n)
{
	if (!n->probe.active || n->probe.sent < n->probe.n)
		return;
	if (n->fsm.applied_index < n->probe.last_index) {
		if (!probe_still_leader(n, node_now_ms()))
			probe_finish(n, error_json("probe: leadership lost"));
		return;
	}
	uint64_t elapsed = uv_hrtime() / 1000 - n->probe.start_us;
	char *t = NULL;
	if (asprintf(&t,
		     "{\"ok\":true,\"n\":%" PRIu64 ",\"first_index\":%" PRIu64
		     ",\"last_index\":%" PRIu64 ",\"elapsed_us\":%" PRIu64 "}",
		     n->probe.n, n->probe.first_index, n->probe.last_index, elapsed) < 0)
		t = NULL;
	probe_finish(n, t);
}

static void start_probe(struct admin_client *c, const json_t *line)
{
	struct node *n = c->node;
	uint64_t count = 0, bytes = 0;
	if (parse_uint(line, "n", &count) || parse_uint(line, "bytes", &bytes) || count == 0 ||
	    count > ADMIN_PROBE_MAX_N || bytes < 2 || bytes > DUET_TRAP_MAX_PAYLOAD) {
		char msg[128];
		snprintf(msg, sizeof msg,
			 "probe: expected {\"cmd\":\"probe\",\"n\":1..%u,\"bytes\":2..%d}",
			 ADMIN_PROBE_MAX_N, DUET_TRAP_MAX_PAYLOAD);
		client_send(c, error_json(msg));
		return;
	}
	if (n->probe.active) {
		client_send(c, error_json("probe: another probe is in flight"));
		return;
	}
	uint64_t now = node_now_ms();
	struct raft_status st;
	raft_status(n->raft, now, &st);
	if (st.role != RAFT_LEADER) {
		char msg[160];
		const char *name = member_name(n, st.leader);
		snprintf(msg, sizeof msg, "probe: not the leader; leader_id %" PRIu32 " (%s)",
			 st.leader, name ? name : "unknown");
		client_send(c, error_json(msg));
		return;
	}
	n->probe.payload = malloc(bytes ? bytes : 1);
	n->probe.cap = (size_t)bytes + 1024;
	n->probe.buf = malloc(n->probe.cap);
	if (!n->probe.payload || !n->probe.buf) {
		free(n->probe.payload);
		free(n->probe.buf);
		memset(&n->probe, 0, sizeof n->probe);
		client_send(c, error_json("probe: out of memory"));
		return;
	}
	for (uint64_t i = 0; i < bytes; i++)
		n->probe.payload[i] = (uint8_t)('a' + i % 26);
	/* a JSON string, like every trap payload a sink gets */
	n->probe.payload[0] = n->probe.payload[bytes - 1] = '"';
	n->probe.active = true;
	n->probe.client = c;
	n->probe.n = count;
	n->probe.bytes = (uint32_t)bytes;
	n->probe.term = st.term;
	n->probe.start_us = uv_hrtime() / 1000;
	node_drive(n);
}

/* ---- maintenance ---------------------------------------------------------- */

/* The boolean `key` of req. */
static int parse_bool(const json_t *req, const char *key, bool *out)
{
	const json_t *v = json_object_get(req, key);
	if (!json_is_boolean(v))
		return -1;
	*out = json_is_true(v);
	return 0;
}

/* The answer to a maintenance request from the applied state. */
static char *maintenance_answer(const struct node *n, bool changed)
{
	json_t *r = json_pack("{s:b,s:b,s:o}", "ok", 1, "changed", changed, "maintenance",
			      duet_status_maintenance_json(n));
	char *t = r ? json_dumps(r, JSON_COMPACT) : NULL;
	json_decref(r);
	return t;
}

static void start_maintenance(struct admin_client *c, const json_t *line)
{
	struct node *n = c->node;
	char who[DUET_NAME_MAX] = "", why[DUET_DETAIL_MAX] = "", err[512] = "";
	bool on = false;
	/* "on" first: the CLI writes it before who and why */
	if (parse_bool(line, "on", &on) || parse_text(line, "who", who, sizeof who) ||
	    parse_text(line, "why", why, sizeof why)) {
		n->admin_refused++;
		client_send(c,
			    error_json("maintenance: expected {\"cmd\":\"maintenance\",\"on\":"
				       "true|false,\"who\":\"...\",\"why\":\"...\"} (who at most "
				       "31 bytes, why at most 511)"));
		return;
	}
	if (c->mnt.active) {
		client_send(c,
			    error_json("maintenance: a request of this connection is in flight"));
		return;
	}
	if (n->cfg.self_kind == DUET_MEMBER_DATA && n->fsm.maintenance == on) {
		client_send(c, maintenance_answer(n, false));
		return;
	}
	uint64_t baseline = n->fsm.applied_index, index = 0;
	if (ctl_maintenance(n, on, who, why, &index, err, sizeof err) != 0) {
		client_send(c, error_json(err));
		return;
	}
	c->mnt.active = true;
	c->mnt.on = on;
	c->mnt.baseline = baseline;
	c->mnt.deadline_ms = node_now_ms() + ADMIN_MAINTENANCE_WAIT_MS;
	node_drive(n);
}

void admin_maintenance_check(struct node *n)
{
	uint64_t now = node_now_ms();
	for (struct admin_client *c = n->clients; c; c = c->next) {
		if (!c->mnt.active || c->closing)
			continue;
		/* the state changed after the request: our entry, or another one
		 * asking the same (the leader records only changes) */
		if (n->fsm.maintenance == c->mnt.on && n->fsm.maintenance_since > c->mnt.baseline) {
			c->mnt.active = false;
			client_send(c, maintenance_answer(n, true));
			continue;
		}
		if (now < c->mnt.deadline_ms)
			continue;
		c->mnt.active = false;
		struct raft_status st;
		raft_status(n->raft, now, &st);
		const char *leader = member_name(n, st.leader);
		char msg[400];
		snprintf(msg, sizeof msg,
			 "not applied within %u ms (%s is %s in term %" PRIu64
			 ", leader %s, commit index %" PRIu64
			 "): the leader may have no quorum or may have changed; the entry may "
			 "still commit: check duetctl status, then try again",
			 ADMIN_MAINTENANCE_WAIT_MS, n->cfg.node_name, raft_role_name(st.role),
			 st.term, leader ? leader : "unknown", st.commit_index);
		client_send(c, error_json(msg));
	}
}

/* One request, parsed (handle_line). */
static void handle_request(struct admin_client *c, const json_t *req, const char *cmd)
{
	struct node *n = c->node;
	if (strcmp(cmd, "status") == 0) {
		client_send(c, node_status_json(n));
		return;
	}
	if (strcmp(cmd, "metrics") == 0) {
		size_t len;
		char *text = http_api_metrics_text(n, &len);
		json_t *r = text ? json_pack("{s:b,s:s%}", "ok", 1, "metrics", text, len) : NULL;
		free(text);
		client_send(c, r ? json_dumps(r, JSON_COMPACT) : error_json("out of memory"));
		json_decref(r);
		return;
	}
	if (strcmp(cmd, "probe") == 0) {
		start_probe(c, req);
		return;
	}
	if (strcmp(cmd, "promote") == 0) {
		char who[DUET_NAME_MAX] = "", why[DUET_DETAIL_MAX / 2] = "", err[512] = "";
		uint64_t accept = 0;
		if (parse_uint(req, "accept_data_loss", &accept) || accept != 1 ||
		    parse_text(req, "who", who, sizeof who) ||
		    parse_text(req, "why", why, sizeof why)) {
			n->admin_refused++;
			client_send(c, error_json("promote: expected {\"cmd\":\"promote\","
						  "\"accept_data_loss\":1,\"who\":\"...\",\"why\":"
						  "\"...\"} (who at most 31 bytes)"));
			return;
		}
		if (ctl_force_promote(n, who, why, err, sizeof err) != 0) {
			client_send(c, error_json(err));
			return;
		}
		node_drive(n);
		client_send(c, strdup("{\"ok\":true}"));
		return;
	}
	if (strcmp(cmd, "maintenance") == 0) {
		start_maintenance(c, req);
		return;
	}
	if (strcmp(cmd, "switchover") == 0) {
		char to[DUET_NAME_MAX] = "", who[DUET_NAME_MAX] = "", why[DUET_DETAIL_MAX / 2] = "",
		     err[512] = "";
		if (parse_text(req, "to", to, sizeof to) ||
		    parse_text(req, "who", who, sizeof who) ||
		    parse_text(req, "why", why, sizeof why)) {
			n->admin_refused++;
			client_send(c,
				    error_json("switchover: expected {\"cmd\":\"switchover\","
					       "\"to\":\"NODE or empty\",\"who\":\"...\","
					       "\"why\":\"...\"} (to and who at most 31 bytes)"));
			return;
		}
		if (ctl_switchover(n, to, who, why, err, sizeof err) != 0) {
			client_send(c, error_json(err));
			return;
		}
		node_drive(n);
		client_send(c, strdup("{\"ok\":true}"));
		return;
	}
	n->admin_refused++;
	char msg[128];
	snprintf(msg, sizeof msg,
		 "unknown command '%s'; known: status, probe, promote, maintenance, switchover",
		 cmd);
	client_send(c, error_json(msg));
}

static void handle_line(struct admin_client *c, char *line)
{
	struct node *n = c->node;
	size_t len = strlen(line);
	if (len && line[len - 1] == '\r')
		line[--len] = 0;
	if (len == 0)
		return;
	char cmd[32];
	json_t *req = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(req) || parse_cmd(req, cmd, sizeof cmd) != 0) {
		json_decref(req);
		n->admin_refused++;
		client_send(c, error_json("bad request: expected one JSON object per line like "
					  "{\"cmd\":\"status\"}"));
		return;
	}
	handle_request(c, req, cmd);
	json_decref(req);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct admin_client *c = h->data;
	size_t room = sizeof c->buf - 1 - c->len;
	*buf = uv_buf_init(c->buf + c->len, (unsigned)room);
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct admin_client *c = s->data;
	if (nread < 0) {
		client_close(c);
		return;
	}
	if (c->closing)
		return;
	c->len += (size_t)nread;
	c->buf[c->len] = 0;
	char *start = c->buf, *nl;
	while ((nl = memchr(start, '\n', c->len - (size_t)(start - c->buf))) != NULL) {
		*nl = 0;
		if (memchr(start, 0, (size_t)(nl - start)) != NULL) {
			c->node->admin_refused++;
			client_send(c, error_json("bad request: NUL byte"));
		} else {
			handle_line(c, start);
		}
		start = nl + 1;
	}
	size_t rest = c->len - (size_t)(start - c->buf);
	memmove(c->buf, start, rest);
	c->len = rest;
	if (c->len >= sizeof c->buf - 1) {
		c->node->admin_refused++;
		duet_log(DUET_LOG_WARN, "admin socket: request over %d bytes refused",
			 ADMIN_MAX_REQUEST_BYTES);
		client_send(c, error_json("request too long"));
		uv_read_stop(s);
		client_close(c);
	}
}

static void on_connection(uv_stream_t *server, int status)
{
	struct node *n = server->data;
	if (status < 0 || n->stopping)
		return;
	struct admin_client *c = calloc(1, sizeof *c);
	if (!c)
		return;
	c->node = n;
	uv_pipe_init(n->loop, &c->pipe, 0);
	c->pipe.data = c;
	c->next = n->clients;
	n->clients = c;
	n->n_clients++;
	if (uv_accept(server, (uv_stream_t *)&c->pipe) != 0) {
		client_close(c);
		return;
	}
	if (n->n_clients > ADMIN_MAX_CLIENTS) {
		n->admin_refused++;
		duet_log(DUET_LOG_WARN, "admin socket: more than %d clients; connection refused",
			 ADMIN_MAX_CLIENTS);
		client_send(c, error_json("too many admin clients"));
		client_close(c);
		return;
	}
	uv_read_start((uv_stream_t *)&c->pipe, alloc_cb, read_cb);
}

int admin_open(struct node *n)
{
	const char *path = n->cfg.admin_socket;
	struct stat sb;
	if (lstat(path, &sb) == 0) {
		if (!S_ISSOCK(sb.st_mode)) {
			duet_log(DUET_LOG_ERROR,
				 "admin socket %s exists and is not a socket; remove it or set "
				 "admin_socket elsewhere",
				 path);
			return -EEXIST;
		}
		unlink(path); /* stale: the store lock says no other member runs here */
	}
	uv_pipe_init(n->loop, &n->admin, 0);
	n->admin.data = n;
	mode_t old = umask(0077);
	int rc = uv_pipe_bind(&n->admin, path);
	umask(old);
	if (rc == 0)
		rc = chmod(path, 0600) == 0 ? 0 : -errno;
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&n->admin, 16, on_connection);
	if (rc) {
		duet_log(DUET_LOG_ERROR, "cannot open admin socket %s: %s", path, uv_strerror(rc));
		uv_close((uv_handle_t *)&n->admin, NULL);
		return rc;
	}
	n->admin_open = true;
	return 0;
}

void admin_close(struct node *n)
{
	if (n->probe.active) {
		n->probe.client = NULL;
		probe_finish(n, NULL);
	}
	for (struct admin_client *c = n->clients; c; c = c->next)
		client_close(c);
	if (n->admin_open) {
		n->admin_open = false;
		uv_close((uv_handle_t *)&n->admin, NULL);
		unlink(n->cfg.admin_socket);
	}
}
