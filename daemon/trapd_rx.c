/* SPDX-License-Identifier: MIT */
/*
 * trapd_rx.c - the trap receivers of a data node (DESIGN.md 5): syslog over
 * UDP and TCP, SNMP traps and informs over UDP, custom traps over HTTP(S),
 * each on the addresses of [traps]. Every copy is decoded, its identity
 * content and JSON written, and handed to trapd_receive(); everything
 * refused is counted by receiver and reason (trapd_rx_status_fill).
 *
 * The sender of a copy is the client's IP address without the port (a
 * device that sends one trap to both nodes may do so from two sockets),
 * IPv4-mapped IPv6 as IPv4 (duet_addr_ip_text: a node listening on [::]
 * and one on its IPv4 address name the device alike).
 *
 * SNMP informs are answered (a Response from the address the inform went
 * to) once the copy is taken or known as a duplicate, never when it was
 * refused, so the agent retransmits what we could not keep. Our SNMP engine
 * id is [traps] snmp_engine_id, or derived from the cluster id and this
 * member's id (RFC 3411 format 5 octets: enterprise 0 + text).
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "duet/addr.h"
#include "duet/traps_http.h"
#include "duet/traps_pipe.h"
#include "duet/traps_snmp.h"
#include "duet/traps_syslog.h"
#include "duet/traps_syslog_tcp.h"
#include "duet/traps_udp.h"

#include "node_internal.h"
#include "trapd.h"
#include "status.h"

enum rx_source { SRC_SYSLOG_UDP = 0, SRC_SYSLOG_TCP, SRC_SNMP, SRC_HTTP, SRC_N };
static const char *const src_names[SRC_N] = {"syslog_udp", "syslog_tcp", "snmp", "http"};

struct trapd_rx;

/* One UDP listener and the pipeline it feeds. */
struct rx_udp {
	struct trapd_rx *r;
	struct duet_udp_rx *rx;
};

struct trapd_rx {
	struct node *n;
	struct rx_udp syslog_udp[DUET_MAX_ADDRS];
	struct rx_udp snmp_udp[DUET_MAX_ADDRS];
	unsigned n_syslog_udp, n_snmp_udp;
	struct trap_syslog_tcp *syslog_tcp;
	struct trap_http_server *http;
	unsigned pending_closes;

	struct trap_snmp_config *snmp;
	struct trap_snmp_msg *msg;
	uint8_t engine_id[TRAP_SNMP_MAX_ENGINE_ID_BYTES];
	size_t engine_id_len;
	uint64_t salt;

	uint32_t max_message;
	uint8_t *scratch, *content, *out;
	char *json;
	size_t scratch_cap, content_cap, json_cap, out_cap;

	struct {
		uint64_t copies;                    /* decoded and handed on */
		uint64_t results[DUET_TRAP_DROP_N]; /* what the pipeline said */
		uint64_t too_large, empty, truncated;
	} c[SRC_N];
	uint64_t snmp_drops[64];
	uint64_t informs_answered, inform_answer_failed;
};

static struct trapd_rx *rx_of(struct node *n)
{
	return n->traps_rx;
}

static int hand_on(struct trapd_rx *r, int src, uint8_t kind, const char *sender,
		   const void *content, size_t clen, const char *json, size_t jlen)
{
	int res = trapd_receive(r->n, kind, sender, content, clen, json, jlen);
	r->c[src].copies++;
	if (res >= 0 && res < DUET_TRAP_DROP_N)
		r->c[src].results[res]++;
	return res;
}

/* ---- syslog -------------------------------------------------------------- */

static int syslog_take(struct trapd_rx *r, int src, const char *sender, const uint8_t *buf,
		       size_t len)
{
	if (len > r->max_message) {
		r->c[src].too_large++;
		return DUET_TRAP_TOO_LARGE;
	}
	struct duet_syslog_msg m;
	if (duet_syslog_parse(buf, len, &m) != 0) {
		r->c[src].empty++;
		return DUET_TRAP_TOO_LARGE;
	}
	long clen = duet_syslog_identity(&m, r->content, r->content_cap);
	long jlen = duet_syslog_json(&m, r->json, r->json_cap);
	if (clen < 0 || jlen < 0) {
		r->c[src].too_large++;
		return DUET_TRAP_TOO_LARGE;
	}
	return hand_on(r, src, DUET_TRAP_SYSLOG, sender, r->content, (size_t)clen, r->json,
		       (size_t)jlen);
}

