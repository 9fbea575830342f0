/* SPDX-License-Identifier: MIT */
/*
 * snmp_usm.c - the User-based Security Model's keys and crypto (RFC 3414,
 * RFC 3826, RFC 7860): the configured users and their keys, and the HMAC
 * and cipher primitives that snmp_v3.c applies to messages.
 *
 * Keys: a password becomes Ku once, when the user is added (RFC 3414 A.2:
 * 1 MiB of hashing); with a configured engine id Ku is localized then too
 * (Kul = H(Ku || engine id || Ku)), so a message costs one HMAC and one
 * decryption. A user without engine id keeps Ku and localizes per message.
 *
 * libcrypto is used through a private OSSL_LIB_CTX (struct trap_snmp_crypto)
 * created with the first authenticating user: OpenSSL 3 keeps single DES in the "legacy"
 * provider, which we load only into that context and only when a DES user
 * is added, so the process-wide default context that the TLS transport uses
 * never changes. Algorithms are fetched once; decoding only creates the
 * short-lived HMAC and cipher contexts.
 *
 * DES: RFC 3414 8.1.1.1 (key = first 8 octets of the localized privacy
 * key, IV = its octets 9..16 XOR the salt, CBC, whole blocks). AES: RFC
 * 3826 3.1.2.1 (key = first 16 octets, IV = boots || time || salt, CFB128).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/provider.h>

#include "duet/traps_snmp.h"

#define AUTH_COUNT      (TRAP_SNMP_AUTH_SHA512 + 1)
#define PRIV_SALT_BYTES 8
#define DES_BLOCK_BYTES 8
#define P2K_BYTES       1048576 /* RFC 3414 A.2.1: one megabyte of password */

struct trap_snmp_crypto {
	OSSL_LIB_CTX *lib;
	OSSL_PROVIDER *default_provider;
	OSSL_PROVIDER *legacy_provider; /* NULL until a DES user is added */
	EVP_MAC *hmac;
	EVP_MD *md[AUTH_COUNT];
	EVP_CIPHER *aes128_cfb;
	EVP_CIPHER *des_cbc; /* NULL until a DES user is added */
};

static const struct {
	const char *digest;
	size_t key_len;
	size_t mac_len;
} auth_algs[AUTH_COUNT] = {
    [TRAP_SNMP_AUTH_NONE] = {NULL, 0, 0},           [TRAP_SNMP_AUTH_MD5] = {"MD5", 16, 12},
    [TRAP_SNMP_AUTH_SHA1] = {"SHA1", 20, 12},       [TRAP_SNMP_AUTH_SHA224] = {"SHA2-224", 28, 16},
    [TRAP_SNMP_AUTH_SHA256] = {"SHA2-256", 32, 24}, [TRAP_SNMP_AUTH_SHA384] = {"SHA2-384", 48, 32},
    [TRAP_SNMP_AUTH_SHA512] = {"SHA2-512", 64, 48},
};

size_t trap_snmp_auth_key_len(enum trap_snmp_auth auth)
{
	return (unsigned)auth < AUTH_COUNT ? auth_algs[auth].key_len : 0;
}

size_t trap_snmp_auth_mac_len(enum trap_snmp_auth auth)
{
	return (unsigned)auth < AUTH_COUNT ? auth_algs[auth].mac_len : 0;
}

/* ---- Keys ---------------------------------------------------------------- */

static long password_to_key(const EVP_MD *md, const uint8_t *pw, size_t pw_len, uint8_t *key)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx)
		return DUET_ENOMEM;
	uint8_t chunk[64];
	size_t at = 0;
	int ok = EVP_DigestInit_ex(ctx, md, NULL);
	for (size_t done = 0; ok && done < P2K_BYTES; done += sizeof chunk) {
		for (size_t i = 0; i < sizeof chunk; i++) {
			chunk[i] = pw[at++];
			if (at == pw_len)
				at = 0;
		}
		ok = EVP_DigestUpdate(ctx, chunk, sizeof chunk);
	}
	unsigned int n = 0;
	ok = ok && EVP_DigestFinal_ex(ctx, key, &n);
	EVP_MD_CTX_free(ctx);
	OPENSSL_cleanse(chunk, sizeof chunk);
	return ok ? (long)n : DUET_ENOMEM;
}

