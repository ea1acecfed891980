/*
 * routes_overwatch.c - GET /api/v1/overwatch/{backends,agents,stats}.
 *
 * The backends route also says what this node serves (docs/api.md): per backend
 * whether DNS answers with it now and when this node last heard of it, and per
 * domain a digest of the compiled answer sets, so one jq line across the nodes
 * finds the node whose answers differ.
 */
#include "answers.h"
#include "routes.h"
#include "store.h"
#include "summary.h"
#include "views.h"

#include "gslb_time.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- backends ------------------------------------------------------------- */

typedef struct backend_filter {
    char service[GSLB_NAME_MAX]; /* service name or domain FQDN, "" = any */
    char region[GSLB_LABEL_MAX];
    char status[32];
} backend_filter_t;

typedef struct backends_ctx {
    gslb_env_t *env;
    MDB_txn *txn;
    const backend_filter_t *filter;
    json_t *list;
    gslb_domain_rec_t domain; /* last domain looked up (backends come in domain order) */
    bool domain_known;
    bool freshness; /* add what the node serves and how old its news is (backends route) */
    int64_t now;
    int rc;
} backends_ctx_t;

static bool status_name_valid(const char *s)
{
    for (size_t i = 0; i < GSLB_BACKEND_STATES; i++) {
        if (strcmp(s, gslb_backend_state_names[i]) == 0)
            return true;
    }
    return false;
}

static int parse_backend_filter(gslb_req_t *rq, backend_filter_t *f)
{
    char raw[GSLB_NAME_MAX] = "";
    memset(f, 0, sizeof(*f));
    if (gslb_req_query(rq, "service", raw, sizeof(raw)) && raw[0] &&
        gslb_name_normalize(raw, f->service, sizeof(f->service)) != 0)
        return gslb_req_error(rq, 400, "invalid service filter");
    if (gslb_req_query(rq, "region", f->region, sizeof(f->region)) == false)
        f->region[0] = '\0';
    if (gslb_req_query(rq, "status", f->status, sizeof(f->status)) && f->status[0] &&
        !status_name_valid(f->status))
        return gslb_req_error(rq, 400,
                              "invalid status filter \"%.31s\" (healthy, unhealthy, stale, "
                              "draining, override_up, override_down)",
                              f->status);
    return 0;
}

static const char *backend_service(backends_ctx_t *c, const char *domain)
{
    if (!c->domain_known || strcmp(c->domain.name, domain) != 0) {
        c->domain_known = gslb_store_domain_get(c->env, c->txn, domain, &c->domain) == 0;
        if (!c->domain_known)
            snprintf(c->domain.name, sizeof(c->domain.name), "%s", domain);
    }
    return c->domain_known ? c->domain.service : "";
}

static bool backend_wanted(const backend_filter_t *f, const gslb_backend_rec_t *b,
                           const char *service, const char *status)
{
    if (f->service[0] && strcmp(f->service, service) != 0 && strcmp(f->service, b->domain) != 0)
        return false;
    if (f->region[0] && strcmp(f->region, b->region) != 0)
        return false;
    return !f->status[0] || strcmp(f->status, status) == 0;
}

static int add_backend(const gslb_backend_rec_t *b, void *ctx)
{
    backends_ctx_t *c = ctx;
    gslb_override_rec_t ov;
    bool has_ov = gslb_store_override_get(c->env, c->txn, b->domain, &b->addr, &ov) == 0;
    const char *service = backend_service(c, b->domain);
    if (!backend_wanted(c->filter, b, service, gslb_backend_status_name(b, has_ov ? &ov : NULL)))
        return 0;
    json_t *v = gslb_view_backend(b, service, has_ov ? &ov : NULL);
    if (v && c->freshness) {
        gslb_ans_cand_t cand;
        bool compiled = gslb_ans_domain_cand(c->txn, c->env->dbi[GSLB_DBI_ANSWERS], b->domain,
                                             &b->addr, &cand) == GSLB_OK;
        gslb_view_backend_freshness(v, b, compiled ? &cand : NULL, c->now);
    }
    if (!v || json_array_append_new(c->list, v) != 0)
        return GSLB_ENOMEM;
    return 0;
}