static void on_syslog_udp(void *data, const struct sockaddr_storage *from, const uint8_t *buf,
			  size_t len, bool truncated)
{
	struct trapd_rx *r = ((struct rx_udp *)data)->r;
	if (truncated) {
		r->c[SRC_SYSLOG_UDP].truncated++;
		return;
	}
	char sender[INET6_ADDRSTRLEN];
	duet_addr_ip_text(from, sender, sizeof sender);
	(void)syslog_take(r, SRC_SYSLOG_UDP, sender, buf, len);
}

static int on_syslog_tcp(void *data, const char *sender, const uint8_t *msg, size_t len)
{
	struct trapd_rx *r = data;
	int res = syslog_take(r, SRC_SYSLOG_TCP, sender, msg, len);
	/* a full pipeline pauses the connection instead of dropping: TCP
	 * senders can wait (trap_syslog_tcp_resume() at the next tick) */
	if (res == DUET_TRAP_LIVE_FULL || res == DUET_TRAP_BACKLOG_FULL)
		return DUET_EBUSY;
	return 0;
}

/* ---- SNMP ---------------------------------------------------------------- */

static void answer_inform(struct trapd_rx *r, struct duet_udp_rx *rx,
			  const struct sockaddr_storage *from)
{
	const struct trap_snmp_msg *m = r->msg;
	long len;
	if (m->version == TRAP_SNMP_V3) {
		struct trap_snmp_engine local = {
		    .id = r->engine_id,
		    .id_len = r->engine_id_len,
		    .boots = 1,
		    .time = (uint32_t)((node_now_ms() - r->n->start_ms) / 1000u),
		};
		uint8_t salt[8];
		r->salt++;
		for (int i = 0; i < 8; i++)
			salt[i] = (uint8_t)(r->salt >> (8 * i));
		len = trap_snmp_response_encode_v3(r->snmp, m, &local, salt, r->out, r->out_cap);
	} else {
		len = trap_snmp_response_encode(m, r->out, r->out_cap);
	}
	if (len > 0 && duet_udp_rx_send(rx, from, r->out, (size_t)len) == 0)
		r->informs_answered++;
	else
		r->inform_answer_failed++;
}

static void on_snmp_udp(void *data, const struct sockaddr_storage *from, const uint8_t *buf,
			size_t len, bool truncated)
{
	struct rx_udp *u = data;
	struct trapd_rx *r = u->r;
	if (truncated) {
		r->c[SRC_SNMP].truncated++;
		return;
	}
	enum trap_snmp_drop d =
	    trap_snmp_decode(r->snmp, buf, len, r->scratch, r->scratch_cap, r->msg);
	if (d != TRAP_SNMP_OK) {
		r->snmp_drops[(unsigned)d < 64 ? (unsigned)d : 63]++;
		return;
	}
	long clen = trap_snmp_identity(r->msg, r->content, r->content_cap);
	long jlen = trap_snmp_json(r->msg, r->json, r->json_cap);
	if (clen < 0 || jlen < 0) {
		r->c[SRC_SNMP].too_large++;
		return;
	}
	char sender[INET6_ADDRSTRLEN];
	duet_addr_ip_text(from, sender, sizeof sender);
	int res = hand_on(r, SRC_SNMP, DUET_TRAP_SNMP, sender, r->content, (size_t)clen, r->json,
			  (size_t)jlen);
	if ((res == DUET_TRAP_TAKEN || res == DUET_TRAP_DUPLICATE) &&
	    trap_snmp_msg_is_inform(r->msg))
		answer_inform(r, u->rx, from);
}

/* ---- HTTP ---------------------------------------------------------------- */

static int on_custom(void *data, const char *sender, const char *canonical, size_t clen,
		     const char *json, size_t jlen)
{
	struct trapd_rx *r = data;
	int res = hand_on(r, SRC_HTTP, DUET_TRAP_CUSTOM, sender, canonical, clen, json, jlen);
	switch (res) {
	case DUET_TRAP_TAKEN:
	case DUET_TRAP_DUPLICATE:
		return 0;
	case DUET_TRAP_LIVE_FULL:
	case DUET_TRAP_BACKLOG_FULL:
	case DUET_TRAP_WINDOW_FULL:
		return DUET_EBUSY; /* 503: the client retries */
	default:
		return DUET_ENOMEM;
	}
}

