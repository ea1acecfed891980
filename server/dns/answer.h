/*
 * answer.h - the response to one DNS query, from the compiled answer sets
 * (storage/answers.h) of a worker's read snapshot.
 *
 * Contract:
 *  - One gslb_answer_ctx_t per worker thread (policy state, scratch index
 *    array, counters); nothing is shared, nothing allocated per query.
 *  - The caller opens a read snapshot, passes its txn with
 *    gslb_answer_set_txn(), answers a batch, and ends the snapshot; values from
 *    the store are used only while that txn is live (the per-worker cache of
 *    looked-up sets is keyed by the snapshot's txn id, so a write committed by
 *    another thread shows in the next batch; this relies on the map staying at
 *    one address while the process runs: env.h never resizes it at run time).
 *  - gslb_answer_query() writes the complete response into out and returns its
 *    length, or 0 when the query must be dropped (QR=1, shorter than a header).
 *    The RCODE decisions are listed in docs/rfc-compliance.md. A GSLB name
 *    with no backend state at all (no candidate in its A set nor in its AAAA
 *    set: never reported, or every backend removed) is SERVFAIL for A and
 *    AAAA, never a cacheable NODATA; a family alone without backends is
 *    NODATA, and candidates that are all unhealthy follow the domain's
 *    all_unhealthy mode (policy.h).
 *  - Size: over UDP the answer is at most 512 bytes without EDNS, else
 *    min(max(client payload, 512), our payload); over TCP at most 65535. An
 *    answer that does not fit is sent with TC and no partial RRset;
 *    additional data that does not fit is left out without TC (RFC 2181 9).
 *    Every RRset is written by one function (put_rrset() in answer.c): its
 *    records, its RRSIG when signing, the section counts, and the roll-back
 *    (cursor and compression table) when it does not fit.
 *  - DNSSEC (docs/dnssec.md, "Online signing and denial"): after
 *    gslb_answer_ctx_enable_dnssec(), a query with DO=1 for a name in a zone
 *    that has an ACTIVE key in the snapshot (its compiled signing keys,
 *    answers.h GSLB_ANS_SIGNING_KEYS: the worker reads nothing but the answers
 *    sub-DB) gets RRSIGs on every RRset of the
 *    answer and authority sections and on in-zone glue, and compact denial
 *    (RFC 9824) instead of NXDOMAIN / NODATA; an RRset and its RRSIG are
 *    written or truncated together. Queries without DO, and DO queries for
 *    unsigned zones, are answered exactly as without DNSSEC.
 */
#pragma once

#include "answers.h"
#include "env.h"
#include "policy.h"
#include "stats.h"
#include "wire.h"

#include <lmdb.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum gslb_transport { GSLB_TRANSPORT_UDP = 0, GSLB_TRANSPORT_TCP = 1 };

#define GSLB_ANSWER_CACHE_SLOTS 2048 /* power of two */
#define GSLB_ANSWER_CACHE_KEY_MAX 64 /* longer keys are looked up every time */

/* One remembered lookup (name + qtype -> value in the map), valid while the
 * worker's snapshot has the same txn id. */
typedef struct gslb_answer_cache_entry {
    uint64_t txnid; /* snapshot id + 1 (0 = empty) */
    MDB_val val;
    int32_t kind; /* what the lookup found: an enum gslb_ans_kind, or 0 = no entry */
    uint16_t key_len;
    uint8_t key[GSLB_ANSWER_CACHE_KEY_MAX];
} gslb_answer_cache_entry_t;

struct gslb_signer;

typedef struct gslb_answer_ctx {
    MDB_txn *txn; /* current snapshot (set per batch) */
    uint64_t txnid;
    MDB_dbi answers_dbi;
    uint16_t edns_payload; /* ours, >= 512 */
    gslb_policy_state_t policy;
    gslb_stats_t *stats;
    uint16_t *idx; /* scratch: policy picks (65535 entries) */
    size_t idx_cap;
    gslb_answer_cache_entry_t *cache; /* GSLB_ANSWER_CACHE_SLOTS */
    uint64_t cache_hits, cache_misses;
    int lookup_err;         /* the GSLB_E* code of the last failed lookup */
    gslb_stats_t own_stats; /* used when the caller passes no stats block */
    gslb_env_t *env;
    struct gslb_signer *signer; /* NULL: DNSSEC disabled (DO answered unsigned) */
    /* true while a DNSSEC zone waits for its first key (NULL = never): a DO
     * query for a zone without an ACTIVE key is then answered SERVFAIL */
    const atomic_bool *keys_pending;
} gslb_answer_ctx_t;

/** Set up a worker's context. stats (may be NULL) must outlive ctx. seed 0 = random.
 *  @return GSLB_OK, or GSLB_ENOMEM (ctx is then left destroyed). */
int gslb_answer_ctx_init(gslb_answer_ctx_t *ctx, gslb_env_t *env, gslb_stats_t *stats,
                         uint16_t edns_payload, uint64_t seed);
void gslb_answer_ctx_destroy(gslb_answer_ctx_t *ctx);

/** Sign DO answers of zones with an ACTIVE key (overwatch.dnssec.enabled):
 *  gives the worker its own signer (keys, contexts, signature cache).
 *  @return GSLB_OK (also when already enabled), GSLB_ENOMEM, or GSLB_ECRYPTO
 *          (no SHA-256 or no random source; DNSSEC stays disabled). */
int gslb_answer_ctx_enable_dnssec(gslb_answer_ctx_t *ctx);

/** Use this read txn for the following queries (NULL: none; queries get SERVFAIL). */
void gslb_answer_set_txn(gslb_answer_ctx_t *ctx, MDB_txn *txn);

/** Answer one query. out_cap bounds the response (UDP: the worker's buffer;
 *  the EDNS limit is applied on top).
 *  @return the length of the response written to out (>= 12), or 0: send
 *          nothing (QR=1, shorter than a header, or out_cap below 12). */
size_t gslb_answer_query(gslb_answer_ctx_t *ctx, const uint8_t *pkt, size_t len,
                         enum gslb_transport transport, uint8_t *out, size_t out_cap);
