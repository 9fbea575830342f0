/* SPDX-License-Identifier: MIT */
/*
 * make_seeds.c - writes the seed corpora in tests/fuzz/corpus/<target>/.
 *
 * The seeds are one valid encoding of each shape the decoders know, so the
 * fuzzer starts past the checksum and version checks instead of having to
 * find them. They are committed (a few KB) and regenerated with
 *
 *     build-fuzz/bin/duet_fuzz_make_seeds tests/fuzz/corpus
 *
 * whenever an encoding changes. Fixed values only: the output is the same on
 * every run, so regenerating shows no diff unless a format changed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "duet/entry.h"
#include "duet/fsm.h"
#include "duet/raftlog.h"

static const char *root;

static void write_seed(const char *target, const char *name, const void *buf, long len)
{
	char path[4096];
	if (len < 0) {
		fprintf(stderr, "make_seeds: %s/%s: encode failed: %s\n", target, name,
			duet_strerror((int)len));
		exit(1);
	}
	snprintf(path, sizeof path, "%s/%s", root, target);
	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof path, "%s/%s/%s", root, target, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, (size_t)len, f) != (size_t)len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

/* fuzz_payloads seeds carry the selector byte first. */
static void write_payload_seed(uint8_t selector, const char *name, const uint8_t *buf, long len)
{
	static uint8_t out[4096];
	if (len < 0 || (size_t)len + 1 > sizeof out) {
		write_seed("fuzz_payloads", name, NULL, len < 0 ? len : DUET_ETOOBIG);
		return;
	}
	out[0] = selector;
	memcpy(out + 1, buf, (size_t)len);
	write_seed("fuzz_payloads", name, out, len + 1);
}

static void sample_membership(struct duet_membership *c)
{
	memset(c, 0, sizeof *c);
	c->n = 3;
	const char *names[] = {"alpha", "beta", "witness"};
	for (uint32_t i = 0; i < c->n; i++) {
		struct duet_member *m = &c->members[i];
		m->id = i + 1;
		m->kind = i == 2 ? DUET_MEMBER_WITNESS : DUET_MEMBER_DATA;
		m->incarnation = 1;
		strcpy(m->name, names[i]);
		m->n_addrs = (uint8_t)(i == 0 ? 2 : 1);
		snprintf(m->addrs[0], sizeof m->addrs[0], "10.0.0.%u:7400", i + 1);
		if (m->n_addrs == 2)
			strcpy(m->addrs[1], "[fd00::1]:7400");
	}
}

static void payload_seeds(void)
{
	uint8_t buf[4096];
	struct duet_membership c;
	sample_membership(&c);
	write_payload_seed(0, "membership", buf, duet_membership_encode(&c, buf, sizeof buf));

	struct duet_master ma = {.node = 2, .previous = 1, .reason = DUET_MASTER_FAILOVER};
	strcpy(ma.detail, "lease of node 1 expired");
	write_payload_seed(1, "master", buf, duet_master_encode(&ma, buf, sizeof buf));

	struct duet_sync sy = {.node = 2, .on = 1};
	strcpy(sy.detail, "caught up");
	write_payload_seed(2, "sync", buf, duet_sync_encode(&sy, buf, sizeof buf));

	struct duet_step st = {.action = DUET_STEP_PROMOTE, .node = 2, .ok = 1, .duration_ms = 850};
	strcpy(st.detail, "pg_ctl promote");
	write_payload_seed(3, "step", buf, duet_step_encode(&st, buf, sizeof buf));

	struct duet_health he = {.node = 1, .state = DUET_HEALTH_FAILING, .critical = 1};
	strcpy(he.check, "pg");
	strcpy(he.detail, "connection refused");
	write_payload_seed(4, "health", buf, duet_health_encode(&he, buf, sizeof buf));

	struct duet_operator op = {.command = DUET_OP_REJOIN, .node = 1, .incarnation = 2};
	strcpy(op.who, "root");
	strcpy(op.why, "disk replaced");
	write_payload_seed(5, "operator", buf, duet_operator_encode(&op, buf, sizeof buf));

	struct duet_delivered de = {.up_to_index = 1234, .sink = 1};
	write_payload_seed(6, "delivered", buf, duet_delivered_encode(&de, buf, sizeof buf));

	static const uint8_t trap_text[] = "<13>Nov 25 09:00:00 host app: disk 91% full";
	struct duet_trap t[2];
	memset(t, 0, sizeof t);
	for (int i = 0; i < 2; i++) {
		memset(t[i].identity, 0x11 * (i + 1), sizeof t[i].identity);
		t[i].ordinal = 1;
		t[i].recv_ms = 1700000000000ull + (uint64_t)i;
		t[i].receiver = 1;
		t[i].kind = (uint8_t)(i == 0 ? DUET_TRAP_SYSLOG : DUET_TRAP_SNMP);
		strcpy(t[i].sender, "192.0.2.7:514");
	}
	t[0].len = sizeof trap_text - 1;
	t[0].payload = trap_text;
	write_payload_seed(7, "traps", buf, duet_traps_encode(t, 2, buf, sizeof buf));
	write_payload_seed(7, "traps_empty", buf, duet_traps_encode(t, 0, buf, sizeof buf));
}

