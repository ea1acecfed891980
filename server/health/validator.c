/*
 * validator.c - overwatch-side probes of agent-reported backends (validator.h).
 */
#include "validator.h"
#include "gslb_counter.h"
#include "gslb_log.h"
#include "gslb_time.h"
#include "periodic.h"
#include "probe.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct region_check {
    char name[GSLB_LABEL_MAX];
    gslb_probe_spec_t spec; /* address/port filled per backend */
} region_check_t;

typedef struct vtarget {
    gslb_backend_rec_t b; /* as surveyed */
    gslb_probe_state_t st;
    bool disagreeing;
} vtarget_t;

struct gslb_validator {
    gslb_env_t *env;
    bool enabled;
    uint64_t interval_ms, timeout_ms;
    region_check_t *regions;
    size_t nregions;
    gslb_prober_t *prober;
    vtarget_t *t; /* this round's targets (state carried over by key) */
    size_t nt;
    gslb_periodic_t *thread;            /* NULL when disabled or no_thread */
    gslb_validator_counters_t counters; /* written by the validating thread only */
};

void gslb_validator_counters(const gslb_validator_t *v, gslb_validator_counters_t *out)
{
    if (v)
        gslb_counters_snapshot(out, &v->counters, sizeof(*out));
    else
        memset(out, 0, sizeof(*out));
}

/* ---- configuration -------------------------------------------------------- */

static void spec_from_region(const gslb_health_check_t *hc, uint64_t timeout_ms,
                             gslb_probe_spec_t *s)
{
    gslb_probe_spec_default(s);
    if (gslb_probe_type_parse(hc->type, &s->type) < 0)
        s->type = GSLB_PROBE_TCP;
    if (hc->path[0])
        snprintf(s->path, sizeof(s->path), "%s", hc->path);
    snprintf(s->host, sizeof(s->host), "%s", hc->host);
    s->expected_count =
        hc->expected_count > GSLB_PROBE_MAX_STATUS ? GSLB_PROBE_MAX_STATUS : hc->expected_count;
    for (size_t i = 0; i < s->expected_count; i++)
        s->expected_status[i] = hc->expected_status[i];
    s->failure_threshold =
        hc->failure_threshold ? hc->failure_threshold : GSLB_VALIDATION_FAILURE_THRESHOLD;
    s->success_threshold =
        hc->success_threshold ? hc->success_threshold : GSLB_VALIDATION_SUCCESS_THRESHOLD;
    s->timeout_ms = (uint32_t)timeout_ms;
}

static int copy_regions(gslb_validator_t *v, const gslb_config_t *cfg)
{
    if (!cfg->region_count)
        return GSLB_OK;
    v->regions = calloc(cfg->region_count, sizeof(*v->regions));
    if (!v->regions)
        return GSLB_ENOMEM;
    for (size_t i = 0; i < cfg->region_count; i++) {
        const gslb_cfg_region_t *r = &cfg->regions[i];
        if (!r->has_health_check)
            continue;
        region_check_t *rc = &v->regions[v->nregions++];
        snprintf(rc->name, sizeof(rc->name), "%s", r->name);
        spec_from_region(&r->health_check, v->timeout_ms, &rc->spec);
    }
    return GSLB_OK;
}

static void spec_for_backend(const gslb_validator_t *v, const gslb_backend_rec_t *b,
                             gslb_probe_spec_t *s)
{
    const region_check_t *rc = NULL;
    for (size_t i = 0; i < v->nregions && !rc; i++)
        if (strcmp(v->regions[i].name, b->region) == 0)
            rc = &v->regions[i];
    if (rc) {
        *s = rc->spec;
    } else {
        gslb_probe_spec_default(s);
        s->failure_threshold = GSLB_VALIDATION_FAILURE_THRESHOLD;
        s->success_threshold = GSLB_VALIDATION_SUCCESS_THRESHOLD;
        s->timeout_ms = (uint32_t)v->timeout_ms;
    }
    s->addr = b->addr;
    s->port = b->port;
    s->interval_ms = (uint32_t)v->interval_ms;
}

/* ---- survey --------------------------------------------------------------- */

typedef struct survey {
    gslb_validator_t *v;
    vtarget_t *next;
    size_t n, cap;
} survey_t;

static bool same_key(const gslb_backend_rec_t *a, const gslb_backend_rec_t *b)
{
    return a->port == b->port && gslb_addr_equal(&a->addr, &b->addr) &&
           strcmp(a->domain, b->domain) == 0;
}

static const vtarget_t *previous(const gslb_validator_t *v, const gslb_backend_rec_t *b)
{
    for (size_t i = 0; i < v->nt; i++)
        if (same_key(&v->t[i].b, b))
            return &v->t[i];
    return NULL;
}

