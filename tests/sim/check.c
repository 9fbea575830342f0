/* SPDX-License-Identifier: MIT */
/*
 * check.c - the invariants duet-sim checks after every event.
 *
 * Global knowledge the members do not have:
 *  - term -> leader, from raft_status after each event (leader_per_term);
 *  - (index, term) -> chain hash of the log prefix, for every entry any node
 *    ever stored durably or handed to storage, and for every snapshot. Log
 *    matching says two logs holding an entry with the same index and term are
 *    identical up to it; with prefix hashes that is one comparison per entry
 *    (log_matching). It holds across all time, so the map is never pruned;
 *  - index -> (term, chain) of everything any node ever reported committed
 *    (the `committed` list of an update). A different entry reported at a
 *    known index is commit_changed. When an index is first reported, a
 *    majority (2 of 3) must hold it durably, in its log or under its durable
 *    snapshot (commit_not_durable_majority). disk.c reports a durable
 *    truncation of a committed entry (commit_lost);
 *  - leader completeness: a node seen leading term t must hold every entry
 *    whose commit was reported by a node whose term was below t (so the
 *    committing leader's term was below t). Its in-memory log is not visible,
 *    so this is checked when its first entry of term t becomes durable: the
 *    log before it is exactly its log at election (leader_completeness);
 *  - state machine safety: every apply is the next index and yields the
 *    committed chain hash; a restore lands on a committed state, never behind
 *    what was applied (state_machine_safety);
 *  - the witness never holds the master lease, never accepts a proposal or a
 *    transfer to itself (witness_master);
 *  - leases, exactly in real time: at every event time T, at most one member
 *    has raft_lease_valid(local clock at T). Validity can only start at an
 *    event (the core changes only in events) and only ends as clocks move,
 *    so checking at every event time sees every overlap (lease);
 *  - replies that promise durable state (a granted vote, an append ack) leave
 *    only when that state is durable (durable_before_reply);
 *  - incarnations (DESIGN.md section 3, wipe.c): a member grants a vote or a
 *    pre-vote only while its own membership in force gives it the incarnation
 *    of its configuration (incarnation_vote), and a member whose disk was
 *    wiped grants none until it durably holds the committed MEMBERSHIP that
 *    raised its incarnation (wiped_vote; a pre-vote may rest on that entry
 *    still in memory). The wiped disk counts as holding what it held only
 *    while its member is kept down waiting for that entry: a leader may count
 *    acknowledgements sent before the wipe, and the rejoin commit replicates
 *    them again before the member returns. A commit that rests on a wiped
 *    disk of a member already back is wiped_ack.
 *  - the real fsm (fsm.c) and role/ (role.c): two members at the same
 *    applied index hold the same fsm, compared by a digest of its snapshot
 *    encoding, after every apply and every restore (fsm_agreement); a MASTER
 *    the fsm accepts names a DATA member that was the synchronous standby,
 *    or the first master (or forced), and becomes the one master it names;
 *    every refusal moves the fsm's refusal counter by one and nothing else
 *    does; a MASTER role.c proposed is accepted or refused as the rule gives
 *    on the fsm role/ decided on, unless a MEMBERSHIP applied since may have
 *    changed a SYNC (master_only_by_rule); at most one MASTER is accepted per
 *    term (one_master_per_term: true while the only MASTER proposer is
 *    role/'s leader decision, once a term for itself; a switchover right
 *    after a failover in one term would be legitimate, so this needs
 *    revisiting when switchovers are simulated).
 * Liveness after healing is check_liveness(): it includes a wiped member back
 * under its new incarnation and applying what the cluster commits.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

void check_init(struct sim *s)
{
	struct sim_check *c = &s->check;
	memset(c, 0, sizeof(*c));
	c->cap_commits = 1024;
	c->commits = sim_xmalloc(c->cap_commits * sizeof(*c->commits));
	memset(c->commits, 0, c->cap_commits * sizeof(*c->commits));
	uint64_t chain = sim_chain_next(SIM_CHAIN0, &s->boot);
	c->commits[1] = (struct commit_rec){.term = s->boot.term, .chain = chain};
	c->fsm_buf = sim_xmalloc(FSM_SNAPSHOT_MAX_BYTES);
	c->max_commit = 1;
	check_log_entry(s, 0, 1, s->boot.term, chain, "bootstrap");
}

void check_free(struct sim *s)
{
	struct sim_check *c = &s->check;
	for (size_t i = 0; i < c->n_lm; i++)
		free(c->lm[i].more);
	free(c->lm);
	free(c->commits);
	free(c->term_leader);
	free(c->fsm_buf);
	free(c->term_master);
	free(c->role_props);
	memset(c, 0, sizeof(*c));
}

const struct commit_rec *check_commit(const struct sim *s, uint64_t index)
{
	if (index == 0 || index > s->check.max_commit)
		return NULL;
	return &s->check.commits[index];
}

void check_log_entry(struct sim *s, uint32_t node, uint64_t index, uint64_t term, uint64_t chain,
		     const char *where)
{
	struct sim_check *c = &s->check;
	if (index >= c->n_lm) {
		size_t n = c->n_lm ? c->n_lm : 1024;
		while (n <= index)
			n *= 2;
		c->lm = sim_xrealloc(c->lm, n * sizeof(*c->lm));
		memset(c->lm + c->n_lm, 0, (n - c->n_lm) * sizeof(*c->lm));
		c->n_lm = n;
	}
	struct lm_slot *slot = &c->lm[index];
	struct lm_pair *found = NULL;
	if (slot->first.term == term)
		found = &slot->first;
	for (uint32_t i = 0; !found && i < slot->n_more; i++)
		if (slot->more[i].term == term)
			found = &slot->more[i];
	if (found) {
		if (found->chain != chain)
			sim_fail(s, "log_matching",
				 "n%u: entry %" PRIu64 " of term %" PRIu64
				 " (%s) ends a log prefix "
				 "different from another node's entry %" PRIu64 "/%" PRIu64,
				 node, index, term, where, index, term);
		return;
	}
	if (slot->first.term == 0) {
		slot->first = (struct lm_pair){term, chain};
		return;
	}
	slot->more = sim_xrealloc(slot->more, (slot->n_more + 1) * sizeof(*slot->more));
	slot->more[slot->n_more++] = (struct lm_pair){term, chain};
}

void check_commit_report(struct sim *s, struct sim_node *n, const struct raft_entry *e)
{
	struct sim_check *c = &s->check;
	uint64_t i = e->index;
	const struct commit_rec *prev = check_commit(s, i - 1);
	if (i == 0 || (i > 1 && !prev)) {
		sim_fail(s, "state_machine_safety",
			 "n%u hands out %" PRIu64 " as committed, but %" PRIu64
			 " was never committed anywhere",
			 n->id, i, i - 1);
		return;
	}
	uint64_t chain = sim_chain_next(prev ? prev->chain : SIM_CHAIN0, e);
	if (i <= c->max_commit) {
		if (c->commits[i].chain != chain)
			sim_fail(s, "commit_changed",
				 "n%u hands out %" PRIu64 "/%" PRIu64 " (%s) as committed; %" PRIu64
				 "/%" PRIu64 " was committed before",
				 n->id, i, e->term, raft_entry_type_name(e->type), i,
				 c->commits[i].term);
		return;
	}
	int holders = 0, back_lost = 0;
	char who[64] = "";
	for (uint32_t id = 1; id <= SIM_NODES; id++) {
		const struct sim_node *h = &s->nodes[id];
		bool lost = h->has_lost && disk_holds(&h->lost, i, chain);
		if (disk_holds(&h->disk, i, chain) || (lost && h->rejoin == REJOIN_WAITING)) {
			holders++;
			size_t l = strlen(who);
			snprintf(who + l, sizeof(who) - l, " n%u%s", id,
				 h->rejoin == REJOIN_WAITING ? "(wiped)" : "");
		} else if (lost) {
			back_lost = (int)id;
		}
	}
	if (holders < 2 && back_lost) {
		sim_fail(s, "wiped_ack",
			 "n%u hands out %" PRIu64 "/%" PRIu64
			 " as committed, durable only on [%s ] and on the wiped disk of n%u, "
			 "which is back without it",
			 n->id, i, e->term, who, back_lost);
		return;
	}
	if (holders < 2) {
		sim_fail(s, "commit_not_durable_majority",
			 "n%u hands out %" PRIu64 "/%" PRIu64
			 " as committed, durable only on [%s ]",
			 n->id, i, e->term, who);
		return;
	}
	struct raft_status st;
	raft_status(n->r, node_now_ms(s, n), &st);
	if (i >= c->cap_commits) {
		c->cap_commits *= 2;
		c->commits = sim_xrealloc(c->commits, c->cap_commits * sizeof(*c->commits));
	}
	c->commits[i] =
	    (struct commit_rec){.term = e->term, .chain = chain, .report_term = st.term};
	c->max_commit = i;
	s->stats.commits++;
}

void check_apply(struct sim *s, struct sim_node *n, const struct raft_entry *e)
{
	if (e->index != n->fsm.applied + 1) {
		sim_fail(s, "state_machine_safety", "n%u applies %" PRIu64 " right after %" PRIu64,
			 n->id, e->index, n->fsm.applied);
		return;
	}
	const struct commit_rec *c = check_commit(s, e->index);
	if (!c || c->chain != sim_chain_next(n->fsm.chain, e))
		sim_fail(s, "state_machine_safety",
			 "n%u applies %" PRIu64 "/%" PRIu64
			 " (%s), which is not the committed entry",
			 n->id, e->index, e->term, raft_entry_type_name(e->type));
}

void check_restore(struct sim *s, struct sim_node *n, const struct raft_update *u)
{
	struct fsm_blob_info bi;
	if (!u->has_snapshot || sim_fsm_blob_parse(s, u->snap_data, u->snap_len, &bi)) {
		sim_fail(s, "snapshot",
			 "n%u: restore_snapshot without a valid snapshot in the update", n->id);
		return;
	}
	if (bi.index < n->fsm.applied) {
		sim_fail(s, "state_machine_safety",
			 "n%u restores a snapshot at %" PRIu64
			 ", behind its applied index %" PRIu64,
			 n->id, bi.index, n->fsm.applied);
		return;
	}
	const struct commit_rec *c = check_commit(s, bi.index);
	if (!c || c->chain != bi.chain)
		sim_fail(s, "state_machine_safety",
			 "n%u restores a snapshot at %" PRIu64 "/%" PRIu64
			 " that is not the committed state",
			 n->id, bi.index, bi.term);
}

/* A granted vote or pre-vote from n: the incarnation rules (see top). */
static void check_vote_grant(struct sim *s, struct sim_node *n, const struct raft_msg *m)
{
	bool pre = m->type == RAFT_MSG_PREVOTE_RESP;
	struct raft_status st;
	raft_status(n->r, node_now_ms(s, n), &st);
	const struct duet_member *me = duet_membership_find(&st.conf, n->id);
	uint64_t seen = me ? me->incarnation : 0;
	if (seen != n->incarnation) {
		sim_fail(s, "incarnation_vote",
			 "n%u grants its %s to %u in term %" PRIu64
			 " while its membership gives it incarnation %" PRIu64
			 ", its configuration %" PRIu64,
			 n->id, pre ? "pre-vote" : "vote", m->to, m->term, seen, n->incarnation);
		return;
	}
	if (!rejoin_behind(s, n))
		return;
	/* a pre-vote leaves before the update is durable: the entry in memory will do */
	if (pre && n->rejoin_index && n->rejoin_index <= st.last_index)
		return;
	sim_fail(s, "wiped_vote",
		 "n%u grants its %s to %u in term %" PRIu64
		 " after its disk was wiped, before it durably holds %s (durable log ends at "
		 "%" PRIu64 ")",
		 n->id, pre ? "pre-vote" : "vote", m->to, m->term,
		 n->rejoin_index ? "the MEMBERSHIP that raised its incarnation"
				 : "a MEMBERSHIP raising its incarnation (none was committed)",
		 disk_last_index(&n->disk));
}

