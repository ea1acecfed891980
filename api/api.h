/*
 * api.h - the narrow interface between gslb-overwatch and its HTTP API and
 * Prometheus metrics endpoint (docs/api.md, docs/metrics.md).
 *
 * Contract:
 *  - The server fills a gslb_api_hooks_t (plain callbacks + an opaque ctx) and
 *    calls gslb_api_start() once, after the LMDB environment is open. The API
 *    never includes server internals: everything it needs from the running
 *    server comes through these hooks (readiness, a counter snapshot, reload).
 *  - Settings: the server fills a gslb_api_settings_t (below) from its own
 *    configuration; the API never sees the server's configuration struct. The
 *    API copies what it keeps: gslb_api_start() takes the listeners and TLS
 *    files (bound until the API stops) and, like gslb_api_set_settings() on a
 *    reload, the identity, token, plaintext-export switch, audit retention and the ACL built
 *    from the allowed networks and key_sync peers. The caller's struct and its
 *    lists are read during the call only. A reload swaps the copied values
 *    under a write lock, so a request sees either the old or the new set.
 *    Which settings need a restart is the server's business (reload.c).
 *  - The ACL is applied when a connection is accepted (CivetWeb's
 *    access_control_list) and again per request. CivetWeb reads that list only
 *    at start, so a gslb_api_set_settings() that changes the admitted set
 *    restarts the API listener on the same ports (on a thread of its own; the
 *    call waits for it up to 5 s unless made from an API worker).
 *  - Threads: handlers run on CivetWeb's worker threads. Each worker owns one
 *    gslb_reader_t (created in CivetWeb's init_thread callback) and never holds a
 *    read txn across network I/O. Mutations are short durable write txns.
 *  - Hooks are called from API threads, concurrently, and must be thread-safe
 *    and non-blocking (the stats snapshot reads per-worker counters with
 *    relaxed atomics; it must never take a lock a DNS worker holds).
 *  - gslb_api_stop() stops both listeners and joins their threads.
 */
#pragma once

#include "env.h"
#include "gslb_err.h"
#include "records.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- counter snapshot (filled by the server on every scrape) ------------- */

#define GSLB_API_LABEL_MAX 24
#define GSLB_API_MAX_QUERY_SERIES 256
#define GSLB_API_MAX_GOSSIP_SERIES 32
#define GSLB_API_MAX_EXTRA 96

/** One counter with up to two label values (bounded label sets only). */
typedef struct gslb_api_series {
    char l1[GSLB_API_LABEL_MAX];
    char l2[GSLB_API_LABEL_MAX];
    uint64_t value;
} gslb_api_series_t;

/** A further metric the server exports as is (validator, sweeper, gossip
 *  details, DNS events). All strings are static (literals or static tables);
 *  at most one label, from a bounded set. Series of one family are adjacent. */
typedef struct gslb_api_metric {
    const char *name;
    const char *help;
    bool counter;            /* else gauge */
    const char *label;       /* label name, NULL = none */
    const char *label_value; /* when label != NULL */
    uint64_t value;
} gslb_api_metric_t;

typedef struct gslb_api_stats {
    uint32_t dns_workers;
    /* opengslb_dns_queries_total{qtype=l1,rcode=l2}: summed over workers */
    size_t query_series;
    gslb_api_series_t queries[GSLB_API_MAX_QUERY_SERIES];
    uint64_t truncated; /* opengslb_dns_responses_truncated_total */
    /* opengslb_gossip_messages_total{result=l1} */
    size_t gossip_series;
    gslb_api_series_t gossip[GSLB_API_MAX_GOSSIP_SERIES];
    /* DNSSEC key sync (filled by the DNSSEC module; zero = never synced) */
    bool dnssec_sync_success;
    int64_t dnssec_last_sync; /* unix s of the last successful sync, 0 = never */
    /* reloads (filled by server/reload.c through the server's hook) */
    uint64_t reloads_ok, reloads_failed;
    int64_t last_reload; /* unix s, 0 = never */
    /* everything else, exported family by family in this order */
    size_t extra_count;
    gslb_api_metric_t extra[GSLB_API_MAX_EXTRA];
} gslb_api_stats_t;

/* ---- DNSSEC hooks (server/keysync_glue.c; docs/dnssec.md) ---------------- */

/** State of the key sync poller, as GET /api/v1/dnssec/status shows it. */
typedef struct gslb_api_dnssec_sync {
    bool dnssec_enabled;  /* overwatch.dnssec.enabled */
    bool enabled;         /* dnssec enabled and at least one key_sync peer */
    size_t peer_count;    /* overwatch.dnssec.key_sync.peers */
    int64_t last_sync;    /* unix s of the last successful round, 0 = never */
    int64_t next_sync;    /* unix s of the next scheduled round, 0 = none */
    bool last_success;    /* the last round succeeded (opengslb_dnssec_sync_success) */
    uint64_t rounds;      /* rounds run since start */
    char last_error[512]; /* problems of the last round, "" = none */
} gslb_api_dnssec_sync_t;

/** Presentation forms of one stored key. */
typedef struct gslb_api_key_text {
    char dnskey[512]; /* "zone. TTL IN DNSKEY 257 3 13 <base64>" */
    char ds[256];     /* "zone. TTL IN DS <tag> <alg> 2 <hex>" (SHA-256) */
    uint32_t ttl;     /* the DNSKEY TTL used above */
} gslb_api_key_text_t;

