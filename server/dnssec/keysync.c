/*
 * keysync.c - DNSSEC keys at start, the key sync poller thread and its state.
 * See keysync.h and docs/dnssec.md.
 */
#include "keysync.h"

#include "gslb_log.h"
#include "gslb_time.h"
#include "json_bounded.h"
#include "keys.h"
#include "periodic.h"
#include "store.h"

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define EXPORT_PATH "/api/v1/dnssec/keys/export"
#define EXPORT_BODY_MAX (1024 * 1024)
#define MAX_KEYS_PER_PEER 256
#define SYNC_WAIT_MARGIN_MS 5000 /* sync_now waits key_sync.timeout plus this */
#define MAX_SYNC_WAITERS 2       /* API threads that may wait for a round at once */
#define POLL_SLICE_MS 100        /* curl_multi_poll slice: a stop is noticed this fast */
#define DEFAULT_DNSKEY_TTL 3600
#define MAX_FUTURE_CREATED_S 86400 /* clock skew tolerated on an imported key's `created` */

/* ---- settings (a private copy of gslb_keysync_settings_t) ------------------------- */

typedef struct settings {
    bool enabled;
    uint8_t algorithm;
    char node_id[GSLB_LABEL_MAX];
    char token[256];
    size_t peer_count;
    char (*peers)[512];
    size_t zone_count;
    char (*zones)[GSLB_NAME_MAX];
    uint64_t poll_ms, timeout_ms;
    char ca_file[4096];
    bool tls_verify;
} settings_t;

static void settings_free(settings_t *s)
{
    free(s->peers);
    free(s->zones);
    OPENSSL_cleanse(s, sizeof(*s));
}

static int settings_from(settings_t *s, const gslb_keysync_settings_t *in)
{
    memset(s, 0, sizeof(*s));
    s->enabled = in->enabled;
    s->algorithm = in->algorithm;
    snprintf(s->node_id, sizeof(s->node_id), "%s", in->node_id);
    snprintf(s->token, sizeof(s->token), "%s", in->token);
    s->poll_ms = in->poll_ms ? in->poll_ms : 3600000;
    s->timeout_ms = in->timeout_ms ? in->timeout_ms : 30000;
    snprintf(s->ca_file, sizeof(s->ca_file), "%s", in->ca_file);
    s->tls_verify = in->tls_verify;
    s->peers = calloc(in->peer_count ? in->peer_count : 1, sizeof(*s->peers));
    s->zones = calloc(in->zone_count ? in->zone_count : 1, sizeof(*s->zones));
    if (!s->peers || !s->zones) {
        settings_free(s);
        return GSLB_ENOMEM;
    }
    for (size_t i = 0; i < in->peer_count; i++)
        memcpy(s->peers[i], in->peers[i], sizeof(s->peers[i]));
    s->peer_count = in->peer_count;
    for (size_t i = 0; i < in->zone_count; i++)
        memcpy(s->zones[i], in->zones[i], sizeof(s->zones[i]));
    s->zone_count = in->zone_count;
    return GSLB_OK;
}

static int settings_copy(settings_t *dst, const settings_t *src)
{
    *dst = *src;
    dst->peers = calloc(src->peer_count ? src->peer_count : 1, sizeof(*dst->peers));
    dst->zones = calloc(src->zone_count ? src->zone_count : 1, sizeof(*dst->zones));
    if (!dst->peers || !dst->zones) {
        settings_free(dst);
        return GSLB_ENOMEM;
    }
    memcpy(dst->peers, src->peers, src->peer_count * sizeof(*dst->peers));
    memcpy(dst->zones, src->zones, src->zone_count * sizeof(*dst->zones));
    return GSLB_OK;
}

static bool zone_configured(const settings_t *s, const char *zone)
{
    for (size_t i = 0; i < s->zone_count; i++)
        if (strcmp(s->zones[i], zone) == 0)
            return true;
    return false;
}

/* ---- the result of a round ---------------------------------------------------------- */

typedef struct round_result {
    bool fetched;     /* peers were asked */
    bool success;     /* keysync.h: the definition of a successful round */
    size_t answered;  /* peers that returned a usable key set */
    size_t imported;  /* new keys stored */
    size_t generated; /* keys generated */
    size_t disagree;  /* peers that answered and sign a zone with another key than we do */
    bool changed;     /* this node's key set changed (imports, generated, convergence) */
    char error[512];  /* problems, "" = none */
} round_result_t;

