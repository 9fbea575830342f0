/*
 * status.c - `duetctl status`: asks a member's admin socket for its status
 * (daemon/admin.c: one JSON request line, one JSON response line) and prints
 * it as a table, or raw with --json, once or every second with --watch.
 *
 * The table reads a few known keys out of the daemon's JSON with a tiny
 * scanner (first occurrence of "key": after a given position); --json is
 * the interface for tools and is passed through untouched.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "duet/config.h"

#define STATUS_MAX_BYTES (1u << 20)
#define STATUS_TIMEOUT_S 5

void cmd_status_help(void)
{
	printf("usage: duetctl status [--socket PATH | --config FILE] [--json] [--watch]\n"
	       "\n"
	       "Asks a running duetd / duet-witness for its status over its admin socket\n"
	       "(the config's admin_socket, default <data_dir>/admin.sock): member, role,\n"
	       "term, leader, commit/applied/last index, lease, master, maintenance (when\n"
	       "on: since which entry, who, why), peers (match index and last ack, on the\n"
	       "leader), transport links and refusals, raft counters.\n"
	       "\n"
	       "  --socket PATH  the admin socket to ask\n"
	       "  --config FILE  take admin_socket from this config\n"
	       "  --json         print the daemon's JSON object as is (one line)\n"
	       "  --watch        repeat every second until interrupted\n"
	       "\n"
	       "Exit status: 0 answered, 1 the daemon could not be reached, 2 usage error.\n");
}

int duetctl_admin_socket(const char *cmd, const char *config, const char **sock)
{
	static struct duet_config cfg;
	static struct duet_config_errors errs;
	if (*sock)
		return DUETCTL_OK;
	if (!config) {
		fprintf(stderr, "duetctl %s: needs --socket PATH or --config FILE\n", cmd);
		return DUETCTL_USAGE;
	}
	if (duet_config_load(config, DUET_CONFIG_SKIP_FILES, &cfg, &errs) != 0) {
		duet_config_errors_print(stderr, &errs);
		return DUETCTL_FAILED;
	}
	*sock = cfg.admin_socket;
	return DUETCTL_OK;
}

char *duetctl_ask(const char *path, const char *req, char *err, size_t errlen)
{
	return duetctl_ask_wait(path, req, STATUS_TIMEOUT_S, err, errlen);
}

/* Sends one request line (with its newline) and returns the response line
 * (malloc'd) or NULL with a message in err. */
char *duetctl_ask_wait(const char *path, const char *req, unsigned timeout_s, char *err,
		       size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sa.sun_path) {
		snprintf(err, errlen, "socket path %s is too long", path);
		return NULL;
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return NULL;
	}
	struct timeval tv = {(time_t)timeout_s, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		snprintf(err, errlen,
			 "cannot connect to %s: %s; is the daemon running, and is this its "
			 "admin_socket?",
			 path, strerror(errno));
		close(fd);
		return NULL;
	}
	size_t req_len = strlen(req);
	if (write(fd, req, req_len) != (ssize_t)req_len) {
		snprintf(err, errlen, "write to %s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	while (buf) {
		if (len + 1 >= cap) {
			if (cap >= STATUS_MAX_BYTES) {
				snprintf(err, errlen, "response over %u bytes", STATUS_MAX_BYTES);
				break;
			}
			char *nb = realloc(buf, cap * 2);
			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + len, cap - 1 - len);
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			snprintf(err, errlen, "no answer from %s within %u s", path, timeout_s);
			break;
		}
		if (r <= 0) {
			snprintf(err, errlen, "read from %s: %s", path,
				 r == 0 ? "connection closed" : strerror(errno));
			break;
		}
		len += (size_t)r;
		buf[len] = 0;
		char *nl = memchr(buf, '\n', len);
		if (nl) {
			*nl = 0;
			close(fd);
			return buf;
		}
	}
	free(buf);
	close(fd);
	return NULL;
}

/* The text of the value of "key" at or after `from`: a number, true/false/
 * null, or a string (copied without quotes, escapes kept). */
static const char *jget(const char *from, const char *key, char *out, size_t cap)
{
	char pat[64];
	snprintf(pat, sizeof pat, "\"%s\":", key);
	const char *p = from ? strstr(from, pat) : NULL;
	if (!p) {
		snprintf(out, cap, "-");
		return out;
	}
	p += strlen(pat);
	size_t i = 0;
	if (*p == '"') {
		p++;
		while (*p && *p != '"' && i + 1 < cap) {
			if (*p == '\\' && p[1])
				out[i++] = *p++;
			out[i++] = *p++;
		}
	} else {
		while (*p && *p != ',' && *p != '}' && *p != ']' && i + 1 < cap)
			out[i++] = *p++;
	}
	out[i] = 0;
	return out;
}

