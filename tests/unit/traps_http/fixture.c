/* SPDX-License-Identifier: MIT */
/*
 * fixture.c - see fixture.h.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "duet/err.h"
#include "fixture.h"
#include "run_until.h"

uv_loop_t *fx_loop;
struct fx_server fx_srv;

static uv_loop_t loop_storage;
static struct run_until fx_wait;
static char fx_dir[256];

const char *fx_path(int slot, const char *name)
{
	static char bufs[8][512];
	snprintf(bufs[slot], sizeof bufs[slot], "%s/%s", fx_dir, name);
	return bufs[slot];
}

/* A self-signed EC P-256 certificate for CN=localhost, one day. */
static void make_cert(const char *crt_path, const char *key_path)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	cr_assert_not_null(key, "EC key generation failed");
	X509 *x = X509_new();
	cr_assert_not_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1,
				   -1, 0);
	X509_set_issuer_name(x, name);
	cr_assert(X509_sign(x, key, EVP_sha256()) > 0, "self-signing failed");
	FILE *f = fopen(crt_path, "w");
	cr_assert_not_null(f);
	cr_assert(PEM_write_X509(f, x));
	fclose(f);
	f = fopen(key_path, "w");
	cr_assert_not_null(f);
	cr_assert(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL));
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(key);
}

void fx_setup(void)
{
	fx_loop = &loop_storage;
	cr_assert_eq(uv_loop_init(fx_loop), 0);
	run_until_init(&fx_wait, fx_loop);
	memset(&fx_srv, 0, sizeof fx_srv);
	const char *tmp = getenv("TMPDIR");
	snprintf(fx_dir, sizeof fx_dir, "%s/duet-http-XXXXXX", tmp ? tmp : "/tmp");
	cr_assert_not_null(mkdtemp(fx_dir));
	make_cert(fx_path(0, "server.crt"), fx_path(1, "server.key"));
}

static void server_closed(void *data)
{
	fx_srv.closed = true;
}

static bool is_closed(void *arg)
{
	return fx_srv.closed;
}

