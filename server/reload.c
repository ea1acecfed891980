/*
 * reload.c - SIGHUP / API configuration reload. See reload.h.
 */
#include "reload.h"
#include "sdnotify.h"

#include "api.h"
#include "gossip_rx.h"
#include "gslb_log.h"
#include "gslb_time.h"
#include "keysync_glue.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t reload_lock = PTHREAD_MUTEX_INITIALIZER;

static bool hostport_changed(const gslb_hostport_t *a, const gslb_hostport_t *b)
{
    return a->port != b->port || strcmp(a->host, b->host) != 0;
}

static void note_restart(const char *what)
{
    gslb_warn("reload: %s changed: requires restart (running value kept)", what);
}

/* Settings bound at start: log a change and keep the running value. */
static void keep_start_only_settings(const gslb_config_t *cur, gslb_config_t *next)
{
    if (strcmp(cur->data_dir, next->data_dir) != 0 || cur->map_size != next->map_size)
        note_restart("overwatch.data_dir/storage.map_size");
    if (hostport_changed(&cur->dns_listen, &next->dns_listen) ||
        cur->dns_workers != next->dns_workers || cur->edns_payload != next->edns_payload ||
        cur->tcp_idle_timeout_ms != next->tcp_idle_timeout_ms ||
        cur->tcp_max_clients != next->tcp_max_clients)
        note_restart("dns.listen_address/workers/edns/tcp settings");
    if (hostport_changed(&cur->gossip_bind, &next->gossip_bind))
        note_restart("overwatch.gossip.bind_address");
    if (cur->api_enabled != next->api_enabled ||
        hostport_changed(&cur->api_addr, &next->api_addr) ||
        strcmp(cur->tls_cert, next->tls_cert) != 0 || strcmp(cur->tls_key, next->tls_key) != 0)
        note_restart("api.enabled/address/tls_cert/tls_key");
    if (cur->api_local_enabled != next->api_local_enabled ||
        hostport_changed(&cur->api_local_addr, &next->api_local_addr))
        note_restart("api.local_address");
    if (cur->metrics_enabled != next->metrics_enabled ||
        hostport_changed(&cur->metrics_addr, &next->metrics_addr))
        note_restart("metrics.enabled/address");
    if (strcmp(cur->node_id, next->node_id) != 0 || strcmp(cur->region, next->region) != 0)
        note_restart("overwatch.identity");
    if (cur->stale_threshold_ms != next->stale_threshold_ms ||
        cur->stale_remove_after_ms != next->stale_remove_after_ms)
        note_restart("overwatch.stale");
    if (cur->validation_enabled != next->validation_enabled ||
        cur->validation_interval_ms != next->validation_interval_ms ||
        cur->validation_timeout_ms != next->validation_timeout_ms)
        note_restart("overwatch.validation");

    memcpy(next->data_dir, cur->data_dir, sizeof(next->data_dir));
    next->map_size = cur->map_size;
    next->dns_listen = cur->dns_listen;
    next->dns_workers = cur->dns_workers;
    next->edns_payload = cur->edns_payload;
    next->tcp_idle_timeout_ms = cur->tcp_idle_timeout_ms;
    next->tcp_max_clients = cur->tcp_max_clients;
    next->gossip_bind = cur->gossip_bind;
    next->api_enabled = cur->api_enabled;
    next->api_addr = cur->api_addr;
    next->api_local_enabled = cur->api_local_enabled;
    next->api_local_addr = cur->api_local_addr;
    memcpy(next->tls_cert, cur->tls_cert, sizeof(next->tls_cert));
    memcpy(next->tls_key, cur->tls_key, sizeof(next->tls_key));
    next->metrics_enabled = cur->metrics_enabled;
    next->metrics_addr = cur->metrics_addr;
    memcpy(next->node_id, cur->node_id, sizeof(next->node_id));
    memcpy(next->region, cur->region, sizeof(next->region));
    next->stale_threshold_ms = cur->stale_threshold_ms;
    next->stale_remove_after_ms = cur->stale_remove_after_ms;
    next->validation_enabled = cur->validation_enabled;
    next->validation_interval_ms = cur->validation_interval_ms;
    next->validation_timeout_ms = cur->validation_timeout_ms;
}

static void count_result(gslb_runtime_t *rt, bool ok)
{
    if (ok) {
        __atomic_add_fetch(&rt->reloads_ok, 1, __ATOMIC_RELAXED);
        __atomic_store_n(&rt->last_reload, gslb_wall_s(), __ATOMIC_RELAXED);
    } else {
        __atomic_add_fetch(&rt->reloads_failed, 1, __ATOMIC_RELAXED);
    }
}

/* Hand the new configuration to the services, then make it rt->cfg. */
static void install_config(gslb_runtime_t *rt, gslb_config_t *next)
{
    gslb_errbuf_t eb = {{0}};
    if (rt->gossip && gslb_gossip_rx_update(rt->gossip, next, &eb) != 0)
        gslb_error("reload: gossip receiver kept its previous tokens/key: %s", eb.msg);
    gslb_log_set_level(next->log_level);
    gslb_log_set_format(next->log_format);
    /* DNSSEC peers, token, zones, timers: copied by the poller, which syncs at once */
    if (rt->keysync)
        gslb_keysync_update(rt->keysync, next);
    /* After gslb_api_set_config() returns no API thread references the old one. */
    if (rt->api)
        gslb_api_set_config(rt->api, next);
    gslb_config_t *old = rt->cfg;
    __atomic_store_n(&rt->cfg, next, __ATOMIC_RELEASE);
    gslb_config_free(old);
    free(old);
}

static int reload_locked(gslb_runtime_t *rt, gslb_errbuf_t *eb)
{
    if (rt->demo)
        return gslb_errf(eb, GSLB_ENOTSUP,
                         "the --demo configuration is built in: there is no file to reload");
    gslb_config_t *next = calloc(1, sizeof(*next));
    if (!next)
        return gslb_errf(eb, GSLB_ENOMEM, "out of memory");
    int rc = gslb_config_load(rt->config_path, next, eb);
    if (rc != 0) {
        free(next);
        return rc;
    }
    keep_start_only_settings(rt->cfg, next);
    rc = gslb_config_apply_to_store(next, &rt->env, eb);
    if (rc != 0) {
        gslb_config_free(next);
        free(next);
        return rc;
    }
    install_config(rt, next);
    return 0;
}

int gslb_reload_config(gslb_runtime_t *rt, gslb_errbuf_t *eb)
{
    gslb_info("reload: reading %s", rt->demo ? "<embedded>" : rt->config_path);
    gslb_sd_notify("RELOADING=1");
    pthread_mutex_lock(&reload_lock);
    int rc = reload_locked(rt, eb);
    count_result(rt, rc == 0);
    if (rc == 0)
        gslb_info("reload: applied %s: %zu zone(s), %zu domain(s), %zu region(s), %zu "
                  "DNSSEC peer(s)",
                  rt->cfg->source, rt->cfg->zone_count, rt->cfg->domain_count,
                  rt->cfg->region_count, rt->cfg->peer_count);
    pthread_mutex_unlock(&reload_lock);
    gslb_sd_notify("READY=1");
    if (rc != 0)
        gslb_error("reload: rejected, previous configuration kept: %s",
                   eb && eb->msg[0] ? eb->msg : gslb_strerror(rc));
    return rc;
}
