/*
 * config_gslb.c - `regions` (static servers, health checks) and `domains`
 * (routing), plus the cross-checks between them and the backend <-> domain
 * mapping (docs/configuration.md, "Backends and domains").
 */
#include "config_internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- regions ---------------------------------------------------------------- */

static int parse_status_list(cfg_ctx_t *c, const yc_node_t *hc, const char *base,
                             gslb_health_check_t *h)
{
    const yc_node_t *seq = NULL;
    char path[CFG_PATH_MAX];
    int rc = cfg_seq(c, hc, base, "expected_status", &seq);
    if (rc != 0 || !seq)
        return rc;
    yc_path_key(path, sizeof(path), base, "expected_status");
    if (seq->count == 0 || seq->count > 8)
        return yc_error(c->d, seq, path, c->eb, "give 1 to 8 status codes");
    h->expected_count = 0;
    for (size_t i = 0; i < seq->count; i++) {
        char ipath[CFG_PATH_MAX];
        uint32_t v = 0;
        rc = yc_u32(c->d, seq->items[i], yc_path_index(ipath, sizeof(ipath), path, i), 100, 599, &v,
                    c->eb);
        if (rc != 0)
            return rc;
        h->expected_status[h->expected_count++] = (uint16_t)v;
    }
    return 0;
}

static int parse_check_type(cfg_ctx_t *c, const yc_node_t *hc, const char *base,
                            gslb_health_check_t *h)
{
    const yc_node_t *n = cfg_child(hc, "type");
    char path[CFG_PATH_MAX], v[32];
    if (!n)
        return 0;
    yc_path_key(path, sizeof(path), base, "type");
    int rc = yc_str(c->d, n, path, v, sizeof(v), c->eb);
    if (rc != 0)
        return rc;
    if (strcmp(v, "http") != 0 && strcmp(v, "https") != 0 && strcmp(v, "tcp") != 0)
        return yc_error(c->d, n, path, c->eb,
                        "unknown check type \"%.16s\" (expected http, https or tcp)", v);
    memcpy(h->type, v, strlen(v) + 1); /* one of the three names: fits */
    return 0;
}

static int parse_health_check(cfg_ctx_t *c, const yc_node_t *reg, const char *rpath,
                              gslb_cfg_region_t *r)
{
    static const char *const keys[] = {"type",
                                       "path",
                                       "host",
                                       "interval",
                                       "timeout",
                                       "failure_threshold",
                                       "success_threshold",
                                       "expected_status",
                                       NULL};
    const yc_node_t *hc = NULL;
    char base[CFG_PATH_MAX];
    gslb_health_check_t *h = &r->health_check;
    yc_path_key(base, sizeof(base), rpath, "health_check");
    *h = (gslb_health_check_t){.type = "http",
                               .path = "/health",
                               .interval_ms = 30000,
                               .timeout_ms = 5000,
                               .failure_threshold = 3,
                               .success_threshold = 2,
                               .expected_status = {200},
                               .expected_count = 1};
    int rc = cfg_section(c, reg, rpath, "health_check", keys, &hc);
    if (rc != 0 || !hc)
        return rc;
    r->has_health_check = true;
    if ((rc = parse_check_type(c, hc, base, h)) != 0 ||
        (rc = cfg_opt_str(c, hc, base, "path", h->path, sizeof(h->path))) != 0 ||
        (rc = cfg_opt_str(c, hc, base, "host", h->host, sizeof(h->host))) != 0 ||
        (rc = cfg_opt_duration(c, hc, base, "interval", 100, 86400000ULL, &h->interval_ms)) != 0 ||
        (rc = cfg_opt_duration(c, hc, base, "timeout", 10, 3600000ULL, &h->timeout_ms)) != 0 ||
        (rc = cfg_opt_u32(c, hc, base, "failure_threshold", 1, 100, &h->failure_threshold)) != 0 ||
        (rc = cfg_opt_u32(c, hc, base, "success_threshold", 1, 100, &h->success_threshold)) != 0 ||
        (rc = parse_status_list(c, hc, base, h)) != 0)
        return rc;
    if (h->path[0] != '/')
        return cfg_key_error(c, hc, "path", base, "path must start with '/'");
    if (h->timeout_ms > h->interval_ms)
        return cfg_key_error(c, hc, cfg_child(hc, "timeout") ? "timeout" : "interval", base,
                             "timeout must not be longer than interval");
    return 0;
}

