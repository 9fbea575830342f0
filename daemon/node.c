/* SPDX-License-Identifier: MIT */
/*
 * node.c - one member on libuv: the wiring of the one driver (member.h,
 * member.c) to the store, the transport and the timers (DESIGN.md 1-3).
 *
 * drive() is called after every event (message, tick, proposal, finished
 * write); it runs member_drive(), which takes updates from the core, sends
 * their msgs at once (send_msgs: the transport) and hands each one that
 * needs the disk to persist_start: one threadpool work item runs
 * store_apply_update() (one durable LMDB transaction) and then the audit
 * append of the update's committed entries (their own transaction; the
 * entries are durable here by then, and the audit is idempotent by index,
 * so a crash between the two only re-audits after restart). The loop never
 * touches the disk. Back on the loop, persist_done() calls
 * member_persisted(), which finishes the update (raft_persisted,
 * msgs_after, restore, apply, checkpoint, snapshot at the trap floor), and
 * drives again. While the write is in flight the driver still sends the
 * core's send-now messages, so a write slowed by other I/O on the disk does
 * not cost the master its lease. The daemon's part of each step is in the
 * hooks below: trapd hears what is applied and restored and gives the
 * snapshot's trap keys, ctl and trapd step after every update.
 *
 * A failed storage write is fatal (storage.h: commit errors are sticky, an
 * fsync is never retried): log and exit NODE_EXIT_STORAGE (74), which the
 * systemd units list in RestartPreventExitStatus=: after a failed write-back
 * the page cache may hold pages that never reached the disk, and a restart
 * would read them as if they were durable. The operator checks the disk
 * first. Other fatal errors (a core invariant) exit 1: a restart reads what
 * is durable.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "http_api.h"
#include "node_internal.h"
#include "trapd.h"

uint64_t node_now_ms(void)
{
	return uv_hrtime() / 1000000u;
}

uint64_t node_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t node_trap_ms(void)
{
	static uint64_t wall0, mono0;
	static bool anchored;
	if (!anchored) {
		wall0 = node_wall_ms();
		mono0 = node_now_ms();
		anchored = true;
	}
	return wall0 + (node_now_ms() - mono0);
}

static void node_fatal(struct node *n, const char *what, int rc)
{
	duet_log(DUET_LOG_ERROR,
		 "%s failed: %s; exiting (storage errors are never retried; "
		 "a restart reads what is durable)",
		 what, duet_strerror(rc));
	exit(1);
}

_Noreturn void node_fatal_storage(struct node *n, const char *what, int rc)
{
	duet_log(DUET_LOG_ERROR,
		 "%s failed: %s; exiting with status %d, NOT to be restarted automatically: "
		 "after a failed write the page cache may hold pages that never reached the disk. "
		 "Check the disk holding %s first (dmesg, free space, SMART); start the daemon "
		 "again only once it is sound, or run duetctl rejoin on this member if the store "
		 "does not open",
		 what, duet_strerror(rc), NODE_EXIT_STORAGE, n->cfg.data_dir);
	exit(NODE_EXIT_STORAGE);
}

static void drive(struct node *n);

/* ---- sending ------------------------------------------------------------ */

static void send_msgs(struct node *n, const struct raft_msg *msgs, size_t count)
{
	if (rejoin_waiting(n))
		return; /* rejoin mode: nothing under the bootstrap incarnation */
	for (size_t i = 0; i < count && n->xport && !n->stopping; i++) {
		const struct raft_msg *m = &msgs[i];
		size_t size = raft_msg_encoded_size(m);
		uint8_t *buf = malloc(size ? size : 1);
		if (!buf) {
			n->sends_failed++;
			continue;
		}
		long len = raft_msg_encode(m, buf, size);
		int rc = len < 0 ? (int)len
				 : xport_send(n->xport, m->to, NODE_FRAME_RAFT, buf, (uint32_t)len);
		if (rc) {
			n->sends_failed++;
			if (duet_log_enabled(DUET_LOG_DEBUG))
				duet_log(DUET_LOG_DEBUG, "send %s to %" PRIu32 ": %s",
					 raft_msg_type_name(m->type), m->to, duet_strerror(rc));
		}
		free(buf);
	}
}

