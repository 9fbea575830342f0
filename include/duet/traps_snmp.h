/* SPDX-License-Identifier: MIT */
/*
 * traps_snmp.h - decoding of SNMP notifications (DESIGN.md section 5):
 * SNMPv1 Trap-PDU, SNMPv2c SNMPv2-Trap and InformRequest, SNMPv3 with the
 * User-based Security Model (RFC 3414, RFC 3826, RFC 7860). Pure code: no
 * sockets, no clock, no global state; the receiver hands in one datagram and
 * gets back a decoded message or a reason for refusing it.
 *
 * Why not net-snmp's library: it keeps global state, is built around
 * sessions, and is hard to fuzz. This decoder is bounded, allocation-free
 * for v1/v2c, and fuzzed (tests/fuzz/fuzz_snmp_decode.c, fuzz_snmp_ber.c).
 *
 * ---- BER ------------------------------------------------------------------
 *
 * The reader takes definite lengths only (short form, or long form with 1..4
 * length octets), single-octet tags (no high-tag-number form), and checks
 * every length against what is left of its enclosing value. Nothing
 * recurses: the SNMP decoder walks its fixed nesting with one reader per
 * level, and trap_snmp_ber_walk() keeps an explicit stack of at most
 * TRAP_SNMP_BER_MAX_DEPTH levels. INTEGER takes any content length whose
 * value (after redundant leading sign octets) fits 64 bits signed; the
 * unsigned application types (Counter32, Gauge32, TimeTicks, UInteger32,
 * Counter64) take leading zero octets and then at most 4 (8) octets, read
 * as unsigned, so the common agent bug of "ff ff ff ff" for 4294967295 is
 * read as meant. OBJECT IDENTIFIER is 1..128 arcs, each sub-identifier at
 * most 2^32-1 and minimally encoded (no leading 0x80 octet): a valid OID has
 * exactly one encoding, so two OIDs are equal iff their content octets are.
 *
 * ---- Messages accepted ----------------------------------------------------
 *
 *   v1:  Message { version 0, community, Trap-PDU [4] }
 *   v2c: Message { version 1, community, SNMPv2-Trap-PDU [7] | InformRequest [6] }
 *   v3:  SNMPv3Message { version 3, msgGlobalData, msgSecurityParameters (USM),
 *        ScopedPDU or encrypted ScopedPDU } with SNMPv2-Trap or InformRequest
 *
 * In v2c/v3 the first two varbinds must be sysUpTime.0 (TimeTicks) and
 * snmpTrapOID.0 (OBJECT IDENTIFIER), as RFC 3416 4.2.6 says; they go to
 * sys_uptime and the trap OID, and varbinds[] holds the ones after them.
 * Nothing may follow the message in the datagram, nor any field inside a
 * SEQUENCE beyond those listed (except the DES padding after a decrypted
 * ScopedPDU).
 *
 * ---- USM ------------------------------------------------------------------
 *
 * Users are looked up by (user name, authoritative engine id). For a trap
 * the sender is the authoritative engine, so a user is configured with the
 * engine id of the agent that sends (snmptrap -e, snmpEngineID of the
 * agent), or with no engine id (engine_id_len 0) to accept that user from
 * any engine (keys are then localized for each message: one hash per key).
 * An InformRequest's authoritative engine is the receiver: such a user is
 * configured with the receiver's own engine id, and the Response is made by
 * trap_snmp_response_encode_v3() (no discovery Reports: see there).
 *
 * Checks, in RFC 3414 3.2 order: engine id known (UNKNOWN_ENGINE_ID: the
 * user name exists, but not for this engine; an empty engine id, a
 * discovery probe, is counted here too), user known (UNKNOWN_USER),
 * security level possible for the user (UNSUPPORTED_SEC_LEVEL) and not
 * below what the user requires (SEC_LEVEL_TOO_LOW), HMAC over the whole
 * datagram with the authentication parameters zeroed (WRONG_DIGEST), then
 * decryption (DECRYPT_FAILED: bad privacy parameters, a ciphertext length
 * DES cannot take, or a plaintext that is not a ScopedPDU: the usual sign of
 * a wrong privacy key).
 *
 * No time-window check (RFC 3414 3.2 step 7): a notification's sender is
 * the authoritative engine, so its boots/time are by definition current and
 * the receiver has nothing to compare them with. A replayed trap is caught,
 * if at all, by the identity window of DESIGN.md section 5. Engine boots and
 * time are decoded and reported, never checked (for informs too, which is
 * weaker than RFC 3414 asks of an authoritative receiver).
 *
 * Algorithms: HMAC-MD5-96 and HMAC-SHA-96 (RFC 3414), HMAC-SHA-224/256/384/
 * 512 with 128/192/256/384-bit MACs (RFC 7860); CBC-DES (RFC 3414 8) and
 * CFB128-AES-128 (RFC 3826). Privacy keys are derived with the user's
 * authentication hash. Not supported: the non-standard AES-192/256 key
 * extensions, 3DES.
 *
 * OpenSSL: all crypto goes through a private OSSL_LIB_CTX owned by the
 * config, with the "default" provider, plus the "legacy" provider loaded
 * the first time a DES user is added: OpenSSL 3 moved single DES there, and
 * loading it into a private context leaves the process-wide default context
 * (used by the TLS transport) untouched. If the legacy provider is missing,
 * adding a DES user fails with DUET_ENOENT; other users are unaffected.
 *
 * ---- Identity (DESIGN.md section 5) ---------------------------------------
 *
 * trap_snmp_identity() writes the content part of a trap's identity; the
 * caller hashes it with the sender and the kind. It holds the trap OID and
 * the varbinds, in a layout that does not depend on the SNMP version, and
 * leaves out whatever differs between copies of one notification: the
 * community, request-id, msgID, engine boots/time, user, context, the v1
 * agent-addr, and sysUpTime.0 (v1 time-stamp).
 *
 * sysUpTime.0 is left out because an agent may stamp each destination's
 * copy separately (a tick apart), and a copy that differs only there must
 * still match; a notification re-sent later with a newer sysUpTime.0 then
 * has the same identity as the first, and the ordinal rule of section 5
 * (the n-th identical trap on one node matches the n-th on the other)
 * keeps the two apart, so nothing is lost.
 *
 * Layout (integers little-endian):
 *
 *     u8  TRAP_SNMP_IDENTITY_VERSION (1)
 *     oid trap OID
 *     u32 number of varbinds that follow
 *     then per varbind:
 *         oid name
 *         u8  type: the BER tag of the value (0x02 INTEGER, 0x04 OCTET STRING,
 *             0x05 NULL, 0x06 OID, 0x40 IpAddress, 0x41 Counter32, 0x42
 *             Gauge32, 0x43 TimeTicks, 0x44 Opaque, 0x46 Counter64, 0x47
 *             UInteger32, 0x80 noSuchObject, 0x81 noSuchInstance, 0x82
 *             endOfMibView)
 *         u32 L, then L value bytes:
 *             INTEGER: 8 bytes, int64; Counter32, Gauge32, TimeTicks,
 *             UInteger32, Counter64: 8 bytes, uint64; OCTET STRING, Opaque:
 *             the octets; IpAddress: the 4 octets; OBJECT IDENTIFIER: an oid;
 *             NULL and the three exceptions: nothing (L = 0)
 *     where "oid" is u16 number of arcs n, then n u32 arcs.
 *
 * Trap OID: snmpTrapOID.0 for v2c/v3. For v1 its RFC 3584 3.1 translation:
 * enterprise.0.specific-trap when generic-trap is enterpriseSpecific(6),
 * else snmpTraps.(generic-trap + 1) (1.3.6.1.6.3.1.1.5.1 coldStart ...).
 * Varbinds: v2c/v3 those after the first two; v1 the Trap-PDU's own, then
 * (RFC 3584 3.1) snmpTrapEnterprise.0 = enterprise unless already present.
 * The v1 agent-addr (snmpTrapAddress.0 in RFC 3584) is not included: it is
 * the agent's own idea of its address, which may depend on the interface a
 * copy leaves by, and the sender address is part of the identity anyway.
 *
 * Informs: a sender retransmits an unanswered InformRequest with the same
 * request-id and the same content, so the retransmission has the same
 * identity; the receiver must not count it as a repeat. It treats an inform
 * (msg.pdu_type == TRAP_SNMP_PDU_INFORM) whose (sender, request_id,
 * identity) it has already seen within the window as the same trap (and
 * acknowledges it again). Different informs that happen to share content
 * have different request-ids and stay repeats.
 *
 * ---- Ownership, threads ---------------------------------------------------
 *
 * A decoded trap_snmp_msg points into the datagram and, for an encrypted v3
 * message, into the caller's scratch buffer; both must outlive it. The
 * message itself holds no pointer into itself, so it may be copied (it is
 * about 6 KiB). The config is caller-allocated (about 51 KiB), filled
 * before use and then only read: trap_snmp_decode() may run on many
 * threads with one config. v1/v2c decoding allocates nothing (so it can be
 * benchmarked as is); v3 lets libcrypto allocate its HMAC and cipher
 * contexts. No call blocks.
 */
