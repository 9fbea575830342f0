/* SPDX-License-Identifier: MIT */
/*
 * config_traps.c - the rules of the config file (config.h) that span the keys
 * of [traps] and [sink], and the two secrets files [traps] names. config.c
 * parses each key on its own and calls config_check_traps() and
 * config_check_sink() in its second pass (see the comment at its top).
 *
 *  - [traps] receivers: every address of syslog_udp, syslog_tcp, snmp_udp,
 *    http and https is an IP literal (receivers bind, they never resolve a
 *    name), and no two sockets of one protocol share a port on an address
 *    that overlaps (0.0.0.0 and [::] cover others; [node] listen counts for
 *    TCP); https needs tls_cert and tls_key.
 *  - [traps] limits: forward_delay_ms < window_ms, batch_max <= backlog_max,
 *    backlog_max_bytes fits [node] map_max_mib (check_backlog_fits_map());
 *    snmp_communities lists at most DUET_CONFIG_MAX_COMMUNITIES distinct,
 *    non-empty communities, snmp_engine_id is a valid SnmpEngineID (RFC 3411).
 *  - snmp_users_file: the SNMPv3 users, one net-snmp createUser line each
 *    ("createUser [-e ENGINEID] NAME [AUTH AUTHPASS [PRIV [PRIVPASS]]]",
 *    words as net-snmp's copy_nword() reads them); every line is checked and
 *    each error reported as FILE:LINE against the key.
 *  - http_token_file: its first line is the bearer token, visible ASCII.
 *  - [sink]: one numeric address for tcp, conninfo for postgresql, a
 *    lower-case SQL table name.
 *  - a witness may have neither [traps] nor [sink].
 *  - [http] (duetd's /master, /health, /metrics): numeric listen addresses
 *    whose TCP ports clash with no receiver's nor [node] listen, tls_cert
 *    and tls_key together; not on a witness either.
 *
 * The two files are read only without DUET_CONFIG_SKIP_FILES; their buffers
 * are zeroed before they are freed.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_internal.h"
#include "duet/fsm.h"

/*
 * The trap backlog against the store's map (README, Traps, "The backlog and
 * its bound"): until a DELIVERED covers them, the TRAPS entries of the
 * backlog stay in the log of all three members (the compaction floor). One
 * backlog byte costs at most 2.1 bytes of map: an entry's 40 bytes of raft
 * header and checksum, and LMDB's rounding of a value past half a page
 * (2024 bytes) up to whole overflow pages, worst for a ~2 KiB entry (4122
 * bytes of pages and leaf node for 1985 bytes of payload). Besides the
 * backlog the map holds the audit chain (its own bound) and the headroom:
 * two snapshots with their committed keys (the stored one and the next,
 * written before the old one is freed) and the rest of the log, LMDB's
 * free pages included. The witness reads no [traps]: what its log holds is
 * what the leaders committed, within their bound, so its map_max_mib must
 * be the data nodes' (README says so; one file cannot check another).
 */
#define BACKLOG_LOG_TENTHS_PER_BYTE 21u
#define MAP_HEADROOM_BYTES          (2ull * FSM_SNAPSHOT_KEYS_MAX_BYTES + (64ull << 20))

static void check_backlog_fits_map(struct loader *ld)
{
	struct draft *d = ld->d;
	int ki_bytes = config_key_index(SEC_TRAPS, "backlog_max_bytes");
	int ki_map = config_key_index(SEC_NODE, "map_max_mib");
	int ki_audit = config_key_index(SEC_NODE, "audit_max_bytes");
	if (d->key_bad[ki_bytes] || d->key_bad[ki_map] || d->key_bad[ki_audit])
		return;
	uint64_t log = (uint64_t)d->traps.backlog_max_bytes * BACKLOG_LOG_TENTHS_PER_BYTE / 10;
	uint64_t need = log + d->audit_max_bytes + MAP_HEADROOM_BYTES;
	uint64_t map = (uint64_t)d->map_max_mib << 20;
	if (need <= map)
		return;
	int line = d->key_line[ki_bytes];
	if (d->key_line[ki_map] > line)
		line = d->key_line[ki_map];
	config_add_error(
	    ld->errs, line,
	    "[traps] backlog_max_bytes (%" PRIu32 ") does not fit [node] map_max_mib (%" PRIu32
	    " MiB): a full backlog takes up to %" PRIu64 " MiB of log on every member, "
	    "with audit_max_bytes (%" PRIu32 ") and %llu MiB of headroom %" PRIu64
	    " MiB; lower backlog_max_bytes or raise map_max_mib to %" PRIu64
	    " on all three members",
	    d->traps.backlog_max_bytes, d->map_max_mib, log >> 20, d->audit_max_bytes,
	    MAP_HEADROOM_BYTES >> 20, (need + (1u << 20) - 1) >> 20, (need + (1u << 20) - 1) >> 20);
}

