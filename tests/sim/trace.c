/* SPDX-License-Identifier: MIT */
/*
 * trace.c - what happened in a run: a ring of the last records (printed when
 * a seed fails), an optional live log (--verbose), and the digest.
 *
 * Records are small fixed structs, formatted only when printed: formatting
 * every event of 2000 seeds would cost more than simulating them. The digest
 * is a 64-bit hash chain (sim_mix, a splitmix64 finaliser: faster than
 * byte-wise FNV-1a and as good for this) over every record (time, node, kind,
 * fields) and over the encoded bytes of every message sent; two runs of one
 * seed must produce the same digest, which is what the sim_replay test
 * compares.
 */
#include <inttypes.h>
#include <string.h>

#include "sim.h"

#define DIGEST_START 0x6475657473696d64ull

void trace_init(struct sim_trace *t, bool verbose)
{
	memset(t, 0, sizeof(*t));
	t->digest = DIGEST_START;
	t->verbose = verbose;
}

void trace_bytes(struct sim *s, const void *p, size_t len)
{
	s->trace.digest = sim_hash_bytes(s->trace.digest, p, len);
}

static const char *crash_reason(uint8_t sub)
{
	static const char *const names[] = {"fault", "fault-during-write", "fsync-failed",
					    "after-sync"};
	return sub < sizeof(names) / sizeof(names[0]) ? names[sub] : "?";
}

static const char *drop_reason(uint8_t sub)
{
	switch (sub) {
	case DROP_PARTITION:
		return "partition";
	case DROP_RANDOM:
		return "loss";
	case DROP_DOWN:
		return "node-down";
	case DROP_CORRUPT:
		return "corrupt";
	case DROP_BAD_PEER:
		return "bad-peer";
	}
	return "?";
}

static void format_msg(const struct trace_rec *r, char *out, size_t cap)
{
	const char *name = raft_msg_type_name(r->sub);
	switch (r->sub) {
	case RAFT_MSG_PREVOTE:
	case RAFT_MSG_VOTE:
		snprintf(out, cap, "%s term=%" PRIu64 " last=%" PRIu64 "/%" PRIu64 "%s", name, r->a,
			 r->b, r->c, r->d ? " transfer" : "");
		break;
	case RAFT_MSG_PREVOTE_RESP:
	case RAFT_MSG_VOTE_RESP:
		snprintf(out, cap, "%s term=%" PRIu64 " %s", name, r->a,
			 r->b ? "granted" : "refused");
		break;
	case RAFT_MSG_APPEND:
		snprintf(out, cap,
			 "%s term=%" PRIu64 " prev=%" PRIu64 " n=%" PRIu64 " commit=%" PRIu64, name,
			 r->a, r->b, r->c, r->d);
		break;
	case RAFT_MSG_APPEND_RESP:
		snprintf(out, cap, "%s term=%" PRIu64 " %s match=%" PRIu64 " last=%" PRIu64, name,
			 r->a, r->b ? "ok" : "reject", r->c, r->d);
		break;
	case RAFT_MSG_SNAPSHOT:
		snprintf(out, cap, "%s term=%" PRIu64 " at=%" PRIu64 "/%" PRIu64 " bytes=%" PRIu64,
			 name, r->a, r->b, r->c, r->d);
		break;
	default:
		snprintf(out, cap, "%s term=%" PRIu64, name, r->a);
	}
}