static void close_left_over(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void remove_dir(void)
{
	DIR *d = opendir(fx_dir);
	if (d) {
		struct dirent *e;
		char path[600];
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof path, "%s/%s", fx_dir, e->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(fx_dir);
}

void fx_teardown(void)
{
	bool closed = true;
	if (fx_srv.srv) {
		trap_http_close(fx_srv.srv, server_closed);
		fx_srv.srv = NULL;
		closed = fx_run_until(is_closed, NULL, FX_WAIT_MS);
	}
	uv_walk(fx_loop, close_left_over, NULL); /* a failed test may leave some */
	uv_run(fx_loop, UV_RUN_DEFAULT);
	int rc = uv_loop_close(fx_loop);
	remove_dir();
	cr_assert(closed, "the server did not finish closing");
	cr_assert_eq(rc, 0, "handles left open on the loop");
}

bool fx_run_until(bool (*pred)(void *), void *arg, unsigned timeout_ms)
{
	return run_until(&fx_wait, pred, arg, timeout_ms);
}

/* ---- server ------------------------------------------------------------------ */

static int fx_on_trap(void *data, const char *sender, const char *canonical, size_t canonical_len,
		      const char *json, size_t json_len)
{
	struct fx_server *s = data;
	if (s->busy)
		return DUET_EBUSY;
	if (s->close_in_trap && s->srv) {
		trap_http_close(s->srv, server_closed);
		s->srv = NULL;
	}
	if (s->n_traps < 8) {
		struct fx_trap *t = &s->traps[s->n_traps];
		snprintf(t->sender, sizeof t->sender, "%s", sender);
		cr_assert_lt(canonical_len, sizeof t->canonical);
		cr_assert_lt(json_len, sizeof t->json);
		memcpy(t->canonical, canonical, canonical_len + 1);
		t->canonical_len = canonical_len;
		memcpy(t->json, json, json_len + 1);
		t->json_len = json_len;
	}
	s->n_traps++;
	return 0;
}

static void fx_log(void *data, int level, const char *text)
{
	if (getenv("TRAPS_HTTP_TEST_LOG"))
		fprintf(stderr, "[http] %d %s\n", level, text);
}

struct trap_http_config fx_config(bool tls)
{
	struct trap_http_config c;
	memset(&c, 0, sizeof c);
	c.listen[0].addr = "127.0.0.1:0";
	c.n_listen = 1;
	if (tls) {
		c.listen[1].addr = "127.0.0.1:0";
		c.listen[1].tls = true;
		c.n_listen = 2;
		c.cert_file = fx_path(2, "server.crt");
		c.key_file = fx_path(3, "server.key");
	}
	c.on_trap = fx_on_trap;
	c.on_log = fx_log;
	c.data = &fx_srv;
	return c;
}

void fx_server_start(const struct trap_http_config *cfg)
{
	char err[300] = "";
	int rc = trap_http_new(fx_loop, cfg, &fx_srv.srv, err, sizeof err);
	cr_assert_eq(rc, 0, "trap_http_new: %s", err);
	fx_srv.port = trap_http_listen_port(fx_srv.srv, 0);
	fx_srv.tls_port = trap_http_listen_port(fx_srv.srv, 1);
}

struct trap_http_stats fx_stats(void)
{
	struct trap_http_stats s;
	trap_http_get_stats(fx_srv.srv, &s);
	return s;
}

/* ---- curl ----------------------------------------------------------------------- */

static void curl_closed(uv_handle_t *h)
{
	struct fx_curl *c = h->data;
	c->open_handles--;
}

static void curl_exit(uv_process_t *p, int64_t status, int signal)
{
	struct fx_curl *c = p->data;
	c->exited = true;
	c->exit_status = signal ? 128 + signal : status;
	uv_close((uv_handle_t *)p, curl_closed);
}

static void curl_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct fx_curl *c = h->data;
	size_t room = sizeof c->buf - 1 - c->len;
	*buf = uv_buf_init(c->buf + c->len, (unsigned)room);
}

static void curl_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct fx_curl *c = s->data;
	if (nread > 0) {
		c->len += (size_t)nread;
		c->buf[c->len] = 0;
		if (c->len + 1 < sizeof c->buf)
			return;
	}
	if (nread < 0 || c->len + 1 >= sizeof c->buf) {
		c->eof = true;
		uv_close((uv_handle_t *)&c->out, curl_closed);
	}
}

static bool curl_done(void *arg)
{
	struct fx_curl *c = arg;
	return c->open_handles == 0;
}

void fx_curl(struct fx_curl *c, const char *const *args)
{
	memset(c, 0, sizeof *c);
	const char *argv[48] = {"curl",       "-sS", "--noproxy", "*",
				"--max-time", "30",  "-w",        "\n%{http_code}"};
	int n = 8;
	for (int i = 0; args[i]; i++) {
		cr_assert_lt(n, 47);
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	uv_pipe_init(fx_loop, &c->out, 0);
	c->out.data = c;
	c->proc.data = c;
	uv_stdio_container_t stdio[3] = {
	    {.flags = UV_IGNORE},
	    {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&c->out},
	    {.flags = UV_INHERIT_FD, .data.fd = 2},
	};
	char *env[] = {"PATH=/usr/local/bin:/usr/bin:/bin", NULL};
	uv_process_options_t opt = {
	    .exit_cb = curl_exit,
	    .file = "/usr/bin/curl",
	    .args = (char **)argv,
	    .env = env,
	    .stdio_count = 3,
	    .stdio = stdio,
	};
	int rc = uv_spawn(fx_loop, &c->proc, &opt);
	if (rc != 0) /* uv_strerror(0) would allocate and leak */
		cr_assert_fail("cannot run /usr/bin/curl: %s", uv_strerror(rc));
	c->open_handles = 2;
	cr_assert_eq(uv_read_start((uv_stream_t *)&c->out, curl_alloc, curl_read), 0);
	cr_assert(fx_run_until(curl_done, c, 60000), "curl did not finish");
	/* the last line is the status from -w */
	char *nl = strrchr(c->buf, '\n');
	cr_assert_not_null(nl, "curl printed no status line: '%s'", c->buf);
	*nl = 0;
	c->http_code = atoi(nl + 1);
	c->body = c->buf;
}

/* ---- raw client ------------------------------------------------------------------ */

static void raw_closed(uv_handle_t *h)
{
	((struct fx_raw *)h->data)->closed = true;
}

static void raw_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct fx_raw *r = h->data;
	size_t room = sizeof r->buf - 1 - r->len;
	*buf = uv_buf_init(r->buf + r->len, (unsigned)room);
}

