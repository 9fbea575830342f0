/* SPDX-License-Identifier: MIT */
/*
 * audit_log.c - `duetctl log`: the audit chain of a member (storage.h,
 * "audit chain"), read from its store opened readonly while the daemon
 * runs (LMDB read transactions never block the writer).
 *
 * Listing prints each record as one line (fsm_describe_entry) or one JSON
 * object per line (fsm_entry_json plus seq and hash); --verify walks the
 * whole chain (store_audit_verify) and names the first bad record; when
 * retention ([node] audit_max_bytes) dropped the oldest records it says
 * which, and that the walk began at the anchor they left (storage.h).
 * --follow keeps the read-only store open and, twice a second, starts a new
 * read transaction to print what the daemon appended since: polling is the
 * only way to see another process's LMDB commits, and it never blocks the
 * writer.
 */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "out.h"
#include "duet/config.h"
#include "duet/fsm.h"
#include "duet/storage.h"
#include "json.h"

void cmd_log_help(void)
{
	printf("usage: duetctl log [-c FILE] [--since T] [--type T] [--json] [--follow]\n"
	       "                   [--verify]\n"
	       "\n"
	       "Prints the audit chain of the member the config names (its store under\n"
	       "data_dir, opened read-only: the daemon may be running). Every applied entry\n"
	       "except TRAPS and DELIVERED is in the chain, linked by SHA-256.\n"
	       "\n"
	       "  -c, --config FILE  the member's config (default: $DUET_CONFIG, else\n"
	       "              /etc/duet/duet.ini)\n"
	       "  --since T   only records whose entry wall time is at or after T: seconds\n"
	       "              since the epoch, or UTC as YYYY-MM-DDTHH:MM:SS[Z]\n"
	       "  --type T    only entries of type T (MEMBERSHIP, MASTER, SYNC, STEP,\n"
	       "              HEALTH, OPERATOR, NOOP; case-insensitive)\n"
	       "  --json      one JSON object per line; an error as a last line\n"
	       "              {\"error\":{\"code\":...,\"message\":...}}\n"
	       "  --follow    keep printing records as they are appended, until interrupted\n"
	       "  --verify    check every record and link instead of listing; records\n"
	       "              dropped by retention ([node] audit_max_bytes) are named as\n"
	       "              such: the check starts from the anchor they left\n"
	       "\n"
	       "Exit status: 0 listed / chain intact, 1 the store could not be read or\n"
	       "the chain is damaged (the first bad record is printed), 2 usage error.\n");
}

static int parse_since(const char *s, uint64_t *ms)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (*s && *end == 0) {
		*ms = (uint64_t)v * 1000u;
		return 0;
	}
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end || (*end && strcmp(end, "Z") != 0))
		return -1;
	*ms = (uint64_t)timegm(&tm) * 1000u;
	return 0;
}

static int type_by_name(const char *s)
{
	for (int t = 0; t < RAFT_ENTRY_TYPE_COUNT; t++)
		if (strcasecmp(raft_entry_type_name((uint8_t)t), s) == 0)
			return t;
	return -1;
}

static void hex(FILE *out, const uint8_t *h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%02x", h[i]);
}