/* The host and port of an address that config_check_addr() accepted. */
static void split_addr(const char *addr, char *host, size_t hostlen, const char **port)
{
	const char *colon = strrchr(addr, ':');
	size_t hl = (size_t)(colon - addr);
	snprintf(host, hostlen, "%.*s", (int)hl, addr);
	*port = colon + 1;
}

/* Can a socket bound to a and one bound to b share the machine? Not if
 * they have the same port and the same host, or one of them is a wildcard
 * that covers the other ([::] is dual-stack: it covers IPv4 too). */
static bool addrs_clash(const char *a, const char *b)
{
	char ha[DUET_ADDR_MAX], hb[DUET_ADDR_MAX];
	const char *pa, *pb;
	split_addr(a, ha, sizeof(ha), &pa);
	split_addr(b, hb, sizeof(hb), &pb);
	if (strcmp(pa, pb) != 0)
		return false;
	if (strcmp(ha, hb) == 0 || strcmp(ha, "[::]") == 0 || strcmp(hb, "[::]") == 0)
		return true;
	return (strcmp(ha, "0.0.0.0") == 0 && hb[0] != '[') ||
	       (strcmp(hb, "0.0.0.0") == 0 && ha[0] != '[');
}

/* Every address of a is an IP literal (receivers bind, they do not resolve). */
static void check_numeric(struct loader *ld, int line, const char *key,
			  const struct duet_config_addrs *a)
{
	for (unsigned i = 0; i < a->n; i++) {
		char host[DUET_ADDR_MAX];
		const char *port;
		split_addr(a->v[i], host, sizeof(host), &port);
		if (host[0] != '[' && strspn(host, "0123456789.") != strlen(host))
			config_add_error(
			    ld->errs, line,
			    "key '%s': '%s' names a host; use a numeric address (a.b.c.d:port "
			    "or [v6]:port): duet does not resolve names",
			    key, a->v[i]);
	}
}

struct listener_key {
	const char *section, *key;
	int line;
	const struct duet_config_addrs *addrs;
};

/* No two sockets of one protocol on the same port and host; reported on
 * the later key. The first key may be [node] listen: its addresses are
 * compared with the receivers', not with each other (that list is the
 * transport's, checked where it binds). */
static void check_clashes(struct loader *ld, const struct listener_key *k, size_t n,
			  const char *proto)
{
	for (size_t j = 0; j < n; j++)
		for (size_t i = (j == 0 && strcmp(k[0].section, "node") == 0); i <= j; i++)
			for (unsigned b = 0; b < k[j].addrs->n; b++)
				for (unsigned a = 0; a < (i == j ? b : k[i].addrs->n); a++) {
					if (!addrs_clash(k[i].addrs->v[a], k[j].addrs->v[b]))
						continue;
					config_add_error(
					    ld->errs, k[j].line,
					    "key '%s': %s takes the %s port of [%s] %s = "
					    "%s; give each listener its own port",
					    k[j].key, k[j].addrs->v[b], proto, k[i].section,
					    k[i].key, k[i].addrs->v[a]);
				}
}

/* Parses hex ("0x" allowed) into an SnmpEngineID: 5..32 bytes, neither all
 * zeros nor all 0xff (RFC 3411 reserves them). */
