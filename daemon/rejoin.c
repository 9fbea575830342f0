/* SPDX-License-Identifier: MIT */
/*
 * rejoin.c - the consensus half of `duetctl rejoin` (DESIGN.md 3, incarnations,
 * and 6): a member whose store was lost comes back under a new incarnation.
 *
 * Member side. duetctl rejoin moves the old data_dir aside and writes the
 * marker file <data_dir>.rejoin (two lines: who, why). A member that starts
 * with the marker present creates a fresh store (bootstrap entry only) and
 * runs in rejoin mode: the raft core is loaded but gets no tick and no
 * message, and sends none, so it can neither vote nor campaign nor ack under
 * the bootstrap incarnation. Every NODE_REJOIN_ASK_MS it sends every peer a
 * NODE_FRAME_REJOIN frame: OPERATOR(REJOIN, node = itself, incarnation 0,
 * who, why). Only the data-node leader acts on it; the others ignore it (the
 * member asks everyone, so no forwarding is needed in a three-member
 * cluster). When the answer NODE_FRAME_REJOIN_ANSWER carries an incarnation,
 * the member stores it (store_set_incarnation, durable), removes the marker
 * (and syncs the directory), and restarts its raft core with
 * self_incarnation = the new one. Its own view still has the old incarnation
 * for it until the MEMBERSHIP entry arrives from the leader, so the core
 * does not vote before it has caught up that far (raftlog/election.c).
 *
 * Leader side (a data node; the witness never proposes, and says so). On a
 * request from X it refuses, with a reason X shows in its status, when X is
 * master in the applied log, or when another member's rejoin is pending.
 * Else it proposes OPERATOR(REJOIN, X, n+1, who, why) and MEMBERSHIP = the
 * membership in force with X's incarnation n+1 (everything else equal), and
 * answers n+1 once it has applied that MEMBERSHIP, still leading the term it
 * proposed in (else it forgets the request; X asks again).
 *
 * Repeated requests: while a proposal for X is pending, requests from X are
 * absorbed. A request carries the id of the store X asks from (after the
 * OPERATOR encoding, u64; storage.h), and the MEMBERSHIP binds n+1 to it. A
 * later request from that same store (the answer was lost, or X was
 * interrupted before it stored n+1) gets n+1 again: X removes its marker
 * only after storing n+1 and runs raft only after that, so a store that
 * still asks never ran raft under n+1. Any other request - from another
 * store, or without an id - raises the incarnation again: always safe, it
 * only costs an entry. Nothing depends on which raft messages the leader
 * happened to hear.
 *
 * Store ids. Every store has a random id; raft messages carry it, and the
 * MEMBERSHIP binds each member's incarnation to one (raftlog.h: a message
 * from another store under a bound incarnation is refused, and such a
 * member does not vote). The data-node leader binds what is not bound yet:
 * its own store, and each peer's as the peer's raft messages say it under
 * the incarnation in force (bind_step). So a store made again under
 * an old incarnation - wiped, then duetctl init while the peers could not be
 * reached - fails closed: its peers refuse it, say so in their log, and it
 * comes back only by duetctl rejoin.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "duet/wire.h"
#include "node_internal.h"
#include "status.h"

#define NODE_REJOIN_ASK_MS  200u   /* asks are cheap: the leader absorbs repeats */
#define NODE_REJOIN_WARN_MS 30000u /* the log repeats why this member is silent */

static const char *state_name(int s)
{
	return s == NODE_REJOIN_WAITING       ? "waiting_for_leader"
	       : s == NODE_REJOIN_CATCHING_UP ? "catching_up"
	       : s == NODE_REJOIN_DONE        ? "rejoined"
					      : "none";
}

/* Copies s into out[cap], cut to fit. */
static void copy_cut(char *out, size_t cap, const char *s)
{
	size_t len = strnlen(s, cap - 1);
	memcpy(out, s, len);
	out[len] = 0;
}

static void marker_path(const struct node *n, char *out, size_t cap)
{
	snprintf(out, cap, "%s.rejoin", n->cfg.data_dir);
}

