/* SPDX-License-Identifier: MIT */
/*
 * test_http.c - the data node's [http] section (duetd's /master, /health,
 * /metrics): off by default, its defaults, numeric listen addresses whose
 * ports clash with no other TCP listener, HTTPS with both files, and the
 * witness refusing it.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "duet/err.h"
#include "helpers.h"

static struct duet_config_errors errs;
static struct duet_config cfg;

static void refused(const char *text)
{
	int rc = load_text(text, &cfg, &errs);
	cr_assert_eq(rc, DUET_EINVAL, "config was accepted");
	cr_assert_gt(errs.n, 0);
}

static void accepted(const char *text)
{
	int rc = load_text(text, &cfg, &errs);
	if (rc)
		dump_errors(&errs);
	cr_assert_eq(rc, 0);
}

Test(config_http, off_by_default_with_documented_limits)
{
	accepted(BASE_CONFIG);
	cr_assert_eq(cfg.http.listen.n, 0);
	cr_assert_str_eq(cfg.http.tls_cert, "");
	cr_assert_str_eq(cfg.http.tls_key, "");
	cr_assert_eq(cfg.http.max_connections, 64);
	cr_assert_eq(cfg.http.request_timeout_ms, 5000);
}

Test(config_http, values)
{
	accepted(with_extra("[http]\n"
			    "listen = 10.0.0.1:8008, [::1]:8008\n"
			    "tls_cert = /etc/duet/http.pem\n"
			    "tls_key = /etc/duet/http.key\n"
			    "max_connections = 8\n"
			    "request_timeout_ms = 250\n"));
	cr_assert_eq(cfg.http.listen.n, 2);
	cr_assert_str_eq(cfg.http.listen.v[0], "10.0.0.1:8008");
	cr_assert_str_eq(cfg.http.listen.v[1], "[::1]:8008");
	cr_assert_str_eq(cfg.http.tls_cert, "/etc/duet/http.pem");
	cr_assert_str_eq(cfg.http.tls_key, "/etc/duet/http.key");
	cr_assert_eq(cfg.http.max_connections, 8);
	cr_assert_eq(cfg.http.request_timeout_ms, 250);
}

Test(config_http, listen_is_numeric)
{
	refused(with_extra("[http]\nlisten = node-a.example:8008\n"));
	cr_assert(has_error(&errs, 23, "numeric"), "errors: %s", errs.v[0].message);
}

Test(config_http, https_needs_both_files)
{
	refused(with_extra("[http]\nlisten = 10.0.0.1:8008\ntls_cert = /etc/duet/http.pem\n"));
	cr_assert(has_error(&errs, 24, "tls_cert and tls_key"), "errors: %s", errs.v[0].message);
	refused(with_extra("[http]\nlisten = 10.0.0.1:8008\ntls_key = /etc/duet/http.key\n"));
	cr_assert(has_error(&errs, 24, "key 'tls_key'"), "errors: %s", errs.v[0].message);
}

Test(config_http, a_port_of_another_listener_is_refused)
{
	/* the custom-trap receiver on the same port */
	refused(with_extra("[traps]\nhttp = 10.0.0.1:8008\n[http]\nlisten = 0.0.0.0:8008\n"));
	cr_assert(has_error(&errs, 25, "takes the TCP port of [traps] http"), "errors: %s",
		  errs.v[0].message);
	/* the peers' port of [node] listen (this member's address by default) */
	refused(with_extra("[http]\nlisten = 127.0.0.1:7101\n"));
	cr_assert(has_error(&errs, 23, "[node] listen"), "errors: %s", errs.v[0].message);
	/* the same port on another address is fine, and so is a UDP receiver's */
	accepted(with_extra("[traps]\nhttp = 10.0.0.1:8008\nsyslog_udp = 10.0.0.2:8009\n"
			    "[http]\nlisten = 10.0.0.2:8008, 10.0.0.2:8009\n"));
}

Test(config_http, witness_refuses_it)
{
	const char *witness = replace(BASE_CONFIG, "name = node-a", "name = w");
	accepted(witness);
	char text[4096];
	snprintf(text, sizeof(text), "%s[http]\nlisten = 127.0.0.1:8008\n", witness);
	refused(text);
	cr_assert(has_error(&errs, 22, "only data nodes serve"), "errors: %s", errs.v[0].message);
}

Test(config_http, unknown_key_gets_a_suggestion)
{
	refused(with_extra("[http]\nlistn = 10.0.0.1:8008\n"));
	cr_assert(has_error(&errs, 23, "listen"), "errors: %s", errs.v[0].message);
}

Test(config_http, tls_files_are_checked_unless_skipped)
{
	const char *text = with_extra("[http]\nlisten = 10.0.0.1:8008\n"
				      "tls_cert = /nonexistent/duet/http.pem\n"
				      "tls_key = /nonexistent/duet/http.key\n");
	int rc = duet_config_load_buffer("test.ini", text, strlen(text), 0, &cfg, &errs);
	cr_assert_eq(rc, DUET_EINVAL);
	cr_assert(has_error(&errs, 24, "key 'tls_cert': cannot read /nonexistent/duet/http.pem"));
	cr_assert(has_error(&errs, 25, "key 'tls_key': cannot read /nonexistent/duet/http.key"));
	accepted(text); /* load_text: DUET_CONFIG_SKIP_FILES */
}