void check_send(struct sim *s, struct sim_node *n, const struct raft_msg *m)
{
	const struct sim_disk *d = &n->disk;
	if ((m->type == RAFT_MSG_VOTE_RESP || m->type == RAFT_MSG_PREVOTE_RESP) &&
	    m->vote_resp.granted) {
		check_vote_grant(s, n, m);
		if (s->failed)
			return;
	}
	/* a later durable term also protects the vote: it can never be cast again */
	if (m->type == RAFT_MSG_VOTE_RESP && m->vote_resp.granted && d->term <= m->term &&
	    (d->term != m->term || d->vote != m->to))
		sim_fail(s, "durable_before_reply",
			 "n%u grants its vote to %u in term %" PRIu64
			 " but its durable term/vote is %" PRIu64 "/%u",
			 n->id, m->to, m->term, d->term, d->vote);
	if (m->type == RAFT_MSG_APPEND_RESP && m->append_resp.success &&
	    m->append_resp.match_index > disk_last_index(d))
		sim_fail(s, "durable_before_reply",
			 "n%u acks index %" PRIu64 " to %u, its durable log ends at %" PRIu64,
			 n->id, m->append_resp.match_index, m->to, disk_last_index(d));
}

/* The highest committed index a leader of `term` must hold (see top). */
static uint64_t completeness_required(const struct sim *s, uint64_t term)
{
	for (uint64_t i = s->check.max_commit; i > 1; i--)
		if (s->check.commits[i].report_term < term)
			return i;
	return 0;
}

