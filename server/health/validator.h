/*
 * validator.h - the overwatch probes agent-claimed backends itself
 * (overwatch.validation.*; docs/agent.md, "Validation").
 *
 * Contract:
 *  - Every check_interval, every agent-reported backend is probed once, all in
 *    parallel, with the agent's probe code (probe.h) and check_timeout. The
 *    check is the health_check of the overwatch region named like the
 *    backend's region when the configuration has one, else a TCP connect to
 *    the backend's address and port. Thresholds (default 2 failures / 2
 *    successes) keep a flapping backend from flipping the verdict.
 *  - The verdict is stored in backends.validation_health and combined by
 *    gslb_backend_servable(): validation can only veto. An agent-healthy
 *    backend that our probe finds unhealthy is not served; our probe finding
 *    healthy never serves a backend the agent, staleness or a drain took out.
 *  - A disagreement (agent and validator settled on different verdicts) is
 *    counted once when it starts (opengslb_validation_disagreements_total)
 *    and logged once.
 *  - With validation disabled no probe runs, and any stored verdict is reset
 *    to unknown once at start (so an old veto does not linger).
 *  - The thread (gslb_periodic_t) runs a round at once at start, then
 *    check_interval after the end of each round. Counters belong to the
 *    validator (gslb_validator_counters()): written by its thread, read from
 *    any thread.
 */
#pragma once

#include "config.h"
#include "env.h"
#include "gslb_err.h"

#include <stdbool.h>
#include <stdint.h>

#define GSLB_VALIDATION_FAILURE_THRESHOLD 2
#define GSLB_VALIDATION_SUCCESS_THRESHOLD 2

typedef struct gslb_validator_counters {
    uint64_t disagreements; /* opengslb_validation_disagreements_total */
    uint64_t probes_ok, probes_failed;
    uint64_t rounds;
    uint64_t errors;
} gslb_validator_counters_t;

typedef struct gslb_validator gslb_validator_t;

/** Snapshot of v's counters (relaxed reads; any thread). NULL v: all zero. */
void gslb_validator_counters(const gslb_validator_t *v, gslb_validator_counters_t *out);

typedef struct gslb_validator_opts {
    gslb_env_t *env;
    const gslb_config_t *cfg; /* validation settings and regions (copied) */
    bool no_thread;           /* tests: call gslb_validator_run_once() */
} gslb_validator_opts_t;

/** Start (a thread only when validation is enabled and !no_thread). */
int gslb_validator_start(gslb_validator_t **out, const gslb_validator_opts_t *opts,
                         gslb_errbuf_t *eb);
void gslb_validator_stop(gslb_validator_t *v);
/** One validation round now. Returns 0 or an error. */
int gslb_validator_run_once(gslb_validator_t *v);