static long localize_key(const EVP_MD *md, const uint8_t *ku, size_t ku_len,
			 const uint8_t *engine_id, size_t engine_id_len, uint8_t *key)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx)
		return DUET_ENOMEM;
	unsigned int n = 0;
	int ok = EVP_DigestInit_ex(ctx, md, NULL) && EVP_DigestUpdate(ctx, ku, ku_len) &&
		 EVP_DigestUpdate(ctx, engine_id, engine_id_len) &&
		 EVP_DigestUpdate(ctx, ku, ku_len) && EVP_DigestFinal_ex(ctx, key, &n);
	EVP_MD_CTX_free(ctx);
	return ok ? (long)n : DUET_ENOMEM;
}

long trap_snmp_password_to_key(enum trap_snmp_auth auth, const void *password, size_t len,
			       uint8_t *key, size_t cap)
{
	size_t key_len = trap_snmp_auth_key_len(auth);
	if (key_len == 0 || len == 0 || !password)
		return DUET_EINVAL;
	if (cap < key_len)
		return DUET_ETOOBIG;
	EVP_MD *md = EVP_MD_fetch(NULL, auth_algs[auth].digest, NULL);
	if (!md)
		return DUET_ENOMEM;
	long rc = password_to_key(md, password, len, key);
	EVP_MD_free(md);
	return rc;
}

long trap_snmp_localize_key(enum trap_snmp_auth auth, const uint8_t *ku, size_t ku_len,
			    const uint8_t *engine_id, size_t engine_id_len, uint8_t *key,
			    size_t cap)
{
	size_t key_len = trap_snmp_auth_key_len(auth);
	if (key_len == 0 || ku_len != key_len)
		return DUET_EINVAL;
	if (cap < key_len)
		return DUET_ETOOBIG;
	EVP_MD *md = EVP_MD_fetch(NULL, auth_algs[auth].digest, NULL);
	if (!md)
		return DUET_ENOMEM;
	long rc = localize_key(md, ku, ku_len, engine_id, engine_id_len, key);
	EVP_MD_free(md);
	return rc;
}

/* ---- Config -------------------------------------------------------------- */

static void crypto_free(struct trap_snmp_crypto *c)
{
	if (!c)
		return;
	for (int i = 0; i < AUTH_COUNT; i++)
		EVP_MD_free(c->md[i]);
	EVP_MAC_free(c->hmac);
	EVP_CIPHER_free(c->aes128_cfb);
	EVP_CIPHER_free(c->des_cbc);
	if (c->legacy_provider)
		OSSL_PROVIDER_unload(c->legacy_provider);
	if (c->default_provider)
		OSSL_PROVIDER_unload(c->default_provider);
	OSSL_LIB_CTX_free(c->lib);
	free(c);
}

static int crypto_get(struct trap_snmp_config *cfg, struct trap_snmp_crypto **out)
{
	if (cfg->crypto) {
		*out = cfg->crypto;
		return 0;
	}
	struct trap_snmp_crypto *c = calloc(1, sizeof *c);
	if (!c)
		return DUET_ENOMEM;
	c->lib = OSSL_LIB_CTX_new();
	c->default_provider = c->lib ? OSSL_PROVIDER_load(c->lib, "default") : NULL;
	if (!c->default_provider) {
		crypto_free(c);
		return DUET_ENOMEM;
	}
	c->hmac = EVP_MAC_fetch(c->lib, "HMAC", NULL);
	c->aes128_cfb = EVP_CIPHER_fetch(c->lib, "AES-128-CFB", NULL);
	int ok = c->hmac && c->aes128_cfb;
	for (int i = 1; i < AUTH_COUNT; i++) {
		c->md[i] = EVP_MD_fetch(c->lib, auth_algs[i].digest, NULL);
		ok = ok && c->md[i];
	}
	if (!ok) {
		crypto_free(c);
		return DUET_ENOENT;
	}
	cfg->crypto = c;
	*out = c;
	return 0;
}