static int parse_server_address(cfg_ctx_t *c, const yc_node_t *n, const char *path, gslb_addr_t *a)
{
    char text[64];
    int rc = yc_str(c->d, n, path, text, sizeof(text), c->eb);
    if (rc != 0)
        return rc;
    memset(a, 0, sizeof(*a));
    if (inet_pton(AF_INET, text, a->bytes) == 1) {
        a->family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, text, a->bytes) == 1) {
        a->family = AF_INET6;
        return 0;
    }
    return yc_error(c->d, n, path, c->eb,
                    "bad address \"%.64s\": must be an IPv4 or IPv6 address (set the port with "
                    "\"port:\")",
                    text);
}

static int parse_service_name(const cfg_ctx_t *c, const yc_node_t *n, const char *path, char *out,
                              size_t cap)
{
    char text[GSLB_NAME_MAX + 1];
    int rc = yc_str(c->d, n, path, text, sizeof(text), c->eb);
    if (rc != 0)
        return rc;
    size_t len = strlen(text);
    if (len > 1 && text[len - 1] == '.')
        text[--len] = '\0';
    if (len + 1 > cap || !yc_valid_hostname(text))
        return yc_error(c->d, n, path, c->eb, "\"%.64s\" is not a valid service or domain name",
                        n->value);
    for (size_t i = 0; i <= len; i++)
        out[i] = (char)tolower((unsigned char)text[i]);
    return 0;
}

static int parse_server(cfg_ctx_t *c, const yc_node_t *item, const char *spath,
                        gslb_cfg_server_t *s)
{
    static const char *const keys[] = {"address", "port", "weight", "service", NULL};
    char path[CFG_PATH_MAX];
    int rc = yc_check_keys(c->d, item, spath, keys, c->eb);
    if (rc != 0)
        return rc;
    const yc_node_t *n = cfg_child(item, "address");
    yc_path_key(path, sizeof(path), spath, "address");
    if (!n)
        return yc_error(c->d, item, path, c->eb, "missing required key");
    uint32_t port = 80;
    s->weight = 100;
    if ((rc = parse_server_address(c, n, path, &s->addr)) != 0 ||
        (rc = cfg_opt_u32(c, item, spath, "port", 1, 65535, &port)) != 0 ||
        (rc = cfg_opt_u32(c, item, spath, "weight", 0, 1000000, &s->weight)) != 0)
        return rc;
    s->port = (uint16_t)port;
    if ((n = cfg_child(item, "service")))
        return parse_service_name(c, n, yc_path_key(path, sizeof(path), spath, "service"),
                                  s->service, sizeof(s->service));
    return 0;
}

static int parse_servers(cfg_ctx_t *c, const yc_node_t *reg, const char *rpath,
                         gslb_cfg_region_t *r)
{
    const yc_node_t *seq = NULL;
    int rc = cfg_seq(c, reg, rpath, "servers", &seq);
    if (rc != 0 || !seq || seq->count == 0)
        return rc;
    r->servers = calloc(seq->count, sizeof(*r->servers));
    if (!r->servers)
        return gslb_errf(c->eb, GSLB_ENOMEM, "out of memory");
    char base[CFG_PATH_MAX];
    yc_path_key(base, sizeof(base), rpath, "servers");
    for (size_t i = 0; i < seq->count; i++) {
        char spath[CFG_PATH_MAX];
        yc_path_index(spath, sizeof(spath), base, i);
        if ((rc = parse_server(c, seq->items[i], spath, &r->servers[i])) != 0)
            return rc;
        r->server_count++;
    }
    return 0;
}

static int parse_region(cfg_ctx_t *c, const yc_node_t *item, const char *rpath,
                        gslb_cfg_region_t *r)
{
    static const char *const keys[] = {"name", "servers", "health_check", NULL};
    char path[CFG_PATH_MAX];
    int rc = yc_check_keys(c->d, item, rpath, keys, c->eb);
    if (rc != 0)
        return rc;
    const yc_node_t *n = cfg_child(item, "name");
    yc_path_key(path, sizeof(path), rpath, "name");
    if (!n)
        return yc_error(c->d, item, path, c->eb, "missing required key");
    if ((rc = cfg_ident(c, n, path, r->name, sizeof(r->name))) != 0)
        return rc;
    for (size_t i = 0; i < c->cfg->region_count; i++) {
        if (strcmp(c->cfg->regions[i].name, r->name) == 0)
            return yc_error(c->d, n, path, c->eb, "duplicate region \"%s\"", r->name);
    }
    if ((rc = parse_health_check(c, item, rpath, r)) != 0)
        return rc;
    return parse_servers(c, item, rpath, r);
}