static void add_error(round_result_t *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void add_error(round_result_t *r, const char *fmt, ...)
{
    size_t used = strlen(r->error);
    if (used + 4 >= sizeof(r->error))
        return;
    if (used) {
        memcpy(r->error + used, "; ", 3);
        used += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error + used, sizeof(r->error) - used, fmt, ap);
    va_end(ap);
}

/* ---- parsing an export ---------------------------------------------------------------- */

static int b64_decode(const char *text, uint8_t *out, size_t cap, uint16_t *len)
{
    size_t n = strlen(text);
    if (n == 0 || n % 4 != 0 || n / 4 * 3 > cap + 2)
        return GSLB_EINVAL;
    uint8_t *tmp = malloc(n / 4 * 3);
    if (!tmp)
        return GSLB_ENOMEM;
    int got = EVP_DecodeBlock(tmp, (const unsigned char *)text, (int)n);
    int rc = GSLB_EINVAL;
    if (got >= 0) {
        size_t pad = (text[n - 1] == '=') + (text[n - 2] == '=');
        size_t real = (size_t)got - pad;
        if (real <= cap) {
            memcpy(out, tmp, real);
            *len = (uint16_t)real;
            rc = GSLB_OK;
        }
    }
    OPENSSL_cleanse(tmp, n / 4 * 3);
    free(tmp);
    return rc;
}

static int json_u16(json_t *o, const char *name, uint16_t *out)
{
    json_t *v = json_object_get(o, name);
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 65535)
        return GSLB_EINVAL;
    *out = (uint16_t)json_integer_value(v);
    return GSLB_OK;
}

static int role_from_name(const char *name, uint8_t *role)
{
    if (!name)
        return GSLB_EINVAL;
    for (uint8_t r = GSLB_KEY_CSK; r <= GSLB_KEY_ZSK; r++)
        if (strcasecmp(name, gslb_key_role_name(r)) == 0) {
            *role = r;
            return GSLB_OK;
        }
    return GSLB_EINVAL;
}

/* The state a peer exports its key in (ACTIVE signs there); RETIRED when unknown. */
static uint8_t state_from_name(const char *name)
{
    for (uint8_t st = GSLB_KEY_ACTIVE; name && st <= GSLB_KEY_RETIRED; st++)
        if (strcasecmp(name, gslb_key_state_name(st)) == 0)
            return st;
    return GSLB_KEY_RETIRED;
}

static int parse_key(json_t *o, gslb_dnskey_rec_t *k, gslb_errbuf_t *eb)
{
    memset(k, 0, sizeof(*k));
    uint16_t alg = 0;
    const char *zone = json_string_value(json_object_get(o, "zone"));
    const char *origin = json_string_value(json_object_get(o, "origin_node"));
    const char *pub = json_string_value(json_object_get(o, "public_key"));
    const char *priv = json_string_value(json_object_get(o, "private_key"));
    json_t *created = json_object_get(o, "created");
    if (!json_is_object(o) || !zone || !pub || !priv || !json_is_integer(created) ||
        json_u16(o, "key_tag", &k->key_tag) || json_u16(o, "algorithm", &alg) || alg > 255 ||
        json_u16(o, "flags", &k->flags) ||
        role_from_name(json_string_value(json_object_get(o, "role")), &k->role))
        return gslb_errf(eb, GSLB_EINVAL, "a key entry lacks a field or has a bad one");
    if (gslb_name_normalize(zone, k->zone, sizeof(k->zone)) != GSLB_OK)
        return gslb_errf(eb, GSLB_EINVAL, "bad zone name in a key entry");
    k->algorithm = (uint8_t)alg;
    k->created = json_integer_value(created);
    snprintf(k->origin_node, sizeof(k->origin_node), "%s", origin ? origin : "");
    k->state = state_from_name(json_string_value(json_object_get(o, "state")));
    if (b64_decode(pub, k->pub, sizeof(k->pub), &k->pub_len) ||
        b64_decode(priv, k->priv_der, sizeof(k->priv_der), &k->priv_len))
        return gslb_errf(eb, GSLB_EINVAL, "key %u of %s: bad base64 key material", k->key_tag,
                         k->zone);
    return GSLB_OK;
}

