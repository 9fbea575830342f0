/* SPDX-License-Identifier: MIT */
/*
 * actions.h - the side effects of a failover (DESIGN.md 2 and 4.4): running
 * commands with deadlines, the floating IP, fencing the other data node and
 * the manager's start/stop/check commands. (PostgreSQL is actions/pg, a
 * header of its own.)
 *
 * The fsm decides; these functions act and report. Each outcome comes back
 * as a callback with a one-line detail written for a person, which the
 * daemon records as a STEP (or HEALTH) entry.
 *
 * ---- Threads, blocking, ownership ----------------------------------------
 *
 * Everything is called on, and calls back on, the caller's uv_loop_t in the
 * loop's thread. Nothing blocks the loop: commands go through uv_spawn with
 * deadlines; netlink and packet sockets run on the libuv threadpool
 * (uv_queue_work), so the pool must have a free thread for a FIP operation
 * to progress. Callbacks are never called from inside the call that started
 * the operation (always from a later loop callback), so a caller may start
 * an operation while holding state the callback touches.
 *
 * Configs are copied; strings passed in are copied or used only during the
 * call. Detail strings handed to callbacks are valid during the callback
 * only. Every operation that has started ends with exactly one callback,
 * unless its object is freed first (duet_fip_free) where that is said.
 *
 * Defaults: a numeric config field left 0 takes the default named next to
 * it, an empty string field likewise (as in transport.h).
 *
 * ---- Commands -------------------------------------------------------------
 *
 * A command runs in its own session and process group (setsid, through
 * UV_PROCESS_DETACHED), with stdin from /dev/null and stdout and stderr
 * sharing one pipe that duet drains until end of file. At the deadline the
 * whole group gets SIGTERM, and SIGKILL DUET_CMD_KILL_GRACE_MS later, so a
 * command's children die with it. Once the command's own process has
 * exited, duet reads what is left in the pipe for at most
 * DUET_CMD_DRAIN_MS: a background process the command left behind that
 * still holds stdout or stderr then finds the pipe closed (a start command
 * that leaves a daemon running should redirect its output). Signals from a
 * deadline or a cancel go to the group, which also stops such processes.
 */
#ifndef DUET_ACTIONS_H
#define DUET_ACTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "duet/err.h"

#define DUET_CMD_OUTPUT_BYTES  512  /* captured output, including NUL */
#define DUET_CMD_COMMAND_MAX   4096 /* a configured command line, including NUL */
#define DUET_CMD_KILL_GRACE_MS 1000 /* SIGTERM to SIGKILL */
#define DUET_CMD_DRAIN_MS      500  /* reading output after the command exited */
#define DUET_CMD_MAX_EXTRA_ENV 16   /* entries in extra_env */
#define DUET_CMD_INPUT_MAX     4096 /* duet_cmd_spawn_input's stdin: a pipe holds a page at least */

/* ---- Commands (actions/cmd.c) ------------------------------------------- */

struct duet_cmd;

struct duet_cmd_result {
	int exit_status;      /* 0..255 when the command exited, -1 otherwise */
	int term_signal;      /* signal that ended it, 0 if none */
	bool timed_out;       /* the deadline passed: the process group was killed */
	bool cancelled;       /* duet_cmd_cancel() killed the process group */
	int spawn_error;      /* nonzero (negative errno) if it could not start */
	uint32_t timeout_ms;  /* the deadline it had, 0 = none */
	uint64_t duration_ms; /* from the call to the callback */
	/* First bytes of stdout and stderr together (in the order written),
	 * NUL-terminated, trailing newlines stripped; the rest was read and
	 * discarded. */
	char output[DUET_CMD_OUTPUT_BYTES];
};

/* The command has ended (or could not start): its process has been reaped
 * and its pipe and handles closed. `r` is valid during the call only. */
typedef void (*duet_cmd_cb)(void *data, const struct duet_cmd_result *r);

/*
 * Runs `/bin/sh -c command` as described above. The environment is the
 * daemon's (environ at the time of the call) plus extra_env, a
 * NULL-terminated list of at most DUET_CMD_MAX_EXTRA_ENV "KEY=VALUE"
 * strings (may be NULL) that replace daemon variables of the same name.
 * timeout_ms 0 means no deadline.
 *
 * Returns 0, then cb is called exactly once; or DUET_EINVAL (empty command,
 * NULL cb, a malformed or too many extra_env entries) or DUET_ENOMEM, and
 * then cb is never called. A command that cannot be started (fork or exec
 * failed) is not an error of this call: cb reports it in spawn_error, so
 * callers have one path for "the command did not succeed".
 *
 * *out (if out is not NULL) is a handle for duet_cmd_cancel(), valid until
 * cb returns; the memory is duet's.
 */