void check_leader_durable(struct sim *s, struct sim_node *n, uint64_t term)
{
	if (!n->lc_pending || term != n->lc_term)
		return;
	n->lc_pending = false;
	uint64_t req = n->lc_required;
	const struct commit_rec *c = check_commit(s, req);
	if (!c || disk_holds(&n->disk, req, c->chain))
		return;
	sim_fail(s, "leader_completeness",
		 "n%u leads term %" PRIu64 " without committed entry %" PRIu64 "/%" PRIu64
		 " (its durable log ends at %" PRIu64 ")",
		 n->id, term, req, c->term, disk_last_index(&n->disk));
}

static void observe(struct sim *s, struct sim_node *n)
{
	struct raft_status st;
	raft_status(n->r, node_now_ms(s, n), &st);
	if (st.term < n->term)
		sim_fail(s, "term_regression", "n%u: term goes back from %" PRIu64 " to %" PRIu64,
			 n->id, n->term, st.term);
	if (st.role != n->role || st.term != n->term)
		trace_add(s, TR_ROLE, n->id, 0, (uint8_t)st.role, st.term, st.leader,
			  st.commit_index, st.lease_expiry_ms);
	if (st.role == RAFT_LEADER && (n->role != RAFT_LEADER || n->term != st.term)) {
		struct sim_check *c = &s->check;
		if (st.term >= c->n_terms) {
			size_t k = c->n_terms ? c->n_terms : 64;
			while (k <= st.term)
				k *= 2;
			c->term_leader = sim_xrealloc(c->term_leader, k * sizeof(*c->term_leader));
			memset(c->term_leader + c->n_terms, 0,
			       (k - c->n_terms) * sizeof(*c->term_leader));
			c->n_terms = k;
		}
		uint32_t *who = &c->term_leader[st.term];
		if (*who && *who != n->id) {
			sim_fail(s, "leader_per_term", "n%u and n%u both lead term %" PRIu64, *who,
				 n->id, st.term);
		} else if (!*who) {
			*who = n->id;
			s->stats.leader_terms++;
			n->lc_pending = true;
			n->lc_term = st.term;
			n->lc_required = completeness_required(s, st.term);
		}
	}
	n->role = st.role;
	n->term = st.term;
}