#ifndef DUET_TRAPS_SNMP_H
#define DUET_TRAPS_SNMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "duet/err.h"

/* ---- Limits ------------------------------------------------------------ */

#define TRAP_SNMP_MAX_OID_ARCS        128 /* RFC 2578 3.5 */
#define TRAP_SNMP_MAX_OID_BYTES       640 /* content octets of the longest valid OID */
#define TRAP_SNMP_MAX_VARBINDS        128 /* after sysUpTime.0 / snmpTrapOID.0 */
#define TRAP_SNMP_BER_MAX_DEPTH       16  /* nesting trap_snmp_ber_walk() descends */
#define TRAP_SNMP_MAX_COMMUNITIES     16
#define TRAP_SNMP_MAX_COMMUNITY_BYTES 64
#define TRAP_SNMP_MAX_USERS           256 /* (user, engine id) pairs */
#define TRAP_SNMP_MAX_USER_NAME_BYTES 32  /* SnmpAdminString (SIZE(1..32)) */
#define TRAP_SNMP_MAX_ENGINE_ID_BYTES 32  /* SnmpEngineID (SIZE(5..32)) */
#define TRAP_SNMP_MIN_ENGINE_ID_BYTES 5
#define TRAP_SNMP_MAX_KEY_BYTES       64 /* SHA-512 */
#define TRAP_SNMP_MIN_PASSWORD_BYTES  8  /* as net-snmp: shorter ones are refused */
#define TRAP_SNMP_MAX_PASSWORD_BYTES  256
#define TRAP_SNMP_IDENTITY_VERSION    1
#define TRAP_SNMP_MAX_OID_TEXT_BYTES  (TRAP_SNMP_MAX_OID_ARCS * 11) /* "4294967295." each */