int cfg_parse_regions(cfg_ctx_t *c, const yc_node_t *root)
{
    const yc_node_t *seq = NULL;
    int rc = cfg_seq(c, root, "", "regions", &seq);
    if (rc != 0 || !seq || seq->count == 0)
        return rc;
    c->cfg->regions = calloc(seq->count, sizeof(*c->cfg->regions));
    if (!c->cfg->regions)
        return gslb_errf(c->eb, GSLB_ENOMEM, "out of memory");
    for (size_t i = 0; i < seq->count; i++) {
        char rpath[CFG_PATH_MAX];
        yc_path_index(rpath, sizeof(rpath), "regions", i);
        gslb_cfg_region_t r = {0};
        rc = parse_region(c, seq->items[i], rpath, &r);
        /* Owned by cfg from here on, even on error (freed by gslb_config_free). */
        c->cfg->regions[c->cfg->region_count++] = r;
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- domains ------------------------------------------------------------------- */

static int parse_policy(cfg_ctx_t *c, const yc_node_t *dm, const char *dpath, gslb_domain_rec_t *d)
{
    static const struct {
        const char *name;
        enum gslb_policy policy;
    } names[] = {{"round-robin", GSLB_POLICY_ROUND_ROBIN}, {"round_robin", GSLB_POLICY_ROUND_ROBIN},
                 {"weighted", GSLB_POLICY_WEIGHTED},       {"failover", GSLB_POLICY_FAILOVER},
                 {"geolocation", GSLB_POLICY_GEO},         {"latency", GSLB_POLICY_LATENCY}};
    const yc_node_t *n = cfg_child(dm, "routing_algorithm");
    char path[CFG_PATH_MAX], v[32];
    d->policy = GSLB_POLICY_ROUND_ROBIN;
    if (!n)
        return 0;
    yc_path_key(path, sizeof(path), dpath, "routing_algorithm");
    int rc = yc_str(c->d, n, path, v, sizeof(v), c->eb);
    for (size_t i = 0; rc == 0 && i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcasecmp(v, names[i].name) == 0) {
            d->policy = (uint8_t)names[i].policy;
            return 0;
        }
    }
    return yc_error(c->d, n, path, c->eb,
                    "unknown routing algorithm \"%.32s\" (expected round-robin, weighted, "
                    "failover, geolocation or latency)",
                    n->value);
}

static int parse_unhealthy(cfg_ctx_t *c, const yc_node_t *dm, const char *dpath,
                           gslb_domain_rec_t *d)
{
    static const struct {
        const char *name;
        enum gslb_unhealthy_mode mode;
    } names[] = {{"return_last_healthy", GSLB_UNHEALTHY_RETURN_LAST_HEALTHY},
                 {"nodata", GSLB_UNHEALTHY_NODATA},
                 {"servfail", GSLB_UNHEALTHY_SERVFAIL}};
    const yc_node_t *n = cfg_child(dm, "all_unhealthy");
    char path[CFG_PATH_MAX], v[32];
    d->unhealthy_mode = GSLB_UNHEALTHY_RETURN_LAST_HEALTHY;
    if (!n)
        return 0;
    yc_path_key(path, sizeof(path), dpath, "all_unhealthy");
    int rc = yc_str(c->d, n, path, v, sizeof(v), c->eb);
    for (size_t i = 0; rc == 0 && i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcasecmp(v, names[i].name) == 0) {
            d->unhealthy_mode = (uint8_t)names[i].mode;
            return 0;
        }
    }
    return yc_error(c->d, n, path, c->eb,
                    "unknown value \"%.32s\" (expected return_last_healthy, nodata or servfail)",
                    n->value);
}

static bool region_defined(const gslb_config_t *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->region_count; i++) {
        if (strcmp(cfg->regions[i].name, name) == 0)
            return true;
    }
    return false;
}

