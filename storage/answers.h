/*
 * answers.h - compiled answer sets: the only table the DNS hot path reads.
 *
 * Sub-DB "answers". Key = lower-case DNS wire name (uncompressed, with the root
 * label) followed by the 2-byte big-endian qtype. Built by the writer
 * (gslb_answers_rebuild*) whenever an input (zone, domain, backend, override)
 * changes, inside the writer's transaction, so readers see inputs and answers
 * change atomically.
 *
 * Entries:
 *  qtype 0 (GSLB_ANS_NODE): one per existing name: zone apexes, GSLB domains,
 *     in-zone NS hosts and every empty non-terminal between a name and its zone.
 *  qtype SOA / NS at each apex; A / AAAA at in-zone NS hosts: static RRsets.
 *  qtype DNSKEY at each apex: static RRset of the zone's dnssec_keys in state
 *     ACTIVE or PUBLISHED (TTL = the zone's NS TTL); absent when there is none.
 *  qtype 65535 (GSLB_ANS_SIGNING_KEYS, a type IANA reserves and never assigns)
 *     at each apex: the zone's signing keys, i.e. its dnssec_keys in state
 *     ACTIVE in key order, with their PKCS#8 private keys (kind KEYS); absent
 *     when there is none. The DNS worker's signer reads its keys from here and
 *     never from dnssec_keys. It is compiled with the DNSKEY RRset, in the
 *     transaction that changes the keys (gslb_answers_rebuild_zone_keys) and
 *     by every full rebuild (which is how a store written before this entry
 *     existed gets it: the overwatch rebuilds all answers when it applies its
 *     configuration at start). It is private key material, like dnssec_keys:
 *     never logged, wiped from temporary buffers, and never answered (a query
 *     for TYPE65535 gets NODATA like any type without data).
 *  qtype A / AAAA at each GSLB domain: a candidate set (always present for both
 *     families, possibly with zero candidates).
 *
 * All values are little-endian packed structs read in place (zero copy) from
 * LMDB's map; alignment is not assumed (use memcpy or the accessors below).
 * Every value begins with a version byte and a kind byte; readers must call
 * gslb_ans_check() on the raw value once before using it, which validates all
 * lengths against the value size (so a damaged store cannot make a reader
 * overrun).
 *
 * gslb_ans_domain_digest() summarises a domain's two sets as a SHA-256 that equal
 * answers give equal digests on every node (GET /api/v1/overwatch/backends).
 */
#pragma once

#include "dnsdef.h"
#include "records.h"

#include <assert.h>
#include <stddef.h>

#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>

#define GSLB_ANS_V1 1
#define GSLB_ANS_NODE 0             /* reserved qtype: the node entry of a name */
#define GSLB_ANS_SIGNING_KEYS 65535 /* reserved qtype: the signing keys of a zone (apex) */

enum gslb_ans_kind {
    GSLB_ANS_KIND_NODE = 1,   /* value: gslb_ans_node_t */
    GSLB_ANS_KIND_STATIC = 2, /* value: gslb_ans_static_t + rdata records */
    GSLB_ANS_KIND_GSLB = 3,   /* value: gslb_ans_set_t + candidates */
    GSLB_ANS_KIND_KEYS = 4,   /* value: gslb_ans_keys_t + signing keys */
};

enum gslb_ans_node_flags {
    GSLB_NODE_APEX = 1 << 0,   /* zone apex: SOA/NS exist here */
    GSLB_NODE_DOMAIN = 1 << 1, /* GSLB domain: A/AAAA candidate sets exist here */
    GSLB_NODE_ENT = 1 << 2,    /* empty non-terminal: NODATA for every type */
    GSLB_NODE_HOST = 1 << 3,   /* in-zone NS host with static A/AAAA */
};

#pragma pack(push, 1)
typedef struct gslb_ans_node {
    uint8_t version;     /* GSLB_ANS_V1 */
    uint8_t kind;        /* GSLB_ANS_KIND_NODE */
    uint8_t flags;       /* enum gslb_ans_node_flags */
    uint8_t zone_offset; /* the zone apex is key_name[zone_offset..] (wire) */
} gslb_ans_node_t;

/* Static RRset: header then `count` records of {uint16 rdlength; rdata[rdlength]}.
 * Domain names inside rdata (NS, SOA) are uncompressed wire format. */
typedef struct gslb_ans_static {
    uint8_t version;
    uint8_t kind; /* GSLB_ANS_KIND_STATIC */
    uint16_t count;
    uint32_t ttl;
    uint32_t neg_ttl; /* SOA only: min(SOA TTL, SOA minimum) for negative answers */
} gslb_ans_static_t;

