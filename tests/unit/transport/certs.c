/* SPDX-License-Identifier: MIT */
/*
 * certs.c - see certs.h. The directory is removed in certs_teardown(),
 * which the tests call from their .fini (Criterion runs it after a failed
 * assertion too).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "certs.h"
#include "duet/transport.h"

static char certs_dir[256];

const char *certs_path(int slot, const char *name, const char *ext)
{
	static char bufs[8][512];
	snprintf(bufs[slot], sizeof bufs[slot], "%s/%s.%s", certs_dir, name, ext);
	return bufs[slot];
}

static void member(const char *ca, const char *name)
{
	char err[256] = "";
	char ca_crt[512], ca_key[512], crt[512], key[512];
	snprintf(ca_crt, sizeof ca_crt, "%s/%s.crt", certs_dir, ca);
	snprintf(ca_key, sizeof ca_key, "%s/%s.key", certs_dir, ca);
	snprintf(crt, sizeof crt, "%s/%s.crt", certs_dir, name);
	snprintf(key, sizeof key, "%s/%s.key", certs_dir, name);
	int rc = xport_gen_member_cert(ca_crt, ca_key, name, 1, crt, key, err, sizeof err);
	cr_assert_eq(rc, 0, "gen %s: %s", name, err);
}

static void rogue(void)
{
	/* CN node-a from the foreign CA: written under another file name */
	char err[256] = "";
	char ca_crt[512], ca_key[512], crt[512], key[512];
	snprintf(ca_crt, sizeof ca_crt, "%s/foreign.crt", certs_dir);
	snprintf(ca_key, sizeof ca_key, "%s/foreign.key", certs_dir);
	snprintf(crt, sizeof crt, "%s/rogue-a.crt", certs_dir);
	snprintf(key, sizeof key, "%s/rogue-a.key", certs_dir);
	int rc = xport_gen_member_cert(ca_crt, ca_key, "node-a", 1, crt, key, err, sizeof err);
	cr_assert_eq(rc, 0, "gen rogue: %s", err);
}

void certs_setup(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(certs_dir, sizeof certs_dir, "%s/duet-xport-XXXXXX", tmp ? tmp : "/tmp");
	cr_assert_not_null(mkdtemp(certs_dir));
	char err[256] = "";
	char crt[512], key[512];
	const char *cas[2] = {"ca", "foreign"};
	for (int i = 0; i < 2; i++) {
		snprintf(crt, sizeof crt, "%s/%s.crt", certs_dir, cas[i]);
		snprintf(key, sizeof key, "%s/%s.key", certs_dir, cas[i]);
		cr_assert_eq(
		    xport_gen_ca(i ? "foreign CA" : "duet test CA", 1, crt, key, err, sizeof err),
		    0, "gen CA: %s", err);
	}
	member("ca", "node-a");
	member("ca", "node-b");
	member("ca", "node-x");
	rogue();
}

void certs_teardown(void)
{
	if (!certs_dir[0])
		return;
	DIR *d = opendir(certs_dir);
	if (d) {
		struct dirent *e;
		char path[600];
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			snprintf(path, sizeof path, "%s/%s", certs_dir, e->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(certs_dir);
	certs_dir[0] = 0;
}