static int parse_domain_regions(cfg_ctx_t *c, const yc_node_t *dm, const char *dpath,
                                gslb_domain_rec_t *d)
{
    const yc_node_t *seq = NULL;
    char base[CFG_PATH_MAX];
    yc_path_key(base, sizeof(base), dpath, "regions");
    int rc = cfg_seq(c, dm, dpath, "regions", &seq);
    if (rc != 0)
        return rc;
    if (!seq || seq->count == 0)
        return cfg_key_error(c, dm, "regions", base, "a domain needs at least one region");
    if (seq->count > GSLB_MAX_REGIONS)
        return yc_error(c->d, seq, base, c->eb, "at most %d regions per domain", GSLB_MAX_REGIONS);
    for (size_t i = 0; i < seq->count; i++) {
        char path[CFG_PATH_MAX];
        yc_path_index(path, sizeof(path), base, i);
        char *r = d->regions[d->region_count];
        if ((rc = cfg_ident(c, seq->items[i], path, r, GSLB_LABEL_MAX)) != 0)
            return rc;
        if (!region_defined(c->cfg, r))
            return yc_error(c->d, seq->items[i], path, c->eb,
                            "region \"%s\" is not defined in regions[]", r);
        for (size_t j = 0; j < d->region_count; j++) {
            if (strcmp(d->regions[j], r) == 0)
                return yc_error(c->d, seq->items[i], path, c->eb, "region \"%s\" listed twice", r);
        }
        d->region_count++;
    }
    return 0;
}

/* The zone holding name: the longest configured zone that is a proper suffix. */
static const gslb_cfg_zone_t *zone_of(const gslb_config_t *cfg, const char *name)
{
    const gslb_cfg_zone_t *best = NULL;
    for (size_t i = 0; i < cfg->zone_count; i++) {
        const gslb_cfg_zone_t *z = &cfg->zones[i];
        if (cfg_name_in_zone(name, z->name) && (!best || strlen(z->name) > strlen(best->name)))
            best = z;
    }
    return best;
}

static int place_domain(cfg_ctx_t *c, const yc_node_t *n, const char *path, gslb_domain_rec_t *d)
{
    const gslb_cfg_zone_t *z = zone_of(c->cfg, d->name);
    if (!z)
        return yc_error(c->d, n, path, c->eb, "domain \"%s\" is not inside any zone in dns.zones",
                        d->name);
    if (strcmp(z->name, d->name) == 0)
        return yc_error(c->d, n, path, c->eb,
                        "domain \"%s\" is a zone apex; GSLB domains must be names below a zone",
                        d->name);
    for (int i = 0; i < z->rec.ns_count; i++) {
        if (strcmp(z->rec.ns[i], d->name) == 0)
            return yc_error(c->d, n, path, c->eb, "domain \"%s\" is a name server host of zone %s",
                            d->name, z->name);
    }
    memcpy(d->zone, z->name, sizeof(d->zone));
    return 0;
}

static int parse_domain_service(cfg_ctx_t *c, const yc_node_t *dm, const char *dpath,
                                gslb_domain_rec_t *d)
{
    const yc_node_t *n = cfg_child(dm, "service");
    char path[CFG_PATH_MAX];
    yc_path_key(path, sizeof(path), dpath, "service");
    if (n) {
        int rc = cfg_ident(c, n, path, d->service, sizeof(d->service));
        if (rc != 0)
            return rc;
        if (strchr(d->service, '.'))
            return yc_error(c->d, n, path, c->eb, "a service name cannot contain '.'");
        for (char *p = d->service; *p; p++)
            *p = (char)tolower((unsigned char)*p);
    } else {
        size_t len = strcspn(d->name, ".");
        memcpy(d->service, d->name, len); /* a label is at most 63 characters */
        d->service[len] = '\0';
    }
    for (size_t i = 0; i < c->cfg->domain_count; i++) {
        if (strcmp(c->cfg->domains[i].service, d->service) == 0)
            return yc_error(c->d, n ? n : cfg_child(dm, "name"), n ? path : dpath, c->eb,
                            "service \"%s\" is already used by domain %s%s", d->service,
                            c->cfg->domains[i].name,
                            n ? "" : " (set a distinct service: for this domain)");
    }
    return 0;
}

