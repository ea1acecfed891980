/*
 * gslb_time.h - the clocks of every program: wall and monotonic time, the
 * coarse variants for the hot path, and deadlines for condition variables.
 *
 * Contract:
 *  - gslb_wall_*(): CLOCK_REALTIME since the unix epoch. It can jump (NTP,
 *    the operator): use it for timestamps that are stored, sent or shown.
 *  - gslb_mono_*(): CLOCK_MONOTONIC (arbitrary origin, never goes back): use it
 *    for intervals, timeouts and schedules.
 *  - *_coarse_*(): the CLOCK_*_COARSE clocks: no syscall and a few ms of
 *    resolution (the kernel tick). Only for the hot path (DNS workers, the
 *    signer), where that resolution is enough.
 *  - Condition variables that wait with a timeout run on CLOCK_MONOTONIC:
 *    gslb_cond_init_monotonic() creates one, gslb_mono_deadline(ms) is the
 *    absolute time to give pthread_cond_timedwait() for "ms from now".
 *  - Every struct timespec returned is normalised (0 <= tv_nsec < 1e9).
 *  - All functions are thread-safe and cannot fail.
 */
#pragma once

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/** Wall clock: unix seconds / milliseconds. */
int64_t gslb_wall_s(void);
int64_t gslb_wall_ms(void);
/** Wall clock, coarse: unix seconds (hot path: RRSIG validity windows). */
int64_t gslb_wall_coarse_s(void);

/** Monotonic clock: milliseconds / microseconds / nanoseconds. */
int64_t gslb_mono_ms(void);
int64_t gslb_mono_us(void);
int64_t gslb_mono_ns(void);
/** Monotonic clock, coarse: milliseconds (hot path: TCP idle timers). */
int64_t gslb_mono_coarse_ms(void);

/** t + ms (ms may be negative), normalised. */
struct timespec gslb_timespec_add_ms(struct timespec t, int64_t ms);
/** CLOCK_MONOTONIC now + ms: a deadline for a gslb_cond_init_monotonic() cond.
 *  ms <= 0 is a deadline that has passed already. */
struct timespec gslb_mono_deadline(int64_t ms);
/** pthread_cond_init() with CLOCK_MONOTONIC for timed waits. 0 or an errno value. */
int gslb_cond_init_monotonic(pthread_cond_t *cond);