int gslb_keysync_parse_export(const char *body, size_t len, gslb_dnskey_rec_t **keys, size_t *n,
                              gslb_errbuf_t *eb)
{
    *keys = NULL;
    *n = 0;
    json_error_t jerr;
    json_t *root = gslb_json_loadb_bounded(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return gslb_errf(eb, GSLB_EINVAL, "malformed JSON: %s", jerr.text);
    json_t *list = json_object_get(root, "keys");
    json_t *version = json_object_get(root, "version");
    int rc = GSLB_OK;
    if (version && (!json_is_integer(version) || json_integer_value(version) != 1)) {
        rc = gslb_errf(eb, GSLB_EINVAL, "unsupported export version (expected 1)");
    } else if (!json_is_array(list) || json_array_size(list) > MAX_KEYS_PER_PEER) {
        rc = gslb_errf(eb, GSLB_EINVAL, "no \"keys\" list (or more than %d keys)",
                       MAX_KEYS_PER_PEER);
    } else if (json_array_size(list) > 0) {
        *keys = calloc(json_array_size(list), sizeof(**keys));
        if (!*keys)
            rc = gslb_errf(eb, GSLB_ENOMEM, "out of memory");
        for (size_t i = 0; rc == GSLB_OK && i < json_array_size(list); i++) {
            rc = parse_key(json_array_get(list, i), &(*keys)[i], eb);
            if (rc == GSLB_OK)
                (*n)++;
        }
    }
    json_decref(root);
    if (rc != GSLB_OK && *keys) {
        OPENSSL_cleanse(*keys, json_array_size(list) * sizeof(**keys));
        free(*keys);
        *keys = NULL;
        *n = 0;
    }
    return rc;
}

/* ---- fetching (libcurl multi) --------------------------------------------------------- */

enum peer_outcome { PEER_PENDING = 0, PEER_OK, PEER_UNREACHABLE, PEER_FAILED };

typedef struct peer_fetch {
    const char *url_base;
    char url[600];
    CURL *easy;
    char *body;
    size_t len;
    bool too_big;
    enum peer_outcome outcome;
    bool disagrees; /* answered, but signs a zone with another key than this node */
    bool keyless;   /* answered without an active key for a configured zone (yet) */
    char error[256];
    gslb_dnskey_rec_t *keys;
    size_t key_count;
} peer_fetch_t;

static size_t collect_body(char *data, size_t size, size_t nmemb, void *ud)
{
    peer_fetch_t *p = ud;
    size_t n = size * nmemb;
    if (p->len + n > EXPORT_BODY_MAX) {
        p->too_big = true;
        return 0;
    }
    char *grown = realloc(p->body, p->len + n + 1);
    if (!grown)
        return 0;
    p->body = grown;
    memcpy(p->body + p->len, data, n);
    p->len += n;
    p->body[p->len] = '\0';
    return n;
}

static void wipe_body(peer_fetch_t *p)
{
    if (p->body)
        OPENSSL_cleanse(p->body, p->len);
    free(p->body);
    p->body = NULL;
    p->len = 0;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_global(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int setup_easy(peer_fetch_t *p, const settings_t *s, struct curl_slist *headers)
{
    size_t blen = strlen(p->url_base);
    while (blen && p->url_base[blen - 1] == '/')
        blen--;
    snprintf(p->url, sizeof(p->url), "%.*s%s", (int)blen, p->url_base, EXPORT_PATH);
    p->easy = curl_easy_init();
    if (!p->easy)
        return GSLB_ENOMEM;
    CURL *e = p->easy;
    curl_easy_setopt(e, CURLOPT_URL, p->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, p);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L); /* the token never follows a redirect */
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)s->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)s->timeout_ms);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, p);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "gslb-overwatch/" GSLB_VERSION " keysync");
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, s->tls_verify ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, s->tls_verify ? 2L : 0L);
    if (s->ca_file[0])
        curl_easy_setopt(e, CURLOPT_CAINFO, s->ca_file);
    return GSLB_OK;
}

/* Classify a transfer: unreachable peers (resolve, connect, timeout) versus
 * peers that answered wrongly (TLS trust, HTTP status, body). */
static void finish_transfer(peer_fetch_t *p, CURLcode code)
{
    if (code == CURLE_COULDNT_RESOLVE_HOST || code == CURLE_COULDNT_CONNECT ||
        code == CURLE_OPERATION_TIMEDOUT) {
        p->outcome = PEER_UNREACHABLE;
        snprintf(p->error, sizeof(p->error), "%s", curl_easy_strerror(code));
        return;
    }
    if (code != CURLE_OK) {
        p->outcome = PEER_FAILED;
        snprintf(p->error, sizeof(p->error), "%s",
                 p->too_big ? "answer larger than 1 MiB" : curl_easy_strerror(code));
        return;
    }
    long status = 0;
    curl_easy_getinfo(p->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        p->outcome = PEER_FAILED;
        snprintf(p->error, sizeof(p->error), "HTTP %ld%s", status,
                 status == 401   ? " (check overwatch.dnssec.key_sync.token)"
                 : status == 403 ? " (TLS required, or client not in api.allowed_networks)"
                                 : "");
        return;
    }
    gslb_errbuf_t eb = {{0}};
    if (gslb_keysync_parse_export(p->body ? p->body : "", p->len, &p->keys, &p->key_count, &eb) !=
        GSLB_OK) {
        p->outcome = PEER_FAILED;
        snprintf(p->error, sizeof(p->error), "%.200s", eb.msg);
        return;
    }
    p->outcome = PEER_OK;
}

/* Fetch every peer's export in parallel; the whole round is bounded by the
 * timeout (each transfer has it as its own limit) and by a stop request. */
static void fetch_all(const settings_t *s, peer_fetch_t *peers, const atomic_bool *stop)
{
    pthread_once(&curl_once, curl_global);
    char auth[300];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", s->token);
    struct curl_slist *headers = curl_slist_append(NULL, auth);
    OPENSSL_cleanse(auth, sizeof(auth));
    struct curl_slist *more =
        headers ? curl_slist_append(headers, "Accept: application/json") : NULL;
    CURLM *multi = more ? curl_multi_init() : NULL;
    for (size_t i = 0; i < s->peer_count; i++) {
        peers[i].url_base = s->peers[i];
        if (!multi || setup_easy(&peers[i], s, headers) != GSLB_OK ||
            curl_multi_add_handle(multi, peers[i].easy) != CURLM_OK) {
            peers[i].outcome = PEER_FAILED;
            snprintf(peers[i].error, sizeof(peers[i].error), "cannot set up the transfer");
        }
    }
    int running = 1;
    while (multi && running > 0 && !(stop && atomic_load(stop))) {
        if (curl_multi_perform(multi, &running) != CURLM_OK)
            break;
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            char *priv = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
            if (priv)
                finish_transfer((peer_fetch_t *)(void *)priv, msg->data.result);
        }
        if (running > 0)
            curl_multi_poll(multi, NULL, 0, POLL_SLICE_MS, NULL);
    }
    for (size_t i = 0; i < s->peer_count; i++) {
        if (peers[i].outcome == PEER_PENDING) {
            peers[i].outcome = PEER_UNREACHABLE;
            snprintf(peers[i].error, sizeof(peers[i].error), "round aborted");
        }
        if (peers[i].easy) {
            if (multi)
                curl_multi_remove_handle(multi, peers[i].easy);
            curl_easy_cleanup(peers[i].easy);
            peers[i].easy = NULL;
        }
        wipe_body(&peers[i]);
    }
    if (multi)
        curl_multi_cleanup(multi);
    curl_slist_free_all(headers);
}

