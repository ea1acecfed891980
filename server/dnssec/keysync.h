/*
 * keysync.h - DNSSEC key lifecycle at run time: keys at start, the key sync
 * poller and its state (docs/dnssec.md, "Key sync"). The server's glue
 * (server/keysync_glue.c) fills the settings from its configuration and shows
 * the state through the API's DNSSEC hooks.
 *
 * Contract:
 *  - gslb_keysync_start() runs before the DNS workers start, so the first
 *    answers already carry the final DNSKEY RRset. With overwatch.dnssec.enabled:
 *    when a configured zone has no key and key_sync peers are configured, it
 *    first runs one synchronous sync round (bounded by key_sync.timeout); any
 *    zone still without a key then gets a generated CSK. Everything is stored
 *    with gslb_env_commit_durable(). With DNSSEC disabled every stored key is
 *    retired (nothing published, nothing signed); enabling it again restores
 *    the signer chosen by the convergence rule.
 *  - A round: GET <peer>/api/v1/dnssec/keys/export from every peer in parallel
 *    (libcurl multi, bearer token = the API token, TLS verified against
 *    key_sync.ca_file or the system store unless key_sync.tls_verify is false,
 *    no redirects, the whole round bounded by key_sync.timeout), then in ONE
 *    durable write txn: import every valid key of a configured zone that is not
 *    known yet, generate keys for configured zones that still have none, apply
 *    the convergence rule (keys.h) to every configured zone and rebuild their
 *    DNSKEY answers.
 *  - Success of a round (opengslb_dnssec_sync_success = 1): at least one peer
 *    answered 200 with a usable key set, no peer that answered sent an error
 *    status, malformed JSON or a key that fails validation, and the store
 *    update committed. Peers that cannot be reached (DNS, connect, timeout) do
 *    not fail a round some other peer answered; they are named in
 *    last_sync_error, which is null only when every peer answered cleanly.
 *    last_sync is the time of the last successful round.
 *  - The poller thread runs a round every key_sync.poll_interval, at once after
 *    start (unless the start-up round already fetched), after a reload, and on
 *    gslb_keysync_sync_now() (POST /api/v1/dnssec/sync). Concurrent requests
 *    share one round. gslb_keysync_update() (SIGHUP) swaps peers, token, zones,
 *    timers and TLS settings; the settings (and their lists) are copied, never
 *    referenced after the call.
 *  - Private keys are never logged; response buffers holding them are wiped.
 */
#pragma once

#include "env.h"
#include "gslb_err.h"
#include "records.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** What the key sync needs to know (overwatch.dnssec.*, identity, API token). */
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

/** Keys at start (see above), then the poller thread. 0 or error with eb. */
int gslb_keysync_start(gslb_keysync_t **out, gslb_env_t *env, const gslb_keysync_settings_t *set,
                       gslb_errbuf_t *eb);
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
 *  of keys (state RETIRED; not validated yet). Caller wipes and frees *keys.
 *  0 or GSLB_EINVAL with the reason in eb. The body is a peer's: nesting beyond
 *  GSLB_JSON_MAX_DEPTH is refused before parsing (json_bounded.h). */
int gslb_keysync_parse_export(const char *body, size_t len, gslb_dnskey_rec_t **keys, size_t *n,
                              gslb_errbuf_t *eb);
/** Stop the poller (aborts a running fetch) and free. NULL is allowed. */
void gslb_keysync_stop(gslb_keysync_t *ks);