int duet_cmd_run(uv_loop_t *loop, const char *command, const char *const *extra_env,
		 uint32_t timeout_ms, duet_cmd_cb cb, void *data, struct duet_cmd **out);

/*
 * Like duet_cmd_run() but without a shell: argv[0] is the program (looked up
 * through PATH of the child's environment when it holds no '/'), argv is
 * NULL-terminated. Arguments reach the program unchanged, so nothing needs
 * quoting. A program that does not exist is reported in spawn_error.
 */
int duet_cmd_spawn(uv_loop_t *loop, const char *const *argv, const char *const *extra_env,
		   uint32_t timeout_ms, duet_cmd_cb cb, void *data, struct duet_cmd **out);

/*
 * Like duet_cmd_spawn() with `input` (NUL-terminated, at most
 * DUET_CMD_INPUT_MAX bytes, else DUET_EINVAL) on the child's stdin, then
 * EOF: for programs that take secrets there rather than on a command line
 * (a fence agent's key=value options).
 */
int duet_cmd_spawn_input(uv_loop_t *loop, const char *const *argv, const char *const *extra_env,
			 const char *input, uint32_t timeout_ms, duet_cmd_cb cb, void *data,
			 struct duet_cmd **out);

/*
 * Kills the command's process group now (SIGTERM, SIGKILL after the grace
 * as on a deadline); timed_out stays false and term_signal tells the
 * signal. cb still comes once, later. Does nothing when the command has
 * already exited or was already cancelled. Must not be called after cb
 * returned.
 */
void duet_cmd_cancel(struct duet_cmd *c);

/*
 * Writes a one-line description into buf[0..len): "exit 0",
 * "exit 3: <output>", "killed by signal 9", "timed out after 5000 ms",
 * "cannot start: <reason>". Output, when present, follows ": " with
 * newlines turned into "; ". Always NUL-terminates when len > 0.
 */
void duet_cmd_describe(const struct duet_cmd_result *r, char *buf, size_t len);

/* ---- Floating IP (actions/fip.c, actions/garp.c) ------------------------- */

/*
 * Two modes:
 *
 * Netlink (add_command empty): the address is added to and removed from
 * `interface` with RTM_NEWADDR / RTM_DELADDR and looked for with an
 * RTM_GETADDR dump (libmnl), on the threadpool. IPv6 addresses are added
 * with IFA_F_NODAD so they are usable at once (the other node has given the
 * address up or been fenced). After an IPv4 add, garp_count gratuitous ARPs
 * (RFC 5227 announcements: ARP requests with sender and target IP = the
 * FIP, sender MAC = the interface's, to ff:ff:ff:ff:ff:ff) go out
 * garp_interval_ms apart, so switches and neighbours learn the new MAC. For
 * IPv6 nothing is announced: unsolicited neighbour advertisements are not
 * implemented (the detail says so). A failed gratuitous ARP does not fail
 * the acquire (the address is in place; the detail says what failed).
 *
 * Command (add_command set; for a cloud API): add_command, del_command and
 * check_command run through /bin/sh with DUET_FIP_ADDRESS and
 * DUET_FIP_INTERFACE in their environment. add/del: exit 0 = done (or
 * already so). check: exit 0 = present, exit 1 = absent, anything else =
 * error. No gratuitous ARP is sent in this mode.
 *
 * Operations on one duet_fip run one at a time in the order they were
 * asked for; up to DUET_FIP_QUEUE_MAX may be queued (the running one
 * included), so a release right after an acquire (a demotion right after a
 * promotion) simply waits its turn.
 */
#define DUET_FIP_QUEUE_MAX             8
#define DUET_FIP_DEFAULT_GARP_COUNT    3
#define DUET_FIP_DEFAULT_GARP_INTERVAL 100  /* ms */
#define DUET_FIP_DEFAULT_TIMEOUT_MS    5000 /* per operation */

struct duet_fip;

