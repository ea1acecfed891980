/*
 * config_apply.c - gslb_config_apply_to_store(): write zones, domains and the
 * static (config) backends into the LMDB store in one durable transaction and
 * recompile every answer set.
 *
 * Rules (docs/configuration.md, "Applying the configuration"):
 *  - meta.node_id follows overwatch.identity.node_id;
 *  - every configured zone and domain is (re)written; zones and domains no
 *    longer configured are deleted, with every backend of a deleted domain;
 *  - a configured backend that already exists keeps its health fields (agent
 *    and validation health, stale, draining, last_seen, last_change, latency);
 *    only weight and region follow the file. A record an agent reported for the
 *    same domain/address/port stays as the agent reported it;
 *  - config backends no longer configured are deleted; agent backends of
 *    configured domains are never touched.
 */
#include "config.h"
#include "gslb_time.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <string.h>

typedef struct backend_key {
    char domain[GSLB_NAME_MAX];
    gslb_addr_t addr;
    uint16_t port;
    uint8_t source;
} backend_key_t;

typedef struct key_list {
    backend_key_t *v;
    size_t n, cap;
} key_list_t;

typedef struct name_list {
    char (*v)[GSLB_NAME_MAX];
    size_t n, cap;
} name_list_t;

typedef struct apply_ctx {
    const gslb_config_t *cfg;
    gslb_env_t *env;
    MDB_txn *txn;
    int64_t now;
    gslb_errbuf_t *eb;
} apply_ctx_t;

static int key_cmp(const void *a, const void *b)
{
    const backend_key_t *x = a, *y = b;
    int c = strcmp(x->domain, y->domain);
    if (c == 0)
        c = memcmp(&x->addr, &y->addr, sizeof(x->addr));
    if (c == 0)
        c = (int)x->port - (int)y->port;
    return c;
}

static int key_push(key_list_t *l, const char *domain, const gslb_addr_t *addr, uint16_t port,
                    uint8_t source)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        backend_key_t *v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return GSLB_ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    backend_key_t *k = &l->v[l->n++];
    memset(k, 0, sizeof(*k));
    snprintf(k->domain, sizeof(k->domain), "%s", domain);
    k->addr.family = addr->family;
    memcpy(k->addr.bytes, addr->bytes, addr->family == AF_INET ? 4 : 16);
    k->port = port;
    k->source = source;
    return 0;
}

static int name_push(name_list_t *l, const char *name)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        char(*v)[GSLB_NAME_MAX] = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return GSLB_ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    snprintf(l->v[l->n++], GSLB_NAME_MAX, "%s", name);
    return 0;
}

static bool zone_configured(const gslb_config_t *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->zone_count; i++) {
        if (strcmp(cfg->zones[i].name, name) == 0)
            return true;
    }
    return false;
}

static bool domain_configured(const gslb_config_t *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->domain_count; i++) {
        if (strcmp(cfg->domains[i].name, name) == 0)
            return true;
    }
    return false;
}

static int fail(apply_ctx_t *a, int rc, const char *what)
{
    return gslb_errf(a->eb, rc, "applying %s to the store: %s: %s", a->cfg->source, what,
                     gslb_strerror(rc));
}

/* ---- meta, zones, domains ---------------------------------------------------- */

static int apply_meta(apply_ctx_t *a)
{
    gslb_meta_rec_t m;
    int rc = gslb_store_meta_get(a->env, a->txn, &m);
    if (rc == GSLB_ENOENT) {
        memset(&m, 0, sizeof(m));
        m.schema_version = GSLB_SCHEMA_VERSION;
        m.created_at = a->now;
    } else if (rc != 0) {
        return fail(a, rc, "reading meta");
    }
    snprintf(m.node_id, sizeof(m.node_id), "%s", a->cfg->restart.node_id);
    rc = gslb_store_meta_put(a->env, a->txn, &m);
    return rc ? fail(a, rc, "writing meta") : 0;
}

static int collect_zone(const gslb_zone_rec_t *r, void *ctx)
{
    return name_push(ctx, r->name);
}

static int collect_domain(const gslb_domain_rec_t *r, void *ctx)
{
    return name_push(ctx, r->name);
}

static int apply_zones(apply_ctx_t *a)
{
    for (size_t i = 0; i < a->cfg->zone_count; i++) {
        int rc = gslb_store_zone_put(a->env, a->txn, &a->cfg->zones[i].rec);
        if (rc != 0)
            return fail(a, rc, "writing zone");
    }
    return 0;
}

static int remove_old_zones(apply_ctx_t *a)
{
    name_list_t old = {0};
    int rc = gslb_store_foreach_zone(a->env, a->txn, collect_zone, &old);
    for (size_t i = 0; rc == 0 && i < old.n; i++) {
        if (!zone_configured(a->cfg, old.v[i])) {
            gslb_info("config: removing zone %s (no longer configured)", old.v[i]);
            rc = gslb_store_zone_del(a->env, a->txn, old.v[i]);
        }
    }
    free(old.v);
    return rc ? fail(a, rc, "removing old zones") : 0;
}

static int apply_domains(apply_ctx_t *a)
{
    for (size_t i = 0; i < a->cfg->domain_count; i++) {
        int rc = gslb_store_domain_put(a->env, a->txn, &a->cfg->domains[i]);
        if (rc != 0)
            return fail(a, rc, "writing domain");
    }
    return 0;
}

