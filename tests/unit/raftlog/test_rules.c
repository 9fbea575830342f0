/* SPDX-License-Identifier: MIT */
/*
 * test_rules.c - rules that the simulator rarely or never exercises (see its
 * mutation runs), pinned on a single core driven by hand-made messages:
 * the vote guard right after a restart, TimeoutNow admission, Raft's
 * "figure 8" rule (never commit an earlier term's entry by counting
 * replicas), and the bound on uncommitted entries.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "duet/raftlog.h"

static struct duet_membership conf;
static struct raft *r;
static uint8_t boot_buf[4096];
static struct raft_entry log_entries[4];
static uint8_t payload[8] = "payload";

static void make_conf(void)
{
	memset(&conf, 0, sizeof(conf));
	conf.n = 3;
	for (uint32_t i = 0; i < 3; i++) {
		conf.members[i].id = i + 1;
		conf.members[i].kind = i == 2 ? DUET_MEMBER_WITNESS : DUET_MEMBER_DATA;
		conf.members[i].incarnation = 1;
		strcpy(conf.members[i].name, i == 2 ? "witness" : "node");
	}
}

/* Node 1 with log [boot(1, t1), HEALTH(2, t2)], current term 3. */
static void load_node1(uint64_t now, struct raft_config *cfg_out)
{
	make_conf();
	struct raft_config cfg;
	raft_config_default(&cfg);
	cfg.self_id = 1;
	cfg.seed = 5;
	if (cfg_out)
		cfg = *cfg_out, cfg.self_id = 1;
	cr_assert_eq(raft_new(&cfg, &r), 0);
	cr_assert_eq(raft_bootstrap_entry(&conf, &log_entries[0], boot_buf, sizeof(boot_buf)), 0);
	log_entries[1] = (struct raft_entry){.term = 2,
					     .index = 2,
					     .type = RAFT_ENTRY_HEALTH,
					     .len = sizeof(payload),
					     .data = payload};
	struct raft_load_state st = {.term = 3, .entries = log_entries, .n_entries = 2};
	cr_assert_eq(raft_load(r, &st, now), 0);
}

static void finish(void)
{
	raft_free(r);
	r = NULL;
}

/* Hands out every update at once; counts messages of `type` sent. */
static int drain(uint64_t now, uint8_t type)
{
	int count = 0;
	struct raft_update u;
	while (raft_ready(r, &u) == 0) {
		for (size_t i = 0; i < u.n_msgs; i++)
			count += u.msgs[i].type == type;
		cr_assert_eq(raft_persisted(r, now, &u), 0);
		for (size_t i = 0; i < u.n_msgs_after; i++)
			count += u.msgs_after[i].type == type;
		raft_update_free(&u);
	}
	return count;
}

static void step(uint64_t now, struct raft_msg m)
{
	m.to = 1;
	m.from_incarnation = 1;
	cr_assert_eq(raft_step(r, now, &m), 0);
}

static struct raft_status status(uint64_t now)
{
	struct raft_status st;
	raft_status(r, now, &st);
	return st;
}

/* Makes node 1 leader of term 4 with node 2's votes. */
static void elect_node1(uint64_t *now)
{
	*now += 5000; /* past any election timeout */
	cr_assert_eq(raft_tick(r, *now), 0);
	cr_assert_eq(status(*now).role, RAFT_PRECANDIDATE);
	cr_assert_eq(drain(*now, RAFT_MSG_PREVOTE), 2);
	step(*now,
	     (struct raft_msg){
		 .type = RAFT_MSG_PREVOTE_RESP, .from = 2, .term = 4, .vote_resp.granted = 1});
	cr_assert_eq(status(*now).role, RAFT_CANDIDATE);
	cr_assert_eq(drain(*now, RAFT_MSG_VOTE), 2);
	step(*now, (struct raft_msg){
		       .type = RAFT_MSG_VOTE_RESP, .from = 2, .term = 4, .vote_resp.granted = 1});
	cr_assert_eq(status(*now).role, RAFT_LEADER);
	cr_assert_eq(status(*now).term, 4);
	drain(*now, 0);
}

TestSuite(rules, .fini = finish);

Test(rules, restarted_member_ignores_votes_for_one_election_timeout)
{
	uint64_t boot = 10000;
	load_node1(boot, NULL);
	struct raft_msg vote = {.type = RAFT_MSG_VOTE, .from = 2, .term = 4};
	vote.vote.last_index = 2;
	vote.vote.last_term = 2;
	/* it may have acknowledged a leader just before it went down */
	step(boot + 10, vote);
	cr_assert_eq(status(boot + 10).term, 3, "a vote request right after restart is ignored");
	cr_assert_eq(status(boot + 10).counters.ignored_votes_lease, 1);
	cr_assert_eq(drain(boot + 10, RAFT_MSG_VOTE_RESP), 0);
	/* once election_timeout_min has passed, it votes */
	step(boot + 801, vote);
	cr_assert_eq(status(boot + 801).term, 4);
	cr_assert_eq(status(boot + 801).vote, 2);
	cr_assert_eq(drain(boot + 801, RAFT_MSG_VOTE_RESP), 1);
}

