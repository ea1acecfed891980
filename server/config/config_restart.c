/*
 * config_restart.c - which restart-only settings (gslb_cfg_restart_t) a new
 * configuration changes: the one list reload.c logs from. See config.h.
 */
#include "config.h"

#include <string.h>

static bool hostport_differs(const gslb_hostport_t *a, const gslb_hostport_t *b)
{
    return a->port != b->port || strcmp(a->host, b->host) != 0;
}

static bool storage_differs(const gslb_cfg_restart_t *a, const gslb_cfg_restart_t *b)
{
    return strcmp(a->data_dir, b->data_dir) != 0 || strcmp(a->user, b->user) != 0 ||
           a->map_size != b->map_size;
}

static bool dns_differs(const gslb_cfg_restart_t *a, const gslb_cfg_restart_t *b)
{
    return hostport_differs(&a->dns_listen, &b->dns_listen) || a->dns_workers != b->dns_workers ||
           a->edns_payload != b->edns_payload || a->tcp_idle_timeout_ms != b->tcp_idle_timeout_ms ||
           a->tcp_max_clients != b->tcp_max_clients ||
           a->tcp_message_timeout_ms != b->tcp_message_timeout_ms ||
           a->tcp_max_clients_per_source != b->tcp_max_clients_per_source;
}

static bool gossip_differs(const gslb_cfg_restart_t *a, const gslb_cfg_restart_t *b)
{
    return hostport_differs(&a->gossip_bind, &b->gossip_bind);
}

static bool api_differs(const gslb_cfg_restart_t *a, const gslb_cfg_restart_t *b)
{
    return a->api_enabled != b->api_enabled || hostport_differs(&a->api_addr, &b->api_addr) ||
           strcmp(a->tls_cert, b->tls_cert) != 0 || strcmp(a->tls_key, b->tls_key) != 0;
}

static bool api_local_differs(const gslb_cfg_restart_t *a, const gslb_cfg_restart_t *b)
{
    return a->api_local_enabled != b->api_local_enabled ||
           hostport_differs(&a->api_local_addr, &b->api_local_addr);
}

static bool metrics_differs(const gslb_cfg_restart_t *a, const gslb_cfg_restart_t *b)
{
    return a->metrics_enabled != b->metrics_enabled ||
           hostport_differs(&a->metrics_addr, &b->metrics_addr);
}

static bool identity_differs(const gslb_cfg_restart_t *a, const gslb_cfg_restart_t *b)
{
    return strcmp(a->node_id, b->node_id) != 0 || strcmp(a->region, b->region) != 0;
}

static bool stale_differs(const gslb_cfg_restart_t *a, const gslb_cfg_restart_t *b)
{
    return a->stale_threshold_ms != b->stale_threshold_ms ||
           a->stale_remove_after_ms != b->stale_remove_after_ms ||
           a->stale_deaf_percent != b->stale_deaf_percent ||
           a->stale_deaf_min_agents != b->stale_deaf_min_agents;
}

static bool validation_differs(const gslb_cfg_restart_t *a, const gslb_cfg_restart_t *b)
{
    return a->validation_enabled != b->validation_enabled ||
           a->validation_interval_ms != b->validation_interval_ms ||
           a->validation_timeout_ms != b->validation_timeout_ms;
}

typedef struct restart_group {
    unsigned bit;
    const char *keys; /* as the reload log names them */
    bool (*differs)(const gslb_cfg_restart_t *a, const gslb_cfg_restart_t *b);
} restart_group_t;

static const restart_group_t GROUPS[GSLB_RESTART_GROUP_COUNT] = {
    {GSLB_RESTART_STORAGE, "overwatch.data_dir/user/storage.map_size", storage_differs},
    {GSLB_RESTART_DNS, "dns.listen_address/workers/edns/tcp settings", dns_differs},
    {GSLB_RESTART_GOSSIP, "overwatch.gossip.bind_address", gossip_differs},
    {GSLB_RESTART_API, "api.enabled/address/tls_cert/tls_key", api_differs},
    {GSLB_RESTART_API_LOCAL, "api.local_address", api_local_differs},
    {GSLB_RESTART_METRICS, "metrics.enabled/address", metrics_differs},
    {GSLB_RESTART_IDENTITY, "overwatch.identity", identity_differs},
    {GSLB_RESTART_STALE, "overwatch.stale", stale_differs},
    {GSLB_RESTART_VALIDATION, "overwatch.validation", validation_differs},
};

unsigned gslb_config_restart_diff(const gslb_cfg_restart_t *cur, const gslb_cfg_restart_t *next)
{
    unsigned diff = 0;
    for (size_t i = 0; i < GSLB_RESTART_GROUP_COUNT; i++)
        if (GROUPS[i].differs(cur, next))
            diff |= GROUPS[i].bit;
    return diff;
}

const char *gslb_config_restart_name(unsigned group)
{
    for (size_t i = 0; i < GSLB_RESTART_GROUP_COUNT; i++)
        if (GROUPS[i].bit == group)
            return GROUPS[i].keys;
    return NULL;
}