static void entry_seeds(void)
{
	uint8_t payload[1024], buf[2048];
	struct duet_membership c;
	sample_membership(&c);
	long plen = duet_membership_encode(&c, payload, sizeof payload);
	struct raft_entry e = {.term = 1, .index = 1, .wall_ms = 1700000000000ull, .author = 1};
	e.type = RAFT_ENTRY_MEMBERSHIP;
	e.len = (uint32_t)plen;
	e.data = payload;
	write_seed("fuzz_entry", "membership", buf, raft_entry_encode(&e, buf, sizeof buf));
	e.type = RAFT_ENTRY_NOOP;
	e.index = 2;
	e.len = 0;
	e.data = NULL;
	write_seed("fuzz_entry", "noop", buf, raft_entry_encode(&e, buf, sizeof buf));
}

static void msg_seeds(void)
{
	static uint8_t buf[8192];
	uint8_t payload[64];
	memset(payload, 0x5a, sizeof payload);
	struct raft_entry entries[2] = {
	    {.term = 2, .index = 10, .wall_ms = 5, .author = 1, .type = RAFT_ENTRY_NOOP},
	    {.term = 2,
	     .index = 11,
	     .wall_ms = 6,
	     .author = 1,
	     .type = RAFT_ENTRY_TRAPS,
	     .len = sizeof payload,
	     .data = payload},
	};
	static const char *const names[] = {
	    NULL,     "prevote",     "prevote_resp", "vote",        "vote_resp",
	    "append", "append_resp", "snapshot",     "timeout_now",
	};
	for (uint8_t type = RAFT_MSG_PREVOTE; type <= RAFT_MSG_TIMEOUT_NOW; type++) {
		struct raft_msg m;
		memset(&m, 0, sizeof m);
		m.type = type;
		m.from = 1;
		m.to = 2;
		m.from_incarnation = 1;
		m.term = 2;
		switch (type) {
		case RAFT_MSG_PREVOTE:
		case RAFT_MSG_VOTE:
			m.vote.last_index = 9;
			m.vote.last_term = 1;
			break;
		case RAFT_MSG_PREVOTE_RESP:
		case RAFT_MSG_VOTE_RESP:
			m.vote_resp.granted = 1;
			break;
		case RAFT_MSG_APPEND:
			m.append.prev_index = 9;
			m.append.prev_term = 1;
			m.append.commit = 9;
			m.append.lease_ts = 1000;
			m.append.n_entries = 2;
			m.append.entries = entries;
			break;
		case RAFT_MSG_APPEND_RESP:
			m.append_resp.success = 1;
			m.append_resp.match_index = 11;
			m.append_resp.last_index = 11;
			m.append_resp.lease_ts = 1000;
			break;
		case RAFT_MSG_SNAPSHOT:
			m.snapshot.meta.index = 100;
			m.snapshot.meta.term = 2;
			sample_membership(&m.snapshot.meta.conf);
			m.snapshot.lease_ts = 1000;
			m.snapshot.len = sizeof payload;
			m.snapshot.data = payload;
			break;
		}
		write_seed("fuzz_msg", names[type], buf, raft_msg_encode(&m, buf, sizeof buf));
	}
}