static void free_fetches(peer_fetch_t *peers, size_t n)
{
    for (size_t i = 0; peers && i < n; i++) {
        if (peers[i].keys)
            OPENSSL_cleanse(peers[i].keys, peers[i].key_count * sizeof(*peers[i].keys));
        free(peers[i].keys);
    }
    free(peers);
}

/* ---- applying a round to the store ----------------------------------------------------- */

/* Import the keys one peer sent; a key that fails validation fails that peer.
 * A creation time in the future (beyond a day of clock skew) or before 1970 is
 * refused: it would decide the convergence rule. */
static int import_peer(gslb_env_t *env, MDB_txn *txn, const settings_t *s, peer_fetch_t *p,
                       int64_t now, round_result_t *r)
{
    for (size_t i = 0; i < p->key_count; i++) {
        const gslb_dnskey_rec_t *k = &p->keys[i];
        if (!zone_configured(s, k->zone))
            continue; /* keys of zones this node does not serve are not kept */
        gslb_errbuf_t eb = {{0}};
        bool added = false;
        int rc = k->created > 0 && k->created <= now + MAX_FUTURE_CREATED_S
                     ? gslb_keys_import(env, txn, k, &added, &eb)
                     : gslb_errf(&eb, GSLB_EINVAL, "key %u of %s: creation time %lld out of range",
                                 k->key_tag, k->zone, (long long)k->created);
        if (rc == GSLB_EINVAL || rc == GSLB_EEXIST || rc == GSLB_ERANGE) {
            p->outcome = PEER_FAILED;
            snprintf(p->error, sizeof(p->error), "rejected key: %.200s", eb.msg);
            gslb_warn("dnssec: key sync: %s: rejected key %u of %s: %s", p->url_base, k->key_tag,
                      k->zone, eb.msg);
            continue;
        }
        if (rc != GSLB_OK)
            return rc; /* store error: the round fails as a whole */
        if (added) {
            r->imported++;
            gslb_info("dnssec: key sync: imported key %u of %s (origin %s) from %s", k->key_tag,
                      k->zone, k->origin_node, p->url_base);
        }
    }
    return GSLB_OK;
}

/* Zones that still have no key get one; then every configured zone converges. */
static int settle_zones(gslb_env_t *env, MDB_txn *txn, const settings_t *s, int64_t now,
                        round_result_t *r, bool *changed)
{
    for (size_t i = 0; i < s->zone_count; i++) {
        int n = gslb_keys_count(env, txn, s->zones[i]);
        if (n < 0)
            return n;
        if (n == 0) {
            gslb_errbuf_t eb = {{0}};
            int rc = gslb_keys_add_generated(env, txn, s->zones[i], s->algorithm, now, s->node_id,
                                             NULL, &eb);
            if (rc != GSLB_OK) {
                add_error(r, "%s", eb.msg);
                return rc;
            }
            r->generated++;
            *changed = true;
        }
        bool zc = false;
        int rc = gslb_keys_converge(env, txn, s->zones[i], now, &zc);
        if (rc != GSLB_OK)
            return rc;
        *changed = *changed || zc;
    }
    return GSLB_OK;
}

/* Which key signs a zone: enough of it to tell two keys apart. */
typedef struct signer_id {
    bool found;
    uint16_t tag;
    uint16_t pub_len;
    uint8_t pub[GSLB_KEY_PUB_MAX];
} signer_id_t;

static bool same_key(const signer_id_t *id, const gslb_dnskey_rec_t *k)
{
    return id->found && id->tag == k->key_tag && id->pub_len == k->pub_len &&
           memcmp(id->pub, k->pub, k->pub_len) == 0;
}

static int find_active(const gslb_dnskey_rec_t *k, void *ctx)
{
    signer_id_t *id = ctx;
    if (k->state == GSLB_KEY_ACTIVE && !id->found && k->pub_len <= sizeof(id->pub)) {
        id->found = true;
        id->tag = k->key_tag;
        id->pub_len = k->pub_len;
        memcpy(id->pub, k->pub, k->pub_len);
    }
    return 0;
}

/* A peer that answered and signs `zone` with another key than ours disagrees;
 * one that has no active key for it (a fresh peer) has not agreed yet. */