/* ---- Refusal reasons --------------------------------------------------- */

/* Why a datagram was refused; 0 means accepted. Each has a stable name
 * (trap_snmp_drop_name) so the receiver can count drops by reason. */
enum trap_snmp_drop {
	TRAP_SNMP_OK = 0,
	TRAP_SNMP_DROP_TRUNCATED,     /* a BER length runs past its enclosing value */
	TRAP_SNMP_DROP_BAD_LENGTH,    /* indefinite length, or more than 4 length octets */
	TRAP_SNMP_DROP_BAD_TAG,       /* unexpected tag, or high-tag-number form */
	TRAP_SNMP_DROP_BAD_INTEGER,   /* empty, or too large for its type */
	TRAP_SNMP_DROP_BAD_OID,       /* empty, > 128 arcs, sub-identifier overflow or padding */
	TRAP_SNMP_DROP_BAD_VALUE,     /* IpAddress not 4 octets, NULL not empty, out of range */
	TRAP_SNMP_DROP_TRAILING_DATA, /* bytes after the last field of a value or datagram */
	TRAP_SNMP_DROP_TOO_DEEP,      /* BER nesting beyond TRAP_SNMP_BER_MAX_DEPTH */
	TRAP_SNMP_DROP_BAD_VERSION,   /* not 0 (v1), 1 (v2c) or 3 (v3) */
	TRAP_SNMP_DROP_UNKNOWN_COMMUNITY,
	TRAP_SNMP_DROP_NOT_NOTIFICATION, /* Get, Set, Response, Report, other version's PDU */
	TRAP_SNMP_DROP_TOO_MANY_VARBINDS,
	TRAP_SNMP_DROP_NO_SYSUPTIME,       /* v2c/v3: first varbind is not sysUpTime.0 TimeTicks */
	TRAP_SNMP_DROP_NO_TRAP_OID,        /* v2c/v3: second varbind is not snmpTrapOID.0 OID */
	TRAP_SNMP_DROP_BAD_GENERIC_TRAP,   /* v1: generic-trap outside 0..6 */
	TRAP_SNMP_DROP_BAD_SECURITY_MODEL, /* v3: msgSecurityModel is not USM (3) */
	TRAP_SNMP_DROP_BAD_FLAGS,          /* v3: msgFlags not one octet, or privacy without auth */
	TRAP_SNMP_DROP_UNKNOWN_ENGINE_ID,
	TRAP_SNMP_DROP_UNKNOWN_USER,
	TRAP_SNMP_DROP_UNSUPPORTED_SEC_LEVEL, /* auth/priv asked that the user has no key for */
	TRAP_SNMP_DROP_SEC_LEVEL_TOO_LOW,     /* below the level the user requires */
	TRAP_SNMP_DROP_WRONG_DIGEST,
	TRAP_SNMP_DROP_DECRYPT_FAILED,
	TRAP_SNMP_DROP_NO_SCRATCH,   /* encrypted, and the caller's scratch is too small */
	TRAP_SNMP_DROP_CRYPTO_ERROR, /* libcrypto failed (out of memory) */
	TRAP_SNMP_DROP_COUNT
};

