/* SPDX-License-Identifier: MIT */
/*
 * test_usm.c - USM keys and users: the RFC 3414 A.3 password-to-key and
 * localization vectors for MD5 and SHA, keys given as Ku or Kul, and what
 * trap_snmp_config_add_user() refuses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "duet/traps_snmp.h"
#include "helpers.h"

/* RFC 3414 A.3: password "maplesyrup", engine id 00..02 (12 octets) */
static const uint8_t A3_ENGINE[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};

static void assert_hex(const uint8_t *got, size_t n, const char *want)
{
	uint8_t w[64];
	size_t wn;
	hex_decode(want, w, &wn);
	cr_assert_eq(n, wn);
	cr_assert_eq(memcmp(got, w, n), 0, "key differs from %s", want);
}

Test(usm, rfc3414_a3_1_md5)
{
	uint8_t ku[64], kul[64];
	cr_assert_eq(trap_snmp_password_to_key(TRAP_SNMP_AUTH_MD5, "maplesyrup", 10, ku, sizeof ku),
		     16);
	assert_hex(ku, 16, "9faf3283884e92834ebc9847d8edd963");
	cr_assert_eq(
	    trap_snmp_localize_key(TRAP_SNMP_AUTH_MD5, ku, 16, A3_ENGINE, 12, kul, sizeof kul), 16);
	assert_hex(kul, 16, "526f5eed9fcce26f8964c2930787d82b");
}

Test(usm, rfc3414_a3_2_sha)
{
	uint8_t ku[64], kul[64];
	cr_assert_eq(
	    trap_snmp_password_to_key(TRAP_SNMP_AUTH_SHA1, "maplesyrup", 10, ku, sizeof ku), 20);
	assert_hex(ku, 20, "9fb5cc0381497b3793528939ff788d5d79145211");
	cr_assert_eq(
	    trap_snmp_localize_key(TRAP_SNMP_AUTH_SHA1, ku, 20, A3_ENGINE, 12, kul, sizeof kul),
	    20);
	assert_hex(kul, 20, "6695febc9288e36282235fc7151f128497b38f3f");
}

Test(usm, key_function_errors)
{
	uint8_t k[64];
	cr_assert_eq(trap_snmp_password_to_key(TRAP_SNMP_AUTH_NONE, "maplesyrup", 10, k, 64),
		     DUET_EINVAL);
	cr_assert_eq(trap_snmp_password_to_key(TRAP_SNMP_AUTH_MD5, "", 0, k, 64), DUET_EINVAL);
	cr_assert_eq(trap_snmp_password_to_key(TRAP_SNMP_AUTH_SHA1, "maplesyrup", 10, k, 19),
		     DUET_ETOOBIG);
	cr_assert_eq(trap_snmp_localize_key(TRAP_SNMP_AUTH_SHA1, k, 16, A3_ENGINE, 12, k, 64),
		     DUET_EINVAL);
	cr_assert_eq(trap_snmp_password_to_key(TRAP_SNMP_AUTH_SHA512, "maplesyrup", 10, k, 64), 64);
	cr_assert_eq(trap_snmp_auth_mac_len(TRAP_SNMP_AUTH_SHA256), 24);
	cr_assert_eq(trap_snmp_auth_key_len(TRAP_SNMP_AUTH_SHA224), 28);
}

static struct trap_snmp_config cfg;

static struct trap_snmp_user_spec a3_user(void)
{
	struct trap_snmp_user_spec u = {
	    .name = "a3",
	    .engine_id = A3_ENGINE,
	    .engine_id_len = sizeof A3_ENGINE,
	    .auth = TRAP_SNMP_AUTH_MD5,
	    .auth_secret = (const uint8_t *)"maplesyrup",
	    .auth_secret_len = 10,
	};
	return u;
}

Test(usm, config_keeps_localized_key)
{
	trap_snmp_config_init(&cfg);
	struct trap_snmp_user_spec u = a3_user();
	cr_assert_eq(trap_snmp_config_add_user(&cfg, &u), 0);
	assert_hex(cfg.users[0].auth_key, 16, "526f5eed9fcce26f8964c2930787d82b");
	cr_assert_eq(cfg.users[0].min_level, TRAP_SNMP_LEVEL_AUTH_NOPRIV);

	/* the same key given as Ku, for another engine-less name */
	uint8_t ku[16];
	trap_snmp_password_to_key(TRAP_SNMP_AUTH_MD5, "maplesyrup", 10, ku, sizeof ku);
	u.name = "a3ku";
	u.auth_kind = TRAP_SNMP_KEY_MASTER;
	u.auth_secret = ku;
	u.auth_secret_len = sizeof ku;
	cr_assert_eq(trap_snmp_config_add_user(&cfg, &u), 0);
	assert_hex(cfg.users[1].auth_key, 16, "526f5eed9fcce26f8964c2930787d82b");

	/* and as Kul */
	uint8_t kul[16];
	memcpy(kul, cfg.users[0].auth_key, 16);
	u.name = "a3kul";
	u.auth_kind = TRAP_SNMP_KEY_LOCALIZED;
	u.auth_secret = kul;
	cr_assert_eq(trap_snmp_config_add_user(&cfg, &u), 0);
	assert_hex(cfg.users[2].auth_key, 16, "526f5eed9fcce26f8964c2930787d82b");
	trap_snmp_config_close(&cfg);
}