enum gslb_cand_flags {
    GSLB_CAND_HEALTHY = 1 << 0,       /* servable now */
    GSLB_CAND_LAST_HEALTHY = 1 << 1,  /* part of the last set that had a healthy member */
    GSLB_CAND_OPERATOR_DOWN = 1 << 2, /* override down/drain: never served, not even as the
                                         last healthy set (never with LAST_HEALTHY) */
};

typedef struct gslb_ans_cand {
    uint8_t addr[16]; /* 4 bytes used for A, 16 for AAAA */
    uint32_t weight;  /* 0 = never served by the weighted policy */
    uint8_t priority; /* index of the region in the domain's region list (failover order) */
    uint8_t flags;    /* enum gslb_cand_flags */
    uint32_t latency_us;
} gslb_ans_cand_t;

/* GSLB candidate set: header then `count` gslb_ans_cand_t. */
typedef struct gslb_ans_set {
    uint8_t version;
    uint8_t kind;           /* GSLB_ANS_KIND_GSLB */
    uint8_t policy;         /* enum gslb_policy */
    uint8_t unhealthy_mode; /* enum gslb_unhealthy_mode */
    uint32_t ttl;
    uint16_t max_records; /* 0 = unlimited */
    uint16_t count;
    uint16_t healthy_count;
    uint32_t generation; /* bumps on every rebuild that changes the set */
} gslb_ans_set_t;

/* Signing keys of a zone: header then `count` keys, each a gslb_ans_key_t
 * followed by its public key (pub_len bytes, the DNSKEY public key field) and
 * its PKCS#8 DER private key (priv_len bytes). */
typedef struct gslb_ans_keys {
    uint8_t version;
    uint8_t kind; /* GSLB_ANS_KIND_KEYS */
    uint16_t count;
} gslb_ans_keys_t;

typedef struct gslb_ans_key {
    uint16_t key_tag;
    uint16_t flags; /* DNSKEY flags (257: SEP) */
    uint8_t algorithm;
    uint8_t role;      /* enum gslb_key_role */
    uint16_t pub_len;  /* at most GSLB_KEY_PUB_MAX */
    uint16_t priv_len; /* at most GSLB_KEY_DER_MAX */
} gslb_ans_key_t;
#pragma pack(pop)

/* The stored values are these structs byte for byte: their sizes and offsets
 * are the on-disk format (docs/storage.md, "Compiled answers"). */
static_assert(sizeof(gslb_ans_node_t) == 4, "answers: node value is 4 bytes");
static_assert(offsetof(gslb_ans_node_t, flags) == 2 && offsetof(gslb_ans_node_t, zone_offset) == 3,
              "answers: node layout");
static_assert(sizeof(gslb_ans_static_t) == 12, "answers: static header is 12 bytes");
static_assert(offsetof(gslb_ans_static_t, count) == 2 && offsetof(gslb_ans_static_t, ttl) == 4 &&
                  offsetof(gslb_ans_static_t, neg_ttl) == 8,
              "answers: static header layout");
static_assert(sizeof(gslb_ans_cand_t) == 26, "answers: candidate is 26 bytes");
static_assert(offsetof(gslb_ans_cand_t, weight) == 16 &&
                  offsetof(gslb_ans_cand_t, priority) == 20 &&
                  offsetof(gslb_ans_cand_t, flags) == 21 &&
                  offsetof(gslb_ans_cand_t, latency_us) == 22,
              "answers: candidate layout");
static_assert(sizeof(gslb_ans_set_t) == 18, "answers: candidate set header is 18 bytes");
static_assert(offsetof(gslb_ans_set_t, ttl) == 4 && offsetof(gslb_ans_set_t, max_records) == 8 &&
                  offsetof(gslb_ans_set_t, count) == 10 &&
                  offsetof(gslb_ans_set_t, healthy_count) == 12 &&
                  offsetof(gslb_ans_set_t, generation) == 14,
              "answers: candidate set header layout");
/* Every value starts with the version byte and the kind byte. */
static_assert(offsetof(gslb_ans_node_t, kind) == 1 && offsetof(gslb_ans_static_t, kind) == 1 &&
                  offsetof(gslb_ans_set_t, kind) == 1,
              "answers: kind is the second byte");
static_assert(sizeof(gslb_ans_keys_t) == 4, "answers: signing keys header is 4 bytes");
static_assert(sizeof(gslb_ans_key_t) == 10, "answers: signing key header is 10 bytes");

