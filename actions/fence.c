/* SPDX-License-Identifier: MIT */
/*
 * fence.c - powering off the other data node (actions.h, "Fencing";
 * DESIGN.md 4.4: the new leader fences the old master before it promotes).
 *
 * A fence is only as good as its confirmation: "power off" accepted by a
 * BMC is not "power is off". So IPMI fencing succeeds only once `chassis
 * power status` says "Chassis Power is off", and everything, retries and
 * confirmation included, fits in one deadline (timeout_ms). The daemon
 * records the outcome as a STEP entry, so a failure says what the BMC last
 * reported.
 *
 * ipmitool is run from an argv (duet_cmd_spawn), never through a shell: the
 * host, user and file names reach it unchanged whatever they contain, and
 * the password is read by ipmitool from its file (-f), so it shows on no
 * command line (ps, /proc/<pid>/cmdline, our logs).
 *
 * A fence agent (fence-agents) is driven the same way, through its stdin
 * protocol rather than its command line, so the options file's password
 * shows nowhere either; "off" then "status" until the agent says off (exit
 * 2), as the FenceAgentAPI defines the exit codes.
 *
 * One timer paces the polls. The caller's callback runs from the timer's
 * close callback, so nothing of the fence is left on the loop by then.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duet/actions.h"

#define DETAIL_MAX   512 /* DUET_DETAIL_MAX: what a STEP entry holds */
#define STATE_MAX    160
#define ARGV_MAX     16
#define POWER_IS_OFF "Chassis Power is off"
#define AGENT_OFF    2 /* FenceAgentAPI: `status` exits 0 on, 2 off, else an error */

struct fence {
	uv_loop_t *loop;
	struct duet_fence_config cfg;
	char node[64];
	duet_fence_cb cb;
	void *data;
	uint64_t start_ns;
	uint64_t deadline_ns;
	uv_timer_t timer;

	bool ok;
	char detail[DETAIL_MAX];

	/* IPMI and AGENT */
	bool powered_off_sent; /* `power off` was accepted; now polling status */
	unsigned polls;
	char last_state[STATE_MAX];
	const char *argv_off[ARGV_MAX];
	const char *argv_status[ARGV_MAX];
	char *input_off, *input_status; /* AGENT: its options and the action */
	bool bad_options;               /* AGENT: the options file failed: last_state says */

	/* COMMAND */
	char env_node[96];
	const char *env[2];
};

static uint64_t elapsed_ms(const struct fence *fc)
{
	return (uv_hrtime() - fc->start_ns) / 1000000u;
}

static uint32_t remaining_ms(const struct fence *fc)
{
	uint64_t now = uv_hrtime();
	return now >= fc->deadline_ns ? 0
				      : (uint32_t)((fc->deadline_ns - now + 999999u) / 1000000u);
}

static void fence_free(struct fence *fc)
{
	free(fc->input_off);
	free(fc->input_status);
	free(fc);
}

static void on_closed(uv_handle_t *h)
{
	struct fence *fc = h->data;
	fc->cb(fc->data, fc->ok, elapsed_ms(fc), fc->detail);
	fence_free(fc);
}

static void free_silently(uv_handle_t *h)
{
	fence_free(h->data);
}

static void finish(struct fence *fc, bool ok)
{
	fc->ok = ok;
	uv_close((uv_handle_t *)&fc->timer, on_closed);
}

/* ---- COMMAND ------------------------------------------------------------- */

static void command_done(void *data, const struct duet_cmd_result *r)
{
	struct fence *fc = data;
	char what[256];
	duet_cmd_describe(r, what, sizeof what);
	bool ok = !r->spawn_error && !r->timed_out && r->exit_status == 0;
	snprintf(fc->detail, sizeof fc->detail, "%s %s by fence command (%s)", fc->node,
		 ok ? "fenced" : "NOT fenced", what);
	finish(fc, ok);
}

/* ---- IPMI ---------------------------------------------------------------- */

static void ipmi_step(struct fence *fc);

