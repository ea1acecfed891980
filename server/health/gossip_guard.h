/*
 * gossip_guard.h - the gossip receiver's defences that run before any
 * cryptography: a per-source rate limit, and a limiter for the log lines
 * that name rejected messages (docs/gossip-protocol.md, "Rate limits" and
 * "Rejection log").
 *
 * Contract:
 *  - Both tables have a fixed size (memory is bounded whatever the number of
 *    sources) and are keyed by a keyed hash of the source address; the key is
 *    random per table (RAND_bytes), so a sender cannot aim at another
 *    source's slot.
 *  - Rate limit: a token bucket per slot, GSLB_GUARD_RATE_SLOTS slots;
 *    sources that hash to the same slot share its budget. A bucket holds at
 *    most `burst` messages and refills at `rate` per second. rate 0 = no
 *    limit. A source without an address (NULL: tests, internal) is never
 *    limited.
 *  - Rejection log: one slot per (source, reason) hash,
 *    GSLB_GUARD_LOG_SLOTS slots. The first rejection of a (source, reason)
 *    may be logged; further ones of the same pair at most once per
 *    GSLB_GUARD_LOG_INTERVAL_MS (reporting how many were not logged). On top,
 *    at most GSLB_GUARD_LOG_BURST lines are logged per
 *    GSLB_GUARD_LOG_INTERVAL_MS in total, so many sources cannot flood the log.
 *  - Times are any int64 milliseconds (no overflow at the extremes); a clock
 *    that goes back restarts a bucket's refill or a log window from now.
 *  - Not thread-safe: one thread (the receiver's) uses a table.
 */
#pragma once

#include "gslb_err.h"
#include "records.h"

#include <stdbool.h>
#include <stdint.h>

#define GSLB_GUARD_RATE_SLOTS 4096
#define GSLB_GUARD_LOG_SLOTS 256
#define GSLB_GUARD_LOG_INTERVAL_MS 60000
#define GSLB_GUARD_LOG_BURST 20
/* Defaults of overwatch.gossip.source_rate / source_burst (messages). */
#define GSLB_GUARD_DEFAULT_RATE 1000
#define GSLB_GUARD_DEFAULT_BURST 2000

typedef struct gslb_rate_table gslb_rate_table_t;

/** A table with every bucket full. Returns 0 or GSLB_ENOMEM. */
int gslb_rate_table_new(gslb_rate_table_t **out, uint32_t rate, uint32_t burst);
void gslb_rate_table_free(gslb_rate_table_t *t);
/** New rate and burst (reload); buckets keep their level, capped at burst. */
void gslb_rate_table_set(gslb_rate_table_t *t, uint32_t rate, uint32_t burst);
/** Take one message from src's bucket at monotonic time now_ms: true when
 *  it may be processed, false when over the limit. */
bool gslb_rate_allow(gslb_rate_table_t *t, const gslb_addr_t *src, int64_t now_ms);

typedef struct gslb_log_table gslb_log_table_t;

int gslb_log_table_new(gslb_log_table_t **out);
void gslb_log_table_free(gslb_log_table_t *t);

/** Whether a rejection of `reason` from src at monotonic now_ms is to be
 *  logged. When true, *suppressed is how many rejections of that pair were
 *  not logged since its last line, and *dropped how many lines the global
 *  cap held back since the last logged line (both then start again at 0). */
bool gslb_log_table_should_log(gslb_log_table_t *t, const gslb_addr_t *src, unsigned reason,
                               int64_t now_ms, uint64_t *suppressed, uint64_t *dropped);
