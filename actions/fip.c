/* SPDX-License-Identifier: MIT */
/*
 * fip.c - the floating IP object: a small queue of acquire / release /
 * check operations run one at a time (actions.h, "Floating IP").
 *
 * Why a queue: the daemon may demote right after it promoted, so a release
 * can be asked for while the acquire is still sending gratuitous ARPs.
 * Running operations strictly in order on one object means the address
 * ends as the last request wants it, without the caller tracking anything.
 *
 * Netlink mode runs each blocking step (fip_netlink.c, garp.c) as one
 * uv_queue_work job; the pause between gratuitous ARPs is a timer on the
 * loop, so no worker thread sleeps. Command mode runs the configured
 * commands through cmd.c.
 *
 * Callbacks come only from loop callbacks (work done, command done), never
 * from the call that queued the operation. The one exception to "every
 * operation ends with its callback" is duet_fip_free(), which drops them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "duet/actions.h"
#include "fip_internal.h"

#define DETAIL_MAX 512 /* DUET_DETAIL_MAX: what a STEP entry holds */

enum op_kind { OP_ACQUIRE, OP_RELEASE, OP_CHECK, OP_ANNOUNCE };

/* A blocking step done by a worker thread. */
enum job_kind { JOB_ADD, JOB_DEL, JOB_CHECK, JOB_GARP };

struct fip_op {
	enum op_kind kind;
	duet_fip_cb cb;             /* acquire, release */
	duet_fip_check_cb check_cb; /* check */
	void *data;
};

struct duet_fip {
	uv_loop_t *loop;
	struct duet_fip_config cfg;
	struct fip_addr addr;
	bool command_mode;

	struct fip_op queue[DUET_FIP_QUEUE_MAX]; /* queue[head] runs when busy */
	unsigned head, count;
	bool busy;
	bool freed;

	/* The step in flight: a worker job, a command, or the GARP timer. */
	uv_work_t work;
	bool work_in_flight;
	struct duet_cmd *cmd;
	uv_timer_t timer;

	/* Worker job input and output (the worker touches nothing else). */
	enum job_kind job;
	int job_rc;
	bool job_flag; /* existed / absent / present */
	char job_err[FIP_ERR_MAX];

	/* An operation that ends without I/O ends from this timer callback
	 * (never inside the call that queued it). */
	int defer_rc;
	char defer_detail[DETAIL_MAX];

	/* Acquire progress. */
	bool existed;
	unsigned garps_sent;

	/* Command mode environment. */
	char env_address[96];
	char env_interface[48];
	const char *env[3];
};

int fip_addr_parse(const char *text, struct fip_addr *a, char *err, size_t errlen)
{
	memset(a, 0, sizeof *a);
	const char *slash = strchr(text, '/');
	if (!slash) {
		snprintf(err, errlen,
			 "address \"%s\" has no prefix length (write e.g. 10.0.0.5/24)", text);
		return DUET_EINVAL;
	}
	char host[64];
	size_t hl = (size_t)(slash - text);
	if (hl == 0 || hl >= sizeof host || strlen(text) >= sizeof a->text) {
		snprintf(err, errlen, "address \"%.80s\" is not an IP address with a prefix", text);
		return DUET_EINVAL;
	}
	memcpy(host, text, hl);
	host[hl] = '\0';
	unsigned max;
	if (inet_pton(AF_INET, host, a->bytes) == 1) {
		a->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, host, a->bytes) == 1) {
		a->family = AF_INET6;
		max = 128;
	} else {
		snprintf(err, errlen, "\"%s\" is not an IPv4 or IPv6 address", host);
		return DUET_EINVAL;
	}
	const char *p = slash + 1;
	unsigned prefix = 0;
	if (!*p || strlen(p) > 3) {
		snprintf(err, errlen, "prefix length in \"%s\" must be 1..%u", text, max);
		return DUET_EINVAL;
	}
	for (; *p; p++) {
		if (*p < '0' || *p > '9') {
			snprintf(err, errlen, "prefix length in \"%s\" must be 1..%u", text, max);
			return DUET_EINVAL;
		}
		prefix = prefix * 10 + (unsigned)(*p - '0');
	}
	if (prefix < 1 || prefix > max) {
		snprintf(err, errlen, "prefix length in \"%s\" must be 1..%u", text, max);
		return DUET_EINVAL;
	}
	a->prefix = prefix;
	memcpy(a->text, text, strlen(text) + 1);
	return 0;
}

