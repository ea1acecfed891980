/*
 * sweeper.h - staleness of agent-reported backends (docs/agent.md, "Staleness").
 *
 * Contract:
 *  - Every tick (default 500 ms) the sweeper judges each agent by the time it
 *    was last heard: the gossip receiver's in-memory time when it has one,
 *    else the stored agents.last_heartbeat (unix seconds, taken as the end of
 *    that second), else, for a backend whose agent record is gone, its
 *    last_seen. So after a restart staleness is judged from the stored times.
 *  - Silent for >= stale_threshold: the agent and its backends are marked
 *    stale (not served). Silent for >= remove_after: its backends and its
 *    agent record are deleted. Both are measured from the last heartbeat.
 *    A removed backend that the configuration also lists is not deleted but
 *    falls back to its configured record (gslb_config_backend_rec: source
 *    CONFIG, as if no agent had reported it); the sweeper keeps a copy of the
 *    configured backends (opts.cfg at start, gslb_sweeper_update() on reload).
 *  - Decisions are made on a read snapshot and re-checked inside one write
 *    transaction (which also recompiles the affected answer sets), so a
 *    heartbeat that lands in between wins. No write transaction is opened
 *    when nothing changes.
 *  - The thread (gslb_periodic_t) sweeps at once at start, then tick_ms after
 *    the end of each sweep.
 *  - Counters and gauges belong to the sweeper (gslb_sweeper_counters()):
 *    written by its thread, read from any thread.
 */
#pragma once

#include "config.h"
#include "env.h"
#include "gslb_err.h"

#include <stdbool.h>
#include <stdint.h>

#define GSLB_SWEEPER_TICK_MS 500
/* Backends are judged through their agent: the backends table (large: every agent's
 * backends) is scanned only in a sweep where some agent goes stale or is removed, and
 * otherwise every GSLB_SWEEPER_FULL_EVERY sweeps (and at the first), which catches
 * backends whose agent record is gone. */
#define GSLB_SWEEPER_FULL_EVERY 20

/** When this process last heard agent_id (unix ms); false if it does not know. */
typedef bool (*gslb_last_heard_fn)(void *ctx, const char *agent_id, int64_t *out_ms);

typedef struct gslb_sweeper_opts {
    gslb_env_t *env;
    uint64_t stale_threshold_ms;
    uint64_t remove_after_ms;
    uint32_t tick_ms;              /* 0 = GSLB_SWEEPER_TICK_MS */
    gslb_last_heard_fn last_heard; /* may be NULL */
    void *last_heard_ctx;
    bool no_thread;           /* tests: call gslb_sweeper_run_once() */
    const gslb_config_t *cfg; /* configured backends to fall back to (copied; may be NULL) */
} gslb_sweeper_opts_t;

typedef struct gslb_sweeper_counters {
    uint64_t agents_registered; /* gauge: agents heard within the threshold */
    uint64_t agents_stale;      /* gauge: agents silent past the threshold */
    uint64_t backends_marked_stale;
    uint64_t backends_removed;
    uint64_t agents_removed;
    uint64_t sweeps;
    uint64_t errors;
} gslb_sweeper_counters_t;

typedef struct gslb_sweeper gslb_sweeper_t;

/** Snapshot of s's counters (relaxed reads; any thread). NULL s: all zero. */
void gslb_sweeper_counters(const gslb_sweeper_t *s, gslb_sweeper_counters_t *out);

int gslb_sweeper_start(gslb_sweeper_t **out, const gslb_sweeper_opts_t *opts, gslb_errbuf_t *eb);
void gslb_sweeper_stop(gslb_sweeper_t *s);
/** Take the configured backends of a reloaded configuration (any thread). */
int gslb_sweeper_update(gslb_sweeper_t *s, const gslb_config_t *cfg);
/** One sweep at wall time now_ms. Returns 0 or an error. */
int gslb_sweeper_run_once(gslb_sweeper_t *s, int64_t now_ms);