static void on_poll_timer(uv_timer_t *t)
{
	ipmi_step(t->data);
}

/* Waits poll_ms (never past the deadline), then takes the next step. */
static void ipmi_wait(struct fence *fc)
{
	uint32_t left = remaining_ms(fc);
	uint32_t wait = fc->cfg.poll_ms < left ? fc->cfg.poll_ms : left;
	uv_update_time(fc->loop);
	uv_timer_start(&fc->timer, on_poll_timer, wait, 0);
}

/* "IPMI 10.0.0.5" or "fence agent fence_ipmilan", for the details. */
static void device_name(const struct fence *fc, char *out, size_t cap)
{
	if (fc->cfg.method == DUET_FENCE_AGENT)
		snprintf(out, cap, "fence agent %.180s", fc->cfg.agent);
	else
		snprintf(out, cap, "IPMI %.120s", fc->cfg.ipmi_host);
}

static void ipmi_fail(struct fence *fc)
{
	char dev[200];
	device_name(fc, dev, sizeof dev);
	if (fc->bad_options) {
		snprintf(fc->detail, sizeof fc->detail, "%s NOT fenced: %s not run: %s", fc->node,
			 dev, fc->last_state);
		finish(fc, false);
		return;
	}
	snprintf(fc->detail, sizeof fc->detail,
		 "%s NOT fenced: %s did not confirm power off within %u ms (last: %s)", fc->node,
		 dev, (unsigned)fc->cfg.timeout_ms,
		 fc->last_state[0] ? fc->last_state : "no answer");
	finish(fc, false);
}

/* Keeps the first line of a command's output (or its description) as the
 * last state the BMC reported, for the failure detail. */
static void note_state(struct fence *fc, const char *prefix, const struct duet_cmd_result *r)
{
	/* A call cut short by the deadline tells nothing about the BMC: keep
	 * what it said before. */
	if (r->timed_out && fc->last_state[0])
		return;
	char what[STATE_MAX];
	duet_cmd_describe(r, what, sizeof what);
	const char *text = r->exit_status == 0 && r->output[0] ? r->output : what;
	size_t n = strcspn(text, "\n");
	if (n > 100)
		n = 100;
	snprintf(fc->last_state, sizeof fc->last_state, "%s\"%.*s\"", prefix, (int)n, text);
}

/* ipmitool missing or not executable will not heal before the deadline. */
static bool cannot_run(struct fence *fc, const struct duet_cmd_result *r)
{
	if (!r->spawn_error)
		return false;
	snprintf(fc->detail, sizeof fc->detail, "%s NOT fenced: cannot run %s: %s", fc->node,
		 fc->argv_off[0], strerror(-r->spawn_error));
	finish(fc, false);
	return true;
}

static void status_done(void *data, const struct duet_cmd_result *r)
{
	struct fence *fc = data;
	if (cannot_run(fc, r))
		return;
	fc->polls++;
	bool off = fc->cfg.method == DUET_FENCE_AGENT
		       ? !r->timed_out && r->exit_status == AGENT_OFF
		       : r->exit_status == 0 && strstr(r->output, POWER_IS_OFF);
	if (off) {
		char dev[200];
		device_name(fc, dev, sizeof dev);
		snprintf(fc->detail, sizeof fc->detail,
			 "%s powered off through %s (off confirmed after %u status poll%s)",
			 fc->node, dev, fc->polls, fc->polls == 1 ? "" : "s");
		finish(fc, true);
		return;
	}
	note_state(fc, "power status ", r);
	if (remaining_ms(fc) == 0)
		ipmi_fail(fc);
	else
		ipmi_wait(fc);
}

static void off_done(void *data, const struct duet_cmd_result *r)
{
	struct fence *fc = data;
	if (cannot_run(fc, r))
		return;
	if (!r->timed_out && r->exit_status == 0) {
		fc->powered_off_sent = true;
		ipmi_step(fc); /* confirm at once: the BMC may already say off */
		return;
	}
	/* The BMC may be briefly unreachable: try again until the deadline. */
	note_state(fc, "power off failed: ", r);
	if (remaining_ms(fc) == 0)
		ipmi_fail(fc);
	else
		ipmi_wait(fc);
}

