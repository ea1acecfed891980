/*
 * keysync.h - DNSSEC key lifecycle at run time: keys at start, the key sync
 * poller and its state (docs/dnssec.md, "Key sync"). The server's glue
 * (server/keysync_glue.c) fills the settings from its configuration and shows
 * the state through the API's DNSSEC hooks.
 *
 * Contract:
 *  - gslb_keysync_start() runs before the DNS workers start and never touches
 *    the network: DNS is not held up by unreachable peers. With
 *    overwatch.dnssec.enabled: a node without key_sync peers generates a CSK
 *    for every zone without a key at once; a node with peers whose zone has no
 *    key sets *keys_pending and leaves the zone to the poller's first round
 *    (at once, in the background), whose fetch is bounded by
 *    min(key_sync.timeout, GSLB_KEYSYNC_KEYLESS_WAIT_MS) and which generates a
 *    CSK for any zone still without a key. *keys_pending is true exactly while
 *    DNSSEC is enabled and a configured zone has no key yet: the DNS workers
 *    then answer DO queries for a zone without an ACTIVE key with SERVFAIL
 *    (resolvers try another overwatch) instead of unsigned (bogus under a DS).
 *    Everything is stored with gslb_env_commit_durable(). With DNSSEC disabled
 *    every stored key is retired (nothing published, nothing signed); enabling
 *    it again restores the signer chosen by the convergence rule.
 *  - A round: GET <peer>/api/v1/dnssec/keys/export from every peer in parallel
 *    (libcurl multi, bearer token = the cluster secret key_sync.token, TLS verified against
 *    key_sync.ca_file or the system store unless key_sync.tls_verify is false,
 *    no redirects, the whole round bounded by key_sync.timeout), then in ONE
 *    durable write txn: import every valid key of a configured zone that is not
 *    known yet, generate keys for configured zones that still have none, apply
 *    the convergence rule (keys.h) to every configured zone and rebuild their
 *    DNSKEY answers.
 *  - Success of a round (opengslb_dnssec_sync_success = 1): at least one peer
 *    answered 200 with a usable key set, no peer that answered sent an error
 *    status, malformed JSON or a key that fails validation, every peer that
 *    answered signs every configured zone with the key this node signs it with
 *    (else "<peer> signs <zone> with key tag N, this node with key tag M"), and
 *    the store update committed. Peers that cannot be reached (DNS, connect,
 *    timeout) do not fail a round some other peer answered; they are named in
 *    last_sync_error, which is null only when every peer answered cleanly.
 *    last_sync is the time of the last successful round; it is kept in the
 *    store (meta "keysync") and read back at start.
 *  - The poller thread runs a round at once after start when it has peers,
 *    after a reload, on gslb_keysync_sync_now() (POST /api/v1/dnssec/sync),
 *    and then after gslb_keysync_next_delay(): key_sync.poll_interval once the
 *    sync has settled (every configured peer answered cleanly, with an active
 *    key for every configured zone equal to ours, at least once since this
 *    node's keys last changed, or since the last reload), else a backoff from
 * GSLB_KEYSYNC_RETRY_FIRST_MS doubling up to poll_interval (reset to the first step when our keys
 * changed). Concurrent requests share one round. gslb_keysync_update() (SIGHUP) swaps peers, token,
 * zones, timers and TLS settings; the settings (and their lists) are copied, never referenced after
 * the call.
 *  - Private keys are never logged; response buffers holding them are wiped.
 */
#pragma once

#include "env.h"
#include "gslb_err.h"
#include "records.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** What the key sync needs to know (overwatch.dnssec.*, identity, cluster secret). */
typedef struct gslb_keysync_settings {
    bool enabled;                 /* overwatch.dnssec.enabled */
    uint8_t algorithm;            /* of generated keys: 13 or 15 */
    char node_id[GSLB_LABEL_MAX]; /* origin_node of generated keys */
    char token[256];              /* bearer token sent to the peers */
    size_t peer_count;
    const char (*peers)[512]; /* peer base URLs (https://host:port) */
    size_t zone_count;
    const char (*zones)[GSLB_NAME_MAX]; /* configured zones, normalized (dname.h) */
    uint64_t poll_ms, timeout_ms;       /* key_sync.poll_interval/timeout; 0 = 1 h / 30 s */
    char ca_file[4096];                 /* CA bundle for https peers, "" = system store */
    bool tls_verify;                    /* verify peer certificates */
} gslb_keysync_settings_t;

