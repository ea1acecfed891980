/*
 * routes_domains.c - GET /api/v1/domains, /api/v1/domains/{name} and
 * /api/v1/audit-logs.
 */
#include "routes.h"
#include "store.h"
#include "views.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUDIT_DEFAULT_LIMIT 100
#define AUDIT_MAX_LIMIT 1000

typedef struct domain_ctx {
    gslb_env_t *env;
    MDB_txn *txn;
    json_t *list;
    uint64_t total, servable;
} domain_ctx_t;

static int count_servable(const gslb_backend_rec_t *b, void *ctx)
{
    domain_ctx_t *c = ctx;
    gslb_override_rec_t ov;
    bool has_ov = gslb_store_override_get(c->env, c->txn, b->domain, &b->addr, &ov) == 0;
    c->total++;
    if (gslb_backend_servable(b, has_ov ? &ov : NULL))
        c->servable++;
    return 0;
}

static int add_domain(const gslb_domain_rec_t *d, void *ctx)
{
    domain_ctx_t *c = ctx;
    c->total = c->servable = 0;
    int rc = gslb_store_foreach_backend(c->env, c->txn, d->name, count_servable, c);
    if (rc != 0)
        return rc;
    json_t *v = gslb_view_domain(d);
    if (!v)
        return GSLB_ENOMEM;
    json_object_set_new(v, "backends_total", json_integer((json_int_t)c->total));
    json_object_set_new(v, "backends_healthy", json_integer((json_int_t)c->servable));
    return json_array_append_new(c->list, v) == 0 ? 0 : GSLB_ENOMEM;
}

int gslb_route_domains_list(gslb_req_t *rq)
{
    MDB_txn *txn;
    int status = gslb_req_read_begin(rq, &txn);
    if (status != 0)
        return status;
    domain_ctx_t c = {.env = rq->api->env, .txn = txn, .list = json_array()};
    int rc = c.list ? gslb_store_foreach_domain(c.env, txn, add_domain, &c) : GSLB_ENOMEM;
    gslb_req_read_end(rq);
    if (rc != 0) {
        json_decref(c.list);
        return gslb_req_store_error(rq, rc, "domains");
    }
    return gslb_req_reply(
        rq, 200,
        json_pack("{s:o, s:I}", "domains", c.list, "count", (json_int_t)json_array_size(c.list)));
}

int gslb_route_domain_get(gslb_req_t *rq)
{
    char name[GSLB_NAME_MAX];
    if (gslb_name_normalize(rq->params[0], name, sizeof(name)) != 0 || !name[0])
        return gslb_req_error(rq, 400, "invalid domain name");
    MDB_txn *txn;
    int status = gslb_req_read_begin(rq, &txn);
    if (status != 0)
        return status;
    gslb_domain_rec_t d;
    json_t *view = NULL, *backends = json_array();
    int rc = gslb_store_domain_get(rq->api->env, txn, name, &d);
    if (rc == 0 && !(view = gslb_view_domain(&d)))
        rc = GSLB_ENOMEM;
    if (rc == 0 && backends)
        rc = gslb_routes_collect_backends(rq->api->env, txn, d.name, backends);
    gslb_req_read_end(rq);
    if (rc != 0 || !backends) {
        json_decref(view);
        json_decref(backends);
        if (rc == GSLB_ENOENT)
            return gslb_req_error(rq, 404, "unknown domain \"%s\"", name);
        return gslb_req_store_error(rq, rc ? rc : GSLB_ENOMEM, "domain");
    }
    json_object_set_new(view, "backends", backends);
    return gslb_req_reply(rq, 200, view);
}

/* ---- audit logs ------------------------------------------------------------- */

static int add_audit(const gslb_audit_rec_t *r, void *ctx)
{
    json_t *v = gslb_view_audit(r);
    return v && json_array_append_new(ctx, v) == 0 ? 0 : GSLB_ENOMEM;
}

static int parse_limit(gslb_req_t *rq, size_t *limit)
{
    char text[16];
    *limit = AUDIT_DEFAULT_LIMIT;
    if (!gslb_req_query(rq, "limit", text, sizeof(text)))
        return 0;
    char *end;
    unsigned long v = strtoul(text, &end, 10);
    if (!text[0] || *end || text[0] == '-' || v == 0 || v > AUDIT_MAX_LIMIT)
        return gslb_req_error(rq, 400, "limit must be an integer from 1 to %d", AUDIT_MAX_LIMIT);
    *limit = v;
    return 0;
}

int gslb_route_audit_logs(gslb_req_t *rq)
{
    size_t limit;
    MDB_txn *txn;
    int status = parse_limit(rq, &limit);
    if (status != 0 || (status = gslb_req_read_begin(rq, &txn)) != 0)
        return status;
    json_t *list = json_array();
    int rc = list ? gslb_store_foreach_audit(rq->api->env, txn, true, limit, add_audit, list)
                  : GSLB_ENOMEM;
    gslb_req_read_end(rq);
    if (rc != 0) {
        json_decref(list);
        return gslb_req_store_error(rq, rc, "audit");
    }
    return gslb_req_reply(
        rq, 200,
        json_pack("{s:o, s:I}", "audit_logs", list, "count", (json_int_t)json_array_size(list)));
}