static void ipmi_step(struct fence *fc)
{
	uint32_t left = remaining_ms(fc);
	if (left == 0 || fc->bad_options) {
		ipmi_fail(fc);
		return;
	}
	const char *const *argv = fc->powered_off_sent ? fc->argv_status : fc->argv_off;
	duet_cmd_cb cb = fc->powered_off_sent ? status_done : off_done;
	const char *input = fc->powered_off_sent ? fc->input_status : fc->input_off;
	int rc = input ? duet_cmd_spawn_input(fc->loop, argv, NULL, input, left, cb, fc, NULL)
		       : duet_cmd_spawn(fc->loop, argv, NULL, left, cb, fc, NULL);
	if (rc) {
		snprintf(fc->last_state, sizeof fc->last_state, "cannot run %.60s: %.80s", argv[0],
			 duet_strerror(rc));
		ipmi_fail(fc);
	}
}

/* argv for `<ipmitool> -I if -H host [-U user] [-f file] chassis power <verb>`. */
static void ipmi_argv(const struct fence *fc, const char **argv, const char *verb)
{
	int i = 0;
	argv[i++] = fc->cfg.ipmitool;
	argv[i++] = "-I";
	argv[i++] = fc->cfg.ipmi_interface;
	argv[i++] = "-H";
	argv[i++] = fc->cfg.ipmi_host;
	if (fc->cfg.ipmi_user[0]) {
		argv[i++] = "-U";
		argv[i++] = fc->cfg.ipmi_user;
	}
	if (fc->cfg.ipmi_password_file[0]) {
		argv[i++] = "-f";
		argv[i++] = fc->cfg.ipmi_password_file;
	}
	argv[i++] = "chassis";
	argv[i++] = "power";
	argv[i++] = verb;
	argv[i] = NULL;
}

/* ---- AGENT ---------------------------------------------------------------- */

/* The agent's stdin for off and for status: the options file's lines (its
 * own "action=" lines left out: the action is ours), then the action. A
 * file that cannot be read fails the fence at its first step, with the
 * reason as the last state. */
static int agent_inputs(struct fence *fc)
{
	char opts[DUET_CMD_INPUT_MAX - 32];
	size_t len = 0;
	opts[0] = '\0';
	if (fc->cfg.agent_options_file[0]) {
		FILE *f = fopen(fc->cfg.agent_options_file, "re");
		if (!f) {
			fc->bad_options = true;
			snprintf(fc->last_state, sizeof fc->last_state, "cannot read %.100s: %s",
				 fc->cfg.agent_options_file, strerror(errno));
		} else {
			char line[1024];
			while (fgets(line, sizeof line, f)) {
				size_t n = strcspn(line, "\r\n");
				line[n] = '\0';
				if (!n || line[0] == '#' || strncmp(line, "action=", 7) == 0)
					continue;
				if (len + n + 2 > sizeof opts) {
					fc->bad_options = true;
					snprintf(fc->last_state, sizeof fc->last_state,
						 "%.100s is longer than %zu bytes",
						 fc->cfg.agent_options_file, sizeof opts);
					break;
				}
				memcpy(opts + len, line, n);
				len += n;
				opts[len++] = '\n';
				opts[len] = '\0';
			}
			fclose(f);
		}
	}
	size_t cap = len + 32;
	fc->input_off = malloc(cap);
	fc->input_status = malloc(cap);
	if (!fc->input_off || !fc->input_status)
		return DUET_ENOMEM;
	snprintf(fc->input_off, cap, "%saction=off\n", opts);
	snprintf(fc->input_status, cap, "%saction=status\n", opts);
	return 0;
}

/* ---- entry ----------------------------------------------------------------- */