static void compare_peer(const char *zone, const signer_id_t *ours, peer_fetch_t *p,
                         round_result_t *r)
{
    bool has_active = false;
    for (size_t i = 0; i < p->key_count; i++) {
        const gslb_dnskey_rec_t *k = &p->keys[i];
        if (k->state != GSLB_KEY_ACTIVE || strcmp(k->zone, zone) != 0)
            continue;
        has_active = true;
        if (same_key(ours, k))
            continue;
        r->disagree += !p->disagrees;
        p->disagrees = true;
        if (ours->found)
            add_error(r, "%s signs %s with key tag %u, this node with key tag %u", p->url_base,
                      zone, k->key_tag, ours->tag);
        else
            add_error(r, "%s signs %s with key tag %u, this node has no active key", p->url_base,
                      zone, k->key_tag);
    }
    p->keyless = p->keyless || !has_active;
}

/* After the round's changes (same txn): does every peer that answered sign
 * every configured zone with the key this node signs it with? */
static int check_agreement(gslb_env_t *env, MDB_txn *txn, const settings_t *s, peer_fetch_t *peers,
                           round_result_t *r)
{
    for (size_t z = 0; peers && z < s->zone_count; z++) {
        signer_id_t ours = {0};
        int rc = gslb_store_foreach_dnskey(env, txn, s->zones[z], find_active, &ours);
        if (rc < 0)
            return rc;
        for (size_t i = 0; i < s->peer_count; i++)
            if (peers[i].outcome == PEER_OK)
                compare_peer(s->zones[z], &ours, &peers[i], r);
    }
    return GSLB_OK;
}

/* One write txn for the whole round: imports, generated keys, convergence. */
static int apply_round(gslb_env_t *env, const settings_t *s, peer_fetch_t *peers, int64_t now,
                       round_result_t *r)
{
    MDB_txn *txn = NULL;
    int rc = gslb_env_write_begin(env, &txn);
    if (rc != GSLB_OK)
        return rc;
    bool changed = false;
    for (size_t i = 0; rc == GSLB_OK && peers && i < s->peer_count; i++) {
        if (peers[i].outcome != PEER_OK)
            continue;
        size_t before = r->imported;
        rc = import_peer(env, txn, s, &peers[i], now, r);
        changed = changed || r->imported != before;
    }
    if (rc == GSLB_OK && s->enabled)
        rc = settle_zones(env, txn, s, now, r, &changed);
    else if (rc == GSLB_OK)
        rc = gslb_keys_retire_all(env, txn, &changed);
    if (rc == GSLB_OK && s->enabled)
        rc = check_agreement(env, txn, s, peers, r);
    r->changed = rc == GSLB_OK && changed;
    if (rc != GSLB_OK || !changed) {
        mdb_txn_abort(txn);
        return rc;
    }
    return gslb_env_commit_durable(env, txn);
}

/* Fetch (when asked to and there are peers), then apply; fills r and returns
 * the store's result. agreed (may be NULL; peer_count entries) tells which
 * peers answered cleanly and sign with this node's keys. */
static int run_round(gslb_env_t *env, const settings_t *s, bool fetch, const atomic_bool *stop,
                     round_result_t *r, bool *agreed)
{
    memset(r, 0, sizeof(*r));
    peer_fetch_t *peers = NULL;
    r->fetched = fetch && s->enabled && s->peer_count > 0;
    if (r->fetched) {
        peers = calloc(s->peer_count, sizeof(*peers));
        if (!peers) {
            add_error(r, "out of memory");
            return GSLB_ENOMEM;
        }
        fetch_all(s, peers, stop);
    }
    int64_t now = gslb_wall_s();
    int rc = apply_round(env, s, peers, now, r);
    bool peer_failed = false;
    for (size_t i = 0; peers && i < s->peer_count; i++) {
        if (peers[i].outcome == PEER_OK) {
            r->answered++;
            continue;
        }
        peer_failed = peer_failed || peers[i].outcome == PEER_FAILED;
        add_error(r, "%s: %s", peers[i].url_base, peers[i].error);
    }
    if (rc != GSLB_OK)
        add_error(r, "store update failed: %s", gslb_strerror(rc));
    r->success = r->fetched && rc == GSLB_OK && r->answered > 0 && !peer_failed && !r->disagree;
    for (size_t i = 0; agreed && peers && i < s->peer_count; i++)
        agreed[i] = rc == GSLB_OK && peers[i].outcome == PEER_OK && !peers[i].disagrees &&
                    !peers[i].keyless;
    free_fetches(peers, s->peer_count);
    return rc;
}

/* ---- the poller ----------------------------------------------------------------------------- */

struct gslb_keysync {
    gslb_env_t *env;
    gslb_periodic_t *poller;   /* runs poll_round(): schedule, requests, stop */
    atomic_bool *keys_pending; /* the caller's flag (keysync.h), may be NULL */
    pthread_mutex_t lock;
    settings_t settings;   /* under lock */
    uint64_t settings_gen; /* bumped by every update (under lock) */
    bool *seen;        /* per peer: answered and agreed since our keys last changed (under lock) */
    uint64_t retry_ms; /* the next retry delay while not settled (under lock) */
    unsigned waiters;  /* sync_now callers waiting for a round (under lock) */
    /* state shown by the API and metrics (under lock) */
    int64_t last_sync, next_sync;
    bool last_success;
    uint64_t rounds;
    char last_error[512];
};