static void check_leases(struct sim *s)
{
	uint32_t holders[SIM_NODES];
	int k = 0;
	for (uint32_t id = 1; id <= SIM_NODES; id++) {
		struct sim_node *n = &s->nodes[id];
		if (n->up && raft_lease_valid(n->r, node_now_ms(s, n)))
			holders[k++] = id;
	}
	for (int i = 0; i < k; i++) {
		if (holders[i] == SIM_WITNESS) {
			sim_fail(s, "witness_master", "the witness holds a valid master lease");
			return;
		}
	}
	if (k < 2)
		return;
	char detail[400] = "";
	for (int i = 0; i < k; i++) {
		struct sim_node *n = &s->nodes[holders[i]];
		struct raft_status st;
		uint64_t now = node_now_ms(s, n);
		raft_status(n->r, now, &st);
		size_t l = strlen(detail);
		snprintf(detail + l, sizeof(detail) - l,
			 "%sn%u (%s term %" PRIu64 ", local %" PRIu64 ", expiry %" PRIu64
			 " = real %" PRIu64 " us)",
			 i ? " and " : "", n->id, raft_role_name(st.role), st.term, now,
			 st.lease_expiry_ms, clock_real_at_ms(&n->clock, st.lease_expiry_ms));
	}
	sim_fail(s, "lease", "two valid leases at real %" PRIu64 " us: %s", s->now_us, detail);
}

void check_after_event(struct sim *s, struct sim_node *touched)
{
	if (touched && touched->up)
		observe(s, touched);
	if (!s->failed)
		check_leases(s);
}