static int parse_domain(cfg_ctx_t *c, const yc_node_t *dm, const char *dpath, gslb_domain_rec_t *d)
{
    static const char *const keys[] = {"name",    "routing_algorithm", "regions",       "ttl",
                                       "service", "max_records",       "all_unhealthy", NULL};
    char path[CFG_PATH_MAX];
    int rc = yc_check_keys(c->d, dm, dpath, keys, c->eb);
    if (rc != 0)
        return rc;
    const yc_node_t *n = cfg_child(dm, "name");
    yc_path_key(path, sizeof(path), dpath, "name");
    if (!n)
        return yc_error(c->d, dm, path, c->eb, "missing required key");
    if ((rc = cfg_dns_name(c, n, path, d->name, sizeof(d->name))) != 0)
        return rc;
    for (size_t i = 0; i < c->cfg->domain_count; i++) {
        if (strcmp(c->cfg->domains[i].name, d->name) == 0)
            return yc_error(c->d, n, path, c->eb, "duplicate domain \"%s\"", d->name);
    }
    uint32_t max_records = 0;
    d->ttl = c->cfg->default_ttl;
    if ((rc = place_domain(c, n, path, d)) != 0 || (rc = parse_policy(c, dm, dpath, d)) != 0 ||
        (rc = parse_domain_regions(c, dm, dpath, d)) != 0 ||
        (rc = cfg_opt_seconds(c, dm, dpath, "ttl", 2147483647u, &d->ttl)) != 0 ||
        (rc = cfg_opt_u32(c, dm, dpath, "max_records", 0, 65535, &max_records)) != 0 ||
        (rc = parse_unhealthy(c, dm, dpath, d)) != 0)
        return rc;
    d->max_records = (uint16_t)max_records;
    return parse_domain_service(c, dm, dpath, d);
}

int cfg_parse_domains(cfg_ctx_t *c, const yc_node_t *root)
{
    const yc_node_t *seq = NULL;
    int rc = cfg_seq(c, root, "", "domains", &seq);
    if (rc != 0 || !seq || seq->count == 0)
        return rc;
    c->cfg->domains = calloc(seq->count, sizeof(*c->cfg->domains));
    if (!c->cfg->domains)
        return gslb_errf(c->eb, GSLB_ENOMEM, "out of memory");
    for (size_t i = 0; i < seq->count; i++) {
        char dpath[CFG_PATH_MAX];
        yc_path_index(dpath, sizeof(dpath), "domains", i);
        gslb_domain_rec_t *d = &c->cfg->domains[i];
        if ((rc = parse_domain(c, seq->items[i], dpath, d)) != 0)
            return rc;
        c->cfg->domain_count++;
    }
    return 0;
}

/* ---- backend <-> domain mapping ------------------------------------------------------ */

const gslb_domain_rec_t *gslb_config_domain_by_service(const gslb_config_t *cfg,
                                                       const char *service)
{
    char want[GSLB_NAME_MAX];
    size_t len = strlen(service);
    if (len >= sizeof(want))
        return NULL;
    for (size_t i = 0; i <= len; i++)
        want[i] = (char)tolower((unsigned char)service[i]);
    if (len > 1 && want[len - 1] == '.')
        want[len - 1] = '\0';
    for (size_t i = 0; i < cfg->domain_count; i++) {
        if (strcmp(cfg->domains[i].name, want) == 0 || strcmp(cfg->domains[i].service, want) == 0)
            return &cfg->domains[i];
    }
    return NULL;
}

static bool domain_has_region(const gslb_domain_rec_t *d, const char *region)
{
    for (size_t i = 0; i < d->region_count; i++) {
        if (strcmp(d->regions[i], region) == 0)
            return true;
    }
    return false;
}

int gslb_config_foreach_backend(const gslb_config_t *cfg, gslb_cfg_backend_cb cb, void *ctx)
{
    for (size_t r = 0; r < cfg->region_count; r++) {
        const gslb_cfg_region_t *reg = &cfg->regions[r];
        for (size_t s = 0; s < reg->server_count; s++) {
            const gslb_cfg_server_t *srv = &reg->servers[s];
            const gslb_domain_rec_t *only =
                srv->service[0] ? gslb_config_domain_by_service(cfg, srv->service) : NULL;
            for (size_t d = 0; d < cfg->domain_count; d++) {
                const gslb_domain_rec_t *dom = &cfg->domains[d];
                bool member = srv->service[0] ? dom == only : domain_has_region(dom, reg->name);
                if (!member)
                    continue;
                int rc = cb(dom, reg, srv, ctx);
                if (rc != 0)
                    return rc < 0 ? rc : 0;
            }
        }
    }
    return 0;
}

/* Where a server was written, for error messages. */
typedef struct server_site {
    const char *domain;
    const gslb_cfg_server_t *srv;
    const yc_node_t *node; /* the server's "address" node */
    size_t region, index;
} server_site_t;