uint64_t gslb_keysync_next_delay(uint64_t *retry_ms, bool settled, bool changed, uint64_t poll_ms)
{
    if (settled) {
        *retry_ms = GSLB_KEYSYNC_RETRY_FIRST_MS;
        return poll_ms;
    }
    if (changed || *retry_ms < GSLB_KEYSYNC_RETRY_FIRST_MS)
        *retry_ms = GSLB_KEYSYNC_RETRY_FIRST_MS;
    uint64_t delay = *retry_ms < poll_ms ? *retry_ms : poll_ms;
    *retry_ms = delay <= poll_ms / 2 ? delay * 2 : poll_ms;
    return delay;
}

static void log_round(const settings_t *s, const round_result_t *r)
{
    if (!r->fetched)
        return;
    if (r->success && !r->error[0])
        gslb_info("dnssec: key sync: %zu/%zu peer(s) answered, %zu key(s) imported", r->answered,
                  s->peer_count, r->imported);
    else if (r->success)
        gslb_warn("dnssec: key sync: %zu/%zu peer(s) answered, %zu key(s) imported; %s",
                  r->answered, s->peer_count, r->imported, r->error);
    else
        gslb_error("dnssec: key sync failed: %s", r->error[0] ? r->error : "no peer answered");
}

/* Does any configured zone lack a key? */
static bool zone_without_key(gslb_env_t *env, const settings_t *s)
{
    MDB_txn *txn = NULL;
    bool missing = false;
    if (gslb_env_read_begin(env, &txn) != GSLB_OK)
        return true;
    for (size_t i = 0; i < s->zone_count && !missing; i++)
        missing = gslb_keys_count(env, txn, s->zones[i]) <= 0;
    mdb_txn_abort(txn);
    return missing;
}

static void set_keys_pending(gslb_keysync_t *ks, bool pending)
{
    if (ks->keys_pending)
        atomic_store(ks->keys_pending, pending);
}

/* last_sync lives in the store (meta "keysync"), so a restart keeps it. */
static int64_t load_last_sync(gslb_env_t *env)
{
    MDB_txn *txn = NULL;
    gslb_keysync_meta_rec_t m = {0};
    if (gslb_env_read_begin(env, &txn) != GSLB_OK)
        return 0;
    int rc = gslb_store_keysync_meta_get(env, txn, &m);
    mdb_txn_abort(txn);
    if (rc != GSLB_OK && rc != GSLB_ENOENT)
        gslb_warn("dnssec: key sync: cannot read the last sync time from the store: %s",
                  gslb_strerror(rc));
    return rc == GSLB_OK ? m.last_sync : 0;
}

static void save_last_sync(gslb_env_t *env, int64_t when)
{
    MDB_txn *txn = NULL;
    gslb_keysync_meta_rec_t m = {.last_sync = when};
    int rc = gslb_env_write_begin(env, &txn);
    if (rc == GSLB_OK) {
        rc = gslb_store_keysync_meta_put(env, txn, &m);
        if (rc == GSLB_OK)
            rc = gslb_env_commit(env, txn);
        else
            mdb_txn_abort(txn);
    }
    if (rc != GSLB_OK)
        gslb_warn("dnssec: key sync: cannot store the last sync time: %s", gslb_strerror(rc));
}

/* Note which peers answered and agreed (lock held). True once every peer did
 * so since this node's keys last changed: the sync has settled. A round run
 * with settings replaced meanwhile tells nothing (a new round follows). */
static bool note_peers(gslb_keysync_t *ks, uint64_t gen, const round_result_t *r,
                       const bool *agreed, size_t n)
{
    if (gen != ks->settings_gen || !r->fetched || n != ks->settings.peer_count)
        return false;
    if (r->changed)
        memset(ks->seen, 0, n * sizeof(*ks->seen));
    bool all = true;
    for (size_t i = 0; i < n; i++) {
        ks->seen[i] = ks->seen[i] || agreed[i];
        all = all && ks->seen[i];
    }
    return all;
}

/* Record a round's result (lock held); next_sync shows when the next one runs. */
static void record_round(gslb_keysync_t *ks, const round_result_t *r, int64_t now,
                         uint64_t delay_ms)
{
    if (r->fetched) {
        ks->rounds++;
        ks->last_success = r->success;
        if (r->success)
            ks->last_sync = now;
        snprintf(ks->last_error, sizeof(ks->last_error), "%s",
                 r->error[0] || r->success ? r->error : "no peer answered");
    }
    bool syncing = ks->settings.enabled && ks->settings.peer_count > 0;
    ks->next_sync = syncing ? now + (int64_t)((delay_ms + 999) / 1000) : 0;
}

/* One round of the poller thread (gslb_periodic_t: at once after start, on
 * gslb_periodic_kick() from sync_now and update, then after the delay chosen
 * by gslb_keysync_next_delay()). */