/* ---- answer digests ----------------------------------------------------------- */

typedef struct digest_ctx {
    gslb_env_t *env;
    MDB_txn *txn;
    const backend_filter_t *filter;
    json_t *list;
    EVP_MD_CTX *all; /* over every domain's name and digest, in domain order */
} digest_ctx_t;

static int add_domain_digest(const gslb_domain_rec_t *d, void *ctx)
{
    digest_ctx_t *c = ctx;
    gslb_ans_digest_t dg;
    int rc = gslb_ans_domain_digest(c->txn, c->env->dbi[GSLB_DBI_ANSWERS], d->name, &dg);
    if (rc != 0)
        return rc;
    EVP_DigestUpdate(c->all, d->name, strlen(d->name) + 1);
    EVP_DigestUpdate(c->all, dg.sha256, sizeof(dg.sha256));
    const backend_filter_t *f = c->filter;
    if (f->service[0] && strcmp(f->service, d->service) != 0 && strcmp(f->service, d->name) != 0)
        return 0;
    json_t *v = gslb_view_answer_digest(d, &dg);
    return v && json_array_append_new(c->list, v) == 0 ? 0 : GSLB_ENOMEM;
}

/* {"answers": [per domain], "answers_digest": hex} into body. */
static int add_answer_digests(gslb_env_t *env, MDB_txn *txn, const backend_filter_t *f,
                              json_t *body)
{
    digest_ctx_t c = {
        .env = env, .txn = txn, .filter = f, .list = json_array(), .all = EVP_MD_CTX_new()};
    int rc = c.list && c.all && EVP_DigestInit_ex(c.all, EVP_sha256(), NULL) == 1 ? 0 : GSLB_ENOMEM;
    if (rc == 0)
        rc = gslb_store_foreach_domain(env, txn, add_domain_digest, &c);
    uint8_t all[32];
    unsigned len = 0;
    if (rc == 0 && EVP_DigestFinal_ex(c.all, all, &len) != 1)
        rc = GSLB_ENOMEM;
    EVP_MD_CTX_free(c.all);
    if (rc != 0) {
        json_decref(c.list);
        return rc;
    }
    json_object_set_new(body, "answers", c.list);
    json_object_set_new(body, "answers_digest", gslb_json_hex(all, sizeof(all)));
    return 0;
}

int gslb_routes_collect_backends(gslb_env_t *env, MDB_txn *txn, const char *domain, json_t *list)
{
    static const backend_filter_t any;
    backends_ctx_t c = {.env = env, .txn = txn, .filter = &any, .list = list};
    return gslb_store_foreach_backend(env, txn, domain, add_backend, &c);
}

int gslb_route_backends(gslb_req_t *rq)
{
    backend_filter_t f;
    MDB_txn *txn;
    int status = parse_backend_filter(rq, &f);
    if (status != 0 || (status = gslb_req_read_begin(rq, &txn)) != 0)
        return status;
    json_t *list = json_array();
    backends_ctx_t c = {.env = rq->api->env,
                        .txn = txn,
                        .filter = &f,
                        .list = list,
                        .freshness = true,
                        .now = gslb_wall_s()};
    int rc =
        list ? gslb_store_foreach_backend(rq->api->env, txn, NULL, add_backend, &c) : GSLB_ENOMEM;
    json_t *body = NULL;
    if (rc == 0) { /* json_pack's "o" takes list over, also when it fails */
        body =
            json_pack("{s:o, s:I}", "backends", list, "count", (json_int_t)json_array_size(list));
        rc = body ? add_answer_digests(rq->api->env, txn, &f, body) : GSLB_ENOMEM;
    } else {
        json_decref(list);
    }
    gslb_req_read_end(rq);
    if (rc != 0) {
        json_decref(body);
        return gslb_req_store_error(rq, rc, "backends");
    }
    char node_id[GSLB_LABEL_MAX], region[GSLB_LABEL_MAX];
    gslb_req_identity(rq, node_id, region, sizeof(node_id));
    json_object_set_new(body, "node_id", gslb_json_str(node_id));
    json_object_set_new(body, "generated_at", gslb_json_time(c.now));
    return gslb_req_reply(rq, 200, body);
}