static void raw_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct fx_raw *r = s->data;
	if (nread > 0) {
		r->len += (size_t)nread;
		r->buf[r->len] = 0;
		if (r->len + 1 >= sizeof r->buf)
			uv_read_stop(s);
	} else if (nread < 0) {
		r->eof = true;
		uv_read_stop(s);
	}
}

static void raw_connected(uv_connect_t *req, int status)
{
	struct fx_raw *r = req->data;
	if (status < 0) {
		r->failed = true;
		return;
	}
	r->connected = true;
	uv_read_start((uv_stream_t *)&r->tcp, raw_alloc, raw_read);
}

static bool raw_is_connected(void *arg)
{
	struct fx_raw *r = arg;
	return r->connected || r->failed;
}

void fx_raw_connect(struct fx_raw *r, int port)
{
	memset(r, 0, sizeof *r);
	struct sockaddr_in sa;
	uv_ip4_addr("127.0.0.1", port, &sa);
	uv_tcp_init(fx_loop, &r->tcp);
	r->tcp.data = r;
	r->creq.data = r;
	cr_assert_eq(uv_tcp_connect(&r->creq, &r->tcp, (struct sockaddr *)&sa, raw_connected), 0);
	cr_assert(fx_run_until(raw_is_connected, r, FX_WAIT_MS));
	cr_assert(r->connected, "raw client could not connect to port %d", port);
}

struct raw_write {
	uv_write_t req;
	char data[];
};

static void raw_write_done(uv_write_t *req, int status)
{
	free(req);
}

void fx_raw_send(struct fx_raw *r, const void *data, size_t len)
{
	struct raw_write *w = malloc(sizeof *w + len);
	cr_assert_not_null(w);
	memcpy(w->data, data, len);
	uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
	if (uv_write(&w->req, (uv_stream_t *)&r->tcp, &b, 1, raw_write_done) < 0)
		free(w); /* the server closed already: what the test checks next */
}

static bool raw_is_closed(void *arg)
{
	return ((struct fx_raw *)arg)->closed;
}

void fx_raw_close(struct fx_raw *r)
{
	if (!uv_is_closing((uv_handle_t *)&r->tcp))
		uv_close((uv_handle_t *)&r->tcp, raw_closed);
	cr_assert(fx_run_until(raw_is_closed, r, FX_WAIT_MS));
}

struct raw_wait {
	struct fx_raw *r;
	const char *text;
};

static bool raw_has(void *arg)
{
	struct raw_wait *w = arg;
	return strstr(w->r->buf, w->text) != NULL;
}

bool fx_raw_wait_for(struct fx_raw *r, const char *text)
{
	struct raw_wait w = {r, text};
	return fx_run_until(raw_has, &w, FX_WAIT_MS);
}

static bool raw_eof(void *arg)
{
	return ((struct fx_raw *)arg)->eof;
}

bool fx_raw_wait_eof(struct fx_raw *r)
{
	return fx_run_until(raw_eof, r, FX_WAIT_MS);
}

int fx_raw_count(const struct fx_raw *r, const char *needle)
{
	int n = 0;
	for (const char *p = r->buf; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}
