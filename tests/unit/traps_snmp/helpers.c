/* SPDX-License-Identifier: MIT */
/*
 * helpers.c - see helpers.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "helpers.h"

extern char **environ;

const uint8_t AGENT_ENGINE[8] = {0x80, 0, 0, 0, 1, 2, 3, 4};

static void add_user(struct trap_snmp_config *cfg, const char *name, enum trap_snmp_auth auth,
		     enum trap_snmp_priv priv, bool any_engine, enum trap_snmp_level min)
{
	struct trap_snmp_user_spec u = {
	    .name = name,
	    .engine_id = any_engine ? NULL : AGENT_ENGINE,
	    .engine_id_len = any_engine ? 0 : sizeof AGENT_ENGINE,
	    .auth = auth,
	    .auth_secret = (const uint8_t *)AUTH_PASS,
	    .auth_secret_len = strlen(AUTH_PASS),
	    .priv = priv,
	    .priv_secret = (const uint8_t *)PRIV_PASS,
	    .priv_secret_len = strlen(PRIV_PASS),
	    .min_level = min,
	};
	int rc = trap_snmp_config_add_user(cfg, &u);
	cr_assert_eq(rc, 0, "add user %s: %d", name, rc);
}

void test_config(struct trap_snmp_config *cfg)
{
	trap_snmp_config_init(cfg);
	cr_assert_eq(trap_snmp_config_add_community(cfg, "public", 6), 0);
	add_user(cfg, "shaaes", TRAP_SNMP_AUTH_SHA1, TRAP_SNMP_PRIV_AES128, false, 0);
	add_user(cfg, "md5des", TRAP_SNMP_AUTH_MD5, TRAP_SNMP_PRIV_DES, false, 0);
	add_user(cfg, "sha256aes", TRAP_SNMP_AUTH_SHA256, TRAP_SNMP_PRIV_AES128, false, 0);
	add_user(cfg, "sha512aes", TRAP_SNMP_AUTH_SHA512, TRAP_SNMP_PRIV_AES128, false, 0);
	add_user(cfg, "shaauth", TRAP_SNMP_AUTH_SHA1, TRAP_SNMP_PRIV_NONE, false, 0);
	add_user(cfg, "noauth", TRAP_SNMP_AUTH_NONE, TRAP_SNMP_PRIV_NONE, false, 0);
	add_user(cfg, "anyengine", TRAP_SNMP_AUTH_SHA1, TRAP_SNMP_PRIV_AES128, true, 0);
	add_user(cfg, "lowok", TRAP_SNMP_AUTH_SHA1, TRAP_SNMP_PRIV_AES128, false,
		 TRAP_SNMP_LEVEL_NOAUTH_NOPRIV);
}

/* ---- sockets --------------------------------------------------------------- */

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sink_open(struct udp_sink *s)
{
	s->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(s->fd, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(s->fd, (struct sockaddr *)&a, sizeof a), 0);
	socklen_t alen = sizeof a;
	cr_assert_eq(getsockname(s->fd, (struct sockaddr *)&a, &alen), 0);
	s->port = ntohs(a.sin_port);
	snprintf(s->target, sizeof s->target, "127.0.0.1:%u", s->port);
}

void sink_close(struct udp_sink *s)
{
	close(s->fd);
	s->fd = -1;
}

size_t sink_recv(struct udp_sink *s, uint8_t *buf, size_t cap, int timeout_ms,
		 struct sockaddr_in *from)
{
	long long deadline = now_ms() + timeout_ms;
	for (;;) {
		long long left = deadline - now_ms();
		cr_assert_gt(left, 0, "no datagram on %s within %d ms", s->target, timeout_ms);
		struct pollfd p = {.fd = s->fd, .events = POLLIN};
		int rc = poll(&p, 1, (int)left);
		if (rc < 0 && errno == EINTR)
			continue;
		cr_assert_geq(rc, 0);
		if (rc == 0)
			continue;
		struct sockaddr_in a;
		socklen_t alen = sizeof a;
		ssize_t n = recvfrom(s->fd, buf, cap, 0, (struct sockaddr *)&a, &alen);
		cr_assert_geq(n, 0);
		if (from)
			*from = a;
		return (size_t)n;
	}
}

int sink_quiet(struct udp_sink *s, int timeout_ms)
{
	struct pollfd p = {.fd = s->fd, .events = POLLIN};
	return poll(&p, 1, timeout_ms) == 0;
}

/* ---- tools ----------------------------------------------------------------- */

