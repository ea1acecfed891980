/*
 * periodic.h - a thread that runs one callback periodically: the loop of the
 * sweeper, the validator and the DNSSEC key sync poller.
 *
 * Contract:
 *  - gslb_periodic_start() starts the thread. The first run starts at once
 *    (or one interval later with delay_first); each next run is due
 *    interval_ms after the previous one ENDED, so runs never overlap and a
 *    slow run delays the next one instead of piling up.
 *  - gslb_periodic_kick() asks for a run now: at once when the thread waits,
 *    right after the current run when one is in progress. Kicks that come
 *    before a run starts share that run. It returns a ticket;
 *    gslb_periodic_wait(ticket) returns 0 once a run that started after that
 *    kick has finished (so it saw everything done before the kick).
 *  - gslb_periodic_set_interval() takes effect at once: the next run is
 *    rescheduled to the new interval after the end of the last run (at once if
 *    that has passed). gslb_periodic_run_in() moves the next run to `ms` from
 *    now, once (then the interval applies again; set_interval does not undo
 *    it); called from inside the callback it sets when the run after this one
 *    comes.
 *  - gslb_periodic_stop() asks the thread to stop, waits for a run in progress
 *    to finish (a long run can watch gslb_periodic_stop_flag() and return
 *    early), joins the thread, wakes every gslb_periodic_wait() caller and
 *    frees. No run starts after stop was called.
 *  - Waits use a condition variable on CLOCK_MONOTONIC: wall clock jumps do
 *    not move the schedule.
 *  - Every function but stop is safe from any thread, the callback included
 *    (except gslb_periodic_wait() from the callback, which would never return).
 */
#pragma once

#include "gslb_err.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct gslb_periodic gslb_periodic_t;

/** One run, on the helper's thread. `p` is the helper (for run_in, the stop flag). */
typedef void (*gslb_periodic_fn)(gslb_periodic_t *p, void *ctx);

typedef struct gslb_periodic_opts {
    const char *name; /* for error messages: "<name>: cannot start its thread" */
    gslb_periodic_fn run;
    void *ctx;
    uint64_t interval_ms; /* from the end of a run to the start of the next */
    bool delay_first;     /* first run after one interval instead of at once */
} gslb_periodic_opts_t;

/** Start the thread. 0, or GSLB_ENOMEM / GSLB_EIO with a message in eb (may be NULL). */
int gslb_periodic_start(gslb_periodic_t **out, const gslb_periodic_opts_t *opts, gslb_errbuf_t *eb);
/** Ask for a run now (see the contract). Returns the ticket for gslb_periodic_wait(). */
uint64_t gslb_periodic_kick(gslb_periodic_t *p);
/** Wait up to timeout_ms for the run serving `ticket` to finish.
 *  0, or GSLB_EAGAIN on timeout or when the helper stops first. */
int gslb_periodic_wait(gslb_periodic_t *p, uint64_t ticket, int64_t timeout_ms);
/** New interval, counted from the end of the last run. */
void gslb_periodic_set_interval(gslb_periodic_t *p, uint64_t interval_ms);
/** Next run ms from now, once. */
void gslb_periodic_run_in(gslb_periodic_t *p, uint64_t ms);
/** Runs finished so far. */
uint64_t gslb_periodic_runs(gslb_periodic_t *p);
/** True once stop was called: a long run may poll it and return early. */
const atomic_bool *gslb_periodic_stop_flag(const gslb_periodic_t *p);
/** Stop (see the contract) and free. NULL is fine. */
void gslb_periodic_stop(gslb_periodic_t *p);
