/*
 * reload.c - SIGHUP / API configuration reload. See reload.h.
 */
#include "reload.h"
#include "sdnotify.h"

#include "api_hooks.h"
#include "gossip_rx.h"
#include "sweeper.h"
#include "gslb_log.h"
#include "gslb_time.h"
#include "keysync_glue.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t reload_lock = PTHREAD_MUTEX_INITIALIZER;

static void note_restart(const char *what)
{
    gslb_warn("reload: %s changed: requires restart (running value kept)", what);
}

/* Settings bound at start: log a change and keep the running value. */
static void keep_restart_only_settings(const gslb_config_t *cur, gslb_config_t *next)
{
    unsigned diff = gslb_config_restart_diff(&cur->restart, &next->restart);
    for (unsigned i = 0; i < GSLB_RESTART_GROUP_COUNT; i++)
        if (diff & (1u << i))
            note_restart(gslb_config_restart_name(1u << i));
    next->restart = cur->restart;
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
    if (gslb_sweeper_update(rt->sweeper, next) != 0)
        gslb_error("reload: sweeper kept its previous configured backends (out of memory)");
    gslb_log_set_level(next->log_level);
    gslb_log_set_format(next->log_format);
    /* DNSSEC peers, token, zones, timers: copied by the poller, which syncs at once */
    gslb_runtime_update_keysync(rt, next);
    /* API token, allowed networks, key_sync peers: copied by the API */
    gslb_runtime_update_api(rt, next);
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
    keep_restart_only_settings(rt->cfg, next);
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