typedef struct gslb_api_dnssec_ops {
    /** Present a stored key (DNSKEY and SHA-256 DS lines). 0 or error. */
    int (*present)(void *ctx, const gslb_dnskey_rec_t *key, gslb_api_key_text_t *out);
    /** Snapshot of the sync state (never blocks on a running round). */
    void (*sync_state)(void *ctx, gslb_api_dnssec_sync_t *out);
    /** Run a sync round now and wait for it, at most key_sync.timeout plus a
     *  margin. Returns 0 when a round that started after the call finished
     *  (state in *out), GSLB_EAGAIN when it is still running at the deadline
     *  (or enough callers wait already: the round is only triggered), and
     *  GSLB_ENOENT when there is nothing to sync (DNSSEC off or no peers). */
    int (*sync_now)(void *ctx, gslb_api_dnssec_sync_t *out);
} gslb_api_dnssec_ops_t;

/* ---- hooks the server passes in ------------------------------------------ */

/** What GET /api/v1/ready adds to its body, whatever the status (docs/api.md). */
typedef struct gslb_api_ready_details {
    bool gossip_deaf;            /* the deaf-node rule holds: serving the last known state */
    bool agent_data_since_start; /* a gossip message was accepted since this process started */
    uint64_t agents_known;       /* agents in the store */
    uint64_t agents_silent;      /* of those, silent for stale.threshold or longer */
    uint64_t backends;           /* backend records in the store (agents' and static) */
} gslb_api_ready_details_t;

typedef struct gslb_api_hooks {
    void *ctx;
    /** true when the node can serve: DNS workers serve, the store is open, and
     *  it has backend state it trusts (server/api_hooks.c); else fill reason.
     *  Also drives opengslb_up. */
    bool (*ready)(void *ctx, char *reason, size_t cap);
    /** Details for the /api/v1/ready body. May be NULL (no extra fields). */
    void (*ready_details)(void *ctx, gslb_api_ready_details_t *out);
    /** Fill a counter snapshot (never blocks a DNS worker). May be NULL. */
    void (*stats)(void *ctx, gslb_api_stats_t *out);
    /** Reload the configuration now (same path as SIGHUP). Returns 0 or an
     *  error with a message in eb. May be NULL (no POST /api/v1/reload). */
    int (*reload)(void *ctx, gslb_errbuf_t *eb);
    /** DNSSEC routes (status, sync, DS); NULL = those routes answer 503. The
     *  key export reads the store and needs no hook. */
    const gslb_api_dnssec_ops_t *dnssec;
} gslb_api_hooks_t;

/* ---- settings the server passes in --------------------------------------- */
typedef struct gslb_api_settings {
    /* listeners: read by gslb_api_start() only */
    bool api_enabled;                   /* api.enabled */
    gslb_hostport_t api_addr;           /* api.address */
    bool local_enabled;                 /* api.local_address is set */
    gslb_hostport_t local_addr;         /* api.local_address: plain HTTP, loopback */
    char tls_cert[4096], tls_key[4096]; /* api.tls_cert/tls_key: both or neither */
    bool metrics_enabled;               /* metrics.enabled */
    gslb_hostport_t metrics_addr;       /* metrics.address */
    /* applied at start and by every gslb_api_set_settings() */
    char node_id[GSLB_LABEL_MAX]; /* identity in /metrics and routes */
    char region[GSLB_LABEL_MAX];
    char token[256];             /* api.token: bearer token of mutating routes, "" = refused */
    char cluster_token[256];     /* overwatch.dnssec.key_sync.token: bearer token of the key
                                    export (overwatches only), "" = the export is refused */
    bool allow_plaintext_export; /* key export over plain HTTP (lab only) */
    uint64_t audit_max_age_ms;   /* api.audit_retention.max_age, 0 = no age limit */
    uint32_t audit_max_entries;  /* api.audit_retention.max_entries, 0 = no count limit */
    size_t allowed_net_count;
    const char (*allowed_networks)[64]; /* CIDR texts; an empty list admits nobody */
    size_t peer_count;
    const char (*peers)[512]; /* key_sync peer URLs: their hosts are admitted too */
} gslb_api_settings_t;

typedef struct gslb_api gslb_api_t;

/**
 * Start the API (if set->api_enabled) and the metrics endpoint (if
 * set->metrics_enabled). env must stay open until gslb_api_stop(); set is
 * copied. Returns 0 and *out, or an error (port taken, bad TLS files, IPv6
 * listen address with a CivetWeb built without IPv6, ...) with a message in eb.
 */
int gslb_api_start(gslb_env_t *env, const gslb_api_settings_t *set, const gslb_api_hooks_t *hooks,
                   gslb_api_t **out, gslb_errbuf_t *eb);

/** New settings (reload): identity, tokens, plaintext-export switch and ACL
 *  apply to the next request; the listener fields are ignored (the running
 *  listeners stay). The ACL keeps its previous value if it cannot be built.
 *  set is copied; nothing of it is referenced after return. */
void gslb_api_set_settings(gslb_api_t *api, const gslb_api_settings_t *set);

/** Bound ports (after start; useful with port 0). 0 when disabled. */
uint16_t gslb_api_port(const gslb_api_t *api);
uint16_t gslb_api_metrics_port(const gslb_api_t *api);

/** Stop listeners, join threads, free. NULL is allowed. */
void gslb_api_stop(gslb_api_t *api);