/* ---- the driver's hooks (member.h) --------------------------------------- */

static void member_send(void *ctx, const struct raft_msg *msgs, size_t count)
{
	send_msgs(ctx, msgs, count);
}

static void persist_done(uv_work_t *w, int status);

/* Threadpool: the loop does not touch n->store or the update meanwhile. */
static void persist_work(uv_work_t *w)
{
	struct node *n = w->data;
	const struct raft_update *u = &n->member.update;
	n->work_what = "store_apply_update";
	n->work_rc = store_apply_update(n->store, u);
	if (n->work_rc == 0 && u->n_committed) {
		n->work_what = "audit append";
		n->work_rc = store_audit_append_batch(n->store, u->committed, u->n_committed, NULL);
	}
}

static int member_persist_start(void *ctx, struct raft_update *u)
{
	struct node *n = ctx;
	n->work_rc = 0;
	n->work_what = NULL;
	n->work.data = n;
	return uv_queue_work(n->loop, &n->work, persist_work, persist_done);
}

static long member_snapshot_keys(void *ctx, uint64_t index, uint8_t **keys)
{
	return trapd_snapshot_keys(ctx, index, keys);
}

static void member_on_restored(void *ctx, const struct fsm *f, const uint8_t *keys,
			       uint32_t keys_len)
{
	/* the traps committed under the snapshot: copies held here are
	 * matched now, never forwarded and committed again (DESIGN.md 5) */
	trapd_restored(ctx, f, keys, keys_len);
	duet_log(DUET_LOG_INFO, "restored snapshot at index %" PRIu64, f->applied_index);
}

static void member_on_applied(void *ctx, const struct raft_entry *e, const struct fsm_result *res,
			      uint32_t master_before)
{
	struct node *n = ctx;
	if (res->outcome != FSM_STALE)
		trapd_applied(n, e);
	if (res->outcome == FSM_REFUSED) {
		duet_log(DUET_LOG_WARN, "entry %" PRIu64 " (%s) refused by the fsm: %s", e->index,
			 raft_entry_type_name(e->type), n->fsm.last_refusal.why);
	} else if (n->fsm.master.node != master_before) {
		const struct duet_member *mm =
		    duet_membership_find(&n->cfg.membership, n->fsm.master.node);
		duet_log(DUET_LOG_INFO, "master is now %s (entry %" PRIu64 ")",
			 mm ? mm->name : "none", e->index);
	}
}

static void member_on_snapshot(void *ctx, uint64_t index, int rc)
{
	if (rc) {
		duet_log(DUET_LOG_WARN, "snapshot at index %" PRIu64 ": %s", index,
			 duet_strerror(rc));
		return;
	}
	/* the compacted entries' memory goes back to the system, not just to
	 * the allocator: the witness is meant to stay small */
	malloc_trim(0);
	duet_log(DUET_LOG_INFO, "snapshot at index %" PRIu64, index);
}

static void member_after_update(void *ctx)
{
	ctl_step(ctx);
	trapd_step(ctx);
}

static void member_fatal(void *ctx, const char *what, int rc)
{
	node_fatal(ctx, what, rc);
}

static const struct member_ops node_member_ops = {
    .send = member_send,
    .persist_start = member_persist_start,
    .snapshot_keys = member_snapshot_keys,
    .on_restored = member_on_restored,
    .on_applied = member_on_applied,
    .on_snapshot = member_on_snapshot,
    .after_update = member_after_update,
    .fatal = member_fatal,
};

static const struct member_config node_member_config = {
    .snapshot_every_entries = MEMBER_SNAPSHOT_EVERY_ENTRIES,
    .snapshot_every_bytes = MEMBER_SNAPSHOT_EVERY_BYTES,
    .ckpt_every = MEMBER_CKPT_EVERY,
};

/* ---- persisting --------------------------------------------------------- */