/* DES-CBC lives in OpenSSL 3's legacy provider: load it into our context. */
static int crypto_want_des(struct trap_snmp_crypto *c)
{
	if (c->des_cbc)
		return 0;
	if (!c->legacy_provider)
		c->legacy_provider = OSSL_PROVIDER_load(c->lib, "legacy");
	if (c->legacy_provider)
		c->des_cbc = EVP_CIPHER_fetch(c->lib, "DES-CBC", NULL);
	return c->des_cbc ? 0 : DUET_ENOENT;
}

void trap_snmp_config_init(struct trap_snmp_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->max_varbinds = TRAP_SNMP_MAX_VARBINDS;
}

void trap_snmp_config_close(struct trap_snmp_config *cfg)
{
	crypto_free(cfg->crypto);
	OPENSSL_cleanse(cfg->users, sizeof cfg->users);
	memset(cfg, 0, sizeof *cfg);
}

int trap_snmp_config_add_community(struct trap_snmp_config *cfg, const void *community, size_t len)
{
	if (!community || len == 0 || len > TRAP_SNMP_MAX_COMMUNITY_BYTES)
		return DUET_EINVAL;
	for (uint32_t i = 0; i < cfg->n_communities; i++)
		if (cfg->communities[i].len == len &&
		    memcmp(cfg->communities[i].bytes, community, len) == 0)
			return 0;
	if (cfg->n_communities == TRAP_SNMP_MAX_COMMUNITIES)
		return DUET_ETOOBIG;
	cfg->communities[cfg->n_communities].len = (uint8_t)len;
	memcpy(cfg->communities[cfg->n_communities].bytes, community, len);
	cfg->n_communities++;
	return 0;
}

/* One secret (password, Ku or Kul) to the key the user keeps: Kul with an
 * engine id, else Ku. */
static int user_key(const struct trap_snmp_crypto *c, struct trap_snmp_user *u,
		    enum trap_snmp_key_kind kind, const uint8_t *secret, size_t len, uint8_t *key)
{
	const EVP_MD *md = c->md[u->auth];
	uint8_t ku[TRAP_SNMP_MAX_KEY_BYTES];
	switch (kind) {
	case TRAP_SNMP_KEY_PASSWORD:
		if (len < TRAP_SNMP_MIN_PASSWORD_BYTES || len > TRAP_SNMP_MAX_PASSWORD_BYTES)
			return DUET_EINVAL;
		long n = password_to_key(md, secret, len, ku);
		if (n < 0)
			return (int)n;
		break;
	case TRAP_SNMP_KEY_MASTER:
		if (len != u->key_len)
			return DUET_EINVAL;
		memcpy(ku, secret, len);
		break;
	case TRAP_SNMP_KEY_LOCALIZED:
		if (len != u->key_len || u->engine_id_len == 0)
			return DUET_EINVAL;
		memcpy(key, secret, len);
		return 0;
	default:
		return DUET_EINVAL;
	}
	long rc = 0;
	if (u->engine_id_len)
		rc = localize_key(md, ku, u->key_len, u->engine_id, u->engine_id_len, key);
	else
		memcpy(key, ku, u->key_len);
	OPENSSL_cleanse(ku, sizeof ku);
	return rc < 0 ? (int)rc : 0;
}