int duet_fip_parse_address(const char *text, char *err, size_t errlen)
{
	struct fip_addr a;
	char scratch[FIP_ERR_MAX];
	if (!err || errlen == 0) {
		err = scratch;
		errlen = sizeof scratch;
	}
	if (!text) {
		snprintf(err, errlen, "no address");
		return DUET_EINVAL;
	}
	return fip_addr_parse(text, &a, err, errlen);
}

/* ---- lifetime ------------------------------------------------------------ */

static void on_timer_closed(uv_handle_t *h)
{
	free(h->data);
}

/* After duet_fip_free(): frees once nothing is in flight. */
static void release_if_idle(struct duet_fip *f)
{
	if (!f->freed || f->work_in_flight || f->cmd)
		return;
	if (!uv_is_closing((uv_handle_t *)&f->timer))
		uv_close((uv_handle_t *)&f->timer, on_timer_closed);
}

int duet_fip_new(uv_loop_t *loop, const struct duet_fip_config *cfg, struct duet_fip **out,
		 char *err, size_t errlen)
{
	char scratch[FIP_ERR_MAX];
	if (!err || errlen == 0) {
		err = scratch;
		errlen = sizeof scratch;
	}
	*out = NULL;
	struct fip_addr addr;
	int rc = fip_addr_parse(cfg->address, &addr, err, errlen);
	if (rc)
		return rc;
	bool command_mode = cfg->add_command[0] != '\0';
	size_t iflen = strnlen(cfg->interface, sizeof cfg->interface);
	if (iflen == sizeof cfg->interface) {
		snprintf(err, errlen, "interface name is too long (at most %zu characters)",
			 sizeof cfg->interface - 1);
		return DUET_EINVAL;
	}
	if (!command_mode && iflen == 0) {
		snprintf(err, errlen, "no interface for the floating IP %s", addr.text);
		return DUET_EINVAL;
	}
	if (command_mode && (!cfg->del_command[0] || !cfg->check_command[0])) {
		snprintf(err, errlen,
			 "a floating IP run by commands needs the add, delete and check commands");
		return DUET_EINVAL;
	}
	struct duet_fip *f = calloc(1, sizeof *f);
	if (!f) {
		snprintf(err, errlen, "out of memory");
		return DUET_ENOMEM;
	}
	f->loop = loop;
	f->cfg = *cfg;
	/* The copies are NUL-terminated whatever the caller left in the arrays. */
	f->cfg.address[sizeof f->cfg.address - 1] = '\0';
	f->cfg.add_command[sizeof f->cfg.add_command - 1] = '\0';
	f->cfg.del_command[sizeof f->cfg.del_command - 1] = '\0';
	f->cfg.check_command[sizeof f->cfg.check_command - 1] = '\0';
	if (!f->cfg.garp_count)
		f->cfg.garp_count = DUET_FIP_DEFAULT_GARP_COUNT;
	if (!f->cfg.garp_interval_ms)
		f->cfg.garp_interval_ms = DUET_FIP_DEFAULT_GARP_INTERVAL;
	if (!f->cfg.timeout_ms)
		f->cfg.timeout_ms = DUET_FIP_DEFAULT_TIMEOUT_MS;
	f->addr = addr;
	f->command_mode = command_mode;
	snprintf(f->env_address, sizeof f->env_address, "DUET_FIP_ADDRESS=%s", addr.text);
	snprintf(f->env_interface, sizeof f->env_interface, "DUET_FIP_INTERFACE=%s",
		 f->cfg.interface);
	f->env[0] = f->env_address;
	f->env[1] = f->env_interface;
	f->env[2] = NULL;
	uv_timer_init(loop, &f->timer);
	f->timer.data = f;
	*out = f;
	return 0;
}

void duet_fip_free(struct duet_fip *f)
{
	if (!f || f->freed)
		return;
	f->freed = true;
	f->count = 0;
	uv_timer_stop(&f->timer);
	if (f->cmd)
		duet_cmd_cancel(f->cmd); /* its callback comes and finds us freed */
	release_if_idle(f);
}

