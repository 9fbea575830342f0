/* SPDX-License-Identifier: MIT */
/*
 * test_actions.c - the data node's [pg], [fip], [fence], [manager] and
 * [health] sections: defaults, values, and the rules that span keys.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "duet/err.h"
#include "helpers.h"

static struct duet_config_errors errs;
static struct duet_config cfg;

Test(config_actions, defaults)
{
	int rc = load_text(BASE_CONFIG, &cfg, &errs);
	if (rc)
		dump_errors(&errs);
	cr_assert_eq(rc, 0);
	cr_assert_str_eq(cfg.act.pg_conninfo,
			 "host=127.0.0.1 port=5432 user=postgres dbname=postgres");
	cr_assert_eq(cfg.act.pg_sync_timeout_ms, 2000);
	cr_assert_eq(cfg.act.pg_probe_interval_ms, 200);
	cr_assert_str_eq(cfg.act.fip_address, "", "no FIP unless configured");
	cr_assert_eq(cfg.act.fence_method, DUET_CONFIG_FENCE_NONE);
	cr_assert_str_eq(cfg.act.fence_ipmi_interface, "lanplus");
	cr_assert_eq(cfg.act.health_fail_after, 3);
	cr_assert_eq(cfg.act.health_ok_after, 2);
	cr_assert_str_eq(cfg.act.health_fs_paths, cfg.data_dir, "fs probe defaults to data_dir");
	cr_assert_str_eq(cfg.act.health_critical, "pg,fs");
	/* rebuilding as a standby (rejoin, switchover) */
	cr_assert_str_eq(cfg.act.pg_data_dir, "/var/lib/postgresql/15/main");
	cr_assert_str_eq(cfg.act.pg_bin_dir, "/usr/lib/postgresql/15/bin");
	cr_assert_str_eq(cfg.act.pg_os_user, "postgres");
	cr_assert_str_eq(cfg.act.pg_config_file, "");
	cr_assert_eq(cfg.act.pg_rebuild_timeout_ms, 14400000);
	cr_assert_eq(cfg.act.pg_rebuild_stream_timeout_ms, 120000);
}

Test(config_actions, peer_conninfo_defaults_to_the_other_data_member)
{
	int rc = load_text(BASE_CONFIG, &cfg, &errs);
	cr_assert_eq(rc, 0);
	cr_assert_str_eq(cfg.act.pg_peer_conninfo,
			 "host=127.0.0.1 port=5432 user=postgres dbname=postgres",
			 "node-b's first address, PostgreSQL's port: %s", cfg.act.pg_peer_conninfo);
	rc = load_text(replace(BASE_CONFIG, "address = 127.0.0.1:7102", "address = [fd00::2]:7102"),
		       &cfg, &errs);
	if (rc)
		dump_errors(&errs);
	cr_assert_eq(rc, 0);
	cr_assert_str_eq(cfg.act.pg_peer_conninfo,
			 "host=fd00::2 port=5432 user=postgres dbname=postgres", "%s",
			 cfg.act.pg_peer_conninfo);
	rc = load_text(with_extra("[pg]\npeer_conninfo = host=pg-b.example port=5433\n"), &cfg,
		       &errs);
	cr_assert_eq(rc, 0);
	cr_assert_str_eq(cfg.act.pg_peer_conninfo, "host=pg-b.example port=5433");
}

Test(config_actions, full_data_node)
{
	const char *extra = "[pg]\n"
			    "conninfo = host=/run/pg port=5433 user=postgres\n"
			    "stop_command = pg_ctl -D /srv/pg stop -m immediate\n"
			    "sync_timeout_ms = 3000\n"
			    "[fip]\n"
			    "address = 10.77.0.100/24\n"
			    "interface = eth0\n"
			    "[fence]\n"
			    "method = command\n"
			    "command = /usr/local/bin/power-off \"$DUET_FENCE_NODE\"\n"
			    "[manager]\n"
			    "start_command = systemctl start manager\n"
			    "stop_command = systemctl stop manager\n"
			    "[health]\n"
			    "fs_paths = /var/lib/duet, /srv/pg\n"
			    "isolation_targets = 10.77.0.254:53\n"
			    "critical = pg, fs, nic\n";
	int rc = load_text(with_extra(extra), &cfg, &errs);
	if (rc)
		dump_errors(&errs);
	cr_assert_eq(rc, 0);
	cr_assert_str_eq(cfg.act.pg_conninfo, "host=/run/pg port=5433 user=postgres");
	cr_assert_eq(cfg.act.pg_sync_timeout_ms, 3000);
	cr_assert_str_eq(cfg.act.fip_address, "10.77.0.100/24");
	cr_assert_str_eq(cfg.act.health_nic, "eth0", "the NIC check defaults to the FIP's NIC");
	cr_assert_eq(cfg.act.fence_method, DUET_CONFIG_FENCE_COMMAND);
	cr_assert_eq(cfg.act.health_isolation.n, 1);
	cr_assert_str_eq(cfg.act.manager_stop_command, "systemctl stop manager");
}

