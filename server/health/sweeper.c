/*
 * sweeper.c - marks silent agents' backends stale and removes them later
 * (sweeper.h).
 */
#include "sweeper.h"
#include "gslb_counter.h"
#include "gslb_log.h"
#include "gslb_time.h"
#include "periodic.h"
#include "store.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct gslb_sweeper {
    gslb_sweeper_opts_t o;
    gslb_periodic_t *thread; /* NULL with no_thread */
    uint64_t runs;           /* sweeps so far: full backend scans on runs % FULL_EVERY == 0 */
    /* the deaf-node rule (sweeping thread only) */
    int64_t hearing_since_ms; /* nobody counts as silent from before this */
    bool deaf;
    int64_t deaf_since_ms;
    gslb_sweeper_counters_t counters; /* written by the sweeping thread only */
    pthread_mutex_t static_mu;        /* statics: update() may swap them */
    gslb_static_backends_t statics;   /* configured backends to fall back to */
};

void gslb_sweeper_counters(const gslb_sweeper_t *s, gslb_sweeper_counters_t *out)
{
    if (s)
        gslb_counters_snapshot(out, &s->counters, sizeof(*out));
    else
        memset(out, 0, sizeof(*out));
}

enum verdict { KEEP = 0, MAKE_STALE, REMOVE };

typedef struct agent_seen {
    gslb_agent_rec_t rec;
    int64_t heard_ms;
} agent_seen_t;

typedef struct sweep {
    gslb_sweeper_t *s;
    int64_t now_ms;
    agent_seen_t *agents;
    size_t nagents, agents_cap;
    gslb_backend_rec_t *todo; /* backends to change */
    size_t ntodo, todo_cap;
    char (*dirty)[GSLB_NAME_MAX];
    size_t ndirty, dirty_cap;
    bool agents_changed;
    /* the deaf-node rule's counts, over the agents not marked stale already */
    uint64_t judged; /* those agents */
    uint64_t silent; /* of them, silent for stale_threshold or longer */
    uint64_t quiet;  /* of them, silent for half of it or longer */
    uint64_t backends_known, domains_known;
} sweep_t;

static int grow(void **v, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return GSLB_OK;
    size_t c = *cap ? *cap * 2 : 32;
    while (c < need)
        c *= 2;
    void *n = realloc(*v, c * size);
    if (!n)
        return GSLB_ENOMEM;
    *v = n;
    *cap = c;
    return GSLB_OK;
}

/* ---- judging -------------------------------------------------------------- */

static int64_t stored_heard_ms(int64_t unix_s)
{
    return unix_s > 0 ? unix_s * 1000 + 999 : 0;
}

/* Nobody is silent since before this node could hear (its start, or the end of
 * its last deaf spell). */
static int64_t since_hearing(const sweep_t *w, int64_t heard_ms)
{
    return heard_ms > w->s->hearing_since_ms ? heard_ms : w->s->hearing_since_ms;
}

static int64_t agent_heard_ms(const sweep_t *w, const gslb_agent_rec_t *r)
{
    int64_t ms = 0;
    const gslb_sweeper_opts_t *o = &w->s->o;
    if (o->last_heard && o->last_heard(o->last_heard_ctx, r->agent_id, &ms))
        return since_hearing(w, ms);
    return since_hearing(w, stored_heard_ms(r->last_heartbeat));
}

static bool is_silent(const sweep_t *w, int64_t heard_ms)
{
    return w->now_ms - heard_ms >= (int64_t)w->s->o.stale_threshold_ms;
}

/* Going silent: an agent heard within a threshold whose heartbeats (a few per
 * threshold) stopped. Agents cut off together cross the threshold one by one,
 * within a heartbeat interval of each other: when the first one crosses, the
 * others are quiet already. */
static bool is_quiet(const sweep_t *w, int64_t heard_ms)
{
    return w->now_ms - heard_ms >= (int64_t)(w->s->o.stale_threshold_ms / 2);
}