struct duet_fip_config {
	char address[64];          /* "10.77.0.100/24" or "fd00::100/64" */
	char interface[16];        /* e.g. "eth0" (IFNAMSIZ, including NUL) */
	unsigned garp_count;       /* 0 = DUET_FIP_DEFAULT_GARP_COUNT */
	uint32_t garp_interval_ms; /* 0 = DUET_FIP_DEFAULT_GARP_INTERVAL */
	char add_command[DUET_CMD_COMMAND_MAX];
	char del_command[DUET_CMD_COMMAND_MAX];
	char check_command[DUET_CMD_COMMAND_MAX];
	uint32_t timeout_ms; /* per operation; 0 = DUET_FIP_DEFAULT_TIMEOUT_MS */
	/* DESIGN.md 4.7: asked on the loop right before the address is added
	 * and before each gratuitous ARP (of acquire and announce); false ends
	 * the operation with DUET_ENOTLEADER and nothing more is sent. NULL:
	 * always allowed. */
	bool (*may_act)(void *data);
	void *may_act_data;
};

/* Checks "address/prefix" (IPv4 prefix 1..32, IPv6 1..128; the prefix is
 * required). Returns 0, or DUET_EINVAL with a sentence in err. */
int duet_fip_parse_address(const char *text, char *err, size_t errlen);

/*
 * Checks cfg and makes a duet_fip (does no I/O: a missing interface is found
 * at the first operation, since it may appear later). In command mode
 * del_command and check_command are required; interface may be empty.
 * Returns 0, DUET_EINVAL with a sentence in err, or DUET_ENOMEM.
 */
int duet_fip_new(uv_loop_t *loop, const struct duet_fip_config *cfg, struct duet_fip **out,
		 char *err, size_t errlen);

/* rc is 0 or a negative code; detail is for a person. */
typedef void (*duet_fip_cb)(void *data, int rc, const char *detail);
typedef void (*duet_fip_check_cb)(void *data, int rc, bool present, const char *detail);

/*
 * Adds the address (already present = success), then announces it. detail
 * e.g. "10.77.0.100/24 added on eth0, 3 gratuitous ARPs". rc in the
 * callback: 0; netlink mode -ENODEV (no such interface), -EPERM (not root
 * / no CAP_NET_ADMIN), -ETIMEDOUT (the kernel did not answer within
 * timeout_ms) or another negated errno from the kernel; command mode -EIO
 * (the command exited nonzero), -ETIMEDOUT, or the spawn error.
 * Returns 0 (cb will come), DUET_EBUSY (DUET_FIP_QUEUE_MAX operations
 * already waiting), DUET_EINVAL (NULL cb, f already freed) or an error
 * from starting the work (DUET_ENOMEM); on an error cb never comes.
 */
int duet_fip_acquire(struct duet_fip *f, duet_fip_cb cb, void *data);

/* Sends one gratuitous ARP for the address (the acting master repeats it,
 * DESIGN.md 4.7), whether or not the address is on the interface (the
 * caller knows it holds it). Nothing is sent for IPv6 or in command mode
 * (rc 0, the detail says so). Same returns as acquire. */
int duet_fip_announce(struct duet_fip *f, duet_fip_cb cb, void *data);

/* Deletes the address (absent = success). Same returns as acquire, and in
 * netlink mode -EADDRINUSE when the address is on the interface with
 * another prefix length than configured (left alone: a person decides). */
int duet_fip_release(struct duet_fip *f, duet_fip_cb cb, void *data);

/* Looks whether the address is on the interface (netlink: any prefix
 * length counts). rc != 0 means the answer is unknown. */
int duet_fip_check(struct duet_fip *f, duet_fip_check_cb cb, void *data);

/*
 * Frees f. Safe at any time: waiting operations are dropped and an
 * operation in flight is let finish (a running command is cancelled), all
 * without calling their callbacks; the memory goes when the last of them
 * ends, so the loop must keep running until then (uv_loop_close() says
 * UV_EBUSY before). NULL is ignored.
 */
void duet_fip_free(struct duet_fip *f);

/* ---- Fencing (actions/fence.c) ------------------------------------------- */