static void poll_round(gslb_periodic_t *p, void *ctx)
{
    gslb_keysync_t *ks = ctx;
    settings_t s;
    pthread_mutex_lock(&ks->lock);
    uint64_t gen = ks->settings_gen;
    int rc = settings_copy(&s, &ks->settings);
    pthread_mutex_unlock(&ks->lock);
    bool *agreed = rc == GSLB_OK ? calloc(s.peer_count ? s.peer_count : 1, sizeof(*agreed)) : NULL;
    if (!agreed) {
        if (rc == GSLB_OK)
            settings_free(&s);
        gslb_periodic_run_in(p, GSLB_KEYSYNC_RETRY_FIRST_MS); /* out of memory: retry soon */
        return;
    }
    /* a zone without a key does not wait long for slow peers (docs/dnssec.md) */
    if (s.enabled && zone_without_key(ks->env, &s) && s.timeout_ms > GSLB_KEYSYNC_KEYLESS_WAIT_MS)
        s.timeout_ms = GSLB_KEYSYNC_KEYLESS_WAIT_MS;
    round_result_t r;
    run_round(ks->env, &s, true, gslb_periodic_stop_flag(p), &r, agreed);
    set_keys_pending(ks, s.enabled && zone_without_key(ks->env, &s));
    int64_t now = gslb_wall_s();
    if (r.success)
        save_last_sync(ks->env, now);
    pthread_mutex_lock(&ks->lock);
    bool settled = note_peers(ks, gen, &r, agreed, s.peer_count);
    uint64_t delay = r.fetched
                         ? gslb_keysync_next_delay(&ks->retry_ms, settled, r.changed, s.poll_ms)
                         : s.poll_ms;
    record_round(ks, &r, now, delay);
    pthread_mutex_unlock(&ks->lock);
    log_round(&s, &r); /* after the state: the log line tells the round is visible */
    if (r.fetched && delay != s.poll_ms)
        gslb_debug("dnssec: key sync: not settled yet, next round in %llu ms",
                   (unsigned long long)delay);
    gslb_periodic_run_in(p, delay);
    free(agreed);
    settings_free(&s);
}

static void fill_state(gslb_keysync_t *ks, gslb_keysync_state_t *out)
{
    memset(out, 0, sizeof(*out));
    out->dnssec_enabled = ks->settings.enabled;
    out->peer_count = ks->settings.peer_count;
    out->enabled = ks->settings.enabled && ks->settings.peer_count > 0;
    out->last_sync = ks->last_sync;
    out->next_sync = out->enabled ? ks->next_sync : 0;
    out->last_success = ks->last_success;
    out->rounds = ks->rounds;
    snprintf(out->last_error, sizeof(out->last_error), "%s", ks->last_error);
}

void gslb_keysync_state(gslb_keysync_t *ks, gslb_keysync_state_t *out)
{
    pthread_mutex_lock(&ks->lock);
    fill_state(ks, out);
    pthread_mutex_unlock(&ks->lock);
}

/* Ask the poller for a round; wait for it unless MAX_SYNC_WAITERS callers wait
 * already (then the request only triggers the round: GSLB_EAGAIN). */
static int request_round(gslb_keysync_t *ks)
{
    pthread_mutex_lock(&ks->lock);
    bool wait = ks->waiters < MAX_SYNC_WAITERS;
    ks->waiters += wait;
    int64_t wait_ms = (int64_t)ks->settings.timeout_ms + SYNC_WAIT_MARGIN_MS;
    pthread_mutex_unlock(&ks->lock);
    uint64_t ticket = gslb_periodic_kick(ks->poller);
    if (!wait)
        return GSLB_EAGAIN;
    int rc = gslb_periodic_wait(ks->poller, ticket, wait_ms); /* EAGAIN: timeout or stopping */
    pthread_mutex_lock(&ks->lock);
    ks->waiters--;
    pthread_mutex_unlock(&ks->lock);
    return rc;
}

int gslb_keysync_sync_now(gslb_keysync_t *ks, gslb_keysync_state_t *out)
{
    pthread_mutex_lock(&ks->lock);
    bool syncing = ks->settings.enabled && ks->settings.peer_count > 0;
    pthread_mutex_unlock(&ks->lock);
    int rc = syncing ? request_round(ks) : GSLB_ENOENT;
    gslb_keysync_state(ks, out);
    return rc;
}

void gslb_keysync_update(gslb_keysync_t *ks, const gslb_keysync_settings_t *set)
{
    settings_t s;
    bool *seen = NULL;
    if (settings_from(&s, set) != GSLB_OK ||
        !(seen = calloc(s.peer_count ? s.peer_count : 1, sizeof(*seen)))) {
        gslb_error("dnssec: key sync keeps its previous settings (out of memory)");
        return;
    }
    /* a zone the reload added waits for its key: DO queries for it get SERVFAIL meanwhile */
    if (s.enabled && zone_without_key(ks->env, &s))
        set_keys_pending(ks, true);
    pthread_mutex_lock(&ks->lock);
    settings_t old = ks->settings;
    bool *old_seen = ks->seen;
    ks->settings = s;
    ks->seen = seen;
    ks->settings_gen++;
    ks->retry_ms = GSLB_KEYSYNC_RETRY_FIRST_MS;
    uint64_t poll_ms = s.poll_ms;
    pthread_mutex_unlock(&ks->lock);
    settings_free(&old);
    free(old_seen);
    /* peers, zones or the switch may have changed: a round now */
    gslb_periodic_set_interval(ks->poller, poll_ms);
    gslb_periodic_kick(ks->poller);
}

