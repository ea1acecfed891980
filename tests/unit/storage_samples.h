/*
 * storage_samples.h - sample records shared by the storage tests, the
 * gslb-testfill tool and the fuzz corpus generator. Every field is set to a
 * non-default value so that a round trip that drops a field is noticed.
 */
#pragma once

#include "records.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static inline gslb_addr_t sample_addr(const char *text)
{
    gslb_addr_t a;
    gslb_addr_parse(text, &a);
    return a;
}

static inline gslb_meta_rec_t sample_meta(void)
{
    gslb_meta_rec_t m = {.schema_version = GSLB_SCHEMA_VERSION, .created_at = 1767225600};
    snprintf(m.node_id, sizeof(m.node_id), "overwatch-1");
    return m;
}

static inline gslb_zone_rec_t sample_zone(const char *name)
{
    gslb_zone_rec_t z = {.serial = 2026010101,
                         .refresh = 3600,
                         .retry = 600,
                         .expire = 86400,
                         .minimum = 60,
                         .soa_ttl = 300,
                         .ns_ttl = 86400,
                         .default_ttl = 30,
                         .ns_count = 2};
    snprintf(z.name, sizeof(z.name), "%s", name);
    snprintf(z.mname, sizeof(z.mname), "ns1.%s", name);
    snprintf(z.rname, sizeof(z.rname), "hostmaster.%s", name);
    snprintf(z.ns[0], sizeof(z.ns[0]), "ns1.%s", name);
    snprintf(z.ns[1], sizeof(z.ns[1]), "ns2.example.net");
    z.ns_addr4[0] = sample_addr("192.0.2.53");
    z.ns_addr6[0] = sample_addr("2001:db8::53");
    return z;
}

static inline gslb_domain_rec_t sample_domain(const char *name, const char *zone)
{
    gslb_domain_rec_t d = {.policy = GSLB_POLICY_FAILOVER,
                           .unhealthy_mode = GSLB_UNHEALTHY_RETURN_LAST_HEALTHY,
                           .max_records = 4,
                           .ttl = 20,
                           .region_count = 2};
    snprintf(d.name, sizeof(d.name), "%s", name);
    snprintf(d.zone, sizeof(d.zone), "%s", zone);
    snprintf(d.service, sizeof(d.service), "%.*s", (int)strcspn(name, "."), name);
    snprintf(d.regions[0], sizeof(d.regions[0]), "us-east");
    snprintf(d.regions[1], sizeof(d.regions[1]), "eu-west");
    return d;
}

static inline gslb_backend_rec_t sample_backend(const char *domain, const char *addr,
                                                const char *region)
{
    gslb_backend_rec_t b = {.addr = sample_addr(addr),
                            .port = 8080,
                            .weight = 100,
                            .source = GSLB_SOURCE_AGENT,
                            .agent_health = GSLB_HEALTHY,
                            .validation_health = GSLB_HEALTHY,
                            .last_seen = 1767225700,
                            .last_change = 1767225650,
                            .latency_us = 1234};
    snprintf(b.domain, sizeof(b.domain), "%s", domain);
    snprintf(b.region, sizeof(b.region), "%s", region);
    snprintf(b.agent_id, sizeof(b.agent_id), "agent-%s", region);
    return b;
}

static inline gslb_agent_rec_t sample_agent(const char *id)
{
    gslb_agent_rec_t a = {.first_seen = 1767225000,
                          .last_heartbeat = 1767225700,
                          .last_seq = 42,
                          .source_addr = sample_addr("198.51.100.7"),
                          .stale = false,
                          .goodbye = true};
    snprintf(a.agent_id, sizeof(a.agent_id), "%s", id);
    snprintf(a.region, sizeof(a.region), "us-east");
    snprintf(a.token_name, sizeof(a.token_name), "webapp-token");
    return a;
}

static inline gslb_dnskey_rec_t sample_dnskey(const char *zone, uint16_t tag)
{
    gslb_dnskey_rec_t k = {.key_tag = tag,
                           .algorithm = 13,
                           .role = GSLB_KEY_CSK,
                           .state = GSLB_KEY_ACTIVE,
                           .flags = 257,
                           .pub_len = 64,
                           .priv_len = 138,
                           .created = 1767225000};
    snprintf(k.zone, sizeof(k.zone), "%s", zone);
    for (int i = 0; i < k.pub_len; i++)
        k.pub[i] = (uint8_t)(i * 7 + 1);
    for (int i = 0; i < k.priv_len; i++)
        k.priv_der[i] = (uint8_t)(i * 13 + 5);
    snprintf(k.origin_node, sizeof(k.origin_node), "overwatch-1");
    return k;
}

static inline gslb_override_rec_t sample_override(const char *domain, const char *addr,
                                                  uint8_t state)
{
    gslb_override_rec_t o = {.addr = sample_addr(addr), .state = state, .when = 1767225800};
    snprintf(o.domain, sizeof(o.domain), "%s", domain);
    snprintf(o.reason, sizeof(o.reason), "maintenance window");
    snprintf(o.who, sizeof(o.who), "ops-token");
    return o;
}

static inline gslb_audit_rec_t sample_audit(int64_t time_ms, uint32_t seq)
{
    gslb_audit_rec_t a = {.time_ms = time_ms, .seq = seq};
    snprintf(a.actor, sizeof(a.actor), "ops-token");
    snprintf(a.action, sizeof(a.action), "override.put");
    snprintf(a.target, sizeof(a.target), "webapp.gslb.example.com/10.0.1.10");
    snprintf(a.detail, sizeof(a.detail), "{\"state\":\"down\"}");
    return a;
}

/* RFC 4034 appendix B key tag of the DNSKEY rdata of k. */
static inline uint16_t sample_key_tag(const gslb_dnskey_rec_t *k)
{
    uint8_t rd[4 + GSLB_KEY_PUB_MAX];
    uint32_t ac = 0;
    rd[0] = (uint8_t)(k->flags >> 8);
    rd[1] = (uint8_t)k->flags;
    rd[2] = 3;
    rd[3] = k->algorithm;
    memcpy(rd + 4, k->pub, k->pub_len);
    for (size_t i = 0; i < 4u + k->pub_len; i++)
        ac += (i & 1) ? rd[i] : (uint32_t)rd[i] << 8;
    ac += (ac >> 16) & 0xFFFF;
    return (uint16_t)(ac & 0xFFFF);
}