static int parse_engine_id(const char *hex, uint8_t *out, uint8_t *out_len, char *why,
			   size_t whylen)
{
	const char *p = hex;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		p += 2;
	size_t n = strlen(p);
	if (n == 0 || strspn(p, "0123456789abcdefABCDEF") != n || n % 2) {
		snprintf(why, whylen, "engine ID '%.70s' is not an even number of hex digits", hex);
		return -1;
	}
	if (n / 2 < DUET_CONFIG_ENGINE_ID_MIN || n / 2 > DUET_CONFIG_ENGINE_ID_MAX) {
		snprintf(why, whylen, "engine ID '%.70s' is %zu bytes; an engine ID has %d to %d",
			 hex, n / 2, DUET_CONFIG_ENGINE_ID_MIN, DUET_CONFIG_ENGINE_ID_MAX);
		return -1;
	}
	bool zeros = true, ones = true;
	for (size_t i = 0; i < n / 2; i++) {
		char byte[3] = {p[2 * i], p[2 * i + 1], '\0'};
		out[i] = (uint8_t)strtoul(byte, NULL, 16);
		zeros &= out[i] == 0x00;
		ones &= out[i] == 0xff;
	}
	if (zeros || ones) {
		snprintf(why, whylen, "engine ID '%.70s' is all %s, which RFC 3411 reserves", hex,
			 zeros ? "zeros" : "0xff bytes");
		return -1;
	}
	*out_len = (uint8_t)(n / 2);
	return 0;
}

/* Splits the comma-separated communities into t (blanks around commas
 * ignored); reports every bad one. */
static void parse_communities(struct loader *ld, int line, const char *text,
			      struct duet_config_traps *t)
{
	for (const char *p = text; *p;) {
		const char *end = p + strcspn(p, ",");
		const char *s = p, *e = end;
		while (s < e && isspace((unsigned char)*s))
			s++;
		while (e > s && isspace((unsigned char)e[-1]))
			e--;
		size_t n = (size_t)(e - s);
		p = *end ? end + 1 : end;
		if (n == 0) {
			config_add_error(
			    ld->errs, line,
			    "key 'snmp_communities': empty community in the list (a comma too "
			    "many?)");
			continue;
		}
		if (n >= DUET_CONFIG_COMMUNITY_MAX) {
			config_add_error(
			    ld->errs, line,
			    "key 'snmp_communities': '%.20s...' is longer than %d bytes", s,
			    DUET_CONFIG_COMMUNITY_MAX - 1);
			continue;
		}
		bool twice = false;
		for (unsigned i = 0; i < t->n_snmp_communities; i++)
			twice |= strlen(t->snmp_communities[i]) == n &&
				 memcmp(t->snmp_communities[i], s, n) == 0;
		if (twice) {
			config_add_error(ld->errs, line,
					 "key 'snmp_communities': '%.*s' is listed twice", (int)n,
					 s);
			continue;
		}
		if (t->n_snmp_communities == DUET_CONFIG_MAX_COMMUNITIES) {
			config_add_error(ld->errs, line,
					 "key 'snmp_communities': more than %d communities",
					 DUET_CONFIG_MAX_COMMUNITIES);
			return;
		}
		memcpy(t->snmp_communities[t->n_snmp_communities], s, n);
		t->snmp_communities[t->n_snmp_communities++][n] = '\0';
	}
}

/* Reads the whole of a small regular file into a malloc()ed buffer (NUL
 * added). Returns 0, or -1 with a reason. */