/* Copies cfg with every string NUL-terminated and the defaults applied. */
static void take_config(struct duet_fence_config *dst, const struct duet_fence_config *src)
{
	*dst = *src;
	dst->command[sizeof dst->command - 1] = '\0';
	dst->ipmi_host[sizeof dst->ipmi_host - 1] = '\0';
	dst->ipmi_user[sizeof dst->ipmi_user - 1] = '\0';
	dst->ipmi_password_file[sizeof dst->ipmi_password_file - 1] = '\0';
	dst->ipmi_interface[sizeof dst->ipmi_interface - 1] = '\0';
	dst->ipmitool[sizeof dst->ipmitool - 1] = '\0';
	dst->agent[sizeof dst->agent - 1] = '\0';
	dst->agent_options_file[sizeof dst->agent_options_file - 1] = '\0';
	if (!dst->ipmi_interface[0])
		snprintf(dst->ipmi_interface, sizeof dst->ipmi_interface, "lanplus");
	if (!dst->ipmitool[0])
		snprintf(dst->ipmitool, sizeof dst->ipmitool, "ipmitool");
	if (!dst->timeout_ms)
		dst->timeout_ms = DUET_FENCE_DEFAULT_TIMEOUT_MS;
	if (!dst->poll_ms)
		dst->poll_ms = DUET_FENCE_DEFAULT_POLL_MS;
}

int duet_fence_run(uv_loop_t *loop, const struct duet_fence_config *cfg, const char *node_name,
		   duet_fence_cb cb, void *data)
{
	if (!loop || !cfg || !cb)
		return DUET_EINVAL;
	if (cfg->method == DUET_FENCE_COMMAND && !cfg->command[0])
		return DUET_EINVAL;
	if (cfg->method == DUET_FENCE_IPMI && !cfg->ipmi_host[0])
		return DUET_EINVAL;
	if (cfg->method == DUET_FENCE_AGENT && !cfg->agent[0])
		return DUET_EINVAL;
	if (cfg->method != DUET_FENCE_COMMAND && cfg->method != DUET_FENCE_IPMI &&
	    cfg->method != DUET_FENCE_AGENT)
		return DUET_EINVAL;
	struct fence *fc = calloc(1, sizeof *fc);
	if (!fc)
		return DUET_ENOMEM;
	fc->loop = loop;
	take_config(&fc->cfg, cfg);
	snprintf(fc->node, sizeof fc->node, "%s", node_name ? node_name : "");
	fc->cb = cb;
	fc->data = data;
	fc->start_ns = uv_hrtime();
	fc->deadline_ns = fc->start_ns + (uint64_t)fc->cfg.timeout_ms * 1000000u;
	uv_timer_init(loop, &fc->timer);
	fc->timer.data = fc;

	if (fc->cfg.method == DUET_FENCE_COMMAND) {
		snprintf(fc->env_node, sizeof fc->env_node, "DUET_FENCE_NODE=%s", fc->node);
		fc->env[0] = fc->env_node;
		fc->env[1] = NULL;
		int rc = duet_cmd_run(loop, fc->cfg.command, fc->env, fc->cfg.timeout_ms,
				      command_done, fc, NULL);
		if (rc) {
			/* Nothing started: undo without a callback, as documented. */
			uv_close((uv_handle_t *)&fc->timer, free_silently);
			return rc;
		}
		return 0;
	}
	if (fc->cfg.method == DUET_FENCE_AGENT) {
		int rc = agent_inputs(fc);
		if (rc) {
			uv_close((uv_handle_t *)&fc->timer, free_silently);
			return rc;
		}
		fc->argv_off[0] = fc->argv_status[0] = fc->cfg.agent;
		fc->argv_off[1] = fc->argv_status[1] = NULL;
	} else {
		ipmi_argv(fc, fc->argv_off, "off");
		ipmi_argv(fc, fc->argv_status, "status");
	}
	/* The first step runs from the timer, so a failure to spawn still
	 * reaches cb from the loop rather than from inside this call. */
	uv_timer_start(&fc->timer, on_poll_timer, 0, 0);
	return 0;
}