bool check_liveness(struct sim *s)
{
	struct sim_check *c = &s->check;
	for (uint32_t id = 1; id <= SIM_NODES && !c->live_leader; id++) {
		struct sim_node *n = &s->nodes[id];
		if (id != SIM_WITNESS && n->up && n->role == RAFT_LEADER &&
		    raft_lease_valid(n->r, node_now_ms(s, n)))
			c->live_leader = true;
	}
	for (uint32_t p = 0; p < c->n_props && !c->live_commit; p++) {
		const struct commit_rec *rec = check_commit(s, c->props[p].index);
		if (!rec || rec->term != c->props[p].term)
			continue;
		bool everywhere = true;
		for (uint32_t id = 1; id <= SIM_NODES; id++)
			everywhere &=
			    s->nodes[id].up && s->nodes[id].fsm.applied >= c->props[p].index;
		c->live_commit = everywhere;
	}
	return c->live_leader && c->live_commit;
}

/* ---- the real fsm (fsm.c) and role/ (role.c) ------------------------------ */

void check_fsm_state(struct sim *s, struct sim_node *n, const char *where)
{
	struct sim_check *c = &s->check;
	const struct fsm *f = &n->fsm.real;
	long len = fsm_snapshot_encode(f, c->fsm_buf, FSM_SNAPSHOT_MAX_BYTES);
	if (len < 0) {
		sim_fail(s, "fsm_agreement", "n%u: the fsm at %" PRIu64 " (%s) does not encode: %s",
			 n->id, f->applied_index, where, duet_strerror((int)len));
		return;
	}
	uint64_t digest = sim_hash_bytes(0x66736d64ull, c->fsm_buf, (size_t)len);
	if (f->applied_index == 0 || f->applied_index > c->max_commit)
		return; /* state_machine_safety speaks for these */
	struct commit_rec *rec = &c->commits[f->applied_index];
	if (!rec->has_fsm) {
		rec->has_fsm = true;
		rec->fsm_digest = digest;
		return;
	}
	if (rec->fsm_digest != digest)
		sim_fail(s, "fsm_agreement",
			 "n%u holds another fsm at %" PRIu64 " (%s: master %u, %" PRIu64
			 " refused, sync of n1/n2 %d/%d) than a member that reached it before",
			 n->id, f->applied_index, where, f->master.node, f->counters.refused,
			 fsm_role_of(f, 1) == FSM_ROLE_SYNC_STANDBY,
			 fsm_role_of(f, 2) == FSM_ROLE_SYNC_STANDBY);
}

void check_fsm_before(const struct sim_node *n, const struct raft_entry *e, struct fsm_pre *pre)
{
	const struct fsm *f = &n->fsm.real;
	memset(pre, 0, sizeof(*pre));
	pre->refused = f->counters.refused;
	if (e->type != RAFT_ENTRY_MASTER || e->index != f->applied_index + 1)
		return;
	pre->master_entry = true;
	pre->decoded = duet_master_decode(e->data, e->len, &pre->m) == 0;
	pre->master = f->master.node;
	if (pre->decoded)
		pre->target_role = fsm_role_of(f, pre->m.node);
}

/* The MASTER rule of DESIGN.md 4, as fsm.h states it: would f take m? */
static bool master_allowed(uint32_t master, int target_role, const struct duet_master *m)
{
	if (target_role != FSM_ROLE_SYNC_STANDBY && target_role != FSM_ROLE_ASYNC_STANDBY)
		return false;
	switch (m->reason) {
	case DUET_MASTER_FIRST_START:
		return master == 0;
	case DUET_MASTER_FAILOVER:
	case DUET_MASTER_SWITCHOVER:
		return target_role == FSM_ROLE_SYNC_STANDBY && m->previous == master;
	case DUET_MASTER_FORCED:
		return m->previous == master;
	}
	return false;
}

void check_role_proposed(struct sim *s, struct sim_node *n, uint64_t index, uint64_t term,
			 const struct duet_master *m)
{
	struct sim_check *c = &s->check;
	const struct fsm *f = &n->fsm.real;
	if (c->n_role_props == c->cap_role_props) {
		c->cap_role_props = c->cap_role_props ? c->cap_role_props * 2 : 16;
		c->role_props =
		    sim_xrealloc(c->role_props, c->cap_role_props * sizeof(*c->role_props));
	}
	c->role_props[c->n_role_props++] = (struct role_prop){
	    .index = index,
	    .term = term,
	    .applied_at = f->applied_index,
	    .node = n->id,
	    .reason = m->reason,
	    .expect_ok = master_allowed(f->master.node, fsm_role_of(f, m->node), m),
	};
}