static int site_cmp(const void *a, const void *b)
{
    const server_site_t *x = a, *y = b;
    int c = strcmp(x->domain, y->domain);
    if (c == 0)
        c = memcmp(&x->srv->addr, &y->srv->addr, sizeof(x->srv->addr));
    if (c == 0)
        c = (int)x->srv->port - (int)y->srv->port;
    if (c == 0)
        c = x->region != y->region ? (x->region < y->region ? -1 : 1)
                                   : (x->index < y->index ? -1 : x->index > y->index);
    return c;
}

static int check_server_service(cfg_ctx_t *c, const yc_node_t *snode, const char *spath,
                                const gslb_cfg_region_t *reg, const gslb_cfg_server_t *srv)
{
    if (!srv->service[0])
        return 0;
    char path[CFG_PATH_MAX];
    const yc_node_t *n = cfg_child(snode, "service");
    yc_path_key(path, sizeof(path), spath, "service");
    const gslb_domain_rec_t *dom = gslb_config_domain_by_service(c->cfg, srv->service);
    if (!dom)
        return yc_error(c->d, n, path, c->eb, "\"%s\" matches no domain (by name or by service)",
                        srv->service);
    if (!domain_has_region(dom, reg->name))
        return yc_error(c->d, n, path, c->eb,
                        "domain %s does not list region \"%s\" in its regions", dom->name,
                        reg->name);
    return 0;
}

struct site_list {
    server_site_t *v;
    size_t n, cap;
    const yc_node_t *regions;
};

static const yc_node_t *server_node(const yc_node_t *regions, size_t r, size_t s)
{
    return yc_get(regions->items[r], "servers")->items[s];
}

static int collect_site(const gslb_domain_rec_t *dom, const gslb_cfg_region_t *reg,
                        const gslb_cfg_server_t *srv, void *ctx)
{
    struct site_list *l = ctx;
    (void)reg;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        server_site_t *v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return GSLB_ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (server_site_t){.domain = dom->name, .srv = srv};
    return 0;
}

static void locate_sites(const gslb_config_t *cfg, struct site_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        for (size_t r = 0; r < cfg->region_count; r++) {
            const gslb_cfg_region_t *reg = &cfg->regions[r];
            if (l->v[i].srv < reg->servers || l->v[i].srv >= reg->servers + reg->server_count)
                continue;
            l->v[i].region = r;
            l->v[i].index = (size_t)(l->v[i].srv - reg->servers);
            l->v[i].node = yc_get(server_node(l->regions, r, l->v[i].index), "address");
        }
    }
}

static int check_duplicate_backends(cfg_ctx_t *c, const yc_node_t *regions)
{
    struct site_list l = {.regions = regions};
    int rc = gslb_config_foreach_backend(c->cfg, collect_site, &l);
    if (rc != 0) {
        free(l.v);
        return gslb_errf(c->eb, rc, "out of memory");
    }
    if (l.n == 0)
        return 0; /* no servers at all: nothing to compare (and qsort(NULL, 0) is UB) */
    locate_sites(c->cfg, &l);
    qsort(l.v, l.n, sizeof(*l.v), site_cmp);
    for (size_t i = 1; i < l.n && rc == 0; i++) {
        const server_site_t *a = &l.v[i - 1], *b = &l.v[i];
        if (strcmp(a->domain, b->domain) != 0 ||
            memcmp(&a->srv->addr, &b->srv->addr, sizeof(a->srv->addr)) != 0 ||
            a->srv->port != b->srv->port)
            continue;
        char path[CFG_PATH_MAX];
        snprintf(path, sizeof(path), "regions[%zu].servers[%zu].address", b->region, b->index);
        rc = yc_error(c->d, b->node, path, c->eb,
                      "duplicate backend for domain %s (same address and port as "
                      "regions[%zu].servers[%zu])",
                      b->domain, a->region, a->index);
    }
    free(l.v);
    return rc;
}

int cfg_check_backends(cfg_ctx_t *c, const yc_node_t *root)
{
    const yc_node_t *regions = cfg_child(root, "regions");
    for (size_t r = 0; r < c->cfg->region_count; r++) {
        const gslb_cfg_region_t *reg = &c->cfg->regions[r];
        for (size_t s = 0; s < reg->server_count; s++) {
            char spath[CFG_PATH_MAX];
            snprintf(spath, sizeof(spath), "regions[%zu].servers[%zu]", r, s);
            int rc =
                check_server_service(c, server_node(regions, r, s), spath, reg, &reg->servers[s]);
            if (rc != 0)
                return rc;
        }
    }
    return regions ? check_duplicate_backends(c, regions) : 0;
}