/* Stable snake_case name of a reason ("ok", "truncated", "wrong_digest"...);
 * "unknown" for a value outside the enum. */
const char *trap_snmp_drop_name(enum trap_snmp_drop reason);

/* ---- BER reader ---------------------------------------------------------- */

enum trap_snmp_tag {
	TRAP_SNMP_TAG_INTEGER = 0x02,
	TRAP_SNMP_TAG_OCTET_STRING = 0x04,
	TRAP_SNMP_TAG_NULL = 0x05,
	TRAP_SNMP_TAG_OID = 0x06,
	TRAP_SNMP_TAG_SEQUENCE = 0x30,
	TRAP_SNMP_TAG_IP_ADDRESS = 0x40,
	TRAP_SNMP_TAG_COUNTER32 = 0x41,
	TRAP_SNMP_TAG_GAUGE32 = 0x42,
	TRAP_SNMP_TAG_TIME_TICKS = 0x43,
	TRAP_SNMP_TAG_OPAQUE = 0x44,
	TRAP_SNMP_TAG_COUNTER64 = 0x46,
	TRAP_SNMP_TAG_UINTEGER32 = 0x47,
	TRAP_SNMP_TAG_NO_SUCH_OBJECT = 0x80,
	TRAP_SNMP_TAG_NO_SUCH_INSTANCE = 0x81,
	TRAP_SNMP_TAG_END_OF_MIB_VIEW = 0x82,
	TRAP_SNMP_PDU_GET = 0xa0,
	TRAP_SNMP_PDU_GET_NEXT = 0xa1,
	TRAP_SNMP_PDU_RESPONSE = 0xa2,
	TRAP_SNMP_PDU_SET = 0xa3,
	TRAP_SNMP_PDU_TRAP_V1 = 0xa4,
	TRAP_SNMP_PDU_GET_BULK = 0xa5,
	TRAP_SNMP_PDU_INFORM = 0xa6,
	TRAP_SNMP_PDU_TRAP_V2 = 0xa7,
	TRAP_SNMP_PDU_REPORT = 0xa8,
};

/* A cursor over the BER values inside one buffer (or one constructed value). */
struct trap_snmp_ber {
	const uint8_t *p;
	size_t left;
};

/* One TLV as read: tag, then len value octets at value. */
struct trap_snmp_tlv {
	uint8_t tag;
	const uint8_t *start; /* the tag octet */
	const uint8_t *value;
	size_t len;
};

/* Content octets of a validated OBJECT IDENTIFIER (see "BER" above). */
struct trap_snmp_oid {
	const uint8_t *ber;
	uint16_t len;    /* 1..TRAP_SNMP_MAX_OID_BYTES */
	uint16_t n_arcs; /* 2..TRAP_SNMP_MAX_OID_ARCS */
};

void trap_snmp_ber_init(struct trap_snmp_ber *r, const void *buf, size_t len);
/* Reads the next TLV and steps over it. TRUNCATED if r is empty or the value
 * runs past the end; BAD_TAG, BAD_LENGTH as described above. */
enum trap_snmp_drop trap_snmp_ber_next(struct trap_snmp_ber *r, struct trap_snmp_tlv *t);
/* trap_snmp_ber_next(), then BAD_TAG unless t->tag == tag. */
enum trap_snmp_drop trap_snmp_ber_expect(struct trap_snmp_ber *r, uint8_t tag,
					 struct trap_snmp_tlv *t);
/* A reader over t's value octets (for a SEQUENCE or PDU). */
void trap_snmp_ber_enter(const struct trap_snmp_tlv *t, struct trap_snmp_ber *inner);
/* True when nothing is left. */
bool trap_snmp_ber_done(const struct trap_snmp_ber *r);

/* INTEGER content as int64 (BAD_INTEGER if empty or too large). */
enum trap_snmp_drop trap_snmp_ber_int(const struct trap_snmp_tlv *t, int64_t *out);
/* Unsigned content of at most `bits` (32 or 64) bits (BAD_INTEGER). */
enum trap_snmp_drop trap_snmp_ber_uint(const struct trap_snmp_tlv *t, unsigned bits, uint64_t *out);
/* Validates t's content as an OID (BAD_OID) and points out at it. */
enum trap_snmp_drop trap_snmp_ber_oid(const struct trap_snmp_tlv *t, struct trap_snmp_oid *out);

/* Writes the arcs of a validated OID into arcs[0..max); returns the number
 * of arcs (which may exceed max: only max were written). */
