/*
 * keysync_glue.c - the overwatch's side of DNSSEC key sync: its settings from
 * the configuration, start, reload and stop of the poller, and its state as
 * the API's DNSSEC hooks and metrics show it. See keysync_glue.h.
 */
#include "keysync_glue.h"

#include "gslb_log.h"
#include "keys.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_DNSKEY_TTL 3600

int gslb_keysync_settings_from_config(const gslb_config_t *cfg, gslb_keysync_settings_t *out)
{
    memset(out, 0, sizeof(*out));
    out->enabled = cfg->dnssec_enabled;
    out->algorithm = cfg->dnssec_algorithm;
    snprintf(out->node_id, sizeof(out->node_id), "%s", cfg->restart.node_id);
    snprintf(out->token, sizeof(out->token), "%s", cfg->key_sync_token); /* cluster secret */
    out->peer_count = cfg->peer_count;
    out->peers = (const char(*)[512])cfg->peers;
    out->poll_ms = cfg->key_sync_poll_ms;
    out->timeout_ms = cfg->key_sync_timeout_ms;
    snprintf(out->ca_file, sizeof(out->ca_file), "%s", cfg->key_sync_ca_file);
    out->tls_verify = cfg->key_sync_tls_verify;
    char(*zones)[GSLB_NAME_MAX] = calloc(cfg->zone_count ? cfg->zone_count : 1, sizeof(*zones));
    if (!zones) {
        gslb_keysync_settings_release(out);
        return GSLB_ENOMEM;
    }
    for (size_t i = 0; i < cfg->zone_count; i++)
        if (gslb_name_normalize(cfg->zones[i].name, zones[out->zone_count], sizeof(zones[0])) ==
            GSLB_OK)
            out->zone_count++;
    out->zones = (const char(*)[GSLB_NAME_MAX])zones;
    return GSLB_OK;
}

void gslb_keysync_settings_release(gslb_keysync_settings_t *set)
{
    free((void *)set->zones);
    set->zones = NULL;
    set->zone_count = 0;
    OPENSSL_cleanse(set->token, sizeof(set->token));
}

int gslb_runtime_start_keysync(gslb_runtime_t *rt, gslb_errbuf_t *eb)
{
    gslb_keysync_settings_t set;
    if (gslb_keysync_settings_from_config(rt->cfg, &set) != GSLB_OK)
        return gslb_errf(eb, GSLB_ENOMEM, "out of memory");
    gslb_keysync_t *ks = NULL;
    int rc = gslb_keysync_start(&ks, &rt->env, &set, &rt->dnssec_keys_pending, eb);
    gslb_keysync_settings_release(&set);
    if (rc == GSLB_OK)
        rt->keysync = ks;
    return rc;
}

void gslb_runtime_update_keysync(gslb_runtime_t *rt, const gslb_config_t *next)
{
    if (!rt->keysync)
        return;
    gslb_keysync_settings_t set;
    if (gslb_keysync_settings_from_config(next, &set) != GSLB_OK) {
        gslb_error("dnssec: key sync keeps its previous settings (out of memory)");
        return;
    }
    gslb_keysync_update(rt->keysync, &set);
    gslb_keysync_settings_release(&set);
}

void gslb_runtime_stop_keysync(gslb_runtime_t *rt)
{
    gslb_keysync_stop(rt->keysync);
    rt->keysync = NULL;
}

static int hook_present(void *ctx, const gslb_dnskey_rec_t *key, gslb_api_key_text_t *out)
{
    gslb_runtime_t *rt = ctx;
    memset(out, 0, sizeof(*out));
    out->ttl = rt->keysync ? gslb_keysync_dnskey_ttl(rt->keysync, key->zone) : DEFAULT_DNSKEY_TTL;
    return gslb_keys_present(key, out->ttl, out->dnskey, sizeof(out->dnskey), out->ds,
                             sizeof(out->ds));
}

/* The poller's state as the API shows it. */
static void to_api_state(const gslb_keysync_state_t *in, gslb_api_dnssec_sync_t *out)
{
    memset(out, 0, sizeof(*out));
    out->dnssec_enabled = in->dnssec_enabled;
    out->enabled = in->enabled;
    out->peer_count = in->peer_count;
    out->last_sync = in->last_sync;
    out->next_sync = in->next_sync;
    out->last_success = in->last_success;
    out->rounds = in->rounds;
    snprintf(out->last_error, sizeof(out->last_error), "%s", in->last_error);
}

static void hook_sync_state(void *ctx, gslb_api_dnssec_sync_t *out)
{
    gslb_runtime_t *rt = ctx;
    gslb_keysync_state_t s = {0};
    if (rt->keysync)
        gslb_keysync_state(rt->keysync, &s);
    to_api_state(&s, out);
}

static int hook_sync_now(void *ctx, gslb_api_dnssec_sync_t *out)
{
    gslb_runtime_t *rt = ctx;
    gslb_keysync_state_t s = {0};
    int rc = rt->keysync ? gslb_keysync_sync_now(rt->keysync, &s) : GSLB_ENOENT;
    to_api_state(&s, out);
    return rc;
}

const gslb_api_dnssec_ops_t gslb_keysync_api_ops = {
    .present = hook_present,
    .sync_state = hook_sync_state,
    .sync_now = hook_sync_now,
};

void gslb_keysync_fill_stats(gslb_runtime_t *rt, gslb_api_stats_t *st)
{
    if (!rt->keysync)
        return;
    gslb_keysync_state_t s;
    gslb_keysync_state(rt->keysync, &s);
    st->dnssec_sync_success = s.last_success;
    st->dnssec_last_sync = s.last_sync;
}