static void persist_done(uv_work_t *w, int status)
{
	struct node *n = w->data;
	if (status == UV_ECANCELED || n->work_rc)
		node_fatal_storage(n, n->work_what ? n->work_what : "storage write",
				   n->work_rc ? n->work_rc : -ECANCELED);
	if (n->stopping) {
		/* the write is durable; what was to be sent and applied is
		 * redone from the log at the next start */
		member_abandon(&n->member);
		return;
	}
	member_persisted(&n->member, node_now_ms(), 0);
	drive(n);
}

static void on_tick(uv_timer_t *t);

static void arm_timer(struct node *n)
{
	if (n->stopping)
		return;
	uint64_t now = node_now_ms(), at = raft_next_deadline(n->raft);
	uint64_t delay = at > now ? at - now : 0;
	if (delay > 1000)
		delay = 1000;
	if (rejoin_waiting(n))
		delay = 200; /* the core gets no tick: poll for the answer */
	uv_timer_start(&n->tick_timer, on_tick, delay, 0);
}

/* member_drive() runs the core's updates (member.h); around it, what the
 * daemon does after every event. */
static void drive(struct node *n)
{
	admin_probe_pump(n);
	trapd_pump(n);
	if (!n->stopping)
		member_drive(&n->member, node_now_ms());
	admin_probe_check(n);
	admin_maintenance_check(n);
	rejoin_step(n);
	notify_status(n);
	arm_timer(n);
}

void node_drive(struct node *n)
{
	drive(n);
}

static void on_kick(uv_timer_t *t)
{
	struct node *n = t->data;
	n->kick_armed = false;
	if (!n->stopping)
		drive(n);
}

void node_drive_later(struct node *n)
{
	if (n->kick_armed || n->stopping)
		return;
	n->kick_armed = true;
	uv_timer_start(&n->kick_timer, on_kick, 0, 0);
}

static void on_tick(uv_timer_t *t)
{
	struct node *n = t->data;
	int rc = rejoin_waiting(n) ? 0 : raft_tick(n->raft, node_now_ms());
	if (rc)
		node_fatal(n, "raft_tick", rc);
	ctl_step(n);
	drive(n);
}

/* ---- transport ---------------------------------------------------------- */

static void on_recv(void *data, uint32_t peer_id, uint8_t type, const uint8_t *payload,
		    uint32_t len)
{
	struct node *n = data;
	if (n->stopping)
		return;
	if (type == NODE_FRAME_PROPOSE) {
		ctl_forwarded(n, peer_id, payload, len);
		drive(n);
		return;
	}
	if (type == NODE_FRAME_REJOIN || type == NODE_FRAME_REJOIN_ANSWER) {
		rejoin_frame(n, peer_id, type, payload, len);
		drive(n);
		return;
	}
	if (rejoin_waiting(n) && type == NODE_FRAME_RAFT)
		return; /* rejoin mode: the core hears nothing yet */
	if (type == NODE_FRAME_TRAPS_FORWARD || type == NODE_FRAME_TRAPS_ANSWER) {
		trapd_frame(n, peer_id, type, payload, len);
		return;
	}
	if (type != NODE_FRAME_RAFT) {
		n->frames_bad++;
		duet_log(DUET_LOG_WARN, "frame of unknown type %u from member %" PRIu32 " dropped",
			 type, peer_id);
		return;
	}
	struct raft_msg m;
	int rc = raft_msg_decode(payload, len, &m);
	if (rc) {
		n->frames_bad++;
		duet_log(DUET_LOG_WARN, "undecodable raft message from member %" PRIu32 ": %s",
			 peer_id, duet_strerror(rc));
		return;
	}
	if (m.from != peer_id) {
		/* the certificate says who sent it; a message claiming another
		 * sender is refused */
		n->frames_bad++;
		duet_log(DUET_LOG_WARN,
			 "raft message from member %" PRIu32 " claims sender %" PRIu32 "; dropped",
			 peer_id, m.from);
		raft_msg_release(&m);
		return;
	}
	uint64_t now = node_now_ms();
	rejoin_heard_raft(n, peer_id, m.from_incarnation, m.from_store_id);
	rc = raft_step(n->raft, now, &m);
	raft_msg_release(&m);
	if (rc)
		node_fatal(n, "raft_step", rc);
	if (n->cfg.self_kind == DUET_MEMBER_DATA) {
		struct raft_status st;
		raft_status(n->raft, now, &st);
		ctl_heard(n, peer_id, st.role != RAFT_LEADER && st.leader == peer_id);
	}
	ctl_step(n);
	drive(n);
}