static int read_small_file(const char *path, size_t max, char **out, size_t *out_len, char *why,
			   size_t whylen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		snprintf(why, whylen, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
		if (fstat(fd, &st) != 0)
			snprintf(why, whylen, "cannot read %s: %s", path, strerror(errno));
		else if (!S_ISREG(st.st_mode))
			snprintf(why, whylen, "%s is not a regular file", path);
		else
			snprintf(why, whylen, "%s is larger than %zu bytes", path, max);
		close(fd);
		return -1;
	}
	char *buf = malloc(max + 1);
	size_t got = 0;
	while (buf && got < max) {
		ssize_t k = read(fd, buf + got, max - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			snprintf(why, whylen, "cannot read %s: %s", path, strerror(errno));
			explicit_bzero(buf, got);
			free(buf);
			close(fd);
			return -1;
		}
		if (k == 0)
			break;
		got += (size_t)k;
	}
	close(fd);
	if (!buf) {
		snprintf(why, whylen, "cannot read %s: out of memory", path);
		return -1;
	}
	buf[got] = '\0';
	*out = buf;
	*out_len = got;
	return 0;
}

static void free_secret(char *buf, size_t len)
{
	if (buf)
		explicit_bzero(buf, len);
	free(buf);
}

/* [traps] http_token_file: its first line (without CR) is the token. */
static void read_token(struct loader *ld, int line, const char *path, char *token)
{
	char why[DUET_CONFIG_MSG_MAX - 64];
	char *buf;
	size_t len;
	if (read_small_file(path, 64u << 10, &buf, &len, why, sizeof(why)) != 0) {
		config_add_error(ld->errs, line, "key 'http_token_file': %s", why);
		return;
	}
	const char *lf = memchr(buf, '\n', len);
	size_t n = lf ? (size_t)(lf - buf) : len;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	size_t bad = n; /* first byte that is not visible ASCII (NUL included) */
	for (size_t i = 0; i < n && bad == n; i++)
		if ((unsigned char)buf[i] <= 0x20 || (unsigned char)buf[i] >= 0x7f)
			bad = i;
	if (n == 0)
		config_add_error(
		    ld->errs, line,
		    "key 'http_token_file': the first line of %s is empty; put the token "
		    "there",
		    path);
	else if (n >= DUET_CONFIG_TOKEN_MAX)
		config_add_error(
		    ld->errs, line,
		    "key 'http_token_file': the token in %s is %zu bytes, more than %d", path, n,
		    DUET_CONFIG_TOKEN_MAX - 1);
	else if (bad < n)
		config_add_error(
		    ld->errs, line,
		    "key 'http_token_file': the token in %s has byte 0x%02x at position %zu; "
		    "a bearer token is visible ASCII without blanks",
		    path, (unsigned char)buf[bad], bad + 1);
	else {
		memcpy(token, buf, n);
		token[n] = '\0';
	}
	free_secret(buf, len);
}

/* One word of a users-file line, as net-snmp's copy_nword() reads it: a run
 * of non-blanks, or a "..." / '...' string in which a backslash escapes the
 * next byte. Returns the word's length, or -1 with a reason; *p moves past
 * it. out has room for cap bytes and a NUL. */
static long users_word(const char **p, char *out, size_t cap, char *why, size_t whylen)
{
	const char *s = *p;
	size_t n = 0;
	bool overflow = false;
	if (*s == '"' || *s == '\'') {
		char quote = *s++;
		while (*s && *s != quote) {
			if (*s == '\\' && s[1])
				s++;
			if (n < cap)
				out[n] = *s;
			overflow |= n >= cap;
			n++;
			s++;
		}
		if (*s != quote) {
			snprintf(why, whylen, "a %c-quoted word is not closed", quote);
			return -1;
		}
		s++;
	} else {
		while (*s && *s != ' ' && *s != '\t') {
			if (n < cap)
				out[n] = *s;
			overflow |= n >= cap;
			n++;
			s++;
		}
	}
	out[n < cap ? n : cap] = '\0';
	while (*s == ' ' || *s == '\t')
		s++;
	*p = s;
	return overflow ? (long)cap + 1 : (long)n;
}

static const struct choice snmp_auth_choices[] = {{"MD5", DUET_CONFIG_SNMP_AUTH_MD5},
						  {"SHA", DUET_CONFIG_SNMP_AUTH_SHA1},
						  {"SHA-224", DUET_CONFIG_SNMP_AUTH_SHA224},
						  {"SHA-256", DUET_CONFIG_SNMP_AUTH_SHA256},
						  {"SHA-384", DUET_CONFIG_SNMP_AUTH_SHA384},
						  {"SHA-512", DUET_CONFIG_SNMP_AUTH_SHA512},
						  {NULL, 0}};
