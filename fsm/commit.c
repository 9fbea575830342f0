/* SPDX-License-Identifier: MIT */
/*
 * commit.c - the edge between the pure fsm and storage: a batch of
 * committed entries is first written to the audit chain, in one durable
 * transaction, then applied.
 *
 * Audit first: if the write fails, nothing is applied and the daemon exits
 * (commit errors are sticky, storage.h), so the state never runs ahead of
 * its audit. A crash after the audit write and before the apply is harmless:
 * the fsm state lives in memory and in raft snapshots, the core hands out
 * again the committed entries after the last snapshot, and the audit skips
 * what it already holds (store_audit_append_batch is idempotent by index).
 */
#include "duet/storage.h"
#include "fsm_internal.h"

int fsm_apply_committed(struct fsm *f, struct store *s, const struct raft_entry *e, size_t n,
			size_t *refused)
{
	if (refused)
		*refused = 0;
	if (!f || !s || (n && !e))
		return DUET_EINVAL;
	int rc = store_audit_append_batch(s, e, n, NULL);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		struct fsm_result res;
		rc = fsm_apply(f, &e[i], &res);
		if (rc)
			return rc;
		if (res.outcome == FSM_REFUSED && refused)
			(*refused)++;
	}
	return 0;
}
