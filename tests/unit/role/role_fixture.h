/* SPDX-License-Identifier: MIT */
/*
 * role_fixture.h - what the role tests share: the fsm fixture's applied
 * state (members 1 and 2 DATA, named node1 and node2, 3 the witness) and a
 * raft status, proposal record and PostgreSQL observation around it, turned
 * into a struct role_leader_in.
 */
#ifndef DUET_TEST_ROLE_FIXTURE_H
#define DUET_TEST_ROLE_FIXTURE_H

#include <stdio.h>
#include <string.h>

#include "duet/role.h"
#include "fixture.h"

#define RX_TERM 5
#define RX_NOW  100000 /* monotonic ms */
#define RX_HB   100    /* [raft] heartbeat_ms */

struct rx {
	struct raft_status st;
	struct duet_membership members;
	struct role_proposal proposal;
	struct role_leader_in in;
	struct role_leader_out out;
};

/* The input for this node `self` with the fsm fixture's state: leader of
 * RX_TERM at RX_NOW, everything committed applied, no peer heard yet, a
 * PostgreSQL configured and found a standby, nothing proposed. */
static inline void rx_init(struct rx *r, uint32_t self)
{
	memset(r, 0, sizeof *r);
	fx_membership3_conf(&r->members);
	r->st.id = self;
	r->st.role = RAFT_LEADER;
	r->st.term = RX_TERM;
	r->st.leader = self;
	r->st.commit_index = fx->n;
	r->st.n_peers = 0;
	for (uint32_t id = 1; id <= 3; id++)
		if (id != self)
			r->st.peers[r->st.n_peers++] = (struct raft_peer_status){.id = id};
	r->in.raft = &r->st;
	r->in.now_ms = RX_NOW;
	r->in.heartbeat_ms = RX_HB;
	r->in.self_id = self;
	r->in.self_name = self == 1 ? "node1" : "node2";
	r->in.members = &r->members;
	r->in.fsm = &fx->fsm;
	r->in.pg_configured = true;
	r->in.pg_known = true;
	r->in.pg_in_recovery = true;
	r->in.pg_err = "";
	r->in.proposal = &r->proposal;
}

static inline struct raft_peer_status *rx_peer(struct rx *r, uint32_t id)
{
	for (uint32_t i = 0; i < r->st.n_peers; i++)
		if (r->st.peers[i].id == id)
			return &r->st.peers[i];
	return NULL;
}

/* Peer `id` acked `ago` ms before now, matching the commit index. */
static inline void rx_heard(struct rx *r, uint32_t id, uint64_t ago)
{
	struct raft_peer_status *p = rx_peer(r, id);
	p->last_ack_ms = RX_NOW - ago;
	p->match_index = r->st.commit_index;
}

#endif
