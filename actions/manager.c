/* SPDX-License-Identifier: MIT */
/*
 * manager.c - the managed application's start, stop and check commands
 * (actions.h, "Manager"; DESIGN.md 4.4: the new master starts the manager
 * last, after PostgreSQL and the FIP).
 *
 * A thin layer over cmd.c: it only picks the command, turns the result into
 * ok / not ok and words the detail. Nothing is kept between calls, so
 * there is no manager object to own; each call carries its small context
 * to its callback and frees it there.
 */
#include <stdio.h>
#include <stdlib.h>

#include "duet/actions.h"

enum manager_op { MANAGER_START, MANAGER_STOP, MANAGER_CHECK };

static const char *const op_names[] = {"start", "stop", "check"};

struct manager_call {
	enum manager_op op;
	duet_manager_cb cb;
	void *data;
};

static void on_done(void *data, const struct duet_cmd_result *r)
{
	struct manager_call *call = data;
	char what[256], detail[320];
	duet_cmd_describe(r, what, sizeof what);
	bool ok = !r->spawn_error && !r->timed_out && r->exit_status == 0;
	if (call->op == MANAGER_CHECK && !ok && !r->spawn_error && !r->timed_out &&
	    r->exit_status > 0)
		/* The check ran and said no: the manager is not running. */
		snprintf(detail, sizeof detail, "check: not running (%s)", what);
	else if (call->op == MANAGER_CHECK && ok)
		snprintf(detail, sizeof detail, "check: running (%s)", what);
	else
		snprintf(detail, sizeof detail, "%s: %s", op_names[call->op], what);
	call->cb(call->data, ok, detail);
	free(call);
}

static int run(uv_loop_t *loop, const struct duet_manager_config *cfg, enum manager_op op,
	       duet_manager_cb cb, void *data)
{
	if (!loop || !cfg || !cb)
		return DUET_EINVAL;
	const char *command = op == MANAGER_START  ? cfg->start_command
			      : op == MANAGER_STOP ? cfg->stop_command
						   : cfg->check_command;
	if (!command[0])
		return DUET_EINVAL;
	struct manager_call *call = malloc(sizeof *call);
	if (!call)
		return DUET_ENOMEM;
	call->op = op;
	call->cb = cb;
	call->data = data;
	/* The command array may lack a NUL if the caller filled it to the
	 * brim: copy it bounded (sh reads it during the call only). */
	char text[DUET_CMD_COMMAND_MAX];
	snprintf(text, sizeof text, "%.*s", (int)sizeof text - 1, command);
	uint32_t timeout = cfg->timeout_ms ? cfg->timeout_ms : DUET_MANAGER_DEFAULT_TIMEOUT_MS;
	int rc = duet_cmd_run(loop, text, NULL, timeout, on_done, call, NULL);
	if (rc)
		free(call);
	return rc;
}

int duet_manager_start(uv_loop_t *loop, const struct duet_manager_config *cfg, duet_manager_cb cb,
		       void *data)
{
	return run(loop, cfg, MANAGER_START, cb, data);
}

int duet_manager_stop(uv_loop_t *loop, const struct duet_manager_config *cfg, duet_manager_cb cb,
		      void *data)
{
	return run(loop, cfg, MANAGER_STOP, cb, data);
}

int duet_manager_check(uv_loop_t *loop, const struct duet_manager_config *cfg, duet_manager_cb cb,
		       void *data)
{
	return run(loop, cfg, MANAGER_CHECK, cb, data);
}