int rejoin_open(struct node *n)
{
	char path[PATH_MAX + 16];
	marker_path(n, path, sizeof path);
	FILE *f = fopen(path, "r");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		duet_log(DUET_LOG_ERROR, "cannot read the rejoin marker %s: %s", path,
			 strerror(errno));
		return -errno;
	}
	char line[600];
	if (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = 0;
		copy_cut(n->rejoin.who, sizeof n->rejoin.who, line);
	}
	if (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = 0;
		copy_cut(n->rejoin.why, sizeof n->rejoin.why, line);
	}
	fclose(f);
	n->rejoin.state = NODE_REJOIN_WAITING;
	/* written by rejoin_enter_auto() at an earlier start */
	n->rejoin.automatic = n->prog && strcmp(n->rejoin.who, n->prog) == 0;
	duet_log(DUET_LOG_INFO,
		 "rejoin marker %s present: rejoin mode, no vote until the leader records a new "
		 "incarnation for %s",
		 path, n->cfg.node_name);
	return 0;
}

static int sync_dir_of(const char *path);

int rejoin_enter_auto(struct node *n)
{
	char path[PATH_MAX + 16];
	marker_path(n, path, sizeof path);
	snprintf(n->rejoin.who, sizeof n->rejoin.who, "%s", n->prog ? n->prog : "duetd");
	snprintf(n->rejoin.why, sizeof n->rejoin.why,
		 "no store at start (a first start without duetctl init, a wiped or replaced "
		 "disk, or a state volume that is not mounted)");
	char buf[sizeof n->rejoin.who + sizeof n->rejoin.why + 4];
	int len = snprintf(buf, sizeof buf, "%s\n%s\n", n->rejoin.who, n->rejoin.why);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int rc = fd < 0 ? -errno : 0;
	if (rc == 0 && (write(fd, buf, (size_t)len) != len || fsync(fd) != 0))
		rc = errno ? -errno : -EIO;
	if (fd >= 0)
		close(fd);
	if (rc == 0)
		rc = sync_dir_of(path);
	if (rc) {
		duet_log(DUET_LOG_ERROR,
			 "no store at %s, and the rejoin marker %s cannot be written (%s); "
			 "exiting: a member without its store must not run",
			 n->cfg.data_dir, path, strerror(-rc));
		return rc;
	}
	n->rejoin.state = NODE_REJOIN_WAITING;
	n->rejoin.automatic = true;
	duet_log(DUET_LOG_ERROR,
		 "NO STORE at %s: this member has forgotten its votes and every entry it "
		 "acknowledged (a first start without duetctl init, a wiped or replaced disk, or a "
		 "state volume that is not mounted). It does not vote or acknowledge: rejoin mode "
		 "(marker %s), asking the cluster for a new incarnation. In a running cluster "
		 "nothing more is needed: it rejoins once a data-node leader answers. For a NEW "
		 "cluster, stop it and run `duetctl init --config %s` on the members first.",
		 n->cfg.data_dir, path, n->config_path ? n->config_path : "FILE");
	return 0;
}

bool rejoin_waiting(const struct node *n)
{
	return n->rejoin.state == NODE_REJOIN_WAITING;
}

static void send_answer(struct node *n, uint32_t to, uint64_t inc, uint64_t index, const char *text)
{
	uint8_t buf[8 + 8 + 256];
	struct wire_writer w;
	wire_writer_init(&w, buf, sizeof buf);
	wire_put_u64(&w, inc);
	wire_put_u64(&w, index);
	size_t len = strlen(text);
	if (len > 255)
		len = 255;
	wire_put_bytes(&w, text, len);
	if (n->xport &&
	    xport_send(n->xport, to, NODE_FRAME_REJOIN_ANSWER, buf, (uint32_t)(16 + len)) != 0)
		n->sends_failed++;
}

static void refuse(struct node *n, uint32_t to, const char *fmt, const char *a, const char *b)
{
	char text[256];
	snprintf(text, sizeof text, fmt, a, b);
	duet_log(DUET_LOG_WARN, "rejoin request refused: %s", text);
	send_answer(n, to, 0, 0, text);
}