static int verify(struct store *s, bool json)
{
	struct store_audit_report r;
	memset(&r, 0, sizeof r);
	int rc = store_audit_verify(s, &r);
	if (rc == 0) {
		if (json) {
			char ah[2 * sizeof r.anchor_hash + 1];
			for (size_t i = 0; i < sizeof r.anchor_hash; i++)
				snprintf(ah + 2 * i, sizeof ah - 2 * i, "%02x", r.anchor_hash[i]);
			json_t *o =
			    json_pack("{s:b, s:I, s:I}", "ok", 1, "records",
				      (json_int_t)r.records_ok, "dropped", (json_int_t)r.dropped);
			if (o && r.dropped) {
				json_object_set_new(o, "audit_max_bytes",
						    json_integer((json_int_t)r.max_bytes));
				json_object_set_new(o, "anchor_seq",
						    json_integer((json_int_t)r.dropped));
				json_object_set_new(o, "anchor_hash", json_string(ah));
			}
			if (o)
				json_object_set_new(o, "bytes", json_integer((json_int_t)r.bytes));
			if (!o || duetctl_print_json(o) != 0) {
				json_decref(o);
				duetctl_err("out of memory");
				return DUETCTL_FAILED;
			}
			json_decref(o);
		} else if (r.dropped) {
			printf(
			    "audit chain intact from the retention anchor: %" PRIu64
			    " records (%" PRIu64 "..%" PRIu64 "), %" PRIu64 " bytes\n"
			    "records 1..%" PRIu64 " were dropped by retention (audit_max_bytes = "
			    "%" PRIu64 ") and were not verified; anchor: record %" PRIu64 ", hash ",
			    r.records_ok, r.dropped + 1, r.dropped + r.records_ok, r.bytes,
			    r.dropped, r.max_bytes, r.dropped);
			hex(stdout, r.anchor_hash, sizeof r.anchor_hash);
			printf("\n");
		} else {
			printf("audit chain intact: %" PRIu64 " records\n", r.records_ok);
		}
		return DUETCTL_OK;
	}
	if (rc != DUET_ECORRUPT) {
		duetctl_err("verify could not walk the chain: %s", duet_strerror(rc));
		return DUETCTL_FAILED;
	}
	if (json) {
		duetctl_err_code(DUETCTL_E_DAMAGED, "audit chain damaged at record %" PRIu64 ": %s",
				 r.seq, store_audit_fault_name(r.fault));
		json_t *o = json_pack("{s:b, s:I, s:I, s:I, s:s, s:o}", "ok", 0, "records_ok",
				      (json_int_t)r.records_ok, "seq", (json_int_t)r.seq, "index",
				      (json_int_t)r.index, "fault", store_audit_fault_name(r.fault),
				      "detail", duetctl_json_string(r.detail));
		if (o)
			duetctl_print_json(o);
		json_decref(o);
	} else {
		printf("audit chain DAMAGED at record %" PRIu64 " (entry index %" PRIu64
		       "): %s; %s\n%" PRIu64 " records before it verified\n",
		       r.seq, r.index, store_audit_fault_name(r.fault), r.detail, r.records_ok);
		if (r.dropped)
			printf("records 1..%" PRIu64
			       " were dropped by retention (audit_max_bytes = "
			       "%" PRIu64 ") and were not verified\n",
			       r.dropped, r.max_bytes);
	}
	return DUETCTL_FAILED;
}

static volatile sig_atomic_t stop_following;

static void on_stop(int sig)
{
	(void)sig;
	stop_following = 1;
}

static void print_record(const struct store_audit_record *r, bool json)
{
	static char text[16384];
	if (json) {
		fsm_entry_json(&r->entry, text, sizeof text);
		/* the entry's object (fsm's one writer of it), read back with
		 * jansson, under seq and hash */
		char h[2 * sizeof r->hash + 1];
		for (size_t i = 0; i < sizeof r->hash; i++)
			snprintf(h + 2 * i, sizeof h - 2 * i, "%02x", r->hash[i]);
		json_error_t je;
		json_t *entry = json_loads(text, 0, &je);
		/* a number past 2^63 (none is written today) would not load:
		 * the text then goes as a string beside a null entry */
		json_t *o = json_pack("{s:I, s:s, s:o}", "seq", (json_int_t)r->seq, "hash", h,
				      "entry", entry ? entry : json_null());
		if (o && !entry)
			json_object_set_new(o, "entry_text", duetctl_json_string(text));
		if (!o || duetctl_print_json(o) != 0)
			duetctl_err("record %" PRIu64 ": cannot write it as JSON", r->seq);
		json_decref(o);
		return;
	}
	char when[40] = "-"; /* entries a core writes itself (NOOP) carry no wall time */
	if (r->entry.wall_ms) {
		time_t t = (time_t)(r->entry.wall_ms / 1000u);
		struct tm tm;
		char day[32];
		gmtime_r(&t, &tm);
		strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(when, sizeof when, "%s.%03uZ", day, (unsigned)(r->entry.wall_ms % 1000u));
	}
	fsm_describe_entry(&r->entry, text, sizeof text);
	printf("%6" PRIu64 "  %-24s  index %" PRIu64 " term %" PRIu64 " author %" PRIu32 "  %s\n",
	       r->seq, when, r->entry.index, r->entry.term, r->entry.author, text);
}

