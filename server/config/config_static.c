/*
 * config_static.c - the configured (static) backends as records, for falling
 * back to them when an agent stops reporting one (config.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gslb_config_backend_rec(const gslb_domain_rec_t *dom, const gslb_cfg_region_t *reg,
                             const gslb_cfg_server_t *srv, int64_t now_s, gslb_backend_rec_t *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->domain, sizeof(out->domain), "%s", dom->name);
    out->addr = srv->addr;
    out->port = srv->port;
    out->weight = srv->weight;
    snprintf(out->region, sizeof(out->region), "%s", reg->name);
    out->source = GSLB_SOURCE_CONFIG;
    out->agent_health = GSLB_UNKNOWN;
    out->validation_health = GSLB_UNKNOWN;
    out->last_change = now_s;
}

static int rec_cmp(const void *x, const void *y)
{
    const gslb_backend_rec_t *a = x, *b = y;
    int c = strcmp(a->domain, b->domain);
    if (!c)
        c = memcmp(&a->addr, &b->addr, sizeof(a->addr));
    if (!c)
        c = (int)a->port - (int)b->port;
    return c;
}

static int push_rec(const gslb_domain_rec_t *dom, const gslb_cfg_region_t *reg,
                    const gslb_cfg_server_t *srv, void *ctx)
{
    gslb_static_backends_t *s = ctx;
    gslb_backend_rec_t *v = realloc(s->v, (s->n + 1) * sizeof(*v));
    if (!v)
        return GSLB_ENOMEM;
    s->v = v;
    gslb_config_backend_rec(dom, reg, srv, 0, &s->v[s->n++]);
    return 0;
}

int gslb_static_backends_build(const gslb_config_t *cfg, gslb_static_backends_t *out)
{
    memset(out, 0, sizeof(*out));
    int rc = cfg ? gslb_config_foreach_backend(cfg, push_rec, out) : 0;
    if (rc < 0) {
        gslb_static_backends_free(out);
        return rc;
    }
    if (out->n)
        qsort(out->v, out->n, sizeof(*out->v), rec_cmp);
    return GSLB_OK;
}

void gslb_static_backends_free(gslb_static_backends_t *s)
{
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

const gslb_backend_rec_t *gslb_static_backends_find(const gslb_static_backends_t *s,
                                                    const char *domain, const gslb_addr_t *addr,
                                                    uint16_t port)
{
    if (!s || !s->n)
        return NULL;
    gslb_backend_rec_t k;
    memset(&k, 0, sizeof(k));
    snprintf(k.domain, sizeof(k.domain), "%s", domain);
    memcpy(&k.addr, addr, sizeof(k.addr));
    k.port = port;
    return bsearch(&k, s->v, s->n, sizeof(*s->v), rec_cmp);
}
