/*
 * config_dns.c - the `dns` section: listener, limits and zones (SOA, NS and
 * in-zone NS addresses with the defaults documented in docs/configuration.md).
 */
#include "config_internal.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TTL 2147483647u

static int join_name(const cfg_ctx_t *c, const yc_node_t *n, const char *path, char *out,
                     size_t cap, const char *label, const char *zone, const char *what)
{
    int len = snprintf(out, cap, "%s.%s", label, zone);
    if (len < 0 || (size_t)len >= cap)
        return yc_error(c->d, n, path, c->eb,
                        "zone name too long for the default %s; set it explicitly", what);
    return 0;
}

static int zone_defaults(cfg_ctx_t *c, gslb_zone_rec_t *z, const yc_node_t *n, const char *path)
{
    int rc = join_name(c, n, path, z->mname, sizeof(z->mname), "ns1", z->name, "SOA mname");
    if (rc == 0)
        rc = join_name(c, n, path, z->rname, sizeof(z->rname), "hostmaster", z->name, "SOA rname");
    z->serial = (uint32_t)c->now;
    z->refresh = 3600;
    z->retry = 600;
    z->expire = 86400;
    z->minimum = 60;
    z->soa_ttl = 3600;
    z->ns_ttl = 3600;
    z->default_ttl = c->cfg->default_ttl;
    return rc;
}

/* rname may be written as a mail address: "hostmaster@example.com". */
static int parse_rname(cfg_ctx_t *c, const yc_node_t *soa, const char *base, char *out, size_t cap)
{
    const yc_node_t *n = cfg_child(soa, "rname");
    char path[CFG_PATH_MAX], text[GSLB_NAME_MAX + 1];
    if (!n)
        return 0;
    yc_path_key(path, sizeof(path), base, "rname");
    int rc = yc_str(c->d, n, path, text, sizeof(text), c->eb);
    if (rc != 0)
        return rc;
    char *at = strchr(text, '@');
    if (at)
        *at = '.';
    yc_node_t tmp = *n;
    tmp.value = text;
    return cfg_dns_name(c, &tmp, path, out, cap);
}

static int parse_soa(cfg_ctx_t *c, const yc_node_t *zmap, const char *zpath, gslb_zone_rec_t *z)
{
    static const char *const keys[] = {"mname",  "rname",   "serial", "refresh", "retry",
                                       "expire", "minimum", "ttl",    NULL};
    const yc_node_t *soa = NULL, *n = NULL;
    char base[CFG_PATH_MAX], path[CFG_PATH_MAX];
    yc_path_key(base, sizeof(base), zpath, "soa");
    int rc = cfg_section(c, zmap, zpath, "soa", keys, &soa);
    if (rc != 0 || !soa)
        return rc;
    if ((n = cfg_child(soa, "mname")) &&
        (rc = cfg_dns_name(c, n, yc_path_key(path, sizeof(path), base, "mname"), z->mname,
                           sizeof(z->mname))) != 0)
        return rc;
    if ((rc = parse_rname(c, soa, base, z->rname, sizeof(z->rname))) != 0 ||
        (rc = cfg_opt_u32(c, soa, base, "serial", 0, UINT32_MAX, &z->serial)) != 0 ||
        (rc = cfg_opt_seconds(c, soa, base, "refresh", MAX_TTL, &z->refresh)) != 0 ||
        (rc = cfg_opt_seconds(c, soa, base, "retry", MAX_TTL, &z->retry)) != 0 ||
        (rc = cfg_opt_seconds(c, soa, base, "expire", MAX_TTL, &z->expire)) != 0 ||
        (rc = cfg_opt_seconds(c, soa, base, "minimum", MAX_TTL, &z->minimum)) != 0)
        return rc;
    return cfg_opt_seconds(c, soa, base, "ttl", MAX_TTL, &z->soa_ttl);
}

static int parse_ns_list(cfg_ctx_t *c, const yc_node_t *zmap, const char *zpath, gslb_zone_rec_t *z)
{
    const yc_node_t *seq = NULL;
    char base[CFG_PATH_MAX], path[CFG_PATH_MAX];
    yc_path_key(base, sizeof(base), zpath, "ns");
    int rc = cfg_seq(c, zmap, zpath, "ns", &seq);
    if (rc != 0)
        return rc;
    if (!seq) { /* default: the SOA mname is the only name server */
        memcpy(z->ns[0], z->mname, sizeof(z->ns[0]));
        z->ns_count = 1;
        return 0;
    }
    if (seq->count == 0 || seq->count > GSLB_MAX_NS)
        return yc_error(c->d, seq, base, c->eb, "a zone needs 1 to %d name servers", GSLB_MAX_NS);
    for (size_t i = 0; i < seq->count; i++) {
        yc_path_index(path, sizeof(path), base, i);
        char *ns = z->ns[z->ns_count];
        if ((rc = cfg_dns_name(c, seq->items[i], path, ns, sizeof(z->ns[0]))) != 0)
            return rc;
        for (size_t j = 0; j < z->ns_count; j++) {
            if (strcmp(z->ns[j], ns) == 0)
                return yc_error(c->d, seq->items[i], path, c->eb, "duplicate name server \"%s\"",
                                ns);
        }
        z->ns_count++;
    }
    return 0;
}