Test(rules, timeout_now_only_from_the_current_leader_in_its_term)
{
	uint64_t now = 10000;
	load_node1(now, NULL);
	/* node 2 leads term 3 */
	struct raft_msg hb = {.type = RAFT_MSG_APPEND, .from = 2, .term = 3};
	hb.append.prev_index = 2;
	hb.append.prev_term = 2;
	hb.append.lease_ts = 1;
	step(now, hb);
	cr_assert_eq(status(now).leader, 2);
	drain(now, 0);

	step(now + 1, (struct raft_msg){.type = RAFT_MSG_TIMEOUT_NOW, .from = 3, .term = 3});
	cr_assert_eq(status(now + 1).role, RAFT_FOLLOWER, "TimeoutNow from a non-leader ignored");
	step(now + 2, (struct raft_msg){.type = RAFT_MSG_TIMEOUT_NOW, .from = 2, .term = 2});
	cr_assert_eq(status(now + 2).role, RAFT_FOLLOWER, "TimeoutNow of an old term ignored");
	cr_assert_eq(status(now + 2).term, 3);

	step(now + 3, (struct raft_msg){.type = RAFT_MSG_TIMEOUT_NOW, .from = 2, .term = 3});
	struct raft_status st = status(now + 3);
	cr_assert_eq(st.role, RAFT_CANDIDATE, "the leader's TimeoutNow starts a campaign at once");
	cr_assert_eq(st.term, 4);
	cr_assert_eq(st.last_election_reason, RAFT_ELECTION_TRANSFER);
	/* its vote requests carry the transfer flag */
	struct raft_update u;
	cr_assert_eq(raft_ready(r, &u), 0);
	cr_assert_eq(u.n_msgs_after, 2);
	cr_assert_eq(u.msgs_after[0].type, RAFT_MSG_VOTE);
	cr_assert(u.msgs_after[0].vote.transfer);
	cr_assert_eq(raft_persisted(r, now + 3, &u), 0);
	raft_update_free(&u);
}

Test(rules, earlier_term_entry_is_not_committed_by_counting_replicas)
{
	uint64_t now = 10000;
	load_node1(now, NULL);
	elect_node1(&now);
	/* log: boot(1,t1) HEALTH(2,t2) NOOP(3,t4); node 2 holds up to index 2 */
	struct raft_msg ack = {.type = RAFT_MSG_APPEND_RESP, .from = 2, .term = 4};
	ack.append_resp.success = 1;
	ack.append_resp.match_index = 2;
	ack.append_resp.last_index = 2;
	ack.append_resp.lease_ts = now;
	step(now, ack);
	drain(now, 0);
	cr_assert_eq(status(now).commit_index, 0,
		     "index 2 is on a majority but from term 2: not committed (Raft figure 8)");
	ack.append_resp.match_index = 3;
	ack.append_resp.last_index = 3;
	step(now, ack);
	cr_assert_eq(status(now).commit_index, 3, "the term-4 no-op commits, and with it index 2");
}

Test(rules, proposals_stop_at_the_uncommitted_limit)
{
	uint64_t now = 10000;
	struct raft_config cfg;
	raft_config_default(&cfg);
	cfg.max_uncommitted_entries = 5;
	load_node1(now, &cfg);
	elect_node1(&now); /* indexes 1..3 (up to the no-op) are not committed yet */
	for (int i = 0; i < 2; i++)
		cr_assert_eq(raft_propose(r, now, RAFT_ENTRY_STEP, 0, payload, 4, NULL), 0);
	cr_assert_eq(raft_propose(r, now, RAFT_ENTRY_STEP, 0, payload, 4, NULL), DUET_EBUSY,
		     "a sixth uncommitted entry is refused");
	struct raft_msg ack = {.type = RAFT_MSG_APPEND_RESP, .from = 2, .term = 4};
	ack.append_resp.success = 1;
	ack.append_resp.match_index = 5;
	ack.append_resp.last_index = 5;
	ack.append_resp.lease_ts = now;
	drain(now, 0);
	step(now, ack);
	cr_assert_eq(status(now).commit_index, 5);
	cr_assert_eq(raft_propose(r, now, RAFT_ENTRY_STEP, 0, payload, 4, NULL), 0,
		     "room again once entries commit");
}
