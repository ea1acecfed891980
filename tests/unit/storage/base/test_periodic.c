/*
 * test_periodic.c - the periodic thread of periodic.h: it runs at once and
 * then every interval, a kick wakes it at once and kicks share a run, wait()
 * sees the run that served its kick, the interval can change, run_in moves
 * one run, and stop joins a run in progress (and wakes waiters).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gslb_time.h"
#include "periodic.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#define LONG_MS 600000 /* an interval no test waits for */

typedef struct probe {
    atomic_int runs;       /* runs started */
    atomic_int finished;   /* runs finished */
    atomic_bool gate_open; /* a run waits here while false */
    atomic_bool honour_stop;
    int hold_ms;          /* each run lasts this long (unless stopped) */
    int64_t run_in_first; /* >= 0: the first run calls run_in(this) */
} probe_t;

static void probe_init(probe_t *pr)
{
    atomic_init(&pr->runs, 0);
    atomic_init(&pr->finished, 0);
    atomic_init(&pr->gate_open, true);
    atomic_init(&pr->honour_stop, false);
    pr->hold_ms = 0;
    pr->run_in_first = -1;
}

static void probe_run(gslb_periodic_t *p, void *ctx)
{
    probe_t *pr = ctx;
    int n = atomic_fetch_add(&pr->runs, 1) + 1;
    if (n == 1 && pr->run_in_first >= 0)
        gslb_periodic_run_in(p, (uint64_t)pr->run_in_first);
    int64_t until = gslb_mono_ms() + pr->hold_ms;
    while (!atomic_load(&pr->gate_open) || gslb_mono_ms() < until) {
        if (atomic_load(&pr->honour_stop) && atomic_load(gslb_periodic_stop_flag(p)))
            break;
        usleep(1000);
    }
    atomic_fetch_add(&pr->finished, 1);
}

static gslb_periodic_t *start(probe_t *pr, uint64_t interval_ms, bool delay_first)
{
    gslb_periodic_opts_t o = {.name = "test",
                              .run = probe_run,
                              .ctx = pr,
                              .interval_ms = interval_ms,
                              .delay_first = delay_first};
    gslb_periodic_t *p = NULL;
    gslb_errbuf_t eb = {{0}};
    assert_int_equal(gslb_periodic_start(&p, &o, &eb), 0);
    assert_non_null(p);
    return p;
}

/* Wait up to 5 s for *v >= want; returns the ms it took. */
static int64_t wait_count(atomic_int *v, int want)
{
    int64_t t0 = gslb_mono_ms();
    while (atomic_load(v) < want && gslb_mono_ms() - t0 < 5000)
        usleep(1000);
    assert_true(atomic_load(v) >= want);
    return gslb_mono_ms() - t0;
}

static void test_runs_at_once_then_every_interval(void **state)
{
    (void)state;
    probe_t pr;
    probe_init(&pr);
    int64_t t0 = gslb_mono_ms();
    gslb_periodic_t *p = start(&pr, 30, false);
    wait_count(&pr.finished, 1);
    assert_true(gslb_mono_ms() - t0 < 1000); /* the first run does not wait */
    wait_count(&pr.finished, 4);
    /* 3 more runs need at least 3 intervals */
    assert_true(gslb_mono_ms() - t0 >= 90);
    gslb_periodic_stop(p);
    int after_stop = atomic_load(&pr.runs);
    usleep(100 * 1000);
    assert_int_equal(atomic_load(&pr.runs), after_stop); /* nothing runs after stop */
}

static void test_delay_first_waits_one_interval(void **state)
{
    (void)state;
    probe_t pr;
    probe_init(&pr);
    int64_t t0 = gslb_mono_ms();
    gslb_periodic_t *p = start(&pr, 150, true);
    usleep(50 * 1000);
    assert_int_equal(atomic_load(&pr.runs), 0);
    wait_count(&pr.finished, 1);
    assert_true(gslb_mono_ms() - t0 >= 150);
    gslb_periodic_stop(p);
}

static void test_kick_wakes_at_once(void **state)
{
    (void)state;
    probe_t pr;
    probe_init(&pr);
    gslb_periodic_t *p = start(&pr, LONG_MS, true);
    usleep(30 * 1000);
    assert_int_equal(atomic_load(&pr.runs), 0);
    int64_t t0 = gslb_mono_ms();
    uint64_t ticket = gslb_periodic_kick(p);
    assert_int_equal(gslb_periodic_wait(p, ticket, 5000), 0);
    assert_true(gslb_mono_ms() - t0 < 1000);
    assert_int_equal(atomic_load(&pr.finished), 1);
    assert_int_equal(gslb_periodic_runs(p), 1);
    /* a ticket already served returns at once */
    assert_int_equal(gslb_periodic_wait(p, ticket, 0), 0);
    gslb_periodic_stop(p);
}

static void test_kicks_during_a_run_share_the_next(void **state)
{
    (void)state;
    probe_t pr;
    probe_init(&pr);
    atomic_store(&pr.gate_open, false);
    gslb_periodic_t *p = start(&pr, LONG_MS, false);
    wait_count(&pr.runs, 1); /* the first run is held at the gate */
    uint64_t a = gslb_periodic_kick(p);
    uint64_t b = gslb_periodic_kick(p);
    assert_true(b > a);
    /* the run in progress started before the kicks: it does not serve them */
    assert_int_equal(gslb_periodic_wait(p, a, 50), GSLB_EAGAIN);
    atomic_store(&pr.gate_open, true);
    assert_int_equal(gslb_periodic_wait(p, a, 5000), 0);
    assert_int_equal(gslb_periodic_wait(p, b, 5000), 0);
    usleep(50 * 1000);
    assert_int_equal(atomic_load(&pr.finished), 2); /* one more run for both kicks */
    gslb_periodic_stop(p);
}

