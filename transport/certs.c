/* SPDX-License-Identifier: MIT */
/*
 * certs.c - generation of the cluster CA and member certificates with the
 * OpenSSL 3 API, for the tests and for `duetctl gencerts`.
 *
 * Keys are EC P-256. A member certificate carries the member's name both as
 * subject CN and as a SAN DNS name (the transport accepts either), and is
 * marked for TLS client and server use, since every member both dials and
 * accepts. Serial numbers are 128 random bits from OpenSSL's CSPRNG. Key
 * files are created with mode 0600 and never overwritten in place: an
 * existing file is replaced only if it can be opened for writing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "duet/transport.h"

static int certs_err(char *errbuf, size_t errlen, int rc, const char *fmt, ...)
{
	if (errbuf && errlen) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(errbuf, errlen, fmt, ap);
		va_end(ap);
		unsigned long e = ERR_get_error();
		if (e && n >= 0 && (size_t)n < errlen) {
			char ssl[160];
			ERR_error_string_n(e, ssl, sizeof ssl);
			snprintf(errbuf + n, errlen - (size_t)n, " (%s)", ssl);
		}
	}
	ERR_clear_error();
	return rc;
}

static int certs_add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return -1;
	int ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

/* A new certificate for `key` with subject CN = cn, not yet signed. */
static X509 *certs_new(EVP_PKEY *key, const char *cn, unsigned days)
{
	X509 *cert = X509_new();
	if (!cert)
		return NULL;
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	X509_NAME *name = X509_get_subject_name(cert);
	if (RAND_bytes(serial, sizeof serial) != 1)
		goto fail;
	serial[0] &= 0x7f; /* positive */
	bn = BN_bin2bn(serial, sizeof serial, NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)))
		goto fail;
	if (!X509_set_version(cert, 2) || !X509_gmtime_adj(X509_getm_notBefore(cert), -300) ||
	    !X509_gmtime_adj(X509_getm_notAfter(cert), (long)days * 86400) ||
	    !X509_set_pubkey(cert, key) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
					-1, 0))
		goto fail;
	BN_free(bn);
	return cert;
fail:
	BN_free(bn);
	X509_free(cert);
	return NULL;
}

static int certs_write_key(const char *path, EVP_PKEY *key)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	FILE *f = fdopen(fd, "w");
	if (!f) {
		int e = errno;
		close(fd);
		return -e;
	}
	int ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	if (fclose(f) != 0 || !ok)
		return DUET_EINVAL;
	return 0;
}

static int certs_write_cert(const char *path, X509 *cert)
{
	FILE *f = fopen(path, "we");
	if (!f)
		return -errno;
	int ok = PEM_write_X509(f, cert);
	if (fclose(f) != 0 || !ok)
		return DUET_EINVAL;
	return 0;
}

static int certs_write(X509 *cert, EVP_PKEY *key, const char *cert_path, const char *key_path,
		       char *errbuf, size_t errlen)
{
	int rc = certs_write_key(key_path, key);
	if (rc)
		return certs_err(errbuf, errlen, rc, "cannot write key %s: %s", key_path,
				 duet_strerror(rc));
	rc = certs_write_cert(cert_path, cert);
	if (rc)
		return certs_err(errbuf, errlen, rc, "cannot write certificate %s: %s", cert_path,
				 duet_strerror(rc));
	return 0;
}

int xport_gen_ca(const char *cn, unsigned days, const char *cert_path, const char *key_path,
		 char *errbuf, size_t errlen)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	if (!key)
		return certs_err(errbuf, errlen, DUET_ENOMEM, "cannot generate a P-256 key");
	X509 *cert = certs_new(key, cn, days);
	int rc = DUET_EINVAL;
	if (!cert || !X509_set_issuer_name(cert, X509_get_subject_name(cert)) ||
	    certs_add_ext(cert, cert, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
	    certs_add_ext(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign") ||
	    certs_add_ext(cert, cert, NID_subject_key_identifier, "hash") ||
	    !X509_sign(cert, key, EVP_sha256())) {
		rc = certs_err(errbuf, errlen, DUET_EINVAL, "cannot build CA certificate %s", cn);
		goto out;
	}
	rc = certs_write(cert, key, cert_path, key_path, errbuf, errlen);
out:
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}

static int certs_load_ca(const char *cert_path, const char *key_path, X509 **cert, EVP_PKEY **key,
			 char *errbuf, size_t errlen)
{
	FILE *f = fopen(cert_path, "re");
	if (!f)
		return certs_err(errbuf, errlen, -errno, "cannot open CA certificate %s: %s",
				 cert_path, strerror(errno));
	*cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!*cert)
		return certs_err(errbuf, errlen, DUET_ECORRUPT,
				 "CA certificate %s is not a PEM certificate", cert_path);
	f = fopen(key_path, "re");
	if (!f)
		return certs_err(errbuf, errlen, -errno, "cannot open CA key %s: %s", key_path,
				 strerror(errno));
	*key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!*key)
		return certs_err(errbuf, errlen, DUET_ECORRUPT,
				 "CA key %s is not a PEM private key", key_path);
	if (X509_check_private_key(*cert, *key) != 1)
		return certs_err(errbuf, errlen, DUET_EINVAL,
				 "CA key %s does not belong to certificate %s", key_path,
				 cert_path);
	return 0;
}

int xport_gen_member_cert(const char *ca_cert_path, const char *ca_key_path, const char *name,
			  unsigned days, const char *cert_path, const char *key_path, char *errbuf,
			  size_t errlen)
{
	if (!name || !*name || strlen(name) >= DUET_NAME_MAX)
		return certs_err(errbuf, errlen, DUET_EINVAL,
				 "member name must have 1 to %d characters", DUET_NAME_MAX - 1);
	X509 *ca = NULL, *cert = NULL;
	EVP_PKEY *ca_key = NULL, *key = NULL;
	int rc = certs_load_ca(ca_cert_path, ca_key_path, &ca, &ca_key, errbuf, errlen);
	if (rc)
		goto out;
	key = EVP_EC_gen("P-256");
	if (!key) {
		rc = certs_err(errbuf, errlen, DUET_ENOMEM, "cannot generate a P-256 key");
		goto out;
	}
	char san[DUET_NAME_MAX + 8];
	snprintf(san, sizeof san, "DNS:%s", name);
	cert = certs_new(key, name, days);
	if (!cert || !X509_set_issuer_name(cert, X509_get_subject_name(ca)) ||
	    certs_add_ext(cert, ca, NID_basic_constraints, "critical,CA:FALSE") ||
	    certs_add_ext(cert, ca, NID_key_usage, "critical,digitalSignature") ||
	    certs_add_ext(cert, ca, NID_ext_key_usage, "serverAuth,clientAuth") ||
	    certs_add_ext(cert, ca, NID_subject_alt_name, san) ||
	    certs_add_ext(cert, ca, NID_authority_key_identifier, "keyid:always") ||
	    !X509_sign(cert, ca_key, EVP_sha256())) {
		rc =
		    certs_err(errbuf, errlen, DUET_EINVAL, "cannot build certificate for %s", name);
		goto out;
	}
	rc = certs_write(cert, key, cert_path, key_path, errbuf, errlen);
out:
	X509_free(ca);
	X509_free(cert);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
	return rc;
}
