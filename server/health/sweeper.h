/*
 * sweeper.h - staleness of agent-reported backends (docs/agent.md, "Staleness").
 *
 * Contract:
 *  - Every tick (default 500 ms) the sweeper judges each agent by the time it
 *    was last heard: the gossip receiver's in-memory time when it has one,
 *    else the stored agents.last_heartbeat (unix seconds, taken as the end of
 *    that second), else, for a backend whose agent record is gone, its
 *    last_seen; and never earlier than the time this node began to hear
 *    (listen_start_ms, moved to "now" when the node stops being deaf). So
 *    after a restart, however long the node was down, staleness is judged
 *    from the moment it listens again, not from before it was down.
 *  - Silent for >= stale_threshold: the agent and its backends are marked
 *    stale (not served). Silent for >= remove_after: its backends and its
 *    agent record are deleted. Both are measured from the last heartbeat.
 *    A removed backend that the configuration also lists is not deleted but
 *    falls back to its configured record (gslb_config_backend_rec: source
 *    CONFIG, as if no agent had reported it); the sweeper keeps a copy of the
 *    configured backends (opts.cfg at start, gslb_sweeper_update() on reload).
 *  - The deaf-node rule (gslb_sweeper_deaf_next()): when at least
 *    deaf_min_agents agents are known (not counting agents marked stale
 *    already: they went away earlier, alone) and all of them, or more than
 *    deaf_percent % of them (default 100: all), went silent together (silent
 *    for half a threshold or more when the first of them reaches the
 *    threshold: agents cut off at once cross it within a heartbeat interval of
 *    each other), it is this node that is cut off, not the agents that went
 *    away: the node is "gossip deaf". It stays deaf while that holds for the
 *    agents silent for half a threshold (by default: until any of them is
 *    heard again). While deaf the sweeper marks nothing stale and removes
 *    nothing (the node keeps serving the last known state), counts it
 *    (gossip_deaf) and logs one warning on entering and one line on leaving
 *    the state. When it leaves, silence is timed afresh from that moment
 *    (listen_start_ms = now), so an agent that has not reported yet is not
 *    removed at once; an agent that really went away is then marked stale and
 *    removed as usual.
 *  - Decisions are made on a read snapshot and re-checked inside one write
 *    transaction (which also recompiles the affected answer sets), so a
 *    heartbeat that lands in between wins. No write transaction is opened
 *    when nothing changes.
 *  - The thread (gslb_periodic_t) sweeps at once at start, then tick_ms after
 *    the end of each sweep.
 *  - Counters and gauges belong to the sweeper (gslb_sweeper_counters()):
 *    written by its thread, read from any thread. The gauges include what
 *    readiness needs (gossip_deaf, backends_known, domains_known), so the API
 *    never has to scan the store.
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
/* Defaults of overwatch.stale.deaf_percent and overwatch.stale.deaf_min_agents. */
#define GSLB_SWEEPER_DEAF_PERCENT 100
#define GSLB_SWEEPER_DEAF_MIN_AGENTS 2

/** When this process last heard agent_id (unix ms); false if it does not know. */
typedef bool (*gslb_last_heard_fn)(void *ctx, const char *agent_id, int64_t *out_ms);

typedef struct gslb_sweeper_opts {
    gslb_env_t *env;
    uint64_t stale_threshold_ms;
    uint64_t remove_after_ms;
    uint32_t tick_ms;              /* 0 = GSLB_SWEEPER_TICK_MS */
    gslb_last_heard_fn last_heard; /* may be NULL */
    void *last_heard_ctx;
    int64_t listen_start_ms;  /* unix ms this node began to hear gossip; 0 = at start */
    uint32_t deaf_percent;    /* 0 = GSLB_SWEEPER_DEAF_PERCENT */
    uint32_t deaf_min_agents; /* 0 = GSLB_SWEEPER_DEAF_MIN_AGENTS */
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
    uint64_t gossip_deaf;    /* gauge: 1 while the deaf-node rule holds */
    uint64_t deaf_episodes;  /* times the node became deaf */
    uint64_t backends_known; /* gauge: backend records in the store (any source) */
    uint64_t domains_known;  /* gauge: GSLB domains in the store */
} gslb_sweeper_counters_t;

typedef struct gslb_sweeper gslb_sweeper_t;

/** Snapshot of s's counters (relaxed reads; any thread). NULL s: all zero. */
void gslb_sweeper_counters(const gslb_sweeper_t *s, gslb_sweeper_counters_t *out);

int gslb_sweeper_start(gslb_sweeper_t **out, const gslb_sweeper_opts_t *opts, gslb_errbuf_t *eb);
void gslb_sweeper_stop(gslb_sweeper_t *s);
/** Take the configured backends of a reloaded configuration (any thread). */
int gslb_sweeper_update(gslb_sweeper_t *s, const gslb_config_t *cfg);
/** The fraction part of the deaf-node rule: true when min_agents or more agents
 *  are known and all of them, or more than percent % of them, are quiet
 *  (percent 100 = all). false when no agent is known. */
bool gslb_sweeper_is_deaf(uint64_t known, uint64_t quiet, uint32_t percent, uint32_t min_agents);
/** The sweeper's decision, from its state (deaf) and this sweep's counts: silent
 *  = agents silent for stale_threshold or longer, quiet = for half of it or
 *  longer (silent ones included). The node becomes deaf when the fraction rule
 *  holds for the quiet agents and some agent is silent (one would be marked
 *  stale now); it stays deaf while the fraction rule holds. Pure, unit-tested. */
bool gslb_sweeper_deaf_next(bool deaf, uint64_t known, uint64_t silent, uint64_t quiet,
                            uint32_t percent, uint32_t min_agents);

/** One sweep at wall time now_ms. Returns 0 or an error. */
int gslb_sweeper_run_once(gslb_sweeper_t *s, int64_t now_ms);
