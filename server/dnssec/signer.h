/*
 * signer.h - online DNSSEC signing for one DNS worker (RFC 4034, RFC 4035,
 * RFC 6840, RFC 6605 ECDSAP256SHA256, RFC 8080 ED25519); docs/dnssec.md,
 * "Online signing and denial".
 *
 * Contract:
 *  - One gslb_signer_t per worker thread; nothing in it is shared, nothing is
 *    locked. It holds the worker's SHA-256 (fetched once), the private keys of
 *    the zones it has signed for (parsed from the worker's own read snapshot,
 *    each with its own EVP_PKEY_CTX / EVP_MD_CTX, as openssl-threads(7) asks),
 *    scratch buffers for the RRset being signed, and a signature cache.
 *  - Keys: gslb_signer_zone() reads a zone's compiled signing keys (its ACTIVE
 *    keys, answers.h GSLB_ANS_SIGNING_KEYS: one lookup in the answers sub-DB,
 *    the only table of the hot path; dnssec_keys is never read here) in the
 *    caller's snapshot once per snapshot (txn id), and re-parses private keys
 *    only when that set changed (fingerprint of tag, algorithm, flags, role and
 *    public key of the keys used). A zone without a compiled key is unsigned.
 *    Keys of flags 257 (SEP) sign the DNSKEY RRset, the others everything else;
 *    a zone with only one kind uses it for both.
 *  - Signing an RRset: gslb_signer_rrset_begin(), one gslb_signer_rrset_add()
 *    per record, gslb_signer_rrset_sign(). The records are put in canonical
 *    form (RFC 4034 6.2: names in NS/SOA rdata lower-cased), sorted and
 *    de-duplicated (6.3); the signed data is RRSIG_RDATA | RR(1) | RR(2)...
 *    (3.1.8.1) with the owner lower-cased, the class IN and the original TTL.
 *  - Validity (the same on every node and every worker, so repeated RRsets
 *    sign identically for caching): inception = the current hour rounded down
 *    minus GSLB_RRSIG_BACKDATE, expiration = inception + GSLB_RRSIG_LIFETIME.
 *  - Cache: direct-mapped, GSLB_SIGCACHE_SLOTS entries keyed by a keyed
 *    128-bit SipHash-2-4 of the complete signed data (which holds owner, type,
 *    TTL, canonical rdata, algorithm, key tag, signer and validity window) and
 *    the signer's key generation, which bumps whenever any zone's keys are
 *    re-loaded. A hit costs the canonical form, the hash and a 64-byte copy.
 *  - Errors are negative GSLB_E* codes; a failed signature never leaves a
 *    partial RRSIG. Nothing here allocates per query (scratch buffers grow
 *    geometrically when a larger RRset than ever before is signed).
 */
#pragma once

#include "env.h"
#include "gslb_err.h"
#include "keys.h"

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GSLB_SIG_LEN 64         /* both algorithms: r||s (RFC 6605 4) or Ed25519 (RFC 8080 3) */
#define GSLB_RRSIG_FIXED_LEN 18 /* type covered .. key tag */
#define GSLB_RRSIG_RDATA_MAX (GSLB_RRSIG_FIXED_LEN + 255 + GSLB_SIG_LEN)
#define GSLB_RRSIG_BACKDATE 3600        /* inception: one hour before the current hour */
#define GSLB_RRSIG_LIFETIME (7 * 86400) /* expiration = inception + 7 days */
#define GSLB_SIGCACHE_SLOTS 4096        /* power of two */
#define GSLB_SIGNER_ZONE_SLOTS 256      /* power of two */
#define GSLB_SIGNER_ZONE_KEYS 4         /* ACTIVE keys used per zone */
#define GSLB_DNSKEY_FLAG_SEP 0x0001u

/* ---- pure helpers ------------------------------------------------------------ */

/** RFC 4034 3.1.3: labels of an owner name, root and a leading "*" not counted. */
unsigned gslb_rrsig_labels(const uint8_t *owner, size_t len);

/** The validity window for a signature made at unix time now. */
void gslb_rrsig_window(int64_t now, uint32_t *inception, uint32_t *expiration);

/** An ECDSA-Sig-Value (DER SEQUENCE of two INTEGERs) as the fixed 64-byte
 *  r||s of RFC 6605 4. 0 or GSLB_EINVAL (not DER, or an integer over 32 bytes). */
int gslb_ecdsa_der_to_rs(const uint8_t *der, size_t len, uint8_t out[GSLB_SIG_LEN]);

/** RFC 4034 6.2 canonical rdata of a record of type (names in NS and SOA
 *  rdata lower-cased; other types copied). out has room for len bytes. */
void gslb_rdata_canonical(uint16_t type, const uint8_t *rd, size_t len, uint8_t *out);