static void leader_request(struct node *n, uint32_t from, const struct duet_operator *req,
			   uint64_t store_id)
{
	uint64_t now = node_now_ms();
	struct raft_status st;
	raft_status(n->raft, now, &st);
	const struct duet_member *m = duet_membership_find(&st.conf, from);
	if (st.role != RAFT_LEADER || !m)
		return; /* the member asks every peer; the leader answers */
	if (n->cfg.self_kind != DUET_MEMBER_DATA) {
		refuse(n, from,
		       "the witness %s leads for the moment (it hands leadership to a "
		       "data node)%s; asking again",
		       n->cfg.node_name, "");
		return;
	}
	if (n->fsm.master.node == from) {
		refuse(n, from,
		       "%s is master in the log: a rejoin of the master is refused while it is "
		       "master; wait for the failover (duetctl status)%s",
		       m->name, "");
		return;
	}
	struct node_rejoin_lead *rl = &n->rejoin_lead;
	if (rl->active && rl->term == st.term) {
		if (rl->node != from)
			refuse(n, from, "the rejoin of another member is pending%s%s; asking again",
			       "", "");
		return; /* pending: the answer comes once applied */
	}
	rl->active = false;
	if (store_id && m->store_id == store_id) {
		/* the incarnation in force is bound to the store that asks: the
		 * answer was lost, or it stopped before storing it; a store that
		 * still asks never ran raft under it (see the top) */
		duet_log(DUET_LOG_INFO,
			 "rejoin of %s asked again from store %016" PRIx64 ": incarnation %" PRIu64
			 " is bound to it; answered again",
			 m->name, store_id, m->incarnation);
		send_answer(n, from, m->incarnation, st.commit_index, "");
		return;
	}
	struct duet_operator op = *req;
	op.command = DUET_OP_REJOIN;
	op.node = from;
	op.target = 0;
	op.incarnation = m->incarnation + 1;
	op.who[sizeof op.who - 1] = 0;
	op.why[sizeof op.why - 1] = 0;
	struct duet_membership conf = st.conf;
	for (uint32_t i = 0; i < conf.n; i++)
		if (conf.members[i].id == from) {
			conf.members[i].incarnation = op.incarnation;
			conf.members[i].store_id = store_id; /* 0: bound when heard */
		}
	uint8_t obuf[1024], mbuf[4096];
	long olen = duet_operator_encode(&op, obuf, sizeof obuf);
	long mlen = duet_membership_encode(&conf, mbuf, sizeof mbuf);
	uint64_t idx = 0;
	int rc = olen < 0 ? (int)olen : mlen < 0 ? (int)mlen : 0;
	if (rc == 0)
		rc = ctl_propose(n, RAFT_ENTRY_OPERATOR, obuf, (uint32_t)olen, NULL);
	if (rc == 0)
		rc = ctl_propose(n, RAFT_ENTRY_MEMBERSHIP, mbuf, (uint32_t)mlen, &idx);
	if (rc) {
		refuse(n, from, "the leader cannot propose the rejoin entries: %s%s",
		       duet_strerror(rc), "");
		return;
	}
	rl->active = true;
	rl->node = from;
	rl->incarnation = op.incarnation;
	rl->term = st.term;
	rl->index = idx;
	duet_log(DUET_LOG_INFO,
		 "rejoin of %s by %s (%s): proposed OPERATOR(rejoin) and MEMBERSHIP with "
		 "incarnation %" PRIu64 " at entry %" PRIu64,
		 m->name, op.who, op.why, op.incarnation, idx);
}

static void member_answer(struct node *n, uint32_t from, const uint8_t *p, uint32_t len)
{
	if (len < 16)
		return;
	struct wire_reader r;
	wire_reader_init(&r, p, len);
	uint64_t inc = wire_get_u64(&r);
	uint64_t index = wire_get_u64(&r);
	uint32_t tl = len - 16 > 255 ? 255 : len - 16;
	char text[256];
	memcpy(text, p + 16, tl);
	text[tl] = 0;
	if (!rejoin_waiting(n))
		return;
	const struct duet_member *me = duet_membership_find(&n->cfg.membership, n->cfg.self_id);
	if (inc == 0 || !me || inc <= me->incarnation) {
		snprintf(n->rejoin.answer, sizeof n->rejoin.answer, "%s", text);
		return;
	}
	const struct duet_member *m = duet_membership_find(&n->cfg.membership, from);
	duet_log(DUET_LOG_INFO, "rejoin: %s recorded incarnation %" PRIu64 " at entry %" PRIu64,
		 m ? m->name : "?", inc, index);
	n->rejoin.pending_inc = inc;
	n->rejoin.entry_index = index;
	snprintf(n->rejoin.answer, sizeof n->rejoin.answer, "incarnation %" PRIu64 " recorded",
		 inc);
}

