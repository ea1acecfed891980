/*
 * routes_dnssec.c - DNSSEC routes (docs/api.md, docs/dnssec.md):
 *   GET  /api/v1/dnssec/status       keys (published / retired) and key sync state
 *   POST /api/v1/dnssec/sync         run a key sync round now (no token: it only makes
 *                                    the node poll its configured peers)
 *   GET  /api/v1/dnssec/keys/export  the published keys with their PKCS#8 private keys
 *                                    (bearer token + HTTPS; the peers' poller reads it)
 *   GET  /api/v1/dnssec/ds           DS records (SHA-256) for the parent zone
 * Keys are read from the store; presentation (DNSKEY/DS text) and the sync state
 * come from the server through gslb_api_dnssec_ops_t.
 */
#include "routes.h"
#include "views.h"

#include "gslb_log.h"
#include "store.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

/* The stored keys, copied out of the read snapshot (private parts wiped unless
 * the export needs them). */
typedef struct keylist {
    gslb_dnskey_rec_t *keys;
    size_t count, cap;
    bool keep_private;
} keylist_t;

static int collect_key(const gslb_dnskey_rec_t *k, void *ctx)
{
    keylist_t *l = ctx;
    if (l->count == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 8;
        gslb_dnskey_rec_t *n = realloc(l->keys, ncap * sizeof(*n));
        if (!n)
            return GSLB_ENOMEM;
        l->keys = n;
        l->cap = ncap;
    }
    gslb_dnskey_rec_t *dst = &l->keys[l->count++];
    *dst = *k;
    if (!l->keep_private) {
        OPENSSL_cleanse(dst->priv_der, sizeof(dst->priv_der));
        dst->priv_len = 0;
    }
    return 0;
}

static void keylist_free(keylist_t *l)
{
    if (l->keys)
        OPENSSL_cleanse(l->keys, l->cap * sizeof(*l->keys));
    free(l->keys);
    memset(l, 0, sizeof(*l));
}

/* Reads every stored key; returns 0 or an error status already set on rq. */
static int load_keys(gslb_req_t *rq, keylist_t *l)
{
    MDB_txn *txn = NULL;
    int status = gslb_req_read_begin(rq, &txn);
    if (status != 0)
        return status;
    int rc = gslb_store_foreach_dnskey(rq->api->env, txn, NULL, collect_key, l);
    gslb_req_read_end(rq);
    if (rc != GSLB_OK) {
        keylist_free(l);
        return gslb_req_store_error(rq, rc, "dnssec keys");
    }
    return 0;
}

static bool is_published(const gslb_dnskey_rec_t *k)
{
    return k->state == GSLB_KEY_ACTIVE || k->state == GSLB_KEY_PUBLISHED;
}

static const gslb_api_dnssec_ops_t *dnssec_ops(const gslb_req_t *rq)
{
    return rq->api->hooks.dnssec;
}

static json_t *iso_or_null(int64_t t)
{
    return t > 0 ? gslb_json_time(t) : json_null();
}

/* ---- status -------------------------------------------------------------------------- */

static json_t *key_view(gslb_req_t *rq, const gslb_dnskey_rec_t *k)
{
    const gslb_api_dnssec_ops_t *ops = dnssec_ops(rq);
    gslb_api_key_text_t text = {0};
    bool have_text = ops->present(rq->api->hooks.ctx, k, &text) == 0;
    return json_pack("{s:o, s:i, s:i, s:s, s:s, s:i, s:o, s:o, s:o, s:o}", "zone",
                     gslb_json_str(k->zone), "key_tag", (int)k->key_tag, "algorithm",
                     (int)k->algorithm, "role", gslb_key_role_name(k->role), "state",
                     gslb_key_state_name(k->state), "flags", (int)k->flags, "created",
                     iso_or_null(k->created), "origin_node", gslb_json_str(k->origin_node),
                     "dnskey", have_text ? gslb_json_str(text.dnskey) : json_null(), "ds",
                     have_text ? gslb_json_str(text.ds) : json_null());
}

/* Exactly the HA guide's shape of `.sync`. */
static json_t *sync_view(const gslb_api_dnssec_sync_t *s)
{
    return json_pack("{s:b, s:o, s:o, s:o, s:I}", "enabled", s->enabled, "last_sync",
                     iso_or_null(s->last_sync), "last_sync_error",
                     s->last_error[0] ? gslb_json_str(s->last_error) : json_null(), "next_sync",
                     iso_or_null(s->next_sync), "peer_count", (json_int_t)s->peer_count);
}

int gslb_route_dnssec_status(gslb_req_t *rq)
{
    const gslb_api_dnssec_ops_t *ops = dnssec_ops(rq);
    if (!ops)
        return gslb_req_error(rq, 503, "DNSSEC key management is not running in this process");
    keylist_t l = {0};
    int status = load_keys(rq, &l);
    if (status != 0)
        return status;
    gslb_api_dnssec_sync_t st;
    ops->sync_state(rq->api->hooks.ctx, &st);
    json_t *keys = json_array(), *retired = json_array();
    for (size_t i = 0; keys && retired && i < l.count; i++)
        json_array_append_new(is_published(&l.keys[i]) ? keys : retired, key_view(rq, &l.keys[i]));
    keylist_free(&l);
    return gslb_req_reply(rq, 200,
                          json_pack("{s:b, s:o, s:o, s:o}", "enabled", st.dnssec_enabled, "keys",
                                    keys, "retired_keys", retired, "sync", sync_view(&st)));
}

/* ---- sync --------------------------------------------------------------------------- */