static char tool_dir[256];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void tool_dir_remove(void)
{
	if (tool_dir[0])
		nftw(tool_dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static const char *tool_dir_get(void)
{
	if (!tool_dir[0]) {
		const char *tmp = getenv("TMPDIR");
		snprintf(tool_dir, sizeof tool_dir, "%s/duet-snmp-XXXXXX", tmp ? tmp : "/tmp");
		cr_assert_not_null(mkdtemp(tool_dir));
		atexit(tool_dir_remove);
	}
	return tool_dir;
}

static void print_tool_log(void)
{
	char path[300];
	snprintf(path, sizeof path, "%s/tool.log", tool_dir_get());
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	char line[512];
	while (fgets(line, sizeof line, f))
		cr_log_warn("tool: %s", line);
	fclose(f);
}

pid_t tool_start(const struct udp_sink *s, const char *const argv[])
{
	const char *dir = tool_dir_get();
	char *args[64];
	size_t n = 0;
	for (; argv[n]; n++) {
		cr_assert_lt(n, 63);
		args[n] = strcmp(argv[n], "%T") == 0 ? (char *)s->target : (char *)argv[n];
	}
	args[n] = NULL;

	/* net-snmp reads config and writes state: keep both in our temp dir */
	static char env_conf[300], env_persist[300], env_mibdirs[300];
	snprintf(env_conf, sizeof env_conf, "SNMPCONFPATH=%s", dir);
	snprintf(env_persist, sizeof env_persist, "SNMP_PERSISTENT_DIR=%s", dir);
	snprintf(env_mibdirs, sizeof env_mibdirs, "MIBDIRS=%s", dir);
	char *env[256];
	size_t e = 0;
	for (char **p = environ; *p && e < 250; p++)
		if (strncmp(*p, "SNMP", 4) != 0 && strncmp(*p, "MIB", 3) != 0)
			env[e++] = *p;
	env[e++] = env_conf;
	env[e++] = env_persist;
	env[e++] = env_mibdirs;
	env[e++] = "MIBS=";
	env[e] = NULL;

	char log[300];
	snprintf(log, sizeof log, "%s/tool.log", dir);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	pid_t pid;
	int rc = posix_spawnp(&pid, args[0], &fa, NULL, args, env);
	posix_spawn_file_actions_destroy(&fa);
	cr_assert_eq(rc, 0, "cannot run %s: %s (install the Debian package snmp)", args[0],
		     strerror(rc));
	return pid;
}

int tool_wait(pid_t pid, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	int status = 0;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		cr_assert_geq(r, 0);
		if (r == pid)
			break;
		long long left = deadline - now_ms();
		if (left <= 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			print_tool_log();
			cr_assert_fail("tool %d still running after %d ms", (int)pid, timeout_ms);
		}
		if (fd >= 0) {
			struct pollfd p = {.fd = fd, .events = POLLIN};
			poll(&p, 1, (int)left);
		} else {
			poll(NULL, 0, 10); /* no pidfd (old kernel): check again soon */
		}
	}
	if (fd >= 0)
		close(fd);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		print_tool_log();
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

size_t capture(const char *name, const char *const argv[], uint8_t *buf, size_t cap)
{
	struct udp_sink s;
	sink_open(&s);
	pid_t pid = tool_start(&s, argv);
	size_t n = sink_recv(&s, buf, cap, DEADLINE_MS, NULL);
	cr_assert_eq(tool_wait(pid, DEADLINE_MS), 0, "%s failed", argv[0]);
	sink_close(&s);
	corpus_write(name, buf, n);
	return n;
}

void corpus_write(const char *name, const uint8_t *buf, size_t n)
{
	const char *corpus = getenv("DUET_SNMP_CORPUS_DIR");
	if (!corpus || !name)
		return;
	char path[512];
	snprintf(path, sizeof path, "%s/%s", corpus, name);
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f, "cannot write %s", path);
	cr_assert_eq(fwrite(buf, 1, n, f), n);
	fclose(f);
}

size_t v3_capture(const char *name, const char *user, const char *level, const char *auth,
		  const char *priv, const char *engine, const char *auth_pass,
		  const char *priv_pass, uint8_t *buf, size_t cap)
{
	const char *argv[40];
	size_t a = 0;
	const char *head[] = {"snmptrap", "-v3", "-e",      engine, "-u",  user, "-l",
			      level,      "-Z",  "7,12345", "-n",   "ctx", "-E", engine};
	for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
		argv[a++] = head[i];
	if (auth) {
		argv[a++] = "-a";
		argv[a++] = auth;
		argv[a++] = "-A";
		argv[a++] = auth_pass;
	}
	if (priv) {
		argv[a++] = "-x";
		argv[a++] = priv;
		argv[a++] = "-X";
		argv[a++] = priv_pass;
	}
	const char *tail[] = {"%T", "999",      TEST_TRAP_OID, TEST_VB(1), "i",
			      "42", TEST_VB(4), "s",           "v3",       NULL};
	for (size_t i = 0; i < sizeof tail / sizeof tail[0]; i++)
		argv[a++] = tail[i];
	return capture(name, argv, buf, cap);
}

enum trap_snmp_drop decode(const struct trap_snmp_config *cfg, const uint8_t *buf, size_t len,
			   struct trap_snmp_msg *msg)
{
	static uint8_t scratch[65536];
	return trap_snmp_decode(cfg, buf, len, scratch, sizeof scratch, msg);
}

enum trap_snmp_drop decode_exact(const struct trap_snmp_config *cfg, const uint8_t *buf, size_t len)
{
	uint8_t *copy = malloc(len + 1);
	cr_assert_not_null(copy);
	memcpy(copy, buf, len);
	uint8_t *scratch = malloc(len + 1);
	struct trap_snmp_msg *msg = malloc(sizeof *msg);
	enum trap_snmp_drop rc = trap_snmp_decode(cfg, copy, len, scratch, len, msg);
	if (rc == TRAP_SNMP_OK) {
		/* whatever was accepted must render */
		char json[65536];
		cr_assert_gt(trap_snmp_json(msg, json, sizeof json), 0);
		cr_assert_gt(trap_snmp_identity(msg, NULL, 0), 0);
	}
	free(msg);
	free(scratch);
	free(copy);
	return rc;
}

/* ---- BER builder ------------------------------------------------------------- */

static void put_len(struct blob *o, size_t len)
{
	if (len < 0x80) {
		o->b[o->n++] = (uint8_t)len;
	} else if (len < 0x100) {
		o->b[o->n++] = 0x81;
		o->b[o->n++] = (uint8_t)len;
	} else {
		o->b[o->n++] = 0x82;
		o->b[o->n++] = (uint8_t)(len >> 8);
		o->b[o->n++] = (uint8_t)len;
	}
}

void blob_tlv(struct blob *o, uint8_t tag, const void *content, size_t len)
{
	cr_assert_lt(o->n + len + 4, sizeof o->b);
	o->b[o->n++] = tag;
	put_len(o, len);
	if (len)
		memcpy(o->b + o->n, content, len);
	o->n += len;
}

void blob_wrap(struct blob *o, uint8_t tag, const struct blob *inner)
{
	blob_tlv(o, tag, inner->b, inner->n);
}

void blob_int(struct blob *o, int64_t v)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)((uint64_t)v >> (56 - 8 * i));
	int s = 0;
	while (s < 7 && ((b[s] == 0 && !(b[s + 1] & 0x80)) || (b[s] == 0xff && (b[s + 1] & 0x80))))
		s++;
	blob_tlv(o, 0x02, b + s, (size_t)(8 - s));
}

