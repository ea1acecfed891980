/*
 * keys.h - DNSSEC key material of the overwatch (docs/dnssec.md): generation,
 * the DNSKEY/DS forms of a stored key, validation of imported keys, the
 * convergence rule, and loading the signing key(s) of a zone for the signer.
 *
 * Contract:
 *  - Keys live in the "dnssec_keys" sub-DB as gslb_dnskey_rec_t (records.h):
 *    pub = DNSKEY public key field (RFC 6605 for ECDSAP256SHA256 (13): the
 *    64-byte X||Y point; RFC 8080 for ED25519 (15): the 32-byte key),
 *    priv_der = PKCS#8 DER private key. Private material is never logged and
 *    is wiped from temporary buffers.
 *  - One CSK per zone (role GSLB_KEY_CSK, flags 257, protocol 3). The key tag
 *    is the RFC 4034 appendix B tag of the DNSKEY rdata.
 *  - States: ACTIVE signs and is published in the zone's DNSKEY RRset;
 *    PUBLISHED is published only (reserved for a future rollover: never
 *    produced by this version); RETIRED is neither (kept so a later sync can
 *    explain itself, purged once its `created` is GSLB_KEYS_RETIRED_KEEP_S old).
 *    The signer signs with the ACTIVE key(s) only.
 *  - Convergence rule (gslb_keys_converge): per zone the signing key is the key
 *    with the oldest `created`, ties broken by the lowest key tag, then by the
 *    lexicographically smallest public key bytes (memcmp, shorter first). That
 *    key becomes ACTIVE, every other key of the zone (whatever its state)
 *    RETIRED. States are therefore derived data: applied to the same set of
 *    keys the rule gives the same answer on every node.
 *  - Functions that change keys do so in the caller's write txn and rebuild the
 *    zone's DNSKEY answers (gslb_answers_rebuild_zone_keys) in that same txn;
 *    the caller commits with gslb_env_commit_durable().
 *  - Thread safety: every function is reentrant; EVP_PKEY objects returned to
 *    the caller are owned by the caller (gslb_signing_key_clear()).
 */
#pragma once

#include "env.h"
#include "gslb_err.h"
#include "records.h"

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GSLB_ALG_ECDSAP256SHA256 13
#define GSLB_ALG_ED25519 15
#define GSLB_DNSKEY_FLAGS_CSK 257 /* ZONE + SEP */
#define GSLB_DNSKEY_PROTOCOL 3
/** DNSKEY rdata: flags(2) protocol(1) algorithm(1) public key. */
#define GSLB_DNSKEY_RDATA_MAX (4 + GSLB_KEY_PUB_MAX)
/** Retired keys are deleted this long after their `created` time (7 days). */
#define GSLB_KEYS_RETIRED_KEEP_S (7 * 86400)
/** Most keys considered per zone (more are refused on import). */
#define GSLB_KEYS_MAX_PER_ZONE 16
/** Presentation buffers: DNSKEY / DS lines as ldns prints them. */
#define GSLB_KEYS_TEXT_MAX 512

/* ---- pure functions on one key ----------------------------------------------- */

/** Generate a CSK for zone with algorithm 13 or 15: fills every field of *out
 *  (state ACTIVE, created = now, origin_node). 0 or GSLB_ENOTSUP/GSLB_ECRYPTO. */
int gslb_keys_generate(const char *zone, uint8_t algorithm, int64_t now, const char *origin_node,
                       gslb_dnskey_rec_t *out, gslb_errbuf_t *eb);

/** DNSKEY rdata (wire) of a key: flags, protocol 3, algorithm, pub.
 *  Returns its length or GSLB_ERANGE / GSLB_EINVAL. */
int gslb_keys_dnskey_rdata(const gslb_dnskey_rec_t *k, uint8_t *out, size_t cap);

/** RFC 4034 appendix B key tag of DNSKEY rdata (algorithm 1 is not supported). */
uint16_t gslb_keys_tag(const uint8_t *rdata, size_t len);

/** Key tag of a stored key computed from its flags, algorithm and pub. */
uint16_t gslb_keys_tag_of(const gslb_dnskey_rec_t *k);