int cmd_log(int argc, char **argv)
{
	const char *config = NULL;
	bool json = false, do_verify = false, follow = false;
	uint64_t since_ms = 0;
	int type = -1;
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"json", no_argument, NULL, 'j'},
	    {"follow", no_argument, NULL, 'f'},
	    {"verify", no_argument, NULL, 'v'},
	    {"since", required_argument, NULL, 'S'},
	    {"type", required_argument, NULL, 't'},
	    {NULL, 0, NULL, 0},
	};
	int opt;
	while ((opt = getopt_long(argc, argv, DUETCTL_SHORTOPTS("c:"), opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'f':
			follow = true;
			break;
		case 'v':
			do_verify = true;
			break;
		case 'S':
			if (parse_since(optarg, &since_ms) != 0)
				return duetctl_usage_error(
				    "--since '%s': expected seconds since the epoch or "
				    "YYYY-MM-DDTHH:MM:SS[Z]",
				    optarg);
			break;
		case 't':
			type = type_by_name(optarg);
			if (type < 0)
				return duetctl_usage_error("--type '%s': unknown entry type",
							   optarg);
			break;
		default:
			return duetctl_bad_option(opt, argv);
		}
	}
	if (optind < argc)
		return duetctl_extra_args(argc, argv);
	config = duet_config_path(config);
	static struct duet_config cfg;
	static struct duet_config_errors errs;
	if (duet_config_load(config, DUET_CONFIG_SKIP_FILES, &cfg, &errs) != 0) {
		duetctl_config_errors(&errs);
		return DUETCTL_FAILED;
	}
	struct store_options o = {0};
	o.path = cfg.data_dir;
	o.cluster_id = cfg.cluster_id;
	o.node_id = cfg.self_id;
	o.readonly = true;
	struct store *s;
	char err[512] = "";
	int rc = store_open(&o, &s, err, sizeof err);
	if (rc) {
		duetctl_err("%s", err[0] ? err : duet_strerror(rc));
		return DUETCTL_FAILED;
	}
	if (do_verify) {
		rc = verify(s, json);
		store_close(s);
		return rc;
	}
	struct store_audit_anchor anchor;
	if (!json && store_audit_anchor(s, &anchor) == 0 && anchor.dropped)
		duetctl_err("records 1..%" PRIu64 " were dropped by retention "
			    "(audit_max_bytes = %" PRIu64 "); the chain starts at %" PRIu64 "",
			    anchor.dropped, anchor.max_bytes, anchor.dropped + 1);
	struct store_audit_iter *it;
	rc = store_audit_iter_open(s, 1, &it);
	if (rc) {
		duetctl_err("cannot read the audit chain: %s", duet_strerror(rc));
		store_close(s);
		return DUETCTL_FAILED;
	}
	int result = DUETCTL_OK;
	struct store_audit_record r;
	if (follow) {
		signal(SIGINT, on_stop);
		signal(SIGTERM, on_stop);
	}
	for (;;) {
		while ((rc = store_audit_iter_next(it, &r)) == 1) {
			if (type >= 0 && r.entry.type != type)
				continue;
			if (r.entry.wall_ms < since_ms)
				continue;
			print_record(&r, json);
		}
		fflush(stdout);
		if (rc < 0 || !follow || stop_following)
			break;
		struct timespec half = {.tv_nsec = 500 * 1000 * 1000};
		nanosleep(&half, NULL);
		if (stop_following)
			break;
		rc = store_audit_iter_refresh(it);
		if (rc < 0)
			break;
	}
	if (rc < 0) {
		duetctl_err_code(DUETCTL_E_DAMAGED,
				 "record %" PRIu64 " is damaged (%s); run duetctl log "
				 "--verify",
				 store_audit_iter_bad_seq(it), duet_strerror(rc));
		result = DUETCTL_FAILED;
	}
	store_audit_iter_close(it);
	store_close(s);
	return result;
}