void blob_oid(struct blob *o, const char *dotted)
{
	uint64_t arcs[140];
	size_t n = 0;
	const char *p = dotted;
	while (*p) {
		arcs[n++] = strtoull(p, (char **)&p, 10);
		if (*p == '.')
			p++;
	}
	uint8_t c[800];
	size_t len = 0;
	for (size_t i = 1; i < n; i++) {
		uint64_t v = i == 1 ? arcs[0] * 40 + arcs[1] : arcs[i];
		uint8_t sept[10];
		size_t k = 0;
		do {
			sept[k++] = v & 0x7f;
			v >>= 7;
		} while (v);
		while (k > 1)
			c[len++] = 0x80 | sept[--k];
		c[len++] = sept[0];
	}
	blob_tlv(o, 0x06, c, len);
}

void blob_varbind(struct blob *list, const char *oid, uint8_t tag, const void *v, size_t len)
{
	struct blob vb = {.n = 0};
	blob_oid(&vb, oid);
	blob_tlv(&vb, tag, v, len);
	blob_wrap(list, 0x30, &vb);
}

void blob_v2c(struct blob *out, const char *community, uint8_t pdu_tag, int64_t request_id,
	      const struct blob *varbinds)
{
	struct blob pdu = {.n = 0}, msg = {.n = 0};
	blob_int(&pdu, request_id);
	blob_int(&pdu, 0);
	blob_int(&pdu, 0);
	blob_wrap(&pdu, 0x30, varbinds);
	blob_int(&msg, 1);
	blob_tlv(&msg, 0x04, community, strlen(community));
	blob_wrap(&msg, pdu_tag, &pdu);
	out->n = 0;
	blob_wrap(out, 0x30, &msg);
}

void hex_decode(const char *hex, uint8_t *out, size_t *len)
{
	size_t n = 0;
	for (; hex[0] && hex[1]; hex += 2) {
		unsigned v;
		sscanf(hex, "%2x", &v);
		out[n++] = (uint8_t)v;
	}
	*len = n;
}