static const struct choice snmp_priv_choices[] = {
    {"DES", DUET_CONFIG_SNMP_PRIV_DES}, {"AES", DUET_CONFIG_SNMP_PRIV_AES128}, {NULL, 0}};

/* A passphrase word: 8..128 bytes. */
static int users_pass(const char **p, char *out, const char *what, char *why, size_t whylen)
{
	long n = users_word(p, out, DUET_CONFIG_SNMP_PASS_MAX - 1, why, whylen);
	if (n < 0)
		return -1;
	if (n < DUET_CONFIG_SNMP_PASS_MIN_BYTES || n >= DUET_CONFIG_SNMP_PASS_MAX) {
		snprintf(why, whylen, "the %s passphrase is %s%ld bytes; it must have %d to %d",
			 what, n >= DUET_CONFIG_SNMP_PASS_MAX ? "over " : "",
			 n >= DUET_CONFIG_SNMP_PASS_MAX ? (long)DUET_CONFIG_SNMP_PASS_MAX - 1 : n,
			 DUET_CONFIG_SNMP_PASS_MIN_BYTES, DUET_CONFIG_SNMP_PASS_MAX - 1);
		return -1;
	}
	return 0;
}

/* Parses one non-blank, non-comment line of the users file into *u.
 * Returns 0, or -1 with a reason. */
static int parse_user_line(const char *line, struct duet_config_snmp_user *u, char *why,
			   size_t whylen)
{
	char word[200]; /* one word of a users file line (its lines are short) */
	const char *p = line;
	memset(u, 0, sizeof(*u));
	long n = users_word(&p, word, sizeof(word) - 1, why, whylen);
	if (n < 0)
		return -1;
	if (strcasecmp(word, "createUser") != 0) {
		snprintf(why, whylen, "expected 'createUser', found '%.40s'", word);
		return -1;
	}
	if ((n = users_word(&p, word, sizeof(word) - 1, why, whylen)) < 0)
		return -1;
	if (strcmp(word, "-e") == 0) {
		if ((n = users_word(&p, word, sizeof(word) - 1, why, whylen)) < 0)
			return -1;
		if (n == 0) {
			snprintf(why, whylen, "-e needs an engine ID in hex");
			return -1;
		}
		if (parse_engine_id(word, u->engine_id, &u->engine_id_len, why, whylen) != 0)
			return -1;
		if ((n = users_word(&p, word, sizeof(word) - 1, why, whylen)) < 0)
			return -1;
	} else if (word[0] == '-' && word[1]) {
		snprintf(why, whylen,
			 "option '%.20s' is not supported (only -e ENGINEID; give passphrases, not "
			 "keys)",
			 word);
		return -1;
	}
	if (n == 0) {
		snprintf(why, whylen, "createUser needs a user name");
		return -1;
	}
	if (n >= DUET_CONFIG_SNMP_USER_MAX) {
		snprintf(why, whylen, "user name '%.40s...' is longer than %d bytes", word,
			 DUET_CONFIG_SNMP_USER_MAX - 1);
		return -1;
	}
	memcpy(u->name, word, (size_t)n + 1);
	if (!*p)
		return 0; /* noAuthNoPriv */
	if (users_word(&p, word, sizeof(word) - 1, why, whylen) < 0)
		return -1;
	if (config_parse_choice(word, snmp_auth_choices, &u->auth, why, whylen) != 0) {
		snprintf(why, whylen,
			 "unknown authentication protocol '%.40s' (MD5, SHA, SHA-224, SHA-256, "
			 "SHA-384 or SHA-512)",
			 word);
		return -1;
	}
	if (!*p) {
		snprintf(why, whylen, "%s needs an authentication passphrase", word);
		return -1;
	}
	if (users_pass(&p, u->auth_pass, "authentication", why, whylen) != 0)
		return -1;
	if (!*p)
		return 0; /* authNoPriv */
	if (users_word(&p, word, sizeof(word) - 1, why, whylen) < 0)
		return -1;
	if (config_parse_choice(word, snmp_priv_choices, &u->priv, why, whylen) != 0) {
		snprintf(why, whylen, "unknown privacy protocol '%.40s' (DES or AES)", word);
		return -1;
	}
	if (!*p) {
		memcpy(u->priv_pass, u->auth_pass, sizeof(u->priv_pass)); /* as net-snmp */
		return 0;
	}
	if (users_pass(&p, u->priv_pass, "privacy", why, whylen) != 0)
		return -1;
	if (*p) {
		if (users_word(&p, word, sizeof(word) - 1, why, whylen) >= 0)
			snprintf(why, whylen, "unexpected '%.40s' after the privacy passphrase",
				 word);
		return -1;
	}
	return 0;
}

