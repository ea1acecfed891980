/*
 * routes_overrides.c - GET /api/v1/overrides, PUT and DELETE
 * /api/v1/overrides/{service}/{address}.
 *
 * A mutation is one durable write txn: the override, the recompiled answer set
 * of its domain and the audit record commit together, so DNS answers change at
 * once and the change survives a restart.
 */
#include "override_body.h"
#include "routes.h"
#include "store.h"
#include "views.h"

#include "gslb_log.h"
#include "gslb_time.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

/* ---- list ----------------------------------------------------------------- */

typedef struct list_ctx {
    gslb_env_t *env;
    MDB_txn *txn;
    json_t *list;
} list_ctx_t;

static int add_override(const gslb_override_rec_t *ov, void *ctx)
{
    list_ctx_t *c = ctx;
    gslb_domain_rec_t d;
    const char *service =
        gslb_store_domain_get(c->env, c->txn, ov->domain, &d) == 0 ? d.service : "";
    json_t *v = gslb_view_override(ov, service);
    return v && json_array_append_new(c->list, v) == 0 ? 0 : GSLB_ENOMEM;
}

int gslb_route_overrides_list(gslb_req_t *rq)
{
    MDB_txn *txn;
    int status = gslb_req_read_begin(rq, &txn);
    if (status != 0)
        return status;
    list_ctx_t c = {rq->api->env, txn, json_array()};
    int rc = c.list ? gslb_store_foreach_override(c.env, txn, add_override, &c) : GSLB_ENOMEM;
    gslb_req_read_end(rq);
    if (rc != 0) {
        json_decref(c.list);
        return gslb_req_store_error(rq, rc, "overrides");
    }
    return gslb_req_reply(
        rq, 200,
        json_pack("{s:o, s:I}", "overrides", c.list, "count", (json_int_t)json_array_size(c.list)));
}

/* ---- mutations --------------------------------------------------------------- */

typedef struct target {
    char service[GSLB_NAME_MAX];
    gslb_addr_t addr;
    char addr_text[INET6_ADDRSTRLEN];
    gslb_domain_rec_t domain;
} target_t;

static int parse_target(gslb_req_t *rq, target_t *t)
{
    memset(t, 0, sizeof(*t));
    if (gslb_name_normalize(rq->params[0], t->service, sizeof(t->service)) != 0 || !t->service[0])
        return gslb_req_error(rq, 400, "invalid service name");
    if (gslb_addr_parse(rq->params[1], &t->addr) != 0)
        return gslb_req_error(rq, 400, "invalid IP address \"%.64s\"", rq->params[1]);
    gslb_addr_format(&t->addr, t->addr_text, sizeof(t->addr_text));
    return 0;
}

typedef struct find_addr {
    const gslb_addr_t *addr;
    bool found;
} find_addr_t;

static int match_backend_addr(const gslb_backend_rec_t *b, void *ctx)
{
    find_addr_t *f = ctx;
    if (gslb_addr_equal(&b->addr, f->addr)) {
        f->found = true;
        return 1;
    }
    return 0;
}

/* Resolve the service to its domain and check the backend exists (in txn). */
static int resolve_target(gslb_req_t *rq, MDB_txn *txn, target_t *t)
{
    gslb_env_t *env = rq->api->env;
    int rc = gslb_store_domain_by_service(env, txn, t->service, &t->domain);
    if (rc == GSLB_ENOENT)
        return gslb_req_error(rq, 404, "unknown service \"%s\"", t->service);
    if (rc != 0)
        return gslb_req_store_error(rq, rc, "service lookup");
    find_addr_t f = {&t->addr, false};
    rc = gslb_store_foreach_backend(env, txn, t->domain.name, match_backend_addr, &f);
    if (rc != 0)
        return gslb_req_store_error(rq, rc, "backend lookup");
    if (!f.found)
        return gslb_req_error(rq, 404, "service \"%s\" has no backend %s", t->service,
                              t->addr_text);
    return 0;
}

static int append_audit(gslb_req_t *rq, MDB_txn *txn, const char *action, const target_t *t,
                        const char *detail)
{
    gslb_audit_rec_t a;
    memset(&a, 0, sizeof(a));
    gslb_req_actor(rq, a.actor, sizeof(a.actor));
    snprintf(a.action, sizeof(a.action), "%s", action);
    snprintf(a.target, sizeof(a.target), "%s/%s", t->domain.name, t->addr_text);
    snprintf(a.detail, sizeof(a.detail), "%s", detail);
    int rc = gslb_store_audit_append(rq->api->env, txn, &a);
    return rc == 0 ? gslb_req_audit_prune(rq, txn) : rc;
}