Test(config_actions, rules_that_span_keys)
{
	const char *extra = "[fip]\n"                    /* 22 */
			    "address = 10.77.0.300/24\n" /* 23 */
			    "[fence]\n"                  /* 24 */
			    "method = ipmi\n"            /* 25 */
			    "ipmi_host = 10.0.0.9\n"     /* 26 */
			    "[manager]\n"                /* 27 */
			    "start_command = run-it\n"   /* 28 */
			    "[health]\n"                 /* 29 */
			    "critical = pg, disk\n"      /* 30 */
			    "fs_paths = relative/dir\n"; /* 31 */
	int rc = load_text(with_extra(extra), &cfg, &errs);
	cr_assert_eq(rc, DUET_EINVAL);
	cr_assert(has_error(&errs, 23, "'10.77.0.300' is not an IPv4 address"));
	cr_assert(has_error(&errs, 25, "ipmi needs ipmi_host, ipmi_user and ipmi_password_file"));
	cr_assert(has_error(&errs, 27, "start_command and stop_command go together"));
	cr_assert(has_error(&errs, 30, "'disk' is not one of pg, fs, nic"));
	cr_assert(has_error(&errs, 31, "'relative/dir' is not an absolute path"));

	rc = load_text(with_extra("[fip]\naddress = 10.0.0.1/24\n"), &cfg, &errs);
	cr_assert_eq(rc, DUET_EINVAL);
	cr_assert(has_error(&errs, 23, "[fip] interface is required"));
	rc = load_text(with_extra("[fip]\naddress = 10.0.0.1/33\ninterface = e0\n"), &cfg, &errs);
	cr_assert(has_error(&errs, 23, "prefix '33' is not 0 to 32"));
	rc = load_text(with_extra("[fip]\naddress = 10.0.0.1/24\nadd_command = attach\n"), &cfg,
		       &errs);
	cr_assert(has_error(&errs, 22, "add_command, del_command and check_command go together"));
	rc = load_text(with_extra("[pg]\nstop_command = a\tb\n"), &cfg, &errs);
	cr_assert(has_error(&errs, 23, "control character (byte 0x09)"));
}

Test(config_actions, fence_agent_method)
{
	const char *extra = "[fence]\n"                                      /* 22 */
			    "method = agent\n"                               /* 23 */
			    "agent = fence_ipmilan\n"                        /* 24 */
			    "agent_options_file = /etc/duet/fence-b.conf\n"; /* 25 */
	int rc = load_text(with_extra(extra), &cfg, &errs);
	if (rc)
		dump_errors(&errs);
	cr_assert_eq(rc, 0);
	cr_assert_eq(cfg.act.fence_method, DUET_CONFIG_FENCE_AGENT);
	cr_assert_str_eq(cfg.act.fence_agent, "fence_ipmilan");
	cr_assert_str_eq(cfg.act.fence_agent_options_file, "/etc/duet/fence-b.conf");

	rc = load_text(with_extra("[fence]\nmethod = agent\n"), &cfg, &errs);
	cr_assert_eq(rc, DUET_EINVAL);
	cr_assert(has_error(&errs, 23, "agent needs [fence] agent"));
	rc = load_text(with_extra("[fence]\nmethod = agent\nagent = fence_x\n"
				  "agent_options_file = relative.conf\n"),
		       &cfg, &errs);
	cr_assert_eq(rc, DUET_EINVAL);
	cr_assert(has_error(&errs, 25, "'relative.conf' is not an absolute path"));
}

Test(config_actions, cloud_fip_has_no_nic_check)
{
	const char *extra = "[fip]\naddress = 192.0.2.7/32\nadd_command = fip attach\n"
			    "del_command = fip detach\ncheck_command = fip holds\n";
	int rc = load_text(with_extra(extra), &cfg, &errs);
	if (rc)
		dump_errors(&errs);
	cr_assert_eq(rc, 0);
	cr_assert_str_eq(cfg.act.health_nic, "");
}

/* A real cloud FIP command is longer than the 197 characters a line of the
 * packaged inih holds (issue 16): a 600-character one is read whole, and
 * the line splitting keeps inih's rules (an inline comment after " ;", a
 * ';' inside a word kept, `key: value`). */
Test(config_actions, long_cloud_fip_command)
{
	char cmd[601];
	int n = snprintf(cmd, sizeof cmd,
			 "aws ec2 associate-address --region eu-west-1 --allocation-id "
			 "eipalloc-0123456789abcdef0 --network-interface-id eni-0123456789abcdef0 "
			 "--private-ip-address 10.0.1.17 --allow-reassociation --output text "
			 "--query AssociationId");
	while (n < 600)
		n += snprintf(cmd + n, sizeof cmd - (size_t)n, " --tag-%03d=x", n);
	cmd[600] = '\0';
	cr_assert_eq(strlen(cmd), 600);
	static char extra[8192];
	snprintf(extra, sizeof extra,
		 "[fip]\naddress = 10.0.0.100/24\nadd_command = %s ; attach it\n"
		 "del_command: aws ec2 disassociate-address;x --association-id a\n"
		 "check_command = test -e /run/fip\n",
		 cmd);
	int rc = load_text(with_extra(extra), &cfg, &errs);
	if (rc)
		dump_errors(&errs);
	cr_assert_eq(rc, 0);
	cr_assert_str_eq(cfg.act.fip_add_command, cmd);
	cr_assert_str_eq(cfg.act.fip_del_command,
			 "aws ec2 disassociate-address;x --association-id a");

	/* a value longer than the field is refused with its limit, not cut */
	static char big[DUET_CONFIG_STR_MAX + 64];
	memset(big, 'x', DUET_CONFIG_STR_MAX);
	big[DUET_CONFIG_STR_MAX] = '\0';
	static char extra2[DUET_CONFIG_STR_MAX + 256];
	snprintf(extra2, sizeof extra2, "[manager]\nstart_command = %s\nstop_command = y\n", big);
	cr_assert_eq(load_text(with_extra(extra2), &cfg, &errs), DUET_EINVAL);
	cr_assert(has_error(&errs, 23, "key 'start_command': longer than 4095 bytes"));
}