size_t trap_snmp_oid_arcs(const struct trap_snmp_oid *oid, uint32_t *arcs, size_t max);
/* Dotted text "1.3.6.1..." plus a NUL; returns its strlen, or DUET_ETOOBIG
 * (TRAP_SNMP_MAX_OID_TEXT_BYTES always suffices). */
long trap_snmp_oid_format(const struct trap_snmp_oid *oid, char *buf, size_t cap);
/* True if a and b are the same OID. */
bool trap_snmp_oid_equal(const struct trap_snmp_oid *a, const struct trap_snmp_oid *b);

/* Visits every TLV of buf (which must be a sequence of complete TLVs),
 * depth-first, descending into constructed values (tag bit 0x20) with an
 * explicit stack: TOO_DEEP beyond TRAP_SNMP_BER_MAX_DEPTH levels. Depth of
 * the outermost values is 0. Primitive values are not interpreted. */
typedef void trap_snmp_ber_visit_fn(void *arg, unsigned depth, const struct trap_snmp_tlv *t);
enum trap_snmp_drop trap_snmp_ber_walk(const uint8_t *buf, size_t len,
				       trap_snmp_ber_visit_fn *visit, void *arg);

/* BER writing, for the responses: the size of a TLV with len value octets;
 * the tag and minimal length octets written at out (at most 10; the caller
 * makes room); the minimal two's complement content octets of v (1..8,
 * written at out). */
size_t trap_snmp_ber_tlv_size(size_t len);
size_t trap_snmp_ber_put_head(uint8_t *out, uint8_t tag, size_t len);
size_t trap_snmp_ber_int_content(int64_t v, uint8_t *out);

/* ---- Configuration ------------------------------------------------------- */

enum trap_snmp_version {
	TRAP_SNMP_V1 = 0, /* wire values of msgVersion */
	TRAP_SNMP_V2C = 1,
	TRAP_SNMP_V3 = 3,
};

enum trap_snmp_auth {
	TRAP_SNMP_AUTH_NONE = 0,
	TRAP_SNMP_AUTH_MD5,    /* usmHMACMD5AuthProtocol, 12-octet MAC */
	TRAP_SNMP_AUTH_SHA1,   /* usmHMACSHAAuthProtocol, 12 */
	TRAP_SNMP_AUTH_SHA224, /* usmHMAC128SHA224AuthProtocol, 16 */
	TRAP_SNMP_AUTH_SHA256, /* usmHMAC192SHA256AuthProtocol, 24 */
	TRAP_SNMP_AUTH_SHA384, /* usmHMAC256SHA384AuthProtocol, 32 */
	TRAP_SNMP_AUTH_SHA512, /* usmHMAC384SHA512AuthProtocol, 48 */
};

enum trap_snmp_priv {
	TRAP_SNMP_PRIV_NONE = 0,
	TRAP_SNMP_PRIV_DES,    /* usmDESPrivProtocol, CBC-DES */
	TRAP_SNMP_PRIV_AES128, /* usmAesCfb128Protocol */
};

enum trap_snmp_level {
	/* In a user spec: the level the configured protocols allow (authPriv
	 * with a privacy protocol, authNoPriv with only auth, else noAuthNoPriv).
	 * Never the level of a decoded message. */
	TRAP_SNMP_LEVEL_DEFAULT = 0,
	TRAP_SNMP_LEVEL_NOAUTH_NOPRIV,
	TRAP_SNMP_LEVEL_AUTH_NOPRIV,
	TRAP_SNMP_LEVEL_AUTH_PRIV,
};

/* How a secret in a user spec is given. */
enum trap_snmp_key_kind {
	TRAP_SNMP_KEY_PASSWORD = 0, /* 8..256 octets; RFC 3414 A.2 password to key */
	TRAP_SNMP_KEY_MASTER,       /* Ku: hash-sized, localized with each engine id */
	TRAP_SNMP_KEY_LOCALIZED,    /* Kul: hash-sized, only with an engine id */
};

/* What trap_snmp_config_add_user() takes; every pointer is copied from. */
struct trap_snmp_user_spec {
	const char *name; /* 1..32 octets, NUL-terminated */
	const uint8_t *engine_id;
	size_t engine_id_len; /* 5..32, or 0: any engine */
	enum trap_snmp_auth auth;
	enum trap_snmp_key_kind auth_kind;
	const uint8_t *auth_secret;
	size_t auth_secret_len;
	enum trap_snmp_priv priv; /* needs auth */
	enum trap_snmp_key_kind priv_kind;
	const uint8_t *priv_secret;
	size_t priv_secret_len;
	enum trap_snmp_level min_level; /* lowest message level accepted */
};