int trap_snmp_config_add_user(struct trap_snmp_config *cfg, const struct trap_snmp_user_spec *spec)
{
	size_t name_len = spec->name ? strlen(spec->name) : 0;
	if (name_len == 0 || name_len > TRAP_SNMP_MAX_USER_NAME_BYTES)
		return DUET_EINVAL;
	if (spec->engine_id_len != 0 &&
	    (spec->engine_id_len < TRAP_SNMP_MIN_ENGINE_ID_BYTES ||
	     spec->engine_id_len > TRAP_SNMP_MAX_ENGINE_ID_BYTES || !spec->engine_id))
		return DUET_EINVAL;
	if ((unsigned)spec->auth >= AUTH_COUNT || (unsigned)spec->priv > TRAP_SNMP_PRIV_AES128 ||
	    (unsigned)spec->min_level > TRAP_SNMP_LEVEL_AUTH_PRIV)
		return DUET_EINVAL;
	if (spec->priv != TRAP_SNMP_PRIV_NONE && spec->auth == TRAP_SNMP_AUTH_NONE)
		return DUET_EINVAL;
	enum trap_snmp_level top = spec->priv   ? TRAP_SNMP_LEVEL_AUTH_PRIV
				   : spec->auth ? TRAP_SNMP_LEVEL_AUTH_NOPRIV
						: TRAP_SNMP_LEVEL_NOAUTH_NOPRIV;
	enum trap_snmp_level min = spec->min_level ? spec->min_level : top;
	if (min > top)
		return DUET_EINVAL;
	for (uint32_t i = 0; i < cfg->n_users; i++) {
		const struct trap_snmp_user *o = &cfg->users[i];
		if (o->name_len == name_len && memcmp(o->name, spec->name, name_len) == 0 &&
		    o->engine_id_len == spec->engine_id_len &&
		    (spec->engine_id_len == 0 ||
		     memcmp(o->engine_id, spec->engine_id, spec->engine_id_len) == 0))
			return DUET_EINVAL;
	}
	if (cfg->n_users == TRAP_SNMP_MAX_USERS)
		return DUET_ETOOBIG;

	struct trap_snmp_user u;
	memset(&u, 0, sizeof u);
	memcpy(u.name, spec->name, name_len);
	u.name_len = (uint8_t)name_len;
	if (spec->engine_id_len)
		memcpy(u.engine_id, spec->engine_id, spec->engine_id_len);
	u.engine_id_len = (uint8_t)spec->engine_id_len;
	u.auth = (uint8_t)spec->auth;
	u.priv = (uint8_t)spec->priv;
	u.min_level = (uint8_t)min;
	u.key_len = (uint8_t)trap_snmp_auth_key_len(spec->auth);

	int rc = 0;
	if (spec->auth != TRAP_SNMP_AUTH_NONE) {
		struct trap_snmp_crypto *c;
		rc = crypto_get(cfg, &c);
		if (!rc && spec->priv == TRAP_SNMP_PRIV_DES)
			rc = crypto_want_des(c);
		if (!rc && !spec->auth_secret)
			rc = DUET_EINVAL;
		if (!rc)
			rc = user_key(c, &u, spec->auth_kind, spec->auth_secret,
				      spec->auth_secret_len, u.auth_key);
		if (!rc && spec->priv != TRAP_SNMP_PRIV_NONE)
			rc = spec->priv_secret ? user_key(c, &u, spec->priv_kind, spec->priv_secret,
							  spec->priv_secret_len, u.priv_key)
					       : DUET_EINVAL;
	}
	if (!rc)
		cfg->users[cfg->n_users++] = u;
	OPENSSL_cleanse(&u, sizeof u);
	return rc;
}

/* ---- Primitives for snmp_v3.c ---------------------------------------------- */

const struct trap_snmp_user *trap_snmp_usm_find(const struct trap_snmp_config *cfg,
						const struct trap_snmp_bytes *name,
						const struct trap_snmp_bytes *engine_id,
						enum trap_snmp_drop *why)
{
	const struct trap_snmp_user *any = NULL;
	bool name_seen = false;
	*why = TRAP_SNMP_DROP_UNKNOWN_ENGINE_ID;
	if (engine_id->len == 0) /* discovery probe: we are not its engine */
		return NULL;
	for (uint32_t i = 0; i < cfg->n_users; i++) {
		const struct trap_snmp_user *u = &cfg->users[i];
		if (u->name_len != name->len || memcmp(u->name, name->p, u->name_len) != 0)
			continue;
		name_seen = true;
		if (u->engine_id_len == 0)
			any = u;
		else if (u->engine_id_len == engine_id->len &&
			 memcmp(u->engine_id, engine_id->p, u->engine_id_len) == 0)
			return u;
	}
	if (!any && !name_seen)
		*why = TRAP_SNMP_DROP_UNKNOWN_USER;
	return any;
}

