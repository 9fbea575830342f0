/* SPDX-License-Identifier: MIT */
/*
 * isolation.c - the isolation probe: can this node reach anything outside
 * the cluster?
 *
 * A node that cannot reach its peer cannot tell "the peer died" from "I am
 * cut off". This probe dials every configured target at once with a
 * non-blocking uv_tcp_connect() on the loop and is ok as soon as one of
 * them answers. ECONNREFUSED counts as an answer: the refusal (a RST) came
 * from the target host, so the network path to it works even if nothing
 * listens on that port; only silence, unreachable routes and resets from
 * the path count as failures. The deadline is the framework's; on it, the
 * cancel function closes every socket.
 *
 * done() is called only once every handle of the probe has closed, so the
 * next probe (which reuses the same handles) can start from inside it.
 * Connected sockets are closed with a reset (uv_tcp_close_reset): a probe
 * every interval would otherwise leave a TIME_WAIT socket behind each time.
 * Targets are numeric addresses, parsed once when the check is added; no
 * name resolution (it would need the threadpool and a resolver that works
 * while the node may be isolated).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duet/addr.h"
#include "health_internal.h"

#define STATUS_PENDING 1 /* not a libuv status: connect callback not called yet */

struct isolation_target {
	char text[DUET_ADDR_MAX];
	struct sockaddr_storage addr;
	uv_tcp_t tcp;
	uv_connect_t connect;
	bool open; /* tcp initialised and not closed yet */
	int status;
	struct isolation_probe *probe;
};

struct isolation_probe {
	unsigned n;
	struct isolation_target targets[DUET_HEALTH_MAX_TARGETS];
	struct duet_health_probe_ctx *ctx;
	duet_health_done_fn done;
	unsigned open_handles;
	int reachable; /* index of the first target that answered, or -1 */
	bool cancelled;
};

/* "a.b.c.d:port" or "[v6]:port", port 1..65535. */
static int parse_target(const char *text, struct sockaddr_storage *out)
{
	if (duet_addr_parse(text, out) || duet_addr_port(out) == 0)
		return DUET_EINVAL;
	return 0;
}

static void finish(struct isolation_probe *p)
{
	struct duet_health_probe_ctx *ctx = p->ctx;
	duet_health_done_fn done = p->done;
	char detail[DUET_HEALTH_DETAIL_MAX];
	bool ok = p->reachable >= 0;
	if (ok) {
		const struct isolation_target *t = &p->targets[p->reachable];
		snprintf(detail, sizeof(detail), "%s reachable (%s)", t->text,
			 t->status == 0 ? "connected"
					: "refused the connection: the host answered");
	} else {
		size_t len = (size_t)snprintf(detail, sizeof(detail), "no target reachable:");
		for (unsigned i = 0; i < p->n && len < sizeof(detail); i++) {
			const struct isolation_target *t = &p->targets[i];
			const char *why = t->status == UV_ECANCELED ? "cancelled at the deadline"
								    : uv_strerror(t->status);
			len += (size_t)snprintf(detail + len, sizeof(detail) - len, "%s %s: %s",
						i ? ";" : "", t->text, why);
		}
	}
	p->ctx = NULL;
	p->done = NULL;
	done(ctx, ok, detail); /* last: it may start the next probe */
}

static void target_closed(uv_handle_t *h)
{
	struct isolation_target *t = h->data;
	struct isolation_probe *p = t->probe;
	t->open = false;
	if (--p->open_handles == 0)
		finish(p);
}

static void close_target(struct isolation_target *t)
{
	if (!t->open || uv_is_closing((uv_handle_t *)&t->tcp))
		return;
	if (t->status == 0 && uv_tcp_close_reset(&t->tcp, target_closed) == 0)
		return;
	uv_close((uv_handle_t *)&t->tcp, target_closed);
}

static void close_all(struct isolation_probe *p)
{
	for (unsigned i = 0; i < p->n; i++)
		close_target(&p->targets[i]);
}

static void connected(uv_connect_t *req, int status)
{
	struct isolation_target *t = req->data;
	struct isolation_probe *p = t->probe;
	t->status = status;
	/* See the file comment: a refusal is an answer from the target host. */
	bool answered = status == 0 || status == UV_ECONNREFUSED;
	if (answered && p->reachable < 0 && !p->cancelled) {
		p->reachable = (int)(t - p->targets);
		close_all(p); /* the others' connect callbacks see UV_ECANCELED */
		return;
	}
	close_target(t);
}

static int isolation_start(void *probe_data, struct duet_health_probe_ctx *ctx,
			   duet_health_done_fn done)
{
	struct isolation_probe *p = probe_data;
	if (p->open_handles)
		return DUET_EBUSY; /* cannot happen: done() comes after the last close */
	uv_loop_t *loop = duet_health_probe_loop(ctx);
	p->ctx = ctx;
	p->done = done;
	p->reachable = -1;
	p->cancelled = false;
	for (unsigned i = 0; i < p->n; i++) {
		struct isolation_target *t = &p->targets[i];
		t->status = STATUS_PENDING;
		t->probe = p;
		int rc = uv_tcp_init(loop, &t->tcp);
		if (rc) {
			t->status = rc;
			continue;
		}
		t->tcp.data = t;
		t->connect.data = t;
		t->open = true;
		p->open_handles++;
		/* Errors other than a refusal (ENETUNREACH in a namespace without
		 * routes, say) come back at once instead of through the callback. */
		rc = uv_tcp_connect(&t->connect, &t->tcp, (const struct sockaddr *)&t->addr,
				    connected);
		if (rc) {
			t->status = rc;
			close_target(t);
		}
	}
	if (p->open_handles == 0)
		finish(p); /* nothing to wait for; the framework defers this answer */
	return 0;
}

static void isolation_cancel(void *probe_data, struct duet_health_probe_ctx *ctx)
{
	struct isolation_probe *p = probe_data;
	p->cancelled = true;
	close_all(p);
}

int duet_health_add_isolation(struct duet_health_set *set,
			      const struct duet_health_check_config *config,
			      const char *const *targets, unsigned n_targets)
{
	if (!targets || n_targets == 0 || n_targets > DUET_HEALTH_MAX_TARGETS)
		return DUET_EINVAL;
	struct isolation_probe *p = calloc(1, sizeof(*p));
	if (!p)
		return DUET_ENOMEM;
	p->n = n_targets;
	for (unsigned i = 0; i < n_targets; i++) {
		struct isolation_target *t = &p->targets[i];
		if (!targets[i] || strlen(targets[i]) >= sizeof(t->text) ||
		    parse_target(targets[i], &t->addr)) {
			free(p);
			return DUET_EINVAL;
		}
		strcpy(t->text, targets[i]);
	}
	struct duet_health_probe probe = {
	    .start = isolation_start, .cancel = isolation_cancel, .release = free, .probe_data = p};
	int rc = duet_health_add(set, config, &probe);
	if (rc)
		free(p);
	return rc;
}