static void on_xport_log(void *data, int level, const char *text)
{
	enum duet_log_level l = level == XPORT_LOG_ERROR  ? DUET_LOG_ERROR
				: level == XPORT_LOG_WARN ? DUET_LOG_WARN
				: level == XPORT_LOG_INFO ? DUET_LOG_INFO
							  : DUET_LOG_DEBUG;
	duet_log(l, "transport: %s", text);
}

static void on_link(void *data, uint32_t peer_id, int addr_index, int up)
{
	struct node *n = data;
	const struct duet_member *m = duet_membership_find(&n->cfg.membership, peer_id);
	duet_log(DUET_LOG_INFO, "link %s %s %s (%s)", up ? "up" : "down", up ? "to" : "from",
		 m ? m->name : "?", addr_index < 0 ? "inbound" : "outbound");
}

/* ---- start, signals, stop ----------------------------------------------- */

static int open_store(struct node *n, struct store_loaded *ld)
{
	char err[512] = "";
	struct store_options o = {0};
	o.path = n->cfg.data_dir;
	o.cluster_id = n->cfg.cluster_id;
	o.node_id = n->cfg.self_id;
	o.audit_max_bytes = n->cfg.audit_max_bytes; /* retention: storage.h "audit chain" */
	o.max_map_size = (uint64_t)n->cfg.map_max_mib << 20;
	int rc = store_open(&o, &n->store, err, sizeof err);
	if (rc == DUET_ENOENT) {
		/* DESIGN.md 3: no store is never a first start. A new cluster's
		 * stores come from duetctl init; a member without one has
		 * forgotten its votes and entries, so it comes back silent, under
		 * a new incarnation (rejoin mode), whatever the reason. */
		if (!rejoin_waiting(n) && (rc = rejoin_enter_auto(n)) != 0)
			return rc;
		uint8_t buf[4096];
		struct raft_entry e;
		rc = raft_bootstrap_entry(&n->cfg.membership, &e, buf, sizeof buf);
		if (rc == 0)
			rc = store_create_new(&o, &e, &n->store, err, sizeof err);
		if (rc == 0)
			duet_log(
			    DUET_LOG_INFO,
			    "created an empty store %s for the rejoin (silent until the cluster "
			    "records a new incarnation)",
			    n->cfg.data_dir);
	}
	if (rc) {
		duet_log(DUET_LOG_ERROR, "%s", err[0] ? err : duet_strerror(rc));
		return rc;
	}
	rc = store_load(n->store, ld, err, sizeof err);
	if (rc) {
		duet_log(DUET_LOG_ERROR, "cannot load store %s: %s", n->cfg.data_dir,
			 err[0] ? err : duet_strerror(rc));
		return rc;
	}
	return 0;
}

static int start_raft(struct node *n, struct store_loaded *ld)
{
	struct raft_config rc_cfg = n->cfg.raft;
	rc_cfg.self_id = n->cfg.self_id;
	if (ld->incarnation)
		rc_cfg.self_incarnation = ld->incarnation;
	n->incarnation = rc_cfg.self_incarnation;
	rc_cfg.self_store_id = ld->store_id;
	n->store_id = ld->store_id;
	rc_cfg.seed = uv_hrtime() ^ ((uint64_t)getpid() << 32) ^ n->cfg.self_id;
	int rc = raft_new(&rc_cfg, &n->raft);
	if (rc) {
		duet_log(DUET_LOG_ERROR, "raft_new: %s", duet_strerror(rc));
		return rc;
	}
	rc = member_start(&n->member, n->raft, ld->has_snap ? ld->snap_data : NULL,
			  ld->state.snap_len, ld->snap.index);
	if (rc) {
		duet_log(DUET_LOG_ERROR,
			 "the snapshot in store %s does not decode (%s); run duetctl rejoin",
			 n->cfg.data_dir, duet_strerror(rc));
		return rc;
	}
	rc = raft_load(n->raft, &ld->state, node_now_ms());
	if (rc) {
		duet_log(DUET_LOG_ERROR, "raft_load from store %s: %s", n->cfg.data_dir,
			 duet_strerror(rc));
		return rc;
	}
	return 0;
}