int trap_snmp_usm_key(const struct trap_snmp_config *cfg, const struct trap_snmp_user *u, bool priv,
		      const struct trap_snmp_bytes *engine_id, uint8_t *key)
{
	const uint8_t *stored = priv ? u->priv_key : u->auth_key;
	if (u->engine_id_len) {
		memcpy(key, stored, u->key_len);
		return 0;
	}
	long rc = localize_key(cfg->crypto->md[u->auth], stored, u->key_len, engine_id->p,
			       engine_id->len, key);
	return rc < 0 ? (int)rc : 0;
}

int trap_snmp_usm_mac(const struct trap_snmp_config *cfg, const struct trap_snmp_user *u,
		      const uint8_t *key, const uint8_t *buf, size_t len, size_t zero_off,
		      size_t zero_len, uint8_t *mac)
{
	static const uint8_t zeros[TRAP_SNMP_MAX_KEY_BYTES];
	if (zero_len > sizeof zeros || zero_off > len || zero_len > len - zero_off)
		return DUET_EINVAL;
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(cfg->crypto->hmac);
	if (!ctx)
		return DUET_ENOMEM;
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
					     (char *)auth_algs[u->auth].digest, 0),
	    OSSL_PARAM_construct_end(),
	};
	size_t out = 0;
	/* three pieces, so the message is neither copied nor modified */
	int ok = EVP_MAC_init(ctx, key, u->key_len, params) && EVP_MAC_update(ctx, buf, zero_off) &&
		 EVP_MAC_update(ctx, zeros, zero_len) &&
		 EVP_MAC_update(ctx, buf + zero_off + zero_len, len - zero_off - zero_len) &&
		 EVP_MAC_final(ctx, mac, &out, TRAP_SNMP_MAX_KEY_BYTES);
	EVP_MAC_CTX_free(ctx);
	return ok ? 0 : DUET_ENOMEM;
}

int trap_snmp_usm_crypt(const struct trap_snmp_config *cfg, const struct trap_snmp_user *u,
			bool encrypt, const uint8_t *key, uint32_t boots, uint32_t time,
			const uint8_t *salt, const uint8_t *in, size_t len, uint8_t *out)
{
	if (len > INT_MAX || (u->priv == TRAP_SNMP_PRIV_DES && len % DES_BLOCK_BYTES != 0))
		return DUET_EINVAL;
	uint8_t iv[16];
	const EVP_CIPHER *cipher;
	if (u->priv == TRAP_SNMP_PRIV_DES) {
		for (int i = 0; i < 8; i++)
			iv[i] = key[8 + i] ^ salt[i];
		cipher = cfg->crypto->des_cbc;
	} else if (u->priv == TRAP_SNMP_PRIV_AES128) {
		for (int i = 0; i < 4; i++) {
			iv[i] = (uint8_t)(boots >> (24 - 8 * i));
			iv[4 + i] = (uint8_t)(time >> (24 - 8 * i));
		}
		memcpy(iv + 8, salt, PRIV_SALT_BYTES);
		cipher = cfg->crypto->aes128_cfb;
	} else {
		return DUET_EINVAL;
	}
	EVP_CIPHER_CTX *ctx = cipher ? EVP_CIPHER_CTX_new() : NULL;
	int n = 0, fin = 0;
	int ok = ctx && EVP_CipherInit_ex2(ctx, cipher, key, iv, encrypt ? 1 : 0, NULL) &&
		 EVP_CIPHER_CTX_set_padding(ctx, 0) &&
		 EVP_CipherUpdate(ctx, out, &n, in, (int)len) &&
		 EVP_CipherFinal_ex(ctx, out + n, &fin) && (size_t)n + (size_t)fin == len;
	EVP_CIPHER_CTX_free(ctx);
	return ok ? 0 : DUET_ENOMEM;
}
