/*
 * gslb_counter.h - counters owned by one thread and read by others (the
 * metrics scrape): the gossip receiver's, the sweeper's, the validator's.
 *
 * Contract:
 *  - A counter has ONE writer thread, the owner of the object that holds it;
 *    gslb_counter_add()/gslb_counter_set() are a relaxed load + store (no lock,
 *    no atomic read-modify-write). Any thread may read with
 *    gslb_counter_get() / gslb_counters_snapshot() and sees each value untorn
 *    (and a counter never going back).
 *  - gslb_counters_snapshot() copies a struct made only of uint64_t fields,
 *    given as its size in bytes.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

static inline void gslb_counter_add(uint64_t *c, uint64_t v)
{
    __atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}

static inline void gslb_counter_set(uint64_t *c, uint64_t v)
{
    __atomic_store_n(c, v, __ATOMIC_RELAXED);
}

static inline uint64_t gslb_counter_get(const uint64_t *c)
{
    return __atomic_load_n(c, __ATOMIC_RELAXED);
}

/** dst = src, counter by counter (both structs of `size` bytes of uint64_t). */
static inline void gslb_counters_snapshot(void *dst, const void *src, size_t size)
{
    uint64_t *d = dst;
    const uint64_t *s = src;
    for (size_t i = 0; i < size / sizeof(uint64_t); i++)
        d[i] = gslb_counter_get(&s[i]);
}
