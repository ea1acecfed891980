/*
 * api_hooks.h - gslb-overwatch's side of api/api.h: it starts the HTTP API
 * and the metrics endpoint with hooks that read the runtime (readiness, DNS
 * and gossip counters, reload counters) and reload through reload.c.
 *
 * Contract:
 *  - gslb_runtime_start_api() runs after the DNS workers are up (so the API's
 *    readiness is truthful) and stores the handle in rt->api; it does nothing
 *    when both api.enabled and metrics.enabled are false.
 *  - The hooks only read per-worker counters (relaxed atomics) and process-wide
 *    counters; a scrape never blocks a DNS worker.
 *  - The API gets its settings from rt->cfg (api_settings.h) at start, and
 *    from the new configuration through gslb_runtime_update_api() on reload;
 *    the API copies them, so the old configuration may be freed afterwards.
 *  - gslb_runtime_stop_api() stops both listeners (joins their threads) and
 *    clears rt->api; call it before the DNS workers and the store go away.
 */
#pragma once

#include "gslb_err.h"
#include "runtime.h"

int gslb_runtime_start_api(gslb_runtime_t *rt, gslb_errbuf_t *eb);
/** Reload: hand the API the settings of next (no-op when the API is not running). */
void gslb_runtime_update_api(gslb_runtime_t *rt, const gslb_config_t *next);
void gslb_runtime_stop_api(gslb_runtime_t *rt);
