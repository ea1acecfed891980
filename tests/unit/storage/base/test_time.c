/*
 * test_time.c - the clocks of gslb_time.h: wall and monotonic time agree with
 * the system's, coarse clocks stay within their resolution, timespec
 * arithmetic normalises, and a monotonic condition variable times out when
 * gslb_mono_deadline() says.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gslb_time.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>

static void test_wall_clock_is_unix_time(void **state)
{
    (void)state;
    int64_t before = (int64_t)time(NULL);
    int64_t s = gslb_wall_s(), ms = gslb_wall_ms(), coarse = gslb_wall_coarse_s();
    int64_t after = (int64_t)time(NULL);
    assert_in_range(s, before, after);
    assert_in_range(ms / 1000, before, after);
    /* the coarse clock lags by at most one kernel tick */
    assert_in_range(coarse, before - 1, after);
}

static void test_monotonic_units_agree(void **state)
{
    (void)state;
    int64_t ns = gslb_mono_ns();
    int64_t us = gslb_mono_us();
    int64_t ms = gslb_mono_ms();
    assert_true(ns > 0);
    assert_true(us >= ns / 1000);
    assert_true(ms >= us / 1000);
    assert_true(ms - ns / 1000000 < 1000); /* read within a second of each other */
    int64_t last = gslb_mono_us();
    for (int i = 0; i < 10000; i++) {
        int64_t now = gslb_mono_us();
        assert_true(now >= last);
        last = now;
    }
}

static void test_coarse_monotonic_within_resolution(void **state)
{
    (void)state;
    struct timespec res;
    clock_getres(CLOCK_MONOTONIC_COARSE, &res);
    int64_t res_ms = (int64_t)res.tv_sec * 1000 + res.tv_nsec / 1000000 + 1;
    int64_t fine_before = gslb_mono_ms();
    int64_t coarse = gslb_mono_coarse_ms();
    int64_t fine_after = gslb_mono_ms();
    /* the coarse clock is updated once per tick: it may lag by a tick, and both
     * readings are truncated to ms; a loaded machine may deliver the tick late */
    assert_in_range(coarse, fine_before - 2 * res_ms - 1, fine_after);
}

static void assert_timespec(struct timespec t, time_t sec, long nsec)
{
    assert_int_equal(t.tv_sec, sec);
    assert_int_equal(t.tv_nsec, nsec);
}

static void test_timespec_add_normalises(void **state)
{
    (void)state;
    struct timespec t = {.tv_sec = 1, .tv_nsec = 999999999};
    assert_timespec(gslb_timespec_add_ms(t, 1), 2, 999999);
    assert_timespec(gslb_timespec_add_ms(t, 0), 1, 999999999);
    struct timespec five = {.tv_sec = 5, .tv_nsec = 100000000};
    assert_timespec(gslb_timespec_add_ms(five, 2500), 7, 600000000);
    assert_timespec(gslb_timespec_add_ms(five, 900), 6, 0);
    assert_timespec(gslb_timespec_add_ms(five, -1), 5, 99000000);
    assert_timespec(gslb_timespec_add_ms(five, -200), 4, 900000000);
    assert_timespec(gslb_timespec_add_ms(five, -2500), 2, 600000000);
    assert_timespec(gslb_timespec_add_ms(five, 3600 * 1000LL), 3605, 100000000);
}

static void test_mono_deadline_is_now_plus_ms(void **state)
{
    (void)state;
    int64_t before = gslb_mono_ms();
    struct timespec d = gslb_mono_deadline(1500);
    int64_t after = gslb_mono_ms();
    int64_t d_ms = (int64_t)d.tv_sec * 1000 + d.tv_nsec / 1000000;
    assert_in_range(d_ms, before + 1500, after + 1500);
    assert_in_range(d.tv_nsec, 0, 999999999);
}

/* A cond made by gslb_cond_init_monotonic() measures a gslb_mono_deadline():
 * on CLOCK_REALTIME the same deadline (seconds since boot) would have passed
 * long ago and the wait would return at once. */
static void test_monotonic_cond_times_out_on_time(void **state)
{
    (void)state;
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cond;
    assert_int_equal(gslb_cond_init_monotonic(&cond), 0);
    pthread_mutex_lock(&mu);
    int64_t t0 = gslb_mono_ms();
    struct timespec d = gslb_mono_deadline(80);
    int rc = 0;
    while (rc == 0)
        rc = pthread_cond_timedwait(&cond, &mu, &d);
    int64_t took = gslb_mono_ms() - t0;
    pthread_mutex_unlock(&mu);
    assert_int_equal(rc, ETIMEDOUT);
    assert_in_range(took, 79, 5000);
    /* a deadline in the past returns at once */
    pthread_mutex_lock(&mu);
    d = gslb_mono_deadline(-10);
    assert_int_equal(pthread_cond_timedwait(&cond, &mu, &d), ETIMEDOUT);
    pthread_mutex_unlock(&mu);
    pthread_cond_destroy(&cond);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wall_clock_is_unix_time),
        cmocka_unit_test(test_monotonic_units_agree),
        cmocka_unit_test(test_coarse_monotonic_within_resolution),
        cmocka_unit_test(test_timespec_add_normalises),
        cmocka_unit_test(test_mono_deadline_is_now_plus_ms),
        cmocka_unit_test(test_monotonic_cond_times_out_on_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