static const struct role_prop *find_role_prop(const struct sim *s, uint64_t index, uint64_t term)
{
	const struct sim_check *c = &s->check;
	for (size_t i = c->n_role_props; i > 0; i--)
		if (c->role_props[i - 1].index == index && c->role_props[i - 1].term == term)
			return &c->role_props[i - 1];
	return NULL;
}

void check_fsm_after(struct sim *s, struct sim_node *n, const struct raft_entry *e,
		     const struct fsm_pre *pre, const struct fsm_result *res)
{
	struct sim_check *c = &s->check;
	const struct fsm *f = &n->fsm.real;
	bool refused = res->outcome == FSM_REFUSED;
	if (e->index > 0 && e->index <= c->max_commit && !c->commits[e->index].has_fsm)
		s->stats.fsm_refused += refused; /* once per index: the first member to apply it */
	if (res->outcome != FSM_STALE && f->counters.refused != pre->refused + (refused ? 1 : 0)) {
		sim_fail(s, "master_only_by_rule",
			 "n%u: entry %" PRIu64 " (%s) %s, the fsm's refusal counter went from "
			 "%" PRIu64 " to %" PRIu64,
			 n->id, e->index, raft_entry_type_name(e->type),
			 refused ? "refused" : "applied", pre->refused, f->counters.refused);
		return;
	}
	if (!pre->master_entry || res->outcome == FSM_STALE)
		return;
	const struct duet_master *m = &pre->m;
	bool first = e->index > 0 && e->index <= c->max_commit && !c->commits[e->index].has_fsm;
	if (first)
		s->stats.fsm_masters += !refused;
	if (!refused) {
		/* at any applied index the fsm names one DATA member, by the rule */
		bool by_rule =
		    pre->decoded && (pre->target_role == FSM_ROLE_SYNC_STANDBY ||
				     (pre->target_role == FSM_ROLE_ASYNC_STANDBY &&
				      (pre->master == 0 || m->reason == DUET_MASTER_FORCED)));
		if (!by_rule || f->master.node != m->node || f->master.node == SIM_WITNESS) {
			sim_fail(s, "master_only_by_rule",
				 "n%u: MASTER %" PRIu64 "/%" PRIu64
				 " applied for n%u (%s), which was %s under master n%u; the fsm "
				 "names n%u",
				 n->id, e->index, e->term, m->node,
				 fsm_master_reason_name(m->reason), fsm_role_name(pre->target_role),
				 pre->master, f->master.node);
			return;
		}
		if (e->term >= c->n_term_master) {
			size_t k = c->n_term_master ? c->n_term_master : 64;
			while (k <= e->term)
				k *= 2;
			c->term_master = sim_xrealloc(c->term_master, k * sizeof(*c->term_master));
			memset(c->term_master + c->n_term_master, 0,
			       (k - c->n_term_master) * sizeof(*c->term_master));
			c->n_term_master = k;
		}
		uint64_t *at = &c->term_master[e->term];
		if (*at && *at != e->index) {
			sim_fail(s, "one_master_per_term",
				 "n%u applies MASTER(n%u) at %" PRIu64 " in term %" PRIu64
				 "; MASTER %" PRIu64 " of that term was applied too",
				 n->id, m->node, e->index, e->term, *at);
			return;
		}
		*at = e->index;
	}
	const struct role_prop *rp = find_role_prop(s, e->index, e->term);
	if (!rp || rp->expect_ok == !refused)
		return;
	/* a MEMBERSHIP since the proposal may have changed a SYNC (a rejoin) */
	if (n->fsm.last_membership > rp->applied_at)
		return;
	sim_fail(s, "master_only_by_rule",
		 "n%u: role/ on n%u proposed MASTER %" PRIu64 "/%" PRIu64
		 " (%s) from its fsm at %" PRIu64 ", where the rule %s it; the fsm here %s it%s%s",
		 n->id, rp->node, e->index, e->term, fsm_master_reason_name(rp->reason),
		 rp->applied_at, rp->expect_ok ? "accepts" : "refuses",
		 refused ? "refused" : "applied", refused ? ": " : "",
		 refused ? f->last_refusal.why : "");
}