static int collect(const gslb_backend_rec_t *r, void *ctx)
{
    survey_t *s = ctx;
    if (r->source != GSLB_SOURCE_AGENT)
        return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        vtarget_t *t = realloc(s->next, cap * sizeof(*t));
        if (!t)
            return GSLB_ENOMEM;
        s->next = t;
        s->cap = cap;
    }
    vtarget_t *t = &s->next[s->n++];
    memset(t, 0, sizeof(*t));
    t->b = *r;
    const vtarget_t *prev = previous(s->v, r);
    if (prev) {
        t->st = prev->st;
        t->disagreeing = prev->disagreeing;
    } else {
        t->st.health = r->validation_health; /* continue from the stored verdict */
    }
    return 0;
}

static int survey_backends(gslb_validator_t *v)
{
    survey_t s = {.v = v};
    MDB_txn *txn = NULL;
    int rc = gslb_env_read_begin(v->env, &txn);
    if (rc < 0)
        return rc;
    rc = gslb_store_foreach_backend(v->env, txn, NULL, collect, &s);
    mdb_txn_abort(txn);
    if (rc < 0) {
        free(s.next);
        return rc;
    }
    free(v->t);
    v->t = s.next;
    v->nt = s.n;
    return GSLB_OK;
}

/* ---- probing -------------------------------------------------------------- */

static void on_result(void *ctx, size_t i, const gslb_probe_state_t *st, bool changed)
{
    gslb_validator_t *v = ctx;
    (void)i;
    (void)changed;
    gslb_counter_add(st->consecutive_ok ? &v->counters.probes_ok : &v->counters.probes_failed, 1);
}

static int probe_all(gslb_validator_t *v)
{
    gslb_prober_clear(v->prober);
    for (size_t i = 0; i < v->nt; i++) {
        gslb_probe_spec_t spec;
        spec_for_backend(v, &v->t[i].b, &spec);
        int idx = gslb_prober_add(v->prober, &spec);
        if (idx < 0)
            return idx;
        gslb_prober_set_state(v->prober, (size_t)idx, &v->t[i].st);
    }
    int rc = gslb_prober_run_round(v->prober, gslb_mono_ms() + (int64_t)v->timeout_ms + 500);
    for (size_t i = 0; rc == GSLB_OK && i < v->nt; i++)
        v->t[i].st = *gslb_prober_state(v->prober, i);
    return rc;
}

/* ---- storing verdicts ----------------------------------------------------- */

static bool disagree(uint8_t agent, uint8_t ours)
{
    return agent != GSLB_UNKNOWN && ours != GSLB_UNKNOWN && agent != ours;
}

static void note_disagreement(gslb_validator_t *v, vtarget_t *t, const gslb_backend_rec_t *b)
{
    bool now = disagree(b->agent_health, t->st.health);
    if (now && !t->disagreeing) {
        char addr[64];
        gslb_counter_add(&v->counters.disagreements, 1);
        gslb_warn("validator: %s %s port %u: agent %s says %s, our probe says %s (%s)", b->domain,
                  gslb_addr_format(&b->addr, addr, sizeof(addr)), b->port, b->agent_id,
                  b->agent_health == GSLB_HEALTHY ? "healthy" : "unhealthy",
                  t->st.health == GSLB_HEALTHY ? "healthy" : "unhealthy", t->st.detail);
    }
    t->disagreeing = now;
}

typedef struct dirty {
    char (*names)[GSLB_NAME_MAX];
    size_t n;
} dirty_t;

static int mark_dirty(dirty_t *d, const char *domain, size_t cap)
{
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->names[i], domain) == 0)
            return GSLB_OK;
    if (d->n >= cap)
        return GSLB_ERANGE;
    snprintf(d->names[d->n++], GSLB_NAME_MAX, "%s", domain);
    return GSLB_OK;
}

static int store_one(gslb_validator_t *v, MDB_txn *txn, vtarget_t *t, dirty_t *d)
{
    gslb_backend_rec_t b;
    int rc = gslb_store_backend_get(v->env, txn, t->b.domain, &t->b.addr, t->b.port, &b);
    if (rc == GSLB_ENOENT || (rc == GSLB_OK && b.source != GSLB_SOURCE_AGENT))
        return GSLB_OK;
    if (rc < 0)
        return rc;
    note_disagreement(v, t, &b);
    if (b.validation_health == t->st.health)
        return GSLB_OK;
    bool served_before = gslb_backend_servable(&b, NULL);
    b.validation_health = t->st.health;
    if (gslb_backend_servable(&b, NULL) != served_before)
        b.last_change = gslb_wall_ms() / 1000;
    if ((rc = gslb_store_backend_put(v->env, txn, &b)) < 0)
        return rc;
    return mark_dirty(d, b.domain, v->nt);
}

static int store_verdicts(gslb_validator_t *v)
{
    dirty_t d = {.names = calloc(v->nt ? v->nt : 1, GSLB_NAME_MAX)};
    if (!d.names)
        return GSLB_ENOMEM;
    MDB_txn *txn = NULL;
    int rc = gslb_env_write_begin(v->env, &txn);
    for (size_t i = 0; rc == GSLB_OK && i < v->nt; i++)
        rc = store_one(v, txn, &v->t[i], &d);
    for (size_t i = 0; rc == GSLB_OK && i < d.n; i++)
        rc = gslb_answers_rebuild_domain(v->env, txn, d.names[i]);
    if (txn) {
        if (rc == GSLB_OK && d.n)
            rc = gslb_env_commit(v->env, txn);
        else
            mdb_txn_abort(txn);
    }
    free(d.names);
    return rc;
}