void rejoin_frame(struct node *n, uint32_t from, uint8_t type, const uint8_t *p, uint32_t len)
{
	if (type == NODE_FRAME_REJOIN_ANSWER) {
		member_answer(n, from, p, len);
		return;
	}
	/* OPERATOR then the asker's store id; without the id: an older duetd */
	struct duet_operator op;
	uint64_t store_id = 0;
	int rc = DUET_ETRUNCATED;
	if (len > 8 && (rc = duet_operator_decode(p, len - 8, &op)) == 0) {
		struct wire_reader r;
		wire_reader_init(&r, p + len - 8, 8);
		store_id = wire_get_u64(&r);
	} else {
		rc = duet_operator_decode(p, len, &op);
	}
	if (rc != 0 || op.command != DUET_OP_REJOIN || op.node != from) {
		n->frames_bad++;
		duet_log(DUET_LOG_WARN,
			 "rejoin request from member %" PRIu32
			 " does not decode or is about another node; dropped",
			 from);
		return;
	}
	leader_request(n, from, &op, store_id);
}

void rejoin_heard_raft(struct node *n, uint32_t from, uint64_t incarnation, uint64_t store_id)
{
	struct node_rejoin_lead *rl = &n->rejoin_lead;
	for (uint32_t i = 0; i < DUET_MAX_MEMBERS; i++)
		if (rl->seen[i].id == from || rl->seen[i].id == 0) {
			rl->seen[i].id = from;
			rl->seen[i].incarnation = incarnation;
			rl->seen[i].store_id = store_id;
			return;
		}
}

static int sync_dir_of(const char *path)
{
	char dir[PATH_MAX + 16];
	copy_cut(dir, sizeof dir, path);
	char *slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = 0;
	else if (slash)
		*slash = 0;
	else
		snprintf(dir, sizeof dir, ".");
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) ? -errno : 0;
	close(fd);
	return rc;
}