/* One configured user (private to the module; shown for the size only). */
struct trap_snmp_user {
	uint8_t name[TRAP_SNMP_MAX_USER_NAME_BYTES];
	uint8_t name_len;
	uint8_t engine_id[TRAP_SNMP_MAX_ENGINE_ID_BYTES];
	uint8_t engine_id_len; /* 0: any engine; keys localized per message */
	uint8_t auth, priv, min_level;
	uint8_t key_len;                           /* hash size of auth */
	uint8_t auth_key[TRAP_SNMP_MAX_KEY_BYTES]; /* Kul, or Ku if engine_id_len == 0 */
	uint8_t priv_key[TRAP_SNMP_MAX_KEY_BYTES]; /* likewise */
};

struct trap_snmp_crypto; /* libcrypto context, algorithms (snmp_usm.c) */

/* Accepted communities and USM users. Caller-allocated; fields are private
 * except max_varbinds, which the caller may lower after init. */
struct trap_snmp_config {
	uint32_t max_varbinds; /* default and ceiling TRAP_SNMP_MAX_VARBINDS */
	uint32_t n_communities;
	struct {
		uint8_t len;
		uint8_t bytes[TRAP_SNMP_MAX_COMMUNITY_BYTES];
	} communities[TRAP_SNMP_MAX_COMMUNITIES];
	uint32_t n_users;
	struct trap_snmp_user users[TRAP_SNMP_MAX_USERS];
	struct trap_snmp_crypto *crypto; /* NULL until the first user with auth */
};

/* An empty config (no community, no user: everything is refused). */
void trap_snmp_config_init(struct trap_snmp_config *cfg);
/* Frees the crypto context; cfg may then be init'ed again. */
void trap_snmp_config_close(struct trap_snmp_config *cfg);
/* Accepts v1/v2c messages with this community (1..64 octets). Returns 0,
 * DUET_EINVAL (length), DUET_ETOOBIG (list full). Adding one twice is 0. */
int trap_snmp_config_add_community(struct trap_snmp_config *cfg, const void *community, size_t len);
/* Adds a USM user; keys from passwords are derived here (about 1 MiB of
 * hashing per password, a few ms). Returns 0, DUET_EINVAL (a field out of
 * range, priv without auth, min_level above what the protocols allow, a
 * localized key without engine id, a duplicate (name, engine id)),
 * DUET_ETOOBIG (TRAP_SNMP_MAX_USERS), DUET_ENOENT (libcrypto lacks the
 * algorithm: DES without the legacy provider), DUET_ENOMEM. */
int trap_snmp_config_add_user(struct trap_snmp_config *cfg, const struct trap_snmp_user_spec *spec);

/* ---- Decoded message ------------------------------------------------------ */

struct trap_snmp_bytes {
	const uint8_t *p;
	size_t len;
};

struct trap_snmp_varbind {
	struct trap_snmp_oid name;
	uint8_t type; /* enum trap_snmp_tag of the value */
	union {
		int64_t i;  /* INTEGER */
		uint64_t u; /* Counter32, Gauge32, TimeTicks, UInteger32, Counter64 */
		struct trap_snmp_bytes bytes; /* OCTET STRING, Opaque, IpAddress (4 octets) */
		struct trap_snmp_oid oid;     /* OBJECT IDENTIFIER */
	} value;                              /* nothing for NULL and the exceptions */
};

struct trap_snmp_msg {
	enum trap_snmp_version version;
	uint8_t pdu_type; /* TRAP_SNMP_PDU_TRAP_V1, _TRAP_V2 or _INFORM */

	struct trap_snmp_bytes community; /* v1, v2c */

	/* v1 Trap-PDU */
	struct trap_snmp_oid enterprise;
	uint8_t agent_addr[4];
	int32_t generic_trap;  /* 0..6 */
	int64_t specific_trap; /* 0..2^32-1 when generic_trap is 6 */

	/* v2c, v3 PDU */
	int64_t request_id; /* identifies an inform's retransmissions */
	int64_t error_status, error_index;

	uint32_t sys_uptime; /* sysUpTime.0, or the v1 time-stamp (1/100 s) */
	/* Trap OID (v1: RFC 3584 translation), see trap_snmp_msg_trap_oid(). */
	uint16_t trap_oid_len, trap_oid_arcs;
	uint8_t trap_oid_ber[TRAP_SNMP_MAX_OID_BYTES];

	/* v3 */
	int64_t msg_id;
	int64_t msg_max_size;
	uint8_t msg_flags;
	enum trap_snmp_level security_level;
	struct trap_snmp_bytes engine_id; /* msgAuthoritativeEngineID */
	uint32_t engine_boots, engine_time;
	struct trap_snmp_bytes user_name;
	struct trap_snmp_bytes context_engine_id, context_name;