int gslb_validator_run_once(gslb_validator_t *v)
{
    int rc = survey_backends(v);
    if (rc == GSLB_OK && v->nt)
        rc = probe_all(v);
    if (rc == GSLB_OK && v->nt)
        rc = store_verdicts(v);
    if (rc == GSLB_OK) {
        gslb_counter_add(&v->counters.rounds, 1);
    } else {
        gslb_counter_add(&v->counters.errors, 1);
        gslb_error("validator: round failed: %s", gslb_strerror(rc));
    }
    return rc;
}

/* ---- disabled: forget old verdicts ---------------------------------------- */

static int reset_cb(const gslb_backend_rec_t *r, void *ctx)
{
    if (r->validation_health == GSLB_UNKNOWN || r->source != GSLB_SOURCE_AGENT)
        return 0;
    return collect(r, ctx) < 0 ? GSLB_ENOMEM : 0;
}

static int reset_verdicts(gslb_validator_t *v)
{
    survey_t s = {.v = v};
    MDB_txn *txn = NULL;
    int rc = gslb_env_write_begin(v->env, &txn);
    if (rc < 0)
        return rc;
    rc = gslb_store_foreach_backend(v->env, txn, NULL, reset_cb, &s);
    dirty_t d = {.names = calloc(s.n ? s.n : 1, GSLB_NAME_MAX)};
    if (!d.names)
        rc = rc ? rc : GSLB_ENOMEM;
    for (size_t i = 0; rc == GSLB_OK && i < s.n; i++) {
        gslb_backend_rec_t b = s.next[i].b;
        b.validation_health = GSLB_UNKNOWN;
        rc = gslb_store_backend_put(v->env, txn, &b);
        if (rc == GSLB_OK)
            rc = mark_dirty(&d, b.domain, s.n);
    }
    for (size_t i = 0; rc == GSLB_OK && i < d.n; i++)
        rc = gslb_answers_rebuild_domain(v->env, txn, d.names[i]);
    if (rc == GSLB_OK && s.n)
        rc = gslb_env_commit(v->env, txn);
    else
        mdb_txn_abort(txn);
    if (rc == GSLB_OK && s.n)
        gslb_info("validator: disabled: cleared %zu stored verdict(s)", s.n);
    free(d.names);
    free(s.next);
    return rc;
}

/* ---- thread --------------------------------------------------------------- */

static void validate_now(gslb_periodic_t *p, void *ctx)
{
    (void)p;
    gslb_validator_run_once(ctx);
}

static int start_thread(gslb_validator_t *v, gslb_errbuf_t *eb)
{
    gslb_periodic_opts_t po = {
        .name = "validator", .run = validate_now, .ctx = v, .interval_ms = v->interval_ms};
    return gslb_periodic_start(&v->thread, &po, eb);
}

int gslb_validator_start(gslb_validator_t **out, const gslb_validator_opts_t *opts,
                         gslb_errbuf_t *eb)
{
    gslb_validator_t *v = calloc(1, sizeof(*v));
    if (!v)
        return gslb_errf(eb, GSLB_ENOMEM, "out of memory");
    v->env = opts->env;
    v->enabled = opts->cfg->restart.validation_enabled;
    v->interval_ms = opts->cfg->restart.validation_interval_ms
                         ? opts->cfg->restart.validation_interval_ms
                         : 30000;
    v->timeout_ms =
        opts->cfg->restart.validation_timeout_ms ? opts->cfg->restart.validation_timeout_ms : 5000;
    int rc = copy_regions(v, opts->cfg);
    if (rc == GSLB_OK)
        rc = gslb_prober_new(&v->prober, on_result, v, eb);
    if (rc == GSLB_OK && !v->enabled && reset_verdicts(v) < 0)
        gslb_warn("validator: cannot clear old verdicts");
    if (rc == GSLB_OK && v->enabled && !opts->no_thread)
        rc = start_thread(v, eb);
    if (rc < 0) {
        gslb_validator_stop(v);
        return rc == GSLB_ENOMEM ? gslb_errf(eb, rc, "validator: out of memory") : rc;
    }
    if (v->enabled)
        gslb_info("validator: probing agent backends every %llums (timeout %llums)",
                  (unsigned long long)v->interval_ms, (unsigned long long)v->timeout_ms);
    *out = v;
    return GSLB_OK;
}

void gslb_validator_stop(gslb_validator_t *v)
{
    if (!v)
        return;
    gslb_periodic_stop(v->thread);
    gslb_prober_free(v->prober);
    free(v->regions);
    free(v->t);
    free(v);
}
