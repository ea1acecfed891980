/*
 * reload.h - live reload of the overwatch configuration (SIGHUP, or POST
 * /api/v1/reload), docs/operations.md "Reload".
 *
 * Contract:
 *  - gslb_reload_config() re-reads rt->config_path and, only if the whole file
 *    loads and validates, applies it: zones, domains, config backends (agent
 *    health kept: gslb_config_apply_to_store), agent tokens and gossip key
 *    (gossip receiver), API token and allowed networks, DNSSEC peers, logging.
 *    DNS workers keep answering throughout (they read LMDB, never the config).
 *  - An invalid file, or a store that refuses the new config, leaves the
 *    running configuration untouched: the error is logged, counted
 *    (rt->reloads_failed) and returned with a message in eb.
 *  - Settings bound at start (gslb_cfg_restart_t in config.h: listen
 *    addresses, data_dir, map size, DNS workers and TCP limits, gossip bind,
 *    API/metrics enablement and TLS files, node identity, staleness and
 *    validation timers) are logged as "requires restart", one line per group
 *    gslb_config_restart_diff() reports, and the running values kept.
 *  - Reloads are serialised (one at a time); callers are ordinary threads
 *    (the main thread after a SIGHUP via signalfd/self-pipe, or an API
 *    thread), never a signal handler.
 *  - rt->cfg is replaced as a whole, after every service has copied what it
 *    needs from the new one (gossip receiver, key sync, API), then the old one
 *    is freed.
 */
#pragma once

#include "gslb_err.h"
#include "runtime.h"

/** Reload rt->cfg from rt->config_path. 0 or a negative code with eb filled. */
int gslb_reload_config(gslb_runtime_t *rt, gslb_errbuf_t *eb);
