/*
 * periodic.c - a thread that runs a callback periodically (periodic.h).
 */
#include "periodic.h"
#include "gslb_time.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

struct gslb_periodic {
    gslb_periodic_opts_t o;
    pthread_t thread;
    atomic_bool stop;
    pthread_mutex_t mu;
    pthread_cond_t wake; /* the thread: kick, new schedule, stop */
    pthread_cond_t done; /* waiters: a run finished, stop */
    /* under mu */
    uint64_t requested;  /* kicks so far (the last ticket) */
    uint64_t completed;  /* `requested` as the last finished run started */
    uint64_t runs;       /* runs finished */
    int64_t last_end_ms; /* monotonic end of the last run (start time before the first) */
    int64_t next_due_ms; /* monotonic start of the next scheduled run */
    bool running;        /* a run is in progress */
    bool one_off;        /* next_due_ms was set by run_in(): the interval waits */
    unsigned waiters;    /* threads in gslb_periodic_wait() */
};

/* ---- the thread ----------------------------------------------------------- */

static bool run_due(const gslb_periodic_t *p)
{
    return p->requested != p->completed || gslb_mono_ms() >= p->next_due_ms;
}

/* Sleep until a run is due or stop (mu held). */
static void wait_for_work(gslb_periodic_t *p)
{
    while (!atomic_load(&p->stop) && !run_due(p)) {
        struct timespec ts = gslb_mono_deadline(p->next_due_ms - gslb_mono_ms());
        pthread_cond_timedwait(&p->wake, &p->mu, &ts);
    }
}

/* One run with mu released; the schedule and tickets are updated after it. */
static void run_one(gslb_periodic_t *p)
{
    uint64_t serving = p->requested;
    p->running = true;
    p->one_off = false;
    pthread_mutex_unlock(&p->mu);
    p->o.run(p, p->o.ctx);
    pthread_mutex_lock(&p->mu);
    p->running = false;
    p->last_end_ms = gslb_mono_ms();
    if (!p->one_off)
        p->next_due_ms = p->last_end_ms + (int64_t)p->o.interval_ms;
    p->completed = serving;
    p->runs++;
    pthread_cond_broadcast(&p->done);
}

static void *periodic_main(void *arg)
{
    gslb_periodic_t *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        wait_for_work(p);
        if (atomic_load(&p->stop))
            break;
        run_one(p);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* ---- control -------------------------------------------------------------- */

static void destroy(gslb_periodic_t *p)
{
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

int gslb_periodic_start(gslb_periodic_t **out, const gslb_periodic_opts_t *opts, gslb_errbuf_t *eb)
{
    *out = NULL;
    gslb_periodic_t *p = calloc(1, sizeof(*p));
    if (!p)
        return gslb_errf(eb, GSLB_ENOMEM, "%s: out of memory", opts->name);
    p->o = *opts;
    atomic_init(&p->stop, false);
    pthread_mutex_init(&p->mu, NULL);
    gslb_cond_init_monotonic(&p->wake);
    gslb_cond_init_monotonic(&p->done);
    p->last_end_ms = gslb_mono_ms();
    p->next_due_ms = p->last_end_ms + (opts->delay_first ? (int64_t)opts->interval_ms : 0);
    if (pthread_create(&p->thread, NULL, periodic_main, p) != 0) {
        destroy(p);
        return gslb_errf(eb, GSLB_EIO, "%s: cannot start its thread", opts->name);
    }
    *out = p;
    return GSLB_OK;
}

uint64_t gslb_periodic_kick(gslb_periodic_t *p)
{
    pthread_mutex_lock(&p->mu);
    uint64_t ticket = ++p->requested;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->mu);
    return ticket;
}

int gslb_periodic_wait(gslb_periodic_t *p, uint64_t ticket, int64_t timeout_ms)
{
    struct timespec deadline = gslb_mono_deadline(timeout_ms);
    pthread_mutex_lock(&p->mu);
    p->waiters++;
    while (p->completed < ticket && !atomic_load(&p->stop))
        if (pthread_cond_timedwait(&p->done, &p->mu, &deadline) == ETIMEDOUT)
            break;
    int rc = p->completed >= ticket ? GSLB_OK : GSLB_EAGAIN;
    p->waiters--;
    pthread_cond_broadcast(&p->done); /* stop may wait for the last waiter */
    pthread_mutex_unlock(&p->mu);
    return rc;
}

void gslb_periodic_set_interval(gslb_periodic_t *p, uint64_t interval_ms)
{
    pthread_mutex_lock(&p->mu);
    p->o.interval_ms = interval_ms;
    if (!p->running && !p->one_off)
        p->next_due_ms = p->last_end_ms + (int64_t)interval_ms;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->mu);
}

void gslb_periodic_run_in(gslb_periodic_t *p, uint64_t ms)
{
    pthread_mutex_lock(&p->mu);
    p->next_due_ms = gslb_mono_ms() + (int64_t)ms;
    p->one_off = true;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->mu);
}

uint64_t gslb_periodic_runs(gslb_periodic_t *p)
{
    pthread_mutex_lock(&p->mu);
    uint64_t n = p->runs;
    pthread_mutex_unlock(&p->mu);
    return n;
}

const atomic_bool *gslb_periodic_stop_flag(const gslb_periodic_t *p)
{
    return &p->stop;
}

void gslb_periodic_stop(gslb_periodic_t *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, true);
    pthread_cond_broadcast(&p->wake);
    pthread_cond_broadcast(&p->done);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    pthread_mutex_lock(&p->mu);
    while (p->waiters > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
    destroy(p);
}
