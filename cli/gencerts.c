/* SPDX-License-Identifier: MIT */
/*
 * gencerts.c - `duetctl gencerts`: a cluster CA and one certificate per
 * member for the transport's mutual TLS (transport.h, "Identity"): CN and
 * SAN = the member name. Keys are written 0600 by transport/certs.c.
 *
 * For test rigs and small deployments; a site with its own PKI issues the
 * same shape of certificates itself.
 */
#include <getopt.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "out.h"
#include "duet/config.h"
#include "duet/transport.h"

#define GENCERTS_DAYS 3650
#define MAX_NAMES     DUET_MAX_MEMBERS

void cmd_gencerts_help(void)
{
	printf("usage: duetctl gencerts --dir DIR [-c FILE | --names a,b,c] [--days N]\n"
	       "\n"
	       "Creates DIR (mode 0700) with a cluster CA (ca.pem, ca.key) and, for every\n"
	       "member, NAME.pem and NAME.key signed by it (EC P-256, CN and SAN DNS = the\n"
	       "member name, valid %d days unless --days). Members come from the config's\n"
	       "[member NAME] sections or from --names (without\n"
	       "either: the config $DUET_CONFIG, else /etc/duet/duet.ini). Keys are written with "
	       "mode 0600.\n"
	       "An existing ca.pem/ca.key in DIR is reused, so a member can be added later.\n"
	       "\n"
	       "Exit status: 0 written, 1 a file could not be written, 2 usage error.\n",
	       GENCERTS_DAYS);
}

int cmd_gencerts(int argc, char **argv)
{
	const char *dir = NULL, *config = NULL, *names = NULL;
	unsigned days = GENCERTS_DAYS;
	static const struct option opts[] = {
	    {"dir", required_argument, NULL, 'd'},
	    {"config", required_argument, NULL, 'c'},
	    {"names", required_argument, NULL, 'n'},
	    {"days", required_argument, NULL, 'D'},
	    {NULL, 0, NULL, 0},
	};
	int opt;
	while ((opt = getopt_long(argc, argv, DUETCTL_SHORTOPTS("c:"), opts, NULL)) != -1) {
		switch (opt) {
		case 'd':
			dir = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'n':
			names = optarg;
			break;
		case 'D':
			if (duetctl_parse_uint(optarg, 1, 36500, &days) != 0)
				return duetctl_usage_error(
				    "--days needs a positive number of days (at most 36500)");
			break;
		default:
			return duetctl_bad_option(opt, argv);
		}
	}
	if (optind < argc)
		return duetctl_extra_args(argc, argv);
	if (!dir || (config && names))
		return duetctl_usage_error("needs --dir DIR and either --config FILE (the default: "
					   "$DUET_CONFIG, else %s) or --names a,b,c",
					   DUET_CONFIG_DEFAULT_PATH);
	if (!names)
		config = duet_config_path(config);
	char list[MAX_NAMES][DUET_NAME_MAX];
	unsigned n = 0;
	char cn[DUET_NAME_MAX + 16] = "duet cluster CA";
	if (config) {
		static struct duet_config cfg;
		static struct duet_config_errors errs;
		if (duet_config_load(config, DUET_CONFIG_SKIP_FILES, &cfg, &errs) != 0) {
			duetctl_config_errors(&errs);
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
		duetctl_err("cannot create %s: %s", dir, strerror(errno));
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
			duetctl_err("%s", err[0] ? err : "CA failed");
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
			duetctl_err("%s: %s", list[i], err[0] ? err : "certificate failed");
			return DUETCTL_FAILED;
		}
		printf("wrote %s and %s\n", crt, key);
	}
	return DUETCTL_OK;
}