static int remove_old_domains(apply_ctx_t *a)
{
    name_list_t old = {0};
    int rc = gslb_store_foreach_domain(a->env, a->txn, collect_domain, &old);
    for (size_t i = 0; rc == 0 && i < old.n; i++) {
        if (!domain_configured(a->cfg, old.v[i])) {
            gslb_info("config: removing domain %s (no longer configured)", old.v[i]);
            rc = gslb_store_domain_del(a->env, a->txn, old.v[i]);
        }
    }
    free(old.v);
    return rc ? fail(a, rc, "removing old domains") : 0;
}

/* ---- backends ------------------------------------------------------------------- */

static int collect_wanted(const gslb_domain_rec_t *dom, const gslb_cfg_region_t *reg,
                          const gslb_cfg_server_t *srv, void *ctx)
{
    (void)reg;
    return key_push(ctx, dom->name, &srv->addr, srv->port, GSLB_SOURCE_CONFIG);
}

static int collect_stored(const gslb_backend_rec_t *r, void *ctx)
{
    return key_push(ctx, r->domain, &r->addr, r->port, r->source);
}

/* Delete stored backends of removed domains and config backends not wanted any more. */
static int remove_old_backends(apply_ctx_t *a, const key_list_t *wanted)
{
    key_list_t stored = {0};
    int rc = gslb_store_foreach_backend(a->env, a->txn, NULL, collect_stored, &stored);
    for (size_t i = 0; rc == 0 && i < stored.n; i++) {
        const backend_key_t *k = &stored.v[i];
        bool keep =
            domain_configured(a->cfg, k->domain) &&
            (k->source != GSLB_SOURCE_CONFIG ||
             (wanted->n > 0 && bsearch(k, wanted->v, wanted->n, sizeof(*k), key_cmp) != NULL));
        if (!keep)
            rc = gslb_store_backend_del(a->env, a->txn, k->domain, &k->addr, k->port);
    }
    free(stored.v);
    return rc ? fail(a, rc, "removing old backends") : 0;
}

static int put_config_backend(apply_ctx_t *a, const gslb_domain_rec_t *dom,
                              const gslb_cfg_region_t *reg, const gslb_cfg_server_t *srv)
{
    gslb_backend_rec_t b;
    int rc = gslb_store_backend_get(a->env, a->txn, dom->name, &srv->addr, srv->port, &b);
    if (rc == 0 && b.source != GSLB_SOURCE_CONFIG)
        return 0; /* an agent reports this backend: its record wins */
    if (rc == GSLB_ENOENT)
        gslb_config_backend_rec(dom, reg, srv, a->now, &b);
    else if (rc != 0)
        return rc;
    b.weight = srv->weight;
    snprintf(b.region, sizeof(b.region), "%s", reg->name);
    return gslb_store_backend_put(a->env, a->txn, &b);
}

static int put_backend_cb(const gslb_domain_rec_t *dom, const gslb_cfg_region_t *reg,
                          const gslb_cfg_server_t *srv, void *ctx)
{
    return put_config_backend(ctx, dom, reg, srv);
}

static int apply_backends(apply_ctx_t *a)
{
    key_list_t wanted = {0};
    int rc = gslb_config_foreach_backend(a->cfg, collect_wanted, &wanted);
    if (rc != 0) {
        free(wanted.v);
        return fail(a, rc, "listing configured backends");
    }
    if (wanted.n > 0) /* qsort/bsearch with a NULL base is undefined even for 0 items */
        qsort(wanted.v, wanted.n, sizeof(*wanted.v), key_cmp);
    rc = remove_old_backends(a, &wanted);
    free(wanted.v);
    if (rc != 0)
        return rc;
    rc = gslb_config_foreach_backend(a->cfg, put_backend_cb, a);
    return rc ? fail(a, rc, "writing config backends") : 0;
}

/* ---- entry point ---------------------------------------------------------------- */

static int apply_all(apply_ctx_t *a)
{
    int rc = apply_meta(a);
    if (rc == 0)
        rc = apply_zones(a);
    if (rc == 0)
        rc = apply_domains(a);
    if (rc == 0)
        rc = apply_backends(a);
    if (rc == 0)
        rc = remove_old_domains(a);
    if (rc == 0)
        rc = remove_old_zones(a);
    if (rc == 0 && (rc = gslb_answers_rebuild_all(a->env, a->txn)) != 0)
        rc = fail(a, rc, "recompiling answers");
    return rc;
}

int gslb_config_apply_to_store(const gslb_config_t *cfg, gslb_env_t *env, gslb_errbuf_t *eb)
{
    apply_ctx_t a = {.cfg = cfg, .env = env, .now = gslb_wall_s(), .eb = eb};
    int rc = gslb_env_write_begin(env, &a.txn);
    if (rc != 0)
        return fail(&a, rc, "starting a write transaction");
    rc = apply_all(&a);
    if (rc != 0) {
        mdb_txn_abort(a.txn);
        return rc;
    }
    rc = gslb_env_commit_durable(env, a.txn);
    if (rc != 0)
        return fail(&a, rc, "committing");
    gslb_info("config: applied %s: %zu zone(s), %zu domain(s), %zu region(s)", cfg->source,
              cfg->zone_count, cfg->domain_count, cfg->region_count);
    return 0;
}