static void test_interval_change(void **state)
{
    (void)state;
    probe_t pr;
    probe_init(&pr);
    gslb_periodic_t *p = start(&pr, LONG_MS, false);
    wait_count(&pr.finished, 1);
    usleep(30 * 1000);
    assert_int_equal(atomic_load(&pr.runs), 1);
    /* shorter: the last run ended longer ago than 20 ms, so the next runs now */
    gslb_periodic_set_interval(p, 20);
    assert_true(wait_count(&pr.finished, 4) < 2000);
    /* longer: the runs stop (one may have started already) */
    gslb_periodic_set_interval(p, LONG_MS);
    usleep(30 * 1000);
    int n = atomic_load(&pr.runs);
    usleep(150 * 1000);
    assert_int_equal(atomic_load(&pr.runs), n);
    gslb_periodic_stop(p);
}

static void test_run_in_moves_one_run(void **state)
{
    (void)state;
    probe_t pr;
    probe_init(&pr);
    pr.run_in_first = 40; /* from inside the first run */
    int64_t t0 = gslb_mono_ms();
    gslb_periodic_t *p = start(&pr, LONG_MS, false);
    wait_count(&pr.finished, 2);
    assert_true(gslb_mono_ms() - t0 >= 40);
    usleep(150 * 1000);
    assert_int_equal(atomic_load(&pr.runs), 2); /* then the interval again */
    /* from outside, while it waits */
    gslb_periodic_run_in(p, 0);
    wait_count(&pr.finished, 3);
    gslb_periodic_stop(p);
}

static void test_stop_joins_a_run_in_progress(void **state)
{
    (void)state;
    probe_t pr;
    probe_init(&pr);
    pr.hold_ms = 200; /* a run that does not look at the stop flag */
    gslb_periodic_t *p = start(&pr, LONG_MS, false);
    wait_count(&pr.runs, 1);
    int64_t t0 = gslb_mono_ms();
    gslb_periodic_stop(p);
    assert_int_equal(atomic_load(&pr.finished), 1); /* stop returned after the run ended */
    assert_true(gslb_mono_ms() - t0 >= 100);
    assert_int_equal(atomic_load(&pr.runs), 1);
}

static void test_stop_flag_ends_a_long_run(void **state)
{
    (void)state;
    probe_t pr;
    probe_init(&pr);
    pr.hold_ms = LONG_MS;
    atomic_store(&pr.honour_stop, true);
    gslb_periodic_t *p = start(&pr, LONG_MS, false);
    wait_count(&pr.runs, 1);
    assert_false(atomic_load(gslb_periodic_stop_flag(p)));
    int64_t t0 = gslb_mono_ms();
    gslb_periodic_stop(p);
    assert_true(gslb_mono_ms() - t0 < 2000);
    assert_int_equal(atomic_load(&pr.finished), 1);
}

typedef struct waiter {
    gslb_periodic_t *p;
    atomic_bool kicked;
    int rc;
} waiter_t;

static void *wait_thread(void *arg)
{
    waiter_t *w = arg;
    uint64_t ticket = gslb_periodic_kick(w->p);
    atomic_store(&w->kicked, true);
    w->rc = gslb_periodic_wait(w->p, ticket, 60000);
    return NULL;
}

static void test_stop_wakes_waiters(void **state)
{
    (void)state;
    probe_t pr;
    probe_init(&pr);
    pr.hold_ms = LONG_MS;
    atomic_store(&pr.honour_stop, true);
    gslb_periodic_t *p = start(&pr, LONG_MS, false);
    wait_count(&pr.runs, 1);
    waiter_t w = {.p = p, .rc = 1};
    atomic_init(&w.kicked, false);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, wait_thread, &w), 0);
    while (!atomic_load(&w.kicked))
        usleep(1000);
    usleep(100 * 1000); /* let it enter the wait */
    int64_t t0 = gslb_mono_ms();
    gslb_periodic_stop(p);
    pthread_join(t, NULL);
    assert_int_equal(w.rc, GSLB_EAGAIN); /* its round never ran */
    assert_true(gslb_mono_ms() - t0 < 2000);
    assert_int_equal(atomic_load(&pr.runs), 1);
}

static void test_stop_null_is_fine(void **state)
{
    (void)state;
    gslb_periodic_stop(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runs_at_once_then_every_interval),
        cmocka_unit_test(test_delay_first_waits_one_interval),
        cmocka_unit_test(test_kick_wakes_at_once),
        cmocka_unit_test(test_kicks_during_a_run_share_the_next),
        cmocka_unit_test(test_interval_change),
        cmocka_unit_test(test_run_in_moves_one_run),
        cmocka_unit_test(test_stop_joins_a_run_in_progress),
        cmocka_unit_test(test_stop_flag_ends_a_long_run),
        cmocka_unit_test(test_stop_wakes_waiters),
        cmocka_unit_test(test_stop_null_is_fine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
