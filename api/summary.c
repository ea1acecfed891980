/*
 * summary.c - store counts for the stats route and the metrics endpoint.
 */
#include "summary.h"
#include "store.h"

#include <string.h>

const char *const gslb_backend_state_names[GSLB_BACKEND_STATES] = {
    "healthy", "unhealthy", "stale", "draining", "override_up", "override_down"};

typedef struct summary_ctx {
    gslb_env_t *env;
    MDB_txn *txn;
    gslb_store_summary_t *s;
} summary_ctx_t;

static int count_agent(const gslb_agent_rec_t *r, void *ctx)
{
    gslb_store_summary_t *s = ((summary_ctx_t *)ctx)->s;
    s->agents++;
    if (r->stale)
        s->agents_stale++;
    return 0;
}

static void count_state(gslb_store_summary_t *s, const char *name)
{
    for (size_t i = 0; i < GSLB_BACKEND_STATES; i++) {
        if (strcmp(name, gslb_backend_state_names[i]) == 0) {
            s->backends_by_state[i]++;
            return;
        }
    }
}

static int count_backend(const gslb_backend_rec_t *r, void *ctx)
{
    summary_ctx_t *c = ctx;
    gslb_override_rec_t ov;
    bool has_ov = gslb_store_override_get(c->env, c->txn, r->domain, &r->addr, &ov) == 0;
    c->s->backends++;
    count_state(c->s, gslb_backend_status_name(r, has_ov ? &ov : NULL));
    return 0;
}

static int count_domain(const gslb_domain_rec_t *r, void *ctx)
{
    ((summary_ctx_t *)ctx)->s->domains++;
    return 0;
}

static int count_zone(const gslb_zone_rec_t *r, void *ctx)
{
    ((summary_ctx_t *)ctx)->s->zones++;
    return 0;
}

static int count_override(const gslb_override_rec_t *r, void *ctx)
{
    ((summary_ctx_t *)ctx)->s->overrides++;
    return 0;
}

int gslb_store_summarize(gslb_env_t *env, MDB_txn *txn, gslb_store_summary_t *out)
{
    memset(out, 0, sizeof(*out));
    summary_ctx_t c = {env, txn, out};
    int rc = gslb_store_foreach_agent(env, txn, count_agent, &c);
    if (rc == 0)
        rc = gslb_store_foreach_backend(env, txn, NULL, count_backend, &c);
    if (rc == 0)
        rc = gslb_store_foreach_domain(env, txn, count_domain, &c);
    if (rc == 0)
        rc = gslb_store_foreach_zone(env, txn, count_zone, &c);
    if (rc == 0)
        rc = gslb_store_foreach_override(env, txn, count_override, &c);
    return rc;
}