/* ---- agents ----------------------------------------------------------------- */

static int count_agent_backend(const gslb_backend_rec_t *b, void *ctx)
{
    json_t *counts = ctx;
    if (b->source != GSLB_SOURCE_AGENT || !b->agent_id[0])
        return 0;
    json_t *n = json_object_get(counts, b->agent_id);
    json_int_t v = n ? json_integer_value(n) : 0;
    return json_object_set_new(counts, b->agent_id, json_integer(v + 1)) == 0 ? 0 : GSLB_ENOMEM;
}

static int add_agent(const gslb_agent_rec_t *a, void *ctx)
{
    json_t **lists = ctx; /* [0] = agents, [1] = backend counts */
    json_t *v = gslb_view_agent(a);
    if (!v)
        return GSLB_ENOMEM;
    json_t *n = json_object_get(lists[1], a->agent_id);
    json_object_set_new(v, "backends", json_integer(n ? json_integer_value(n) : 0));
    return json_array_append_new(lists[0], v) == 0 ? 0 : GSLB_ENOMEM;
}

int gslb_route_agents(gslb_req_t *rq)
{
    MDB_txn *txn;
    int status = gslb_req_read_begin(rq, &txn);
    if (status != 0)
        return status;
    json_t *lists[2] = {json_array(), json_object()};
    int rc = lists[0] && lists[1] ? 0 : GSLB_ENOMEM;
    if (rc == 0)
        rc = gslb_store_foreach_backend(rq->api->env, txn, NULL, count_agent_backend, lists[1]);
    if (rc == 0)
        rc = gslb_store_foreach_agent(rq->api->env, txn, add_agent, lists);
    gslb_req_read_end(rq);
    json_decref(lists[1]);
    if (rc != 0) {
        json_decref(lists[0]);
        return gslb_req_store_error(rq, rc, "agents");
    }
    return gslb_req_reply(rq, 200,
                          json_pack("{s:o, s:I}", "agents", lists[0], "count",
                                    (json_int_t)json_array_size(lists[0])));
}

/* ---- stats ------------------------------------------------------------------ */

static json_t *dns_stats_json(const gslb_api_stats_t *st)
{
    json_t *by_type = json_object();
    uint64_t total = 0;
    for (size_t i = 0; i < st->query_series && by_type; i++) {
        const gslb_api_series_t *s = &st->queries[i];
        json_t *rcodes = json_object_get(by_type, s->l1);
        if (!rcodes) {
            rcodes = json_object();
            json_object_set_new(by_type, s->l1, rcodes);
        }
        json_object_set_new(rcodes, s->l2, json_integer((json_int_t)s->value));
        total += s->value;
    }
    return json_pack("{s:i, s:I, s:I, s:o*}", "workers", (int)st->dns_workers, "queries_total",
                     (json_int_t)total, "responses_truncated_total", (json_int_t)st->truncated,
                     "queries", by_type);
}

static json_t *gossip_stats_json(const gslb_api_stats_t *st)
{
    json_t *o = json_object();
    for (size_t i = 0; i < st->gossip_series && o; i++)
        json_object_set_new(o, st->gossip[i].l1, json_integer((json_int_t)st->gossip[i].value));
    return o;
}