	/* The VarBindList TLV as received (echoed by the Response-PDU). */
	struct trap_snmp_bytes varbind_list;
	uint32_t n_varbinds;
	struct trap_snmp_varbind varbinds[TRAP_SNMP_MAX_VARBINDS];
};

/* Decodes one datagram. scratch receives the plaintext of an encrypted v3
 * message: scratch_cap >= len always suffices (NO_SCRATCH if too small;
 * scratch may be NULL when cap is 0). Returns TRAP_SNMP_OK with *msg
 * filled, or the reason for refusing (then *msg is unspecified). */
enum trap_snmp_drop trap_snmp_decode(const struct trap_snmp_config *cfg, const uint8_t *dgram,
				     size_t len, uint8_t *scratch, size_t scratch_cap,
				     struct trap_snmp_msg *msg);

/* The trap OID of a decoded message (points into msg). */
struct trap_snmp_oid trap_snmp_msg_trap_oid(const struct trap_snmp_msg *msg);

/* True for an InformRequest (which wants a Response-PDU). */
bool trap_snmp_msg_is_inform(const struct trap_snmp_msg *msg);

/* Writes the identity content (layout above) into buf; returns its length,
 * or DUET_ETOOBIG if it does not fit in cap (buf may then be NULL with cap
 * 0 to learn the length: the return value is then the length needed). */
long trap_snmp_identity(const struct trap_snmp_msg *msg, uint8_t *buf, size_t cap);

/* Writes one JSON object and a NUL into buf; returns its strlen, or
 * DUET_ETOOBIG. Always valid UTF-8. The community is left out (it is a
 * secret). Shape:
 *   {"kind":"snmp","version":"1"|"2c"|"3","pdu":"trap"|"inform",
 *    v1: "enterprise":"1.3...","agent_addr":"a.b.c.d","generic_trap":N,
 *        "specific_trap":N,
 *    v2c/v3: "request_id":N,
 *    v3: "msg_id":N,"security_level":"noAuthNoPriv"|"authNoPriv"|"authPriv",
 *        "user":"..."|"user_hex":"..","engine_id":"<hex>","engine_boots":N,
 *        "engine_time":N,"context_engine_id":"<hex>",
 *        "context_name":"..."|"context_name_hex":"..",
 *    "sys_uptime":N,"trap_oid":"1.3...",
 *    "varbinds":[{"oid":"1.3...","type":T,"value":V}...]}
 * T: "integer" (V number), "octet_string" (V string if the octets are UTF-8
 * without control characters other than tab/CR/LF, else "hex":"0a1b"
 * instead of "value"), "null", "oid" (V dotted string), "ip_address" (V
 * "a.b.c.d"), "counter32", "gauge32", "timeticks", "uinteger32",
 * "counter64" (V number), "opaque" ("hex"), "no_such_object",
 * "no_such_instance", "end_of_mib_view" (V null). Strings are escaped per
 * RFC 8259. */
long trap_snmp_json(const struct trap_snmp_msg *msg, char *buf, size_t cap);

/* Encodes the Response-PDU acknowledging a decoded v2c InformRequest: same
 * version, community and request-id, error-status 0, the inform's varbinds
 * (RFC 3416 4.2.7). Returns its length, DUET_ETOOBIG, or DUET_EINVAL if msg
 * is not a v2c inform. msg's datagram must still be there; buf must not
 * overlap it. */
long trap_snmp_response_encode(const struct trap_snmp_msg *msg, uint8_t *buf, size_t cap);

/* The receiver's own SNMP engine: for an InformRequest it is the
 * authoritative one (RFC 3414 3.1.1). */
struct trap_snmp_engine {
	const uint8_t *id;
	size_t id_len;
	uint32_t boots, time; /* snmpEngineBoots, snmpEngineTime (seconds), each <= 2^31-1 */
};

/* Encodes the Response to a decoded v3 InformRequest: msgID and request-id
 * of the inform, the same user and security level (reportable clear), our
 * engine's boots and time, the context and varbinds of the inform, signed
 * and (authPriv) encrypted with the user's keys for our engine. The inform
 * must have been sent to our engine: msg->engine_id must equal local->id
 * (the sender was configured with it, e.g. snmpinform -e, or learnt it by
 * discovery). salt: 8 octets, needed for authPriv, that must never repeat
 * under one key (a counter started at a random value; the module has no
 * randomness of its own). msg's datagram and scratch must still hold what
 * the decoder left there; buf must not overlap them. Returns the length,
 * DUET_ETOOBIG, DUET_EINVAL (not a v3 inform, another engine, the user is
 * gone, no salt), DUET_ENOMEM.
 *
 * Not done: the Report PDUs of RFC 3414 (usmStatsUnknownEngineIDs for
 * engine discovery, usmStatsNotInTimeWindows for time synchronisation), so
 * a sender that discovers the receiver's engine id before sending (most
 * agents' v3 informs) gets no answer to its probe and cannot inform us;
 * the receiver counts such probes (UNKNOWN_ENGINE_ID). */