int node_restart_raft(struct node *n)
{
	struct store_loaded ld;
	memset(&ld, 0, sizeof ld);
	char err[512] = "";
	int rc = store_load(n->store, &ld, err, sizeof err);
	if (rc) {
		duet_log(DUET_LOG_ERROR, "cannot load store %s: %s", n->cfg.data_dir,
			 err[0] ? err : duet_strerror(rc));
		return rc;
	}
	member_reset(&n->member);
	raft_free(n->raft);
	n->raft = NULL;
	rc = start_raft(n, &ld);
	store_loaded_free(&ld);
	return rc;
}

static int start_transport(struct node *n)
{
	struct xport_config xc = {0};
	xc.self_id = n->cfg.self_id;
	xc.ca_file = n->cfg.tls_ca;
	xc.cert_file = n->cfg.tls_cert;
	xc.key_file = n->cfg.tls_key;
	for (unsigned i = 0; i < n->cfg.listen.n && i < DUET_MAX_ADDRS; i++)
		xc.listen[i] = n->cfg.listen.v[i];
	xc.n_listen = n->cfg.listen.n;
	xc.jitter_seed = uv_hrtime() ^ n->cfg.self_id;
	xc.on_recv = on_recv;
	xc.on_log = on_xport_log;
	xc.on_link = on_link;
	xc.data = n;
	char err[512] = "";
	int rc = xport_new(n->loop, &xc, &n->xport, err, sizeof err);
	if (rc) {
		duet_log(DUET_LOG_ERROR, "%s", err[0] ? err : duet_strerror(rc));
		return rc;
	}
	rc = xport_set_membership(n->xport, &n->cfg.membership);
	if (rc) {
		duet_log(DUET_LOG_ERROR, "transport membership: %s", duet_strerror(rc));
		return rc;
	}
	return 0;
}

static void xport_closed(void *data)
{
	struct node *n = data;
	n->xport = NULL;
}

static void stop(struct node *n, const char *why)
{
	if (n->stopping)
		return;
	n->stopping = true;
	notify_stopping(n);
	duet_log(DUET_LOG_INFO, "%s: shutting down%s", why,
		 n->member.persisting ? " (waiting for the storage write in flight)" : "");
	uv_timer_stop(&n->tick_timer);
	uv_close((uv_handle_t *)&n->tick_timer, NULL);
	uv_close((uv_handle_t *)&n->kick_timer, NULL);
	ctl_close(n);
	trapd_close(n);
	http_api_close(n);
	uv_close((uv_handle_t *)&n->sig_term, NULL);
	uv_close((uv_handle_t *)&n->sig_int, NULL);
	uv_close((uv_handle_t *)&n->sig_hup, NULL);
	admin_close(n);
	if (n->xport)
		xport_close(n->xport, xport_closed);
}

static void reload(struct node *n)
{
	struct duet_config *c = calloc(1, sizeof *c);
	struct duet_config_errors *errs = calloc(1, sizeof *errs);
	if (!c || !errs) {
		free(c);
		free(errs);
		return;
	}
	int rc = duet_config_load(n->config_path, 0, c, errs);
	if (rc) {
		duet_log(DUET_LOG_WARN, "SIGHUP: %s has errors; nothing reloaded", n->config_path);
		for (unsigned i = 0; i < errs->n; i++)
			duet_log(DUET_LOG_WARN, "%s:%d: %s", errs->file, errs->v[i].line,
				 errs->v[i].message);
	} else {
		duet_log_open(n->prog, c->log_target, c->log_level);
		n->cfg.log_level = c->log_level;
		n->cfg.log_target = c->log_target;
		duet_log(DUET_LOG_INFO,
			 "SIGHUP: reloaded log_level = %s, log_target = %s from %s; other keys "
			 "need a restart",
			 duet_log_level_name(c->log_level),
			 c->log_target == DUET_LOG_SYSLOG ? "syslog" : "stderr", n->config_path);
	}
	duet_config_free(c);
	free(c);
	free(errs);
}

