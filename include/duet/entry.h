/* SPDX-License-Identifier: MIT */
/*
 * entry.h - log entries of DESIGN.md section 3 and their versioned encodings.
 *
 * Part of the raftlog module (it has no dependencies). Two layers:
 *
 *  - The entry envelope (struct raft_entry): term, index, wall time, author,
 *    type and an opaque payload. raft_entry_encode() gives the byte form
 *    used both in LMDB and on the wire:
 *
 *        u8  version (RAFT_ENTRY_VERSION)   u8  type      u16 reserved (0)
 *        u32 author   u64 term   u64 index   u64 wall_ms   u32 len
 *        u8  payload[len]
 *        u32 crc32c of every byte above
 *
 *    All integers little-endian. The checksum lets storage refuse a damaged
 *    value (LMDB has no page checksums) and the transport a damaged frame.
 *
 *  - Typed payloads (membership, master, sync, step, health, traps,
 *    delivered, operator): each starts with its own version byte, then fixed
 *    width little-endian fields; strings are u16 length + bytes, capped.
 *
 * Every decoder takes (buf, len), never reads past len, and returns 0 or a
 * negative DUET_E* code: they are fuzz targets. Decoded strings are copied
 * into fixed arrays and NUL-terminated; nothing is allocated. Encoders refuse
 * what decoders refuse: DUET_EINVAL for an enum or flag out of range (flags
 * are 0 or 1) or a bad membership (n > DUET_MAX_MEMBERS, id 0, duplicate id,
 * bad kind, n_addrs > DUET_MAX_ADDRS); DUET_ETOOBIG for a string that fills
 * its array, a trap payload over DUET_TRAP_MAX_PAYLOAD, or a short buffer.
 */
#ifndef DUET_ENTRY_H
#define DUET_ENTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RAFT_ENTRY_VERSION       1
#define RAFT_ENTRY_HEADER_BYTES  36 /* bytes before the payload */
#define RAFT_ENTRY_TRAILER_BYTES 4  /* crc32c */
#define RAFT_ENTRY_MAX_PAYLOAD   (4u << 20)

#define DUET_MAX_MEMBERS 5
#define DUET_MAX_ADDRS   4
#define DUET_NAME_MAX    32  /* including NUL */
#define DUET_ADDR_MAX    64  /* "host:port", including NUL */
#define DUET_DETAIL_MAX  512 /* free text in entries, including NUL */

enum raft_entry_type {
	RAFT_ENTRY_NOOP = 0, /* a new leader's first entry: commits earlier terms */
	RAFT_ENTRY_MEMBERSHIP = 1,
	RAFT_ENTRY_MASTER = 2,
	RAFT_ENTRY_SYNC = 3,
	RAFT_ENTRY_STEP = 4,
	RAFT_ENTRY_HEALTH = 5,
	RAFT_ENTRY_TRAPS = 6,
	RAFT_ENTRY_DELIVERED = 7,
	RAFT_ENTRY_OPERATOR = 8,
	RAFT_ENTRY_TYPE_COUNT
};

/* Returns "NOOP", "MEMBERSHIP", ... or "UNKNOWN". */
const char *raft_entry_type_name(uint8_t type);

struct raft_entry {
	uint64_t term;
	uint64_t index;
	uint64_t wall_ms; /* author's wall clock at proposal: for people, never for decisions */
	uint32_t author;  /* node id of the proposer */
	uint8_t type;     /* enum raft_entry_type */
	uint32_t len;
	uint8_t *data; /* len bytes; who owns it is said where an entry is handed over */
};

/* CRC-32C (Castagnoli). Start with crc = 0. */
uint32_t duet_crc32c(uint32_t crc, const void *buf, size_t len);

/* Bytes raft_entry_encode() writes for `e`. */
size_t raft_entry_encoded_size(const struct raft_entry *e);

/* Encodes `e` into buf[0..cap). Returns bytes written, or DUET_ETOOBIG. */
long raft_entry_encode(const struct raft_entry *e, void *buf, size_t cap);

/*
 * Decodes one entry from buf[0..len) and checks its checksum and version.
 * On success e->data points INTO buf (no copy) and *used (if not NULL) is the
 * number of bytes consumed. Returns 0, DUET_ETRUNCATED, DUET_ECORRUPT
 * (checksum), DUET_EVERSION or DUET_ETOOBIG (payload over the limit).
 */
int raft_entry_decode(const void *buf, size_t len, struct raft_entry *e, size_t *used);

/* ---- MEMBERSHIP ---------------------------------------------------------- */

enum duet_member_kind {
	DUET_MEMBER_DATA = 1,    /* runs PostgreSQL and may be master */
	DUET_MEMBER_WITNESS = 2, /* votes and stores the log; never master */
};

struct duet_member {
	uint32_t id;          /* nonzero, unique in the cluster */
	uint8_t kind;         /* enum duet_member_kind */
	uint64_t incarnation; /* raised by rejoin when the member's storage was lost */
	/* The random id of the store this incarnation runs on (storage.h),
	 * bound by the leader when it first hears the member under it; 0: not
	 * bound yet (the bootstrap entry, a member that never said). */
	uint64_t store_id;
	char name[DUET_NAME_MAX];
	uint8_t n_addrs;
	char addrs[DUET_MAX_ADDRS][DUET_ADDR_MAX];
};

struct duet_membership {
	uint32_t n;
	struct duet_member members[DUET_MAX_MEMBERS];
};

/* Returns the member with `id`, or NULL. */
const struct duet_member *duet_membership_find(const struct duet_membership *c, uint32_t id);

long duet_membership_encode(const struct duet_membership *c, void *buf, size_t cap);
int duet_membership_decode(const void *buf, size_t len, struct duet_membership *c);