Test(usm, config_refusals)
{
	trap_snmp_config_init(&cfg);
	struct trap_snmp_user_spec u = a3_user();
	cr_assert_eq(trap_snmp_config_add_user(&cfg, &u), 0);
	cr_assert_eq(trap_snmp_config_add_user(&cfg, &u), DUET_EINVAL, "duplicate");

	u = a3_user();
	u.name = "x";
	u.auth_secret_len = 7; /* "maplesy": too short a password */
	cr_assert_eq(trap_snmp_config_add_user(&cfg, &u), DUET_EINVAL);
	u = a3_user();
	u.name = "123456789012345678901234567890123"; /* 33 */
	cr_assert_eq(trap_snmp_config_add_user(&cfg, &u), DUET_EINVAL);
	u = a3_user();
	u.name = "";
	cr_assert_eq(trap_snmp_config_add_user(&cfg, &u), DUET_EINVAL);
	u = a3_user();
	u.name = "x";
	u.engine_id_len = 4;
	cr_assert_eq(trap_snmp_config_add_user(&cfg, &u), DUET_EINVAL);
	u = a3_user();
	u.name = "x";
	u.auth = TRAP_SNMP_AUTH_NONE;
	u.priv = TRAP_SNMP_PRIV_AES128;
	cr_assert_eq(trap_snmp_config_add_user(&cfg, &u), DUET_EINVAL, "priv without auth");
	u = a3_user();
	u.name = "x";
	u.min_level = TRAP_SNMP_LEVEL_AUTH_PRIV;
	cr_assert_eq(trap_snmp_config_add_user(&cfg, &u), DUET_EINVAL, "level above protocols");
	u = a3_user();
	u.name = "x";
	u.engine_id_len = 0;
	u.auth_kind = TRAP_SNMP_KEY_LOCALIZED;
	u.auth_secret_len = 16;
	cr_assert_eq(trap_snmp_config_add_user(&cfg, &u), DUET_EINVAL, "Kul without engine");
	u = a3_user();
	u.name = "x";
	u.auth_kind = TRAP_SNMP_KEY_MASTER;
	u.auth_secret_len = 10; /* not 16 */
	cr_assert_eq(trap_snmp_config_add_user(&cfg, &u), DUET_EINVAL);
	u = a3_user();
	u.name = "x";
	u.priv = TRAP_SNMP_PRIV_DES;
	u.priv_secret = NULL;
	cr_assert_eq(trap_snmp_config_add_user(&cfg, &u), DUET_EINVAL);
	cr_assert_eq(cfg.n_users, 1);

	/* DES needs OpenSSL's legacy provider, which our own context loads */
	u.priv_secret = (const uint8_t *)"maplesyrup";
	u.priv_secret_len = 10;
	cr_assert_eq(trap_snmp_config_add_user(&cfg, &u), 0);

	cr_assert_eq(trap_snmp_config_add_community(&cfg, "", 0), DUET_EINVAL);
	char big[TRAP_SNMP_MAX_COMMUNITY_BYTES + 1];
	memset(big, 'c', sizeof big);
	cr_assert_eq(trap_snmp_config_add_community(&cfg, big, sizeof big), DUET_EINVAL);
	for (int i = 0; i < TRAP_SNMP_MAX_COMMUNITIES; i++) {
		char c[8];
		snprintf(c, sizeof c, "c%d", i);
		cr_assert_eq(trap_snmp_config_add_community(&cfg, c, strlen(c)), 0);
	}
	cr_assert_eq(trap_snmp_config_add_community(&cfg, "c0", 2), 0, "already there");
	cr_assert_eq(trap_snmp_config_add_community(&cfg, "more", 4), DUET_ETOOBIG);
	trap_snmp_config_close(&cfg);
}

Test(usm, user_table_full)
{
	trap_snmp_config_init(&cfg);
	struct trap_snmp_user_spec u = {.name = NULL};
	char name[16];
	for (int i = 0; i <= TRAP_SNMP_MAX_USERS; i++) {
		snprintf(name, sizeof name, "u%d", i);
		u.name = name;
		int rc = trap_snmp_config_add_user(&cfg, &u);
		cr_assert_eq(rc, i < TRAP_SNMP_MAX_USERS ? 0 : DUET_ETOOBIG, "user %d", i);
	}
	trap_snmp_config_close(&cfg);
}
