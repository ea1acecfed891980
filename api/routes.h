/*
 * routes.h - the API's route table (docs/api.md).
 *
 * Contract:
 *  - gslb_routes[] lists every route once: method, path pattern and flags. A
 *    pattern is a "/"-separated path where a segment "{name}" captures one
 *    decoded path segment into rq->params[] in order. Matching is exact per
 *    segment; a trailing "/" is ignored.
 *  - Areas add routes by adding rows (one routes_<area>.c per area). The
 *    DNSSEC routes (status, sync, key export) go into this table with their
 *    own area file; the key export uses GSLB_ROUTE_CLUSTER | GSLB_ROUTE_TLS (the
 *    cluster secret, never the admin token nor an agent token).
 */
#pragma once

#include "http.h"

enum gslb_route_flags {
    GSLB_ROUTE_TOKEN = 1 << 0,   /* admin bearer token (api.token) required: mutations */
    GSLB_ROUTE_BODY = 1 << 1,    /* reads a request body (capped at GSLB_API_BODY_MAX) */
    GSLB_ROUTE_TLS = 1 << 2,     /* refused over plain HTTP */
    GSLB_ROUTE_CLUSTER = 1 << 3, /* the cluster secret (key_sync.token) required: key export */
};

typedef int (*gslb_route_fn)(gslb_req_t *rq);

typedef struct gslb_route {
    const char *method;
    const char *pattern;
    unsigned flags;
    gslb_route_fn fn;
} gslb_route_t;

extern const gslb_route_t gslb_routes[];
extern const size_t gslb_route_count;

typedef enum gslb_route_match {
    GSLB_ROUTE_FOUND = 0,
    GSLB_ROUTE_NO_PATH,   /* 404 */
    GSLB_ROUTE_NO_METHOD, /* 405: path exists with other methods */
} gslb_route_match_t;

/** Find the route for (method, path); fills rq->params on success and, for
 *  NO_METHOD, the Allow list ("GET, PUT") into allow. */
gslb_route_match_t gslb_route_find(const char *method, const char *path, gslb_req_t *rq,
                                   const gslb_route_t **out, char *allow, size_t allow_cap);

/* routes_health.c */
int gslb_route_live(gslb_req_t *rq);
int gslb_route_ready(gslb_req_t *rq);
int gslb_route_version(gslb_req_t *rq);
int gslb_route_reload(gslb_req_t *rq);
/* routes_overwatch.c */
int gslb_route_backends(gslb_req_t *rq);
int gslb_route_agents(gslb_req_t *rq);
int gslb_route_stats(gslb_req_t *rq);
/** Append the JSON views of one domain's backends (all when domain is NULL) to list. */
int gslb_routes_collect_backends(gslb_env_t *env, MDB_txn *txn, const char *domain, json_t *list);
/* routes_overrides.c */
int gslb_route_overrides_list(gslb_req_t *rq);
int gslb_route_override_put(gslb_req_t *rq);
int gslb_route_override_delete(gslb_req_t *rq);
/* routes_domains.c */
int gslb_route_domains_list(gslb_req_t *rq);
int gslb_route_domain_get(gslb_req_t *rq);
int gslb_route_audit_logs(gslb_req_t *rq);
/* routes_dnssec.c */
int gslb_route_dnssec_status(gslb_req_t *rq);
int gslb_route_dnssec_sync(gslb_req_t *rq);
int gslb_route_dnssec_export(gslb_req_t *rq);
int gslb_route_dnssec_ds(gslb_req_t *rq);