static int ns_index(const gslb_zone_rec_t *z, const char *name)
{
    for (int i = 0; i < z->ns_count; i++) {
        if (strcmp(z->ns[i], name) == 0)
            return i;
    }
    return -1;
}

static int add_glue(cfg_ctx_t *c, const yc_node_t *n, const char *path, gslb_zone_rec_t *z, int idx)
{
    char text[64];
    int rc = yc_str(c->d, n, path, text, sizeof(text), c->eb);
    if (rc != 0)
        return rc;
    gslb_addr_t a = {0};
    if (inet_pton(AF_INET, text, a.bytes) == 1)
        a.family = AF_INET;
    else if (inet_pton(AF_INET6, text, a.bytes) == 1)
        a.family = AF_INET6;
    else
        return yc_error(c->d, n, path, c->eb, "bad address \"%.64s\": not an IP address", text);
    gslb_addr_t *slot = a.family == AF_INET ? &z->ns_addr4[idx] : &z->ns_addr6[idx];
    if (slot->family)
        return yc_error(c->d, n, path, c->eb,
                        "at most one IPv4 and one IPv6 address per name server");
    *slot = a;
    return 0;
}

static int parse_ns_addresses_of(cfg_ctx_t *c, const yc_node_t *map, size_t i, const char *base,
                                 gslb_zone_rec_t *z)
{
    char path[CFG_PATH_MAX], name[GSLB_NAME_MAX];
    yc_path_key(path, sizeof(path), base, map->keys[i]);
    yc_node_t key = {.type = YC_SCALAR,
                     .line = map->key_lines[i],
                     .col = map->key_cols[i],
                     .value = map->keys[i]};
    int rc = cfg_dns_name(c, &key, path, name, sizeof(name));
    if (rc != 0)
        return rc;
    int idx = ns_index(z, name);
    if (idx < 0)
        return yc_error(c->d, &key, path, c->eb, "\"%s\" is not a name server of zone %s", name,
                        z->name);
    if (!cfg_name_in_zone(name, z->name))
        return yc_error(c->d, &key, path, c->eb,
                        "addresses can only be given for in-zone name servers (%s is outside "
                        "%s)",
                        name, z->name);
    const yc_node_t *v = map->items[i];
    if (v && v->type == YC_SCALAR)
        return add_glue(c, v, path, z, idx);
    if ((rc = yc_expect(c->d, v, YC_SEQ, path, c->eb)) != 0)
        return rc;
    for (size_t j = 0; j < v->count; j++) {
        char ipath[CFG_PATH_MAX];
        if ((rc = add_glue(c, v->items[j], yc_path_index(ipath, sizeof(ipath), path, j), z, idx)) !=
            0)
            return rc;
    }
    return 0;
}

static int parse_ns_addresses(cfg_ctx_t *c, const yc_node_t *zmap, const char *zpath,
                              gslb_zone_rec_t *z)
{
    const yc_node_t *m = cfg_child(zmap, "ns_addresses");
    char base[CFG_PATH_MAX];
    yc_path_key(base, sizeof(base), zpath, "ns_addresses");
    if (!m)
        return 0;
    int rc = yc_expect(c->d, m, YC_MAP, base, c->eb);
    for (size_t i = 0; rc == 0 && i < m->count; i++)
        rc = parse_ns_addresses_of(c, m, i, base, z);
    return rc;
}

/* In-zone name servers without an address get the DNS listen address when it is a
 * specific one, otherwise 127.0.0.1 (loopback demo), with a warning. */
static void default_glue(cfg_ctx_t *c, gslb_zone_rec_t *z)
{
    const char *host = c->cfg->restart.dns_listen.host;
    for (int i = 0; i < z->ns_count; i++) {
        if (!cfg_name_in_zone(z->ns[i], z->name) || z->ns_addr4[i].family || z->ns_addr6[i].family)
            continue;
        gslb_addr_t a = {.family = AF_INET};
        if (!cfg_host_is_any(host) && inet_pton(AF_INET, host, a.bytes) == 1) {
            z->ns_addr4[i] = a;
        } else if (!cfg_host_is_any(host) && inet_pton(AF_INET6, host, a.bytes) == 1) {
            a.family = AF_INET6;
            z->ns_addr6[i] = a;
        } else {
            inet_pton(AF_INET, "127.0.0.1", a.bytes);
            z->ns_addr4[i] = a;
            gslb_warn("config: zone %s: name server %s has no address (dns.zones[].ns_addresses) "
                      "and dns.listen_address is a wildcard; publishing 127.0.0.1",
                      z->name, z->ns[i]);
        }
    }
}