static void on_http_log(void *data, int level, const char *text)
{
	(void)data;
	duet_log(level >= TRAP_HTTP_LOG_ERROR  ? DUET_LOG_ERROR
		 : level == TRAP_HTTP_LOG_WARN ? DUET_LOG_WARN
		 : level == TRAP_HTTP_LOG_INFO ? DUET_LOG_INFO
					       : DUET_LOG_DEBUG,
		 "traps http: %s", text);
}

/* ---- open ---------------------------------------------------------------- */

static int open_udp(struct trapd_rx *r, const struct duet_config_addrs *addrs, struct rx_udp *out,
		    unsigned *n_out, duet_udp_rx_cb cb, const char *what)
{
	const struct duet_config_traps *ct = &r->n->cfg.traps;
	for (unsigned i = 0; i < addrs->n; i++) {
		struct duet_udp_rx_config uc = {
		    .addr = addrs->v[i], .rcvbuf_bytes = ct->udp_rcvbuf_bytes, .batch = 64};
		char err[256] = "";
		out[i].r = r;
		int rc = duet_udp_rx_new(r->n->loop, &uc, cb, &out[i], &out[i].rx, err, sizeof err);
		if (rc) {
			duet_log(DUET_LOG_ERROR, "[traps] %s = %s: %s", what, addrs->v[i],
				 err[0] ? err : duet_strerror(rc));
			return -1;
		}
		(*n_out)++;
		duet_log(DUET_LOG_INFO, "traps: %s on %s (port %d)", what, addrs->v[i],
			 duet_udp_rx_port(out[i].rx));
	}
	return 0;
}

static int snmp_setup(struct trapd_rx *r)
{
	const struct duet_config_traps *ct = &r->n->cfg.traps;
	r->snmp = calloc(1, sizeof *r->snmp);
	r->msg = calloc(1, sizeof *r->msg);
	if (!r->snmp || !r->msg)
		return -1;
	trap_snmp_config_init(r->snmp);
	for (unsigned i = 0; i < ct->n_snmp_communities; i++)
		if (trap_snmp_config_add_community(r->snmp, ct->snmp_communities[i],
						   strlen(ct->snmp_communities[i])) != 0) {
			duet_log(DUET_LOG_ERROR, "[traps] snmp_communities: community %u refused",
				 i + 1);
			return -1;
		}
	for (unsigned i = 0; i < ct->n_snmp_users; i++) {
		const struct duet_config_snmp_user *u = &ct->snmp_users[i];
		struct trap_snmp_user_spec sp = {0};
		sp.name = u->name;
		sp.engine_id = u->engine_id;
		sp.engine_id_len = u->engine_id_len;
		sp.auth = (enum trap_snmp_auth)u->auth;
		sp.auth_kind = TRAP_SNMP_KEY_PASSWORD;
		sp.auth_secret = (const uint8_t *)u->auth_pass;
		sp.auth_secret_len = strlen(u->auth_pass);
		sp.priv = (enum trap_snmp_priv)u->priv;
		sp.priv_kind = TRAP_SNMP_KEY_PASSWORD;
		sp.priv_secret = (const uint8_t *)u->priv_pass;
		sp.priv_secret_len = strlen(u->priv_pass);
		int rc = trap_snmp_config_add_user(r->snmp, &sp);
		if (rc) {
			duet_log(DUET_LOG_ERROR, "[traps] snmp_users_file: user %s: %s", u->name,
				 duet_strerror(rc));
			return -1;
		}
	}
	if (ct->snmp_engine_id_len) {
		memcpy(r->engine_id, ct->snmp_engine_id, ct->snmp_engine_id_len);
		r->engine_id_len = ct->snmp_engine_id_len;
	} else {
		/* RFC 3411: enterprise 0 with the high bit, format 5 (octets) */
		uint8_t *e = r->engine_id;
		e[0] = 0x80;
		e[1] = e[2] = e[3] = 0;
		e[4] = 5;
		for (int i = 0; i < 8; i++)
			e[5 + i] = (uint8_t)(r->n->cfg.cluster_id >> (56 - 8 * i));
		for (int i = 0; i < 4; i++)
			e[13 + i] = (uint8_t)(r->n->cfg.self_id >> (24 - 8 * i));
		r->engine_id_len = 17;
	}
	/* the privacy salt must never repeat under one key: a random start */
	if (RAND_bytes((unsigned char *)&r->salt, sizeof r->salt) != 1)
		r->salt = node_wall_ms() ^ ((uint64_t)getpid() << 40);
	return 0;
}