static void format_rec(const struct trace_rec *r, char *out, size_t cap)
{
	char body[200];
	int64_t sa = (int64_t)r->a;
	switch (r->kind) {
	case TR_SEND:
	case TR_DELIVER: {
		char m[160];
		format_msg(r, m, sizeof(m));
		snprintf(body, sizeof(body), "%s %s %u %s", r->kind == TR_SEND ? "send" : "recv",
			 r->kind == TR_SEND ? "->" : "<-", r->peer, m);
		break;
	}
	case TR_DROP:
		snprintf(body, sizeof(body), "drop %s %u->%u (%s)",
			 raft_msg_type_name((uint8_t)r->a), r->peer, r->node, drop_reason(r->sub));
		break;
	case TR_TICK:
		snprintf(body, sizeof(body), "tick local=%" PRIu64, r->a);
		break;
	case TR_READY:
		snprintf(body, sizeof(body),
			 "ready #%" PRIu64 " msgs=%" PRIu64 "+%" PRIu64 " entries=%" PRIu64
			 " committed=%" PRIu64,
			 r->a, r->b, r->c >> 32, r->c & 0xffffffffu, r->d);
		break;
	case TR_PERSIST:
		snprintf(body, sizeof(body),
			 "persisted #%" PRIu64 " entries=%" PRIu64 " durable last=%" PRIu64
			 " term=%" PRIu64,
			 r->a, r->b, r->c, r->d);
		break;
	case TR_CRASH:
		snprintf(body, sizeof(body), "CRASH (%s)%s", crash_reason(r->sub),
			 r->a ? " write lost" : "");
		break;
	case TR_BOOT:
		snprintf(
		    body, sizeof(body),
		    "BOOT term=%" PRIu64 " last=%" PRIu64 " snapshot=%" PRIu64 "%s local=%" PRIu64,
		    r->a, r->b, r->c, r->sub ? " (reboot: monotonic clock restarted)" : "", r->d);
		break;
	case TR_PAUSE:
		snprintf(body, sizeof(body), "PAUSE %" PRIu64 " ms", r->a);
		break;
	case TR_RESUME:
		snprintf(body, sizeof(body),
			 "RESUME with %" PRIu64 " queued events, local=%" PRIu64, r->a, r->b);
		break;
	case TR_CUT:
		snprintf(body, sizeof(body), "PARTITION links=0x%03" PRIx64 " for %" PRIu64 " ms",
			 r->a, r->b);
		break;
	case TR_HEAL_LINKS:
		snprintf(body, sizeof(body), "links healed 0x%03" PRIx64, r->a);
		break;
	case TR_NET:
		snprintf(body, sizeof(body),
			 "network drop=%" PRIu64 "ppm dup=%" PRIu64 "ppm tail=%" PRIu64
			 "ppm delay<=%" PRIu64 "us",
			 r->a, r->b, r->c, r->d);
		break;
	case TR_WALL:
		snprintf(body, sizeof(body), "wall clock jumps %+" PRId64 " ms", sa);
		break;
	case TR_PROPOSE:
		snprintf(body, sizeof(body), "propose %s len=%" PRIu64 " -> %s index=%" PRIu64,
			 raft_entry_type_name(r->sub), r->c, sa ? duet_strerror((int)sa) : "ok",
			 r->b);
		break;
	case TR_TRANSFER:
		snprintf(body, sizeof(body), "transfer to %u -> %s", r->peer,
			 sa ? duet_strerror((int)sa) : "ok");
		break;
	case TR_ROLE:
		snprintf(body, sizeof(body),
			 "now %s term=%" PRIu64 " leader=%" PRIu64 " commit=%" PRIu64
			 " lease_expiry=%" PRIu64,
			 raft_role_name(r->sub), r->a, r->b, r->c, r->d);
		break;
	case TR_SNAPSHOT:
		snprintf(body, sizeof(body), "snapshot taken at %" PRIu64 " -> %s", r->a,
			 r->b ? duet_strerror((int)(int64_t)r->b) : "ok");
		break;
	case TR_RESTORE:
		snprintf(body, sizeof(body), "restore snapshot %" PRIu64 "/%" PRIu64, r->a, r->b);
		break;
	case TR_HEAL:
		snprintf(body, sizeof(body),
			 "HEAL: faults stop, partitions healed, nodes restarted");
		break;
	case TR_CONFIG:
		snprintf(body, sizeof(body),
			 "config election=%" PRIu64 "..%" PRIu64 "ms lease=%" PRIu64
			 "ms heartbeat=%" PRIu64 "ms batch=%" PRIu64 " inflight=%" PRIu64
			 " max_drift=%" PRIu64 "ms witness_extra=%" PRIu64 "ms",
			 r->a >> 32, r->a & 0xffffffffu, r->b >> 32, r->b & 0xffffffffu, r->c >> 32,
			 r->c & 0xffffffffu, r->d >> 32, r->d & 0xffffffffu);
		break;
	case TR_FSYNC_FAIL:
		snprintf(body, sizeof(body), "fsync fails (injected) on write #%" PRIu64, r->a);
		break;
	case TR_WIPE:
		snprintf(body, sizeof(body),
			 "WIPE incarnation=%" PRIu64 ": lost log to %" PRIu64 ", term=%" PRIu64
			 " vote=%" PRIu64,
			 r->a, r->b, r->c, r->d);
		break;
	case TR_REJOIN:
		if (r->sub == RJ_PROPOSE)
			snprintf(body, sizeof(body),
				 "rejoin: propose MEMBERSHIP n%u incarnation=%" PRIu64
				 " -> %s index=%" PRIu64,
				 r->peer, r->c, sa ? duet_strerror((int)sa) : "ok", r->b);
		else if (r->sub == RJ_COMMITTED)
			snprintf(body, sizeof(body),
				 "rejoin: MEMBERSHIP %" PRIu64 "/%" PRIu64
				 " committed: restarts empty, incarnation=%" PRIu64,
				 r->a, r->b, r->c);
		else
			snprintf(body, sizeof(body),
				 "rejoin: caught up (holds %" PRIu64 ", durable last=%" PRIu64
				 ") incarnation=%" PRIu64,
				 r->a, r->b, r->c);
		break;
	case TR_DECIDE:
		if (r->sub == ROLE_TRACE_SYNC)
			snprintf(body, sizeof(body),
				 "role: propose SYNC(n%u, on) in term %" PRIu64
				 " -> %s index=%" PRIu64,
				 r->peer, r->b, sa ? duet_strerror((int)sa) : "ok", r->c);
		else
			snprintf(body, sizeof(body),
				 "role: %s n%u in term %" PRIu64 " -> %s index=%" PRIu64,
				 role_leader_action_name(r->sub), r->peer, r->b,
				 sa ? duet_strerror((int)sa) : "ok", r->c);
		break;
	default:
		snprintf(body, sizeof(body), "kind %u", r->kind);
	}
	if (r->node)
		snprintf(out, cap, "%4" PRIu64 ".%06" PRIu64 " #%-7" PRIu64 " n%u %s",
			 r->t_us / 1000000, r->t_us % 1000000, r->step, r->node, body);
	else
		snprintf(out, cap, "%4" PRIu64 ".%06" PRIu64 " #%-7" PRIu64 " -- %s",
			 r->t_us / 1000000, r->t_us % 1000000, r->step, body);
}

