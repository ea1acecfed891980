/*
 * keysync_glue.h - DNSSEC key sync as the overwatch runs it (keysync.h is the
 * poller itself).
 *
 * Contract:
 *  - gslb_runtime_start_keysync() runs gslb_keysync_start() with the current
 *    configuration and keeps the handle in rt->keysync; stop frees it.
 *  - gslb_keysync_api_ops are the API's DNSSEC hooks; their ctx is the runtime.
 *    With no poller running they answer "nothing to sync" (GSLB_ENOENT).
 */
#pragma once

#include "api.h"
#include "gslb_err.h"
#include "keysync.h"
#include "runtime.h"

int gslb_runtime_start_keysync(gslb_runtime_t *rt, gslb_errbuf_t *eb);
void gslb_runtime_stop_keysync(gslb_runtime_t *rt);
/** The API's DNSSEC hooks; their ctx is the gslb_runtime_t. */
extern const gslb_api_dnssec_ops_t gslb_keysync_api_ops;
/** opengslb_dnssec_sync_success / _last_sync_timestamp into the stats snapshot. */
void gslb_keysync_fill_stats(gslb_runtime_t *rt, gslb_api_stats_t *st);