/** RFC 4034 6.3 order of two canonical rdatas: <0, 0, >0. */
int gslb_rdata_compare(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

/** SipHash-2-4 with 128-bit output of data under key k (two 64-bit words). */
void gslb_siphash128(const uint64_t k[2], const void *data, size_t len, uint64_t out[2]);

/* ---- one signing key --------------------------------------------------------- */

typedef struct gslb_signer_key {
    EVP_PKEY *pkey;     /* owned */
    EVP_PKEY_CTX *pctx; /* ECDSA: EVP_PKEY_sign_init done once */
    EVP_MD_CTX *mctx;   /* ECDSA: SHA-256 of the data; Ed25519: EVP_DigestSign */
    uint16_t key_tag;
    uint16_t flags;
    uint8_t algorithm;
} gslb_signer_key_t;

/** Prepare a key for signing; takes ownership of pkey (also on error). The key
 *  type must match the algorithm (13: EC P-256, 15: ED25519). */
int gslb_signer_key_init(gslb_signer_key_t *k, EVP_PKEY *pkey, uint8_t algorithm, uint16_t key_tag,
                         uint16_t flags, gslb_errbuf_t *eb);
void gslb_signer_key_clear(gslb_signer_key_t *k);

/** Sign data: 64 bytes into sig. sha256 is the caller's fetched digest.
 *  0 or GSLB_ECRYPTO. */
int gslb_signer_key_sign(gslb_signer_key_t *k, const EVP_MD *sha256, const uint8_t *data,
                         size_t len, uint8_t sig[GSLB_SIG_LEN]);

/* ---- the per-worker signer ---------------------------------------------------- */

/* The signing keys of one zone, valid for the snapshot checked_txnid. */
typedef struct gslb_signer_zone {
    uint8_t apex[255]; /* lower-case wire name */
    uint8_t apex_len;  /* 0 = slot unused */
    uint64_t checked_txnid;
    uint64_t fingerprint[2]; /* of the ACTIVE key set last loaded */
    unsigned nkeys;
    int zsk, ksk; /* indexes into keys: data RRsets / the DNSKEY RRset */
    gslb_signer_key_t keys[GSLB_SIGNER_ZONE_KEYS];
} gslb_signer_zone_t;

typedef struct gslb_sigcache_entry {
    uint64_t h[2];
    uint64_t gen; /* signer key generation; 0 = empty */
    uint8_t sig[GSLB_SIG_LEN];
} gslb_sigcache_entry_t;

typedef struct gslb_signer_rr {
    uint32_t off; /* canonical rdata in rd_buf */
    uint16_t len;
} gslb_signer_rr_t;

typedef struct gslb_signer {
    EVP_MD *sha256;
    uint64_t hash_key[2]; /* random per signer */
    uint64_t gen;         /* key generation (>= 1) */
    gslb_signer_zone_t *zones;
    gslb_sigcache_entry_t *cache;
    int64_t fixed_now; /* tests: non-zero replaces the clock */
    /* the RRset being built */
    uint8_t owner[255];
    size_t owner_len;
    uint16_t type;
    uint32_t ttl;
    int err; /* sticky error of rrset_add */
    uint8_t *rd_buf;
    size_t rd_len, rd_cap;
    gslb_signer_rr_t *rr;
    size_t rr_count, rr_cap;
    uint8_t *input; /* the signed data */
    size_t input_cap;
    /* counters (read by tests and by the caller's stats) */
    uint64_t signatures, cache_hits, key_loads;
} gslb_signer_t;

/** 0 or GSLB_ENOMEM / GSLB_ECRYPTO. */
int gslb_signer_init(gslb_signer_t *s);
void gslb_signer_destroy(gslb_signer_t *s);

/** The signing keys of the zone at apex (lower-case wire) in this snapshot:
 *  *out = the zone, or NULL when it has no usable ACTIVE key. txnid
 *  identifies the snapshot (keys are re-checked when it changes).
 *  @return GSLB_OK (also for an unsigned zone: *out NULL); GSLB_EINVAL for a
 *          bad apex; GSLB_ECORRUPT when the keys entry is not a KEYS value or
 *          is damaged; GSLB_EVERSION / GSLB_ESTORE from the lookup. */
int gslb_signer_zone(gslb_signer_t *s, gslb_env_t *env, MDB_txn *txn, uint64_t txnid,
                     const uint8_t *apex, size_t apex_len, gslb_signer_zone_t **out);

/** Start an RRset: owner (any case; lower-cased here), type, original TTL. */
void gslb_signer_rrset_begin(gslb_signer_t *s, const uint8_t *owner, size_t owner_len,
                             uint16_t type, uint32_t ttl);
/** Add one record's rdata (uncompressed wire form). */
void gslb_signer_rrset_add(gslb_signer_t *s, const uint8_t *rd, size_t len);

/** Sign the RRset with the zone's key for its type; writes the RRSIG rdata
 *  (signer name = the zone apex) into out. Returns its length or an error.
 *  *cached (may be NULL) tells whether the signature came from the cache. */
int gslb_signer_rrset_sign(gslb_signer_t *s, const gslb_signer_zone_t *z, uint8_t *out, size_t cap,
                           bool *cached);

/** Unix time used for the validity window (fixed_now when set). */
int64_t gslb_signer_now(const gslb_signer_t *s);
