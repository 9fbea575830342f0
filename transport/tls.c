/* SPDX-License-Identifier: MIT */
/*
 * tls.c - the transport's SSL_CTX and the reading of a peer's identity.
 *
 * TLS 1.3 only, on both sides; peers must present a certificate that
 * verifies against the cluster CA file (SSL_VERIFY_FAIL_IF_NO_PEER_CERT on
 * the accepting side). No session tickets: every connection does a full
 * handshake, so a removed member cannot resume its way back in, and no
 * post-handshake messages arrive unasked.
 */
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "xport_internal.h"

void xport_tls_error_text(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();
	if (e)
		ERR_error_string_n(e, buf, len);
	else
		snprintf(buf, len, "no OpenSSL error queued");
	ERR_clear_error();
}

int xport_tls_ctx(struct xport *x, char *errbuf, size_t errlen)
{
	char ssl_err[200];
	SSL_CTX *ctx = SSL_CTX_new(TLS_method());
	if (!ctx) {
		xport_tls_error_text(ssl_err, sizeof ssl_err);
		snprintf(errbuf, errlen, "cannot create a TLS context: %s", ssl_err);
		return DUET_ENOMEM;
	}
	const char *what = NULL, *file = NULL;
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION)) {
		what = "cannot restrict TLS to version 1.3";
	} else if (SSL_CTX_use_certificate_chain_file(ctx, x->cert_file) != 1) {
		what = "cannot load certificate";
		file = x->cert_file;
	} else if (SSL_CTX_use_PrivateKey_file(ctx, x->key_file, SSL_FILETYPE_PEM) != 1) {
		what = "cannot load private key";
		file = x->key_file;
	} else if (SSL_CTX_check_private_key(ctx) != 1) {
		what = "private key does not match certificate";
		file = x->key_file;
	} else if (SSL_CTX_load_verify_locations(ctx, x->ca_file, NULL) != 1) {
		what = "cannot load cluster CA";
		file = x->ca_file;
	}
	if (what) {
		xport_tls_error_text(ssl_err, sizeof ssl_err);
		snprintf(errbuf, errlen, "%s%s%s: %s; check the TLS files in the config", what,
			 file ? " " : "", file ? file : "", ssl_err);
		SSL_CTX_free(ctx);
		return DUET_EINVAL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_verify_depth(ctx, 2);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	x->ctx = ctx;
	return 0;
}

static int add_name(char names[][DUET_NAME_MAX], int n, int max, const unsigned char *s, int len)
{
	if (n >= max || len <= 0 || len >= DUET_NAME_MAX || memchr(s, 0, (size_t)len))
		return n; /* too long or embedded NUL: cannot be a member name */
	memcpy(names[n], s, (size_t)len);
	names[n][len] = 0;
	return n + 1;
}

int xport_tls_peer_names(SSL *ssl, char names[][DUET_NAME_MAX], int max)
{
	X509 *cert = SSL_get1_peer_certificate(ssl);
	if (!cert)
		return 0;
	int n = 0;
	X509_NAME *subject = X509_get_subject_name(cert);
	for (int i = -1; (i = X509_NAME_get_index_by_NID(subject, NID_commonName, i)) >= 0;) {
		ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i));
		n = add_name(names, n, max, ASN1_STRING_get0_data(s), ASN1_STRING_length(s));
	}
	GENERAL_NAMES *sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
		if (g->type == GEN_DNS)
			n = add_name(names, n, max, ASN1_STRING_get0_data(g->d.dNSName),
				     ASN1_STRING_length(g->d.dNSName));
	}
	GENERAL_NAMES_free(sans);
	X509_free(cert);
	return n;
}