static enum verdict judge(const sweep_t *w, int64_t heard_ms, bool stale)
{
    int64_t silent = w->now_ms - heard_ms;
    if (silent >= (int64_t)w->s->o.remove_after_ms)
        return REMOVE;
    if (silent >= (int64_t)w->s->o.stale_threshold_ms && !stale)
        return MAKE_STALE;
    return KEEP;
}

static const agent_seen_t *find_agent(const sweep_t *w, const char *id)
{
    for (size_t i = 0; i < w->nagents; i++)
        if (strcmp(w->agents[i].rec.agent_id, id) == 0)
            return &w->agents[i];
    return NULL;
}

/* Heard time of a backend's agent in this sweep's view. */
static int64_t backend_heard_ms(const sweep_t *w, const gslb_backend_rec_t *b)
{
    const agent_seen_t *a = find_agent(w, b->agent_id);
    if (a)
        return a->heard_ms;
    int64_t ms = 0;
    const gslb_sweeper_opts_t *o = &w->s->o;
    if (o->last_heard && o->last_heard(o->last_heard_ctx, b->agent_id, &ms))
        return since_hearing(w, ms);
    return since_hearing(w, stored_heard_ms(b->last_seen));
}

static int collect_agent(const gslb_agent_rec_t *r, void *ctx)
{
    sweep_t *w = ctx;
    if (grow((void **)&w->agents, &w->agents_cap, w->nagents + 1, sizeof(*w->agents)) < 0)
        return GSLB_ENOMEM;
    agent_seen_t *a = &w->agents[w->nagents++];
    a->rec = *r;
    a->heard_ms = agent_heard_ms(w, r);
    return 0;
}

static bool any_agent_to_change(const sweep_t *w)
{
    for (size_t i = 0; i < w->nagents; i++)
        if (judge(w, w->agents[i].heard_ms, w->agents[i].rec.stale) != KEEP)
            return true;
    return false;
}

static int collect_backend(const gslb_backend_rec_t *r, void *ctx)
{
    sweep_t *w = ctx;
    if (r->source != GSLB_SOURCE_AGENT)
        return 0;
    if (judge(w, backend_heard_ms(w, r), r->stale) == KEEP)
        return 0;
    if (grow((void **)&w->todo, &w->todo_cap, w->ntodo + 1, sizeof(*w->todo)) < 0)
        return GSLB_ENOMEM;
    w->todo[w->ntodo++] = *r;
    return 0;
}

static void count_silence(sweep_t *w)
{
    w->judged = w->silent = w->quiet = 0;
    for (size_t i = 0; i < w->nagents; i++) {
        if (w->agents[i].rec.stale)
            continue; /* went away earlier, alone: not part of a silence "together" */
        w->judged++;
        w->silent += is_silent(w, w->agents[i].heard_ms);
        w->quiet += is_quiet(w, w->agents[i].heard_ms);
    }
}

/* Published after a successful sweep: agents judged REMOVE are gone by then. */
static void publish_gauges(const sweep_t *w)
{
    gslb_sweeper_counters_t *c = &w->s->counters;
    uint64_t live = 0, silent = 0;
    for (size_t i = 0; i < w->nagents; i++) {
        const agent_seen_t *a = &w->agents[i];
        if (!w->s->deaf && judge(w, a->heard_ms, a->rec.stale) == REMOVE)
            continue;
        if (is_silent(w, a->heard_ms))
            silent++;
        else
            live++;
    }
    gslb_counter_set(&c->agents_registered, live);
    gslb_counter_set(&c->agents_stale, silent);
    gslb_counter_set(&c->gossip_deaf, w->s->deaf);
    gslb_counter_set(&c->backends_known, w->backends_known);
    gslb_counter_set(&c->domains_known, w->domains_known);
}

/* ---- the deaf-node rule ---------------------------------------------------- */

bool gslb_sweeper_is_deaf(uint64_t known, uint64_t quiet, uint32_t percent, uint32_t min_agents)
{
    if (known == 0 || known < min_agents)
        return false;
    return quiet >= known || quiet * 100 > (uint64_t)percent * known;
}

