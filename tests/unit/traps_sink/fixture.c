/* SPDX-License-Identifier: MIT */
/*
 * fixture.c - see fixture.h.
 */
#include <arpa/inet.h>
#include <signal.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "duet/err.h"
#include "fixture.h"
#include "run_until.h"

uv_loop_t *fx_loop;
struct fx_sink fx;
struct fx_server fx_srv;

static uv_loop_t loop_storage;
static struct run_until fx_wait;

void fx_setup(void)
{
	/* as duetd does (node.c): a write to a receiver that has gone is
	 * EPIPE, not a signal that kills the test */
	signal(SIGPIPE, SIG_IGN);
	fx_loop = &loop_storage;
	cr_assert_eq(uv_loop_init(fx_loop), 0);
	run_until_init(&fx_wait, fx_loop);
	memset(&fx, 0, sizeof fx);
	memset(&fx_srv, 0, sizeof fx_srv);
}

bool fx_run_until(bool (*pred)(void *), void *arg, unsigned timeout_ms)
{
	return run_until(&fx_wait, pred, arg, timeout_ms);
}

int tl_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert(fd >= 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	socklen_t len = sizeof sa;
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

const char *fx_addr(int port)
{
	static char buf[32];
	snprintf(buf, sizeof buf, "127.0.0.1:%d", port);
	return buf;
}

/* ---- the sink ------------------------------------------------------------------- */

static void on_confirm(void *data, uint64_t tag)
{
	struct fx_sink *f = data;
	if (f->in_call)
		f->confirmed_inside = true;
	cr_assert_lt(f->n_confirmed, FX_MAX_CONFIRMS);
	struct duet_sink_stats st = {0};
	duet_sink_get_stats(f->sink, &st);
	f->connects_at[f->n_confirmed] = st.connects;
	f->tags[f->n_confirmed++] = tag;
	if (f->close_at_confirm && f->n_confirmed == f->close_at_confirm)
		fx_sink_close_async();
}

static void on_log(void *data, int level, const char *text)
{
	struct fx_sink *f = data;
	cr_assert(level >= 0 && level <= 3, "log level %d", level);
	f->logs[level]++;
	snprintf(f->last_log[level], sizeof f->last_log[level], "%s", text);
	if (getenv("FX_VERBOSE"))
		fprintf(stderr, "log %d: %s\n", level, text);
}

struct duet_sink_config fx_config(int type)
{
	struct duet_sink_config c = {
	    .type = type,
	    .retry_min_ms = 10,
	    .retry_max_ms = 50,
	    .on_confirm = on_confirm,
	    .on_log = on_log,
	    .data = &fx,
	};
	return c;
}

void fx_sink_new(const struct duet_sink_config *cfg)
{
	char err[256] = "";
	int rc = duet_sink_new(fx_loop, cfg, &fx.sink, err, sizeof err);
	cr_assert_eq(rc, 0, "duet_sink_new: %s (%s)", duet_strerror(rc), err);
}

static void on_closed(void *data)
{
	struct fx_sink *f = data;
	f->closed = true;
}

void fx_sink_close_async(void)
{
	duet_sink_close(fx.sink, on_closed, &fx);
	fx.sink = NULL;
}

static bool sink_closed(void *arg)
{
	return fx.closed;
}

void fx_sink_close(void)
{
	if (fx.sink)
		fx_sink_close_async();
	cr_assert(fx_run_until(sink_closed, NULL, FX_WAIT_MS), "the sink did not finish closing");
}

struct duet_sink_stats fx_stats(void)
{
	struct duet_sink_stats st;
	memset(&st, 0, sizeof st);
	duet_sink_get_stats(fx.sink, &st);
	return st;
}

int fx_submit(uint64_t tag, unsigned first, unsigned n, size_t pad)
{
	struct duet_trap *traps = calloc(n ? n : 1, sizeof *traps);
	struct duet_sink_record *recs = calloc(n ? n : 1, sizeof *recs);
	char *payloads = malloc((size_t)(n ? n : 1) * (pad + 64));
	cr_assert(traps && recs && payloads);
	for (unsigned i = 0; i < n; i++) {
		unsigned k = first + i;
		struct duet_trap *t = &traps[i];
		memset(t->identity, (int)(k & 0xff), sizeof t->identity);
		t->ordinal = 1 + k % 3;
		t->recv_ms = 1700000000000ull + k;
		t->receiver = 1;
		t->kind = DUET_TRAP_SYSLOG;
		snprintf(t->sender, sizeof t->sender, "192.0.2.%u", 1 + k % 200);
		char *p = payloads + (size_t)i * (pad + 64);
		int len = snprintf(p, 64, "{\"n\":%u,\"pad\":\"", k);
		memset(p + len, 'x', pad);
		len += (int)pad;
		len += snprintf(p + len, 8, "\"}");
		t->payload = (const uint8_t *)p;
		t->len = (uint32_t)len;
		snprintf(recs[i].id, sizeof recs[i].id, "r%u", k);
		recs[i].trap = t;
		recs[i].receiver = "node-a";
	}
	fx.in_call = true;
	int rc = duet_sink_submit(fx.sink, tag, recs, n);
	fx.in_call = false;
	/* the sink copied everything: scribble over ours to prove it */
	memset(payloads, '#', (size_t)(n ? n : 1) * (pad + 64));
	free(traps);
	free(recs);
	free(payloads);
	return rc;
}

bool fx_confirmed_at_least(void *n)
{
	return fx.n_confirmed >= *(size_t *)n;
}

bool fx_errors_at_least(void *n)
{
	return fx.sink && fx_stats().errors >= *(uint64_t *)n;
}

void fx_assert_confirmed_in_order(size_t n)
{
	cr_assert_eq(fx.n_confirmed, n, "%zu confirmations, want %zu", fx.n_confirmed, n);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(fx.tags[i], i, "confirmation %zu is tag %llu", i,
			     (unsigned long long)fx.tags[i]);
	cr_assert(!fx.confirmed_inside, "on_confirm came from inside submit or reset");
}

/* ---- the line server --------------------------------------------------------------- */

static char read_buffer[65536]; /* each read is consumed before the next */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	*buf = uv_buf_init(read_buffer, sizeof read_buffer);
}