void trace_add(struct sim *s, uint8_t kind, uint32_t node, uint32_t peer, uint8_t sub, uint64_t a,
	       uint64_t b, uint64_t c, uint64_t d)
{
	struct sim_trace *t = &s->trace;
	struct trace_rec *r = &t->ring[t->n++ % SIM_TRACE_RING];
	*r = (struct trace_rec){.t_us = s->now_us,
				.step = s->step,
				.kind = kind,
				.node = (uint8_t)node,
				.peer = (uint8_t)peer,
				.sub = sub,
				.a = a,
				.b = b,
				.c = c,
				.d = d};
	uint64_t h = sim_mix(t->digest, r->t_us);
	h = sim_mix(h, (uint64_t)kind | (uint64_t)r->node << 8 | (uint64_t)r->peer << 16 |
			   (uint64_t)sub << 24);
	h = sim_mix(h, a);
	h = sim_mix(h, b);
	h = sim_mix(h, c);
	t->digest = sim_mix(h, d);
	if (t->verbose) {
		char line[320];
		format_rec(r, line, sizeof(line));
		fprintf(stderr, "%s\n", line);
	}
}

void trace_msg(struct sim *s, uint8_t kind, const struct raft_msg *m, uint8_t sub)
{
	uint64_t b = 0, c = 0, d = 0;
	switch (m->type) {
	case RAFT_MSG_PREVOTE:
	case RAFT_MSG_VOTE:
		b = m->vote.last_index;
		c = m->vote.last_term;
		d = m->vote.transfer;
		break;
	case RAFT_MSG_PREVOTE_RESP:
	case RAFT_MSG_VOTE_RESP:
		b = m->vote_resp.granted;
		break;
	case RAFT_MSG_APPEND:
		b = m->append.prev_index;
		c = m->append.n_entries;
		d = m->append.commit;
		break;
	case RAFT_MSG_APPEND_RESP:
		b = m->append_resp.success;
		c = m->append_resp.match_index;
		d = m->append_resp.last_index;
		break;
	case RAFT_MSG_SNAPSHOT:
		b = m->snapshot.meta.index;
		c = m->snapshot.meta.term;
		d = m->snapshot.len;
		break;
	}
	(void)sub;
	if (kind == TR_SEND)
		trace_add(s, kind, m->from, m->to, m->type, m->term, b, c, d);
	else
		trace_add(s, kind, m->to, m->from, m->type, m->term, b, c, d);
}

void trace_dump(const struct sim *s, FILE *f, size_t last)
{
	const struct sim_trace *t = &s->trace;
	size_t have = t->n < SIM_TRACE_RING ? (size_t)t->n : SIM_TRACE_RING;
	if (last > have)
		last = have;
	for (uint64_t i = t->n - last; i < t->n; i++) {
		char line[320];
		format_rec(&t->ring[i % SIM_TRACE_RING], line, sizeof(line));
		fprintf(f, "  | %s\n", line);
	}
}