/* The trap pipeline's lines (status .traps), from its object on. */
static void print_traps(const char *tr)
{
	char a[128], b[128], c[128], d[128], e[128], f[128], g[128];
	printf("traps       %s%s; received %s, taken %s; waiting: pending %s, outbox %s, "
	       "in flight %s\n",
	       strcmp(jget(tr, "proposing", a, sizeof a), "true") == 0 ? "proposing" : "standby",
	       strcmp(jget(tr, "delivering", b, sizeof b), "true") == 0 ? ", delivering" : "",
	       jget(tr, "received", c, sizeof c), jget(tr, "taken", d, sizeof d),
	       jget(tr, "pending", e, sizeof e), jget(tr, "outbox", f, sizeof f),
	       jget(tr, "inflight", g, sizeof g));
	const char *dr = strstr(tr, "\"drops\":{");
	printf("            refused: duplicate %s, live_full %s, backlog_full %s, too_large %s\n",
	       jget(dr, "duplicate", a, sizeof a), jget(dr, "live_full", b, sizeof b),
	       jget(dr, "backlog_full", c, sizeof c), jget(dr, "too_large", d, sizeof d));
	printf("            committed %s, undelivered %s, delivered up to entry %s\n",
	       jget(tr, "committed", a, sizeof a), jget(tr, "undelivered", b, sizeof b),
	       jget(tr, "delivered_index", c, sizeof c));
	const char *sk = strstr(tr, "\"sink\":{");
	if (!sk)
		return;
	jget(sk, "last_error", f, sizeof f);
	printf("sink        %s %s: %s, %s batches confirmed, %s errors%s%s\n",
	       jget(sk, "type", a, sizeof a), jget(sk, "target", b, sizeof b),
	       strcmp(jget(sk, "connected", c, sizeof c), "true") == 0 ? "connected"
								       : "not connected",
	       jget(sk, "batches_confirmed", d, sizeof d), jget(sk, "errors", e, sizeof e),
	       f[0] ? "; last: " : "", f);
	/* RELP: the window, and what at least once cost */
	bool relp = strcmp(jget(sk, "type", c, sizeof c), "relp") == 0;
	if (relp)
		printf("            relp window %s, in flight %s, records resent %s\n",
		       jget(sk, "window", a, sizeof a), jget(sk, "in_flight", b, sizeof b),
		       jget(sk, "records_resent", d, sizeof d));
	/* PostgreSQL and RELP: records refused for good; a database that is not UTF8 */
	if (strcmp(jget(sk, "dead_letters", a, sizeof a), "-") != 0) {
		if (relp)
			printf("            dead letters %s (too big: a notice with the id went "
			       "instead)\n",
			       a);
		else
			printf("            dead letters %s (kept in table %s)\n", a,
			       jget(sk, "dead_table", b, sizeof b));
	}
	if (strcmp(jget(sk, "encoding_ok", c, sizeof c), "false") == 0)
		printf("            database encoding %s, not UTF8: %s\n",
		       jget(sk, "server_encoding", d, sizeof d),
		       jget(sk, "encoding_advice", e, sizeof e));
}

/* The PostgreSQL rebuild (rejoin, switchover) and a switchover run by this
 * node, when there is something to say. */
static void print_rebuild_switchover(const char *acting)
{
	char a[128], b[128], c[160], d[128], e[512];
	const char *rb = strstr(acting, "\"pg_rebuild\":{");
	if (rb && strcmp(jget(rb, "state", a, sizeof a), "idle") != 0) {
		jget(rb, "step", c, sizeof c);
		printf("rebuild     %s (%s, %s), %s ms%s%s\n", a, jget(rb, "method", b, sizeof b),
		       jget(rb, "reason", d, sizeof d), jget(rb, "elapsed_ms", e, sizeof e),
		       c[0] ? ": " : "", c);
		if (strcmp(jget(rb, "error", e, sizeof e), ""))
			printf("            last failure: %s\n", e);
	}
	const char *so = strstr(acting, "\"switchover\":{");
	if (so && strcmp(jget(so, "state", a, sizeof a), "none") != 0)
		printf("switchover  %s to %s (%s ms): %s\n", a, jget(so, "to", b, sizeof b),
		       jget(so, "elapsed_ms", d, sizeof d), jget(so, "detail", e, sizeof e));
}