/*
 * Powers off the OTHER data node before this one takes over (DESIGN.md
 * 4.4), so that a master which only looks dead cannot go on writing.
 *
 * COMMAND: `command` runs through /bin/sh with DUET_FENCE_NODE=<node name>
 * in its environment; exit 0 means the node is off.
 *
 * IPMI: runs `ipmitool -I <interface> -H <host> -U <user> -f <password
 * file> chassis power off` (argv directly, no shell; the password stays in
 * its file and never appears on a command line), retried every poll_ms
 * while it fails, then `... chassis power status` every poll_ms until the
 * output contains "Chassis Power is off". Success needs that confirmation;
 * when timeout_ms (the whole fence, confirmation included) passes first,
 * the fence failed and the detail says the last state the BMC reported.
 *
 * AGENT: a fence agent of the fence-agents package (fence_ipmilan,
 * fence_virsh, fence_aws, ...: the STONITH agents Pacemaker clusters use),
 * driven through its stdin protocol: the key=value lines of
 * agent_options_file (read when the fence starts: the BMC address, login,
 * password...; never on a command line) then "action=off", retried every
 * poll_ms while the agent fails; then the same options with
 * "action=status" every poll_ms until the agent exits 2 ("off"; 0 is "on",
 * anything else an error). Success needs that confirmation, within
 * timeout_ms in all.
 */
enum duet_fence_method {
	DUET_FENCE_NONE = 0,
	DUET_FENCE_IPMI = 1,
	DUET_FENCE_COMMAND = 2,
	DUET_FENCE_AGENT = 3
};

#define DUET_FENCE_DEFAULT_TIMEOUT_MS 20000
#define DUET_FENCE_DEFAULT_POLL_MS    500

struct duet_fence_config {
	int method; /* enum duet_fence_method */
	char command[DUET_CMD_COMMAND_MAX];
	char ipmi_host[128];
	char ipmi_user[64];           /* empty: no -U */
	char ipmi_password_file[192]; /* empty: no -f (ipmitool then uses none) */
	char ipmi_interface[16];      /* "" = "lanplus" */
	char ipmitool[192];           /* "" = "ipmitool", looked up through PATH */
	char agent[192];              /* AGENT: the program, e.g. fence_ipmilan (PATH) */
	char agent_options_file[192]; /* AGENT: its key=value options, one a line */
	uint32_t timeout_ms;          /* 0 = DUET_FENCE_DEFAULT_TIMEOUT_MS */
	uint32_t poll_ms;             /* 0 = DUET_FENCE_DEFAULT_POLL_MS */
};

/* ok: the node is confirmed off. detail e.g. "node-b powered off through
 * IPMI 10.0.0.5 (status confirmed after 3 polls)". */
typedef void (*duet_fence_cb)(void *data, bool ok, uint64_t duration_ms, const char *detail);

/*
 * Fences node_name as cfg says. Returns 0 (cb comes exactly once, at the
 * latest about timeout_ms later), DUET_EINVAL (method NONE or unknown, empty
 * command or host, NULL cb) or DUET_ENOMEM. There is no cancel: a fence runs
 * to its end (it is bounded by its timeout).
 */
int duet_fence_run(uv_loop_t *loop, const struct duet_fence_config *cfg, const char *node_name,
		   duet_fence_cb cb, void *data);

/* ---- Manager (actions/manager.c) ----------------------------------------- */

/*
 * The managed application's three commands, each through /bin/sh with the
 * timeout: start and stop succeed on exit 0; check says running on exit 0
 * and not running otherwise (the detail tells a failing check from a
 * command that timed out or could not start).
 */
#define DUET_MANAGER_DEFAULT_TIMEOUT_MS 30000

struct duet_manager_config {
	char start_command[DUET_CMD_COMMAND_MAX];
	char stop_command[DUET_CMD_COMMAND_MAX];
	char check_command[DUET_CMD_COMMAND_MAX];
	uint32_t timeout_ms; /* per command; 0 = DUET_MANAGER_DEFAULT_TIMEOUT_MS */
};

/* ok: started / stopped / running. detail e.g. "start: exit 0". */
typedef void (*duet_manager_cb)(void *data, bool ok, const char *detail);

/* Each returns 0 (cb comes once), DUET_EINVAL (that command is empty, NULL
 * cb) or DUET_ENOMEM. */
int duet_manager_start(uv_loop_t *loop, const struct duet_manager_config *cfg, duet_manager_cb cb,
		       void *data);
int duet_manager_stop(uv_loop_t *loop, const struct duet_manager_config *cfg, duet_manager_cb cb,
		      void *data);
int duet_manager_check(uv_loop_t *loop, const struct duet_manager_config *cfg, duet_manager_cb cb,
		       void *data);

#endif
