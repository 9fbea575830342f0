/* SPDX-License-Identifier: MIT */
/*
 * certs.h - per-test certificates in a temporary directory: the cluster CA,
 * a foreign CA, and member certificates made with xport_gen_* (the same
 * code `duetctl gencerts` uses).
 *
 *   ca.crt         cluster CA
 *   node-a, node-b members (cluster CA)
 *   node-x         signed by the cluster CA, but never a member
 *   rogue-a        CN node-a, signed by the foreign CA
 */
#ifndef DUET_TEST_CERTS_H
#define DUET_TEST_CERTS_H

#include <stddef.h>

void certs_setup(void);
void certs_teardown(void);
/* "<dir>/<name>.<ext>" in a static buffer per slot (0..7). */
const char *certs_path(int slot, const char *name, const char *ext);

#endif