uint32_t gslb_keysync_dnskey_ttl(gslb_keysync_t *ks, const char *zone)
{
    uint32_t ttl = DEFAULT_DNSKEY_TTL;
    MDB_txn *txn = NULL;
    gslb_zone_rec_t *z = malloc(sizeof(*z));
    if (z && gslb_env_read_begin(ks->env, &txn) == GSLB_OK) {
        if (gslb_store_zone_get(ks->env, txn, zone, z) == GSLB_OK)
            ttl = z->ns_ttl;
        mdb_txn_abort(txn);
    }
    free(z);
    return ttl;
}

/* Keys at start, without the network: a node that syncs and lacks a key for
 * some zone leaves everything to the poller's first round (DNS starts at once;
 * DO queries for that zone get SERVFAIL meanwhile); any other node settles its
 * keys here (generates without peers, converges, or retires them all). */
static int startup_keys(gslb_keysync_t *ks, bool syncing, gslb_errbuf_t *eb)
{
    const settings_t *s = &ks->settings;
    if (syncing && zone_without_key(ks->env, s)) {
        set_keys_pending(ks, true);
        gslb_info(
            "dnssec: a zone has no key yet: asking %zu key_sync peer(s) in the background "
            "(up to %llu ms before generating one); DO queries for it get SERVFAIL until then",
            s->peer_count,
            (unsigned long long)(s->timeout_ms < GSLB_KEYSYNC_KEYLESS_WAIT_MS
                                     ? s->timeout_ms
                                     : GSLB_KEYSYNC_KEYLESS_WAIT_MS));
        return GSLB_OK;
    }
    round_result_t r;
    int rc = run_round(ks->env, s, false, NULL, &r, NULL);
    if (rc != GSLB_OK)
        return gslb_errf(eb, rc, "dnssec keys: %s", r.error[0] ? r.error : gslb_strerror(rc));
    set_keys_pending(ks, false);
    return GSLB_OK;
}

int gslb_keysync_start(gslb_keysync_t **out, gslb_env_t *env, const gslb_keysync_settings_t *set,
                       atomic_bool *keys_pending, gslb_errbuf_t *eb)
{
    *out = NULL;
    gslb_keysync_t *ks = calloc(1, sizeof(*ks));
    if (!ks)
        return gslb_errf(eb, GSLB_ENOMEM, "out of memory");
    ks->env = env;
    ks->keys_pending = keys_pending;
    ks->retry_ms = GSLB_KEYSYNC_RETRY_FIRST_MS;
    pthread_mutex_init(&ks->lock, NULL);
    int rc = settings_from(&ks->settings, set);
    if (rc == GSLB_OK && !(ks->seen = calloc(ks->settings.peer_count ? ks->settings.peer_count : 1,
                                             sizeof(*ks->seen))))
        rc = GSLB_ENOMEM;
    for (size_t i = 0; rc == GSLB_OK && i < ks->settings.peer_count; i++)
        if (strncmp(ks->settings.peers[i], "http://", 7) == 0)
            gslb_warn("dnssec: key_sync peer %s is plain http: the cluster secret travels in clear "
                      "(use https outside a lab)",
                      ks->settings.peers[i]);
    bool syncing = ks->settings.enabled && ks->settings.peer_count > 0;
    if (rc == GSLB_OK) {
        ks->last_sync = load_last_sync(env);
        rc = startup_keys(ks, syncing, eb);
    }
    if (rc == GSLB_OK) {
        /* a node that syncs asks its peers at once, in the background */
        ks->next_sync = syncing ? gslb_wall_s() : 0;
        gslb_periodic_opts_t po = {.name = "dnssec: key sync",
                                   .run = poll_round,
                                   .ctx = ks,
                                   .interval_ms = ks->settings.poll_ms,
                                   .delay_first = !syncing};
        if (gslb_periodic_start(&ks->poller, &po, NULL) != GSLB_OK)
            rc = gslb_errf(eb, GSLB_EIO, "dnssec: cannot start the key sync thread");
    }
    if (rc != GSLB_OK) {
        if (eb && !eb->msg[0])
            gslb_errf(eb, rc, "dnssec keys: %s", gslb_strerror(rc));
        set_keys_pending(ks, false);
        gslb_keysync_stop(ks);
        return rc;
    }
    *out = ks;
    return GSLB_OK;
}

void gslb_keysync_stop(gslb_keysync_t *ks)
{
    if (!ks)
        return;
    gslb_periodic_stop(ks->poller); /* aborts a running fetch, joins */
    settings_free(&ks->settings);
    free(ks->seen);
    pthread_mutex_destroy(&ks->lock);
    free(ks);
}
