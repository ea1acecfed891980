/*
 * runtime.h - the state of one gslb-overwatch process (owned by server/main.c).
 *
 * Contract:
 *  - main() fills this struct in start-up order: configuration, logging,
 *    store (env), configuration applied to the store, DNS workers, then the
 *    other services; it tears them down in reverse order.
 *  - Only the main thread changes the struct, except `cfg` and the reload
 *    counters, which server/reload.c replaces under its own lock (on the main
 *    thread after SIGHUP, or on an API thread for POST /api/v1/reload).
 *    Services started by main get a pointer to the parts they need (env, cfg)
 *    and never free them.
 *  - Extension points (server/main.c):
 *      overwatch_start_services() / overwatch_stop_services(): start and stop
 *        the subsystems beside DNS (gossip receiver, API and metrics,
 *        DNSSEC key sync, sweeper), storing their handles below;
 *      overwatch_reload(): the SIGHUP path (also the API's reload hook).
 *    DNS counters for /metrics: gslb_dns_stats(rt->dns, &sum) then
 *    gslb_stats_foreach_query() (stats.h).
 *  - `cfg` is replaced as a whole on reload (the old one is freed after every
 *    service has been handed the new one); DNS workers never read it.
 */
#pragma once

#include "config.h"
#include "dns.h"
#include "env.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Handles of the services beside DNS (their headers: api.h, gossip_rx.h,
 * keysync.h, sweeper.h, validator.h). */
struct gslb_api;
struct gslb_gossip_rx;
struct gslb_keysync;
struct gslb_sweeper;
struct gslb_validator;

typedef struct gslb_runtime {
    char config_path[4096];
    bool demo;          /* --demo: embedded configuration */
    gslb_config_t *cfg; /* heap; replaced as a whole on reload */
    gslb_env_t env;
    bool env_open;
    gslb_dns_t *dns;
    atomic_bool ready;     /* DNS workers serve and the store is open */
    bool pidfile;          /* <data_dir>/overwatch.pid written (takeover.h) */
    bool takeover_waiting; /* --takeover: waiting for the predecessor's ports */
    /* a DNSSEC zone waits for its first key: DO queries for it get SERVFAIL
     * (set by the key sync, read by the DNS workers; keysync.h) */
    atomic_bool dnssec_keys_pending;
    /* reload bookkeeping (SIGHUP / API) */
    uint64_t reloads_ok, reloads_failed;
    int64_t last_reload; /* unix s, 0 = never */
    /* services beside DNS (NULL when not started) */
    struct gslb_api *api;
    struct gslb_gossip_rx *gossip;
    struct gslb_keysync *keysync;     /* keysync_glue.h */
    struct gslb_sweeper *sweeper;     /* gossip_services.h */
    struct gslb_validator *validator; /* gossip_services.h */
} gslb_runtime_t;