bool gslb_sweeper_deaf_next(bool deaf, uint64_t known, uint64_t silent, uint64_t quiet,
                            uint32_t percent, uint32_t min_agents)
{
    if (!gslb_sweeper_is_deaf(known, quiet, percent, min_agents))
        return false;
    return deaf || silent > 0;
}

static void become_deaf(sweep_t *w)
{
    gslb_sweeper_t *s = w->s;
    s->deaf = true;
    s->deaf_since_ms = w->now_ms;
    gslb_counter_add(&s->counters.deaf_episodes, 1);
    gslb_warn("sweeper: gossip deaf: %llu of %zu agents went silent together (%llu for %llums "
              "or more); taking this node to be cut off: it keeps serving the last known state "
              "and marks no agent stale nor removes any until gossip resumes",
              (unsigned long long)w->quiet, (size_t)w->judged, (unsigned long long)w->silent,
              (unsigned long long)s->o.stale_threshold_ms);
}

/* Gossip resumed: silence is timed afresh from now, so an agent that has not
 * reported yet gets a full stale_threshold before it is judged. */
static void stop_being_deaf(sweep_t *w)
{
    gslb_sweeper_t *s = w->s;
    s->deaf = false;
    s->hearing_since_ms = w->now_ms;
    gslb_info("sweeper: gossip resumed after %llds deaf: %llu of %zu agents heard within %llums; "
              "agents still silent are timed from now",
              (long long)((w->now_ms - s->deaf_since_ms) / 1000),
              (unsigned long long)(w->judged - w->quiet), (size_t)w->judged,
              (unsigned long long)(s->o.stale_threshold_ms / 2));
    for (size_t i = 0; i < w->nagents; i++)
        w->agents[i].heard_ms = since_hearing(w, w->agents[i].heard_ms);
    count_silence(w);
}

/* Applies the rule to this sweep's agents; true while the node is deaf. */
static bool follow_deafness(sweep_t *w)
{
    const gslb_sweeper_opts_t *o = &w->s->o;
    count_silence(w);
    bool deaf = gslb_sweeper_deaf_next(w->s->deaf, w->judged, w->silent, w->quiet, o->deaf_percent,
                                       o->deaf_min_agents);
    if (deaf && !w->s->deaf)
        become_deaf(w);
    else if (!deaf && w->s->deaf)
        stop_being_deaf(w);
    return w->s->deaf;
}

/* ---- surveying -------------------------------------------------------------- */

static int count_entries(gslb_env_t *e, MDB_txn *txn, enum gslb_dbi dbi, uint64_t *out)
{
    MDB_stat st;
    if (mdb_stat(txn, e->dbi[dbi], &st) != MDB_SUCCESS)
        return GSLB_ESTORE;
    *out = st.ms_entries;
    return GSLB_OK;
}

static int survey(sweep_t *w)
{
    MDB_txn *txn = NULL;
    gslb_env_t *e = w->s->o.env;
    int rc = gslb_env_read_begin(e, &txn);
    if (rc < 0)
        return rc;
    rc = gslb_store_foreach_agent(e, txn, collect_agent, w);
    if (rc == GSLB_OK)
        rc = count_entries(e, txn, GSLB_DBI_BACKENDS, &w->backends_known);
    if (rc == GSLB_OK)
        rc = count_entries(e, txn, GSLB_DBI_DOMAINS, &w->domains_known);
    bool deaf = rc == GSLB_OK && follow_deafness(w);
    if (rc == GSLB_OK && !deaf) {
        w->agents_changed = any_agent_to_change(w);
        bool full = w->s->runs % GSLB_SWEEPER_FULL_EVERY == 0;
        if (w->agents_changed || full)
            rc = gslb_store_foreach_backend(e, txn, NULL, collect_backend, w);
    }
    mdb_txn_abort(txn);
    return rc;
}

/* ---- applying ------------------------------------------------------------- */

static int mark_dirty(sweep_t *w, const char *domain)
{
    for (size_t i = 0; i < w->ndirty; i++)
        if (strcmp(w->dirty[i], domain) == 0)
            return GSLB_OK;
    if (grow((void **)&w->dirty, &w->dirty_cap, w->ndirty + 1, sizeof(*w->dirty)) < 0)
        return GSLB_ENOMEM;
    memcpy(w->dirty[w->ndirty++], domain, GSLB_NAME_MAX);
    return GSLB_OK;
}

