/*
 * ctl_propose.c - how the role controller writes to the log: proposals on
 * the leader, forwarding from a follower (DESIGN.md 3: only the leader
 * appends; a follower's HEALTH transitions reach the log through it).
 *
 * A forwarded proposal is one transport frame NODE_FRAME_PROPOSE: u8 entry
 * type, then the payload. The leader takes only what a member may say about
 * itself: HEALTH whose node is the sender. Anything else is refused and
 * counted, like any other bad frame.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "node_internal.h"

int ctl_propose(struct node *n, uint8_t type, const void *payload, uint32_t len, uint64_t *index)
{
	uint64_t idx = 0;
	int rc = raft_propose(n->raft, node_now_ms(), type, node_wall_ms(), payload, len, &idx);
	if (rc) {
		duet_log(DUET_LOG_WARN, "propose %s: %s", raft_entry_type_name(type),
			 duet_strerror(rc));
		return rc;
	}
	if (index)
		*index = idx;
	node_drive_later(n);
	return 0;
}

void ctl_propose_step(struct node *n, uint8_t action, uint32_t node, bool ok, uint64_t duration_ms,
		      const char *fmt, ...)
{
	struct duet_step s;
	memset(&s, 0, sizeof s);
	s.action = action;
	s.node = node;
	s.ok = ok;
	s.duration_ms = duration_ms > UINT32_MAX ? UINT32_MAX : (uint32_t)duration_ms;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s.detail, sizeof s.detail, fmt, ap);
	va_end(ap);
	if (ok)
		n->ctl.steps_ok++;
	else
		n->ctl.steps_failed++;
	duet_log(ok ? DUET_LOG_INFO : DUET_LOG_WARN, "step %s %s (%" PRIu64 " ms): %s",
		 action == DUET_STEP_FENCE        ? "fence"
		 : action == DUET_STEP_PROMOTE    ? "promote"
		 : action == DUET_STEP_FIP        ? "fip"
		 : action == DUET_STEP_MANAGER    ? "manager"
		 : action == DUET_STEP_DEMOTE     ? "demote"
		 : action == DUET_STEP_LEASE_WAIT ? "lease-wait"
						  : "?",
		 ok ? "ok" : "FAILED", duration_ms, s.detail);
	uint8_t buf[1024];
	long len = duet_step_encode(&s, buf, sizeof buf);
	if (len < 0)
		return;
	/* a STEP is the audit of an action that already happened; only the
	 * leader writes it (a demoted node's log line above is all there is) */
	struct raft_status st;
	raft_status(n->raft, node_now_ms(), &st);
	if (st.role == RAFT_LEADER)
		(void)ctl_propose(n, RAFT_ENTRY_STEP, buf, (uint32_t)len, NULL);
}

void ctl_propose_or_forward(struct node *n, uint8_t type, const void *payload, uint32_t len)
{
	struct raft_status st;
	raft_status(n->raft, node_now_ms(), &st);
	if (st.role == RAFT_LEADER) {
		(void)ctl_propose(n, type, payload, len, NULL);
		return;
	}
	if (!st.leader || !n->xport || len > 60000) {
		n->forward_dropped++;
		return;
	}
	uint8_t *buf = malloc((size_t)len + 1);
	if (!buf)
		return;
	buf[0] = type;
	memcpy(buf + 1, payload, len);
	int rc = xport_send(n->xport, st.leader, NODE_FRAME_PROPOSE, buf, len + 1);
	free(buf);
	if (rc)
		n->forward_dropped++;
}

void ctl_forwarded(struct node *n, uint32_t from, const uint8_t *payload, uint32_t len)
{
	if (len < 1 || payload[0] != RAFT_ENTRY_HEALTH) {
		n->frames_bad++;
		duet_log(DUET_LOG_WARN,
			 "forwarded proposal from member %" PRIu32 " is not HEALTH; dropped", from);
		return;
	}
	struct duet_health h;
	if (duet_health_decode(payload + 1, len - 1, &h) != 0 || h.node != from) {
		n->frames_bad++;
		duet_log(DUET_LOG_WARN,
			 "forwarded HEALTH from member %" PRIu32
			 " does not decode or is about another node; dropped",
			 from);
		return;
	}
	struct raft_status st;
	raft_status(n->raft, node_now_ms(), &st);
	if (st.role != RAFT_LEADER) {
		n->forward_dropped++;
		return; /* the sender re-sends its state to whoever leads next */
	}
	(void)ctl_propose(n, RAFT_ENTRY_HEALTH, payload + 1, len - 1, NULL);
}