static int open_http(struct trapd_rx *r)
{
	const struct duet_config_traps *ct = &r->n->cfg.traps;
	if (!ct->http.n && !ct->https.n)
		return 0;
	struct trap_http_config hc;
	memset(&hc, 0, sizeof hc);
	for (unsigned i = 0; i < ct->http.n && hc.n_listen < TRAP_HTTP_MAX_LISTEN; i++)
		hc.listen[hc.n_listen++] = (struct trap_http_listen){ct->http.v[i], false};
	for (unsigned i = 0; i < ct->https.n && hc.n_listen < TRAP_HTTP_MAX_LISTEN; i++)
		hc.listen[hc.n_listen++] = (struct trap_http_listen){ct->https.v[i], true};
	hc.cert_file = ct->tls_cert[0] ? ct->tls_cert : NULL;
	hc.key_file = ct->tls_key[0] ? ct->tls_key : NULL;
	hc.bearer_token = ct->http_token;
	hc.max_connections = ct->max_connections;
	hc.max_body_bytes = ct->max_message_bytes;
	hc.request_timeout_ms = ct->request_timeout_ms;
	hc.on_trap = on_custom;
	hc.on_log = on_http_log;
	hc.data = r;
	char err[256] = "";
	int rc = trap_http_new(r->n->loop, &hc, &r->http, err, sizeof err);
	if (rc) {
		duet_log(DUET_LOG_ERROR, "[traps] http/https: %s",
			 err[0] ? err : duet_strerror(rc));
		return -1;
	}
	for (unsigned i = 0; i < hc.n_listen; i++)
		duet_log(DUET_LOG_INFO, "traps: %s on %s (port %d)",
			 hc.listen[i].tls ? "https" : "http", hc.listen[i].addr,
			 trap_http_listen_port(r->http, i));
	return 0;
}

static int open_syslog_tcp(struct trapd_rx *r)
{
	const struct duet_config_traps *ct = &r->n->cfg.traps;
	if (!ct->syslog_tcp.n)
		return 0;
	struct trap_syslog_tcp_config tc;
	memset(&tc, 0, sizeof tc);
	for (unsigned i = 0; i < ct->syslog_tcp.n; i++)
		tc.listen[i] = ct->syslog_tcp.v[i];
	tc.n_listen = ct->syslog_tcp.n;
	tc.max_connections = ct->max_connections;
	tc.max_frame_bytes = ct->max_message_bytes;
	tc.idle_timeout_ms = ct->tcp_idle_timeout_ms;
	tc.on_message = on_syslog_tcp;
	tc.data = r;
	char err[256] = "";
	int rc = trap_syslog_tcp_new(r->n->loop, &tc, &r->syslog_tcp, err, sizeof err);
	if (rc) {
		duet_log(DUET_LOG_ERROR, "[traps] syslog_tcp: %s",
			 err[0] ? err : duet_strerror(rc));
		return -1;
	}
	for (unsigned i = 0; i < tc.n_listen; i++)
		duet_log(DUET_LOG_INFO, "traps: syslog_tcp on %s (port %d)", tc.listen[i],
			 trap_syslog_tcp_port(r->syslog_tcp, i));
	return 0;
}

int trapd_rx_open(struct node *n)
{
	const struct duet_config_traps *ct = &n->cfg.traps;
	struct trapd_rx *r = calloc(1, sizeof *r);
	if (!r)
		return -1;
	r->n = n;
	n->traps_rx = r;
	r->max_message = ct->max_message_bytes;
	r->scratch_cap = 65536;
	r->content_cap = 65536 + (size_t)ct->max_message_bytes + 1024;
	r->json_cap = 8 * 65536 + 1024;
	r->out_cap = 65536;
	r->scratch = malloc(r->scratch_cap);
	r->content = malloc(r->content_cap);
	r->json = malloc(r->json_cap);
	r->out = malloc(r->out_cap);
	if (!r->scratch || !r->content || !r->json || !r->out || snmp_setup(r))
		return -1;
	if (open_udp(r, &ct->syslog_udp, r->syslog_udp, &r->n_syslog_udp, on_syslog_udp,
		     "syslog_udp") ||
	    open_udp(r, &ct->snmp_udp, r->snmp_udp, &r->n_snmp_udp, on_snmp_udp, "snmp_udp") ||
	    open_syslog_tcp(r) || open_http(r))
		return -1;
	return 0;
}