/* Rebuild the domain's answers, append the audit record and commit durably. */
static int finish_txn(gslb_req_t *rq, MDB_txn *txn, const char *action, const target_t *t,
                      const char *detail)
{
    gslb_env_t *env = rq->api->env;
    int rc = gslb_answers_rebuild_domain(env, txn, t->domain.name);
    if (rc == 0)
        rc = append_audit(rq, txn, action, t, detail);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return gslb_req_store_error(rq, rc, action);
    }
    rc = gslb_env_commit_durable(env, txn);
    if (rc != 0)
        return gslb_req_store_error(rq, rc, action);
    return 0;
}

static void fill_override(gslb_override_rec_t *ov, const target_t *t,
                          const gslb_override_req_t *req, const gslb_req_t *rq)
{
    memset(ov, 0, sizeof(*ov));
    snprintf(ov->domain, sizeof(ov->domain), "%s", t->domain.name);
    ov->addr = t->addr;
    ov->state = req->state;
    snprintf(ov->reason, sizeof(ov->reason), "%s", req->reason);
    if (req->source[0])
        snprintf(ov->who, sizeof(ov->who), "%s", req->source);
    else
        gslb_req_actor(rq, ov->who, sizeof(ov->who));
    ov->when = gslb_wall_s();
}

static int write_override(gslb_req_t *rq, target_t *t, const gslb_override_req_t *req,
                          gslb_override_rec_t *ov)
{
    MDB_txn *txn;
    int rc = gslb_env_write_begin(rq->api->env, &txn);
    if (rc != 0)
        return gslb_req_store_error(rq, rc, "override");
    int status = resolve_target(rq, txn, t);
    if (status != 0) {
        mdb_txn_abort(txn);
        return status;
    }
    fill_override(ov, t, req, rq);
    rc = gslb_store_override_put(rq->api->env, txn, ov);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return gslb_req_store_error(rq, rc, "override");
    }
    char detail[256];
    snprintf(detail, sizeof(detail), "state=%s source=%s reason=%s",
             gslb_override_state_name(ov->state), ov->who, ov->reason);
    return finish_txn(rq, txn, "override.put", t, detail);
}

int gslb_route_override_put(gslb_req_t *rq)
{
    target_t t;
    gslb_override_req_t req;
    gslb_errbuf_t eb = {{0}};
    int status = parse_target(rq, &t);
    if (status != 0)
        return status;
    if (gslb_override_body_parse(rq->body, rq->body_len, &req, &eb) != 0)
        return gslb_req_error(rq, 400, "%s", eb.msg);
    gslb_override_rec_t ov;
    status = write_override(rq, &t, &req, &ov);
    if (status != 0)
        return status;
    gslb_info("api: override %s/%s set to %s by %s (%s)", t.domain.name, t.addr_text,
              gslb_override_state_name(ov.state), ov.who, rq->client);
    return gslb_req_reply(rq, 200, gslb_view_override(&ov, t.domain.service));
}

static int delete_override(gslb_req_t *rq, target_t *t)
{
    gslb_env_t *env = rq->api->env;
    MDB_txn *txn;
    int rc = gslb_env_write_begin(env, &txn);
    if (rc != 0)
        return gslb_req_store_error(rq, rc, "override");
    rc = gslb_store_domain_by_service(env, txn, t->service, &t->domain);
    if (rc == 0)
        rc = gslb_store_override_del(env, txn, t->domain.name, &t->addr);
    if (rc != 0) {
        mdb_txn_abort(txn);
        if (rc == GSLB_ENOENT)
            return gslb_req_error(rq, 404, "no override for %s/%s", t->service, t->addr_text);
        return gslb_req_store_error(rq, rc, "override");
    }
    return finish_txn(rq, txn, "override.delete", t, "");
}

int gslb_route_override_delete(gslb_req_t *rq)
{
    target_t t;
    int status = parse_target(rq, &t);
    if (status == 0)
        status = delete_override(rq, &t);
    if (status != 0)
        return status;
    gslb_info("api: override %s/%s removed (%s)", t.domain.name, t.addr_text, rq->client);
    return gslb_req_reply(rq, 200,
                          json_pack("{s:b, s:s, s:s, s:s}", "deleted", 1, "service",
                                    t.domain.service, "domain", t.domain.name, "address",
                                    t.addr_text));
}