static void on_ack_written(uv_write_t *req, int status)
{
	free(req->data);
	free(req);
}

void fx_conn_send(struct fx_conn *c, const char *text)
{
	if (!c->open || c->hung_up || uv_is_closing((uv_handle_t *)&c->h))
		return; /* a hung-up receiver says nothing more */
	uv_write_t *req = malloc(sizeof *req);
	char *copy = strdup(text);
	cr_assert(req && copy);
	req->data = copy;
	uv_buf_t buf = uv_buf_init(copy, (unsigned)strlen(copy));
	if (uv_write(req, (uv_stream_t *)&c->h, &buf, 1, on_ack_written) != 0) {
		/* the sink has closed or reset this connection meanwhile */
		free(copy);
		free(req);
	}
}

/* {"ack":"<id>"}\n for the id of c's last line, through jansson. */
static void send_ack(struct fx_conn *c)
{
	if (!c->ack_due)
		return;
	c->ack_due = false;
	json_t *j = json_pack("{s:s}", "ack", c->last_id);
	char *text = json_dumps(j, JSON_COMPACT);
	cr_assert(j && text);
	size_t n = strlen(text);
	char *line = malloc(n + 2);
	cr_assert_not_null(line);
	memcpy(line, text, n);
	memcpy(line + n, "\n", 2);
	fx_conn_send(c, line);
	c->acks_sent++;
	free(line);
	free(text);
	json_decref(j);
}

static bool conn_acks(const struct fx_conn *c)
{
	return fx_srv.ack != FX_ACK_NONE && c - fx_srv.conns >= fx_srv.ack_from;
}

/* The record's "id", decoded by jansson ("" if the line has none). */
static void line_id(const char *line, size_t len, char *out, size_t cap)
{
	out[0] = 0;
	json_t *j = json_loadb(line, len, 0, NULL);
	const char *id = json_string_value(json_object_get(j, "id"));
	if (id)
		snprintf(out, cap, "%s", id);
	json_decref(j);
}

static void take_line(struct fx_conn *c, const char *line, size_t len)
{
	if (conn_acks(c)) {
		line_id(line, len, c->last_id, sizeof c->last_id);
		c->ack_due = c->last_id[0] != 0;
		if (fx_srv.ack == FX_ACK_EACH)
			send_ack(c);
	}
	if (c->n_ids == 0) {
		size_t n = len < sizeof c->first_line - 1 ? len : sizeof c->first_line - 1;
		memcpy(c->first_line, line, n);
		c->first_line[n] = 0;
	}
	uint32_t id = UINT32_MAX;
	static const char prefix[] = "{\"id\":\"r";
	if (len > sizeof prefix && memcmp(line, prefix, sizeof prefix - 1) == 0)
		id = (uint32_t)strtoul(line + sizeof prefix - 1, NULL, 10);
	if (c->n_ids == c->cap_ids) {
		c->cap_ids = c->cap_ids ? c->cap_ids * 2 : 1024;
		c->ids = realloc(c->ids, c->cap_ids * sizeof *c->ids);
		cr_assert_not_null(c->ids);
	}
	c->ids[c->n_ids++] = id;
}

static void keep_partial(struct fx_conn *c, const char *p, size_t n)
{
	if (c->partial_len + n > c->partial_cap) {
		c->partial_cap = (c->partial_len + n) * 2;
		c->partial = realloc(c->partial, c->partial_cap);
		cr_assert_not_null(c->partial);
	}
	memcpy(c->partial + c->partial_len, p, n);
	c->partial_len += n;
}

