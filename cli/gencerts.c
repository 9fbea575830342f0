/*
 * gencerts.c - `duetctl gencerts`: a cluster CA and one certificate per
 * member for the transport's mutual TLS (transport.h, "Identity"): CN and
 * SAN = the member name. Keys are written 0600 by transport/certs.c.
 *
 * For test rigs and small deployments; a site with its own PKI issues the
 * same shape of certificates itself.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "duet/config.h"
#include "duet/transport.h"

#define GENCERTS_DAYS 3650
#define MAX_NAMES     DUET_MAX_MEMBERS

void cmd_gencerts_help(void)
{
	printf("usage: duetctl gencerts --dir DIR (--config FILE | --names a,b,c) [--days N]\n"
	       "\n"
	       "Creates DIR (mode 0700) with a cluster CA (ca.pem, ca.key) and, for every\n"
	       "member, NAME.pem and NAME.key signed by it (EC P-256, CN and SAN DNS = the\n"
	       "member name, valid %d days unless --days). Members come from the config's\n"
	       "[member NAME] sections or from --names. Keys are written with mode 0600.\n"
	       "An existing ca.pem/ca.key in DIR is reused, so a member can be added later.\n"
	       "\n"
	       "Exit status: 0 written, 1 a file could not be written, 2 usage error.\n",
	       GENCERTS_DAYS);
}

int cmd_gencerts(int argc, char **argv)
{
	const char *dir = NULL, *config = NULL, *names = NULL;
	unsigned days = GENCERTS_DAYS;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			config = argv[++i];
		else if (strcmp(argv[i], "--names") == 0 && i + 1 < argc)
			names = argv[++i];
		else if (strcmp(argv[i], "--days") == 0 && i + 1 < argc) {
			if (sscanf(argv[++i], "%u", &days) != 1 || days == 0) {
				fprintf(stderr,
					"duetctl gencerts: --days needs a positive number\n");
				return DUETCTL_USAGE;
			}
		} else {
			fprintf(stderr, "duetctl gencerts: unknown argument '%s'; see --help\n",
				argv[i]);
			return DUETCTL_USAGE;
		}
	}
	if (!dir || (!config == !names)) {
		fprintf(stderr, "duetctl gencerts: needs --dir DIR and one of --config FILE or "
				"--names a,b,c; see --help\n");
		return DUETCTL_USAGE;
	}
	char list[MAX_NAMES][DUET_NAME_MAX];
	unsigned n = 0;
	char cn[DUET_NAME_MAX + 16] = "duet cluster CA";
	if (config) {
		static struct duet_config cfg;
		static struct duet_config_errors errs;
		if (duet_config_load(config, DUET_CONFIG_SKIP_FILES, &cfg, &errs) != 0) {
			duet_config_errors_print(stderr, &errs);
			return DUETCTL_FAILED;
		}
		for (uint32_t i = 0; i < cfg.membership.n && n < MAX_NAMES; i++)
			snprintf(list[n++], DUET_NAME_MAX, "%s", cfg.membership.members[i].name);
		snprintf(cn, sizeof cn, "duet %s CA", cfg.cluster_name);
	} else {
		const char *p = names;
		while (*p) {
			const char *end = strchr(p, ',');
			size_t len = end ? (size_t)(end - p) : strlen(p);
			if (len == 0 || len >= DUET_NAME_MAX || n == MAX_NAMES ||
			    memchr(p, '/', len)) {
				fprintf(
				    stderr,
				    "duetctl gencerts: bad --names: each name 1..%d bytes, no '/', "
				    "at most %d names\n",
				    DUET_NAME_MAX - 1, MAX_NAMES);
				return DUETCTL_USAGE;
			}
			memcpy(list[n], p, len);
			list[n++][len] = 0;
			p = end ? end + 1 : p + len;
		}
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "duetctl gencerts: cannot create %s: %s\n", dir, strerror(errno));
		return DUETCTL_FAILED;
	}
	char ca[4096], cakey[4096], crt[4096], key[4096], err[512];
	snprintf(ca, sizeof ca, "%s/ca.pem", dir);
	snprintf(cakey, sizeof cakey, "%s/ca.key", dir);
	struct stat sb;
	if (stat(ca, &sb) == 0 && stat(cakey, &sb) == 0) {
		printf("reusing CA %s\n", ca);
	} else {
		err[0] = 0;
		int rc = xport_gen_ca(cn, days, ca, cakey, err, sizeof err);
		if (rc) {
			fprintf(stderr, "duetctl gencerts: %s\n", err[0] ? err : "CA failed");
			return DUETCTL_FAILED;
		}
		printf("wrote %s and %s\n", ca, cakey);
	}
	for (unsigned i = 0; i < n; i++) {
		snprintf(crt, sizeof crt, "%s/%s.pem", dir, list[i]);
		snprintf(key, sizeof key, "%s/%s.key", dir, list[i]);
		err[0] = 0;
		int rc = xport_gen_member_cert(ca, cakey, list[i], days, crt, key, err, sizeof err);
		if (rc) {
			fprintf(stderr, "duetctl gencerts: %s: %s\n", list[i],
				err[0] ? err : "certificate failed");
			return DUETCTL_FAILED;
		}
		printf("wrote %s and %s\n", crt, key);
	}
	return DUETCTL_OK;
}
