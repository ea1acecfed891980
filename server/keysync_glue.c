/*
 * keysync_glue.c - the overwatch's side of DNSSEC key sync: starts and stops the
 * poller for the runtime and adapts it to the API's DNSSEC hooks and metrics.
 */
#include "keysync_glue.h"

#include "keys.h"

#include <string.h>

#define DEFAULT_DNSKEY_TTL 3600

int gslb_runtime_start_keysync(gslb_runtime_t *rt, gslb_errbuf_t *eb)
{
    gslb_keysync_t *ks = NULL;
    int rc = gslb_keysync_start(&ks, &rt->env, rt->cfg, eb);
    if (rc == GSLB_OK)
        rt->keysync = ks;
    return rc;
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

static void hook_sync_state(void *ctx, gslb_api_dnssec_sync_t *out)
{
    gslb_runtime_t *rt = ctx;
    if (rt->keysync)
        gslb_keysync_state(rt->keysync, out);
    else
        memset(out, 0, sizeof(*out));
}

static int hook_sync_now(void *ctx, gslb_api_dnssec_sync_t *out)
{
    gslb_runtime_t *rt = ctx;
    if (!rt->keysync) {
        memset(out, 0, sizeof(*out));
        return GSLB_ENOENT;
    }
    return gslb_keysync_sync_now(rt->keysync, out);
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
    gslb_api_dnssec_sync_t s;
    gslb_keysync_state(rt->keysync, &s);
    st->dnssec_sync_success = s.last_success;
    st->dnssec_last_sync = s.last_sync;
}