/* ---- the queue ------------------------------------------------------------ */

static int start_op(struct duet_fip *f);

/* Ends the running operation with its callback, then starts the next. */
static void complete(struct duet_fip *f, int rc, bool present, const char *detail)
{
	if (f->freed) {
		release_if_idle(f);
		return;
	}
	struct fip_op op = f->queue[f->head];
	f->head = (f->head + 1) % DUET_FIP_QUEUE_MAX;
	f->count--;
	f->busy = false;
	if (op.kind == OP_CHECK)
		op.check_cb(op.data, rc, present, detail);
	else
		op.cb(op.data, rc, detail);
	/* The callback may have freed f (memory still ours until the timer's
	 * close callback) or queued and started another operation. */
	if (f->freed || f->busy || f->count == 0)
		return;
	int err = start_op(f);
	if (err) {
		/* Could not even start: report it, which goes on with the next. */
		char d[DETAIL_MAX];
		snprintf(d, sizeof d, "%s: cannot start: %s", f->addr.text, duet_strerror(err));
		complete(f, err, false, d);
	}
}

static int enqueue(struct duet_fip *f, struct fip_op op)
{
	if (!f || f->freed)
		return DUET_EINVAL;
	if (f->count == DUET_FIP_QUEUE_MAX)
		return DUET_EBUSY;
	f->queue[(f->head + f->count) % DUET_FIP_QUEUE_MAX] = op;
	f->count++;
	/* Inside complete()'s callback older operations may still wait: then
	 * complete() starts them, in order, once the callback returns. */
	if (f->busy || f->count > 1)
		return 0;
	int rc = start_op(f);
	if (rc) {
		f->count--; /* refused as a whole: the callback will not come */
		f->busy = false;
	}
	return rc;
}

int duet_fip_acquire(struct duet_fip *f, duet_fip_cb cb, void *data)
{
	if (!cb)
		return DUET_EINVAL;
	return enqueue(f, (struct fip_op){.kind = OP_ACQUIRE, .cb = cb, .data = data});
}

int duet_fip_announce(struct duet_fip *f, duet_fip_cb cb, void *data)
{
	if (!cb)
		return DUET_EINVAL;
	return enqueue(f, (struct fip_op){.kind = OP_ANNOUNCE, .cb = cb, .data = data});
}

int duet_fip_release(struct duet_fip *f, duet_fip_cb cb, void *data)
{
	if (!cb)
		return DUET_EINVAL;
	return enqueue(f, (struct fip_op){.kind = OP_RELEASE, .cb = cb, .data = data});
}

int duet_fip_check(struct duet_fip *f, duet_fip_check_cb cb, void *data)
{
	if (!cb)
		return DUET_EINVAL;
	return enqueue(f, (struct fip_op){.kind = OP_CHECK, .check_cb = cb, .data = data});
}

/* ---- netlink mode ---------------------------------------------------------- */

static void run_job(uv_work_t *w)
{
	struct duet_fip *f = w->data;
	const char *ifname = f->cfg.interface;
	f->job_err[0] = '\0';
	switch (f->job) {
	case JOB_ADD:
		f->job_rc = fip_nl_add(&f->addr, ifname, f->cfg.timeout_ms, &f->job_flag,
				       f->job_err, sizeof f->job_err);
		break;
	case JOB_DEL:
		f->job_rc = fip_nl_del(&f->addr, ifname, f->cfg.timeout_ms, &f->job_flag,
				       f->job_err, sizeof f->job_err);
		break;
	case JOB_CHECK:
		f->job_rc = fip_nl_check(&f->addr, ifname, f->cfg.timeout_ms, &f->job_flag,
					 f->job_err, sizeof f->job_err);
		break;
	case JOB_GARP:
		f->job_rc = garp_send(ifname, f->addr.bytes, f->job_err, sizeof f->job_err);
		break;
	}
}

static void job_done(uv_work_t *w, int status);

/* DESIGN.md 4.7: the owner's last word before an address is added or
 * announced. */