/* The server's further metrics: {"name": value} or {"name": {"label value": value}}. */
static json_t *extra_stats_json(const gslb_api_stats_t *st)
{
    json_t *o = json_object();
    for (size_t i = 0; i < st->extra_count && i < GSLB_API_MAX_EXTRA && o; i++) {
        const gslb_api_metric_t *m = &st->extra[i];
        if (!m->name)
            continue;
        json_t *v = json_integer((json_int_t)m->value);
        if (!m->label || !m->label_value) {
            json_object_set_new(o, m->name, v);
            continue;
        }
        json_t *by_label = json_object_get(o, m->name);
        if (!json_is_object(by_label)) {
            by_label = json_object();
            json_object_set_new(o, m->name, by_label);
        }
        json_object_set_new(by_label, m->label_value, v);
    }
    return o;
}

static json_t *store_stats_json(const gslb_store_summary_t *s)
{
    json_t *states = json_object();
    for (size_t i = 0; i < GSLB_BACKEND_STATES && states; i++)
        json_object_set_new(states, gslb_backend_state_names[i],
                            json_integer((json_int_t)s->backends_by_state[i]));
    return json_pack("{s:{s:I, s:I}, s:{s:I, s:o*}, s:I, s:I, s:I}", "agents", "registered",
                     (json_int_t)s->agents, "stale", (json_int_t)s->agents_stale, "backends",
                     "total", (json_int_t)s->backends, "by_status", states, "domains",
                     (json_int_t)s->domains, "zones", (json_int_t)s->zones, "overrides",
                     (json_int_t)s->overrides);
}

static json_t *api_requests_json(gslb_api_t *api)
{
    static const char *const classes[] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
    json_t *o = json_object();
    for (size_t i = 0; i < 6 && o; i++)
        json_object_set_new(o, classes[i],
                            json_integer((json_int_t)atomic_load_explicit(&api->requests[i],
                                                                          memory_order_relaxed)));
    return o;
}

int gslb_route_stats(gslb_req_t *rq)
{
    gslb_api_t *api = rq->api;
    gslb_store_summary_t sum;
    MDB_txn *txn;
    int status = gslb_req_read_begin(rq, &txn);
    if (status != 0)
        return status;
    int rc = gslb_store_summarize(api->env, txn, &sum);
    uint64_t txnid = gslb_env_last_txnid(api->env);
    gslb_req_read_end(rq);
    if (rc != 0)
        return gslb_req_store_error(rq, rc, "stats");

    gslb_api_stats_t *st = calloc(1, sizeof(*st));
    if (!st)
        return gslb_req_error(rq, 500, "out of memory");
    if (api->hooks.stats)
        api->hooks.stats(api->hooks.ctx, st);
    char node_id[GSLB_LABEL_MAX], region[GSLB_LABEL_MAX];
    gslb_req_identity(rq, node_id, region, sizeof(node_id));
    json_t *body = json_pack(
        "{s:s, s:s, s:s, s:o, s:I, s:o*, s:o*, s:o*, s:{s:I, s:I, s:I}, s:{s:I, s:I, s:o}, "
        "s:o*}",
        "node_id", node_id, "region", region, "version", GSLB_VERSION, "started_at",
        gslb_json_time(api->start_time), "uptime_seconds",
        (json_int_t)(gslb_wall_s() - api->start_time), "dns", dns_stats_json(st), "gossip",
        gossip_stats_json(st), "store", store_stats_json(&sum), "storage", "map_size",
        (json_int_t)api->env->map_size, "map_full_total", (json_int_t)gslb_env_map_full_count(),
        "last_txnid", (json_int_t)txnid, "reloads", "ok", (json_int_t)st->reloads_ok, "failed",
        (json_int_t)st->reloads_failed, "last", gslb_json_time(st->last_reload), "api_requests",
        api_requests_json(api));
    if (body)
        json_object_set_new(body, "more", extra_stats_json(st));
    free(st);
    return gslb_req_reply(rq, 200, body);
}