/* ---- MASTER -------------------------------------------------------------- */

enum duet_master_reason {
	DUET_MASTER_FIRST_START = 1,
	DUET_MASTER_FAILOVER = 2,
	DUET_MASTER_SWITCHOVER = 3,
	DUET_MASTER_FORCED = 4, /* promote --accept-data-loss */
};

struct duet_master {
	uint32_t node;     /* the new master */
	uint32_t previous; /* the master before, 0 if none */
	uint8_t reason;    /* enum duet_master_reason */
	char detail[DUET_DETAIL_MAX];
};

long duet_master_encode(const struct duet_master *m, void *buf, size_t cap);
int duet_master_decode(const void *buf, size_t len, struct duet_master *m);

/* ---- SYNC ---------------------------------------------------------------- */

struct duet_sync {
	uint32_t node; /* the standby */
	uint8_t on;    /* 1: synchronous and promotable; 0: no longer */
	char detail[DUET_DETAIL_MAX];
};

long duet_sync_encode(const struct duet_sync *s, void *buf, size_t cap);
int duet_sync_decode(const void *buf, size_t len, struct duet_sync *s);

/* ---- STEP ---------------------------------------------------------------- */

enum duet_step_action {
	DUET_STEP_FENCE = 1,
	DUET_STEP_PROMOTE = 2,
	DUET_STEP_FIP = 3,
	DUET_STEP_MANAGER = 4,
	DUET_STEP_DEMOTE = 5,
	DUET_STEP_LEASE_WAIT = 6,
	DUET_STEP_REBUILD = 7, /* a rejoined node's PostgreSQL rebuilt as a standby */
};

struct duet_step {
	uint8_t action; /* enum duet_step_action */
	uint32_t node;  /* node the action was on */
	uint8_t ok;
	uint32_t duration_ms;
	char detail[DUET_DETAIL_MAX];
};

long duet_step_encode(const struct duet_step *s, void *buf, size_t cap);
int duet_step_decode(const void *buf, size_t len, struct duet_step *s);

/* ---- HEALTH -------------------------------------------------------------- */

enum duet_health_state { DUET_HEALTH_UNKNOWN = 0, DUET_HEALTH_OK = 1, DUET_HEALTH_FAILING = 2 };

struct duet_health {
	uint32_t node;
	char check[DUET_NAME_MAX]; /* "pg", "fs", "nic", "fip", "manager", "isolation", "peer" */
	uint8_t state;             /* enum duet_health_state */
	uint8_t critical;
	char detail[DUET_DETAIL_MAX];
};

long duet_health_encode(const struct duet_health *h, void *buf, size_t cap);
int duet_health_decode(const void *buf, size_t len, struct duet_health *h);

/* ---- OPERATOR ------------------------------------------------------------ */

enum duet_operator_command {
	DUET_OP_SWITCHOVER = 1,
	DUET_OP_MAINTENANCE_ON = 2,
	DUET_OP_MAINTENANCE_OFF = 3,
	DUET_OP_REJOIN = 4,
	DUET_OP_FORCE_PROMOTE = 5,
};

struct duet_operator {
	uint8_t command;      /* enum duet_operator_command */
	uint32_t node;        /* node the command was run on / concerns */
	uint32_t target;      /* switchover target, 0 if none */
	uint64_t incarnation; /* rejoin: the new incarnation */
	char who[DUET_NAME_MAX];
	char why[DUET_DETAIL_MAX];
};

long duet_operator_encode(const struct duet_operator *o, void *buf, size_t cap);
int duet_operator_decode(const void *buf, size_t len, struct duet_operator *o);

/* ---- DELIVERED ----------------------------------------------------------- */

enum duet_sink { DUET_SINK_TCP = 1, DUET_SINK_POSTGRESQL = 2, DUET_SINK_RELP = 3 };

struct duet_delivered {
	uint64_t up_to_index; /* every TRAPS entry at or below this index reached the sink */
	uint8_t sink;         /* 0: none (nothing to deliver), 1: tcp, 2: postgresql, 3: relp */
};

long duet_delivered_encode(const struct duet_delivered *d, void *buf, size_t cap);
int duet_delivered_decode(const void *buf, size_t len, struct duet_delivered *d);

/* ---- TRAPS --------------------------------------------------------------- */

enum duet_trap_kind { DUET_TRAP_SYSLOG = 1, DUET_TRAP_SNMP = 2, DUET_TRAP_CUSTOM = 3 };

#define DUET_TRAP_MAX_PAYLOAD 65536

struct duet_trap {
	uint8_t identity[32]; /* SHA-256(sender, kind, decoded content) */
	uint32_t ordinal;     /* n-th identical trap inside the window */
	uint64_t recv_ms;     /* receiver's wall clock */
	uint32_t receiver;    /* node that received it */
	uint8_t kind;         /* enum duet_trap_kind */
	char sender[DUET_ADDR_MAX];
	uint32_t len;
	const uint8_t *payload; /* points into the encoded buffer (decode) or caller's (encode) */
};

/* Encodes n traps as one TRAPS payload. */
long duet_traps_encode(const struct duet_trap *traps, uint32_t n, void *buf, size_t cap);

/* Iterates a TRAPS payload without allocating. */
struct duet_traps_iter {
	const uint8_t *p;
	size_t left;
	uint32_t remaining;
};
/* Checks the whole batch before the first trap is handed out. */
int duet_traps_iter_init(struct duet_traps_iter *it, const void *buf, size_t len, uint32_t *count);
/* Returns 1 with *t filled, 0 at the end, or a negative DUET_E* code. */
int duet_traps_next(struct duet_traps_iter *it, struct duet_trap *t);

#endif
