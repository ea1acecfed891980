/*
 * summary.h - counts over the store shared by GET /api/v1/overwatch/stats and
 * /metrics (agents, backends by effective status, domains, zones, overrides).
 *
 * Contract: one pass over each sub-DB inside the caller's read txn; no
 * allocation. Backend states are the names of gslb_backend_status_name().
 */
#pragma once

#include "env.h"

#include <stddef.h>
#include <stdint.h>

#define GSLB_BACKEND_STATES 6
extern const char *const gslb_backend_state_names[GSLB_BACKEND_STATES];

typedef struct gslb_store_summary {
    uint64_t agents, agents_stale;
    uint64_t backends;
    uint64_t backends_by_state[GSLB_BACKEND_STATES];
    uint64_t domains, zones, overrides;
} gslb_store_summary_t;

int gslb_store_summarize(gslb_env_t *env, MDB_txn *txn, gslb_store_summary_t *out);
