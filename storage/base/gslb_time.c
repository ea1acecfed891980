/*
 * gslb_time.c - the clocks (gslb_time.h).
 */
#include "gslb_time.h"

#define NS_PER_S 1000000000LL

static struct timespec now_on(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts;
}

static int64_t to_ms(struct timespec ts)
{
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t gslb_wall_s(void)
{
    return (int64_t)now_on(CLOCK_REALTIME).tv_sec;
}

int64_t gslb_wall_ms(void)
{
    return to_ms(now_on(CLOCK_REALTIME));
}

int64_t gslb_wall_coarse_s(void)
{
    return (int64_t)now_on(CLOCK_REALTIME_COARSE).tv_sec;
}

int64_t gslb_mono_ms(void)
{
    return to_ms(now_on(CLOCK_MONOTONIC));
}

int64_t gslb_mono_us(void)
{
    struct timespec ts = now_on(CLOCK_MONOTONIC);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t gslb_mono_ns(void)
{
    struct timespec ts = now_on(CLOCK_MONOTONIC);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

int64_t gslb_mono_coarse_ms(void)
{
    return to_ms(now_on(CLOCK_MONOTONIC_COARSE));
}

struct timespec gslb_timespec_add_ms(struct timespec t, int64_t ms)
{
    int64_t ns = (int64_t)t.tv_nsec + (ms % 1000) * 1000000;
    int64_t s = (int64_t)t.tv_sec + ms / 1000 + ns / NS_PER_S;
    ns %= NS_PER_S;
    if (ns < 0) {
        ns += NS_PER_S;
        s--;
    }
    return (struct timespec){.tv_sec = (time_t)s, .tv_nsec = (long)ns};
}

struct timespec gslb_mono_deadline(int64_t ms)
{
    return gslb_timespec_add_ms(now_on(CLOCK_MONOTONIC), ms);
}

int gslb_cond_init_monotonic(pthread_cond_t *cond)
{
    pthread_condattr_t ca;
    int rc = pthread_condattr_init(&ca);
    if (rc != 0)
        return rc;
    rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(cond, &ca);
    pthread_condattr_destroy(&ca);
    return rc;
}