#define GSLB_ANS_QTYPE_LEN 2 /* the big-endian qtype after the name in a key */
#define GSLB_ANS_KEY_MAX (GSLB_DNS_NAME_MAX + GSLB_ANS_QTYPE_LEN)

/** One signing key of a KEYS value, read in place (integers in host order). */
typedef struct gslb_ans_key_view {
    uint16_t key_tag, flags, pub_len, priv_len;
    uint8_t algorithm, role;
    const uint8_t *pub, *priv; /* into the value */
} gslb_ans_key_view_t;

/** Build the answers key for (wire name, qtype) into key (cap >= GSLB_ANS_KEY_MAX). The wire
 *  name is lower-cased while copied. Returns the key length or GSLB_EINVAL. */
int gslb_ans_key(const uint8_t *wire_name, size_t name_len, uint16_t qtype, uint8_t *key,
                 size_t cap);

/** Validate a raw value: version, kind, and that every length fits in len.
 *  @return the kind (enum gslb_ans_kind, > 0); GSLB_EVERSION for an unknown
 *          version byte; GSLB_ECORRUPT for anything else that is wrong. */
int gslb_ans_check(const void *val, size_t len);

/** Read-only lookup inside a caller-owned read txn. On success val points into
 *  the map (valid until the txn is reset) and has been checked. No allocation.
 *  @return the kind (enum gslb_ans_kind, > 0); GSLB_ENOENT when there is no
 *          entry; GSLB_ECORRUPT / GSLB_EVERSION for a bad value or a damaged
 *          B-tree; GSLB_ESTORE for any other LMDB error. */
int gslb_ans_lookup(MDB_txn *txn, MDB_dbi answers_dbi, const uint8_t *key, size_t key_len,
                    MDB_val *val);

/** Most candidates kept per set (extra backends are logged and not served). */
#define GSLB_ANS_MAX_CANDS 1024
/** Most signing keys compiled per zone (more ACTIVE keys are logged and left out). */
#define GSLB_ANS_MAX_KEYS 16

/** Presentation name ("a.example.com", trailing dot optional, "" = root) to
 *  lower-case uncompressed wire format. Returns the wire length or an error. */
int gslb_ans_name_to_wire(const char *text, uint8_t *out, size_t cap);
/** Wire name of exactly len bytes to text without the trailing dot ("" = root).
 *  Returns the text length or GSLB_EINVAL / GSLB_ERANGE. */
int gslb_ans_wire_to_text(const uint8_t *wire, size_t len, char *out, size_t cap);

/** The key after *pos in a checked KEYS value (start with *pos = 0): fills k
 *  and advances *pos. @return false after the last key. */
bool gslb_ans_keys_next(const MDB_val *val, size_t *pos, gslb_ans_key_view_t *k);

/* ---- reading a domain's sets back (API diagnostics, not the DNS hot path) ---------- */

/** What a node serves for one GSLB domain, comparable across nodes. */
typedef struct gslb_ans_digest {
    /* SHA-256 over the A then the AAAA set: the header fields that shape an answer
     * (policy, unhealthy_mode, ttl, max_records, as stored) and, in address order, each
     * candidate that can be answered (flag HEALTHY or LAST_HEALTHY) as its 16 address
     * bytes, weight, priority and those two flags. Not hashed: generation, latency_us
     * (they differ between nodes that serve the same), candidates that are neither. */
    uint8_t sha256[32];
    uint32_t candidates; /* A + AAAA candidates compiled */
    uint32_t healthy;    /* of them flagged HEALTHY (answered now) */
} gslb_ans_digest_t;

/** The digest of domain (presentation name) inside a read txn. A missing set counts as
 *  empty. Returns 0, GSLB_EINVAL for a bad name, or a store error. */
int gslb_ans_domain_digest(MDB_txn *txn, MDB_dbi answers_dbi, const char *domain,
                           gslb_ans_digest_t *out);

/** The compiled candidate of addr in domain's A or AAAA set (the merge of all its ports).
 *  Returns 0, GSLB_ENOENT when the set or the address is absent, or an error. */
int gslb_ans_domain_cand(MDB_txn *txn, MDB_dbi answers_dbi, const char *domain,
                         const gslb_addr_t *addr, gslb_ans_cand_t *out);

/* Candidate accessor (val already checked). */
static inline const gslb_ans_cand_t *gslb_ans_cands(const gslb_ans_set_t *set)
{
    return (const gslb_ans_cand_t *)(const void *)((const uint8_t *)set + sizeof(*set));
}