static bool may_act(const struct duet_fip *f)
{
	return !f->cfg.may_act || f->cfg.may_act(f->cfg.may_act_data);
}

/* Ends the running operation: the owner no longer allows it. */
static void refused(struct duet_fip *f, const char *what)
{
	char d[DETAIL_MAX];
	snprintf(d, sizeof d, "%s: %s not sent: this node may no longer act as master",
		 f->addr.text, what);
	complete(f, DUET_ENOTLEADER, false, d);
}

static void on_defer_timer(uv_timer_t *t)
{
	struct duet_fip *f = t->data;
	complete(f, f->defer_rc, f->defer_rc == 0, f->defer_detail);
}

/* Ends the operation being started without I/O, from a fresh loop callback. */
static int defer_complete(struct duet_fip *f, int rc, const char *detail)
{
	f->defer_rc = rc;
	snprintf(f->defer_detail, sizeof f->defer_detail, "%s", detail);
	return uv_timer_start(&f->timer, on_defer_timer, 0, 0);
}

static int queue_job(struct duet_fip *f, enum job_kind job)
{
	f->job = job;
	f->work.data = f;
	int rc = uv_queue_work(f->loop, &f->work, run_job, job_done);
	if (rc == 0)
		f->work_in_flight = true;
	return rc;
}

static void on_garp_timer(uv_timer_t *t)
{
	struct duet_fip *f = t->data;
	if (!may_act(f)) {
		refused(f, "gratuitous ARP");
		return;
	}
	int rc = queue_job(f, JOB_GARP);
	if (rc) {
		char d[DETAIL_MAX];
		snprintf(d, sizeof d, "%s %s on %s, gratuitous ARP %u of %u not sent: %s",
			 f->addr.text, f->existed ? "already present" : "added", f->cfg.interface,
			 f->garps_sent + 1, f->cfg.garp_count, duet_strerror(rc));
		complete(f, 0, true, d);
	}
}

static void acquire_step(struct duet_fip *f)
{
	char d[DETAIL_MAX];
	const char *how = f->existed ? "already present" : "added";
	if (f->job_rc) {
		/* The address is in place; only the announcement failed. */
		snprintf(d, sizeof d, "%s %s on %s, gratuitous ARP failed after %u of %u: %s",
			 f->addr.text, how, f->cfg.interface, f->garps_sent, f->cfg.garp_count,
			 f->job_err);
		complete(f, 0, true, d);
		return;
	}
	if (++f->garps_sent < f->cfg.garp_count) {
		uv_timer_start(&f->timer, on_garp_timer, f->cfg.garp_interval_ms, 0);
		return;
	}
	snprintf(d, sizeof d, "%s %s on %s, %u gratuitous ARP%s", f->addr.text, how,
		 f->cfg.interface, f->garps_sent, f->garps_sent == 1 ? "" : "s");
	complete(f, 0, true, d);
}

static void job_done(uv_work_t *w, int status)
{
	struct duet_fip *f = w->data;
	f->work_in_flight = false;
	if (f->freed) {
		release_if_idle(f);
		return;
	}
	char d[DETAIL_MAX];
	if (status) { /* UV_ECANCELED: never happens, we do not cancel */
		snprintf(d, sizeof d, "%s: operation cancelled", f->addr.text);
		complete(f, status, false, d);
		return;
	}
	switch (f->job) {
	case JOB_ADD:
		if (f->job_rc) {
			complete(f, f->job_rc, false, f->job_err);
			return;
		}
		f->existed = f->job_flag;
		if (f->addr.family != AF_INET) {
			snprintf(d, sizeof d,
				 "%s %s on %s (IPv6: no unsolicited neighbour advertisement, "
				 "not supported)",
				 f->addr.text, f->existed ? "already present" : "added",
				 f->cfg.interface);
			complete(f, 0, true, d);
			return;
		}
		f->garps_sent = 0;
		if (!may_act(f)) {
			refused(f, "gratuitous ARP");
			return;
		}
		if (queue_job(f, JOB_GARP) == 0)
			return;
		f->job_rc = -EAGAIN;
		snprintf(f->job_err, sizeof f->job_err, "could not queue work");
		acquire_step(f);
		return;
	case JOB_GARP:
		if (f->queue[f->head].kind == OP_ANNOUNCE) {
			if (f->job_rc)
				snprintf(d, sizeof d, "%s: gratuitous ARP on %s failed: %s",
					 f->addr.text, f->cfg.interface, f->job_err);
			else
				snprintf(d, sizeof d, "%s: gratuitous ARP sent on %s", f->addr.text,
					 f->cfg.interface);
			complete(f, f->job_rc, true, d);
			return;
		}
		acquire_step(f);
		return;
	case JOB_DEL:
		if (f->job_rc) {
			complete(f, f->job_rc, true, f->job_err);
			return;
		}
		snprintf(d, sizeof d, f->job_flag ? "%s was not on %s" : "%s removed from %s",
			 f->addr.text, f->cfg.interface);
		complete(f, 0, false, d);
		return;
	case JOB_CHECK:
		if (f->job_rc) {
			complete(f, f->job_rc, false, f->job_err);
			return;
		}
		snprintf(d, sizeof d, f->job_flag ? "%s present on %s" : "%s absent from %s",
			 f->addr.text, f->cfg.interface);
		complete(f, 0, f->job_flag, d);
		return;
	}
}