static void print_table(const char *js)
{
	char a[128], b[128], c[128], d[128], e[128];
	printf("member      %s (id %s, %s) of cluster %s, pid %s\n", jget(js, "name", a, sizeof a),
	       jget(js, "id", b, sizeof b), jget(js, "kind", c, sizeof c),
	       jget(js, "cluster", d, sizeof d), jget(js, "pid", e, sizeof e));
	printf("role        %s, term %s, leader %s\n", jget(js, "role", a, sizeof a),
	       jget(js, "term", b, sizeof b), jget(js, "leader", c, sizeof c));
	printf("log         commit %s, applied %s, last %s, snapshot %s\n",
	       jget(js, "commit_index", a, sizeof a), jget(js, "applied_index", b, sizeof b),
	       jget(js, "last_index", c, sizeof c), jget(js, "snapshot_index", d, sizeof d));
	const char *lease = strstr(js, "\"lease\":");
	printf("lease       %s (holder %s, expires in %s ms)\n",
	       strcmp(jget(lease, "valid", a, sizeof a), "true") == 0 ? "held" : "not held",
	       jget(lease, "holder", b, sizeof b), jget(lease, "expiry_in_ms", c, sizeof c));
	const char *master = strstr(js, "\"master\":");
	printf("master      %s (%s, since entry %s)\n", jget(master, "node", a, sizeof a),
	       jget(master, "reason", b, sizeof b), jget(master, "since_index", c, sizeof c));
	const char *mt = strstr(js, "\"maintenance\":{");
	if (mt && strcmp(jget(mt, "on", a, sizeof a), "true") == 0) {
		char why[DUET_DETAIL_MAX];
		if (strcmp(jget(mt, "who", b, sizeof b), "null") == 0)
			printf("maintenance on since entry %s (who and why: duetctl log --type "
			       "OPERATOR): no automatic failover\n",
			       jget(mt, "since_index", c, sizeof c));
		else
			printf("maintenance on since entry %s by %s: %s; no automatic failover\n",
			       jget(mt, "since_index", c, sizeof c), b,
			       jget(mt, "why", why, sizeof why));
	}
	const char *acting = strstr(js, "\"acting\":");
	if (acting) {
		printf("acting      %s%s%s\n", jget(acting, "acting", a, sizeof a),
		       strcmp(jget(acting, "activation_step", b, sizeof b), "") ? ", step " : "",
		       b);
		if (strcmp(jget(acting, "why_not_master", c, sizeof c), ""))
			printf("            %s\n", c);
		const char *pg = strstr(acting, "\"pg\":");
		if (strcmp(jget(pg, "answers", a, sizeof a), "true") == 0)
			printf("postgresql  %s, lsn %s, synchronous_standby_names '%s'\n",
			       jget(pg, "role", b, sizeof b), jget(pg, "lsn", c, sizeof c),
			       jget(pg, "synchronous_standby_names", d, sizeof d));
		else if (strcmp(jget(pg, "managed", b, sizeof b), "false") == 0)
			printf("postgresql  not managed ([pg] conninfo is empty)\n");
		else
			printf("postgresql  does not answer: %s\n", jget(pg, "error", b, sizeof b));
		const char *rp = strstr(acting, "\"replication\":[");
		const char *rend = rp ? strchr(rp, ']') : NULL;
		while (rp && rend) {
			rp = strstr(rp + 1, "{\"name\":");
			if (!rp || rp > rend)
				break;
			printf("            streams to %s: %s, %s, flush lag %s bytes\n",
			       jget(rp, "name", a, sizeof a), jget(rp, "state", b, sizeof b),
			       jget(rp, "sync_state", c, sizeof c),
			       jget(rp, "flush_lag_bytes", d, sizeof d));
		}
		char sw[400]; /* why the standby is not (or no longer) SYNC, DESIGN 4.6 */
		if (pg && strcmp(jget(pg, "sync_why", sw, sizeof sw), "") && strcmp(sw, "-"))
			printf("            sync: %s\n", sw);
		const char *mb = strstr(acting, "\"members\":[");
		const char *mend = mb ? strchr(mb, ']') : NULL;
		printf("members    ");
		while (mb && mend) {
			mb = strstr(mb + 1, "{\"name\":");
			if (!mb || mb > mend)
				break;
			printf(" %s %s%s", jget(mb, "name", a, sizeof a),
			       jget(mb, "role", b, sizeof b),
			       strcmp(jget(mb, "sync", c, sizeof c), "true") == 0 ? " (SYNC)" : "");
		}
		printf("\n");
		const char *ck = strstr(acting, "\"checks\":[");
		const char *cend = ck ? strchr(ck, ']') : NULL;
		if (ck)
			printf("checks     ");
		while (ck && cend) {
			ck = strstr(ck + 1, "{\"name\":");
			if (!ck || ck > cend)
				break;
			printf(" %s=%s", jget(ck, "name", a, sizeof a),
			       jget(ck, "state", b, sizeof b));
		}
		if (cend)
			printf("\n");
		const char *lt = strstr(acting, "\"last_takeover\":");
		if (lt && strcmp(jget(lt, "term", a, sizeof a), "0"))
			printf("takeover    term %s: promoted %s ms, FIP %s ms, ready %s ms after "
			       "leading\n",
			       a, jget(lt, "promoted_after_ms", b, sizeof b),
			       jget(lt, "fip_after_ms", c, sizeof c),
			       jget(lt, "ready_after_ms", d, sizeof d));
		if (lt && strcmp(a, "0"))
			printf("            fence: %s\n",
			       jget(acting, "last_takeover_fence", e, sizeof e));
		print_rebuild_switchover(acting);
	}
	const char *tr = strstr(js, "\"traps\":{");
	if (tr)
		print_traps(tr);
	const char *el = strstr(js, "\"last_election\":");
	printf("election    last %s, %s ms ago\n", jget(el, "reason", a, sizeof a),
	       jget(el, "ago_ms", b, sizeof b));
	printf("peers       %-12s %6s %8s %10s\n", "name", "links", "match", "ack_ago_ms");
	const char *p = strstr(js, "\"peers\":[");
	const char *end = p ? strchr(p, ']') : NULL;
	while (p && end) {
		p = strstr(p + 1, "{\"id\":");
		if (!p || p > end)
			break;
		const char *next = strstr(p + 1, "{\"id\":");
		const char *lim = next && next < end ? next : end;
		char m[32] = "-", ack[32] = "-";
		const char *mi = strstr(p, "\"match_index\":");
		if (mi && mi < lim) {
			jget(p, "match_index", m, sizeof m);
			jget(p, "last_ack_ms_ago", ack, sizeof ack);
		}
		printf("            %-12s %6s %8s %10s\n", jget(p, "name", a, sizeof a),
		       jget(p, "links_up", b, sizeof b), m, ack);
	}
	const char *t = strstr(js, "\"transport\":");
	printf("transport   accepted %s, links up %s, refused: bad cert %s, unknown member %s, "
	       "tls error %s,\n",
	       jget(t, "accepted", a, sizeof a), jget(t, "links_up", b, sizeof b),
	       jget(t, "bad_cert", c, sizeof c), jget(t, "unknown_member", d, sizeof d),
	       jget(t, "tls_error", e, sizeof e));
	printf("            bad frame %s, oversized frame %s, handshake timeout %s\n",
	       jget(t, "bad_frame", a, sizeof a), jget(t, "oversized_frame", b, sizeof b),
	       jget(t, "handshake_timeout", c, sizeof c));
	const char *r = strstr(js, "\"raft\":");
	printf("raft        elections %s, prevotes %s, leader terms %s, quorum stepdowns %s\n",
	       jget(r, "elections", a, sizeof a), jget(r, "prevotes", b, sizeof b),
	       jget(r, "leader_terms", c, sizeof c), jget(r, "stepdowns_quorum", d, sizeof d));
}

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig)
{
	interrupted = 1;
}

int cmd_status(int argc, char **argv)
{
	const char *sock = NULL, *config = NULL;
	bool json = false, watch = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
			sock = argv[++i];
		else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			config = argv[++i];
		else if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (strcmp(argv[i], "--watch") == 0)
			watch = true;
		else {
			fprintf(stderr, "duetctl status: unknown argument '%s'; see --help\n",
				argv[i]);
			return DUETCTL_USAGE;
		}
	}
	int src = duetctl_admin_socket("status", config, &sock);
	if (src)
		return src;
	if (watch)
		signal(SIGINT, on_sigint);
	int rc = DUETCTL_OK;
	do {
		char err[512] = "";
		char *js = duetctl_ask(sock, "{\"cmd\":\"status\"}\n", err, sizeof err);
		if (watch && !json)
			printf("\033[H\033[2J");
		if (!js) {
			fprintf(stderr, "duetctl status: %s\n", err);
			rc = DUETCTL_FAILED;
		} else {
			rc = DUETCTL_OK;
			if (json)
				printf("%s\n", js);
			else
				print_table(js);
			free(js);
		}
		fflush(stdout);
		if (watch && !interrupted)
			sleep(1);
	} while (watch && !interrupted);
	return rc;
}
