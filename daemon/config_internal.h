/* SPDX-License-Identifier: MIT */
/*
 * config_internal.h - what config.c, config_addr.c and config_traps.c share;
 * not public.
 */
#ifndef DUET_CONFIG_INTERNAL_H
#define DUET_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "duet/config.h"

/* Checks one "host:port" (host an IPv4 literal, "[IPv6]" or a hostname,
 * port 1..65535). Returns 0, or -1 with a reason in why. */
int config_check_addr(const char *addr, char *why, size_t whylen);

/* Parses a comma-separated list of 1..DUET_MAX_ADDRS addresses, blanks
 * around commas ignored, no address twice. Returns 0, or -1 with a reason. */
int config_parse_addrs(const char *value, struct duet_config_addrs *out, char *why, size_t whylen);

/* Edit distance between a and b, capped at 9 (for "did you mean"). */
unsigned config_distance(const char *a, const char *b);

/* ---- the loader (config.c), for config_traps.c ---------------------------- */

#define MAX_DRAFT_MEMBERS DUET_MAX_MEMBERS

enum section_kind {
	SEC_NONE = 0,
	SEC_CLUSTER,
	SEC_NODE,
	SEC_MEMBER,
	SEC_TLS,
	SEC_RAFT,
	SEC_PG,
	SEC_FIP,
	SEC_FENCE,
	SEC_MANAGER,
	SEC_HEALTH,
	SEC_TRAPS,
	SEC_SINK,
	SEC_HTTP,
	SEC_BAD
};

struct section_def {
	enum section_kind kind;
	const char *name;  /* as written in the header, before any member name */
	const char *title; /* for documentation: "[member NAME]" */
	const char *meaning;
};

struct choice {
	const char *name;
	int value;
};

#define MAX_KEYS 128

struct member_draft {
	char name[DUET_NAME_MAX];
	int header_line;
	uint32_t id;
	int kind;
	struct duet_config_addrs addrs;
	int key_line[MAX_KEYS]; /* indexed like keys[]; 0: not set */
};

struct draft {
	char cluster_name[DUET_NAME_MAX];
	uint64_t cluster_id;
	char node_name[DUET_NAME_MAX];
	char data_dir[DUET_CONFIG_PATH_MAX];
	char admin_socket[DUET_CONFIG_PATH_MAX];
	int log_level;
	int log_target;
	uint32_t audit_max_bytes;
	uint32_t map_max_mib;
	struct duet_config_addrs listen;
	char tls_ca[DUET_CONFIG_PATH_MAX];
	char tls_cert[DUET_CONFIG_PATH_MAX];
	char tls_key[DUET_CONFIG_PATH_MAX];
	struct raft_config raft;
	struct duet_config_actions act;
	struct duet_config_traps traps;
	struct duet_config_sink sink;
	struct duet_config_http http;
	/* as written; resolve() parses them into traps and sink */
	char snmp_communities[DUET_CONFIG_STR_MAX];
	char snmp_engine_id[DUET_CONFIG_STR_MAX];
	struct duet_config_addrs sink_address;
	int key_line[MAX_KEYS];    /* keys outside [member]: line where set, 0: not set */
	bool key_bad[MAX_KEYS];    /* that value was refused (rules that span keys skip it) */
	int section_line[SEC_BAD]; /* header line of each single section, 0: absent */
	unsigned n_members;
	struct member_draft members[MAX_DRAFT_MEMBERS];
};

struct loader {
	struct duet_config_errors *errs;
	struct draft *d;
	const char *p, *end; /* text still to read */
	int line;            /* line being read */
	enum section_kind cur;
	struct member_draft *cur_member;
	char cur_title[DUET_NAME_MAX + 16]; /* "member node-a", for messages */
};

/* The section table entry of kind (NULL for SEC_NONE and SEC_BAD). */
const struct section_def *config_section_def(enum section_kind kind);

/* Index in the key table (and in key_line[], key_bad[]) of key name of
 * section, or -1 if there is no such key. */
int config_key_index(enum section_kind section, const char *name);

/* Adds an error about line (0: the whole file) to errs, or counts it as
 * dropped when errs is full. */
__attribute__((format(printf, 3, 4))) void config_add_error(struct duet_config_errors *errs,
							    int line, const char *fmt, ...);

/* Parses v as one of choices (case-insensitive) into *out. Returns 0, or
 * -1 with the choices listed in why. */
int config_parse_choice(const char *v, const struct choice *choices, int *out, char *why,
			size_t whylen);

/* ---- [traps] and [sink] (config_traps.c), for config.c --------------------- */

/* What spans the keys of [traps]: numeric receiver addresses, no two
 * listeners on one port, HTTPS with its certificate, the limits that depend
 * on each other, the communities and engine ID; then (unless flags has
 * DUET_CONFIG_SKIP_FILES) reads the token file and the SNMP users file. A
 * witness (self) may have neither [traps] nor [sink]. */
void config_check_traps(struct loader *ld, const struct member_draft *self, unsigned flags);

/* What spans the keys of [sink] (nothing for a witness: see
 * config_check_traps()). */
void config_check_sink(struct loader *ld, const struct member_draft *self);

/* [http]: a witness may not have it; numeric listen addresses (their TCP
 * ports are checked against the others' in config_check_traps()); tls_cert
 * and tls_key together or not at all. */
void config_check_http(struct loader *ld, const struct member_draft *self);

#endif