/* [traps] snmp_users_file: every line checked, errors as "FILE:LINE:
 * reason" against the key's line, at most DUET_CONFIG_MAX_SNMP_USERS. */
static void read_snmp_users(struct loader *ld, int key_line, const char *path,
			    struct duet_config_traps *t)
{
	char why[DUET_CONFIG_MSG_MAX - 64];
	char *buf;
	size_t len;
	if (read_small_file(path, DUET_CONFIG_SNMP_USERS_MAX_BYTES, &buf, &len, why, sizeof(why)) !=
	    0) {
		config_add_error(ld->errs, key_line, "key 'snmp_users_file': %s", why);
		return;
	}
	int user_line[DUET_CONFIG_MAX_SNMP_USERS];
	unsigned lineno = 0;
	bool too_many = false;
	for (char *p = buf; p < buf + len;) {
		char *end = memchr(p, '\n', (size_t)(buf + len - p));
		if (!end)
			end = buf + len;
		lineno++;
		char *s = p;
		p = end + 1;
		bool nul = memchr(s, '\0', (size_t)(end - s)) != NULL;
		*end = '\0';
		if (end > s && end[-1] == '\r')
			end[-1] = '\0';
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0' || *s == '#')
			continue;
		struct duet_config_snmp_user u;
		int rc = -1;
		if (nul)
			snprintf(why, sizeof(why), "the line contains a NUL byte");
		else
			rc = parse_user_line(s, &u, why, sizeof(why));
		for (unsigned i = 0; rc == 0 && i < t->n_snmp_users; i++) {
			const struct duet_config_snmp_user *o = &t->snmp_users[i];
			if (strcmp(o->name, u.name) == 0 && o->engine_id_len == u.engine_id_len &&
			    memcmp(o->engine_id, u.engine_id, u.engine_id_len) == 0) {
				snprintf(why, sizeof(why),
					 "user '%s' is already defined for this engine ID (line "
					 "%d)",
					 u.name, user_line[i]);
				rc = -1;
			}
		}
		if (rc == 0 && t->n_snmp_users == DUET_CONFIG_MAX_SNMP_USERS) {
			if (!too_many)
				config_add_error(ld->errs, key_line,
						 "key 'snmp_users_file': %s:%u: more than %d users",
						 path, lineno, DUET_CONFIG_MAX_SNMP_USERS);
			too_many = true;
		} else if (rc == 0) {
			user_line[t->n_snmp_users] = (int)lineno;
			t->snmp_users[t->n_snmp_users++] = u;
		} else {
			config_add_error(ld->errs, key_line, "key 'snmp_users_file': %s:%u: %s",
					 path, lineno, why);
		}
		explicit_bzero(&u, sizeof(u));
	}
	free_secret(buf, len);
}

