/*
 * config_internal.h - what config.c and config_addr.c share; not public.
 */
#ifndef DUET_CONFIG_INTERNAL_H
#define DUET_CONFIG_INTERNAL_H

#include <stddef.h>

#include "duet/config.h"

/* Checks one "host:port" (host an IPv4 literal, "[IPv6]" or a hostname,
 * port 1..65535). Returns 0, or -1 with a reason in why. */
int config_check_addr(const char *addr, char *why, size_t whylen);

/* Parses a comma-separated list of 1..DUET_MAX_ADDRS addresses, blanks
 * around commas ignored, no address twice. Returns 0, or -1 with a reason. */
int config_parse_addrs(const char *value, struct duet_config_addrs *out, char *why, size_t whylen);

/* Edit distance between a and b, capped at 9 (for "did you mean"). */
unsigned config_distance(const char *a, const char *b);

#endif