/* Re-read the agents inside the write txn: a heartbeat may have landed. */
static int refresh_agents(sweep_t *w, MDB_txn *txn)
{
    w->nagents = 0;
    return gslb_store_foreach_agent(w->s->o.env, txn, collect_agent, w);
}

/* The configured record of b when the configuration lists it. */
static bool static_fallback(gslb_sweeper_t *s, const gslb_backend_rec_t *b, int64_t now_s,
                            gslb_backend_rec_t *out)
{
    pthread_mutex_lock(&s->static_mu);
    const gslb_backend_rec_t *c =
        gslb_static_backends_find(&s->statics, b->domain, &b->addr, b->port);
    if (c) {
        *out = *c;
        out->last_change = now_s;
    }
    pthread_mutex_unlock(&s->static_mu);
    return c != NULL;
}

/* Delete an agent's backend, or give a configured one back its configured record. */
static int remove_backend(sweep_t *w, MDB_txn *txn, const gslb_backend_rec_t *b)
{
    gslb_backend_rec_t conf;
    if (!static_fallback(w->s, b, w->now_ms / 1000, &conf))
        return gslb_store_backend_del(w->s->o.env, txn, b->domain, &b->addr, b->port);
    char text[64];
    gslb_info("sweeper: backend %s %s:%u of removed agent %s falls back to its configured state",
              b->domain, gslb_addr_format(&b->addr, text, sizeof(text)), b->port, b->agent_id);
    return gslb_store_backend_put(w->s->o.env, txn, &conf);
}

static int apply_backend(sweep_t *w, MDB_txn *txn, const gslb_backend_rec_t *seen)
{
    gslb_env_t *e = w->s->o.env;
    gslb_backend_rec_t b;
    int rc = gslb_store_backend_get(e, txn, seen->domain, &seen->addr, seen->port, &b);
    if (rc == GSLB_ENOENT || (rc == GSLB_OK && b.source != GSLB_SOURCE_AGENT))
        return GSLB_OK;
    if (rc < 0)
        return rc;
    enum verdict v = judge(w, backend_heard_ms(w, &b), b.stale);
    if (v == REMOVE) {
        rc = remove_backend(w, txn, &b);
        if (rc == GSLB_OK)
            gslb_counter_add(&w->s->counters.backends_removed, 1);
    } else if (v == MAKE_STALE) {
        b.stale = true;
        b.last_change = w->now_ms / 1000;
        rc = gslb_store_backend_put(e, txn, &b);
        if (rc == GSLB_OK)
            gslb_counter_add(&w->s->counters.backends_marked_stale, 1);
    } else {
        return GSLB_OK;
    }
    return rc == GSLB_OK ? mark_dirty(w, b.domain) : rc;
}

static int apply_agent(sweep_t *w, MDB_txn *txn, const agent_seen_t *a)
{
    gslb_env_t *e = w->s->o.env;
    enum verdict v = judge(w, a->heard_ms, a->rec.stale);
    if (v == REMOVE) {
        gslb_info("sweeper: agent %s silent for %llds: removed with its backends", a->rec.agent_id,
                  (long long)((w->now_ms - a->heard_ms) / 1000));
        gslb_counter_add(&w->s->counters.agents_removed, 1);
        int rc = gslb_store_agent_del(e, txn, a->rec.agent_id);
        return rc == GSLB_ENOENT ? GSLB_OK : rc;
    }
    if (v == MAKE_STALE) {
        gslb_warn("sweeper: agent %s silent for %lldms: its backends are stale", a->rec.agent_id,
                  (long long)(w->now_ms - a->heard_ms));
        gslb_agent_rec_t r = a->rec;
        r.stale = true;
        return gslb_store_agent_put(e, txn, &r);
    }
    return GSLB_OK;
}