/* fuzz_fsm_snapshot: mode byte 0 then a snapshot (version 2, with a trap
 * floor and committed keys); mode byte 1 then entries (u8 type, u16 length,
 * payload) with TRAPS and a DELIVERED, which move the floor. */
static void fsm_snapshot_seeds(void)
{
	static struct fsm f;
	fsm_init(&f);
	uint8_t pay[4096];
	struct duet_membership c;
	sample_membership(&c);
	struct raft_entry e = {.term = 1, .index = 1, .wall_ms = 1, .author = 1};
	struct fsm_result res;
	e.type = RAFT_ENTRY_MEMBERSHIP;
	e.len = (uint32_t)duet_membership_encode(&c, pay, sizeof pay);
	e.data = pay;
	fsm_apply(&f, &e, &res);
	struct duet_trap t[2];
	memset(t, 0, sizeof t);
	for (int i = 0; i < 2; i++) {
		t[i].identity[0] = (uint8_t)(0x40 + i);
		t[i].ordinal = 1;
		t[i].recv_ms = 1764080000000u + (uint64_t)i;
		t[i].receiver = 1;
		t[i].kind = DUET_TRAP_SYSLOG;
	}
	uint8_t keys[1024];
	long klen = duet_traps_encode(t, 2, keys, sizeof keys);
	for (uint64_t i = 2; i <= 3; i++) {
		e.index = i;
		e.type = RAFT_ENTRY_TRAPS;
		e.len = (uint32_t)klen;
		e.data = keys;
		fsm_apply(&f, &e, &res);
	}
	uint8_t buf[8192];
	buf[0] = 0;
	long len = fsm_snapshot_encode_keys(&f, keys, (uint32_t)klen, buf + 1, sizeof buf - 1);
	write_seed("fuzz_fsm_snapshot", "snapshot_keys", buf, len < 0 ? len : len + 1);
	len = fsm_snapshot_encode(&f, buf + 1, sizeof buf - 1);
	write_seed("fuzz_fsm_snapshot", "snapshot", buf, len < 0 ? len : len + 1);
	/* entries: TRAPS, TRAPS, DELIVERED of the first */
	size_t n = 0;
	buf[n++] = 1;
	for (int i = 0; i < 2; i++) {
		buf[n++] = RAFT_ENTRY_TRAPS;
		buf[n++] = (uint8_t)klen;
		buf[n++] = (uint8_t)(klen >> 8);
		memcpy(buf + n, keys, (size_t)klen);
		n += (size_t)klen;
	}
	struct duet_delivered d = {.up_to_index = 2, .sink = DUET_SINK_POSTGRESQL};
	long dlen = duet_delivered_encode(&d, pay, sizeof pay);
	if (dlen < 0)
		write_seed("fuzz_fsm_snapshot", "entries_traps", NULL, dlen);
	buf[n++] = RAFT_ENTRY_DELIVERED;
	buf[n++] = (uint8_t)dlen;
	buf[n++] = 0;
	memcpy(buf + n, pay, (size_t)dlen);
	n += (size_t)dlen;
	write_seed("fuzz_fsm_snapshot", "entries_traps", buf, (long)n);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_ROOT   (e.g. tests/fuzz/corpus)\n", argv[0]);
		return 2;
	}
	root = argv[1];
	if (mkdir(root, 0755) != 0 && errno != EEXIST) {
		perror(root);
		return 1;
	}
	payload_seeds();
	entry_seeds();
	msg_seeds();
	fsm_snapshot_seeds();
	return 0;
}