/* What spans the keys of [traps]; a witness may not have the section. */
void config_check_traps(struct loader *ld, const struct member_draft *self, unsigned flags)
{
	struct draft *d = ld->d;
	struct duet_config_traps *t = &d->traps;
	char why[DUET_CONFIG_MSG_MAX - 64];
#define LINE(key) d->key_line[config_key_index(SEC_TRAPS, key)]
#define BAD(key)  d->key_bad[config_key_index(SEC_TRAPS, key)]
	if (self && self->kind == DUET_MEMBER_WITNESS) {
		for (enum section_kind s = SEC_TRAPS; s <= SEC_SINK; s++)
			if (d->section_line[s])
				config_add_error(
				    ld->errs, d->section_line[s],
				    "[%s]: only data nodes receive traps, and [member %s] is "
				    "kind = witness; remove [traps] and [sink] from its config",
				    config_section_def(s)->name, self->name);
		return;
	}
	/* [node] listen first: a clash is reported on the [traps] key */
	struct listener_key tcp[] = {
	    {"node", "listen", d->key_line[config_key_index(SEC_NODE, "listen")], &d->listen},
	    {"traps", "syslog_tcp", LINE("syslog_tcp"), &t->syslog_tcp},
	    {"traps", "http", LINE("http"), &t->http},
	    {"traps", "https", LINE("https"), &t->https},
	    {"http", "listen", d->key_line[config_key_index(SEC_HTTP, "listen")], &d->http.listen}};
	struct listener_key udp[] = {{"traps", "syslog_udp", LINE("syslog_udp"), &t->syslog_udp},
				     {"traps", "snmp_udp", LINE("snmp_udp"), &t->snmp_udp}};
	/* [http] listen is checked for numbers in config_check_http() */
	for (size_t i = 1; i < sizeof(tcp) / sizeof(tcp[0]) - 1; i++)
		check_numeric(ld, tcp[i].line, tcp[i].key, tcp[i].addrs);
	for (size_t i = 0; i < sizeof(udp) / sizeof(udp[0]); i++)
		check_numeric(ld, udp[i].line, udp[i].key, udp[i].addrs);
	check_clashes(ld, tcp, sizeof(tcp) / sizeof(tcp[0]), "TCP");
	check_clashes(ld, udp, sizeof(udp) / sizeof(udp[0]), "UDP");

	bool no_cert = !LINE("tls_cert"), no_key = !LINE("tls_key");
	if (t->https.n && (no_cert || no_key))
		config_add_error(ld->errs, LINE("https"), "key 'https': HTTPS needs [traps] %s",
				 no_cert && no_key ? "tls_cert and tls_key"
				 : no_cert         ? "tls_cert"
						   : "tls_key");
	/* reported on whichever of the two keys is set (the later if both) */
	int window_line = LINE("window_ms"), delay_line = LINE("forward_delay_ms");
	if (!BAD("window_ms") && !BAD("forward_delay_ms") && t->forward_delay_ms >= t->window_ms)
		config_add_error(ld->errs, delay_line > window_line ? delay_line : window_line,
				 "[traps] forward_delay_ms (%" PRIu32
				 ") must be less than window_ms (%" PRIu32
				 "): a trap forwarded after the window could no longer be matched",
				 t->forward_delay_ms, t->window_ms);
	int batch_line = LINE("batch_max"), backlog_line = LINE("backlog_max");
	if (!BAD("batch_max") && !BAD("backlog_max") && t->batch_max > t->backlog_max)
		config_add_error(ld->errs, batch_line > backlog_line ? batch_line : backlog_line,
				 "[traps] batch_max (%" PRIu32
				 ") is more than backlog_max (%" PRIu32
				 "): one full TRAPS entry could never be committed",
				 t->batch_max, t->backlog_max);
	check_backlog_fits_map(ld);
	parse_communities(ld, LINE("snmp_communities"), d->snmp_communities, t);
	if (d->snmp_engine_id[0] && parse_engine_id(d->snmp_engine_id, t->snmp_engine_id,
						    &t->snmp_engine_id_len, why, sizeof(why)) != 0)
		config_add_error(ld->errs, LINE("snmp_engine_id"), "key 'snmp_engine_id': %s", why);
	if (flags & DUET_CONFIG_SKIP_FILES)
		return;
	if (t->http_token_file[0])
		read_token(ld, LINE("http_token_file"), t->http_token_file, t->http_token);
	if (t->snmp_users_file[0])
		read_snmp_users(ld, LINE("snmp_users_file"), t->snmp_users_file, t);
#undef BAD
#undef LINE
}