static int apply_changes(sweep_t *w)
{
    gslb_env_t *e = w->s->o.env;
    MDB_txn *txn = NULL;
    int rc = gslb_env_write_begin(e, &txn);
    if (rc < 0)
        return rc;
    rc = refresh_agents(w, txn);
    for (size_t i = 0; rc == GSLB_OK && i < w->ntodo; i++)
        rc = apply_backend(w, txn, &w->todo[i]);
    for (size_t i = 0; rc == GSLB_OK && i < w->nagents; i++)
        rc = apply_agent(w, txn, &w->agents[i]);
    for (size_t i = 0; rc == GSLB_OK && i < w->ndirty; i++)
        rc = gslb_answers_rebuild_domain(e, txn, w->dirty[i]);
    if (rc != GSLB_OK) {
        mdb_txn_abort(txn);
        return rc;
    }
    return gslb_env_commit(e, txn);
}

int gslb_sweeper_run_once(gslb_sweeper_t *s, int64_t now_ms)
{
    sweep_t w = {.s = s, .now_ms = now_ms};
    int rc = survey(&w);
    if (rc == GSLB_OK && (w.ntodo || w.agents_changed))
        rc = apply_changes(&w);
    s->runs++;
    if (rc == GSLB_OK) {
        publish_gauges(&w);
        gslb_counter_add(&s->counters.sweeps, 1);
    } else {
        gslb_counter_add(&s->counters.errors, 1);
        gslb_error("sweeper: %s", gslb_strerror(rc));
    }
    free(w.agents);
    free(w.todo);
    free(w.dirty);
    return rc;
}

/* ---- thread --------------------------------------------------------------- */

static void sweep_now(gslb_periodic_t *p, void *ctx)
{
    (void)p;
    gslb_sweeper_run_once(ctx, gslb_wall_ms());
}

int gslb_sweeper_start(gslb_sweeper_t **out, const gslb_sweeper_opts_t *opts, gslb_errbuf_t *eb)
{
    gslb_sweeper_t *s = calloc(1, sizeof(*s));
    if (!s)
        return gslb_errf(eb, GSLB_ENOMEM, "out of memory");
    s->o = *opts;
    s->o.cfg = NULL; /* copied below; not kept */
    pthread_mutex_init(&s->static_mu, NULL);
    if (gslb_static_backends_build(opts->cfg, &s->statics) < 0) {
        pthread_mutex_destroy(&s->static_mu);
        free(s);
        return gslb_errf(eb, GSLB_ENOMEM, "out of memory");
    }
    if (!s->o.tick_ms)
        s->o.tick_ms = GSLB_SWEEPER_TICK_MS;
    if (!s->o.deaf_percent)
        s->o.deaf_percent = GSLB_SWEEPER_DEAF_PERCENT;
    if (!s->o.deaf_min_agents)
        s->o.deaf_min_agents = GSLB_SWEEPER_DEAF_MIN_AGENTS;
    s->hearing_since_ms = s->o.listen_start_ms ? s->o.listen_start_ms : gslb_wall_ms();
    if (!opts->no_thread) {
        gslb_periodic_opts_t po = {
            .name = "sweeper", .run = sweep_now, .ctx = s, .interval_ms = s->o.tick_ms};
        int rc = gslb_periodic_start(&s->thread, &po, eb);
        if (rc < 0) {
            gslb_static_backends_free(&s->statics);
            pthread_mutex_destroy(&s->static_mu);
            free(s);
            return rc;
        }
    }
    *out = s;
    return GSLB_OK;
}

void gslb_sweeper_stop(gslb_sweeper_t *s)
{
    if (!s)
        return;
    gslb_periodic_stop(s->thread);
    gslb_static_backends_free(&s->statics);
    pthread_mutex_destroy(&s->static_mu);
    free(s);
}

int gslb_sweeper_update(gslb_sweeper_t *s, const gslb_config_t *cfg)
{
    gslb_static_backends_t next, old;
    if (!s)
        return GSLB_OK;
    int rc = gslb_static_backends_build(cfg, &next);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&s->static_mu);
    old = s->statics;
    s->statics = next;
    pthread_mutex_unlock(&s->static_mu);
    gslb_static_backends_free(&old);
    return GSLB_OK;
}