/** Parse priv_der into an EVP_PKEY (caller frees). NULL on garbage. */
EVP_PKEY *gslb_keys_private(const gslb_dnskey_rec_t *k);

/** Check an imported or stored key: zone name, algorithm 13/15, flags 256/257,
 *  role/state in range, pub length for the algorithm, key_tag equal to the tag
 *  of the public key, and priv_der a PKCS#8 key of that algorithm whose public
 *  half equals pub. 0 or GSLB_EINVAL with the reason in eb. */
int gslb_keys_validate(const gslb_dnskey_rec_t *k, gslb_errbuf_t *eb);

/** Presentation DNSKEY RR ("zone. TTL IN DNSKEY 257 3 13 <base64>") and the
 *  SHA-256 DS RR of the key (ldns). Either output may be NULL. 0 or error. */
int gslb_keys_present(const gslb_dnskey_rec_t *k, uint32_t ttl, char *dnskey, size_t dnskey_cap,
                      char *ds, size_t ds_cap);

/** Order of the convergence rule: < 0 when a is preferred over b as signing key. */
int gslb_keys_compare(const gslb_dnskey_rec_t *a, const gslb_dnskey_rec_t *b);

/* ---- store operations (caller's txn) ------------------------------------------ */

/** Number of keys stored for zone (any state), or a negative error. */
int gslb_keys_count(gslb_env_t *e, MDB_txn *txn, const char *zone);

/** Apply the convergence rule to zone's keys in a write txn: pick the signer,
 *  retire the others, purge retired keys older than GSLB_KEYS_RETIRED_KEEP_S at
 *  `now`, and rebuild the zone's DNSKEY answers. *changed (may be NULL) tells
 *  whether any record changed. 0 or error. */
int gslb_keys_converge(gslb_env_t *e, MDB_txn *txn, const char *zone, int64_t now, bool *changed);

/** Import one validated key into a write txn. A key already stored (same zone
 *  and key tag) with identical public key is left alone (returns 0, *added
 *  false); the same tag with a different public key is a collision and refused
 *  (GSLB_EEXIST). Does not converge: call gslb_keys_converge() afterwards.
 *  Imported keys keep their created/origin_node; their state is set RETIRED
 *  until the convergence rule decides. */
int gslb_keys_import(gslb_env_t *e, MDB_txn *txn, const gslb_dnskey_rec_t *k, bool *added,
                     gslb_errbuf_t *eb);

/** DNSSEC switched off: every key of every zone becomes RETIRED and the DNSKEY
 *  RRsets are removed (gslb_keys_converge restores the signer later). */
int gslb_keys_retire_all(gslb_env_t *e, MDB_txn *txn, bool *changed);

/** Generate a CSK for zone (gslb_keys_generate, retried when its key tag is
 *  already stored for the zone), store it and apply the convergence rule.
 *  *key_tag (may be NULL) gets the new key's tag. 0 or error with eb. */
int gslb_keys_add_generated(gslb_env_t *e, MDB_txn *txn, const char *zone, uint8_t algorithm,
                            int64_t now, const char *origin_node, uint16_t *key_tag,
                            gslb_errbuf_t *eb);

/* ---- for the signer ------------------------------------------------------------ */

/** A signing key ready for use: the record plus its parsed private key. */
typedef struct gslb_signing_key {
    gslb_dnskey_rec_t rec; /* copy of the stored record (priv_der wiped) */
    EVP_PKEY *pkey;        /* owned */
    uint16_t key_tag;
    uint8_t algorithm;
    uint16_t flags;
} gslb_signing_key_t;

/** Load the ACTIVE key(s) of zone from a read (or write) txn into out[0..cap):
 *  *n gets the number loaded (0 when the zone has no active key: answer
 *  unsigned). Keys whose private part does not parse are skipped with a
 *  warning. Returns 0 or a store error. Free with gslb_signing_key_clear(). */
int gslb_keys_load_signing(gslb_env_t *e, MDB_txn *txn, const char *zone, gslb_signing_key_t *out,
                           size_t cap, size_t *n);

/** Release the EVP_PKEY and wipe the struct. NULL is allowed. */
void gslb_signing_key_clear(gslb_signing_key_t *k);