/** State of the poller (GET /api/v1/dnssec/status, opengslb_dnssec_* metrics). */
typedef struct gslb_keysync_state {
    bool dnssec_enabled;  /* settings.enabled */
    bool enabled;         /* dnssec enabled and at least one peer */
    size_t peer_count;    /* settings.peer_count */
    int64_t last_sync;    /* unix s of the last successful round, 0 = never */
    int64_t next_sync;    /* unix s of the next scheduled round, 0 = none */
    bool last_success;    /* the last round succeeded */
    uint64_t rounds;      /* rounds run since start */
    char last_error[512]; /* problems of the last round, "" = none */
} gslb_keysync_state_t;

typedef struct gslb_keysync gslb_keysync_t;

/** First retry delay of an unsettled sync (then doubling up to poll_interval). */
#define GSLB_KEYSYNC_RETRY_FIRST_MS 1000
/** The longest a zone without a key waits for its peers before generating one. */
#define GSLB_KEYSYNC_KEYLESS_WAIT_MS 3000

/** Keys at start (see above), then the poller thread. keys_pending (may be
 *  NULL) must outlive the key sync: it is set while a zone waits for its first
 *  key. 0 or error with eb. */
int gslb_keysync_start(gslb_keysync_t **out, gslb_env_t *env, const gslb_keysync_settings_t *set,
                       atomic_bool *keys_pending, gslb_errbuf_t *eb);
/** The delay before the next round: poll_ms when settled (and *retry_ms back
 *  to the first step); else *retry_ms capped at poll_ms, after which *retry_ms
 *  doubles (capped). changed (our keys changed) restarts at the first step. */
uint64_t gslb_keysync_next_delay(uint64_t *retry_ms, bool settled, bool changed, uint64_t poll_ms);
/** New settings (reload): copied; a round follows at once. */
void gslb_keysync_update(gslb_keysync_t *ks, const gslb_keysync_settings_t *set);
/** Snapshot of the sync state (never blocks on a running round). */
void gslb_keysync_state(gslb_keysync_t *ks, gslb_keysync_state_t *out);
/** Run a round now and wait for it, at most timeout_ms plus a margin. 0 when a
 *  round that started after the call finished (state in *out), GSLB_EAGAIN when
 *  it still runs at the deadline (or enough callers wait already: the round is
 *  only triggered), GSLB_ENOENT when there is nothing to sync (DNSSEC off or no
 *  peers). */
int gslb_keysync_sync_now(gslb_keysync_t *ks, gslb_keysync_state_t *out);
/** The DNSKEY TTL of a zone (its NS TTL from the store; 3600 when unknown). */
uint32_t gslb_keysync_dnskey_ttl(gslb_keysync_t *ks, const char *zone);
/** Parse a key export body ({"keys":[...]}, docs/dnssec.md) into a heap array
 *  of keys (state as the peer exported it, RETIRED when absent or unknown;
 *  gslb_keys_import() stores them RETIRED; not validated yet). Caller wipes and frees *keys.
 *  0 or GSLB_EINVAL with the reason in eb. The body is a peer's: nesting beyond
 *  GSLB_JSON_MAX_DEPTH is refused before parsing (json_bounded.h). */
int gslb_keysync_parse_export(const char *body, size_t len, gslb_dnskey_rec_t **keys, size_t *n,
                              gslb_errbuf_t *eb);
/** Stop the poller (aborts a running fetch) and free. NULL is allowed. */
void gslb_keysync_stop(gslb_keysync_t *ks);
