/*
 * policy.h - routing policies over a compiled candidate set (answers.h).
 *
 * Contract:
 *  - gslb_policy_pick() chooses which candidates of one A or AAAA set to answer,
 *    in answer order, as indices into the set's candidate array.
 *  - The pool: the healthy candidates (GSLB_CAND_HEALTHY). When none is healthy
 *    the set's unhealthy_mode decides: RETURN_LAST_HEALTHY serves the candidates
 *    flagged GSLB_CAND_LAST_HEALTHY (all candidates if none is flagged), NODATA
 *    answers no data, SERVFAIL fails the query. A set with no candidates (a
 *    family with no backends) is NODATA.
 *  - A candidate flagged GSLB_CAND_OPERATOR_DOWN (an operator's override down or
 *    drain) is never in any pool, fallbacks included. When RETURN_LAST_HEALTHY
 *    finds nothing else left and some candidate is operator-down, the answer is
 *    SERVFAIL (resolvers try another server), never that address.
 *  - round-robin: the whole pool, rotated by a per-thread counter (every member
 *    comes first in turn).
 *  - weighted: exactly one candidate, drawn with probability weight / sum of the
 *    pool's weights from a per-thread PRNG without modulo bias; weight 0 is never
 *    served (a pool whose weights are all 0 counts as having no servable member).
 *  - failover: the pool members of the lowest priority value (the first region of
 *    the domain's list that has one), rotated like round-robin.
 *  - latency: pool members with a measured latency first, lowest first (the
 *    latency of the backend's health probes as stored with the backend, not the
 *    client's); round-robin when no latency is known.
 *  - geolocation: round-robin (no GeoIP database is shipped; docs/operations.md).
 *  - The answer holds at most max_records candidates (0 = no cap) and at most
 *    `cap` (the caller's index array).
 *  - State is per thread (gslb_policy_state_t): no locks, no allocation.
 */
#pragma once

#include "answers.h"

#include <stddef.h>
#include <stdint.h>

typedef struct gslb_policy_state {
    uint64_t rr;     /* rotation counter */
    uint64_t rng[4]; /* xoshiro256** state */
} gslb_policy_state_t;

enum gslb_pick_result {
    GSLB_PICK_ANSWER = 0,   /* idx[0..n) holds the answer */
    GSLB_PICK_NODATA = 1,   /* no data for this family */
    GSLB_PICK_SERVFAIL = 2, /* unhealthy_mode servfail */
};

/** Seed a thread's state (seed 0 = from the OS random source). */
void gslb_policy_init(gslb_policy_state_t *st, uint64_t seed);

/** A uniform integer in [0, bound) (bound > 0), without modulo bias. */
uint64_t gslb_policy_uniform(gslb_policy_state_t *st, uint64_t bound);

/** Choose candidates. set points at a checked value of kind GSLB_ANS_KIND_GSLB.
 *  @return GSLB_PICK_ANSWER: idx[0..*n) holds the answer, *n >= 1;
 *          GSLB_PICK_NODATA: nothing to serve (no candidates, cap 0, or an
 *          empty pool by the rules above), *n = 0;
 *          GSLB_PICK_SERVFAIL: no healthy candidate and unhealthy_mode servfail, or
 *          return_last_healthy with only operator-down candidates left, *n = 0. */
enum gslb_pick_result gslb_policy_pick(gslb_policy_state_t *st, const gslb_ans_set_t *set,
                                       uint16_t *idx, size_t cap, size_t *n);

/** Policy name ("round-robin", "weighted", ...) for logs. */
const char *gslb_policy_name(unsigned policy);
