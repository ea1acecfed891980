/*
 * routes.c - the route table and the path matcher.
 */
#include "routes.h"

#include <stdio.h>
#include <string.h>

const gslb_route_t gslb_routes[] = {
    /* health (routes_health.c) */
    {"GET", "/api/v1/live", 0, gslb_route_live},
    {"GET", "/api/v1/ready", 0, gslb_route_ready},
    {"GET", "/api/v1/version", 0, gslb_route_version},
    {"POST", "/api/v1/reload", GSLB_ROUTE_TOKEN, gslb_route_reload},
    /* overwatch state (routes_overwatch.c) */
    {"GET", "/api/v1/overwatch/backends", 0, gslb_route_backends},
    {"GET", "/api/v1/overwatch/agents", 0, gslb_route_agents},
    {"GET", "/api/v1/overwatch/stats", 0, gslb_route_stats},
    /* overrides (routes_overrides.c) */
    {"GET", "/api/v1/overrides", 0, gslb_route_overrides_list},
    {"PUT", "/api/v1/overrides/{service}/{address}", GSLB_ROUTE_TOKEN | GSLB_ROUTE_BODY,
     gslb_route_override_put},
    {"DELETE", "/api/v1/overrides/{service}/{address}", GSLB_ROUTE_TOKEN,
     gslb_route_override_delete},
    /* domains and audit (routes_domains.c) */
    {"GET", "/api/v1/domains", 0, gslb_route_domains_list},
    {"GET", "/api/v1/domains/{name}", 0, gslb_route_domain_get},
    {"GET", "/api/v1/audit-logs", 0, gslb_route_audit_logs},
    /* DNSSEC (routes_dnssec.c). POST sync has no token on purpose: it only makes the
     * node poll its configured peers and takes no input (docs/dnssec.md). */
    {"GET", "/api/v1/dnssec/status", 0, gslb_route_dnssec_status},
    {"POST", "/api/v1/dnssec/sync", 0, gslb_route_dnssec_sync},
    {"GET", "/api/v1/dnssec/keys/export", GSLB_ROUTE_CLUSTER | GSLB_ROUTE_TLS,
     gslb_route_dnssec_export},
    {"GET", "/api/v1/dnssec/ds", 0, gslb_route_dnssec_ds},
};
const size_t gslb_route_count = sizeof(gslb_routes) / sizeof(gslb_routes[0]);

/* Next segment of a path: returns its length and advances *p past it. */
static size_t next_segment(const char **p)
{
    while (**p == '/')
        (*p)++;
    const char *start = *p;
    while (**p && **p != '/')
        (*p)++;
    return (size_t)(*p - start);
}

static bool pattern_matches(const char *pattern, const char *path, gslb_req_t *rq)
{
    const char *pp = pattern, *up = path;
    size_t nparams = 0;
    for (;;) {
        size_t plen = next_segment(&pp);
        size_t ulen = next_segment(&up);
        const char *pseg = pp - plen, *useg = up - ulen;
        if (plen == 0 || ulen == 0) {
            if (plen != ulen)
                return false;
            rq->nparams = nparams;
            return true;
        }
        if (pseg[0] == '{') {
            if (nparams >= GSLB_REQ_MAX_PARAMS || ulen >= sizeof(rq->params[0]))
                return false;
            memcpy(rq->params[nparams], useg, ulen);
            rq->params[nparams++][ulen] = '\0';
        } else if (plen != ulen || memcmp(pseg, useg, plen) != 0) {
            return false;
        }
    }
}

static void allow_append(char *allow, size_t cap, const char *method)
{
    size_t used = strlen(allow);
    snprintf(allow + used, cap - used, "%s%s", used ? ", " : "", method);
}

gslb_route_match_t gslb_route_find(const char *method, const char *path, gslb_req_t *rq,
                                   const gslb_route_t **out, char *allow, size_t allow_cap)
{
    bool path_seen = false;
    if (allow_cap)
        allow[0] = '\0';
    for (size_t i = 0; i < gslb_route_count; i++) {
        if (!pattern_matches(gslb_routes[i].pattern, path, rq))
            continue;
        if (strcmp(gslb_routes[i].method, method) == 0) {
            *out = &gslb_routes[i];
            return GSLB_ROUTE_FOUND;
        }
        path_seen = true;
        if (allow_cap)
            allow_append(allow, allow_cap, gslb_routes[i].method);
    }
    return path_seen ? GSLB_ROUTE_NO_METHOD : GSLB_ROUTE_NO_PATH;
}