int gslb_route_dnssec_sync(gslb_req_t *rq)
{
    const gslb_api_dnssec_ops_t *ops = dnssec_ops(rq);
    if (!ops)
        return gslb_req_error(rq, 503, "DNSSEC key management is not running in this process");
    gslb_api_dnssec_sync_t st;
    gslb_info("api: DNSSEC key sync requested by %s", rq->client);
    int rc = ops->sync_now(rq->api->hooks.ctx, &st);
    if (rc == GSLB_ENOENT)
        return gslb_req_error(rq, 409,
                              st.dnssec_enabled ? "no overwatch.dnssec.key_sync.peers configured: "
                                                  "nothing to sync"
                                                : "overwatch.dnssec.enabled is false");
    if (rc == GSLB_EAGAIN)
        return gslb_req_reply(
            rq, 202, json_pack("{s:s, s:o}", "status", "sync started", "sync", sync_view(&st)));
    if (rc != 0)
        return gslb_req_error(rq, 500, "key sync: %s", gslb_strerror(rc));
    if (!st.last_success)
        return gslb_req_reply(rq, 502,
                              json_pack("{s:s, s:o, s:o, s:i}", "status", "sync failed", "sync",
                                        sync_view(&st), "error", gslb_json_str(st.last_error),
                                        "code", 502));
    return gslb_req_reply(rq, 200,
                          json_pack("{s:s, s:o}", "status", "synced", "sync", sync_view(&st)));
}

/* ---- export ------------------------------------------------------------------------- */

static json_t *base64_json(const uint8_t *p, size_t n)
{
    char *buf = malloc(4 * ((n + 2) / 3) + 1);
    if (!buf)
        return NULL;
    int len = EVP_EncodeBlock((unsigned char *)buf, p, (int)n);
    json_t *s = json_stringn(buf, (size_t)len);
    OPENSSL_cleanse(buf, (size_t)len);
    free(buf);
    return s;
}

static json_t *export_view(const gslb_dnskey_rec_t *k)
{
    return json_pack("{s:o, s:i, s:i, s:s, s:s, s:i, s:I, s:o, s:o, s:o}", "zone",
                     gslb_json_str(k->zone), "key_tag", (int)k->key_tag, "algorithm",
                     (int)k->algorithm, "role", gslb_key_role_name(k->role), "state",
                     gslb_key_state_name(k->state), "flags", (int)k->flags, "created",
                     (json_int_t)k->created, "origin_node", gslb_json_str(k->origin_node),
                     "public_key", base64_json(k->pub, k->pub_len), "private_key",
                     base64_json(k->priv_der, k->priv_len));
}

int gslb_route_dnssec_export(gslb_req_t *rq)
{
    keylist_t l = {.keep_private = true};
    int status = load_keys(rq, &l);
    if (status != 0)
        return status;
    char node_id[GSLB_LABEL_MAX], region[GSLB_LABEL_MAX];
    gslb_req_identity(rq, node_id, region, sizeof(node_id));
    json_t *keys = json_array();
    size_t exported = 0;
    for (size_t i = 0; keys && i < l.count; i++) {
        if (!is_published(&l.keys[i]))
            continue; /* a node hands out the keys it publishes, never retired ones */
        json_array_append_new(keys, export_view(&l.keys[i]));
        exported++;
    }
    keylist_free(&l);
    gslb_info("api: DNSSEC key export (%zu key(s)) to %s over %s", exported, rq->client,
              rq->is_tls ? "https" : "plain http");
    return gslb_req_reply(
        rq, 200, json_pack("{s:i, s:s, s:o}", "version", 1, "node_id", node_id, "keys", keys));
}

/* ---- DS for the parent -------------------------------------------------------------- */

/* The digest (last field) of a DS presentation line. */
static const char *ds_digest(const char *ds)
{
    const char *sp = strrchr(ds, ' ');
    return sp ? sp + 1 : ds;
}

static json_t *ds_view(gslb_req_t *rq, const gslb_dnskey_rec_t *k)
{
    gslb_api_key_text_t text = {0};
    if (dnssec_ops(rq)->present(rq->api->hooks.ctx, k, &text) != 0)
        return NULL;
    return json_pack("{s:i, s:i, s:i, s:s, s:s, s:s}", "key_tag", (int)k->key_tag, "algorithm",
                     (int)k->algorithm, "digest_type", 2, "digest", ds_digest(text.ds), "ds",
                     text.ds, "dnskey", text.dnskey);
}

/* The entry of zone in zones (created at the end when missing). */
static json_t *zone_entry(json_t *zones, const char *zone)
{
    size_t n = json_array_size(zones);
    if (n) {
        json_t *last = json_array_get(zones, n - 1);
        if (strcmp(json_string_value(json_object_get(last, "zone")), zone) == 0)
            return json_object_get(last, "ds");
    }
    json_t *list = json_array();
    json_array_append_new(zones, json_pack("{s:o, s:o}", "zone", gslb_json_str(zone), "ds", list));
    return list;
}

int gslb_route_dnssec_ds(gslb_req_t *rq)
{
    if (!dnssec_ops(rq))
        return gslb_req_error(rq, 503, "DNSSEC key management is not running in this process");
    keylist_t l = {0};
    int status = load_keys(rq, &l);
    if (status != 0)
        return status;
    json_t *zones = json_array();
    for (size_t i = 0; zones && i < l.count; i++) {
        if (!is_published(&l.keys[i]))
            continue;
        json_t *ds = ds_view(rq, &l.keys[i]);
        json_t *list = ds ? zone_entry(zones, l.keys[i].zone) : NULL;
        if (list)
            json_array_append_new(list, ds);
        else
            json_decref(ds);
    }
    keylist_free(&l);
    return gslb_req_reply(rq, 200, json_pack("{s:o}", "zones", zones));
}
