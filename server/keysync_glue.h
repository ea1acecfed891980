/*
 * keysync_glue.h - DNSSEC key sync as the overwatch runs it (keysync.h is the
 * poller itself, which knows neither the configuration nor the API).
 *
 * Contract:
 *  - gslb_keysync_settings_from_config() takes what the poller needs from the
 *    configuration: overwatch.dnssec (enabled, algorithm, key_sync peers,
 *    poll_interval, timeout, ca_file, tls_verify), the node id, the cluster
 *    secret overwatch.dnssec.key_sync.token as
 *    the bearer token, and the configured zones normalized (a zone whose name
 *    does not normalize is left out). The peers point into cfg; the zone list
 *    is allocated: gslb_keysync_settings_release() frees it and wipes the
 *    token. GSLB_ENOMEM when the zone list cannot be allocated.
 *  - gslb_runtime_start_keysync() runs gslb_keysync_start() with the current
 *    configuration and rt->dnssec_keys_pending (which the DNS workers read)
 *    and keeps the handle in rt->keysync; stop frees it.
 *    gslb_runtime_update_keysync() hands a reloaded configuration to the
 *    poller (which copies it); on failure the poller keeps its settings.
 *  - gslb_keysync_api_ops are the API's DNSSEC hooks; their ctx is the runtime.
 *    They map the poller's gslb_keysync_state_t to the API's
 *    gslb_api_dnssec_sync_t field by field. With no poller running they answer
 *    "nothing to sync" (GSLB_ENOENT).
 */
#pragma once

#include "api.h"
#include "config.h"
#include "gslb_err.h"
#include "keysync.h"
#include "runtime.h"

int gslb_keysync_settings_from_config(const gslb_config_t *cfg, gslb_keysync_settings_t *out);
void gslb_keysync_settings_release(gslb_keysync_settings_t *set);

int gslb_runtime_start_keysync(gslb_runtime_t *rt, gslb_errbuf_t *eb);
void gslb_runtime_update_keysync(gslb_runtime_t *rt, const gslb_config_t *next);
void gslb_runtime_stop_keysync(gslb_runtime_t *rt);
/** The API's DNSSEC hooks; their ctx is the gslb_runtime_t. */
extern const gslb_api_dnssec_ops_t gslb_keysync_api_ops;
/** opengslb_dnssec_sync_success / _last_sync_timestamp into the stats snapshot. */
void gslb_keysync_fill_stats(gslb_runtime_t *rt, gslb_api_stats_t *st);