static void member_step(struct node *n, uint64_t now)
{
	if (n->rejoin.pending_inc && !n->member.persisting) {
		uint64_t inc = n->rejoin.pending_inc;
		n->rejoin.pending_inc = 0;
		int rc = store_set_incarnation(n->store, inc);
		if (rc)
			node_fatal_storage(n, "rejoin: store_set_incarnation", rc);
		char path[PATH_MAX + 16];
		marker_path(n, path, sizeof path);
		if (unlink(path) != 0 || sync_dir_of(path) != 0) {
			duet_log(DUET_LOG_ERROR, "rejoin: cannot remove the marker %s: %s; exiting",
				 path, strerror(errno));
			exit(1);
		}
		if (node_restart_raft(n) != 0)
			exit(1);
		n->rejoin.state = NODE_REJOIN_CATCHING_UP;
		duet_log(DUET_LOG_INFO,
			 "rejoin: incarnation %" PRIu64 " stored, marker removed; catching up "
			 "(no vote until this member's own log records the new incarnation)",
			 inc);
		node_drive_later(n);
		return;
	}
	if (rejoin_waiting(n) && now - n->rejoin.last_warn_ms >= NODE_REJOIN_WARN_MS) {
		if (n->rejoin.last_warn_ms)
			duet_log(DUET_LOG_WARN,
				 "rejoin mode%s: still no new incarnation after %" PRIu64
				 " requests (%s); this member neither votes nor acknowledges",
				 n->rejoin.automatic ? " (no store at start)" : "", n->rejoin.asked,
				 n->rejoin.answer[0] ? n->rejoin.answer
						     : "no data-node leader has answered");
		n->rejoin.last_warn_ms = now;
	}
	if (rejoin_waiting(n) && now - n->rejoin.last_ask_ms >= NODE_REJOIN_ASK_MS && n->xport) {
		n->rejoin.last_ask_ms = now;
		n->rejoin.asked++;
		struct duet_operator op;
		memset(&op, 0, sizeof op);
		op.command = DUET_OP_REJOIN;
		op.node = n->cfg.self_id;
		snprintf(op.who, sizeof op.who, "%s", n->rejoin.who[0] ? n->rejoin.who : "unknown");
		snprintf(op.why, sizeof op.why, "%s",
			 n->rejoin.why[0] ? n->rejoin.why : "(no reason given)");
		uint8_t buf[1024 + 8];
		long len = duet_operator_encode(&op, buf, sizeof buf - 8);
		if (len > 0) { /* the store asking: see the top */
			struct wire_writer w;
			wire_writer_init(&w, buf + len, 8);
			wire_put_u64(&w, n->store_id);
			len += 8;
		}
		for (uint32_t i = 0; len > 0 && i < n->cfg.membership.n; i++) {
			uint32_t id = n->cfg.membership.members[i].id;
			if (id != n->cfg.self_id)
				(void)xport_send(n->xport, id, NODE_FRAME_REJOIN, buf,
						 (uint32_t)len);
		}
	}
	if (n->rejoin.state == NODE_REJOIN_CATCHING_UP) {
		struct raft_status st;
		raft_status(n->raft, now, &st);
		const struct duet_member *me = duet_membership_find(&st.conf, n->cfg.self_id);
		if (me && me->incarnation == n->incarnation) {
			n->rejoin.state = NODE_REJOIN_DONE;
			duet_log(DUET_LOG_INFO,
				 "rejoin: caught up to the MEMBERSHIP naming incarnation %" PRIu64
				 "; this member votes again",
				 n->incarnation);
			/* DESIGN.md 6 step 3: now the local PostgreSQL */
			ctl_rebuild_start(n, "rejoin");
		}
	}
}

static void leader_step(struct node *n, uint64_t now)
{
	struct node_rejoin_lead *rl = &n->rejoin_lead;
	if (!rl->active)
		return;
	struct raft_status st;
	raft_status(n->raft, now, &st);
	if (st.role != RAFT_LEADER || st.term != rl->term) {
		rl->active = false; /* the member asks again, whoever leads */
		return;
	}
	if (n->fsm.applied_index < rl->index)
		return;
	rl->active = false;
	send_answer(n, rl->node, rl->incarnation, rl->index, "");
	duet_log(DUET_LOG_INFO,
		 "rejoin: incarnation %" PRIu64 " of member %" PRIu32 " committed at entry %" PRIu64
		 "; answered",
		 rl->incarnation, rl->node, rl->index);
}

/* ---- store ids ------------------------------------------------------------ */

#define NODE_REFUSED_STORE_LOG_MS 30000u
#define NODE_BIND_CHECK_MS        100u /* raft_status copies the membership: not every turn */

static const struct duet_member *seen_foreign(const struct node *n,
					      const struct duet_membership *conf, uint64_t *said)
{
	const struct node_rejoin_lead *rl = &n->rejoin_lead;
	for (uint32_t i = 0; i < DUET_MAX_MEMBERS && rl->seen[i].id; i++) {
		const struct duet_member *m = duet_membership_find(conf, rl->seen[i].id);
		if (m && m->store_id && rl->seen[i].incarnation == m->incarnation &&
		    rl->seen[i].store_id != m->store_id) {
			*said = rl->seen[i].store_id;
			return m;
		}
	}
	return NULL;
}

/* Says, loudly and at most every 30 s, that a peer's messages are refused
 * because they come from another store than its incarnation's. */