static void on_signal(uv_signal_t *s, int signum)
{
	struct node *n = s->data;
	if (signum == SIGHUP)
		reload(n);
	else
		stop(n, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

static void usage(FILE *out, const char *prog)
{
	bool data = strcmp(prog, "duetd") == 0;
	fprintf(out,
		"usage: %s [-c FILE | --config=FILE]%s\n"
		"       %s -h | --help | --version\n\n"
		"Runs one %s member of a duet cluster: raft over mutual TLS,\n"
		"the log in LMDB under data_dir, an admin socket for duetctl status.\n\n"
		"  -c, --config FILE  the config file (without it: $%s when set,\n"
		"                     else %s)\n"
		"%s"
		"  -h, --help         this text and the config keys a %s reads\n"
		"      --version      the version\n\n"
		"Signals: SIGTERM/SIGINT shut down cleanly; SIGHUP reloads log_level and\n"
		"log_target.\n\n"
		"Exit status: 0 stopped cleanly, 1 failure (an invalid config, a fatal error),\n"
		"2 usage error, %d a failed storage write (not to be restarted: check the disk).\n",
		prog, data ? " [--release]" : "", prog, data ? "data-node" : "witness",
		DUET_CONFIG_ENV, DUET_CONFIG_DEFAULT_PATH,
		data ? "      --release      release this node's FIP and stop its manager, then\n"
		       "                     exit (for ExecStopPost=: what a master holds goes\n"
		       "                     when duetd does); refused while duetd runs\n"
		     : "",
		data ? "data node" : "witness", NODE_EXIT_STORAGE);
}

int node_main(int argc, char **argv, const char *prog, uint8_t kind)
{
	const char *config = NULL;
	bool release = false;
	/* Batches and snapshots are large, short-lived blocks. glibc raises its
	 * mmap threshold after freeing one, then serves the next from the heap,
	 * where freed space fragments and stays resident; a fixed threshold keeps
	 * them in mmap (returned on free). Two arenas bound the per-thread
	 * arenas that the libuv threadpool would otherwise create. */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	mallopt(M_ARENA_MAX, 2);
	(void)node_trap_ms(); /* anchored now */
	/* the threadpool runs storage writes, one fs probe per directory (a
	 * hung filesystem holds its thread), NIC and FIP netlink work: more
	 * than libuv's default 4 */
	setenv("UV_THREADPOOL_SIZE", "8", 0);
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {"release", no_argument, NULL, 'R'},
	    {NULL, 0, NULL, 0},
	};
	opterr = 0; /* the messages below name the program and show the usage */
	int opt;
	while ((opt = getopt_long(argc, argv, ":c:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config = optarg;
			break;
		case 'h':
			usage(stdout, prog);
			printf("\nConfig keys%s:\n\n",
			       kind == DUET_MEMBER_WITNESS ? " (those a witness reads)" : "");
			duet_config_print_keys_for(stdout, kind);
			return 0;
		case 'V':
			printf("%s %s\n", prog, DUET_VERSION);
			return 0;
		case 'R':
			if (kind != DUET_MEMBER_DATA) {
				fprintf(stderr, "%s: unknown option '--release'\n", prog);
				usage(stderr, prog);
				return 2;
			}
			release = true;
			break;
		case ':':
			fprintf(stderr, "%s: option '%s' needs a FILE\n", prog, argv[optind - 1]);
			usage(stderr, prog);
			return 2;
		default:
			if (optopt)
				fprintf(stderr, "%s: unknown option '-%c'\n", prog, optopt);
			else
				fprintf(stderr, "%s: unknown option '%s'\n", prog,
					argv[optind - 1]);
			usage(stderr, prog);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", prog, argv[optind]);
		usage(stderr, prog);
		return 2;
	}
	config = duet_config_path(config);

	struct node *n = calloc(1, sizeof *n);
	struct duet_config_errors *errs = calloc(1, sizeof *errs);
	if (!n || !errs) {
		fprintf(stderr, "%s: out of memory\n", prog);
		free(n);
		free(errs);
		return 1;
	}
	n->prog = prog;
	n->config_path = config;
	int rc = duet_config_load(config, 0, &n->cfg, errs);
	if (rc) {
		duet_config_errors_print(stderr, errs);
		fprintf(stderr,
			"%s: %s is not a valid config; check it with duetctl check-config\n", prog,
			config);
		free(errs);
		duet_config_free(&n->cfg);
		free(n);
		return 1;
	}
	free(errs);
	if (release) {
		rc = node_release(&n->cfg, prog);
		duet_config_free(&n->cfg);
		free(n);
		return rc;
	}
	if (n->cfg.self_kind != kind) {
		fprintf(stderr,
			"%s: [node] name = %s is a %s member in %s; run %s for it, not %s\n", prog,
			n->cfg.node_name,
			n->cfg.self_kind == DUET_MEMBER_WITNESS ? "witness" : "data", config,
			n->cfg.self_kind == DUET_MEMBER_WITNESS ? "duet-witness" : "duetd", prog);
		duet_config_free(&n->cfg);
		free(n);
		return 1;
	}
	duet_log_open(prog, n->cfg.log_target, n->cfg.log_level);
	signal(SIGPIPE, SIG_IGN);

	n->loop = uv_default_loop();
	n->start_ms = node_now_ms();
	member_init(&n->member, &node_member_config, &node_member_ops, n, &n->fsm);
	struct store_loaded ld;
	memset(&ld, 0, sizeof ld);
	if (rejoin_open(n) || open_store(n, &ld) || start_raft(n, &ld)) {
		store_loaded_free(&ld);
		if (n->store)
			store_close(n->store);
		duet_config_free(&n->cfg);
		free(n);
		return 1;
	}
	duet_log(DUET_LOG_INFO,
		 "%s member %s (id %" PRIu32 ") of cluster %s: term %" PRIu64 ", %zu log entries%s",
		 prog, n->cfg.node_name, n->cfg.self_id, n->cfg.cluster_name, ld.state.term,
		 ld.n_entries, ld.has_snap ? " after a snapshot" : "");
	store_loaded_free(&ld);

	if (start_transport(n) || admin_open(n)) {
		/* close what was opened and let the loop finish the closes */
		n->stopping = true;
		if (n->xport)
			xport_close(n->xport, xport_closed);
		uv_run(n->loop, UV_RUN_DEFAULT);
		store_close(n->store);
		return 1;
	}
	uv_timer_init(n->loop, &n->tick_timer);
	n->tick_timer.data = n;
	uv_timer_init(n->loop, &n->kick_timer);
	n->kick_timer.data = n;
	if (ctl_open(n)) {
		duet_log(DUET_LOG_ERROR, "cannot open the data node's actions; exiting");
		exit(1);
	}
	if (n->cfg.self_kind == DUET_MEMBER_DATA && trapd_open(n)) {
		duet_log(DUET_LOG_ERROR, "cannot open the trap receivers or the sink; exiting");
		exit(1);
	}
	if (http_api_open(n)) {
		duet_log(DUET_LOG_ERROR, "cannot open the HTTP endpoints ([http]); exiting");
		exit(1);
	}
	uv_signal_init(n->loop, &n->sig_term);
	uv_signal_init(n->loop, &n->sig_int);
	uv_signal_init(n->loop, &n->sig_hup);
	n->sig_term.data = n->sig_int.data = n->sig_hup.data = n;
	uv_signal_start(&n->sig_term, on_signal, SIGTERM);
	uv_signal_start(&n->sig_int, on_signal, SIGINT);
	uv_signal_start(&n->sig_hup, on_signal, SIGHUP);

	notify_open(n);
	drive(n);
	notify_ready(n);
	uv_run(n->loop, UV_RUN_DEFAULT);

	/* every handle is closed and no write is in flight */
	member_free(&n->member);
	raft_free(n->raft);
	store_close(n->store);
	uv_loop_close(n->loop);
	duet_log(DUET_LOG_INFO, "stopped");
	duet_log_close();
	duet_config_free(&n->cfg);
	free(n);
	return 0;
}