static bool sql_name(const char *s)
{
	if (!(islower((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (; *s; s++)
		if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_'))
			return false;
	return true;
}

/* What spans the keys of [sink] (the witness was dealt with in config_check_traps). */
void config_check_sink(struct loader *ld, const struct member_draft *self)
{
	struct draft *d = ld->d;
	struct duet_config_sink *k = &d->sink;
#define LINE(key) d->key_line[config_key_index(SEC_SINK, key)]
#define BAD(key)  d->key_bad[config_key_index(SEC_SINK, key)]
	if (self && self->kind == DUET_MEMBER_WITNESS)
		return;
	if (d->sink_address.n > 1)
		config_add_error(ld->errs, LINE("address"),
				 "key 'address': %u addresses; the sink is one server: give one "
				 "host:port",
				 d->sink_address.n);
	check_numeric(ld, LINE("address"), "address", &d->sink_address);
	if (d->sink_address.n)
		memcpy(k->address, d->sink_address.v[0], sizeof(k->address));
	if (!BAD("table") && !sql_name(k->table))
		config_add_error(
		    ld->errs, LINE("table"),
		    "key 'table': '%.70s' is not a lower-case SQL name ([a-z_][a-z0-9_]*)",
		    k->table);
	if (k->type == DUET_CONFIG_SINK_TCP && !d->sink_address.n && !BAD("address"))
		config_add_error(ld->errs, LINE("type"), "key 'type': tcp needs [sink] address");
	if (k->type == DUET_CONFIG_SINK_RELP && !d->sink_address.n && !BAD("address"))
		config_add_error(ld->errs, LINE("type"),
				 "key 'type': relp needs [sink] address (the host:port of "
				 "rsyslog's imrelp input)");
	if (k->type == DUET_CONFIG_SINK_RELP && k->ack == DUET_CONFIG_SINK_ACK_NONE)
		config_add_error(ld->errs, LINE("ack"),
				 "key 'ack': none is for type = tcp; RELP acknowledges every "
				 "message (rsp), remove the key");
	if (k->type != DUET_CONFIG_SINK_RELP && LINE("window"))
		config_add_error(ld->errs, LINE("window"),
				 "key 'window': only for type = relp; remove it");
	if (k->type != DUET_CONFIG_SINK_RELP && LINE("max_message_bytes"))
		config_add_error(ld->errs, LINE("max_message_bytes"),
				 "key 'max_message_bytes': only for type = relp; remove it");
	if (k->type == DUET_CONFIG_SINK_POSTGRESQL && !k->conninfo[0] && !BAD("conninfo"))
		config_add_error(ld->errs, LINE("type"),
				 "key 'type': postgresql needs [sink] conninfo");
#undef BAD
#undef LINE
}

/* [http]: duetd's own endpoints (their ports were compared with the
 * receivers' in config_check_traps()). */
void config_check_http(struct loader *ld, const struct member_draft *self)
{
	struct draft *d = ld->d;
#define LINE(key) d->key_line[config_key_index(SEC_HTTP, key)]
	if (self && self->kind == DUET_MEMBER_WITNESS) {
		if (d->section_line[SEC_HTTP])
			config_add_error(
			    ld->errs, d->section_line[SEC_HTTP],
			    "[http]: only data nodes serve /master, /health and "
			    "/metrics, and [member %s] is kind = witness; remove [http] "
			    "from its config",
			    self->name);
		return;
	}
	check_numeric(ld, LINE("listen"), "listen", &d->http.listen);
	bool cert = LINE("tls_cert") && d->http.tls_cert[0],
	     key = LINE("tls_key") && d->http.tls_key[0];
	if (cert != key)
		config_add_error(ld->errs, cert ? LINE("tls_cert") : LINE("tls_key"),
				 "key '%s': HTTPS needs both [http] tls_cert and tls_key (set "
				 "neither for plain HTTP)",
				 cert ? "tls_cert" : "tls_key");
#undef LINE
}