/* Resumes TCP connections paused by a full pipeline (trapd's tick). */
void trapd_rx_tick(struct node *n)
{
	struct trapd_rx *r = rx_of(n);
	if (r && r->syslog_tcp)
		trap_syslog_tcp_resume(r->syslog_tcp);
}

/* ---- close --------------------------------------------------------------- */

static void rx_free(struct trapd_rx *r)
{
	if (r->snmp) {
		trap_snmp_config_close(r->snmp);
		/* the users' keys are secrets */
		OPENSSL_cleanse(r->snmp, sizeof *r->snmp);
	}
	free(r->snmp);
	free(r->msg);
	free(r->scratch);
	free(r->content);
	free(r->json);
	free(r->out);
	free(r);
}

static void one_closed(void *data)
{
	struct trapd_rx *r = data;
	if (--r->pending_closes == 0)
		rx_free(r);
}

void trapd_rx_close(struct node *n)
{
	struct trapd_rx *r = rx_of(n);
	if (!r)
		return;
	n->traps_rx = NULL;
	r->pending_closes = 1; /* released below, after every close is started */
	for (unsigned i = 0; i < r->n_syslog_udp; i++, r->pending_closes++)
		duet_udp_rx_close(r->syslog_udp[i].rx, one_closed, r);
	for (unsigned i = 0; i < r->n_snmp_udp; i++, r->pending_closes++)
		duet_udp_rx_close(r->snmp_udp[i].rx, one_closed, r);
	if (r->syslog_tcp) {
		r->pending_closes++;
		trap_syslog_tcp_close(r->syslog_tcp, one_closed); /* cb(tc.data == r) */
	}
	if (r->http) {
		r->pending_closes++;
		trap_http_close(r->http, one_closed); /* calls back with hc.data == r */
	}
	one_closed(r);
}

/* ---- status -------------------------------------------------------------- */

static unsigned fill_udp(struct duet_status_udp *out, const struct rx_udp *u, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		out[i].port = duet_udp_rx_port(u[i].rx);
		duet_udp_rx_get_stats(u[i].rx, &out[i].s);
	}
	return n;
}

bool trapd_rx_status_fill(struct node *n, struct duet_status_rx *s)
{
	struct trapd_rx *r = rx_of(n);
	if (!r)
		return false;
	for (int i = 0; i < SRC_N && i < DUET_STATUS_RX_SOURCES; i++) {
		s->src[i].name = src_names[i];
		s->src[i].copies = r->c[i].copies;
		s->src[i].oversized = r->c[i].too_large;
		s->src[i].empty = r->c[i].empty;
		s->src[i].truncated = r->c[i].truncated;
		memcpy(s->src[i].results, r->c[i].results, sizeof s->src[i].results);
		s->n_src++;
	}
	s->n_syslog_udp = fill_udp(s->syslog_udp, r->syslog_udp, r->n_syslog_udp);
	s->n_snmp_udp = fill_udp(s->snmp_udp, r->snmp_udp, r->n_snmp_udp);
	for (unsigned d = 1; d < 64; d++)
		if (r->snmp_drops[d]) {
			s->snmp_refused[s->n_snmp_refused].name =
			    trap_snmp_drop_name((enum trap_snmp_drop)d);
			s->snmp_refused[s->n_snmp_refused++].n = r->snmp_drops[d];
		}
	s->informs_answered = r->informs_answered;
	s->inform_answer_failed = r->inform_answer_failed;
	if (r->http) {
		s->have_http = true;
		trap_http_get_stats(r->http, &s->http);
	}
	if (r->syslog_tcp) {
		s->have_syslog_tcp = true;
		trap_syslog_tcp_get_stats(r->syslog_tcp, &s->syslog_tcp);
	}
	return true;
}