long trap_snmp_response_encode_v3(const struct trap_snmp_config *cfg,
				  const struct trap_snmp_msg *msg,
				  const struct trap_snmp_engine *local, const uint8_t *salt,
				  uint8_t *buf, size_t cap);

/* ---- USM keys (RFC 3414 A.2) ----------------------------------------------- */

/* Hash size (the key length) of an auth protocol, 0 for NONE. */
size_t trap_snmp_auth_key_len(enum trap_snmp_auth auth);
/* MAC length carried in msgAuthenticationParameters, 0 for NONE. */
size_t trap_snmp_auth_mac_len(enum trap_snmp_auth auth);
/* Password to key Ku: the hash of 1 MiB of the password repeated. Writes
 * trap_snmp_auth_key_len(auth) bytes; returns that length, DUET_EINVAL
 * (auth NONE, empty password), DUET_ETOOBIG (cap), DUET_ENOMEM. */
long trap_snmp_password_to_key(enum trap_snmp_auth auth, const void *password, size_t len,
			       uint8_t *key, size_t cap);
/* Localized key Kul = H(Ku || engine id || Ku); same returns. */
long trap_snmp_localize_key(enum trap_snmp_auth auth, const uint8_t *ku, size_t ku_len,
			    const uint8_t *engine_id, size_t engine_id_len, uint8_t *key,
			    size_t cap);

/* Re-signs a v3 authenticated message in place (HMAC with the key of the
 * configured user it names, written into msgAuthenticationParameters).
 * For tests and fuzzing, which alter a signed message and still want it
 * to pass authentication. Returns 0, DUET_EINVAL (not a v3 authenticated
 * message, or its user/engine is not configured), DUET_ENOMEM. */
int trap_snmp_usm_resign(const struct trap_snmp_config *cfg, uint8_t *dgram, size_t len);

/* ---- Between the module's files (not for callers) ------------------------ */

/* snmp_v3.c for snmp_decode.c: parses what follows msgVersion in `rest`
 * (the message SEQUENCE's content), fills msg's v3 fields, finds the user,
 * checks level and digest, decrypts into scratch, reads contextEngineID and
 * contextName, and leaves *pdu over the rest of the ScopedPDU. */
enum trap_snmp_drop trap_snmp_v3_unwrap(const struct trap_snmp_config *cfg, const uint8_t *dgram,
					size_t len, struct trap_snmp_ber *rest, uint8_t *scratch,
					size_t scratch_cap, struct trap_snmp_msg *msg,
					struct trap_snmp_ber *pdu);

/* snmp_usm.c for snmp_v3.c. The user for (name, engine id), an exact
 * engine match before a user for any engine; NULL with *why
 * UNKNOWN_ENGINE_ID (the name is known, or the engine id is empty) or
 * UNKNOWN_USER. */
const struct trap_snmp_user *trap_snmp_usm_find(const struct trap_snmp_config *cfg,
						const struct trap_snmp_bytes *name,
						const struct trap_snmp_bytes *engine_id,
						enum trap_snmp_drop *why);
/* The user's authentication (priv false) or privacy key localized for
 * engine_id, u->key_len octets. 0 or DUET_ENOMEM. */
int trap_snmp_usm_key(const struct trap_snmp_config *cfg, const struct trap_snmp_user *u, bool priv,
		      const struct trap_snmp_bytes *engine_id, uint8_t *key);
/* HMAC (the user's hash) of buf[0..len) with [zero_off, +zero_len) read as
 * zeros; writes the full hash into mac (TRAP_SNMP_MAX_KEY_BYTES). */
int trap_snmp_usm_mac(const struct trap_snmp_config *cfg, const struct trap_snmp_user *u,
		      const uint8_t *key, const uint8_t *buf, size_t len, size_t zero_off,
		      size_t zero_len, uint8_t *mac);
/* Encrypts or decrypts len octets with the user's privacy protocol (out
 * may be in; DES takes whole blocks only: DUET_EINVAL). */
int trap_snmp_usm_crypt(const struct trap_snmp_config *cfg, const struct trap_snmp_user *u,
			bool encrypt, const uint8_t *key, uint32_t boots, uint32_t time,
			const uint8_t *salt, const uint8_t *in, size_t len, uint8_t *out);

#endif