/* ---- command mode ---------------------------------------------------------- */

static void command_done(void *data, const struct duet_cmd_result *r)
{
	struct duet_fip *f = data;
	f->cmd = NULL;
	if (f->freed) {
		release_if_idle(f);
		return;
	}
	enum op_kind kind = f->queue[f->head].kind;
	static const char *const names[] = {"add", "delete", "check", "announce"};
	char what[256], d[DETAIL_MAX];
	duet_cmd_describe(r, what, sizeof what);
	int rc = 0;
	if (r->spawn_error)
		rc = r->spawn_error;
	else if (r->timed_out)
		rc = -ETIMEDOUT;
	else if (r->exit_status != 0 && !(kind == OP_CHECK && r->exit_status == 1))
		rc = -EIO; /* the command said it failed */
	bool present = kind == OP_CHECK ? rc == 0 && r->exit_status == 0 : kind == OP_ACQUIRE;
	if (rc)
		snprintf(d, sizeof d, "%s: %s command failed: %s", f->addr.text, names[kind], what);
	else if (kind == OP_CHECK)
		snprintf(d, sizeof d, "%s %s (check command: %s)", f->addr.text,
			 present ? "present" : "absent", what);
	else
		snprintf(d, sizeof d, "%s %s by command (%s)", f->addr.text,
			 kind == OP_ACQUIRE ? "added" : "removed", what);
	complete(f, rc, present, d);
}

/* ---- dispatch -------------------------------------------------------------- */

/* Starts queue[head]. Returns 0 (its callback will come) or an error. */
static int start_op(struct duet_fip *f)
{
	enum op_kind kind = f->queue[f->head].kind;
	f->busy = true;
	if (kind == OP_ACQUIRE || kind == OP_ANNOUNCE) {
		char d[DETAIL_MAX];
		if (!may_act(f)) {
			snprintf(d, sizeof d,
				 "%s: %s not sent: this node may no longer act as master",
				 f->addr.text, kind == OP_ACQUIRE ? "address" : "gratuitous ARP");
			return defer_complete(f, DUET_ENOTLEADER, d);
		}
		if (kind == OP_ANNOUNCE && (f->command_mode || f->addr.family != AF_INET)) {
			snprintf(d, sizeof d, "%s: nothing to announce (%s)", f->addr.text,
				 f->command_mode ? "command mode" : "IPv6");
			return defer_complete(f, 0, d);
		}
		if (kind == OP_ANNOUNCE)
			return queue_job(f, JOB_GARP);
	}
	if (f->command_mode) {
		const char *command = kind == OP_ACQUIRE   ? f->cfg.add_command
				      : kind == OP_RELEASE ? f->cfg.del_command
							   : f->cfg.check_command;
		return duet_cmd_run(f->loop, command, f->env, f->cfg.timeout_ms, command_done, f,
				    &f->cmd);
	}
	enum job_kind job = kind == OP_ACQUIRE ? JOB_ADD : kind == OP_RELEASE ? JOB_DEL : JOB_CHECK;
	return queue_job(f, job);
}