static void take_bytes(struct fx_conn *c, const char *p, size_t n)
{
	c->bytes += n;
	while (n > 0) {
		const char *nl = memchr(p, '\n', n);
		if (!nl) {
			keep_partial(c, p, n);
			return;
		}
		size_t len = (size_t)(nl - p);
		if (c->partial_len) {
			keep_partial(c, p, len);
			take_line(c, c->partial, c->partial_len);
			c->partial_len = 0;
		} else {
			take_line(c, p, len);
		}
		p += len + 1;
		n -= len + 1;
	}
}

static void on_conn_closed(uv_handle_t *h)
{
	struct fx_conn *c = h->data;
	c->open = false;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct fx_conn *c = stream->data;
	if (nread > 0) {
		take_bytes(c, buf->base, (size_t)nread);
		if (fx_srv.ack == FX_ACK_LAST && conn_acks(c))
			send_ack(c);
		if (c == &fx_srv.conns[0] && fx_srv.pause_after_ids &&
		    c->n_ids >= fx_srv.pause_after_ids && c->reading && !c->eof) {
			fx_srv.pause_after_ids = 0; /* once */
			fx_conn_read(c, false);
		}
	} else if (nread < 0) {
		c->eof = true; /* an unterminated last line stays in partial, not taken */
		c->reading = false;
		if (!uv_is_closing((uv_handle_t *)&c->h))
			uv_close((uv_handle_t *)&c->h, on_conn_closed);
	}
}

void fx_conn_read(struct fx_conn *c, bool on)
{
	if (!c->open || uv_is_closing((uv_handle_t *)&c->h) || c->reading == on)
		return;
	c->reading = on;
	if (on)
		cr_assert_eq(uv_read_start((uv_stream_t *)&c->h, on_alloc, on_read), 0);
	else
		uv_read_stop((uv_stream_t *)&c->h);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
}

void fx_conn_hang_up(struct fx_conn *c)
{
	cr_assert_eq(uv_shutdown(&c->shutdown, (uv_stream_t *)&c->h, on_shutdown), 0);
	c->hung_up = true;
	fx_conn_read(c, true);
}

void fx_conn_reset(struct fx_conn *c)
{
	if (!c->open || uv_is_closing((uv_handle_t *)&c->h))
		return;
	c->reading = false;
	cr_assert_eq(uv_tcp_close_reset(&c->h, on_conn_closed), 0);
}

static void on_connection(uv_stream_t *server, int status)
{
	cr_assert_eq(status, 0);
	cr_assert_lt(fx_srv.n_conns, FX_MAX_CONNS, "too many connections");
	int index = fx_srv.n_conns++;
	struct fx_conn *c = &fx_srv.conns[index];
	cr_assert_eq(uv_tcp_init(fx_loop, &c->h), 0);
	c->h.data = c;
	c->open = true;
	cr_assert_eq(uv_accept(server, (uv_stream_t *)&c->h), 0);
	if (index >= fx_srv.read_from)
		fx_conn_read(c, true);
}

int fx_server_start(int port)
{
	struct sockaddr_in sa;
	cr_assert_eq(uv_ip4_addr("127.0.0.1", port, &sa), 0);
	cr_assert_eq(uv_tcp_init(fx_loop, &fx_srv.listener), 0);
	cr_assert_eq(uv_tcp_bind(&fx_srv.listener, (struct sockaddr *)&sa, 0), 0);
	cr_assert_eq(uv_listen((uv_stream_t *)&fx_srv.listener, 16, on_connection), 0);
	fx_srv.listening = true;
	int len = sizeof sa;
	cr_assert_eq(uv_tcp_getsockname(&fx_srv.listener, (struct sockaddr *)&sa, &len), 0);
	fx_srv.port = ntohs(sa.sin_port);
	return fx_srv.port;
}

bool fx_server_conns_at_least(void *n)
{
	return fx_srv.n_conns >= *(int *)n;
}

/* ---- teardown ------------------------------------------------------------------------ */

static void close_left_over(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

void fx_teardown(void)
{
	bool closed = true;
	if (fx.sink) {
		duet_sink_close(fx.sink, on_closed, &fx);
		fx.sink = NULL;
		closed = fx_run_until(sink_closed, NULL, FX_WAIT_MS);
	}
	if (fx_srv.listening)
		uv_close((uv_handle_t *)&fx_srv.listener, NULL);
	for (int i = 0; i < fx_srv.n_conns; i++) {
		struct fx_conn *c = &fx_srv.conns[i];
		if (c->open && !uv_is_closing((uv_handle_t *)&c->h))
			uv_close((uv_handle_t *)&c->h, on_conn_closed);
	}
	uv_walk(fx_loop, close_left_over, NULL); /* run_until's, and what a failed test left */
	uv_run(fx_loop, UV_RUN_DEFAULT);
	int rc = uv_loop_close(fx_loop);
	for (int i = 0; i < fx_srv.n_conns; i++) {
		free(fx_srv.conns[i].ids);
		free(fx_srv.conns[i].partial);
	}
	cr_assert(closed, "the sink did not finish closing");
	cr_assert_eq(rc, 0, "handles left open on the loop");
}
