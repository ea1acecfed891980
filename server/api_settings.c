/*
 * api_settings.c - gslb_config_t -> gslb_api_settings_t. See api_settings.h.
 */
#include "api_settings.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

static void copy_listeners(const gslb_cfg_restart_t *r, gslb_api_settings_t *out)
{
    out->api_enabled = r->api_enabled;
    out->api_addr = r->api_addr;
    out->local_enabled = r->api_local_enabled;
    out->local_addr = r->api_local_addr;
    snprintf(out->tls_cert, sizeof(out->tls_cert), "%s", r->tls_cert);
    snprintf(out->tls_key, sizeof(out->tls_key), "%s", r->tls_key);
    out->metrics_enabled = r->metrics_enabled;
    out->metrics_addr = r->metrics_addr;
}

void gslb_api_settings_from_config(const gslb_config_t *cfg, gslb_api_settings_t *out)
{
    memset(out, 0, sizeof(*out));
    copy_listeners(&cfg->restart, out);
    snprintf(out->node_id, sizeof(out->node_id), "%s", cfg->restart.node_id);
    snprintf(out->region, sizeof(out->region), "%s", cfg->restart.region);
    /* api.token only: an agent token is never the admin token (no fallback) */
    snprintf(out->token, sizeof(out->token), "%s", cfg->api_token);
    snprintf(out->cluster_token, sizeof(out->cluster_token), "%s", cfg->key_sync_token);
    out->allow_plaintext_export = cfg->key_sync_allow_plaintext_export;
    out->audit_max_age_ms = cfg->audit_max_age_ms;
    out->audit_max_entries = cfg->audit_max_entries;
    out->allowed_net_count = cfg->allowed_net_count;
    out->allowed_networks = (const char(*)[64])cfg->allowed_networks;
    out->peer_count = cfg->peer_count;
    out->peers = (const char(*)[512])cfg->peers;
}

void gslb_api_settings_wipe(gslb_api_settings_t *set)
{
    OPENSSL_cleanse(set->token, sizeof(set->token));
    OPENSSL_cleanse(set->cluster_token, sizeof(set->cluster_token));
}