static void refused_store_log(struct node *n, const struct raft_status *st, uint64_t now)
{
	struct node_rejoin_lead *rl = &n->rejoin_lead;
	if (st->counters.refused_store <= rl->refused_store_logged)
		return;
	if (rl->refused_store_log_ms && now - rl->refused_store_log_ms < NODE_REFUSED_STORE_LOG_MS)
		return;
	uint64_t said = 0;
	const struct duet_member *m = seen_foreign(n, &st->conf, &said);
	rl->refused_store_logged = st->counters.refused_store;
	rl->refused_store_log_ms = now;
	duet_log(DUET_LOG_ERROR,
		 "%" PRIu64
		 " raft messages refused so far from %s: they come from store %016" PRIx64
		 ", but incarnation %" PRIu64 " of %s is bound to store %016" PRIx64
		 ". That store was wiped and made again (duetctl init while its peers could not "
		 "be reached, or a copy of another store): it has forgotten its votes and "
		 "entries. Bring it back with `duetctl rejoin` on it.",
		 st->counters.refused_store, m ? m->name : "a member", said, m ? m->incarnation : 0,
		 m ? m->name : "it", m ? m->store_id : 0);
}

/* The data-node leader binds the incarnations in force to their stores:
 * its own, and each peer's as its raft messages say it. One MEMBERSHIP at
 * a time, none while a rejoin's is pending. */
static void bind_step(struct node *n, uint64_t now)
{
	struct node_rejoin_lead *rl = &n->rejoin_lead;
	if (rl->bind_check_ms && now - rl->bind_check_ms < NODE_BIND_CHECK_MS)
		return;
	rl->bind_check_ms = now;
	struct raft_status st;
	raft_status(n->raft, now, &st);
	refused_store_log(n, &st, now);
	if (n->cfg.self_kind != DUET_MEMBER_DATA || st.role != RAFT_LEADER ||
	    st.lease_expiry_ms <= now || rl->active)
		return;
	if (rl->bind_index && st.commit_index < rl->bind_index)
		return; /* in flight */
	rl->bind_index = 0;
	struct duet_membership conf = st.conf;
	char what[256] = "";
	size_t used = 0;
	for (uint32_t i = 0; i < conf.n; i++) {
		struct duet_member *m = &conf.members[i];
		if (m->store_id)
			continue;
		uint64_t id = 0;
		if (m->id == n->cfg.self_id) {
			if (m->incarnation == n->incarnation)
				id = n->store_id;
		} else {
			for (uint32_t k = 0; k < DUET_MAX_MEMBERS && rl->seen[k].id; k++)
				if (rl->seen[k].id == m->id &&
				    rl->seen[k].incarnation == m->incarnation)
					id = rl->seen[k].store_id;
		}
		if (!id)
			continue;
		m->store_id = id;
		int w = snprintf(what + used, sizeof what - used, "%s%s=%016" PRIx64,
				 used ? ", " : "", m->name, id);
		if (w > 0 && (size_t)w < sizeof what - used)
			used += (size_t)w;
	}
	if (!used)
		return;
	uint8_t buf[4096];
	long len = duet_membership_encode(&conf, buf, sizeof buf);
	uint64_t idx = 0;
	int rc =
	    len < 0 ? (int)len : ctl_propose(n, RAFT_ENTRY_MEMBERSHIP, buf, (uint32_t)len, &idx);
	if (rc)
		return; /* ctl_propose logged it; retried at the next turn */
	rl->bind_index = idx;
	duet_log(DUET_LOG_INFO,
		 "binding incarnations to stores (MEMBERSHIP at entry %" PRIu64 "): %s", idx, what);
}

void rejoin_step(struct node *n)
{
	if (n->stopping)
		return;
	uint64_t now = node_now_ms();
	member_step(n, now);
	leader_step(n, now);
	if (!rejoin_waiting(n))
		bind_step(n, now);
}

void rejoin_status_fill(struct node *n, struct duet_status *st)
{
	const struct duet_member *me = duet_membership_find(&st->raft.conf, n->cfg.self_id);
	st->rejoin.incarnation = n->incarnation;
	st->rejoin.store_id = n->store_id;
	st->rejoin.state = state_name(n->rejoin.state);
	st->rejoin.automatic = n->rejoin.automatic;
	st->rejoin.asked = n->rejoin.asked;
	st->rejoin.view_incarnation = me ? me->incarnation : 0;
	st->rejoin.entry_index = n->rejoin.entry_index;
	st->rejoin.answer = n->rejoin.answer;
}