static int parse_zone_map(cfg_ctx_t *c, const yc_node_t *zmap, const char *zpath,
                          gslb_zone_rec_t *z)
{
    static const char *const keys[] = {"name", "soa", "ns", "ns_addresses", "ns_ttl", NULL};
    char path[CFG_PATH_MAX];
    int rc = yc_check_keys(c->d, zmap, zpath, keys, c->eb);
    if (rc != 0)
        return rc;
    const yc_node_t *n = cfg_child(zmap, "name");
    yc_path_key(path, sizeof(path), zpath, "name");
    if (!n)
        return yc_error(c->d, zmap, path, c->eb, "missing required key");
    if ((rc = cfg_dns_name(c, n, path, z->name, sizeof(z->name))) != 0 ||
        (rc = zone_defaults(c, z, n, path)) != 0 || (rc = parse_soa(c, zmap, zpath, z)) != 0 ||
        (rc = cfg_opt_seconds(c, zmap, zpath, "ns_ttl", MAX_TTL, &z->ns_ttl)) != 0 ||
        (rc = parse_ns_list(c, zmap, zpath, z)) != 0)
        return rc;
    return parse_ns_addresses(c, zmap, zpath, z);
}

static int parse_zone(cfg_ctx_t *c, const yc_node_t *item, const char *zpath, gslb_zone_rec_t *z)
{
    int rc = 0;
    if (item && item->type == YC_MAP) {
        rc = parse_zone_map(c, item, zpath, z);
    } else {
        if ((rc = cfg_dns_name(c, item, zpath, z->name, sizeof(z->name))) != 0 ||
            (rc = zone_defaults(c, z, item, zpath)) != 0)
            return rc;
        memcpy(z->ns[0], z->mname, sizeof(z->ns[0]));
        z->ns_count = 1;
    }
    if (rc == 0)
        default_glue(c, z);
    return rc;
}

static int parse_zones(cfg_ctx_t *c, const yc_node_t *dns)
{
    const yc_node_t *seq = NULL;
    int rc = cfg_seq(c, dns, "dns", "zones", &seq);
    if (rc != 0 || !seq || seq->count == 0)
        return rc;
    c->cfg->zones = calloc(seq->count, sizeof(*c->cfg->zones));
    if (!c->cfg->zones)
        return gslb_errf(c->eb, GSLB_ENOMEM, "out of memory");
    for (size_t i = 0; i < seq->count; i++) {
        char zpath[CFG_PATH_MAX];
        yc_path_index(zpath, sizeof(zpath), "dns.zones", i);
        gslb_cfg_zone_t *z = &c->cfg->zones[i];
        if ((rc = parse_zone(c, seq->items[i], zpath, &z->rec)) != 0)
            return rc;
        memcpy(z->name, z->rec.name, sizeof(z->name));
        for (size_t j = 0; j < i; j++) {
            if (strcmp(c->cfg->zones[j].name, z->name) == 0)
                return yc_error(c->d, seq->items[i], zpath, c->eb, "duplicate zone \"%s\"",
                                z->name);
        }
        c->cfg->zone_count++;
    }
    return 0;
}

int cfg_parse_dns(cfg_ctx_t *c, const yc_node_t *root)
{
    static const char *const keys[] = {"listen_address",
                                       "zones",
                                       "default_ttl",
                                       "workers",
                                       "edns_payload",
                                       "tcp_idle_timeout",
                                       "tcp_message_timeout",
                                       "tcp_max_clients",
                                       "tcp_max_clients_per_source",
                                       NULL};
    const yc_node_t *m = NULL;
    gslb_config_t *cfg = c->cfg;
    int rc = cfg_section(c, root, "", "dns", keys, &m);
    if (rc != 0 || !m)
        return rc;
    uint64_t idle = cfg->restart.tcp_idle_timeout_ms;
    uint64_t message = cfg->restart.tcp_message_timeout_ms;
    if ((rc = cfg_opt_listen(c, m, "dns", "listen_address", &cfg->restart.dns_listen)) != 0 ||
        (rc = cfg_opt_seconds(c, m, "dns", "default_ttl", MAX_TTL, &cfg->default_ttl)) != 0 ||
        (rc = cfg_opt_u32(c, m, "dns", "workers", 0, 1024, &cfg->restart.dns_workers)) != 0 ||
        (rc = cfg_opt_u32(c, m, "dns", "edns_payload", 512, 4096, &cfg->restart.edns_payload)) !=
            0 ||
        (rc = cfg_opt_duration(c, m, "dns", "tcp_idle_timeout", 100, 3600000ULL, &idle)) != 0 ||
        (rc = cfg_opt_duration(c, m, "dns", "tcp_message_timeout", 100, 3600000ULL, &message)) !=
            0 ||
        (rc = cfg_opt_u32(c, m, "dns", "tcp_max_clients", 1, 65535,
                          &cfg->restart.tcp_max_clients)) != 0 ||
        (rc = cfg_opt_u32(c, m, "dns", "tcp_max_clients_per_source", 1, 65535,
                          &cfg->restart.tcp_max_clients_per_source)) != 0)
        return rc;
    cfg->restart.tcp_idle_timeout_ms = (uint32_t)idle;
    cfg->restart.tcp_message_timeout_ms = (uint32_t)message;
    return parse_zones(c, m);
}
